// SPDX-License-Identifier: GPL-2.0

//! The I/O path of a loop device, on `kernel::block::mq`.
//!
//! - [`Disk`] owns the `GenDisk`, its tag set and the [`Queue`] (the queue data): a
//!   `WQ_MEM_RECLAIM` workqueue, the workers and the device's [`Io`] state, which changes only
//!   while the queue is frozen ([`DiskRef::reconfigure`]).
//! - Every request's [`Cmd`] (the request data) holds what serving it needs: a `kiocb`, a
//!   vector array, a link for the worker's list. blk-mq preallocates it with the request, so
//!   nothing on the way allocates.
//! - `queue_rq` first tries to start a direct read or write in the submitter
//!   ([`LloopDev::submit_nowait`]), where that task can wait for block I/O it issues itself
//!   (a plug flush, not `submit_bio`; see [`may_submit_here`]), with `IOCB_NOWAIT`; anything
//!   else, or an attempt the file refuses, goes to a worker, which runs
//!   [`LloopDev::handle`] with no-I/O allocation context.
//! - [`read_write`] turns a read or write into one `read_iter`/`write_iter` call on the
//!   [`BackingFile`] over the request's own pages, asynchronous with `IOCB_DIRECT`, buffered
//!   and synchronous otherwise. Direct writes leave the file's times to
//!   [`BackingFile::update_times`], so that a write does not start a filesystem transaction
//!   of its own.
//!
//! A request the driver holds is an [`Rq`]: it is ended ([`Rq::end`]), handed to a worker or
//! to a transfer (parked: the `ARef` is given up and taken back from the [`Cmd`]), or fails
//! with `EIO` when dropped.

use core::{cell::UnsafeCell, fmt, mem::ManuallyDrop, ops::Deref, pin::Pin, ptr::NonNull};
use kernel::{
    bindings,
    block::mq::{
        gen_disk::{Features, GenDisk, GenDiskBuilder, GenDiskRef, QueueLimits},
        Command, Operations, QueueUsage, Request, Status, TagSet, TagSetFlags,
    },
    ffi,
    fs::File,
    memalloc::{LocalThrottleScope, NoIoScope, ReserveScope},
    new_mutex,
    owned_wq::{flags as wq_flags, OwnedQueue, Placement},
    prelude::*,
    static_lock_class,
    str::CStr,
    sync::{
        aref::ARef,
        atomic::{Acquire, Atomic, Full, Relaxed, Release},
        Arc, Mutex,
    },
    types::Opaque,
};

use crate::{
    device::{Io, LloopDev},
    file::{zeroed_c, BackingFile},
};

/// Bio vectors a request spanning several bios may have for one asynchronous call; more are
/// transferred bio by bio, synchronously. It is also the queue's segment limit, so that merged
/// requests of one-page bios (swap writes) fit: 256, twice the block layer's default
/// (`BLK_MAX_SEGMENTS`), so that a 1 MiB transfer from scattered 4 KiB pages stays one request,
/// which a file on NFS then moves in one 1 MiB RPC rather than two of 512 KiB.
const INLINE_VECS: usize = 256;

/// Most workers of a disk ([`Workers::PerQueue`]).
const MAX_WORKERS: usize = 16;

/// Queue limits of a loop device, as the device sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Smallest unit the device addresses, a power of two from 512 to `PAGE_SIZE`.
    pub(crate) logical_block_size: u32,
    /// Smallest unit the device writes without read-modify-write.
    pub(crate) physical_block_size: u32,
    /// Preferred minimum I/O size.
    pub(crate) io_min: u32,
    /// Mask the address and length of every data segment must be aligned to.
    pub(crate) dma_alignment: u32,
    /// Largest request, in 512-byte sectors.
    pub(crate) max_hw_sectors: u32,
    /// Largest discard and write-zeroes request in sectors; 0 if neither is supported.
    pub(crate) max_discard_sectors: u32,
    /// Granularity of discards in bytes.
    pub(crate) discard_granularity: u32,
    /// The device has a volatile cache: flushes are sent.
    pub(crate) write_cache: bool,
    /// Writes may carry FUA (force unit access).
    pub(crate) fua: bool,
}

impl Limits {
    /// Limits of a device with `block_size` blocks and no cache, discard or FUA.
    pub(crate) const fn new(block_size: u32) -> Self {
        Self {
            logical_block_size: block_size,
            physical_block_size: block_size,
            io_min: block_size,
            dma_alignment: 511,
            max_hw_sectors: 2048,
            max_discard_sectors: 0,
            discard_granularity: 0,
            write_cache: false,
            fua: false,
        }
    }

    fn load(lim: &QueueLimits) -> Self {
        Self {
            logical_block_size: lim.logical_block_size,
            physical_block_size: lim.physical_block_size,
            io_min: lim.io_min,
            dma_alignment: lim.dma_alignment,
            max_hw_sectors: lim.max_hw_sectors,
            max_discard_sectors: lim.max_hw_discard_sectors,
            discard_granularity: lim.discard_granularity,
            write_cache: lim.features.contains(Features::WRITE_CACHE),
            fua: lim.features.contains(Features::FUA),
        }
    }

    fn store(&self, lim: &mut QueueLimits) {
        lim.logical_block_size = self.logical_block_size;
        lim.physical_block_size = self.physical_block_size;
        lim.io_min = self.io_min;
        lim.dma_alignment = self.dma_alignment;
        lim.max_hw_sectors = self.max_hw_sectors;
        lim.max_segments = INLINE_VECS as u16;
        lim.max_hw_discard_sectors = self.max_discard_sectors;
        lim.max_write_zeroes_sectors = self.max_discard_sectors;
        lim.discard_granularity = if self.max_discard_sectors != 0 {
            self.discard_granularity
        } else {
            0
        };
        let mut f = lim.features;
        f = if self.write_cache {
            let wc = f | Features::WRITE_CACHE;
            if self.fua {
                wc | Features::FUA
            } else {
                wc.without(Features::FUA)
            }
        } else {
            f.without(Features::WRITE_CACHE).without(Features::FUA)
        };
        lim.features = f;
    }

    fn queue_limits(&self) -> QueueLimits {
        let mut lim = QueueLimits::default();
        self.store(&mut lim);
        lim
    }
}

/// Which worker a request that does not start in `queue_rq` goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Workers {
    /// One work item per disk, on an unbound queue, serves every hardware queue.
    PerDisk,
    /// One work item per hardware queue (at most [`MAX_WORKERS`]; beyond that, queues share),
    /// so that requests from several CPUs are started by several workers at once.
    PerQueue,
}

/// Where a request is ended once its file I/O is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Completion {
    /// In the context that finished it: the file's completion (`ki_complete`, possibly in
    /// interrupt context), the submitter or the worker.
    Direct,
    /// Through the block layer's completion (`blk_mq_complete_request_remote()`), as the
    /// kernel's loop driver does: `complete` runs in the block softirq of the submitting CPU
    /// (after an IPI, when the two share no cache), or at once in the finishing context.
    BlockLayer,
}

/// How a disk serves its requests: the tag set's shape and where requests start and end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Queues {
    /// Hardware queues (at least one).
    pub(crate) count: u32,
    /// Requests per hardware queue (1..=1024).
    pub(crate) depth: u32,
    /// Who starts the requests that go to a worker.
    pub(crate) workers: Workers,
    /// Where a request is ended.
    pub(crate) completion: Completion,
    /// Whether direct reads and writes may start in the submitter (module parameter
    /// `inline_submit`); if not, every request goes to a worker.
    pub(crate) inline: bool,
}

/// How a disk's requests were started, since it was created ([`DiskRef::submit_counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SubmitCounts {
    /// Started by `queue_rq` in the submitting task ([`LloopDev::submit_nowait`]).
    pub(crate) inline: u64,
    /// Handed to a worker by `queue_rq` without a try: the task may not wait for block I/O
    /// of its own there (see [`may_submit_here`]), or inline submission is off.
    pub(crate) worker: u64,
    /// Tried by `queue_rq` and handed back at once (not a direct read or write, or the file
    /// would have had to wait), then to a worker.
    pub(crate) declined: u64,
    /// Started by `queue_rq`, then handed to a worker by the transfer's completion (the file
    /// would have had to wait part of the way).
    pub(crate) requeued: u64,
}

const COUNT_INLINE: usize = 0;
const COUNT_WORKER: usize = 1;
const COUNT_DECLINED: usize = 2;
const COUNT_REQUEUED: usize = 3;
const NR_COUNTS: usize = 4;

/// The data of every request of a loop device, preallocated with the request by blk-mq.
///
/// `rq` holds the request while it is parked (see [`Rq::park`]): on a worker's list, linked
/// through `next`, or in a transfer, whose completion finds the `Cmd` from its `iocb`.
///
/// An asynchronous transfer has two references, in `refs`: the submitter's, until its
/// `read_iter`/`write_iter` call returns (the filesystem may still use the kiocb after queueing
/// the I/O: ext4 updates the file's access time through it), and the completion's. Whoever
/// drops the last finishes the transfer with the result kept in `res` ([`transfer_put`]).
///
/// `nowait` is set while a transfer started by [`read_write_nowait`] is in flight: if it does
/// not complete in full, its completion hands the request to a worker instead of ending it.
#[pin_data]
pub(crate) struct Cmd {
    next: Atomic<*mut Cmd>,
    rq: Atomic<*mut Request<LloopDev>>,
    iocb: Opaque<bindings::kiocb>,
    vecs: [Opaque<bindings::bio_vec>; INLINE_VECS],
    /// The result kept for [`Completion::BlockLayer`]: 0, or a negative errno.
    status: Atomic<i32>,
    write_started: Atomic<i32>,
    nowait: Atomic<i32>,
    /// Non-zero if completing the request frees memory (see [`read_write`]).
    reclaim: Atomic<i32>,
    /// References to an asynchronous transfer (see above).
    refs: Atomic<i32>,
    /// The result of the transfer: bytes done, or a negative errno.
    res: Atomic<i64>,
}

// SAFETY: The kiocb and the vectors are only used by whoever holds the request (the `Rq`, or
// the transfer it was parked for), one at a time; the rest is atomic.
unsafe impl Sync for Cmd {}
// SAFETY: Nothing in a `Cmd` is tied to a task.
unsafe impl Send for Cmd {}

impl Cmd {
    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            next: Atomic::new(core::ptr::null_mut()),
            rq: Atomic::new(core::ptr::null_mut()),
            iocb: Opaque::zeroed(),
            vecs <- pin_init::init_zeroed(),
            status: Atomic::new(0),
            write_started: Atomic::new(0),
            nowait: Atomic::new(0),
            reclaim: Atomic::new(0),
            refs: Atomic::new(0),
            res: Atomic::new(0),
        }? Error)
    }

    /// Undoes what preparing the kiocb took: the write accounting and the file reference.
    /// `fput` and `kiocb_end_write` may be called from interrupt context.
    ///
    /// # Safety
    ///
    /// No transfer may use the kiocb any more.
    unsafe fn release_iocb(&self) {
        // SAFETY: By the caller, the kiocb is ours; `write_started` says `kiocb_start_write`
        // (or its non-blocking form) succeeded on it, and whoever set `ki_filp` took a file
        // reference for it.
        unsafe {
            if self.write_started.load(Relaxed) != 0 {
                self.write_started.store(0, Relaxed);
                bindings::rustre_kiocb_end_write(self.iocb.get());
            }
            let f = (*self.iocb.get()).ki_filp;
            if !f.is_null() {
                (*self.iocb.get()).ki_filp = core::ptr::null_mut();
                bindings::fput(f);
            }
        }
    }
}

/// A started request of a loop device, held by the driver.
///
/// It is ended by [`Rq::end`], handed to a worker or a transfer ([`Rq::park`]), or fails with
/// `EIO` when dropped.
pub(crate) struct Rq(ManuallyDrop<ARef<Request<LloopDev>>>);

/// A parked request: its `ARef` was given up into its [`Cmd`], to be taken back once by
/// [`Parked::unpark`].
///
/// # Invariants
///
/// `cmd` is the data of a started request of a loop device whose `ARef` is stored, given up,
/// in `cmd.rq`.
#[derive(Clone, Copy)]
struct Parked {
    cmd: NonNull<Cmd>,
}

impl Rq {
    fn new(rq: ARef<Request<LloopDev>>) -> Self {
        Self(ManuallyDrop::new(rq))
    }

    fn into_aref(self) -> ARef<Request<LloopDev>> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is not dropped, so its `ARef` is taken out exactly once.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }

    /// Ends the request with the status of `res` (`errno_to_blk_status()`).
    pub(crate) fn end(self, res: Result) {
        end_request(self.into_aref(), res);
    }

    fn cmd(&self) -> &Cmd {
        self.data_ref().get_ref()
    }

    /// Gives the request up into its [`Cmd`], for a worker or a transfer to take back.
    fn park(self) -> Parked {
        let cmd = NonNull::from(self.cmd());
        let rq = ARef::into_raw(self.into_aref());
        // SAFETY: `cmd` is the data of the request, valid while it is in flight, which it is
        // until the `ARef` given up here is taken back and ended.
        unsafe { cmd.as_ref() }.rq.store(rq.as_ptr(), Relaxed);
        // INVARIANT: The `ARef` of the request of `cmd` is stored in `cmd.rq`.
        Parked { cmd }
    }
}

impl Deref for Rq {
    type Target = Request<LloopDev>;

    fn deref(&self) -> &Request<LloopDev> {
        &self.0
    }
}

impl Drop for Rq {
    fn drop(&mut self) {
        // SAFETY: `self` is being dropped: its `ARef` is taken out once, here.
        let rq = unsafe { ManuallyDrop::take(&mut self.0) };
        end_request(rq, Err(EIO));
    }
}

impl Parked {
    /// # Safety
    ///
    /// `cmd` must be the data of a request parked by [`Rq::park`] and not taken back since.
    unsafe fn from_cmd(cmd: &Cmd) -> Self {
        // INVARIANT: By the safety requirements of this function.
        Self {
            cmd: NonNull::from(cmd),
        }
    }

    /// The request's data.
    ///
    /// # Safety
    ///
    /// The request must not have been taken back yet ([`Parked::unpark`]).
    unsafe fn cmd<'a>(self) -> &'a Cmd {
        // SAFETY: By the type invariant and the caller, the request is in flight, so its data
        // is valid.
        unsafe { self.cmd.as_ref() }
    }

    /// Takes the request back.
    ///
    /// # Safety
    ///
    /// Only once per [`Rq::park`]: the caller is whoever the request was handed to.
    unsafe fn unpark(self) -> Rq {
        // SAFETY: By the caller the request was not taken back yet.
        let p = unsafe { self.cmd() }.rq.load(Relaxed);
        // SAFETY: By the type invariant `p` is the `ARef` given up by `Rq::park`, taken back
        // once (by the caller).
        Rq::new(unsafe { ARef::from_raw(NonNull::new_unchecked(p)) })
    }
}

/// Ends `rq` with the status of `res`, directly or through the block layer's completion.
fn end_request(rq: ARef<Request<LloopDev>>, res: Result) {
    // SAFETY: The request is held, so no transfer uses its kiocb any more.
    unsafe { rq.data_ref().release_iocb() };
    if rq.queue_data().completion == Completion::BlockLayer {
        let errno = res.err().map_or(0, |e| e.to_errno());
        rq.data_ref().status.store(errno, Relaxed);
        Request::complete(rq);
        return;
    }
    if Request::end(rq, Status::from_result(res)).is_err() {
        // Unreachable: an `Rq` is the only holder of its request's `ARef` (none is ever
        // cloned), so ending it cannot find the request shared.
        pr_err!("a request was still referenced when it ended\n");
    }
}

/// The result of a transfer that wanted `want` bytes and returned `res` (bytes done, or a
/// negative errno). A short transfer is an I/O error.
pub(crate) fn transfer_result(res: i64, want: u64) -> Result {
    if res < 0 {
        let errno = i32::try_from(res.max(-4095)).unwrap_or(-4095);
        Err(Error::from_errno(errno))
    } else if res.unsigned_abs() != want {
        Err(EIO)
    } else {
        Ok(())
    }
}

/// Whether any of the request's data lies in slab or large-kmalloc memory (a filesystem's
/// metadata buffers, for instance), whose pages cannot be referenced.
fn has_slab_pages(rq: &Request<LloopDev>) -> bool {
    rq.segments().any(|s| s.has_slab_pages())
}

/// Reads or writes the request's data from or to `file` at byte `pos`.
///
/// With `direct`, one asynchronous `IOCB_DIRECT` call moves the data straight between the
/// request's pages and the file; the request ends from the file's completion (in interrupt
/// context, possibly). Otherwise the call is synchronous, through the page cache, as it is for
/// a request with slab or large-kmalloc memory on a file whose direct I/O references the pages
/// (NFS). A request spanning more than [`INLINE_VECS`] vectors over several bios is moved bio
/// by bio, synchronously. FUA writes are `IOCB_DSYNC`. Any other operation, or a write to a
/// file not open for writing, fails with `EIO`.
///
/// Direct writes go through the file's private second open, which leaves the file's times
/// alone (they are brought up to date by [`BackingFile::update_times`]). One that frees memory
/// (`REQ_SWAP`, or submitted by a task in reclaim) has access to the memory reserves
/// (`PF_MEMALLOC`).
pub(crate) fn read_write(rq: Rq, file: &BackingFile, pos: u64, direct: bool) {
    let write = match rq.command() {
        Command::Read => false,
        Command::Write if file.writable() => true,
        _ => return rq.end(Err(EIO)),
    };
    let direct = if direct && file.dio_refs_pages() && has_slab_pages(&rq) {
        file.count_kmalloc_buffered();
        false
    } else {
        direct
    };
    // A direct write that frees memory (swap-out, or a write reclaim waits for) may use the
    // memory reserves for the few allocations the filesystem makes on its way (its per-call
    // state; bios come from mempools), rather than wait for the memory it is about to free:
    // that wait is how the kernel loop driver stalls under a swap load. Every direct write
    // goes through the file's private second open, which does not update the file's times, so
    // no journal transaction starts there: those allocate with `__GFP_NOFAIL`, which the
    // reserves must not serve, and cost a write its share of a journal update. Buffered
    // writes would take page cache from the reserves: not for them.
    let reclaim = write && direct && rq.cmd().reclaim.load(Relaxed) != 0;
    let f = match file.quiet_file() {
        Some(quiet) if write && direct => {
            file.mark_times_stale();
            quiet
        }
        _ => file.file(),
    };
    let _reserves = if reclaim {
        Some(ReserveScope::enter())
    } else {
        None
    };
    // SAFETY: The request is held, not parked: no transfer uses its vectors.
    let Some(iter) = (unsafe { rq.iov_iter(&rq.cmd().vecs) }) else {
        return per_bio(rq, f, pos, write, direct);
    };
    let mut iter = iter.into_raw();
    let flags = if rq.is_fua() { bindings::IOCB_DSYNC } else { 0 };
    let flags = flags | if direct { bindings::IOCB_DIRECT } else { 0 };
    let done: Option<unsafe extern "C" fn(*mut bindings::kiocb, ffi::c_long)> =
        if direct { Some(kiocb_done) } else { None };
    let iocb = prepare_iocb(&rq, f, pos, flags, done, write);
    rq.cmd().refs.store(2, Relaxed);
    let parked = rq.park();
    // SAFETY: `iocb` is a kiocb on an open file that has the method (checked by
    // `BackingFile::from_fd`), `iter` covers the request's pages. The request is parked for
    // the transfer, of which we hold one reference and `kiocb_done` the other.
    let ret = unsafe { file_rw(f, iocb, &mut iter, write) };
    // SAFETY: We hold a reference to the transfer, given up here (and the completion's too,
    // if the call completed synchronously: then `ki_complete` is not called).
    unsafe { transfer_returned(parked, ret) };
}

/// Gives up the submitter's reference to a transfer whose `read_iter`/`write_iter` call
/// returned `ret`; if the call completed synchronously, also the completion's.
///
/// # Safety
///
/// `parked` must be parked for the transfer, and the caller hold the submitter's reference.
unsafe fn transfer_returned(parked: Parked, ret: isize) {
    if ret != -(bindings::EIOCBQUEUED as isize) {
        // SAFETY: We hold a reference, so the request is still parked.
        let cmd = unsafe { parked.cmd() };
        cmd.res.store(ret as i64, Relaxed);
        cmd.refs.fetch_sub(1, Relaxed);
    }
    // SAFETY: By the caller.
    unsafe { transfer_put(parked) };
}

/// Drops a reference to the transfer `parked` is parked for; the last one finishes it: a
/// short non-blocking transfer goes to a worker, anything else ends with its result.
///
/// # Safety
///
/// `parked` must be parked for the transfer, and the caller hold one of its references.
unsafe fn transfer_put(parked: Parked) {
    // SAFETY: We hold a reference, so the request is still parked.
    if unsafe { parked.cmd() }.refs.fetch_sub(1, Full) != 1 {
        return;
    }
    // SAFETY: Ours was the last reference: the request is taken back once, here.
    let rq = unsafe { parked.unpark() };
    let cmd = rq.cmd();
    let res = cmd.res.load(Relaxed);
    let want = u64::from(rq.bytes());
    if cmd.nowait.xchg(0, Relaxed) != 0 && (res < 0 || res.unsigned_abs() != want) {
        // A non-blocking transfer fell short or failed (the file would have had to wait part
        // of the way): the worker does it again.
        // SAFETY: The transfer is over.
        unsafe { cmd.release_iocb() };
        // Once pushed, the request may be served and ended by a worker before `push` queues
        // the work: the usage reference keeps the queue, and its removal, waiting until then.
        let usage = rq.queue_usage();
        let q = usage.queue_data();
        q.count(COUNT_REQUEUED);
        q.push(rq);
        return;
    }
    transfer_done(rq, res, want);
}

/// Starts the transfer of [`read_write`] with direct I/O, asynchronously and without blocking
/// (`IOCB_NOWAIT`), for [`LloopDev::submit_nowait`].
///
/// Returns the request, untouched, if that cannot be done: not a read or a permitted write, a
/// write that frees memory (it goes to the worker, see [`read_write`]), a FUA write (its data
/// sync may wait for a flush or a journal commit), a file without direct or non-blocking I/O
/// (`FMODE_NOWAIT`), a request that must go through the page cache (see [`read_write`]), a
/// frozen filesystem, a request needing more than one call, or a file that would have to wait.
/// If the file takes the transfer but does not complete all of it, the completion hands the
/// request to the worker, whose [`LloopDev::handle`] does it again, blocking.
pub(crate) fn read_write_nowait(rq: Rq, file: &BackingFile, pos: u64) -> Option<Rq> {
    let cmd = rq.cmd();
    let (write, f) = match (rq.command(), file.quiet_file()) {
        (Command::Read, _) => (false, file.file()),
        (Command::Write, Some(quiet)) if cmd.reclaim.load(Relaxed) == 0 && !rq.is_fua() => {
            (true, quiet)
        }
        _ => return Some(rq),
    };
    if !file.can_direct() || !file.can_nowait() || (file.dio_refs_pages() && has_slab_pages(&rq)) {
        return Some(rq);
    }
    // SAFETY: The request is held, not parked: no transfer uses its vectors.
    let Some(iter) = (unsafe { rq.iov_iter(&cmd.vecs) }) else {
        return Some(rq);
    };
    let mut iter = iter.into_raw();
    let flags = bindings::IOCB_DIRECT | bindings::IOCB_NOWAIT;
    let iocb = prepare_iocb(&rq, f, pos, flags, Some(kiocb_done), false);
    if write {
        // SAFETY: `iocb` was just prepared on an open file, with no transfer yet.
        if !unsafe { kiocb_start_write_nowait(iocb) } {
            // SAFETY: No transfer uses the kiocb.
            unsafe { cmd.release_iocb() };
            return Some(rq);
        }
        cmd.write_started.store(1, Relaxed);
        file.mark_times_stale();
    }
    cmd.nowait.store(1, Relaxed);
    cmd.refs.store(2, Relaxed);
    let want = rq.bytes();
    let parked = rq.park();
    // SAFETY: As in `read_write`; the last reference sees `nowait` and hands a short transfer
    // to the worker.
    let ret = unsafe { file_rw(f, iocb, &mut iter, write) };
    if ret == -(bindings::EIOCBQUEUED as isize) || ret == want as isize {
        // SAFETY: We hold the submitter's reference, given up here (with the completion's if
        // the transfer completed in full synchronously).
        unsafe { transfer_returned(parked, ret) };
        return None;
    }
    // Refused or short, synchronously: `ki_complete` is not called, and nothing uses the
    // kiocb any more.
    // SAFETY: The call returned without queueing a completion: the request is still parked,
    // for us alone.
    let rq = unsafe { parked.unpark() };
    let cmd = rq.cmd();
    cmd.nowait.store(0, Relaxed);
    cmd.refs.store(0, Relaxed);
    // SAFETY: No transfer uses the kiocb.
    unsafe { cmd.release_iocb() };
    Some(rq)
}

/// Transfers the request bio by bio, synchronously, each over its own vector array.
fn per_bio(rq: Rq, file: &File, mut pos: u64, write: bool, direct: bool) {
    let dsync = if rq.is_fua() { bindings::IOCB_DSYNC } else { 0 };
    let flags = dsync | if direct { bindings::IOCB_DIRECT } else { 0 };
    let iocb = prepare_iocb(&rq, file, pos, flags, None, write);
    let mut res: i64 = 0;
    for bio in rq.bios() {
        let Some(mut iter) = bio.iov_iter() else {
            res = i64::from(EIO.to_errno());
            break;
        };
        let want = bio.bytes();
        // SAFETY: The kiocb is prepared and no transfer uses it; each call is synchronous
        // (no `ki_complete`) over one bio's vectors of the held request.
        let ret = unsafe {
            (*iocb).ki_pos = pos as bindings::loff_t;
            file_rw(file, iocb, &mut *iter.as_raw(), write) as i64
        };
        if ret != i64::from(want) {
            res = if ret < 0 {
                ret
            } else {
                i64::from(EIO.to_errno())
            };
            break;
        }
        res = res.saturating_add(ret);
        pos = pos.saturating_add(u64::from(want));
    }
    let want = u64::from(rq.bytes());
    transfer_done(rq, res, want);
}

/// Fills the request's kiocb for a transfer at `pos`, holding its own file reference; for a
/// write, also takes the filesystem's freeze protection (`kiocb_start_write`). Both are given
/// up by [`Cmd::release_iocb`], when the request ends.
fn prepare_iocb(
    rq: &Rq,
    file: &File,
    pos: u64,
    flags: u32,
    done: Option<unsafe extern "C" fn(*mut bindings::kiocb, ffi::c_long)>,
    write: bool,
) -> *mut bindings::kiocb {
    let cmd = rq.cmd();
    let iocb = cmd.iocb.get();
    // SAFETY: The kiocb is part of this request's data, which no I/O uses yet. It holds its own
    // reference to the file, dropped when the request ends, so the I/O cannot outlive the file
    // whatever the device does with its `BackingFile`.
    unsafe {
        iocb.write(bindings::kiocb {
            ki_filp: bindings::get_file(file.as_ptr()),
            ki_pos: pos as bindings::loff_t,
            ki_complete: done,
            ki_flags: flags as i32,
            ..zeroed_c()
        });
        if write {
            bindings::rustre_kiocb_start_write(iocb);
            cmd.write_started.store(1, Relaxed);
        }
    }
    iocb
}

/// `kiocb_start_write()` without waiting for a frozen filesystem: takes the freeze protection
/// of the kiocb's filesystem for the write it starts, or returns `false` if that would wait.
///
/// As `kiocb_start_write()`, the protection is handed to the I/O (lockdep forgets it here):
/// `kiocb_end_write()` takes it back when the write ends, in whatever context.
///
/// # Safety
///
/// `iocb` must be a prepared kiocb on an open file, with no transfer yet.
unsafe fn kiocb_start_write_nowait(iocb: *mut bindings::kiocb) -> bool {
    // SAFETY: By the caller, `ki_filp` is an open file, so its inode and the inode's
    // superblock are valid.
    let sb = unsafe { (*(*(*iocb).ki_filp).f_inode).i_sb };
    // SAFETY: `sb` is a live superblock (above).
    if !unsafe { bindings::rustre_sb_start_write_trylock(sb) } {
        return false;
    }
    // SAFETY: This task holds the protection just taken; it now belongs to the I/O.
    unsafe { bindings::rustre_sb_writers_release(sb, bindings::SB_FREEZE_WRITE as ffi::c_int) };
    true
}

/// Calls the file's `read_iter` or `write_iter`.
///
/// # Safety
///
/// `iocb` must be a prepared kiocb on `file`, and `iter` valid for the transfer.
unsafe fn file_rw(
    file: &File,
    iocb: *mut bindings::kiocb,
    iter: &mut bindings::iov_iter,
    write: bool,
) -> isize {
    // SAFETY: The file is open, so its operations are valid; `BackingFile::from_fd` checked
    // the methods a readable (and, if open for writing, writable) file needs.
    let fop = unsafe { &*(*file.as_ptr()).f_op };
    let f = if write { fop.write_iter } else { fop.read_iter };
    match f {
        // SAFETY: By the caller.
        Some(f) => unsafe { f(iocb, iter) },
        None => EINVAL.to_errno() as isize,
    }
}

/// Ends `rq` with the result of its file transfer, which wanted `want` bytes.
fn transfer_done(rq: Rq, res: i64, want: u64) {
    rq.end(transfer_result(res, want));
}

/// `ki_complete` of asynchronous transfers; may run in interrupt context.
///
/// # Safety
///
/// `iocb` must be the `iocb` of a [`Cmd`] whose request was parked for the transfer that has
/// just ended, started by [`read_write`] or [`read_write_nowait`].
unsafe extern "C" fn kiocb_done(iocb: *mut bindings::kiocb, res: ffi::c_long) {
    // SAFETY: Every asynchronous kiocb we issue is the `iocb` field of a `Cmd`, parked for the
    // transfer, whose completion reference this call holds.
    unsafe {
        let cmd = &*kernel::container_of!(Opaque::cast_from(iocb).cast_mut(), Cmd, iocb);
        cmd.res.store(res as i64, Relaxed);
        transfer_put(Parked::from_cmd(cmd));
    }
}

/// The queue data of a loop device: its workers and the state its requests use.
///
/// # Invariants
///
/// `io` is only written by [`DiskRef::reconfigure`], holding `conf` with the queue frozen, so
/// never while a request is being served; it is read by requests in flight, and under `conf`.
#[pin_data]
pub(crate) struct Queue {
    // First, so that it is destroyed (and drained) before the state the work items use.
    wq: OwnedQueue,
    dev: Arc<LloopDev>,
    io: UnsafeCell<Io>,
    #[pin]
    conf: Mutex<()>,
    /// The workers: one per disk, or one per hardware queue ([`Workers`]); only the first
    /// `nworkers` are used.
    #[pin]
    workers: [Worker; MAX_WORKERS],
    /// How many of `workers` are in use.
    // INVARIANT: 1..=MAX_WORKERS, set once by `Disk::new`.
    nworkers: u32,
    completion: Completion,
    inline: bool,
    /// How requests were started, indexed by the `COUNT_*` constants ([`SubmitCounts`]).
    counts: [Atomic<u64>; NR_COUNTS],
}

// SAFETY: `io` is only mutated with exclusive access guaranteed by the freeze and `conf`; the
// rest is thread-safe.
unsafe impl Sync for Queue {}
// SAFETY: Nothing in `Queue` is tied to a task.
unsafe impl Send for Queue {}

/// A work item of a disk and the started requests waiting for it.
///
/// # Invariants
///
/// `index` is this worker's index in its `Queue`'s `workers`.
struct Worker {
    /// Newest first: a lock-free stack, `queue_rq` pushes and the work takes the whole stack
    /// at once, so that one wake-up serves a batch.
    pending: Atomic<*mut Cmd>,
    work: Opaque<bindings::work_struct>,
    index: usize,
}

impl Queue {
    /// Parks `rq` on the worker of its hardware queue and makes sure that worker runs.
    /// Callable from any context, interrupts included.
    fn push(&self, rq: Rq) {
        // `nworkers` is 1..=MAX_WORKERS: the remainder keeps the index in bounds either way.
        let i = rq.hw_queue_index().checked_rem(self.nworkers).unwrap_or(0) as usize;
        let Some(w) = self.workers.get(i) else {
            return rq.end(Err(EIO));
        };
        let parked = rq.park();
        let this = parked.cmd.as_ptr();
        // SAFETY: Parked just above: the request is in flight until the worker takes it back.
        let cmd = unsafe { parked.cmd() };
        let mut head = w.pending.load(Relaxed);
        loop {
            cmd.next.store(head, Relaxed);
            match w.pending.cmpxchg(head, this, Release) {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
        // SAFETY: The workqueue and the work item live as long as `self`. Queueing is a no-op
        // if the work is already pending; if it is running, it runs again.
        unsafe {
            bindings::queue_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as i32,
                self.wq.as_raw(),
                w.work.get(),
            )
        };
    }

    /// Initialises the work items.
    ///
    /// # Safety
    ///
    /// `self` must be pinned, and its work items zeroed and not queued yet.
    unsafe fn init_works(&self) {
        for w in &self.workers {
            // SAFETY: By the caller, `w.work` is pinned memory for a work item, initialised
            // here once; the name and lock class are static.
            unsafe {
                bindings::init_work_with_key(
                    w.work.get(),
                    Some(disk_work),
                    false,
                    c"lloop".as_char_ptr(),
                    static_lock_class!().as_ptr(),
                )
            };
        }
    }

    fn count(&self, what: usize) {
        if let Some(c) = self.counts.get(what) {
            c.add(1, Relaxed);
        }
    }

    /// The I/O state of the queue `usage` holds in use, for as long as it is held.
    fn io(usage: &QueueUsage<LloopDev>) -> &Io {
        let q = usage.queue_data().get_ref();
        // SAFETY: By the invariant `io` is only written with the queue frozen, which waits for
        // `usage` to be dropped; the reference does not outlive it.
        unsafe { &*q.io.get() }
    }
}

/// A worker: serves the requests pending on its list until there are none.
///
/// # Safety
///
/// `work` must be the `work` of a [`Worker`] of a live `Queue`.
unsafe extern "C" fn disk_work(work: *mut bindings::work_struct) {
    // SAFETY: The work item is the `work` of a `Worker` in the `workers` of a pinned `Queue`,
    // which outlives every run of it (its workqueue is destroyed first when the `Queue` is
    // dropped); by the invariant of `Worker`, `workers[0]` is `index` items before.
    let (q, w) = unsafe {
        let w = kernel::container_of!(Opaque::cast_from(work).cast_mut(), Worker, work);
        let first = w.sub((*w).index).cast::<[Worker; MAX_WORKERS]>();
        (&*kernel::container_of!(first, Queue, workers), &*w)
    };
    let _noio = NoIoScope::enter();
    let _throttle = LocalThrottleScope::enter();
    loop {
        let mut list = w.pending.xchg(core::ptr::null_mut(), Acquire);
        if list.is_null() {
            break;
        }
        // The stack is newest first: reverse it to serve requests in the order they came.
        let mut fifo: *mut Cmd = core::ptr::null_mut();
        while !list.is_null() {
            // SAFETY: Pushed requests stay parked, so their data stays valid, until served.
            let next = unsafe { (*list).next.load(Relaxed) };
            // SAFETY: As above.
            unsafe { (*list).next.store(fifo, Relaxed) };
            fifo = list;
            list = next;
        }
        while !fifo.is_null() {
            // SAFETY: As above; `next` is read before the request is taken back (and may end).
            let (cmd, next) = unsafe { (&*fifo, (*fifo).next.load(Relaxed)) };
            // SAFETY: The request of `cmd` was parked by `Queue::push` for this worker, which
            // takes it back once, here.
            let rq = unsafe { Parked::from_cmd(cmd).unpark() };
            // No reconfiguration while the I/O state is borrowed, even once `rq` has ended.
            let usage = rq.queue_usage();
            q.dev.handle(Queue::io(&usage), rq);
            drop(usage);
            // SAFETY: A worker may sleep.
            unsafe { bindings::rustre_cond_resched() };
            fifo = next;
        }
    }
}

/// What [`may_submit_here`] looks at in the running task.
#[derive(Clone, Copy)]
struct TaskState {
    /// `current->flags`.
    flags: u32,
    /// Inside a filesystem transaction (`current->journal_info`).
    in_transaction: bool,
    /// Inside `submit_bio` (`current->bio_list`): bios the task submits now are only queued,
    /// to be issued once the outermost submission returns.
    in_submit_bio: bool,
    /// The task has a plug (`current->plug`).
    plugged: bool,
}

impl TaskState {
    /// The state of the running task.
    fn current() -> Self {
        // SAFETY: `current` is the running task, valid while it runs; these fields are its own
        // and only it changes them. `flags` comes before `task_struct.stats`; the fields after
        // it are read by C helpers, as bindgen misplaces them without `CONFIG_SCHEDSTATS` (an
        // empty, cache-line aligned `struct sched_statistics` gets an alignment of 1 in the
        // bindings).
        unsafe {
            Self {
                flags: (*bindings::get_current()).flags,
                in_transaction: bindings::rustre_current_in_transaction(),
                in_submit_bio: bindings::rustre_current_in_submit_bio(),
                plugged: bindings::rustre_current_has_plug(),
            }
        }
    }
}

/// Whether `queue_rq` may try [`LloopDev::submit_nowait`] in a task in state `t`.
///
/// `IOCB_NOWAIT` does not keep a filesystem from waiting for its own metadata I/O (ext4 reads
/// an uncached extent-tree block and waits for it), so the submitter must be able to wait for
/// block I/O it issues itself:
///
/// - flushing its plug (`blk_finish_plug`), which is where batched submitters (`io_submit` of
///   several requests, readahead, a filesystem's journal) reach the driver: bios the file
///   submits join the plug, and a sleep flushes them;
/// - not inside `submit_bio` (`queue_rq` called by direct issue, or by a plug flush that a
///   full plug started from `submit_bio`): a bio submitted there is only queued on
///   `current->bio_list`, and waiting for it deadlocks the task (the kernel's loop driver never
///   touches its file from `queue_rq` for this reason). Synchronous queue runs without a plug
///   (a queue freeze) stay on the worker too;
/// - not in a workqueue worker (a hardware-queue run from `kblockd`): blocking there holds up
///   the dispatch of other devices, which the file's own I/O may need;
/// - not in memory reclaim (swap-out and writeback under pressure stay on the worker), nor in
///   a no-I/O or no-FS scope;
/// - not inside a filesystem transaction (`journal_info`), which the backing filesystem would
///   take for one of its own.
fn may_submit_here(t: TaskState) -> bool {
    let scopes = bindings::PF_MEMALLOC
        | bindings::PF_MEMALLOC_NOIO
        | bindings::PF_MEMALLOC_NOFS
        | bindings::PF_WQ_WORKER;
    t.flags & scopes == 0 && t.plugged && !t.in_transaction && !t.in_submit_bio
}

#[vtable]
impl Operations for LloopDev {
    type QueueData = Pin<KBox<Queue>>;
    type RequestData = Cmd;

    fn new_request_data() -> impl PinInit<Cmd, Error> {
        Cmd::new()
    }

    /// Starts a request, in the submitter or on a worker. The tag set is `BLK_MQ_F_BLOCKING`
    /// when inline submission is on: this then runs in task context and may sleep.
    fn queue_rq(q: Pin<&Queue>, rq: ARef<Request<Self>>, _is_last: bool) -> Result {
        let cmd = rq.data_ref();
        cmd.status.store(0, Relaxed);
        cmd.write_started.store(0, Relaxed);
        cmd.nowait.store(0, Relaxed);
        // Swap-out, or I/O a task in reclaim (kswapd, a direct reclaimer) waits for. The
        // running task's own `flags`, which bindgen places right (see `TaskState`).
        // SAFETY: `current` is valid while it runs; only it changes its flags.
        let flags = unsafe { (*bindings::get_current()).flags };
        let reclaim = rq.is_swap() || flags & bindings::PF_MEMALLOC != 0;
        cmd.reclaim.store(i32::from(reclaim), Relaxed);
        let mut rq = Rq::new(rq);
        let mut count = COUNT_WORKER;
        if q.inline && may_submit_here(TaskState::current()) {
            // Allocations must not recurse into I/O.
            let noio = NoIoScope::enter();
            // No reconfiguration while the I/O state is borrowed, even once `rq` has ended.
            let usage = rq.queue_usage();
            let back = q.dev.submit_nowait(Queue::io(&usage), rq);
            drop(usage);
            drop(noio);
            match back {
                None => {
                    q.count(COUNT_INLINE);
                    return Ok(());
                }
                Some(r) => {
                    rq = r;
                    count = COUNT_DECLINED;
                }
            }
        }
        q.count(count);
        // No `QueueUsage` is needed for this push, unlike the completion's: `q` outlives the
        // call, as the `hctx` that blk-mq touches after `queue_rq` returns does (the submitter
        // holds the disk open, and `del_gendisk()` cancels hardware-queue runs synchronously).
        q.push(rq);
        Ok(())
    }

    fn commit_rqs(_q: Pin<&Queue>) {}

    /// Ends a request passed to the block layer's completion by [`end_request`], with the
    /// status kept in its data; runs in the finishing context or in the block softirq.
    fn complete(rq: ARef<Request<Self>>) {
        let errno = rq.data_ref().status.load(Relaxed);
        let res = if errno == 0 {
            Ok(())
        } else {
            Err(Error::from_errno(errno))
        };
        if Request::end(rq, Status::from_result(res)).is_err() {
            // Unreachable, as in `end_request`.
            pr_err!("a request was still referenced when it completed\n");
        }
    }

    fn open(disk: &GenDiskRef<Self>, write: bool) -> Result {
        let d = DiskRef::new(disk);
        d.dev().open(&d, write)
    }

    fn release(disk: &GenDiskRef<Self>) {
        let d = DiskRef::new(disk);
        d.dev().release(&d);
    }

    fn ioctl(disk: &GenDiskRef<Self>, write: bool, cmd: u32, arg: usize) -> Result<i32> {
        let d = DiskRef::new(disk);
        d.dev().ioctl(&d, write, cmd, arg)
    }

    const DISK_ATTR_GROUP: &'static CStr = c"lloop";
    const DISK_ATTRS: &'static [&'static CStr] = LloopDev::ATTRS;

    fn show_disk_attr(disk: &GenDiskRef<Self>, index: usize, out: &mut [u8]) -> Result<usize> {
        let d = DiskRef::new(disk);
        d.dev().show_attr(&d, index, out)
    }
}

/// A loop device's disk. Dropping it removes the disk (`del_gendisk()`, which waits for
/// requests in flight) and frees the tag set; the [`Queue`] goes when the last reference to
/// the disk does, which an opener still holding the device delays.
pub(crate) struct Disk {
    gd: GenDisk<LloopDev>,
}

impl Disk {
    /// Creates and adds a disk called `name` for `dev`, with `io` as its initial I/O state,
    /// its requests served as `queues` says, and `limits`.
    pub(crate) fn new(
        name: fmt::Arguments<'_>,
        dev: Arc<LloopDev>,
        io: Io,
        queues: &Queues,
        limits: &Limits,
    ) -> Result<Self> {
        // Unbound: the worker runs on whichever CPU is free, in parallel with the submitter
        // (with a per-CPU queue it would wait for the submitting task to sleep first).
        let wq = OwnedQueue::new(c"lloop", Placement::Unbound, wq_flags::MEM_RECLAIM, 0)?;
        let nworkers = match queues.workers {
            Workers::PerDisk => 1,
            Workers::PerQueue => queues.count.clamp(1, MAX_WORKERS as u32),
        };
        let q = KBox::pin_init(
            try_pin_init!(Queue {
                wq,
                dev,
                io: UnsafeCell::new(io),
                conf <- new_mutex!(()),
                // INVARIANT: Worker `index` is at `workers[index]`.
                workers: core::array::from_fn(|index| Worker {
                    pending: Atomic::new(core::ptr::null_mut()),
                    work: Opaque::zeroed(),
                    index,
                }),
                nworkers,
                completion: queues.completion,
                inline: queues.inline,
                counts: [const { Atomic::new(0) }; NR_COUNTS],
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `q` is pinned and its disk not added yet, so no work is queued.
        unsafe { q.init_works() };
        // As the loop driver: requests depend on other devices (CPU hotplug must not wait for
        // them), and no I/O scheduler unless one is chosen. `submit_nowait` runs in
        // `queue_rq`, which may then sleep.
        let mut flags = TagSetFlags::STACKING | TagSetFlags::NO_SCHED_BY_DEFAULT;
        if queues.inline {
            flags = flags | TagSetFlags::BLOCKING;
        }
        let set = Arc::pin_init(
            TagSet::new_with_flags(queues.count.max(1), queues.depth.clamp(1, 1024), 1, flags),
            GFP_KERNEL,
        )?;
        let gd = GenDiskBuilder::new()
            .logical_block_size(limits.logical_block_size)?
            .physical_block_size(limits.physical_block_size)?
            .queue_limits(limits.queue_limits())
            .no_partitions()
            .build(name, set, q)?;
        Ok(Self { gd })
    }

    /// The disk, to configure or query it.
    pub(crate) fn get(&self) -> DiskRef<'_> {
        DiskRef::new(&self.gd)
    }
}

/// A live loop device disk, as its callbacks and its owner see it.
pub(crate) struct DiskRef<'a> {
    gd: &'a GenDiskRef<LloopDev>,
    q: Pin<&'a Queue>,
}

impl<'a> DiskRef<'a> {
    fn new(gd: &'a GenDiskRef<LloopDev>) -> Self {
        Self {
            gd,
            q: gd.queue_data(),
        }
    }

    /// The device.
    pub(crate) fn dev(&self) -> &'a Arc<LloopDev> {
        &self.q.get_ref().dev
    }

    /// The disk's name (`lloop0`).
    pub(crate) fn name(&self) -> &CStr {
        self.gd.name()
    }

    /// How many openers the disk has.
    pub(crate) fn openers(&self) -> u32 {
        self.gd.openers()
    }

    /// Sets the size in sectors and tells user space (a change uevent) if it changed.
    pub(crate) fn set_capacity(&self, sectors: u64) {
        self.gd.set_capacity_sectors(sectors);
    }

    /// Writes the disk's dirty page cache and drops its cached pages: before its backing file
    /// or geometry changes, so that no stale or misplaced data is read or written back. A
    /// writeback error is logged; the change goes ahead, as with the loop driver.
    pub(crate) fn sync_and_invalidate(&self) {
        if let Err(e) = self.gd.sync_and_invalidate() {
            pr_warn!(
                "{}: writeback before the change failed: {:?}\n",
                self.name(),
                e
            );
        }
    }

    /// Makes the disk read-only or writable.
    pub(crate) fn set_read_only(&self, ro: bool) {
        self.gd.set_read_only(ro);
    }

    /// How the disk's requests were started since it was created.
    pub(crate) fn submit_counts(&self) -> SubmitCounts {
        let c = |i: usize| self.q.counts.get(i).map_or(0, |c| c.load(Relaxed));
        SubmitCounts {
            inline: c(COUNT_INLINE),
            worker: c(COUNT_WORKER),
            declined: c(COUNT_DECLINED),
            requeued: c(COUNT_REQUEUED),
        }
    }

    /// Reads the I/O state, serialised against [`DiskRef::reconfigure`].
    pub(crate) fn with_io<R>(&self, f: impl FnOnce(&Io) -> R) -> R {
        let _g = self.q.conf.lock();
        // SAFETY: `io` is only written under `conf`, which we hold.
        f(unsafe { &*self.q.io.get() })
    }

    /// Changes the I/O state and the queue limits with no request in flight.
    ///
    /// Takes the configuration lock, then changes the limits with the queue frozen
    /// (`GenDiskRef::update_limits_frozen`): `f` runs on the state and the current limits with
    /// no request in flight, allocating without I/O. If the block layer refuses the new
    /// limits, the old ones stay and `EINVAL` is returned with `f`'s changes to the state
    /// kept: callers check the limits they set beforehand, and undo the state if they must.
    pub(crate) fn reconfigure<R>(&self, f: impl FnOnce(&mut Io, &mut Limits) -> R) -> Result<R> {
        let _g = self.q.conf.lock();
        self.gd.update_limits_frozen(|lim| {
            let mut limits = Limits::load(lim);
            // SAFETY: The queue is frozen, so no request reads `io`, and `conf` excludes every
            // other reader and writer: this is the only reference.
            let r = f(unsafe { &mut *self.q.io.get() }, &mut limits);
            limits.store(lim);
            r
        })
    }
}

#[kunit_tests(rustre_lloop_io)]
mod tests {
    use super::*;

    /// Transfer results to block statuses: short transfers are I/O errors, errnos map as the
    /// block layer maps them.
    #[test]
    fn transfer_statuses() {
        let st = |res, want| Status::from_result(transfer_result(res, want));
        assert_eq!(st(4096, 4096), Status::OK);
        assert_eq!(st(512, 4096), Status::IOERR);
        assert_eq!(st(8192, 4096), Status::IOERR);
        assert_eq!(st(-28, 4096), Status::NOSPC);
        assert_eq!(st(-95, 4096), Status::NOTSUPP);
        assert_eq!(st(-5, 4096), Status::IOERR);
        assert_eq!(st(-512, 512), Status::IOERR);
        assert_eq!(st(i64::MIN, 4096), Status::IOERR);
    }

    /// Limits survive the trip through the block layer's structure.
    #[test]
    fn limits_round_trip() {
        let mut l = Limits::new(4096);
        l.max_discard_sectors = 8;
        l.discard_granularity = 4096;
        l.write_cache = true;
        l.fua = true;
        assert_eq!(Limits::load(&l.queue_limits()), l);
        let plain = Limits::new(512);
        assert_eq!(Limits::load(&plain.queue_limits()), plain);
    }
}
