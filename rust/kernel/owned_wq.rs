// SPDX-License-Identifier: GPL-2.0

//! Workqueues a module allocates for itself.
//!
//! The kernel crate's [`Queue`] covers the system workqueues. An [`OwnedQueue`] is one made by
//! `alloc_workqueue()` with the flags a driver needs, such as `WQ_MEM_RECLAIM` for work that
//! memory reclaim may wait on (a rescuer thread guarantees progress when no worker can be
//! created), and destroyed, after its pending work has run, when it is dropped. Work is queued
//! on it as on a [`Queue`]; delayed work is not offered, as its timer could outlive the queue.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use crate::{
    alloc::{AllocError, Flags},
    bindings,
    prelude::*,
    str::CStr,
    workqueue::{Queue, RawWorkItem},
};
use core::ptr::NonNull;

/// Where the queue's work runs. Exactly one is required since the kernel warns otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On any CPU (`WQ_UNBOUND`).
    Unbound,
    /// On the CPU that queued it (`WQ_PERCPU`).
    PerCpu,
}

/// Optional behaviour of a queue, to be or-ed together.
pub mod flags {
    use crate::bindings;
    /// Guaranteed forward progress under memory pressure (`WQ_MEM_RECLAIM`).
    pub const MEM_RECLAIM: u32 = bindings::wq_flags_WQ_MEM_RECLAIM;
    /// Frozen with user space for suspend (`WQ_FREEZABLE`).
    pub const FREEZABLE: u32 = bindings::wq_flags_WQ_FREEZABLE;
    /// Served by high-priority workers (`WQ_HIGHPRI`).
    pub const HIGHPRI: u32 = bindings::wq_flags_WQ_HIGHPRI;
}

/// A workqueue this module allocated and owns.
///
/// # Invariants
///
/// `wq` is a workqueue returned by `alloc_workqueue()` and not yet destroyed.
pub struct OwnedQueue {
    wq: NonNull<bindings::workqueue_struct>,
}

// SAFETY: Workqueues may be used and destroyed from any task.
unsafe impl Send for OwnedQueue {}
// SAFETY: Queueing work on a workqueue is safe from any number of tasks at once.
unsafe impl Sync for OwnedQueue {}

impl OwnedQueue {
    /// Allocates a queue called `name` (the worker threads' name, truncated to 31 bytes) with
    /// `placement`, the [`flags`] in `extra` and at most `max_active` work items running at
    /// once (0 for the default). `EINVAL` for flags other than [`flags`].
    pub fn new(name: &CStr, placement: Placement, extra: u32, max_active: i32) -> Result<Self> {
        if extra & !(flags::MEM_RECLAIM | flags::FREEZABLE | flags::HIGHPRI) != 0 || max_active < 0
        {
            return Err(EINVAL);
        }
        let place = match placement {
            Placement::Unbound => bindings::wq_flags_WQ_UNBOUND,
            Placement::PerCpu => bindings::wq_flags_WQ_PERCPU,
        };
        // SAFETY: The format is a NUL-terminated "%s" and its one argument a NUL-terminated
        // string, which the workqueue copies into its own name.
        let wq = unsafe {
            bindings::alloc_workqueue_noprof(
                c"%s".as_char_ptr(),
                place | extra,
                max_active,
                name.as_char_ptr(),
            )
        };
        // INVARIANT: A non-null result is a new workqueue that we own.
        Ok(Self {
            wq: NonNull::new(wq).ok_or(ENOMEM)?,
        })
    }
}

impl OwnedQueue {
    /// The C workqueue, for abstractions that queue their own `work_struct`s.
    pub(crate) fn as_raw(&self) -> *mut bindings::workqueue_struct {
        self.wq.as_ptr()
    }

    fn queue(&self) -> &Queue {
        // SAFETY: The workqueue is valid until `self` is dropped, which the borrow outlives.
        unsafe { Queue::from_raw(self.wq.as_ptr()) }
    }

    /// Queues a work item, as [`Queue::enqueue`].
    ///
    /// Delayed work is not offered: its timer could fire after the queue is destroyed.
    pub fn enqueue<W, const ID: u64>(&self, w: W) -> W::EnqueueOutput
    where
        W: RawWorkItem<ID> + Send + 'static,
    {
        self.queue().enqueue(w)
    }

    /// Runs `func` as a work item, as [`Queue::try_spawn`].
    pub fn try_spawn<T: 'static + Send + FnOnce()>(
        &self,
        flags: Flags,
        func: T,
    ) -> Result<(), AllocError> {
        self.queue().try_spawn(flags, func)
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // SAFETY: We own the workqueue by the invariants; `destroy_workqueue` drains it, so no
        // work queued on it runs after this.
        unsafe { bindings::destroy_workqueue(self.wq.as_ptr()) };
    }
}
