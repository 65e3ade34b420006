//! The functions the kernel calls back into a [`crate::PacketInjector`]: WFP's completion routines
//! (one for an injection holding a large control-data buffer, one for the rest) and the DPC
//! routine that issues a deferred (TCP) injection. Each finds the injector's shared state through
//! the context it was given.

use core::ffi::c_void;

use crate::completion::CompletionHandler;
use crate::injector::Shared;
use crate::nt::NtStatus;
use crate::slots::{DeferredSlot, InjectionSlot, NO_LARGE};
use crate::sys::KernelApi;
use crate::sys::types::{BOOLEAN, FWPS_INJECT_COMPLETE0, KDPC, NET_BUFFER_LIST};

/// The completion function for an injection: one that also gives back a large control-data
/// buffer when the injection holds one, so the common completion has nothing to check.
#[inline(always)]
pub(crate) fn completion_for<K: KernelApi, H: CompletionHandler<K>>(
    large: bool,
) -> FWPS_INJECT_COMPLETE0 {
    if large {
        on_long_injection_complete::<K, H>
    } else {
        on_injection_complete::<K, H>
    }
}

/// WFP's completion function for an injection whose control data is in a large buffer.
///
/// IRQL <= DISPATCH_LEVEL.
unsafe extern "win64" fn on_long_injection_complete<K, H>(
    context: *mut c_void,
    nbl: *mut NET_BUFFER_LIST,
    dispatch_level: BOOLEAN,
) where
    K: KernelApi,
    H: CompletionHandler<K>,
{
    let slot = context.cast::<InjectionSlot>();
    // SAFETY: `context` is the slot pointer `issue` passed; the slot belongs to this injection.
    let owner = unsafe { (*slot).owner };
    // SAFETY: the owner outlives every injection (close waits on the rundown this one holds).
    let state = unsafe { &*owner.cast::<Shared<K, H>>() };
    // SAFETY: this injection has finished; the slot is still its own.
    unsafe { state.release_large(slot) };
    // SAFETY: as for every completion.
    unsafe { on_injection_complete::<K, H>(context, nbl, dispatch_level) };
}

/// WFP's completion function for every other injection (FWPS_INJECT_COMPLETE0). Never inlined
/// into [`on_long_injection_complete`], which ends by calling it.
///
/// IRQL <= DISPATCH_LEVEL.
#[inline(never)]
unsafe extern "win64" fn on_injection_complete<K, H>(
    context: *mut c_void,
    nbl: *mut NET_BUFFER_LIST,
    dispatch_level: BOOLEAN,
) where
    K: KernelApi,
    H: CompletionHandler<K>,
{
    let slot = context.cast::<InjectionSlot>().cast_const();
    // SAFETY: `context` is the slot pointer `issue` passed; the slot belongs to this injection.
    let owner = unsafe { (*slot).owner };
    // SAFETY: the owner outlives every injection (close waits on the rundown this one holds).
    let state = unsafe { &*owner.cast::<Shared<K, H>>() };
    // SAFETY: WFP hands back the NBL of this injection, a valid NBL with its status set.
    let status = NtStatus(unsafe { (*nbl).Status });
    // SAFETY: this is the injection's single completion.
    unsafe { state.finish(slot, nbl, status, dispatch_level != 0) };
}

/// The DPC that makes a deferred (TCP transport) injection. The deferred slot goes back to its
/// pool once read; the injection slot stays with the injection until its completion.
///
/// IRQL: DISPATCH_LEVEL.
pub(crate) unsafe extern "win64" fn run_deferred_injection<K, H>(
    _dpc: *mut KDPC,
    context: *mut c_void,
    _argument1: *mut c_void,
    _argument2: *mut c_void,
) where
    K: KernelApi,
    H: CompletionHandler<K>,
{
    let deferred = context.cast::<DeferredSlot>().cast_const();
    let (owner, index, slot_index, injection_context, nbl, injection) = {
        // SAFETY: the DPC's context is its own deferred slot, owned by the queued injection.
        let deferred = unsafe { &*deferred };
        (
            deferred.owner,
            deferred.index,
            deferred.slot,
            deferred.injection_context,
            deferred.nbl,
            deferred.injection,
        )
    };
    // SAFETY: the owner outlives the queued work (it holds a rundown reference).
    let state = unsafe { &*owner.cast::<Shared<K, H>>() };
    // Everything needed is read: the deferred slot (and its DPC, which the kernel has dequeued
    // before calling this routine) may serve the next deferred injection.
    state.deferred.give_back(index);
    let slot = state.contexts.get(slot_index);
    // SAFETY: the slot is owned by this injection.
    let large = unsafe { (*slot).large } != NO_LARGE;
    // SAFETY: the slot is owned by this injection and loaded; DPCs run at DISPATCH_LEVEL; the
    // rundown reference is held.
    let (_, status) = unsafe {
        state.issue(
            slot,
            nbl,
            &injection,
            injection_context,
            completion_for::<K, H>(large),
        )
    };
    if !NtStatus(status).is_success() {
        // Nobody is waiting for a return value: the refusal goes to the completion handler.
        // SAFETY: the kernel did not take the NBL, so this injection ends here, once.
        unsafe { state.release_large(slot) };
        // SAFETY: as above.
        unsafe { state.finish(slot, nbl, NtStatus(status), true) };
    }
}
