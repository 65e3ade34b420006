//! PacketInjector against the simulated stack: every injection path, every refusal, completions
//! in any order and on any thread, teardown with work in flight, and the injection-state query.

#[path = "support/heap.rs"]
mod heap;

use std::sync::Mutex;

use wfp_injector::inject::{
    CONTROL_DATA_CAPACITY, ClonedNetBufferList, Completion, CompletionHandler, DualStackInjector,
    Forward, INLINE_CONTROL_DATA, Injection, InjectionContext, InjectionPath, InjectionState,
    InjectionTypes, IpFamily, IpProtocol, NetBufferListRef, NetworkReceive, NetworkSend,
    PacketInjector, Pools, RemoteAddress, RetryPolicy, StreamInject, Tag, TransportReceive,
    TransportSend,
};
use wfp_injector::nt::{Irql, NtStatus};
use wfp_injector::sys::KernelApi;
use wfp_injector::sys::types::NET_BUFFER_LIST;
use wfp_injector::{Error, InputError, KernelFn};
use wfp_sim::{self as sim, SimulatedStack};

type Sim<'a> = &'a SimulatedStack;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    status: NtStatus,
    path: InjectionPath,
    cookie: usize,
    at_dispatch: bool,
    irql: Irql,
}

/// Records each completion, then frees the clone.
struct Recorder<'a> {
    sim: Sim<'a>,
    seen: Mutex<Vec<Seen>>,
}

impl<'a> CompletionHandler<Sim<'a>> for Recorder<'a> {
    type Packet = ClonedNetBufferList<Sim<'a>>;

    fn completed(&self, completion: Completion<Self::Packet>) {
        let irql = Irql(self.sim.ke_get_current_irql());
        self.seen.lock().unwrap().push(Seen {
            status: completion.status,
            path: completion.path,
            cookie: completion.cookie,
            at_dispatch: completion.at_dispatch,
            irql,
        });
    }
}

const ALL: InjectionTypes = InjectionTypes::ALL;
const IPV4_UDP: [u8; 28] = [
    0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x12, 0x34, 0x00, 0x35, 0,
    8, 0, 0,
];
const IPV6_HEADER: [u8; 40] = {
    let mut header = [0u8; 40];
    header[0] = 0x60;
    header
};

fn injector<'a>(
    sim: Sim<'a>,
    types: InjectionTypes,
    capacity: u32,
) -> PacketInjector<Sim<'a>, Recorder<'a>> {
    let handles = DualStackInjector::create(sim, types, &RetryPolicy::default()).unwrap();
    PacketInjector::new(
        handles,
        capacity,
        Recorder {
            sim,
            seen: Mutex::new(Vec::new()),
        },
    )
    .unwrap()
}

fn borrow(nbl: *mut NET_BUFFER_LIST) -> NetBufferListRef<'static> {
    // SAFETY: the simulated stack keeps every NBL's memory until it is dropped, and each test
    // returns its indicated packets only after the injections that cloned them complete.
    unsafe { NetBufferListRef::from_raw(nbl) }.unwrap()
}

/// A UDP send to 10.0.0.2 with `control`.
fn to_peer(control: &[u8]) -> Injection<'_> {
    udp_send(RemoteAddress::V4([10, 0, 0, 2]), control)
}

/// `clone_and_inject` of `original` with the default tag.
fn untagged<'a, H>(
    injector: &PacketInjector<Sim<'a>, H>,
    original: *mut NET_BUFFER_LIST,
    injection: Injection<'_>,
) -> Result<(), Error>
where
    H: CompletionHandler<Sim<'a>, Packet = ClonedNetBufferList<Sim<'a>>>,
{
    injector.clone_and_inject(borrow(original), injection, Tag::default())
}

fn udp_send(address: RemoteAddress, control: &[u8]) -> Injection<'_> {
    Injection::TransportSend(TransportSend {
        endpoint_handle: 0xE0,
        remote_address: address,
        control_data: control,
        compartment: 1,
        protocol: IpProtocol::UDP,
    })
}

/// Spins until `condition` holds; fails the test (instead of hanging it) if that never happens.
fn eventually(what: &str, condition: impl Fn() -> bool) {
    let limit = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !condition() {
        assert!(std::time::Instant::now() < limit, "never happened: {what}");
        std::thread::yield_now();
    }
}

fn seen<'a>(injector: &PacketInjector<Sim<'a>, Recorder<'a>>) -> Vec<Seen> {
    injector.handler().seen.lock().unwrap().clone()
}

#[test]
fn transport_send_copies_parameters_and_completes_with_the_nbl_status() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    {
        let injector = injector(&sim, InjectionTypes::TRANSPORT, 4);
        let control = [1u8, 2, 3, 4, 5, 6];
        let tag = Tag {
            injection_context: InjectionContext(0x77),
            cookie: 42,
        };
        injector
            .clone_and_inject(borrow(original), to_peer(&control), tag)
            .unwrap();
        assert_eq!(injector.in_flight(), 1);
        let pending = sim.pending_injections();
        assert_eq!(pending.len(), 1);
        let pending = &pending[0];
        assert_eq!(pending.path, sim::InjectionPath::TransportSend);
        assert_eq!(pending.family, 2);
        assert_eq!(pending.remote_address, vec![10, 0, 0, 2]);
        assert_eq!(pending.control_data, control.to_vec());
        assert_eq!(pending.endpoint_or_flow, 0xE0);
        assert_eq!(
            pending.handle,
            injector.handles().handle(IpFamily::V4).as_raw() as usize
        );
        assert!(matches!(
            sim.packet_kind(pending.nbl as *const _),
            Some(sim::PacketKind::Clone { .. })
        ));
        assert!(sim.complete_injection(pending.id, NtStatus::FWP_CANNOT_PEND, true));
        assert_eq!(
            seen(&injector),
            vec![Seen {
                status: NtStatus::FWP_CANNOT_PEND,
                path: InjectionPath::TransportSend,
                cookie: 42,
                at_dispatch: true,
                irql: Irql::DISPATCH
            }]
        );
        assert_eq!(injector.in_flight(), 0);
        assert_eq!(sim.live_clones(), 0, "the completion freed the clone");
        injector.close().unwrap();
    }
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn ipv6_transport_send_carries_address_and_scope_on_the_ipv6_handle() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV6_HEADER);
    let injector = injector(&sim, InjectionTypes::TRANSPORT, 4);
    let mut address = [0u8; 16];
    address[0] = 0xfe;
    address[1] = 0x80;
    address[15] = 1;
    untagged(
        &injector,
        original,
        udp_send(RemoteAddress::V6(address, 7), &[]),
    )
    .unwrap();
    let pending = &sim.pending_injections()[0];
    assert_eq!(pending.family, 23);
    assert_eq!(pending.remote_address, address.to_vec());
    assert_eq!(pending.remote_scope_id, 7);
    assert!(pending.control_data.is_empty());
    assert_eq!(
        pending.handle,
        injector.handles().handle(IpFamily::V6).as_raw() as usize
    );
    sim.complete_all(NtStatus::SUCCESS);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn every_path_reaches_its_kernel_function_with_its_parameters() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let v4 = sim.indicate_packet(&IPV4_UDP);
    let v6 = sim.indicate_packet(&IPV6_HEADER);
    let injector = injector(&sim, ALL, 16);
    let cases: Vec<(Injection<'_>, *mut NET_BUFFER_LIST, sim::InjectionPath)> = vec![
        (
            Injection::TransportReceive(TransportReceive {
                family: IpFamily::V4,
                compartment: 1,
                interface_index: 5,
                sub_interface_index: 6,
                protocol: IpProtocol::UDP,
            }),
            v4,
            sim::InjectionPath::TransportReceive,
        ),
        (
            Injection::NetworkSend(NetworkSend {
                family: IpFamily::V6,
                compartment: 1,
            }),
            v6,
            sim::InjectionPath::NetworkSend,
        ),
        (
            Injection::NetworkReceive(NetworkReceive {
                family: IpFamily::V4,
                compartment: 1,
                interface_index: 9,
                sub_interface_index: 10,
            }),
            v4,
            sim::InjectionPath::NetworkReceive,
        ),
        (
            Injection::Forward(Forward {
                family: IpFamily::V6,
                compartment: 1,
                interface_index: 3,
            }),
            v6,
            sim::InjectionPath::Forward,
        ),
        (
            Injection::Stream(StreamInject {
                family: IpFamily::V4,
                flow_id: 0xF10,
                callout_id: 3,
                layer_id: 20,
                stream_flags: 1,
                data_length: 28,
            }),
            v4,
            sim::InjectionPath::Stream,
        ),
    ];
    for (cookie, (injection, original, path)) in cases.into_iter().enumerate() {
        injector
            .clone_and_inject(
                borrow(original),
                injection,
                Tag {
                    cookie,
                    ..Tag::default()
                },
            )
            .unwrap();
        let pending = sim.pending_injections();
        let last = pending.last().unwrap();
        assert_eq!(last.path, path);
        let family = injection.family();
        assert_eq!(
            last.handle,
            injector.handles().handle(family).as_raw() as usize
        );
        match injection {
            Injection::TransportReceive(r) => {
                assert_eq!(
                    (last.interface_index, last.sub_interface_index, last.family),
                    (5, 6, 2)
                );
                assert_eq!(r.compartment, last.compartment);
            }
            Injection::NetworkReceive(_) => {
                assert_eq!((last.interface_index, last.sub_interface_index), (9, 10))
            }
            Injection::Forward(_) => assert_eq!((last.interface_index, last.family), (3, 23)),
            Injection::Stream(_) => {
                assert_eq!((last.endpoint_or_flow, last.data_length), (0xF10, 28))
            }
            _ => {}
        }
    }
    assert_eq!(injector.in_flight(), 5);
    // Out of order: newest first.
    for pending in sim.pending_injections().into_iter().rev() {
        sim.complete_injection(pending.id, NtStatus::SUCCESS, false);
    }
    let cookies: Vec<usize> = seen(&injector).iter().map(|s| s.cookie).collect();
    assert_eq!(cookies, vec![4, 3, 2, 1, 0]);
    assert!(
        seen(&injector)
            .iter()
            .all(|s| !s.at_dispatch && s.irql == Irql::PASSIVE)
    );
    injector.close().unwrap();
    sim.return_packet(v4);
    sim.return_packet(v6);
    sim.assert_clean();
}

#[test]
fn tcp_transport_injection_is_deferred_to_a_dpc_and_counts_as_in_flight() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let injector = injector(&sim, InjectionTypes::TRANSPORT, 4);
    let mut tcp = to_peer(&[]);
    if let Injection::TransportSend(send) = &mut tcp {
        send.protocol = IpProtocol::TCP;
    }
    untagged(&injector, original, tcp).unwrap();
    assert_eq!(
        sim.calls(KernelFn::FwpsInjectTransportSendAsync0),
        0,
        "not called inline"
    );
    assert_eq!(sim.queued_dpcs(), 1);
    assert_eq!(injector.in_flight(), 1);
    assert_eq!(sim.run_queued_dpcs(), 1);
    assert_eq!(
        sim.calls(KernelFn::FwpsInjectTransportSendAsync0),
        1,
        "called from the DPC"
    );
    assert_eq!(sim.pending_injections().len(), 1);
    sim.complete_all(NtStatus::SUCCESS);
    assert_eq!(seen(&injector).len(), 1);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn a_deferred_injection_the_kernel_refuses_reaches_the_completion_handler() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let injector = injector(&sim, InjectionTypes::TRANSPORT, 4);
    let tcp = Injection::TransportReceive(TransportReceive {
        family: IpFamily::V4,
        compartment: 1,
        interface_index: 1,
        sub_interface_index: 0,
        protocol: IpProtocol::TCP,
    });
    sim.fail_call(
        KernelFn::FwpsInjectTransportReceiveAsync0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    injector
        .clone_and_inject(
            borrow(original),
            tcp,
            Tag {
                cookie: 9,
                ..Tag::default()
            },
        )
        .unwrap();
    sim.run_queued_dpcs();
    let seen = seen(&injector);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].status, NtStatus::INSUFFICIENT_RESOURCES);
    assert_eq!(seen[0].cookie, 9);
    assert_eq!(injector.in_flight(), 0);
    assert_eq!(sim.live_clones(), 0);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn a_refused_inject_call_returns_the_packet_and_runs_no_completion() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let injector = injector(&sim, InjectionTypes::TRANSPORT, 4);
    sim.fail_call(
        KernelFn::FwpsInjectTransportSendAsync0,
        0,
        NtStatus::FWP_INJECT_HANDLE_STALE,
    );
    let clone = ClonedNetBufferList::clone_of(&sim, borrow(original)).unwrap();
    let raw = wfp_injector::inject::OwnedNetBufferList::as_raw(&clone);
    let refused = injector
        .inject(
            clone,
            udp_send(RemoteAddress::V4([1, 2, 3, 4]), &[]),
            Tag::default(),
        )
        .unwrap_err();
    assert_eq!(
        refused.error,
        Error::Kernel {
            call: KernelFn::FwpsInjectTransportSendAsync0,
            status: NtStatus::FWP_INJECT_HANDLE_STALE
        }
    );
    assert_eq!(
        wfp_injector::inject::OwnedNetBufferList::as_raw(&refused.packet),
        raw,
        "same packet back"
    );
    assert_eq!(sim.live_clones(), 1, "still owned by the caller");
    drop(refused);
    assert_eq!(sim.live_clones(), 0);
    assert!(seen(&injector).is_empty());
    assert_eq!(injector.in_flight(), 0, "the context went back to the pool");
    // The clone helper frees its clone at once on refusal.
    sim.fail_call(
        KernelFn::FwpsInjectTransportSendAsync0,
        0,
        NtStatus::UNSUCCESSFUL,
    );
    let error = untagged(
        &injector,
        original,
        udp_send(RemoteAddress::V4([1, 2, 3, 4]), &[]),
    )
    .unwrap_err();
    assert_eq!(error.status(), NtStatus::UNSUCCESSFUL);
    assert_eq!(sim.live_clones(), 0);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn refusals_before_the_kernel_name_what_was_wrong() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let injector = injector(&sim, InjectionTypes::TRANSPORT, 4);
    let network = Injection::NetworkSend(NetworkSend {
        family: IpFamily::V4,
        compartment: 1,
    });
    let error = untagged(&injector, original, network).unwrap_err();
    assert_eq!(
        error,
        Error::InvalidInput(InputError::HandleLacksInjectionType {
            needed: InjectionTypes::NETWORK,
            has: InjectionTypes::TRANSPORT
        })
    );
    let long = [0u8; CONTROL_DATA_CAPACITY + 1];
    let error = untagged(
        &injector,
        original,
        udp_send(RemoteAddress::V4([1, 1, 1, 1]), &long),
    )
    .unwrap_err();
    assert!(matches!(
        error,
        Error::InvalidInput(InputError::ControlDataTooLong {
            length,
            capacity: CONTROL_DATA_CAPACITY
        }) if length == CONTROL_DATA_CAPACITY + 1
    ));
    assert_eq!(
        sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0),
        0,
        "refused before cloning"
    );
    assert_eq!(
        sim.calls(KernelFn::FwpsInjectNetworkSendAsync0)
            + sim.calls(KernelFn::FwpsInjectTransportSendAsync0),
        0
    );
    let zero = DualStackInjector::try_create(&sim, InjectionTypes::TRANSPORT).unwrap();
    assert_eq!(
        PacketInjector::freeing_clones(zero, 0).unwrap_err(),
        Error::InvalidInput(InputError::ZeroCapacity)
    );
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn exhausted_contexts_refuse_until_a_completion_returns_one() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let injector = injector(&sim, InjectionTypes::TRANSPORT, 2);
    let send = to_peer(&[]);
    untagged(&injector, original, send).unwrap();
    untagged(&injector, original, send).unwrap();
    let error = untagged(&injector, original, send).unwrap_err();
    assert_eq!(error, Error::ContextsExhausted);
    assert_eq!(error.status(), NtStatus::INSUFFICIENT_RESOURCES);
    assert_eq!(sim.live_clones(), 2, "the third clone was freed at once");
    let first = sim.pending_injections()[0].id;
    sim.complete_injection(first, NtStatus::SUCCESS, true);
    untagged(&injector, original, send).unwrap();
    sim.complete_all(NtStatus::SUCCESS);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn clone_failure_is_reported_and_nothing_is_in_flight() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let injector = injector(&sim, InjectionTypes::TRANSPORT, 2);
    sim.fail_call(
        KernelFn::FwpsAllocateCloneNetBufferList0,
        0,
        NtStatus::NO_MEMORY,
    );
    let error = untagged(
        &injector,
        original,
        udp_send(RemoteAddress::V4([1, 1, 1, 1]), &[]),
    )
    .unwrap_err();
    assert_eq!(
        error,
        Error::Kernel {
            call: KernelFn::FwpsAllocateCloneNetBufferList0,
            status: NtStatus::NO_MEMORY
        }
    );
    assert_eq!(injector.in_flight(), 0);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn close_waits_for_pending_injections_and_refuses_new_ones_meanwhile() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let injector = injector(&sim, InjectionTypes::TRANSPORT, 4);
    let send = to_peer(&[]);
    untagged(&injector, original, send).unwrap();
    untagged(&injector, original, send).unwrap();
    let pending_before = sim.pending_injections();
    std::thread::scope(|scope| {
        let closer = scope.spawn(|| injector.close());
        // Until the completions run, close cannot return and the handles stay open.
        eventually("close to start the rundown wait", || {
            sim.calls(KernelFn::ExWaitForRundownProtectionReleaseCacheAware) > 0
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            !closer.is_finished(),
            "close returned with injections in flight"
        );
        assert_eq!(sim.open_handles().len(), 2);
        for pending in &pending_before {
            sim.complete_injection(pending.id, NtStatus::SUCCESS, true);
        }
        closer.join().unwrap().unwrap();
    });
    assert!(sim.open_handles().is_empty());
    sim.return_packet(original);
    sim.assert_clean();
}

/// `close` consumes the injector, so "inject after close" cannot be written in safe code. The
/// race that remains (a classify still holding a reference while unload closes) is reproduced
/// here with a bitwise copy: the copy closes while the original reference probes.
#[test]
fn injecting_while_close_is_draining_is_refused_with_closing() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let handles =
        DualStackInjector::create(&sim, InjectionTypes::TRANSPORT, &RetryPolicy::default())
            .unwrap();
    let injector = std::mem::ManuallyDrop::new(PacketInjector::freeing_clones(handles, 4).unwrap());
    let send = to_peer(&[]);
    untagged(&injector, original, send).unwrap();
    let probe: &PacketInjector<_, _> = &injector;
    std::thread::scope(|scope| {
        // SAFETY: the original is never dropped (ManuallyDrop) and `probe` is not used after
        // the close below returns, so the shared state is freed exactly once, after its last use.
        let closer = scope.spawn(|| unsafe { std::ptr::read(probe) }.close());
        eventually("close to start the rundown wait", || {
            sim.calls(KernelFn::ExWaitForRundownProtectionReleaseCacheAware) > 0
        });
        let error = untagged(probe, original, send).unwrap_err();
        assert_eq!(error, Error::Closing);
        assert_eq!(error.status(), NtStatus::FWP_INJECT_HANDLE_CLOSING);
        sim.complete_all(NtStatus::SUCCESS);
        closer.join().unwrap().unwrap();
    });
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn completions_from_several_threads_each_run_once() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let injector = injector(&sim, InjectionTypes::TRANSPORT, 64);
    for cookie in 0..48 {
        injector
            .clone_and_inject(
                borrow(original),
                to_peer(&[]),
                Tag {
                    cookie,
                    ..Tag::default()
                },
            )
            .unwrap();
    }
    let pending = sim.pending_injections();
    std::thread::scope(|scope| {
        for chunk in pending.chunks(12) {
            let sim = &sim;
            scope.spawn(move || {
                for p in chunk.iter().rev() {
                    assert!(sim.complete_injection(p.id, NtStatus::SUCCESS, p.id % 2 == 0));
                }
            });
        }
    });
    let mut cookies: Vec<usize> = seen(&injector).iter().map(|s| s.cookie).collect();
    cookies.sort_unstable();
    assert_eq!(cookies, (0..48).collect::<Vec<_>>());
    assert_eq!(injector.in_flight(), 0);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn query_tells_own_other_and_previously_own_packets_apart() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let ours = injector(&sim, InjectionTypes::TRANSPORT, 4);
    let theirs = injector(&sim, InjectionTypes::TRANSPORT, 4);
    assert_eq!(
        ours.handles().query(IpFamily::V4, borrow(original)),
        (InjectionState::NOT_INJECTED, None)
    );
    let tag = Tag {
        injection_context: InjectionContext(0x5EED),
        cookie: 0,
    };
    ours.clone_and_inject(
        borrow(original),
        udp_send(RemoteAddress::V4([1, 1, 1, 1]), &[]),
        tag,
    )
    .unwrap();
    untagged(
        &theirs,
        original,
        udp_send(RemoteAddress::V4([1, 1, 1, 1]), &[]),
    )
    .unwrap();
    let pending = sim.pending_injections();
    let (our_packet, their_packet) = (
        borrow(pending[0].nbl as *mut _),
        borrow(pending[1].nbl as *mut _),
    );
    // The reinjected packet comes back through classify: ours is recognised, with our context.
    assert_eq!(
        ours.handles().query(IpFamily::V4, our_packet),
        (
            InjectionState::INJECTED_BY_SELF,
            Some(InjectionContext(0x5EED))
        )
    );
    assert_eq!(
        ours.handles().injected_by_self(IpFamily::V4, our_packet),
        Some(InjectionContext(0x5EED))
    );
    assert_eq!(
        ours.handles().query(IpFamily::V4, their_packet).0,
        InjectionState::INJECTED_BY_OTHER
    );
    assert!(!InjectionState::INJECTED_BY_OTHER.is_own());
    // A clone of our injected packet is "previously injected by self".
    let reclone = ClonedNetBufferList::clone_of(&sim, our_packet).unwrap();
    assert_eq!(
        ours.handles().query(IpFamily::V4, reclone.as_ref()),
        (
            InjectionState::PREVIOUSLY_INJECTED_BY_SELF,
            Some(InjectionContext(0x5EED))
        )
    );
    drop(reclone);
    assert_eq!(sim.calls(KernelFn::FwpsQueryPacketInjectionState0), 5);
    sim.complete_all(NtStatus::SUCCESS);
    ours.close().unwrap();
    theirs.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn the_simulated_stack_refuses_a_handle_without_the_type_as_stale() {
    let _heap = heap::check();
    // The safe layer never makes this call; the simulation must still answer as WFP does.
    let sim = SimulatedStack::new();
    let nbl = sim.indicate_packet(&IPV4_UDP);
    let handles = DualStackInjector::try_create(&sim, InjectionTypes::FORWARD).unwrap();
    unsafe extern "win64" fn never(_: *mut core::ffi::c_void, _: *mut NET_BUFFER_LIST, _: u8) {
        unreachable!("a refused injection never completes")
    }
    // SAFETY: live handle, live NBL, IRQL PASSIVE.
    let status = unsafe {
        (&sim).fwps_inject_network_send_async0(
            handles.handle(IpFamily::V4).as_raw(),
            std::ptr::null_mut(),
            0,
            1,
            nbl,
            never,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(NtStatus(status), NtStatus::FWP_INJECT_HANDLE_STALE);
    drop(handles);
    sim.return_packet(nbl);
    sim.assert_clean();
}

#[test]
fn dropping_an_injector_with_work_in_flight_waits_like_close() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let injector = injector(&sim, InjectionTypes::TRANSPORT, 4);
    untagged(
        &injector,
        original,
        udp_send(RemoteAddress::V4([1, 1, 1, 1]), &[]),
    )
    .unwrap();
    let id = sim.pending_injections()[0].id;
    std::thread::scope(|scope| {
        let dropper = scope.spawn(move || drop(injector));
        eventually("close to start the rundown wait", || {
            sim.calls(KernelFn::ExWaitForRundownProtectionReleaseCacheAware) > 0
        });
        assert_eq!(sim.open_handles().len(), 2);
        sim.complete_injection(id, NtStatus::SUCCESS, true);
        dropper.join().unwrap();
    });
    assert!(sim.open_handles().is_empty());
    sim.return_packet(original);
    sim.assert_clean();
}

// ---- Context sizing: large control data, deferred slots on demand ----------------

fn injector_with<'a>(
    sim: Sim<'a>,
    types: InjectionTypes,
    pools: Pools,
) -> PacketInjector<Sim<'a>, Recorder<'a>> {
    let handles = DualStackInjector::create(sim, types, &RetryPolicy::default()).unwrap();
    PacketInjector::with_pools(
        handles,
        pools,
        Recorder {
            sim,
            seen: Mutex::new(Vec::new()),
        },
    )
    .unwrap()
}

fn tcp_send(control: &[u8]) -> Injection<'_> {
    Injection::TransportSend(TransportSend {
        endpoint_handle: 0xE1,
        remote_address: RemoteAddress::V4([10, 0, 0, 3]),
        control_data: control,
        compartment: 1,
        protocol: IpProtocol::TCP,
    })
}

#[test]
fn pools_are_sized_for_the_paths_that_use_them() {
    assert_eq!(
        Pools::for_capacity(1024, InjectionTypes::TRANSPORT),
        Pools {
            contexts: 1024,
            deferred: Pools::DEFERRED,
            large_control_data: Pools::LARGE_CONTROL_DATA
        }
    );
    assert_eq!(
        Pools::for_capacity(3, InjectionTypes::TRANSPORT),
        Pools {
            contexts: 3,
            deferred: 3,
            large_control_data: 3
        }
    );
    // Only transport injection is ever deferred or carries control data.
    assert_eq!(
        Pools::for_capacity(1024, InjectionTypes::NETWORK),
        Pools {
            contexts: 1024,
            deferred: 0,
            large_control_data: 0
        }
    );
    const { assert!(INLINE_CONTROL_DATA < CONTROL_DATA_CAPACITY) };
}

#[test]
fn control_data_longer_than_a_context_holds_is_carried_in_a_large_buffer() {
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let pools = Pools {
        contexts: 4,
        deferred: 1,
        large_control_data: 1,
    };
    let injector = injector_with(&sim, InjectionTypes::TRANSPORT, pools);
    let long: Vec<u8> = (0..200u8).collect();
    let inline: Vec<u8> = (0..INLINE_CONTROL_DATA as u8).collect();
    let most = vec![0xA5u8; CONTROL_DATA_CAPACITY];
    untagged(&injector, original, to_peer(&long)).unwrap();
    let pending = sim.pending_injections();
    assert_eq!(pending[0].control_data, long, "the kernel reads all of it");
    // The one large buffer is in use: another long one is refused before any kernel call (no
    // clone), while control data a context holds still goes through.
    let clones = sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0);
    assert_eq!(
        untagged(&injector, original, to_peer(&most)).unwrap_err(),
        Error::ContextsExhausted
    );
    assert_eq!(sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0), clones);
    untagged(&injector, original, to_peer(&inline)).unwrap();
    assert_eq!(sim.pending_injections()[1].control_data, inline);
    // The completion gives the large buffer back: the longest control data now fits.
    sim.complete_all(NtStatus::SUCCESS);
    untagged(&injector, original, to_peer(&most)).unwrap();
    assert_eq!(sim.pending_injections()[0].control_data, most);
    sim.complete_all(NtStatus::SUCCESS);
    // Through `inject` too, and through a refused kernel call: everything comes back.
    let packet = ClonedNetBufferList::clone_of(&sim, borrow(original)).unwrap();
    sim.fail_call(
        KernelFn::FwpsInjectTransportSendAsync0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let refused = injector
        .inject(packet, to_peer(&long), Tag::default())
        .unwrap_err();
    drop(refused.packet);
    let packet = ClonedNetBufferList::clone_of(&sim, borrow(original)).unwrap();
    injector
        .inject(packet, to_peer(&long), Tag::default())
        .unwrap();
    assert_eq!(sim.pending_injections()[0].control_data, long);
    sim.complete_all(NtStatus::SUCCESS);
    assert_eq!(seen(&injector).len(), 4);
    assert_eq!(injector.in_flight(), 0);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn a_deferred_injection_with_long_control_data_keeps_it_until_its_completion() {
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let pools = Pools {
        contexts: 4,
        deferred: 2,
        large_control_data: 1,
    };
    let injector = injector_with(&sim, InjectionTypes::TRANSPORT, pools);
    let long: Vec<u8> = (0..150u8).rev().collect();
    untagged(&injector, original, tcp_send(&long)).unwrap();
    assert_eq!(sim.run_queued_dpcs(), 1);
    assert_eq!(sim.pending_injections()[0].control_data, long);
    assert_eq!(
        untagged(&injector, original, tcp_send(&long)).unwrap_err(),
        Error::ContextsExhausted,
        "the large buffer is held until the completion, not the DPC"
    );
    sim.complete_all(NtStatus::SUCCESS);
    // A deferred call the kernel refuses ends in the handler and gives the buffer back too.
    sim.fail_call(
        KernelFn::FwpsInjectTransportSendAsync0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    untagged(&injector, original, tcp_send(&long)).unwrap();
    sim.run_queued_dpcs();
    assert_eq!(injector.in_flight(), 0);
    untagged(&injector, original, tcp_send(&long)).unwrap();
    sim.run_queued_dpcs();
    sim.complete_all(NtStatus::SUCCESS);
    let statuses: Vec<NtStatus> = seen(&injector).iter().map(|seen| seen.status).collect();
    assert_eq!(
        statuses,
        vec![
            NtStatus::SUCCESS,
            NtStatus::INSUFFICIENT_RESOURCES,
            NtStatus::SUCCESS
        ]
    );
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn deferred_slots_are_taken_on_demand_and_return_when_the_dpc_runs() {
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let pools = Pools {
        contexts: 4,
        deferred: 1,
        large_control_data: 0,
    };
    let injector = injector_with(&sim, InjectionTypes::TRANSPORT, pools);
    untagged(&injector, original, tcp_send(&[])).unwrap();
    let clones = sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0);
    assert_eq!(
        untagged(&injector, original, tcp_send(&[])).unwrap_err(),
        Error::ContextsExhausted,
        "one deferred slot, queued"
    );
    assert_eq!(
        sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0),
        clones,
        "refused before cloning"
    );
    // Non-deferred injections do not need one.
    untagged(&injector, original, to_peer(&[])).unwrap();
    // Once the DPC has run, its deferred slot serves the next TCP injection, although the first
    // is still in flight (its completion has not run).
    assert_eq!(sim.run_queued_dpcs(), 1);
    untagged(&injector, original, tcp_send(&[])).unwrap();
    assert_eq!(sim.run_queued_dpcs(), 1);
    assert_eq!(injector.in_flight(), 3);
    sim.complete_all(NtStatus::SUCCESS);
    // Without large buffers, control data a context cannot hold is refused, the rest is not.
    let inline = vec![7u8; INLINE_CONTROL_DATA];
    untagged(&injector, original, to_peer(&inline)).unwrap();
    let one_more = vec![7u8; INLINE_CONTROL_DATA + 1];
    assert_eq!(
        untagged(&injector, original, to_peer(&one_more)).unwrap_err(),
        Error::ContextsExhausted
    );
    sim.complete_all(NtStatus::SUCCESS);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

#[test]
fn a_transport_send_on_handles_without_the_transport_type_is_refused_before_the_kernel() {
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&IPV4_UDP);
    let injector = injector(&sim, InjectionTypes::NETWORK, 2);
    for control in [&[][..], &[1u8; 200][..]] {
        let error = untagged(&injector, original, to_peer(control)).unwrap_err();
        assert_eq!(
            error,
            Error::InvalidInput(InputError::HandleLacksInjectionType {
                needed: InjectionTypes::TRANSPORT,
                has: InjectionTypes::NETWORK
            })
        );
        let packet = ClonedNetBufferList::clone_of(&sim, borrow(original)).unwrap();
        let refused = injector
            .inject(packet, to_peer(control), Tag::default())
            .unwrap_err();
        assert_eq!(refused.error, error);
    }
    assert_eq!(sim.calls(KernelFn::FwpsInjectTransportSendAsync0), 0);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}
