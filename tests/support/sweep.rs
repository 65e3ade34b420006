//! The fault sweep's scenario, run on a backend (the host-compiled driver or the shipped image):
//! see tests/fault_sweep.rs and tests/image_fault_sweep.rs.

#![allow(dead_code)]

use std::collections::BTreeMap;

use super::host_driver::{self, configure_port, device, path, registry_path};
use wfp_injector::driver::{Driver, DriverConfig, LayerSnapshot, LoadStep};
use wfp_injector::nt::NtStatus;
use wfp_sim::layout::classify_out;
use wfp_sim::traffic::{Delivery, Layer, TransportPacket};
use wfp_sim::{KernelFn, SimulatedStack, WfpObjects};
use windows_sys::Win32::NetworkManagement::WindowsFilteringPlatform::{
    FWP_ACTION_BLOCK, FWP_ACTION_PERMIT,
};

/// Every simulated kernel call.
const ALL_CALLS: [KernelFn; 44] = [
    KernelFn::FwpsInjectionHandleCreate0,
    KernelFn::FwpsInjectionHandleDestroy0,
    KernelFn::KeDelayExecutionThread,
    KernelFn::FwpsQueryPacketInjectionState0,
    KernelFn::FwpsInjectTransportSendAsync0,
    KernelFn::FwpsInjectTransportReceiveAsync0,
    KernelFn::FwpsInjectNetworkSendAsync0,
    KernelFn::FwpsInjectNetworkReceiveAsync0,
    KernelFn::FwpsInjectForwardAsync0,
    KernelFn::FwpsStreamInjectAsync0,
    KernelFn::FwpsAllocateCloneNetBufferList0,
    KernelFn::FwpsFreeCloneNetBufferList0,
    KernelFn::ExInitializeRundownProtection,
    KernelFn::ExAcquireRundownProtection,
    KernelFn::ExReleaseRundownProtection,
    KernelFn::ExWaitForRundownProtectionRelease,
    KernelFn::ExAllocateCacheAwareRundownProtection,
    KernelFn::ExAcquireRundownProtectionCacheAware,
    KernelFn::KeInitializeDpc,
    KernelFn::KeInsertQueueDpc,
    KernelFn::KeFlushQueuedDpcs,
    KernelFn::NdisRetreatNetBufferDataStart,
    KernelFn::NdisAdvanceNetBufferDataStart,
    KernelFn::NdisGetDataBuffer,
    KernelFn::FwpmEngineOpen0,
    KernelFn::FwpmEngineClose0,
    KernelFn::FwpmTransactionBegin0,
    KernelFn::FwpmTransactionCommit0,
    KernelFn::FwpmTransactionAbort0,
    KernelFn::FwpmProviderAdd0,
    KernelFn::FwpmProviderDeleteByKey0,
    KernelFn::FwpmSubLayerAdd0,
    KernelFn::FwpmSubLayerDeleteByKey0,
    KernelFn::FwpmCalloutAdd0,
    KernelFn::FwpmCalloutDeleteByKey0,
    KernelFn::FwpmFilterAdd0,
    KernelFn::FwpmFilterDeleteByKey0,
    KernelFn::FwpsCalloutRegister1,
    KernelFn::FwpsCalloutUnregisterById0,
    KernelFn::ZwOpenKey,
    KernelFn::ZwQueryValueKey,
    KernelFn::ZwClose,
    KernelFn::ExAllocatePool2,
    KernelFn::ExFreePoolWithTag,
];

/// Calls with nothing to fail: VOID in the docs (windows-sys 0.61 Wdk::System::SystemServices
/// declares ExInitializeRundownProtection, ExReleaseRundownProtection,
/// ExWaitForRundownProtectionRelease, KeInitializeDpc, KeFlushQueuedDpcs, ExFreePoolWithTag,
/// IoQueueWorkItem, IoFreeWorkItem and ExUnregisterCallback without a return type;
/// learn.microsoft.com fwpsk/nf-fwpsk-fwpsfreeclonenetbufferlist0 and
/// ndis/nf-ndis-ndisadvancenetbufferdatastart: "Return value: None"), or returning an
/// FWPS_PACKET_INJECTION_STATE, not a status (nf-fwpsk-fwpsquerypacketinjectionstate0).
pub const CANNOT_FAIL: [KernelFn; 12] = [
    KernelFn::FwpsFreeCloneNetBufferList0,
    KernelFn::ExInitializeRundownProtection,
    KernelFn::ExReleaseRundownProtection,
    KernelFn::ExWaitForRundownProtectionRelease,
    KernelFn::KeInitializeDpc,
    KernelFn::KeFlushQueuedDpcs,
    KernelFn::NdisAdvanceNetBufferDataStart,
    KernelFn::ExFreePoolWithTag,
    KernelFn::IoQueueWorkItem,
    KernelFn::IoFreeWorkItem,
    KernelFn::ExUnregisterCallback,
    KernelFn::FwpsQueryPacketInjectionState0,
];

/// The status planned failures return: not one the driver makes up itself, so that a status
/// that comes back is the kernel's.
const FAILURE: NtStatus = NtStatus::UNSUCCESSFUL;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Load,
    Classify,
    Dpc,
    Reclassify,
    Completion,
    Unload,
}

const PHASES: [Phase; 6] = [
    Phase::Load,
    Phase::Classify,
    Phase::Dpc,
    Phase::Reclassify,
    Phase::Completion,
    Phase::Unload,
];

/// The packets of the classify phase: UDP then TCP on each layer, to the configured port.
fn packets() -> Vec<(Layer, TransportPacket)> {
    let mut packets = Vec::new();
    for layer in Layer::ALL {
        for tcp in [false, true] {
            let mut packet = host_driver::udp(layer, host_driver::PORT);
            if tcp {
                packet.protocol = 6;
            }
            packets.push((layer, packet));
        }
    }
    packets
}

/// A driver to run the scenario on: the host-compiled one, or the shipped image.
pub trait Backend<'s> {
    /// Loads on `sim`: the failing step (when the backend can tell) and status on failure.
    fn load(&mut self, sim: &'s SimulatedStack) -> Result<(), (Option<LoadStep>, NtStatus)>;
    /// Counters summed over the layers and (succeeded, failed) completions, where readable.
    fn counters(&self) -> Option<(LayerSnapshot, (u64, u64))>;
    /// Unloads; the status where the backend returns one.
    fn unload(&mut self) -> Option<NtStatus>;
    /// Gives up a driver that kept its state (WFP may still call it): keep it alive.
    fn abandon(&mut self) {}
}

/// The host-compiled driver.
#[derive(Default)]
pub struct Host<'s>(Option<Driver<&'s SimulatedStack>>);

impl<'s> Backend<'s> for Host<'s> {
    fn load(&mut self, sim: &'s SimulatedStack) -> Result<(), (Option<LoadStep>, NtStatus)> {
        let registry = registry_path();
        let driver = Driver::load(sim, device(), path(&registry), &DriverConfig::default())
            .map_err(|e| (Some(e.step), e.status))?;
        self.0 = Some(driver);
        Ok(())
    }
    fn counters(&self) -> Option<(LayerSnapshot, (u64, u64))> {
        self.0.as_ref().map(|d| (sum(d), d.completions()))
    }
    fn unload(&mut self) -> Option<NtStatus> {
        self.0.take().map(Driver::unload)
    }
}

/// What one run observed.
#[derive(Debug, Default)]
pub struct Observed {
    load: Option<Result<(), (Option<LoadStep>, NtStatus)>>,
    /// Classify verdicts (action, absorbed), in packet order; `None`: no classify.
    verdicts: Vec<Option<(u32, bool)>>,
    /// Counters summed over the layers, read before unload (host only).
    counters: Option<LayerSnapshot>,
    completions: Option<(u64, u64)>,
    /// Own packets classified again: how many were permitted untouched.
    reclassified_permitted: usize,
    /// Unload's status (host only).
    unload: Option<NtStatus>,
    /// Calls made before each phase ended, per call.
    calls_after: BTreeMap<Phase, BTreeMap<KernelFn, u64>>,
    /// The driver left its state behind on purpose (a callout stayed registered).
    leaked: bool,
}

fn snapshot(sim: &SimulatedStack) -> BTreeMap<KernelFn, u64> {
    ALL_CALLS.iter().map(|&c| (c, sim.calls(c))).collect()
}

fn sum(driver: &Driver<&SimulatedStack>) -> LayerSnapshot {
    let mut total = LayerSnapshot::default();
    for layer in Layer::ALL {
        let c = driver.counters(host_driver::counters_layer(layer));
        total.classified += c.classified;
        total.skipped_own += c.skipped_own;
        total.skipped_no_write_right += c.skipped_no_write_right;
        total.not_inspected += c.not_inspected;
        total.reinjected += c.reinjected;
        total.failed += c.failed;
        total.malformed += c.malformed;
    }
    total
}

/// Runs the scenario; `fail_completion` fails that completion (0-based).
pub fn run<'s>(
    sim: &'s SimulatedStack,
    fail_completion: Option<usize>,
    driver: &mut dyn Backend<'s>,
) -> Observed {
    let mut seen = Observed::default();
    configure_port(sim);
    // TCP/IP and BFE ready: the whole load happens in DriverEntry, so each load-time failure
    // is DriverEntry's (the deferred paths have their own sweep-like tests in
    // tests/deferred_load.rs).
    let loaded = driver.load(sim);
    seen.calls_after.insert(Phase::Load, snapshot(sim));
    seen.load = Some(loaded);
    if loaded.is_err() {
        return seen;
    }
    let packets = packets();
    let mut indicated = Vec::new();
    for (layer, packet) in &packets {
        let delivered = sim.deliver(*layer, packet, Delivery::default());
        seen.verdicts.push(
            delivered
                .result
                .map(|r| (r.action, r.flags & classify_out::FLAG_ABSORB != 0)),
        );
        indicated.push(delivered.nbl);
    }
    seen.calls_after.insert(Phase::Classify, snapshot(sim));
    sim.run_queued_dpcs();
    seen.calls_after.insert(Phase::Dpc, snapshot(sim));
    for pending in sim.pending_injections() {
        let (layer, packet) = packets
            .iter()
            .find(|(layer, packet)| {
                let inbound = layer.is_inbound();
                let v6 = pending.family == windows_sys::Win32::Networking::WinSock::AF_INET6;
                inbound == (pending.path == wfp_sim::InjectionPath::TransportReceive)
                    && v6 == layer.is_v6()
                    && Some(packet.protocol)
                        == if inbound {
                            // The receive clone starts at its IP header (inbound packets carry a
                            // link-layer header in front of it).
                            sim.packet_view(pending.nbl as *const _)
                        } else {
                            sim.packet_data(pending.nbl as *const _)
                        }
                        .and_then(|bytes| bytes.get(if v6 { 6 } else { 9 }).copied())
            })
            .expect("a pending injection of one of the packets");
        let result = sim.classify_again(*layer, packet, pending.nbl as *mut _);
        if result.action == FWP_ACTION_PERMIT && result.flags & classify_out::FLAG_ABSORB == 0 {
            seen.reclassified_permitted += 1;
        }
    }
    seen.calls_after.insert(Phase::Reclassify, snapshot(sim));
    let mut index = 0;
    while let Some(first) = sim.pending_injections().first().map(|p| p.id) {
        let status = if fail_completion == Some(index) {
            NtStatus::UNSUCCESSFUL
        } else {
            NtStatus::SUCCESS
        };
        sim.complete_injection(first, status, true);
        index += 1;
    }
    if let Some((counters, completions)) = driver.counters() {
        seen.counters = Some(counters);
        seen.completions = Some(completions);
    }
    seen.calls_after.insert(Phase::Completion, snapshot(sim));
    seen.unload = driver.unload();
    seen.calls_after.insert(Phase::Unload, snapshot(sim));
    // The state (and with it both injection handles) is kept when a callout stayed registered.
    seen.leaked = sim.wfp_objects().registered_callouts > 0 || sim.open_handles().len() == 2;
    for nbl in indicated {
        sim.return_packet(nbl);
    }
    seen
}

/// The phase in which the `skip`-th call (0-based) of `call` happened in the clean run.
fn phase_of(clean: &Observed, call: KernelFn, skip: u64) -> Phase {
    *PHASES
        .iter()
        .find(|phase| clean.calls_after[phase][&call] > skip)
        .expect("the call happened")
}

/// Of the classify-phase packets, which one the `skip`-th call of `call` belongs to, counting
/// the calls each packet made in the clean run.
fn packet_of(sim_calls_per_packet: &[u64], skip: u64) -> usize {
    let mut seen = 0;
    for (index, calls) in sim_calls_per_packet.iter().enumerate() {
        seen += calls;
        if skip < seen {
            return index;
        }
    }
    panic!("call {skip} belongs to no packet")
}

/// Per packet of the classify phase, how many calls of each kind its classify made (a clean
/// run, delivering one packet at a time).
fn calls_per_packet() -> BTreeMap<KernelFn, Vec<u64>> {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let registry = registry_path();
    let driver = Driver::load(&sim, device(), path(&registry), &DriverConfig::default()).unwrap();
    let mut per = BTreeMap::<KernelFn, Vec<u64>>::new();
    let mut indicated = Vec::new();
    for (layer, packet) in packets() {
        let before = snapshot(&sim);
        indicated.push(sim.deliver(layer, &packet, Delivery::default()).nbl);
        let after = snapshot(&sim);
        for call in ALL_CALLS {
            per.entry(call)
                .or_default()
                .push(after[&call] - before[&call]);
        }
    }
    sim.run_queued_dpcs();
    sim.complete_all(NtStatus::SUCCESS);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    for nbl in indicated {
        sim.return_packet(nbl);
    }
    per
}

/// For the DPC phase: the TCP packets, in queue order, each issues one inject call of its path.
fn dpc_packet_of(call: KernelFn, skip: u64) -> usize {
    let tcp: Vec<usize> = packets()
        .iter()
        .enumerate()
        .filter(|(_, (layer, packet))| {
            packet.protocol == 6
                && (call == KernelFn::FwpsInjectTransportReceiveAsync0) == layer.is_inbound()
        })
        .map(|(index, _)| index)
        .collect();
    tcp[skip as usize]
}

impl Observed {
    fn expect_counters(&self, reinjected: u64, malformed: u64, failed: u64, what: &str) {
        if let Some(c) = self.counters {
            assert_eq!(
                (c.reinjected, c.malformed, c.failed),
                (reinjected, malformed, failed),
                "{what}: counters (reinjected, malformed, failed)"
            );
        }
    }

    fn expect_completions(&self, succeeded: u64, failed: u64, what: &str) {
        if let Some(completions) = self.completions {
            assert_eq!(completions, (succeeded, failed), "{what}: completions");
        }
    }

    fn expect_unload(&self, status: NtStatus, what: &str) {
        if let Some(unload) = self.unload {
            assert_eq!(unload, status, "{what}: unload status");
        }
    }
}

fn check_clean_run(clean: &Observed) {
    assert_eq!(clean.load, Some(Ok(())));
    let n = packets().len();
    assert_eq!(
        clean.verdicts,
        vec![Some((FWP_ACTION_BLOCK, true)); n],
        "every configured packet is absorbed"
    );
    clean.expect_counters(n as u64, 0, 0, "clean run");
    assert_eq!(clean.reclassified_permitted, n, "own packets pass");
    if let Some(c) = clean.counters {
        assert_eq!(c.skipped_own, n as u64);
    }
    clean.expect_completions(n as u64, 0, "clean run");
    clean.expect_unload(NtStatus::SUCCESS, "clean run");
    assert!(!clean.leaked);
}

/// A factory of empty backends, one per run.
pub type MakeBackend = dyn for<'s> Fn(&'s SimulatedStack) -> Box<dyn Backend<'s> + 's>;

/// The sweep: a clean run, then every fallible call failing at every step in turn. Returns the
/// number of failures swept and the calls they covered.
pub fn sweep(make: &MakeBackend) -> (usize, Vec<KernelFn>) {
    let clean_sim = SimulatedStack::new();
    let mut backend = make(&clean_sim);
    let clean = run(&clean_sim, None, &mut *backend);
    drop(backend);
    clean_sim.assert_clean();
    check_clean_run(&clean);
    let per_packet = calls_per_packet();
    let n = packets().len() as u64;
    let totals = &clean.calls_after[&Phase::Unload];
    let mut swept = 0;
    let mut swept_calls = Vec::new();
    for call in ALL_CALLS {
        if CANNOT_FAIL.contains(&call) || totals[&call] == 0 {
            continue;
        }
        swept_calls.push(call);
        for skip in 0..totals[&call] {
            swept += 1;
            let what = format!("{call:?} #{skip}");
            let phase = phase_of(&clean, call, skip);
            let sim = SimulatedStack::new();
            sim.fail_call(call, skip as u32, FAILURE);
            let mut backend = make(&sim);
            let seen = run(&sim, None, &mut *backend);
            match phase {
                Phase::Load => check_load_failure(&sim, &seen, call, skip, &what),
                Phase::Classify | Phase::Dpc => {
                    let packet = if phase == Phase::Dpc {
                        dpc_packet_of(call, skip - clean.calls_after[&Phase::Classify][&call])
                    } else {
                        packet_of(&per_packet[&call], skip)
                    };
                    check_packet_failure(&seen, call, phase, packet, n, &what);
                }
                Phase::Reclassify | Phase::Completion => {
                    panic!("{what}: no fallible call expected in {phase:?}")
                }
                Phase::Unload => {
                    if check_unload_failure(&sim, &seen, call, &what) {
                        // What the kernel refused to release stays: the stack must outlive it.
                        backend.abandon();
                        drop(backend);
                        std::mem::forget(sim);
                        continue;
                    }
                }
            }
            drop(backend);
            if call == KernelFn::ZwClose {
                // The key the kernel refused to close stays open (the driver does not retry a
                // close); it is the only thing left.
                let report =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.assert_clean()))
                        .expect_err("one key left open");
                let report = report.downcast_ref::<String>().unwrap();
                for part in ["0 open handle(s)", "violations []", "packets: none left"] {
                    assert!(report.contains(part), "{what}: {report}");
                }
                assert!(
                    report.contains(" 1 registry key(s) open"),
                    "{what}: {report}"
                );
                assert_eq!(sim.wfp_objects(), WfpObjects::default(), "{what}");
                std::mem::forget(sim);
                continue;
            }
            assert!(
                sim.all_handles().iter().all(|h| h.destroyed),
                "{what}: every injection handle destroyed"
            );
            assert_eq!(sim.live_clones(), 0, "{what}: every clone freed");
            assert_eq!(
                sim.wfp_objects(),
                WfpObjects::default(),
                "{what}: engine empty"
            );
            assert!(sim.pool_outstanding().is_empty(), "{what}: pool");
            assert_eq!(sim.devices(), 0, "{what}: device");
            sim.assert_clean();
        }
    }
    (swept, swept_calls)
}

/// Load-phase failures: configuration reads degrade to "not configured" (or "value unset");
/// ZwClose's status is not used; everything else fails the load with the call's status at the
/// step that made it, leaving nothing behind.
fn check_load_failure(
    sim: &SimulatedStack,
    seen: &Observed,
    call: KernelFn,
    skip: u64,
    what: &str,
) {
    match call {
        KernelFn::ZwOpenKey | KernelFn::ZwQueryValueKey => {
            // The first OpenKey is the service key, the second its Parameters; the first query
            // is InspectRemotePort (the only value configured here): without them nothing is
            // configured, so no filter is added and no packet reaches classify.
            assert_eq!(
                seen.load,
                Some(Ok(())),
                "{what}: a missing value is not an error"
            );
            if call == KernelFn::ZwOpenKey || skip == 0 {
                assert!(
                    seen.verdicts.iter().all(Option::is_none),
                    "{what}: {seen:?}"
                );
                if let Some(c) = seen.counters {
                    assert_eq!(c.classified, 0, "{what}");
                }
            } else {
                assert!(seen.verdicts.iter().all(Option::is_some), "{what}");
            }
            seen.expect_unload(NtStatus::SUCCESS, what);
        }
        KernelFn::ZwClose => {
            assert_eq!(
                seen.load,
                Some(Ok(())),
                "{what}: ZwClose's status is not used"
            );
            let n = packets().len() as u64;
            seen.expect_counters(n, 0, 0, what);
            seen.expect_unload(NtStatus::SUCCESS, what);
        }
        _ => {
            let Some(Err((step, status))) = seen.load else {
                panic!("{what}: load must fail, got {:?}", seen.load)
            };
            // A failed allocation (pool, or the injector's cache-aware rundown block) has no
            // status: the driver reports INSUFFICIENT_RESOURCES.
            let expected_status = if matches!(
                call,
                KernelFn::ExAllocatePool2 | KernelFn::ExAllocateCacheAwareRundownProtection
            ) {
                NtStatus::INSUFFICIENT_RESOURCES
            } else {
                FAILURE
            };
            assert_eq!(
                status, expected_status,
                "{what}: the call's status comes back"
            );
            let expected = match call {
                KernelFn::FwpsInjectionHandleCreate0 | KernelFn::KeDelayExecutionThread => {
                    Some(LoadStep::InjectionHandles)
                }
                KernelFn::FwpmEngineOpen0 => Some(LoadStep::EngineOpen),
                KernelFn::FwpmProviderAdd0 => Some(LoadStep::ProviderAdd),
                KernelFn::FwpmSubLayerAdd0 => Some(LoadStep::SubLayerAdd),
                KernelFn::FwpmTransactionCommit0 if skip == 1 => Some(LoadStep::TransactionCommit),
                KernelFn::FwpmTransactionBegin0 if skip == 1 => Some(LoadStep::TransactionBegin),
                KernelFn::FwpmTransactionBegin0
                | KernelFn::FwpmTransactionCommit0
                | KernelFn::FwpmFilterDeleteByKey0
                | KernelFn::FwpmCalloutDeleteByKey0
                | KernelFn::FwpmSubLayerDeleteByKey0
                | KernelFn::FwpmProviderDeleteByKey0 => Some(LoadStep::StaleObjects),
                _ => None,
            };
            // The image reports only DriverEntry's status.
            if let Some(step) = step {
                if let Some(expected) = expected {
                    assert_eq!(step, expected, "{what}");
                } else {
                    assert!(
                        matches!(
                            (call, step),
                            (KernelFn::FwpsCalloutRegister1, LoadStep::CalloutRegister(_))
                                | (KernelFn::FwpmCalloutAdd0, LoadStep::CalloutAdd(_))
                                | (KernelFn::FwpmFilterAdd0, LoadStep::FilterAdd(_))
                                | (KernelFn::ExAllocatePool2, LoadStep::DriverState)
                                | (
                                    KernelFn::ExAllocateCacheAwareRundownProtection,
                                    LoadStep::DriverState
                                )
                        ),
                        "{what}: step {step:?}"
                    );
                }
            }
            assert!(sim.open_handles().is_empty(), "{what}: handles destroyed");
        }
    }
}

/// A classify- or DPC-phase failure hits one packet: inbound retreat or first-byte read failures
/// permit it as malformed; a refused clone, rundown reference, DPC queueing or inline inject
/// permits it as failed; an inject refused inside the DPC (the packet was already absorbed)
/// completes it as failed. Every other packet is reinjected and completes successfully.
fn check_packet_failure(
    seen: &Observed,
    call: KernelFn,
    phase: Phase,
    packet: usize,
    n: u64,
    what: &str,
) {
    assert_eq!(seen.load, Some(Ok(())), "{what}");
    let mut verdicts = vec![Some((FWP_ACTION_BLOCK, true)); n as usize];
    if phase == Phase::Classify {
        verdicts[packet] = Some((FWP_ACTION_PERMIT, false));
    }
    assert_eq!(
        seen.verdicts, verdicts,
        "{what}: packet {packet} permitted, others absorbed"
    );
    match (phase, call) {
        (
            Phase::Classify,
            KernelFn::NdisRetreatNetBufferDataStart | KernelFn::NdisGetDataBuffer,
        ) => {
            seen.expect_counters(n - 1, 1, 0, what);
            seen.expect_completions(n - 1, 0, what);
        }
        (Phase::Classify, _) => {
            seen.expect_counters(n - 1, 0, 1, what);
            seen.expect_completions(n - 1, 0, what);
        }
        (Phase::Dpc, _) => {
            seen.expect_counters(n, 0, 0, what);
            seen.expect_completions(n - 1, 1, what);
        }
        _ => unreachable!(),
    }
    // Own packets: every reinjection that reached the kernel, permitted untouched.
    assert_eq!(
        seen.reclassified_permitted as u64,
        n - 1,
        "{what}: own packets pass"
    );
    seen.expect_unload(NtStatus::SUCCESS, what);
    assert!(!seen.leaked, "{what}");
}

/// Unload-phase failures: unload still removes everything it can and returns the first
/// failure's status. What the kernel refused to release stays (a session not closed, a handle
/// not destroyed), and a callout that could not be unregistered makes the driver keep its state
/// (and its handles) on purpose, because WFP may still call it. Returns true when something is
/// left behind as documented (the caller keeps the stack alive).
fn check_unload_failure(sim: &SimulatedStack, seen: &Observed, call: KernelFn, what: &str) -> bool {
    assert_eq!(seen.load, Some(Ok(())), "{what}");
    seen.expect_completions(packets().len() as u64, 0, what);
    seen.expect_unload(FAILURE, what);
    assert!(
        sim.violations().is_empty(),
        "{what}: {:?}",
        sim.violations()
    );
    assert_eq!(sim.live_clones(), 0, "{what}");
    match call {
        KernelFn::FwpsCalloutUnregisterById0 => {
            // Unregistration failed at step 3 of unload, so the state is kept even though step
            // 5 (remove_and_close) asks again and that second attempt succeeds.
            assert!(seen.leaked, "{what}: the state is kept");
            assert_eq!(
                sim.open_handles().len(),
                2,
                "{what}: the state keeps its handles"
            );
            assert!(
                sim.debug_log()
                    .iter()
                    .any(|(_, _, line)| line.contains("leaked")),
                "{what}: the leak is logged"
            );
            true
        }
        KernelFn::FwpsInjectionHandleDestroy0 => {
            // Both destroys are attempted; the refused handle is the only thing left.
            assert_eq!(
                sim.calls(KernelFn::FwpsInjectionHandleDestroy0),
                2,
                "{what}"
            );
            assert_eq!(sim.open_handles().len(), 1, "{what}");
            assert_eq!(sim.wfp_objects(), WfpObjects::default(), "{what}");
            true
        }
        KernelFn::FwpmEngineClose0 => {
            // The session the kernel refused to close is all that is left: its objects were
            // deleted before, and the handles are destroyed after.
            assert_eq!(
                sim.wfp_objects(),
                WfpObjects {
                    sessions: 1,
                    ..WfpObjects::default()
                },
                "{what}"
            );
            assert!(sim.open_handles().is_empty(), "{what}");
            true
        }
        _ => {
            assert!(!seen.leaked, "{what}");
            false
        }
    }
}

/// Each completion in turn reports a failed injection: counted as failed, its clone freed.
pub fn completion_sweep(make: &MakeBackend) {
    let n = packets().len();
    for failing in 0..n {
        let what = format!("completion #{failing}");
        let sim = SimulatedStack::new();
        let mut backend = make(&sim);
        let seen = run(&sim, Some(failing), &mut *backend);
        drop(backend);
        seen.expect_counters(n as u64, 0, 0, &what);
        seen.expect_completions(n as u64 - 1, 1, &what);
        seen.expect_unload(NtStatus::SUCCESS, &what);
        assert_eq!(
            sim.live_clones(),
            0,
            "{what}: the failed clone is freed too"
        );
        sim.assert_clean();
    }
}
