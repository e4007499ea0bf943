// SPDX-License-Identifier: GPL-2.0

//! sysfs directories and attributes.
//!
//! A [`Dir`] is a directory of its own in sysfs (a kobject made with
//! `kobject_create_and_add()`), in `/sys/fs` ([`Dir::new_in_fs`]) or in another [`Dir`].
//! [`Groups`] puts typed attributes in a directory: each [`Attr`] names a file and the
//! functions that show and store its value, which see the data the groups were made with.
//! [`Groups::new_on`] does the same on a kobject another module owns and hands over (a
//! directory of the same kind), under that module's promise to keep it in sysfs for as long.
//!
//! Removal waits for the callbacks: dropping [`Groups`] removes its files with
//! `sysfs_remove_groups()`, which returns once no `show` or `store` of them runs and none can
//! start (kernfs drains each file's active references); only then is the data dropped. A
//! callback must therefore not wait for anything that holds up the groups' drop, or the two
//! deadlock (lockdep knows each file as a lock of the class given to [`Groups::new`]).
//! [`Groups`] keep their [`Dir`] in sysfs: it is removed when both are gone.
//!
//! Modes follow from the callbacks: readable by all with a `show`, writable by the owner
//! (root) with a `store`, as sysfs asks of attributes.
//!
//! C headers: [`include/linux/kobject.h`](srctree/include/linux/kobject.h),
//! [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h)

use crate::{
    bindings,
    error::{to_result, Result},
    ffi::c_char,
    prelude::*,
    str::CStr,
    sync::{
        aref::{ARef, AlwaysRefCounted},
        Arc, LockClassKey,
    },
    types::Opaque,
};
use core::{fmt, marker::PhantomPinned, pin::Pin, ptr::NonNull};

/// A kernel object, as far as sysfs is concerned: a directory.
///
/// # Invariants
///
/// The object is a live, initialised kobject; its reference count is what keeps it alive.
#[repr(transparent)]
pub struct Kobject(Opaque<bindings::kobject>);

// SAFETY: A kobject's reference count and its sysfs directory may be used from any task.
unsafe impl Send for Kobject {}
// SAFETY: As above; nothing here changes a kobject other than through its reference count.
unsafe impl Sync for Kobject {}

// SAFETY: `kobject_get` and `kobject_put` keep the object alive while the count is not zero.
// Dropping the last reference may sleep (the object's release runs): not from atomic context.
unsafe impl AlwaysRefCounted for Kobject {
    fn inc_ref(&self) {
        // SAFETY: By the type invariants the kobject is live.
        unsafe { bindings::kobject_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: By the caller, `obj` holds a reference, which it gives up here.
        unsafe { bindings::kobject_put(obj.cast().as_ptr()) };
    }
}

impl Kobject {
    /// Borrows a kobject.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live kobject that stays alive for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::kobject) -> &'a Kobject {
        // SAFETY: By the caller; `Kobject` is a transparent wrapper of the C struct.
        unsafe { &*ptr.cast() }
    }

    /// The C kobject.
    pub fn as_raw(&self) -> *mut bindings::kobject {
        self.0.get()
    }

    /// Whether the kobject's directory takes `struct kobj_attribute` files, the kind
    /// [`Groups`] makes (`kobj_sysfs_ops`, as directories made by `kobject_create_and_add()`).
    fn takes_kobj_attributes(&self) -> bool {
        // SAFETY: By the type invariants the kobject is live and initialised, so its `ktype`
        // is set and lives at least as long.
        unsafe {
            let ktype = (*self.as_raw()).ktype;
            !ktype.is_null()
                && core::ptr::eq((*ktype).sysfs_ops, &raw const bindings::kobj_sysfs_ops)
        }
    }
}

/// A directory in sysfs, removed (with what is still in it) at the last drop of it and of the
/// [`Groups`] in it.
///
/// # Invariants
///
/// `kobj` was added to sysfs by `kobject_create_and_add()` and is deleted only in `drop`.
struct DirInner {
    kobj: ARef<Kobject>,
}

impl Drop for DirInner {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the kobject is in sysfs and deleted once, here; this
        // waits for the callbacks of attributes still in it. The reference is dropped after.
        unsafe { bindings::kobject_del(self.kobj.as_raw()) };
    }
}

/// A directory of its own in sysfs.
pub struct Dir {
    inner: Arc<DirInner>,
}

impl Dir {
    /// Makes directory `name` in `/sys/fs`, where filesystems keep their parameters.
    pub fn new_in_fs(name: &CStr) -> Result<Self> {
        // SAFETY: `fs_kobj` is set once at boot, before any module runs, and is never freed
        // or deleted (it is NULL if making it failed then).
        let fs = unsafe { bindings::fs_kobj };
        if fs.is_null() {
            return Err(ENOENT);
        }
        // SAFETY: As above, `fs` is live and in sysfs for as long as the kernel runs.
        unsafe { Self::create(name, fs) }
    }

    /// Makes directory `name` in `parent`.
    pub fn new(name: &CStr, parent: &Dir) -> Result<Self> {
        // SAFETY: By the type invariants of `DirInner`, `parent` is in sysfs for as long as it
        // is borrowed.
        unsafe { Self::create(name, parent.kobject().as_raw()) }
    }

    /// `EEXIST` if there is a directory or file by that name (the kernel logs which),
    /// `ENOMEM` if memory ran short.
    ///
    /// # Safety
    ///
    /// `parent` must be a live kobject in sysfs, and stay so during the call.
    unsafe fn create(name: &CStr, parent: *mut bindings::kobject) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string (copied by the call) and `parent` a live
        // kobject (by the caller).
        let raw = unsafe { bindings::kobject_create_and_add(name.as_char_ptr(), parent) };
        let Some(raw) = NonNull::new(raw) else {
            // NULL for every failure: tell a name in use from a lack of memory.
            // SAFETY: By the caller, `parent` is in sysfs, so its `sd` is its live directory;
            // the lookup takes a reference to what it finds, dropped at once.
            let dup = unsafe {
                bindings::kernfs_find_and_get_ns(
                    (*parent).sd,
                    name.as_char_ptr(),
                    core::ptr::null(),
                )
            };
            if dup.is_null() {
                return Err(ENOMEM);
            }
            // SAFETY: The lookup returned a counted node.
            unsafe { bindings::kernfs_put(dup) };
            return Err(EEXIST);
        };
        // SAFETY: `kobject_create_and_add` returned a live kobject, added to sysfs, with a
        // reference that is now ours.
        let kobj = unsafe { ARef::from_raw(raw.cast()) };
        // INVARIANT: Added above; `DirInner::drop` deletes it.
        let inner = Arc::new(DirInner { kobj }, GFP_KERNEL)?;
        Ok(Self { inner })
    }

    /// The directory's kobject.
    pub fn kobject(&self) -> &Kobject {
        &self.inner.kobj
    }
}

/// An attribute: a file of [`Groups`] and what reading and writing it does.
pub struct Attr<T: 'static> {
    name: &'static CStr,
    show: Option<fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result>,
    store: Option<fn(&T, &[u8]) -> Result>,
}

impl<T> Attr<T> {
    /// A read-only attribute (mode 0444): `show` writes its value.
    pub const fn ro(
        name: &'static CStr,
        show: fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result,
    ) -> Self {
        Self {
            name,
            show: Some(show),
            store: None,
        }
    }

    /// A read-write attribute (mode 0644): `store` gets the bytes written, as they were
    /// written (with `echo`'s newline, say), at least one and at most a page of them.
    pub const fn rw(
        name: &'static CStr,
        show: fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result,
        store: fn(&T, &[u8]) -> Result,
    ) -> Self {
        Self {
            name,
            show: Some(show),
            store: Some(store),
        }
    }

    /// A write-only attribute (mode 0200).
    pub const fn wo(name: &'static CStr, store: fn(&T, &[u8]) -> Result) -> Self {
        Self {
            name,
            show: None,
            store: Some(store),
        }
    }

    fn mode(&self) -> u16 {
        let r = if self.show.is_some() { 0o444 } else { 0 };
        let w = if self.store.is_some() { 0o200 } else { 0 };
        r | w
    }
}

/// A group of attributes: in the kobject's own directory (`name` `None`), or in a
/// subdirectory of it by that name.
pub struct Group<T: 'static> {
    /// The subdirectory, if any.
    pub name: Option<&'static CStr>,
    /// The files.
    pub attrs: &'static [Attr<T>],
}

/// One attribute as sysfs sees it, and what its callbacks need.
///
/// `repr(C)` with the C attribute first: the callbacks get a pointer to it.
#[repr(C)]
struct Slot<T: 'static> {
    kattr: Opaque<bindings::kobj_attribute>,
    attr: &'static Attr<T>,
    data: *const T,
}

/// Attribute groups on a kobject, with the data their callbacks see; the files are removed
/// when it is dropped (waiting for running callbacks), and the data dropped after.
///
/// # Invariants
///
/// While `registered`, `kobj` is in sysfs and takes `kobj_attribute` files, `ptrs`
/// (null-terminated) points at the filled `groups`, whose attribute lists point into `lists`
/// and `slots`, and every slot's `data` points at `data`; none of them moves or changes (the
/// struct is pinned, and the vectors are not touched).
#[pin_data(PinnedDrop)]
pub struct Groups<T: 'static> {
    kobj: ARef<Kobject>,
    /// The directory `kobj` is, when it is ours: kept in sysfs while the groups are there.
    dir: Option<Arc<DirInner>>,
    data: T,
    slots: KVec<Slot<T>>,
    lists: KVec<*mut bindings::attribute>,
    groups: KVec<Opaque<bindings::attribute_group>>,
    ptrs: KVec<*const bindings::attribute_group>,
    registered: bool,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: The raw pointers point into the struct itself; `T` is shared with callbacks that
// may run on any task, hence the bounds.
unsafe impl<T: Send + Sync> Send for Groups<T> {}
// SAFETY: As above; `&Groups` gives nothing but `&T`.
unsafe impl<T: Send + Sync> Sync for Groups<T> {}

impl<T: Send + Sync> Groups<T> {
    /// Adds `groups` to `dir`, with `data` for their callbacks. `key` is the lock class
    /// lockdep gives the files (`kernel::static_lock_class!()`, one per kind of groups).
    ///
    /// `EEXIST` if a file or subdirectory by one of the names is there already.
    pub fn new(
        dir: &Dir,
        groups: &'static [Group<T>],
        data: T,
        key: Pin<&'static LockClassKey>,
    ) -> Result<Pin<KBox<Self>>> {
        // SAFETY: `dir.inner`, kept by the groups, keeps the directory in sysfs; directories
        // made by `kobject_create_and_add()` take `kobj_attribute` files.
        unsafe { Self::make(dir.kobject(), Some(dir.inner.clone()), groups, data, key) }
    }

    /// Adds `groups` to a kobject another module owns, as [`Groups::new`] does to a [`Dir`];
    /// `EINVAL` if its directory does not take `struct kobj_attribute` files (`kobj_sysfs_ops`).
    ///
    /// # Safety
    ///
    /// `kobj` must stay in sysfs (not be deleted) until the returned groups are dropped.
    pub unsafe fn new_on(
        kobj: &Kobject,
        groups: &'static [Group<T>],
        data: T,
        key: Pin<&'static LockClassKey>,
    ) -> Result<Pin<KBox<Self>>> {
        // SAFETY: By the caller.
        unsafe { Self::make(kobj, None, groups, data, key) }
    }

    /// # Safety
    ///
    /// `kobj` must stay in sysfs until the returned groups are dropped.
    unsafe fn make(
        kobj: &Kobject,
        dir: Option<Arc<DirInner>>,
        groups: &'static [Group<T>],
        data: T,
        key: Pin<&'static LockClassKey>,
    ) -> Result<Pin<KBox<Self>>> {
        if !kobj.takes_kobj_attributes() {
            return Err(EINVAL);
        }
        let nattrs: usize = groups.iter().map(|g| g.attrs.len()).sum();
        let mut slots = KVec::with_capacity(nattrs, GFP_KERNEL)?;
        let lists = KVec::with_capacity(nattrs + groups.len(), GFP_KERNEL)?;
        let mut cgroups = KVec::with_capacity(groups.len(), GFP_KERNEL)?;
        let ptrs = KVec::with_capacity(groups.len() + 1, GFP_KERNEL)?;
        for a in groups.iter().flat_map(|g| g.attrs) {
            slots.push(
                Slot {
                    kattr: Opaque::zeroed(),
                    attr: a,
                    data: core::ptr::null(),
                },
                GFP_KERNEL,
            )?;
        }
        for _ in groups {
            cgroups.push(Opaque::zeroed(), GFP_KERNEL)?;
        }
        let mut this = KBox::pin(
            Groups {
                kobj: kobj.into(),
                dir,
                data,
                slots,
                lists,
                groups: cgroups,
                ptrs,
                registered: false,
                _pin: PhantomPinned,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: Nothing is registered yet; the fields are filled in place and never moved.
        let s = unsafe { this.as_mut().get_unchecked_mut() };
        let data: *const T = &s.data;
        for sl in s.slots.iter_mut() {
            sl.data = data;
        }
        // From here on the slots and groups are reached through these pointers only.
        let slots = s.slots.as_mut_ptr();
        let nslots = s.slots.len();
        let cgroups = s.groups.as_mut_ptr();
        let mut slot = 0;
        for (gi, g) in groups.iter().enumerate() {
            let first = s.lists.len();
            for a in g.attrs {
                if slot >= nslots {
                    return Err(EINVAL);
                }
                // SAFETY: `slot` is in bounds (checked); the slot is our zeroed, pinned
                // attribute, not visible to sysfs yet; the name and key are static; `lists`
                // has the capacity reserved above, so pushing does not move it.
                unsafe {
                    let k = (*slots.add(slot)).kattr.get();
                    (*k).attr.name = a.name.as_char_ptr();
                    (*k).attr.mode = a.mode();
                    #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
                    {
                        (*k).attr.key = key.as_ptr();
                    }
                    if a.show.is_some() {
                        (*k).__bindgen_anon_1.show = Some(show::<T>);
                    }
                    if a.store.is_some() {
                        (*k).__bindgen_anon_2.store = Some(store::<T>);
                    }
                    s.lists.push(&raw mut (*k).attr, GFP_KERNEL)?;
                }
                slot += 1;
            }
            s.lists.push(core::ptr::null_mut(), GFP_KERNEL)?;
            if gi >= groups.len() {
                return Err(EINVAL);
            }
            // SAFETY: `gi` is in bounds of `cgroups` (one per group, checked); the group is
            // ours, zeroed and not visible yet; `lists` does not move (above).
            let cg = unsafe {
                let cg = (*cgroups.add(gi)).get();
                (*cg).name = g.name.map_or(core::ptr::null(), |n| n.as_char_ptr());
                (*cg).__bindgen_anon_2.attrs = s.lists.as_mut_ptr().add(first);
                cg
            };
            s.ptrs.push(cg.cast_const(), GFP_KERNEL)?;
        }
        s.ptrs.push(core::ptr::null(), GFP_KERNEL)?;
        #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
        let _ = key;
        // SAFETY: The kobject is live (we hold a reference) and in sysfs (by the caller), and
        // the groups are filled; they stay put until `sysfs_remove_groups` in `drop`. On
        // failure the call removes what it added.
        to_result(unsafe { bindings::sysfs_create_groups(s.kobj.as_raw(), s.ptrs.as_ptr()) })?;
        // INVARIANT: Registered with everything filled above, on a kobject that takes these
        // files (checked) and stays in sysfs (by the caller).
        s.registered = true;
        Ok(this)
    }

    /// The data the callbacks see.
    pub fn data(&self) -> &T {
        &self.data
    }
}

#[pinned_drop]
impl<T: 'static> PinnedDrop for Groups<T> {
    fn drop(self: Pin<&mut Self>) {
        if self.registered {
            // SAFETY: By the type invariants the groups are registered on `kobj`, which is in
            // sysfs, as `ptrs` says. This returns once no callback runs or can start.
            unsafe { bindings::sysfs_remove_groups(self.kobj.as_raw(), self.ptrs.as_ptr()) };
        }
        // `dir`, if ours, is dropped after this, with the other fields.
    }
}

/// Writes a value into a sysfs page: at most `PAGE_SIZE - 1` bytes, as `sysfs_emit()`; what
/// does not fit is cut.
struct PageWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// Something did not fit.
    cut: bool,
}

impl fmt::Write for PageWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len().saturating_sub(1).saturating_sub(self.len);
        let n = s.len().min(room);
        let src = s.as_bytes().get(..n).ok_or(fmt::Error)?;
        let end = self.len.checked_add(n).ok_or(fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(src);
        self.len = end;
        if n < s.len() {
            self.cut = true;
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// Calls a `show` function as a `Display`.
struct Shown<'a, T>(&'a T, fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result);

impl<T> fmt::Display for Shown<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.1)(self.0, f)
    }
}

/// The slot of an attribute of ours.
///
/// # Safety
///
/// `kattr` must be the attribute of a [`Slot`] of registered [`Groups`]: sysfs calls the
/// callbacks only for files of live groups, whose removal waits for them.
unsafe fn slot<'a, T: 'static>(kattr: *mut bindings::kobj_attribute) -> (&'a Slot<T>, &'a T) {
    // SAFETY: By the caller; `Slot` is `repr(C)` with the attribute first, and its `data`
    // points at the groups' data (type invariants of `Groups`).
    unsafe {
        let s = &*kattr.cast::<Slot<T>>();
        (s, &*s.data)
    }
}

/// `show` of our attributes.
///
/// # Safety
///
/// Called by sysfs for a file of registered [`Groups`], with a page-sized buffer.
unsafe extern "C" fn show<T: 'static>(
    _kobj: *mut bindings::kobject,
    kattr: *mut bindings::kobj_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: By the caller.
    let (s, data) = unsafe { slot::<T>(kattr) };
    let Some(f) = s.attr.show else {
        return EIO.to_errno() as isize;
    };
    // SAFETY: sysfs hands a page of its own to `show`.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), crate::page::PAGE_SIZE) };
    let mut w = PageWriter {
        buf: page,
        len: 0,
        cut: false,
    };
    // A value cut at the end of the page is shown cut, as `sysfs_emit()` does; any other
    // error of the `show` function is a read error.
    if fmt::write(&mut w, format_args!("{}", Shown(data, f))).is_err() && !w.cut {
        return EIO.to_errno() as isize;
    }
    w.len as isize
}

/// `store` of our attributes.
///
/// # Safety
///
/// Called by sysfs for a file of registered [`Groups`], with `count` bytes at `buf`.
unsafe extern "C" fn store<T: 'static>(
    _kobj: *mut bindings::kobject,
    kattr: *mut bindings::kobj_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: By the caller.
    let (s, data) = unsafe { slot::<T>(kattr) };
    let Some(f) = s.attr.store else {
        return EIO.to_errno() as isize;
    };
    // SAFETY: By the caller, `buf` holds `count` bytes.
    let v = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    match f(data, v) {
        Ok(()) => isize::try_from(count).unwrap_or(isize::MAX),
        Err(e) => e.to_errno() as isize,
    }
}
