// SPDX-License-Identifier: GPL-2.0

//! Adapters for printing with the kernel's formatting macros (`pr_*!`, `fmt!`): bytes as text,
//! and the shared pure-logic types, which implement `core::fmt::Display`. Compiled into the
//! modules that log (`#[path]`).

/// Bytes printed as text in log messages.
pub(crate) struct BStr<'a>(pub(crate) &'a [u8]);

/// Lets the kernel's formatting macros print what implements `core::fmt::Display` (the
/// shared pure-logic types).
pub(crate) struct D<T>(pub(crate) T);

impl<T: core::fmt::Display> kernel::fmt::Display for D<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

impl kernel::fmt::Display for BStr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl core::fmt::Display for BStr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &c in self.0 {
            let c = if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '?'
            };
            core::fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}
