//! Randomized sequences of creates, not-ready windows, failures, IRQL changes and teardowns,
//! checked against a model. For each create the model predicts, from the IRQL, the requested
//! family and types, the not-ready window and the failure it planned, whether the create succeeds
//! (a create that should succeed must succeed), how many kernel calls it makes, and the status of
//! a failure. Whatever the sequence: every handle the kernel created is destroyed exactly once,
//! nothing is destroyed that is not live, and nothing reaches the kernel at the wrong IRQL.

use proptest::prelude::*;

use wfp_injector::inject::{
    AddressFamily, DualStackInjector, InjectionHandle, InjectionTypes, RetryPolicy,
};
use wfp_injector::nt::{Irql, NtStatus};
use wfp_sim::{KernelFn, SimulatedStack};

#[derive(Debug, Clone)]
enum Op {
    Create {
        family: u8,
        types: u32,
        not_ready: u32,
        failure: Option<u32>,
    },
    CreateDual {
        not_ready: u32,
        failure: Option<u32>,
    },
    Drop(usize),
    Close(usize),
    RoundTripRaw(usize),
    Irql(bool),
}

fn op() -> impl Strategy<Value = Op> {
    let status = prop_oneof![Just(None), Just(Some(0)), Just(Some(1)), Just(Some(2)),];
    prop_oneof![
        (0u8..3, 1u32..16, 0u32..4, status.clone()).prop_map(
            |(family, types, not_ready, failure)| {
                Op::Create {
                    family,
                    types,
                    not_ready,
                    failure,
                }
            }
        ),
        (0u32..4, status).prop_map(|(not_ready, failure)| Op::CreateDual { not_ready, failure }),
        (0usize..8).prop_map(Op::Drop),
        (0usize..8).prop_map(Op::Close),
        (0usize..8).prop_map(Op::RoundTripRaw),
        any::<bool>().prop_map(Op::Irql),
    ]
}

enum Owned<'a> {
    Single(InjectionHandle<&'a SimulatedStack>),
    Dual(DualStackInjector<&'a SimulatedStack>),
}

const FAILURES: [NtStatus; 3] = [
    NtStatus::INSUFFICIENT_RESOURCES,
    NtStatus::FWP_TCPIP_NOT_READY,
    NtStatus::UNSUCCESSFUL,
];

/// What one `InjectionHandle::create` with the default policy must return, and how many
/// kernel creates it makes: none when refused before the kernel (input or IRQL), else
/// `not_ready` not-ready answers (each retried after a wait; the default policy's deadline is
/// far away), then the planned failure (a not-ready one is retried once more) or success.
fn predict(
    refused: Option<NtStatus>,
    not_ready: u32,
    failure: Option<NtStatus>,
) -> (Result<(), NtStatus>, u64) {
    if let Some(status) = refused {
        return (Err(status), 0);
    }
    let calls = u64::from(not_ready) + 1;
    match failure {
        None => (Ok(()), calls),
        Some(NtStatus::FWP_TCPIP_NOT_READY) => (Ok(()), calls + 1),
        Some(status) => (Err(status), calls),
    }
}

fn run(ops: &[Op]) {
    let sim = SimulatedStack::new();
    let mut owned: Vec<Owned<'_>> = Vec::new();
    let mut irql_guard = None;
    let policy = RetryPolicy::default();
    for op in ops {
        let at_dispatch = irql_guard.is_some();
        let creates_before = sim.calls(KernelFn::FwpsInjectionHandleCreate0);
        let destroys_before = sim.calls(KernelFn::FwpsInjectionHandleDestroy0);
        match op.clone() {
            Op::Create {
                family,
                types,
                not_ready,
                failure,
            } => {
                let family = [
                    AddressFamily::Unspecified,
                    AddressFamily::Ipv4,
                    AddressFamily::Ipv6,
                ][family as usize];
                let types = InjectionTypes::from_bits(types).unwrap();
                // The documented input rule: AF_UNSPEC handles cannot do network injection.
                let refused_input =
                    family == AddressFamily::Unspecified && types.contains(InjectionTypes::NETWORK);
                let reaches_kernel = !refused_input && !at_dispatch;
                // Plan only what the kernel will see, so no plan leaks into the next op.
                let failure = failure
                    .filter(|_| reaches_kernel)
                    .map(|w| FAILURES[w as usize]);
                if reaches_kernel {
                    sim.set_tcpip_not_ready_for(not_ready);
                    if let Some(status) = failure {
                        sim.fail_call(KernelFn::FwpsInjectionHandleCreate0, not_ready, status);
                    }
                }
                let result = InjectionHandle::create(&sim, family, types, &policy);
                // Input is checked before IRQL: INVALID_PARAMETER, else INVALID_DEVICE_STATE.
                let refused = if refused_input {
                    Some(NtStatus::INVALID_PARAMETER)
                } else {
                    at_dispatch.then_some(NtStatus::INVALID_DEVICE_STATE)
                };
                let (expected, calls) = predict(refused, not_ready, failure);
                assert_eq!(
                    sim.calls(KernelFn::FwpsInjectionHandleCreate0) - creates_before,
                    calls,
                    "kernel creates for {op:?}"
                );
                match (result, expected) {
                    (Ok(handle), Ok(())) => {
                        assert_eq!(handle.family(), family);
                        assert_eq!(handle.types(), types);
                        let record = sim
                            .open_handles()
                            .into_iter()
                            .find(|h| h.raw == handle.as_raw() as usize)
                            .expect("the handle is the kernel's");
                        assert_eq!(record.flags, types.bits());
                        owned.push(Owned::Single(handle));
                    }
                    (Err(error), Err(status)) => assert_eq!(error.status(), status, "{op:?}"),
                    (result, expected) => panic!(
                        "{op:?} at dispatch={at_dispatch}: create answered {:?}, the model {expected:?}",
                        result.map(|_| ())
                    ),
                }
            }
            Op::CreateDual { not_ready, failure } => {
                let failure = failure
                    .filter(|_| !at_dispatch)
                    .map(|w| FAILURES[w as usize]);
                if !at_dispatch {
                    sim.set_tcpip_not_ready_for(not_ready);
                    // The IPv4 create takes the whole not-ready window and succeeds; the IPv6
                    // create's first call fails.
                    if let Some(status) = failure {
                        sim.fail_call(KernelFn::FwpsInjectionHandleCreate0, not_ready + 1, status);
                    }
                }
                let result = DualStackInjector::create(&sim, InjectionTypes::NETWORK, &policy);
                let refused = at_dispatch.then_some(NtStatus::INVALID_DEVICE_STATE);
                let (v4, v4_calls) = predict(refused, not_ready, None);
                let (expected, calls) = match v4 {
                    Err(status) => (Err(status), v4_calls),
                    Ok(()) => {
                        let (v6, v6_calls) = predict(None, 0, failure);
                        (v6, v4_calls + v6_calls)
                    }
                };
                assert_eq!(
                    sim.calls(KernelFn::FwpsInjectionHandleCreate0) - creates_before,
                    calls,
                    "kernel creates for {op:?}"
                );
                match (result, expected) {
                    // All-or-nothing is checked after every op: live handles equal owned ones.
                    (Ok(injector), Ok(())) => owned.push(Owned::Dual(injector)),
                    (Err(failure), Err(status)) => {
                        assert_eq!(failure.error.status(), status, "{op:?}")
                    }
                    (result, expected) => panic!(
                        "{op:?} at dispatch={at_dispatch}: create answered {:?}, the model {expected:?}",
                        result.map(|_| ())
                    ),
                }
            }
            Op::Drop(index) if !owned.is_empty() && !at_dispatch => {
                drop(owned.remove(index % owned.len()));
            }
            Op::Close(index) if !owned.is_empty() => {
                let target = owned.remove(index % owned.len());
                let back = match target {
                    Owned::Single(handle) => {
                        handle.close().err().and_then(|(_, h)| h).map(Owned::Single)
                    }
                    Owned::Dual(injector) => {
                        injector.close().err().and_then(|(_, d)| d).map(Owned::Dual)
                    }
                };
                assert_eq!(
                    back.is_some(),
                    at_dispatch,
                    "only a wrong IRQL hands the owner back"
                );
                if let Some(back) = back {
                    assert_eq!(
                        sim.calls(KernelFn::FwpsInjectionHandleDestroy0),
                        destroys_before
                    );
                    owned.push(back);
                }
            }
            Op::RoundTripRaw(index) if !owned.is_empty() => {
                let slot = index % owned.len();
                match owned.remove(slot) {
                    Owned::Single(handle) => {
                        let (family, types) = (handle.family(), handle.types());
                        let raw = handle.into_raw();
                        // SAFETY: `raw` came from into_raw just above and nothing else owns it.
                        let back = unsafe { InjectionHandle::from_raw(&sim, raw, family, types) };
                        owned.push(Owned::Single(back));
                    }
                    dual => owned.push(dual),
                }
            }
            Op::Irql(raise) => {
                // The old guard restores its level first, so guards never interleave.
                irql_guard = None;
                if raise {
                    irql_guard = Some(sim.set_irql(Irql::DISPATCH));
                }
            }
            _ => {}
        }
        let live = sim.open_handles().len();
        let expected: usize = owned
            .iter()
            .map(|o| match o {
                Owned::Single(_) => 1,
                Owned::Dual(_) => 2,
            })
            .sum();
        assert_eq!(
            live, expected,
            "kernel handles match owned values after {op:?}"
        );
    }
    drop(irql_guard);
    drop(owned);
    let all = sim.all_handles();
    assert!(
        all.iter().all(|h| h.destroyed),
        "every created handle is destroyed"
    );
    assert_eq!(
        sim.calls(KernelFn::FwpsInjectionHandleDestroy0),
        all.len() as u64,
        "each exactly once"
    );
    sim.assert_clean();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]
    #[test]
    fn every_created_handle_is_destroyed_exactly_once(ops in proptest::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}
