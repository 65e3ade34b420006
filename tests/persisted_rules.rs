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
#[path = "support/saved_rules.rs"]
mod saved_rules;

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

/// The value a persisted `config` leaves (docs/control.md's layout).
fn persisted_value(config: &Config) -> RegistryValue {
    RegistryValue::Binary(saved_rules::saved_value(config))
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

/// Values this driver does not load, each with the words its log line names the reason with.
fn unloadable_values() -> Vec<(&'static str, RegistryValue, &'static str)> {
    let valid = saved_rules::saved_value(&config_to(OTHER, CONFIG_VERBOSE));
    let mut bad_rule = config_to(OTHER, 0);
    bad_rule.rules[0].family = 5;
    let mut seventeen = saved_rules::header(1, 24 + 48 * 17, 0, 17);
    seventeen.resize(24 + 48 * 17, 0);
    let mut reserved_flag = valid.clone();
    reserved_flag[12] |= 0x4;
    let mut size_stated_wrong = valid.clone();
    size_stated_wrong[8] += 48;
    // Format 2, as a newer driver might write: the same header fields, a body of its own.
    let mut newer = saved_rules::header(2, 24 + 8, 0, 0);
    newer.extend_from_slice(&[7; 8]);
    vec![
        ("a REG_DWORD", RegistryValue::Dword(1), "not REG_BINARY"),
        (
            "REG_SZ",
            RegistryValue::Other(1, valid.clone()),
            "not REG_BINARY",
        ),
        (
            "the protocol's Config wire bytes (no header)",
            RegistryValue::Binary(wire(&config_to(OTHER, 0))),
            "magic",
        ),
        (
            "a higher format version",
            RegistryValue::Binary(newer),
            "format version 2",
        ),
        (
            "too short",
            RegistryValue::Binary(valid[..valid.len() - 1].to_vec()),
            "size",
        ),
        (
            "too long",
            RegistryValue::Binary([valid.clone(), vec![0]].concat()),
            "size",
        ),
        (
            "17 rules",
            RegistryValue::Binary(seventeen),
            "rule count 17",
        ),
        (
            "a stated size that is not the value's (the body right)",
            RegistryValue::Binary(size_stated_wrong),
            "size",
        ),
        (
            "a reserved flag",
            RegistryValue::Binary(reserved_flag),
            "reserved",
        ),
        (
            "a bad rule",
            RegistryValue::Binary(saved_rules::saved_value(&bad_rule)),
            "invalid rule 0: family",
        ),
    ]
}

#[test]
fn an_unloadable_inspect_rules_is_ignored_with_its_reason_and_kept() {
    let _heap = heap::check();
    for (what, value, reason) in unloadable_values() {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        sim.set_parameter(PERSISTED_VALUE_NAME, value.clone());
        let driver = load(&sim);
        let config = get_config(&driver);
        assert_eq!(config.rule_count, 2, "{what}: the Inspect* values apply");
        assert_eq!(config.flags, 0, "{what}");
        assert!(
            sim.debug_log().iter().any(|(_, _, text)| {
                text.contains("ignoring Parameters\\InspectRules") && text.contains(reason)
            }),
            "{what}: {:?}",
            sim.debug_log()
        );
        assert_eq!(
            sim.parameter(PERSISTED_VALUE_NAME),
            Some(value),
            "{what}: left as it is"
        );
        driver.unload();
        sim.assert_clean();
    }
    // A valid one is not ignored, and its verbose flag is the load's.
    let sim = SimulatedStack::new();
    configure_port(&sim);
    sim.set_parameter(
        PERSISTED_VALUE_NAME,
        persisted_value(&config_to(OTHER, CONFIG_VERBOSE)),
    );
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

/// A read of `InspectRules` that fails at load (not a missing value) is said, with its status;
/// the `Inspect*` values apply.
#[test]
fn a_failed_read_of_inspect_rules_at_load_is_logged_with_its_status() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    sim.set_parameter(
        PERSISTED_VALUE_NAME,
        persisted_value(&config_to(OTHER, CONFIG_VERBOSE)),
    );
    // The seven Inspect*, MaxInFlight and VerboseLogging values are read first.
    sim.fail_call(
        KernelFn::ZwQueryValueKey,
        7,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let driver = load(&sim);
    assert_eq!(
        get_config(&driver).rule_count,
        2,
        "the Inspect* values apply"
    );
    assert!(
        sim.debug_log().iter().any(|(_, level, text)| *level == 1
            && text.contains("could not read Parameters\\InspectRules")
            && text.contains("STATUS_INSUFFICIENT_RESOURCES")),
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
    /// A value of a higher format version (a newer driver's: ignored at load).
    NewerFormat,
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
    for before in [
        Before::Absent,
        Before::Persisted,
        Before::Invalid,
        Before::NewerFormat,
    ] {
        // A present value is read in two queries (its size, then the value).
        let second_read = [(KernelFn::ZwQueryValueKey, 1)];
        let reads = if matches!(before, Before::Absent) {
            &[][..]
        } else {
            &second_read[..]
        };
        for (call, skip) in steps[..3].iter().chain(reads).chain(&steps[3..]).copied() {
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
                Before::NewerFormat => {
                    let mut newer = saved_rules::header(2, 24 + 4, 0, 0);
                    newer.extend_from_slice(&[9; 4]);
                    sim.set_parameter(PERSISTED_VALUE_NAME, RegistryValue::Binary(newer))
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
            // Applying failed after the write: the value is put back exactly as it was (its
            // type and bytes, whatever they hold; deleted only when there was none). A failure
            // before the write leaves it untouched.
            assert_eq!(
                sim.parameter(PERSISTED_VALUE_NAME),
                value_before,
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
        (
            Some(RegistryValue::Binary(vec![1, 2])),
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

/// A persisting set whose filter replacement fails because BFE stopped (its notification still
/// on the way) is kept for BFE's return: it counts as applied, so the value stays written, the
/// driver reports the new rules, BFE's return installs them, and the next load starts from them.
#[test]
fn a_persisting_set_kept_for_bfes_return_stays_in_the_registry() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let wanted = config_to(OTHER, CONFIG_PERSIST);
    // BFE stops; its notification has not reached the driver yet (held): the session is dead
    // and nothing told the driver.
    sim.hold_bfe_callbacks();
    std::thread::scope(|scope| {
        let stop = scope.spawn(|| sim.set_bfe_state(wfp_sim::bfe_state::STOPPED));
        while sim.held_bfe_callbacks() == 0 {
            std::thread::yield_now();
        }
        assert_eq!(set(&driver, &wanted), Ok(()), "kept for BFE's return");
        sim.run_work_items();
        assert_eq!(
            driver.progress(),
            wfp_injector::driver::Progress::WaitingForBfe
        );
        sim.release_bfe_callbacks();
        stop.join().unwrap();
    });
    assert_eq!(
        sim.parameter(PERSISTED_VALUE_NAME),
        Some(persisted_value(&wanted)),
        "the value stays"
    );
    assert_eq!(content(&get_config(&driver)), content(&config_to(OTHER, 0)));
    sim.set_bfe_state(wfp_sim::bfe_state::RUNNING);
    sim.run_work_items();
    assert_eq!(sim.wfp_objects().filters, 1, "the kept rules' one filter");
    assert_eq!(reload(&sim, driver), content(&config_to(OTHER, 0)));
    assert_eq!(
        sim.parameter(PERSISTED_VALUE_NAME),
        Some(persisted_value(&wanted))
    );
    sim.assert_clean();
}

#[test]
fn a_saved_value_with_the_most_rules_loads_and_its_verbose_flag_is_the_loads() {
    let _heap = heap::check();
    // Sixteen rules (MAX_RULES), verbose: both kept.
    let mut full = config_to(OTHER, CONFIG_VERBOSE);
    full.rule_count = MAX_RULES as u32;
    for index in 1..MAX_RULES {
        full.rules[index] = full.rules[0];
        full.rules[index].remote_address[3] = index as u8;
    }
    for (saved, registry_verbose, verbose) in [(full, 0, true), (config_to(OTHER, 0), 1, false)] {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        sim.set_parameter("VerboseLogging", RegistryValue::Dword(registry_verbose));
        sim.set_parameter(PERSISTED_VALUE_NAME, persisted_value(&saved));
        let driver = load(&sim);
        assert_eq!(content(&get_config(&driver)), content(&saved));
        assert_eq!(
            driver.parameters().verbose,
            verbose,
            "the saved value's flag, not VerboseLogging"
        );
        driver.unload();
        sim.assert_clean();
    }
}

#[test]
fn a_previous_value_up_to_64_kib_is_kept_for_the_undo_and_a_larger_one_refuses_the_set() {
    let _heap = heap::check();
    for (size, applied) in [(64 * 1024, true), (64 * 1024 + 1, false)] {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        let previous = RegistryValue::Binary(vec![0x5A; size]);
        sim.set_parameter(PERSISTED_VALUE_NAME, previous.clone());
        let driver = load(&sim);
        let persisted = config_to(OTHER, CONFIG_PERSIST);
        if applied {
            set(&driver, &persisted).expect("the previous value fits the undo's bound");
            assert_eq!(
                sim.parameter(PERSISTED_VALUE_NAME),
                Some(persisted_value(&persisted))
            );
        } else {
            assert_eq!(
                set(&driver, &persisted),
                Err(NtStatus::INSUFFICIENT_RESOURCES),
                "{size} bytes could not be put back"
            );
            assert_eq!(sim.parameter(PERSISTED_VALUE_NAME), Some(previous));
            assert_eq!(get_config(&driver).rule_count, 2, "nothing changed");
        }
        driver.unload();
        sim.assert_clean();
    }
}

#[test]
fn a_driver_loaded_with_an_empty_registry_path_refuses_to_persist() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    // An empty UNICODE_STRING over a real buffer: no service key to write to.
    let mut buffer = [0u16; 4];
    let empty = wfp_injector::sys::types::UNICODE_STRING {
        Length: 0,
        MaximumLength: 8,
        Buffer: buffer.as_mut_ptr(),
    };
    // SAFETY: the string and its buffer outlive the load.
    let path = unsafe { wfp_injector::nt::RegistryPath::from_raw(&empty) };
    let driver = Driver::load(
        &sim,
        host_driver::device(),
        path,
        &wfp_injector::driver::DriverConfig::default(),
    )
    .expect("load");
    assert_eq!(
        set(&driver, &config_to(OTHER, CONFIG_PERSIST)),
        Err(NtStatus::INVALID_DEVICE_STATE)
    );
    assert_eq!(sim.calls(KernelFn::ZwSetValueKey), 0);
    driver.unload();
    sim.assert_clean();
}
