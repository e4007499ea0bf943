// SPDX-License-Identifier: GPL-2.0

//! The few system calls lctl needs that std does not offer: `strerror(3)` text for error
//! messages, and mounting debugfs the way Lustre's `cfs_get_param_paths()` does.

use std::fmt;
use std::io;

use rustix::mount::MountFlags;

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
    // std's message is glibc's strerror_r() text followed by " (os error N)".
    let text = io::Error::from_raw_os_error(errno).to_string();
    let suffix = format!(" (os error {errno})");
    match text.strip_suffix(&suffix) {
        Some(text) => text.to_owned(),
        None => text,
    }
}

/// `DEBUGFS_MAGIC` from `<linux/magic.h>`.
const DEBUGFS_MAGIC: i64 = 0x6462_6720;

/// Mounts debugfs on `/sys/kernel/debug` unless it is already mounted there, as Lustre's
/// `cfs_try_mount_sys_kernel_debug()` does before searching the parameter trees. Failure
/// (no permission, no such directory, already busy) is ignored: the debugfs roots are then
/// simply not found.
pub fn try_mount_debugfs() {
    let dir = "/sys/kernel/debug";
    if let Ok(stat) = rustix::fs::statfs(dir) {
        #[allow(clippy::unnecessary_cast)] // f_type is i64 on 64-bit targets only
        if stat.f_type as i64 == DEBUGFS_MAGIC {
            return;
        }
    }
    // debugfs takes no mount data.
    let _ = rustix::mount::mount("debugfs", dir, "debugfs", MountFlags::empty(), None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_matches_c_text() {
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert_eq!(strerror(libc::EACCES), "Permission denied");
        assert_eq!(Errno::EINVAL.to_string(), "Invalid argument");
        assert_eq!(strerror(libc::EOPNOTSUPP), "Operation not supported");
        assert_eq!(strerror(4242), "Unknown error 4242");
    }

    #[test]
    fn errno_from_io_error() {
        let err = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(Errno::from(&err), Errno(libc::EPERM));
        let custom = io::Error::other("no errno");
        assert_eq!(Errno::from(custom), Errno::EIO);
    }
}
