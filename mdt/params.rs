// SPDX-License-Identifier: GPL-2.0

//! The target's parameters, at Lustre's names under `/sys/kernel/debug/lustre/mdd/<target>/`,
//! where `lctl get_param mdd.<target>.<name>` finds them. debugfs is root-only, so reads and
//! writes are too.
//!
//! | file | access | content |
//! |---|---|---|
//! | `changelog_mask` | rw | type names; write names, `+TYPE`, `-TYPE`, `ALL`, `DEFAULT` |
//! | `changelog_users` | r | Lustre's user table |
//! | `changelog_current_index` | r | last index handed out |
//! | `changelog_durable_index` | r | last index on stable storage |
//! | `changelog_size` | r | bytes of live records |
//! | `changelog_sync_interval` | rw | milliseconds between flushes (1..60000) |
//! | `changelog_sync` | w | any write returns once every record so far is durable |
//! | `changelog_dropped` | r | records lost for lack of memory |
//! | `mount_point`, `catalog` | r | what the target was attached with |

use core::{fmt, sync::atomic::Ordering};

use kernel::{
    debugfs::{Dir, Scope},
    prelude::*,
    str::CString,
    sync::Arc,
    uaccess::UserSliceReader,
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

/// Reads a short value written to a parameter file, without a trailing newline.
fn read_value<'b>(r: &mut UserSliceReader, buf: &'b mut [u8; 512]) -> Result<&'b [u8]> {
    let n = r.len();
    if n > buf.len() {
        return Err(EINVAL);
    }
    r.read_slice(&mut buf[..n])?;
    let mut v = &buf[..n];
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

fn mask_store(p: &ParamData, r: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 512];
    let v = read_value(r, &mut buf)?;
    p.cl.set_mask(v)
}

fn users_show(p: &ParamData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let now = kernel::fsnotify::current::real_time().0;
    let st = p.cl.state.lock();
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

fn interval_store(p: &ParamData, r: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 512];
    let ms = parse_u32(read_value(r, &mut buf)?)?;
    if !(1..=60_000).contains(&ms) {
        return Err(EINVAL);
    }
    p.cl.set_sync_interval(ms);
    Ok(())
}

fn sync_store(p: &ParamData, r: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 512];
    let _ = read_value(r, &mut buf)?;
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

/// Creates `<mdd>/<target>/` with the parameter files; removed when the result is dropped.
pub(crate) fn create(
    mdd: &Dir,
    name: &CStr,
    data: ParamData,
) -> Result<Pin<KBox<Scope<ParamData>>>> {
    KBox::pin_init(
        mdd.scope(data, name, |p, d| {
            d.read_write_callback_file(c"changelog_mask", p, &mask_show, &mask_store);
            d.read_callback_file(c"changelog_users", p, &users_show);
            d.read_callback_file(c"changelog_current_index", p, &current_index_show);
            d.read_callback_file(c"changelog_durable_index", p, &durable_index_show);
            d.read_callback_file(c"changelog_size", p, &size_show);
            d.read_write_callback_file(
                c"changelog_sync_interval",
                p,
                &interval_show,
                &interval_store,
            );
            d.write_only_callback_file(c"changelog_sync", p, &sync_store);
            d.read_callback_file(c"changelog_dropped", p, &dropped_show);
            d.read_callback_file(c"mount_point", p, &mount_show);
            d.read_callback_file(c"catalog", p, &catalog_show);
        }),
        GFP_KERNEL,
    )
}
