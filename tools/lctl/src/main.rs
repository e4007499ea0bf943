// SPDX-License-Identifier: GPL-2.0

//! `lctl`: the Lustre control utility, for rustre.
//!
//! `lctl [--device NAME] COMMAND [ARGS...]`. Global options come before the command and are
//! kept in the [`Context`] every command receives; [`run_command`] dispatches the command.
//!
//! The exit status is 0 on success, the errno of the first failure otherwise (as Lustre's lctl
//! returns `-rc`), and `EINVAL` for usage errors.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use lctl::blockdev;
use lctl::cli::{
    self, OptionAction, GET_ONLY_OPTIONS, LIST_ONLY_OPTIONS, SET_OPTIONS, SHOW_OPTIONS,
};
use lctl::getopt::{self, OptSpec, Parsed};
use lctl::mdt;
use lctl::param::{self, Errno, ParamOpts, ParamRoots};
use lctl::sys;

/// What every command is given: the global options and the parameter roots.
struct Context {
    /// `--device NAME`: the device that device commands apply to. The parameter commands
    /// ignore it.
    device: Option<String>,
    roots: ParamRoots,
    debugfs_checked: bool,
}

impl Context {
    fn new() -> Self {
        Context {
            device: None,
            roots: ParamRoots::system(),
            debugfs_checked: false,
        }
    }

    /// The parameter roots, after mounting debugfs if needed (once), as Lustre does before
    /// its first parameter search.
    fn param_roots(&mut self) -> &ParamRoots {
        if !self.debugfs_checked {
            sys::try_mount_debugfs();
            self.debugfs_checked = true;
        }
        &self.roots
    }
}

/// How a command failed.
enum CmdError {
    /// Bad usage: the message (if not empty) is printed, then the command's help.
    Usage(String),
    /// Failed with this errno; the command printed its own messages.
    Failed(Errno),
}

type CmdResult = Result<(), CmdError>;

/// A command as `lctl help` shows it. The first line of `help` is the summary.
struct Command {
    name: &'static str,
    help: &'static str,
}

/// The commands `lctl help` lists; keep in step with [`run_command`].
const COMMANDS: &[Command] = &[
    Command {
        name: "get_param",
        help: GET_PARAM_HELP,
    },
    Command {
        name: "set_param",
        help: SET_PARAM_HELP,
    },
    Command {
        name: "list_param",
        help: LIST_PARAM_HELP,
    },
    Command {
        name: "mdt_attach",
        help: "attach a metadata target over a mounted filesystem\n\
               usage: mdt_attach <fsname>-MDT<xxxx> MOUNTPOINT CATALOG\n\
               Records every metadata operation on the filesystem mounted at MOUNTPOINT in\n\
               the changelog catalog file CATALOG (created if missing).",
    },
    Command {
        name: "mdt_detach",
        help: "detach a metadata target\nusage: mdt_detach <fsname>-MDT<xxxx>",
    },
    Command {
        name: "mdt_list",
        help: "list attached metadata targets: name, mount point, catalog\nusage: mdt_list",
    },
    Command {
        name: "changelog_register",
        help: "register a new changelog user for a device\n\
               usage: --device <mdtname> changelog_register [-m|--mask MASK] [-u|--user NAME] [-n]",
    },
    Command {
        name: "changelog_deregister",
        help: "deregister an existing changelog user\n\
               usage: --device <mdtname> changelog_deregister <id|cl<id>[-NAME]|NAME>",
    },
    Command {
        name: "changelog_clear",
        help: "clear changelog records of a user up to ENDREC (0: all)\n\
               usage: --device <mdtname> changelog_clear <id> <endrec>",
    },
    Command {
        name: "changelog_sync",
        help: "wait until every changelog record so far is on stable storage\n\
               usage: --device <mdtname> changelog_sync",
    },
    Command {
        name: "changelog_records",
        help: "write durable changelog records from STARTREC on, in binary form, to stdout\n\
               usage: --device <mdtname> changelog_records STARTREC",
    },
    Command {
        name: "changelog_mark",
        help: "append COUNT MARK records (named TEXT) to a changelog, for tests and benchmarks\n\
               usage: --device <mdtname> changelog_mark COUNT [TEXT]",
    },
    Command {
        name: "blockdev_attach",
        help: "attach a regular file to an lloop block device (/dev/lloopN) and create DEVICE for it\n\
               usage: blockdev_attach <file_name> <device_name>\n\
               The file is opened read-write. <device_name> is made a block device node of the\n\
               lloop device (mode 0600) unless it is that device already.",
    },
    Command {
        name: "blockdev_detach",
        help: "detach the file of an lloop block device and remove DEVICE\n\
               usage: blockdev_detach <device_name>\n\
               The lloop driver's own nodes (/dev/lloop*) are not removed.",
    },
    Command {
        name: "blockdev_info",
        help: "show the file an lloop block device is attached to (its FID)\n\
               usage: blockdev_info <device_name>",
    },
    Command {
        name: "help",
        help: "show the commands, or the help of one command\nusage: help [COMMAND]",
    },
];

/// Runs the command `name` with its arguments `args` (those after the name); `None` if there is
/// no such command.
///
/// To add a command, add an arm calling its `cmd_*` function, of type
/// `fn(&mut Context, &[String]) -> CmdResult`, and its entry in [`COMMANDS`].
fn run_command(ctx: &mut Context, name: &str, args: &[String]) -> Option<CmdResult> {
    let result = match name {
        "get_param" => cmd_get_param(ctx, args),
        "set_param" => cmd_set_param(ctx, args),
        "list_param" => cmd_list_param(ctx, args),
        "help" | "--help" | "-h" => cmd_help(args),
        "mdt_attach" => cmd_mdt_attach(args),
        "mdt_detach" => cmd_mdt_detach(args),
        "mdt_list" => cmd_mdt_list(ctx, args),
        "changelog_register" => cmd_changelog_register(ctx, args),
        "changelog_deregister" => cmd_changelog_deregister(ctx, args),
        "changelog_clear" => cmd_changelog_clear(ctx, args),
        "changelog_sync" => cmd_changelog_sync(ctx, args),
        "changelog_records" => cmd_changelog_records(ctx, args),
        "changelog_mark" => cmd_changelog_mark(ctx, args),
        "blockdev_attach" => cmd_blockdev_attach(args),
        "blockdev_detach" => cmd_blockdev_detach(args),
        "blockdev_info" => cmd_blockdev_info(args),
        _ => return None,
    };
    Some(result)
}

fn main() -> ExitCode {
    let mut args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(arg) => args.push(arg),
            Err(arg) => {
                eprintln!(
                    "lctl: argument '{}' is not valid UTF-8",
                    arg.to_string_lossy()
                );
                return exit_status(Errno::EINVAL);
            }
        }
    }
    run(&args)
}

fn run(args: &[String]) -> ExitCode {
    let mut ctx = Context::new();
    let rest = match parse_global_options(&mut ctx, args) {
        Ok(rest) => rest,
        Err(message) => {
            eprintln!("lctl: {message}");
            eprint!("{}", usage());
            return exit_status(Errno::EINVAL);
        }
    };
    let Some((name, args)) = rest.split_first() else {
        eprint!("{}", usage());
        return exit_status(Errno::EINVAL);
    };
    match run_command(&mut ctx, name, args) {
        None => {
            eprintln!("lctl: unknown command '{name}' ('lctl help' lists the commands)");
            exit_status(Errno::EINVAL)
        }
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(CmdError::Failed(errno))) => exit_status(errno),
        Some(Err(CmdError::Usage(message))) => {
            if !message.is_empty() {
                eprintln!("{name}: {message}");
            }
            if let Some(command) = find_command(name) {
                eprintln!("{}", command.help);
            }
            exit_status(Errno::EINVAL)
        }
    }
}

/// Takes the global options off the front of the arguments; returns the rest (the command and
/// its arguments).
fn parse_global_options<'a>(ctx: &mut Context, args: &'a [String]) -> Result<&'a [String], String> {
    cli::global_options(&mut ctx.device, args)
}

fn exit_status(errno: Errno) -> ExitCode {
    ExitCode::from(
        u8::try_from(errno.0)
            .ok()
            .filter(|&status| status != 0)
            .unwrap_or(1),
    )
}

fn find_command(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|command| command.name == name)
}

fn usage() -> String {
    let mut text = String::from("usage: lctl [--device NAME] COMMAND [ARGS...]\ncommands:\n");
    for command in COMMANDS {
        let summary = command.help.lines().next().unwrap_or_default();
        text.push_str(&format!("  {:<12} {summary}\n", command.name));
    }
    text.push_str("'lctl help COMMAND' shows the usage of COMMAND.\n");
    text
}

/// Reports a failed control command the way lctl reports ioctl errors, and turns it into the
/// command's result.
fn control_failed(cmd: &str, e: mdt::ControlError) -> CmdError {
    match &e {
        mdt::ControlError::Open(errno) => {
            eprintln!("error: {cmd}: opening {}: {errno}", mdt::CONTROL);
            if errno.0 == libc_enoent() {
                eprintln!("error: {cmd}: is the rustre_mdt module loaded?");
            }
        }
        mdt::ControlError::Command(errno) => eprintln!("error: {cmd}: {errno}"),
    }
    CmdError::Failed(e.errno())
}

const fn libc_enoent() -> i32 {
    2
}

fn device(ctx: &Context, cmd: &str) -> Result<String, CmdError> {
    match &ctx.device {
        Some(d) if mdt::is_word(d) => Ok(d.clone()),
        Some(d) => Err(CmdError::Usage(format!("bad device name '{d}'"))),
        None => Err(CmdError::Usage(format!(
            "{cmd}: no device given: use --device <mdtname>"
        ))),
    }
}

fn words_only(cmd: &str, args: &[String]) -> Result<(), CmdError> {
    match args.iter().find(|a| !mdt::is_word(a)) {
        Some(a) => Err(CmdError::Usage(format!(
            "'{a}' contains white space ({cmd})"
        ))),
        None => Ok(()),
    }
}

fn cmd_mdt_attach(args: &[String]) -> CmdResult {
    let [name, mount, catalog] = args else {
        return Err(CmdError::Usage(String::new()));
    };
    let abs = |p: &String| -> Result<String, CmdError> {
        std::path::absolute(p)
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| CmdError::Failed(Errno::from(&e)))
    };
    let (mount, catalog) = (abs(mount)?, abs(catalog)?);
    words_only(
        "mdt_attach",
        &[name.clone(), mount.clone(), catalog.clone()],
    )?;
    mdt::control(&["attach", name, &mount, &catalog])
        .map(|_| ())
        .map_err(|e| control_failed("mdt_attach", e))
}

fn cmd_mdt_detach(args: &[String]) -> CmdResult {
    let [name] = args else {
        return Err(CmdError::Usage(String::new()));
    };
    words_only("mdt_detach", args)?;
    mdt::control(&["detach", name])
        .map(|_| ())
        .map_err(|e| control_failed("mdt_detach", e))
}

fn cmd_mdt_list(ctx: &mut Context, args: &[String]) -> CmdResult {
    if !args.is_empty() {
        return Err(CmdError::Usage(String::new()));
    }
    let reply = mdt::control(&["list"]).map_err(|e| control_failed("mdt_list", e))?;
    let roots = ctx.param_roots().clone();
    for name in String::from_utf8_lossy(&reply).lines() {
        let get = |p: &str| {
            let pattern = format!("mdd.{name}.{p}");
            param::clean_path(&pattern, false)
                .ok()
                .and_then(|p| param::find_param_paths(&roots, &p).into_iter().next())
                .and_then(|pp| std::fs::read_to_string(pp.path).ok())
                .map(|s| s.trim_end().to_owned())
                .unwrap_or_else(|| "?".to_owned())
        };
        println!("{name} {} {}", get("mount_point"), get("catalog"));
    }
    Ok(())
}

fn cmd_changelog_register(ctx: &mut Context, args: &[String]) -> CmdResult {
    let dev = device(ctx, "changelog_register")?;
    let reg = cli::Register::parse(args).map_err(CmdError::Usage)?;
    let brief = reg.brief;
    let words = reg.words(&dev);
    words_only("changelog_register", &words)?;
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let reply = mdt::control(&refs).map_err(|e| control_failed("changelog_register", e))?;
    let id = String::from_utf8_lossy(&reply).trim().to_owned();
    if brief {
        println!("{id}");
    } else {
        println!("{dev}: Registered changelog userid '{id}'");
    }
    Ok(())
}

fn cmd_changelog_deregister(ctx: &mut Context, args: &[String]) -> CmdResult {
    let dev = device(ctx, "changelog_deregister")?;
    let [id] = args else {
        return Err(CmdError::Usage(String::new()));
    };
    words_only("changelog_deregister", args)?;
    let reply = mdt::control(&["changelog_deregister", &dev, id])
        .map_err(|e| control_failed("changelog_deregister", e))?;
    println!(
        "{dev}: Deregistered changelog user #{}",
        String::from_utf8_lossy(&reply).trim()
    );
    Ok(())
}

fn cmd_changelog_clear(ctx: &mut Context, args: &[String]) -> CmdResult {
    let dev = device(ctx, "changelog_clear")?;
    let [id, endrec] = args else {
        return Err(CmdError::Usage(String::new()));
    };
    words_only("changelog_clear", args)?;
    if endrec.parse::<u64>().is_err() {
        return Err(CmdError::Usage(format!("bad endrec '{endrec}'")));
    }
    // liblustreapi drops a "-NAME" suffix of "clN-NAME".
    let id = cli::clear_user_id(id);
    match mdt::control(&["changelog_clear", &dev, id, endrec]) {
        Ok(_) => Ok(()),
        Err(mdt::ControlError::Command(e)) if e.0 == 22 => {
            eprintln!("lctl: record out of range: {endrec}: {e}");
            Err(CmdError::Failed(e))
        }
        Err(mdt::ControlError::Command(e)) if e.0 == 2 => {
            eprintln!("lctl: no changelog user: {id}: {e}");
            Err(CmdError::Failed(e))
        }
        Err(e) => Err(control_failed("changelog_clear", e)),
    }
}

fn cmd_changelog_sync(ctx: &mut Context, args: &[String]) -> CmdResult {
    let dev = device(ctx, "changelog_sync")?;
    if !args.is_empty() {
        return Err(CmdError::Usage(String::new()));
    }
    mdt::control(&["sync", &dev])
        .map(|_| ())
        .map_err(|e| control_failed("changelog_sync", e))
}

fn cmd_changelog_records(ctx: &mut Context, args: &[String]) -> CmdResult {
    let dev = device(ctx, "changelog_records")?;
    let [start] = args else {
        return Err(CmdError::Usage(String::new()));
    };
    let mut next: u64 = start
        .parse()
        .map_err(|_| CmdError::Usage(format!("bad startrec '{start}'")))?;
    let mut out = io::stdout().lock();
    loop {
        let from = next.to_string();
        let reply = mdt::control(&["records", &dev, &from])
            .map_err(|e| control_failed("changelog_records", e))?;
        if reply.is_empty() {
            return Ok(());
        }
        let (at, after) = cli::whole_records(&reply, next);
        out.write_all(&reply[..at])
            .map_err(|e| CmdError::Failed(Errno::from(&e)))?;
        if at == 0 {
            return Err(CmdError::Failed(Errno(5)));
        }
        match after {
            Some(index) => next = index,
            None => return Ok(()),
        }
    }
}

fn cmd_changelog_mark(ctx: &mut Context, args: &[String]) -> CmdResult {
    let dev = device(ctx, "changelog_mark")?;
    let (count, text) = match args {
        [c] => (c, None),
        [c, t] => (c, Some(t)),
        _ => return Err(CmdError::Usage(String::new())),
    };
    if count.parse::<u64>().is_err() {
        return Err(CmdError::Usage(format!("bad count '{count}'")));
    }
    words_only("changelog_mark", args)?;
    let mut words = vec!["mark", dev.as_str(), count.as_str()];
    if let Some(t) = text {
        words.push(t);
    }
    mdt::control(&words)
        .map(|_| ())
        .map_err(|e| control_failed("changelog_mark", e))
}

/// `--help` or `-h` as the only argument of a command that takes no options: prints the help.
fn help_asked(command: &str, args: &[String]) -> bool {
    let asked = matches!(args, [a] if a == "--help" || a == "-h");
    if asked {
        if let Some(command) = find_command(command) {
            println!("{}", command.help);
        }
    }
    asked
}

/// Reports a failed blockdev command as `lctl: COMMAND: MESSAGE`, a line each.
fn blockdev_failed(cmd: &str, failure: blockdev::Failure) -> CmdError {
    for line in failure.message.lines() {
        eprintln!("lctl: {cmd}: {line}");
    }
    CmdError::Failed(failure.errno)
}

fn cmd_blockdev_attach(args: &[String]) -> CmdResult {
    if help_asked("blockdev_attach", args) {
        return Ok(());
    }
    let [file, device] = args else {
        return Err(CmdError::Usage(String::new()));
    };
    blockdev::attach(Path::new(file), Path::new(device))
        .map_err(|f| blockdev_failed("blockdev_attach", f))
}

fn cmd_blockdev_detach(args: &[String]) -> CmdResult {
    if help_asked("blockdev_detach", args) {
        return Ok(());
    }
    let [device] = args else {
        return Err(CmdError::Usage(String::new()));
    };
    let warning =
        blockdev::detach(Path::new(device)).map_err(|f| blockdev_failed("blockdev_detach", f))?;
    if let Some(warning) = warning {
        eprintln!("lctl: blockdev_detach: warning: {warning}");
    }
    Ok(())
}

fn cmd_blockdev_info(args: &[String]) -> CmdResult {
    if help_asked("blockdev_info", args) {
        return Ok(());
    }
    let [device] = args else {
        return Err(CmdError::Usage(String::new()));
    };
    let attached =
        blockdev::info(Path::new(device)).map_err(|f| blockdev_failed("blockdev_info", f))?;
    println!("{}", blockdev::info_line(&attached));
    Ok(())
}

fn cmd_help(args: &[String]) -> CmdResult {
    match args {
        [] => print!("{}", usage()),
        [name] => match find_command(name) {
            Some(command) => println!("{}", command.help),
            None => {
                eprintln!("help: no command '{name}' ('lctl help' lists the commands)");
                return Err(CmdError::Failed(Errno::EINVAL));
            }
        },
        _ => return Err(CmdError::Usage("too many arguments".to_owned())),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// get_param, list_param, set_param
// ---------------------------------------------------------------------------------------------

const GET_PARAM_HELP: &str = "\
get the value of Lustre or LNet parameters
usage: get_param [--classify|-F] [--header|-H] [--links|-l] [--no-links|-L]
                 [--merge|-m] [--no-merge|-M] [--no-name|-n] [--only-name|-N]
                 [--path|-p] [--readable|-r] [--recursive|-R] [--tunable|-t]
                 [--writable|-w] PARAM_PATH1 [PARAM_PATH2 ...]
  PARAM_PATH is a dotted parameter name, with shell wildcards ('*', '?', '[...]', '{a,b}').
  --classify|-F    append '/' to directories, '=' to writable files
  --header|-H      prefix every line of a multi-line value with the name
  --links|-l       follow symbolic links (default)
  --no-links|-L    ignore symbolic links
  --merge|-m       show a parameter found in several places once per value (default)
  --no-merge|-M    show a parameter found in several places every time
  --no-name|-n     print values only
  --only-name|-N   print names only
  --path|-p        print paths instead of names
  --readable|-r    only readable parameters
  --recursive|-R   descend into matched directories
  --tunable|-t     only tunable parameters (no statistics)
  --writable|-w    only writable parameters";

const LIST_PARAM_HELP: &str = "\
list the names of Lustre or LNet parameters
usage: list_param [--dir-only|-D] [--classify|-F] [--links|-l] [--no-links|-L]
                  [--merge|-m] [--no-merge|-M] [--path|-p] [--readable|-r]
                  [--recursive|-R] [--tunable|-t] [--writable|-w]
                  PARAM_PATH1 [PARAM_PATH2 ...]
  --dir-only|-D    only directories
  --classify|-F    append '/' to directories, '=' to writable files
  --links|-l       follow symbolic links (default)
  --no-links|-L    ignore symbolic links
  --merge|-m       list a parameter found in several places once (default)
  --no-merge|-M    list a parameter found in several places every time
  --path|-p        print paths instead of names
  --readable|-r    only readable parameters
  --recursive|-R   list everything below matched directories
  --tunable|-t     only tunable parameters (no statistics)
  --writable|-w    only writable parameters";

const SET_PARAM_HELP: &str = "\
set the value of Lustre or LNet parameters (on this node, until reboot)
usage: set_param [--no-name|-n] PARAM_PATH1=VALUE1 [PARAM_PATH2 VALUE2 ...]
  The value is written to every parameter matching PARAM_PATH.
  --no-name|-n     do not print the parameters set
  --thread|-t[N]   accepted for compatibility; parameters are set one after the other
  --perm|-P, --client|-C, --delete|-d and --file|-F (permanent settings) are not supported.";

/// What to do after the options.
enum Next {
    Run,
    /// `--help` was given: the help has been printed.
    Done,
}

fn parse_options(args: &[String], specs: &[&[OptSpec]]) -> Result<Parsed, CmdError> {
    let specs: Vec<OptSpec> = specs
        .iter()
        .flat_map(|group| group.iter().copied())
        .collect();
    getopt::parse(args, &specs).map_err(CmdError::Usage)
}

fn unsupported(command: &str, specs: &[&[OptSpec]], letter: char) -> CmdError {
    let option = specs
        .iter()
        .flat_map(|group| group.iter())
        .find(|spec| spec.short == letter)
        .map_or_else(|| format!("-{letter}"), OptSpec::display);
    eprintln!("error: {command}: option {option} is not supported by this lctl");
    CmdError::Failed(Errno::EOPNOTSUPP)
}

/// Applies an option of get_param or list_param.
fn apply_show_option(
    command: &str,
    specs: &[&[OptSpec]],
    opts: &mut ParamOpts,
    letter: char,
    value: Option<&str>,
) -> Result<Next, CmdError> {
    match cli::apply_show_option(opts, letter, value).map_err(CmdError::Usage)? {
        OptionAction::Applied => Ok(Next::Run),
        OptionAction::Help => {
            if let Some(command) = find_command(command) {
                println!("{}", command.help);
            }
            Ok(Next::Done)
        }
        OptionAction::Unsupported => Err(unsupported(command, specs, letter)),
    }
}

fn cmd_get_param(ctx: &mut Context, args: &[String]) -> CmdResult {
    show_param_command(
        ctx,
        "get_param",
        args,
        ParamOpts::get_param(),
        &[SHOW_OPTIONS, GET_ONLY_OPTIONS],
    )
}

fn cmd_list_param(ctx: &mut Context, args: &[String]) -> CmdResult {
    show_param_command(
        ctx,
        "list_param",
        args,
        ParamOpts::list_param(),
        &[SHOW_OPTIONS, LIST_ONLY_OPTIONS],
    )
}

fn show_param_command(
    ctx: &mut Context,
    command: &str,
    args: &[String],
    mut opts: ParamOpts,
    specs: &[&[OptSpec]],
) -> CmdResult {
    let parsed = parse_options(args, specs)?;
    for (letter, value) in &parsed.options {
        if let Next::Done = apply_show_option(command, specs, &mut opts, *letter, value.as_deref())?
        {
            return Ok(());
        }
    }
    if parsed.operands.is_empty() {
        return Err(CmdError::Usage(String::new()));
    }
    let roots = ctx.param_roots();
    let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
    let result = if command == "list_param" {
        param::list_param(roots, &opts, &parsed.operands, &mut out, &mut err)
    } else {
        param::get_param(roots, &opts, &parsed.operands, &mut out, &mut err)
    };
    finish(result, &mut out)
}

fn cmd_set_param(ctx: &mut Context, args: &[String]) -> CmdResult {
    let specs: &[&[OptSpec]] = &[SET_OPTIONS];
    let parsed = parse_options(args, specs)?;
    let mut opts = ParamOpts::set_param();
    for (letter, value) in &parsed.options {
        match cli::apply_set_option(&mut opts, *letter, value.as_deref())
            .map_err(CmdError::Usage)?
        {
            OptionAction::Applied => {}
            OptionAction::Help => {
                println!("{SET_PARAM_HELP}");
                return Ok(());
            }
            OptionAction::Unsupported => return Err(unsupported("set_param", specs, *letter)),
        }
    }
    if parsed.operands.is_empty() {
        return Err(CmdError::Usage(String::new()));
    }
    let roots = ctx.param_roots();
    let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
    let result = param::set_param(roots, &opts, &parsed.operands, &mut out, &mut err);
    finish(result, &mut out)
}

/// Flushes the output of a command and turns its result into a [`CmdResult`].
fn finish(result: Result<(), Errno>, out: &mut dyn Write) -> CmdResult {
    let flushed = out.flush().map_err(Errno::from);
    result.and(flushed).map_err(CmdError::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn global_device_option() {
        let mut ctx = Context::new();
        let args = strings(&["--device", "lustre-MDT0000", "changelog_register"]);
        let rest = parse_global_options(&mut ctx, &args).map_err(|e| e.to_string());
        assert_eq!(rest, Ok(&args[2..]));
        assert_eq!(ctx.device.as_deref(), Some("lustre-MDT0000"));

        let args = strings(&["--device=7", "get_param", "-n", "x"]);
        let rest = parse_global_options(&mut ctx, &args).map_err(|e| e.to_string());
        assert_eq!(rest, Ok(&args[1..]));
        assert_eq!(ctx.device.as_deref(), Some("7"));

        assert!(parse_global_options(&mut ctx, &strings(&["--device"])).is_err());
        assert!(parse_global_options(&mut ctx, &strings(&["--bogus", "help"])).is_err());
        let args = strings(&["--help"]);
        assert_eq!(
            parse_global_options(&mut ctx, &args).map_err(|e| e.to_string()),
            Ok(&args[..])
        );
    }

    #[test]
    fn every_listed_command_is_dispatched() {
        for command in COMMANDS {
            let mut ctx = Context::new();
            // `--help` runs no filesystem operation.
            let result = run_command(&mut ctx, command.name, &strings(&["--help"]));
            assert!(result.is_some(), "{} is not dispatched", command.name);
        }
        assert!(run_command(&mut Context::new(), "no_such_command", &[]).is_none());
    }

    #[test]
    fn blockdev_commands_check_their_arguments() {
        // Wrong argument counts are usage errors, found before any system call.
        let usage = |name: &str, args: &[&str]| {
            matches!(
                run_command(&mut Context::new(), name, &strings(args)),
                Some(Err(CmdError::Usage(m))) if m.is_empty()
            )
        };
        assert!(usage("blockdev_attach", &[]));
        assert!(usage("blockdev_attach", &["file"]));
        assert!(usage("blockdev_attach", &["file", "dev", "extra"]));
        assert!(usage("blockdev_detach", &[]));
        assert!(usage("blockdev_detach", &["dev", "extra"]));
        assert!(usage("blockdev_info", &[]));
        assert!(usage("blockdev_info", &["dev", "extra"]));
        for name in ["blockdev_attach", "blockdev_detach", "blockdev_info"] {
            assert!(matches!(
                run_command(&mut Context::new(), name, &strings(&["-h"])),
                Some(Ok(()))
            ));
            let help = find_command(name).unwrap().help;
            assert!(help.contains(&format!("usage: {name} <")), "{help}");
        }
    }

    #[test]
    fn blockdev_failures_keep_their_errno() {
        let failure = blockdev::Failure {
            errno: Errno(libc::EEXIST),
            message: "a\nb".to_owned(),
        };
        let error = blockdev_failed("blockdev_attach", failure);
        assert!(matches!(error, CmdError::Failed(Errno(e)) if e == libc::EEXIST));
        // A node that is not a block device is refused with ENOTBLK, and nothing is removed.
        let dir = std::env::temp_dir().to_string_lossy().into_owned();
        let result = run_command(&mut Context::new(), "blockdev_detach", &strings(&[&dir]));
        assert!(matches!(result, Some(Err(CmdError::Failed(Errno(e)))) if e == libc::ENOTBLK));
        assert!(std::path::Path::new(&dir).is_dir());
    }

    #[test]
    fn exit_statuses() {
        assert_eq!(exit_status(Errno::ENOENT), ExitCode::from(2));
        assert_eq!(exit_status(Errno(0)), ExitCode::from(1));
        assert_eq!(exit_status(Errno(300)), ExitCode::from(1));
    }
}
