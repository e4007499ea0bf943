// SPDX-License-Identifier: GPL-2.0

//! The kernel-independent logic of the rustre modules, compiled for userspace.
//!
//! Each module below is the very source file the kernel module builds (no copy): record and
//! command formats, ring indices, geometry, masks and FIDs. The userspace tools use them so that
//! both sides of every interface agree, and `cargo test` runs their tests on the host.

#![cfg_attr(not(test), no_std)]

/// Changelog device control commands (`clear:cl<ID>:<ENDREC>`).
#[path = "../../../drivers/changelog_chardev/control.rs"]
pub mod control;

/// Ring buffer index arithmetic of the changelog reader.
#[path = "../../../drivers/changelog_chardev/ring.rs"]
pub mod ring;

/// Size arithmetic of lloop devices.
#[path = "../../../drivers/lloop/geometry.rs"]
pub mod geometry;

/// HSM actions and the upcall mask.
#[path = "../../../hsm/upcall/mask.rs"]
pub mod mask;

/// Lustre FIDs and their text form.
#[path = "../../../mdt/fid.rs"]
pub mod fid;

/// Changelog records: types, masks, binary layout and `lfs changelog` text.
#[path = "../../../mdt/record.rs"]
pub mod record;

/// Attribute changes in Lustre's terms: `la_valid`, record types, xattr names.
#[path = "../../../mdt/attrs.rs"]
pub mod attrs;

/// The changelog catalog's on-disk format and its users.
#[path = "../../../mdt/catalog_fmt.rs"]
pub mod catalog_fmt;

/// The HSM device interface: ioctls and Lustre's request, action list and copy layouts.
#[path = "../../../hsm/upcall/uapi.rs"]
pub mod uapi;

/// A file's HSM state: flags, transitions, `trusted.hsm`, `lfs hsm_state` text, `CL_HSM` flags.
#[path = "../../../hsm/upcall/state.rs"]
pub mod state;

/// The upcall's command line and how requests are split over calls.
#[path = "../../../hsm/upcall/argv.rs"]
pub mod argv;

/// The loop driver's ioctls, flags and structures, which lloop devices take too.
// Its `Writer::len` is a cursor's position, not a size with an emptiness: the kernel's lint
// set does not ask for `is_empty`, the host's clippy does.
#[allow(clippy::len_without_is_empty)]
#[path = "../../../drivers/lloop/uapi.rs"]
pub mod loop_uapi;
