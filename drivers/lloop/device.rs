// SPDX-License-Identifier: GPL-2.0

//! One `/dev/lloopN`: its state, the loop ioctls and the I/O path.

use kernel::{
    block::mq::Command,
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::Mutex,
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    file::{caller_is_admin, BackingFile, Falloc},
    geometry::{self, DioOff},
    io::{read_write, read_write_nowait, DiskRef, Limits, Rq},
    uapi,
};

/// Largest request, in sectors (1 MiB, as Lustre's lloop).
const MAX_HW_SECTORS: u32 = 2048;

/// What the I/O path needs of an attached file. Changed only through
/// [`DiskRef::reconfigure`], with no request in flight.
#[derive(Default)]
pub(crate) struct Io {
    file: Option<BackingFile>,
    /// Byte offset of the device in the file.
    offset: u64,
    /// Size of the device in sectors.
    capacity: u64,
    /// Direct asynchronous I/O to the file.
    direct: bool,
    /// Writes fail.
    read_only: bool,
    /// Discard and write-zeroes become `fallocate`.
    discard: bool,
}

/// Configuration user space set, beyond what the I/O path reads.
struct Conf {
    /// `LO_FLAGS_*` as reported by `LOOP_GET_STATUS64`.
    flags: u32,
    sizelimit: u64,
    /// Logical block size in use.
    block_size: u32,
    /// `lo_file_name` as given, or the path when none was.
    file_name: [u8; uapi::LO_NAME_SIZE],
    bound: bool,
    /// Being removed: opens fail.
    deleting: bool,
}

/// A loop device.
///
/// Lock order: `conf`, then the disk's configuration lock (taken by `reconfigure` and
/// `with_io`), then the backing filesystem's freeze protection and journal (updating the
/// file's times in `release` and at detach). `release` runs with the disk's `open_mutex`
/// held and takes `conf`: nothing holding `conf` may open or remove a disk.
#[pin_data]
pub(crate) struct LloopDev {
    number: u32,
    #[pin]
    conf: Mutex<Conf>,
}

impl Default for Conf {
    fn default() -> Self {
        Self {
            flags: 0,
            sizelimit: 0,
            block_size: 0,
            file_name: [0; uapi::LO_NAME_SIZE],
            bound: false,
            deleting: false,
        }
    }
}

impl LloopDev {
    pub(crate) fn new(number: u32) -> impl PinInit<Self> {
        pin_init!(Self { number, conf <- new_mutex!(Conf::default()) })
    }

    /// Whether the device is attached or open; `deleting` is set if it is neither, so that
    /// it can be removed.
    pub(crate) fn claim_for_removal(&self, disk: &DiskRef<'_>) -> Result {
        let mut c = self.conf.lock();
        if c.bound || disk.openers() > 0 {
            return Err(EBUSY);
        }
        c.deleting = true;
        Ok(())
    }

    /// Whether the device is free for `LOOP_CTL_GET_FREE`.
    pub(crate) fn is_free(&self) -> bool {
        let c = self.conf.lock();
        !c.bound && !c.deleting
    }

    /// Attaches `cfg.fd` with `cfg`'s flags, offset, size limit and block size.
    fn configure(&self, disk: &DiskRef<'_>, cfg: &uapi::LoopConfig) -> Result {
        let mut c = self.conf.lock();
        if c.deleting {
            return Err(ENXIO);
        }
        if c.bound {
            return Err(EBUSY);
        }
        if cfg.info.flags & uapi::LO_FLAGS_PARTSCAN != 0 {
            pr_warn!("{}: partition scanning is not supported\n", disk.name());
            return Err(EINVAL);
        }
        if cfg.block_size != 0 {
            geometry::check_block_size(cfg.block_size, PAGE_SIZE as u32).map_err(|_| EINVAL)?;
        }
        let mut file = BackingFile::from_fd(cfg.fd).inspect_err(|e| {
            if *e == EINVAL {
                pr_warn!(
                    "{}: backing file must be a regular file that can be read\n",
                    disk.name()
                );
            }
        })?;
        let read_only = cfg.info.flags & uapi::LO_FLAGS_READ_ONLY != 0 || !file.writable();
        let bs = if cfg.block_size != 0 {
            cfg.block_size
        } else if file.can_direct() && file.dio_align() <= PAGE_SIZE as u32 {
            file.dio_align().max(512)
        } else {
            512
        };
        let sectors =
            Self::capacity(&file, cfg.info.offset, cfg.info.sizelimit, bs).inspect_err(|_| {
                pr_warn!(
                    "{}: offset {} must be a multiple of 512 within the file ({} bytes)\n",
                    disk.name(),
                    cfg.info.offset,
                    file.size()
                );
            })?;
        // Unlike the loop driver, direct I/O is the default wherever the file allows it.
        let direct = Self::direct_ok(&file, bs, cfg.info.offset);
        let mut name = cfg.info.file_name;
        if name[0] == 0 {
            let mut buf = [0u8; 256];
            if let Ok(p) = file.path(&mut buf) {
                let n = p.len().min(uapi::LO_NAME_SIZE - 1);
                name[..n].copy_from_slice(&p[..n]);
            }
        }
        name[uapi::LO_NAME_SIZE - 1] = 0;
        let discard = file.can_fallocate() && !read_only;
        let cache = file.can_fsync() && !read_only;
        let granularity = file.fs_block_size();
        let mem_align = file.dio_mem_align();
        // A writable device over a file on a network filesystem: the writes that free memory
        // (swap-out, writeback under pressure) must be able to reach the server when memory
        // is short, so the file's transport may use the memory reserves while the file is
        // attached, as for a swap file on NFS. The device works without; `net_reserve`
        // shows which.
        if !read_only {
            if let Err(e) = file.reserve_transport() {
                pr_warn!(
                    "{}: the backing file's network transport refused the memory reserves ({:?})\n",
                    disk.name(),
                    e
                );
            }
        }
        let res = disk.reconfigure(|io, lim| {
            *lim = Self::limits(bs, direct, mem_align, discard, granularity, cache);
            *io = Io {
                file: Some(file),
                offset: cfg.info.offset,
                capacity: sectors,
                direct,
                read_only,
                discard,
            };
        });
        if let Err(e) = res {
            // The limits were refused: do not keep the file. It is dropped here, after the
            // queue is thawed (dropping it may update its times in the filesystem).
            drop(disk.reconfigure(|io, _| core::mem::take(io)));
            return Err(e);
        }
        disk.set_read_only(read_only);
        disk.set_capacity(sectors);
        let mut flags = cfg.info.flags & (uapi::LO_FLAGS_AUTOCLEAR | uapi::LO_FLAGS_READ_ONLY);
        if read_only {
            flags |= uapi::LO_FLAGS_READ_ONLY;
        }
        if direct {
            flags |= uapi::LO_FLAGS_DIRECT_IO;
        }
        *c = Conf {
            flags,
            sizelimit: cfg.info.sizelimit,
            block_size: bs,
            file_name: name,
            bound: true,
            deleting: false,
        };
        Ok(())
    }

    fn capacity(file: &BackingFile, offset: u64, sizelimit: u64, bs: u32) -> Result<u64> {
        let size = file.size();
        if offset > size || offset > i64::MAX as u64 {
            return Err(EINVAL);
        }
        geometry::capacity_sectors(size, offset, sizelimit, bs, PAGE_SIZE as u32)
            .map_err(|_| EINVAL)
    }

    /// Direct I/O needs the filesystem's support, blocks no smaller than its alignment and an
    /// aligned offset (as the loop driver checks).
    fn direct_ok(file: &BackingFile, bs: u32, offset: u64) -> bool {
        Self::dio_allowed(file, bs, offset).is_ok()
    }

    fn dio_allowed(file: &BackingFile, bs: u32, offset: u64) -> Result<(), DioOff> {
        geometry::dio_allowed(file.can_direct(), bs, file.dio_align(), offset)
    }

    fn limits(
        bs: u32,
        direct: bool,
        mem_align: u32,
        discard: bool,
        granularity: u32,
        writable: bool,
    ) -> Limits {
        let mut l = Limits::new(bs);
        l.max_hw_sectors = MAX_HW_SECTORS;
        l.dma_alignment = if direct {
            mem_align.max(512).min(PAGE_SIZE as u32) - 1
        } else {
            511
        };
        if discard {
            l.max_discard_sectors = u32::MAX >> 9;
            l.discard_granularity = granularity;
        }
        l.write_cache = writable;
        l.fua = writable;
        l
    }

    /// Detaches the file: the device reads as empty and the file is released.
    fn clear(&self, disk: &DiskRef<'_>, c: &mut Conf) -> Result {
        if !c.bound {
            return Err(ENXIO);
        }
        // The old state, and the file with it, is dropped once the queue is thawed: dropping
        // the file updates its times, and the filesystem may wait for I/O to do that.
        let old = disk.reconfigure(|io, lim| {
            *lim = Limits::new(512);
            core::mem::take(io)
        })?;
        drop(old);
        disk.set_capacity(0);
        disk.set_read_only(false);
        let deleting = c.deleting;
        *c = Conf {
            deleting,
            ..Conf::default()
        };
        Ok(())
    }

    /// `LOOP_CLR_FD`: refused while anyone but the caller has the device open.
    fn clr_fd(&self, disk: &DiskRef<'_>) -> Result {
        let mut c = self.conf.lock();
        if !c.bound {
            return Err(ENXIO);
        }
        if disk.openers() > 1 {
            return Err(EBUSY);
        }
        disk.sync_and_invalidate();
        self.clear(disk, &mut c)
    }

    fn status(&self, disk: &DiskRef<'_>) -> Result<uapi::LoopInfo64> {
        let c = self.conf.lock();
        if !c.bound {
            return Err(ENXIO);
        }
        let (dev, ino, offset) = disk.with_io(|io| {
            let (dev, ino) = io.file.as_ref().map(|f| f.identity()).unwrap_or((0, 0));
            (dev, ino, io.offset)
        });
        Ok(uapi::LoopInfo64 {
            device: uapi::huge_encode_dev(dev),
            inode: ino,
            rdevice: 0,
            offset,
            sizelimit: c.sizelimit,
            number: self.number,
            flags: c.flags,
            file_name: c.file_name,
        })
    }

    /// `LOOP_SET_STATUS64`: flags (autoclear), offset, size limit and file name.
    fn set_status(&self, disk: &DiskRef<'_>, info: &uapi::LoopInfo64) -> Result {
        let mut c = self.conf.lock();
        if !c.bound {
            return Err(ENXIO);
        }
        let bs = c.block_size;
        let resized = disk.with_io(|io| io.offset != info.offset) || c.sizelimit != info.sizelimit;
        if resized {
            disk.sync_and_invalidate();
            let sectors = disk.reconfigure(|io, lim| {
                let file = io.file.as_ref().ok_or(ENXIO)?;
                let sectors = Self::capacity(file, info.offset, info.sizelimit, bs)?;
                if io.direct && !Self::direct_ok(file, bs, info.offset) {
                    io.direct = false;
                    lim.dma_alignment = 511;
                }
                io.offset = info.offset;
                io.capacity = sectors;
                Ok::<u64, Error>(sectors)
            })??;
            if !disk.with_io(|io| io.direct) {
                c.flags &= !uapi::LO_FLAGS_DIRECT_IO;
            }
            c.sizelimit = info.sizelimit;
            disk.set_capacity(sectors);
        }
        // Partition scanning is not supported: the flag is not taken.
        c.flags = uapi::set_status_flags(c.flags, info.flags & !uapi::LO_FLAGS_PARTSCAN);
        if info.file_name[0] != 0 {
            c.file_name = info.file_name;
            c.file_name[uapi::LO_NAME_SIZE - 1] = 0;
        }
        Ok(())
    }

    /// `LOOP_SET_CAPACITY`: re-reads the file size.
    fn set_capacity(&self, disk: &DiskRef<'_>) -> Result {
        let c = self.conf.lock();
        if !c.bound {
            return Err(ENXIO);
        }
        let bs = c.block_size;
        let sectors = disk.reconfigure(|io, _| {
            let file = io.file.as_ref().ok_or(ENXIO)?;
            io.capacity = Self::capacity(file, io.offset, c.sizelimit, bs)?;
            Ok::<u64, Error>(io.capacity)
        })??;
        disk.set_capacity(sectors);
        Ok(())
    }

    /// `LOOP_SET_DIRECT_IO`: `EINVAL` if direct I/O is asked for and the file, block size or
    /// offset do not allow it.
    fn set_direct(&self, disk: &DiskRef<'_>, on: bool) -> Result {
        let mut c = self.conf.lock();
        if !c.bound {
            return Err(ENXIO);
        }
        let bs = c.block_size;
        disk.reconfigure(|io, lim| {
            let file = io.file.as_ref().ok_or(ENXIO)?;
            if on && !Self::direct_ok(file, bs, io.offset) {
                return Err(EINVAL);
            }
            io.direct = on;
            lim.dma_alignment = if on {
                file.dio_mem_align().max(512).min(PAGE_SIZE as u32) - 1
            } else {
                511
            };
            Ok(())
        })??;
        if on {
            c.flags |= uapi::LO_FLAGS_DIRECT_IO;
        } else {
            c.flags &= !uapi::LO_FLAGS_DIRECT_IO;
        }
        Ok(())
    }

    /// `LOOP_SET_BLOCK_SIZE`: direct I/O goes off if the new size is below its alignment.
    fn set_block_size(&self, disk: &DiskRef<'_>, bs: usize) -> Result {
        let mut c = self.conf.lock();
        if !c.bound {
            return Err(ENXIO);
        }
        let bs = u32::try_from(bs).map_err(|_| EINVAL)?;
        geometry::check_block_size(bs, PAGE_SIZE as u32).map_err(|_| EINVAL)?;
        disk.sync_and_invalidate();
        let (sectors, direct) = disk.reconfigure(|io, lim| {
            let file = io.file.as_ref().ok_or(ENXIO)?;
            let sectors = Self::capacity(file, io.offset, c.sizelimit, bs)?;
            if io.direct && !Self::direct_ok(file, bs, io.offset) {
                io.direct = false;
                lim.dma_alignment = 511;
            }
            lim.logical_block_size = bs;
            lim.physical_block_size = bs;
            lim.io_min = bs;
            io.capacity = sectors;
            Ok::<(u64, bool), Error>((sectors, io.direct))
        })??;
        if !direct {
            c.flags &= !uapi::LO_FLAGS_DIRECT_IO;
        }
        c.block_size = bs;
        disk.set_capacity(sectors);
        Ok(())
    }
}

impl LloopDev {
    /// Zeroes a range: punched out, or with `keep` zeroed in place; filesystems without
    /// `FALLOC_FL_ZERO_RANGE` (tmpfs) get a punch and a re-allocation.
    fn write_zeroes(file: &BackingFile, pos: u64, len: u64, keep: bool) -> Result {
        if !keep {
            return file.fallocate(Falloc::PunchHole, pos, len);
        }
        match file.fallocate(Falloc::ZeroRange, pos, len) {
            Err(e) if e == EOPNOTSUPP => {
                file.fallocate(Falloc::PunchHole, pos, len)?;
                file.fallocate(Falloc::Allocate, pos, len)
            }
            r => r,
        }
    }
}

fn user_read<const N: usize>(arg: usize) -> Result<[u8; N]> {
    let mut b = [0u8; N];
    UserSlice::new(UserPtr::from_addr(arg), N)
        .reader()
        .read_slice(&mut b)?;
    Ok(b)
}

fn config_error(e: uapi::ConfigError) -> Error {
    match e {
        uapi::ConfigError::Flags | uapi::ConfigError::Reserved | uapi::ConfigError::Encryption => {
            EINVAL
        }
    }
}

/// The block device side: requests, opens, ioctls and sysfs attributes, called from
/// `crate::io`.
impl LloopDev {
    /// The attributes in `/sys/block/lloopN/lloop/`, shown by [`LloopDev::show_attr`].
    pub(crate) const ATTRS: &'static [&'static CStr] = &[
        c"backing_file",
        c"offset",
        c"sizelimit",
        c"dio",
        c"autoclear",
        c"submit_stats",
        c"dio_reason",
        c"net_reserve",
        c"dio_kmalloc_buffered",
    ];

    /// Carries out `rq`, in a worker of the disk's `WQ_MEM_RECLAIM` queue with no-I/O
    /// allocation context: allocations made here cannot recurse into the block layer. The
    /// request ends here, or when the I/O started here completes.
    pub(crate) fn handle(&self, io: &Io, rq: Rq) {
        let Some(file) = io.file.as_ref() else {
            return rq.end(Err(EIO));
        };
        let op = rq.command();
        if op == Command::Flush {
            return rq.end(file.fsync());
        }
        let len = u64::from(rq.bytes());
        let Some(pos) = uapi::file_pos(rq.sector(), len, io.offset, io.capacity) else {
            return rq.end(Err(EIO));
        };
        match op {
            Command::Read => read_write(rq, file, pos, io.direct),
            Command::Write | Command::Discard | Command::WriteZeroes if io.read_only => {
                rq.end(Err(EIO))
            }
            Command::Write => read_write(rq, file, pos, io.direct),
            Command::Discard if io.discard => rq.end(file.fallocate(Falloc::PunchHole, pos, len)),
            Command::WriteZeroes if io.discard => {
                let keep = rq.is_no_unmap();
                rq.end(Self::write_zeroes(file, pos, len, keep))
            }
            Command::Discard | Command::WriteZeroes => rq.end(Err(EOPNOTSUPP)),
            Command::Flush | Command::Other => rq.end(Err(EIO)),
        }
    }

    /// Tries to start `rq` in the submitter's context, without blocking; returns the request
    /// if the worker must handle it instead. Called from `queue_rq` with no-I/O allocation
    /// context, only where the submitter may wait for block I/O it issues itself (see
    /// `io::may_submit_here`).
    ///
    /// `IOCB_NOWAIT` is a hint the file may not honour in full: ext4 and XFS still read
    /// uncached extent-map blocks and wait for them, and a transfer that completes before the
    /// call returns converts unwritten extents in a journal transaction of its own. That
    /// sleeps, which the tag set allows (`BLK_MQ_F_BLOCKING`) and the conditions above make
    /// safe: the filesystem's bios go out through the task's plug, which a sleep flushes.
    pub(crate) fn submit_nowait(&self, io: &Io, rq: Rq) -> Option<Rq> {
        // Direct reads and writes only: flushes, discards and buffered I/O go to the worker,
        // and so do writes to a read-only device, which fail there.
        let (Some(file), true) = (io.file.as_ref(), io.direct) else {
            return Some(rq);
        };
        match rq.command() {
            Command::Read => {}
            Command::Write if !io.read_only => {}
            _ => return Some(rq),
        }
        match uapi::file_pos(rq.sector(), u64::from(rq.bytes()), io.offset, io.capacity) {
            Some(pos) => read_write_nowait(rq, file, pos),
            None => Some(rq),
        }
    }

    /// Called when the disk is opened, before the open is counted; an error fails the open.
    pub(crate) fn open(&self, _disk: &DiskRef<'_>, _write: bool) -> Result {
        if self.conf.lock().deleting {
            return Err(ENXIO);
        }
        Ok(())
    }

    /// Called when an opener closes the disk, with the open count already decremented.
    pub(crate) fn release(&self, disk: &DiskRef<'_>) {
        // The last opener is going away: detach if autoclear was asked for, else bring the
        // backing file's times up to date with the writes made through the device (direct
        // writes leave them alone; a flush or the detach updates them too).
        let mut c = self.conf.lock();
        if !c.bound || disk.openers() != 0 {
            return;
        }
        if c.flags & uapi::LO_FLAGS_AUTOCLEAR != 0 {
            if let Err(e) = self.clear(disk, &mut c) {
                pr_warn!("{}: autoclear failed: {:?}\n", disk.name(), e);
            }
        } else if let Err(e) =
            disk.with_io(|io| io.file.as_ref().map_or(Ok(()), |f| f.update_times()))
        {
            pr_warn!("{}: backing file times not updated: {:?}\n", disk.name(), e);
        }
    }

    /// The loop ioctls (the block layer handles its own first).
    pub(crate) fn ioctl(
        &self,
        disk: &DiskRef<'_>,
        _write: bool,
        cmd: u32,
        arg: usize,
    ) -> Result<i32> {
        let admin = caller_is_admin();
        match cmd {
            uapi::LOOP_GET_STATUS64 => {
                if arg == 0 {
                    return Err(EINVAL);
                }
                let mut b = [0u8; uapi::LOOP_INFO64_LEN];
                self.status(disk)?.encode(&mut b);
                UserSlice::new(UserPtr::from_addr(arg), b.len())
                    .writer()
                    .write_slice(&b)?;
                Ok(0)
            }
            uapi::LOOP_SET_FD
            | uapi::LOOP_CONFIGURE
            | uapi::LOOP_CLR_FD
            | uapi::LOOP_SET_STATUS64
            | uapi::LOOP_SET_CAPACITY
            | uapi::LOOP_SET_DIRECT_IO
            | uapi::LOOP_SET_BLOCK_SIZE
                if !admin =>
            {
                Err(EPERM)
            }
            uapi::LOOP_SET_FD => {
                let fd = u32::try_from(arg).map_err(|_| EBADF)?;
                let cfg = uapi::LoopConfig {
                    fd,
                    block_size: 0,
                    info: uapi::LoopInfo64::default(),
                };
                self.configure(disk, &cfg).map(|()| 0)
            }
            uapi::LOOP_CONFIGURE => {
                let b = user_read::<{ uapi::LOOP_CONFIG_LEN }>(arg)?;
                let cfg = uapi::LoopConfig::decode(&b).map_err(config_error)?;
                self.configure(disk, &cfg).map(|()| 0)
            }
            uapi::LOOP_CLR_FD => self.clr_fd(disk).map(|()| 0),
            uapi::LOOP_SET_STATUS64 => {
                let b = user_read::<{ uapi::LOOP_INFO64_LEN }>(arg)?;
                let info = uapi::LoopInfo64::decode(&b).ok_or(EINVAL)?;
                if uapi::info_has_encryption(&b) {
                    return Err(EINVAL);
                }
                self.set_status(disk, &info).map(|()| 0)
            }
            uapi::LOOP_SET_CAPACITY => self.set_capacity(disk).map(|()| 0),
            uapi::LOOP_SET_DIRECT_IO => self.set_direct(disk, arg != 0).map(|()| 0),
            uapi::LOOP_SET_BLOCK_SIZE => self.set_block_size(disk, arg).map(|()| 0),
            _ => Err(ENOTTY),
        }
    }

    /// Writes attribute `ATTRS[index]` into `out` (a page); returns its length.
    pub(crate) fn show_attr(
        &self,
        disk: &DiskRef<'_>,
        index: usize,
        out: &mut [u8],
    ) -> Result<usize> {
        let c = self.conf.lock();
        if !c.bound {
            return Err(ENXIO);
        }
        let mut w = uapi::Writer::new(out);
        match index {
            0 => {
                let mut buf = [0u8; 512];
                disk.with_io(|io| match io.file.as_ref().map(|f| f.path(&mut buf)) {
                    Some(Ok(p)) => w.bytes(p),
                    _ => w.bytes(b"?"),
                });
            }
            1 => w.u64(disk.with_io(|io| io.offset)),
            2 => w.u64(c.sizelimit),
            3 => w.u64(u64::from(c.flags & uapi::LO_FLAGS_DIRECT_IO != 0)),
            4 => w.u64(u64::from(c.flags & uapi::LO_FLAGS_AUTOCLEAR != 0)),
            5 => {
                // Requests started in the submitter, sent to the worker without a try, tried
                // and handed back, and started in the submitter but finished by the worker,
                // since the device was created.
                let n = disk.submit_counts();
                for (i, v) in [n.inline, n.worker, n.declined, n.requeued]
                    .into_iter()
                    .enumerate()
                {
                    if i > 0 {
                        w.bytes(b" ");
                    }
                    w.u64(v);
                }
            }
            6 => {
                // Why direct I/O is off, or "-" while it is on.
                let why = disk.with_io(|io| match io.file.as_ref() {
                    _ if c.flags & uapi::LO_FLAGS_DIRECT_IO != 0 => None,
                    Some(f) => Some(
                        Self::dio_allowed(f, c.block_size, io.offset)
                            .map_or_else(|e| (e, f.dio_align()), |()| (DioOff::Requested, 0)),
                    ),
                    None => None,
                });
                match why {
                    None => w.bytes(b"-"),
                    Some((why, align)) => {
                        w.bytes(why.text().as_bytes());
                        if matches!(why, DioOff::BlockSize | DioOff::Offset) {
                            w.bytes(b" (");
                            w.u64(u64::from(align));
                            w.bytes(b")");
                        }
                    }
                }
            }
            // 1 while the backing file's network transport may use the memory reserves.
            7 => w.u64(u64::from(disk.with_io(|io| {
                io.file.as_ref().is_some_and(|f| f.transport_reserved())
            }))),
            // Requests with slab or kmalloc memory sent through the page cache while direct
            // I/O is on, since the file was attached (NFS cannot reference those pages).
            8 => w.u64(disk.with_io(|io| io.file.as_ref().map_or(0, |f| f.kmalloc_buffered()))),
            _ => return Err(EIO),
        }
        w.bytes(b"\n");
        Ok(w.len())
    }
}
