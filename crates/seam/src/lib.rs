//! The seam of wfp-injector and its raw types: [`sys`] declares every kernel function the driver
//! calls (one trait, two implementations: the Windows kernel's imports, and the simulated stack
//! in the `wfp-sim` crate) with the structures and constants they take; [`nt`] is the safe
//! vocabulary over their raw values (statuses, IRQLs, relative waits, borrowed kernel objects).
//! Nothing here depends on the layers above.

#![no_std]

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "wfp-injector targets x86-64 (the kernel image's architecture and its win64 callbacks)"
);

extern crate alloc;

pub mod nt;
pub mod sys;
