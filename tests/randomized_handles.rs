//! Randomized sequences of creates, not-ready windows, failures, IRQL changes and teardowns.
//! Whatever the sequence: every handle the kernel created is destroyed exactly once, nothing is
//! destroyed that is not live, and nothing reaches the kernel at the wrong IRQL.

use proptest::prelude::*;

use wfp_injector::inject::{
    AddressFamily, DualStackInjector, InjectionHandle, InjectionTypes, RetryPolicy,
};
use wfp_injector::nt::{Irql, NtStatus};
use wfp_injector::sim::{SimCall, SimulatedStack};

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

fn run(ops: &[Op]) {
    let sim = SimulatedStack::new();
    let mut owned: Vec<Owned<'_>> = Vec::new();
    let mut irql_guard = None;
    let policy = RetryPolicy::default();
    for op in ops {
        let at_dispatch = irql_guard.is_some();
        let creates_before = sim.calls(SimCall::InjectionHandleCreate);
        let destroys_before = sim.calls(SimCall::InjectionHandleDestroy);
        match op.clone() {
            Op::Create {
                family,
                types,
                not_ready,
                failure,
            } => {
                sim.set_tcpip_not_ready_for(not_ready);
                if let Some(which) = failure {
                    sim.fail_call(
                        SimCall::InjectionHandleCreate,
                        not_ready,
                        FAILURES[which as usize],
                    );
                }
                let family = [
                    AddressFamily::Unspecified,
                    AddressFamily::Ipv4,
                    AddressFamily::Ipv6,
                ][family as usize];
                let types = InjectionTypes::from_bits(types).unwrap();
                let refused_input = types.validate_for(family).is_err();
                match InjectionHandle::create(&sim, family, types, &policy) {
                    Ok(handle) => {
                        assert!(!at_dispatch && !refused_input);
                        owned.push(Owned::Single(handle));
                    }
                    Err(_) => {
                        if at_dispatch || refused_input {
                            assert_eq!(sim.calls(SimCall::InjectionHandleCreate), creates_before);
                        }
                    }
                }
            }
            Op::CreateDual { not_ready, failure } => {
                sim.set_tcpip_not_ready_for(not_ready);
                if let Some(which) = failure {
                    sim.fail_call(
                        SimCall::InjectionHandleCreate,
                        not_ready + 1,
                        FAILURES[which as usize],
                    );
                }
                // All-or-nothing is checked after every op: live handles equal owned ones.
                if let Ok(injector) =
                    DualStackInjector::create(&sim, InjectionTypes::NETWORK, &policy)
                {
                    owned.push(Owned::Dual(injector));
                } else if at_dispatch {
                    assert_eq!(sim.calls(SimCall::InjectionHandleCreate), creates_before);
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
                    assert_eq!(sim.calls(SimCall::InjectionHandleDestroy), destroys_before);
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
        sim.calls(SimCall::InjectionHandleDestroy),
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
