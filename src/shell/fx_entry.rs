//! The Linux-built image's entry point: `FxDriverEntry` (`/ENTRY:FxDriverEntry`) binds KMDF with
//! the image's binding (`crate::sys::kmdf_stub::BINDING`) and runs the shell's DriverEntry;
//! `fx_driver_unload` is the unload routine the binding puts in front of the framework's. The WDK
//! build gets both from WdfDriverEntry.lib instead.

use crate::sys::kmdf_stub::BINDING;
use crate::sys::types::{DRIVER_OBJECT, NTSTATUS, UNICODE_STRING};
use crate::sys::windows::WindowsKernel;

/// The image's entry point (`/ENTRY:FxDriverEntry`): binds KMDF, runs the shell's DriverEntry,
/// unbinds when it fails (`Binding::enter`).
///
/// IRQL: PASSIVE_LEVEL, in the system process.
///
/// # Safety
/// Called once by the I/O manager with a valid driver object and registry path.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn FxDriverEntry(
    driver_object: *mut DRIVER_OBJECT,
    registry_path: *const UNICODE_STRING,
) -> NTSTATUS {
    let shell = |driver, path| {
        // SAFETY: called once by `enter`, the framework bound, with the I/O manager's arguments.
        unsafe { super::kmdf::image::driver_entry(driver, path) }
    };
    // SAFETY: the caller's contract; BINDING is a static; fx_driver_unload unloads through it.
    unsafe {
        BINDING.enter(
            &WindowsKernel,
            driver_object,
            registry_path,
            shell,
            fx_driver_unload,
        )
    }
}

/// The displacing unload routine (`Binding::unload`).
///
/// IRQL: PASSIVE_LEVEL.
unsafe extern "win64" fn fx_driver_unload(driver_object: *mut DRIVER_OBJECT) {
    // SAFETY: the I/O manager's unload call for the driver FxDriverEntry entered.
    unsafe { BINDING.unload(&WindowsKernel, driver_object) };
}
