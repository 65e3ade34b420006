//! The kernel implementation of the seam: imports resolved by the Windows loader.
//!
//! `raw-dylib` lets any host link the image without the WDK's import libraries; `+verbatim` keeps
//! the module names exactly as written (otherwise `fwpkclnt.sys` would become `fwpkclnt.sys.dll`).

use core::ffi::c_void;

use super::KernelApi;
use super::types::{
    ACCESS_MASK, ADDRESS_FAMILY, BOOLEAN, COMPARTMENT_ID, DEVICE_OBJECT, DRIVER_OBJECT,
    EX_RUNDOWN_REF, FWPM_CALLOUT0, FWPM_FILTER0, FWPM_PROVIDER0, FWPM_SESSION0, FWPM_SUBLAYER0,
    FWPS_CALLOUT1, FWPS_INJECT_COMPLETE0, FWPS_PACKET_INJECTION_STATE, FWPS_TRANSPORT_SEND_PARAMS0,
    GUID, HANDLE, IF_INDEX, KDEFERRED_ROUTINE, KDPC, KIRQL, KPROCESSOR_MODE, NDIS_STATUS,
    NET_BUFFER, NET_BUFFER_LIST, NTSTATUS, OBJECT_ATTRIBUTES, POOL_FLAGS, UNICODE_STRING,
};
#[cfg(not(feature = "wdk"))]
use super::types::{CALLBACK_FUNCTION, PCALLBACK_OBJECT};
use super::types::{
    FWPM_SERVICE_STATE, FWPM_SERVICE_STATE_CHANGE_CALLBACK0, IO_WORKITEM_ROUTINE, PIO_WORKITEM,
    WORK_QUEUE_TYPE,
};
use super::types::{WDF_BIND_INFO, WDF_DRIVER_GLOBALS};

#[link(name = "fwpkclnt.sys", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn FwpsInjectionHandleCreate0(
        addressFamily: ADDRESS_FAMILY,
        flags: u32,
        injectionHandle: *mut HANDLE,
    ) -> NTSTATUS;
    fn FwpsInjectionHandleDestroy0(injectionHandle: HANDLE) -> NTSTATUS;
    fn FwpsQueryPacketInjectionState0(
        injectionHandle: HANDLE,
        netBufferList: *const NET_BUFFER_LIST,
        injectionContext: *mut HANDLE,
    ) -> FWPS_PACKET_INJECTION_STATE;
    fn FwpsInjectTransportSendAsync0(
        injectionHandle: HANDLE,
        injectionContext: HANDLE,
        endpointHandle: u64,
        flags: u32,
        sendArgs: *mut FWPS_TRANSPORT_SEND_PARAMS0,
        addressFamily: ADDRESS_FAMILY,
        compartmentId: COMPARTMENT_ID,
        netBufferList: *mut NET_BUFFER_LIST,
        completionFn: FWPS_INJECT_COMPLETE0,
        completionContext: *mut c_void,
    ) -> NTSTATUS;
    fn FwpsInjectTransportReceiveAsync0(
        injectionHandle: HANDLE,
        injectionContext: HANDLE,
        reserved: *mut c_void,
        flags: u32,
        addressFamily: ADDRESS_FAMILY,
        compartmentId: COMPARTMENT_ID,
        interfaceIndex: IF_INDEX,
        subInterfaceIndex: IF_INDEX,
        netBufferList: *mut NET_BUFFER_LIST,
        completionFn: FWPS_INJECT_COMPLETE0,
        completionContext: *mut c_void,
    ) -> NTSTATUS;
    fn FwpsInjectNetworkSendAsync0(
        injectionHandle: HANDLE,
        injectionContext: HANDLE,
        flags: u32,
        compartmentId: COMPARTMENT_ID,
        netBufferList: *mut NET_BUFFER_LIST,
        completionFn: FWPS_INJECT_COMPLETE0,
        completionContext: *mut c_void,
    ) -> NTSTATUS;
    fn FwpsInjectNetworkReceiveAsync0(
        injectionHandle: HANDLE,
        injectionContext: HANDLE,
        flags: u32,
        compartmentId: COMPARTMENT_ID,
        interfaceIndex: IF_INDEX,
        subInterfaceIndex: IF_INDEX,
        netBufferList: *mut NET_BUFFER_LIST,
        completionFn: FWPS_INJECT_COMPLETE0,
        completionContext: *mut c_void,
    ) -> NTSTATUS;
    fn FwpsInjectForwardAsync0(
        injectionHandle: HANDLE,
        injectionContext: HANDLE,
        flags: u32,
        addressFamily: ADDRESS_FAMILY,
        compartmentId: COMPARTMENT_ID,
        interfaceIndex: IF_INDEX,
        netBufferList: *mut NET_BUFFER_LIST,
        completionFn: FWPS_INJECT_COMPLETE0,
        completionContext: *mut c_void,
    ) -> NTSTATUS;
    fn FwpsStreamInjectAsync0(
        injectionHandle: HANDLE,
        injectionContext: HANDLE,
        flags: u32,
        flowId: u64,
        calloutId: u32,
        layerId: u16,
        streamFlags: u32,
        netBufferList: *mut NET_BUFFER_LIST,
        dataLength: usize,
        completionFn: FWPS_INJECT_COMPLETE0,
        completionContext: *mut c_void,
    ) -> NTSTATUS;
    fn FwpsAllocateCloneNetBufferList0(
        originalNetBufferList: *mut NET_BUFFER_LIST,
        netBufferListPoolHandle: *mut c_void,
        netBufferPoolHandle: *mut c_void,
        allocateCloneFlags: u32,
        netBufferList: *mut *mut NET_BUFFER_LIST,
    ) -> NTSTATUS;
    fn FwpsFreeCloneNetBufferList0(netBufferList: *mut NET_BUFFER_LIST, freeCloneFlags: u32);
    fn FwpmEngineOpen0(
        serverName: *const u16,
        authnService: u32,
        authIdentity: *mut c_void,
        session: *const FWPM_SESSION0,
        engineHandle: *mut HANDLE,
    ) -> NTSTATUS;
    fn FwpmEngineClose0(engineHandle: HANDLE) -> NTSTATUS;
    fn FwpmTransactionBegin0(engineHandle: HANDLE, flags: u32) -> NTSTATUS;
    fn FwpmTransactionCommit0(engineHandle: HANDLE) -> NTSTATUS;
    fn FwpmTransactionAbort0(engineHandle: HANDLE) -> NTSTATUS;
    fn FwpmProviderAdd0(
        engineHandle: HANDLE,
        provider: *const FWPM_PROVIDER0,
        sd: *mut c_void,
    ) -> NTSTATUS;
    fn FwpmProviderDeleteByKey0(engineHandle: HANDLE, key: *const GUID) -> NTSTATUS;
    fn FwpmSubLayerAdd0(
        engineHandle: HANDLE,
        subLayer: *const FWPM_SUBLAYER0,
        sd: *mut c_void,
    ) -> NTSTATUS;
    fn FwpmSubLayerDeleteByKey0(engineHandle: HANDLE, key: *const GUID) -> NTSTATUS;
    fn FwpmCalloutAdd0(
        engineHandle: HANDLE,
        callout: *const FWPM_CALLOUT0,
        sd: *mut c_void,
        id: *mut u32,
    ) -> NTSTATUS;
    fn FwpmCalloutDeleteByKey0(engineHandle: HANDLE, key: *const GUID) -> NTSTATUS;
    fn FwpmFilterAdd0(
        engineHandle: HANDLE,
        filter: *const FWPM_FILTER0,
        sd: *mut c_void,
        id: *mut u64,
    ) -> NTSTATUS;
    fn FwpmFilterDeleteByKey0(engineHandle: HANDLE, key: *const GUID) -> NTSTATUS;
    fn FwpsCalloutRegister1(
        deviceObject: *mut DEVICE_OBJECT,
        callout: *const FWPS_CALLOUT1,
        calloutId: *mut u32,
    ) -> NTSTATUS;
    fn FwpsCalloutUnregisterById0(calloutId: u32) -> NTSTATUS;
}

// Reinjection rules.
#[link(name = "fwpkclnt.sys", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn FwpsGetPacketListSecurityInformation0(
        packetList: *mut NET_BUFFER_LIST,
        queryFlags: u32,
        packetInformation: *mut super::types::FWPS_PACKET_LIST_INFORMATION0,
    ) -> NTSTATUS;
}

#[link(name = "ndis.sys", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn NdisRetreatNetBufferDataStart(
        NetBuffer: *mut NET_BUFFER,
        DataOffsetDelta: u32,
        DataBackFill: u32,
        AllocateMdlHandler: *mut c_void,
    ) -> NDIS_STATUS;
    fn NdisAdvanceNetBufferDataStart(
        NetBuffer: *mut NET_BUFFER,
        DataOffsetDelta: u32,
        FreeMdl: BOOLEAN,
        FreeMdlHandler: *mut c_void,
    );
    fn NdisGetDataBuffer(
        NetBuffer: *mut NET_BUFFER,
        BytesNeeded: u32,
        Storage: *mut c_void,
        AlignMultiple: u32,
        AlignOffset: u32,
    ) -> *mut c_void;
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn KeGetCurrentIrql() -> KIRQL;
    fn KeQueryUnbiasedInterruptTime() -> u64;
    fn ObfReferenceObject(Object: *mut c_void) -> isize;
    fn KeDelayExecutionThread(
        WaitMode: KPROCESSOR_MODE,
        Alertable: BOOLEAN,
        Interval: *const i64,
    ) -> NTSTATUS;
    fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> !;
    fn ExAllocatePool2(Flags: POOL_FLAGS, NumberOfBytes: usize, Tag: u32) -> *mut c_void;
    fn ExFreePoolWithTag(P: *mut c_void, Tag: u32);
    fn ExInitializeRundownProtection(RunRef: *mut EX_RUNDOWN_REF);
    fn ExAcquireRundownProtection(RunRef: *mut EX_RUNDOWN_REF) -> BOOLEAN;
    fn ExReleaseRundownProtection(RunRef: *mut EX_RUNDOWN_REF);
    fn ExWaitForRundownProtectionRelease(RunRef: *mut EX_RUNDOWN_REF);
    fn KeFlushQueuedDpcs();
    fn ZwOpenKey(
        KeyHandle: *mut HANDLE,
        DesiredAccess: ACCESS_MASK,
        ObjectAttributes: *const OBJECT_ATTRIBUTES,
    ) -> NTSTATUS;
    fn ZwQueryValueKey(
        KeyHandle: HANDLE,
        ValueName: *const UNICODE_STRING,
        KeyValueInformationClass: u32,
        KeyValueInformation: *mut c_void,
        Length: u32,
        ResultLength: *mut u32,
    ) -> NTSTATUS;
    fn ZwClose(Handle: HANDLE) -> NTSTATUS;
    // Variadic in the headers; called with exactly one pointer argument after the format, which
    // the x64 convention passes the same way for variadic and fixed prototypes.
    fn DbgPrintEx(ComponentId: u32, Level: u32, Format: *const u8, Text: *const u8) -> u32;
    fn KeInitializeDpc(
        Dpc: *mut KDPC,
        DeferredRoutine: KDEFERRED_ROUTINE,
        DeferredContext: *mut c_void,
    );
    fn KeInsertQueueDpc(
        Dpc: *mut KDPC,
        SystemArgument1: *mut c_void,
        SystemArgument2: *mut c_void,
    ) -> BOOLEAN;
}

// wdfldr.sys, the framework loader. The Linux-built image binds KMDF itself
// (crates/seam/src/sys/kmdf_stub.rs); the WDK build links WdfDriverEntry.lib, which imports these.
#[cfg(not(feature = "wdk"))]
#[link(name = "wdfldr.sys", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn WdfVersionBind(
        DriverObject: *mut DRIVER_OBJECT,
        RegistryPath: *const UNICODE_STRING,
        BindInfo: *mut WDF_BIND_INFO,
        ComponentGlobals: *mut *mut WDF_DRIVER_GLOBALS,
    ) -> NTSTATUS;
    fn WdfVersionUnbind(
        RegistryPath: *const UNICODE_STRING,
        BindInfo: *mut WDF_BIND_INFO,
        ComponentGlobals: *mut WDF_DRIVER_GLOBALS,
    ) -> NTSTATUS;
}

// ---- Deferred load: BFE state and work items ----

#[link(name = "fwpkclnt.sys", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn FwpmBfeStateGet0() -> FWPM_SERVICE_STATE;
    fn FwpmBfeStateSubscribeChanges0(
        deviceObject: *mut DEVICE_OBJECT,
        callback: FWPM_SERVICE_STATE_CHANGE_CALLBACK0,
        context: *mut c_void,
        changeHandle: *mut HANDLE,
    ) -> NTSTATUS;
    fn FwpmBfeStateUnsubscribeChanges0(changeHandle: HANDLE) -> NTSTATUS;
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn IoAllocateWorkItem(DeviceObject: *mut DEVICE_OBJECT) -> PIO_WORKITEM;
    fn IoQueueWorkItem(
        IoWorkItem: PIO_WORKITEM,
        WorkerRoutine: IO_WORKITEM_ROUTINE,
        QueueType: WORK_QUEUE_TYPE,
        Context: *mut c_void,
    );
    fn IoFreeWorkItem(IoWorkItem: PIO_WORKITEM);
}

// ---- Power transitions: the \Callback\PowerState callback object ----

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn ExCreateCallback(
        CallbackObject: *mut PCALLBACK_OBJECT,
        ObjectAttributes: *const OBJECT_ATTRIBUTES,
        Create: BOOLEAN,
        AllowMultipleCallbacks: BOOLEAN,
    ) -> NTSTATUS;
    fn ExRegisterCallback(
        CallbackObject: PCALLBACK_OBJECT,
        CallbackFunction: CALLBACK_FUNCTION,
        CallbackContext: *mut c_void,
    ) -> *mut c_void;
    fn ExUnregisterCallback(CallbackRegistration: *mut c_void);
    fn ObfDereferenceObject(Object: *mut c_void) -> isize;
}

/// The running Windows kernel. Zero-sized: every method is a direct call to the import.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowsKernel;

impl KernelApi for WindowsKernel {
    #[inline(always)]
    fn ke_get_current_irql(&self) -> KIRQL {
        // SAFETY: KeGetCurrentIrql has no preconditions.
        unsafe { KeGetCurrentIrql() }
    }

    #[inline(always)]
    unsafe fn obf_reference_object(&self, object: *mut c_void) -> isize {
        // SAFETY: the caller's contract: a referenced object at IRQL <= DISPATCH_LEVEL.
        unsafe { ObfReferenceObject(object) }
    }

    #[inline(always)]
    fn ke_query_unbiased_interrupt_time(&self) -> u64 {
        // SAFETY: KeQueryUnbiasedInterruptTime has no preconditions (any IRQL).
        unsafe { KeQueryUnbiasedInterruptTime() }
    }

    #[inline(always)]
    unsafe fn ke_delay_execution_thread(
        &self,
        wait_mode: KPROCESSOR_MODE,
        alertable: BOOLEAN,
        interval: *const i64,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { KeDelayExecutionThread(wait_mode, alertable, interval) }
    }

    #[inline(always)]
    unsafe fn fwps_injection_handle_create0(
        &self,
        address_family: ADDRESS_FAMILY,
        flags: u32,
        handle: *mut HANDLE,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpsInjectionHandleCreate0(address_family, flags, handle) }
    }

    #[inline(always)]
    unsafe fn fwps_injection_handle_destroy0(&self, handle: HANDLE) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpsInjectionHandleDestroy0(handle) }
    }

    #[inline(always)]
    unsafe fn fwps_query_packet_injection_state0(
        &self,
        handle: HANDLE,
        nbl: *const NET_BUFFER_LIST,
        injection_context: *mut HANDLE,
    ) -> FWPS_PACKET_INJECTION_STATE {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpsQueryPacketInjectionState0(handle, nbl, injection_context) }
    }

    #[inline(always)]
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
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe {
            FwpsInjectTransportSendAsync0(
                handle,
                injection_context,
                endpoint_handle,
                flags,
                send_args,
                address_family,
                compartment_id,
                nbl,
                completion,
                completion_context,
            )
        }
    }

    #[inline(always)]
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
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe {
            FwpsInjectTransportReceiveAsync0(
                handle,
                injection_context,
                reserved,
                flags,
                address_family,
                compartment_id,
                interface_index,
                sub_interface_index,
                nbl,
                completion,
                completion_context,
            )
        }
    }

    #[inline(always)]
    unsafe fn fwps_inject_network_send_async0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        flags: u32,
        compartment_id: COMPARTMENT_ID,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe {
            FwpsInjectNetworkSendAsync0(
                handle,
                injection_context,
                flags,
                compartment_id,
                nbl,
                completion,
                completion_context,
            )
        }
    }

    #[inline(always)]
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
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe {
            FwpsInjectNetworkReceiveAsync0(
                handle,
                injection_context,
                flags,
                compartment_id,
                interface_index,
                sub_interface_index,
                nbl,
                completion,
                completion_context,
            )
        }
    }

    #[inline(always)]
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
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe {
            FwpsInjectForwardAsync0(
                handle,
                injection_context,
                flags,
                address_family,
                compartment_id,
                interface_index,
                nbl,
                completion,
                completion_context,
            )
        }
    }

    #[inline(always)]
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
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe {
            FwpsStreamInjectAsync0(
                handle,
                injection_context,
                flags,
                flow_id,
                callout_id,
                layer_id,
                stream_flags,
                nbl,
                data_length,
                completion,
                completion_context,
            )
        }
    }

    #[inline(always)]
    unsafe fn fwps_allocate_clone_net_buffer_list0(
        &self,
        original: *mut NET_BUFFER_LIST,
        nbl_pool: *mut c_void,
        nb_pool: *mut c_void,
        flags: u32,
        clone: *mut *mut NET_BUFFER_LIST,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpsAllocateCloneNetBufferList0(original, nbl_pool, nb_pool, flags, clone) }
    }

    #[inline(always)]
    unsafe fn fwps_free_clone_net_buffer_list0(&self, clone: *mut NET_BUFFER_LIST, flags: u32) {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpsFreeCloneNetBufferList0(clone, flags) }
    }

    #[inline(always)]
    unsafe fn ex_initialize_rundown_protection(&self, rundown: *mut EX_RUNDOWN_REF) {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ExInitializeRundownProtection(rundown) }
    }

    #[inline(always)]
    unsafe fn ex_acquire_rundown_protection(&self, rundown: *mut EX_RUNDOWN_REF) -> BOOLEAN {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ExAcquireRundownProtection(rundown) }
    }

    #[inline(always)]
    unsafe fn ex_release_rundown_protection(&self, rundown: *mut EX_RUNDOWN_REF) {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ExReleaseRundownProtection(rundown) }
    }

    #[inline(always)]
    unsafe fn ex_wait_for_rundown_protection_release(&self, rundown: *mut EX_RUNDOWN_REF) {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ExWaitForRundownProtectionRelease(rundown) }
    }

    #[inline(always)]
    unsafe fn ke_initialize_dpc(
        &self,
        dpc: *mut KDPC,
        routine: KDEFERRED_ROUTINE,
        context: *mut c_void,
    ) {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { KeInitializeDpc(dpc, routine, context) }
    }

    #[inline(always)]
    unsafe fn ke_insert_queue_dpc(
        &self,
        dpc: *mut KDPC,
        argument1: *mut c_void,
        argument2: *mut c_void,
    ) -> BOOLEAN {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { KeInsertQueueDpc(dpc, argument1, argument2) }
    }

    #[inline(always)]
    unsafe fn ke_flush_queued_dpcs(&self) {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { KeFlushQueuedDpcs() }
    }

    #[inline(always)]
    unsafe fn fwpm_engine_open0(
        &self,
        server_name: *const u16,
        authn_service: u32,
        auth_identity: *mut c_void,
        session: *const FWPM_SESSION0,
        engine: *mut HANDLE,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmEngineOpen0(server_name, authn_service, auth_identity, session, engine) }
    }

    #[inline(always)]
    unsafe fn fwpm_engine_close0(&self, engine: HANDLE) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmEngineClose0(engine) }
    }

    #[inline(always)]
    unsafe fn fwpm_transaction_begin0(&self, engine: HANDLE, flags: u32) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmTransactionBegin0(engine, flags) }
    }

    #[inline(always)]
    unsafe fn fwpm_transaction_commit0(&self, engine: HANDLE) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmTransactionCommit0(engine) }
    }

    #[inline(always)]
    unsafe fn fwpm_transaction_abort0(&self, engine: HANDLE) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmTransactionAbort0(engine) }
    }

    #[inline(always)]
    unsafe fn fwpm_provider_add0(
        &self,
        engine: HANDLE,
        provider: *const FWPM_PROVIDER0,
        security: *mut c_void,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmProviderAdd0(engine, provider, security) }
    }

    #[inline(always)]
    unsafe fn fwpm_provider_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmProviderDeleteByKey0(engine, key) }
    }

    #[inline(always)]
    unsafe fn fwpm_sub_layer_add0(
        &self,
        engine: HANDLE,
        sublayer: *const FWPM_SUBLAYER0,
        security: *mut c_void,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmSubLayerAdd0(engine, sublayer, security) }
    }

    #[inline(always)]
    unsafe fn fwpm_sub_layer_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmSubLayerDeleteByKey0(engine, key) }
    }

    #[inline(always)]
    unsafe fn fwpm_callout_add0(
        &self,
        engine: HANDLE,
        callout: *const FWPM_CALLOUT0,
        security: *mut c_void,
        id: *mut u32,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmCalloutAdd0(engine, callout, security, id) }
    }

    #[inline(always)]
    unsafe fn fwpm_callout_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmCalloutDeleteByKey0(engine, key) }
    }

    #[inline(always)]
    unsafe fn fwpm_filter_add0(
        &self,
        engine: HANDLE,
        filter: *const FWPM_FILTER0,
        security: *mut c_void,
        id: *mut u64,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmFilterAdd0(engine, filter, security, id) }
    }

    #[inline(always)]
    unsafe fn fwpm_filter_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmFilterDeleteByKey0(engine, key) }
    }

    #[inline(always)]
    unsafe fn fwps_callout_register1(
        &self,
        device: *mut DEVICE_OBJECT,
        callout: *const FWPS_CALLOUT1,
        id: *mut u32,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpsCalloutRegister1(device, callout, id) }
    }

    #[inline(always)]
    unsafe fn fwps_callout_unregister_by_id0(&self, id: u32) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpsCalloutUnregisterById0(id) }
    }

    #[inline(always)]
    unsafe fn ndis_retreat_net_buffer_data_start(
        &self,
        net_buffer: *mut NET_BUFFER,
        delta: u32,
        back_fill: u32,
        allocate_mdl: *mut c_void,
    ) -> NDIS_STATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { NdisRetreatNetBufferDataStart(net_buffer, delta, back_fill, allocate_mdl) }
    }

    #[inline(always)]
    unsafe fn ndis_advance_net_buffer_data_start(
        &self,
        net_buffer: *mut NET_BUFFER,
        delta: u32,
        free_mdl: BOOLEAN,
        free_mdl_handler: *mut c_void,
    ) {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { NdisAdvanceNetBufferDataStart(net_buffer, delta, free_mdl, free_mdl_handler) }
    }

    #[inline(always)]
    unsafe fn ndis_get_data_buffer(
        &self,
        net_buffer: *mut NET_BUFFER,
        bytes: u32,
        storage: *mut c_void,
        align_multiple: u32,
        align_offset: u32,
    ) -> *mut c_void {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { NdisGetDataBuffer(net_buffer, bytes, storage, align_multiple, align_offset) }
    }

    #[inline(always)]
    unsafe fn zw_open_key(
        &self,
        key: *mut HANDLE,
        access: ACCESS_MASK,
        attributes: *const OBJECT_ATTRIBUTES,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ZwOpenKey(key, access, attributes) }
    }

    #[inline(always)]
    unsafe fn zw_query_value_key(
        &self,
        key: HANDLE,
        name: *const UNICODE_STRING,
        class: u32,
        buffer: *mut c_void,
        length: u32,
        result_length: *mut u32,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ZwQueryValueKey(key, name, class, buffer, length, result_length) }
    }

    #[inline(always)]
    unsafe fn zw_close(&self, handle: HANDLE) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ZwClose(handle) }
    }

    #[inline(always)]
    unsafe fn dbg_print_ex(&self, component: u32, level: u32, text: *const u8) -> u32 {
        // SAFETY: the format is a NUL-terminated "%s" with one string argument, which the caller
        // guarantees is NUL-terminated.
        unsafe { DbgPrintEx(component, level, c"%s".as_ptr().cast(), text) }
    }

    // ---- Reinjection rules. ----

    #[inline(always)]
    unsafe fn fwps_get_packet_list_security_information0(
        &self,
        packet_list: *mut NET_BUFFER_LIST,
        query_flags: u32,
        information: *mut super::types::FWPS_PACKET_LIST_INFORMATION0,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpsGetPacketListSecurityInformation0(packet_list, query_flags, information) }
    }

    // ---- Deferred load ----

    #[inline(always)]
    unsafe fn fwpm_bfe_state_get0(&self) -> FWPM_SERVICE_STATE {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmBfeStateGet0() }
    }

    #[inline(always)]
    unsafe fn fwpm_bfe_state_subscribe_changes0(
        &self,
        device: *mut DEVICE_OBJECT,
        callback: FWPM_SERVICE_STATE_CHANGE_CALLBACK0,
        context: *mut c_void,
        handle: *mut HANDLE,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmBfeStateSubscribeChanges0(device, callback, context, handle) }
    }

    #[inline(always)]
    unsafe fn fwpm_bfe_state_unsubscribe_changes0(&self, handle: HANDLE) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { FwpmBfeStateUnsubscribeChanges0(handle) }
    }

    #[inline(always)]
    unsafe fn io_allocate_work_item(&self, device: *mut DEVICE_OBJECT) -> PIO_WORKITEM {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { IoAllocateWorkItem(device) }
    }

    #[inline(always)]
    unsafe fn io_queue_work_item(
        &self,
        item: PIO_WORKITEM,
        routine: IO_WORKITEM_ROUTINE,
        queue: WORK_QUEUE_TYPE,
        context: *mut c_void,
    ) {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { IoQueueWorkItem(item, routine, queue, context) }
    }

    #[inline(always)]
    unsafe fn io_free_work_item(&self, item: PIO_WORKITEM) {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { IoFreeWorkItem(item) }
    }

    #[inline(always)]
    unsafe fn ex_create_callback(
        &self,
        object: *mut PCALLBACK_OBJECT,
        attributes: *const OBJECT_ATTRIBUTES,
        create: BOOLEAN,
        allow_multiple_callbacks: BOOLEAN,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ExCreateCallback(object, attributes, create, allow_multiple_callbacks) }
    }

    #[inline(always)]
    unsafe fn ex_register_callback(
        &self,
        object: PCALLBACK_OBJECT,
        function: CALLBACK_FUNCTION,
        context: *mut c_void,
    ) -> *mut c_void {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ExRegisterCallback(object, function, context) }
    }

    #[inline(always)]
    unsafe fn ex_unregister_callback(&self, registration: *mut c_void) {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ExUnregisterCallback(registration) }
    }

    #[inline(always)]
    unsafe fn obf_dereference_object(&self, object: *mut c_void) -> isize {
        // SAFETY: the caller upholds the trait method's contract, which is the export's.
        unsafe { ObfDereferenceObject(object) }
    }
}

/// Kernel services only the entry shells and the image runtime use; not part of [`KernelApi`]
/// because the safe layer never needs them.
impl WindowsKernel {
    /// `ExAllocatePool2`: null on failure, 16-byte aligned on x64.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL for non-paged pool.
    pub unsafe fn ex_allocate_pool2(flags: POOL_FLAGS, bytes: usize, tag: u32) -> *mut c_void {
        // SAFETY: the caller upholds the export's contract, restated above.
        unsafe { ExAllocatePool2(flags, bytes, tag) }
    }

    /// `ExFreePoolWithTag`.
    ///
    /// # Safety
    /// `block` came from [`Self::ex_allocate_pool2`] with the same `tag` and is freed once;
    /// IRQL <= DISPATCH_LEVEL.
    pub unsafe fn ex_free_pool_with_tag(block: *mut c_void, tag: u32) {
        // SAFETY: the caller upholds the export's contract, restated above.
        unsafe { ExFreePoolWithTag(block, tag) }
    }

    /// `KeBugCheckEx`: stops the machine with a crash dump. Never returns.
    pub fn ke_bug_check_ex(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> ! {
        // SAFETY: KeBugCheckEx may be called at any IRQL with any parameters.
        unsafe { KeBugCheckEx(code, p1, p2, p3, p4) }
    }
}

// The loader calls of the Linux-built image's own FxDriverEntry.
#[cfg(not(feature = "wdk"))]
impl WindowsKernel {
    /// `WdfVersionBind` (wdfldr.sys).
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL, in the image's entry; `driver` and `registry_path` are the I/O
    /// manager's; `info` is the image's bind information, writable and alive until unbind;
    /// `globals` is writable.
    pub unsafe fn wdf_version_bind(
        driver: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
        info: *mut WDF_BIND_INFO,
        globals: *mut *mut WDF_DRIVER_GLOBALS,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the export's contract, restated above.
        unsafe { WdfVersionBind(driver, registry_path, info, globals) }
    }

    /// `WdfVersionUnbind` (wdfldr.sys).
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `info` and `globals` are those of a successful bind, unbound once.
    pub unsafe fn wdf_version_unbind(
        registry_path: *const UNICODE_STRING,
        info: *mut WDF_BIND_INFO,
        globals: *mut WDF_DRIVER_GLOBALS,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the export's contract, restated above.
        unsafe { WdfVersionUnbind(registry_path, info, globals) }
    }
}
