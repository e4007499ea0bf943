// SPDX-License-Identifier: GPL-2.0

//! The changelog mask syntax (`mdt/record.rs`, `parse_changelog_mask`), as written to
//! `mdd.*.changelog_mask` or given to `changelog_register -m`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_fuzz::Cursor;
use rustre_logic::record::{
    parse_changelog_mask, type_bit, type_by_name, MaskNames, CHANGELOG_ALLMASK, CHANGELOG_MINMASK,
    TYPE_NAMES,
};

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let old = c.u32();
    let text = c.rest();
    match parse_changelog_mask(old, text) {
        Ok(mask) => {
            assert_eq!(mask & CHANGELOG_MINMASK, CHANGELOG_MINMASK);
            assert_eq!(mask & !CHANGELOG_ALLMASK, 0);
            // Printed and read back (from any mask), it is the same mask.
            let names = MaskNames(mask).to_string();
            assert_eq!(parse_changelog_mask(!old, names.as_bytes()), Ok(mask));
            for n in names.split(' ') {
                let t = type_by_name(n.as_bytes()).expect("a printed name is a type");
                assert_ne!(mask & type_bit(t), 0);
            }
        }
        Err(e) => {
            assert!(e.at <= text.len() && e.len <= text.len() - e.at, "{e:?}");
            if e.len > 0 {
                let word = &text[e.at..e.at + e.len];
                let word = word
                    .strip_prefix(b"+")
                    .or(word.strip_prefix(b"-"))
                    .unwrap_or(word);
                assert!(type_by_name(word).is_none());
            }
        }
    }
    // Every type name, in any case, is known; the bit of any type is 0 or one bit.
    if let Some(&b) = text.first() {
        let name = TYPE_NAMES[usize::from(b) % TYPE_NAMES.len()];
        let t = type_by_name(name.to_ascii_lowercase().as_bytes()).expect("known type");
        assert_eq!(TYPE_NAMES[t as usize], name);
    }
    let bit = type_bit(old);
    assert!(bit == 0 || bit.is_power_of_two());
    assert_eq!(bit == 0, old >= 32);
});
