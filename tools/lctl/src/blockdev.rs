// SPDX-License-Identifier: GPL-2.0

//! `lctl blockdev_attach`, `blockdev_detach` and `blockdev_info`: Lustre's commands for its
//! `llite_lloop` block devices (removed in Lustre 2.10), over rustre's lloop driver and the
//! [`lloop`] library.
//!
//! Lustre's lctl attached a file and then created the device node the user named, with
//! `mknod(S_IFBLK | 0600)`, unless it existed already as the same block device; detaching
//! unlinked that node again. The lloop driver's own nodes, `/dev/lloopN`, come from devtmpfs:
//! they can be named too, but are never created nor removed here.
//!
//! The functions return a [`Failure`] (errno and message); `main.rs` prints it.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustre_logic::fid::Fid;

use crate::sys::Errno;

/// How a command failed: the exit status and the message lines (printed after
/// `lctl: COMMAND: `).
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub errno: Errno,
    pub message: String,
}

impl Failure {
    fn new(errno: i32, message: impl Into<String>) -> Self {
        Failure {
            errno: Errno(errno),
            message: message.into(),
        }
    }

    /// A failure of `what`, with the [`lloop::explain`] text of `e`.
    fn io(what: impl std::fmt::Display, e: &io::Error) -> Self {
        Failure::new(errno_of(e), format!("{what}: {}", lloop::explain(e)))
    }

    /// A failure reported by the [`lloop`] library, whose messages name what failed.
    fn lloop(e: &io::Error) -> Self {
        Failure::new(errno_of(e), lloop::explain(e))
    }
}

/// The errno behind an error: its own or, for the [`lloop`] library's errors with context,
/// the one it keeps ([`lloop::errno`]); otherwise one for the kind of error.
pub fn errno_of(e: &io::Error) -> i32 {
    if let Some(errno) = lloop::errno(e) {
        return errno;
    }
    match e.kind() {
        io::ErrorKind::NotFound => libc::ENOENT,
        io::ErrorKind::PermissionDenied => libc::EACCES,
        io::ErrorKind::AlreadyExists => libc::EEXIST,
        io::ErrorKind::InvalidInput => libc::EINVAL,
        io::ErrorKind::WouldBlock => libc::EAGAIN,
        io::ErrorKind::ResourceBusy => libc::EBUSY,
        io::ErrorKind::StorageFull => libc::ENOSPC,
        io::ErrorKind::IsADirectory => libc::EISDIR,
        io::ErrorKind::NotADirectory => libc::ENOTDIR,
        io::ErrorKind::ReadOnlyFilesystem => libc::EROFS,
        io::ErrorKind::Unsupported => libc::EOPNOTSUPP,
        _ => libc::EIO,
    }
}

// ---------------------------------------------------------------------------------------------
// Pure decisions
// ---------------------------------------------------------------------------------------------

/// Whether `path` (absolute, its directory free of symbolic links: see [`node_location`]) is in
/// the lloop driver's namespace in `/dev` (`/dev/lloopN`, `/dev/lloop-control`): nodes that
/// devtmpfs creates and removes, which lctl must neither remove nor create.
pub fn is_lloop_node(path: &Path) -> bool {
    let in_dev = path
        .parent()
        .is_some_and(|d| d.components().eq(Path::new("/dev").components()));
    let lloop_name = path
        .file_name()
        .is_some_and(|n| n.as_bytes().starts_with(b"lloop"));
    in_dev && lloop_name
}

/// What `stat()` says of the device name given to `blockdev_attach`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Does not exist.
    Missing,
    /// A block device node with this `st_rdev`.
    Block(u64),
    /// Something else.
    Other,
}

/// What `blockdev_attach` does with the device name once the file is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeAction {
    /// It is the attached device already (the driver's own node, or one made before).
    Keep,
    /// Create it with `mknod()`.
    Create,
    /// It exists and is something else: detach again, fail with `EEXIST`.
    Exists,
    /// It does not exist but is an lloop node name (another device's): detach again, fail with
    /// `EINVAL` rather than make a node devtmpfs would later find in its place.
    Reserved,
}

/// Decides what to do with the device name: `state` is what it is, `rdev` the attached
/// device's number, `lloop_name` whether it is an lloop node name ([`is_lloop_node`]).
pub fn node_action(state: NodeState, rdev: u64, lloop_name: bool) -> NodeAction {
    match state {
        NodeState::Block(r) if r == rdev => NodeAction::Keep,
        NodeState::Block(_) | NodeState::Other => NodeAction::Exists,
        NodeState::Missing if lloop_name => NodeAction::Reserved,
        NodeState::Missing => NodeAction::Create,
    }
}

/// What an lloop device is attached to, for `blockdev_info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attached {
    /// Nothing.
    No,
    /// The file with this FID.
    Fid(Fid),
    /// A file whose FID could not be found: its inode number and, if known, its path.
    Inode { ino: u64, path: Option<String> },
}

/// The line `blockdev_info` prints (Lustre's text for the first two forms).
pub fn info_line(attached: &Attached) -> String {
    match attached {
        Attached::No => "lloop device info: Not attached".to_owned(),
        Attached::Fid(fid) => format!("lloop device info: attached to inode {fid}"),
        Attached::Inode {
            ino,
            path: Some(path),
        } => {
            format!("lloop device info: attached to inode {ino} ({path})")
        }
        Attached::Inode { ino, path: None } => {
            format!("lloop device info: attached to inode {ino}")
        }
    }
}

/// Parses the `MAJOR:MINOR` of a sysfs `dev` attribute.
pub fn parse_maj_min(s: &str) -> Option<(u32, u32)> {
    let (major, minor) = s.trim().split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The device number in a `/sys/block/*` entry name, if it is an lloop device (`lloop7` → 7).
pub fn sysfs_lloop_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("lloop")?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// The system side
// ---------------------------------------------------------------------------------------------

/// Where `path` is, for [`is_lloop_node`]: absolute, its directory canonical (the last
/// component is kept as it is, so a symbolic link is the link). `None` if the directory
/// cannot be resolved or the path has no last component.
pub fn node_location(path: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    let name = abs.file_name()?;
    let dir = fs::canonicalize(abs.parent()?).ok()?;
    Some(dir.join(name))
}

fn state_of(path: &Path) -> io::Result<NodeState> {
    match fs::metadata(path) {
        Ok(m) if m.file_type().is_block_device() => Ok(NodeState::Block(m.rdev())),
        Ok(_) => Ok(NodeState::Other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(NodeState::Missing),
        Err(e) => Err(e),
    }
}

fn mknod_block(path: &Path, rdev: u64) -> io::Result<()> {
    use rustix::fs::{mknodat, FileType, Mode, CWD};
    mknodat(
        CWD,
        path,
        FileType::BlockDevice,
        Mode::from_raw_mode(0o600),
        rdev,
    )?;
    Ok(())
}

/// `blockdev_attach FILE DEVICE`: attaches `file` (opened read-write, as Lustre did) to a free
/// lloop device and makes `device_name` a node of that device.
pub fn attach(file: &Path, device_name: &Path) -> Result<(), Failure> {
    // Lustre refused files it could not open read-write; lloop::attach would fall back to a
    // read-only device.
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .map_err(|e| Failure::io(file.display(), &e))?;
    let real =
        lloop::attach(file, &lloop::AttachOptions::default()).map_err(|e| Failure::lloop(&e))?;
    let undo = |failure: Failure| -> Failure {
        match lloop::detach(&real) {
            Ok(()) => failure,
            Err(e) => Failure {
                message: format!(
                    "{}\n{} stays attached to {}: {}",
                    failure.message,
                    file.display(),
                    real.display(),
                    lloop::explain(&e)
                ),
                ..failure
            },
        }
    };
    let rdev = match fs::metadata(&real) {
        Ok(m) if m.file_type().is_block_device() => m.rdev(),
        Ok(_) => {
            return Err(undo(Failure::new(
                libc::ENOTBLK,
                format!("{}: not a block device", real.display()),
            )))
        }
        Err(e) => return Err(undo(Failure::io(real.display(), &e))),
    };
    let state = state_of(device_name).map_err(|e| undo(Failure::io(device_name.display(), &e)))?;
    let location = node_location(device_name);
    let lloop_name =
        location.as_deref().is_some_and(is_lloop_node) && location != node_location(&real);
    match node_action(state, rdev, lloop_name) {
        NodeAction::Keep => Ok(()),
        NodeAction::Create => mknod_block(device_name, rdev).map_err(|e| {
            undo(Failure::io(
                format!("creating {}", device_name.display()),
                &e,
            ))
        }),
        NodeAction::Exists => Err(undo(Failure::new(
            libc::EEXIST,
            format!(
                "{}: exists and is not {}",
                device_name.display(),
                real.display()
            ),
        ))),
        NodeAction::Reserved => Err(undo(Failure::new(
            libc::EINVAL,
            format!(
                "{}: is the name of another lloop device; the file went to {}",
                device_name.display(),
                real.display()
            ),
        ))),
    }
}

/// The lloop device `device_name` is a node of: its number, from the `MAJOR:MINOR` of the
/// `/sys/block/lloop*` entries (from the node's name if `/sys/block` cannot be read).
fn lloop_number(device_name: &Path) -> Result<u32, Failure> {
    let m = fs::metadata(device_name).map_err(|e| Failure::io(device_name.display(), &e))?;
    if !m.file_type().is_block_device() {
        return Err(Failure::new(
            libc::ENOTBLK,
            format!("{}: not a block device", device_name.display()),
        ));
    }
    let want = (
        libc::major(m.rdev() as libc::dev_t),
        libc::minor(m.rdev() as libc::dev_t),
    );
    let found = match fs::read_dir("/sys/block") {
        Ok(dir) => dir.flatten().find_map(|entry| {
            let n = entry.file_name().to_str().and_then(sysfs_lloop_number)?;
            let dev = fs::read_to_string(entry.path().join("dev")).ok()?;
            (parse_maj_min(&dev) == Some(want)).then_some(n)
        }),
        Err(_) => fs::canonicalize(device_name)
            .ok()
            .and_then(|p| lloop::device_number(&p)),
    };
    found.ok_or_else(|| {
        Failure::new(
            libc::ENOTTY,
            format!("{}: not an lloop device", device_name.display()),
        )
    })
}

/// The node to send ioctls to: the driver's `/dev/lloopN` if it is the same device (the user's
/// node may be on a `nodev` filesystem, where it cannot be opened), else the user's.
fn ioctl_node(device_name: &Path, n: u32) -> PathBuf {
    let real = lloop::device_path(n);
    match (state_of(&real), state_of(device_name)) {
        (Ok(NodeState::Block(a)), Ok(NodeState::Block(b))) if a == b => real,
        _ => device_name.to_path_buf(),
    }
}

/// `blockdev_detach DEVICE`: detaches the file of `device_name` and removes that node, unless
/// it is one of the driver's own (`/dev/lloop*`). Returns a warning if the removal failed.
pub fn detach(device_name: &Path) -> Result<Option<String>, Failure> {
    let n = lloop_number(device_name)?;
    lloop::detach(&ioctl_node(device_name, n)).map_err(|e| Failure::lloop(&e))?;
    let location = node_location(device_name);
    if location.as_deref().is_none_or(is_lloop_node) {
        return Ok(None);
    }
    match fs::remove_file(device_name) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Ok(Some(format!(
            "removing {}: {}",
            device_name.display(),
            lloop::explain(&e)
        ))),
        _ => Ok(None),
    }
}

/// `blockdev_info DEVICE`: what `device_name` is attached to, as [`info_line`] prints it.
pub fn info(device_name: &Path) -> Result<Attached, Failure> {
    let n = lloop_number(device_name)?;
    let Some(status) =
        lloop::status(&ioctl_node(device_name, n)).map_err(|e| Failure::lloop(&e))?
    else {
        return Ok(Attached::No);
    };
    // sysfs follows renames (d_path); the name in the status is the one given at attach time.
    let path = fs::read_to_string(format!("/sys/block/lloop{n}/lloop/backing_file"))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let name = status.file_name();
            (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
        });
    let Some(path) = path else {
        return Ok(Attached::Inode {
            ino: status.inode,
            path: None,
        });
    };
    // The path must still name the attached inode (not a file put in its place since).
    let same =
        fs::symlink_metadata(&path).is_ok_and(|m| status.inode == 0 || m.ino() == status.inode);
    match same.then(|| lfs::fid::path2fid(Path::new(&path))) {
        Some(Ok(fid)) => Ok(Attached::Fid(fid)),
        _ => Ok(Attached::Inode {
            ino: status.inode,
            path: Some(path),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lloop_nodes_are_recognised() {
        assert!(is_lloop_node(Path::new("/dev/lloop0")));
        assert!(is_lloop_node(Path::new("/dev/lloop17")));
        assert!(is_lloop_node(Path::new("/dev/lloop-control")));
        assert!(is_lloop_node(Path::new("//dev//lloop3")));
        assert!(is_lloop_node(Path::new("/dev/./lloop3")));
        assert!(!is_lloop_node(Path::new("/dev/loop0")));
        assert!(!is_lloop_node(Path::new("/dev/mapper/lloop0")));
        assert!(!is_lloop_node(Path::new("/tmp/lloop0")));
        assert!(!is_lloop_node(Path::new("/tmp/lloop.123")));
        assert!(!is_lloop_node(Path::new("/dev")));
        assert!(!is_lloop_node(Path::new("/")));
    }

    #[test]
    fn node_locations_resolve_the_directory() {
        let tmp = fs::canonicalize(std::env::temp_dir()).unwrap();
        let loc = node_location(&tmp.join(".").join("x")).unwrap();
        assert_eq!(loc, tmp.join("x"));
        assert_eq!(node_location(Path::new("/no/such/dir/x")), None);
        assert!(node_location(Path::new("/")).is_none());
        // A path in /dev through a symbolic link to it is still in /dev.
        let link = tmp.join(format!("lctl-blockdev-test-{}", std::process::id()));
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink("/dev", &link).unwrap();
        let loc = node_location(&link.join("lloop0"));
        fs::remove_file(&link).unwrap();
        assert_eq!(loc, Some(PathBuf::from("/dev/lloop0")));
        assert!(is_lloop_node(&loc.unwrap()));
    }

    #[test]
    fn node_actions() {
        use NodeAction::*;
        assert_eq!(node_action(NodeState::Missing, 0x1234, false), Create);
        assert_eq!(node_action(NodeState::Missing, 0x1234, true), Reserved);
        assert_eq!(node_action(NodeState::Block(0x1234), 0x1234, false), Keep);
        assert_eq!(node_action(NodeState::Block(0x1234), 0x1234, true), Keep);
        assert_eq!(node_action(NodeState::Block(0x1235), 0x1234, false), Exists);
        assert_eq!(node_action(NodeState::Block(0x1235), 0x1234, true), Exists);
        assert_eq!(node_action(NodeState::Other, 0x1234, false), Exists);
    }

    #[test]
    fn info_lines() {
        assert_eq!(info_line(&Attached::No), "lloop device info: Not attached");
        let fid = Fid::from_inode(0x2a, 7).expect("IGIF");
        assert_eq!(
            info_line(&Attached::Fid(fid)),
            "lloop device info: attached to inode [0x2a:0x7:0x0]"
        );
        let with_path = Attached::Inode {
            ino: 42,
            path: Some("/mnt/f (deleted)".to_owned()),
        };
        assert_eq!(
            info_line(&with_path),
            "lloop device info: attached to inode 42 (/mnt/f (deleted))"
        );
        let bare = Attached::Inode {
            ino: 42,
            path: None,
        };
        assert_eq!(info_line(&bare), "lloop device info: attached to inode 42");
    }

    #[test]
    fn sysfs_names_and_numbers() {
        assert_eq!(parse_maj_min("254:3\n"), Some((254, 3)));
        assert_eq!(parse_maj_min("254"), None);
        assert_eq!(parse_maj_min("a:b"), None);
        assert_eq!(sysfs_lloop_number("lloop12"), Some(12));
        assert_eq!(sysfs_lloop_number("lloop"), None);
        assert_eq!(sysfs_lloop_number("lloop1p1"), None);
        assert_eq!(sysfs_lloop_number("loop1"), None);
    }

    #[test]
    fn errnos_survive_lloop_context() {
        let raw = io::Error::from_raw_os_error(libc::EBUSY);
        assert_eq!(errno_of(&raw), libc::EBUSY);
        let wrapped = io::Error::new(
            raw.kind(),
            format!("detach /dev/lloop0: {}", lloop::explain(&raw)),
        );
        assert_eq!(errno_of(&wrapped), libc::EBUSY);
        assert_eq!(errno_of(&io::Error::other("?")), libc::EIO);
        let f = Failure::io("/x", &io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(f.errno, Errno::ENOENT);
        assert!(f.message.starts_with("/x: "), "{}", f.message);
    }

    #[test]
    fn non_block_devices_are_refused() {
        let tmp = std::env::temp_dir();
        let e = lloop_number(&tmp).unwrap_err();
        assert_eq!(e.errno, Errno(libc::ENOTBLK));
        let e = lloop_number(Path::new("/no/such/node")).unwrap_err();
        assert_eq!(e.errno, Errno::ENOENT);
    }
}
