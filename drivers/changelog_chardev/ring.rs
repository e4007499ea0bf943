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

/// Placement of records of different lengths in a byte buffer used as a ring, each record in
/// one piece, so that records queued one after the other can be copied out in one go.
///
/// Positions are free-running byte counters, the buffer offset of a position is
/// `position % size`. A record that would straddle the end of the buffer starts at the next
/// lap instead; the bytes skipped count as used until the record after them is released.
///
/// # Invariants
///
/// `head <= tail <= head + size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRing {
    head: u64,
    tail: u64,
    size: NonZeroU64,
}

impl ByteRing {
    /// An empty ring over a buffer of `size` bytes; `None` if `size` is 0.
    pub const fn new(size: u32) -> Option<Self> {
        match NonZeroU64::new(size as u64) {
            Some(size) => Some(Self {
                head: 0,
                tail: 0,
                size,
            }),
            None => None,
        }
    }

    /// The buffer offset of position `pos`; below `size`, a `u32`.
    pub fn offset(&self, pos: u64) -> usize {
        (pos % self.size) as usize
    }

    /// Where a record of `len` bytes would start: its position, whose offset leaves `len`
    /// bytes to the end of the buffer. `None` if it does not fit in the free bytes now.
    pub fn place(&self, len: u32) -> Option<u64> {
        let len = u64::from(len);
        let size = self.size.get();
        let off = self.tail % self.size;
        // `off < size`, and `len` is a `u32`: no overflow.
        let start = if off + len <= size {
            self.tail
        } else {
            self.tail.wrapping_add(size - off)
        };
        // In an empty ring the skipped bytes are free: the record is the oldest.
        let oldest = if self.head == self.tail {
            start
        } else {
            self.head
        };
        if start.wrapping_add(len).wrapping_sub(oldest) > size {
            return None;
        }
        Some(start)
    }

    /// Takes `len` bytes at `start`, a position [`ByteRing::place`] just returned.
    pub fn commit(&mut self, start: u64, len: u32) {
        if self.head == self.tail {
            self.head = start;
        }
        self.tail = start.wrapping_add(u64::from(len));
    }

    /// Frees everything before position `pos` (the start of the oldest record kept, or the
    /// tail when none is). A position outside `head..=tail` changes nothing.
    pub fn release_to(&mut self, pos: u64) {
        if pos.wrapping_sub(self.head) <= self.tail.wrapping_sub(self.head) {
            self.head = pos;
        }
    }

    /// Frees everything.
    pub fn clear(&mut self) {
        self.head = self.tail;
    }

    /// Bytes in use, skipped ones included.
    pub fn used(&self) -> u64 {
        self.tail.wrapping_sub(self.head)
    }
}

/// Fills and drains a [`ByteRing`] with records of changing lengths for several laps, the way
/// the changelog reader does, checking that each record lies in one piece inside the buffer,
/// that no two queued records overlap, and that every byte comes back out as written. Shared
/// by the host tests and KUnit.
#[cfg(any(test, CONFIG_KUNIT = "y"))]
pub fn byte_ring_self_test() -> Result<(), &'static str> {
    fn check(ok: bool, what: &'static str) -> Result<(), &'static str> {
        if ok {
            Ok(())
        } else {
            Err(what)
        }
    }
    const SIZE: usize = 100;
    check(ByteRing::new(0).is_none(), "size 0 accepted")?;
    let mut r = ByteRing::new(SIZE as u32).ok_or("size 100 rejected")?;
    check(
        r.place(101).is_none(),
        "a record larger than the buffer placed",
    )?;
    let mut buf = [0u8; SIZE];
    // Queued records: (start, len, fill byte), oldest first; at most 16.
    let mut q = [(0u64, 0u32, 0u8); 16];
    let (mut qh, mut qn) = (0usize, 0usize);
    let mut fill = 0u8;
    for step in 0..200u32 {
        // Fill until a record does not fit, or the queue is full.
        loop {
            let len = 7 + (step * 13 + u32::from(fill) * 5) % 29;
            let Some(start) = r.place(len) else { break };
            if qn == q.len() {
                break;
            }
            let off = r.offset(start);
            check(off + len as usize <= SIZE, "record straddles the end")?;
            fill = fill.wrapping_add(1);
            buf[off..off + len as usize].fill(fill);
            r.commit(start, len);
            q[(qh + qn) % q.len()] = (start, len, fill);
            qn += 1;
            check(
                r.used() <= SIZE as u64,
                "more bytes used than the buffer has",
            )?;
        }
        check(qn > 0 || r.used() == 0, "nothing queued, bytes used")?;
        // Drain one to three, checking what each holds.
        for _ in 0..(step % 3 + 1) {
            if qn == 0 {
                break;
            }
            let (start, len, f) = q[qh];
            let off = r.offset(start);
            check(
                buf[off..off + len as usize].iter().all(|&b| b == f),
                "a queued record was overwritten",
            )?;
            qh = (qh + 1) % q.len();
            qn -= 1;
            let next = if qn > 0 {
                q[qh].0
            } else {
                start + u64::from(len)
            };
            r.release_to(next);
        }
    }
    r.release_to(u64::MAX);
    check(
        r.used() <= SIZE as u64,
        "release outside the ring changed it",
    )?;
    r.clear();
    check(r.used() == 0 && r.place(SIZE as u32).is_some(), "clear")?;
    Ok(())
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

    #[test]
    fn byte_ring_laps() {
        assert_eq!(byte_ring_self_test(), Ok(()));
    }
}
