// SPDX-License-Identifier: GPL-2.0

//! lhsmtool_posix's archive layout, v1: `<root>/%04x/%04x/%04x/%04x/%04x/%04x/<fid>` from the
//! object id's two low 16-bit halves and the sequence's four, then the FID without brackets.

use rustre_logic::fid::Fid;

/// The path of a FID's copy below an archive root (`LHSM_ARCHIVE_BASE` + archive id).
pub fn v1_path(fid: &Fid) -> String {
    format!(
        "{:04x}/{:04x}/{:04x}/{:04x}/{:04x}/{:04x}/{}",
        fid.oid & 0xffff,
        (fid.oid >> 16) & 0xffff,
        fid.seq & 0xffff,
        (fid.seq >> 16) & 0xffff,
        (fid.seq >> 32) & 0xffff,
        (fid.seq >> 48) & 0xffff,
        fid.no_brace()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lustre_example() {
        let fid = Fid {
            seq: 0x2_0000_0401,
            oid: 1,
            ver: 0,
        };
        assert_eq!(
            v1_path(&fid),
            "0001/0000/0401/0000/0002/0000/0x200000401:0x1:0x0"
        );
    }
}
