//! System power transitions as a non-PnP driver sees them: the system-defined callback object
//! `\Callback\PowerState` (`ExCreateCallback`, `ExRegisterCallback`, `ExUnregisterCallback`,
//! `ObfDereferenceObject`), its notifications, and the sleep itself.
//!
//! The rules enforced are the documented ones (facts/kernel-facts.md, rows `power-*`): the
//! object is opened, never created, by a driver; a registration needs a referenced object; the
//! routine is called at the IRQL of the notifier (the power manager's: at most DISPATCH_LEVEL;
//! the tests pick it); `ExUnregisterCallback` removes the routine from the list, so it is never
//! called afterwards, and it handles a call in progress by waiting for it (the Microsoft blog
//! the facts row cites; the reference page says nothing either way), so unregistering from the
//! routine itself would wait for itself; every registration is removed and every reference given
//! back before the driver goes. And the rule of the feature: when the system actually sleeps,
//! no injection of the driver may be in flight (accepted and not completed, or its DPC queued).

use core::ffi::c_void;
use std::collections::BTreeMap;
use std::format;
use std::string::String;
use std::thread::{self, ThreadId};
use std::vec::Vec;

use super::stack::{SimulatedStack, Violation};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelFn;
use crate::sys::types::{BOOLEAN, CALLBACK_FUNCTION, NTSTATUS, OBJECT_ATTRIBUTES};

/// `PO_CB_SYSTEM_STATE_LOCK`, the simulator's own copy (tests/kernel_facts.rs pins it).
pub const PO_CB_SYSTEM_STATE_LOCK: usize = 3;
/// `PO_CB_AC_STATUS`, the simulator's own copy (pinned likewise): a notification the driver
/// must ignore.
pub const PO_CB_AC_STATUS: usize = 1;

/// The one callback object the simulation knows, by name (compared case-insensitively, as
/// OBJ_CASE_INSENSITIVE asks).
const POWER_STATE_NAME: &str = "\\Callback\\PowerState";
/// The callback object's address as the driver sees it: a fixed, never-dereferenced value.
const POWER_STATE_OBJECT: usize = 0x00C0_11BA_C000;
/// Registration handles start here and step by 16, never reused, so a stale one is caught.
const FIRST_REGISTRATION: usize = 0x00C0_11BA_D000;

#[derive(Debug)]
struct Registration {
    function: CALLBACK_FUNCTION,
    context: usize,
    /// Threads inside the routine now.
    running: Vec<ThreadId>,
}

#[derive(Debug)]
pub(super) struct PowerModel {
    /// References the driver holds on `\Callback\PowerState` (ExCreateCallback gives one).
    references: usize,
    registrations: BTreeMap<usize, Registration>,
    /// Every handle ever returned, live or not, to tell a call after unregister from a stray.
    unregistered: Vec<usize>,
    next_registration: usize,
    /// Between [`SimulatedStack::enter_sleep`] and [`SimulatedStack::resume`].
    asleep: bool,
    /// Sleeps entered so far.
    sleeps: u32,
    /// While set, a power routine's kernel waits (KeDelayExecutionThread) block until cleared:
    /// a test holds the routine in its wait, whatever its patience, to act meanwhile.
    hold_waits: bool,
    /// Power routines held in a wait now.
    held: usize,
}

impl Default for PowerModel {
    fn default() -> Self {
        Self {
            references: 0,
            registrations: BTreeMap::new(),
            unregistered: Vec::new(),
            next_registration: FIRST_REGISTRATION,
            asleep: false,
            sleeps: 0,
            hold_waits: false,
            held: 0,
        }
    }
}

impl PowerModel {
    /// A driver vanished (a crash): its registration and reference go with it.
    pub(super) fn forget_driver(&mut self) {
        self.registrations.clear();
        self.references = 0;
    }

    pub(super) fn leak_report(&self) -> Option<String> {
        if self.registrations.is_empty() && self.references == 0 {
            return None;
        }
        Some(format!(
            "{} power callback registration(s) not removed; {} reference(s) on \
             \\Callback\\PowerState not given back",
            self.registrations.len(),
            self.references
        ))
    }
}

impl SimulatedStack {
    /// `ExCreateCallback`: opens `\Callback\PowerState` (the only object the simulation has).
    pub(super) fn callback_create(
        &self,
        object: *mut *mut c_void,
        attributes: *const OBJECT_ATTRIBUTES,
        create: BOOLEAN,
        _allow_multiple_callbacks: BOOLEAN,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if object.is_null() || attributes.is_null() {
            return state.misuse(Violation::NullPointer(KernelFn::ExCreateCallback));
        }
        // SAFETY: the seam's contract: `attributes` is a valid, initialized OBJECT_ATTRIBUTES.
        let attributes = unsafe { &*attributes };
        // SAFETY: its name is null or a valid UNICODE_STRING (the same contract).
        let name = unsafe { super::registry::read_unicode(attributes.ObjectName) };
        // OBJ_CASE_INSENSITIVE (facts row `const | OBJ_CASE_INSENSITIVE`).
        let case_insensitive = attributes.Attributes & 0x40 != 0;
        let Some(name) = name else {
            // The docs: unnamed callback objects are not permitted.
            return NtStatus::UNSUCCESSFUL.0;
        };
        let matches = if case_insensitive {
            name.eq_ignore_ascii_case(POWER_STATE_NAME)
        } else {
            name == POWER_STATE_NAME
        };
        if create != 0 {
            // The docs: a driver should not request that a system-defined object be created.
            state
                .violations
                .push(Violation::CallbackObjectMisused(format!(
                    "ExCreateCallback(Create=TRUE) for {name}"
                )));
        }
        if !matches {
            state
                .violations
                .push(Violation::CallbackObjectMisused(format!(
                    "ExCreateCallback of an unknown object {name:?}"
                )));
            return NtStatus::UNSUCCESSFUL.0;
        }
        state.power.references += 1;
        // SAFETY: the seam's contract: `object` is writable; null was refused above.
        unsafe { object.write(POWER_STATE_OBJECT as *mut c_void) };
        NtStatus::SUCCESS.0
    }

    /// `ExRegisterCallback`.
    pub(super) fn callback_register(
        &self,
        object: *mut c_void,
        function: CALLBACK_FUNCTION,
        context: *mut c_void,
    ) -> *mut c_void {
        let mut state = self.lock();
        if object as usize != POWER_STATE_OBJECT || state.power.references == 0 {
            state
                .violations
                .push(Violation::RegisterOnUnreferencedObject(object as usize));
            return core::ptr::null_mut();
        }
        let handle = state.power.next_registration;
        state.power.next_registration += 16;
        state.power.registrations.insert(
            handle,
            Registration {
                function,
                context: context as usize,
                running: Vec::new(),
            },
        );
        handle as *mut c_void
    }

    /// `ExUnregisterCallback`: removes the registration, then waits for a call of it in
    /// progress on another thread.
    pub(super) fn callback_unregister(&self, registration: *mut c_void) {
        let handle = registration as usize;
        {
            let mut state = self.lock();
            let me = thread::current().id();
            let Some(record) = state.power.registrations.get(&handle) else {
                state
                    .violations
                    .push(Violation::UnknownCallbackRegistration(handle));
                return;
            };
            if record.running.contains(&me) {
                state.violations.push(Violation::UnregisterFromOwnCallback);
                return;
            }
            // Removed from the list first: no new call starts.
            let record = state
                .power
                .registrations
                .remove(&handle)
                .expect("looked up above");
            state.power.unregistered.push(handle);
            if record.running.is_empty() {
                return;
            }
            // Calls in progress: keep counting them under a parked entry.
            state.power.registrations.insert(handle, record);
        }
        self.changed.notify_all();
        self.wait_until(KernelFn::ExUnregisterCallback, |state| {
            state
                .power
                .registrations
                .get(&handle)
                .is_none_or(|record| record.running.is_empty())
        });
        let mut state = self.lock();
        if state
            .power
            .registrations
            .get(&handle)
            .is_some_and(|record| record.running.is_empty())
        {
            state.power.registrations.remove(&handle);
        }
    }

    /// `ObfDereferenceObject`: the callback object's references, or the ones
    /// `ObfReferenceObject` took on another object.
    pub(super) fn dereference_object(&self, object: *mut c_void) -> isize {
        let mut state = self.lock();
        if object as usize == POWER_STATE_OBJECT {
            if state.power.references == 0 {
                state
                    .violations
                    .push(Violation::DereferenceWithoutReference(object as usize));
                return 0;
            }
            state.power.references -= 1;
            let live = state
                .power
                .registrations
                .keys()
                .any(|handle| !state.power.unregistered.contains(handle));
            if state.power.references == 0 && live {
                state
                    .violations
                    .push(Violation::DereferenceBeforeUnregister);
            }
            return state.power.references as isize;
        }
        match state.references.get_mut(&(object as usize)) {
            Some(count) if *count > 1 => {
                *count -= 1;
                *count as isize
            }
            _ => {
                state
                    .violations
                    .push(Violation::DereferenceWithoutReference(object as usize));
                0
            }
        }
    }

    // ---- test controls ----

    /// Notifies `\Callback\PowerState`'s registrations as the power manager does: each live
    /// one, in registration order, on this thread at `irql` (the notifier's: the docs allow up
    /// to DISPATCH_LEVEL), with `argument1` and `argument2`. A registration removed while the
    /// notification runs is not called.
    pub fn notify_power_state(&self, argument1: usize, argument2: usize, irql: Irql) {
        let handles: Vec<usize> = self.lock().power.registrations.keys().copied().collect();
        let me = thread::current().id();
        for handle in handles {
            let call = {
                let mut state = self.lock();
                let unregistered = state.power.unregistered.contains(&handle);
                match state.power.registrations.get_mut(&handle) {
                    Some(record) if !unregistered => {
                        record.running.push(me);
                        Some((record.function, record.context))
                    }
                    _ => None,
                }
            };
            let Some((function, context)) = call else {
                continue;
            };
            self.at_irql(irql, || {
                // SAFETY: the driver's registration contract keeps the routine and its context
                // valid until ExUnregisterCallback returns, which waits for this call.
                unsafe {
                    function(
                        context as *mut c_void,
                        argument1 as *mut c_void,
                        argument2 as *mut c_void,
                    )
                }
            });
            let mut state = self.lock();
            if let Some(record) = state.power.registrations.get_mut(&handle) {
                if let Some(at) = record.running.iter().position(|t| *t == me) {
                    record.running.remove(at);
                }
            }
            drop(state);
            self.changed.notify_all();
        }
    }

    /// Announces a sleep (S1-S4): PO_CB_SYSTEM_STATE_LOCK with Argument2 = 0 at PASSIVE_LEVEL,
    /// before the system set-power IRP. Returns when every routine has returned.
    pub fn announce_sleep(&self) {
        self.notify_power_state(PO_CB_SYSTEM_STATE_LOCK, 0, Irql::PASSIVE);
    }

    /// The system goes to sleep now: an injection still in flight (pending completion, or its
    /// DPC queued) is a [`Violation::InjectionInFlightAcrossSleep`].
    pub fn enter_sleep(&self) {
        let mut state = self.lock();
        // The driver's own: another driver's injections are its business.
        let other = state.other_injector.as_ref().map(|other| other.handle());
        let own = state
            .packets
            .pending
            .iter()
            .filter(|pending| Some(pending.handle) != other)
            .count();
        let in_flight = own + state.dpcs.queued_count();
        if in_flight > 0 {
            state
                .violations
                .push(Violation::InjectionInFlightAcrossSleep(in_flight));
        }
        state.power.asleep = true;
        state.power.sleeps += 1;
    }

    /// [`Self::announce_sleep`], then [`Self::enter_sleep`].
    pub fn sleep(&self) {
        self.announce_sleep();
        self.enter_sleep();
    }

    /// The system is back in S0: PO_CB_SYSTEM_STATE_LOCK with Argument2 = 1 at PASSIVE_LEVEL.
    pub fn resume(&self) {
        self.lock().power.asleep = false;
        self.notify_power_state(PO_CB_SYSTEM_STATE_LOCK, 1, Irql::PASSIVE);
    }

    /// Whether the system is asleep ([`Self::enter_sleep`] without a [`Self::resume`] since).
    pub fn asleep(&self) -> bool {
        self.lock().power.asleep
    }

    /// Sleeps entered so far.
    pub fn sleeps_entered(&self) -> u32 {
        self.lock().power.sleeps
    }

    /// Live registrations on `\Callback\PowerState`.
    pub fn power_registrations(&self) -> usize {
        let state = self.lock();
        state
            .power
            .registrations
            .keys()
            .filter(|handle| !state.power.unregistered.contains(handle))
            .count()
    }

    /// References the driver holds on `\Callback\PowerState`.
    pub fn power_object_references(&self) -> usize {
        self.lock().power.references
    }

    /// Holds (or, with `false`, releases) every power routine's kernel waits: the routine stays
    /// in its wait until released, so a test can act while it waits however short its patience.
    pub fn hold_power_routine_waits(&self, hold: bool) {
        self.lock().power.hold_waits = hold;
        self.changed.notify_all();
    }

    /// A kernel wait of the calling thread: held while it runs a power routine and a test holds
    /// those waits ([`Self::hold_power_routine_waits`]).
    pub(super) fn power_sleep(&self) {
        let me = std::thread::current().id();
        let held = {
            let mut state = self.lock();
            let held = state.power.hold_waits
                && state
                    .power
                    .registrations
                    .values()
                    .any(|record| record.running.contains(&me));
            if held {
                state.power.held += 1;
            }
            held
        };
        if held {
            self.changed.notify_all();
            self.wait_until(KernelFn::KeDelayExecutionThread, |state| {
                !state.power.hold_waits
            });
            self.lock().power.held -= 1;
        }
    }

    /// Power routines held in a wait now ([`Self::hold_power_routine_waits`]).
    pub fn power_routine_waits_held(&self) -> usize {
        self.lock().power.held
    }

    /// Power routines running now (on any thread).
    pub fn power_callbacks_running(&self) -> usize {
        self.lock()
            .power
            .registrations
            .values()
            .map(|record| record.running.len())
            .sum()
    }
}
