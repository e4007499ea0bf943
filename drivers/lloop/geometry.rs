// SPDX-License-Identifier: GPL-2.0

//! Size arithmetic of a file-backed block device.
//!
//! Pure logic: no kernel APIs, shared with the userspace tools and tested on the host.

/// Sector size of the block layer, in bytes.
pub const SECTOR_SIZE: u64 = 512;

/// Lustre's default and bounds for the `max_loop` parameter.
pub const MAX_LOOP_DEFAULT: u32 = 16;
/// Largest accepted `max_loop`.
pub const MAX_LOOP_LIMIT: u32 = 256;

/// Why a geometry was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeometryError {
    /// Block size not a power of two between 512 and the page size (`EINVAL`).
    BlockSize,
    /// Offset not a multiple of the sector size (`EINVAL`).
    Offset,
}

/// Checks a logical block size: a power of two from 512 to `page_size`.
pub const fn check_block_size(block_size: u32, page_size: u32) -> Result<(), GeometryError> {
    if block_size < SECTOR_SIZE as u32 || block_size > page_size || !block_size.is_power_of_two() {
        Err(GeometryError::BlockSize)
    } else {
        Ok(())
    }
}

/// Returns the capacity in 512-byte sectors of a device over `file_size` bytes of backing
/// file, starting at `offset`, limited to `sizelimit` bytes (0: no limit), in whole blocks of
/// `block_size` bytes.
///
/// An offset past the end of the file gives an empty device, as the kernel's loop driver does.
pub const fn capacity_sectors(
    file_size: u64,
    offset: u64,
    sizelimit: u64,
    block_size: u32,
    page_size: u32,
) -> Result<u64, GeometryError> {
    if let Err(e) = check_block_size(block_size, page_size) {
        return Err(e);
    }
    if !offset.is_multiple_of(SECTOR_SIZE) {
        return Err(GeometryError::Offset);
    }
    let mut size = file_size.saturating_sub(offset);
    if sizelimit != 0 && sizelimit < size {
        size = sizelimit;
    }
    size -= size % block_size as u64;
    Ok(size / SECTOR_SIZE)
}

/// Clamps a `max_loop` module parameter: out of 1..=256 falls back to the default, as Lustre's
/// lloop did. Returns the value and whether it was replaced.
pub const fn clamp_max_loop(requested: i64) -> (u32, bool) {
    if requested >= 1 && requested <= MAX_LOOP_LIMIT as i64 {
        (requested as u32, false)
    } else {
        (MAX_LOOP_DEFAULT, true)
    }
}

/// Why a device does not do direct I/O on its backing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DioOff {
    /// The file's filesystem offers no direct I/O for it.
    Unsupported,
    /// The device's block size is below the file's direct-I/O offset alignment.
    BlockSize,
    /// The device's offset into the file is not a multiple of that alignment.
    Offset,
    /// Direct I/O was turned off (`LOOP_SET_DIRECT_IO`, `lloop dio DEVICE off`).
    Requested,
}

impl DioOff {
    /// The reason, for a person.
    pub const fn text(self) -> &'static str {
        match self {
            Self::Unsupported => "the backing filesystem has no direct I/O for this file",
            Self::BlockSize => "block size below the backing file's direct I/O alignment",
            Self::Offset => "offset not a multiple of the backing file's direct I/O alignment",
            Self::Requested => "turned off (LOOP_SET_DIRECT_IO)",
        }
    }
}

/// Whether a device of `block_size` at `offset` into a file with direct-I/O offset alignment
/// `align` can do direct I/O on it (the loop driver's rule).
pub const fn dio_allowed(
    can_direct: bool,
    block_size: u32,
    align: u32,
    offset: u64,
) -> Result<(), DioOff> {
    if !can_direct {
        Err(DioOff::Unsupported)
    } else if block_size < align {
        Err(DioOff::BlockSize)
    } else if !offset.is_multiple_of(align as u64) {
        Err(DioOff::Offset)
    } else {
        Ok(())
    }
}

/// One capacity test: file size, offset, sizelimit, block size, expected capacity.
#[cfg(any(test, CONFIG_KUNIT = "y"))]
pub type CapacityCase = (u64, u64, u64, u32, Result<u64, GeometryError>);

/// Test vectors for [`capacity_sectors`] with 4 KiB pages, shared by host tests and KUnit:
/// (file size, offset, sizelimit, block size, expected).
#[cfg(any(test, CONFIG_KUNIT = "y"))]
pub const CAPACITY_CASES: &[CapacityCase] = &[
    (1 << 20, 0, 0, 512, Ok(2048)),
    (1 << 20, 0, 0, 4096, Ok(2048)),
    ((1 << 20) + 1000, 0, 0, 512, Ok(2049)),
    ((1 << 20) + 1000, 0, 0, 4096, Ok(2048)),
    (1 << 20, 4096, 0, 4096, Ok(2040)),
    (1 << 20, 0, 65536, 512, Ok(128)),
    (1 << 20, 0, 1 << 30, 512, Ok(2048)),
    (1 << 20, 2 << 20, 0, 512, Ok(0)),
    (1000, 0, 0, 4096, Ok(0)),
    (u64::MAX, 0, 0, 512, Ok(u64::MAX / 512)),
    (1 << 20, 100, 0, 512, Err(GeometryError::Offset)),
    (1 << 20, 0, 0, 1024 + 512, Err(GeometryError::BlockSize)),
    (1 << 20, 0, 0, 256, Err(GeometryError::BlockSize)),
    (1 << 20, 0, 0, 8192, Err(GeometryError::BlockSize)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_vectors() {
        for &(size, off, limit, bs, want) in CAPACITY_CASES {
            assert_eq!(
                capacity_sectors(size, off, limit, bs, 4096),
                want,
                "{size} {off} {limit} {bs}"
            );
        }
    }

    #[test]
    fn dio_rules() {
        assert_eq!(dio_allowed(true, 4096, 4096, 8192), Ok(()));
        assert_eq!(dio_allowed(true, 512, 512, 512), Ok(()));
        assert_eq!(dio_allowed(false, 4096, 512, 0), Err(DioOff::Unsupported));
        assert_eq!(dio_allowed(true, 512, 4096, 0), Err(DioOff::BlockSize));
        assert_eq!(dio_allowed(true, 4096, 4096, 512), Err(DioOff::Offset));
        assert_eq!(dio_allowed(true, 4096, 0, 512), Err(DioOff::Offset));
        assert_eq!(dio_allowed(true, 4096, 0, 0), Ok(()));
    }

    #[test]
    fn max_loop_clamp() {
        assert_eq!(clamp_max_loop(1), (1, false));
        assert_eq!(clamp_max_loop(256), (256, false));
        assert_eq!(clamp_max_loop(0), (16, true));
        assert_eq!(clamp_max_loop(257), (16, true));
        assert_eq!(clamp_max_loop(-5), (16, true));
    }
}
