//! Sleep and resume through `\Callback\PowerState`, host build: the cases of
//! tests/support/power_cases.rs (the drain before a sleep, packets permitted and counted while
//! suspended, inspection again after the resume, repeated sleeps, a completion that never comes,
//! unload while suspended and while the sleep routine waits, a sleep during the load, a
//! notification at DISPATCH_LEVEL and others ignored), with the counters also read during the
//! run, and a failed registration failing the load. The same cases run through the shipped
//! image in tests/image_power_transitions.rs.

#[path = "support/heap.rs"]
mod heap;

#[path = "support/host_driver.rs"]
mod host_driver;

#[path = "support/power_cases.rs"]
mod power_cases;

use host_driver::counters_layer;
use power_cases::{Counts, Finals, Loaded, Unloader, configure_late_tcpip, configure_port};
use wfp_injector::driver::power::DRAIN_PATIENCE;
use wfp_injector::driver::{Driver, Progress};
use wfp_injector::nt::NtStatus;
use wfp_sim::traffic::Layer;
use wfp_sim::{KernelFn, SimulatedStack};

/// The host-compiled driver: its counters readable at any time.
struct Host<'s> {
    driver: Option<Driver<&'s SimulatedStack>>,
}

impl<'s> Host<'s> {
    fn load(sim: &'s SimulatedStack) -> Self {
        let driver = host_driver::try_load(sim).expect("load");
        Self {
            driver: Some(driver),
        }
    }
}

fn counts(driver: &Driver<&SimulatedStack>, layer: Layer) -> Counts {
    let c = driver.counters(counters_layer(layer));
    assert_eq!(c.failed, 0, "{layer:?}");
    Counts {
        reinjected: c.reinjected,
        suspended: c.skipped_suspended,
    }
}

impl<'s> Loaded<'s> for Host<'s> {
    fn counters_now(&self, layer: Layer) -> Option<Counts> {
        self.driver.as_ref().map(|driver| counts(driver, layer))
    }

    fn unloader(&mut self) -> Unloader<'s> {
        let driver = self.driver.take().expect("loaded once, unloaded once");
        Box::new(move || {
            let finals = Finals::from_fn(|layer| counts(&driver, layer));
            assert_eq!(driver.unload(), NtStatus::SUCCESS);
            finals
        })
    }
}

/// Loads the host build on a stack configured by `configure` and runs `case`.
fn check(configure: fn(&SimulatedStack), case: impl FnOnce(&SimulatedStack, &mut dyn Loaded<'_>)) {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure(&sim);
    let mut host = Host::load(&sim);
    case(&sim, &mut host);
    drop(host);
    sim.assert_clean();
}

#[test]
fn a_sleep_waits_for_the_injections_in_flight_and_starts_none_until_the_resume() {
    check(configure_port, power_cases::drain_across_sleep_and_resume);
}

#[test]
fn every_layer_is_drained_across_repeated_sleeps() {
    check(
        configure_port,
        power_cases::every_layer_drained_across_repeated_sleeps,
    );
}

#[test]
fn a_completion_that_never_comes_bounds_the_wait_and_the_simulator_sees_it() {
    check(configure_port, |sim, driver| {
        power_cases::a_completion_that_never_comes(sim, driver, DRAIN_PATIENCE);
    });
}

#[test]
fn unload_while_suspended_drains_and_removes_everything() {
    check(configure_port, power_cases::unload_while_suspended);
}

#[test]
fn unload_during_a_sleep_routine_that_waits_stops_its_wait() {
    check(
        configure_port,
        power_cases::unload_while_the_sleep_routine_waits,
    );
}

#[test]
fn a_sleep_while_waiting_for_tcpip_leaves_the_driver_suspended_until_the_resume() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_late_tcpip(&sim);
    let mut host = Host::load(&sim);
    let progress = |host: &Host<'_>| host.driver.as_ref().unwrap().progress();
    assert_eq!(progress(&host), Progress::WaitingForTcpip);
    power_cases::a_sleep_during_the_load(&sim, &mut host);
    drop(host);
    sim.assert_clean();
}

#[test]
fn a_notification_at_dispatch_level_does_not_wait_and_other_notifications_are_ignored() {
    check(
        configure_port,
        power_cases::dispatch_level_and_other_notifications,
    );
}

#[test]
fn a_failed_registration_fails_the_load_and_leaves_nothing() {
    let _heap = heap::check();
    for call in [KernelFn::ExCreateCallback, KernelFn::ExRegisterCallback] {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        sim.fail_call(call, 0, NtStatus::INSUFFICIENT_RESOURCES);
        let error = host_driver::try_load(&sim).expect_err("the load fails");
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
