//! Checks inf/wfp_injector.inx, and the INF stamped from it into the driver package
//! (target/package/wfp_injector.inf, by scripts/make-package.sh), the way the WDK tools read them
//! (sections and keys case-insensitive, %strings% expanded, the file's real encoding), against the
//! rules for a primitive WFP callout driver and against the crate itself.

// The image gate: the package is made with the image, and a run that opted out of the image
// (WFP_ALLOW_NO_IMAGE=1) reports it in this binary's results too.
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use support::identity::identity;

use wfp_injector::driver::DriverConfig;
use wfp_injector::driver::config::InspectLayer;
use wfp_sim::SERVICE_KEY_PATH;

/// Sections (lower-cased name) to their lines (comments and blanks removed).
struct Inf {
    sections: BTreeMap<String, Vec<String>>,
    strings: BTreeMap<String, String>,
}

fn decode(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16(&units).expect("UTF-16LE INF");
    }
    assert!(
        bytes.is_ascii(),
        "an INF without a UTF-16 BOM must be plain ASCII for stampinf/InfVerif"
    );
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn strip_comment(line: &str) -> &str {
    // A ';' inside quotes is text, not a comment.
    let mut quoted = false;
    for (index, ch) in line.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..index],
            _ => {}
        }
    }
    line
}

impl Inf {
    fn parse(text: &str) -> Self {
        let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current: Option<String> = None;
        for raw in text.lines() {
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.trim().to_ascii_lowercase();
                assert!(
                    !sections.contains_key(&name),
                    "section [{name}] appears twice"
                );
                sections.insert(name.clone(), Vec::new());
                current = Some(name);
                continue;
            }
            let section = current.clone().expect("a line outside any section");
            sections.get_mut(&section).unwrap().push(line.to_owned());
        }
        let strings = sections
            .get("strings")
            .map(|lines| {
                lines
                    .iter()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| {
                        (
                            k.trim().to_ascii_lowercase(),
                            v.trim().trim_matches('"').to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self { sections, strings }
    }

    fn expand(&self, value: &str) -> String {
        let mut out = String::new();
        let mut rest = value;
        while let Some(start) = rest.find('%') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let end = after.find('%').expect("unterminated %string%");
            let token = &after[..end];
            match token.parse::<u32>() {
                // %13% and friends are DIRIDs, kept as they are.
                Ok(_) => out.push_str(&format!("%{token}%")),
                Err(_) => out.push_str(
                    self.strings
                        .get(&token.to_ascii_lowercase())
                        .unwrap_or_else(|| panic!("%{token}% is not in [Strings]")),
                ),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out.trim().trim_matches('"').to_owned()
    }

    fn section(&self, name: &str) -> &[String] {
        self.sections
            .get(&name.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("section [{name}] is missing"))
    }

    /// The expanded value of `key` in `section` (keys case-insensitive).
    fn value(&self, section: &str, key: &str) -> Option<String> {
        self.section(section).iter().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            k.trim().eq_ignore_ascii_case(key).then(|| self.expand(v))
        })
    }

    fn require(&self, section: &str, key: &str) -> String {
        self.value(section, key)
            .unwrap_or_else(|| panic!("[{section}] has no {key}"))
    }
}

fn inx_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("inf/wfp_injector.inx");
    decode(&std::fs::read(path).expect("read the INX"))
}

fn inf() -> Inf {
    Inf::parse(&inx_text())
}

/// The stamped INF of the package, or `None` when the run opted out of the built image
/// (WFP_ALLOW_NO_IMAGE=1, as the image tests do); missing otherwise, it fails the test.
fn stamped_text() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/package/wfp_injector.inf");
    match std::fs::read(&path) {
        Ok(bytes) => Some(decode(&bytes)),
        Err(_) if support::image_opted_out() => {
            eprintln!("SKIPPED (WFP_ALLOW_NO_IMAGE=1): no {}", path.display());
            None
        }
        Err(error) => panic!(
            "no {} ({error}): run scripts/build-sys.sh --sign",
            path.display()
        ),
    }
}

/// The binary the crate builds: the lib name plus .sys.
const BINARY: &str = "wfp_injector.sys";

#[test]
fn version_section_is_complete_for_the_wfpcallouts_class() {
    let inf = inf();
    assert_eq!(inf.require("Version", "Signature"), "$WINDOWS NT$");
    assert_eq!(inf.require("Version", "Class"), "WFPCALLOUTS");
    assert_eq!(
        inf.require("Version", "ClassGuid").to_ascii_lowercase(),
        "{57465043-616c-6c6f-7574-5f636c617373}"
    );
    assert!(!inf.require("Version", "Provider").is_empty());
    assert_eq!(inf.require("Version", "CatalogFile"), "wfp_injector.cat");
    assert!(
        inf.value("Version", "DriverVer").is_some(),
        "DriverVer is present for stampinf to fill"
    );
    assert_eq!(inf.require("Version", "PnpLockdown"), "1");
}

#[test]
fn it_is_a_primitive_driver_installed_by_decorated_default_install_sections() {
    check_primitive(&inf(), "$ARCH$");
}

/// The package's INF is the INX with stampinf's two edits and nothing else: every `$ARCH$` is
/// `amd64` and DriverVer is `MM/DD/YYYY,W.X.Y.Z` with Cargo.toml's version; its lines end in
/// CRLF; it passes the same checks as the INX, names the company of Cargo.toml as its Provider
/// and its catalog file.
#[test]
fn the_stamped_inf_in_the_package_is_the_inx_with_arch_and_driverver_filled() {
    let Some(stamped) = stamped_text() else {
        return;
    };
    let inx = inx_text();
    assert!(!stamped.contains("$ARCH$"), "an unstamped $ARCH$");
    assert!(
        !inx.contains('\r'),
        "the INX is LF; the package writes CRLF"
    );
    assert!(
        stamped.ends_with("\r\n")
            && stamped
                .split('\n')
                .rev()
                .skip(1)
                .all(|line| line.ends_with('\r')),
        "every line of the stamped INF ends in CRLF"
    );
    let (mut driver_ver, mut lines) = (None, 0);
    for (source, out) in inx.lines().zip(stamped.lines()) {
        lines += 1;
        if source.trim_start().starts_with("DriverVer") {
            assert_eq!(
                source.split('=').nth(1).map(str::trim),
                Some(""),
                "{source}"
            );
            driver_ver = Some(out.split_once('=').expect(out).1.trim().to_owned());
        } else {
            assert_eq!(
                out,
                source.replace("$ARCH$", "amd64"),
                "a line changed beyond $ARCH$"
            );
        }
    }
    assert_eq!(lines, inx.lines().count());
    assert_eq!(
        stamped.lines().count(),
        lines,
        "the stamped INF has extra lines"
    );
    let driver_ver = driver_ver.expect("a DriverVer line");
    let (date, version) = driver_ver
        .split_once(',')
        .expect("DriverVer = date,version");
    let date: Vec<u32> = date
        .split('/')
        .map(|part| part.parse().expect(date))
        .collect();
    assert!(
        date.len() == 3 && (1..=12).contains(&date[0]) && (1..=31).contains(&date[1]),
        "DriverVer's date is MM/DD/YYYY: {driver_ver}"
    );
    assert!((2024..=2099).contains(&date[2]), "{driver_ver}");
    assert_eq!(version, format!("{}.0", env!("CARGO_PKG_VERSION")));
    let inf = Inf::parse(&stamped);
    check_primitive(&inf, "amd64");
    assert_eq!(inf.require("Version", "DriverVer"), driver_ver);
    assert_eq!(inf.require("Version", "CatalogFile"), "wfp_injector.cat");
    assert_eq!(inf.require("Version", "Provider"), identity("company"));
    assert_eq!(
        identity("company"),
        wfp_injector::driver::objects::COMPANY,
        "the WFP provider's name is the INF's Provider"
    );
    assert_eq!(identity("product"), wfp_injector::driver::objects::PRODUCT);
}

fn check_primitive(inf: &Inf, arch: &str) {
    let install = format!("DefaultInstall.NT{arch}");
    let services = format!("DefaultInstall.NT{arch}.Services");
    assert!(
        !inf.sections.contains_key("manufacturer"),
        "a primitive driver has no [Manufacturer]"
    );
    assert!(
        !inf.sections.contains_key("defaultinstall"),
        "DefaultInstall must be architecture-decorated"
    );
    let copy = inf.require(&install, "CopyFiles");
    let files = inf.section(&copy);
    assert_eq!(
        files,
        [BINARY.to_owned()],
        "the CopyFiles section lists the driver binary"
    );
    let destination = inf
        .value("DestinationDirs", &copy)
        .or_else(|| inf.value("DestinationDirs", "DefaultDestDir"));
    assert_eq!(
        destination.as_deref(),
        Some("13"),
        "files go to DIRID 13 (the driver store)"
    );
    let add_service = inf.require(&services, "AddService");
    let fields: Vec<&str> = add_service.split(',').map(str::trim).collect();
    assert_eq!(fields.len(), 3, "AddService = name,flags,section");
    let service_name = fields[0];
    assert!(
        SERVICE_KEY_PATH.ends_with(&format!("\\{service_name}")),
        "the service name is the one the driver is tested with"
    );
    let service = fields[2];
    assert_eq!(inf.require(service, "ServiceType"), "1", "kernel driver");
    assert_eq!(
        inf.require(service, "StartType"),
        "3",
        "demand start on test machines"
    );
    assert_eq!(inf.require(service, "ErrorControl"), "1");
    assert_eq!(
        inf.require(service, "ServiceBinary"),
        format!("%13%\\{BINARY}")
    );
    let source_files = inf.section("SourceDisksFiles");
    assert!(source_files.iter().any(|l| {
        l.split('=')
            .next()
            .unwrap()
            .trim()
            .eq_ignore_ascii_case(BINARY)
    }));
}

#[test]
fn parameters_defaults_agree_with_the_driver_and_inspect_nothing() {
    let inf = inf();
    let service = inf.require("DefaultInstall.NT$ARCH$.Services", "AddService");
    let service = service.split(',').nth(2).unwrap().trim().to_owned();
    let add_reg = inf.require(&service, "AddReg");
    let mut values = BTreeMap::new();
    for line in inf.section(&add_reg) {
        let fields: Vec<String> = line.split(',').map(|f| inf.expand(f)).collect();
        assert_eq!(fields[0].to_ascii_uppercase(), "HKR", "{line}");
        assert_eq!(fields[1], "Parameters", "{line}");
        assert_eq!(fields[3], "0x00010001", "{line}: REG_DWORD");
        values.insert(fields[2].clone(), fields[4].parse::<u32>().unwrap());
    }
    assert_eq!(
        values.get("MaxInFlight"),
        Some(&DriverConfig::default().max_in_flight)
    );
    assert_eq!(values.get("VerboseLogging"), Some(&0));
    assert_eq!(
        values.get("InspectLayer"),
        Some(&(InspectLayer::default() as u32)),
        "the INF's InspectLayer is the driver's default"
    );
    for name in [
        "InspectRemotePort",
        "InspectRemoteAddressV4",
        "InspectRemoteAddressV6",
        "InspectProtocol",
    ] {
        assert!(
            !values.contains_key(name),
            "{name}: the INF must not configure inspection"
        );
    }
}

#[test]
fn the_parser_expands_strings_and_ignores_case() {
    let inf = Inf::parse("[strings]\nA = \"x;y\"\n[SECT]\nKey = %a% ; comment\n");
    assert_eq!(inf.require("Sect", "KEY"), "x;y");
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("[v]\r\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    assert!(Inf::parse(&decode(&utf16)).sections.contains_key("v"));
}

/// Boot start is a documented registry change (the INF's header and the README say the same
/// command), not an INF default: the service installs as demand start. The Start value the
/// commands set is SERVICE_BOOT_START as facts/kernel-facts.md has it.
#[test]
fn boot_start_is_a_documented_registry_change() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let inx = decode(&std::fs::read(root.join("inf/wfp_injector.inx")).unwrap());
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let inf = inf();
    let add_service = inf.require("DefaultInstall.NT$ARCH$.Services", "AddService");
    let service_name = add_service.split(',').next().unwrap().trim().to_owned();
    let facts = std::fs::read_to_string(root.join("facts/kernel-facts.md")).unwrap();
    let boot_start = facts
        .lines()
        .find(|line| line.starts_with("| const | SERVICE_BOOT_START |"))
        .and_then(|line| line.split('|').nth(3))
        .map(|value| {
            value
                .trim()
                .trim_start_matches("0x")
                .parse::<u32>()
                .unwrap()
        })
        .expect("a SERVICE_BOOT_START row");
    let command = format!("sc config {service_name} start= boot");
    let registry = format!(
        "reg add HKLM\\SYSTEM\\CurrentControlSet\\Services\\{service_name} /v Start /t REG_DWORD /d {boot_start} /f"
    );
    for (name, text) in [("inf/wfp_injector.inx", &inx), ("README.md", &readme)] {
        assert!(text.contains(&command), "{name} documents `{command}`");
        assert!(text.contains(&registry), "{name} documents `{registry}`");
        assert!(
            text.contains(&format!("sc config {service_name} start= demand")),
            "{name} says how to go back"
        );
    }
    assert!(readme.contains("### Boot start"));
    assert!(readme.contains("When to use it") && readme.contains("What it costs"));
    let service = add_service.split(',').nth(2).unwrap().trim().to_owned();
    assert_eq!(
        inf.require(&service, "StartType"),
        "3",
        "installed as demand start; boot start is the documented change"
    );
}
