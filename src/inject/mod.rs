//! The safe injection layer: typed inputs, owned injection handles, the dual-stack pair, and the
//! retry on STATUS_FWP_TCPIP_NOT_READY.

pub mod dual_stack;
pub mod family;
pub mod handle;
pub mod retry;
pub mod types;

pub use dual_stack::{DualStackError, DualStackInjector};
pub use family::{AddressFamily, IpFamily};
pub use handle::InjectionHandle;
pub use retry::RetryPolicy;
pub use types::InjectionTypes;
