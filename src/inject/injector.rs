//! [`PacketInjector`]: the dual-stack handles plus everything an injection needs while WFP holds
//! it: a per-injection context from a fixed pool, rundown protection that counts it as in flight
//! (queued DPC work included), and a typed completion that returns the packet to its owner.

use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::fmt;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};

use crate::error::{Error, InputError, KernelCall};
use crate::inject::completion::{Completion, CompletionHandler};
use crate::inject::dual_stack::{DualStackError, DualStackInjector};
use crate::inject::nbl::{ClonedNetBufferList, NetBufferListRef, OwnedNetBufferList};
use crate::inject::pool::SlotPool;
use crate::inject::request::{CONTROL_DATA_CAPACITY, Injection, RemoteAddress, Tag};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::{
    BOOLEAN, EX_RUNDOWN_REF, FWPS_TRANSPORT_SEND_PARAMS0, KDPC, NET_BUFFER_LIST, NTSTATUS,
};

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

/// Per-injection context: lives in the pool from creation to close, so everything the kernel
/// reads until completion (send parameters, remote address, control data, the DPC) stays valid.
/// The DPC comes first, so a slot pointer cast to `*mut KDPC` is its DPC.
#[repr(C)]
struct InjectionSlot {
    /// Queued for TCP transport injections, initialized once at creation.
    dpc: KDPC,
    /// The injector's shared state (type-erased: the slot type is not generic).
    owner: *const c_void,
    index: u32,
    nbl: *mut NET_BUFFER_LIST,
    injection: Injection<'static>,
    tag: Tag,
    send_args: FWPS_TRANSPORT_SEND_PARAMS0,
    remote_address: [u8; 16],
    control_data: [u8; CONTROL_DATA_CAPACITY],
}

const _: () = assert!(core::mem::offset_of!(InjectionSlot, dpc) == 0);

// SAFETY: a slot is only touched by the owner of its pool index (one thread at a time) and by
// the kernel while an injection holds it.
unsafe impl Send for InjectionSlot {}

impl InjectionSlot {
    fn empty(index: u32) -> Self {
        Self {
            dpc: KDPC::zeroed(),
            owner: ptr::null(),
            index,
            nbl: ptr::null_mut(),
            injection: Injection::Forward(crate::inject::request::Forward {
                family: crate::inject::IpFamily::V4,
                compartment: 0,
                interface_index: 0,
            }),
            tag: Tag::default(),
            send_args: FWPS_TRANSPORT_SEND_PARAMS0 {
                remoteAddress: ptr::null_mut(),
                remoteScopeId: 0,
                controlData: ptr::null_mut(),
                controlDataLength: 0,
            },
            remote_address: [0; 16],
            control_data: [0; CONTROL_DATA_CAPACITY],
        }
    }

    /// Copies the request into the slot; transport send parameters point into the slot.
    fn load(&mut self, nbl: *mut NET_BUFFER_LIST, injection: &Injection<'_>, tag: Tag) {
        self.nbl = nbl;
        self.tag = tag;
        self.injection = match *injection {
            Injection::TransportSend(send) => {
                let scope_id = match send.remote_address {
                    RemoteAddress::V4(address) => {
                        self.remote_address[..4].copy_from_slice(&address);
                        0
                    }
                    RemoteAddress::V6(address, scope_id) => {
                        self.remote_address = address;
                        scope_id
                    }
                };
                // Length checked by `check` before the slot was taken.
                let length = send.control_data.len().min(CONTROL_DATA_CAPACITY);
                self.control_data[..length].copy_from_slice(&send.control_data[..length]);
                self.send_args = FWPS_TRANSPORT_SEND_PARAMS0 {
                    remoteAddress: self.remote_address.as_mut_ptr(),
                    remoteScopeId: scope_id,
                    controlData: if length == 0 {
                        ptr::null_mut()
                    } else {
                        self.control_data.as_mut_ptr().cast()
                    },
                    controlDataLength: length as u32,
                };
                Injection::TransportSend(crate::inject::request::TransportSend {
                    control_data: &[],
                    ..send
                })
            }
            Injection::TransportReceive(receive) => Injection::TransportReceive(receive),
            Injection::NetworkSend(send) => Injection::NetworkSend(send),
            Injection::NetworkReceive(receive) => Injection::NetworkReceive(receive),
            Injection::Forward(forward) => Injection::Forward(forward),
            Injection::Stream(stream) => Injection::Stream(stream),
        };
    }
}

struct Shared<K: KernelApi, H> {
    kernel: K,
    handles: ManuallyDrop<DualStackInjector<K>>,
    handler: H,
    rundown: UnsafeCell<EX_RUNDOWN_REF>,
    /// Rundown has been waited for: it must not be waited for twice.
    drained: core::sync::atomic::AtomicBool,
    contexts: SlotPool<InjectionSlot>,
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
    pub fn new(handles: DualStackInjector<K>, capacity: u32, handler: H) -> Result<Self, Error> {
        let kernel = handles.handle(crate::inject::IpFamily::V4).kernel().clone();
        Error::check_irql(&kernel, Irql::PASSIVE)?;
        if capacity == 0 {
            return Err(InputError::ZeroCapacity.into());
        }
        let contexts = SlotPool::new(capacity, InjectionSlot::empty)?;
        let mut boxed = Vec::new();
        boxed.try_reserve_exact(1).map_err(|_| Error::OutOfMemory)?;
        boxed.push(Shared {
            kernel,
            handles: ManuallyDrop::new(handles),
            handler,
            rundown: UnsafeCell::new(EX_RUNDOWN_REF { Count: 0 }),
            drained: core::sync::atomic::AtomicBool::new(false),
            contexts,
        });
        let raw = alloc::boxed::Box::into_raw(boxed.into_boxed_slice()).cast::<Shared<K, H>>();
        // SAFETY: into_raw never returns null.
        let shared = unsafe { NonNull::new_unchecked(raw) };
        // SAFETY: freshly allocated and not yet shared: exclusive access.
        let state = unsafe { shared.as_ref() };
        // SAFETY: the rundown word is owned by the shared state, aligned, not yet in use.
        unsafe {
            state
                .kernel
                .ex_initialize_rundown_protection(state.rundown.get())
        };
        for index in 0..capacity {
            let slot = state.contexts.get(index);
            // SAFETY: no index has been handed out yet, so every slot is exclusively ours; the
            // slots never move (boxed slice), so the DPC and its context stay valid.
            unsafe {
                (*slot).owner = raw.cast_const().cast();
            }
            // SAFETY: as above; the DPC storage lives as long as the shared state.
            unsafe {
                state.kernel.ke_initialize_dpc(
                    slot.cast::<KDPC>(),
                    run_deferred_injection::<K, H>,
                    slot.cast(),
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
    /// data over [`CONTROL_DATA_CAPACITY`], a closing injector, all contexts in use.
    ///
    /// IRQL <= DISPATCH_LEVEL.
    #[inline]
    pub fn inject(
        &self,
        packet: H::Packet,
        injection: Injection<'_>,
        tag: Tag,
    ) -> Result<(), Refused<H::Packet>> {
        if let Err(error) = self.state().check(&injection) {
            return Err(Refused { error, packet });
        }
        self.submit(packet, injection, tag)
    }

    /// [`inject`](Self::inject) after its checks have passed: rundown reference, context, kernel
    /// call (or DPC), and the packet handed back if anything refuses.
    #[inline(always)]
    fn submit(
        &self,
        packet: H::Packet,
        injection: Injection<'_>,
        tag: Tag,
    ) -> Result<(), Refused<H::Packet>> {
        let state = self.state();
        // SAFETY: the rundown word was initialized in `new` and lives as long as `state`.
        if unsafe {
            state
                .kernel
                .ex_acquire_rundown_protection(state.rundown.get())
        } == 0
        {
            return Err(Refused {
                error: Error::Closing,
                packet,
            });
        }
        let Some(index) = state.contexts.take() else {
            state.release_rundown();
            return Err(Refused {
                error: Error::ContextsExhausted,
                packet,
            });
        };
        let slot = state.contexts.get(index);
        // SAFETY: `index` was just taken from the pool, so the slot is exclusively ours until it
        // is given back (here on failure, or in the completion).
        unsafe { (*slot).load(packet.into_raw(), &injection, tag) };
        let (call, status) = if injection.must_defer() {
            // SAFETY: the slot's DPC was initialized in `new` and is not queued (the slot was
            // free); it stays valid until the routine runs, which holds the rundown reference.
            let queued = unsafe {
                state.kernel.ke_insert_queue_dpc(
                    slot.cast::<KDPC>(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            };
            if queued != 0 {
                return Ok(());
            }
            (KernelCall::KeInsertQueueDpc, NtStatus::UNSUCCESSFUL.0)
        } else {
            // SAFETY: the slot is ours and loaded; IRQL <= DISPATCH_LEVEL is this method's
            // contract; the rundown reference keeps the handles alive.
            unsafe { state.issue(slot) }
        };
        if NtStatus(status).is_success() {
            return Ok(());
        }
        // The kernel did not take it: no completion will run, so everything comes back here.
        // SAFETY: the slot is still ours.
        let nbl = unsafe { (*slot).nbl };
        // SAFETY: `nbl` came from `packet.into_raw` above and the kernel did not keep it.
        let packet = unsafe { H::Packet::from_raw(&state.kernel, nbl) };
        state.contexts.give_back(index);
        state.release_rundown();
        Err(Refused {
            error: Error::kernel(call, NtStatus(status)),
            packet,
        })
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

impl<K> PacketInjector<K, crate::inject::FreeOnCompletion<ClonedNetBufferList<K>>>
where
    K: KernelApi,
{
    /// An injector whose completions just free the clones it carried.
    pub fn freeing_clones(handles: DualStackInjector<K>, capacity: u32) -> Result<Self, Error> {
        Self::new(handles, capacity, crate::inject::FreeOnCompletion::new())
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
    pub fn clone_and_inject(
        &self,
        original: NetBufferListRef<'_>,
        injection: Injection<'_>,
        tag: Tag,
    ) -> Result<(), Error> {
        // Check first, so a refused request costs no clone; then submit without checking again.
        self.state().check(&injection)?;
        let clone = ClonedNetBufferList::clone_of(self.state().kernel.clone(), original)?;
        self.submit(clone, injection, tag)
            .map_err(|refused| refused.error)
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
        // SAFETY: PASSIVE_LEVEL (documented, asserted); the rundown word was initialized in
        // `new` and is waited for once (the flag above).
        unsafe {
            state
                .kernel
                .ex_wait_for_rundown_protection_release(state.rundown.get())
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
        // Destroy waits for WFP to finish running completions on these handles.
        let result = handles.close().map_err(|(failure, _)| failure);
        // SAFETY: `raw` came from Box::<[Shared]>::into_raw with length 1 in `new`; nothing uses
        // it after this.
        drop(unsafe { alloc::boxed::Box::from_raw(ptr::slice_from_raw_parts_mut(raw, 1)) });
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
    /// Refusals that need no kernel call.
    #[inline(always)]
    fn check(&self, injection: &Injection<'_>) -> Result<(), Error> {
        if cfg!(debug_assertions) {
            Error::check_irql(&self.kernel, Irql::DISPATCH)?;
        }
        let needed = injection.path().required_type();
        let has = self.handles.types();
        if !has.contains(needed) {
            return Err(InputError::HandleLacksInjectionType { needed, has }.into());
        }
        if let Injection::TransportSend(send) = injection {
            if send.control_data.len() > CONTROL_DATA_CAPACITY {
                return Err(InputError::ControlDataTooLong {
                    length: send.control_data.len(),
                    capacity: CONTROL_DATA_CAPACITY,
                }
                .into());
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn release_rundown(&self) {
        // SAFETY: called once per successful acquire; the word lives as long as `self`.
        unsafe {
            self.kernel
                .ex_release_rundown_protection(self.rundown.get())
        };
    }

    /// Calls the kernel's inject function for a loaded slot.
    ///
    /// # Safety
    /// The caller owns the slot's pool index, the slot is loaded, IRQL <= DISPATCH_LEVEL, and a
    /// rundown reference is held.
    #[inline(always)]
    unsafe fn issue(&self, slot: *mut InjectionSlot) -> (KernelCall, NTSTATUS) {
        // SAFETY: the caller owns the slot.
        let slot_ref = unsafe { &mut *slot };
        let injection = slot_ref.injection;
        let handle = self.handles.handle(injection.family()).as_raw();
        let context = slot_ref.tag.injection_context.as_raw();
        let nbl = slot_ref.nbl;
        let completion = on_injection_complete::<K, H>;
        let completion_context = slot.cast::<c_void>();
        let family = crate::inject::AddressFamily::from(injection.family()).as_raw();
        match injection {
            Injection::TransportSend(send) => (
                KernelCall::FwpsInjectTransportSendAsync0,
                // SAFETY: the handle is live (rundown held); the NBL is owned and handed over;
                // send_args points into the slot, which lives until the completion.
                unsafe {
                    self.kernel.fwps_inject_transport_send_async0(
                        handle,
                        context,
                        send.endpoint_handle,
                        0,
                        &raw mut slot_ref.send_args,
                        family,
                        send.compartment,
                        nbl,
                        completion,
                        completion_context,
                    )
                },
            ),
            Injection::TransportReceive(receive) => (
                KernelCall::FwpsInjectTransportReceiveAsync0,
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
                KernelCall::FwpsInjectNetworkSendAsync0,
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
                KernelCall::FwpsInjectNetworkReceiveAsync0,
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
                KernelCall::FwpsInjectForwardAsync0,
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
                KernelCall::FwpsStreamInjectAsync0,
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
    /// The slot at `index` belongs to a finished injection whose NBL is `nbl`; called once.
    unsafe fn finish(
        &self,
        index: u32,
        nbl: *mut NET_BUFFER_LIST,
        status: NtStatus,
        at_dispatch: bool,
    ) {
        let slot = self.contexts.get(index);
        // SAFETY: the injection owns the slot until give_back below.
        let slot = unsafe { &*slot };
        let (path, cookie) = (slot.injection.path(), slot.tag.cookie);
        // SAFETY: `nbl` came from `H::Packet::into_raw` in `inject`, handed back by WFP.
        let packet = unsafe { H::Packet::from_raw(&self.kernel, nbl) };
        self.contexts.give_back(index);
        self.handler.completed(Completion {
            packet,
            status,
            path,
            cookie,
            at_dispatch,
        });
        self.release_rundown();
    }
}

/// WFP's completion function for every injection (FWPS_INJECT_COMPLETE0).
///
/// IRQL <= DISPATCH_LEVEL.
unsafe extern "win64" fn on_injection_complete<K, H>(
    context: *mut c_void,
    nbl: *mut NET_BUFFER_LIST,
    dispatch_level: BOOLEAN,
) where
    K: KernelApi,
    H: CompletionHandler<K>,
{
    let slot = context.cast::<InjectionSlot>();
    // SAFETY: `context` is the slot pointer `issue` passed; the slot belongs to this injection.
    let slot = unsafe { &*slot };
    let (owner, index) = (slot.owner, slot.index);
    // SAFETY: the owner outlives every injection (close waits on the rundown this one holds).
    let state = unsafe { &*owner.cast::<Shared<K, H>>() };
    // SAFETY: WFP hands back the NBL of this injection, a valid NBL with its status set.
    let status = NtStatus(unsafe { (*nbl).Status });
    // SAFETY: this is the injection's single completion.
    unsafe { state.finish(index, nbl, status, dispatch_level != 0) };
}

/// The DPC that makes a deferred (TCP transport) injection.
///
/// IRQL: DISPATCH_LEVEL.
unsafe extern "win64" fn run_deferred_injection<K, H>(
    _dpc: *mut KDPC,
    context: *mut c_void,
    _argument1: *mut c_void,
    _argument2: *mut c_void,
) where
    K: KernelApi,
    H: CompletionHandler<K>,
{
    let slot = context.cast::<InjectionSlot>();
    // SAFETY: the DPC's context is its own slot, owned by the queued injection.
    let slot_ref = unsafe { &*slot };
    let (owner, index, nbl) = (slot_ref.owner, slot_ref.index, slot_ref.nbl);
    // SAFETY: the owner outlives the queued work (it holds a rundown reference).
    let state = unsafe { &*owner.cast::<Shared<K, H>>() };
    // SAFETY: the slot is owned and loaded; DPCs run at DISPATCH_LEVEL; rundown is held.
    let (_, status) = unsafe { state.issue(slot) };
    if !NtStatus(status).is_success() {
        // Nobody is waiting for a return value: the refusal goes to the completion handler.
        // SAFETY: the kernel did not take the NBL, so this injection ends here, once.
        unsafe { state.finish(index, nbl, NtStatus(status), true) };
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
