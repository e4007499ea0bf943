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

use lhsm::queue::{now, Queue};

struct Opts {
    queue: PathBuf,
    name: String,
    lease: i64,
    once: bool,
    upcall: Vec<String>,
    worker: String,
    mount: Option<String>,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        queue: std::env::var_os("LHSM_QUEUE").map_or_else(
            || PathBuf::from("/var/lib/rustre/lhsm_queue.db"),
            PathBuf::from,
        ),
        name: format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()),
            std::process::id()
        ),
        lease: 300,
        once: false,
        upcall: vec!["lfs".into(), "hsm_upcall".into()],
        worker: "lhsm_worker_posix".into(),
        mount: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |what: &str| it.next().ok_or(format!("{what} needs a value"));
        match a.as_str() {
            "--queue" => o.queue = PathBuf::from(val("--queue")?),
            "--name" => o.name = val("--name")?,
            "--lease" => o.lease = val("--lease")?.parse().map_err(|_| "bad --lease")?,
            "--once" => o.once = true,
            "--upcall" => {
                o.upcall = val("--upcall")?
                    .split_whitespace()
                    .map(String::from)
                    .collect()
            }
            "--worker" => o.worker = val("--worker")?,
            "--mount" => o.mount = Some(val("--mount")?),
            _ => return Err(format!("unknown option '{a}'")),
        }
    }
    if o.upcall.is_empty() || o.lease < 2 {
        return Err("empty --upcall or --lease below 2 s".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lhsm_worker: {e}");
            return ExitCode::from(22);
        }
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
