//! Loading without blocking DriverEntry: what DriverEntry cannot finish, a work item and the
//! Base Filtering Engine's state callback finish later.
//!
//! DriverEntry makes one attempt at each piece. Two of them can be early in boot:
//! - the injection handles, which answer STATUS_FWP_TCPIP_NOT_READY until TCP/IP is up: a work
//!   item retries them with the driver's [`RetryPolicy`] (bounded backoff and deadline, logged);
//! - the WFP objects, which need a session with BFE (FwpmEngineOpen0 fails while BFE is not
//!   running): the driver subscribes to BFE's state changes (FwpmBfeStateSubscribeChanges0,
//!   before asking FwpmBfeStateGet0, the docs' order) and adds them when BFE reports
//!   FWPM_SERVICE_RUNNING.
//!
//! The callouts and filters come last, once the handles and the state classify uses exist, so
//! classify is never reached before the load completes. Either piece may come first.
//!
//! Why a work item (IoAllocateWorkItem/IoQueueWorkItem on DelayedWorkQueue) and not a thread of
//! the driver's own: it is what WFPSampler uses for deferred work, the I/O manager keeps the
//! device object (so the image) referenced until the routine has returned, and nothing is left to
//! wait on at unload but a flag. The docs ask work items to be short, because system worker
//! threads are shared, so one run makes one attempt after one backoff wait (at most
//! `RetryPolicy::max_delay`, 500 ms by default), then queues the item again and returns the
//! thread; the BFE callback only queues the item. The deadline bounds the whole retry.
//!
//! One token, [`Loader::schedule`], serializes the work: whoever holds it (DriverEntry, then a
//! work item run) is the only one touching the pieces. The callback asks for a run; a request
//! while a run holds the token makes that run go again. Unload sets the cancel bit (no new run is
//! queued), unsubscribes (which waits for a callback in progress), waits for the token to be
//! free, and then owns the pieces.

mod schedule;
use schedule::{bfe_state_changed, power_changed};
mod reconfigure;
mod teardown;

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};
use core::time::Duration;

use super::classify::{self, CalloutState, CompletionCounters};
use super::counters::Counters;
use super::instance::{self, Registration};
use super::load_error::{LoadError, LoadStep};
use super::log::{Level, Log, SharedLog};
use super::objects::{WfpObjects, first_failure};
use super::power::Power;
use super::rules::{Rules, SharedRules};
use super::{DRIVER_INJECTION_TYPES, try_box};
use crate::inject::{DualStackInjector, PacketInjector, RetryPolicy};
use crate::nt::time::Patience;
use crate::nt::{DeviceObject, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::{
    DEVICE_OBJECT, DelayedWorkQueue, FWPM_SERVICE_RUNNING, FWPM_SERVICE_STATE, HANDLE,
};

/// Where the load stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// TCP/IP is not ready: a work item retries the injection handles.
    WaitingForTcpip,
    /// The handles exist; BFE is not running: the WFP objects wait for its callback.
    WaitingForBfe,
    /// Callouts registered, filters added: classify runs.
    Loaded,
    /// A piece failed after DriverEntry returned, or the retry deadline passed: the driver stays
    /// loaded with no filter (classify is never reached; after a failed re-add following a BFE
    /// restart its callouts stay registered) until it is unloaded. The log says which step and
    /// why.
    Inert(LoadError),
}

/// How often a backoff wait looks at the cancel bit: the longest unload waits for a sleeping
/// retry.
pub const CANCEL_POLL: Duration = Duration::from_millis(20);

/// How long unload waits for a run of the work item to end. A run makes one attempt after at
/// most one backoff wait, so this is only reached if a kernel call hangs; then the driver's
/// memory is leaked (and logged) rather than freed under a running routine.
pub const WORKER_PATIENCE: Duration = Duration::from_secs(30);

// `schedule`: the low two bits say who holds the token; CANCELLED is set once, by unload.
const IDLE: u32 = 0;
const QUEUED: u32 = 1;
const RUNNING: u32 = 2;
const AGAIN: u32 = 3;
const HOLDER: u32 = 3;
const CANCELLED: u32 = 4;

const PHASE_TCPIP: u32 = 0;
const PHASE_BFE: u32 = 1;
const PHASE_LOADED: u32 = 2;
const PHASE_INERT: u32 = 3;

/// What the token holder owns.
struct Pieces<K: KernelApi> {
    registration: Option<Registration>,
    objects: Option<WfpObjects<K>>,
    /// A failed install left a callout registered: WFP may call classify, so the state stays.
    callouts_stuck: bool,
    /// Backoff waited so far, and the next wait.
    waited: Duration,
    delay: Duration,
}

/// The deferred load's state: one pool block at a fixed address (the work item's and the
/// callback's context) from DriverEntry until unload frees it.
///
/// IRQL: see each function.
pub(crate) struct Loader<K: KernelApi> {
    kernel: K,
    device: DeviceObject,
    /// The rules in force: written only by the token holder (a configuration change), read by
    /// the token holder and by control requests (which the control queue presents one at a
    /// time, and only they change it).
    rules: UnsafeCell<Rules>,
    /// The rules' generation: a value of its own at load, one more (never 0) at every change;
    /// the control channel's compare-and-set compares it.
    generation: AtomicU32,
    /// The driver's copy of DriverEntry's registry path, where a persisting change writes
    /// (`None`: loaded without one).
    service_key: Option<crate::driver::persisted::ServiceKey>,
    capacity: u32,
    retry: RetryPolicy,
    log: Log,
    schedule: AtomicU32,
    phase: AtomicU32,
    /// Set by the BFE callback when BFE stops after the load completed: the session and the
    /// driver's WFP objects are gone; the next run re-adds them once BFE runs again.
    bfe_lost: core::sync::atomic::AtomicBool,
    work_item: AtomicPtr<c_void>,
    subscription: AtomicPtr<c_void>,
    /// Published once the handles exist (release), for classify's instance and the accessors.
    state: AtomicPtr<CalloutState<K>>,
    /// The `\Callback\PowerState` registration and the flag classify reads through the state.
    pub(super) power: Power,
    /// The instance's raw id once registered (0 before), for the sleep routine's wait.
    instance: AtomicU64,
    pieces: UnsafeCell<Pieces<K>>,
    /// Written once, by the token holder, before `phase` becomes PHASE_INERT (release).
    failure: UnsafeCell<Option<LoadError>>,
}

/// The milliseconds of `duration`, saturated, for a log line.
fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

impl<K: KernelApi> Loader<K> {
    /// A loader whose token DriverEntry holds.
    pub(crate) fn new(
        kernel: K,
        device: DeviceObject,
        rules: Rules,
        service_key: Option<crate::driver::persisted::ServiceKey>,
        capacity: u32,
        retry: RetryPolicy,
        log: Log,
    ) -> Self {
        // Opaque and different per load (the low bits of the interrupt time, never 0): a set
        // naming a generation an earlier load of the driver answered is refused, not applied
        // by a coincidence of two counters that both started at 1.
        let generation = (kernel.ke_query_unbiased_interrupt_time() as u32).max(1);
        Self {
            kernel,
            device,
            rules: UnsafeCell::new(rules),
            generation: AtomicU32::new(generation),
            service_key,
            capacity,
            retry,
            log,
            schedule: AtomicU32::new(RUNNING),
            phase: AtomicU32::new(PHASE_TCPIP),
            bfe_lost: core::sync::atomic::AtomicBool::new(false),
            work_item: AtomicPtr::new(ptr::null_mut()),
            subscription: AtomicPtr::new(ptr::null_mut()),
            state: AtomicPtr::new(ptr::null_mut()),
            power: Power::default(),
            instance: AtomicU64::new(0),
            pieces: UnsafeCell::new(Pieces {
                registration: None,
                objects: None,
                callouts_stuck: false,
                waited: Duration::ZERO,
                delay: retry.first_delay,
            }),
            failure: UnsafeCell::new(None),
        }
    }

    /// The kernel the driver runs on.
    pub(crate) fn kernel(&self) -> K {
        self.kernel.clone()
    }

    /// # Safety
    /// The caller holds the token (DriverEntry before it releases it, a work item run, or
    /// unload once the token is free and cancelled) and uses no other reference to the pieces.
    #[allow(clippy::mut_from_ref)]
    unsafe fn pieces(&self) -> &mut Pieces<K> {
        // SAFETY: the token makes the caller the pieces' only user (this function's contract).
        unsafe { &mut *self.pieces.get() }
    }

    /// The state classify uses, once the handles exist. Any IRQL.
    pub(crate) fn state(&self) -> Option<&CalloutState<K>> {
        let state = self.state.load(Ordering::Acquire);
        // SAFETY: published once, after it was fully built, and freed only by unload, which
        // consumes the driver this loader belongs to.
        unsafe { state.as_ref() }
    }

    /// Where the load stands. Any IRQL.
    pub(crate) fn progress(&self) -> Progress {
        match self.phase.load(Ordering::Acquire) {
            PHASE_TCPIP => Progress::WaitingForTcpip,
            PHASE_BFE => Progress::WaitingForBfe,
            PHASE_LOADED if self.bfe_lost.load(Ordering::Acquire) => Progress::WaitingForBfe,
            PHASE_LOADED => Progress::Loaded,
            _ => {
                // SAFETY: `failure` is written once before the release store of PHASE_INERT seen
                // above, and never again.
                let failure = unsafe { *self.failure.get() };
                Progress::Inert(failure.unwrap_or(LoadError::new(
                    LoadStep::DriverState,
                    NtStatus::UNSUCCESSFUL,
                )))
            }
        }
    }

    fn cancelled(&self) -> bool {
        self.schedule.load(Ordering::Acquire) & CANCELLED != 0
    }

    /// One attempt at the injection handles, the injector, the state and its instance. `false`:
    /// TCP/IP is not ready. PASSIVE_LEVEL.
    fn try_handles(&self, pieces: &mut Pieces<K>) -> Result<bool, LoadError> {
        let handles =
            match DualStackInjector::try_create(self.kernel.clone(), DRIVER_INJECTION_TYPES) {
                Ok(handles) => handles,
                Err(failure) if failure.error.is_tcpip_not_ready() => return Ok(false),
                Err(failure) => {
                    return Err(LoadError::new(
                        LoadStep::InjectionHandles,
                        failure.error.status(),
                    ));
                }
            };
        let state_error =
            |error: crate::Error| LoadError::new(LoadStep::DriverState, error.status());
        // Per-processor counts first: on failure the handles are dropped here, which destroys
        // them.
        let counters = Counters::new(&self.kernel).map_err(state_error)?;
        let completions = CompletionCounters::new(&self.kernel).map_err(state_error)?;
        let injector =
            PacketInjector::new(handles, self.capacity, completions).map_err(state_error)?;
        let state = try_box(CalloutState {
            #[cfg(debug_assertions)]
            canary: classify::Canary::new(),
            kernel: self.kernel.clone(),
            injector,
            config: SharedRules::new(self.rules()),
            counters,
            log: SharedLog::new(Log {
                verbose: self.rules().verbose,
            }),
            power: core::ptr::NonNull::from(&self.power),
        })
        .map_err(|_| LoadError::new(LoadStep::DriverState, NtStatus::INSUFFICIENT_RESOURCES))?;
        let state = Box::into_raw(state);
        let seed = self.kernel.ke_query_unbiased_interrupt_time();
        let Some(registration) = instance::register(state.cast_const().cast(), seed) else {
            // SAFETY: the state was leaked above and nothing refers to it; reclaimed once.
            drop(unsafe { Box::from_raw(state) });
            return Err(LoadError::new(
                LoadStep::DriverState,
                NtStatus::INSUFFICIENT_RESOURCES,
            ));
        };
        self.instance
            .store(registration.id().raw_context(), Ordering::Release);
        pieces.registration = Some(registration);
        self.state.store(state, Ordering::Release);
        Ok(true)
    }

    /// Adds the WFP objects if BFE is running. `false`: it is not (its callback will ask again).
    /// PASSIVE_LEVEL; the handles exist.
    fn try_objects(&self, pieces: &mut Pieces<K>) -> Result<bool, LoadError> {
        let Some(context) = pieces.registration.as_ref().map(|r| r.id().raw_context()) else {
            return Ok(false);
        };
        // A stop seen before this point concerns sessions that no longer matter: BFE is asked
        // next, and a stop after it is seen again.
        self.bfe_lost.store(false, Ordering::Release);
        if !self.bfe_running() {
            return Ok(false);
        }
        if let Some(objects) = pieces.objects.as_mut() {
            // The callouts are registered already (BFE restarted after the load): only the
            // management objects come back.
            return match objects.reinstall(context, self.rules()) {
                Ok(()) => Ok(true),
                Err(error) if error.step == LoadStep::EngineOpen && !self.bfe_running() => {
                    Ok(false)
                }
                Err(error) => Err(error),
            };
        }
        let installed = WfpObjects::install(
            self.kernel.clone(),
            self.device,
            classify::classify::<K>,
            classify::notify,
            context,
            self.rules(),
        );
        match installed {
            Ok(mut objects) if self.cancelled() => {
                // Unload began while the objects were being added (and may have stopped waiting
                // for this run): take them away again here rather than leave them behind.
                objects.remove_filters();
                objects.unregister_callouts();
                pieces.callouts_stuck |= objects.still_registered();
                objects.remove_and_close();
                Ok(false)
            }
            Ok(objects) => {
                pieces.objects = Some(objects);
                Ok(true)
            }
            // BFE stopped between the two calls: wait for it to run again.
            Err(error) if error.step == LoadStep::EngineOpen && !self.bfe_running() => Ok(false),
            Err(error) => {
                pieces.callouts_stuck |= error.image_in_use;
                Err(error)
            }
        }
    }

    fn bfe_running(&self) -> bool {
        // SAFETY: <= DISPATCH_LEVEL; called only after the subscription succeeded (DriverEntry
        // subscribes before anything calls this).
        unsafe { self.kernel.fwpm_bfe_state_get0() == FWPM_SERVICE_RUNNING }
    }

    fn set_phase(&self, phase: u32) {
        self.phase.store(phase, Ordering::Release);
    }

    /// The driver stays loaded and inert: `error` is kept and logged.
    fn give_up(&self, error: LoadError) {
        // SAFETY: the token holder writes it once (the phase is not yet INERT, and nothing runs
        // the load after it is); readers look only after the release store below.
        unsafe { *self.failure.get() = Some(error) };
        self.set_phase(PHASE_INERT);
        self.log.write(
            &self.kernel,
            Level::Error,
            &[
                "inert (loaded, no filter: classify is never reached) after ".into(),
                error.step.into(),
                " failed: ".into(),
                error.status.into(),
            ],
        );
    }

    /// Marks the load complete, called by the run that holds the token. A BFE stop noticed
    /// meanwhile (the callback may have read the phase before this store) asks this run to go
    /// again, which forgets the session it just opened. See the fence in the BFE callback.
    fn set_loaded(&self) {
        self.set_phase(PHASE_LOADED);
        self.log_loaded();
        fence(Ordering::SeqCst);
        if self.bfe_lost.load(Ordering::Acquire) {
            self.request();
        }
    }

    fn log_loaded(&self) {
        let rules = self.rules();
        let inspects = |family| {
            crate::driver::layers::CalloutLayer::ALL
                .iter()
                .any(|layer| layer.family() == family && rules.for_layer(*layer).next().is_some())
        };
        self.log.write(
            &self.kernel,
            Level::Info,
            &[
                "loaded: inspecting IPv4 ".into(),
                inspects(crate::inject::IpFamily::V4).into(),
                ", IPv6 ".into(),
                inspects(crate::inject::IpFamily::V6).into(),
                "; ".into(),
                self.capacity.into(),
                " contexts".into(),
            ],
        );
    }

    fn log_waiting_for_bfe(&self) {
        self.log.write(
            &self.kernel,
            Level::Info,
            &["waiting for BFE: the WFP objects are added when it reports running".into()],
        );
    }

    /// DriverEntry's part: one attempt at each piece, no wait. Holds the token throughout and
    /// releases it at the end (queueing the work item if something is left to retry). On error,
    /// what this created is left for [`Self::tear_down`]. PASSIVE_LEVEL.
    pub(crate) fn enter(&self) -> Result<(), LoadError> {
        // SAFETY: DriverEntry holds the token (`new`).
        let pieces = unsafe { self.pieces() };
        // First, so a sleep announced while the rest loads (TCP/IP or BFE may take long) is
        // seen: the state, once it exists, starts with the flag as the routine left it. The
        // routine needs nothing else of the load: with no injector it only sets the flag.
        // SAFETY: the loader block does not move and outlives the registration: unload
        // unregisters before it frees the block; the routine is `power_changed`'s contract.
        unsafe {
            self.power.register(
                &self.kernel,
                power_changed::<K>,
                ptr::from_ref(self).cast_mut().cast(),
            )
        }
        .map_err(|status| LoadError::new(LoadStep::PowerCallback, status))?;
        let handles_ready = self.try_handles(pieces)?;
        // SAFETY: <= DISPATCH_LEVEL; the device is the driver's.
        let item = unsafe { self.kernel.io_allocate_work_item(self.device.as_raw()) };
        if item.is_null() {
            return Err(LoadError::new(
                LoadStep::WorkItem,
                NtStatus::INSUFFICIENT_RESOURCES,
            ));
        }
        self.work_item.store(item, Ordering::Release);
        let mut subscription: HANDLE = ptr::null_mut();
        // SAFETY: PASSIVE_LEVEL; the device is the driver's; the callback and this loader stay
        // valid until unload has unsubscribed; `subscription` is writable.
        let status = NtStatus(unsafe {
            self.kernel.fwpm_bfe_state_subscribe_changes0(
                self.device.as_raw(),
                bfe_state_changed::<K>,
                ptr::from_ref(self).cast_mut().cast(),
                &mut subscription,
            )
        });
        if !status.is_success() {
            return Err(LoadError::new(LoadStep::BfeSubscribe, status));
        }
        self.subscription.store(subscription, Ordering::Release);
        let mut retry = false;
        if !handles_ready {
            if self.retry.deadline.is_zero() {
                self.give_up(LoadError::new(
                    LoadStep::InjectionHandles,
                    NtStatus::FWP_TCPIP_NOT_READY,
                ));
            } else {
                self.log.write(
                    &self.kernel,
                    Level::Info,
                    &[
                        "waiting for TCP/IP (".into(),
                        NtStatus::FWP_TCPIP_NOT_READY.into(),
                        "): a work item retries for up to ".into(),
                        millis(self.retry.deadline).into(),
                        " ms".into(),
                    ],
                );
                retry = true;
            }
        } else if self.try_objects(pieces)? {
            self.set_loaded();
        } else {
            self.set_phase(PHASE_BFE);
            self.log_waiting_for_bfe();
        }
        self.finish(retry, false);
        Ok(())
    }

    /// Releases the token DriverEntry holds after [`Self::enter`] failed: nothing runs or is
    /// queued afterwards.
    pub(crate) fn abandon_entry(&self) {
        self.schedule.store(CANCELLED, Ordering::Release);
    }

    /// One run of the work item, holding the token: one backoff wait and attempt at the handles
    /// if they are missing, then the objects if BFE runs. Returns whether to run again later.
    /// PASSIVE_LEVEL.
    fn work(&self) -> bool {
        // SAFETY: the caller holds the token (a work item run).
        let pieces = unsafe { self.pieces() };
        let phase = self.phase.load(Ordering::Acquire);
        match phase {
            PHASE_TCPIP => {
                let nap = pieces.delay.min(crate::nt::time::saturating_sub(
                    self.retry.deadline,
                    pieces.waited,
                ));
                match self.nap(nap) {
                    Ok(()) => {}
                    Err(None) => return false,
                    Err(Some(status)) => {
                        self.give_up(LoadError::new(LoadStep::InjectionHandles, status));
                        return false;
                    }
                }
                pieces.waited = crate::nt::time::saturating_add(pieces.waited, nap);
                pieces.delay = crate::nt::time::saturating_mul(pieces.delay, self.retry.growth)
                    .min(self.retry.max_delay);
                match self.try_handles(pieces) {
                    Ok(true) => {
                        self.log.write(
                            &self.kernel,
                            Level::Info,
                            &[
                                "TCP/IP ready: injection handles created after ".into(),
                                millis(pieces.waited).into(),
                                " ms".into(),
                            ],
                        );
                    }
                    Ok(false) if pieces.waited >= self.retry.deadline => {
                        self.log.write(
                            &self.kernel,
                            Level::Error,
                            &[
                                "gave up waiting for TCP/IP after ".into(),
                                millis(pieces.waited).into(),
                                " ms".into(),
                            ],
                        );
                        self.give_up(LoadError::new(
                            LoadStep::InjectionHandles,
                            NtStatus::FWP_TCPIP_NOT_READY,
                        ));
                        return false;
                    }
                    Ok(false) => return true,
                    Err(error) => {
                        self.give_up(error);
                        return false;
                    }
                }
                if self.cancelled() {
                    return false;
                }
            }
            PHASE_BFE => {}
            PHASE_LOADED if self.bfe_lost.load(Ordering::Acquire) => {
                // BFE left after the load: waiting for it again (set before the flag is
                // cleared, so progress never reads "loaded" in between).
                self.set_phase(PHASE_BFE);
                self.log_waiting_for_bfe();
            }
            _ => return false,
        }
        if self.bfe_lost.swap(false, Ordering::AcqRel) {
            // BFE stopped: the session and every object it added are gone. Keep the callouts
            // and the state; the objects come back below or when BFE runs.
            if let Some(objects) = pieces.objects.as_mut() {
                objects.engine_lost();
            }
        }
        // Unload may have begun (and unsubscribed from BFE) since this run started: query BFE
        // and add objects only while it has not.
        if self.cancelled() {
            return false;
        }
        match self.try_objects(pieces) {
            Ok(true) => self.set_loaded(),
            Ok(false) => {
                if self.phase.load(Ordering::Acquire) != PHASE_BFE {
                    self.set_phase(PHASE_BFE);
                    self.log_waiting_for_bfe();
                }
            }
            Err(error) => self.give_up(error),
        }
        false
    }

    /// Sleeps `total` in slices of [`CANCEL_POLL`], looking at the cancel bit before each.
    /// `Err(None)`: cancelled; `Err(Some(status))`: the sleep failed. PASSIVE_LEVEL.
    fn nap(&self, total: Duration) -> Result<(), Option<NtStatus>> {
        let mut left = total;
        loop {
            if self.cancelled() {
                return Err(None);
            }
            if left.is_zero() {
                return Ok(());
            }
            let slice = left.min(CANCEL_POLL);
            crate::nt::time::sleep(&self.kernel, slice).map_err(|error| Some(error.status()))?;
            left = crate::nt::time::saturating_sub(left, slice);
        }
    }
}
