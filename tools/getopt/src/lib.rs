// SPDX-License-Identifier: GPL-2.0

//! The option parser of rustre's `lctl` and `lfs`, which behaves as glibc's `getopt_long(3)`
//! does for the commands of Lustre's tools:
//!
//! - short options may be grouped (`-nF`); a short option's argument may be attached (`-t4`)
//!   or, if it is required, be the next argument (`-a 2`);
//! - long options take `--name=value` or, if required, `--name value`; a long name may be
//!   abbreviated to any prefix that names one option only (`--arch` for `--archive`);
//! - `--` ends the options; a lone `-` is an operand;
//! - [`parse`] lets operands and options come in any order (GNU's default, "permute");
//!   [`parse_in_order`] ends the options at the first operand (an optstring starting with `+`).
//!
//! Errors are `Err` messages in getopt's words; nothing is printed. Arguments are either
//! `String`s or, for file names that need not be UTF-8, `OsString`s (see [`Arg`]).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Whether an option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
    /// Only attached: `-tVALUE`, `--name=VALUE`.
    Optional,
}

/// One option a command accepts.
#[derive(Clone, Copy, Debug)]
pub struct OptSpec {
    /// The short option letter (ASCII), which also identifies the option in
    /// [`Parsed::options`].
    pub short: char,
    /// Its long names, without `--`.
    pub long: &'static [&'static str],
    pub has_arg: HasArg,
}

impl OptSpec {
    pub const fn new(short: char, long: &'static [&'static str], has_arg: HasArg) -> Self {
        OptSpec {
            short,
            long,
            has_arg,
        }
    }

    /// The first long name, or the short form, for messages.
    pub fn display(&self) -> String {
        match self.long.first() {
            Some(long) => format!("-{} (--{long})", self.short),
            None => format!("-{}", self.short),
        }
    }
}

/// A command-line argument: its bytes, and how to make a new argument of the same kind from
/// a tail of them (an option's attached value).
pub trait Arg: Clone {
    /// The argument's bytes.
    fn bytes(&self) -> &[u8];
    /// The argument from byte `at` on. The parser only cuts after an ASCII byte, so a `String`
    /// is cut at a character boundary.
    fn tail(&self, at: usize) -> Self;
}

impl Arg for String {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }

    fn tail(&self, at: usize) -> Self {
        String::from_utf8_lossy(self.as_bytes().get(at..).unwrap_or_default()).into_owned()
    }
}

impl Arg for OsString {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }

    fn tail(&self, at: usize) -> Self {
        OsString::from_vec(self.as_bytes().get(at..).unwrap_or_default().to_vec())
    }
}

/// Parsed arguments.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<A = String> {
    /// The options given, in order, by short letter, with their argument.
    pub options: Vec<(char, Option<A>)>,
    /// The other arguments, in order.
    pub operands: Vec<A>,
}

impl<A> Default for Parsed<A> {
    fn default() -> Self {
        Parsed {
            options: Vec::new(),
            operands: Vec::new(),
        }
    }
}

/// Parses `args` (without the command name), options and operands mixed, as GNU
/// `getopt_long(3)` does by default.
pub fn parse<A: Arg>(args: &[A], specs: &[OptSpec]) -> Result<Parsed<A>, String> {
    parse_with(args, specs, false)
}

/// Parses `args` (without the command name); the first operand ends the options, and it and
/// everything after it are operands, as with a `+` optstring.
pub fn parse_in_order<A: Arg>(args: &[A], specs: &[OptSpec]) -> Result<Parsed<A>, String> {
    parse_with(args, specs, true)
}

fn parse_with<A: Arg>(args: &[A], specs: &[OptSpec], in_order: bool) -> Result<Parsed<A>, String> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        let bytes = arg.bytes();
        if bytes == b"--" {
            parsed.operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = bytes.strip_prefix(b"--") {
            let (name, attached) = match long.iter().position(|&c| c == b'=') {
                Some(eq) => (&long[..eq], Some(arg.tail(2 + eq + 1))),
                None => (long, None),
            };
            let (spec, full) = find_long(specs, name)?;
            let value = match spec.has_arg {
                HasArg::No if attached.is_some() => {
                    return Err(format!("option '--{full}' doesn't allow an argument"));
                }
                HasArg::No => None,
                HasArg::Optional => attached,
                HasArg::Required => match attached {
                    Some(value) => Some(value),
                    None => {
                        let value = args
                            .get(i)
                            .ok_or_else(|| format!("option '--{full}' requires an argument"))?;
                        i += 1;
                        Some(value.clone())
                    }
                },
            };
            parsed.options.push((spec.short, value));
        } else if let Some(group) = bytes.strip_prefix(b"-").filter(|g| !g.is_empty()) {
            for (offset, &byte) in group.iter().enumerate() {
                let spec = specs
                    .iter()
                    .find(|spec| byte.is_ascii() && spec.short as u32 == u32::from(byte))
                    .ok_or_else(|| {
                        let rest = String::from_utf8_lossy(&group[offset..]);
                        let letter = rest.chars().next().unwrap_or_default();
                        format!("invalid option -- '{letter}'")
                    })?;
                if spec.has_arg == HasArg::No {
                    parsed.options.push((spec.short, None));
                    continue;
                }
                let value = if offset + 1 < group.len() {
                    Some(arg.tail(1 + offset + 1))
                } else if spec.has_arg == HasArg::Required {
                    let value = args.get(i).ok_or_else(|| {
                        format!("option requires an argument -- '{}'", spec.short)
                    })?;
                    i += 1;
                    Some(value.clone())
                } else {
                    None
                };
                parsed.options.push((spec.short, value));
                break;
            }
        } else if in_order {
            parsed.operands.extend(args[i - 1..].iter().cloned());
            break;
        } else {
            parsed.operands.push(arg.clone());
        }
    }
    Ok(parsed)
}

/// The option a long name (`name`, without `--`) stands for, and its full name: the option
/// with that exact name, or the only one with a name it begins (several names of one option
/// count once).
fn find_long<'a>(specs: &'a [OptSpec], name: &[u8]) -> Result<(&'a OptSpec, &'static str), String> {
    let shown = String::from_utf8_lossy(name);
    for spec in specs {
        if let Some(full) = spec.long.iter().find(|l| l.as_bytes() == name) {
            return Ok((spec, full));
        }
    }
    let mut candidates = specs.iter().filter(|spec| {
        !name.is_empty() && spec.long.iter().any(|l| l.as_bytes().starts_with(name))
    });
    let first = candidates
        .next()
        .ok_or_else(|| format!("unrecognized option '--{shown}'"))?;
    let others: Vec<&OptSpec> = candidates
        .filter(|spec| spec.short != first.short || spec.has_arg != first.has_arg)
        .collect();
    if others.is_empty() {
        let full = first.long.iter().find(|l| l.as_bytes().starts_with(name));
        return Ok((first, full.copied().unwrap_or_default()));
    }
    let names: Vec<String> = std::iter::once(first)
        .chain(others)
        .flat_map(|spec| spec.long.iter())
        .filter(|l| l.as_bytes().starts_with(name))
        .map(|l| format!("'--{l}'"))
        .collect();
    Err(format!(
        "option '--{shown}' is ambiguous; possibilities: {}",
        names.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptSpec] = &[
        OptSpec::new('n', &["no-name"], HasArg::No),
        OptSpec::new('N', &["no-links"], HasArg::No),
        OptSpec::new('F', &["classify"], HasArg::No),
        OptSpec::new('c', &["color"], HasArg::Required),
        OptSpec::new('t', &["thread"], HasArg::Optional),
        OptSpec::new('D', &["dir-only", "directory-only"], HasArg::No),
    ];

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn options(list: &[(char, Option<&str>)]) -> Vec<(char, Option<String>)> {
        list.iter()
            .map(|(c, v)| (*c, v.map(str::to_owned)))
            .collect()
    }

    #[test]
    fn short_long_and_mixed() {
        let parsed = parse(
            &strings(&["-nF", "a.b", "--color", "never", "c.d", "-t4", "--thread"]),
            SPECS,
        );
        assert_eq!(
            parsed,
            Ok(Parsed {
                options: options(&[
                    ('n', None),
                    ('F', None),
                    ('c', Some("never")),
                    ('t', Some("4")),
                    ('t', None)
                ]),
                operands: strings(&["a.b", "c.d"]),
            })
        );
        let parsed = parse(
            &strings(&["-cauto", "--color=no", "--thread=8", "--", "-n", "-"]),
            SPECS,
        );
        assert_eq!(
            parsed,
            Ok(Parsed {
                options: options(&[('c', Some("auto")), ('c', Some("no")), ('t', Some("8"))]),
                operands: strings(&["-n", "-"]),
            })
        );
        // A required argument is the next word, whatever it looks like; `-` is an operand.
        let parsed = parse(&strings(&["-c", "--", "-", "-Fc", "-n"]), SPECS);
        assert_eq!(
            parsed,
            Ok(Parsed {
                options: options(&[('c', Some("--")), ('F', None), ('c', Some("-n"))]),
                operands: strings(&["-"]),
            })
        );
    }

    #[test]
    fn in_order() {
        let parsed = parse_in_order(&strings(&["-n", "--color=x", "w", "-F", "--", "x"]), SPECS);
        assert_eq!(
            parsed,
            Ok(Parsed {
                options: options(&[('n', None), ('c', Some("x"))]),
                operands: strings(&["w", "-F", "--", "x"]),
            })
        );
        let parsed = parse_in_order(&strings(&["--", "-n"]), SPECS);
        assert_eq!(parsed.map(|p| p.operands), Ok(strings(&["-n"])));
    }

    #[test]
    fn abbreviations() {
        let parsed = parse(&strings(&["--col", "x", "--cl", "--dir", "--thr=2"]), SPECS);
        assert_eq!(
            parsed.map(|p| p.options),
            Ok(options(&[
                ('c', Some("x")),
                ('F', None),
                ('D', None),
                ('t', Some("2"))
            ]))
        );
        assert_eq!(
            parse(&strings(&["--no"]), SPECS),
            Err("option '--no' is ambiguous; possibilities: '--no-name' '--no-links'".to_owned())
        );
        assert_eq!(
            parse(&strings(&["--cl=1"]), SPECS),
            Err("option '--classify' doesn't allow an argument".to_owned())
        );
        assert_eq!(
            parse(&strings(&["--co"]), SPECS),
            Err("option '--color' requires an argument".to_owned())
        );
    }

    #[test]
    fn os_strings() {
        let args: Vec<OsString> = [&b"-c\xff"[..], b"f\xfe", b"--color=\xfd"]
            .iter()
            .map(|b| OsString::from_vec(b.to_vec()))
            .collect();
        let parsed = parse(&args, SPECS).expect("parses");
        let value = |b: &[u8]| Some(OsString::from_vec(b.to_vec()));
        assert_eq!(
            parsed.options,
            [('c', value(b"\xff")), ('c', value(b"\xfd"))]
        );
        assert_eq!(parsed.operands, [OsString::from_vec(b"f\xfe".to_vec())]);
        let bad = [OsString::from_vec(b"-\xff".to_vec())];
        assert_eq!(
            parse(&bad, SPECS),
            Err("invalid option -- '\u{fffd}'".to_owned())
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(&strings(&["-x"]), SPECS),
            Err("invalid option -- 'x'".to_owned())
        );
        assert_eq!(
            parse(&strings(&["-é"]), SPECS),
            Err("invalid option -- 'é'".to_owned())
        );
        assert_eq!(
            parse(&strings(&["--nope"]), SPECS),
            Err("unrecognized option '--nope'".to_owned())
        );
        assert_eq!(
            parse(&strings(&["--=x"]), SPECS),
            Err("unrecognized option '--'".to_owned())
        );
        assert_eq!(
            parse(&strings(&["-c"]), SPECS),
            Err("option requires an argument -- 'c'".to_owned())
        );
        assert_eq!(
            parse(&strings(&["--color"]), SPECS),
            Err("option '--color' requires an argument".to_owned())
        );
        assert_eq!(
            parse(&strings(&["--no-name=1"]), SPECS),
            Err("option '--no-name' doesn't allow an argument".to_owned())
        );
    }
}
