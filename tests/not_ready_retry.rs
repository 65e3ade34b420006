//! The retry on STATUS_FWP_TCPIP_NOT_READY, on the simulated stack's virtual clock.

#[path = "support/heap.rs"]
mod heap;

use std::time::Duration;

use wfp_injector::inject::{AddressFamily, InjectionHandle, InjectionTypes, RetryPolicy};
use wfp_injector::nt::{Irql, NtStatus};
use wfp_injector::{Error, InputError, KernelFn};
use wfp_sim::SimulatedStack;

const TRANSPORT: InjectionTypes = InjectionTypes::TRANSPORT;

/// An IPv4 TRANSPORT handle created under `policy`.
fn create_v4<'a>(
    sim: &'a SimulatedStack,
    policy: &RetryPolicy,
) -> Result<InjectionHandle<&'a SimulatedStack>, Error> {
    InjectionHandle::create(sim, AddressFamily::Ipv4, TRANSPORT, policy)
}

fn policy(first_ms: u64, growth: u32, max_ms: u64, deadline_ms: u64) -> RetryPolicy {
    RetryPolicy {
        first_delay: Duration::from_millis(first_ms),
        growth,
        max_delay: Duration::from_millis(max_ms),
        deadline: Duration::from_millis(deadline_ms),
    }
}

#[test]
fn not_ready_three_times_then_success_backs_off_exponentially() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(3);
    let handle = create_v4(&sim, &policy(10, 2, 1000, 5000)).unwrap();
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 4);
    assert_eq!(
        sim.sleeps(),
        [10, 20, 40].map(Duration::from_millis).to_vec(),
        "first delay, then doubling"
    );
    assert_eq!(sim.virtual_time(), Duration::from_millis(70));
    drop(handle);
    sim.assert_clean();
}

#[test]
fn waits_are_capped_at_max_delay() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(5);
    let handle = create_v4(&sim, &policy(100, 3, 500, 10_000)).unwrap();
    assert_eq!(
        sim.sleeps(),
        [100, 300, 500, 500, 500]
            .map(Duration::from_millis)
            .to_vec()
    );
    drop(handle);
    sim.assert_clean();
}

#[test]
fn thirty_second_deadline_runs_out_on_the_virtual_clock_and_returns_not_ready() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(u32::MAX);
    let started = std::time::Instant::now();
    let error = InjectionHandle::create(
        &sim,
        AddressFamily::Ipv6,
        TRANSPORT,
        &policy(10, 2, 1000, 30_000),
    )
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "virtual time, not real time"
    );
    assert!(error.is_tcpip_not_ready());
    assert_eq!(
        error,
        Error::Kernel {
            call: KernelFn::FwpsInjectionHandleCreate0,
            status: NtStatus::FWP_TCPIP_NOT_READY
        }
    );
    assert_eq!(
        sim.virtual_time(),
        Duration::from_secs(30),
        "exactly the deadline"
    );
    let sleeps = sim.sleeps();
    assert!(sleeps.iter().all(|nap| *nap <= Duration::from_secs(1)));
    // 10+20+...+640 = 1270 ms, then 1 s naps, the last one cut to fit the deadline; then a final
    // attempt at the deadline.
    assert_eq!(
        sim.calls(KernelFn::FwpsInjectionHandleCreate0),
        sleeps.len() as u64 + 1
    );
    assert!(sim.open_handles().is_empty());
    sim.assert_clean();
}

#[test]
fn other_failures_are_not_retried() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.fail_call(
        KernelFn::FwpsInjectionHandleCreate0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let error = create_v4(&sim, &RetryPolicy::default()).unwrap_err();
    assert_eq!(error.status(), NtStatus::INSUFFICIENT_RESOURCES);
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 1);
    assert!(sim.sleeps().is_empty());
    sim.assert_clean();
}

#[test]
fn a_failure_after_not_ready_stops_the_retry() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(2);
    // Third call: after the two not-ready answers.
    sim.fail_call(KernelFn::FwpsInjectionHandleCreate0, 2, NtStatus::NO_MEMORY);
    let error = create_v4(&sim, &RetryPolicy::default()).unwrap_err();
    assert_eq!(error.status(), NtStatus::NO_MEMORY);
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 3);
    assert_eq!(sim.sleeps().len(), 2);
    sim.assert_clean();
}

#[test]
fn a_failed_wait_ends_the_retry_with_the_wait_error() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(5);
    sim.fail_call(KernelFn::KeDelayExecutionThread, 1, NtStatus::UNSUCCESSFUL);
    let error = create_v4(&sim, &RetryPolicy::default()).unwrap_err();
    assert_eq!(
        error,
        Error::Kernel {
            call: KernelFn::KeDelayExecutionThread,
            status: NtStatus::UNSUCCESSFUL
        }
    );
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 2);
    sim.assert_clean();
}

#[test]
fn single_attempt_returns_not_ready_without_waiting() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(1);
    let error = InjectionHandle::try_create(&sim, AddressFamily::Ipv4, TRANSPORT).unwrap_err();
    assert!(error.is_tcpip_not_ready());
    assert!(sim.sleeps().is_empty());
    // The caller's own worker tries again later.
    let handle = InjectionHandle::try_create(&sim, AddressFamily::Ipv4, TRANSPORT).unwrap();
    drop(handle);
    let no_retry = create_v4(&sim, &RetryPolicy::NO_RETRY);
    drop(no_retry.unwrap());
    sim.assert_clean();
}

#[test]
fn no_retry_policy_makes_exactly_one_attempt() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(1);
    let error = create_v4(&sim, &RetryPolicy::NO_RETRY).unwrap_err();
    assert!(error.is_tcpip_not_ready());
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 1);
    assert!(sim.sleeps().is_empty());
    sim.assert_clean();
}

#[test]
fn retrying_above_passive_is_refused_before_any_call() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let _apc = sim.set_irql(Irql::APC);
    let error = create_v4(&sim, &RetryPolicy::default()).unwrap_err();
    assert!(matches!(
        error,
        Error::IrqlTooHigh {
            current: Irql::APC,
            ..
        }
    ));
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 0);
    sim.assert_clean();
}

#[test]
fn invalid_policies_are_refused_before_any_call() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let cases = [
        (policy(0, 2, 100, 1000), "busy loop"),
        (policy(10, 0, 100, 1000), "growth is zero"),
        (policy(100, 2, 10, 1000), "max_delay is shorter"),
    ];
    for (bad, expected) in cases {
        let error = create_v4(&sim, &bad).unwrap_err();
        match error {
            Error::InvalidInput(InputError::InvalidRetryPolicy(why)) => {
                assert!(why.contains(expected), "{why}")
            }
            other => panic!("expected a policy error, got {other:?}"),
        }
    }
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 0);
    sim.assert_clean();
}

#[test]
fn default_policy_is_bounded_and_documented_values_hold() {
    let _heap = heap::check();
    let default = RetryPolicy::default();
    assert_eq!(default.first_delay, Duration::from_millis(10));
    assert_eq!(default.growth, 2);
    assert_eq!(default.max_delay, Duration::from_millis(500));
    assert_eq!(default.deadline, Duration::from_secs(10));
    assert!(default.validate().is_ok());
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(u32::MAX);
    let error = create_v4(&sim, &default).unwrap_err();
    assert!(error.is_tcpip_not_ready());
    assert_eq!(sim.virtual_time(), Duration::from_secs(10));
    sim.assert_clean();
}

#[test]
fn kernel_sleep_interval_is_relative_in_100ns_units() {
    let _heap = heap::check();
    use wfp_injector::nt::time::ticks_100ns;
    assert_eq!(ticks_100ns(Duration::from_millis(10)), 100_000);
    assert_eq!(ticks_100ns(Duration::from_nanos(250)), 2);
    assert_eq!(ticks_100ns(Duration::MAX), i64::MAX);
    let sim = SimulatedStack::new();
    wfp_injector::nt::time::sleep(&&sim, Duration::from_micros(1500)).unwrap();
    assert_eq!(sim.sleeps(), vec![Duration::from_micros(1500)]);
    {
        // APC_LEVEL is the highest IRQL a sleep allows.
        let _apc = sim.set_irql(Irql::APC);
        wfp_injector::nt::time::sleep(&&sim, Duration::from_micros(500)).unwrap();
    }
    assert_eq!(sim.calls(KernelFn::KeDelayExecutionThread), 2);
    let _dispatch = sim.set_irql(Irql::DISPATCH);
    let refused = wfp_injector::nt::time::sleep(&&sim, Duration::from_millis(1));
    assert!(matches!(
        refused,
        Err(wfp_injector::nt::time::SleepError::IrqlTooHigh { .. })
    ));
    // The safe layer reports it as its own IrqlTooHigh.
    assert!(matches!(
        refused.map_err(Error::from),
        Err(Error::IrqlTooHigh { .. })
    ));
    assert_eq!(
        sim.calls(KernelFn::KeDelayExecutionThread),
        2,
        "refused above APC_LEVEL"
    );
    sim.assert_clean();
}
