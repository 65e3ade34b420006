//! Safe-layer paths that mutation testing (scripts/mutants.sh) showed no other test exercised.

use wfp_injector::inject::{
    DualStackInjector, Injection, InjectionTypes, IpFamily, NetBufferListRef, NetworkSend,
    PacketInjector, RetryPolicy, Tag,
};
use wfp_injector::nt::NtStatus;
use wfp_sim::SimulatedStack;

/// `PacketInjector::freeing_clones`: each completion frees its clone, whatever its status.
#[test]
fn an_injector_that_frees_clones_frees_each_at_its_completion() {
    let sim = SimulatedStack::new();
    let mut bytes = [0u8; 20];
    bytes[0] = 0x45;
    let original = sim.indicate_packet(&bytes);
    let handles =
        DualStackInjector::create(&sim, InjectionTypes::NETWORK, &RetryPolicy::default()).unwrap();
    let injector = PacketInjector::freeing_clones(handles, 4).unwrap();
    for _ in 0..2 {
        // SAFETY: the stack keeps `original` until it is returned below.
        let packet = unsafe { NetBufferListRef::from_raw(original) }.unwrap();
        injector
            .clone_and_inject(
                packet,
                Injection::NetworkSend(NetworkSend {
                    family: IpFamily::V4,
                    compartment: 1,
                }),
                Tag::default(),
            )
            .unwrap();
    }
    assert_eq!(sim.live_clones(), 2);
    let pending = sim.pending_injections();
    assert!(sim.complete_injection(pending[0].id, NtStatus::SUCCESS, true));
    assert_eq!(sim.live_clones(), 1, "freed at its completion");
    assert!(sim.complete_injection(pending[1].id, NtStatus::UNSUCCESSFUL, false));
    assert_eq!(
        sim.live_clones(),
        0,
        "a failed injection's clone is freed too"
    );
    assert_eq!(injector.in_flight(), 0);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

/// A clone's `as_raw` is the clone the kernel made, not the original and not null.
#[test]
fn a_clones_raw_pointer_is_the_kernels_clone() {
    use wfp_injector::inject::{ClonedNetBufferList, OwnedNetBufferList};
    use wfp_sim::PacketKind;
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&[0x45; 20]);
    // SAFETY: the stack keeps `original` until it is returned below.
    let packet = unsafe { NetBufferListRef::from_raw(original) }.unwrap();
    let clone = ClonedNetBufferList::clone_of(&sim, packet).unwrap();
    assert_eq!(
        sim.packet_kind(clone.as_raw()),
        Some(PacketKind::Clone {
            parent: original as usize
        })
    );
    drop(clone);
    sim.return_packet(original);
    sim.assert_clean();
}

/// Transport-send control data is copied into the injection's context: up to
/// `CONTROL_DATA_CAPACITY` bytes are accepted, one more is refused before the kernel is called.
#[test]
fn control_data_up_to_the_capacity_is_accepted_and_one_byte_more_is_refused() {
    use wfp_injector::error::{Error, InputError};
    use wfp_injector::inject::{CONTROL_DATA_CAPACITY, IpProtocol, RemoteAddress, TransportSend};
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&[0u8; 28]);
    let handles =
        DualStackInjector::create(&sim, InjectionTypes::TRANSPORT, &RetryPolicy::default())
            .unwrap();
    let injector = PacketInjector::freeing_clones(handles, 4).unwrap();
    let control = [0x3C; CONTROL_DATA_CAPACITY + 1];
    let send = |length: usize| {
        Injection::TransportSend(TransportSend {
            endpoint_handle: 1,
            remote_address: RemoteAddress::V4([192, 0, 2, 1]),
            control_data: &control[..length],
            compartment: 1,
            protocol: IpProtocol::UDP,
        })
    };
    // SAFETY: the stack keeps `original` until it is returned below.
    let packet = || unsafe { NetBufferListRef::from_raw(original) }.unwrap();
    injector
        .clone_and_inject(packet(), send(CONTROL_DATA_CAPACITY), Tag::default())
        .expect("control data of exactly the capacity");
    let pending = sim.pending_injections();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].control_data, control[..CONTROL_DATA_CAPACITY]);
    let refused = injector
        .clone_and_inject(packet(), send(CONTROL_DATA_CAPACITY + 1), Tag::default())
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::InvalidInput(InputError::ControlDataTooLong { length, capacity })
                if length == CONTROL_DATA_CAPACITY + 1 && capacity == CONTROL_DATA_CAPACITY
        ),
        "{refused:?}"
    );
    assert_eq!(
        sim.pending_injections().len(),
        1,
        "nothing reached the kernel"
    );
    assert_eq!(sim.live_clones(), 1, "no clone made for the refused one");
    sim.complete_all(NtStatus::SUCCESS);
    // The same bound on `inject`, which takes a packet the caller already owns (its own
    // long-control-data path): exactly the capacity goes out whole, one more byte comes back.
    let owned =
        || wfp_injector::inject::ClonedNetBufferList::clone_of(&sim, packet()).expect("a clone");
    injector
        .inject(owned(), send(CONTROL_DATA_CAPACITY), Tag::default())
        .expect("control data of exactly the capacity");
    let pending = sim.pending_injections();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].control_data, control[..CONTROL_DATA_CAPACITY]);
    let refused = injector
        .inject(owned(), send(CONTROL_DATA_CAPACITY + 1), Tag::default())
        .unwrap_err();
    assert!(
        matches!(
            refused.error,
            Error::InvalidInput(InputError::ControlDataTooLong { length, capacity })
                if length == CONTROL_DATA_CAPACITY + 1 && capacity == CONTROL_DATA_CAPACITY
        ),
        "{:?}",
        refused.error
    );
    drop(refused.packet);
    assert_eq!(
        sim.pending_injections().len(),
        1,
        "nothing reached the kernel"
    );
    sim.complete_all(NtStatus::SUCCESS);
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}

/// Injection types combine as a set: or-ing a type already present changes nothing.
#[test]
fn injection_types_combine_as_a_set() {
    let all = InjectionTypes::ALL;
    assert_eq!(all | InjectionTypes::NETWORK, all);
    assert_eq!(
        InjectionTypes::TRANSPORT | InjectionTypes::TRANSPORT,
        InjectionTypes::TRANSPORT
    );
    let both = InjectionTypes::TRANSPORT | InjectionTypes::NETWORK;
    assert!(both.contains(InjectionTypes::TRANSPORT) && both.contains(InjectionTypes::NETWORK));
    assert_eq!(both | InjectionTypes::NETWORK, both);
}

/// A long-control-data injection refused after its large buffer was taken (no context left)
/// gives the buffer back: with one of each, the next long injection gets it once a context is
/// free again.
#[test]
fn a_refused_long_injection_gives_its_large_buffer_back() {
    use wfp_injector::error::Error;
    use wfp_injector::inject::{FreeOnCompletion, IpProtocol, Pools, RemoteAddress, TransportSend};
    let sim = SimulatedStack::new();
    let original = sim.indicate_packet(&[0u8; 28]);
    let handles =
        DualStackInjector::create(&sim, InjectionTypes::TRANSPORT, &RetryPolicy::default())
            .unwrap();
    let pools = Pools {
        contexts: 1,
        deferred: 1,
        large_control_data: 1,
    };
    let injector = PacketInjector::with_pools(handles, pools, FreeOnCompletion::default()).unwrap();
    let control = [0x5A; 200];
    let send = |length: usize| {
        Injection::TransportSend(TransportSend {
            endpoint_handle: 1,
            remote_address: RemoteAddress::V4([192, 0, 2, 1]),
            control_data: &control[..length],
            compartment: 1,
            protocol: IpProtocol::UDP,
        })
    };
    // SAFETY: the stack keeps `original` until it is returned below.
    let packet = || unsafe { NetBufferListRef::from_raw(original) }.unwrap();
    let owned =
        || wfp_injector::inject::ClonedNetBufferList::clone_of(&sim, packet()).expect("a clone");
    for round in 0..2 {
        // The one context is taken by a short injection.
        injector.inject(owned(), send(8), Tag::default()).unwrap();
        // A long one takes the large buffer, finds no context, and is refused (both paths).
        let refused = injector
            .inject(owned(), send(200), Tag::default())
            .unwrap_err();
        assert_eq!(refused.error, Error::ContextsExhausted, "round {round}");
        drop(refused.packet);
        let refused = injector
            .clone_and_inject(packet(), send(200), Tag::default())
            .unwrap_err();
        assert_eq!(refused, Error::ContextsExhausted, "round {round}");
        sim.complete_all(NtStatus::SUCCESS);
        // Context and large buffer are both free: the long injection goes out.
        injector
            .inject(owned(), send(200), Tag::default())
            .unwrap_or_else(|r| panic!("round {round}: {:?}", r.error));
        sim.complete_all(NtStatus::SUCCESS);
    }
    injector.close().unwrap();
    sim.return_packet(original);
    sim.assert_clean();
}
