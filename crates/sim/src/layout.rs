//! The simulator's own view of the kernel structures it hands to a driver and reads back:
//! byte offsets, sizes and per-layer field orders, written from Microsoft's documentation
//! (the rows of facts/kernel-facts.md) and never from `crate::sys::types`.
//!
//! The simulated stack lays out NBLs, NET_BUFFERs, incoming values, metadata, the filter and the
//! classify output in raw 16-aligned memory through these tables, so a driver whose own
//! declarations disagree with the documentation reads the wrong bytes here as it would on
//! Windows. tests/kernel_facts.rs pins every number below against the facts table.

use std::boxed::Box;
use std::vec::Vec;

/// Raw, zeroed, 16-aligned memory of `N` bytes (MEMORY_ALLOCATION_ALIGNMENT on x64), written and
/// read at byte offsets.
#[repr(C, align(16))]
pub struct RawBlock<const N: usize>([u8; N]);

impl<const N: usize> core::fmt::Debug for RawBlock<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RawBlock<{N}>@{:p}", self.0.as_ptr())
    }
}

impl<const N: usize> RawBlock<N> {
    /// A zeroed block on the heap (its address is stable while the box lives).
    pub fn boxed() -> Box<Self> {
        Box::new(Self([0; N]))
    }

    /// Writes `value` at `offset`. Panics when it does not fit: a table error in the simulator.
    pub fn put<T: Copy>(&mut self, offset: usize, value: T) {
        let end = offset + core::mem::size_of::<T>();
        assert!(end <= N, "simulator layout: {end} past a {N}-byte block");
        let bytes = &mut self.0[offset..end];
        // SAFETY: `bytes` has exactly size_of::<T>() writable bytes; unaligned write of plain data.
        unsafe { bytes.as_mut_ptr().cast::<T>().write_unaligned(value) };
    }

    /// Reads a `T` at `offset`. Panics when it does not fit.
    pub fn get<T: Copy>(&self, offset: usize) -> T {
        let end = offset + core::mem::size_of::<T>();
        assert!(end <= N, "simulator layout: {end} past a {N}-byte block");
        let bytes = &self.0[offset..end];
        // SAFETY: `bytes` has exactly size_of::<T>() readable bytes; `T` is plain data (integers
        // and raw pointers), valid for any bit pattern the simulator writes.
        unsafe { bytes.as_ptr().cast::<T>().read_unaligned() }
    }

    /// Fills every byte with `byte` (poisoning freed memory).
    pub fn fill(&mut self, byte: u8) {
        self.0.fill(byte);
    }

    /// The block's address.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.0.as_mut_ptr()
    }
}

/// `NET_BUFFER_LIST` (nbl.h, x64).
pub mod nbl {
    /// `Next`.
    pub const NEXT: usize = 0x00;
    /// `FirstNetBuffer`.
    pub const FIRST_NET_BUFFER: usize = 0x08;
    /// `ParentNetBufferList`.
    pub const PARENT_NET_BUFFER_LIST: usize = 0x18;
    /// `ChildRefCount`.
    pub const CHILD_REF_COUNT: usize = 0x84;
    /// `Status`: written by the stack before an injection's completion runs.
    pub const STATUS: usize = 0x8C;
    /// Bytes the simulator allocates: the header through `NetBufferListInfo` and beyond.
    pub const BLOCK: usize = 0x200;
}

/// `NET_BUFFER` (nbl.h, x64).
pub mod net_buffer {
    /// `Next`.
    pub const NEXT: usize = 0x00;
    /// `CurrentMdl`.
    pub const CURRENT_MDL: usize = 0x08;
    /// `CurrentMdlOffset`.
    pub const CURRENT_MDL_OFFSET: usize = 0x10;
    /// `DataLength` (ULONG) in a union with `stDataLength` (SIZE_T).
    pub const DATA_LENGTH: usize = 0x18;
    /// `MdlChain`.
    pub const MDL_CHAIN: usize = 0x20;
    /// `DataOffset`.
    pub const DATA_OFFSET: usize = 0x28;
    /// Bytes the simulator allocates.
    pub const BLOCK: usize = 0x100;
    /// What the simulator leaves in the union's upper half: NDIS keeps only the ULONG current, so
    /// a driver that reads the SIZE_T sees a huge length.
    pub const UNION_HIGH_POISON: u32 = 0x5A5A_0001;
}

/// `FWP_VALUE0` / `FWPS_INCOMING_VALUE0` (fwptypes.h): a type tag and an 8-byte union.
pub mod value {
    /// `type`.
    pub const TYPE: usize = 0;
    /// The union.
    pub const UNION: usize = 8;
    /// `sizeof`.
    pub const SIZE: usize = 16;
}

/// `FWPS_INCOMING_VALUES0` (fwpsk.h).
pub mod incoming_values {
    /// `layerId` (UINT16).
    pub const LAYER_ID: usize = 0;
    /// `valueCount` (UINT32).
    pub const VALUE_COUNT: usize = 4;
    /// `incomingValue` (pointer).
    pub const INCOMING_VALUE: usize = 8;
    /// Bytes the simulator allocates.
    pub const BLOCK: usize = 16;
}

/// `FWPS_INCOMING_METADATA_VALUES0` (fwpsk.h, x64).
pub mod metadata {
    /// `currentMetadataValues`.
    pub const CURRENT_METADATA_VALUES: usize = 0;
    /// `ipHeaderSize`.
    pub const IP_HEADER_SIZE: usize = 40;
    /// `transportHeaderSize`.
    pub const TRANSPORT_HEADER_SIZE: usize = 44;
    /// `compartmentId`.
    pub const COMPARTMENT_ID: usize = 80;
    /// `transportEndpointHandle`.
    pub const TRANSPORT_ENDPOINT_HANDLE: usize = 112;
    /// `remoteScopeId` (SCOPE_ID, 4 bytes).
    pub const REMOTE_SCOPE_ID: usize = 120;
    /// `controlData`.
    pub const CONTROL_DATA: usize = 128;
    /// `controlDataLength`.
    pub const CONTROL_DATA_LENGTH: usize = 136;
    /// Bytes the simulator allocates (the structure is longer on newer Windows; zeroed tail).
    pub const BLOCK: usize = 0x200;

    /// `FWPS_METADATA_FIELD_IP_HEADER_SIZE`.
    pub const FIELD_IP_HEADER_SIZE: u32 = 0x0000_0004;
    /// `FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE`.
    pub const FIELD_TRANSPORT_HEADER_SIZE: u32 = 0x0000_0400;
    /// `FWPS_METADATA_FIELD_COMPARTMENT_ID`.
    pub const FIELD_COMPARTMENT_ID: u32 = 0x0000_0800;
    /// `FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE`.
    pub const FIELD_TRANSPORT_ENDPOINT_HANDLE: u32 = 0x0000_8000;
    /// `FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA`.
    pub const FIELD_TRANSPORT_CONTROL_DATA: u32 = 0x0001_0000;
    /// `FWPS_METADATA_FIELD_REMOTE_SCOPE_ID`.
    pub const FIELD_REMOTE_SCOPE_ID: u32 = 0x0002_0000;
    /// `FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED`.
    pub const FIELD_ALE_CLASSIFY_REQUIRED: u32 = 0x0040_0000;
}

/// `FWPS_PACKET_LIST_INFORMATION0` (fwpsk.h, x64), the query flags of
/// `FwpsGetPacketListSecurityInformation0`, and the inbound IPsec bit-fields as masks of their
/// 32-bit unit (declaration order from bit 0).
pub mod packet_list_information {
    /// `ipsecInformation` (a union of the inbound and outbound bit-fields and `flags`).
    pub const IPSEC_INFORMATION: usize = 0;
    /// `fwpInformation`.
    pub const FWP_INFORMATION: usize = 4;
    /// Size of the structure.
    pub const SIZE: usize = 8;
    /// `FWPS_PACKET_LIST_INFORMATION_QUERY_INBOUND`.
    pub const QUERY_INBOUND: u32 = 0x1;
    /// `FWPS_PACKET_LIST_INFORMATION_QUERY_OUTBOUND`.
    pub const QUERY_OUTBOUND: u32 = 0x2;
    /// `FWPS_PACKET_LIST_INFORMATION_QUERY_IPSEC`.
    pub const QUERY_IPSEC: u32 = 0x4;
    /// `isSecure` of FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0.
    pub const INBOUND_IS_SECURE: u32 = 0x1;
    /// `isTransportMode`.
    pub const INBOUND_IS_TRANSPORT_MODE: u32 = 0x2;
    /// `isTunnelMode`.
    pub const INBOUND_IS_TUNNEL_MODE: u32 = 0x4;
    /// `isDeTunneled`.
    pub const INBOUND_IS_DE_TUNNELED: u32 = 0x20;
}

/// Bits of the transport layers' FLAGS field (FWP_CONDITION_FLAG_*).
pub mod condition_flag {
    /// `FWP_CONDITION_FLAG_IS_LOOPBACK`.
    pub const IS_LOOPBACK: u32 = 0x1;
    /// `FWP_CONDITION_FLAG_IS_FRAGMENT`.
    pub const IS_FRAGMENT: u32 = 0x20;
    /// `FWP_CONDITION_FLAG_IS_REASSEMBLED`.
    pub const IS_REASSEMBLED: u32 = 0x400;
}

/// `FWPS_FILTER1` (fwpsk.h, x64).
pub mod filter {
    /// `filterId`.
    pub const FILTER_ID: usize = 0;
    /// `action.type`.
    pub const ACTION_TYPE: usize = 40;
    /// `action.calloutId`.
    pub const ACTION_CALLOUT_ID: usize = 44;
    /// `context`: the FWPM filter's rawContext.
    pub const CONTEXT: usize = 48;
    /// Bytes the simulator allocates (`sizeof(FWPS_FILTER1)`).
    pub const BLOCK: usize = 64;
}

/// `FWPS_CLASSIFY_OUT0` (fwpsk.h, x64).
pub mod classify_out {
    /// `actionType`.
    pub const ACTION_TYPE: usize = 0;
    /// `filterId`.
    pub const FILTER_ID: usize = 16;
    /// `rights`.
    pub const RIGHTS: usize = 24;
    /// `flags`.
    pub const FLAGS: usize = 28;
    /// `sizeof`.
    pub const BLOCK: usize = 40;
    /// `FWPS_RIGHT_ACTION_WRITE`.
    pub const RIGHT_ACTION_WRITE: u32 = 0x1;
    /// `FWPS_CLASSIFY_OUT_FLAG_ABSORB`.
    pub const FLAG_ABSORB: u32 = 0x1;
}

/// `FWP_ACTION_*` (fwptypes.h): what the simulated engine reads from filters and callouts.
pub mod action {
    /// `FWP_ACTION_FLAG_TERMINATING`: block and permit end a classify.
    pub const FLAG_TERMINATING: u32 = 0x1000;
    /// `FWP_ACTION_BLOCK`.
    pub const BLOCK: u32 = 0x1001;
    /// `FWP_ACTION_PERMIT`.
    pub const PERMIT: u32 = 0x1002;
    /// `FWP_ACTION_CALLOUT_TERMINATING`.
    pub const CALLOUT_TERMINATING: u32 = 0x5003;
}

/// `FWP_DATA_TYPE` values the simulator hands out (fwptypes.h).
pub mod data_type {
    /// `FWP_EMPTY`.
    pub const EMPTY: u32 = 0;
    /// `FWP_UINT8`.
    pub const UINT8: u32 = 1;
    /// `FWP_UINT16`.
    pub const UINT16: u32 = 2;
    /// `FWP_UINT32`.
    pub const UINT32: u32 = 3;
    /// `FWP_UINT64`: the union holds a pointer to the UINT64.
    pub const UINT64: u32 = 4;
    /// `FWP_BYTE_ARRAY16_TYPE`: the union holds a pointer to 16 bytes.
    pub const BYTE_ARRAY16: u32 = 11;
}

/// A data field of the transport layers, by its `FWPS_FIELD_*_TRANSPORT_V*_` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportField {
    /// IP_PROTOCOL (UINT8).
    IpProtocol,
    /// IP_LOCAL_ADDRESS (UINT32 host order / BYTE_ARRAY16).
    IpLocalAddress,
    /// IP_REMOTE_ADDRESS (UINT32 host order / BYTE_ARRAY16).
    IpRemoteAddress,
    /// IP_LOCAL_ADDRESS_TYPE (UINT8, NL_ADDRESS_TYPE).
    IpLocalAddressType,
    /// IP_LOCAL_PORT (UINT16; the ICMP type for ICMP).
    IpLocalPort,
    /// IP_REMOTE_PORT (UINT16; the ICMP code for ICMP).
    IpRemotePort,
    /// IP_LOCAL_INTERFACE (UINT64, the interface LUID).
    IpLocalInterface,
    /// INTERFACE_INDEX (UINT32).
    InterfaceIndex,
    /// SUB_INTERFACE_INDEX (UINT32).
    SubInterfaceIndex,
    /// IP_DESTINATION_ADDRESS_TYPE (UINT8; outbound only).
    IpDestinationAddressType,
    /// FLAGS (UINT32).
    Flags,
    /// INTERFACE_TYPE (UINT32).
    InterfaceType,
    /// TUNNEL_TYPE (UINT32).
    TunnelType,
    /// PROFILE_ID (UINT32).
    ProfileId,
    /// IPSEC_SECURITY_REALM_ID (UINT32).
    IpsecSecurityRealmId,
    /// COMPARTMENT_ID (UINT32).
    CompartmentId,
}

impl TransportField {
    /// The suffix of the field's C name (`FWPS_FIELD_INBOUND_TRANSPORT_V4_<suffix>`).
    pub const fn suffix(self) -> &'static str {
        match self {
            Self::IpProtocol => "IP_PROTOCOL",
            Self::IpLocalAddress => "IP_LOCAL_ADDRESS",
            Self::IpRemoteAddress => "IP_REMOTE_ADDRESS",
            Self::IpLocalAddressType => "IP_LOCAL_ADDRESS_TYPE",
            Self::IpLocalPort => "IP_LOCAL_PORT",
            Self::IpRemotePort => "IP_REMOTE_PORT",
            Self::IpLocalInterface => "IP_LOCAL_INTERFACE",
            Self::InterfaceIndex => "INTERFACE_INDEX",
            Self::SubInterfaceIndex => "SUB_INTERFACE_INDEX",
            Self::IpDestinationAddressType => "IP_DESTINATION_ADDRESS_TYPE",
            Self::Flags => "FLAGS",
            Self::InterfaceType => "INTERFACE_TYPE",
            Self::TunnelType => "TUNNEL_TYPE",
            Self::ProfileId => "PROFILE_ID",
            Self::IpsecSecurityRealmId => "IPSEC_SECURITY_REALM_ID",
            Self::CompartmentId => "COMPARTMENT_ID",
        }
    }
}

use TransportField as F;

/// FWPS_FIELDS_INBOUND_TRANSPORT_V4 and _V6, in enum order (the remote address comes before
/// the local address type).
pub const INBOUND_TRANSPORT_FIELDS: [TransportField; 15] = [
    F::IpProtocol,
    F::IpLocalAddress,
    F::IpRemoteAddress,
    F::IpLocalAddressType,
    F::IpLocalPort,
    F::IpRemotePort,
    F::IpLocalInterface,
    F::InterfaceIndex,
    F::SubInterfaceIndex,
    F::Flags,
    F::InterfaceType,
    F::TunnelType,
    F::ProfileId,
    F::IpsecSecurityRealmId,
    F::CompartmentId,
];

/// FWPS_FIELDS_OUTBOUND_TRANSPORT_V4 and _V6, in enum order (the local address type comes
/// before the remote address; a destination address type follows the sub-interface index).
pub const OUTBOUND_TRANSPORT_FIELDS: [TransportField; 16] = [
    F::IpProtocol,
    F::IpLocalAddress,
    F::IpLocalAddressType,
    F::IpRemoteAddress,
    F::IpLocalPort,
    F::IpRemotePort,
    F::IpLocalInterface,
    F::InterfaceIndex,
    F::SubInterfaceIndex,
    F::IpDestinationAddressType,
    F::Flags,
    F::InterfaceType,
    F::TunnelType,
    F::ProfileId,
    F::IpsecSecurityRealmId,
    F::CompartmentId,
];

/// A data field of the IP packet layers, by its `FWPS_FIELD_*_IPPACKET_V*_` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpPacketField {
    /// IP_LOCAL_ADDRESS (UINT32 host order / BYTE_ARRAY16).
    IpLocalAddress,
    /// IP_REMOTE_ADDRESS (UINT32 host order / BYTE_ARRAY16).
    IpRemoteAddress,
    /// IP_LOCAL_ADDRESS_TYPE (UINT8, NL_ADDRESS_TYPE).
    IpLocalAddressType,
    /// IP_LOCAL_INTERFACE (UINT64, the interface LUID).
    IpLocalInterface,
    /// INTERFACE_INDEX (UINT32).
    InterfaceIndex,
    /// SUB_INTERFACE_INDEX (UINT32).
    SubInterfaceIndex,
    /// FLAGS (UINT32).
    Flags,
    /// INTERFACE_TYPE (UINT32).
    InterfaceType,
    /// TUNNEL_TYPE (UINT32).
    TunnelType,
    /// COMPARTMENT_ID (UINT32).
    CompartmentId,
}

impl IpPacketField {
    /// The suffix of the field's C name (`FWPS_FIELD_INBOUND_IPPACKET_V4_<suffix>`).
    pub const fn suffix(self) -> &'static str {
        match self {
            Self::IpLocalAddress => "IP_LOCAL_ADDRESS",
            Self::IpRemoteAddress => "IP_REMOTE_ADDRESS",
            Self::IpLocalAddressType => "IP_LOCAL_ADDRESS_TYPE",
            Self::IpLocalInterface => "IP_LOCAL_INTERFACE",
            Self::InterfaceIndex => "INTERFACE_INDEX",
            Self::SubInterfaceIndex => "SUB_INTERFACE_INDEX",
            Self::Flags => "FLAGS",
            Self::InterfaceType => "INTERFACE_TYPE",
            Self::TunnelType => "TUNNEL_TYPE",
            Self::CompartmentId => "COMPARTMENT_ID",
        }
    }
}

/// FWPS_FIELDS_INBOUND_IPPACKET_V4 and _V6, in enum order (the remote address before the local
/// address type).
pub const INBOUND_IPPACKET_FIELDS: [IpPacketField; 10] = [
    IpPacketField::IpLocalAddress,
    IpPacketField::IpRemoteAddress,
    IpPacketField::IpLocalAddressType,
    IpPacketField::IpLocalInterface,
    IpPacketField::InterfaceIndex,
    IpPacketField::SubInterfaceIndex,
    IpPacketField::Flags,
    IpPacketField::InterfaceType,
    IpPacketField::TunnelType,
    IpPacketField::CompartmentId,
];

/// FWPS_FIELDS_OUTBOUND_IPPACKET_V4 and _V6, in enum order (the local address type before the
/// remote address).
pub const OUTBOUND_IPPACKET_FIELDS: [IpPacketField; 10] = [
    IpPacketField::IpLocalAddress,
    IpPacketField::IpLocalAddressType,
    IpPacketField::IpRemoteAddress,
    IpPacketField::IpLocalInterface,
    IpPacketField::InterfaceIndex,
    IpPacketField::SubInterfaceIndex,
    IpPacketField::Flags,
    IpPacketField::InterfaceType,
    IpPacketField::TunnelType,
    IpPacketField::CompartmentId,
];

/// Incoming values laid out for one classify: `FWPS_INCOMING_VALUES0` and its value array, with
/// storage for the values that are pointers (IPv6 addresses, the UINT64 LUID).
pub struct IncomingValues {
    header: Box<RawBlock<{ incoming_values::BLOCK }>>,
    values: Vec<RawBlock<{ value::SIZE }>>,
    /// Pointed-to storage; each entry is boxed so its address survives the Vec growing.
    #[allow(clippy::vec_box)]
    storage: Vec<Box<[u8; 16]>>,
}

impl IncomingValues {
    /// `count` empty values for run-time layer `layer_id`.
    pub fn new(layer_id: u16, count: usize) -> Self {
        let mut values = Vec::with_capacity(count);
        values.resize_with(count, || RawBlock([0; value::SIZE]));
        Self {
            header: RawBlock::boxed(),
            values,
            storage: Vec::new(),
        }
        .with_layer(layer_id)
    }

    fn with_layer(mut self, layer_id: u16) -> Self {
        self.header.put(incoming_values::LAYER_ID, layer_id);
        self
    }

    /// Sets value `index` to an integer of type `data_type` (UINT8/16/32, or a pointer). Only
    /// the type's own bytes of the union are written; the rest is poisoned, as nothing defines
    /// them, so a reader that takes more than its type sees garbage.
    pub fn set_integer(&mut self, index: usize, data_type: u32, integer: u64) {
        if let Some(slot) = self.values.get_mut(index) {
            slot.put(value::TYPE, data_type);
            slot.put(value::UNION, 0xA5A5_A5A5_A5A5_A5A5_u64);
            match data_type {
                self::data_type::UINT8 => slot.put(value::UNION, integer as u8),
                self::data_type::UINT16 => slot.put(value::UNION, integer as u16),
                self::data_type::UINT32 => slot.put(value::UNION, integer as u32),
                _ => slot.put(value::UNION, integer),
            }
        }
    }

    /// Sets value `index` to a pointer type (`BYTE_ARRAY16`, `UINT64`) over `bytes`.
    pub fn set_pointed(&mut self, index: usize, data_type: u32, bytes: [u8; 16]) {
        let stored = Box::new(bytes);
        let address = stored.as_ptr() as u64;
        self.storage.push(stored);
        self.set_integer(index, data_type, address);
    }

    /// Keeps only the first `count` values (a layer that delivers fewer than it should).
    pub fn truncate(&mut self, count: usize) {
        self.values.truncate(count);
    }

    /// The `FWPS_INCOMING_VALUES0` to pass to classify, valid while `self` lives unmoved.
    pub fn as_ptr(&mut self) -> *const u8 {
        let count = self.values.len() as u32;
        let array = self.values.as_ptr() as u64;
        self.header.put(incoming_values::VALUE_COUNT, count);
        self.header.put(incoming_values::INCOMING_VALUE, array);
        self.header.as_mut_ptr()
    }
}
