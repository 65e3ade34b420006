//! Address families with Windows' values (AF_INET6 is 23 on Windows, not Linux's 10).

use crate::error::InputError;
use crate::sys::types::ADDRESS_FAMILY;

/// The family an injection handle is created for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// AF_UNSPEC (0): one handle for both families; transport, stream and forward only.
    Unspecified,
    /// AF_INET (2).
    Ipv4,
    /// AF_INET6 (23).
    Ipv6,
}

impl AddressFamily {
    /// The `ADDRESS_FAMILY` value the kernel expects.
    #[inline(always)]
    pub const fn as_raw(self) -> ADDRESS_FAMILY {
        match self {
            Self::Unspecified => 0,
            Self::Ipv4 => 2,
            Self::Ipv6 => 23,
        }
    }

    /// Reads a raw `ADDRESS_FAMILY`, refusing values other than 0, 2 and 23.
    pub const fn from_raw(raw: ADDRESS_FAMILY) -> Result<Self, InputError> {
        match raw {
            0 => Ok(Self::Unspecified),
            2 => Ok(Self::Ipv4),
            23 => Ok(Self::Ipv6),
            other => Err(InputError::UnknownAddressFamily(other)),
        }
    }
}

/// A specific IP family: what a packet is, and what a dual-stack lookup takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl IpFamily {
    /// Both families, in the order the dual-stack pair creates them.
    pub const BOTH: [Self; 2] = [Self::V4, Self::V6];

    /// The family of an IP packet from the version nibble of its first byte; `None` for anything
    /// but 4 or 6.
    #[inline(always)]
    pub const fn of_packet(first_byte: u8) -> Option<Self> {
        match first_byte >> 4 {
            4 => Some(Self::V4),
            6 => Some(Self::V6),
            _ => None,
        }
    }

    /// Index 0 or 1, for tables kept per family.
    #[inline(always)]
    pub const fn index(self) -> usize {
        match self {
            Self::V4 => 0,
            Self::V6 => 1,
        }
    }
}

impl From<IpFamily> for AddressFamily {
    #[inline(always)]
    fn from(family: IpFamily) -> Self {
        match family {
            IpFamily::V4 => Self::Ipv4,
            IpFamily::V6 => Self::Ipv6,
        }
    }
}
