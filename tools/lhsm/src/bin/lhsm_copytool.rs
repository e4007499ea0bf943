// SPDX-License-Identifier: GPL-2.0

//! `lhsm_copytool [--archive|-A N]... [--once] TARGET [WORKER]`: the copytool of a target's
//! coordinator. It registers on `/dev/hsm-TARGET` for the given archives (all by default),
//! then reads action lists and carries each action out with WORKER (`lhsm_worker_posix` by
//! default, found through `PATH`): see [`lhsm::copytool`]. One line per action goes to
//! standard error.
//!
//! SIGTERM or SIGINT stops it: a running worker is stopped, its action and the rest of the
//! list are left unended, and closing the device gives them back to the coordinator, as when
//! the copytool is killed. `--once` exits after the first action list.
//!
//! Exit status: 0 when stopped by a signal, or with `--once` when every action succeeded;
//! with `--once`, else the `hc_errval` of the last failed action; 22 for a bad command line;
//! 19 (`ENODEV`) if the target is not attached or its device went away; the errno of a failed
//! open, registration or read of the device.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use lfs::hsm::{self, Device};
use lfs::worker::{self, errno_of, exit_code, strerror};
use lhsm::copytool::{parse_args, Backend, Copytool};
use rustre_logic::fid::Fid;
use rustre_logic::uapi::{Copy, Progress};

/// Room for one action list (Lustre's `HAL_MAXSIZE`).
const LIST_MAX: usize = 1 << 20;

/// The target's device and filesystem.
struct DevBackend {
    dev: Device,
    mount: PathBuf,
}

impl Backend for DevBackend {
    fn copy_start(&mut self, c: &mut Copy) -> io::Result<()> {
        self.dev.copy_start(c)
    }

    fn copy_end(&mut self, c: &Copy) -> io::Result<()> {
        self.dev.copy_end(c)
    }

    fn progress(&mut self, p: &Progress) -> io::Result<()> {
        self.dev.progress(p)
    }

    fn open(&mut self, fid: &Fid, flags: i32) -> io::Result<File> {
        hsm::open_for_copy(&self.mount, fid, flags)
    }
}

fn fail(name: &str, what: &str, e: &io::Error) -> ExitCode {
    eprintln!("{name}: {what}: {}", strerror(e));
    ExitCode::from(exit_code(errno_of(e)))
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let o = match lhsm::or_exit(parse_args(&args)) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let name = format!("lhsm_copytool {}", o.target);
    if let Err(e) = worker::install() {
        return fail(&name, "cannot catch signals", &e);
    }
    let mount = match hsm::targets() {
        Ok(t) => match t.into_iter().find(|t| t.name == o.target) {
            Some(t) => t.mount,
            None => {
                eprintln!("{name}: no attached target named '{}'", o.target);
                return ExitCode::from(19);
            }
        },
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(19);
        }
    };
    let dev = match Device::open(&o.target, true) {
        Ok(d) => d,
        Err(e) => {
            return fail(
                &name,
                &format!("cannot open {}", Device::path(&o.target).display()),
                &e,
            )
        }
    };
    if let Err(e) = dev.register(&o.archives) {
        return fail(&name, "cannot register as a copytool", &e);
    }
    let archives = if o.archives.is_empty() {
        "all archives".to_owned()
    } else {
        format!("archives {:?}", o.archives)
    };
    eprintln!(
        "{name}: serving {archives} of {} with {}",
        mount.display(),
        o.worker.to_string_lossy()
    );
    let mut ct = Copytool {
        backend: DevBackend { dev, mount },
        worker: o.worker,
        name: name.clone(),
    };
    serve(&mut ct, o.once)
}

/// The loop: wait for an action list, carry it out.
fn serve(ct: &mut Copytool<DevBackend>, once: bool) -> ExitCode {
    let name = ct.name.clone();
    let mut buf = vec![0u8; LIST_MAX];
    loop {
        if let Some(sig) = worker::stop_signal() {
            eprintln!("{name}: stopping on signal {sig}");
            return ExitCode::SUCCESS;
        }
        match worker::poll_with_wake(ct.backend.dev.as_fd()) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => return fail(&name, "poll", &e),
        }
        let n = match ct.backend.dev.read_list(&mut buf) {
            Ok(0) => {
                eprintln!("{name}: the device was closed (target detached?)");
                return ExitCode::from(19);
            }
            Ok(n) => n,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR)) => continue,
            Err(e) => return fail(&name, "cannot read an action list", &e),
        };
        let t = match ct.handle_list(&buf[..n], &mut io::stderr()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{name}: {e}, ignored");
                continue;
            }
        };
        if once && !t.stopped {
            return if t.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(exit_code(i32::from(t.last_error)))
            };
        }
    }
}
