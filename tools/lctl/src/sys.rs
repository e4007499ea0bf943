// SPDX-License-Identifier: GPL-2.0

//! The few system calls lctl needs that std does not offer: `strerror(3)` text for error
//! messages, and mounting debugfs the way Lustre's `cfs_get_param_paths()` does.

use std::ffi::CStr;
use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::ptr;

/// An errno value, displayed as `strerror(3)` text ("No such file or directory").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const EIO: Errno = Errno(libc::EIO);
    pub const EOPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);
}

impl From<&io::Error> for Errno {
    fn from(err: &io::Error) -> Self {
        Errno(err.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl From<io::Error> for Errno {
    fn from(err: io::Error) -> Self {
        Errno::from(&err)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&strerror(self.0))
    }
}

/// The `strerror(3)` text of `errno`, as C programs print it (no "(os error N)" suffix).
pub fn strerror(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; the XSI `strerror_r` (which the
    // libc crate binds on Linux) NUL-terminates the message within that length on success.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: on success the buffer holds a NUL-terminated string (see above).
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
    text.to_string_lossy().into_owned()
}

/// `DEBUGFS_MAGIC` from `<linux/magic.h>`.
const DEBUGFS_MAGIC: i64 = 0x6462_6720;

/// Mounts debugfs on `/sys/kernel/debug` unless it is already mounted there, as Lustre's
/// `cfs_try_mount_sys_kernel_debug()` does before searching the parameter trees. Failure
/// (no permission, no such directory, already busy) is ignored: the debugfs roots are then
/// simply not found.
pub fn try_mount_debugfs() {
    let dir = c"/sys/kernel/debug";
    let mut stat = MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `dir` is NUL-terminated and `stat` points to writable memory of the right type.
    let rc = unsafe { libc::statfs(dir.as_ptr(), stat.as_mut_ptr()) };
    if rc == 0 {
        // SAFETY: statfs() succeeded, so it filled the structure (which was zeroed anyway).
        let stat = unsafe { stat.assume_init() };
        #[allow(clippy::unnecessary_cast)] // f_type is i64 on 64-bit targets only
        if stat.f_type as i64 == DEBUGFS_MAGIC {
            return;
        }
    }
    // SAFETY: all strings are NUL-terminated; debugfs takes no mount data.
    unsafe {
        libc::mount(
            c"debugfs".as_ptr(),
            dir.as_ptr(),
            c"debugfs".as_ptr(),
            0,
            ptr::null(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_matches_c_text() {
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert_eq!(strerror(libc::EACCES), "Permission denied");
        assert_eq!(Errno::EINVAL.to_string(), "Invalid argument");
    }

    #[test]
    fn errno_from_io_error() {
        let err = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(Errno::from(&err), Errno(libc::EPERM));
        let custom = io::Error::other("no errno");
        assert_eq!(Errno::from(custom), Errno::EIO);
    }
}
