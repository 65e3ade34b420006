//! Raw kernel types, named and laid out as the WDK headers declare them (x64).
//!
//! These are the only types that cross the seam. Values read from the kernel are plain integers
//! (never Rust enums: an unexpected value in a Rust enum is undefined behaviour); the safe layer
//! gives them meaning. Layouts are pinned with compile-time offset checks.
//!
//! Callback types (completion, DPC, classify, notify, unload) use the `win64` calling
//! convention explicitly: it is what `system` means on x64 Windows, and on the Linux host it
//! lets the simulated stack call the shipped image's callbacks, and the image call the
//! simulation's import shims, with the convention the kernel uses. The crate is x86-64 only.

#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]

mod fwp;
mod ndis;
mod nt;
mod wdf;

pub use fwp::*;
pub use ndis::*;
pub use nt::*;
pub use wdf::*;
