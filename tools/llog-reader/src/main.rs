// SPDX-License-Identifier: GPL-2.0

//! `llog_reader [--raw] [--header] CATALOG`: prints a changelog catalog offline, one record per
//! line in the `lfs changelog` format, and reports a damaged or torn part with its byte offset.
//!
//! With `--raw`, writes the records in Lustre's binary format instead, packed, as a reader of
//! the changelog device receives them. With `--header`, prints the catalog header (target,
//! users, purge point) to standard error first.
//!
//! Exit status: 0 when every byte after the purge point is a valid record, 1 when the scan
//! stopped early (the records before that point were printed), 2 when the file cannot be read
//! or is not a catalog.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use rustre_logic::catalog_fmt::{parse_frame, FrameError, Header, UsersText, DATA_START, SLOT_LEN};
use rustre_logic::record::{MaskNames, Record};

/// Print a changelog catalog offline, one record per line as `lfs changelog` prints it.
///
/// Exit status: 0 when every byte after the purge point is a valid record, 1 when the scan
/// stopped early (the records before that point were printed), 2 when the file cannot be read
/// or is not a catalog, or for a bad command line.
#[derive(Debug, Parser)]
#[command(name = "llog_reader")]
struct Cli {
    /// Write the records in Lustre's binary format, packed, as a reader of the changelog
    /// device receives them.
    #[arg(long)]
    raw: bool,
    /// Print the catalog header (target, users, purge point) to standard error first.
    #[arg(long)]
    header: bool,
    /// The catalog file.
    #[arg(value_name = "CATALOG")]
    catalog: PathBuf,
}

fn main() -> ExitCode {
    // clap prints the help (exit 0) or the usage error (exit 2).
    let Cli {
        raw,
        header,
        catalog,
    } = Cli::parse();
    let path = catalog.to_string_lossy();
    let data = match std::fs::read(&catalog) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("llog_reader: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&path, &data, raw, header) {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llog_reader: {path}: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(path: &str, data: &[u8], raw: bool, show_header: bool) -> io::Result<ExitCode> {
    let slot0 = data.get(..SLOT_LEN).unwrap_or(data);
    let slot1 = data.get(SLOT_LEN..2 * SLOT_LEN).unwrap_or(&[]);
    let (h, slot) = match Header::pick(slot0, slot1) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("llog_reader: {path}: {} (byte offset 0)", e.as_str());
            return Ok(ExitCode::from(2));
        }
    };
    if show_header {
        // The header's next_index is the index reservation; the current index is the last
        // record's, found by the scan below (or the purge point when nothing is left).
        let mut last = h.first_index - 1;
        let mut off = usize::try_from(h.first_offset)
            .unwrap_or(usize::MAX)
            .max(DATA_START as usize);
        while let Some(f) = data.get(off..).and_then(|b| parse_frame(b).ok()) {
            last = f.index;
            off += f.len;
        }
        eprintln!(
            "target: {}\nheader slot: {slot} (generation {})\nmask: {}\nfirst record: {} at byte offset {}\nindices reserved below: {}",
            String::from_utf8_lossy(h.target()),
            h.generation,
            MaskNames(h.mask),
            h.first_index,
            h.first_offset,
            h.next_index
        );
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        eprint!(
            "{}",
            UsersText {
                header: &h,
                current_index: last,
                now: secs
            }
        );
    }
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    let mut off = usize::try_from(h.first_offset)
        .unwrap_or(usize::MAX)
        .max(DATA_START as usize);
    let mut expect = h.first_index;
    while off < data.len() {
        let frame = match parse_frame(&data[off..]) {
            Ok(f) if f.index >= expect => f,
            Ok(f) => {
                out.flush()?;
                eprintln!(
                    "llog_reader: {path}: record {} where {} or more was expected at byte offset {off}; {} bytes not shown",
                    f.index,
                    expect,
                    data.len() - off
                );
                return Ok(ExitCode::from(1));
            }
            Err(e) => {
                out.flush()?;
                let what = if e == FrameError::Short {
                    "torn record"
                } else {
                    e.as_str()
                };
                eprintln!(
                    "llog_reader: {path}: {what} at byte offset {off}; {} bytes not shown",
                    data.len() - off
                );
                return Ok(ExitCode::from(1));
            }
        };
        let rec_bytes = &data[off + frame.rec_at..off + frame.rec_at + frame.rec_len];
        if raw {
            out.write_all(rec_bytes)?;
        } else if let Ok((rec, _)) = Record::decode(rec_bytes) {
            writeln!(out, "{}", rec.text())?;
        }
        off += frame.len;
        expect = frame.index + 1;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod cli_tests {
    use super::*;
    use clap::CommandFactory;

    /// The command lines of the test scripts: `llog_reader [--raw] [--header] CATALOG`.
    #[test]
    fn command_lines() {
        Cli::command().debug_assert();
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("llog_reader").chain(args.iter().copied()))
                .map(|c| (c.raw, c.header, c.catalog))
        };
        let cat = || PathBuf::from("/tmp/catalog/mdt0.llog");
        let c = "/tmp/catalog/mdt0.llog";
        assert_eq!(parse(&[c]).ok(), Some((false, false, cat())));
        assert_eq!(parse(&["--raw", c]).ok(), Some((true, false, cat())));
        assert_eq!(parse(&["--header", c]).ok(), Some((false, true, cat())));
        assert_eq!(
            parse(&[c, "--raw", "--header"]).ok(),
            Some((true, true, cat()))
        );
        for bad in [&[][..], &[c, c], &["--bogus", c]] {
            assert_eq!(parse(bad).map_err(|e| e.exit_code()), Err(2), "{bad:?}");
        }
    }
}
