//! The control channel's requests against the host-built driver over the simulated stack:
//! status, counters, configuration get/set/clear, what a set does to the filters and to
//! classify, every kind of rejection (and that it changes nothing), a failed transaction, and
//! classifies on other threads during changes deciding with the old or the new rules, never a
//! mix.

#[path = "support/heap.rs"]
mod heap;
#[path = "support/host_driver.rs"]
mod host_driver;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use host_driver::{HOST_V4, PEER_V4, PORT, configure_port, counters_layer, load, udp};
use wfp_injector::driver::control::{decode, execute};
use wfp_injector::driver::layers::{Direction, TransportLayer};
use wfp_injector::driver::rules::{Rules, SharedRules};
use wfp_injector::driver::{Driver, Progress, config::PacketKey};
use wfp_injector::inject::RemoteAddress;
use wfp_injector::nt::NtStatus;
use wfp_protocol::*;
use wfp_sim::traffic::{Delivery, Layer, TransportPacket};
use wfp_sim::{KernelFn, SimulatedStack};

type Host<'a> = Driver<&'a SimulatedStack>;

/// One request as the shell runs it: decode, then execute into an output buffer of
/// `output_length` bytes; the reply's bytes.
fn request(
    driver: &Host<'_>,
    code: u32,
    input: &[u8],
    output_length: usize,
) -> Result<Vec<u8>, NtStatus> {
    let decoded = decode(code, input)?;
    let mut output = vec![0xCD; output_length];
    let written = execute(driver, decoded, &mut output)?;
    output.truncate(written);
    Ok(output)
}

fn header() -> Vec<u8> {
    let mut bytes = vec![0; RequestHeader::SIZE];
    RequestHeader::CURRENT.encode(&mut bytes);
    bytes
}

fn get<T: Wire>(driver: &Host<'_>, code: u32) -> T {
    let bytes = request(driver, code, &header(), T::SIZE).expect("a read request");
    T::decode(&bytes).expect("a whole reply")
}

fn set(driver: &Host<'_>, config: &Config) -> Result<(), NtStatus> {
    let mut bytes = vec![0; Config::SIZE];
    config.encode(&mut bytes);
    request(driver, IOCTL_SET_CONFIG, &bytes, 0).map(|reply| assert!(reply.is_empty()))
}

fn v4_rule(remote: Ipv4Addr, prefix: u8, directions: u8) -> Rule {
    let mut rule = Rule {
        family: FAMILY_IPV4,
        directions,
        remote_prefix: prefix,
        layers: LAYER_TRANSPORT,
        ..Rule::default()
    };
    rule.remote_address[..4].copy_from_slice(&remote.octets());
    rule
}

fn config_of(rules: &[Rule]) -> Config {
    let mut config = Config::empty();
    config.rule_count = rules.len() as u32;
    config.rules[..rules.len()].copy_from_slice(rules);
    config
}

/// UDP between this host and `remote` (either direction: the layer decides).
fn to(_layer: Layer, remote: Ipv4Addr, port: u16) -> TransportPacket {
    TransportPacket::udp(IpAddr::V4(HOST_V4), 40000, IpAddr::V4(remote), port)
}

/// Delivers `packet` at `layer`, completes what was reinjected, returns the packet: whether it
/// was reinjected.
fn reinjected(
    sim: &SimulatedStack,
    driver: &Host<'_>,
    layer: Layer,
    packet: &TransportPacket,
) -> bool {
    let before = driver.counters(counters_layer(layer)).reinjected;
    let delivered = sim.deliver(layer, packet, Delivery::default());
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(delivered.nbl);
    driver.counters(counters_layer(layer)).reinjected > before
}

/// [`reinjected`] for a UDP packet between the host and `remote`'s `port`.
fn reinjected_to(
    sim: &SimulatedStack,
    driver: &Host<'_>,
    layer: Layer,
    remote: Ipv4Addr,
    port: u16,
) -> bool {
    reinjected(sim, driver, layer, &to(layer, remote, port))
}

#[test]
fn status_reports_versions_the_load_and_the_contexts() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let status: StatusReply = get(&driver, IOCTL_GET_STATUS);
    assert_eq!(
        status.header,
        ReplyHeader {
            version: VERSION,
            size: StatusReply::SIZE as u32
        }
    );
    assert_eq!(
        (
            status.driver_major,
            status.driver_minor,
            status.driver_patch
        ),
        (0, 1, 0)
    );
    assert_eq!((status.kmdf_major, status.kmdf_minor), (1, 31));
    assert_eq!(status.progress, PROGRESS_LOADED);
    assert_eq!((status.failed_step, status.failed_status), (0, 0));
    assert_eq!(status.handles, HANDLE_IPV4 | HANDLE_IPV6);
    assert_eq!(
        (status.contexts_in_use, status.contexts_capacity),
        (0, 1024)
    );
    assert_eq!(status.rules, 2, "the registry's port: one rule per family");
    driver.unload();
    sim.assert_clean();
}

#[test]
fn status_while_tcpip_is_not_ready_says_so_and_has_no_handles() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(std::time::Duration::MAX);
    let driver = load(&sim);
    let status: StatusReply = get(&driver, IOCTL_GET_STATUS);
    assert_eq!(status.progress, PROGRESS_WAITING_FOR_TCPIP);
    assert_eq!(status.handles, 0);
    assert_eq!(status.contexts_capacity, 0);
    sim.set_tcpip_ready_at(std::time::Duration::ZERO);
    while sim.run_one_work_item() {}
    let status: StatusReply = get(&driver, IOCTL_GET_STATUS);
    assert_eq!(status.progress, PROGRESS_LOADED);
    assert_eq!(status.handles, HANDLE_IPV4 | HANDLE_IPV6);
    driver.unload();
    sim.assert_clean();
}

#[test]
fn status_of_an_inert_driver_names_the_failed_step_and_its_status() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(std::time::Duration::from_millis(10));
    sim.fail_call(
        KernelFn::FwpsCalloutRegister1,
        1,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let driver = load(&sim);
    sim.run_work_items();
    let status: StatusReply = get(&driver, IOCTL_GET_STATUS);
    assert_eq!(status.progress, PROGRESS_INERT);
    assert_eq!(failed_step_name(status.failed_step), "FwpsCalloutRegister1");
    assert_eq!(status.failed_status, NtStatus::INSUFFICIENT_RESOURCES.0);
    driver.unload();
    sim.assert_clean();
}

#[test]
fn counters_report_every_layer_and_the_completions() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    for layer in Layer::ALL {
        assert!(reinjected(&sim, &driver, layer, &udp(layer, PORT)));
    }
    let counters: CountersReply = get(&driver, IOCTL_GET_COUNTERS);
    for (index, layer) in TransportLayer::ALL.into_iter().enumerate() {
        let snapshot = driver.counters(layer);
        let reported = counters.layers[index];
        assert_eq!(
            LAYER_NAMES[index],
            format!("{layer:?}")
                .to_uppercase()
                .replace("BOUNDV", "BOUND_TRANSPORT_V")
        );
        assert_eq!(reported.classified, snapshot.classified);
        assert_eq!(reported.reinjected, 1);
        assert_eq!(reported.not_inspected, snapshot.not_inspected);
        assert_eq!(
            reported, snapshot,
            "{layer:?}: every counter, as the driver reads it"
        );
    }
    assert_eq!((counters.completed_ok, counters.completed_failed), (4, 0));
    driver.unload();
    sim.assert_clean();
}

#[test]
fn get_returns_the_registry_rules_set_replaces_the_filters_and_clear_empties_them() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let before: Config = get(&driver, IOCTL_GET_CONFIG);
    assert_eq!(before.rule_count, 2);
    assert_eq!(before.active()[0].remote_port, PORT);
    assert_eq!(before.check(), Ok(()), "a reply is a valid set request");
    assert_eq!(sim.wfp_objects().filters, 4);

    // Outbound IPv4 UDP to 198.51.100.0/24 only.
    let mut rule = v4_rule(Ipv4Addr::new(198, 51, 100, 0), 24, DIRECTION_OUTBOUND);
    rule.fields = FIELD_PROTOCOL;
    rule.protocol = PROTOCOL_UDP;
    set(&driver, &config_of(&[rule])).expect("set");
    assert_eq!(sim.wfp_objects().filters, 1, "one layer has a rule");
    assert!(
        sim.filter_conditions(TransportLayer::OutboundV4.filter_key())
            .is_some()
    );
    let peer = Ipv4Addr::new(198, 51, 100, 7);
    assert!(reinjected_to(&sim, &driver, Layer::OutboundV4, peer, 9));
    assert!(!reinjected_to(&sim, &driver, Layer::InboundV4, peer, 9));
    assert!(!reinjected_to(
        &sim,
        &driver,
        Layer::OutboundV4,
        PEER_V4,
        PORT
    ));
    let after: Config = get(&driver, IOCTL_GET_CONFIG);
    assert_eq!(after.active(), &[rule]);

    request(&driver, IOCTL_CLEAR_CONFIG, &header(), 0).expect("clear");
    assert_eq!(sim.wfp_objects().filters, 0);
    let cleared: Config = get(&driver, IOCTL_GET_CONFIG);
    assert_eq!(cleared.rule_count, 0);
    driver.unload();
    sim.assert_clean();
}

#[test]
fn local_addresses_prefixes_and_several_rules_are_decided_by_classify() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let driver = load(&sim);
    let mut local = v4_rule(
        Ipv4Addr::new(203, 0, 113, 0),
        25,
        DIRECTION_INBOUND | DIRECTION_OUTBOUND,
    );
    local.fields = FIELD_LOCAL_ADDRESS;
    local.local_address[..4].copy_from_slice(&HOST_V4.octets());
    local.local_prefix = 32;
    let mut port = v4_rule(Ipv4Addr::UNSPECIFIED, 0, DIRECTION_INBOUND);
    port.fields = FIELD_REMOTE_PORT;
    port.remote_port = 7;
    set(&driver, &config_of(&[local, port])).expect("set");
    let conditions = sim
        .filter_conditions(TransportLayer::InboundV4.filter_key())
        .unwrap();
    assert!(conditions.0.is_empty(), "two rules: classify decides");
    let inside = Ipv4Addr::new(203, 0, 113, 100);
    let outside = Ipv4Addr::new(203, 0, 113, 200);
    assert!(reinjected_to(&sim, &driver, Layer::InboundV4, inside, 9));
    assert!(!reinjected_to(&sim, &driver, Layer::InboundV4, outside, 9));
    assert!(
        reinjected_to(&sim, &driver, Layer::InboundV4, outside, 7),
        "the port rule"
    );
    assert!(
        !reinjected_to(&sim, &driver, Layer::OutboundV4, outside, 7),
        "inbound only"
    );
    let mut elsewhere = to(Layer::InboundV4, inside, 9);
    elsewhere.local = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));
    assert!(
        !reinjected(&sim, &driver, Layer::InboundV4, &elsewhere),
        "another local address"
    );
    driver.unload();
    sim.assert_clean();
}

/// A named edit of a configuration.
type Edit<'a> = (&'static str, &'a dyn Fn(&mut Config));

/// Requests that must be refused, with the status each gets.
fn rejections() -> Vec<(&'static str, u32, Vec<u8>, usize, NtStatus)> {
    let good = {
        let mut bytes = vec![0; Config::SIZE];
        config_of(&[v4_rule(PEER_V4, 32, DIRECTION_INBOUND)]).encode(&mut bytes);
        bytes
    };
    let with = |edit: &dyn Fn(&mut Config)| {
        let mut config = config_of(&[v4_rule(PEER_V4, 32, DIRECTION_INBOUND)]);
        edit(&mut config);
        let mut bytes = vec![0; Config::SIZE];
        config.encode(&mut bytes);
        bytes
    };
    let mut header_v2 = header();
    header_v2[0] = (VERSION + 1) as u8;
    let mut header_reserved = header();
    header_reserved[4] = 1;
    let invalid = NtStatus::INVALID_PARAMETER;
    let mut rows = vec![
        (
            "unknown code",
            ctl_code(DEVICE_TYPE, 0x8FF, METHOD_BUFFERED, FILE_READ_ACCESS),
            header(),
            64,
            NtStatus::INVALID_DEVICE_REQUEST,
        ),
        (
            "status: no input",
            IOCTL_GET_STATUS,
            vec![],
            StatusReply::SIZE,
            NtStatus::BUFFER_TOO_SMALL,
        ),
        (
            "status: input too long",
            IOCTL_GET_STATUS,
            vec![1, 0, 0, 0, 0, 0, 0, 0, 0],
            StatusReply::SIZE,
            invalid,
        ),
        (
            "status: another version",
            IOCTL_GET_STATUS,
            header_v2.clone(),
            StatusReply::SIZE,
            invalid,
        ),
        (
            "status: reserved",
            IOCTL_GET_STATUS,
            header_reserved,
            StatusReply::SIZE,
            invalid,
        ),
        (
            "status: output short",
            IOCTL_GET_STATUS,
            header(),
            StatusReply::SIZE - 1,
            NtStatus::BUFFER_TOO_SMALL,
        ),
        (
            "counters: output short",
            IOCTL_GET_COUNTERS,
            header(),
            8,
            NtStatus::BUFFER_TOO_SMALL,
        ),
        (
            "get: output short",
            IOCTL_GET_CONFIG,
            header(),
            Config::SIZE - 1,
            NtStatus::BUFFER_TOO_SMALL,
        ),
        (
            "clear: another version",
            IOCTL_CLEAR_CONFIG,
            header_v2,
            0,
            invalid,
        ),
        (
            "set: short",
            IOCTL_SET_CONFIG,
            good[..Config::SIZE - 1].to_vec(),
            0,
            NtStatus::BUFFER_TOO_SMALL,
        ),
        (
            "set: long",
            IOCTL_SET_CONFIG,
            [good.clone(), vec![0]].concat(),
            0,
            invalid,
        ),
    ];
    // Sets of a good configuration with one edit that makes it invalid.
    let edits: [Edit; 20] = [
        ("set: count 17", &|c| c.rule_count = 17),
        ("set: flags", &|c| c.flags = 4),
        ("set: family 5", &|c| c.rules[0].family = 5),
        ("set: no direction", &|c| c.rules[0].directions = 0),
        ("set: direction bit 2", &|c| c.rules[0].directions = 5),
        ("set: prefix 33", &|c| c.rules[0].remote_prefix = 33),
        ("set: host bits", &|c| c.rules[0].remote_prefix = 24),
        ("set: v4 with bytes past 4", &|c| {
            c.rules[0].remote_address[4] = 1
        }),
        ("set: port 0", &|c| c.rules[0].fields = FIELD_REMOTE_PORT),
        ("set: port without its flag", &|c| {
            c.rules[0].remote_port = 5
        }),
        ("set: protocol 0", &|c| c.rules[0].fields = FIELD_PROTOCOL),
        ("set: port with ICMP", &|c| {
            c.rules[0].fields = FIELD_PROTOCOL | FIELD_REMOTE_PORT;
            c.rules[0].protocol = 1;
            c.rules[0].remote_port = 5;
        }),
        ("set: local without its flag", &|c| {
            c.rules[0].local_prefix = 8
        }),
        ("set: unknown field bit", &|c| c.rules[0].fields = 0x8),
        ("set: rule reserved", &|c| c.rules[0].reserved[0] = 1),
        ("set: no layer", &|c| c.rules[0].layers = 0),
        ("set: layer bit 2", &|c| c.rules[0].layers = 4),
        ("set: configuration reserved", &|c| c.reserved = 1),
        ("set: a rule past the count", &|c| c.rules[1] = c.rules[0]),
        ("set: bad rule after a good one", &|c| {
            c.rule_count = 2;
            c.rules[1] = c.rules[0];
            c.rules[1].family = 0;
        }),
    ];
    rows.extend(
        edits
            .into_iter()
            .map(|(name, edit)| (name, IOCTL_SET_CONFIG, with(edit), 0, invalid)),
    );
    rows
}

#[test]
fn every_rejection_has_its_status_and_changes_nothing() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let before: Config = get(&driver, IOCTL_GET_CONFIG);
    let transactions = sim.calls(KernelFn::FwpmTransactionBegin0);
    for (name, code, input, output, expected) in rejections() {
        assert_eq!(
            request(&driver, code, &input, output),
            Err(expected),
            "{name}"
        );
        let now: Config = get(&driver, IOCTL_GET_CONFIG);
        assert_eq!(now, before, "{name}: the configuration is unchanged");
    }
    assert_eq!(
        sim.calls(KernelFn::FwpmTransactionBegin0),
        transactions,
        "no transaction was begun"
    );
    assert!(reinjected(
        &sim,
        &driver,
        Layer::InboundV4,
        &udp(Layer::InboundV4, PORT)
    ));
    driver.unload();
    sim.assert_clean();
}

#[test]
fn a_failed_transaction_leaves_the_old_filters_and_rules() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let before: Config = get(&driver, IOCTL_GET_CONFIG);
    let conditions = sim.filter_conditions(TransportLayer::InboundV4.filter_key());
    let other = config_of(&[v4_rule(
        Ipv4Addr::new(198, 51, 100, 1),
        32,
        DIRECTION_OUTBOUND,
    )]);
    for call in [
        KernelFn::FwpmTransactionBegin0,
        KernelFn::FwpmFilterDeleteByKey0,
        KernelFn::FwpmFilterAdd0,
        KernelFn::FwpmTransactionCommit0,
    ] {
        sim.fail_call(call, 0, NtStatus::INSUFFICIENT_RESOURCES);
        assert_eq!(
            set(&driver, &other),
            Err(NtStatus::INSUFFICIENT_RESOURCES),
            "{call:?}"
        );
        let now: Config = get(&driver, IOCTL_GET_CONFIG);
        assert_eq!(now, before, "{call:?}");
        assert_eq!(
            sim.wfp_objects().filters,
            4,
            "{call:?}: the transaction was aborted"
        );
        assert_eq!(
            sim.filter_conditions(TransportLayer::InboundV4.filter_key()),
            conditions
        );
        assert!(
            reinjected(
                &sim,
                &driver,
                Layer::InboundV4,
                &udp(Layer::InboundV4, PORT)
            ),
            "{call:?}"
        );
    }
    driver.unload();
    sim.assert_clean();
}

#[test]
fn a_set_against_a_generation_the_rules_have_left_gets_retry_and_changes_nothing() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let read: Config = get(&driver, IOCTL_GET_CONFIG);
    assert_ne!(read.generation, 0, "a reply names its generation");
    // One change based on what was read...
    let mut first = read;
    first.rules[2] = v4_rule(Ipv4Addr::new(198, 51, 100, 1), 32, DIRECTION_OUTBOUND);
    first.rule_count = 3;
    set(&driver, &first).expect("based on the rules in force");
    let after_first: Config = get(&driver, IOCTL_GET_CONFIG);
    assert_ne!(after_first.generation, read.generation);
    assert_eq!(after_first.rule_count, 3);
    // ...then another based on the same read: it would undo the first.
    let mut second = read;
    second.rules[2] = v4_rule(Ipv4Addr::new(203, 0, 113, 1), 32, DIRECTION_INBOUND);
    second.rule_count = 3;
    let transactions = sim.calls(KernelFn::FwpmTransactionBegin0);
    assert_eq!(set(&driver, &second), Err(NtStatus::RETRY));
    assert_eq!(get::<Config>(&driver, IOCTL_GET_CONFIG), after_first);
    assert_eq!(
        sim.calls(KernelFn::FwpmTransactionBegin0),
        transactions,
        "refused before the filters were touched"
    );
    // Generation 0 replaces whatever is in force; a clear is unconditional too.
    second.generation = 0;
    set(&driver, &second).expect("unconditional");
    let after_second: Config = get(&driver, IOCTL_GET_CONFIG);
    assert_eq!(after_second.active(), second.active());
    request(&driver, IOCTL_CLEAR_CONFIG, &header(), 0).expect("clear");
    let cleared: Config = get(&driver, IOCTL_GET_CONFIG);
    assert_ne!(cleared.generation, after_second.generation);
    assert_eq!(cleared.rule_count, 0);
    driver.unload();
    sim.assert_clean();
}

#[test]
fn a_generation_an_earlier_load_answered_is_refused_by_the_next() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let first = load(&sim);
    let read: Config = get(&first, IOCTL_GET_CONFIG);
    first.unload();
    let second = load(&sim);
    let mut edited = read;
    edited.rule_count = 0;
    edited.rules = Default::default();
    assert_eq!(
        set(&second, &edited),
        Err(NtStatus::RETRY),
        "read from another load of the driver"
    );
    assert_eq!(get::<Config>(&second, IOCTL_GET_CONFIG).rule_count, 2);
    second.unload();
    sim.assert_clean();
}

#[test]
fn a_set_while_the_loads_work_item_is_due_waits_then_answers_busy_and_changes_nothing() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let before: Config = get(&driver, IOCTL_GET_CONFIG);
    // BFE stops: its callback queues the load's work item, which holds the token from then on
    // until it has run (nobody runs it here).
    sim.set_bfe_state(wfp_sim::bfe_state::STOPPED);
    assert_eq!(sim.queued_work_items(), 1);
    let slept = sim.calls(KernelFn::KeDelayExecutionThread);
    let new = config_of(&[v4_rule(
        Ipv4Addr::new(198, 51, 100, 7),
        32,
        DIRECTION_OUTBOUND,
    )]);
    assert_eq!(set(&driver, &new), Err(NtStatus::DEVICE_BUSY));
    assert!(
        sim.calls(KernelFn::KeDelayExecutionThread) > slept,
        "it waited for the run first"
    );
    assert_eq!(get::<Config>(&driver, IOCTL_GET_CONFIG), before);
    // Once the run is done the token is free again.
    sim.run_work_items();
    assert_eq!(set(&driver, &new), Ok(()));
    driver.unload();
    sim.assert_clean();
}

#[test]
fn a_set_while_bfe_stops_is_kept_and_installed_when_bfe_runs_again() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let peer = Ipv4Addr::new(198, 51, 100, 7);
    let new = config_of(&[v4_rule(peer, 32, DIRECTION_OUTBOUND)]);
    // BFE stops; its notification has not reached the driver yet (held), so the driver's
    // session is dead but nothing told it.
    sim.hold_bfe_callbacks();
    std::thread::scope(|scope| {
        let stop = scope.spawn(|| sim.set_bfe_state(wfp_sim::bfe_state::STOPPED));
        while sim.held_bfe_callbacks() == 0 {
            std::thread::yield_now();
        }
        assert_eq!(set(&driver, &new), Ok(()), "kept for the re-add");
        // The set asked for the run that makes it BFE's stop, notification or not.
        sim.run_work_items();
        assert_eq!(driver.progress(), Progress::WaitingForBfe);
        sim.release_bfe_callbacks();
        stop.join().unwrap();
    });
    let kept: Config = get(&driver, IOCTL_GET_CONFIG);
    assert_eq!(kept.active(), new.active());
    sim.run_work_items();
    assert_eq!(sim.wfp_objects().filters, 0, "BFE is away");
    sim.set_bfe_state(wfp_sim::bfe_state::RUNNING);
    sim.run_work_items();
    assert_eq!(sim.wfp_objects().filters, 1, "the new rules' one filter");
    assert!(reinjected_to(&sim, &driver, Layer::OutboundV4, peer, 9));
    assert!(!reinjected_to(
        &sim,
        &driver,
        Layer::OutboundV4,
        PEER_V4,
        PORT
    ));
    driver.unload();
    sim.assert_clean();
}

// --- Old or new, never a mix ---

/// Two configurations and a packet that matches neither but would match a mix of them (A's
/// address with B's port): a classify that read part of each would inspect it.
fn a_and_b() -> (Rules, Rules, PacketKey) {
    let rule = |address: Ipv4Addr, port: u16| {
        let mut rule = v4_rule(address, 32, DIRECTION_INBOUND | DIRECTION_OUTBOUND);
        rule.fields = FIELD_REMOTE_PORT;
        rule.remote_port = port;
        rule
    };
    // A second rule in each, so the filters carry no condition and every packet reaches
    // classify.
    let never = v4_rule(
        Ipv4Addr::new(192, 0, 2, 250),
        32,
        DIRECTION_INBOUND | DIRECTION_OUTBOUND,
    );
    let a = Rules::from_config(&config_of(&[
        rule(Ipv4Addr::new(198, 51, 100, 1), 1001),
        never,
    ]));
    let b = Rules::from_config(&config_of(&[
        rule(Ipv4Addr::new(198, 51, 100, 2), 1002),
        never,
    ]));
    let mix = PacketKey {
        protocol: PROTOCOL_UDP,
        remote_address: RemoteAddress::V4([198, 51, 100, 1]),
        remote_port: 1002,
        local_address: [0; 16],
        direction: Direction::Inbound,
        network: false,
    };
    (a, b, mix)
}

#[test]
fn the_shared_copy_is_read_whole_while_it_changes() {
    let (a, b, mix) = a_and_b();
    assert!(!a.matches(&mix) && !b.matches(&mix));
    let shared = SharedRules::new(&a);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut reads = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        assert!(!shared.matches(&mix), "a torn read after {reads}");
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        for round in 0..200_000 {
            shared.publish(if round % 2 == 0 { &b } else { &a });
        }
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().unwrap() > 0);
        }
    });
}

#[test]
fn classifies_on_other_threads_see_the_old_or_the_new_rules_never_a_mix() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let driver = load(&sim);
    let (a, b, _) = a_and_b();
    let (config_a, config_b) = (a.to_config(), b.to_config());
    set(&driver, &config_a).unwrap();
    let stop = AtomicBool::new(false);
    let mixed = TransportPacket::udp(
        IpAddr::V4(HOST_V4),
        40000,
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
        1002,
    );
    let delivered = std::thread::scope(|scope| {
        let classifiers: Vec<_> = [Layer::InboundV4, Layer::OutboundV4]
            .into_iter()
            .map(|layer| {
                let (sim, stop, mixed) = (&sim, &stop, &mixed);
                scope.spawn(move || {
                    let mut classified = 0u64;
                    while !stop.load(Ordering::Relaxed) || classified < 100 {
                        let delivered = sim.deliver(layer, mixed, Delivery::default());
                        sim.return_packet(delivered.nbl);
                        classified += 1;
                    }
                    classified
                })
            })
            .collect();
        for round in 0..200 {
            set(&driver, if round % 2 == 0 { &config_b } else { &config_a }).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        classifiers
            .into_iter()
            .map(|classifier| classifier.join().unwrap())
            .collect::<Vec<_>>()
    });
    for (layer, delivered) in [TransportLayer::InboundV4, TransportLayer::OutboundV4]
        .into_iter()
        .zip(delivered)
    {
        let counters = driver.counters(layer);
        assert_eq!(
            counters.reinjected, 0,
            "{layer:?}: a mixed read inspected the packet"
        );
        assert_eq!(counters.not_inspected, counters.classified, "{layer:?}");
        assert_eq!(
            counters.classified, delivered,
            "{layer:?}: every packet met a filter, the old or the new (one transaction)"
        );
    }
    driver.unload();
    sim.assert_clean();
}

#[test]
fn a_packet_classified_while_the_filters_are_replaced_meets_the_old_filters_and_rules() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let driver = load(&sim);
    let (a, b, _) = a_and_b();
    set(&driver, &a.to_config()).unwrap();
    let old_peer = Ipv4Addr::new(198, 51, 100, 1);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let keep = seen.clone();
    // Mid-change: the new filters are being added, nothing is committed yet.
    sim.before_next(KernelFn::FwpmFilterAdd0, move |sim| {
        let packet = to(Layer::InboundV4, old_peer, 1001);
        let delivered = sim.deliver(Layer::InboundV4, &packet, Delivery::default());
        *keep.lock().unwrap() = Some((delivered.result.is_some(), delivered.nbl as usize));
    });
    set(&driver, &b.to_config()).unwrap();
    let (classified, nbl) = seen
        .lock()
        .unwrap()
        .take()
        .expect("delivered during the change");
    assert!(classified, "the old filters were still in force");
    let counters = driver.counters(TransportLayer::InboundV4);
    assert_eq!(
        (counters.classified, counters.reinjected),
        (1, 1),
        "the old rules selected it"
    );
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(nbl as *mut _);
    assert!(
        !reinjected_to(&sim, &driver, Layer::InboundV4, old_peer, 1001),
        "after the change the new rules decide"
    );
    driver.unload();
    sim.assert_clean();
}

#[test]
fn verbose_logging_set_through_the_channel_applies_to_the_per_packet_log_at_once() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let refused = |sim: &SimulatedStack| {
        sim.fail_call(
            KernelFn::FwpsAllocateCloneNetBufferList0,
            0,
            NtStatus::NO_MEMORY,
        );
        let delivered = sim.deliver(
            Layer::OutboundV4,
            &udp(Layer::OutboundV4, PORT),
            Delivery::default(),
        );
        sim.return_packet(delivered.nbl);
        sim.debug_log()
            .iter()
            .filter(|(_, _, text)| text.contains("reinjection refused"))
            .count()
    };
    assert_eq!(refused(&sim), 0, "not verbose at load");
    let mut config: Config = get(&driver, IOCTL_GET_CONFIG);
    config.flags = CONFIG_VERBOSE;
    set(&driver, &config).unwrap();
    assert_eq!(refused(&sim), 1, "verbose from the change on");
    let mut config: Config = get(&driver, IOCTL_GET_CONFIG);
    config.flags = 0;
    set(&driver, &config).unwrap();
    assert_eq!(refused(&sim), 1, "quiet again");
    driver.unload();
    sim.assert_clean();
}

#[test]
fn a_rule_for_the_ip_packet_layers_filters_and_classifies_there_by_prefix_and_local_address() {
    use wfp_injector::driver::{CalloutLayer, NetworkLayer};
    use wfp_sim::ip_packet::IpPacketLayer;
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let driver = load(&sim);
    let host = Ipv4Addr::new(198, 51, 100, 1);
    let mut rule = v4_rule(Ipv4Addr::new(198, 51, 100, 0), 24, DIRECTION_OUTBOUND);
    rule.layers = LAYER_IP_PACKET;
    rule.fields = FIELD_LOCAL_ADDRESS;
    rule.local_address[..4].copy_from_slice(&host.octets());
    rule.local_prefix = 32;
    set(&driver, &config_of(&[rule])).unwrap();
    assert_eq!(
        sim.wfp_objects().filters,
        1,
        "the outbound IPv4 IP packet layer only"
    );
    let key = CalloutLayer::from(NetworkLayer::OutboundV4).filter_key();
    let (conditions, _) = sim.filter_conditions(key).expect("its filter");
    assert!(conditions.is_empty(), "a /24: classify decides");
    let peer = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    for (local, inspected) in [(host, true), (Ipv4Addr::new(198, 51, 100, 2), false)] {
        let packet = TransportPacket::udp(IpAddr::V4(local), 40000, peer, 443);
        let delivered =
            sim.deliver_ip_packet(IpPacketLayer::OutboundV4, &packet, Delivery::default());
        sim.complete_all(NtStatus::SUCCESS);
        sim.return_packet(delivered.nbl);
        let counters = driver.counters(NetworkLayer::OutboundV4);
        assert_eq!(
            counters.reinjected, 1,
            "{local}: only the rule's local address"
        );
        assert_eq!(counters.not_inspected, u64::from(!inspected), "{local}");
    }
    driver.unload();
    sim.assert_clean();
}
