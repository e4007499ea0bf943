// SPDX-License-Identifier: GPL-2.0

//! `lloop`: attach files to lloop block devices.
//!
//! ```text
//! lloop attach [-r] [-o OFFSET] [-s SIZELIMIT] [-b BLOCKSIZE] [--buffered] FILE
//! lloop detach DEVICE...
//! lloop list
//! lloop dio DEVICE on|off
//! lloop resize DEVICE
//! lloop add N | remove N
//! ```
//!
//! Exit status: 0, 1 when a command failed, 2 for a bad command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

/// Attach regular files to lloop block devices (/dev/lloopN), as losetup does for loop devices.
#[derive(Debug, Parser)]
#[command(name = "lloop")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Attach FILE to the first free device and print the device's name.
    Attach {
        /// Attach read-only.
        #[arg(short = 'r', long = "read-only")]
        read_only: bool,
        /// Start at this byte offset of the file (a multiple of 512).
        #[arg(
            short = 'o',
            long = "offset",
            value_name = "OFFSET",
            default_value_t = 0
        )]
        offset: u64,
        /// Use at most this many bytes of the file (0: up to its end).
        #[arg(
            short = 's',
            long = "sizelimit",
            value_name = "SIZELIMIT",
            default_value_t = 0
        )]
        sizelimit: u64,
        /// Logical block size of the device (0: the file's direct I/O alignment).
        #[arg(
            short = 'b',
            long = "block-size",
            value_name = "BLOCKSIZE",
            default_value_t = 0
        )]
        block_size: u32,
        /// Turn direct I/O off after attaching (it is on wherever the file allows it).
        #[arg(long)]
        buffered: bool,
        /// The regular file to attach.
        file: PathBuf,
    },
    /// Detach the file of each DEVICE.
    Detach {
        #[arg(value_name = "DEVICE", required = true)]
        devices: Vec<PathBuf>,
    },
    /// List the attached devices: size, offset, direct I/O, autoclear and file.
    List,
    /// Turn direct I/O on or off.
    Dio {
        device: PathBuf,
        /// on (or 1), off (or 0).
        #[arg(value_name = "on|off", value_parser = on_off, action = ArgAction::Set)]
        on: bool,
    },
    /// Bring the device's size up to date with its file's.
    Resize { device: PathBuf },
    /// Create device N (/dev/lloopN).
    Add {
        #[arg(value_name = "N")]
        n: u32,
    },
    /// Remove device N (/dev/lloopN).
    Remove {
        #[arg(value_name = "N")]
        n: u32,
    },
}

fn on_off(v: &str) -> Result<bool, String> {
    match v {
        "on" | "1" => Ok(true),
        "off" | "0" => Ok(false),
        _ => Err(format!("'{v}' is not on or off")),
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Attach {
            read_only,
            offset,
            sizelimit,
            block_size,
            buffered,
            file,
        } => {
            let o = lloop::AttachOptions {
                read_only,
                offset,
                sizelimit,
                block_size,
                buffered,
                ..Default::default()
            };
            let dev = lloop::attach(&file, &o).map_err(|e| e.to_string())?;
            println!("{}", dev.display());
            Ok(())
        }
        Command::Detach { devices } => {
            let mut err = None;
            for d in devices {
                if let Err(e) = lloop::detach(&d) {
                    eprintln!("lloop: {e}");
                    err = Some("detach failed".to_string());
                }
            }
            err.map_or(Ok(()), Err)
        }
        Command::List => {
            println!(
                "{:<12} {:>12} {:>10} {:>4} {:>9}  BACKING-FILE",
                "DEVICE", "SIZE", "OFFSET", "DIO", "AUTOCLEAR"
            );
            for e in lloop::list().map_err(|e| format!("/sys/block: {e}"))? {
                println!(
                    "{:<12} {:>12} {:>10} {:>4} {:>9}  {}",
                    e.device.display(),
                    e.size,
                    e.offset,
                    if e.dio { "on" } else { "off" },
                    if e.autoclear { "on" } else { "off" },
                    e.backing_file
                );
                if let (false, Some(why)) = (e.dio, e.dio_reason.as_deref()) {
                    println!("{:<12} direct I/O off: {why}", "");
                }
            }
            Ok(())
        }
        Command::Dio { device, on } => lloop::set_direct_io(&device, on).map_err(|e| e.to_string()),
        Command::Resize { device } => lloop::set_capacity(&device).map_err(|e| e.to_string()),
        Command::Add { n } => lloop::add_remove(n, true).map_err(|e| e.to_string()),
        Command::Remove { n } => lloop::add_remove(n, false).map_err(|e| e.to_string()),
    }
}

fn main() -> ExitCode {
    // clap prints the help (exit 0) or the usage error (exit 2).
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lloop: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("lloop").chain(args.iter().copied())).map(|c| c.command)
    }

    /// The command lines of the test scripts and the documentation.
    #[test]
    fn script_command_lines() {
        let attach = |args: &[&str]| match parse(args) {
            Ok(Command::Attach {
                read_only,
                offset,
                sizelimit,
                block_size,
                buffered,
                file,
            }) => Some((read_only, offset, sizelimit, block_size, buffered, file)),
            _ => None,
        };
        let f = || PathBuf::from("/tmp/back/file");
        assert_eq!(
            attach(&["attach", "/tmp/back/file"]),
            Some((false, 0, 0, 0, false, f()))
        );
        assert_eq!(
            attach(&["attach", "--buffered", "/tmp/back/file"]),
            Some((false, 0, 0, 0, true, f()))
        );
        assert_eq!(
            attach(&["attach", "-r", "/tmp/back/file"]),
            Some((true, 0, 0, 0, false, f()))
        );
        assert_eq!(
            attach(&[
                "attach",
                "-o",
                "4096",
                "--sizelimit",
                "8192",
                "-b",
                "512",
                "--read-only",
                "/tmp/back/file"
            ]),
            Some((true, 4096, 8192, 512, false, f()))
        );
        assert!(matches!(
            parse(&["detach", "/dev/lloop0"]),
            Ok(Command::Detach { devices }) if devices == [PathBuf::from("/dev/lloop0")]
        ));
        assert!(matches!(parse(&["list"]), Ok(Command::List)));
        assert!(matches!(
            parse(&["dio", "/dev/lloop0", "off"]),
            Ok(Command::Dio { on: false, .. })
        ));
        assert!(matches!(
            parse(&["dio", "/dev/lloop0", "1"]),
            Ok(Command::Dio { on: true, .. })
        ));
        assert!(matches!(
            parse(&["resize", "/dev/lloop1"]),
            Ok(Command::Resize { .. })
        ));
        assert!(matches!(parse(&["add", "3"]), Ok(Command::Add { n: 3 })));
        assert!(matches!(
            parse(&["remove", "3"]),
            Ok(Command::Remove { n: 3 })
        ));
    }

    #[test]
    fn command_definition() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn bad_command_lines() {
        for args in [
            &[][..],
            &["attach"],
            &["attach", "a", "b"],
            &["attach", "-o", "x", "f"],
            &["attach", "-b", "4294967296", "f"],
            &["attach", "--bogus", "f"],
            &["detach"],
            &["list", "x"],
            &["dio", "/dev/lloop0", "maybe"],
            &["add", "-1"],
            &["frobnicate"],
        ] {
            let e = parse(args).expect_err("refused");
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
        assert!(parse(&["--help"]).is_err_and(|e| e.exit_code() == 0));
    }
}
