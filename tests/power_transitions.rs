//! Sleep and resume through `\Callback\PowerState`: before the system sleeps the driver starts
//! no injection (configured packets permitted untouched, counted) and waits for those in flight;
//! the simulator checks that none is in flight when the system sleeps; after the resume the
//! driver reinjects again. Also: unload while suspended, unload while the sleep routine waits,
//! a sleep during the load, repeated sleeps, a notification at DISPATCH_LEVEL, other
//! notifications ignored, and the registration removed at unload.

#[path = "support/heap.rs"]
mod heap;

#[path = "support/host_driver.rs"]
mod host_driver;

use std::time::Duration;

use host_driver::PORT;
use host_driver::{configure_port, counters_layer, device, load, path, registry_path, udp};
use wfp_injector::driver::power::DRAIN_PATIENCE;
use wfp_injector::driver::{Driver, DriverConfig, Progress};
use wfp_injector::nt::{Irql, NtStatus};
use wfp_sim::traffic::{Delivery, Layer};
use wfp_sim::{KernelFn, PO_CB_AC_STATUS, PO_CB_SYSTEM_STATE_LOCK, SimulatedStack, Violation};

/// FWP_ACTION_BLOCK / FWP_ACTION_PERMIT (fwptypes.h; rows of facts/kernel-facts.md).
const BLOCK: u32 = 0x1001;
const PERMIT: u32 = 0x1002;

thread_local! {
    /// Delivered NBLs not yet given back: an original goes back only after its clone completed.
    static HELD: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Delivers one configured UDP packet at `layer`, the injection (if any) left pending and the
/// original held until [`complete`]. The classify's action.
fn deliver(sim: &SimulatedStack, layer: Layer) -> u32 {
    let delivered = sim.deliver(layer, &udp(layer, PORT), Delivery::default());
    HELD.with(|held| held.borrow_mut().push(delivered.nbl as usize));
    delivered.result.map_or(0, |r| r.action)
}

/// Completes every pending injection, then gives the held originals back. How many completed.
fn complete(sim: &SimulatedStack) -> usize {
    let completed = sim.complete_all(NtStatus::SUCCESS);
    for nbl in HELD.with(|held| std::mem::take(&mut *held.borrow_mut())) {
        sim.return_packet(nbl as *mut _);
    }
    completed
}

/// Waits (real time, bounded) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_sleep_waits_for_the_injections_in_flight_and_starts_none_until_the_resume() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    assert_eq!(sim.power_registrations(), 1, "registered at load");
    let layer = Layer::OutboundV4;
    assert_eq!(deliver(&sim, layer), BLOCK, "absorbed and reinjected");
    assert_eq!(sim.pending_injections().len(), 1, "one injection in flight");

    std::thread::scope(|scope| {
        let sleeper = scope.spawn(|| sim.sleep());
        // The routine is waiting for the injection: the system has not slept yet.
        wait_for("the sleep routine to wait", || {
            sim.power_callbacks_running() == 1
        });
        assert!(!sim.asleep());
        // A packet in the window before the sleep: permitted untouched, counted.
        assert_eq!(deliver(&sim, layer), PERMIT, "no injection while suspended");
        assert_eq!(
            sim.pending_injections().len(),
            1,
            "still only the first one"
        );
        let counters = driver.counters(counters_layer(layer));
        assert_eq!(counters.skipped_suspended, 1);
        assert_eq!(counters.reinjected, 1);
        // The injection completes: the routine returns, the system sleeps.
        assert_eq!(complete(&sim), 1);
        sleeper.join().unwrap();
    });
    assert!(sim.asleep());
    assert!(
        sim.take_violations().is_empty(),
        "nothing was in flight across the sleep"
    );
    sim.resume();
    assert_eq!(
        deliver(&sim, layer),
        BLOCK,
        "reinjected again after the resume"
    );
    complete(&sim);
    let counters = driver.counters(counters_layer(layer));
    assert_eq!((counters.reinjected, counters.skipped_suspended), (2, 1));
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    assert_eq!(sim.power_registrations(), 0, "unregistered at unload");
    assert_eq!(sim.power_object_references(), 0, "the reference given back");
    sim.assert_clean();
}

#[test]
fn every_layer_is_drained_across_repeated_sleeps() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    for round in 0..3u64 {
        for layer in Layer::ALL {
            assert_eq!(deliver(&sim, layer), BLOCK, "{layer:?} round {round}");
        }
        std::thread::scope(|scope| {
            let sleeper = scope.spawn(|| sim.sleep());
            wait_for("the sleep routine", || sim.power_callbacks_running() == 1);
            for layer in Layer::ALL {
                assert_eq!(deliver(&sim, layer), PERMIT, "{layer:?} suspended");
            }
            complete(&sim);
            sleeper.join().unwrap();
        });
        assert!(sim.take_violations().is_empty(), "round {round}");
        sim.resume();
    }
    for layer in Layer::ALL {
        let counters = driver.counters(counters_layer(layer));
        assert_eq!(
            (counters.reinjected, counters.skipped_suspended),
            (3, 3),
            "{layer:?}"
        );
    }
    assert_eq!(sim.sleeps_entered(), 3);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn a_completion_that_never_comes_bounds_the_wait_and_the_simulator_sees_it() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    assert_eq!(deliver(&sim, Layer::OutboundV6), BLOCK);
    let start = sim.virtual_time();
    sim.sleep();
    let waited = sim.virtual_time() - start;
    assert!(
        waited >= DRAIN_PATIENCE && waited < DRAIN_PATIENCE * 2,
        "the routine waited its patience once: {waited:?}"
    );
    assert_eq!(
        sim.take_violations(),
        [Violation::InjectionInFlightAcrossSleep(1)]
    );
    sim.resume();
    complete(&sim);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn unload_while_suspended_drains_and_removes_everything() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    sim.sleep();
    assert_eq!(deliver(&sim, Layer::InboundV4), PERMIT);
    assert_eq!(
        driver
            .counters(counters_layer(Layer::InboundV4))
            .skipped_suspended,
        1
    );
    // The system never resumes before the driver goes.
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    assert_eq!(sim.power_registrations(), 0);
    complete(&sim);
    sim.resume();
    assert_eq!(sim.calls(KernelFn::ExUnregisterCallback), 1);
    sim.assert_clean();
}

#[test]
fn unload_during_a_sleep_routine_that_waits_stops_its_wait() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    assert_eq!(deliver(&sim, Layer::OutboundV4), BLOCK);
    std::thread::scope(|scope| {
        let sleeper = scope.spawn(|| sim.announce_sleep());
        wait_for("the sleep routine", || sim.power_callbacks_running() == 1);
        let unloader = scope.spawn(|| driver.unload());
        // Unregistering waits for the routine, which stops waiting; unload then drains the
        // injection itself.
        wait_for("the routine to return", || {
            sim.power_callbacks_running() == 0
        });
        sleeper.join().unwrap();
        complete(&sim);
        assert_eq!(unloader.join().unwrap(), NtStatus::SUCCESS);
    });
    sim.enter_sleep();
    sim.resume();
    sim.assert_clean();
}

#[test]
fn a_sleep_while_waiting_for_tcpip_leaves_the_driver_suspended_until_the_resume() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    sim.set_tcpip_ready_at(Duration::from_millis(100));
    let registry = registry_path();
    let driver = Driver::load(&sim, device(), path(&registry), &DriverConfig::default()).unwrap();
    assert_eq!(driver.progress(), Progress::WaitingForTcpip);
    // Registered first: the sleep during the load is seen.
    sim.sleep();
    sim.run_work_items();
    assert_eq!(driver.progress(), Progress::Loaded);
    assert_eq!(deliver(&sim, Layer::OutboundV4), PERMIT, "still suspended");
    sim.resume();
    assert_eq!(deliver(&sim, Layer::OutboundV4), BLOCK);
    complete(&sim);
    assert!(sim.take_violations().is_empty());
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn a_notification_at_dispatch_level_does_not_wait_and_other_notifications_are_ignored() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    sim.notify_power_state(PO_CB_AC_STATUS, 0, Irql::PASSIVE);
    assert_eq!(
        deliver(&sim, Layer::OutboundV4),
        BLOCK,
        "AC/DC changes nothing"
    );
    let slept = sim.sleeps().len();
    sim.notify_power_state(PO_CB_SYSTEM_STATE_LOCK, 0, Irql::DISPATCH);
    assert_eq!(sim.sleeps().len(), slept, "no wait at DISPATCH_LEVEL");
    assert_eq!(deliver(&sim, Layer::OutboundV4), PERMIT, "but suspended");
    complete(&sim);
    sim.notify_power_state(PO_CB_SYSTEM_STATE_LOCK, 1, Irql::DISPATCH);
    assert_eq!(deliver(&sim, Layer::OutboundV4), BLOCK);
    complete(&sim);
    assert!(sim.take_violations().is_empty());
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn a_failed_registration_fails_the_load_and_leaves_nothing() {
    let _heap = heap::check();
    for call in [KernelFn::ExCreateCallback, KernelFn::ExRegisterCallback] {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        sim.fail_call(call, 0, NtStatus::INSUFFICIENT_RESOURCES);
        let registry = registry_path();
        let error = Driver::load(&sim, device(), path(&registry), &DriverConfig::default())
            .expect_err("the load fails");
        assert_eq!(
            error.step,
            wfp_injector::driver::LoadStep::PowerCallback,
            "{call:?}"
        );
        assert_eq!(sim.power_registrations(), 0);
        assert_eq!(sim.power_object_references(), 0);
        sim.assert_clean();
    }
}
