//! A configuration set with CONFIG_PERSIST against the host-built driver over the simulated
//! stack: it is written to `Parameters\InspectRules` and the next load (the same stack, after an
//! unload) starts from it; a set without the flag, a clear and a refused request write nothing;
//! an invalid value is ignored with a log line and the `Inspect*` values apply; deleting the
//! value returns to them; and every failing step of a persisting set leaves the driver and the
//! registry agreeing (what the next load starts from is what the driver ran before the request).

#[path = "support/heap.rs"]
mod heap;
#[path = "support/host_driver.rs"]
mod host_driver;

use std::net::Ipv4Addr;

use host_driver::{PORT, configure_port, load, udp};
use wfp_injector::driver::Driver;
use wfp_injector::driver::control::{decode, execute};
use wfp_injector::nt::NtStatus;
use wfp_protocol::*;
use wfp_sim::traffic::{Delivery, Layer};
use wfp_sim::{KernelFn, RegistryValue, SimulatedStack};

type Host<'a> = Driver<&'a SimulatedStack>;

fn request(driver: &Host<'_>, code: u32, input: &[u8], output: usize) -> Result<Vec<u8>, NtStatus> {
    let decoded = decode(code, input)?;
    let mut bytes = vec![0xCD; output];
    let written = execute(driver, decoded, &mut bytes)?;
    bytes.truncate(written);
    Ok(bytes)
}

fn get_config(driver: &Host<'_>) -> Config {
    let mut header = vec![0; RequestHeader::SIZE];
    RequestHeader::CURRENT.encode(&mut header);
    let bytes = request(driver, IOCTL_GET_CONFIG, &header, Config::SIZE).expect("a get");
    Config::decode(&bytes).expect("a whole configuration")
}

fn set(driver: &Host<'_>, config: &Config) -> Result<(), NtStatus> {
    request(driver, IOCTL_SET_CONFIG, &wire(config), 0).map(|reply| assert!(reply.is_empty()))
}

fn wire(config: &Config) -> Vec<u8> {
    let mut bytes = vec![0; Config::SIZE];
    config.encode(&mut bytes);
    bytes
}

/// One outbound IPv4 rule for `remote`/32 at the transport layers.
fn config_to(remote: Ipv4Addr, flags: u32) -> Config {
    let mut config = Config::empty();
    config.flags = flags;
    config.rule_count = 1;
    config.rules[0] = Rule {
        family: FAMILY_IPV4,
        directions: DIRECTION_OUTBOUND,
        remote_prefix: 32,
        layers: LAYER_TRANSPORT,
        ..Rule::default()
    };
    config.rules[0].remote_address[..4].copy_from_slice(&remote.octets());
    config
}

/// The rules and flags of a configuration, without its generation (which a load makes anew).
fn content(config: &Config) -> Config {
    Config {
        generation: 0,
        ..*config
    }
}

/// The value a persisted `config` leaves: its wire bytes, generation 0, CONFIG_PERSIST clear.
fn persisted_value(config: &Config) -> RegistryValue {
    let stored = Config {
        flags: config.flags & !CONFIG_PERSIST,
        ..content(config)
    };
    RegistryValue::Binary(wire(&stored))
}

/// Unloads `driver` and loads again on the same stack: the configuration the next load starts
/// from (its content).
fn reload(sim: &SimulatedStack, driver: Host<'_>) -> Config {
    driver.unload();
    let driver = load(sim);
    let config = content(&get_config(&driver));
    driver.unload();
    config
}

const OTHER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const THIRD: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

#[test]
fn a_persisted_set_is_in_the_registry_and_the_next_load_starts_from_it() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let from_registry = content(&get_config(&driver));
    assert_eq!(from_registry.rule_count, 2, "the port: one rule per family");
    // A set without the flag and a clear write nothing; neither do persisting sets refused
    // before anything changes (a bad rule, a generation the rules have left).
    set(&driver, &config_to(THIRD, 0)).expect("a set");
    let mut header = vec![0; RequestHeader::SIZE];
    RequestHeader::CURRENT.encode(&mut header);
    request(&driver, IOCTL_CLEAR_CONFIG, &header, 0).expect("a clear");
    let mut bad = config_to(OTHER, CONFIG_PERSIST);
    bad.rules[0].remote_prefix = 33;
    assert_eq!(set(&driver, &bad), Err(NtStatus::INVALID_PARAMETER));
    let mut stale = config_to(OTHER, CONFIG_PERSIST);
    stale.generation = get_config(&driver).generation.wrapping_add(5).max(1);
    assert_eq!(set(&driver, &stale), Err(NtStatus::RETRY));
    assert_eq!(sim.calls(KernelFn::ZwSetValueKey), 0);
    assert_eq!(sim.parameter(PERSISTED_VALUE_NAME), None);

    let persisted = config_to(OTHER, CONFIG_VERBOSE | CONFIG_PERSIST);
    set(&driver, &persisted).expect("a persisting set");
    assert_eq!(
        sim.parameter(PERSISTED_VALUE_NAME),
        Some(persisted_value(&persisted))
    );
    // The reply never carries the flag: it is an instruction of the set, not a property.
    let applied = content(&get_config(&driver));
    assert_eq!(applied.flags, CONFIG_VERBOSE);
    assert_eq!(applied, content(&config_to(OTHER, CONFIG_VERBOSE)));

    driver.unload();
    let driver = load(&sim);
    assert_eq!(
        content(&get_config(&driver)),
        applied,
        "the next load starts from the persisted rules, not InspectRemotePort"
    );
    // Classify decides with them: the port's packet is no longer inspected.
    let delivered = sim.deliver(
        Layer::InboundV4,
        &udp(Layer::InboundV4, PORT),
        Delivery::default(),
    );
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(delivered.nbl);
    assert_eq!(
        driver
            .counters(host_driver::counters_layer(Layer::InboundV4))
            .reinjected,
        0
    );
    // Deleting the value (reg delete) returns to the Inspect* values at the next load.
    sim.remove_parameter(PERSISTED_VALUE_NAME);
    assert_eq!(reload(&sim, driver), from_registry);
    sim.assert_clean();
}

#[test]
fn a_persisted_empty_set_starts_the_next_load_with_no_rules() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let mut empty = Config::empty();
    empty.flags = CONFIG_PERSIST;
    set(&driver, &empty).expect("a persisted clear");
    assert_eq!(
        sim.parameter(PERSISTED_VALUE_NAME),
        Some(persisted_value(&empty))
    );
    assert_eq!(reload(&sim, driver), content(&Config::empty()));
    sim.assert_clean();
}

#[test]
fn an_invalid_inspect_rules_is_ignored_with_a_log_line() {
    let _heap = heap::check();
    let valid = wire(&config_to(OTHER, CONFIG_VERBOSE));
    let mut bad_rule = config_to(OTHER, 0);
    bad_rule.rules[0].family = 5;
    let mut old_version = config_to(OTHER, 0);
    old_version.header.version = 1;
    let invalid = [
        ("a REG_DWORD", RegistryValue::Dword(1)),
        (
            "too short",
            RegistryValue::Binary(valid[..Config::SIZE - 1].to_vec()),
        ),
        (
            "too long",
            RegistryValue::Binary([valid.clone(), vec![0]].concat()),
        ),
        ("a bad rule", RegistryValue::Binary(wire(&bad_rule))),
        ("another version", RegistryValue::Binary(wire(&old_version))),
        ("REG_SZ", RegistryValue::Other(1, valid.clone())),
    ];
    for (what, value) in invalid {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        sim.set_parameter(PERSISTED_VALUE_NAME, value);
        let driver = load(&sim);
        let config = get_config(&driver);
        assert_eq!(config.rule_count, 2, "{what}: the Inspect* values apply");
        assert_eq!(config.flags, 0, "{what}");
        assert!(
            sim.debug_log()
                .iter()
                .any(|(_, _, text)| text.contains("ignoring Parameters\\InspectRules")),
            "{what}: {:?}",
            sim.debug_log()
        );
        driver.unload();
        sim.assert_clean();
    }
    // A valid one is not ignored, and its verbose flag is the load's.
    let sim = SimulatedStack::new();
    configure_port(&sim);
    sim.set_parameter(PERSISTED_VALUE_NAME, RegistryValue::Binary(valid));
    let driver = load(&sim);
    assert_eq!(
        content(&get_config(&driver)),
        content(&config_to(OTHER, CONFIG_VERBOSE))
    );
    assert!(
        !sim.debug_log()
            .iter()
            .any(|(_, _, text)| text.contains("InspectRules")),
        "{:?}",
        sim.debug_log()
    );
    driver.unload();
    sim.assert_clean();
}

/// What the registry held before the failing request.
#[derive(Debug, Clone, Copy)]
enum Before {
    /// No InspectRules: the load's rules were the Inspect* values.
    Absent,
    /// A persisted configuration, in force.
    Persisted,
    /// An invalid InspectRules (ignored at load).
    Invalid,
}

#[test]
fn each_failing_step_of_a_persisting_set_leaves_driver_and_registry_agreeing() {
    let _heap = heap::check();
    let failure = NtStatus::INSUFFICIENT_RESOURCES;
    // (call, calls of it let through first): the steps of a persisting set in their order.
    let steps = [
        (KernelFn::ZwOpenKey, 0),       // the service key
        (KernelFn::ZwOpenKey, 1),       // its Parameters, for writing
        (KernelFn::ZwQueryValueKey, 0), // the value to put back
        (KernelFn::ZwSetValueKey, 0),   // the write
        (KernelFn::FwpmTransactionBegin0, 0),
        (KernelFn::FwpmFilterDeleteByKey0, 0),
        (KernelFn::FwpmFilterAdd0, 0),
        (KernelFn::FwpmTransactionCommit0, 0),
    ];
    for before in [Before::Absent, Before::Persisted, Before::Invalid] {
        for (call, skip) in steps {
            let what = format!("{before:?}, {call:?} #{skip}");
            let sim = SimulatedStack::new();
            configure_port(&sim);
            match before {
                Before::Absent => {}
                Before::Persisted => {
                    sim.set_parameter(PERSISTED_VALUE_NAME, persisted_value(&config_to(THIRD, 0)))
                }
                Before::Invalid => {
                    sim.set_parameter(PERSISTED_VALUE_NAME, RegistryValue::Binary(vec![1, 2]))
                }
            }
            let value_before = sim.parameter(PERSISTED_VALUE_NAME);
            let driver = load(&sim);
            let running = content(&get_config(&driver));
            sim.fail_call(call, skip, failure);
            assert_eq!(
                set(&driver, &config_to(OTHER, CONFIG_PERSIST)),
                Err(failure),
                "{what}"
            );
            assert_eq!(content(&get_config(&driver)), running, "{what}: the driver");
            // Applying failed after the write: the value is put back as it was, an invalid
            // one deleted (at load both mean "the Inspect* values apply"). A failure before
            // the write leaves it untouched.
            let applying = matches!(
                call,
                KernelFn::FwpmTransactionBegin0
                    | KernelFn::FwpmFilterDeleteByKey0
                    | KernelFn::FwpmFilterAdd0
                    | KernelFn::FwpmTransactionCommit0
            );
            let expected = match before {
                Before::Invalid if applying => None,
                _ => value_before,
            };
            assert_eq!(
                sim.parameter(PERSISTED_VALUE_NAME),
                expected,
                "{what}: the registry"
            );
            assert_eq!(
                reload(&sim, driver),
                running,
                "{what}: the next load agrees"
            );
            assert!(
                !sim.debug_log()
                    .iter()
                    .any(|(_, _, text)| text.contains("holds a configuration the driver refused")),
                "{what}"
            );
            sim.assert_clean();
        }
    }
}

/// The one case where they cannot agree: applying failed and putting the value back failed too.
/// The request still fails, the driver keeps its rules, and the log names what the registry
/// holds now.
#[test]
fn a_failed_undo_is_logged() {
    let _heap = heap::check();
    let failure = NtStatus::INSUFFICIENT_RESOURCES;
    for (before, undo) in [
        (None, KernelFn::ZwDeleteValueKey),
        (
            Some(persisted_value(&config_to(THIRD, 0))),
            KernelFn::ZwSetValueKey,
        ),
    ] {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        if let Some(value) = &before {
            sim.set_parameter(PERSISTED_VALUE_NAME, value.clone());
        }
        let driver = load(&sim);
        let running = content(&get_config(&driver));
        sim.fail_call(KernelFn::FwpmTransactionCommit0, 0, failure);
        // The undo: the first delete, or the second write (the first is the request's).
        let skip = u32::from(undo == KernelFn::ZwSetValueKey);
        sim.fail_call(undo, skip, failure);
        let wanted = config_to(OTHER, CONFIG_PERSIST);
        assert_eq!(set(&driver, &wanted), Err(failure), "{undo:?}");
        assert_eq!(content(&get_config(&driver)), running, "{undo:?}");
        assert_eq!(
            sim.parameter(PERSISTED_VALUE_NAME),
            Some(persisted_value(&wanted)),
            "{undo:?}: the refused configuration stayed"
        );
        assert!(
            sim.debug_log().iter().any(|(_, _, text)| text
                .contains("InspectRules holds a configuration the driver refused")),
            "{undo:?}: {:?}",
            sim.debug_log()
        );
        driver.unload();
        sim.assert_clean();
    }
}
