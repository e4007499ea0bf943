// SPDX-License-Identifier: GPL-2.0

//! `lhsm_worker [--queue DB] [--name NAME] [--lease SECS] [--once] [--upcall CMD] [--worker W]
//! [--mount DIR]`: drains the queue of `lhsm_mdt_upcall`. For each item it runs
//! `CMD [--mount DIR] W ACTION FSNAME ARCHIVE_ID FLAGS DATA FID` (default CMD `lfs hsm_upcall`,
//! W `lhsm_worker_posix`), renewing its lease while that runs; exit 0 marks the item done,
//! anything else gives it back for a retry after a backoff. A crashed worker's items are taken
//! again once their lease runs out; several workers can run at once. Progress goes to stdout.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use lhsm::queue::{now, Queue};

/// Drain the queue of `lhsm_mdt_upcall`: run the upcall command for each request, renewing a
/// lease on it while that runs; exit 0 marks it done, anything else gives it back for a retry.
///
/// Each item runs `CMD [--mount DIR] WORKER ACTION FSNAME ARCHIVE_ID FLAGS DATA FID`. Several
/// workers can share a queue. Exit status: 0 when --once drained the queue, 22 for a bad
/// command line, 1 when the queue cannot be opened.
#[derive(Debug, Parser)]
#[command(name = "lhsm_worker")]
struct Cli {
    /// The queue database [default: LHSM_QUEUE, else /var/lib/rustre/lhsm_queue.db].
    #[arg(long, value_name = "DB")]
    queue: Option<PathBuf>,
    /// The name the worker's leases are taken under [default: HOSTNAME-PID].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Lease length in seconds (at least 2), renewed every third of it.
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(i64).range(2..))]
    lease: i64,
    /// Exit once the queue is drained.
    #[arg(long)]
    once: bool,
    /// The upcall command, split at white space.
    #[arg(long, value_name = "CMD", default_value = "lfs hsm_upcall", value_parser = upcall_words)]
    upcall: UpcallCommand,
    /// The worker program the upcall command runs.
    #[arg(long, value_name = "W", default_value = "lhsm_worker_posix")]
    worker: String,
    /// Passed on to the upcall command as --mount DIR.
    #[arg(long, value_name = "DIR")]
    mount: Option<String>,
}

/// The words of `--upcall`, never empty.
#[derive(Clone, Debug)]
struct UpcallCommand(Vec<String>);

fn upcall_words(cmd: &str) -> Result<UpcallCommand, String> {
    let words: Vec<String> = cmd.split_whitespace().map(String::from).collect();
    if words.is_empty() {
        return Err("empty command".to_owned());
    }
    Ok(UpcallCommand(words))
}

struct Opts {
    queue: PathBuf,
    name: String,
    lease: i64,
    once: bool,
    upcall: Vec<String>,
    worker: String,
    mount: Option<String>,
}

impl From<Cli> for Opts {
    fn from(cli: Cli) -> Self {
        let queue = cli.queue.unwrap_or_else(|| {
            std::env::var_os("LHSM_QUEUE").map_or_else(
                || PathBuf::from("/var/lib/rustre/lhsm_queue.db"),
                PathBuf::from,
            )
        });
        let name = cli.name.unwrap_or_else(|| {
            format!(
                "{}-{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()),
                std::process::id()
            )
        });
        Opts {
            queue,
            name,
            lease: cli.lease,
            once: cli.once,
            upcall: cli.upcall.0,
            worker: cli.worker,
            mount: cli.mount,
        }
    }
}

fn main() -> ExitCode {
    let o = match lhsm::or_exit(Cli::try_parse()) {
        Ok(cli) => Opts::from(cli),
        Err(code) => return code,
    };
    let mut q = match Queue::open(&o.queue) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("lhsm_worker: {}: {e}", o.queue.display());
            return ExitCode::from(1);
        }
    };
    let (mut done, mut failed) = (0u64, 0u64);
    loop {
        let item = match q.claim(&o.name, o.lease, now()) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("lhsm_worker: claim: {e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let Some(it) = item else {
            if o.once {
                println!(
                    "lhsm_worker {}: queue drained: {done} done, {failed} failed",
                    o.name
                );
                return ExitCode::SUCCESS;
            }
            std::thread::sleep(Duration::from_secs(1));
            continue;
        };
        let mut cmd = Command::new(&o.upcall[0]);
        cmd.args(&o.upcall[1..]);
        if let Some(m) = &o.mount {
            cmd.args(["--mount", m]);
        }
        cmd.arg(&o.worker).args([
            it.action.as_str(),
            it.fsname.as_str(),
            &it.archive_id.to_string(),
            &it.flags.to_string(),
            it.data.as_str(),
            it.fid.as_str(),
        ]);
        // The command dies with the worker (SIGTERM), so a killed worker leaves no archiver
        // running beside the one that retakes the item.
        // SAFETY: `prctl(PR_SET_PDEATHSIG)` is async-signal-safe and only affects the child.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // Renew the lease at a third of its length while the command runs.
        let running = Arc::new(AtomicBool::new(true));
        let renewer = {
            let (running, path, name, lease, id) = (
                running.clone(),
                o.queue.clone(),
                o.name.clone(),
                o.lease,
                it.id,
            );
            std::thread::spawn(move || {
                let Ok(mut q) = Queue::open(&path) else {
                    return;
                };
                let step = Duration::from_secs((lease / 3).max(1) as u64);
                let mut last = std::time::Instant::now();
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if running.load(Ordering::Relaxed) && last.elapsed() >= step {
                        let _ = q.renew(id, &name, now() + lease);
                        last = std::time::Instant::now();
                    }
                }
            })
        };
        let status = cmd.status();
        let succeeded = matches!(&status, Ok(s) if s.success());
        running.store(false, Ordering::Relaxed);
        let _ = renewer.join();
        let result = match status {
            Ok(s) if s.success() => q.complete(it.id, &o.name).map(|held| {
                if held {
                    done += 1;
                } else {
                    eprintln!("lhsm_worker: lease of item {} lost while it ran", it.id);
                }
            }),
            Ok(s) => {
                failed += 1;
                // Back off: 10 s, 20 s, ... up to 10 minutes.
                let delay = (10i64 << it.attempts.min(6)).min(600);
                q.fail(it.id, &o.name, &format!("{s}"), now() + delay)
            }
            Err(e) => {
                failed += 1;
                q.fail(
                    it.id,
                    &o.name,
                    &format!("cannot run {}: {e}", o.upcall[0]),
                    now() + 60,
                )
            }
        };
        if let Err(e) = &result {
            eprintln!("lhsm_worker: item {}: {e}", it.id);
        }
        if let Ok(c) = q.counts() {
            println!(
                "lhsm_worker {}: {} {} {} (attempt {}); pending {}, leased {}, done {}",
                o.name,
                it.action,
                it.fid,
                if succeeded {
                    "done"
                } else {
                    "failed, will retry"
                },
                it.attempts,
                c.pending,
                c.leased,
                c.done
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("lhsm_worker").chain(args.iter().copied()))
    }

    /// The command lines of the test scripts and the documentation.
    #[test]
    fn command_lines() {
        Cli::command().debug_assert();
        let cli = parse(&["--once", "--name", "w1"]).expect("parses");
        assert!(cli.once && cli.name.as_deref() == Some("w1") && cli.lease == 300);
        assert_eq!(cli.upcall.0, ["lfs", "hsm_upcall"]);
        assert_eq!(cli.worker, "lhsm_worker_posix");
        let cli = parse(&[
            "--name",
            "w3",
            "--lease",
            "3",
            "--worker",
            "/tmp/w/slow_worker",
        ])
        .expect("parses");
        assert_eq!((cli.lease, cli.worker.as_str()), (3, "/tmp/w/slow_worker"));
        let cli = parse(&[
            "--queue",
            "/q.db",
            "--upcall",
            " /bin/lfs  hsm_upcall ",
            "--mount",
            "/mnt",
        ])
        .expect("parses");
        assert_eq!(cli.queue, Some(PathBuf::from("/q.db")));
        assert_eq!(cli.upcall.0, ["/bin/lfs", "hsm_upcall"]);
        assert_eq!(cli.mount.as_deref(), Some("/mnt"));
        for bad in [
            &["--lease", "1"][..],
            &["--lease", "x"],
            &["--upcall", " "],
            &["--name"],
            &["--bogus"],
            &["operand"],
        ] {
            assert!(parse(bad).is_err_and(|e| e.use_stderr()), "{bad:?}");
        }
    }
}
