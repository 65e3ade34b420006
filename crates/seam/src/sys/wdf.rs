//! The WDF part of the seam: the framework functions the KMDF shell calls, one method each,
//! named after the function without its `WDF_DRIVER_GLOBALS` argument (each binding supplies
//! it). Three implementations:
//!
//! - the image built on Linux ([`super::windows::WindowsKernel`], not `--features wdk`): through
//!   the function table wdfldr.sys fills when the image's own FxDriverEntry binds
//!   (`super::kmdf_stub`);
//! - the WDK build (`--features wdk`): through wdk-sys' `call_unsafe_wdf_function_binding!`
//!   (`super::wdk_binding`), WdfDriverEntry.lib doing the binding;
//! - the simulated KMDF (the `wfp-sim` crate), for host tests of the shell's logic.
//!
//! All of them are PASSIVE_LEVEL calls made from DriverEntry or EvtDriverUnload, except where a
//! method says otherwise.

use core::ffi::c_void;

use super::types::{
    BOOLEAN, DEVICE_OBJECT, DRIVER_OBJECT, NTSTATUS, PWDFDEVICE_INIT, UNICODE_STRING,
    WDF_DRIVER_CONFIG, WDFDEVICE, WDFDRIVER, WDFOBJECT,
};

/// The WDF functions the KMDF shell uses.
pub trait WdfApi: Clone {
    /// `WdfDriverCreate`. `attributes` is null (`WDF_NO_OBJECT_ATTRIBUTES`).
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL, in DriverEntry; `driver_object` and `registry_path` are the ones
    /// DriverEntry received; `config` is valid for the call; `driver` is null or writable.
    unsafe fn wdf_driver_create(
        &self,
        driver_object: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
        attributes: *mut c_void,
        config: *mut WDF_DRIVER_CONFIG,
        driver: *mut WDFDRIVER,
    ) -> NTSTATUS;

    /// `WdfControlDeviceInitAllocate`: null on failure.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `driver` came from `wdf_driver_create`; `sddl` is a valid string
    /// for the call.
    unsafe fn wdf_control_device_init_allocate(
        &self,
        driver: WDFDRIVER,
        sddl: *const UNICODE_STRING,
    ) -> PWDFDEVICE_INIT;

    /// `WdfDeviceInitSetDeviceType`.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `init` is a live device init.
    unsafe fn wdf_device_init_set_device_type(&self, init: PWDFDEVICE_INIT, device_type: u32);

    /// `WdfDeviceInitSetCharacteristics`: replaces the characteristics, or ORs them in when
    /// `or_in` is non-zero.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `init` is a live device init.
    unsafe fn wdf_device_init_set_characteristics(
        &self,
        init: PWDFDEVICE_INIT,
        characteristics: u32,
        or_in: BOOLEAN,
    );

    /// `WdfDeviceCreate`: on success the framework owns `*init` (and clears it); on failure the
    /// caller still owns it and must free it with [`Self::wdf_device_init_free`].
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `init` points to a live device init; `device` is writable.
    unsafe fn wdf_device_create(
        &self,
        init: *mut PWDFDEVICE_INIT,
        attributes: *mut c_void,
        device: *mut WDFDEVICE,
    ) -> NTSTATUS;

    /// `WdfDeviceInitFree`.
    ///
    /// # Safety
    /// IRQL == PASSIVE_LEVEL; `init` is a live device init no device was created from; freed once.
    unsafe fn wdf_device_init_free(&self, init: PWDFDEVICE_INIT);

    /// `WdfControlFinishInitializing`.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `device` is a control device just created.
    unsafe fn wdf_control_finish_initializing(&self, device: WDFDEVICE);

    /// `WdfDeviceWdmGetDeviceObject`: the device's WDM object.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `device` is live.
    unsafe fn wdf_device_wdm_get_device_object(&self, device: WDFDEVICE) -> *mut DEVICE_OBJECT;

    /// `WdfObjectDelete`.
    ///
    /// # Safety
    /// IRQL <= DISPATCH_LEVEL; `object` is live and deleted once.
    unsafe fn wdf_object_delete(&self, object: WDFOBJECT);
}
