// SPDX-License-Identifier: GPL-2.0

//! The library behind rustre's `lctl`: Lustre parameter trees ([`param`]), option parsing
//! ([`getopt`]), lloop block devices ([`blockdev`]) and the few system calls needed ([`sys`]);
//! the command-line parsing that needs no system ([`cli`]). The commands are run by `main.rs`.

pub mod blockdev;
pub mod cli;
pub mod getopt;
pub mod mdt;
pub mod param;
pub mod sys;
