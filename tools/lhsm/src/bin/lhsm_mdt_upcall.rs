// SPDX-License-Identifier: GPL-2.0

//! `lhsm_mdt_upcall ACTION FSNAME ARCHIVE_ID FLAGS DATA FID...`: the program to put in
//! `mdt.<target>.hsm.upcall_path`. It records the request in the persistent queue and exits 0
//! only once it is durable; any failure exits non-zero, so the MDT hands the request to the
//! coordinator instead and nothing accepted is lost.
//!
//! The kernel runs it with an empty environment. The queue is `LHSM_QUEUE` if set, else the
//! `queue=` line of `/etc/rustre/lhsm.conf`, else `/var/lib/rustre/lhsm_queue.db`.

use std::path::PathBuf;
use std::process::ExitCode;

use lhsm::queue::Queue;
use lhsm::Request;

/// Default queue database.
const DEFAULT_QUEUE: &str = "/var/lib/rustre/lhsm_queue.db";
/// Configuration file.
const CONFIG: &str = "/etc/rustre/lhsm.conf";

fn queue_path() -> PathBuf {
    if let Some(p) = std::env::var_os("LHSM_QUEUE") {
        return PathBuf::from(p);
    }
    if let Ok(conf) = std::fs::read_to_string(CONFIG) {
        for line in conf.lines() {
            if let Some(p) = line.trim().strip_prefix("queue=") {
                return PathBuf::from(p.trim());
            }
        }
    }
    PathBuf::from(DEFAULT_QUEUE)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let req = match Request::from_args(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lhsm_mdt_upcall: {}", e.0);
            return ExitCode::from(22);
        }
    };
    let path = queue_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match Queue::open(&path).and_then(|mut q| q.enqueue(&req)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Not queued: the MDT falls back to its coordinator.
            eprintln!("lhsm_mdt_upcall: cannot queue in {}: {e}", path.display());
            ExitCode::from(1)
        }
    }
}
