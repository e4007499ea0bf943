// SPDX-License-Identifier: GPL-2.0

//! The library behind rustre's `lctl`: Lustre parameter trees ([`param`]), option parsing
//! ([`getopt`], the parser `lfs` shares), lloop block devices ([`blockdev`]) and the few
//! system calls needed ([`sys`]); the command-line parsing that needs no system ([`cli`]).
//! The commands are run by `main.rs`.

pub mod blockdev;
pub mod cli;
pub mod mdt;
pub mod param;
pub mod sys;

/// The `getopt_long(3)`-style parser of lctl's commands, shared with `lfs`.
pub use rustre_getopt as getopt;
