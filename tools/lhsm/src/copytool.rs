// SPDX-License-Identifier: GPL-2.0

//! The copytool of `lhsm_copytool`: carries out the action lists a target's coordinator hands
//! out on `/dev/hsm-<target>`, one worker run per action:
//!
//! - ARCHIVE: `WORKER ARCHIVE FSNAME ARCHIVE_ID FLAGS DATA FID` with the file, opened by FID
//!   read-only, as standard input;
//! - RESTORE: `WORKER RESTORE ...` with the file, opened by FID write-only and not truncated,
//!   as standard output; synced afterwards;
//! - REMOVE: `WORKER REMOVE ...`;
//!
//! each between a COPY_START and a COPY_END that reports the worker's result (see
//! [`lfs::worker::errval`]). Every action handed out is ended, so that none stays counted as
//! running: CANCEL (the target's business, never expected here) with `EOPNOTSUPP`, an unknown
//! action with `EINVAL`, one the target refuses to start with the refusal. The device is
//! behind [`Backend`], so the loop can be tested without a kernel.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use lfs::hsm::{ARCHIVE_OPEN, RESTORE_OPEN};
use lfs::hsm_cmd::worker_args;
use lfs::worker::{self, errno_of, strerror};
use rustre_logic::fid::Fid;
use rustre_logic::mask::Action;
use rustre_logic::uapi::{ActionItem, ActionList, Copy, Progress, HP_FLAG_COMPLETED};

/// What the copytool needs of the device and the target's filesystem.
pub trait Backend {
    /// `IOC_COPY_START`; fills in the data version.
    fn copy_start(&mut self, c: &mut Copy) -> io::Result<()>;
    /// `IOC_COPY_END`.
    fn copy_end(&mut self, c: &Copy) -> io::Result<()>;
    /// `IOC_PROGRESS`.
    fn progress(&mut self, p: &Progress) -> io::Result<()>;
    /// Opens the file of `fid` with `open(2)` flags.
    fn open(&mut self, fid: &Fid, flags: i32) -> io::Result<File>;
}

/// The copytool: a backend, the worker program and a name for its log lines.
pub struct Copytool<B> {
    /// The device and filesystem.
    pub backend: B,
    /// The worker program, found through `PATH`.
    pub worker: OsString,
    /// Prefix of log lines.
    pub name: String,
}

/// What became of the actions of a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Actions ended with success.
    pub done: u32,
    /// Actions that failed (or could not be started or ended).
    pub failed: u32,
    /// The result of the last failed one.
    pub last_error: u16,
    /// A stop signal came: the rest was left to the kernel to hand out again.
    pub stopped: bool,
}

/// What became of one action.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Ended with this `hc_errval`, and why if not 0.
    Ended(u16, Option<String>),
    /// Could not be started or ended.
    Failed(u16, String),
    /// Stopped on a signal, left unended: the kernel hands it out again.
    GivenBack,
}

/// How a worker run ended: `hc_errval` and why if not 0; `None` (as `Option<Ran>`) if a stop
/// signal interrupted it.
type Ran = (u16, Option<String>);

/// How often a running copy's progress is reported, in milliseconds.
pub const PROGRESS_EVERY_MS: i32 = 1000;

/// Where a copy's progress is read: a file sharing its open file description with the one the
/// worker reads (ARCHIVE) or writes (RESTORE) from offset 0, so that its offset is the bytes
/// moved so far.
struct Probe<'a> {
    file: &'a File,
    item: &'a ActionItem,
    reported: u64,
}

fn failed_text(errval: u16, why: Option<&str>, secs: f64) -> String {
    match why {
        Some(w) => format!("failed (errval {errval}: {w}) in {secs:.3}s"),
        None => format!("failed (errval {errval}) in {secs:.3}s"),
    }
}

/// The copytool action of an `hai_action` value.
pub fn action_of(v: u32) -> Option<Action> {
    rustre_logic::mask::ACTIONS
        .iter()
        .copied()
        .find(|a| *a as u32 == v)
}

/// The DATA argument of an item: its data up to the first NUL.
pub fn data_arg(data: &[u8]) -> &OsStr {
    let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
    OsStr::from_bytes(&data[..end])
}

impl<B: Backend> Copytool<B> {
    /// Carries out every action of the list in `buf`, logging a line per action to `log`.
    /// `Err` if the list is malformed (nothing is done then).
    pub fn handle_list(&mut self, buf: &[u8], log: &mut dyn Write) -> Result<Tally, String> {
        let hal = ActionList::decode(buf)
            .ok_or_else(|| format!("malformed action list ({} bytes)", buf.len()))?;
        let items: Vec<(ActionItem, &[u8])> = hal.items(buf).collect();
        if items.len() != hal.count as usize {
            return Err(format!(
                "action list holds {} of its {} items",
                items.len(),
                hal.count
            ));
        }
        let mut t = Tally::default();
        for (item, data) in items {
            let start = Instant::now();
            let outcome = self.handle_item(&hal, &item, data);
            let secs = start.elapsed().as_secs_f64();
            let name = action_of(item.action)
                .map_or_else(|| format!("action {}", item.action), |a| a.name().into());
            let what = format!(
                "{}: {name} {} cookie {:#x}",
                self.name, item.fid, item.cookie
            );
            let line = match &outcome {
                Outcome::Ended(0, _) => format!("done in {secs:.3}s"),
                Outcome::Ended(e, why) => failed_text(*e, why.as_deref(), secs),
                Outcome::Failed(e, why) => failed_text(*e, Some(why), secs),
                Outcome::GivenBack => format!("given back (stopping) after {secs:.3}s"),
            };
            let _ = writeln!(log, "{what} {line}");
            match outcome {
                Outcome::Ended(0, _) => t.done += 1,
                Outcome::Ended(e, _) | Outcome::Failed(e, _) => {
                    t.failed += 1;
                    t.last_error = e;
                }
                Outcome::GivenBack => {
                    t.stopped = true;
                    break;
                }
            }
        }
        Ok(t)
    }

    fn handle_item(&mut self, hal: &ActionList, item: &ActionItem, data: &[u8]) -> Outcome {
        let action = action_of(item.action);
        if worker::stop_signal().is_some() {
            return Outcome::GivenBack;
        }
        let mut copy = Copy {
            data_version: 0,
            flags: 0,
            errval: 0,
            archive_id: hal.archive_id,
            hai: *item,
        };
        if let Err(e) = self.backend.copy_start(&mut copy) {
            // End it all the same, so that the target stops counting it as running (an unknown
            // cookie makes that fail too, harmlessly).
            let errval = errno_of(&e) as u16;
            let _ = self.backend.copy_end(&Copy {
                flags: HP_FLAG_COMPLETED,
                errval,
                ..copy
            });
            return Outcome::Failed(errval, format!("cannot start: {}", strerror(&e)));
        }
        let fsname = OsStr::from_bytes(hal.fsname);
        let args = |a: Action| {
            worker_args(
                a,
                fsname,
                hal.archive_id,
                hal.flags,
                data_arg(data),
                &item.fid,
            )
        };
        let result = match action {
            Some(a @ Action::Archive) => self.archive(args(a), item),
            Some(a @ Action::Restore) => self.restore(args(a), item),
            Some(a @ Action::Remove) => self.run(args(a), Stdio::null(), Stdio::inherit(), None),
            Some(Action::Noop) => Some((0, None)),
            Some(Action::Cancel) => Some((
                libc::EOPNOTSUPP as u16,
                Some("CANCEL is not supported".into()),
            )),
            _ => Some((libc::EINVAL as u16, Some("unknown action".into()))),
        };
        let Some((errval, why)) = result else {
            return Outcome::GivenBack;
        };
        let end = Copy {
            flags: HP_FLAG_COMPLETED,
            errval,
            ..copy
        };
        match self.backend.copy_end(&end) {
            Ok(()) => Outcome::Ended(errval, why),
            // The target compared data versions: the copy is not the file's data.
            Err(e) if errno_of(&e) == libc::EBUSY && errval == 0 => Outcome::Failed(
                libc::EBUSY as u16,
                "the file changed during the copy".into(),
            ),
            Err(e) => Outcome::Failed(errno_of(&e) as u16, format!("cannot end: {}", strerror(&e))),
        }
    }

    fn archive(&mut self, args: Vec<OsString>, item: &ActionItem) -> Option<Ran> {
        let f = match self.backend.open(&item.fid, ARCHIVE_OPEN) {
            Ok(f) => f,
            Err(e) => {
                return Some((
                    errno_of(&e) as u16,
                    Some(format!("cannot open: {}", strerror(&e))),
                ))
            }
        };
        let probe = match f.try_clone() {
            Ok(p) => p,
            Err(e) => return Some((errno_of(&e) as u16, Some(strerror(&e)))),
        };
        let probe = Probe {
            file: &probe,
            item,
            reported: 0,
        };
        self.run(args, Stdio::from(f), Stdio::inherit(), Some(probe))
    }

    fn restore(&mut self, args: Vec<OsString>, item: &ActionItem) -> Option<Ran> {
        let f = match self.backend.open(&item.fid, RESTORE_OPEN) {
            Ok(f) => f,
            Err(e) => {
                return Some((
                    errno_of(&e) as u16,
                    Some(format!("cannot open: {}", strerror(&e))),
                ))
            }
        };
        let out = match f.try_clone() {
            Ok(o) => o,
            Err(e) => return Some((errno_of(&e) as u16, Some(strerror(&e)))),
        };
        let probe = Probe {
            file: &f,
            item,
            reported: 0,
        };
        let r = self.run(args, Stdio::null(), Stdio::from(out), Some(probe))?;
        if r.0 != 0 {
            return Some(r);
        }
        match f.sync_all() {
            Ok(()) => Some(r),
            Err(e) => Some((
                errno_of(&e) as u16,
                Some(format!("cannot sync: {}", strerror(&e))),
            )),
        }
    }

    /// Runs the worker; `None` if a stop signal stopped it. With a `probe`, reports the bytes
    /// it moved every [`PROGRESS_EVERY_MS`] while it runs (as Lustre's copytools report with
    /// `llapi_hsm_action_progress`: the extent copied since the last report).
    fn run(
        &mut self,
        args: Vec<OsString>,
        stdin: Stdio,
        stdout: Stdio,
        mut probe: Option<Probe<'_>>,
    ) -> Option<Ran> {
        let mut cmd = Command::new(&self.worker);
        cmd.args(args).stdin(stdin).stdout(stdout);
        let child = match worker::spawn(&mut cmd) {
            Ok(c) => c,
            Err(e) => {
                let why = format!(
                    "cannot run {}: {}",
                    self.worker.to_string_lossy(),
                    strerror(&e)
                );
                return Some((errno_of(&e) as u16, Some(why)));
            }
        };
        drop(cmd);
        let backend = &mut self.backend;
        let mut tick = || {
            let Some(p) = probe.as_mut() else { return };
            // The worker moves the shared offset; a failed read or report is left for the next.
            let Ok(pos) = (&mut &*p.file).stream_position() else {
                return;
            };
            if pos <= p.reported {
                return;
            }
            let report = Progress {
                fid: p.item.dfid,
                cookie: p.item.cookie,
                offset: p.reported,
                length: pos - p.reported,
                flags: 0,
                errval: 0,
            };
            if backend.progress(&report).is_ok() {
                p.reported = pos;
            }
        };
        match worker::wait_ticking(child, PROGRESS_EVERY_MS, &mut tick) {
            Ok(o) if o.stopped_by.is_some() && !o.status.success() => None,
            Ok(o) if o.status.success() => Some((0, None)),
            Ok(o) => Some((
                worker::errval(&o.status),
                Some(format!("worker {}", worker::describe(&o.status))),
            )),
            Err(e) => Some((
                errno_of(&e) as u16,
                Some(format!("cannot wait for the worker: {}", strerror(&e))),
            )),
        }
    }
}

/// Serve the HSM coordinator of TARGET: carry out each action it hands out with WORKER.
///
/// Exit status: 0 when stopped by a signal, or with --once when every action succeeded; with
/// --once, else the error of the last failed action; 22 for a bad command line; 19 (ENODEV) if
/// the target is not attached or its device went away; else the errno of a failed open,
/// registration or read of the device.
#[derive(Debug, PartialEq, Eq, Parser)]
#[command(name = "lhsm_copytool")]
pub struct Opts {
    /// Serve this archive id (1 to 32; decimal, 0x hex or 0 octal); may be repeated. Default:
    /// all archives.
    #[arg(short = 'A', long = "archive", value_name = "N", value_parser = archive_id)]
    pub archives: Vec<u32>,
    /// Exit after the first action list.
    #[arg(long)]
    pub once: bool,
    /// The target (<fsname>-MDT<index>).
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// The worker program, found through PATH.
    #[arg(value_name = "WORKER", default_value = "lhsm_worker_posix")]
    pub worker: OsString,
}

fn archive_id(id: &str) -> Result<u32, String> {
    let n = lfs::hsm::parse_c_number(id).and_then(|n| u32::try_from(n).ok());
    match n {
        Some(n @ 1..=32) => Ok(n),
        _ => Err("not an archive id (1 to 32)".to_owned()),
    }
}

/// Parses `[--archive|-A N]... [--once] TARGET [WORKER]` (the arguments after the program
/// name).
pub fn parse_args(args: &[OsString]) -> Result<Opts, clap::Error> {
    let program = OsString::from("lhsm_copytool");
    let o = Opts::try_parse_from(std::iter::once(&program).chain(args))?;
    if o.archives.len() > rustre_logic::uapi::MAX_ARCHIVES_PER_AGENT {
        return Err(Opts::command().error(ErrorKind::TooManyValues, "too many archive ids"));
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn command_lines() {
        let o = parse_args(&os(&["lustre-MDT0000"])).expect("parses");
        assert_eq!(
            (o.archives.len(), o.once, o.target.as_str()),
            (0, false, "lustre-MDT0000")
        );
        assert_eq!(o.worker, "lhsm_worker_posix");
        let args = os(&[
            "--archive",
            "2",
            "-A",
            "3",
            "--archive=0x4",
            "--once",
            "t",
            "/bin/w",
        ]);
        let o = parse_args(&args).expect("parses");
        assert_eq!(
            (o.archives, o.once, o.target.as_str(), o.worker),
            (vec![2, 3, 4], true, "t", "/bin/w".into())
        );
        let bad: [&[&str]; 6] = [
            &[],
            &["--archive"],
            &["--archive", "0", "t"],
            &["-A", "33", "t"],
            &["-x", "t"],
            &["t", "w", "x"],
        ];
        Opts::command().debug_assert();
        for bad in bad {
            let e = parse_args(&os(bad)).expect_err("refused");
            assert!(e.use_stderr(), "{bad:?}");
        }
        // The forms of the test scripts.
        for args in [
            &["--once", "lustre-MDT0000"][..],
            &["lustre-MDT0000", "--once"],
        ] {
            let o = parse_args(&os(args)).expect("parses");
            assert_eq!((o.once, o.target.as_str()), (true, "lustre-MDT0000"));
        }
        let o = parse_args(&os(&["lustre-MDT0000", "/tmp/w/slow_restore"])).expect("parses");
        assert_eq!((o.once, o.worker), (false, "/tmp/w/slow_restore".into()));
        let many: Vec<String> = (0..=rustre_logic::uapi::MAX_ARCHIVES_PER_AGENT)
            .flat_map(|i| ["-A".to_owned(), (i % 32 + 1).to_string()])
            .chain(["t".to_owned()])
            .collect();
        let many: Vec<OsString> = many.into_iter().map(OsString::from).collect();
        assert!(parse_args(&many).is_err());
    }

    #[test]
    fn actions_and_data() {
        assert_eq!(action_of(20), Some(Action::Archive));
        assert_eq!(action_of(21), Some(Action::Restore));
        assert_eq!(action_of(99), None);
        assert_eq!(data_arg(b"abc"), "abc");
        assert_eq!(data_arg(b"ab\0c"), "ab");
        assert_eq!(data_arg(b""), "");
    }
}
