// SPDX-License-Identifier: GPL-2.0

//! The HSM side of one metadata target: its parameters, request dispatch (upcall or
//! coordinator), the coordinator's queue and copytools, and completions, which update the
//! file's HSM state and append `CL_HSM` changelog records.
//!
//! Locks: `params` and `cdt` are never held together, and neither is held while the upcall
//! runs, while a file is looked up or its state written, or while a record is appended.
//! `state_lock` comes before `cdt`; `rustre_mdt`'s registry lock (held when a target goes,
//! whose watch's removal takes `state_lock`) comes before `state_lock`, and nothing done
//! under `state_lock` takes it.
//!
//! Implicit restore: the target's [`PreContentWatch`](kernel::fsnotify::PreContentWatch)
//! calls [`Hsm::pre_open`] and [`Hsm::pre_access`], in the task opening or touching a file,
//! with no lock of ours held; an access to a released file waits in [`Hsm::restore_and_wait`]
//! (on `restore_wait`, under `cdt`) until a RESTORE through the coordinator brought the data
//! back.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::{
    fsnotify::{OpenPerm, PreAccess, PreContentHandler, PreContentWatch},
    fsobj::{FsPath, Stat},
    new_condvar, new_mutex, new_poll_condvar,
    prelude::*,
    str::CString,
    sync::{poll::PollCondVar, Arc, CondVar, CondVarTimeoutResult, Mutex},
    time::msecs_to_jiffies,
    umh::Command,
};

use crate::argv;
use crate::client::Target;
use crate::fid::Fid;
use crate::mask::{self, Action};
use crate::record::{self, Extra, Record};
use crate::state::{self, HsmAttrs, HsmEvent};
use crate::uapi::{self, Copy, UserAction};
use crate::BStr;

/// Most actions the coordinator keeps waiting, over all requests; more gets `ENOSPC`.
pub(crate) const MAX_WAITING: usize = 1 << 20;
/// What a release punches past the end of file rounds up to: any page or block size.
const RELEASE_ALIGN: u64 = 64 << 10;
/// What a release keeps of a file's data at least: its first block (`st_blksize`, the block
/// size or a larger preferred I/O size, bounded to 4 KiB to [`RELEASE_ALIGN`]). A file with no data at all is one hole:
/// `lseek(SEEK_DATA)` fails with `ENXIO` and `st_blocks` is 0, which has `cp` (and other
/// programs that skip holes) write a file of zeros without reading a byte, so without a
/// pre-content event. With its first block resident, the first read of such a program
/// restores the whole file.
const RELEASE_KEEP: u64 = 4096;
/// Lustre's default `max_requests`.
const DEFAULT_MAX_REQUESTS: u32 = 3;
/// The object id IGIF FIDs of a tmpfs file carry in 3-word handles (`FILEID_INO32_GEN`).
const FILEID_INO32_GEN: i32 = 1;

/// XFS's flag on handle types that carry a 64-bit inode number (`fs/xfs/xfs_export.h`).
const XFS_FILEID_TYPE_64FLAG: i32 = 0x80;

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

/// One action of the coordinator.
pub(crate) struct Item {
    pub(crate) cookie: u64,
    pub(crate) compound: u64,
    pub(crate) action: Action,
    pub(crate) fid: Fid,
    pub(crate) archive_id: u32,
    pub(crate) flags: u64,
    /// The request's data, shared by its actions.
    pub(crate) data: Arc<KVec<u8>>,
    /// The copytool it was handed to; 0 while waiting.
    pub(crate) agent: u64,
    /// COPY_START was received.
    pub(crate) started: bool,
    /// Bytes the copytool reported copied (`IOC_PROGRESS`) since COPY_START.
    pub(crate) moved: u64,
    /// A CANCEL request came for it while a copytool had it.
    pub(crate) canceled: bool,
}

/// A registered copytool (an open device file after `IOC_CT_START`).
pub(crate) struct Agent {
    pub(crate) id: u64,
    /// The process that registered it: its opens of the files it restores are exempt from
    /// implicit restore.
    pub(crate) tgid: i32,
    /// Archive ids served (see [`uapi::decode_register`]); 0 for all.
    pub(crate) archives: u64,
    pub(crate) done_ok: u64,
    pub(crate) done_err: u64,
}

/// One service class of the coordinator's queue: first in, first out, with the actions put
/// back (their copytool gone, or its buffer faulted) ahead of the rest.
struct Queue {
    /// In arrival order; taken and cancelled actions leave holes, skipped and compacted away.
    waiting: KVVec<Option<KBox<Item>>>,
    head: usize,
    /// Actions (not holes) in `waiting[head..]`.
    live: usize,
    /// Actions put back, the next to go out last.
    retry: KVec<KBox<Item>>,
}

impl Queue {
    fn new() -> Self {
        Self {
            waiting: KVVec::new(),
            head: 0,
            live: 0,
            retry: KVec::new(),
        }
    }

    fn len(&self) -> usize {
        self.retry.len() + self.live
    }

    /// The actions, in the order they will be handed out.
    fn iter(&self) -> impl Iterator<Item = &Item> {
        Iterator::chain(
            self.retry.iter().rev().map(|b| &**b),
            self.waiting
                .get(self.head..)
                .unwrap_or(&[])
                .iter()
                .filter_map(|o| o.as_deref()),
        )
    }

    fn push(&mut self, it: KBox<Item>) -> Result {
        if self.head > 0 && self.head == self.waiting.len() {
            self.waiting.clear();
            self.head = 0;
        }
        self.waiting.push(Some(it), GFP_KERNEL)?;
        self.live += 1;
        Ok(())
    }

    /// Puts an action back at the head. `retry` must have room (see [`Cdt::reserve_retry`]).
    fn requeue(&mut self, mut it: KBox<Item>) {
        it.agent = 0;
        it.started = false;
        it.moved = 0;
        if let Err(e) = self.retry.push_within_capacity(it) {
            // Not reached after `reserve_retry`; said loudly if it ever is.
            pr_err!(
                "hsm: no room to requeue the action for {}\n",
                crate::D(&e.0.fid)
            );
        }
    }

    /// Takes the first action, in the order they are handed out, that `pred` accepts.
    fn take_where(&mut self, pred: &impl Fn(&Item) -> bool) -> Option<KBox<Item>> {
        if let Some(i) = self.retry.iter().rposition(|it| pred(it)) {
            return self.retry.remove(i).ok();
        }
        let at = self
            .waiting
            .get(self.head..)?
            .iter()
            .position(|o| o.as_deref().is_some_and(pred))?;
        let it = self.waiting.get_mut(self.head + at)?.take();
        self.live -= 1;
        self.skip_and_compact();
        it
    }

    /// Skips the holes at the front; compacts once holes outnumber actions, so that neither
    /// scans nor memory grow with actions long gone.
    fn skip_and_compact(&mut self) {
        while self.waiting.get(self.head).is_some_and(|o| o.is_none()) {
            self.head += 1;
        }
        let holes = self.waiting.len() - self.head - self.live;
        if (self.head > 4096 && self.head * 2 > self.waiting.len())
            || (holes > 4096 && holes > self.live)
        {
            // Without memory for the copy, the holes stay until the next try.
            if let Ok(mut rest) = KVVec::with_capacity(self.waiting.len() - self.head, GFP_KERNEL) {
                for o in self
                    .waiting
                    .iter_mut()
                    .skip(self.head)
                    .filter(|o| o.is_some())
                {
                    // Cannot fail: the capacity is there.
                    let _ = rest.push_within_capacity(o.take());
                }
                self.waiting = rest;
                self.head = 0;
            }
        }
    }

    /// Removes the actions for `fid`; returns how many.
    fn cancel(&mut self, fid: &Fid) -> usize {
        let before = self.retry.len();
        self.retry.retain(|it| it.fid != *fid);
        let mut n = before - self.retry.len();
        for o in self.waiting.iter_mut().skip(self.head) {
            if o.as_ref().is_some_and(|it| it.fid == *fid) {
                *o = None;
                n += 1;
                self.live -= 1;
            }
        }
        self.skip_and_compact();
        n
    }
}

/// The coordinator.
pub(crate) struct Cdt {
    pub(crate) control: Control,
    /// The waiting actions: the [`Action::urgent`] ones (RESTOREs), all served before the
    /// others.
    queues: [Queue; 2],
    /// Actions handed to copytools, at most `max_requests`.
    pub(crate) active: KVec<KBox<Item>>,
    pub(crate) agents: KVec<Agent>,
    next_cookie: u64,
    next_compound: u64,
    next_agent: u64,
    /// Counts actions that left the coordinator (done, cancelled, purged): implicit restores
    /// waiting for theirs look again when it moves.
    pub(crate) ended: u64,
    /// The target is going: implicit restores stop waiting.
    pub(crate) closing: bool,
}

impl Cdt {
    /// A stopped coordinator with nothing queued.
    pub(crate) fn new() -> Self {
        Self {
            control: Control::Stopped,
            queues: [Queue::new(), Queue::new()],
            active: KVec::new(),
            agents: KVec::new(),
            next_cookie: 1,
            next_compound: 1,
            next_agent: 1,
            ended: 0,
            closing: false,
        }
    }

    /// Whether a RESTORE of `fid` waits or runs.
    fn restore_queued(&self, fid: &Fid) -> bool {
        let restore = |it: &Item| it.action == Action::Restore && it.fid == *fid && !it.canceled;
        self.active.iter().any(|it| restore(it)) || self.waiting_iter().any(restore)
    }

    pub(crate) fn waiting_len(&self) -> usize {
        self.queues.iter().map(Queue::len).sum()
    }

    /// The waiting actions, in the order they will be handed out: RESTOREs first.
    pub(crate) fn waiting_iter(&self) -> impl Iterator<Item = &Item> {
        self.queues.iter().flat_map(Queue::iter)
    }

    /// The queue `action` waits in.
    fn queue_of(&mut self, action: Action) -> &mut Queue {
        let [urgent, other] = &mut self.queues;
        if action.urgent() {
            urgent
        } else {
            other
        }
    }

    /// Makes room for `n` more waiting actions of `action`.
    fn reserve(&mut self, action: Action, n: usize) -> Result {
        self.queue_of(action).waiting.reserve(n, GFP_KERNEL)?;
        Ok(())
    }

    pub(crate) fn push(&mut self, it: KBox<Item>) -> Result {
        self.queue_of(it.action).push(it)
    }

    /// Puts an action back at the head of its class. `reserve_retry` must have made room.
    fn requeue(&mut self, it: KBox<Item>) {
        self.queue_of(it.action).requeue(it);
    }

    /// Makes room for `n` requeued actions, before taking them out of anywhere.
    fn reserve_retry(&mut self, n: usize) -> Result {
        for q in self.queues.iter_mut() {
            q.retry.reserve(n, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Takes the first waiting action that a copytool serving `archives` can do.
    pub(crate) fn take_for(&mut self, archives: u64) -> Option<KBox<Item>> {
        self.take_where(|it| uapi::serves(archives, it.archive_id))
    }

    /// Takes the first waiting action, in the order they are handed out, that `pred` accepts.
    fn take_where(&mut self, pred: impl Fn(&Item) -> bool) -> Option<KBox<Item>> {
        self.queues.iter_mut().find_map(|q| q.take_where(&pred))
    }

    /// Removes the waiting actions for `fid` (CANCEL); returns how many.
    fn cancel_waiting(&mut self, fid: &Fid) -> usize {
        self.queues.iter_mut().map(|q| q.cancel(fid)).sum()
    }

    /// Puts the active actions with `cookies` back at the head of their class, in the order
    /// they were handed out; those cancelled meanwhile are dropped. Nothing moves if there is
    /// no memory to requeue them all.
    pub(crate) fn give_back(&mut self, cookies: &[u64]) -> Result {
        self.reserve_retry(cookies.len())?;
        // Cancelled ones leave: implicit restores waiting for them look again.
        self.ended = self.ended.wrapping_add(1);
        for cookie in cookies.iter().rev() {
            if let Some(i) = self.active.iter().position(|it| it.cookie == *cookie) {
                if let Ok(it) = self.active.remove(i) {
                    if !it.canceled {
                        self.requeue(it);
                    }
                }
            }
        }
        Ok(())
    }

    /// CANCEL of `fid`: drops its waiting actions and marks the active ones cancelled (a
    /// copytool that has not started one gets `ECANCELED` when it does).
    pub(crate) fn cancel(&mut self, fid: &Fid) {
        self.cancel_waiting(fid);
        for it in self.active.iter_mut().filter(|it| it.fid == *fid) {
            it.canceled = true;
        }
    }

    /// Drops every waiting and active action (`purge`).
    fn purge(&mut self) -> usize {
        let n = self.waiting_len() + self.active.len();
        self.queues = [Queue::new(), Queue::new()];
        self.active = KVec::new();
        n
    }

    pub(crate) fn count_active(&self, a: Action) -> usize {
        self.active.iter().filter(|it| it.action == a).count()
    }
}

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

/// Maps a state error to its errno.
fn state_errno(e: state::StateError) -> Error {
    match e {
        state::StateError::ArchiveIdChange => EINVAL,
        state::StateError::NotReleasable => EPERM,
        state::StateError::Corrupt => EIO,
    }
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

    /// Finds the file with `fid` (see [`Fid::from_inode`]) on the target: `ENOENT` if there is
    /// none.
    fn lookup(&self, fid: &Fid) -> Result<(FsPath, Stat)> {
        let (ino, generation) = fid.inode().ok_or(ENOENT)?;
        // The handle layouts of the filesystems' encoders: tmpfs (`shmem_encode_fh`) puts the
        // generation first and a 64-bit inode number; XFS (`xfs_fs_encode_fh`, type
        // `FILEID_INO32_GEN | XFS_FILEID_TYPE_64FLAG`) a native 64-bit inode number, then the
        // generation; the generic one (ext2/3/4, ...) a 32-bit inode number then the generation.
        let fs = self.root.fs_type().to_bytes();
        let found = if fs == b"tmpfs" {
            let w = [generation, ino as u32, (ino >> 32) as u32];
            self.root.by_handle(FILEID_INO32_GEN, &w)
        } else if fs == b"xfs" {
            let [a, b, c, d, e, f, g, h] = ino.to_ne_bytes();
            let w = [
                u32::from_ne_bytes([a, b, c, d]),
                u32::from_ne_bytes([e, f, g, h]),
                generation,
            ];
            self.root
                .by_handle(FILEID_INO32_GEN | XFS_FILEID_TYPE_64FLAG, &w)
        } else {
            let ino = u32::try_from(ino).map_err(|_| ENOENT)?;
            self.root.by_handle(FILEID_INO32_GEN, &[ino, generation])
        };
        let p = found.map_err(|e| if e == ESTALE { ENOENT } else { e })?;
        let st = p.stat()?;
        // A handle names an inode; make sure it is the one of the FID.
        if st.ino != ino || st.generation != generation {
            return Err(ENOENT);
        }
        Ok((p, st))
    }

    /// Reads the stored state (none yet: all clear).
    pub(crate) fn read_attrs(p: &FsPath) -> Result<HsmAttrs> {
        let mut b = [0u8; state::XATTR_LEN];
        match p.get_xattr(c"trusted.hsm", &mut b) {
            // The filesystem's length: more than asked for is as corrupt as a wrong size.
            Ok(n) => HsmAttrs::decode(b.get(..n).ok_or(EIO)?).map_err(state_errno),
            Err(e) if e == ENODATA || e == EOPNOTSUPP => Ok(HsmAttrs::default()),
            Err(ERANGE) => Err(EIO),
            Err(e) => Err(e),
        }
    }

    fn write_attrs(p: &FsPath, a: &HsmAttrs) -> Result {
        p.set_xattr_quiet(c"trusted.hsm", &a.encode())
    }

    /// The data version of a file: its modification time (see [`FsPath::stat`]: reading it
    /// makes the next change visible).
    fn data_version(st: &Stat) -> u64 {
        st.mtime_ns as u64
    }

    /// The user-visible state of a file, and what the coordinator is doing with it.
    pub(crate) fn user_state(&self, p: &FsPath) -> Result<uapi::UserState> {
        if p.sb() != self.root.sb() {
            return Err(EXDEV);
        }
        let st = p.stat()?;
        let a = Self::read_attrs(p)?;
        let fid = Fid::from_inode(st.ino, st.generation).ok_or(EOVERFLOW)?;
        let mut us = uapi::UserState {
            states: a.effective(Self::data_version(&st)),
            archive_id: a.archive_id,
            ..Default::default()
        };
        let cdt = self.cdt.lock();
        if let Some(it) = cdt.active.iter().find(|it| it.fid == fid) {
            // Running once handed to a copytool, as Lustre's coordinator marks an action
            // started when it sends it; the bytes reported moved so far.
            us.in_progress_action = it.action as u32;
            us.in_progress_state = uapi::HPS_RUNNING;
            us.location_length = it.moved;
        } else if let Some(it) = cdt.waiting_iter().find(|it| it.fid == fid) {
            // The whole file, as the action's extent says (Lustre restores and archives whole
            // files).
            us.in_progress_action = it.action as u32;
            us.in_progress_state = uapi::HPS_WAITING;
            us.location_length = uapi::LUSTRE_EOF;
        }
        Ok(us)
    }

    /// Appends a `CL_HSM` record for `fid`.
    fn changelog(&self, fid: &Fid, event: HsmEvent, errval: u16, dirty: bool) {
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

    /// Releases a file: drops its data (the size stays) once the archive holds it.
    ///
    /// Refused with `EOPNOTSUPP` on a filesystem without pre-content events, or while the
    /// target's pre-content watch is not up, where nothing could bring the data back on
    /// access, and with `EBUSY` while anyone else has the file
    /// open or mapped (Lustre takes an exclusive lease for this too). The write lease held
    /// from the check to the end makes a concurrent open wait until the release is done.
    fn release(&self, fid: &Fid, p: &FsPath) -> Result {
        if !p.allows_hsm() {
            pr_warn!(
                "{}: RELEASE of {} refused: {} has no pre-content events (SB_I_ALLOW_HSM), so a released file could not be restored on access\n",
                BStr(self.name.to_bytes()),
                crate::D(fid),
                BStr(p.fs_type().to_bytes())
            );
            return Err(EOPNOTSUPP);
        }
        // Checked again under `state_lock`, which the watch's removal takes after clearing it.
        let _guard = self.state_lock.lock();
        if !self.implicit.load(Ordering::Acquire) {
            pr_warn!(
                "{}: RELEASE of {} refused: implicit restore is not set up on this target (its pre-content watch is not up, or going), so a released file could not be restored on access\n",
                BStr(self.name.to_bytes()),
                crate::D(fid)
            );
            return Err(EOPNOTSUPP);
        }
        // Whether the state allows it, before anything else, as Lustre checks before its lease:
        // a file never archived is `EPERM` even while it is open.
        let a = Self::read_attrs(p)?;
        a.released(Self::data_version(&p.stat()?))
            .map_err(state_errno)?;
        // An archive or remove, running or waiting, could lose the only copy of the data (a
        // waiting archive would copy the punched file over the good copy).
        {
            let cdt = self.cdt.lock();
            let busy = |it: &Item| it.fid == *fid && it.action != Action::Restore;
            if cdt.active.iter().any(|it| busy(it)) || cdt.waiting_iter().any(busy) {
                return Err(EBUSY);
            }
        }
        // Counted from before the lease: an open that comes meanwhile keeps its file's
        // pre-content events (see `pre_open`).
        let _releasing = Releasing::new(&self.releasing);
        // `O_NONBLOCK`: a lease or delegation someone else holds is `EBUSY` at once, not a
        // wait of up to lease-break-time with `state_lock` held; a running executable
        // (`ETXTBSY`) is busy too.
        let f = p
            .open(
                kernel::kfile::flags::O_RDWR
                    | kernel::kfile::flags::O_LARGEFILE
                    | kernel::kfile::flags::O_NONBLOCK,
            )
            .map_err(|e| {
                if e == EAGAIN || e == ETXTBSY {
                    EBUSY
                } else {
                    e
                }
            })?;
        let _lease = f.write_lease().map_err(|e| match e {
            EAGAIN => EBUSY,
            EINVAL => {
                pr_warn!(
                    "{}: RELEASE of {}: no lease could be taken on the file (are leases disabled, fs.leases-enable=0?)\n",
                    BStr(self.name.to_bytes()),
                    crate::D(fid)
                );
                EINVAL
            }
            e => e,
        })?;
        // Again under the lease: nobody can change the file now.
        let st = p.stat()?;
        let a = Self::read_attrs(p)?;
        let new = a.released(Self::data_version(&st)).map_err(state_errno)?;
        if new == a {
            return Ok(());
        }
        // From the end of the first block to past the end of file up to a 64 KiB boundary, so
        // that the last partial page or block is freed too, not only zeroed.
        let end = f
            .size()
            .checked_next_multiple_of(RELEASE_ALIGN)
            .ok_or(EFBIG)?;
        let keep = u64::from(st.blksize).clamp(RELEASE_KEEP, RELEASE_ALIGN);
        let len = end.saturating_sub(keep);
        // The state first: a crash between the two leaves a released file that still has its
        // data (a restore rewrites it), never an archived one that reads as zeros.
        Self::write_attrs(p, &new)?;
        let punched = if len > 0 {
            f.punch_hole(keep, len)
        } else {
            Ok(())
        };
        if let Err(e) = punched {
            // `EOPNOTSUPP` and `EINVAL` come before anything is freed: the old state goes back.
            // After another error part of the data may be gone: the file stays released, and
            // a restore brings all of it back.
            if e == EOPNOTSUPP || e == EINVAL {
                let _ = Self::write_attrs(p, &a);
            } else {
                self.changelog(fid, HsmEvent::Release, 0, false);
            }
            return Err(e);
        }
        // Released from here on, synced or not.
        self.changelog(fid, HsmEvent::Release, 0, false);
        f.sync(false)
    }

    /// Drops waiting actions for `fids` and marks active ones cancelled.
    fn cancel(&self, fids: &[Fid]) {
        let mut cdt = self.cdt.lock();
        for f in fids {
            cdt.cancel(f);
        }
        cdt.ended = cdt.ended.wrapping_add(1);
        drop(cdt);
        self.restore_wait.notify_all();
        for f in fids {
            self.changelog(f, HsmEvent::Cancel, 0, false);
        }
    }

    /// Checks the upcall program before each run: an absolute path to a regular file owned by
    /// root, executable and writable by nobody else, in directories that only root can change
    /// (owned by root and not writable by group or others, unless sticky). Logs why it is
    /// refused. Root could still swap the file between this check and the exec; nobody else
    /// can.
    fn check_upcall(&self, path: &[u8]) -> Result<CString> {
        let name = BStr(self.name.to_bytes());
        let shown = BStr(path);
        if !path.starts_with(b"/") {
            pr_err!(
                "{}: hsm.upcall_path '{}' is not an absolute path\n",
                name,
                shown
            );
            return Err(EINVAL);
        }
        let mut z = KVec::with_capacity(path.len() + 1, GFP_KERNEL)?;
        z.extend_from_slice(path, GFP_KERNEL)?;
        z.push(0, GFP_KERNEL)?;
        let c = CString::try_from(CStr::from_bytes_with_nul(&z).map_err(|_| EINVAL)?)
            .map_err(|_| ENOMEM)?;
        let st = FsPath::lookup(&c, true)
            .and_then(|p| p.stat())
            .inspect_err(|e| {
                pr_err!(
                    "{}: hsm.upcall_path {}: cannot find it (error {})\n",
                    name,
                    shown,
                    e.to_errno()
                )
            })?;
        let why = if !st.is_reg() {
            Some("is not a regular file")
        } else if st.uid != 0 {
            Some("is not owned by root")
        } else if st.mode & 0o022 != 0 {
            Some("is writable by group or others")
        } else if st.mode & 0o111 == 0 {
            Some("is not executable")
        } else {
            Self::unsafe_dir(&mut z)?
        };
        if let Some(why) = why {
            pr_err!(
                "{}: hsm.upcall_path {} {}: refusing to run it\n",
                name,
                shown,
                why
            );
            return Err(EACCES);
        }
        Ok(c)
    }

    /// Whether a directory above the path in `z` (NUL-terminated; cut in place) could be
    /// changed by someone else than root, and how.
    fn unsafe_dir(z: &mut KVec<u8>) -> Result<Option<&'static str>> {
        let mut end = z.len() - 1;
        while let Some(slash) = z[..end].iter().rposition(|&b| b == b'/') {
            // The directory is `z[..slash]`, or `/` for the first slash.
            let cut = if slash == 0 { 1 } else { slash };
            let saved = z[cut];
            z[cut] = 0;
            let st = CStr::from_bytes_until_nul(z)
                .map_err(|_| EINVAL)
                .and_then(|d| FsPath::lookup(d, true)?.stat());
            z[cut] = saved;
            let st = st?;
            if st.uid != 0 {
                return Ok(Some("is in a directory not owned by root"));
            }
            if st.mode & 0o022 != 0 && st.mode & 0o1000 == 0 {
                return Ok(Some("is in a directory writable by group or others"));
            }
            if slash == 0 {
                break;
            }
            end = slash;
        }
        Ok(None)
    }

    /// Runs the upcall for `fids`, [`argv::fids_per_call`] at a time; the FIDs of calls that
    /// exit non-zero go to the coordinator. An upcall that cannot be run fails the request
    /// (FIDs of calls that succeeded stay accepted, those of calls that failed are queued).
    fn upcall(
        &self,
        action: Action,
        archive_id: u32,
        flags: u64,
        data: &[u8],
        fids: &[Fid],
    ) -> Result {
        let (path, batch) = {
            let p = self.params.lock();
            let mut path = KVec::with_capacity(p.upcall_path.len(), GFP_KERNEL)?;
            path.extend_from_slice(&p.upcall_path, GFP_KERNEL)?;
            (path, p.upcall_batch)
        };
        let path = self.check_upcall(&path)?;
        let (idb, idn) = argv::dec_arg(u64::from(archive_id));
        let (flb, fln) = argv::dec_arg(flags);
        let fixed: [&[u8]; 6] = [
            path.to_bytes(),
            action.name().as_bytes(),
            self.fsname(),
            &idb[..idn],
            &flb[..fln],
            data,
        ];
        let per = argv::fids_per_call(fixed.iter().copied(), batch);
        let mut rest = KVVec::new();
        let mut res = Ok(());
        for chunk in fids.chunks(per) {
            match self.upcall_once(&path, &fixed[1..], chunk) {
                Ok(true) => {}
                Ok(false) => {
                    self.counters
                        .upcall_fallbacks
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    rest.extend_from_slice(chunk, GFP_KERNEL)?;
                }
                Err(e) => {
                    res = Err(e);
                    break;
                }
            }
        }
        if !rest.is_empty() {
            self.enqueue(action, archive_id, flags, data, &rest)?;
        }
        res
    }

    /// One upcall invocation; `Ok(false)` if it exited non-zero.
    fn upcall_once(&self, path: &CStr, fixed: &[&[u8]], fids: &[Fid]) -> Result<bool> {
        let (name, up) = (BStr(self.name.to_bytes()), BStr(path.to_bytes()));
        let mut cmd = Command::new(path.to_bytes())?;
        for a in fixed {
            cmd.arg(a)?;
        }
        for f in fids {
            let (b, n) = argv::fid_arg(f);
            cmd.arg(&b[..n])?;
        }
        let status = cmd.run_killable().inspect_err(|e| {
            if *e == ERESTARTSYS {
                pr_warn!(
                    "{}: requester of hsm upcall {} killed while it ran; it goes on\n",
                    name,
                    up
                );
            } else {
                pr_err!(
                    "{}: cannot run hsm upcall {}: error {}\n",
                    name,
                    up,
                    e.to_errno()
                );
            }
        })?;
        self.counters.upcall_calls.fetch_add(1, Ordering::Relaxed);
        if status.success() {
            self.counters
                .upcall_fids
                .fetch_add(fids.len() as u64, Ordering::Relaxed);
            return Ok(true);
        }
        pr_warn!(
            "{}: hsm upcall {} exited with status {:#x}; {} FIDs go to the coordinator\n",
            name,
            up,
            status.raw(),
            fids.len()
        );
        Ok(false)
    }

    /// Queues actions for the coordinator, one per FID, as one compound request.
    fn enqueue(
        &self,
        action: Action,
        archive_id: u32,
        flags: u64,
        data: &[u8],
        fids: &[Fid],
    ) -> Result {
        let mut d = KVec::with_capacity(data.len(), GFP_KERNEL)?;
        d.extend_from_slice(data, GFP_KERNEL)?;
        let data = Arc::new(d, GFP_KERNEL)?;
        let mut items = KVVec::with_capacity(fids.len(), GFP_KERNEL)?;
        for f in fids {
            let it = Item {
                cookie: 0,
                compound: 0,
                action,
                fid: *f,
                archive_id,
                flags,
                data: data.clone(),
                agent: 0,
                started: false,
                moved: 0,
                canceled: false,
            };
            items.push(KBox::new(it, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut cdt = self.cdt.lock();
        if cdt.control == Control::Stopped {
            return Err(EAGAIN);
        }
        if cdt.waiting_len() + items.len() > MAX_WAITING {
            return Err(ENOSPC);
        }
        cdt.reserve(action, items.len())?;
        let compound = cdt.next_compound;
        cdt.next_compound += 1;
        for mut it in items.drain_all() {
            // One RESTORE per file at a time, as Lustre's coordinator: its waiters share it.
            if it.action == Action::Restore && cdt.restore_queued(&it.fid) {
                continue;
            }
            it.compound = compound;
            it.cookie = cdt.next_cookie;
            cdt.next_cookie += 1;
            cdt.push(it)?;
        }
        drop(cdt);
        self.cdt_wait.notify_all();
        Ok(())
    }

    /// Registers a copytool; returns its id.
    pub(crate) fn register_agent(&self, archives: u64) -> Result<u64> {
        let mut cdt = self.cdt.lock();
        let id = cdt.next_agent;
        cdt.next_agent += 1;
        let tgid = kernel::fsnotify::current::tgid();
        cdt.agents.push(
            Agent {
                id,
                tgid,
                archives,
                done_ok: 0,
                done_err: 0,
            },
            GFP_KERNEL,
        )?;
        Ok(id)
    }

    /// Unregisters a copytool; its unfinished actions wait again, first in line of their class,
    /// in the order it got them ([`Cdt::give_back`]).
    pub(crate) fn unregister_agent(&self, id: u64) {
        let mut cdt = self.cdt.lock();
        cdt.agents.retain(|a| a.id != id);
        let held = cdt.active.iter().filter(|it| it.agent == id).count();
        let mut cookies = KVec::new();
        let res = cookies
            .reserve(held, GFP_KERNEL)
            .map_err(Error::from)
            .and_then(|()| {
                for it in cdt.active.iter().filter(|it| it.agent == id) {
                    cookies
                        .push_within_capacity(it.cookie)
                        .map_err(|_| ENOMEM)?;
                }
                cdt.give_back(&cookies)
            });
        if res.is_err() {
            pr_err!(
                "{}: no memory to requeue {} HSM actions; they stay listed as running\n",
                BStr(self.name.to_bytes()),
                held
            );
            return;
        }
        drop(cdt);
        self.cdt_wait.notify_all();
        self.restore_wait.notify_all();
    }

    /// Hands the copytool the next actions it may do, encoded as one `hsm_action_list` in
    /// `out`; returns the list's length, or `None` if there is nothing for it now. The cookies
    /// of the actions go to `cookies`. `EINVAL` if `out` cannot hold even one action (which
    /// then waits again).
    ///
    /// As Lustre's coordinator, a list gathers actions of one archive id (any action), up to
    /// what `out` holds and `max_requests` allows in flight: a copytool reading with a large
    /// buffer gets a batch per `read()`.
    pub(crate) fn next_actions(
        &self,
        agent: u64,
        out: &mut [u8],
        cookies: &mut KVec<u64>,
    ) -> Result<Option<usize>> {
        cookies.clear();
        let max = self.params.lock().max_requests as usize;
        let mut cdt = self.cdt.lock();
        if cdt.control != Control::Enabled || cdt.active.len() >= max {
            return Ok(None);
        }
        let Some(archives) = cdt
            .agents
            .iter()
            .find(|a| a.id == agent)
            .map(|a| a.archives)
        else {
            return Err(ENOENT);
        };
        // Room first, so that nothing taken out can be dropped for lack of memory.
        let room = (max - cdt.active.len())
            .min(out.len() / uapi::ACTION_ITEM_LEN)
            .max(1);
        cdt.active.reserve(room, GFP_KERNEL)?;
        cdt.reserve_retry(room)?;
        cookies.reserve(room, GFP_KERNEL)?;
        let Some(first) = cdt.take_for(archives) else {
            return Ok(None);
        };
        let mut hal = uapi::ActionList {
            count: 0,
            compound_id: first.compound,
            flags: first.flags,
            archive_id: first.archive_id,
            fsname: self.fsname(),
        };
        let mut at = hal.first_item();
        if hal.size([first.data.len()].into_iter()) > out.len() {
            cdt.requeue(first);
            return Err(EINVAL);
        }
        out.fill(0);
        let mut next = Some(first);
        while let Some(mut it) = next.take() {
            // Active and listed among the cookies first (both reserved above, so neither push
            // fails), then encoded: nothing is in the list that the coordinator does not hold
            // as running.
            it.agent = agent;
            let (cookie, compound, flags) = (it.cookie, it.compound, it.flags);
            if let Err(e) = cdt.active.push_within_capacity(it) {
                cdt.requeue(e.0);
                break;
            }
            if cookies.push_within_capacity(cookie).is_err() {
                if let Some(it) = cdt.active.pop() {
                    cdt.requeue(it);
                }
                break;
            }
            let Some(it) = cdt.active.last() else { break };
            let item = uapi::ActionItem {
                action: it.action as u32,
                fid: it.fid,
                dfid: it.fid,
                offset: 0,
                length: u64::MAX,
                cookie,
                ..Default::default()
            };
            at = uapi::ActionList::encode_item(out, at, &item, &it.data);
            hal.count += 1;
            if compound != hal.compound_id {
                // Lustre's lists name no request when they gather several.
                hal.compound_id = 0;
            }
            // Lustre's list carries the flags of its last action.
            hal.flags = flags;
            if cookies.len() >= room {
                break;
            }
            let free = out.len().saturating_sub(at);
            next = cdt.take_where(|it| {
                it.archive_id == hal.archive_id
                    && uapi::serves(archives, it.archive_id)
                    && uapi::align8(uapi::ACTION_ITEM_LEN + it.data.len()) <= free
            });
        }
        hal.encode_header(out);
        Ok(Some(at))
    }

    /// Puts back actions handed out by [`Hsm::next_actions`] that never reached the copytool
    /// (its buffer faulted); those cancelled meanwhile are dropped, as on a copytool's exit.
    pub(crate) fn give_back(&self, cookies: &[u64]) {
        // Without memory to requeue them, they stay active until the copytool's file closes.
        let _ = self.cdt.lock().give_back(cookies);
        self.cdt_wait.notify_all();
        self.restore_wait.notify_all();
    }

    /// Whether a copytool could get an action from `cdt` now.
    fn can_take(cdt: &Cdt, agent: u64, max: usize) -> bool {
        let Some(archives) = cdt
            .agents
            .iter()
            .find(|a| a.id == agent)
            .map(|a| a.archives)
        else {
            return false;
        };
        cdt.control == Control::Enabled
            && cdt.active.len() < max
            && cdt
                .waiting_iter()
                .any(|it| uapi::serves(archives, it.archive_id))
    }

    /// Whether a copytool could get an action now (for `poll`).
    pub(crate) fn has_action(&self, agent: u64) -> bool {
        let max = self.params.lock().max_requests as usize;
        Self::can_take(&self.cdt.lock(), agent, max)
    }

    /// Waits until a copytool may find an action (or a second has passed); `true` if a signal
    /// is pending.
    pub(crate) fn wait_for_action(&self, agent: u64) -> bool {
        let max = self.params.lock().max_requests as usize;
        let mut cdt = self.cdt.lock();
        if Self::can_take(&cdt, agent, max) {
            return false;
        }
        matches!(
            self.cdt_wait
                .wait_interruptible_timeout(&mut cdt, kernel::time::msecs_to_jiffies(1000)),
            kernel::sync::CondVarTimeoutResult::Signal { .. }
        )
    }

    /// The action and file of an upcall copy (`EPROTO` for an action the upcall cannot have).
    fn upcall_target(c: &Copy) -> Result<(Action, Fid)> {
        match mask::ACTIONS
            .iter()
            .copied()
            .find(|a| *a as u32 == c.upcall_action())
        {
            Some(a @ (Action::Archive | Action::Remove)) => Ok((a, c.hai.fid)),
            _ => Err(EPROTO),
        }
    }

    /// The coordinator action of cookie `cookie`, held by copytool `agent`: its index in
    /// `active`. `ENOENT` if there is none (done, purged), `EPERM` if another copytool has it.
    fn held(cdt: &Cdt, cookie: u64, agent: u64) -> Result<usize> {
        let i = cdt
            .active
            .iter()
            .position(|it| it.cookie == cookie)
            .ok_or(ENOENT)?;
        if cdt.active[i].agent != agent {
            return Err(EPERM);
        }
        Ok(i)
    }

    /// `IOC_COPY_START`: fills in the data version the copy starts from.
    pub(crate) fn copy_start(&self, c: &mut Copy, agent: u64) -> Result {
        let (action, fid) = if c.flags & uapi::HP_FLAG_UPCALL != 0 {
            if self.cdt.lock().control == Control::Stopped {
                return Err(EAGAIN);
            }
            Self::upcall_target(c)?
        } else {
            let mut cdt = self.cdt.lock();
            let i = Self::held(&cdt, c.hai.cookie, agent)?;
            let it = &mut cdt.active[i];
            if it.canceled {
                // Saves the copytool a copy nobody wants; it still ends the action.
                return Err(ECANCELED);
            }
            it.started = true;
            (it.action, it.fid)
        };
        c.data_version = match self.lookup(&fid) {
            Ok((p, st)) => {
                // A released file's archive is its only copy: archiving the punched file over
                // it, or removing it, would lose the data (an action queued before the
                // release, or through the upcall, which the release cannot see).
                let released = Self::read_attrs(&p)?.flags & state::HS_RELEASED != 0;
                match action {
                    Action::Archive if released => return Err(ECANCELED),
                    Action::Remove if released => return Err(EBUSY),
                    // A restore of a file already back would write the archived data over
                    // whatever was written since.
                    Action::Restore if !released => return Err(ECANCELED),
                    _ => {}
                }
                Self::data_version(&st)
            }
            Err(ENOENT) if action == Action::Remove => 0,
            Err(e) => return Err(e),
        };
        Ok(())
    }

    /// `IOC_PROGRESS`: the copytool holding the action of `p.cookie` copied `p.length` more
    /// bytes; `hsm_action` shows the sum while the copy runs. `ENOENT` for an action it does
    /// not hold (or that ended), `EINVAL` for a report about another file or before
    /// COPY_START, or one that says the copy is over (that is COPY_END's).
    pub(crate) fn progress(&self, p: &uapi::Progress, agent: u64) -> Result {
        if p.flags & uapi::HP_FLAG_COMPLETED != 0 {
            return Err(EINVAL);
        }
        let mut cdt = self.cdt.lock();
        let i = Self::held(&cdt, p.cookie, agent)?;
        let it = cdt.active.get_mut(i).ok_or(ENOENT)?;
        if it.fid != p.fid || !it.started {
            return Err(EINVAL);
        }
        it.moved = it.moved.saturating_add(p.length);
        Ok(())
    }

    /// `IOC_COPY_END`: the copy is over (`HP_FLAG_COMPLETED`), or failed and may be retried
    /// (`HP_FLAG_RETRY`, coordinator actions). A completion updates the file's state and
    /// appends a `CL_HSM` record; a coordinator action leaves the active list only once that is
    /// done, so an error here can be retried (or the action requeued when the copytool goes).
    pub(crate) fn copy_end(&self, c: &Copy, agent: u64) -> Result {
        if c.flags & uapi::HP_FLAG_COMPLETED == 0 {
            return Err(EINVAL);
        }
        if c.flags & uapi::HP_FLAG_UPCALL != 0 {
            if self.cdt.lock().control == Control::Stopped {
                return Err(EAGAIN);
            }
            let (action, fid) = Self::upcall_target(c)?;
            return self.complete(action, &fid, c.archive_id, c);
        }
        let (action, fid, archive_id) = {
            let mut cdt = self.cdt.lock();
            let i = Self::held(&cdt, c.hai.cookie, agent)?;
            if cdt.active[i].canceled || (c.errval != 0 && c.flags & uapi::HP_FLAG_RETRY != 0) {
                cdt.reserve_retry(1)?;
                let it = cdt.active.remove(i)?;
                if !it.canceled {
                    cdt.requeue(it);
                }
                cdt.ended = cdt.ended.wrapping_add(1);
                drop(cdt);
                self.cdt_wait.notify_all();
                self.restore_wait.notify_all();
                return Ok(());
            }
            let it = &cdt.active[i];
            (it.action, it.fid, it.archive_id)
        };
        let res = self.complete(action, &fid, archive_id, c);
        if res.is_ok() || res == Err(EBUSY) {
            let mut cdt = self.cdt.lock();
            if let Ok(i) = Self::held(&cdt, c.hai.cookie, agent) {
                let _ = cdt.active.remove(i);
                cdt.ended = cdt.ended.wrapping_add(1);
            }
            if let Some(a) = cdt.agents.iter_mut().find(|a| a.id == agent) {
                if c.errval == 0 && res.is_ok() {
                    a.done_ok += 1;
                } else {
                    a.done_err += 1;
                }
            }
            drop(cdt);
            self.cdt_wait.notify_all();
            self.restore_wait.notify_all();
        }
        res
    }

    /// Records the end of `action` on `fid`: the file's new state and a `CL_HSM` record.
    /// `EBUSY` if an archive's file changed while it was copied (the archive then counts as
    /// failed).
    fn complete(&self, action: Action, fid: &Fid, archive_id: u32, c: &Copy) -> Result {
        let mut errval = c.errval;
        let mut dirty = false;
        {
            let _guard = self.state_lock.lock();
            match self.lookup(fid) {
                Ok((p, st)) => {
                    let dv = Self::data_version(&st);
                    // An archive of data that changed while it was copied is no archive.
                    if action == Action::Archive && errval == 0 && c.data_version != dv {
                        errval = EBUSY.to_errno().unsigned_abs() as u16;
                    }
                    let a = Self::read_attrs(&p)?;
                    let new = a.completed(action, errval, archive_id, dv);
                    dirty = new.effective(dv) & state::HS_DIRTY != 0;
                    if new != a {
                        Self::write_attrs(&p, &new)?;
                    }
                }
                Err(ENOENT) if action == Action::Remove => {}
                Err(e) => return Err(e),
            }
        }
        if errval == 0 {
            self.counters.completed_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.completed_err.fetch_add(1, Ordering::Relaxed);
        }
        self.changelog(fid, HsmEvent::of(action), errval, dirty);
        if errval != 0 && c.errval == 0 {
            return Err(EBUSY);
        }
        Ok(())
    }

    /// `hsm_control` writes.
    pub(crate) fn set_control(&self, v: &[u8]) -> Result {
        let mut cdt = self.cdt.lock();
        match v {
            b"enabled" => cdt.control = Control::Enabled,
            b"disabled" => cdt.control = Control::Disabled,
            b"shutdown" => cdt.control = Control::Stopped,
            b"purge" => {
                let n = cdt.purge();
                pr_info!("{}: purged {} HSM actions\n", BStr(self.name.to_bytes()), n);
            }
            _ => return Err(EINVAL),
        }
        cdt.ended = cdt.ended.wrapping_add(1);
        drop(cdt);
        self.cdt_wait.notify_all();
        self.restore_wait.notify_all();
        Ok(())
    }

    /// Whether the current task is a copytool holding a RESTORE of `fid`: its opens and
    /// accesses of the file must not wait for the restore it is doing.
    fn copytool_restoring(&self, fid: &Fid) -> bool {
        let tgid = kernel::fsnotify::current::tgid();
        let cdt = self.cdt.lock();
        let r = cdt.active.iter().any(|it| {
            it.action == Action::Restore
                && it.fid == *fid
                && cdt
                    .agents
                    .iter()
                    .any(|a| a.id == it.agent && a.tgid == tgid)
        });
        r
    }

    /// A regular file of the target is being opened. A file that is not released (and not
    /// being released) is exempted from pre-content events for this open, so that its reads
    /// and writes cost nothing more; so is the file a copytool opens to restore it. An open
    /// that truncates (`O_TRUNC`) a released file waits for its restore first; any other open
    /// of a released file keeps the events, and its first access waits instead.
    pub(crate) fn pre_open(&self, o: &OpenPerm<'_>) -> Result {
        let info = o.inode();
        let Some(fid) = Fid::from_inode(info.ino, info.generation) else {
            return Ok(());
        };
        // Pairs with the barrier in the lease code after `release` counted itself: either this
        // open sees the release, or the release sees this open (counted before this event)
        // and refuses with `EBUSY`.
        kernel::sync::barrier::smp_mb(kernel::sync::atomic::Full);
        let releasing = self.releasing.load(Ordering::SeqCst) != 0;
        let p = o.path();
        // A state that cannot be read does not fail the open (nor exempt it): each access then
        // reads it again, and fails if it still cannot.
        let Ok(a) = Self::read_attrs(&p) else {
            return Ok(());
        };
        if a.flags & state::HS_RELEASED == 0 {
            if !releasing {
                o.exempt();
            }
            return Ok(());
        }
        if self.copytool_restoring(&fid) {
            o.exempt();
            return Ok(());
        }
        // Any open with `O_TRUNC` truncates a regular file, for writing or not.
        if o.flags() & kernel::fs::file::flags::O_TRUNC != 0 {
            return o
                .wait_unlocked(|| self.restore_and_wait(&fid, &p, a.archive_id))
                .unwrap_or(Err(ENODATA));
        }
        Ok(())
    }

    /// Data of a file opened with pre-content events is about to be accessed (or a file is
    /// truncated): if it is released, waits for its restore (outside the fsnotify SRCU read
    /// lock).
    pub(crate) fn pre_access(&self, ev: &PreAccess<'_>) -> Result {
        let info = ev.inode();
        if !info.is_reg() {
            return Ok(());
        }
        let p = ev.path();
        let a = Self::read_attrs(&p)?;
        if a.flags & state::HS_RELEASED == 0 {
            return Ok(());
        }
        let fid = Fid::from_inode(info.ino, info.generation).ok_or(EOVERFLOW)?;
        if self.copytool_restoring(&fid) {
            return Ok(());
        }
        ev.wait_unlocked(|| self.restore_and_wait(&fid, &p, a.archive_id))
            .unwrap_or(Err(ENODATA))
    }

    /// Queues a RESTORE of `fid` (one for all waiters) and waits until it ended: `Ok` once the
    /// file is no longer released, `ENODATA` if the restore failed or was cancelled, if no
    /// copytool serves its archive, after `hsm.implicit_restore_timeout` seconds, with
    /// `hsm.policy` NBR (at once), or if the target goes; `EAGAIN` while the coordinator is
    /// shut down; `ERESTARTSYS` if the task is killed (the restore goes on for others; other
    /// signals do not end the wait).
    fn restore_and_wait(&self, fid: &Fid, p: &FsPath, archive_id: u32) -> Result {
        let (nbr, secs) = {
            let params = self.params.lock();
            (params.non_blocking_restore, params.implicit_restore_timeout)
        };
        let mut left = msecs_to_jiffies(secs.saturating_mul(1000));
        let mut queued_once = false;
        loop {
            let seen_ended = self.cdt.lock().ended;
            if Self::read_attrs(p)?.flags & state::HS_RELEASED == 0 {
                return Ok(());
            }
            let mut cdt = self.cdt.lock();
            if cdt.closing {
                return Err(ENODATA);
            }
            if cdt.control == Control::Stopped {
                return Err(EAGAIN);
            }
            if !cdt.restore_queued(fid) {
                if cdt.ended != seen_ended {
                    // Something ended after the state was read: read it again.
                    continue;
                }
                if queued_once {
                    return Err(ENODATA);
                }
                if !cdt
                    .agents
                    .iter()
                    .any(|a| uapi::serves(a.archives, archive_id))
                {
                    return Err(ENODATA);
                }
                drop(cdt);
                // (Deduplicated in `enqueue`, under the same lock as the check there.)
                self.enqueue(Action::Restore, archive_id, 0, &[], &[*fid])
                    .map_err(|e| if e == ENOSPC { EAGAIN } else { e })?;
                queued_once = true;
                continue;
            }
            queued_once = true;
            if nbr {
                return Err(ENODATA);
            }
            match self
                .restore_wait
                .wait_killable_freezable_timeout(&mut cdt, left)
            {
                CondVarTimeoutResult::Timeout => return Err(ENODATA),
                CondVarTimeoutResult::Signal { .. } => return Err(ERESTARTSYS),
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
            }
        }
    }

    /// Refuses implicit restore on the target (`EBUSY`) while one of its released files is
    /// open since before the watch `w` existed (opened while the module was not loaded, or
    /// before the target was attached): fsnotify decided at that open that the file reports
    /// no pre-content events, so its reads would return zeros instead of waiting for a
    /// restore. A file whose state cannot be read counts as released, and so does a released
    /// file opened in the instant between the watch and this walk (which cannot be told from
    /// one opened before). Each such file is named in the kernel log (the first 8, then a
    /// count); the target's HSM side is set up once they are closed and the module loaded
    /// again.
    pub(crate) fn check_opened_before(&self, w: &PreContentWatch<Implicit>) -> Result {
        let mut n = 0u32;
        w.open_files(|p| {
            // A state that cannot be read (other than absent) might say released: counted,
            // unless memory ran short (the attach then fails with that).
            match Self::read_attrs(p) {
                Ok(a) if a.flags & state::HS_RELEASED == 0 => return Ok(()),
                Err(ENOMEM) => return Err(ENOMEM),
                _ => {}
            }
            n = n.saturating_add(1);
            if n <= 8 {
                match p.stat() {
                    Ok(st) => match Fid::from_inode(st.ino, st.generation) {
                        Some(fid) => pr_err!(
                            "{}: released file {} (inode {}) has been open since before implicit restore was set up: its reads would return zeros (or its state cannot be read)\n",
                            BStr(self.name.to_bytes()),
                            crate::D(&fid),
                            st.ino
                        ),
                        None => pr_err!(
                            "{}: released file (inode {}) has been open since before implicit restore was set up: its reads would return zeros (or its state cannot be read)\n",
                            BStr(self.name.to_bytes()),
                            st.ino
                        ),
                    },
                    Err(_) => pr_err!(
                        "{}: a released file has been open since before implicit restore was set up: its reads would return zeros (or its state cannot be read)\n",
                        BStr(self.name.to_bytes())
                    ),
                }
            }
            Ok(())
        })?;
        if n > 0 {
            pr_err!(
                "{}: {} released file(s) open from before: HSM not set up for this target; close them (lsof) and load hsm_upcall again\n",
                BStr(self.name.to_bytes()),
                n
            );
            return Err(EBUSY);
        }
        Ok(())
    }

    /// Records whether the target's pre-content watch is up; RELEASE is refused while it is
    /// not. Clearing it waits for a release in progress.
    pub(crate) fn set_implicit(&self, up: bool) {
        let _guard = self.state_lock.lock();
        self.implicit.store(up, Ordering::Release);
    }

    /// The target goes: every implicit restore stops waiting (with `ENODATA`), and none
    /// starts, so that the pre-content watch can be taken down.
    pub(crate) fn stop_waiters(&self) {
        self.cdt.lock().closing = true;
        self.restore_wait.notify_all();
    }
}

/// Counts a release in progress for as long as it lives.
struct Releasing<'a>(&'a AtomicU32);

impl<'a> Releasing<'a> {
    fn new(c: &'a AtomicU32) -> Self {
        c.fetch_add(1, Ordering::SeqCst);
        Releasing(c)
    }
}

impl Drop for Releasing<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The pre-content handler of a target: implicit restore.
pub(crate) struct Implicit(pub(crate) Arc<Hsm>);

impl PreContentHandler for Implicit {
    fn open(&self, open: &OpenPerm<'_>) -> Result {
        self.0.pre_open(open)
    }

    fn access(&self, access: &PreAccess<'_>) -> Result {
        self.0.pre_access(access)
    }
}
