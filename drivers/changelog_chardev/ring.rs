// SPDX-License-Identifier: GPL-2.0

//! Index arithmetic of the bounded ring buffer between a producer thread and one reader.
//!
//! Positions are free-running 64-bit counters; a slot is `position % capacity`. The ring is
//! empty when both positions are equal and full when they are `capacity` apart, so no slot is
//! wasted and wrap-around of the slot index needs no special case.
//!
//! Pure logic: no kernel APIs, shared with the userspace tools and tested on the host.

use core::num::NonZeroU64;

/// Producer and consumer positions of a ring of `capacity` slots.
///
/// # Invariants
///
/// `head <= tail <= head + capacity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingIndex {
    head: u64,
    tail: u64,
    capacity: NonZeroU64,
}

impl RingIndex {
    /// An empty ring of `capacity` slots; `None` if `capacity` is 0.
    pub const fn new(capacity: u32) -> Option<Self> {
        match NonZeroU64::new(capacity as u64) {
            Some(capacity) => Some(Self {
                head: 0,
                tail: 0,
                capacity,
            }),
            None => None,
        }
    }

    /// Number of slots.
    pub const fn capacity(&self) -> u32 {
        // `new` took it from a `u32`.
        self.capacity.get() as u32
    }

    /// Number of filled slots.
    pub const fn len(&self) -> u32 {
        // By the invariants the difference is at most `capacity`, a `u32`.
        self.tail.wrapping_sub(self.head) as u32
    }

    /// Whether no slot is filled.
    pub const fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Whether every slot is filled.
    pub const fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// The slot the producer fills next, or `None` when full.
    pub fn write_slot(&self) -> Option<usize> {
        if self.is_full() {
            None
        } else {
            Some((self.tail % self.capacity) as usize)
        }
    }

    /// Marks the write slot filled. Returns `false` (and changes nothing) when full.
    pub fn push(&mut self) -> bool {
        if self.is_full() {
            return false;
        }
        self.tail = self.tail.wrapping_add(1);
        true
    }

    /// The slot `n` places after the oldest filled one, if filled.
    pub fn read_slot(&self, n: u32) -> Option<usize> {
        if n >= self.len() {
            None
        } else {
            Some((self.head.wrapping_add(u64::from(n)) % self.capacity) as usize)
        }
    }

    /// Releases the `n` oldest slots; at most `len()` are released. Returns how many were.
    pub fn consume(&mut self, n: u32) -> u32 {
        let n = if n > self.len() { self.len() } else { n };
        self.head = self.head.wrapping_add(u64::from(n));
        n
    }

    /// Empties the ring.
    pub fn clear(&mut self) {
        self.head = self.tail;
    }
}

/// Exercises wrap-around over several laps; shared by the host tests and KUnit.
///
/// Returns the first failed check's description.
#[cfg(any(test, CONFIG_KUNIT = "y"))]
pub fn ring_self_test() -> Result<(), &'static str> {
    fn check(ok: bool, what: &'static str) -> Result<(), &'static str> {
        if ok {
            Ok(())
        } else {
            Err(what)
        }
    }
    check(RingIndex::new(0).is_none(), "capacity 0 accepted")?;
    let mut r = RingIndex::new(3).ok_or("capacity 3 rejected")?;
    check(
        r.is_empty() && r.read_slot(0).is_none(),
        "new ring not empty",
    )?;
    // Three laps around a 3-slot ring, filling and draining at different rates.
    let mut next_write = 0u64;
    let mut next_read = 0u64;
    for step in 0..12u32 {
        while let Some(slot) = r.write_slot() {
            check(slot as u64 == next_write % 3, "write slot out of order")?;
            check(r.push(), "push failed below capacity")?;
            next_write += 1;
        }
        check(r.is_full() && !r.push(), "full ring accepted a push")?;
        let take = step % 3 + 1;
        for n in 0..take {
            check(
                r.read_slot(n) == Some(((next_read + u64::from(n)) % 3) as usize),
                "read slot out of order",
            )?;
        }
        check(r.consume(take) == take, "consume short")?;
        next_read += u64::from(take);
        check(u64::from(r.len()) == next_write - next_read, "length wrong")?;
    }
    check(r.is_empty(), "ring not drained by the last lap")?;
    check(r.push() && r.push(), "push into a drained ring")?;
    check(r.consume(10) == 2, "over-consume not bounded")?;
    check(r.is_empty(), "ring not empty after draining")?;
    check(r.read_slot(0).is_none(), "read past end")?;
    r.push();
    r.clear();
    check(r.is_empty() && r.write_slot().is_some(), "clear")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_vectors() {
        assert!(ring_self_test().is_ok(), "{:?}", ring_self_test());
    }
}
