// SPDX-License-Identifier: GPL-2.0

//! Block devices whose requests become I/O on a file.
//!
//! The 7.3 `kernel::block::mq` abstractions complete requests but cannot carry data: a request
//! has no operation, position or length, no bio vectors, no error completion and no
//! per-request storage, and its disk has no `owner`, so an open disk does not pin its module.
//! This module is a separate blk-mq front end for drivers such as a loop device:
//!
//! - [`Disk`] owns a `gendisk`, its tag set, a `WQ_MEM_RECLAIM` workqueue and the driver's
//!   [`Driver::Io`] state, which changes only while the queue is frozen ([`DiskRef::reconfigure`]).
//!   Its `block_device_operations` name the driver's module as `owner`.
//! - Every request is handed to [`Driver::handle`] as a [`Request`], in a worker running with
//!   no-I/O allocation context. The per-request state (work item, `kiocb`, a small `bio_vec`
//!   array) lives in the request's preallocated data: nothing on the way allocates.
//! - A driver may first try [`Driver::submit_nowait`] in the submitter's context, when that
//!   task can wait for block I/O it issues itself (a plug flush, not `submit_bio`; see
//!   [`may_submit_here`]): a direct read or write that the file starts
//!   ([`Request::read_write_nowait`], with `IOCB_NOWAIT`) skips the worker; anything else,
//!   or an attempt the file refuses, goes on to the worker.
//! - [`Request::read_write`] turns a read or write into one `read_iter`/`write_iter` call on a
//!   [`BackingFile`] over the request's own pages (a bvec `iov_iter`), asynchronous with
//!   `IOCB_DIRECT` or buffered and synchronous otherwise. Direct writes leave the file's
//!   times to [`BackingFile::update_times`], so that a write does not start a filesystem
//!   transaction of its own.
//!
//! C headers: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h),
//! [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h),
//! [`include/linux/fs.h`](srctree/include/linux/fs.h)

pub mod segs;

use crate::{
    bindings,
    error::{from_err_ptr, to_result},
    fs::{File, LocalFile},
    memalloc::{LocalThrottleScope, NoIoScope, ReserveScope},
    new_mutex,
    owned_wq::{flags as wq_flags, OwnedQueue, Placement},
    prelude::*,
    static_lock_class,
    str::{CStr, NullTerminatedFormatter},
    sync::{
        aref::ARef,
        atomic::{Acquire, Atomic, Full, Relaxed, Release},
        Arc, Mutex,
    },
    types::Opaque,
};
use core::{cell::UnsafeCell, fmt, marker::PhantomData, pin::Pin, ptr::NonNull};
use segs::{BioPos, BioWalk};

/// Bio vectors a request spanning several bios may have for one asynchronous call; more are
/// transferred bio by bio, synchronously. It is also the queue's segment limit, so that merged
/// requests of one-page bios (swap writes) fit: 256, twice the block layer's default
/// (`BLK_MAX_SEGMENTS`), so that a 1 MiB transfer from scattered 4 KiB pages stays one request,
/// which a file on NFS then moves in one 1 MiB RPC rather than two of 512 KiB.
pub const INLINE_VECS: usize = 256;

/// A block status (`blk_status_t`) a request ends with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(bindings::blk_status_t);

impl Status {
    /// Success.
    pub const OK: Self = Self(bindings::BLK_STS_OK as bindings::blk_status_t);
    /// I/O error (`EIO`).
    pub const IOERR: Self = Self(bindings::BLK_STS_IOERR);
    /// Out of space (`ENOSPC`).
    pub const NOSPC: Self = Self(bindings::BLK_STS_NOSPC);
    /// Operation not supported (`EOPNOTSUPP`).
    pub const NOTSUPP: Self = Self(bindings::BLK_STS_NOTSUPP);

    /// The status the block layer uses for `err`.
    pub fn from_error(err: Error) -> Self {
        // SAFETY: `errno_to_blk_status` only looks `errno` up in a table.
        Self(unsafe { bindings::errno_to_blk_status(err.to_errno()) })
    }

    /// The status of a transfer that wanted `want` bytes and returned `res` (bytes done, or a
    /// negative errno). A short transfer is an I/O error.
    pub fn of_transfer(res: i64, want: u64) -> Self {
        if res < 0 {
            // SAFETY: `errno_to_blk_status` only looks the value up in a table.
            Self(unsafe { bindings::errno_to_blk_status(res.max(-4095) as i32) })
        } else if res as u64 != want {
            Self::IOERR
        } else {
            Self::OK
        }
    }
}

/// The operation of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read data.
    Read,
    /// Write data.
    Write,
    /// Make earlier writes durable.
    Flush,
    /// The range is no longer needed.
    Discard,
    /// Zero the range.
    WriteZeroes,
    /// Anything else (zoned or driver-private operations).
    Other,
}

/// Queue limits a [`Disk`] advertises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Smallest unit the device addresses, a power of two from 512 to `PAGE_SIZE`.
    pub logical_block_size: u32,
    /// Smallest unit the device writes without read-modify-write.
    pub physical_block_size: u32,
    /// Preferred minimum I/O size.
    pub io_min: u32,
    /// Mask the address and length of every data segment must be aligned to.
    pub dma_alignment: u32,
    /// Largest request, in 512-byte sectors.
    pub max_hw_sectors: u32,
    /// Largest discard and write-zeroes request in sectors; 0 if neither is supported.
    pub max_discard_sectors: u32,
    /// Granularity of discards in bytes.
    pub discard_granularity: u32,
    /// The device has a volatile cache: flushes are sent.
    pub write_cache: bool,
    /// Writes may carry FUA (force unit access).
    pub fua: bool,
    /// The device is rotational.
    pub rotational: bool,
}

impl Limits {
    /// Limits of a device with `block_size` blocks and no cache, discard or FUA.
    pub const fn new(block_size: u32) -> Self {
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
            rotational: false,
        }
    }

    fn load(lim: &bindings::queue_limits) -> Self {
        Self {
            logical_block_size: lim.logical_block_size,
            physical_block_size: lim.physical_block_size,
            io_min: lim.io_min,
            dma_alignment: lim.dma_alignment,
            max_hw_sectors: lim.max_hw_sectors,
            max_discard_sectors: lim.max_hw_discard_sectors,
            discard_granularity: lim.discard_granularity,
            write_cache: lim.features & bindings::BLK_FEAT_WRITE_CACHE != 0,
            fua: lim.features & bindings::BLK_FEAT_FUA != 0,
            rotational: lim.features & bindings::BLK_FEAT_ROTATIONAL != 0,
        }
    }

    fn store(&self, lim: &mut bindings::queue_limits) {
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
        let mut f = lim.features
            & !(bindings::BLK_FEAT_WRITE_CACHE
                | bindings::BLK_FEAT_FUA
                | bindings::BLK_FEAT_ROTATIONAL);
        if self.write_cache {
            f |= bindings::BLK_FEAT_WRITE_CACHE;
            if self.fua {
                f |= bindings::BLK_FEAT_FUA;
            }
        }
        if self.rotational {
            f |= bindings::BLK_FEAT_ROTATIONAL;
        }
        lim.features = f;
    }
}

/// A block driver whose disks are [`Disk`]s.
#[vtable]
pub trait Driver: Send + Sync + Sized + 'static {
    /// State the I/O path reads (the backing file, say). It is only changed through
    /// [`DiskRef::reconfigure`], with no request in flight.
    type Io: Send + Sync;

    /// Carries out `rq`, in a worker of the disk's `WQ_MEM_RECLAIM` queue with no-I/O
    /// allocation context (`memalloc_noio_save()`): `GFP_KERNEL` allocations made here cannot
    /// recurse into the block layer. The request ends once this returns and the I/O it
    /// started, if any, completes; a request not ended explicitly fails with `EIO`. With
    /// [`Workers::PerQueue`] it runs for several requests of one disk at once; with
    /// [`Workers::PerDisk`], for one at a time, in the order `queue_rq` received them.
    fn handle(&self, io: &Self::Io, rq: Request<'_>);

    /// Tries to start `rq` in the submitter's context, without blocking; returns the request
    /// if the worker must handle it instead ([`Driver::handle`]).
    ///
    /// Called from `queue_rq` with no-I/O allocation context, only where the submitter may
    /// wait for block I/O it issues itself: a task flushing its plug, not inside
    /// `submit_bio`, not a workqueue worker, not reclaiming memory, not inside a filesystem
    /// transaction or a no-I/O or no-FS scope (see [`may_submit_here`]). Start the transfer
    /// with [`Request::read_write_nowait`], end the request, or give it back; do not wait
    /// for anything else. Without this method every request goes to the worker.
    ///
    /// `IOCB_NOWAIT` is a hint the file may not honour in full: ext4 and XFS still read
    /// uncached extent-map blocks and wait for them, and a transfer that completes before
    /// the call returns converts unwritten extents in a journal transaction of its own. That
    /// sleeps, which the tag set allows (`BLK_MQ_F_BLOCKING`) and the conditions above make
    /// safe: the filesystem's bios go out through the task's plug, which a sleep flushes.
    fn submit_nowait<'a>(&self, _io: &Self::Io, rq: Request<'a>) -> Option<Request<'a>> {
        Some(rq)
    }

    /// Called when the disk is opened, before the open is counted; an error fails the open.
    fn open(&self, _disk: &DiskRef<'_, Self>, _write: bool) -> Result {
        Ok(())
    }

    /// Called when an opener closes the disk, with the open count already decremented.
    fn release(&self, _disk: &DiskRef<'_, Self>) {}

    /// Driver ioctls (the block layer handles its own first). `write` says whether the
    /// caller's descriptor is open for writing.
    fn ioctl(
        &self,
        _disk: &DiskRef<'_, Self>,
        _write: bool,
        _cmd: u32,
        _arg: usize,
    ) -> Result<i32> {
        Err(ENOTTY)
    }

    /// Name of the worker threads of the disks' workqueues.
    const WQ_NAME: &'static CStr;

    /// Name of the sysfs directory under `/sys/block/<disk>/` holding [`Driver::ATTRS`].
    const ATTR_GROUP: &'static CStr = c"";

    /// Read-only sysfs attributes of every disk (at most [`MAX_ATTRS`], checked at build
    /// time), shown by [`Driver::show_attr`].
    const ATTRS: &'static [&'static CStr] = &[];

    /// Writes attribute `ATTRS[index]` into `out` (a page); returns its length.
    fn show_attr(
        &self,
        _disk: &DiskRef<'_, Self>,
        _index: usize,
        _out: &mut [u8],
    ) -> Result<usize> {
        Err(EIO)
    }
}

/// Most sysfs attributes a [`Driver`] may declare.
pub const MAX_ATTRS: usize = 12;

/// Most workers of a disk ([`Workers::PerQueue`]).
pub const MAX_WORKERS: usize = 16;

/// Which worker a request that does not start in `queue_rq` goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workers {
    /// One work item per disk, on an unbound queue, serves every hardware queue.
    PerDisk,
    /// One work item per hardware queue (at most [`MAX_WORKERS`]; beyond that, queues share),
    /// so that requests from several CPUs are started by several workers at once.
    PerQueue,
}

/// Where a request is ended once its file I/O is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// In the context that finished it: the file's completion (`ki_complete`, possibly in
    /// interrupt context), the submitter or the worker.
    Direct,
    /// Through the block layer's completion (`blk_mq_complete_request`), as the kernel's loop
    /// driver does: `complete` runs at once in the finishing context, or in the block softirq
    /// of the submitting CPU (after an IPI, when the two share no cache), or, with a single
    /// hardware queue, in the block softirq of the finishing CPU.
    BlockLayer,
}

/// How a disk serves its requests: the tag set's shape and where requests start and end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queues {
    /// Hardware queues (at least one).
    pub count: u32,
    /// Requests per hardware queue (1..=1024).
    pub depth: u32,
    /// Who starts the requests that go to a worker.
    pub workers: Workers,
    /// Where a request is ended.
    pub completion: Completion,
}

/// How a disk's requests were started, since it was created ([`DiskRef::submit_counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubmitCounts {
    /// Started by `queue_rq` in the submitting task ([`Driver::submit_nowait`]).
    pub inline: u64,
    /// Handed to a worker by `queue_rq` without a try: the task may not wait for block I/O
    /// of its own there (see [`may_submit_here`]), or the driver has no `submit_nowait`.
    pub worker: u64,
    /// Tried by `queue_rq` and handed back at once ([`Driver::submit_nowait`] returned it:
    /// not a direct read or write, or the file would have had to wait), then to a worker.
    pub declined: u64,
    /// Started by `queue_rq`, then handed to a worker by the transfer's completion (the file
    /// would have had to wait part of the way).
    pub requeued: u64,
}

const COUNT_INLINE: usize = 0;
const COUNT_WORKER: usize = 1;
const COUNT_DECLINED: usize = 2;
const COUNT_REQUEUED: usize = 3;
const NR_COUNTS: usize = 4;

/// Per-request data, in the memory blk-mq preallocates after every `struct request`.
///
/// `refs` counts who may still use the request: the worker running [`Driver::handle`], and
/// the file I/O while it runs. The last to drop its reference ends the request with `status`.
/// `next` links requests waiting for the worker (see [`Inner`]).
///
/// `nowait` is set while a transfer started by [`Request::read_write_nowait`] is in flight: if
/// it does not complete in full, its completion hands the request to the worker through
/// `requeue` (set once, by `init_request`) instead of ending it.
#[repr(C)]
struct Pdu {
    next: Atomic<*mut Pdu>,
    iocb: Opaque<bindings::kiocb>,
    vecs: [Opaque<bindings::bio_vec>; INLINE_VECS],
    refs: Atomic<i32>,
    status: Atomic<i32>,
    write_started: Atomic<i32>,
    nowait: Atomic<i32>,
    /// Non-zero if completing the request frees memory (see [`Request::read_write`]).
    reclaim: Atomic<i32>,
    requeue: Option<unsafe fn(*mut bindings::request)>,
    /// End through `blk_mq_complete_request` ([`Completion::BlockLayer`]); set once, by
    /// `init_request`.
    block_complete: bool,
}

impl Pdu {
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

    /// # Safety
    ///
    /// `rq` must be a request of a tag set made by [`Disk::new`].
    unsafe fn of<'a>(rq: *mut bindings::request) -> &'a Pdu {
        // SAFETY: The tag set's `cmd_size` is the size of a `Pdu`, initialised by
        // `init_request` before the request is first used.
        unsafe { &*bindings::blk_mq_rq_to_pdu(rq).cast::<Pdu>() }
    }

    /// Drops a reference; the last one ends the request.
    ///
    /// # Safety
    ///
    /// `rq` must be the started request this is the data of, and the caller must hold a
    /// reference, which it gives up.
    unsafe fn put(&self, rq: *mut bindings::request) {
        if self.refs.fetch_sub(1, Full) != 1 {
            return;
        }
        // SAFETY: Nobody uses the kiocb any more: its transfer's reference is gone.
        unsafe { self.release_iocb() };
        if self.block_complete {
            // SAFETY: The request was started and nobody else holds a reference any more;
            // the block layer calls `complete_rq`, which ends it with `status`.
            unsafe { bindings::blk_mq_complete_request(rq) };
            return;
        }
        let status = self.status.load(Relaxed) as bindings::blk_status_t;
        // SAFETY: The request was started and nobody else holds a reference any more.
        unsafe { bindings::blk_mq_end_request(rq, status) };
    }
}

/// `complete` of the tag set: ends a request passed to `blk_mq_complete_request` by
/// [`Pdu::put`]; runs in the caller's context or in the block softirq (see
/// [`Completion::BlockLayer`]).
///
/// # Safety
///
/// `rq` must be a started request of a tag set made by [`Disk::new`] whose last reference was
/// dropped by [`Pdu::put`].
unsafe extern "C" fn complete_rq(rq: *mut bindings::request) {
    // SAFETY: By the caller, `rq` is one of our requests.
    let pdu = unsafe { Pdu::of(rq) };
    let status = pdu.status.load(Relaxed) as bindings::blk_status_t;
    // SAFETY: The request was started, handed to the block layer's completion by its last
    // reference, and is ended once, here.
    unsafe { bindings::blk_mq_end_request(rq, status) };
}

/// A started request, being handled by [`Driver::handle`].
///
/// It is ended by [`Request::end`], or by the completion of [`Request::read_write`]; dropping
/// it otherwise makes it fail with `EIO` once the handler returns.
///
/// # Invariants
///
/// `rq` is a started request of a [`Disk`] whose handler holds a reference to it (see [`Pdu`])
/// for `'a`.
pub struct Request<'a> {
    rq: NonNull<bindings::request>,
    pdu: &'a Pdu,
}

impl Request<'_> {
    fn raw(&self) -> *mut bindings::request {
        self.rq.as_ptr()
    }

    /// The operation.
    pub fn op(&self) -> Op {
        // SAFETY: The request is valid by the invariants; `cmd_flags` does not change while
        // it is being handled.
        let op = unsafe { (*self.raw()).cmd_flags } & bindings::REQ_OP_MASK;
        match op {
            bindings::req_op_REQ_OP_READ => Op::Read,
            bindings::req_op_REQ_OP_WRITE => Op::Write,
            bindings::req_op_REQ_OP_FLUSH => Op::Flush,
            bindings::req_op_REQ_OP_DISCARD => Op::Discard,
            bindings::req_op_REQ_OP_WRITE_ZEROES => Op::WriteZeroes,
            _ => Op::Other,
        }
    }

    fn has_flag(&self, flag: u32) -> bool {
        // SAFETY: As in `op`.
        let f = unsafe { (*self.raw()).cmd_flags };
        f & flag != 0
    }

    /// Whether the data must be durable when the write completes (`REQ_FUA`).
    pub fn fua(&self) -> bool {
        self.has_flag(bindings::REQ_FUA)
    }

    /// For [`Op::WriteZeroes`]: whether the range must stay allocated (`REQ_NOUNMAP`).
    pub fn no_unmap(&self) -> bool {
        self.has_flag(bindings::REQ_NOUNMAP)
    }

    /// The first sector (512 bytes) of the request.
    pub fn sector(&self) -> u64 {
        // SAFETY: As in `op`.
        unsafe { (*self.raw()).__sector }
    }

    /// The length of the request in bytes.
    pub fn bytes(&self) -> u32 {
        // SAFETY: As in `op`.
        unsafe { (*self.raw()).__data_len }
    }

    /// Ends the request with `status` (once the handler returns).
    pub fn end(self, status: Status) {
        self.pdu.status.store(i32::from(status.0), Relaxed);
    }

    /// Ends the request with the status of `res`.
    pub fn end_result(self, res: Result) {
        self.end(match res {
            Ok(()) => Status::OK,
            Err(e) => Status::from_error(e),
        })
    }

    /// Reads or writes the request's data from or to `file` at byte `pos`.
    ///
    /// With `direct`, one asynchronous `IOCB_DIRECT` call moves the data straight between
    /// the request's pages and the file; the request ends from the file's completion (in
    /// interrupt context, possibly). Otherwise the call is synchronous, through the page
    /// cache, as it is for a request with slab or large-kmalloc memory on a file whose direct
    /// I/O references the pages (NFS). A request spanning more than [`INLINE_VECS`] vectors
    /// over several bios is moved bio by bio, synchronously. FUA writes are `IOCB_DSYNC`.
    /// Any other operation, or a write to a file not open for writing, fails with `EIO`.
    ///
    /// Direct writes go through the file's private second open, which leaves the file's times
    /// alone (they are brought up to date by [`BackingFile::update_times`]). One that frees
    /// memory (`REQ_SWAP`, or submitted by a task in reclaim) has access to the memory
    /// reserves (`PF_MEMALLOC`).
    pub fn read_write(self, file: &BackingFile, pos: u64, direct: bool) {
        let write = match self.op() {
            Op::Read => false,
            Op::Write if file.writable() => true,
            _ => return self.end(Status::IOERR),
        };
        let direct = if direct && file.dio_refs_pages && self.has_kmalloc_pages() {
            file.kmalloc_buffered.fetch_add(1, Relaxed);
            false
        } else {
            direct
        };
        // A direct write that frees memory (swap-out, or a write reclaim waits for) may use
        // the memory reserves for the few allocations the filesystem makes on its way (its
        // per-call state; bios come from mempools), rather than wait for the memory it is
        // about to free: that wait is how the kernel loop driver stalls under a swap load.
        // Every direct write goes through the file's private second open, which does not
        // update the file's times, so no journal transaction starts there: those allocate
        // with `__GFP_NOFAIL`, which the reserves must not serve, and cost a write its share
        // of a journal update. Buffered writes would take page cache from the reserves: not
        // for them.
        let reclaim = write && direct && self.pdu.reclaim.load(Relaxed) != 0;
        let f = match file.quiet_file.as_deref() {
            Some(quiet) if write && direct => {
                file.mark_times_stale();
                quiet
            }
            _ => &*file.file,
        };
        let _reserves = if reclaim {
            Some(ReserveScope::enter())
        } else {
            None
        };
        let rq = self.raw();
        let mut iter = zeroed_c::<bindings::iov_iter>();
        if !self.data_iter(write, &mut iter) {
            return self.per_bio(f, pos, write, direct);
        }
        let flags = if self.fua() { bindings::IOCB_DSYNC } else { 0 };
        let flags = flags | if direct { bindings::IOCB_DIRECT } else { 0 };
        let done: Option<unsafe extern "C" fn(*mut bindings::kiocb, ffi::c_long)> =
            if direct { Some(kiocb_done) } else { None };
        let iocb = self.prepare_iocb(f, pos, flags, done, write);
        self.pdu.refs.fetch_add(1, Relaxed);
        // SAFETY: `iocb` is a kiocb on an open file that has the method (checked by
        // `BackingFile::from_fd`), `iter` covers the request's pages. The request holds the
        // I/O's reference until `kiocb_done` or the synchronous return gives it up.
        let ret = unsafe { file_rw(f, iocb, &mut iter, write) };
        if ret != -(bindings::EIOCBQUEUED as isize) {
            // SAFETY: The call completed synchronously; `rq` is ours and we hold the I/O's
            // reference, given up here.
            unsafe { transfer_done(rq, self.pdu, ret as i64) };
        }
    }

    /// Starts the transfer of [`Request::read_write`] with direct I/O, asynchronously and
    /// without blocking (`IOCB_NOWAIT`), for [`Driver::submit_nowait`].
    ///
    /// Returns the request, untouched, if that cannot be done: not a read or a permitted
    /// write, a write that frees memory (it goes to the worker, see [`Request::read_write`]),
    /// a FUA write (its data sync may wait for a flush or a journal commit), a file without
    /// direct or non-blocking I/O (`FMODE_NOWAIT`), a request that must go through the page
    /// cache (see [`Request::read_write`]), a frozen filesystem, a request needing more than
    /// one call, or a file that would have to wait. If the file takes the transfer but does
    /// not complete all of it, the completion hands the request to the worker, whose
    /// [`Driver::handle`] does it again, blocking.
    pub fn read_write_nowait(self, file: &BackingFile, pos: u64) -> Option<Self> {
        let (write, f) = match (self.op(), file.quiet_file.as_deref()) {
            (Op::Read, _) => (false, &*file.file),
            (Op::Write, Some(quiet)) if self.pdu.reclaim.load(Relaxed) == 0 && !self.fua() => {
                (true, quiet)
            }
            _ => return Some(self),
        };
        if !file.can_direct()
            || !file.can_nowait()
            || (file.dio_refs_pages && self.has_kmalloc_pages())
        {
            return Some(self);
        }
        let mut iter = zeroed_c::<bindings::iov_iter>();
        if !self.data_iter(write, &mut iter) {
            return Some(self);
        }
        let flags = bindings::IOCB_DIRECT | bindings::IOCB_NOWAIT;
        let iocb = self.prepare_iocb(f, pos, flags, Some(kiocb_done), false);
        if write {
            // SAFETY: `iocb` was just prepared on an open file, with no transfer yet.
            if !unsafe { kiocb_start_write_nowait(iocb) } {
                // SAFETY: No transfer uses the kiocb.
                unsafe { self.pdu.release_iocb() };
                return Some(self);
            }
            self.pdu.write_started.store(1, Relaxed);
            file.mark_times_stale();
        }
        self.pdu.nowait.store(1, Relaxed);
        self.pdu.refs.fetch_add(1, Relaxed);
        // SAFETY: As in `read_write`; `kiocb_done` sees `nowait` and hands a short transfer
        // to the worker with the I/O's reference.
        let ret = unsafe { file_rw(f, iocb, &mut iter, write) };
        if ret == -(bindings::EIOCBQUEUED as isize) {
            return None;
        }
        self.pdu.nowait.store(0, Relaxed);
        if ret == self.bytes() as isize {
            // SAFETY: The call completed in full; we hold the I/O's reference, given up here.
            unsafe { transfer_done(self.raw(), self.pdu, ret as i64) };
            return None;
        }
        // Refused or short: nothing uses the kiocb any more. Our caller's reference is still
        // held, so dropping the I/O's cannot end the request.
        // SAFETY: The call returned without queueing a completion.
        unsafe { self.pdu.release_iocb() };
        self.pdu.refs.fetch_sub(1, Relaxed);
        Some(self)
    }

    /// The pieces of the request's data, bio after bio, each as a vector of its own: the
    /// page, the offset from it (beyond a page in a multi-page vector) and the length.
    ///
    /// # Safety
    ///
    /// The request must be started, with its bios valid, while the iterator is used.
    unsafe fn pieces(&self) -> impl Iterator<Item = bindings::bio_vec> + '_ {
        // SAFETY: By the caller the bio chain is valid.
        let mut bio = unsafe { (*self.raw()).bio };
        let mut walk = None;
        core::iter::from_fn(move || loop {
            if let Some((vecs, w)) = walk.as_mut() {
                let vecs: *mut bindings::bio_vec = *vecs;
                if let Some(s) = Iterator::next(w) {
                    let s: segs::Seg = s;
                    // SAFETY: `BioWalk` yields only indices of vectors the bio's iterator
                    // covers, which exist.
                    let v = unsafe { &*vecs.add(s.index) };
                    return Some(bindings::bio_vec {
                        bv_page: v.bv_page,
                        bv_len: s.len,
                        bv_offset: v.bv_offset.saturating_add(s.skip),
                    });
                }
                walk = None;
            }
            if bio.is_null() {
                return None;
            }
            // SAFETY: `bio` is a bio of the request's valid chain (by the caller).
            let (it, vecs, next) = unsafe { ((*bio).bi_iter, (*bio).bi_io_vec, (*bio).bi_next) };
            let pos = BioPos {
                index: it.bi_idx as usize,
                done: it.bi_offset,
                left: it.bi_size,
            };
            // `bi_vcnt` is 0 for cloned bios: as the block layer, trust `bi_size`.
            // SAFETY: As above: the walk reads only vectors the bio's iterator covers.
            let lens = move |i: usize| unsafe { (*vecs.add(i)).bv_len };
            walk = Some((vecs, BioWalk::new(lens, usize::MAX, pos)));
            bio = next;
        })
    }

    /// Whether any of the request's data lies in slab or large-kmalloc memory (a
    /// filesystem's metadata buffers, for instance), whose pages cannot be referenced.
    fn has_kmalloc_pages(&self) -> bool {
        // SAFETY: The request is started and valid; its bios and their vectors stay valid
        // and unchanged until it ends, which needs our reference. The block layer builds a
        // multi-page vector only from pages whose `struct page`s are contiguous
        // (`bvec_try_merge_page`), so `bv_page` plus the index of a page the piece touches
        // is that page, as `bvec_iter_page` computes it; every page belongs to a folio.
        unsafe {
            self.pieces().any(|v| {
                segs::page_span(v.bv_offset, v.bv_len, bindings::PAGE_SIZE).any(|p| {
                    let folio = bindings::rustre_page_folio(v.bv_page.add(p));
                    bindings::rustre_folio_test_slab(folio)
                        || bindings::rustre_folio_test_large_kmalloc(folio)
                })
            })
        }
    }

    /// Points `iter` at the request's data for one call: over the bio's own vector array if
    /// it has one bio, else over the inline array; false if the data does not fit that.
    fn data_iter(&self, write: bool, iter: &mut bindings::iov_iter) -> bool {
        let rq = self.raw();
        let dir = if write {
            bindings::ITER_SOURCE
        } else {
            bindings::ITER_DEST
        };
        // SAFETY: The request is started and valid; its bios and their vectors stay valid
        // and unchanged until it ends, which needs our reference.
        unsafe {
            let bio = (*rq).bio;
            if bio.is_null() {
                false
            } else if bio == (*rq).biotail {
                Self::bio_iter(bio, dir, iter) == Some(self.bytes())
            } else {
                self.inline_iter(dir, iter)
            }
        }
    }

    /// Points `iter` at the data of `bio`, over the bio's own vector array; returns the
    /// bytes covered, or `None` if the vectors do not hold what the bio's iterator says.
    ///
    /// # Safety
    ///
    /// `bio` must be a bio of a started request.
    unsafe fn bio_iter(
        bio: *mut bindings::bio,
        dir: u32,
        iter: &mut bindings::iov_iter,
    ) -> Option<u32> {
        // SAFETY: By the caller, `bio` is valid; the vectors its iterator covers exist.
        unsafe {
            let it = (*bio).bi_iter;
            let vecs = (*bio).bi_io_vec;
            let pos = BioPos {
                index: it.bi_idx as usize,
                done: it.bi_offset,
                left: it.bi_size,
            };
            let (n, whole) = segs::count(|i| (*vecs.add(i)).bv_len, usize::MAX, pos);
            if !whole {
                return None;
            }
            let n = ffi::c_ulong::from(n);
            bindings::iov_iter_bvec(iter, dir, vecs.add(pos.index), n, it.bi_size as usize);
            iter.iov_offset = it.bi_offset as usize;
            Some(it.bi_size)
        }
    }

    /// Copies the pieces of every bio of the request into the inline vector array; false if
    /// they do not fit.
    ///
    /// # Safety
    ///
    /// The request must be started, with its bios valid.
    unsafe fn inline_iter(&self, dir: u32, iter: &mut bindings::iov_iter) -> bool {
        let mut n = 0usize;
        let mut total = 0u64;
        // SAFETY: By the caller the bio chain is valid; we only read it and write our own
        // inline array, which no I/O uses yet.
        unsafe {
            for v in self.pieces() {
                if n == INLINE_VECS {
                    return false;
                }
                self.pdu.vecs[n].get().write(v);
                n += 1;
                total += u64::from(v.bv_len);
            }
            if total != u64::from(self.bytes()) {
                return false;
            }
            bindings::iov_iter_bvec(
                iter,
                dir,
                self.pdu.vecs[0].get(),
                ffi::c_ulong::from(n),
                total as usize,
            );
        }
        true
    }

    /// Transfers the request bio by bio, synchronously, each over its own vector array.
    fn per_bio(self, file: &File, mut pos: u64, write: bool, direct: bool) {
        let rq = self.raw();
        let dsync = if self.fua() { bindings::IOCB_DSYNC } else { 0 };
        let flags = dsync | if direct { bindings::IOCB_DIRECT } else { 0 };
        let iocb = self.prepare_iocb(file, pos, flags, None, write);
        let mut res: i64 = 0;
        // SAFETY: The request is started and its bios valid until it ends; each call is a
        // synchronous kiocb on an open file with the method, over one bio's vectors.
        unsafe {
            let mut bio = (*rq).bio;
            while !bio.is_null() {
                let mut iter = zeroed_c::<bindings::iov_iter>();
                let dir = if write {
                    bindings::ITER_SOURCE
                } else {
                    bindings::ITER_DEST
                };
                let Some(want) = Self::bio_iter(bio, dir, &mut iter) else {
                    res = i64::from(EIO.to_errno());
                    break;
                };
                (*iocb).ki_pos = pos as bindings::loff_t;
                let ret = file_rw(file, iocb, &mut iter, write) as i64;
                if ret != i64::from(want) {
                    res = if ret < 0 {
                        ret
                    } else {
                        i64::from(EIO.to_errno())
                    };
                    break;
                }
                res += ret;
                pos += u64::from(want);
                bio = (*bio).bi_next;
            }
        }
        self.pdu.refs.fetch_add(1, Relaxed);
        // SAFETY: We took the transfer's reference just above and give it up here.
        unsafe { transfer_done(rq, self.pdu, res) };
    }

    /// Fills the request's kiocb for a transfer at `pos`, holding its own file reference;
    /// for a write, also takes the filesystem's freeze protection (`kiocb_start_write`).
    /// Both are given up by `Pdu::release_iocb`.
    fn prepare_iocb(
        &self,
        file: &File,
        pos: u64,
        flags: u32,
        done: Option<unsafe extern "C" fn(*mut bindings::kiocb, ffi::c_long)>,
        write: bool,
    ) -> *mut bindings::kiocb {
        let iocb = self.pdu.iocb.get();
        // SAFETY: The kiocb is part of this request's data, which no I/O uses yet. It holds
        // its own reference to the file, dropped when the request ends (`Pdu::put`), so the
        // I/O cannot outlive the file whatever the driver does with its `BackingFile`.
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
                self.pdu.write_started.store(1, Relaxed);
            }
        }
        iocb
    }
}

/// An all-zero C structure of a type for which that is the initial state (`iov_iter`,
/// `kiocb`, `kstat`): their bindings contain unions that `Zeroable` does not cover.
fn zeroed_c<S: CZeroed>() -> S {
    // SAFETY: By `CZeroed`, all-zero bytes are a valid value of `S`.
    unsafe { core::mem::zeroed() }
}

/// C structures that are valid, and empty, when all-zero.
///
/// # Safety
///
/// All-zero bytes must be a valid value of the type.
unsafe trait CZeroed {}
// SAFETY: Plain C data: integers, pointers, unions of them and optional function pointers.
unsafe impl CZeroed for bindings::iov_iter {}
// SAFETY: As above.
unsafe impl CZeroed for bindings::kiocb {}
// SAFETY: As above.
unsafe impl CZeroed for bindings::kstat {}

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

/// Records the result of the file transfer of `rq` and drops its reference.
///
/// # Safety
///
/// `rq` must be started, `pdu` its data, and the caller must hold the transfer's reference.
unsafe fn transfer_done(rq: *mut bindings::request, pdu: &Pdu, res: i64) {
    // SAFETY: The request is valid while a reference is held.
    let want = u64::from(unsafe { (*rq).__data_len });
    pdu.status
        .store(i32::from(Status::of_transfer(res, want).0), Relaxed);
    // SAFETY: By the caller.
    unsafe { pdu.put(rq) };
}

/// `ki_complete` of asynchronous transfers; may run in interrupt context.
///
/// # Safety
///
/// `iocb` must be the `iocb` of a [`Pdu`] whose transfer, started by [`Request::read_write`]
/// or [`Request::read_write_nowait`] with the transfer's reference, has just ended.
unsafe extern "C" fn kiocb_done(iocb: *mut bindings::kiocb, res: ffi::c_long) {
    // SAFETY: Every asynchronous kiocb we issue is the `iocb` field of a `Pdu`.
    let pdu = unsafe { &*crate::container_of!(Opaque::cast_from(iocb).cast_mut(), Pdu, iocb) };
    // SAFETY: The `Pdu` lies in the request's preallocated data.
    let rq = unsafe { bindings::blk_mq_rq_from_pdu(core::ptr::from_ref(pdu).cast_mut().cast()) };
    if pdu.nowait.load(Relaxed) != 0 {
        pdu.nowait.store(0, Relaxed);
        // SAFETY: The request is valid while the transfer holds its reference.
        let want = unsafe { (*rq).__data_len };
        if let (false, Some(requeue)) = (res == want as ffi::c_long, pdu.requeue) {
            // A non-blocking transfer fell short (the file would have had to wait part of
            // the way): the worker does it again.
            // SAFETY: The transfer is over. Its reference passes to the worker.
            unsafe {
                pdu.release_iocb();
                requeue(rq);
            }
            return;
        }
    }
    // SAFETY: The transfer held a reference, given up here.
    unsafe { transfer_done(rq, pdu, res as i64) };
}

/// The parts of a [`Disk`] the block layer reaches through `private_data` and `queuedata`.
///
/// # Invariants
///
/// `io` is only written by [`DiskRef::reconfigure`], holding `conf` with the queue frozen, so
/// never while a request is being handled; it is read by handlers, and under `conf`.
#[pin_data]
struct Inner<T: Driver> {
    // First, so that it is destroyed (and drained) before the state the work items use.
    wq: OwnedQueue,
    dev: Arc<T>,
    io: UnsafeCell<T::Io>,
    #[pin]
    conf: Mutex<()>,
    /// The workers: one per disk, or one per hardware queue ([`Workers`]); only the first
    /// `nworkers` are used.
    #[pin]
    workers: [Worker; MAX_WORKERS],
    /// How many of `workers` are in use.
    // INVARIANT: 1..=MAX_WORKERS, set once by `Disk::new`.
    nworkers: u32,
    /// Where requests end; copied into every request's data by `init_request`.
    completion: Completion,
    /// How requests were started, indexed by the `COUNT_*` constants ([`SubmitCounts`]).
    counts: [Atomic<u64>; NR_COUNTS],
    #[pin]
    set: Opaque<bindings::blk_mq_tag_set>,
    attrs: [Opaque<bindings::device_attribute>; MAX_ATTRS],
    attr_list: Opaque<[*mut bindings::attribute; MAX_ATTRS + 1]>,
    group: Opaque<bindings::attribute_group>,
    groups: Opaque<[*const bindings::attribute_group; 2]>,
}

/// A work item of a disk and the started requests waiting for it.
///
/// # Invariants
///
/// `index` is this worker's index in its `Inner`'s `workers`.
struct Worker {
    /// Newest first: a lock-free stack, `queue_rq` pushes and the work takes the whole stack
    /// at once, so that one wake-up serves a batch.
    pending: Atomic<*mut Pdu>,
    work: Opaque<bindings::work_struct>,
    index: usize,
}

impl<T: Driver> Inner<T> {
    /// Adds a started request of hardware queue `queue` to its worker's list and makes sure
    /// that worker runs. Callable from any context, interrupts included.
    fn push(&self, queue: u32, pdu: &Pdu) {
        // `nworkers` is 1..=MAX_WORKERS: the second remainder only keeps the index visibly in
        // bounds.
        let i = queue.checked_rem(self.nworkers).unwrap_or(0) as usize % MAX_WORKERS;
        let w = &self.workers[i];
        let this = core::ptr::from_ref(pdu).cast_mut();
        let mut head = w.pending.load(Relaxed);
        loop {
            pdu.next.store(head, Relaxed);
            match w.pending.cmpxchg(head, this, Release) {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
        // SAFETY: The workqueue and the work item live as long as `self`. Queueing is a
        // no-op if the work is already pending; if it is running, it runs again.
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
                    Some(disk_work::<T>),
                    false,
                    c"fileblk".as_char_ptr(),
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

    /// Fills the sysfs attribute group of [`Driver::ATTRS`]; returns the `groups` array for
    /// `device_add_disk`, or null if there are none.
    ///
    /// # Safety
    ///
    /// `self` must be pinned and the attributes not registered yet.
    unsafe fn init_attrs(&self) -> *mut *const bindings::attribute_group {
        crate::const_assert!(
            T::ATTRS.len() <= MAX_ATTRS,
            "Driver::ATTRS has more than MAX_ATTRS entries"
        );
        let n = T::ATTRS.len();
        if n == 0 {
            return core::ptr::null_mut();
        }
        // SAFETY: The fields are ours, zeroed, pinned and not visible to sysfs yet; the names
        // are static.
        unsafe {
            let list = self.attr_list.get().cast::<*mut bindings::attribute>();
            for (i, name) in T::ATTRS.iter().take(n).enumerate() {
                let a = self.attrs[i].get();
                (*a).attr.name = name.as_char_ptr();
                (*a).attr.mode = 0o444;
                #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
                {
                    (*a).attr.key = static_lock_class!().as_ptr();
                }
                (*a).__bindgen_anon_1.show = Some(show_attr::<T>);
                list.add(i).write(&raw mut (*a).attr);
            }
            list.add(n).write(core::ptr::null_mut());
            let g = self.group.get();
            (*g).name = T::ATTR_GROUP.as_char_ptr();
            (*g).__bindgen_anon_2.attrs = list;
            let groups = self.groups.get().cast::<*const bindings::attribute_group>();
            groups.write(g);
            groups.add(1).write(core::ptr::null());
            groups
        }
    }
}

/// `show` of the attributes of [`Driver::ATTRS`].
///
/// # Safety
///
/// `dev` must be the device of a live disk of a `Disk<T>`, `attr` one of its `attrs` and
/// `buf` a page.
unsafe extern "C" fn show_attr<T: Driver>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *mut u8,
) -> isize {
    // SAFETY: sysfs calls this for an attribute of one of our live disks (the attributes go
    // away in `del_gendisk`, before the `Inner` is freed), with a page-sized buffer.
    unsafe {
        let d = DiskRef::<T>::from_raw(bindings::rustre_dev_to_disk(dev));
        let first = d.inner.attrs[0].get();
        let index =
            (attr as usize - first as usize) / core::mem::size_of::<bindings::device_attribute>();
        let out = core::slice::from_raw_parts_mut(buf, bindings::PAGE_SIZE);
        match d.inner.dev.show_attr(&d, index, out) {
            Ok(n) => n.min(out.len()) as isize,
            Err(e) => e.to_errno() as isize,
        }
    }
}

// SAFETY: `io` is only mutated with exclusive access guaranteed by the freeze and `conf`; the
// rest is thread-safe.
unsafe impl<T: Driver> Sync for Inner<T> {}
// SAFETY: Nothing in `Inner` is tied to a task.
unsafe impl<T: Driver> Send for Inner<T> {}

/// A block device whose requests go to a [`Driver`].
///
/// Dropping it removes the disk (`del_gendisk()`, which waits for requests in flight) and
/// frees the tag set. The driver state is freed when the last reference to the disk is gone,
/// which an opener still holding the device delays (`free_disk`).
///
/// # Invariants
///
/// `gd` is a disk allocated and added by [`Disk::new`] whose `private_data` and queue's
/// `queuedata` point to its pinned `Inner<T>`.
pub struct Disk<T: Driver> {
    gd: NonNull<bindings::gendisk>,
    _p: PhantomData<T>,
}

// SAFETY: The disk may be removed from any task.
unsafe impl<T: Driver> Send for Disk<T> {}
// SAFETY: `&Disk` only gives out a `DiskRef`, which is thread-safe.
unsafe impl<T: Driver> Sync for Disk<T> {}

impl<T: Driver> Disk<T> {
    const BLK_MQ_OPS: bindings::blk_mq_ops = bindings::blk_mq_ops {
        queue_rq: Some(queue_rq::<T>),
        complete: Some(complete_rq),
        init_request: Some(init_request::<T>),
        // SAFETY: All other fields are optional callbacks, for which null means "none".
        ..unsafe { core::mem::zeroed() }
    };

    const FOPS: bindings::block_device_operations = bindings::block_device_operations {
        open: Some(disk_open::<T>),
        release: Some(disk_release::<T>),
        ioctl: Some(disk_ioctl::<T>),
        free_disk: Some(free_disk::<T>),
        owner: crate::module::this_module::<T::OwnerModule>().as_ptr(),
        // SAFETY: All other fields are optional callbacks or pointers, for which null means
        // "none".
        ..unsafe { core::mem::zeroed() }
    };

    /// Creates and adds a disk called `name` for `dev`, with `io` as its initial I/O state,
    /// its requests served as `queues` says, and `limits`.
    pub fn new(
        name: fmt::Arguments<'_>,
        dev: Arc<T>,
        io: T::Io,
        queues: &Queues,
        limits: &Limits,
    ) -> Result<Self> {
        let Queues {
            count: queues,
            depth,
            workers,
            completion,
        } = *queues;
        // Unbound: the worker runs on whichever CPU is free, in parallel with the submitter (with
        // a per-CPU queue it would wait for the submitting task to sleep first).
        let wq = OwnedQueue::new(T::WQ_NAME, Placement::Unbound, wq_flags::MEM_RECLAIM, 0)?;
        let nworkers = match workers {
            Workers::PerDisk => 1,
            Workers::PerQueue => queues.clamp(1, MAX_WORKERS as u32),
        };
        let inner = KBox::pin_init(
            try_pin_init!(Inner {
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
                completion,
                counts: [const { Atomic::new(0) }; NR_COUNTS],
                set: Opaque::zeroed(),
                attrs: [const { Opaque::zeroed() }; MAX_ATTRS],
                attr_list: Opaque::zeroed(),
                group: Opaque::zeroed(),
                groups: Opaque::zeroed(),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `inner` is pinned and its disk not added yet, so no work is queued.
        let groups = unsafe {
            inner.init_works();
            inner.init_attrs()
        };
        // SAFETY: The `Inner` stays where it is until `free_disk`, or `Self::undo` on failure,
        // turn the pointer back into a box; we never move out of it.
        let inner = KBox::into_raw(unsafe { Pin::into_inner_unchecked(inner) });
        // SAFETY: `inner` is valid; its tag set is zeroed and pinned.
        let set = unsafe { (*inner).set.get() };
        // SAFETY: `set` is ours; the fields are plain data.
        let res = unsafe {
            (*set).ops = &Self::BLK_MQ_OPS;
            (*set).nr_hw_queues = queues.max(1);
            (*set).queue_depth = depth.clamp(1, 1024);
            (*set).cmd_size = core::mem::size_of::<Pdu>() as u32;
            (*set).numa_node = bindings::NUMA_NO_NODE;
            (*set).nr_maps = 1;
            // As the loop driver: requests depend on other devices (CPU hotplug must not wait
            // for them), and no I/O scheduler unless one is chosen.
            (*set).flags = bindings::BLK_MQ_F_STACKING | bindings::BLK_MQ_F_NO_SCHED_BY_DEFAULT;
            // `submit_nowait` runs in `queue_rq`, which may then sleep.
            if T::HAS_SUBMIT_NOWAIT {
                (*set).flags |= bindings::BLK_MQ_F_BLOCKING;
            }
            to_result(bindings::blk_mq_alloc_tag_set(set))
        };
        if let Err(e) = res {
            // SAFETY: Nothing else uses `inner`; the tag set was not allocated.
            unsafe { Self::undo(inner, None, false) };
            return Err(e);
        }
        let mut lim = pin_init::zeroed::<bindings::queue_limits>();
        limits.store(&mut lim);
        // SAFETY: `set` is an allocated tag set, `lim` valid; the lock class is static.
        let gd = match from_err_ptr(unsafe {
            bindings::__blk_mq_alloc_disk(
                set,
                &mut lim,
                inner.cast(),
                static_lock_class!().as_ptr(),
            )
        }) {
            Ok(gd) => gd,
            Err(e) => {
                // SAFETY: The tag set is allocated and no disk uses it.
                unsafe { Self::undo(inner, None, true) };
                return Err(e);
            }
        };
        // SAFETY: `gd` is the disk just allocated, not visible to anyone else yet.
        unsafe {
            (*gd).fops = &Self::FOPS;
            (*gd).private_data = inner.cast();
            (*gd).flags |= bindings::GENHD_FL_NO_PART as i32;
        }
        // SAFETY: `gd` is valid and not added yet, so we have exclusive access to its name.
        let res = match NullTerminatedFormatter::new(unsafe { &mut (*gd).disk_name }) {
            Some(mut w) => fmt::Write::write_fmt(&mut w, name).map_err(|_| EINVAL),
            None => Err(EINVAL),
        };
        let res = res.and_then(|()| {
            // SAFETY: `gd` is a valid disk, not added yet; `groups` is null or the pinned
            // attribute groups of its `Inner`.
            to_result(unsafe { bindings::device_add_disk(core::ptr::null_mut(), gd, groups) })
        });
        if let Err(e) = res {
            // SAFETY: The disk was allocated over the tag set and never added.
            unsafe { Self::undo(inner, Some(gd), true) };
            return Err(e);
        }
        // INVARIANT: The disk was allocated and added, with `inner` as private and queue data.
        Ok(Self {
            // SAFETY: `gd` came from a successful allocation, so it is not null.
            gd: unsafe { NonNull::new_unchecked(gd) },
            _p: PhantomData,
        })
    }

    /// Undoes a failed [`Disk::new`]: puts the disk that was never added (its `free_disk` is
    /// not called then), frees the tag set, then the `Inner`, in that order.
    ///
    /// # Safety
    ///
    /// `inner` must come from `KBox::into_raw` in `new` and be used by nothing else; `gd`, if
    /// any, a disk allocated over its tag set and not added; `set_allocated` whether
    /// `blk_mq_alloc_tag_set` succeeded.
    unsafe fn undo(inner: *mut Inner<T>, gd: Option<*mut bindings::gendisk>, set_allocated: bool) {
        // SAFETY: By the caller.
        unsafe {
            if let Some(gd) = gd {
                bindings::put_disk(gd);
            }
            if set_allocated {
                bindings::blk_mq_free_tag_set((*inner).set.get());
            }
            drop(KBox::from_raw(inner));
        }
    }

    /// The disk, to configure or query it.
    pub fn get(&self) -> DiskRef<'_, T> {
        // SAFETY: By the invariants the disk is live with an `Inner<T>` as private data.
        unsafe { DiskRef::from_raw(self.gd.as_ptr()) }
    }
}

impl<T: Driver> Drop for Disk<T> {
    fn drop(&mut self) {
        let gd = self.gd.as_ptr();
        // SAFETY: By the invariants `gd` is an added disk whose private data is our `Inner`.
        unsafe {
            let inner = (*gd).private_data.cast::<Inner<T>>();
            bindings::del_gendisk(gd);
            // The queue is dead after `del_gendisk`; the tag set may go before the disk.
            bindings::blk_mq_free_tag_set((*inner).set.get());
            bindings::put_disk(gd);
        }
    }
}

/// A live disk of driver `T`, as its callbacks and its owner see it.
///
/// # Invariants
///
/// `gd` is a disk made by [`Disk::new`] for `T`, with `inner` its private data, both valid
/// for `'a`.
pub struct DiskRef<'a, T: Driver> {
    gd: NonNull<bindings::gendisk>,
    inner: &'a Inner<T>,
}

impl<'a, T: Driver> DiskRef<'a, T> {
    /// # Safety
    ///
    /// `gd` must be a disk made by [`Disk::new`] for `T` that stays valid for `'a`.
    unsafe fn from_raw(gd: *mut bindings::gendisk) -> Self {
        // SAFETY: By the caller, the private data is an `Inner<T>` valid for `'a`.
        let inner = unsafe { &*(*gd).private_data.cast::<Inner<T>>() };
        // INVARIANT: By the caller.
        Self {
            // SAFETY: By the caller, `gd` is valid, hence not null.
            gd: unsafe { NonNull::new_unchecked(gd) },
            inner,
        }
    }

    fn q(&self) -> *mut bindings::request_queue {
        // SAFETY: A live disk has a queue.
        unsafe { (*self.gd.as_ptr()).queue }
    }

    /// The driver's device.
    pub fn dev(&self) -> &'a Arc<T> {
        &self.inner.dev
    }

    /// The disk's name (`lloop0`).
    pub fn name(&self) -> &CStr {
        // SAFETY: The name was written NUL-terminated when the disk was made and never changes.
        unsafe { CStr::from_char_ptr((*self.gd.as_ptr()).disk_name.as_ptr()) }
    }

    /// How many openers the disk has.
    pub fn openers(&self) -> u32 {
        // SAFETY: The disk is live.
        unsafe { bindings::rustre_disk_openers(self.gd.as_ptr()) }.max(0) as u32
    }

    /// Sets the size in sectors and tells user space (a change uevent) if it changed.
    pub fn set_capacity(&self, sectors: u64) {
        // SAFETY: The disk is live; the call takes its own locks.
        unsafe { bindings::set_capacity_and_notify(self.gd.as_ptr(), sectors) };
    }

    /// The size in sectors.
    pub fn capacity(&self) -> u64 {
        // SAFETY: The disk is live; `part0` is its whole-disk device.
        unsafe { bindings::rustre_bdev_nr_sectors((*self.gd.as_ptr()).part0) }
    }

    /// How the disk's requests were started since it was created.
    pub fn submit_counts(&self) -> SubmitCounts {
        let c = |i: usize| self.inner.counts.get(i).map_or(0, |c| c.load(Relaxed));
        SubmitCounts {
            inline: c(COUNT_INLINE),
            worker: c(COUNT_WORKER),
            declined: c(COUNT_DECLINED),
            requeued: c(COUNT_REQUEUED),
        }
    }

    /// Writes the disk's dirty page cache and drops its cached pages: before its backing file
    /// or geometry changes, so that no stale or misplaced data is read or written back.
    pub fn sync_and_invalidate(&self) {
        // SAFETY: The disk is live; `part0` is its whole-disk device. Both calls sleep, as the
        // callers (ioctls) may.
        unsafe {
            let bdev = (*self.gd.as_ptr()).part0;
            bindings::sync_blockdev(bdev);
            bindings::invalidate_bdev(bdev);
        }
    }

    /// Makes the disk read-only or writable.
    pub fn set_read_only(&self, ro: bool) {
        // SAFETY: The disk is live.
        unsafe { bindings::set_disk_ro(self.gd.as_ptr(), ro) };
    }

    /// Reads the I/O state, serialised against [`DiskRef::reconfigure`].
    pub fn with_io<R>(&self, f: impl FnOnce(&T::Io) -> R) -> R {
        let _g = self.inner.conf.lock();
        // SAFETY: `io` is only written under `conf`, which we hold.
        f(unsafe { &*self.inner.io.get() })
    }

    /// Changes the I/O state and the queue limits with no request in flight.
    ///
    /// Takes the configuration lock, starts a limits update, freezes the queue (waiting for
    /// every request to end and holding new ones back), runs `f` on the state and a copy of
    /// the current limits, commits the limits and thaws the queue. Allocations in `f` are
    /// no-I/O. If the block layer refuses the new limits, the old ones stay and `EINVAL` is
    /// returned with `f`'s changes to the state kept: callers check the limits they set
    /// beforehand, and undo the state if they must.
    pub fn reconfigure<R>(&self, f: impl FnOnce(&mut T::Io, &mut Limits) -> R) -> Result<R> {
        let _g = self.inner.conf.lock();
        let q = self.q();
        let _noio = NoIoScope::enter();
        let mut lim = pin_init::zeroed::<bindings::queue_limits>();
        // SAFETY: The queue is live; this takes its limits lock, released by the commit.
        unsafe { bindings::rustre_queue_limits_start_update(q, &mut lim) };
        let mut limits = Limits::load(&lim);
        // SAFETY: The queue is live; freezing waits for all requests to end.
        unsafe { bindings::blk_mq_freeze_queue_nomemsave(q) };
        // SAFETY: The queue is frozen, so no handler reads `io`, and `conf` excludes every
        // other reader and writer: this is the only reference.
        let r = f(unsafe { &mut *self.inner.io.get() }, &mut limits);
        limits.store(&mut lim);
        // SAFETY: We hold the limits lock from `start_update`; the commit releases it.
        let res = to_result(unsafe { bindings::queue_limits_commit_update(q, &mut lim) });
        // SAFETY: Undoes the freeze above.
        unsafe { bindings::blk_mq_unfreeze_queue_nomemrestore(q) };
        res.map(|()| r).map_err(|_| EINVAL)
    }
}

/// `init_request` of the tag set: makes a request's [`Pdu`].
///
/// # Safety
///
/// `rq` must be a request of a tag set made by [`Disk::new`] for `T`, not in use yet.
unsafe extern "C" fn init_request<T: Driver>(
    set: *mut bindings::blk_mq_tag_set,
    rq: *mut bindings::request,
    _hctx: ffi::c_uint,
    _node: ffi::c_int,
) -> ffi::c_int {
    // SAFETY: The tag set is the `set` of an `Inner<T>`, initialised before the tag set was
    // allocated and alive while it is.
    let inner = unsafe { &*crate::container_of!(Opaque::cast_from(set).cast_mut(), Inner<T>, set) };
    // SAFETY: `rq` has `cmd_size` bytes of data, ours to initialise; this runs once per
    // request before its first use.
    unsafe {
        let pdu = bindings::blk_mq_rq_to_pdu(rq).cast::<Pdu>();
        // All-zero is a valid `Pdu`: opaque C structures, zero counters, no `requeue`.
        // Written in place, as the structure is too large for the stack.
        core::ptr::write_bytes(pdu, 0, 1);
        (*pdu).requeue = Some(requeue::<T>);
        (*pdu).block_complete = inner.completion == Completion::BlockLayer;
    }
    0
}

/// Hands a started request to its disk's worker.
///
/// # Safety
///
/// `rq` must be a started request of a `Disk<T>`. The caller gives up a reference to it, which
/// becomes the worker's handler reference.
unsafe fn requeue<T: Driver>(rq: *mut bindings::request) {
    // SAFETY: By the caller; the queue's data is our `Inner<T>`, live while requests exist,
    // and a started request has a hardware queue.
    unsafe {
        let inner = &*(*(*rq).q).queuedata.cast::<Inner<T>>();
        inner.count(COUNT_REQUEUED);
        inner.push((*(*rq).mq_hctx).queue_num, Pdu::of(rq));
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
        // SAFETY: `current` is the running task, valid while it runs; these fields are its
        // own and only it changes them. `flags` comes before `task_struct.stats`; the fields
        // after it are read by C helpers, as bindgen misplaces them without
        // `CONFIG_SCHEDSTATS` (an empty, cache-line aligned `struct sched_statistics` gets an
        // alignment of 1 in the bindings).
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

/// Whether `queue_rq` may try [`Driver::submit_nowait`] in a task in state `t`.
///
/// `IOCB_NOWAIT` does not keep a filesystem from waiting for its own metadata I/O (ext4
/// reads an uncached extent-tree block and waits for it), so the submitter must be able to
/// wait for block I/O it issues itself:
///
/// - flushing its plug (`blk_finish_plug`), which is where batched submitters (`io_submit`
///   of several requests, readahead, a filesystem's journal) reach the driver: bios the file
///   submits join the plug, and a sleep flushes them;
/// - not inside `submit_bio` (`queue_rq` called by direct issue, or by a plug flush that a
///   full plug started from `submit_bio`): a bio submitted there is only queued on
///   `current->bio_list`, and waiting for it deadlocks the task (the kernel's loop driver
///   never touches its file from `queue_rq` for this reason). Synchronous queue runs without
///   a plug (a queue freeze) stay on the worker too;
/// - not in a workqueue worker (a hardware-queue run from `kblockd`): blocking there holds
///   up the dispatch of other devices, which the file's own I/O may need;
/// - not in memory reclaim (swap-out and writeback under pressure stay on the worker), nor
///   in a no-I/O or no-FS scope;
/// - not inside a filesystem transaction (`journal_info`), which the backing filesystem
///   would take for one of its own.
fn may_submit_here(t: TaskState) -> bool {
    let scopes = bindings::PF_MEMALLOC
        | bindings::PF_MEMALLOC_NOIO
        | bindings::PF_MEMALLOC_NOFS
        | bindings::PF_WQ_WORKER;
    t.flags & scopes == 0 && t.plugged && !t.in_transaction && !t.in_submit_bio
}

/// `queue_rq`: starts a request, in the submitter or on a worker.
///
/// # Safety
///
/// Called by blk-mq with a hardware queue and a request, not started yet, of a `Disk<T>`.
unsafe extern "C" fn queue_rq<T: Driver>(
    hctx: *mut bindings::blk_mq_hw_ctx,
    bd: *const bindings::blk_mq_queue_data,
) -> bindings::blk_status_t {
    // SAFETY: blk-mq hands us a request of our tag set, not yet started; its queue's data is
    // our `Inner<T>`, live while requests exist.
    unsafe {
        let rq = (*bd).rq;
        let inner = &*(*(*rq).q).queuedata.cast::<Inner<T>>();
        let pdu = Pdu::of(rq);
        bindings::blk_mq_start_request(rq);
        pdu.refs.store(1, Relaxed);
        pdu.status.store(i32::from(Status::IOERR.0), Relaxed);
        pdu.write_started.store(0, Relaxed);
        // Swap-out, or I/O a task in reclaim (kswapd, a direct reclaimer) waits for.
        // The running task's own `flags`, which bindgen places right (see `TaskState`).
        let flags = (*bindings::get_current()).flags;
        let reclaim =
            (*rq).cmd_flags & bindings::REQ_SWAP != 0 || flags & bindings::PF_MEMALLOC != 0;
        pdu.reclaim.store(i32::from(reclaim), Relaxed);
        let mut count = COUNT_WORKER;
        if T::HAS_SUBMIT_NOWAIT && may_submit_here(TaskState::current()) {
            // The tag set is `BLK_MQ_F_BLOCKING`: we are in task context and may sleep, but
            // allocations must not recurse into I/O.
            let noio = NoIoScope::enter();
            // INVARIANT: Our reference is the handler's until `put` or the worker takes it.
            let req = Request {
                rq: NonNull::new_unchecked(rq),
                pdu,
            };
            // The request is in flight, so no reconfiguration runs: `io` is not written.
            let back = inner.dev.submit_nowait(&*inner.io.get(), req);
            drop(noio);
            if back.is_none() {
                inner.count(COUNT_INLINE);
                pdu.put(rq);
                return bindings::BLK_STS_OK as bindings::blk_status_t;
            }
            count = COUNT_DECLINED;
        }
        inner.count(count);
        inner.push((*hctx).queue_num, pdu);
    }
    bindings::BLK_STS_OK as bindings::blk_status_t
}

/// A worker: handles the requests pending on its list until there are none.
///
/// # Safety
///
/// `work` must be the `work` of a [`Worker`] of a live `Inner<T>`.
unsafe extern "C" fn disk_work<T: Driver>(work: *mut bindings::work_struct) {
    // SAFETY: The work item is the `work` of a `Worker` in the `workers` of a pinned
    // `Inner<T>`, which outlives every run of it (its workqueue is destroyed first when the
    // `Inner` is dropped); by the invariant of `Worker`, `workers[0]` is `index` items before.
    let (inner, w) = unsafe {
        let w = crate::container_of!(Opaque::cast_from(work).cast_mut(), Worker, work);
        let first = w.sub((*w).index).cast::<[Worker; MAX_WORKERS]>();
        (&*crate::container_of!(first, Inner<T>, workers), &*w)
    };
    let _noio = NoIoScope::enter();
    let _throttle = LocalThrottleScope::enter();
    loop {
        let mut list = w.pending.xchg(core::ptr::null_mut(), Acquire);
        if list.is_null() {
            break;
        }
        // The stack is newest first: reverse it to handle requests in the order they came.
        let mut fifo: *mut Pdu = core::ptr::null_mut();
        while !list.is_null() {
            // SAFETY: Pushed requests stay started, so their data stays valid, until handled.
            let next = unsafe { (*list).next.load(Relaxed) };
            // SAFETY: As above.
            unsafe { (*list).next.store(fifo, Relaxed) };
            fifo = list;
            list = next;
        }
        while !fifo.is_null() {
            // SAFETY: As above; `next` is read before the request is handled (and may end).
            let (pdu, next) = unsafe { (&*fifo, (*fifo).next.load(Relaxed)) };
            // SAFETY: `pdu` is the data of a started request of this disk, queued once by
            // `queue_rq` with the handler's reference.
            unsafe { handle_one(inner, pdu) };
            fifo = next;
        }
    }
}

/// Runs the driver's handler on one request, then drops the handler's reference.
///
/// # Safety
///
/// `pdu` must be the data of a started request of `inner`'s disk whose handler reference the
/// caller holds.
unsafe fn handle_one<T: Driver>(inner: &Inner<T>, pdu: &Pdu) {
    // SAFETY: By the caller.
    unsafe {
        let rq = bindings::blk_mq_rq_from_pdu(core::ptr::from_ref(pdu).cast_mut().cast());
        // INVARIANT: The handler's reference is held until `put` below.
        let req = Request {
            rq: NonNull::new_unchecked(rq),
            pdu,
        };
        // The request is in flight, so no reconfiguration runs: `io` is not written.
        inner.dev.handle(&*inner.io.get(), req);
        pdu.put(rq);
    }
}

/// # Safety
///
/// `gd` must be a live disk of a `Disk<T>`.
unsafe extern "C" fn disk_open<T: Driver>(
    gd: *mut bindings::gendisk,
    mode: bindings::blk_mode_t,
) -> ffi::c_int {
    // SAFETY: The block layer calls this with one of our live disks.
    let d = unsafe { DiskRef::<T>::from_raw(gd) };
    match d.inner.dev.open(&d, mode & bindings::BLK_OPEN_WRITE != 0) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// `gd` must be a live disk of a `Disk<T>`.
unsafe extern "C" fn disk_release<T: Driver>(gd: *mut bindings::gendisk) {
    // SAFETY: The block layer calls this with one of our live disks.
    let d = unsafe { DiskRef::<T>::from_raw(gd) };
    d.inner.dev.release(&d);
}

/// # Safety
///
/// `bdev` must be an open block device of a live disk of a `Disk<T>`.
unsafe extern "C" fn disk_ioctl<T: Driver>(
    bdev: *mut bindings::block_device,
    mode: bindings::blk_mode_t,
    cmd: ffi::c_uint,
    arg: ffi::c_ulong,
) -> ffi::c_int {
    // SAFETY: The block layer calls this on an open device of one of our disks.
    let d = unsafe { DiskRef::<T>::from_raw((*bdev).bd_disk) };
    match d
        .inner
        .dev
        .ioctl(&d, mode & bindings::BLK_OPEN_WRITE != 0, cmd, arg)
    {
        Ok(v) => v,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// `gd` must be a disk of a `Disk<T>` whose last reference is gone.
unsafe extern "C" fn free_disk<T: Driver>(gd: *mut bindings::gendisk) {
    // SAFETY: The last reference to the disk is gone: nobody uses the `Inner` made by
    // `Disk::new` any more, and we take it back.
    drop(unsafe { KBox::from_raw((*gd).private_data.cast::<Inner<T>>()) });
}

/// Whether the calling task has `CAP_SYS_ADMIN`, which configuring a disk needs.
pub fn caller_is_admin() -> bool {
    // SAFETY: `capable` only checks the current task's credentials.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}

/// `fallocate` modes a [`BackingFile`] offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Falloc {
    /// Deallocate the range (reads return zeroes); the size stays.
    PunchHole,
    /// Zero the range, keeping it allocated; the size stays.
    ZeroRange,
    /// Allocate the range (holes become zeroed blocks); the size stays.
    Allocate,
}

/// A regular file a disk stores its data in.
///
/// While it exists, the page cache of the file does not allocate with `__GFP_IO` or
/// `__GFP_FS`, so reclaim triggered by buffered I/O on it cannot recurse into the disk.
///
/// # Invariants
///
/// `file` is a regular file with `read_iter`, and `write_iter` if open for writing; its
/// mapping's allocation mask had `old_gfp` when we took it over. `net`, if set, holds the
/// reserves of `file`'s own transport, and is dropped before `file` (field order, and
/// explicitly in `drop`).
pub struct BackingFile {
    /// The memory reserves of the file's network transport, if taken
    /// ([`BackingFile::reserve_transport`]). Declared before `file`, so dropped before it:
    /// the transport it refers to lives as long as the file's superblock.
    net: Option<NetReserve>,
    file: ARef<File>,
    /// A second open of the same file, for direct writes (see [`Request::read_write`]):
    /// private to us, with `FMODE_NOCMTIME`. `None` if the file is not open for writing or
    /// has no direct I/O.
    quiet_file: Option<ARef<File>>,
    /// Non-zero once a write went through `quiet_file` since the file's times were last
    /// brought up to date ([`BackingFile::update_times`]).
    times_stale: Atomic<i32>,
    old_gfp: bindings::gfp_t,
    dio_align: u32,
    dio_mem_align: u32,
    /// The file's direct I/O takes a reference on every page it moves (NFS:
    /// `nfs_page_create_from_page()` calls `get_page()`), which slab memory cannot give
    /// (`get_page()` warns and takes none) and large-kmalloc memory would leak (the bvec
    /// `iov_iter_get_pages` takes one that `put_page()` never gives back). Requests with such
    /// memory go through the page cache instead ([`Request::read_write`]).
    dio_refs_pages: bool,
    /// Requests sent through the page cache for that reason since the file was taken.
    kmalloc_buffered: Atomic<u64>,
}

impl BackingFile {
    /// Takes the file behind the caller's descriptor `fd`. `EBADF` for a bad descriptor,
    /// `EINVAL` for anything but a regular file that can be read (and written, if open for
    /// writing). A file open for writing with direct I/O is also opened a second time, for
    /// direct writes ([`Request::read_write`]); that open's error is returned.
    pub fn from_fd(fd: u32) -> Result<Self> {
        let file = LocalFile::fget(fd).map_err(|_| EBADF)?;
        // SAFETY: We never use the file position: every transfer names its own offset.
        let file = unsafe { LocalFile::assume_no_fdget_pos(file) };
        // SAFETY: An open file has a valid inode, whose type never changes, and operations.
        let (regular, ok_ops) = unsafe {
            let f = file.as_ptr();
            let mode = u32::from((*(*f).f_inode).i_mode);
            let fop = &*(*f).f_op;
            let writable = (*f).f_mode & bindings::FMODE_WRITE != 0;
            (
                mode & bindings::S_IFMT == bindings::S_IFREG,
                fop.read_iter.is_some() && (!writable || fop.write_iter.is_some()),
            )
        };
        if !regular || !ok_ops {
            return Err(EINVAL);
        }
        let (dio_align, dio_mem_align) = Self::dio_alignment(&file);
        // SAFETY: `f_mode` of an open file does not change.
        let mode = unsafe { (*file.as_ptr()).f_mode };
        let quiet_file =
            if mode & bindings::FMODE_WRITE != 0 && mode & bindings::FMODE_CAN_ODIRECT != 0 {
                Some(Self::reopen_quiet(&file)?)
            } else {
                None
            };
        // SAFETY: An open file's mapping is valid; the mask is a plain word the page cache
        // reads when it allocates.
        let old_gfp = unsafe {
            let m = (*file.as_ptr()).f_mapping;
            let old = (*m).gfp_mask;
            (*m).gfp_mask =
                old & !((1 << bindings::___GFP_IO_BIT) | (1 << bindings::___GFP_FS_BIT));
            old
        };
        let dio_refs_pages = on_nfs(&file);
        // INVARIANT: Checked above; the second open is of the same file.
        Ok(Self {
            net: None,
            file,
            quiet_file,
            times_stale: Atomic::new(0),
            old_gfp,
            dio_align,
            dio_mem_align,
            dio_refs_pages,
            kmalloc_buffered: Atomic::new(0),
        })
    }

    /// Opens `file` again, by its path and with its flags and credentials, for the driver
    /// alone, and marks the new file not to update the inode's times (`FMODE_NOCMTIME`).
    fn reopen_quiet(file: &File) -> Result<ARef<File>> {
        let f = file.as_ptr();
        // SAFETY: An open file's path and credentials are valid while it is open; the call
        // returns a new file, holding one reference, or an error pointer.
        let new = from_err_ptr(unsafe {
            bindings::dentry_open(
                &raw const (*f).__bindgen_anon_1.f_path,
                (*f).f_flags as i32,
                (*f).f_cred,
            )
        })?;
        // SAFETY: `new` is a valid file no one else knows about yet, so no I/O reads its mode.
        unsafe { (*new).f_mode |= bindings::FMODE_NOCMTIME };
        // SAFETY: `new` is non-null (not an error) and its one reference becomes the `ARef`'s.
        Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(new.cast::<File>())) })
    }

    /// Offset and memory alignment of direct I/O: the filesystem's (`STATX_DIOALIGN`), else
    /// the logical block size of its device, else 512.
    fn dio_alignment(file: &File) -> (u32, u32) {
        let mut st = zeroed_c::<bindings::kstat>();
        // SAFETY: The file is open, so its path is valid; `st` is ours.
        let rc = unsafe {
            bindings::vfs_getattr(
                &raw mut (*file.as_ptr()).__bindgen_anon_1.f_path,
                &mut st,
                bindings::STATX_DIOALIGN,
                0,
            )
        };
        if rc == 0 && st.result_mask & bindings::STATX_DIOALIGN != 0 && st.dio_mem_align != 0 {
            return (st.dio_offset_align.max(512), st.dio_mem_align);
        }
        // SAFETY: An open file has a valid inode and superblock; `s_bdev` may be null.
        let bs = unsafe {
            let sb = (*(*file.as_ptr()).f_inode).i_sb;
            if (*sb).s_bdev.is_null() {
                512
            } else {
                bindings::rustre_bdev_logical_block_size((*sb).s_bdev)
            }
        };
        (bs.max(512), 512)
    }

    fn raw(&self) -> *mut bindings::file {
        self.file.as_ptr()
    }

    /// Whether the file is open for writing.
    pub fn writable(&self) -> bool {
        // SAFETY: `f_mode` of an open file does not change.
        unsafe { (*self.raw()).f_mode & bindings::FMODE_WRITE != 0 }
    }

    /// Whether the filesystem does direct I/O on the file (`FMODE_CAN_ODIRECT`).
    pub fn can_direct(&self) -> bool {
        // SAFETY: As in `writable`.
        unsafe { (*self.raw()).f_mode & bindings::FMODE_CAN_ODIRECT != 0 }
    }

    /// Whether the file takes non-blocking I/O (`FMODE_NOWAIT`).
    pub fn can_nowait(&self) -> bool {
        // SAFETY: As in `writable`.
        unsafe { (*self.raw()).f_mode & bindings::FMODE_NOWAIT != 0 }
    }

    /// Whether the descriptor was opened with `O_DIRECT`.
    pub fn opened_direct(&self) -> bool {
        self.file.flags() & bindings::O_DIRECT != 0
    }

    /// Alignment of file offsets and lengths for direct I/O, in bytes.
    pub fn dio_align(&self) -> u32 {
        self.dio_align
    }

    /// Alignment of memory for direct I/O, in bytes.
    pub fn dio_mem_align(&self) -> u32 {
        self.dio_mem_align
    }

    /// Whether the filesystem implements `fsync`.
    pub fn can_fsync(&self) -> bool {
        // SAFETY: The operations of an open file are valid and constant.
        unsafe { (*(*self.raw()).f_op).fsync.is_some() }
    }

    /// Whether the filesystem implements `fallocate`.
    pub fn can_fallocate(&self) -> bool {
        // SAFETY: The operations of an open file are valid and constant.
        unsafe { (*(*self.raw()).f_op).fallocate.is_some() }
    }

    /// Block size of the file's filesystem.
    pub fn fs_block_size(&self) -> u32 {
        // SAFETY: An open file has a valid inode and superblock.
        unsafe { (*(*(*self.raw()).f_inode).i_sb).s_blocksize as u32 }
    }

    /// The size of the file in bytes.
    pub fn size(&self) -> u64 {
        // SAFETY: An open file has a valid inode.
        unsafe { bindings::rustre_i_size_read((*self.raw()).f_inode) }.max(0) as u64
    }

    /// Device number of the file's filesystem (kernel `dev_t`) and inode number.
    pub fn identity(&self) -> (u32, u64) {
        // SAFETY: An open file has a valid inode and superblock.
        unsafe {
            let inode = (*self.raw()).f_inode;
            ((*(*inode).i_sb).s_dev, (*inode).i_ino)
        }
    }

    /// Whether `self` and `other` are the same inode.
    pub fn same_inode(&self, other: &BackingFile) -> bool {
        // SAFETY: Open files have valid inodes.
        unsafe { (*self.raw()).f_inode == (*other.raw()).f_inode }
    }

    /// Writes the file's path into `buf` and returns it (`d_path`); `ENAMETOOLONG` if it does
    /// not fit.
    pub fn path<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        // SAFETY: The path of an open file is valid; `d_path` writes at most `buf.len()` bytes
        // at the end of `buf` and returns where the NUL-terminated name starts.
        let p = from_err_ptr(unsafe {
            bindings::d_path(
                &raw const (*self.raw()).__bindgen_anon_1.f_path,
                buf.as_mut_ptr(),
                buf.len() as i32,
            )
        })?;
        let start = (p as usize).wrapping_sub(buf.as_ptr() as usize);
        let tail = buf.get(start..).ok_or(EINVAL)?;
        let len = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
        Ok(&buf[start..start + len])
    }

    /// Brings the file's times up to date ([`BackingFile::update_times`]), then makes its
    /// data and metadata durable (`vfs_fsync`). On a frozen filesystem the times stay due and
    /// the sync goes ahead: a flush must not fail for them.
    pub fn fsync(&self) -> Result {
        // An error (a frozen filesystem, say) leaves the update due; the sync goes ahead.
        let _ = self.update_times();
        // SAFETY: The file is open.
        to_result(unsafe { bindings::vfs_fsync(self.raw(), 0) })
    }

    /// Requests that direct I/O was asked for but that went through the page cache, since
    /// their memory is slab or large-kmalloc and the file's direct I/O references pages
    /// (see [`Request::read_write`]).
    pub fn kmalloc_buffered(&self) -> u64 {
        self.kmalloc_buffered.load(Relaxed)
    }

    /// Records that a direct write went through the second open; cheap when already set.
    fn mark_times_stale(&self) {
        if self.times_stale.load(Relaxed) == 0 {
            self.times_stale.store(1, Relaxed);
        }
    }

    /// Updates the file's modification and change times if direct writes went to it since
    /// the last update: those leave the times alone, so that a write does not start a
    /// filesystem transaction of its own. Called by [`BackingFile::fsync`] (a flush of the
    /// device) and when the file is dropped; a driver calls it where else it wants the times
    /// current. `EBUSY` if the filesystem is frozen (the update is then still due). It may
    /// sleep (the filesystem may start a transaction): not for [`Driver::submit_nowait`], nor
    /// with the disk's queue frozen, as the filesystem's transactions may wait for I/O.
    pub fn update_times(&self) -> Result {
        if self.times_stale.xchg(0, Relaxed) == 0 {
            return Ok(());
        }
        let file = self.raw();
        // SAFETY: The file is open, so its inode and the inode's superblock are valid.
        let sb = unsafe { (*(*file).f_inode).i_sb };
        // SAFETY: `sb` is a live superblock (above). Without waiting: a frozen filesystem
        // leaves the update due.
        let res = if unsafe { bindings::rustre_sb_start_write_trylock(sb) } {
            // SAFETY: The file is open and its filesystem's freeze protection is held.
            let res = to_result(unsafe { bindings::file_update_time(file) });
            // SAFETY: Ends the freeze protection taken above, on the same task.
            unsafe { bindings::rustre_sb_end_write(sb) };
            res
        } else {
            Err(EBUSY)
        };
        if res.is_err() {
            self.times_stale.store(1, Relaxed);
        }
        res
    }

    /// Lets the network transport that carries this file's I/O allocate from the memory
    /// reserves, as the kernel does for a swap file on NFS (`nfs_swap_activate`): so that the
    /// writes a disk over the file makes to free memory (swap-out, writeback under
    /// pressure) can still be sent when memory is short. Held until the file is dropped.
    ///
    /// Returns whether the file has such a transport: `false` for anything but a file on an
    /// NFS mount. Process context only (marking a socket takes mutexes); an error if the
    /// transport refuses (`EINVAL` without `CONFIG_SUNRPC_SWAP`).
    ///
    /// Everything on the transport gets that access, every mount sharing the NFS client
    /// included, as with an NFS swap file. What it does not give is NFS's per-request flag
    /// for swap writes (`RPC_TASK_SWAPPER`, set only for the inode of an active swap file),
    /// which lets the RPC state machine of each such request run from the reserves too.
    pub fn reserve_transport(&mut self) -> Result<bool> {
        if self.net.is_none() {
            // INVARIANT: The reserve is of `self.file`, which outlives it (see `drop`).
            self.net = NetReserve::take(&self.file)?;
        }
        Ok(self.net.is_some())
    }

    /// Whether [`BackingFile::reserve_transport`] holds the transport's reserves.
    pub fn transport_reserved(&self) -> bool {
        self.net.is_some()
    }

    /// `fallocate` on `[pos, pos + len)`, keeping the file size.
    ///
    /// NFS 4.2 refuses `FALLOC_FL_KEEP_SIZE` with a zeroing or allocating mode (`EOPNOTSUPP`);
    /// a range inside the file cannot change its size, so such a range is asked again without
    /// the flag. "Inside" is judged by the size this kernel knows: a truncate of the backing
    /// file below the range, here or by another NFS client, would be undone, as a write there
    /// would undo it.
    pub fn fallocate(&self, mode: Falloc, pos: u64, len: u64) -> Result {
        let m = match mode {
            Falloc::PunchHole => bindings::FALLOC_FL_PUNCH_HOLE,
            Falloc::ZeroRange => bindings::FALLOC_FL_ZERO_RANGE,
            Falloc::Allocate => 0,
        };
        let (Ok(p), Ok(l)) = (i64::try_from(pos), i64::try_from(len)) else {
            return Err(EINVAL);
        };
        let call = |m: u32| {
            // SAFETY: The file is open.
            to_result(unsafe { bindings::vfs_fallocate(self.raw(), m as i32, p, l) })
        };
        match call(m | bindings::FALLOC_FL_KEEP_SIZE) {
            Err(e)
                if e == EOPNOTSUPP
                    && mode != Falloc::PunchHole
                    && pos.checked_add(len).is_some_and(|end| end <= self.size()) =>
            {
                call(m)
            }
            r => r,
        }
    }
}

/// Access to the memory reserves for the RPC transport of a file on NFS: one
/// `rpc_clnt_swap_activate` on the file's RPC client, and the protocol's `enable_swap` (NFSv4
/// keeps its state manager thread running), undone when dropped.
///
/// # Invariants
///
/// `inode` is the inode of an open file on an NFS client superblock and `clnt` its
/// `NFS_CLIENT`, on which this holds one activation; both are valid while that file is open,
/// which its owner ([`BackingFile`]) keeps it until this is dropped.
struct NetReserve {
    inode: NonNull<bindings::inode>,
    clnt: NonNull<bindings::rpc_clnt>,
}

/// Whether `file` is on the NFS client: a superblock with `NFS_SUPER_MAGIC` of type "nfs"
/// or "nfs4".
fn on_nfs(file: &File) -> bool {
    // SAFETY: An open file has an inode, with a valid superblock and filesystem type, whose
    // name is a static NUL-terminated string.
    let (magic, fs_name) = unsafe {
        let sb = (*(*file.as_ptr()).f_inode).i_sb;
        ((*sb).s_magic, CStr::from_char_ptr((*(*sb).s_type).name))
    };
    magic as u64 == u64::from(bindings::NFS_SUPER_MAGIC) && fs_name.to_bytes().starts_with(b"nfs")
}

impl NetReserve {
    /// Takes the reserves for `file`'s transport; `None` if `file` is not on NFS, or if the
    /// kernel's sunrpc is a module (this crate is built in and cannot call it then).
    #[cfg(CONFIG_SUNRPC = "y")]
    fn take(file: &File) -> Result<Option<Self>> {
        if !on_nfs(file) {
            return Ok(None);
        }
        // SAFETY: An open file has an inode.
        let inode = NonNull::new(unsafe { (*file.as_ptr()).f_inode }).ok_or(EINVAL)?;
        // SAFETY: Only the NFS client makes superblocks with this magic; their `s_fs_info` is
        // the `nfs_server`, which lives as long as the superblock the open file pins.
        let clnt =
            NonNull::new(unsafe { bindings::rustre_nfs_client(inode.as_ptr()) }).ok_or(EINVAL)?;
        // SAFETY: `clnt` is a live RPC client (above); the call marks its transports and
        // counts the activation, undone by `rpc_clnt_swap_deactivate` in `drop`.
        to_result(unsafe { bindings::rpc_clnt_swap_activate(clnt.as_ptr()) })?;
        // SAFETY: As above: the NFS client's protocol operations are static and live.
        if let Some(enable) = unsafe { (*bindings::rustre_nfs_proto(inode.as_ptr())).enable_swap } {
            // SAFETY: `inode` is an NFS inode of this protocol, as `enable_swap` expects.
            unsafe { enable(inode.as_ptr()) };
        }
        // INVARIANT: `file` is open on NFS, `clnt` its client, activated above.
        Ok(Some(Self { inode, clnt }))
    }

    /// Without a built-in sunrpc there is nothing this crate can reserve.
    #[cfg(not(CONFIG_SUNRPC = "y"))]
    fn take(_file: &File) -> Result<Option<Self>> {
        Ok(None)
    }
}

impl Drop for NetReserve {
    #[cfg(CONFIG_SUNRPC = "y")]
    fn drop(&mut self) {
        // SAFETY: By the type invariant both pointers are still valid and we hold one
        // activation; the order is `nfs_swap_deactivate`'s (the protocol's `disable_swap`
        // wakes the state manager, which then sees whether any activation is left).
        unsafe {
            bindings::rpc_clnt_swap_deactivate(self.clnt.as_ptr());
            if let Some(disable) = (*bindings::rustre_nfs_proto(self.inode.as_ptr())).disable_swap {
                disable(self.inode.as_ptr());
            }
        }
    }

    #[cfg(not(CONFIG_SUNRPC = "y"))]
    fn drop(&mut self) {}
}

// SAFETY: The pointers are only used to undo the activation, which any task may do.
unsafe impl Send for NetReserve {}
// SAFETY: No method takes `&self`.
unsafe impl Sync for NetReserve {}

/// Dropping the file updates its times ([`BackingFile::update_times`]), which may sleep in the
/// filesystem: a driver replacing its state in [`DiskRef::reconfigure`] returns the old file
/// from the closure and drops it after the queue is thawed.
impl Drop for BackingFile {
    fn drop(&mut self) {
        // The last chance to record the writes in the file's times. A frozen filesystem
        // (`EBUSY`) keeps the old ones.
        if let Err(e) = self.update_times() {
            pr_warn!("fileblk: backing file times not updated: {:?}\n", e);
        }
        // SAFETY: The mapping is valid while we hold the file; we restore the mask we changed.
        unsafe { (*(*self.raw()).f_mapping).gfp_mask = self.old_gfp };
        // The transport's reserves go before the file that keeps the transport alive.
        drop(self.net.take());
    }
}
