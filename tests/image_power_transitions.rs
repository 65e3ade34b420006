//! Sleep and resume through `\Callback\PowerState`, shipped image: the cases of
//! tests/support/power_cases.rs through the driver image on the simulated stack (the host build
//! runs them in tests/power_transitions.rs). The image shows its counters only in the debug log
//! at unload ("<layer>: classified N, reinjected N, ..., suspended N, ..."), which this test
//! reads; during a run the cases see the image only through the stack.

#[path = "support/power_cases.rs"]
mod power_cases;
mod support;

use power_cases::{Counts, Finals, Loaded, Unloader, configure_late_tcpip, configure_port};
use support::harness::{Harness, logged_count};
use wfp_injector::driver::power::DRAIN_PATIENCE;
use wfp_injector::nt::NtStatus;
use wfp_sim::traffic::Layer;
use wfp_sim::{KernelFn, SimulatedStack};

/// Each layer's counts from the unload log's counters lines (a layer that classified nothing
/// has no line: zero).
fn finals_from_log(sim: &SimulatedStack) -> Finals {
    let log = sim.debug_log();
    Finals::from_fn(|layer| {
        let prefix = format!("{layer:?}: classified ");
        let lines: Vec<&str> = log
            .iter()
            .map(|(_, _, text)| text.as_str())
            .filter(|text| text.contains(&prefix))
            .collect();
        assert!(lines.len() <= 1, "one unload, one line: {lines:?}");
        lines.first().map_or_else(Counts::default, |line| {
            assert_eq!(logged_count(line, "failed"), 0, "{line}");
            Counts {
                reinjected: logged_count(line, "reinjected"),
                suspended: logged_count(line, "suspended"),
            }
        })
    })
}

/// The image, loaded through its DriverEntry.
struct Image<'s> {
    harness: Harness<'s>,
    sim: &'s SimulatedStack,
}

impl<'s> Loaded<'s> for Image<'s> {
    fn counters_now(&self, _layer: Layer) -> Option<Counts> {
        None
    }

    fn unloader(&mut self) -> Unloader<'s> {
        let call = self.harness.unload_call();
        let sim = self.sim;
        Box::new(move || {
            call.run();
            finals_from_log(sim)
        })
    }
}

/// Loads the image on a stack configured by `configure` and runs `case`.
fn check(configure: fn(&SimulatedStack), case: impl FnOnce(&SimulatedStack, &mut dyn Loaded<'_>)) {
    let sim = SimulatedStack::new();
    configure(&sim);
    let Some(harness) = Harness::loaded(&sim) else {
        return;
    };
    let mut image = Image { harness, sim: &sim };
    case(&sim, &mut image);
    drop(image);
    sim.assert_clean();
}

#[test]
fn the_image_waits_for_the_injections_in_flight_before_a_sleep_and_reinjects_after_the_resume() {
    check(configure_port, power_cases::drain_across_sleep_and_resume);
}

#[test]
fn the_image_drains_every_layer_across_repeated_sleeps() {
    check(
        configure_port,
        power_cases::every_layer_drained_across_repeated_sleeps,
    );
}

#[test]
fn the_image_bounds_its_wait_for_a_completion_that_never_comes() {
    check(configure_port, |sim, driver| {
        power_cases::a_completion_that_never_comes(sim, driver, DRAIN_PATIENCE);
    });
}

#[test]
fn the_image_unloads_cleanly_while_the_system_is_suspended() {
    check(configure_port, power_cases::unload_while_suspended);
}

#[test]
fn the_image_unloading_while_its_sleep_routine_waits_stops_the_wait_and_drains() {
    check(
        configure_port,
        power_cases::unload_while_the_sleep_routine_waits,
    );
}

#[test]
fn the_image_sees_a_sleep_while_it_waits_for_tcpip() {
    check(configure_late_tcpip, power_cases::a_sleep_during_the_load);
}

#[test]
fn the_image_does_not_wait_at_dispatch_level_and_ignores_other_notifications() {
    check(
        configure_port,
        power_cases::dispatch_level_and_other_notifications,
    );
}

#[test]
fn the_image_fails_its_load_when_the_power_registration_fails_and_leaves_nothing() {
    for call in [KernelFn::ExCreateCallback, KernelFn::ExRegisterCallback] {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        sim.fail_call(call, 0, NtStatus::INSUFFICIENT_RESOURCES);
        let Some(mut harness) = Harness::new(&sim) else {
            return;
        };
        assert_ne!(harness.driver_entry(), NtStatus::SUCCESS, "{call:?}");
        drop(harness);
        assert!(
            sim.debug_log()
                .iter()
                .any(|(_, _, line)| line.contains("PowerCallback")),
            "{call:?}: the log names the failing step: {:?}",
            sim.debug_log()
        );
        assert_eq!(sim.power_registrations(), 0, "{call:?}");
        assert_eq!(sim.power_object_references(), 0, "{call:?}");
        sim.assert_clean();
    }
}
