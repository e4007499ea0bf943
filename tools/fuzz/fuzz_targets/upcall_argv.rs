// SPDX-License-Identifier: GPL-2.0

//! The upcall's command lines (`hsm/upcall/argv.rs`) built from arbitrary request data as
//! `hsm/upcall/hsm.rs` builds them: the fixed arguments (path, action, fsname, archive id,
//! flags, data), then the FIDs split over calls of `fids_per_call` each. Every call must fit
//! the argument budget, and every FID must appear once, in order, and read back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_fuzz::Cursor;
use rustre_logic::argv::{arg_cost, dec_arg, fid_arg, fids_per_call, ARGV_BUDGET, MAX_BATCH};
use rustre_logic::fid::{Fid, FID_LEN};
use rustre_logic::mask::ACTIONS;
use rustre_logic::uapi::{fsname, Request, UserAction, MAX_DATA, REQUEST_LEN, USER_ITEM_LEN};

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let batch = c.u32();
    let wanted = usize::from(c.u16());
    // The upcall path: at most 4095 bytes (the parameter's limit); longer ones are stretched
    // from the input so that the budget is exercised.
    let path_len = usize::from(c.u16()) % 4096;
    let target = c.short_slice();
    let req = c.rest();
    let mut path = vec![b'/'; path_len];
    for (d, s) in path.iter_mut().zip(req.iter().cycle()) {
        *d = (*s).max(1);
    }

    // The request: its header and as many whole items as the input holds.
    let Ok(hdr) = Request::decode(req) else {
        return;
    };
    let action = UserAction::from_u32(hdr.action)
        .and_then(UserAction::copytool_action)
        .unwrap_or(ACTIONS[(hdr.action % 5) as usize]);
    let payload = match hdr.data(req) {
        Ok(d) => d,
        Err(_) => &req[REQUEST_LEN..REQUEST_LEN + (req.len() - REQUEST_LEN).min(64)],
    };
    let payload = &payload[..payload.len().min(MAX_DATA as usize)];
    let items = ((req.len() - REQUEST_LEN) / USER_ITEM_LEN).min(hdr.itemcount as usize);

    let (idb, idn) = dec_arg(u64::from(hdr.archive_id));
    let (flb, fln) = dec_arg(hdr.flags);
    assert_eq!(
        core::str::from_utf8(&idb[..idn])
            .ok()
            .and_then(|s| s.parse::<u64>().ok()),
        Some(u64::from(hdr.archive_id))
    );
    assert_eq!(
        core::str::from_utf8(&flb[..fln])
            .ok()
            .and_then(|s| s.parse::<u64>().ok()),
        Some(hdr.flags)
    );
    let fixed: [&[u8]; 6] = [
        &path,
        action.name().as_bytes(),
        fsname(target),
        &idb[..idn],
        &flb[..fln],
        payload,
    ];
    let per = fids_per_call(fixed.iter().copied(), batch);
    assert!(per >= 1 && per <= batch.clamp(1, MAX_BATCH) as usize);
    let fixed_cost: usize = fixed.iter().map(|a| arg_cost(a.len())).sum::<usize>() + 16;
    // With the parameter limits the fixed part always leaves room for FIDs.
    assert!(fixed_cost + arg_cost(FID_LEN) <= ARGV_BUDGET);

    // The request's FIDs, repeated, or the longest ones there are: a full call and one more.
    let fids: Vec<Fid> = (0..wanted.min(per + 1))
        .map(|i| match items {
            0 => Fid {
                seq: u64::MAX - i as u64,
                oid: u32::MAX,
                ver: u32::MAX,
            },
            n => Request::item_fid(req, i % n),
        })
        .collect();
    let mut seen = 0;
    for chunk in fids.chunks(per) {
        let mut cost = fixed_cost;
        for f in chunk {
            let (b, n) = fid_arg(f);
            assert!(n <= FID_LEN);
            assert_eq!(Fid::parse(&b[..n]), Some(*f));
            assert_eq!(fids[seen], *f);
            cost += arg_cost(n);
            seen += 1;
        }
        assert!(cost <= ARGV_BUDGET, "{} FIDs cost {cost}", chunk.len());
    }
    assert_eq!(seen, fids.len());
});
