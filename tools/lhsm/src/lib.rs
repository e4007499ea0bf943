// SPDX-License-Identifier: GPL-2.0

//! The userspace side of the HSM upcall (LU-10968): the MDT runs `lhsm_mdt_upcall` for
//! ARCHIVE and REMOVE requests; it makes them durable in a queue ([`queue`]) and exits 0; the
//! `lhsm_worker` daemons drain the queue with leases, running `lfs hsm_upcall
//! lhsm_worker_posix ...` for each item. [`archive`] is lhsmtool_posix's archive layout.
//!
//! RESTORE never goes through the upcall: `lhsm_copytool` ([`copytool`]) serves the
//! coordinator of a target, for every action, with the same worker programs.

pub mod archive;
pub mod copytool;
pub mod queue;

use std::process::ExitCode;

use rustre_logic::fid::Fid;

/// The exit status of the lhsm programs for a bad command line (`EINVAL`).
pub const USAGE_EXIT: u8 = 22;

/// A command line parsed by clap, or the exit status after clap's message: the help (asked
/// for) on standard output and 0, a usage error on standard error and [`USAGE_EXIT`].
pub fn or_exit<T>(parsed: Result<T, clap::Error>) -> Result<T, ExitCode> {
    parsed.map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::from(USAGE_EXIT)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// One HSM request as the upcall receives it (`ACTION FSNAME ARCHIVE_ID FLAGS DATA FID...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `ARCHIVE` or `REMOVE`.
    pub action: String,
    /// File system name.
    pub fsname: String,
    /// Archive id.
    pub archive_id: u64,
    /// Request flags (`HSM_FORCE_ACTION`, ...).
    pub flags: u64,
    /// Opaque data (`lfs --data`).
    pub data: String,
    /// The files.
    pub fids: Vec<Fid>,
}

/// Why an upcall's arguments were refused.
#[derive(Debug, PartialEq, Eq)]
pub struct ArgError(pub String);

fn number(what: &str, s: &str) -> Result<u64, ArgError> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| ArgError(format!("bad {what} '{s}'")))
}

impl Request {
    /// Parses `ACTION FSNAME ARCHIVE_ID FLAGS DATA FID...` (argv after the program name).
    pub fn from_args(args: &[String]) -> Result<Request, ArgError> {
        let [action, fsname, archive_id, flags, data, fids @ ..] = args else {
            return Err(ArgError(
                "usage: ACTION FSNAME ARCHIVE_ID FLAGS DATA FID...".into(),
            ));
        };
        if action != "ARCHIVE" && action != "REMOVE" {
            return Err(ArgError(format!(
                "action '{action}' is not ARCHIVE or REMOVE"
            )));
        }
        if fsname.is_empty() || fids.is_empty() {
            return Err(ArgError("no file system name or no FID".into()));
        }
        let fids = fids
            .iter()
            .map(|f| Fid::parse(f.as_bytes()).ok_or_else(|| ArgError(format!("bad FID '{f}'"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Request {
            action: action.clone(),
            fsname: fsname.clone(),
            archive_id: number("archive id", archive_id)?,
            flags: number("flags", flags)?,
            data: data.clone(),
            fids,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn upcall_arguments() {
        let r = Request::from_args(&args(&[
            "ARCHIVE",
            "lustre",
            "1",
            "0x0",
            "",
            "[0x200000401:0x1:0x0]",
            "0x2:0x3:0x0",
        ]))
        .expect("parses");
        assert_eq!(r.archive_id, 1);
        assert_eq!(r.fids.len(), 2);
        assert!(
            Request::from_args(&args(&["RESTORE", "lustre", "1", "0", "", "[0x1:0x1:0x0]"]))
                .is_err()
        );
        assert!(Request::from_args(&args(&["ARCHIVE", "lustre", "1", "0", ""])).is_err());
        assert!(
            Request::from_args(&args(&["ARCHIVE", "lustre", "x", "0", "", "[0x1:0x1:0x0]"]))
                .is_err()
        );
        assert!(Request::from_args(&args(&["REMOVE", "lustre", "1", "0", "", "[bad]"])).is_err());
    }
}
