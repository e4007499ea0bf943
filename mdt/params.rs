// SPDX-License-Identifier: GPL-2.0

//! The target's parameters, at Lustre's names, where `lctl get_param|set_param
//! mdd.<target>.<name>` finds them: the values in sysfs under `/sys/fs/lustre/mdd/<target>/`
//! (readable by all, writable by root), the user table, several lines long, in debugfs under
//! `/sys/kernel/debug/lustre/mdd/<target>/` (root only, read-only), as Lustre keeps it.
//!
//! | file | access | content |
//! |---|---|---|
//! | `changelog_mask` | rw | type names; write names, `+TYPE`, `-TYPE`, `ALL`, `DEFAULT` |
//! | `changelog_users` | r (debugfs) | Lustre's user table |
//! | `changelog_current_index` | r | last index handed out |
//! | `changelog_durable_index` | r | last index on stable storage |
//! | `changelog_size` | r | bytes of live records |
//! | `changelog_sync_interval` | rw | milliseconds between flushes (1..60000) |
//! | `changelog_sync` | w | any write returns once every record so far is durable |
//! | `changelog_dropped` | r | records lost for lack of memory |
//! | `mount_point`, `catalog` | r | what the target was attached with |
//!
//! Lustre keeps `changelog_mask` in debugfs; here it is in sysfs with the other values that
//! can be written, so that it can be set without debugfs (which lockdown closes to writes).

use core::{fmt, sync::atomic::Ordering};

use kernel::{
    debugfs::{Dir, Scope},
    prelude::*,
    str::CString,
    sync::Arc,
    sysfs::{self, Attr, Group, Groups},
};

use crate::catalog_fmt::UsersText;
use crate::changelog::Changelog;
use crate::record::MaskNames;

/// What the parameter files see.
pub(crate) struct ParamData {
    pub(crate) cl: Arc<Changelog>,
    pub(crate) mount: CString,
    pub(crate) catalog: CString,
}

/// A value written to a parameter file (at most 512 bytes), without trailing newlines or
/// NULs (`echo` adds one; `lctl set_param` none).
fn value(v: &[u8]) -> Result<&[u8]> {
    if v.len() > 512 {
        return Err(EINVAL);
    }
    let mut v = v;
    while let [rest @ .., b'\n' | 0] = v {
        v = rest;
    }
    Ok(v)
}

fn parse_u32(v: &[u8]) -> Result<u32> {
    let s = core::str::from_utf8(v).map_err(|_| EINVAL)?;
    s.trim().parse::<u32>().map_err(|_| EINVAL)
}

fn mask_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let m = p.cl.state.lock().header.mask;
    writeln!(f, "{}", MaskNames(m))
}

fn mask_store(p: &ParamData, v: &[u8]) -> Result {
    p.cl.set_mask(value(v)?)
}

fn users_show(cl: &Arc<Changelog>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let now = kernel::fsnotify::current::real_time().0;
    let st = cl.state.lock();
    let cur = Changelog::current_index(&st);
    write!(
        f,
        "{}",
        UsersText {
            header: &st.header,
            current_index: cur,
            now
        }
    )
}

fn current_index_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let cur = Changelog::current_index(&p.cl.state.lock());
    writeln!(f, "{cur}")
}

fn durable_index_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let d = p.cl.state.lock().durable_index;
    writeln!(f, "{d}")
}

fn size_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let s = Changelog::size(&p.cl.state.lock());
    writeln!(f, "{s}")
}

fn interval_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let ms = p.cl.state.lock().sync_interval_ms;
    writeln!(f, "{ms}")
}

fn interval_store(p: &ParamData, v: &[u8]) -> Result {
    let ms = parse_u32(value(v)?)?;
    if !(1..=60_000).contains(&ms) {
        return Err(EINVAL);
    }
    p.cl.set_sync_interval(ms);
    Ok(())
}

fn sync_store(p: &ParamData, v: &[u8]) -> Result {
    value(v)?;
    p.cl.sync()
}

fn dropped_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", p.cl.dropped.load(Ordering::Relaxed))
}

fn mount_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", p.mount.to_str().unwrap_or("?"))
}

fn catalog_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", p.catalog.to_str().unwrap_or("?"))
}

/// The files of `/sys/fs/lustre/mdd/<target>/`.
static GROUPS: [Group<ParamData>; 1] = [Group {
    name: None,
    attrs: &[
        Attr::rw(c"changelog_mask", mask_show, mask_store),
        Attr::ro(c"changelog_current_index", current_index_show),
        Attr::ro(c"changelog_durable_index", durable_index_show),
        Attr::ro(c"changelog_size", size_show),
        Attr::rw(c"changelog_sync_interval", interval_show, interval_store),
        Attr::wo(c"changelog_sync", sync_store),
        Attr::ro(c"changelog_dropped", dropped_show),
        Attr::ro(c"mount_point", mount_show),
        Attr::ro(c"catalog", catalog_show),
    ],
}];

/// A target's parameters; removed (waiting for readers and writers) when dropped.
pub(crate) struct Params {
    /// The values; they keep `mdd/<target>/` in sysfs, which goes with them.
    _values: Pin<KBox<Groups<ParamData>>>,
    /// `changelog_users`.
    _users: Pin<KBox<Scope<Arc<Changelog>>>>,
}

/// Creates the parameter files of target `name`: `<mdd>/<name>/` in sysfs and `<debug_mdd>/<name>/`
/// in debugfs.
pub(crate) fn create(
    mdd: &sysfs::Dir,
    debug_mdd: &Dir,
    name: &CStr,
    data: ParamData,
) -> Result<Params> {
    let users = KBox::pin_init(
        debug_mdd.scope(data.cl.clone(), name, |cl, d| {
            d.read_callback_file(c"changelog_users", cl, &users_show);
        }),
        GFP_KERNEL,
    )?;
    let dir = sysfs::Dir::new(name, mdd)?;
    let values = Groups::new(&dir, &GROUPS, data, kernel::static_lock_class!())?;
    Ok(Params {
        _values: values,
        _users: users,
    })
}
