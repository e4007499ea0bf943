// SPDX-License-Identifier: GPL-2.0

//! `lfs hsm_archive|hsm_restore|hsm_release|hsm_remove|hsm_cancel`, `lfs hsm_state` and
//! `lfs hsm_upcall`, through the targets' HSM devices ([`crate::hsm`]).
//!
//! Each command returns its exit status: 0, 22 (`EINVAL`) for a command line it cannot use,
//! else the errno (or worker status) of the last failure.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustre_getopt::{self as getopt, HasArg, OptSpec};
use rustre_logic::fid::Fid;
use rustre_logic::mask::{Action, ACTIONS};
use rustre_logic::state::StateText;
use rustre_logic::uapi::{self, ActionItem, Copy, UserAction};

use crate::fid::path2fid;
use crate::hsm::{self, archive_id_conflict, build_request, parse_c_number, Device, Target};
use crate::worker::{self, errno_of, strerror};

/// Usage of the HSM commands.
pub const USAGE: &str = "lfs hsm_archive [--archive|-a NUM] [--data|-d DATA] [--filelist|-l FILE] FILE...\n       \
                         lfs hsm_restore|hsm_release|hsm_cancel [--data|-d DATA] [--filelist|-l FILE] FILE...\n       \
                         lfs hsm_remove [--archive|-a NUM] [--data|-d DATA] [--filelist|-l FILE] FILE...\n       \
                         lfs hsm_state FILE...\n       \
                         lfs hsm_action FILE...\n       \
                         lfs hsm_upcall [--mount|-M DIR] WORKER ACTION FSNAME ARCHIVE_ID FLAGS DATA FID...";

/// The usage lines of command `cmd` (`hsm_state`).
pub fn usage(cmd: &str) -> String {
    let lines: Vec<&str> = USAGE
        .lines()
        .map(str::trim_start)
        .filter(|l| l.contains(cmd))
        .collect();
    format!("usage: {}", lines.join("\n       "))
}

/// What `lfs hsm_<action>` was asked.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RequestArgs {
    /// `--archive`; 0 for the target's default.
    pub archive_id: u32,
    /// `--data`.
    pub data: Vec<u8>,
    /// `--filelist` files, read later.
    pub filelists: Vec<PathBuf>,
    /// The files named on the command line.
    pub files: Vec<PathBuf>,
}

/// The options of the request commands, as Lustre's `lfs hsm_archive` and the others take
/// them (`-D` is an old name of `--data`).
const REQUEST_OPTS: &[OptSpec] = &[
    OptSpec::new('a', &["archive"], HasArg::Required),
    OptSpec::new('d', &["data"], HasArg::Required),
    OptSpec::new('D', &[], HasArg::Required),
    OptSpec::new('l', &["filelist"], HasArg::Required),
];

fn number<T: TryFrom<u64>>(what: &str, v: &OsStr) -> Result<T, String> {
    v.to_str()
        .and_then(parse_c_number)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("invalid {what} '{}'", v.to_string_lossy()))
}

/// Parses the options and files of a request command.
pub fn parse_request_args(action: UserAction, args: &[OsString]) -> Result<RequestArgs, String> {
    let mut r = RequestArgs::default();
    let parsed = getopt::parse(args, REQUEST_OPTS)?;
    for (letter, value) in parsed.options {
        // Every option takes an argument, so the parser gives one.
        let Some(v) = value else { continue };
        match letter {
            'a' => {
                if !matches!(action, UserAction::Archive | UserAction::Remove) {
                    return Err("option '--archive' is only for hsm_archive and hsm_remove".into());
                }
                r.archive_id = number("archive id", &v)?;
            }
            'd' | 'D' => r.data = v.into_vec(),
            _ => r.filelists.push(PathBuf::from(v)),
        }
    }
    r.files = parsed.operands.into_iter().map(PathBuf::from).collect();
    if r.files.is_empty() && r.filelists.is_empty() {
        return Err("no file given".into());
    }
    Ok(r)
}

/// The file names in a `--filelist` file: one per line, empty lines skipped.
pub fn filelist_names(content: &[u8]) -> Vec<PathBuf> {
    content
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| PathBuf::from(OsString::from_vec(l.to_vec())))
        .collect()
}

/// The command's name for messages (`hsm_archive`).
fn cmd_name(action: UserAction) -> &'static str {
    match action {
        UserAction::Archive => "hsm_archive",
        UserAction::Restore => "hsm_restore",
        UserAction::Release => "hsm_release",
        UserAction::Remove => "hsm_remove",
        UserAction::Cancel => "hsm_cancel",
    }
}

/// `lfs hsm_<action>`: one request per target with the FIDs of its files.
pub fn hsm_request(action: UserAction, args: &[OsString]) -> i32 {
    let cmd = cmd_name(action);
    let mut r = match parse_request_args(action, args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lfs {cmd}: {e}\n{}", usage(cmd));
            return libc::EINVAL;
        }
    };
    for list in &r.filelists {
        match std::fs::read(list) {
            Ok(c) => r.files.extend(filelist_names(&c)),
            Err(e) => {
                eprintln!(
                    "lfs {cmd}: cannot read file list '{}': {}",
                    list.display(),
                    strerror(&e)
                );
                return errno_of(&e);
            }
        }
    }
    if r.files.is_empty() {
        eprintln!("lfs {cmd}: no file given");
        return libc::EINVAL;
    }
    let targets = match hsm::targets() {
        Ok(t) => hsm::devs(&t),
        Err(e) => {
            eprintln!("lfs {cmd}: {e}");
            return libc::ENODEV;
        }
    };
    // Resolve everything before sending anything, as Lustre does.
    let mut items = Vec::with_capacity(r.files.len());
    for f in &r.files {
        match path2fid(f).and_then(|fid| Ok((fid, std::fs::symlink_metadata(f)?.dev()))) {
            Ok((fid, dev)) => items.push(((f.as_path(), fid), dev)),
            Err(e) => {
                eprintln!(
                    "lfs {cmd}: cannot read FID of {}: {}",
                    f.display(),
                    strerror(&e)
                );
                return errno_of(&e);
            }
        }
    }
    let (groups, orphans) = hsm::group_by_target(&targets, items);
    if let Some((f, _)) = orphans.first() {
        eprintln!(
            "lfs {cmd}: {} is not on an attached metadata target",
            f.display()
        );
        return libc::ENODEV;
    }
    let mut rc = 0;
    for (target, files) in groups {
        if let Err(e) = send(action, &r, &target, &files) {
            rc = e;
        }
    }
    rc
}

/// Sends the request for the files of one target, in chunks of at most `MAX_ITEMS` FIDs.
fn send(
    action: UserAction,
    r: &RequestArgs,
    target: &str,
    files: &[(&Path, Fid)],
) -> Result<(), i32> {
    let cmd = cmd_name(action);
    let dev = Device::open(target, false).map_err(|e| {
        eprintln!(
            "lfs {cmd}: cannot open {}: {}",
            Device::path(target).display(),
            strerror(&e)
        );
        errno_of(&e)
    })?;
    let mut rc = Ok(());
    for chunk in files.chunks(uapi::MAX_ITEMS as usize) {
        let fids: Vec<Fid> = chunk.iter().map(|(_, f)| *f).collect();
        let sent = build_request(action, r.archive_id, 0, &fids, &r.data)
            .and_then(|mut b| dev.request(&mut b));
        if let Err(e) = sent {
            eprintln!(
                "lfs {cmd}: cannot send HSM request (use of {}): {}",
                chunk[0].0.display(),
                strerror(&e)
            );
            rc = Err(errno_of(&e));
        }
    }
    rc
}

/// `lfs hsm_state FILE...`.
pub fn hsm_state(args: &[OsString]) -> i32 {
    for_each_state("hsm_state", args, |path, s| {
        StateText {
            path,
            states: s.states,
            archive_id: s.archive_id,
        }
        .to_string()
    })
}

/// `lfs hsm_action FILE...`: the HSM action waiting or running for each file, as Lustre prints
/// it ([`action_text`]).
pub fn hsm_action(args: &[OsString]) -> i32 {
    for_each_state("hsm_action", args, action_text)
}

/// Lustre's `lfs hsm_action` line for a file in state `s`: `NOOP` without an action, else the
/// action, `waiting` or `running`, and for a running copy the bytes its copytool reported
/// moved, for any other the extent (`from 0 to EOF`: whole files here).
pub fn action_text(path: &str, s: &uapi::UserState) -> String {
    let action = ACTIONS
        .iter()
        .find(|a| **a as u32 == s.in_progress_action)
        .copied();
    if s.in_progress_action == 0 || action == Some(Action::Noop) {
        return format!("{path}: NOOP");
    }
    // Lustre's `hsm_user_action2name` says UNKNOWN for a value it does not know.
    let name = action.map_or("UNKNOWN", |a| a.name());
    let state = match s.in_progress_state {
        uapi::HPS_WAITING => "waiting",
        uapi::HPS_RUNNING => "running",
        3 => "done",
        _ => "unknown",
    };
    let (offset, length) = (s.location_offset, s.location_length);
    if s.in_progress_state == uapi::HPS_RUNNING
        && matches!(action, Some(Action::Archive | Action::Restore))
    {
        format!("{path}: {name} {state} ({length} bytes moved)")
    } else if offset.wrapping_add(length) == uapi::LUSTRE_EOF {
        format!("{path}: {name} {state} (from {offset} to EOF)")
    } else {
        format!(
            "{path}: {name} {state} (from {offset} to {})",
            offset.wrapping_add(length)
        )
    }
}

/// Runs `text` on the HSM state of each file of `args` and prints its line; Lustre's message
/// for the files whose state cannot be had.
fn for_each_state(
    cmd: &str,
    args: &[OsString],
    text: impl Fn(&str, &uapi::UserState) -> String,
) -> i32 {
    let files: Vec<OsString> = match getopt::parse(args, &[]) {
        Ok(parsed) => parsed.operands,
        Err(e) => {
            eprintln!("lfs {cmd}: {e}\n{}", usage(cmd));
            return libc::EINVAL;
        }
    };
    if files.is_empty() {
        eprintln!("lfs {cmd}: no file given\n{}", usage(cmd));
        return libc::EINVAL;
    }
    let targets = match hsm::targets() {
        Ok(t) => hsm::devs(&t),
        Err(e) => {
            eprintln!("lfs {cmd}: {e}");
            return libc::ENODEV;
        }
    };
    let mut devices: Vec<(String, Device)> = Vec::new();
    let mut rc = 0;
    for f in &files {
        match state_of(Path::new(f), &targets, &mut devices) {
            Ok(s) => println!("{}", text(&f.to_string_lossy(), &s)),
            Err(e) => {
                let hint = if errno_of(&e) == libc::ENODEV {
                    " (not on an attached metadata target?)"
                } else {
                    ""
                };
                let f = f.to_string_lossy();
                if cmd == "hsm_action" {
                    eprintln!(
                        "lfs {cmd}: get hsm action for '{f}' failed: {}{hint}",
                        strerror(&e)
                    );
                } else {
                    eprintln!(
                        "lfs {cmd}: can't get hsm state for {f}: {}{hint}",
                        strerror(&e)
                    );
                }
                rc = errno_of(&e);
            }
        }
    }
    rc
}

fn state_of(
    path: &Path,
    targets: &[(String, u64)],
    devices: &mut Vec<(String, Device)>,
) -> io::Result<uapi::UserState> {
    let file = crate::fid::open_path(path, libc::O_RDONLY | libc::O_NONBLOCK)?;
    let dev = file.metadata()?.dev();
    let target =
        hsm::target_of(targets, dev).ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
    if !devices.iter().any(|(n, _)| n == target) {
        devices.push((target.to_owned(), Device::open(target, false)?));
    }
    let (_, d) = devices
        .iter()
        .find(|(n, _)| n == target)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EIO))?;
    d.state(&file)
}

/// What `lfs hsm_upcall` was asked.
#[derive(Debug, PartialEq, Eq)]
pub struct UpcallArgs {
    /// `--mount`.
    pub mount: Option<PathBuf>,
    /// The worker program, found through `PATH`.
    pub worker: OsString,
    /// ARCHIVE or REMOVE.
    pub action: Action,
    /// File system name.
    pub fsname: String,
    /// Archive id.
    pub archive_id: u32,
    /// Request flags.
    pub flags: u64,
    /// Request data, passed on to the worker.
    pub data: OsString,
    /// The FIDs as given (each checked on its own).
    pub fids: Vec<OsString>,
}

const UPCALL_OPTS: &[OptSpec] = &[OptSpec::new('M', &["mount"], HasArg::Required)];

/// Parses `[--mount|-M DIR] WORKER ACTION FSNAME ARCHIVE_ID FLAGS DATA FID...`; options end
/// at WORKER.
pub fn parse_upcall_args(args: &[OsString]) -> Result<UpcallArgs, String> {
    let parsed = getopt::parse_in_order(args, UPCALL_OPTS)?;
    // The last --mount counts.
    let mount = parsed.options.into_iter().rev().find_map(|(_, v)| v);
    let mount = mount.map(PathBuf::from);
    let [worker, action, fsname, archive_id, flags, data, fids @ ..] = parsed.operands.as_slice()
    else {
        return Err("too few arguments".into());
    };
    if fids.is_empty() {
        return Err("no FID given".into());
    }
    let action = match action.as_bytes() {
        b"ARCHIVE" => Action::Archive,
        b"REMOVE" => Action::Remove,
        _ => {
            return Err(format!(
                "action '{}' is not ARCHIVE or REMOVE",
                action.to_string_lossy()
            ))
        }
    };
    let fsname = fsname
        .to_str()
        .filter(|f| !f.is_empty())
        .ok_or("invalid file system name")?;
    Ok(UpcallArgs {
        mount,
        worker: worker.to_os_string(),
        action,
        fsname: fsname.to_owned(),
        archive_id: number("archive id", archive_id)?,
        flags: number("flags", flags)?,
        data: data.to_os_string(),
        fids: fids.iter().map(|f| f.to_os_string()).collect(),
    })
}

/// The copy `lfs hsm_upcall` starts for a FID: an upcall copy, named by its FID, with the
/// action in the flags.
pub fn upcall_copy(action: Action, flags: u64, archive_id: u32, fid: Fid) -> Copy {
    Copy {
        data_version: 0,
        flags: Copy::upcall_flags(flags, action as u32),
        errval: 0,
        archive_id,
        hai: ActionItem {
            len: uapi::ACTION_ITEM_LEN as u32,
            action: action as u32,
            fid,
            dfid: fid,
            offset: 0,
            length: u64::MAX,
            cookie: 0,
            gid: 0,
        },
    }
}

/// The end of a started copy (with the data version COPY_START returned) with result `errval`.
pub fn completed(started: &Copy, errval: u16) -> Copy {
    Copy {
        flags: started.flags | uapi::HP_FLAG_COMPLETED,
        errval,
        ..*started
    }
}

/// The worker's arguments after its name: `ACTION FSNAME ARCHIVE_ID FLAGS DATA FID`.
pub fn worker_args(
    action: Action,
    fsname: &OsStr,
    archive_id: u32,
    flags: u64,
    data: &OsStr,
    fid: &Fid,
) -> Vec<OsString> {
    vec![
        action.name().into(),
        fsname.into(),
        archive_id.to_string().into(),
        flags.to_string().into(),
        data.into(),
        fid.to_string().into(),
    ]
}

/// The targets `lfs hsm_upcall` may find FIDs on: with `--mount`, those on that filesystem
/// (of `fsname` first, then mounted exactly there first); else those of `fsname`.
pub fn upcall_targets(all: &[Target], mount: Option<(&Path, u64)>, fsname: &str) -> Vec<Target> {
    let Some((path, dev)) = mount else {
        return hsm::of_fsname(all, fsname).into_iter().cloned().collect();
    };
    let mut v: Vec<Target> = all.iter().filter(|t| t.dev == dev).cloned().collect();
    v.sort_by_key(|t| (t.fsname() != fsname, t.mount != path));
    v
}

/// A target with its open device.
struct Site {
    target: Target,
    dev: Device,
}

/// `lfs hsm_upcall`: one COPY_START, worker run and COPY_END per FID.
pub fn hsm_upcall(args: &[OsString]) -> i32 {
    let a = match parse_upcall_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lfs hsm_upcall: {e}\n{}", usage("hsm_upcall"));
            return libc::EINVAL;
        }
    };
    let sites = match open_sites(&a) {
        Ok(s) => s,
        Err(rc) => return rc,
    };
    if let Err(e) = worker::install() {
        eprintln!("lfs hsm_upcall: cannot catch signals: {}", strerror(&e));
        return errno_of(&e);
    }
    let mut rc = 0;
    for (n, text) in a.fids.iter().enumerate() {
        if let Some(sig) = worker::stop_signal() {
            eprintln!(
                "lfs hsm_upcall: stopped by signal {sig}, {} FID(s) not done",
                a.fids.len() - n
            );
            return libc::EINTR;
        }
        let Some(fid) = Fid::parse(text.as_bytes()) else {
            eprintln!("lfs hsm_upcall: invalid FID '{}'", text.to_string_lossy());
            rc = libc::EINVAL;
            continue;
        };
        let r = match a.action {
            Action::Archive => upcall_archive(&a, &sites, &fid),
            _ => upcall_remove(&a, &sites, &fid),
        };
        if let Err(e) = r {
            rc = e;
        }
    }
    rc
}

fn open_sites(a: &UpcallArgs) -> Result<Vec<Site>, i32> {
    let all = hsm::targets().map_err(|e| {
        eprintln!("lfs hsm_upcall: {e}");
        libc::ENODEV
    })?;
    let mount = match &a.mount {
        Some(m) => match std::fs::metadata(m) {
            Ok(meta) => Some((m.as_path(), meta.dev())),
            Err(e) => {
                eprintln!(
                    "lfs hsm_upcall: cannot use mount point {}: {}",
                    m.display(),
                    strerror(&e)
                );
                return Err(errno_of(&e));
            }
        },
        None => None,
    };
    let targets = upcall_targets(&all, mount, &a.fsname);
    if targets.is_empty() {
        match &a.mount {
            Some(m) => eprintln!(
                "lfs hsm_upcall: no attached target is mounted on {}",
                m.display()
            ),
            None => eprintln!(
                "lfs hsm_upcall: no attached target of file system '{}'",
                a.fsname
            ),
        }
        return Err(libc::ENODEV);
    }
    let mut sites = Vec::new();
    let mut last = libc::ENODEV;
    for target in targets {
        match Device::open(&target.name, false) {
            Ok(dev) => sites.push(Site { target, dev }),
            Err(e) => {
                eprintln!(
                    "lfs hsm_upcall: cannot open {}: {}",
                    Device::path(&target.name).display(),
                    strerror(&e)
                );
                last = errno_of(&e);
            }
        }
    }
    if sites.is_empty() {
        return Err(last);
    }
    Ok(sites)
}

/// Opens `fid` on the first site that has it; else the first error other than `ENOENT`,
/// or `ENOENT`.
fn find(sites: &[Site], fid: &Fid, flags: i32) -> io::Result<(usize, File)> {
    let mut err = io::Error::from_raw_os_error(libc::ENOENT);
    for (i, s) in sites.iter().enumerate() {
        let r = hsm::open_for_copy(&s.target.mount, fid, flags);
        match r {
            Ok(f) => return Ok((i, f)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) if err.raw_os_error() == Some(libc::ENOENT) => err = e,
            Err(_) => {}
        }
    }
    Err(err)
}

fn upcall_archive(a: &UpcallArgs, sites: &[Site], fid: &Fid) -> Result<(), i32> {
    let (i, file) = find(sites, fid, hsm::ARCHIVE_OPEN).map_err(|e| {
        eprintln!("lfs hsm_upcall: cannot open {fid}: {}", strerror(&e));
        errno_of(&e)
    })?;
    let site = &sites[i];
    let mut copy = upcall_copy(a.action, a.flags, a.archive_id, *fid);
    site.dev.copy_start(&mut copy).map_err(|e| {
        eprintln!(
            "lfs hsm_upcall: cannot start ARCHIVE of {fid} on {}: {}",
            site.target.name,
            strerror(&e)
        );
        errno_of(&e)
    })?;
    let refused = match site.dev.state(&file) {
        Err(e) => {
            eprintln!(
                "lfs hsm_upcall: cannot get HSM state of {fid}: {}",
                strerror(&e)
            );
            Some(errno_of(&e))
        }
        Ok(s) if archive_id_conflict(&s, a.archive_id) => {
            eprintln!(
                "lfs hsm_upcall: {fid}: cannot change archive ID from {} to {}",
                s.archive_id, a.archive_id
            );
            Some(libc::EINVAL)
        }
        Ok(_) => None,
    };
    let errval = match refused {
        Some(e) => e as u16,
        None => run_worker(a, fid, Stdio::from(file)),
    };
    end(site, &copy, errval, fid, a.action)
}

fn upcall_remove(a: &UpcallArgs, sites: &[Site], fid: &Fid) -> Result<(), i32> {
    // The site where the file still is comes first; the file may be gone, though.
    let first = find(sites, fid, libc::O_PATH | libc::O_NOFOLLOW).map_or(0, |(i, _)| i);
    let order = std::iter::once(first).chain((0..sites.len()).filter(|&i| i != first));
    let mut copy = upcall_copy(a.action, a.flags, a.archive_id, *fid);
    let mut last = libc::ENOENT;
    for i in order {
        let site = &sites[i];
        match site.dev.copy_start(&mut copy) {
            Ok(()) => {
                let errval = run_worker(a, fid, Stdio::null());
                return end(site, &copy, errval, fid, a.action);
            }
            Err(e) => {
                eprintln!(
                    "lfs hsm_upcall: cannot start REMOVE of {fid} on {}: {}",
                    site.target.name,
                    strerror(&e)
                );
                last = errno_of(&e);
                if last != libc::ENOENT {
                    break;
                }
            }
        }
    }
    Err(last)
}

/// Runs the worker for one FID; returns its `hc_errval`.
fn run_worker(a: &UpcallArgs, fid: &Fid, stdin: Stdio) -> u16 {
    if worker::stop_signal().is_some() {
        return libc::EINTR as u16;
    }
    let mut cmd = Command::new(&a.worker);
    cmd.args(worker_args(
        a.action,
        OsStr::new(&a.fsname),
        a.archive_id,
        a.flags,
        &a.data,
        fid,
    ))
    .stdin(stdin);
    let outcome = worker::spawn(&mut cmd).and_then(|child| {
        drop(cmd);
        worker::wait(child)
    });
    match outcome {
        Ok(o) => {
            if !o.status.success() {
                eprintln!(
                    "lfs hsm_upcall: {} {} {fid} {}",
                    a.worker.to_string_lossy(),
                    a.action.name(),
                    worker::describe(&o.status)
                );
            }
            worker::errval(&o.status)
        }
        Err(e) => {
            eprintln!(
                "lfs hsm_upcall: cannot run {}: {}",
                a.worker.to_string_lossy(),
                strerror(&e)
            );
            errno_of(&e) as u16
        }
    }
}

/// Ends a copy with `errval`; the FID's result.
fn end(site: &Site, started: &Copy, errval: u16, fid: &Fid, action: Action) -> Result<(), i32> {
    if let Err(e) = site.dev.copy_end(&completed(started, errval)) {
        if errno_of(&e) == libc::EBUSY && errval == 0 {
            // The target compared data versions: the archived copy is not the file's data.
            eprintln!(
                "lfs hsm_upcall: {} of {fid}: the file changed while it was copied",
                action.name()
            );
        } else {
            let (a, t) = (action.name(), &site.target.name);
            eprintln!(
                "lfs hsm_upcall: cannot end {a} of {fid} on {t}: {}",
                strerror(&e)
            );
        }
        return Err(errno_of(&e));
    }
    match errval {
        0 => Ok(()),
        e => Err(i32::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn request_options() {
        let r = parse_request_args(
            UserAction::Archive,
            &os(&["-a", "2", "f1", "--data=x y", "f2", "--", "-f3"]),
        )
        .expect("parses");
        assert_eq!(r.archive_id, 2);
        assert_eq!(r.data, b"x y");
        assert_eq!(r.files, [PathBuf::from("f1"), "f2".into(), "-f3".into()]);
        let r = parse_request_args(
            UserAction::Remove,
            &os(&["--archive=0x3", "-Dd", "-l", "list"]),
        )
        .expect("parses");
        assert_eq!((r.archive_id, r.data.as_slice()), (3, &b"d"[..]));
        assert_eq!(r.filelists, [PathBuf::from("list")]);
        let r = parse_request_args(UserAction::Restore, &os(&["--filelist", "l", "-dX", "g"]))
            .expect("parses");
        assert_eq!((r.data.as_slice(), r.files.len()), (&b"X"[..], 1));
        let r = parse_request_args(UserAction::Archive, &os(&["-a3", "-", "f"])).expect("parses");
        assert_eq!((r.archive_id, r.files.len()), (3, 2));
    }

    /// The request command lines of the test scripts (files, globs, `--archive`), and forms
    /// getopt_long takes that the old parser did not.
    #[test]
    fn script_request_lines() {
        let files = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        for action in [
            UserAction::Archive,
            UserAction::Release,
            UserAction::Restore,
        ] {
            let r = parse_request_args(action, &os(&["/tmp/w/d/f1", "/tmp/w/d/f2"]));
            assert_eq!(
                r.map(|r| (r.archive_id, r.files)),
                Ok((0, files(&["/tmp/w/d/f1", "/tmp/w/d/f2"])))
            );
        }
        let r = parse_request_args(UserAction::Archive, &os(&["--archive", "2", "f"]));
        assert_eq!(r.map(|r| (r.archive_id, r.files)), Ok((2, files(&["f"]))));
        let r = parse_request_args(UserAction::Archive, &os(&["--arch=5", "f", "--da", "x"]));
        assert_eq!(
            r.map(|r| (r.archive_id, r.data, r.files)),
            Ok((5, b"x".to_vec(), files(&["f"])))
        );
        // A value that looks like an option is still the option's value.
        let r = parse_request_args(UserAction::Archive, &os(&["-d", "--", "-l", "l", "f"]));
        assert_eq!(
            r.map(|r| (r.data, r.filelists, r.files)),
            Ok((b"--".to_vec(), files(&["l"]), files(&["f"])))
        );
    }

    #[test]
    fn bad_request_options() {
        let bad = |action, v: &[&str]| parse_request_args(action, &os(v)).expect_err("refused");
        assert!(bad(UserAction::Release, &["-a", "1", "f"]).contains("only for"));
        assert!(bad(UserAction::Archive, &["-a", "x", "f"]).contains("invalid archive id"));
        assert!(bad(UserAction::Archive, &["-a", "4294967296", "f"]).contains("invalid archive id"));
        assert!(bad(UserAction::Archive, &["-a"]).contains("requires an argument"));
        assert!(bad(UserAction::Archive, &["--bogus", "f"]).contains("unrecognized"));
        assert!(bad(UserAction::Archive, &["-z", "f"]).contains("invalid option"));
        assert!(bad(UserAction::Archive, &[]).contains("no file"));
        assert!(bad(UserAction::Cancel, &["-d"]).contains("requires an argument"));
        assert!(bad(UserAction::Archive, &["--filelist"]).contains("requires an argument"));
    }

    #[test]
    fn action_lines() {
        let s = |state, action, length| uapi::UserState {
            in_progress_state: state,
            in_progress_action: action,
            location_length: length,
            ..Default::default()
        };
        assert_eq!(action_text("f", &s(0, 0, 0)), "f: NOOP");
        assert_eq!(
            action_text("f", &s(uapi::HPS_WAITING, 20, u64::MAX)),
            "f: ARCHIVE waiting (from 0 to EOF)"
        );
        assert_eq!(
            action_text("f", &s(uapi::HPS_RUNNING, 21, 65536)),
            "f: RESTORE running (65536 bytes moved)"
        );
        assert_eq!(
            action_text("f", &s(uapi::HPS_RUNNING, 22, 0)),
            "f: REMOVE running (from 0 to 0)"
        );
        assert_eq!(
            action_text("f", &s(uapi::HPS_WAITING, 21, 4096)),
            "f: RESTORE waiting (from 0 to 4096)"
        );
        assert_eq!(
            action_text("f", &s(uapi::HPS_RUNNING, 99, 1)),
            "f: UNKNOWN running (from 0 to 1)"
        );
    }

    #[test]
    fn usages() {
        assert_eq!(usage("hsm_state"), "usage: lfs hsm_state FILE...");
        assert_eq!(usage("hsm_action"), "usage: lfs hsm_action FILE...");
        assert!(usage("hsm_release")
            .starts_with("usage: lfs hsm_restore|hsm_release|hsm_cancel [--data"));
        assert_eq!(usage("hsm_upcall").lines().count(), 1);
    }

    #[test]
    fn filelists() {
        let names = filelist_names(b"a\n\nb c\n/d/e");
        assert_eq!(names, [PathBuf::from("a"), "b c".into(), "/d/e".into()]);
    }

    #[test]
    fn upcall_arguments() {
        let args = os(&[
            "-M",
            "/mnt",
            "w",
            "ARCHIVE",
            "lustre",
            "0x2",
            "5",
            "",
            "[0x1:0x2:0x0]",
            "bad",
        ]);
        let a = parse_upcall_args(&args).expect("parses");
        assert_eq!(a.mount, Some(PathBuf::from("/mnt")));
        assert_eq!(a.worker, "w");
        assert_eq!(
            (a.action, a.fsname.as_str(), a.archive_id, a.flags),
            (Action::Archive, "lustre", 2, 5)
        );
        assert_eq!(a.data, "");
        assert_eq!(a.fids, os(&["[0x1:0x2:0x0]", "bad"]));
        // Options end at the worker: the DATA may look like one.
        let a = parse_upcall_args(&os(&["w", "REMOVE", "fs", "1", "0", "-M", "[0x1:0x2:0x0]"]))
            .expect("parses");
        assert_eq!((a.mount, a.data), (None, "-M".into()));
        let a = parse_upcall_args(&os(&["--mount=/m", "w", "REMOVE", "fs", "1", "0", "", "f"]))
            .expect("parses");
        assert_eq!(a.mount, Some(PathBuf::from("/m")));
        // As lhsm_worker runs it: `lfs hsm_upcall [--mount DIR] WORKER ACTION ... DATA FID`,
        // with a DATA of any shape.
        for data in ["", "-x", "--", "--mount=/z", "a b"] {
            let a = parse_upcall_args(&os(&[
                "--mount",
                "/mnt/t",
                "lhsm_worker_posix",
                "ARCHIVE",
                "lustre",
                "1",
                "0",
                data,
                "[0x200000401:0x1:0x0]",
            ]))
            .expect("parses");
            assert_eq!((a.mount, a.data), (Some("/mnt/t".into()), data.into()));
        }
        for bad in [
            &["w", "RESTORE", "fs", "1", "0", "", "f"][..],
            &["w", "archive", "fs", "1", "0", "", "f"],
            &["w", "ARCHIVE", "fs", "1", "0", ""],
            &["w", "ARCHIVE", "fs", "one", "0", "", "f"],
            &["w", "ARCHIVE", "fs", "1", "-1", "", "f"],
            &["w", "ARCHIVE", "", "1", "0", "", "f"],
            &["--mount"],
        ] {
            assert!(parse_upcall_args(&os(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn upcall_copies() {
        let fid = Fid {
            seq: 0x200000401,
            oid: 1,
            ver: 0,
        };
        let c = upcall_copy(Action::Archive, 0x1, 3, fid);
        assert_eq!(c.flags, 0xa000 | uapi::HP_FLAG_UPCALL | 0x1);
        assert_eq!(
            (c.archive_id, c.hai.action, c.hai.fid, c.hai.dfid),
            (3, 20, fid, fid)
        );
        assert_eq!((c.hai.offset, c.hai.length, c.hai.cookie), (0, u64::MAX, 0));
        let started = Copy {
            data_version: 77,
            ..c
        };
        let e = completed(&started, 5);
        assert_eq!(
            e.flags,
            0xa000 | uapi::HP_FLAG_UPCALL | uapi::HP_FLAG_COMPLETED | 0x1
        );
        assert_eq!((e.errval, e.data_version, e.upcall_action()), (5, 77, 20));
        assert_eq!(upcall_copy(Action::Remove, 0, 1, fid).flags, 0xb004);
    }

    #[test]
    fn worker_command_line() {
        let fid = Fid {
            seq: 0x200000401,
            oid: 1,
            ver: 0,
        };
        let args = worker_args(
            Action::Remove,
            OsStr::new("lustre"),
            2,
            4,
            OsStr::new("a b"),
            &fid,
        );
        assert_eq!(
            args,
            os(&["REMOVE", "lustre", "2", "4", "a b", "[0x200000401:0x1:0x0]"])
        );
    }

    #[test]
    fn upcall_target_choice() {
        let mk = |n: &str, m: &str, dev| Target {
            name: n.into(),
            mount: m.into(),
            dev,
        };
        let all = [
            mk("lustre-MDT0000", "/a", 1),
            mk("lustre-MDT0001", "/b", 2),
            mk("other-MDT0000", "/b2", 2),
            mk("scratch-MDT0000", "/c", 3),
        ];
        let names = |v: Vec<Target>| v.into_iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(
            names(upcall_targets(&all, None, "lustre")),
            ["lustre-MDT0000", "lustre-MDT0001"]
        );
        assert!(upcall_targets(&all, None, "nope").is_empty());
        let on_b2 = Some((Path::new("/b2"), 2));
        assert_eq!(
            names(upcall_targets(&all, on_b2, "lustre")),
            ["lustre-MDT0001", "other-MDT0000"]
        );
        assert_eq!(
            names(upcall_targets(&all, on_b2, "x")),
            ["other-MDT0000", "lustre-MDT0001"]
        );
        assert!(upcall_targets(&all, Some((Path::new("/z"), 9)), "lustre").is_empty());
    }
}
