// SPDX-License-Identifier: GPL-2.0

//! A small `getopt_long(3)`-style parser for command options, with GNU behaviour: short options
//! may be grouped (`-nF`), a short option's argument may be attached (`-t4`) or, if required,
//! be the next argument; long options take `--name=value` or (if required) `--name value`;
//! options and operands may be mixed; `--` ends the options.

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
    /// The short option letter, which also identifies the option in [`Parsed::options`].
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

/// Parsed arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The options given, in order, by short letter, with their argument.
    pub options: Vec<(char, Option<String>)>,
    /// The other arguments, in order.
    pub operands: Vec<String>,
}

/// Parses `args` (without the command name). Errors are messages in getopt's words.
pub fn parse(args: &[String], specs: &[OptSpec]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            parsed.operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (long, None),
            };
            let spec = specs
                .iter()
                .find(|spec| spec.long.contains(&name))
                .ok_or_else(|| format!("unrecognized option '--{name}'"))?;
            let value = match spec.has_arg {
                HasArg::No if attached.is_some() => {
                    return Err(format!("option '--{name}' doesn't allow an argument"));
                }
                HasArg::No => None,
                HasArg::Optional => attached,
                HasArg::Required => match attached {
                    Some(value) => Some(value),
                    None => {
                        let value = args
                            .get(i)
                            .ok_or_else(|| format!("option '--{name}' requires an argument"))?;
                        i += 1;
                        Some(value.clone())
                    }
                },
            };
            parsed.options.push((spec.short, value));
        } else if let Some(group) = arg.strip_prefix('-').filter(|group| !group.is_empty()) {
            for (offset, letter) in group.char_indices() {
                let spec = specs
                    .iter()
                    .find(|spec| spec.short == letter)
                    .ok_or_else(|| format!("invalid option -- '{letter}'"))?;
                if spec.has_arg == HasArg::No {
                    parsed.options.push((letter, None));
                    continue;
                }
                let attached = &group[offset + letter.len_utf8()..];
                let value = if !attached.is_empty() {
                    Some(attached.to_owned())
                } else if spec.has_arg == HasArg::Required {
                    let value = args
                        .get(i)
                        .ok_or_else(|| format!("option requires an argument -- '{letter}'"))?;
                    i += 1;
                    Some(value.clone())
                } else {
                    None
                };
                parsed.options.push((letter, value));
                break;
            }
        } else {
            parsed.operands.push(arg.clone());
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptSpec] = &[
        OptSpec::new('n', &["no-name"], HasArg::No),
        OptSpec::new('F', &["classify"], HasArg::No),
        OptSpec::new('c', &["color"], HasArg::Required),
        OptSpec::new('t', &["thread"], HasArg::Optional),
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
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(&strings(&["-x"]), SPECS),
            Err("invalid option -- 'x'".to_owned())
        );
        assert_eq!(
            parse(&strings(&["--nope"]), SPECS),
            Err("unrecognized option '--nope'".to_owned())
        );
        assert_eq!(
            parse(&strings(&["-c"]), SPECS),
            Err("option requires an argument -- 'c'".to_owned())
        );
        assert_eq!(
            parse(&strings(&["--no-name=1"]), SPECS),
            Err("option '--no-name' doesn't allow an argument".to_owned())
        );
    }
}
