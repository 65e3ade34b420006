//! The simulated stack's implementation of the seam: the documented semantics of each call.

use core::ffi::c_void;
use std::time::Duration;

use super::packets::{InjectCall, InjectionPath};
use super::stack::{HANDLE_STEP, HandleRecord, SimCall, SimulatedStack, Violation};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::{
    ADDRESS_FAMILY, BOOLEAN, COMPARTMENT_ID, EX_RUNDOWN_REF, FWPS_INJECT_COMPLETE0,
    FWPS_PACKET_INJECTION_STATE, FWPS_TRANSPORT_SEND_PARAMS0, HANDLE, IF_INDEX, KDEFERRED_ROUTINE,
    KDPC, KIRQL, KPROCESSOR_MODE, NET_BUFFER_LIST, NTSTATUS,
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
        _flags: u32,
        send_args: *mut FWPS_TRANSPORT_SEND_PARAMS0,
        address_family: ADDRESS_FAMILY,
        compartment_id: COMPARTMENT_ID,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::TransportSend,
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
        _reserved: *mut c_void,
        _flags: u32,
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
        _flags: u32,
        compartment_id: COMPARTMENT_ID,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::NetworkSend,
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
        _flags: u32,
        compartment_id: COMPARTMENT_ID,
        interface_index: IF_INDEX,
        sub_interface_index: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::NetworkReceive,
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
        _flags: u32,
        address_family: ADDRESS_FAMILY,
        compartment_id: COMPARTMENT_ID,
        interface_index: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::Forward,
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
        _flags: u32,
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
        _flags: u32,
        clone: *mut *mut NET_BUFFER_LIST,
    ) -> NTSTATUS {
        self.clone_packet(original, clone)
    }

    unsafe fn fwps_free_clone_net_buffer_list0(&self, clone: *mut NET_BUFFER_LIST, _flags: u32) {
        self.free_clone(clone);
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
}
