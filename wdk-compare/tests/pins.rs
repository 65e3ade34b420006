//! The WDK build hands wdk-compare a `bindgen::Builder` made by wdk-build's `BuilderExt`: that
//! only compiles when both resolve to one bindgen. Cargo.lock is resolved for every platform, so
//! this is checked here, on Linux, where the WDK build itself cannot run.

use std::collections::BTreeMap;

/// `[[package]]` entries of Cargo.lock: name -> (versions, dependency lines).
fn lock_packages() -> BTreeMap<String, Vec<(String, Vec<String>)>> {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .expect("the workspace's Cargo.lock");
    let mut packages: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{key} = \"")))
                .map(|rest| rest.trim_end_matches('"').to_owned())
        };
        let (Some(name), Some(version)) = (field("name"), field("version")) else {
            continue;
        };
        let dependencies = block
            .split("dependencies = [")
            .nth(1)
            .map(|list| {
                list.split(']')
                    .next()
                    .unwrap_or("")
                    .lines()
                    .map(|line| line.trim().trim_matches(',').trim_matches('"').to_owned())
                    .filter(|line| !line.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        packages
            .entry(name)
            .or_default()
            .push((version, dependencies));
    }
    packages
}

#[test]
fn one_bindgen_shared_by_wdk_build_and_wdk_compare() {
    let packages = lock_packages();
    let bindgen = &packages["bindgen"];
    assert_eq!(
        bindgen.len(),
        1,
        "Cargo.lock holds several bindgen versions: {bindgen:?}"
    );
    let version = &bindgen[0].0;
    for user in ["wdk-build", "wdk-compare"] {
        let entries = &packages[user];
        assert_eq!(entries.len(), 1, "{user}: {entries:?}");
        let uses = entries[0].1.iter().any(|dependency| {
            dependency == "bindgen" || dependency == &format!("bindgen {version}")
        });
        assert!(
            uses,
            "{user} does not depend on the locked bindgen {version}: {:?}",
            entries[0].1
        );
    }
}

#[test]
fn wdk_build_is_the_version_read_for_the_wdk_build() {
    // build.rs, Makefile.toml and docs/wdk-build.md follow wdk-build 0.6.0's sources; a different
    // version must be read again before it is used.
    let packages = lock_packages();
    let versions: Vec<&str> = packages["wdk-build"]
        .iter()
        .map(|(v, _)| v.as_str())
        .collect();
    assert_eq!(versions, ["0.6.0"]);
}
