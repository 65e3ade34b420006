//! The eight layers the driver's callouts sit at (four transport, four IP packet), with their
//! keys, run-time ids and field indices.

use crate::inject::IpFamily;
use crate::sys::types::GUID;

/// Which way a packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent by this host.
    Outbound,
    /// Received by this host.
    Inbound,
}

/// A transport layer the driver inspects.
///
/// The discriminants are the run-time id's position among the four ((id - 12) / 2), so that
/// classify maps the id with a subtraction and a shift, the family is bit 0 and the direction
/// bit 1 (measured: docs/performance.md). [`index`](Self::index) keeps the registration order
/// the keys are derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TransportLayer {
    /// FWPM_LAYER_OUTBOUND_TRANSPORT_V4.
    OutboundV4 = 2,
    /// FWPM_LAYER_OUTBOUND_TRANSPORT_V6.
    OutboundV6 = 3,
    /// FWPM_LAYER_INBOUND_TRANSPORT_V4.
    InboundV4 = 0,
    /// FWPM_LAYER_INBOUND_TRANSPORT_V6.
    InboundV6 = 1,
}

/// What the transport and the IP packet layer enums share: the registration order, and family,
/// direction and field indices from the discriminant (both number their layers so that the
/// family is bit 0 and the direction bit 1). `$fields` is the enum's index table type, with its
/// inbound and outbound tables.
macro_rules! four_layers {
    ($fields:ty, $inbound:ident, $outbound:ident) => {
        /// All four, in registration order.
        pub const ALL: [Self; 4] = [
            Self::OutboundV4,
            Self::OutboundV6,
            Self::InboundV4,
            Self::InboundV6,
        ];

        /// Packet family at this layer: bit 0 of the discriminant.
        pub const fn family(self) -> IpFamily {
            if self as u8 & 1 == 0 {
                IpFamily::V4
            } else {
                IpFamily::V6
            }
        }

        /// Packet direction at this layer: bit 1 of the discriminant.
        pub const fn direction(self) -> Direction {
            if self as u8 & 2 == 0 {
                Direction::Inbound
            } else {
                Direction::Outbound
            }
        }

        /// Where this layer's incoming values are.
        pub const fn fields(self) -> &'static $fields {
            match self.direction() {
                Direction::Inbound => &$inbound,
                Direction::Outbound => &$outbound,
            }
        }
    };
}

/// Where classify finds the values it reads in `FWPS_INCOMING_VALUES0::incomingValue` at one
/// layer. The order differs by direction (FWPS_FIELDS_INBOUND_TRANSPORT_V4/V6 put the remote
/// address before the local address type, the outbound enums after it); v4 and v6 agree.
/// Rows `index` of facts/kernel-facts.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldIndices {
    /// IP protocol (FWP_UINT8).
    pub ip_protocol: usize,
    /// Remote address (FWP_UINT32 in host order for IPv4, FWP_BYTE_ARRAY16_TYPE for IPv6).
    pub ip_remote_address: usize,
    /// Local address (as the remote address).
    pub ip_local_address: usize,
    /// Remote port (FWP_UINT16); the ICMP code for ICMP.
    pub ip_remote_port: usize,
    /// Interface index (FWP_UINT32).
    pub interface_index: usize,
    /// Sub-interface index (FWP_UINT32).
    pub sub_interface_index: usize,
    /// FWPM_CONDITION_FLAGS (FWP_UINT32 of FWP_CONDITION_FLAG_* bits, e.g. IS_LOOPBACK).
    pub flags: usize,
}

impl FieldIndices {
    /// Values a layer must carry for classify to read the ones above: one past the largest.
    pub const fn required_count(&self) -> u32 {
        let mut largest = self.ip_protocol;
        let others = [
            self.ip_remote_address,
            self.ip_local_address,
            self.ip_remote_port,
            self.interface_index,
            self.sub_interface_index,
            self.flags,
        ];
        let mut i = 0;
        while i < others.len() {
            if others[i] > largest {
                largest = others[i];
            }
            i += 1;
        }
        largest as u32 + 1
    }
}

/// FWPS_FIELDS_INBOUND_TRANSPORT_V4 / _V6.
pub const INBOUND_FIELDS: FieldIndices = FieldIndices {
    ip_protocol: 0,
    ip_remote_address: 2,
    ip_local_address: 1,
    ip_remote_port: 5,
    interface_index: 7,
    sub_interface_index: 8,
    flags: 9,
};

/// FWPS_FIELDS_OUTBOUND_TRANSPORT_V4 / _V6.
pub const OUTBOUND_FIELDS: FieldIndices = FieldIndices {
    ip_protocol: 0,
    ip_remote_address: 3,
    ip_local_address: 1,
    ip_remote_port: 5,
    interface_index: 7,
    sub_interface_index: 8,
    flags: 10,
};

impl TransportLayer {
    four_layers!(FieldIndices, INBOUND_FIELDS, OUTBOUND_FIELDS);

    /// The layer's management key (fwpmu.h).
    pub const fn key(self) -> GUID {
        GUID::from_u128(match self {
            Self::OutboundV4 => 0x09e61aea_d214_46e2_9b21_b26b0b2f28c8,
            Self::OutboundV6 => 0xe1735bde_013f_4655_b351_a49e15762df0,
            Self::InboundV4 => 0x5926dfc8_e3cf_4426_a283_dc393f5d0f9d,
            Self::InboundV6 => 0x634a869f_fc23_4b90_b0c1_bf620a36ae6f,
        })
    }

    /// The run-time layer id classify receives (FWPS_BUILTIN_LAYERS: inbound transport v4 is 12,
    /// each layer followed by its discard layer).
    pub const fn runtime_id(self) -> u16 {
        match self {
            Self::InboundV4 => 12,
            Self::InboundV6 => 14,
            Self::OutboundV4 => 16,
            Self::OutboundV6 => 18,
        }
    }

    /// The layer for a run-time id, if it is one of ours.
    pub const fn from_runtime_id(id: u16) -> Option<Self> {
        // 12, 14, 16, 18: offsets 0, 2, 4, 6 are the only ones without a bit outside 6.
        let offset = id.wrapping_sub(12);
        if offset & !6 != 0 {
            return None;
        }
        // SAFETY: `offset / 2` is 0..=3, each the discriminant of one variant of this repr(u8)
        // enum.
        Some(unsafe { core::mem::transmute::<u8, Self>((offset >> 1) as u8) })
    }

    /// Position 0..4 by discriminant, for tables only this crate's classify path indexes
    /// (counters), where the registration order of [`index`](Self::index) does not matter.
    pub(crate) const fn slot(self) -> usize {
        self as usize
    }

    /// Index 0..4, for per-layer tables.
    pub const fn index(self) -> usize {
        match self {
            Self::OutboundV4 => 0,
            Self::OutboundV6 => 1,
            Self::InboundV4 => 2,
            Self::InboundV6 => 3,
        }
    }

    /// The driver's callout key at this layer.
    pub const fn callout_key(self) -> GUID {
        CalloutLayer::Transport(self).callout_key()
    }

    /// The driver's filter key at this layer.
    pub const fn filter_key(self) -> GUID {
        CalloutLayer::Transport(self).filter_key()
    }
}

/// The driver's provider key (HLK's WFP tests look for an identifying provider).
pub const PROVIDER_KEY: GUID = GUID::from_u128(0x7766_0000_5746_5049_8000_0000_0000_0001);
/// The driver's sublayer key.
pub const SUBLAYER_KEY: GUID = GUID::from_u128(0x7766_0000_5746_5049_8000_0000_0000_0002);

/// A network (IP packet) layer the driver inspects: FWPM_LAYER_{INBOUND,OUTBOUND}_IPPACKET_V4/V6.
///
/// The discriminants are the run-time id's position among the four (id / 2: inbound v4 is 0,
/// each layer followed by its discard layer), so that, as for [`TransportLayer`], the family is
/// bit 0 and the direction bit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NetworkLayer {
    /// FWPM_LAYER_OUTBOUND_IPPACKET_V4.
    OutboundV4 = 2,
    /// FWPM_LAYER_OUTBOUND_IPPACKET_V6.
    OutboundV6 = 3,
    /// FWPM_LAYER_INBOUND_IPPACKET_V4.
    InboundV4 = 0,
    /// FWPM_LAYER_INBOUND_IPPACKET_V6.
    InboundV6 = 1,
}

/// Where classify finds the values it reads at an IP packet layer. The IP packet layers carry
/// neither the protocol nor the ports (FWPS_FIELDS_*_IPPACKET_V4/V6): classify reads those from
/// the packet itself. The order differs by direction (inbound puts the remote address before
/// the local address type, outbound after it); v4 and v6 agree. Rows `index` of
/// facts/kernel-facts.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkFieldIndices {
    /// Remote address (FWP_UINT32 in host order for IPv4, FWP_BYTE_ARRAY16_TYPE for IPv6).
    pub ip_remote_address: usize,
    /// Interface index (FWP_UINT32).
    pub interface_index: usize,
    /// Sub-interface index (FWP_UINT32).
    pub sub_interface_index: usize,
    /// FWPM_CONDITION_FLAGS (FWP_UINT32 of FWP_CONDITION_FLAG_* bits).
    pub flags: usize,
}

impl NetworkFieldIndices {
    /// Values a layer must carry for classify to read the ones above: one past the largest.
    pub const fn required_count(&self) -> u32 {
        let mut largest = self.ip_remote_address;
        let others = [self.interface_index, self.sub_interface_index, self.flags];
        let mut i = 0;
        while i < others.len() {
            if others[i] > largest {
                largest = others[i];
            }
            i += 1;
        }
        largest as u32 + 1
    }
}

/// FWPS_FIELDS_INBOUND_IPPACKET_V4 / _V6.
pub const INBOUND_IPPACKET_FIELDS: NetworkFieldIndices = NetworkFieldIndices {
    ip_remote_address: 1,
    interface_index: 4,
    sub_interface_index: 5,
    flags: 6,
};

/// FWPS_FIELDS_OUTBOUND_IPPACKET_V4 / _V6.
pub const OUTBOUND_IPPACKET_FIELDS: NetworkFieldIndices = NetworkFieldIndices {
    ip_remote_address: 2,
    interface_index: 4,
    sub_interface_index: 5,
    flags: 6,
};

impl NetworkLayer {
    four_layers!(
        NetworkFieldIndices,
        INBOUND_IPPACKET_FIELDS,
        OUTBOUND_IPPACKET_FIELDS
    );

    /// The layer's management key (fwpmu.h).
    pub const fn key(self) -> GUID {
        GUID::from_u128(match self {
            Self::OutboundV4 => 0x1e5c9fae_8a84_4135_a331_950b54229ecd,
            Self::OutboundV6 => 0xa3b3ab6b_3564_488c_9117_f34e82142763,
            Self::InboundV4 => 0xc86fd1bf_21cd_497e_a0bb_17425c885c58,
            Self::InboundV6 => 0xf52032cb_991c_46e7_971d_2601459a91ca,
        })
    }

    /// The run-time layer id classify receives (FWPS_BUILTIN_LAYERS: inbound IP packet v4 is 0,
    /// each layer followed by its discard layer).
    pub const fn runtime_id(self) -> u16 {
        (self as u16) << 1
    }

    /// The layer for a run-time id, if it is one of ours.
    pub const fn from_runtime_id(id: u16) -> Option<Self> {
        // 0, 2, 4, 6: the only ids without a bit outside 6.
        if id & !6 != 0 {
            return None;
        }
        // SAFETY: `id / 2` is 0..=3, each the discriminant of one variant of this repr(u8) enum.
        Some(unsafe { core::mem::transmute::<u8, Self>((id >> 1) as u8) })
    }

    /// Index 4..8, after the transport layers', for per-layer tables and keys.
    pub const fn index(self) -> usize {
        match self {
            Self::OutboundV4 => 4,
            Self::OutboundV6 => 5,
            Self::InboundV4 => 6,
            Self::InboundV6 => 7,
        }
    }
}

/// Any layer the driver has a callout at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CalloutLayer {
    /// A transport layer.
    Transport(TransportLayer),
    /// An IP packet layer.
    Network(NetworkLayer),
}

impl From<TransportLayer> for CalloutLayer {
    #[inline(always)]
    fn from(layer: TransportLayer) -> Self {
        Self::Transport(layer)
    }
}

impl From<NetworkLayer> for CalloutLayer {
    #[inline(always)]
    fn from(layer: NetworkLayer) -> Self {
        Self::Network(layer)
    }
}

impl CalloutLayer {
    /// All eight, in registration order: the transport layers, then the IP packet layers.
    pub const ALL: [Self; 8] = [
        Self::Transport(TransportLayer::OutboundV4),
        Self::Transport(TransportLayer::OutboundV6),
        Self::Transport(TransportLayer::InboundV4),
        Self::Transport(TransportLayer::InboundV6),
        Self::Network(NetworkLayer::OutboundV4),
        Self::Network(NetworkLayer::OutboundV6),
        Self::Network(NetworkLayer::InboundV4),
        Self::Network(NetworkLayer::InboundV6),
    ];

    /// The layer's management key.
    pub const fn key(self) -> GUID {
        match self {
            Self::Transport(layer) => layer.key(),
            Self::Network(layer) => layer.key(),
        }
    }

    /// Index 0..8 in registration order.
    pub const fn index(self) -> usize {
        match self {
            Self::Transport(layer) => layer.index(),
            Self::Network(layer) => layer.index(),
        }
    }

    /// Position 0..8 for tables only this crate's classify path indexes (counters): the
    /// transport layers' slots, then 4 + the IP packet layer's discriminant.
    #[inline(always)]
    pub(crate) const fn slot(self) -> usize {
        match self {
            Self::Transport(layer) => layer.slot(),
            Self::Network(layer) => 4 + layer as usize,
        }
    }

    /// Packet family at this layer.
    pub const fn family(self) -> IpFamily {
        match self {
            Self::Transport(layer) => layer.family(),
            Self::Network(layer) => layer.family(),
        }
    }

    /// True for the IP packet layers.
    pub const fn is_network(self) -> bool {
        matches!(self, Self::Network(_))
    }

    /// The direction of the traffic this layer sees.
    pub const fn direction(self) -> Direction {
        match self {
            Self::Transport(layer) => layer.direction(),
            Self::Network(layer) => layer.direction(),
        }
    }

    /// The driver's callout key at this layer.
    pub const fn callout_key(self) -> GUID {
        GUID::from_u128(0x7766_0001_5746_5049_8000_0000_0000_0000 | self.index() as u128)
    }

    /// The driver's filter key at this layer.
    pub const fn filter_key(self) -> GUID {
        GUID::from_u128(0x7766_0002_5746_5049_8000_0000_0000_0000 | self.index() as u128)
    }
}
