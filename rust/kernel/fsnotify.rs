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
    types::{ForeignOwnable, Opaque},
};
use core::{marker::PhantomData, pin::Pin, ptr::NonNull};

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
        let inode = unsafe { bindings::rustre_fsnotify_data_inode(self.data, self.data_type) };
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
        let dentry = unsafe { bindings::rustre_fsnotify_data_dentry(self.data, self.data_type) };
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
            let inode = bindings::rustre_d_inode(parent);
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
                new_dir: InodeInfo::read(bindings::rustre_d_inode(parent)),
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

/// What fsnotify reaches through the `private` of every group a watch makes: the handler,
/// type-erased, the module code that uses it, and the completion its owner waits for.
///
/// The group's operations ([`SB_OPS`], [`PRE_OPS`]) and everything they run after the owner
/// let go of the group are in the kernel image, not in the module that made the watch: a
/// mark reference another group's wait holds (`fsnotify_get_mark_safe`) can keep the group
/// alive past the owner's drop, and the module may be unloaded by the time it is freed. The
/// owner waits for `gone`, completed after the handler is released: from then on fsnotify
/// reads nothing of the module.
struct GroupData {
    /// `Arc<H>::into_foreign()`.
    handler: *mut c_void,
    /// `&'static SbVt` or `&'static PreVt` (in the module), as the group's operations say.
    vt: *const c_void,
    /// Releases `handler` (module code, run while the owner still waits for `gone`).
    release: unsafe fn(*mut c_void),
    /// The owner's; completed once `handler` is released.
    gone: NonNull<Gone>,
}

/// Completed when a watch's group has released its handler (see [`GroupData`]).
///
/// # Invariants
///
/// The completion is initialised, and pinned.
#[pin_data]
struct Gone {
    #[pin]
    c: Opaque<bindings::completion>,
}

impl Gone {
    fn new() -> Result<Pin<KBox<Self>>> {
        // INVARIANT: `init_completion` initialises it in its final, pinned place.
        KBox::pin_init(
            pin_init!(Gone {
                // SAFETY: `slot` is valid, uninitialised memory for a completion.
                c <- Opaque::ffi_init(|slot| unsafe { bindings::init_completion(slot) }),
            }),
            GFP_KERNEL,
        )
    }

    fn complete(&self) {
        // SAFETY: The completion is initialised by the invariants.
        unsafe { bindings::complete_all(self.c.get()) };
    }

    /// Waits until [`Gone::complete`] was called, saying every 10 s in the kernel log what is
    /// waited for: a teardown that never ends is a watch whose mark another group's wait
    /// holds (a fanotify listener that does not answer its permission events).
    fn wait(&self) {
        let mut waited: u32 = 0;
        // SAFETY: The completion is initialised by the invariants.
        while unsafe {
            bindings::wait_for_completion_timeout(
                self.c.get(),
                crate::time::msecs_to_jiffies(10_000),
            )
        } == 0
        {
            waited = waited.saturating_add(10);
            crate::pr_warn!(
                "fsnotify: a watch being removed has waited {} s for its mark, which another group's wait holds (a fanotify listener that does not answer?)\n",
                waited
            );
        }
    }
}

// SAFETY: A completion may be completed and waited for from any task.
unsafe impl Send for Gone {}
// SAFETY: As above; `complete_all` and waits synchronise through its own lock.
unsafe impl Sync for Gone {}

/// Releases the handler of a watch.
///
/// # Safety
///
/// `h` comes from `Arc<H>::into_foreign()` and is not used again.
unsafe fn release_handler<H: Send + Sync + 'static>(h: *mut c_void) {
    // SAFETY: By the function's requirements.
    drop(unsafe { <Arc<H> as ForeignOwnable>::from_foreign(h) });
}

/// Releases a group's [`GroupData`] when the group is freed, after its last mark.
///
/// # Safety
///
/// Called by fsnotify only, once, for a group made by [`attach_sb_mark`].
unsafe extern "C" fn free_group_priv(group: *mut bindings::fsnotify_group) {
    // SAFETY: The group is being freed; `private` is null or the `GroupData` that
    // `attach_sb_mark` put there, and this is its only release.
    let data = unsafe { (*group).__bindgen_anon_1.private }.cast::<GroupData>();
    if data.is_null() {
        return;
    }
    // SAFETY: As above.
    let data = unsafe { KBox::from_raw(data) };
    // SAFETY: `handler` is the one `release` was made for, and no event runs any more.
    unsafe { (data.release)(data.handler) };
    let gone = data.gone;
    drop(data);
    // SAFETY: The owner keeps the completion until it was completed (it waits for it).
    unsafe { gone.as_ref() }.complete();
}

/// The module side of an [`SbWatch`].
struct SbVt {
    /// Calls the handler (`Arc<H>` as foreign) for one event.
    event: unsafe fn(*mut c_void, &Event<'_>),
}

/// Calls an [`SbHandler`].
///
/// # Safety
///
/// `h` is a live `Arc<H>` from `into_foreign()`.
unsafe fn sb_event<H: SbHandler>(h: *mut c_void, ev: &Event<'_>) {
    // SAFETY: By the function's requirements.
    let handler = unsafe { <Arc<H> as ForeignOwnable>::borrow(h) };
    handler.event(ev);
}

struct SbVtOf<H>(PhantomData<H>);

impl<H: SbHandler> SbVtOf<H> {
    const VT: SbVt = SbVt {
        event: sb_event::<H>,
    };
}

/// The fsnotify callback of every [`SbWatch`] group.
///
/// # Safety
///
/// Called by fsnotify only, for a group made by [`SbWatch::new`].
unsafe extern "C" fn handle_event(
    group: *mut bindings::fsnotify_group,
    mask: u32,
    data: *const c_void,
    data_type: c_int,
    dir: *mut bindings::inode,
    file_name: *const bindings::qstr,
    _cookie: u32,
    _iter_info: *mut bindings::fsnotify_iter_info,
) -> c_int {
    // SAFETY: `private` holds the `GroupData` of an `SbWatch`, released only in
    // `free_group_priv`, after the last event; its `vt` is an `SbVt` and its module is loaded
    // while events reach the group.
    let (h, vt) = unsafe {
        let g = &*(*group).__bindgen_anon_1.private.cast::<GroupData>();
        (g.handler, &*g.vt.cast::<SbVt>())
    };
    let ev = Event {
        mask,
        data,
        data_type,
        dir,
        name: file_name,
        _p: PhantomData,
    };
    // SAFETY: `h` is the live handler `vt` was made for.
    unsafe { (vt.event)(h, &ev) };
    0
}

/// Frees our mark after its last reference is gone.
///
/// # Safety
///
/// Called by fsnotify only, once, for a mark allocated by [`attach_sb_mark`].
unsafe extern "C" fn free_mark(mark: *mut bindings::fsnotify_mark) {
    // SAFETY: The mark was allocated as a `KBox<fsnotify_mark>` in `attach_sb_mark`.
    drop(unsafe { KBox::from_raw(mark.cast::<MarkBox>()) });
}

#[repr(transparent)]
struct MarkBox(bindings::fsnotify_mark);

/// The operations of every [`SbWatch`] group, in the kernel image (see [`GroupData`]).
static SB_OPS: bindings::fsnotify_ops = bindings::fsnotify_ops {
    handle_event: Some(handle_event),
    handle_inode_event: None,
    free_group_priv: Some(free_group_priv),
    freeing_mark: None,
    free_event: None,
    free_mark: Some(free_mark),
};

/// A mark on the superblock of a mounted filesystem, delivering its events to a handler.
///
/// Dropping the watch returns once its handler is released, which can take as long as
/// another group's wait that pinned the mark (a fanotify listener's answer to a permission
/// event). So a watch must not be dropped from its own handler, nor from the release of a
/// handler (run by fsnotify's mark reaper, which the drop may wait for).
///
/// # Invariants
///
/// - `group` is a group from `fsnotify_alloc_group()` with [`SB_OPS`], whose `private` is a
///   [`GroupData`] with an `Arc<H>`, an `SbVt` for `H` and `gone`; this object owns one
///   reference to the group.
/// - `mark` is attached to the superblock of `path`'s mount, and this object owns its initial
///   reference.
/// - `path` is a counted reference to the watched mount's root.
pub struct SbWatch<H: SbHandler> {
    group: NonNull<bindings::fsnotify_group>,
    mark: NonNull<bindings::fsnotify_mark>,
    path: bindings::path,
    gone: Pin<KBox<Gone>>,
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

/// A counted copy of `p`'s path, which must be the root of a mount (`ENOTDIR`).
fn counted_root(p: &crate::fsobj::FsPath) -> Result<bindings::path> {
    if !p.is_mount_root() {
        return Err(ENOTDIR);
    }
    let raw = p.as_raw();
    // SAFETY: `p` holds a valid path; `path_get` takes references of our own to both halves.
    unsafe { bindings::path_get(raw) };
    // SAFETY: As above; the copy holds the references just taken.
    Ok(unsafe { core::ptr::read(raw) })
}

/// The parts of a watch made by [`attach_sb_mark`].
struct Attached {
    group: NonNull<bindings::fsnotify_group>,
    mark: NonNull<bindings::fsnotify_mark>,
    gone: Pin<KBox<Gone>>,
}

/// Makes the group and the superblock mark of a watch: a kernel-internal group with `ops`, at
/// `priority`, whose `private` holds the handler `h` (`Arc<H>` as foreign) with `vt` and
/// `release`, and one mark with `events` on the superblock of `path`. Returns the group
/// reference, the mark's initial reference and the completion `free_group_priv` completes,
/// all the caller's; on failure nothing is left (the handler is released with its group).
/// Not generic and not inlined: it runs in the kernel image.
///
/// # Safety
///
/// `ops` is [`SB_OPS`] with an `SbVt` or [`PRE_OPS`] with a `PreVt` as `vt`, made for the
/// handler `h` (from `Arc<H>::into_foreign()`, given up here), and `release` is
/// `release_handler::<H>`.
#[inline(never)]
unsafe fn attach_sb_mark(
    path: &bindings::path,
    ops: &'static bindings::fsnotify_ops,
    priority: bindings::fsnotify_group_prio,
    events: u32,
    h: *mut c_void,
    vt: *const c_void,
    release: unsafe fn(*mut c_void),
) -> Result<Attached> {
    let gone = match Gone::new() {
        Ok(g) => g,
        Err(e) => {
            // SAFETY: The handler is ours to release, by the function's requirements.
            unsafe { release(h) };
            return Err(e);
        }
    };
    let data = match KBox::new(
        GroupData {
            handler: h,
            vt,
            release,
            gone: NonNull::from(&*gone),
        },
        GFP_KERNEL,
    ) {
        Ok(d) => d,
        Err(e) => {
            // SAFETY: As above.
            unsafe { release(h) };
            return Err(e.into());
        }
    };
    // SAFETY: `ops` is static; flags 0 is a kernel-internal group.
    let group = match crate::error::from_err_ptr(unsafe { bindings::fsnotify_alloc_group(ops, 0) })
        .and_then(|g| NonNull::new(g).ok_or(ENOMEM))
    {
        Ok(g) => g,
        Err(e) => {
            // SAFETY: As above.
            unsafe { release(h) };
            return Err(e);
        }
    };
    // SAFETY: `group` is fresh: no mark yet, so no event reaches it, and its priority may be
    // set (marks are ordered and counted by it when they are added). From here on, dropping
    // the group releases the handler and completes `gone`.
    unsafe {
        (*group.as_ptr()).__bindgen_anon_1.private = KBox::into_raw(data).cast();
        (*group.as_ptr()).priority = priority;
    }
    let mark = match KBox::new(MarkBox(bindings::fsnotify_mark::default()), GFP_KERNEL) {
        Ok(m) => KBox::into_raw(m).cast::<bindings::fsnotify_mark>(),
        Err(e) => {
            // SAFETY: We own the only group reference: this frees it, synchronously.
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
        // (and its group reference); then ours of the group goes. The mark was never
        // attached, so nobody else took a reference: the group is freed before we return.
        unsafe {
            bindings::fsnotify_put_mark(mark);
            bindings::fsnotify_wait_marks_destroyed();
            bindings::fsnotify_put_group(group.as_ptr());
        }
        return Err(Error::from_errno(ret));
    }
    Ok(Attached {
        group,
        // SAFETY: `mark` came from `KBox::into_raw`, so it is not null.
        mark: unsafe { NonNull::new_unchecked(mark) },
        gone,
    })
}

impl<H: SbHandler> SbWatch<H> {
    /// Watches the filesystem mounted at `mount_point` for the events in `events` (bits of
    /// [`mask`]). Fails with `ENOENT` if the path does not exist and `ENOTDIR` if it is not
    /// the root of a mount.
    pub fn new(mount_point: &CStr, events: u32, handler: Arc<H>) -> Result<Self> {
        Self::with_path(mount_root(mount_point)?, events, handler)
    }

    /// Watches the filesystem mounted at `root`, as [`SbWatch::new`] does (`ENOTDIR` if `root`
    /// is not the root of a mount).
    pub fn on(root: &crate::fsobj::FsPath, events: u32, handler: Arc<H>) -> Result<Self> {
        Self::with_path(counted_root(root)?, events, handler)
    }

    /// [`SbWatch::new`] with a counted path, given up here.
    fn with_path(path: bindings::path, events: u32, handler: Arc<H>) -> Result<Self> {
        let vt: &'static SbVt = &SbVtOf::<H>::VT;
        // SAFETY: `SB_OPS` with an `SbVt` for `H`, the handler and its release.
        let res = unsafe {
            attach_sb_mark(
                &path,
                &SB_OPS,
                bindings::fsnotify_group_prio_FSNOTIFY_PRIO_NORMAL,
                events | mask::ISDIR,
                handler.into_foreign(),
                core::ptr::from_ref(vt).cast(),
                release_handler::<H>,
            )
        };
        match res {
            // INVARIANT: As `attach_sb_mark` made them.
            Ok(a) => Ok(SbWatch {
                group: a.group,
                mark: a.mark,
                path,
                gone: a.gone,
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
        // path reference. `fsnotify_destroy_mark` detaches the mark from the superblock's
        // list, but a mark that another group's wait pinned stays on it (and its events keep
        // coming) until that wait ends; after our put, `fsnotify_wait_marks_destroyed` waits
        // for the SRCU grace period that ends every running handler and for the mark to be
        // freed, which drops the mark's group reference, unless it is pinned. Our group
        // reference goes last; the handler lives until `gone`.
        unsafe {
            bindings::fsnotify_destroy_mark(self.mark.as_ptr(), self.group.as_ptr());
            bindings::fsnotify_put_mark(self.mark.as_ptr());
            bindings::fsnotify_wait_marks_destroyed();
            bindings::fsnotify_put_group(self.group.as_ptr());
            bindings::path_put(&self.path);
        }
        // The group is freed, and the handler released, when its last mark reference goes:
        // at once, or when a wait that pinned the mark ends (see `Gone::wait`). Nothing of
        // ours is used after.
        self.gone.wait();
    }
}

/// Helpers for handlers: facts about the task doing the operation.
pub mod current {
    use crate::bindings;

    /// The caller's fsuid and fsgid, in the initial user namespace.
    pub fn fsuid_fsgid() -> (u32, u32) {
        // SAFETY: A task's own credentials stay valid while it runs (only the task replaces
        // them, and not while it is in here); `init_user_ns` is a static object that lives as
        // long as the kernel.
        unsafe {
            let cred = bindings::rustre_current_cred();
            let ns = &raw mut bindings::init_user_ns;
            (
                bindings::rustre_from_kuid_munged(ns, (*cred).fsuid),
                bindings::rustre_from_kgid_munged(ns, (*cred).fsgid),
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

    /// The task's thread-group id (its process id) in the initial pid namespace: the same
    /// number whichever namespace asks, unique among live processes.
    pub fn tgid() -> i32 {
        // SAFETY: `init_pid_ns` is a static object that lives as long as the kernel, and
        // `PidNamespace` is a transparent wrapper of it.
        let ns = unsafe {
            crate::pid_namespace::PidNamespace::from_ptr(&raw const bindings::init_pid_ns)
        };
        crate::current!().tgid_nr_ns(Some(ns))
    }

    /// The system call the task is in, by the architecture's `__NR_*` number, with its six
    /// arguments as the architecture passed them. `None` from a kernel thread or a user worker
    /// (io_uring, vhost: they have no system call of their own, and their register frame is a
    /// copy of their creator's), outside a system call, and in a 32-bit
    /// (compat) system call of a 64-bit kernel, whose numbers and argument layouts are those
    /// of another architecture.
    pub fn syscall() -> Option<(i64, [usize; 6])> {
        let task = crate::task::Task::current_raw();
        // SAFETY: `task` is the running task; its flags change only on this task (or while it
        // is not running).
        let flags = unsafe { (*task).flags };
        if flags & (bindings::PF_KTHREAD | bindings::PF_USER_WORKER) != 0 {
            return None;
        }
        // SAFETY: Always allowed in task context.
        if unsafe { bindings::rustre_in_compat_syscall() } {
            return None;
        }
        // SAFETY: A user task has its register frame at the top of its kernel stack.
        let regs = unsafe { bindings::rustre_task_pt_regs(task) };
        // SAFETY: `regs` is the running task's own frame (above).
        let nr = i64::from(unsafe { bindings::rustre_syscall_get_nr(task, regs) });
        if nr < 0 {
            return None;
        }
        let mut args = [0usize; 6];
        // SAFETY: As above; `args` has room for the six arguments the helper writes.
        unsafe { bindings::rustre_syscall_get_arguments(task, regs, args.as_mut_ptr()) };
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
        unsafe { InodeInfo::read(bindings::rustre_d_inode((*self.path).dentry)) }
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

/// The module side of a [`PreContentWatch`].
struct PreVt {
    /// Calls the handler's `open` (`Arc<H>` as foreign).
    open: unsafe fn(*mut c_void, &OpenPerm<'_>) -> Result,
    /// Calls the handler's `access`.
    access: unsafe fn(*mut c_void, &PreAccess<'_>) -> Result,
}

/// Calls [`PreContentHandler::open`].
///
/// # Safety
///
/// `h` is a live `Arc<H>` from `into_foreign()`.
unsafe fn pre_open<H: PreContentHandler>(h: *mut c_void, o: &OpenPerm<'_>) -> Result {
    // SAFETY: By the function's requirements.
    unsafe { <Arc<H> as ForeignOwnable>::borrow(h) }.open(o)
}

/// Calls [`PreContentHandler::access`].
///
/// # Safety
///
/// `h` is a live `Arc<H>` from `into_foreign()`.
unsafe fn pre_access<H: PreContentHandler>(h: *mut c_void, a: &PreAccess<'_>) -> Result {
    // SAFETY: By the function's requirements.
    unsafe { <Arc<H> as ForeignOwnable>::borrow(h) }.access(a)
}

struct PreVtOf<H>(PhantomData<H>);

impl<H: PreContentHandler> PreVtOf<H> {
    const VT: PreVt = PreVt {
        open: pre_open::<H>,
        access: pre_access::<H>,
    };
}

/// The fsnotify callback of every [`PreContentWatch`] group.
///
/// # Safety
///
/// Called by fsnotify only, for a group made by [`PreContentWatch::new`].
unsafe extern "C" fn handle_pre_event(
    group: *mut bindings::fsnotify_group,
    mask: u32,
    data: *const c_void,
    data_type: c_int,
    _dir: *mut bindings::inode,
    _file_name: *const bindings::qstr,
    _cookie: u32,
    iter_info: *mut bindings::fsnotify_iter_info,
) -> c_int {
    // SAFETY: `private` holds the `GroupData` of a `PreContentWatch`, released only in
    // `free_group_priv`, after the last event; its `vt` is a `PreVt` and its module is loaded
    // while events reach the group.
    let (h, vt) = unsafe {
        let g = &*(*group).__bindgen_anon_1.private.cast::<GroupData>();
        (g.handler, &*g.vt.cast::<PreVt>())
    };
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
            let o = OpenPerm {
                file,
                iter_info,
                unlocked: core::cell::Cell::new(false),
                _p: PhantomData,
            };
            // SAFETY: `h` is the live handler `vt` was made for.
            unsafe { (vt.open)(h, &o) }
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
        let a = PreAccess {
            path,
            range: Some((pos, count)),
            iter_info,
            unlocked: core::cell::Cell::new(false),
            _p: PhantomData,
        };
        // SAFETY: As above.
        unsafe { (vt.access)(h, &a) }
    } else if mask & bindings::FS_PRE_ACCESS != 0
        && data_type == bindings::fsnotify_data_type_FSNOTIFY_EVENT_PATH as c_int
    {
        // An access without a position (a stream file): the whole file.
        let a = PreAccess {
            path: data.cast(),
            range: None,
            iter_info,
            unlocked: core::cell::Cell::new(false),
            _p: PhantomData,
        };
        // SAFETY: As above.
        unsafe { (vt.access)(h, &a) }
    } else {
        Ok(())
    };
    match res {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The operations of every [`PreContentWatch`] group, in the kernel image (see [`GroupData`]).
static PRE_OPS: bindings::fsnotify_ops = bindings::fsnotify_ops {
    handle_event: Some(handle_pre_event),
    handle_inode_event: None,
    free_group_priv: Some(free_group_priv),
    freeing_mark: None,
    free_event: None,
    free_mark: Some(free_mark),
};

/// A pre-content mark on the superblock of a mounted filesystem (`FS_OPEN_PERM` and
/// `FS_PRE_ACCESS` at fanotify's pre-content priority), delivering its events to a handler.
///
/// Whether a file reports pre-content events is decided when it is opened: the reads and
/// writes of files opened before the watch existed never reach the handler (a truncate, which
/// is reported by path, does); [`PreContentWatch::open_files`] finds them. Dropping the watch
/// waits as [`SbWatch`]'s drop does, with the same constraints. Only filesystems that allow
/// it (`SB_I_ALLOW_HSM`: ext4, XFS, btrfs) report pre-content events; [`PreContentWatch::new`]
/// refuses the others with `EOPNOTSUPP`, as fanotify does.
///
/// # Invariants
///
/// As [`SbWatch`], with a group of priority `FSNOTIFY_PRIO_PRE_CONTENT`, [`PRE_OPS`] and a
/// `PreVt` for `H`.
pub struct PreContentWatch<H: PreContentHandler> {
    group: NonNull<bindings::fsnotify_group>,
    mark: NonNull<bindings::fsnotify_mark>,
    path: bindings::path,
    gone: Pin<KBox<Gone>>,
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
        Self::with_path(mount_root(mount_point)?, handler)
    }

    /// Watches the filesystem mounted at `root`, as [`PreContentWatch::new`] does (`ENOTDIR`
    /// if `root` is not the root of a mount).
    pub fn on(root: &crate::fsobj::FsPath, handler: Arc<H>) -> Result<Self> {
        Self::with_path(counted_root(root)?, handler)
    }

    /// [`PreContentWatch::new`] with a counted path, given up here.
    fn with_path(path: bindings::path, handler: Arc<H>) -> Result<Self> {
        // Without it, opens never decide on pre-content events (the hook is a stub).
        if !cfg!(CONFIG_FANOTIFY_ACCESS_PERMISSIONS) {
            // SAFETY: We own the path reference.
            unsafe { bindings::path_put(&path) };
            return Err(EOPNOTSUPP);
        }
        // SAFETY: `path` is counted; a mounted superblock's flags are set at mount time.
        let hsm =
            unsafe { (*(*path.dentry).d_sb).s_iflags & bindings::SB_I_ALLOW_HSM as usize != 0 };
        if !hsm {
            // SAFETY: We own the path reference.
            unsafe { bindings::path_put(&path) };
            return Err(EOPNOTSUPP);
        }
        let vt: &'static PreVt = &PreVtOf::<H>::VT;
        // SAFETY: `PRE_OPS` with a `PreVt` for `H`, the handler and its release.
        let res = unsafe {
            attach_sb_mark(
                &path,
                &PRE_OPS,
                bindings::fsnotify_group_prio_FSNOTIFY_PRIO_PRE_CONTENT,
                mask::OPEN_PERM | mask::PRE_ACCESS,
                handler.into_foreign(),
                core::ptr::from_ref(vt).cast(),
                release_handler::<H>,
            )
        };
        match res {
            // INVARIANT: As `attach_sb_mark` made them.
            Ok(a) => Ok(PreContentWatch {
                group: a.group,
                mark: a.mark,
                path,
                gone: a.gone,
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

    /// Calls `f` with a path to every regular file of the watched filesystem that is open now
    /// (for reading or writing, by anyone, mapped or executing included) and returns its
    /// first error. Files opened before the watch existed are among them: their reads and
    /// writes never reach the handler, so an owner that must not let them through checks them
    /// here, once, after making the watch. A file opened from then on reports its events, or
    /// is seen here: the open counts itself as a reader or writer of the inode before it looks
    /// for pre-content watchers, and this looks at the counts after the mark is attached and an
    /// RCU grace period, which orders the open's two steps (which have no barrier of their
    /// own) against the walk on every architecture. It sleeps. A file that is not linked any more is
    /// given by one of its former names; so is a file of a mount of a subdirectory that is
    /// linked only outside it (the path is then good for its attributes, not for names).
    /// `EOPNOTSUPP` in a kernel that does not count readers (neither `CONFIG_FILE_LOCKING` nor
    /// `CONFIG_IMA`).
    pub fn open_files(&self, mut f: impl FnMut(&crate::fsobj::FsPath) -> Result) -> Result {
        if !cfg!(any(CONFIG_FILE_LOCKING, CONFIG_IMA)) {
            return Err(EOPNOTSUPP);
        }
        // An RCU grace period: every CPU executes a full barrier before it ends, so an open
        // that looked for watchers before the mark was counted had counted itself before that
        // barrier, and the walk below sees it (the guarantee `membarrier()` is built on).
        // SAFETY: Called where the caller may sleep (see above), holding no RCU read lock.
        unsafe { bindings::synchronize_rcu() };
        // SAFETY: `path` is counted by the invariants, so its superblock is alive and mounted.
        unsafe { for_each_open_file((*self.path.dentry).d_sb, self.path.mnt, &mut f) }
    }
}

/// Whether a regular file is open on `inode` for reading or writing.
///
/// # Safety
///
/// `inode` is valid.
#[cfg(any(CONFIG_FILE_LOCKING, CONFIG_IMA))]
unsafe fn open_regular(inode: *mut bindings::inode) -> bool {
    // SAFETY: The inode is valid; its mode's type never changes, and the counts are atomics.
    unsafe {
        u32::from((*inode).i_mode) & bindings::S_IFMT == bindings::S_IFREG
            && (bindings::atomic_read(&raw const (*inode).i_readcount) > 0
                || bindings::atomic_read(&raw const (*inode).i_writecount) > 0)
    }
}

/// Without a count of readers, nothing is known open (see [`PreContentWatch::open_files`]).
///
/// # Safety
///
/// `inode` is valid.
#[cfg(not(any(CONFIG_FILE_LOCKING, CONFIG_IMA)))]
unsafe fn open_regular(_inode: *mut bindings::inode) -> bool {
    false
}

/// Calls `f` for every regular inode of `sb` open for reading or writing (see
/// [`PreContentWatch::open_files`]), with a path on `mnt`, until it fails. The walk of the
/// superblock's inode list is the one `drop_caches` makes: it holds the list lock only
/// between two inodes, each held by a reference while the lock is dropped (so that it stays
/// on the list, and its `next` is valid when the lock is taken again). The previous inode's
/// reference is dropped (`iput`, which may sleep) outside the locks, and `f` is called
/// outside them. Not generic and not inlined: it runs in the kernel image.
///
/// # Safety
///
/// `sb` is the superblock of `mnt`, and the caller holds a reference to the mount.
#[inline(never)]
unsafe fn for_each_open_file(
    sb: *mut bindings::super_block,
    mnt: *mut bindings::vfsmount,
    f: &mut dyn FnMut(&crate::fsobj::FsPath) -> Result,
) -> Result {
    let skip = bindings::inode_state_flags_enum_I_FREEING
        | bindings::inode_state_flags_enum_I_WILL_FREE
        | bindings::inode_state_flags_enum_I_NEW;
    // SAFETY: The superblock is alive while the mount is counted (the caller's).
    let (list_lock, head) = unsafe { (&raw mut (*sb).s_inode_list_lock, &raw mut (*sb).s_inodes) };
    let mut held: *mut bindings::inode = core::ptr::null_mut();
    let mut res = Ok(());
    // SAFETY: `list_lock` is the superblock's inode list lock.
    unsafe { bindings::spin_lock(list_lock) };
    let mut locked = true;
    // SAFETY: `head` is a list head, read under its lock.
    let mut pos = unsafe { (*head).next };
    while pos != head {
        // SAFETY: Every entry of `s_inodes` is the `i_sb_list` of an inode, which stays valid
        // while the list lock is held.
        let inode = unsafe { crate::container_of!(pos, bindings::inode, i_sb_list) };
        // SAFETY: The inode is valid (above).
        let i_lock = unsafe { &raw mut (*inode).i_lock };
        // SAFETY: `i_lock` is the inode's lock; taken inside the list lock, as the VFS does.
        unsafe { bindings::spin_lock(i_lock) };
        // SAFETY: The inode is valid, and its `i_lock`, which its state needs, is held.
        let (gone, open) = unsafe {
            (
                bindings::rustre_inode_state_read(inode) & skip != 0,
                open_regular(inode),
            )
        };
        // SAFETY: Reads the current task's flags; callable in any context.
        let busy = unsafe { bindings::rustre_need_resched() };
        if gone || (!open && !busy) {
            // SAFETY: Taken above; the next entry is read under the list lock.
            unsafe {
                bindings::spin_unlock(i_lock);
                pos = (*pos).next;
            }
            continue;
        }
        // SAFETY: The inode is neither being freed nor set up, and its `i_lock` is held: a
        // reference may be taken (`__iget`). Then both locks go, in reverse order.
        unsafe {
            bindings::rustre_iget(inode);
            bindings::spin_unlock(i_lock);
            bindings::spin_unlock(list_lock);
        }
        locked = false;
        if !held.is_null() {
            // SAFETY: We hold a reference to the previous inode, and no lock.
            unsafe { bindings::iput(held) };
        }
        held = inode;
        if open {
            // SAFETY: We hold a reference to the inode; the alias, if any, is counted.
            let alias = unsafe { bindings::d_find_any_alias(inode) };
            if !alias.is_null() {
                let p = bindings::path { mnt, dentry: alias };
                // SAFETY: The mount is counted by the caller and the alias by us; an alias of
                // a live inode is positive. `from_raw` takes references of its own.
                let fp = unsafe { crate::fsobj::FsPath::from_raw(&p) };
                // SAFETY: The reference `d_find_any_alias` gave us.
                unsafe { bindings::dput(alias) };
                res = f(&fp);
            }
        }
        // SAFETY: No lock is held here.
        unsafe { bindings::rustre_cond_resched() };
        if res.is_err() {
            break;
        }
        // SAFETY: The list lock is taken again; the inode we hold is still on the list (it is
        // removed only when evicted), so its `next` is a valid entry or the head.
        unsafe {
            bindings::spin_lock(list_lock);
            pos = (*inode).i_sb_list.next;
        }
        locked = true;
    }
    if locked {
        // SAFETY: Taken above and not released since.
        unsafe { bindings::spin_unlock(list_lock) };
    }
    if !held.is_null() {
        // SAFETY: We hold a reference to the last inode, and no lock.
        unsafe { bindings::iput(held) };
    }
    res
}

impl<H: PreContentHandler> Drop for PreContentWatch<H> {
    fn drop(&mut self) {
        // SAFETY: By the invariants we own the initial mark reference, a group reference and a
        // path reference. `fsnotify_destroy_group` stops the events, detaches the mark, waits
        // for the handlers waiting outside the SRCU read lock (`wait_unlocked`: their pinned
        // marks count in `user_waits`) and drops our group reference. Our put of the mark is
        // then normally its last; the reaper, flushed by `fsnotify_wait_marks_destroyed` after
        // an SRCU grace period, frees it and with it the last group reference. The owner
        // makes its waiting handlers return first, or this waits for them.
        unsafe { destroy_pre_watch(self.group.as_ptr(), self.mark.as_ptr(), &self.path) };
        // The group is freed, and the handler released, when its last mark reference goes:
        // at once, or when another group's wait that pinned the mark ends. Nothing of ours is
        // used after.
        self.gone.wait();
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
