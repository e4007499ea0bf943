// SPDX-License-Identifier: GPL-2.0

//! Filesystem objects a module manages on a user's behalf, named by path, by file handle or
//! by an open file.
//!
//! An [`FsPath`] is a counted `struct path` (mount and dentry). It gives the object's
//! attributes, reads and writes extended attributes without telling fsnotify watchers (the
//! module itself may be one), and opens the object. It is what a hierarchical storage manager
//! needs to find a file again from the identifier it handed out, and to keep state on it.
//!
//! C headers: [`include/linux/path.h`](srctree/include/linux/path.h),
//! [`include/linux/exportfs.h`](srctree/include/linux/exportfs.h),
//! [`include/linux/xattr.h`](srctree/include/linux/xattr.h)

use crate::{
    bindings,
    error::{from_err_ptr, to_result, Result},
    kfile::KFile,
    prelude::*,
    str::CStr,
};

/// Attributes of a filesystem object, as `stat()` would give them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Superblock the object lives on, to tell filesystems apart (an address, compared only).
    pub sb: usize,
    /// Inode number.
    pub ino: u64,
    /// Inode generation.
    pub generation: u32,
    /// Type and permission bits (`S_IF*`, `0o7777`).
    pub mode: u32,
    /// Owner, in the initial user namespace.
    pub uid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Last data modification, in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// The filesystem's preferred I/O size for the object (`st_blksize`): its block size on
    /// ext4, possibly more on XFS (a stripe or allocation unit).
    pub blksize: u32,
}

impl Stat {
    /// Whether the object is a regular file.
    pub fn is_reg(&self) -> bool {
        self.mode & bindings::S_IFMT == bindings::S_IFREG
    }
}

/// A counted reference to a mounted filesystem object.
///
/// # Invariants
///
/// `path.mnt` and `path.dentry` are valid and hold one reference each, owned by this object;
/// the dentry is positive (has an inode).
pub struct FsPath {
    path: bindings::path,
}

// SAFETY: A counted path may be used and released from any task.
unsafe impl Send for FsPath {}
// SAFETY: Every method either only reads the path or takes the locks the VFS requires.
unsafe impl Sync for FsPath {}

impl FsPath {
    /// Wraps a counted path.
    ///
    /// # Safety
    ///
    /// `path` must hold a reference to a valid mount and to a positive dentry on it, which the
    /// new object takes over.
    unsafe fn from_counted(path: bindings::path) -> Result<Self> {
        // SAFETY: By the function's requirements, the dentry is valid.
        if unsafe { bindings::rustre_d_inode(path.dentry) }.is_null() {
            // SAFETY: We own the references.
            unsafe { bindings::path_put(&path) };
            return Err(ENOENT);
        }
        // INVARIANT: By the function's requirements, and the check above.
        Ok(Self { path })
    }

    /// Looks `name` up, following a final symbolic link if `follow`.
    pub fn lookup(name: &CStr, follow: bool) -> Result<Self> {
        let mut path = bindings::path::default();
        let flags = if follow { bindings::LOOKUP_FOLLOW } else { 0 };
        // SAFETY: `name` is NUL-terminated and `path` a valid out-parameter.
        to_result(unsafe { bindings::kern_path(name.as_char_ptr(), flags, &mut path) })?;
        // SAFETY: `kern_path` succeeded and gave us a reference to both halves.
        unsafe { Self::from_counted(path) }
    }

    /// The object an open file refers to.
    pub fn of_file(file: &crate::fs::LocalFile) -> Result<Self> {
        // SAFETY: An open file has a valid `f_path`; `path_get` takes our references.
        let path = unsafe {
            let p = (*file.as_ptr()).__bindgen_anon_1.f_path;
            bindings::path_get(&p);
            p
        };
        // SAFETY: We just took a reference to both halves.
        unsafe { Self::from_counted(path) }
    }

    /// Finds the object of the file handle `words` of type `htype` on the filesystem `self` is
    /// on, as `open_by_handle_at()` does. `ESTALE` if the handle names no object (any more).
    /// A disconnected dentry is fine: the object is used by itself, never by name, so no
    /// acceptance callback (and no reconnection) is asked for. `EOPNOTSUPP` without
    /// `CONFIG_EXPORTFS` built in.
    #[cfg(not(CONFIG_EXPORTFS = "y"))]
    pub fn by_handle(&self, _htype: i32, _words: &[u32]) -> Result<Self> {
        Err(EOPNOTSUPP)
    }

    /// Finds the object of the file handle `words` of type `htype` on the filesystem `self` is
    /// on, as `open_by_handle_at()` does. `ESTALE` if the handle names no object (any more).
    /// A disconnected dentry is fine: the object is used by itself, never by name, so no
    /// acceptance callback (and no reconnection) is asked for.
    #[cfg(CONFIG_EXPORTFS = "y")]
    pub fn by_handle(&self, htype: i32, words: &[u32]) -> Result<Self> {
        const MAX_WORDS: usize = 8;
        if words.is_empty() || words.len() > MAX_WORDS {
            return Err(EINVAL);
        }
        let mut raw = [0u32; MAX_WORDS];
        raw[..words.len()].copy_from_slice(words);
        // SAFETY: `self.path.mnt` is valid by the invariants; `raw` holds `words.len()` words
        // laid out as the `struct fid` union's raw form.
        let dentry = from_err_ptr(unsafe {
            bindings::exportfs_decode_fh_raw(
                self.path.mnt,
                raw.as_mut_ptr().cast(),
                words.len() as i32,
                htype,
                0,
                None,
                core::ptr::null_mut(),
            )
        })?;
        if dentry.is_null() {
            return Err(ESTALE);
        }
        // The decoded dentry is counted and ours.
        let path = bindings::path {
            // SAFETY: The mount is valid by the invariants; `mntget` takes a reference for
            // the new path.
            mnt: unsafe { bindings::mntget(self.path.mnt) },
            dentry,
        };
        // SAFETY: Both halves are counted references we own.
        unsafe { Self::from_counted(path) }
    }

    fn inode(&self) -> *mut bindings::inode {
        // SAFETY: The dentry is valid and positive by the invariants.
        unsafe { bindings::rustre_d_inode(self.path.dentry) }
    }

    /// The object's attributes, from `vfs_getattr()`. Asking for the modification time marks
    /// it as seen, so that on filesystems with multigrain timestamps the next change gets a
    /// distinct one: two reads give the same time only if the data did not change in between.
    pub fn stat(&self) -> Result<Stat> {
        let mut k = bindings::kstat::default();
        let want = bindings::STATX_BASIC_STATS;
        // SAFETY: The path is valid by the invariants; `k` is a valid out-parameter.
        to_result(unsafe {
            bindings::vfs_getattr(&self.path, &mut k, want, bindings::AT_STATX_SYNC_AS_STAT)
        })?;
        // SAFETY: The inode is valid while we hold the dentry; its superblock and generation
        // are set when it is created; its owner is read as `stat()` does (`init_user_ns` is
        // a static object that lives as long as the kernel).
        let (sb, generation, uid) = unsafe {
            let inode = self.inode();
            (
                (*inode).i_sb as usize,
                (*inode).i_generation,
                bindings::rustre_from_kuid_munged(&raw mut bindings::init_user_ns, (*inode).i_uid),
            )
        };
        Ok(Stat {
            sb,
            ino: k.ino,
            generation,
            mode: u32::from(k.mode),
            uid,
            size: k.size.max(0) as u64,
            mtime_ns: k
                .mtime
                .tv_sec
                .saturating_mul(1_000_000_000)
                .saturating_add(k.mtime.tv_nsec as i64),
            blksize: k.blksize,
        })
    }

    /// Whether `self` is the root of its mount.
    pub fn is_mount_root(&self) -> bool {
        // SAFETY: The mount is valid by the invariants.
        unsafe { (*self.path.mnt).mnt_root == self.path.dentry }
    }

    /// The name of the filesystem type, e.g. `ext4` or `tmpfs`.
    pub fn fs_type(&self) -> &CStr {
        // SAFETY: A mounted superblock has a registered type with a static name.
        unsafe { CStr::from_char_ptr((*(*(*self.inode()).i_sb).s_type).name) }
    }

    /// Whether the filesystem reports pre-content events (`SB_I_ALLOW_HSM`: ext4, XFS and
    /// btrfs in 7.3, not tmpfs): whether an access to a file's data can be held until a
    /// hierarchical storage manager has brought the data back.
    pub fn allows_hsm(&self) -> bool {
        // Without it the kernel never reports pre-content events.
        if !cfg!(CONFIG_FANOTIFY_ACCESS_PERMISSIONS) {
            return false;
        }
        // SAFETY: The inode is valid while we hold the dentry; its superblock never changes
        // and sets `s_iflags` at mount time.
        unsafe { (*(*self.inode()).i_sb).s_iflags & bindings::SB_I_ALLOW_HSM as usize != 0 }
    }

    /// The inode's superblock (an address, compared only); cheaper than [`FsPath::stat`].
    pub fn sb(&self) -> usize {
        // SAFETY: The inode is valid while we hold the dentry; its superblock never changes.
        unsafe { (*self.inode()).i_sb as usize }
    }

    /// Reads the extended attribute `name` into `buf`; returns its length. `ENODATA` if the
    /// object has none, `ERANGE` if `buf` is too small. No permission check is made: the
    /// caller decides who may see it.
    pub fn get_xattr(&self, name: &CStr, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: The dentry and inode are valid; `buf` is writable for its length.
        let n = unsafe {
            bindings::__vfs_getxattr(
                self.path.dentry,
                self.inode(),
                name.as_char_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        Ok(n as usize)
    }

    /// Sets the extended attribute `name` to `value`, creating or replacing it, without
    /// permission checks and without an fsnotify event. For state the module keeps on the
    /// object (a `trusted.` attribute, say), not for changes a user asked for.
    pub fn set_xattr_quiet(&self, name: &CStr, value: &[u8]) -> Result {
        let inode = self.inode();
        // SAFETY: The mount is valid; freeze protection and the read-only check come before
        // the inode lock, as in `vfs_setxattr()`.
        to_result(unsafe { bindings::mnt_want_write(self.path.mnt) })?;
        // SAFETY: The inode is valid; `__vfs_setxattr` requires its lock, taken around it;
        // `nop_mnt_idmap` is the identity mapping; `value` is readable for its length.
        let rc = unsafe {
            bindings::rustre_inode_lock(inode);
            let rc = bindings::__vfs_setxattr(
                &raw mut bindings::nop_mnt_idmap,
                self.path.dentry,
                inode,
                name.as_char_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            );
            bindings::rustre_inode_unlock(inode);
            rc
        };
        // SAFETY: Pairs with the `mnt_want_write` above.
        unsafe { bindings::mnt_drop_write(self.path.mnt) };
        to_result(rc)
    }

    /// Opens the object with `O_*` `flags` as the current task's credentials allow. The open
    /// and everything done through the file report no fsnotify events, like [`KFile::open`].
    pub fn open(&self, flags: u32) -> Result<KFile> {
        // SAFETY: The path is valid; `dentry_open_nonotify` takes its own references and
        // returns a new file or an error pointer.
        let file = from_err_ptr(unsafe {
            bindings::dentry_open_nonotify(
                &self.path,
                flags as i32,
                bindings::rustre_current_cred(),
            )
        })?;
        // SAFETY: The file is new and ours.
        Ok(unsafe { KFile::from_new(file) })
    }
}

impl FsPath {
    /// The path, valid (and counted) while `self` lives.
    pub(crate) fn as_raw(&self) -> *const bindings::path {
        &self.path
    }

    /// Takes a counted reference to `path`.
    ///
    /// # Safety
    ///
    /// `path` must point to a valid path with a positive dentry, kept valid by the caller for
    /// the duration of the call.
    pub(crate) unsafe fn from_raw(path: *const bindings::path) -> Self {
        // SAFETY: By the function's requirements `path` is valid; `path_get` counts both halves.
        unsafe { bindings::path_get(path) };
        // INVARIANT: We now own one reference to the mount and to the positive dentry.
        FsPath {
            // SAFETY: As above; the struct is copied, the references are ours.
            path: unsafe { core::ptr::read(path) },
        }
    }
}

impl Drop for FsPath {
    fn drop(&mut self) {
        // SAFETY: We own one reference to both halves by the invariants.
        unsafe { bindings::path_put(&self.path) };
    }
}
