// SPDX-License-Identifier: GPL-2.0

//! Allocation scopes: `PF_*` flags that change how the current task's allocations and
//! writeback behave, for as long as a scope lives.
//!
//! [`NoIoScope`] marks a section in which every allocation of the current task behaves as
//! `GFP_NOIO`, as a block driver's worker must; [`ReserveScope`] one whose allocations may use
//! the memory reserves, for I/O that frees memory; [`LocalThrottleScope`] one in which the
//! task is throttled on its own writeback only. Each sets its flag with
//! `memalloc_flags_save()` and restores it when dropped; they nest.
//!
//! C header: [`include/linux/sched/mm.h`](srctree/include/linux/sched/mm.h)

use crate::{bindings, ffi::c_uint, types::NotThreadSafe};

/// `PF_*` flags set on the current task for a scope (`memalloc_flags_save()`), cleared again
/// on drop unless they were set before.
///
/// # Invariants
///
/// `saved` is the value `memalloc_flags_save()` returned on this task, restored on drop.
struct TaskFlagsScope {
    saved: c_uint,
    _not_send: NotThreadSafe,
}

impl TaskFlagsScope {
    fn enter(flags: c_uint) -> Self {
        // SAFETY: Sets flags of the running task, always allowed from task context; undone
        // in `drop` on the same task (the type is not `Send`).
        let saved = unsafe { bindings::rustre_memalloc_flags_save(flags) };
        // INVARIANT: `saved` came from `memalloc_flags_save()` on this task.
        Self {
            saved,
            _not_send: NotThreadSafe,
        }
    }
}

impl Drop for TaskFlagsScope {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `saved` came from `memalloc_flags_save()` on this
        // task (the type is not `Send`). Scopes that end out of the order they began clear a
        // flag early (the scope that set it, ending first, clears it while a later one still
        // lives), which is not unsafe, only a weaker scope: keep them locals.
        unsafe { bindings::rustre_memalloc_flags_restore(self.saved) };
    }
}

/// A section in which the current task's allocations do not start I/O
/// (`memalloc_noio_save()`, `PF_MEMALLOC_NOIO`), ended when dropped.
///
/// While it lives, every allocation made by this task, `GFP_KERNEL` ones included, is treated
/// as `GFP_NOIO` by the page allocator. Scopes nest. It cannot be sent to another task.
pub struct NoIoScope {
    _scope: TaskFlagsScope,
}

impl NoIoScope {
    /// Enters a no-I/O allocation section on the current task.
    pub fn enter() -> Self {
        Self {
            _scope: TaskFlagsScope::enter(bindings::PF_MEMALLOC_NOIO),
        }
    }
}

/// A scope in which the current task's allocations may use the memory reserves and do not
/// reclaim (`memalloc_noreclaim_save()`, `PF_MEMALLOC`), ended when dropped.
///
/// For I/O that frees memory when it completes. Allocations in the scope fail rather than
/// wait once the reserves are gone, so it must only cover work whose allocations are small
/// and bounded. Scopes nest. It cannot be sent to another task.
pub struct ReserveScope {
    _scope: TaskFlagsScope,
}

impl ReserveScope {
    /// Enters a section with access to the memory reserves on the current task.
    pub fn enter() -> Self {
        Self {
            _scope: TaskFlagsScope::enter(bindings::PF_MEMALLOC),
        }
    }
}

/// A scope in which the current task is throttled on its own writeback only
/// (`PF_LOCAL_THROTTLE`), ended when dropped: for a task that writes pages back on behalf of
/// others (a block device over a file, as the loop driver's worker), so that dirty pages of
/// the filesystems above it do not throttle the writeback that would clean them. Scopes nest.
/// It cannot be sent to another task.
pub struct LocalThrottleScope {
    _scope: TaskFlagsScope,
}

impl LocalThrottleScope {
    /// Enters a locally throttled section on the current task.
    pub fn enter() -> Self {
        Self {
            _scope: TaskFlagsScope::enter(bindings::PF_LOCAL_THROTTLE),
        }
    }
}

/// Returns whether allocations of the current task are currently restricted to no I/O.
pub fn noio_active() -> bool {
    // SAFETY: `get_current` is always valid in task context and `flags` is only written by
    // the task itself.
    let flags = unsafe { (*bindings::get_current()).flags };
    flags & bindings::PF_MEMALLOC_NOIO != 0
}
