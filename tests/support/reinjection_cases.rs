//! The packet kinds Microsoft's reinjection rules single out, delivered through the
//! simulated stack to a loaded driver (host-compiled or the shipped image), with what each must
//! come to. The stack checks what the driver injects (IP header at the start of a receive
//! injection, a valid IPv4 header checksum, no receive injection of ALE-classify-required or
//! IPsec packets, no TCP injection or DPC run inside a classify, no retreat past the buffer's
//! start); the caller compares the driver's counters with [`Expected`].

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use wfp_injector::nt::{Irql, NtStatus};
use wfp_injector::sys::types::{FWP_ACTION_BLOCK, FWP_ACTION_PERMIT};
use wfp_sim::traffic::{Delivery, Ipsec, Layer, TransportPacket};
use wfp_sim::{InjectionPath, KernelFn, RegistryValue, SimulatedStack};

pub const PEER_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
pub const HOST_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const PEER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x12, 0, 0, 0, 0, 7);
pub const HOST_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x12, 0, 0, 0, 0, 1);

/// Inspects every protocol to or from the peers (so ICMP is configured too).
pub fn configure_peers(sim: &SimulatedStack) {
    sim.set_parameter(
        "InspectRemoteAddressV4",
        RegistryValue::Binary(PEER_V4.octets().to_vec()),
    );
    sim.set_parameter(
        "InspectRemoteAddressV6",
        RegistryValue::Binary(PEER_V6.octets().to_vec()),
    );
}

/// A packet of `protocol` between the host and the peer of `layer`'s family.
pub fn packet(layer: Layer, protocol: u8) -> TransportPacket {
    let mut packet = if layer.is_v6() {
        TransportPacket::udp(IpAddr::V6(HOST_V6), 40000, IpAddr::V6(PEER_V6), 443)
    } else {
        TransportPacket::udp(IpAddr::V4(HOST_V4), 40000, IpAddr::V4(PEER_V4), 443)
    };
    packet.protocol = protocol;
    if packet.is_icmp() {
        // Echo request, code 0 (type and code travel in the port fields).
        packet.local_port = if layer.is_v6() { 128 } else { 8 };
        packet.remote_port = 0;
    }
    packet
}

/// Counter values the driver must show per layer after [`run`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub reinjected: u64,
    pub own: u64,
    pub loopback: u64,
    pub ale: u64,
    pub ipsec: u64,
    pub tcp_below_dispatch: u64,
    pub no_headroom: u64,
    pub multi_buffer: u64,
    pub checksum: u64,
    pub split_header_checksum: u64,
    pub malformed: u64,
}

fn icmp_protocol(layer: Layer) -> u8 {
    if layer.is_v6() { 58 } else { 1 }
}

/// Delivers every case, checks what the stack saw, completes what was injected and returns
/// the packets, and gives the counters each layer must show. The driver must be loaded with
/// [`configure_peers`].
pub fn run(sim: &SimulatedStack) -> BTreeMap<&'static str, Expected> {
    let mut expected: BTreeMap<&'static str, Expected> = BTreeMap::new();
    let mut returned = Vec::new();
    let name = |layer: Layer| match layer {
        Layer::OutboundV4 => "OutboundV4",
        Layer::OutboundV6 => "OutboundV6",
        Layer::InboundV4 => "InboundV4",
        Layer::InboundV6 => "InboundV6",
    };
    let permitted_untouched =
        |sim: &SimulatedStack, layer: Layer, p: &TransportPacket, what: &str| {
            let before = sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0);
            let delivered = sim.deliver(layer, p, Delivery::default());
            assert_eq!(
                delivered.result.expect("filtered").action,
                FWP_ACTION_PERMIT,
                "{layer:?} {what}: permitted"
            );
            assert_eq!(
                sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0),
                before,
                "{layer:?} {what}: not cloned"
            );
            assert!(sim.pending_injections().is_empty(), "{layer:?} {what}");
            assert_eq!(sim.queued_dpcs(), 0, "{layer:?} {what}: nothing deferred");
            delivered.nbl
        };

    // Loopback (FWP_CONDITION_FLAG_IS_LOOPBACK), every layer: permitted untouched.
    for layer in Layer::ALL {
        let mut p = packet(layer, 17);
        p.loopback = true;
        returned.push(permitted_untouched(sim, layer, &p, "loopback"));
        expected.entry(name(layer)).or_default().loopback += 1;
    }
    // Inbound: ALE classify required, and each IPsec state that forbids receive injection.
    for layer in [Layer::InboundV4, Layer::InboundV6] {
        let mut p = packet(layer, 17);
        p.ale_classify_required = true;
        returned.push(permitted_untouched(sim, layer, &p, "ALE classify required"));
        expected.entry(name(layer)).or_default().ale += 1;
        for ipsec in [
            Ipsec::Transport,
            Ipsec::TunnelNotDetunneled,
            Ipsec::TunnelDetunneled,
        ] {
            let mut p = packet(layer, 17);
            p.ipsec = ipsec;
            returned.push(permitted_untouched(sim, layer, &p, &format!("{ipsec:?}")));
            expected.entry(name(layer)).or_default().ipsec += 1;
        }
        // The security query failing: the packet's protection is unknown, so it is treated as
        // protected (permitted untouched, counted with IPsec).
        sim.fail_call(
            KernelFn::FwpsGetPacketListSecurityInformation0,
            0,
            NtStatus::INSUFFICIENT_RESOURCES,
        );
        returned.push(permitted_untouched(
            sim,
            layer,
            &packet(layer, 17),
            "security query failed",
        ));
        expected.entry(name(layer)).or_default().ipsec += 1;
    }
    // Inbound with no room before the data for the headers: no retreat, permitted untouched.
    for layer in [Layer::InboundV4, Layer::InboundV6] {
        let before = sim.calls(KernelFn::NdisRetreatNetBufferDataStart);
        let delivered = sim.deliver(
            layer,
            &packet(layer, 17),
            Delivery {
                truncate_to: Some(10),
                ..Delivery::default()
            },
        );
        assert_eq!(delivered.result.unwrap().action, FWP_ACTION_PERMIT);
        assert_eq!(
            sim.calls(KernelFn::NdisRetreatNetBufferDataStart),
            before,
            "{layer:?}: no retreat past the buffer's start"
        );
        returned.push(delivered.nbl);
        expected.entry(name(layer)).or_default().no_headroom += 1;
    }
    // Inbound with two NET_BUFFERs: only the first would be retreated to its IP header, so the
    // packet is permitted untouched.
    for layer in [Layer::InboundV4, Layer::InboundV6] {
        let p = packet(layer, 17);
        let (bytes, ip_header, transport_header) = p.bytes(true);
        let spec = wfp_sim::NetBufferSpec {
            bytes: &bytes,
            offset: ip_header + transport_header,
            mdl_starts: &[],
        };
        let nbl = sim.indicate_net_buffers(&[spec, spec]);
        let clones = sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0);
        let result = sim.classify_again(layer, &p, nbl);
        assert_eq!(
            result.action, FWP_ACTION_PERMIT,
            "{layer:?}: two NET_BUFFERs"
        );
        assert_eq!(
            sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0),
            clones,
            "{layer:?}: nothing cloned"
        );
        returned.push(nbl);
        expected.entry(name(layer)).or_default().multi_buffer += 1;
    }

    // Reinjected kinds. ICMP: at INBOUND_TRANSPORT the data starts at the ICMP header.
    for layer in Layer::ALL {
        let p = packet(layer, icmp_protocol(layer));
        let delivered = sim.deliver(layer, &p, Delivery::default());
        assert_eq!(
            delivered.result.unwrap().action,
            FWP_ACTION_BLOCK,
            "{layer:?} ICMP reinjected"
        );
        let pending = sim.pending_injections();
        assert_eq!(pending.len(), 1, "{layer:?} ICMP");
        let clone = sim.packet_view(pending[0].nbl as *const _).unwrap();
        let (bytes, ip_header, _) = p.bytes(layer.is_inbound());
        if layer.is_inbound() {
            assert_eq!(pending[0].path, InjectionPath::TransportReceive);
            assert_eq!(
                clone, bytes,
                "{layer:?}: the ICMP clone starts at its IP header"
            );
            let original = sim.packet_view(delivered.nbl as *const _).unwrap();
            assert_eq!(
                original,
                bytes[ip_header..].to_vec(),
                "{layer:?}: the original is back at its ICMP header"
            );
        } else {
            assert_eq!(pending[0].path, InjectionPath::TransportSend);
            assert_eq!(clone, bytes[ip_header..].to_vec());
        }
        // The clone comes back: the driver's own, permitted untouched.
        let again = sim.classify_again(layer, &p, pending[0].nbl as *mut _);
        assert_eq!(again.action, FWP_ACTION_PERMIT, "{layer:?}: own ICMP clone");
        sim.complete_all(NtStatus::SUCCESS);
        returned.push(delivered.nbl);
        let e = expected.entry(name(layer)).or_default();
        e.reinjected += 1;
        e.own += 1;
    }
    // Inbound IPv4 with checksum offload: the NIC left the header checksum stale; the clone the
    // driver injects has a valid one (the stack checks it), counted. With a valid checksum
    // nothing is rewritten.
    for offloaded in [true, false] {
        let layer = Layer::InboundV4;
        let mut p = packet(layer, 17);
        p.checksum_offloaded = offloaded;
        let delivered = sim.deliver(layer, &p, Delivery::default());
        assert_eq!(delivered.result.unwrap().action, FWP_ACTION_BLOCK);
        let pending = sim.pending_injections();
        assert_eq!(pending.len(), 1);
        let clone = sim.packet_view(pending[0].nbl as *const _).unwrap();
        let (bytes, _, _) = p.bytes(true);
        assert_eq!(clone[..10], bytes[..10]);
        assert_eq!(clone[12..], bytes[12..]);
        assert_eq!(
            header_sum(&clone[..20]),
            0xFFFF,
            "offloaded {offloaded}: a valid IPv4 header checksum"
        );
        sim.complete_all(NtStatus::SUCCESS);
        returned.push(delivered.nbl);
        let e = expected.entry(name(layer)).or_default();
        e.reinjected += 1;
        e.checksum += u64::from(offloaded);
    }
    // TCP classified below DISPATCH_LEVEL: a DPC queued there would run inside the classify, so
    // the packet is permitted untouched. At DISPATCH_LEVEL it is deferred to the DPC.
    for layer in [Layer::OutboundV4, Layer::InboundV6] {
        sim.set_classify_irql(Irql::PASSIVE);
        returned.push(permitted_untouched(
            sim,
            layer,
            &packet(layer, 6),
            "TCP at PASSIVE",
        ));
        expected.entry(name(layer)).or_default().tcp_below_dispatch += 1;
        sim.set_classify_irql(Irql::DISPATCH);
        let delivered = sim.deliver(layer, &packet(layer, 6), Delivery::default());
        assert_eq!(delivered.result.unwrap().action, FWP_ACTION_BLOCK);
        assert!(
            sim.pending_injections().is_empty(),
            "{layer:?}: TCP deferred"
        );
        assert_eq!(sim.run_queued_dpcs(), 1, "{layer:?}: the DPC injects it");
        assert_eq!(sim.pending_injections().len(), 1);
        sim.complete_all(NtStatus::SUCCESS);
        returned.push(delivered.nbl);
        expected.entry(name(layer)).or_default().reinjected += 1;
    }
    // Inbound IP header split across MDLs: NdisGetDataBuffer can only copy it, so it is checked
    // but cannot be fixed in place. IPv6 and IPv4 with a valid checksum are reinjected; IPv4 with
    // a stale (offloaded) checksum cannot be made valid in the copy and is permitted untouched,
    // counted as such.
    for (layer, offloaded) in [
        (Layer::InboundV6, false),
        (Layer::InboundV4, false),
        (Layer::InboundV4, true),
    ] {
        let mut p = packet(layer, 17);
        p.checksum_offloaded = offloaded;
        let split = Delivery {
            split_ip_header_at: Some(10),
            ..Delivery::default()
        };
        if offloaded {
            let before = sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0);
            let delivered = sim.deliver(layer, &p, split);
            assert_eq!(
                delivered.result.expect("filtered").action,
                FWP_ACTION_PERMIT,
                "{layer:?} split header, stale checksum: permitted"
            );
            assert_eq!(sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0), before);
            assert!(sim.pending_injections().is_empty());
            returned.push(delivered.nbl);
            expected
                .entry(name(layer))
                .or_default()
                .split_header_checksum += 1;
            continue;
        }
        let delivered = sim.deliver(layer, &p, split);
        assert_eq!(
            delivered.result.expect("filtered").action,
            FWP_ACTION_BLOCK,
            "{layer:?} split header: reinjected"
        );
        assert_eq!(sim.pending_injections().len(), 1, "{layer:?} split header");
        sim.complete_all(NtStatus::SUCCESS);
        returned.push(delivered.nbl);
        expected.entry(name(layer)).or_default().reinjected += 1;
    }
    // IPv4 options (IHL 6 and 15) and an IPv6 extension header (104-byte IPv6 header): the
    // retreat covers the whole IP header the metadata gives; the IPv4 header checksum covers the
    // options (and is rewritten when offloaded); of an IPv6 header only the version is read, so a
    // header longer than any copy buffer is reinjected even when it is split across MDLs.
    for (layer, extra, offloaded, split) in [
        (Layer::InboundV4, 4, false, None),
        (Layer::InboundV4, 40, false, None),
        (Layer::InboundV4, 40, true, None),
        (Layer::InboundV4, 40, false, Some(10)),
        (Layer::InboundV6, 64, false, None),
        (Layer::InboundV6, 64, false, Some(10)),
    ] {
        let mut p = packet(layer, 17);
        if layer.is_v6() {
            p.ipv6_extension = extra;
        } else {
            // NOP options (RFC 791 option type 1).
            p.ipv4_options = vec![1; extra];
            p.checksum_offloaded = offloaded;
        }
        let what = format!("{layer:?}, {extra} bytes of options, split {split:?}");
        let delivered = sim.deliver(
            layer,
            &p,
            Delivery {
                split_ip_header_at: split,
                ..Delivery::default()
            },
        );
        assert_eq!(
            delivered.result.expect("filtered").action,
            FWP_ACTION_BLOCK,
            "{what}: reinjected"
        );
        let pending = sim.pending_injections();
        assert_eq!(pending.len(), 1, "{what}");
        assert_eq!(pending[0].path, InjectionPath::TransportReceive, "{what}");
        let clone = sim.packet_view(pending[0].nbl as *const _).unwrap();
        let (bytes, ip_header, _) = p.bytes(true);
        assert_eq!(
            ip_header,
            if layer.is_v6() { 40 } else { 20 } + extra,
            "{what}"
        );
        if layer.is_v6() {
            assert_eq!(clone, bytes, "{what}: the clone starts at the IP header");
        } else {
            assert_eq!(clone[..10], bytes[..10], "{what}");
            assert_eq!(clone[12..], bytes[12..], "{what}");
            assert_eq!(
                header_sum(&clone[..ip_header]),
                0xFFFF,
                "{what}: a valid checksum over the options too"
            );
        }
        sim.complete_all(NtStatus::SUCCESS);
        returned.push(delivered.nbl);
        let e = expected.entry(name(layer)).or_default();
        e.reinjected += 1;
        e.checksum += u64::from(offloaded);
    }
    // Unconfigured traffic (a filter broader than the configuration): permitted, not cloned.
    let clones = sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0);
    for layer in Layer::ALL {
        let mut p = packet(layer, 17);
        p.remote = if layer.is_v6() {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x99, 0, 0, 0, 0, 9))
        } else {
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))
        };
        let delivered = sim.deliver(
            layer,
            &p,
            Delivery {
                ignore_conditions: true,
                ..Delivery::default()
            },
        );
        assert_eq!(delivered.result.unwrap().action, FWP_ACTION_PERMIT);
        returned.push(delivered.nbl);
    }
    assert_eq!(sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0), clones);
    assert_eq!(sim.live_clones(), 0);
    for nbl in returned {
        sim.return_packet(nbl);
    }
    expected
}

/// The one's-complement sum of an IPv4 header's 16-bit words (RFC 1071), carries folded in:
/// 0xFFFF when the header's checksum is valid.
fn header_sum(header: &[u8]) -> u32 {
    let mut sum: u32 = header
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum
}
