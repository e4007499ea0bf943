// SPDX-License-Identifier: GPL-2.0

//! The copytool loop against a fake device, with the real `lhsm_worker_posix`: archive,
//! release (a hole, size kept), restore, remove, and the failures on the way. Files are
//! "opened by FID" as files named after the FID in a directory.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use lhsm::archive::v1_path;
use lhsm::copytool::{Backend, Copytool, Tally};
use rustre_logic::fid::Fid;
use rustre_logic::uapi::{ActionItem, ActionList, Copy, Progress, HP_FLAG_COMPLETED};

pub struct Fake {
    pub files: PathBuf,
    pub starts: Vec<Copy>,
    pub ends: Vec<Copy>,
    pub progress: Vec<Progress>,
    pub fail_start: Option<i32>,
}

impl Backend for Fake {
    fn copy_start(&mut self, c: &mut Copy) -> io::Result<()> {
        if let Some(e) = self.fail_start {
            return Err(io::Error::from_raw_os_error(e));
        }
        c.data_version = 1000 + c.hai.cookie;
        self.starts.push(*c);
        Ok(())
    }

    fn copy_end(&mut self, c: &Copy) -> io::Result<()> {
        self.ends.push(*c);
        Ok(())
    }

    fn progress(&mut self, p: &Progress) -> io::Result<()> {
        self.progress.push(*p);
        Ok(())
    }

    fn open(&mut self, fid: &Fid, flags: i32) -> io::Result<File> {
        lfs::fid::open_path(&self.files.join(fid.to_string()), flags)
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lhsm-ct-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A worker that runs `lhsm_worker_posix` with the archive under `arc`.
fn worker(dir: &Path, arc: &Path) -> PathBuf {
    let posix = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lhsm_worker_posix");
    let p = dir.join("worker.sh");
    let script = format!(
        "#!/bin/sh\nLHSM_ARCHIVE_BASE={}/ exec {} \"$@\"\n",
        arc.display(),
        posix.display()
    );
    std::fs::write(&p, script).expect("write worker");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&p)
        .status()
        .expect("chmod");
    p
}

/// An action list of archive 1 for `lustre` with items (action, FID, cookie, data).
fn list(items: &[(u32, Fid, u64, &[u8])]) -> Vec<u8> {
    let hal = ActionList {
        count: items.len() as u32,
        compound_id: 1,
        flags: 0,
        archive_id: 1,
        fsname: b"lustre",
    };
    let mut b = vec![0u8; hal.size(items.iter().map(|i| i.3.len()))];
    let mut at = hal.encode_header(&mut b);
    for &(action, fid, cookie, data) in items {
        let item = ActionItem {
            action,
            fid,
            dfid: fid,
            length: u64::MAX,
            cookie,
            ..Default::default()
        };
        at = ActionList::encode_item(&mut b, at, &item, data);
    }
    b
}

fn run(ct: &mut Copytool<Fake>, b: &[u8]) -> (Tally, String) {
    let mut log = Vec::new();
    let t = ct.handle_list(b, &mut log).expect("well-formed list");
    (t, String::from_utf8_lossy(&log).into_owned())
}

#[test]
fn archive_release_restore_remove() {
    let d = tmp("cycle");
    let (files, arc) = (d.join("files"), d.join("arc"));
    std::fs::create_dir_all(&files).expect("mkdir");
    std::fs::create_dir_all(arc.join("1")).expect("mkdir");
    let (a, b, gone) = (
        Fid {
            seq: 0x2_0000_0401,
            oid: 1,
            ver: 0,
        },
        Fid::from_inode(12, 7).expect("FID"),
        Fid::from_inode(13, 1).expect("FID"),
    );
    let content: Vec<u8> = (0..3u32 << 20).map(|i| (i * 7 + i / 4096) as u8).collect();
    std::fs::write(files.join(a.to_string()), &content).expect("write a");
    std::fs::write(files.join(b.to_string()), b"small\n").expect("write b");
    let fake = Fake {
        files: files.clone(),
        starts: vec![],
        ends: vec![],
        progress: vec![],
        fail_start: None,
    };
    let mut ct = Copytool {
        backend: fake,
        worker: worker(&d, &arc).into(),
        name: "ct".into(),
    };

    let (t, log) = run(
        &mut ct,
        &list(&[
            (20, a, 1, b"x=1"),
            (20, b, 2, b""),
            (23, a, 3, b""),
            (99, b, 4, b""),
            (20, gone, 5, b""),
        ]),
    );
    assert_eq!((t.done, t.failed, t.stopped), (2, 3, false), "{log}");
    assert_eq!(t.last_error, libc::ENOENT as u16);
    assert_eq!(log.lines().count(), 5, "{log}");
    assert!(log
        .lines()
        .next()
        .is_some_and(|l| l.starts_with("ct: ARCHIVE [0x200000401:0x1:0x0] cookie 0x1 done in ")));
    assert!(
        log.contains("CANCEL") && log.contains("not supported"),
        "{log}"
    );
    let starts: Vec<u64> = ct.backend.starts.iter().map(|c| c.hai.cookie).collect();
    assert_eq!(starts, [1, 2, 3, 4, 5]);
    let ends: Vec<(u64, u16)> = ct
        .backend
        .ends
        .iter()
        .map(|c| (c.hai.cookie, c.errval))
        .collect();
    let (enotsup, einval, enoent) = (
        libc::EOPNOTSUPP as u16,
        libc::EINVAL as u16,
        libc::ENOENT as u16,
    );
    assert_eq!(
        ends,
        [(1, 0), (2, 0), (3, enotsup), (4, einval), (5, enoent)]
    );
    let e = ct.backend.ends[0];
    assert_eq!(
        (e.flags, e.data_version, e.archive_id, e.hai.fid, e.hai.len),
        (HP_FLAG_COMPLETED, 1001, 1, a, 75)
    );
    let copy = arc.join("1").join(v1_path(&a));
    assert_eq!(std::fs::read(&copy).expect("archived a"), content);
    assert_eq!(
        std::fs::read(arc.join("1").join(v1_path(&b))).expect("archived b"),
        b"small\n"
    );

    // Release: the data becomes a hole, the size stays.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(files.join(a.to_string()))
        .expect("open");
    f.set_len(0)
        .and_then(|()| f.set_len(content.len() as u64))
        .expect("punch");
    drop(f);
    let (t, log) = run(&mut ct, &list(&[(21, a, 6, b"")]));
    assert_eq!((t.done, t.failed), (1, 0), "{log}");
    assert_eq!(
        std::fs::read(files.join(a.to_string())).expect("restored"),
        content
    );

    let (t, log) = run(&mut ct, &list(&[(22, a, 7, b""), (21, a, 8, b"")]));
    assert_eq!((t.done, t.failed, t.last_error), (1, 1, 2), "{log}");
    assert!(!copy.exists());
    assert!(
        log.contains("RESTORE") && log.contains("exited with status 2"),
        "{log}"
    );

    // A copy the kernel refuses to start is not run, and ended with the refusal.
    ct.backend.fail_start = Some(libc::ENOENT);
    std::fs::remove_file(arc.join("1").join(v1_path(&b))).expect("rm copy of b");
    let (t, log) = run(&mut ct, &list(&[(20, b, 9, b"")]));
    assert_eq!((t.failed, t.last_error), (1, libc::ENOENT as u16), "{log}");
    let e = ct.backend.ends.last().expect("ended");
    assert_eq!(
        (e.hai.cookie, e.errval, e.flags),
        (9, libc::ENOENT as u16, HP_FLAG_COMPLETED)
    );
    assert!(!arc.join("1").join(v1_path(&b)).exists());
    assert!(log.contains("cannot start"), "{log}");

    let mut sink = Vec::new();
    assert!(ct.handle_list(b"garbage", &mut sink).is_err());
    let mut short = list(&[(20, b, 10, b""), (20, b, 11, b"")]);
    short.truncate(short.len() - 8);
    assert!(ct.handle_list(&short, &mut sink).is_err());
    std::fs::remove_dir_all(&d).expect("cleanup");
}

/// A copy that takes a few seconds is reported as it goes: contiguous extents from offset 0,
/// adding up to the bytes the worker had read, on the action's data FID and cookie.
#[test]
fn progress_of_a_slow_archive() {
    let d = tmp("progress");
    let files = d.join("files");
    std::fs::create_dir_all(&files).expect("mkdir");
    let fid = Fid::from_inode(21, 3).expect("FID");
    std::fs::write(files.join(fid.to_string()), vec![7u8; 256 << 10]).expect("write");
    // Reads 64 KiB, waits 2.5 s (two or three reports), then the rest.
    let w = d.join("slow.sh");
    std::fs::write(
        &w,
        "#!/bin/sh\ndd bs=64k count=1 of=/dev/null 2>/dev/null\nsleep 2.5\ncat >/dev/null\n",
    )
    .expect("write worker");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&w)
        .status()
        .expect("chmod");
    let mut ct = Copytool {
        backend: Fake {
            files,
            starts: vec![],
            ends: vec![],
            progress: vec![],
            fail_start: None,
        },
        worker: w.into(),
        name: "ct".into(),
    };
    let (t, log) = run(&mut ct, &list(&[(20, fid, 42, b"")]));
    assert_eq!((t.done, t.failed), (1, 0), "{log}");
    let p = &ct.backend.progress;
    assert!(!p.is_empty(), "no progress reported");
    assert_eq!(
        (p[0].fid, p[0].cookie, p[0].offset, p[0].length),
        (fid, 42, 0, 64 << 10)
    );
    let mut next = 0;
    for r in p {
        assert_eq!((r.offset, r.flags, r.errval), (next, 0, 0));
        next += r.length;
    }
    assert!(next <= 256 << 10);
    std::fs::remove_dir_all(&d).expect("cleanup");
}
