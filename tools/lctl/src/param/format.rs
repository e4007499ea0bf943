// SPDX-License-Identifier: GPL-2.0

//! How parameters are selected and shown ([`ParamOpts`], [`format_param_value`]), and
//! set_param's `NAME=VALUE` pairs ([`parse_set_arg`]).

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
    /// `-t`: regular tunable files only (see [`is_stats_param`](super::is_stats_param)).
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

#[cfg(test)]
mod tests {
    use super::*;

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
