//! Randomized interleavings of injections (every path, inline and DPC-deferred), kernel
//! refusals (of the clone, of the inject call, inline or inside the DPC), completions in any
//! order and close with work in flight, checked against a model.
//!
//! The model predicts, from the injector's capacity and the refusals it planned, whether each
//! injection is accepted or refused (and with which error and status), which kernel call path
//! takes it, whether it waits for a DPC, and the status its completion reports. After every step
//! the in-flight count, the stack's pending injections (path and order) and queued DPCs, and
//! every completion so far must equal the model's: an injector that refuses what it should take,
//! or completes what it should not, fails. At the end: each accepted injection completed exactly
//! once with the predicted status, and the simulated stack holds no handle, clone, context or
//! DPC.

use std::collections::BTreeMap;
use std::sync::Mutex;

use proptest::prelude::*;

use wfp_injector::inject::{
    ClonedNetBufferList, Completion, CompletionHandler, DualStackInjector, Forward, Injection,
    InjectionTypes, IpFamily, IpProtocol, NetBufferListRef, NetworkReceive, NetworkSend,
    PacketInjector, RemoteAddress, RetryPolicy, StreamInject, Tag, TransportReceive, TransportSend,
};
use wfp_injector::nt::NtStatus;
use wfp_sim::{InjectionPath, KernelFn, SimulatedStack};

type Sim<'a> = &'a SimulatedStack;

/// Records each completion's status per cookie in a map that outlives the injector.
struct Counter<'c> {
    completed: &'c Mutex<BTreeMap<usize, Vec<NtStatus>>>,
}

impl<'a> CompletionHandler<Sim<'a>> for Counter<'_> {
    type Packet = ClonedNetBufferList<Sim<'a>>;
    fn completed(&self, completion: Completion<Self::Packet>) {
        self.completed
            .lock()
            .unwrap()
            .entry(completion.cookie)
            .or_default()
            .push(completion.status);
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
        1 => (0u8..7).prop_map(Op::RefuseNextInject),
        3 => (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(newest, dispatch, failed)| Op::Complete { newest, dispatch, failed }),
        1 => Just(Op::RunDpcs),
    ]
}

/// The inject call of each path (index = `Op::Inject::path`), then the clone.
const CALLS: [KernelFn; 7] = [
    KernelFn::FwpsInjectTransportSendAsync0,
    KernelFn::FwpsInjectTransportReceiveAsync0,
    KernelFn::FwpsInjectNetworkSendAsync0,
    KernelFn::FwpsInjectNetworkReceiveAsync0,
    KernelFn::FwpsInjectForwardAsync0,
    KernelFn::FwpsStreamInjectAsync0,
    KernelFn::FwpsAllocateCloneNetBufferList0,
];

/// The path the simulated stack records for each `Op::Inject::path`.
const PATHS: [InjectionPath; 6] = [
    InjectionPath::TransportSend,
    InjectionPath::TransportReceive,
    InjectionPath::NetworkSend,
    InjectionPath::NetworkReceive,
    InjectionPath::Forward,
    InjectionPath::Stream,
];

const CAPACITY: usize = 6;
const REFUSAL: NtStatus = NtStatus::FWP_INJECT_HANDLE_STALE;

/// An accepted injection the model follows until its completion.
#[derive(Debug, Clone, Copy)]
struct Accepted {
    cookie: usize,
    path: u8,
}

#[derive(Debug, Default)]
struct Model {
    /// Planned refusals not yet consumed, per call.
    plans: BTreeMap<KernelFn, u32>,
    /// Accepted by the kernel, not completed, oldest first.
    pending: Vec<Accepted>,
    /// Deferred (TCP transport) injections waiting for their DPC, in queue order.
    queued: Vec<Accepted>,
    /// Every completion so far, per cookie.
    completed: BTreeMap<usize, Vec<NtStatus>>,
    accepted: usize,
}

impl Model {
    fn take(&mut self, call: KernelFn) -> bool {
        match self.plans.get_mut(&call) {
            Some(count) if *count > 0 => {
                *count -= 1;
                true
            }
            _ => false,
        }
    }

    fn in_flight(&self) -> usize {
        self.pending.len() + self.queued.len()
    }

    /// Runs the queued DPCs: each issues its inject call, refused ones complete at once with
    /// the refusal.
    fn run_dpcs(&mut self) {
        for queued in std::mem::take(&mut self.queued) {
            if self.take(CALLS[usize::from(queued.path)]) {
                self.completed
                    .entry(queued.cookie)
                    .or_default()
                    .push(REFUSAL);
            } else {
                self.pending.push(queued);
            }
        }
    }

    /// What `clone_and_inject` must return, updating the model.
    fn inject(&mut self, cookie: usize, path: u8, tcp: bool) -> Result<(), NtStatus> {
        if self.in_flight() >= CAPACITY {
            return Err(NtStatus::INSUFFICIENT_RESOURCES);
        }
        if self.take(KernelFn::FwpsAllocateCloneNetBufferList0) {
            return Err(REFUSAL);
        }
        let accepted = Accepted { cookie, path };
        if tcp && path <= 1 {
            // TCP transport injections are issued from a DPC.
            self.queued.push(accepted);
        } else if self.take(CALLS[usize::from(path)]) {
            return Err(REFUSAL);
        } else {
            self.pending.push(accepted);
        }
        self.accepted += 1;
        Ok(())
    }
}

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

fn check(
    sim: &SimulatedStack,
    injector_in_flight: u32,
    model: &Model,
    completed: &Mutex<BTreeMap<usize, Vec<NtStatus>>>,
    op: &Op,
) {
    assert_eq!(
        injector_in_flight as usize,
        model.in_flight(),
        "in flight after {op:?}"
    );
    let pending = sim.pending_injections();
    let paths: Vec<InjectionPath> = pending.iter().map(|p| p.path).collect();
    let expected: Vec<InjectionPath> = model
        .pending
        .iter()
        .map(|a| PATHS[usize::from(a.path)])
        .collect();
    assert_eq!(paths, expected, "pending injections after {op:?}");
    assert_eq!(
        sim.queued_dpcs(),
        model.queued.len(),
        "queued DPCs after {op:?}"
    );
    assert_eq!(
        *completed.lock().unwrap(),
        model.completed,
        "completions after {op:?}"
    );
}

fn run(ops: &[Op]) -> usize {
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
        CAPACITY as u32,
        Counter {
            completed: &completed,
        },
    )
    .unwrap();
    let mut model = Model::default();
    for (cookie, op) in ops.iter().enumerate() {
        match *op {
            Op::Inject { path, v6, tcp } => {
                // SAFETY: the simulated stack keeps the originals until they are returned below.
                let original =
                    unsafe { NetBufferListRef::from_raw(originals[usize::from(v6)]) }.unwrap();
                let clones_before = sim.live_clones();
                let result = injector.clone_and_inject(
                    original,
                    injection(path, v6, tcp),
                    Tag {
                        cookie,
                        ..Tag::default()
                    },
                );
                let expected = model.inject(cookie, path, tcp);
                match (result, expected) {
                    (Ok(()), Ok(())) => {
                        assert_eq!(sim.live_clones(), clones_before + 1, "the clone is held");
                    }
                    (Err(error), Err(status)) => {
                        assert_eq!(error.status(), status, "refusal of {op:?}: {error:?}");
                        assert_eq!(
                            sim.live_clones(),
                            clones_before,
                            "a refused clone is freed at once"
                        );
                    }
                    (result, expected) => {
                        panic!("{op:?}: injector answered {result:?}, the model {expected:?}")
                    }
                }
            }
            Op::RefuseNextInject(which) => {
                let call = CALLS[usize::from(which)];
                sim.fail_call(call, 0, REFUSAL);
                *model.plans.entry(call).or_default() += 1;
            }
            Op::Complete {
                newest,
                dispatch,
                failed,
            } => {
                let pending = sim.pending_injections();
                let index = if newest {
                    pending.len().checked_sub(1)
                } else {
                    (!pending.is_empty()).then_some(0)
                };
                if let Some(index) = index {
                    let status = if failed {
                        NtStatus::UNSUCCESSFUL
                    } else {
                        NtStatus::SUCCESS
                    };
                    assert!(sim.complete_injection(pending[index].id, status, dispatch));
                    let done = model.pending.remove(index);
                    model.completed.entry(done.cookie).or_default().push(status);
                }
            }
            Op::RunDpcs => {
                sim.run_queued_dpcs();
                model.run_dpcs();
            }
        }
        check(&sim, injector.in_flight(), &model, &completed, op);
    }
    // Close with whatever is still in flight: another thread drains it (DPCs first, then
    // completions with success).
    std::thread::scope(|scope| {
        let closer = scope.spawn(|| injector.close());
        while !closer.is_finished() {
            sim.run_queued_dpcs();
            sim.complete_all(NtStatus::SUCCESS);
            std::thread::yield_now();
        }
        closer.join().unwrap().unwrap();
    });
    model.run_dpcs();
    for done in std::mem::take(&mut model.pending) {
        model
            .completed
            .entry(done.cookie)
            .or_default()
            .push(NtStatus::SUCCESS);
    }
    let completed = completed.into_inner().unwrap();
    assert_eq!(
        completed, model.completed,
        "each accepted injection completed exactly once, with the predicted status"
    );
    assert_eq!(completed.len(), model.accepted);
    for original in originals {
        sim.return_packet(original);
    }
    assert_eq!(sim.live_clones(), 0);
    sim.assert_clean();
    model.accepted
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn every_accepted_injection_completes_exactly_once(ops in proptest::collection::vec(op(), 1..48)) {
        run(&ops);
    }
}

/// The sequences are not mostly refusals: a fixed-seed run must accept most injections.
#[test]
fn sequences_mostly_accept() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[3; 32]),
    );
    let strategy = proptest::collection::vec(op(), 1..48);
    let mut accepted = 0;
    for _ in 0..64 {
        accepted += run(&strategy.new_tree(&mut runner).unwrap().current());
    }
    assert!(accepted > 300, "only {accepted} injections accepted");
}
