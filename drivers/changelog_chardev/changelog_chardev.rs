// SPDX-License-Identifier: GPL-2.0

//! Lustre changelogs as a character device per metadata target (LU-7659).
//!
//! For every target `rustre_mdt` attaches, `/dev/changelog-<fsname>-MDT<xxxx>` (mode 0600)
//! streams its changelog: on the first `read()` or `poll()` a kernel thread for that open file
//! walks the catalog from the file position and fills a ring of whole records; `read()` hands
//! out as many whole records as fit, in Lustre's binary format. The file position is the next
//! record index; `lseek()` moves it forward; `write("clear:cl<N>:<endrec>")` clears; ioctls
//! set follow mode, the NID format and a user's filter.
//!
//! See `Documentation/changelog_chardev.rst`.

use kernel::{
    fs::{file::flags::O_NONBLOCK, File, Kiocb, LocalFile},
    iov::{IovIterDest, IovIterSource},
    kthread::{self, KThread},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    new_condvar, new_mutex, new_poll_condvar,
    prelude::*,
    str::CString,
    sync::{poll::PollCondVar, poll::PollTable, Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
    uaccess::{UserPtr, UserSlice},
};

use kernel::ffi::c_void;

// Pure logic, shared with the userspace tools (tools/rustre-logic) and tested on the host too;
// not every item is used by the module itself.
#[allow(dead_code, unreachable_pub)]
mod control;
#[allow(dead_code, unreachable_pub)]
#[path = "../../mdt/fid.rs"]
mod fid;
#[allow(dead_code, unreachable_pub)]
#[path = "../../mdt/record.rs"]
mod record;
#[allow(dead_code, unreachable_pub)]
mod ring;

// The client side of rustre_mdt's interface.
#[allow(dead_code, unreachable_pub)]
#[path = "../../mdt/client.rs"]
mod client;

use record::{Record, CR_MAXSIZE, REC_HDR_LEN};

module! {
    type: ChangelogChardev,
    name: "changelog_chardev",
    authors: ["rustre developers"],
    description: "Lustre changelog character devices (LU-7659)",
    license: "GPL",
    params: {
        ring_records: u32 {
            default: 1024,
            description: "Records prefetched per open file (16..65536; Lustre: 1024)",
        },
    },
}

/// Records prefetched per reader by default, as Lustre's `CDEV_CHLG_MAX_PREFETCH`.
const RING_RECORDS: u32 = 1024;
/// Bytes of records the producer asks the catalog for at a time.
const BATCH: usize = 64 << 10;
/// `OBD_IOC_CHLG_SET_FLAGS`, `_IOR('f', 233, long)`: the flags, passed by value.
const OBD_IOC_CHLG_SET_FLAGS: u32 = 0x8008_66e9;
/// `OBD_IOC_CHANGELOG_FILTER`, `_IOW('f', 179, struct changelog_filter)`.
const OBD_IOC_CHANGELOG_FILTER: u32 = 0x4030_66b3;
/// `RUSTRE_IOC_KUC_SEND`, `_IOW('f', 250, struct { u32 wfd; u32 flags; u64 startrec; })`:
/// the pre-LU-7659 transport, kept only as a baseline to measure the device against.
const RUSTRE_IOC_KUC_SEND: u32 = 0x4010_66fa;
/// `KUC_MAGIC`.
const KUC_MAGIC: u16 = 0x191c;
/// `KUC_TRANSPORT_CHANGELOG`, before 2.10.
const KUC_TRANSPORT_CHANGELOG: u8 = 3;
/// `CL_RECORD` and `CL_EOF` message types.
const KUC_CL_RECORD: u16 = 10;
const KUC_CL_EOF: u16 = 11;
/// `sizeof(struct kuc_hdr)`.
const KUC_HDR_LEN: usize = 8;
/// `sizeof(struct changelog_filter)`.
const FILTER_LEN: usize = 48;
/// `CHANGELOG_FLAG_FOLLOW`.
const FLAG_FOLLOW: u64 = 0x01;
/// `CHANGELOG_FLAG_NID_BE`.
const FLAG_NID_BE: u64 = 0x10;
/// How long the producer sleeps at most before looking at its stop flag again.
const TICK_MS: u32 = 200;

const POLLIN: u32 = kernel::bindings::POLLIN;
const POLLRDNORM: u32 = kernel::bindings::POLLRDNORM;
const POLLERR: u32 = kernel::bindings::POLLERR;
const POLLHUP: u32 = kernel::bindings::POLLHUP;
/// `SEEK_SET` and `SEEK_CUR`, the `whence` of `lseek()`.
const SEEK_SET: u32 = kernel::bindings::SEEK_SET;
const SEEK_CUR: u32 = kernel::bindings::SEEK_CUR;

/// Maps a rejected control command to the errno the writer sees.
fn control_errno(_err: control::ControlError) -> Error {
    EINVAL
}

/// The device of one target.
struct ChlgDevice {
    target: client::Target,
}

/// Creates and removes the devices as targets come and go.
#[pin_data]
struct Devices {
    /// The device of every attached target.
    #[pin]
    devices: client::PerTarget<Pin<KBox<MiscDeviceRegistration<Reader>>>>,
}

// SAFETY: Nothing is made under the targets' debugfs directories.
unsafe impl client::Observe for Devices {
    fn attached(
        &self,
        target: client::Target,
        name: &CStr,
        _dir: client::TargetDir<'_>,
        _debug: &kernel::debugfs::Dir,
    ) {
        let id = target.as_raw();
        let res = (|| -> Result {
            let devname = CString::try_from_fmt(fmt!("changelog-{}", name))?;
            let dev = Arc::new(ChlgDevice { target }, GFP_KERNEL)?;
            let opts = MiscDeviceOptions {
                name: &devname,
                mode: 0o600,
            };
            let reg = KBox::pin_init(MiscDeviceRegistration::register(opts, dev), GFP_KERNEL)?;
            self.devices.insert(id, reg)
        })();
        if let Err(e) = res {
            pr_err!("cannot create /dev/changelog-{}: {:?}\n", name, e);
        }
    }

    fn detaching(&self, id: *const c_void) {
        self.devices.remove(id);
    }
}

/// The record queue of a reader, filled by its producer thread.
///
/// Records are queued packed, one after the other, in `data` (a byte ring: only a record that
/// would straddle its end moves to its start), so that `read()` copies runs of them to the
/// reader at once. `ring` bounds their number and indexes what is known of each.
struct State {
    ring: ring::RingIndex,
    /// `capacity * CR_MAXSIZE` bytes, placed by `bytes`.
    data: KVVec<u8>,
    bytes: ring::ByteRing,
    /// Position in `bytes`, length and index of the record in each slot of `ring`.
    starts: KVVec<u64>,
    lens: KVVec<u16>,
    idx: KVVec<u64>,
    /// Next index the producer asks the catalog for.
    fetch: u64,
    /// Next index for the reader (the file position).
    pos: u64,
    /// Bumped by `lseek`, so a batch fetched before it is not queued.
    generation: u64,
    /// `CHANGELOG_FLAG_*` from `OBD_IOC_CHLG_SET_FLAGS`.
    flags: u64,
    /// Record types to pass, 0 for all (`OBD_IOC_CHANGELOG_FILTER`).
    user_mask: u32,
    /// The producer reached the end of the catalog (without follow).
    eof: bool,
    /// The producer failed.
    err: Option<Error>,
    /// The file is being released.
    stop: bool,
}

/// What the producer needs to know of a reader to stage records for it.
#[derive(Clone, Copy, Default)]
struct View {
    /// Records before this index are not wanted.
    pos: u64,
    /// `State::user_mask`.
    user_mask: u32,
    /// `CHANGELOG_FLAG_NID_BE` is set.
    nid_be: bool,
}

impl View {
    /// Whether records staged for `other` are what this view wants (the position is checked
    /// record by record when queueing).
    fn same_filter(&self, other: &View) -> bool {
        self.user_mask == other.user_mask && self.nid_be == other.nid_be
    }
}

/// A batch of records made ready for a reader by its producer, outside the lock: decoded,
/// filtered and, for a reader without `CHANGELOG_FLAG_NID_BE`, re-encoded with the NID in
/// the `lnet_nid_t` form (never longer than the stored form, so [`BATCH`] bytes suffice).
/// What does not fit in the reader's queue stays here for the next round.
struct Stage {
    /// The records, packed.
    bytes: KVVec<u8>,
    /// Index and length of each, in order.
    recs: KVVec<(u64, u16)>,
    /// The first record not queued yet, and where its bytes start.
    cursor: usize,
    src: usize,
    /// The index after the batch, and the generation and view it was staged for.
    next: u64,
    gen: u64,
    view: View,
}

impl Stage {
    fn new() -> Result<Self> {
        Ok(Self {
            bytes: KVVec::with_capacity(BATCH, GFP_KERNEL)?,
            recs: KVVec::with_capacity(BATCH / REC_HDR_LEN, GFP_KERNEL)?,
            cursor: 0,
            src: 0,
            next: 0,
            gen: 0,
            view: View::default(),
        })
    }

    /// Whether staged records are left to queue.
    fn left(&self) -> bool {
        self.cursor < self.recs.len()
    }

    /// Forgets the records not queued: they are fetched again.
    fn drop_rest(&mut self) {
        self.cursor = self.recs.len();
    }

    /// Stages the records of `batch` (whole records, as the catalog hands them out, up to
    /// index `next`) that `view` wants, for generation `gen`. `EUCLEAN` if one does not
    /// decode.
    fn fill(&mut self, mut batch: &[u8], view: View, gen: u64, next: u64) -> Result {
        self.bytes.clear();
        self.recs.clear();
        (self.cursor, self.src, self.next, self.gen, self.view) = (0, 0, next, gen, view);
        while !batch.is_empty() {
            // `len` is at least `REC_HDR_LEN` and at most `batch.len()`: `decode` bounds it.
            let (mut rec, len) = Record::decode(batch).map_err(|_| EUCLEAN)?;
            let wanted = view.user_mask == 0 || view.user_mask & record::type_bit(rec.rtype) != 0;
            if wanted && rec.index >= view.pos {
                let at = self.bytes.len();
                let stored = if view.nid_be {
                    self.bytes.extend_from_slice(&batch[..len], GFP_KERNEL)?;
                    len
                } else {
                    record::nid_to_lnet_nid_t(&mut rec);
                    // Within the capacity: the form is never longer than the batch's.
                    self.bytes.extend_with(rec.size(), 0, GFP_KERNEL)?;
                    let n = rec.encode(&mut self.bytes[at..]).map_err(|_| EUCLEAN)?;
                    self.bytes.truncate(at + n);
                    n
                };
                // `stored` is at most `CR_MAXSIZE`; there are at most `BATCH / REC_HDR_LEN`
                // records in a batch.
                self.recs.push((rec.index, stored as u16), GFP_KERNEL)?;
            }
            batch = &batch[len..];
        }
        Ok(())
    }
}

impl State {
    /// Copies `len` staged bytes from `src` in `stage` to `dst` in `data`, where the byte ring
    /// placed them.
    fn copy_in(&mut self, stage: &[u8], src: usize, dst: usize, len: usize) {
        match (self.data.get_mut(dst..dst + len), stage.get(src..src + len)) {
            (Some(to), Some(from)) => to.copy_from_slice(from),
            // Cannot happen (the byte ring placed `dst`, the stage holds `src`): the reader is
            // told with an error rather than the kernel panicking.
            _ => self.err = Some(EIO),
        }
    }

    /// Whether the producer must wait for the reader: no slot, or no room for the largest
    /// record.
    fn is_full(&self) -> bool {
        self.ring.is_full() || self.bytes.place(CR_MAXSIZE as u32).is_none()
    }

    /// Releases the `n` oldest records.
    fn consume(&mut self, n: u32) {
        self.ring.consume(n);
        match self.ring.read_slot(0) {
            Some(s) => {
                if let Some(&start) = self.starts.get(s) {
                    self.bytes.release_to(start);
                }
            }
            None => self.bytes.clear(),
        }
    }
}

/// What a reader and its producer thread share.
#[pin_data]
struct Inner {
    dev: Arc<ChlgDevice>,
    #[pin]
    st: Mutex<State>,
    /// Readers and pollers wait here for records.
    #[pin]
    cons: PollCondVar,
    /// The producer waits here for room or a seek.
    #[pin]
    prod: CondVar,
}

/// An open changelog device file.
#[pin_data(PinnedDrop)]
struct Reader {
    inner: Arc<Inner>,
    #[pin]
    thread: Mutex<Option<KThread>>,
    /// The KUC sender of `RUSTRE_IOC_KUC_SEND`, if one was started.
    #[pin]
    kuc: Mutex<Option<KThread>>,
    _holder: client::Holder,
}

/// The pre-LU-7659 changelog transport: one KUC message (`kuc_hdr` + record) per record,
/// written into the pipe `pipe` by a kernel thread, then a `CL_EOF` message. The reader does
/// two `read()`s per record. A baseline for measurements, nothing else. `kthread_stop()`
/// interrupts a write blocked on a full pipe.
fn kuc_send(target: &client::Target, pipe: &File, mut from: u64) {
    let Ok(mut buf) = KVVec::from_elem(0u8, BATCH, GFP_KERNEL) else {
        return;
    };
    let mut msg = [0u8; KUC_HDR_LEN + CR_MAXSIZE];
    let hdr = |msg: &mut [u8], msgtype: u16, len: usize| {
        msg[0..2].copy_from_slice(&KUC_MAGIC.to_le_bytes());
        msg[2] = KUC_TRANSPORT_CHANGELOG;
        msg[3] = 0;
        msg[4..6].copy_from_slice(&msgtype.to_le_bytes());
        msg[6..8].copy_from_slice(&(len as u16).to_le_bytes());
    };
    while !kthread::should_stop() {
        let Ok((n, next)) = target.read(from, &mut buf) else {
            return;
        };
        if n == 0 {
            break;
        }
        let mut batch = &buf[..n];
        while !batch.is_empty() {
            // `len` is at most `CR_MAXSIZE` (and `batch.len()`): `decode` bounds it.
            let Ok((_, len)) = Record::decode(batch) else {
                return;
            };
            hdr(&mut msg, KUC_CL_RECORD, KUC_HDR_LEN + len);
            msg[KUC_HDR_LEN..KUC_HDR_LEN + len].copy_from_slice(&batch[..len]);
            // One write per message, as libcfs_kkuc_msg_put; a killed or closed pipe ends it.
            if kernel::kfile::write_stream(pipe, &msg[..KUC_HDR_LEN + len]).is_err() {
                return;
            }
            batch = &batch[len..];
        }
        from = next;
    }
    hdr(&mut msg, KUC_CL_EOF, KUC_HDR_LEN);
    let _ = kernel::kfile::write_stream(pipe, &msg[..KUC_HDR_LEN]);
}

impl Inner {
    /// The producer: walks the catalog from `fetch` and queues whole records.
    fn produce(self: Arc<Self>) {
        let Ok(mut buf) = KVVec::from_elem(0u8, BATCH, GFP_KERNEL) else {
            self.fail(ENOMEM);
            return;
        };
        let Ok(mut stage) = Stage::new() else {
            self.fail(ENOMEM);
            return;
        };
        loop {
            let (from, room, gen, view) = {
                let mut st = self.st.lock();
                while (st.is_full() || st.eof) && !st.stop && !kthread::should_stop() {
                    let _ = self
                        .prod
                        .wait_interruptible_timeout(&mut st, msecs_to_jiffies(TICK_MS));
                }
                if st.stop || kthread::should_stop() {
                    return;
                }
                let view = View {
                    pos: st.pos,
                    user_mask: st.user_mask,
                    nid_be: st.flags & FLAG_NID_BE != 0,
                };
                (
                    st.fetch,
                    st.ring.capacity() - st.ring.len(),
                    st.generation,
                    view,
                )
            };
            // What the last batch left when the queue filled goes in first, without a new
            // read, unless a seek or a new filter made it stale.
            if stage.left() && stage.gen == gen && stage.view.same_filter(&view) {
                self.queue(&mut stage);
                continue;
            }
            let want = (room as usize * CR_MAXSIZE).min(BATCH);
            let (n, next) = match self.dev.target.read(from, &mut buf[..want]) {
                Ok(r) => r,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            };
            if n == 0 {
                let follow = self.st.lock().flags & FLAG_FOLLOW != 0;
                if follow {
                    // Woken by the catalog's flusher when records become durable.
                    match self.dev.target.wait(from.saturating_sub(1), TICK_MS) {
                        Ok(_) | Err(ERESTARTSYS) => continue,
                        Err(e) => {
                            self.fail(e);
                            return;
                        }
                    }
                }
                let mut st = self.st.lock();
                if st.generation == gen && st.flags & FLAG_FOLLOW == 0 {
                    st.eof = true;
                    self.cons.notify_all();
                }
                continue;
            }
            match stage.fill(&buf[..n], view, gen, next) {
                Ok(()) => self.queue(&mut stage),
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
    }

    /// Queues the staged records not queued yet. Runs of records go into the queue in one
    /// copy each: what is done under the lock is a walk over their lengths and a copy or two.
    /// Where the queue fills, the stage keeps the rest for the next call.
    fn queue(&self, stage: &mut Stage) {
        let mut st = self.st.lock();
        // A seek, a new filter or new flags since the batch was staged: fetch it again.
        if st.generation != stage.gen
            || st.user_mask != stage.view.user_mask
            || (st.flags & FLAG_NID_BE != 0) != stage.view.nid_be
        {
            stage.drop_rest();
            return;
        }
        let mut fetched_to = stage.next;
        // The run being gathered: where it starts in `stage` and in `data`, and its bytes.
        let (mut run_src, mut run_dst, mut run_len) = (0usize, 0usize, 0usize);
        while let Some(&(index, len)) = stage.recs.get(stage.cursor) {
            let len = usize::from(len);
            let src = stage.src;
            // Records before a seek that did not need a new fetch are not queued.
            if index >= st.pos {
                let Some((slot, start)) = st.ring.write_slot().zip(st.bytes.place(len as u32))
                else {
                    // Full: the rest waits in the stage until the reader has made room.
                    fetched_to = index;
                    break;
                };
                let at = st.bytes.offset(start);
                if run_len > 0 && (run_src + run_len != src || run_dst + run_len != at) {
                    st.copy_in(&stage.bytes, run_src, run_dst, run_len);
                    run_len = 0;
                }
                if run_len == 0 {
                    (run_src, run_dst) = (src, at);
                }
                run_len += len;
                st.bytes.commit(start, len as u32);
                st.starts[slot] = start;
                st.lens[slot] = len as u16;
                st.idx[slot] = index;
                st.ring.push();
            }
            stage.cursor += 1;
            stage.src += len;
        }
        if run_len > 0 {
            st.copy_in(&stage.bytes, run_src, run_dst, run_len);
        }
        st.fetch = fetched_to;
        self.cons.notify_all();
    }

    fn fail(&self, e: Error) {
        let mut st = self.st.lock();
        st.err = Some(e);
        self.cons.notify_all();
        drop(st);
        // Stay until stopped, as a kthread must.
        while !kthread::should_stop() {
            let mut st = self.st.lock();
            if st.stop {
                return;
            }
            let _ = self
                .prod
                .wait_interruptible_timeout(&mut st, msecs_to_jiffies(TICK_MS));
        }
    }
}

impl Reader {
    /// Starts the producer on first use.
    fn start(&self) -> Result {
        let mut t = self.thread.lock();
        if t.is_none() {
            let inner = self.inner.clone();
            *t = Some(KThread::run(fmt!("chlg_load"), move || inner.produce())?);
        }
        Ok(())
    }
}

#[pinned_drop]
impl PinnedDrop for Reader {
    fn drop(self: Pin<&mut Self>) {
        {
            let mut st = self.inner.st.lock();
            st.stop = true;
            self.inner.prod.notify_all();
            self.inner.cons.notify_all();
        }
        // Stops and reaps the producer (it checks `stop` at least every TICK_MS).
        self.thread.lock().take();
        // Stops the KUC sender, even one blocked on a full pipe.
        self.kuc.lock().take();
    }
}

#[vtable]
impl MiscDevice for Reader {
    type OwnerModule = crate::LocalModule;
    type Ptr = Pin<KBox<Self>>;
    type RegistrationData = Arc<ChlgDevice>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        let dev = misc.data();
        let holder = dev.target.hold()?;
        let cap = module_parameters::ring_records.value().clamp(16, 65536);
        let ring = ring::RingIndex::new(cap).ok_or(EINVAL)?;
        // At most 65536 * 952 bytes: a `u32`.
        let size = cap as usize * CR_MAXSIZE;
        let bytes = ring::ByteRing::new(size as u32).ok_or(EINVAL)?;
        let data = KVVec::from_elem(0u8, size, GFP_KERNEL)?;
        let starts = KVVec::from_elem(0u64, cap as usize, GFP_KERNEL)?;
        let lens = KVVec::from_elem(0u16, cap as usize, GFP_KERNEL)?;
        let idx = KVVec::from_elem(0u64, cap as usize, GFP_KERNEL)?;
        let inner = Arc::pin_init(
            pin_init!(Inner {
                dev: dev.clone(),
                st <- new_mutex!(State {
                    ring,
                    data,
                    bytes,
                    starts,
                    lens,
                    idx,
                    fetch: 0,
                    pos: 0,
                    generation: 0,
                    flags: 0,
                    user_mask: 0,
                    eof: false,
                    err: None,
                    stop: false,
                }),
                cons <- new_poll_condvar!(),
                prod <- new_condvar!(),
            }),
            GFP_KERNEL,
        )?;
        KBox::try_pin_init(
            try_pin_init!(Reader {
                inner,
                thread <- new_mutex!(None),
                kuc <- new_mutex!(None),
                _holder: holder,
            }),
            GFP_KERNEL,
        )
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, buf: &mut IovIterDest<'_>) -> Result<usize> {
        let this = kiocb.file();
        this.start()?;
        let inner = &this.inner;
        let mut st = inner.st.lock();
        loop {
            if !st.ring.is_empty() {
                let lens = (0..st.ring.len())
                    .filter_map(|n| st.ring.read_slot(n))
                    .map(|s| usize::from(st.lens[s]));
                let (n, _) = record::fit_records(lens, buf.len()).map_err(|_| EINVAL)?;
                let mut done = 0;
                let mut left = n as u32;
                while left > 0 {
                    // The oldest records that lie one after the other in `data`: one copy.
                    let (mut run, mut bytes, mut last) = (0u32, 0usize, 0u64);
                    let mut at = None;
                    while run < left {
                        let Some(s) = st.ring.read_slot(run) else {
                            break;
                        };
                        let off = st.bytes.offset(st.starts[s]);
                        match at {
                            None => at = Some(off),
                            Some(a) if a + bytes == off => {}
                            Some(_) => break,
                        }
                        bytes += usize::from(st.lens[s]);
                        last = st.idx[s];
                        run += 1;
                    }
                    let Some(at) = at else { break };
                    // A fault here keeps the records not copied queued.
                    let src = st.data.get(at..at + bytes).ok_or(EINVAL)?;
                    if buf.copy_to_iter(src) < bytes {
                        if done == 0 {
                            return Err(EFAULT);
                        }
                        break;
                    }
                    done += bytes;
                    // The index is the catalog's: `u64::MAX` would overflow.
                    st.pos = last.saturating_add(1);
                    st.consume(run);
                    left -= run;
                }
                *kiocb.ki_pos_mut() = st.pos as i64;
                inner.prod.notify_all();
                return Ok(done);
            }
            if let Some(e) = st.err {
                return Err(e);
            }
            if st.eof {
                return Ok(0);
            }
            if kiocb.file_flags() & O_NONBLOCK != 0 {
                return Err(EAGAIN);
            }
            if inner.cons.wait_interruptible(&mut st) {
                return Err(ERESTARTSYS);
            }
        }
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, buf: &mut IovIterSource<'_>) -> Result<usize> {
        let this = kiocb.file();
        let len = buf.len();
        if len > control::CONTROL_CMD_MAX {
            return Err(EINVAL);
        }
        let mut cmd = [0u8; control::CONTROL_CMD_MAX];
        if buf.copy_from_iter(&mut cmd[..len]) < len {
            return Err(EFAULT);
        }
        let clear = control::parse_control(&cmd[..len]).map_err(control_errno)?;
        let mut id = [0u8; 16];
        let mut w = record_id_writer(&mut id);
        let _ = core::fmt::Write::write_fmt(&mut w, format_args!("{}", clear.user));
        let n = w.len;
        this.inner.dev.target.clear(&id[..n], clear.endrec)?;
        Ok(len)
    }

    fn llseek(
        this: Pin<&Self>,
        _file: &LocalFile,
        pos: i64,
        offset: i64,
        whence: u32,
    ) -> Result<i64> {
        let new = match whence {
            SEEK_SET => offset,
            SEEK_CUR => pos.checked_add(offset).ok_or(EINVAL)?,
            _ => return Err(EINVAL),
        };
        if new < pos {
            return Err(EINVAL);
        }
        let inner = &this.inner;
        let mut st = inner.st.lock();
        let new_u = new as u64;
        // Drop queued records before the new position.
        while let Some(s) = st.ring.read_slot(0) {
            if st.idx[s] >= new_u {
                break;
            }
            st.consume(1);
        }
        st.pos = new_u;
        if st.fetch < new_u {
            st.fetch = new_u;
            st.generation += 1;
            st.eof = false;
        }
        inner.prod.notify_all();
        Ok(new)
    }

    fn poll(this: Pin<&Self>, file: &File, table: PollTable<'_>) -> u32 {
        if this.start().is_err() {
            return POLLERR;
        }
        table.register_wait(file, &this.inner.cons);
        let st = this.inner.st.lock();
        let mut mask = 0;
        if !st.ring.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if st.err.is_some() {
            mask |= POLLERR;
        }
        if st.eof {
            mask |= POLLHUP;
        }
        mask
    }

    fn ioctl(this: Pin<&Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let inner = &this.inner;
        match cmd {
            OBD_IOC_CHLG_SET_FLAGS => {
                let mut st = inner.st.lock();
                st.flags = arg as u64;
                if st.flags & FLAG_FOLLOW != 0 {
                    st.eof = false;
                }
                inner.prod.notify_all();
                Ok(0)
            }
            OBD_IOC_CHANGELOG_FILTER => {
                let mut f = [0u8; FILTER_LEN];
                UserSlice::new(UserPtr::from_addr(arg), FILTER_LEN)
                    .reader()
                    .read_slice(&mut f)?;
                let cf_mask = u64::from_le_bytes([f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]]);
                let id = u32::from_le_bytes([f[8], f[9], f[10], f[11]]);
                let name = &f[16..46];
                let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
                let um = inner.dev.target.user_mask(id, name)?;
                let mask = if cf_mask != 0 {
                    (cf_mask as u32) & um
                } else {
                    um
                };
                inner.st.lock().user_mask = mask;
                Ok(0)
            }
            RUSTRE_IOC_KUC_SEND => {
                let mut req = [0u8; 16];
                UserSlice::new(UserPtr::from_addr(arg), 16)
                    .reader()
                    .read_slice(&mut req)?;
                let wfd = u32::from_le_bytes([req[0], req[1], req[2], req[3]]);
                let start = u64::from_le_bytes([
                    req[8], req[9], req[10], req[11], req[12], req[13], req[14], req[15],
                ]);
                let pipe = kernel::kfile::fget_writable_pipe(wfd)?;
                let target = inner.dev.target.clone();
                let t = KThread::run(fmt!("kuc_send"), move || kuc_send(&target, &pipe, start))?;
                // A previous sender is stopped (dropped) here.
                drop(this.kuc.lock().replace(t));
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }
}

/// A writer for a user id in decimal.
fn record_id_writer(buf: &mut [u8; 16]) -> IdWriter<'_> {
    IdWriter { buf, len: 0 }
}

struct IdWriter<'a> {
    buf: &'a mut [u8; 16],
    len: usize,
}

impl core::fmt::Write for IdWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let b = s.as_bytes();
        let end = self.len + b.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(b);
        self.len = end;
        Ok(())
    }
}

#[pin_data]
struct ChangelogChardev {
    /// Every device goes with it (no file is open: each pins this module), after the observer
    /// is unregistered.
    #[pin]
    devices: client::Observation<Devices>,
}

impl kernel::InPlaceModule for ChangelogChardev {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            devices <- client::Observation::new(try_pin_init!(Devices {
                devices <- client::PerTarget::new(c"changelog_chardev::devices"),
            }? Error)),
            _: {
                pr_info!(
                    "loaded, ring of {} records per reader\n",
                    module_parameters::ring_records.value()
                );
            },
        }? Error)
    }
}

#[kunit_tests(rustre_changelog_chardev)]
mod tests {
    use super::*;

    #[test]
    fn clear_command_vectors() {
        for (input, want) in control::CONTROL_CASES {
            assert_eq!(control::parse_control(input), *want);
        }
    }

    #[test]
    fn clear_command_errors_are_einval() {
        for (input, want) in control::CONTROL_CASES {
            if let Err(e) = want {
                assert_eq!(control_errno(*e), EINVAL);
                assert!(control::parse_control(input).is_err());
            }
        }
    }

    #[test]
    fn ring_wraps_around() {
        assert_eq!(ring::ring_self_test(), Ok(()));
    }

    #[test]
    fn byte_ring_laps() {
        assert_eq!(ring::byte_ring_self_test(), Ok(()));
    }

    #[test]
    fn ring_of_lustre_size() {
        let ring = ring::RingIndex::new(RING_RECORDS);
        assert!(ring.is_some());
        if let Some(mut r) = ring {
            for _ in 0..RING_RECORDS {
                assert!(r.push());
            }
            assert!(r.is_full());
            assert_eq!(r.write_slot(), None);
        }
    }

    #[test]
    fn whole_records_into_short_buffers() {
        for (lens, room, want) in record::FIT_CASES {
            assert_eq!(record::fit_records(lens.iter().copied(), *room), *want);
        }
    }

    #[test]
    fn nid_for_readers_without_nid_be() {
        let (mut rec, _) = record::sample_rename();
        record::nid_to_lnet_nid_t(&mut rec);
        assert_eq!(rec.extra.map(|e| e.nid_be), Some(false));
        assert_eq!(rec.extra.and_then(|e| e.nid).map(|n| n[6]), Some(9));
    }

    #[test]
    fn ioctl_numbers() {
        // _IOR('f', 233, long) and _IOW('f', 179, struct changelog_filter) on LP64.
        assert_eq!(
            OBD_IOC_CHLG_SET_FLAGS,
            (2 << 30) | (8 << 16) | (0x66 << 8) | 233
        );
        assert_eq!(
            OBD_IOC_CHANGELOG_FILTER,
            (1 << 30) | (48 << 16) | (0x66 << 8) | 179
        );
    }
}
