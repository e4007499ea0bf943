// SPDX-License-Identifier: GPL-2.0

//! Lustre file identifiers (FIDs) and their text form.
//!
//! Pure logic: no kernel APIs, shared with the userspace tools and tested on the host.

use core::fmt;

/// A Lustre FID: `struct lu_fid { __u64 f_seq; __u32 f_oid; __u32 f_ver; }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fid {
    /// Sequence.
    pub seq: u64,
    /// Object id within the sequence.
    pub oid: u32,
    /// Version.
    pub ver: u32,
}

/// Longest text form with brackets, `FID_LEN` (without the NUL).
pub const FID_LEN: usize = 42;

impl Fid {
    /// Parses `[0xSEQ:0xOID:0xVER]`, brackets optional, as `lfs` accepts it.
    pub fn parse(s: &[u8]) -> Option<Fid> {
        let s = s.strip_prefix(b"[").unwrap_or(s);
        let s = match s.strip_suffix(b"]") {
            Some(inner) => inner,
            None => s,
        };
        let mut parts = s.split(|&c| c == b':');
        let seq = parse_hex(parts.next()?)?;
        let oid = u32::try_from(parse_hex(parts.next()?)?).ok()?;
        let ver = u32::try_from(parse_hex(parts.next()?)?).ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Fid { seq, oid, ver })
    }

    /// The FID of an inode of a local filesystem: Lustre's IGIF mapping, inode number as the
    /// sequence and generation as the object id. It survives rename, remount and reboot and
    /// is what a file handle of type `FILEID_INO32_GEN` carries, so the file can be opened again
    /// from its FID with `open_by_handle_at()`.
    pub const fn from_inode(ino: u64, generation: u32) -> Fid {
        Fid {
            seq: ino,
            oid: generation,
            ver: 0,
        }
    }

    /// Whether all three fields are zero (Lustre's `fid_is_zero`).
    pub const fn is_zero(&self) -> bool {
        self.seq == 0 && self.oid == 0 && self.ver == 0
    }

    /// The text form without brackets, as used in archive paths.
    pub fn no_brace(&self) -> NoBrace<'_> {
        NoBrace(self)
    }
}

/// Parses `0x`-prefixed (or bare) hexadecimal, at most 16 digits.
fn parse_hex(s: &[u8]) -> Option<u64> {
    let digits = s
        .strip_prefix(b"0x")
        .or_else(|| s.strip_prefix(b"0X"))
        .unwrap_or(s);
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    for &d in digits {
        let n = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(n);
    }
    Some(v)
}

/// Lustre's `DFID`: `[0x%llx:0x%x:0x%x]`.
impl fmt::Display for Fid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.no_brace())
    }
}

/// A FID printed without brackets: `0x%llx:0x%x:0x%x`.
pub struct NoBrace<'a>(&'a Fid);

impl fmt::Display for NoBrace<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // C's `%#llx` prints zero as a bare `0`, so a zero FID is `[0:0x0:0x0]` in Lustre.
        if self.0.seq == 0 {
            write!(f, "0:{:#x}:{:#x}", self.0.oid, self.0.ver)
        } else {
            write!(f, "{:#x}:{:#x}:{:#x}", self.0.seq, self.0.oid, self.0.ver)
        }
    }
}

/// Test vectors for [`Fid::parse`] and its text form, shared by host tests and KUnit.
#[cfg(any(test, CONFIG_KUNIT = "y"))]
pub const FID_CASES: &[(&[u8], Option<Fid>)] = &[
    (
        b"[0x200000401:0x1:0x0]",
        Some(Fid {
            seq: 0x200000401,
            oid: 1,
            ver: 0,
        }),
    ),
    (
        b"0x200000401:0x1:0x0",
        Some(Fid {
            seq: 0x200000401,
            oid: 1,
            ver: 0,
        }),
    ),
    (
        b"[0xffffffffffffffff:0xffffffff:0xffffffff]",
        Some(Fid {
            seq: u64::MAX,
            oid: u32::MAX,
            ver: u32::MAX,
        }),
    ),
    (b"[0x1:0x100000000:0x0]", None),
    (b"[0x1:0x1]", None),
    (b"[0x1:0x1:0x0:0x0]", None),
    (b"[0x1:0xg:0x0]", None),
    (b"[:0x1:0x0]", None),
    (b"[0x10000000000000000:0x1:0x0]", None),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fid_vectors() {
        for (input, want) in FID_CASES {
            assert_eq!(Fid::parse(input), *want, "{:?}", input);
        }
    }

    #[test]
    fn fid_text() {
        let f = Fid {
            seq: 0x200000401,
            oid: 1,
            ver: 0,
        };
        assert_eq!(f.to_string(), "[0x200000401:0x1:0x0]");
        assert_eq!(f.no_brace().to_string(), "0x200000401:0x1:0x0");
        let max = Fid {
            seq: u64::MAX,
            oid: u32::MAX,
            ver: u32::MAX,
        };
        assert_eq!(max.to_string().len(), FID_LEN);
        assert_eq!(Fid::default().to_string(), "[0:0x0:0x0]");
    }
}
