//! `NTSTATUS` as a typed value that prints its name.

use core::fmt;

use crate::sys::types::NTSTATUS;

/// An `NTSTATUS`. Any 32-bit value is valid; the ones this crate meets have names.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct NtStatus(pub NTSTATUS);

/// Builds a status from the unsigned hex form the headers print.
const fn status(code: u32) -> NtStatus {
    NtStatus(code as i32)
}

impl NtStatus {
    /// `STATUS_SUCCESS`.
    pub const SUCCESS: Self = status(0);
    /// `STATUS_UNSUCCESSFUL`.
    pub const UNSUCCESSFUL: Self = status(0xC000_0001);
    /// `STATUS_INVALID_HANDLE`.
    pub const INVALID_HANDLE: Self = status(0xC000_0008);
    /// `STATUS_INVALID_PARAMETER`.
    pub const INVALID_PARAMETER: Self = status(0xC000_000D);
    /// `STATUS_NO_MEMORY`.
    pub const NO_MEMORY: Self = status(0xC000_0017);
    /// `STATUS_INSUFFICIENT_RESOURCES`.
    pub const INSUFFICIENT_RESOURCES: Self = status(0xC000_009A);
    /// `STATUS_INVALID_DEVICE_STATE`.
    pub const INVALID_DEVICE_STATE: Self = status(0xC000_0184);
    /// `STATUS_DEVICE_BUSY`.
    pub const DEVICE_BUSY: Self = status(0x8000_0011);
    /// `STATUS_RETRY`: the caller should read again and retry (a configuration change based on
    /// a configuration that changed meanwhile).
    pub const RETRY: Self = status(0xC000_022D);
    /// `STATUS_INVALID_DEVICE_REQUEST`: a control code the driver does not define.
    pub const INVALID_DEVICE_REQUEST: Self = status(0xC000_0010);
    /// `STATUS_BUFFER_TOO_SMALL`.
    pub const BUFFER_TOO_SMALL: Self = status(0xC000_0023);
    /// `STATUS_BUFFER_OVERFLOW` (a warning): ZwQueryValueKey wrote part of a larger value.
    pub const BUFFER_OVERFLOW: Self = status(0x8000_0005);
    /// `STATUS_OBJECT_NAME_NOT_FOUND`: no such registry key or value.
    pub const OBJECT_NAME_NOT_FOUND: Self = status(0xC000_0034);
    /// `STATUS_FWP_CALLOUT_NOT_FOUND`.
    pub const FWP_CALLOUT_NOT_FOUND: Self = status(0xC022_0001);
    /// `STATUS_FWP_FILTER_NOT_FOUND`.
    pub const FWP_FILTER_NOT_FOUND: Self = status(0xC022_0003);
    /// `STATUS_FWP_PROVIDER_NOT_FOUND`.
    pub const FWP_PROVIDER_NOT_FOUND: Self = status(0xC022_0005);
    /// `STATUS_FWP_SUBLAYER_NOT_FOUND`.
    pub const FWP_SUBLAYER_NOT_FOUND: Self = status(0xC022_0007);
    /// `STATUS_FWP_TCPIP_NOT_READY`: the TCP/IP stack is not ready yet; call again later.
    pub const FWP_TCPIP_NOT_READY: Self = status(0xC022_0100);
    /// `STATUS_FWP_INJECT_HANDLE_CLOSING`: the handle is being destroyed.
    pub const FWP_INJECT_HANDLE_CLOSING: Self = status(0xC022_0101);
    /// `STATUS_FWP_INJECT_HANDLE_STALE`: the handle was not created for this injection type.
    pub const FWP_INJECT_HANDLE_STALE: Self = status(0xC022_0102);
    /// `STATUS_FWP_CANNOT_PEND`: the packet cannot be pended.
    pub const FWP_CANNOT_PEND: Self = status(0xC022_0103);
    /// `STATUS_FWP_SESSION_ABORTED`: the filter-engine session is gone (BFE stopped); its
    /// handle is still closed, and a new session opened.
    pub const FWP_SESSION_ABORTED: Self = status(0xC022_0010);

    const NAMED: [(Self, &'static str); 21] = [
        (Self::SUCCESS, "STATUS_SUCCESS"),
        (Self::UNSUCCESSFUL, "STATUS_UNSUCCESSFUL"),
        (Self::INVALID_HANDLE, "STATUS_INVALID_HANDLE"),
        (Self::INVALID_PARAMETER, "STATUS_INVALID_PARAMETER"),
        (Self::NO_MEMORY, "STATUS_NO_MEMORY"),
        (
            Self::INSUFFICIENT_RESOURCES,
            "STATUS_INSUFFICIENT_RESOURCES",
        ),
        (Self::INVALID_DEVICE_STATE, "STATUS_INVALID_DEVICE_STATE"),
        (Self::DEVICE_BUSY, "STATUS_DEVICE_BUSY"),
        (Self::RETRY, "STATUS_RETRY"),
        (Self::FWP_SESSION_ABORTED, "STATUS_FWP_SESSION_ABORTED"),
        (
            Self::INVALID_DEVICE_REQUEST,
            "STATUS_INVALID_DEVICE_REQUEST",
        ),
        (Self::BUFFER_TOO_SMALL, "STATUS_BUFFER_TOO_SMALL"),
        (Self::FWP_CALLOUT_NOT_FOUND, "STATUS_FWP_CALLOUT_NOT_FOUND"),
        (Self::FWP_FILTER_NOT_FOUND, "STATUS_FWP_FILTER_NOT_FOUND"),
        (
            Self::FWP_PROVIDER_NOT_FOUND,
            "STATUS_FWP_PROVIDER_NOT_FOUND",
        ),
        (
            Self::FWP_SUBLAYER_NOT_FOUND,
            "STATUS_FWP_SUBLAYER_NOT_FOUND",
        ),
        (Self::FWP_TCPIP_NOT_READY, "STATUS_FWP_TCPIP_NOT_READY"),
        (
            Self::FWP_INJECT_HANDLE_CLOSING,
            "STATUS_FWP_INJECT_HANDLE_CLOSING",
        ),
        (
            Self::FWP_INJECT_HANDLE_STALE,
            "STATUS_FWP_INJECT_HANDLE_STALE",
        ),
        (Self::FWP_CANNOT_PEND, "STATUS_FWP_CANNOT_PEND"),
        (status(0x0000_0102), "STATUS_TIMEOUT"),
    ];

    /// `NT_SUCCESS`: success and informational codes.
    #[inline(always)]
    pub const fn is_success(self) -> bool {
        self.0 >= 0
    }

    /// The header name, if this crate knows it.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMED
            .iter()
            .find(|(known, _)| *known == self)
            .map(|(_, name)| *name)
    }

    /// `Ok(())` for success codes, `Err(self)` otherwise.
    #[inline(always)]
    pub const fn ok(self) -> Result<(), Self> {
        if self.is_success() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#010X})", self.0 as u32),
            None => write!(f, "NTSTATUS {:#010X}", self.0 as u32),
        }
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
