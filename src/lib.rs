//! The WFP callout driver built on the safe injection layer, and its KMDF entry shell.
//!
//! The workspace keeps the layers in crates, so an import against them cannot compile:
//! - `wfp-seam` ([`sys`], [`nt`]): the seam. The only place that declares kernel functions; one
//!   trait, two implementations (the Windows kernel's imports, and the simulated stack of the
//!   `wfp-sim` crate, a dev-dependency of the tests only).
//! - `wfp-inject` ([`inject`], [`error`]): the safe injection layer (owned handles, the dual-stack
//!   pair, not-ready retry, packet injection), generic over the seam.
//! - this crate: [`driver`], the driver's logic, and [`shell`], the KMDF entry shell, one source
//!   for the image built on Linux, the WDK build (`--features wdk`) and host tests.
//!
//! IRQL rules are stated on each function; the kernel is never called with an input the docs
//! forbid.

#![no_std]

extern crate alloc;
// On the host, std's allocator and panic handler serve the cdylib the host build links; the
// image has its own (wfp-seam's runtime).
#[cfg(not(target_os = "windows"))]
extern crate std;

pub use wfp_inject as inject;
/// The safe layer's errors, where callers have always found them (`crate::error`).
pub use wfp_inject::error;
pub use wfp_inject::error::{Error, InputError, KernelFn};
pub use wfp_seam::{nt, sys};

pub mod driver;

// What the Linux-built image needs from a runtime: allocator, panic handler, `_fltused`.
#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod runtime;

// One KMDF shell for both builds of the image and the host tests.
pub mod shell;
