// SPDX-License-Identifier: GPL-2.0

//! The HSM parameters of a target, at Lustre's names, where `lctl get_param|set_param
//! mdt.<target>.*` finds them: the values in sysfs, in the target's directory
//! `/sys/fs/lustre/mdt/<target>/` that `rustre_mdt` hands over (readable by all, writable by
//! root: 0644, or 0444), the lists several lines long (`hsm.actions`, `hsm.active_requests`,
//! `hsm.agents`, `hsm.upcall_stats`) in debugfs under `/sys/kernel/debug/lustre/mdt/<target>/`
//! (root only, read-only), as Lustre keeps them.
//!
//! | file | access | content |
//! |---|---|---|
//! | `hsm_control` | rw | `enabled`, `disabled`, `stopped`; write also `shutdown`, `purge` |
//! | `hsm/upcall_mask` | rw | ARCHIVE and/or REMOVE, any case, whitespace-separated |
//! | `hsm/upcall_path` | rw | absolute path of the upcall program, or empty |
//! | `hsm/upcall_batch` | rw | most FIDs per upcall invocation (1..4096, default 1024) |
//! | `hsm/upcall_stats` | r (debugfs) | `calls`, `fids`, `fallbacks` (FIDs sent to the coordinator) |
//! | `hsm/default_archive_id` | rw | archive for requests without one (1..2^32-1, default 1) |
//! | `hsm/max_requests` | rw | actions copytools may hold at once (1..65536, default 3) |
//! | `hsm/archive_count`, `restore_count`, `remove_count` | r | actions copytools hold |
//! | `hsm/actions` | r (debugfs) | every action of the coordinator, waiting or started |
//! | `hsm/active_requests` | r (debugfs) | the actions copytools hold |
//! | `hsm/agents` | r (debugfs) | registered copytools |
//! | `hsm/policy` | rw | `NonBlockingRestore` (`NBR`), bracketed when set: accesses to released files fail at once |
//! | `hsm/implicit_restore_timeout` | rw | seconds an access waits for its restore (1..86400, default 300) |

use core::{fmt, sync::atomic::Ordering};

use kernel::{
    debugfs::{Dir, Scope},
    prelude::*,
    sync::Arc,
    sysfs::{Attr, Group, Groups},
};

use crate::hsm::{Hsm, Item};
use crate::mask::{self, Action};
use crate::uapi;

/// What the parameter files see.
pub(crate) struct ParamData {
    pub(crate) hsm: Arc<Hsm>,
}

/// A value written to a parameter file (less than 4 KiB, Lustre's bound), less one trailing
/// newline (or NUL) as `echo` adds; `lctl set_param` writes none.
fn value(v: &[u8]) -> Result<&[u8]> {
    if v.len() >= 4096 {
        return Err(EINVAL);
    }
    Ok(match v {
        [rest @ .., b'\n' | 0] => rest,
        _ => v,
    })
}

fn parse_u32(v: &[u8], range: core::ops::RangeInclusive<u32>) -> Result<u32> {
    let s = core::str::from_utf8(v).map_err(|_| EINVAL)?;
    let n = s.trim().parse::<u32>().map_err(|_| EINVAL)?;
    if !range.contains(&n) {
        return Err(EINVAL);
    }
    Ok(n)
}

fn control_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", p.hsm.cdt.lock().control.name())
}

fn control_store(p: &ParamData, v: &[u8]) -> Result {
    let v = value(v)?;
    if v == b"help" {
        pr_info!("hsm_control: enabled | disabled | shutdown | purge\n");
        return Ok(());
    }
    p.hsm.set_control(v)
}

fn mask_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let m = p.hsm.params.lock().upcall_mask;
    mask::format_mask(m, f)?;
    writeln!(f)
}

fn mask_store(p: &ParamData, v: &[u8]) -> Result {
    let v = value(v)?;
    let m = mask::parse_upcall_mask(v).map_err(|_| EINVAL)?;
    p.hsm.params.lock().upcall_mask = m;
    Ok(())
}

fn path_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", crate::BStr(&p.hsm.params.lock().upcall_path))
}

fn path_store(p: &ParamData, v: &[u8]) -> Result {
    let v = value(v)?;
    if v.contains(&0) {
        return Err(EINVAL);
    }
    // Checked again, with the file's owner and mode, each time it is run.
    if !v.is_empty() && !v.starts_with(b"/") {
        pr_err!(
            "{}: hsm.upcall_path must be an absolute path\n",
            crate::BStr(p.hsm.name.to_bytes())
        );
        return Err(EINVAL);
    }
    let mut path = KVec::with_capacity(v.len(), GFP_KERNEL)?;
    path.extend_from_slice(v, GFP_KERNEL)?;
    p.hsm.params.lock().upcall_path = path;
    Ok(())
}

fn batch_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", p.hsm.params.lock().upcall_batch)
}

fn batch_store(p: &ParamData, v: &[u8]) -> Result {
    let n = parse_u32(value(v)?, 1..=crate::argv::MAX_BATCH)?;
    p.hsm.params.lock().upcall_batch = n;
    Ok(())
}

fn stats_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let c = &p.hsm.counters;
    writeln!(f, "calls: {}", c.upcall_calls.load(Ordering::Relaxed))?;
    writeln!(f, "fids: {}", c.upcall_fids.load(Ordering::Relaxed))?;
    writeln!(
        f,
        "fallbacks: {}",
        c.upcall_fallbacks.load(Ordering::Relaxed)
    )?;
    writeln!(f, "completed: {}", c.completed_ok.load(Ordering::Relaxed))?;
    writeln!(f, "failed: {}", c.completed_err.load(Ordering::Relaxed))
}

fn default_id_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", p.hsm.params.lock().default_archive_id)
}

fn default_id_store(p: &ParamData, v: &[u8]) -> Result {
    let n = parse_u32(value(v)?, 1..=u32::MAX)?;
    p.hsm.params.lock().default_archive_id = n;
    Ok(())
}

fn policy_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let nbr = p.hsm.params.lock().non_blocking_restore;
    mask::format_policy(if nbr { mask::POLICY_NBR } else { 0 }, f)?;
    writeln!(f)
}

fn policy_store(p: &ParamData, v: &[u8]) -> Result {
    let v = value(v)?;
    let mut params = p.hsm.params.lock();
    let cur = if params.non_blocking_restore {
        mask::POLICY_NBR
    } else {
        0
    };
    let new = mask::parse_policy(cur, v).ok_or(EINVAL)?;
    params.non_blocking_restore = new & mask::POLICY_NBR != 0;
    Ok(())
}

fn restore_timeout_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", p.hsm.params.lock().implicit_restore_timeout)
}

fn restore_timeout_store(p: &ParamData, v: &[u8]) -> Result {
    let n = parse_u32(value(v)?, 1..=86400)?;
    p.hsm.params.lock().implicit_restore_timeout = n;
    Ok(())
}

fn max_requests_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", p.hsm.params.lock().max_requests)
}

fn max_requests_store(p: &ParamData, v: &[u8]) -> Result {
    let n = parse_u32(value(v)?, 1..=65536)?;
    p.hsm.params.lock().max_requests = n;
    p.hsm.cdt_wait.notify_all();
    Ok(())
}

fn count_show(p: &ParamData, f: &mut fmt::Formatter<'_>, a: Action) -> fmt::Result {
    writeln!(f, "{}", p.hsm.cdt.lock().count_active(a))
}

fn archive_count_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    count_show(p, f, Action::Archive)
}

fn restore_count_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    count_show(p, f, Action::Restore)
}

fn remove_count_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    count_show(p, f, Action::Remove)
}

/// The fields `actions` and `active_requests` share.
fn item_fields(it: &Item, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(
        f,
        "fid={} dfid={} compound/cookie={:#x}/{:#x} action={} archive#={} flags={:#x} extent={:#x}-{:#x} gid={:#x} datalen={} data=[",
        it.fid,
        it.fid,
        it.compound,
        it.cookie,
        it.action.name(),
        it.archive_id,
        it.flags,
        0,
        u64::MAX,
        0,
        it.data.len()
    )?;
    for b in it.data.iter() {
        write!(f, "{b:02X}")?;
    }
    write!(f, "]")
}

/// Most lines `actions` prints; the rest is counted.
const ACTIONS_SHOWN: usize = 10000;

fn actions_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let cdt = p.hsm.cdt.lock();
    for it in cdt.active.iter() {
        item_fields(it, f)?;
        writeln!(
            f,
            " status={}",
            if it.started { "STARTED" } else { "WAITING" }
        )?;
    }
    for it in cdt.waiting_iter().take(ACTIONS_SHOWN) {
        item_fields(it, f)?;
        writeln!(f, " status=WAITING")?;
    }
    let more = cdt.waiting_len().saturating_sub(ACTIONS_SHOWN);
    if more > 0 {
        writeln!(f, "... {more} more waiting")?;
    }
    Ok(())
}

fn active_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let cdt = p.hsm.cdt.lock();
    for it in cdt.active.iter() {
        item_fields(it, f)?;
        writeln!(
            f,
            " canceled={} uuid=agent-{} done={}",
            u8::from(it.canceled),
            it.agent,
            0
        )?;
    }
    Ok(())
}

fn agents_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let cdt = p.hsm.cdt.lock();
    for a in cdt.agents.iter() {
        write!(f, "uuid=agent-{} archive_id=", a.id)?;
        if a.archives == 0 {
            write!(f, "ANY")?;
        } else {
            let mut sep = "";
            for id in 1..=uapi::MAX_ARCHIVES_PER_AGENT as u32 {
                if uapi::serves(a.archives, id) {
                    write!(f, "{sep}{id}")?;
                    sep = ",";
                }
            }
        }
        let current = cdt.active.iter().filter(|it| it.agent == a.id).count();
        writeln!(
            f,
            " requests=[current:{} ok:{} errors:{}]",
            current, a.done_ok, a.done_err
        )?;
    }
    Ok(())
}

/// The files in the target's sysfs directory: `hsm_control` in it, the rest in `hsm/`.
static GROUPS: [Group<ParamData>; 2] = [
    Group {
        name: None,
        attrs: &[Attr::rw(c"hsm_control", control_show, control_store)],
    },
    Group {
        name: Some(c"hsm"),
        attrs: &[
            Attr::rw(c"upcall_mask", mask_show, mask_store),
            Attr::rw(c"upcall_path", path_show, path_store),
            Attr::rw(c"upcall_batch", batch_show, batch_store),
            Attr::rw(c"default_archive_id", default_id_show, default_id_store),
            Attr::rw(c"max_requests", max_requests_show, max_requests_store),
            Attr::ro(c"archive_count", archive_count_show),
            Attr::ro(c"restore_count", restore_count_show),
            Attr::ro(c"remove_count", remove_count_show),
            Attr::rw(c"policy", policy_show, policy_store),
            Attr::rw(
                c"implicit_restore_timeout",
                restore_timeout_show,
                restore_timeout_store,
            ),
        ],
    },
];

/// A target's HSM parameters; removed (waiting for readers and writers) when dropped.
pub(crate) struct Params {
    _values: Pin<KBox<Groups<ParamData>>>,
    _lists: Pin<KBox<Scope<ParamData>>>,
}

/// Creates the HSM parameter files of a target: in its sysfs directory `dir`, and `hsm/` in
/// its debugfs directory `debug`.
pub(crate) fn create(
    dir: crate::client::TargetDir<'_>,
    debug: &Dir,
    hsm: Arc<Hsm>,
) -> Result<Params> {
    let lists = KBox::pin_init(
        debug.scope(ParamData { hsm: hsm.clone() }, c"hsm", |p, h| {
            h.read_callback_file(c"upcall_stats", p, &stats_show);
            h.read_callback_file(c"actions", p, &actions_show);
            h.read_callback_file(c"active_requests", p, &active_show);
            h.read_callback_file(c"agents", p, &agents_show);
        }),
        GFP_KERNEL,
    )?;
    // In the target's `Entry`, dropped in `detaching`.
    let values = dir.add_groups(&GROUPS, ParamData { hsm }, kernel::static_lock_class!())?;
    Ok(Params {
        _values: values,
        _lists: lists,
    })
}
