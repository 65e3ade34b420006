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

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::Irql;

    /// Errors and log lines name an IRQL as the WDK does.
    #[test]
    fn an_irql_prints_as_its_wdk_name() {
        assert_eq!(format!("{}", Irql::PASSIVE), "PASSIVE_LEVEL");
        assert_eq!(format!("{}", Irql::APC), "APC_LEVEL");
        assert_eq!(format!("{:?}", Irql::DISPATCH), "DISPATCH_LEVEL");
        assert_eq!(format!("{}", Irql(15)), "IRQL 15");
    }
}
