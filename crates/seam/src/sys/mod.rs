//! The seam: every kernel function the driver calls, and nothing else.
//!
//! [`KernelApi`] lists them with their kernel names and C semantics. Two implementations exist:
//! `windows::WindowsKernel` (the image: `extern "system"` imports bound by the Windows loader)
//! and `wfp_sim::SimulatedStack` (host tests, the `wfp-sim` crate: a second implementation of the
//! documented behaviour). Everything above this module is safe Rust generic over `K: KernelApi`, so both run
//! the same code. No other module declares FFI.

pub mod types;

#[cfg(target_os = "windows")]
pub mod windows;

// The declaration list every item below is derived from.
mod declarations;
// The image's KMDF binding and its two forms.
pub mod kmdf_binding;
#[cfg(all(
    target_os = "windows",
    feature = "kmdf-self-binding",
    not(feature = "wdk")
))]
pub mod kmdf_stub;
#[cfg(all(windows, feature = "wdk"))]
mod wdk_binding;

#[allow(unused_imports)] // which types the list names changes with it
use core::ffi::c_void;

#[allow(unused_imports)]
use types::*;

use crate::nt::Irql;

/// Derives the seam's traits and [`KernelFn`] from the declaration list.
macro_rules! seam_items {
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
        wdf {
            $(
                $(#[doc = $wdf_doc:literal])*
                #[seam($wdf_role:tt $wdf_method:ident, $wdf_irql:ident, $index:literal)]
                fn $wdf_export:ident($($wdf_arg:ident: $wdf_ty:ty),* $(,)?) $(-> $wdf_ret:ty)?;
            )*
        }
    ) => {
        /// The kernel functions the safe layer is built on, one method each, named after the
        /// export.
        ///
        /// `Clone` because owned values (handles, clones) keep the kernel they release themselves
        /// with; both implementations are `Copy` (a zero-sized type and a reference).
        ///
        /// Methods are `unsafe` where the kernel function has preconditions a type cannot express
        /// (IRQL, pointer validity, handle liveness); the safe layer upholds them and says how in
        /// `SAFETY:` notes.
        #[allow(clippy::too_many_arguments)]
        pub trait KernelApi: Clone {
            $($( seam_method!($role $(#[doc = $doc])* fn $method($($arg: $ty),*) $(-> $ret)?); )*)*

            /// `KeGetCurrentProcessorNumberEx(NULL)` for a caller that holds no kernel value yet:
            /// classify, which counts itself into its instance on the processor it runs on before
            /// it can reach the instance's state (where the kernel value is kept). Not another
            /// kernel function: the image's kernel is zero-sized, so this is the same import; the
            /// simulated stack answers as the stack whose callout runs on the calling thread
            /// (the call counted as any other). Any IRQL.
            fn current_processor_index() -> u32;
        }

        /// The WDF functions the KMDF shell uses, named after the function without its
        /// `WDF_DRIVER_GLOBALS` argument (each binding supplies it). Three implementations: the
        /// Linux-built image's table binding (`kmdf_stub`), the WDK build's
        /// `call_unsafe_wdf_function_binding!` (`wdk_binding`), and the simulated KMDF.
        pub trait WdfApi: Clone {
            $( seam_method!($wdf_role $(#[doc = $wdf_doc])* fn $wdf_method($($wdf_arg: $wdf_ty),*) $(-> $wdf_ret)?); )*
        }

        /// Every function of the declaration list: what errors, call counts, planned failures
        /// and violations name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum KernelFn {
            $($(
                #[doc = concat!("`", stringify!($export), "`.")]
                $export,
            )*)*
            $(
                #[doc = concat!("`", stringify!($wdf_export), "` (KMDF function table).")]
                $wdf_export,
            )*
        }

        impl KernelFn {
            /// Every declared function, in the list's order.
            pub const ALL: &[KernelFn] = &[$($(Self::$export,)*)* $(Self::$wdf_export,)*];

            /// The export's (or WDF function's) name.
            pub const fn name(self) -> &'static str {
                match self {
                    $($(Self::$export => stringify!($export),)*)*
                    $(Self::$wdf_export => stringify!($wdf_export),)*
                }
            }

            /// The module the image imports it from; `None` for a KMDF table entry.
            pub const fn module(self) -> Option<&'static str> {
                match self {
                    $($(Self::$export => Some($module),)*)*
                    $(Self::$wdf_export => None,)*
                }
            }

            /// The highest IRQL the docs allow it at; `None` for any level.
            pub const fn max_irql(self) -> Option<Irql> {
                match self {
                    $($(Self::$export => irql_bound!($irql),)*)*
                    $(Self::$wdf_export => irql_bound!($wdf_irql),)*
                }
            }

            /// Its WDFFUNCENUM index, for a KMDF table entry.
            pub const fn wdf_index(self) -> Option<usize> {
                match self {
                    $($(Self::$export => None,)*)*
                    $(Self::$wdf_export => Some($index),)*
                }
            }
        }
    };
}

/// One trait method for a `safe` or `unsafe` entry; nothing for the image runtime's and the
/// loader's functions, which are not methods.
macro_rules! seam_method {
    (safe $(#[$attr:meta])* fn $method:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        $(#[$attr])*
        fn $method(&self, $($arg: $ty),*) $(-> $ret)?;
    };
    (unsafe $(#[$attr:meta])* fn $method:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        $(#[$attr])*
        unsafe fn $method(&self, $($arg: $ty),*) $(-> $ret)?;
    };
    ($other:tt $(#[$attr:meta])* fn $method:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {};
}

/// The list's IRQL word as a bound.
macro_rules! irql_bound {
    (ANY) => {
        None
    };
    ($level:ident) => {
        Some(Irql::$level)
    };
}

crate::kernel_declarations!(seam_items);

impl core::fmt::Display for KernelFn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
