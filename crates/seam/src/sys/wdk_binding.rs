//! The WDK build's binding of the WDF seam (`--features wdk`): every method is one
//! `call_unsafe_wdf_function_binding!` (wdk-sys), which indexes the table WdfDriverEntry.lib
//! bound and passes its globals. The seam's types are the headers' layouts (checked against the
//! facts table on Linux; build.rs' wdk-compare list does not yet include the WDF structures), so
//! pointers are cast between the two declarations of the same structure.

use core::ffi::c_void;

use wdk_sys::call_unsafe_wdf_function_binding;

use super::WdfApi;
use super::types::{
    BOOLEAN, DEVICE_OBJECT, DRIVER_OBJECT, NTSTATUS, PWDFDEVICE_INIT, UNICODE_STRING,
    WDF_DRIVER_CONFIG, WDFDEVICE, WDFDRIVER, WDFOBJECT,
};
use super::windows::WindowsKernel;

impl WdfApi for WindowsKernel {
    unsafe fn wdf_driver_create(
        &self,
        driver_object: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
        attributes: *mut c_void,
        config: *mut WDF_DRIVER_CONFIG,
        driver: *mut WDFDRIVER,
    ) -> NTSTATUS {
        // SAFETY: the caller upholds the trait method's contract, which is the function's; the
        // casts are between declarations of the same header structures.
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfDriverCreate,
                driver_object.cast(),
                registry_path.cast(),
                attributes.cast(),
                config.cast(),
                driver.cast(),
            )
        }
    }

    unsafe fn wdf_control_device_init_allocate(
        &self,
        driver: WDFDRIVER,
        sddl: *const UNICODE_STRING,
    ) -> PWDFDEVICE_INIT {
        // SAFETY: as above.
        let init = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfControlDeviceInitAllocate,
                driver.cast(),
                sddl.cast()
            )
        };
        init.cast()
    }

    unsafe fn wdf_device_init_set_device_type(&self, init: PWDFDEVICE_INIT, device_type: u32) {
        // SAFETY: as above.
        unsafe {
            call_unsafe_wdf_function_binding!(WdfDeviceInitSetDeviceType, init.cast(), device_type)
        }
    }

    unsafe fn wdf_device_init_set_characteristics(
        &self,
        init: PWDFDEVICE_INIT,
        characteristics: u32,
        or_in: BOOLEAN,
    ) {
        // SAFETY: as above.
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfDeviceInitSetCharacteristics,
                init.cast(),
                characteristics,
                or_in
            )
        }
    }

    unsafe fn wdf_device_create(
        &self,
        init: *mut PWDFDEVICE_INIT,
        attributes: *mut c_void,
        device: *mut WDFDEVICE,
    ) -> NTSTATUS {
        // SAFETY: as above.
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfDeviceCreate,
                init.cast(),
                attributes.cast(),
                device.cast()
            )
        }
    }

    unsafe fn wdf_device_init_free(&self, init: PWDFDEVICE_INIT) {
        // SAFETY: as above.
        unsafe { call_unsafe_wdf_function_binding!(WdfDeviceInitFree, init.cast()) }
    }

    unsafe fn wdf_control_finish_initializing(&self, device: WDFDEVICE) {
        // SAFETY: as above.
        unsafe { call_unsafe_wdf_function_binding!(WdfControlFinishInitializing, device.cast()) }
    }

    unsafe fn wdf_device_wdm_get_device_object(&self, device: WDFDEVICE) -> *mut DEVICE_OBJECT {
        // SAFETY: as above.
        let object = unsafe {
            call_unsafe_wdf_function_binding!(WdfDeviceWdmGetDeviceObject, device.cast())
        };
        object.cast()
    }

    unsafe fn wdf_object_delete(&self, object: WDFOBJECT) {
        // SAFETY: as above.
        unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, object.cast()) }
    }
}
