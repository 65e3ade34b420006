//! [`InjectionHandle`]: one owned WFP injection handle.

use core::mem::ManuallyDrop;
use core::ptr;
use core::time::Duration;

use crate::error::{Error, KernelFn};
use crate::family::AddressFamily;
use crate::nt::{Irql, NtStatus};
use crate::retry::{RetryPolicy, retry_while_not_ready};
use crate::sys::KernelApi;
use crate::sys::types::HANDLE;
use crate::types::InjectionTypes;

/// An injection handle from `FwpsInjectionHandleCreate0`, destroyed exactly once: by
/// [`close`](Self::close), which reports the status, or else by `Drop`.
///
/// Not `Clone`: borrow it (`&InjectionHandle`) to inject or query with it.
///
/// IRQL: created and destroyed (closed or dropped) at PASSIVE_LEVEL only; creation checks this and
/// returns [`Error::IrqlTooHigh`], and `Drop` asserts it in debug builds. Destroying waits for the
/// injections WFP has accepted on the handle, so it must not run inside a completion.
pub struct InjectionHandle<K: KernelApi> {
    raw: HANDLE,
    family: AddressFamily,
    types: InjectionTypes,
    kernel: K,
}

// SAFETY: an injection handle is an opaque kernel token that WFP accepts from any thread and any
// processor (injection at IRQL <= DISPATCH_LEVEL); the struct only carries it.
unsafe impl<K: KernelApi + Send> Send for InjectionHandle<K> {}
// SAFETY: shared access only reads the token and passes it to kernel calls that WFP allows to run
// concurrently on one handle.
unsafe impl<K: KernelApi + Sync> Sync for InjectionHandle<K> {}

impl<K: KernelApi> InjectionHandle<K> {
    /// One attempt at `FwpsInjectionHandleCreate0`. STATUS_FWP_TCPIP_NOT_READY comes back as an
    /// error ([`Error::is_tcpip_not_ready`]) for a caller that retries from its own worker.
    ///
    /// Refused without calling the kernel: AF_UNSPEC with NETWORK, and any IRQL above PASSIVE.
    pub fn try_create(
        kernel: K,
        family: AddressFamily,
        types: InjectionTypes,
    ) -> Result<Self, Error> {
        types.validate_for(family)?;
        Error::check_irql(&kernel, Irql::PASSIVE)?;
        let mut raw: HANDLE = ptr::null_mut();
        // SAFETY: IRQL is PASSIVE_LEVEL (checked above); `raw` is writable for the call.
        let status = unsafe {
            kernel.fwps_injection_handle_create0(family.as_raw(), types.bits(), &mut raw)
        };
        NtStatus(status)
            .ok()
            .map_err(|status| Error::kernel(KernelFn::FwpsInjectionHandleCreate0, status))?;
        Ok(Self {
            raw,
            family,
            types,
            kernel,
        })
    }

    /// Creates the handle, retrying STATUS_FWP_TCPIP_NOT_READY as `policy` says. Any other failure
    /// returns at once; a deadline that runs out returns the not-ready error.
    ///
    /// IRQL: PASSIVE_LEVEL (it may sleep).
    pub fn create(
        kernel: K,
        family: AddressFamily,
        types: InjectionTypes,
        policy: &RetryPolicy,
    ) -> Result<Self, Error> {
        let mut waited = Duration::ZERO;
        Self::create_within(kernel, family, types, policy, &mut waited)
    }

    /// [`create`](Self::create) with a deadline shared with earlier calls: `waited` is the time
    /// already spent and grows by the time this call sleeps.
    pub fn create_within(
        kernel: K,
        family: AddressFamily,
        types: InjectionTypes,
        policy: &RetryPolicy,
        waited: &mut Duration,
    ) -> Result<Self, Error> {
        types.validate_for(family)?;
        retry_while_not_ready(&kernel.clone(), policy, waited, || {
            Self::try_create(kernel.clone(), family, types)
        })
    }

    /// The raw handle, for the inject and query calls. Still owned by `self`.
    #[inline(always)]
    pub fn as_raw(&self) -> HANDLE {
        self.raw
    }

    /// Gives up ownership: the caller must destroy the returned handle.
    pub fn into_raw(self) -> HANDLE {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the kernel value is moved out once.
        let _kernel = unsafe { ptr::read(&this.kernel) };
        this.raw
    }

    /// Takes ownership of a raw handle.
    ///
    /// # Safety
    /// `raw` came from a successful `FwpsInjectionHandleCreate0` with `family` and `types` on
    /// `kernel`, is not destroyed, and nothing else will destroy it.
    pub unsafe fn from_raw(
        kernel: K,
        raw: HANDLE,
        family: AddressFamily,
        types: InjectionTypes,
    ) -> Self {
        Self {
            raw,
            family,
            types,
            kernel,
        }
    }

    /// The family the handle was created for.
    #[inline(always)]
    pub fn family(&self) -> AddressFamily {
        self.family
    }

    /// The injection types the handle was created for.
    #[inline(always)]
    pub fn types(&self) -> InjectionTypes {
        self.types
    }

    /// The kernel this handle calls.
    #[inline(always)]
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// Destroys the handle and reports the status. Waits for injections WFP has accepted on it.
    ///
    /// IRQL: PASSIVE_LEVEL. At a higher IRQL the handle is not destroyed: it is returned inside
    /// the error's companion so the caller can retry from PASSIVE_LEVEL.
    pub fn close(self) -> Result<(), (Error, Option<Self>)> {
        if let Err(error) = Error::check_irql(&self.kernel, Irql::PASSIVE) {
            return Err((error, Some(self)));
        }
        let this = ManuallyDrop::new(self);
        // SAFETY: IRQL is PASSIVE_LEVEL (checked above); `this.raw` is live and owned, and
        // ManuallyDrop keeps Drop from destroying it a second time.
        let status = unsafe { this.kernel.fwps_injection_handle_destroy0(this.raw) };
        // SAFETY: `this` is not used after this read, so the kernel value is moved out once.
        drop(unsafe { ptr::read(&this.kernel) });
        NtStatus(status).ok().map_err(|status| {
            (
                Error::kernel(KernelFn::FwpsInjectionHandleDestroy0, status),
                None,
            )
        })
    }
}

impl<K: KernelApi> Drop for InjectionHandle<K> {
    fn drop(&mut self) {
        debug_assert!(
            Irql(self.kernel.ke_get_current_irql()) == Irql::PASSIVE,
            "InjectionHandle dropped above PASSIVE_LEVEL"
        );
        // SAFETY: `self.raw` is live and owned (close and into_raw bypass Drop); the IRQL
        // contract is the type's documented one, asserted above in debug builds.
        let _ = unsafe { self.kernel.fwps_injection_handle_destroy0(self.raw) };
    }
}

impl<K: KernelApi> core::fmt::Debug for InjectionHandle<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InjectionHandle")
            .field("raw", &self.raw)
            .field("family", &self.family)
            .field("types", &self.types)
            .finish()
    }
}
