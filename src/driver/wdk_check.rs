//! Compile-time comparison, on the WDK build only, of the values the crate keeps outside
//! crates/seam/src/sys/types with the WDK headers: status codes, the per-direction field indices, the layer
//! run-time ids and the layer keys. build.rs reads them from bindgen's output (and fwpmk.h's
//! DEFINE_GUIDs) into `$OUT_DIR/wdk_values.rs`. Layouts, functions and the constants in
//! crates/seam/src/sys/types are compared by build.rs itself (wdk-compare, crates/seam/src/sys/wdk_items.rs).

#![allow(non_upper_case_globals, dead_code, missing_docs)]

mod wdk {
    include!(concat!(env!("OUT_DIR"), "/wdk_values.rs"));
}

use crate::driver::layers::{FieldIndices, INBOUND_FIELDS, OUTBOUND_FIELDS, TransportLayer};
use crate::nt::NtStatus;
use crate::sys::types::GUID;

/// The GUID as written (`{Data1-Data2-Data3-Data4}`), the order DEFINE_GUID lists it in.
const fn guid_value(guid: GUID) -> u128 {
    ((guid.Data1 as u128) << 96)
        | ((guid.Data2 as u128) << 80)
        | ((guid.Data3 as u128) << 64)
        | u64::from_be_bytes(guid.Data4) as u128
}

/// The indices the crate uses at one layer equal the header's enumerators there.
const fn same_fields(ours: &FieldIndices, theirs: [i128; 5]) -> bool {
    ours.ip_protocol as i128 == theirs[0]
        && ours.ip_remote_address as i128 == theirs[1]
        && ours.ip_remote_port as i128 == theirs[2]
        && ours.interface_index as i128 == theirs[3]
        && ours.sub_interface_index as i128 == theirs[4]
}

/// The header's five enumerators at one layer, in [`same_fields`]' order.
macro_rules! fields {
    (INBOUND_V4) => {
        [
            wdk::FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_PROTOCOL,
            wdk::FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_REMOTE_ADDRESS,
            wdk::FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_REMOTE_PORT,
            wdk::FWPS_FIELD_INBOUND_TRANSPORT_V4_INTERFACE_INDEX,
            wdk::FWPS_FIELD_INBOUND_TRANSPORT_V4_SUB_INTERFACE_INDEX,
        ]
    };
    (INBOUND_V6) => {
        [
            wdk::FWPS_FIELD_INBOUND_TRANSPORT_V6_IP_PROTOCOL,
            wdk::FWPS_FIELD_INBOUND_TRANSPORT_V6_IP_REMOTE_ADDRESS,
            wdk::FWPS_FIELD_INBOUND_TRANSPORT_V6_IP_REMOTE_PORT,
            wdk::FWPS_FIELD_INBOUND_TRANSPORT_V6_INTERFACE_INDEX,
            wdk::FWPS_FIELD_INBOUND_TRANSPORT_V6_SUB_INTERFACE_INDEX,
        ]
    };
    (OUTBOUND_V4) => {
        [
            wdk::FWPS_FIELD_OUTBOUND_TRANSPORT_V4_IP_PROTOCOL,
            wdk::FWPS_FIELD_OUTBOUND_TRANSPORT_V4_IP_REMOTE_ADDRESS,
            wdk::FWPS_FIELD_OUTBOUND_TRANSPORT_V4_IP_REMOTE_PORT,
            wdk::FWPS_FIELD_OUTBOUND_TRANSPORT_V4_INTERFACE_INDEX,
            wdk::FWPS_FIELD_OUTBOUND_TRANSPORT_V4_SUB_INTERFACE_INDEX,
        ]
    };
    (OUTBOUND_V6) => {
        [
            wdk::FWPS_FIELD_OUTBOUND_TRANSPORT_V6_IP_PROTOCOL,
            wdk::FWPS_FIELD_OUTBOUND_TRANSPORT_V6_IP_REMOTE_ADDRESS,
            wdk::FWPS_FIELD_OUTBOUND_TRANSPORT_V6_IP_REMOTE_PORT,
            wdk::FWPS_FIELD_OUTBOUND_TRANSPORT_V6_INTERFACE_INDEX,
            wdk::FWPS_FIELD_OUTBOUND_TRANSPORT_V6_SUB_INTERFACE_INDEX,
        ]
    };
}

const _: () = assert!(same_fields(&INBOUND_FIELDS, fields!(INBOUND_V4)));
const _: () = assert!(same_fields(&INBOUND_FIELDS, fields!(INBOUND_V6)));
const _: () = assert!(same_fields(&OUTBOUND_FIELDS, fields!(OUTBOUND_V4)));
const _: () = assert!(same_fields(&OUTBOUND_FIELDS, fields!(OUTBOUND_V6)));

macro_rules! same_value {
    ($($ours:expr => $theirs:expr),* $(,)?) => {
        $( const _: () = assert!(($ours) as i128 == $theirs); )*
    };
}

same_value!(
    NtStatus::FWP_TCPIP_NOT_READY.0 => wdk::STATUS_FWP_TCPIP_NOT_READY,
    NtStatus::FWP_INJECT_HANDLE_CLOSING.0 => wdk::STATUS_FWP_INJECT_HANDLE_CLOSING,
    NtStatus::FWP_INJECT_HANDLE_STALE.0 => wdk::STATUS_FWP_INJECT_HANDLE_STALE,
    NtStatus::FWP_CANNOT_PEND.0 => wdk::STATUS_FWP_CANNOT_PEND,
    // The unload and stale-object logic branches on these.
    NtStatus::FWP_CALLOUT_NOT_FOUND.0 => wdk::STATUS_FWP_CALLOUT_NOT_FOUND,
    NtStatus::FWP_FILTER_NOT_FOUND.0 => wdk::STATUS_FWP_FILTER_NOT_FOUND,
    NtStatus::FWP_SUBLAYER_NOT_FOUND.0 => wdk::STATUS_FWP_SUBLAYER_NOT_FOUND,
    NtStatus::FWP_PROVIDER_NOT_FOUND.0 => wdk::STATUS_FWP_PROVIDER_NOT_FOUND,
    NtStatus::DEVICE_BUSY.0 => wdk::STATUS_DEVICE_BUSY,
    TransportLayer::InboundV4.runtime_id() => wdk::FWPS_LAYER_INBOUND_TRANSPORT_V4,
    TransportLayer::InboundV6.runtime_id() => wdk::FWPS_LAYER_INBOUND_TRANSPORT_V6,
    TransportLayer::OutboundV4.runtime_id() => wdk::FWPS_LAYER_OUTBOUND_TRANSPORT_V4,
    TransportLayer::OutboundV6.runtime_id() => wdk::FWPS_LAYER_OUTBOUND_TRANSPORT_V6,
);

const _: () =
    assert!(guid_value(TransportLayer::InboundV4.key()) == wdk::FWPM_LAYER_INBOUND_TRANSPORT_V4);
const _: () =
    assert!(guid_value(TransportLayer::InboundV6.key()) == wdk::FWPM_LAYER_INBOUND_TRANSPORT_V6);
const _: () =
    assert!(guid_value(TransportLayer::OutboundV4.key()) == wdk::FWPM_LAYER_OUTBOUND_TRANSPORT_V4);
const _: () =
    assert!(guid_value(TransportLayer::OutboundV6.key()) == wdk::FWPM_LAYER_OUTBOUND_TRANSPORT_V6);
