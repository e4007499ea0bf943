// SPDX-License-Identifier: GPL-2.0

//! The loop driver's user interface, which lloop devices take too (`include/uapi/linux/loop.h`):
//! ioctl numbers, flags, `struct loop_info64` and `struct loop_config`, and the rules on which
//! flags each ioctl may set; plus how a block request's result maps to a block status.
//!
//! Pure logic: no kernel APIs, shared with the userspace tools and tested on the host.

/// `LOOP_SET_FD`.
pub const LOOP_SET_FD: u32 = 0x4c00;
/// `LOOP_CLR_FD`.
pub const LOOP_CLR_FD: u32 = 0x4c01;
/// `LOOP_SET_STATUS`.
pub const LOOP_SET_STATUS: u32 = 0x4c02;
/// `LOOP_GET_STATUS`.
pub const LOOP_GET_STATUS: u32 = 0x4c03;
/// `LOOP_SET_STATUS64`.
pub const LOOP_SET_STATUS64: u32 = 0x4c04;
/// `LOOP_GET_STATUS64`.
pub const LOOP_GET_STATUS64: u32 = 0x4c05;
/// `LOOP_CHANGE_FD`.
pub const LOOP_CHANGE_FD: u32 = 0x4c06;
/// `LOOP_SET_CAPACITY`.
pub const LOOP_SET_CAPACITY: u32 = 0x4c07;
/// `LOOP_SET_DIRECT_IO`.
pub const LOOP_SET_DIRECT_IO: u32 = 0x4c08;
/// `LOOP_SET_BLOCK_SIZE`.
pub const LOOP_SET_BLOCK_SIZE: u32 = 0x4c09;
/// `LOOP_CONFIGURE`.
pub const LOOP_CONFIGURE: u32 = 0x4c0a;
/// `LOOP_CTL_ADD`, on the control node.
pub const LOOP_CTL_ADD: u32 = 0x4c80;
/// `LOOP_CTL_REMOVE`, on the control node.
pub const LOOP_CTL_REMOVE: u32 = 0x4c81;
/// `LOOP_CTL_GET_FREE`, on the control node.
pub const LOOP_CTL_GET_FREE: u32 = 0x4c82;

/// `LO_FLAGS_READ_ONLY`.
pub const LO_FLAGS_READ_ONLY: u32 = 1;
/// `LO_FLAGS_AUTOCLEAR`: detach when the last opener closes the device.
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;
/// `LO_FLAGS_PARTSCAN`.
pub const LO_FLAGS_PARTSCAN: u32 = 8;
/// `LO_FLAGS_DIRECT_IO`.
pub const LO_FLAGS_DIRECT_IO: u32 = 16;

/// Flags `LOOP_SET_STATUS64` may set (`LOOP_SET_STATUS_SETTABLE_FLAGS`).
pub const SET_STATUS_SETTABLE: u32 = LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN;
/// Flags `LOOP_SET_STATUS64` may clear (`LOOP_SET_STATUS_CLEARABLE_FLAGS`).
pub const SET_STATUS_CLEARABLE: u32 = LO_FLAGS_AUTOCLEAR;
/// Flags `LOOP_CONFIGURE` may set (`LOOP_CONFIGURE_SETTABLE_FLAGS`).
pub const CONFIGURE_SETTABLE: u32 =
    LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN | LO_FLAGS_DIRECT_IO;

/// `LO_NAME_SIZE`.
pub const LO_NAME_SIZE: usize = 64;
/// Size of `struct loop_info64`.
pub const LOOP_INFO64_LEN: usize = 232;
/// Size of `struct loop_config`.
pub const LOOP_CONFIG_LEN: usize = 304;

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | (u64::from(le32(b, at + 4)) << 32)
}

/// `struct loop_info64`, without the encryption fields (unsupported, as in the kernel since
/// cryptoloop was removed: they are read back as zeros).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopInfo64 {
    /// `lo_device`: the backing file's device number.
    pub device: u64,
    /// `lo_inode`: the backing file's inode number.
    pub inode: u64,
    /// `lo_rdevice`: the backing file's rdev.
    pub rdevice: u64,
    /// `lo_offset`: where the device starts in the file.
    pub offset: u64,
    /// `lo_sizelimit`: most bytes of the file used, 0 for all.
    pub sizelimit: u64,
    /// `lo_number`: the device's index.
    pub number: u32,
    /// `lo_flags` (`LO_FLAGS_*`).
    pub flags: u32,
    /// `lo_file_name`, NUL-padded (truncated to 63 bytes and a NUL on output).
    pub file_name: [u8; LO_NAME_SIZE],
}

impl Default for LoopInfo64 {
    fn default() -> Self {
        Self {
            device: 0,
            inode: 0,
            rdevice: 0,
            offset: 0,
            sizelimit: 0,
            number: 0,
            flags: 0,
            file_name: [0; LO_NAME_SIZE],
        }
    }
}

impl LoopInfo64 {
    /// Decodes the first [`LOOP_INFO64_LEN`] bytes of `b`.
    pub fn decode(b: &[u8]) -> Option<LoopInfo64> {
        if b.len() < LOOP_INFO64_LEN {
            return None;
        }
        let mut file_name = [0u8; LO_NAME_SIZE];
        file_name.copy_from_slice(&b[56..56 + LO_NAME_SIZE]);
        Some(LoopInfo64 {
            device: le64(b, 0),
            inode: le64(b, 8),
            rdevice: le64(b, 16),
            offset: le64(b, 24),
            sizelimit: le64(b, 32),
            number: le32(b, 40),
            flags: le32(b, 52),
            file_name,
        })
    }

    /// Encodes into the first [`LOOP_INFO64_LEN`] bytes of `b`; the file name always ends
    /// with a NUL, the encryption fields are zero.
    pub fn encode(&self, b: &mut [u8]) {
        b[..LOOP_INFO64_LEN].fill(0);
        b[0..8].copy_from_slice(&self.device.to_le_bytes());
        b[8..16].copy_from_slice(&self.inode.to_le_bytes());
        b[16..24].copy_from_slice(&self.rdevice.to_le_bytes());
        b[24..32].copy_from_slice(&self.offset.to_le_bytes());
        b[32..40].copy_from_slice(&self.sizelimit.to_le_bytes());
        b[40..44].copy_from_slice(&self.number.to_le_bytes());
        b[52..56].copy_from_slice(&self.flags.to_le_bytes());
        b[56..56 + LO_NAME_SIZE - 1].copy_from_slice(&self.file_name[..LO_NAME_SIZE - 1]);
    }

    /// Sets the file name from a path, truncated to fit with its NUL.
    pub fn set_file_name(&mut self, path: &[u8]) {
        self.file_name = [0; LO_NAME_SIZE];
        let n = path.len().min(LO_NAME_SIZE - 1);
        self.file_name[..n].copy_from_slice(&path[..n]);
    }

    /// The file name, up to its first NUL.
    pub fn file_name(&self) -> &[u8] {
        let end = self
            .file_name
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(LO_NAME_SIZE);
        &self.file_name[..end]
    }
}

/// `struct loop_config`: what `LOOP_CONFIGURE` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopConfig {
    /// `fd`: the backing file, open in the caller.
    pub fd: u32,
    /// `block_size`: logical block size, 0 for the default.
    pub block_size: u32,
    /// `info`.
    pub info: LoopInfo64,
}

/// Why a configuration or status change was refused; all are `EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Flags the ioctl may not set.
    Flags,
    /// The reserved words are not zero.
    Reserved,
    /// Encryption was asked for (no longer supported by the kernel either).
    Encryption,
}

impl LoopConfig {
    /// Decodes and checks a `struct loop_config` as `LOOP_CONFIGURE` does.
    pub fn decode(b: &[u8]) -> Result<LoopConfig, ConfigError> {
        if b.len() < LOOP_CONFIG_LEN {
            return Err(ConfigError::Reserved);
        }
        let info = LoopInfo64::decode(&b[8..]).ok_or(ConfigError::Reserved)?;
        if b[8 + LOOP_INFO64_LEN..LOOP_CONFIG_LEN]
            .iter()
            .any(|&c| c != 0)
        {
            return Err(ConfigError::Reserved);
        }
        // lo_encrypt_type, lo_encrypt_key_size.
        if le32(b, 8 + 44) != 0 || le32(b, 8 + 48) != 0 {
            return Err(ConfigError::Encryption);
        }
        if info.flags & !CONFIGURE_SETTABLE != 0 {
            return Err(ConfigError::Flags);
        }
        Ok(LoopConfig {
            fd: le32(b, 0),
            block_size: le32(b, 4),
            info,
        })
    }
}

/// The flags after `LOOP_SET_STATUS64` asks for `wanted` on a device with `current`: only
/// AUTOCLEAR and PARTSCAN may be set and only AUTOCLEAR cleared; other bits keep their value.
pub fn set_status_flags(current: u32, wanted: u32) -> u32 {
    let set = wanted & SET_STATUS_SETTABLE & !current;
    let clear = !wanted & SET_STATUS_CLEARABLE & current;
    (current | set) & !clear
}

/// Where a request of `len` bytes at `sector` falls in the backing file, given the device's
/// `offset` and capacity in sectors: the file position, or `None` if any of it is past the
/// end of the device (the block layer should never send one; it gets an I/O error).
pub fn file_pos(sector: u64, len: u64, offset: u64, capacity_sectors: u64) -> Option<u64> {
    let end = sector.checked_mul(512)?.checked_add(len)?;
    if end > capacity_sectors.checked_mul(512)? {
        return None;
    }
    offset.checked_add(sector * 512)
}

/// Whether a `struct loop_info64` asks for encryption (`lo_encrypt_type` or
/// `lo_encrypt_key_size` set), which is refused.
pub fn info_has_encryption(b: &[u8]) -> bool {
    b.len() >= 52 && (le32(b, 44) != 0 || le32(b, 48) != 0)
}

/// The user-space encoding of a kernel device number (`huge_encode_dev`): the kernel keeps
/// 12 bits of major and 20 of minor; user space sees minor bits 0-7, major, minor bits 8-19.
pub fn huge_encode_dev(dev: u32) -> u64 {
    let major = u64::from(dev >> 20);
    let minor = u64::from(dev & 0xfffff);
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// Writes text into a fixed buffer (a sysfs page), dropping what does not fit.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Appends `b`, truncated to the space left.
    pub fn bytes(&mut self, b: &[u8]) {
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }

    /// Appends `v` in decimal.
    pub fn u64(&mut self, mut v: u64) {
        let mut d = [0u8; 20];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.bytes(&d[i..]);
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_round_trip() {
        let mut i = LoopInfo64 {
            device: 0x803,
            inode: 12,
            offset: 4096,
            sizelimit: 1 << 20,
            number: 3,
            flags: LO_FLAGS_AUTOCLEAR,
            ..Default::default()
        };
        i.set_file_name(&[b'x'; 100]);
        assert_eq!(i.file_name().len(), 63);
        let mut b = [0u8; LOOP_INFO64_LEN];
        i.encode(&mut b);
        assert_eq!(LoopInfo64::decode(&b), Some(i));
        assert_eq!(b[56 + 63], 0);
    }

    #[test]
    fn configure_checks() {
        let mut b = [0u8; LOOP_CONFIG_LEN];
        b[0..4].copy_from_slice(&5u32.to_le_bytes());
        b[4..8].copy_from_slice(&4096u32.to_le_bytes());
        b[8 + 52..8 + 56].copy_from_slice(&(LO_FLAGS_DIRECT_IO | LO_FLAGS_READ_ONLY).to_le_bytes());
        let c = LoopConfig::decode(&b).unwrap();
        assert_eq!((c.fd, c.block_size, c.info.flags), (5, 4096, 17));
        b[8 + 52] = 0x40;
        assert_eq!(LoopConfig::decode(&b), Err(ConfigError::Flags));
        b[8 + 52] = 0;
        b[LOOP_CONFIG_LEN - 1] = 1;
        assert_eq!(LoopConfig::decode(&b), Err(ConfigError::Reserved));
        b[LOOP_CONFIG_LEN - 1] = 0;
        b[8 + 44] = 1;
        assert_eq!(LoopConfig::decode(&b), Err(ConfigError::Encryption));
        assert_eq!(LoopConfig::decode(&b[..100]), Err(ConfigError::Reserved));
    }

    #[test]
    fn device_numbers_and_text() {
        // 8:3 (sda3) and 259:65536 (an extended minor).
        assert_eq!(huge_encode_dev((8 << 20) | 3), 0x803);
        assert_eq!(
            huge_encode_dev((259 << 20) | 65536),
            (259 << 8) | (256 << 20)
        );
        let mut page = [0u8; 8];
        let mut w = Writer::new(&mut page);
        w.u64(0);
        w.bytes(b" ");
        w.u64(1234567);
        assert_eq!(w.len(), 8);
        assert_eq!(&page, b"0 123456");
        let mut b = [0u8; LOOP_INFO64_LEN];
        assert!(!info_has_encryption(&b));
        b[48] = 1;
        assert!(info_has_encryption(&b));
    }

    #[test]
    fn status_flags() {
        let ro = LO_FLAGS_READ_ONLY | LO_FLAGS_DIRECT_IO;
        assert_eq!(
            set_status_flags(ro, LO_FLAGS_AUTOCLEAR),
            ro | LO_FLAGS_AUTOCLEAR
        );
        assert_eq!(set_status_flags(ro | LO_FLAGS_AUTOCLEAR, 0), ro);
        // READ_ONLY and DIRECT_IO cannot be changed, PARTSCAN cannot be cleared.
        assert_eq!(
            set_status_flags(LO_FLAGS_PARTSCAN, LO_FLAGS_READ_ONLY),
            LO_FLAGS_PARTSCAN
        );
    }

    #[test]
    fn positions() {
        assert_eq!(file_pos(8, 4096, 1 << 20, 16), Some((1 << 20) + 4096));
        assert_eq!(file_pos(9, 4096, 0, 16), None);
        assert_eq!(file_pos(u64::MAX, 1, 0, 16), None);
    }
}
