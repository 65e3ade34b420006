//! Test support shared by the tests that look at the built driver image: finding it, reading the
//! seam's declarations, and (for running it) the loader and the win64 import shims. Each test
//! uses part of it.

#![allow(dead_code)]

pub mod harness;
pub mod identity;
pub mod loader;
pub mod shims;
pub mod waiting;

use std::path::PathBuf;

/// Where the image is: $WFP_SYS_IMAGE, or what scripts/build-sys.sh built.
pub fn image_path() -> PathBuf {
    std::env::var_os("WFP_SYS_IMAGE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/sys/wfp_injector.sys"),
        PathBuf::from,
    )
}

/// Whether this run opted out of requiring a current image (WFP_ALLOW_NO_IMAGE=1).
pub fn image_opted_out() -> bool {
    std::env::var_os("WFP_ALLOW_NO_IMAGE").is_some_and(|value| value == "1")
}

/// The hash of the current sources (scripts/sources-hash.sh), computed once per test binary.
fn current_sources_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/sources-hash.sh");
        let output = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|error| panic!("run {}: {error}", script.display()));
        assert!(
            output.status.success(),
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    })
}

/// What is wrong with the image at `path`, if anything: missing, built without a sources hash,
/// or built from other sources than the checkout's.
pub fn image_problem(path: &std::path::Path) -> Option<String> {
    if !path.is_file() {
        return Some(format!("no driver image at {}", path.display()));
    }
    let recorded_at = path.with_extension("sources-hash");
    let Ok(recorded) = std::fs::read_to_string(&recorded_at) else {
        return Some(format!(
            "{} has no {} (built before images recorded their sources)",
            path.display(),
            recorded_at.display()
        ));
    };
    let current = current_sources_hash();
    (recorded.trim() != current).then(|| {
        format!(
            "{} is stale: built from sources {}, the checkout's are {current}",
            path.display(),
            recorded.trim()
        )
    })
}

/// The driver image's bytes. A missing or stale image (one built from other sources than the
/// checkout's, per the hash scripts/build-sys.sh records next to it) fails the test, unless the
/// run opted out with WFP_ALLOW_NO_IMAGE=1: then `None`, and each image test binary's gate test
/// (`support::image_is_present_and_built_from_these_sources`) reports itself ignored with the
/// reason in the result lines.
pub fn image_bytes() -> Option<Vec<u8>> {
    let path = image_path();
    match image_problem(&path) {
        None => Some(std::fs::read(&path).unwrap_or_else(|error| {
            panic!("read {}: {error}", path.display());
        })),
        Some(problem) if image_opted_out() => {
            eprintln!("SKIPPED (WFP_ALLOW_NO_IMAGE=1): {problem}");
            None
        }
        Some(problem) => panic!(
            "{problem}; run scripts/build-sys.sh --sign (or opt out explicitly with \
             WFP_ALLOW_NO_IMAGE=1, which the test results then report)"
        ),
    }
}

/// The gate of every test binary that includes this module: the image exists and was built from
/// the checkout's sources. With WFP_ALLOW_NO_IMAGE=1 (seen by build.rs) it is ignored, and its
/// result line carries the opt-out, so a run that skipped image tests never reads as all "ok".
#[test]
#[cfg_attr(
    wfp_allow_no_image,
    ignore = "WFP_ALLOW_NO_IMAGE=1: image tests skip a missing or stale driver image"
)]
fn image_is_present_and_built_from_these_sources() {
    let path = image_path();
    if let Some(problem) = image_problem(&path) {
        panic!("{problem}; run scripts/build-sys.sh --sign");
    }
}

/// (module, function) for every function declared in the seam's `extern` blocks, read from
/// crates/seam/src/sys/declarations.rs, so checks on the image compare against what the seam declares.
pub fn seam_declarations() -> std::collections::BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/seam/src/sys/declarations.rs"),
    )
    .expect("read crates/seam/src/sys/declarations.rs");
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
                if name.starts_with('$') {
                    // A matcher of the list's grammar (the flat form's macro), not an entry.
                    continue;
                }
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
