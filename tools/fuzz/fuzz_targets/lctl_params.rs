// SPDX-License-Identifier: GPL-2.0

//! lctl's parameter names and patterns (`tools/lctl/src/param.rs`, `blockdev.rs`): a name made
//! a path pattern (`clean_path`), brace expansion, component matching, value formatting, the
//! deprecation check, and the sysfs values lctl parses (`MAJOR:MINOR`, `lloopN`).
//!
//! Input: flags, then a pattern, a file name and a value separated by NUL bytes.

#![no_main]

use std::path::Path;

use lctl::blockdev::{parse_maj_min, sysfs_lloop_number};
use lctl::param::{
    clean_path, deprecation_warning, display_name, expand_braces, fnmatch, format_param_value,
    is_stats_param, ParamOpts,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&c| c == 0);
    let pattern = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let name = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let value = parts.next().unwrap_or_default();

    match clean_path(&pattern, flags & 1 != 0) {
        Ok(path) => {
            assert!(path.len() <= pattern.len());
            assert!(!path.contains('\\'));
            if !pattern.contains('@') {
                assert!(!path.contains('.'), "{pattern:?} -> {path:?}");
            }
            let _ = is_stats_param(&path);
            if let Some(w) = deprecation_warning(&path) {
                assert!(path.starts_with("nodemap/") && w.contains(&path));
            }
        }
        Err(_) => assert!(pattern.is_empty()),
    }

    // Brace expansion multiplies out (as glibc's does): bound the alternatives so that one
    // input cannot take seconds.
    let alternatives = pattern.bytes().filter(|&c| c == b'{' || c == b',').count();
    if alternatives <= 12 {
        let expanded = expand_braces(&pattern);
        assert!(!expanded.is_empty());
        if !pattern.contains('{') {
            assert_eq!(expanded, [pattern.clone()]);
        }
        for e in &expanded {
            assert!(e.len() <= pattern.len(), "{pattern:?} -> {e:?}");
        }
    }

    let matched = fnmatch(&pattern, &name);
    if !pattern.contains(['*', '?', '[', '\\']) {
        // Without wildcards a pattern matches itself only.
        assert_eq!(matched, pattern == name, "{pattern:?} {name:?}");
    }
    if !name.starts_with('.') {
        assert!(fnmatch("*", &name));
        assert_eq!(fnmatch("?", &name), name.len() == 1);
    }

    let mut opts = ParamOpts::get_param();
    opts.show_name = flags & 2 == 0;
    opts.only_name = flags & 4 != 0;
    opts.header = flags & 8 != 0;
    let out = format_param_value(&name, value, &opts);
    if !opts.show_name && value.is_empty() {
        assert!(out.is_empty());
    } else {
        assert_eq!(out.last(), Some(&b'\n'));
        let lines = value.iter().filter(|&&c| c == b'\n').count() + 1;
        assert!(out.len() <= lines * (name.len() + 2) + value.len() + 1);
    }

    let root = Path::new("/sys/fs/lustre");
    let shown = display_name(&root.join(&pattern), root);
    assert!(!shown.contains('/'));

    if let Some((major, minor)) = parse_maj_min(&name) {
        assert_eq!(
            parse_maj_min(&format!("{major}:{minor}\n")),
            Some((major, minor))
        );
    }
    if let Some(n) = sysfs_lloop_number(&name) {
        assert!(name.starts_with("lloop"));
        assert_eq!(sysfs_lloop_number(&format!("lloop{n}")), Some(n));
    }
});
