// SPDX-License-Identifier: GPL-2.0

//! Catalog frames (`mdt/catalog_fmt.rs`) as recovery reads them from disk: `parse_frame` and
//! `scan` over arbitrary bytes, over the same bytes made into frames with valid CRCs (so that
//! the records inside are what is judged), torn at the end; `unpack_frames` (the read path)
//! over both; and `seal_frame` -> `parse_frame`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_fuzz::repair_frames;
use rustre_logic::catalog_fmt::{
    encode_frame, frame_len, parse_frame, scan, seal_frame, unpack_frames, Frame, FrameError,
    FRAME_HDR, FRAME_TRAILER,
};
use rustre_logic::record::{Record, CR_MAXSIZE, REC_HDR_LEN};

/// What any accepted frame must be.
fn check_frame(buf: &[u8], fr: &Frame) {
    assert_eq!(fr.rec_at, FRAME_HDR);
    assert!(fr.rec_len >= REC_HDR_LEN && fr.rec_len <= CR_MAXSIZE);
    assert_eq!(fr.len, frame_len(fr.rec_len));
    assert!(fr.rec_at + fr.rec_len + FRAME_TRAILER <= fr.len && fr.len <= buf.len());
    assert_eq!(fr.len % 8, 0);
    let (rec, n) = Record::decode(&buf[fr.rec_at..fr.rec_at + fr.rec_len]).expect("record");
    assert_eq!((n, rec.index), (fr.rec_len, fr.index));
}

fn check_scan(buf: &[u8], first: Option<u64>) {
    let s = scan(buf, first);
    assert!(s.good_len <= buf.len());
    assert_eq!(s.stop.is_none(), s.good_len == buf.len(), "{s:?}");
    assert_eq!(s.records == 0, s.last_index.is_none());
    // Walk the accepted frames again: each is valid, indices rise from `first`.
    let (mut at, mut count, mut prev) = (0, 0, None::<u64>);
    while at < s.good_len {
        let fr = parse_frame(&buf[at..s.good_len]).expect("an accepted frame parses alone");
        check_frame(&buf[at..], &fr);
        assert!(first.is_none_or(|f| fr.index >= f));
        assert!(
            prev.is_none_or(|p| fr.index > p),
            "{prev:?} then {}",
            fr.index
        );
        prev = Some(fr.index);
        at += fr.len;
        count += 1;
    }
    assert_eq!((at, count, prev), (s.good_len, s.records, s.last_index));
    // The stop reason is that of the frame where the scan stopped.
    if let Some(stop) = s.stop {
        match parse_frame(&buf[s.good_len..]) {
            Err(e) => assert_eq!(e, stop),
            Ok(_) => assert_eq!(stop, FrameError::BadRecord),
        }
    }
    // Recovery of the good part alone finds the same, and a torn last frame drops just it.
    let again = scan(&buf[..s.good_len], first);
    assert_eq!(
        (again.records, again.last_index, again.good_len, again.stop),
        (s.records, s.last_index, s.good_len, None)
    );
    if s.records > 0 {
        let torn = scan(&buf[..s.good_len - 1], first);
        assert_eq!(torn.records, s.records - 1);
        assert_eq!(torn.stop, Some(FrameError::Short));
    }
}

/// `unpack_frames` takes the same records, in order, as walking the frames one by one does,
/// and stops at the same place.
fn check_unpack(buf: &[u8], limit: usize, last: u64) {
    let mut want = Vec::new();
    let (mut at, mut next) = (0, None);
    while let Ok(fr) = parse_frame(&buf[at..]) {
        if fr.index > last || want.len() + fr.rec_len > limit {
            break;
        }
        want.extend_from_slice(&buf[at + fr.rec_at..at + fr.rec_at + fr.rec_len]);
        at += fr.len;
        next = Some(fr.index.saturating_add(1));
    }
    let mut b = buf.to_vec();
    let u = unpack_frames(&mut b, limit, last);
    assert_eq!((u.used, u.consumed, u.next), (want.len(), at, next));
    assert!(u.used <= limit && u.used <= u.consumed && u.consumed <= buf.len());
    assert_eq!(&b[..u.used], &want[..]);
}

/// Seals `payload` as the record of frame `index` and reads it back; whether it was accepted.
fn check_seal(payload: &[u8], index: u64, flip: usize) -> bool {
    let rec_len = payload.len();
    let mut frame = vec![0xa5u8; frame_len(rec_len)];
    frame[FRAME_HDR..FRAME_HDR + rec_len].copy_from_slice(payload);
    assert_eq!(seal_frame(index, rec_len, &mut frame), Some(frame.len()));
    let short = frame.len() - 8;
    assert_eq!(seal_frame(index, rec_len, &mut frame[..short]), None);
    let mut copy = vec![0u8; frame.len()];
    assert_eq!(encode_frame(index, payload, &mut copy), Some(frame.len()));
    assert_eq!(copy, frame);
    let accepted = match parse_frame(&frame) {
        Ok(fr) => {
            check_frame(&frame, &fr);
            assert_eq!(fr.index, index);
            // A second frame of the same index is out of sequence.
            let mut two = frame.clone();
            two.extend_from_slice(&frame);
            let s = scan(&two, None);
            assert_eq!((s.records, s.stop), (1, Some(FrameError::BadRecord)));
            true
        }
        // Only what is inside can be wrong: the checksum and framing are right.
        Err(e) => {
            assert_eq!(e, FrameError::BadRecord);
            false
        }
    };
    // Any flipped bit up to the CRC is caught.
    let covered = FRAME_HDR + rec_len + FRAME_TRAILER;
    let at = flip % (covered * 8);
    frame[at / 8] ^= 1 << (at % 8);
    assert!(parse_frame(&frame).is_err(), "bit {at} flipped unnoticed");
    accepted
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let first = (mode & 0x80 == 0).then_some(u64::from(mode & 0x0f));
    check_scan(rest, first);
    if let Ok(fr) = parse_frame(rest) {
        check_frame(rest, &fr);
    }
    let mut fixed = rest.to_vec();
    repair_frames(&mut fixed);
    check_scan(&fixed, first);
    // Room and the last durable index from the mode byte: all, or a cut somewhere.
    let limit = if mode & 0x40 != 0 {
        usize::from(mode) * 8
    } else {
        usize::MAX
    };
    let last = if mode & 0x20 != 0 {
        u64::from(mode & 0x1f)
    } else {
        u64::MAX
    };
    check_unpack(rest, limit, last);
    check_unpack(&fixed, limit, last);

    // The sealed frame of a record re-encoded from the input, and of the raw input.
    if let Ok((rec, _)) = Record::decode(rest) {
        let mut enc = [0u8; CR_MAXSIZE];
        if let Ok(m) = rec.encode(&mut enc) {
            assert!(check_seal(&enc[..m], rec.index, usize::from(mode)));
        }
    }
    let raw = &rest[..rest.len().min(CR_MAXSIZE)];
    check_seal(raw, u64::from(mode) << 56 | raw.len() as u64, rest.len());
    let mut big = [0u8; frame_len(CR_MAXSIZE + 1)];
    assert_eq!(seal_frame(0, CR_MAXSIZE + 1, &mut big), None);
});
