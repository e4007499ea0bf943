// SPDX-License-Identifier: GPL-2.0

//! Misc character devices with a name chosen at runtime and the file operations a stream
//! device needs: `read`, `write`, `llseek`, `poll` and `unlocked_ioctl`.
//!
//! [`crate::miscdevice`] takes a `'static` name and has no `poll` or `llseek`; a device per
//! object created at runtime (one per storage target, say) needs both. A [`Registration`]
//! owns its name and registers `/dev/<name>` with the given mode. Each open file gets its own
//! state, made by [`MiscFile::open`] from the device's shared data, which is reference
//! counted: a file that stays open after the device is unregistered keeps the data alive, and
//! the fops table is static, so nothing an open file uses goes away before it is closed. The
//! owning module is pinned by every open file.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)

use crate::{
    bindings,
    error::{to_result, Error, Result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_uint, c_ulong},
    fs::File,
    module::{this_module, ModuleMetadata},
    prelude::*,
    str::CString,
    sync::{poll::PollTable, Arc},
    types::Opaque,
    uaccess::{UserPtr, UserSlice, UserSliceReader, UserSliceWriter},
};
use core::marker::PhantomData;

/// `SEEK_SET`.
pub const SEEK_SET: u32 = 0;
/// `SEEK_CUR`.
pub const SEEK_CUR: u32 = 1;

/// The operations of an open file of a [`Registration<T>`].
///
/// Only the operations an implementation defines are installed in its `file_operations`
/// (`#[vtable]`): for the others the VFS gives its own answers, as for any device without them
/// (`EINVAL` for `read` and `write`, `ESPIPE` for `lseek`, `ENOTTY` for `ioctl`, and a `poll`
/// that reports the file always ready, as for regular files).
#[vtable]
pub trait MiscFile: Sized + Send + Sync + 'static {
    /// The module whose code these are: pinned while a file is open.
    type OwnerModule: ModuleMetadata;
    /// Data shared by the device and all its open files.
    type Device: Send + Sync;

    /// Makes the state of a new open file.
    fn open(dev: &Arc<Self::Device>, file: &File) -> Result<Pin<KBox<Self>>>;

    /// Called on the last close; dropping the state is the default.
    fn release(this: Pin<KBox<Self>>, _file: &File) {
        drop(this);
    }

    /// `read()` into `buf` at `*pos`.
    fn read(
        _this: Pin<&Self>,
        _file: &File,
        _buf: &mut UserSliceWriter,
        _pos: &mut i64,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `write()` from `buf`.
    fn write(
        _this: Pin<&Self>,
        _file: &File,
        _buf: &mut UserSliceReader,
        _pos: &mut i64,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `lseek()` to `offset` from `whence` (`SEEK_*`), with `*pos` the file position: returns
    /// the new one.
    fn llseek(
        _this: Pin<&Self>,
        _file: &File,
        _pos: &mut i64,
        _offset: i64,
        _whence: u32,
    ) -> Result<i64> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `poll()`: registers waits on `table` and returns the `POLL*` mask.
    fn poll(_this: Pin<&Self>, _file: &File, _table: PollTable<'_>) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `ioctl()`.
    fn ioctl(_this: Pin<&Self>, _file: &File, _cmd: u32, _arg: usize) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `ioctl()` from a 32-bit task. Without it, a device with [`MiscFile::ioctl`] gets
    /// `compat_ptr_ioctl`, which converts the argument as a pointer: a device whose arguments
    /// are numbers must provide this.
    fn compat_ioctl(_this: Pin<&Self>, _file: &File, _cmd: u32, _arg: usize) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A registered misc device.
///
/// # Invariants
///
/// `misc` is registered with `misc_register`, its `name` points into `name` and its `fops`
/// to `Fops::<T>::FOPS`.
#[pin_data(PinnedDrop)]
pub struct Registration<T: MiscFile> {
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    name: CString,
    dev: Arc<T::Device>,
    _t: PhantomData<T>,
}

// SAFETY: The registration is only dropped (deregistered) and read; both may happen on any
// task.
unsafe impl<T: MiscFile> Send for Registration<T> {}
// SAFETY: `&Registration` only gives access to `dev`, which is `Sync`.
unsafe impl<T: MiscFile> Sync for Registration<T> {}

impl<T: MiscFile> Registration<T> {
    /// Registers `/dev/<name>` with `mode` (for example 0o600) for the device data `dev`.
    pub fn register(name: CString, mode: u16, dev: Arc<T::Device>) -> impl PinInit<Self, Error> {
        // The name's buffer is on the heap: moving the `CString` into the struct keeps it.
        let name_ptr = name.as_char_ptr();
        // `misc` last: once registered, the node can be opened, and `open` reads `dev`.
        try_pin_init!(Self {
            name,
            dev,
            _t: PhantomData,
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                // SAFETY: `slot` is valid for writes; zero is a valid `miscdevice`.
                unsafe { slot.write(bindings::miscdevice::default()) };
                // SAFETY: `slot` is initialized; `name_ptr` points into `name`, which lives as
                // long as this registration (dropped after `misc`'s drop deregisters).
                unsafe {
                    (*slot).minor = bindings::MISC_DYNAMIC_MINOR as i32;
                    (*slot).name = name_ptr;
                    (*slot).fops = &Fops::<T>::FOPS;
                    (*slot).mode = mode;
                    to_result(bindings::misc_register(slot))
                }
            }),
        })
    }

    /// The device data.
    pub fn device(&self) -> &Arc<T::Device> {
        &self.dev
    }

    /// The device name (without `/dev/`).
    pub fn name(&self) -> &CStr {
        &self.name
    }
}

#[pinned_drop]
impl<T: MiscFile> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered by the invariants. Once this returns no open can start, and one
        // in progress (they run under `misc_mtx`, as does this) has finished.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

struct Fops<T>(PhantomData<T>);

impl<T: MiscFile> Fops<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        owner: this_module::<T::OwnerModule>().as_ptr(),
        open: Some(open::<T>),
        release: Some(release::<T>),
        read: if T::HAS_READ { Some(read::<T>) } else { None },
        write: if T::HAS_WRITE { Some(write::<T>) } else { None },
        llseek: if T::HAS_LLSEEK {
            Some(llseek::<T>)
        } else {
            None
        },
        poll: if T::HAS_POLL { Some(poll::<T>) } else { None },
        unlocked_ioctl: if T::HAS_IOCTL { Some(ioctl::<T>) } else { None },
        compat_ioctl: if T::HAS_COMPAT_IOCTL {
            Some(compat_ioctl::<T>)
        } else if T::HAS_IOCTL {
            bindings::compat_ptr_ioctl
        } else {
            None
        },
        // SAFETY: All zeroes is a valid `file_operations` (no other hook).
        ..unsafe { core::mem::zeroed() }
    };
}

/// # Safety
///
/// Called by `misc_open` with `private_data` pointing to our `miscdevice`.
unsafe extern "C" fn open<T: MiscFile>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `misc_open` sets `private_data` to the registered `miscdevice`, which is the
    // `misc` field of a live `Registration<T>` (deregistration waits for us under `misc_mtx`).
    let reg = unsafe {
        let misc = (*file).private_data.cast::<bindings::miscdevice>();
        &*crate::container_of!(Opaque::cast_from(misc).cast_mut(), Registration<T>, misc)
    };
    // SAFETY: `file` is valid for the duration of the call.
    let f = unsafe { File::from_raw_file(file) };
    match T::open(&reg.dev, f) {
        Ok(state) => {
            // SAFETY: The state is unpinned only in `release`, which rebuilds the box.
            let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(state) });
            // SAFETY: `file` is valid; from now on `private_data` is our state. The position is
            // this driver's (a record index): `FMODE_ATOMIC_POS` makes `read()` and `lseek()`
            // on a shared file take `f_pos_lock`, so they do not race on it.
            unsafe {
                (*file).private_data = raw.cast();
                (*file).f_mode |= bindings::FMODE_ATOMIC_POS;
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// The state of an open file.
///
/// # Safety
///
/// `file` must be a file opened by [`open`], not yet released.
unsafe fn state<'a, T: MiscFile>(file: *mut bindings::file) -> Pin<&'a T> {
    // SAFETY: `private_data` holds the pinned `KBox<T>` stored by `open`.
    unsafe { Pin::new_unchecked(&*(*file).private_data.cast::<T>()) }
}

/// # Safety
///
/// Called by the VFS once, on the last close of a file opened by [`open`].
unsafe extern "C" fn release<T: MiscFile>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: Called once, on the last close of a file opened by `open`.
    unsafe {
        let b = KBox::from_raw((*file).private_data.cast::<T>());
        T::release(Pin::new_unchecked(b), File::from_raw_file(file));
    }
    0
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open`], with `buf` a user pointer for `count`
/// bytes and `ppos` the file position, not null (the file is not a stream).
unsafe extern "C" fn read<T: MiscFile>(
    file: *mut bindings::file,
    buf: *mut crate::ffi::c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    let mut w = UserSlice::new(UserPtr::from_ptr(buf.cast()), count).writer();
    // SAFETY: `file` is open (see `state`); `ppos` is valid for the call.
    let r = unsafe {
        T::read(
            state::<T>(file),
            File::from_raw_file(file),
            &mut w,
            &mut *ppos,
        )
    };
    match r {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open`], with `buf` a user pointer for `count`
/// bytes and `ppos` the file position, not null (the file is not a stream).
unsafe extern "C" fn write<T: MiscFile>(
    file: *mut bindings::file,
    buf: *const crate::ffi::c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    let mut r = UserSlice::new(UserPtr::from_ptr(buf.cast_mut().cast()), count).reader();
    // SAFETY: As in `read`.
    let res = unsafe {
        T::write(
            state::<T>(file),
            File::from_raw_file(file),
            &mut r,
            &mut *ppos,
        )
    };
    match res {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open`].
unsafe extern "C" fn llseek<T: MiscFile>(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: As in `read`; `f_pos` belongs to the file, and `FMODE_ATOMIC_POS` (set in
    // `open`) serializes `lseek` with `read` on it (`f_pos_lock`).
    let res = unsafe {
        let pos = &mut (*file).f_pos;
        T::llseek(
            state::<T>(file),
            File::from_raw_file(file),
            pos,
            offset,
            whence as u32,
        )
    };
    match res {
        Ok(p) => p,
        Err(e) => bindings::loff_t::from(e.to_errno()),
    }
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open`], with `table` null or valid for the call.
unsafe extern "C" fn poll<T: MiscFile>(
    file: *mut bindings::file,
    table: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: As in `read`; `table` is null or valid for the call.
    unsafe {
        T::poll(
            state::<T>(file),
            File::from_raw_file(file),
            PollTable::from_raw(table),
        )
    }
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open`].
unsafe extern "C" fn ioctl<T: MiscFile>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> isize {
    // SAFETY: As in `read`.
    let res = unsafe { T::ioctl(state::<T>(file), File::from_raw_file(file), cmd, arg) };
    match res {
        Ok(n) => n,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open`], for a 32-bit task.
unsafe extern "C" fn compat_ioctl<T: MiscFile>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> isize {
    // SAFETY: As in `read`.
    let res = unsafe { T::compat_ioctl(state::<T>(file), File::from_raw_file(file), cmd, arg) };
    match res {
        Ok(n) => n,
        Err(e) => e.to_errno() as isize,
    }
}
