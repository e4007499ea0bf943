// SPDX-License-Identifier: GPL-2.0

//! Metadata targets: a named changelog over a mounted local filesystem.
//!
//! A target, `<fsname>-MDT<xxxx>`, stands for a Lustre metadata target. It watches every
//! metadata operation on one mounted filesystem and keeps Lustre changelog records of them
//! in a persistent catalog file, with Lustre's changelog users, masks and clear semantics.
//! Targets are attached and detached at runtime through `/dev/rustre-mdt` (what `lctl
//! mdt_attach` uses) or at load time with the `targets` parameter; their parameters are in
//! sysfs under `/sys/fs/lustre/mdd/<target>/` (the user table in debugfs, at the same path
//! under `lustre/`), and `/sys/fs/lustre/mdt/<target>/` is there for other modules' parameters
//! of the target (HSM).
//!
//! See `Documentation/mdt.rst`.

use kernel::{
    debugfs::Dir,
    fs::{File, Kiocb},
    fsnotify::SbWatch,
    iov::{IovIterDest, IovIterSource},
    kthread::KThread,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    str::CString,
    sync::{Arc, Mutex},
    sysfs,
};

mod api;
#[allow(dead_code, unreachable_pub)]
mod attrs;
mod capture;
#[allow(dead_code, unreachable_pub)]
mod catalog_fmt;
mod changelog;
#[allow(dead_code, unreachable_pub)]
mod fid;
#[allow(unreachable_pub)]
mod observer;
mod params;
#[allow(dead_code, unreachable_pub)]
mod record;

use changelog::Changelog;

module! {
    type: RustreMdt,
    name: "rustre_mdt",
    authors: ["rustre developers"],
    description: "Metadata targets with persistent Lustre changelogs over local filesystems",
    license: "GPL",
}

extern "C" {
    /// The `targets` module parameter (`mdt_param.c`): `NAME:MOUNT:CATALOG[,...]`.
    fn rustre_mdt_targets_param() -> *const kernel::ffi::c_char;
}

// Text adapters for log messages, shared with hsm_upcall.
mod logfmt;
pub(crate) use logfmt::{BStr, D};

/// An attached target. Dropping it detaches: parameters go first, then the filesystem watch
/// (no new records after that), then the flusher after a last flush, then the catalog.
struct Target {
    name: CString,
    cl: Arc<Changelog>,
    params: Option<params::Params>,
    /// `/sys/fs/lustre/mdt/<target>/`, for other modules' parameters of the target (which
    /// they remove before the target goes, when told it is detaching).
    sys_mdt: Option<sysfs::Dir>,
    /// debugfs `lustre/mdt/<target>/`, likewise.
    debug_mdt: Option<Dir>,
    watch: Option<SbWatch<Changelog>>,
    flusher: Option<KThread>,
}

impl Drop for Target {
    fn drop(&mut self) {
        self.params.take();
        self.sys_mdt.take();
        self.debug_mdt.take();
        self.watch.take();
        self.cl.stop();
        self.flusher.take();
        pr_info!("{}: detached\n", BStr(self.name.to_bytes()));
    }
}

/// The sysfs directories of all targets, made at load, removed at unload.
struct SysDirs {
    /// `/sys/fs/lustre/mdd/`.
    mdd: sysfs::Dir,
    /// `/sys/fs/lustre/mdt/`.
    mdt: sysfs::Dir,
    /// `/sys/fs/lustre/`, last to go.
    _lustre: sysfs::Dir,
}

impl SysDirs {
    fn new() -> Result<Self> {
        let lustre = sysfs::Dir::new_in_fs(c"lustre").inspect_err(|e| {
            if *e == EEXIST {
                pr_err!(
                    "/sys/fs/lustre exists: is Lustre loaded? rustre_mdt cannot run beside it\n"
                );
            }
        })?;
        Ok(Self {
            mdd: sysfs::Dir::new(c"mdd", &lustre)?,
            mdt: sysfs::Dir::new(c"mdt", &lustre)?,
            _lustre: lustre,
        })
    }
}

/// Attached targets, the directories their parameters live in, and the observers (other
/// modules) told of attaches and detaches.
struct Registry {
    targets: KVec<KBox<Target>>,
    sys: Option<SysDirs>,
    /// debugfs `lustre/mdd/`, for the user tables.
    mdd: Option<Dir>,
    /// `lustre/mdt/`, for the parameters other modules keep per target (HSM).
    mdt: Option<Dir>,
    observers: KVec<api::ObserverPtr>,
}

kernel::sync::global_lock! {
    // SAFETY: Initialized in module init before anything uses it.
    unsafe(uninit) static REGISTRY: Mutex<Registry> = Registry {
        targets: KVec::new(),
        sys: None,
        mdd: None,
        mdt: None,
        observers: KVec::new(),
    };
}

fn to_cstring(b: &[u8]) -> Result<CString> {
    if b.contains(&0) {
        return Err(EINVAL);
    }
    CString::try_from_fmt(fmt!("{}", BStr(b)))
}

/// Attaches target `name` over the filesystem mounted at `mount`, with its catalog at
/// `catalog`.
fn attach(reg: &mut Registry, name: &[u8], mount: &[u8], catalog: &[u8]) -> Result {
    if !catalog_fmt::valid_target_name(name) {
        pr_err!(
            "attach: bad target name '{}': expected <fsname>-MDT<4 hex digits>\n",
            BStr(name)
        );
        return Err(EINVAL);
    }
    if !mount.starts_with(b"/") || !catalog.starts_with(b"/") {
        pr_err!(
            "attach {}: mount point and catalog must be absolute paths\n",
            BStr(name)
        );
        return Err(EINVAL);
    }
    if reg.targets.iter().any(|t| t.name.to_bytes() == name) {
        pr_err!("attach: {} is already attached\n", BStr(name));
        return Err(EEXIST);
    }
    let name = to_cstring(name)?;
    let mount = to_cstring(mount)?;
    let catalog = to_cstring(catalog)?;
    // Check the mount point before the catalog is created.
    kernel::fsnotify::check_mount_root(&mount).inspect_err(|e| {
        pr_err!(
            "attach {}: {} is not the root of a mounted filesystem: {:?}\n",
            BStr(name.to_bytes()),
            BStr(mount.to_bytes()),
            e
        );
    })?;
    let cl = Changelog::open(&name, &mount, &catalog).inspect_err(|e| {
        pr_err!(
            "attach {}: cannot open catalog {}: {:?}\n",
            BStr(name.to_bytes()),
            BStr(catalog.to_bytes()),
            e
        );
    })?;
    let watch = SbWatch::new(&mount, capture::EVENTS, cl.clone()).inspect_err(|e| {
        pr_err!(
            "attach {}: {} is not the root of a mounted filesystem: {:?}\n",
            BStr(name.to_bytes()),
            BStr(mount.to_bytes()),
            e
        );
    })?;
    let sys = reg.sys.as_ref().ok_or(ENODEV)?;
    let mdd = reg.mdd.as_ref().ok_or(ENODEV)?;
    let params = params::create(
        &sys.mdd,
        mdd,
        &name,
        params::ParamData {
            cl: cl.clone(),
            mount: to_cstring(mount.to_bytes())?,
            catalog: to_cstring(catalog.to_bytes())?,
        },
    )?;
    let sys_mdt = sysfs::Dir::new(&name, &sys.mdt)?;
    let debug_mdt = reg.mdt.as_ref().ok_or(ENODEV)?.subdir(&name);
    // Last, so that no error path has to stop it.
    let fl = cl.clone();
    let flusher = KThread::run(fmt!("mdt_flush/{}", BStr(name.to_bytes())), move || {
        fl.flusher()
    })?;
    pr_info!(
        "{}: attached to {}, catalog {}\n",
        BStr(name.to_bytes()),
        BStr(mount.to_bytes()),
        BStr(catalog.to_bytes())
    );
    let t = KBox::new(
        Target {
            name,
            cl,
            params: Some(params),
            sys_mdt: Some(sys_mdt),
            debug_mdt: Some(debug_mdt),
            watch: Some(watch),
            flusher: Some(flusher),
        },
        GFP_KERNEL,
    )?;
    reg.targets.push(t, GFP_KERNEL)?;
    if let Some(t) = reg.targets.last() {
        for o in reg.observers.iter() {
            notify_attached(*o, t);
        }
    }
    Ok(())
}

fn notify_attached(o: api::ObserverPtr, t: &Target) {
    let (Some(dir), Some(debug)) = (t.sys_mdt.as_ref(), t.debug_mdt.as_ref()) else {
        return;
    };
    // SAFETY: Registered observers are valid until they unregister, under the registry lock
    // we hold; the handle's reference goes to the observer, the directories are borrowed for
    // the call (and stay until the observer was told the target is detaching).
    unsafe {
        if let Some(f) = (*o.0).attached {
            f(
                o.0,
                api::handle(&t.cl),
                t.name.as_char_ptr(),
                dir.kobject().as_raw(),
                debug.as_raw(),
            );
        }
    }
}

/// Registers an observer of another module and tells it of every attached target.
pub(crate) fn observe(o: api::ObserverPtr) -> Result {
    let mut reg = REGISTRY.lock();
    reg.observers.push(o, GFP_KERNEL)?;
    for t in reg.targets.iter() {
        notify_attached(o, t);
    }
    Ok(())
}

/// Unregisters an observer, telling it first that every attached target is detaching (the
/// mirror of [`observe`]): it removes what it made in the targets' directories while they
/// still exist, as it would for a detach.
pub(crate) fn unobserve(o: api::ObserverPtr) {
    let mut reg = REGISTRY.lock();
    if let Some(i) = reg.observers.iter().position(|x| *x == o) {
        for t in reg.targets.iter() {
            notify_detaching(o, t);
        }
        let _ = reg.observers.remove(i);
    }
    if reg.observers.is_empty() {
        drop(core::mem::take(&mut reg.observers));
    }
}

/// The changelog of the target called `name`.
pub(crate) fn lookup(name: &[u8]) -> Option<Arc<Changelog>> {
    let reg = REGISTRY.lock();
    reg.targets
        .iter()
        .find(|t| t.name.to_bytes() == name)
        .map(|t| t.cl.clone())
}

/// Detaches a target; `EBUSY` while another module uses its changelog.
fn detach(reg: &mut Registry, name: &[u8]) -> Result {
    let i = reg
        .targets
        .iter()
        .position(|t| t.name.to_bytes() == name)
        .ok_or(ENODEV)?;
    reg.targets[i].cl.begin_detach().inspect_err(|_| {
        pr_info!(
            "detach {}: target in use (open changelog readers)\n",
            BStr(name)
        );
    })?;
    let t = reg.targets.remove(i)?;
    for o in reg.observers.iter() {
        notify_detaching(*o, &t);
    }
    drop(t);
    Ok(())
}

fn notify_detaching(o: api::ObserverPtr, t: &Target) {
    // SAFETY: As in `notify_attached`; the handle is only borrowed for the call.
    unsafe {
        if let Some(f) = (*o.0).detaching {
            let h = api::handle(&t.cl);
            f(o.0, h);
            drop(Arc::from_raw(h.cast::<Changelog>()));
        }
    }
}

/// Longest control command.
const CONTROL_MAX: usize = 8192;

/// Largest reply of the `records` command.
const RECORDS_REPLY_MAX: usize = 64 << 10;

/// Splits a command into whitespace-separated words.
fn words(cmd: &[u8]) -> impl Iterator<Item = &[u8]> {
    cmd.split(|c| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
}

fn parse_u64(w: &[u8]) -> Result<u64> {
    let s = core::str::from_utf8(w).map_err(|_| EINVAL)?;
    s.parse::<u64>().map_err(|_| EINVAL)
}

/// Most records one `mark` command appends.
const MARK_MAX: u64 = 10_000_000;

fn reply_num(reply: &mut KVec<u8>, n: u64) -> Result {
    let mut buf = [0u8; 24];
    let mut sw = catalog_fmt::SliceWriter {
        buf: &mut buf,
        len: 0,
    };
    let _ = core::fmt::Write::write_fmt(&mut sw, format_args!("{n}\n"));
    let len = sw.len;
    reply.extend_from_slice(&buf[..len], GFP_KERNEL)?;
    Ok(())
}

/// Runs one control command; writes its reply (if any) to `reply`. Attach, detach and list
/// hold the registry lock; commands on one target take a reference to its changelog and run
/// without it, so a slow catalog does not hold up the others.
fn control(cmd: &[u8], reply: &mut KVec<u8>) -> Result {
    let mut w = words(cmd);
    let verb = w.next().ok_or(EINVAL)?;
    let mut arg = || w.next().ok_or(EINVAL);
    match verb {
        b"attach" => {
            let (n, m, c) = (arg()?, arg()?, arg()?);
            attach(&mut REGISTRY.lock(), n, m, c)
        }
        b"detach" => detach(&mut REGISTRY.lock(), arg()?),
        b"list" => {
            let reg = REGISTRY.lock();
            for t in reg.targets.iter() {
                reply.extend_from_slice(t.name.to_bytes(), GFP_KERNEL)?;
                reply.push(b'\n', GFP_KERNEL)?;
            }
            Ok(())
        }
        _ => {
            let name = arg()?;
            let cl = lookup(name).ok_or_else(|| {
                pr_info!("no target {}\n", BStr(name));
                ENODEV
            })?;
            target_command(&cl, verb, &mut arg, reply)
        }
    }
}

/// The commands on one target.
fn target_command<'a>(
    cl: &Changelog,
    verb: &[u8],
    arg: &mut impl FnMut() -> Result<&'a [u8]>,
    reply: &mut KVec<u8>,
) -> Result {
    match verb {
        b"changelog_register" => {
            let (mut mask, mut user): (&[u8], &[u8]) = (b"", b"");
            while let Ok(opt) = arg() {
                if let Some(m) = opt.strip_prefix(b"mask=") {
                    mask = m;
                } else if let Some(u) = opt.strip_prefix(b"user=") {
                    user = u;
                } else {
                    return Err(EINVAL);
                }
            }
            // Lustre accepts commas in -m; spaces are separators here, so commas it is.
            let label = cl.register(user, mask)?;
            reply.extend_from_slice(label.to_bytes(), GFP_KERNEL)?;
            reply.push(b'\n', GFP_KERNEL)?;
            Ok(())
        }
        b"changelog_deregister" => {
            let id = cl.deregister(arg()?)?;
            reply_num(reply, u64::from(id))
        }
        b"changelog_clear" => {
            let id = arg()?;
            let endrec = parse_u64(arg()?)?;
            cl.clear(id, endrec)
        }
        b"sync" => cl.sync(),
        b"mark" => {
            // COUNT MARK records named TEXT, through the append interface (for tests and
            // benchmarks of readers; Lustre writes MARK records on its own events).
            let count = parse_u64(arg()?)?;
            if count > MARK_MAX {
                return Err(EINVAL);
            }
            let text = arg().unwrap_or(b"mark");
            if text.len() > record::NAME_MAX {
                return Err(EINVAL);
            }
            let (sec, nsec) = kernel::fsnotify::current::real_time();
            let mut appended = 0u64;
            for i in 0..count {
                if i % 4096 == 0 && kernel::current!().signal_pending() {
                    return Err(EINTR);
                }
                let mut rec = record::Record {
                    rtype: record::CL_MARK,
                    time: record::cl_time(sec, nsec),
                    name: text,
                    ..record::Record::default()
                };
                if cl.append_wait(&mut rec)?.is_some() {
                    appended += 1;
                }
            }
            reply_num(reply, appended)
        }
        b"records" => {
            // Whole durable records from an index on, in Lustre's binary format, through the
            // same read interface the changelog device uses.
            let from = parse_u64(arg()?)?;
            let start = reply.len();
            reply.extend_with(RECORDS_REPLY_MAX, 0, GFP_KERNEL)?;
            let (n, _next) = cl.read_records(from, &mut reply[start..])?;
            reply.truncate(start + n);
            Ok(())
        }
        _ => Err(EINVAL),
    }
}

/// An open file of the control node: the reply of its last command.
#[pin_data]
struct ControlFile {
    #[pin]
    reply: Mutex<KVec<u8>>,
}

#[vtable]
impl MiscDevice for ControlFile {
    type Ptr = Pin<KBox<Self>>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(ControlFile { reply <- new_mutex!(KVec::new()) }),
            GFP_KERNEL,
        )
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        // SAFETY: `capable()` only reads the current task's credentials.
        if !unsafe { kernel::bindings::capable(kernel::bindings::CAP_SYS_ADMIN as i32) } {
            return Err(EPERM);
        }
        let me = kiocb.file();
        if iov.len() > CONTROL_MAX {
            return Err(E2BIG);
        }
        let mut cmd = KVec::new();
        let len = iov.copy_from_iter_vec(&mut cmd, GFP_KERNEL)?;
        let mut reply = me.reply.lock();
        reply.clear();
        control(&cmd, &mut reply)?;
        Ok(len)
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let me = kiocb.file();
        let reply = me.reply.lock();
        iov.simple_read_from_buffer(kiocb.ki_pos_mut(), &reply)
    }
}

#[pin_data(PinnedDrop)]
struct RustreMdt {
    #[pin]
    _ctl: MiscDeviceRegistration<ControlFile>,
    _targets: (),
    /// Made first (see `init`), dropped last.
    _dirs: Dirs,
}

/// The registry's directories, in sysfs and debugfs, for as long as the module is loaded;
/// the targets in them go first.
struct Dirs;

impl Dirs {
    fn install() -> Result<Self> {
        let sys = SysDirs::new()?;
        let mut reg = REGISTRY.lock();
        reg.sys = Some(sys);
        let lustre = Dir::new(c"lustre");
        reg.mdd = Some(lustre.subdir(c"mdd"));
        reg.mdt = Some(lustre.subdir(c"mdt"));
        Ok(Dirs)
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let mut reg = REGISTRY.lock();
        reg.mdd = None;
        reg.mdt = None;
        reg.sys = None;
    }
}

/// Attaches the targets of the `targets` parameter.
fn attach_param_targets(reg: &mut Registry) -> Result {
    // SAFETY: The parameter is a NUL-terminated buffer that lives as long as the module and
    // is only written while the module loads, before this runs.
    let spec = unsafe { CStr::from_char_ptr(rustre_mdt_targets_param()) };
    for t in spec
        .to_bytes()
        .split(|&c| c == b',')
        .filter(|t| !t.is_empty())
    {
        let mut f = t.splitn(3, |&c| c == b':');
        match (f.next(), f.next(), f.next()) {
            (Some(n), Some(m), Some(c)) => attach(reg, n, m, c)?,
            _ => {
                pr_err!("targets: '{}' is not NAME:MOUNT:CATALOG\n", BStr(t));
                return Err(EINVAL);
            }
        }
    }
    Ok(())
}

impl kernel::InPlaceModule for RustreMdt {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: Called once, before anything uses the registry.
        unsafe { REGISTRY.init() };
        let opts = MiscDeviceOptions {
            name: c"rustre-mdt",
            mode: 0,
        };
        // The directories, then the control node; the targets of `targets=` last, so that a
        // failure of any leaves nothing running (a failed attach cleans up after itself, and
        // the fields made are dropped by the initializer).
        try_pin_init!(RustreMdt {
            _dirs: Dirs::install()?,
            _ctl <- MiscDeviceRegistration::register(opts, ()),
            _targets: attach_param_targets_or_clean()?,
        })
    }
}

/// Attaches the `targets=` targets; on failure, detaches those already attached.
fn attach_param_targets_or_clean() -> Result {
    let mut reg = REGISTRY.lock();
    attach_param_targets(&mut reg).inspect_err(|_| {
        // The registry is a static: take its vector so that its buffer is freed too.
        drop(core::mem::take(&mut reg.targets));
    })
}

#[pinned_drop]
impl PinnedDrop for RustreMdt {
    fn drop(self: Pin<&mut Self>) {
        let mut reg = REGISTRY.lock();
        // Detach every target; the registry is a static, so take its vector to free its buffer.
        drop(core::mem::take(&mut reg.targets));
    }
}

#[kunit_tests(rustre_mdt)]
mod tests {
    use super::*;
    use crate::catalog_fmt::*;
    use crate::record::*;

    #[test]
    fn record_bytes_by_hand() {
        let (rec, want) = sample_rename();
        let mut out = [0u8; CR_MAXSIZE];
        assert_eq!(rec.encode(&mut out), Ok(want.len()));
        assert_eq!(&out[..want.len()], &want[..]);
        let back = Record::decode(&out[..want.len()]);
        assert_eq!(back.map(|(r, n)| (r == rec, n)), Ok((true, want.len())));
    }

    #[test]
    fn changelog_masks() {
        for (input, want) in CHANGELOG_MASK_CASES {
            assert_eq!(parse_changelog_mask(CHANGELOG_DEFMASK, input), *want);
        }
    }

    #[test]
    fn lustre_la_valid_and_xattr_names() {
        assert_eq!(crate::attrs::self_test(), Ok(()));
    }

    #[test]
    fn target_names() {
        for (name, ok) in TARGET_NAME_CASES {
            assert_eq!(valid_target_name(name), *ok);
        }
    }

    #[test]
    fn fid_text() {
        for (input, want) in crate::fid::FID_CASES {
            assert_eq!(crate::fid::Fid::parse(input), *want);
        }
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    /// Three frames of CREAT records 1..=3 of the same size: the buffer, the bytes used and
    /// a record's length.
    fn three_frames() -> Result<(KVec<u8>, usize, usize)> {
        let mut log = KVec::from_elem(0u8, 3 * FRAME_MAX, GFP_KERNEL)?;
        let (mut at, mut rec_len) = (0, 0);
        for i in 1..=3u64 {
            let rec = Record {
                rtype: CL_CREATE,
                index: i,
                name: b"f",
                ..Record::default()
            };
            let mut r = [0u8; 128];
            rec_len = rec.encode(&mut r).map_err(|_| EINVAL)?;
            at += encode_frame(i, &r[..rec_len], &mut log[at..]).ok_or(EINVAL)?;
        }
        Ok((log, at, rec_len))
    }

    #[test]
    fn torn_tail_is_dropped() -> Result {
        let (mut log, at, _) = three_frames()?;
        let full = scan(&log[..at], Some(1));
        assert_eq!(
            (full.records, full.last_index, full.stop),
            (3, Some(3), None)
        );
        let torn = scan(&log[..at - 3], Some(1));
        assert_eq!((torn.records, torn.stop), (2, Some(FrameError::Short)));
        log[at - 8] ^= 1;
        let bad = scan(&log[..at], Some(1));
        assert_eq!(bad.records, 2);
        Ok(())
    }

    #[test]
    fn frames_unpack_in_place() -> Result {
        let (mut log, at, rec_len) = three_frames()?;
        // Up to index 2 durable: two records, packed at the front, the third frame untouched.
        let u = unpack_frames(&mut log[..at], usize::MAX, 2);
        assert_eq!(
            (u.used, u.consumed, u.next),
            (2 * rec_len, 2 * at / 3, Some(3))
        );
        let (second, _) = Record::decode(&log[rec_len..]).map_err(|_| EINVAL)?;
        assert_eq!(second.index, 2);
        assert!(parse_frame(&log[u.consumed..at]).is_ok());
        Ok(())
    }

    #[test]
    fn header_slots() -> Result {
        let mut h = KBox::new(Header::EMPTY, GFP_KERNEL)?;
        assert!(h.init(b"lustre-MDT0000"));
        assert!(h.register(b"", b"", 0, 0).is_ok());
        let mut a = KBox::new([0u8; SLOT_LEN], GFP_KERNEL)?;
        let mut b = KBox::new([0u8; SLOT_LEN], GFP_KERNEL)?;
        h.encode(&mut a);
        h.generation += 1;
        h.encode(&mut b);
        let mut got = KBox::new(Header::EMPTY, GFP_KERNEL)?;
        assert_eq!(got.pick_into(&a[..], &b[..]), Ok(1));
        assert_eq!(got.generation, 1);
        b[300] ^= 1;
        assert_eq!(got.pick_into(&a[..], &b[..]), Ok(0));
        assert_eq!(got.users[0].map(|u| u.id), Some(1));
        Ok(())
    }

    #[test]
    fn clear_semantics() -> Result {
        let mut h = KBox::new(Header::EMPTY, GFP_KERNEL)?;
        assert!(h.init(b"lustre-MDT0000"));
        assert!(h.register(b"", b"", 5, 0).is_ok());
        assert_eq!(h.clear(b"cl1", 9, 8, 0), Err(UserError::OutOfRange));
        assert_eq!(h.clear(b"cl2", 1, 8, 0), Err(UserError::NoUser));
        assert_eq!(h.clear(b"cl1", 0, 8, 0), Ok(()));
        assert_eq!(h.min_endrec(), Some(8));
        assert_eq!(changelog::user_errno(UserError::NoUser), ENOENT);
        assert_eq!(changelog::user_errno(UserError::OutOfRange), EINVAL);
        Ok(())
    }
}
