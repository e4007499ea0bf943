// SPDX-License-Identifier: GPL-2.0

//! `struct loop_config` (`drivers/lloop/uapi.rs`) as `LOOP_CONFIGURE` copies it from user
//! space: decoded and checked as the kernel's loop driver checks it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustre_logic::geometry::check_block_size;
use rustre_logic::loop_uapi::{
    ConfigError, LoopConfig, LoopInfo64, CONFIGURE_SETTABLE, LOOP_CONFIG_LEN, LOOP_INFO64_LEN,
};

fuzz_target!(|data: &[u8]| {
    match LoopConfig::decode(data) {
        Ok(cfg) => {
            assert!(data.len() >= LOOP_CONFIG_LEN);
            assert_eq!(cfg.info.flags & !CONFIGURE_SETTABLE, 0);
            assert!(data[8 + LOOP_INFO64_LEN..LOOP_CONFIG_LEN]
                .iter()
                .all(|&c| c == 0));
            assert!(data[8 + 44..8 + 52].iter().all(|&c| c == 0));
            assert_eq!(cfg.fd.to_le_bytes(), data[..4]);
            assert_eq!(cfg.block_size.to_le_bytes(), data[4..8]);
            assert_eq!(LoopInfo64::decode(&data[8..]), Some(cfg.info));
            // What lloop's configure checks next: a block size it can take (0 is the
            // default).
            if cfg.block_size != 0 && check_block_size(cfg.block_size, 4096).is_ok() {
                assert!(cfg.block_size.is_power_of_two());
                assert!((512..=4096).contains(&cfg.block_size));
            }
        }
        Err(ConfigError::Reserved) => assert!(
            data.len() < LOOP_CONFIG_LEN
                || data[8 + LOOP_INFO64_LEN..LOOP_CONFIG_LEN]
                    .iter()
                    .any(|&c| c != 0)
        ),
        Err(ConfigError::Encryption) => {
            assert!(data[8 + 44..8 + 52].iter().any(|&c| c != 0))
        }
        Err(ConfigError::Flags) => {
            let flags = u32::from_le_bytes([data[60], data[61], data[62], data[63]]);
            assert_ne!(flags & !CONFIGURE_SETTABLE, 0);
        }
    }
});
