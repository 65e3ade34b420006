//! facts/package-facts.md against what the package is made with and against windows-sys:
//! scripts/make-catalog.py's OIDs, flags and tags, the OS attributes scripts/make-package.sh
//! passes it, inf/wfp_injector.rc's numbers; every row citing windows-sys equals the constant
//! there. A value in the scripts without a row, or a row without a source, fails.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::path::PathBuf;

use windows_sys::Win32::Security::Cryptography as crypto;
use windows_sys::Win32::Security::Cryptography::Catalog as catalog;
use windows_sys::Win32::Security::WinTrust as wintrust;
use windows_sys::Win32::Storage::FileSystem as file_system;
use windows_sys::core::PCSTR;

const TABLE: &str = "facts/package-facts.md";

fn read(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
}

struct Row {
    value: String,
    source: String,
}

/// (kind, item) -> row.
fn table() -> BTreeMap<(String, String), Row> {
    let mut rows = BTreeMap::new();
    for line in read(TABLE).lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 7 || cells[1] == "kind" || cells[1].starts_with("---") {
            continue;
        }
        let key = (cells[1].to_owned(), cells[2].to_owned());
        assert!(
            !cells[3].is_empty() && cells[3] != "?",
            "{TABLE}: `{} | {}` has no value",
            key.0,
            key.1
        );
        assert!(
            !cells[4].is_empty(),
            "{TABLE}: `{} | {}` has no source",
            key.0,
            key.1
        );
        let row = Row {
            value: cells[3].to_owned(),
            source: cells[4].to_owned(),
        };
        assert!(
            rows.insert(key.clone(), row).is_none(),
            "{TABLE}: `{} | {}` twice",
            key.0,
            key.1
        );
    }
    rows
}

fn value<'t>(table: &'t BTreeMap<(String, String), Row>, kind: &str, item: &str) -> &'t str {
    &table
        .get(&(kind.to_owned(), item.to_owned()))
        .unwrap_or_else(|| panic!("{TABLE} has no row `{kind} | {item}`"))
        .value
}

fn number(text: &str) -> u64 {
    let text = text.trim();
    text.strip_prefix("0x")
        .map(|hex| u64::from_str_radix(hex, 16))
        .unwrap_or_else(|| text.parse())
        .unwrap_or_else(|e| panic!("`{text}` is not a number: {e}"))
}

fn text(pointer: PCSTR) -> String {
    // SAFETY: windows-sys' string constants are NUL-terminated static strings.
    unsafe { CStr::from_ptr(pointer.cast()) }
        .to_str()
        .unwrap()
        .to_owned()
}

/// Every row citing windows-sys, as windows-sys has it.
fn windows_sys_values() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("szOID_RSA_signedData", text(crypto::szOID_RSA_signedData)),
        ("szOID_CTL", text(crypto::szOID_CTL)),
        ("szOID_NIST_sha256", text(crypto::szOID_NIST_sha256)),
        ("szOID_CATALOG_LIST", text(catalog::szOID_CATALOG_LIST)),
        (
            "szOID_CATALOG_LIST_MEMBER2",
            text(catalog::szOID_CATALOG_LIST_MEMBER2),
        ),
        (
            "SPC_INDIRECT_DATA_OBJID",
            text(wintrust::SPC_INDIRECT_DATA_OBJID),
        ),
        (
            "SPC_PE_IMAGE_DATA_OBJID",
            text(wintrust::SPC_PE_IMAGE_DATA_OBJID),
        ),
        ("SPC_CAB_DATA_OBJID", text(wintrust::SPC_CAB_DATA_OBJID)),
        ("CAT_NAMEVALUE_OBJID", text(wintrust::CAT_NAMEVALUE_OBJID)),
        (
            "CAT_MEMBERINFO2_OBJID",
            text(wintrust::CAT_MEMBERINFO2_OBJID),
        ),
        (
            "CRYPTCAT_ATTR_AUTHENTICATED",
            catalog::CRYPTCAT_ATTR_AUTHENTICATED.to_string(),
        ),
        (
            "CRYPTCAT_ATTR_DATAASCII",
            catalog::CRYPTCAT_ATTR_DATAASCII.to_string(),
        ),
        (
            "CRYPTCAT_ATTR_NAMEASCII",
            catalog::CRYPTCAT_ATTR_NAMEASCII.to_string(),
        ),
        (
            "CRYPTCAT_VERSION_2",
            catalog::CRYPTCAT_VERSION_2.to_string(),
        ),
        (
            "VOS_NT_WINDOWS32",
            file_system::VOS_NT_WINDOWS32.to_string(),
        ),
        ("VFT_DRV", file_system::VFT_DRV.to_string()),
        (
            "VFT2_DRV_NETWORK",
            file_system::VFT2_DRV_NETWORK.to_string(),
        ),
        (
            "VS_FFI_FILEFLAGSMASK",
            file_system::VS_FFI_FILEFLAGSMASK.to_string(),
        ),
    ])
}

#[test]
fn every_row_citing_windows_sys_equals_windows_sys() {
    let table = table();
    let values = windows_sys_values();
    let mut compared = 0;
    for ((kind, item), row) in &table {
        if !row.source.starts_with("windows-sys") || !(kind == "oid" || kind == "const") {
            continue;
        }
        let actual = values
            .get(item.as_str())
            .unwrap_or_else(|| panic!("`{kind} | {item}` cites windows-sys: add it to the test"));
        if kind == "oid" {
            assert_eq!(&row.value, actual, "{item}");
        } else {
            assert_eq!(number(&row.value), number(actual), "{item}");
        }
        compared += 1;
    }
    assert_eq!(
        compared,
        values.len(),
        "every windows-sys value has its row"
    );
}

/// `NAME = "dotted"  # OFFICIAL ...` lines of make-catalog.py: (NAME, dotted, OFFICIAL).
fn script_oids(script: &str) -> Vec<(String, String, String)> {
    script
        .lines()
        .filter(|line| line.starts_with("OID_"))
        .map(|line| {
            let (name, rest) = line.split_once('=').expect(line);
            let (value, comment) = rest.split_once('#').expect("an OID names its constant");
            (
                name.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
                comment.split_whitespace().next().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The right-hand side of `NAME = ...` in the script.
fn script_value(script: &str, name: &str) -> String {
    script
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} = ")))
        .unwrap_or_else(|| panic!("make-catalog.py has no {name}"))
        .trim()
        .to_owned()
}

#[test]
fn the_catalog_script_uses_the_tables_oids_flags_and_tags() {
    let table = table();
    let script = read("scripts/make-catalog.py");
    let oids = script_oids(&script);
    assert_eq!(oids.len(), 10, "{oids:?}");
    for (name, dotted, official) in &oids {
        assert_eq!(
            dotted,
            value(&table, "oid", official),
            "{name} ({official})"
        );
        let uses = script
            .match_indices(name.as_str())
            .filter(|(at, _)| {
                let next = script[at + name.len()..].chars().next();
                !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .count();
        assert!(uses >= 2, "{name} is declared but never written");
    }
    // Every OID row is one the script writes.
    let written: Vec<&str> = oids.iter().map(|(_, _, o)| o.as_str()).collect();
    for (kind, item) in table.keys() {
        if kind == "oid" {
            assert!(
                written.contains(&item.as_str()),
                "row `oid | {item}` unused"
            );
        }
    }

    let flags = number(&script_value(&script, "NAMEVALUE_FLAGS"));
    assert_eq!(
        flags,
        number(value(&table, "const", "CATALOG_NAMEVALUE_FLAGS"))
    );
    assert_eq!(
        flags,
        u64::from(
            catalog::CRYPTCAT_ATTR_AUTHENTICATED
                | catalog::CRYPTCAT_ATTR_DATAASCII
                | catalog::CRYPTCAT_ATTR_NAMEASCII
        ),
        "AUTHENTICATED | DATAASCII | NAMEASCII"
    );
    for (name, item) in [
        ("MEMBERINFO2_PE", "CAT_MEMBERINFO2.pe_image"),
        ("MEMBERINFO2_FLAT", "CAT_MEMBERINFO2.flat_file"),
    ] {
        let tag = number(value(&table, "tag", item));
        assert_eq!(
            script_value(&script, name),
            format!("der({tag:#04x}, b\"\")"),
            "{name}: an empty element tagged {item}"
        );
    }
    let flags = value(&table, "const", "SpcPeImageData.flags");
    let bytes = flags.trim_start_matches("0x").to_ascii_lowercase();
    assert_eq!(
        script_value(&script, "PE_IMAGE_FLAGS"),
        format!("der(0x03, b\"\\x{}\\x{}\")", &bytes[..2], &bytes[2..]),
        "SpcPeImageData.flags as a BIT STRING"
    );

    // The attributes the package script asks for.
    let package = read("scripts/make-package.sh");
    for (option, item) in [("--os-attr", "OSAttr.10_X64"), ("--os", "OS.10_X64")] {
        assert!(
            package.contains(&format!("{option} {} ", value(&table, "const", item))),
            "make-package.sh passes {option} {}",
            value(&table, "const", item)
        );
    }
}

#[test]
fn the_version_resource_uses_the_tables_numbers() {
    let table = table();
    let rc = read("inf/wfp_injector.rc");
    let statement = |name: &str| -> u64 {
        let line = rc
            .lines()
            .find(|line| line.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("wfp_injector.rc has no {name}"));
        number(line.split_whitespace().nth(1).unwrap())
    };
    for (name, item) in [
        ("FILEOS", "VOS_NT_WINDOWS32"),
        ("FILETYPE", "VFT_DRV"),
        ("FILESUBTYPE", "VFT2_DRV_NETWORK"),
        ("FILEFLAGSMASK", "VS_FFI_FILEFLAGSMASK"),
    ] {
        assert_eq!(
            statement(name),
            number(value(&table, "const", item)),
            "{name}"
        );
    }
    let block = value(&table, "const", "VERSIONINFO.string_block");
    assert!(rc.contains(&format!("BLOCK \"{block}\"")), "{block}");
    assert!(rc.contains("VALUE \"Translation\", 0x409, 1200"));
    for name in value(&table, "rule", "VERSIONINFO.strings").split(' ') {
        assert!(
            rc.contains(&format!("VALUE \"{name}\", \"")),
            "the required string {name}"
        );
    }
}
