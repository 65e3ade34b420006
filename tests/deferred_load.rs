//! Deferred load on the host build: DriverEntry makes one attempt and never sleeps; the work item
//! (run by the test, as a system worker thread would) retries the injection handles on the
//! virtual clock; the BFE state callback triggers the WFP objects; every order of TCP/IP and
//! BFE becoming ready ends loaded; the retry deadline ends inert and logged; unload is clean at
//! every step.

#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/waiting.rs"]
mod waiting;

use waiting::{SetOnDrop, wait_for};

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use host_driver::{configure_port, device, path, registry_path};
use wfp_injector::driver::{Driver, DriverConfig, LoadError, LoadStep, Progress};
use wfp_injector::inject::RetryPolicy;
use wfp_injector::nt::NtStatus;
use wfp_sim::{KernelFn, SimulatedStack, WfpObjects, bfe_state};

const NOT_READY: NtStatus = NtStatus::FWP_TCPIP_NOT_READY;

fn config(deadline: Duration) -> DriverConfig {
    DriverConfig {
        retry: RetryPolicy {
            first_delay: Duration::from_millis(10),
            growth: 2,
            max_delay: Duration::from_millis(500),
            deadline,
        },
        ..DriverConfig::default()
    }
}

/// DriverEntry's part, asserting it did not sleep on this thread.
fn enter<'a>(sim: &'a SimulatedStack, config: &DriverConfig) -> Driver<&'a SimulatedStack> {
    let registry = registry_path();
    let before = sim.sleeps_on(thread::current().id()).len();
    let driver = Driver::load(sim, device(), path(&registry), config).expect("DriverEntry");
    assert_eq!(
        sim.sleeps_on(thread::current().id()).len(),
        before,
        "DriverEntry never sleeps"
    );
    driver
}

fn assert_inert_objects(sim: &SimulatedStack) {
    let objects = sim.wfp_objects();
    assert_eq!(objects.registered_callouts, 0, "classify cannot be reached");
    assert_eq!(objects.filters, 0);
}

fn assert_loaded(sim: &SimulatedStack, driver: &Driver<&SimulatedStack>) {
    assert_eq!(driver.progress(), Progress::Loaded);
    let objects = sim.wfp_objects();
    assert_eq!(objects.registered_callouts, 8);
    assert_eq!(objects.filters, 4);
    assert_eq!(sim.open_handles().len(), 2);
    assert!(driver.injector().is_some());
}

fn unload_clean(sim: &SimulatedStack, driver: Driver<&SimulatedStack>) {
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert_eq!(
        sim.bfe_subscriptions(),
        0,
        "unsubscribed before unload returned"
    );
    assert_eq!(sim.live_work_items(), 0, "work item freed");
    sim.assert_clean();
}

fn logged(sim: &SimulatedStack, needle: &str) -> bool {
    sim.debug_log()
        .iter()
        .any(|(_, _, line)| line.contains(needle))
}

#[test]
fn ready_at_entry_loads_in_driver_entry_without_queueing_work() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = enter(&sim, &DriverConfig::default());
    assert_loaded(&sim, &driver);
    assert_eq!(sim.queued_work_items(), 0);
    assert_eq!(
        sim.calls(KernelFn::FwpsInjectionHandleCreate0),
        2,
        "one attempt"
    );
    assert_eq!(
        sim.calls(KernelFn::FwpmBfeStateSubscribeChanges0),
        1,
        "subscribed (before asking the state: the simulator checks the order)"
    );
    unload_clean(&sim, driver);
}

/// When TCP/IP and BFE become ready relative to DriverEntry and to each other.
#[derive(Debug, Clone, Copy)]
enum Order {
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

fn run_order(order: Order) {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let tcpip_at_entry = matches!(order, Order::TcpipAtEntryBfeLater);
    let bfe_at_entry = matches!(order, Order::BfeAtEntryTcpipLater);
    if !tcpip_at_entry {
        sim.set_tcpip_ready_at(Duration::MAX);
    }
    if !bfe_at_entry {
        sim.set_bfe_state(bfe_state::STOPPED);
    }
    let driver = enter(&sim, &config(Duration::from_secs(3600)));
    assert_inert_objects(&sim);
    let expected = if tcpip_at_entry {
        Progress::WaitingForBfe
    } else {
        Progress::WaitingForTcpip
    };
    assert_eq!(driver.progress(), expected, "{order:?}");
    assert_eq!(
        sim.queued_work_items(),
        usize::from(!tcpip_at_entry),
        "the retry is queued only when TCP/IP is not ready"
    );
    let ready_tcpip = |sim: &SimulatedStack| {
        // A few retries on the virtual clock, then TCP/IP comes up.
        for _ in 0..3 {
            assert!(sim.run_one_work_item());
        }
        assert_eq!(driver.progress(), Progress::WaitingForTcpip);
        assert!(sim.open_handles().is_empty());
        sim.set_tcpip_ready_at(sim.virtual_time());
        sim.run_work_items();
    };
    match order {
        Order::TcpipAtEntryBfeLater => {
            sim.set_bfe_state(bfe_state::START_PENDING);
            assert_eq!(sim.queued_work_items(), 0, "only RUNNING asks for work");
            sim.set_bfe_state(bfe_state::RUNNING);
            sim.run_work_items();
        }
        Order::BfeAtEntryTcpipLater => ready_tcpip(&sim),
        Order::TcpipThenBfe => {
            ready_tcpip(&sim);
            assert_eq!(driver.progress(), Progress::WaitingForBfe);
            assert_eq!(sim.open_handles().len(), 2);
            assert_inert_objects(&sim);
            sim.set_bfe_state(bfe_state::START_PENDING);
            sim.set_bfe_state(bfe_state::RUNNING);
            sim.run_work_items();
        }
        Order::BfeThenTcpip => {
            assert!(sim.run_one_work_item());
            sim.set_bfe_state(bfe_state::START_PENDING);
            sim.set_bfe_state(bfe_state::RUNNING);
            ready_tcpip(&sim);
        }
        Order::BfeFlapsThenTcpipThenBfe => {
            sim.set_bfe_state(bfe_state::RUNNING);
            sim.set_bfe_state(bfe_state::STOP_PENDING);
            sim.set_bfe_state(bfe_state::STOPPED);
            ready_tcpip(&sim);
            assert_eq!(driver.progress(), Progress::WaitingForBfe);
            sim.set_bfe_state(bfe_state::RUNNING);
            sim.run_work_items();
        }
    }
    assert_loaded(&sim, &driver);
    assert_eq!(sim.queued_work_items(), 0, "nothing left to do");
    assert!(logged(&sim, "wfp_injector: loaded"));
    unload_clean(&sim, driver);
}

#[test]
fn every_order_of_tcpip_ready_and_bfe_running_ends_loaded() {
    for order in [
        Order::TcpipAtEntryBfeLater,
        Order::BfeAtEntryTcpipLater,
        Order::TcpipThenBfe,
        Order::BfeThenTcpip,
        Order::BfeFlapsThenTcpipThenBfe,
    ] {
        run_order(order);
    }
}

#[test]
fn the_worker_retries_on_the_virtual_clock_with_the_policy_backoff() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(Duration::from_millis(100));
    let driver = enter(&sim, &config(Duration::from_secs(10)));
    assert_eq!(driver.progress(), Progress::WaitingForTcpip);
    let runs = sim.run_work_items();
    assert_eq!(driver.progress(), Progress::Loaded);
    // Waits of 10, 20, 40, 80 ms (in slices of at most 20 ms): TCP/IP is ready at 150 ms.
    assert_eq!(runs, 4, "one attempt per run");
    assert_eq!(sim.virtual_time(), Duration::from_millis(150));
    assert!(
        sim.sleeps()
            .iter()
            .all(|wait| *wait <= Duration::from_millis(20))
    );
    assert!(logged(&sim, "waiting for TCP/IP"));
    assert!(logged(&sim, "injection handles created after 150 ms"));
    unload_clean(&sim, driver);
}

#[test]
fn the_retry_deadline_passing_leaves_the_driver_loaded_inert_and_logged() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(Duration::MAX);
    let driver = enter(&sim, &config(Duration::from_secs(10)));
    sim.run_work_items();
    assert_eq!(
        driver.progress(),
        Progress::Inert(LoadError::new(LoadStep::InjectionHandles, NOT_READY))
    );
    assert_eq!(sim.virtual_time(), Duration::from_secs(10), "bounded");
    assert!(logged(&sim, "gave up waiting for TCP/IP after 10000 ms"));
    assert!(logged(&sim, "inert"));
    assert!(sim.open_handles().is_empty());
    assert_inert_objects(&sim);
    assert!(driver.injector().is_none());
    assert_eq!(driver.completions(), (0, 0));
    // BFE starting now changes nothing: the driver stays inert.
    sim.set_bfe_state(bfe_state::STOPPED);
    sim.set_bfe_state(bfe_state::RUNNING);
    assert_eq!(sim.queued_work_items(), 0);
    unload_clean(&sim, driver);
}

#[test]
fn the_default_deadline_is_ten_seconds_of_virtual_time() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(Duration::MAX);
    let driver = enter(&sim, &DriverConfig::default());
    sim.run_work_items();
    assert!(matches!(driver.progress(), Progress::Inert(_)));
    assert_eq!(sim.virtual_time(), RetryPolicy::default().deadline);
    unload_clean(&sim, driver);
}

#[test]
fn a_zero_deadline_is_inert_at_entry() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(Duration::MAX);
    let driver = enter(&sim, &config(Duration::ZERO));
    assert!(matches!(driver.progress(), Progress::Inert(_)));
    assert_eq!(sim.queued_work_items(), 0);
    unload_clean(&sim, driver);
}

#[test]
fn a_failure_in_the_worker_leaves_the_driver_inert_and_unload_clean() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(Duration::from_millis(10));
    sim.fail_call(
        KernelFn::FwpsCalloutRegister1,
        1,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let driver = enter(&sim, &DriverConfig::default());
    sim.run_work_items();
    assert!(matches!(
        driver.progress(),
        Progress::Inert(LoadError {
            step: LoadStep::CalloutRegister(_),
            ..
        })
    ));
    assert_inert_objects(&sim);
    assert_eq!(sim.open_handles().len(), 2, "the handles stay until unload");
    unload_clean(&sim, driver);
}

#[test]
fn failures_in_driver_entry_remove_everything() {
    for (call, step) in [
        (KernelFn::IoAllocateWorkItem, LoadStep::WorkItem),
        (
            KernelFn::FwpmBfeStateSubscribeChanges0,
            LoadStep::BfeSubscribe,
        ),
        (
            KernelFn::FwpsInjectionHandleCreate0,
            LoadStep::InjectionHandles,
        ),
    ] {
        let sim = SimulatedStack::new();
        sim.fail_call(call, 0, NtStatus::INSUFFICIENT_RESOURCES);
        let registry = registry_path();
        let error = Driver::load(&sim, device(), path(&registry), &DriverConfig::default())
            .expect_err("DriverEntry fails");
        assert_eq!(error.step, step);
        assert_eq!(sim.bfe_subscriptions(), 0);
        assert_eq!(sim.live_work_items(), 0);
        assert!(sim.sleeps().is_empty());
        sim.assert_clean();
    }
}

/// Unloads while a thread plays the system worker, running whatever is queued once unload has
/// begun (it has unsubscribed from BFE).
fn unload_with_a_system_worker(sim: &SimulatedStack, driver: Driver<&SimulatedStack>) -> usize {
    let done = AtomicBool::new(false);
    let unsubscribes = sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0);
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
        assert_eq!(driver.unload(), NtStatus::SUCCESS);
        done.store(true, Ordering::Release);
        worker.join().unwrap()
    });
    assert_eq!(sim.bfe_subscriptions(), 0);
    assert_eq!(sim.live_work_items(), 0);
    ran
}

#[test]
fn unload_with_the_retry_queued_cancels_it() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(Duration::MAX);
    sim.set_bfe_state(bfe_state::STOPPED);
    let driver = enter(&sim, &DriverConfig::default());
    assert_eq!(sim.queued_work_items(), 1);
    let creates = sim.calls(KernelFn::FwpsInjectionHandleCreate0);
    let ran = unload_with_a_system_worker(&sim, driver);
    assert_eq!(
        ran, 1,
        "the queued run ran once, saw the cancel and did nothing"
    );
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), creates);
    sim.assert_clean();
}

#[test]
fn unload_between_handles_and_objects_destroys_the_handles() {
    let sim = SimulatedStack::new();
    sim.set_bfe_state(bfe_state::STOPPED);
    let driver = enter(&sim, &DriverConfig::default());
    assert_eq!(driver.progress(), Progress::WaitingForBfe);
    assert!(logged(&sim, "waiting for BFE"), "the wait is logged");
    assert_eq!(sim.open_handles().len(), 2);
    unload_clean(&sim, driver);
    assert_eq!(
        sim.calls(KernelFn::FwpmEngineOpen0),
        0,
        "no session was ever opened"
    );
}

#[test]
fn unload_after_bfe_asked_for_work_that_never_ran() {
    let sim = SimulatedStack::new();
    sim.set_bfe_state(bfe_state::STOPPED);
    let driver = enter(&sim, &DriverConfig::default());
    sim.set_bfe_state(bfe_state::RUNNING);
    assert_eq!(sim.queued_work_items(), 1);
    unload_with_a_system_worker(&sim, driver);
    assert_eq!(
        sim.calls(KernelFn::FwpmEngineOpen0),
        0,
        "cancelled before the objects"
    );
    sim.assert_clean();
}

#[test]
fn unload_while_a_retry_sleeps_wakes_it_and_waits_for_it() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(Duration::MAX);
    let driver = enter(&sim, &DriverConfig::default());
    sim.hold_worker_sleeps();
    thread::scope(|scope| {
        let worker = scope.spawn(|| sim.run_work_items());
        wait_for(|| sim.held_worker_sleeps() != 0);
        let unload = scope.spawn(move || driver.unload());
        // Unload has begun (unsubscribed) and now waits for the sleeping run.
        wait_for(|| sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0) != 0);
        thread::sleep(Duration::from_millis(20));
        assert!(
            !unload.is_finished(),
            "unload waits for the run in progress"
        );
        sim.release_worker_sleeps();
        assert_eq!(unload.join().unwrap(), NtStatus::SUCCESS);
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
    sim.assert_clean();
}

#[test]
fn unload_while_the_bfe_callback_runs_waits_for_it() {
    let sim = SimulatedStack::new();
    sim.set_bfe_state(bfe_state::STOPPED);
    let driver = enter(&sim, &DriverConfig::default());
    sim.hold_bfe_callbacks();
    thread::scope(|scope| {
        let bfe = scope.spawn(|| sim.set_bfe_state(bfe_state::RUNNING));
        wait_for(|| sim.held_bfe_callbacks() != 0);
        let unload = scope.spawn(move || driver.unload());
        wait_for(|| sim.calls(KernelFn::FwpmBfeStateUnsubscribeChanges0) != 0);
        thread::sleep(Duration::from_millis(20));
        assert!(!unload.is_finished(), "unsubscribe waits for the callback");
        sim.release_bfe_callbacks();
        bfe.join().unwrap();
        assert_eq!(unload.join().unwrap(), NtStatus::SUCCESS);
    });
    assert_eq!(
        sim.queued_work_items(),
        0,
        "the late callback queued nothing"
    );
    assert_eq!(sim.calls(KernelFn::IoQueueWorkItem), 0);
    sim.assert_clean();
}

#[test]
fn unload_while_waiting_for_tcpip_after_bfe_runs_is_clean() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_ready_at(Duration::MAX);
    sim.set_bfe_state(bfe_state::STOPPED);
    let driver = enter(&sim, &DriverConfig::default());
    assert!(sim.run_one_work_item());
    sim.set_bfe_state(bfe_state::RUNNING);
    unload_with_a_system_worker(&sim, driver);
    sim.assert_clean();
}

#[test]
fn a_bfe_restart_after_the_load_removes_the_filters_until_bfe_runs_again_then_adds_them_back() {
    use host_driver::{PORT, udp};
    use wfp_sim::traffic::{Delivery, Layer};
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = enter(&sim, &DriverConfig::default());
    assert_loaded(&sim, &driver);
    let deliver = |sim: &SimulatedStack| {
        let delivered = sim.deliver(
            Layer::OutboundV4,
            &udp(Layer::OutboundV4, PORT),
            Delivery::default(),
        );
        let action = delivered.result.map(|r| r.action);
        sim.complete_all(NtStatus::SUCCESS);
        sim.return_packet(delivered.nbl);
        action
    };
    assert_eq!(deliver(&sim), Some(0x1001), "FWP_ACTION_BLOCK: reinjected");
    // BFE stops: its session and every object go; the callouts stay registered.
    sim.set_bfe_state(bfe_state::STOP_PENDING);
    assert_eq!(
        driver.progress(),
        Progress::WaitingForBfe,
        "from the notification on, before the work item has run"
    );
    sim.set_bfe_state(bfe_state::STOPPED);
    sim.run_work_items();
    assert_eq!(driver.progress(), Progress::WaitingForBfe);
    let objects = sim.wfp_objects();
    assert_eq!((objects.filters, objects.sessions), (0, 0));
    assert_eq!(objects.registered_callouts, 8);
    assert_eq!(deliver(&sim), None, "no filter: traffic passes");
    // BFE runs again: a new session, and the objects come back for the same callouts.
    sim.set_bfe_state(bfe_state::START_PENDING);
    sim.set_bfe_state(bfe_state::RUNNING);
    sim.run_work_items();
    assert_loaded(&sim, &driver);
    assert_eq!(deliver(&sim), Some(0x1001), "reinjected again");
    unload_clean(&sim, driver);
}

#[test]
fn unload_while_bfe_is_stopped_after_the_load_is_clean() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = enter(&sim, &DriverConfig::default());
    assert_loaded(&sim, &driver);
    sim.set_bfe_state(bfe_state::STOP_PENDING);
    sim.set_bfe_state(bfe_state::STOPPED);
    sim.run_work_items();
    assert_eq!(driver.progress(), Progress::WaitingForBfe);
    unload_clean(&sim, driver);
}

#[test]
fn a_failed_re_add_after_a_bfe_restart_leaves_the_driver_inert_and_unload_clean() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = enter(&sim, &DriverConfig::default());
    assert_loaded(&sim, &driver);
    sim.set_bfe_state(bfe_state::STOP_PENDING);
    sim.set_bfe_state(bfe_state::STOPPED);
    sim.run_work_items();
    // BFE runs again, but the new session cannot be opened: with BFE running that is a failure,
    // not a wait.
    sim.fail_call(
        KernelFn::FwpmEngineOpen0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    sim.set_bfe_state(bfe_state::RUNNING);
    sim.run_work_items();
    assert_eq!(
        driver.progress(),
        Progress::Inert(LoadError::new(
            LoadStep::EngineOpen,
            NtStatus::INSUFFICIENT_RESOURCES
        ))
    );
    assert_eq!(sim.wfp_objects().filters, 0);
    unload_clean(&sim, driver);
}

#[test]
fn a_bfe_stop_without_stop_pending_is_seen_too() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = enter(&sim, &DriverConfig::default());
    assert_loaded(&sim, &driver);
    let closes = sim.calls(KernelFn::FwpmEngineClose0);
    // BFE's process died: the driver hears STOPPED, then START_PENDING, never STOP_PENDING.
    sim.set_bfe_state(bfe_state::STOPPED);
    assert_eq!(driver.progress(), Progress::WaitingForBfe);
    sim.run_work_items();
    assert_eq!(
        sim.calls(KernelFn::FwpmEngineClose0),
        closes + 1,
        "the driver let go of the dead session's handle"
    );
    sim.set_bfe_state(bfe_state::START_PENDING);
    sim.set_bfe_state(bfe_state::RUNNING);
    sim.run_work_items();
    assert_loaded(&sim, &driver);
    unload_clean(&sim, driver);
}

#[test]
fn unload_right_after_bfe_stopped_does_not_use_the_dead_session() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = enter(&sim, &DriverConfig::default());
    assert_loaded(&sim, &driver);
    sim.set_bfe_state(bfe_state::STOP_PENDING);
    sim.set_bfe_state(bfe_state::STOPPED);
    // The queued work item runs only on the system worker: unload itself must forget
    // the session BFE ended instead of removing filters through it.
    unload_with_a_system_worker(&sim, driver);
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    sim.assert_clean();
}

#[test]
fn a_bfe_notice_during_a_run_is_served_again_and_leaves_the_loaded_driver_alone() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    sim.set_tcpip_ready_at(Duration::from_millis(1));
    let driver = enter(&sim, &DriverConfig::default());
    sim.hold_worker_sleeps();
    thread::scope(|scope| {
        let worker = scope.spawn(|| sim.run_work_items());
        wait_for(|| sim.held_worker_sleeps() != 0);
        // A second RUNNING notice (BFE repeats its state) while the run waits for TCP/IP.
        sim.set_bfe_state(bfe_state::RUNNING);
        sim.release_worker_sleeps();
        // The run serves the request that came during it itself, in the same work item.
        assert_eq!(worker.join().unwrap(), 1);
    });
    assert_loaded(&sim, &driver);
    assert_eq!(
        sim.calls(KernelFn::FwpmEngineOpen0),
        1,
        "the second run found the driver loaded and opened nothing"
    );
    unload_clean(&sim, driver);
}

/// The worker's install fails after registering callouts, and they never unregister: the state
/// must outlive the load (WFP may call them), so unload reports the image as still in use
/// instead of freeing what classify could reach.
#[test]
fn a_worker_install_whose_callouts_stay_registered_keeps_the_image_at_unload() {
    // No clean-up checks: the state is leaked on purpose.
    let sim = SimulatedStack::new();
    configure_port(&sim);
    sim.set_tcpip_ready_at(Duration::from_millis(10));
    sim.fail_call(
        KernelFn::FwpmFilterAdd0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    sim.busy_unregisters(u32::MAX);
    let driver = enter(&sim, &DriverConfig::default());
    sim.run_work_items();
    assert!(matches!(
        driver.progress(),
        Progress::Inert(LoadError {
            step: LoadStep::FilterAdd(_),
            ..
        })
    ));
    assert_eq!(sim.wfp_objects().registered_callouts, 8, "still registered");
    let unloaded = driver.unload_for_shell();
    assert!(
        unloaded.image_in_use,
        "callouts that never unregistered pin the image"
    );
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    std::mem::forget(sim);
}
