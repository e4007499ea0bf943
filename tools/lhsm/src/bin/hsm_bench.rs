// SPDX-License-Identifier: GPL-2.0

//! `hsm_bench latency TARGET MOUNT ARCHIVE_ROOT ARCHIVE_LIST RESTORE_LIST`: restore dispatch
//! latency while archive requests pile up (LU-10968's case), for `tests/bench/hsm_bench.sh`.
//! `hsm_bench archive TARGET MOUNT ARCHIVE_ROOT LIST` archives the files of LIST with the same
//! copytool and returns when they are all done (to prepare the files to restore).
//!
//! `latency` registers as the target's copytool, sends one ARCHIVE request for every file of
//! ARCHIVE_LIST, then one RESTORE request per file of RESTORE_LIST (released files whose copy
//! is under ARCHIVE_ROOT in the v1 layout), and measures for each restore the time from its
//! request to the copytool receiving it. The copytool does its work in-process (archive: copy
//! the file to ARCHIVE_ROOT; restore: copy it back), so that the coordinator drains as fast as
//! one copytool can, without a process per action. Whether ARCHIVE goes to the coordinator or
//! to the upcall is the target's `hsm.upcall_mask`, set by the caller.
//!
//! Prints one line of results; exits non-zero if a restore is not dispatched in 900 s.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use lfs::fid::{open_fid, path2fid};
use lfs::hsm::{build_request, Device, ARCHIVE_OPEN, RESTORE_OPEN};
use lhsm::archive::v1_path;
use rustre_logic::fid::Fid;
use rustre_logic::mask::Action;
use rustre_logic::uapi::{ActionList, Copy, UserAction, HP_FLAG_COMPLETED};

fn fids_of(list: &Path) -> io::Result<Vec<Fid>> {
    fs::read_to_string(list)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| path2fid(Path::new(l)))
        .collect()
}

fn copy_all(from: &mut File, to: &mut File) -> io::Result<()> {
    from.rewind()?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
    }
}

/// Carries out one action; returns the result for COPY_END.
fn handle(dev: &Device, mount: &Path, root: &Path, c: &mut Copy) -> io::Result<()> {
    dev.copy_start(c)?;
    let fid = c.hai.fid;
    let copy = root.join(c.archive_id.to_string()).join(v1_path(&fid));
    if c.hai.action == Action::Archive as u32 {
        let mut src = open_fid(mount, &fid, ARCHIVE_OPEN)?;
        if let Some(d) = copy.parent() {
            fs::create_dir_all(d)?;
        }
        let tmp = copy.with_extension("tmp");
        copy_all(&mut src, &mut File::create(&tmp)?)?;
        fs::rename(&tmp, &copy)?;
    } else if c.hai.action == Action::Restore as u32 {
        let mut dst = open_fid(mount, &fid, RESTORE_OPEN)?;
        copy_all(&mut File::open(&copy)?, &mut dst)?;
        dst.sync_data()?;
    } else {
        return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
    }
    Ok(())
}

/// The copytool: reports each action's FID and arrival time on `tx` (RESTORE only, unless
/// `all`).
fn copytool(
    target: String,
    mount: PathBuf,
    root: PathBuf,
    all: bool,
    tx: mpsc::Sender<(Fid, Instant)>,
) -> io::Result<()> {
    let dev = Device::open(&target, false)?;
    dev.register(&[])?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = dev.read_list(&mut buf)?;
        let now = Instant::now();
        let hal = ActionList::decode(&buf[..n])
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EPROTO))?;
        for (item, _) in hal.items(&buf[..n]) {
            let restore = item.action == Action::Restore as u32;
            if restore && tx.send((item.fid, now)).is_err() {
                return Ok(());
            }
            let mut c = Copy {
                archive_id: hal.archive_id,
                hai: item,
                ..Default::default()
            };
            let res = handle(&dev, &mount, &root, &mut c);
            c.flags = HP_FLAG_COMPLETED;
            c.errval = res.err().and_then(|e| e.raw_os_error()).unwrap_or(0) as u16;
            dev.copy_end(&c)?;
            if all && !restore && tx.send((item.fid, Instant::now())).is_err() {
                return Ok(());
            }
        }
    }
}

fn send(dev: &Device, action: UserAction, fids: &[Fid]) -> io::Result<()> {
    let mut req = build_request(action, 0, 0, fids, b"")?;
    dev.request(&mut req)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn start_copytool(
    target: &str,
    mount: &Path,
    root: &Path,
    all: bool,
) -> mpsc::Receiver<(Fid, Instant)> {
    let (tx, rx) = mpsc::channel();
    let (t, m, r) = (target.to_owned(), mount.to_owned(), root.to_owned());
    std::thread::spawn(move || {
        if let Err(e) = copytool(t, m, r, all, tx) {
            eprintln!("hsm_bench: copytool: {e}");
        }
    });
    // Registered before the first request.
    std::thread::sleep(Duration::from_millis(200));
    rx
}

/// Waits for `n` reports; returns them.
fn collect(rx: &mpsc::Receiver<(Fid, Instant)>, n: usize) -> Result<Vec<(Fid, Instant)>, String> {
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        got.push(
            rx.recv_timeout(left)
                .map_err(|_| format!("{} of {} actions dispatched in 900 s", got.len(), n))?,
        );
    }
    Ok(got)
}

fn archive(target: &str, mount: &Path, root: &Path, list: &Path) -> Result<String, String> {
    let fids = fids_of(list).map_err(|e| format!("{}: {e}", list.display()))?;
    let dev = Device::open(target, false).map_err(|e| format!("{target}: {e}"))?;
    let rx = start_copytool(target, mount, root, true);
    let t0 = Instant::now();
    send(&dev, UserAction::Archive, &fids).map_err(|e| format!("archive request: {e}"))?;
    collect(&rx, fids.len())?;
    Ok(format!(
        "{} files archived in {:.2} s",
        fids.len(),
        t0.elapsed().as_secs_f64()
    ))
}

fn latency(
    target: &str,
    mount: &Path,
    root: &Path,
    alist: &Path,
    rlist: &Path,
) -> Result<String, String> {
    let archives = fids_of(alist).map_err(|e| format!("{}: {e}", alist.display()))?;
    let restores = fids_of(rlist).map_err(|e| format!("{}: {e}", rlist.display()))?;
    if restores.is_empty() {
        return Err("no file to restore".into());
    }
    let dev = Device::open(target, false).map_err(|e| format!("{target}: {e}"))?;
    let rx = start_copytool(target, mount, root, false);
    let t0 = Instant::now();
    send(&dev, UserAction::Archive, &archives).map_err(|e| format!("archive request: {e}"))?;
    let queued = t0.elapsed().as_secs_f64();
    let mut sent = BTreeMap::new();
    for f in &restores {
        sent.insert(*f, Instant::now());
        send(&dev, UserAction::Restore, std::slice::from_ref(f))
            .map_err(|e| format!("restore request: {e}"))?;
    }
    let mut lat: Vec<f64> = collect(&rx, restores.len())?
        .into_iter()
        .filter_map(|(fid, at)| {
            sent.get(&fid)
                .map(|s| at.duration_since(*s).as_secs_f64() * 1000.0)
        })
        .collect();
    if lat.is_empty() {
        return Err("no restore seen".into());
    }
    lat.sort_by(f64::total_cmp);
    Ok(format!(
        "{} archives requested in {:.2} s; {} restores: dispatch median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        archives.len(),
        queued,
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    ))
}

/// Benchmarks of HSM dispatch through a target's coordinator (run by
/// tests/bench/hsm_bench.sh), with an in-process copytool; prints one line of results.
#[derive(Debug, Parser)]
#[command(name = "hsm_bench")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Restore dispatch latency while archive requests pile up: one ARCHIVE request for every
    /// file of ARCHIVE_LIST, then one RESTORE request per file of RESTORE_LIST (released files
    /// with a copy under ARCHIVE_ROOT); fails if a restore is not dispatched in 900 s.
    Latency {
        /// The target, whose /dev/hsm-TARGET the copytool registers on.
        #[arg(value_name = "TARGET")]
        target: String,
        /// Where the target is mounted.
        #[arg(value_name = "MOUNT")]
        mount: PathBuf,
        /// The archive: copies go to ARCHIVE_ROOT/<archive id>/<v1 path of the FID>.
        #[arg(value_name = "ARCHIVE_ROOT")]
        root: PathBuf,
        /// A file listing the files to archive, one path a line.
        #[arg(value_name = "ARCHIVE_LIST")]
        alist: PathBuf,
        /// A file listing the files to restore, one path a line.
        #[arg(value_name = "RESTORE_LIST")]
        rlist: PathBuf,
    },
    /// Archives the files of LIST with the same copytool and returns when all are done.
    Archive {
        /// The target, whose /dev/hsm-TARGET the copytool registers on.
        #[arg(value_name = "TARGET")]
        target: String,
        /// Where the target is mounted.
        #[arg(value_name = "MOUNT")]
        mount: PathBuf,
        /// The archive: copies go to ARCHIVE_ROOT/<archive id>/<v1 path of the FID>.
        #[arg(value_name = "ARCHIVE_ROOT")]
        root: PathBuf,
        /// A file listing the files to archive, one path a line.
        #[arg(value_name = "LIST")]
        list: PathBuf,
    },
}

fn run(cmd: &Cmd) -> Result<String, String> {
    match cmd {
        Cmd::Latency {
            target,
            mount,
            root,
            alist,
            rlist,
        } => latency(target, mount, root, alist, rlist),
        Cmd::Archive {
            target,
            mount,
            root,
            list,
        } => archive(target, mount, root, list),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // The help (exit 0), or a usage error (exit 1, as any other failure).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(&cli.command) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hsm_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cmd, clap::Error> {
        Cli::try_parse_from(std::iter::once("hsm_bench").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    #[test]
    fn command_lines() {
        Cli::command().debug_assert();
        // As tests/bench/hsm_bench.sh runs it.
        assert!(matches!(
            parse(&["archive", "lustre-MDT0000", "/mnt", "/arc", "/w/rlist"]),
            Ok(Cmd::Archive { target, list, .. })
                if target == "lustre-MDT0000" && list == Path::new("/w/rlist")
        ));
        assert!(matches!(
            parse(&["latency", "lustre-MDT0000", "/mnt", "/arc", "/w/alist", "/w/rlist"]),
            Ok(Cmd::Latency { target, mount, root, alist, rlist })
                if target == "lustre-MDT0000"
                    && mount == Path::new("/mnt")
                    && root == Path::new("/arc")
                    && alist == Path::new("/w/alist")
                    && rlist == Path::new("/w/rlist")
        ));
        for bad in [
            &[][..],
            &["archive", "t", "/mnt", "/arc"],
            &["archive", "t", "/mnt", "/arc", "/l", "extra"],
            &["latency", "t", "/mnt", "/arc", "/a"],
            &["other"],
        ] {
            assert!(parse(bad).is_err_and(|e| e.use_stderr()), "{bad:?}");
        }
        assert!(parse(&["--help"]).is_err_and(|e| !e.use_stderr()));
        assert!(parse(&["archive", "--help"]).is_err_and(|e| !e.use_stderr()));
    }
}
