//! Synthetic traffic for the simulated filter engine: real IPv4/IPv6 + UDP/TCP bytes, the NBL
//! offsets, incoming values and metadata a transport layer presents, delivered to classify.
//!
//! The layer keys, run-time ids, field indices and metadata bits here are written from the
//! headers independently of the driver's own tables, so a mistake in one shows up as a failure.

use std::net::IpAddr;
use std::vec;
use std::vec::Vec;

use super::engine::{ClassifyResult, ConditionInput, ConditionValue};
use super::layout::{
    INBOUND_TRANSPORT_FIELDS, IncomingValues, OUTBOUND_TRANSPORT_FIELDS, RawBlock, TransportField,
    data_type, metadata,
};
use super::stack::SimulatedStack;
use crate::sys::types::{GUID, NET_BUFFER_LIST};

/// A transport layer of the simulated engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// FWPM_LAYER_OUTBOUND_TRANSPORT_V4 (run-time id 16).
    OutboundV4,
    /// FWPM_LAYER_OUTBOUND_TRANSPORT_V6 (18).
    OutboundV6,
    /// FWPM_LAYER_INBOUND_TRANSPORT_V4 (12).
    InboundV4,
    /// FWPM_LAYER_INBOUND_TRANSPORT_V6 (14).
    InboundV6,
}

impl Layer {
    /// All four.
    pub const ALL: [Self; 4] = [
        Self::OutboundV4,
        Self::OutboundV6,
        Self::InboundV4,
        Self::InboundV6,
    ];

    /// The layer key (FWPM_LAYER_*).
    pub fn key(self) -> GUID {
        let (data1, data2, data3, data4): (u32, u16, u16, [u8; 8]) = match self {
            Self::OutboundV4 => (
                0x09e6_1aea,
                0xd214,
                0x46e2,
                [0x9b, 0x21, 0xb2, 0x6b, 0x0b, 0x2f, 0x28, 0xc8],
            ),
            Self::OutboundV6 => (
                0xe173_5bde,
                0x013f,
                0x4655,
                [0xb3, 0x51, 0xa4, 0x9e, 0x15, 0x76, 0x2d, 0xf0],
            ),
            Self::InboundV4 => (
                0x5926_dfc8,
                0xe3cf,
                0x4426,
                [0xa2, 0x83, 0xdc, 0x39, 0x3f, 0x5d, 0x0f, 0x9d],
            ),
            Self::InboundV6 => (
                0x634a_869f,
                0xfc23,
                0x4b90,
                [0xb0, 0xc1, 0xbf, 0x62, 0x0a, 0x36, 0xae, 0x6f],
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
            Self::InboundV4 => 12,
            Self::InboundV6 => 14,
            Self::OutboundV4 => 16,
            Self::OutboundV6 => 18,
        }
    }

    /// The layer's data fields in enum order (the simulator's own table).
    pub fn fields(self) -> &'static [TransportField] {
        if self.is_inbound() {
            &INBOUND_TRANSPORT_FIELDS
        } else {
            &OUTBOUND_TRANSPORT_FIELDS
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
}

/// A packet to deliver. Addresses decide the family; they must match the layer's.
#[derive(Debug, Clone)]
pub struct TransportPacket {
    /// 6 (TCP) or 17 (UDP); others get an 8-byte transport header.
    pub protocol: u8,
    /// This host's address.
    pub local: IpAddr,
    /// The peer's address.
    pub remote: IpAddr,
    /// This host's port.
    pub local_port: u16,
    /// The peer's port.
    pub remote_port: u16,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Interface index.
    pub interface_index: u32,
    /// Sub-interface index.
    pub sub_interface_index: u32,
    /// Compartment id.
    pub compartment: u32,
    /// Endpoint handle (outbound).
    pub endpoint_handle: u64,
    /// Remote scope id (outbound).
    pub scope_id: u32,
    /// Socket control data (outbound).
    pub control_data: Vec<u8>,
    // The packet kinds Microsoft's reinjection rules single out.
    /// FWP_CONDITION_FLAG_IS_LOOPBACK in the layer's FLAGS field.
    pub loopback: bool,
    /// Inbound: FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED in the metadata.
    pub ale_classify_required: bool,
    /// Inbound: what IPsec did to the packet (FwpsGetPacketListSecurityInformation0).
    pub ipsec: Ipsec,
    /// Inbound IPv4: the NIC validated the checksums (receive checksum offload) and the header's
    /// checksum field was left stale (zero); otherwise the stack verified a valid one.
    pub checksum_offloaded: bool,
    /// IPv4 options after the 20 fixed bytes (a multiple of 4, at most 40: IHL 6 to 15);
    /// RFC 791's IHL counts them in the header.
    pub ipv4_options: Vec<u8>,
    /// IPv6: bytes of one Hop-by-Hop Options extension header between the fixed header and the
    /// transport header (0: none; else a multiple of 8: RFC 8200 4.3, its Hdr Ext Len counting
    /// 8-octet units after the first), filled with one PadN option, so at most 256.
    pub ipv6_extension: usize,
    /// The first fragment of a larger packet: IPv4 with MF set, IPv6 with a Fragment header
    /// (M set, offset 0) after any Hop-by-Hop header. Seen only at the IP packet layers, which
    /// classify before reassembly; FWP_CONDITION_FLAG_IS_FRAGMENT in their FLAGS field.
    pub fragment: bool,
    /// Inbound, at the IP packet layers: the stack reassembled the packet (FLAGS carries
    /// FWP_CONDITION_FLAG_IS_REASSEMBLED); with `checksum_offloaded` its rebuilt IPv4 header's
    /// checksum is stale.
    pub reassembled: bool,
}

/// IPsec processing of an inbound packet, as the security query reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ipsec {
    /// Not protected.
    #[default]
    None,
    /// Transport mode, decrypted and verified (isSecure, isTransportMode).
    Transport,
    /// A tunnel-mode packet IPsec has not detunneled yet (isTunnelMode only).
    TunnelNotDetunneled,
    /// Tunnel mode, detunneled (isSecure, isTunnelMode, isDeTunneled).
    TunnelDetunneled,
}

impl Ipsec {
    /// FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0 bits, from the simulator's own table.
    pub fn inbound_bits(self) -> u32 {
        use super::layout::packet_list_information as pli;
        match self {
            Self::None => 0,
            Self::Transport => pli::INBOUND_IS_SECURE | pli::INBOUND_IS_TRANSPORT_MODE,
            Self::TunnelNotDetunneled => pli::INBOUND_IS_TUNNEL_MODE,
            Self::TunnelDetunneled => {
                pli::INBOUND_IS_SECURE | pli::INBOUND_IS_TUNNEL_MODE | pli::INBOUND_IS_DE_TUNNELED
            }
        }
    }
}

/// The link-layer (Ethernet II) header in front of an inbound packet's IP header:
/// locally administered MAC addresses (first byte 0x02) and the EtherType.
pub(crate) fn link_layer_header(v6: bool) -> [u8; 14] {
    let ether_type: [u8; 2] = if v6 { [0x86, 0xDD] } else { [0x08, 0x00] };
    [
        0x02,
        0,
        0,
        0,
        0,
        0x01,
        0x02,
        0,
        0,
        0,
        0,
        0x02,
        ether_type[0],
        ether_type[1],
    ]
}

/// The IPv4 header checksum (RFC 791: one's complement of the one's-complement sum
/// of the header's 16-bit words, the checksum field taken as zero).
fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

impl TransportPacket {
    /// A UDP packet between two addresses of one family.
    pub fn udp(local: IpAddr, local_port: u16, remote: IpAddr, remote_port: u16) -> Self {
        Self {
            protocol: 17,
            local,
            remote,
            local_port,
            remote_port,
            payload: b"hello".to_vec(),
            interface_index: 7,
            sub_interface_index: 3,
            compartment: 1,
            endpoint_handle: 0xE0E0,
            scope_id: 0,
            control_data: Vec::new(),
            loopback: false,
            ale_classify_required: false,
            ipsec: Ipsec::None,
            checksum_offloaded: false,
            ipv4_options: Vec::new(),
            ipv6_extension: 0,
            fragment: false,
            reassembled: false,
        }
    }

    /// True for ICMP and ICMPv6: their "ports" are the ICMP type and code.
    pub fn is_icmp(&self) -> bool {
        matches!(self.protocol, 1 | 58)
    }

    /// The transport header as the packet travels: an inbound packet's source port is the
    /// remote one.
    fn transport_header(&self, inbound: bool) -> Vec<u8> {
        if self.is_icmp() {
            // Type (the local "port"), code (the remote "port"), checksum, identifier, sequence.
            return vec![
                self.local_port as u8,
                self.remote_port as u8,
                0,
                0,
                0,
                1,
                0,
                1,
            ];
        }
        let mut header = Vec::new();
        let (source, destination) = if inbound {
            (self.remote_port, self.local_port)
        } else {
            (self.local_port, self.remote_port)
        };
        header.extend_from_slice(&source.to_be_bytes());
        header.extend_from_slice(&destination.to_be_bytes());
        if self.protocol == 6 {
            header.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
        } else {
            header.extend_from_slice(&((8 + self.payload.len()) as u16).to_be_bytes());
            header.extend_from_slice(&[0, 0]);
        }
        header
    }

    /// The whole packet: IP header, transport header, payload; and the two header sizes.
    pub fn bytes(&self, inbound: bool) -> (Vec<u8>, usize, usize) {
        let transport = self.transport_header(inbound);
        let (source, destination) = if inbound {
            (self.remote, self.local)
        } else {
            (self.local, self.remote)
        };
        let mut bytes = Vec::new();
        let body = transport.len() + self.payload.len();
        match (source, destination) {
            (IpAddr::V4(source), IpAddr::V4(destination)) => {
                let options = self.ipv4_options.len();
                assert!(
                    options % 4 == 0 && options <= 40,
                    "IPv4 options come in 4-byte words, at most 40 bytes"
                );
                let header = 20 + options;
                bytes.extend_from_slice(&[0x40 | (header / 4) as u8, 0]);
                bytes.extend_from_slice(&((header + body) as u16).to_be_bytes());
                // Identification, then flags and fragment offset: MF (0x2000) for a fragment.
                let flags: u8 = if self.fragment { 0x20 } else { 0 };
                bytes.extend_from_slice(&[0, 0, flags, 0, 64, self.protocol, 0, 0]);
                bytes.extend_from_slice(&source.octets());
                bytes.extend_from_slice(&destination.octets());
                bytes.extend_from_slice(&self.ipv4_options);
                if !self.checksum_offloaded {
                    let checksum = ipv4_checksum(&bytes);
                    bytes[10..12].copy_from_slice(&checksum.to_be_bytes());
                }
            }
            (IpAddr::V6(source), IpAddr::V6(destination)) => {
                let extension = self.ipv6_extension;
                assert!(
                    extension % 8 == 0 && extension <= 256,
                    "an IPv6 extension header here is a multiple of 8 bytes, at most 256"
                );
                // The chain: [Hop-by-Hop Options (0)] [Fragment (44)] transport header.
                let fragment = if self.fragment { 8 } else { 0 };
                let after_options = if self.fragment { 44 } else { self.protocol };
                let next = if extension == 0 { after_options } else { 0 };
                bytes.extend_from_slice(&[0x60, 0, 0, 0]);
                bytes.extend_from_slice(&((extension + fragment + body) as u16).to_be_bytes());
                bytes.extend_from_slice(&[next, 64]);
                bytes.extend_from_slice(&source.octets());
                bytes.extend_from_slice(&destination.octets());
                if extension != 0 {
                    // Next Header, Hdr Ext Len (8-octet units after the first), then one PadN
                    // option (type 1, its data length) filling the rest.
                    bytes.extend_from_slice(&[after_options, (extension / 8 - 1) as u8]);
                    bytes.extend_from_slice(&[1, (extension - 4) as u8]);
                    bytes.resize(bytes.len() + extension - 4, 0);
                }
                if self.fragment {
                    // Next Header, reserved, offset 0 with M set, identification (RFC 8200 4.5).
                    bytes.extend_from_slice(&[self.protocol, 0, 0, 1, 0, 0, 0, 1]);
                }
            }
            _ => panic!("a packet's addresses must share one family"),
        }
        let ip_header = bytes.len();
        bytes.extend_from_slice(&transport);
        bytes.extend_from_slice(&self.payload);
        (bytes, ip_header, transport.len())
    }
}

/// How to deliver.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// The classify has the write right (false: a higher-weight filter already decided, with
    /// [`decided_above`](Self::decided_above)).
    pub may_write: bool,
    /// Without the write right: the action the higher-weight filter left (FWP_ACTION_PERMIT when
    /// `None`: a permit that cleared the right).
    pub decided_above: Option<u32>,
    /// Metadata bits to withhold (to deliver incomplete metadata).
    pub withhold_metadata: u32,
    /// Cut the packet to this many bytes (a truncated packet; header sizes stay as declared).
    pub truncate_to: Option<usize>,
    /// Deliver this many incoming values (fewer than a layer has: malformed values).
    pub value_count: Option<u32>,
    /// Hand classify this filter context instead of the filter's own (a filter that another
    /// instance added).
    pub context: Option<u64>,
    /// Call the layer's filters whatever their conditions say (a filter broader than the
    /// configuration).
    pub ignore_conditions: bool,
    /// Inbound: end the first MDL this many bytes into the IP header, so that the header is not
    /// contiguous and NdisGetDataBuffer can only copy it (NDIS chains MDLs anywhere).
    pub split_ip_header_at: Option<usize>,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            may_write: true,
            decided_above: None,
            withhold_metadata: 0,
            truncate_to: None,
            value_count: None,
            context: None,
            ignore_conditions: false,
            split_ip_header_at: None,
        }
    }
}

/// What a delivery produced.
#[derive(Debug)]
pub struct Delivered {
    /// The engine's verdict (`None`: no filter at the layer).
    pub result: Option<ClassifyResult>,
    /// The packet the stack indicated; return it with [`SimulatedStack::return_packet`] once
    /// its clones are freed.
    pub nbl: *mut NET_BUFFER_LIST,
}

/// Stores an address as the layer presents it: IPv4 as a host-order UINT32, IPv6 as a pointer
/// to 16 bytes.
pub(crate) fn set_address(values: &mut IncomingValues, index: usize, address: IpAddr) {
    match address {
        IpAddr::V4(v4) => values.set_integer(index, data_type::UINT32, u64::from(u32::from(v4))),
        IpAddr::V6(v6) => values.set_pointed(index, data_type::BYTE_ARRAY16, v6.octets()),
    }
}

impl SimulatedStack {
    /// Indicates `packet` at `layer` and classifies it through the engine's filters.
    pub fn deliver(&self, layer: Layer, packet: &TransportPacket, how: Delivery) -> Delivered {
        assert_eq!(
            layer.is_v6(),
            packet.remote.is_ipv6(),
            "packet family must match the layer"
        );
        let (mut bytes, ip_header, transport_header) = packet.bytes(layer.is_inbound());
        // Inbound: the data offset is past the transport header, or at the ICMP header for ICMP
        // (docs: data offset positions); a link-layer header precedes the IP header.
        let (link, offset) = if layer.is_inbound() {
            let past = if packet.is_icmp() {
                ip_header
            } else {
                ip_header + transport_header
            };
            (link_layer_header(layer.is_v6()).to_vec(), 14 + past)
        } else {
            (Vec::new(), ip_header)
        };
        if let Some(length) = how.truncate_to {
            bytes.truncate(length);
        }
        let ip_start = link.len();
        let mut frame = link;
        frame.extend_from_slice(&bytes);
        if let Some(at) = how.split_ip_header_at {
            assert!(
                layer.is_inbound() && at > 0 && at < ip_header,
                "split_ip_header_at: an inbound layer and a point inside the IP header"
            );
        }
        let split = how.split_ip_header_at.map(|at| ip_start + at);
        let nbl = self.indicate_net_buffers(&[super::packets::NetBufferSpec {
            bytes: &frame,
            offset,
            mdl_starts: split.as_slice(),
        }]);
        self.set_packet_model(
            nbl,
            super::packets::PacketModel {
                ip_start: layer.is_inbound().then_some(ip_start),
                protocol: Some(packet.protocol),
                ale_classify_required: layer.is_inbound() && packet.ale_classify_required,
                ipsec_inbound: if layer.is_inbound() {
                    packet.ipsec.inbound_bits()
                } else {
                    0
                },
                ip_packet: None,
            },
        );
        let result = self.classify_packet(layer, packet, how, nbl, ip_header, transport_header);
        Delivered { result, nbl }
    }

    /// Classifies an NBL that already exists (e.g. a reinjected clone coming back through the
    /// layer) with `packet`'s values and metadata. Panics when no filter is at the layer.
    pub fn classify_again(
        &self,
        layer: Layer,
        packet: &TransportPacket,
        nbl: *mut NET_BUFFER_LIST,
    ) -> ClassifyResult {
        let (_, ip_header, transport_header) = packet.bytes(layer.is_inbound());
        self.classify_packet(
            layer,
            packet,
            Delivery::default(),
            nbl,
            ip_header,
            transport_header,
        )
        .expect("a filter at the layer")
    }

    pub(crate) fn classify_packet(
        &self,
        layer: Layer,
        packet: &TransportPacket,
        how: Delivery,
        nbl: *mut NET_BUFFER_LIST,
        ip_header: usize,
        transport_header: usize,
    ) -> Option<ClassifyResult> {
        let fields = layer.fields();
        let mut values = IncomingValues::new(layer.runtime_id(), fields.len());
        for (index, field) in fields.iter().enumerate() {
            let integer = |value: u64, kind: u32| (kind, value);
            let (kind, value) = match field {
                TransportField::IpProtocol => integer(packet.protocol.into(), data_type::UINT8),
                TransportField::IpLocalAddress => {
                    set_address(&mut values, index, packet.local);
                    continue;
                }
                TransportField::IpRemoteAddress => {
                    set_address(&mut values, index, packet.remote);
                    continue;
                }
                TransportField::IpLocalPort => integer(packet.local_port.into(), data_type::UINT16),
                TransportField::IpRemotePort => {
                    integer(packet.remote_port.into(), data_type::UINT16)
                }
                TransportField::IpLocalInterface => {
                    // The interface LUID: a UINT64 behind a pointer.
                    let mut luid = [0u8; 16];
                    luid[..8].copy_from_slice(
                        &(0x0006_0000_0000_0000_u64 | u64::from(packet.interface_index))
                            .to_le_bytes(),
                    );
                    values.set_pointed(index, data_type::UINT64, luid);
                    continue;
                }
                TransportField::InterfaceIndex => {
                    integer(packet.interface_index.into(), data_type::UINT32)
                }
                TransportField::SubInterfaceIndex => {
                    integer(packet.sub_interface_index.into(), data_type::UINT32)
                }
                // NL_ADDRESS_TYPE: NlatUnicast (1).
                TransportField::IpLocalAddressType | TransportField::IpDestinationAddressType => {
                    integer(1, data_type::UINT8)
                }
                TransportField::CompartmentId => {
                    integer(packet.compartment.into(), data_type::UINT32)
                }
                TransportField::Flags => integer(
                    if packet.loopback {
                        super::layout::condition_flag::IS_LOOPBACK.into()
                    } else {
                        0
                    },
                    data_type::UINT32,
                ),
                TransportField::InterfaceType
                | TransportField::TunnelType
                | TransportField::ProfileId
                | TransportField::IpsecSecurityRealmId => integer(0, data_type::UINT32),
            };
            values.set_integer(index, kind, value);
        }
        if let Some(count) = how.value_count {
            values.truncate(count as usize);
        }
        let mut present = metadata::FIELD_IP_HEADER_SIZE
            | metadata::FIELD_TRANSPORT_HEADER_SIZE
            | metadata::FIELD_COMPARTMENT_ID;
        if !layer.is_inbound() {
            present |= metadata::FIELD_TRANSPORT_ENDPOINT_HANDLE | metadata::FIELD_REMOTE_SCOPE_ID;
            if !packet.control_data.is_empty() {
                present |= metadata::FIELD_TRANSPORT_CONTROL_DATA;
            }
        }
        if layer.is_inbound() && packet.ale_classify_required {
            present |= metadata::FIELD_ALE_CLASSIFY_REQUIRED;
        }
        let mut meta = RawBlock::<{ metadata::BLOCK }>::boxed();
        meta.put(
            metadata::CURRENT_METADATA_VALUES,
            present & !how.withhold_metadata,
        );
        meta.put(metadata::IP_HEADER_SIZE, ip_header as u32);
        meta.put(metadata::TRANSPORT_HEADER_SIZE, transport_header as u32);
        meta.put(metadata::COMPARTMENT_ID, packet.compartment);
        meta.put(metadata::TRANSPORT_ENDPOINT_HANDLE, packet.endpoint_handle);
        meta.put(metadata::REMOTE_SCOPE_ID, packet.scope_id);
        meta.put(metadata::CONTROL_DATA, packet.control_data.as_ptr() as u64);
        meta.put(
            metadata::CONTROL_DATA_LENGTH,
            packet.control_data.len() as u32,
        );
        let input = ConditionInput {
            protocol: packet.protocol,
            remote_address: match packet.remote {
                IpAddr::V4(v4) => ConditionValue::U32(u32::from(v4)),
                IpAddr::V6(v6) => ConditionValue::Bytes16(v6.octets()),
            },
            remote_port: packet.remote_port,
            ip_packet_layer: false,
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
}
