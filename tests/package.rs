//! The driver package `scripts/build-sys.sh --sign` leaves in target/package, checked with tools
//! nobody here wrote (scripts/install-test-tools.sh installs them):
//! - osslsigncode verifies the catalog's signature and the image against the catalog;
//! - signify (PyPI, a catalog parser) lists the catalog's members, their kinds and name-value
//!   attributes and the catalog's own (tests/tools/catalog_members.py); every hash is compared
//!   with the image's Authenticode digest as osslsigncode and signify compute it and the INF's as
//!   coreutils computes it;
//! - pefile (PyPI) reads the image's version resource.
//!
//! Without the tools the checks are reported as skipped; in CI (CI set) they fail. The stamped
//! INF is checked by tests/inf_check.rs.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::identity::identity;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn package() -> PathBuf {
    root().join("target/package")
}

/// The package, when it is there and made from the checkout's image; `None` when the run opted
/// out of the image (WFP_ALLOW_NO_IMAGE=1). A package without the signature files fails: the
/// package tests check the signed package.
fn signed_package() -> Option<PathBuf> {
    support::image_bytes()?;
    let dir = package();
    for file in [
        "wfp_injector.sys",
        "wfp_injector.inf",
        "wfp_injector.cat",
        "wfp-injector-test.cer",
    ] {
        assert!(
            dir.join(file).is_file(),
            "no {}: run scripts/build-sys.sh --sign",
            dir.join(file).display()
        );
    }
    Some(dir)
}

/// Whether `tool` runs; outside CI a missing tool skips the caller (reported), in CI it fails.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        let message = format!("{tool} is not installed: run scripts/install-test-tools.sh");
        assert!(std::env::var_os("CI").is_none(), "CI: {message}");
        eprintln!("SKIPPED: {message}");
    }
    found
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("run {program}: {error}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The package's .cer (DER, what a test machine imports) as PEM for osslsigncode's -CAfile.
fn ca_file(dir: &Path) -> PathBuf {
    // One file per call: tests run in parallel and each removes its own.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!(
        "wfp-package-ca-{}-{serial}.pem",
        std::process::id()
    ));
    let cer = dir.join("wfp-injector-test.cer");
    let result = run(
        "openssl",
        &[
            "x509",
            "-inform",
            "der",
            "-in",
            cer.to_str().unwrap(),
            "-out",
            out.to_str().unwrap(),
        ],
    );
    assert!(result.status.success(), "openssl x509: {}", text(&result));
    out
}

fn osslsigncode_verify(ca: &Path, extra: &[&str], file: &Path) -> Output {
    let mut args = vec!["verify", "-CAfile", ca.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-in", file.to_str().unwrap()]);
    run("osslsigncode", &args)
}

/// The "Calculated message digest" osslsigncode prints for a file it verifies.
fn calculated_digest(report: &str) -> String {
    report
        .lines()
        .find_map(|line| line.strip_prefix("Calculated message digest"))
        .and_then(|rest| rest.split(':').nth(1))
        .map(|digest| digest.trim().to_ascii_uppercase())
        .unwrap_or_else(|| panic!("no calculated digest in:\n{report}"))
}

#[test]
fn the_package_holds_the_built_image_the_inf_the_catalog_and_the_certificate() {
    let Some(dir) = signed_package() else { return };
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "wfp-injector-test.cer",
            "wfp_injector.cat",
            "wfp_injector.inf",
            "wfp_injector.sys"
        ]
    );
    assert_eq!(
        std::fs::read(dir.join("wfp_injector.sys")).unwrap(),
        std::fs::read(support::image_path()).unwrap(),
        "the package's image is the image the tests run"
    );
}

#[test]
fn osslsigncode_verifies_the_catalog_and_the_image_against_it_and_refuses_a_changed_image() {
    let Some(dir) = signed_package() else { return };
    if !have("osslsigncode") || !have("openssl") {
        return;
    }
    let ca = ca_file(&dir);
    let catalog = dir.join("wfp_injector.cat");
    let image = dir.join("wfp_injector.sys");

    let report = osslsigncode_verify(&ca, &[], &catalog);
    assert!(
        report.status.success(),
        "the catalog's signature: {}",
        text(&report)
    );
    let report = text(&report);
    assert!(
        report.contains("Message digest algorithm: SHA256"),
        "{report}"
    );
    assert!(report.contains("Signature verification: ok"), "{report}");

    let signed = osslsigncode_verify(&ca, &[], &image);
    assert!(
        signed.status.success(),
        "the image's own signature: {}",
        text(&signed)
    );

    // Against the catalog, the image without its own signature: only the catalog can vouch for
    // it then (a check that ignored -catalog would fail here, not pass on the embedded one).
    let unsigned = std::env::temp_dir().join(format!("wfp-unsigned-{}.sys", std::process::id()));
    let _ = std::fs::remove_file(&unsigned);
    let removed = run(
        "osslsigncode",
        &[
            "remove-signature",
            "-in",
            image.to_str().unwrap(),
            "-out",
            unsigned.to_str().unwrap(),
        ],
    );
    assert!(
        removed.status.success(),
        "remove-signature: {}",
        text(&removed)
    );
    let alone = osslsigncode_verify(&ca, &[], &unsigned);
    assert!(
        !alone.status.success(),
        "without its signature and without the catalog the image does not verify"
    );
    let against = osslsigncode_verify(&ca, &["-catalog", catalog.to_str().unwrap()], &unsigned);
    assert!(
        against.status.success(),
        "the unsigned image against the catalog: {}",
        text(&against)
    );
    // The digest osslsigncode matched in the catalog is the image's own.
    assert_eq!(
        calculated_digest(&text(&against)),
        calculated_digest(&text(&signed))
    );

    // One byte of code changed: the catalog no longer covers the image.
    let mut bytes = std::fs::read(&unsigned).unwrap();
    let _ = std::fs::remove_file(&unsigned);
    let pe = goblin::pe::PE::parse(&bytes).unwrap();
    let text_section = pe
        .sections
        .iter()
        .find(|section| section.name().ok() == Some(".text"))
        .expect(".text");
    let at = text_section.pointer_to_raw_data as usize + 16;
    bytes[at] ^= 0xFF;
    let changed = std::env::temp_dir().join(format!("wfp-changed-{}.sys", std::process::id()));
    std::fs::write(&changed, &bytes).unwrap();
    let refused = osslsigncode_verify(&ca, &["-catalog", catalog.to_str().unwrap()], &changed);
    let _ = std::fs::remove_file(&changed);
    let _ = std::fs::remove_file(&ca);
    assert!(
        !refused.status.success(),
        "a changed image must not verify against the catalog: {}",
        text(&refused)
    );
}

/// Whether `module` imports in python3; outside CI a missing module skips the caller (reported),
/// in CI it fails.
fn have_python(module: &str) -> bool {
    if !have("python3") {
        return false;
    }
    let found = run("python3", &["-c", &format!("import {module}")])
        .status
        .success();
    if !found {
        let message = format!("python3 has no {module}: run scripts/install-test-tools.sh");
        assert!(std::env::var_os("CI").is_none(), "CI: {message}");
        eprintln!("SKIPPED: {message}");
    }
    found
}

/// The hex digest `tool` (sha256sum, sha1sum) prints for `file`.
fn coreutils_digest(tool: &str, file: &Path) -> String {
    let output = run(tool, &[file.to_str().unwrap()]);
    assert!(output.status.success(), "{tool}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

/// The catalog as `inf2cat /os:10_X64` writes one (a version-2 catalog), read by signify: each
/// file is a SHA-256 member holding its hash as Authenticode indirect data (PE image data for
/// the image, flat-file data for the INF) and a SHA-1 companion without it, both with the file's
/// kind (CAT_MEMBERINFO2), File and OSAttr 2:10.0; members in tag order; the catalog's OS is
/// _v100_X64 and its date is DriverVer's. Every hash is computed again outside the catalog: the
/// image's SHA-256 by osslsigncode and by signify, its SHA-1 by signify, the INF's by coreutils.
#[test]
fn signify_reads_the_members_and_attributes_inf2cat_writes_with_hashes_computed_independently() {
    let Some(dir) = signed_package() else { return };
    if !have("osslsigncode") || !have("openssl") || !have("sha256sum") || !have("sha1sum") {
        return;
    }
    if !have_python("signify") {
        return;
    }
    let (catalog, image, inf) = (
        dir.join("wfp_injector.cat"),
        dir.join("wfp_injector.sys"),
        dir.join("wfp_injector.inf"),
    );
    let script = root().join("tests/tools/catalog_members.py");
    let listed = run(
        "python3",
        &[
            script.to_str().unwrap(),
            catalog.to_str().unwrap(),
            image.to_str().unwrap(),
            inf.to_str().unwrap(),
        ],
    );
    assert!(
        listed.status.success(),
        "catalog_members.py: {}",
        text(&listed)
    );
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();

    let ca = ca_file(&dir);
    let image_sha256 =
        calculated_digest(&text(&osslsigncode_verify(&ca, &[], &image))).to_ascii_lowercase();
    let _ = std::fs::remove_file(&ca);
    let inf_sha256 = coreutils_digest("sha256sum", &inf);
    let inf_sha1 = coreutils_digest("sha1sum", &inf);
    let file_line = |name: &str| -> Vec<String> {
        listed
            .lines()
            .find(|line| line.starts_with(&format!("file {name} ")))
            .unwrap_or_else(|| panic!("no file line for {name}:\n{listed}"))
            .split(' ')
            .map(str::to_owned)
            .collect()
    };
    // signify's own Authenticode SHA-256 of the image must be osslsigncode's; its SHA-1 is the
    // one independent source of the image's SHA-1 tag.
    let image_line = file_line("wfp_injector.sys");
    assert_eq!(
        image_line[3], image_sha256,
        "signify and osslsigncode disagree"
    );
    let image_sha1 = image_line[4].clone();
    assert_eq!(image_sha1.len(), 40);
    let inf_line = file_line("wfp_injector.inf");
    assert_eq!(
        (inf_line[3].as_str(), inf_line[4].as_str()),
        (inf_sha256.as_str(), inf_sha1.as_str()),
        "signify and coreutils disagree"
    );

    let stamped = std::fs::read_to_string(&inf).unwrap();
    let date = stamped
        .lines()
        .find_map(|line| line.strip_prefix("DriverVer"))
        .and_then(|rest| rest.split('=').nth(1))
        .and_then(|value| value.trim().split(',').next())
        .expect("DriverVer = date,version")
        .to_owned();
    let (month, rest) = date.split_once('/').unwrap();
    let (day, year) = rest.split_once('/').unwrap();

    let mut members = vec![
        (
            image_sha256.clone(),
            "subject_guid",
            Some("microsoft_spc_pe_image_data"),
            "wfp_injector.sys",
        ),
        (image_sha1.clone(), "subject_guid", None, "wfp_injector.sys"),
        (
            inf_sha256.clone(),
            "unknown2",
            Some("microsoft_spc_cab_data"),
            "wfp_injector.inf",
        ),
        (inf_sha1.clone(), "unknown2", None, "wfp_injector.inf"),
    ];
    // Tag order: the hex strings sort as the raw bytes do.
    members.sort();
    let mut expected = Vec::new();
    for (tag, info, data, file) in &members {
        expected.push(match data {
            Some(kind) => format!("member {tag} {info} indirect sha256 {tag} {kind}"),
            None => format!("member {tag} {info}"),
        });
        expected.push(format!("attr {tag} OSAttr 10010001 2:10.0"));
        expected.push(format!("attr {tag} File 10010001 {file}"));
    }
    expected.push(format!(
        "file wfp_injector.sys SignedPEFile {image_sha256} {image_sha1} {image_sha256}"
    ));
    expected.push(format!(
        "file wfp_injector.inf FlatFile {inf_sha256} {inf_sha1} {inf_sha256}"
    ));
    let lines: Vec<&str> = listed.lines().collect();
    let header: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(
        header[..3],
        ["catalog", "True", "microsoft_catalog_list_member_v2"],
        "{listed}"
    );
    assert!(
        header[3].starts_with(&format!("{year}-{month}-{day}T")),
        "thisUpdate {} is DriverVer's date {date}",
        header[3]
    );
    assert_eq!(header[4].len(), 32, "a 16-byte list identifier");
    assert_eq!(
        lines[1], "catattr 1.3.6.1.4.1.311.12.2.1 False OS 10010001 _v100_X64",
        "{listed}"
    );
    assert_eq!(lines[2..], expected, "signify printed:\n{listed}");
}

#[test]
fn pefile_reads_every_field_of_the_version_resource() {
    let Some(_) = signed_package() else { return };
    if !have_python("pefile") {
        return;
    }
    let script = r#"
import sys, pefile
pe = pefile.PE(sys.argv[1])
fixed = pe.VS_FIXEDFILEINFO[0]
print("FileVersion", "%d.%d.%d.%d" % (fixed.FileVersionMS >> 16, fixed.FileVersionMS & 0xFFFF, fixed.FileVersionLS >> 16, fixed.FileVersionLS & 0xFFFF))
print("ProductVersion", "%d.%d.%d.%d" % (fixed.ProductVersionMS >> 16, fixed.ProductVersionMS & 0xFFFF, fixed.ProductVersionLS >> 16, fixed.ProductVersionLS & 0xFFFF))
print("FileOS", hex(fixed.FileOS))
print("FileType", fixed.FileType)
print("FileSubtype", fixed.FileSubtype)
print("FileFlags", hex(fixed.FileFlags))
for info in pe.FileInfo[0]:
    if info.Key == b"StringFileInfo":
        for table in info.StringTable:
            for key, value in table.entries.items():
                print("string", table.LangID.decode(), key.decode(), "=", value.decode())
    if info.Key == b"VarFileInfo":
        for var in info.Var:
            for key, value in var.entry.items():
                print("var", key.decode(), value)
"#;
    let image = support::image_path();
    let output = run("python3", &["-c", script, image.to_str().unwrap()]);
    assert!(output.status.success(), "pefile: {}", text(&output));
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut fixed = BTreeMap::new();
    let mut strings = BTreeMap::new();
    let mut vars = Vec::new();
    for line in printed.lines() {
        if let Some(rest) = line.strip_prefix("string ") {
            let (key, value) = rest.split_once(" = ").unwrap();
            strings.insert(key.to_owned(), value.to_owned());
        } else if let Some(rest) = line.strip_prefix("var ") {
            vars.push(rest.to_owned());
        } else {
            let (key, value) = line.split_once(' ').unwrap();
            fixed.insert(key.to_owned(), value.to_owned());
        }
    }
    let version = format!("{}.0", env!("CARGO_PKG_VERSION"));
    // VOS_NT_WINDOWS32, VFT_DRV, VFT2_DRV_NETWORK (facts/package-facts.md); a release build.
    let expected_fixed = BTreeMap::from([
        ("FileVersion".to_owned(), version.clone()),
        ("ProductVersion".to_owned(), version.clone()),
        ("FileOS".to_owned(), "0x40004".to_owned()),
        ("FileType".to_owned(), "3".to_owned()),
        ("FileSubtype".to_owned(), "6".to_owned()),
        ("FileFlags".to_owned(), "0x0".to_owned()),
    ]);
    assert_eq!(fixed, expected_fixed, "{printed}");
    let (company, product) = (identity("company"), identity("product"));
    let table = "040904B0";
    let expected_strings: BTreeMap<String, String> = [
        ("CompanyName", company.clone()),
        (
            "FileDescription",
            format!("{product} packet-injection callout driver"),
        ),
        ("FileVersion", version.clone()),
        ("InternalName", "wfp_injector".to_owned()),
        (
            "LegalCopyright",
            format!("Copyright (c) the {product} authors; MIT OR Apache-2.0"),
        ),
        ("OriginalFilename", "wfp_injector.sys".to_owned()),
        ("ProductName", product.clone()),
        ("ProductVersion", version),
    ]
    .into_iter()
    .map(|(key, value)| (format!("{table} {key}"), value))
    .collect();
    assert_eq!(strings, expected_strings, "{printed}");
    // U.S. English (0x0409) in Unicode (1200 = 0x04B0): the pair naming the string block.
    assert_eq!(vars, ["Translation 0x0409 0x04b0"], "{printed}");
}
