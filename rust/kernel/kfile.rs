// SPDX-License-Identifier: GPL-2.0

//! Files opened and accessed by the kernel itself.
//!
//! A [`KFile`] is a file opened by path with `filp_open()`, read and written at explicit
//! offsets (`kernel_read()`, `kernel_write()`), synced, truncated and hole-punched, and closed
//! when dropped. It is meant for state files a module keeps on behalf of the system, such as a
//! log. All operations sleep and may do I/O.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use crate::{
    bindings,
    error::{from_err_ptr, to_result, Result},
    prelude::*,
    str::CStr,
};
use core::ptr::NonNull;

/// Open flags (`O_*`).
pub mod flags {
    use crate::bindings;
    /// Read and write.
    pub const O_RDWR: u32 = bindings::O_RDWR;
    /// Create if missing.
    pub const O_CREAT: u32 = bindings::O_CREAT;
    /// Allow files larger than 2 GiB on 32-bit.
    pub const O_LARGEFILE: u32 = bindings::O_LARGEFILE;
    /// Do not follow a final symbolic link.
    pub const O_NOFOLLOW: u32 = bindings::O_NOFOLLOW;
    /// Do not wait: an open that would wait for a lease holder fails with `EAGAIN`.
    pub const O_NONBLOCK: u32 = bindings::O_NONBLOCK;
}

/// A file opened by the kernel.
///
/// # Invariants
///
/// `file` is a file returned by `filp_open()` that this object owns.
pub struct KFile {
    file: NonNull<bindings::file>,
}

// SAFETY: A `struct file` may be used and closed from any task.
unsafe impl Send for KFile {}
// SAFETY: Every method takes explicit offsets; the file position is never used, so concurrent
// calls only race as concurrent `pread`/`pwrite` do.
unsafe impl Sync for KFile {}

impl KFile {
    /// Opens `path` with `O_*` `flags`, creating it with `mode` if `O_CREAT` is given.
    ///
    /// The file generates no fsnotify events from then on (`FMODE_NONOTIFY`): what the kernel
    /// does to its own state files is not reported to watchers of the filesystem (which could
    /// be the module writing them).
    pub fn open(path: &CStr, flags: u32, mode: u16) -> Result<Self> {
        // SAFETY: `path` is NUL-terminated; `filp_open` returns a file or an error pointer.
        let file =
            from_err_ptr(unsafe { bindings::filp_open(path.as_char_ptr(), flags as i32, mode) })?;
        // SAFETY: `filp_open` succeeded, so the file is new and ours.
        Ok(unsafe { Self::from_new(file) })
    }

    /// Takes over a file the kernel just opened, and silences its fsnotify events.
    ///
    /// # Safety
    ///
    /// `file` must be a valid open file that the caller owns and has not shared yet.
    pub(crate) unsafe fn from_new(file: *mut bindings::file) -> Self {
        // SAFETY: By the function's requirements, nobody else reads `f_mode` yet.
        unsafe {
            let m = &mut (*file).f_mode;
            *m = (*m & !(bindings::FMODE_NONOTIFY | bindings::FMODE_NONOTIFY_PERM))
                | bindings::FMODE_NONOTIFY;
        }
        // INVARIANT: By the function's requirements, the file is open and ours.
        KFile {
            // SAFETY: A valid file pointer is not null.
            file: unsafe { NonNull::new_unchecked(file) },
        }
    }

    fn raw(&self) -> *mut bindings::file {
        self.file.as_ptr()
    }

    /// Reads up to `buf.len()` bytes at `pos`; returns how many were read (0 at end of file).
    pub fn read_at(&self, buf: &mut [u8], pos: u64) -> Result<usize> {
        // A position beyond `loff_t` would turn negative: `EINVAL`, as `pread` gives.
        let mut off = bindings::loff_t::try_from(pos).map_err(|_| EINVAL)?;
        // SAFETY: `buf` is valid for writes of its length; the file is open by the invariants.
        let n = unsafe {
            bindings::kernel_read(self.raw(), buf.as_mut_ptr().cast(), buf.len(), &mut off)
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        Ok(n as usize)
    }

    /// Reads until `buf` is full or the end of the file; returns the bytes read.
    pub fn read_full_at(&self, buf: &mut [u8], pos: u64) -> Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let at = pos.checked_add(done as u64).ok_or(EINVAL)?;
            let n = self.read_at(&mut buf[done..], at)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    /// Writes all of `buf` at `pos`.
    pub fn write_all_at(&self, buf: &[u8], pos: u64) -> Result {
        let mut done = 0;
        while done < buf.len() {
            let at = pos.checked_add(done as u64).ok_or(EINVAL)?;
            let mut off = bindings::loff_t::try_from(at).map_err(|_| EINVAL)?;
            let rest = &buf[done..];
            // SAFETY: `rest` is valid for reads of its length; the file is open.
            let n = unsafe {
                bindings::kernel_write(self.raw(), rest.as_ptr().cast(), rest.len(), &mut off)
            };
            if n < 0 {
                return Err(Error::from_errno(n as i32));
            }
            if n == 0 {
                return Err(EIO);
            }
            done += n as usize;
        }
        Ok(())
    }

    /// Flushes the file to stable storage (`fdatasync` if `data_only`, else `fsync`).
    pub fn sync(&self, data_only: bool) -> Result {
        // SAFETY: The file is open by the invariants.
        to_result(unsafe { bindings::vfs_fsync(self.raw(), i32::from(data_only)) })
    }

    /// Gives the blocks of `[off, off + len)` back to the filesystem, keeping the file size.
    /// Reads of the range return zeroes. `EOPNOTSUPP` if the filesystem cannot.
    pub fn punch_hole(&self, off: u64, len: u64) -> Result {
        // SAFETY: The file is open by the invariants.
        to_result(unsafe {
            bindings::vfs_fallocate(
                self.raw(),
                (bindings::FALLOC_FL_PUNCH_HOLE | bindings::FALLOC_FL_KEEP_SIZE) as i32,
                off as bindings::loff_t,
                len as bindings::loff_t,
            )
        })
    }

    /// Sets the file size to `len`.
    pub fn truncate(&self, len: u64) -> Result {
        // SAFETY: The file is open, so its `f_path` is a valid, counted path.
        to_result(unsafe {
            bindings::vfs_truncate(
                &raw const (*self.raw()).__bindgen_anon_1.f_path,
                len as bindings::loff_t,
            )
        })
    }

    /// The current size of the file.
    pub fn size(&self) -> u64 {
        // SAFETY: An open file has a valid inode.
        let inode = unsafe { (*self.raw()).f_inode };
        // SAFETY: `i_size` is read as `i_size_read()` does on 64-bit: one aligned load.
        let size = unsafe { core::ptr::read_volatile(&raw const (*inode).i_size) };
        size.max(0) as u64
    }

    /// Whether the file is a regular file.
    pub fn is_regular(&self) -> bool {
        // SAFETY: An open file has a valid inode whose type never changes.
        let mode = unsafe { (*(*self.raw()).f_inode).i_mode };
        u32::from(mode) & bindings::S_IFMT == bindings::S_IFREG
    }

    /// Superblock and inode number of the file, to recognise events about it.
    pub fn identity(&self) -> (usize, u64) {
        // SAFETY: An open file has a valid inode, and the inode its superblock.
        unsafe {
            let inode = (*self.raw()).f_inode;
            ((*inode).i_sb as usize, (*inode).i_ino)
        }
    }
}

impl KFile {
    /// Takes a write lease on the file, as `fcntl(F_SETLEASE, F_WRLCK)` does for a process:
    /// `EAGAIN` unless this is the only open of the file (nobody else has it open for reading
    /// or writing, or mapped). While the lease is held, any other open of the file, or a
    /// truncate, waits until the lease is dropped (`EAGAIN` at once with `O_NONBLOCK`). Unlike
    /// a process's lease, this one is never taken back when lease-break-time passes: a writer
    /// waits for as long as it is held (a reader that waited lease-break-time is let in by the
    /// kernel's downgrade to a read lease, which does not ask the lease's owner).
    ///
    /// The check and the lease are one step against a concurrent open (the lease code checks
    /// the open counts again once the lease is visible to `break_lease()`), so the holder can
    /// change the file knowing no other writer can see the change half done. `EINVAL` if the
    /// filesystem has no leases, leases are disabled (`fs.leases-enable=0`) or the file is not
    /// a regular file. Needs `CONFIG_FILE_LOCKING` (without it there are no leases, nor the
    /// `i_readcount` this reads).
    pub fn write_lease(&self) -> Result<WriteLease<'_>> {
        // SAFETY: No requirements; returns a zeroed, initialised lease or null.
        let fl = unsafe { bindings::locks_alloc_lease() };
        if fl.is_null() {
            return Err(ENOMEM);
        }
        let pid = crate::current!().tgid_nr_ns(None);
        // SAFETY: `fl` is a new lease that nobody else sees yet; the fields are what
        // `lease_init()` sets for `fcntl`'s leases, with our callbacks.
        unsafe {
            (*fl).c.flc_flags = bindings::FL_LEASE;
            (*fl).c.flc_type = bindings::F_WRLCK as u8;
            (*fl).c.flc_file = self.raw();
            (*fl).c.flc_owner = self.raw().cast();
            (*fl).c.flc_pid = pid;
            (*fl).fl_lmops = &LEASE_OPS;
        }
        let mut lease = fl;
        let mut unused: *mut core::ffi::c_void = core::ptr::null_mut();
        // SAFETY: The file is open by the invariants; `lease` points to a lease set up as
        // `kernel_setlease()` expects. It takes the lease over and clears `lease` on success.
        let rc = unsafe {
            bindings::kernel_setlease(
                self.raw(),
                bindings::F_WRLCK as i32,
                &mut lease,
                &mut unused,
            )
        };
        if !lease.is_null() {
            // SAFETY: The lease code did not keep it, so it is still ours.
            unsafe { bindings::locks_free_lease(lease) };
        }
        to_result(rc)?;
        Ok(WriteLease { file: self })
    }
}

/// A write lease held on a [`KFile`] (see [`KFile::write_lease`]), given back when dropped;
/// opens that waited for it then go on.
pub struct WriteLease<'a> {
    file: &'a KFile,
}

impl Drop for WriteLease<'_> {
    fn drop(&mut self) {
        let mut owner: *mut core::ffi::c_void = self.file.raw().cast();
        // SAFETY: The file is open; `F_UNLCK` takes no lease and finds ours by the owner it was
        // set with (the file). If the kernel already took it back after `lease-break-time`,
        // this fails with `EAGAIN`, and there is nothing left to undo.
        unsafe {
            bindings::kernel_setlease(
                self.file.raw(),
                bindings::F_UNLCK as i32,
                core::ptr::null_mut(),
                &mut owner,
            )
        };
    }
}

/// Lease callbacks of [`KFile::write_lease`]: a lease that is never given up on request, no
/// signal to anyone; `lease_modify()` is the kernel's own change and removal.
static LEASE_OPS: bindings::lease_manager_operations = bindings::lease_manager_operations {
    lm_break: Some(lease_break),
    lm_change: Some(bindings::lease_modify),
    lm_setup: None,
    lm_breaker_owns_lease: None,
    lm_open_conflict: Some(lease_open_conflict),
    lm_breaker_timedout: Some(lease_keep),
};

/// Called when a writer waited lease-break-time for the lease: returns `false`, so the lease
/// stays (and the writer waits on) until its owner drops it.
///
/// # Safety
///
/// Called by the lease code, under the inode's lock context spinlock, with a valid lease.
unsafe extern "C" fn lease_keep(_fl: *mut bindings::file_lease) -> bool {
    false
}

/// Called when someone opens or truncates the file while the lease is held: returns `false`,
/// so the lease stays and they wait for it to be dropped.
///
/// # Safety
///
/// Called by the lease code, under the inode's lock context spinlock, with a valid lease.
unsafe extern "C" fn lease_break(_fl: *mut bindings::file_lease) -> bool {
    false
}

/// Whether `filp` is the only open of its inode, for a write lease (`F_WRLCK`), or whether the
/// inode is not open for writing, for a read lease: 0 or `-EAGAIN`, as the kernel's own check
/// for `fcntl` leases. Atomic loads only: it runs under a spinlock.
///
/// # Safety
///
/// Called by the lease code with a valid open file.
unsafe extern "C" fn lease_open_conflict(
    filp: *mut bindings::file,
    arg: core::ffi::c_int,
) -> core::ffi::c_int {
    use crate::sync::atomic::{Atomic, Relaxed};
    // SAFETY: By the function's requirements `filp` is open, so it has a valid inode.
    let (mode, inode) = unsafe { ((*filp).f_mode, (*filp).f_inode) };
    // SAFETY: The counts are `atomic_t`s of the valid inode, only ever accessed atomically.
    let (writers, readers) = unsafe {
        (
            Atomic::<i32>::from_ptr(&raw mut (*inode).i_writecount.counter).load(Relaxed),
            Atomic::<i32>::from_ptr(&raw mut (*inode).i_readcount.counter).load(Relaxed),
        )
    };
    let busy = if arg == bindings::F_RDLCK as core::ffi::c_int {
        writers > 0
    } else if arg == bindings::F_WRLCK as core::ffi::c_int {
        let (own_w, own_r) = if mode & bindings::FMODE_WRITE != 0 {
            (1, 0)
        } else if mode & bindings::FMODE_READ != 0 {
            (0, 1)
        } else {
            (0, 0)
        };
        // A negative write count (writes denied: an executable) conflicts too.
        writers != own_w || readers != own_r
    } else {
        false
    };
    if busy {
        EAGAIN.to_errno()
    } else {
        0
    }
}

/// Takes a reference to the file behind the caller's descriptor `fd`, which must be a pipe (or
/// FIFO) open for writing: `EBADF` otherwise. For a stream the kernel writes to with
/// [`write_stream`] on the caller's behalf (from another thread, too).
pub fn fget_writable_pipe(fd: u32) -> Result<crate::sync::aref::ARef<crate::fs::File>> {
    let file = crate::fs::LocalFile::fget(fd).map_err(|_| EBADF)?;
    // SAFETY: The file is only ever written with `kernel_write()` through `write_stream`,
    // which neither reads nor moves the file position, so a concurrent `fdget_pos` user on
    // this task cannot race with anything we do.
    let file = unsafe { crate::fs::LocalFile::assume_no_fdget_pos(file) };
    if !is_writable_fifo(&file) {
        return Err(EBADF);
    }
    Ok(file)
}

/// Whether `file` is a FIFO (pipe) open for writing.
fn is_writable_fifo(file: &crate::fs::File) -> bool {
    // SAFETY: `file` is a counted, open file with a valid inode.
    unsafe {
        let f = file.as_ptr();
        let mode = (*(*f).f_inode).i_mode;
        (*f).f_mode & bindings::FMODE_WRITE != 0
            && u32::from(mode) & bindings::S_IFMT == bindings::S_IFIFO
    }
}

/// Writes `buf` to a stream file the kernel was handed (a pipe, say) with one `kernel_write()`;
/// returns the bytes written. Blocks while the stream is full.
pub fn write_stream(file: &crate::fs::File, buf: &[u8]) -> Result<usize> {
    let mut pos: bindings::loff_t = 0;
    // SAFETY: `file` is a counted, open file; `buf` is valid for reads of its length.
    let n =
        unsafe { bindings::kernel_write(file.as_ptr(), buf.as_ptr().cast(), buf.len(), &mut pos) };
    if n < 0 {
        return Err(Error::from_errno(n as i32));
    }
    Ok(n as usize)
}

impl Drop for KFile {
    fn drop(&mut self) {
        // SAFETY: We own the file by the invariants; it is not used after this.
        unsafe { bindings::filp_close(self.raw(), core::ptr::null_mut()) };
    }
}
