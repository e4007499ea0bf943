// SPDX-License-Identifier: GPL-2.0

//! A stop signal received while a worker runs is passed on to it (its own test binary: the
//! signal handlers are process-wide).

use std::process::Command;
use std::time::{Duration, Instant};

use lfs::worker;

#[test]
fn sigterm_stops_the_running_worker() {
    worker::install().expect("install");
    assert_eq!(worker::stop_signal(), None);
    let child = worker::spawn(Command::new("sleep").arg("30")).expect("spawn");
    let started = Instant::now();
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(200));
        // To this process, whose handler only records it.
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
            .expect("kill");
    });
    let o = worker::wait(child).expect("wait");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(o.stopped_by, Some(libc::SIGTERM));
    assert_eq!(worker::errval(&o.status), libc::EINTR as u16);
    assert_eq!(worker::stop_signal(), Some(libc::SIGTERM));
}
