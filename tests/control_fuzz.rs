//! Random control requests through the simulated I/O manager into the host-built driver behind
//! its KMDF shell (tests/support/control_fuzz.rs): allowed statuses only, nothing changed by a
//! refused request, no violation, nothing left after unload.

#[path = "support/control_fuzz.rs"]
mod control_fuzz;
#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/kmdf_host.rs"]
mod kmdf_host;

use host_driver::{configure_port, registry_path};
use kmdf_host::{Sim, evt_driver_unload, evt_io_device_control};
use wfp_injector::nt::NtStatus;
use wfp_injector::shell::kmdf;
use wfp_injector::shell::slot::Slot;
use wfp_injector::sys::types::DRIVER_OBJECT;
use wfp_sim::SimulatedStack;

#[test]
fn thousands_of_random_requests_answer_in_words_and_change_nothing_when_refused() {
    let _serial = kmdf_host::serial();
    let sim: Sim = Box::leak(Box::new(SimulatedStack::new()));
    configure_port(sim);
    let slot: &'static Slot<Sim> = Box::leak(Box::new(Slot::new()));
    kmdf_host::set_current(Some((sim, slot)));
    // SAFETY: plain data; zero is how the I/O manager hands fields over.
    let mut driver: Box<DRIVER_OBJECT> = Box::new(unsafe { std::mem::zeroed() });
    let path = registry_path();
    // SAFETY: the I/O manager's arguments; the callbacks use this stack and slot.
    let status = unsafe {
        kmdf::driver_entry(
            sim,
            slot,
            &mut *driver,
            &path.string,
            evt_driver_unload,
            evt_io_device_control,
        )
    };
    assert_eq!(NtStatus(status), NtStatus::SUCCESS);
    let (accepted, changes) = control_fuzz::run(sim, 0x5EED_C0DE, 4000);
    assert!(
        accepted > 400 && changes > 100,
        "enough requests got through: {accepted}, {changes} changes"
    );
    let unload = driver.DriverUnload.expect("the framework's unload");
    // SAFETY: the I/O manager's unload call.
    unsafe { unload(&mut *driver) };
    sim.assert_clean();
}
