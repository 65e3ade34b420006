//! [`PacketInjector`]: the dual-stack handles plus everything an injection needs while WFP holds
//! it: a per-injection context from a fixed pool, rundown protection that counts it as in flight
//! (queued DPC work included), and a typed completion that returns the packet to its owner.

use core::ffi::c_void;
use core::fmt;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};

use crate::cached_pool::CachedPool;
use crate::callbacks::{completion_for, run_deferred_injection};
use crate::completion::{Completion, CompletionHandler};
use crate::dual_stack::{DualStackError, DualStackInjector};
use crate::error::{Error, InputError, KernelFn};
use crate::nbl::{ClonedNetBufferList, NetBufferListRef, OwnedNetBufferList};
use crate::nt::{Irql, NtStatus};
use crate::pool::SlotPool;
use crate::request::{CONTROL_DATA_CAPACITY, INLINE_CONTROL_DATA, Injection, InjectionPath, Tag};
use crate::slots::{DeferredSlot, InjectionSlot, LargeControlData, NO_LARGE};
use crate::sys::KernelApi;
use crate::sys::types::{
    ALL_PROCESSOR_GROUPS, FWPS_INJECT_COMPLETE0, HANDLE, KDPC, NET_BUFFER_LIST, NTSTATUS,
    NonPagedPoolNx, PEX_RUNDOWN_REF_CACHE_AWARE,
};

/// Pool tag of the injector's rundown block ('WfpR', stored little-endian so that pool tools
/// print it in reading order): the kernel allocates it, so it gets a tag of its own beside the
/// driver's allocator's.
const RUNDOWN_TAG: u32 = u32::from_le_bytes(*b"WfpR");

/// An injection the injector did not take: why, and the packet, back in the caller's hands.
pub struct Refused<P> {
    /// Why.
    pub error: Error,
    /// The packet, still owned by the caller (dropping it releases it).
    pub packet: P,
}

impl<P> fmt::Debug for Refused<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// How many contexts of each kind an injector allocates at creation (nothing is allocated per
/// packet). [`PacketInjector::new`] uses [`Pools::for_capacity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pools {
    /// Injections in flight at once: one 160-byte context each.
    pub contexts: u32,
    /// TCP transport injections queued for their DPC at once (a KDPC and the request each,
    /// about 140 bytes, given back as soon as the DPC routine starts, so far fewer are needed
    /// than contexts). When all are queued, further TCP injections are refused with
    /// [`Error::ContextsExhausted`] before any kernel call.
    pub deferred: u32,
    /// Transport sends in flight at once whose control data is longer than
    /// [`INLINE_CONTROL_DATA`]: a [`CONTROL_DATA_CAPACITY`]-byte buffer each. At most 65,534.
    pub large_control_data: u16,
}

impl Pools {
    /// Default deferred slots (at most one per context).
    pub const DEFERRED: u32 = 256;
    /// Default large control-data buffers (at most one per context).
    pub const LARGE_CONTROL_DATA: u16 = 16;

    /// `capacity` contexts; deferred slots and large control-data buffers only for handles that
    /// can inject on the transport paths (the only ones that use them), at most
    /// [`DEFERRED`](Self::DEFERRED) and [`LARGE_CONTROL_DATA`](Self::LARGE_CONTROL_DATA) and
    /// never more than `capacity`.
    pub fn for_capacity(capacity: u32, types: crate::InjectionTypes) -> Self {
        let transport = types.contains(crate::InjectionTypes::TRANSPORT);
        let large = u16::try_from(capacity).unwrap_or(u16::MAX);
        Self {
            contexts: capacity,
            deferred: if transport {
                capacity.min(Self::DEFERRED)
            } else {
                0
            },
            large_control_data: if transport {
                large.min(Self::LARGE_CONTROL_DATA)
            } else {
                0
            },
        }
    }
}

/// The contexts one injection holds from its reservation on: an injection slot and, for a
/// deferred call, a deferred slot ([`NO_DEFERRED`] when none). A rundown reference is held with
/// them. A large control-data buffer, when the injection has one, is recorded in the slot. Eight
/// bytes, so it travels in a register.
#[derive(Clone, Copy)]
struct Reservation {
    slot: u32,
    deferred: u32,
}

/// [`Reservation::deferred`] for an injection made directly.
const NO_DEFERRED: u32 = u32::MAX;

pub(crate) struct Shared<K: KernelApi, H> {
    kernel: K,
    handles: ManuallyDrop<DualStackInjector<K>>,
    handler: H,
    /// Counts the injections in flight: cache-aware (the kernel spreads the count over
    /// processors), so that the acquire and release every injection makes write no line that
    /// every processor writes. Non-paged: acquired and released at DISPATCH_LEVEL.
    rundown: PEX_RUNDOWN_REF_CACHE_AWARE,
    /// Rundown has been waited for: it must not be waited for twice.
    drained: core::sync::atomic::AtomicBool,
    /// The per-injection contexts, behind a cache per processor: an injection and its
    /// completion on one processor touch no line another processor writes.
    pub(crate) contexts: CachedPool<InjectionSlot>,
    /// Held by TCP transport injections until their DPC runs.
    pub(crate) deferred: SlotPool<DeferredSlot>,
    /// Held by transport sends with long control data until their completion.
    large: SlotPool<LargeControlData>,
    /// See [`fast_send`](Self::fast_send).
    send_limit: usize,
}

/// Injects packets through a [`DualStackInjector`] with every rule of the API kept by
/// construction:
///
/// - **ownership**: [`inject`](Self::inject) takes the packet; on success WFP holds it until the
///   completion hands it to the [`CompletionHandler`]; on refusal it comes back in [`Refused`].
///   Nothing can leak it or free it twice.
/// - **no general allocation per packet**: each injection uses a context from a pool allocated at
///   creation ([`capacity`](Self::capacity) of them); when all are in use the call is refused.
/// - **parameters outlive the call**: the transport-send remote address, scope id and control
///   data are copied into the context, which lives until the completion.
/// - **TCP transport injection runs from a DPC**, as the docs require; the queued work counts as
///   in flight.
/// - **teardown**: [`close`](Self::close) refuses new injections, waits for every one in flight
///   (queued DPCs included, via rundown protection), flushes DPCs, then destroys the handles,
///   which waits for WFP's completions to return. After it returns no completion of this injector
///   can run. Dropping the injector does the same.
///
/// IRQL: created and closed at PASSIVE_LEVEL; inject, clone and query at IRQL <= DISPATCH_LEVEL
/// (asserted in debug builds). Completions run at IRQL <= DISPATCH_LEVEL.
pub struct PacketInjector<K: KernelApi, H: CompletionHandler<K>> {
    shared: NonNull<Shared<K, H>>,
}

// SAFETY: the shared state is reached only through atomics, the pool's ownership protocol and
// kernel calls that are safe from any processor; K and H are themselves shareable.
unsafe impl<K: KernelApi + Send + Sync, H: CompletionHandler<K> + Send> Send
    for PacketInjector<K, H>
{
}
// SAFETY: as above.
unsafe impl<K: KernelApi + Send + Sync, H: CompletionHandler<K> + Send> Sync
    for PacketInjector<K, H>
{
}

impl<K, H> PacketInjector<K, H>
where
    K: KernelApi,
    H: CompletionHandler<K>,
{
    /// Takes ownership of `handles` and prepares `capacity` per-injection contexts (the most
    /// injections in flight at once). The only allocations the injector makes happen here.
    ///
    /// IRQL: PASSIVE_LEVEL. On failure the handles are destroyed.
    ///
    /// The contexts are sized by [`Pools::for_capacity`]; [`with_pools`](Self::with_pools) sizes
    /// each pool.
    pub fn new(handles: DualStackInjector<K>, capacity: u32, handler: H) -> Result<Self, Error> {
        let pools = Pools::for_capacity(capacity, handles.types());
        Self::with_pools(handles, pools, handler)
    }

    /// [`new`](Self::new) with each pool's size given.
    ///
    /// IRQL: PASSIVE_LEVEL. On failure the handles are destroyed.
    pub fn with_pools(
        handles: DualStackInjector<K>,
        pools: Pools,
        handler: H,
    ) -> Result<Self, Error> {
        let kernel = handles.handle(crate::IpFamily::V4).kernel().clone();
        Error::check_irql(&kernel, Irql::PASSIVE)?;
        let capacity = pools.contexts;
        if capacity == 0 {
            return Err(InputError::ZeroCapacity.into());
        }
        let send_limit = if handles.types().contains(crate::InjectionTypes::TRANSPORT) {
            INLINE_CONTROL_DATA + 1
        } else {
            0
        };
        // Allocated directly, not through Vec or Box::new, whose growth and allocation-failure
        // paths end in alloc's panicking handlers (none may be in the kernel image), and first,
        // so that every slot is made knowing its owner. On failure the handles are dropped here,
        // which destroys them.
        let layout = core::alloc::Layout::new::<Shared<K, H>>();
        // SAFETY: Shared is not zero-sized (it holds the handles and the pools).
        let raw = unsafe { alloc::alloc::alloc(layout) }.cast::<Shared<K, H>>();
        if raw.is_null() {
            return Err(Error::OutOfMemory);
        }
        let owner = raw.cast_const().cast::<c_void>();
        let processors = kernel.ke_query_active_processor_count_ex(ALL_PROCESSOR_GROUPS);
        let pools = SlotPool::new(capacity, |index| InjectionSlot::empty(index, owner))
            .and_then(|contexts| CachedPool::new(contexts, processors))
            .and_then(|contexts| {
                let deferred =
                    SlotPool::new(pools.deferred, |index| DeferredSlot::empty(index, owner))?;
                let count = u32::from(pools.large_control_data.min(NO_LARGE - 1));
                let large = SlotPool::new(count, |_| LargeControlData {
                    bytes: [0; CONTROL_DATA_CAPACITY],
                })?;
                Ok((contexts, deferred, large))
            });
        // SAFETY: PASSIVE_LEVEL (checked above); non-paged, since injections acquire and
        // release it at DISPATCH_LEVEL.
        let rundown = unsafe {
            kernel.ex_allocate_cache_aware_rundown_protection(NonPagedPoolNx, RUNDOWN_TAG)
        };
        let pools = match pools {
            Ok(_) if rundown.is_null() => Err(Error::OutOfMemory),
            other => other,
        };
        let (contexts, deferred, large) = match pools {
            Ok(pools) => pools,
            Err(error) => {
                if !rundown.is_null() {
                    // SAFETY: allocated above, never shared, freed once; PASSIVE_LEVEL.
                    unsafe { kernel.ex_free_cache_aware_rundown_protection(rundown) };
                }
                // SAFETY: allocated above with this layout, never written.
                unsafe { alloc::alloc::dealloc(raw.cast(), layout) };
                return Err(error);
            }
        };
        let value = Shared {
            kernel,
            handles: ManuallyDrop::new(handles),
            handler,
            rundown,
            drained: core::sync::atomic::AtomicBool::new(false),
            contexts,
            deferred,
            large,
            send_limit,
        };
        // SAFETY: `raw` is a fresh block with Shared's layout.
        unsafe { raw.write(value) };
        // SAFETY: checked non-null above.
        let shared = unsafe { NonNull::new_unchecked(raw) };
        // SAFETY: freshly allocated and not yet shared: exclusive access.
        let state = unsafe { shared.as_ref() };
        for index in 0..state.deferred.capacity() {
            let deferred = state.deferred.get(index);
            // SAFETY: no index has been handed out yet, so every slot is exclusively ours; the
            // slots never move (boxed slices), so the DPC and its context stay valid as long as
            // the shared state.
            unsafe {
                state.kernel.ke_initialize_dpc(
                    deferred.cast::<KDPC>(),
                    run_deferred_injection::<K, H>,
                    deferred.cast(),
                )
            };
        }
        Ok(Self { shared })
    }

    /// The handles (for queries).
    #[inline(always)]
    pub fn handles(&self) -> &DualStackInjector<K> {
        &self.state().handles
    }

    /// The completion handler.
    #[inline(always)]
    pub fn handler(&self) -> &H {
        &self.state().handler
    }

    /// How many injections can be in flight at once.
    pub fn capacity(&self) -> u32 {
        self.state().contexts.capacity()
    }

    /// Injections in flight now (accepted or queued, not yet completed): a snapshot.
    pub fn in_flight(&self) -> u32 {
        let contexts = &self.state().contexts;
        contexts.capacity() - contexts.free_count()
    }

    /// Injects `packet` as `injection` says. On success the completion handler receives the
    /// packet later; on refusal it comes back in the error with nothing sent to WFP.
    ///
    /// Refused before the kernel is called: a handle without the path's injection type, control
    /// data over [`CONTROL_DATA_CAPACITY`], all contexts in use (or, as needed, all deferred slots
    /// or all large control-data buffers; see [`Pools`]). Refused by the kernel: a closing
    /// injector (rundown), the injection call itself.
    ///
    /// IRQL <= DISPATCH_LEVEL.
    #[inline]
    pub fn inject(
        &self,
        packet: H::Packet,
        injection: Injection<'_>,
        tag: Tag,
    ) -> Result<(), Refused<H::Packet>> {
        let state = self.state();
        let checked = match state.fast_send(&injection) {
            Fast::Checked => true,
            Fast::Unchecked => false,
            Fast::No(length) => return state.inject_long(packet, &injection, length, tag),
        };
        let reservation = match state.reserve(&injection, None, checked) {
            Ok(reservation) => reservation,
            Err(error) => return Err(Refused { error, packet }),
        };
        // SAFETY: the reservation was just made for this injection and is used once.
        unsafe { state.submit(reservation, None, packet, &injection, tag) }
    }

    /// Closes: refuses new injections, waits for those in flight, destroys the handles.
    /// Returns the handles' destroy result.
    ///
    /// IRQL: PASSIVE_LEVEL; above it nothing happens and the injector comes back in the error.
    pub fn close(self) -> Result<(), (DualStackError, Option<Self>)> {
        if let Err(error) = Error::check_irql(&self.state().kernel, Irql::PASSIVE) {
            return Err((
                DualStackError {
                    family: None,
                    error,
                },
                Some(self),
            ));
        }
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again; shut_down runs once.
        unsafe { this.shut_down() }.map_err(|failure| (failure, None))
    }
}

impl<K> PacketInjector<K, crate::FreeOnCompletion<ClonedNetBufferList<K>>>
where
    K: KernelApi,
{
    /// An injector whose completions just free the clones it carried.
    pub fn freeing_clones(handles: DualStackInjector<K>, capacity: u32) -> Result<Self, Error> {
        Self::new(handles, capacity, crate::FreeOnCompletion::new())
    }
}

impl<K, H> PacketInjector<K, H>
where
    K: KernelApi,
    H: CompletionHandler<K, Packet = ClonedNetBufferList<K>>,
{
    /// Clones `original` and injects the clone. The clone is freed by the completion handler
    /// (dropping it) or, if the injection is refused, at once.
    ///
    /// IRQL <= DISPATCH_LEVEL.
    #[inline(always)]
    pub fn clone_and_inject(
        &self,
        original: NetBufferListRef<'_>,
        injection: Injection<'_>,
        tag: Tag,
    ) -> Result<(), Error> {
        // Check and reserve first, so a refused request costs no clone and a full pool no
        // kernel call; then clone and submit into the reservation.
        let state = self.state();
        // One submission for both kinds of reservation (the image keeps a single copy of it);
        // `inject` instead duplicates the long-control-data path, out of the common one's way.
        let (checked, long) = match state.fast_send(&injection) {
            Fast::Checked => (true, None),
            Fast::Unchecked => (false, None),
            Fast::No(length) => (false, Some(length)),
        };
        let large = match long {
            Some(length) => Some(state.take_large(injection.path(), length)?),
            None => None,
        };
        let reservation = state.reserve(&injection, large, checked)?;
        state.clone_and_submit(reservation, large, original, &injection, tag)
    }
}

impl<K, H> Shared<K, H>
where
    K: KernelApi,
    H: CompletionHandler<K, Packet = ClonedNetBufferList<K>>,
{
    /// Clones `original` into a reservation and submits the clone.
    #[inline(always)]
    fn clone_and_submit(
        &self,
        reservation: Reservation,
        large: Option<u16>,
        original: NetBufferListRef<'_>,
        injection: &Injection<'_>,
        tag: Tag,
    ) -> Result<(), Error> {
        let clone = match ClonedNetBufferList::clone_of(self.kernel.clone(), original) {
            Ok(clone) => clone,
            Err(error) => {
                self.cancel(reservation);
                return Err(error);
            }
        };
        // SAFETY: the reservation was made for this injection and is used once.
        unsafe { self.submit(reservation, large, clone, injection, tag) }
            .map_err(|refused| refused.error)
    }
}

/// Marks the branch that calls it unlikely.
#[cold]
#[inline(never)]
fn cold_path() {}

/// Whether an injection may take the common path, from [`Shared::fast_send`].
enum Fast {
    /// A transport send the handles can make, with control data the slot holds.
    Checked,
    /// Another path: [`Shared::reserve`] checks the handles' injection types.
    Unchecked,
    /// A transport send with this much control data that the handles cannot make or the slot
    /// cannot hold: the out-of-line path sorts it out.
    No(usize),
}

impl<K: KernelApi, H: CompletionHandler<K>> Shared<K, H> {
    /// One comparison decides a transport send: `send_limit` is one more than the control data a
    /// slot holds when the handles can inject on the transport path, and zero when they cannot,
    /// so that every transport send goes to the out-of-line path, which checks properly.
    #[inline(always)]
    fn fast_send(&self, injection: &Injection<'_>) -> Fast {
        match injection {
            Injection::TransportSend(send) => {
                let length = send.control_data.len();
                if length < self.send_limit {
                    // SAFETY: `send_limit` is 0 or INLINE_CONTROL_DATA + 1 (set once in
                    // `with_pools`), so `length` < it is at most INLINE_CONTROL_DATA. Telling the
                    // optimizer lets the copy into the slot drop its bound.
                    unsafe { core::hint::assert_unchecked(length <= INLINE_CONTROL_DATA) };
                    Fast::Checked
                } else {
                    Fast::No(length)
                }
            }
            _ => Fast::Unchecked,
        }
    }
}

impl<K: KernelApi, H: CompletionHandler<K>> PacketInjector<K, H> {
    #[inline(always)]
    fn state(&self) -> &Shared<K, H> {
        // SAFETY: `shared` is valid from `new` until `shut_down` frees it, which only `close`
        // and `Drop` call, both consuming or ending `self`.
        unsafe { self.shared.as_ref() }
    }

    /// Refuses new injections ([`Error::Closing`]) and waits until none is in flight, queued
    /// DPC work included; the handles stay open. For a teardown that must stop injection before
    /// other steps and destroy the handles last; [`close`](Self::close) drains too. Idempotent.
    ///
    /// IRQL: PASSIVE_LEVEL (asserted in debug builds).
    pub fn drain(&self) {
        let state = self.state();
        debug_assert!(Irql(state.kernel.ke_get_current_irql()) == Irql::PASSIVE);
        if state
            .drained
            .swap(true, core::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        // SAFETY: PASSIVE_LEVEL (documented, asserted); the rundown block was allocated in
        // `new` and is freed only after this wait (shut_down).
        unsafe {
            state
                .kernel
                .ex_wait_for_rundown_protection_release_cache_aware(state.rundown)
        };
        // A DPC routine that released its reference may still be returning: let it finish.
        // SAFETY: PASSIVE_LEVEL.
        unsafe { state.kernel.ke_flush_queued_dpcs() };
    }

    /// # Safety
    /// Called once, at PASSIVE_LEVEL, after which `self.shared` is dangling.
    unsafe fn shut_down(&self) -> Result<(), DualStackError> {
        self.drain();
        let state = self.state();
        debug_assert_eq!(state.contexts.free_count(), state.contexts.capacity());
        let raw = self.shared.as_ptr();
        // SAFETY: no injection is in flight and none can start (rundown is complete), so this is
        // the last reference; the handles are taken out once.
        let last = unsafe { &mut *raw };
        // SAFETY: taken once; the ManuallyDrop is never read again.
        let handles = unsafe { ManuallyDrop::take(&mut last.handles) };
        // SAFETY: run down above (no protection is held, none can be acquired); PASSIVE_LEVEL;
        // freed once, and the state that names it is freed below.
        unsafe {
            last.kernel
                .ex_free_cache_aware_rundown_protection(last.rundown)
        };
        // Destroy waits for WFP to finish running completions on these handles.
        let result = handles.close().map_err(|(failure, _)| failure);
        // SAFETY: `raw` was allocated in `with_pools` by the global allocator with Shared's
        // layout, which is what Box frees with; nothing uses it after this.
        drop(unsafe { alloc::boxed::Box::from_raw(raw) });
        result
    }
}

impl<K: KernelApi, H: CompletionHandler<K>> Drop for PacketInjector<K, H> {
    fn drop(&mut self) {
        debug_assert!(
            Irql(self.state().kernel.ke_get_current_irql()) == Irql::PASSIVE,
            "PacketInjector dropped above PASSIVE_LEVEL"
        );
        // SAFETY: Drop runs at most once and only when close did not run (close wraps self in
        // ManuallyDrop); PASSIVE_LEVEL is the type's documented contract, asserted above.
        let _ = unsafe { self.shut_down() };
    }
}

impl<K: KernelApi, H: CompletionHandler<K>> Shared<K, H> {
    /// The processor the caller runs on, for the contexts' caches. Any IRQL.
    #[inline(always)]
    fn processor(&self) -> u32 {
        // SAFETY: any IRQL; a null PROCESSOR_NUMBER pointer asks for the index alone.
        unsafe {
            self.kernel
                .ke_get_current_processor_number_ex(ptr::null_mut())
        }
    }

    #[inline(always)]
    fn release_rundown(&self) {
        // SAFETY: called once per successful acquire, at IRQL <= DISPATCH_LEVEL on a non-paged
        // block that lives until shut_down, which waits for this release.
        unsafe {
            self.kernel
                .ex_release_rundown_protection_cache_aware(self.rundown)
        };
    }

    /// Refuses what needs no kernel call to refuse (a handle without the path's injection type,
    /// control data over [`CONTROL_DATA_CAPACITY`]), takes the contexts `injection` needs, then a
    /// rundown reference: a full pool is refused with no kernel call, a closing injector with
    /// one.
    ///
    /// `large`: the large control-data buffer already taken for this injection (given back on
    /// refusal), `None` on the common path.
    #[inline(always)]
    ///
    /// `types_checked`: [`fast_send`](Self::fast_send) already knows the handles can make this
    /// injection.
    fn reserve(
        &self,
        injection: &Injection<'_>,
        large: Option<u16>,
        types_checked: bool,
    ) -> Result<Reservation, Error> {
        if cfg!(debug_assertions) {
            if let Err(error) = Error::check_irql(&self.kernel, Irql::DISPATCH) {
                self.give_back_large(large);
                return Err(error);
            }
        }
        let needed = injection.path().required_type();
        let has = self.handles.types();
        if !types_checked && !has.contains(needed) {
            self.give_back_large(large);
            return Err(InputError::HandleLacksInjectionType { needed, has }.into());
        }
        let Some(slot) = self.contexts.take(self.processor()) else {
            self.give_back_large(large);
            return Err(Error::ContextsExhausted);
        };
        if let Some(index) = large {
            let record = self.contexts.get(slot);
            // SAFETY: the slot was just taken: ours until given back.
            unsafe { (*record).large = index };
        }
        let deferred = if injection.must_defer() {
            let Some(deferred) = self.deferred.take() else {
                self.give_back(Reservation {
                    slot,
                    deferred: NO_DEFERRED,
                });
                return Err(Error::ContextsExhausted);
            };
            deferred
        } else {
            NO_DEFERRED
        };
        let reservation = Reservation { slot, deferred };
        // SAFETY: IRQL <= DISPATCH_LEVEL (this method's callers); the non-paged block was
        // allocated in `new` and lives as long as `self`.
        if unsafe {
            self.kernel
                .ex_acquire_rundown_protection_cache_aware(self.rundown)
        } == 0
        {
            self.give_back(reservation);
            return Err(Error::Closing);
        }
        Ok(reservation)
    }

    /// A large control-data buffer for a transport send the common path does not take: the
    /// handles' types checked first (see [`fast_send`](Shared::fast_send)), then the length.
    /// Out of line. Takes the path, not the request: a reference to the request would make the
    /// caller keep the whole request in memory for this rarely taken call.
    #[cold]
    #[inline(never)]
    fn take_large(&self, path: InjectionPath, length: usize) -> Result<u16, Error> {
        let needed = path.required_type();
        let has = self.handles.types();
        if !has.contains(needed) {
            return Err(InputError::HandleLacksInjectionType { needed, has }.into());
        }
        if length > CONTROL_DATA_CAPACITY {
            return Err(InputError::ControlDataTooLong {
                length,
                capacity: CONTROL_DATA_CAPACITY,
            }
            .into());
        }
        match self.large.take() {
            // The pool has fewer than NO_LARGE buffers (clamped in `with_pools`).
            Some(index) => Ok(index as u16),
            None => Err(Error::ContextsExhausted),
        }
    }

    /// [`reserve`](Self::reserve) for control data of `length` bytes, longer than a context
    /// holds: refused beyond [`CONTROL_DATA_CAPACITY`], else with a large buffer taken first.
    /// Also where a transport send comes when the handles cannot make it (see
    /// [`fast_send`](Self::fast_send)): the injection types are checked first.
    #[inline(always)]
    fn reserve_long(
        &self,
        injection: &Injection<'_>,
        length: usize,
    ) -> Result<(Reservation, Option<u16>), Error> {
        if length <= INLINE_CONTROL_DATA {
            // Here only because the handles cannot make a transport send: `reserve` checks the
            // types and refuses.
            return Ok((self.reserve(injection, None, false)?, None));
        }
        let index = self.take_large(injection.path(), length)?;
        Ok((self.reserve(injection, Some(index), true)?, Some(index)))
    }

    /// [`PacketInjector::inject`] for a transport send whose control data is longer than a
    /// context holds. Inline, so that the request need not be stored for a call, but marked
    /// unlikely.
    #[inline(always)]
    fn inject_long(
        &self,
        packet: H::Packet,
        injection: &Injection<'_>,
        length: usize,
        tag: Tag,
    ) -> Result<(), Refused<H::Packet>> {
        cold_path();
        let (reservation, large) = match self.reserve_long(injection, length) {
            Ok(reserved) => reserved,
            Err(error) => return Err(Refused { error, packet }),
        };
        // SAFETY: the reservation was just made for this injection and is used once.
        unsafe { self.submit(reservation, large, packet, injection, tag) }
    }

    #[inline(always)]
    fn give_back_large(&self, large: Option<u16>) {
        if let Some(index) = large {
            self.large.give_back(u32::from(index));
        }
    }

    /// Gives back what a reservation holds (not its rundown reference), the large buffer its
    /// slot records included.
    #[cold]
    fn give_back(&self, reservation: Reservation) {
        if reservation.deferred != NO_DEFERRED {
            self.deferred.give_back(reservation.deferred);
        }
        let slot = self.contexts.get(reservation.slot);
        if !slot.is_null() {
            // SAFETY: the reservation owns the slot until it is given back below.
            unsafe { self.release_large(slot) };
        }
        self.contexts.give_back(self.processor(), reservation.slot);
    }

    /// Undoes [`reserve`](Self::reserve): contexts back, rundown reference released.
    #[cold]
    fn cancel(&self, reservation: Reservation) {
        self.give_back(reservation);
        self.release_rundown();
    }

    /// Hands `packet` to the kernel (or to the DPC) on a reservation; on refusal everything comes
    /// back: the contexts, the rundown reference and the packet.
    ///
    /// # Safety
    /// `reservation` came from [`reserve`](Self::reserve) for `injection` (with `large`, the
    /// large control-data buffer it holds, if any) and is used once; IRQL <= DISPATCH_LEVEL.
    #[inline(always)]
    unsafe fn submit(
        &self,
        reservation: Reservation,
        large: Option<u16>,
        packet: H::Packet,
        injection: &Injection<'_>,
        tag: Tag,
    ) -> Result<(), Refused<H::Packet>> {
        let slot = self.contexts.get(reservation.slot);
        let nbl = packet.into_raw();
        let completion = completion_for::<K, H>(large.is_some());
        let large = large.map(|index| self.large.get(u32::from(index)));
        // SAFETY: the reservation owns the slot (and the large buffer) until they are given back
        // (here on failure, or in the completion).
        unsafe { (*slot).load(injection, tag.cookie, large) };
        let (call, status) = match reservation.deferred {
            NO_DEFERRED => {
                // SAFETY: the slot is ours and loaded from `injection`; IRQL <= DISPATCH_LEVEL is
                // this method's contract; the rundown reference keeps the handles alive.
                let (call, status) = unsafe {
                    self.issue(
                        slot,
                        nbl,
                        injection,
                        tag.injection_context.as_raw(),
                        completion,
                    )
                };
                if NtStatus(status).is_success() {
                    return Ok(());
                }
                return self.refused(slot, NO_DEFERRED, nbl, call, status);
            }
            index => {
                let deferred = self.deferred.get(index);
                // SAFETY: the reservation owns the deferred slot; its DPC was initialized in
                // `new` and is not queued (the slot was free). The request is kept without its
                // control data, which the injection slot already holds.
                let deferred_slot = unsafe { &mut *deferred };
                deferred_slot.slot = reservation.slot;
                deferred_slot.nbl = nbl;
                deferred_slot.injection_context = tag.injection_context.as_raw();
                deferred_slot.injection = injection.without_control_data();
                // SAFETY: as above; the DPC stays valid until its routine runs, which holds the
                // rundown reference.
                let queued = unsafe {
                    self.kernel.ke_insert_queue_dpc(
                        deferred.cast::<KDPC>(),
                        ptr::null_mut(),
                        ptr::null_mut(),
                    )
                };
                if queued != 0 {
                    return Ok(());
                }
                (KernelFn::KeInsertQueueDpc, NtStatus::UNSUCCESSFUL.0)
            }
        };
        self.refused(slot, reservation.deferred, nbl, call, status)
    }

    /// The kernel did not take an injection: no completion will run, so everything comes back.
    #[cold]
    #[inline(never)]
    ///
    /// `slot` is the reservation's injection slot (its index is read from it, so the caller
    /// keeps no copy across the kernel call), `deferred` its deferred slot or [`NO_DEFERRED`].
    fn refused(
        &self,
        slot: *const InjectionSlot,
        deferred: u32,
        nbl: *mut NET_BUFFER_LIST,
        call: KernelFn,
        status: NTSTATUS,
    ) -> Result<(), Refused<H::Packet>> {
        // SAFETY: `nbl` came from `packet.into_raw` in `submit` and the kernel did not keep it.
        let packet = unsafe { H::Packet::from_raw(&self.kernel, nbl) };
        // SAFETY: the reservation still owns the slot.
        let index = unsafe { (*slot).index };
        self.cancel(Reservation {
            slot: index,
            deferred,
        });
        Err(Refused {
            error: Error::kernel(call, NtStatus(status)),
            packet,
        })
    }

    /// Calls the kernel's inject function for `injection`, whose slot is loaded.
    ///
    /// # Safety
    /// The caller owns the slot's pool index, the slot was loaded from `injection`, IRQL <=
    /// DISPATCH_LEVEL, and a rundown reference is held.
    #[inline(always)]
    pub(crate) unsafe fn issue(
        &self,
        slot: *mut InjectionSlot,
        nbl: *mut NET_BUFFER_LIST,
        injection: &Injection<'_>,
        context: HANDLE,
        completion: FWPS_INJECT_COMPLETE0,
    ) -> (KernelFn, NTSTATUS) {
        let handle = self.handles.handle(injection.family()).as_raw();
        let completion_context = slot.cast::<c_void>();
        let family = crate::AddressFamily::from(injection.family()).as_raw();
        // SAFETY: the caller owns the slot; only the field's address is taken.
        let send_args = unsafe { &raw mut (*slot).send_args };
        match *injection {
            Injection::TransportSend(send) => (
                KernelFn::FwpsInjectTransportSendAsync0,
                // SAFETY: the handle is live (rundown held); the NBL is owned and handed over;
                // send_args points into the slot, which lives until the completion.
                unsafe {
                    self.kernel.fwps_inject_transport_send_async0(
                        handle,
                        context,
                        send.endpoint_handle,
                        0,
                        send_args,
                        family,
                        send.compartment,
                        nbl,
                        completion,
                        completion_context,
                    )
                },
            ),
            Injection::TransportReceive(receive) => (
                KernelFn::FwpsInjectTransportReceiveAsync0,
                // SAFETY: as above; `reserved` must be null.
                unsafe {
                    self.kernel.fwps_inject_transport_receive_async0(
                        handle,
                        context,
                        ptr::null_mut(),
                        0,
                        family,
                        receive.compartment,
                        receive.interface_index,
                        receive.sub_interface_index,
                        nbl,
                        completion,
                        completion_context,
                    )
                },
            ),
            Injection::NetworkSend(send) => (
                KernelFn::FwpsInjectNetworkSendAsync0,
                // SAFETY: as above; the handle is the packet family's (dual stack).
                unsafe {
                    self.kernel.fwps_inject_network_send_async0(
                        handle,
                        context,
                        0,
                        send.compartment,
                        nbl,
                        completion,
                        completion_context,
                    )
                },
            ),
            Injection::NetworkReceive(receive) => (
                KernelFn::FwpsInjectNetworkReceiveAsync0,
                // SAFETY: as above.
                unsafe {
                    self.kernel.fwps_inject_network_receive_async0(
                        handle,
                        context,
                        0,
                        receive.compartment,
                        receive.interface_index,
                        receive.sub_interface_index,
                        nbl,
                        completion,
                        completion_context,
                    )
                },
            ),
            Injection::Forward(forward) => (
                KernelFn::FwpsInjectForwardAsync0,
                // SAFETY: as above.
                unsafe {
                    self.kernel.fwps_inject_forward_async0(
                        handle,
                        context,
                        0,
                        family,
                        forward.compartment,
                        forward.interface_index,
                        nbl,
                        completion,
                        completion_context,
                    )
                },
            ),
            Injection::Stream(stream) => (
                KernelFn::FwpsStreamInjectAsync0,
                // SAFETY: as above; stream injection always gets a completion function.
                unsafe {
                    self.kernel.fwps_stream_inject_async0(
                        handle,
                        context,
                        0,
                        stream.flow_id,
                        stream.callout_id,
                        stream.layer_id,
                        stream.stream_flags,
                        nbl,
                        stream.data_length,
                        completion,
                        completion_context,
                    )
                },
            ),
        }
    }

    /// Ends an injection: the packet to the handler, the slot back to the pool, and the rundown
    /// reference released last, so that close cannot free this state while it is in use.
    ///
    /// # Safety
    /// `slot` belongs to a finished injection whose NBL is `nbl`; called once.
    #[inline(always)]
    pub(crate) unsafe fn finish(
        &self,
        slot: *const InjectionSlot,
        nbl: *mut NET_BUFFER_LIST,
        status: NtStatus,
        at_dispatch: bool,
    ) {
        let (index, path, cookie) = {
            // SAFETY: the injection owns the slot until give_back below.
            let slot = unsafe { &*slot };
            (slot.index, slot.path, slot.cookie)
        };
        // SAFETY: `nbl` came from `H::Packet::into_raw` in `submit`, handed back by WFP.
        let packet = unsafe { H::Packet::from_raw(&self.kernel, nbl) };
        let processor = self.processor();
        self.contexts.give_back(processor, index);
        self.handler.completed(Completion {
            packet,
            status,
            path,
            cookie,
            at_dispatch,
            processor,
        });
        self.release_rundown();
    }
}

impl<K: KernelApi, H: CompletionHandler<K>> Shared<K, H> {
    /// Gives back the large control-data buffer the injection in `slot` holds, if any.
    ///
    /// # Safety
    /// The caller owns the slot (a finished injection, before [`finish`](Self::finish)).
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn release_large(&self, slot: *mut InjectionSlot) {
        // SAFETY: the caller owns the slot.
        let slot = unsafe { &mut *slot };
        if slot.large != NO_LARGE {
            self.large.give_back(u32::from(slot.large));
            slot.large = NO_LARGE;
        }
    }
}

impl<K: KernelApi, H: CompletionHandler<K>> fmt::Debug for PacketInjector<K, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketInjector")
            .field("handles", &*self.state().handles)
            .field("capacity", &self.state().contexts.capacity())
            .finish()
    }
}
