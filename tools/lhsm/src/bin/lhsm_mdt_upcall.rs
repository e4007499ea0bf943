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

use clap::Parser;
use lhsm::queue::Queue;
use lhsm::Request;

/// Queue an HSM request durably, for `lhsm_worker`: the program of `mdt.<target>.hsm.upcall_path`.
///
/// The queue is LHSM_QUEUE if set, else the `queue=` line of /etc/rustre/lhsm.conf, else
/// /var/lib/rustre/lhsm_queue.db. Exit status: 0 once the request is durable, 22 for arguments
/// it cannot use, 1 when it cannot be queued (the target's coordinator then takes it).
#[derive(Debug, Parser)]
#[command(name = "lhsm_mdt_upcall")]
struct Cli {
    /// The request as the target passes it: ARCHIVE or REMOVE, the file system name, the archive
    /// id, the request flags, the request data (any text) and one or more FIDs.
    #[arg(
        value_name = "ACTION FSNAME ARCHIVE_ID FLAGS DATA FID",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    request: Vec<String>,
}

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
    // Only the first word can be taken for an option: DATA and the FIDs are never options.
    let args = match lhsm::or_exit(Cli::try_parse()) {
        Ok(cli) => cli.request,
        Err(code) => return code,
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_lines() {
        Cli::command().debug_assert();
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("lhsm_mdt_upcall").chain(args.iter().copied()))
                .map(|c| c.request)
        };
        // As the target runs it, whatever DATA looks like.
        for data in ["", "-x", "--", "--help", "a b"] {
            let args = ["ARCHIVE", "lustre", "1", "0", data, "[0x200000401:0x1:0x0]"];
            assert_eq!(parse(&args).ok(), Some(args.map(str::to_owned).to_vec()));
        }
        assert!(parse(&[]).is_err_and(|e| e.use_stderr()));
        assert!(parse(&["--help"]).is_err_and(|e| !e.use_stderr()));
    }
}
