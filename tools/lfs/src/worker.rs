// SPDX-License-Identifier: GPL-2.0

//! Running HSM worker programs (`lhsm_worker_posix ACTION FSNAME ARCHIVE_ID FLAGS DATA FID`)
//! and stopping cleanly on SIGTERM or SIGINT.
//!
//! [`install`] catches SIGTERM, SIGINT and SIGCHLD; each writes a byte to a pipe, so a loop
//! that polls the pipe ([`poll_with_wake`]) never misses one. A stop signal is only recorded
//! ([`stop_signal`]): the caller finishes or abandons what it is doing. [`wait`] forwards it
//! to the running worker (SIGTERM, then SIGKILL on a second signal). A worker dies with its
//! parent (`PR_SET_PDEATHSIG`), so a killed copytool leaves no copy running.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::OnceLock;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::pipe::PipeFlags;
use rustix::process::{Pid, Signal, WaitOptions};

static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);
static STOP_COUNT: AtomicU32 = AtomicU32::new(0);
/// The number of [`WakePipe::write`], for the handler (-1 until the pipe exists).
static WAKE_WRITE: AtomicI32 = AtomicI32::new(-1);

/// The wake-up pipe, both ends non-blocking and close-on-exec.
struct WakePipe {
    read: OwnedFd,
    /// Never closed: it is in [`WAKE_PIPE`], a static, which is never dropped. So the number in
    /// [`WAKE_WRITE`] stays this pipe's for as long as a handler can run.
    write: OwnedFd,
}

static WAKE_PIPE: OnceLock<Result<WakePipe, Errno>> = OnceLock::new();

extern "C" fn on_signal(sig: libc::c_int) {
    // SAFETY: only async-signal-safe calls; errno is saved and restored around the write. The
    // descriptor in `WAKE_WRITE` is the write end of the wake-up pipe, which is never closed
    // (`WakePipe::write`), or -1.
    unsafe {
        let errno = *libc::__errno_location();
        if sig != libc::SIGCHLD {
            STOP_SIGNAL.store(sig, Ordering::SeqCst);
            STOP_COUNT.fetch_add(1, Ordering::SeqCst);
        }
        let fd = WAKE_WRITE.load(Ordering::SeqCst);
        if fd >= 0 {
            let b = 1u8;
            libc::write(fd, (&raw const b).cast(), 1);
        }
        *libc::__errno_location() = errno;
    }
}

fn wake_pipe() -> Result<&'static WakePipe, Errno> {
    WAKE_PIPE
        .get_or_init(|| {
            let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
            Ok(WakePipe { read, write })
        })
        .as_ref()
        .map_err(|e| *e)
}

fn setup() -> Result<(), i32> {
    let pipe = wake_pipe().map_err(Errno::raw_os_error)?;
    WAKE_WRITE.store(pipe.write.as_raw_fd(), Ordering::SeqCst);
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGCHLD] {
        // SAFETY: a zeroed sigaction is valid; the handler only does async-signal-safe work.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART
                | if sig == libc::SIGCHLD {
                    libc::SA_NOCLDSTOP
                } else {
                    0
                };
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO));
        }
    }
    Ok(())
}

/// Catches SIGTERM, SIGINT and SIGCHLD (once; later calls return the first result).
pub fn install() -> io::Result<()> {
    static DONE: OnceLock<Result<(), i32>> = OnceLock::new();
    (*DONE.get_or_init(setup)).map_err(io::Error::from_raw_os_error)
}

/// The last stop signal received (SIGTERM or SIGINT), if any.
pub fn stop_signal() -> Option<i32> {
    match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The read end of the wake-up pipe, once [`install`] made it.
fn wake_read() -> Option<BorrowedFd<'static>> {
    WAKE_PIPE.get()?.as_ref().ok().map(|p| p.read.as_fd())
}

fn drain_wake() {
    let Some(fd) = wake_read() else {
        return;
    };
    let mut b = [0u8; 64];
    // Non-blocking: ends on EAGAIN once empty.
    while rustix::io::read(fd, &mut b).is_ok_and(|n| n > 0) {}
}

/// Waits until `fd` is readable or a signal came; returns whether `fd` is ready (readable, or
/// in error, which a read then reports).
pub fn poll_with_wake(fd: BorrowedFd<'_>) -> io::Result<bool> {
    poll_with_wake_for(Some(fd), -1)
}

/// [`poll_with_wake`] that also returns (`Ok(false)`) after `timeout_ms` milliseconds
/// (negative: no limit); with no `fd`, only waits for a signal or the timeout.
pub fn poll_with_wake_for(fd: Option<BorrowedFd<'_>>, timeout_ms: i32) -> io::Result<bool> {
    install()?;
    let wake = wake_read().ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
    let mut p = Vec::with_capacity(2);
    p.push(PollFd::new(&wake, PollFlags::IN));
    if let Some(fd) = &fd {
        p.push(PollFd::new(fd, PollFlags::IN));
    }
    let timeout = u32::try_from(timeout_ms).ok().map(|ms| Timespec {
        tv_sec: (ms / 1000).into(),
        tv_nsec: ((ms % 1000) * 1_000_000).into(),
    });
    match rustix::event::poll(&mut p, timeout.as_ref()) {
        Ok(_) => {}
        Err(Errno::INTR) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let ready = p.get(1).is_some_and(|p| !p.revents().is_empty());
    drain_wake();
    Ok(ready)
}

/// Starts `cmd` as a worker: it is sent SIGTERM if this process dies.
pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
    install()?;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure only makes async-signal-safe calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent died before the death signal was armed.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// How a worker ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Its wait status.
    pub status: ExitStatus,
    /// The stop signal that made us stop it, if one did.
    pub stopped_by: Option<i32>,
}

/// Waits for a worker started by [`spawn`]. A stop signal received meanwhile is passed on as
/// SIGTERM, a second one as SIGKILL.
pub fn wait(child: Child) -> io::Result<Outcome> {
    wait_ticking(child, -1, &mut || {})
}

/// [`wait`] that calls `tick` about every `every_ms` milliseconds while the worker runs
/// (never if negative), to report how far it got.
pub fn wait_ticking(child: Child, every_ms: i32, tick: &mut dyn FnMut()) -> io::Result<Outcome> {
    let pid = Pid::from_child(&child);
    let mut forwarded = 0;
    let mut last = std::time::Instant::now();
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG) {
            Ok(Some((_, st))) => {
                let stopped_by = if forwarded > 0 { stop_signal() } else { None };
                return Ok(Outcome {
                    status: ExitStatus::from_raw(st.as_raw()),
                    stopped_by,
                });
            }
            Ok(None) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let count = STOP_COUNT.load(Ordering::SeqCst);
        if count > forwarded {
            let sig = if forwarded == 0 {
                Signal::TERM
            } else {
                Signal::KILL
            };
            // `pid` is our child, not yet reaped: the number cannot be another process's.
            let _ = rustix::process::kill_process(pid, sig);
            forwarded = count;
        }
        // SIGCHLD or a stop signal wakes this up; neither can be missed (see `install`).
        // Until the next tick is due (or without limit), so that an early wake-up does not
        // push the ticks apart.
        let wait_ms = if every_ms < 0 {
            -1
        } else {
            let due = u128::from(every_ms.unsigned_abs());
            i32::try_from(due.saturating_sub(last.elapsed().as_millis())).unwrap_or(every_ms)
        };
        poll_with_wake_for(None, wait_ms)?;
        if every_ms >= 0 && last.elapsed().as_millis() >= u128::from(every_ms.unsigned_abs()) {
            tick();
            last = std::time::Instant::now();
        }
    }
}

/// `hc_errval` for a worker's wait status: 0 on success, the exit code if it exited, `EINTR`
/// if it was stopped (SIGTERM, SIGINT, SIGHUP, SIGKILL), `EIO` if another signal killed it.
pub fn errval(status: &ExitStatus) -> u16 {
    if let Some(code) = status.code() {
        return code as u16 & 0xff;
    }
    match status.signal() {
        Some(libc::SIGTERM | libc::SIGINT | libc::SIGHUP | libc::SIGKILL) => libc::EINTR as u16,
        _ => libc::EIO as u16,
    }
}

/// How a worker ended, for messages.
pub fn describe(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(0), _) => "succeeded".into(),
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => format!("ended with wait status {:#x}", status.into_raw()),
    }
}

/// An exit status for an errno (or worker status): never 0, at most 255.
pub fn exit_code(err: i32) -> u8 {
    u8::try_from(err).ok().filter(|&c| c != 0).unwrap_or(1)
}

/// The `strerror(3)` text of an error (no " (os error N)" suffix).
pub fn strerror(e: &io::Error) -> String {
    let Some(n) = e.raw_os_error() else {
        return e.to_string();
    };
    // std's message is glibc's strerror_r() text followed by " (os error N)".
    let text = e.to_string();
    match text.strip_suffix(&format!(" (os error {n})")) {
        Some(text) => text.to_owned(),
        None => text,
    }
}

/// The errno of an error, `EIO` if it has none.
pub fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errvals_of_wait_statuses() {
        assert_eq!(errval(&ExitStatus::from_raw(0)), 0);
        assert_eq!(errval(&ExitStatus::from_raw(2 << 8)), 2);
        assert_eq!(errval(&ExitStatus::from_raw(255 << 8)), 255);
        assert_eq!(
            errval(&ExitStatus::from_raw(libc::SIGTERM)),
            libc::EINTR as u16
        );
        assert_eq!(
            errval(&ExitStatus::from_raw(libc::SIGKILL)),
            libc::EINTR as u16
        );
        assert_eq!(
            errval(&ExitStatus::from_raw(libc::SIGSEGV | 0x80)),
            libc::EIO as u16
        );
        assert_eq!(
            describe(&ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(describe(&ExitStatus::from_raw(9)), "was killed by signal 9");
    }

    #[test]
    fn exit_codes_are_never_zero() {
        assert_eq!(exit_code(2), 2);
        assert_eq!(exit_code(0), 1);
        assert_eq!(exit_code(256), 1);
        assert_eq!(exit_code(-5), 1);
    }

    #[test]
    fn strerror_text() {
        assert_eq!(
            strerror(&io::Error::from_raw_os_error(libc::ENOENT)),
            "No such file or directory"
        );
        assert_eq!(strerror(&io::Error::other("x")), "x");
    }

    #[test]
    fn runs_and_waits() {
        let child = spawn(Command::new("sh").args(["-c", "exit 3"])).expect("spawn");
        let o = wait(child).expect("wait");
        assert_eq!(o.status.code(), Some(3));
        assert_eq!(o.stopped_by, None);
        let e = spawn(&mut Command::new("/nonexistent/worker")).expect_err("no such program");
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }
}
