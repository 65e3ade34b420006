//! Deferred load on the host build: DriverEntry makes one attempt and never sleeps; the work item
//! (run by the test, as a system worker thread would) retries the injection handles on the
//! virtual clock; the BFE state callback triggers the WFP objects; every order of TCP/IP and
//! BFE becoming ready ends loaded; the retry deadline ends inert and logged; unload is clean at
//! every step. The cases of tests/support/deferred_load_cases.rs run through the shipped image
//! in tests/image_deferred_load.rs too.

#[path = "support/deferred_load_cases.rs"]
mod cases;
#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/waiting.rs"]
mod waiting;

use waiting::wait_for;

use std::thread;
use std::time::Duration;

use cases::{Driven, Loaded, assert_inert_objects, configure_port, logged};
use host_driver::{device, path, registry_path};
use wfp_injector::driver::{Driver, DriverConfig, LoadError, LoadStep, Progress};
use wfp_injector::inject::RetryPolicy;
use wfp_injector::nt::NtStatus;
use wfp_sim::{KernelFn, SimulatedStack, bfe_state};

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

/// The host build as the shared cases see it (`None` once unloaded).
struct Host<'s>(Option<Driver<&'s SimulatedStack>>);

impl<'s> Loaded<'s> for Host<'s> {
    fn host(&self) -> Option<&Driver<&'s SimulatedStack>> {
        self.0.as_ref()
    }

    fn unloader(&mut self) -> Box<dyn FnOnce() + Send + 's> {
        let driver = self.0.take().expect("unloaded once");
        Box::new(move || assert_eq!(driver.unload(), NtStatus::SUCCESS))
    }
}

fn loaded(driver: Driver<&SimulatedStack>) -> Driven<'_> {
    Box::new(Host(Some(driver)))
}

fn load_default(sim: &SimulatedStack) -> Option<Driven<'_>> {
    Some(loaded(enter(sim, &DriverConfig::default())))
}

fn assert_loaded(sim: &SimulatedStack, driver: &Driver<&SimulatedStack>) {
    cases::assert_loaded(sim, Some(driver));
}

fn unload_clean(sim: &SimulatedStack, driver: Driver<&SimulatedStack>) {
    cases::unload_clean(sim, loaded(driver));
}

fn unload_with_a_system_worker(sim: &SimulatedStack, driver: Driver<&SimulatedStack>) -> usize {
    cases::unload_with_a_system_worker(sim, loaded(driver))
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

#[test]
fn every_order_of_tcpip_ready_and_bfe_running_ends_loaded() {
    fn patient(sim: &SimulatedStack) -> Option<Driven<'_>> {
        Some(loaded(enter(sim, &config(Duration::from_secs(3600)))))
    }
    cases::every_order_ends_loaded(patient);
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
    fn ten_seconds(sim: &SimulatedStack) -> Option<Driven<'_>> {
        Some(loaded(enter(sim, &config(Duration::from_secs(10)))))
    }
    cases::the_deadline_leaves_the_driver_inert(ten_seconds);
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
        let error = host_driver::try_load(&sim).expect_err("DriverEntry fails");
        assert_eq!(error.step, step);
        assert_eq!(sim.bfe_subscriptions(), 0);
        assert_eq!(sim.live_work_items(), 0);
        assert!(sim.sleeps().is_empty());
        sim.assert_clean();
    }
}

#[test]
fn unload_with_the_retry_queued_cancels_it() {
    cases::unload_with_the_retry_queued(load_default);
}

#[test]
fn unload_between_handles_and_objects_destroys_the_handles() {
    cases::unload_between_handles_and_objects(load_default);
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
}

#[test]
fn unload_while_a_retry_sleeps_wakes_it_and_waits_for_it() {
    cases::unload_while_a_retry_sleeps(load_default);
}

#[test]
fn unload_while_the_bfe_callback_runs_waits_for_it() {
    cases::unload_while_the_bfe_callback_runs(load_default);
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
}

#[test]
fn a_bfe_restart_after_the_load_removes_the_filters_until_bfe_runs_again_then_adds_them_back() {
    cases::a_bfe_restart_after_the_load(load_default);
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
