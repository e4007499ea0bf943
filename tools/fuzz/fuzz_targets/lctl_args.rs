// SPDX-License-Identifier: GPL-2.0

//! lctl's command line (`tools/lctl/src/cli.rs`, `param.rs` and the shared parser in
//! `tools/getopt`): the global options, then the arguments of a command parsed with the option
//! table of each command, the options applied, `set_param`'s `NAME=VALUE` pairs and
//! changelog_clear's user id.
//!
//! Input: the arguments, separated by NUL bytes.

#![no_main]

use lctl::cli::{
    apply_set_option, apply_show_option, clear_user_id, global_options, OptionAction, Register,
    GET_ONLY_OPTIONS, LIST_ONLY_OPTIONS, REGISTER_OPTIONS, SET_OPTIONS, SHOW_OPTIONS,
};
use lctl::getopt::{self, HasArg, OptSpec};
use lctl::param::{parse_set_arg, ParamOpts};
use libfuzzer_sys::fuzz_target;
use rustre_fuzz::args;

/// `sub` is `args` with elements left out, in order.
fn is_subsequence(sub: &[String], args: &[String]) -> bool {
    let mut it = args.iter();
    sub.iter().all(|s| it.any(|a| a == s))
}

fn check_getopt(args: &[String], specs: &[OptSpec]) -> Option<getopt::Parsed> {
    let parsed = getopt::parse(args, specs).ok()?;
    assert!(parsed.operands.len() <= args.len());
    assert!(is_subsequence(&parsed.operands, args), "{parsed:?}");
    for (letter, value) in &parsed.options {
        let spec = specs
            .iter()
            .find(|s| s.short == *letter)
            .expect("an option of the table");
        match spec.has_arg {
            HasArg::No => assert!(value.is_none()),
            HasArg::Required => assert!(value.is_some()),
            HasArg::Optional => {}
        }
        if let Some(v) = value {
            assert!(args.iter().any(|a| a.ends_with(v.as_str())), "{v:?}");
        }
    }
    Some(parsed)
}

fuzz_target!(|data: &[u8]| {
    let all = args(data);
    let mut device = None;
    let Ok(rest) = global_options(&mut device, &all) else {
        return;
    };
    assert!(all.ends_with(rest));
    if let Some(d) = &device {
        assert!(!d.is_empty());
        assert!(all
            .iter()
            .any(|a| a == d || a.strip_prefix("--device=") == Some(d)));
    }
    if let Some(first) = rest.first() {
        assert!(!first.starts_with('-') || first == "--help" || first == "-h");
    }
    let args = rest.get(1..).unwrap_or_default();

    let show: Vec<OptSpec> = SHOW_OPTIONS
        .iter()
        .chain(GET_ONLY_OPTIONS)
        .copied()
        .collect();
    let list: Vec<OptSpec> = SHOW_OPTIONS
        .iter()
        .chain(LIST_ONLY_OPTIONS)
        .copied()
        .collect();
    for (specs, defaults) in [
        (&show[..], ParamOpts::get_param()),
        (&list[..], ParamOpts::list_param()),
    ] {
        let Some(parsed) = check_getopt(args, specs) else {
            continue;
        };
        let mut opts = defaults.clone();
        for (letter, value) in &parsed.options {
            match apply_show_option(&mut opts, *letter, value.as_deref()) {
                Ok(OptionAction::Applied) => {}
                Ok(OptionAction::Help) => assert_eq!(*letter, 'h'),
                Ok(OptionAction::Unsupported) => assert!(matches!(letter, 'b' | 'y')),
                Err(m) => assert!(*letter == 'c' && m.contains("--color")),
            }
        }
        assert_eq!(opts.permissions & !0o600, 0);
    }

    if let Some(parsed) = check_getopt(args, SET_OPTIONS) {
        let mut opts = ParamOpts::set_param();
        for (letter, value) in &parsed.options {
            match apply_set_option(&mut opts, *letter, value.as_deref()) {
                Ok(OptionAction::Applied) => assert!(matches!(letter, 'n' | 't')),
                Ok(OptionAction::Help) => assert_eq!(*letter, 'h'),
                Ok(OptionAction::Unsupported) => assert!(matches!(letter, 'P' | 'C' | 'd' | 'F')),
                Err(_) => assert_eq!(*letter, 't'),
            }
        }
        // set_param's pairs, as param::set_param walks them.
        let mut pairs = &parsed.operands[..];
        while !pairs.is_empty() {
            match parse_set_arg(pairs) {
                Ok((name, value, used)) => {
                    assert!(used == 1 || used == 2);
                    assert!(used <= pairs.len());
                    assert!(!value.is_empty() || used == 2);
                    assert!(pairs[0].starts_with(name));
                    pairs = &pairs[used..];
                }
                Err(name) => {
                    assert!(pairs[0].starts_with(name));
                    break;
                }
            }
        }
    }

    if check_getopt(args, REGISTER_OPTIONS).is_some() {
        if let Ok(reg) = Register::parse(args) {
            let words = reg.words("lustre-MDT0000");
            assert_eq!(words[..2], ["changelog_register", "lustre-MDT0000"]);
            if let Some(m) = &reg.mask {
                let w = words
                    .iter()
                    .find_map(|w| w.strip_prefix("mask="))
                    .expect("a mask word");
                assert!(!w.contains(char::is_whitespace));
                let letters = |s: &str| {
                    s.chars()
                        .filter(|c| !c.is_whitespace() && *c != ',')
                        .collect::<String>()
                };
                assert_eq!(letters(w), letters(m));
            }
        }
    } else {
        assert!(Register::parse(args).is_err());
    }

    for a in args {
        let id = clear_user_id(a);
        assert!(a.starts_with(id));
        assert!(id == a || (id.starts_with("cl") && a[id.len()..].starts_with('-')));
    }
});
