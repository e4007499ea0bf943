// SPDX-License-Identifier: GPL-2.0

//! Talking to the `rustre_mdt` module through its control node, `/dev/rustre-mdt`.
//!
//! A command is one `write()` of a line of words; the kernel answers with an errno, and with a
//! reply that a `read()` on the same open file returns. See `Documentation/mdt.rst`.

use std::fs::OpenOptions;
use std::io::{Read, Write};

use crate::param::Errno;

/// The control node.
pub const CONTROL: &str = "/dev/rustre-mdt";

/// Where a failed command went wrong, for the message.
#[derive(Debug)]
pub enum ControlError {
    /// The control node could not be opened (module not loaded, not root, ...).
    Open(Errno),
    /// The kernel refused the command.
    Command(Errno),
}

impl ControlError {
    /// The errno.
    pub fn errno(&self) -> Errno {
        match self {
            ControlError::Open(e) | ControlError::Command(e) => *e,
        }
    }
}

/// Sends one command and returns the kernel's reply.
pub fn control(words: &[&str]) -> Result<Vec<u8>, ControlError> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(CONTROL)
        .map_err(|e| ControlError::Open(Errno::from(&e)))?;
    let cmd = words.join(" ");
    f.write_all(cmd.as_bytes())
        .map_err(|e| ControlError::Command(Errno::from(&e)))?;
    let mut reply = Vec::new();
    f.read_to_end(&mut reply)
        .map_err(|e| ControlError::Command(Errno::from(&e)))?;
    Ok(reply)
}

/// Whether a word can travel in a command (the kernel splits at whitespace).
pub fn is_word(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|c| c.is_ascii_whitespace() || c == 0)
}
