// SPDX-License-Identifier: GPL-2.0

//! The library behind rustre's `lfs`: FIDs of files on metadata targets ([`fid`]).

pub mod fid;
