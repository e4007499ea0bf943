// SPDX-License-Identifier: GPL-2.0

//! KUnit suites for the kernel-crate abstractions of the patch series that need the running
//! system (`kernel::umh`, `kernel::sysfs`, `kernel::fsnotify`), run when this module loads.
//!
//! They live in a module rather than in the kernel crate so that they run after the root
//! filesystem is mounted: the usermode-helper tests execute real programs, and the fsnotify
//! suite watches a filesystem the guest mounts. The suites that need neither are in the
//! patches, next to what they test, and run at boot (`rust_kernel_kthread`,
//! `rust_kernel_memalloc`, `rust_kernel_owned_wq`, `rust_kernel_block_bvec`).

use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{fsobj::FsPath, prelude::*};

module! {
    type: RustreKunit,
    name: "rustre_kunit",
    authors: ["rustre developers"],
    description: "KUnit tests of rustre's kernel-crate abstractions",
    license: "GPL",
}

struct RustreKunit;

/// The filesystem the `rustre_fsnotify` suite watches, looked up when the module loads.
///
/// KUnit runs each test in a kernel thread, whose root is the kernel's own empty one (nullfs)
/// rather than the system's: names are looked up here, in `init`, which runs in the task
/// loading the module, before the suites.
struct FsnotifyPaths {
    /// The root of a fresh ext4 (`tests/vm/guest.sh` mounts it at `fsnotify_tests::HSM_DIR`).
    root: FsPath,
    /// A file on it, made by the guest script.
    before: FsPath,
}

/// Set by `init` (null if the filesystem is not there), freed by `drop`; the suites run
/// between the two.
static FSNOTIFY_PATHS: AtomicPtr<FsnotifyPaths> = AtomicPtr::new(core::ptr::null_mut());

impl kernel::Module for RustreKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let paths = FsPath::lookup(fsnotify_tests::HSM_DIR, false).and_then(|root| {
            let before = FsPath::lookup(c"/tmp/rustre-kunit-hsm/before", false)?;
            Ok(KBox::new(FsnotifyPaths { root, before }, GFP_KERNEL)?)
        });
        match paths {
            Ok(p) => FSNOTIFY_PATHS.store(KBox::into_raw(p), Ordering::Release),
            Err(e) => pr_err!(
                "no filesystem at {:?} ({:?}): the rustre_fsnotify suite fails\n",
                fsnotify_tests::HSM_DIR,
                e
            ),
        }
        Ok(Self)
    }
}

impl Drop for RustreKunit {
    fn drop(&mut self) {
        let p = FSNOTIFY_PATHS.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: `p` came from `KBox::into_raw` in `init`, and the suites that borrowed
            // it ran before the module can be removed.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

/// The paths `init` found, for the suites.
fn fsnotify_paths() -> Result<&'static FsnotifyPaths> {
    let p = FSNOTIFY_PATHS.load(Ordering::Acquire);
    // SAFETY: A non-null pointer is the box `init` stored, freed only when the module goes,
    // after every suite ran.
    unsafe { p.as_ref() }.ok_or(ENOENT)
}

/// Counts how many times values holding it were dropped.
#[pin_data]
struct DropCount {
    #[pin]
    count: kernel::sync::Mutex<u32>,
}

impl DropCount {
    fn new() -> Result<kernel::sync::Arc<Self>> {
        kernel::sync::Arc::pin_init(
            pin_init!(Self {
                count <- kernel::new_mutex!(0),
            }),
            GFP_KERNEL,
        )
    }

    fn get(&self) -> u32 {
        *self.count.lock()
    }
}

/// Increments its [`DropCount`] when dropped.
struct Tracked(kernel::sync::Arc<DropCount>);

impl Drop for Tracked {
    fn drop(&mut self) {
        *self.0.count.lock() += 1;
    }
}

#[kunit_tests(rustre_umh)]
mod umh_tests {
    use super::*;
    use kernel::umh::Command;

    #[test]
    fn argv_is_checked() -> Result {
        assert!(Command::new(b"").is_err());
        assert!(Command::new(b"/bin/tr\0ue").is_err());
        let mut c = Command::new(b"/bin/true")?;
        c.arg(b"ARCHIVE")?.arg(b"")?.arg(b"[0x200000401:0x1:0x0]")?;
        assert_eq!(c.arg(b"a\0b").err(), Some(EINVAL));
        assert_eq!(c.env(b"NOEQUALS").err(), Some(EINVAL));
        assert_eq!(c.env(b"=x").err(), Some(EINVAL));
        c.env(b"A=1")?;
        let mut args = c.args();
        assert_eq!(args.next(), Some(&b"/bin/true"[..]));
        assert_eq!(args.next(), Some(&b"ARCHIVE"[..]));
        assert_eq!(args.next(), Some(&b""[..]));
        assert_eq!(args.next(), Some(&b"[0x200000401:0x1:0x0]"[..]));
        assert!(args.next().is_none());
        Ok(())
    }

    #[test]
    fn exit_codes_come_back() -> Result {
        assert!(Command::new(b"/bin/true")?.run()?.success());
        let mut c = Command::new(b"/bin/sh")?;
        c.arg(b"-c")?.arg(b"exit 3")?;
        let st = c.run_killable()?;
        assert_eq!(st.code(), Some(3));
        assert!(!st.success());
        Ok(())
    }

    #[test]
    fn arguments_arrive_intact() -> Result {
        let mut c = Command::new(b"/bin/sh")?;
        c.arg(b"-c")?
            .arg(b"[ \"$0\" = ARCHIVE ] && [ \"$1\" = '' ] && [ \"$2\" = 'a b' ] && [ $# = 2 ]")?
            .arg(b"ARCHIVE")?
            .arg(b"")?
            .arg(b"a b")?;
        assert_eq!(c.run()?.code(), Some(0));
        Ok(())
    }

    #[test]
    fn environment_is_exactly_what_was_given() -> Result {
        let mut c = Command::new(b"/bin/sh")?;
        c.arg(b"-c")?
            .arg(b"[ -z \"$HOME\" ] && [ -z \"$RUSTRE_X\" ]")?;
        assert_eq!(c.run()?.code(), Some(0));
        let mut c = Command::new(b"/bin/sh")?;
        c.arg(b"-c")?
            .arg(b"[ \"$RUSTRE_X\" = 42 ]")?
            .env(b"RUSTRE_X=42")?;
        assert_eq!(c.run()?.code(), Some(0));
        Ok(())
    }

    #[test]
    fn signal_is_reported() -> Result {
        let mut c = Command::new(b"/bin/sh")?;
        c.arg(b"-c")?.arg(b"kill -9 $$")?;
        let st = c.run()?;
        assert_eq!(st.signal(), Some(9));
        assert_eq!(st.code(), None);
        Ok(())
    }

    #[test]
    fn missing_program_is_enoent() -> Result {
        let r = Command::new(b"/nonexistent/rustre-upcall")?.run();
        assert_eq!(r.err(), Some(ENOENT));
        Ok(())
    }
}

#[kunit_tests(rustre_sysfs)]
mod sysfs_tests {
    use super::*;
    use core::{
        fmt,
        sync::atomic::{AtomicU32, AtomicUsize},
    };
    use kernel::sysfs::{Attr, Dir, Group, Groups};
    use kernel::umh::Command;

    /// What the test attributes see.
    struct Data {
        value: AtomicU32,
        stores: AtomicUsize,
        drops: &'static AtomicUsize,
    }

    impl Drop for Data {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn value_show(d: &Data, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", d.value.load(Ordering::SeqCst))
    }

    fn value_store(d: &Data, v: &[u8]) -> Result {
        d.stores.fetch_add(1, Ordering::SeqCst);
        let v = v.strip_suffix(b"\n").unwrap_or(v);
        let s = core::str::from_utf8(v).map_err(|_| EINVAL)?;
        d.value
            .store(s.parse().map_err(|_| EINVAL)?, Ordering::SeqCst);
        Ok(())
    }

    fn big_show(_: &Data, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in 0..1000 {
            f.write_str("0123456789")?;
        }
        Ok(())
    }

    fn poke_store(d: &Data, _: &[u8]) -> Result {
        d.stores.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    static GROUPS: [Group<Data>; 2] = [
        Group {
            name: None,
            attrs: &[
                Attr::rw(c"value", value_show, value_store),
                Attr::ro(c"big", big_show),
            ],
        },
        Group {
            name: Some(c"sub"),
            attrs: &[Attr::wo(c"poke", poke_store)],
        },
    ];

    /// Runs `script` with `/bin/sh -c` as a usermode helper: KUnit's threads have no path to
    /// sysfs of their own.
    fn sh(script: &[u8]) -> Result<Option<u8>> {
        let mut c = Command::new(b"/bin/sh")?;
        c.arg(b"-c")?.arg(script)?;
        Ok(c.run()?.code())
    }

    #[test]
    fn attributes_read_write_and_go() -> Result {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let dir = Dir::new_in_fs(c"rustre_kunit_sysfs")?;
        assert_eq!(Dir::new_in_fs(c"rustre_kunit_sysfs").err(), Some(EEXIST));
        let g = Groups::new(
            &dir,
            &GROUPS,
            Data {
                value: AtomicU32::new(7),
                stores: AtomicUsize::new(0),
                drops: &DROPS,
            },
            kernel::static_lock_class!(),
        )?;
        // Modes follow the callbacks; reads, writes, errors of store, a value cut at a page.
        let checks: [&[u8]; 7] = [
            b"[ \"$(stat -c %a /sys/fs/rustre_kunit_sysfs/value)\" = 644 ]",
            b"[ \"$(stat -c %a /sys/fs/rustre_kunit_sysfs/big)\" = 444 ]",
            b"[ \"$(stat -c %a /sys/fs/rustre_kunit_sysfs/sub/poke)\" = 200 ]",
            b"[ \"$(cat /sys/fs/rustre_kunit_sysfs/value)\" = 7 ]",
            b"echo 42 >/sys/fs/rustre_kunit_sysfs/value",
            b"! echo nope 2>/dev/null >/sys/fs/rustre_kunit_sysfs/value",
            b"[ \"$(wc -c </sys/fs/rustre_kunit_sysfs/big)\" = 4095 ]",
        ];
        for c in checks {
            assert_eq!(sh(c)?, Some(0));
        }
        assert_eq!(sh(b"echo x >/sys/fs/rustre_kunit_sysfs/sub/poke")?, Some(0));
        assert_eq!(g.data().value.load(Ordering::SeqCst), 42);
        assert_eq!(g.data().stores.load(Ordering::SeqCst), 3);
        // The groups keep their directory: it goes with the last of the two.
        drop(dir);
        assert_eq!(sh(b"[ -e /sys/fs/rustre_kunit_sysfs/value ]")?, Some(0));
        drop(g);
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        assert_eq!(sh(b"[ ! -e /sys/fs/rustre_kunit_sysfs ]")?, Some(0));
        Ok(())
    }
}

/// `kernel::fsnotify` on a real filesystem: `tests/vm/guest.sh` mounts a fresh ext4 (which
/// allows pre-content events) at [`fsnotify_tests::HSM_DIR`] before loading this module, with
/// a file `before` on it. Opens and reads come from real programs (usermode helpers), which
/// see the system's root.
#[kunit_tests(rustre_fsnotify)]
mod fsnotify_tests {
    use super::*;
    use kernel::fs::file::flags::O_RDWR;
    use kernel::fsnotify::{
        mask, Event, OpenPerm, PreAccess, PreContentHandler, PreContentWatch, SbHandler, SbWatch,
    };
    use kernel::sync::{Arc, Mutex};
    use kernel::umh::Command;

    /// The mount root the suite watches.
    pub(crate) const HSM_DIR: &CStr = c"/tmp/rustre-kunit-hsm";

    /// What a test handler saw and is told to do.
    #[derive(Default)]
    struct Seen {
        events: u32,
        opens: u32,
        accesses: u32,
        /// The inode of the last open and access seen.
        open_ino: u64,
        access_ino: u64,
        /// The range of the last access.
        range: Option<(i64, usize)>,
        /// Opens of this inode fail with `EPERM`; accesses of `deny_access` too.
        deny_open: u64,
        deny_access: u64,
        /// Opens of this inode are exempted from pre-content events.
        exempt: u64,
        /// What `wait_unlocked` gave, nested and not, in the last access.
        unlocked: (Option<u32>, Option<u32>),
    }

    #[pin_data]
    struct Handler {
        #[pin]
        seen: Mutex<Seen>,
        _t: Tracked,
    }

    impl Handler {
        fn new(drops: &kernel::sync::Arc<DropCount>) -> Result<Arc<Self>> {
            Arc::pin_init(
                pin_init!(Self {
                    seen <- kernel::new_mutex!(Seen::default()),
                    _t: Tracked(drops.clone()),
                }),
                GFP_KERNEL,
            )
        }
    }

    impl SbHandler for Handler {
        fn event(&self, _ev: &Event<'_>) {
            self.seen.lock().events += 1;
        }
    }

    impl PreContentHandler for Handler {
        fn open(&self, open: &OpenPerm<'_>) -> Result {
            let ino = open.inode().ino;
            let mut s = self.seen.lock();
            s.opens += 1;
            s.open_ino = ino;
            if s.exempt == ino {
                open.exempt();
            }
            if s.deny_open == ino {
                return Err(EPERM);
            }
            Ok(())
        }

        fn access(&self, access: &PreAccess<'_>) -> Result {
            let ino = access.inode().ino;
            // Outside the SRCU read lock, and nested (which runs in place).
            let unlocked = access
                .wait_unlocked(|| (Some(1), access.wait_unlocked(|| 2)))
                .unwrap_or((None, None));
            let mut s = self.seen.lock();
            s.accesses += 1;
            s.access_ino = ino;
            s.range = access.range();
            s.unlocked = unlocked;
            if s.deny_access == ino {
                return Err(EPERM);
            }
            Ok(())
        }
    }

    /// Runs `sh -c script` as a usermode helper; its exit code.
    fn sh(script: &[u8]) -> Result<Option<u8>> {
        let mut c = Command::new(b"/bin/sh")?;
        c.arg(b"-c")?.arg(script)?;
        Ok(c.run()?.code())
    }

    #[test]
    fn pre_content_refusals() -> Result {
        let drops = DropCount::new()?;
        assert_eq!(
            PreContentWatch::new(c"/nonexistent-rustre", Handler::new(&drops)?).err(),
            Some(ENOENT)
        );
        // The KUnit thread's root is the kernel's own (nullfs), which does not allow
        // pre-content events.
        let root = FsPath::lookup(c"/", false)?;
        assert_eq!(
            PreContentWatch::on(&root, Handler::new(&drops)?).err(),
            Some(EOPNOTSUPP)
        );
        // A file is not the root of a mount.
        let file = &fsnotify_paths()?.before;
        assert_eq!(
            PreContentWatch::on(file, Handler::new(&drops)?).err(),
            Some(ENOTDIR)
        );
        // The handler goes with every failure.
        assert_eq!(drops.get(), 3);
        Ok(())
    }

    /// What [`pre_content_events_and_teardown`] saw while its watch was up. It is checked
    /// after the watch is gone: a failed KUnit assertion ends the test's thread without
    /// running destructors, and a watch left behind would call into this module once it is
    /// unloaded.
    #[derive(Default)]
    struct Observed {
        /// The program's open and read, let through: its exit code, opens and accesses
        /// seen, the last access on the last opened inode, what `wait_unlocked` gave.
        first: Option<u8>,
        opens: u32,
        accesses: u32,
        same_ino: bool,
        unlocked: (Option<u32>, Option<u32>),
        /// `cat` with its read denied, with its open denied, and whether that read nothing.
        read_denied: Option<u8>,
        open_denied: Option<u8>,
        no_access_after_denied_open: bool,
        /// `cat` of an exempted open, and whether it read without access events.
        exempt: Option<u8>,
        no_access_when_exempt: bool,
        /// The truncate of the file opened before: its inode and position as reported.
        truncate_ino: u64,
        truncate_pos: Option<i64>,
        /// Whether `open_files` found the file opened before, and what its error gave.
        found_before: bool,
        walk_error: Option<Error>,
    }

    fn exercise(
        w: &PreContentWatch<Handler>,
        h: &Handler,
        before: &kernel::kfile::KFile,
        o: &mut Observed,
    ) -> Result {
        o.first = sh(b"echo data > /tmp/rustre-kunit-hsm/after && cat /tmp/rustre-kunit-hsm/after >/dev/null")?;
        // The KUnit thread cannot look the name up: the handler saw the inode.
        let ino_after = {
            let s = h.seen.lock();
            o.opens = s.opens;
            o.accesses = s.accesses;
            o.same_ino = s.access_ino == s.open_ino;
            o.unlocked = s.unlocked;
            s.open_ino
        };
        h.seen.lock().deny_access = ino_after;
        o.read_denied = sh(b"cat /tmp/rustre-kunit-hsm/after >/dev/null")?;
        let accesses = {
            let mut s = h.seen.lock();
            s.deny_access = 0;
            s.deny_open = ino_after;
            s.accesses
        };
        o.open_denied = sh(b"cat /tmp/rustre-kunit-hsm/after >/dev/null")?;
        o.no_access_after_denied_open = h.seen.lock().accesses == accesses;
        let accesses = {
            let mut s = h.seen.lock();
            s.deny_open = 0;
            s.deny_access = ino_after;
            s.exempt = ino_after;
            s.accesses
        };
        o.exempt = sh(b"cat /tmp/rustre-kunit-hsm/after >/dev/null")?;
        o.no_access_when_exempt = h.seen.lock().accesses == accesses;
        before.truncate(8192)?;
        {
            let s = h.seen.lock();
            o.truncate_ino = s.access_ino;
            o.truncate_pos = s.range.map(|r| r.0);
        }
        let (_, ino_before) = before.identity();
        w.open_files(|p| {
            if p.stat()?.ino == ino_before {
                o.found_before = true;
            }
            Ok(())
        })?;
        o.walk_error = w.open_files(|_| Err(EXDEV)).err();
        // Denied again, for the check that it goes through once the watch is gone.
        let mut s = h.seen.lock();
        s.exempt = 0;
        s.deny_open = ino_after;
        Ok(())
    }

    #[test]
    fn pre_content_events_and_teardown() -> Result {
        let paths = fsnotify_paths()?;
        let drops = DropCount::new()?;
        let h = Handler::new(&drops)?;
        // Opened before the watch: its reads never report, and `open_files` finds it.
        let before = paths.before.open(O_RDWR)?;
        let (_, ino_before) = before.identity();
        let w = PreContentWatch::on(&paths.root, h.clone())?;
        let mut o = Observed::default();
        let res = exercise(&w, &h, &before, &mut o);
        drop(h);
        drop(w);
        // The watch is gone, its handler released exactly once, when the drop returns.
        assert_eq!(drops.get(), 1);
        res?;
        // A program's open and read reach the handler, which lets them through; the wait
        // outside the SRCU lock ran, and in place when nested.
        assert_eq!(o.first, Some(0));
        assert!(o.opens >= 2);
        assert!(o.accesses >= 1);
        assert!(o.same_ino);
        assert_eq!(o.unlocked, (Some(1), Some(2)));
        // An error from `access` fails the read, one from `open` the open (nothing read).
        assert_eq!(o.read_denied, Some(1));
        assert_eq!(o.open_denied, Some(1));
        assert!(o.no_access_after_denied_open);
        // An exempted open reads without access events, even one the handler would deny.
        assert_eq!(o.exempt, Some(0));
        assert!(o.no_access_when_exempt);
        // A truncate reports an access with the new size, whatever the file's mode.
        assert_eq!(o.truncate_ino, ino_before);
        assert_eq!(o.truncate_pos, Some(8192));
        // `open_files` finds the file opened before the watch, and stops at the first error.
        assert!(o.found_before);
        assert_eq!(o.walk_error, Some(EXDEV));
        // Without the watch, the open it would deny goes through.
        before.truncate(0)?;
        assert_eq!(sh(b"cat /tmp/rustre-kunit-hsm/after >/dev/null")?, Some(0));
        Ok(())
    }

    #[test]
    fn sb_watch_events_and_teardown() -> Result {
        let paths = fsnotify_paths()?;
        let drops = DropCount::new()?;
        let h = Handler::new(&drops)?;
        let w = SbWatch::on(&paths.root, mask::CREATE, h.clone())?;
        let created = sh(b": > /tmp/rustre-kunit-hsm/created.$$");
        let events = h.seen.lock().events;
        drop(h);
        // As above, nothing is checked while the watch is up.
        drop(w);
        assert_eq!(drops.get(), 1);
        assert_eq!(created?, Some(0));
        assert_eq!(events, 1);
        Ok(())
    }
}
