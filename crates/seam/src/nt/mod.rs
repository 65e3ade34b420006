//! Safe vocabulary over the kernel's raw values: statuses, IRQLs, relative waits.

pub mod irql;
pub mod objects;
pub mod status;
pub mod text;
pub mod time;

pub use irql::Irql;
pub use objects::{DeviceObject, RegistryPath};
pub use status::NtStatus;
