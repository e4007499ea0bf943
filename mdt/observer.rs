// SPDX-License-Identifier: GPL-2.0

//! `struct rustre_mdt_observer` (`mdt/rustre_mdt.h`): one definition for both sides of the
//! in-kernel interface, `rustre_mdt` (`mdt/api.rs`) and the modules that use it
//! (`mdt/client.rs`).

use kernel::ffi::{c_char, c_void};

/// `struct rustre_mdt_observer`: the callbacks get the table they were registered with, from
/// which the observer finds its own state.
#[repr(C)]
pub struct Observer {
    /// A target was attached; the observer owns the handle it is given; `dir` and `debug` are
    /// the target's sysfs and debugfs directories (`/sys/fs/lustre/mdt/<target>/`,
    /// `lustre/mdt/<target>/`), borrowed for the call. The observer's attribute groups and
    /// debugfs entries there must be gone by the time its `detaching` returns.
    pub attached: Option<
        unsafe extern "C" fn(
            o: *const Observer,
            t: *const c_void,
            name: *const c_char,
            dir: *mut kernel::bindings::kobject,
            debug: *mut kernel::bindings::dentry,
        ),
    >,
    /// A target without holder is about to be detached; the handle is borrowed.
    pub detaching: Option<unsafe extern "C" fn(o: *const Observer, t: *const c_void)>,
}
