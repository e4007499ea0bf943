// SPDX-License-Identifier: GPL-2.0

//! Reading a target's changelog from its character device, with liblustreapi's model
//! (`llapi_changelog_start`, `_recv`, `_get_fd`, `_in_buf`, `_clear`, `_fini`):
//!
//! ```no_run
//! use changelog_reader::{Reader, FLAG_BLOCK, FLAG_JOBID, FLAG_EXTRA_FLAGS};
//! let mut r = Reader::start("lustre-MDT0000", FLAG_BLOCK | FLAG_JOBID | FLAG_EXTRA_FLAGS, 0)?;
//! while let Some(rec) = r.recv()? {
//!     println!("{}", rec.record().text());
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Every record is parsed from its own flags (extensions included), so records of any
//! producer and version are read correctly.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use rustre_logic::record::{Record, CR_MAXSIZE};

pub mod kuc;

/// `CHANGELOG_FLAG_FOLLOW`: wait for new records at the end instead of returning end of file.
pub const FLAG_FOLLOW: u32 = 0x01;
/// `CHANGELOG_FLAG_BLOCK`: blocking reads (the default; kept for compatibility).
pub const FLAG_BLOCK: u32 = 0x02;
/// `CHANGELOG_FLAG_JOBID`: the caller wants jobids.
pub const FLAG_JOBID: u32 = 0x04;
/// `CHANGELOG_FLAG_EXTRA_FLAGS`: the caller wants the extra-flags extensions.
pub const FLAG_EXTRA_FLAGS: u32 = 0x08;
/// `CHANGELOG_FLAG_NID_BE`: NIDs as big-endian `struct lnet_nid`.
pub const FLAG_NID_BE: u32 = 0x10;

/// `OBD_IOC_CHLG_SET_FLAGS`.
const OBD_IOC_CHLG_SET_FLAGS: libc::c_ulong = 0x8008_66e9;
/// `OBD_IOC_CHANGELOG_FILTER`.
const OBD_IOC_CHANGELOG_FILTER: libc::c_ulong = 0x4030_66b3;
/// liblustreapi's `CHANGELOG_BUFFER_SZ`.
const BUFFER_SZ: usize = 4096;

/// The device of a target.
pub fn device_path(mdtname: &str) -> String {
    format!("/dev/changelog-{mdtname}")
}

/// One record, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedRecord {
    bytes: Vec<u8>,
}

impl OwnedRecord {
    /// The record, parsed.
    pub fn record(&self) -> Record<'_> {
        // Checked when the record was received.
        Record::decode(&self.bytes)
            .map(|(r, _)| r)
            .unwrap_or_default()
    }

    /// Its bytes, in Lustre's binary format.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// An open changelog stream.
pub struct Reader {
    f: File,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl Reader {
    /// Opens the changelog of `mdtname` at record `startrec` (0: the oldest) with
    /// `CHANGELOG_FLAG_*` `flags`.
    pub fn start(mdtname: &str, flags: u32, startrec: u64) -> io::Result<Reader> {
        let mut f = OpenOptions::new().read(true).open(device_path(mdtname))?;
        if startrec != 0 {
            f.seek(SeekFrom::Start(startrec))?;
        }
        if flags & (FLAG_FOLLOW | FLAG_NID_BE) != 0 {
            // SAFETY: The ioctl takes the flags by value.
            if unsafe {
                libc::ioctl(
                    f.as_raw_fd(),
                    OBD_IOC_CHLG_SET_FLAGS,
                    libc::c_ulong::from(flags),
                )
            } != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Reader {
            f,
            buf: vec![0; BUFFER_SZ],
            pos: 0,
            len: 0,
        })
    }

    /// Like [`Reader::start`], then keeps only the record types user `user` (`clN`, `N` or a
    /// name) registered for, intersected with `mask` if it is not 0.
    pub fn start_user(
        mdtname: &str,
        flags: u32,
        startrec: u64,
        user: &str,
        mask: u64,
    ) -> io::Result<Reader> {
        let r = Reader::start(mdtname, flags, startrec)?;
        let mut filter = [0u8; 48];
        filter[..8].copy_from_slice(&mask.to_le_bytes());
        let id = user.strip_prefix("cl").unwrap_or(user);
        let id = id.split('-').next().unwrap_or(id);
        match id.parse::<u32>() {
            Ok(n) => filter[8..12].copy_from_slice(&n.to_le_bytes()),
            Err(_) => {
                let name = user.as_bytes();
                if name.len() >= 30 {
                    return Err(io::Error::from_raw_os_error(libc::EINVAL));
                }
                filter[16..16 + name.len()].copy_from_slice(name);
            }
        }
        // SAFETY: `filter` is the 48-byte `struct changelog_filter` the ioctl reads.
        if unsafe { libc::ioctl(r.f.as_raw_fd(), OBD_IOC_CHANGELOG_FILTER, filter.as_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r)
    }

    /// The next record, or `None` at the end of the changelog (never in follow mode).
    pub fn recv(&mut self) -> io::Result<Option<OwnedRecord>> {
        if self.pos >= self.len {
            let n = loop {
                match self.f.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            if n == 0 {
                return Ok(None);
            }
            self.pos = 0;
            self.len = n;
        }
        match Record::decode(&self.buf[self.pos..self.len]) {
            Ok((_, size)) => {
                let bytes = self.buf[self.pos..self.pos + size].to_vec();
                self.pos += size;
                Ok(Some(OwnedRecord { bytes }))
            }
            Err(e) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad changelog record: {e:?}"),
            )),
        }
    }

    /// Whether records are buffered (`llapi_changelog_in_buf`): poll the fd only when not.
    pub fn in_buf(&self) -> bool {
        self.pos < self.len
    }

    /// Reads `bytes` at a time from now on instead of liblustreapi's 4096 (at least one
    /// record's worth). Records already buffered are kept.
    pub fn set_read_size(&mut self, bytes: usize) {
        let bytes = bytes.max(CR_MAXSIZE);
        if bytes > self.buf.len() {
            self.buf.resize(bytes, 0);
        } else if self.pos >= self.len {
            self.buf.truncate(bytes);
        }
    }

    /// The descriptor, for `poll()`.
    pub fn fd(&self) -> RawFd {
        self.f.as_raw_fd()
    }

    /// The largest record, for callers that size buffers.
    pub const MAX_RECORD: usize = CR_MAXSIZE;
}

impl AsFd for Reader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.f.as_fd()
    }
}

/// Clears the records of user `id` (`clN` or `clN-NAME`) up to `endrec` (0: all), as
/// `llapi_changelog_clear` does: `clear:cl<N>:<endrec>` written with its NUL.
pub fn clear(mdtname: &str, id: &str, endrec: i64) -> io::Result<()> {
    if endrec < 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let id = match id.split_once('-') {
        Some((n, _)) => n,
        None => id,
    };
    let id = id.strip_prefix("cl").unwrap_or(id);
    let cmd = format!("clear:cl{id}:{endrec}\0");
    let mut f = OpenOptions::new().write(true).open(device_path(mdtname))?;
    f.write_all(cmd.as_bytes())
}
