// SPDX-License-Identifier: GPL-2.0

//! The library behind rustre's `lctl`: Lustre parameter trees ([`param`]), option parsing
//! ([`getopt`]) and the few system calls needed ([`sys`]). The command line itself is in
//! `main.rs`.

pub mod getopt;
pub mod mdt;
pub mod param;
pub mod sys;
