// SPDX-License-Identifier: GPL-2.0

//! The HSM side of one metadata target: its state ([`Hsm`]), its parameters and request
//! intake ([`Hsm::request`]). The rest is in parts:
//!
//! - [`coordinator`]: the queue of waiting actions, the copytools and what they are handed,
//!   `hsm_control`;
//! - [`upcall`]: dispatch through `hsm.upcall_path`;
//! - [`file_state`]: finding files by FID, their `trusted.hsm` state, RELEASE, and the state
//!   change and `CL_HSM` record a completed action makes;
//! - [`implicit`]: implicit restore.
//!
//! Locks: `params` and `cdt` are never held together, and neither is held while the upcall
//! runs, while a file is looked up or its state written, or while a record is appended.
//! `state_lock` comes before `cdt`; `rustre_mdt`'s registry lock (held when a target goes,
//! whose watch's removal takes `state_lock`) comes before `state_lock`, and nothing done
//! under `state_lock` takes it.
//!
//! Implicit restore: the target's [`PreContentWatch`](kernel::fsnotify::PreContentWatch)
//! calls [`Hsm::pre_open`] and [`Hsm::pre_access`], in the task opening or touching a file,
//! with no lock of ours held; an access to a released file waits in `Hsm::restore_and_wait`
//! (on `restore_wait`, under `cdt`) until a RESTORE through the coordinator brought the data
//! back.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

use kernel::{
    fsobj::FsPath,
    new_condvar, new_mutex, new_poll_condvar,
    prelude::*,
    str::CString,
    sync::{poll::PollCondVar, Arc, CondVar, Mutex},
};

use crate::argv;
use crate::client::Target;
use crate::fid::Fid;
use crate::mask::Action;
use crate::record::{self, Extra, Record};
use crate::state::{self, HsmEvent};
use crate::uapi::{self, UserAction};
use crate::BStr;

use file_state::state_errno;

mod coordinator;
mod file_state;
mod implicit;
mod upcall;

pub(crate) use coordinator::{Cdt, Item};
pub(crate) use implicit::Implicit;

/// Lustre's default `max_requests`.
const DEFAULT_MAX_REQUESTS: u32 = 3;

/// `hsm_control`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// Requests are taken and handed to copytools.
    Enabled,
    /// Requests are taken and queued, nothing is handed out.
    Disabled,
    /// Requests are refused with `EAGAIN` (after `shutdown`; the initial state, as Lustre's).
    Stopped,
}

impl Control {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Control::Enabled => "enabled",
            Control::Disabled => "disabled",
            Control::Stopped => "stopped",
        }
    }
}

/// Tunables, written through debugfs.
pub(crate) struct Params {
    pub(crate) upcall_mask: u32,
    /// As written (no NUL); empty for none.
    pub(crate) upcall_path: KVec<u8>,
    pub(crate) default_archive_id: u32,
    pub(crate) max_requests: u32,
    pub(crate) upcall_batch: u32,
    /// `hsm.policy` NBR (Lustre's NonBlockingRestore): an access to a released file queues
    /// its restore and fails at once with `ENODATA` instead of waiting.
    pub(crate) non_blocking_restore: bool,
    /// `hsm.implicit_restore_timeout`: seconds an access waits for its restore.
    pub(crate) implicit_restore_timeout: u32,
}

/// Default of `hsm.implicit_restore_timeout`, in seconds.
pub(crate) const DEFAULT_IMPLICIT_RESTORE_TIMEOUT: u32 = 300;

/// Counters, for the parameters and the benchmark.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) upcall_calls: AtomicU64,
    pub(crate) upcall_fids: AtomicU64,
    pub(crate) upcall_fallbacks: AtomicU64,
    pub(crate) completed_ok: AtomicU64,
    pub(crate) completed_err: AtomicU64,
}

/// The HSM state of one target.
#[pin_data]
pub(crate) struct Hsm {
    pub(crate) target: Target,
    pub(crate) name: CString,
    /// The root of the target's filesystem, to find files by FID.
    root: FsPath,
    #[pin]
    pub(crate) params: Mutex<Params>,
    #[pin]
    pub(crate) cdt: Mutex<Cdt>,
    /// Copytools wait here for actions; notified whenever one may be handed out.
    #[pin]
    pub(crate) cdt_wait: PollCondVar,
    /// Serialises the read-modify-write of files' HSM state (completions and releases).
    #[pin]
    state_lock: Mutex<()>,
    /// Implicit restores wait here (with `cdt`) for their RESTORE to end.
    #[pin]
    restore_wait: CondVar,
    /// Releases in progress: an open that sees one keeps its file's pre-content events.
    releasing: AtomicU32,
    /// This target's pre-content watch is up: the only time a file may be released.
    implicit: AtomicBool,
    pub(crate) counters: Counters,
}

/// Errno of a rejected request.
pub(crate) fn request_errno(e: uapi::RequestError) -> Error {
    match e {
        uapi::RequestError::TooBig => E2BIG,
        _ => EINVAL,
    }
}

impl Hsm {
    pub(crate) fn new(target: Target, name: &CStr) -> Result<Arc<Self>> {
        let mount = target.mount()?;
        let root = FsPath::lookup(&mount, true)?;
        if !root.is_mount_root() {
            pr_err!(
                "{}: {} is no longer the root of a mount\n",
                name,
                BStr(mount.to_bytes())
            );
            return Err(EINVAL);
        }
        Arc::pin_init(
            try_pin_init!(Hsm {
                target,
                name: CString::try_from(name).map_err(|_| ENOMEM)?,
                root,
                params <- new_mutex!(Params {
                    upcall_mask: 0,
                    upcall_path: KVec::new(),
                    default_archive_id: 1,
                    max_requests: DEFAULT_MAX_REQUESTS,
                    upcall_batch: argv::DEFAULT_BATCH,
                    non_blocking_restore: false,
                    implicit_restore_timeout: DEFAULT_IMPLICIT_RESTORE_TIMEOUT,
                }),
                cdt <- new_mutex!(Cdt::new()),
                cdt_wait <- new_poll_condvar!("hsm_cdt"),
                state_lock <- new_mutex!(()),
                restore_wait <- new_condvar!("hsm_restore_wait"),
                releasing: AtomicU32::new(0),
                implicit: AtomicBool::new(false),
                counters: Counters::default(),
            }),
            GFP_KERNEL,
        )
    }

    /// The root of the target's filesystem.
    pub(crate) fn root(&self) -> &FsPath {
        &self.root
    }

    /// The file system name, `lustre` for `lustre-MDT0000`.
    pub(crate) fn fsname(&self) -> &[u8] {
        uapi::fsname(self.name.to_bytes())
    }

    /// Appends a `CL_HSM` record for `fid`.
    pub(super) fn changelog(&self, fid: &Fid, event: HsmEvent, errval: u16, dirty: bool) {
        let (sec, nsec) = kernel::fsnotify::current::real_time();
        let rec = Record {
            rtype: record::CL_HSM,
            flags: state::cl_hsm_flags(event, errval, dirty),
            time: record::cl_time(sec, nsec),
            tfid: *fid,
            jobid: Some(b"hsm_cdt.0"),
            extra: Some(Extra {
                uidgid: Some((0, 0)),
                nid: Some(record::NID_LO_BE),
                nid_be: true,
                ..Extra::default()
            }),
            ..Record::default()
        };
        let mut buf = [0u8; 256];
        let Ok(n) = rec.encode(&mut buf) else { return };
        if let Err(e) = self.target.append(&buf[..n]) {
            pr_warn!(
                "{}: cannot record HSM event for {}: {:?}\n",
                BStr(self.name.to_bytes()),
                crate::D(fid),
                e
            );
        }
    }

    /// Handles a request from `lfs hsm_*`: the whole `hsm_user_request` in `req`.
    pub(crate) fn request(&self, req: &[u8]) -> Result {
        let hdr = uapi::Request::decode(req).map_err(request_errno)?;
        if hdr.checked_len().map_err(request_errno)? != req.len() {
            return Err(EINVAL);
        }
        let ua = UserAction::from_u32(hdr.action).ok_or(EINVAL)?;
        let data = hdr.data(req).map_err(request_errno)?;
        if self.cdt.lock().control == Control::Stopped {
            return Err(EAGAIN);
        }
        let (mask, has_path, default_id) = {
            let p = self.params.lock();
            (
                p.upcall_mask,
                !p.upcall_path.is_empty(),
                p.default_archive_id,
            )
        };
        let archive_id = if hdr.archive_id == 0 {
            default_id
        } else {
            hdr.archive_id
        };
        let mut needed = KVVec::with_capacity(hdr.itemcount as usize, GFP_KERNEL)?;
        for i in 0..hdr.itemcount as usize {
            let fid = uapi::Request::item_fid(req, i);
            let (p, st) = match self.lookup(&fid) {
                Ok(found) => found,
                // The archive of a deleted file can still be removed, a request cancelled.
                Err(ENOENT) if matches!(ua, UserAction::Remove | UserAction::Cancel) => {
                    needed.push(fid, GFP_KERNEL)?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if ua != UserAction::Cancel && !st.is_reg() {
                return Err(EINVAL);
            }
            if ua == UserAction::Release {
                self.release(&fid, &p)?;
                continue;
            }
            let a = Self::read_attrs(&p)?;
            if a.needs(ua, archive_id, Self::data_version(&st))
                .map_err(state_errno)?
            {
                needed.push(fid, GFP_KERNEL)?;
            }
        }
        let Some(action) = ua.copytool_action() else {
            return Ok(());
        };
        if needed.is_empty() {
            return Ok(());
        }
        if action == Action::Cancel {
            self.cancel(&needed);
            return Ok(());
        }
        // As Lustre: an action in the mask with no upcall set goes to the coordinator.
        if mask & action.bit() != 0 && has_path {
            self.upcall(action, archive_id, hdr.flags, data, &needed)
        } else {
            self.enqueue(action, archive_id, hdr.flags, data, &needed)
        }
    }
}
