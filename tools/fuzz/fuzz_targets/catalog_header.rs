// SPDX-License-Identifier: GPL-2.0

//! The two header slots of a catalog (`mdt/catalog_fmt.rs`) as attach reads them from disk:
//! `Header::decode`, `pick` and the kernel's in-place `pick_into` must agree; a decoded header
//! re-encodes to itself; the changelog user operations on a header read from disk keep it one
//! that reads back the same.
//!
//! Input: flags, a split point, operation bytes, then the bytes of the two slots. The flags can
//! stamp the magic and fix the CRC of either slot, so that the fuzzer reaches the fields.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_fuzz::{seal_slot, stamp_slot, Cursor};
use rustre_logic::catalog_fmt::{
    parse_user_id, valid_target_name, Header, UserError, UsersText, MAX_USERS, SLOT_LEN,
    TARGET_NAME_MAX, USER_NAME_MAX,
};

/// Encodes `h` and checks that it reads back unchanged.
fn check_round_trip(h: &Header) {
    let mut slot = [0u8; SLOT_LEN];
    h.encode(&mut slot);
    assert_eq!(Header::decode(&slot).as_ref(), Ok(h));
    let mut other = Header::EMPTY;
    assert_eq!(other.pick_into(&slot, &[0u8; SLOT_LEN]), Ok(0));
    assert_eq!(&other, h);
}

fn check_header(h: &Header) {
    assert!(h.target().len() <= TARGET_NAME_MAX && !h.target().is_empty());
    assert!(h.first_index >= 1 && h.first_index <= h.next_index);
    for u in h.users.iter().flatten() {
        assert!(u.id != 0 && u.id <= h.last_user);
        assert!(u.name().len() <= USER_NAME_MAX);
        let label = u.label().to_string();
        assert!(label.starts_with("cl"));
    }
    let min = h.users.iter().flatten().map(|u| u.endrec).min();
    assert_eq!(h.min_endrec(), min);
    let text = UsersText {
        header: h,
        current_index: h.next_index,
        now: h.generation,
    }
    .to_string();
    assert!(text.starts_with("current_index: "));
    // One line per user, unless a name read from disk holds a line break.
    let plain = h
        .users
        .iter()
        .flatten()
        .all(|u| u.name().iter().all(u8::is_ascii_graphic));
    if plain {
        assert_eq!(
            text.lines().count(),
            2 + h.users.iter().flatten().count(),
            "{text}"
        );
    }
    let _ = valid_target_name(h.target());
}

/// Runs user operations from `ops` on `h`, checking each result.
fn user_ops(h: &mut Header, ops: &mut Cursor<'_>) {
    for _ in 0..8 {
        let op = ops.u8();
        let name = ops.short_slice();
        let arg = ops.short_slice();
        let current = ops.u64();
        let now = ops.u64();
        match op % 4 {
            0 => {
                let before = h.users.iter().flatten().count();
                let last = h.last_user;
                match h.register(name, arg, current, now) {
                    Ok(slot) => {
                        let u = h.users[slot].expect("registered user");
                        assert!(u.id > last && u.id == h.last_user);
                        assert_eq!((u.name(), u.endrec), (name, current));
                        assert_eq!(h.users.iter().flatten().count(), before + 1);
                        // Found by its label, its id and its name.
                        assert_eq!(h.find_user(u.label().to_string().as_bytes()), Some(slot));
                    }
                    Err(UserError::Full) => {
                        assert!(before == MAX_USERS || last == u32::MAX);
                    }
                    Err(_) => assert_eq!(h.users.iter().flatten().count(), before),
                }
            }
            1 => {
                let endrec = u64::from_le_bytes({
                    let mut a = [0u8; 8];
                    let n = arg.len().min(8);
                    a[..n].copy_from_slice(&arg[..n]);
                    a
                });
                let slot = h.find_user(name);
                let before = slot.and_then(|s| h.users[s]).map(|u| u.endrec);
                match h.clear(name, endrec, current, now) {
                    Ok(()) => {
                        let after = h.users[slot.expect("cleared a user")].expect("user").endrec;
                        let want = if endrec == 0 { current } else { endrec };
                        assert_eq!(after, before.expect("user").max(want));
                        assert!(endrec <= current);
                    }
                    Err(UserError::OutOfRange) => assert!(endrec > current),
                    Err(UserError::NoUser) => assert!(slot.is_none()),
                    Err(e) => panic!("clear: {e:?}"),
                }
            }
            2 => {
                let slot = h.find_user(name);
                match h.deregister(name) {
                    Ok(id) => assert!(slot.is_some_and(|_| id != 0)),
                    Err(e) => assert_eq!((e, slot), (UserError::NoUser, None)),
                }
            }
            _ => {
                if let Some(n) = parse_user_id(name) {
                    assert!(n != 0);
                    assert_eq!(parse_user_id(format!("cl{n}").as_bytes()), Some(n));
                }
            }
        }
        check_header(h);
        check_round_trip(h);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let flags = c.u8();
    let split = usize::from(c.u16());
    let mut ops = Cursor::new(c.short_slice());
    let body = c.rest();
    let (a, b) = body.split_at(split.min(body.len()));
    let mut s0 = [0u8; SLOT_LEN];
    let mut s1 = [0u8; SLOT_LEN];
    s0[..a.len().min(SLOT_LEN)].copy_from_slice(&a[..a.len().min(SLOT_LEN)]);
    s1[..b.len().min(SLOT_LEN)].copy_from_slice(&b[..b.len().min(SLOT_LEN)]);
    if flags & 0x10 != 0 {
        // The second slot: the first one written again, one generation later.
        s1 = s0;
        s1[16] = s1[16].wrapping_add(1);
    }
    if flags & 1 != 0 {
        stamp_slot(&mut s0);
    }
    if flags & 2 != 0 {
        seal_slot(&mut s0);
    }
    if flags & 4 != 0 {
        stamp_slot(&mut s1);
    }
    if flags & 8 != 0 {
        seal_slot(&mut s1);
    }
    // A short read of the first slot, as attach passes it.
    let s0_len = if flags & 0x20 != 0 {
        a.len().min(SLOT_LEN)
    } else {
        SLOT_LEN
    };
    let s0 = &s0[..s0_len];

    let d0 = Header::decode(s0);
    let d1 = Header::decode(&s1);
    let picked = Header::pick(s0, &s1);
    let mut h = Header::EMPTY;
    let slot = h.pick_into(s0, &s1);
    match (&picked, slot) {
        (Ok((p, ps)), Ok(s)) => {
            assert_eq!(*ps, s);
            assert_eq!(*p, h);
            let other = if s == 0 { &d1 } else { &d0 };
            if let Ok(o) = other {
                assert!(o.generation <= h.generation);
            }
            assert_eq!(Ok(&h), if s == 0 { d0.as_ref() } else { d1.as_ref() });
        }
        (Err(e), Err(f)) => assert_eq!(*e, f, "pick and pick_into disagree"),
        _ => panic!("pick {picked:?} but pick_into {slot:?}"),
    }
    for d in [&d0, &d1].into_iter().flatten() {
        check_header(d);
        check_round_trip(d);
    }
    if let Ok((mut h, _)) = picked {
        user_ops(&mut h, &mut ops);
    }
});
