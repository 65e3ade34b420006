//! Test support shared by the tests that look at the built driver image: finding it, reading the
//! seam's declarations, and (for running it) the loader and the win64 import shims. Each test
//! uses part of it.

#![allow(dead_code)]

pub mod harness;
pub mod loader;
pub mod shims;

use std::path::PathBuf;

/// The image scripts/build-sys.sh built (or $WFP_SYS_IMAGE). In CI a missing image fails the
/// test; elsewhere the caller skips with a message.
pub fn image_bytes() -> Option<Vec<u8>> {
    let path = std::env::var_os("WFP_SYS_IMAGE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/sys/wfp_injector.sys"),
        PathBuf::from,
    );
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(error) if std::env::var_os("CI").is_some() => {
            panic!(
                "CI: driver image {} missing ({error}); run scripts/build-sys.sh",
                path.display()
            )
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: no driver image at {} (run scripts/build-sys.sh)",
                path.display()
            );
            None
        }
    }
}

/// (module, function) for every function declared in the seam's `extern` blocks, read from
/// src/sys/windows.rs, so checks on the image compare against what the seam declares.
pub fn seam_declarations() -> std::collections::BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/sys/windows.rs"),
    )
    .expect("read src/sys/windows.rs");
    let mut declared = std::collections::BTreeSet::new();
    let mut module: Option<String> = None;
    let mut in_block = false;
    for line in source.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#[link(name = \"") {
            module = rest.split('"').next().map(str::to_owned);
        } else if line.starts_with("unsafe extern \"system\" {") {
            in_block = true;
        } else if in_block && line == "}" {
            in_block = false;
            module = None;
        } else if in_block {
            if let Some(rest) = line.strip_prefix("fn ") {
                let name = rest.split('(').next().unwrap().trim().to_owned();
                let module = module.clone().expect("extern block without #[link(name)]");
                declared.insert((module, name));
            }
        }
    }
    assert!(
        declared.len() >= 4,
        "parsed too few seam declarations: {declared:?}"
    );
    declared
}
