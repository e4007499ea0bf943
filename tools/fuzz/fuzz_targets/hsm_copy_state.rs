// SPDX-License-Identifier: GPL-2.0

//! The other HSM inputs (`hsm/upcall/uapi.rs`, `hsm/upcall/state.rs`): `struct hsm_copy` from a
//! copytool (`LL_IOC_HSM_COPY_START`/`END`), its progress reports (`struct hsm_progress`,
//! `LL_IOC_HSM_PROGRESS`), a copytool's registration (`lustre_kernelcomm`),
//! `rustre_hsm_state`, and a file's `trusted.hsm` attribute read from disk with the state
//! transitions applied to it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_fuzz::Cursor;
use rustre_logic::mask::{Action, ACTIONS};
use rustre_logic::state::{
    cl_hsm_flags, HsmAttrs, HsmEvent, StateError, StateText, CLF_HSM_ERROVERFLOW, CLF_HSM_MAXERROR,
    HS_ARCHIVED, HS_DIRTY, HS_EXISTS, HS_LOST, HS_RELEASED, XATTR_LEN,
};
use rustre_logic::uapi::{
    decode_register, encode_register, serves, Copy, Progress, UserAction, UserState, COPY_LEN,
    HP_FLAG_ACTION_MASK, HP_FLAG_UPCALL, KERNELCOMM_LEN, MAX_ARCHIVES_PER_AGENT, PROGRESS_LEN,
    STATE_LEN,
};

fn copy(b: &[u8]) {
    let Some(c) = Copy::decode(b) else {
        assert!(b.len() < COPY_LEN);
        return;
    };
    let mut out = [0u8; COPY_LEN];
    c.encode(&mut out);
    assert_eq!(out[..], b[..COPY_LEN]);
    assert_eq!(Copy::decode(&out), Some(c));
    let action = c.upcall_action();
    assert!(action < 32);
    // The flags of an upcall copy carry the action and keep the request's low bits.
    let flags = Copy::upcall_flags(c.data_version, c.hai.action);
    assert_ne!(flags & HP_FLAG_UPCALL, 0);
    assert_eq!(
        flags & !HP_FLAG_ACTION_MASK,
        (c.data_version as u16 & !HP_FLAG_ACTION_MASK) | HP_FLAG_UPCALL
    );
    let again = Copy { flags, ..c };
    assert_eq!(again.upcall_action(), c.hai.action & 0x1f);
}

fn progress(b: &[u8]) {
    let Some(p) = Progress::decode(b) else {
        assert!(b.len() < PROGRESS_LEN);
        return;
    };
    let mut out = [0u8; PROGRESS_LEN];
    p.encode(&mut out);
    // Everything but the padding is kept.
    assert_eq!(out[..44], b[..44]);
    assert_eq!(out[44..], [0; 4]);
    assert_eq!(Progress::decode(&out), Some(p));
    // The target adds up lengths without overflowing.
    let _ = p.length.saturating_add(p.offset);
}

fn register(b: &[u8]) {
    let Some(mask) = decode_register(b) else {
        return;
    };
    assert_eq!(mask & !(((1u64 << 32) - 1) << 1), 0, "{mask:#x}");
    let count = u32::from_le_bytes([b[16], b[17], b[18], b[19]]) as usize;
    assert!(count <= MAX_ARCHIVES_PER_AGENT && KERNELCOMM_LEN + 4 * count <= b.len());
    let ids: Vec<u32> = (0..count)
        .map(|i| {
            let at = KERNELCOMM_LEN + 4 * i;
            u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
        })
        .collect();
    for &id in &ids {
        assert!(serves(mask, id));
    }
    assert_eq!(serves(mask, 0), mask == 0);
    assert_eq!(serves(mask, 33), mask == 0);
    assert_eq!(serves(mask, u32::MAX), mask == 0);
    let mut out = vec![0u8; KERNELCOMM_LEN + 4 * ids.len()];
    encode_register(&mut out, &ids);
    assert_eq!(decode_register(&out), Some(mask));
}

fn user_state(b: &[u8]) {
    let Some(s) = UserState::decode(b) else {
        assert!(b.len() < STATE_LEN && UserState::fd(b).is_none());
        return;
    };
    let fd = UserState::fd(b).expect("fd");
    let mut out = [0u8; STATE_LEN];
    s.encode(fd, &mut out);
    assert_eq!(UserState::decode(&out), Some(s));
    assert_eq!(UserState::fd(&out), Some(fd));
    let text = StateText {
        path: "f",
        states: s.states,
        archive_id: s.archive_id,
    }
    .to_string();
    assert!(text.starts_with(&format!("f: (0x{:08x})", s.states)));
}

fn attrs(b: &[u8], c: &mut Cursor<'_>) {
    let a = match HsmAttrs::decode(b) {
        Ok(a) => a,
        Err(e) => {
            assert_eq!(e, StateError::Corrupt);
            return;
        }
    };
    assert_eq!(b.len(), XATTR_LEN);
    assert_eq!(a.encode()[..], b[..]);
    let dv = c.u64();
    let archive_id = c.u32();
    let f = a.effective(dv);
    assert_eq!(f & !HS_DIRTY, a.flags & !HS_DIRTY);
    let ua = UserAction::from_u32(10 + u32::from(c.u8() % 5)).expect("action");
    match a.needs(ua, archive_id, dv) {
        Ok(_) => {}
        Err(e) => assert_eq!((e, ua), (StateError::ArchiveIdChange, UserAction::Archive)),
    }
    match a.released(dv) {
        Ok(r) => {
            assert_ne!(r.flags & HS_RELEASED, 0);
            assert_eq!(r.flags & !HS_RELEASED, a.flags & !HS_RELEASED);
        }
        Err(e) => {
            assert_eq!(e, StateError::NotReleasable);
            assert!(f & HS_ARCHIVED == 0 || f & (HS_DIRTY | HS_LOST) != 0 || f & 0x10 != 0);
        }
    }
    let action = ACTIONS[usize::from(c.u8()) % ACTIONS.len()];
    let errval = c.u16();
    let after = a.completed(action, errval, archive_id, dv);
    if errval != 0 {
        assert_eq!(after.flags & !HS_DIRTY, a.flags & !HS_DIRTY);
        assert_eq!(
            (after.archive_id, after.arch_ver),
            (a.archive_id, a.arch_ver)
        );
    } else {
        match action {
            Action::Archive => {
                assert_eq!(after.effective(dv) & HS_DIRTY, 0);
                assert_ne!(after.flags & (HS_EXISTS | HS_ARCHIVED), 0);
            }
            Action::Restore => assert_eq!(after.flags & HS_RELEASED, 0),
            Action::Remove => assert_eq!(after.flags & (HS_EXISTS | HS_ARCHIVED), 0),
            Action::Noop | Action::Cancel => assert_eq!(after, a),
        }
    }
    // Whatever the state, it is stored and read back the same.
    assert_eq!(HsmAttrs::decode(&after.encode()), Ok(after));
    // Its CL_HSM record flags: error, event and dirty bit in their fields.
    let event = HsmEvent::of(action);
    let dirty = after.effective(dv) & HS_DIRTY != 0;
    let cl = cl_hsm_flags(event, errval, dirty);
    let err = if errval > CLF_HSM_MAXERROR {
        CLF_HSM_ERROVERFLOW
    } else {
        errval
    };
    assert_eq!(cl & 0x7f, err);
    assert_eq!((cl >> 7) & 7, event as u16);
    assert_eq!(cl >> 10, u16::from(dirty));
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let which = c.u8();
    let body = c.short_slice();
    match which % 5 {
        0 => copy(body),
        1 => register(body),
        2 => user_state(body),
        3 => progress(body),
        _ => attrs(body, &mut c),
    }
});
