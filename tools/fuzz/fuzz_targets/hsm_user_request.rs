// SPDX-License-Identifier: GPL-2.0

//! `struct hsm_user_request` (`hsm/upcall/uapi.rs`) as `LL_IOC_HSM_REQUEST` copies it from user
//! space: the header decides how many bytes are copied, then the items and data are read from
//! exactly that many, as `hsm/upcall/device.rs` and `hsm.rs` do.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_logic::fid::Fid;
use rustre_logic::uapi::{
    encode_request, Request, RequestError, UserAction, MAX_DATA, MAX_ITEMS, REQUEST_LEN,
    USER_ITEM_LEN,
};

fuzz_target!(|data: &[u8]| {
    let hdr = match Request::decode(data) {
        Ok(h) => h,
        Err(e) => {
            assert_eq!((e, data.len() < REQUEST_LEN), (RequestError::Short, true));
            return;
        }
    };
    let action = UserAction::from_u32(hdr.action);
    if let Some(a) = action {
        assert_eq!(a as u32, hdr.action);
        assert_eq!(a.copytool_action().is_none(), a == UserAction::Release);
    }
    let len = match hdr.checked_len() {
        Ok(len) => len,
        Err(RequestError::BadAction) => {
            assert!(action.is_none());
            return;
        }
        Err(RequestError::TooBig) => {
            assert!(hdr.itemcount > MAX_ITEMS || hdr.data_len > MAX_DATA);
            return;
        }
        Err(e) => panic!("checked_len: {e:?}"),
    };
    assert_eq!(
        len,
        REQUEST_LEN + hdr.itemcount as usize * USER_ITEM_LEN + hdr.data_len as usize
    );
    if data.len() < len {
        // A short copy: the data is missing, never read past the end.
        assert_eq!(hdr.data(data), Err(RequestError::Short));
        return;
    }
    let req = &data[..len];
    let payload = match hdr.data(req) {
        Ok(d) => {
            assert_eq!(d.len(), hdr.data_len as usize);
            assert!(!d.contains(&0));
            d
        }
        Err(e) => {
            assert_eq!(e, RequestError::BadData);
            return;
        }
    };
    let fids: Vec<Fid> = (0..hdr.itemcount as usize)
        .map(|i| Request::item_fid(req, i))
        .collect();
    // Encoded again (whole-file extents) it reads back the same.
    let mut out = vec![0u8; len];
    encode_request(&mut out, &hdr, &fids, payload);
    let back = Request::decode(&out).expect("decodes");
    assert_eq!(back, hdr);
    assert_eq!(back.checked_len(), Ok(len));
    assert_eq!(back.data(&out), Ok(payload));
    for (i, f) in fids.iter().enumerate() {
        assert_eq!(Request::item_fid(&out, i), *f);
        let at = REQUEST_LEN + i * USER_ITEM_LEN;
        assert_eq!(out[at..at + 16], req[at..at + 16]);
    }
});
