// SPDX-License-Identifier: GPL-2.0

//! The HSM device of a metadata target, `/dev/hsm-<target>`, and which target a file is on.
//!
//! Each attached target has `/sys/fs/lustre/mdd/<target>/mount_point`; a file belongs
//! to the target whose mount point is on the same filesystem (`st_dev`). When several targets
//! share a filesystem, the first in name order is taken. The device takes Lustre's binary
//! structures ([`rustre_logic::uapi`]) through ioctls; its copytool side is read as a stream
//! of action lists.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustre_logic::fid::Fid;
use rustre_logic::uapi::{self, Copy, Request, UserAction, UserState};

/// Where the targets' parameters are (sysfs, readable by all).
pub const MDD_PARAMS: &str = "/sys/fs/lustre/mdd";

/// How an archiving copy opens the file: read-only, leaving atime alone, not a symbolic link,
/// and without waiting on leases.
pub const ARCHIVE_OPEN: i32 =
    libc::O_RDONLY | libc::O_NOATIME | libc::O_NOFOLLOW | libc::O_NONBLOCK;
/// How a restoring copy opens the file: write-only, without truncating (the released file kept
/// its size, its data is a hole).
pub const RESTORE_OPEN: i32 = libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// Opens the file of `fid` on the filesystem mounted at `mount` for a copy, with `flags`
/// ([`ARCHIVE_OPEN`], [`RESTORE_OPEN`], ...); `O_NOATIME` is dropped if it is not allowed
/// (`EPERM`: neither the file's owner nor `CAP_FOWNER`).
pub fn open_for_copy(mount: &Path, fid: &Fid, flags: i32) -> io::Result<File> {
    crate::fid::open_fid(mount, fid, flags).or_else(|e| match e.raw_os_error() {
        Some(libc::EPERM) if flags & libc::O_NOATIME != 0 => {
            crate::fid::open_fid(mount, fid, flags & !libc::O_NOATIME)
        }
        _ => Err(e),
    })
}

fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// An attached metadata target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `lustre-MDT0000`.
    pub name: String,
    /// Its mount point.
    pub mount: PathBuf,
    /// The `st_dev` of its mount point.
    pub dev: u64,
}

impl Target {
    /// Its filesystem name (`lustre`).
    pub fn fsname(&self) -> &str {
        let f = uapi::fsname(self.name.as_bytes());
        // `fsname` returns a prefix of the name, cut before ASCII, so this cannot fail.
        std::str::from_utf8(f).unwrap_or(&self.name)
    }
}

/// The attached targets, in name order, from `MDD_PARAMS`. A target whose mount point cannot
/// be read or reached is left out.
pub fn targets() -> io::Result<Vec<Target>> {
    let base = Path::new(MDD_PARAMS);
    let entries = std::fs::read_dir(base).map_err(|e| {
        let why = crate::worker::strerror(&e);
        io::Error::new(
            e.kind(),
            format!("cannot list targets in {MDD_PARAMS}: {why} (no target attached?)"),
        )
    })?;
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        let Ok(m) = std::fs::read_to_string(e.path().join("mount_point")) else {
            continue;
        };
        let mount = PathBuf::from(m.trim_end_matches('\n'));
        if let Ok(meta) = std::fs::metadata(&mount) {
            out.push(Target {
                name,
                mount,
                dev: meta.dev(),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The (name, `st_dev`) pairs of targets, for [`target_of`] and [`group_by_target`]: those
/// with an HSM device first (a filesystem has one HSM, that of the first target attached to
/// it; another target on it has none), each group in name order.
pub fn devs(targets: &[Target]) -> Vec<(String, u64)> {
    let (mut with, without): (Vec<_>, Vec<_>) = targets
        .iter()
        .map(|t| (t.name.clone(), t.dev))
        .partition(|(n, _)| Device::path(n).exists());
    with.extend(without);
    with
}

/// The target a file on filesystem `dev` belongs to: the first of `targets` on it.
pub fn target_of(targets: &[(String, u64)], dev: u64) -> Option<&str> {
    targets
        .iter()
        .find(|(_, d)| *d == dev)
        .map(|(n, _)| n.as_str())
}

/// Groups `items` (each with the `st_dev` of its file) by target, targets in the order their
/// first item came; the items on no target are returned apart, in order.
pub fn group_by_target<T>(
    targets: &[(String, u64)],
    items: Vec<(T, u64)>,
) -> (Vec<(String, Vec<T>)>, Vec<T>) {
    let mut groups: Vec<(String, Vec<T>)> = Vec::new();
    let mut orphans = Vec::new();
    for (item, dev) in items {
        let Some(name) = target_of(targets, dev) else {
            orphans.push(item);
            continue;
        };
        match groups.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(item),
            None => groups.push((name.to_owned(), vec![item])),
        }
    }
    (groups, orphans)
}

/// The targets of file system `fsname`.
pub fn of_fsname<'a>(targets: &'a [Target], fsname: &str) -> Vec<&'a Target> {
    targets.iter().filter(|t| t.fsname() == fsname).collect()
}

/// A whole `hsm_user_request` for `fids`; `E2BIG` if it carries too much.
pub fn build_request(
    action: UserAction,
    archive_id: u32,
    flags: u64,
    fids: &[Fid],
    data: &[u8],
) -> io::Result<Vec<u8>> {
    if fids.len() > uapi::MAX_ITEMS as usize || data.len() > uapi::MAX_DATA as usize {
        return Err(errno(libc::E2BIG));
    }
    if data.contains(&0) {
        return Err(errno(libc::EINVAL));
    }
    let req = Request {
        action: action as u32,
        archive_id,
        flags,
        itemcount: fids.len() as u32,
        data_len: data.len() as u32,
    };
    let mut buf = vec![0u8; uapi::REQUEST_LEN + fids.len() * uapi::USER_ITEM_LEN + data.len()];
    uapi::encode_request(&mut buf, &req, fids, data);
    Ok(buf)
}

/// An open `/dev/hsm-<target>`.
#[derive(Debug)]
pub struct Device {
    file: File,
}

impl Device {
    /// The device of a target.
    pub fn path(target: &str) -> PathBuf {
        PathBuf::from(format!("/dev/hsm-{target}"))
    }

    /// Opens the device of `target` read-write (non-blocking reads if `nonblock`).
    pub fn open(target: &str, nonblock: bool) -> io::Result<Device> {
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        if nonblock {
            options.custom_flags(libc::O_NONBLOCK);
        }
        // std opens close-on-exec.
        Ok(Device {
            file: options.open(Self::path(target))?,
        })
    }

    fn ioctl(&self, nr: u32, arg: *mut u8) -> io::Result<()> {
        // SAFETY: every ioctl of the device takes a pointer to a buffer of the size its
        // structure needs, which the callers below provide.
        if unsafe { libc::ioctl(self.file.as_raw_fd(), nr as libc::c_ulong, arg) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends a whole request built by [`build_request`]; may block while the upcall runs.
    pub fn request(&self, buf: &mut [u8]) -> io::Result<()> {
        self.ioctl(uapi::IOC_REQUEST, buf.as_mut_ptr())
    }

    /// The HSM state of `file`.
    pub fn state(&self, file: &File) -> io::Result<UserState> {
        let mut b = [0u8; uapi::STATE_LEN];
        UserState::default().encode(file.as_raw_fd(), &mut b);
        self.ioctl(uapi::IOC_STATE_GET, b.as_mut_ptr())?;
        UserState::decode(&b).ok_or_else(|| errno(libc::EIO))
    }

    /// Starts a copy; the kernel fills in the data version.
    pub fn copy_start(&self, c: &mut Copy) -> io::Result<()> {
        let mut b = [0u8; uapi::COPY_LEN];
        c.encode(&mut b);
        self.ioctl(uapi::IOC_COPY_START, b.as_mut_ptr())?;
        *c = Copy::decode(&b).ok_or_else(|| errno(libc::EIO))?;
        Ok(())
    }

    /// Ends a copy.
    pub fn copy_end(&self, c: &Copy) -> io::Result<()> {
        let mut b = [0u8; uapi::COPY_LEN];
        c.encode(&mut b);
        self.ioctl(uapi::IOC_COPY_END, b.as_mut_ptr())
    }

    /// Reports progress of a copy (`LL_IOC_HSM_PROGRESS`).
    pub fn progress(&self, p: &uapi::Progress) -> io::Result<()> {
        let mut b = [0u8; uapi::PROGRESS_LEN];
        p.encode(&mut b);
        self.ioctl(uapi::IOC_PROGRESS, b.as_mut_ptr())
    }

    /// Registers this open device as a copytool for `archive_ids` (none: all archives).
    pub fn register(&self, archive_ids: &[u32]) -> io::Result<()> {
        if archive_ids.len() > uapi::MAX_ARCHIVES_PER_AGENT {
            return Err(errno(libc::E2BIG));
        }
        let mut b = vec![0u8; uapi::KERNELCOMM_LEN + 4 * archive_ids.len()];
        uapi::encode_register(&mut b, archive_ids);
        self.ioctl(uapi::IOC_CT_START, b.as_mut_ptr())
    }

    /// Reads one action list into `buf`; returns its length (0 at end of file).
    pub fn read_list(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }
}

impl AsRawFd for Device {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Whether an ARCHIVE to `archive_id` must be refused: the file has a copy in another
/// archive (Lustre's "cannot change archive ID").
pub fn archive_id_conflict(state: &UserState, archive_id: u32) -> bool {
    state.states & rustre_logic::state::HS_EXISTS != 0
        && state.archive_id != 0
        && state.archive_id != archive_id
}

/// `strtoul(s, NULL, 0)` on the whole string: `0x` hexadecimal, a leading `0` octal, else
/// decimal; `None` if anything is left over or it overflows.
pub fn parse_c_number(s: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustre_logic::state::{HS_ARCHIVED, HS_EXISTS};

    fn t(list: &[(&str, u64)]) -> Vec<(String, u64)> {
        list.iter().map(|(n, d)| (n.to_string(), *d)).collect()
    }

    #[test]
    fn files_go_to_the_target_on_their_filesystem() {
        let targets = t(&[
            ("lustre-MDT0000", 10),
            ("lustre-MDT0001", 11),
            ("other-MDT0000", 10),
        ]);
        assert_eq!(target_of(&targets, 10), Some("lustre-MDT0000"));
        assert_eq!(target_of(&targets, 11), Some("lustre-MDT0001"));
        assert_eq!(target_of(&targets, 12), None);
        let files = vec![("a", 11), ("b", 10), ("c", 99), ("d", 11), ("e", 10)];
        let (groups, orphans) = group_by_target(&targets, files);
        assert_eq!(
            groups,
            vec![
                ("lustre-MDT0001".to_string(), vec!["a", "d"]),
                ("lustre-MDT0000".to_string(), vec!["b", "e"])
            ]
        );
        assert_eq!(orphans, vec!["c"]);
        let (groups, orphans) = group_by_target::<&str>(&targets, vec![]);
        assert!(groups.is_empty() && orphans.is_empty());
    }

    #[test]
    fn targets_by_fsname() {
        let mk = |n: &str| Target {
            name: n.into(),
            mount: PathBuf::from("/m"),
            dev: 1,
        };
        let all = vec![
            mk("a-b-MDT0000"),
            mk("lustre-MDT0000"),
            mk("lustre-MDT0001"),
            mk("lustre2-MDT0000"),
        ];
        let names: Vec<&str> = of_fsname(&all, "lustre")
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["lustre-MDT0000", "lustre-MDT0001"]);
        assert_eq!(of_fsname(&all, "a-b").len(), 1);
        assert!(of_fsname(&all, "lus").is_empty());
    }

    #[test]
    fn requests_are_lustre_layout() {
        let fids = [
            Fid {
                seq: 0x200000401,
                oid: 1,
                ver: 0,
            },
            Fid {
                seq: 5,
                oid: 6,
                ver: 0,
            },
        ];
        let b = build_request(UserAction::Archive, 2, 1, &fids, b"x=1").expect("builds");
        let r = Request::decode(&b).expect("decodes");
        assert_eq!(
            (r.action, r.archive_id, r.flags, r.itemcount, r.data_len),
            (10, 2, 1, 2, 3)
        );
        assert_eq!(r.checked_len(), Ok(b.len()));
        assert_eq!(Request::item_fid(&b, 1), fids[1]);
        assert_eq!(r.data(&b), Ok(&b"x=1"[..]));
        let big = vec![b'd'; uapi::MAX_DATA as usize + 1];
        let e = build_request(UserAction::Archive, 0, 0, &fids, &big).expect_err("too big");
        assert_eq!(e.raw_os_error(), Some(libc::E2BIG));
        let e = build_request(UserAction::Archive, 0, 0, &fids, b"a\0b").expect_err("NUL");
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn archive_id_changes() {
        let s = |states, archive_id| UserState {
            states,
            archive_id,
            ..Default::default()
        };
        assert!(!archive_id_conflict(&s(0, 0), 3));
        assert!(!archive_id_conflict(&s(HS_EXISTS | HS_ARCHIVED, 3), 3));
        assert!(archive_id_conflict(&s(HS_EXISTS, 2), 3));
        // A removed copy (no EXISTS) leaves the archive id behind: not a conflict.
        assert!(!archive_id_conflict(&s(0, 2), 3));
    }

    #[test]
    fn c_numbers() {
        assert_eq!(parse_c_number("0"), Some(0));
        assert_eq!(parse_c_number("17"), Some(17));
        assert_eq!(parse_c_number("0x1f"), Some(31));
        assert_eq!(parse_c_number("010"), Some(8));
        assert_eq!(parse_c_number("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "0x", "1a", "-1", "08", "18446744073709551616", " 1"] {
            assert_eq!(parse_c_number(bad), None, "{bad}");
        }
    }
}
