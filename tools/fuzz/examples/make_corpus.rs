// SPDX-License-Identifier: GPL-2.0

//! Writes the seed corpus of every fuzz target, `corpus/<target>/<seed>`: a few valid inputs
//! each, made with the encoders of the code under test. Run from `tools/fuzz`:
//! `cargo run --example make_corpus`. The files are committed; fuzzing works on copies.

use std::fs;
use std::path::Path;

use rustre_fuzz::{seal_slot, stamp_slot};
use rustre_logic::catalog_fmt::{encode_frame, frame_len, Header, SLOT_LEN};
use rustre_logic::fid::Fid;
use rustre_logic::loop_uapi::{
    LoopInfo64, LOOP_CONFIG_LEN, LOOP_INFO64_LEN, LO_FLAGS_AUTOCLEAR, LO_FLAGS_DIRECT_IO,
};
use rustre_logic::record::{
    cl_time, Extra, Record, CLF_RENAME_LAST, CL_CREATE, CL_MARK, CL_RENAME, CR_MAXSIZE,
    MDS_FMODE_READ, NID_LO_BE,
};
use rustre_logic::state::{HsmAttrs, HS_ARCHIVED, HS_EXISTS};
use rustre_logic::uapi::{
    encode_register, encode_request, ActionItem, ActionList, Copy, Request, UserState, COPY_LEN,
    KERNELCOMM_LEN, REQUEST_LEN, STATE_LEN, USER_ITEM_LEN,
};

fn fid(seq: u64, oid: u32) -> Fid {
    Fid { seq, oid, ver: 0 }
}

fn records() -> Vec<Vec<u8>> {
    let create = Record {
        rtype: CL_CREATE,
        index: 1,
        time: cl_time(1_700_000_000, 5),
        tfid: fid(0x200000401, 1),
        pfid: fid(0x200000007, 1),
        jobid: Some(b"touch.0"),
        name: b"file",
        ..Record::default()
    };
    let rename = Record {
        rtype: CL_RENAME,
        flags: CLF_RENAME_LAST,
        index: 2,
        prev: 1,
        tfid: fid(0x11, 0x22),
        pfid: fid(2, 0),
        rename: Some((fid(0x33, 1), fid(0x44, 2))),
        jobid: Some(b"mv.0"),
        extra: Some(Extra {
            uidgid: Some((1000, 100)),
            nid: Some(NID_LO_BE),
            nid_be: true,
            open_flags: Some(MDS_FMODE_READ),
            xattr: Some(b"user.x"),
        }),
        name: b"new",
        sname: b"old",
        ..Record::default()
    };
    let mark = Record {
        rtype: CL_MARK,
        index: 3,
        name: b"mark",
        ..Record::default()
    };
    [create, rename, mark]
        .iter()
        .map(|r| {
            let mut b = vec![0u8; CR_MAXSIZE];
            let n = r.encode(&mut b).expect("encodes");
            b.truncate(n);
            b
        })
        .collect()
}

fn frames(recs: &[Vec<u8>]) -> Vec<u8> {
    let mut log = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        let mut f = vec![0u8; frame_len(r.len())];
        encode_frame(i as u64 + 1, r, &mut f).expect("frame");
        log.extend(f);
    }
    log
}

fn header_input(flags: u8, ops: &[u8], generations: (u64, Option<u64>)) -> Vec<u8> {
    let mut h = Header::new(b"lustre-MDT0000").expect("valid");
    h.register(b"", b"", 0, 100).expect("registers");
    h.register(b"backup", b"CREAT MKDIR", 0, 100)
        .expect("registers");
    h.next_index = 42;
    h.generation = generations.0;
    let mut s0 = [0u8; SLOT_LEN];
    h.encode(&mut s0);
    let mut s1 = [0u8; SLOT_LEN];
    if let Some(g) = generations.1 {
        h.generation = g;
        h.clear(b"cl1", 10, 42, 200).expect("clears");
        h.encode(&mut s1);
    } else {
        stamp_slot(&mut s1);
        seal_slot(&mut s1);
    }
    let mut b = vec![flags];
    b.extend((SLOT_LEN as u16).to_le_bytes());
    b.push(ops.len() as u8);
    b.extend(ops);
    b.extend(s0);
    b.extend(s1);
    b
}

/// One user operation of the catalog_header target.
fn op(kind: u8, name: &[u8], arg: &[u8], current: u64, now: u64) -> Vec<u8> {
    let mut b = vec![kind, name.len() as u8];
    b.extend(name);
    b.push(arg.len() as u8);
    b.extend(arg);
    b.extend(current.to_le_bytes());
    b.extend(now.to_le_bytes());
    b
}

fn loop_info() -> Vec<u8> {
    let mut i = LoopInfo64 {
        device: 0x803,
        inode: 12,
        offset: 4096,
        sizelimit: 1 << 20,
        number: 3,
        flags: LO_FLAGS_AUTOCLEAR,
        ..Default::default()
    };
    i.set_file_name(b"/var/tmp/disk.img");
    let mut b = vec![0u8; LOOP_INFO64_LEN];
    i.encode(&mut b);
    b
}

fn request(action: u32, fids: &[Fid], data: &[u8]) -> Vec<u8> {
    let req = Request {
        action,
        archive_id: 1,
        flags: 0,
        itemcount: fids.len() as u32,
        data_len: data.len() as u32,
    };
    let mut b = vec![0u8; REQUEST_LEN + fids.len() * USER_ITEM_LEN + data.len()];
    encode_request(&mut b, &req, fids, data);
    b
}

fn action_list() -> Vec<u8> {
    let hal = ActionList {
        count: 2,
        compound_id: 9,
        flags: 4,
        archive_id: 1,
        fsname: b"lustre",
    };
    let mut b = vec![0u8; hal.size([0usize, 3].into_iter())];
    let mut at = hal.encode_header(&mut b);
    let a = ActionItem {
        action: 20,
        fid: fid(5, 6),
        dfid: fid(5, 6),
        length: u64::MAX,
        cookie: 77,
        ..Default::default()
    };
    at = ActionList::encode_item(&mut b, at, &a, &[]);
    ActionList::encode_item(&mut b, at, &a, b"xyz");
    b
}

fn tagged(which: u8, body: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut b = vec![which, body.len() as u8];
    b.extend(body);
    b.extend(tail);
    b
}

fn main() {
    let mut seeds: Vec<(&str, &str, Vec<u8>)> = Vec::new();
    let recs = records();
    for (i, r) in recs.iter().enumerate() {
        seeds.push((
            "record_roundtrip",
            ["create", "rename", "mark"][i],
            r.clone(),
        ));
    }
    seeds.push(("record_roundtrip", "run", recs.concat()));

    let log = frames(&recs);
    seeds.push(("catalog_frames", "three", [&[0u8][..], &log].concat()));
    seeds.push((
        "catalog_frames",
        "torn",
        [&[1u8][..], &log[..log.len() - 5]].concat(),
    ));
    seeds.push((
        "catalog_frames",
        "any-first",
        [&[0x80u8][..], &log].concat(),
    ));

    let ops = [
        op(0, b"reader", b"+OPEN", 42, 300),
        op(1, b"cl1", &20u64.to_le_bytes(), 42, 301),
        op(2, b"cl2-backup", b"", 0, 0),
    ]
    .concat();
    seeds.push((
        "catalog_header",
        "two-slots",
        header_input(0, &ops, (3, Some(4))),
    ));
    seeds.push((
        "catalog_header",
        "one-slot",
        header_input(0, &ops, (7, None)),
    ));
    seeds.push((
        "catalog_header",
        "copied",
        header_input(0x1b, &ops[..20], (1, None)),
    ));

    for (n, s) in [
        ("nul", &b"clear:cl1:0\0"[..]),
        ("newline", b"clear:cl12:345\n"),
        ("max", b"clear:cl4294967295:18446744073709551615"),
    ] {
        seeds.push(("clear_command", n, s.to_vec()));
    }
    let defmask = 0x00e7_fbffu32.to_le_bytes();
    for (n, s) in [
        ("names", &b"CREAT MKDIR"[..]),
        ("ops", b"+OPEN -CLOSE,-MTIME"),
        ("all", b"ALL"),
        ("default", b"DEFAULT -ATIME"),
    ] {
        seeds.push(("changelog_mask", n, [&defmask[..], s].concat()));
    }
    for (n, s) in [
        ("archive", &b"ARCHIVE"[..]),
        ("both", b"archive\tremove\n"),
        ("restore", b"RESTORE"),
    ] {
        seeds.push(("upcall_mask", n, s.to_vec()));
    }
    for (n, s) in [
        ("brackets", &b"[0x200000401:0x1:0x0]"[..]),
        ("bare", b"0x1:0x2:0x3"),
        ("zero", b"[0:0x0:0x0]"),
        ("max", b"[0xffffffffffffffff:0xffffffff:0xffffffff]"),
    ] {
        seeds.push(("fid_text", n, s.to_vec()));
    }

    let info = loop_info();
    let mut tail = Vec::new();
    tail.extend(LO_FLAGS_DIRECT_IO.to_le_bytes());
    tail.extend((8u64 << 20).to_le_bytes());
    tail.push(12);
    tail.extend(8u64.to_le_bytes());
    tail.extend(4096u32.to_le_bytes());
    seeds.push(("loop_info64", "info", [&info[..], &tail].concat()));
    seeds.push(("loop_info64", "bare", info.clone()));
    let mut cfg = vec![0u8; LOOP_CONFIG_LEN];
    cfg[..4].copy_from_slice(&5u32.to_le_bytes());
    cfg[4..8].copy_from_slice(&4096u32.to_le_bytes());
    cfg[8..8 + LOOP_INFO64_LEN].copy_from_slice(&info);
    seeds.push(("loop_config", "config", cfg.clone()));
    cfg[4..8].copy_from_slice(&0u32.to_le_bytes());
    seeds.push(("loop_config", "default-block", cfg));

    let fids = [fid(0x200000401, 1), fid(12, 7)];
    seeds.push(("hsm_user_request", "archive", request(10, &fids, b"")));
    seeds.push((
        "hsm_user_request",
        "restore-data",
        request(11, &fids[..1], b"k=v"),
    ));
    seeds.push(("hsm_action_list", "two", action_list()));

    let mut c = [0u8; COPY_LEN];
    Copy {
        data_version: 5,
        flags: Copy::upcall_flags(1, 20),
        archive_id: 3,
        hai: ActionItem {
            action: 20,
            fid: fids[0],
            cookie: 9,
            ..Default::default()
        },
        ..Default::default()
    }
    .encode(&mut c);
    seeds.push(("hsm_copy_state", "copy", tagged(0, &c, &[])));
    let mut reg = vec![0u8; KERNELCOMM_LEN + 8];
    encode_register(&mut reg, &[1, 3]);
    seeds.push(("hsm_copy_state", "register", tagged(1, &reg, &[])));
    let mut st = [0u8; STATE_LEN];
    UserState {
        states: HS_EXISTS | HS_ARCHIVED,
        archive_id: 1,
        ..Default::default()
    }
    .encode(3, &mut st);
    seeds.push(("hsm_copy_state", "state", tagged(2, &st, &[])));
    let attrs = HsmAttrs {
        flags: HS_EXISTS | HS_ARCHIVED,
        archive_id: 1,
        arch_ver: 10,
    }
    .encode();
    let mut after = Vec::new();
    after.extend(10u64.to_le_bytes());
    after.extend(1u32.to_le_bytes());
    after.extend([2, 1, 0, 0]);
    seeds.push(("hsm_copy_state", "xattr", tagged(3, &attrs, &after)));

    // chown ids, utimensat's tv_nsec pair, an la_valid, then an xattr name.
    let omit = rustre_logic::attrs::UTIME_OMIT;
    for (n, uid, gid, a, m, valid, name) in [
        (
            "chown_uid",
            1000u64,
            0xffff_ffffu64,
            omit,
            5i64,
            0x14u32,
            &b"user.k"[..],
        ),
        ("touch_m", u64::MAX, 3, omit, 7, 0xe, b"trusted.lov"),
        ("acl", 1, 2, omit, omit, 0x7, b"system.posix_acl_access"),
        ("hsm", 0, 0, 0, 0, 0x5, b"trusted.hsm"),
    ] {
        let mut b = Vec::new();
        for v in [uid, gid, a as u64, m as u64] {
            b.extend(v.to_le_bytes());
        }
        b.extend(valid.to_le_bytes());
        b.extend(name);
        seeds.push(("setattr_args", n, b));
    }

    let mut argv = Vec::new();
    argv.extend(1024u32.to_le_bytes());
    argv.extend(3u16.to_le_bytes());
    argv.extend(16u16.to_le_bytes());
    argv.push(14);
    argv.extend(b"lustre-MDT0000");
    argv.extend(request(10, &fids, b"prio=1"));
    seeds.push(("upcall_argv", "archive", argv.clone()));
    argv[..4].copy_from_slice(&4096u32.to_le_bytes());
    argv[4..6].copy_from_slice(&5000u16.to_le_bytes());
    seeds.push(("upcall_argv", "big-batch", argv));

    for (n, s) in [
        (
            "register",
            &b"--device\0lustre-MDT0000\0changelog_register\0-m\0CREAT MKDIR\0-n"[..],
        ),
        ("get", b"get_param\0-nF\0--color=auto\0mdd.*.changelog_mask"),
        (
            "set",
            b"set_param\0-t4\0mdt.lustre-MDT0000.hsm.upcall_mask=ARCHIVE\0a.b\0c",
        ),
        (
            "clear",
            b"--device=lustre-MDT0000\0changelog_clear\0cl1-backup\00",
        ),
    ] {
        seeds.push(("lctl_args", n, s.to_vec()));
    }
    for (n, s) in [
        (
            "braces",
            &b"\0mdd.lustre-MDT0000.changelog_{mask,users}\0changelog_mask\0CREAT MKDIR\n"[..],
        ),
        (
            "nid",
            b"\x01obdfilter.lustre-OST0000.exports.192.168.1.1@tcp.stats=\0stats\0a\nb\nc",
        ),
        ("glob", b"\x08lloop[0-9]*\0lloop12\0259:0\n"),
    ] {
        seeds.push(("lctl_params", n, s.to_vec()));
    }

    let top = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, name, bytes) in &seeds {
        let dir = top.join(target);
        fs::create_dir_all(&dir).expect("corpus directory");
        fs::write(dir.join(name), bytes).expect("seed written");
    }
    println!("{} seeds in {}", seeds.len(), top.display());
}
