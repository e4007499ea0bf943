// SPDX-License-Identifier: GPL-2.0

//! Where a cleaned parameter pattern is found: under every root in order
//! ([`find_param_paths`]).

use std::path::{Path, PathBuf};

use super::{display_name, glob_in, ParamRoots};

/// A path found under one of the roots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamPath {
    /// The root it was found under.
    pub root: PathBuf,
    /// The full path.
    pub path: PathBuf,
}

impl ParamPath {
    /// The path relative to its root.
    pub fn relative(&self) -> &Path {
        self.path.strip_prefix(&self.root).unwrap_or(&self.path)
    }

    /// The name it is shown under.
    pub fn display_name(&self) -> String {
        display_name(&self.path, &self.root)
    }
}

/// Finds every path matching a cleaned pattern (see [`clean_path`](super::clean_path)) under the roots, root by
/// root in order (Lustre's `cfs_get_param_paths()`). A pattern starting with `module` is
/// searched without that word (and a `/` after it), also under the module roots.
pub fn find_param_paths(roots: &ParamRoots, pattern: &str) -> Vec<ParamPath> {
    let (pattern, module) = match pattern.strip_prefix("module") {
        Some(rest) => (rest.strip_prefix('/').unwrap_or(rest), true),
        None => (pattern, false),
    };
    let module_roots = roots.module_roots.iter().filter(|_| module);
    roots
        .roots
        .iter()
        .chain(module_roots)
        .flat_map(|root| {
            glob_in(root, pattern).into_iter().map(|path| ParamPath {
                root: root.clone(),
                path,
            })
        })
        .collect()
}
