//! The shipped image's lifecycle against what real WFP does: busy callouts, callouts that never
//! unregister, classifies on other threads during DriverUnload, filter contexts of an earlier
//! instance, failed deletes, reload. The host-compiled versions are in tests/unload_reload.rs.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use support::harness::Harness;
use wfp_injector::nt::NtStatus;
use wfp_sim::traffic::{Delivery, Layer, TransportPacket};
use wfp_sim::{KernelFn, RegistryValue, SimulatedStack, WfpObjects};

const PORT: u16 = 53;
/// FWP_ACTION_BLOCK / FWP_ACTION_PERMIT (fwptypes.h; rows of facts/kernel-facts.md).
const BLOCK: u32 = 0x1001;
const PERMIT: u32 = 0x1002;
/// The image's pool tag, 'WfpI'.
const POOL_TAG: u32 = u32::from_le_bytes(*b"WfpI");

fn udp(layer: Layer, port: u16) -> TransportPacket {
    let (local, remote) = if layer.is_v6() {
        (
            IpAddr::V6("2001:db8::1".parse().unwrap()),
            IpAddr::V6("2001:db8::2".parse().unwrap()),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 1, 1, 2)),
        )
    };
    TransportPacket::udp(local, 999, remote, port)
}

fn configured() -> SimulatedStack {
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
    sim
}

fn deliver_and_return(sim: &SimulatedStack, layer: Layer, how: Delivery) -> u32 {
    let delivered = sim.deliver(layer, &udp(layer, PORT), how);
    let action = delivered.result.map_or(0, |r| r.action);
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(delivered.nbl);
    action
}

#[test]
fn the_image_asks_again_while_a_callout_is_busy() {
    let sim = configured();
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    sim.busy_unregisters(5);
    harness.driver_unload();
    assert_eq!(sim.calls(KernelFn::FwpsCalloutUnregisterById0), 8 + 5);
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert!(sim.pool_outstanding().is_empty(), "the state was freed");
    drop(harness);
    sim.assert_clean();
}

#[test]
fn the_image_leaks_its_state_when_a_callout_never_unregisters() {
    let sim = configured();
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    sim.busy_unregisters(u32::MAX);
    harness.driver_unload();
    assert_eq!(sim.wfp_objects().registered_callouts, 8);
    assert!(
        sim.pool_outstanding().contains_key(&POOL_TAG),
        "the state is still allocated: {:?}",
        sim.pool_outstanding()
    );
    assert_eq!(sim.open_handles().len(), 2, "its injection handles too");
    assert_eq!(
        sim.object_references((&raw const *harness.driver).cast()),
        2,
        "the shell pinned its driver object, so the I/O manager keeps the image mapped"
    );
    assert!(
        sim.debug_log()
            .iter()
            .any(|(_, _, line)| line.contains("leaked")),
        "and logged why"
    );
    assert!(
        sim.debug_log()
            .iter()
            .any(|(_, _, line)| line.contains("leaked")),
        "the leak is logged"
    );
    // WFP may still call the registered classify: the image stays mapped and the stack alive.
    harness.abandon();
    std::mem::forget(sim);
}

#[test]
fn classifies_on_other_threads_during_driver_unload_in_the_image() {
    const ROUNDS: u64 = 20;
    let busy_rounds = AtomicU64::new(0);
    let guarded_rounds = AtomicU64::new(0);
    for round in 0..ROUNDS {
        let sim = configured();
        sim.slow_classify(Duration::from_micros(100));
        sim.slow_clone(Duration::from_micros(200));
        // As in the host test: half the rounds without WFP's busy answer, so only the image's
        // instance guard keeps its state alive (the sim's pool poisons what is freed).
        let busy_mode = round % 2 == 0;
        sim.busy_while_classifying(busy_mode);
        let Some(mut harness) = Harness::loaded(&sim) else {
            return;
        };
        let done = AtomicBool::new(false);
        let call = harness.unload_call();
        let sleeps_before = sim.sleeps().len();
        std::thread::scope(|scope| {
            for worker in 0..2u64 {
                let (sim, done) = (&sim, &done);
                scope.spawn(move || {
                    let mut indicated = Vec::new();
                    let mut turn = round + worker;
                    while !done.load(Ordering::SeqCst) {
                        turn += 1;
                        let layer = Layer::ALL[(turn % 4) as usize];
                        let delivered = sim.deliver(layer, &udp(layer, PORT), Delivery::default());
                        indicated.push(delivered.nbl);
                        sim.complete_all(NtStatus::SUCCESS);
                    }
                    sim.complete_all(NtStatus::SUCCESS);
                    for nbl in indicated {
                        sim.return_packet(nbl);
                    }
                });
            }
            std::thread::sleep(Duration::from_micros(50 + (round * 53) % 400));
            call.run();
            done.store(true, Ordering::SeqCst);
        });
        if sim.calls(KernelFn::FwpsCalloutUnregisterById0) > 4 {
            busy_rounds.fetch_add(1, Ordering::Relaxed);
        }
        if !busy_mode && sim.sleeps().len() > sleeps_before {
            guarded_rounds.fetch_add(1, Ordering::Relaxed);
        }
        assert_eq!(sim.wfp_objects(), WfpObjects::default(), "round {round}");
        assert!(sim.pool_outstanding().is_empty(), "round {round}");
        drop(harness);
        sim.assert_clean();
    }
    assert!(
        busy_rounds.load(Ordering::Relaxed) > 0,
        "no unregistration ever met a classify in progress"
    );
    assert!(
        guarded_rounds.load(Ordering::Relaxed) > 0,
        "no unload ever waited for a classify inside the image's instance"
    );
}

#[test]
fn the_reloaded_image_never_trusts_the_previous_instances_filter_context() {
    let sim = configured();
    let stale = {
        let Some(mut first) = Harness::new(&sim) else {
            return;
        };
        assert_eq!(first.driver_entry(), NtStatus::SUCCESS);
        let stale = sim.filter_contexts(Layer::InboundV4.key())[0];
        first.driver_unload();
        stale
    };
    // A fresh mapping, as Windows loads the image again: its instance table starts afresh, and
    // the generation seed (the interrupt time) keeps the old context from naming the new one.
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    let current = sim.filter_contexts(Layer::InboundV4.key())[0];
    assert_ne!(stale, current);
    let how = Delivery {
        context: Some(stale),
        ..Delivery::default()
    };
    assert_eq!(deliver_and_return(&sim, Layer::InboundV4, how), PERMIT);
    assert_eq!(sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0), 0);
    assert_eq!(
        deliver_and_return(&sim, Layer::InboundV4, Delivery::default()),
        BLOCK
    );
    harness.driver_unload();
    assert!(sim.pool_outstanding().is_empty());
    drop(harness);
    sim.assert_clean();
}

#[test]
fn the_image_unloads_cleanly_when_filter_deletes_fail_and_loads_again() {
    let sim = configured();
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    for skip in 0..4 {
        sim.fail_call(
            KernelFn::FwpmFilterDeleteByKey0,
            skip,
            NtStatus::INSUFFICIENT_RESOURCES,
        );
    }
    harness.driver_unload();
    assert_eq!(
        sim.wfp_objects(),
        WfpObjects::default(),
        "the dynamic session removed what the deletes could not"
    );
    assert_eq!(harness.driver_entry(), NtStatus::SUCCESS);
    for layer in Layer::ALL {
        assert_eq!(
            deliver_and_return(&sim, layer, Delivery::default()),
            BLOCK,
            "{layer:?}"
        );
    }
    harness.driver_unload();
    assert!(sim.pool_outstanding().is_empty());
    drop(harness);
    sim.assert_clean();
}
