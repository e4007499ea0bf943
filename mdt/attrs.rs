// SPDX-License-Identifier: GPL-2.0

//! What an attribute change was, in Lustre's terms: the `la_valid` bits its MDD keeps in the
//! low 12 bits of SATTR, TRUNC, MTIME and CTIME records, the record type they select, and the
//! record an extended attribute name makes.
//!
//! fsnotify says only that attributes changed; capture (`capture.rs`) learns which from the
//! system call the task is in and hands the arguments here. Pure logic: no kernel API, tested
//! on the host and by KUnit.

use crate::record::{CL_ATIME, CL_CTIME, CL_LAYOUT, CL_MTIME, CL_SETATTR, CL_SETXATTR, CL_TRUNC};

/// `LA_ATIME`: access time set.
pub const LA_ATIME: u32 = 0x01;
/// `LA_MTIME`: modification time set.
pub const LA_MTIME: u32 = 0x02;
/// `LA_CTIME`: change time set.
pub const LA_CTIME: u32 = 0x04;
/// `LA_SIZE`: size set (a truncate).
pub const LA_SIZE: u32 = 0x08;
/// `LA_MODE`: mode set.
pub const LA_MODE: u32 = 0x10;
/// `LA_UID`: owner set.
pub const LA_UID: u32 = 0x20;
/// `LA_GID`: group set.
pub const LA_GID: u32 = 0x40;
/// The `la_valid` bits a record keeps (`CLF_FLAGMASK`).
pub const LA_RECORDED: u32 = 0x0fff;

/// `UTIME_OMIT`: leave this time alone.
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// `la_valid` of a mode change (`chmod_common`: mode and ctime).
pub const CHMOD: u32 = LA_MODE | LA_CTIME;
/// `la_valid` of a truncate, by `truncate()` or an `O_TRUNC` open (size, mtime, ctime).
pub const TRUNCATE: u32 = LA_SIZE | LA_MTIME | LA_CTIME;
/// `la_valid` of a data write (the times Lustre's close sets after one).
pub const WRITE: u32 = LA_MTIME | LA_CTIME;

/// `la_valid` of an ownership change: `uid` and `gid` are the raw 32-bit arguments, where
/// `(uid_t)-1` leaves that one alone (`chown_common`).
pub fn chown(uid: u64, gid: u64) -> u32 {
    let mut v = LA_CTIME;
    if uid & 0xffff_ffff != 0xffff_ffff {
        v |= LA_UID;
    }
    if gid & 0xffff_ffff != 0xffff_ffff {
        v |= LA_GID;
    }
    v
}

/// `la_valid` of a `utimensat()`: `times` is `None` for a null pointer (both times now), else
/// the `tv_nsec` of the access and modification entries, where `UTIME_OMIT` skips one.
/// `None` when both are omitted (nothing changes).
pub fn utimensat(times: Option<(i64, i64)>) -> Option<u32> {
    let (a, m) = match times {
        None => (true, true),
        Some((a, m)) => (a != UTIME_OMIT, m != UTIME_OMIT),
    };
    if !a && !m {
        return None;
    }
    let mut v = LA_CTIME;
    if a {
        v |= LA_ATIME;
    }
    if m {
        v |= LA_MTIME;
    }
    Some(v)
}

/// `la_valid` of `utime()`, `utimes()` and `futimesat()`: both times, given or now.
pub const UTIMES: u32 = LA_ATIME | LA_MTIME | LA_CTIME;

/// The record type Lustre's `mdd_attr_set` writes for `valid`: a size change is TRUNC, an
/// owner or mode change SATTR, then MTIME, CTIME and ATIME for times alone.
pub fn setattr_type(valid: u32) -> u32 {
    if valid & LA_SIZE != 0 {
        CL_TRUNC
    } else if valid & !(LA_ATIME | LA_MTIME | LA_CTIME | LA_SIZE) != 0 {
        CL_SETATTR
    } else if valid & LA_MTIME != 0 {
        CL_MTIME
    } else if valid & LA_CTIME != 0 {
        CL_CTIME
    } else {
        CL_ATIME
    }
}

/// The record a change of the extended attribute `name` makes, as Lustre's
/// `mdd_xattr_changelog_type`: the layout names make LYOUT, `trusted.hsm` and `trusted.som`
/// (kept by the MDT itself) none, the user, trusted, security and POSIX ACL names XATTR, and
/// other names none.
pub fn xattr_type(name: &[u8]) -> Option<u32> {
    match name {
        b"trusted.lov" | b"lustre.lov" => Some(CL_LAYOUT),
        b"trusted.hsm" | b"trusted.som" => None,
        b"system.posix_acl_access" | b"system.posix_acl_default" => Some(CL_SETXATTR),
        _ if name.starts_with(b"lustre.lov.") => Some(CL_LAYOUT),
        _ if [&b"user."[..], b"trusted.", b"security."]
            .iter()
            .any(|p| name.starts_with(p)) =>
        {
            Some(CL_SETXATTR)
        }
        _ => None,
    }
}

/// The record of an xattr change whose name was read again from the caller's memory, after
/// the system call had copied it in: type, and whether the record carries the name.
///
/// Another thread of the caller may have changed the name in between. A `trusted.*` name can
/// only have been set by a caller with `CAP_SYS_ADMIN` (asked through `privileged`, and only
/// when it matters), so for anyone else such a name, and a name [`xattr_type`] does not record
/// as XATTR, is not the one that was changed: the change is recorded as XATTR without a name
/// rather than hidden or mislabelled. This errs towards recording: names outside Lustre's
/// classes that an unprivileged owner may set (ext4's `gnu.*`, btrfs's `btrfs.*`) make a
/// nameless XATTR record too, and none when a privileged caller sets them.
pub fn xattr_record(name: &[u8], privileged: impl FnOnce() -> bool) -> Option<(u32, bool)> {
    let t = xattr_type(name);
    if t == Some(CL_SETXATTR) && !name.starts_with(b"trusted.") {
        return Some((CL_SETXATTR, true));
    }
    if !privileged() {
        return Some((CL_SETXATTR, false));
    }
    t.map(|t| (t, t == CL_SETXATTR))
}

/// `(la_valid, record type, flags)` cases from Lustre's MDD for the commands people run,
/// shared by the host tests and KUnit.
pub const SETATTR_CASES: &[(&str, u32, u32, u16)] = &[
    ("chmod 644 f", CHMOD, CL_SETATTR, 0x14),
    ("chown u f", LA_UID | LA_CTIME, CL_SETATTR, 0x24),
    ("chgrp g f", LA_GID | LA_CTIME, CL_SETATTR, 0x44),
    ("chown u:g f", LA_UID | LA_GID | LA_CTIME, CL_SETATTR, 0x64),
    ("truncate -s 0 f", TRUNCATE, CL_TRUNC, 0xe),
    ("touch f", UTIMES, CL_MTIME, 0x7),
    ("touch -m f", LA_MTIME | LA_CTIME, CL_MTIME, 0x6),
    ("touch -a f", LA_ATIME | LA_CTIME, CL_CTIME, 0x5),
];

/// The low flags of a record for `valid`.
pub fn recorded_flags(valid: u32) -> u16 {
    u16::try_from(valid & LA_RECORDED).unwrap_or(0)
}

/// Checks [`SETATTR_CASES`] and the decoders; `Err` names the first case that fails.
pub fn self_test() -> Result<(), &'static str> {
    for (what, valid, rtype, flags) in SETATTR_CASES {
        if setattr_type(*valid) != *rtype || recorded_flags(*valid) != *flags {
            return Err(what);
        }
    }
    if chown(1000, u64::from(u32::MAX)) != LA_UID | LA_CTIME
        || chown(0xffff_ffff_ffff_ffff, 5) != LA_GID | LA_CTIME
        || chown(1, 2) != LA_UID | LA_GID | LA_CTIME
    {
        return Err("chown arguments");
    }
    if utimensat(None) != Some(UTIMES)
        || utimensat(Some((UTIME_OMIT, 0))) != Some(LA_MTIME | LA_CTIME)
        || utimensat(Some((5, UTIME_OMIT))) != Some(LA_ATIME | LA_CTIME)
        || utimensat(Some((UTIME_OMIT, UTIME_OMIT))).is_some()
    {
        return Err("utimensat times");
    }
    let names: [(&[u8], Option<u32>); 9] = [
        (b"user.k", Some(CL_SETXATTR)),
        (b"trusted.x", Some(CL_SETXATTR)),
        (b"security.selinux", Some(CL_SETXATTR)),
        (b"system.posix_acl_access", Some(CL_SETXATTR)),
        (b"trusted.lov", Some(CL_LAYOUT)),
        (b"lustre.lov.add", Some(CL_LAYOUT)),
        (b"trusted.hsm", None),
        (b"trusted.som", None),
        (b"system.other", None),
    ];
    for (name, want) in names {
        if xattr_type(name) != want {
            return Err("xattr names");
        }
    }
    // A name that hides or relabels the change, re-read for an unprivileged caller; the
    // privilege is not asked for a name that is recorded anyway.
    let asked = core::cell::Cell::new(false);
    if xattr_record(b"trusted.hsm", || false) != Some((CL_SETXATTR, false))
        || xattr_record(b"trusted.lov", || false) != Some((CL_SETXATTR, false))
        || xattr_record(b"trusted.hsm", || true).is_some()
        || xattr_record(b"trusted.lov", || true) != Some((CL_LAYOUT, false))
        || xattr_record(b"trusted.foo", || false) != Some((CL_SETXATTR, false))
        || xattr_record(b"trusted.foo", || true) != Some((CL_SETXATTR, true))
        || xattr_record(b"gnu.x", || false) != Some((CL_SETXATTR, false))
        || xattr_record(b"gnu.x", || true).is_some()
        || xattr_record(b"user.k", || {
            asked.set(true);
            false
        }) != Some((CL_SETXATTR, true))
        || asked.get()
    {
        return Err("xattr names re-read");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lustre_values() {
        assert_eq!(self_test(), Ok(()));
    }

    #[test]
    fn any_valid_has_a_type_and_fits() {
        for v in 0..0x2000u32 {
            let t = setattr_type(v);
            assert!([CL_TRUNC, CL_SETATTR, CL_MTIME, CL_CTIME, CL_ATIME].contains(&t));
            assert!(u32::from(recorded_flags(v)) <= LA_RECORDED);
        }
    }
}
