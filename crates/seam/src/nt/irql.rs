//! IRQL as a typed, ordered value.

use core::fmt;

use crate::sys::types::KIRQL;

/// An interrupt request level. Integer newtype: the kernel may report any `KIRQL`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Irql(pub KIRQL);

impl Irql {
    /// `PASSIVE_LEVEL`: threads, waits and paged memory allowed.
    pub const PASSIVE: Self = Self(0);
    /// `APC_LEVEL`.
    pub const APC: Self = Self(1);
    /// `DISPATCH_LEVEL`: DPCs and spin locks; no waiting, no paged memory.
    pub const DISPATCH: Self = Self(2);
}

impl fmt::Display for Irql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::PASSIVE => f.write_str("PASSIVE_LEVEL"),
            Self::APC => f.write_str("APC_LEVEL"),
            Self::DISPATCH => f.write_str("DISPATCH_LEVEL"),
            Self(level) => write!(f, "IRQL {level}"),
        }
    }
}

impl fmt::Debug for Irql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
