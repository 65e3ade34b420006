//! The seam: every kernel function the driver calls, and nothing else.
//!
//! [`KernelApi`] lists them with their kernel names and C semantics. Two implementations exist:
//! `windows::WindowsKernel` (the image: `extern "system"` imports bound by the Windows loader)
//! and `wfp_sim::SimulatedStack` (host tests, the `wfp-sim` crate: a second implementation of the
//! documented behaviour). Everything above this module is safe Rust generic over `K: KernelApi`, so both run
//! the same code. No other module declares FFI.

pub mod types;

#[cfg(target_os = "windows")]
pub mod windows;

// The WDF functions the KMDF shell calls, and their two image bindings.
mod wdf;
pub use wdf::WdfApi;
pub mod kmdf_binding;
#[cfg(all(
    target_os = "windows",
    feature = "kmdf-self-binding",
    not(feature = "wdk")
))]
pub mod kmdf_stub;
#[cfg(all(windows, feature = "wdk"))]
mod wdk_binding;

use core::ffi::c_void;

use types::{
    ACCESS_MASK, ADDRESS_FAMILY, BOOLEAN, COMPARTMENT_ID, DEVICE_OBJECT, EX_RUNDOWN_REF,
    FWPM_CALLOUT0, FWPM_FILTER0, FWPM_PROVIDER0, FWPM_SESSION0, FWPM_SUBLAYER0, FWPS_CALLOUT1,
    FWPS_INJECT_COMPLETE0, FWPS_PACKET_INJECTION_STATE, FWPS_TRANSPORT_SEND_PARAMS0, GUID, HANDLE,
    IF_INDEX, KDEFERRED_ROUTINE, KDPC, KIRQL, KPROCESSOR_MODE, NDIS_STATUS, NET_BUFFER,
    NET_BUFFER_LIST, NTSTATUS, OBJECT_ATTRIBUTES, UNICODE_STRING,
};
use types::{CALLBACK_FUNCTION, PCALLBACK_OBJECT};
use types::{
    FWPM_SERVICE_STATE, FWPM_SERVICE_STATE_CHANGE_CALLBACK0, IO_WORKITEM_ROUTINE, PIO_WORKITEM,
    WORK_QUEUE_TYPE,
};

/// The kernel functions the safe layer is built on, one method each, named after the export.
///
/// `Clone` because owned values (handles, clones) keep the kernel they release themselves with;
/// both implementations are `Copy` (a zero-sized type and a reference).
///
/// Methods are `unsafe` where the kernel function has preconditions a type cannot express (IRQL,
/// pointer validity, handle liveness); the safe layer upholds them and says how in `SAFETY:` notes.
pub trait KernelApi: Clone {
    /// `KeGetCurrentIrql`. Any IRQL.
    fn ke_get_current_irql(&self) -> KIRQL;

    /// `KeQueryUnbiasedInterruptTime`: 100 ns units since boot, sleep excluded. Any IRQL.
    fn ke_query_unbiased_interrupt_time(&self) -> u64;

    /// `ObfReferenceObject` (what `ObReferenceObject` expands to): one more reference on a kernel
    /// object; returns the new count.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `object` is a referenced kernel object (a driver object here).
    unsafe fn obf_reference_object(&self, object: *mut c_void) -> isize;

    /// `KeDelayExecutionThread`: sleeps the calling thread. `interval` is in 100 ns units,
    /// negative for a relative wait.
    ///
    /// # Safety
    /// IRQL <= APC_LEVEL (PASSIVE_LEVEL when `alertable` is non-zero); `interval` points to a
    /// readable `i64`.
    unsafe fn ke_delay_execution_thread(
        &self,
        wait_mode: KPROCESSOR_MODE,
        alertable: BOOLEAN,
        interval: *const i64,
    ) -> NTSTATUS;

    /// `FwpsInjectionHandleCreate0`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `handle` points to writable storage for one `HANDLE`.
    unsafe fn fwps_injection_handle_create0(
        &self,
        address_family: ADDRESS_FAMILY,
        flags: u32,
        handle: *mut HANDLE,
    ) -> NTSTATUS;

    /// `FwpsInjectionHandleDestroy0`: waits for injections WFP has accepted on `handle`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `handle` came from a successful create and is not yet destroyed.
    unsafe fn fwps_injection_handle_destroy0(&self, handle: HANDLE) -> NTSTATUS;

    /// `FwpsQueryPacketInjectionState0`. `injection_context` may be null.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `handle` is live; `nbl` is a valid NBL the caller may read;
    /// `injection_context` is null or writable.
    unsafe fn fwps_query_packet_injection_state0(
        &self,
        handle: HANDLE,
        nbl: *const NET_BUFFER_LIST,
        injection_context: *mut HANDLE,
    ) -> FWPS_PACKET_INJECTION_STATE;

    /// `FwpsInjectTransportSendAsync0`.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `handle` is live; `nbl` is owned by the caller and, on success,
    /// belongs to WFP until `completion` runs with `completion_context`; `send_args` (and what it
    /// points to) stays valid until then.
    #[allow(clippy::too_many_arguments)]
    unsafe fn fwps_inject_transport_send_async0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        endpoint_handle: u64,
        flags: u32,
        send_args: *mut FWPS_TRANSPORT_SEND_PARAMS0,
        address_family: ADDRESS_FAMILY,
        compartment_id: COMPARTMENT_ID,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS;

    /// `FwpsInjectTransportReceiveAsync0`.
    ///
    /// # Safety
    /// As [`Self::fwps_inject_transport_send_async0`]; `reserved` is null.
    #[allow(clippy::too_many_arguments)]
    unsafe fn fwps_inject_transport_receive_async0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        reserved: *mut c_void,
        flags: u32,
        address_family: ADDRESS_FAMILY,
        compartment_id: COMPARTMENT_ID,
        interface_index: IF_INDEX,
        sub_interface_index: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS;

    /// `FwpsInjectNetworkSendAsync0`.
    ///
    /// # Safety
    /// As [`Self::fwps_inject_transport_send_async0`]; `nbl` begins with the IP header.
    #[allow(clippy::too_many_arguments)]
    unsafe fn fwps_inject_network_send_async0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        flags: u32,
        compartment_id: COMPARTMENT_ID,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS;

    /// `FwpsInjectNetworkReceiveAsync0`.
    ///
    /// # Safety
    /// As [`Self::fwps_inject_network_send_async0`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn fwps_inject_network_receive_async0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        flags: u32,
        compartment_id: COMPARTMENT_ID,
        interface_index: IF_INDEX,
        sub_interface_index: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS;

    /// `FwpsInjectForwardAsync0`.
    ///
    /// # Safety
    /// As [`Self::fwps_inject_network_send_async0`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn fwps_inject_forward_async0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        flags: u32,
        address_family: ADDRESS_FAMILY,
        compartment_id: COMPARTMENT_ID,
        interface_index: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS;

    /// `FwpsStreamInjectAsync0`. `completion` is mandatory for stream injection.
    ///
    /// # Safety
    /// As [`Self::fwps_inject_transport_send_async0`]; `flow_id`, `callout_id` and `layer_id`
    /// come from the classify that owns the flow.
    #[allow(clippy::too_many_arguments)]
    unsafe fn fwps_stream_inject_async0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        flags: u32,
        flow_id: u64,
        callout_id: u32,
        layer_id: u16,
        stream_flags: u32,
        nbl: *mut NET_BUFFER_LIST,
        data_length: usize,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS;

    /// `FwpsAllocateCloneNetBufferList0`.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `original` is a valid NBL that outlives the clone; `clone` is
    /// writable; the pools are null (WFP's default pools) or valid NDIS pools.
    unsafe fn fwps_allocate_clone_net_buffer_list0(
        &self,
        original: *mut NET_BUFFER_LIST,
        nbl_pool: *mut c_void,
        nb_pool: *mut c_void,
        flags: u32,
        clone: *mut *mut NET_BUFFER_LIST,
    ) -> NTSTATUS;

    /// `FwpsFreeCloneNetBufferList0`.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `clone` came from the clone call above, is not in use by WFP, and
    /// is freed once.
    unsafe fn fwps_free_clone_net_buffer_list0(&self, clone: *mut NET_BUFFER_LIST, flags: u32);

    /// `ExInitializeRundownProtection`.
    ///
    /// # Safety
    /// `rundown` is writable, pointer-aligned, and not in use.
    unsafe fn ex_initialize_rundown_protection(&self, rundown: *mut EX_RUNDOWN_REF);

    /// `ExAcquireRundownProtection`: non-zero when acquired, zero once rundown has begun.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `rundown` was initialized and outlives the protection.
    unsafe fn ex_acquire_rundown_protection(&self, rundown: *mut EX_RUNDOWN_REF) -> BOOLEAN;

    /// `ExReleaseRundownProtection`.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; releases one successful acquire.
    unsafe fn ex_release_rundown_protection(&self, rundown: *mut EX_RUNDOWN_REF);

    /// `ExWaitForRundownProtectionRelease`: refuses new acquires, then waits for the held ones.
    ///
    /// # Safety
    /// IRQL <= APC_LEVEL; `rundown` was initialized.
    unsafe fn ex_wait_for_rundown_protection_release(&self, rundown: *mut EX_RUNDOWN_REF);

    /// `KeInitializeDpc`.
    ///
    /// # Safety
    /// `dpc` is writable storage that outlives any queueing of it.
    unsafe fn ke_initialize_dpc(
        &self,
        dpc: *mut KDPC,
        routine: KDEFERRED_ROUTINE,
        context: *mut c_void,
    );

    /// `KeInsertQueueDpc`: non-zero when queued, zero when it was already queued.
    ///
    /// # Safety
    /// IRQL <= HIGH_LEVEL; `dpc` was initialized and stays valid until its routine has run.
    unsafe fn ke_insert_queue_dpc(
        &self,
        dpc: *mut KDPC,
        argument1: *mut c_void,
        argument2: *mut c_void,
    ) -> BOOLEAN;

    /// `KeFlushQueuedDpcs`: returns once every DPC queued so far has finished running.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL.
    unsafe fn ke_flush_queued_dpcs(&self);

    /// `FwpmEngineOpen0` (kernel mode: `server_name` null).
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `session` is null or valid; `engine` is writable.
    unsafe fn fwpm_engine_open0(
        &self,
        server_name: *const u16,
        authn_service: u32,
        auth_identity: *mut c_void,
        session: *const FWPM_SESSION0,
        engine: *mut HANDLE,
    ) -> NTSTATUS;

    /// `FwpmEngineClose0`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `engine` is open and closed once.
    unsafe fn fwpm_engine_close0(&self, engine: HANDLE) -> NTSTATUS;

    /// `FwpmTransactionBegin0`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `engine` is open.
    unsafe fn fwpm_transaction_begin0(&self, engine: HANDLE, flags: u32) -> NTSTATUS;

    /// `FwpmTransactionCommit0`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `engine` is open.
    unsafe fn fwpm_transaction_commit0(&self, engine: HANDLE) -> NTSTATUS;

    /// `FwpmTransactionAbort0`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `engine` is open.
    unsafe fn fwpm_transaction_abort0(&self, engine: HANDLE) -> NTSTATUS;

    /// `FwpmProviderAdd0`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `engine` is open; `provider` and what it points to are valid.
    unsafe fn fwpm_provider_add0(
        &self,
        engine: HANDLE,
        provider: *const FWPM_PROVIDER0,
        security: *mut c_void,
    ) -> NTSTATUS;

    /// `FwpmProviderDeleteByKey0`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `engine` is open; `key` is valid.
    unsafe fn fwpm_provider_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS;

    /// `FwpmSubLayerAdd0`.
    ///
    /// # Safety
    /// As [`Self::fwpm_provider_add0`].
    unsafe fn fwpm_sub_layer_add0(
        &self,
        engine: HANDLE,
        sublayer: *const FWPM_SUBLAYER0,
        security: *mut c_void,
    ) -> NTSTATUS;

    /// `FwpmSubLayerDeleteByKey0`.
    ///
    /// # Safety
    /// As [`Self::fwpm_provider_delete_by_key0`].
    unsafe fn fwpm_sub_layer_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS;

    /// `FwpmCalloutAdd0`. `id` may be null.
    ///
    /// # Safety
    /// As [`Self::fwpm_provider_add0`]; `id` is null or writable.
    unsafe fn fwpm_callout_add0(
        &self,
        engine: HANDLE,
        callout: *const FWPM_CALLOUT0,
        security: *mut c_void,
        id: *mut u32,
    ) -> NTSTATUS;

    /// `FwpmCalloutDeleteByKey0`.
    ///
    /// # Safety
    /// As [`Self::fwpm_provider_delete_by_key0`].
    unsafe fn fwpm_callout_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS;

    /// `FwpmFilterAdd0`. `id` may be null.
    ///
    /// # Safety
    /// As [`Self::fwpm_provider_add0`]; `id` is null or writable.
    unsafe fn fwpm_filter_add0(
        &self,
        engine: HANDLE,
        filter: *const FWPM_FILTER0,
        security: *mut c_void,
        id: *mut u64,
    ) -> NTSTATUS;

    /// `FwpmFilterDeleteByKey0`.
    ///
    /// # Safety
    /// As [`Self::fwpm_provider_delete_by_key0`].
    unsafe fn fwpm_filter_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS;

    /// `FwpsCalloutRegister1`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `device` is the driver's device object; `callout` is valid and its
    /// functions stay loaded until unregistered; `id` is writable.
    unsafe fn fwps_callout_register1(
        &self,
        device: *mut DEVICE_OBJECT,
        callout: *const FWPS_CALLOUT1,
        id: *mut u32,
    ) -> NTSTATUS;

    /// `FwpsCalloutUnregisterById0`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `id` was registered by this driver.
    unsafe fn fwps_callout_unregister_by_id0(&self, id: u32) -> NTSTATUS;

    /// `NdisRetreatNetBufferDataStart`.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `net_buffer` is valid and owned for the call.
    unsafe fn ndis_retreat_net_buffer_data_start(
        &self,
        net_buffer: *mut NET_BUFFER,
        delta: u32,
        back_fill: u32,
        allocate_mdl: *mut c_void,
    ) -> NDIS_STATUS;

    /// `NdisAdvanceNetBufferDataStart`.
    ///
    /// # Safety
    /// As [`Self::ndis_retreat_net_buffer_data_start`]; `delta` <= the buffer's data length.
    unsafe fn ndis_advance_net_buffer_data_start(
        &self,
        net_buffer: *mut NET_BUFFER,
        delta: u32,
        free_mdl: BOOLEAN,
        free_mdl_handler: *mut c_void,
    );

    /// `NdisGetDataBuffer`: a pointer to `bytes` contiguous bytes at the data start (in place, or
    /// copied into `storage`), or null when the buffer holds fewer.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `net_buffer` is valid; `storage` is null or writable for `bytes`.
    unsafe fn ndis_get_data_buffer(
        &self,
        net_buffer: *mut NET_BUFFER,
        bytes: u32,
        storage: *mut c_void,
        align_multiple: u32,
        align_offset: u32,
    ) -> *mut c_void;

    /// `ZwOpenKey`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; the pointers are valid; `key` is writable.
    unsafe fn zw_open_key(
        &self,
        key: *mut HANDLE,
        access: ACCESS_MASK,
        attributes: *const OBJECT_ATTRIBUTES,
    ) -> NTSTATUS;

    /// `ZwQueryValueKey`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `key` is open; `buffer` is writable for `length` bytes;
    /// `result_length` is writable.
    unsafe fn zw_query_value_key(
        &self,
        key: HANDLE,
        name: *const UNICODE_STRING,
        class: u32,
        buffer: *mut c_void,
        length: u32,
        result_length: *mut u32,
    ) -> NTSTATUS;

    /// `ZwClose`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `handle` is open and closed once.
    unsafe fn zw_close(&self, handle: HANDLE) -> NTSTATUS;

    /// `DbgPrintEx(component, level, "%s", text)`: the format is fixed so that logged text is
    /// never interpreted as a format string.
    ///
    /// # Safety
    /// `text` is NUL-terminated; IRQL <= DIRQL.
    unsafe fn dbg_print_ex(&self, component: u32, level: u32, text: *const u8) -> u32;

    // ---- Reinjection rules. ----

    /// `FwpsGetPacketListSecurityInformation0`: the IPsec (and WFP) information of a packet
    /// list, for the query flags given.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `packet_list` is a valid NBL for the call; `information` is
    /// writable.
    unsafe fn fwps_get_packet_list_security_information0(
        &self,
        packet_list: *mut NET_BUFFER_LIST,
        query_flags: u32,
        information: *mut types::FWPS_PACKET_LIST_INFORMATION0,
    ) -> NTSTATUS;
    // ---- Deferred load: BFE state and work items ----

    /// `FwpmBfeStateGet0`: the filter engine's state now (`FWPM_SERVICE_*`).
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; called only after [`Self::fwpm_bfe_state_subscribe_changes0`]
    /// succeeded (the docs' order, so no change between the two is missed).
    unsafe fn fwpm_bfe_state_get0(&self) -> FWPM_SERVICE_STATE;

    /// `FwpmBfeStateSubscribeChanges0`: `callback` runs with `context` at each change of the
    /// filter engine's state until unsubscribed.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `device` is the driver's device object; `callback` and `context`
    /// stay valid until [`Self::fwpm_bfe_state_unsubscribe_changes0`] returns; `handle` is
    /// writable.
    unsafe fn fwpm_bfe_state_subscribe_changes0(
        &self,
        device: *mut DEVICE_OBJECT,
        callback: FWPM_SERVICE_STATE_CHANGE_CALLBACK0,
        context: *mut c_void,
        handle: *mut HANDLE,
    ) -> NTSTATUS;

    /// `FwpmBfeStateUnsubscribeChanges0`: once it returns, the callback is not running and is
    /// never called again.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `handle` came from a successful subscribe and is unsubscribed once;
    /// never called from the callback itself (the docs: it can deadlock).
    unsafe fn fwpm_bfe_state_unsubscribe_changes0(&self, handle: HANDLE) -> NTSTATUS;

    /// `IoAllocateWorkItem`: null when memory is short.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `device` is the driver's device object.
    unsafe fn io_allocate_work_item(&self, device: *mut DEVICE_OBJECT) -> PIO_WORKITEM;

    /// `IoQueueWorkItem`: `routine` runs once with `context` at PASSIVE_LEVEL in a system worker
    /// thread; the I/O manager keeps the device object referenced until it returns.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `item` came from [`Self::io_allocate_work_item`], is not freed and
    /// is not queued (the system dequeues it before `routine` runs); `queue` is
    /// `DelayedWorkQueue`; `context` stays valid until `routine` has run.
    unsafe fn io_queue_work_item(
        &self,
        item: PIO_WORKITEM,
        routine: IO_WORKITEM_ROUTINE,
        queue: WORK_QUEUE_TYPE,
        context: *mut c_void,
    );

    /// `IoFreeWorkItem`.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `item` came from [`Self::io_allocate_work_item`], is not queued,
    /// and is freed once.
    unsafe fn io_free_work_item(&self, item: PIO_WORKITEM);

    // ---- Power transitions: the `\Callback\PowerState` callback object ----

    /// `ExCreateCallback`: opens (or, with `create`, creates) the named callback object and
    /// writes a referenced pointer to it; released with [`Self::obf_dereference_object`].
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `object` is writable; `attributes` is an initialized
    /// OBJECT_ATTRIBUTES naming the object, valid for the call.
    unsafe fn ex_create_callback(
        &self,
        object: *mut PCALLBACK_OBJECT,
        attributes: *const OBJECT_ATTRIBUTES,
        create: BOOLEAN,
        allow_multiple_callbacks: BOOLEAN,
    ) -> NTSTATUS;

    /// `ExRegisterCallback`: `function` runs with `context` at each notification of `object`
    /// until unregistered. Returns the registration, null on failure.
    ///
    /// # Safety
    /// IRQL <= APC_LEVEL; `object` came from [`Self::ex_create_callback`] and is referenced;
    /// `function` and `context` stay valid until [`Self::ex_unregister_callback`] returns.
    unsafe fn ex_register_callback(
        &self,
        object: PCALLBACK_OBJECT,
        function: CALLBACK_FUNCTION,
        context: *mut c_void,
    ) -> *mut c_void;

    /// `ExUnregisterCallback`: removes a registration from the object's list.
    ///
    /// # Safety
    /// IRQL <= APC_LEVEL; `registration` came from [`Self::ex_register_callback`] and is
    /// unregistered once; never called from the registered routine itself.
    unsafe fn ex_unregister_callback(&self, registration: *mut c_void);

    /// `ObfDereferenceObject` (what `ObDereferenceObject` expands to): one reference fewer on a
    /// kernel object; returns the new count.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; the caller holds the reference it gives back.
    unsafe fn obf_dereference_object(&self, object: *mut c_void) -> isize;
}
