//! System sleep and hibernate, the way a non-PnP driver learns of them: a routine registered on
//! the system-defined callback object `\Callback\PowerState` (ExCreateCallback with Create
//! FALSE, then ExRegisterCallback), which the power manager calls before it sends the system
//! set-power IRP, with Argument1 = PO_CB_SYSTEM_STATE_LOCK and Argument2 = 0 when the system is
//! about to leave S0, non-zero when it is back in S0 (facts/kernel-facts.md, rows `power-*` and
//! `callback-*`; docs/deferred-load.md and docs/unload.md for where load and unload do it).
//!
//! Before a sleep the driver stops starting injections ([`Power::suspended`]: classify permits
//! configured packets untouched and counts them) and waits, briefly and bounded, for the ones in
//! flight to complete ([`DRAIN_PATIENCE`] says why only briefly). After the resume it inspects
//! again. While suspended the driver fails open: configured packets pass uninspected (counted).
//!
//! The routine is called at IRQL <= DISPATCH_LEVEL (the docs' bound for system-defined callback
//! objects): it may wait only below DISPATCH_LEVEL; at DISPATCH_LEVEL it sets the flag and
//! returns (logged), since nothing there may sleep.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering, fence};
use core::time::Duration;

use crate::nt::time::Patience;
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::{
    OBJ_CASE_INSENSITIVE, OBJECT_ATTRIBUTES, PCALLBACK_OBJECT, PO_CB_SYSTEM_STATE_LOCK,
    UNICODE_STRING,
};

/// How often the sleep routine looks whether the injections in flight have completed.
pub const DRAIN_POLL: Duration = Duration::from_millis(10);

/// How long the sleep routine waits for the injections in flight. Short on purpose: the routine
/// runs synchronously on the power manager's thread (ExNotifyCallback calls the registered
/// routines one after another at the caller's IRQL) before the system set-power IRP is sent. WFP
/// completes an injection when the stack below is done with the packet, normally within
/// microseconds; a completion that takes longer is usually held below, in NDIS or a miniport,
/// and comes only once the pause the set-power IRPs cause flushes it, which this routine
/// cannot wait for. So it waits for the prompt completions only, logs what is left, and lets the
/// transition go on (WFPSampler does no waiting in its routine at all: it starts a thread).
pub const DRAIN_PATIENCE: Duration = Duration::from_millis(100);

/// `\Callback\PowerState` as UTF-16, no NUL (UNICODE_STRING carries the length).
const POWER_STATE_NAME: [u16; 20] = {
    let text = b"\\Callback\\PowerState";
    let mut wide = [0u16; 20];
    let mut i = 0;
    while i < text.len() {
        wide[i] = text[i] as u16;
        i += 1;
    }
    wide
};

/// What the driver keeps of the power callback, inside the loader block (a fixed address from
/// DriverEntry until unload frees it), and the flag classify reads.
#[derive(Debug, Default)]
pub struct Power {
    /// Set from "about to leave S0" until "back in S0": classify starts no injection.
    suspended: AtomicBool,
    /// Unload began: a sleep routine waiting for injections stops waiting (unload drains them
    /// itself, with rundown protection).
    closing: AtomicBool,
    object: AtomicPtr<c_void>,
    registration: AtomicPtr<c_void>,
}

/// What the sleep routine waits for, given by the loader: whether no injection is in flight
/// and no classify that may start one is inside the driver.
pub(crate) trait Quiet {
    /// True when nothing is in flight and no classify is inside. Any IRQL.
    fn quiet(&self) -> bool;
}

impl Power {
    /// Whether classify must start no injection. Any IRQL.
    ///
    /// A store-buffering pattern with the sleep routine: the routine stores the flag, then sums
    /// the instance's per-processor counts of classifies inside (src/driver/instance/slot.rs);
    /// classify adds to its processor's count, then loads the flag here. Both sides are
    /// sequentially consistent (the add and this load; the store and a SeqCst fence before the
    /// sum), so in their single order either the routine's sum sees the classify counted, and
    /// waits for it, or the classify sees the flag. Relaxed would be enough on x86-64 only (the
    /// locked add is a full barrier there); a SeqCst load costs nothing more there (a plain
    /// move). Checked under loom: tests/loom_instance.rs.
    #[inline(always)]
    pub fn suspended(&self) -> bool {
        self.suspended.load(Ordering::SeqCst)
    }

    /// Opens `\Callback\PowerState` (Create FALSE, as the docs ask of system-defined objects;
    /// AllowMultipleCallbacks TRUE, ignored when opening) and registers `routine` with
    /// `context`. On failure nothing is left registered or referenced. PASSIVE_LEVEL.
    ///
    /// # Safety
    /// `routine` and `context` stay valid until [`Self::unregister`] has returned; `self` does
    /// not move until then.
    pub(crate) unsafe fn register<K: KernelApi>(
        &self,
        kernel: &K,
        routine: crate::sys::types::CALLBACK_FUNCTION,
        context: *mut c_void,
    ) -> Result<(), NtStatus> {
        let name = UNICODE_STRING {
            Length: (POWER_STATE_NAME.len() * 2) as u16,
            MaximumLength: (POWER_STATE_NAME.len() * 2) as u16,
            Buffer: POWER_STATE_NAME.as_ptr().cast_mut(),
        };
        // What InitializeObjectAttributes makes of the name and OBJ_CASE_INSENSITIVE (the
        // attribute the docs name for opening a callback object; no handle is made).
        let attributes = OBJECT_ATTRIBUTES {
            Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
            RootDirectory: ptr::null_mut(),
            ObjectName: &name,
            Attributes: OBJ_CASE_INSENSITIVE,
            SecurityDescriptor: ptr::null_mut(),
            SecurityQualityOfService: ptr::null_mut(),
        };
        let mut object: PCALLBACK_OBJECT = ptr::null_mut();
        // SAFETY: PASSIVE_LEVEL (DriverEntry); `object` is writable; the attributes and the name
        // they point to live until the call returns.
        let status = NtStatus(unsafe { kernel.ex_create_callback(&mut object, &attributes, 0, 1) });
        if !status.is_success() {
            return Err(status);
        }
        // SAFETY: <= APC_LEVEL; the object was just opened and is referenced; the caller keeps
        // the routine and context valid until unregistered.
        let registration = unsafe { kernel.ex_register_callback(object, routine, context) };
        if registration.is_null() {
            // SAFETY: the reference ExCreateCallback gave, given back once.
            unsafe { kernel.obf_dereference_object(object) };
            return Err(NtStatus::UNSUCCESSFUL);
        }
        self.object.store(object, Ordering::Release);
        self.registration.store(registration, Ordering::Release);
        Ok(())
    }

    /// Unload's first step: stops a waiting sleep routine, unregisters the routine (after
    /// ExUnregisterCallback returns it is not called again; assumption, not on the reference
    /// page: a call in progress has returned, facts row `callback-unregister`), then gives back the object's reference, in that order (the registration
    /// needs the object). Nothing when never registered. PASSIVE_LEVEL; never from the routine.
    pub(crate) fn unregister<K: KernelApi>(&self, kernel: &K) {
        self.closing.store(true, Ordering::Release);
        let registration = self.registration.swap(ptr::null_mut(), Ordering::AcqRel);
        if !registration.is_null() {
            // SAFETY: <= APC_LEVEL (unload); registered once and unregistered once (swapped
            // out); unload is not the routine.
            unsafe { kernel.ex_unregister_callback(registration) };
        }
        let object = self.object.swap(ptr::null_mut(), Ordering::AcqRel);
        if !object.is_null() {
            // SAFETY: <= DISPATCH_LEVEL; the reference ExCreateCallback gave, given back once
            // and after the registration on it is gone.
            unsafe { kernel.obf_dereference_object(object) };
        }
    }

    /// The routine's part for one notification. `quiet` is `None` before the injector exists
    /// (nothing can be in flight). Returns whether the drain finished (false: it timed out,
    /// could not wait at DISPATCH_LEVEL, or unload interrupted it). IRQL <= DISPATCH_LEVEL.
    pub(crate) fn notified<K: KernelApi>(
        &self,
        kernel: &K,
        argument1: usize,
        argument2: usize,
        quiet: Option<&dyn Quiet>,
    ) -> Transition {
        if argument1 != PO_CB_SYSTEM_STATE_LOCK as usize {
            // AC/DC, lid, policy changes: nothing to do with injection.
            return Transition::Ignored;
        }
        if argument2 != 0 {
            self.suspended.store(false, Ordering::Release);
            return Transition::Resumed;
        }
        self.suspended.store(true, Ordering::SeqCst);
        // Flag stored, then the classifies inside summed over the processors (`quiet`); see
        // `suspended`.
        fence(Ordering::SeqCst);
        let Some(quiet) = quiet else {
            return Transition::Suspended { drained: true };
        };
        if Irql(kernel.ke_get_current_irql()) > Irql::APC {
            // The docs allow the notifier up to DISPATCH_LEVEL, where no wait is allowed.
            return Transition::Suspended {
                drained: quiet.quiet(),
            };
        }
        let mut patience = Patience::new(DRAIN_POLL, DRAIN_PATIENCE);
        loop {
            if quiet.quiet() {
                return Transition::Suspended { drained: true };
            }
            if self.closing.load(Ordering::Acquire) || !patience.wait(kernel) {
                return Transition::Suspended { drained: false };
            }
        }
    }
}

/// What one notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Not a system state change.
    Ignored,
    /// About to leave S0: injections stopped; `drained`: none was in flight when it returned.
    Suspended { drained: bool },
    /// Back in S0: injections allowed again.
    Resumed,
}
