//! hlk/WFPLogo.Info and hlk/WFPLogo.Answer: the .Info names the provider as Cargo.toml does and
//! declares what this driver is (a packet-injecting callout driver, not a firewall, verifier on);
//! every LOGO_ADD / LOGO_DELETE line of the .Answer, with example values put in for the kit's
//! variables, is a wfpinjctl command line its own parser accepts, each DELETE removes what its ADD
//! added, and the pairs run against the host-built driver leave the rules as they were.

#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/identity.rs"]
mod identity;
#[path = "support/kmdf_host.rs"]
mod kmdf_host;
#[path = "support/tool_device.rs"]
mod tool_device;

use std::collections::BTreeMap;

use wfp_sim::kmdf_io::Caller;
use wfpinjctl::args::{Command, Inspect, parse};

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{}/hlk/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|error| panic!("read hlk/{name}: {error}"))
}

/// The `Key = value;` lines of an .Info or .Answer file (comments and blank lines skipped);
/// every other line fails the test.
fn entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let body = line
                .strip_suffix(';')
                .unwrap_or_else(|| panic!("not ended by ';': {line}"));
            let (key, value) = body
                .split_once('=')
                .unwrap_or_else(|| panic!("not 'Key = value;': {line}"));
            (key.trim().to_owned(), value.trim().to_owned())
        })
        .collect()
}

#[test]
fn the_info_names_the_provider_and_declares_a_packet_injecting_callout_driver() {
    let info: BTreeMap<String, String> = entries(&read("WFPLogo.Info")).into_iter().collect();
    let quoted = |key: &str| info[key].trim_matches('"').to_owned();
    assert_eq!(quoted("CompanyName"), identity::identity("company"));
    assert_eq!(quoted("ProductName"), identity::identity("product"));
    assert!(quoted("DriverName").ends_with(r"\wfp_injector.sys"));
    for (key, value) in [
        ("EnableDriverVerifier", "1"),
        ("UseAnswerFile", "1"),
        ("CalloutDriver", "1"),
        ("DoesPacketInjection", "1"),
        ("IsAFirewall", "0"),
        ("LayeredOnMicrosoftWindowsFirewall", "0"),
        ("DoesMACFiltering", "0"),
        ("DoesVSwitchFiltering", "0"),
        ("DoesStreamInjection", "0"),
        ("DoesConnectionProxying", "0"),
    ] {
        assert_eq!(info.get(key).map(String::as_str), Some(value), "{key}");
    }
    for (key, value) in &info {
        assert!(
            value.starts_with('"') || value == "0" || value == "1",
            "{key} = {value}: a quoted string, 0 or 1"
        );
    }
}

/// Example values for the kit's variables, per IP version and protocol.
fn substitute(command: &str, version: u8, protocol: &str) -> String {
    // What the kit passes as an ICMP variation's port is not known: 0, or nothing at all.
    let port = match protocol {
        "1" => "0",
        "58" => "",
        _ => "5001",
    };
    let (local, remote) = if version == 4 {
        ("192.0.2.1", "192.0.2.2")
    } else {
        ("2001:db8::1", "2001:db8::2")
    };
    command
        .replace("%WinDir%", r"C:\Windows")
        .replace("%LOCAL_IP%", local)
        .replace("%REMOTE_IP%", remote)
        .replace("%IP_VERSION%", &version.to_string())
        .replace("%PROTOCOL%", protocol)
        .replace("%LOCAL_PORT%", "5000")
        .replace("%REMOTE_PORT%", port)
}

/// (ADD, DELETE) command lines of the answer file, with `direction` put in for %DIRECTION%.
fn pairs(direction: &str) -> Vec<(String, String)> {
    let mut adds = Vec::new();
    let mut deletes = Vec::new();
    for (key, value) in entries(&read("WFPLogo.Answer")) {
        let value = value.replace("%DIRECTION%", direction);
        match key.as_str() {
            "LOGO_ADD" => adds.push(value),
            "LOGO_DELETE" => deletes.push(value),
            "configurationTimer" | "numPacketInjectionCommands" => {}
            other => panic!("unexpected key {other}"),
        }
    }
    assert_eq!(adds.len(), deletes.len(), "every ADD has its DELETE");
    assert_eq!(
        adds.len(),
        10,
        "two packet injection variations (IP packet, transport) and eight power ones"
    );
    adds.into_iter().zip(deletes).collect()
}

/// The versions a line may be run with: the one it names, or both when the kit fills it in.
fn versions(line: &str) -> Vec<u8> {
    match line {
        line if line.contains("--ip-version 4") => vec![4],
        line if line.contains("--ip-version 6") => vec![6],
        _ => vec![4, 6],
    }
}

fn arguments(line: &str) -> Vec<String> {
    let mut words = line.split_whitespace();
    assert_eq!(
        words.next(),
        Some(r"C:\Windows\System32\wfpinjctl.exe"),
        "{line}"
    );
    words.map(String::from).collect()
}

#[test]
fn every_answer_line_parses_with_the_tools_parser_and_delete_undoes_add() {
    for direction in ["IN", "OUT"] {
        for (add, delete) in pairs(direction) {
            for version in versions(&add) {
                for protocol in ["6", "17", "UDP", "1", "58", "ICMP"] {
                    let add = substitute(&add, version, protocol);
                    let delete = substitute(&delete, version, protocol);
                    let added = parse(&arguments(&add)).unwrap_or_else(|e| panic!("{add}: {e}"));
                    let deleted =
                        parse(&arguments(&delete)).unwrap_or_else(|e| panic!("{delete}: {e}"));
                    let (
                        Command::Inspect(Inspect::Add(rule)),
                        Command::Inspect(Inspect::Remove(same)),
                    ) = (added.command, deleted.command)
                    else {
                        panic!("{add} / {delete}: not inspect add / remove");
                    };
                    assert_eq!(rule, same, "{add}");
                    assert_eq!(rule.family, version, "{add}");
                    assert_ne!(
                        rule.remote_prefix, 0,
                        "{add}: the remote address is in the rule"
                    );
                }
            }
        }
    }
}

#[test]
fn the_answer_files_commands_configure_the_host_built_driver_and_undo_it() {
    let _serial = kmdf_host::serial();
    let load = kmdf_host::load(|_| {});
    let sim = load.sim;
    let admin = Caller::Administrator;
    for direction in ["IN", "OUT"] {
        for (add, delete) in pairs(direction) {
            for (version, protocol) in versions(&add)
                .into_iter()
                .flat_map(|version| [(version, "17"), (version, "1"), (version, "58")])
            {
                let add = substitute(&add, version, protocol);
                let delete = substitute(&delete, version, protocol);
                let line = arguments(&add).join(" ");
                let (code, _, err) = tool_device::wfpinjctl(sim, admin, &line, 1);
                assert_eq!(code, wfpinjctl::EXIT_OK, "{add}: {err}");
                let warned = err
                    .lines()
                    .all(|line| line.starts_with("wfpinjctl: warning: "));
                assert!(warned, "{add}: {err}");
                if protocol == "17" {
                    assert_eq!(err, "", "{add}: a UDP variation's port is the rule's");
                }
                assert_eq!(
                    sim.wfp_objects().filters,
                    1,
                    "{add}: one layer has the rule"
                );
                let line = arguments(&delete).join(" ");
                let (code, _, err) = tool_device::wfpinjctl(sim, admin, &line, 1);
                assert_eq!(code, wfpinjctl::EXIT_OK, "{delete}: {err}");
                assert_eq!(sim.wfp_objects().filters, 0, "{delete}");
            }
        }
    }
    load.unload().assert_clean();
}
