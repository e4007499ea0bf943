// SPDX-License-Identifier: GPL-2.0

//! The HSM upcall mask (`hsm/upcall/mask.rs`), as written to `mdt.*.hsm.upcall_mask`, and the
//! coordinator policy, as written to `mdt.*.hsm.policy`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_logic::mask::{
    format_mask, format_policy, parse_policy, parse_upcall_mask, Action, MaskError, POLICY_NBR,
    UPCALL_ALLOWED,
};

fn policy(data: &[u8]) {
    for current in [0, POLICY_NBR] {
        let Some(p) = parse_policy(current, data) else {
            continue;
        };
        assert_eq!(p & !POLICY_NBR, 0);
        let mut text = String::new();
        format_policy(p, &mut text).expect("formats");
        assert!(text == "NonBlockingRestore" || text == "[NonBlockingRestore]");
    }
}

fuzz_target!(|data: &[u8]| {
    policy(data);
    let words = || {
        data.split(|c| matches!(c, b' ' | b'\t' | b'\x0b' | b'\n'))
            .filter(|w| !w.is_empty())
    };
    match parse_upcall_mask(data) {
        Ok(mask) => {
            assert_eq!(mask & !UPCALL_ALLOWED, 0);
            assert_eq!(mask == 0, words().next().is_none());
            let mut text = String::new();
            format_mask(mask, &mut text).expect("formats");
            assert_eq!(parse_upcall_mask(text.as_bytes()), Ok(mask));
            for w in words() {
                let a = Action::from_name(w).expect("an accepted word is an action");
                assert_ne!(mask & a.bit(), 0);
            }
        }
        Err(MaskError::UnknownAction) => {
            assert!(words().any(|w| Action::from_name(w).is_none()));
        }
        Err(MaskError::NotAllowed) => {
            assert!(words()
                .filter_map(Action::from_name)
                .any(|a| a.bit() & UPCALL_ALLOWED == 0));
        }
    }
});
