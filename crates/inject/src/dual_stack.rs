//! [`DualStackInjector`]: one injection handle per IP family, created and destroyed together.

use core::fmt;
use core::time::Duration;

use crate::error::Error;
use crate::family::IpFamily;
use crate::handle::InjectionHandle;
use crate::nt::Irql;
use crate::retry::RetryPolicy;
use crate::sys::KernelApi;
use crate::types::InjectionTypes;

/// Which family's handle failed, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DualStackError {
    /// The family whose handle failed (`None`: the failure was not specific to one, e.g. IRQL).
    pub family: Option<IpFamily>,
    /// What went wrong.
    pub error: Error,
}

impl fmt::Display for DualStackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Some(family) => write!(f, "{family:?} injection handle: {}", self.error),
            None => write!(f, "dual-stack injector: {}", self.error),
        }
    }
}

/// An AF_INET and an AF_INET6 injection handle with the same injection types: what network
/// injection needs (an AF-specific handle per family), and what the rest of the driver uses so
/// that every packet is injected and queried with its own family's handle.
///
/// All-or-nothing: if the IPv6 handle cannot be created, the IPv4 one is destroyed before the
/// error returns. Lookup by family is an array index.
///
/// IRQL: created and closed at PASSIVE_LEVEL; lookups at any IRQL.
pub struct DualStackInjector<K: KernelApi> {
    handles: [InjectionHandle<K>; 2],
}

impl<K: KernelApi> DualStackInjector<K> {
    /// Creates both handles, retrying STATUS_FWP_TCPIP_NOT_READY within one shared deadline.
    pub fn create(
        kernel: K,
        types: InjectionTypes,
        policy: &RetryPolicy,
    ) -> Result<Self, DualStackError> {
        let mut waited = Duration::ZERO;
        Self::create_each(|family| {
            InjectionHandle::create_within(
                kernel.clone(),
                family.into(),
                types,
                policy,
                &mut waited,
            )
        })
    }

    /// One attempt per family, no waiting: for a caller that retries from its own worker.
    pub fn try_create(kernel: K, types: InjectionTypes) -> Result<Self, DualStackError> {
        Self::create_each(|family| {
            InjectionHandle::try_create(kernel.clone(), family.into(), types)
        })
    }

    fn create_each(
        mut create: impl FnMut(IpFamily) -> Result<InjectionHandle<K>, Error>,
    ) -> Result<Self, DualStackError> {
        let failed = |family| {
            move |error| DualStackError {
                family: Some(family),
                error,
            }
        };
        let ipv4 = create(IpFamily::V4).map_err(failed(IpFamily::V4))?;
        // On failure `ipv4` drops here, destroying its handle before the error is returned.
        let ipv6 = create(IpFamily::V6).map_err(failed(IpFamily::V6))?;
        Ok(Self {
            handles: [ipv4, ipv6],
        })
    }
}

impl<K: KernelApi> DualStackInjector<K> {
    /// The handle for `family`.
    #[inline(always)]
    pub fn handle(&self, family: IpFamily) -> &InjectionHandle<K> {
        &self.handles[family.index()]
    }

    /// The handle for an IP packet whose first byte is `first_byte`; `None` when the version
    /// nibble is neither 4 nor 6.
    #[inline(always)]
    pub fn handle_for_packet(&self, first_byte: u8) -> Option<&InjectionHandle<K>> {
        IpFamily::of_packet(first_byte).map(|family| self.handle(family))
    }

    /// The injection types both handles serve.
    #[inline(always)]
    pub fn types(&self) -> InjectionTypes {
        self.handles[0].types()
    }

    /// Destroys both handles (IPv6 first, the reverse of creation) and reports the first failure.
    /// Both are destroyed even if the first destroy fails.
    ///
    /// IRQL: PASSIVE_LEVEL; above it nothing is destroyed and the injector comes back in the error.
    pub fn close(self) -> Result<(), (DualStackError, Option<Self>)> {
        if let Err(error) = Error::check_irql(self.handles[0].kernel(), Irql::PASSIVE) {
            return Err((
                DualStackError {
                    family: None,
                    error,
                },
                Some(self),
            ));
        }
        let [ipv4, ipv6] = self.handles;
        let ipv6_result = ipv6.close();
        let ipv4_result = ipv4.close();
        for (family, result) in [(IpFamily::V6, ipv6_result), (IpFamily::V4, ipv4_result)] {
            if let Err((error, _)) = result {
                return Err((
                    DualStackError {
                        family: Some(family),
                        error,
                    },
                    None,
                ));
            }
        }
        Ok(())
    }
}

impl<K: KernelApi> fmt::Debug for DualStackInjector<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DualStackInjector")
            .field("ipv4", &self.handles[0])
            .field("ipv6", &self.handles[1])
            .finish()
    }
}
