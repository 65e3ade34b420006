//! The Linux-built image's KMDF binding over wdfldr.sys: [`BINDING`], which the shell's
//! FxDriverEntry enters (`crate::sys::kmdf_binding::Binding`: what the WDK's WdfDriverEntry.lib
//! does, written here because that library cannot be linked without the WDK; host tests run the
//! same binding code over the simulated wdfldr), and wdfldr's two exports as its loader.
//!
//! Every WDF call ([`WdfApi`] for [`WindowsKernel`]) reads the table entry at the function's
//! WDFFUNCENUM index and calls it with the globals first.

use core::ffi::c_void;
use core::ptr;

use super::WdfApi;
use super::kmdf_binding::{Binding, WdfLoader};
use super::types::{
    BOOLEAN, DEVICE_OBJECT, DRIVER_OBJECT, NTSTATUS, PFN_WDFCONTROLDEVICEINITALLOCATE,
    PFN_WDFCONTROLFINISHINITIALIZING, PFN_WDFDEVICECREATE, PFN_WDFDEVICEINITFREE,
    PFN_WDFDEVICEINITSETCHARACTERISTICS, PFN_WDFDEVICEINITSETDEVICETYPE,
    PFN_WDFDEVICEWDMGETDEVICEOBJECT, PFN_WDFDRIVERCREATE, PFN_WDFOBJECTDELETE, PWDFDEVICE_INIT,
    UNICODE_STRING, WDF_BIND_INFO, WDF_DRIVER_CONFIG, WDF_DRIVER_GLOBALS, WDFDEVICE, WDFDRIVER,
    WDFFUNC, WDFOBJECT, WdfControlDeviceInitAllocateTableIndex,
    WdfControlFinishInitializingTableIndex, WdfDeviceCreateTableIndex, WdfDeviceInitFreeTableIndex,
    WdfDeviceInitSetCharacteristicsTableIndex, WdfDeviceInitSetDeviceTypeTableIndex,
    WdfDeviceWdmGetDeviceObjectTableIndex, WdfDriverCreateTableIndex, WdfObjectDeleteTableIndex,
};
use super::windows::WindowsKernel;
use crate::nt::NtStatus;

/// The image's binding to the framework (one per image: one load at a time): the shell's
/// FxDriverEntry enters it, and every WDF call below reads the table it bound.
pub static BINDING: Binding = Binding::new();

impl WdfLoader for WindowsKernel {
    unsafe fn version_bind(
        &self,
        driver_object: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
        info: *mut WDF_BIND_INFO,
        globals: *mut *mut WDF_DRIVER_GLOBALS,
    ) -> NTSTATUS {
        // SAFETY: the trait method's contract is the export's.
        unsafe { WindowsKernel::wdf_version_bind(driver_object, registry_path, info, globals) }
    }

    unsafe fn version_unbind(
        &self,
        registry_path: *const UNICODE_STRING,
        info: *mut WDF_BIND_INFO,
        globals: *mut WDF_DRIVER_GLOBALS,
    ) -> NTSTATUS {
        // SAFETY: the trait method's contract is the export's.
        unsafe { WindowsKernel::wdf_version_unbind(registry_path, info, globals) }
    }
}

/// The bound table's entry at `index` and the globals, or `None` when unbound or empty.
fn entry(index: usize) -> Option<(WDFFUNC, *mut WDF_DRIVER_GLOBALS)> {
    BINDING.function(index)
}

impl WdfApi for WindowsKernel {
    unsafe fn wdf_driver_create(
        &self,
        driver_object: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
        attributes: *mut c_void,
        config: *mut WDF_DRIVER_CONFIG,
        driver: *mut WDFDRIVER,
    ) -> NTSTATUS {
        let Some((function, globals)) = entry(WdfDriverCreateTableIndex) else {
            return NtStatus::UNSUCCESSFUL.0;
        };
        // SAFETY: the entry at WdfDriverCreateTableIndex has this type (wdfdriver.h).
        let function = unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFDRIVERCREATE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe {
            function(
                globals,
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
        driver: WDFDRIVER,
        sddl: *const UNICODE_STRING,
    ) -> PWDFDEVICE_INIT {
        let Some((function, globals)) = entry(WdfControlDeviceInitAllocateTableIndex) else {
            return ptr::null_mut();
        };
        // SAFETY: the entry at this index has this type (wdfcontrol.h).
        let function =
            unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFCONTROLDEVICEINITALLOCATE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, driver, sddl) }
    }

    unsafe fn wdf_device_init_set_device_type(&self, init: PWDFDEVICE_INIT, device_type: u32) {
        let Some((function, globals)) = entry(WdfDeviceInitSetDeviceTypeTableIndex) else {
            return;
        };
        // SAFETY: the entry at this index has this type (wdfdevice.h).
        let function =
            unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFDEVICEINITSETDEVICETYPE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, init, device_type) }
    }

    unsafe fn wdf_device_init_set_characteristics(
        &self,
        init: PWDFDEVICE_INIT,
        characteristics: u32,
        or_in: BOOLEAN,
    ) {
        let Some((function, globals)) = entry(WdfDeviceInitSetCharacteristicsTableIndex) else {
            return;
        };
        // SAFETY: the entry at this index has this type (wdfdevice.h).
        let function = unsafe {
            core::mem::transmute::<WDFFUNC, PFN_WDFDEVICEINITSETCHARACTERISTICS>(function)
        };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, init, characteristics, or_in) }
    }

    unsafe fn wdf_device_create(
        &self,
        init: *mut PWDFDEVICE_INIT,
        attributes: *mut c_void,
        device: *mut WDFDEVICE,
    ) -> NTSTATUS {
        let Some((function, globals)) = entry(WdfDeviceCreateTableIndex) else {
            return NtStatus::UNSUCCESSFUL.0;
        };
        // SAFETY: the entry at this index has this type (wdfdevice.h).
        let function = unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFDEVICECREATE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, init, attributes, device) }
    }

    unsafe fn wdf_device_init_free(&self, init: PWDFDEVICE_INIT) {
        let Some((function, globals)) = entry(WdfDeviceInitFreeTableIndex) else {
            return;
        };
        // SAFETY: the entry at this index has this type (wdfdevice.h).
        let function = unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFDEVICEINITFREE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, init) }
    }

    unsafe fn wdf_control_finish_initializing(&self, device: WDFDEVICE) {
        let Some((function, globals)) = entry(WdfControlFinishInitializingTableIndex) else {
            return;
        };
        // SAFETY: the entry at this index has this type (wdfcontrol.h).
        let function =
            unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFCONTROLFINISHINITIALIZING>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, device) }
    }

    unsafe fn wdf_device_wdm_get_device_object(&self, device: WDFDEVICE) -> *mut DEVICE_OBJECT {
        let Some((function, globals)) = entry(WdfDeviceWdmGetDeviceObjectTableIndex) else {
            return ptr::null_mut();
        };
        // SAFETY: the entry at this index has this type (wdfdevice.h).
        let function =
            unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFDEVICEWDMGETDEVICEOBJECT>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, device) }
    }

    unsafe fn wdf_object_delete(&self, object: WDFOBJECT) {
        let Some((function, globals)) = entry(WdfObjectDeleteTableIndex) else {
            return;
        };
        // SAFETY: the entry at this index has this type (wdfobject.h).
        let function = unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFOBJECTDELETE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, object) }
    }
}
