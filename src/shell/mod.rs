//! The entry shell: the thin code the kernel calls first and last. [`kmdf`] obtains a control
//! device and an unload hook from the framework and hands everything else to
//! [`crate::driver::Driver`]. One source for the image built on Linux (its entry point, `FxDriverEntry` in `fx_entry.rs`,
//! binds the framework with `crate::sys::kmdf_binding`), the WDK build (`--features wdk`, bound by the WDK's
//! WdfDriverEntry.lib) and host tests (the simulated KMDF).

#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod fx_entry;
pub mod kmdf;
pub mod slot;

#[cfg(feature = "wdk")]
mod wdk_entry;
