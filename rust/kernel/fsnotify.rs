// SPDX-License-Identifier: GPL-2.0

//! Filesystem notification: watching every event of one mounted filesystem.
//!
//! An [`SbWatch`] puts an fsnotify mark on the superblock of a mount point and calls
//! [`SbHandler::event`] synchronously, in the context of the task doing the operation, for
//! each event in its mask. The handler sees a read-only [`Event`]: the event mask, the inode
//! concerned, the directory and name for directory-entry events, both sides of a rename and
//! the open file for open, close and write events. It runs under the fsnotify SRCU read lock,
//! may sleep, and must not start I/O on the watched filesystem while the caller may hold its
//! locks.
//!
//! The watch holds a reference to the mount, so the filesystem cannot be unmounted while it is
//! watched (`umount` fails with `EBUSY`).
//!
//! A [`PreContentWatch`] is the blocking kind, for hierarchical storage managers: it sees every
//! open of a regular file of the filesystem before it completes ([`PreContentHandler::open`])
//! and every access to the data of a file opened while it watches (read, write, `mmap`,
//! truncate, `fallocate`, `copy_file_range`, splice: [`PreContentHandler::access`]), and holds
//! the task there until the handler returns; an error from the handler fails the operation.
//!
//! C header: [`include/linux/fsnotify_backend.h`](srctree/include/linux/fsnotify_backend.h)

use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::{to_result, Result},
    ffi::{c_int, c_void},
    prelude::*,
    str::CStr,
    sync::Arc,
    types::ForeignOwnable,
};
use core::{marker::PhantomData, ptr::NonNull};

/// Event bits (`FS_*`).
pub mod mask {
    /// Data written.
    pub const MODIFY: u32 = bindings::FS_MODIFY;
    /// Attributes or extended attributes changed, or link count changed.
    pub const ATTRIB: u32 = bindings::FS_ATTRIB;
    /// Writable file closed.
    pub const CLOSE_WRITE: u32 = bindings::FS_CLOSE_WRITE;
    /// Read-only file closed.
    pub const CLOSE_NOWRITE: u32 = bindings::FS_CLOSE_NOWRITE;
    /// File opened.
    pub const OPEN: u32 = bindings::FS_OPEN;
    /// Entry created (also a new hard link).
    pub const CREATE: u32 = bindings::FS_CREATE;
    /// Entry removed.
    pub const DELETE: u32 = bindings::FS_DELETE;
    /// Entry renamed, with both old and new parent and name.
    pub const RENAME: u32 = bindings::FS_RENAME;
    /// The event concerns a directory.
    pub const ISDIR: u32 = bindings::FS_ISDIR;
    /// A file is being opened (permission event: the open waits for the answer).
    pub const OPEN_PERM: u32 = bindings::FS_OPEN_PERM;
    /// Data is about to be accessed (pre-content event: the access waits for the answer).
    pub const PRE_ACCESS: u32 = bindings::FS_PRE_ACCESS;
}

/// What an [`SbWatch`] calls for each event.
pub trait SbHandler: Send + Sync + 'static {
    /// Handles one event. Errors cannot be returned: the operation has already happened.
    fn event(&self, ev: &Event<'_>);
}

/// A snapshot of the fields of an inode that identify and describe it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InodeInfo {
    /// Inode number.
    pub ino: u64,
    /// Generation (`i_generation`).
    pub generation: u32,
    /// Mode, type bits included.
    pub mode: u16,
    /// Link count at the time of the event.
    pub nlink: u32,
}

impl InodeInfo {
    /// Reads the fields of `inode`, and makes sure the inode can be found again by a file
    /// handle built from them.
    ///
    /// Number and generation identify an inode to whoever records them (a changelog FID, say)
    /// only if `open_by_handle_at()` can find it by them later. Most filesystems keep every
    /// inode in the inode hash, where that lookup finds it; tmpfs puts an inode there only when
    /// it first encodes a handle for it (`shmem_encode_fh`). So for an inode not in the hash a
    /// handle is encoded here and thrown away (encoders do not sleep, except stacking ones that
    /// may allocate; the handler context allows both); for the others this is a few loads.
    /// Without a built-in `CONFIG_EXPORTFS` there are no file handles to find an inode by.
    ///
    /// # Safety
    ///
    /// `inode` must point to a live inode.
    unsafe fn read(inode: *const bindings::inode) -> Self {
        #[cfg(CONFIG_EXPORTFS = "y")]
        // SAFETY: The caller guarantees `inode` is live; `i_hash.pprev` is read through a raw
        // pointer without the hash lock, as `hlist_unhashed_lockless()` does (other CPUs may
        // write it): a stale answer only costs (or saves) one encoding, which is idempotent.
        if unsafe { (&raw const (*inode).i_hash.pprev).read_volatile() }.is_null() {
            let mut fh = [0u32; 32];
            let mut words: c_int = 32;
            // SAFETY: The caller guarantees `inode` is live; `fh` has room for `words` 32-bit
            // words, which the encoder reads through `max_len` (`struct fid` is a union over
            // such a buffer). A filesystem without handles fails with an error, which changes
            // nothing.
            let _ = unsafe {
                bindings::exportfs_encode_inode_fh(
                    inode.cast_mut(),
                    fh.as_mut_ptr().cast(),
                    &mut words,
                    core::ptr::null_mut(),
                    0,
                )
            };
        }
        // SAFETY: The caller guarantees `inode` is live. The link count may change under us;
        // this is a snapshot, as `READ_ONCE()` would give.
        unsafe {
            InodeInfo {
                ino: (*inode).i_ino,
                generation: (*inode).i_generation,
                mode: (*inode).i_mode,
                nlink: (&raw const (*inode).__bindgen_anon_1.__i_nlink).read_volatile(),
            }
        }
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        u32::from(self.mode) & bindings::S_IFMT == bindings::S_IFDIR
    }

    /// Whether this is a regular file.
    pub fn is_reg(&self) -> bool {
        u32::from(self.mode) & bindings::S_IFMT == bindings::S_IFREG
    }

    /// Whether this is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        u32::from(self.mode) & bindings::S_IFMT == bindings::S_IFLNK
    }
}

/// The open file behind an open, close or write event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenInfo {
    /// `f_flags` (`O_*`).
    pub flags: u32,
    /// Opened for reading.
    pub read: bool,
    /// Opened for writing.
    pub write: bool,
    /// Opened for execution.
    pub exec: bool,
    /// This open created the file (`FMODE_CREATED`).
    pub created: bool,
}

/// The new side of a rename.
pub struct RenameInfo<'a> {
    /// The directory the entry moved to.
    pub new_dir: InodeInfo,
    /// The new name.
    pub new_name: &'a [u8],
    /// The inode that was replaced by the rename, if any.
    pub target: Option<InodeInfo>,
}

/// One event, valid for the duration of [`SbHandler::event`].
pub struct Event<'a> {
    mask: u32,
    data: *const c_void,
    data_type: c_int,
    dir: *mut bindings::inode,
    name: *const bindings::qstr,
    _p: PhantomData<&'a ()>,
}

/// Bytes of a `struct qstr`.
///
/// # Safety
///
/// `q` must point to a valid qstr whose name stays unchanged for `'a`.
unsafe fn qstr_bytes<'a>(q: *const bindings::qstr) -> &'a [u8] {
    // SAFETY: By the requirements of this function, `name` points to `len` bytes that stay
    // unchanged for `'a`.
    unsafe {
        let len = (*q).__bindgen_anon_1.__bindgen_anon_1.len as usize;
        core::slice::from_raw_parts((*q).name, len)
    }
}

impl<'a> Event<'a> {
    /// The event bits (see [`mask`]).
    pub fn mask(&self) -> u32 {
        self.mask
    }

    /// The inode the event is about (for a rename, the moved one).
    pub fn inode(&self) -> Option<InodeInfo> {
        // SAFETY: `data` and `data_type` are what fsnotify passed to the handler.
        let inode = unsafe { bindings::fsnotify_data_inode(self.data, self.data_type) };
        // SAFETY: fsnotify holds the inode for the duration of the event.
        (!inode.is_null()).then(|| unsafe { InodeInfo::read(inode) })
    }

    /// Whether fsnotify passed the inode itself rather than a dentry or path: for `CREATE`,
    /// this is a new hard link; for `ATTRIB`, a link count change.
    pub fn data_is_inode(&self) -> bool {
        self.data_type == bindings::fsnotify_data_type_FSNOTIFY_EVENT_INODE as c_int
    }

    /// Whether the event came from an open file (`OPEN`, `CLOSE_*`, `MODIFY` by a write), as
    /// opposed to a `setattr()` (`MODIFY` by a truncate, `ATTRIB`).
    pub fn data_is_file(&self) -> bool {
        self.data_type == bindings::fsnotify_data_type_FSNOTIFY_EVENT_PATH as c_int
    }

    /// The directory of a directory-entry event (`CREATE`, `DELETE`; for `RENAME` the old one).
    pub fn dir(&self) -> Option<InodeInfo> {
        // SAFETY: fsnotify holds the directory for the duration of the event.
        (!self.dir.is_null()).then(|| unsafe { InodeInfo::read(self.dir) })
    }

    /// The name of a directory-entry event (for `RENAME` the old one).
    pub fn name(&self) -> Option<&'a [u8]> {
        // SAFETY: The caller of the handler keeps the name stable during the event
        // (`fsnotify_name()` callers hold the directory lock).
        (!self.name.is_null()).then(|| unsafe { qstr_bytes(self.name) })
    }

    /// The parent directory of the inode of a dentry or path event.
    pub fn parent(&self) -> Option<InodeInfo> {
        // SAFETY: `data` and `data_type` are what fsnotify passed to the handler.
        let dentry = unsafe { bindings::fsnotify_data_dentry(self.data, self.data_type) };
        if dentry.is_null()
            || self.data_type == bindings::fsnotify_data_type_FSNOTIFY_EVENT_RENAME as c_int
        {
            return None;
        }
        // SAFETY: `dentry` is held by fsnotify's caller; `dget_parent` returns a counted
        // reference that we drop below.
        let parent = unsafe { bindings::dget_parent(dentry) };
        // SAFETY: `parent` is a counted, positive dentry (a parent is always positive).
        unsafe {
            let inode = bindings::d_inode(parent);
            let info = (!inode.is_null()).then(|| InodeInfo::read(inode));
            bindings::dput(parent);
            info
        }
    }

    /// The new side of a `RENAME` event.
    pub fn rename(&self) -> Option<RenameInfo<'a>> {
        if self.data_type != bindings::fsnotify_data_type_FSNOTIFY_EVENT_RENAME as c_int {
            return None;
        }
        // SAFETY: For `FSNOTIFY_EVENT_RENAME`, `data` is a `struct fsnotify_rename_data` that
        // lives for the event; the rename holds the locks that keep `moved`, its parent and
        // its name stable.
        unsafe {
            let rd = self.data.cast::<bindings::fsnotify_rename_data>();
            let moved = (*rd).moved;
            let parent = (*moved).d_parent;
            let target = (*rd).target;
            Some(RenameInfo {
                new_dir: InodeInfo::read(bindings::d_inode(parent)),
                new_name: qstr_bytes(&raw const (*moved).__bindgen_anon_1.d_name),
                target: (!target.is_null()).then(|| InodeInfo::read(target)),
            })
        }
    }

    /// The open file of an `OPEN`, `CLOSE_*` or write `MODIFY` event.
    pub fn open_file(&self) -> Option<OpenInfo> {
        if !self.data_is_file()
            || self.mask & (mask::OPEN | mask::CLOSE_WRITE | mask::CLOSE_NOWRITE | mask::MODIFY)
                == 0
        {
            return None;
        }
        // SAFETY: For these events fsnotify is called by `fsnotify_file()` with
        // `&file->f_path`, so the path is embedded in a live `struct file`.
        unsafe {
            let path = self.data.cast::<bindings::path>().cast_mut();
            let file = crate::container_of!(path, bindings::file, __bindgen_anon_1.f_path);
            let fmode = (*file).f_mode;
            Some(OpenInfo {
                flags: (*file).f_flags,
                read: fmode & bindings::FMODE_READ != 0,
                write: fmode & bindings::FMODE_WRITE != 0,
                exec: fmode & bindings::FMODE_EXEC != 0,
                created: fmode & bindings::FMODE_CREATED != 0,
            })
        }
    }
}

/// The fsnotify callback of every [`SbWatch`] group.
///
/// # Safety
///
/// Called by fsnotify only, for a group made by [`SbWatch::new`] with handler type `H`.
unsafe extern "C" fn handle_event<H: SbHandler>(
    group: *mut bindings::fsnotify_group,
    mask: u32,
    data: *const c_void,
    data_type: c_int,
    dir: *mut bindings::inode,
    file_name: *const bindings::qstr,
    _cookie: u32,
    _iter_info: *mut bindings::fsnotify_iter_info,
) -> c_int {
    // SAFETY: `private` holds an `Arc<H>` from `SbWatch::new`, released only in
    // `free_group_priv`, after the last event.
    let handler = unsafe { <Arc<H> as ForeignOwnable>::borrow((*group).__bindgen_anon_1.private) };
    let ev = Event {
        mask,
        data,
        data_type,
        dir,
        name: file_name,
        _p: PhantomData,
    };
    handler.event(&ev);
    0
}

/// Releases the handler when the group is freed.
///
/// # Safety
///
/// Called by fsnotify only, once, for a group made by [`SbWatch::new`].
unsafe extern "C" fn free_group_priv<H: SbHandler>(group: *mut bindings::fsnotify_group) {
    // SAFETY: `private` holds an `Arc<H>` from `SbWatch::new`; this is its only release.
    drop(unsafe { <Arc<H> as ForeignOwnable>::from_foreign((*group).__bindgen_anon_1.private) });
}

/// Frees our mark after its last reference is gone.
///
/// # Safety
///
/// Called by fsnotify only, once, for a mark allocated by [`SbWatch::new`].
unsafe extern "C" fn free_mark(mark: *mut bindings::fsnotify_mark) {
    // SAFETY: The mark was allocated as a `KBox<fsnotify_mark>` in `SbWatch::new`.
    drop(unsafe { KBox::from_raw(mark.cast::<MarkBox>()) });
}

#[repr(transparent)]
struct MarkBox(bindings::fsnotify_mark);

struct Ops<H>(PhantomData<H>);

impl<H: SbHandler> Ops<H> {
    const OPS: bindings::fsnotify_ops = bindings::fsnotify_ops {
        handle_event: Some(handle_event::<H>),
        handle_inode_event: None,
        free_group_priv: Some(free_group_priv::<H>),
        freeing_mark: None,
        free_event: None,
        free_mark: Some(free_mark),
    };
}

/// A mark on the superblock of a mounted filesystem, delivering its events to a handler.
///
/// # Invariants
///
/// - `group` is a group from `fsnotify_alloc_group()` with `Ops::<H>::OPS`, whose `private`
///   holds an `Arc<H>`; this object owns one reference to it.
/// - `mark` is attached to the superblock of `path`'s mount, and this object owns its initial
///   reference.
/// - `path` is a counted reference to the watched mount's root.
pub struct SbWatch<H: SbHandler> {
    group: NonNull<bindings::fsnotify_group>,
    mark: NonNull<bindings::fsnotify_mark>,
    path: bindings::path,
    _h: PhantomData<Arc<H>>,
}

// SAFETY: The raw pointers are fsnotify objects that may be used and released from any task.
unsafe impl<H: SbHandler> Send for SbWatch<H> {}
// SAFETY: No method of `&SbWatch` mutates anything.
unsafe impl<H: SbHandler> Sync for SbWatch<H> {}

/// Looks up `dir`, which must be the root of a mounted filesystem.
fn mount_root(dir: &CStr) -> Result<bindings::path> {
    let mut path = bindings::path {
        mnt: core::ptr::null_mut(),
        dentry: core::ptr::null_mut(),
    };
    // SAFETY: `dir` is a NUL-terminated string and `path` a valid out-parameter.
    to_result(unsafe {
        bindings::kern_path(
            dir.as_char_ptr(),
            bindings::LOOKUP_FOLLOW | bindings::LOOKUP_DIRECTORY,
            &mut path,
        )
    })?;
    // SAFETY: `kern_path` succeeded, so `path.mnt` is a valid, counted vfsmount.
    let is_root = unsafe { (*path.mnt).mnt_root == path.dentry };
    if !is_root {
        // SAFETY: We own the reference taken by `kern_path`.
        unsafe { bindings::path_put(&path) };
        return Err(ENOTDIR);
    }
    Ok(path)
}

/// Checks that `dir` is the root of a mounted filesystem, as [`SbWatch::new`] will: `ENOENT`
/// if it does not exist, `ENOTDIR` if it is not a mount root.
pub fn check_mount_root(dir: &CStr) -> Result {
    let path = mount_root(dir)?;
    // SAFETY: We own the reference taken by `mount_root`.
    unsafe { bindings::path_put(&path) };
    Ok(())
}

/// Makes the group and the superblock mark of a watch: a kernel-internal group with `ops`, at
/// `priority`, whose `private` holds `handler` (released by the group's `free_group_priv`),
/// and one mark with `events` on the superblock of `path`. Returns the group reference and the
/// mark's initial reference, both the caller's; on failure nothing is left (the handler is
/// dropped with its group).
fn attach_sb_mark<P: ForeignOwnable>(
    path: &bindings::path,
    ops: &'static bindings::fsnotify_ops,
    priority: bindings::fsnotify_group_prio,
    events: u32,
    handler: P,
) -> Result<(
    NonNull<bindings::fsnotify_group>,
    NonNull<bindings::fsnotify_mark>,
)> {
    // SAFETY: `ops` is static; flags 0 is a kernel-internal group.
    let group = crate::error::from_err_ptr(unsafe { bindings::fsnotify_alloc_group(ops, 0) })?;
    let group = NonNull::new(group).ok_or(ENOMEM)?;
    // SAFETY: `group` is fresh: no mark yet, so no event reaches it, and its priority may be
    // set (marks are ordered and counted by it when they are added). From here on, dropping
    // the group releases the handler.
    unsafe {
        (*group.as_ptr()).__bindgen_anon_1.private = handler.into_foreign();
        (*group.as_ptr()).priority = priority;
    }
    let mark = match KBox::new(MarkBox(bindings::fsnotify_mark::default()), GFP_KERNEL) {
        Ok(m) => KBox::into_raw(m).cast::<bindings::fsnotify_mark>(),
        Err(e) => {
            // SAFETY: We own the group reference.
            unsafe { bindings::fsnotify_put_group(group.as_ptr()) };
            return Err(e.into());
        }
    };
    // SAFETY: `mark` is zeroed memory owned by fsnotify from now on (freed by `free_mark`);
    // `fsnotify_init_mark` takes a group reference for it and sets our initial reference;
    // `path` is counted by the caller.
    let ret = unsafe {
        bindings::fsnotify_init_mark(mark, group.as_ptr());
        (*mark).mask = events;
        let sb = (*path.dentry).d_sb;
        bindings::fsnotify_add_mark(
            mark,
            sb.cast(),
            bindings::fsnotify_obj_type_FSNOTIFY_OBJ_TYPE_SB as u32,
            0,
        )
    };
    if ret != 0 {
        // SAFETY: `fsnotify_add_mark` failed and dropped its own reference; ours frees the mark
        // (and its group reference); then ours of the group goes.
        unsafe {
            bindings::fsnotify_put_mark(mark);
            bindings::fsnotify_wait_marks_destroyed();
            bindings::fsnotify_put_group(group.as_ptr());
        }
        return Err(Error::from_errno(ret));
    }
    // SAFETY: `mark` came from `KBox::into_raw`, so it is not null.
    Ok((group, unsafe { NonNull::new_unchecked(mark) }))
}

impl<H: SbHandler> SbWatch<H> {
    /// Watches the filesystem mounted at `mount_point` for the events in `events` (bits of
    /// [`mask`]). Fails with `ENOENT` if the path does not exist and `ENOTDIR` if it is not
    /// the root of a mount.
    pub fn new(mount_point: &CStr, events: u32, handler: Arc<H>) -> Result<Self> {
        let path = mount_root(mount_point)?;
        match attach_sb_mark(
            &path,
            &Ops::<H>::OPS,
            bindings::fsnotify_group_prio_FSNOTIFY_PRIO_NORMAL,
            events | mask::ISDIR,
            handler,
        ) {
            Ok((group, mark)) => Ok(SbWatch {
                group,
                mark,
                path,
                _h: PhantomData,
            }),
            Err(e) => {
                // SAFETY: We own the path reference.
                unsafe { bindings::path_put(&path) };
                Err(e)
            }
        }
    }

    /// The superblock watched, as an opaque identity for comparisons.
    pub fn sb_id(&self) -> usize {
        // SAFETY: `path` is counted by the invariants.
        unsafe { (*self.path.dentry).d_sb as usize }
    }
}

impl<H: SbHandler> Drop for SbWatch<H> {
    fn drop(&mut self) {
        // SAFETY: By the invariants we own the initial mark reference, a group reference and a
        // path reference. `fsnotify_destroy_mark` detaches the mark, so no new event starts;
        // after our put, `fsnotify_wait_marks_destroyed` waits for the SRCU grace period
        // that ends every running handler and for the mark to be freed, which drops the
        // mark's group reference. Ours is then the last one: putting it frees the group and
        // releases the handler (`free_group_priv`) before we return.
        unsafe {
            bindings::fsnotify_destroy_mark(self.mark.as_ptr(), self.group.as_ptr());
            bindings::fsnotify_put_mark(self.mark.as_ptr());
            bindings::fsnotify_wait_marks_destroyed();
            bindings::fsnotify_put_group(self.group.as_ptr());
            bindings::path_put(&self.path);
        }
    }
}

/// Helpers for handlers: facts about the task doing the operation.
pub mod current {
    use crate::bindings;

    /// The caller's fsuid and fsgid, in the initial user namespace.
    pub fn fsuid_fsgid() -> (u32, u32) {
        // SAFETY: Reading the current task's credentials is always allowed.
        unsafe {
            (
                bindings::rustre_current_fsuid(),
                bindings::rustre_current_fsgid(),
            )
        }
    }

    /// Whether the caller has `CAP_SYS_ADMIN` in the initial user namespace (what the xattr
    /// code asks of a `trusted.*` name), checked without an audit record. Like every
    /// successful capability check, it marks the task as having used a privilege
    /// (`PF_SUPERPRIV`); a task that set a `trusted.*` attribute was marked by that already.
    pub fn sys_admin() -> bool {
        // SAFETY: `init_user_ns` is a static object that lives as long as the kernel; the
        // check reads the current task's credentials and does not sleep.
        unsafe {
            bindings::ns_capable_noaudit(
                &raw mut bindings::init_user_ns,
                bindings::CAP_SYS_ADMIN as i32,
            )
        }
    }

    /// The caller's command name (`comm`), without NUL.
    pub fn comm(out: &mut [u8; 16]) -> usize {
        // SAFETY: `out` is a 16-byte buffer, the size of `comm`, which the helper fills with a
        // NUL-padded copy (`get_task_comm`).
        unsafe { bindings::rustre_current_comm(core::ptr::from_mut(out).cast()) };
        out.iter().position(|&c| c == 0).unwrap_or(out.len())
    }

    /// Wall-clock time: seconds and nanoseconds since the epoch.
    pub fn real_time() -> (u64, u32) {
        let mut ts = bindings::timespec64 {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-parameter.
        unsafe { bindings::ktime_get_real_ts64(&mut ts) };
        (ts.tv_sec.max(0) as u64, ts.tv_nsec.max(0) as u32)
    }

    /// The number of the system call the task is in (the architecture's `__NR_*`), or -1 from
    /// a kernel thread, outside a system call, or in a 32-bit (compat) one.
    pub fn syscall_nr() -> i64 {
        // SAFETY: Reading the current task's syscall number is always allowed.
        i64::from(unsafe { bindings::rustre_current_syscall_nr() })
    }

    /// The system call the task is in, with its six arguments as the architecture passed
    /// them; `None` where [`syscall_nr`] is -1.
    pub fn syscall() -> Option<(i64, [usize; 6])> {
        let nr = syscall_nr();
        if nr < 0 {
            return None;
        }
        let mut args = [0usize; 6];
        // SAFETY: The task is a user task in a native system call (checked above), so it has
        // a user register frame; `args` has room for the six arguments the helper writes.
        unsafe { bindings::rustre_current_syscall_args(args.as_mut_ptr()) };
        Some((nr, args))
    }

    /// Copies `buf.len()` bytes of the task's memory at `addr` without sleeping: `false` if
    /// any of it is not mapped, not resident or not user memory (nothing is faulted in, so it
    /// may be called with filesystem locks held).
    pub fn read_user_nofault(addr: usize, buf: &mut [u8]) -> bool {
        let src = crate::uaccess::UserPtr::from_addr(addr).as_const_ptr();
        // SAFETY: `buf` is valid for writes of its length; `copy_from_user_nofault` checks
        // that `src` is a user address and never takes a page fault.
        unsafe { bindings::copy_from_user_nofault(buf.as_mut_ptr().cast(), src, buf.len()) == 0 }
    }

    /// Copies the NUL-terminated string at `addr` of the task's memory into `buf` without
    /// sleeping; returns its length (without the NUL), or `None` if it is not all resident or
    /// is not shorter than `buf` (a string of `buf.len() - 1` bytes cannot be told from one
    /// that was cut, so it is refused too).
    pub fn read_user_str_nofault(addr: usize, buf: &mut [u8]) -> Option<usize> {
        let src = crate::uaccess::UserPtr::from_addr(addr).as_const_ptr();
        let len = isize::try_from(buf.len()).ok()?;
        // SAFETY: `buf` is valid for writes of `len` bytes; the function checks `src` and
        // never takes a page fault.
        let n = unsafe { bindings::strncpy_from_user_nofault(buf.as_mut_ptr().cast(), src, len) };
        // The length with its NUL, or `len` when the string was cut.
        let n = usize::try_from(n).ok()?;
        if n == 0 || n >= buf.len() {
            return None;
        }
        Some(n - 1)
    }
}

/// What a [`PreContentWatch`] calls, in the context of the task about to open a file or touch
/// its data. No filesystem lock is held, except on an open that truncates (`O_TRUNC`), which
/// holds the filesystem's freeze protection (`mnt_want_write()`): a wait there holds up a
/// freeze. The handler runs under the fsnotify SRCU read lock, which every removal of a mark
/// and every close of an inotify or fanotify file on the system waits for: a long wait must be
/// made through [`OpenPerm::wait_unlocked`] or [`PreAccess::wait_unlocked`].
pub trait PreContentHandler: Send + Sync + 'static {
    /// A regular file of the watched filesystem is being opened, not yet visible to anyone.
    /// `Err` fails the open with that error.
    fn open(&self, open: &OpenPerm<'_>) -> Result;
    /// Data of a regular file is about to be accessed: returns when the access may go on, or
    /// the error the operation fails with.
    fn access(&self, access: &PreAccess<'_>) -> Result;
}

/// Runs `f` with the fsnotify SRCU read lock dropped and the event's marks pinned instead, as
/// fanotify waits for its listener; `false` without running it if a mark of the event is
/// being removed (the watch is going). Not generic and not inlined: the two fsnotify
/// functions are not exported to modules, and this runs in the kernel image.
///
/// # Safety
///
/// `iter_info` must be the iterator fsnotify passed to the handler now running, in the task
/// running it, which holds the SRCU read lock.
#[inline(never)]
unsafe fn run_unlocked(iter_info: *mut bindings::fsnotify_iter_info, f: &mut dyn FnMut()) -> bool {
    // SAFETY: By the function's requirements; on success it drops the SRCU read lock and pins
    // the marks, to be undone by `fsnotify_finish_user_wait`.
    if !unsafe { bindings::fsnotify_prepare_user_wait(iter_info) } {
        return false;
    }
    f();
    // SAFETY: Pairs with the successful `fsnotify_prepare_user_wait` above: takes the SRCU read
    // lock again and unpins the marks.
    unsafe { bindings::fsnotify_finish_user_wait(iter_info) };
    true
}

/// [`run_unlocked`] for a closure with a result.
///
/// # Safety
///
/// As [`run_unlocked`].
unsafe fn wait_unlocked<R>(
    iter_info: *mut bindings::fsnotify_iter_info,
    f: impl FnOnce() -> R,
) -> Option<R> {
    let mut f = Some(f);
    let mut r = None;
    let mut call = || {
        if let Some(f) = f.take() {
            r = Some(f());
        }
    };
    // SAFETY: As required of the caller.
    if unsafe { run_unlocked(iter_info, &mut call) } {
        r
    } else {
        None
    }
}

/// A file being opened, valid for the duration of [`PreContentHandler::open`].
pub struct OpenPerm<'a> {
    file: *mut bindings::file,
    iter_info: *mut bindings::fsnotify_iter_info,
    /// Inside `wait_unlocked` already: the SRCU read lock is not ours to drop again.
    unlocked: core::cell::Cell<bool>,
    _p: PhantomData<&'a ()>,
}

impl OpenPerm<'_> {
    /// Runs `f`, a wait, outside the fsnotify SRCU read lock (see [`PreContentHandler`]);
    /// `None` without running it if the watch is being removed.
    pub fn wait_unlocked<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        if self.unlocked.replace(true) {
            return Some(f());
        }
        // SAFETY: `iter_info` is the one of the event being handled, in its task, which holds
        // the SRCU read lock: no `wait_unlocked` of this event is running (`unlocked`).
        let r = unsafe { wait_unlocked(self.iter_info, f) };
        self.unlocked.set(false);
        r
    }

    /// The file's inode.
    pub fn inode(&self) -> InodeInfo {
        // SAFETY: The file being opened holds its inode.
        unsafe { InodeInfo::read((*self.file).f_inode) }
    }

    /// The open's flags (`O_*`, as in `f_flags`: `O_TRUNC` is still there).
    pub fn flags(&self) -> u32 {
        // SAFETY: The file is valid for the event; its flags are not changed while it opens.
        unsafe { (*self.file).f_flags }
    }

    /// Whether the file is being opened for writing.
    pub fn writable(&self) -> bool {
        // SAFETY: As in `flags`.
        unsafe { (*self.file).f_mode & bindings::FMODE_WRITE != 0 }
    }

    /// A counted reference to the file's path.
    pub fn path(&self) -> crate::fsobj::FsPath {
        // SAFETY: The file's path is valid and counted by the file for the event.
        unsafe { crate::fsobj::FsPath::from_raw(&raw const (*self.file).__bindgen_anon_1.f_path) }
    }

    /// Exempts this open file, for its whole life, from the pre-content events of every
    /// watcher of its filesystem (the mode fanotify gives its own event files): its accesses
    /// then never wait. Done only if pre-content events are all the file would report: a
    /// watcher of every access (`FAN_ACCESS_PERM`) keeps them.
    pub fn exempt(&self) {
        let hsm = bindings::FMODE_NONOTIFY | bindings::FMODE_NONOTIFY_PERM;
        // SAFETY: The file is being opened and not installed anywhere yet: nobody else reads
        // or writes `f_mode`, and fsnotify decided the mode before this event.
        unsafe {
            let m = &mut (*self.file).f_mode;
            if *m & hsm == hsm {
                *m &= !bindings::FMODE_NONOTIFY;
            }
        }
    }
}

/// An access to a file's data, valid for the duration of [`PreContentHandler::access`].
pub struct PreAccess<'a> {
    path: *const bindings::path,
    /// Position and length, if the event has them.
    range: Option<(i64, usize)>,
    iter_info: *mut bindings::fsnotify_iter_info,
    /// Inside `wait_unlocked` already: the SRCU read lock is not ours to drop again.
    unlocked: core::cell::Cell<bool>,
    _p: PhantomData<&'a ()>,
}

impl PreAccess<'_> {
    /// A counted reference to the path of the file accessed.
    pub fn path(&self) -> crate::fsobj::FsPath {
        // SAFETY: The path lives for the event (a file's path, or the path a truncate was
        // given) and is positive: the file exists.
        unsafe { crate::fsobj::FsPath::from_raw(self.path) }
    }

    /// The inode of the file accessed, read without a permission or security check.
    pub fn inode(&self) -> InodeInfo {
        // SAFETY: The path's dentry is positive and held for the event.
        unsafe { InodeInfo::read(bindings::d_inode((*self.path).dentry)) }
    }

    /// The byte range to be accessed, page-aligned, if the event says: position and length (a
    /// truncate gives the new size, rounded down to a page, and a length of 0 or one page);
    /// `None` for a stream file, whose accesses have no position.
    pub fn range(&self) -> Option<(i64, usize)> {
        self.range
    }

    /// Runs `f`, a wait, outside the fsnotify SRCU read lock (see [`PreContentHandler`]);
    /// `None` without running it if the watch is being removed.
    pub fn wait_unlocked<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        if self.unlocked.replace(true) {
            return Some(f());
        }
        // SAFETY: `iter_info` is the one of the event being handled, in its task, which holds
        // the SRCU read lock: no `wait_unlocked` of this event is running (`unlocked`).
        let r = unsafe { wait_unlocked(self.iter_info, f) };
        self.unlocked.set(false);
        r
    }
}

/// The fsnotify callback of every [`PreContentWatch`] group.
///
/// # Safety
///
/// Called by fsnotify only, for a group made by [`PreContentWatch::new`] with handler type `H`.
unsafe extern "C" fn handle_pre_event<H: PreContentHandler>(
    group: *mut bindings::fsnotify_group,
    mask: u32,
    data: *const c_void,
    data_type: c_int,
    _dir: *mut bindings::inode,
    _file_name: *const bindings::qstr,
    _cookie: u32,
    iter_info: *mut bindings::fsnotify_iter_info,
) -> c_int {
    // SAFETY: `private` holds an `Arc<H>` from `PreContentWatch::new`, released only in
    // `free_pre_group_priv`, after the last event.
    let handler = unsafe { <Arc<H> as ForeignOwnable>::borrow((*group).__bindgen_anon_1.private) };
    let res = if mask & bindings::FS_OPEN_PERM != 0
        && data_type == bindings::fsnotify_data_type_FSNOTIFY_EVENT_PATH as c_int
    {
        // SAFETY: `FS_OPEN_PERM` is sent by `fsnotify_open_perm_and_set_mode()` with
        // `&file->f_path` of the file being opened.
        let file = unsafe {
            crate::container_of!(
                data.cast::<bindings::path>().cast_mut(),
                bindings::file,
                __bindgen_anon_1.f_path
            )
        };
        // SAFETY: The file is live for the event; only regular files are passed on.
        let reg =
            unsafe { u32::from((*(*file).f_inode).i_mode) & bindings::S_IFMT == bindings::S_IFREG };
        if reg {
            handler.open(&OpenPerm {
                file,
                iter_info,
                unlocked: core::cell::Cell::new(false),
                _p: PhantomData,
            })
        } else {
            Ok(())
        }
    } else if mask & bindings::FS_PRE_ACCESS != 0
        && data_type == bindings::fsnotify_data_type_FSNOTIFY_EVENT_FILE_RANGE as c_int
    {
        let range = data.cast::<bindings::file_range>();
        // SAFETY: For `FSNOTIFY_EVENT_FILE_RANGE`, `data` is a `struct file_range` that lives
        // for the event.
        let (path, pos, count) = unsafe { ((*range).path, (*range).pos, (*range).count) };
        handler.access(&PreAccess {
            path,
            range: Some((pos, count)),
            iter_info,
            unlocked: core::cell::Cell::new(false),
            _p: PhantomData,
        })
    } else if mask & bindings::FS_PRE_ACCESS != 0
        && data_type == bindings::fsnotify_data_type_FSNOTIFY_EVENT_PATH as c_int
    {
        // An access without a position (a stream file): the whole file.
        handler.access(&PreAccess {
            path: data.cast(),
            range: None,
            iter_info,
            unlocked: core::cell::Cell::new(false),
            _p: PhantomData,
        })
    } else {
        Ok(())
    };
    match res {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Releases the handler when the group is freed.
///
/// # Safety
///
/// Called by fsnotify only, once, for a group made by [`PreContentWatch::new`].
unsafe extern "C" fn free_pre_group_priv<H: PreContentHandler>(
    group: *mut bindings::fsnotify_group,
) {
    // SAFETY: `private` holds an `Arc<H>` from `PreContentWatch::new`; this is its release.
    drop(unsafe { <Arc<H> as ForeignOwnable>::from_foreign((*group).__bindgen_anon_1.private) });
}

struct PreOps<H>(PhantomData<H>);

impl<H: PreContentHandler> PreOps<H> {
    const OPS: bindings::fsnotify_ops = bindings::fsnotify_ops {
        handle_event: Some(handle_pre_event::<H>),
        handle_inode_event: None,
        free_group_priv: Some(free_pre_group_priv::<H>),
        freeing_mark: None,
        free_event: None,
        free_mark: Some(free_mark),
    };
}

/// A pre-content mark on the superblock of a mounted filesystem (`FS_OPEN_PERM` and
/// `FS_PRE_ACCESS` at fanotify's pre-content priority), delivering its events to a handler.
///
/// Whether a file reports pre-content events is decided when it is opened: files opened
/// before the watch existed never reach the handler. Only filesystems that allow it
/// (`SB_I_ALLOW_HSM`: ext4, XFS, btrfs) report truncates; [`PreContentWatch::new`] refuses the
/// others with `EOPNOTSUPP`, as fanotify does.
///
/// # Invariants
///
/// As [`SbWatch`], with a group of priority `FSNOTIFY_PRIO_PRE_CONTENT` and `PreOps::<H>::OPS`.
pub struct PreContentWatch<H: PreContentHandler> {
    group: NonNull<bindings::fsnotify_group>,
    mark: NonNull<bindings::fsnotify_mark>,
    path: bindings::path,
    _h: PhantomData<Arc<H>>,
}

// SAFETY: The raw pointers are fsnotify objects that may be used and released from any task.
unsafe impl<H: PreContentHandler> Send for PreContentWatch<H> {}
// SAFETY: No method of `&PreContentWatch` mutates anything.
unsafe impl<H: PreContentHandler> Sync for PreContentWatch<H> {}

impl<H: PreContentHandler> PreContentWatch<H> {
    /// Watches the opens and data accesses of regular files of the filesystem mounted at
    /// `mount_point`. `ENOENT`/`ENOTDIR` as [`SbWatch::new`]; `EOPNOTSUPP` if the filesystem
    /// does not allow pre-content events.
    pub fn new(mount_point: &CStr, handler: Arc<H>) -> Result<Self> {
        // Without it, opens never decide on pre-content events (the hook is a stub).
        if !cfg!(CONFIG_FANOTIFY_ACCESS_PERMISSIONS) {
            return Err(EOPNOTSUPP);
        }
        let path = mount_root(mount_point)?;
        // SAFETY: `path` is counted; a mounted superblock's flags are set at mount time.
        let hsm =
            unsafe { (*(*path.dentry).d_sb).s_iflags & bindings::SB_I_ALLOW_HSM as usize != 0 };
        if !hsm {
            // SAFETY: We own the path reference.
            unsafe { bindings::path_put(&path) };
            return Err(EOPNOTSUPP);
        }
        match attach_sb_mark(
            &path,
            &PreOps::<H>::OPS,
            bindings::fsnotify_group_prio_FSNOTIFY_PRIO_PRE_CONTENT,
            mask::OPEN_PERM | mask::PRE_ACCESS,
            handler,
        ) {
            Ok((group, mark)) => Ok(PreContentWatch {
                group,
                mark,
                path,
                _h: PhantomData,
            }),
            Err(e) => {
                // SAFETY: We own the path reference.
                unsafe { bindings::path_put(&path) };
                Err(e)
            }
        }
    }
}

impl<H: PreContentHandler> PreContentWatch<H> {
    /// The superblock watched, as an opaque identity for comparisons.
    pub fn sb_id(&self) -> usize {
        // SAFETY: `path` is counted by the invariants.
        unsafe { (*self.path.dentry).d_sb as usize }
    }
}

impl<H: PreContentHandler> Drop for PreContentWatch<H> {
    fn drop(&mut self) {
        // SAFETY: By the invariants we own the initial mark reference, a group reference and a
        // path reference. `fsnotify_destroy_group` stops the events, detaches the mark, waits
        // for the handlers waiting outside the SRCU read lock (`wait_unlocked`: their pinned
        // marks count in `user_waits`) and drops our group reference. Our put of the mark is
        // then normally its last; the reaper, flushed by `fsnotify_wait_marks_destroyed` after
        // an SRCU grace period, frees it and with it the last group reference, which releases
        // the handler (`free_pre_group_priv`) before we return. A mark reference another
        // group's wait took meanwhile delays that past this drop (a known gap, as in
        // `SbWatch`). The owner makes its waiting handlers return first, or this waits for
        // them.
        unsafe { destroy_pre_watch(self.group.as_ptr(), self.mark.as_ptr(), &self.path) };
    }
}

/// Takes a [`PreContentWatch`] down (see its `drop`). Not generic and not inlined:
/// `fsnotify_destroy_group` is not exported to modules, and this runs in the kernel image.
///
/// # Safety
///
/// The caller owns the initial reference of `mark`, attached to `group`, a reference to
/// `group` and one to `path`, and gives them all up.
#[inline(never)]
unsafe fn destroy_pre_watch(
    group: *mut bindings::fsnotify_group,
    mark: *mut bindings::fsnotify_mark,
    path: *const bindings::path,
) {
    // SAFETY: As required of the caller; the order is explained in `PreContentWatch::drop`.
    unsafe {
        bindings::fsnotify_destroy_group(group);
        bindings::fsnotify_put_mark(mark);
        bindings::fsnotify_wait_marks_destroyed();
        bindings::path_put(path);
    }
}
