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

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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

// ---------------------------------------------------------------------------------------------
// Parameter names
// ---------------------------------------------------------------------------------------------

/// Turns an lctl parameter name into the path pattern searched under each root
/// (Lustre's `jt_clean_path()`).
///
/// With `strip_type_suffix` (the `-F` option) a trailing `@`, `=` or `/` is removed first.
/// Backslashes are removed. Every `.` becomes `/`, except inside a NID: when the name contains
/// `@`, the NID starts after the first `.exports.` (or at the `MGC` of the first `.MGC`) and runs
/// to the first `.` after the `@` that follows. An empty name is `EINVAL`.
pub fn clean_path(name: &str, strip_type_suffix: bool) -> Result<String, Errno> {
    if name.is_empty() {
        return Err(Errno::EINVAL);
    }
    let mut path = name.to_owned();
    if strip_type_suffix && path.ends_with(['@', '=', '/']) {
        path.pop();
    }
    path.retain(|c| c != '\\');
    let nid = nid_span(&path);
    Ok(path
        .char_indices()
        .map(|(i, c)| {
            let in_nid = nid.as_ref().is_some_and(|nid| nid.contains(&i));
            if c == '.' && !in_nid {
                '/'
            } else {
                c
            }
        })
        .collect())
}

/// The byte range of the NID embedded in a parameter name, whose dots are kept.
fn nid_span(name: &str) -> Option<Range<usize>> {
    if !name.contains('@') {
        return None;
    }
    const EXPORTS: &str = ".exports.";
    let start = match name.find(EXPORTS) {
        Some(pos) => pos + EXPORTS.len(),
        None => name.find(".MGC")? + 1,
    };
    let at = start + name[start..].find('@')?;
    let end = name[at..].find('.').map_or(name.len(), |dot| at + dot);
    Some(start..end)
}

/// The name under which a matched path is shown (Lustre's `format_param()`, without the `-F`
/// suffix): the part after the first `/lustre/`, or else after the first `/lnet/`, with every `/`
/// turned into `.`. Paths under a module root (`.../parameters`) and paths without either marker
/// are shown relative to their root.
pub fn display_name(path: &Path, root: &Path) -> String {
    let full = path.to_string_lossy();
    let under_module = root.file_name() == Some(OsStr::new("parameters"));
    let tail = if under_module {
        None
    } else {
        ["/lustre/", "/lnet/"]
            .iter()
            .find_map(|marker| full.find(marker).map(|pos| &full[pos + marker.len()..]))
    };
    let tail: Cow<'_, str> = match tail {
        Some(tail) => Cow::Borrowed(tail),
        None => match path.strip_prefix(root) {
            Ok(relative) => relative.to_string_lossy(),
            Err(_) => Cow::Borrowed(&*full),
        },
    };
    tail.replace('/', ".")
}

/// The `-F` (classify) suffix of an entry: `/` for directories, `@` for symbolic links (only
/// visible when `metadata` was not followed), `=` for owner-writable files.
pub fn type_suffix(metadata: &Metadata) -> Option<char> {
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        Some('/')
    } else if file_type.is_symlink() {
        Some('@')
    } else if metadata.mode() & 0o200 != 0 {
        Some('=')
    } else {
        None
    }
}

/// Whether `-t` (tunable) hides this path: statistics, debug and other non-tunable files
/// (Lustre's `stats_param()`).
pub fn is_stats_param(path: &str) -> bool {
    const NOT_TUNABLE: [&str; 10] = [
        "console",
        "debug_",
        "fail_",
        "force",
        "import",
        "panic_",
        "peers",
        "srpc_sepol",
        "stats",
        "target_obd",
    ];
    NOT_TUNABLE.iter().any(|word| path.contains(word)) || path == "nis"
}

/// The warning `set_param` prints (on standard output) for deprecated parameters, given the
/// cleaned path (Lustre's `setparam_check_deprecated()`).
pub fn deprecation_warning(path: &str) -> Option<String> {
    let fileset = path
        .strip_prefix("nodemap/")
        .and_then(|rest| rest.strip_suffix("/fileset"))
        .is_some_and(|nodemap| !nodemap.is_empty() && !nodemap.contains('/'));
    fileset.then(|| {
        format!(
            "Warning: The parameter '{path}' is deprecated. \
             Please use \"lctl nodemap_set_fileset\" instead."
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Glob (glibc glob(3) with GLOB_BRACE, without GLOB_PERIOD)
// ---------------------------------------------------------------------------------------------

/// Expands `{a,b}` alternatives the way glibc's `glob(GLOB_BRACE)` does: the first unescaped `{`
/// with its matching `}` is expanded, alternatives in order, and each result is expanded again
/// (so nested and successive braces multiply out). A pattern whose first brace is not closed is
/// returned unchanged, its braces then being ordinary characters. Backslash-escaped characters
/// are never brace syntax.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_braces_into(pattern, &mut out);
    out
}

fn expand_braces_into(pattern: &str, out: &mut Vec<String>) {
    let bytes = pattern.as_bytes();
    let mut begin = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() => i += 2,
            b'{' => {
                begin = Some(i);
                break;
            }
            _ => i += 1,
        }
    }
    let Some(begin) = begin else {
        out.push(pattern.to_owned());
        return;
    };
    // Find the end of every alternative: a ',' or the final '}' at depth 0.
    let mut ends = Vec::new();
    let mut pos = begin + 1;
    loop {
        let Some(end) = next_brace_sub(bytes, pos) else {
            out.push(pattern.to_owned());
            return;
        };
        ends.push(end);
        if bytes[end] == b'}' {
            break;
        }
        pos = end + 1;
    }
    let prefix = &pattern[..begin];
    let rest = ends.last().map_or("", |&close| &pattern[close + 1..]);
    let mut start = begin + 1;
    for end in ends {
        expand_braces_into(&format!("{prefix}{}{rest}", &pattern[start..end]), out);
        start = end + 1;
    }
}

/// The position of the `,` or `}` ending the brace alternative starting at `pos` (glibc's
/// `next_brace_sub()`), or `None` if the braces are not closed.
fn next_brace_sub(bytes: &[u8], mut pos: usize) -> Option<usize> {
    let mut depth = 0usize;
    while pos < bytes.len() {
        match bytes[pos] {
            b'\\' => pos += 2,
            b'}' if depth == 0 => return Some(pos),
            b',' if depth == 0 => return Some(pos),
            b'}' => {
                depth -= 1;
                pos += 1;
            }
            b'{' => {
                depth += 1;
                pos += 1;
            }
            _ => pos += 1,
        }
    }
    None
}

/// One element of a compiled path-component pattern.
#[derive(Debug)]
enum Token {
    Byte(u8),
    AnyByte,
    Star,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
}

#[derive(Debug)]
enum ClassItem {
    Range(u8, u8),
    Named(fn(&u8) -> bool),
}

impl ClassItem {
    fn contains(&self, byte: u8) -> bool {
        match self {
            ClassItem::Range(low, high) => (*low..=*high).contains(&byte),
            ClassItem::Named(predicate) => predicate(&byte),
        }
    }
}

impl Token {
    fn matches(&self, byte: u8) -> bool {
        match self {
            Token::Byte(expected) => *expected == byte,
            Token::AnyByte => true,
            Token::Class { negated, items } => {
                items.iter().any(|item| item.contains(byte)) != *negated
            }
            Token::Star => false,
        }
    }
}

/// Compiles one path component of a pattern: `*`, `?`, `[...]` (with `!` or `^` negation,
/// ranges, a leading `]`, and `[:class:]` names) and `\` escapes. A `[` without its `]` is an
/// ordinary character.
fn compile_component(pattern: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => {
                tokens.push(Token::Byte(pattern[i + 1]));
                i += 2;
            }
            b'*' => {
                if !matches!(tokens.last(), Some(Token::Star)) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            b'?' => {
                tokens.push(Token::AnyByte);
                i += 1;
            }
            b'[' => match parse_class(pattern, i + 1) {
                Some((class, next)) => {
                    tokens.push(class);
                    i = next;
                }
                None => {
                    tokens.push(Token::Byte(b'['));
                    i += 1;
                }
            },
            byte => {
                tokens.push(Token::Byte(byte));
                i += 1;
            }
        }
    }
    tokens
}

/// Parses a bracket expression whose `[` is just before `start`; returns it and the position
/// after its `]`, or `None` if it is not closed (or names an unknown class).
fn parse_class(pattern: &[u8], start: usize) -> Option<(Token, usize)> {
    let mut i = start;
    let negated = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let byte = *pattern.get(i)?;
        if byte == b']' && !first {
            return Some((Token::Class { negated, items }, i + 1));
        }
        first = false;
        if byte == b'[' && pattern.get(i + 1) == Some(&b':') {
            if let Some(len) = pattern[i + 2..].windows(2).position(|w| w == b":]") {
                let predicate = named_class(&pattern[i + 2..i + 2 + len])?;
                items.push(ClassItem::Named(predicate));
                i += 2 + len + 2;
                continue;
            }
        }
        let (low, next) = class_byte(pattern, i)?;
        i = next;
        if pattern.get(i) == Some(&b'-') && pattern.get(i + 1).is_some_and(|&b| b != b']') {
            let (high, next) = class_byte(pattern, i + 1)?;
            items.push(ClassItem::Range(low, high));
            i = next;
        } else {
            items.push(ClassItem::Range(low, low));
        }
    }
}

fn class_byte(pattern: &[u8], i: usize) -> Option<(u8, usize)> {
    match *pattern.get(i)? {
        b'\\' => Some((*pattern.get(i + 1)?, i + 2)),
        byte => Some((byte, i + 1)),
    }
}

fn named_class(name: &[u8]) -> Option<fn(&u8) -> bool> {
    let predicate: fn(&u8) -> bool = match name {
        b"alnum" => u8::is_ascii_alphanumeric,
        b"alpha" => u8::is_ascii_alphabetic,
        b"blank" => |b: &u8| *b == b' ' || *b == b'\t',
        b"cntrl" => u8::is_ascii_control,
        b"digit" => u8::is_ascii_digit,
        b"graph" => u8::is_ascii_graphic,
        b"lower" => u8::is_ascii_lowercase,
        b"print" => |b: &u8| b.is_ascii_graphic() || *b == b' ',
        b"punct" => u8::is_ascii_punctuation,
        b"space" => |b: &u8| b.is_ascii_whitespace() || *b == 0x0b,
        b"upper" => u8::is_ascii_uppercase,
        b"xdigit" => u8::is_ascii_hexdigit,
        _ => return None,
    };
    Some(predicate)
}

/// Whether a compiled component matches a file name. A leading `.` must be matched by a literal
/// `.` (glob without `GLOB_PERIOD`).
fn match_tokens(tokens: &[Token], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && !matches!(tokens.first(), Some(Token::Byte(b'.'))) {
        return false;
    }
    let (mut t, mut n) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        match tokens.get(t) {
            Some(Token::Star) => {
                backtrack = Some((t, n));
                t += 1;
                continue;
            }
            Some(token) if token.matches(name[n]) => {
                t += 1;
                n += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((star, star_n)) => {
                t = star + 1;
                n = star_n + 1;
                backtrack = Some((star, star_n + 1));
            }
            None => return false,
        }
    }
    tokens[t..].iter().all(|token| matches!(token, Token::Star))
}

/// The literal bytes of a component without wildcards, or `None` if it has some.
fn literal(tokens: &[Token]) -> Option<Vec<u8>> {
    tokens
        .iter()
        .map(|token| match token {
            Token::Byte(byte) => Some(*byte),
            _ => None,
        })
        .collect()
}

/// Matches one file name against one path-component pattern, like `fnmatch(3)` with
/// `FNM_PERIOD`: `*`, `?`, `[...]` and `\` escapes. `/` has no special meaning here: callers
/// split patterns into components, so `*` never crosses a `/`.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    match_tokens(&compile_component(pattern.as_bytes()), name.as_bytes())
}

/// Expands `pattern` (relative, `/`-separated) under `base`, like glibc's
/// `glob("<base>/<pattern>", GLOB_BRACE)`: brace alternatives in order, the matches of each
/// alternative sorted bytewise. A trailing `/` matches directories only and is kept on the
/// results.
pub fn glob_in(base: &Path, pattern: &str) -> Vec<PathBuf> {
    expand_braces(pattern)
        .iter()
        .flat_map(|alternative| {
            let mut matches = glob_alternative(base, alternative);
            matches.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
            matches
        })
        .collect()
}

fn glob_alternative(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let dirs_only = pattern.ends_with('/');
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let mut current = vec![base.to_path_buf()];
    for (index, component) in components.iter().enumerate() {
        let last = index + 1 == components.len();
        let keep = |path: &Path| {
            if last && !dirs_only {
                fs::symlink_metadata(path).is_ok()
            } else {
                path.is_dir()
            }
        };
        let tokens = compile_component(component.as_bytes());
        let mut next = Vec::new();
        for dir in &current {
            if let Some(name) = literal(&tokens) {
                let path = dir.join(OsStr::from_bytes(&name));
                if keep(&path) {
                    next.push(path);
                }
                continue;
            }
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if match_tokens(&tokens, name.as_bytes()) {
                    let path = dir.join(&name);
                    if keep(&path) {
                        next.push(path);
                    }
                }
            }
        }
        current = next;
        if current.is_empty() {
            break;
        }
    }
    if components.is_empty() {
        current.retain(|path| path.is_dir());
    }
    if dirs_only {
        for path in &mut current {
            path.as_mut_os_string().push("/");
        }
    }
    current
}

/// Escapes glob syntax in a literal path so that [`glob_in`] matches exactly it.
fn escape_glob(literal: &str) -> String {
    let mut escaped = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | ',' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

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

/// Finds every path matching a cleaned pattern (see [`clean_path`]) under the roots, root by
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

// ---------------------------------------------------------------------------------------------
// Output formatting
// ---------------------------------------------------------------------------------------------

/// How get_param, list_param and set_param select and show parameters (Lustre's
/// `struct param_opts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamOpts {
    /// Print names (cleared by `-n`).
    pub show_name: bool,
    /// Print names only (`-N`, and always for list_param).
    pub only_name: bool,
    /// Append the `-F` type suffix to names.
    pub show_type: bool,
    /// `-H`: prefix every line of a multi-line value with `name=`.
    pub header: bool,
    /// `-R`: descend into matched directories.
    pub recursive: bool,
    /// Show a name found several times (in several roots) once per distinct value.
    pub merge: bool,
    /// Use symbolic links (cleared by `-L`).
    pub follow_symlinks: bool,
    /// `-D`: directories only.
    pub only_dir: bool,
    /// `-p`: show full paths instead of parameter names.
    pub only_path: bool,
    /// `-r`/`-w`: mode bits (0o400, 0o200) an entry must all have.
    pub permissions: u32,
    /// `-t`: regular tunable files only (see [`is_stats_param`]).
    pub tunable: bool,
}

impl ParamOpts {
    /// Defaults of `get_param`. Unlike Lustre (where `--merge` is not the default for
    /// get_param) duplicates are merged, so a name found in several roots is shown once.
    pub fn get_param() -> Self {
        ParamOpts {
            show_name: true,
            only_name: false,
            show_type: false,
            header: false,
            recursive: false,
            merge: true,
            follow_symlinks: true,
            only_dir: false,
            only_path: false,
            permissions: 0,
            tunable: false,
        }
    }

    /// Defaults of `list_param`.
    pub fn list_param() -> Self {
        ParamOpts {
            only_name: true,
            ..ParamOpts::get_param()
        }
    }

    /// Defaults of `set_param`.
    pub fn set_param() -> Self {
        ParamOpts {
            merge: false,
            ..ParamOpts::get_param()
        }
    }
}

/// Formats one parameter value for output (Lustre's `print_param_internal()`, without colours):
/// `name=value`, `name=` and the value on the next lines for a multi-line value, the value alone
/// without names, the name alone with `only_name`, every line prefixed with `name=` with
/// `header`. An empty value is not shown at all without names.
pub fn format_param_value(name: &str, value: &[u8], opts: &ParamOpts) -> Vec<u8> {
    let mut out = Vec::new();
    if !opts.show_name && value.is_empty() {
        return out;
    }
    let multi_line = value.contains(&b'\n');
    if opts.header && multi_line {
        let mut rest = value;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            out.extend_from_slice(&rest[..=newline]);
            rest = &rest[newline + 1..];
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(rest);
    } else {
        if opts.show_name {
            out.extend_from_slice(name.as_bytes());
            if !opts.only_name {
                out.push(b'=');
                if multi_line {
                    out.push(b'\n');
                }
            }
        }
        if !opts.only_name {
            out.extend_from_slice(value);
        }
    }
    out.push(b'\n');
    out
}

/// Splits the arguments of `set_param` into its first `(name, value)` pair and the number of
/// arguments used: `NAME=VALUE` (split at the first `=`), or `NAME VALUE`. On error (empty value,
/// or no value at all) returns the name, for the message.
pub fn parse_set_arg(args: &[String]) -> Result<(&str, &str, usize), &str> {
    let Some(first) = args.first() else {
        return Err("");
    };
    match first.split_once('=') {
        Some((name, "")) => Err(name),
        Some((name, value)) => Ok((name, value, 1)),
        None => match args.get(1) {
            Some(value) => Ok((first, value, 2)),
            None => Err(first),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The commands
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    List,
    Get,
    Set,
}

impl Operation {
    fn name(self) -> &'static str {
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
struct Node {
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

    fn print(&self, opts: &ParamOpts, out: &mut dyn Write) -> io::Result<()> {
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
struct Walker<'a> {
    roots: &'a ParamRoots,
    opts: &'a ParamOpts,
    op: Operation,
    err: &'a mut dyn Write,
    /// The first error of the whole command.
    status: Result<(), Errno>,
    /// Directories being descended into (device, inode), against symbolic-link loops.
    ancestors: Vec<(u64, u64)>,
}

impl<'a> Walker<'a> {
    fn new(
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
    fn fail(&mut self, errno: Errno) -> Errno {
        if self.status.is_ok() {
            self.status = Err(errno);
        }
        errno
    }

    fn report(&mut self, message: &str) {
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
    fn collect(&mut self, pattern: &str, node: &mut Node, quiet: bool) -> Result<(), Errno> {
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
    fn set(&mut self, pattern: &str, value: &str, out: &mut dyn Write) -> Result<(), Errno> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::sync::atomic::{AtomicUsize, Ordering};

    // --- names ------------------------------------------------------------------------------

    #[test]
    fn clean_path_turns_dots_into_slashes() {
        assert_eq!(
            clean_path("mdd.lustre-MDT0000.changelog_mask", false),
            Ok("mdd/lustre-MDT0000/changelog_mask".to_owned())
        );
        assert_eq!(
            clean_path("osc.*.max_dirty_mb", false),
            Ok("osc/*/max_dirty_mb".to_owned())
        );
        assert_eq!(clean_path("version", false), Ok("version".to_owned()));
        assert_eq!(clean_path("", false), Err(Errno::EINVAL));
    }

    #[test]
    fn clean_path_keeps_nid_after_exports() {
        assert_eq!(
            clean_path(
                "obdfilter.lustre-OST0000.exports.192.168.1.1@tcp.stats",
                false
            ),
            Ok("obdfilter/lustre-OST0000/exports/192.168.1.1@tcp/stats".to_owned())
        );
        assert_eq!(
            clean_path("mdt.*.exports.10.0.0.2@o2ib1.uuid", false),
            Ok("mdt/*/exports/10.0.0.2@o2ib1/uuid".to_owned())
        );
        // The NID may end the name.
        assert_eq!(
            clean_path("mdt.lustre-MDT0000.exports.10.0.0.2@tcp", false),
            Ok("mdt/lustre-MDT0000/exports/10.0.0.2@tcp".to_owned())
        );
    }

    #[test]
    fn clean_path_keeps_nid_of_mgc() {
        assert_eq!(
            clean_path("mgc.MGC192.168.1.1@tcp.import", false),
            Ok("mgc/MGC192.168.1.1@tcp/import".to_owned())
        );
        assert_eq!(
            clean_path("ldlm.namespaces.MGC10.0.0.1@tcp.lru_size", false),
            Ok("ldlm/namespaces/MGC10.0.0.1@tcp/lru_size".to_owned())
        );
    }

    #[test]
    fn clean_path_without_nid_prefix_converts_all_dots() {
        // An '@' alone does not protect anything.
        assert_eq!(clean_path("a.b@c.d", false), Ok("a/b@c/d".to_owned()));
        // '@' only before the NID start: no NID.
        assert_eq!(
            clean_path("x@y.exports.1.2", false),
            Ok("x@y/exports/1/2".to_owned())
        );
    }

    #[test]
    fn clean_path_removes_backslashes_and_type_suffix() {
        assert_eq!(clean_path("a\\.b.c", false), Ok("a/b/c".to_owned()));
        assert_eq!(
            clean_path("mdd.*.changelog_mask=", true),
            Ok("mdd/*/changelog_mask".to_owned())
        );
        assert_eq!(
            clean_path("mdd.lustre-MDT0000/", true),
            Ok("mdd/lustre-MDT0000".to_owned())
        );
        assert_eq!(clean_path("a.b=", false), Ok("a/b=".to_owned()));
    }

    #[test]
    fn display_names() {
        let root = Path::new("/sys/fs/lustre");
        assert_eq!(
            display_name(
                Path::new("/sys/fs/lustre/mdd/lustre-MDT0000/changelog_mask"),
                root
            ),
            "mdd.lustre-MDT0000.changelog_mask"
        );
        assert_eq!(
            display_name(
                Path::new("/sys/kernel/debug/lnet/peers"),
                Path::new("/sys/kernel/debug/lnet")
            ),
            "peers"
        );
        assert_eq!(
            display_name(
                Path::new("/proc/fs/lustre/obdfilter/lustre-OST0000/exports/192.168.1.1@tcp/stats"),
                Path::new("/proc/fs/lustre")
            ),
            "obdfilter.lustre-OST0000.exports.192.168.1.1@tcp.stats"
        );
        assert_eq!(
            display_name(
                Path::new("/sys/module/lnet/parameters/networks"),
                Path::new("/sys/module/lnet/parameters")
            ),
            "networks"
        );
        assert_eq!(display_name(Path::new("/x/y/z"), Path::new("/x")), "y.z");
        assert_eq!(display_name(Path::new("/sys/fs/lustre/mdd/"), root), "mdd.");
    }

    #[test]
    fn stats_params_and_deprecations() {
        assert!(is_stats_param("/sys/kernel/debug/lustre/mdt/x/md_stats"));
        assert!(is_stats_param("/sys/fs/lustre/osc/x/import"));
        assert!(!is_stats_param("/sys/fs/lustre/mdd/x/changelog_mask"));
        assert!(deprecation_warning("nodemap/default/fileset").is_some());
        assert!(deprecation_warning("nodemap/a/b/fileset").is_none());
        assert!(deprecation_warning("nodemap//fileset").is_none());
        assert!(deprecation_warning("mdd/x/fileset").is_none());
    }

    #[test]
    fn set_arguments() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_set_arg(&args(&["a.b=c=d", "x"])),
            Ok(("a.b", "c=d", 1))
        );
        assert_eq!(
            parse_set_arg(&args(&["a.b", "5", "c=1"])),
            Ok(("a.b", "5", 2))
        );
        assert_eq!(parse_set_arg(&args(&["a.b="])), Err("a.b"));
        assert_eq!(parse_set_arg(&args(&["a.b"])), Err("a.b"));
    }

    // --- braces and matching ----------------------------------------------------------------

    #[test]
    fn brace_expansion() {
        assert_eq!(expand_braces("a{b,c}d"), ["abd", "acd"]);
        assert_eq!(expand_braces("{x,y}/{1,2}"), ["x/1", "x/2", "y/1", "y/2"]);
        assert_eq!(expand_braces("a{b,c{d,e}}f"), ["abf", "acdf", "acef"]);
        assert_eq!(expand_braces("a{b}c"), ["abc"]);
        assert_eq!(expand_braces("a{}c"), ["ac"]);
        assert_eq!(expand_braces("{,x}"), ["", "x"]);
        assert_eq!(expand_braces("plain"), ["plain"]);
    }

    #[test]
    fn brace_expansion_unbalanced_and_escaped() {
        assert_eq!(expand_braces("a{b,c"), ["a{b,c"]);
        assert_eq!(expand_braces("a\\{b,c}"), ["a\\{b,c}"]);
        assert_eq!(expand_braces("{a,b}{c"), ["a{c", "b{c"]);
        assert_eq!(expand_braces("{a\\,b,c}"), ["a\\,b", "c"]);
        assert_eq!(expand_braces("a}b"), ["a}b"]);
    }

    #[test]
    fn wildcards() {
        assert!(fnmatch("*", "changelog_mask"));
        assert!(fnmatch("changelog_*", "changelog_mask"));
        assert!(fnmatch("*_mask", "changelog_mask"));
        assert!(fnmatch("c*g*k", "changelog_mask"));
        assert!(!fnmatch("c*g*x", "changelog_mask"));
        assert!(fnmatch("lustre-MDT000?", "lustre-MDT0001"));
        assert!(!fnmatch("lustre-MDT000?", "lustre-MDT00010"));
        assert!(fnmatch("a**b", "ab"));
        assert!(fnmatch("", ""));
        assert!(!fnmatch("", "a"));
        assert!(!fnmatch("a", ""));
    }

    #[test]
    fn bracket_expressions() {
        assert!(fnmatch("MDT000[0-3]", "MDT0002"));
        assert!(!fnmatch("MDT000[0-3]", "MDT0004"));
        assert!(fnmatch("MDT000[!0-3]", "MDT0004"));
        assert!(fnmatch("MDT000[^0-3]", "MDT0009"));
        assert!(!fnmatch("MDT000[!0-3]", "MDT0001"));
        assert!(fnmatch("[]a]", "]"));
        assert!(fnmatch("[!]a]", "b"));
        assert!(fnmatch("[a-]", "-"));
        assert!(fnmatch("x[[:digit:]]", "x7"));
        assert!(!fnmatch("x[[:digit:]]", "xa"));
        assert!(fnmatch("x[[:alpha:]_]y", "x_y"));
        // An unclosed '[' is an ordinary character.
        assert!(fnmatch("a[b", "a[b"));
        assert!(!fnmatch("a[b", "ab"));
    }

    #[test]
    fn escapes_and_leading_dots() {
        assert!(fnmatch("a\\*", "a*"));
        assert!(!fnmatch("a\\*", "ab"));
        assert!(fnmatch("\\[x]", "[x]"));
        assert!(!fnmatch("*", ".hidden"));
        assert!(!fnmatch("?hidden", ".hidden"));
        assert!(fnmatch(".h*", ".hidden"));
        assert!(fnmatch("\\.h*", ".hidden"));
    }

    // --- temporary parameter trees ----------------------------------------------------------

    static NEXT_TREE: AtomicUsize = AtomicUsize::new(0);

    /// A parameter tree laid out like a system's, under a unique temporary directory:
    /// `proc/fs/lustre` (absent), `sys/fs/lustre`, `debug/lnet` and `debug/lustre`.
    struct Tree {
        dir: PathBuf,
        roots: ParamRoots,
    }

    impl Tree {
        fn new() -> Tree {
            let unique = NEXT_TREE.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("lctl-test-{}-{unique}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create the test directory");
            let roots = ParamRoots::new(
                [
                    "proc/fs/lustre",
                    "sys/fs/lustre",
                    "debug/lnet",
                    "debug/lustre",
                ]
                .map(|r| dir.join(r)),
            );
            let tree = Tree { dir, roots };
            tree.file(
                "sys/fs/lustre/mdd/lustre-MDT0000/changelog_mask",
                "MARK CREAT MKDIR\n",
                0o644,
            );
            tree.file(
                "sys/fs/lustre/mdd/lustre-MDT0000/changelog_users",
                "current_index: 0\nID                             index (idle) mask\n",
                0o644,
            );
            tree.file(
                "debug/lustre/mdd/lustre-MDT0000/changelog_current_index",
                "0\n",
                0o444,
            );
            tree
        }

        fn file(&self, relative: &str, contents: &str, mode: u32) -> PathBuf {
            let path = self.dir.join(relative);
            let parent = path.parent().expect("files have a parent");
            fs::create_dir_all(parent).expect("create the parent directories");
            fs::write(&path, contents).expect("write the file");
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            path
        }

        fn read(&self, relative: &str) -> String {
            fs::read_to_string(self.dir.join(relative)).expect("read the file")
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    type Command =
        fn(&ParamRoots, &ParamOpts, &[String], &mut dyn Write, &mut dyn Write) -> Result<(), Errno>;

    /// Runs a command; returns its result, standard output and standard error.
    fn run(
        command: Command,
        tree: &Tree,
        opts: &ParamOpts,
        args: &[&str],
    ) -> (Result<(), Errno>, String, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = command(&tree.roots, opts, &args, &mut out, &mut err);
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
        (result, text(out), text(err))
    }

    fn get(tree: &Tree, args: &[&str]) -> (Result<(), Errno>, String, String) {
        run(get_param, tree, &ParamOpts::get_param(), args)
    }

    fn list(tree: &Tree, opts: &ParamOpts, args: &[&str]) -> (Result<(), Errno>, String, String) {
        run(list_param, tree, opts, args)
    }

    fn set(tree: &Tree, args: &[&str]) -> (Result<(), Errno>, String, String) {
        run(set_param, tree, &ParamOpts::set_param(), args)
    }

    #[test]
    fn glob_over_roots_in_order() {
        let tree = Tree::new();
        let found = find_param_paths(&tree.roots, "mdd/*/changelog_*");
        let names: Vec<String> = found.iter().map(ParamPath::display_name).collect();
        assert_eq!(
            names,
            [
                "mdd.lustre-MDT0000.changelog_mask",
                "mdd.lustre-MDT0000.changelog_users",
                "mdd.lustre-MDT0000.changelog_current_index",
            ]
        );
        assert_eq!(found[2].root, tree.dir.join("debug/lustre"));
        // Brace alternatives keep their order; '*' does not cross '/'.
        let found = find_param_paths(&tree.roots, "mdd/*/changelog_{users,mask}");
        let names: Vec<String> = found.iter().map(ParamPath::display_name).collect();
        assert_eq!(
            names,
            [
                "mdd.lustre-MDT0000.changelog_users",
                "mdd.lustre-MDT0000.changelog_mask"
            ]
        );
        assert!(find_param_paths(&tree.roots, "mdd/*").len() == 2);
        assert!(find_param_paths(&tree.roots, "*/changelog_mask").is_empty());
    }

    #[test]
    fn module_patterns_search_module_roots() {
        let tree = Tree::new();
        tree.file("module/lnet/parameters/networks", "tcp0(eth0)\n", 0o444);
        let mut roots = tree.roots.clone();
        roots.module_roots = vec![tree.dir.join("module/lnet/parameters")];
        let found = find_param_paths(&roots, "module/networks");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].display_name(), "networks");
        assert!(find_param_paths(&roots, "networks").is_empty());
    }

    #[test]
    fn get_param_prints_values() {
        let tree = Tree::new();
        let (result, out, err) = get(&tree, &["mdd.lustre-MDT0000.changelog_mask"]);
        assert_eq!(result, Ok(()));
        assert_eq!(out, "mdd.lustre-MDT0000.changelog_mask=MARK CREAT MKDIR\n");
        assert_eq!(err, "");

        let (_, out, _) = get(&tree, &["mdd.*.changelog_users"]);
        assert_eq!(
            out,
            "mdd.lustre-MDT0000.changelog_users=\ncurrent_index: 0\nID                             index (idle) mask\n"
        );
        let (_, out, _) = get(&tree, &["mdd.*.changelog_current_index"]);
        assert_eq!(out, "mdd.lustre-MDT0000.changelog_current_index=0\n");
    }

    #[test]
    fn get_param_options() {
        let tree = Tree::new();
        let no_name = ParamOpts {
            show_name: false,
            ..ParamOpts::get_param()
        };
        let (_, out, _) = run(
            get_param,
            &tree,
            &no_name,
            &["mdd.*.changelog_mask", "mdd.*.changelog_current_index"],
        );
        assert_eq!(out, "MARK CREAT MKDIR\n0\n");

        let names = ParamOpts {
            only_name: true,
            ..ParamOpts::get_param()
        };
        let (_, out, _) = run(get_param, &tree, &names, &["mdd.*.*"]);
        assert_eq!(
            out,
            "mdd.lustre-MDT0000.changelog_mask\nmdd.lustre-MDT0000.changelog_users\n\
             mdd.lustre-MDT0000.changelog_current_index\n"
        );

        let header = ParamOpts {
            header: true,
            ..ParamOpts::get_param()
        };
        let (_, out, _) = run(get_param, &tree, &header, &["mdd.*.changelog_users"]);
        assert_eq!(
            out,
            "mdd.lustre-MDT0000.changelog_users=current_index: 0\n\
             mdd.lustre-MDT0000.changelog_users=ID                             index (idle) mask\n"
        );
    }

    #[test]
    fn get_param_skips_directories_and_write_only_files() {
        let tree = Tree::new();
        tree.file("sys/fs/lustre/mdd/lustre-MDT0000/flush", "", 0o200);
        let (result, out, err) = get(&tree, &["mdd.*"]);
        assert_eq!((result, out.as_str(), err.as_str()), (Ok(()), "", ""));
        let (result, out, err) = get(&tree, &["mdd.*.*"]);
        assert_eq!(result, Ok(()));
        assert_eq!(err, "");
        assert_eq!(out.lines().count(), 5, "{out}");
        assert!(!out.contains("flush"));
    }

    #[test]
    fn get_param_merges_duplicates() {
        let tree = Tree::new();
        tree.file(
            "proc/fs/lustre/mdd/lustre-MDT0000/changelog_mask",
            "MARK CREAT MKDIR\n",
            0o644,
        );
        let (_, out, _) = get(&tree, &["mdd.*.changelog_mask"]);
        assert_eq!(out, "mdd.lustre-MDT0000.changelog_mask=MARK CREAT MKDIR\n");
        // Different values of one name are all shown, together.
        tree.file(
            "proc/fs/lustre/mdd/lustre-MDT0000/changelog_mask",
            "MARK\n",
            0o644,
        );
        let (_, out, _) = get(&tree, &["mdd.*.changelog_mask"]);
        assert_eq!(
            out,
            "mdd.lustre-MDT0000.changelog_mask=MARK\nmdd.lustre-MDT0000.changelog_mask=MARK CREAT MKDIR\n"
        );
    }

    #[test]
    fn get_param_nid_parameters() {
        let tree = Tree::new();
        tree.file(
            "sys/fs/lustre/obdfilter/lustre-OST0000/exports/192.168.1.1@tcp/stats",
            "snapshot_time 1\n",
            0o444,
        );
        let (result, out, _) = get(
            &tree,
            &["obdfilter.lustre-OST0000.exports.192.168.1.1@tcp.stats"],
        );
        assert_eq!(result, Ok(()));
        assert_eq!(
            out,
            "obdfilter.lustre-OST0000.exports.192.168.1.1@tcp.stats=snapshot_time 1\n"
        );
        let (_, out, _) = get(&tree, &["obdfilter.*.exports.*.stats"]);
        assert_eq!(
            out,
            "obdfilter.lustre-OST0000.exports.192.168.1.1@tcp.stats=snapshot_time 1\n"
        );
    }

    #[test]
    fn get_param_errors() {
        let tree = Tree::new();
        let (result, out, err) = get(
            &tree,
            &["mdd.*.nonexistent", "mdd.*.changelog_current_index"],
        );
        assert_eq!(result, Err(Errno::ENOENT));
        assert_eq!(out, "mdd.lustre-MDT0000.changelog_current_index=0\n");
        assert_eq!(
            err,
            "error: get_param: param_path 'mdd/*/nonexistent': No such file or directory\n"
        );

        let (result, _, err) = get(&tree, &[""]);
        assert_eq!(result, Err(Errno::EINVAL));
        assert_eq!(err, "error: get_param: cleaning '': Invalid argument\n");

        symlink(
            tree.dir.join("nowhere"),
            tree.dir.join("sys/fs/lustre/mdd/dangling"),
        )
        .expect("symlink");
        let (result, _, err) = get(&tree, &["mdd.dangling"]);
        assert_eq!(result, Err(Errno::ENOENT));
        let path = tree.dir.join("sys/fs/lustre/mdd/dangling");
        assert_eq!(
            err,
            format!(
                "error: get_param: stat '{}': No such file or directory\n",
                path.display()
            )
        );
    }

    #[test]
    fn list_param_merges_and_classifies() {
        let tree = Tree::new();
        let (result, out, err) = list(&tree, &ParamOpts::list_param(), &["mdd.*"]);
        assert_eq!(
            (result, out.as_str(), err.as_str()),
            (Ok(()), "mdd.lustre-MDT0000\n", "")
        );

        let classify = ParamOpts {
            show_type: true,
            ..ParamOpts::list_param()
        };
        let (_, out, _) = list(&tree, &classify, &["mdd.*.*"]);
        assert_eq!(
            out,
            "mdd.lustre-MDT0000.changelog_mask=\nmdd.lustre-MDT0000.changelog_users=\n\
             mdd.lustre-MDT0000.changelog_current_index\n"
        );
        let (_, out, _) = list(&tree, &classify, &["mdd.*/"]);
        assert_eq!(out, "mdd.lustre-MDT0000/\n");
    }

    #[test]
    fn list_param_recursive() {
        let tree = Tree::new();
        let recursive = ParamOpts {
            recursive: true,
            ..ParamOpts::list_param()
        };
        let (result, out, err) = list(&tree, &recursive, &["mdd"]);
        assert_eq!(result, Ok(()));
        assert_eq!(err, "");
        assert_eq!(
            out,
            "mdd\nmdd.lustre-MDT0000\nmdd.lustre-MDT0000.changelog_mask\n\
             mdd.lustre-MDT0000.changelog_users\nmdd.lustre-MDT0000.changelog_current_index\n"
        );
        // get_param -R prints the files below, once each.
        let get_recursive = ParamOpts {
            recursive: true,
            show_name: false,
            ..ParamOpts::get_param()
        };
        let (_, out, _) = run(get_param, &tree, &get_recursive, &["mdd"]);
        assert_eq!(out.lines().count(), 4, "{out}");
    }

    #[test]
    fn list_param_recursion_survives_symlink_loops() {
        let tree = Tree::new();
        symlink(
            tree.dir.join("sys/fs/lustre/mdd"),
            tree.dir.join("sys/fs/lustre/mdd/lustre-MDT0000/loop"),
        )
        .expect("symlink");
        let recursive = ParamOpts {
            recursive: true,
            ..ParamOpts::list_param()
        };
        let (result, out, _) = list(&tree, &recursive, &["mdd"]);
        assert_eq!(result, Ok(()));
        assert!(out.lines().count() < 20, "{out}");
    }

    #[test]
    fn list_param_errors() {
        let tree = Tree::new();
        let (result, out, err) = list(&tree, &ParamOpts::list_param(), &["nosuch.*"]);
        assert_eq!(result, Err(Errno::ENOENT));
        assert_eq!(out, "");
        assert_eq!(
            err,
            "error: list_param: param_path 'nosuch/*': No such file or directory\n\
             error: list_param: listing 'nosuch/*': No such file or directory\n"
        );
    }

    #[test]
    fn set_param_writes_without_newline() {
        let tree = Tree::new();
        // Parameters are opened without O_TRUNC, like Lustre does (sysfs and procfs files take
        // each write whole): empty the regular files so that they show exactly what was written.
        let mask = "sys/fs/lustre/mdd/lustre-MDT0000/changelog_mask";
        let users = "sys/fs/lustre/mdd/lustre-MDT0000/changelog_users";
        tree.file(mask, "", 0o644);
        let (result, out, err) = set(&tree, &["mdd.lustre-MDT0000.changelog_mask=+hsm"]);
        assert_eq!((result, err.as_str()), (Ok(()), ""));
        assert_eq!(out, "mdd.lustre-MDT0000.changelog_mask=+hsm\n");
        assert_eq!(tree.read(mask), "+hsm");

        tree.file(mask, "", 0o644);
        tree.file(users, "", 0o644);
        // "NAME VALUE" form, several pairs, a value containing '='.
        let (result, out, _) = set(
            &tree,
            &["mdd.*.changelog_mask", "MARK", "mdd.*.changelog_users=a=b"],
        );
        assert_eq!(result, Ok(()));
        assert_eq!(
            out,
            "mdd.lustre-MDT0000.changelog_mask=MARK\nmdd.lustre-MDT0000.changelog_users=a=b\n"
        );
        assert_eq!(tree.read(mask), "MARK");
        assert_eq!(tree.read(users), "a=b");

        tree.file(mask, "", 0o644);

        let quiet = ParamOpts {
            show_name: false,
            ..ParamOpts::set_param()
        };
        let (result, out, _) = run(set_param, &tree, &quiet, &["mdd.*.changelog_mask=X"]);
        assert_eq!((result, out.as_str()), (Ok(()), ""));
        assert_eq!(tree.read(mask), "X");
    }

    #[test]
    fn set_param_writes_every_match_and_skips_directories() {
        let tree = Tree::new();
        tree.file("sys/fs/lustre/mdd/lustre-MDT0001/changelog_mask", "", 0o644);
        let (result, out, _) = set(&tree, &["mdd.*.changelog_mask=CLOSE"]);
        assert_eq!(result, Ok(()));
        assert_eq!(
            out,
            "mdd.lustre-MDT0000.changelog_mask=CLOSE\nmdd.lustre-MDT0001.changelog_mask=CLOSE\n"
        );
        assert_eq!(
            tree.read("sys/fs/lustre/mdd/lustre-MDT0001/changelog_mask"),
            "CLOSE"
        );
        let (result, out, err) = set(&tree, &["mdd.*=1"]);
        assert_eq!((result, out.as_str(), err.as_str()), (Ok(()), "", ""));
    }

    #[test]
    fn set_param_errors() {
        let tree = Tree::new();
        let (result, out, err) = set(&tree, &["mdd.*.changelog_mask="]);
        assert_eq!((result, out.as_str()), (Err(Errno::EINVAL), ""));
        assert_eq!(
            err,
            "error: set_param: setting mdd.*.changelog_mask: Invalid argument\n"
        );

        let (result, _, err) = set(&tree, &["mdd.*.changelog_mask"]);
        assert_eq!(result, Err(Errno::EINVAL));
        assert_eq!(
            err,
            "error: set_param: setting mdd.*.changelog_mask: Invalid argument\n"
        );

        // The missing parameter fails, the next pair is still set.
        let (result, out, err) = set(&tree, &["mdd.*.nosuch=1", "mdd.*.changelog_mask=Y"]);
        assert_eq!(result, Err(Errno::ENOENT));
        assert_eq!(out, "mdd.lustre-MDT0000.changelog_mask=Y\n");
        assert_eq!(
            err,
            "error: set_param: param_path 'mdd/*/nosuch': No such file or directory\n\
             error: set_param: setting 'mdd/*/nosuch'='1': No such file or directory\n"
        );

        symlink(
            tree.dir.join("nowhere"),
            tree.dir.join("sys/fs/lustre/mdd/dangling"),
        )
        .expect("symlink");
        let (result, _, err) = set(&tree, &["mdd.dangling=1"]);
        assert_eq!(result, Err(Errno::ENOENT));
        let path = tree.dir.join("sys/fs/lustre/mdd/dangling");
        assert_eq!(
            err,
            format!(
                "error: set_param: stat '{}': No such file or directory\n\
                 error: set_param: setting 'mdd/dangling'='1': No such file or directory\n",
                path.display()
            )
        );
    }

    #[test]
    fn value_formatting() {
        let opts = ParamOpts::get_param();
        assert_eq!(format_param_value("a.b", b"1", &opts), b"a.b=1\n");
        assert_eq!(format_param_value("a.b", b"1\n2", &opts), b"a.b=\n1\n2\n");
        assert_eq!(format_param_value("a.b", b"", &opts), b"a.b=\n");
        let no_name = ParamOpts {
            show_name: false,
            ..opts.clone()
        };
        assert_eq!(format_param_value("a.b", b"1\n2", &no_name), b"1\n2\n");
        assert_eq!(format_param_value("a.b", b"", &no_name), b"");
        let list = ParamOpts::list_param();
        assert_eq!(format_param_value("a.b", b"", &list), b"a.b\n");
        let header = ParamOpts {
            header: true,
            ..opts
        };
        assert_eq!(
            format_param_value("a", b"1\n\n2", &header),
            b"a=1\na=\na=2\n"
        );
        assert_eq!(format_param_value("a", b"1", &header), b"a=1\n");
    }
}
