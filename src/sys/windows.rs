//! The kernel implementation of the seam: imports resolved by the Windows loader.
//!
//! `raw-dylib` lets any host link the image without the WDK's import libraries; `+verbatim` keeps
//! the module names exactly as written (otherwise `fwpkclnt.sys` would become `fwpkclnt.sys.dll`).

use core::ffi::c_void;

use super::KernelApi;
use super::types::{
    ADDRESS_FAMILY, BOOLEAN, DEVICE_OBJECT, DRIVER_OBJECT, HANDLE, KIRQL, KPROCESSOR_MODE,
    NTSTATUS, POOL_FLAGS, UNICODE_STRING,
};

#[link(name = "fwpkclnt.sys", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn FwpsInjectionHandleCreate0(
        addressFamily: ADDRESS_FAMILY,
        flags: u32,
        injectionHandle: *mut HANDLE,
    ) -> NTSTATUS;
    fn FwpsInjectionHandleDestroy0(injectionHandle: HANDLE) -> NTSTATUS;
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
