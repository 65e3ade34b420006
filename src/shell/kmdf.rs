//! The KMDF entry shell of the WDK build (`cargo make`, `--features wdk`). Compiled only with the
//! WDK: it cannot be built on Linux, so it stays as thin as the WDM shell and follows
//! windows-drivers-rs' sample-kmdf-driver (examples/sample-kmdf-driver/src/lib.rs) for the
//! entry symbol, `call_unsafe_wdf_function_binding!`, wdk-alloc and wdk-panic.
//!
//! A non-PnP driver (WdfDriverInitNonPnpDriver) with an EvtDriverUnload, one control device
//! whose SDDL admits only System and Administrators, and its WDM device object handed to the
//! shared [`Driver`]. Unload runs in the reverse order.

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use wdk_sys::_WDF_DRIVER_INIT_FLAGS::WdfDriverInitNonPnpDriver;
use wdk_sys::{
    NTSTATUS, PCUNICODE_STRING, PWDFDEVICE_INIT, ULONG, WDF_DRIVER_CONFIG,
    WDF_NO_OBJECT_ATTRIBUTES, WDFDEVICE, WDFDRIVER, WDFOBJECT, call_unsafe_wdf_function_binding,
};

use super::slot;
use crate::driver::text::{wide, wide_len_bytes};
use crate::driver::{Driver, DriverConfig};
use crate::nt::{DeviceObject, NtStatus, RegistryPath};
use crate::sys::windows::WindowsKernel;

extern crate wdk_panic;

#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;

/// SDDL_DEVOBJ_SYS_ALL_ADM_ALL (wdmsec.h): System and Administrators, all access.
static CONTROL_DEVICE_SDDL: [u16; 28] = wide("D:P(A;;GA;;;SY)(A;;GA;;;BA)");

/// The control device, deleted at unload.
static CONTROL_DEVICE: AtomicPtr<wdk_sys::WDFDEVICE__> = AtomicPtr::new(ptr::null_mut());

/// `DriverEntry`, called by KMDF's FxDriverEntry.
///
/// IRQL: PASSIVE_LEVEL.
///
/// # Safety
/// Called once by the framework with a valid driver object and registry path.
#[unsafe(export_name = "DriverEntry")] // WDF expects a symbol with the name DriverEntry
pub unsafe extern "system" fn driver_entry(
    driver: &mut wdk_sys::DRIVER_OBJECT,
    registry_path: PCUNICODE_STRING,
) -> NTSTATUS {
    let mut config = WDF_DRIVER_CONFIG {
        Size: const { core::mem::size_of::<WDF_DRIVER_CONFIG>() as ULONG },
        EvtDriverUnload: Some(evt_driver_unload),
        DriverInitFlags: WdfDriverInitNonPnpDriver as ULONG,
        ..WDF_DRIVER_CONFIG::default()
    };
    let mut wdf_driver: WDFDRIVER = ptr::null_mut();
    // SAFETY: `driver` and `registry_path` come from the framework; null attributes are allowed;
    // `config` and `wdf_driver` are valid for the call.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDriverCreate,
            driver as *mut wdk_sys::DRIVER_OBJECT,
            registry_path,
            WDF_NO_OBJECT_ATTRIBUTES,
            &mut config,
            &mut wdf_driver,
        )
    };
    if !NtStatus(status).is_success() {
        return status;
    }
    let sddl = wdk_sys::UNICODE_STRING {
        Length: wide_len_bytes(&CONTROL_DEVICE_SDDL),
        MaximumLength: wide_len_bytes(&CONTROL_DEVICE_SDDL),
        // The framework only reads the SDDL string.
        Buffer: CONTROL_DEVICE_SDDL.as_ptr().cast_mut(),
    };
    // SAFETY: `wdf_driver` was just created; `sddl` outlives the call.
    let mut init: PWDFDEVICE_INIT = unsafe {
        call_unsafe_wdf_function_binding!(WdfControlDeviceInitAllocate, wdf_driver, &sddl)
    };
    if init.is_null() {
        return NtStatus::INSUFFICIENT_RESOURCES.0;
    }
    let mut device: WDFDEVICE = ptr::null_mut();
    // SAFETY: `init` came from WdfControlDeviceInitAllocate; null attributes are allowed.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceCreate,
            &mut init,
            WDF_NO_OBJECT_ATTRIBUTES,
            &mut device
        )
    };
    if !NtStatus(status).is_success() {
        // SAFETY: WdfDeviceCreate failed, so the init structure is still ours to free.
        unsafe { call_unsafe_wdf_function_binding!(WdfDeviceInitFree, init) };
        return status;
    }
    // SAFETY: `device` is the control device just created.
    unsafe { call_unsafe_wdf_function_binding!(WdfControlFinishInitializing, device) };
    // SAFETY: as above.
    let wdm_device =
        unsafe { call_unsafe_wdf_function_binding!(WdfDeviceWdmGetDeviceObject, device) };
    // SAFETY: the control device's WDM object lives until WdfObjectDelete at unload.
    let device_object = unsafe { DeviceObject::from_raw(wdm_device.cast()) };
    // SAFETY: the framework's registry path is valid for the duration of DriverEntry.
    let registry_path = unsafe { RegistryPath::from_raw(registry_path.cast()) };
    let loaded = match device_object {
        Some(device_object) => Driver::load(
            WindowsKernel,
            device_object,
            registry_path,
            &DriverConfig::default(),
        )
        .map_err(|failure| failure.status.0),
        None => Err(NtStatus::UNSUCCESSFUL.0),
    };
    let status = match loaded.map(slot::store) {
        Ok(Ok(())) => {
            CONTROL_DEVICE.store(device, Ordering::Release);
            return NtStatus::SUCCESS.0;
        }
        Ok(Err(loaded)) => {
            loaded.unload();
            NtStatus::INSUFFICIENT_RESOURCES.0
        }
        Err(status) => status,
    };
    // SAFETY: the control device was created above and nothing refers to it.
    unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, device as WDFOBJECT) };
    status
}

/// EvtDriverUnload: the shared driver unloads, then the control device goes.
///
/// IRQL: PASSIVE_LEVEL.
extern "C" fn evt_driver_unload(_driver: WDFDRIVER) {
    if let Some(loaded) = slot::take() {
        let _ = loaded.unload();
    }
    let device = CONTROL_DEVICE.swap(ptr::null_mut(), Ordering::Acquire);
    if !device.is_null() {
        // SAFETY: the control device created by driver_entry, deleted once (the swap above).
        unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, device as WDFOBJECT) };
    }
}
