// SPDX-License-Identifier: GPL-2.0

//! The client side of `rustre_mdt`'s in-kernel interface (`mdt/rustre_mdt.h`), compiled into
//! the modules that use it (`#[path]`): safe handles over the exported functions.

use core::ptr::NonNull;
use kernel::ffi::{c_char, c_int, c_void};

use kernel::{prelude::*, sysfs::Kobject};

#[path = "observer.rs"]
mod observer;
pub use observer::Observer;

extern "C" {
    fn rustre_mdt_observe(ops: *const Observer) -> c_int;
    fn rustre_mdt_unobserve(ops: *const Observer);
    fn rustre_mdt_ref(t: *const c_void) -> *const c_void;
    fn rustre_mdt_put(t: *const c_void);
    fn rustre_mdt_open(t: *const c_void) -> c_int;
    fn rustre_mdt_close(t: *const c_void);
    fn rustre_mdt_read(
        t: *const c_void,
        from: u64,
        buf: *mut u8,
        len: usize,
        next: *mut u64,
    ) -> isize;
    fn rustre_mdt_wait(t: *const c_void, after: u64, timeout_ms: u32) -> c_int;
    fn rustre_mdt_clear(t: *const c_void, id: *const u8, id_len: usize, endrec: u64) -> c_int;
    fn rustre_mdt_user_mask(
        t: *const c_void,
        id: u32,
        name: *const u8,
        name_len: usize,
        mask: *mut u32,
    ) -> c_int;
    fn rustre_mdt_append(t: *const c_void, rec: *const u8, len: usize) -> i64;
    fn rustre_mdt_mount(t: *const c_void, buf: *mut u8, len: usize) -> isize;
}

fn result(rc: c_int) -> Result {
    if rc < 0 {
        Err(Error::from_errno(rc))
    } else {
        Ok(())
    }
}

/// What a module does when targets come and go; an [`Observation`] calls it.
///
/// Both methods are called with `rustre_mdt`'s registry lock held (so one at a time, in the
/// order the targets come and go), from any task: they must not attach or detach a target.
///
/// `detaching` comes for every target the observer was told of: when the target is
/// detached, or when the observer is unregistered (the [`Observation`] is dropped), whichever
/// is first.
///
/// # Safety
///
/// Everything an implementation makes in the directories [`Observe::attached`] gives (sysfs
/// attribute groups on `dir`, the `debug` directory itself, a clone of it, a file, a
/// subdirectory or a scope under it) must be dropped by the time [`Observe::detaching`] for
/// that target returns: `rustre_mdt` removes the directories then, and what is left in them
/// would point at freed memory.
pub unsafe trait Observe: Sync {
    /// A target was attached (or was already, when the observer registered). `dir` and
    /// `debug` are its directories in sysfs (`/sys/fs/lustre/mdt/<target>/`) and debugfs
    /// (`lustre/mdt/<target>/`), for the observer's parameters of the target: attribute
    /// groups and entries made there must be removed in [`Observe::detaching`].
    fn attached(&self, t: Target, name: &CStr, dir: TargetDir<'_>, debug: &kernel::debugfs::Dir);
    /// The target with handle `id` (see [`Target::as_raw`]) is about to be detached; no file
    /// holds it.
    fn detaching(&self, id: *const c_void);
}

/// A target's sysfs directory, `/sys/fs/lustre/mdt/<target>/`, as [`Observe::attached`] gets
/// it: only there, so that what is made in it falls under the contract of [`Observe`].
pub struct TargetDir<'a>(&'a Kobject);

impl TargetDir<'_> {
    /// Adds attribute groups for the observer's parameters of the target (see
    /// [`kernel::sysfs::Groups::new`]); they must be dropped by the time [`Observe::detaching`]
    /// for the target returns.
    pub fn add_groups<T: Send + Sync>(
        &self,
        groups: &'static [kernel::sysfs::Group<T>],
        data: T,
        key: Pin<&'static kernel::sync::LockClassKey>,
    ) -> Result<Pin<KBox<kernel::sysfs::Groups<T>>>> {
        // SAFETY: `rustre_mdt` deletes the directory only after the observer's `detaching`
        // for the target returned, and by the contract of `Observe`, which the observer was
        // given this directory under, the groups are dropped by then.
        unsafe { kernel::sysfs::Groups::new_on(self.0, groups, data, key) }
    }
}

/// What an observer keeps for each attached target (its devices, its parameters), found by
/// the target's handle ([`Target::as_raw`]).
///
/// An entry goes in when [`Observe::attached`] has built it and comes out in
/// [`Observe::detaching`]; it is dropped after the list's lock is released, since dropping it
/// unregisters devices and parameters, which waits for their users.
#[pin_data]
pub struct PerTarget<T> {
    /// The entries with the address of their target's handle. Taken inside `rustre_mdt`'s
    /// registry lock (the observer callbacks run under it), never the other way round.
    #[pin]
    list: kernel::sync::Mutex<KVec<(usize, T)>>,
}

impl<T> PerTarget<T> {
    /// An empty list whose lock lockdep reports as `name`. All the lists of one module share
    /// one lock class (it is made once for this generic function); a module keeps one list.
    pub fn new(name: &'static CStr) -> impl PinInit<Self> {
        pin_init!(Self {
            list <- kernel::sync::Mutex::new(KVec::new(), name, kernel::static_lock_class!()),
        })
    }

    /// Adds the entry of the target with handle `id`. On failure the entry is dropped after
    /// the lock is released, as in [`Self::remove`].
    pub fn insert(&self, id: *const c_void, entry: T) -> Result {
        let mut list = self.list.lock();
        // On this error return the guard, a local, is dropped before `entry`, a parameter.
        list.reserve(1, GFP_KERNEL)?;
        if let Err(unpushed) = list.push_within_capacity((id as usize, entry)) {
            // Not reached: there is room for one more after `reserve`.
            drop(list);
            drop(unpushed);
            return Err(ENOMEM);
        }
        Ok(())
    }

    /// Whether `f` holds for any entry (called under the list's lock).
    pub fn any(&self, f: impl Fn(&T) -> bool) -> bool {
        self.list.lock().iter().any(|(_, e)| f(e))
    }

    /// Drops the entry of the target with handle `id`, if there is one, outside the lock.
    pub fn remove(&self, id: *const c_void) {
        let mut list = self.list.lock();
        let Some(i) = list.iter().position(|(raw, _)| *raw == id as usize) else {
            return;
        };
        let entry = list.remove(i);
        drop(list);
        drop(entry);
    }
}

/// An observer registered with `rustre_mdt` for as long as it exists.
///
/// It is pinned because `rustre_mdt` keeps a pointer to its `ops`, which the callbacks get
/// back and turn into the [`Observation`] that holds them.
///
/// # Invariants
///
/// `ops` is the first field and holds the trampolines of `O`; once initialised, `ops` is
/// registered with `rustre_mdt_observe` until the observation is dropped.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub struct Observation<O: Observe> {
    ops: Observer,
    #[pin]
    observer: O,
    #[pin]
    _pin: core::marker::PhantomPinned,
}

impl<O: Observe> Observation<O> {
    /// Initialises `observer` in place, then registers it: it is told of every attached
    /// target at once, and of later attaches and detaches until it is dropped.
    pub fn new(observer: impl PinInit<O, Error>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            ops: Observer {
                attached: Some(attached_trampoline::<O>),
                detaching: Some(detaching_trampoline::<O>),
            },
            observer <- observer,
            _pin: core::marker::PhantomPinned,
        }? Error)
        .pin_chain(|this| {
            // Shared from here on: the callbacks borrow it too, from the first one on.
            let this: &Self = this.into_ref().get_ref();
            // SAFETY: `this` is pinned, so `ops` stays where it is until `drop` unregisters it.
            // The pointer is made from the whole `Observation<O>` (so it may be used for all of
            // it), and `ops` is its first field in a `repr(C)` struct: the trampolines turn it
            // back into the `Observation<O>` it is.
            result(unsafe { rustre_mdt_observe(core::ptr::from_ref(this).cast::<Observer>()) })
        })
    }

    /// The observer.
    pub fn get(&self) -> &O {
        &self.observer
    }
}

#[pinned_drop]
impl<O: Observe> PinnedDrop for Observation<O> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `ops` was registered by `new` (unregistering one that is not, when
        // registration failed, is a no-op); `detaching` is called for every attached target
        // first, and no callback runs after this returns.
        unsafe { rustre_mdt_unobserve(core::ptr::from_ref(&*self).cast::<Observer>()) };
    }
}

/// # Safety
///
/// Called by `rustre_mdt` only, with the `ops` of a live [`Observation<O>`], a handle given to
/// us, a NUL-terminated name, a live kobject borrowed for the call, and a debugfs directory
/// (or `NULL`, or an error) that stays until the target's `detaching` returns.
unsafe extern "C" fn attached_trampoline<O: Observe>(
    o: *const Observer,
    t: *const c_void,
    name: *const c_char,
    dir: *mut kernel::bindings::kobject,
    debug: *mut kernel::bindings::dentry,
) {
    // SAFETY: By the function's requirements, `o` is the first field of a live
    // `Observation<O>`, `t` is ours, `name` a valid string, `dir` a live kobject, and `debug`
    // outlives what the observer makes under it (the safety contract of `Observe`).
    let (o, t, name, dir, debug) = unsafe {
        (
            &*o.cast::<Observation<O>>(),
            Target::from_raw(t),
            CStr::from_char_ptr(name),
            Kobject::from_raw(dir),
            kernel::debugfs::Dir::from_raw(debug),
        )
    };
    if let Some(t) = t {
        o.observer.attached(t, name, TargetDir(dir), &debug);
    }
}

/// # Safety
///
/// Called by `rustre_mdt` only, with the `ops` of a live [`Observation<O>`] and a borrowed
/// handle.
unsafe extern "C" fn detaching_trampoline<O: Observe>(o: *const Observer, t: *const c_void) {
    // SAFETY: By the function's requirements.
    let o = unsafe { &*o.cast::<Observation<O>>() };
    o.observer.detaching(t);
}

/// A counted handle to a metadata target.
///
/// # Invariants
///
/// `raw` is a handle from `rustre_mdt` whose reference this object owns.
pub struct Target {
    raw: NonNull<c_void>,
}

// SAFETY: Handles may be used and dropped from any task; the functions lock what they touch.
unsafe impl Send for Target {}
// SAFETY: As above.
unsafe impl Sync for Target {}

impl Target {
    /// Takes ownership of a handle given to an observer.
    ///
    /// # Safety
    ///
    /// `raw` must be a handle whose reference is given to the new object.
    pub unsafe fn from_raw(raw: *const c_void) -> Option<Self> {
        NonNull::new(raw.cast_mut()).map(|raw| Target { raw })
    }

    /// The handle, for comparisons with the one a `detaching` callback gets.
    pub fn as_raw(&self) -> *const c_void {
        self.raw.as_ptr()
    }

    /// Becomes a holder: detach fails with `EBUSY` until the [`Holder`] is dropped. `ENODEV`
    /// if the target is being detached.
    pub fn hold(&self) -> Result<Holder> {
        // SAFETY: `raw` is live by the invariants.
        result(unsafe { rustre_mdt_open(self.as_raw()) })?;
        Ok(Holder { t: self.clone() })
    }

    /// Copies whole durable records from `from` on into `buf`; returns the bytes used and the
    /// next index to ask for.
    pub fn read(&self, from: u64, buf: &mut [u8]) -> Result<(usize, u64)> {
        let mut next = from;
        // SAFETY: `raw` is live; `buf` and `next` are valid for writes.
        let n =
            unsafe { rustre_mdt_read(self.as_raw(), from, buf.as_mut_ptr(), buf.len(), &mut next) };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        // Callers slice `buf` with it: never more than it holds.
        let n = n as usize;
        if n > buf.len() {
            return Err(EIO);
        }
        Ok((n, next))
    }

    /// Waits up to `timeout_ms` for a durable record after `after`: `Ok(true)` if there is
    /// one. `ERESTARTSYS` on a signal, `ENODEV` when the target goes away.
    pub fn wait(&self, after: u64, timeout_ms: u32) -> Result<bool> {
        // SAFETY: `raw` is live by the invariants.
        let rc = unsafe { rustre_mdt_wait(self.as_raw(), after, timeout_ms) };
        result(rc).map(|()| rc > 0)
    }

    /// Clears records up to `endrec` for user `id` (`clN`, `N` or a name).
    pub fn clear(&self, id: &[u8], endrec: u64) -> Result {
        // SAFETY: `raw` is live; `id` is valid for reads.
        result(unsafe { rustre_mdt_clear(self.as_raw(), id.as_ptr(), id.len(), endrec) })
    }

    /// The record types user `id` (or, if 0, the user called `name`) wants.
    pub fn user_mask(&self, id: u32, name: &[u8]) -> Result<u32> {
        let mut mask = 0;
        // SAFETY: `raw` is live; `name` and `mask` are valid.
        result(unsafe {
            rustre_mdt_user_mask(self.as_raw(), id, name.as_ptr(), name.len(), &mut mask)
        })?;
        Ok(mask)
    }

    /// Appends a record (Lustre's binary format); returns its index, or `None` if the type is
    /// masked out or there is no changelog user.
    pub fn append(&self, rec: &[u8]) -> Result<Option<u64>> {
        // SAFETY: `raw` is live; `rec` is valid for reads.
        let rc = unsafe { rustre_mdt_append(self.as_raw(), rec.as_ptr(), rec.len()) };
        if rc < 0 {
            return Err(Error::from_errno(rc as i32));
        }
        Ok((rc > 0).then_some(rc as u64))
    }
}

impl Target {
    /// Where the target's filesystem is mounted, NUL-terminated.
    pub fn mount(&self) -> Result<kernel::str::CString> {
        let mut buf = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
        // SAFETY: `raw` is live; `buf` is valid for writes of its length.
        let n = unsafe { rustre_mdt_mount(self.as_raw(), buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        let m = CStr::from_bytes_until_nul(&buf).map_err(|_| EINVAL)?;
        kernel::str::CString::try_from(m).map_err(|_| ENOMEM)
    }
}

impl Clone for Target {
    fn clone(&self) -> Self {
        // SAFETY: `raw` is live; the new reference goes to the clone.
        let raw = unsafe { rustre_mdt_ref(self.as_raw()) };
        Target {
            raw: NonNull::new(raw.cast_mut()).unwrap_or(self.raw),
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // SAFETY: We own the reference by the invariants.
        unsafe { rustre_mdt_put(self.as_raw()) };
    }
}

/// A holder reference: the target cannot be detached while it exists.
pub struct Holder {
    t: Target,
}

impl Holder {
    /// The target held.
    pub fn target(&self) -> &Target {
        &self.t
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // SAFETY: `hold` took the holder reference that this gives back.
        unsafe { rustre_mdt_close(self.t.as_raw()) };
    }
}
