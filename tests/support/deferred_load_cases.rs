//! Deferred load, as cases any loaded driver (the host build in tests/deferred_load.rs, the
//! shipped image in tests/image_deferred_load.rs) must pass: DriverEntry makes one attempt and
//! never sleeps, the work item (run by the test, as a system worker thread would) retries on the
//! virtual clock, the BFE state callback triggers the WFP objects, every order of TCP/IP and BFE
//! becoming ready ends loaded, the retry deadline ends inert and logged, a BFE restart after the
//! load removes and adds back the objects, and unload is clean at every step.
//!
//! A case configures the simulated stack, loads through a [`Load`] and reaches the driver only
//! through [`Loaded`]: the host build's driver for the checks only it can make, and its unload.
//! The including test provides `crate::waiting` (tests/support/waiting.rs).

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use wfp_injector::driver::{Driver, LoadError, LoadStep, Progress};
use wfp_injector::nt::NtStatus;
use wfp_sim::traffic::{Delivery, Layer, TransportPacket};
use wfp_sim::{KernelFn, RegistryValue, SimulatedStack, WfpObjects, bfe_state};

// tests/support/waiting.rs, as the including test has it.
use crate::waiting::{SetOnDrop, wait_for};

/// FWP_ACTION_BLOCK (fwptypes.h; a row of facts/kernel-facts.md).
const BLOCK: u32 = 0x1001;
const PORT: u16 = 53;

/// A loaded driver, as the cases see it.
pub trait Loaded<'s> {
    /// The host build's driver, for the checks only it allows; `None` for the image.
    fn host(&self) -> Option<&Driver<&'s SimulatedStack>>;
    /// DriverUnload, to run once on any thread (the host build checks its status).
    fn unloader(&mut self) -> Box<dyn FnOnce() + Send + 's>;
}

pub type Driven<'s> = Box<dyn Loaded<'s> + 's>;

/// DriverEntry on a stack; `None` when there is no image to run and the run opted out.
pub type Load = for<'s> fn(&'s SimulatedStack) -> Option<Driven<'s>>;

/// DriverEntry through `load`, asserting it did not sleep on this thread.
pub fn enter<'s>(load: Load, sim: &'s SimulatedStack) -> Option<Driven<'s>> {
    let before = sim.sleeps_on(thread::current().id()).len();
    let driver = load(sim)?;
    assert_eq!(
        sim.sleeps_on(thread::current().id()).len(),
        before,
        "DriverEntry never sleeps"
    );
    Some(driver)
}

/// Asserts the host build's progress (the image does not show it).
pub fn assert_progress(host: Option<&Driver<&SimulatedStack>>, expected: Progress) {
    if let Some(host) = host {
        assert_eq!(host.progress(), expected);
    }
}

pub fn logged(sim: &SimulatedStack, needle: &str) -> bool {
    sim.debug_log()
        .iter()
        .any(|(_, _, line)| line.contains(needle))
}

pub fn assert_inert_objects(sim: &SimulatedStack) {
    let objects = sim.wfp_objects();
    assert_eq!(objects.registered_callouts, 0, "classify cannot be reached");
    assert_eq!(objects.filters, 0);
}

pub fn assert_loaded(sim: &SimulatedStack, host: Option<&Driver<&SimulatedStack>>) {
    if let Some(host) = host {
        assert_eq!(host.progress(), Progress::Loaded);
        assert!(host.injector().is_some());
    }
    let objects = sim.wfp_objects();
    assert_eq!(objects.registered_callouts, 8);
    assert_eq!(objects.filters, 4);
    assert_eq!(sim.open_handles().len(), 2);
    assert!(logged(sim, "wfp_injector: loaded"));
}

/// What a finished unload leaves: nothing.
pub fn assert_unloaded_clean(sim: &SimulatedStack) {
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert_eq!(
        sim.bfe_subscriptions(),
        0,
        "unsubscribed before unload returned"
    );
    assert_eq!(sim.live_work_items(), 0, "work item freed");
    assert_eq!(sim.devices(), 0);
    assert!(
        sim.pool_outstanding().is_empty(),
        "{:?}",
        sim.pool_outstanding()
    );
    sim.assert_clean();
}

pub fn unload_clean(sim: &SimulatedStack, mut driver: Driven<'_>) {
    (driver.unloader())();
    assert_unloaded_clean(sim);
}

/// Unloads while a thread plays the system worker, running whatever is queued once unload has
/// begun (it has unsubscribed from BFE); how many runs it made.
pub fn unload_with_a_system_worker(sim: &SimulatedStack, mut driver: Driven<'_>) -> usize {
    let done = AtomicBool::new(false);
    let unsubscribes = sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0);
    let unload = driver.unloader();
    let ran = thread::scope(|scope| {
        // Set even if the unload below panics, so the worker thread (and the scope) ends.
        let _done = SetOnDrop(&done);
        let worker = scope.spawn(|| {
            wait_for(|| sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0) != unsubscribes);
            let mut ran = 0;
            while !done.load(Ordering::Acquire) {
                ran += sim.run_work_items();
                thread::yield_now();
            }
            ran + sim.run_work_items()
        });
        unload();
        done.store(true, Ordering::Release);
        worker.join().unwrap()
    });
    assert_unloaded_clean(sim);
    ran
}

/// BFE reaches RUNNING, announced by START_PENDING (which asks for no work) or not.
fn bfe_runs(sim: &SimulatedStack, announced: bool) {
    if announced {
        let queued = sim.queued_work_items();
        sim.set_bfe_state(bfe_state::START_PENDING);
        assert_eq!(
            sim.queued_work_items(),
            queued,
            "only RUNNING asks for work"
        );
    }
    sim.set_bfe_state(bfe_state::RUNNING);
}

/// When TCP/IP and BFE become ready relative to DriverEntry and to each other.
#[derive(Debug, Clone, Copy)]
pub enum Order {
    /// TCP/IP ready at entry, BFE starts later.
    TcpipAtEntryBfeLater,
    /// BFE running at entry, TCP/IP ready later.
    BfeAtEntryTcpipLater,
    /// Neither at entry: TCP/IP first, then BFE.
    TcpipThenBfe,
    /// Neither at entry: BFE first (while the worker retries), then TCP/IP.
    BfeThenTcpip,
    /// Neither at entry: BFE runs, stops again, TCP/IP comes, then BFE runs for good.
    BfeFlapsThenTcpipThenBfe,
}

/// Every [`Order`], BFE's start announced by START_PENDING or not, ends loaded; `load` must
/// retry long enough for three retries.
pub fn every_order_ends_loaded(load: Load) {
    for order in [
        Order::TcpipAtEntryBfeLater,
        Order::BfeAtEntryTcpipLater,
        Order::TcpipThenBfe,
        Order::BfeThenTcpip,
        Order::BfeFlapsThenTcpipThenBfe,
    ] {
        for announced in [true, false] {
            run_order(load, order, announced);
        }
    }
}

fn run_order(load: Load, order: Order, announced: bool) {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let tcpip_at_entry = matches!(order, Order::TcpipAtEntryBfeLater);
    if !tcpip_at_entry {
        sim.set_tcpip_ready_at(Duration::MAX);
    }
    if !matches!(order, Order::BfeAtEntryTcpipLater) {
        sim.set_bfe_state(bfe_state::STOPPED);
    }
    let Some(driver) = enter(load, &sim) else {
        return;
    };
    assert_inert_objects(&sim);
    let waiting = if tcpip_at_entry {
        Progress::WaitingForBfe
    } else {
        Progress::WaitingForTcpip
    };
    assert_progress(driver.host(), waiting);
    assert_eq!(
        sim.queued_work_items(),
        usize::from(!tcpip_at_entry),
        "{order:?}: the retry is queued only when TCP/IP is not ready"
    );
    let ready_tcpip = |sim: &SimulatedStack| {
        // A few retries on the virtual clock, then TCP/IP comes up.
        for _ in 0..3 {
            assert!(sim.run_one_work_item(), "{order:?}: the retry is queued");
        }
        assert_progress(driver.host(), Progress::WaitingForTcpip);
        assert!(sim.open_handles().is_empty());
        sim.set_tcpip_ready_at(sim.virtual_time());
        sim.run_work_items();
    };
    match order {
        Order::TcpipAtEntryBfeLater => {
            assert_eq!(sim.open_handles().len(), 2);
            assert!(logged(&sim, "waiting for BFE"));
            bfe_runs(&sim, announced);
            sim.run_work_items();
        }
        Order::BfeAtEntryTcpipLater => ready_tcpip(&sim),
        Order::TcpipThenBfe => {
            ready_tcpip(&sim);
            assert_progress(driver.host(), Progress::WaitingForBfe);
            assert_eq!(sim.open_handles().len(), 2);
            assert_inert_objects(&sim);
            bfe_runs(&sim, announced);
            sim.run_work_items();
        }
        Order::BfeThenTcpip => {
            assert!(sim.run_one_work_item());
            bfe_runs(&sim, announced);
            ready_tcpip(&sim);
        }
        Order::BfeFlapsThenTcpipThenBfe => {
            sim.set_bfe_state(bfe_state::RUNNING);
            sim.set_bfe_state(bfe_state::STOP_PENDING);
            sim.set_bfe_state(bfe_state::STOPPED);
            ready_tcpip(&sim);
            assert_progress(driver.host(), Progress::WaitingForBfe);
            bfe_runs(&sim, announced);
            sim.run_work_items();
        }
    }
    assert_loaded(&sim, driver.host());
    assert_eq!(sim.queued_work_items(), 0, "nothing left to do");
    unload_clean(&sim, driver);
}

/// TCP/IP never becomes ready: the retries end at the 10 s deadline of `load`'s policy, the
/// driver stays loaded but inert (BFE starting changes nothing) and logs why.
pub fn the_deadline_leaves_the_driver_inert(load: Load) {
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(Duration::MAX);
    let Some(driver) = enter(load, &sim) else {
        return;
    };
    assert!(logged(&sim, "waiting for TCP/IP"));
    sim.run_work_items();
    let not_ready = LoadError::new(LoadStep::InjectionHandles, NtStatus::FWP_TCPIP_NOT_READY);
    assert_progress(driver.host(), Progress::Inert(not_ready));
    if let Some(host) = driver.host() {
        assert!(host.injector().is_none());
        assert_eq!(host.completions(), (0, 0));
    }
    assert_eq!(sim.virtual_time(), Duration::from_secs(10), "bounded");
    assert!(logged(&sim, "gave up waiting for TCP/IP after 10000 ms"));
    assert!(logged(&sim, "inert"));
    assert!(sim.open_handles().is_empty());
    assert_inert_objects(&sim);
    sim.set_bfe_state(bfe_state::STOPPED);
    sim.set_bfe_state(bfe_state::RUNNING);
    assert_eq!(sim.queued_work_items(), 0, "inert stays inert");
    unload_clean(&sim, driver);
}

/// Unload with the retry queued, BFE running at entry or not: the queued run runs once, sees
/// the cancel and does nothing.
pub fn unload_with_the_retry_queued(load: Load) {
    for bfe in [bfe_state::RUNNING, bfe_state::STOPPED] {
        let sim = SimulatedStack::new();
        sim.set_tcpip_ready_at(Duration::MAX);
        sim.set_bfe_state(bfe);
        let Some(driver) = enter(load, &sim) else {
            return;
        };
        assert_eq!(sim.queued_work_items(), 1);
        let ran = unload_with_a_system_worker(&sim, driver);
        assert_eq!(
            ran, 1,
            "the queued run ran once, saw the cancel, did nothing"
        );
        assert_eq!(
            sim.calls(KernelFn::FwpsInjectionHandleCreate0),
            1,
            "DriverEntry's attempt, none after"
        );
    }
}

/// Unload between the injection handles and the WFP objects destroys the handles.
pub fn unload_between_handles_and_objects(load: Load) {
    let sim = SimulatedStack::new();
    sim.set_bfe_state(bfe_state::STOPPED);
    let Some(driver) = enter(load, &sim) else {
        return;
    };
    assert_progress(driver.host(), Progress::WaitingForBfe);
    assert!(logged(&sim, "waiting for BFE"), "the wait is logged");
    assert_eq!(sim.open_handles().len(), 2);
    unload_clean(&sim, driver);
    assert_eq!(
        sim.calls(KernelFn::FwpmEngineOpen0),
        0,
        "no session was ever opened"
    );
}

/// Unload while a retry sleeps wakes it and waits for it.
pub fn unload_while_a_retry_sleeps(load: Load) {
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(Duration::MAX);
    let Some(mut driver) = enter(load, &sim) else {
        return;
    };
    sim.hold_worker_sleeps();
    let unload = driver.unloader();
    thread::scope(|scope| {
        let worker = scope.spawn(|| sim.run_work_items());
        wait_for(|| sim.held_worker_sleeps() != 0);
        let unloading = scope.spawn(unload);
        // Unload has begun (unsubscribed) and now waits for the sleeping run.
        wait_for(|| sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0) != 0);
        thread::sleep(Duration::from_millis(20));
        assert!(
            !unloading.is_finished(),
            "unload waits for the run in progress"
        );
        sim.release_worker_sleeps();
        unloading.join().unwrap();
        assert_eq!(
            worker.join().unwrap(),
            1,
            "the run ended without queueing another"
        );
    });
    assert_eq!(
        sim.calls(KernelFn::FwpsInjectionHandleCreate0),
        1,
        "DriverEntry's attempt (IPv4 answered not ready), none after the cancel"
    );
    assert_unloaded_clean(&sim);
}

/// Unload while the BFE callback runs waits for it; the late callback queues nothing.
pub fn unload_while_the_bfe_callback_runs(load: Load) {
    let sim = SimulatedStack::new();
    sim.set_bfe_state(bfe_state::STOPPED);
    let Some(mut driver) = enter(load, &sim) else {
        return;
    };
    sim.hold_bfe_callbacks();
    let unload = driver.unloader();
    thread::scope(|scope| {
        let bfe = scope.spawn(|| sim.set_bfe_state(bfe_state::RUNNING));
        wait_for(|| sim.held_bfe_callbacks() != 0);
        let unloading = scope.spawn(unload);
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
    assert_eq!(
        sim.queued_work_items(),
        0,
        "the late callback queued nothing"
    );
    assert_eq!(sim.calls(KernelFn::IoQueueWorkItem), 0);
    assert_unloaded_clean(&sim);
}

/// What the driver inspects: UDP to [`PORT`].
pub fn configure_port(sim: &SimulatedStack) {
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
}

/// Delivers a configured packet at OutboundV4 and completes and returns it: the action.
fn deliver(sim: &SimulatedStack) -> Option<u32> {
    let packet = TransportPacket::udp(
        IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1)),
        999,
        IpAddr::V4(Ipv4Addr::new(10, 1, 1, 2)),
        PORT,
    );
    let delivered = sim.deliver(Layer::OutboundV4, &packet, Delivery::default());
    let action = delivered.result.map(|r| r.action);
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(delivered.nbl);
    action
}

/// BFE restarts after the load: its session and every object go (the callouts stay registered)
/// and traffic passes unfiltered until BFE runs again and the objects come back.
pub fn a_bfe_restart_after_the_load(load: Load) {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let Some(driver) = enter(load, &sim) else {
        return;
    };
    assert_loaded(&sim, driver.host());
    assert_eq!(deliver(&sim), Some(BLOCK), "absorbed and reinjected");
    sim.set_bfe_state(bfe_state::STOP_PENDING);
    // From the notification on, before the work item has run.
    assert_progress(driver.host(), Progress::WaitingForBfe);
    sim.set_bfe_state(bfe_state::STOPPED);
    sim.run_work_items();
    assert_progress(driver.host(), Progress::WaitingForBfe);
    let objects = sim.wfp_objects();
    assert_eq!((objects.filters, objects.sessions), (0, 0));
    assert_eq!(objects.registered_callouts, 8, "callouts stay registered");
    assert_eq!(deliver(&sim), None, "no filter: traffic passes");
    // BFE runs again: a new session, and the objects come back for the same callouts.
    sim.set_bfe_state(bfe_state::START_PENDING);
    sim.set_bfe_state(bfe_state::RUNNING);
    sim.run_work_items();
    assert_loaded(&sim, driver.host());
    assert_eq!(deliver(&sim), Some(BLOCK), "reinjected again");
    unload_clean(&sim, driver);
}
