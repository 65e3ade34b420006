//! The declaration list: every kernel function the driver calls, written once.
//!
//! Each entry is the export's name and C signature (parameters in the seam's types), the module
//! it is imported from (the `#[link]` of its block), the role and Rust name of its seam method, and
//! the highest IRQL the docs allow (`ANY`: any level; the facts table's `irql` rows, checked by
//! tests/kernel_facts.rs). WDF entries carry their WDFFUNCENUM index instead of a module.
//!
//! Roles: `safe` / `unsafe`: a [`super::KernelApi`] method (`WdfApi` in the `wdf` section);
//! `runtime`: an unsafe associated function of `WindowsKernel` for the image runtime; `noreturn`:
//! a safe one that never returns (KeBugCheckEx); `loader`: the framework loader's exports, for
//! the image's own KMDF binding.
//!
//! [`kernel_declarations!`] hands the whole list to a macro of the caller's, which derives what it
//! needs: the trait and [`super::KernelFn`] (sys/mod.rs), the imports and the Windows
//! implementation (sys/windows.rs), both WDF bindings (sys/kmdf_stub.rs, sys/wdk_binding.rs), the
//! simulated stack's prologue (the wfp-sim crate), the image tests' win64 shims and their resolve
//! table (tests/support/shims.rs) and the benchmark's stand-in. Adding a kernel function is one
//! entry here, the simulator's semantics (a `SimulatedStack` method named after the export) and a
//! facts row.
//!
//! The body keeps the form of `extern` blocks so that source readers (tests/support's
//! `seam_declarations`, wdk-compare's `seam_functions`, build.rs) read it as declarations.

/// Passes the declaration list, in its `extern`-block form, to `$callback!` (after `$extra`
/// tokens, if given). The callback's expansion site must have the seam's types
/// (`sys::types::*`) and `core::ffi::c_void` in scope. Most consumers want
/// [`kernel_functions!`]'s flat form instead.
#[macro_export]
macro_rules! kernel_declarations {
    ($($callback:ident)::+ $(, $($extra:tt)*)?) => {
        $($callback)::+! { $($($extra)*)?
        #[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
        unsafe extern "system" {
            /// `KeGetCurrentIrql`. Any IRQL.
            #[seam(safe ke_get_current_irql, ANY)]
            fn KeGetCurrentIrql() -> KIRQL;

            /// `KeQueryUnbiasedInterruptTime`: 100 ns units since boot, sleep excluded. Any IRQL.
            #[seam(safe ke_query_unbiased_interrupt_time, ANY)]
            fn KeQueryUnbiasedInterruptTime() -> u64;

            /// `ObfReferenceObject` (what `ObReferenceObject` expands to): one more reference on a kernel
            /// object; returns the new count.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `object` is a referenced kernel object (a driver object here).
            #[seam(unsafe obf_reference_object, DISPATCH)]
            fn ObfReferenceObject(object: *mut c_void) -> isize;

            /// `KeDelayExecutionThread`: sleeps the calling thread. `interval` is in 100 ns units,
            /// negative for a relative wait.
            ///
            /// # Safety
            /// IRQL <= APC_LEVEL (PASSIVE_LEVEL when `alertable` is non-zero); `interval` points to a
            /// readable `i64`.
            #[seam(unsafe ke_delay_execution_thread, APC)]
            fn KeDelayExecutionThread(wait_mode: KPROCESSOR_MODE, alertable: BOOLEAN, interval: *const i64) -> NTSTATUS;

            /// `ExInitializeRundownProtection`.
            ///
            /// # Safety
            /// IRQL <= APC_LEVEL; `rundown` is writable, pointer-aligned, and not in use.
            #[seam(unsafe ex_initialize_rundown_protection, APC)]
            fn ExInitializeRundownProtection(rundown: *mut EX_RUNDOWN_REF);

            /// `ExAcquireRundownProtection`: non-zero when acquired, zero once rundown has begun.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `rundown` was initialized and outlives the protection.
            #[seam(unsafe ex_acquire_rundown_protection, DISPATCH)]
            fn ExAcquireRundownProtection(rundown: *mut EX_RUNDOWN_REF) -> BOOLEAN;

            /// `ExReleaseRundownProtection`.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; releases one successful acquire.
            #[seam(unsafe ex_release_rundown_protection, DISPATCH)]
            fn ExReleaseRundownProtection(rundown: *mut EX_RUNDOWN_REF);

            /// `ExWaitForRundownProtectionRelease`: refuses new acquires, then waits for the held ones.
            ///
            /// # Safety
            /// IRQL <= APC_LEVEL; `rundown` was initialized.
            #[seam(unsafe ex_wait_for_rundown_protection_release, APC)]
            fn ExWaitForRundownProtectionRelease(rundown: *mut EX_RUNDOWN_REF);

            /// `KeQueryActiveProcessorCountEx`: the active logical processors in `group`, or in the
            /// whole system for `ALL_PROCESSOR_GROUPS`. Can grow at run time (processors added
            /// dynamically). Any IRQL.
            #[seam(safe ke_query_active_processor_count_ex, ANY)]
            fn KeQueryActiveProcessorCountEx(group: u16) -> u32;

            /// `KeGetCurrentProcessorNumberEx`: the system-wide index of the processor the caller
            /// runs on (below the active count), and its group and group-relative number in
            /// `number` unless it is null. Below DISPATCH_LEVEL the thread may move to another
            /// processor at once, so the answer is a hint there.
            ///
            /// # Safety
            /// Any IRQL; `number` is null or writable for one `PROCESSOR_NUMBER`.
            #[seam(unsafe ke_get_current_processor_number_ex, ANY)]
            fn KeGetCurrentProcessorNumberEx(number: *mut PROCESSOR_NUMBER) -> u32;

            /// `ExAllocateCacheAwareRundownProtection`: a cache-aware rundown block (counts spread
            /// over processors) from pool of `pool_type`, tagged `tag`, initialized; null when
            /// memory is short. Freed with `ExFreeCacheAwareRundownProtection`.
            ///
            /// # Safety
            /// IRQL <= APC_LEVEL; `pool_type` is non-paged (`NonPagedPoolNx`) when the block is
            /// acquired or released at DISPATCH_LEVEL.
            #[seam(unsafe ex_allocate_cache_aware_rundown_protection, APC)]
            fn ExAllocateCacheAwareRundownProtection(pool_type: POOL_TYPE, tag: u32) -> PEX_RUNDOWN_REF_CACHE_AWARE;

            /// `ExAcquireRundownProtectionCacheAware`: non-zero when acquired, zero once rundown
            /// has begun.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL (DISPATCH_LEVEL only for a non-paged block); `rundown` came
            /// from `ExAllocateCacheAwareRundownProtection`, is not freed, and outlives the
            /// protection.
            #[seam(unsafe ex_acquire_rundown_protection_cache_aware, DISPATCH)]
            fn ExAcquireRundownProtectionCacheAware(rundown: PEX_RUNDOWN_REF_CACHE_AWARE) -> BOOLEAN;

            /// `ExReleaseRundownProtectionCacheAware`.
            ///
            /// # Safety
            /// As [`Self::ex_acquire_rundown_protection_cache_aware`]; releases one successful
            /// acquire (possibly from another processor than the acquire's).
            #[seam(unsafe ex_release_rundown_protection_cache_aware, DISPATCH)]
            fn ExReleaseRundownProtectionCacheAware(rundown: PEX_RUNDOWN_REF_CACHE_AWARE);

            /// `ExWaitForRundownProtectionReleaseCacheAware`: refuses new acquires, then waits for
            /// the held ones; a second wait has no effect.
            ///
            /// # Safety
            /// IRQL <= APC_LEVEL (it waits); `rundown` is live.
            #[seam(unsafe ex_wait_for_rundown_protection_release_cache_aware, APC)]
            fn ExWaitForRundownProtectionReleaseCacheAware(rundown: PEX_RUNDOWN_REF_CACHE_AWARE);

            /// `ExFreeCacheAwareRundownProtection`.
            ///
            /// # Safety
            /// IRQL <= APC_LEVEL; `rundown` came from `ExAllocateCacheAwareRundownProtection`, no
            /// protection on it is held, and it is freed once.
            #[seam(unsafe ex_free_cache_aware_rundown_protection, APC)]
            fn ExFreeCacheAwareRundownProtection(rundown: PEX_RUNDOWN_REF_CACHE_AWARE);

            /// `KeInitializeDpc`.
            ///
            /// # Safety
            /// `dpc` is writable storage that outlives any queueing of it.
            #[seam(unsafe ke_initialize_dpc, ANY)]
            fn KeInitializeDpc(dpc: *mut KDPC, routine: KDEFERRED_ROUTINE, context: *mut c_void);

            /// `KeInsertQueueDpc`: non-zero when queued, zero when it was already queued.
            ///
            /// # Safety
            /// IRQL <= HIGH_LEVEL; `dpc` was initialized and stays valid until its routine has run.
            #[seam(unsafe ke_insert_queue_dpc, ANY)]
            fn KeInsertQueueDpc(dpc: *mut KDPC, argument1: *mut c_void, argument2: *mut c_void) -> BOOLEAN;

            /// `KeFlushQueuedDpcs`: returns once every DPC queued so far has finished running.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL.
            #[seam(unsafe ke_flush_queued_dpcs, PASSIVE)]
            fn KeFlushQueuedDpcs();

            /// `ZwOpenKey`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; the pointers are valid; `key` is writable.
            #[seam(unsafe zw_open_key, PASSIVE)]
            fn ZwOpenKey(key: *mut HANDLE, access: ACCESS_MASK, attributes: *const OBJECT_ATTRIBUTES) -> NTSTATUS;

            /// `ZwQueryValueKey`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `key` is open; `buffer` is writable for `length` bytes;
            /// `result_length` is writable.
            #[seam(unsafe zw_query_value_key, PASSIVE)]
            fn ZwQueryValueKey(key: HANDLE, name: *const UNICODE_STRING, class: u32, buffer: *mut c_void, length: u32, result_length: *mut u32) -> NTSTATUS;

            /// `ZwSetValueKey`: creates or replaces a value of the key.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `key` is open with KEY_SET_VALUE; `name` is valid; `data` is
            /// readable for `size` bytes.
            #[seam(unsafe zw_set_value_key, PASSIVE)]
            fn ZwSetValueKey(key: HANDLE, name: *const UNICODE_STRING, title_index: u32, kind: u32, data: *const c_void, size: u32) -> NTSTATUS;

            /// `ZwDeleteValueKey`: removes a value of the key (STATUS_OBJECT_NAME_NOT_FOUND when
            /// there is none).
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `key` is open with KEY_SET_VALUE; `name` is valid.
            #[seam(unsafe zw_delete_value_key, PASSIVE)]
            fn ZwDeleteValueKey(key: HANDLE, name: *const UNICODE_STRING) -> NTSTATUS;

            /// `ZwClose`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `handle` is open and closed once.
            #[seam(unsafe zw_close, PASSIVE)]
            fn ZwClose(handle: HANDLE) -> NTSTATUS;

            /// `DbgPrintEx`, variadic in the headers, declared with the one argument after the format
            /// the driver passes (the x64 convention passes it alike for variadic and fixed
            /// prototypes).
            ///
            /// # Safety
            /// `format` is the NUL-terminated `"%s"` (logged text is never a format string); `text` is
            /// NUL-terminated; IRQL <= DIRQL.
            #[seam(unsafe dbg_print_ex, ANY)]
            fn DbgPrintEx(component: u32, level: u32, format: *const u8, text: *const u8) -> u32;

            /// `IoAllocateWorkItem`: null when memory is short.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `device` is the driver's device object.
            #[seam(unsafe io_allocate_work_item, DISPATCH)]
            fn IoAllocateWorkItem(device: *mut DEVICE_OBJECT) -> PIO_WORKITEM;

            /// `IoQueueWorkItem`: `routine` runs once with `context` at PASSIVE_LEVEL in a system worker
            /// thread; the I/O manager keeps the device object referenced until it returns.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `item` came from [`Self::io_allocate_work_item`], is not freed and
            /// is not queued (the system dequeues it before `routine` runs); `queue` is
            /// `DelayedWorkQueue`; `context` stays valid until `routine` has run.
            #[seam(unsafe io_queue_work_item, DISPATCH)]
            fn IoQueueWorkItem(item: PIO_WORKITEM, routine: IO_WORKITEM_ROUTINE, queue: WORK_QUEUE_TYPE, context: *mut c_void);

            /// `IoFreeWorkItem`.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `item` came from [`Self::io_allocate_work_item`], is not queued,
            /// and is freed once.
            #[seam(unsafe io_free_work_item, DISPATCH)]
            fn IoFreeWorkItem(item: PIO_WORKITEM);

            /// `ExCreateCallback`: opens (or, with `create`, creates) the named callback object and
            /// writes a referenced pointer to it; released with `obf_dereference_object`.
            ///
            /// # Safety
            /// IRQL <= APC_LEVEL; `object` is writable; `attributes` is an initialized
            /// OBJECT_ATTRIBUTES naming the object, valid for the call.
            #[seam(unsafe ex_create_callback, APC)]
            fn ExCreateCallback(object: *mut PCALLBACK_OBJECT, attributes: *const OBJECT_ATTRIBUTES, create: BOOLEAN, allow_multiple_callbacks: BOOLEAN) -> NTSTATUS;

            /// `ExRegisterCallback`: `function` runs with `context` at each notification of `object`
            /// until unregistered. Returns the registration, null on failure.
            ///
            /// # Safety
            /// IRQL <= APC_LEVEL; `object` came from `ex_create_callback` and is referenced;
            /// `function` and `context` stay valid until `ex_unregister_callback` returns.
            #[seam(unsafe ex_register_callback, APC)]
            fn ExRegisterCallback(object: PCALLBACK_OBJECT, function: CALLBACK_FUNCTION, context: *mut c_void) -> *mut c_void;

            /// `ExUnregisterCallback`: removes a registration from the object's list.
            ///
            /// # Safety
            /// IRQL <= APC_LEVEL; `registration` came from `ex_register_callback` and is
            /// unregistered once; never called from the registered routine itself.
            #[seam(unsafe ex_unregister_callback, APC)]
            fn ExUnregisterCallback(registration: *mut c_void);

            /// `ObfDereferenceObject` (what `ObDereferenceObject` expands to): one reference fewer on
            /// a kernel object; returns the new count.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; the caller holds the reference it gives back.
            #[seam(unsafe obf_dereference_object, DISPATCH)]
            fn ObfDereferenceObject(object: *mut c_void) -> isize;
        }

        #[link(name = "fwpkclnt.sys", kind = "raw-dylib", modifiers = "+verbatim")]
        unsafe extern "system" {
            /// `FwpsInjectionHandleCreate0`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `handle` points to writable storage for one `HANDLE`.
            #[seam(unsafe fwps_injection_handle_create0, PASSIVE)]
            fn FwpsInjectionHandleCreate0(address_family: ADDRESS_FAMILY, flags: u32, handle: *mut HANDLE) -> NTSTATUS;

            /// `FwpsInjectionHandleDestroy0`: waits for injections WFP has accepted on `handle`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `handle` came from a successful create and is not yet destroyed.
            #[seam(unsafe fwps_injection_handle_destroy0, PASSIVE)]
            fn FwpsInjectionHandleDestroy0(handle: HANDLE) -> NTSTATUS;

            /// `FwpsQueryPacketInjectionState0`. `injection_context` may be null.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `handle` is live; `nbl` is a valid NBL the caller may read;
            /// `injection_context` is null or writable.
            #[seam(unsafe fwps_query_packet_injection_state0, DISPATCH)]
            fn FwpsQueryPacketInjectionState0(handle: HANDLE, nbl: *const NET_BUFFER_LIST, injection_context: *mut HANDLE) -> FWPS_PACKET_INJECTION_STATE;

            /// `FwpsInjectTransportSendAsync0`.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `handle` is live; `nbl` is owned by the caller and, on success,
            /// belongs to WFP until `completion` runs with `completion_context`; `send_args` (and what it
            /// points to) stays valid until then.
            #[seam(unsafe fwps_inject_transport_send_async0, DISPATCH)]
            fn FwpsInjectTransportSendAsync0(handle: HANDLE, injection_context: HANDLE, endpoint_handle: u64, flags: u32, send_args: *mut FWPS_TRANSPORT_SEND_PARAMS0, address_family: ADDRESS_FAMILY, compartment_id: COMPARTMENT_ID, nbl: *mut NET_BUFFER_LIST, completion: FWPS_INJECT_COMPLETE0, completion_context: *mut c_void) -> NTSTATUS;

            /// `FwpsInjectTransportReceiveAsync0`.
            ///
            /// # Safety
            /// As [`Self::fwps_inject_transport_send_async0`]; `reserved` is null.
            #[seam(unsafe fwps_inject_transport_receive_async0, DISPATCH)]
            fn FwpsInjectTransportReceiveAsync0(handle: HANDLE, injection_context: HANDLE, reserved: *mut c_void, flags: u32, address_family: ADDRESS_FAMILY, compartment_id: COMPARTMENT_ID, interface_index: IF_INDEX, sub_interface_index: IF_INDEX, nbl: *mut NET_BUFFER_LIST, completion: FWPS_INJECT_COMPLETE0, completion_context: *mut c_void) -> NTSTATUS;

            /// `FwpsInjectNetworkSendAsync0`.
            ///
            /// # Safety
            /// As [`Self::fwps_inject_transport_send_async0`]; `nbl` begins with the IP header.
            #[seam(unsafe fwps_inject_network_send_async0, DISPATCH)]
            fn FwpsInjectNetworkSendAsync0(handle: HANDLE, injection_context: HANDLE, flags: u32, compartment_id: COMPARTMENT_ID, nbl: *mut NET_BUFFER_LIST, completion: FWPS_INJECT_COMPLETE0, completion_context: *mut c_void) -> NTSTATUS;

            /// `FwpsInjectNetworkReceiveAsync0`.
            ///
            /// # Safety
            /// As [`Self::fwps_inject_network_send_async0`].
            #[seam(unsafe fwps_inject_network_receive_async0, DISPATCH)]
            fn FwpsInjectNetworkReceiveAsync0(handle: HANDLE, injection_context: HANDLE, flags: u32, compartment_id: COMPARTMENT_ID, interface_index: IF_INDEX, sub_interface_index: IF_INDEX, nbl: *mut NET_BUFFER_LIST, completion: FWPS_INJECT_COMPLETE0, completion_context: *mut c_void) -> NTSTATUS;

            /// `FwpsInjectForwardAsync0`.
            ///
            /// # Safety
            /// As [`Self::fwps_inject_network_send_async0`].
            #[seam(unsafe fwps_inject_forward_async0, DISPATCH)]
            fn FwpsInjectForwardAsync0(handle: HANDLE, injection_context: HANDLE, flags: u32, address_family: ADDRESS_FAMILY, compartment_id: COMPARTMENT_ID, interface_index: IF_INDEX, nbl: *mut NET_BUFFER_LIST, completion: FWPS_INJECT_COMPLETE0, completion_context: *mut c_void) -> NTSTATUS;

            /// `FwpsStreamInjectAsync0`. `completion` is mandatory for stream injection.
            ///
            /// # Safety
            /// As [`Self::fwps_inject_transport_send_async0`]; `flow_id`, `callout_id` and `layer_id`
            /// come from the classify that owns the flow.
            #[seam(unsafe fwps_stream_inject_async0, DISPATCH)]
            fn FwpsStreamInjectAsync0(handle: HANDLE, injection_context: HANDLE, flags: u32, flow_id: u64, callout_id: u32, layer_id: u16, stream_flags: u32, nbl: *mut NET_BUFFER_LIST, data_length: usize, completion: FWPS_INJECT_COMPLETE0, completion_context: *mut c_void) -> NTSTATUS;

            /// `FwpsAllocateCloneNetBufferList0`.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `original` is a valid NBL that outlives the clone; `clone` is
            /// writable; the pools are null (WFP's default pools) or valid NDIS pools.
            #[seam(unsafe fwps_allocate_clone_net_buffer_list0, DISPATCH)]
            fn FwpsAllocateCloneNetBufferList0(original: *mut NET_BUFFER_LIST, nbl_pool: *mut c_void, nb_pool: *mut c_void, flags: u32, clone: *mut *mut NET_BUFFER_LIST) -> NTSTATUS;

            /// `FwpsFreeCloneNetBufferList0`.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `clone` came from the clone call above, is not in use by WFP, and
            /// is freed once.
            #[seam(unsafe fwps_free_clone_net_buffer_list0, DISPATCH)]
            fn FwpsFreeCloneNetBufferList0(clone: *mut NET_BUFFER_LIST, flags: u32);

            /// `FwpmEngineOpen0` (kernel mode: `server_name` null).
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `session` is null or valid; `engine` is writable.
            #[seam(unsafe fwpm_engine_open0, PASSIVE)]
            fn FwpmEngineOpen0(server_name: *const u16, authn_service: u32, auth_identity: *mut c_void, session: *const FWPM_SESSION0, engine: *mut HANDLE) -> NTSTATUS;

            /// `FwpmEngineClose0`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `engine` is open and closed once.
            #[seam(unsafe fwpm_engine_close0, PASSIVE)]
            fn FwpmEngineClose0(engine: HANDLE) -> NTSTATUS;

            /// `FwpmTransactionBegin0`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `engine` is open.
            #[seam(unsafe fwpm_transaction_begin0, PASSIVE)]
            fn FwpmTransactionBegin0(engine: HANDLE, flags: u32) -> NTSTATUS;

            /// `FwpmTransactionCommit0`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `engine` is open.
            #[seam(unsafe fwpm_transaction_commit0, PASSIVE)]
            fn FwpmTransactionCommit0(engine: HANDLE) -> NTSTATUS;

            /// `FwpmTransactionAbort0`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `engine` is open.
            #[seam(unsafe fwpm_transaction_abort0, PASSIVE)]
            fn FwpmTransactionAbort0(engine: HANDLE) -> NTSTATUS;

            /// `FwpmProviderAdd0`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `engine` is open; `provider` and what it points to are valid.
            #[seam(unsafe fwpm_provider_add0, PASSIVE)]
            fn FwpmProviderAdd0(engine: HANDLE, provider: *const FWPM_PROVIDER0, security: *mut c_void) -> NTSTATUS;

            /// `FwpmProviderDeleteByKey0`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `engine` is open; `key` is valid.
            #[seam(unsafe fwpm_provider_delete_by_key0, PASSIVE)]
            fn FwpmProviderDeleteByKey0(engine: HANDLE, key: *const GUID) -> NTSTATUS;

            /// `FwpmSubLayerAdd0`.
            ///
            /// # Safety
            /// As [`Self::fwpm_provider_add0`].
            #[seam(unsafe fwpm_sub_layer_add0, PASSIVE)]
            fn FwpmSubLayerAdd0(engine: HANDLE, sublayer: *const FWPM_SUBLAYER0, security: *mut c_void) -> NTSTATUS;

            /// `FwpmSubLayerDeleteByKey0`.
            ///
            /// # Safety
            /// As [`Self::fwpm_provider_delete_by_key0`].
            #[seam(unsafe fwpm_sub_layer_delete_by_key0, PASSIVE)]
            fn FwpmSubLayerDeleteByKey0(engine: HANDLE, key: *const GUID) -> NTSTATUS;

            /// `FwpmCalloutAdd0`. `id` may be null.
            ///
            /// # Safety
            /// As [`Self::fwpm_provider_add0`]; `id` is null or writable.
            #[seam(unsafe fwpm_callout_add0, PASSIVE)]
            fn FwpmCalloutAdd0(engine: HANDLE, callout: *const FWPM_CALLOUT0, security: *mut c_void, id: *mut u32) -> NTSTATUS;

            /// `FwpmCalloutDeleteByKey0`.
            ///
            /// # Safety
            /// As [`Self::fwpm_provider_delete_by_key0`].
            #[seam(unsafe fwpm_callout_delete_by_key0, PASSIVE)]
            fn FwpmCalloutDeleteByKey0(engine: HANDLE, key: *const GUID) -> NTSTATUS;

            /// `FwpmFilterAdd0`. `id` may be null.
            ///
            /// # Safety
            /// As [`Self::fwpm_provider_add0`]; `id` is null or writable.
            #[seam(unsafe fwpm_filter_add0, PASSIVE)]
            fn FwpmFilterAdd0(engine: HANDLE, filter: *const FWPM_FILTER0, security: *mut c_void, id: *mut u64) -> NTSTATUS;

            /// `FwpmFilterDeleteByKey0`.
            ///
            /// # Safety
            /// As [`Self::fwpm_provider_delete_by_key0`].
            #[seam(unsafe fwpm_filter_delete_by_key0, PASSIVE)]
            fn FwpmFilterDeleteByKey0(engine: HANDLE, key: *const GUID) -> NTSTATUS;

            /// `FwpsCalloutRegister1`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `device` is the driver's device object; `callout` is valid and its
            /// functions stay loaded until unregistered; `id` is writable.
            #[seam(unsafe fwps_callout_register1, PASSIVE)]
            fn FwpsCalloutRegister1(device: *mut DEVICE_OBJECT, callout: *const FWPS_CALLOUT1, id: *mut u32) -> NTSTATUS;

            /// `FwpsCalloutUnregisterById0`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `id` was registered by this driver.
            #[seam(unsafe fwps_callout_unregister_by_id0, PASSIVE)]
            fn FwpsCalloutUnregisterById0(id: u32) -> NTSTATUS;

            /// `FwpsGetPacketListSecurityInformation0`: the IPsec (and WFP) information of a packet
            /// list, for the query flags given.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `packet_list` is a valid NBL for the call; `information` is
            /// writable.
            #[seam(unsafe fwps_get_packet_list_security_information0, DISPATCH)]
            fn FwpsGetPacketListSecurityInformation0(packet_list: *mut NET_BUFFER_LIST, query_flags: u32, information: *mut FWPS_PACKET_LIST_INFORMATION0) -> NTSTATUS;

            /// `FwpmBfeStateGet0`: the filter engine's state now (`FWPM_SERVICE_*`).
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; called only after [`Self::fwpm_bfe_state_subscribe_changes0`]
            /// succeeded (the docs' order, so no change between the two is missed).
            #[seam(unsafe fwpm_bfe_state_get0, DISPATCH)]
            fn FwpmBfeStateGet0() -> FWPM_SERVICE_STATE;

            /// `FwpmBfeStateSubscribeChanges0`: `callback` runs with `context` at each change of the
            /// filter engine's state until unsubscribed.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `device` is the driver's device object; `callback` and `context`
            /// stay valid until [`Self::fwpm_bfe_state_unsubscribe_changes0`] returns; `handle` is
            /// writable.
            #[seam(unsafe fwpm_bfe_state_subscribe_changes0, PASSIVE)]
            fn FwpmBfeStateSubscribeChanges0(device: *mut DEVICE_OBJECT, callback: FWPM_SERVICE_STATE_CHANGE_CALLBACK0, context: *mut c_void, handle: *mut HANDLE) -> NTSTATUS;

            /// `FwpmBfeStateUnsubscribeChanges0`: once it returns, the callback is not running and is
            /// never called again.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `handle` came from a successful subscribe and is unsubscribed once;
            /// never called from the callback itself (the docs: it can deadlock).
            #[seam(unsafe fwpm_bfe_state_unsubscribe_changes0, PASSIVE)]
            fn FwpmBfeStateUnsubscribeChanges0(handle: HANDLE) -> NTSTATUS;
        }

        #[link(name = "ndis.sys", kind = "raw-dylib", modifiers = "+verbatim")]
        unsafe extern "system" {
            /// `NdisRetreatNetBufferDataStart`.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `net_buffer` is valid and owned for the call.
            #[seam(unsafe ndis_retreat_net_buffer_data_start, DISPATCH)]
            fn NdisRetreatNetBufferDataStart(net_buffer: *mut NET_BUFFER, delta: u32, back_fill: u32, allocate_mdl: *mut c_void) -> NDIS_STATUS;

            /// `NdisAdvanceNetBufferDataStart`.
            ///
            /// # Safety
            /// As [`Self::ndis_retreat_net_buffer_data_start`]; `delta` <= the buffer's data length.
            #[seam(unsafe ndis_advance_net_buffer_data_start, DISPATCH)]
            fn NdisAdvanceNetBufferDataStart(net_buffer: *mut NET_BUFFER, delta: u32, free_mdl: BOOLEAN, free_mdl_handler: *mut c_void);

            /// `NdisGetDataBuffer`: a pointer to `bytes` contiguous bytes at the data start (in place, or
            /// copied into `storage`), or null when the buffer holds fewer.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `net_buffer` is valid; `storage` is null or writable for `bytes`.
            #[seam(unsafe ndis_get_data_buffer, DISPATCH)]
            fn NdisGetDataBuffer(net_buffer: *mut NET_BUFFER, bytes: u32, storage: *mut c_void, align_multiple: u32, align_offset: u32) -> *mut c_void;
        }

        // Called by the image runtime (allocator, panic handler) on the kernel itself: associated
        // functions of `WindowsKernel`, not `KernelApi` methods.
        #[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
        unsafe extern "system" {
            /// `ExAllocatePool2`: null on failure, 16-byte aligned on x64.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL for non-paged pool.
            #[seam(runtime ex_allocate_pool2, DISPATCH)]
            fn ExAllocatePool2(flags: POOL_FLAGS, bytes: usize, tag: u32) -> *mut c_void;

            /// `ExFreePoolWithTag`.
            ///
            /// # Safety
            /// `block` came from `ex_allocate_pool2` with the same `tag` and is freed once;
            /// IRQL <= DISPATCH_LEVEL.
            #[seam(runtime ex_free_pool_with_tag, DISPATCH)]
            fn ExFreePoolWithTag(block: *mut c_void, tag: u32);

            /// `KeBugCheckEx`: stops the machine with a crash dump. Never returns; any IRQL, any
            /// parameters.
            #[seam(noreturn ke_bug_check_ex, ANY)]
            fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> !;
        }

        // wdfldr.sys, the framework loader, for the Linux-built image's own FxDriverEntry
        // (`kmdf_stub`); the WDK build links WdfDriverEntry.lib, which imports these itself.
        #[link(name = "wdfldr.sys", kind = "raw-dylib", modifiers = "+verbatim")]
        #[cfg(not(feature = "wdk"))]
        unsafe extern "system" {
            /// `WdfVersionBind` (wdfldr.sys).
            ///
            /// # Safety
            /// IRQL < DISPATCH_LEVEL (pageable code; the image calls it at PASSIVE_LEVEL, in its
            /// entry); `driver` and `registry_path` are the I/O manager's; `info` is the image's bind information, writable and alive until unbind;
            /// `globals` is writable.
            #[seam(loader wdf_version_bind, APC)]
            fn WdfVersionBind(driver: *mut DRIVER_OBJECT, registry_path: *const UNICODE_STRING, info: *mut WDF_BIND_INFO, globals: *mut *mut WDF_DRIVER_GLOBALS) -> NTSTATUS;

            /// `WdfVersionUnbind` (wdfldr.sys).
            ///
            /// # Safety
            /// IRQL < DISPATCH_LEVEL (pageable code; called at unload, PASSIVE_LEVEL); `info` and
            /// `globals` are those of a successful bind, unbound once.
            #[seam(loader wdf_version_unbind, APC)]
            fn WdfVersionUnbind(registry_path: *const UNICODE_STRING, info: *mut WDF_BIND_INFO, globals: *mut WDF_DRIVER_GLOBALS) -> NTSTATUS;
        }

        // The WDF functions the KMDF shell calls: not imports, but entries of the table KMDF binds,
        // at their WDFFUNCENUM index, each called with the driver's WDF_DRIVER_GLOBALS first (the
        // bindings supply it). All PASSIVE_LEVEL calls from DriverEntry or EvtDriverUnload, except
        // where an entry says otherwise.
        wdf {
            /// `WdfDriverCreate`. `attributes` is null (`WDF_NO_OBJECT_ATTRIBUTES`).
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL, in DriverEntry; `driver_object` and `registry_path` are the ones
            /// DriverEntry received; `config` is valid for the call; `driver` is null or writable.
            #[seam(unsafe wdf_driver_create, PASSIVE, 116)]
            fn WdfDriverCreate(driver_object: *mut DRIVER_OBJECT, registry_path: *const UNICODE_STRING, attributes: *mut c_void, config: *mut WDF_DRIVER_CONFIG, driver: *mut WDFDRIVER) -> NTSTATUS;

            /// `WdfControlDeviceInitAllocate`: null on failure.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `driver` came from `wdf_driver_create`; `sddl` is a valid string
            /// for the call.
            #[seam(unsafe wdf_control_device_init_allocate, PASSIVE, 25)]
            fn WdfControlDeviceInitAllocate(driver: WDFDRIVER, sddl: *const UNICODE_STRING) -> PWDFDEVICE_INIT;

            /// `WdfDeviceInitSetDeviceType`.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `init` is a live device init.
            #[seam(unsafe wdf_device_init_set_device_type, DISPATCH, 66)]
            fn WdfDeviceInitSetDeviceType(init: PWDFDEVICE_INIT, device_type: u32);

            /// `WdfDeviceInitSetCharacteristics`: replaces the characteristics, or ORs them in when
            /// `or_in` is non-zero.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `init` is a live device init.
            #[seam(unsafe wdf_device_init_set_characteristics, DISPATCH, 70)]
            fn WdfDeviceInitSetCharacteristics(init: PWDFDEVICE_INIT, characteristics: u32, or_in: BOOLEAN);

            /// `WdfDeviceCreate`: on success the framework owns `*init` (and clears it); on failure the
            /// caller still owns it and must free it with `wdf_device_init_free`.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `init` points to a live device init; `device` is writable.
            #[seam(unsafe wdf_device_create, PASSIVE, 75)]
            fn WdfDeviceCreate(init: *mut PWDFDEVICE_INIT, attributes: *mut c_void, device: *mut WDFDEVICE) -> NTSTATUS;

            /// `WdfDeviceInitFree`.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `init` is a live device init no device was created from; freed once.
            #[seam(unsafe wdf_device_init_free, DISPATCH, 54)]
            fn WdfDeviceInitFree(init: PWDFDEVICE_INIT);

            /// `WdfControlFinishInitializing`.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `device` is a control device just created.
            #[seam(unsafe wdf_control_finish_initializing, DISPATCH, 27)]
            fn WdfControlFinishInitializing(device: WDFDEVICE);

            /// `WdfDeviceWdmGetDeviceObject`: the device's WDM object.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `device` is live.
            #[seam(unsafe wdf_device_wdm_get_device_object, DISPATCH, 31)]
            fn WdfDeviceWdmGetDeviceObject(device: WDFDEVICE) -> *mut DEVICE_OBJECT;

            /// `WdfObjectDelete`.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `object` is live and deleted once.
            #[seam(unsafe wdf_object_delete, DISPATCH, 208)]
            fn WdfObjectDelete(object: WDFOBJECT);

            /// `WdfDeviceInitAssignName`: the device's name in the object namespace
            /// (under `\Device`); the framework copies it.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `init` is a live device init; `name` is a valid string for
            /// the call.
            #[seam(unsafe wdf_device_init_assign_name, PASSIVE, 67)]
            fn WdfDeviceInitAssignName(init: PWDFDEVICE_INIT, name: *const UNICODE_STRING) -> NTSTATUS;

            /// `WdfDeviceCreateSymbolicLink`: a link to the named device, removed by the framework
            /// when the device is deleted.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `device` is a live named device; `link` is a valid string
            /// for the call.
            #[seam(unsafe wdf_device_create_symbolic_link, PASSIVE, 80)]
            fn WdfDeviceCreateSymbolicLink(device: WDFDEVICE, link: *const UNICODE_STRING) -> NTSTATUS;

            /// `WdfIoQueueCreate`: a queue of `device`, deleted with it. `attributes` is null or a
            /// WDF_OBJECT_ATTRIBUTES.
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `device` is live; `config` is valid for the call and its
            /// callbacks stay loaded while the device lives; `queue` is null or writable.
            #[seam(unsafe wdf_io_queue_create, DISPATCH, 152)]
            fn WdfIoQueueCreate(device: WDFDEVICE, config: *mut WDF_IO_QUEUE_CONFIG, attributes: *mut c_void, queue: *mut WDFQUEUE) -> NTSTATUS;

            /// `WdfIoQueuePurgeSynchronously`: the queue stops accepting requests, cancels those
            /// it holds, and returns once every request it presented has been completed.
            ///
            /// # Safety
            /// IRQL == PASSIVE_LEVEL; `queue` is live; never called from one of the queue's own
            /// callbacks.
            #[seam(unsafe wdf_io_queue_purge_synchronously, PASSIVE, 164)]
            fn WdfIoQueuePurgeSynchronously(queue: WDFQUEUE);

            /// `WdfRequestRetrieveInputBuffer`: the request's input buffer and its length;
            /// STATUS_BUFFER_TOO_SMALL when it is shorter than `minimum` (or empty).
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `request` is presented to the driver and not completed;
            /// `buffer` is writable; `length` is null or writable.
            #[seam(unsafe wdf_request_retrieve_input_buffer, DISPATCH, 269)]
            fn WdfRequestRetrieveInputBuffer(request: WDFREQUEST, minimum: usize, buffer: *mut *mut c_void, length: *mut usize) -> NTSTATUS;

            /// `WdfRequestRetrieveOutputBuffer`: as the input buffer's, for output (the same system
            /// buffer for METHOD_BUFFERED).
            ///
            /// # Safety
            /// As [`Self::wdf_request_retrieve_input_buffer`].
            #[seam(unsafe wdf_request_retrieve_output_buffer, DISPATCH, 270)]
            fn WdfRequestRetrieveOutputBuffer(request: WDFREQUEST, minimum: usize, buffer: *mut *mut c_void, length: *mut usize) -> NTSTATUS;

            /// `WdfRequestComplete`: completes the request with `status` (information 0).
            ///
            /// # Safety
            /// IRQL <= DISPATCH_LEVEL; `request` is presented to the driver and completed once;
            /// it is not touched afterwards.
            #[seam(unsafe wdf_request_complete, DISPATCH, 263)]
            fn WdfRequestComplete(request: WDFREQUEST, status: NTSTATUS);

            /// `WdfRequestCompleteWithInformation`: completes the request with `status` and
            /// `information` (for METHOD_BUFFERED: the bytes of output the I/O manager copies back).
            ///
            /// # Safety
            /// As [`Self::wdf_request_complete`]; `information` <= the output buffer's length.
            #[seam(unsafe wdf_request_complete_with_information, DISPATCH, 265)]
            fn WdfRequestCompleteWithInformation(request: WDFREQUEST, status: NTSTATUS, information: usize);
        }
        }
    };
}

/// Passes the declaration list to `$callback!` flat, one bracketed entry per function:
/// `[import role method Export (args) (return?) "module" IRQL]` or
/// `[wdf role method Export (args) (return?) index IRQL]` (no docs, no block attributes).
#[macro_export]
macro_rules! kernel_functions {
    ($callback:ident) => {
        $crate::kernel_declarations!($crate::__flatten_kernel_declarations, $callback;);
    };
}

/// The flat form of the list, for [`kernel_functions!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __flatten_kernel_declarations {
    (
        $callback:ident;
        $(
            #[link(name = $module:literal, kind = "raw-dylib", modifiers = "+verbatim")]
            $(#[$block_attr:meta])*
            unsafe extern "system" {
                $(
                    $(#[doc = $doc:literal])*
                    #[seam($role:tt $method:ident, $irql:ident)]
                    fn $export:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;
                )*
            }
        )*
        wdf {
            $(
                $(#[doc = $wdf_doc:literal])*
                #[seam($wdf_role:tt $wdf_method:ident, $wdf_irql:ident, $index:literal)]
                fn $wdf_export:ident($($wdf_arg:ident: $wdf_ty:ty),* $(,)?) $(-> $wdf_ret:ty)?;
            )*
        }
    ) => {
        $callback! {
            $($(
                [import $role $method $export ($($arg: $ty),*) ($($ret)?) $module $irql]
            )*)*
            $(
                [wdf $wdf_role $wdf_method $wdf_export ($($wdf_arg: $wdf_ty),*) ($($wdf_ret)?) $index $wdf_irql]
            )*
        }
    };
}
