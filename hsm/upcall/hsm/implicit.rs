// SPDX-License-Identifier: GPL-2.0

//! Implicit restore: an access to a released file waits for its RESTORE.

use core::sync::atomic::Ordering;

use kernel::{
    fsnotify::{OpenPerm, PreAccess, PreContentHandler, PreContentWatch},
    fsobj::FsPath,
    prelude::*,
    sync::{Arc, CondVarTimeoutResult},
    time::msecs_to_jiffies,
};

use super::{Control, Hsm};
use crate::fid::Fid;
use crate::mask::Action;
use crate::state;
use crate::uapi;
use crate::BStr;

impl Hsm {
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
