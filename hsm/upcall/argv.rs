// SPDX-License-Identifier: GPL-2.0

//! The upcall's command line, `UPCALL ACTION FSNAME ARCHIVE_ID FLAGS DATA FID...`, and how a
//! request with many FIDs is split over several calls.
//!
//! Lustre passes all FIDs of one request in one call, which is safe only because its RPC caps
//! a request at 52 FIDs. We take requests of up to 65536 FIDs, so each call carries at most
//! [`fids_per_call`] of them: the `upcall_batch` parameter (1..=[`MAX_BATCH`], default
//! [`DEFAULT_BATCH`]), further limited so that the whole argument vector, strings and
//! pointers, stays within [`ARGV_BUDGET`]. That keeps it below `ARG_MAX` (128 KiB), the least
//! room exec ever gives a command line.
//!
//! Pure logic: no kernel APIs, shared with the userspace tools and tested on the host.

use crate::fid::{Fid, FID_LEN};

/// Most bytes the argument strings, their NULs and their pointers may take in one call.
pub const ARGV_BUDGET: usize = 120 * 1024;
/// Largest `upcall_batch`.
pub const MAX_BATCH: u32 = 4096;
/// Default `upcall_batch`.
pub const DEFAULT_BATCH: u32 = 1024;

/// What one argument costs in the argument vector: its bytes, its NUL, its pointer.
pub const fn arg_cost(len: usize) -> usize {
    len + 1 + core::mem::size_of::<u64>()
}

// The budget must stay below ARG_MAX, the least room exec gives a command line.
const _: () = assert!(ARGV_BUDGET < 128 * 1024);

/// How many FIDs one call carries, given the fixed arguments (`argv[0..=5]`) and the
/// `upcall_batch` parameter; at least 1 as long as the fixed part fits.
pub fn fids_per_call<'a>(fixed: impl Iterator<Item = &'a [u8]>, batch: u32) -> usize {
    // The NULL that ends argv, and the empty envp.
    let fixed_cost: usize = fixed.map(|a| arg_cost(a.len())).sum::<usize>() + 16;
    let room = ARGV_BUDGET.saturating_sub(fixed_cost) / arg_cost(FID_LEN);
    room.min(batch.clamp(1, MAX_BATCH) as usize).max(1)
}

/// Formats `fid` as `[0xSEQ:0xOID:0xVER]` into a stack buffer; returns the buffer and length.
pub fn fid_arg(fid: &Fid) -> ([u8; FID_LEN], usize) {
    struct W {
        b: [u8; FID_LEN],
        n: usize,
    }
    impl core::fmt::Write for W {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.n + s.len();
            self.b
                .get_mut(self.n..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.n = end;
            Ok(())
        }
    }
    let mut w = W {
        b: [0; FID_LEN],
        n: 0,
    };
    // A FID's text is at most FID_LEN bytes, so this cannot fail.
    let _ = core::fmt::write(&mut w, format_args!("{fid}"));
    (w.b, w.n)
}

/// Formats a decimal number into a stack buffer (`%llu`); returns the buffer and length.
pub fn dec_arg(mut v: u64) -> ([u8; 20], usize) {
    let mut b = [0u8; 20];
    let mut tmp = [0u8; 20];
    let mut n = 0;
    loop {
        tmp[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..n {
        b[i] = tmp[n - 1 - i];
    }
    (b, n)
}

/// Test vectors shared by the host tests and KUnit: (fixed argument lengths, batch, expected
/// FIDs per call).
pub const BATCH_CASES: &[(&[usize], u32, usize)] = &[
    // The usual six fixed arguments: the batch parameter decides.
    (&[24, 7, 6, 1, 1, 0], 1024, 1024),
    (&[24, 7, 6, 1, 1, 0], 1, 1),
    // A batch of 0 counts as 1.
    (&[24, 7, 6, 1, 1, 0], 0, 1),
    // Large batches are cut to what fits the budget: (120 KiB - 16 - fixed) / 51.
    (&[24, 7, 6, 1, 1, 0], 100_000, 2407),
    (&[24, 7, 6, 1, 1, 4095], 4096, 2326),
    (&[24, 7, 6, 1, 1, 4095], 2000, 2000),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_vectors() {
        extern crate std;
        for (lens, batch, want) in BATCH_CASES {
            let bufs: std::vec::Vec<std::vec::Vec<u8>> =
                lens.iter().map(|&n| std::vec![b'x'; n]).collect();
            assert_eq!(
                fids_per_call(bufs.iter().map(|v| v.as_slice()), *batch),
                *want,
                "{lens:?} {batch}"
            );
        }
    }

    #[test]
    fn a_full_call_fits_arg_max() {
        let per = fids_per_call([&[b'x'; 4095][..]].into_iter(), MAX_BATCH);
        assert!(arg_cost(4095) + 16 + per * arg_cost(FID_LEN) <= ARGV_BUDGET);
    }

    #[test]
    fn number_and_fid_text() {
        let (b, n) = dec_arg(0);
        assert_eq!(&b[..n], b"0");
        let (b, n) = dec_arg(u64::MAX);
        assert_eq!(&b[..n], b"18446744073709551615");
        let f = Fid {
            seq: u64::MAX,
            oid: u32::MAX,
            ver: u32::MAX,
        };
        let (b, n) = fid_arg(&f);
        assert_eq!(n, FID_LEN);
        assert_eq!(Fid::parse(&b[..n]), Some(f));
    }
}
