// SPDX-License-Identifier: GPL-2.0

//! FIDs of files on a target's filesystem, and back.
//!
//! A target's FIDs name an inode by its number and generation (`Fid::from_inode`: Lustre's
//! IGIF mapping `[inode number : generation : 0]`, or a normal sequence for inode numbers
//! outside the IGIF range; `Documentation/mdt.rst`). Both halves are what the filesystem's NFS file handle holds, so
//! `path2fid` reads them from `name_to_handle_at()` and `fid2path` builds the handle and opens
//! it with `open_by_handle_at()`. The handle layout depends on the filesystem; the layouts
//! below cover ext2/3/4, tmpfs and XFS. Other filesystems fall back to `stat()` and
//! `FS_IOC_GETVERSION` for `path2fid` and to a tree walk for `fid2path`. [`open_fid`] opens a
//! file by FID the same way, for the HSM commands and copytools.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustre_logic::fid::Fid;

/// How a filesystem lays out inode number and generation in its file handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `FILEID_INO32_GEN` (type 1): `u32 ino, u32 gen` (ext2/3/4 and the generic helpers).
    Ino32Gen,
    /// tmpfs (type 1, 3 words): `u32 gen, u64 ino` as two 32-bit words.
    ShmemGen64,
    /// XFS (type `0x81`, 3 words): a native-endian `u64 ino`, then `u32 gen`; type 1 as
    /// [`Layout::Ino32Gen`] on an `inode32` mount.
    Xfs64,
}

/// `statfs` magic numbers.
const EXT4_SUPER_MAGIC: i64 = 0xef53;
const TMPFS_MAGIC: i64 = 0x0102_1994;
const XFS_SUPER_MAGIC: i64 = 0x5846_5342;

/// XFS's handle type for a 64-bit inode number and generation.
const XFS_INO64_GEN: i32 = 0x81;

/// The handle layout of a filesystem type, if known.
pub fn layout_for(f_type: i64) -> Option<Layout> {
    match f_type {
        EXT4_SUPER_MAGIC => Some(Layout::Ino32Gen),
        TMPFS_MAGIC => Some(Layout::ShmemGen64),
        XFS_SUPER_MAGIC => Some(Layout::Xfs64),
        _ => None,
    }
}

/// The FID in a handle of the given layout, or `None` if it is not one.
pub fn fid_from_handle(layout: Layout, htype: i32, words: &[u32]) -> Option<Fid> {
    match (layout, htype, words) {
        (Layout::Ino32Gen, 1, [ino, gen, ..]) => Fid::from_inode(u64::from(*ino), *gen),
        (Layout::ShmemGen64, 1, [gen, lo, hi, ..]) => {
            Fid::from_inode(u64::from(*lo) | (u64::from(*hi) << 32), *gen)
        }
        (Layout::Xfs64, XFS_INO64_GEN, [a, b, gen, ..]) => {
            let (a, b) = (a.to_ne_bytes(), b.to_ne_bytes());
            let ino = u64::from_ne_bytes([a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]);
            Fid::from_inode(ino, *gen)
        }
        (Layout::Xfs64, 1, [ino, gen, ..]) => Fid::from_inode(u64::from(*ino), *gen),
        _ => None,
    }
}

/// The handle for a FID in a given layout: type and 32-bit words.
pub fn handle_from_fid(layout: Layout, fid: &Fid) -> Option<(i32, Vec<u32>)> {
    let (ino, gen) = fid.inode()?;
    match layout {
        Layout::Ino32Gen => Some((1, vec![u32::try_from(ino).ok()?, gen])),
        Layout::ShmemGen64 => Some((1, vec![gen, ino as u32, (ino >> 32) as u32])),
        Layout::Xfs64 => {
            let [a, b, c, d, e, f, g, h] = ino.to_ne_bytes();
            Some((
                XFS_INO64_GEN,
                vec![
                    u32::from_ne_bytes([a, b, c, d]),
                    u32::from_ne_bytes([e, f, g, h]),
                    gen,
                ],
            ))
        }
    }
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn fs_type(p: &Path) -> io::Result<i64> {
    #[allow(clippy::unnecessary_cast)] // f_type is i64 on 64-bit targets only
    Ok(rustix::fs::statfs(p)?.f_type as i64)
}

const MAX_HANDLE_SZ: usize = 128;

#[repr(C)]
struct Handle {
    bytes: u32,
    htype: i32,
    data: [u32; MAX_HANDLE_SZ / 4],
}

/// The FID of `path` (not following a final symbolic link).
pub fn path2fid(path: &Path) -> io::Result<Fid> {
    let meta = std::fs::symlink_metadata(path)?;
    if let Some(layout) = layout_for(fs_type(path)?) {
        let c = cpath(path)?;
        let mut h = Handle {
            bytes: MAX_HANDLE_SZ as u32,
            htype: 0,
            data: [0; MAX_HANDLE_SZ / 4],
        };
        let mut mount_id = 0;
        // SAFETY: `h` has room for MAX_HANDLE_SZ bytes, as its header says.
        let r = unsafe {
            libc::name_to_handle_at(
                libc::AT_FDCWD,
                c.as_ptr(),
                (&raw mut h).cast(),
                &mut mount_id,
                0,
            )
        };
        if r == 0 {
            let words = &h.data[..(h.bytes as usize / 4).min(h.data.len())];
            if let Some(fid) = fid_from_handle(layout, h.htype, words) {
                if fid.inode().is_some_and(|(ino, _)| ino == meta.ino()) {
                    return Ok(fid);
                }
            }
        }
    }
    Fid::from_inode(meta.ino(), generation_ioctl(path).unwrap_or(0))
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EOVERFLOW))
}

fn generation_ioctl(path: &Path) -> io::Result<u32> {
    let f = File::open(path)?;
    let mut gen: libc::c_int = 0;
    // FS_IOC_GETVERSION = _IOR('v', 1, long)
    const FS_IOC_GETVERSION: libc::c_ulong = 0x8008_7601;
    // SAFETY: The ioctl writes an int into `gen`.
    if unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_GETVERSION, &mut gen) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(gen as u32)
}

/// Opens the file with FID `fid` by its handle, relative to `root` (the mount point, open).
/// `Ok(None)` if the filesystem or the kernel has no file handles (or a layout we do not know),
/// so that the caller falls back to a tree walk. A stale handle is `ENOENT`.
fn open_handle(root: &File, mount: &Path, fid: &Fid, flags: i32) -> io::Result<Option<File>> {
    let Some((htype, words)) = layout_for(fs_type(mount)?).and_then(|l| handle_from_fid(l, fid))
    else {
        return Ok(None);
    };
    let mut h = Handle {
        bytes: (words.len() * 4) as u32,
        htype,
        data: [0; MAX_HANDLE_SZ / 4],
    };
    h.data[..words.len()].copy_from_slice(&words);
    // SAFETY: `h` is a valid handle buffer; the result is a new fd or -1.
    let fd = unsafe {
        libc::open_by_handle_at(
            root.as_raw_fd(),
            (&raw mut h).cast(),
            flags | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ESTALE) => Err(io::Error::from_raw_os_error(libc::ENOENT)),
            // No file handle support in this kernel or filesystem.
            Some(libc::ENOSYS | libc::EOPNOTSUPP) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: `fd` is a new descriptor that we own.
    Ok(Some(unsafe { File::from_raw_fd(fd) }))
}

/// Opens `path` with `open(2)` flags (close-on-exec added).
pub fn open_path(path: &Path, flags: i32) -> io::Result<File> {
    let flags = OFlags::from_bits_retain(flags as u32) | OFlags::CLOEXEC;
    Ok(File::from(rustix::fs::open(path, flags, Mode::empty())?))
}

/// Opens the file with FID `fid` on the filesystem mounted at `mount`, with `open(2)` flags
/// (`O_CREAT` and `O_TRUNC` make no sense here). `ENOENT` if there is no such file, or if it
/// was deleted (but is still open somewhere).
pub fn open_fid(mount: &Path, fid: &Fid, flags: i32) -> io::Result<File> {
    let root = File::open(mount)?;
    let f = match open_handle(&root, mount, fid, flags)? {
        Some(f) => f,
        None => {
            let p = walk(mount, fid).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
            open_path(&p, flags)?
        }
    };
    if flags & libc::O_PATH == 0 && f.metadata()?.nlink() == 0 {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    Ok(f)
}

/// The path of the file with FID `fid` on the filesystem mounted at `mount`.
pub fn fid2path(mount: &Path, fid: &Fid) -> io::Result<PathBuf> {
    let root = File::open(mount)?;
    match open_handle(&root, mount, fid, libc::O_PATH | libc::O_NOFOLLOW)? {
        Some(f) => {
            let p = std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd()))?;
            if p.as_os_str().as_bytes().ends_with(b" (deleted)") {
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            Ok(p)
        }
        None => walk(mount, fid).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT)),
    }
}

/// Finds `fid` under `dir` by inode number, without crossing mounts.
fn walk(dir: &Path, fid: &Fid) -> Option<PathBuf> {
    let (ino, _) = fid.inode()?;
    let dev = std::fs::symlink_metadata(dir).ok()?.dev();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.dev() != dev {
                continue;
            }
            if m.ino() == ino && path2fid(&p).is_ok_and(|f| f == *fid) {
                return Some(p);
            }
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_round_trip() {
        for layout in [Layout::Ino32Gen, Layout::ShmemGen64, Layout::Xfs64] {
            let fid = Fid::from_inode(0x1234, 0xdead_beef).expect("IGIF");
            let (t, w) = handle_from_fid(layout, &fid).expect("encodes");
            assert_eq!(fid_from_handle(layout, t, &w), Some(fid));
        }
        let big = Fid::from_inode(0x1_0000_0001, 7).expect("normal");
        assert_eq!(handle_from_fid(Layout::Ino32Gen, &big), None);
        let (t, w) = handle_from_fid(Layout::ShmemGen64, &big).expect("encodes");
        assert_eq!(w, vec![7, 1, 1]);
        assert_eq!(fid_from_handle(Layout::ShmemGen64, t, &w), Some(big));
        let (t, w) = handle_from_fid(Layout::Xfs64, &big).expect("encodes");
        assert_eq!((t, w.len()), (0x81, 3));
        assert_eq!(fid_from_handle(Layout::Xfs64, t, &w), Some(big));
        // An `inode32` XFS mount hands out the generic layout.
        let small = Fid::from_inode(131, 9).expect("IGIF");
        assert_eq!(fid_from_handle(Layout::Xfs64, 1, &[131, 9]), Some(small));
        // tmpfs's root is inode 1: a normal FID, not Lustre's reserved sequence 1.
        let root = fid_from_handle(Layout::ShmemGen64, 1, &[3, 1, 0]).expect("decodes");
        assert_eq!(root.to_string(), "[0x200000402:0x3:0x0]");
        assert_eq!(
            handle_from_fid(Layout::ShmemGen64, &root),
            Some((1, vec![3, 1, 0]))
        );
        assert_eq!(
            handle_from_fid(
                Layout::Ino32Gen,
                &Fid {
                    seq: 1,
                    oid: 1,
                    ver: 1
                }
            ),
            None
        );
    }

    #[test]
    fn path2fid_of_a_temp_file_has_its_inode() {
        let dir = std::env::temp_dir().join(format!("lfs-fid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let f = dir.join("x");
        std::fs::write(&f, b"x").expect("write");
        let fid = path2fid(&f).expect("path2fid");
        assert_eq!(
            fid.inode().map(|(ino, _)| ino),
            Some(std::fs::metadata(&f).expect("stat").ino())
        );
        assert!(fid.is_sane(), "{fid}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn open_fid_opens_the_file_and_not_a_deleted_one() {
        let dir = std::env::temp_dir().join(format!("lfs-openfid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let f = dir.join("x");
        std::fs::write(&f, b"hello").expect("write");
        let fid = path2fid(&f).expect("path2fid");
        // The mount point of the temporary directory: opening by handle only needs a file of
        // the same filesystem as the root, and handles need CAP_DAC_READ_SEARCH.
        match open_fid(&dir, &fid, libc::O_RDONLY) {
            Ok(file) => {
                assert_eq!(
                    Some(file.metadata().expect("stat").ino()),
                    fid.inode().map(|(ino, _)| ino)
                );
                std::fs::remove_file(&f).expect("unlink");
                let e = open_fid(&dir, &fid, libc::O_RDONLY).expect_err("deleted");
                assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
                drop(file);
            }
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}"),
        }
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
