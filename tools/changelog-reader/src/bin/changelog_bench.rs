// SPDX-License-Identifier: GPL-2.0

//! `changelog_bench MDTNAME [ROUNDS]`: reads a target's whole changelog through the device
//! (liblustreapi-style `recv`, 4096-byte reads) and through the KUC pipe baseline (two reads
//! per record), alternately, and prints records per second of each and their ratio.

use std::process::ExitCode;
use std::time::Instant;

use changelog_reader::kuc::KucReader;
use changelog_reader::{Reader, FLAG_BLOCK, FLAG_EXTRA_FLAGS, FLAG_JOBID, FLAG_NID_BE};

fn device(mdt: &str) -> std::io::Result<(u64, f64)> {
    let t = Instant::now();
    let mut r = Reader::start(
        mdt,
        FLAG_BLOCK | FLAG_JOBID | FLAG_EXTRA_FLAGS | FLAG_NID_BE,
        0,
    )?;
    let mut n = 0u64;
    while let Some(rec) = r.recv()? {
        n += u64::from(rec.record().index > 0);
    }
    Ok((n, t.elapsed().as_secs_f64()))
}

fn kuc(mdt: &str) -> std::io::Result<(u64, f64)> {
    let t = Instant::now();
    let mut r = KucReader::start(mdt, 0)?;
    let mut n = 0u64;
    while let Some(rec) = r.recv()? {
        n += u64::from(!rec.is_empty());
    }
    Ok((n, t.elapsed().as_secs_f64()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(mdt) = args.get(1) else {
        eprintln!("usage: changelog_bench MDTNAME [ROUNDS]");
        return ExitCode::from(22);
    };
    let rounds: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    for round in 1..=rounds {
        let (d, k) = match (device(mdt), kuc(mdt)) {
            (Ok(d), Ok(k)) => (d, k),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("changelog_bench: {e}");
                return ExitCode::from(1);
            }
        };
        if d.0 != k.0 {
            eprintln!("changelog_bench: device read {} records, KUC {}", d.0, k.0);
            return ExitCode::from(1);
        }
        println!(
            "round {round}: {} records; device {:.2} s ({:.0} records/s), KUC pipe {:.2} s ({:.0} records/s); device/KUC x{:.2}",
            d.0,
            d.1,
            d.0 as f64 / d.1,
            k.1,
            k.0 as f64 / k.1,
            k.1 / d.1
        );
    }
    ExitCode::SUCCESS
}
