// SPDX-License-Identifier: GPL-2.0

//! Parameter names: an lctl name made a path pattern ([`clean_path`]), a path shown as a
//! name ([`display_name`]), and what a name says of its parameter.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::Errno;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
