// SPDX-License-Identifier: GPL-2.0

//! The HSM device interface, `/dev/hsm-<target>`: ioctl numbers and Lustre's binary layouts
//! (`lustre_user.h`, `lustre_kernelcomm.h`), encoded and decoded without kernel APIs.
//!
//! All integers are little-endian (the layouts are Lustre's, on x86-64). The ioctls:
//!
//! | ioctl | value | argument |
//! |---|---|---|
//! | [`IOC_REQUEST`] (`LL_IOC_HSM_REQUEST`) | `0x401866d9` | `hsm_user_request *` |
//! | [`IOC_COPY_START`] (`LL_IOC_HSM_COPY_START`) | `0x400866d6` | `hsm_copy *`, in and out |
//! | [`IOC_COPY_END`] (`LL_IOC_HSM_COPY_END`) | `0x400866d7` | `hsm_copy *` |
//! | [`IOC_CT_START`] (`LL_IOC_HSM_CT_START`) | `0x401866d5` | `lustre_kernelcomm *` |
//! | [`IOC_PROGRESS`] (`LL_IOC_HSM_PROGRESS`) | `0x401866d8` | `hsm_progress *` |
//! | [`IOC_STATE_GET`] (rustre) | `0xc02866f3` | `rustre_hsm_state`, in and out |
//!
//! The numbers are Lustre's own (`lustre_user.h`), so that a copytool or a request tool built
//! against Lustre's headers works unchanged; the two whose size field is a structure's size
//! (24 bytes) rather than a pointer's are Lustre's choice, kept.
//!
//! Pure logic: shared with the userspace tools and tested on the host.

use crate::fid::Fid;
use crate::record::{le32, le64};

/// `LL_IOC_HSM_REQUEST`, `_IOW('f', 217, struct hsm_user_request)`: the argument is a pointer
/// to the request, its items and its data; the number's size field is the header's.
pub const IOC_REQUEST: u32 = 0x4018_66d9;
/// `LL_IOC_HSM_COPY_START`, `_IOW('f', 214, struct hsm_copy *)`.
pub const IOC_COPY_START: u32 = 0x4008_66d6;
/// `LL_IOC_HSM_COPY_END`, `_IOW('f', 215, struct hsm_copy *)`.
pub const IOC_COPY_END: u32 = 0x4008_66d7;
/// `LL_IOC_HSM_CT_START`, `_IOW('f', 213, struct lustre_kernelcomm)`, the argument a pointer to
/// it: registers the open file as a copytool. Closing the file unregisters it.
pub const IOC_CT_START: u32 = 0x4018_66d5;
/// `LL_IOC_HSM_PROGRESS`, `_IOW('f', 216, struct hsm_user_request)` (Lustre's size field; the
/// argument is a pointer to a `struct hsm_progress`): a copytool tells how far a copy got.
pub const IOC_PROGRESS: u32 = 0x4018_66d8;
/// rustre's `_IOWR('f', 0xf3, struct rustre_hsm_state)`: the HSM state of the file open at
/// `fd` in the caller (Lustre asks the file itself with `LL_IOC_HSM_STATE_GET`).
pub const IOC_STATE_GET: u32 = 0xc028_66f3;

/// `HSM_FORCE_ACTION`.
pub const HSM_FORCE_ACTION: u64 = 0x1;
/// `HSM_GHOST_COPY`.
pub const HSM_GHOST_COPY: u64 = 0x2;
/// `HSM_REQ_BLOCKING`.
pub const HSM_REQ_BLOCKING: u64 = 0x4;

/// `HP_FLAG_COMPLETED`: the copy is over (with `hc_errval` as its result).
pub const HP_FLAG_COMPLETED: u16 = 0x1;
/// `HP_FLAG_RETRY`: a failed copy may be tried again.
pub const HP_FLAG_RETRY: u16 = 0x2;
/// `HP_FLAG_UPCALL` (LU-10968): the copy was started by the upcall, not by the coordinator;
/// the item is named by its FID and the action sits in the top bits.
pub const HP_FLAG_UPCALL: u16 = 0x4;
/// Where the action sits in the flags of an upcall copy.
pub const HP_FLAG_ACTION_SHIFT: u32 = 11;
/// The bits of the action in the flags of an upcall copy.
pub const HP_FLAG_ACTION_MASK: u16 = 0xf800;

/// A user request action, `enum hsm_user_action` (`HUA_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum UserAction {
    /// `HUA_ARCHIVE`.
    Archive = 10,
    /// `HUA_RESTORE`.
    Restore = 11,
    /// `HUA_RELEASE`.
    Release = 12,
    /// `HUA_REMOVE`.
    Remove = 13,
    /// `HUA_CANCEL`.
    Cancel = 14,
}

impl UserAction {
    /// The action with this `HUA_*` value.
    pub fn from_u32(v: u32) -> Option<UserAction> {
        Some(match v {
            10 => UserAction::Archive,
            11 => UserAction::Restore,
            12 => UserAction::Release,
            13 => UserAction::Remove,
            14 => UserAction::Cancel,
            _ => return None,
        })
    }

    /// The copytool action carrying it out (`HSMA_*`), or `None` for RELEASE, which the
    /// target does itself.
    pub fn copytool_action(self) -> Option<crate::mask::Action> {
        use crate::mask::Action;
        match self {
            UserAction::Archive => Some(Action::Archive),
            UserAction::Restore => Some(Action::Restore),
            UserAction::Remove => Some(Action::Remove),
            UserAction::Cancel => Some(Action::Cancel),
            UserAction::Release => None,
        }
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

fn get_fid(b: &[u8], at: usize) -> Fid {
    Fid {
        seq: le64(b, at),
        oid: le32(b, at + 8),
        ver: le32(b, at + 12),
    }
}

fn put_fid(b: &mut [u8], at: usize, f: &Fid) {
    put(b, at, &f.seq.to_le_bytes());
    put(b, at + 8, &f.oid.to_le_bytes());
    put(b, at + 12, &f.ver.to_le_bytes());
}

/// Size of `struct hsm_request`.
pub const REQUEST_LEN: usize = 24;
/// Size of `struct hsm_user_item`.
pub const USER_ITEM_LEN: usize = 32;
/// Most items one request may carry (Lustre caps a request at 52; we do not, but bound it).
pub const MAX_ITEMS: u32 = 65536;
/// Most bytes of opaque data one request may carry.
pub const MAX_DATA: u32 = 4096;

/// Why a request was rejected; all map to `EINVAL` except [`RequestError::TooBig`] (`E2BIG`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Shorter than its header says.
    Short,
    /// An action that is no `HUA_*` value (or `HUA_NONE`).
    BadAction,
    /// More than [`MAX_ITEMS`] items or [`MAX_DATA`] bytes of data.
    TooBig,
    /// Data containing a NUL byte (it becomes an argument of the upcall).
    BadData,
}

/// `struct hsm_request`, the header of `struct hsm_user_request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// `hr_action`, a `HUA_*` value.
    pub action: u32,
    /// `hr_archive_id`; 0 for the target's default.
    pub archive_id: u32,
    /// `hr_flags` (`HSM_*`).
    pub flags: u64,
    /// `hr_itemcount`.
    pub itemcount: u32,
    /// `hr_data_len`.
    pub data_len: u32,
}

impl Request {
    /// Decodes the header at the start of `b`.
    pub fn decode(b: &[u8]) -> Result<Request, RequestError> {
        if b.len() < REQUEST_LEN {
            return Err(RequestError::Short);
        }
        Ok(Request {
            action: le32(b, 0),
            archive_id: le32(b, 4),
            flags: le64(b, 8),
            itemcount: le32(b, 16),
            data_len: le32(b, 20),
        })
    }

    /// Encodes the header into the first [`REQUEST_LEN`] bytes of `b`.
    pub fn encode(&self, b: &mut [u8]) {
        put(b, 0, &self.action.to_le_bytes());
        put(b, 4, &self.archive_id.to_le_bytes());
        put(b, 8, &self.flags.to_le_bytes());
        put(b, 16, &self.itemcount.to_le_bytes());
        put(b, 20, &self.data_len.to_le_bytes());
    }

    /// Checks the header and returns the size of the whole request: header, items, data.
    pub fn checked_len(&self) -> Result<usize, RequestError> {
        if UserAction::from_u32(self.action).is_none() {
            return Err(RequestError::BadAction);
        }
        if self.itemcount > MAX_ITEMS || self.data_len > MAX_DATA {
            return Err(RequestError::TooBig);
        }
        Ok(REQUEST_LEN + self.itemcount as usize * USER_ITEM_LEN + self.data_len as usize)
    }

    /// The FID of item `i` of the whole request `b` (checked with [`Request::checked_len`]).
    pub fn item_fid(b: &[u8], i: usize) -> Fid {
        get_fid(b, REQUEST_LEN + i * USER_ITEM_LEN)
    }

    /// The data of the whole request `b`, checked to hold no NUL.
    pub fn data<'a>(&self, b: &'a [u8]) -> Result<&'a [u8], RequestError> {
        let at = REQUEST_LEN + self.itemcount as usize * USER_ITEM_LEN;
        let d = b
            .get(at..at + self.data_len as usize)
            .ok_or(RequestError::Short)?;
        if d.contains(&0) {
            return Err(RequestError::BadData);
        }
        Ok(d)
    }
}

/// Encodes a whole `hsm_user_request` for `fids` (whole-file extents) into `out`, which must
/// hold `REQUEST_LEN + fids.len() * USER_ITEM_LEN + data.len()` bytes.
pub fn encode_request(out: &mut [u8], req: &Request, fids: &[Fid], data: &[u8]) {
    req.encode(out);
    for (i, f) in fids.iter().enumerate() {
        let at = REQUEST_LEN + i * USER_ITEM_LEN;
        put_fid(out, at, f);
        put(out, at + 16, &0u64.to_le_bytes());
        put(out, at + 24, &u64::MAX.to_le_bytes());
    }
    put(out, REQUEST_LEN + fids.len() * USER_ITEM_LEN, data);
}

/// Size of `struct hsm_action_item` without its data.
pub const ACTION_ITEM_LEN: usize = 72;

/// `struct hsm_action_item`, without its trailing data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActionItem {
    /// `hai_len`: 72 plus the data length.
    pub len: u32,
    /// `hai_action`, a `HSMA_*` value.
    pub action: u32,
    /// `hai_fid`: the file.
    pub fid: Fid,
    /// `hai_dfid`: the data FID (the file itself here).
    pub dfid: Fid,
    /// `hai_extent.offset`.
    pub offset: u64,
    /// `hai_extent.length`.
    pub length: u64,
    /// `hai_cookie`: names the action in progress reports.
    pub cookie: u64,
    /// `hai_gid`: group lock id (unused, 0).
    pub gid: u64,
}

impl ActionItem {
    /// Decodes an item from the first [`ACTION_ITEM_LEN`] bytes of `b`.
    pub fn decode(b: &[u8]) -> Option<ActionItem> {
        if b.len() < ACTION_ITEM_LEN {
            return None;
        }
        Some(ActionItem {
            len: le32(b, 0),
            action: le32(b, 4),
            fid: get_fid(b, 8),
            dfid: get_fid(b, 24),
            offset: le64(b, 40),
            length: le64(b, 48),
            cookie: le64(b, 56),
            gid: le64(b, 64),
        })
    }

    /// Encodes the item into the first [`ACTION_ITEM_LEN`] bytes of `b`.
    pub fn encode(&self, b: &mut [u8]) {
        put(b, 0, &self.len.to_le_bytes());
        put(b, 4, &self.action.to_le_bytes());
        put_fid(b, 8, &self.fid);
        put_fid(b, 24, &self.dfid);
        put(b, 40, &self.offset.to_le_bytes());
        put(b, 48, &self.length.to_le_bytes());
        put(b, 56, &self.cookie.to_le_bytes());
        put(b, 64, &self.gid.to_le_bytes());
    }
}

/// Size of `struct hsm_copy`.
pub const COPY_LEN: usize = 88;

/// `struct hsm_copy`, as changed by LU-10968 (`padding` became `hc_archive_id`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copy {
    /// `hc_data_version`: returned by COPY_START, given back to COPY_END.
    pub data_version: u64,
    /// `hc_flags` (`HP_FLAG_*`, and the action for an upcall copy).
    pub flags: u16,
    /// `hc_errval`: the copy's result, a positive errno or 0.
    pub errval: u16,
    /// `hc_archive_id`.
    pub archive_id: u32,
    /// `hc_hai`: the action, by cookie (coordinator) or by FID (upcall).
    pub hai: ActionItem,
}

impl Copy {
    /// Decodes a copy from `b`, which must hold [`COPY_LEN`] bytes.
    pub fn decode(b: &[u8]) -> Option<Copy> {
        if b.len() < COPY_LEN {
            return None;
        }
        Some(Copy {
            data_version: le64(b, 0),
            flags: le16(b, 8),
            errval: le16(b, 10),
            archive_id: le32(b, 12),
            hai: ActionItem::decode(&b[16..])?,
        })
    }

    /// Encodes the copy into `b`, which must hold [`COPY_LEN`] bytes.
    pub fn encode(&self, b: &mut [u8]) {
        put(b, 0, &self.data_version.to_le_bytes());
        put(b, 8, &self.flags.to_le_bytes());
        put(b, 10, &self.errval.to_le_bytes());
        put(b, 12, &self.archive_id.to_le_bytes());
        self.hai.encode(&mut b[16..]);
    }

    /// For an upcall copy, the `HSMA_*` action in the top bits of the flags.
    pub fn upcall_action(&self) -> u32 {
        u32::from(self.flags & HP_FLAG_ACTION_MASK) >> HP_FLAG_ACTION_SHIFT
    }

    /// Flags for an upcall copy of `action`, as `lfs hsm_upcall` builds them from the request
    /// flags (`(flags & ~0xf800) | HP_FLAG_UPCALL | action << 11`).
    pub fn upcall_flags(request_flags: u64, action: u32) -> u16 {
        ((request_flags as u16) & !HP_FLAG_ACTION_MASK)
            | HP_FLAG_UPCALL
            | ((action << HP_FLAG_ACTION_SHIFT) as u16 & HP_FLAG_ACTION_MASK)
    }
}

/// `HAL_VERSION`.
pub const HAL_VERSION: u32 = 1;
/// Size of `struct hsm_action_list` without the file system name.
pub const HAL_HDR_LEN: usize = 32;

/// Rounds up to a multiple of 8 (`__ALIGN_KERNEL(x, 8)`).
pub const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// `struct hsm_action_list`, the header of what a copytool reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionList<'a> {
    /// `hal_count`: items that follow.
    pub count: u32,
    /// `hal_compound_id`: the request the items come from.
    pub compound_id: u64,
    /// `hal_flags`: the request's flags.
    pub flags: u64,
    /// `hal_archive_id`.
    pub archive_id: u32,
    /// `hal_fsname`, without its NUL.
    pub fsname: &'a [u8],
}

impl<'a> ActionList<'a> {
    /// Offset of the first item (`hai_first`): header and NUL-terminated name, aligned.
    pub fn first_item(&self) -> usize {
        align8(HAL_HDR_LEN + self.fsname.len() + 1)
    }

    /// Size of a list holding items with data of the given lengths.
    pub fn size(&self, data_lens: impl Iterator<Item = usize>) -> usize {
        self.first_item()
            + data_lens
                .map(|d| align8(ACTION_ITEM_LEN + d))
                .sum::<usize>()
    }

    /// Encodes the header and name into `out`; returns the offset of the first item.
    /// `out` must be at least [`ActionList::first_item`] bytes and zeroed.
    pub fn encode_header(&self, out: &mut [u8]) -> usize {
        put(out, 0, &HAL_VERSION.to_le_bytes());
        put(out, 4, &self.count.to_le_bytes());
        put(out, 8, &self.compound_id.to_le_bytes());
        put(out, 16, &self.flags.to_le_bytes());
        put(out, 24, &self.archive_id.to_le_bytes());
        put(out, 28, &0u32.to_le_bytes());
        put(out, HAL_HDR_LEN, self.fsname);
        self.first_item()
    }

    /// Encodes one item with its data at `at` of a zeroed `out`; returns the next offset.
    pub fn encode_item(out: &mut [u8], at: usize, item: &ActionItem, data: &[u8]) -> usize {
        let mut it = *item;
        it.len = (ACTION_ITEM_LEN + data.len()) as u32;
        it.encode(&mut out[at..]);
        put(out, at + ACTION_ITEM_LEN, data);
        at + align8(ACTION_ITEM_LEN + data.len())
    }

    /// Decodes a list header; `None` if `b` is short, of another version or unterminated.
    pub fn decode(b: &'a [u8]) -> Option<ActionList<'a>> {
        if b.len() < HAL_HDR_LEN || le32(b, 0) != HAL_VERSION {
            return None;
        }
        let name = &b[HAL_HDR_LEN..];
        let end = name.iter().position(|&c| c == 0)?;
        Some(ActionList {
            count: le32(b, 4),
            compound_id: le64(b, 8),
            flags: le64(b, 16),
            archive_id: le32(b, 24),
            fsname: &name[..end],
        })
    }

    /// The items of the whole list `b`, with their data; stops at the first malformed one.
    pub fn items(&self, b: &'a [u8]) -> ActionItems<'a> {
        ActionItems {
            buf: b,
            at: self.first_item(),
            left: self.count,
        }
    }
}

/// Iterator over the items of an action list.
pub struct ActionItems<'a> {
    buf: &'a [u8],
    at: usize,
    left: u32,
}

impl<'a> Iterator for ActionItems<'a> {
    type Item = (ActionItem, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let item = ActionItem::decode(self.buf.get(self.at..)?)?;
        let len = item.len as usize;
        if len < ACTION_ITEM_LEN {
            return None;
        }
        let data = self.buf.get(self.at + ACTION_ITEM_LEN..self.at + len)?;
        self.at += align8(len);
        self.left -= 1;
        Some((item, data))
    }
}

/// Size of the fixed part of `struct lustre_kernelcomm`.
pub const KERNELCOMM_LEN: usize = 24;
/// Most archive ids one copytool registers for (`LL_HSM_MAX_ARCHIVES_PER_AGENT`).
pub const MAX_ARCHIVES_PER_AGENT: usize = 32;

/// The archive ids of a copytool registration (`lk_data_count` ids in `lk_data`): a bit per
/// id 1..=32 in the result; 0 (no id, or an id 0) means every archive.
pub fn decode_register(b: &[u8]) -> Option<u64> {
    if b.len() < KERNELCOMM_LEN {
        return None;
    }
    let count = le32(b, 16) as usize;
    if count > MAX_ARCHIVES_PER_AGENT || b.len() < KERNELCOMM_LEN + 4 * count {
        return None;
    }
    let mut mask = 0u64;
    for i in 0..count {
        match le32(b, KERNELCOMM_LEN + 4 * i) {
            0 => return Some(0),
            id @ 1..=32 => mask |= 1 << id,
            _ => return None,
        }
    }
    Some(mask)
}

/// Encodes a copytool registration for `ids` into `out` (`KERNELCOMM_LEN + 4 * ids.len()`).
pub fn encode_register(out: &mut [u8], ids: &[u32]) {
    out[..KERNELCOMM_LEN].fill(0);
    put(out, 16, &(ids.len() as u32).to_le_bytes());
    for (i, id) in ids.iter().enumerate() {
        put(out, KERNELCOMM_LEN + 4 * i, &id.to_le_bytes());
    }
}

/// Whether a copytool registered for `mask` (from [`decode_register`]) serves `archive_id`.
pub fn serves(mask: u64, archive_id: u32) -> bool {
    mask == 0 || (archive_id <= 32 && mask & (1 << archive_id) != 0)
}

/// Size of `struct hsm_progress`.
pub const PROGRESS_LEN: usize = 48;

/// `struct hsm_progress`: a copytool's report that the bytes of `extent` were copied for the
/// action of `cookie` (on the data FID `fid`). The target adds up the lengths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// `hp_fid`.
    pub fid: Fid,
    /// `hp_cookie`.
    pub cookie: u64,
    /// `hp_extent.offset`.
    pub offset: u64,
    /// `hp_extent.length`.
    pub length: u64,
    /// `hp_flags` (`HP_FLAG_*`).
    pub flags: u16,
    /// `hp_errval`.
    pub errval: u16,
}

impl Progress {
    /// Decodes a report from `b`, which must hold [`PROGRESS_LEN`] bytes.
    pub fn decode(b: &[u8]) -> Option<Progress> {
        if b.len() < PROGRESS_LEN {
            return None;
        }
        Some(Progress {
            fid: get_fid(b, 0),
            cookie: le64(b, 16),
            offset: le64(b, 24),
            length: le64(b, 32),
            flags: le16(b, 40),
            errval: le16(b, 42),
        })
    }

    /// Encodes the report into `b`, which must hold [`PROGRESS_LEN`] bytes.
    pub fn encode(&self, b: &mut [u8]) {
        b[..PROGRESS_LEN].fill(0);
        put_fid(b, 0, &self.fid);
        put(b, 16, &self.cookie.to_le_bytes());
        put(b, 24, &self.offset.to_le_bytes());
        put(b, 32, &self.length.to_le_bytes());
        put(b, 40, &self.flags.to_le_bytes());
        put(b, 42, &self.errval.to_le_bytes());
    }
}

/// `hsm_progress_states`: no action, waiting for a copytool, running.
pub const HPS_NONE: u32 = 0;
/// `HPS_WAITING`.
pub const HPS_WAITING: u32 = 1;
/// `HPS_RUNNING`.
pub const HPS_RUNNING: u32 = 2;

/// Lustre's end of file in an extent (`LUSTRE_EOF`): an extent from `offset` to the end has the
/// length `LUSTRE_EOF - offset`.
pub const LUSTRE_EOF: u64 = u64::MAX;

/// Size of `struct rustre_hsm_state`: `{ s32 rs_fd; u32 pad; struct hsm_user_state; }`.
pub const STATE_LEN: usize = 40;

/// `struct hsm_user_state`, as [`IOC_STATE_GET`] returns it after the fd.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserState {
    /// `hus_states` (`HS_*`).
    pub states: u32,
    /// `hus_archive_id`.
    pub archive_id: u32,
    /// `hus_in_progress_state`: [`HPS_WAITING`] while an action waits for a copytool (or has
    /// one that has not started it), [`HPS_RUNNING`] once started, [`HPS_NONE`] without one.
    pub in_progress_state: u32,
    /// `hus_in_progress_action`: the `HSMA_*` action waiting or running, or 0.
    pub in_progress_action: u32,
    /// `hus_in_progress_location.offset`: 0.
    pub location_offset: u64,
    /// `hus_in_progress_location.length`: for a running copy, the bytes the copytool reported
    /// copied; for a waiting one, the extent of the action (to [`LUSTRE_EOF`]).
    pub location_length: u64,
}

impl UserState {
    /// Decodes the state part of a `rustre_hsm_state`.
    pub fn decode(b: &[u8]) -> Option<UserState> {
        if b.len() < STATE_LEN {
            return None;
        }
        Some(UserState {
            states: le32(b, 8),
            archive_id: le32(b, 12),
            in_progress_state: le32(b, 16),
            in_progress_action: le32(b, 20),
            location_offset: le64(b, 24),
            location_length: le64(b, 32),
        })
    }

    /// Encodes a whole `rustre_hsm_state` for `fd` into `b` ([`STATE_LEN`] bytes).
    pub fn encode(&self, fd: i32, b: &mut [u8]) {
        b[..STATE_LEN].fill(0);
        put(b, 0, &fd.to_le_bytes());
        put(b, 8, &self.states.to_le_bytes());
        put(b, 12, &self.archive_id.to_le_bytes());
        put(b, 16, &self.in_progress_state.to_le_bytes());
        put(b, 20, &self.in_progress_action.to_le_bytes());
        put(b, 24, &self.location_offset.to_le_bytes());
        put(b, 32, &self.location_length.to_le_bytes());
    }

    /// The fd of a `rustre_hsm_state`.
    pub fn fd(b: &[u8]) -> Option<i32> {
        (b.len() >= STATE_LEN).then(|| le32(b, 0) as i32)
    }
}

/// The file system name of a target: `lustre` for `lustre-MDT0000` (Lustre's
/// `obd_uuid2fsname`), the whole name if it has no `-MDT` part.
pub fn fsname(target: &[u8]) -> &[u8] {
    let mut i = target.len();
    while i >= 4 {
        if &target[i - 4..i] == b"-MDT" {
            return &target[..i - 4];
        }
        i -= 1;
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_follow_the_ioc_macros() {
        let iow = |nr: u32, size: u32| (1 << 30) | (size << 16) | (u32::from(b'f') << 8) | nr;
        assert_eq!(IOC_REQUEST, iow(217, 24));
        assert_eq!(IOC_COPY_START, iow(214, 8));
        assert_eq!(IOC_COPY_END, iow(215, 8));
        assert_eq!(IOC_CT_START, iow(213, 24));
        assert_eq!(IOC_PROGRESS, iow(216, 24));
        assert_eq!(
            IOC_STATE_GET,
            (3 << 30) | ((STATE_LEN as u32) << 16) | (0x66 << 8) | 0xf3
        );
    }

    #[test]
    fn request_round_trip() {
        let fids = [
            Fid {
                seq: 0x200000401,
                oid: 1,
                ver: 0,
            },
            Fid {
                seq: 12,
                oid: 7,
                ver: 0,
            },
        ];
        let req = Request {
            action: 10,
            archive_id: 3,
            flags: 1,
            itemcount: 2,
            data_len: 4,
        };
        let mut b = [0u8; REQUEST_LEN + 2 * USER_ITEM_LEN + 4];
        encode_request(&mut b, &req, &fids, b"abcd");
        let got = Request::decode(&b).unwrap();
        assert_eq!(got, req);
        assert_eq!(got.checked_len(), Ok(b.len()));
        assert_eq!(Request::item_fid(&b, 1), fids[1]);
        assert_eq!(got.data(&b), Ok(&b"abcd"[..]));
    }

    #[test]
    fn bad_requests() {
        let r = Request {
            action: 1,
            archive_id: 0,
            flags: 0,
            itemcount: 1,
            data_len: 0,
        };
        assert_eq!(r.checked_len(), Err(RequestError::BadAction));
        let r = Request {
            action: 10,
            itemcount: MAX_ITEMS + 1,
            ..r
        };
        assert_eq!(r.checked_len(), Err(RequestError::TooBig));
        let r = Request {
            itemcount: 0,
            data_len: 2,
            ..r
        };
        assert_eq!(r.data(&[0; REQUEST_LEN + 2]), Err(RequestError::BadData));
        assert_eq!(r.data(&[0; REQUEST_LEN + 1]), Err(RequestError::Short));
        assert_eq!(Request::decode(&[0; 23]), Err(RequestError::Short));
    }

    #[test]
    fn action_list_round_trip() {
        let hal = ActionList {
            count: 2,
            compound_id: 9,
            flags: 4,
            archive_id: 1,
            fsname: b"lustre",
        };
        assert_eq!(hal.first_item(), 40);
        let size = hal.size([0usize, 3].into_iter());
        assert_eq!(size, 40 + 72 + 80);
        let mut b = [0u8; 192];
        let mut at = hal.encode_header(&mut b);
        let a = ActionItem {
            action: 20,
            fid: Fid {
                seq: 5,
                oid: 6,
                ver: 0,
            },
            cookie: 77,
            ..Default::default()
        };
        at = ActionList::encode_item(&mut b, at, &a, &[]);
        at = ActionList::encode_item(&mut b, at, &a, b"xyz");
        assert_eq!(at, size);
        let got = ActionList::decode(&b).unwrap();
        assert_eq!(got, hal);
        let items: [(ActionItem, &[u8]); 2] = {
            let mut it = got.items(&b);
            [it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(items[0].0.len, 72);
        assert_eq!(items[1].0.len, 75);
        assert_eq!(items[1].1, b"xyz");
        assert_eq!(items[1].0.cookie, 77);
        assert!(got.items(&b).nth(2).is_none());
    }

    #[test]
    fn copy_round_trip_and_upcall_flags() {
        let mut c = Copy {
            data_version: 5,
            errval: 2,
            archive_id: 3,
            ..Default::default()
        };
        c.flags = Copy::upcall_flags(0x1, 20);
        assert_eq!(c.flags, 0xa000 | 0x4 | 0x1);
        assert_eq!(c.upcall_action(), 20);
        assert_eq!(Copy::upcall_flags(0, 22) | HP_FLAG_COMPLETED, 0xb005);
        let mut b = [0u8; COPY_LEN];
        c.encode(&mut b);
        assert_eq!(Copy::decode(&b), Some(c));
    }

    #[test]
    fn register_masks() {
        let mut b = [0u8; KERNELCOMM_LEN + 8];
        encode_register(&mut b, &[1, 3]);
        let m = decode_register(&b).unwrap();
        assert!(serves(m, 1) && serves(m, 3) && !serves(m, 2) && !serves(m, 33));
        encode_register(&mut b, &[]);
        assert_eq!(decode_register(&b[..KERNELCOMM_LEN]), Some(0));
        encode_register(&mut b, &[33]);
        assert_eq!(decode_register(&b[..KERNELCOMM_LEN + 4]), None);
        assert!(serves(0, 7));
    }

    #[test]
    fn state_round_trip() {
        let s = UserState {
            states: 9,
            archive_id: 2,
            in_progress_state: HPS_RUNNING,
            in_progress_action: 10,
            location_offset: 0,
            location_length: 65536,
        };
        let mut b = [0u8; STATE_LEN];
        s.encode(-1, &mut b);
        assert_eq!(UserState::decode(&b), Some(s));
        assert_eq!(UserState::fd(&b), Some(-1));
    }

    #[test]
    fn progress_round_trip() {
        let p = Progress {
            fid: Fid {
                seq: 0x200000401,
                oid: 7,
                ver: 0,
            },
            cookie: 0x1234,
            offset: 4096,
            length: 65536,
            flags: 0,
            errval: 0,
        };
        let mut b = [0xffu8; PROGRESS_LEN];
        p.encode(&mut b);
        assert_eq!(Progress::decode(&b), Some(p));
        assert_eq!(&b[44..48], &[0; 4]);
        assert_eq!(Progress::decode(&b[..PROGRESS_LEN - 1]), None);
    }

    #[test]
    fn fsnames() {
        assert_eq!(fsname(b"lustre-MDT0000"), b"lustre");
        assert_eq!(fsname(b"a-b-MDT0001"), b"a-b");
        assert_eq!(fsname(b"scratch"), b"scratch");
    }
}
