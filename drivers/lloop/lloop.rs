// SPDX-License-Identifier: GPL-2.0

//! A blk-mq block device backed by a file (LU-6585).
//!
//! `/dev/lloopN` exposes a regular file as a disk, with direct asynchronous I/O to the backing
//! file and all request state preallocated, so that swap on the device survives memory
//! pressure. The block layer side is `kernel::block::mq`; `io` serves the requests, `file`
//! holds the backing file.
//!
//! See `Documentation/index.rst`.

use kernel::{
    cpu::nr_cpu_ids,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

mod device;
mod file;
mod io;
// Pure logic, shared with the userspace tools (tools/rustre-logic) and tested on the host too;
// not every item is used by the module itself.
#[allow(dead_code, unreachable_pub)]
mod geometry;
#[allow(dead_code, unreachable_pub)]
mod uapi;

use device::LloopDev;
use io::{Completion, Disk, Limits, Queues, Workers};

module! {
    type: Lloop,
    name: "lloop",
    authors: ["rustre developers"],
    description: "File-backed blk-mq block device (LU-6585)",
    license: "GPL",
    params: {
        max_loop: i64 {
            default: 16,
            description: "Maximum number of lloop devices (1..256, Lustre's default 16)",
        },
        hw_queue_depth: u32 {
            default: 128,
            description: "Requests per hardware queue (1..1024, default 128)",
        },
        submit_queues: u32 {
            default: 0,
            description: "Hardware queues per device (0: one per CPU, the default)",
        },
        inline_submit: bool {
            default: true,
            description: "Start direct I/O in the submitter when it flushes a plug (default true)",
        },
        queue_workers: bool {
            default: false,
            description: "One worker per hardware queue instead of one per device (default false)",
        },
        block_complete: bool {
            default: false,
            description: "End requests through the block layer's completion, as loop does (default false)",
        },
    },
}

/// The devices, by number; `None` for numbers not in use.
struct Registry {
    devices: KVec<Option<Disk>>,
}

/// What `/dev/lloop-control` acts on.
#[pin_data]
struct Control {
    queues: Queues,
    #[pin]
    reg: Mutex<Registry>,
}

impl Control {
    /// Creates `/dev/lloop<n>`; `EEXIST` if it exists, `EINVAL` beyond `max_loop`.
    fn add(&self, reg: &mut Registry, n: u32) -> Result<u32> {
        let slot = reg.devices.get_mut(n as usize).ok_or(EINVAL)?;
        if slot.is_some() {
            return Err(EEXIST);
        }
        let dev = Arc::pin_init(LloopDev::new(n), GFP_KERNEL)?;
        let disk = Disk::new(
            fmt!("lloop{}", n),
            dev,
            device::Io::default(),
            &self.queues,
            &Limits::new(512),
        )?;
        disk.get().set_capacity(0);
        *slot = Some(disk);
        Ok(n)
    }

    /// `LOOP_CTL_ADD`: a negative number asks for the lowest free one.
    fn ctl_add(&self, n: i64) -> Result<u32> {
        let mut reg = self.reg.lock();
        if n < 0 {
            let free = reg.devices.iter().position(|d| d.is_none()).ok_or(ENOSPC)?;
            return self.add(&mut reg, free as u32);
        }
        let n = u32::try_from(n).map_err(|_| EINVAL)?;
        self.add(&mut reg, n)
    }

    /// `LOOP_CTL_REMOVE`: `EBUSY` while attached or open.
    fn ctl_remove(&self, n: i64) -> Result<u32> {
        let mut reg = self.reg.lock();
        let idx = usize::try_from(n).map_err(|_| EINVAL)?;
        let slot = reg.devices.get_mut(idx).ok_or(EINVAL)?;
        let disk = slot.as_ref().ok_or(ENODEV)?;
        disk.get().dev().claim_for_removal(&disk.get())?;
        // Dropping the disk deletes it.
        *slot = None;
        Ok(idx as u32)
    }

    /// `LOOP_CTL_GET_FREE`: an unattached device, created if needed; `ENOSPC` at `max_loop`.
    fn ctl_get_free(&self) -> Result<u32> {
        let mut reg = self.reg.lock();
        for (i, d) in reg.devices.iter().enumerate() {
            if let Some(d) = d {
                if d.get().dev().is_free() {
                    return Ok(i as u32);
                }
            }
        }
        let free = reg.devices.iter().position(|d| d.is_none()).ok_or(ENOSPC)?;
        self.add(&mut reg, free as u32)
    }
}

/// An open `/dev/lloop-control`.
struct ControlFile {
    ctl: Arc<Control>,
}

#[vtable]
impl MiscDevice for ControlFile {
    type OwnerModule = crate::LocalModule;
    type Ptr = Pin<KBox<Self>>;
    type RegistrationData = Arc<Control>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::pin(
            Self {
                ctl: misc.data().clone(),
            },
            GFP_KERNEL,
        )
        .map_err(Into::into)
    }

    fn ioctl(this: Pin<&Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if !file::caller_is_admin() {
            return Err(EPERM);
        }
        // The argument is an int, as for /dev/loop-control.
        let n = i64::from(arg as i32);
        let r = match cmd {
            uapi::LOOP_CTL_ADD => this.ctl.ctl_add(n),
            uapi::LOOP_CTL_REMOVE => this.ctl.ctl_remove(n),
            uapi::LOOP_CTL_GET_FREE => this.ctl.ctl_get_free(),
            _ => return Err(ENOTTY),
        };
        r.map(|n| n as isize)
    }

    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(this: Pin<&Self>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // A number, not a pointer: no conversion (as loop_control_ioctl for compat).
        Self::ioctl(this, file, cmd, arg)
    }
}

#[pin_data]
struct Lloop {
    #[pin]
    control: MiscDeviceRegistration<ControlFile>,
}

impl kernel::InPlaceModule for Lloop {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            control <- {
                let requested = module_parameters::max_loop.value();
                let (max_loop, replaced) = geometry::clamp_max_loop(requested);
                if replaced {
                    pr_warn!("max_loop={} out of range 1..256, using {}\n", requested, max_loop);
                }
                let depth = module_parameters::hw_queue_depth.value().clamp(1, 1024);
                let queues = match module_parameters::submit_queues.value() {
                    0 => nr_cpu_ids(),
                    n => n.min(nr_cpu_ids()),
                };
                let mut devices = KVec::with_capacity(max_loop as usize, GFP_KERNEL)?;
                for _ in 0..max_loop {
                    devices.push(None, GFP_KERNEL)?;
                }
                let inline = module_parameters::inline_submit.value();
                let workers = if module_parameters::queue_workers.value() {
                    Workers::PerQueue
                } else {
                    Workers::PerDisk
                };
                let completion = if module_parameters::block_complete.value() {
                    Completion::BlockLayer
                } else {
                    Completion::Direct
                };
                let ctl = Arc::pin_init(
                    pin_init!(Control {
                        queues: Queues {
                            count: queues,
                            depth,
                            workers,
                            completion,
                            inline,
                        },
                        reg <- new_mutex!(Registry { devices }),
                    }),
                    GFP_KERNEL,
                )?;
                pr_info!(
                    "loaded, up to {} devices, {} queues of depth {}, inline submission {}, {:?} workers, {:?} completion\n",
                    max_loop,
                    queues,
                    depth,
                    if inline { "on" } else { "off" },
                    workers,
                    completion
                );
                let opts = MiscDeviceOptions {
                    name: c"lloop-control",
                    mode: 0o600,
                };
                MiscDeviceRegistration::register(opts, ctl)
            },
        })
    }
}

#[kunit_tests(rustre_lloop)]
mod tests {
    use super::*;
    use kernel::page::PAGE_SIZE;

    #[test]
    fn capacity_vectors() {
        for &(size, off, limit, bs, want) in geometry::CAPACITY_CASES {
            assert_eq!(geometry::capacity_sectors(size, off, limit, bs, 4096), want);
        }
    }

    #[test]
    fn block_sizes_of_this_kernel() {
        let page = PAGE_SIZE as u32;
        assert_eq!(geometry::check_block_size(512, page), Ok(()));
        assert_eq!(geometry::check_block_size(page, page), Ok(()));
        assert!(geometry::check_block_size(page * 2, page).is_err());
    }

    #[test]
    fn max_loop_clamp() {
        assert_eq!(geometry::clamp_max_loop(16), (16, false));
        assert_eq!(geometry::clamp_max_loop(0), (16, true));
        assert_eq!(geometry::clamp_max_loop(1000), (16, true));
    }

    #[test]
    fn loop_structures() {
        let mut i = uapi::LoopInfo64 {
            offset: 4096,
            number: 2,
            flags: uapi::LO_FLAGS_DIRECT_IO,
            ..Default::default()
        };
        i.set_file_name(b"/tmp/backing");
        let mut b = [0u8; uapi::LOOP_INFO64_LEN];
        i.encode(&mut b);
        assert_eq!(uapi::LoopInfo64::decode(&b), Some(i));
        assert_eq!(i.file_name(), b"/tmp/backing");
        let cfg = [0u8; uapi::LOOP_CONFIG_LEN];
        assert!(uapi::LoopConfig::decode(&cfg).is_ok());
        assert_eq!(uapi::set_status_flags(0, uapi::LO_FLAGS_READ_ONLY), 0);
    }

    #[test]
    fn position_mapping() {
        assert_eq!(uapi::file_pos(1, 512, 1024, 2), Some(1536));
        assert_eq!(uapi::file_pos(2, 512, 0, 2), None);
        assert_eq!(uapi::file_pos(u64::MAX, 1, 0, 16), None);
    }
}
