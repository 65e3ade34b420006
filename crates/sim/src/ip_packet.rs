//! The IP packet (network) layers of the simulated engine, FWPM_LAYER_{INBOUND,OUTBOUND}_
//! IPPACKET_V4/V6: their keys, run-time ids and field orders (the simulator's own, pinned by
//! tests/kernel_facts.rs), the NBL offset and metadata each presents, and what WFP does with the
//! packets a driver injects: each is indicated again at the layers it passes on its way
//! ([`SimulatedStack::follow_injections`]), where the injection-state query must keep it from
//! being injected again.
//!
//! Where the data starts ("Data offset positions"): inbound at the transport header (past the
//! IP header, behind a link-layer header here), outbound at the IP header. Metadata ("Metadata
//! fields at each filtering layer"): IP_HEADER_SIZE and COMPARTMENT_ID both ways,
//! TRANSPORT_HEADER_SIZE outbound. The layers carry no protocol or port field, so a filter
//! condition on either matches nothing here.

use std::net::IpAddr;
use std::vec::Vec;

use super::engine::{ClassifyResult, ConditionInput, ConditionValue};
use super::layout::{
    INBOUND_IPPACKET_FIELDS, IncomingValues, IpPacketField, OUTBOUND_IPPACKET_FIELDS, RawBlock,
    condition_flag, data_type, metadata,
};
use super::other_injector::REINJECTION_LIMIT;
use super::packets::{InjectionPath, IpPacketModel, PacketModel, PendingInjection};
use super::stack::{SimulatedStack, Violation};
use super::traffic::{Delivered, Delivery, Layer, TransportPacket, link_layer_header, set_address};
use crate::nt::NtStatus;
use crate::sys::types::{GUID, NET_BUFFER_LIST};

/// An IP packet layer of the simulated engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpPacketLayer {
    /// FWPM_LAYER_OUTBOUND_IPPACKET_V4 (run-time id 4).
    OutboundV4,
    /// FWPM_LAYER_OUTBOUND_IPPACKET_V6 (6).
    OutboundV6,
    /// FWPM_LAYER_INBOUND_IPPACKET_V4 (0).
    InboundV4,
    /// FWPM_LAYER_INBOUND_IPPACKET_V6 (2).
    InboundV6,
}

impl IpPacketLayer {
    /// All four.
    pub const ALL: [Self; 4] = [
        Self::OutboundV4,
        Self::OutboundV6,
        Self::InboundV4,
        Self::InboundV6,
    ];

    /// The layer key (FWPM_LAYER_*_IPPACKET_*).
    pub fn key(self) -> GUID {
        let (data1, data2, data3, data4): (u32, u16, u16, [u8; 8]) = match self {
            Self::OutboundV4 => (
                0x1e5c_9fae,
                0x8a84,
                0x4135,
                [0xa3, 0x31, 0x95, 0x0b, 0x54, 0x22, 0x9e, 0xcd],
            ),
            Self::OutboundV6 => (
                0xa3b3_ab6b,
                0x3564,
                0x488c,
                [0x91, 0x17, 0xf3, 0x4e, 0x82, 0x14, 0x27, 0x63],
            ),
            Self::InboundV4 => (
                0xc86f_d1bf,
                0x21cd,
                0x497e,
                [0xa0, 0xbb, 0x17, 0x42, 0x5c, 0x88, 0x5c, 0x58],
            ),
            Self::InboundV6 => (
                0xf520_32cb,
                0x991c,
                0x46e7,
                [0x97, 0x1d, 0x26, 0x01, 0x45, 0x9a, 0x91, 0xca],
            ),
        };
        GUID {
            Data1: data1,
            Data2: data2,
            Data3: data3,
            Data4: data4,
        }
    }

    /// The run-time layer id (FWPS_BUILTIN_LAYERS).
    pub fn runtime_id(self) -> u16 {
        match self {
            Self::InboundV4 => 0,
            Self::InboundV6 => 2,
            Self::OutboundV4 => 4,
            Self::OutboundV6 => 6,
        }
    }

    /// The layer's data fields in enum order (the simulator's own table).
    pub fn fields(self) -> &'static [IpPacketField] {
        if self.is_inbound() {
            &INBOUND_IPPACKET_FIELDS
        } else {
            &OUTBOUND_IPPACKET_FIELDS
        }
    }

    /// True for the IPv6 layers.
    pub fn is_v6(self) -> bool {
        matches!(self, Self::OutboundV6 | Self::InboundV6)
    }

    /// True for the inbound layers.
    pub fn is_inbound(self) -> bool {
        matches!(self, Self::InboundV4 | Self::InboundV6)
    }

    /// The transport layer of the same direction and family.
    pub fn transport(self) -> Layer {
        match self {
            Self::OutboundV4 => Layer::OutboundV4,
            Self::OutboundV6 => Layer::OutboundV6,
            Self::InboundV4 => Layer::InboundV4,
            Self::InboundV6 => Layer::InboundV6,
        }
    }

    /// The IP packet layer of `transport`'s direction and family.
    pub fn of(transport: Layer) -> Self {
        match transport {
            Layer::OutboundV4 => Self::OutboundV4,
            Layer::OutboundV6 => Self::OutboundV6,
            Layer::InboundV4 => Self::InboundV4,
            Layer::InboundV6 => Self::InboundV6,
        }
    }
}

/// One classify of an injected packet on its way: the layer (an IP packet layer or a transport
/// layer) and the engine's verdict (`None`: no filter there).
#[derive(Debug)]
pub struct Reclassified {
    /// `Ok`: an IP packet layer; `Err`: a transport layer.
    pub layer: Result<IpPacketLayer, Layer>,
    /// The verdict.
    pub result: Option<ClassifyResult>,
}

/// What [`SimulatedStack::follow_injections`] saw.
#[derive(Debug, Default)]
pub struct Followed {
    /// Every injection, in the order WFP accepted them (by any handle).
    pub injections: Vec<PendingInjection>,
    /// Every classify of an injected packet.
    pub reclassified: Vec<Reclassified>,
}

impl SimulatedStack {
    /// Indicates `packet` at the IP packet layer `layer` and classifies it through the engine's
    /// filters.
    pub fn deliver_ip_packet(
        &self,
        layer: IpPacketLayer,
        packet: &TransportPacket,
        how: Delivery,
    ) -> Delivered {
        assert_eq!(
            layer.is_v6(),
            packet.remote.is_ipv6(),
            "packet family must match the layer"
        );
        let (mut bytes, ip_header, transport_header) = packet.bytes(layer.is_inbound());
        // Inbound the data starts at the transport header, behind a link-layer header and the
        // IP header; outbound at the IP header.
        let link = if layer.is_inbound() {
            link_layer_header(layer.is_v6()).to_vec()
        } else {
            Vec::new()
        };
        let ip_start = link.len();
        let offset = if layer.is_inbound() {
            ip_start + ip_header
        } else {
            ip_start
        };
        if let Some(length) = how.truncate_to {
            bytes.truncate(length);
        }
        let mut frame = link;
        frame.extend_from_slice(&bytes);
        let split = how.split_ip_header_at.map(|at| ip_start + at);
        let nbl = self.indicate_net_buffers(&[super::packets::NetBufferSpec {
            bytes: &frame,
            offset: offset.min(frame.len()),
            mdl_starts: split.as_slice(),
        }]);
        let compartment = if how.withhold_metadata & metadata::FIELD_COMPARTMENT_ID != 0 {
            0
        } else {
            packet.compartment
        };
        self.set_packet_model(
            nbl,
            PacketModel {
                ip_start: Some(ip_start),
                protocol: Some(packet.protocol),
                ip_packet: Some(IpPacketModel {
                    family: if layer.is_v6() { 23 } else { 2 },
                    compartment,
                    arrival: layer
                        .is_inbound()
                        .then_some((packet.interface_index, packet.sub_interface_index)),
                }),
                ..PacketModel::default()
            },
        );
        let result = self.classify_ip_packet(layer, packet, how, nbl, ip_header, transport_header);
        Delivered { result, nbl }
    }

    /// Classifies an NBL that already exists (one the test indicated itself, or a clone coming
    /// back) at `layer` with `packet`'s values and metadata. Panics when no filter is there.
    pub fn classify_ip_packet_again(
        &self,
        layer: IpPacketLayer,
        packet: &TransportPacket,
        nbl: *mut NET_BUFFER_LIST,
    ) -> ClassifyResult {
        let (_, ip_header, transport_header) = packet.bytes(layer.is_inbound());
        self.classify_ip_packet(
            layer,
            packet,
            Delivery::default(),
            nbl,
            ip_header,
            transport_header,
        )
        .expect("a filter at the layer")
    }

    /// Classifies `nbl` at `layer` with `packet`'s values and metadata.
    pub(crate) fn classify_ip_packet(
        &self,
        layer: IpPacketLayer,
        packet: &TransportPacket,
        how: Delivery,
        nbl: *mut NET_BUFFER_LIST,
        ip_header: usize,
        transport_header: usize,
    ) -> Option<ClassifyResult> {
        let fields = layer.fields();
        let mut values = IncomingValues::new(layer.runtime_id(), fields.len());
        for (index, field) in fields.iter().enumerate() {
            let (kind, value) = match field {
                IpPacketField::IpLocalAddress => {
                    set_address(&mut values, index, packet.local);
                    continue;
                }
                IpPacketField::IpRemoteAddress => {
                    set_address(&mut values, index, packet.remote);
                    continue;
                }
                IpPacketField::IpLocalInterface => {
                    let mut luid = [0u8; 16];
                    luid[..8].copy_from_slice(
                        &(0x0006_0000_0000_0000_u64 | u64::from(packet.interface_index))
                            .to_le_bytes(),
                    );
                    values.set_pointed(index, data_type::UINT64, luid);
                    continue;
                }
                // NL_ADDRESS_TYPE: NlatUnicast (1).
                IpPacketField::IpLocalAddressType => (data_type::UINT8, 1),
                IpPacketField::InterfaceIndex => {
                    (data_type::UINT32, u64::from(packet.interface_index))
                }
                IpPacketField::SubInterfaceIndex => {
                    (data_type::UINT32, u64::from(packet.sub_interface_index))
                }
                IpPacketField::Flags => {
                    let mut flags = 0;
                    if packet.loopback {
                        flags |= condition_flag::IS_LOOPBACK;
                    }
                    if packet.fragment {
                        flags |= condition_flag::IS_FRAGMENT;
                    }
                    if packet.reassembled {
                        flags |= condition_flag::IS_REASSEMBLED;
                    }
                    (data_type::UINT32, u64::from(flags))
                }
                IpPacketField::CompartmentId => (data_type::UINT32, u64::from(packet.compartment)),
                IpPacketField::InterfaceType | IpPacketField::TunnelType => (data_type::UINT32, 0),
            };
            values.set_integer(index, kind, value);
        }
        if let Some(count) = how.value_count {
            values.truncate(count as usize);
        }
        let mut present = metadata::FIELD_IP_HEADER_SIZE | metadata::FIELD_COMPARTMENT_ID;
        if !layer.is_inbound() {
            present |= metadata::FIELD_TRANSPORT_HEADER_SIZE;
        }
        let mut meta = RawBlock::<{ metadata::BLOCK }>::boxed();
        meta.put(
            metadata::CURRENT_METADATA_VALUES,
            present & !how.withhold_metadata,
        );
        meta.put(metadata::IP_HEADER_SIZE, ip_header as u32);
        meta.put(metadata::TRANSPORT_HEADER_SIZE, transport_header as u32);
        meta.put(metadata::COMPARTMENT_ID, packet.compartment);
        let input = ConditionInput {
            protocol: packet.protocol,
            remote_address: match packet.remote {
                IpAddr::V4(v4) => ConditionValue::U32(u32::from(v4)),
                IpAddr::V6(v6) => ConditionValue::Bytes16(v6.octets()),
            },
            remote_port: packet.remote_port,
            ip_packet_layer: true,
        };
        self.classify(
            layer.key(),
            (!how.ignore_conditions).then_some(&input),
            values.as_ptr(),
            meta.as_mut_ptr(),
            nbl,
            (!how.may_write).then(|| how.decided_above.unwrap_or(super::layout::action::PERMIT)),
            how.context,
        )
    }

    /// Plays what WFP does with every injection pending now and every one they lead to, for
    /// the packet `packet` describes: each injected packet is indicated again ("Packet
    /// Injection Functions": injected packets reenter the stack and are classified again) at
    /// the layers it passes, with the data offset each presents, and then completed:
    ///
    /// - network receive: the inbound IP packet layer, then the inbound transport layer;
    /// - network send: the outbound IP packet layer;
    /// - transport send: the outbound transport layer, then the outbound IP packet layer;
    /// - transport receive: the inbound transport layer.
    ///
    /// Queued DPCs run first each round (TCP transport injection is deferred to one). More
    /// than [`REINJECTION_LIMIT`] injections for one packet is a loop, recorded as a violation.
    pub fn follow_injections(&self, packet: &TransportPacket) -> Followed {
        let mut followed = Followed::default();
        loop {
            self.run_queued_dpcs();
            let Some(next) = self.pending_injections().into_iter().next() else {
                break;
            };
            followed.injections.push(next.clone());
            if followed.injections.len() > REINJECTION_LIMIT {
                self.lock()
                    .violations
                    .push(Violation::ReinjectionLoop(followed.injections.len()));
                while self.run_queued_dpcs() > 0 || self.complete_all(NtStatus::SUCCESS) > 0 {}
                break;
            }
            let nbl = next.nbl as *mut NET_BUFFER_LIST;
            let v6 = packet.remote.is_ipv6();
            let inbound = matches!(
                next.path,
                InjectionPath::NetworkReceive | InjectionPath::TransportReceive
            );
            let (_, ip_header, transport_header) = packet.bytes(inbound);
            // Inbound transport data starts past the transport header, at the ICMP header for
            // ICMP; the injected packet starts at the IP header.
            let to_transport_data = if packet.is_icmp() {
                ip_header
            } else {
                ip_header + transport_header
            };
            let transport = |outbound: bool| match (outbound, v6) {
                (true, false) => Layer::OutboundV4,
                (true, true) => Layer::OutboundV6,
                (false, false) => Layer::InboundV4,
                (false, true) => Layer::InboundV6,
            };
            let steps: Vec<(Result<IpPacketLayer, Layer>, isize)> = match next.path {
                InjectionPath::NetworkReceive => vec![
                    (Ok(IpPacketLayer::of(transport(false))), ip_header as isize),
                    (Err(transport(false)), to_transport_data as isize),
                ],
                InjectionPath::NetworkSend => vec![(Ok(IpPacketLayer::of(transport(true))), 0)],
                InjectionPath::TransportSend => vec![
                    (Err(transport(true)), 0),
                    (
                        Ok(IpPacketLayer::of(transport(true))),
                        -(ip_header as isize),
                    ),
                ],
                InjectionPath::TransportReceive => {
                    vec![(Err(transport(false)), to_transport_data as isize)]
                }
                InjectionPath::Forward | InjectionPath::Stream => Vec::new(),
            };
            for (layer, shift) in steps {
                let presented = shift == 0 || self.shift_data_start(nbl, shift);
                if !presented {
                    continue;
                }
                let result = match layer {
                    Ok(ip_layer) => self.classify_ip_packet(
                        ip_layer,
                        packet,
                        Delivery::default(),
                        nbl,
                        ip_header,
                        transport_header,
                    ),
                    Err(transport_layer) => self.classify_packet(
                        transport_layer,
                        packet,
                        Delivery::default(),
                        nbl,
                        ip_header,
                        transport_header,
                    ),
                };
                if shift != 0 {
                    // The stack gives the injector back the packet as it was injected.
                    self.shift_data_start(nbl, -shift);
                }
                followed.reclassified.push(Reclassified { layer, result });
            }
            self.run_queued_dpcs();
            self.complete_injection(next.id, NtStatus::SUCCESS, true);
        }
        followed
    }
}
