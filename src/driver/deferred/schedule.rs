//! The one token that serializes the deferred load's work ([`Loader::schedule`]): asking for a
//! run, queueing the work item, ending a run; and the two routines the kernel calls, the work
//! item's and the Base Filtering Engine's state-change callback.

use super::*;

impl<K: KernelApi> Loader<K> {
    /// Asks for a run of the work item: queues it if no run holds or awaits the token, or makes
    /// the run in progress go again. Nothing once unload began. IRQL <= DISPATCH_LEVEL.
    pub(super) fn request(&self) {
        let mut seen = self.schedule.load(Ordering::Acquire);
        loop {
            if seen & CANCELLED != 0 {
                return;
            }
            let next = match seen & HOLDER {
                IDLE => QUEUED,
                RUNNING => AGAIN,
                _ => return,
            };
            match self.schedule.compare_exchange_weak(
                seen,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if next == QUEUED {
                        self.queue();
                    }
                    return;
                }
                Err(now) => seen = now,
            }
        }
    }

    /// IoQueueWorkItem with this loader as context. Only the one who moved `schedule` to QUEUED
    /// calls it, so the item is never queued twice. IRQL <= DISPATCH_LEVEL.
    pub(super) fn queue(&self) {
        let item = self.work_item.load(Ordering::Acquire);
        // SAFETY: <= DISPATCH_LEVEL; `item` was allocated in DriverEntry before any request and
        // is freed only by unload after the token is free; it is not queued (`schedule` was not
        // QUEUED); the loader outlives the run, because unload waits for the token.
        unsafe {
            self.kernel.io_queue_work_item(
                item,
                work_routine::<K>,
                DelayedWorkQueue,
                ptr::from_ref(self).cast_mut().cast(),
            )
        };
    }

    /// Ends a run that holds the token. `requeue`: run again later (the item is queued).
    /// `inline_again`: a request that came during the run may be served by the caller at once
    /// (returns true) instead of queueing. Once this stores IDLE the loader may be freed: the
    /// caller must not touch it after a `false`.
    pub(super) fn finish(&self, requeue: bool, inline_again: bool) -> bool {
        let mut seen = self.schedule.load(Ordering::Acquire);
        loop {
            let cancelled = seen & CANCELLED;
            let again = seen & HOLDER == AGAIN;
            let next = if cancelled != 0 {
                cancelled | IDLE
            } else if requeue || (again && !inline_again) {
                QUEUED
            } else if again {
                RUNNING
            } else {
                IDLE
            };
            match self.schedule.compare_exchange_weak(
                seen,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) if next == QUEUED => {
                    self.queue();
                    return false;
                }
                Ok(_) => return next == RUNNING,
                Err(now) => seen = now,
            }
        }
    }
}

/// The work item's routine: runs the load work while it holds the token.
///
/// IRQL: PASSIVE_LEVEL, in a system worker thread.
///
/// # Safety
/// `context` is the loader that queued the item; it stays valid until the token is free.
pub(super) unsafe extern "win64" fn work_routine<K: KernelApi>(
    _device: *mut DEVICE_OBJECT,
    context: *mut c_void,
) {
    // SAFETY: the function's contract: the loader is valid while this run holds the token.
    let loader = unsafe { &*context.cast::<Loader<K>>() };
    // QUEUED -> RUNNING; the cancel bit is untouched.
    loader
        .schedule
        .fetch_add(RUNNING - QUEUED, Ordering::AcqRel);
    loop {
        let requeue = !loader.cancelled() && loader.work();
        // After `false` the loader may already be freed: return without touching it.
        if !loader.finish(requeue, true) {
            return;
        }
    }
}

/// The BFE state callback: asks for a run when BFE runs and the load is not complete.
///
/// IRQL: PASSIVE_LEVEL (it only uses atomics, IoQueueWorkItem and DbgPrintEx, all allowed up to
/// DISPATCH_LEVEL).
///
/// # Safety
/// `context` is the loader that subscribed; unload unsubscribes (which waits for a callback in
/// progress) before freeing it.
pub(super) unsafe extern "win64" fn bfe_state_changed<K: KernelApi>(
    context: *mut c_void,
    new_state: FWPM_SERVICE_STATE,
) {
    // SAFETY: the function's contract.
    let loader = unsafe { &*context.cast::<Loader<K>>() };
    if new_state == FWPM_SERVICE_RUNNING {
        if matches!(
            loader.phase.load(Ordering::Acquire),
            PHASE_TCPIP | PHASE_BFE
        ) {
            loader.request();
        }
        return;
    }
    // Any other state (the docs list them but promise no order: STOP_PENDING may be missed when
    // BFE's process dies): the session and the driver's filters are gone or going. A run forgets
    // them and waits for BFE to run again (the docs: clean up at STOP_PENDING, open a session at
    // RUNNING). Before the objects exist the flag is cleared when they are added.
    loader.bfe_lost.store(true, Ordering::Release);
    // Flag stored, then phase read; `set_loaded` stores the phase, then reads the flag. With a
    // full fence on both sides at least one of them sees the other's store, so a stop that
    // comes while a run is finishing its load is never missed.
    fence(Ordering::SeqCst);
    if loader.phase.load(Ordering::Acquire) == PHASE_LOADED {
        loader.log.write(
            &loader.kernel,
            Level::Warning,
            &["BFE is not running: the driver's filters are gone until it runs again".into()],
        );
        loader.request();
    }
}

/// What the sleep routine waits for: no injection in flight and no classify inside the
/// instance (one that read the flag before it was set may still start one). The classifies
/// inside are the sum of the instance's per-processor counts, read after the flag's store.
struct InFlight<'a, K: KernelApi> {
    state: &'a CalloutState<K>,
    instance: u64,
}

impl<K: KernelApi> crate::driver::power::Quiet for InFlight<'_, K> {
    fn quiet(&self) -> bool {
        instance::users(instance::InstanceId::from_raw_context(self.instance)) == 0
            && self.state.injector.in_flight() == 0
    }
}

/// The `\Callback\PowerState` routine: before a sleep, stops injections and waits briefly
/// (bounded, `DRAIN_PATIENCE`) for those in flight; after the resume, allows them again. Other notifications are ignored.
///
/// IRQL: <= DISPATCH_LEVEL (the notifier's); waits only below DISPATCH_LEVEL.
///
/// # Safety
/// `context` is the loader that registered; unload unregisters before it frees the loader
/// (assumption: ExUnregisterCallback returns only once a call in progress has returned; the
/// reference page does not say so, facts row `callback-unregister`).
pub(super) unsafe extern "win64" fn power_changed<K: KernelApi>(
    context: *mut c_void,
    argument1: *mut c_void,
    argument2: *mut c_void,
) {
    // SAFETY: the function's contract.
    let loader = unsafe { &*context.cast::<Loader<K>>() };
    let state = loader.state();
    let instance = loader.instance.load(Ordering::Acquire);
    let in_flight = state.map(|state| InFlight { state, instance });
    let quiet = in_flight
        .as_ref()
        .map(|wait| wait as &dyn crate::driver::power::Quiet);
    let transition = loader.power.notified(
        &loader.kernel,
        argument1 as usize,
        argument2 as usize,
        quiet,
    );
    use crate::driver::power::Transition;
    match transition {
        Transition::Ignored => {}
        Transition::Suspended { drained: true } => loader.log.write(
            &loader.kernel,
            Level::Info,
            &["power: leaving S0: injections stopped, none in flight".into()],
        ),
        Transition::Suspended { drained: false } => loader.log.write(
            &loader.kernel,
            Level::Warning,
            &[
                "power: leaving S0: injections stopped, still in flight: ".into(),
                state.map_or(0, |state| state.injector.in_flight()).into(),
            ],
        ),
        Transition::Resumed => loader.log.write(
            &loader.kernel,
            Level::Info,
            &["power: back in S0: inspecting again".into()],
        ),
    }
}
