// SPDX-License-Identifier: GPL-2.0

//! The changelog of one metadata target: in-memory state, the catalog file and its flusher.
//!
//! Records are appended by the capture hook ([`Changelog::append`]) into a memory buffer of
//! sealed frames, under [`Changelog::state`]. A flusher thread writes that buffer to the end of
//! the catalog and syncs it at least every `sync_interval_ms`, or at once on a sync request,
//! then rewrites the header when users, mask or purge point changed. An appender waits only
//! when [`MAX_PENDING`] bytes are still unwritten, never for I/O it started itself.
//!
//! Locking: `state` is a mutex, taken by appenders (in filesystem operations, possibly holding
//! directory locks of the watched filesystem), by the control and parameter files, and by the
//! flusher. Nobody does I/O with it held. The catalog file may be on the watched filesystem;
//! events about it are ignored.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use kernel::{
    alloc::flags::{GFP_KERNEL, GFP_NOFS},
    kfile::{flags::*, KFile},
    kthread, new_condvar, new_mutex,
    prelude::*,
    str::CString,
    sync::{Arc, CondVar, CondVarTimeoutResult, Mutex},
    time::msecs_to_jiffies,
};

use crate::catalog_fmt::{
    frame_len, parse_frame, scan, seal_frame, unpack_frames, FrameError, Header, UserError,
    DATA_START, FRAME_HDR, FRAME_MAX, SLOT_LEN,
};
use crate::record::{Record, CHANGELOG_MINMASK, CL_LAST};

/// Unwritten bytes at which appenders wait for the flusher.
pub(crate) const MAX_PENDING: usize = 4 << 20;
/// Default bound on the time from an operation to its record being durable.
pub(crate) const DEFAULT_SYNC_INTERVAL_MS: u32 = 200;
/// How far ahead of the next index the header reserves indices. An index is handed out only
/// below a reservation that is on disk, so no index is ever given twice, even after a crash
/// (which skips to the reservation). Between two renewals at most two buffers of the
/// smallest records are appended (the batch being written and [`MAX_PENDING`] behind it),
/// and the flusher renews at half: so the buffer fills, and records wait or are dropped for
/// that, before the reservation runs out.
const RESERVE_AHEAD: u64 = 1 << 18;
const _: () =
    assert!(RESERVE_AHEAD / 2 > 2 * (MAX_PENDING / frame_len(crate::record::REC_HDR_LEN)) as u64);
/// Read positions remembered, for that many readers going forward at once.
const HINTS: usize = 8;
/// Bytes read at a time when scanning the catalog.
const SCAN_CHUNK: usize = 64 << 10;
/// Holes are punched in whole blocks of this size.
const PUNCH_ALIGN: u64 = 4096;

/// State protected by [`Changelog::state`].
pub(crate) struct State {
    /// Users, mask and purge point; written to disk when `header_dirty`.
    pub(crate) header: KBox<Header>,
    header_dirty: bool,
    /// The slot holding the newest header on disk.
    header_slot: usize,
    /// Index the next record gets.
    pub(crate) next_index: u64,
    /// Indices below this are covered by the header on disk (`Header::next_index`).
    reserved: u64,
    /// Sealed frames not yet written, starting at file offset `write_off`.
    pending: KVVec<u8>,
    /// Index of the first record in `pending`.
    pending_first: u64,
    /// Where the next frame goes in the file.
    write_off: u64,
    /// Records up to this index are on stable storage.
    pub(crate) durable_index: u64,
    /// Flusher period.
    pub(crate) sync_interval_ms: u32,
    /// Sync requests made and served (generation counters).
    sync_requested: u64,
    sync_done: u64,
    /// Error of the last flush, reported to sync requesters.
    flush_error: Option<Error>,
    /// The flusher is asked to finish.
    stopping: bool,
    /// Holders outside this module (open changelog devices, ...); detach is refused while
    /// there is one.
    pub(crate) busy: u32,
    /// Detach has begun: no new holder.
    pub(crate) detaching: bool,
    /// Where recent reads ended: (next index, its frame's offset).
    hints: [(u64, u64); HINTS],
    /// Tasks in [`Changelog::wait_durable`] (follow-mode readers at the end of the changelog).
    /// While there is one, a new record wakes the flusher at once instead of at its next tick.
    followers: u32,
    hint_next: usize,
}

/// The changelog of one target.
#[pin_data]
pub(crate) struct Changelog {
    /// `<fsname>-MDT<xxxx>`.
    pub(crate) name: CString,
    /// Where the target's filesystem is mounted.
    pub(crate) mount: CString,
    file: KFile,
    /// Superblock and inode of the catalog file, whose own events are not recorded.
    pub(crate) file_id: (usize, u64),
    /// Quick checks for the capture hook without the lock: the target's mask, or 0 while
    /// there is no user (Lustre keeps no records then).
    pub(crate) live_mask: AtomicU32,
    /// Records dropped because memory for them could not be allocated.
    pub(crate) dropped: AtomicU64,
    /// Inode numbers that have a record since the target was attached, one per slot (a slot
    /// keeps the last one hashed to it; 0 is empty; only records actually queued count). Capture writes a time-only record
    /// (MTIME, CTIME) only for an inode not found here, as Lustre's MDD writes one only for
    /// an object with no record since the changelog started (`mod_cltime`). Lock-free: a lost
    /// race writes one record more, never one less.
    pub(crate) recent: KVVec<AtomicU64>,
    #[pin]
    pub(crate) state: Mutex<State>,
    /// Wakes the flusher.
    #[pin]
    work: CondVar,
    /// Notified after each flush: sync requesters and throttled appenders wait on it.
    #[pin]
    flushed: CondVar,
}

/// Slots of [`Changelog::recent`] (32 KiB per target).
const RECENT_SLOTS: usize = 4096;

/// Maps a user-table error to its errno.
pub(crate) fn user_errno(e: UserError) -> Error {
    Error::from_errno(-e.errno())
}

fn now_secs() -> u64 {
    kernel::fsnotify::current::real_time().0
}

impl Changelog {
    /// Opens (or creates) the catalog at `path` for target `name` over the filesystem mounted
    /// at `mount`, recovering its state.
    pub(crate) fn open(name: &CStr, mount: &CStr, path: &CStr) -> Result<Arc<Self>> {
        let file = KFile::open(path, O_RDWR | O_CREAT | O_LARGEFILE | O_NOFOLLOW, 0o600)?;
        if !file.is_regular() {
            pr_err!("{}: catalog {} is not a regular file\n", name, path);
            return Err(EINVAL);
        }
        let (mut header, mut slot, write_off, last_on_disk) = recover(&file, name, path)?;
        // Index 0 is never handed out (it means "none" to Lustre's tools).
        let next_index = header.next_index.max(1);
        // Reserve indices before handing any out.
        // Indices travel as `i64` (file positions of readers, the in-kernel interface's
        // return value): a catalog this close to the end of that space is refused rather
        // than wrapped.
        header.next_index = next_index
            .checked_add(RESERVE_AHEAD)
            .filter(|&r| r <= i64::MAX as u64)
            .ok_or_else(|| {
                pr_err!(
                    "{}: catalog {}: changelog index space exhausted\n",
                    name,
                    path
                );
                EOVERFLOW
            })?;
        header.generation += 1;
        let mut buf = KBox::new([0u8; SLOT_LEN], GFP_KERNEL)?;
        header.encode(&mut buf);
        slot = 1 - slot;
        file.write_all_at(&buf[..], (slot * SLOT_LEN) as u64)?;
        file.sync(true)?;
        let reserved = header.next_index;
        let mut pending = KVVec::with_capacity(MAX_PENDING / 4, GFP_KERNEL)?;
        pending.clear();
        let live = if header.min_endrec().is_some() {
            header.mask
        } else {
            0
        };
        let file_id = file.identity();
        let mut recent = KVVec::with_capacity(RECENT_SLOTS, GFP_KERNEL)?;
        for _ in 0..RECENT_SLOTS {
            recent.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        Arc::pin_init(
            try_pin_init!(Changelog {
                name: CString::try_from_fmt(fmt!("{}", name))?,
                mount: CString::try_from_fmt(fmt!("{}", mount))?,
                file,
                file_id,
                live_mask: AtomicU32::new(live),
                dropped: AtomicU64::new(0),
                recent,
                state <- new_mutex!(State {
                    header,
                    header_dirty: false,
                    header_slot: slot,
                    next_index,
                    reserved,
                    pending,
                    pending_first: next_index,
                    write_off,
                    // The last record on disk: after a crash the next index has jumped to the
                    // reservation, but no record stands between.
                    durable_index: last_on_disk,
                    sync_interval_ms: DEFAULT_SYNC_INTERVAL_MS,
                    sync_requested: 0,
                    sync_done: 0,
                    flush_error: None,
                    stopping: false,
                    busy: 0,
                    detaching: false,
                    hints: [(0, 0); HINTS],
                    hint_next: 0,
                    followers: 0,
                }),
                work <- new_condvar!(),
                flushed <- new_condvar!(),
            }? Error),
            GFP_KERNEL,
        )
    }

    fn update_live_mask(&self, st: &State) {
        let live = if st.header.min_endrec().is_some() {
            st.header.mask
        } else {
            0
        };
        self.live_mask.store(live, Ordering::Relaxed);
    }

    /// Whether records of type `rtype` are kept now (lock-free hint for the capture hook).
    pub(crate) fn wants(&self, rtype: u32) -> bool {
        rtype < CL_LAST && self.live_mask.load(Ordering::Relaxed) & (1 << rtype) != 0
    }

    /// The slot of [`Changelog::recent`] for inode `ino`.
    fn recent_slot(&self, ino: u64) -> Option<&AtomicU64> {
        // Fibonacci hashing: consecutive inode numbers spread over the slots.
        let h = ino.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 52;
        usize::try_from(h).ok().and_then(|i| self.recent.get(i))
    }

    /// Whether inode `ino` has a record, as far as [`Changelog::recent`] remembers.
    pub(crate) fn has_record(&self, ino: u64) -> bool {
        self.recent_slot(ino)
            .is_some_and(|s| s.load(Ordering::Relaxed) == ino)
    }

    /// Remembers that inode `ino` has a record.
    pub(crate) fn note_record(&self, ino: u64) {
        if let Some(s) = self.recent_slot(ino) {
            s.store(ino, Ordering::Relaxed);
        }
    }

    /// Appends a record, giving it the next index; returns the index, or `None` if the type
    /// is masked out or there is no user. `ENODEV` once the target is being detached.
    ///
    /// It never waits: it is called inside filesystem operations, with their locks (and
    /// fsnotify's) held. If the flusher is [`MAX_PENDING`] bytes behind (a full or failing
    /// catalog filesystem), the record is dropped and counted in `changelog_dropped`, rather
    /// than stalling every operation on the target. When the index reservation runs low, the
    /// flusher is woken to renew it; an index beyond the reservation on disk is never handed
    /// out: the record is dropped and counted, as for a full buffer (the reservation is sized
    /// so that the buffer fills first, see [`RESERVE_AHEAD`]).
    ///
    /// The capture hook's entry point; see [`Changelog::append_wait`] for callers that may
    /// sleep.
    pub(crate) fn append(&self, rec: &mut Record<'_>) -> Result<Option<u64>> {
        self.append_inner(rec, false)
    }

    /// Like [`Changelog::append`], but when the buffer is full it waits (interruptibly) for
    /// the flusher instead of dropping the record. For callers outside filesystem operations:
    /// the in-kernel interface (HSM events) and the `mark` command.
    pub(crate) fn append_wait(&self, rec: &mut Record<'_>) -> Result<Option<u64>> {
        self.append_inner(rec, true)
    }

    fn append_inner(&self, rec: &mut Record<'_>, may_wait: bool) -> Result<Option<u64>> {
        if rec.rtype >= CL_LAST {
            return Err(EINVAL);
        }
        let size = rec.size();
        let flen = frame_len(size);
        let mut st = self.state.lock();
        if st.stopping || st.detaching {
            return Err(ENODEV);
        }
        if st.header.min_endrec().is_none()
            || (st.header.mask | CHANGELOG_MINMASK) & crate::record::type_bit(rec.rtype) == 0
        {
            return Ok(None);
        }
        if st.reserved.saturating_sub(st.next_index) < RESERVE_AHEAD / 2 {
            self.work.notify_one();
        }
        while may_wait
            && (st.pending.len().saturating_add(flen) > MAX_PENDING || st.next_index >= st.reserved)
        {
            self.work.notify_one();
            if let CondVarTimeoutResult::Signal { .. } = self
                .flushed
                .wait_interruptible_timeout(&mut st, msecs_to_jiffies(1000))
            {
                return Err(ERESTARTSYS);
            }
            if st.stopping || st.detaching {
                return Err(ENODEV);
            }
        }
        // INVARIANT: indices handed out stay below the reservation on disk, so none is given
        // twice across a crash.
        let start = st.pending.len();
        if st.next_index >= st.reserved
            || start.saturating_add(flen) > MAX_PENDING
            || st.pending.extend_with(flen, 0, GFP_NOFS).is_err()
        {
            drop(st);
            self.record_lost();
            return Ok(None);
        }
        rec.index = st.next_index;
        let frame = &mut st.pending[start..start + flen];
        let sealed = rec
            .encode(&mut frame[FRAME_HDR..FRAME_HDR + size])
            .ok()
            .and_then(|n| seal_frame(rec.index, n, frame));
        if sealed.is_none() {
            st.pending.truncate(start);
            return Err(EINVAL);
        }
        st.next_index += 1;
        // Group commit: someone is waiting for the next durable record. After a failed
        // write, the flusher keeps to its interval.
        if st.followers > 0 && st.flush_error.is_none() {
            self.work.notify_one();
        }
        Ok(Some(rec.index))
    }

    /// Counts a record that could not be kept, with a warning at powers of two.
    fn record_lost(&self) {
        let lost = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if lost.is_power_of_two() {
            pr_warn!(
                "{}: changelog cannot keep up (catalog too slow or out of memory): {} record(s) lost\n",
                crate::BStr(self.name.to_bytes()),
                lost
            );
        }
    }

    /// The last index handed out (Lustre's `mc_index`), 0 if none yet.
    pub(crate) fn current_index(st: &State) -> u64 {
        st.next_index.saturating_sub(1)
    }

    /// Waits until every record appended so far is durable; returns the last error of the
    /// flusher, if any. Interruptible; `ENODEV` once detach has begun (the detach flushes
    /// everything itself, and waits for running parameter writes, this one included, while
    /// it holds the target registry: it must not wait for a flusher that may be gone).
    pub(crate) fn sync(&self) -> Result {
        let mut st = self.state.lock();
        st.sync_requested += 1;
        let want = st.sync_requested;
        self.work.notify_one();
        while st.sync_done < want {
            if st.stopping {
                return Err(ESHUTDOWN);
            }
            if st.detaching {
                return Err(ENODEV);
            }
            if self.flushed.wait_interruptible(&mut st) {
                return Err(EINTR);
            }
        }
        match st.flush_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Takes a holder reference: `ENODEV` once detach has begun.
    pub(crate) fn hold(&self) -> Result {
        let mut st = self.state.lock();
        if st.detaching {
            return Err(ENODEV);
        }
        st.busy += 1;
        Ok(())
    }

    /// Drops a holder reference.
    pub(crate) fn unhold(&self) {
        let mut st = self.state.lock();
        st.busy = st.busy.saturating_sub(1);
    }

    /// Starts a detach unless there is a holder (`EBUSY`).
    pub(crate) fn begin_detach(&self) -> Result {
        let mut st = self.state.lock();
        if st.busy > 0 {
            return Err(EBUSY);
        }
        st.detaching = true;
        self.flushed.notify_all();
        Ok(())
    }

    /// Waits until a record after `after` is durable: `Ok(true)` when there is one,
    /// `Ok(false)` after `timeout_ms`, `ERESTARTSYS` on a signal, `ENODEV` when the target
    /// goes away. Woken by every flush.
    ///
    /// This is the wake-up entry point of the in-kernel interface.
    pub(crate) fn wait_durable(&self, after: u64, timeout_ms: u32) -> Result<bool> {
        let mut st = self.state.lock();
        let mut left = msecs_to_jiffies(timeout_ms);
        loop {
            if st.durable_index > after {
                return Ok(true);
            }
            if st.detaching || st.stopping {
                return Err(ENODEV);
            }
            if left == 0 {
                return Ok(false);
            }
            // Records already appended are made durable now, not at the next tick; those
            // appended while we wait wake the flusher themselves (`append_inner`). After a
            // failed write, the flusher keeps to its interval.
            if !st.pending.is_empty() && st.flush_error.is_none() {
                self.work.notify_one();
            }
            st.followers = st.followers.saturating_add(1);
            let woke = self.flushed.wait_interruptible_timeout(&mut st, left);
            st.followers = st.followers.saturating_sub(1);
            match woke {
                CondVarTimeoutResult::Signal { .. } => return Err(ERESTARTSYS),
                CondVarTimeoutResult::Timeout => left = 0,
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
            }
        }
    }

    /// The types a user wants (its own mask, or the target's if it has none), by id or name.
    pub(crate) fn user_mask(&self, id: u32, name: &[u8]) -> Result<u32> {
        let st = self.state.lock();
        let user = st
            .header
            .users
            .iter()
            .flatten()
            .find(|u| {
                if id != 0 {
                    u.id == id
                } else {
                    !name.is_empty() && u.name() == name
                }
            })
            .ok_or(ENOENT)?;
        Ok(if user.mask != 0 {
            user.mask
        } else {
            st.header.mask
        })
    }

    /// Writes a user-table change to disk now, if the caller lets us wait: the change is made
    /// (and acknowledged) in memory; an interrupted or failed wait leaves it to the flusher's
    /// next round, and a write error shows in the kernel log.
    fn persist(&self) {
        let _ = self.sync();
    }

    /// Sets the flusher period and lets the flusher use it at once.
    pub(crate) fn set_sync_interval(&self, ms: u32) {
        self.state.lock().sync_interval_ms = ms;
        self.work.notify_one();
    }

    /// Registers a changelog user; returns its label (`clN` or `clN-NAME`).
    pub(crate) fn register(&self, name: &[u8], mask: &[u8]) -> Result<CString> {
        let label = {
            let mut st = self.state.lock();
            let cur = Self::current_index(&st);
            let slot = st
                .header
                .register(name, mask, cur, now_secs())
                .map_err(user_errno)?;
            st.header_dirty = true;
            self.update_live_mask(&st);
            let user = st.header.users[slot].ok_or(EINVAL)?;
            CString::try_from_fmt(fmt!("{}", crate::D(user.label())))?
        };
        self.persist();
        Ok(label)
    }

    /// Deregisters a user; returns its id. Records nobody needs any more are purged.
    pub(crate) fn deregister(&self, id: &[u8]) -> Result<u32> {
        let n = {
            let mut st = self.state.lock();
            let n = st.header.deregister(id).map_err(user_errno)?;
            st.header_dirty = true;
            self.update_live_mask(&st);
            n
        };
        self.persist();
        Ok(n)
    }

    /// Clears records up to `endrec` for a user, with Lustre's semantics.
    pub(crate) fn clear(&self, id: &[u8], endrec: u64) -> Result {
        {
            let mut st = self.state.lock();
            let cur = Self::current_index(&st);
            st.header
                .clear(id, endrec, cur, now_secs())
                .map_err(user_errno)?;
            st.header_dirty = true;
        }
        self.persist();
        Ok(())
    }

    /// Sets the target's mask from a mask string.
    pub(crate) fn set_mask(&self, s: &[u8]) -> Result {
        let mut st = self.state.lock();
        let m = crate::record::parse_changelog_mask(st.header.mask, s).map_err(|e| {
            pr_info!(
                "{}: changelog_mask: unknown type at byte {}\n",
                crate::BStr(self.name.to_bytes()),
                e.at
            );
            EINVAL
        })?;
        st.header.mask = m;
        st.header_dirty = true;
        self.update_live_mask(&st);
        self.work.notify_one();
        Ok(())
    }

    /// Bytes of live records, written or not.
    pub(crate) fn size(st: &State) -> u64 {
        (st.write_off + st.pending.len() as u64).saturating_sub(st.header.first_offset)
    }

    /// Asks the flusher to finish after a last flush.
    pub(crate) fn stop(&self) {
        let mut st = self.state.lock();
        st.stopping = true;
        self.work.notify_all();
        self.flushed.notify_all();
    }

    /// The flusher thread's body.
    pub(crate) fn flusher(self: Arc<Self>) {
        let mut slot = match KBox::new([0u8; SLOT_LEN], GFP_KERNEL) {
            Ok(b) => b,
            Err(_) => {
                pr_err!(
                    "{}: no memory for the flusher; records stay in memory\n",
                    crate::BStr(self.name.to_bytes())
                );
                return;
            }
        };
        let mut spare: KVVec<u8> = KVVec::new();
        loop {
            let mut st = self.state.lock();
            // A follower waiting for records already appended is a sync request too: a
            // wake-up that came while the last flush was running must not be lost. After a
            // failed write, retries keep to the interval.
            let followed = st.followers > 0 && !st.pending.is_empty() && st.flush_error.is_none();
            if !st.stopping
                && st.sync_requested == st.sync_done
                && !followed
                && !kthread::should_stop()
            {
                let j = msecs_to_jiffies(st.sync_interval_ms);
                let _ = self.work.wait_interruptible_timeout(&mut st, j);
            }
            // `kthread_stop()` without `stop()` (a failed attach) ends the thread too.
            let stopping = st.stopping || kthread::should_stop();
            let served = st.sync_requested;
            let batch = core::mem::replace(&mut st.pending, core::mem::take(&mut spare));
            let first = st.pending_first;
            st.pending_first = st.next_index;
            let off = st.write_off;
            // Only the first of a run of failed writes is logged.
            let failing = st.flush_error.is_some();
            drop(st);

            let mut err = None;
            if !batch.is_empty() {
                if let Err(e) = self
                    .file
                    .write_all_at(&batch, off)
                    .and_then(|()| self.file.sync(true))
                {
                    if !failing {
                        pr_err!(
                            "{}: catalog write failed: {:?}; retrying every sync interval\n",
                            crate::BStr(self.name.to_bytes()),
                            e
                        );
                    }
                    err = Some(e);
                }
            }
            let last = first + count_frames(&batch);
            {
                let mut st = self.state.lock();
                if err.is_none() {
                    st.write_off = off + batch.len() as u64;
                    if !batch.is_empty() {
                        st.durable_index = last - 1;
                    }
                    spare = batch;
                    spare.clear();
                } else {
                    // Put the batch back in front of what arrived meanwhile; retry next time.
                    let mut merged = batch;
                    if merged.extend_from_slice(&st.pending, GFP_NOFS).is_ok() {
                        st.pending = merged;
                        st.pending_first = first;
                    } else {
                        // Cannot keep both: these records are lost, and counted.
                        for _ in 0..count_frames(&merged) {
                            self.record_lost();
                        }
                    }
                }
            }
            if err.is_none() {
                err = self.purge_and_write_header(&mut slot, stopping).err();
            }
            let mut st = self.state.lock();
            st.flush_error = err;
            st.sync_done = served;
            self.flushed.notify_all();
            drop(st);
            if stopping {
                return;
            }
        }
    }

    /// Purges records no user needs, renews the index reservation, and rewrites the header if
    /// needed. Called by the flusher only (it alone moves the purge point, the reservation and
    /// the header slot), without the lock held. On the `last` flush, everything appended is
    /// durable, so the reservation shrinks back to the next index.
    fn purge_and_write_header(&self, slot: &mut [u8; SLOT_LEN], last: bool) -> Result {
        let (keep_from, first, from_off, end) = {
            let st = self.state.lock();
            // Everything up to `durable_index` is on disk: that bounds the purge.
            let keep_from = match st.header.min_endrec() {
                Some(m) => m.saturating_add(1),
                None => st.durable_index + 1,
            }
            .min(st.durable_index + 1);
            (
                keep_from,
                st.header.first_index,
                st.header.first_offset,
                st.write_off,
            )
        };
        // The purge is best effort: the reservation below must be renewed whatever happens
        // to it, or appenders would stop at the end of the reservation.
        if keep_from > first {
            match self.find_offset(from_off, end, keep_from) {
                Ok(off) => {
                    let mut st = self.state.lock();
                    st.header.first_index = keep_from;
                    st.header.first_offset = off;
                    st.header_dirty = true;
                }
                Err(e) => pr_warn!(
                    "{}: purge up to index {} skipped: {:?}\n",
                    crate::BStr(self.name.to_bytes()),
                    keep_from,
                    e
                ),
            }
        }
        let (target, punch_to) = {
            let mut st = self.state.lock();
            let reserve = if last {
                st.next_index
            } else if st.reserved.saturating_sub(st.next_index) < RESERVE_AHEAD / 2 {
                // Checked at attach and kept by `append_inner`: `next_index` is at most the
                // reservation, which was `RESERVE_AHEAD` below `u64::MAX` or more; saturate
                // rather than trust that.
                st.next_index.saturating_add(RESERVE_AHEAD).max(st.reserved)
            } else {
                st.reserved
            };
            if reserve != st.reserved {
                st.header_dirty = true;
            }
            if !st.header_dirty {
                return Ok(());
            }
            st.header.next_index = reserve;
            st.header.generation += 1;
            st.header.encode(slot);
            st.header_dirty = false;
            (
                1 - st.header_slot,
                st.header.first_offset & !(PUNCH_ALIGN - 1),
            )
        };
        let res = self
            .file
            .write_all_at(&slot[..], (target * SLOT_LEN) as u64)
            .and_then(|()| self.file.sync(true));
        if res.is_ok() && punch_to > DATA_START {
            // Space reclaim is best effort: a filesystem without hole punching keeps it.
            match self.file.punch_hole(DATA_START, punch_to - DATA_START) {
                Ok(()) | Err(EOPNOTSUPP) => {}
                Err(e) => pr_warn!(
                    "{}: cannot reclaim purged space: {:?}\n",
                    crate::BStr(self.name.to_bytes()),
                    e
                ),
            }
        }
        let mut st = self.state.lock();
        match res {
            Ok(()) => {
                st.header_slot = target;
                st.reserved = st.header.next_index;
            }
            Err(_) => st.header_dirty = true,
        }
        res
    }

    /// Finds the file offset of the first frame whose index is at least `want`, walking the
    /// frames from offset `from` up to `end` (the end of the written frames); `end` if none.
    fn find_offset(&self, from: u64, end: u64, want: u64) -> Result<u64> {
        let mut buf = KVVec::from_elem(0u8, SCAN_CHUNK, GFP_KERNEL)?;
        let mut off = from;
        while off < end {
            let n = self.file.read_full_at(&mut buf, off)?;
            let n = n.min(usize::try_from(end - off).unwrap_or(usize::MAX));
            let mut pos = 0;
            loop {
                match parse_frame(&buf[pos..n]) {
                    Ok(fr) if fr.index >= want => return Ok(off + pos as u64),
                    Ok(fr) => pos += fr.len,
                    Err(FrameError::Short) if pos > 0 => break,
                    // Punched by a concurrent purge, or damaged: the caller looks again.
                    Err(_) => return Err(EUCLEAN),
                }
            }
            off += pos as u64;
        }
        Ok(end)
    }

    /// Copies whole durable records from index `from` on into `out`, packed; returns the bytes
    /// used and the index after the last one copied. Records already purged are skipped.
    ///
    /// This is the read entry point of the in-kernel interface. Where reads ended is kept
    /// (a few positions), so a reader going forward does not scan the catalog from its start.
    pub(crate) fn read_records(&self, from: u64, out: &mut [u8]) -> Result<(usize, u64)> {
        // A purge may punch the blocks we are about to read: then the frames there are gone,
        // and a second look from the new purge point finds the records.
        let mut tries = 0;
        loop {
            match self.try_read_records(from, out) {
                Err(EUCLEAN) if tries < 3 => tries += 1,
                r => return r,
            }
        }
    }

    fn try_read_records(&self, from: u64, out: &mut [u8]) -> Result<(usize, u64)> {
        let (hint, end, durable, from) = {
            let st = self.state.lock();
            let first = st.header.first_index;
            let from = from.max(first);
            let hint = st
                .hints
                .iter()
                .filter(|h| h.0 >= first && h.0 <= from && h.1 >= st.header.first_offset)
                .max_by_key(|h| h.0)
                .copied()
                .unwrap_or((first, st.header.first_offset));
            (hint, st.write_off, st.durable_index, from)
        };
        if from > durable {
            return Ok((0, from));
        }
        // A reader going forward starts where its last read ended: no scan.
        let start = if hint.0 == from {
            hint.1
        } else {
            self.find_offset(hint.1, end, from)?
        };
        let avail = usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX);
        if avail == 0 {
            return Ok((0, from));
        }
        // The frames are read straight into `out` and unpacked there, unless `out` is too
        // small for the largest frame (then a frame's worth more is read on the side).
        let limit = out.len();
        let mut side = KVVec::new();
        let frames: &mut [u8] = if out.len() >= FRAME_MAX {
            let n = out.len().min(avail);
            &mut out[..n]
        } else {
            side = KVVec::from_elem(
                0u8,
                out.len().saturating_add(FRAME_MAX).min(avail),
                GFP_KERNEL,
            )?;
            &mut side[..]
        };
        let n = self.file.read_full_at(frames, start)?;
        let frames = &mut frames[..n];
        if !matches!(parse_frame(frames), Ok(_) | Err(FrameError::Short)) {
            // Punched under us by a purge: look again from the new purge point.
            return Err(EUCLEAN);
        }
        let u = unpack_frames(frames, limit, durable);
        if !side.is_empty() {
            out[..u.used].copy_from_slice(&side[..u.used]);
        }
        let Some(next) = u.next else {
            return Ok((0, from));
        };
        let mut st = self.state.lock();
        let slot = st.hint_next;
        st.hints[slot] = (next, start + u.consumed as u64);
        st.hint_next = (slot + 1) % HINTS;
        Ok((u.used, next))
    }
}

/// Frames in a buffer of sealed frames.
fn count_frames(mut b: &[u8]) -> u64 {
    let mut n = 0;
    while b.len() >= FRAME_HDR {
        let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let fl = frame_len(len);
        if fl > b.len() {
            break;
        }
        b = &b[fl..];
        n += 1;
    }
    n
}

/// Reads the header and scans the records of a catalog; drops a torn or corrupt tail.
/// Returns the state to continue from and the append offset.
/// Also returns the index of the last record on disk (the purge point's predecessor if none).
fn recover(file: &KFile, name: &CStr, path: &CStr) -> Result<(KBox<Header>, usize, u64, u64)> {
    let size = file.size();
    let mut slots = KVVec::from_elem(0u8, 2 * SLOT_LEN, GFP_KERNEL)?;
    if size == 0 {
        let mut h = KBox::new(Header::EMPTY, GFP_KERNEL)?;
        if !h.init(name.to_bytes()) {
            return Err(EINVAL);
        }
        let mut slot = KBox::new([0u8; SLOT_LEN], GFP_KERNEL)?;
        h.encode(&mut slot);
        file.write_all_at(&slot[..], 0)?;
        file.sync(false)?;
        pr_info!("{}: new changelog catalog {}\n", name, path);
        return Ok((h, 0, DATA_START, 0));
    }
    let got = file.read_full_at(&mut slots, 0)?;
    let (s0, s1) = slots.split_at(SLOT_LEN);
    let mut header = KBox::new(Header::EMPTY, GFP_KERNEL)?;
    let slot = header
        .pick_into(&s0[..got.min(SLOT_LEN)], s1)
        .map_err(|e| {
            pr_err!("{}: {}: {}\n", name, path, e.as_str());
            EINVAL
        })?;
    if header.target() != name.to_bytes() {
        pr_err!(
            "{}: {} is the catalog of {}, not of this target\n",
            name,
            path,
            crate::BStr(header.target())
        );
        return Err(EINVAL);
    }
    // Scan the frames from the purge point.
    let mut buf = KVVec::from_elem(0u8, SCAN_CHUNK, GFP_KERNEL)?;
    let mut off = header.first_offset;
    let mut expect = header.first_index;
    let mut last = None;
    let mut stop = None;
    loop {
        let n = file.read_full_at(&mut buf, off)?;
        if n == 0 {
            break;
        }
        let s = scan(&buf[..n], Some(expect));
        off += s.good_len as u64;
        if let Some(l) = s.last_index {
            last = Some(l);
            expect = l.saturating_add(1);
        }
        match s.stop {
            None => {}
            Some(FrameError::Short) if s.good_len > 0 && n == buf.len() => continue,
            Some(e) => {
                stop = Some(e);
                break;
            }
        }
        if n < buf.len() {
            break;
        }
    }
    if off < size {
        pr_warn!(
            "{}: {}: dropping {} bytes after offset {} ({}); records continue after {}\n",
            name,
            path,
            size - off,
            off,
            stop.map_or("trailing bytes", |e| e.as_str()),
            last.unwrap_or(header.first_index.saturating_sub(1))
        );
        file.truncate(off)?;
        file.sync(false)?;
    }
    if let Some(l) = last {
        header.next_index = header.next_index.max(l.saturating_add(1));
    }
    let last = last.unwrap_or(header.first_index.saturating_sub(1));
    pr_info!(
        "{}: catalog {}: records {}..{}, next index {}, {} user(s)\n",
        name,
        path,
        header.first_index,
        last,
        header.next_index,
        header.users.iter().flatten().count()
    );
    Ok((header, slot, off, last))
}
