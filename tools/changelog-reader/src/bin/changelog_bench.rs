// SPDX-License-Identifier: GPL-2.0

//! Measurements of the changelog device, run by `tests/bench/changelog_bench.sh`:
//!
//! - `changelog_bench device MDTNAME BYTES`: reads the whole changelog through the device,
//!   liblustreapi-style (`recv()` of one record at a time from `read()`s of BYTES), and prints
//!   `device BYTES: N records in S s`.
//! - `changelog_bench kuc MDTNAME`: the same through the KUC pipe baseline (two `read()`s per
//!   record), `kuc: N records in S s`.
//! - `changelog_bench latency MDTNAME DIR EVENTS [STARTREC]`: follow-mode wake-up latency.
//!   A writer creates files in DIR (on the target) one at a time; a reader thread blocked in
//!   `read()` on the device in follow mode, one blocked in `poll()`, and an inotify watch on
//!   DIR (the kernel's own event delivery, as the anchor) each see EVENTS creates, in blocks
//!   taken in turn. The latency of an event is the time from the return of the writer's
//!   `open(O_CREAT)` to the return of the reader's `read()` or `poll()`. Prints, per method,
//!   `latency METHOD: N events, median X us, p90 X us, p99 X us, max X us`. STARTREC (0 by
//!   default) is where the device readers start: a target without older records, or the
//!   index after its last one.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use changelog_reader::kuc::KucReader;
use changelog_reader::{
    Reader, FLAG_BLOCK, FLAG_EXTRA_FLAGS, FLAG_FOLLOW, FLAG_JOBID, FLAG_NID_BE,
};
use clap::{Parser, Subcommand};
use rustix::event::{PollFd, PollFlags};
use rustix::fs::inotify;
use rustix::fs::OFlags;
use rustix::io::Errno;

/// Events measured per method before the next method takes a turn.
const BLOCK: usize = 100;
/// How long the writer waits for a reader to see its create before calling it lost.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

fn device(mdt: &str, bytes: usize) -> io::Result<(u64, f64)> {
    let t = Instant::now();
    let mut r = Reader::start(
        mdt,
        FLAG_BLOCK | FLAG_JOBID | FLAG_EXTRA_FLAGS | FLAG_NID_BE,
        0,
    )?;
    r.set_read_size(bytes);
    let mut n = 0u64;
    while let Some(rec) = r.recv()? {
        n += u64::from(rec.record().index > 0);
    }
    Ok((n, t.elapsed().as_secs_f64()))
}

fn kuc(mdt: &str) -> io::Result<(u64, f64)> {
    let t = Instant::now();
    let mut r = KucReader::start(mdt, 0)?;
    let mut n = 0u64;
    while let Some(rec) = r.recv()? {
        n += u64::from(!rec.is_empty());
    }
    Ok((n, t.elapsed().as_secs_f64()))
}

/// How a reader waits for the next event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Read,
    Poll,
    Inotify,
}

impl Method {
    /// What the names of the files of its blocks start with, after `lat-`.
    fn tag(self) -> &'static str {
        match self {
            Method::Read => "r",
            Method::Poll => "p",
            Method::Inotify => "i",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Method::Read => "device read()",
            Method::Poll => "device poll()",
            Method::Inotify => "inotify read()",
        }
    }
}

/// A reader thread: sends the time of each wake-up with a create to read, and the record's
/// index (0 for inotify); ends after sending the create of the block's stop file
/// (`lat-<tag>-stop-...`). Ending on an event, not on a flag, leaves no race between the last
/// measured event and the end of the block.
fn spawn_reader(
    method: Method,
    mdt: &str,
    dir: &str,
    startrec: u64,
) -> io::Result<Receiver<io::Result<(Instant, u64)>>> {
    let (tx, rx) = mpsc::channel();
    let prefix = format!("lat-{}-", method.tag());
    let stop = format!("lat-{}-stop-", method.tag());
    match method {
        Method::Read | Method::Poll => {
            let mut r = Reader::start(mdt, FLAG_FOLLOW | FLAG_BLOCK | FLAG_NID_BE, startrec)?;
            if method == Method::Poll {
                let fl = rustix::fs::fcntl_getfl(&r)?;
                rustix::fs::fcntl_setfl(&r, fl | OFlags::NONBLOCK)?;
            }
            // For poll(), the wake-up is when poll() returns; for read(), when read() does
            // (inside `recv()`, which parses one record more: a few microseconds).
            let mut polled = None;
            thread::spawn(move || loop {
                if method == Method::Poll && !r.in_buf() {
                    let mut p = [PollFd::new(&r, PollFlags::IN)];
                    match rustix::event::poll(&mut p, None) {
                        Ok(_) => {}
                        Err(Errno::INTR) => continue,
                        Err(e) => {
                            let _ = tx.send(Err(e.into()));
                            return;
                        }
                    }
                    polled = Some(Instant::now());
                }
                let rec = match r.recv() {
                    Ok(Some(rec)) => rec,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Ok(None) => {
                        let _ = tx.send(Err(io::Error::other("end of changelog in follow mode")));
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let woke = polled.take().unwrap_or_else(Instant::now);
                // Only this reader's creates: other types (if the mask has them) and the files
                // of the other methods' blocks are not its events.
                let r = rec.record();
                if r.rtype == 1
                    && r.name.starts_with(prefix.as_bytes())
                    && (tx.send(Ok((woke, r.index))).is_err()
                        || r.name.starts_with(stop.as_bytes()))
                {
                    return;
                }
            });
        }
        Method::Inotify => {
            let fd = inotify::init(inotify::CreateFlags::CLOEXEC)?;
            inotify::add_watch(&fd, dir, inotify::WatchFlags::CREATE)?;
            let mut f = File::from(fd);
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let n = match f.read(&mut buf) {
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    let woke = Instant::now();
                    // One create, one event: the writer waits for each.
                    if n > 0
                        && (tx.send(Ok((woke, 0))).is_err() || names_start_with(&buf[..n], &stop))
                    {
                        return;
                    }
                }
            });
        }
    }
    Ok(rx)
}

/// Whether one of the inotify events in `buf` (as `read()` returned them) names a file whose
/// name starts with `prefix`.
fn names_start_with(mut buf: &[u8], prefix: &str) -> bool {
    // struct inotify_event { int wd; u32 mask; u32 cookie; u32 len; char name[len]; }
    const HDR: usize = 16;
    while let Some(len) = buf
        .get(12..HDR)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
    {
        let end = HDR.saturating_add(len as usize);
        let Some(name) = buf.get(HDR..end) else {
            return false;
        };
        if name.starts_with(prefix.as_bytes()) {
            return true;
        }
        buf = &buf[end..];
    }
    false
}

/// Creates `count` files and returns the latency of each, in microseconds (negative if the
/// reader woke before `open()` returned to the writer). `startrec` is where a device reader
/// starts, and becomes the index after the last record this block made.
fn measure(
    method: Method,
    mdt: &str,
    dir: &str,
    startrec: &mut u64,
    first: usize,
    count: usize,
) -> io::Result<Vec<f64>> {
    let rx = spawn_reader(method, mdt, dir, *startrec)?;
    // Let the reader reach its wait.
    thread::sleep(Duration::from_millis(200));
    let tag = method.tag();
    let mut lat = Vec::with_capacity(count);
    for i in first..first + count {
        let file = create(&format!("{dir}/lat-{tag}-{i}"))?;
        let done = Instant::now();
        let (woke, _) = next_event(&rx, method, i)?;
        drop(file);
        lat.push(if woke >= done {
            woke.duration_since(done).as_secs_f64() * 1e6
        } else {
            -(done.duration_since(woke).as_secs_f64() * 1e6)
        });
    }
    // One more create, not measured, after which the reader ends.
    drop(create(&format!("{dir}/lat-{tag}-stop-{first}"))?);
    let (_, index) = next_event(&rx, method, first + count)?;
    if method != Method::Inotify {
        *startrec = index + 1;
    }
    Ok(lat)
}

/// Creates (`open(O_CREAT | O_WRONLY)`) the file `path`: one event for every reader.
fn create(path: &str) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// The next event of a reader, or an error if it does not come in time.
fn next_event(
    rx: &Receiver<io::Result<(Instant, u64)>>,
    method: Method,
    i: usize,
) -> io::Result<(Instant, u64)> {
    rx.recv_timeout(EVENT_TIMEOUT)
        .map_err(|e| match e {
            RecvTimeoutError::Timeout => io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{}: no event within {EVENT_TIMEOUT:?} of create {i}",
                    method.name()
                ),
            ),
            RecvTimeoutError::Disconnected => {
                io::Error::other(format!("{}: the reader ended", method.name()))
            }
        })?
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", method.name())))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn latency(mdt: &str, dir: &str, events: usize, mut startrec: u64) -> io::Result<()> {
    let methods = [Method::Read, Method::Poll, Method::Inotify];
    let mut all: Vec<Vec<f64>> = vec![Vec::new(); methods.len()];
    let mut done = 0;
    while done < events {
        let count = BLOCK.min(events - done);
        for (m, lat) in methods.iter().zip(all.iter_mut()) {
            lat.extend(measure(*m, mdt, dir, &mut startrec, done, count)?);
        }
        done += count;
    }
    for (m, mut lat) in methods.iter().zip(all) {
        lat.sort_by(f64::total_cmp);
        println!(
            "latency {}: {} events, median {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us",
            m.name(),
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.9),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// Measurements of the changelog device (run by tests/bench/changelog_bench.sh).
#[derive(Debug, Parser)]
#[command(name = "changelog_bench")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Reads the whole changelog through the device, liblustreapi-style, BYTES per read();
    /// prints "device BYTES: N records in S s".
    Device {
        /// The target (MDT) name.
        #[arg(value_name = "MDTNAME")]
        mdt: String,
        /// The size of each read() of the device.
        #[arg(value_name = "BYTES")]
        bytes: usize,
    },
    /// Reads the whole changelog through the KUC pipe baseline; prints "kuc: N records in S s".
    Kuc {
        /// The target (MDT) name.
        #[arg(value_name = "MDTNAME")]
        mdt: String,
    },
    /// Follow-mode wake-up latency of device read(), device poll() and inotify, over EVENTS
    /// creates in DIR.
    Latency {
        /// The target (MDT) name.
        #[arg(value_name = "MDTNAME")]
        mdt: String,
        /// A directory on the target, where the files are created.
        #[arg(value_name = "DIR")]
        dir: String,
        /// How many creates each method sees.
        #[arg(value_name = "EVENTS")]
        events: usize,
        /// Where the device readers start: 0 for a target without older records, else the
        /// index after its last one.
        #[arg(value_name = "STARTREC", default_value_t = 0)]
        startrec: u64,
    },
}

/// The exit status of a bad command line (`EINVAL`).
const USAGE_EXIT: u8 = 22;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // The help (exit 0), or a usage error.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(USAGE_EXIT)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let res = match cli.command {
        Cmd::Device { mdt, bytes } => device(&mdt, bytes).map(|(n, s)| {
            println!("device {bytes}: {n} records in {s:.3} s");
        }),
        Cmd::Kuc { mdt } => kuc(&mdt).map(|(n, s)| println!("kuc: {n} records in {s:.3} s")),
        Cmd::Latency {
            mdt,
            dir,
            events,
            startrec,
        } => latency(&mdt, &dir, events, startrec),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("changelog_bench: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cmd, clap::Error> {
        Cli::try_parse_from(std::iter::once("changelog_bench").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    #[test]
    fn command_lines() {
        Cli::command().debug_assert();
        // As tests/bench/changelog_bench.sh runs it.
        assert!(matches!(
            parse(&["device", "bench-MDT0000", "65536"]),
            Ok(Cmd::Device { mdt, bytes: 65536 }) if mdt == "bench-MDT0000"
        ));
        assert!(matches!(
            parse(&["kuc", "bench-MDT0000"]),
            Ok(Cmd::Kuc { mdt }) if mdt == "bench-MDT0000"
        ));
        assert!(matches!(
            parse(&["latency", "lat-MDT0000", "/mnt/d", "1000"]),
            Ok(Cmd::Latency {
                events: 1000,
                startrec: 0,
                ..
            })
        ));
        assert!(matches!(
            parse(&["latency", "lat-MDT0000", "/mnt/d", "1000", "42"]),
            Ok(Cmd::Latency { mdt, dir, events: 1000, startrec: 42 })
                if mdt == "lat-MDT0000" && dir == "/mnt/d"
        ));
        for bad in [
            &[][..],
            &["device", "bench-MDT0000"],
            &["device", "bench-MDT0000", "4k"],
            &["kuc"],
            &["latency", "lat-MDT0000", "/mnt/d"],
            &["latency", "lat-MDT0000", "/mnt/d", "-1"],
            &["other", "x"],
        ] {
            assert!(parse(bad).is_err_and(|e| e.use_stderr()), "{bad:?}");
        }
        assert!(parse(&["--help"]).is_err_and(|e| !e.use_stderr()));
        assert!(parse(&["latency", "--help"]).is_err_and(|e| !e.use_stderr()));
    }
}
