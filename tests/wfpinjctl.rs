//! wfpinjctl's library (parsing, request encoding, output) against the host-built driver behind
//! its KMDF shell, through the simulated I/O manager: every command, text and JSON, the HLK
//! answer file's kind of rule, errors in words (not loaded, access denied, a bad address named).

#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/kmdf_host.rs"]
mod kmdf_host;
#[path = "support/saved_rules.rs"]
mod saved_rules;
#[path = "support/tool_device.rs"]
mod tool_device;

use host_driver::configure_port;
use kmdf_host::Sim;
use tool_device::wfpinjctl;
use wfp_sim::SimulatedStack;
use wfp_sim::kmdf_io::Caller;
use wfpinjctl::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

const ADMIN: Caller = Caller::Administrator;

/// Loads the driver through the shell with the registry's port and runs `test` against it.
fn with_driver(test: impl FnOnce(Sim)) {
    let _serial = kmdf_host::serial();
    let load = kmdf_host::load(configure_port);
    let sim = load.sim;
    test(sim);
    load.unload().assert_clean();
}

#[test]
fn status_in_text_and_json() {
    with_driver(|sim| {
        let (code, out, err) = wfpinjctl(sim, ADMIN, "status", 1);
        assert_eq!((code, err.as_str()), (EXIT_OK, ""));
        assert!(out.contains("driver    0.1.0 (KMDF 1.31)"), "{out}");
        assert!(out.contains("state     loaded"), "{out}");
        assert!(out.contains("contexts  0 in use of 1024"), "{out}");
        assert!(out.contains("rules     2"), "{out}");
        let (code, out, _) = wfpinjctl(sim, ADMIN, "--json status", 1);
        assert_eq!(code, EXIT_OK);
        assert_eq!(
            out.trim(),
            "{\"driver_version\":\"0.1.0\",\"kmdf_version\":\"1.31\",\"state\":\"loaded\",\
             \"failed_step\":null,\"failed_status\":null,\"handles\":{\"ipv4\":true,\"ipv6\":true},\
             \"contexts\":{\"in_use\":0,\"capacity\":1024},\"rules\":2}"
        );
    });
}

/// `--persist` on inspect add, remove and clear: the configuration each leaves is written to
/// `Parameters\InspectRules` (a clear as a set of no rules); without it nothing is written;
/// on other commands it is a usage error.
#[test]
fn inspect_changes_with_persist_are_written_to_the_registry() {
    use wfp_protocol::{CONFIG_PERSIST, Config, IOCTL_GET_CONFIG, PERSISTED_VALUE_NAME, Wire};
    use wfp_sim::RegistryValue;
    // The value a configuration read through the device would be persisted as.
    let persisted = |sim: Sim| {
        let mut header = vec![0; wfp_protocol::RequestHeader::SIZE];
        wfp_protocol::RequestHeader::CURRENT.encode(&mut header);
        let reply =
            sim.device_io_control(r"\\.\WfpInjector", IOCTL_GET_CONFIG, &header, Config::SIZE);
        let config = Config {
            generation: 0,
            ..Config::decode(&reply.output).unwrap()
        };
        assert_eq!(config.flags & CONFIG_PERSIST, 0);
        Some(RegistryValue::Binary(saved_rules::saved_value(&config)))
    };
    with_driver(|sim| {
        let add = "inspect add --remote 198.51.100.0/24 --direction out";
        assert_eq!(wfpinjctl(sim, ADMIN, add, 1).0, EXIT_OK);
        assert_eq!(
            sim.parameter(PERSISTED_VALUE_NAME),
            None,
            "not without --persist"
        );
        // JSON always says whether the change was persisted.
        let (code, out, _) = wfpinjctl(sim, ADMIN, &format!("{add} --json"), 1);
        assert_eq!(
            (code, out.trim()),
            (
                EXIT_OK,
                "{\"result\":\"added\",\"rules\":3,\"persisted\":false}"
            )
        );
        let (code, out, err) = wfpinjctl(sim, ADMIN, &format!("{add} --persist"), 1);
        assert_eq!((code, err.as_str()), (EXIT_OK, ""));
        assert_eq!(
            out.trim(),
            "added; 3 rule(s) in force, persisted for the next load",
            "the rule was there: the configuration in force is persisted"
        );
        assert_eq!(sim.parameter(PERSISTED_VALUE_NAME), persisted(sim));
        let remove = "inspect --persist remove --ip-version 4 --port 5353 --json";
        let (code, out, _) = wfpinjctl(sim, ADMIN, remove, 1);
        assert_eq!(
            (code, out.trim()),
            (
                EXIT_OK,
                "{\"result\":\"removed\",\"rules\":2,\"persisted\":true}"
            )
        );
        assert_eq!(sim.parameter(PERSISTED_VALUE_NAME), persisted(sim));
        let (code, out, _) = wfpinjctl(sim, ADMIN, "inspect clear --persist", 1);
        assert_eq!(
            (code, out.trim()),
            (
                EXIT_OK,
                "cleared; 0 rule(s) in force, persisted for the next load"
            )
        );
        assert_eq!(
            sim.parameter(PERSISTED_VALUE_NAME),
            Some(RegistryValue::Binary(saved_rules::saved_value(
                &Config::empty()
            )))
        );
        for wrong in [
            "status --persist",
            "inspect list --persist",
            "counters --persist",
        ] {
            let (code, _, err) = wfpinjctl(sim, ADMIN, wrong, 1);
            assert_eq!(code, EXIT_USAGE, "{wrong}");
            assert!(
                err.contains("--persist goes with inspect add, remove or clear"),
                "{err}"
            );
        }
    });
}

/// `--help` and `--version` answer without the device whatever else stands on the line:
/// `--persist`, like `--json`, is ignored there.
#[test]
fn help_and_version_ignore_persist_as_they_ignore_json() {
    let sim = SimulatedStack::new();
    for line in ["--help --persist", "--persist --version", "--json --help"] {
        let (code, out, err) = wfpinjctl(&sim, ADMIN, line, 1);
        assert_eq!((code, err.as_str()), (EXIT_OK, ""), "{line}");
        assert!(!out.is_empty(), "{line}");
    }
}

/// With `--persist`, the statuses a persisting set adds (no Parameters key, no registry path,
/// the registry's access denied) are said as a failed write of `Parameters\InspectRules`, as
/// the host test sees them (NTSTATUS) and as Windows reports them (Win32); without it they keep
/// their device meanings. The driver's own answer for a missing Parameters key and a registry
/// that refuses the write goes through the same words.
#[test]
fn a_failed_persisting_set_names_the_registry_value() {
    use wfpinjctl::device::{Failure, win32};
    with_driver(|sim| {
        let cases = [
            (Failure::Status(0xC000_0034), "no Parameters key"),
            (Failure::Win32(win32::FILE_NOT_FOUND), "no Parameters key"),
            (Failure::Status(0xC000_0184), "without a registry path"),
            (
                Failure::Win32(win32::BAD_COMMAND),
                "without a registry path",
            ),
            (Failure::Status(0xC000_0022), "registry denied"),
            (Failure::Win32(win32::ACCESS_DENIED), "registry denied"),
        ];
        for (failure, words) in cases {
            for (line, persist) in [
                ("inspect add --remote 192.0.2.77 --persist", true),
                ("inspect clear --persist", true),
                ("inspect add --remote 192.0.2.77", false),
            ] {
                let (code, err) =
                    tool_device::wfpinjctl_before_set(sim, line, |_| Err(failure.clone()));
                assert_eq!(code, EXIT_FAILED, "{failure:?} {line}");
                let named =
                    err.contains("could not write Parameters\\InspectRules") && err.contains(words);
                assert_eq!(named, persist, "{failure:?} {line}: {err}");
                let misled = [
                    "driver not loaded",
                    "the driver is unloading",
                    "run as administrator",
                ]
                .iter()
                .any(|advice| err.contains(advice));
                assert_eq!(misled, !persist, "{failure:?} {line}: {err}");
            }
        }
        // The driver itself: no Parameters key at the persisting set's open, and a registry
        // that refuses the write.
        for (call, skip, status, words) in [
            (
                wfp_sim::KernelFn::ZwOpenKey,
                1,
                wfp_injector::nt::NtStatus(0xC000_0034_u32 as i32),
                "no Parameters key",
            ),
            (
                wfp_sim::KernelFn::ZwSetValueKey,
                0,
                wfp_injector::nt::NtStatus(0xC000_0022_u32 as i32),
                "registry denied",
            ),
        ] {
            sim.fail_call(call, skip, status);
            let (code, _, err) =
                wfpinjctl(sim, ADMIN, "inspect add --remote 192.0.2.78 --persist", 1);
            assert_eq!(code, EXIT_FAILED, "{call:?}");
            assert!(
                err.contains("could not write Parameters\\InspectRules") && err.contains(words),
                "{call:?}: {err}"
            );
        }
        assert_eq!(
            sim.parameter(wfp_protocol::PERSISTED_VALUE_NAME),
            None,
            "nothing persisted"
        );
    });
}

#[test]
fn counters_once_and_watched() {
    with_driver(|sim| {
        let (code, out, _) = wfpinjctl(sim, ADMIN, "counters", 1);
        assert_eq!(code, EXIT_OK);
        assert!(out.contains("OUTBOUND_TRANSPORT_V4"), "{out}");
        assert!(out.contains("skipped_suspended"), "{out}");
        assert!(
            out.contains("reinjections completed: 0 ok, 0 failed"),
            "{out}"
        );
        let (code, out, _) = wfpinjctl(sim, ADMIN, "counters --watch 1 --json", 3);
        assert_eq!(code, EXIT_OK);
        assert_eq!(
            out.lines().count(),
            3,
            "three rounds, one object each: {out}"
        );
        assert!(out.lines().all(|line| {
            line.starts_with("{\"layers\":{\"OUTBOUND_TRANSPORT_V4\":{\"classified\":0")
        }));
    });
}

#[test]
fn inspect_add_list_remove_and_clear() {
    with_driver(|sim| {
        let add = "inspect add --local 192.0.2.1 --remote 192.0.2.2 --direction IN --ip-version 4";
        let (code, out, err) = wfpinjctl(sim, ADMIN, add, 1);
        assert_eq!((code, err.as_str()), (EXIT_OK, ""));
        assert_eq!(out.trim(), "added; 3 rule(s) in force");
        let (_, again, _) = wfpinjctl(sim, ADMIN, add, 1);
        assert_eq!(
            again.trim(),
            "added; 3 rule(s) in force",
            "adding twice keeps one"
        );
        let (code, list, _) = wfpinjctl(sim, ADMIN, "inspect list", 1);
        assert_eq!(code, EXIT_OK);
        assert!(
            list.contains(
                " 3  --ip-version 4 --remote 192.0.2.2/32 --local 192.0.2.1/32 --direction in"
            ),
            "{list}"
        );
        assert!(
            list.contains(" 1  --ip-version 4 --port 5353 --direction both"),
            "{list}"
        );
        let (_, json, _) = wfpinjctl(sim, ADMIN, "inspect list --json", 1);
        assert!(
            json.contains("{\"ip_version\":4,\"direction\":\"in\",\"remote\":\"192.0.2.2/32\",\"local\":\"192.0.2.1/32\",\"port\":null,\"protocol\":null,\"layer\":\"transport\"}"),
            "{json}"
        );
        let v6 = "inspect add --remote 2001:db8::/32 --protocol udp --port 53 --direction out";
        assert_eq!(wfpinjctl(sim, ADMIN, v6, 1).0, EXIT_OK);
        let remove = add.replace("add", "remove");
        let (code, out, _) = wfpinjctl(sim, ADMIN, &remove, 1);
        assert_eq!((code, out.trim()), (EXIT_OK, "removed; 3 rule(s) in force"));
        let (code, _, err) = wfpinjctl(sim, ADMIN, &remove, 1);
        assert_eq!(code, EXIT_FAILED);
        assert!(err.contains("no such rule in force"), "{err}");
        let (code, out, _) = wfpinjctl(sim, ADMIN, "inspect clear", 1);
        assert_eq!((code, out.trim()), (EXIT_OK, "cleared; 0 rule(s) in force"));
        let (_, list, _) = wfpinjctl(sim, ADMIN, "inspect list", 1);
        assert!(
            list.starts_with("no rule: the driver inspects nothing"),
            "{list}"
        );
        assert_eq!(sim.wfp_objects().filters, 0);
    });
}

#[test]
fn the_seventeenth_rule_is_refused_in_words() {
    with_driver(|sim| {
        assert_eq!(wfpinjctl(sim, ADMIN, "inspect clear", 1).0, EXIT_OK);
        for port in 1..=16 {
            let line = format!("inspect add --ip-version 6 --port {port}");
            assert_eq!(wfpinjctl(sim, ADMIN, &line, 1).0, EXIT_OK, "{line}");
        }
        let (code, _, err) = wfpinjctl(sim, ADMIN, "inspect add --ip-version 6 --port 17", 1);
        assert_eq!(code, EXIT_FAILED);
        assert!(err.contains("holds 16 rules already"), "{err}");
    });
}

#[test]
fn users_are_told_to_run_as_administrator() {
    with_driver(|sim| {
        let (code, out, err) = wfpinjctl(sim, Caller::User, "status", 1);
        assert_eq!((code, out.as_str()), (EXIT_FAILED, ""));
        assert_eq!(err.trim(), "wfpinjctl: access denied: run as administrator");
    });
}

#[test]
fn bad_arguments_are_named_and_reach_no_driver() {
    with_driver(|sim| {
        let completed = sim.requests_completed();
        for (line, named) in [
            (
                "inspect add --remote 10.0.0.300",
                "'10.0.0.300' is not an IPv4 or IPv6 address",
            ),
            (
                "inspect add --remote 10.0.0.1/8",
                "the network is 10.0.0.0/8",
            ),
            (
                "inspect add --remote 10.0.0.1/33",
                "'33' is not a prefix length from 0 to 32",
            ),
            (
                "inspect add --remote 10.0.0.1 --local 2001:db8::1",
                "different IP versions",
            ),
            ("inspect add --port 53", "say which IP version"),
            (
                "inspect add --ip-version 4 --port 65536",
                "'65536' is not a port",
            ),
            (
                "inspect add --ip-version 4 --protocol gre",
                "'gre' is not tcp, udp",
            ),
            (
                "inspect add --ip-version 4 --direction sideways",
                "'sideways' is not in, out or both",
            ),
            (
                "inspect add --ip-version 4 --port 1 --port 2",
                "--port given twice",
            ),
            ("inspect add --ip-version", "--ip-version needs a value"),
            ("inspect frobnicate", "unknown inspect action 'frobnicate'"),
            ("counters --watch 0", "not a number of seconds"),
            ("status now", "unexpected 'now'"),
            ("", "no command given"),
        ] {
            let (code, out, err) = wfpinjctl(sim, ADMIN, line, 1);
            assert_eq!((code, out.as_str()), (EXIT_USAGE, ""), "{line}");
            assert!(err.contains(named), "{line}: {err}");
        }
        assert_eq!(sim.requests_completed(), completed);
    });
}

#[test]
fn without_the_driver_the_tool_says_it_is_not_loaded() {
    let _serial = kmdf_host::serial();
    let sim = SimulatedStack::new();
    let (code, _, err) = wfpinjctl(&sim, ADMIN, "status", 1);
    assert_eq!(code, EXIT_FAILED);
    assert_eq!(
        err.trim(),
        r"wfpinjctl: driver not loaded (\\.\WfpInjector not found); start it with 'sc start WfpInjector'"
    );
    let (code, out, _) = wfpinjctl(&sim, ADMIN, "--help", 1);
    assert_eq!(code, EXIT_OK);
    assert!(out.starts_with("wfpinjctl: see and steer"));
    sim.assert_clean();
}

#[test]
fn a_port_that_selects_nothing_is_left_out_with_a_warning() {
    with_driver(|sim| {
        for (line, warning) in [
            (
                "inspect add --ip-version 4 --remote 192.0.2.9 --protocol icmp --port 5001",
                "wfpinjctl: warning: --port 5001 left out: protocol icmp has no ports",
            ),
            (
                "inspect add --ip-version 4 --remote 192.0.2.9 --protocol icmp --port 0",
                "wfpinjctl: warning: --port 0 (or no value) is no port",
            ),
            (
                "inspect add --ip-version 4 --remote 192.0.2.9 --protocol icmp --port --direction both",
                "wfpinjctl: warning: --port 0 (or no value) is no port",
            ),
        ] {
            let (code, out, err) = wfpinjctl(sim, ADMIN, line, 1);
            assert_eq!(code, EXIT_OK, "{line}: {err}");
            assert!(err.starts_with(warning), "{line}: {err}");
            assert_eq!(out.trim(), "added; 3 rule(s) in force", "{line}");
            let (_, list, _) = wfpinjctl(sim, ADMIN, "inspect list", 1);
            assert!(
                list.contains(
                    "--ip-version 4 --remote 192.0.2.9/32 --protocol icmp --direction both"
                ),
                "{line}: the rule selects ICMP whatever its type: {list}"
            );
            let remove = line.replace(" add ", " remove ");
            let (code, _, err) = wfpinjctl(sim, ADMIN, &remove, 1);
            assert_eq!(code, EXIT_OK, "{remove}: the same rule: {err}");
        }
    });
}

#[test]
fn an_add_racing_another_change_keeps_both() {
    with_driver(|sim| {
        for (mine, theirs) in [
            (
                "inspect add --remote 192.0.2.10",
                "inspect add --remote 192.0.2.11",
            ),
            (
                "inspect remove --remote 192.0.2.10",
                "inspect add --remote 192.0.2.12",
            ),
        ] {
            // Another administrator's change lands just before this tool's first set.
            let mut competing = Some(theirs);
            let (code, err) = tool_device::wfpinjctl_before_set(sim, mine, |sim| {
                if let Some(line) = competing.take() {
                    let (status, _, err) = wfpinjctl(sim, ADMIN, line, 1);
                    assert_eq!(status, EXIT_OK, "the competing change: {err}");
                }
                Ok(())
            });
            assert_eq!((code, err.as_str()), (EXIT_OK, ""), "{mine}");
        }
        let (_, list, _) = wfpinjctl(sim, ADMIN, "inspect list", 1);
        assert!(!list.contains("192.0.2.10/32"), "removed: {list}");
        assert!(
            list.contains("192.0.2.11/32"),
            "the first competing add survives: {list}"
        );
        assert!(
            list.contains("192.0.2.12/32"),
            "the second competing add survives: {list}"
        );
    });
}
