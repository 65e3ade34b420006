//! A safe layer over WFP packet injection, and the callout driver built on it.
//!
//! - [`sys`]: the seam. The only place that declares kernel functions; one trait, two
//!   implementations (the Windows kernel's imports, and the simulated stack in [`sim`]).
//! - [`nt`]: statuses, IRQLs, waits and borrowed kernel objects, over the seam only.
//! - [`inject`]: the safe injection layer (owned handles, the dual-stack pair, not-ready retry)
//!   and its errors ([`error`], also at the crate root).
//! - [`driver`]: the driver's logic, shared by both entry shells.
//! - [`shell`]: the KMDF entry shell, one source for the image built on Linux, the WDK build
//!   (`--features wdk`) and host tests.
//!
//! IRQL rules are stated on each function; the kernel is never called with an input the docs
//! forbid.

#![no_std]

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "wfp-injector targets x86-64 (the kernel image's architecture and its win64 callbacks)"
);

extern crate alloc;
#[cfg(not(target_os = "windows"))]
extern crate std;

pub mod driver;
pub mod inject;
pub mod nt;
pub mod sys;

#[cfg(not(target_os = "windows"))]
pub mod sim;

// One KMDF shell for both builds of the image and the host tests.
pub mod shell;

/// The safe layer's errors, where callers have always found them (`crate::error`).
pub use inject::error;
pub use inject::error::{Error, InputError, KernelCall};
