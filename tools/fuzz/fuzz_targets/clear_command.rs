// SPDX-License-Identifier: GPL-2.0

//! The changelog device's control command (`drivers/changelog_chardev/control.rs`), as a
//! reader `write()`s it: `clear:cl<ID>:<ENDREC>`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_logic::control::{parse_control, Clear, ControlError, CONTROL_CMD_MAX};

fuzz_target!(|data: &[u8]| {
    let got = parse_control(data);
    assert_eq!(
        got == Err(ControlError::TooLong),
        data.len() > CONTROL_CMD_MAX
    );
    if let Ok(Clear { user, endrec }) = got {
        assert!(data.starts_with(b"clear:cl"));
        // The canonical spelling parses to the same command, with liblustreapi's NUL too.
        let text = format!("clear:cl{user}:{endrec}");
        assert!(text.len() <= data.len());
        assert_eq!(parse_control(text.as_bytes()), got);
        assert_eq!(parse_control(format!("{text}\0").as_bytes()), got);
        assert_eq!(parse_control(format!("{text}\n").as_bytes()), got);
        // Only the digits may follow the prefix: nothing else is ignored.
        let mut body = data;
        if let [rest @ .., 0] = body {
            body = rest;
        }
        if let [rest @ .., b'\n'] = body {
            body = rest;
        }
        assert!(body[8..].iter().all(|&c| c.is_ascii_digit() || c == b':'));
        assert_eq!(body.iter().filter(|&&c| c == b':').count(), 2);
    }
});
