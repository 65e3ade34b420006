//! The simulator's rules for network injection of a packet it indicated at an IP packet layer,
//! each shown catching the mistake it exists for through the raw seam: an NBL that does not
//! begin at the IP header, the other family's handle, another compartment, another arrival
//! interface, an inbound IPv4 header whose checksum is not valid, an AH or ESP packet. The
//! driver's own network injections pass them all (tests/network_layer.rs).

use core::ffi::c_void;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ptr;

use wfp_injector::nt::NtStatus;
use wfp_injector::sys::KernelApi;
use wfp_injector::sys::types::{HANDLE, NET_BUFFER, NET_BUFFER_LIST};
use wfp_sim::ip_packet::IpPacketLayer;
use wfp_sim::traffic::{Delivery, TransportPacket};
use wfp_sim::{SimulatedStack, Violation};

const AF_INET: u16 = 2;
const AF_INET6: u16 = 23;
const NETWORK: u32 = 0x4;

fn handle(sim: &SimulatedStack, family: u16) -> HANDLE {
    let mut handle: HANDLE = ptr::null_mut();
    // SAFETY: PASSIVE_LEVEL; `handle` is writable.
    let status = unsafe { (&sim).fwps_injection_handle_create0(family, NETWORK, &mut handle) };
    assert_eq!(NtStatus(status), NtStatus::SUCCESS);
    handle
}

fn packet(v6: bool, protocol: u8) -> TransportPacket {
    let mut packet = if v6 {
        TransportPacket::udp(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            40000,
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
            443,
        )
    } else {
        TransportPacket::udp(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            40000,
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            443,
        )
    };
    packet.protocol = protocol;
    packet.interface_index = 9;
    packet.sub_interface_index = 2;
    packet.compartment = 1;
    packet
}

/// Frees the clone WFP hands back.
unsafe extern "win64" fn free_clone(context: *mut c_void, nbl: *mut NET_BUFFER_LIST, _: u8) {
    // SAFETY: the tests pass their SimulatedStack, which outlives the injection.
    let sim = unsafe { &*context.cast::<SimulatedStack>() };
    // SAFETY: the clone WFP completed, no longer held by it.
    unsafe { (&sim).fwps_free_clone_net_buffer_list0(nbl, 0) };
}

/// Indicates `packet` at `layer` (no filter there: nobody classifies it) and clones it, the
/// clone moved by `retreat` bytes toward its start (inbound: the IP header's size reaches it).
fn clone_of(
    sim: &SimulatedStack,
    layer: IpPacketLayer,
    packet: &TransportPacket,
    retreat: u32,
) -> (*mut NET_BUFFER_LIST, *mut NET_BUFFER_LIST) {
    let delivered = sim.deliver_ip_packet(layer, packet, Delivery::default());
    assert!(delivered.result.is_none(), "no filter at the layer");
    let mut clone = ptr::null_mut();
    // SAFETY: a live NBL of `sim`; `clone` is writable.
    let status = unsafe {
        (&sim).fwps_allocate_clone_net_buffer_list0(
            delivered.nbl,
            ptr::null_mut(),
            ptr::null_mut(),
            0,
            &mut clone,
        )
    };
    assert_eq!(NtStatus(status), NtStatus::SUCCESS);
    if retreat > 0 {
        // SAFETY: the clone is live; its NBL's first NET_BUFFER is valid.
        let buffer: *mut NET_BUFFER = unsafe { (*clone).FirstNetBuffer.cast() };
        // SAFETY: PASSIVE_LEVEL; the buffer holds the link-layer and IP headers before its data.
        let status = unsafe {
            (&sim).ndis_retreat_net_buffer_data_start(buffer, retreat, 0, ptr::null_mut())
        };
        assert_eq!(status, 0);
    }
    (delivered.nbl, clone)
}

/// Network receive injection of `clone`; a refused one frees the clone at once.
fn receive(
    sim: &SimulatedStack,
    handle: HANDLE,
    clone: *mut NET_BUFFER_LIST,
    compartment: u32,
    interface: (u32, u32),
) -> NtStatus {
    // SAFETY: live handle and clone of `sim`; `sim` outlives the injection.
    let status = NtStatus(unsafe {
        (&sim).fwps_inject_network_receive_async0(
            handle,
            ptr::null_mut(),
            0,
            compartment,
            interface.0,
            interface.1,
            clone,
            free_clone,
            ptr::from_ref(sim).cast_mut().cast(),
        )
    });
    if !status.is_success() {
        // SAFETY: the refused clone is still the caller's.
        unsafe { (&sim).fwps_free_clone_net_buffer_list0(clone, 0) };
    }
    status
}

/// Network send injection of `clone`; a refused one frees the clone at once.
fn send(
    sim: &SimulatedStack,
    handle: HANDLE,
    clone: *mut NET_BUFFER_LIST,
    compartment: u32,
) -> NtStatus {
    // SAFETY: live handle and clone of `sim`; `sim` outlives the injection.
    let status = NtStatus(unsafe {
        (&sim).fwps_inject_network_send_async0(
            handle,
            ptr::null_mut(),
            0,
            compartment,
            clone,
            free_clone,
            ptr::from_ref(sim).cast_mut().cast(),
        )
    });
    if !status.is_success() {
        // SAFETY: the refused clone is still the caller's.
        unsafe { (&sim).fwps_free_clone_net_buffer_list0(clone, 0) };
    }
    status
}

/// Completes what was accepted, returns the original and destroys the handles.
fn finish(sim: &SimulatedStack, original: *mut NET_BUFFER_LIST, handles: &[HANDLE]) {
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(original);
    for &handle in handles {
        // SAFETY: a live handle of `sim` with nothing in flight.
        let status = unsafe { (&sim).fwps_injection_handle_destroy0(handle) };
        assert_eq!(NtStatus(status), NtStatus::SUCCESS);
    }
}

#[test]
fn a_correct_network_receive_and_send_pass_every_rule() {
    let sim = SimulatedStack::new();
    let v4 = handle(&sim, AF_INET);
    let p = packet(false, 17);
    let (original, clone) = clone_of(&sim, IpPacketLayer::InboundV4, &p, 20);
    assert!(receive(&sim, v4, clone, 1, (9, 2)).is_success());
    finish(&sim, original, &[]);
    let (original, clone) = clone_of(&sim, IpPacketLayer::OutboundV4, &p, 0);
    assert!(send(&sim, v4, clone, 1).is_success());
    finish(&sim, original, &[v4]);
    sim.assert_clean();
}

#[test]
fn an_inbound_clone_not_retreated_to_its_ip_header_is_caught() {
    let sim = SimulatedStack::new();
    let v4 = handle(&sim, AF_INET);
    let (original, clone) = clone_of(&sim, IpPacketLayer::InboundV4, &packet(false, 17), 0);
    assert!(!receive(&sim, v4, clone, 1, (9, 2)).is_success());
    finish(&sim, original, &[v4]);
    assert!(matches!(
        sim.take_violations().as_slice(),
        [Violation::NetworkInjectionNotAtIpHeader(_)]
    ));
}

#[test]
fn the_other_familys_handle_is_caught() {
    let sim = SimulatedStack::new();
    let v6 = handle(&sim, AF_INET6);
    let (original, clone) = clone_of(&sim, IpPacketLayer::OutboundV4, &packet(false, 17), 0);
    assert!(!send(&sim, v6, clone, 1).is_success());
    finish(&sim, original, &[v6]);
    assert!(matches!(
        sim.take_violations().as_slice(),
        [Violation::NetworkInjectionWrongFamily(_)]
    ));
}

#[test]
fn another_compartment_or_arrival_interface_is_caught() {
    let sim = SimulatedStack::new();
    let v6 = handle(&sim, AF_INET6);
    let p = packet(true, 17);
    let (original, clone) = clone_of(&sim, IpPacketLayer::InboundV6, &p, 40);
    assert!(receive(&sim, v6, clone, 0, (2, 9)).is_success());
    finish(&sim, original, &[v6]);
    let violations = sim.take_violations();
    assert!(
        violations.iter().any(|v| matches!(
            v,
            Violation::NetworkInjectionWrongCompartment {
                expected: 1,
                given: 0,
                ..
            }
        )),
        "{violations:?}"
    );
    assert!(
        violations.iter().any(|v| matches!(
            v,
            Violation::NetworkReceiveWrongInterface {
                expected: (9, 2),
                given: (2, 9),
                ..
            }
        )),
        "{violations:?}"
    );
}

#[test]
fn a_stale_inbound_ipv4_checksum_is_caught() {
    let sim = SimulatedStack::new();
    let v4 = handle(&sim, AF_INET);
    let mut p = packet(false, 17);
    p.checksum_offloaded = true;
    let (original, clone) = clone_of(&sim, IpPacketLayer::InboundV4, &p, 20);
    assert!(receive(&sim, v4, clone, 1, (9, 2)).is_success());
    finish(&sim, original, &[v4]);
    assert!(matches!(
        sim.take_violations().as_slice(),
        [Violation::InvalidIpv4HeaderChecksum(_)]
    ));
}

#[test]
fn an_ah_or_esp_packet_is_caught_both_ways() {
    for protocol in [50, 51] {
        let sim = SimulatedStack::new();
        let v4 = handle(&sim, AF_INET);
        let p = packet(false, protocol);
        let (original, clone) = clone_of(&sim, IpPacketLayer::InboundV4, &p, 20);
        assert!(receive(&sim, v4, clone, 1, (9, 2)).is_success());
        finish(&sim, original, &[]);
        let (original, clone) = clone_of(&sim, IpPacketLayer::OutboundV4, &p, 0);
        assert!(send(&sim, v4, clone, 1).is_success());
        finish(&sim, original, &[v4]);
        let violations = sim.take_violations();
        assert_eq!(
            violations
                .iter()
                .filter(|v| matches!(v, Violation::NetworkInjectionOfIpsecPacket(_)))
                .count(),
            2,
            "{protocol}: {violations:?}"
        );
    }
}
