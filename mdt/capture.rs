// SPDX-License-Identifier: GPL-2.0

//! Turning filesystem events into changelog records.
//!
//! The target's superblock mark delivers every namespace and attribute event, in the context
//! of the task doing the operation. The mapping to Lustre record types:
//!
//! | event | record |
//! |---|---|
//! | `CREATE` with a dentry | CREAT, MKDIR, SLINK or MKNOD by the new inode's type |
//! | `CREATE` with an inode (`fsnotify_link`) | HLINK |
//! | `DELETE` | UNLNK (`CLF_UNLINK_LAST` when no link is left) or RMDIR |
//! | `RENAME` | RENME with the rename extension (`CLF_RENAME_LAST` if the target lost its last link) |
//! | `ATTRIB` from a `setxattr`/`removexattr` call | XATTR with the name (LYOUT or none by name) |
//! | `ATTRIB`, `MODIFY` from a `setattr()` call | TRUNC, SATTR, MTIME or CTIME by `la_valid` |
//! | `MODIFY` from a write | MTIME (`la_valid` 0x6) |
//! | `ATTRIB`, `MODIFY` from elsewhere (kernel threads) | SATTR, TRUNC, without `la_valid` |
//! | `OPEN` | OPEN: low open flags in the record flags, all of them in the open extension |
//! | `CLOSE_WRITE`, `CLOSE_NOWRITE` | CLOSE: low open flags in the record flags |
//!
//! Every record carries the jobid `comm.uid` (Lustre's `procname_uid`), the caller's uid and
//! gid and the NID `0@lo`. fsnotify does not say which attributes changed: the system call
//! the task is in does, read with its arguments (see [`cause`]), and `crate::attrs` turns that
//! into Lustre's `la_valid`. As Lustre's MDD: time-only records (MTIME, CTIME) are written only
//! for an inode without a record since the target was attached; RMDIR always has
//! `CLF_UNLINK_LAST`; OPEN carries
//! `MDS_OPEN_*` flags (`CLFE_OPEN`), CLOSE has no open extension and, unless OPEN records are
//! wanted too, is only written for files opened for writing.

use kernel::bindings;
use kernel::fsnotify::{current, mask, Event, InodeInfo, OpenInfo, SbHandler};

use crate::attrs;
use crate::changelog::Changelog;
use crate::fid::Fid;
use crate::record::*;

/// The fsnotify events a target's mark asks for.
pub(crate) const EVENTS: u32 = mask::CREATE
    | mask::DELETE
    | mask::RENAME
    | mask::ATTRIB
    | mask::MODIFY
    | mask::OPEN
    | mask::CLOSE_WRITE
    | mask::CLOSE_NOWRITE;

/// The FID of an inode; the zero FID (Lustre's "none") for an inode number no FID can hold.
fn fid(i: &InodeInfo) -> Fid {
    Fid::from_inode(i.ino, i.generation).unwrap_or_default()
}

/// Lustre's `MDS_OPEN_*`/`MDS_FMODE_*` flags of an open file, as its client would send them.
///
/// The kernel drops `O_CREAT`, `O_EXCL` and `O_TRUNC` from a file's flags once it is open, so
/// `MDS_OPEN_CREAT` is known only for an open that created the file (`created`, which also
/// sets `MDS_OPEN_CREATED` on OPEN records), and the other two are not known.
fn mds_open_flags(o: &OpenInfo, created: bool) -> u32 {
    let mut f = 0;
    for (on, bit) in [
        (o.read, MDS_FMODE_READ),
        (o.write, MDS_FMODE_WRITE),
        (o.exec, MDS_FMODE_EXEC),
        (o.created, MDS_OPEN_CREAT),
        (o.created && created, MDS_OPEN_CREATED),
        (o.flags & bindings::O_APPEND != 0, MDS_OPEN_APPEND),
        (o.flags & bindings::__O_SYNC != 0, MDS_OPEN_SYNC),
        (o.flags & bindings::O_DIRECTORY != 0, MDS_OPEN_DIRECTORY),
    ] {
        if on {
            f |= bit;
        }
    }
    f
}

/// Room for an xattr name (at most `XATTR_NAME_MAX`, 255 bytes) with its NUL and one byte
/// more, so that a name cut short is told from one that fits.
const XNAME_BUF: usize = EXT_XATTR_LEN + 1;

/// What the system call the task is in says about an attribute event.
enum Cause {
    /// A `setattr()` with these `la_valid` bits.
    Setattr(u32),
    /// A `setxattr()`/`removexattr()`; the name is at this user address.
    Xattr(usize),
    /// Not a system call that changes attributes (a kernel thread, or a side effect such as
    /// the suid bit a write drops).
    Unknown,
}

/// How the arguments of a system call that changes attributes say what it changed.
#[derive(Clone, Copy)]
enum Decode {
    /// An xattr set or removal; the name's address is argument `n`.
    XattrName(usize),
    /// A mode change.
    Mode,
    /// An owner change; the uid is argument `n`, the gid the next.
    Owner(usize),
    /// A truncate (an open makes none but that of `O_TRUNC`).
    Truncate,
    /// `utime`, `utimes`, `futimesat`: both times, to now or given.
    Utimes,
    /// `utimensat`: the times (or `UTIME_NOW`/`UTIME_OMIT`) at argument 2.
    Utimensat,
}

/// The system calls that change attributes, by the architecture's own numbers (`__NR_*`);
/// calls an architecture lacks (the old ones asm-generic dropped) are -1 and match nothing.
const CALLS: [(i64, Decode); 27] = {
    use bindings as b;
    use Decode::*;
    [
        (b::__NR_setxattr as i64, XattrName(1)),
        (b::__NR_lsetxattr as i64, XattrName(1)),
        (b::__NR_fsetxattr as i64, XattrName(1)),
        (b::__NR_removexattr as i64, XattrName(1)),
        (b::__NR_lremovexattr as i64, XattrName(1)),
        (b::__NR_fremovexattr as i64, XattrName(1)),
        (b::__NR_setxattrat as i64, XattrName(3)),
        (b::__NR_removexattrat as i64, XattrName(3)),
        (b::RUSTRE_NR_CHMOD as i64, Mode),
        (b::__NR_fchmod as i64, Mode),
        (b::__NR_fchmodat as i64, Mode),
        (b::__NR_fchmodat2 as i64, Mode),
        (b::RUSTRE_NR_CHOWN as i64, Owner(1)),
        (b::RUSTRE_NR_LCHOWN as i64, Owner(1)),
        (b::__NR_fchown as i64, Owner(1)),
        (b::__NR_fchownat as i64, Owner(2)),
        (b::RUSTRE_NR_TRUNCATE as i64, Truncate),
        (b::__NR_ftruncate as i64, Truncate),
        (b::RUSTRE_NR_OPEN as i64, Truncate),
        (b::RUSTRE_NR_CREAT as i64, Truncate),
        (b::__NR_openat as i64, Truncate),
        (b::__NR_openat2 as i64, Truncate),
        (b::__NR_open_by_handle_at as i64, Truncate),
        (b::RUSTRE_NR_UTIME as i64, Utimes),
        (b::RUSTRE_NR_UTIMES as i64, Utimes),
        (b::RUSTRE_NR_FUTIMESAT as i64, Utimes),
        (b::__NR_utimensat as i64, Utimensat),
    ]
};

/// Reads the system call the task is in (see [`CALLS`]) and what its arguments say.
fn cause() -> Cause {
    // The argument layouts below are those of 64-bit ABIs (32-bit ids, 64-bit timespecs).
    if !cfg!(CONFIG_64BIT) {
        return Cause::Unknown;
    }
    let Some((nr, a)) = current::syscall() else {
        return Cause::Unknown;
    };
    let Some(&(_, how)) = CALLS.iter().find(|(n, _)| *n == nr) else {
        return Cause::Unknown;
    };
    let arg = |n: usize| a.get(n).copied().unwrap_or(0);
    match how {
        Decode::XattrName(n) => Cause::Xattr(arg(n)),
        Decode::Mode => Cause::Setattr(attrs::CHMOD),
        Decode::Owner(n) => Cause::Setattr(attrs::chown(arg(n) as u64, arg(n + 1) as u64)),
        Decode::Truncate => Cause::Setattr(attrs::TRUNCATE),
        Decode::Utimes => Cause::Setattr(attrs::UTIMES),
        Decode::Utimensat => {
            // `const struct __kernel_timespec times[2]`: `tv_nsec` at 8 and 24.
            let times = if arg(2) == 0 {
                None
            } else {
                let mut ts = [0u8; 32];
                if !current::read_user_nofault(arg(2), &mut ts) {
                    return Cause::Unknown;
                }
                let nsec = |at: usize| {
                    ts.get(at..at + 8)
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, i64::from_ne_bytes)
                };
                Some((nsec(8), nsec(24)))
            };
            attrs::utimensat(times).map_or(Cause::Unknown, Cause::Setattr)
        }
    }
}

/// The record an attribute event makes: type, low flags, and for XATTR the length of the name
/// read into `xname`. `None` for no record.
fn attr_record(setattr: bool, xname: &mut [u8; XNAME_BUF]) -> Option<(u32, u16, usize)> {
    match cause() {
        Cause::Xattr(at) => {
            // Lustre records XATTR with the name; a name not resident (it was copied in by
            // the call a moment ago, so hardly ever) still makes the record, without it, and
            // so does a name the caller may have changed since (see `attrs::xattr_record`).
            match current::read_user_str_nofault(at, xname) {
                Some(n) => {
                    let (t, with_name) = attrs::xattr_record(xname.get(..n)?, current::sys_admin)?;
                    Some((t, 0, if with_name { n } else { 0 }))
                }
                None => Some((CL_SETXATTR, 0, 0)),
            }
        }
        Cause::Setattr(v) => Some((attrs::setattr_type(v), attrs::recorded_flags(v), 0)),
        Cause::Unknown if setattr => Some((CL_SETATTR, 0, 0)),
        Cause::Unknown => Some((CL_TRUNC, 0, 0)),
    }
}

/// Classifies an event: record type, low flags, and the length of an xattr name put in
/// `xname`; `None` for events that make no record.
fn record_type(
    ev: &Event<'_>,
    inode: &InodeInfo,
    xname: &mut [u8; XNAME_BUF],
) -> Option<(u32, u16, usize)> {
    let m = ev.mask();
    let t = |rtype| Some((rtype, 0, 0));
    if m & mask::CREATE != 0 {
        return t(if ev.data_is_inode() {
            CL_HARDLINK
        } else if inode.is_dir() {
            CL_MKDIR
        } else if inode.is_symlink() {
            CL_SOFTLINK
        } else if inode.is_reg() {
            CL_CREATE
        } else {
            CL_MKNOD
        });
    }
    if m & mask::DELETE != 0 {
        return t(if m & mask::ISDIR != 0 {
            CL_RMDIR
        } else {
            CL_UNLINK
        });
    }
    if m & mask::RENAME != 0 {
        return t(CL_RENAME);
    }
    if m & mask::OPEN != 0 {
        return t(CL_OPEN);
    }
    if m & (mask::CLOSE_WRITE | mask::CLOSE_NOWRITE) != 0 {
        return t(CL_CLOSE);
    }
    if m & mask::MODIFY != 0 {
        if ev.data_is_file() {
            return Some((CL_MTIME, attrs::recorded_flags(attrs::WRITE), 0));
        }
        return attr_record(false, xname);
    }
    if m & mask::ATTRIB != 0 && !ev.data_is_inode() {
        // An `ATTRIB` with only the inode is a link count change of a HLINK/UNLNK/RENME.
        return attr_record(true, xname);
    }
    None
}

impl SbHandler for Changelog {
    fn event(&self, ev: &Event<'_>) {
        let Some(inode) = ev.inode() else { return };
        let mut xname = [0u8; XNAME_BUF];
        let Some((rtype, flags, xlen)) = record_type(ev, &inode, &mut xname) else {
            return;
        };
        if !self.wants(rtype) {
            return;
        }
        // Lustre's MDD writes a time-only record only for an object without one since the
        // changelog started; any record written but OPEN (which Lustre writes another way)
        // marks it, below.
        if matches!(rtype, CL_MTIME | CL_CTIME | CL_ATIME) && self.has_record(inode.ino) {
            return;
        }
        let (sec, nsec) = current::real_time();
        let (uid, gid) = current::fsuid_fsgid();
        let mut comm = [0u8; 16];
        let clen = current::comm(&mut comm);
        let mut jobid = [0u8; EXT_JOBID_LEN - 1];
        let jlen = procname_uid(comm.get(..clen).unwrap_or_default(), uid, &mut jobid);
        let mut rec = Record {
            rtype,
            flags,
            time: cl_time(sec, nsec),
            tfid: fid(&inode),
            jobid: Some(&jobid[..jlen]),
            extra: Some(Extra {
                uidgid: Some((u64::from(uid), u64::from(gid))),
                nid: Some(NID_LO_BE),
                nid_be: true,
                xattr: xname.get(..xlen).filter(|n| !n.is_empty()),
                ..Extra::default()
            }),
            ..Record::default()
        };
        match rtype {
            CL_CREATE | CL_MKDIR | CL_HARDLINK | CL_SOFTLINK | CL_MKNOD | CL_UNLINK | CL_RMDIR => {
                rec.pfid = ev.dir().map(|d| fid(&d)).unwrap_or_default();
                rec.name = ev.name().unwrap_or_default();
                // A removed directory is always dead; a file when its last link went.
                if rtype == CL_RMDIR || (rtype == CL_UNLINK && inode.nlink == 0) {
                    rec.flags |= CLF_UNLINK_LAST;
                }
            }
            CL_RENAME => {
                let Some(rn) = ev.rename() else { return };
                let old_dir = ev.dir().map(|d| fid(&d)).unwrap_or_default();
                // As Lustre: t= is the overwritten file (or zero), p= the new parent,
                // s=/sp= the renamed file and its old parent; name is "tname\0sname".
                rec.tfid = rn.target.map(|t| fid(&t)).unwrap_or_default();
                rec.pfid = fid(&rn.new_dir);
                rec.rename = Some((fid(&inode), old_dir));
                rec.name = rn.new_name;
                rec.sname = ev.name().unwrap_or_default();
                if rn.target.is_some_and(|t| t.nlink == 0) {
                    rec.flags |= CLF_RENAME_LAST;
                }
            }
            CL_OPEN | CL_CLOSE => {
                let Some(o) = ev.open_file() else { return };
                let flags = mds_open_flags(&o, rtype == CL_OPEN);
                // Without OPEN records, only the close of a writer says something.
                if rtype == CL_CLOSE
                    && !self.wants(CL_OPEN)
                    && flags & (MDS_FMODE_WRITE | MDS_OPEN_APPEND | MDS_OPEN_TRUNC) == 0
                {
                    return;
                }
                // The low open flags go in the type's own bits, as Lustre's MDD puts them.
                rec.flags |= u16::try_from(flags & u32::from(CLF_FLAGMASK)).unwrap_or(0);
                if rtype == CL_OPEN {
                    if let Some(extra) = rec.extra.as_mut() {
                        extra.open_flags = Some(flags);
                    }
                }
                rec.pfid = ev.parent().map(|d| fid(&d)).unwrap_or_default();
            }
            _ => {
                rec.pfid = ev.parent().map(|d| fid(&d)).unwrap_or_default();
            }
        }
        if rec.name.len() > NAME_MAX || rec.sname.len() > NAME_MAX {
            return;
        }
        if let Ok(Some(_)) = self.append(&mut rec) {
            if rtype != CL_OPEN {
                self.note_record(inode.ino);
            }
        }
    }
}
