//! The simulated WFP stack: a second implementation of the kernel functions behind the seam,
//! modelling their documented behaviour for host tests.
//!
//! Each [`SimulatedStack`] is independent (tests run in parallel, each with its own). It keeps a
//! handle table that catches destroys of unknown or already destroyed handles, enforces the IRQL
//! each call allows (per thread), answers STATUS_FWP_TCPIP_NOT_READY for the first N creates,
//! refuses the argument combinations the kernel refuses, can fail any call with any status, and
//! runs a virtual clock so that waits cost no real time. Misuse is recorded as a [`Violation`]
//! rather than crashing, and [`SimulatedStack::assert_clean`] (also run when the stack is dropped)
//! fails a test that left a handle open or broke a rule.

mod dpc;
mod engine;
mod kernel_api;
pub mod layout;
mod packets;
mod registry;
mod rundown;
mod services;
mod stack;
pub mod traffic;

pub use engine::{ClassifyResult, ConditionInput, ConditionValue, FilterCondition, WfpObjects};
pub use packets::{InjectionPath, PacketKind, PendingInjection};
pub use registry::{RegistryValue, SERVICE_KEY_PATH};
pub use stack::{HandleRecord, IrqlGuard, SimCall, SimulatedStack, Violation};
