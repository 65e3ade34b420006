//! The entry shell: the thin code the kernel calls first and last. [`kmdf`] obtains a control
//! device and an unload hook from the framework and hands everything else to
//! [`crate::driver::Driver`]. One source for the image built on Linux (bound by
//! [`binding`] from `crate::sys::kmdf_stub`'s FxDriverEntry), the WDK build (`--features wdk`, bound by the WDK's
//! WdfDriverEntry.lib) and host tests (the simulated KMDF).

pub mod binding;
pub mod kmdf;
pub mod slot;

#[cfg(feature = "wdk")]
mod wdk_entry;
