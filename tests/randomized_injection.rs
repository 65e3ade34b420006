//! Randomized interleavings of injections (every path, inline and DPC-deferred), kernel
//! refusals, completions in any order and close with work in flight. Whatever the order: each
//! accepted injection completes exactly once, each refused one hands its packet back at once,
//! and the simulated stack ends with no handle, clone, context or DPC left.

use std::collections::BTreeMap;
use std::sync::Mutex;

use proptest::prelude::*;

use wfp_injector::inject::{
    ClonedNetBufferList, Completion, CompletionHandler, DualStackInjector, Forward, Injection,
    InjectionTypes, IpFamily, IpProtocol, NetBufferListRef, NetworkReceive, NetworkSend,
    PacketInjector, RemoteAddress, RetryPolicy, StreamInject, Tag, TransportReceive, TransportSend,
};
use wfp_injector::nt::NtStatus;
use wfp_injector::sim::{SimCall, SimulatedStack};

type Sim<'a> = &'a SimulatedStack;

/// Counts completions per cookie in a map that outlives the injector.
struct Counter<'c> {
    completed: &'c Mutex<BTreeMap<usize, u32>>,
}

impl<'a> CompletionHandler<Sim<'a>> for Counter<'_> {
    type Packet = ClonedNetBufferList<Sim<'a>>;
    fn completed(&self, completion: Completion<Self::Packet>) {
        *self
            .completed
            .lock()
            .unwrap()
            .entry(completion.cookie)
            .or_default() += 1;
    }
}

#[derive(Debug, Clone)]
enum Op {
    Inject {
        path: u8,
        v6: bool,
        tcp: bool,
    },
    RefuseNextInject(u8),
    Complete {
        newest: bool,
        dispatch: bool,
        failed: bool,
    },
    RunDpcs,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, any::<bool>(), any::<bool>()).prop_map(|(path, v6, tcp)| Op::Inject { path, v6, tcp }),
        1 => (0u8..6).prop_map(Op::RefuseNextInject),
        3 => (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(newest, dispatch, failed)| Op::Complete { newest, dispatch, failed }),
        1 => Just(Op::RunDpcs),
    ]
}

const CALLS: [SimCall; 6] = [
    SimCall::InjectTransportSend,
    SimCall::InjectTransportReceive,
    SimCall::InjectNetworkSend,
    SimCall::InjectNetworkReceive,
    SimCall::InjectForward,
    SimCall::StreamInject,
];

fn injection(path: u8, v6: bool, tcp: bool) -> Injection<'static> {
    let family = if v6 { IpFamily::V6 } else { IpFamily::V4 };
    let protocol = if tcp {
        IpProtocol::TCP
    } else {
        IpProtocol::UDP
    };
    match path {
        0 => Injection::TransportSend(TransportSend {
            endpoint_handle: 1,
            remote_address: if v6 {
                RemoteAddress::V6([0; 16], 0)
            } else {
                RemoteAddress::V4([10, 0, 0, 1])
            },
            control_data: &[7; 24],
            compartment: 1,
            protocol,
        }),
        1 => Injection::TransportReceive(TransportReceive {
            family,
            compartment: 1,
            interface_index: 2,
            sub_interface_index: 3,
            protocol,
        }),
        2 => Injection::NetworkSend(NetworkSend {
            family,
            compartment: 1,
        }),
        3 => Injection::NetworkReceive(NetworkReceive {
            family,
            compartment: 1,
            interface_index: 2,
            sub_interface_index: 3,
        }),
        4 => Injection::Forward(Forward {
            family,
            compartment: 1,
            interface_index: 2,
        }),
        _ => Injection::Stream(StreamInject {
            family,
            flow_id: 5,
            callout_id: 6,
            layer_id: 7,
            stream_flags: 1,
            data_length: 20,
        }),
    }
}

fn run(ops: &[Op]) {
    let sim = SimulatedStack::new();
    let mut v4 = [0u8; 20];
    v4[0] = 0x45;
    let mut v6 = [0u8; 40];
    v6[0] = 0x60;
    let originals = [sim.indicate_packet(&v4), sim.indicate_packet(&v6)];
    let handles =
        DualStackInjector::create(&sim, InjectionTypes::ALL, &RetryPolicy::default()).unwrap();
    let completed = Mutex::new(BTreeMap::new());
    let injector = PacketInjector::new(
        handles,
        6,
        Counter {
            completed: &completed,
        },
    )
    .unwrap();
    let mut accepted = Vec::new();
    for (cookie, op) in ops.iter().enumerate() {
        match *op {
            Op::Inject { path, v6, tcp } => {
                // SAFETY: the simulated stack keeps the originals until they are returned below.
                let original =
                    unsafe { NetBufferListRef::from_raw(originals[usize::from(v6)]) }.unwrap();
                let clones_before = sim.live_clones();
                let in_flight_before = injector.in_flight();
                match injector.clone_and_inject(
                    original,
                    injection(path, v6, tcp),
                    Tag {
                        cookie,
                        ..Tag::default()
                    },
                ) {
                    Ok(()) => {
                        accepted.push(cookie);
                        assert_eq!(injector.in_flight(), in_flight_before + 1);
                    }
                    Err(_) => {
                        assert_eq!(
                            sim.live_clones(),
                            clones_before,
                            "a refused clone is freed at once"
                        );
                        assert_eq!(injector.in_flight(), in_flight_before);
                    }
                }
            }
            Op::RefuseNextInject(which) => sim.fail_call(
                CALLS[usize::from(which)],
                0,
                NtStatus::FWP_INJECT_HANDLE_STALE,
            ),
            Op::Complete {
                newest,
                dispatch,
                failed,
            } => {
                let pending = sim.pending_injections();
                let target = if newest {
                    pending.last()
                } else {
                    pending.first()
                };
                if let Some(target) = target {
                    let status = if failed {
                        NtStatus::UNSUCCESSFUL
                    } else {
                        NtStatus::SUCCESS
                    };
                    assert!(sim.complete_injection(target.id, status, dispatch));
                }
            }
            Op::RunDpcs => {
                sim.run_queued_dpcs();
            }
        }
        let done: u32 = completed.lock().unwrap().values().sum();
        assert_eq!(
            injector.in_flight() as usize,
            accepted.len() - done as usize
        );
    }
    // Close with whatever is still in flight: another thread drains it.
    std::thread::scope(|scope| {
        let closer = scope.spawn(|| injector.close());
        while !closer.is_finished() {
            sim.run_queued_dpcs();
            sim.complete_all(NtStatus::SUCCESS);
            std::thread::yield_now();
        }
        closer.join().unwrap().unwrap();
    });
    let completed = completed.into_inner().unwrap();
    let expected: BTreeMap<usize, u32> = accepted.iter().map(|&cookie| (cookie, 1)).collect();
    assert_eq!(
        completed, expected,
        "each accepted injection completed exactly once"
    );
    for original in originals {
        sim.return_packet(original);
    }
    assert_eq!(sim.live_clones(), 0);
    sim.assert_clean();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn every_accepted_injection_completes_exactly_once(ops in proptest::collection::vec(op(), 1..48)) {
        run(&ops);
    }
}
