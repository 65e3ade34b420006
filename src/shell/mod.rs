//! Entry shells: the thin code the kernel calls first and last. Each obtains a device object and
//! an unload hook and hands everything else to [`crate::driver::Driver`].
//!
//! - `wdm`: the image built on Linux (plain DriverEntry/DriverUnload, IoCreateDevice).
//! - `kmdf`: the WDK build (`--features wdk`): WdfDriverCreate as a non-PnP driver, a control
//!   device, wdk-alloc and wdk-panic.

mod slot;

#[cfg(not(feature = "wdk"))]
mod wdm;

#[cfg(feature = "wdk")]
mod kmdf;
