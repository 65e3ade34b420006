//! The WDK build's entry (`cargo make`, `--features wdk`): WdfDriverEntry.lib's FxDriverEntry
//! binds the framework and calls the symbol `DriverEntry`, which hands over to the same KMDF
//! shell the Linux-built image runs. wdk-alloc and wdk-panic as in windows-drivers-rs'
//! sample-kmdf-driver (examples/sample-kmdf-driver/src/lib.rs).

use crate::sys::types::{DRIVER_OBJECT, NTSTATUS, UNICODE_STRING};

#[cfg(not(test))]
extern crate wdk_panic;

#[cfg(not(test))]
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;

/// `DriverEntry`, called by KMDF's FxDriverEntry once the framework is bound.
///
/// IRQL: PASSIVE_LEVEL.
///
/// # Safety
/// Called once by the framework's stub with a valid driver object and registry path.
#[unsafe(export_name = "DriverEntry")] // WdfDriverEntry.lib calls a symbol named DriverEntry
pub unsafe extern "system" fn driver_entry(
    driver: *mut DRIVER_OBJECT,
    registry_path: *const UNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: the stub's contract, passed on.
    unsafe { super::kmdf::image::driver_entry(driver, registry_path) }
}
