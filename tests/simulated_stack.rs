//! The simulated stack on its own, through the raw seam: it must refuse what the kernel refuses,
//! so that the safe layer's own refusals are not the only line of defence being tested.

#[path = "support/heap.rs"]
mod heap;

use core::ffi::c_void;
use std::ptr;

use wfp_injector::nt::{Irql, NtStatus};
use wfp_injector::sys::KernelApi;
use wfp_injector::sys::types::HANDLE;
use wfp_sim::{KernelFn, SimulatedStack, Violation};

fn raw_create(sim: &SimulatedStack, family: u16, flags: u32) -> (NtStatus, HANDLE) {
    let mut handle: HANDLE = ptr::null_mut();
    // SAFETY: PASSIVE_LEVEL unless the test raised it; `handle` is writable.
    let status = unsafe { (&sim).fwps_injection_handle_create0(family, flags, &mut handle) };
    (NtStatus(status), handle)
}

#[test]
fn refuses_unspecified_family_with_network_unknown_flags_and_unknown_families() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    assert_eq!(raw_create(&sim, 0, 0x4).0, NtStatus::INVALID_PARAMETER);
    assert_eq!(raw_create(&sim, 2, 0x12).0, NtStatus::INVALID_PARAMETER);
    assert_eq!(
        raw_create(&sim, 10, 0x2).0,
        NtStatus::INVALID_PARAMETER,
        "Linux AF_INET6"
    );
    assert!(sim.all_handles().is_empty());
    sim.assert_clean();
}

#[test]
fn hands_out_distinct_never_reused_handles() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let (status, first) = raw_create(&sim, 2, 0x2);
    assert!(status.is_success());
    // SAFETY: `first` is live.
    assert_eq!(unsafe { (&sim).fwps_injection_handle_destroy0(first) }, 0);
    let (_, second) = raw_create(&sim, 2, 0x2);
    assert_ne!(first, second, "a destroyed value is never handed out again");
    // SAFETY: `second` is live.
    assert_eq!(unsafe { (&sim).fwps_injection_handle_destroy0(second) }, 0);
    sim.assert_clean();
}

#[test]
fn records_calls_above_passive_and_null_out_pointers() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    {
        let _dispatch = sim.set_irql(Irql::DISPATCH);
        assert_eq!(Irql((&sim).ke_get_current_irql()), Irql::DISPATCH);
        assert!(!raw_create(&sim, 2, 0x2).0.is_success());
        let interval = -1_i64;
        // SAFETY: `interval` is readable; the IRQL is deliberately wrong.
        unsafe { (&sim).ke_delay_execution_thread(0, 0, &interval) };
    }
    assert_eq!(
        Irql((&sim).ke_get_current_irql()),
        Irql::PASSIVE,
        "the guard restored it"
    );
    // SAFETY: deliberately wrong: a null out-pointer.
    let status =
        unsafe { (&sim).fwps_injection_handle_create0(2, 0x2, ptr::null_mut::<*mut c_void>()) };
    assert_eq!(NtStatus(status), NtStatus::INVALID_PARAMETER);
    assert_eq!(
        sim.take_violations(),
        vec![
            Violation::WrongIrql {
                call: KernelFn::FwpsInjectionHandleCreate0,
                irql: Irql::DISPATCH
            },
            Violation::WrongIrql {
                call: KernelFn::KeDelayExecutionThread,
                irql: Irql::DISPATCH
            },
            Violation::NullPointer(KernelFn::FwpsInjectionHandleCreate0),
        ]
    );
    assert!(sim.all_handles().is_empty());
    sim.assert_clean();
}

#[test]
fn irql_is_per_thread() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let _dispatch = sim.set_irql(Irql::DISPATCH);
    std::thread::scope(|scope| {
        scope.spawn(|| assert_eq!(Irql((&sim).ke_get_current_irql()), Irql::PASSIVE));
    });
    assert_eq!(Irql((&sim).ke_get_current_irql()), Irql::DISPATCH);
}

#[test]
fn planned_failures_fire_once_at_the_chosen_call_and_have_no_effect() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.fail_call(
        KernelFn::FwpsInjectionHandleCreate0,
        1,
        NtStatus::FWP_CANNOT_PEND,
    );
    let (first, h1) = raw_create(&sim, 2, 0x2);
    let (second, _) = raw_create(&sim, 2, 0x2);
    let (third, h3) = raw_create(&sim, 2, 0x2);
    assert!(first.is_success() && third.is_success());
    assert_eq!(second, NtStatus::FWP_CANNOT_PEND);
    assert_eq!(sim.open_handles().len(), 2);
    for handle in [h1, h3] {
        // SAFETY: both are live.
        unsafe { (&sim).fwps_injection_handle_destroy0(handle) };
    }
    sim.assert_clean();
}

#[test]
fn absolute_waits_advance_the_virtual_clock_to_the_deadline() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let relative = -5_000_i64; // 500 us
    let absolute = 20_000_i64; // 2 ms after boot
    for interval in [relative, absolute] {
        // SAFETY: PASSIVE_LEVEL; `interval` is readable.
        unsafe { (&sim).ke_delay_execution_thread(0, 0, &interval) };
    }
    assert_eq!(sim.virtual_time(), std::time::Duration::from_millis(2));
    sim.assert_clean();
}
