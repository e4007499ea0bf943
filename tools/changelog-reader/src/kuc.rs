// SPDX-License-Identifier: GPL-2.0

//! The pre-LU-7659 transport, as a baseline only: the kernel writes one KUC message
//! (`struct kuc_hdr` + record) per record into a pipe, and the reader makes two `read()`s per
//! message, header then payload, as `libcfs_ukuc_msg_get` did. Started with the device's
//! `RUSTRE_IOC_KUC_SEND` ioctl.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;

use crate::device_path;

const RUSTRE_IOC_KUC_SEND: libc::c_ulong = 0x4010_66fa;
const KUC_MAGIC: u16 = 0x191c;
const KUC_TRANSPORT_CHANGELOG: u8 = 3;
const CL_RECORD: u16 = 10;
const CL_EOF: u16 = 11;

/// A KUC changelog stream.
pub struct KucReader {
    _dev: File,
    pipe: File,
    hdr: [u8; 8],
}

impl KucReader {
    /// Opens the device, hands it the write end of a new pipe and starts the sender at
    /// `startrec`.
    pub fn start(mdtname: &str, startrec: u64) -> io::Result<KucReader> {
        let dev = OpenOptions::new().read(true).open(device_path(mdtname))?;
        let (rd, wr) = rustix::pipe::pipe()?;
        let (rd, wr) = (File::from(rd), File::from(wr));
        let mut req = [0u8; 16];
        req[..4].copy_from_slice(&(wr.as_raw_fd() as u32).to_le_bytes());
        req[8..].copy_from_slice(&startrec.to_le_bytes());
        // SAFETY: `req` is the 16-byte request the ioctl reads.
        if unsafe { libc::ioctl(dev.as_raw_fd(), RUSTRE_IOC_KUC_SEND, req.as_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // The kernel holds its own reference to the write end.
        drop(wr);
        Ok(KucReader {
            _dev: dev,
            pipe: rd,
            hdr: [0; 8],
        })
    }

    /// The next record's bytes (a new allocation each, as liblustreapi's), `None` at `CL_EOF`.
    pub fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        self.pipe.read_exact(&mut self.hdr)?;
        let magic = u16::from_le_bytes([self.hdr[0], self.hdr[1]]);
        let msgtype = u16::from_le_bytes([self.hdr[4], self.hdr[5]]);
        let len = usize::from(u16::from_le_bytes([self.hdr[6], self.hdr[7]]));
        if magic != KUC_MAGIC || self.hdr[2] != KUC_TRANSPORT_CHANGELOG || len < 8 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad KUC header"));
        }
        match msgtype {
            CL_EOF => Ok(None),
            CL_RECORD => {
                let mut rec = vec![0u8; len - 8];
                self.pipe.read_exact(&mut rec)?;
                Ok(Some(rec))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unknown KUC message",
            )),
        }
    }
}
