// SPDX-License-Identifier: GPL-2.0

//! The library behind rustre's `lfs`: FIDs of files on metadata targets ([`fid`]), the targets'
//! HSM devices ([`hsm`]), the HSM commands ([`hsm_cmd`]) and running HSM workers ([`worker`]),
//! which the copytool (`lhsm_copytool`) shares.

pub mod fid;
pub mod hsm;
pub mod hsm_cmd;
pub mod worker;
