// SPDX-License-Identifier: GPL-2.0

//! The upcall-to-archive chain on the host: `lhsm_mdt_upcall` queues, `lhsm_worker` drains with
//! `lhsm_worker_posix` as the worker. `lfs hsm_upcall` needs a kernel target (it opens files by
//! FID and reports to the MDT), so here a small script in its place opens the file by a name
//! derived from the FID and runs the worker with it as standard input; the VM tests run the
//! real one.

use std::path::{Path, PathBuf};
use std::process::Command;

use lhsm::archive::v1_path;
use rustre_logic::fid::Fid;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lhsm-chain-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn posix_worker() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lhsm_worker_posix")
}

/// Stands in for `lfs hsm_upcall WORKER ACTION FSNAME ARCHIVE_ID FLAGS DATA FID`.
fn fake_upcall(dir: &Path, files: &Path, slow_marker: Option<&Path>) -> PathBuf {
    let p = dir.join("upcall.sh");
    let slow = slow_marker.map_or(String::new(), |m| {
        format!(
            "if [ ! -e {0} ]; then touch {0}; sleep 100; fi\n",
            m.display()
        )
    });
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nworker=$1; shift\nfid=$6\n{slow}if [ \"$1\" = ARCHIVE ]; then exec \"$worker\" \"$@\" < {}/\"$fid\"; else exec \"$worker\" \"$@\"; fi\n",
            files.display()
        ),
    )
    .expect("write script");
    Command::new("chmod")
        .arg("+x")
        .arg(&p)
        .status()
        .expect("chmod");
    p
}

fn upcall(queue: &Path, args: &[String]) -> std::process::ExitStatus {
    Command::new(env!("CARGO_BIN_EXE_lhsm_mdt_upcall"))
        .env_clear()
        .env("LHSM_QUEUE", queue)
        .args(args)
        .status()
        .expect("run upcall")
}

#[test]
fn archive_then_remove_through_the_queue() {
    let d = tmp("arc");
    let (files, arc) = (d.join("files"), d.join("arc"));
    std::fs::create_dir_all(&files).expect("mkdir");
    std::fs::create_dir_all(arc.join("1")).expect("mkdir");
    let queue = d.join("q.db");
    let fids: Vec<Fid> = (0..20)
        .map(|i| Fid {
            seq: 0x2_0000_0400 + i,
            oid: 7,
            ver: 0,
        })
        .collect();
    for (i, f) in fids.iter().enumerate() {
        std::fs::write(
            files.join(f.to_string()),
            format!("content {i}\n").repeat(i * 100 + 1),
        )
        .expect("write");
    }
    let mut args: Vec<String> = ["ARCHIVE", "lustre", "1", "0", ""]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(fids.iter().map(|f| f.to_string()));
    assert!(upcall(&queue, &args).success());
    let script = fake_upcall(&d, &files, None);
    let run_worker = || {
        let out = Command::new(env!("CARGO_BIN_EXE_lhsm_worker"))
            .env("LHSM_ARCHIVE_BASE", arc.join(""))
            .args([
                "--queue",
                queue.to_str().unwrap_or(""),
                "--once",
                "--name",
                "t",
            ])
            .args(["--upcall", script.to_str().unwrap_or(""), "--worker"])
            .arg(posix_worker())
            .output()
            .expect("run worker");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run_worker();
    for f in &fids {
        let copy = arc.join("1").join(v1_path(f));
        let orig = std::fs::read(files.join(f.to_string())).expect("orig");
        assert_eq!(std::fs::read(&copy).expect("archived copy"), orig, "{f}");
    }
    let mut rm: Vec<String> = ["REMOVE", "lustre", "1", "0", ""]
        .iter()
        .map(|s| s.to_string())
        .collect();
    rm.push(fids[0].to_string());
    assert!(upcall(&queue, &rm).success());
    run_worker();
    assert!(!arc.join("1").join(v1_path(&fids[0])).exists());
    assert!(arc.join("1").join(v1_path(&fids[1])).exists());
}

#[test]
fn refused_requests_and_unwritable_queue() {
    let d = tmp("refuse");
    let q = d.join("q.db");
    let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        upcall(
            &q,
            &a(&["RESTORE", "lustre", "1", "0", "", "[0x1:0x1:0x0]"])
        )
        .code(),
        Some(22)
    );
    assert_eq!(
        upcall(&q, &a(&["ARCHIVE", "lustre", "1", "0", ""])).code(),
        Some(22)
    );
    // A queue that cannot be written: non-zero, so the MDT falls back to the coordinator.
    let bad = Path::new("/proc/self/lhsm/q.db");
    assert!(!upcall(
        bad,
        &a(&["ARCHIVE", "lustre", "1", "0", "", "[0x1:0x1:0x0]"])
    )
    .success());
}

#[test]
fn a_killed_worker_item_is_retried_and_completes() {
    let d = tmp("kill");
    let (files, arc) = (d.join("files"), d.join("arc"));
    std::fs::create_dir_all(&files).expect("mkdir");
    std::fs::create_dir_all(arc.join("1")).expect("mkdir");
    let queue = d.join("q.db");
    let fid = Fid {
        seq: 0x2_0000_0500,
        oid: 1,
        ver: 0,
    };
    let data = vec![b'x'; 3 << 20];
    std::fs::write(files.join(fid.to_string()), &data).expect("write");
    let args: Vec<String> = ["ARCHIVE", "lustre", "1", "0", "", &fid.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(upcall(&queue, &args).success());
    // The first run hangs in the upcall (as a worker stuck mid-archive) and is killed.
    let script = fake_upcall(&d, &files, Some(&d.join("slow-once")));
    let worker = |once: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lhsm_worker"));
        c.env("LHSM_ARCHIVE_BASE", arc.join(""))
            .args(["--queue", queue.to_str().unwrap_or(""), "--lease", "2"])
            .args(["--upcall", script.to_str().unwrap_or(""), "--worker"])
            .arg(posix_worker());
        if once {
            c.arg("--once");
        }
        c
    };
    let mut first = worker(false)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_secs(2));
    first.kill().expect("kill");
    let _ = first.wait();
    // The lease runs out; another worker takes the item and finishes it.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let out = worker(true).output().expect("second worker");
    assert!(out.status.success());
    let copy = arc.join("1").join(v1_path(&fid));
    assert_eq!(std::fs::read(&copy).expect("archived"), data);
    // No temporary copy left behind.
    let dir = copy.parent().expect("dir");
    let names: Vec<_> = std::fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}
