// SPDX-License-Identifier: GPL-2.0

//! A copytool stopped by SIGTERM in the middle of an action stops its worker and leaves that
//! action and the rest of the list unended, for the kernel to hand out again (its own test
//! binary: the signal handlers are process-wide).

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lhsm::copytool::{Backend, Copytool};
use rustre_logic::fid::Fid;
use rustre_logic::uapi::{ActionItem, ActionList, Copy, Progress};

#[derive(Default)]
struct Fake {
    starts: Vec<u64>,
    ends: Vec<u64>,
}

impl Backend for Fake {
    fn copy_start(&mut self, c: &mut Copy) -> io::Result<()> {
        self.starts.push(c.hai.cookie);
        Ok(())
    }

    fn copy_end(&mut self, c: &Copy) -> io::Result<()> {
        self.ends.push(c.hai.cookie);
        Ok(())
    }

    fn progress(&mut self, _p: &Progress) -> io::Result<()> {
        Ok(())
    }

    fn open(&mut self, _fid: &Fid, _flags: i32) -> io::Result<File> {
        File::open("/dev/null")
    }
}

#[test]
fn sigterm_gives_the_list_back() {
    lfs::worker::install().expect("install");
    let dir = std::env::temp_dir().join(format!("lhsm-ct-stop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let w: PathBuf = dir.join("slow.sh");
    std::fs::write(&w, "#!/bin/sh\nexec sleep 30\n").expect("write");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&w)
        .status()
        .expect("chmod");

    let hal = ActionList {
        count: 2,
        compound_id: 1,
        flags: 0,
        archive_id: 1,
        fsname: b"lustre",
    };
    let mut b = vec![0u8; hal.size([0usize, 0].into_iter())];
    let mut at = hal.encode_header(&mut b);
    for cookie in [1, 2] {
        let item = ActionItem {
            action: 22,
            fid: Fid::from_inode(5, 1).expect("FID"),
            cookie,
            ..Default::default()
        };
        at = ActionList::encode_item(&mut b, at, &item, &[]);
    }
    let mut ct = Copytool {
        backend: Fake::default(),
        worker: w.into(),
        name: "ct".into(),
    };
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(300));
        // To this process, whose handler only records it.
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
            .expect("kill");
    });
    let started = Instant::now();
    let mut log = Vec::new();
    let t = ct.handle_list(&b, &mut log).expect("well-formed");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(t.stopped);
    assert_eq!((t.done, t.failed), (0, 0));
    assert_eq!(ct.backend.starts, [1]);
    assert!(ct.backend.ends.is_empty());
    assert!(String::from_utf8_lossy(&log).contains("given back"));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
