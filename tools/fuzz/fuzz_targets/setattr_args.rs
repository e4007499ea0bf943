// SPDX-License-Identifier: GPL-2.0

//! What capture makes of a system call's arguments (`mdt/attrs.rs`): the `uid`/`gid` of a
//! chown, the `tv_nsec` of `utimensat`'s times and an extended attribute's name, all read from
//! the caller's registers and memory.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_fuzz::Cursor;
use rustre_logic::attrs::{
    chown, recorded_flags, setattr_type, utimensat, xattr_record, xattr_type, LA_CTIME, LA_GID,
    LA_RECORDED, LA_UID, UTIME_OMIT,
};
use rustre_logic::record::{
    CL_ATIME, CL_CTIME, CL_LAYOUT, CL_MTIME, CL_SETATTR, CL_SETXATTR, CL_TRUNC,
};

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let (uid, gid) = (c.u64(), c.u64());
    let v = chown(uid, gid);
    assert_eq!(v & !(LA_UID | LA_GID | LA_CTIME), 0);
    assert_eq!(v & LA_UID != 0, uid as u32 != u32::MAX);
    // chown(f, -1, -1) changes only ctime (and makes no fsnotify event in the kernel).
    let owner = v & (LA_UID | LA_GID) != 0;
    assert_eq!(setattr_type(v), if owner { CL_SETATTR } else { CL_CTIME });
    let (a, m) = (c.u64() as i64, c.u64() as i64);
    match utimensat(Some((a, m))) {
        Some(v) => {
            assert!(a != UTIME_OMIT || m != UTIME_OMIT);
            assert!([CL_MTIME, CL_CTIME].contains(&setattr_type(v)));
        }
        None => assert!(a == UTIME_OMIT && m == UTIME_OMIT),
    }
    let valid = c.u32();
    let t = setattr_type(valid);
    assert!([CL_TRUNC, CL_SETATTR, CL_MTIME, CL_CTIME, CL_ATIME].contains(&t));
    assert_eq!(u32::from(recorded_flags(valid)), valid & LA_RECORDED);
    let name = c.rest();
    if let Some(t) = xattr_type(name) {
        assert!(t == CL_SETXATTR || t == CL_LAYOUT);
    }
    // An unprivileged caller's change is always recorded, with the name only when it is one
    // recorded as XATTR that such a caller can set (not `trusted.*`).
    assert_eq!(
        xattr_record(name, || false),
        Some((
            CL_SETXATTR,
            xattr_type(name) == Some(CL_SETXATTR) && !name.starts_with(b"trusted.")
        ))
    );
    if let Some((t, with_name)) = xattr_record(name, || true) {
        assert_eq!(Some(t), xattr_type(name));
        assert_eq!(with_name, t == CL_SETXATTR);
    }
});
