//! The shared driver code both entry shells call: load creates the dual-stack injector (waiting for
//! TCP/IP), unload destroys it, and a failed load leaves nothing behind.

use wfp_injector::driver::{DRIVER_INJECTION_TYPES, Driver, DriverConfig};
use wfp_injector::inject::IpFamily;
use wfp_injector::nt::NtStatus;
use wfp_injector::sim::{SimCall, SimulatedStack};
use wfp_injector::sys::types::DEVICE_OBJECT;

fn fake_device() -> *mut DEVICE_OBJECT {
    std::ptr::NonNull::dangling().as_ptr()
}

#[test]
fn load_then_unload_leaves_the_stack_empty() {
    let sim = SimulatedStack::new();
    let driver = Driver::load(&sim, fake_device(), &DriverConfig::default()).unwrap();
    assert_eq!(driver.device(), fake_device());
    assert_eq!(driver.injector().handles().types(), DRIVER_INJECTION_TYPES);
    assert_eq!(sim.open_handles().len(), 2);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn load_waits_for_tcpip() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(7);
    let driver = Driver::load(&sim, fake_device(), &DriverConfig::default()).unwrap();
    assert_eq!(sim.sleeps().len(), 7);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn load_failing_on_ipv6_returns_its_status_and_leaves_nothing() {
    let sim = SimulatedStack::new();
    sim.fail_call(
        SimCall::InjectionHandleCreate,
        1,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let failure = Driver::load(&sim, fake_device(), &DriverConfig::default()).unwrap_err();
    assert_eq!(failure.family, Some(IpFamily::V6));
    assert_eq!(failure.error.status(), NtStatus::INSUFFICIENT_RESOURCES);
    sim.assert_clean();
}

#[test]
fn load_gives_up_at_the_deadline_with_not_ready() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(u32::MAX);
    let config = DriverConfig::default();
    let failure = Driver::load(&sim, fake_device(), &config).unwrap_err();
    assert_eq!(failure.error.status(), NtStatus::FWP_TCPIP_NOT_READY);
    assert_eq!(sim.virtual_time(), config.retry.deadline);
    sim.assert_clean();
}

#[test]
fn unload_reports_a_failed_destroy_but_still_destroys_the_other_handle() {
    let sim = SimulatedStack::new();
    let driver = Driver::load(&sim, fake_device(), &DriverConfig::default()).unwrap();
    let v6 = driver.injector().handles().handle(IpFamily::V6).as_raw();
    sim.fail_call(SimCall::InjectionHandleDestroy, 0, NtStatus::UNSUCCESSFUL);
    assert_eq!(driver.unload(), NtStatus::UNSUCCESSFUL);
    assert_eq!(sim.open_handles().len(), 1);
    // SAFETY: the failed destroy left `v6` live and unowned.
    unsafe {
        use wfp_injector::sys::KernelApi;
        assert_eq!((&sim).fwps_injection_handle_destroy0(v6), 0);
    }
    sim.assert_clean();
}

#[test]
fn a_second_load_after_unload_works() {
    let sim = SimulatedStack::new();
    for _ in 0..3 {
        let driver = Driver::load(&sim, fake_device(), &DriverConfig::default()).unwrap();
        assert_eq!(driver.unload(), NtStatus::SUCCESS);
    }
    assert_eq!(sim.all_handles().len(), 6);
    sim.assert_clean();
}
