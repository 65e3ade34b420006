//! The WDK build's binding of the WDF seam (`--features wdk`), derived from the declaration list's
//! `wdf` section: every method is one `call_unsafe_wdf_function_binding!` (wdk-sys), which indexes
//! the table WdfDriverEntry.lib bound and passes its globals. The seam's types are the headers'
//! layouts (checked against the facts table on Linux; build.rs' wdk-compare list does not yet
//! include the WDF structures), so pointers are cast between the two declarations of the same
//! structure ([`WdkCast`]) and integers pass unchanged.

#[allow(unused_imports)] // which types the list names changes with it
use core::ffi::c_void;

use wdk_sys::call_unsafe_wdf_function_binding;

use super::WdfApi;
#[allow(unused_imports)]
use super::types::*;
use super::windows::WindowsKernel;

/// A value passed between the seam's declaration of a type and wdk-sys' declaration of the same
/// header type: pointers are cast, integers and `()` pass unchanged.
trait WdkCast<T> {
    fn wdk(self) -> T;
}

impl<T, U> WdkCast<*mut U> for *mut T {
    fn wdk(self) -> *mut U {
        self.cast()
    }
}

impl<T, U> WdkCast<*const U> for *const T {
    fn wdk(self) -> *const U {
        self.cast()
    }
}

macro_rules! unchanged {
    ($($t:ty),*) => {
        $(impl WdkCast<$t> for $t {
            fn wdk(self) -> $t {
                self
            }
        })*
    };
}
unchanged!(u8, u32, i32, usize, ());

/// `ULONG_PTR` (a request's information): bindgen declares it `u64`; the seam, `usize` (the
/// same width on x64).
impl WdkCast<u64> for usize {
    fn wdk(self) -> u64 {
        self as u64
    }
}

/// Derives [`WdfApi`] for [`WindowsKernel`] from the list's `wdf` section.
macro_rules! wdk_binding {
    ($([$kind:ident $role:tt $method:ident $export:ident ($($arg:ident: $ty:ty),*) ($($ret:ty)?) $where:literal $irql:ident])*) => {
        impl WdfApi for WindowsKernel {
            $(wdk_method!($kind $method $export($($arg: $ty),*) $(-> $ret)?);)*
        }
    };
}

/// One `call_unsafe_wdf_function_binding!`, for a `wdf` entry.
macro_rules! wdk_method {
    (wdf $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        #[allow(clippy::unit_arg, clippy::let_unit_value)]
        unsafe fn $method(&self, $($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the caller upholds the trait method's contract, which is the function's; the
            // casts are between declarations of the same header types.
            let result = unsafe {
                call_unsafe_wdf_function_binding!($export, $(WdkCast::wdk($arg)),*)
            };
            WdkCast::wdk(result)
        }
    };
    ($($import:tt)*) => {};
}

crate::kernel_functions!(wdk_binding);
