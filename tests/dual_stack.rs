//! DualStackInjector: all-or-nothing creation, per-family lookup, teardown.

#[path = "support/heap.rs"]
mod heap;

use std::time::Duration;

use wfp_injector::inject::{
    AddressFamily, DualStackInjector, InjectionTypes, IpFamily, RetryPolicy,
};
use wfp_injector::nt::{Irql, NtStatus};
use wfp_injector::{Error, KernelFn};
use wfp_sim::SimulatedStack;

const TYPES: InjectionTypes = InjectionTypes::NETWORK;

#[test]
fn creates_one_handle_per_family_with_windows_family_values() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let injector = DualStackInjector::create(&sim, TYPES, &RetryPolicy::default()).unwrap();
    let open = sim.open_handles();
    assert_eq!(
        open.iter().map(|h| h.family).collect::<Vec<_>>(),
        vec![2, 23]
    );
    assert!(open.iter().all(|h| h.flags == 0x4));
    assert_eq!(injector.handle(IpFamily::V4).family(), AddressFamily::Ipv4);
    assert_eq!(injector.handle(IpFamily::V6).family(), AddressFamily::Ipv6);
    assert_eq!(injector.types(), TYPES);
    injector.close().unwrap();
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleDestroy0), 2);
    sim.assert_clean();
}

#[test]
fn lookup_by_packet_uses_the_ip_version_nibble() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let injector = DualStackInjector::try_create(&sim, TYPES).unwrap();
    let v4 = injector.handle(IpFamily::V4).as_raw();
    let v6 = injector.handle(IpFamily::V6).as_raw();
    assert_ne!(v4, v6);
    assert_eq!(injector.handle_for_packet(0x45).unwrap().as_raw(), v4);
    assert_eq!(injector.handle_for_packet(0x60).unwrap().as_raw(), v6);
    assert!(injector.handle_for_packet(0x00).is_none());
    assert!(injector.handle_for_packet(0x55).is_none());
    drop(injector);
    sim.assert_clean();
}

#[test]
fn ipv6_failure_destroys_the_ipv4_handle_and_names_family_and_status() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.fail_call(
        KernelFn::FwpsInjectionHandleCreate0,
        1,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let failure = DualStackInjector::create(&sim, TYPES, &RetryPolicy::default()).unwrap_err();
    assert_eq!(failure.family, Some(IpFamily::V6));
    assert_eq!(
        failure.error,
        Error::Kernel {
            call: KernelFn::FwpsInjectionHandleCreate0,
            status: NtStatus::INSUFFICIENT_RESOURCES
        }
    );
    assert_eq!(
        failure.to_string(),
        "V6 injection handle: FwpsInjectionHandleCreate0 failed with STATUS_INSUFFICIENT_RESOURCES (0xC000009A)"
    );
    assert_eq!(
        sim.all_handles().len(),
        1,
        "only the IPv4 handle was ever created"
    );
    assert!(
        sim.all_handles()[0].destroyed,
        "and it was destroyed before the error returned"
    );
    sim.assert_clean();
}

#[test]
fn ipv4_failure_creates_nothing() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.fail_call(
        KernelFn::FwpsInjectionHandleCreate0,
        0,
        NtStatus::UNSUCCESSFUL,
    );
    let failure = DualStackInjector::try_create(&sim, TYPES).unwrap_err();
    assert_eq!(failure.family, Some(IpFamily::V4));
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 1);
    assert!(sim.all_handles().is_empty());
    sim.assert_clean();
}

#[test]
fn not_ready_retry_shares_one_deadline_across_both_families() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let policy = RetryPolicy {
        first_delay: Duration::from_millis(100),
        growth: 1,
        max_delay: Duration::from_millis(100),
        deadline: Duration::from_millis(300),
    };
    // Three not-ready answers for IPv4 use the whole 300 ms; IPv6's first not-ready answer then
    // has no time left.
    sim.set_tcpip_not_ready_for(3);
    sim.fail_call(
        KernelFn::FwpsInjectionHandleCreate0,
        4,
        NtStatus::FWP_TCPIP_NOT_READY,
    );
    let failure = DualStackInjector::create(&sim, TYPES, &policy).unwrap_err();
    assert_eq!(failure.family, Some(IpFamily::V6));
    assert!(failure.error.is_tcpip_not_ready());
    assert_eq!(sim.virtual_time(), Duration::from_millis(300));
    assert!(sim.open_handles().is_empty());
    sim.assert_clean();
}

#[test]
fn not_ready_then_ready_creates_both() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(4);
    let injector = DualStackInjector::create(&sim, TYPES, &RetryPolicy::default()).unwrap();
    assert_eq!(sim.open_handles().len(), 2);
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 6);
    injector.close().unwrap();
    sim.assert_clean();
}

#[test]
fn close_destroys_both_even_when_the_first_destroy_fails() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let injector = DualStackInjector::try_create(&sim, TYPES).unwrap();
    let v6 = injector.handle(IpFamily::V6).as_raw();
    sim.fail_call(
        KernelFn::FwpsInjectionHandleDestroy0,
        0,
        NtStatus::UNSUCCESSFUL,
    );
    let (failure, unclosed) = injector.close().unwrap_err();
    assert!(unclosed.is_none());
    assert_eq!(
        failure.family,
        Some(IpFamily::V6),
        "IPv6 is destroyed first"
    );
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleDestroy0), 2);
    let open = sim.open_handles();
    assert_eq!(open.len(), 1, "the IPv4 handle was still destroyed");
    assert_eq!(open[0].raw, v6 as usize);
    // SAFETY: the failed destroy left `v6` live; nothing else owns it.
    drop(unsafe {
        wfp_injector::inject::InjectionHandle::from_raw(&sim, v6, AddressFamily::Ipv6, TYPES)
    });
    sim.assert_clean();
}

#[test]
fn close_above_passive_destroys_nothing_and_hands_the_injector_back() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let injector = DualStackInjector::try_create(&sim, TYPES).unwrap();
    let dispatch = sim.set_irql(Irql::DISPATCH);
    let (failure, unclosed) = injector.close().unwrap_err();
    assert_eq!(failure.family, None);
    assert!(matches!(failure.error, Error::IrqlTooHigh { .. }));
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleDestroy0), 0);
    drop(dispatch);
    unclosed.unwrap().close().unwrap();
    sim.assert_clean();
}

#[test]
fn create_above_passive_is_refused_for_the_first_family() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let _dispatch = sim.set_irql(Irql::DISPATCH);
    let failure = DualStackInjector::create(&sim, TYPES, &RetryPolicy::default()).unwrap_err();
    assert!(matches!(failure.error, Error::IrqlTooHigh { .. }));
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 0);
    sim.assert_clean();
}

#[test]
fn simulated_stacks_are_independent_across_threads() {
    let _heap = heap::check();
    let workers: Vec<_> = (0..4)
        .map(|n| {
            std::thread::spawn(move || {
                let sim = SimulatedStack::new();
                sim.set_tcpip_not_ready_for(n);
                let injector =
                    DualStackInjector::create(&sim, TYPES, &RetryPolicy::default()).unwrap();
                assert_eq!(
                    sim.calls(KernelFn::FwpsInjectionHandleCreate0),
                    u64::from(n) + 2
                );
                drop(injector);
                sim.assert_clean();
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}
