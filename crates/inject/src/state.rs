//! `FwpsQueryPacketInjectionState0`: was this packet injected, and by whom.

use core::ptr;

use crate::dual_stack::DualStackInjector;
use crate::family::IpFamily;
use crate::handle::InjectionHandle;
use crate::nbl::NetBufferListRef;
use crate::nt::Irql;
use crate::sys::KernelApi;
use crate::sys::types::{FWPS_PACKET_INJECTION_STATE, HANDLE};

/// `FWPS_PACKET_INJECTION_STATE`. An integer newtype: the kernel's answer is read as it comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct InjectionState(pub FWPS_PACKET_INJECTION_STATE);

impl InjectionState {
    /// `FWPS_PACKET_NOT_INJECTED`.
    pub const NOT_INJECTED: Self = Self(0);
    /// `FWPS_PACKET_INJECTED_BY_SELF`: injected through this handle.
    pub const INJECTED_BY_SELF: Self = Self(1);
    /// `FWPS_PACKET_INJECTED_BY_OTHER`: injected through another handle.
    pub const INJECTED_BY_OTHER: Self = Self(2);
    /// `FWPS_PACKET_PREVIOUSLY_INJECTED_BY_SELF`: injected through this handle earlier, since
    /// changed (e.g. cloned).
    pub const PREVIOUSLY_INJECTED_BY_SELF: Self = Self(3);

    /// True for the two "by self" states: such a packet must be permitted untouched (neither
    /// modified nor pended) or the driver reinjects its own traffic forever.
    #[inline(always)]
    pub const fn is_own(self) -> bool {
        self.0 == Self::INJECTED_BY_SELF.0 || self.0 == Self::PREVIOUSLY_INJECTED_BY_SELF.0
    }
}

/// The `injectionContext` an injection passed, returned when the packet comes back to classify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct InjectionContext(pub usize);

impl InjectionContext {
    /// No context.
    pub const NONE: Self = Self(0);

    #[inline(always)]
    pub(crate) fn as_raw(self) -> HANDLE {
        self.0 as HANDLE
    }
}

impl<K: KernelApi> InjectionHandle<K> {
    /// The injection state of `nbl` relative to this handle, with the injection context for the
    /// "by self" states.
    ///
    /// IRQL <= DISPATCH_LEVEL (asserted in debug builds). Not for stream-layer data, for which
    /// the docs say the state is meaningless.
    #[inline]
    pub fn query(&self, nbl: NetBufferListRef<'_>) -> (InjectionState, Option<InjectionContext>) {
        let mut context: HANDLE = ptr::null_mut();
        let state = self.query_into(nbl, &mut context);
        let own = state.is_own().then_some(InjectionContext(context as usize));
        (state, own)
    }

    /// The one FwpsQueryPacketInjectionState0 call: `context` is null (the page's
    /// `injectionContext` is optional: facts row [query-context-optional]) or writable.
    #[inline(always)]
    fn query_into(&self, nbl: NetBufferListRef<'_>, context: *mut HANDLE) -> InjectionState {
        debug_assert!(Irql(self.kernel().ke_get_current_irql()) <= Irql::DISPATCH);
        // SAFETY: IRQL <= DISPATCH_LEVEL (documented, asserted in debug builds); the handle is
        // live while `self` exists; `nbl` is valid for the borrow; `context` is null or writable
        // (this function's contract, kept by its two callers).
        InjectionState(unsafe {
            self.kernel()
                .fwps_query_packet_injection_state0(self.as_raw(), nbl.as_raw(), context)
        })
    }

    /// `Some(context)` when this handle injected `nbl` (now or before it was cloned).
    #[inline]
    pub fn injected_by_self(&self, nbl: NetBufferListRef<'_>) -> Option<InjectionContext> {
        self.query(nbl).1
    }

    /// The injection state of `nbl` relative to this handle, without its context (the page's
    /// `injectionContext` is optional: facts row [query-context-optional]): what classify
    /// needs to tell its own packets from another driver's.
    ///
    /// IRQL <= DISPATCH_LEVEL (asserted in debug builds).
    #[inline]
    pub fn state(&self, nbl: NetBufferListRef<'_>) -> InjectionState {
        self.query_into(nbl, ptr::null_mut())
    }

    /// True when this handle injected `nbl` (now or before it was cloned): the reinjection-loop
    /// check alone. Passes no context pointer (the page's `injectionContext` is optional:
    /// facts row [query-context-optional]), so classify spends nothing on a context it does not
    /// read.
    ///
    /// IRQL <= DISPATCH_LEVEL (asserted in debug builds).
    #[inline]
    pub fn is_own(&self, nbl: NetBufferListRef<'_>) -> bool {
        self.query_into(nbl, ptr::null_mut()).is_own()
    }
}

impl<K: KernelApi> DualStackInjector<K> {
    /// [`InjectionHandle::query`] with the handle of the packet's family.
    #[inline]
    pub fn query(
        &self,
        family: IpFamily,
        nbl: NetBufferListRef<'_>,
    ) -> (InjectionState, Option<InjectionContext>) {
        self.handle(family).query(nbl)
    }

    /// `Some(context)` when this injector injected `nbl`.
    #[inline]
    pub fn injected_by_self(
        &self,
        family: IpFamily,
        nbl: NetBufferListRef<'_>,
    ) -> Option<InjectionContext> {
        self.handle(family).injected_by_self(nbl)
    }

    /// [`InjectionHandle::state`] with the handle of the packet's family.
    #[inline]
    pub fn state(&self, family: IpFamily, nbl: NetBufferListRef<'_>) -> InjectionState {
        self.handle(family).state(nbl)
    }

    /// [`InjectionHandle::is_own`] with the handle of the packet's family.
    #[inline]
    pub fn is_own(&self, family: IpFamily, nbl: NetBufferListRef<'_>) -> bool {
        self.handle(family).is_own(nbl)
    }
}
