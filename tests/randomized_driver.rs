//! Randomized traffic through the callout driver mixed with loads, unloads, kernel refusals,
//! completions and DPCs, checked against a model.
//!
//! The model is written from the driver's documented behaviour (src/driver/config.rs's table,
//! classify's contract in src/driver/classify.rs, docs/callout-driver.md), not from its code: for
//! each delivered packet it predicts whether classify is reached, which counter moves, whether the
//! packet is absorbed and reinjected (and with which path, family, compartment, interface and
//! address), or queued for a DPC, or permitted; for each planned kernel refusal, which packet it
//! hits; for each completion, which completion counter moves. After every step the driver's
//! counters, completions, in-flight count, and the stack's pending injections and queued DPCs must
//! equal the model's: a driver that does less than the model (never inspects, always refuses,
//! reinjects nothing) fails, and so does one that does more. At the end: nothing leaked.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

#[path = "support/host_driver.rs"]
mod host_driver;

use wfp_injector::driver::{Driver, LayerSnapshot, TransportLayer};
use wfp_injector::nt::NtStatus;
use wfp_sim::traffic::{Delivery, Layer, TransportPacket};
use wfp_sim::{InjectionPath, KernelFn, RegistryValue, SimulatedStack, WfpObjects};

// Constants from independent sources: the simulator's own layout tables (written from the
// headers, not from src/driver) and Microsoft's windows-sys metadata.
use wfp_sim::layout::{classify_out, metadata};
use windows_sys::Win32::NetworkManagement::WindowsFilteringPlatform::{
    FWP_ACTION_BLOCK as ACTION_BLOCK, FWP_ACTION_PERMIT as ACTION_PERMIT,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};
const FIELD_IP_HEADER_SIZE: u32 = metadata::FIELD_IP_HEADER_SIZE;
const FIELD_TRANSPORT_ENDPOINT_HANDLE: u32 = metadata::FIELD_TRANSPORT_ENDPOINT_HANDLE;
const FLAG_ABSORB: u32 = classify_out::FLAG_ABSORB;

const PEER_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const OTHER_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const PEER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const OTHER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const PORT: u16 = 53;

/// What the registry configures for one sequence.
#[derive(Debug, Clone, Copy)]
struct Config {
    port: Option<u16>,
    protocol: Option<u8>,
    v4: bool,
    v6: bool,
    max_in_flight: Option<u32>,
}

impl Config {
    /// The README/config table: a family is inspected when it has at least one criterion.
    fn inspects(&self, v6: bool) -> bool {
        self.port.is_some() || self.protocol.is_some() || if v6 { self.v6 } else { self.v4 }
    }

    /// Every criterion set for the packet's family holds (port criterion: TCP/UDP only; the
    /// generated packets are all TCP or UDP).
    fn matches(&self, packet: &TransportPacket) -> bool {
        let v6 = packet.remote.is_ipv6();
        let address_ok = match packet.remote {
            IpAddr::V4(address) => !self.v4 || address == PEER_V4,
            IpAddr::V6(address) => !self.v6 || address == PEER_V6,
        };
        self.inspects(v6)
            && address_ok
            && self.port.is_none_or(|p| p == packet.remote_port)
            && self.protocol.is_none_or(|p| p == packet.protocol)
    }

    fn capacity(&self) -> usize {
        self.max_in_flight.unwrap_or(1024) as usize
    }
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop_oneof![Just(None), Just(Some(PORT))],
        prop_oneof![Just(None), Just(Some(17u8)), Just(Some(6u8))],
        any::<bool>(),
        any::<bool>(),
        prop_oneof![2 => Just(None), 1 => (1u32..4).prop_map(Some)],
    )
        .prop_map(|(port, protocol, v4, v6, max_in_flight)| Config {
            port,
            protocol,
            v4,
            v6,
            max_in_flight,
        })
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A well-formed packet.
    Whole,
    /// The classify lacks the write right.
    NoWriteRight,
    /// Metadata classify needs for its direction is withheld.
    MissingMetadata,
    /// Fewer incoming values than the layer has.
    ShortValues,
}

#[derive(Debug, Clone)]
enum Op {
    Load,
    Unload,
    Deliver {
        layer: u8,
        port_matches: bool,
        peer_matches: bool,
        tcp: bool,
        ignore_conditions: bool,
        shape: Shape,
        control_data: bool,
    },
    Complete {
        newest: bool,
        failed: bool,
        dispatch: bool,
    },
    /// A reinjected clone classified again at its layer (WFP calls callouts for injected
    /// packets too).
    Reclassify(usize),
    RunDpcs,
    Refuse(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let shape = prop_oneof![
        6 => Just(Shape::Whole),
        1 => Just(Shape::NoWriteRight),
        1 => Just(Shape::MissingMetadata),
        1 => Just(Shape::ShortValues),
    ];
    prop_oneof![
        1 => Just(Op::Load),
        1 => Just(Op::Unload),
        8 => (0u8..4, prop::bool::weighted(0.8), prop::bool::weighted(0.8), any::<bool>(),
              prop::bool::weighted(0.2), shape, any::<bool>())
            .prop_map(|(layer, port_matches, peer_matches, tcp, ignore_conditions, shape, control_data)| {
                Op::Deliver { layer, port_matches, peer_matches, tcp, ignore_conditions, shape, control_data }
            }),
        3 => (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(newest, failed, dispatch)| Op::Complete { newest, failed, dispatch }),
        1 => (0usize..8).prop_map(Op::Reclassify),
        2 => Just(Op::RunDpcs),
        2 => (0u8..6).prop_map(Op::Refuse),
    ]
}

/// The kernel calls a classify or its DPC makes that the test plans to fail.
const REFUSALS: [KernelFn; 6] = [
    KernelFn::FwpsAllocateCloneNetBufferList0,
    KernelFn::FwpsInjectTransportSendAsync0,
    KernelFn::FwpsInjectTransportReceiveAsync0,
    KernelFn::NdisRetreatNetBufferDataStart,
    KernelFn::NdisGetDataBuffer,
    KernelFn::KeInsertQueueDpc,
];

fn packet(layer: Layer, port_matches: bool, peer_matches: bool, tcp: bool) -> TransportPacket {
    let port = if port_matches { PORT } else { 80 };
    let mut packet = if layer.is_v6() {
        let peer = if peer_matches { PEER_V6 } else { OTHER_V6 };
        TransportPacket::udp(
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            1000,
            IpAddr::V6(peer),
            port,
        )
    } else {
        let peer = if peer_matches { PEER_V4 } else { OTHER_V4 };
        TransportPacket::udp(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            1000,
            IpAddr::V4(peer),
            port,
        )
    };
    if tcp {
        packet.protocol = 6;
    }
    packet.compartment = 3;
    packet.interface_index = 11;
    packet.sub_interface_index = 12;
    packet.endpoint_handle = 0xE0E0;
    packet.scope_id = if layer.is_v6() { 9 } else { 0 };
    packet
}

fn counters_layer(layer: Layer) -> TransportLayer {
    host_driver::counters_layer(layer)
}

fn layer_index(layer: Layer) -> usize {
    Layer::ALL.iter().position(|l| *l == layer).unwrap()
}

/// An injection the model expects the kernel to hold (pending) or a DPC to issue (queued).
#[derive(Debug, Clone)]
struct Expected {
    layer: Layer,
    packet: TransportPacket,
    matched_conditions: bool,
}

#[derive(Debug, Default)]
struct Model {
    counters: [LayerSnapshot; 4],
    completions: (u64, u64),
    /// Injections the kernel accepted and has not completed, oldest first.
    pending: Vec<Expected>,
    /// Deferred (TCP) injections queued for a DPC, in queue order.
    queued: Vec<Expected>,
}

impl Model {
    fn in_flight(&self) -> usize {
        self.pending.len() + self.queued.len()
    }
}

/// Planned refusals not yet consumed, per call (each consumes the next call of its kind).
#[derive(Debug, Default)]
struct Plans(BTreeMap<KernelFn, u32>);

impl Plans {
    /// True (and consumed) when the next call of `call` is planned to fail.
    fn take(&mut self, call: KernelFn) -> bool {
        match self.0.get_mut(&call) {
            Some(count) if *count > 0 => {
                *count -= 1;
                true
            }
            _ => false,
        }
    }
}

fn path_of(layer: Layer) -> (InjectionPath, KernelFn) {
    if layer.is_inbound() {
        (
            InjectionPath::TransportReceive,
            KernelFn::FwpsInjectTransportReceiveAsync0,
        )
    } else {
        (
            InjectionPath::TransportSend,
            KernelFn::FwpsInjectTransportSendAsync0,
        )
    }
}

/// The packet's bytes the kernel must receive: inbound from the IP header (the driver retreats
/// to it), outbound from the transport header (where the outbound transport layer starts).
fn expected_view(layer: Layer, packet: &TransportPacket) -> Vec<u8> {
    let (bytes, ip, _) = packet.bytes(layer.is_inbound());
    if layer.is_inbound() {
        bytes
    } else {
        bytes[ip..].to_vec()
    }
}

/// Checks one pending injection against what the model expected for it.
fn check_pending(sim: &SimulatedStack, actual: &wfp_sim::PendingInjection, e: &Expected) {
    let (path, _) = path_of(e.layer);
    assert_eq!(actual.path, path, "injection path for {:?}", e.layer);
    assert_eq!(
        actual.family,
        if e.layer.is_v6() { AF_INET6 } else { AF_INET },
        "address family"
    );
    assert_eq!(actual.compartment, e.packet.compartment, "compartment");
    if e.layer.is_inbound() {
        assert_eq!(actual.interface_index, e.packet.interface_index);
        assert_eq!(actual.sub_interface_index, e.packet.sub_interface_index);
    } else {
        let remote = match e.packet.remote {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        assert_eq!(actual.remote_address, remote, "remote address");
        assert_eq!(
            actual.endpoint_or_flow, e.packet.endpoint_handle,
            "endpoint"
        );
        assert_eq!(actual.control_data, e.packet.control_data, "control data");
        if e.layer.is_v6() {
            assert_eq!(actual.remote_scope_id, e.packet.scope_id, "scope id");
        }
    }
    assert_eq!(
        sim.packet_view(actual.nbl as *const _).unwrap(),
        expected_view(e.layer, &e.packet),
        "the clone presents the packet from the right header"
    );
}

fn check(sim: &SimulatedStack, driver: Option<&Driver<&SimulatedStack>>, model: &Model, op: &Op) {
    let pending = sim.pending_injections();
    assert_eq!(
        pending.len(),
        model.pending.len(),
        "pending injections after {op:?}"
    );
    for (actual, expected) in pending.iter().zip(&model.pending) {
        check_pending(sim, actual, expected);
    }
    assert_eq!(
        sim.queued_dpcs(),
        model.queued.len(),
        "queued DPCs after {op:?}"
    );
    if let Some(driver) = driver {
        for layer in Layer::ALL {
            assert_eq!(
                driver.counters(counters_layer(layer)),
                model.counters[layer_index(layer)],
                "counters of {layer:?} after {op:?}"
            );
        }
        assert_eq!(
            driver.completions(),
            model.completions,
            "completions after {op:?}"
        );
        assert_eq!(
            driver.injector().map_or(0, |i| i.in_flight()) as usize,
            model.in_flight(),
            "in flight"
        );
    }
}

fn unload_draining(sim: &SimulatedStack, driver: Driver<&SimulatedStack>) {
    std::thread::scope(|scope| {
        let unloader = scope.spawn(move || driver.unload());
        while !unloader.is_finished() {
            sim.run_queued_dpcs();
            sim.complete_all(NtStatus::SUCCESS);
            std::thread::yield_now();
        }
        assert_eq!(unloader.join().unwrap(), NtStatus::SUCCESS);
    });
}

fn run(config: Config, ops: &[Op]) -> LayerSnapshot {
    let mut totals = LayerSnapshot::default();
    let sim = SimulatedStack::new();
    if let Some(port) = config.port {
        sim.set_parameter("InspectRemotePort", RegistryValue::Dword(port.into()));
    }
    if let Some(protocol) = config.protocol {
        sim.set_parameter("InspectProtocol", RegistryValue::Dword(protocol.into()));
    }
    if config.v4 {
        sim.set_parameter(
            "InspectRemoteAddressV4",
            RegistryValue::Binary(PEER_V4.octets().to_vec()),
        );
    }
    if config.v6 {
        sim.set_parameter(
            "InspectRemoteAddressV6",
            RegistryValue::Binary(PEER_V6.octets().to_vec()),
        );
    }
    if let Some(count) = config.max_in_flight {
        sim.set_parameter("MaxInFlight", RegistryValue::Dword(count));
    }
    let mut driver: Option<Driver<&SimulatedStack>> = None;
    let mut model = Model::default();
    let mut plans = Plans::default();
    let mut indicated = Vec::new();
    let mut reached_classify = 0u64;
    for op in ops {
        match *op {
            Op::Load => {
                if driver.is_none() {
                    driver = Some(host_driver::try_load(&sim).expect("load"));
                    model = Model::default();
                }
            }
            Op::Unload => {
                if let Some(loaded) = driver.take() {
                    // Draining runs the queued DPCs: the injections they make consume plans.
                    for queued in &model.queued {
                        plans.take(path_of(queued.layer).1);
                    }
                    unload_draining(&sim, loaded);
                    assert_eq!(sim.wfp_objects(), WfpObjects::default());
                    add(&mut totals, &model);
                    model = Model::default();
                }
            }
            Op::Deliver {
                layer,
                port_matches,
                peer_matches,
                tcp,
                ignore_conditions,
                shape,
                control_data,
            } => {
                let layer = Layer::ALL[usize::from(layer)];
                let mut packet = packet(layer, port_matches, peer_matches, tcp);
                if control_data && !layer.is_inbound() {
                    packet.control_data = vec![0x5A; 24];
                }
                let how = Delivery {
                    may_write: !matches!(shape, Shape::NoWriteRight),
                    withhold_metadata: match shape {
                        Shape::MissingMetadata if layer.is_inbound() => FIELD_IP_HEADER_SIZE,
                        Shape::MissingMetadata => FIELD_TRANSPORT_ENDPOINT_HANDLE,
                        _ => 0,
                    },
                    value_count: matches!(shape, Shape::ShortValues).then_some(3),
                    ignore_conditions,
                    ..Delivery::default()
                };
                let delivered = sim.deliver(layer, &packet, how);
                indicated.push(delivered.nbl);
                let matched = config.matches(&packet);
                let reaches = driver.is_some()
                    && config.inspects(layer.is_v6())
                    && (matched || ignore_conditions);
                let Some(result) = delivered.result else {
                    assert!(!reaches, "{packet:?} must reach classify at {layer:?}");
                    check(&sim, driver.as_ref(), &model, op);
                    continue;
                };
                assert!(reaches, "{packet:?} must not reach classify at {layer:?}");
                reached_classify += 1;
                let li = layer_index(layer);
                model.counters[li].classified += 1;
                let expected = Expected {
                    layer,
                    packet: packet.clone(),
                    matched_conditions: matched,
                };
                // What classify must do, in the order its contract gives.
                let absorbed = match shape {
                    Shape::NoWriteRight => {
                        model.counters[li].skipped_no_write_right += 1;
                        None
                    }
                    Shape::ShortValues => {
                        model.counters[li].malformed += 1;
                        Some(false)
                    }
                    _ if !matched => {
                        model.counters[li].not_inspected += 1;
                        Some(false)
                    }
                    Shape::MissingMetadata => {
                        model.counters[li].malformed += 1;
                        Some(false)
                    }
                    Shape::Whole => {
                        let mut outcome = None;
                        if layer.is_inbound() {
                            // Retreat to the IP header, then read its first byte.
                            if plans.take(KernelFn::NdisRetreatNetBufferDataStart)
                                || plans.take(KernelFn::NdisGetDataBuffer)
                            {
                                model.counters[li].malformed += 1;
                                outcome = Some(false);
                            }
                        }
                        if outcome.is_none() {
                            let full = model.in_flight() >= config.capacity();
                            if full || plans.take(KernelFn::FwpsAllocateCloneNetBufferList0) {
                                model.counters[li].failed += 1;
                                outcome = Some(false);
                            } else if tcp {
                                if plans.take(KernelFn::KeInsertQueueDpc) {
                                    model.counters[li].failed += 1;
                                    outcome = Some(false);
                                } else {
                                    model.counters[li].reinjected += 1;
                                    model.queued.push(expected);
                                    outcome = Some(true);
                                }
                            } else if plans.take(path_of(layer).1) {
                                model.counters[li].failed += 1;
                                outcome = Some(false);
                            } else {
                                model.counters[li].reinjected += 1;
                                model.pending.push(expected);
                                outcome = Some(true);
                            }
                        }
                        outcome
                    }
                };
                match absorbed {
                    Some(true) => {
                        assert_eq!(result.action, ACTION_BLOCK, "absorbed: {packet:?}");
                        assert_ne!(result.flags & FLAG_ABSORB, 0, "absorbed: {packet:?}");
                    }
                    Some(false) => {
                        assert_eq!(result.action, ACTION_PERMIT, "permitted: {packet:?}");
                        assert_eq!(result.flags & FLAG_ABSORB, 0);
                    }
                    None => assert_eq!(result.flags & FLAG_ABSORB, 0, "untouched"),
                }
            }
            Op::Complete {
                newest,
                failed,
                dispatch,
            } => {
                let pending = sim.pending_injections();
                let index = if newest {
                    pending.len().checked_sub(1)
                } else {
                    (!pending.is_empty()).then_some(0)
                };
                if let Some(index) = index {
                    let status = if failed {
                        NtStatus::UNSUCCESSFUL
                    } else {
                        NtStatus::SUCCESS
                    };
                    assert!(sim.complete_injection(pending[index].id, status, dispatch));
                    model.pending.remove(index);
                    if failed {
                        model.completions.1 += 1;
                    } else {
                        model.completions.0 += 1;
                    }
                }
            }
            Op::Reclassify(which) => {
                let pending = sim.pending_injections();
                if driver.is_some() && !pending.is_empty() {
                    let index = which % pending.len();
                    let expected = model.pending[index].clone();
                    if expected.matched_conditions {
                        let result = sim.classify_again(
                            expected.layer,
                            &expected.packet,
                            pending[index].nbl as *mut _,
                        );
                        reached_classify += 1;
                        let counters = &mut model.counters[layer_index(expected.layer)];
                        counters.classified += 1;
                        counters.skipped_own += 1;
                        assert_eq!(result.action, ACTION_PERMIT, "own packets pass");
                        assert_eq!(result.flags & FLAG_ABSORB, 0, "own packets pass");
                    }
                }
            }
            Op::RunDpcs => {
                let queued = std::mem::take(&mut model.queued);
                assert_eq!(sim.run_queued_dpcs(), queued.len(), "DPCs run");
                for expected in queued {
                    if plans.take(path_of(expected.layer).1) {
                        // Refused inside the DPC: the completion handler gets the refusal.
                        model.completions.1 += 1;
                    } else {
                        model.pending.push(expected);
                    }
                }
            }
            Op::Refuse(which) => {
                let call = REFUSALS[usize::from(which)];
                sim.fail_call(call, 0, NtStatus::INSUFFICIENT_RESOURCES);
                *plans.0.entry(call).or_default() += 1;
            }
        }
        check(&sim, driver.as_ref(), &model, op);
    }
    add(&mut totals, &model);
    if let Some(loaded) = driver.take() {
        unload_draining(&sim, loaded);
    }
    sim.run_queued_dpcs();
    sim.complete_all(NtStatus::SUCCESS);
    for nbl in indicated {
        sim.return_packet(nbl);
    }
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    sim.assert_clean();
    totals.classified = reached_classify;
    totals
}

/// Adds the model's counters (equal to the driver's: checked after every step) to `totals`.
fn add(totals: &mut LayerSnapshot, model: &Model) {
    for c in &model.counters {
        totals.reinjected += c.reinjected;
        totals.failed += c.failed;
        totals.not_inspected += c.not_inspected;
        totals.malformed += c.malformed;
        totals.skipped_own += c.skipped_own;
        totals.skipped_no_write_right += c.skipped_no_write_right;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn traffic_matches_the_model(config in config(), ops in proptest::collection::vec(op(), 1..48)) {
        run(config, &ops);
    }
}

/// The generator reaches every outcome the model knows (a model test whose sequences never
/// reinject would prove little): a fixed-seed run sums the outcomes.
#[test]
fn sequences_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        RunnerConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = (config(), proptest::collection::vec(op(), 1..48));
    let mut totals = LayerSnapshot::default();
    for _ in 0..120 {
        let (config, ops) = strategy.new_tree(&mut runner).unwrap().current();
        let t = run(config, &ops);
        totals.classified += t.classified;
        totals.reinjected += t.reinjected;
        totals.failed += t.failed;
        totals.not_inspected += t.not_inspected;
        totals.malformed += t.malformed;
        totals.skipped_own += t.skipped_own;
        totals.skipped_no_write_right += t.skipped_no_write_right;
    }
    assert!(totals.reinjected > 50, "{totals:?}");
    assert!(totals.failed > 5, "{totals:?}");
    assert!(totals.not_inspected > 5, "{totals:?}");
    assert!(totals.malformed > 5, "{totals:?}");
    assert!(totals.skipped_own > 5, "{totals:?}");
    assert!(totals.skipped_no_write_right > 5, "{totals:?}");
}
