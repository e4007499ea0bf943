// SPDX-License-Identifier: GPL-2.0

//! `lfs`: the Lustre file system utility, for rustre metadata targets.
//!
//! `lfs path2fid FILE...` and `lfs fid2path <target|mount point> FID...`, with Lustre's output.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lfs::fid::{fid2path, path2fid};
use rustre_logic::fid::Fid;

const USAGE: &str = "usage: lfs path2fid FILE...\n       lfs fid2path <target|fsname|mountpoint> FID...";

/// The mount point of a target (`lustre-MDT0000`) or fsname (`lustre`, when it has one target),
/// from the target's `mount_point` parameter; a path is taken as is.
fn resolve_mount(arg: &str) -> Result<PathBuf, String> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Ok(PathBuf::from(arg));
    }
    let base = Path::new("/sys/kernel/debug/lustre/mdd");
    let entries = std::fs::read_dir(base)
        .map_err(|e| format!("cannot list targets in {}: {e}", base.display()))?;
    let mut found = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == arg || name.strip_prefix(arg).is_some_and(|r| r.starts_with("-MDT")) {
            if let Ok(m) = std::fs::read_to_string(e.path().join("mount_point")) {
                found.push(PathBuf::from(m.trim_end()));
            }
        }
    }
    match found.len() {
        0 => Err(format!("no target or filesystem named '{arg}'")),
        1 => Ok(found.remove(0)),
        _ => Err(format!("'{arg}' names several targets: give one")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(22);
    };
    let mut rc = 0;
    match cmd.as_str() {
        "path2fid" => {
            if rest.is_empty() {
                eprintln!("{USAGE}");
                return ExitCode::from(22);
            }
            for f in rest {
                match path2fid(Path::new(f)) {
                    Ok(fid) if rest.len() == 1 => println!("{fid}"),
                    Ok(fid) => println!("{f}: {fid}"),
                    Err(e) => {
                        eprintln!("lfs path2fid: can't get fid for {f}: {e}");
                        rc = e.raw_os_error().unwrap_or(5);
                    }
                }
            }
        }
        "fid2path" => {
            let [fs, fids @ ..] = rest else {
                eprintln!("{USAGE}");
                return ExitCode::from(22);
            };
            if fids.is_empty() {
                eprintln!("{USAGE}");
                return ExitCode::from(22);
            }
            let mount = match resolve_mount(fs) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("lfs fid2path: {e}");
                    return ExitCode::from(19);
                }
            };
            for s in fids {
                let Some(fid) = Fid::parse(s.as_bytes()) else {
                    eprintln!("lfs fid2path: invalid FID '{s}'");
                    rc = 22;
                    continue;
                };
                match fid2path(&mount, &fid) {
                    Ok(p) => println!("{}", p.display()),
                    Err(e) => {
                        eprintln!("lfs fid2path: cannot find '{s}': {e}");
                        rc = e.raw_os_error().unwrap_or(5);
                    }
                }
            }
        }
        "help" | "--help" | "-h" => println!("{USAGE}"),
        _ => {
            eprintln!("lfs: unknown command '{cmd}'\n{USAGE}");
            return ExitCode::from(22);
        }
    }
    ExitCode::from(u8::try_from(rc).unwrap_or(1))
}
