//! The safe layer's errors: refused inputs (nothing reached the kernel), wrong IRQL (nothing
//! reached the kernel), and kernel failures (which call, which status).

use core::fmt;

use crate::nt::time::SleepError;
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelApi;
pub use crate::sys::KernelFn;

/// An input refused before any kernel call: the docs forbid it or the kernel would misread it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputError {
    /// Network injection needs a handle per family: AF_UNSPEC cannot carry the NETWORK type.
    UnspecifiedFamilyForNetworkInjection,
    /// An injection handle needs at least one injection type.
    NoInjectionType,
    /// Bits outside STREAM | TRANSPORT | NETWORK | FORWARD.
    UnknownInjectionTypeBits(u32),
    /// Not AF_UNSPEC (0), AF_INET (2) or AF_INET6 (23).
    UnknownAddressFamily(u16),
    /// A retry policy field out of range; the text names it.
    InvalidRetryPolicy(&'static str),
    /// The handle was not created for the injection type this call needs.
    HandleLacksInjectionType {
        /// What the call needs.
        needed: super::InjectionTypes,
        /// What the handle has.
        has: super::InjectionTypes,
    },
    /// Transport-send control data longer than a per-injection context holds.
    ControlDataTooLong {
        /// Bytes given.
        length: usize,
        /// Bytes a context holds.
        capacity: usize,
    },
    /// A packet injector needs at least one per-injection context.
    ZeroCapacity,
    /// The NBL pointer is null.
    NullNetBufferList,
}

/// Every failure of this crate's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Refused before the kernel was called.
    InvalidInput(InputError),
    /// Called above the IRQL the operation allows; the kernel was not called.
    IrqlTooHigh {
        /// IRQL at the call.
        current: Irql,
        /// Highest IRQL the operation allows.
        allowed: Irql,
    },
    /// The injector is closing (or closed): no new injections.
    Closing,
    /// Every per-injection context is in use: too many injections in flight.
    ContextsExhausted,
    /// Memory for the injector could not be allocated at creation.
    OutOfMemory,
    /// The kernel returned a failure status.
    Kernel {
        /// Which function.
        call: KernelFn,
        /// What it returned.
        status: NtStatus,
    },
}

impl Error {
    /// A kernel failure.
    pub const fn kernel(call: KernelFn, status: NtStatus) -> Self {
        Self::Kernel { call, status }
    }

    /// The status to hand back to the kernel (e.g. from DriverEntry) for this error.
    pub const fn status(&self) -> NtStatus {
        match self {
            Self::InvalidInput(_) => NtStatus::INVALID_PARAMETER,
            Self::IrqlTooHigh { .. } => NtStatus::INVALID_DEVICE_STATE,
            Self::Closing => NtStatus::FWP_INJECT_HANDLE_CLOSING,
            Self::ContextsExhausted | Self::OutOfMemory => NtStatus::INSUFFICIENT_RESOURCES,
            Self::Kernel { status, .. } => *status,
        }
    }

    /// True for STATUS_FWP_TCPIP_NOT_READY: the call may succeed later.
    pub fn is_tcpip_not_ready(&self) -> bool {
        matches!(self, Self::Kernel { status, .. } if *status == NtStatus::FWP_TCPIP_NOT_READY)
    }

    /// `Ok(())` when the current IRQL is at most `allowed`.
    #[inline]
    pub fn check_irql<K: KernelApi>(kernel: &K, allowed: Irql) -> Result<(), Self> {
        let current = Irql(kernel.ke_get_current_irql());
        if current > allowed {
            Err(Self::IrqlTooHigh { current, allowed })
        } else {
            Ok(())
        }
    }
}

impl From<SleepError> for Error {
    fn from(error: SleepError) -> Self {
        match error {
            SleepError::IrqlTooHigh { current, allowed } => Self::IrqlTooHigh { current, allowed },
            SleepError::Failed(status) => Self::kernel(KernelFn::KeDelayExecutionThread, status),
        }
    }
}

impl From<InputError> for Error {
    fn from(input: InputError) -> Self {
        Self::InvalidInput(input)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnspecifiedFamilyForNetworkInjection => {
                f.write_str("network injection needs an AF_INET or AF_INET6 handle, not AF_UNSPEC")
            }
            Self::NoInjectionType => f.write_str("no injection type given"),
            Self::UnknownInjectionTypeBits(bits) => {
                write!(f, "unknown injection type bits {bits:#x}")
            }
            Self::UnknownAddressFamily(family) => write!(
                f,
                "address family {family} is not AF_UNSPEC (0), AF_INET (2) or AF_INET6 (23)"
            ),
            Self::InvalidRetryPolicy(what) => write!(f, "invalid retry policy: {what}"),
            Self::HandleLacksInjectionType { needed, has } => write!(
                f,
                "the injection handle serves {has:?}, but this call needs {needed:?}"
            ),
            Self::ControlDataTooLong { length, capacity } => write!(
                f,
                "control data of {length} bytes exceeds the {capacity} bytes a context holds"
            ),
            Self::ZeroCapacity => f.write_str("an injector needs at least one context"),
            Self::NullNetBufferList => f.write_str("the NET_BUFFER_LIST pointer is null"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidInput(input) => write!(f, "refused before calling the kernel: {input}"),
            Self::IrqlTooHigh { current, allowed } => {
                write!(
                    f,
                    "called at {current}; the operation allows at most {allowed}"
                )
            }
            Self::Closing => f.write_str("the injector is closing; no new injections"),
            Self::ContextsExhausted => {
                f.write_str("every per-injection context is in use (too many in flight)")
            }
            Self::OutOfMemory => f.write_str("could not allocate the injector's memory"),
            Self::Kernel { call, status } => write!(f, "{call:?} failed with {status}"),
        }
    }
}
