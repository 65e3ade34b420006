//! The simulated stack's second way in: one `extern "win64"` function per kernel import of the
//! driver image, each forwarding to the same simulated stack the host-compiled tests call
//! through `KernelApi`. No semantics live here. Written from crates/seam/src/sys/windows.rs's declarations;
//! a missing shim fails the image's mapping and names the import.

#![allow(
    non_snake_case,
    clippy::too_many_arguments,
    clippy::missing_safety_doc,
    dead_code
)]

use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, MutexGuard};

use wfp_injector::sys::KernelApi;
use wfp_injector::sys::types::*;
use wfp_sim::SimulatedStack;

static CURRENT: AtomicPtr<SimulatedStack> = AtomicPtr::new(std::ptr::null_mut());
/// One image runs at a time: the shims reach the stack through one global.
static SERIAL: Mutex<()> = Mutex::new(());

/// The stack the shims forward to while this guard lives.
pub struct Bound<'a> {
    _serial: MutexGuard<'static, ()>,
    _stack: std::marker::PhantomData<&'a SimulatedStack>,
}

/// Makes `stack` the one the shims forward to until the guard drops.
pub fn bind(stack: &SimulatedStack) -> Bound<'_> {
    let serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    CURRENT.store(std::ptr::from_ref(stack).cast_mut(), Ordering::Release);
    Bound {
        _serial: serial,
        _stack: std::marker::PhantomData,
    }
}

impl Drop for Bound<'_> {
    fn drop(&mut self) {
        CURRENT.store(std::ptr::null_mut(), Ordering::Release);
    }
}

fn stack() -> &'static SimulatedStack {
    let current = CURRENT.load(Ordering::Acquire);
    if current.is_null() {
        eprintln!("a kernel import was called with no simulated stack bound");
        std::process::abort();
    }
    // SAFETY: `bind` keeps the stack alive and bound while the image runs.
    unsafe { &*current }
}

unsafe extern "win64" fn FwpsInjectionHandleCreate0(
    addressFamily: ADDRESS_FAMILY,
    flags: u32,
    injectionHandle: *mut HANDLE,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwps_injection_handle_create0(addressFamily, flags, injectionHandle) }
}

unsafe extern "win64" fn FwpsInjectionHandleDestroy0(injectionHandle: HANDLE) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwps_injection_handle_destroy0(injectionHandle) }
}

unsafe extern "win64" fn FwpsQueryPacketInjectionState0(
    injectionHandle: HANDLE,
    netBufferList: *const NET_BUFFER_LIST,
    injectionContext: *mut HANDLE,
) -> FWPS_PACKET_INJECTION_STATE {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwps_query_packet_injection_state0(
            injectionHandle,
            netBufferList,
            injectionContext,
        )
    }
}

unsafe extern "win64" fn FwpsInjectTransportSendAsync0(
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
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwps_inject_transport_send_async0(
            injectionHandle,
            injectionContext,
            endpointHandle,
            flags,
            sendArgs,
            addressFamily,
            compartmentId,
            netBufferList,
            completionFn,
            completionContext,
        )
    }
}

unsafe extern "win64" fn FwpsInjectTransportReceiveAsync0(
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
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwps_inject_transport_receive_async0(
            injectionHandle,
            injectionContext,
            reserved,
            flags,
            addressFamily,
            compartmentId,
            interfaceIndex,
            subInterfaceIndex,
            netBufferList,
            completionFn,
            completionContext,
        )
    }
}

unsafe extern "win64" fn FwpsInjectNetworkSendAsync0(
    injectionHandle: HANDLE,
    injectionContext: HANDLE,
    flags: u32,
    compartmentId: COMPARTMENT_ID,
    netBufferList: *mut NET_BUFFER_LIST,
    completionFn: FWPS_INJECT_COMPLETE0,
    completionContext: *mut c_void,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwps_inject_network_send_async0(
            injectionHandle,
            injectionContext,
            flags,
            compartmentId,
            netBufferList,
            completionFn,
            completionContext,
        )
    }
}

unsafe extern "win64" fn FwpsInjectNetworkReceiveAsync0(
    injectionHandle: HANDLE,
    injectionContext: HANDLE,
    flags: u32,
    compartmentId: COMPARTMENT_ID,
    interfaceIndex: IF_INDEX,
    subInterfaceIndex: IF_INDEX,
    netBufferList: *mut NET_BUFFER_LIST,
    completionFn: FWPS_INJECT_COMPLETE0,
    completionContext: *mut c_void,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwps_inject_network_receive_async0(
            injectionHandle,
            injectionContext,
            flags,
            compartmentId,
            interfaceIndex,
            subInterfaceIndex,
            netBufferList,
            completionFn,
            completionContext,
        )
    }
}

unsafe extern "win64" fn FwpsInjectForwardAsync0(
    injectionHandle: HANDLE,
    injectionContext: HANDLE,
    flags: u32,
    addressFamily: ADDRESS_FAMILY,
    compartmentId: COMPARTMENT_ID,
    interfaceIndex: IF_INDEX,
    netBufferList: *mut NET_BUFFER_LIST,
    completionFn: FWPS_INJECT_COMPLETE0,
    completionContext: *mut c_void,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwps_inject_forward_async0(
            injectionHandle,
            injectionContext,
            flags,
            addressFamily,
            compartmentId,
            interfaceIndex,
            netBufferList,
            completionFn,
            completionContext,
        )
    }
}

unsafe extern "win64" fn FwpsStreamInjectAsync0(
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
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwps_stream_inject_async0(
            injectionHandle,
            injectionContext,
            flags,
            flowId,
            calloutId,
            layerId,
            streamFlags,
            netBufferList,
            dataLength,
            completionFn,
            completionContext,
        )
    }
}

unsafe extern "win64" fn FwpsAllocateCloneNetBufferList0(
    originalNetBufferList: *mut NET_BUFFER_LIST,
    netBufferListPoolHandle: *mut c_void,
    netBufferPoolHandle: *mut c_void,
    allocateCloneFlags: u32,
    netBufferList: *mut *mut NET_BUFFER_LIST,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwps_allocate_clone_net_buffer_list0(
            originalNetBufferList,
            netBufferListPoolHandle,
            netBufferPoolHandle,
            allocateCloneFlags,
            netBufferList,
        )
    }
}

unsafe extern "win64" fn FwpsFreeCloneNetBufferList0(
    netBufferList: *mut NET_BUFFER_LIST,
    freeCloneFlags: u32,
) {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwps_free_clone_net_buffer_list0(netBufferList, freeCloneFlags) }
}

unsafe extern "win64" fn FwpmEngineOpen0(
    serverName: *const u16,
    authnService: u32,
    authIdentity: *mut c_void,
    session: *const FWPM_SESSION0,
    engineHandle: *mut HANDLE,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwpm_engine_open0(
            serverName,
            authnService,
            authIdentity,
            session,
            engineHandle,
        )
    }
}

unsafe extern "win64" fn FwpmEngineClose0(engineHandle: HANDLE) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_engine_close0(engineHandle) }
}

unsafe extern "win64" fn FwpmTransactionBegin0(engineHandle: HANDLE, flags: u32) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_transaction_begin0(engineHandle, flags) }
}

unsafe extern "win64" fn FwpmTransactionCommit0(engineHandle: HANDLE) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_transaction_commit0(engineHandle) }
}

unsafe extern "win64" fn FwpmTransactionAbort0(engineHandle: HANDLE) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_transaction_abort0(engineHandle) }
}

unsafe extern "win64" fn FwpmProviderAdd0(
    engineHandle: HANDLE,
    provider: *const FWPM_PROVIDER0,
    sd: *mut c_void,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_provider_add0(engineHandle, provider, sd) }
}

unsafe extern "win64" fn FwpmProviderDeleteByKey0(
    engineHandle: HANDLE,
    key: *const GUID,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_provider_delete_by_key0(engineHandle, key) }
}

unsafe extern "win64" fn FwpmSubLayerAdd0(
    engineHandle: HANDLE,
    subLayer: *const FWPM_SUBLAYER0,
    sd: *mut c_void,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_sub_layer_add0(engineHandle, subLayer, sd) }
}

unsafe extern "win64" fn FwpmSubLayerDeleteByKey0(
    engineHandle: HANDLE,
    key: *const GUID,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_sub_layer_delete_by_key0(engineHandle, key) }
}

unsafe extern "win64" fn FwpmCalloutAdd0(
    engineHandle: HANDLE,
    callout: *const FWPM_CALLOUT0,
    sd: *mut c_void,
    id: *mut u32,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_callout_add0(engineHandle, callout, sd, id) }
}

unsafe extern "win64" fn FwpmCalloutDeleteByKey0(
    engineHandle: HANDLE,
    key: *const GUID,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_callout_delete_by_key0(engineHandle, key) }
}

unsafe extern "win64" fn FwpmFilterAdd0(
    engineHandle: HANDLE,
    filter: *const FWPM_FILTER0,
    sd: *mut c_void,
    id: *mut u64,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_filter_add0(engineHandle, filter, sd, id) }
}

unsafe extern "win64" fn FwpmFilterDeleteByKey0(
    engineHandle: HANDLE,
    key: *const GUID,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_filter_delete_by_key0(engineHandle, key) }
}

unsafe extern "win64" fn FwpsCalloutRegister1(
    deviceObject: *mut DEVICE_OBJECT,
    callout: *const FWPS_CALLOUT1,
    calloutId: *mut u32,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwps_callout_register1(deviceObject, callout, calloutId) }
}

unsafe extern "win64" fn FwpsCalloutUnregisterById0(calloutId: u32) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwps_callout_unregister_by_id0(calloutId) }
}

unsafe extern "win64" fn NdisRetreatNetBufferDataStart(
    NetBuffer: *mut NET_BUFFER,
    DataOffsetDelta: u32,
    DataBackFill: u32,
    AllocateMdlHandler: *mut c_void,
) -> NDIS_STATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).ndis_retreat_net_buffer_data_start(
            NetBuffer,
            DataOffsetDelta,
            DataBackFill,
            AllocateMdlHandler,
        )
    }
}

unsafe extern "win64" fn NdisAdvanceNetBufferDataStart(
    NetBuffer: *mut NET_BUFFER,
    DataOffsetDelta: u32,
    FreeMdl: BOOLEAN,
    FreeMdlHandler: *mut c_void,
) {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).ndis_advance_net_buffer_data_start(
            NetBuffer,
            DataOffsetDelta,
            FreeMdl,
            FreeMdlHandler,
        )
    }
}

unsafe extern "win64" fn NdisGetDataBuffer(
    NetBuffer: *mut NET_BUFFER,
    BytesNeeded: u32,
    Storage: *mut c_void,
    AlignMultiple: u32,
    AlignOffset: u32,
) -> *mut c_void {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).ndis_get_data_buffer(NetBuffer, BytesNeeded, Storage, AlignMultiple, AlignOffset)
    }
}

// Reinjection rules.
unsafe extern "win64" fn FwpsGetPacketListSecurityInformation0(
    packetList: *mut NET_BUFFER_LIST,
    queryFlags: u32,
    packetInformation: *mut FWPS_PACKET_LIST_INFORMATION0,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwps_get_packet_list_security_information0(
            packetList,
            queryFlags,
            packetInformation,
        )
    }
}

unsafe extern "win64" fn KeGetCurrentIrql() -> KIRQL {
    (&stack()).ke_get_current_irql()
}

unsafe extern "win64" fn KeQueryUnbiasedInterruptTime() -> u64 {
    (&stack()).ke_query_unbiased_interrupt_time()
}

unsafe extern "win64" fn ObfReferenceObject(Object: *mut c_void) -> isize {
    // SAFETY: forwarded under the same contract.
    unsafe { (&stack()).obf_reference_object(Object) }
}

unsafe extern "win64" fn KeDelayExecutionThread(
    WaitMode: KPROCESSOR_MODE,
    Alertable: BOOLEAN,
    Interval: *const i64,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).ke_delay_execution_thread(WaitMode, Alertable, Interval) }
}

unsafe extern "win64" fn ExInitializeRundownProtection(RunRef: *mut EX_RUNDOWN_REF) {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).ex_initialize_rundown_protection(RunRef) }
}

unsafe extern "win64" fn ExAcquireRundownProtection(RunRef: *mut EX_RUNDOWN_REF) -> BOOLEAN {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).ex_acquire_rundown_protection(RunRef) }
}

unsafe extern "win64" fn ExReleaseRundownProtection(RunRef: *mut EX_RUNDOWN_REF) {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).ex_release_rundown_protection(RunRef) }
}

unsafe extern "win64" fn ExWaitForRundownProtectionRelease(RunRef: *mut EX_RUNDOWN_REF) {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).ex_wait_for_rundown_protection_release(RunRef) }
}

unsafe extern "win64" fn KeFlushQueuedDpcs() {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).ke_flush_queued_dpcs() }
}

unsafe extern "win64" fn ZwOpenKey(
    KeyHandle: *mut HANDLE,
    DesiredAccess: ACCESS_MASK,
    ObjectAttributes: *const OBJECT_ATTRIBUTES,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).zw_open_key(KeyHandle, DesiredAccess, ObjectAttributes) }
}

unsafe extern "win64" fn ZwQueryValueKey(
    KeyHandle: HANDLE,
    ValueName: *const UNICODE_STRING,
    KeyValueInformationClass: u32,
    KeyValueInformation: *mut c_void,
    Length: u32,
    ResultLength: *mut u32,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).zw_query_value_key(
            KeyHandle,
            ValueName,
            KeyValueInformationClass,
            KeyValueInformation,
            Length,
            ResultLength,
        )
    }
}

unsafe extern "win64" fn ZwClose(Handle: HANDLE) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).zw_close(Handle) }
}

unsafe extern "win64" fn KeInitializeDpc(
    Dpc: *mut KDPC,
    DeferredRoutine: KDEFERRED_ROUTINE,
    DeferredContext: *mut c_void,
) {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).ke_initialize_dpc(Dpc, DeferredRoutine, DeferredContext) }
}

unsafe extern "win64" fn KeInsertQueueDpc(
    Dpc: *mut KDPC,
    SystemArgument1: *mut c_void,
    SystemArgument2: *mut c_void,
) -> BOOLEAN {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).ke_insert_queue_dpc(Dpc, SystemArgument1, SystemArgument2) }
}

unsafe extern "win64" fn ExAllocatePool2(
    Flags: POOL_FLAGS,
    NumberOfBytes: usize,
    Tag: u32,
) -> *mut c_void {
    stack().pool_allocate(Flags, NumberOfBytes, Tag)
}

unsafe extern "win64" fn ExFreePoolWithTag(P: *mut c_void, Tag: u32) {
    stack().pool_free(P, Tag)
}

unsafe extern "win64" fn IoCreateDevice(
    DriverObject: *mut DRIVER_OBJECT,
    _DeviceExtensionSize: u32,
    DeviceName: *const UNICODE_STRING,
    _DeviceType: u32,
    _DeviceCharacteristics: u32,
    _Exclusive: BOOLEAN,
    DeviceObject: *mut *mut DEVICE_OBJECT,
) -> NTSTATUS {
    // SAFETY: IoCreateDevice's contract: `DeviceObject` is writable.
    unsafe { stack().create_device(DriverObject, DeviceName, DeviceObject) }
}

unsafe extern "win64" fn IoDeleteDevice(DeviceObject: *mut DEVICE_OBJECT) {
    stack().delete_device(DeviceObject)
}

unsafe extern "win64" fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> ! {
    stack().record_bugcheck(code, [p1, p2, p3, p4]);
    eprintln!("driver image bugchecked: code {code:#010x} ({p1:#x}, {p2:#x}, {p3:#x}, {p4:#x})");
    // A bugcheck does not return, and unwinding through the image's frames is impossible.
    std::process::abort()
}

/// DbgPrintEx as the image calls it: the format is always "%s" followed by one string.
unsafe extern "win64" fn DbgPrintEx(
    ComponentId: u32,
    Level: u32,
    Format: *const u8,
    Text: *const u8,
) -> u32 {
    // SAFETY: the image passes a NUL-terminated format.
    let format = unsafe { std::ffi::CStr::from_ptr(Format.cast()) };
    if format.to_bytes() != b"%s" {
        eprintln!("the image passed a format other than %s: {format:?}");
        std::process::abort();
    }
    // SAFETY: the image's contract with "%s": a NUL-terminated string.
    unsafe { (&stack()).dbg_print_ex(ComponentId, Level, Text) }
}

// ---- Deferred load: BFE state and work items ----

unsafe extern "win64" fn FwpmBfeStateGet0() -> FWPM_SERVICE_STATE {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_bfe_state_get0() }
}

unsafe extern "win64" fn FwpmBfeStateSubscribeChanges0(
    deviceObject: *mut DEVICE_OBJECT,
    callback: FWPM_SERVICE_STATE_CHANGE_CALLBACK0,
    context: *mut c_void,
    changeHandle: *mut HANDLE,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).fwpm_bfe_state_subscribe_changes0(deviceObject, callback, context, changeHandle)
    }
}

unsafe extern "win64" fn FwpmBfeStateUnsubscribeChanges0(changeHandle: HANDLE) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).fwpm_bfe_state_unsubscribe_changes0(changeHandle) }
}

unsafe extern "win64" fn IoAllocateWorkItem(DeviceObject: *mut DEVICE_OBJECT) -> PIO_WORKITEM {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).io_allocate_work_item(DeviceObject) }
}

unsafe extern "win64" fn IoQueueWorkItem(
    IoWorkItem: PIO_WORKITEM,
    WorkerRoutine: IO_WORKITEM_ROUTINE,
    QueueType: WORK_QUEUE_TYPE,
    Context: *mut c_void,
) {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).io_queue_work_item(IoWorkItem, WorkerRoutine, QueueType, Context) }
}

unsafe extern "win64" fn IoFreeWorkItem(IoWorkItem: PIO_WORKITEM) {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).io_free_work_item(IoWorkItem) }
}

unsafe extern "win64" fn ExCreateCallback(
    CallbackObject: *mut PCALLBACK_OBJECT,
    ObjectAttributes: *const OBJECT_ATTRIBUTES,
    Create: BOOLEAN,
    AllowMultipleCallbacks: BOOLEAN,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe {
        (&stack()).ex_create_callback(
            CallbackObject,
            ObjectAttributes,
            Create,
            AllowMultipleCallbacks,
        )
    }
}

unsafe extern "win64" fn ExRegisterCallback(
    CallbackObject: PCALLBACK_OBJECT,
    CallbackFunction: CALLBACK_FUNCTION,
    CallbackContext: *mut c_void,
) -> *mut c_void {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).ex_register_callback(CallbackObject, CallbackFunction, CallbackContext) }
}

unsafe extern "win64" fn ExUnregisterCallback(CallbackRegistration: *mut c_void) {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).ex_unregister_callback(CallbackRegistration) }
}

unsafe extern "win64" fn ObfDereferenceObject(Object: *mut c_void) -> isize {
    // SAFETY: the image calls with the export's contract, which is the trait method's.
    unsafe { (&stack()).obf_dereference_object(Object) }
}

/// The deferred load's imports, and the power transitions'.
fn resolve_deferred_load(module: &str, name: &str) -> Option<usize> {
    let address = match (module, name) {
        ("fwpkclnt.sys", "FwpmBfeStateGet0") => FwpmBfeStateGet0 as *const () as usize,
        ("fwpkclnt.sys", "FwpmBfeStateSubscribeChanges0") => {
            FwpmBfeStateSubscribeChanges0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpmBfeStateUnsubscribeChanges0") => {
            FwpmBfeStateUnsubscribeChanges0 as *const () as usize
        }
        ("ntoskrnl.exe", "IoAllocateWorkItem") => IoAllocateWorkItem as *const () as usize,
        ("ntoskrnl.exe", "IoQueueWorkItem") => IoQueueWorkItem as *const () as usize,
        ("ntoskrnl.exe", "IoFreeWorkItem") => IoFreeWorkItem as *const () as usize,
        ("ntoskrnl.exe", "ExCreateCallback") => ExCreateCallback as *const () as usize,
        ("ntoskrnl.exe", "ExRegisterCallback") => ExRegisterCallback as *const () as usize,
        ("ntoskrnl.exe", "ExUnregisterCallback") => ExUnregisterCallback as *const () as usize,
        ("ntoskrnl.exe", "ObfDereferenceObject") => ObfDereferenceObject as *const () as usize,
        _ => return None,
    };
    Some(address)
}

/// The shim for `module!name`, as an address to write into the image's import table.
pub fn resolve(module: &str, name: &str) -> Option<usize> {
    let address = match (module.to_ascii_lowercase().as_str(), name) {
        ("fwpkclnt.sys", "FwpsInjectionHandleCreate0") => {
            FwpsInjectionHandleCreate0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpsInjectionHandleDestroy0") => {
            FwpsInjectionHandleDestroy0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpsQueryPacketInjectionState0") => {
            FwpsQueryPacketInjectionState0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpsInjectTransportSendAsync0") => {
            FwpsInjectTransportSendAsync0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpsInjectTransportReceiveAsync0") => {
            FwpsInjectTransportReceiveAsync0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpsInjectNetworkSendAsync0") => {
            FwpsInjectNetworkSendAsync0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpsInjectNetworkReceiveAsync0") => {
            FwpsInjectNetworkReceiveAsync0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpsInjectForwardAsync0") => {
            FwpsInjectForwardAsync0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpsStreamInjectAsync0") => FwpsStreamInjectAsync0 as *const () as usize,
        ("fwpkclnt.sys", "FwpsAllocateCloneNetBufferList0") => {
            FwpsAllocateCloneNetBufferList0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpsFreeCloneNetBufferList0") => {
            FwpsFreeCloneNetBufferList0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpmEngineOpen0") => FwpmEngineOpen0 as *const () as usize,
        ("fwpkclnt.sys", "FwpmEngineClose0") => FwpmEngineClose0 as *const () as usize,
        ("fwpkclnt.sys", "FwpmTransactionBegin0") => FwpmTransactionBegin0 as *const () as usize,
        ("fwpkclnt.sys", "FwpmTransactionCommit0") => FwpmTransactionCommit0 as *const () as usize,
        ("fwpkclnt.sys", "FwpmTransactionAbort0") => FwpmTransactionAbort0 as *const () as usize,
        ("fwpkclnt.sys", "FwpmProviderAdd0") => FwpmProviderAdd0 as *const () as usize,
        ("fwpkclnt.sys", "FwpmProviderDeleteByKey0") => {
            FwpmProviderDeleteByKey0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpmSubLayerAdd0") => FwpmSubLayerAdd0 as *const () as usize,
        ("fwpkclnt.sys", "FwpmSubLayerDeleteByKey0") => {
            FwpmSubLayerDeleteByKey0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpmCalloutAdd0") => FwpmCalloutAdd0 as *const () as usize,
        ("fwpkclnt.sys", "FwpmCalloutDeleteByKey0") => {
            FwpmCalloutDeleteByKey0 as *const () as usize
        }
        ("fwpkclnt.sys", "FwpmFilterAdd0") => FwpmFilterAdd0 as *const () as usize,
        ("fwpkclnt.sys", "FwpmFilterDeleteByKey0") => FwpmFilterDeleteByKey0 as *const () as usize,
        ("fwpkclnt.sys", "FwpsCalloutRegister1") => FwpsCalloutRegister1 as *const () as usize,
        ("fwpkclnt.sys", "FwpsCalloutUnregisterById0") => {
            FwpsCalloutUnregisterById0 as *const () as usize
        }
        ("ndis.sys", "NdisRetreatNetBufferDataStart") => {
            NdisRetreatNetBufferDataStart as *const () as usize
        }
        ("ndis.sys", "NdisAdvanceNetBufferDataStart") => {
            NdisAdvanceNetBufferDataStart as *const () as usize
        }
        ("ndis.sys", "NdisGetDataBuffer") => NdisGetDataBuffer as *const () as usize,
        ("ntoskrnl.exe", "KeGetCurrentIrql") => KeGetCurrentIrql as *const () as usize,
        ("ntoskrnl.exe", "ObfReferenceObject") => ObfReferenceObject as *const () as usize,
        ("ntoskrnl.exe", "KeQueryUnbiasedInterruptTime") => {
            KeQueryUnbiasedInterruptTime as *const () as usize
        }
        ("ntoskrnl.exe", "KeDelayExecutionThread") => KeDelayExecutionThread as *const () as usize,
        ("ntoskrnl.exe", "KeBugCheckEx") => KeBugCheckEx as *const () as usize,
        ("ntoskrnl.exe", "ExAllocatePool2") => ExAllocatePool2 as *const () as usize,
        ("ntoskrnl.exe", "ExFreePoolWithTag") => ExFreePoolWithTag as *const () as usize,
        ("ntoskrnl.exe", "IoCreateDevice") => IoCreateDevice as *const () as usize,
        ("ntoskrnl.exe", "IoDeleteDevice") => IoDeleteDevice as *const () as usize,
        ("ntoskrnl.exe", "ExInitializeRundownProtection") => {
            ExInitializeRundownProtection as *const () as usize
        }
        ("ntoskrnl.exe", "ExAcquireRundownProtection") => {
            ExAcquireRundownProtection as *const () as usize
        }
        ("ntoskrnl.exe", "ExReleaseRundownProtection") => {
            ExReleaseRundownProtection as *const () as usize
        }
        ("ntoskrnl.exe", "ExWaitForRundownProtectionRelease") => {
            ExWaitForRundownProtectionRelease as *const () as usize
        }
        ("ntoskrnl.exe", "KeFlushQueuedDpcs") => KeFlushQueuedDpcs as *const () as usize,
        ("ntoskrnl.exe", "ZwOpenKey") => ZwOpenKey as *const () as usize,
        ("ntoskrnl.exe", "ZwQueryValueKey") => ZwQueryValueKey as *const () as usize,
        ("ntoskrnl.exe", "ZwClose") => ZwClose as *const () as usize,
        ("ntoskrnl.exe", "DbgPrintEx") => DbgPrintEx as *const () as usize,
        ("ntoskrnl.exe", "KeInitializeDpc") => KeInitializeDpc as *const () as usize,
        ("ntoskrnl.exe", "KeInsertQueueDpc") => KeInsertQueueDpc as *const () as usize,
        // Wdfldr.sys, the framework loader.
        ("wdfldr.sys", "WdfVersionBind") => WdfVersionBind as *const () as usize,
        ("wdfldr.sys", "WdfVersionUnbind") => WdfVersionUnbind as *const () as usize,
        // Reinjection rules.
        ("fwpkclnt.sys", "FwpsGetPacketListSecurityInformation0") => {
            FwpsGetPacketListSecurityInformation0 as *const () as usize
        }
        (module, name) => return resolve_deferred_load(module, name),
    };
    Some(address)
}

// --- Wdfldr.sys and the KMDF function table, forwarding to the simulated KMDF ---

use wfp_sim::kmdf::facts::{FUNCTION_COUNT_1_33, index};

/// The function table the simulated loader hands the image: the functions the simulated KMDF
/// implements at their WDFFUNCENUM indices (the simulator's own copies), `WdfUnimplemented`
/// everywhere else.
struct Table([usize; FUNCTION_COUNT_1_33 as usize]);

static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();

fn table() -> *const WDFFUNC {
    let table = TABLE.get_or_init(|| {
        let mut entries = [WdfUnimplemented as *const () as usize; FUNCTION_COUNT_1_33 as usize];
        entries[index::DRIVER_CREATE] = WdfDriverCreate as *const () as usize;
        entries[index::CONTROL_DEVICE_INIT_ALLOCATE] =
            WdfControlDeviceInitAllocate as *const () as usize;
        entries[index::DEVICE_INIT_SET_DEVICE_TYPE] =
            WdfDeviceInitSetDeviceType as *const () as usize;
        entries[index::DEVICE_INIT_SET_CHARACTERISTICS] =
            WdfDeviceInitSetCharacteristics as *const () as usize;
        entries[index::DEVICE_CREATE] = WdfDeviceCreate as *const () as usize;
        entries[index::DEVICE_INIT_FREE] = WdfDeviceInitFree as *const () as usize;
        entries[index::CONTROL_FINISH_INITIALIZING] =
            WdfControlFinishInitializing as *const () as usize;
        entries[index::DEVICE_WDM_GET_DEVICE_OBJECT] =
            WdfDeviceWdmGetDeviceObject as *const () as usize;
        entries[index::OBJECT_DELETE] = WdfObjectDelete as *const () as usize;
        Table(entries)
    });
    table.0.as_ptr().cast()
}

unsafe extern "win64" fn WdfUnimplemented() {
    eprintln!("the image called a WDF function the simulated KMDF does not implement");
    std::process::abort();
}

unsafe extern "win64" fn WdfVersionBind(
    DriverObject: *mut DRIVER_OBJECT,
    RegistryPath: *const UNICODE_STRING,
    BindInfo: *mut WDF_BIND_INFO,
    ComponentGlobals: *mut *mut WDF_DRIVER_GLOBALS,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract; the table is a static.
    unsafe {
        stack().wdf_version_bind(
            DriverObject,
            RegistryPath,
            BindInfo,
            ComponentGlobals,
            table(),
        )
    }
}

unsafe extern "win64" fn WdfVersionUnbind(
    RegistryPath: *const UNICODE_STRING,
    BindInfo: *mut WDF_BIND_INFO,
    ComponentGlobals: *mut WDF_DRIVER_GLOBALS,
) -> NTSTATUS {
    // SAFETY: the image's call; wdfldr's contract makes RegistryPath readable.
    unsafe { stack().wdf_version_unbind(RegistryPath, BindInfo, ComponentGlobals) }
}

unsafe extern "win64" fn WdfDriverCreate(
    DriverGlobals: *mut WDF_DRIVER_GLOBALS,
    DriverObject: *mut DRIVER_OBJECT,
    RegistryPath: *const UNICODE_STRING,
    DriverAttributes: *mut c_void,
    DriverConfig: *mut WDF_DRIVER_CONFIG,
    Driver: *mut WDFDRIVER,
) -> NTSTATUS {
    // SAFETY: the image calls with the function's contract.
    unsafe {
        stack().wdf_driver_create_for(
            DriverGlobals,
            DriverObject,
            RegistryPath,
            DriverAttributes,
            DriverConfig,
            Driver,
        )
    }
}

unsafe extern "win64" fn WdfControlDeviceInitAllocate(
    DriverGlobals: *mut WDF_DRIVER_GLOBALS,
    Driver: WDFDRIVER,
    SDDLString: *const UNICODE_STRING,
) -> PWDFDEVICE_INIT {
    // SAFETY: the image calls with the function's contract.
    unsafe { stack().wdf_control_device_init_allocate_for(DriverGlobals, Driver, SDDLString) }
}

unsafe extern "win64" fn WdfDeviceInitSetDeviceType(
    DriverGlobals: *mut WDF_DRIVER_GLOBALS,
    DeviceInit: PWDFDEVICE_INIT,
    DeviceType: u32,
) {
    stack().wdf_device_init_set_device_type_for(DriverGlobals, DeviceInit, DeviceType)
}

unsafe extern "win64" fn WdfDeviceInitSetCharacteristics(
    DriverGlobals: *mut WDF_DRIVER_GLOBALS,
    DeviceInit: PWDFDEVICE_INIT,
    DeviceCharacteristics: u32,
    OrInValues: BOOLEAN,
) {
    stack().wdf_device_init_set_characteristics_for(
        DriverGlobals,
        DeviceInit,
        DeviceCharacteristics,
        OrInValues,
    )
}

unsafe extern "win64" fn WdfDeviceCreate(
    DriverGlobals: *mut WDF_DRIVER_GLOBALS,
    DeviceInit: *mut PWDFDEVICE_INIT,
    DeviceAttributes: *mut c_void,
    Device: *mut WDFDEVICE,
) -> NTSTATUS {
    // SAFETY: the image calls with the function's contract.
    unsafe { stack().wdf_device_create_for(DriverGlobals, DeviceInit, DeviceAttributes, Device) }
}

unsafe extern "win64" fn WdfDeviceInitFree(
    DriverGlobals: *mut WDF_DRIVER_GLOBALS,
    DeviceInit: PWDFDEVICE_INIT,
) {
    stack().wdf_device_init_free_for(DriverGlobals, DeviceInit)
}

unsafe extern "win64" fn WdfControlFinishInitializing(
    DriverGlobals: *mut WDF_DRIVER_GLOBALS,
    Device: WDFDEVICE,
) {
    stack().wdf_control_finish_initializing_for(DriverGlobals, Device)
}

unsafe extern "win64" fn WdfDeviceWdmGetDeviceObject(
    DriverGlobals: *mut WDF_DRIVER_GLOBALS,
    Device: WDFDEVICE,
) -> *mut DEVICE_OBJECT {
    stack().wdf_device_wdm_get_device_object_for(DriverGlobals, Device)
}

unsafe extern "win64" fn WdfObjectDelete(
    DriverGlobals: *mut WDF_DRIVER_GLOBALS,
    Object: WDFOBJECT,
) {
    stack().wdf_object_delete_for(DriverGlobals, Object)
}
