//! Every kernel function the seam declares for ntoskrnl.exe and ndis.sys must be a real export:
//! checked against mingw-w64's import libraries (an independent list, fetched by
//! scripts/fetch-export-lists.sh into target/export-lists). A misspelled import would otherwise
//! surface only as a load failure on Windows. In CI a missing list fails the test.

use std::collections::BTreeSet;
use std::path::PathBuf;

use goblin::archive::Archive;

mod support;

/// Exports newer than mingw-w64's lists: ExAllocatePool2 arrived in Windows 10 2004.
const NEWER_THAN_THE_LISTS: [&str; 1] = ["ExAllocatePool2"];

fn exports(library: &str) -> Option<BTreeSet<String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/export-lists")
        .join(library);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if std::env::var_os("CI").is_some() => {
            panic!(
                "CI: {} missing ({error}); run scripts/fetch-export-lists.sh",
                path.display()
            )
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: no {} (run scripts/fetch-export-lists.sh)",
                path.display()
            );
            return None;
        }
    };
    let archive = Archive::parse(&bytes).expect("parse the import library");
    let symbols: BTreeSet<String> = archive
        .summarize()
        .into_iter()
        .flat_map(|(_, _, symbols)| symbols.into_iter().map(str::to_owned))
        .filter_map(|symbol| symbol.strip_prefix("__imp_").map(str::to_owned))
        .collect();
    assert!(
        symbols.len() > 100,
        "{library}: too few exports parsed ({})",
        symbols.len()
    );
    Some(symbols)
}

#[test]
fn ntoskrnl_and_ndis_imports_are_real_exports() {
    let (Some(ntoskrnl), Some(ndis)) = (exports("libntoskrnl.a"), exports("libndis.a")) else {
        return;
    };
    let mut checked = 0;
    for (module, name) in support::seam_declarations() {
        let list = match module.as_str() {
            "ntoskrnl.exe" => &ntoskrnl,
            "ndis.sys" => &ndis,
            _ => continue, // mingw-w64 has no list for fwpkclnt.sys
        };
        if NEWER_THAN_THE_LISTS.contains(&name.as_str()) {
            assert!(
                !list.contains(&name),
                "{name} is in the list now: drop the exception"
            );
            continue;
        }
        assert!(
            list.contains(&name),
            "{module}!{name} is not exported by {module}"
        );
        checked += 1;
    }
    assert!(checked >= 18, "checked only {checked} names");
}

/// wdfldr.sys' exports as Windows-Driver-Frameworks names them (fxldr.h, "WDFLDR.SYS exported
/// function prototype definitions"), transcribed into the facts table's `rule | wdfldr.sys
/// exports` row: the seam's wdfldr.sys imports must be among them.
#[test]
fn wdfldr_imports_are_exports_the_framework_sources_name() {
    let table = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("facts/kernel-facts.md"),
    )
    .expect("read facts/kernel-facts.md");
    let row = table
        .lines()
        .find(|line| line.starts_with("| rule | wdfldr.sys exports |"))
        .expect("a `rule | wdfldr.sys exports` row");
    let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
    assert!(cells[3].contains("Windows-Driver-Frameworks"), "{row}");
    let exports: BTreeSet<&str> = cells[2].split(", ").collect();
    assert!(exports.len() >= 3, "{exports:?}");
    let mut checked = 0;
    for (module, name) in support::seam_declarations() {
        if module == "wdfldr.sys" {
            assert!(
                exports.contains(name.as_str()),
                "wdfldr.sys!{name} is not an export the framework sources name"
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked, 2,
        "WdfVersionBind and WdfVersionUnbind are declared"
    );
}
