//! Windows Filtering Platform types (fwpsk.h, fwpmk.h, fwptypes.h).

use core::ffi::c_void;

use super::{BOOLEAN, HANDLE, NET_BUFFER_LIST, NTSTATUS};

/// `COMPARTMENT_ID`: a network compartment (1 is the default compartment).
pub type COMPARTMENT_ID = u32;
/// `IF_INDEX` / `NET_IFINDEX`.
pub type IF_INDEX = u32;
/// `FWPS_PACKET_INJECTION_STATE`: a C enum, so a 32-bit integer.
pub type FWPS_PACKET_INJECTION_STATE = i32;

/// `FWPS_TRANSPORT_SEND_PARAMS0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPS_TRANSPORT_SEND_PARAMS0 {
    /// Remote address in network byte order (4 or 16 bytes).
    pub remoteAddress: *mut u8,
    /// `SCOPE_ID` of the remote address (IPv6 link-local and site-local).
    pub remoteScopeId: u32,
    /// Ancillary data (`WSACMSGHDR`s), or null.
    pub controlData: *mut c_void,
    /// Bytes of `controlData`.
    pub controlDataLength: u32,
}

const _: () = assert!(core::mem::size_of::<FWPS_TRANSPORT_SEND_PARAMS0>() == 32);

/// `FWPS_INJECT_COMPLETE0`: runs at IRQL <= DISPATCH_LEVEL once WFP is done with an accepted
/// injection; `dispatchLevel` is a BOOLEAN.
pub type FWPS_INJECT_COMPLETE0 = unsafe extern "win64" fn(
    context: *mut c_void,
    netBufferList: *mut NET_BUFFER_LIST,
    dispatchLevel: BOOLEAN,
);

/// `GUID`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GUID {
    /// First 32 bits.
    pub Data1: u32,
    /// Next 16.
    pub Data2: u16,
    /// Next 16.
    pub Data3: u16,
    /// Last 64, as bytes.
    pub Data4: [u8; 8],
}

impl GUID {
    /// From the usual `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` form written as one u128.
    pub const fn from_u128(value: u128) -> Self {
        Self {
            Data1: (value >> 96) as u32,
            Data2: (value >> 80) as u16,
            Data3: (value >> 64) as u16,
            Data4: ((value as u64).to_be_bytes()),
        }
    }
}

/// `FWPM_DISPLAY_DATA0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPM_DISPLAY_DATA0 {
    /// NUL-terminated UTF-16 name.
    pub name: *const u16,
    /// NUL-terminated UTF-16 description, or null.
    pub description: *const u16,
}

/// `FWP_BYTE_BLOB`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWP_BYTE_BLOB {
    /// Bytes.
    pub size: u32,
    /// Data.
    pub data: *mut u8,
}

/// `FWP_DATA_TYPE`: a C enum, so an integer.
pub type FWP_DATA_TYPE = u32;
/// `FWP_EMPTY`.
pub const FWP_EMPTY: FWP_DATA_TYPE = 0;
/// `FWP_UINT8`.
pub const FWP_UINT8: FWP_DATA_TYPE = 1;
/// `FWP_UINT16`.
pub const FWP_UINT16: FWP_DATA_TYPE = 2;
/// `FWP_UINT32`.
pub const FWP_UINT32: FWP_DATA_TYPE = 3;
/// `FWP_UINT64`.
pub const FWP_UINT64: FWP_DATA_TYPE = 4;
/// `FWP_BYTE_ARRAY16_TYPE`: a pointer to 16 bytes (IPv6 addresses).
pub const FWP_BYTE_ARRAY16_TYPE: FWP_DATA_TYPE = 11;

/// `FWP_VALUE0` (also the layout of `FWP_CONDITION_VALUE0` and `FWPS_INCOMING_VALUE0`): a type
/// tag and an 8-byte union, read through the accessor that matches the tag.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWP_VALUE0 {
    /// `FWP_*` type tag.
    pub r#type: FWP_DATA_TYPE,
    /// The union: small integers in the low bytes, pointers for the rest.
    pub value: u64,
}

const _: () = assert!(core::mem::size_of::<FWP_VALUE0>() == 16);

/// `FWPS_INCOMING_VALUES0`.
#[repr(C)]
#[derive(Debug)]
pub struct FWPS_INCOMING_VALUES0 {
    /// Run-time layer id (`FWPS_LAYER_*`).
    pub layerId: u16,
    /// Number of values.
    pub valueCount: u32,
    /// `valueCount` values, indexed by the layer's `FWPS_FIELD_*` enum.
    pub incomingValue: *const FWP_VALUE0,
}

/// `FWPS_INCOMING_METADATA_VALUES0`, up to the last field this crate reads (x64). WFP passes a
/// longer structure; this crate never allocates one in the kernel.
#[repr(C)]
#[derive(Debug)]
pub struct FWPS_INCOMING_METADATA_VALUES0 {
    /// `FWPS_METADATA_FIELD_*` bits: which fields are valid.
    pub currentMetadataValues: u32,
    /// Internal flags.
    pub flags: u32,
    /// Reserved.
    pub reserved: u64,
    /// `FWPS_DISCARD_METADATA0` (module, reason, filter id).
    pub discardMetadata: [u64; 2],
    /// Flow handle.
    pub flowHandle: u64,
    /// IP header size.
    pub ipHeaderSize: u32,
    /// Transport header size.
    pub transportHeaderSize: u32,
    /// Process path blob.
    pub processPath: *const FWP_BYTE_BLOB,
    /// Token.
    pub token: u64,
    /// Process id.
    pub processId: u64,
    /// Source interface (discard indications).
    pub sourceInterfaceIndex: u32,
    /// Destination interface (discard indications).
    pub destinationInterfaceIndex: u32,
    /// Compartment, for the injection calls.
    pub compartmentId: u32,
    /// `FWPS_INBOUND_FRAGMENT_METADATA0` (id, offset, length).
    pub fragmentMetadata: [u32; 3],
    /// Path MTU.
    pub pathMtu: u32,
    /// Completion handle (pending).
    pub completionHandle: HANDLE,
    /// Endpoint handle, for outbound transport injection.
    pub transportEndpointHandle: u64,
    /// Remote scope id, for outbound transport injection.
    pub remoteScopeId: u32,
    /// Socket control data, for outbound transport injection.
    pub controlData: *const c_void,
    /// Bytes of `controlData`.
    pub controlDataLength: u32,
    /// `FWP_DIRECTION` (ALE reauthorization only).
    pub packetDirection: u32,
    /// Raw-socket IP header.
    pub headerIncludeHeader: *mut c_void,
    /// Bytes of `headerIncludeHeader`.
    pub headerIncludeHeaderLength: u32,
}

const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(FWPS_INCOMING_METADATA_VALUES0, flowHandle) == 32);
    assert!(offset_of!(FWPS_INCOMING_METADATA_VALUES0, ipHeaderSize) == 40);
    assert!(offset_of!(FWPS_INCOMING_METADATA_VALUES0, compartmentId) == 80);
    assert!(offset_of!(FWPS_INCOMING_METADATA_VALUES0, pathMtu) == 96);
    assert!(offset_of!(FWPS_INCOMING_METADATA_VALUES0, transportEndpointHandle) == 112);
    assert!(offset_of!(FWPS_INCOMING_METADATA_VALUES0, remoteScopeId) == 120);
    assert!(offset_of!(FWPS_INCOMING_METADATA_VALUES0, controlData) == 128);
    assert!(offset_of!(FWPS_INCOMING_METADATA_VALUES0, controlDataLength) == 136);
    assert!(offset_of!(FWPS_INCOMING_METADATA_VALUES0, headerIncludeHeaderLength) == 152);
};

/// `FWPS_METADATA_FIELD_IP_HEADER_SIZE`.
pub const FWPS_METADATA_FIELD_IP_HEADER_SIZE: u32 = 0x4;
/// `FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE`.
pub const FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE: u32 = 0x400;
/// `FWPS_METADATA_FIELD_COMPARTMENT_ID`.
pub const FWPS_METADATA_FIELD_COMPARTMENT_ID: u32 = 0x800;
/// `FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE`.
pub const FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE: u32 = 0x8000;
/// `FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA`.
pub const FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA: u32 = 0x1_0000;
/// `FWPS_METADATA_FIELD_REMOTE_SCOPE_ID`.
pub const FWPS_METADATA_FIELD_REMOTE_SCOPE_ID: u32 = 0x2_0000;

/// `FWP_ACTION_TYPE`.
pub type FWP_ACTION_TYPE = u32;
/// `FWP_ACTION_BLOCK`.
pub const FWP_ACTION_BLOCK: FWP_ACTION_TYPE = 0x1001;
/// `FWP_ACTION_PERMIT`.
pub const FWP_ACTION_PERMIT: FWP_ACTION_TYPE = 0x1002;
/// `FWP_ACTION_CALLOUT_TERMINATING`: the callout always returns block or permit.
pub const FWP_ACTION_CALLOUT_TERMINATING: FWP_ACTION_TYPE = 0x5003;
/// `FWP_ACTION_CONTINUE`.
pub const FWP_ACTION_CONTINUE: FWP_ACTION_TYPE = 0x2006;

/// `FWPS_CLASSIFY_OUT0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPS_CLASSIFY_OUT0 {
    /// The decision.
    pub actionType: FWP_ACTION_TYPE,
    /// Reserved.
    pub outContext: u64,
    /// Filter that made the decision.
    pub filterId: u64,
    /// `FWPS_RIGHT_*`.
    pub rights: u32,
    /// `FWPS_CLASSIFY_OUT_FLAG_*`.
    pub flags: u32,
    /// Reserved.
    pub reserved: u32,
}

const _: () = assert!(core::mem::size_of::<FWPS_CLASSIFY_OUT0>() == 40);

/// `FWPS_RIGHT_ACTION_WRITE`: the callout may set `actionType`.
pub const FWPS_RIGHT_ACTION_WRITE: u32 = 0x1;
/// `FWPS_CLASSIFY_OUT_FLAG_ABSORB`: the packet is silently dropped (it was taken over).
pub const FWPS_CLASSIFY_OUT_FLAG_ABSORB: u32 = 0x1;

/// `FWPS_FILTER1`, the fields this crate reads.
#[repr(C)]
#[derive(Debug)]
pub struct FWPS_FILTER1 {
    /// Run-time filter id.
    pub filterId: u64,
    /// Weight.
    pub weight: FWP_VALUE0,
    /// Sublayer weight.
    pub subLayerWeight: u16,
    /// Flags.
    pub flags: u16,
    /// Number of conditions.
    pub numFilterConditions: u32,
    /// Conditions.
    pub filterCondition: *const c_void,
    /// `FWPS_ACTION0`: action type and callout id.
    pub action: [u32; 2],
    /// The filter's context: `FWPM_FILTER0::rawContext`.
    pub context: u64,
    /// Provider context.
    pub providerContext: *const c_void,
}

const _: () = assert!(core::mem::offset_of!(FWPS_FILTER1, context) == 48);

/// `FWPS_FILTER_FLAG_CLEAR_ACTION_RIGHT` (`FWPS_FILTER1::flags`): clear the write right after
/// a permit, so lower-weight filters cannot override it.
pub const FWPS_FILTER_FLAG_CLEAR_ACTION_RIGHT: u16 = 0x1;

/// `FWPS_CALLOUT_CLASSIFY_FN1`.
pub type FWPS_CALLOUT_CLASSIFY_FN1 = unsafe extern "win64" fn(
    inFixedValues: *const FWPS_INCOMING_VALUES0,
    inMetaValues: *const FWPS_INCOMING_METADATA_VALUES0,
    layerData: *mut c_void,
    classifyContext: *const c_void,
    filter: *const FWPS_FILTER1,
    flowContext: u64,
    classifyOut: *mut FWPS_CLASSIFY_OUT0,
);

/// `FWPS_CALLOUT_NOTIFY_FN1`.
pub type FWPS_CALLOUT_NOTIFY_FN1 = unsafe extern "win64" fn(
    notifyType: u32,
    filterKey: *const GUID,
    filter: *mut FWPS_FILTER1,
) -> NTSTATUS;

/// `FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0`.
pub type FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0 =
    unsafe extern "win64" fn(layerId: u16, calloutId: u32, flowContext: u64);

/// `FWPS_CALLOUT1`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPS_CALLOUT1 {
    /// The callout's key (the same as its FWPM_CALLOUT0).
    pub calloutKey: GUID,
    /// `FWP_CALLOUT_FLAG_*`.
    pub flags: u32,
    /// Classify.
    pub classifyFn: FWPS_CALLOUT_CLASSIFY_FN1,
    /// Filter add/delete notifications.
    pub notifyFn: FWPS_CALLOUT_NOTIFY_FN1,
    /// Flow deletion, or none.
    pub flowDeleteFn: Option<FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0>,
}

const _: () = assert!(core::mem::size_of::<FWPS_CALLOUT1>() == 48);

/// `FWPM_SESSION0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPM_SESSION0 {
    /// Session key (zero: let BFE choose).
    pub sessionKey: GUID,
    /// Name shown by `netsh wfp`.
    pub displayData: FWPM_DISPLAY_DATA0,
    /// `FWPM_SESSION_FLAG_*`.
    pub flags: u32,
    /// Transaction wait timeout.
    pub txnWaitTimeoutInMSec: u32,
    /// Filled in by BFE.
    pub processId: u32,
    /// Filled in by BFE.
    pub sid: *mut c_void,
    /// Filled in by BFE.
    pub username: *mut u16,
    /// Filled in by BFE.
    pub kernelMode: i32,
}

const _: () = assert!(core::mem::size_of::<FWPM_SESSION0>() == 72);

/// `FWPM_PROVIDER0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPM_PROVIDER0 {
    /// Key.
    pub providerKey: GUID,
    /// Name.
    pub displayData: FWPM_DISPLAY_DATA0,
    /// `FWPM_PROVIDER_FLAG_*`.
    pub flags: u32,
    /// Opaque data.
    pub providerData: FWP_BYTE_BLOB,
    /// Service that implements the provider.
    pub serviceName: *const u16,
}

const _: () = assert!(core::mem::size_of::<FWPM_PROVIDER0>() == 64);

/// `FWPM_SUBLAYER0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPM_SUBLAYER0 {
    /// Key.
    pub subLayerKey: GUID,
    /// Name.
    pub displayData: FWPM_DISPLAY_DATA0,
    /// `FWPM_SUBLAYER_FLAG_*`.
    pub flags: u32,
    /// Owning provider.
    pub providerKey: *const GUID,
    /// Opaque data.
    pub providerData: FWP_BYTE_BLOB,
    /// Weight among sublayers.
    pub weight: u16,
}

const _: () = assert!(core::mem::size_of::<FWPM_SUBLAYER0>() == 72);

/// `FWPM_CALLOUT0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPM_CALLOUT0 {
    /// Key (the same as the FWPS_CALLOUT1 registered for it).
    pub calloutKey: GUID,
    /// Name.
    pub displayData: FWPM_DISPLAY_DATA0,
    /// `FWPM_CALLOUT_FLAG_*`.
    pub flags: u32,
    /// Owning provider.
    pub providerKey: *const GUID,
    /// Opaque data.
    pub providerData: FWP_BYTE_BLOB,
    /// Layer the callout serves.
    pub applicableLayer: GUID,
    /// Filled in by BFE.
    pub calloutId: u32,
}

const _: () = assert!(core::mem::size_of::<FWPM_CALLOUT0>() == 88);

/// `FWPM_ACTION0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPM_ACTION0 {
    /// `FWP_ACTION_*`.
    pub r#type: FWP_ACTION_TYPE,
    /// The callout key (for callout actions) or filter type.
    pub calloutKey: GUID,
}

/// `FWPM_FILTER0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPM_FILTER0 {
    /// Key.
    pub filterKey: GUID,
    /// Name.
    pub displayData: FWPM_DISPLAY_DATA0,
    /// `FWPM_FILTER_FLAG_*`.
    pub flags: u32,
    /// Owning provider.
    pub providerKey: *const GUID,
    /// Opaque data.
    pub providerData: FWP_BYTE_BLOB,
    /// Layer.
    pub layerKey: GUID,
    /// Sublayer.
    pub subLayerKey: GUID,
    /// Weight (FWP_EMPTY: automatic).
    pub weight: FWP_VALUE0,
    /// Number of conditions.
    pub numFilterConditions: u32,
    /// Conditions (none: match everything at the layer).
    pub filterCondition: *const FWPM_FILTER_CONDITION0,
    /// Action.
    pub action: FWPM_ACTION0,
    /// `rawContext`, handed to classify as `FWPS_FILTER1::context`.
    pub rawContext: u64,
    /// Second half of the rawContext / providerContextKey union.
    pub providerContextKeyTail: u64,
    /// Reserved.
    pub reserved: *const GUID,
    /// Filled in by BFE.
    pub filterId: u64,
    /// Filled in by BFE.
    pub effectiveWeight: FWP_VALUE0,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(offset_of!(FWPM_FILTER0, layerKey) == 64);
    assert!(offset_of!(FWPM_FILTER0, weight) == 96);
    assert!(offset_of!(FWPM_FILTER0, action) == 128);
    assert!(offset_of!(FWPM_FILTER0, rawContext) == 152);
    assert!(offset_of!(FWPM_FILTER0, filterId) == 176);
    assert!(size_of::<FWPM_FILTER0>() == 200);
};

/// `FWPM_FILTER_CONDITION0`: a field key, a match type and the value to match.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPM_FILTER_CONDITION0 {
    /// `FWPM_CONDITION_*` key of the field.
    pub fieldKey: GUID,
    /// `FWP_MATCH_TYPE`.
    pub matchType: FWP_MATCH_TYPE,
    /// `FWP_CONDITION_VALUE0`: the same layout as `FWP_VALUE0`.
    pub conditionValue: FWP_VALUE0,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(offset_of!(FWPM_FILTER_CONDITION0, matchType) == 16);
    assert!(offset_of!(FWPM_FILTER_CONDITION0, conditionValue) == 24);
    assert!(size_of::<FWPM_FILTER_CONDITION0>() == 40);
};

/// `FWP_MATCH_TYPE`: a C enum.
pub type FWP_MATCH_TYPE = u32;
/// `FWP_MATCH_EQUAL`.
pub const FWP_MATCH_EQUAL: FWP_MATCH_TYPE = 0;

/// `FWPM_CONDITION_IP_PROTOCOL` (fwpmu.h).
pub const FWPM_CONDITION_IP_PROTOCOL: GUID =
    GUID::from_u128(0x3971ef2b_623e_4f9a_8cb1_6e79b806b9a7);
/// `FWPM_CONDITION_IP_REMOTE_ADDRESS`.
pub const FWPM_CONDITION_IP_REMOTE_ADDRESS: GUID =
    GUID::from_u128(0xb235ae9a_1d64_49b8_a44c_5ff3d9095045);
/// `FWPM_CONDITION_IP_REMOTE_PORT`.
pub const FWPM_CONDITION_IP_REMOTE_PORT: GUID =
    GUID::from_u128(0xc35a604d_d22b_4e1a_91b4_68f674ee674b);

/// `FWPM_SESSION_FLAG_DYNAMIC`: every object the session adds is deleted when it closes.
pub const FWPM_SESSION_FLAG_DYNAMIC: u32 = 0x1;
/// `FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED`: while the filter's callout is not
/// registered, the filter permits instead of blocking.
pub const FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED: u32 = 0x10;

/// `RPC_C_AUTHN_WINNT`: the authentication service kernel callers pass to FwpmEngineOpen0.
pub const RPC_C_AUTHN_WINNT: u32 = 10;

// ---- Packet-list security information and the loopback flag. ----

/// `FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0`: six 1-bit fields in one 32-bit unit, read
/// through the masks below (bit-fields have no Rust equivalent; the integer is what the kernel
/// writes).
#[repr(transparent)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0(pub u32);

/// `FWPS_PACKET_LIST_OUTBOUND_IPSEC_INFORMATION0`: four 1-bit fields in one 32-bit unit.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FWPS_PACKET_LIST_OUTBOUND_IPSEC_INFORMATION0(pub u32);

/// `FWPS_PACKET_LIST_IPSEC_INFORMATION0`: the inbound or outbound view, or the raw flags.
#[repr(C)]
#[derive(Clone, Copy)]
pub union FWPS_PACKET_LIST_IPSEC_INFORMATION0 {
    /// Inbound view.
    pub inbound: FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0,
    /// Outbound view.
    pub outbound: FWPS_PACKET_LIST_OUTBOUND_IPSEC_INFORMATION0,
    /// The same 32 bits as an integer.
    pub flags: u32,
}

impl core::fmt::Debug for FWPS_PACKET_LIST_IPSEC_INFORMATION0 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // SAFETY: every member is a 32-bit integer; any bit pattern is valid.
        let flags = unsafe { self.flags };
        f.debug_tuple("IpsecInformation").field(&flags).finish()
    }
}

/// `FWPS_PACKET_LIST_FWP_INFORMATION0`: one 1-bit field (`isReinjected`) in a 32-bit unit.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FWPS_PACKET_LIST_FWP_INFORMATION0(pub u32);

/// `FWPS_PACKET_LIST_INFORMATION0`: what `FwpsGetPacketListSecurityInformation0` fills in.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPS_PACKET_LIST_INFORMATION0 {
    /// IPsec information.
    pub ipsecInformation: FWPS_PACKET_LIST_IPSEC_INFORMATION0,
    /// WFP information.
    pub fwpInformation: FWPS_PACKET_LIST_FWP_INFORMATION0,
}

impl FWPS_PACKET_LIST_INFORMATION0 {
    /// All zero, as the callers in Microsoft's samples initialize it before the query.
    pub const fn zeroed() -> Self {
        Self {
            ipsecInformation: FWPS_PACKET_LIST_IPSEC_INFORMATION0 { flags: 0 },
            fwpInformation: FWPS_PACKET_LIST_FWP_INFORMATION0(0),
        }
    }
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<FWPS_PACKET_LIST_IPSEC_INFORMATION0>() == 4);
    assert!(offset_of!(FWPS_PACKET_LIST_INFORMATION0, fwpInformation) == 4);
    assert!(size_of::<FWPS_PACKET_LIST_INFORMATION0>() == 8);
};

/// `FWPS_PACKET_LIST_INFORMATION_QUERY_INBOUND`.
pub const FWPS_PACKET_LIST_INFORMATION_QUERY_INBOUND: u32 = 0x1;
/// `FWPS_PACKET_LIST_INFORMATION_QUERY_IPSEC`: with QUERY_INBOUND or QUERY_OUTBOUND.
pub const FWPS_PACKET_LIST_INFORMATION_QUERY_IPSEC: u32 = 0x4;
/// Mask of `isSecure` (first bit-field) in FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0.
pub const FWPS_INBOUND_IPSEC_IS_SECURE: u32 = 0x1;
/// Mask of `isTunnelMode` (third bit-field).
pub const FWPS_INBOUND_IPSEC_IS_TUNNEL_MODE: u32 = 0x4;
/// Mask of `isDeTunneled` (sixth bit-field).
pub const FWPS_INBOUND_IPSEC_IS_DE_TUNNELED: u32 = 0x20;

impl FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0 {
    /// `isSecure`: IPsec transport- or tunnel-mode processing was performed on the packet list.
    pub const fn is_secure(self) -> bool {
        self.0 & FWPS_INBOUND_IPSEC_IS_SECURE != 0
    }

    /// `isTunnelMode`: IPsec applied a tunnel-mode security association.
    pub const fn is_tunnel_mode(self) -> bool {
        self.0 & FWPS_INBOUND_IPSEC_IS_TUNNEL_MODE != 0
    }

    /// `isDeTunneled`: IPsec has detunneled the packet list.
    pub const fn is_de_tunneled(self) -> bool {
        self.0 & FWPS_INBOUND_IPSEC_IS_DE_TUNNELED != 0
    }
}

/// `FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED`: the inbound packet will be indicated to the ALE
/// receive/accept layer; transport receive injection is not allowed for it.
pub const FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED: u32 = 0x40_0000;
/// `FWP_CONDITION_FLAG_IS_LOOPBACK`: a bit of the layers' FLAGS field.
pub const FWP_CONDITION_FLAG_IS_LOOPBACK: u32 = 0x1;
/// `FWP_CONDITION_FLAG_IS_FRAGMENT`: a bit of the layers' FLAGS field (the IP packet layers see
/// fragments before reassembly).
pub const FWP_CONDITION_FLAG_IS_FRAGMENT: u32 = 0x20;
/// `FWP_CONDITION_FLAG_IS_FRAGMENT_GROUP`: the packet list is a group of fragments.
pub const FWP_CONDITION_FLAG_IS_FRAGMENT_GROUP: u32 = 0x40;
/// `FWP_CONDITION_FLAG_IS_REASSEMBLED`: the stack reassembled the packet (and rebuilt its IP
/// header) before this indication.
pub const FWP_CONDITION_FLAG_IS_REASSEMBLED: u32 = 0x400;
// ---- BFE state (deferred load) ----

/// `FWPM_SERVICE_STATE`: a C enum, so a 32-bit integer.
pub type FWPM_SERVICE_STATE = i32;
/// `FWPM_SERVICE_STOPPED`: the filter engine is not running.
pub const FWPM_SERVICE_STOPPED: FWPM_SERVICE_STATE = 0;
/// `FWPM_SERVICE_START_PENDING`: the filter engine is starting.
pub const FWPM_SERVICE_START_PENDING: FWPM_SERVICE_STATE = 1;
/// `FWPM_SERVICE_STOP_PENDING`: the filter engine is stopping.
pub const FWPM_SERVICE_STOP_PENDING: FWPM_SERVICE_STATE = 2;
/// `FWPM_SERVICE_RUNNING`: the filter engine is running.
pub const FWPM_SERVICE_RUNNING: FWPM_SERVICE_STATE = 3;

/// `FWPM_SERVICE_STATE_CHANGE_CALLBACK0`: called by the filter engine at PASSIVE_LEVEL with the
/// context given to FwpmBfeStateSubscribeChanges0 and the engine's new state.
pub type FWPM_SERVICE_STATE_CHANGE_CALLBACK0 =
    unsafe extern "win64" fn(context: *mut c_void, newState: FWPM_SERVICE_STATE);
