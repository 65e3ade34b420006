//! Who ships the driver, as Cargo.toml declares it (`[package.metadata.wfp-injector]`): the
//! value the INF's Provider, the WFP provider and the version resource are checked against.

#![allow(dead_code)]

/// `[package.metadata.wfp-injector] key` of Cargo.toml (`company`, `product`).
pub fn identity(key: &str) -> String {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("read Cargo.toml");
    let table = manifest
        .split("[package.metadata.wfp-injector]")
        .nth(1)
        .expect("a [package.metadata.wfp-injector] table");
    let line = table
        .lines()
        .take_while(|line| !line.starts_with('['))
        .find(|line| line.split('=').next().is_some_and(|k| k.trim() == key))
        .unwrap_or_else(|| panic!("no {key} in [package.metadata.wfp-injector]"));
    line.split_once('=')
        .unwrap()
        .1
        .trim()
        .trim_matches('"')
        .to_owned()
}
