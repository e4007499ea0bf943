// SPDX-License-Identifier: GPL-2.0

//! The in-kernel interface of `rustre_mdt` (`mdt/rustre_mdt.h`), for other modules.
//!
//! A target handle is an `Arc<Changelog>` turned into a raw pointer: every handle given out
//! holds a reference, which the holder returns with `rustre_mdt_put`. A handle stays valid
//! after its target is detached; calls on it then fail with `ENODEV` (or read nothing).
//! Observers learn of attaches and detaches; they are called with the registry lock held and
//! must not call back into attach or detach.

use kernel::ffi::{c_char, c_int, c_void};

use kernel::{prelude::*, sync::Arc};

use crate::changelog::Changelog;
use crate::record::Record;

pub(crate) use crate::observer::Observer;

/// A registered observer. The pointee lives in the pinned state of the observing module,
/// which unregisters it before it goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObserverPtr(pub(crate) *const Observer);

// SAFETY: The observer table is immutable and its functions may be called from any task.
unsafe impl Send for ObserverPtr {}

/// A new raw handle for `cl`.
pub(crate) fn handle(cl: &Arc<Changelog>) -> *const c_void {
    Arc::into_raw(cl.clone()).cast()
}

/// Borrows the changelog behind a handle.
///
/// # Safety
///
/// `t` must be a handle from [`handle`] whose reference has not been put.
unsafe fn cl<'a>(t: *const c_void) -> &'a Changelog {
    // SAFETY: By the function's requirements, `t` came from `Arc::into_raw` and is alive.
    unsafe { &*t.cast::<Changelog>() }
}

/// Builds a byte slice from a C pointer and length (empty for a null pointer).
///
/// # Safety
///
/// `p` must be null or valid for reads of `len` bytes for `'a`.
unsafe fn bytes<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: By the function's requirements.
    unsafe { core::slice::from_raw_parts(p, len) }
}

fn errno(e: Error) -> c_int {
    e.to_errno()
}

/// Registers an observer and reports every attached target to it.
///
/// # Safety
///
/// `ops` must point to an observer that stays valid until [`rustre_mdt_unobserve`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_observe(ops: *const Observer) -> c_int {
    match crate::observe(ObserverPtr(ops)) {
        Ok(()) => 0,
        Err(e) => errno(e),
    }
}

/// Unregisters an observer.
///
/// # Safety
///
/// `ops` must have been registered with [`rustre_mdt_observe`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_unobserve(ops: *const Observer) {
    crate::unobserve(ObserverPtr(ops));
}

/// A handle for the target called `name`, or null.
///
/// # Safety
///
/// `name` must be a NUL-terminated string.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_get(name: *const c_char) -> *const c_void {
    // SAFETY: By the function's requirements.
    let name = unsafe { CStr::from_char_ptr(name) };
    crate::lookup(name.to_bytes()).map_or(core::ptr::null(), |cl| handle(&cl))
}

/// Another reference to a handle.
///
/// # Safety
///
/// `t` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_ref(t: *const c_void) -> *const c_void {
    // SAFETY: `t` came from `Arc::into_raw` and is alive; the `ManuallyDrop` keeps its
    // reference where it is while we take a new one.
    let a = core::mem::ManuallyDrop::new(unsafe { Arc::from_raw(t.cast::<Changelog>()) });
    Arc::into_raw(Arc::clone(&a)).cast()
}

/// Drops a handle.
///
/// # Safety
///
/// `t` must be a live handle, not used after this.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_put(t: *const c_void) {
    // SAFETY: `t` came from `Arc::into_raw`; this gives its reference back.
    drop(unsafe { Arc::from_raw(t.cast::<Changelog>()) });
}

/// Becomes a holder of the target: `-ENODEV` once its detach has begun.
///
/// # Safety
///
/// `t` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_open(t: *const c_void) -> c_int {
    // SAFETY: By the function's requirements.
    match unsafe { cl(t) }.hold() {
        Ok(()) => 0,
        Err(e) => errno(e),
    }
}

/// Stops being a holder.
///
/// # Safety
///
/// `t` must be a live handle whose holder reference is given back.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_close(t: *const c_void) {
    // SAFETY: By the function's requirements.
    unsafe { cl(t) }.unhold();
}

/// Copies whole durable records from index `from` on; stores the next index in `*next`.
///
/// # Safety
///
/// `t` must be a live handle, `buf` valid for writes of `len` bytes, `next` valid for a write.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_read(
    t: *const c_void,
    from: u64,
    buf: *mut u8,
    len: usize,
    next: *mut u64,
) -> isize {
    if buf.is_null() || next.is_null() {
        return EINVAL.to_errno() as isize;
    }
    // SAFETY: By the function's requirements.
    let out = unsafe { core::slice::from_raw_parts_mut(buf, len) };
    // SAFETY: By the function's requirements.
    match unsafe { cl(t) }.read_records(from, out) {
        Ok((n, nx)) => {
            // SAFETY: By the function's requirements.
            unsafe { *next = nx };
            n as isize
        }
        Err(e) => e.to_errno() as isize,
    }
}

/// Waits until a record after `after` is durable: 1 if there is one, 0 after the timeout,
/// `-ERESTARTSYS` on a signal, `-ENODEV` once the target goes away.
///
/// # Safety
///
/// `t` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_wait(
    t: *const c_void,
    after: u64,
    timeout_ms: u32,
) -> c_int {
    // SAFETY: By the function's requirements.
    match unsafe { cl(t) }.wait_durable(after, timeout_ms) {
        Ok(true) => 1,
        Ok(false) => 0,
        Err(e) => errno(e),
    }
}

/// Clears records up to `endrec` for user `id` (`clN` or a name), with Lustre's semantics.
///
/// # Safety
///
/// `t` must be a live handle and `id` valid for reads of `id_len` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_clear(
    t: *const c_void,
    id: *const u8,
    id_len: usize,
    endrec: u64,
) -> c_int {
    // SAFETY: By the function's requirements.
    let (cl, id) = unsafe { (cl(t), bytes(id, id_len)) };
    match cl.clear(id, endrec) {
        Ok(()) => 0,
        Err(e) => errno(e),
    }
}

/// The record types a user wants, by id (non-zero) or name.
///
/// # Safety
///
/// `t` must be a live handle, `name` valid for reads of `name_len` bytes, `mask` for a write.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_user_mask(
    t: *const c_void,
    id: u32,
    name: *const u8,
    name_len: usize,
    mask: *mut u32,
) -> c_int {
    // SAFETY: By the function's requirements.
    let (cl, name) = unsafe { (cl(t), bytes(name, name_len)) };
    match cl.user_mask(id, name) {
        Ok(m) => {
            // SAFETY: By the function's requirements.
            unsafe { *mask = m };
            0
        }
        Err(e) => errno(e),
    }
}

/// Appends a record given in Lustre's binary format (its index is ignored and assigned);
/// returns the index, 0 if the type is masked out or there is no user, or `-errno`
/// (`-EOVERFLOW` if the record got an index above `i64::MAX`). May sleep until the flusher has
/// room: not for use inside filesystem operations.
///
/// # Safety
///
/// `t` must be a live handle and `rec` valid for reads of `len` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_append(
    t: *const c_void,
    rec: *const u8,
    len: usize,
) -> i64 {
    // SAFETY: By the function's requirements.
    let (cl, b) = unsafe { (cl(t), bytes(rec, len)) };
    let Ok((mut r, n)) = Record::decode(b) else {
        return i64::from(EINVAL.to_errno());
    };
    if n != len {
        return i64::from(EINVAL.to_errno());
    }
    match cl.append_wait(&mut r) {
        // An index past `i64::MAX` (a catalog's, from disk) would read as an errno.
        Ok(Some(i)) => i64::try_from(i).unwrap_or(i64::from(EOVERFLOW.to_errno())),
        Ok(None) => 0,
        Err(e) => i64::from(e.to_errno()),
    }
}

/// Copies where the target's filesystem is mounted, NUL-terminated, into `buf`; returns the
/// length without the NUL, or `-ERANGE` if `buf` is too small.
///
/// # Safety
///
/// `t` must be a live handle and `buf` valid for writes of `len` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn rustre_mdt_mount(
    t: *const c_void,
    buf: *mut u8,
    len: usize,
) -> isize {
    // SAFETY: By the function's requirements.
    let m = unsafe { cl(t) }.mount.to_bytes_with_nul();
    if buf.is_null() || len < m.len() {
        return ERANGE.to_errno() as isize;
    }
    // SAFETY: By the function's requirements, `buf` holds at least `m.len()` bytes.
    unsafe { core::ptr::copy_nonoverlapping(m.as_ptr(), buf, m.len()) };
    (m.len() - 1) as isize
}
