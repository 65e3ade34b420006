//! What early boot looks like to a callout driver: the Base Filtering Engine's state
//! (`FwpmBfeStateGet0`, `FwpmBfeStateSubscribeChanges0` and its callbacks), TCP/IP becoming ready
//! at a virtual time, and work items (`IoAllocateWorkItem`, `IoQueueWorkItem`, `IoFreeWorkItem`)
//! run when and on the thread the test chooses, at PASSIVE_LEVEL, on the virtual clock.
//!
//! The rules enforced are the documented ones: subscribe before asking the state, never
//! unsubscribe from the callback (it would deadlock: recorded), unsubscribing waits for a
//! callback in progress, never queue a work item that is queued, never free a queued one, name
//! DelayedWorkQueue, free every work item and remove every subscription before the driver goes.

use core::ffi::c_void;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::format;
use std::string::String;
use std::thread::{self, ThreadId};
use std::time::Duration;
use std::vec::Vec;

use super::stack::{SimulatedStack, Violation};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelFn;
use crate::sys::types::{
    DEVICE_OBJECT, FWPM_SERVICE_STATE_CHANGE_CALLBACK0, HANDLE, IO_WORKITEM_ROUTINE, NTSTATUS,
};

/// The filter engine's states, the simulator's own copies of `FWPM_SERVICE_STATE`'s values
/// (tests/kernel_facts.rs pins them against facts/kernel-facts.md).
pub mod bfe_state {
    /// `FWPM_SERVICE_STOPPED`.
    pub const STOPPED: i32 = 0;
    /// `FWPM_SERVICE_START_PENDING`.
    pub const START_PENDING: i32 = 1;
    /// `FWPM_SERVICE_STOP_PENDING`.
    pub const STOP_PENDING: i32 = 2;
    /// `FWPM_SERVICE_RUNNING`.
    pub const RUNNING: i32 = 3;
}

/// `DelayedWorkQueue`, the simulator's own copy (pinned like the states above).
pub const DELAYED_WORK_QUEUE: i32 = 1;

/// What FwpmEngineOpen0 answers while BFE is not running. The docs name no status (they say only
/// that a session cannot be opened); this is the simulator's choice, and the driver must not
/// depend on it (it asks FwpmBfeStateGet0 instead).
pub const ENGINE_NOT_RUNNING: NtStatus = NtStatus::UNSUCCESSFUL;

#[derive(Debug)]
struct Subscription {
    callback: FWPM_SERVICE_STATE_CHANGE_CALLBACK0,
    context: usize,
    /// Threads inside the callback now.
    running: Vec<ThreadId>,
}

#[derive(Debug, Default)]
struct WorkItem {
    device: usize,
    queued: bool,
    freed: bool,
}

#[derive(Debug)]
pub(super) struct Boot {
    pub(super) bfe: i32,
    subscriptions: BTreeMap<usize, Subscription>,
    next_subscription: usize,
    /// TCP/IP answers STATUS_FWP_TCPIP_NOT_READY while the virtual clock is before this.
    pub(super) tcpip_ready_at: Option<Duration>,
    work_items: BTreeMap<usize, WorkItem>,
    next_work_item: usize,
    queue: VecDeque<(usize, IO_WORKITEM_ROUTINE, usize)>,
    /// Threads running a work item now.
    workers: HashSet<ThreadId>,
    /// Every KeDelayExecutionThread: the thread and the wait.
    pub(super) sleepers: Vec<(ThreadId, Duration)>,
    /// While set, a work item's sleep blocks (in real time) until cleared.
    hold_worker_sleeps: bool,
    held: usize,
    /// While set, BFE callbacks in progress block (in real time) before calling the driver.
    hold_callbacks: bool,
    held_callbacks: usize,
}

impl Default for Boot {
    fn default() -> Self {
        Self {
            bfe: bfe_state::RUNNING,
            subscriptions: BTreeMap::new(),
            next_subscription: 0,
            tcpip_ready_at: None,
            work_items: BTreeMap::new(),
            next_work_item: 0,
            queue: VecDeque::new(),
            workers: HashSet::new(),
            sleepers: Vec::new(),
            hold_worker_sleeps: false,
            held: 0,
            hold_callbacks: false,
            held_callbacks: 0,
        }
    }
}

impl Boot {
    /// A driver vanished (a crash): its subscriptions and work items go with it.
    pub(super) fn forget_driver(&mut self) {
        self.subscriptions.clear();
        self.work_items.clear();
        self.queue.clear();
    }

    pub(super) fn leak_report(&self) -> Option<String> {
        let live = self.work_items.values().filter(|item| !item.freed).count();
        if self.subscriptions.is_empty() && live == 0 && self.queue.is_empty() {
            return None;
        }
        Some(format!(
            "{} BFE subscription(s) not removed; {} work item(s) not freed; {} still queued",
            self.subscriptions.len(),
            live,
            self.queue.len()
        ))
    }
}

impl SimulatedStack {
    // ---- test controls ----

    /// Sets the filter engine's state and, on this thread at PASSIVE_LEVEL, calls every
    /// subscribed callback with it (as BFE notifies its subscribers), then returns.
    pub fn set_bfe_state(&self, new_state: i32) {
        let callbacks: Vec<(usize, FWPM_SERVICE_STATE_CHANGE_CALLBACK0, usize)> = {
            let mut state = self.lock();
            state.boot.bfe = new_state;
            if new_state == bfe_state::STOPPED {
                // FWPM_SERVICE_STOPPED: BFE's sessions and their objects are gone.
                state.engine.bfe_stopped();
            }
            let me = thread::current().id();
            state
                .boot
                .subscriptions
                .iter_mut()
                .map(|(handle, subscription)| {
                    subscription.running.push(me);
                    (*handle, subscription.callback, subscription.context)
                })
                .collect()
        };
        for (handle, callback, context) in callbacks {
            let held = {
                let mut state = self.lock();
                if state.boot.hold_callbacks {
                    state.boot.held_callbacks += 1;
                }
                state.boot.hold_callbacks
            };
            if held {
                self.changed.notify_all();
                self.wait_until(KernelFn::FwpmBfeStateSubscribeChanges0, |state| {
                    !state.boot.hold_callbacks
                });
                self.lock().boot.held_callbacks -= 1;
            }
            self.at_irql(Irql::PASSIVE, || {
                // SAFETY: the driver's subscribe contract keeps the callback and its context
                // valid until unsubscribed, and unsubscribing waits for this call to return.
                unsafe { callback(context as *mut c_void, new_state) }
            });
            let mut state = self.lock();
            if let Some(subscription) = state.boot.subscriptions.get_mut(&handle) {
                let me = thread::current().id();
                if let Some(at) = subscription.running.iter().position(|t| *t == me) {
                    subscription.running.remove(at);
                }
            }
            drop(state);
            self.changed.notify_all();
        }
    }

    /// While held, a BFE notification in progress ([`Self::set_bfe_state`]) blocks (in real
    /// time) before calling each callback, counting as a callback in progress.
    pub fn hold_bfe_callbacks(&self) {
        self.lock().boot.hold_callbacks = true;
    }

    /// Lets held BFE notifications call their callbacks.
    pub fn release_bfe_callbacks(&self) {
        self.lock().boot.hold_callbacks = false;
        self.changed.notify_all();
    }

    /// BFE notifications blocked by [`Self::hold_bfe_callbacks`] now.
    pub fn held_bfe_callbacks(&self) -> usize {
        self.lock().boot.held_callbacks
    }

    /// The filter engine's state now.
    pub fn bfe_state(&self) -> i32 {
        self.lock().boot.bfe
    }

    /// BFE subscriptions in place.
    pub fn bfe_subscriptions(&self) -> usize {
        self.lock().boot.subscriptions.len()
    }

    /// Injection handle creation answers STATUS_FWP_TCPIP_NOT_READY until the virtual clock
    /// reaches `at` (`Duration::MAX`: until [`Self::set_tcpip_ready_at`] is called again).
    pub fn set_tcpip_ready_at(&self, at: Duration) {
        self.lock().boot.tcpip_ready_at = Some(at);
    }

    /// Work items queued and not yet run.
    pub fn queued_work_items(&self) -> usize {
        self.lock().boot.queue.len()
    }

    /// Work items allocated and not freed.
    pub fn live_work_items(&self) -> usize {
        self.lock()
            .boot
            .work_items
            .values()
            .filter(|item| !item.freed)
            .count()
    }

    /// Runs the first queued work item on this thread at PASSIVE_LEVEL (as a system worker
    /// thread would). False when none was queued.
    pub fn run_one_work_item(&self) -> bool {
        let (device, routine, context) = {
            let mut state = self.lock();
            let Some((item, routine, context)) = state.boot.queue.pop_front() else {
                return false;
            };
            // The system dequeues the item before its routine runs.
            let mut device = 0;
            if let Some(record) = state.boot.work_items.get_mut(&item) {
                record.queued = false;
                device = record.device;
            }
            state.boot.workers.insert(thread::current().id());
            (device, routine, context)
        };
        self.at_irql(Irql::PASSIVE, || {
            // SAFETY: the driver's queue contract keeps the context valid until the routine ran;
            // the device is the one the item was allocated for.
            unsafe { routine(device as *mut DEVICE_OBJECT, context as *mut c_void) }
        });
        self.lock().boot.workers.remove(&thread::current().id());
        self.changed.notify_all();
        true
    }

    /// Runs queued work items, including those they queue, until none is queued. How many ran.
    pub fn run_work_items(&self) -> usize {
        let mut ran = 0;
        while self.run_one_work_item() {
            ran += 1;
        }
        ran
    }

    /// While held, a sleep on a thread that runs a work item blocks (in real time) until
    /// [`Self::release_worker_sleeps`]: a test can act while the worker sleeps.
    pub fn hold_worker_sleeps(&self) {
        self.lock().boot.hold_worker_sleeps = true;
    }

    /// Lets held sleeps finish.
    pub fn release_worker_sleeps(&self) {
        self.lock().boot.hold_worker_sleeps = false;
        self.changed.notify_all();
    }

    /// Work-item threads blocked in a held sleep now.
    pub fn held_worker_sleeps(&self) -> usize {
        self.lock().boot.held
    }

    /// The waits KeDelayExecutionThread was asked for on `thread`.
    pub fn sleeps_on(&self, thread: ThreadId) -> Vec<Duration> {
        self.lock()
            .boot
            .sleepers
            .iter()
            .filter(|(t, _)| *t == thread)
            .map(|(_, wait)| *wait)
            .collect()
    }

    // ---- the kernel side ----

    /// Records a sleep of the current thread, and blocks it while worker sleeps are held.
    pub(super) fn boot_sleep(&self, wait: Duration) {
        let me = thread::current().id();
        let held = {
            let mut state = self.lock();
            state.boot.sleepers.push((me, wait));
            let held = state.boot.hold_worker_sleeps && state.boot.workers.contains(&me);
            if held {
                state.boot.held += 1;
            }
            held
        };
        if held {
            self.changed.notify_all();
            self.wait_until(KernelFn::KeDelayExecutionThread, |state| {
                !state.boot.hold_worker_sleeps
            });
            self.lock().boot.held -= 1;
        }
    }

    #[allow(non_snake_case)] // the semantics of FwpmBfeStateGet0
    pub(super) fn FwpmBfeStateGet0(&self) -> i32 {
        let mut state = self.lock();
        if state.boot.subscriptions.is_empty() {
            state.violations.push(Violation::BfeStateGetBeforeSubscribe);
        }
        state.boot.bfe
    }

    #[allow(non_snake_case)] // the semantics of FwpmBfeStateSubscribeChanges0
    pub(super) fn FwpmBfeStateSubscribeChanges0(
        &self,
        device: *mut DEVICE_OBJECT,
        callback: FWPM_SERVICE_STATE_CHANGE_CALLBACK0,
        context: *mut c_void,
        handle: *mut HANDLE,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if device.is_null() || handle.is_null() {
            return state.misuse(Violation::NullPointer(
                KernelFn::FwpmBfeStateSubscribeChanges0,
            ));
        }
        state.boot.next_subscription += 1;
        let raw = 0xB000 + state.boot.next_subscription * 0x10;
        state.boot.subscriptions.insert(
            raw,
            Subscription {
                callback,
                context: context as usize,
                running: Vec::new(),
            },
        );
        // SAFETY: the seam's contract: `handle` is writable; null was refused above.
        unsafe { handle.write(raw as HANDLE) };
        NtStatus::SUCCESS.0
    }

    #[allow(non_snake_case)] // the semantics of FwpmBfeStateUnsubscribeChanges0
    pub(super) fn FwpmBfeStateUnsubscribeChanges0(&self, handle: HANDLE) -> NTSTATUS {
        let raw = handle as usize;
        {
            let mut state = self.lock();
            let me = thread::current().id();
            let violation = match state.boot.subscriptions.get(&raw) {
                None => Some(Violation::UnknownBfeSubscription(raw)),
                Some(subscription) if subscription.running.contains(&me) => {
                    Some(Violation::UnsubscribeFromBfeCallback)
                }
                Some(_) => None,
            };
            if let Some(violation) = violation {
                return state.misuse(violation);
            }
        }
        // Returns once no callback of this subscription is running.
        self.wait_until(KernelFn::FwpmBfeStateUnsubscribeChanges0, |state| {
            state
                .boot
                .subscriptions
                .get(&raw)
                .is_none_or(|subscription| subscription.running.is_empty())
        });
        self.lock().boot.subscriptions.remove(&raw);
        NtStatus::SUCCESS.0
    }

    #[allow(non_snake_case)] // the semantics of IoAllocateWorkItem
    pub(super) fn IoAllocateWorkItem(&self, device: *mut DEVICE_OBJECT) -> *mut c_void {
        let mut state = self.lock();
        if device.is_null() {
            state
                .violations
                .push(Violation::NullPointer(KernelFn::IoAllocateWorkItem));
            return core::ptr::null_mut();
        }
        state.boot.next_work_item += 1;
        let raw = 0xA000 + state.boot.next_work_item * 0x10;
        state.boot.work_items.insert(
            raw,
            WorkItem {
                device: device as usize,
                ..WorkItem::default()
            },
        );
        raw as *mut c_void
    }

    #[allow(non_snake_case)] // the semantics of IoQueueWorkItem
    pub(super) fn IoQueueWorkItem(
        &self,
        item: *mut c_void,
        routine: IO_WORKITEM_ROUTINE,
        queue: i32,
        context: *mut c_void,
    ) {
        let mut state = self.lock();
        let raw = item as usize;
        if queue != DELAYED_WORK_QUEUE {
            state.violations.push(Violation::WorkQueueNotDelayed(queue));
        }
        let violation = match state.boot.work_items.get_mut(&raw) {
            None => Some(Violation::UnknownWorkItem(KernelFn::IoQueueWorkItem, raw)),
            Some(record) if record.freed => {
                Some(Violation::UnknownWorkItem(KernelFn::IoQueueWorkItem, raw))
            }
            Some(record) if record.queued => Some(Violation::WorkItemQueuedTwice(raw)),
            Some(record) => {
                record.queued = true;
                None
            }
        };
        match violation {
            Some(violation) => state.violations.push(violation),
            None => state.boot.queue.push_back((raw, routine, context as usize)),
        }
    }

    #[allow(non_snake_case)] // the semantics of IoFreeWorkItem
    pub(super) fn IoFreeWorkItem(&self, item: *mut c_void) {
        let mut state = self.lock();
        let raw = item as usize;
        let violation = match state.boot.work_items.get_mut(&raw) {
            None => Some(Violation::UnknownWorkItem(KernelFn::IoFreeWorkItem, raw)),
            Some(record) if record.freed => {
                Some(Violation::UnknownWorkItem(KernelFn::IoFreeWorkItem, raw))
            }
            Some(record) if record.queued => Some(Violation::FreeOfQueuedWorkItem(raw)),
            Some(record) => {
                record.freed = true;
                None
            }
        };
        if let Some(violation) = violation {
            state.violations.push(violation);
        }
    }

    /// Whether an injection handle creation now must answer STATUS_FWP_TCPIP_NOT_READY because
    /// of the ready time.
    pub(super) fn tcpip_not_ready_yet(state: &super::stack::State) -> bool {
        state.boot.tcpip_ready_at.is_some_and(|at| state.clock < at)
    }
}
