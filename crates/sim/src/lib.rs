//! The simulated WFP stack: a second implementation of the kernel functions behind the seam,
//! modelling their documented behaviour for host tests.
//!
//! Each [`SimulatedStack`] is independent (tests run in parallel, each with its own). It keeps a
//! handle table that catches destroys of unknown or already destroyed handles, enforces the IRQL
//! each call allows (per thread), answers STATUS_FWP_TCPIP_NOT_READY for the first N creates,
//! refuses the argument combinations the kernel refuses, can fail any call with any status, and
//! runs a virtual clock so that waits cost no real time. Misuse is recorded as a [`Violation`]
//! rather than crashing, and [`SimulatedStack::assert_clean`] (also run when the stack is dropped)
//! fails a test that left a handle open or broke a rule.
//!
//! A dev-dependency of the driver's tests only: it never ships, and it is empty when built for
//! Windows (the WDK build compiles the workspace's default members there).
#![cfg(not(target_os = "windows"))]

// The seam and the safe layer, under the names the simulator's modules use.
pub(crate) use wfp_inject as inject;
pub(crate) use wfp_seam::{nt, sys};

mod boot;
mod cache_aware_rundown;
mod dpc;
mod engine;
pub mod ip_packet;
mod kernel_api;
pub mod kmdf;
pub mod kmdf_io;
pub mod layout;
mod other_injector;
mod packets;
mod power;
mod processors;
mod registry;
mod rundown;
mod services;
mod stack;
pub mod traffic;

pub use crate::sys::KernelFn;
pub use boot::{DELAYED_WORK_QUEUE, ENGINE_NOT_RUNNING, bfe_state};
pub use engine::{
    CONDITION_IP_PROTOCOL, CONDITION_IP_REMOTE_ADDRESS, CONDITION_IP_REMOTE_PORT, ClassifyResult,
    ConditionInput, ConditionValue, FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED, FilterCondition,
    SESSION_FLAG_DYNAMIC, WfpObjects,
};
pub use other_injector::{
    OtherInjectorCounts, OtherInjectorSetup, OtherReinjection, REINJECTION_LIMIT, Reinjections,
};
pub use packets::NetBufferSpec;
pub use packets::{InjectionPath, PacketKind, PacketModel, PendingInjection};
pub use power::{PO_CB_AC_STATUS, PO_CB_SYSTEM_STATE_LOCK};
pub use processors::{DEFAULT_PROCESSORS, GROUP_SIZE, ProcessorGuard};
pub use registry::{RegistryValue, SERVICE_KEY_PATH};
pub use stack::{HandleRecord, IrqlGuard, SimulatedStack, SyncCompletions, Violation, can_fail};

/// Kernel constants the simulator's rules use, from its own copies: tests/kernel_facts.rs pins
/// each against facts/kernel-facts.md.
pub mod constants {
    /// `OBJ_KERNEL_HANDLE`: ZwOpenKey must get it in a driver (the simulator refuses without).
    pub const OBJ_KERNEL_HANDLE: u32 = super::registry::OBJ_KERNEL_HANDLE;
    /// `KEY_SET_VALUE`: ZwSetValueKey and ZwDeleteValueKey need a key opened with it.
    pub const KEY_SET_VALUE: u32 = super::registry::KEY_SET_VALUE;
    /// `KEY_QUERY_VALUE`: ZwQueryValueKey needs a key opened with it.
    pub const KEY_QUERY_VALUE: u32 = super::registry::KEY_QUERY_VALUE;
    /// `POOL_FLAG_PAGED`: allowed only at IRQL <= APC_LEVEL.
    pub const POOL_FLAG_PAGED: u64 = super::services::POOL_FLAG_PAGED;
    /// `sizeof(KDPC)`: the storage the simulator signs at KeInitializeDpc.
    pub const KDPC_SIZE: usize = super::dpc::KDPC_SIZE;
    /// `NonPagedPoolNx`: a cache-aware rundown block the driver may use at DISPATCH_LEVEL.
    pub const NON_PAGED_POOL_NX: i32 = super::cache_aware_rundown::NON_PAGED_POOL_NX;
    /// `PagedPool`: a cache-aware rundown block usable only below DISPATCH_LEVEL.
    pub const PAGED_POOL: i32 = super::cache_aware_rundown::PAGED_POOL;
    /// `NonPagedPool`.
    pub const NON_PAGED_POOL: i32 = super::cache_aware_rundown::NON_PAGED_POOL;
    /// `ALL_PROCESSOR_GROUPS`: KeQueryActiveProcessorCountEx answers for the whole system.
    pub const ALL_PROCESSOR_GROUPS: u16 = super::processors::ALL_PROCESSOR_GROUPS;
    /// What freed NBLs and NET_BUFFERs are filled with.
    pub const FREED_NBL_POISON: u8 = super::packets::FREED_POISON;
    /// `FWPS_PACKET_INJECTION_STATE` values, the only answers FwpsQueryPacketInjectionState0
    /// has: NOT_INJECTED, INJECTED_BY_SELF, INJECTED_BY_OTHER, PREVIOUSLY_INJECTED_BY_SELF.
    pub const PACKET_INJECTION_STATES: [i32; 4] = super::packets::INJECTION_STATES;
}

/// The status codes the simulator answers with, from its own copies (not `crate::nt::NtStatus`'s):
/// tests/kernel_facts.rs pins each against facts/kernel-facts.md.
pub mod status {
    use crate::nt::NtStatus;

    /// STATUS_FWP_CALLOUT_NOT_FOUND.
    pub const FWP_CALLOUT_NOT_FOUND: NtStatus = super::engine::status::CALLOUT_NOT_FOUND;
    /// STATUS_FWP_FILTER_NOT_FOUND.
    pub const FWP_FILTER_NOT_FOUND: NtStatus = super::engine::status::FILTER_NOT_FOUND;
    /// STATUS_FWP_PROVIDER_NOT_FOUND.
    pub const FWP_PROVIDER_NOT_FOUND: NtStatus = super::engine::status::PROVIDER_NOT_FOUND;
    /// STATUS_FWP_SUBLAYER_NOT_FOUND.
    pub const FWP_SUBLAYER_NOT_FOUND: NtStatus = super::engine::status::SUBLAYER_NOT_FOUND;
    /// STATUS_FWP_ALREADY_EXISTS.
    pub const FWP_ALREADY_EXISTS: NtStatus = super::engine::status::ALREADY_EXISTS;
    /// STATUS_FWP_IN_USE.
    pub const FWP_IN_USE: NtStatus = super::engine::status::IN_USE;
    /// STATUS_FWP_NO_TXN_IN_PROGRESS.
    pub const FWP_NO_TXN_IN_PROGRESS: NtStatus = super::engine::status::NO_TXN_IN_PROGRESS;
    /// STATUS_FWP_TXN_IN_PROGRESS.
    pub const FWP_TXN_IN_PROGRESS: NtStatus = super::engine::status::TXN_IN_PROGRESS;
    /// STATUS_FWP_SESSION_ABORTED (a call on a session BFE ended).
    pub const FWP_SESSION_ABORTED: NtStatus = super::engine::status::SESSION_ABORTED;
    /// STATUS_OBJECT_NAME_NOT_FOUND (the simulated registry).
    pub const OBJECT_NAME_NOT_FOUND: NtStatus = super::registry::NAME_NOT_FOUND;
    /// STATUS_BUFFER_TOO_SMALL (the simulated registry).
    pub const BUFFER_TOO_SMALL: NtStatus = super::registry::BUFFER_TOO_SMALL;
    /// STATUS_BUFFER_OVERFLOW (the simulated registry).
    pub const BUFFER_OVERFLOW: NtStatus = super::registry::BUFFER_OVERFLOW;
    /// STATUS_ACCESS_DENIED (the simulated registry: a call without the access its page names).
    pub const ACCESS_DENIED: NtStatus = super::registry::ACCESS_DENIED;
}
