//! The WDM entry shell of the image built on Linux (KMDF cannot be linked without the WDK's
//! WdfDriverEntry.lib). It creates the unnamed device object WFP callout registration needs,
//! hands it to the shared [`Driver`], and installs the unload routine. Nothing else happens here.

use core::ptr;

use super::slot;
use crate::driver::{Driver, DriverConfig};
use crate::nt::{DeviceObject, NtStatus, RegistryPath};
use crate::sys::types::{
    DEVICE_OBJECT, DRIVER_OBJECT, FILE_DEVICE_SECURE_OPEN, FILE_DEVICE_UNKNOWN, NTSTATUS,
    UNICODE_STRING,
};
use crate::sys::windows::WindowsKernel;

/// The driver's entry point (the image's PE entry, `/ENTRY:DriverEntry`).
///
/// IRQL: PASSIVE_LEVEL, in the system process.
///
/// # Safety
/// Called once by the I/O manager with a valid driver object and registry path.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverEntry(
    driver_object: *mut DRIVER_OBJECT,
    registry_path: *const UNICODE_STRING,
) -> NTSTATUS {
    let mut device: *mut DEVICE_OBJECT = ptr::null_mut();
    // SAFETY: PASSIVE_LEVEL in DriverEntry; `driver_object` is the I/O manager's; an unnamed
    // device needs no name; `device` is writable.
    let status = unsafe {
        WindowsKernel::io_create_device(
            driver_object,
            0,
            ptr::null(),
            FILE_DEVICE_UNKNOWN,
            FILE_DEVICE_SECURE_OPEN,
            0,
            &mut device,
        )
    };
    if !NtStatus(status).is_success() {
        return status;
    }
    // SAFETY: IoCreateDevice succeeded, so `device` is this driver's device object; it is
    // deleted only after the driver unloads (or below, when loading fails).
    let Some(device_object) = (unsafe { DeviceObject::from_raw(device) }) else {
        return NtStatus::UNSUCCESSFUL.0;
    };
    // SAFETY: the I/O manager's registry path is valid for the duration of DriverEntry.
    let registry_path = unsafe { RegistryPath::from_raw(registry_path) };
    let status = match Driver::load(
        WindowsKernel,
        device_object,
        registry_path,
        &DriverConfig::default(),
    ) {
        Ok(loaded) => match slot::store(loaded) {
            Ok(()) => {
                // SAFETY: `driver_object` is valid for the whole call (I/O manager's contract).
                unsafe { (*driver_object).DriverUnload = Some(driver_unload) };
                return NtStatus::SUCCESS.0;
            }
            Err(loaded) => {
                if loaded.unload_for_shell().image_in_use {
                    // As below: the device object stays while WFP may call the image.
                    return NtStatus::INSUFFICIENT_RESOURCES.0;
                }
                NtStatus::INSUFFICIENT_RESOURCES.0
            }
        },
        Err(failure) if failure.image_in_use => {
            // A callout stayed registered: WFP may still call this image. The device object
            // keeps the driver object referenced, and with it the image, so it is not deleted.
            return failure.status.0;
        }
        Err(failure) => failure.status.0,
    };
    // SAFETY: `device` was created above, nothing uses it, and it is deleted once.
    unsafe { WindowsKernel::io_delete_device(device) };
    status
}

/// Releases what DriverEntry created, in reverse order.
///
/// IRQL: PASSIVE_LEVEL.
unsafe extern "win64" fn driver_unload(_driver_object: *mut DRIVER_OBJECT) {
    let Some(loaded) = slot::take() else {
        return;
    };
    let device = loaded.device().as_raw();
    if loaded.unload_for_shell().image_in_use {
        // WFP may still call this image (a callout never unregistered): keep the device object,
        // which keeps the driver object and the image from going away.
        return;
    }
    // SAFETY: the device was created by DriverEntry and nothing uses it after the driver unloads.
    unsafe { WindowsKernel::io_delete_device(device) };
}
