// SPDX-License-Identifier: GPL-2.0

//! The command-line parsing of `lctl` that needs no system: the global options, the option
//! tables of the parameter and changelog commands and what each option does. `main.rs` runs
//! the commands; this part is a library so that the fuzz targets (`tools/fuzz`) can drive it.

use rustre_logic::record::Record;

use crate::getopt::{self, HasArg, OptSpec};
use crate::param::ParamOpts;

/// Takes the global options (`--device NAME`, `--device=NAME`) off the front of `args`, storing
/// the device in `device` (the last one given wins); returns the rest, the command and its
/// arguments. Any other option before the command, except `--help` and `-h`, is an error.
pub fn global_options<'a>(
    device: &mut Option<String>,
    args: &'a [String],
) -> Result<&'a [String], String> {
    let mut rest = args;
    while let Some(arg) = rest.first() {
        let (name, used) = if arg == "--device" {
            (rest.get(1).map(String::as_str), 2)
        } else if let Some(name) = arg.strip_prefix("--device=") {
            (Some(name), 1)
        } else if arg.starts_with('-') && arg != "--help" && arg != "-h" {
            return Err(format!("unrecognized option '{arg}'"));
        } else {
            break;
        };
        match name {
            Some(name) if !name.is_empty() => *device = Some(name.to_owned()),
            _ => return Err("option '--device' requires a device name".to_owned()),
        }
        rest = &rest[used..];
    }
    Ok(rest)
}

/// Options get_param and list_param share (Lustre's letters and long names).
pub const SHOW_OPTIONS: &[OptSpec] = &[
    OptSpec::new('F', &["classify"], HasArg::No),
    OptSpec::new('l', &["links"], HasArg::No),
    OptSpec::new('L', &["no-links"], HasArg::No),
    OptSpec::new('m', &["merge"], HasArg::No),
    OptSpec::new('M', &["no-merge"], HasArg::No),
    OptSpec::new('p', &["path"], HasArg::No),
    OptSpec::new('r', &["readable"], HasArg::No),
    OptSpec::new('R', &["recursive"], HasArg::No),
    OptSpec::new('t', &["tunable"], HasArg::No),
    OptSpec::new('w', &["writable"], HasArg::No),
    OptSpec::new('b', &["dshbak"], HasArg::No),
    OptSpec::new('h', &["help"], HasArg::No),
];

/// Options of get_param only.
pub const GET_ONLY_OPTIONS: &[OptSpec] = &[
    OptSpec::new('H', &["header"], HasArg::No),
    OptSpec::new('n', &["no-name"], HasArg::No),
    OptSpec::new('N', &["only-name", "name-only"], HasArg::No),
    OptSpec::new('c', &["color"], HasArg::Required),
    OptSpec::new('y', &["yaml"], HasArg::No),
];

/// Options of list_param only.
pub const LIST_ONLY_OPTIONS: &[OptSpec] = &[
    OptSpec::new('D', &["dir-only", "directory-only"], HasArg::No),
    OptSpec::new('c', &["color"], HasArg::Optional),
];

/// Options of set_param.
pub const SET_OPTIONS: &[OptSpec] = &[
    OptSpec::new('n', &["noname", "no-name"], HasArg::No),
    OptSpec::new('t', &["thread"], HasArg::Optional),
    OptSpec::new('P', &["perm", "permanent"], HasArg::No),
    OptSpec::new('C', &["client"], HasArg::Optional),
    OptSpec::new('d', &["delete"], HasArg::No),
    OptSpec::new('F', &["file"], HasArg::No),
    OptSpec::new('h', &["help"], HasArg::No),
];

/// Options of changelog_register.
pub const REGISTER_OPTIONS: &[OptSpec] = &[
    OptSpec::new('m', &["mask"], HasArg::Required),
    OptSpec::new('u', &["user"], HasArg::Required),
    OptSpec::new('n', &[], HasArg::No),
];

/// What an option of a parameter command asks for, once applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionAction {
    /// Applied to the [`ParamOpts`]; go on.
    Applied,
    /// `--help`: print the command's help and stop.
    Help,
    /// An option this lctl accepts but does not implement (permanent settings, YAML, ...).
    Unsupported,
}

/// Applies an option of get_param or list_param to `opts`. `Err` is a usage message.
pub fn apply_show_option(
    opts: &mut ParamOpts,
    letter: char,
    value: Option<&str>,
) -> Result<OptionAction, String> {
    match letter {
        'F' => opts.show_type = true,
        'l' => opts.follow_symlinks = true,
        'L' => opts.follow_symlinks = false,
        'm' => opts.merge = true,
        'M' => opts.merge = false,
        'p' => opts.only_path = true,
        'r' => opts.permissions |= 0o400,
        'R' => opts.recursive = true,
        't' => opts.tunable = true,
        'w' => opts.permissions |= 0o200,
        'H' => opts.header = true,
        'n' => opts.show_name = false,
        'N' => opts.only_name = true,
        'D' => opts.only_dir = true,
        // Output is never coloured; the argument is still checked.
        'c' => match value {
            None | Some("always" | "yes" | "never" | "no" | "auto") => {}
            Some(other) => return Err(format!("invalid --color argument '{other}'")),
        },
        'h' => return Ok(OptionAction::Help),
        _ => return Ok(OptionAction::Unsupported),
    }
    Ok(OptionAction::Applied)
}

/// Applies an option of set_param to `opts`. `Err` is a usage message.
pub fn apply_set_option(
    opts: &mut ParamOpts,
    letter: char,
    value: Option<&str>,
) -> Result<OptionAction, String> {
    match letter {
        'n' => opts.show_name = false,
        't' => {
            let threads = value.map(str::parse::<u32>);
            if matches!(threads, Some(Err(_)) | Some(Ok(0 | 1))) {
                return Err("--thread needs at least 2 threads".to_owned());
            }
        }
        'h' => return Ok(OptionAction::Help),
        _ => return Ok(OptionAction::Unsupported),
    }
    Ok(OptionAction::Applied)
}

/// The options of changelog_register.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Register {
    /// `-m MASK`.
    pub mask: Option<String>,
    /// `-u NAME`.
    pub user: Option<String>,
    /// `-n`: print the user id only.
    pub brief: bool,
}

impl Register {
    /// Parses the arguments of changelog_register (it takes no operand). `Err` is a usage
    /// message, empty when the help alone says it.
    pub fn parse(args: &[String]) -> Result<Register, String> {
        let parsed = getopt::parse(args, REGISTER_OPTIONS)?;
        let mut reg = Register::default();
        for (letter, value) in parsed.options {
            match letter {
                'm' => reg.mask = value,
                'u' => reg.user = value,
                'n' => reg.brief = true,
                _ => return Err(String::new()),
            }
        }
        if !parsed.operands.is_empty() {
            return Err(String::new());
        }
        Ok(reg)
    }

    /// The words of the control command registering the user on `dev`.
    pub fn words(&self, dev: &str) -> Vec<String> {
        let mut words = vec!["changelog_register".to_owned(), dev.to_owned()];
        if let Some(m) = &self.mask {
            // Lustre's mask syntax separates with spaces or commas; the kernel splits at spaces.
            words.push(format!(
                "mask={}",
                m.split_whitespace().collect::<Vec<_>>().join(",")
            ));
        }
        if let Some(u) = &self.user {
            words.push(format!("user={u}"));
        }
        words
    }
}

/// The user id changelog_clear sends: liblustreapi drops a `-NAME` suffix of `clN-NAME`.
pub fn clear_user_id(id: &str) -> &str {
    match id.split_once('-') {
        Some((n, _)) if n.starts_with("cl") => n,
        _ => id,
    }
}

/// The whole changelog records at the start of a `records` reply from the kernel: how many
/// bytes they take, and the index to ask for next (`next` again if there is no whole record).
/// `None` when the last record has index `u64::MAX`, which no record can follow: asking again
/// from there (or from 0, wrapped) would return it forever.
pub fn whole_records(reply: &[u8], next: u64) -> (usize, Option<u64>) {
    let (mut at, mut after) = (0, Some(next));
    while let Some(rest) = reply.get(at..) {
        let Ok((rec, n)) = Record::decode(rest) else {
            break;
        };
        after = rec.index.checked_add(1);
        at += n;
    }
    (at, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn register_options() {
        let reg = Register::parse(&strings(&["-m", "CREAT  MKDIR", "--user=backup", "-n"]));
        assert_eq!(
            reg,
            Ok(Register {
                mask: Some("CREAT  MKDIR".to_owned()),
                user: Some("backup".to_owned()),
                brief: true,
            })
        );
        let words = reg.map(|r| r.words("lustre-MDT0000"));
        assert_eq!(
            words,
            Ok(strings(&[
                "changelog_register",
                "lustre-MDT0000",
                "mask=CREAT,MKDIR",
                "user=backup"
            ]))
        );
        assert_eq!(Register::parse(&strings(&["extra"])), Err(String::new()));
        assert!(Register::parse(&strings(&["-x"])).is_err());
    }

    /// The parameter command lines of the test scripts and the documentation parse as they did
    /// with lctl's own parser.
    #[test]
    fn script_command_lines() {
        let get: Vec<OptSpec> = [SHOW_OPTIONS, GET_ONLY_OPTIONS].concat();
        let list: Vec<OptSpec> = [SHOW_OPTIONS, LIST_ONLY_OPTIONS].concat();
        let parse = |specs: &[OptSpec], args: &[&str]| {
            getopt::parse(&strings(args), specs).map(|p| {
                let letters: String = p.options.iter().map(|(c, _)| *c).collect();
                (letters, p.operands)
            })
        };
        assert_eq!(
            parse(&get, &["-n", "mdt.lustre-MDT0000.hsm.actions"]),
            Ok(("n".into(), strings(&["mdt.lustre-MDT0000.hsm.actions"])))
        );
        assert_eq!(
            parse(&get, &["mdd.*.changelog_users"]),
            Ok((String::new(), strings(&["mdd.*.changelog_users"])))
        );
        assert_eq!(
            parse(&get, &["a.b", "-nN", "c.d"]),
            Ok(("nN".into(), strings(&["a.b", "c.d"])))
        );
        assert_eq!(
            parse(&list, &["-R", "mdd"]),
            Ok(("R".into(), strings(&["mdd"])))
        );
        let upcall = [
            "mdt.T.hsm.upcall_path=/tmp/w/lhsm_mdt_upcall",
            "mdt.T.hsm.upcall_mask=ARCHIVE REMOVE",
        ];
        assert_eq!(
            parse(SET_OPTIONS, &upcall),
            Ok((String::new(), strings(&upcall)))
        );
        assert_eq!(
            parse(
                SET_OPTIONS,
                &["-n", "mdd.crash-MDT0000.changelog_sync_interval=50"]
            ),
            Ok((
                "n".into(),
                strings(&["mdd.crash-MDT0000.changelog_sync_interval=50"])
            ))
        );
        // A value that starts with '-' after `name=` stays in its operand.
        assert_eq!(
            parse(SET_OPTIONS, &["x.y=-1"]),
            Ok((String::new(), strings(&["x.y=-1"])))
        );
        // As Lustre's lctl (getopt_long), a long option may be abbreviated.
        assert_eq!(
            parse(&get, &["--no-n", "--only", "x"]),
            Ok(("nN".into(), strings(&["x"])))
        );
        for (args, reg) in [
            (&[][..], Register::default()),
            (
                &["-n"][..],
                Register {
                    brief: true,
                    ..Register::default()
                },
            ),
            (
                &["-u", "reader"],
                Register {
                    user: Some("reader".into()),
                    ..Register::default()
                },
            ),
            (
                &["-n", "-u", "other"],
                Register {
                    user: Some("other".into()),
                    brief: true,
                    ..Register::default()
                },
            ),
        ] {
            assert_eq!(Register::parse(&strings(args)), Ok(reg), "{args:?}");
        }
    }

    #[test]
    fn option_actions() {
        let mut opts = ParamOpts::get_param();
        assert_eq!(
            apply_show_option(&mut opts, 'n', None),
            Ok(OptionAction::Applied)
        );
        assert!(!opts.show_name);
        assert_eq!(
            apply_show_option(&mut opts, 'c', Some("auto")),
            Ok(OptionAction::Applied)
        );
        assert!(apply_show_option(&mut opts, 'c', Some("pink")).is_err());
        assert_eq!(
            apply_show_option(&mut opts, 'y', None),
            Ok(OptionAction::Unsupported)
        );
        assert_eq!(
            apply_show_option(&mut opts, 'h', None),
            Ok(OptionAction::Help)
        );
        let mut opts = ParamOpts::set_param();
        assert!(apply_set_option(&mut opts, 't', Some("1")).is_err());
        assert_eq!(
            apply_set_option(&mut opts, 't', Some("4")),
            Ok(OptionAction::Applied)
        );
        assert_eq!(
            apply_set_option(&mut opts, 'P', None),
            Ok(OptionAction::Unsupported)
        );
    }

    #[test]
    fn records_of_a_reply() {
        let mut reply = vec![0u8; 64 * 3 + 10];
        for (i, index) in [5u64, 6, u64::MAX].into_iter().enumerate() {
            let rec = Record {
                index,
                ..Record::default()
            };
            assert_eq!(rec.encode(&mut reply[64 * i..]), Ok(64));
        }
        assert_eq!(whole_records(&reply[..64 * 2 + 10], 1), (128, Some(7)));
        assert_eq!(whole_records(&reply[..10], 1), (0, Some(1)));
        // A record of the last index: nothing more to ask for (the loop used to wrap to 0).
        assert_eq!(whole_records(&reply, 1), (192, None));
    }

    #[test]
    fn clear_ids() {
        assert_eq!(clear_user_id("cl1-backup"), "cl1");
        assert_eq!(clear_user_id("cl1"), "cl1");
        assert_eq!(clear_user_id("backup-2"), "backup-2");
    }
}
