//! Safe-layer paths that mutation testing (scripts/mutants.sh) showed no other test exercised.

use wfp_injector::inject::{
    DualStackInjector, Injection, InjectionTypes, IpFamily, NetBufferListRef, NetworkSend,
    PacketInjector, RetryPolicy, Tag,
};
use wfp_injector::nt::NtStatus;
use wfp_injector::sim::SimulatedStack;

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
