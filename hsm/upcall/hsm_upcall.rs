// SPDX-License-Identifier: GPL-2.0

//! MDT-side HSM request dispatch with the coordinator bypass upcall (LU-10968).
//!
//! Actions named in `mdt.<target>.hsm.upcall_mask` are handed to the site program at
//! `mdt.<target>.hsm.upcall_path`, started with `call_usermodehelper` as
//! `UPCALL ACTION FSNAME ARCHIVE_ID FLAGS DATA FID...`; the others go to the coordinator, whose
//! copytools read them from `/dev/hsm-<target>`. Completions keep each file's HSM state and
//! append `CL_HSM` changelog records.
//!
//! See `Documentation/hsm-upcall.rst`.

use kernel::{
    debugfs::Dir,
    fsnotify::PreContentWatch,
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    str::CString,
    sync::Arc,
};

use kernel::ffi::c_void;

// Pure logic, shared with the userspace tools (tools/rustre-logic) and tested on the host too;
// not every item is used by the module itself.
#[allow(dead_code, unreachable_pub)]
mod argv;
#[allow(dead_code, unreachable_pub)]
#[path = "../../mdt/fid.rs"]
mod fid;
#[allow(dead_code, unreachable_pub)]
mod mask;
#[allow(dead_code, unreachable_pub)]
#[path = "../../mdt/record.rs"]
mod record;
#[allow(dead_code, unreachable_pub)]
mod state;
#[allow(dead_code, unreachable_pub)]
mod uapi;

// The client side of rustre_mdt's interface.
#[allow(dead_code, unreachable_pub)]
#[path = "../../mdt/client.rs"]
mod client;

mod device;
mod hsm;
mod params;

use hsm::Hsm;

module! {
    type: HsmUpcall,
    name: "hsm_upcall",
    authors: ["rustre developers"],
    description: "Lustre MDT HSM request dispatch and coordinator bypass upcall (LU-10968)",
    license: "GPL",
}

// Text adapters for log messages, shared with rustre_mdt.
#[path = "../../mdt/logfmt.rs"]
mod logfmt;
pub(crate) use logfmt::{BStr, D};

/// The HSM device, parameters and implicit restore of one target. Dropping it stops the
/// implicit restores and removes the pre-content watch first, then the parameters (no callback
/// runs after that), then the device.
struct Entry {
    /// The superblock the target's pre-content watch is on, if it has one.
    watched_sb: Option<usize>,
    _watch: Option<Watch>,
    _params: params::Params,
    _reg: Pin<KBox<MiscDeviceRegistration<device::HsmFile>>>,
}

/// The pre-content watch of a target, taken down after its waiters were released.
struct Watch {
    hsm: Arc<Hsm>,
    watch: Option<PreContentWatch<hsm::Implicit>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        // No release starts (or is running) once this returns.
        self.hsm.set_implicit(false);
        // Waiters hold pinned marks that destroying the watch's group waits for.
        self.hsm.stop_waiters();
        drop(self.watch.take());
    }
}

/// Creates and removes the HSM side of targets as they come and go.
#[pin_data]
struct Targets {
    /// The HSM side of every attached target.
    #[pin]
    entries: client::PerTarget<Entry>,
}

impl Targets {
    fn create(
        &self,
        target: client::Target,
        name: &CStr,
        dir: client::TargetDir<'_>,
        debug: &Dir,
    ) -> Result<Entry> {
        let hsm = Hsm::new(target, name)?;
        let sb = hsm.root().sb();
        // One HSM per filesystem: the handler of one target's pre-content watch would see the
        // opens and writes of another's copytools, and hold them for restores of its own.
        if self.entries.any(|e| e.watched_sb == Some(sb)) {
            pr_err!(
                "{}: another target on this filesystem does its HSM: none here (no /dev/hsm-{})\n",
                name,
                name
            );
            return Err(EBUSY);
        }
        // On the target's own root (not looked up again by name, which could now lead to
        // another filesystem: a mount over it, another mount namespace).
        let watch = match PreContentWatch::on(
            hsm.root(),
            Arc::new(hsm::Implicit(hsm.clone()), GFP_KERNEL)?,
        ) {
            Ok(w) => {
                let watch = Watch {
                    hsm: hsm.clone(),
                    watch: Some(w),
                };
                // On failure, dropping `watch` releases any open that waits already.
                if let Some(w) = watch.watch.as_ref() {
                    hsm.check_opened_before(w)?;
                }
                hsm.set_implicit(true);
                Some(watch)
            }
            Err(EOPNOTSUPP) => {
                pr_info!(
                    "{}: the filesystem has no pre-content events: no implicit restore, and RELEASE is refused\n",
                    name
                );
                None
            }
            Err(e) => return Err(e),
        };
        let watched_sb = watch.as_ref().map(|_| sb);
        self.finish(hsm, watch, watched_sb, dir, debug)
    }

    /// The parameters and device of a target, after its watch.
    fn finish(
        &self,
        hsm: Arc<Hsm>,
        watch: Option<Watch>,
        watched_sb: Option<usize>,
        dir: client::TargetDir<'_>,
        debug: &Dir,
    ) -> Result<Entry> {
        let params = params::create(dir, debug, hsm.clone())?;
        let devname = CString::try_from_fmt(fmt!("hsm-{}", BStr(hsm.name.to_bytes())))?;
        let opts = MiscDeviceOptions {
            name: &devname,
            mode: 0o600,
        };
        let reg = KBox::pin_init(
            MiscDeviceRegistration::<device::HsmFile>::register(opts, hsm),
            GFP_KERNEL,
        )?;
        Ok(Entry {
            watched_sb,
            _watch: watch,
            _params: params,
            _reg: reg,
        })
    }
}

// SAFETY: The entries under a target's debugfs directory belong to its `Entry` (its
// parameters), which `detaching` drops (`PerTarget::remove` drops it before returning).
unsafe impl client::Observe for Targets {
    fn attached(
        &self,
        target: client::Target,
        name: &CStr,
        dir: client::TargetDir<'_>,
        debug: &Dir,
    ) {
        let id = target.as_raw();
        let res = self
            .create(target, name, dir, debug)
            .and_then(|e| self.entries.insert(id, e));
        if let Err(e) = res {
            pr_err!("cannot set up HSM for {}: {:?}\n", name, e);
        }
    }

    fn detaching(&self, id: *const c_void) {
        self.entries.remove(id);
    }
}

/// Every target's HSM side goes with it, after the observer is unregistered.
#[pin_data]
struct HsmUpcall {
    #[pin]
    targets: client::Observation<Targets>,
}

impl kernel::InPlaceModule for HsmUpcall {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            targets <- client::Observation::new(try_pin_init!(Targets {
                entries <- client::PerTarget::new(c"hsm_upcall::targets"),
            }? Error)),
        }? Error)
    }
}

#[kunit_tests(rustre_hsm_upcall)]
mod tests {
    use super::*;
    use core::fmt::Write;

    /// A `fmt::Write` into a fixed buffer, for checking text forms without allocating.
    struct Buf {
        data: [u8; 64],
        len: usize,
    }

    impl Buf {
        fn new() -> Self {
            Self {
                data: [0; 64],
                len: 0,
            }
        }

        fn as_bytes(&self) -> &[u8] {
            &self.data[..self.len]
        }
    }

    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            let dst = self.data.get_mut(self.len..end).ok_or(core::fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    #[test]
    fn upcall_mask_vectors() {
        for (input, want) in mask::MASK_CASES {
            assert_eq!(mask::parse_upcall_mask(input), *want);
        }
    }

    #[test]
    fn upcall_mask_reads_back_names() {
        let mut b = Buf::new();
        assert!(mask::format_mask(mask::UPCALL_ALLOWED, &mut b).is_ok());
        assert_eq!(b.as_bytes(), b"ARCHIVE REMOVE");
        assert_eq!(
            mask::parse_upcall_mask(b.as_bytes()),
            Ok(mask::UPCALL_ALLOWED)
        );
    }

    #[test]
    fn policy_parsing() {
        assert_eq!(mask::parse_policy(0, b"NBR"), Some(mask::POLICY_NBR));
        assert_eq!(
            mask::parse_policy(mask::POLICY_NBR, b"-NonBlockingRestore"),
            Some(0)
        );
        assert_eq!(mask::parse_policy(mask::POLICY_NBR, b"\n"), Some(0));
        assert_eq!(mask::parse_policy(0, b"NRA"), None);
        let mut b = Buf::new();
        assert!(mask::format_policy(mask::POLICY_NBR, &mut b).is_ok());
        assert_eq!(b.as_bytes(), b"[NonBlockingRestore]");
    }

    #[test]
    fn fid_vectors() {
        for (input, want) in fid::FID_CASES {
            assert_eq!(fid::Fid::parse(input), *want);
        }
    }

    #[test]
    fn fid_text_round_trip() {
        let f = fid::Fid {
            seq: 0x200000401,
            oid: 1,
            ver: 0,
        };
        let mut b = Buf::new();
        assert!(write!(b, "{}", f).is_ok());
        assert_eq!(b.as_bytes(), b"[0x200000401:0x1:0x0]");
        assert_eq!(fid::Fid::parse(b.as_bytes()), Some(f));
    }

    #[test]
    fn argv_split_vectors() {
        let bytes = [b'x'; 4096];
        for (lens, batch, want) in argv::BATCH_CASES {
            let fixed = lens.iter().map(|&n| &bytes[..n]);
            assert_eq!(argv::fids_per_call(fixed, *batch), *want);
        }
    }

    #[test]
    fn argv_text() {
        let (b, n) = argv::dec_arg(1234567890123);
        assert_eq!(&b[..n], b"1234567890123");
        let f = fid::Fid {
            seq: 0x200000401,
            oid: 1,
            ver: 0,
        };
        let (b, n) = argv::fid_arg(&f);
        assert_eq!(&b[..n], b"[0x200000401:0x1:0x0]");
        assert_eq!(uapi::fsname(b"lustre-MDT0000"), b"lustre");
    }

    #[test]
    fn state_transitions() {
        use state::*;
        use uapi::UserAction;
        let new = HsmAttrs::default();
        assert_eq!(new.needs(UserAction::Archive, 1, 10), Ok(true));
        assert_eq!(new.released(10), Err(StateError::NotReleasable));
        let arc = new.completed(mask::Action::Archive, 0, 1, 10);
        assert_eq!(arc.effective(10), HS_EXISTS | HS_ARCHIVED);
        assert_eq!(arc.effective(11), HS_EXISTS | HS_ARCHIVED | HS_DIRTY);
        assert_eq!(
            arc.needs(UserAction::Archive, 2, 10),
            Err(StateError::ArchiveIdChange)
        );
        let rel = arc.released(10);
        assert!(rel.is_ok());
        let rel = rel.unwrap_or_default();
        assert_eq!(rel.flags, HS_EXISTS | HS_ARCHIVED | HS_RELEASED);
        assert_eq!(rel.needs(UserAction::Restore, 1, 50), Ok(true));
        let back = rel.completed(mask::Action::Restore, 0, 1, 60);
        assert_eq!(back.effective(60), HS_EXISTS | HS_ARCHIVED);
        assert_eq!(
            back.completed(mask::Action::Remove, 0, 1, 60).effective(60),
            0
        );
        assert_eq!(
            arc.completed(mask::Action::Archive, 16, 1, 10).flags & HS_DIRTY,
            HS_DIRTY
        );
        assert_eq!(HsmAttrs::decode(&arc.encode()), Ok(arc));
        assert_eq!(cl_hsm_flags(HsmEvent::Remove, 0, false), 0x200);
        assert_eq!(cl_hsm_flags(HsmEvent::Archive, 300, true), 0x7f | 0x400);
    }

    /// A coordinator holding one action per `(action, oid)`, cookies 1, 2, ... in that order.
    fn coordinator(actions: &[(mask::Action, u32)]) -> Result<hsm::Cdt> {
        let data = kernel::sync::Arc::new(KVec::new(), GFP_KERNEL)?;
        let mut cdt = hsm::Cdt::new();
        for (cookie, &(action, oid)) in (1u64..).zip(actions) {
            let it = hsm::Item {
                cookie,
                compound: 1,
                action,
                fid: test_fid(oid),
                archive_id: 1,
                flags: 0,
                data: data.clone(),
                agent: 0,
                started: false,
                moved: 0,
                canceled: false,
            };
            cdt.push(KBox::new(it, GFP_KERNEL)?)?;
        }
        Ok(cdt)
    }

    fn test_fid(oid: u32) -> fid::Fid {
        fid::Fid {
            seq: 0x2_0000_0400,
            oid,
            ver: 0,
        }
    }

    /// The oids of the waiting actions in service order (at most 8), how many there are, and
    /// whether none of them is marked as held by a copytool.
    fn waiting_oids(cdt: &hsm::Cdt) -> ([u32; 8], usize, bool) {
        let mut order = [0u32; 8];
        let mut n = 0;
        for (slot, it) in order.iter_mut().zip(cdt.waiting_iter()) {
            *slot = it.fid.oid;
            n += 1;
        }
        (order, n, cdt.waiting_iter().all(|it| it.agent == 0))
    }

    /// Hands out the next action to copytool 7, as `next_actions` does; returns its oid.
    fn hand_out(cdt: &mut hsm::Cdt) -> Result<u32> {
        let mut it = cdt.take_for(0).ok_or(ENOENT)?;
        it.agent = 7;
        let oid = it.fid.oid;
        cdt.active.push(it, GFP_KERNEL)?;
        Ok(oid)
    }

    /// Actions handed out and given back (the copytool's buffer faulted): the others return
    /// to the head of the queue in their order, a cancelled one is dropped.
    #[test]
    fn give_back_drops_cancelled_actions() -> Result {
        use mask::Action::Archive;
        let mut cdt = coordinator(&[(Archive, 1), (Archive, 2), (Archive, 3), (Archive, 4)])?;
        for want in 1..=3 {
            assert_eq!(hand_out(&mut cdt)?, want);
        }
        cdt.cancel(&test_fid(2));
        assert_eq!(cdt.waiting_len(), 1);
        assert_eq!(cdt.give_back(&[1, 2, 3]), Ok(()));
        assert_eq!(cdt.active.len(), 0);
        assert_eq!(waiting_oids(&cdt), ([1, 3, 4, 0, 0, 0, 0, 0], 3, true));
        Ok(())
    }

    /// RESTOREs are served before ARCHIVEs and REMOVEs whenever they came, each class first in,
    /// first out; an action given back goes to the head of its own class.
    #[test]
    fn restores_go_first() -> Result {
        use mask::Action::{Archive, Remove, Restore};
        let mut cdt = coordinator(&[
            (Archive, 1),
            (Remove, 2),
            (Restore, 3),
            (Archive, 4),
            (Restore, 5),
        ])?;
        assert_eq!(waiting_oids(&cdt), ([3, 5, 1, 2, 4, 0, 0, 0], 5, true));
        assert_eq!(hand_out(&mut cdt)?, 3);
        assert_eq!(hand_out(&mut cdt)?, 5);
        assert_eq!(hand_out(&mut cdt)?, 1);
        // The archive goes back ahead of the other archives, the restore ahead of everything.
        assert_eq!(cdt.give_back(&[1, 3]), Ok(()));
        assert_eq!(waiting_oids(&cdt), ([3, 1, 2, 4, 0, 0, 0, 0], 4, true));
        cdt.cancel(&test_fid(2));
        assert_eq!(waiting_oids(&cdt), ([3, 1, 4, 0, 0, 0, 0, 0], 3, true));
        Ok(())
    }

    #[test]
    fn request_and_action_list_layouts() {
        let fids = [fid::Fid {
            seq: 5,
            oid: 6,
            ver: 0,
        }];
        let req = uapi::Request {
            action: 10,
            archive_id: 2,
            flags: 0,
            itemcount: 1,
            data_len: 3,
        };
        let mut b = [0u8; uapi::REQUEST_LEN + uapi::USER_ITEM_LEN + 3];
        uapi::encode_request(&mut b, &req, &fids, b"abc");
        assert_eq!(uapi::Request::decode(&b), Ok(req));
        assert_eq!(req.checked_len(), Ok(b.len()));
        assert_eq!(uapi::Request::item_fid(&b, 0), fids[0]);
        let hal = uapi::ActionList {
            count: 1,
            compound_id: 1,
            flags: 0,
            archive_id: 2,
            fsname: b"lustre",
        };
        let mut out = [0u8; 128];
        let at = hal.encode_header(&mut out);
        let item = uapi::ActionItem {
            action: 20,
            fid: fids[0],
            cookie: 9,
            ..Default::default()
        };
        let end = uapi::ActionList::encode_item(&mut out, at, &item, b"abc");
        assert_eq!(end, hal.size([3usize].into_iter()));
        assert_eq!(uapi::ActionList::decode(&out), Some(hal));
    }
}
