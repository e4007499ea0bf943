// SPDX-License-Identifier: GPL-2.0

//! The three commands: [`get_param`], [`list_param`] and [`set_param`].

use std::io::Write;

use super::walk::{Node, Operation, Walker};
use super::{clean_path, deprecation_warning, parse_set_arg, Errno, ParamOpts, ParamRoots};

/// `lctl get_param`: prints every readable file matching each name (`-N`: lists the matches).
/// Directories are not printed, write-only files are skipped. Returns the first error.
pub fn get_param(
    roots: &ParamRoots,
    opts: &ParamOpts,
    names: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Errno> {
    // Like Lustre, `get_param -N` is a listing, and its messages say "list_param".
    let op = if opts.only_name {
        Operation::List
    } else {
        Operation::Get
    };
    show_params(roots, opts, Operation::Get, op, names, out, err)
}

/// `lctl list_param`: prints the names of every match of each name (`-R`: and everything below
/// matched directories). Returns the first error.
pub fn list_param(
    roots: &ParamRoots,
    opts: &ParamOpts,
    names: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Errno> {
    show_params(
        roots,
        opts,
        Operation::List,
        Operation::List,
        names,
        out,
        err,
    )
}

/// Runs `command` (get_param or list_param) as operation `op` on each name in turn, printing
/// the entries of each name once it has been searched entirely.
fn show_params(
    roots: &ParamRoots,
    opts: &ParamOpts,
    command: Operation,
    op: Operation,
    names: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Errno> {
    let mut walker = Walker::new(roots, opts, op, err);
    for name in names {
        let pattern = match clean_path(name, opts.show_type) {
            Ok(pattern) => pattern,
            Err(errno) => {
                walker.fail(errno);
                let command = command.name();
                walker.report(&format!("error: {command}: cleaning '{name}': {errno}"));
                continue;
            }
        };
        let mut node = Node::default();
        let result = walker.collect(&pattern, &mut node, opts.recursive);
        node.print(opts, out)
            .map_err(|e| walker.fail(Errno::from(e)))?;
        if let Err(errno) = result {
            walker.fail(errno);
            if command == Operation::List {
                walker.report(&format!("error: list_param: listing '{pattern}': {errno}"));
            }
        }
    }
    walker.status
}

/// `lctl set_param`: writes each value to every regular file matching its name. The arguments
/// are `NAME=VALUE` or `NAME VALUE` pairs, handled in order; a malformed pair stops the command.
/// Returns the first error.
pub fn set_param(
    roots: &ParamRoots,
    opts: &ParamOpts,
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Errno> {
    let mut walker = Walker::new(roots, opts, Operation::Set, err);
    let mut rest = args;
    while !rest.is_empty() {
        let (name, value, used) = match parse_set_arg(rest) {
            Ok(pair) => pair,
            Err(name) => {
                let errno = walker.fail(Errno::EINVAL);
                walker.report(&format!("error: set_param: setting {name}: {errno}"));
                break;
            }
        };
        rest = &rest[used..];
        let pattern = match clean_path(name, false) {
            Ok(pattern) => pattern,
            Err(errno) => {
                walker.fail(errno);
                walker.report(&format!("error: set_param: cleaning '{name}': {errno}"));
                break;
            }
        };
        if let Some(warning) = deprecation_warning(&pattern) {
            writeln!(out, "{warning}").map_err(|e| walker.fail(Errno::from(e)))?;
        }
        if let Err(errno) = walker.set(&pattern, value, out) {
            walker.fail(errno);
            walker.report(&format!(
                "error: set_param: setting '{pattern}'='{value}': {errno}"
            ));
        }
    }
    walker.status
}
