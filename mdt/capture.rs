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
//! | `ATTRIB` from `setxattr`/`removexattr` system calls | XATTR |
//! | other `ATTRIB` from `setattr()` | SATTR |
//! | `MODIFY` from a write | MTIME |
//! | `MODIFY` from `setattr()` (size or mtime) | TRUNC |
//! | `OPEN` | OPEN: low open flags in the record flags, all of them in the open extension |
//! | `CLOSE_WRITE`, `CLOSE_NOWRITE` | CLOSE: low open flags in the record flags |
//!
//! Every record carries the jobid `comm.uid` (Lustre's `procname_uid`), the caller's uid and
//! gid and the NID `0@lo`. As Lustre's MDD: RMDIR always has `CLF_UNLINK_LAST`; OPEN carries
//! `MDS_OPEN_*` flags (`CLFE_OPEN`), CLOSE has no open extension and, unless OPEN records are
//! wanted too, is only written for files opened for writing.

use kernel::bindings;
use kernel::fsnotify::{current, mask, Event, InodeInfo, OpenInfo, SbHandler};

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

/// Whether the current system call changes an extended attribute.
fn in_xattr_syscall() -> bool {
    #[cfg(CONFIG_X86_64)]
    {
        // setxattr, lsetxattr, fsetxattr, removexattr, lremovexattr, fremovexattr,
        // setxattrat, removexattrat.
        matches!(
            current::syscall_nr(),
            188 | 189 | 190 | 197 | 198 | 199 | 463 | 466
        )
    }
    #[cfg(not(CONFIG_X86_64))]
    {
        false
    }
}

/// Classifies an event; `None` for events that make no record.
fn record_type(ev: &Event<'_>, inode: &InodeInfo) -> Option<u32> {
    let m = ev.mask();
    if m & mask::CREATE != 0 {
        return Some(if ev.data_is_inode() {
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
        return Some(if m & mask::ISDIR != 0 {
            CL_RMDIR
        } else {
            CL_UNLINK
        });
    }
    if m & mask::RENAME != 0 {
        return Some(CL_RENAME);
    }
    if m & mask::OPEN != 0 {
        return Some(CL_OPEN);
    }
    if m & (mask::CLOSE_WRITE | mask::CLOSE_NOWRITE) != 0 {
        return Some(CL_CLOSE);
    }
    if m & mask::MODIFY != 0 {
        return Some(if ev.data_is_file() {
            CL_MTIME
        } else {
            CL_TRUNC
        });
    }
    if m & mask::ATTRIB != 0 && !ev.data_is_inode() {
        // An `ATTRIB` with only the inode is a link count change of a HLINK/UNLNK/RENME.
        return Some(if in_xattr_syscall() {
            CL_SETXATTR
        } else {
            CL_SETATTR
        });
    }
    None
}

impl SbHandler for Changelog {
    fn event(&self, ev: &Event<'_>) {
        let Some(inode) = ev.inode() else { return };
        let Some(rtype) = record_type(ev, &inode) else {
            return;
        };
        if !self.wants(rtype) {
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
            time: cl_time(sec, nsec),
            tfid: fid(&inode),
            jobid: Some(&jobid[..jlen]),
            extra: Some(Extra {
                uidgid: Some((u64::from(uid), u64::from(gid))),
                nid: Some(NID_LO_BE),
                nid_be: true,
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
        let _ = self.append(&mut rec);
    }
}
