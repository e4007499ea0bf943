// SPDX-License-Identifier: GPL-2.0

//! Attaching files to lloop devices: the control node (`/dev/lloop-control`), the loop ioctls
//! on `/dev/lloopN`, and the devices' sysfs attributes. Used by `lloop` and by
//! `lctl blockdev_*`.

use rustre_logic::loop_uapi::{self as uapi, LoopConfig, LoopInfo64};
use std::{
    fs::{self, File, OpenOptions},
    io,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

/// The control node.
pub const CONTROL: &str = "/dev/lloop-control";

/// How to attach a file.
#[derive(Clone, Debug, Default)]
pub struct AttachOptions {
    /// Attach read-only (also when the file cannot be opened for writing).
    pub read_only: bool,
    /// Byte offset of the device in the file (a multiple of 512).
    pub offset: u64,
    /// Most bytes of the file to use, 0 for all.
    pub sizelimit: u64,
    /// Logical block size, 0 for the default (the file's direct I/O alignment).
    pub block_size: u32,
    /// Detach automatically when the last opener closes the device.
    pub autoclear: bool,
    /// Turn direct I/O off after attaching (it is on wherever the file allows it).
    pub buffered: bool,
}

/// One attached device, as `lloop list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `/dev/lloopN`.
    pub device: PathBuf,
    /// The backing file's path.
    pub backing_file: String,
    /// Size of the device in bytes.
    pub size: u64,
    /// Offset in the file.
    pub offset: u64,
    /// Direct I/O on.
    pub dio: bool,
    /// Why direct I/O is off (`lloop/dio_reason`), when it is.
    pub dio_reason: Option<String>,
    /// Autoclear on.
    pub autoclear: bool,
}

fn ioctl(f: &File, cmd: u32, arg: libc::c_ulong) -> io::Result<i32> {
    // SAFETY: The commands used here take an integer or a pointer to a buffer of the size the
    // command defines, which the callers pass.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), cmd as libc::c_ulong, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// An error message naming what failed, with the errno of the call behind it.
#[derive(Debug)]
struct Context {
    errno: Option<i32>,
    message: String,
}

impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Context {}

fn with_context(e: io::Error, what: impl std::fmt::Display) -> io::Error {
    let context = Context {
        errno: errno(&e),
        message: format!("{what}: {}", explain(&e)),
    };
    io::Error::new(e.kind(), context)
}

/// The errno behind an error of this library, where one is known: the error's own, or that
/// of the call an error with added context came from.
pub fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<Context>())
            .and_then(|c| c.errno)
    })
}

/// A sentence for the errors the driver returns.
pub fn explain(e: &io::Error) -> String {
    let why = match e.raw_os_error() {
        Some(libc::EBUSY) => "device busy (attached, open or mounted)",
        Some(libc::ENXIO) => "no file attached",
        Some(libc::ENOSPC) => "all max_loop devices are in use",
        Some(libc::EPERM) => "permission denied (CAP_SYS_ADMIN needed)",
        Some(libc::ENOTTY) => "not an lloop device",
        Some(libc::EINVAL) => "invalid argument (a regular file is needed; offsets multiples of 512 within the file; block sizes powers of two from 512 to the page size)",
        _ => return e.to_string(),
    };
    format!("{why} ({e})")
}

/// Opens the control node; a clear error if the module is not loaded.
pub fn control() -> io::Result<File> {
    File::open(CONTROL).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            io::Error::new(
                e.kind(),
                format!("{CONTROL} not found: is the lloop module loaded?"),
            )
        } else {
            with_context(e, CONTROL)
        }
    })
}

/// The device node of lloop number `n`.
pub fn device_path(n: u32) -> PathBuf {
    PathBuf::from(format!("/dev/lloop{n}"))
}

/// Number of an lloop device node (`/dev/lloop3` → 3).
pub fn device_number(dev: &Path) -> Option<u32> {
    dev.file_name()?
        .to_str()?
        .strip_prefix("lloop")?
        .parse()
        .ok()
}

/// `LOOP_CTL_GET_FREE`: an unattached device, created if needed.
pub fn get_free() -> io::Result<u32> {
    let c = control()?;
    ioctl(&c, uapi::LOOP_CTL_GET_FREE, 0)
        .map(|n| n as u32)
        .map_err(|e| with_context(e, "no free lloop device"))
}

/// `LOOP_CTL_ADD` / `LOOP_CTL_REMOVE`.
pub fn add_remove(n: u32, add: bool) -> io::Result<()> {
    let c = control()?;
    let cmd = if add {
        uapi::LOOP_CTL_ADD
    } else {
        uapi::LOOP_CTL_REMOVE
    };
    ioctl(&c, cmd, libc::c_ulong::from(n))
        .map(|_| ())
        .map_err(|e| with_context(e, device_path(n).display()))
}

fn open_backing(file: &Path, read_only: bool) -> io::Result<(File, bool)> {
    if !read_only {
        match OpenOptions::new().read(true).write(true).open(file) {
            Ok(f) => return Ok((f, false)),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EACCES | libc::EROFS | libc::EPERM)
                ) => {}
            Err(e) => return Err(with_context(e, file.display())),
        }
    }
    let f = File::open(file).map_err(|e| with_context(e, file.display()))?;
    Ok((f, true))
}

/// Checks what the kernel would refuse anyway, for a clearer message.
fn check_backing(file: &Path, f: &File) -> io::Result<()> {
    let m = f.metadata().map_err(|e| with_context(e, file.display()))?;
    if !m.file_type().is_file() {
        let what = if m.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {what}; lloop attaches regular files", file.display()),
        ));
    }
    Ok(())
}

/// Attaches `file` to a free device (`LOOP_CTL_GET_FREE`, then `LOOP_CONFIGURE`); returns the
/// device node.
pub fn attach(file: &Path, opts: &AttachOptions) -> io::Result<PathBuf> {
    let (f, forced_ro) = open_backing(file, opts.read_only)?;
    check_backing(file, &f)?;
    let abs = fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let mut info = LoopInfo64 {
        offset: opts.offset,
        sizelimit: opts.sizelimit,
        ..Default::default()
    };
    info.set_file_name(abs.as_os_str().as_encoded_bytes());
    if opts.read_only || forced_ro {
        info.flags |= uapi::LO_FLAGS_READ_ONLY;
    }
    if opts.autoclear {
        info.flags |= uapi::LO_FLAGS_AUTOCLEAR;
    }
    let mut cfg = [0u8; uapi::LOOP_CONFIG_LEN];
    cfg[0..4].copy_from_slice(&(f.as_raw_fd() as u32).to_le_bytes());
    cfg[4..8].copy_from_slice(&opts.block_size.to_le_bytes());
    info.encode(&mut cfg[8..]);
    debug_assert!(LoopConfig::decode(&cfg).is_ok());
    // Another attacher may take the free device first: try again a few times.
    for _ in 0..8 {
        let n = get_free()?;
        let dev = device_path(n);
        let d = File::open(&dev).map_err(|e| with_context(e, dev.display()))?;
        match ioctl(&d, uapi::LOOP_CONFIGURE, cfg.as_ptr() as libc::c_ulong) {
            Ok(_) => {
                if opts.buffered {
                    ioctl(&d, uapi::LOOP_SET_DIRECT_IO, 0)
                        .map_err(|e| with_context(e, dev.display()))?;
                }
                return Ok(dev);
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => continue,
            Err(e) => {
                return Err(with_context(
                    e,
                    format!("attach {} to {}", file.display(), dev.display()),
                ))
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::WouldBlock,
        "every free lloop device was taken by another attach; try again",
    ))
}

fn open_device(dev: &Path) -> io::Result<File> {
    let f = File::open(dev).map_err(|e| with_context(e, dev.display()))?;
    if device_number(dev).is_none() && !is_lloop(&f) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not an lloop device", dev.display()),
        ));
    }
    Ok(f)
}

fn is_lloop(f: &File) -> bool {
    let mut b = [0u8; uapi::LOOP_INFO64_LEN];
    !matches!(ioctl(f, uapi::LOOP_GET_STATUS64, b.as_mut_ptr() as libc::c_ulong), Err(e) if e.raw_os_error() == Some(libc::ENOTTY))
}

/// `LOOP_CLR_FD`: detaches the file of `dev`.
pub fn detach(dev: &Path) -> io::Result<()> {
    let f = open_device(dev)?;
    ioctl(&f, uapi::LOOP_CLR_FD, 0)
        .map(|_| ())
        .map_err(|e| with_context(e, format!("detach {}", dev.display())))
}

/// `LOOP_GET_STATUS64`; `None` if nothing is attached.
pub fn status(dev: &Path) -> io::Result<Option<LoopInfo64>> {
    let f = open_device(dev)?;
    let mut b = [0u8; uapi::LOOP_INFO64_LEN];
    match ioctl(&f, uapi::LOOP_GET_STATUS64, b.as_mut_ptr() as libc::c_ulong) {
        Ok(_) => Ok(LoopInfo64::decode(&b)),
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Ok(None),
        Err(e) => Err(with_context(e, dev.display())),
    }
}

/// `LOOP_SET_DIRECT_IO`.
pub fn set_direct_io(dev: &Path, on: bool) -> io::Result<()> {
    let f = open_device(dev)?;
    ioctl(&f, uapi::LOOP_SET_DIRECT_IO, libc::c_ulong::from(on))
        .map(|_| ())
        .map_err(|e| with_context(e, dev.display()))
}

/// `LOOP_SET_CAPACITY`: follow a change of the file's size.
pub fn set_capacity(dev: &Path) -> io::Result<()> {
    let f = open_device(dev)?;
    ioctl(&f, uapi::LOOP_SET_CAPACITY, 0)
        .map(|_| ())
        .map_err(|e| with_context(e, dev.display()))
}

fn sys(name: &str, attr: &str) -> Option<String> {
    fs::read_to_string(format!("/sys/block/{name}/{attr}"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// The attached devices, from sysfs, by device number.
pub fn list() -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for e in fs::read_dir("/sys/block")? {
        let name = e?.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix("lloop")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(backing_file) = sys(&name, "lloop/backing_file") else {
            continue;
        };
        let num = |a: &str| {
            sys(&name, a)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        out.push(Entry {
            device: device_path(n),
            backing_file,
            size: num("size") * 512,
            offset: num("lloop/offset"),
            dio: num("lloop/dio") != 0,
            dio_reason: sys(&name, "lloop/dio_reason").filter(|r| r != "-"),
            autoclear: num("lloop/autoclear") != 0,
        });
    }
    out.sort_by_key(|e| device_number(&e.device));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_errno() {
        let e = with_context(io::Error::from_raw_os_error(libc::ENXIO), "/dev/lloop0");
        assert_eq!(errno(&e), Some(libc::ENXIO));
        assert_eq!(e.raw_os_error(), None);
        assert!(
            e.to_string().starts_with("/dev/lloop0: no file attached"),
            "{e}"
        );
        let twice = with_context(e, "detach");
        assert_eq!(errno(&twice), Some(libc::ENXIO));
        assert!(
            twice
                .to_string()
                .starts_with("detach: /dev/lloop0: no file attached"),
            "{twice}"
        );
        let plain = io::Error::new(io::ErrorKind::InvalidInput, "not a file");
        assert_eq!(errno(&plain), None);
    }

    #[test]
    fn device_names() {
        assert_eq!(device_number(Path::new("/dev/lloop12")), Some(12));
        assert_eq!(device_number(Path::new("/dev/loop1")), None);
        assert_eq!(device_path(3), PathBuf::from("/dev/lloop3"));
    }

    #[test]
    fn errors_read_as_sentences() {
        let e = io::Error::from_raw_os_error(libc::EBUSY);
        assert!(explain(&e).starts_with("device busy"));
        assert!(with_context(e, "/dev/lloop0")
            .to_string()
            .starts_with("/dev/lloop0: device busy"));
    }

    #[test]
    fn directories_are_refused_before_the_kernel() {
        let d = std::env::temp_dir();
        let f = File::open(&d).unwrap();
        let e = check_backing(&d, &f).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
    }
}
