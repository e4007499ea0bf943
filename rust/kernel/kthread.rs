// SPDX-License-Identifier: GPL-2.0

//! Kernel threads.
//!
//! A [`KThread`] runs a closure on a new kernel thread and stops that thread when it is
//! dropped, so no thread outlives the object that started it.
//!
//! C header: [`include/linux/kthread.h`](srctree/include/linux/kthread.h)

use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::{from_err_ptr, Result},
    ffi::{c_int, c_void},
    prelude::*,
};
use core::{fmt, ptr::NonNull};

/// A running kernel thread, stopped and reaped when dropped.
///
/// The closure given to [`KThread::run`] runs on the new thread. Long-running closures poll
/// [`should_stop`] and return once it is true. `kthread_stop()` (on drop) also sets
/// `TIF_NOTIFY_SIGNAL` on the thread, so its interruptible sleeps (a
/// [`CondVar`](crate::sync::CondVar) wait, a blocking pipe write) return at once from then on:
/// a closure that sleeps interruptibly and checks [`should_stop`] after each wake-up cannot
/// miss the stop. Uninterruptible sleeps must be ended by their owner.
///
/// # Invariants
///
/// - `task` is a kernel thread created by `kthread_create_on_node()`, and this object owns one
///   reference to its `task_struct`.
/// - `data` is the `KBox<F>` that was handed to the thread, and `drop_data` is
///   `drop_closure::<F>` for that same `F`. The thread takes ownership of `data` if and only if
///   its function is called.
pub struct KThread {
    task: NonNull<bindings::task_struct>,
    data: *mut c_void,
    drop_data: unsafe fn(*mut c_void),
}

// SAFETY: A `KThread` is only a handle: stopping the thread and dropping the task reference
// may be done from any thread. The closure itself is `Send`.
unsafe impl Send for KThread {}

// SAFETY: `KThread` has no methods taking `&self` that touch the thread.
unsafe impl Sync for KThread {}

/// Called on the new thread: takes ownership of the closure and runs it.
///
/// # Safety
///
/// `data` must come from `KBox::<F>::into_raw` and must not be used by anyone else afterwards.
unsafe extern "C" fn trampoline<F: FnOnce() + Send + 'static>(data: *mut c_void) -> c_int {
    // SAFETY: By the safety requirements of this function, we own the box.
    let f = unsafe { KBox::from_raw(data.cast::<F>()) };
    KBox::into_inner(f)();
    // Never `-EINTR`: `KThread::drop` reads that value as "the function never ran".
    0
}

/// Frees a closure that never ran.
///
/// # Safety
///
/// `data` must come from `KBox::<F>::into_raw` and must not be used by anyone else afterwards.
unsafe fn drop_closure<F>(data: *mut c_void) {
    // SAFETY: By the safety requirements of this function, we own the box.
    drop(unsafe { KBox::from_raw(data.cast::<F>()) });
}

impl KThread {
    /// Starts a kernel thread named `name` that runs `f`.
    ///
    /// The name is truncated by the kernel to 15 bytes (`TASK_COMM_LEN - 1`).
    pub fn run<F>(name: fmt::Arguments<'_>, f: F) -> Result<Self>
    where
        F: FnOnce() + Send + 'static,
    {
        let data = KBox::into_raw(KBox::new(f, GFP_KERNEL)?).cast::<c_void>();

        // SAFETY: `trampoline::<F>` matches `data`, which stays valid until the thread or our
        // error path below frees it. The format string is NUL-terminated and `%pA` takes a
        // `fmt::Arguments`, which outlives the call.
        let task = unsafe {
            bindings::kthread_create_on_node(
                Some(trampoline::<F>),
                data,
                bindings::NUMA_NO_NODE,
                c"%pA".as_char_ptr(),
                core::ptr::from_ref(&name).cast::<c_void>(),
            )
        };
        let task = match from_err_ptr(task) {
            Ok(task) => task,
            Err(e) => {
                // SAFETY: The thread was not created (or exits without calling its function),
                // so the closure is still ours.
                unsafe { drop_closure::<F>(data) };
                return Err(e);
            }
        };
        // SAFETY: `kthread_create_on_node` succeeded, so `task` is a valid, not yet running
        // task; we take a reference for ourselves before it can run and exit.
        unsafe { bindings::get_task_struct(task) };
        // SAFETY: `task` is valid, we hold a reference.
        unsafe { bindings::wake_up_process(task) };

        // INVARIANT: `task` is a kthread and we hold a reference; `data` and `drop_data` match.
        Ok(Self {
            // SAFETY: `from_err_ptr` returned a valid, hence non-null, pointer.
            task: unsafe { NonNull::new_unchecked(task) },
            data,
            drop_data: drop_closure::<F>,
        })
    }
}

impl Drop for KThread {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `task` is a kthread we hold a reference to, which
        // `kthread_stop_put` consumes. It waits for the thread function to return.
        let ret = unsafe { bindings::kthread_stop_put(self.task.as_ptr()) };
        if ret == -(bindings::EINTR as c_int) {
            // The thread was stopped before its function ran, so the closure was never taken
            // (`trampoline` never returns `-EINTR`).
            // SAFETY: By the type invariants `drop_data` matches `data`, which nobody else owns.
            unsafe { (self.drop_data)(self.data) };
        }
    }
}

/// Returns whether the current kernel thread has been asked to stop.
///
/// Only meaningful on a thread started by [`KThread::run`].
pub fn should_stop() -> bool {
    // SAFETY: `kthread_should_stop` may be called from any kernel thread.
    unsafe { bindings::kthread_should_stop() }
}
