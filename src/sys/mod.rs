//! The seam: every kernel function this crate calls, and nothing else.
//!
//! [`KernelApi`] lists them with their kernel names and C semantics. Two implementations exist:
//! [`windows::WindowsKernel`] (the image: `extern "system"` imports bound by the Windows loader)
//! and `crate::sim::SimulatedStack` (host tests: a second implementation of the documented
//! behaviour). Everything above this module is safe Rust generic over `K: KernelApi`, so both run
//! the same code. No other module declares FFI.

pub mod types;

#[cfg(target_os = "windows")]
pub mod windows;

#[cfg(all(target_os = "windows", not(feature = "wdk")))]
pub mod runtime;

use types::{ADDRESS_FAMILY, BOOLEAN, HANDLE, KIRQL, KPROCESSOR_MODE, NTSTATUS};

/// The kernel functions the safe layer is built on, one method each, named after the export.
///
/// Methods are `unsafe` where the kernel function has preconditions a type cannot express (IRQL,
/// pointer validity, handle liveness); the safe layer upholds them and says how in `SAFETY:` notes.
pub trait KernelApi {
    /// `KeGetCurrentIrql`. Any IRQL.
    fn ke_get_current_irql(&self) -> KIRQL;

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
}

impl<K: KernelApi + ?Sized> KernelApi for &K {
    #[inline(always)]
    fn ke_get_current_irql(&self) -> KIRQL {
        (**self).ke_get_current_irql()
    }

    #[inline(always)]
    unsafe fn ke_delay_execution_thread(
        &self,
        wait_mode: KPROCESSOR_MODE,
        alertable: BOOLEAN,
        interval: *const i64,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the same contract for the referenced implementation.
        unsafe { (**self).ke_delay_execution_thread(wait_mode, alertable, interval) }
    }

    #[inline(always)]
    unsafe fn fwps_injection_handle_create0(
        &self,
        address_family: ADDRESS_FAMILY,
        flags: u32,
        handle: *mut HANDLE,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the same contract for the referenced implementation.
        unsafe { (**self).fwps_injection_handle_create0(address_family, flags, handle) }
    }

    #[inline(always)]
    unsafe fn fwps_injection_handle_destroy0(&self, handle: HANDLE) -> NTSTATUS {
        // SAFETY: the caller upholds the same contract for the referenced implementation.
        unsafe { (**self).fwps_injection_handle_destroy0(handle) }
    }
}
