// SPDX-License-Identifier: GPL-2.0

//! HSM actions and the `hsm.upcall_mask` parameter.
//!
//! The mask holds one bit per copytool action (`1 << HSMA_*`). Only ARCHIVE and REMOVE may be
//! diverted to the upcall; RESTORE always goes through the coordinator.
//!
//! Pure logic: no kernel APIs, shared with the userspace tools and tested on the host.

/// A copytool action, with Lustre's `HSMA_*` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Action {
    /// `HSMA_NONE`, printed NOOP.
    Noop = 10,
    /// `HSMA_ARCHIVE`.
    Archive = 20,
    /// `HSMA_RESTORE`.
    Restore = 21,
    /// `HSMA_REMOVE`.
    Remove = 22,
    /// `HSMA_CANCEL`.
    Cancel = 23,
}

/// All actions, in the order masks are printed.
pub const ACTIONS: [Action; 5] = [
    Action::Noop,
    Action::Archive,
    Action::Restore,
    Action::Remove,
    Action::Cancel,
];

impl Action {
    /// Lustre's name of the action (`hsm_copytool_action2name`).
    pub const fn name(self) -> &'static str {
        match self {
            Action::Noop => "NOOP",
            Action::Archive => "ARCHIVE",
            Action::Restore => "RESTORE",
            Action::Remove => "REMOVE",
            Action::Cancel => "CANCEL",
        }
    }

    /// The action's bit in a request mask.
    pub const fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Whether the coordinator serves the action ahead of the others (ARCHIVE and REMOVE): a
    /// RESTORE, which someone may be waiting for. Within each class actions go first in, first
    /// out. (CANCEL is never queued: it takes effect when it is requested.)
    pub const fn urgent(self) -> bool {
        matches!(self, Action::Restore)
    }

    /// Looks an action up by name, ignoring case.
    pub fn from_name(name: &[u8]) -> Option<Action> {
        ACTIONS
            .iter()
            .copied()
            .find(|a| a.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// The actions an upcall may take over.
pub const UPCALL_ALLOWED: u32 = Action::Archive.bit() | Action::Remove.bit();

/// Why a mask was rejected; both map to `EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskError {
    /// A word that is no action name.
    UnknownAction,
    /// An action the upcall cannot take (NOOP, RESTORE, CANCEL).
    NotAllowed,
}

/// Parses an `upcall_mask` write: action names separated by spaces, tabs, vertical tabs or
/// newlines, in any case. An empty write clears the mask.
pub fn parse_upcall_mask(buf: &[u8]) -> Result<u32, MaskError> {
    let mut mask = 0;
    for word in buf
        .split(|c| matches!(c, b' ' | b'\t' | b'\x0b' | b'\n'))
        .filter(|w| !w.is_empty())
    {
        let action = Action::from_name(word).ok_or(MaskError::UnknownAction)?;
        if action.bit() & UPCALL_ALLOWED == 0 {
            return Err(MaskError::NotAllowed);
        }
        mask |= action.bit();
    }
    Ok(mask)
}

/// Writes the names of the actions in `mask`, separated by spaces, the way Lustre prints a
/// request mask (without the trailing newline).
pub fn format_mask(mask: u32, out: &mut impl core::fmt::Write) -> core::fmt::Result {
    let mut first = true;
    for a in ACTIONS.iter().filter(|a| mask & a.bit() != 0) {
        if !first {
            out.write_char(' ')?;
        }
        out.write_str(a.name())?;
        first = false;
    }
    Ok(())
}

/// `hsm.policy` bit NonBlockingRestore (NBR): an access to a released file queues its restore
/// and fails at once instead of waiting. The only policy of Lustre's kept here (NoRetryAction
/// is not: a failed copy is retried only when its copytool asks).
pub const POLICY_NBR: u32 = 0x1;

/// Parses an `hsm.policy` write as Lustre's coordinator does: words separated by spaces or
/// newlines, each a policy name (`NonBlockingRestore` or `NBR`) with an optional `+` (set) or
/// `-` (clear); without any sign the words replace the policy. `None` for an unknown name.
pub fn parse_policy(current: u32, buf: &[u8]) -> Option<u32> {
    let (mut set, mut add, mut remove) = (0, 0, 0);
    for word in buf
        .split(|c| matches!(c, b' ' | b'\n'))
        .filter(|w| !w.is_empty())
    {
        let (sign, name) = match word.split_first() {
            Some((b'+', rest)) => (b'+', rest),
            Some((b'-', rest)) => (b'-', rest),
            _ => (0, word),
        };
        let bit = match name {
            b"NonBlockingRestore" | b"NBR" => POLICY_NBR,
            _ => return None,
        };
        match sign {
            b'+' => add |= bit,
            b'-' => remove |= bit,
            _ => set |= bit,
        }
    }
    Some(if add == 0 && remove == 0 {
        set
    } else {
        (current | set | add) & !remove
    })
}

/// Writes the policy as Lustre prints it: every name, in brackets when set.
pub fn format_policy(policy: u32, out: &mut impl core::fmt::Write) -> core::fmt::Result {
    if policy & POLICY_NBR != 0 {
        out.write_str("[NonBlockingRestore]")
    } else {
        out.write_str("NonBlockingRestore")
    }
}

/// Test vectors for [`parse_upcall_mask`], shared by host tests and KUnit.
#[cfg(any(test, CONFIG_KUNIT = "y"))]
pub const MASK_CASES: &[(&[u8], Result<u32, MaskError>)] = &[
    (b"", Ok(0)),
    (b"ARCHIVE", Ok(1 << 20)),
    (b"archive", Ok(1 << 20)),
    (b"Remove", Ok(1 << 22)),
    (b"ARCHIVE REMOVE", Ok((1 << 20) | (1 << 22))),
    (b" \tremove\x0b archive\n", Ok((1 << 20) | (1 << 22))),
    (b"ARCHIVE ARCHIVE", Ok(1 << 20)),
    (b"RESTORE", Err(MaskError::NotAllowed)),
    (b"ARCHIVE CANCEL", Err(MaskError::NotAllowed)),
    (b"NOOP", Err(MaskError::NotAllowed)),
    (b"ARCHIVES", Err(MaskError::UnknownAction)),
    (b"ARCHIVE,REMOVE", Err(MaskError::UnknownAction)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        assert_eq!(parse_policy(0, b"NBR"), Some(POLICY_NBR));
        assert_eq!(parse_policy(0, b"NonBlockingRestore\n"), Some(POLICY_NBR));
        assert_eq!(parse_policy(POLICY_NBR, b""), Some(0));
        assert_eq!(parse_policy(POLICY_NBR, b"-NBR"), Some(0));
        assert_eq!(parse_policy(0, b"+NBR"), Some(POLICY_NBR));
        assert_eq!(parse_policy(0, b"NRA"), None);
        assert_eq!(parse_policy(0, b"+nbr"), None);
        let mut t = String::new();
        format_policy(POLICY_NBR, &mut t).unwrap();
        assert_eq!(t, "[NonBlockingRestore]");
    }

    #[test]
    fn mask_vectors() {
        for (input, want) in MASK_CASES {
            assert_eq!(parse_upcall_mask(input), *want, "{:?}", input);
        }
    }

    #[test]
    fn urgent_actions() {
        let urgent: Vec<_> = ACTIONS.iter().filter(|a| a.urgent()).collect();
        assert_eq!(urgent, [&Action::Restore]);
    }

    #[test]
    fn mask_round_trip() {
        let mut s = String::new();
        format_mask((1 << 20) | (1 << 22), &mut s).unwrap();
        assert_eq!(s, "ARCHIVE REMOVE");
        assert_eq!(parse_upcall_mask(s.as_bytes()), Ok((1 << 20) | (1 << 22)));
    }
}
