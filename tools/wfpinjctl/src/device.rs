//! The device a command talks to, and every way that can fail, in words.

use std::fmt;

/// STATUS_ACCESS_DENIED.
const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;
/// STATUS_INVALID_PARAMETER.
const STATUS_INVALID_PARAMETER: u32 = 0xC000_000D;
/// STATUS_INVALID_DEVICE_REQUEST.
const STATUS_INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
/// STATUS_BUFFER_TOO_SMALL.
const STATUS_BUFFER_TOO_SMALL: u32 = 0xC000_0023;
/// STATUS_DEVICE_BUSY.
const STATUS_DEVICE_BUSY: u32 = 0x8000_0011;
/// STATUS_INVALID_DEVICE_STATE.
const STATUS_INVALID_DEVICE_STATE: u32 = 0xC000_0184;
/// STATUS_OBJECT_NAME_NOT_FOUND.
const STATUS_OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
/// STATUS_RETRY.
const STATUS_RETRY: u32 = 0xC000_022D;

/// Win32 errors `CreateFileW` and `DeviceIoControl` report (winerror.h).
pub mod win32 {
    /// ERROR_INVALID_FUNCTION (from STATUS_INVALID_DEVICE_REQUEST).
    pub const INVALID_FUNCTION: u32 = 1;
    /// ERROR_FILE_NOT_FOUND.
    pub const FILE_NOT_FOUND: u32 = 2;
    /// ERROR_PATH_NOT_FOUND.
    pub const PATH_NOT_FOUND: u32 = 3;
    /// ERROR_ACCESS_DENIED.
    pub const ACCESS_DENIED: u32 = 5;
    /// ERROR_INVALID_PARAMETER.
    pub const INVALID_PARAMETER: u32 = 87;
    /// ERROR_INSUFFICIENT_BUFFER (from STATUS_BUFFER_TOO_SMALL).
    pub const INSUFFICIENT_BUFFER: u32 = 122;
    /// ERROR_BUSY (from STATUS_DEVICE_BUSY).
    pub const BUSY: u32 = 170;
    /// ERROR_BAD_COMMAND (from STATUS_INVALID_DEVICE_STATE).
    pub const BAD_COMMAND: u32 = 22;
    /// ERROR_RETRY (windows-sys; what RtlNtStatusToDosError makes of STATUS_RETRY in ReactOS's
    /// table, which Microsoft does not document: the tool's retry never depends on it).
    pub const RETRY: u32 = 1237;
}

/// Why a command did not get its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The device does not exist: the driver is not loaded.
    NotLoaded,
    /// Not an administrator (or the handle lacks the right).
    AccessDenied,
    /// The driver refused the request with this NTSTATUS (host tests see the status itself).
    Status(u32),
    /// Windows reported this error (an NTSTATUS mapped to Win32 by the I/O manager).
    Win32(u32),
    /// The reply was not the structure asked for (this many bytes).
    Reply(usize),
    /// `inspect add` with the driver's 16 rules already in force.
    Full,
    /// `inspect remove` of a rule that is not in force.
    NoSuchRule,
    /// A set with CONFIG_PERSIST failed with a status that, for such a set, is the registry's
    /// (or the missing registry path's), not the device's: see [`Failure::persisting`].
    Persisting(Box<Failure>),
}

impl Failure {
    /// What the failure of a set with CONFIG_PERSIST means: STATUS_OBJECT_NAME_NOT_FOUND (no
    /// Parameters key), STATUS_INVALID_DEVICE_STATE (no registry path, or unloading) and
    /// STATUS_ACCESS_DENIED (the registry refused; the device was opened already) are about
    /// `Parameters\InspectRules`, not the driver's presence or the caller's rights.
    pub fn persisting(self) -> Self {
        match self {
            Self::Status(
                STATUS_OBJECT_NAME_NOT_FOUND | STATUS_INVALID_DEVICE_STATE | STATUS_ACCESS_DENIED,
            )
            | Self::Win32(
                win32::FILE_NOT_FOUND
                | win32::PATH_NOT_FOUND
                | win32::BAD_COMMAND
                | win32::ACCESS_DENIED,
            ) => Self::Persisting(Box::new(self)),
            other => other,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let busy = "the driver is busy finishing its load; try again";
        let version = "the driver refused the request (a parameter out of range, or a driver \
                       of another protocol version)";
        let unknown = "the driver does not know this request (a driver of another version)";
        match self {
            Self::NotLoaded => write!(
                f,
                "driver not loaded ({} not found); start it with 'sc start WfpInjector'",
                wfp_protocol::DEVICE_PATH
            ),
            Self::AccessDenied | Self::Status(STATUS_ACCESS_DENIED) => {
                write!(f, "access denied: run as administrator")
            }
            Self::Win32(win32::ACCESS_DENIED) => {
                write!(f, "access denied: run as administrator")
            }
            Self::Status(STATUS_OBJECT_NAME_NOT_FOUND)
            | Self::Win32(win32::FILE_NOT_FOUND | win32::PATH_NOT_FOUND) => Self::NotLoaded.fmt(f),
            Self::Status(STATUS_INVALID_PARAMETER) | Self::Win32(win32::INVALID_PARAMETER) => {
                f.write_str(version)
            }
            Self::Status(STATUS_INVALID_DEVICE_REQUEST) | Self::Win32(win32::INVALID_FUNCTION) => {
                f.write_str(unknown)
            }
            Self::Status(STATUS_BUFFER_TOO_SMALL) | Self::Win32(win32::INSUFFICIENT_BUFFER) => {
                f.write_str("the driver's reply does not fit (a driver of another version)")
            }
            Self::Status(STATUS_DEVICE_BUSY) | Self::Win32(win32::BUSY) => f.write_str(busy),
            Self::Status(STATUS_INVALID_DEVICE_STATE) | Self::Win32(win32::BAD_COMMAND) => {
                f.write_str("the driver is unloading")
            }
            Self::Status(STATUS_RETRY) | Self::Win32(win32::RETRY) => {
                f.write_str("the rules kept changing while this command ran; try again")
            }
            Self::Status(status) => {
                write!(f, "the driver refused the request: NTSTATUS {status:#010x}")
            }
            Self::Win32(error) => write!(f, "the request failed: Windows error {error}"),
            Self::Reply(size) => write!(f, "the driver's reply has {size} bytes: another version?"),
            Self::Full => write!(
                f,
                "the driver holds {} rules already; remove one first",
                wfp_protocol::MAX_RULES
            ),
            Self::NoSuchRule => {
                f.write_str("no such rule in force ('wfpinjctl inspect list' shows them)")
            }
            Self::Persisting(inner) => {
                f.write_str("could not write Parameters\\InspectRules: ")?;
                match **inner {
                    Self::Status(STATUS_OBJECT_NAME_NOT_FOUND)
                    | Self::Win32(win32::FILE_NOT_FOUND | win32::PATH_NOT_FOUND) => f.write_str(
                        "the service has no Parameters key (install the driver with its INF); \
                         nothing changed",
                    ),
                    Self::Status(STATUS_INVALID_DEVICE_STATE) | Self::Win32(win32::BAD_COMMAND) => {
                        f.write_str(
                            "the driver was loaded without a registry path (or is unloading); \
                             nothing changed",
                        )
                    }
                    Self::Status(STATUS_ACCESS_DENIED) | Self::Win32(win32::ACCESS_DENIED) => f
                        .write_str(
                            "the registry denied the driver access to the key; nothing changed",
                        ),
                    ref other => other.fmt(f),
                }
            }
        }
    }
}

/// A control device: one request at a time.
pub trait Device {
    /// Sends `code` with `input` and an output buffer of `output_length` bytes: the bytes the
    /// driver returned.
    fn control(
        &mut self,
        code: u32,
        input: &[u8],
        output_length: usize,
    ) -> Result<Vec<u8>, Failure>;
}
