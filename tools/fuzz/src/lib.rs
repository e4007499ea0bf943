// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the fuzz targets in `fuzz_targets/`: a cursor that takes fields off the
//! fuzzer's bytes, and checksum repairs that let the fuzzer reach the code behind a CRC.

use rustre_logic::catalog_fmt::{crc32c, frame_len, FRAME_HDR, FRAME_MAGIC, SLOT_LEN};
use rustre_logic::catalog_fmt::{HDR_MAGIC, HDR_VERSION};
use rustre_logic::record::{Record, CR_MAXSIZE};

/// Takes little-endian fields and slices off the front of the fuzzer's input; past the end,
/// numbers read as zero and slices as empty.
pub struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { rest: data }
    }

    /// The next `n` bytes, or fewer at the end.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = tail;
        head
    }

    /// The next byte.
    pub fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }

    /// The next little-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        let mut a = [0u8; 2];
        let b = self.bytes(2);
        a[..b.len()].copy_from_slice(b);
        u16::from_le_bytes(a)
    }

    /// The next little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        let mut a = [0u8; 4];
        let b = self.bytes(4);
        a[..b.len()].copy_from_slice(b);
        u32::from_le_bytes(a)
    }

    /// The next little-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        let mut a = [0u8; 8];
        let b = self.bytes(8);
        a[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(a)
    }

    /// A slice whose length is the next byte.
    pub fn short_slice(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.bytes(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.rest.len())
    }
}

/// Splits the input at NUL bytes into (lossy UTF-8) command-line arguments.
pub fn args(data: &[u8]) -> Vec<String> {
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&c| c == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Rewrites `buf` into a run of frames that pass the magic, length and CRC checks: at each
/// position the magic is set; if a record decodes there, the frame takes its length and index
/// (so that the fuzzer's records are what the scan judges), otherwise a length taken from the
/// bytes; then the CRC is computed. A tail too short for a whole frame is left as it is.
pub fn repair_frames(buf: &mut [u8]) {
    let mut pos = 0;
    while buf.len() - pos >= FRAME_HDR {
        let f = &mut buf[pos..];
        f[..4].copy_from_slice(&FRAME_MAGIC.to_le_bytes());
        let claimed = u32::from_le_bytes([f[4], f[5], f[6], f[7]]) as usize % (CR_MAXSIZE + 1);
        let (rec_len, index) = match Record::decode(&f[FRAME_HDR..]) {
            Ok((rec, n)) => (n, Some(rec.index)),
            Err(_) => (claimed, None),
        };
        let len = frame_len(rec_len);
        if f.len() < len {
            break;
        }
        f[4..8].copy_from_slice(&(rec_len as u32).to_le_bytes());
        if let Some(index) = index {
            f[8..16].copy_from_slice(&index.to_le_bytes());
        }
        let crc_at = FRAME_HDR + rec_len;
        let crc = crc32c(&f[..crc_at]);
        f[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
        pos += len;
    }
}

/// Gives a header slot the magic, version and slot size of a catalog header.
pub fn stamp_slot(slot: &mut [u8; SLOT_LEN]) {
    slot[..8].copy_from_slice(&HDR_MAGIC);
    slot[8..12].copy_from_slice(&HDR_VERSION.to_le_bytes());
    slot[12..16].copy_from_slice(&(SLOT_LEN as u32).to_le_bytes());
}

/// Recomputes the CRC of a header slot.
pub fn seal_slot(slot: &mut [u8; SLOT_LEN]) {
    let crc = crc32c(&slot[..SLOT_LEN - 4]);
    slot[SLOT_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
}
