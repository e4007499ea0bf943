// SPDX-License-Identifier: GPL-2.0

//! A file's HSM state: its flags, how requests and completions change them, how they are
//! stored (the `trusted.hsm` extended attribute), printed (`lfs hsm_state`) and reported in
//! changelog records (`CL_HSM` flags).
//!
//! Pure logic: no kernel APIs, shared with the userspace tools and tested on the host.

use core::fmt;

use crate::mask::Action;
use crate::uapi::UserAction;

/// `HS_EXISTS`: a copy exists in the archive.
pub const HS_EXISTS: u32 = 0x1;
/// `HS_DIRTY`: the file changed since it was archived.
pub const HS_DIRTY: u32 = 0x2;
/// `HS_RELEASED`: the data is only in the archive.
pub const HS_RELEASED: u32 = 0x4;
/// `HS_ARCHIVED`: the archive holds the current data.
pub const HS_ARCHIVED: u32 = 0x8;
/// `HS_NORELEASE`: never release.
pub const HS_NORELEASE: u32 = 0x10;
/// `HS_NOARCHIVE`: never archive.
pub const HS_NOARCHIVE: u32 = 0x20;
/// `HS_LOST`: the archived copy is lost.
pub const HS_LOST: u32 = 0x40;

/// The extended attribute holding the state, as Lustre's MDT stores it.
pub const XATTR_NAME: &[u8] = b"trusted.hsm";
/// Size of `struct hsm_attrs`: `{ u32 hsm_compat; u32 hsm_flags; u64 hsm_arch_id; u64 hsm_arch_ver; }`.
pub const XATTR_LEN: usize = 24;
/// `HSM_COMPAT`: what `hsm_compat` holds.
pub const HSM_COMPAT: u32 = 0x0000_0001;

/// The stored HSM state of a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HsmAttrs {
    /// `HS_*` flags, without the computed dirty bit.
    pub flags: u32,
    /// The archive holding the copy; 0 if none yet.
    pub archive_id: u32,
    /// The data version the archived copy has (see [`HsmAttrs::effective`]).
    pub arch_ver: u64,
}

/// Why a request or completion does not apply to a file's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// ARCHIVE to another archive than the one holding the copy (`EINVAL`, Lustre's
    /// "cannot change archive ID").
    ArchiveIdChange,
    /// RELEASE of a file that is not archived, is dirty, lost or marked never-release
    /// (`EPERM`).
    NotReleasable,
    /// A stored attribute of the wrong size or version (`EIO`).
    Corrupt,
}

impl HsmAttrs {
    /// Decodes `trusted.hsm`.
    pub fn decode(b: &[u8]) -> Result<HsmAttrs, StateError> {
        if b.len() != XATTR_LEN {
            return Err(StateError::Corrupt);
        }
        let w = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let d = |at: usize| u64::from(w(at)) | (u64::from(w(at + 4)) << 32);
        if w(0) != HSM_COMPAT || d(8) > u64::from(u32::MAX) {
            return Err(StateError::Corrupt);
        }
        Ok(HsmAttrs {
            flags: w(4),
            archive_id: d(8) as u32,
            arch_ver: d(16),
        })
    }

    /// Encodes `trusted.hsm`.
    pub fn encode(&self) -> [u8; XATTR_LEN] {
        let mut b = [0u8; XATTR_LEN];
        b[0..4].copy_from_slice(&HSM_COMPAT.to_le_bytes());
        b[4..8].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&u64::from(self.archive_id).to_le_bytes());
        b[16..24].copy_from_slice(&self.arch_ver.to_le_bytes());
        b
    }

    /// The flags as users see them, given the file's current data version: a file with an
    /// archived copy whose data changed since is dirty (and no longer archived). This takes the
    /// place of Lustre's "set dirty on write", which a local filesystem cannot hook.
    pub fn effective(&self, data_version: u64) -> u32 {
        let mut f = self.flags;
        if f & HS_EXISTS != 0 && f & HS_RELEASED == 0 && self.arch_ver != data_version {
            f |= HS_DIRTY;
        }
        f
    }

    /// Whether `action` has anything to do on a file in this state (Lustre's
    /// `hsm_action_is_needed`); a request for an action that is not needed is dropped
    /// silently, as Lustre does. `Err` if the request must be refused.
    pub fn needs(
        &self,
        action: UserAction,
        archive_id: u32,
        data_version: u64,
    ) -> Result<bool, StateError> {
        let f = self.effective(data_version);
        Ok(match action {
            UserAction::Archive => {
                if f & HS_EXISTS != 0 && self.archive_id != 0 && self.archive_id != archive_id {
                    return Err(StateError::ArchiveIdChange);
                }
                f & HS_NOARCHIVE == 0 && (f & HS_ARCHIVED == 0 || f & HS_DIRTY != 0)
            }
            UserAction::Restore => f & HS_RELEASED != 0,
            UserAction::Remove => f & (HS_EXISTS | HS_ARCHIVED) != 0,
            UserAction::Release => f & HS_RELEASED == 0,
            UserAction::Cancel => true,
        })
    }

    /// The state after a release: refused unless the archive holds the current data.
    pub fn released(&self, data_version: u64) -> Result<HsmAttrs, StateError> {
        let f = self.effective(data_version);
        if f & HS_RELEASED != 0 {
            return Ok(*self);
        }
        if f & HS_ARCHIVED == 0 || f & (HS_DIRTY | HS_NORELEASE | HS_LOST) != 0 {
            return Err(StateError::NotReleasable);
        }
        Ok(HsmAttrs {
            flags: self.flags | HS_RELEASED,
            ..*self
        })
    }

    /// The state after `action` completed with `errval` (0 for success) on a file whose data
    /// version is now `data_version`; `archive_id` is the action's archive.
    ///
    /// A successful ARCHIVE records the archive and data version; REMOVE forgets the copy;
    /// RESTORE brings the data back, the file matching its copy again. Failures change
    /// nothing, except that an ARCHIVE failing because the file changed under it (`EBUSY`)
    /// marks the file dirty.
    pub fn completed(
        &self,
        action: Action,
        errval: u16,
        archive_id: u32,
        data_version: u64,
    ) -> HsmAttrs {
        let mut s = *self;
        if errval != 0 {
            if action == Action::Archive && errval == 16 && s.flags & HS_EXISTS != 0 {
                s.flags |= HS_DIRTY;
            }
            return s;
        }
        match action {
            Action::Archive => {
                s.flags = (s.flags | HS_EXISTS | HS_ARCHIVED) & !(HS_DIRTY | HS_LOST);
                s.archive_id = archive_id;
                s.arch_ver = data_version;
            }
            Action::Remove => {
                s.flags &= !(HS_EXISTS | HS_ARCHIVED | HS_DIRTY);
                s.arch_ver = 0;
            }
            Action::Restore => {
                s.flags &= !(HS_RELEASED | HS_DIRTY);
                s.arch_ver = data_version;
            }
            Action::Noop | Action::Cancel => {}
        }
        s
    }
}

/// `lfs hsm_state` output for one file: `PATH: (0x%08x) names[, archive_id:N]`.
pub struct StateText<'a> {
    /// The file name as given.
    pub path: &'a str,
    /// `hus_states`.
    pub states: u32,
    /// `hus_archive_id`.
    pub archive_id: u32,
}

impl fmt::Display for StateText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: (0x{:08x})", self.path, self.states)?;
        for (bit, name) in [
            (HS_RELEASED, "released"),
            (HS_EXISTS, "exists"),
            (HS_DIRTY, "dirty"),
            (HS_ARCHIVED, "archived"),
            (HS_NORELEASE, "never_release"),
            (HS_NOARCHIVE, "never_archive"),
            (HS_LOST, "lost_from_hsm"),
        ] {
            if self.states & bit != 0 {
                write!(f, " {name}")?;
            }
        }
        if self.archive_id != 0 {
            write!(f, ", archive_id:{}", self.archive_id)?;
        }
        Ok(())
    }
}

/// `enum hsm_event` values of a `CL_HSM` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum HsmEvent {
    /// `HE_ARCHIVE`.
    Archive = 0,
    /// `HE_RESTORE`.
    Restore = 1,
    /// `HE_CANCEL`.
    Cancel = 2,
    /// `HE_RELEASE`.
    Release = 3,
    /// `HE_REMOVE`.
    Remove = 4,
    /// `HE_STATE`.
    State = 5,
}

impl HsmEvent {
    /// The event a completed copytool action reports.
    pub fn of(action: Action) -> HsmEvent {
        match action {
            Action::Archive => HsmEvent::Archive,
            Action::Restore => HsmEvent::Restore,
            Action::Remove => HsmEvent::Remove,
            Action::Cancel => HsmEvent::Cancel,
            Action::Noop => HsmEvent::State,
        }
    }
}

/// `CLF_HSM_MAXERROR`: larger errors are reported as `CLF_HSM_ERROVERFLOW`.
pub const CLF_HSM_MAXERROR: u16 = 0x7e;
/// `CLF_HSM_ERROVERFLOW`.
pub const CLF_HSM_ERROVERFLOW: u16 = 0x7f;
/// `CLF_HSM_DIRTY`, in the flag bits.
pub const CLF_HSM_DIRTY: u16 = 1;

/// The `cr_flags` of a `CL_HSM` record: error in bits 0-6, event in 7-9, flags in 10-11.
pub fn cl_hsm_flags(event: HsmEvent, errval: u16, dirty: bool) -> u16 {
    let err = if errval > CLF_HSM_MAXERROR {
        CLF_HSM_ERROVERFLOW
    } else {
        errval
    };
    err | ((event as u16) << 7) | (if dirty { CLF_HSM_DIRTY << 10 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xattr_round_trip() {
        let a = HsmAttrs {
            flags: HS_EXISTS | HS_ARCHIVED,
            archive_id: 3,
            arch_ver: 0x1234,
        };
        assert_eq!(HsmAttrs::decode(&a.encode()), Ok(a));
        assert_eq!(HsmAttrs::decode(&[0; 23]), Err(StateError::Corrupt));
        let mut b = a.encode();
        b[0] = 2;
        assert_eq!(HsmAttrs::decode(&b), Err(StateError::Corrupt));
    }

    #[test]
    fn archive_release_restore_remove() {
        let new = HsmAttrs::default();
        assert_eq!(new.needs(UserAction::Archive, 1, 10), Ok(true));
        assert_eq!(new.needs(UserAction::Remove, 1, 10), Ok(false));
        assert_eq!(new.released(10), Err(StateError::NotReleasable));
        let arc = new.completed(Action::Archive, 0, 1, 10);
        assert_eq!(arc.effective(10), HS_EXISTS | HS_ARCHIVED);
        assert_eq!(arc.archive_id, 1);
        assert_eq!(arc.needs(UserAction::Archive, 1, 10), Ok(false));
        assert_eq!(
            arc.needs(UserAction::Archive, 2, 10),
            Err(StateError::ArchiveIdChange)
        );
        // A write after the archive makes it dirty, archivable again and not releasable.
        assert_eq!(arc.effective(11), HS_EXISTS | HS_ARCHIVED | HS_DIRTY);
        assert_eq!(arc.needs(UserAction::Archive, 1, 11), Ok(true));
        assert_eq!(arc.released(11), Err(StateError::NotReleasable));
        let rel = arc.released(10).unwrap();
        assert_eq!(rel.effective(99), HS_EXISTS | HS_ARCHIVED | HS_RELEASED);
        assert_eq!(rel.needs(UserAction::Restore, 1, 99), Ok(true));
        let back = rel.completed(Action::Restore, 0, 1, 12);
        assert_eq!(back.effective(12), HS_EXISTS | HS_ARCHIVED);
        let gone = back.completed(Action::Remove, 0, 1, 12);
        assert_eq!(gone.effective(12), 0);
        assert_eq!(gone.archive_id, 1);
    }

    #[test]
    fn failures_change_nothing_but_ebusy_dirties() {
        let arc = HsmAttrs::default().completed(Action::Archive, 0, 1, 10);
        assert_eq!(arc.completed(Action::Remove, 5, 1, 10), arc);
        assert_eq!(
            arc.completed(Action::Archive, 16, 1, 10).flags & HS_DIRTY,
            HS_DIRTY
        );
        assert_eq!(
            HsmAttrs::default().completed(Action::Archive, 16, 1, 1),
            HsmAttrs::default()
        );
    }

    #[test]
    fn state_text() {
        extern crate std;
        use std::format;
        let t = StateText {
            path: "f",
            states: HS_EXISTS | HS_ARCHIVED,
            archive_id: 1,
        };
        assert_eq!(
            format!("{t}"),
            "f: (0x00000009) exists archived, archive_id:1"
        );
        let t = StateText {
            path: "g",
            states: 0,
            archive_id: 0,
        };
        assert_eq!(format!("{t}"), "g: (0x00000000)");
        let t = StateText {
            path: "h",
            states: HS_RELEASED | HS_EXISTS | HS_ARCHIVED,
            archive_id: 2,
        };
        assert_eq!(
            format!("{t}"),
            "h: (0x0000000d) released exists archived, archive_id:2"
        );
    }

    #[test]
    fn cl_flags() {
        assert_eq!(cl_hsm_flags(HsmEvent::Archive, 0, false), 0);
        assert_eq!(cl_hsm_flags(HsmEvent::Remove, 0, false), 4 << 7);
        assert_eq!(
            cl_hsm_flags(HsmEvent::Restore, 5, true),
            5 | (1 << 7) | (1 << 10)
        );
        assert_eq!(cl_hsm_flags(HsmEvent::Archive, 200, false), 0x7f);
    }
}
