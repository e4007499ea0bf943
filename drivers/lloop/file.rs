// SPDX-License-Identifier: GPL-2.0

//! The backing file of a loop device: the checks made when it is attached, its direct I/O
//! alignment, the second open that direct writes go through, its times, `fallocate`, and the
//! memory reserves of its network transport.

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::{from_err_ptr, to_result},
    fs::{File, LocalFile},
    prelude::*,
    str::CStr,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
    },
};

/// An all-zero C structure of a type for which that is the initial state (`iov_iter`,
/// `kiocb`, `kstat`): their bindings contain unions that `Zeroable` does not cover.
pub(crate) fn zeroed_c<S: CZeroed>() -> S {
    // SAFETY: By `CZeroed`, all-zero bytes are a valid value of `S`.
    unsafe { core::mem::zeroed() }
}

/// C structures that are valid, and empty, when all-zero.
///
/// # Safety
///
/// All-zero bytes must be a valid value of the type.
pub(crate) unsafe trait CZeroed {}
// SAFETY: Plain C data: integers, pointers, unions of them and optional function pointers.
unsafe impl CZeroed for bindings::kiocb {}
// SAFETY: As above.
unsafe impl CZeroed for bindings::kstat {}

/// Whether the calling task has `CAP_SYS_ADMIN`, which configuring a disk needs.
pub(crate) fn caller_is_admin() -> bool {
    // SAFETY: `capable` only checks the current task's credentials.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}

/// `fallocate` modes a [`BackingFile`] offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Falloc {
    /// Deallocate the range (reads return zeroes); the size stays.
    PunchHole,
    /// Zero the range, keeping it allocated; the size stays.
    ZeroRange,
    /// Allocate the range (holes become zeroed blocks); the size stays.
    Allocate,
}

/// A regular file a disk stores its data in.
///
/// While it exists, the page cache of the file does not allocate with `__GFP_IO` or
/// `__GFP_FS`, so reclaim triggered by buffered I/O on it cannot recurse into the disk.
///
/// # Invariants
///
/// `file` is a regular file with `read_iter`, and `write_iter` if open for writing; its
/// mapping's allocation mask had `old_gfp` when we took it over. `net`, if set, holds the
/// reserves of `file`'s own transport, and is dropped before `file` (field order, and
/// explicitly in `drop`).
pub(crate) struct BackingFile {
    /// The memory reserves of the file's network transport, if taken
    /// ([`BackingFile::reserve_transport`]). Declared before `file`, so dropped before it:
    /// the transport it refers to lives as long as the file's superblock.
    net: Option<NetReserve>,
    file: ARef<File>,
    /// A second open of the same file, for direct writes (see [`crate::io::read_write`]):
    /// private to us, with `FMODE_NOCMTIME`. `None` if the file is not open for writing or
    /// has no direct I/O.
    quiet_file: Option<ARef<File>>,
    /// Non-zero once a write went through `quiet_file` since the file's times were last
    /// brought up to date ([`BackingFile::update_times`]).
    times_stale: Atomic<i32>,
    old_gfp: bindings::gfp_t,
    dio_align: u32,
    dio_mem_align: u32,
    /// The file's direct I/O takes a reference on every page it moves (NFS:
    /// `nfs_page_create_from_page()` calls `get_page()`), which slab memory cannot give
    /// (`get_page()` warns and takes none) and large-kmalloc memory would leak (the bvec
    /// `iov_iter_get_pages` takes one that `put_page()` never gives back). Requests with such
    /// memory go through the page cache instead ([`crate::io::read_write`]).
    dio_refs_pages: bool,
    /// Requests sent through the page cache for that reason since the file was taken.
    kmalloc_buffered: Atomic<u64>,
}

impl BackingFile {
    /// Takes the file behind the caller's descriptor `fd`. `EBADF` for a bad descriptor,
    /// `EINVAL` for anything but a regular file that can be read (and written, if open for
    /// writing). A file open for writing with direct I/O is also opened a second time, for
    /// direct writes ([`crate::io::read_write`]); that open's error is returned.
    pub(crate) fn from_fd(fd: u32) -> Result<Self> {
        let file = LocalFile::fget(fd).map_err(|_| EBADF)?;
        // SAFETY: We never use the file position: every transfer names its own offset.
        let file = unsafe { LocalFile::assume_no_fdget_pos(file) };
        // SAFETY: An open file has a valid inode, whose type never changes, and operations.
        let (regular, ok_ops) = unsafe {
            let f = file.as_ptr();
            let mode = u32::from((*(*f).f_inode).i_mode);
            let fop = &*(*f).f_op;
            let writable = (*f).f_mode & bindings::FMODE_WRITE != 0;
            (
                mode & bindings::S_IFMT == bindings::S_IFREG,
                fop.read_iter.is_some() && (!writable || fop.write_iter.is_some()),
            )
        };
        if !regular || !ok_ops {
            return Err(EINVAL);
        }
        let (dio_align, dio_mem_align) = Self::dio_alignment(&file);
        // SAFETY: `f_mode` of an open file does not change.
        let mode = unsafe { (*file.as_ptr()).f_mode };
        let quiet_file =
            if mode & bindings::FMODE_WRITE != 0 && mode & bindings::FMODE_CAN_ODIRECT != 0 {
                Some(Self::reopen_quiet(&file)?)
            } else {
                None
            };
        // SAFETY: An open file's mapping is valid; the mask is a plain word the page cache
        // reads when it allocates.
        let old_gfp = unsafe {
            let m = (*file.as_ptr()).f_mapping;
            let old = (*m).gfp_mask;
            (*m).gfp_mask =
                old & !((1 << bindings::___GFP_IO_BIT) | (1 << bindings::___GFP_FS_BIT));
            old
        };
        let dio_refs_pages = on_nfs(&file);
        // INVARIANT: Checked above; the second open is of the same file.
        Ok(Self {
            net: None,
            file,
            quiet_file,
            times_stale: Atomic::new(0),
            old_gfp,
            dio_align,
            dio_mem_align,
            dio_refs_pages,
            kmalloc_buffered: Atomic::new(0),
        })
    }

    /// Opens `file` again, by its path and with its flags and credentials, for the driver
    /// alone, and marks the new file not to update the inode's times (`FMODE_NOCMTIME`).
    fn reopen_quiet(file: &File) -> Result<ARef<File>> {
        let f = file.as_ptr();
        // SAFETY: An open file's path and credentials are valid while it is open; the call
        // returns a new file, holding one reference, or an error pointer.
        let new = from_err_ptr(unsafe {
            bindings::dentry_open(
                &raw const (*f).__bindgen_anon_1.f_path,
                (*f).f_flags as i32,
                (*f).f_cred,
            )
        })?;
        // SAFETY: `new` is a valid file no one else knows about yet, so no I/O reads its mode.
        unsafe { (*new).f_mode |= bindings::FMODE_NOCMTIME };
        // SAFETY: `new` is non-null (not an error) and its one reference becomes the `ARef`'s.
        Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(new.cast::<File>())) })
    }

    /// Offset and memory alignment of direct I/O: the filesystem's (`STATX_DIOALIGN`), else
    /// the logical block size of its device, else 512.
    fn dio_alignment(file: &File) -> (u32, u32) {
        let mut st = zeroed_c::<bindings::kstat>();
        // SAFETY: The file is open, so its path is valid; `st` is ours.
        let rc = unsafe {
            bindings::vfs_getattr(
                &raw mut (*file.as_ptr()).__bindgen_anon_1.f_path,
                &mut st,
                bindings::STATX_DIOALIGN,
                0,
            )
        };
        if rc == 0 && st.result_mask & bindings::STATX_DIOALIGN != 0 && st.dio_mem_align != 0 {
            return (st.dio_offset_align.max(512), st.dio_mem_align);
        }
        // SAFETY: An open file has a valid inode and superblock; `s_bdev` may be null.
        let bs = unsafe {
            let sb = (*(*file.as_ptr()).f_inode).i_sb;
            if (*sb).s_bdev.is_null() {
                512
            } else {
                bindings::rustre_bdev_logical_block_size((*sb).s_bdev)
            }
        };
        (bs.max(512), 512)
    }

    fn raw(&self) -> *mut bindings::file {
        self.file.as_ptr()
    }

    /// The file, as attached.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// The second open for direct writes, if there is one.
    pub(crate) fn quiet_file(&self) -> Option<&File> {
        self.quiet_file.as_deref()
    }

    /// Whether the file's direct I/O references the pages it moves (NFS).
    pub(crate) fn dio_refs_pages(&self) -> bool {
        self.dio_refs_pages
    }

    /// Counts a request sent through the page cache for that reason.
    pub(crate) fn count_kmalloc_buffered(&self) {
        self.kmalloc_buffered.fetch_add(1, Relaxed);
    }

    /// Whether the file is open for writing.
    pub(crate) fn writable(&self) -> bool {
        // SAFETY: `f_mode` of an open file does not change.
        unsafe { (*self.raw()).f_mode & bindings::FMODE_WRITE != 0 }
    }

    /// Whether the filesystem does direct I/O on the file (`FMODE_CAN_ODIRECT`).
    pub(crate) fn can_direct(&self) -> bool {
        // SAFETY: As in `writable`.
        unsafe { (*self.raw()).f_mode & bindings::FMODE_CAN_ODIRECT != 0 }
    }

    /// Whether the file takes non-blocking I/O (`FMODE_NOWAIT`).
    pub(crate) fn can_nowait(&self) -> bool {
        // SAFETY: As in `writable`.
        unsafe { (*self.raw()).f_mode & bindings::FMODE_NOWAIT != 0 }
    }

    /// Alignment of file offsets and lengths for direct I/O, in bytes.
    pub(crate) fn dio_align(&self) -> u32 {
        self.dio_align
    }

    /// Alignment of memory for direct I/O, in bytes.
    pub(crate) fn dio_mem_align(&self) -> u32 {
        self.dio_mem_align
    }

    /// Whether the filesystem implements `fsync`.
    pub(crate) fn can_fsync(&self) -> bool {
        // SAFETY: The operations of an open file are valid and constant.
        unsafe { (*(*self.raw()).f_op).fsync.is_some() }
    }

    /// Whether the filesystem implements `fallocate`.
    pub(crate) fn can_fallocate(&self) -> bool {
        // SAFETY: The operations of an open file are valid and constant.
        unsafe { (*(*self.raw()).f_op).fallocate.is_some() }
    }

    /// Block size of the file's filesystem.
    pub(crate) fn fs_block_size(&self) -> u32 {
        // SAFETY: An open file has a valid inode and superblock.
        unsafe { (*(*(*self.raw()).f_inode).i_sb).s_blocksize as u32 }
    }

    /// The size of the file in bytes.
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: An open file has a valid inode.
        unsafe { bindings::rustre_i_size_read((*self.raw()).f_inode) }.max(0) as u64
    }

    /// Device number of the file's filesystem (kernel `dev_t`) and inode number.
    pub(crate) fn identity(&self) -> (u32, u64) {
        // SAFETY: An open file has a valid inode and superblock.
        unsafe {
            let inode = (*self.raw()).f_inode;
            ((*(*inode).i_sb).s_dev, (*inode).i_ino)
        }
    }

    /// Writes the file's path into `buf` and returns it (`d_path`); `ENAMETOOLONG` if it does
    /// not fit.
    pub(crate) fn path<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        // SAFETY: The path of an open file is valid; `d_path` writes at most `buf.len()` bytes
        // at the end of `buf` and returns where the NUL-terminated name starts.
        let p = from_err_ptr(unsafe {
            bindings::d_path(
                &raw const (*self.raw()).__bindgen_anon_1.f_path,
                buf.as_mut_ptr(),
                buf.len() as i32,
            )
        })?;
        let start = (p as usize).wrapping_sub(buf.as_ptr() as usize);
        let tail = buf.get(start..).ok_or(EINVAL)?;
        let len = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
        Ok(&buf[start..start + len])
    }

    /// Brings the file's times up to date ([`BackingFile::update_times`]), then makes its
    /// data and metadata durable (`vfs_fsync`). On a frozen filesystem the times stay due and
    /// the sync goes ahead: a flush must not fail for them.
    pub(crate) fn fsync(&self) -> Result {
        // An error (a frozen filesystem, say) leaves the update due; the sync goes ahead.
        let _ = self.update_times();
        // SAFETY: The file is open.
        to_result(unsafe { bindings::vfs_fsync(self.raw(), 0) })
    }

    /// Requests that direct I/O was asked for but that went through the page cache, since
    /// their memory is slab or large-kmalloc and the file's direct I/O references pages
    /// (see [`crate::io::read_write`]).
    pub(crate) fn kmalloc_buffered(&self) -> u64 {
        self.kmalloc_buffered.load(Relaxed)
    }

    /// Records that a direct write went through the second open; cheap when already set.
    pub(crate) fn mark_times_stale(&self) {
        if self.times_stale.load(Relaxed) == 0 {
            self.times_stale.store(1, Relaxed);
        }
    }

    /// Updates the file's modification and change times if direct writes went to it since
    /// the last update: those leave the times alone, so that a write does not start a
    /// filesystem transaction of its own. Called by [`BackingFile::fsync`] (a flush of the
    /// device) and when the file is dropped; a driver calls it where else it wants the times
    /// current. `EBUSY` if the filesystem is frozen (the update is then still due). It may
    /// sleep (the filesystem may start a transaction): not in `queue_rq`, nor with the disk's
    /// queue frozen, as the filesystem's transactions may wait for I/O.
    pub(crate) fn update_times(&self) -> Result {
        if self.times_stale.xchg(0, Relaxed) == 0 {
            return Ok(());
        }
        let file = self.raw();
        // SAFETY: The file is open, so its inode and the inode's superblock are valid.
        let sb = unsafe { (*(*file).f_inode).i_sb };
        // SAFETY: `sb` is a live superblock (above). Without waiting: a frozen filesystem
        // leaves the update due.
        let res = if unsafe { bindings::rustre_sb_start_write_trylock(sb) } {
            // SAFETY: The file is open and its filesystem's freeze protection is held.
            let res = to_result(unsafe { bindings::file_update_time(file) });
            // SAFETY: Ends the freeze protection taken above, on the same task.
            unsafe { bindings::rustre_sb_end_write(sb) };
            res
        } else {
            Err(EBUSY)
        };
        if res.is_err() {
            self.times_stale.store(1, Relaxed);
        }
        res
    }

    /// Lets the network transport that carries this file's I/O allocate from the memory
    /// reserves, as the kernel does for a swap file on NFS (`nfs_swap_activate`): so that the
    /// writes a disk over the file makes to free memory (swap-out, writeback under
    /// pressure) can still be sent when memory is short. Held until the file is dropped.
    ///
    /// Returns whether the file has such a transport: `false` for anything but a file on an
    /// NFS mount. Process context only (marking a socket takes mutexes); an error if the
    /// transport refuses (`EINVAL` without `CONFIG_SUNRPC_SWAP`).
    ///
    /// Everything on the transport gets that access, every mount sharing the NFS client
    /// included, as with an NFS swap file. What it does not give is NFS's per-request flag
    /// for swap writes (`RPC_TASK_SWAPPER`, set only for the inode of an active swap file),
    /// which lets the RPC state machine of each such request run from the reserves too.
    pub(crate) fn reserve_transport(&mut self) -> Result<bool> {
        if self.net.is_none() {
            // INVARIANT: The reserve is of `self.file`, which outlives it (see `drop`).
            self.net = NetReserve::take(&self.file)?;
        }
        Ok(self.net.is_some())
    }

    /// Whether [`BackingFile::reserve_transport`] holds the transport's reserves.
    pub(crate) fn transport_reserved(&self) -> bool {
        self.net.is_some()
    }

    /// `fallocate` on `[pos, pos + len)`, keeping the file size.
    ///
    /// NFS 4.2 refuses `FALLOC_FL_KEEP_SIZE` with a zeroing or allocating mode (`EOPNOTSUPP`);
    /// a range inside the file cannot change its size, so such a range is asked again without
    /// the flag. "Inside" is judged by the size this kernel knows: a truncate of the backing
    /// file below the range, here or by another NFS client, would be undone, as a write there
    /// would undo it.
    pub(crate) fn fallocate(&self, mode: Falloc, pos: u64, len: u64) -> Result {
        let m = match mode {
            Falloc::PunchHole => bindings::FALLOC_FL_PUNCH_HOLE,
            Falloc::ZeroRange => bindings::FALLOC_FL_ZERO_RANGE,
            Falloc::Allocate => 0,
        };
        let (Ok(p), Ok(l)) = (i64::try_from(pos), i64::try_from(len)) else {
            return Err(EINVAL);
        };
        let call = |m: u32| {
            // SAFETY: The file is open.
            to_result(unsafe { bindings::vfs_fallocate(self.raw(), m as i32, p, l) })
        };
        match call(m | bindings::FALLOC_FL_KEEP_SIZE) {
            Err(e)
                if e == EOPNOTSUPP
                    && mode != Falloc::PunchHole
                    && pos.checked_add(len).is_some_and(|end| end <= self.size()) =>
            {
                call(m)
            }
            r => r,
        }
    }
}

/// Access to the memory reserves for the RPC transport of a file on NFS: one
/// `rpc_clnt_swap_activate` on the file's RPC client, and the protocol's `enable_swap` (NFSv4
/// keeps its state manager thread running), undone when dropped.
///
/// # Invariants
///
/// `inode` is the inode of an open file on an NFS client superblock and `clnt` its
/// `NFS_CLIENT`, on which this holds one activation; both are valid while that file is open,
/// which its owner ([`BackingFile`]) keeps it until this is dropped.
struct NetReserve {
    inode: NonNull<bindings::inode>,
    clnt: NonNull<bindings::rpc_clnt>,
}

/// Whether `file` is on the NFS client: a superblock with `NFS_SUPER_MAGIC` of type "nfs"
/// or "nfs4".
fn on_nfs(file: &File) -> bool {
    // SAFETY: An open file has an inode, with a valid superblock and filesystem type, whose
    // name is a static NUL-terminated string.
    let (magic, fs_name) = unsafe {
        let sb = (*(*file.as_ptr()).f_inode).i_sb;
        ((*sb).s_magic, CStr::from_char_ptr((*(*sb).s_type).name))
    };
    magic as u64 == u64::from(bindings::NFS_SUPER_MAGIC) && fs_name.to_bytes().starts_with(b"nfs")
}

impl NetReserve {
    /// Takes the reserves for `file`'s transport; `None` if `file` is not on NFS, or if the
    /// kernel's sunrpc is a module (this crate is built in and cannot call it then).
    #[cfg(CONFIG_SUNRPC = "y")]
    fn take(file: &File) -> Result<Option<Self>> {
        if !on_nfs(file) {
            return Ok(None);
        }
        // SAFETY: An open file has an inode.
        let inode = NonNull::new(unsafe { (*file.as_ptr()).f_inode }).ok_or(EINVAL)?;
        // SAFETY: Only the NFS client makes superblocks with this magic; their `s_fs_info` is
        // the `nfs_server`, which lives as long as the superblock the open file pins.
        let clnt =
            NonNull::new(unsafe { bindings::rustre_nfs_client(inode.as_ptr()) }).ok_or(EINVAL)?;
        // SAFETY: `clnt` is a live RPC client (above); the call marks its transports and
        // counts the activation, undone by `rpc_clnt_swap_deactivate` in `drop`.
        to_result(unsafe { bindings::rpc_clnt_swap_activate(clnt.as_ptr()) })?;
        // SAFETY: As above: the NFS client's protocol operations are static and live.
        if let Some(enable) = unsafe { (*bindings::rustre_nfs_proto(inode.as_ptr())).enable_swap } {
            // SAFETY: `inode` is an NFS inode of this protocol, as `enable_swap` expects.
            unsafe { enable(inode.as_ptr()) };
        }
        // INVARIANT: `file` is open on NFS, `clnt` its client, activated above.
        Ok(Some(Self { inode, clnt }))
    }

    /// Without a built-in sunrpc there is nothing this crate can reserve.
    #[cfg(not(CONFIG_SUNRPC = "y"))]
    fn take(_file: &File) -> Result<Option<Self>> {
        Ok(None)
    }
}

impl Drop for NetReserve {
    #[cfg(CONFIG_SUNRPC = "y")]
    fn drop(&mut self) {
        // SAFETY: By the type invariant both pointers are still valid and we hold one
        // activation; the order is `nfs_swap_deactivate`'s (the protocol's `disable_swap`
        // wakes the state manager, which then sees whether any activation is left).
        unsafe {
            bindings::rpc_clnt_swap_deactivate(self.clnt.as_ptr());
            if let Some(disable) = (*bindings::rustre_nfs_proto(self.inode.as_ptr())).disable_swap {
                disable(self.inode.as_ptr());
            }
        }
    }

    #[cfg(not(CONFIG_SUNRPC = "y"))]
    fn drop(&mut self) {}
}

// SAFETY: The pointers are only used to undo the activation, which any task may do.
unsafe impl Send for NetReserve {}
// SAFETY: No method takes `&self`.
unsafe impl Sync for NetReserve {}

/// Dropping the file updates its times ([`BackingFile::update_times`]), which may sleep in the
/// filesystem: the device, replacing its state in [`crate::io::DiskRef::reconfigure`], returns
/// the old file from the closure and drops it after the queue is thawed.
impl Drop for BackingFile {
    fn drop(&mut self) {
        // The last chance to record the writes in the file's times. A frozen filesystem
        // (`EBUSY`) keeps the old ones.
        if let Err(e) = self.update_times() {
            pr_warn!("backing file times not updated: {:?}\n", e);
        }
        // SAFETY: The mapping is valid while we hold the file; we restore the mask we changed.
        unsafe { (*(*self.raw()).f_mapping).gfp_mask = self.old_gfp };
        // The transport's reserves go before the file that keeps the transport alive.
        drop(self.net.take());
    }
}
