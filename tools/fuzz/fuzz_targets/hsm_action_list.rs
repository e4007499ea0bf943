// SPDX-License-Identifier: GPL-2.0

//! `struct hsm_action_list` and its items (`hsm/upcall/uapi.rs`), as a copytool reads them:
//! the header, the name, then `hal_count` items of `hai_len` bytes each, 8-byte aligned.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_logic::uapi::{align8, fsname, ActionItem, ActionList, ACTION_ITEM_LEN, HAL_HDR_LEN};

fuzz_target!(|data: &[u8]| {
    let Some(hal) = ActionList::decode(data) else {
        return;
    };
    assert!(!hal.fsname.contains(&0));
    assert!(HAL_HDR_LEN + hal.fsname.len() < data.len());
    let first = hal.first_item();
    assert_eq!(first % 8, 0);
    assert!(first > HAL_HDR_LEN + hal.fsname.len());

    // Walk the items: each lies inside the buffer, one after the other.
    let mut items = Vec::new();
    let mut at = first;
    for (item, payload) in hal.items(data) {
        assert!(item.len as usize >= ACTION_ITEM_LEN);
        assert_eq!(payload.len(), item.len as usize - ACTION_ITEM_LEN);
        assert!(at + item.len as usize <= data.len());
        assert_eq!(ActionItem::decode(&data[at..]), Some(item));
        assert_eq!(&data[at + ACTION_ITEM_LEN..at + item.len as usize], payload);
        at += align8(item.len as usize);
        items.push((item, payload));
    }
    assert!(items.len() <= hal.count as usize);

    // Encoded again, the list reads back the same.
    let size = hal.size(items.iter().map(|(_, d)| d.len()));
    let mut out = vec![0u8; size];
    let mut pos = hal.encode_header(&mut out);
    assert_eq!(pos, first);
    for (item, payload) in &items {
        pos = ActionList::encode_item(&mut out, pos, item, payload);
    }
    assert_eq!(pos, size);
    let mut again = hal;
    again.count = items.len() as u32;
    let mut out2 = vec![0u8; size];
    again.encode_header(&mut out2);
    out2[first..].copy_from_slice(&out[first..]);
    let back = ActionList::decode(&out2).expect("decodes");
    assert_eq!(back, again);
    let reread: Vec<_> = back.items(&out2).collect();
    assert_eq!(reread, items);

    // The file system name of a target name.
    let fs = fsname(hal.fsname);
    assert!(hal.fsname.starts_with(fs));
    if fs.len() < hal.fsname.len() {
        assert!(hal.fsname[fs.len()..].starts_with(b"-MDT"));
    }
});
