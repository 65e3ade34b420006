//! The bytes `Parameters\InspectRules` holds for a configuration, written from docs/control.md's
//! "Persistence" table (not from the driver's encoder): a 24-byte header (`WIPR`, format 1, the
//! value's size, the flags without CONFIG_PERSIST, the rule count, zero), then each rule in use
//! in the protocol's 48-byte wire layout.

#![allow(dead_code)] // each test crate uses part of it

use wfp_protocol::{CONFIG_PERSIST, Config, Rule, Wire};

/// The value's header for `count` rules and `flags`, in format `format`.
pub fn header(format: u32, size: u32, flags: u32, count: u32) -> Vec<u8> {
    let mut bytes = b"WIPR".to_vec();
    for field in [format, size, flags, count, 0] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes
}

/// The value a set of `config` with CONFIG_PERSIST leaves (its generation plays no part).
pub fn saved_value(config: &Config) -> Vec<u8> {
    let count = config.rule_count as usize;
    let mut bytes = header(
        1,
        (24 + 48 * count) as u32,
        config.flags & !CONFIG_PERSIST,
        count as u32,
    );
    for rule in &config.rules[..count] {
        let mut wire = vec![0; Rule::SIZE];
        rule.encode(&mut wire);
        bytes.extend_from_slice(&wire);
    }
    bytes
}
