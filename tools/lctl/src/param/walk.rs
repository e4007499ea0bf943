// SPDX-License-Identifier: GPL-2.0

//! The walk of the parameter trees behind the commands: what each finds, the `-R`
//! descent, and the errors reported as Lustre reports them.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::glob::escape_glob;
use super::{
    find_param_paths, format_param_value, is_stats_param, type_suffix, Errno, ParamOpts, ParamPath,
    ParamRoots,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Operation {
    List,
    Get,
    Set,
}

impl Operation {
    pub(super) fn name(self) -> &'static str {
        match self {
            Operation::List => "list_param",
            Operation::Get => "get_param",
            Operation::Set => "set_param",
        }
    }
}

/// A parameter found by get_param or list_param, with its value(s).
struct Entry {
    name: String,
    is_file: bool,
    values: Vec<Vec<u8>>,
}

/// The entries found for one pattern, and those of the directories descended into (`-R`),
/// printed in that order (Lustre's `struct lctl_param_dir`).
#[derive(Default)]
pub(super) struct Node {
    entries: Vec<Entry>,
    children: Vec<(String, Node)>,
}

impl Node {
    fn add(&mut self, name: String, is_file: bool, value: Vec<u8>, merge: bool) {
        match self.entries.iter_mut().find(|entry| entry.name == name) {
            Some(entry) => {
                if !(merge && entry.values.contains(&value)) {
                    entry.values.push(value);
                }
            }
            None => self.entries.push(Entry {
                name,
                is_file,
                values: vec![value],
            }),
        }
    }

    fn child(&mut self, key: &str) -> &mut Node {
        let index = match self.children.iter().position(|(k, _)| k == key) {
            Some(index) => index,
            None => {
                self.children.push((key.to_owned(), Node::default()));
                self.children.len() - 1
            }
        };
        &mut self.children[index].1
    }

    pub(super) fn print(&self, opts: &ParamOpts, out: &mut dyn Write) -> io::Result<()> {
        for entry in &self.entries {
            if opts.tunable && !entry.is_file {
                continue;
            }
            for value in &entry.values {
                out.write_all(&format_param_value(&entry.name, value, opts))?;
            }
        }
        for (_, child) in &self.children {
            child.print(opts, out)?;
        }
        Ok(())
    }
}

/// Walks the parameter trees for one command, reporting errors as Lustre does.
pub(super) struct Walker<'a> {
    roots: &'a ParamRoots,
    opts: &'a ParamOpts,
    op: Operation,
    err: &'a mut dyn Write,
    /// The first error of the whole command.
    pub(super) status: Result<(), Errno>,
    /// Directories being descended into (device, inode), against symbolic-link loops.
    ancestors: Vec<(u64, u64)>,
}

impl<'a> Walker<'a> {
    pub(super) fn new(
        roots: &'a ParamRoots,
        opts: &'a ParamOpts,
        op: Operation,
        err: &'a mut dyn Write,
    ) -> Self {
        Walker {
            roots,
            opts,
            op,
            err,
            status: Ok(()),
            ancestors: Vec::new(),
        }
    }

    /// Records an error of the command (the first one is returned).
    pub(super) fn fail(&mut self, errno: Errno) -> Errno {
        if self.status.is_ok() {
            self.status = Err(errno);
        }
        errno
    }

    pub(super) fn report(&mut self, message: &str) {
        // Nothing sensible to do if standard error cannot be written to.
        let _ = writeln!(self.err, "{message}");
    }

    /// Finds the paths of a pattern, reporting the absence of any unless `quiet` (the caller
    /// decides whether that fails the command).
    fn find(&mut self, pattern: &str, quiet: bool) -> Result<Vec<ParamPath>, Errno> {
        let paths = find_param_paths(self.roots, pattern);
        if paths.is_empty() {
            let errno = Errno::ENOENT;
            if !quiet {
                let op = self.op.name();
                self.report(&format!("error: {op}: param_path '{pattern}': {errno}"));
            }
            return Err(errno);
        }
        Ok(paths)
    }

    /// Stats a match and applies the selection options; `Ok(None)` if it is skipped.
    fn inspect(&mut self, found: &ParamPath) -> Result<Option<Metadata>, Errno> {
        let op = self.op.name();
        let path = found.path.display();
        let link_metadata = match fs::symlink_metadata(&found.path) {
            Ok(metadata) => metadata,
            Err(err) => {
                let errno = self.fail(Errno::from(err));
                self.report(&format!("error: {op}: lstat '{path}': {errno}"));
                return Err(errno);
            }
        };
        let is_link = link_metadata.file_type().is_symlink();
        let metadata = if is_link {
            match fs::metadata(&found.path) {
                Ok(metadata) => metadata,
                Err(err) => {
                    let errno = self.fail(Errno::from(err));
                    self.report(&format!("error: {op}: stat '{path}': {errno}"));
                    return Err(errno);
                }
            }
        } else {
            link_metadata
        };
        let opts = self.opts;
        let skip = (is_link && !opts.follow_symlinks)
            || (opts.only_dir && !metadata.is_dir())
            || (metadata.mode() & opts.permissions != opts.permissions)
            || (opts.tunable && is_stats_param(&found.path.to_string_lossy()));
        Ok((!skip).then_some(metadata))
    }

    /// The name an entry is listed under.
    fn entry_name(&self, found: &ParamPath, metadata: &Metadata) -> String {
        if self.opts.only_path {
            return found.path.to_string_lossy().into_owned();
        }
        let mut name = found.display_name();
        if self.opts.show_type {
            name.extend(type_suffix(metadata));
        }
        name
    }

    /// Collects the entries (and values) matching a pattern into `node` (get and list).
    pub(super) fn collect(
        &mut self,
        pattern: &str,
        node: &mut Node,
        quiet: bool,
    ) -> Result<(), Errno> {
        let mut result = Ok(());
        for found in self.find(pattern, quiet)? {
            let metadata = match self.inspect(&found) {
                Ok(Some(metadata)) => metadata,
                Ok(None) => continue,
                Err(errno) => {
                    result = result.and(Err(errno));
                    continue;
                }
            };
            let name = self.entry_name(&found, &metadata);
            let is_file = metadata.is_file();
            match self.op {
                Operation::Get if is_file => {
                    if metadata.mode() & 0o444 == 0 {
                        continue; // write-only
                    }
                    match read_value(&found.path) {
                        Ok(value) => node.add(name, is_file, value, self.opts.merge),
                        Err(errno) => {
                            result = result.and(Err(self.fail(errno)));
                            let path = found.path.display();
                            self.report(&format!("error: read_param: '{path}': {errno}"));
                            continue;
                        }
                    }
                }
                Operation::Get | Operation::Set => {}
                Operation::List => node.add(name, is_file, Vec::new(), self.opts.merge),
            }
            if metadata.is_dir() && self.opts.recursive {
                self.descend(&found, &metadata, node);
            }
        }
        result
    }

    /// `-R`: collects the contents of a matched directory, under all roots, into a child node.
    fn descend(&mut self, found: &ParamPath, metadata: &Metadata, node: &mut Node) {
        let id = (metadata.dev(), metadata.ino());
        if self.ancestors.contains(&id) {
            return;
        }
        let relative = found.relative().to_string_lossy().into_owned();
        let relative = relative.trim_end_matches('/');
        let pattern = format!("{}/*", escape_glob(relative));
        self.ancestors.push(id);
        // As in Lustre, an empty directory is no error; errors about entries below are reported
        // (and fail the command) but do not stop the walk.
        let _ = self.collect(&pattern, node.child(relative), true);
        self.ancestors.pop();
    }

    /// Writes `value` to every regular file matching a pattern (set).
    pub(super) fn set(
        &mut self,
        pattern: &str,
        value: &str,
        out: &mut dyn Write,
    ) -> Result<(), Errno> {
        let mut result = Ok(());
        for found in self.find(pattern, false)? {
            match self.inspect(&found) {
                Ok(Some(metadata)) if metadata.is_file() => {
                    let name = found.display_name();
                    if let Err(errno) = self.write_param(&found.path, &name, value, out) {
                        result = result.and(Err(self.fail(errno)));
                    }
                }
                Ok(_) => {}
                Err(errno) => result = result.and(Err(errno)),
            }
        }
        result
    }

    /// Writes one value with a single `write(2)`, without a trailing newline (Lustre's
    /// `write_param()`).
    fn write_param(
        &mut self,
        path: &Path,
        name: &str,
        value: &str,
        out: &mut dyn Write,
    ) -> Result<(), Errno> {
        let shown = path.display();
        let mut file = match OpenOptions::new().write(true).open(path) {
            Ok(file) => file,
            Err(err) => {
                let errno = Errno::from(err);
                self.report(&format!("error: set_param: opening '{shown}': {errno}"));
                return Err(errno);
            }
        };
        match file.write(value.as_bytes()) {
            Err(err) => {
                let errno = Errno::from(err);
                if errno != Errno::EIO {
                    self.report(&format!(
                        "error: set_param: setting {shown}={value}: {errno}"
                    ));
                }
                Err(errno)
            }
            Ok(written) if written < value.len() => {
                self.report(&format!(
                    "error: set_param: setting {shown}={value}: wrote only {written}"
                ));
                Err(Errno::EINVAL)
            }
            Ok(_) => {
                if self.opts.show_name {
                    writeln!(out, "{name}={value}")?;
                }
                Ok(())
            }
        }
    }
}

/// Reads a whole parameter file, without its trailing newline.
fn read_value(path: &Path) -> Result<Vec<u8>, Errno> {
    let mut value = Vec::new();
    File::open(path)?.read_to_end(&mut value)?;
    if value.last() == Some(&b'\n') {
        value.pop();
    }
    Ok(value)
}
