//! The Linux-built image's KMDF binding over wdfldr.sys: [`BINDING`], which the shell's
//! FxDriverEntry enters (`crate::sys::kmdf_binding::Binding`: what the WDK's WdfDriverEntry.lib
//! does, written here because that library cannot be linked without the WDK; host tests run the
//! same binding code over the simulated wdfldr), and wdfldr's two exports as its loader.
//!
//! Every WDF call ([`WdfApi`] for [`WindowsKernel`]) reads the table entry at the function's
//! WDFFUNCENUM index and calls it with the globals first.

#[allow(unused_imports)] // which types the list names changes with it
use core::ffi::c_void;

use super::WdfApi;
use super::kmdf_binding::{Binding, WdfLoader};
#[allow(unused_imports)]
use super::types::*;
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

/// Derives [`WdfApi`] for [`WindowsKernel`] from the declaration list's `wdf` section: each
/// method reads the bound table's entry at the function's WDFFUNCENUM index and calls it with the
/// globals first; unbound (or an empty entry), it returns the function's failure value.
macro_rules! table_binding {
    ($([$kind:ident $role:tt $method:ident $export:ident ($($arg:ident: $ty:ty),*) ($($ret:ty)?) $where:literal $irql:ident])*) => {
        impl WdfApi for WindowsKernel {
            $(table_method!($kind $method $where ($($arg: $ty),*) $(-> $ret)?);)*
        }
    };
}

/// One table call, for a `wdf` entry.
macro_rules! table_method {
    (wdf $method:ident $index:literal ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        unsafe fn $method(&self, $($arg: $ty),*) $(-> $ret)? {
            let Some((function, globals)) = BINDING.function($index) else {
                return Unbound::unbound();
            };
            // SAFETY: the table entry at this WDFFUNCENUM index has the function's type: its C
            // signature with the driver's globals first (the list's entry).
            let function = unsafe {
                core::mem::transmute::<
                    WDFFUNC,
                    unsafe extern "system" fn(*mut WDF_DRIVER_GLOBALS, $($ty),*) $(-> $ret)?,
                >(function)
            };
            // SAFETY: the caller upholds the trait method's contract, which is the function's.
            unsafe { function(globals, $($arg),*) }
        }
    };
    ($($import:tt)*) => {};
}

/// What a WDF call returns when the framework is not bound: a failure the caller checks.
trait Unbound {
    fn unbound() -> Self;
}

impl Unbound for NTSTATUS {
    fn unbound() -> Self {
        NtStatus::UNSUCCESSFUL.0
    }
}

impl<T> Unbound for *mut T {
    fn unbound() -> Self {
        core::ptr::null_mut()
    }
}

impl Unbound for () {
    fn unbound() -> Self {}
}

crate::kernel_functions!(table_binding);
