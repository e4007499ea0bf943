// SPDX-License-Identifier: GPL-2.0

//! `llog_craft KIND TARGET OUT`: writes a changelog catalog for `TARGET` whose frames all carry
//! valid checksums but whose contents are hostile, for the tests of what the kernel does when
//! it attaches and reads one (`tests/integration/crafted_catalogs.sh`).
//!
//! Every catalog has one changelog user, cl1, who has cleared nothing, and starts with three
//! ordinary CREATE records (indices 1 to 3); then, by KIND:
//!
//! - `unknown-type`: records of type 200 and 31 (no mask bit names the first, the second is
//!   past the last known type), then an ordinary one;
//! - `huge-namelen`: a record whose `cr_namelen` claims 65,535 bytes, then an ordinary one;
//! - `index-backwards`: index 2 again after 3, then 4;
//! - `overlap`: a frame whose length swallows the frame after it (its checksum covers both);
//! - `index-max`: a record with index 2^63, past what the index reservation can follow;
//! - `next-max`: no more records, and a header whose next index is 2^64 - 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::Parser;

use rustre_logic::catalog_fmt::{
    frame_len, seal_frame, Header, User, DATA_START, FRAME_HDR, SLOT_LEN,
};
use rustre_logic::fid::Fid;
use rustre_logic::record::{Record, CL_CREATE, CR_MAXSIZE};

const KINDS: &[&str] = &[
    "unknown-type",
    "huge-namelen",
    "index-backwards",
    "overlap",
    "index-max",
    "next-max",
];

/// An ordinary CREATE record of `index`, encoded.
fn create(index: u64, name: &[u8]) -> Vec<u8> {
    let rec = Record {
        rtype: CL_CREATE,
        index,
        tfid: Fid::from_inode(index.wrapping_add(100), 1).unwrap_or_default(),
        pfid: Fid::from_inode(2, 1).unwrap_or_default(),
        name,
        ..Record::default()
    };
    let mut buf = vec![0u8; CR_MAXSIZE];
    let n = rec.encode(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// The frame of record bytes `rec` under `index`, with a valid checksum.
fn frame(index: u64, rec: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; frame_len(rec.len())];
    out[FRAME_HDR..FRAME_HDR + rec.len()].copy_from_slice(rec);
    seal_frame(index, rec.len(), &mut out);
    out
}

/// A record whose bytes were changed after encoding: `at` gets `bytes`.
fn patched(index: u64, at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut r = create(index, b"patched");
    r[at..at + bytes.len()].copy_from_slice(bytes);
    r
}

fn craft(kind: &str, target: &str) -> Option<Vec<u8>> {
    let mut h = Header::new(target.as_bytes())?;
    let mut data = Vec::new();
    for i in 1..=3 {
        data.extend(frame(i, &create(i, format!("f{i}").as_bytes())));
    }
    let next = match kind {
        "unknown-type" => {
            // `cr_type` is the u32 at offset 4.
            data.extend(frame(4, &patched(4, 4, &200u32.to_le_bytes())));
            data.extend(frame(5, &patched(5, 4, &31u32.to_le_bytes())));
            data.extend(frame(6, &create(6, b"after")));
            7
        }
        "huge-namelen" => {
            // `cr_namelen` is the u16 at offset 0.
            data.extend(frame(4, &patched(4, 0, &u16::MAX.to_le_bytes())));
            data.extend(frame(5, &create(5, b"after")));
            6
        }
        "index-backwards" => {
            data.extend(frame(2, &create(2, b"again")));
            data.extend(frame(4, &create(4, b"after")));
            5
        }
        "overlap" => {
            let second = frame(5, &create(5, b"swallowed"));
            let mut rec = create(4, b"swallower");
            rec.extend(&second);
            data.extend(frame(4, &rec));
            6
        }
        "index-max" => {
            let i = 1u64 << 63;
            data.extend(frame(i, &create(i, b"huge")));
            i.wrapping_add(1)
        }
        "next-max" => u64::MAX,
        _ => return None,
    };
    h.next_index = next;
    h.generation = 1;
    // One changelog user, cl1, who has cleared nothing and takes the target's mask: the
    // records are there to be read.
    h.users[0] = Some(User {
        id: 1,
        ..User::default()
    });
    h.last_user = 1;
    let mut out = vec![0u8; DATA_START as usize];
    let mut slot = [0u8; SLOT_LEN];
    h.encode(&mut slot);
    out[..SLOT_LEN].copy_from_slice(&slot);
    out.extend(data);
    Some(out)
}

/// Write a changelog catalog whose frames carry valid checksums but whose contents are
/// hostile, for the tests of the kernel's catalog reader.
#[derive(Debug, Parser)]
#[command(name = "llog_craft")]
struct Cli {
    /// What is wrong with the catalog.
    #[arg(value_name = "KIND", value_parser = PossibleValuesParser::new(KINDS))]
    kind: String,
    /// The target the catalog is for (<fsname>-MDT<index>).
    #[arg(value_name = "TARGET")]
    target: String,
    /// The file to write.
    #[arg(value_name = "OUT")]
    out: PathBuf,
}

fn main() -> ExitCode {
    // clap prints the help (exit 0) or the usage error (exit 2).
    let Cli { kind, target, out } = Cli::parse();
    let Some(bytes) = craft(&kind, &target) else {
        eprintln!("llog_craft: unknown kind '{kind}' or bad target '{target}'");
        return ExitCode::from(2);
    };
    if let Err(e) = std::fs::write(&out, bytes) {
        eprintln!("llog_craft: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line() {
        Cli::command().debug_assert();
        for kind in KINDS {
            let cli = Cli::try_parse_from(["llog_craft", kind, "lustre-MDT0000", "/tmp/c.llog"]);
            assert!(cli.is_ok_and(|c| c.kind == *kind && craft(&c.kind, &c.target).is_some()));
        }
        assert!(Cli::try_parse_from(["llog_craft", "nope", "lustre-MDT0000", "/tmp/c"]).is_err());
    }
}
