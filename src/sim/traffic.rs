//! Synthetic traffic for the simulated filter engine: real IPv4/IPv6 + UDP/TCP bytes, the NBL
//! offsets, incoming values and metadata a transport layer presents, delivered to classify.
//!
//! The layer keys, run-time ids, field indices and metadata bits here are written from the
//! headers independently of the driver's own tables, so a mistake in one shows up as a failure.

use std::net::IpAddr;
use std::vec;
use std::vec::Vec;

use super::engine::ClassifyResult;
use super::stack::SimulatedStack;
use crate::sys::types::{
    FWP_BYTE_ARRAY16_TYPE, FWP_EMPTY, FWP_UINT8, FWP_UINT16, FWP_UINT32, FWP_VALUE0,
    FWPS_INCOMING_METADATA_VALUES0, GUID, NET_BUFFER_LIST,
};

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

    fn key(self) -> GUID {
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

    fn runtime_id(self) -> u16 {
        match self {
            Self::InboundV4 => 12,
            Self::InboundV6 => 14,
            Self::OutboundV4 => 16,
            Self::OutboundV6 => 18,
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

/// Metadata bits (FWPS_METADATA_FIELD_*).
pub mod metadata {
    /// IP header size.
    pub const IP_HEADER_SIZE: u32 = 0x4;
    /// Transport header size.
    pub const TRANSPORT_HEADER_SIZE: u32 = 0x400;
    /// Compartment id.
    pub const COMPARTMENT_ID: u32 = 0x800;
    /// Transport endpoint handle.
    pub const TRANSPORT_ENDPOINT_HANDLE: u32 = 0x8000;
    /// Control data.
    pub const TRANSPORT_CONTROL_DATA: u32 = 0x1_0000;
    /// Remote scope id.
    pub const REMOTE_SCOPE_ID: u32 = 0x2_0000;
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
        }
    }

    fn transport_header(&self) -> Vec<u8> {
        let mut header = Vec::new();
        let (source, destination) = (self.local_port, self.remote_port);
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
        let transport = self.transport_header();
        let (source, destination) = if inbound {
            (self.remote, self.local)
        } else {
            (self.local, self.remote)
        };
        let mut bytes = Vec::new();
        let body = transport.len() + self.payload.len();
        match (source, destination) {
            (IpAddr::V4(source), IpAddr::V4(destination)) => {
                bytes.extend_from_slice(&[0x45, 0]);
                bytes.extend_from_slice(&((20 + body) as u16).to_be_bytes());
                bytes.extend_from_slice(&[0, 0, 0, 0, 64, self.protocol, 0, 0]);
                bytes.extend_from_slice(&source.octets());
                bytes.extend_from_slice(&destination.octets());
            }
            (IpAddr::V6(source), IpAddr::V6(destination)) => {
                bytes.extend_from_slice(&[0x60, 0, 0, 0]);
                bytes.extend_from_slice(&(body as u16).to_be_bytes());
                bytes.extend_from_slice(&[self.protocol, 64]);
                bytes.extend_from_slice(&source.octets());
                bytes.extend_from_slice(&destination.octets());
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
    /// The classify has the write right (false: a higher-weight callout already decided).
    pub may_write: bool,
    /// Metadata bits to withhold (to deliver incomplete metadata).
    pub withhold_metadata: u32,
    /// Cut the packet to this many bytes (a truncated packet; header sizes stay as declared).
    pub truncate_to: Option<usize>,
    /// Deliver this many incoming values (fewer than a layer has: malformed values).
    pub value_count: Option<u32>,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            may_write: true,
            withhold_metadata: 0,
            truncate_to: None,
            value_count: None,
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

fn address_value(address: IpAddr, storage: &mut [u8; 16]) -> FWP_VALUE0 {
    match address {
        IpAddr::V4(v4) => FWP_VALUE0 {
            r#type: FWP_UINT32,
            value: u64::from(u32::from(v4)),
        },
        IpAddr::V6(v6) => {
            *storage = v6.octets();
            FWP_VALUE0 {
                r#type: FWP_BYTE_ARRAY16_TYPE,
                value: storage.as_ptr() as u64,
            }
        }
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
        let offset = if layer.is_inbound() {
            ip_header + transport_header
        } else {
            ip_header
        };
        if let Some(length) = how.truncate_to {
            bytes.truncate(length);
        }
        let nbl = self.indicate_packet_at(&bytes, offset);
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

    fn classify_packet(
        &self,
        layer: Layer,
        packet: &TransportPacket,
        how: Delivery,
        nbl: *mut NET_BUFFER_LIST,
        ip_header: usize,
        transport_header: usize,
    ) -> Option<ClassifyResult> {
        let (mut local_storage, mut remote_storage) = ([0u8; 16], [0u8; 16]);
        let mut values = vec![
            FWP_VALUE0 {
                r#type: FWP_EMPTY,
                value: 0
            };
            16
        ];
        values[0] = FWP_VALUE0 {
            r#type: FWP_UINT8,
            value: u64::from(packet.protocol),
        };
        values[1] = address_value(packet.local, &mut local_storage);
        values[2] = FWP_VALUE0 {
            r#type: FWP_UINT8,
            value: 0,
        };
        values[3] = address_value(packet.remote, &mut remote_storage);
        values[4] = FWP_VALUE0 {
            r#type: FWP_UINT16,
            value: u64::from(packet.local_port),
        };
        values[5] = FWP_VALUE0 {
            r#type: FWP_UINT16,
            value: u64::from(packet.remote_port),
        };
        values[7] = FWP_VALUE0 {
            r#type: FWP_UINT32,
            value: u64::from(packet.interface_index),
        };
        values[8] = FWP_VALUE0 {
            r#type: FWP_UINT32,
            value: u64::from(packet.sub_interface_index),
        };
        let count = how.value_count.map_or(values.len(), |c| c as usize);
        values.truncate(count);
        let mut present =
            metadata::IP_HEADER_SIZE | metadata::TRANSPORT_HEADER_SIZE | metadata::COMPARTMENT_ID;
        if !layer.is_inbound() {
            present |= metadata::TRANSPORT_ENDPOINT_HANDLE | metadata::REMOTE_SCOPE_ID;
            if !packet.control_data.is_empty() {
                present |= metadata::TRANSPORT_CONTROL_DATA;
            }
        }
        // SAFETY: the metadata structure is plain data; zero is valid for every field.
        let mut meta: FWPS_INCOMING_METADATA_VALUES0 = unsafe { core::mem::zeroed() };
        meta.currentMetadataValues = present & !how.withhold_metadata;
        meta.ipHeaderSize = ip_header as u32;
        meta.transportHeaderSize = transport_header as u32;
        meta.compartmentId = packet.compartment;
        meta.transportEndpointHandle = packet.endpoint_handle;
        meta.remoteScopeId = packet.scope_id;
        meta.controlData = packet.control_data.as_ptr().cast();
        meta.controlDataLength = packet.control_data.len() as u32;
        self.classify(
            layer.key(),
            layer.runtime_id(),
            &values,
            &meta,
            nbl,
            how.may_write,
        )
    }
}
