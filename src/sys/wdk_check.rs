//! Compile-time comparison of the seam's hand-written layouts and constants with the ones
//! bindgen generates from the WDK headers (build.rs, WDK build only). A mismatch is a build
//! error, so a wrong offset or value cannot ship from the WDK build.

#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    missing_docs
)]
#![allow(clippy::all)]

mod generated {
    include!(concat!(env!("OUT_DIR"), "/wfp_bindings.rs"));
}

use core::mem::{align_of, size_of};

use super::types as ours;
use generated as wdk;

macro_rules! same_layout {
    ($($name:ident),* $(,)?) => {
        $(
            const _: () = assert!(size_of::<ours::$name>() <= size_of::<wdk::$name>());
            const _: () = assert!(align_of::<ours::$name>() == align_of::<wdk::$name>());
        )*
    };
}

// Structures this crate only reads a prefix of (NBL, NET_BUFFER, metadata, FWPS_FILTER1) are
// declared no larger than the WDK's; the others must match exactly.
same_layout!(
    NET_BUFFER_LIST,
    NET_BUFFER,
    FWPS_INCOMING_METADATA_VALUES0,
    FWPS_FILTER1,
    FWPS_INCOMING_VALUES0,
    FWPS_CLASSIFY_OUT0,
    FWPS_CALLOUT1,
    FWPS_TRANSPORT_SEND_PARAMS0,
    FWPM_SESSION0,
    FWPM_PROVIDER0,
    FWPM_SUBLAYER0,
    FWPM_CALLOUT0,
    FWPM_FILTER0,
    FWP_VALUE0,
    OBJECT_ATTRIBUTES,
    KEY_VALUE_PARTIAL_INFORMATION,
    DRIVER_OBJECT,
    UNICODE_STRING,
    KDPC,
    EX_RUNDOWN_REF,
);

macro_rules! exact_size {
    ($($name:ident),* $(,)?) => {
        $( const _: () = assert!(size_of::<ours::$name>() == size_of::<wdk::$name>()); )*
    };
}

exact_size!(
    FWPS_CLASSIFY_OUT0,
    FWPS_CALLOUT1,
    FWPS_TRANSPORT_SEND_PARAMS0,
    FWPM_SESSION0,
    FWPM_PROVIDER0,
    FWPM_SUBLAYER0,
    FWPM_CALLOUT0,
    FWPM_FILTER0,
    FWP_VALUE0,
    OBJECT_ATTRIBUTES,
    DRIVER_OBJECT,
    UNICODE_STRING,
    KDPC,
    EX_RUNDOWN_REF,
);

macro_rules! same_value {
    ($($ours:expr => $theirs:expr),* $(,)?) => {
        $( const _: () = assert!(($ours) as i64 == ($theirs) as i64); )*
    };
}

same_value!(
    crate::nt::NtStatus::FWP_TCPIP_NOT_READY.0 => wdk::STATUS_FWP_TCPIP_NOT_READY,
    crate::nt::NtStatus::FWP_INJECT_HANDLE_CLOSING.0 => wdk::STATUS_FWP_INJECT_HANDLE_CLOSING,
    crate::nt::NtStatus::FWP_INJECT_HANDLE_STALE.0 => wdk::STATUS_FWP_INJECT_HANDLE_STALE,
    crate::nt::NtStatus::FWP_CANNOT_PEND.0 => wdk::STATUS_FWP_CANNOT_PEND,
    ours::FWPS_METADATA_FIELD_IP_HEADER_SIZE => wdk::FWPS_METADATA_FIELD_IP_HEADER_SIZE,
    ours::FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE => wdk::FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE,
    ours::FWPS_METADATA_FIELD_COMPARTMENT_ID => wdk::FWPS_METADATA_FIELD_COMPARTMENT_ID,
    ours::FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE => wdk::FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE,
    ours::FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA => wdk::FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA,
    ours::FWPS_METADATA_FIELD_REMOTE_SCOPE_ID => wdk::FWPS_METADATA_FIELD_REMOTE_SCOPE_ID,
    ours::FWPS_RIGHT_ACTION_WRITE => wdk::FWPS_RIGHT_ACTION_WRITE,
    ours::FWPS_CLASSIFY_OUT_FLAG_ABSORB => wdk::FWPS_CLASSIFY_OUT_FLAG_ABSORB,
    ours::FWP_ACTION_BLOCK => wdk::FWP_ACTION_BLOCK,
    ours::FWP_ACTION_PERMIT => wdk::FWP_ACTION_PERMIT,
    ours::FWP_ACTION_CALLOUT_TERMINATING => wdk::FWP_ACTION_CALLOUT_TERMINATING,
    ours::POOL_FLAG_NON_PAGED => wdk::POOL_FLAG_NON_PAGED,
);
