//! The fault sweep of tests/fault_sweep.rs run on the shipped image (target/sys/wfp_injector.sys
//! from scripts/build-sys.sh, mapped by the test loader with its imports bound to the simulated
//! stack): every fallible kernel call fails at every step of DriverEntry, classify, the DPCs and
//! DriverUnload in turn, with the same documented outcomes, as far as the image lets them be
//! seen (DriverEntry's status, classify verdicts, what the stack holds; not the driver's
//! counters or unload status, which the image does not expose), plus the image's own calls
//! (IoCreateDevice, pool allocation). Nothing may be left in the pool or as a device.

#[path = "support/host_driver.rs"]
mod host_driver;
mod support;
#[path = "support/sweep.rs"]
mod sweep;

use support::harness::Harness;
use sweep::Backend;
use wfp_injector::driver::{LayerSnapshot, LoadStep};
use wfp_injector::nt::NtStatus;
use wfp_sim::{KernelFn, SimulatedStack};

/// The image on one stack.
struct Image<'s>(Option<Harness<'s>>);

impl<'s> Backend<'s> for Image<'s> {
    fn load(&mut self, sim: &'s SimulatedStack) -> Result<(), (Option<LoadStep>, NtStatus)> {
        let mut harness = Harness::new(sim).expect("the driver image (scripts/build-sys.sh)");
        let status = harness.driver_entry();
        let installed = harness.driver.DriverUnload.is_some();
        self.0 = Some(harness);
        if status.is_success() {
            assert!(installed, "DriverEntry succeeded without DriverUnload");
            Ok(())
        } else {
            // KMDF: after a failed DriverEntry the framework's unload routine may still be in
            // the driver object (the I/O manager never calls it); what matters is that the image
            // unbound and no framework object is left.
            assert_eq!(
                sim.kmdf_objects(),
                wfp_sim::kmdf::KmdfObjects::default(),
                "a failed DriverEntry left framework objects"
            );
            Err((None, status))
        }
    }

    fn counters(&self) -> Option<(LayerSnapshot, (u64, u64))> {
        None
    }

    fn unload(&mut self) -> Option<NtStatus> {
        if let Some(harness) = self.0.as_mut() {
            harness.driver_unload();
        }
        None
    }

    fn abandon(&mut self) {
        if let Some(harness) = self.0.take() {
            harness.abandon();
        }
    }
}

fn image(_: &SimulatedStack) -> Box<dyn Backend<'_> + '_> {
    Box::new(Image(None))
}

fn image_present() -> bool {
    support::image_bytes().is_some()
}

#[test]
fn every_fallible_call_fails_at_every_step_in_the_image() {
    if !image_present() {
        return;
    }
    let (swept, calls) = sweep::sweep(&image);
    for needed in [
        KernelFn::ExAllocatePool2,
        KernelFn::FwpsInjectionHandleDestroy0,
        KernelFn::NdisGetDataBuffer,
        KernelFn::KeInsertQueueDpc,
        KernelFn::FwpsCalloutUnregisterById0,
    ] {
        assert!(calls.contains(&needed), "{needed:?} is swept");
    }
    eprintln!("image: swept {swept} failures of {calls:?}");
    assert!(swept > 90, "only {swept} failures swept");
}

#[test]
fn each_completion_in_turn_reports_a_failed_injection_in_the_image() {
    if !image_present() {
        return;
    }
    sweep::completion_sweep(&image);
}
