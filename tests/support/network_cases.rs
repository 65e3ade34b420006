//! Inspection at the IP packet (network) layers, delivered through the simulated stack to a
//! loaded driver (host-compiled or the shipped image): TCP, UDP and ICMP in each direction and
//! family reinjected with the network injection functions, the packet kinds those layers
//! single out (loopback, IPsec, fragments, receive checksum offload), and the interplay with
//! the transport callouts when both kinds of layer inspect. The stack checks every network
//! injection (NBL at the IP header, the family's handle, the classify's compartment, the
//! arrival interface, a valid IPv4 header checksum, no AH/ESP packet); the caller compares the
//! driver's counters with [`Expected`].

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use wfp_injector::sys::types::{FWP_ACTION_BLOCK, FWP_ACTION_PERMIT};
use wfp_sim::ip_packet::IpPacketLayer;
use wfp_sim::traffic::{Delivery, Layer, TransportPacket};
use wfp_sim::{InjectionPath, KernelFn, RegistryValue, SimulatedStack};

pub const PEER_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
pub const HOST_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const PEER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x12, 0, 0, 0, 0, 7);
pub const HOST_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x12, 0, 0, 0, 0, 1);

/// `InspectLayer`: 1 inspects at the IP packet layers, 2 at both kinds.
pub const NETWORK: u32 = 1;
/// See [`NETWORK`].
pub const BOTH: u32 = 2;

/// Inspects every protocol to or from the peers, at `layer` (an `InspectLayer` value).
pub fn configure(sim: &SimulatedStack, layer: u32) {
    sim.set_parameter(
        "InspectRemoteAddressV4",
        RegistryValue::Binary(PEER_V4.octets().to_vec()),
    );
    sim.set_parameter(
        "InspectRemoteAddressV6",
        RegistryValue::Binary(PEER_V6.octets().to_vec()),
    );
    sim.set_parameter("InspectLayer", RegistryValue::Dword(layer));
}

/// The name the driver's counters line gives a layer.
pub fn ip_name(layer: IpPacketLayer) -> &'static str {
    match layer {
        IpPacketLayer::OutboundV4 => "OutboundIpPacketV4",
        IpPacketLayer::OutboundV6 => "OutboundIpPacketV6",
        IpPacketLayer::InboundV4 => "InboundIpPacketV4",
        IpPacketLayer::InboundV6 => "InboundIpPacketV6",
    }
}

/// See [`ip_name`].
pub fn transport_name(layer: Layer) -> &'static str {
    match layer {
        Layer::OutboundV4 => "OutboundV4",
        Layer::OutboundV6 => "OutboundV6",
        Layer::InboundV4 => "InboundV4",
        Layer::InboundV6 => "InboundV6",
    }
}

/// ICMP or ICMPv6 by family.
pub fn icmp(v6: bool) -> u8 {
    if v6 { 58 } else { 1 }
}

/// A packet of `protocol` between the host and the peer of the family `v6` says.
pub fn packet(v6: bool, protocol: u8) -> TransportPacket {
    let mut packet = if v6 {
        TransportPacket::udp(IpAddr::V6(HOST_V6), 40000, IpAddr::V6(PEER_V6), 443)
    } else {
        TransportPacket::udp(IpAddr::V4(HOST_V4), 40000, IpAddr::V4(PEER_V4), 443)
    };
    packet.protocol = protocol;
    packet.interface_index = 11;
    packet.sub_interface_index = 4;
    packet.compartment = 1;
    if packet.is_icmp() {
        // Echo request, code 0 (type and code travel in the port fields).
        packet.local_port = if v6 { 128 } else { 8 };
        packet.remote_port = 0;
    }
    packet
}

/// Counter values the driver must show per layer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub reinjected: u64,
    pub own: u64,
    pub not_inspected: u64,
    pub loopback: u64,
    pub ipsec: u64,
    pub fragment: u64,
    pub multi_buffer: u64,
    pub checksum: u64,
    pub malformed: u64,
}

/// The IP header of the packet `packet` describes, as the layer's direction sends it.
fn ip_packet_bytes(packet: &TransportPacket, inbound: bool) -> Vec<u8> {
    packet.bytes(inbound).0
}

/// IP packet layers only (`InspectLayer` 1): every case, checked as it goes; the counters each
/// layer must show.
pub fn run(sim: &SimulatedStack) -> BTreeMap<&'static str, Expected> {
    let mut expected: BTreeMap<&'static str, Expected> = BTreeMap::new();
    let mut returned = Vec::new();
    for layer in IpPacketLayer::ALL {
        let v6 = layer.is_v6();
        for protocol in [6, 17, icmp(v6)] {
            let p = packet(v6, protocol);
            let delivered = sim.deliver_ip_packet(layer, &p, Delivery::default());
            let result = delivered.result.expect("a filter at the IP packet layer");
            assert_eq!(
                result.action, FWP_ACTION_BLOCK,
                "{layer:?} {protocol}: absorbed"
            );
            let pending = sim.pending_injections();
            assert_eq!(pending.len(), 1, "{layer:?} {protocol}: one injection");
            let injection = &pending[0];
            let path = if layer.is_inbound() {
                InjectionPath::NetworkReceive
            } else {
                InjectionPath::NetworkSend
            };
            assert_eq!(injection.path, path, "{layer:?} {protocol}");
            assert_eq!(injection.compartment, p.compartment, "{layer:?} {protocol}");
            if layer.is_inbound() {
                assert_eq!(
                    (injection.interface_index, injection.sub_interface_index),
                    (p.interface_index, p.sub_interface_index),
                    "{layer:?} {protocol}: the arrival interface"
                );
            }
            // The injected clone presents the whole IP packet.
            let injected = sim
                .packet_view(injection.nbl as *const _)
                .expect("the injected clone");
            assert_eq!(
                injected,
                ip_packet_bytes(&p, layer.is_inbound()),
                "{layer:?} {protocol}: the clone is the IP packet"
            );
            let followed = sim.follow_injections(&p);
            assert_eq!(
                followed.injections.len(),
                1,
                "{layer:?} {protocol}: no loop"
            );
            // Indicated again at its IP packet layer: this driver's own, permitted.
            let again = followed
                .reclassified
                .iter()
                .find(|r| r.layer == Ok(layer))
                .and_then(|r| r.result)
                .expect("indicated again at the IP packet layer");
            assert_eq!(again.action, FWP_ACTION_PERMIT, "{layer:?} {protocol}");
            let e = expected.entry(ip_name(layer)).or_default();
            e.reinjected += 1;
            e.own += 1;
            returned.push(delivered.nbl);
        }
    }
    let permitted_untouched = |sim: &SimulatedStack,
                               layer: IpPacketLayer,
                               p: &TransportPacket,
                               how: Delivery,
                               what: &str| {
        let clones = sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0);
        let delivered = sim.deliver_ip_packet(layer, p, how);
        assert_eq!(
            delivered.result.expect("filtered").action,
            FWP_ACTION_PERMIT,
            "{layer:?} {what}: permitted"
        );
        assert_eq!(
            sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0),
            clones,
            "{layer:?} {what}: not cloned"
        );
        assert!(sim.pending_injections().is_empty(), "{layer:?} {what}");
        delivered.nbl
    };
    for layer in IpPacketLayer::ALL {
        let v6 = layer.is_v6();
        // Loopback (FWP_CONDITION_FLAG_IS_LOOPBACK).
        let mut p = packet(v6, 17);
        p.loopback = true;
        returned.push(permitted_untouched(
            sim,
            layer,
            &p,
            Delivery::default(),
            "loopback",
        ));
        expected.entry(ip_name(layer)).or_default().loopback += 1;
        // IPsec: ESP and AH, not decrypted (inbound) or already encrypted (outbound).
        for protocol in [50, 51] {
            let p = packet(v6, protocol);
            returned.push(permitted_untouched(
                sim,
                layer,
                &p,
                Delivery::default(),
                "IPsec",
            ));
            expected.entry(ip_name(layer)).or_default().ipsec += 1;
        }
        // A fragment, before reassembly.
        for protocol in [17, 6] {
            let mut p = packet(v6, protocol);
            p.fragment = true;
            returned.push(permitted_untouched(
                sim,
                layer,
                &p,
                Delivery::default(),
                "fragment",
            ));
            expected.entry(ip_name(layer)).or_default().fragment += 1;
        }
        // Another peer (a filter broader than the configuration): not inspected.
        let mut p = packet(v6, 17);
        p.remote = if v6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x99, 0, 0, 0, 0, 9))
        } else {
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))
        };
        let broad = Delivery {
            ignore_conditions: true,
            ..Delivery::default()
        };
        returned.push(permitted_untouched(sim, layer, &p, broad, "another peer"));
        expected.entry(ip_name(layer)).or_default().not_inspected += 1;
        // No IP header size in the metadata: permitted untouched.
        let withheld = Delivery {
            withhold_metadata: wfp_sim::layout::metadata::FIELD_IP_HEADER_SIZE,
            ..Delivery::default()
        };
        returned.push(permitted_untouched(
            sim,
            layer,
            &packet(v6, 17),
            withheld,
            "no header size",
        ));
        expected.entry(ip_name(layer)).or_default().malformed += 1;
    }
    // Two NET_BUFFERs: only the first one's headers would be read (and, inbound, retreated
    // over), so the packet is permitted untouched.
    for layer in IpPacketLayer::ALL {
        let p = packet(layer.is_v6(), 17);
        let (bytes, ip_header, _) = p.bytes(layer.is_inbound());
        let mut frame = vec![0u8; 14];
        frame.extend_from_slice(&bytes);
        let spec = wfp_sim::NetBufferSpec {
            bytes: &frame,
            offset: 14 + if layer.is_inbound() { ip_header } else { 0 },
            mdl_starts: &[],
        };
        let nbl = sim.indicate_net_buffers(&[spec, spec]);
        let clones = sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0);
        let result = sim.classify_ip_packet_again(layer, &p, nbl);
        assert_eq!(
            result.action, FWP_ACTION_PERMIT,
            "{layer:?}: two NET_BUFFERs"
        );
        assert_eq!(sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0), clones);
        returned.push(nbl);
        expected.entry(ip_name(layer)).or_default().multi_buffer += 1;
    }
    // Cut inside the IP header: shorter than the metadata's header size, permitted untouched.
    for layer in IpPacketLayer::ALL {
        let cut = Delivery {
            truncate_to: Some(if layer.is_v6() { 30 } else { 10 }),
            ..Delivery::default()
        };
        returned.push(permitted_untouched(
            sim,
            layer,
            &packet(layer.is_v6(), 17),
            cut,
            "cut",
        ));
        expected.entry(ip_name(layer)).or_default().malformed += 1;
    }
    // Header variants that are reinjected: IPv4 options, an IPv6 extension header, and an
    // inbound IPv4 header whose checksum the NIC validated and left stale (recomputed).
    for layer in IpPacketLayer::ALL {
        let v6 = layer.is_v6();
        let mut p = packet(v6, 17);
        if v6 {
            p.ipv6_extension = 16;
        } else {
            p.ipv4_options = vec![1, 1, 1, 0];
        }
        let delivered = sim.deliver_ip_packet(layer, &p, Delivery::default());
        assert_eq!(
            delivered.result.unwrap().action,
            FWP_ACTION_BLOCK,
            "{layer:?} options"
        );
        assert_eq!(sim.follow_injections(&p).injections.len(), 1);
        let e = expected.entry(ip_name(layer)).or_default();
        e.reinjected += 1;
        e.own += 1;
        returned.push(delivered.nbl);
    }
    {
        // An invalid IPv4 header checksum as the packet arrived (before any IP header
        // processing): maybe corruption, which the stack would drop. Never repaired here:
        // permitted untouched, counted malformed.
        let layer = IpPacketLayer::InboundV4;
        let mut p = packet(false, 17);
        p.checksum_offloaded = true;
        let delivered = sim.deliver_ip_packet(layer, &p, Delivery::default());
        assert_eq!(
            delivered.result.unwrap().action,
            FWP_ACTION_PERMIT,
            "invalid checksum as it arrived"
        );
        assert_eq!(sim.follow_injections(&p).injections.len(), 0);
        expected.entry(ip_name(layer)).or_default().malformed += 1;
        returned.push(delivered.nbl);
    }
    {
        // The same header rebuilt by the stack's reassembly (FWP_CONDITION_FLAG_IS_REASSEMBLED):
        // its checksum is repaired and the packet reinjected.
        let layer = IpPacketLayer::InboundV4;
        let mut p = packet(false, 17);
        p.checksum_offloaded = true;
        p.reassembled = true;
        let delivered = sim.deliver_ip_packet(layer, &p, Delivery::default());
        assert_eq!(
            delivered.result.unwrap().action,
            FWP_ACTION_BLOCK,
            "reassembled, stale checksum"
        );
        assert_eq!(sim.follow_injections(&p).injections.len(), 1);
        let e = expected.entry(ip_name(layer)).or_default();
        e.reinjected += 1;
        e.own += 1;
        e.checksum += 1;
        returned.push(delivered.nbl);
    }
    assert_eq!(sim.live_clones(), 0);
    for nbl in returned {
        sim.return_packet(nbl);
    }
    expected
}

/// Configures a remote port only (no address), at the IP packet layers: the port is matched in
/// the packet's own transport header, the source port inbound and the destination outbound.
pub fn configure_port(sim: &SimulatedStack) {
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(443));
    sim.set_parameter("InspectLayer", RegistryValue::Dword(NETWORK));
}

/// With [`configure_port`]: TCP and UDP with remote port 443 reinjected each way and family,
/// remote port 80 and ICMP not inspected (no address condition, so all reach classify).
pub fn run_port(sim: &SimulatedStack) -> BTreeMap<&'static str, Expected> {
    let mut expected: BTreeMap<&'static str, Expected> = BTreeMap::new();
    let mut returned = Vec::new();
    for layer in IpPacketLayer::ALL {
        let v6 = layer.is_v6();
        for (protocol, port, inspected) in [
            (17, 443, true),
            (6, 443, true),
            (17, 80, false),
            (icmp(v6), 0, false),
        ] {
            let mut p = packet(v6, protocol);
            if protocol != icmp(v6) {
                p.remote_port = port;
            }
            let delivered = sim.deliver_ip_packet(layer, &p, Delivery::default());
            let action = delivered.result.expect("a filter").action;
            let e = expected.entry(ip_name(layer)).or_default();
            if inspected {
                assert_eq!(action, FWP_ACTION_BLOCK, "{layer:?} {protocol}/{port}");
                assert_eq!(sim.follow_injections(&p).injections.len(), 1);
                e.reinjected += 1;
                e.own += 1;
            } else {
                assert_eq!(action, FWP_ACTION_PERMIT, "{layer:?} {protocol}/{port}");
                assert!(sim.pending_injections().is_empty());
                e.not_inspected += 1;
            }
            returned.push(delivered.nbl);
        }
    }
    for nbl in returned {
        sim.return_packet(nbl);
    }
    expected
}

/// Both kinds of layer (`InspectLayer` 2): each packet is reinjected once, by the first layer
/// it meets (inbound the IP packet layer, outbound the transport layer), and its clone is this
/// driver's own at every layer it passes afterwards, the other kind included: never injected
/// twice, never a loop. The counters each layer must show.
pub fn run_both(sim: &SimulatedStack) -> BTreeMap<&'static str, Expected> {
    let mut expected: BTreeMap<&'static str, Expected> = BTreeMap::new();
    let mut returned = Vec::new();
    for v6 in [false, true] {
        for protocol in [6, 17, icmp(v6)] {
            let p = packet(v6, protocol);
            // Inbound: the IP packet layer first.
            let ip_layer = if v6 {
                IpPacketLayer::InboundV6
            } else {
                IpPacketLayer::InboundV4
            };
            let delivered = sim.deliver_ip_packet(ip_layer, &p, Delivery::default());
            assert_eq!(
                delivered.result.unwrap().action,
                FWP_ACTION_BLOCK,
                "inbound {protocol}"
            );
            let followed = sim.follow_injections(&p);
            assert_eq!(
                followed.injections.len(),
                1,
                "inbound {protocol}: injected once"
            );
            assert_eq!(followed.injections[0].path, InjectionPath::NetworkReceive);
            for layer in [Ok(ip_layer), Err(ip_layer.transport())] {
                let seen = followed
                    .reclassified
                    .iter()
                    .find(|r| r.layer == layer)
                    .and_then(|r| r.result)
                    .unwrap_or_else(|| panic!("inbound {protocol}: classified at {layer:?}"));
                assert_eq!(
                    seen.action, FWP_ACTION_PERMIT,
                    "inbound {protocol} at {layer:?}"
                );
            }
            let e = expected.entry(ip_name(ip_layer)).or_default();
            e.reinjected += 1;
            e.own += 1;
            expected
                .entry(transport_name(ip_layer.transport()))
                .or_default()
                .own += 1;
            returned.push(delivered.nbl);

            // Outbound: the transport layer first.
            let layer = if v6 {
                Layer::OutboundV6
            } else {
                Layer::OutboundV4
            };
            let delivered = sim.deliver(layer, &p, Delivery::default());
            assert_eq!(
                delivered.result.unwrap().action,
                FWP_ACTION_BLOCK,
                "outbound {protocol}"
            );
            let followed = sim.follow_injections(&p);
            assert_eq!(
                followed.injections.len(),
                1,
                "outbound {protocol}: injected once"
            );
            assert_eq!(followed.injections[0].path, InjectionPath::TransportSend);
            let ip_layer = IpPacketLayer::of(layer);
            for at in [Err(layer), Ok(ip_layer)] {
                let seen = followed
                    .reclassified
                    .iter()
                    .find(|r| r.layer == at)
                    .and_then(|r| r.result)
                    .unwrap_or_else(|| panic!("outbound {protocol}: classified at {at:?}"));
                assert_eq!(
                    seen.action, FWP_ACTION_PERMIT,
                    "outbound {protocol} at {at:?}"
                );
            }
            let e = expected.entry(transport_name(layer)).or_default();
            e.reinjected += 1;
            e.own += 1;
            expected.entry(ip_name(ip_layer)).or_default().own += 1;
            returned.push(delivered.nbl);
        }
    }
    assert_eq!(sim.live_clones(), 0);
    for nbl in returned {
        sim.return_packet(nbl);
    }
    expected
}
