// SPDX-License-Identifier: GPL-2.0

//! The HSM state of files: finding a file by FID, its `trusted.hsm` state, release and the
//! state change a completed action makes.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::{
    fsobj::{FsPath, Stat},
    prelude::*,
};

use super::{Hsm, Item};
use crate::fid::Fid;
use crate::mask::Action;
use crate::state::{self, HsmAttrs, HsmEvent};
use crate::uapi::{self, Copy};
use crate::BStr;

/// What a release punches past the end of file rounds up to: any page or block size.
const RELEASE_ALIGN: u64 = 64 << 10;
/// What a release keeps of a file's data at least: its first block (`st_blksize`, the block
/// size or a larger preferred I/O size, bounded to 4 KiB to [`RELEASE_ALIGN`]). A file with no data at all is one hole:
/// `lseek(SEEK_DATA)` fails with `ENXIO` and `st_blocks` is 0, which has `cp` (and other
/// programs that skip holes) write a file of zeros without reading a byte, so without a
/// pre-content event. With its first block resident, the first read of such a program
/// restores the whole file.
const RELEASE_KEEP: u64 = 4096;

/// The object id IGIF FIDs of a tmpfs file carry in 3-word handles (`FILEID_INO32_GEN`).
const FILEID_INO32_GEN: i32 = 1;

/// XFS's flag on handle types that carry a 64-bit inode number (`fs/xfs/xfs_export.h`).
const XFS_FILEID_TYPE_64FLAG: i32 = 0x80;

/// Maps a state error to its errno.
pub(super) fn state_errno(e: state::StateError) -> Error {
    match e {
        state::StateError::ArchiveIdChange => EINVAL,
        state::StateError::NotReleasable => EPERM,
        state::StateError::Corrupt => EIO,
    }
}

impl Hsm {
    /// Finds the file with `fid` (see [`Fid::from_inode`]) on the target: `ENOENT` if there is
    /// none.
    pub(super) fn lookup(&self, fid: &Fid) -> Result<(FsPath, Stat)> {
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
    pub(super) fn data_version(st: &Stat) -> u64 {
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

    /// Releases a file: drops its data (the size stays) once the archive holds it.
    ///
    /// Refused with `EOPNOTSUPP` on a filesystem without pre-content events, or while the
    /// target's pre-content watch is not up, where nothing could bring the data back on
    /// access, and with `EBUSY` while anyone else has the file
    /// open or mapped (Lustre takes an exclusive lease for this too). The write lease held
    /// from the check to the end makes a concurrent open wait until the release is done.
    pub(super) fn release(&self, fid: &Fid, p: &FsPath) -> Result {
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

    /// Records the end of `action` on `fid`: the file's new state and a `CL_HSM` record.
    /// `EBUSY` if an archive's file changed while it was copied (the archive then counts as
    /// failed).
    pub(super) fn complete(&self, action: Action, fid: &Fid, archive_id: u32, c: &Copy) -> Result {
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
