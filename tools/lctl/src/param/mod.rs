// SPDX-License-Identifier: GPL-2.0

//! `lctl get_param`, `set_param` and `list_param` on the Lustre parameter trees.
//!
//! This follows Lustre's `lustre/utils/lustre_param.c` (`jt_clean_path()`, `format_param()`,
//! `do_param_op()`, `print_param()`, `write_param()`) and `libcfs/libcfs/util/param.c`
//! (`cfs_get_param_paths()`), with the glibc `glob(GLOB_BRACE)` they rely on reimplemented here:
//!
//! * a parameter name becomes a path pattern by [`clean_path`] (`.` → `/`, except inside a NID);
//! * the pattern is searched under every root of a [`ParamRoots`], in order, by
//!   [`find_param_paths`] ([`expand_braces`] then per-component [`fnmatch`], each brace
//!   alternative sorted on its own, like glibc);
//! * each match is shown under its [`display_name`], and values are printed by
//!   [`format_param_value`];
//! * [`get_param`], [`list_param`] and [`set_param`] are the three commands, writing to the given
//!   output and error streams and returning the first error.
//!
//! Every function that looks at the filesystem takes the roots as an argument, so the tests run
//! on trees built in a temporary directory.

//!
//! The parts: [`name`] (names and paths), [`glob`] (the pattern matching), [`search`] (the
//! roots searched), [`format`](mod@format) (options and output), `walk` (the tree walk the commands
//! share) and [`command`] (the commands). Their public items are all here too.

use std::path::PathBuf;

pub mod command;
pub mod format;
pub mod glob;
pub mod name;
pub mod search;
mod walk;

#[cfg(test)]
mod tests;

pub use self::command::{get_param, list_param, set_param};
pub use self::format::{format_param_value, parse_set_arg, ParamOpts};
pub use self::glob::{expand_braces, fnmatch, glob_in};
pub use self::name::{clean_path, deprecation_warning, display_name, is_stats_param, type_suffix};
pub use self::search::{find_param_paths, ParamPath};
pub use crate::sys::Errno;
/// Lustre's parameter roots, in search order.
pub const PARAM_ROOTS: [&str; 4] = [
    "/proc/fs/lustre",
    "/sys/fs/lustre",
    "/sys/kernel/debug/lnet",
    "/sys/kernel/debug/lustre",
];

/// Kernel modules whose `/sys/module/<name>/parameters` directories are searched too when a
/// pattern starts with `module`.
pub const PARAM_MODULES: [&str; 11] = [
    "lnet",
    "osc",
    "mdd",
    "obdclass",
    "ofd",
    "ptlrpc",
    "mgc",
    "ksocklnd",
    "mdt",
    "osd_ldiskfs",
    "lquota",
];

/// The directories parameters are searched in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamRoots {
    /// Searched for every pattern, in order.
    pub roots: Vec<PathBuf>,
    /// Searched after `roots` for patterns starting with `module` (which is removed, with the
    /// `/` after it).
    pub module_roots: Vec<PathBuf>,
}

impl ParamRoots {
    /// The roots of a running system: [`PARAM_ROOTS`] and the [`PARAM_MODULES`] parameters.
    pub fn system() -> Self {
        ParamRoots {
            roots: PARAM_ROOTS.iter().map(PathBuf::from).collect(),
            module_roots: PARAM_MODULES
                .iter()
                .map(|module| PathBuf::from(format!("/sys/module/{module}/parameters")))
                .collect(),
        }
    }

    /// Custom roots, without module roots.
    pub fn new<I, P>(roots: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        ParamRoots {
            roots: roots.into_iter().map(Into::into).collect(),
            module_roots: Vec::new(),
        }
    }
}
