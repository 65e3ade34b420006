//! The kernel implementation of the seam: the declaration list's imports, resolved by the Windows
//! loader, and [`WindowsKernel`], which calls them.
//!
//! `raw-dylib` lets any host link the image without the WDK's import libraries; `+verbatim` keeps
//! the module names exactly as written (otherwise `fwpkclnt.sys` would become `fwpkclnt.sys.dll`).

#[allow(unused_imports)] // which types the list names changes with it
use core::ffi::c_void;

use super::KernelApi;
#[allow(unused_imports)]
use super::types::*;

/// The running Windows kernel. Zero-sized: every method is a direct call to the import.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowsKernel;

/// Derives the imports, [`KernelApi`] for [`WindowsKernel`] and its associated functions from the
/// declaration list.
macro_rules! windows_items {
    (
        $(
            #[link(name = $module:literal, kind = "raw-dylib", modifiers = "+verbatim")]
            $(#[$block_attr:meta])*
            unsafe extern "system" {
                $(
                    $(#[doc = $doc:literal])*
                    #[seam($role:tt $method:ident, $irql:ident)]
                    fn $export:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;
                )*
            }
        )*
        wdf { $($wdf:tt)* }
    ) => {
        $(
            #[link(name = $module, kind = "raw-dylib", modifiers = "+verbatim")]
            $(#[$block_attr])*
            unsafe extern "system" {
                $( fn $export($($arg: $ty),*) $(-> $ret)?; )*
            }
        )*

        #[allow(clippy::too_many_arguments)]
        impl KernelApi for WindowsKernel {
            $($( windows_method!($role $method $export($($arg: $ty),*) $(-> $ret)?); )*)*

            #[inline(always)]
            fn current_processor_index() -> u32 {
                // SAFETY: any IRQL; a null PROCESSOR_NUMBER pointer asks for the index alone.
                unsafe { KeGetCurrentProcessorNumberEx(core::ptr::null_mut()) }
            }
        }

        $(
            $(#[$block_attr])*
            #[allow(clippy::too_many_arguments)]
            impl WindowsKernel {
                $( windows_function!($role $(#[doc = $doc])* $method $export($($arg: $ty),*) $(-> $ret)?); )*
            }
        )*
    };
}

/// A trait method that calls the import.
macro_rules! windows_method {
    (safe $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        #[inline(always)]
        fn $method(&self, $($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the list marks this function safe: it has no preconditions.
            unsafe { $export($($arg),*) }
        }
    };
    (unsafe $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        #[inline(always)]
        unsafe fn $method(&self, $($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the caller upholds the trait method's contract, which is the export's.
            unsafe { $export($($arg),*) }
        }
    };
    ($other:tt $($rest:tt)*) => {};
}

/// An associated function for the image runtime's and the loader's imports.
macro_rules! windows_function {
    (runtime $(#[$attr:meta])* $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        windows_function!(loader $(#[$attr])* $method $export($($arg: $ty),*) $(-> $ret)?);
    };
    (noreturn $(#[$attr:meta])* $method:ident $export:ident($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        $(#[$attr])*
        #[inline(always)]
        pub fn $method($($arg: $ty),*) -> $ret {
            // SAFETY: the list marks it callable at any IRQL with any parameters.
            unsafe { $export($($arg),*) }
        }
    };
    (loader $(#[$attr:meta])* $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        $(#[$attr])*
        #[inline(always)]
        pub unsafe fn $method($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the caller upholds the contract documented above, which is the export's.
            unsafe { $export($($arg),*) }
        }
    };
    ($other:tt $($rest:tt)*) => {};
}

crate::kernel_declarations!(windows_items);
