// SPDX-License-Identifier: GPL-2.0

//! The control channel of a changelog device: `write()` of a clear command.
//!
//! Lustre's readers write `clear:cl<ID>:<ENDREC>` to the device, with the trailing NUL that
//! `llapi_changelog_clear()` sends. The command is at most 64 bytes (`CHLG_CONTROL_CMD_MAX`).
//! Unlike Lustre's `sscanf()`, trailing garbage, signs, empty numbers and overflow are all
//! rejected rather than silently accepted.
//!
//! Pure logic: no kernel APIs, shared with the userspace tools and tested on the host.

/// The longest control command accepted, in bytes, NUL included.
pub const CONTROL_CMD_MAX: usize = 64;

/// A parsed `clear:cl<ID>:<ENDREC>` command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clear {
    /// The changelog user id: 1 for `cl1`.
    pub user: u32,
    /// Clear records up to and including this index; 0 means up to the current index.
    pub endrec: u64,
}

/// Why a control command was rejected. Every variant maps to `EINVAL` for the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// Longer than [`CONTROL_CMD_MAX`].
    TooLong,
    /// Not of the form `clear:cl<ID>:<ENDREC>`.
    Syntax,
    /// A number does not fit its field.
    Overflow,
}

fn parse_decimal(digits: &[u8], max: u64) -> Result<u64, ControlError> {
    if digits.is_empty() {
        return Err(ControlError::Syntax);
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(ControlError::Syntax);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(ControlError::Overflow)?;
    }
    if v > max {
        return Err(ControlError::Overflow);
    }
    Ok(v)
}

/// Parses a command written to the device.
///
/// One trailing NUL is accepted (liblustreapi sends it), and so is one trailing newline
/// (`echo clear:cl1:0 > /dev/changelog-...`).
pub fn parse_control(buf: &[u8]) -> Result<Clear, ControlError> {
    if buf.len() > CONTROL_CMD_MAX {
        return Err(ControlError::TooLong);
    }
    let mut cmd = buf;
    if let [rest @ .., 0] = cmd {
        cmd = rest;
    }
    if let [rest @ .., b'\n'] = cmd {
        cmd = rest;
    }
    let rest = cmd.strip_prefix(b"clear:cl").ok_or(ControlError::Syntax)?;
    let colon = rest
        .iter()
        .position(|&c| c == b':')
        .ok_or(ControlError::Syntax)?;
    let user = parse_decimal(&rest[..colon], u64::from(u32::MAX))?;
    let endrec = parse_decimal(&rest[colon + 1..], u64::MAX)?;
    Ok(Clear {
        // parse_decimal bounded it by u32::MAX.
        user: user as u32,
        endrec,
    })
}

/// Test vectors for [`parse_control`], shared by the host tests and KUnit.
#[cfg(any(test, CONFIG_KUNIT = "y"))]
pub const CONTROL_CASES: &[(&[u8], Result<Clear, ControlError>)] = &[
    (b"clear:cl1:0", Ok(Clear { user: 1, endrec: 0 })),
    (b"clear:cl1:0\0", Ok(Clear { user: 1, endrec: 0 })),
    (
        b"clear:cl12:345\n",
        Ok(Clear {
            user: 12,
            endrec: 345,
        }),
    ),
    (
        b"clear:cl4294967295:18446744073709551615\0",
        Ok(Clear {
            user: u32::MAX,
            endrec: u64::MAX,
        }),
    ),
    (b"clear:cl4294967296:1", Err(ControlError::Overflow)),
    (
        b"clear:cl1:18446744073709551616",
        Err(ControlError::Overflow),
    ),
    (b"clear:cl:5", Err(ControlError::Syntax)),
    (b"clear:cl1:", Err(ControlError::Syntax)),
    (b"clear:cl1:-1", Err(ControlError::Syntax)),
    (b"clear:cl1:+1", Err(ControlError::Syntax)),
    (b"clear:cl1:5x", Err(ControlError::Syntax)),
    (b"clear:cl1:5\0\0", Err(ControlError::Syntax)),
    (b"clear:cl1 :5", Err(ControlError::Syntax)),
    (b"clear:user1:5", Err(ControlError::Syntax)),
    (b"purge:cl1:5", Err(ControlError::Syntax)),
    (b"", Err(ControlError::Syntax)),
    (
        b"clear:cl1:00000000000000000000000000000000000000000000000000000001",
        Err(ControlError::TooLong),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_vectors() {
        for (input, want) in CONTROL_CASES {
            assert_eq!(parse_control(input), *want, "input {:?}", input);
        }
    }
}
