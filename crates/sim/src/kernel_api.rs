//! The simulated stack's implementation of the seam: the documented semantics of each call.

use core::ffi::c_void;
use std::time::Duration;

use super::packets::{InjectCall, InjectionPath};
use super::stack::{HANDLE_STEP, HandleRecord, SimCall, SimulatedStack, Violation};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::{
    ACCESS_MASK, ADDRESS_FAMILY, BOOLEAN, COMPARTMENT_ID, DEVICE_OBJECT, EX_RUNDOWN_REF,
    FWPM_CALLOUT0, FWPM_FILTER0, FWPM_PROVIDER0, FWPM_SESSION0, FWPM_SUBLAYER0, FWPS_CALLOUT1,
    FWPS_INJECT_COMPLETE0, FWPS_PACKET_INJECTION_STATE, FWPS_TRANSPORT_SEND_PARAMS0, GUID, HANDLE,
    IF_INDEX, KDEFERRED_ROUTINE, KDPC, KIRQL, KPROCESSOR_MODE, NDIS_STATUS, NET_BUFFER,
    NET_BUFFER_LIST, NTSTATUS, OBJECT_ATTRIBUTES, UNICODE_STRING,
};
use crate::sys::types::{
    FWPM_SERVICE_STATE, FWPM_SERVICE_STATE_CHANGE_CALLBACK0, IO_WORKITEM_ROUTINE, PIO_WORKITEM,
    WORK_QUEUE_TYPE,
};

const AF_UNSPEC: u16 = 0;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 23;
const KNOWN_INJECTION_TYPES: u32 = 0xF;
const NETWORK: u32 = 0x4;

impl KernelApi for &SimulatedStack {
    fn ke_get_current_irql(&self) -> KIRQL {
        self.lock().irql_of_current_thread().0
    }

    unsafe fn obf_reference_object(&self, object: *mut c_void) -> isize {
        let mut state = self.lock();
        if state
            .enter(SimCall::ReferenceObject, Irql::DISPATCH)
            .is_some()
        {
            return 0;
        }
        let count = state.references.entry(object as usize).or_insert(1);
        *count += 1;
        *count as isize
    }

    fn ke_query_unbiased_interrupt_time(&self) -> u64 {
        // The virtual clock in 100 ns units, plus one per call so that two reads always differ
        // (a real clock moves between two loads).
        let mut state = self.lock();
        state.interrupt_time_reads += 1;
        (state.clock.as_nanos() / 100) as u64 + state.interrupt_time_reads
    }

    unsafe fn ke_delay_execution_thread(
        &self,
        _wait_mode: KPROCESSOR_MODE,
        _alertable: BOOLEAN,
        interval: *const i64,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = state.enter(SimCall::DelayExecutionThread, Irql::APC) {
            return status.0;
        }
        if interval.is_null() {
            state
                .violations
                .push(Violation::NullPointer(SimCall::DelayExecutionThread));
            return NtStatus::INVALID_PARAMETER.0;
        }
        // SAFETY: the seam's contract makes `interval` a readable i64; null was refused above.
        let ticks = unsafe { interval.read() };
        // Negative: relative; positive: absolute system time (virtual clock), zero: yield.
        let wait = if ticks < 0 {
            Duration::from_nanos(ticks.unsigned_abs().saturating_mul(100))
        } else {
            Duration::from_nanos((ticks as u64).saturating_mul(100)).saturating_sub(state.clock)
        };
        state.clock += wait;
        state.sleeps.push(wait);
        drop(state);
        // Deferred load: which thread slept, and held worker sleeps.
        self.boot_sleep(wait);
        // The sleeping thread also gives up real time (a thousandth of the virtual wait, at most
        // a millisecond), so threads it waits for make progress while it polls, as on a real
        // machine where a 10 ms sleep lets other processors finish their classifies.
        std::thread::sleep((wait / 1000).min(Duration::from_millis(1)));
        NtStatus::SUCCESS.0
    }

    unsafe fn fwps_injection_handle_create0(
        &self,
        address_family: ADDRESS_FAMILY,
        flags: u32,
        handle: *mut HANDLE,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = state.enter(SimCall::InjectionHandleCreate, Irql::PASSIVE) {
            return status.0;
        }
        if handle.is_null() {
            state
                .violations
                .push(Violation::NullPointer(SimCall::InjectionHandleCreate));
            return NtStatus::INVALID_PARAMETER.0;
        }
        if state.not_ready_creates > 0 {
            state.not_ready_creates -= 1;
            return NtStatus::FWP_TCPIP_NOT_READY.0;
        }
        if SimulatedStack::tcpip_not_ready_yet(&state) {
            return NtStatus::FWP_TCPIP_NOT_READY.0;
        }
        let family_known = matches!(address_family, AF_UNSPEC | AF_INET | AF_INET6);
        let network_without_family = address_family == AF_UNSPEC && flags & NETWORK != 0;
        if !family_known || flags & !KNOWN_INJECTION_TYPES != 0 || network_without_family {
            return NtStatus::INVALID_PARAMETER.0;
        }
        let raw = state.next_handle;
        state.next_handle += HANDLE_STEP;
        state.handles.insert(
            raw,
            HandleRecord {
                raw,
                family: address_family,
                flags,
                destroyed: false,
                closing: false,
            },
        );
        // SAFETY: the seam's contract makes `handle` writable; null was refused above.
        unsafe { handle.write(raw as *mut c_void) };
        NtStatus::SUCCESS.0
    }

    unsafe fn fwps_injection_handle_destroy0(&self, handle: HANDLE) -> NTSTATUS {
        let raw = handle as usize;
        {
            let mut state = self.lock();
            if let Some(status) = state.enter(SimCall::InjectionHandleDestroy, Irql::PASSIVE) {
                return status.0;
            }
            if state.completing_on(raw) {
                // Destroy waits for every injection on the handle to complete, this one
                // included, which cannot happen while its completion waits for destroy.
                state
                    .violations
                    .push(Violation::DestroyInsideCompletion(raw));
                return NtStatus::INVALID_DEVICE_STATE.0;
            }
            let violation = match state.handles.get_mut(&raw) {
                None => Some(Violation::DestroyUnknownHandle(raw)),
                Some(record) if record.destroyed => Some(Violation::DestroyDestroyedHandle(raw)),
                Some(record) => {
                    // New injections now get STATUS_FWP_INJECT_HANDLE_CLOSING.
                    record.closing = true;
                    None
                }
            };
            if let Some(violation) = violation {
                state.violations.push(violation);
                return NtStatus::INVALID_HANDLE.0;
            }
        }
        // Destroy returns only once the injections WFP accepted on the handle have completed.
        self.wait_until(SimCall::InjectionHandleDestroy, |state| {
            state.pending_on(raw) == 0
        });
        if let Some(record) = self.lock().handles.get_mut(&raw) {
            record.destroyed = true;
        }
        NtStatus::SUCCESS.0
    }

    unsafe fn fwps_query_packet_injection_state0(
        &self,
        handle: HANDLE,
        nbl: *const NET_BUFFER_LIST,
        injection_context: *mut HANDLE,
    ) -> FWPS_PACKET_INJECTION_STATE {
        self.query(handle, nbl, injection_context)
    }

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
        self.inject(InjectCall {
            path: InjectionPath::TransportSend,
            reserved_in_use: flags != 0,
            handle,
            injection_context,
            family: address_family,
            compartment: compartment_id,
            interface_index: 0,
            sub_interface_index: 0,
            send_args,
            endpoint_or_flow: endpoint_handle,
            data_length: 0,
            nbl,
            completion,
            completion_context,
        })
    }

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
        self.inject(InjectCall {
            path: InjectionPath::TransportReceive,
            reserved_in_use: flags != 0 || !reserved.is_null(),
            handle,
            injection_context,
            family: address_family,
            compartment: compartment_id,
            interface_index,
            sub_interface_index,
            send_args: core::ptr::null_mut(),
            endpoint_or_flow: 0,
            data_length: 0,
            nbl,
            completion,
            completion_context,
        })
    }

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
        self.inject(InjectCall {
            path: InjectionPath::NetworkSend,
            reserved_in_use: flags != 0,
            handle,
            injection_context,
            family: 0,
            compartment: compartment_id,
            interface_index: 0,
            sub_interface_index: 0,
            send_args: core::ptr::null_mut(),
            endpoint_or_flow: 0,
            data_length: 0,
            nbl,
            completion,
            completion_context,
        })
    }

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
        self.inject(InjectCall {
            path: InjectionPath::NetworkReceive,
            reserved_in_use: flags != 0,
            handle,
            injection_context,
            family: 0,
            compartment: compartment_id,
            interface_index,
            sub_interface_index,
            send_args: core::ptr::null_mut(),
            endpoint_or_flow: 0,
            data_length: 0,
            nbl,
            completion,
            completion_context,
        })
    }

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
        self.inject(InjectCall {
            path: InjectionPath::Forward,
            reserved_in_use: flags != 0,
            handle,
            injection_context,
            family: address_family,
            compartment: compartment_id,
            interface_index,
            sub_interface_index: 0,
            send_args: core::ptr::null_mut(),
            endpoint_or_flow: 0,
            data_length: 0,
            nbl,
            completion,
            completion_context,
        })
    }

    unsafe fn fwps_stream_inject_async0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        flags: u32,
        flow_id: u64,
        _callout_id: u32,
        _layer_id: u16,
        _stream_flags: u32,
        nbl: *mut NET_BUFFER_LIST,
        data_length: usize,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::Stream,
            reserved_in_use: flags != 0,
            handle,
            injection_context,
            family: 0,
            compartment: 0,
            interface_index: 0,
            sub_interface_index: 0,
            send_args: core::ptr::null_mut(),
            endpoint_or_flow: flow_id,
            data_length,
            nbl,
            completion,
            completion_context,
        })
    }

    unsafe fn fwps_allocate_clone_net_buffer_list0(
        &self,
        original: *mut NET_BUFFER_LIST,
        _nbl_pool: *mut c_void,
        _nb_pool: *mut c_void,
        flags: u32,
        clone: *mut *mut NET_BUFFER_LIST,
    ) -> NTSTATUS {
        self.clone_packet(original, clone, flags)
    }

    unsafe fn fwps_free_clone_net_buffer_list0(&self, clone: *mut NET_BUFFER_LIST, flags: u32) {
        self.free_clone(clone, flags);
    }

    unsafe fn ex_initialize_rundown_protection(&self, rundown: *mut EX_RUNDOWN_REF) {
        self.rundown_initialize(rundown);
    }

    unsafe fn ex_acquire_rundown_protection(&self, rundown: *mut EX_RUNDOWN_REF) -> BOOLEAN {
        self.rundown_acquire(rundown)
    }

    unsafe fn ex_release_rundown_protection(&self, rundown: *mut EX_RUNDOWN_REF) {
        self.rundown_release(rundown);
    }

    unsafe fn ex_wait_for_rundown_protection_release(&self, rundown: *mut EX_RUNDOWN_REF) {
        self.rundown_wait(rundown);
    }

    unsafe fn ke_initialize_dpc(
        &self,
        dpc: *mut KDPC,
        routine: KDEFERRED_ROUTINE,
        context: *mut c_void,
    ) {
        self.dpc_initialize(dpc, routine, context);
    }

    unsafe fn ke_insert_queue_dpc(
        &self,
        dpc: *mut KDPC,
        argument1: *mut c_void,
        argument2: *mut c_void,
    ) -> BOOLEAN {
        self.dpc_insert(dpc, argument1, argument2)
    }

    unsafe fn ke_flush_queued_dpcs(&self) {
        self.dpc_flush();
    }

    unsafe fn fwpm_engine_open0(
        &self,
        _server_name: *const u16,
        _authn_service: u32,
        _auth_identity: *mut c_void,
        session: *const FWPM_SESSION0,
        engine: *mut HANDLE,
    ) -> NTSTATUS {
        self.engine_open(session, engine)
    }

    unsafe fn fwpm_engine_close0(&self, engine: HANDLE) -> NTSTATUS {
        self.engine_close(engine)
    }

    unsafe fn fwpm_transaction_begin0(&self, engine: HANDLE, _flags: u32) -> NTSTATUS {
        self.transaction(SimCall::TransactionBegin, engine)
    }

    unsafe fn fwpm_transaction_commit0(&self, engine: HANDLE) -> NTSTATUS {
        self.transaction(SimCall::TransactionCommit, engine)
    }

    unsafe fn fwpm_transaction_abort0(&self, engine: HANDLE) -> NTSTATUS {
        self.transaction(SimCall::TransactionAbort, engine)
    }

    unsafe fn fwpm_provider_add0(
        &self,
        engine: HANDLE,
        provider: *const FWPM_PROVIDER0,
        _security: *mut c_void,
    ) -> NTSTATUS {
        self.provider_add(engine, provider)
    }

    unsafe fn fwpm_provider_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS {
        self.object_delete(SimCall::ProviderDelete, engine, key)
    }

    unsafe fn fwpm_sub_layer_add0(
        &self,
        engine: HANDLE,
        sublayer: *const FWPM_SUBLAYER0,
        _security: *mut c_void,
    ) -> NTSTATUS {
        self.sublayer_add(engine, sublayer)
    }

    unsafe fn fwpm_sub_layer_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS {
        self.object_delete(SimCall::SubLayerDelete, engine, key)
    }

    unsafe fn fwpm_callout_add0(
        &self,
        engine: HANDLE,
        callout: *const FWPM_CALLOUT0,
        _security: *mut c_void,
        _id: *mut u32,
    ) -> NTSTATUS {
        self.callout_add(engine, callout)
    }

    unsafe fn fwpm_callout_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS {
        self.object_delete(SimCall::CalloutDelete, engine, key)
    }

    unsafe fn fwpm_filter_add0(
        &self,
        engine: HANDLE,
        filter: *const FWPM_FILTER0,
        _security: *mut c_void,
        id: *mut u64,
    ) -> NTSTATUS {
        self.filter_add(engine, filter, id)
    }

    unsafe fn fwpm_filter_delete_by_key0(&self, engine: HANDLE, key: *const GUID) -> NTSTATUS {
        self.object_delete(SimCall::FilterDelete, engine, key)
    }

    unsafe fn fwps_callout_register1(
        &self,
        device: *mut DEVICE_OBJECT,
        callout: *const FWPS_CALLOUT1,
        id: *mut u32,
    ) -> NTSTATUS {
        self.callout_register(device, callout, id)
    }

    unsafe fn fwps_callout_unregister_by_id0(&self, id: u32) -> NTSTATUS {
        self.callout_unregister(id)
    }

    unsafe fn ndis_retreat_net_buffer_data_start(
        &self,
        net_buffer: *mut NET_BUFFER,
        delta: u32,
        _back_fill: u32,
        _allocate_mdl: *mut c_void,
    ) -> NDIS_STATUS {
        self.retreat(net_buffer, delta)
    }

    unsafe fn ndis_advance_net_buffer_data_start(
        &self,
        net_buffer: *mut NET_BUFFER,
        delta: u32,
        _free_mdl: BOOLEAN,
        _free_mdl_handler: *mut c_void,
    ) {
        self.advance(net_buffer, delta);
    }

    unsafe fn ndis_get_data_buffer(
        &self,
        net_buffer: *mut NET_BUFFER,
        bytes: u32,
        storage: *mut c_void,
        _align_multiple: u32,
        _align_offset: u32,
    ) -> *mut c_void {
        self.data_buffer(net_buffer, bytes, storage)
    }

    unsafe fn zw_open_key(
        &self,
        key: *mut HANDLE,
        _access: ACCESS_MASK,
        attributes: *const OBJECT_ATTRIBUTES,
    ) -> NTSTATUS {
        self.open_key(key, attributes)
    }

    unsafe fn zw_query_value_key(
        &self,
        key: HANDLE,
        name: *const UNICODE_STRING,
        class: u32,
        buffer: *mut c_void,
        length: u32,
        result_length: *mut u32,
    ) -> NTSTATUS {
        self.query_value(key, name, class, buffer, length, result_length)
    }

    unsafe fn zw_close(&self, handle: HANDLE) -> NTSTATUS {
        self.close_handle(handle)
    }

    unsafe fn dbg_print_ex(&self, component: u32, level: u32, text: *const u8) -> u32 {
        self.debug_print(component, level, text)
    }

    // ---- Reinjection rules. ----

    unsafe fn fwps_get_packet_list_security_information0(
        &self,
        packet_list: *mut NET_BUFFER_LIST,
        query_flags: u32,
        information: *mut crate::sys::types::FWPS_PACKET_LIST_INFORMATION0,
    ) -> NTSTATUS {
        self.packet_security_information(packet_list, query_flags, information.cast())
    }

    // ---- Deferred load ----

    unsafe fn fwpm_bfe_state_get0(&self) -> FWPM_SERVICE_STATE {
        self.bfe_state_get()
    }

    unsafe fn fwpm_bfe_state_subscribe_changes0(
        &self,
        device: *mut DEVICE_OBJECT,
        callback: FWPM_SERVICE_STATE_CHANGE_CALLBACK0,
        context: *mut c_void,
        handle: *mut HANDLE,
    ) -> NTSTATUS {
        self.bfe_subscribe(device, callback, context, handle)
    }

    unsafe fn fwpm_bfe_state_unsubscribe_changes0(&self, handle: HANDLE) -> NTSTATUS {
        self.bfe_unsubscribe(handle)
    }

    unsafe fn io_allocate_work_item(&self, device: *mut DEVICE_OBJECT) -> PIO_WORKITEM {
        self.work_item_allocate(device)
    }

    unsafe fn io_queue_work_item(
        &self,
        item: PIO_WORKITEM,
        routine: IO_WORKITEM_ROUTINE,
        queue: WORK_QUEUE_TYPE,
        context: *mut c_void,
    ) {
        self.work_item_queue(item, routine, queue, context)
    }

    unsafe fn io_free_work_item(&self, item: PIO_WORKITEM) {
        self.work_item_free(item)
    }

    // ---- Power transitions (crates/sim/src/power.rs) ----

    unsafe fn ex_create_callback(
        &self,
        object: *mut crate::sys::types::PCALLBACK_OBJECT,
        attributes: *const crate::sys::types::OBJECT_ATTRIBUTES,
        create: BOOLEAN,
        allow_multiple_callbacks: BOOLEAN,
    ) -> NTSTATUS {
        self.callback_create(object, attributes, create, allow_multiple_callbacks)
    }

    unsafe fn ex_register_callback(
        &self,
        object: crate::sys::types::PCALLBACK_OBJECT,
        function: crate::sys::types::CALLBACK_FUNCTION,
        context: *mut c_void,
    ) -> *mut c_void {
        self.callback_register(object, function, context)
    }

    unsafe fn ex_unregister_callback(&self, registration: *mut c_void) {
        self.callback_unregister(registration)
    }

    unsafe fn obf_dereference_object(&self, object: *mut c_void) -> isize {
        self.dereference_object(object)
    }
}

// --- The WDF part of the seam, served by the simulated KMDF for the host client ---

impl crate::sys::WdfApi for &SimulatedStack {
    unsafe fn wdf_driver_create(
        &self,
        driver_object: *mut crate::sys::types::DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
        attributes: *mut c_void,
        config: *mut crate::sys::types::WDF_DRIVER_CONFIG,
        driver: *mut crate::sys::types::WDFDRIVER,
    ) -> NTSTATUS {
        let host = core::ptr::null_mut();
        // SAFETY: the seam's contract, which is the simulated function's.
        unsafe {
            self.wdf_driver_create_for(
                host,
                driver_object,
                registry_path,
                attributes,
                config,
                driver,
            )
        }
    }

    unsafe fn wdf_control_device_init_allocate(
        &self,
        driver: crate::sys::types::WDFDRIVER,
        sddl: *const UNICODE_STRING,
    ) -> crate::sys::types::PWDFDEVICE_INIT {
        // SAFETY: the seam's contract, which is the simulated function's.
        unsafe { self.wdf_control_device_init_allocate_for(core::ptr::null_mut(), driver, sddl) }
    }

    unsafe fn wdf_device_init_set_device_type(
        &self,
        init: crate::sys::types::PWDFDEVICE_INIT,
        device_type: u32,
    ) {
        self.wdf_device_init_set_device_type_for(core::ptr::null_mut(), init, device_type);
    }

    unsafe fn wdf_device_init_set_characteristics(
        &self,
        init: crate::sys::types::PWDFDEVICE_INIT,
        characteristics: u32,
        or_in: BOOLEAN,
    ) {
        self.wdf_device_init_set_characteristics_for(
            core::ptr::null_mut(),
            init,
            characteristics,
            or_in,
        );
    }

    unsafe fn wdf_device_create(
        &self,
        init: *mut crate::sys::types::PWDFDEVICE_INIT,
        attributes: *mut c_void,
        device: *mut crate::sys::types::WDFDEVICE,
    ) -> NTSTATUS {
        // SAFETY: the seam's contract, which is the simulated function's.
        unsafe { self.wdf_device_create_for(core::ptr::null_mut(), init, attributes, device) }
    }

    unsafe fn wdf_device_init_free(&self, init: crate::sys::types::PWDFDEVICE_INIT) {
        self.wdf_device_init_free_for(core::ptr::null_mut(), init);
    }

    unsafe fn wdf_control_finish_initializing(&self, device: crate::sys::types::WDFDEVICE) {
        self.wdf_control_finish_initializing_for(core::ptr::null_mut(), device);
    }

    unsafe fn wdf_device_wdm_get_device_object(
        &self,
        device: crate::sys::types::WDFDEVICE,
    ) -> *mut DEVICE_OBJECT {
        self.wdf_device_wdm_get_device_object_for(core::ptr::null_mut(), device)
    }

    unsafe fn wdf_object_delete(&self, object: crate::sys::types::WDFOBJECT) {
        self.wdf_object_delete_for(core::ptr::null_mut(), object);
    }
}
