//! The simulated stack's implementation of the seam: the documented semantics of each call.

use core::ffi::c_void;
use std::time::Duration;

use super::stack::{HANDLE_STEP, HandleRecord, SimCall, SimulatedStack, Violation};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::{ADDRESS_FAMILY, BOOLEAN, HANDLE, KIRQL, KPROCESSOR_MODE, NTSTATUS};

const AF_UNSPEC: u16 = 0;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 23;
const KNOWN_INJECTION_TYPES: u32 = 0xF;
const NETWORK: u32 = 0x4;

impl KernelApi for SimulatedStack {
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
            },
        );
        // SAFETY: the seam's contract makes `handle` writable; null was refused above.
        unsafe { handle.write(raw as *mut c_void) };
        NtStatus::SUCCESS.0
    }

    unsafe fn fwps_injection_handle_destroy0(&self, handle: HANDLE) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = state.enter(SimCall::InjectionHandleDestroy, Irql::PASSIVE) {
            return status.0;
        }
        let raw = handle as usize;
        let violation = match state.handles.get_mut(&raw) {
            None => Violation::DestroyUnknownHandle(raw),
            Some(record) if record.destroyed => Violation::DestroyDestroyedHandle(raw),
            Some(record) => {
                record.destroyed = true;
                return NtStatus::SUCCESS.0;
            }
        };
        state.violations.push(violation);
        NtStatus::INVALID_HANDLE.0
    }
}
