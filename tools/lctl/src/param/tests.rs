// SPDX-License-Identifier: GPL-2.0

//! The commands on parameter trees built in a temporary directory.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

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
        let dir = std::env::temp_dir().join(format!("lctl-test-{}-{unique}", std::process::id()));
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
