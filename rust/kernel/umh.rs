// SPDX-License-Identifier: GPL-2.0

//! Usermode helpers: running a user program from the kernel.
//!
//! A [`Command`] owns the program path, its arguments and its environment. Running it hands all
//! of them to the usermode-helper machinery, which keeps them until the program has been started
//! and frees them through its cleanup callback, also when the caller stops waiting early (a
//! killable wait interrupted by a fatal signal).
//!
//! The environment is empty unless [`Command::env`] adds to it.
//!
//! C header: [`include/linux/umh.h`](srctree/include/linux/umh.h)

use crate::{
    alloc::{flags::GFP_KERNEL, KBox, KVec},
    bindings,
    error::Result,
    ffi::{c_char, c_int, c_void},
    prelude::*,
};

/// The largest number of arguments plus environment strings one command may carry.
///
/// The kernel's own bound is the stack limit of the new process; this keeps a request well
/// inside it and turns a runaway caller into `E2BIG` instead of a failed exec.
pub const MAX_STRINGS: usize = 4096;

/// The largest size of one argument or environment string, `MAX_ARG_STRLEN` (32 pages).
pub const MAX_STRING_LEN: usize = 32 * crate::page::PAGE_SIZE;

/// A NUL-terminated byte string we own.
type OwnedStr = KVec<u8>;

fn owned_str(s: &[u8]) -> Result<OwnedStr> {
    if s.contains(&0) {
        return Err(EINVAL);
    }
    if s.len() >= MAX_STRING_LEN {
        return Err(E2BIG);
    }
    let mut v = KVec::with_capacity(s.len() + 1, GFP_KERNEL)?;
    v.extend_from_slice(s, GFP_KERNEL)?;
    v.push(0, GFP_KERNEL)?;
    Ok(v)
}

/// A user program to run, with its arguments and environment.
///
/// # Examples
///
/// ```ignore
/// let mut cmd = Command::new(b"/sbin/site-upcall")?;
/// cmd.arg(b"ARCHIVE")?.arg(b"lustre")?;
/// let status = cmd.run_killable()?;
/// ```
pub struct Command {
    path: OwnedStr,
    /// `argv[0..]`, starting with the path.
    args: KVec<OwnedStr>,
    envs: KVec<OwnedStr>,
}

impl Command {
    /// Creates a command for the program at `path`, with `argv[0]` set to `path`.
    ///
    /// `path` must not be empty (the kernel would silently run nothing) nor contain NUL.
    pub fn new(path: &[u8]) -> Result<Self> {
        if path.is_empty() {
            return Err(EINVAL);
        }
        let mut args = KVec::new();
        args.push(owned_str(path)?, GFP_KERNEL)?;
        Ok(Self {
            path: owned_str(path)?,
            args,
            envs: KVec::new(),
        })
    }

    fn check_room(&self) -> Result {
        if self.args.len() + self.envs.len() >= MAX_STRINGS {
            return Err(E2BIG);
        }
        Ok(())
    }

    /// Appends an argument. Fails with `EINVAL` if it contains NUL.
    pub fn arg(&mut self, arg: &[u8]) -> Result<&mut Self> {
        self.check_room()?;
        self.args.push(owned_str(arg)?, GFP_KERNEL)?;
        Ok(self)
    }

    /// Adds an environment entry `NAME=VALUE`. Fails with `EINVAL` without `=` or with NUL.
    pub fn env(&mut self, entry: &[u8]) -> Result<&mut Self> {
        if entry.first().is_none_or(|&c| c == b'=') || !entry.contains(&b'=') {
            return Err(EINVAL);
        }
        self.check_room()?;
        self.envs.push(owned_str(entry)?, GFP_KERNEL)?;
        Ok(self)
    }

    /// Returns the arguments, `argv[0]` first, without their NUL terminators.
    pub fn args(&self) -> impl Iterator<Item = &[u8]> {
        self.args.iter().map(|a| &a[..a.len() - 1])
    }

    /// Runs the program and waits, uninterruptibly, until it exits.
    pub fn run(self) -> Result<ExitStatus> {
        self.exec(bindings::UMH_WAIT_PROC)
    }

    /// Runs the program and waits until it exits or the caller gets a fatal signal.
    ///
    /// Returns `ERESTARTSYS` if the wait was cut short; the program keeps running and its
    /// arguments stay valid until it has been started.
    pub fn run_killable(self) -> Result<ExitStatus> {
        self.exec(bindings::UMH_WAIT_PROC | bindings::UMH_KILLABLE)
    }

    fn exec(self, wait: u32) -> Result<ExitStatus> {
        let mut argv = KVec::with_capacity(self.args.len() + 1, GFP_KERNEL)?;
        let mut envp = KVec::with_capacity(self.envs.len() + 1, GFP_KERNEL)?;
        for a in self.args.iter() {
            argv.push(a.as_ptr().cast_mut().cast::<c_char>(), GFP_KERNEL)?;
        }
        argv.push(core::ptr::null_mut(), GFP_KERNEL)?;
        for e in self.envs.iter() {
            envp.push(e.as_ptr().cast_mut().cast::<c_char>(), GFP_KERNEL)?;
        }
        envp.push(core::ptr::null_mut(), GFP_KERNEL)?;

        // The strings are heap buffers, so the pointers above stay valid when `self` moves
        // into the box.
        let owned = KBox::new(
            Prepared {
                cmd: self,
                argv,
                envp,
            },
            GFP_KERNEL,
        )?;
        let path = owned.cmd.path.as_ptr().cast::<c_char>();
        let argv = owned.argv.as_ptr().cast_mut();
        let envp = owned.envp.as_ptr().cast_mut();
        let data = KBox::into_raw(owned).cast::<c_void>();

        // SAFETY: `path`, `argv` and `envp` point into `data`, which lives until `cleanup`
        // runs. `argv` and `envp` are NULL-terminated arrays of NUL-terminated strings.
        let info = unsafe {
            bindings::call_usermodehelper_setup(
                path,
                argv,
                envp,
                GFP_KERNEL.as_raw(),
                None,
                Some(cleanup),
                data,
            )
        };
        if info.is_null() {
            // SAFETY: Setup failed, so `cleanup` will never run and `data` is still ours.
            drop(unsafe { KBox::from_raw(data.cast::<Prepared>()) });
            return Err(ENOMEM);
        }
        // SAFETY: `info` is a valid `subprocess_info` from setup, consumed here; every path of
        // `call_usermodehelper_exec` frees it through `cleanup`, exactly once.
        let ret = unsafe { bindings::call_usermodehelper_exec(info, wait as c_int) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(ExitStatus(ret))
    }
}

/// What the usermode-helper machinery owns while a command runs.
struct Prepared {
    cmd: Command,
    argv: KVec<*mut c_char>,
    envp: KVec<*mut c_char>,
}

/// Frees the command when the usermode helper is done with it.
///
/// # Safety
///
/// `info` must be a `subprocess_info` set up by [`Command::exec`], called once.
unsafe extern "C" fn cleanup(info: *mut bindings::subprocess_info) {
    // SAFETY: `info` is valid, and its `data` is the `KBox<Prepared>` we leaked in `exec`; this
    // is the only place that reclaims it once setup succeeded.
    drop(unsafe { KBox::from_raw((*info).data.cast::<Prepared>()) });
}

/// How a program run by [`Command`] ended: a wait status, as `waitpid()` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus(c_int);

impl ExitStatus {
    /// Builds a status from a raw wait status.
    pub fn from_raw(raw: c_int) -> Self {
        Self(raw)
    }

    /// Returns the raw wait status.
    pub fn raw(self) -> c_int {
        self.0
    }

    /// Returns the exit code if the program exited normally.
    pub fn code(self) -> Option<u8> {
        if self.0 & 0x7f == 0 {
            Some(((self.0 >> 8) & 0xff) as u8)
        } else {
            None
        }
    }

    /// Returns the signal that killed the program, if one did.
    pub fn signal(self) -> Option<u8> {
        match (self.0 & 0x7f) as u8 {
            0 | 0x7f => None,
            sig => Some(sig),
        }
    }

    /// Returns whether the program exited with code 0.
    pub fn success(self) -> bool {
        self.0 == 0
    }
}
