//! The safe injection layer: typed inputs, owned injection handles, the dual-stack pair, the
//! retry on STATUS_FWP_TCPIP_NOT_READY, and packet injection with owned NBLs, pooled contexts,
//! typed completions and rundown-protected teardown, generic over the seam (`wfp-seam`'s
//! `KernelApi`). IRQL rules are stated on each function; the kernel is never called with an input
//! the docs forbid.

#![no_std]

extern crate alloc;

// The seam, under the names this layer's modules use.
pub(crate) use wfp_seam::{nt, sys};

pub mod cached_pool;
mod callbacks;
pub mod completion;
pub mod dual_stack;
pub mod error;
pub mod family;
pub mod handle;
pub mod injector;
pub mod nbl;
pub mod per_processor;
pub mod pool;
pub mod request;
pub mod retry;
mod slots;
pub mod state;
pub mod types;

/// Under `--cfg loom` the library keeps core's atomics for the pool and its caches; only
/// tests/loom_pool.rs, which includes pool.rs and cached_pool.rs themselves, gives them loom's.
#[cfg(loom)]
mod loom_atomic {
    pub use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
}

pub use completion::{Completion, CompletionHandler, FreeOnCompletion};
pub use dual_stack::{DualStackError, DualStackInjector};
pub use family::{AddressFamily, IpFamily};
pub use handle::InjectionHandle;
pub use injector::{PacketInjector, Pools, Refused};
pub use nbl::{ClonedNetBufferList, NetBufferListRef, OwnedNetBufferList};
pub use per_processor::PerProcessor;
pub use request::{
    CONTROL_DATA_CAPACITY, Forward, INLINE_CONTROL_DATA, Injection, InjectionPath, IpProtocol,
    NetworkReceive, NetworkSend, RemoteAddress, StreamInject, Tag, TransportReceive, TransportSend,
    UNSPECIFIED_COMPARTMENT,
};
pub use retry::RetryPolicy;
pub use state::{InjectionContext, InjectionState};
pub use types::InjectionTypes;
