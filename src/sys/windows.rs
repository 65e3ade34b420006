//! The kernel implementation of the seam: imports resolved by the Windows loader.
//!
//! `raw-dylib` lets any host link the image without the WDK's import libraries; `+verbatim` keeps
//! the module names exactly as written (otherwise `fwpkclnt.sys` would become `fwpkclnt.sys.dll`).

use core::ffi::c_void;

use super::KernelApi;
use super::types::{
    ADDRESS_FAMILY, BOOLEAN, COMPARTMENT_ID, DEVICE_OBJECT, DRIVER_OBJECT, EX_RUNDOWN_REF,
    FWPS_INJECT_COMPLETE0, FWPS_PACKET_INJECTION_STATE, FWPS_TRANSPORT_SEND_PARAMS0, HANDLE,
    IF_INDEX, KDEFERRED_ROUTINE, KDPC, KIRQL, KPROCESSOR_MODE, NET_BUFFER_LIST, NTSTATUS,
    POOL_FLAGS, UNICODE_STRING,
};

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
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn KeGetCurrentIrql() -> KIRQL;
    fn KeDelayExecutionThread(
        WaitMode: KPROCESSOR_MODE,
        Alertable: BOOLEAN,
        Interval: *const i64,
    ) -> NTSTATUS;
    fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> !;
    fn ExAllocatePool2(Flags: POOL_FLAGS, NumberOfBytes: usize, Tag: u32) -> *mut c_void;
    fn ExFreePoolWithTag(P: *mut c_void, Tag: u32);
    fn IoCreateDevice(
        DriverObject: *mut DRIVER_OBJECT,
        DeviceExtensionSize: u32,
        DeviceName: *const UNICODE_STRING,
        DeviceType: u32,
        DeviceCharacteristics: u32,
        Exclusive: BOOLEAN,
        DeviceObject: *mut *mut DEVICE_OBJECT,
    ) -> NTSTATUS;
    fn IoDeleteDevice(DeviceObject: *mut DEVICE_OBJECT);
    fn ExInitializeRundownProtection(RunRef: *mut EX_RUNDOWN_REF);
    fn ExAcquireRundownProtection(RunRef: *mut EX_RUNDOWN_REF) -> BOOLEAN;
    fn ExReleaseRundownProtection(RunRef: *mut EX_RUNDOWN_REF);
    fn ExWaitForRundownProtectionRelease(RunRef: *mut EX_RUNDOWN_REF);
    fn KeFlushQueuedDpcs();
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
}

/// Kernel services only the entry shells and the image runtime use; not part of [`KernelApi`]
/// because the safe layer never needs them.
impl WindowsKernel {
    /// `IoCreateDevice`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `driver` is the driver object passed to DriverEntry; `name` is null
    /// or a valid string; `device` is writable.
    pub unsafe fn io_create_device(
        driver: *mut DRIVER_OBJECT,
        extension_size: u32,
        name: *const UNICODE_STRING,
        device_type: u32,
        characteristics: u32,
        exclusive: BOOLEAN,
        device: *mut *mut DEVICE_OBJECT,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the export's contract, restated above.
        unsafe {
            IoCreateDevice(
                driver,
                extension_size,
                name,
                device_type,
                characteristics,
                exclusive,
                device,
            )
        }
    }

    /// `IoDeleteDevice`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `device` came from [`Self::io_create_device`] and is deleted once.
    pub unsafe fn io_delete_device(device: *mut DEVICE_OBJECT) {
        // SAFETY: the caller upholds the export's contract, restated above.
        unsafe { IoDeleteDevice(device) }
    }

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
