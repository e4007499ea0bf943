// SPDX-License-Identifier: GPL-2.0

//! MDT-side HSM request dispatch with the coordinator bypass upcall (LU-10968).
//!
//! Actions named in `mdt.<target>.hsm.upcall_mask` are handed to the site program at
//! `mdt.<target>.hsm.upcall_path`, started with `call_usermodehelper` as
//! `UPCALL ACTION FSNAME ARCHIVE_ID FLAGS DATA FID...`; the others go to the coordinator.
//!
//! See `Documentation/index.rst`.

use kernel::prelude::*;

// Pure logic, shared with the userspace tools (tools/rustre-logic) and tested on the host too;
// not every item is used by the module itself.
#[allow(dead_code, unreachable_pub)]
#[path = "../../mdt/fid.rs"]
mod fid;
#[allow(dead_code, unreachable_pub)]
mod mask;

module! {
    type: HsmUpcall,
    name: "hsm_upcall",
    authors: ["rustre developers"],
    description: "Lustre MDT HSM request dispatch and coordinator bypass upcall (LU-10968)",
    license: "GPL",
}

struct HsmUpcall;

impl kernel::Module for HsmUpcall {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("loaded\n");
        Ok(Self)
    }
}

#[kunit_tests(rustre_hsm_upcall)]
mod tests {
    use super::*;
    use core::fmt::Write;

    /// A `fmt::Write` into a fixed buffer, for checking text forms without allocating.
    struct Buf {
        data: [u8; 64],
        len: usize,
    }

    impl Buf {
        fn new() -> Self {
            Self { data: [0; 64], len: 0 }
        }

        fn as_bytes(&self) -> &[u8] {
            &self.data[..self.len]
        }
    }

    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            let dst = self.data.get_mut(self.len..end).ok_or(core::fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    #[test]
    fn upcall_mask_vectors() {
        for (input, want) in mask::MASK_CASES {
            assert_eq!(mask::parse_upcall_mask(input), *want);
        }
    }

    #[test]
    fn upcall_mask_reads_back_names() {
        let mut b = Buf::new();
        assert!(mask::format_mask(mask::UPCALL_ALLOWED, &mut b).is_ok());
        assert_eq!(b.as_bytes(), b"ARCHIVE REMOVE");
        assert_eq!(mask::parse_upcall_mask(b.as_bytes()), Ok(mask::UPCALL_ALLOWED));
    }

    #[test]
    fn fid_vectors() {
        for (input, want) in fid::FID_CASES {
            assert_eq!(fid::Fid::parse(input), *want);
        }
    }

    #[test]
    fn fid_text_round_trip() {
        let f = fid::Fid { seq: 0x200000401, oid: 1, ver: 0 };
        let mut b = Buf::new();
        assert!(write!(b, "{}", f).is_ok());
        assert_eq!(b.as_bytes(), b"[0x200000401:0x1:0x0]");
        assert_eq!(fid::Fid::parse(b.as_bytes()), Some(f));
    }
}
