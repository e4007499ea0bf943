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

use std::{path::Path, process::ExitCode};

const USAGE: &str =
    "usage: lloop attach [-r] [-o OFFSET] [-s SIZELIMIT] [-b BLOCKSIZE] [--buffered] FILE\n\
       lloop detach DEVICE...\n\
       lloop list\n\
       lloop dio DEVICE on|off\n\
       lloop resize DEVICE\n\
       lloop add N | lloop remove N";

fn number(opt: &str, v: Option<&String>) -> Result<u64, String> {
    let v = v.ok_or(format!("{opt} needs a value"))?;
    v.parse()
        .map_err(|_| format!("{opt}: '{v}' is not a number"))
}

fn attach(args: &[String]) -> Result<(), String> {
    let mut o = lloop::AttachOptions::default();
    let mut file = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-r" | "--read-only" => o.read_only = true,
            "--buffered" => o.buffered = true,
            "-o" | "--offset" => {
                o.offset = number(a, args.get(i + 1))?;
                i += 1;
            }
            "-s" | "--sizelimit" => {
                o.sizelimit = number(a, args.get(i + 1))?;
                i += 1;
            }
            "-b" | "--block-size" => {
                o.block_size = u32::try_from(number(a, args.get(i + 1))?)
                    .map_err(|_| format!("{a}: too large"))?;
                i += 1;
            }
            _ if a.starts_with('-') => return Err(format!("unknown option {a}\n{USAGE}")),
            _ if file.is_none() => file = Some(a),
            _ => return Err(format!("one FILE only\n{USAGE}")),
        }
        i += 1;
    }
    let file = file.ok_or(format!("attach needs a FILE\n{USAGE}"))?;
    let dev = lloop::attach(Path::new(file), &o).map_err(|e| e.to_string())?;
    println!("{}", dev.display());
    Ok(())
}

fn run(args: &[String]) -> Result<(), String> {
    let (cmd, rest) = args.split_first().ok_or(USAGE.to_string())?;
    match (cmd.as_str(), rest) {
        ("attach", r) => attach(r),
        ("detach", devs) if !devs.is_empty() => {
            let mut err = None;
            for d in devs {
                if let Err(e) = lloop::detach(Path::new(d)) {
                    eprintln!("lloop: {e}");
                    err = Some("detach failed".to_string());
                }
            }
            err.map_or(Ok(()), Err)
        }
        ("list", []) => {
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
        ("dio", [d, v]) => {
            let on = match v.as_str() {
                "on" | "1" => true,
                "off" | "0" => false,
                _ => return Err(format!("dio: '{v}' is not on or off")),
            };
            lloop::set_direct_io(Path::new(d), on).map_err(|e| e.to_string())
        }
        ("resize", [d]) => lloop::set_capacity(Path::new(d)).map_err(|e| e.to_string()),
        ("add" | "remove", [n]) => {
            let n: u32 = n
                .parse()
                .map_err(|_| format!("{cmd}: '{n}' is not a device number"))?;
            lloop::add_remove(n, cmd == "add").map_err(|e| e.to_string())
        }
        _ => Err(USAGE.to_string()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lloop: {e}");
            ExitCode::FAILURE
        }
    }
}
