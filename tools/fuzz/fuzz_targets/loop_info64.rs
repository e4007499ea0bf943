// SPDX-License-Identifier: GPL-2.0

//! `struct loop_info64` (`drivers/lloop/uapi.rs`) as `LOOP_SET_STATUS64` copies it from user
//! space, and what lloop does with it: the flags it may change, the capacity the offset and
//! size limit give (`drivers/lloop/geometry.rs`), and where requests land in the file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_fuzz::Cursor;
use rustre_logic::geometry::{capacity_sectors, check_block_size, clamp_max_loop, SECTOR_SIZE};
use rustre_logic::loop_uapi::{
    file_pos, huge_encode_dev, info_has_encryption, set_status_flags, LoopInfo64, LOOP_INFO64_LEN,
    LO_NAME_SIZE, SET_STATUS_CLEARABLE, SET_STATUS_SETTABLE,
};

fuzz_target!(|data: &[u8]| {
    let info = LoopInfo64::decode(data);
    assert_eq!(info.is_some(), data.len() >= LOOP_INFO64_LEN);
    let enc = info_has_encryption(data);
    let Some(info) = info else {
        return;
    };
    assert_eq!(
        enc,
        data[44..52].iter().any(|&c| c != 0),
        "encryption fields"
    );
    // Encoded and decoded again: the same, but for the name's forced final NUL.
    let mut b = [0xffu8; LOOP_INFO64_LEN];
    info.encode(&mut b);
    assert!(!info_has_encryption(&b));
    let back = LoopInfo64::decode(&b).expect("decodes");
    let mut want = info;
    want.file_name[LO_NAME_SIZE - 1] = 0;
    assert_eq!(back, want);
    assert!(back.file_name().len() < LO_NAME_SIZE);
    assert_eq!(
        back.file_name(),
        &info.file_name()[..back.file_name().len()]
    );
    let mut named = back;
    named.set_file_name(info.file_name());
    assert_eq!(named.file_name(), back.file_name());

    // The flags after LOOP_SET_STATUS64: only the settable ones set, the clearable cleared.
    let mut c = Cursor::new(&data[LOOP_INFO64_LEN..]);
    let current = c.u32();
    let after = set_status_flags(current, info.flags);
    let (settable, clearable) = (SET_STATUS_SETTABLE, SET_STATUS_CLEARABLE);
    let fixed = !(settable | clearable);
    assert_eq!(after & fixed, current & fixed);
    assert_eq!(after & settable & info.flags, settable & info.flags);
    assert_eq!(after & clearable & !info.flags, 0);
    assert_eq!(
        after & settable & !clearable & current,
        settable & !clearable & current
    );
    assert_eq!(set_status_flags(after, info.flags), after);

    // The device's size from the file's, with this offset and limit.
    let file_size = c.u64();
    let block_size = 1u32 << (c.u8() % 16);
    let page_size = 4096;
    match capacity_sectors(
        file_size,
        info.offset,
        info.sizelimit,
        block_size,
        page_size,
    ) {
        Ok(sectors) => {
            assert!(check_block_size(block_size, page_size).is_ok());
            assert_eq!(info.offset % SECTOR_SIZE, 0);
            let bytes = u128::from(sectors) * u128::from(SECTOR_SIZE);
            assert!(bytes <= u128::from(file_size.saturating_sub(info.offset)));
            if info.sizelimit != 0 {
                assert!(bytes <= u128::from(info.sizelimit));
            }
            assert_eq!(bytes % u128::from(block_size), 0);
            // A request inside the device lands inside the file; one past it is refused.
            let sector = c.u64();
            let len = u64::from(c.u32());
            match file_pos(sector, len, info.offset, sectors) {
                Some(pos) => {
                    let start = u128::from(sector) * 512;
                    assert!(start + u128::from(len) <= bytes);
                    assert_eq!(u128::from(pos), u128::from(info.offset) + start);
                }
                None => {
                    let end = u128::from(sector) * 512 + u128::from(len);
                    assert!(
                        end > bytes
                            || u128::from(info.offset) + u128::from(sector) * 512
                                > u128::from(u64::MAX)
                    );
                }
            }
        }
        Err(_) => assert!(
            check_block_size(block_size, page_size).is_err() || info.offset % SECTOR_SIZE != 0
        ),
    }
    // The device number user space sees, split back into major and minor.
    let dev = info.number;
    let seen = huge_encode_dev(dev);
    let major = (seen >> 8) & 0xfff;
    let minor = (seen & 0xff) | ((seen >> 12) & !0xff);
    assert_eq!(
        (major, minor),
        (u64::from(dev >> 20), u64::from(dev & 0xfffff))
    );
    let (n, replaced) = clamp_max_loop(i64::from(info.flags as i32));
    assert!((1..=256).contains(&n));
    assert!(replaced || i64::from(n) == i64::from(info.flags as i32));
});
