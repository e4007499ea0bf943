// SPDX-License-Identifier: GPL-2.0

//! glibc's `glob(3)` with `GLOB_BRACE`, without `GLOB_PERIOD`: brace expansion
//! ([`expand_braces`]), per-component matching ([`fnmatch`]) and the search of one root
//! ([`glob_in`]).

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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
pub(super) fn escape_glob(literal: &str) -> String {
    let mut escaped = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | ',' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
