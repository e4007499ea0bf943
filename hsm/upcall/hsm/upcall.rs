// SPDX-License-Identifier: GPL-2.0

//! Dispatch through the upcall: `hsm.upcall_path` run by `call_usermodehelper` for the
//! actions in `hsm.upcall_mask`.

use core::sync::atomic::Ordering;

use kernel::{fsobj::FsPath, prelude::*, str::CString, umh::Command};

use super::Hsm;
use crate::argv;
use crate::fid::Fid;
use crate::mask::{self, Action};
use crate::uapi::Copy;
use crate::BStr;

impl Hsm {
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
    pub(super) fn upcall(
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

    /// The action and file of an upcall copy (`EPROTO` for an action the upcall cannot have).
    pub(super) fn upcall_target(c: &Copy) -> Result<(Action, Fid)> {
        match mask::ACTIONS
            .iter()
            .copied()
            .find(|a| *a as u32 == c.upcall_action())
        {
            Some(a @ (Action::Archive | Action::Remove)) => Ok((a, c.hai.fid)),
            _ => Err(EPROTO),
        }
    }
}
