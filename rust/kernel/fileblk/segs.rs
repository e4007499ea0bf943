// SPDX-License-Identifier: GPL-2.0

//! Walking the data segments of a block request, without kernel types.
//!
//! A bio describes its data as an array of `bio_vec` (page, offset, length) plus an iterator
//! state: the index of the current vector, the bytes of it already done, and the bytes left.
//! A request is a chain of such bios. [`BioWalk`] yields the pieces of the vectors that hold
//! the data still to transfer, the way the kernel's `rq_for_each_bvec()` does for multi-page
//! vectors; the block layer and the host tests share it.

/// One piece of a vector: vector `index`, starting `skip` bytes into it, `len` bytes long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    /// Index of the vector in its bio's array.
    pub index: usize,
    /// Bytes of the vector before the piece.
    pub skip: u32,
    /// Length of the piece in bytes.
    pub len: u32,
}

/// The iterator state of one bio (`struct bvec_iter`): vector index, bytes done in that
/// vector, bytes left in the bio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BioPos {
    /// Index of the current vector.
    pub index: usize,
    /// Bytes of the current vector already transferred.
    pub done: u32,
    /// Bytes left to transfer.
    pub left: u32,
}

/// Iterator over the pieces of one bio, given the lengths of its vectors.
///
/// Vectors of zero length, and lengths that end before `left` is used up (a malformed bio),
/// end the walk: it never reads past `nr` vectors.
pub struct BioWalk<F: Fn(usize) -> u32> {
    len_of: F,
    nr: usize,
    pos: BioPos,
}

impl<F: Fn(usize) -> u32> BioWalk<F> {
    /// Walks the `nr` vectors whose lengths `len_of` gives, from `pos`.
    pub fn new(len_of: F, nr: usize, pos: BioPos) -> Self {
        Self { len_of, nr, pos }
    }
}

impl<F: Fn(usize) -> u32> Iterator for BioWalk<F> {
    type Item = Seg;

    fn next(&mut self) -> Option<Seg> {
        let p = &mut self.pos;
        if p.left == 0 || p.index >= self.nr {
            return None;
        }
        let vlen = (self.len_of)(p.index);
        if vlen <= p.done {
            p.left = 0;
            return None;
        }
        let len = (vlen - p.done).min(p.left);
        let seg = Seg {
            index: p.index,
            skip: p.done,
            len,
        };
        p.left -= len;
        p.done += len;
        if p.done == vlen {
            p.index += 1;
            p.done = 0;
        }
        Some(seg)
    }
}

/// Number of pieces of one bio from `pos`, and whether they cover all `pos.left` bytes.
pub fn count(len_of: impl Fn(usize) -> u32, nr: usize, pos: BioPos) -> (usize, bool) {
    let mut n = 0;
    let mut bytes = 0u64;
    for s in BioWalk::new(len_of, nr, pos) {
        n += 1;
        bytes += u64::from(s.len);
    }
    (n, bytes == u64::from(pos.left))
}

/// Indices of the pages a piece touches, counted from its vector's first page: the piece
/// starts `offset` bytes into that page (the vector's offset plus the piece's skip, which
/// may exceed a page in a multi-page vector) and is `len` bytes long. Empty for `len == 0`;
/// `page_size` must not be 0 (it is the kernel's `PAGE_SIZE`).
pub fn page_span(offset: u32, len: u32, page_size: usize) -> core::ops::Range<usize> {
    if len == 0 || page_size == 0 {
        return 0..0;
    }
    // u32 + u32 fits in u64, and a u64 count of pages fits in usize wherever a vector's
    // pages can be addressed at all; saturate rather than trust that.
    let end = u64::from(offset) + u64::from(len);
    let size = page_size as u64;
    let first = usize::try_from(u64::from(offset) / size).unwrap_or(usize::MAX);
    let last = usize::try_from(end.div_ceil(size)).unwrap_or(usize::MAX);
    first..last
}

/// Test cases of [`page_span`]: offset, length, page size, the span expected.
pub const SPAN_CASES: &[(u32, u32, usize, core::ops::Range<usize>)] = &[
    (0, 4096, 4096, 0..1),
    (512, 512, 4096, 0..1),
    (4000, 200, 4096, 0..2),
    (8192, 4096, 4096, 2..3),
    (100, 16384, 4096, 0..5),
    (0, 0, 4096, 0..0),
    (u32::MAX, u32::MAX, 4096, 1048575..2097152),
    (0, 65536, 65536, 0..1),
];

/// Test vectors: vector lengths, start, and the pieces expected. Used by the KUnit suite and
/// the host tests alike.
pub const CASES: &[(&[u32], BioPos, &[Seg])] = &[
    // Whole pages.
    (
        &[4096, 4096],
        BioPos {
            index: 0,
            done: 0,
            left: 8192,
        },
        &[
            Seg {
                index: 0,
                skip: 0,
                len: 4096,
            },
            Seg {
                index: 1,
                skip: 0,
                len: 4096,
            },
        ],
    ),
    // A bio split in the middle of its first vector (bi_bvec_done != 0).
    (
        &[4096, 4096],
        BioPos {
            index: 0,
            done: 1024,
            left: 3072 + 512,
        },
        &[
            Seg {
                index: 0,
                skip: 1024,
                len: 3072,
            },
            Seg {
                index: 1,
                skip: 0,
                len: 512,
            },
        ],
    ),
    // Partial pages and a multi-page vector, starting at the second vector.
    (
        &[512, 12288, 1536],
        BioPos {
            index: 1,
            done: 0,
            left: 12288 + 1024,
        },
        &[
            Seg {
                index: 1,
                skip: 0,
                len: 12288,
            },
            Seg {
                index: 2,
                skip: 0,
                len: 1024,
            },
        ],
    ),
    // Fewer bytes in the vectors than the iterator claims: the walk stops at the array's end.
    (
        &[512],
        BioPos {
            index: 0,
            done: 0,
            left: 4096,
        },
        &[Seg {
            index: 0,
            skip: 0,
            len: 512,
        }],
    ),
    // Nothing left.
    (
        &[4096],
        BioPos {
            index: 0,
            done: 0,
            left: 0,
        },
        &[],
    ),
];
