// SPDX-License-Identifier: GPL-2.0

//! Memory pools: allocations that make progress under memory pressure.
//!
//! A [`MemPool`] keeps a reserve of preallocated elements. When the general allocator cannot
//! satisfy a request, an allocation that may sleep waits for an element to come back to the
//! pool instead of failing, which is what the block I/O and reclaim paths need.
//!
//! [`NoIoScope`] marks a section in which every allocation of the current task behaves as
//! `GFP_NOIO`, as a block driver's worker must; [`ReserveScope`] one whose allocations may use
//! the memory reserves, for I/O that frees memory.
//!
//! C headers: [`include/linux/mempool.h`](srctree/include/linux/mempool.h),
//! [`include/linux/sched/mm.h`](srctree/include/linux/sched/mm.h)

use crate::{
    alloc::{AllocError, Flags},
    bindings,
    error::{code::EINVAL, to_result, Result},
    ffi::{c_int, c_uint, c_void},
    prelude::*,
    types::{NotThreadSafe, Opaque},
};
use core::{
    marker::PhantomData,
    mem::{align_of, size_of},
    ops::{Deref, DerefMut},
    ptr::NonNull,
};

/// The alignment `kmalloc` guarantees for every size: `ARCH_KMALLOC_MINALIGN`, which is
/// `__alignof__(unsigned long long)` on architectures without DMA alignment constraints.
const KMALLOC_MIN_ALIGN: usize = align_of::<u64>();

/// A pool of preallocated memory for values of type `T`.
///
/// Elements come from `kmalloc` and go back to it; `min_nr` of them are kept in reserve for the
/// lifetime of the pool.
///
/// # Invariants
///
/// `pool` was initialised by `mempool_init_noprof()` with `mempool_kmalloc`/`mempool_kfree` and
/// an element size of `size_of::<T>()`, and is torn down exactly once, by `mempool_exit()` on
/// drop.
#[pin_data(PinnedDrop)]
pub struct MemPool<T> {
    #[pin]
    pool: Opaque<bindings::mempool>,
    _t: PhantomData<T>,
}

// SAFETY: The mempool has its own lock; elements of `T: Send` may be allocated on one thread
// and freed on another.
unsafe impl<T: Send> Send for MemPool<T> {}

// SAFETY: `mempool_alloc` and `mempool_free` may be called concurrently.
unsafe impl<T: Send> Sync for MemPool<T> {}

impl<T> MemPool<T> {
    /// Creates a pool that keeps `min_nr` elements in reserve.
    ///
    /// The reserve is allocated now with `GFP_KERNEL`, so this is for setup paths.
    pub fn new(min_nr: usize) -> impl PinInit<Self, Error> {
        build_assert!(size_of::<T>() > 0, "MemPool cannot hold zero-sized types");
        build_assert!(
            align_of::<T>() <= KMALLOC_MIN_ALIGN,
            "MemPool elements must not need more alignment than kmalloc gives"
        );
        try_pin_init!(Self {
            pool <- Opaque::try_ffi_init(move |slot: *mut bindings::mempool| {
                let min_nr = c_int::try_from(min_nr).map_err(|_| EINVAL)?;
                if min_nr == 0 {
                    return Err(EINVAL);
                }
                // SAFETY: `slot` is valid for writes. `mempool_init` expects a zeroed pool (it
                // does not set `curr_nr`), as `mempool_create` would have allocated it.
                unsafe { slot.write_bytes(0, 1) };
                // SAFETY: `slot` is valid for writes, zeroed and pinned. `mempool_kmalloc` takes
                // the element size as its pool data. On success the pool is exited before
                // `slot` is freed, by our `PinnedDrop`.
                // INVARIANT: initialised with kmalloc callbacks and the size of `T`.
                to_result(unsafe {
                    bindings::mempool_init_noprof(
                        slot,
                        min_nr,
                        Some(bindings::mempool_kmalloc),
                        Some(bindings::mempool_kfree),
                        size_of::<T>() as *mut c_void,
                    )
                })
            }),
            _t: PhantomData,
        })
    }

    /// Allocates an element and moves `value` into it.
    ///
    /// With flags that allow direct reclaim (`GFP_KERNEL`, `GFP_NOIO`), this waits for an
    /// element rather than fail. With `GFP_ATOMIC` or `GFP_NOWAIT` it may fail when both the
    /// allocator and the reserve are exhausted.
    pub fn alloc(&self, value: T, flags: Flags) -> Result<PoolBox<'_, T>, AllocError> {
        // SAFETY: By the type invariants the pool is initialised.
        let ptr = unsafe { bindings::mempool_alloc_noprof(self.pool.get(), flags.as_raw()) };
        self.fill(ptr, value)
    }

    /// Takes an element from the reserve only, without calling the allocator or sleeping.
    ///
    /// Fails when the reserve is empty.
    pub fn alloc_reserved(&self, value: T) -> Result<PoolBox<'_, T>, AllocError> {
        // SAFETY: By the type invariants the pool is initialised.
        let ptr = unsafe { bindings::mempool_alloc_preallocated(self.pool.get()) };
        self.fill(ptr, value)
    }

    /// Returns the number of elements currently held in reserve.
    pub fn reserved(&self) -> usize {
        // SAFETY: By the type invariants the pool is initialised. This is a racy snapshot, which
        // is all a caller can use it for; `curr_nr` is an `int` read without tearing.
        let nr = unsafe { core::ptr::read_volatile(&raw const (*self.pool.get()).curr_nr) };
        usize::try_from(nr).unwrap_or(0)
    }

    fn fill(&self, ptr: *mut c_void, value: T) -> Result<PoolBox<'_, T>, AllocError> {
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(AllocError)?;
        // SAFETY: The pool gave us an element of `size_of::<T>()` bytes, aligned for `T`
        // (checked in `new`), which nobody else uses.
        unsafe { ptr.as_ptr().write(value) };
        // INVARIANT: `ptr` is an initialised element of `self`.
        Ok(PoolBox { ptr, pool: self })
    }
}

#[pinned_drop]
impl<T> PinnedDrop for MemPool<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants the pool is initialised and exited only here. Every
        // `PoolBox` borrows the pool, so all elements have come back.
        unsafe { bindings::mempool_exit(self.pool.get()) };
    }
}

/// An element of a [`MemPool`], returned to the pool when dropped.
///
/// # Invariants
///
/// `ptr` points to an initialised `T` in an element allocated from `pool`, owned by this box.
pub struct PoolBox<'a, T> {
    ptr: NonNull<T>,
    pool: &'a MemPool<T>,
}

// SAFETY: A `PoolBox` owns its `T`, and the pool may be used from any thread.
unsafe impl<T: Send> Send for PoolBox<'_, T> {}

// SAFETY: `&PoolBox` only gives `&T`.
unsafe impl<T: Sync> Sync for PoolBox<'_, T> {}

impl<T> Deref for PoolBox<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: By the type invariants `ptr` is an initialised `T` we own.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> DerefMut for PoolBox<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: By the type invariants `ptr` is an initialised `T` we own exclusively.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for PoolBox<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `ptr` is an initialised `T` we own; it is not used
        // again after this.
        unsafe { core::ptr::drop_in_place(self.ptr.as_ptr()) };
        // SAFETY: The element came from this pool and is returned exactly once.
        unsafe { bindings::mempool_free(self.ptr.as_ptr().cast(), self.pool.pool.get()) };
    }
}

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
        // task, and scopes end in the reverse order they began (each is a local of the task).
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
