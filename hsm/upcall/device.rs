// SPDX-License-Identifier: GPL-2.0

//! `/dev/hsm-<target>`: HSM requests, file states, upcall copies and copytools, through the
//! ioctls of [`crate::uapi`] (the LU-7659 model: a character device in place of KUC pipes).
//!
//! A copytool registers its open file with `IOC_CT_START`; each `read()` then hands it one
//! `hsm_action_list` of as many actions of one archive as its buffer and `max_requests` allow
//! (blocking unless `O_NONBLOCK`; `poll()` says when one is there), and it
//! reports with `IOC_COPY_START`, `IOC_PROGRESS` as the copy goes on, and `IOC_COPY_END`.
//! Closing the file gives its unfinished
//! actions back to the queue.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::{
    fs::{file::flags::O_NONBLOCK, File, Kiocb, LocalFile},
    fsobj::FsPath,
    iov::IovIterDest,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    prelude::*,
    sync::{poll::PollTable, Arc},
    uaccess::{UserPtr, UserSlice},
};

use crate::client::Holder;
use crate::hsm::{request_errno, Hsm};
use crate::uapi;

const POLLIN: u32 = kernel::bindings::POLLIN;
const POLLRDNORM: u32 = kernel::bindings::POLLRDNORM;

/// Largest action list handed out: a batch within 64 KiB (Lustre's KUC messages have a 16-bit
/// length), or one item with the most data a request may carry if that is more.
const HAL_MAX: usize = {
    let one = 64 + 128 + uapi::ACTION_ITEM_LEN + uapi::MAX_DATA as usize;
    if one > 65535 {
        one
    } else {
        65535
    }
};

/// An open HSM device file.
pub(crate) struct HsmFile {
    hsm: Arc<Hsm>,
    /// The copytool id after `IOC_CT_START`, 0 before.
    agent: AtomicU64,
    _holder: Holder,
}

impl HsmFile {
    fn agent(&self) -> u64 {
        self.agent.load(Ordering::Acquire)
    }

    fn ioctl_request(&self, arg: usize) -> Result<isize> {
        let mut head = [0u8; uapi::REQUEST_LEN];
        UserSlice::new(UserPtr::from_addr(arg), head.len())
            .reader()
            .read_slice(&mut head)?;
        let len = uapi::Request::decode(&head)
            .and_then(|r| r.checked_len())
            .map_err(request_errno)?;
        let mut req = KVVec::with_capacity(len, GFP_KERNEL)?;
        UserSlice::new(UserPtr::from_addr(arg), len)
            .reader()
            .read_all(&mut req, GFP_KERNEL)?;
        self.hsm.request(&req)?;
        Ok(0)
    }

    fn ioctl_copy(&self, arg: usize, end: bool) -> Result<isize> {
        let mut b = [0u8; uapi::COPY_LEN];
        let (r, mut w) = UserSlice::new(UserPtr::from_addr(arg), b.len()).reader_writer();
        let mut r = r;
        r.read_slice(&mut b)?;
        let mut c = uapi::Copy::decode(&b).ok_or(EINVAL)?;
        if end {
            self.hsm.copy_end(&c, self.agent())?;
        } else {
            self.hsm.copy_start(&mut c, self.agent())?;
            c.encode(&mut b);
            w.write_slice(&b)?;
        }
        Ok(0)
    }

    fn ioctl_progress(&self, arg: usize) -> Result<isize> {
        let mut b = [0u8; uapi::PROGRESS_LEN];
        UserSlice::new(UserPtr::from_addr(arg), b.len())
            .reader()
            .read_slice(&mut b)?;
        let p = uapi::Progress::decode(&b).ok_or(EINVAL)?;
        self.hsm.progress(&p, self.agent())?;
        Ok(0)
    }

    fn ioctl_register(&self, arg: usize) -> Result<isize> {
        let mut b = [0u8; uapi::KERNELCOMM_LEN + 4 * uapi::MAX_ARCHIVES_PER_AGENT];
        let mut r = UserSlice::new(UserPtr::from_addr(arg), b.len()).reader();
        r.read_slice(&mut b[..uapi::KERNELCOMM_LEN])?;
        let count = u32::from_le_bytes([b[16], b[17], b[18], b[19]]) as usize;
        if count > uapi::MAX_ARCHIVES_PER_AGENT {
            return Err(EINVAL);
        }
        let end = uapi::KERNELCOMM_LEN + 4 * count;
        r.read_slice(&mut b[uapi::KERNELCOMM_LEN..end])?;
        let archives = uapi::decode_register(&b[..end]).ok_or(EINVAL)?;
        if self.agent() != 0 {
            return Err(EEXIST);
        }
        let id = self.hsm.register_agent(archives)?;
        if self
            .agent
            .compare_exchange(0, id, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            self.hsm.unregister_agent(id);
            return Err(EEXIST);
        }
        Ok(0)
    }

    fn ioctl_state(&self, arg: usize) -> Result<isize> {
        let mut b = [0u8; uapi::STATE_LEN];
        let (mut r, mut w) = UserSlice::new(UserPtr::from_addr(arg), b.len()).reader_writer();
        r.read_slice(&mut b)?;
        let fd = uapi::UserState::fd(&b).ok_or(EINVAL)?;
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        let file = LocalFile::fget(fd).map_err(|_| EBADF)?;
        let p = FsPath::of_file(&file)?;
        let st = self.hsm.user_state(&p)?;
        st.encode(fd as i32, &mut b);
        w.write_slice(&b)?;
        Ok(0)
    }
}

#[vtable]
impl MiscDevice for HsmFile {
    type OwnerModule = crate::HsmUpcall;
    type Ptr = Pin<KBox<Self>>;
    type RegistrationData = Arc<Hsm>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        let dev = misc.data();
        let holder = dev.target.hold()?;
        Ok(KBox::pin(
            HsmFile {
                hsm: dev.clone(),
                agent: AtomicU64::new(0),
                _holder: holder,
            },
            GFP_KERNEL,
        )?)
    }

    fn release(this: Pin<KBox<Self>>, _file: &File) {
        let agent = this.agent();
        if agent != 0 {
            this.hsm.unregister_agent(agent);
        }
    }

    fn read_iter(kiocb: Kiocb<'_, Self::Ptr>, buf: &mut IovIterDest<'_>) -> Result<usize> {
        let this = kiocb.file();
        let agent = this.agent();
        if agent == 0 {
            return Err(EINVAL);
        }
        let mut out = KVVec::from_elem(0u8, buf.len().min(HAL_MAX), GFP_KERNEL)?;
        let mut cookies = KVec::new();
        loop {
            if let Some(n) = this.hsm.next_actions(agent, &mut out, &mut cookies)? {
                let sent = out.get(..n).ok_or(EINVAL).and_then(|b| {
                    if buf.copy_to_iter(b) < b.len() {
                        Err(EFAULT)
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = sent {
                    // The copytool never saw them: they wait again.
                    this.hsm.give_back(&cookies);
                    return Err(e);
                }
                return Ok(n);
            }
            if kiocb.file_flags() & O_NONBLOCK != 0 {
                return Err(EAGAIN);
            }
            if this.hsm.wait_for_action(agent) {
                return Err(ERESTARTSYS);
            }
        }
    }

    fn poll(this: Pin<&Self>, file: &File, table: PollTable<'_>) -> u32 {
        table.register_wait(file, &this.hsm.cdt_wait);
        let agent = this.agent();
        if agent != 0 && this.hsm.has_action(agent) {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    fn ioctl(this: Pin<&Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::IOC_REQUEST => this.ioctl_request(arg),
            uapi::IOC_COPY_START => this.ioctl_copy(arg, false),
            uapi::IOC_COPY_END => this.ioctl_copy(arg, true),
            uapi::IOC_PROGRESS => this.ioctl_progress(arg),
            uapi::IOC_CT_START => this.ioctl_register(arg),
            uapi::IOC_STATE_GET => this.ioctl_state(arg),
            _ => Err(ENOTTY),
        }
    }
}
