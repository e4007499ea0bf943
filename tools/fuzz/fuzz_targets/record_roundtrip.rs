// SPDX-License-Identifier: GPL-2.0

//! Changelog records (`mdt/record.rs`) from arbitrary bytes, as a catalog or a reader gets
//! them: decode, re-encode what decoded, decode again and compare; the text form; a run of
//! records split as `lctl changelog_records` splits the kernel's reply.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_logic::record::{
    fit_records, nid_to_lnet_nid_t, rec_offset, Record, RecordError, CLF_FLAGMASK, CL_LAST,
    CR_MAXSIZE, EXT_JOBID_LEN, EXT_XATTR_LEN, NAME_MAX, REC_HDR_LEN,
};

fn check_one(data: &[u8]) -> Option<usize> {
    let (rec, n) = Record::decode(data).ok()?;
    assert!(
        n >= REC_HDR_LEN && n <= data.len() && n <= CR_MAXSIZE,
        "size {n}"
    );
    // The size is the header's name length past the extensions its flags announce.
    let cr_flags = u16::from_le_bytes([data[2], data[3]]);
    let namelen = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let xf = rec.extra.map_or(0, |e| e.flags());
    assert_eq!(n, rec_offset(cr_flags, xf) + namelen);
    assert_eq!(rec.flags, cr_flags & CLF_FLAGMASK);
    assert!(rec.name.len() + rec.sname.len() <= namelen);

    let text = rec.text().to_string();
    assert!(!text.contains('\n'), "{text:?}");

    let mut out = [0u8; CR_MAXSIZE];
    match rec.encode(&mut out) {
        Ok(m) => {
            assert_eq!(m, rec.size());
            // Bytes after a rename's NUL with an empty source name are not kept.
            assert!(m <= n, "re-encoded {m} > decoded {n}");
            let (back, m2) = Record::decode(&out[..m]).expect("an encoded record decodes");
            assert_eq!(m2, m);
            assert_eq!(back, rec);
            assert_eq!(back.text().to_string(), text);
            assert_eq!(
                Record::decode(&out[..m - 1]).map(|(_, n)| n),
                Err(RecordError::Truncated)
            );
            let mut again = [0u8; CR_MAXSIZE];
            assert_eq!(back.encode(&mut again), Ok(m));
            assert_eq!(out[..m], again[..m], "encoding is not canonical");
            assert_eq!(rec.encode(&mut again[..m - 1]), Err(RecordError::Truncated));
        }
        Err(RecordError::BadType) => assert!(rec.rtype >= CL_LAST),
        Err(RecordError::TooLong) => assert!(
            rec.name.len() > NAME_MAX
                || rec.sname.len() > NAME_MAX
                || rec.jobid.is_some_and(|j| j.len() >= EXT_JOBID_LEN)
                || rec
                    .extra
                    .and_then(|e| e.xattr)
                    .is_some_and(|x| x.len() >= EXT_XATTR_LEN)
        ),
        Err(e) => panic!("a decoded record does not encode: {e:?}"),
    }

    // What a reader without CHANGELOG_FLAG_NID_BE gets: same size, still printable.
    let mut old = rec;
    nid_to_lnet_nid_t(&mut old);
    assert_eq!(old.size(), rec.size());
    let _ = old.text().to_string();
    Some(n)
}

fuzz_target!(|data: &[u8]| {
    // A run of records, each after the one before, as in a `records` reply.
    let mut at = 0;
    let mut lens = Vec::new();
    while let Some(n) = check_one(&data[at..]) {
        lens.push(n);
        at += n;
    }
    assert!(at <= data.len());
    // How many of them fit a reader's buffer.
    let room = data.len() / 2;
    match fit_records(lens.iter().copied(), room) {
        Ok((k, used)) => {
            assert!(k <= lens.len() && used <= room);
            assert_eq!(used, lens[..k].iter().sum::<usize>());
            assert!(k == lens.len() || used + lens[k] > room);
        }
        Err(len) => assert!(lens.first() == Some(&len) && len > room),
    }
    // lctl's split of a reply into whole records and the next index to ask for.
    let (whole, next) = lctl::cli::whole_records(data, 7);
    assert_eq!(whole, at);
    if whole == 0 {
        assert_eq!(next, Some(7));
    }
});
