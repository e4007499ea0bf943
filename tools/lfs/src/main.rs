// SPDX-License-Identifier: GPL-2.0

//! `lfs`: the Lustre file system utility, for rustre metadata targets.
//!
//! `lfs changelog`, `lfs changelog_clear`, `lfs path2fid FILE...`,
//! `lfs fid2path <target|mount point> FID...`, and the HSM commands `lfs hsm_archive`,
//! `hsm_restore`, `hsm_release`, `hsm_remove`, `hsm_cancel`, `hsm_state`, `hsm_action` and `hsm_upcall`
//! ([`lfs::hsm_cmd`]), with Lustre's output.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lfs::fid::{fid2path, path2fid};
use lfs::hsm_cmd;
use rustre_getopt::{self as getopt, HasArg, OptSpec};
use rustre_logic::fid::Fid;
use rustre_logic::uapi::UserAction;

const USAGE: &str =
    "usage: lfs changelog [--follow] [--user USERNAME] <mdtname> [startrec [endrec]]\n       \
                     lfs changelog_clear <mdtname> <id> <endrec>\n       \
                     lfs path2fid FILE...\n       \
                     lfs fid2path <target|fsname|mountpoint> FID...";

/// The HSM request commands and their actions.
const HSM_REQUESTS: [(&str, UserAction); 5] = [
    ("hsm_archive", UserAction::Archive),
    ("hsm_restore", UserAction::Restore),
    ("hsm_release", UserAction::Release),
    ("hsm_remove", UserAction::Remove),
    ("hsm_cancel", UserAction::Cancel),
];

/// The options of `lfs changelog`.
const CHANGELOG_OPTS: &[OptSpec] = &[
    OptSpec::new('f', &["follow"], HasArg::No),
    OptSpec::new('u', &["user"], HasArg::Required),
];

/// What `lfs changelog` was asked.
#[derive(Debug, PartialEq, Eq)]
struct ChangelogArgs {
    follow: bool,
    user: Option<String>,
    mdt: String,
    start: u64,
    end: u64,
}

/// Parses `[--follow|-f] [--user|-u USERNAME] <mdtname> [startrec [endrec]]`, options and
/// operands in any order (getopt_long). `Err` is the message to print before the usage, if any.
fn parse_changelog_args(args: &[String]) -> Result<ChangelogArgs, String> {
    let parsed = getopt::parse(args, CHANGELOG_OPTS)?;
    let (mut follow, mut user) = (false, None);
    for (letter, value) in parsed.options {
        match letter {
            'f' => follow = true,
            _ => user = value,
        }
    }
    let num = |s: Option<&String>| -> Result<u64, String> {
        s.map_or(Ok(0), |s| {
            s.parse()
                .map_err(|_| format!("invalid record number '{s}'"))
        })
    };
    let rest = parsed.operands;
    let Some(mdt) = rest.first() else {
        return Err(String::new());
    };
    if rest.len() > 3 {
        return Err("too many arguments".to_owned());
    }
    Ok(ChangelogArgs {
        follow,
        user,
        mdt: mdt.clone(),
        start: num(rest.get(1))?,
        end: num(rest.get(2))?,
    })
}

/// `lfs changelog`: prints records in Lustre's text format.
fn changelog(args: &[String]) -> i32 {
    use changelog_reader::*;
    let ChangelogArgs {
        follow,
        user,
        mdt,
        start,
        end,
    } = match parse_changelog_args(args) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("lfs changelog: {e}");
            }
            eprintln!("{USAGE}");
            return 22;
        }
    };
    let mut flags = FLAG_BLOCK | FLAG_JOBID | FLAG_NID_BE | FLAG_EXTRA_FLAGS;
    if follow {
        flags |= FLAG_FOLLOW;
    }
    let r = match &user {
        Some(u) => Reader::start_user(&mdt, flags, start, u, 0),
        None => Reader::start(&mdt, flags, start),
    };
    let mut r = match r {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lfs changelog: cannot start changelog: {e}");
            return e.raw_os_error().unwrap_or(5);
        }
    };
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    loop {
        match r.recv() {
            Ok(Some(rec)) => {
                let rec = rec.record();
                if end != 0 && rec.index > end {
                    break;
                }
                if writeln!(out, "{}", rec.text()).is_err() {
                    return 0;
                }
                if follow && !r.in_buf() {
                    let _ = out.flush();
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = out.flush();
                eprintln!("lfs changelog: cannot read changelog: {e}");
                return e.raw_os_error().unwrap_or(5);
            }
        }
    }
    let _ = out.flush();
    0
}

/// `lfs changelog_clear`, with Lustre's messages.
fn changelog_clear(args: &[String]) -> i32 {
    let [mdt, id, endrec] = args else {
        eprintln!("{USAGE}");
        return 22;
    };
    let Ok(end) = endrec.parse::<i64>() else {
        eprintln!("{USAGE}");
        return 22;
    };
    match changelog_reader::clear(mdt, id, end) {
        Ok(()) => 0,
        Err(e) => {
            match e.raw_os_error() {
                Some(22) => eprintln!("changelog_clear: record out of range: {endrec}"),
                Some(2) => eprintln!("changelog_clear: no changelog user: {id}"),
                _ => eprintln!("changelog_clear error: {e}"),
            }
            e.raw_os_error().unwrap_or(5)
        }
    }
}

/// The mount point of a target (`lustre-MDT0000`) or fsname (`lustre`, when it has one target),
/// from the target's `mount_point` parameter; a path is taken as is.
fn resolve_mount(arg: &str) -> Result<PathBuf, String> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Ok(PathBuf::from(arg));
    }
    let base = Path::new(lfs::hsm::MDD_PARAMS);
    let entries = std::fs::read_dir(base)
        .map_err(|e| format!("cannot list targets in {}: {e}", base.display()))?;
    let mut found = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == arg
            || name
                .strip_prefix(arg)
                .is_some_and(|r| r.starts_with("-MDT"))
        {
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
    let os_args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let Some((os_cmd, os_rest)) = os_args.split_first() else {
        eprintln!("{USAGE}\n       {}", hsm_cmd::USAGE);
        return ExitCode::from(22);
    };
    let cmd = os_cmd.to_string_lossy().into_owned();
    if let Some((_, action)) = HSM_REQUESTS.iter().find(|(name, _)| *name == cmd) {
        return ExitCode::from(exit(hsm_cmd::hsm_request(*action, os_rest)));
    }
    match cmd.as_str() {
        "hsm_state" => return ExitCode::from(exit(hsm_cmd::hsm_state(os_rest))),
        "hsm_action" => return ExitCode::from(exit(hsm_cmd::hsm_action(os_rest))),
        "hsm_upcall" => return ExitCode::from(exit(hsm_cmd::hsm_upcall(os_rest))),
        _ => {}
    }
    let rest: Vec<String> = os_rest
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let rest = rest.as_slice();
    let mut rc = 0;
    match cmd.as_str() {
        "changelog" => rc = changelog(rest),
        "changelog_clear" => rc = changelog_clear(rest),
        "path2fid" => {
            let files = match getopt::parse(os_rest, &[]) {
                Ok(parsed) if !parsed.operands.is_empty() => parsed.operands,
                Ok(_) => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(22);
                }
                Err(e) => {
                    eprintln!("lfs path2fid: {e}\n{USAGE}");
                    return ExitCode::from(22);
                }
            };
            for os_f in &files {
                let f = os_f.to_string_lossy();
                match path2fid(Path::new(os_f)) {
                    Ok(fid) if files.len() == 1 => println!("{fid}"),
                    Ok(fid) => println!("{f}: {fid}"),
                    Err(e) => {
                        eprintln!("lfs path2fid: can't get fid for {f}: {e}");
                        rc = e.raw_os_error().unwrap_or(5);
                    }
                }
            }
        }
        "fid2path" => {
            let operands = match getopt::parse(rest, &[]) {
                Ok(parsed) => parsed.operands,
                Err(e) => {
                    eprintln!("lfs fid2path: {e}\n{USAGE}");
                    return ExitCode::from(22);
                }
            };
            let [fs, fids @ ..] = operands.as_slice() else {
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
        "help" | "--help" | "-h" => println!("{USAGE}\n       {}", hsm_cmd::USAGE),
        _ => {
            eprintln!(
                "lfs: unknown command '{cmd}'\n{USAGE}\n       {}",
                hsm_cmd::USAGE
            );
            return ExitCode::from(22);
        }
    }
    ExitCode::from(u8::try_from(rc).unwrap_or(1))
}

/// The exit status of an HSM command's result (0, or an errno).
fn exit(rc: i32) -> u8 {
    if rc == 0 {
        0
    } else {
        lfs::worker::exit_code(rc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn changelog_args(
        follow: bool,
        user: Option<&str>,
        mdt: &str,
        start: u64,
        end: u64,
    ) -> ChangelogArgs {
        ChangelogArgs {
            follow,
            user: user.map(str::to_owned),
            mdt: mdt.to_owned(),
            start,
            end,
        }
    }

    /// The `lfs changelog` command lines of the test scripts and documentation, and the forms
    /// the old parser took.
    #[test]
    fn changelog_command_lines() {
        let parse = |args: &[&str]| parse_changelog_args(&strings(args));
        let t = "lustre-MDT0000";
        assert_eq!(parse(&[t]), Ok(changelog_args(false, None, t, 0, 0)));
        assert_eq!(parse(&[t, "4"]), Ok(changelog_args(false, None, t, 4, 0)));
        assert_eq!(
            parse(&[t, "3", "5"]),
            Ok(changelog_args(false, None, t, 3, 5))
        );
        assert_eq!(
            parse(&["--follow", t]),
            Ok(changelog_args(true, None, t, 0, 0))
        );
        for args in [
            &["--user", "cl1", t][..],
            &["--user=cl1", t],
            &["-u", "cl1", t],
            &[t, "-u", "cl1"],
            &["-ucl1", t],
            &["--us", "cl1", t],
        ] {
            assert_eq!(
                parse(args),
                Ok(changelog_args(false, Some("cl1"), t, 0, 0)),
                "{args:?}"
            );
        }
        assert_eq!(
            parse(&["-fu", "r", t, "1", "-f"]),
            Ok(changelog_args(true, Some("r"), t, 1, 0))
        );
        assert_eq!(parse(&[]), Err(String::new()));
        assert!(parse(&[t, "1", "2", "3"]).is_err());
        assert!(parse(&[t, "x"]).is_err());
        assert!(parse(&[t, "-u"]).is_err());
        assert!(parse(&["-x", t]).is_err());
    }
}
