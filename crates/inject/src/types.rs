//! The injection types an injection handle serves (FWPS_INJECTION_TYPE_*).

use core::fmt;
use core::ops::BitOr;

use crate::error::InputError;
use crate::family::AddressFamily;

/// A set of FWPS_INJECTION_TYPE_* flags. Integer newtype: any `u32` can be held, and
/// [`InjectionTypes::from_bits`] refuses the bits the kernel does not define.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct InjectionTypes(u32);

impl InjectionTypes {
    /// FWPS_INJECTION_TYPE_STREAM: stream-layer data (FwpsStreamInjectAsync0).
    pub const STREAM: Self = Self(0x1);
    /// FWPS_INJECTION_TYPE_TRANSPORT: transport send/receive.
    pub const TRANSPORT: Self = Self(0x2);
    /// FWPS_INJECTION_TYPE_NETWORK: network send/receive; needs AF_INET or AF_INET6.
    pub const NETWORK: Self = Self(0x4);
    /// FWPS_INJECTION_TYPE_FORWARD: forwarding-layer injection.
    pub const FORWARD: Self = Self(0x8);
    /// Every type this crate knows.
    pub const ALL: Self = Self(0xF);

    /// Accepts a raw flag word made only of known, non-zero bits.
    pub const fn from_bits(bits: u32) -> Result<Self, InputError> {
        if bits & !Self::ALL.0 != 0 {
            Err(InputError::UnknownInjectionTypeBits(bits & !Self::ALL.0))
        } else if bits == 0 {
            Err(InputError::NoInjectionType)
        } else {
            Ok(Self(bits))
        }
    }

    /// The flag word for `FwpsInjectionHandleCreate0`.
    #[inline(always)]
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True when every type in `other` is in `self`.
    #[inline(always)]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Checks this set against a family as the docs require, before any kernel call. (The set
    /// itself is valid by construction: non-empty, known bits only.)
    pub const fn validate_for(self, family: AddressFamily) -> Result<(), InputError> {
        if matches!(family, AddressFamily::Unspecified) && self.contains(Self::NETWORK) {
            return Err(InputError::UnspecifiedFamilyForNetworkInjection);
        }
        Ok(())
    }
}

impl BitOr for InjectionTypes {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl fmt::Debug for InjectionTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::STREAM, "STREAM"),
            (Self::TRANSPORT, "TRANSPORT"),
            (Self::NETWORK, "NETWORK"),
            (Self::FORWARD, "FORWARD"),
        ];
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                f.write_str(if first { "" } else { " | " })?;
                f.write_str(name)?;
                first = false;
            }
        }
        let unknown = self.0 & !Self::ALL.0;
        if unknown != 0 || first {
            write!(f, "{}{unknown:#x}", if first { "" } else { " | " })?;
        }
        Ok(())
    }
}
