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

/// `FID_SEQ_IGIF`: the first sequence of Lustre's inode-and-generation FIDs; 0 to 11 are
/// reserved (`FID_SEQ_OST_MDT0`, `FID_SEQ_LLOG`, `FID_SEQ_ECHO`, ..., `FID_SEQ_RSVD`).
pub const FID_SEQ_IGIF: u64 = 12;
/// `FID_SEQ_IGIF_MAX`.
pub const FID_SEQ_IGIF_MAX: u64 = 0xffff_ffff;
/// `FID_SEQ_NORMAL`: the first sequence of normal FIDs (those above `FID_SEQ_IGIF_MAX` and
/// below it are OST object ids, `IDIF`).
pub const FID_SEQ_NORMAL: u64 = 0x2_0000_0400;

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

    /// The FID of an inode of a local filesystem, valid by Lustre's rules (`fid_is_sane()`).
    ///
    /// An inode number in Lustre's IGIF range (`FID_SEQ_IGIF` 12 to `FID_SEQ_IGIF_MAX`) maps as
    /// Lustre maps a local inode: inode number as the sequence, generation as the object id.
    /// Inode numbers outside it (below 12, as ext4 gives its root and tmpfs its first files, or
    /// above 32 bits, as XFS and btrfs may) would land on sequences Lustre reserves or reads as
    /// OST objects, so they get a normal sequence, `FID_SEQ_NORMAL + 2 * ino + z`, with the
    /// generation as the object id; a normal FID may not have object id 0 (Lustre's `LAST_ID`),
    /// so a generation of 0 sets `z` and object id 1. Both forms depend on the inode alone: a
    /// FID is the same across rename, remount and reboot, and any tool maps it both ways
    /// without knowing the target. `None` for inode numbers of 2^63 and above, which no
    /// sequence can hold (no filesystem hands them out).
    pub const fn from_inode(ino: u64, generation: u32) -> Option<Fid> {
        if ino >= FID_SEQ_IGIF && ino <= FID_SEQ_IGIF_MAX {
            return Some(Fid {
                seq: ino,
                oid: generation,
                ver: 0,
            });
        }
        let (z, oid) = if generation == 0 {
            (1, 1)
        } else {
            (0, generation)
        };
        let seq = match ino.checked_mul(2) {
            Some(twice) => match FID_SEQ_NORMAL.checked_add(twice | z) {
                Some(seq) => seq,
                None => return None,
            },
            None => return None,
        };
        Some(Fid { seq, oid, ver: 0 })
    }

    /// The inode number and generation a FID of [`Fid::from_inode`] names; `None` for any other
    /// FID (reserved sequences, a version, object id 0 in a normal sequence, or the normal
    /// form of an inode number that has an IGIF one), so each inode has exactly one FID.
    pub const fn inode(&self) -> Option<(u64, u32)> {
        if self.ver != 0 {
            return None;
        }
        if self.is_igif() {
            return Some((self.seq, self.oid));
        }
        let Some(k) = self.seq.checked_sub(FID_SEQ_NORMAL) else {
            return None;
        };
        let ino = k >> 1;
        if ino >= FID_SEQ_IGIF && ino <= FID_SEQ_IGIF_MAX {
            return None;
        }
        match (k & 1, self.oid) {
            (_, 0) => None,
            (0, generation) => Some((ino, generation)),
            (_, 1) => Some((ino, 0)),
            _ => None,
        }
    }

    /// Lustre's `fid_is_igif()`.
    pub const fn is_igif(&self) -> bool {
        self.seq >= FID_SEQ_IGIF && self.seq <= FID_SEQ_IGIF_MAX
    }

    /// Lustre's `fid_is_sane()` for the FIDs this project makes and reads: IGIF, or a normal
    /// sequence with version 0. (Lustre also accepts OST object ids and its reserved
    /// sequences, which name no file a target of ours can have.)
    pub const fn is_sane(&self) -> bool {
        self.is_igif() || (self.seq >= FID_SEQ_NORMAL && self.ver == 0)
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

    #[test]
    fn inode_fids_are_sane_and_round_trip() {
        for (ino, igif) in [
            (1, false),
            (2, false),
            (11, false),
            (12, true),
            (0x1234, true),
            (0xffff_ffff, true),
            (0x1_0000_0000, false),
            (0x7fff_ffff_ffff_ffff - FID_SEQ_NORMAL / 2, false),
        ] {
            for generation in [0, 1, 2, 0xdead_beef, u32::MAX] {
                let f = Fid::from_inode(ino, generation).expect("representable");
                assert!(f.is_sane(), "{f}");
                assert_eq!(f.is_igif(), igif, "{f}");
                assert!(igif || f.oid != 0, "{f}");
                assert_eq!(f.inode(), Some((ino, generation)), "{f}");
            }
        }
        // tmpfs's root (inode 1) and ext4's (inode 2, generation 0).
        let text = |ino, generation| Fid::from_inode(ino, generation).map(|f| f.to_string());
        assert_eq!(text(1, 7).as_deref(), Some("[0x200000402:0x7:0x0]"));
        assert_eq!(text(2, 0).as_deref(), Some("[0x200000405:0x1:0x0]"));
        assert_eq!(text(2, 1).as_deref(), Some("[0x200000404:0x1:0x0]"));
        assert_eq!(text(12, 0).as_deref(), Some("[0xc:0x0:0x0]"));
        assert_eq!(Fid::from_inode(1 << 63, 1), None);
        assert_eq!(Fid::from_inode(u64::MAX, 1), None);
        // Not ours: reserved sequences, IDIF, a version, object id 0 or a generation-0 form
        // with another object id, the normal form of an IGIF inode.
        for (seq, oid, ver) in [
            (0, 1, 0),
            (1, 1, 0),
            (11, 1, 0),
            (0x1_0000_0000, 1, 0),
            (0x2_0000_03ff, 1, 0),
            (12, 1, 1),
            (FID_SEQ_NORMAL + 2, 0, 0),
            (FID_SEQ_NORMAL + 3, 2, 0),
            (FID_SEQ_NORMAL + 2 * 12, 1, 0),
            (FID_SEQ_NORMAL + 2 * 0xffff_ffff + 1, 1, 0),
        ] {
            assert_eq!(Fid { seq, oid, ver }.inode(), None, "{seq:#x} {oid} {ver}");
        }
    }
}
