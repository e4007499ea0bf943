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
pub fn is_writable_fifo(file: &crate::fs::File) -> bool {
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
