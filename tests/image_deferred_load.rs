//! Deferred load, run on the shipped image: its DriverEntry returns after one attempt without
//! sleeping, its work item (run by the test as a system worker thread) retries on the virtual
//! clock with the default policy, its BFE callback triggers the WFP objects, every order of
//! TCP/IP and BFE ends loaded, the 10 s deadline ends inert and logged, and DriverUnload is clean
//! from every step.

mod support;

use support::waiting::{SetOnDrop, wait_for};

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use support::harness::{Harness, UnloadCall};
use wfp_injector::nt::NtStatus;
use wfp_sim::{KernelFn, RegistryValue, SimulatedStack, WfpObjects, bfe_state};

fn logged(sim: &SimulatedStack, needle: &str) -> bool {
    sim.debug_log()
        .iter()
        .any(|(_, _, line)| line.contains(needle))
}

fn entry(sim: &SimulatedStack, harness: &mut Harness<'_>) {
    assert_eq!(harness.driver_entry(), NtStatus::SUCCESS);
    assert!(
        sim.sleeps_on(thread::current().id()).is_empty(),
        "DriverEntry never sleeps"
    );
}

fn assert_no_callout(sim: &SimulatedStack) {
    let objects = sim.wfp_objects();
    assert_eq!(objects.registered_callouts, 0, "classify cannot be reached");
    assert_eq!(objects.filters, 0);
}

fn assert_loaded(sim: &SimulatedStack) {
    let objects = sim.wfp_objects();
    assert_eq!(objects.registered_callouts, 8);
    assert_eq!(objects.filters, 4);
    assert_eq!(sim.open_handles().len(), 2);
    assert!(logged(sim, "wfp_injector: loaded"));
}

fn assert_unloaded_clean(sim: &SimulatedStack) {
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert_eq!(sim.bfe_subscriptions(), 0);
    assert_eq!(sim.live_work_items(), 0);
    assert_eq!(sim.devices(), 0);
    assert!(
        sim.pool_outstanding().is_empty(),
        "{:?}",
        sim.pool_outstanding()
    );
    sim.assert_clean();
}

#[derive(Debug, Clone, Copy)]
enum Order {
    TcpipAtEntryBfeLater,
    BfeAtEntryTcpipLater,
    TcpipThenBfe,
    BfeThenTcpip,
}

#[test]
fn every_order_of_tcpip_ready_and_bfe_running_loads_the_image() {
    for order in [
        Order::TcpipAtEntryBfeLater,
        Order::BfeAtEntryTcpipLater,
        Order::TcpipThenBfe,
        Order::BfeThenTcpip,
    ] {
        let sim = SimulatedStack::new();
        sim.set_parameter("InspectRemotePort", RegistryValue::Dword(53));
        let Some(mut harness) = Harness::new(&sim) else {
            return;
        };
        if !matches!(order, Order::TcpipAtEntryBfeLater) {
            sim.set_tcpip_ready_at(Duration::MAX);
        }
        if !matches!(order, Order::BfeAtEntryTcpipLater) {
            sim.set_bfe_state(bfe_state::STOPPED);
        }
        entry(&sim, &mut harness);
        assert_no_callout(&sim);
        let ready_tcpip = |sim: &SimulatedStack| {
            for _ in 0..3 {
                assert!(sim.run_one_work_item(), "{order:?}: the retry is queued");
            }
            assert!(sim.open_handles().is_empty());
            sim.set_tcpip_ready_at(sim.virtual_time());
            sim.run_work_items();
        };
        match order {
            Order::TcpipAtEntryBfeLater => {
                assert_eq!(sim.queued_work_items(), 0);
                assert_eq!(sim.open_handles().len(), 2);
                assert!(logged(&sim, "waiting for BFE"));
                sim.set_bfe_state(bfe_state::START_PENDING);
                sim.set_bfe_state(bfe_state::RUNNING);
                sim.run_work_items();
            }
            Order::BfeAtEntryTcpipLater => ready_tcpip(&sim),
            Order::TcpipThenBfe => {
                ready_tcpip(&sim);
                assert_no_callout(&sim);
                assert_eq!(sim.open_handles().len(), 2);
                sim.set_bfe_state(bfe_state::RUNNING);
                sim.run_work_items();
            }
            Order::BfeThenTcpip => {
                assert!(sim.run_one_work_item());
                sim.set_bfe_state(bfe_state::RUNNING);
                ready_tcpip(&sim);
            }
        }
        assert_loaded(&sim);
        harness.driver_unload();
        assert_unloaded_clean(&sim);
    }
}

#[test]
fn the_image_gives_up_after_the_default_deadline_stays_inert_and_unloads_clean() {
    let sim = SimulatedStack::new();
    let Some(mut harness) = Harness::new(&sim) else {
        return;
    };
    sim.set_tcpip_ready_at(Duration::MAX);
    entry(&sim, &mut harness);
    assert!(logged(&sim, "waiting for TCP/IP"));
    sim.run_work_items();
    assert_eq!(sim.virtual_time(), Duration::from_secs(10));
    assert!(logged(&sim, "gave up waiting for TCP/IP after 10000 ms"));
    assert!(logged(&sim, "inert"));
    assert_no_callout(&sim);
    assert!(sim.open_handles().is_empty());
    sim.set_bfe_state(bfe_state::STOPPED);
    sim.set_bfe_state(bfe_state::RUNNING);
    assert_eq!(sim.queued_work_items(), 0, "inert stays inert");
    harness.driver_unload();
    assert_unloaded_clean(&sim);
}

/// Runs DriverUnload while a thread plays the system worker, once unload has begun.
fn unload_with_a_system_worker(sim: &SimulatedStack, unload: UnloadCall) {
    let done = AtomicBool::new(false);
    let before = sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0);
    thread::scope(|scope| {
        // Set even if the unload below panics, so the worker thread (and the scope) ends.
        let _done = SetOnDrop(&done);
        let worker = scope.spawn(|| {
            wait_for(|| sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0) != before);
            while !done.load(Ordering::Acquire) {
                sim.run_work_items();
                thread::yield_now();
            }
        });
        unload.run();
        done.store(true, Ordering::Release);
        worker.join().unwrap();
    });
}

#[test]
fn the_image_unloads_cleanly_at_each_step() {
    // 1. The retry queued, never run yet.
    {
        let sim = SimulatedStack::new();
        let Some(mut harness) = Harness::new(&sim) else {
            return;
        };
        sim.set_tcpip_ready_at(Duration::MAX);
        entry(&sim, &mut harness);
        assert_eq!(sim.queued_work_items(), 1);
        unload_with_a_system_worker(&sim, harness.unload_call());
        assert_eq!(
            sim.calls(KernelFn::FwpsInjectionHandleCreate0),
            1,
            "no attempt after"
        );
        assert_unloaded_clean(&sim);
    }
    // 2. Between the handles and the objects.
    {
        let sim = SimulatedStack::new();
        let Some(mut harness) = Harness::new(&sim) else {
            return;
        };
        sim.set_bfe_state(bfe_state::STOPPED);
        entry(&sim, &mut harness);
        assert_eq!(sim.open_handles().len(), 2);
        harness.driver_unload();
        assert_eq!(sim.calls(KernelFn::FwpmEngineOpen0), 0);
        assert_unloaded_clean(&sim);
    }
    // 3. While a retry sleeps.
    {
        let sim = SimulatedStack::new();
        let Some(mut harness) = Harness::new(&sim) else {
            return;
        };
        sim.set_tcpip_ready_at(Duration::MAX);
        entry(&sim, &mut harness);
        sim.hold_worker_sleeps();
        let unload = harness.unload_call();
        thread::scope(|scope| {
            let worker = scope.spawn(|| sim.run_work_items());
            wait_for(|| sim.held_worker_sleeps() != 0);
            let unloading = scope.spawn(move || unload.run());
            wait_for(|| sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0) != 0);
            thread::sleep(Duration::from_millis(20));
            assert!(
                !unloading.is_finished(),
                "unload waits for the sleeping run"
            );
            sim.release_worker_sleeps();
            unloading.join().unwrap();
            assert_eq!(worker.join().unwrap(), 1);
        });
        assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 1);
        assert_unloaded_clean(&sim);
    }
    // 4. While the BFE callback runs.
    {
        let sim = SimulatedStack::new();
        let Some(mut harness) = Harness::new(&sim) else {
            return;
        };
        sim.set_bfe_state(bfe_state::STOPPED);
        entry(&sim, &mut harness);
        sim.hold_bfe_callbacks();
        let unload = harness.unload_call();
        thread::scope(|scope| {
            let bfe = scope.spawn(|| sim.set_bfe_state(bfe_state::RUNNING));
            wait_for(|| sim.held_bfe_callbacks() != 0);
            let unloading = scope.spawn(move || unload.run());
            wait_for(|| sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0) != 0);
            thread::sleep(Duration::from_millis(20));
            assert!(
                !unloading.is_finished(),
                "unsubscribe waits for the callback"
            );
            sim.release_bfe_callbacks();
            bfe.join().unwrap();
            unloading.join().unwrap();
        });
        assert_eq!(sim.calls(KernelFn::IoQueueWorkItem), 0);
        assert_unloaded_clean(&sim);
    }
}

#[test]
fn the_image_survives_a_bfe_restart_after_its_load() {
    use std::net::{IpAddr, Ipv4Addr};
    use wfp_sim::traffic::{Delivery, Layer, TransportPacket};
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(53));
    let Some(mut harness) = Harness::new(&sim) else {
        return;
    };
    entry(&sim, &mut harness);
    assert_loaded(&sim);
    let deliver = |sim: &SimulatedStack| {
        let packet = TransportPacket::udp(
            IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1)),
            999,
            IpAddr::V4(Ipv4Addr::new(10, 1, 1, 2)),
            53,
        );
        let delivered = sim.deliver(Layer::OutboundV4, &packet, Delivery::default());
        let action = delivered.result.map(|r| r.action);
        sim.complete_all(NtStatus::SUCCESS);
        sim.return_packet(delivered.nbl);
        action
    };
    // FWP_ACTION_BLOCK (0x1001, facts table): absorbed and reinjected.
    assert_eq!(deliver(&sim), Some(0x1001));
    sim.set_bfe_state(bfe_state::STOP_PENDING);
    sim.set_bfe_state(bfe_state::STOPPED);
    sim.run_work_items();
    assert_eq!(sim.wfp_objects().filters, 0);
    assert_eq!(
        sim.wfp_objects().registered_callouts,
        8,
        "callouts stay registered"
    );
    assert_eq!(deliver(&sim), None);
    sim.set_bfe_state(bfe_state::START_PENDING);
    sim.set_bfe_state(bfe_state::RUNNING);
    sim.run_work_items();
    assert_eq!(sim.wfp_objects().filters, 4, "the objects are back");
    assert_eq!(deliver(&sim), Some(0x1001));
    harness.driver_unload();
    drop(harness);
    assert_unloaded_clean(&sim);
}
