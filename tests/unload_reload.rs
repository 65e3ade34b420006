//! Load, unload and reload against what real WFP does: classifies running on other threads while
//! unload proceeds, callouts that stay busy, filters that outlive an instance, filter contexts
//! from another instance, dynamic sessions and filter conditions.

#[path = "support/heap.rs"]
mod heap;

#[path = "support/host_driver.rs"]
mod host_driver;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use host_driver::{PORT, configure_port, counters_layer, load, udp};
use wfp_injector::driver::TransportLayer;
use wfp_injector::driver::objects::{UNREGISTER_PATIENCE, UNREGISTER_POLL};
use wfp_injector::nt::NtStatus;
use wfp_sim::layout::classify_out;
use wfp_sim::traffic::{Delivery, Layer};
use wfp_sim::{
    ConditionValue, FilterCondition, KernelFn, RegistryValue, SimulatedStack, WfpObjects,
};

/// FWP_ACTION_BLOCK / FWP_ACTION_PERMIT (fwptypes.h; rows of facts/kernel-facts.md).
const BLOCK: u32 = 0x1001;
const PERMIT: u32 = 0x1002;

fn deliver_and_return(sim: &SimulatedStack, layer: Layer, port: u16, how: Delivery) -> u32 {
    let delivered = sim.deliver(layer, &udp(layer, port), how);
    let action = delivered.result.map_or(0, |r| r.action);
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(delivered.nbl);
    action
}

#[test]
fn unload_asks_again_while_a_callout_is_busy_and_then_succeeds() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let slept_before = sim.sleeps().len();
    sim.busy_unregisters(3);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    assert_eq!(
        sim.calls(KernelFn::FwpsCalloutUnregisterById0),
        8 + 3,
        "each busy answer is followed by another attempt"
    );
    let waits = &sim.sleeps()[slept_before..];
    assert_eq!(
        waits, [UNREGISTER_POLL; 3],
        "one poll interval per busy answer"
    );
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert!(sim.open_handles().is_empty(), "the handles are destroyed");
    sim.assert_clean();
}

#[test]
fn a_callout_that_never_unregisters_leaks_the_state_instead_of_freeing_it() {
    // No heap check: this test leaks the driver state (and the stack) on purpose.
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let start = sim.virtual_time();
    sim.busy_unregisters(u32::MAX);
    let unloaded = driver.unload_for_shell();
    assert_eq!(unloaded.status, NtStatus::DEVICE_BUSY);
    assert!(unloaded.image_in_use, "the shell is told to keep the image");
    let waited = sim.virtual_time() - start;
    assert!(
        waited >= UNREGISTER_PATIENCE && waited < UNREGISTER_PATIENCE * 2,
        "unload waited its patience once before giving up: {waited:?}"
    );
    let objects = sim.wfp_objects();
    assert_eq!(objects.registered_callouts, 8, "WFP may still call them");
    assert_eq!(objects.filters, 0);
    assert_eq!(objects.sessions, 0, "the session is closed");
    assert_eq!(
        sim.open_handles().len(),
        2,
        "the injection handles belong to the leaked state: not destroyed"
    );
    let log = sim.debug_log();
    assert!(
        log.iter().any(|(_, _, line)| line.contains("leaked")),
        "the leak is logged: {log:?}"
    );
    // Until reboot the callouts stay registered: the next load fails where it registers them,
    // having changed nothing.
    let error = host_driver::try_load(&sim).unwrap_err();
    assert_eq!(
        error.step,
        wfp_injector::driver::LoadStep::CalloutRegister(TransportLayer::OutboundV4.into())
    );
    assert_eq!(
        error.status,
        NtStatus(0xC022_0009_u32 as i32),
        "STATUS_FWP_ALREADY_EXISTS"
    );
    assert!(
        !error.image_in_use,
        "the failed load unregistered nothing of the old instance"
    );
    // The stack keeps the leaked state's handles and registrations; it must outlive them.
    std::mem::forget(sim);
}

#[test]
fn classifies_on_other_threads_during_unload_never_reach_freed_state() {
    let _heap = heap::check();
    const ROUNDS: u64 = 60;
    let busy_rounds = AtomicU64::new(0);
    let guarded_rounds = AtomicU64::new(0);
    let late_classifies = AtomicU64::new(0);
    for round in 0..ROUNDS {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        sim.slow_classify(Duration::from_micros(100));
        sim.slow_clone(Duration::from_micros(200));
        // Half the rounds: WFP answers busy while a classify runs. The other half: unregister
        // succeeds with the classify still running (the documentation allows it), so only the
        // driver's own instance guard keeps the state alive.
        let busy_mode = round % 2 == 0;
        sim.busy_while_classifying(busy_mode);
        // Every third round, WFP completes some injections inside the inject call.
        if round % 3 == 1 {
            sim.set_sync_completions(wfp_sim::SyncCompletions::Random(round));
        }
        let driver = load(&sim);
        let sleeps_before = sim.sleeps().len();
        let unloading = AtomicBool::new(false);
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for worker in 0..2u64 {
                let (sim, done, unloading, late) = (&sim, &done, &unloading, &late_classifies);
                scope.spawn(move || {
                    let mut seed = round * 7 + worker + 1;
                    let mut indicated = Vec::new();
                    while !done.load(Ordering::SeqCst) {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let layer = Layer::ALL[(seed % 4) as usize];
                        let port = if seed & 8 == 0 { PORT } else { 80 };
                        let delivered = sim.deliver(layer, &udp(layer, port), Delivery::default());
                        // Classified, and unload had begun by the time classify returned.
                        if delivered.result.is_some() && unloading.load(Ordering::SeqCst) {
                            late.fetch_add(1, Ordering::Relaxed);
                        }
                        indicated.push(delivered.nbl);
                        // Complete what is pending so that unload's drain can finish.
                        sim.complete_all(NtStatus::SUCCESS);
                    }
                    sim.complete_all(NtStatus::SUCCESS);
                    for nbl in indicated {
                        sim.return_packet(nbl);
                    }
                });
            }
            // Stops the workers however this thread leaves the scope (a failed assertion too).
            struct StopOnExit<'a>(&'a AtomicBool);
            impl Drop for StopOnExit<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let _stop = StopOnExit(&done);
            std::thread::sleep(Duration::from_micros(50 + (round * 37) % 400));
            unloading.store(true, Ordering::SeqCst);
            assert_eq!(driver.unload(), NtStatus::SUCCESS, "round {round}");
        });
        if sim.calls(KernelFn::FwpsCalloutUnregisterById0) > 4 {
            busy_rounds.fetch_add(1, Ordering::Relaxed);
        }
        if !busy_mode && sim.sleeps().len() > sleeps_before {
            // Unregistration never waited in this mode: unload waited for a classify to leave
            // the instance.
            guarded_rounds.fetch_add(1, Ordering::Relaxed);
        }
        assert_eq!(sim.wfp_objects(), WfpObjects::default(), "round {round}");
        sim.assert_clean();
    }
    // The oracle has teeth only if classifies really overlapped unload: some unregistrations
    // found a classify holding the callout, and some classifies ran after unload began.
    assert!(
        busy_rounds.load(Ordering::Relaxed) > 0,
        "no round had a classify in progress during unregistration"
    );
    assert!(
        guarded_rounds.load(Ordering::Relaxed) > 0,
        "no round had a classify still inside the instance after its callout unregistered"
    );
    assert!(late_classifies.load(Ordering::Relaxed) > 0);
}

#[test]
fn a_filter_context_of_an_earlier_instance_is_never_trusted() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let first = load(&sim);
    let stale = sim.filter_contexts(Layer::OutboundV4.key());
    assert_eq!(stale.len(), 1);
    assert_eq!(first.unload(), NtStatus::SUCCESS);
    let second = load(&sim);
    let current = sim.filter_contexts(Layer::OutboundV4.key());
    assert_ne!(stale, current, "each instance gets its own context");
    for context in [
        stale[0],
        0,
        u64::MAX,
        current[0] ^ (1 << 40),
        current[0] + 1,
    ] {
        let how = Delivery {
            context: Some(context),
            ..Delivery::default()
        };
        assert_eq!(
            deliver_and_return(&sim, Layer::OutboundV4, PORT, how),
            PERMIT,
            "context {context:#x}"
        );
        // Without the write right the decision is a higher filter's: classify leaves it (a
        // callout's absorbing block here, which a permit must not overturn), and the simulator
        // records any other write as a violation.
        let no_right = Delivery {
            context: Some(context),
            may_write: false,
            decided_above: Some(BLOCK),
            ..Delivery::default()
        };
        assert_eq!(
            deliver_and_return(&sim, Layer::OutboundV4, PORT, no_right),
            BLOCK,
            "context {context:#x} without the write right"
        );
        assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    }
    assert_eq!(
        second.counters(TransportLayer::OutboundV4).classified,
        0,
        "a foreign context never enters the live instance"
    );
    assert_eq!(sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0), 0);
    // The live instance's own context works.
    assert_eq!(
        deliver_and_return(&sim, Layer::OutboundV4, PORT, Delivery::default()),
        BLOCK
    );
    assert_eq!(second.counters(TransportLayer::OutboundV4).reinjected, 1);
    assert_eq!(second.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn failed_filter_deletes_at_unload_leave_nothing_behind_and_reload_works() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let first = load(&sim);
    for skip in 0..4 {
        sim.fail_call(
            KernelFn::FwpmFilterDeleteByKey0,
            skip,
            NtStatus::INSUFFICIENT_RESOURCES,
        );
    }
    assert_eq!(first.unload(), NtStatus::INSUFFICIENT_RESOURCES);
    assert_eq!(
        sim.wfp_objects(),
        WfpObjects::default(),
        "the dynamic session took the undeletable filters with it"
    );
    let second = load(&sim);
    for layer in Layer::ALL {
        assert_eq!(
            deliver_and_return(&sim, layer, PORT, Delivery::default()),
            BLOCK,
            "{layer:?}"
        );
        assert_eq!(second.counters(counters_layer(layer)).reinjected, 1);
    }
    assert_eq!(second.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

/// A loaded instance vanishes without unloading (a crash): BFE keeps its objects, forgets its
/// session and registrations; its injection handles went with it. The instance is leaked on
/// purpose: not counted by the heap check.
fn crash_after_load(sim: &SimulatedStack) {
    std::mem::forget(heap::uncounted(|| load(sim)));
    sim.forget_driver_state();
    for handle in sim.open_handles() {
        // SAFETY: the handles belong to the vanished instance and are destroyed once here.
        unsafe {
            wfp_injector::sys::KernelApi::fwps_injection_handle_destroy0(
                &sim,
                handle.raw as *mut _,
            );
        }
    }
}

#[test]
fn filters_left_by_a_crashed_instance_permit_traffic_until_the_next_load_removes_them() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    crash_after_load(&sim);
    assert_eq!(
        sim.wfp_objects().filters,
        4,
        "the filters outlived the instance"
    );
    for layer in Layer::ALL {
        assert_eq!(
            deliver_and_return(&sim, layer, PORT, Delivery::default()),
            PERMIT,
            "{layer:?}: a filter whose callout is gone permits"
        );
    }
    let reloaded = load(&sim);
    assert_eq!(
        sim.wfp_objects().filters,
        4,
        "the stale filters were replaced"
    );
    assert_eq!(
        deliver_and_return(&sim, Layer::InboundV4, PORT, Delivery::default()),
        BLOCK
    );
    assert_eq!(reloaded.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn a_stale_filter_that_cannot_be_deleted_stops_the_load_before_any_callout_is_registered() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    crash_after_load(&sim);
    sim.fail_call(
        KernelFn::FwpmFilterDeleteByKey0,
        1,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let error = host_driver::try_load(&sim).unwrap_err();
    assert_eq!(error.step, wfp_injector::driver::LoadStep::StaleObjects);
    assert_eq!(error.status, NtStatus::INSUFFICIENT_RESOURCES);
    let objects = sim.wfp_objects();
    assert_eq!(
        objects.registered_callouts, 0,
        "no stale filter came back to life"
    );
    assert_eq!(
        objects.filters, 4,
        "the aborted transaction deleted nothing"
    );
    assert_eq!(
        deliver_and_return(&sim, Layer::OutboundV6, PORT, Delivery::default()),
        PERMIT
    );
    // A later load, once the delete works, cleans up.
    let reloaded = load(&sim);
    assert_eq!(reloaded.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

fn conditions_of(sim: &SimulatedStack, layer: TransportLayer) -> (Vec<FilterCondition>, u32) {
    sim.filter_conditions(layer.filter_key())
        .expect("a filter at the layer")
}

/// FWPM_CONDITION_IP_PROTOCOL, _IP_REMOTE_ADDRESS, _IP_REMOTE_PORT (fwpmu.h; facts table rows).
fn condition_keys() -> [wfp_injector::sys::types::GUID; 3] {
    use wfp_injector::sys::types::GUID;
    [
        GUID::from_u128(0x3971ef2b_623e_4f9a_8cb1_6e79b806b9a7),
        GUID::from_u128(0xb235ae9a_1d64_49b8_a44c_5ff3d9095045),
        GUID::from_u128(0xc35a604d_d22b_4e1a_91b4_68f674ee674b),
    ]
}

#[test]
fn filters_carry_the_configuration_as_conditions_and_permit_without_their_callout() {
    let _heap = heap::check();
    let [protocol, address, port] = condition_keys();
    // Port only: the port, and "TCP or UDP" (for ICMP the port fields are type and code).
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    for layer in TransportLayer::ALL {
        let (conditions, flags) = conditions_of(&sim, layer);
        assert_eq!(
            conditions,
            [
                FilterCondition {
                    field: port,
                    value: ConditionValue::U16(PORT)
                },
                FilterCondition {
                    field: protocol,
                    value: ConditionValue::U8(6)
                },
                FilterCondition {
                    field: protocol,
                    value: ConditionValue::U8(17)
                },
            ],
            "{layer:?}"
        );
        assert_ne!(
            flags & 0x10,
            0,
            "FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED"
        );
    }
    // A TCP packet to the port is inspected; ICMP with code == port never reaches classify.
    let mut icmp = udp(Layer::OutboundV4, PORT);
    icmp.protocol = 1;
    let delivered = sim.deliver(Layer::OutboundV4, &icmp, Delivery::default());
    assert!(delivered.result.is_none(), "ICMP is not selected by a port");
    sim.return_packet(delivered.nbl);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();

    // IPv4 peer and protocol: host-order address; IPv6 filters are not added.
    let sim = SimulatedStack::new();
    sim.set_parameter(
        "InspectRemoteAddressV4",
        RegistryValue::Binary(vec![192, 0, 2, 10]),
    );
    sim.set_parameter("InspectProtocol", RegistryValue::Dword(17));
    let driver = load(&sim);
    let (conditions, _) = conditions_of(&sim, TransportLayer::InboundV4);
    assert_eq!(
        conditions,
        [
            FilterCondition {
                field: address,
                value: ConditionValue::U32(0xC000_020A)
            },
            FilterCondition {
                field: protocol,
                value: ConditionValue::U8(17)
            },
        ]
    );
    let (v6_conditions, _) = conditions_of(&sim, TransportLayer::OutboundV6);
    assert_eq!(
        v6_conditions,
        [FilterCondition {
            field: protocol,
            value: ConditionValue::U8(17)
        }],
        "the protocol criterion applies to both families"
    );
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();

    // IPv6 peer only: the IPv4 layers get no filter.
    let sim = SimulatedStack::new();
    let peer = host_driver::PEER_V6.octets();
    sim.set_parameter(
        "InspectRemoteAddressV6",
        RegistryValue::Binary(peer.to_vec()),
    );
    let driver = load(&sim);
    assert!(
        sim.filter_conditions(TransportLayer::OutboundV4.filter_key())
            .is_none()
    );
    let (conditions, _) = conditions_of(&sim, TransportLayer::InboundV6);
    assert_eq!(
        conditions,
        [FilterCondition {
            field: address,
            value: ConditionValue::Bytes16(peer)
        }]
    );
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn a_reinjection_that_completes_with_a_failure_is_counted_as_failed() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let delivered = sim.deliver(
        Layer::InboundV4,
        &udp(Layer::InboundV4, PORT),
        Delivery::default(),
    );
    assert_eq!(delivered.result.unwrap().action, BLOCK);
    assert_ne!(
        delivered.result.unwrap().flags & classify_out::FLAG_ABSORB,
        0
    );
    let pending = sim.pending_injections();
    assert_eq!(pending.len(), 1);
    sim.complete_injection(pending[0].id, NtStatus::FWP_CANNOT_PEND, true);
    assert_eq!(
        driver.completions(),
        (0, 1),
        "the NBL's Status is read at its offset"
    );
    sim.return_packet(delivered.nbl);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn without_a_compartment_in_the_metadata_the_injection_names_the_unspecified_one() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    for layer in Layer::ALL {
        let mut packet = udp(layer, PORT);
        packet.compartment = 5;
        let delivered = sim.deliver(layer, &packet, Delivery::default());
        let with = sim
            .pending_injections()
            .last()
            .expect("reinjected")
            .compartment;
        assert_eq!(
            with, 5,
            "{layer:?}: the metadata's compartment is passed on"
        );
        sim.complete_all(NtStatus::SUCCESS);
        sim.return_packet(delivered.nbl);
        let delivered = sim.deliver(
            layer,
            &packet,
            Delivery {
                // FWPS_METADATA_FIELD_COMPARTMENT_ID (facts table).
                withhold_metadata: 0x800,
                ..Delivery::default()
            },
        );
        let without = sim
            .pending_injections()
            .last()
            .expect("reinjected")
            .compartment;
        assert_eq!(without, 0, "{layer:?}: UNSPECIFIED_COMPARTMENT_ID");
        sim.complete_all(NtStatus::SUCCESS);
        sim.return_packet(delivered.nbl);
    }
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn a_refused_reinjection_gives_back_the_original_with_its_checksum_as_it_came() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let layer = Layer::InboundV4;
    let mut packet = udp(layer, PORT);
    // Receive checksum offload: the header's checksum field was left stale; the driver fixes it
    // in place for the clone it reinjects.
    packet.checksum_offloaded = true;
    sim.fail_call(
        KernelFn::FwpsInjectTransportReceiveAsync0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let delivered = sim.deliver(layer, &packet, Delivery::default());
    assert_eq!(
        delivered.result.unwrap().action,
        PERMIT,
        "permitted after the refusal"
    );
    let bytes = sim.packet_data(delivered.nbl).unwrap();
    let stale = packet.bytes(true).0;
    assert_eq!(
        bytes[bytes.len() - stale.len()..],
        stale[..],
        "the permitted original carries the bytes it came with, stale checksum included"
    );
    assert_eq!(driver.counters(counters_layer(layer)).failed, 1);
    sim.return_packet(delivered.nbl);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

/// A load that fails after its callouts are registered unloads what it made; when a callout then
/// never unregisters, the failure must tell the shell to keep the image (WFP may still call into
/// it), just as an unload does.
#[test]
fn a_failed_load_whose_callouts_never_unregister_keeps_the_image() {
    // No heap check: the state is leaked on purpose.
    let sim = SimulatedStack::new();
    configure_port(&sim);
    sim.fail_call(
        KernelFn::FwpmFilterAdd0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    sim.busy_unregisters(u32::MAX);
    let error = host_driver::try_load(&sim).unwrap_err();
    assert_eq!(
        error.step,
        wfp_injector::driver::LoadStep::FilterAdd(TransportLayer::OutboundV4.into())
    );
    assert!(
        error.image_in_use,
        "the callouts are still registered: the image must stay mapped"
    );
    assert_eq!(sim.wfp_objects().registered_callouts, 8);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    std::mem::forget(sim);
}

/// When the failed load's own cleanup leaves nothing registered but its teardown cannot finish
/// (here BFE refuses the unsubscribe, so a notification could still arrive), the failure must
/// still tell the shell to keep the image: the load error and the teardown's answer are merged.
#[test]
fn a_failed_load_whose_teardown_cannot_finish_keeps_the_image() {
    // No heap check: the loader is leaked on purpose.
    let sim = SimulatedStack::new();
    configure_port(&sim);
    // Adding the first filter fails after DriverEntry subscribed to BFE's state: the load's own
    // cleanup unregisters the callouts (nothing stuck there), the teardown then cannot unsubscribe.
    sim.fail_call(
        KernelFn::FwpmFilterAdd0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    sim.fail_call(
        KernelFn::FwpmBfeStateUnsubscribeChanges0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let error = host_driver::try_load(&sim).unwrap_err();
    assert_eq!(
        error.step,
        wfp_injector::driver::LoadStep::FilterAdd(TransportLayer::OutboundV4.into())
    );
    assert_eq!(
        sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0),
        1,
        "the teardown tried"
    );
    assert_eq!(
        sim.wfp_objects().registered_callouts,
        0,
        "the callouts were unregistered"
    );
    assert!(
        error.image_in_use,
        "the BFE subscription is still in place: the image must stay mapped"
    );
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    std::mem::forget(sim);
}
