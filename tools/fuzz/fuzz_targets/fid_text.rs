// SPDX-License-Identifier: GPL-2.0

//! FIDs in text (`mdt/fid.rs`): `Fid::parse` of arbitrary bytes, and format -> parse of
//! arbitrary FIDs, bracketed, without brackets and as the upcall's argument.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_fuzz::Cursor;
use rustre_logic::argv::fid_arg;
use rustre_logic::fid::{Fid, FID_LEN};

fn check_text(f: &Fid) {
    let text = f.to_string();
    assert!(text.len() <= FID_LEN, "{text}");
    assert_eq!(Fid::parse(text.as_bytes()), Some(*f));
    let bare = f.no_brace().to_string();
    assert_eq!(bare.len() + 2, text.len());
    assert_eq!(Fid::parse(bare.as_bytes()), Some(*f));
    let (b, n) = fid_arg(f);
    assert_eq!(&b[..n], text.as_bytes());
}

fuzz_target!(|data: &[u8]| {
    if let Some(f) = Fid::parse(data) {
        check_text(&f);
        // Three hexadecimal numbers of at most 16 digits, two colons, two brackets.
        assert!(data.len() <= 3 * 18 + 4);
        assert_eq!(data.iter().filter(|&&c| c == b':').count(), 2);
    }
    let mut c = Cursor::new(data);
    let f = Fid {
        seq: c.u64(),
        oid: c.u32(),
        ver: c.u32(),
    };
    check_text(&f);
    assert_eq!(f.is_zero(), f == Fid::default());
});
