//! Deferred load, run on the shipped image: the cases of tests/support/deferred_load_cases.rs
//! (the host build runs them in tests/deferred_load.rs). Its DriverEntry returns after one
//! attempt without sleeping, its work item (run by the test as a system worker thread) retries
//! on the virtual clock with the default policy, its BFE callback triggers the WFP objects, every
//! order of TCP/IP and BFE ends loaded, the 10 s deadline ends inert and logged, and DriverUnload
//! is clean from every step.

#[path = "support/deferred_load_cases.rs"]
mod cases;
mod support;

use cases::{Driven, Loaded};
use support::harness::Harness;
use support::waiting;
use wfp_injector::driver::Driver;
use wfp_injector::nt::NtStatus;
use wfp_sim::SimulatedStack;

/// The image, loaded through its DriverEntry.
struct Image<'s>(Harness<'s>);

impl<'s> Loaded<'s> for Image<'s> {
    fn host(&self) -> Option<&Driver<&'s SimulatedStack>> {
        None
    }

    fn unloader(&mut self) -> Box<dyn FnOnce() + Send + 's> {
        let call = self.0.unload_call();
        Box::new(move || call.run())
    }
}

fn load(sim: &SimulatedStack) -> Option<Driven<'_>> {
    let mut harness = Harness::new(sim)?;
    assert_eq!(harness.driver_entry(), NtStatus::SUCCESS);
    Some(Box::new(Image(harness)))
}

#[test]
fn every_order_of_tcpip_ready_and_bfe_running_loads_the_image() {
    cases::every_order_ends_loaded(load);
}

#[test]
fn the_image_gives_up_after_the_default_deadline_stays_inert_and_unloads_clean() {
    cases::the_deadline_leaves_the_driver_inert(load);
}

#[test]
fn the_image_unloads_cleanly_at_each_step() {
    cases::unload_with_the_retry_queued(load);
    cases::unload_between_handles_and_objects(load);
    cases::unload_while_a_retry_sleeps(load);
    cases::unload_while_the_bfe_callback_runs(load);
}

#[test]
fn the_image_survives_a_bfe_restart_after_its_load() {
    cases::a_bfe_restart_after_the_load(load);
}
