//! Test support for running the shipped driver image on Linux.

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
