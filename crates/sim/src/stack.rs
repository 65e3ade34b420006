//! State and test-facing controls of the simulated stack.

use std::collections::{BTreeMap, HashMap};
use std::format;
use std::string::String;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};
use std::time::Duration;
use std::vec::Vec;

use crate::nt::{Irql, NtStatus};
use crate::sys::KernelFn;

/// A rule of the kernel API that the code under test broke. The real kernel would bugcheck,
/// corrupt memory or hang; the simulation records it and returns a failure status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A call made above the IRQL it allows.
    WrongIrql {
        /// Which call.
        call: KernelFn,
        /// The caller's IRQL.
        irql: Irql,
    },
    /// Destroy of a value that was never a handle of this stack.
    DestroyUnknownHandle(usize),
    /// Destroy of a handle already destroyed.
    DestroyDestroyedHandle(usize),
    /// A null pointer where the kernel writes or reads.
    NullPointer(KernelFn),
    /// A call given a value that was never an NBL of this stack.
    UnknownNbl(KernelFn, usize),
    /// A call given an NBL that was already freed or returned.
    NblUsedAfterFree(KernelFn, usize),
    /// An NBL passed to the kernel while WFP still owns it from an earlier injection.
    NblAlreadyPending(KernelFn, usize),
    /// A call given a handle that was never created or is already destroyed.
    StaleHandleUse(KernelFn, usize),
    /// `FwpsFreeCloneNetBufferList0` on something that is not a live clone.
    FreeOfNonClone(usize),
    /// A packet the stack indicated was returned while clones of it were alive.
    OriginalReturnedBeforeClones(usize),
    /// Transport-send parameters changed or vanished before the injection completed.
    SendParametersChangedBeforeCompletion(u64),
    /// `ExReleaseRundownProtection` without a matching acquire.
    RundownReleasedTooOften,
    /// A wait that would never end in the kernel (rundown never released, or a handle destroyed
    /// while its injections never complete). The simulation gives up after a few seconds.
    WaitWouldHang(KernelFn),
    /// `KeInitializeDpc` on a DPC that is still queued.
    DpcReinitializedWhileQueued(usize),
    /// `KeInsertQueueDpc` of a DPC never initialized.
    DpcNotInitialized(usize),
    /// Advancing a NET_BUFFER past the end of its data.
    ReadPastEnd(usize),
    /// `DbgPrintEx` with a format other than `"%s"`: logged text would be read as a format.
    FormatNotText,
    /// A classify returned with the packet's first NET_BUFFER at another (DataOffset,
    /// DataLength) than it was given ("Data offset positions": a retreat must be undone).
    DataOffsetNotRestored {
        /// As indicated.
        before: (u32, u32),
        /// As the classify left it.
        after: (u32, u32),
    },
    /// A WFP call on an engine handle that is not open.
    StaleEngineHandle(KernelFn, usize),
    /// `ZwClose` or `ZwQueryValueKey` on a handle that is not an open key.
    StaleKeyHandle(KernelFn, usize),
    /// `ExFreePoolWithTag` of a block that is not allocated.
    PoolFreeOfUnknownBlock(usize),
    /// `ExFreePoolWithTag` with another tag than the allocation's.
    PoolTagMismatch {
        /// Tag at allocation.
        allocated: u32,
        /// Tag at free.
        freed: u32,
    },
    /// `IoDeleteDevice` of something that is not a live device object.
    UnknownDevice(usize),

    // --- The simulated wdfldr.sys and KMDF ---
    /// A WDF or loader call broke the framework's rules: which call, what, and the value.
    Kmdf(KernelFn, &'static str, usize),
    // Reinjection rules (what the stack checks of an injected packet).
    /// `NdisRetreatNetBufferDataStart` over more bytes than the NET_BUFFER holds before its data:
    /// NDIS would allocate new memory, and the bytes would not be the packet's.
    RetreatPastBufferStart(usize),
    /// A transport receive injection whose NBL does not start at the packet's IP header.
    TransportReceiveNotAtIpHeader(usize),
    /// A network injection (`FwpsInjectNetwork*Async0`) of a packet from an IP packet layer
    /// whose NBL does not begin at the packet's IP header (the functions' pages: "must begin
    /// with an IP header"; inbound the classify's data starts past it).
    NetworkInjectionNotAtIpHeader(usize),
    /// A network injection of an IP packet layer's packet on a handle of the other family
    /// (network injection needs the packet family's AF-specific handle).
    NetworkInjectionWrongFamily(usize),
    /// A network injection of an AH or ESP packet from an IP packet layer: those layers see
    /// IPsec traffic not yet decrypted or verified and are documented as incompatible with IPsec.
    NetworkInjectionOfIpsecPacket(usize),
    /// A network injection into another compartment than the classify's metadata gave.
    NetworkInjectionWrongCompartment {
        /// The NBL.
        nbl: usize,
        /// The classify's compartment.
        expected: u32,
        /// What the injection passed.
        given: u32,
    },
    /// A network receive injection on another interface or sub-interface than the packet
    /// arrived on (the incoming values' INTERFACE_INDEX and SUB_INTERFACE_INDEX).
    NetworkReceiveWrongInterface {
        /// The NBL.
        nbl: usize,
        /// (interface, sub-interface) of the arrival.
        expected: (u32, u32),
        /// What the injection passed.
        given: (u32, u32),
    },
    /// A transport receive injection of an IPv4 packet whose header checksum is not valid.
    InvalidIpv4HeaderChecksum(usize),
    /// Transport receive injection of a packet indicated with
    /// FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED.
    ReceiveInjectionOfAleClassifyRequired(usize),
    /// Transport receive injection of an IPsec-secured packet, or of a tunnel-mode packet not
    /// yet detunneled: the clone would bypass IPsec.
    ReceiveInjectionBypassesIpsec(usize),
    /// A TCP packet injected at a transport layer from inside a classify (the docs require a
    /// DPC, out of band).
    TcpInjectedInsideClassify(usize),
    /// `KeInsertQueueDpc` below DISPATCH_LEVEL inside a classify: the DPC would run at once,
    /// inside the classify.
    DpcWouldRunInsideClassify(usize),
    /// `FwpsGetPacketListSecurityInformation0` with QUERY_IPSEC but neither INBOUND nor
    /// OUTBOUND, or with both.
    BadSecurityQueryFlags(u32),
    // Strictness rules.
    /// `FwpsInjectionHandleDestroy0` from inside a completion of an injection on that handle:
    /// destroy waits for that very completion to return, so a real kernel deadlocks.
    DestroyInsideCompletion(usize),
    /// A reserved flags argument that is not zero, or a reserved pointer that is not null.
    ReservedNotZero(KernelFn),
    /// A classify without FWPS_RIGHT_ACTION_WRITE changed the action other than by vetoing a
    /// permit with FWP_ACTION_BLOCK (FWPS_CLASSIFY_OUT0: without the right, only that veto may
    /// be written). The action written.
    ActionWrittenWithoutRight(u32),
    /// An injection of the NBL the stack indicated to classify (the stack owns it; inject a
    /// clone).
    InjectedIndicatedPacket(KernelFn, usize),
    /// `FwpsInjectForwardAsync0` of an NBL whose NET_BUFFERs do not start with an IP header of
    /// the family given.
    ForwardedNonIp(usize),
    /// `FwpsStreamInjectAsync0` asked to inject more bytes than the NBL chain holds.
    StreamInjectPastData {
        /// The NBL.
        nbl: usize,
        /// `dataLength` passed.
        requested: usize,
        /// Bytes the NBL presents.
        available: usize,
    },
    /// TCP injected at a transport layer from inside classify: it must be queued to a DPC
    /// (out of band).
    TcpInjectedInline(KernelFn),
    /// Paged pool allocated or freed above APC_LEVEL.
    PagedPoolAboveApc {
        /// Which call.
        call: KernelFn,
        /// The caller's IRQL.
        irql: Irql,
    },
    /// `ZwOpenKey` without OBJ_KERNEL_HANDLE in the attributes (a handle user mode could use).
    KeyHandleNotKernel,
    /// `ZwSetValueKey` or `ZwDeleteValueKey` through a key opened without KEY_SET_VALUE.
    KeyWithoutSetValue(KernelFn),
    /// `ZwQueryValueKey` through a key opened without KEY_QUERY_VALUE.
    KeyWithoutQueryValue(KernelFn),
    /// A registry write the simulator does not model (a value of the service key itself): no
    /// status is invented for it.
    UnmodelledRegistryWrite(KernelFn),
    /// A KDPC's memory changed between `KeInitializeDpc` and a queue or run of it: freed (the
    /// allocator poisoned it) or overwritten while the kernel owned it.
    DpcMemoryClobbered(usize),
    // ---- Deferred load ----
    /// `FwpmBfeStateGet0` before any `FwpmBfeStateSubscribeChanges0` (the docs' order).
    BfeStateGetBeforeSubscribe,
    /// `FwpmBfeStateUnsubscribeChanges0` of a handle that is not a live subscription.
    UnknownBfeSubscription(usize),
    /// `FwpmBfeStateUnsubscribeChanges0` from the subscription's own callback (a deadlock).
    UnsubscribeFromBfeCallback,
    /// A work item call on something that is not a live work item.
    UnknownWorkItem(KernelFn, usize),
    /// `IoQueueWorkItem` of a work item that is already queued.
    WorkItemQueuedTwice(usize),
    /// `IoFreeWorkItem` of a queued work item.
    FreeOfQueuedWorkItem(usize),
    /// `IoQueueWorkItem` with another queue than DelayedWorkQueue.
    WorkQueueNotDelayed(i32),
    // ---- A second injector ----
    /// One packet delivered at a layer was injected this many times (by every injector
    /// together) and was still being reinjected when the simulation stopped re-delivering it:
    /// two injectors reinject each other's packets without end (the HLK PacketInjection
    /// requirement forbids more than two reinjections per layer by one firewall).
    ReinjectionLoop(usize),
    // ---- Power transitions ----
    /// `ExCreateCallback` asked to create a system-defined callback object (the docs: a driver
    /// should not), or to open a name that is not one the simulator knows.
    CallbackObjectMisused(String),
    /// `ExRegisterCallback` with an object the driver holds no reference on.
    RegisterOnUnreferencedObject(usize),
    /// `ExUnregisterCallback` of something that is not a live registration (twice, or never
    /// registered).
    UnknownCallbackRegistration(usize),
    /// `ExUnregisterCallback` from the registered routine itself (it would wait for itself).
    UnregisterFromOwnCallback,
    /// `ObfDereferenceObject` of an object the driver holds no reference on.
    DereferenceWithoutReference(usize),
    /// The last reference on the callback object given back while a registration on it is
    /// still live.
    DereferenceBeforeUnregister,
    /// The system went to sleep with the driver's injections accepted and not completed (or
    /// their DPCs queued), though each completed promptly: the driver did not wait for them when
    /// `\Callback\PowerState` announced the sleep. A project invariant (the HLK's "no pended
    /// packets blocking a transition"), not a kernel rule: on a real machine a completion held
    /// below may come only after the set-power IRPs, which the routine cannot wait for.
    InjectionInFlightAcrossSleep(usize),
    // ---- Cache-aware rundown protection ----
    /// A cache-aware rundown call broke the docs' rules: which call, what, and the block (or
    /// the pool type).
    CacheAwareRundownMisused(KernelFn, &'static str, usize),
}

/// What the simulated handle table knows of one handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandleRecord {
    /// The raw handle value.
    pub raw: usize,
    /// `ADDRESS_FAMILY` it was created with.
    pub family: u16,
    /// Injection type flags it was created with.
    pub flags: u32,
    /// Destroyed (kept in the table so that a second destroy is caught).
    pub destroyed: bool,
    /// Destroy has begun: new injections get STATUS_FWP_INJECT_HANDLE_CLOSING.
    pub closing: bool,
}

#[derive(Debug)]
struct PlannedFailure {
    call: KernelFn,
    /// Calls of this kind to let through first.
    skip: u32,
    status: NtStatus,
}

/// When WFP completes an accepted injection: later (the test completes it), or synchronously
/// inside the inject call, as WFP may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncCompletions {
    /// Every injection stays pending until the test completes it.
    #[default]
    Never,
    /// Every accepted injection completes (with success) before the inject call returns.
    Always,
    /// Each accepted injection completes synchronously or not, by a pseudo-random choice from
    /// this seed (reproducible).
    Random(u64),
}

/// A test's action to run once, on the calling thread, when the driver next makes a call
/// ([`SimulatedStack::before_next`]).
/// The action of [`BeforeNext`].
pub(super) type Action = Box<dyn FnOnce(&SimulatedStack) + Send>;

#[derive(Default)]
pub(super) struct BeforeNext(pub(super) Option<(KernelFn, Action)>);

impl core::fmt::Debug for BeforeNext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("BeforeNext")
            .field(&self.0.as_ref().map(|(call, _)| call))
            .finish()
    }
}

#[derive(Debug, Default)]
pub(super) struct State {
    /// A test's action before the next call of one function.
    pub(super) before_next: BeforeNext,
    pub(super) sync_completions: SyncCompletions,
    /// xorshift state for [`SyncCompletions::Random`].
    pub(super) sync_rng: u64,
    /// (thread, injection handle) of each completion running now.
    pub(super) completing: Vec<(ThreadId, usize)>,
    /// Threads inside a callout's classify, with the packet's IP protocol when known.
    pub(super) classifying: HashMap<ThreadId, Option<u8>>,
    pub(super) handles: BTreeMap<usize, HandleRecord>,
    pub(super) next_handle: usize,
    pub(super) not_ready_creates: u32,
    planned: Vec<PlannedFailure>,
    pub(super) calls: BTreeMap<KernelFn, u64>,
    irql: HashMap<ThreadId, Irql>,
    pub(super) clock: Duration,
    /// Reads of KeQueryUnbiasedInterruptTime so far.
    pub(super) interrupt_time_reads: u64,
    /// References on kernel objects taken with ObfReferenceObject (counting the creator's one).
    pub(super) references: BTreeMap<usize, usize>,
    pub(super) sleeps: Vec<Duration>,
    pub(super) violations: Vec<Violation>,
    pub(super) packets: super::packets::PacketTable,
    pub(super) dpcs: super::dpc::DpcTable,
    pub(super) engine: super::engine::EngineTable,
    pub(super) registry: super::registry::Registry,
    pub(super) services: super::services::Services,
    // The simulated wdfldr.sys and KMDF objects.
    pub(super) kmdf: super::kmdf::KmdfTable,
    pub(super) log: Vec<(u32, u32, String)>,
    // The IRQL the engine classifies at (threads inside a classify: `classifying`).
    pub(super) classify_irql: Option<Irql>,
    // Deferred load: BFE state, TCP/IP ready time, work items.
    pub(super) boot: super::boot::Boot,
    // Another driver's injecting callout, when a test installed one.
    pub(super) other_injector: Option<super::other_injector::OtherInjector>,
    // Power transitions: the \Callback\PowerState object, its registrations, sleep.
    pub(super) power: super::power::PowerModel,
    // Active processors and which one each thread runs on.
    pub(super) processors: super::processors::Processors,
    // Cache-aware rundown blocks.
    pub(super) cache_aware: super::cache_aware_rundown::CacheAwareRundowns,
}

/// How long a kernel wait may block in the simulation before it is declared a hang.
pub(super) const HANG_LIMIT: Duration = Duration::from_secs(5);

std::thread_local! {
    /// The call the prologue let through on this thread and its semantics have not yet counted.
    static ENTERED: core::cell::Cell<Option<KernelFn>> = const { core::cell::Cell::new(None) };
}

/// Handle values start here and step by 16, never reused, so a stale value is always caught.
pub(super) const FIRST_HANDLE: usize = 0x1000;
pub(super) const HANDLE_STEP: usize = 0x10;

impl State {
    /// Records the misuse `violation`; the call answers it with STATUS_INVALID_PARAMETER.
    pub(super) fn misuse(&mut self, violation: Violation) -> crate::sys::types::NTSTATUS {
        self.violations.push(violation);
        NtStatus::INVALID_PARAMETER.0
    }

    /// Counts the call, then checks its IRQL and planned failures. `Some(status)` means the call
    /// fails with that status and has no other effect.
    pub(super) fn enter(&mut self, call: KernelFn) -> Option<NtStatus> {
        *self.calls.entry(call).or_default() += 1;
        self.check(call)
    }

    /// [`Self::enter`] without the count: the IRQL gate and planned failures.
    pub(super) fn check(&mut self, call: KernelFn) -> Option<NtStatus> {
        let irql = self.irql_of_current_thread();
        if call.max_irql().is_some_and(|allowed| irql > allowed) {
            self.violations.push(Violation::WrongIrql { call, irql });
            return Some(NtStatus::INVALID_DEVICE_STATE);
        }
        let due = self
            .planned
            .iter()
            .position(|planned| planned.call == call && planned.skip == 0);
        for planned in self.planned.iter_mut().filter(|p| p.call == call) {
            planned.skip = planned.skip.saturating_sub(1);
        }
        due.map(|index| self.planned.remove(index).status)
    }

    /// True while the calling thread is inside a callout's classify.
    pub(super) fn in_classify(&self) -> bool {
        self.classifying.contains_key(&thread::current().id())
    }

    /// Decides whether the injection just accepted completes inside the inject call.
    pub(super) fn complete_synchronously(&mut self) -> bool {
        match self.sync_completions {
            SyncCompletions::Never => false,
            SyncCompletions::Always => true,
            SyncCompletions::Random(_) => {
                // xorshift64: a fixed, reproducible sequence per seed.
                let mut x = self.sync_rng;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.sync_rng = x;
                x & 1 == 1
            }
        }
    }

    /// Whether the calling thread is running a completion of an injection on `handle`.
    pub(super) fn completing_on(&self, handle: usize) -> bool {
        let me = thread::current().id();
        self.completing.iter().any(|&(t, h)| t == me && h == handle)
    }

    pub(super) fn irql_of_current_thread(&self) -> Irql {
        self.irql
            .get(&thread::current().id())
            .copied()
            .unwrap_or(Irql::PASSIVE)
    }
}

/// An independent simulated WFP stack. See the [crate docs](crate).
#[derive(Debug)]
pub struct SimulatedStack {
    pub(super) state: Mutex<State>,
    /// Signalled whenever an injection completes or a rundown reference is released.
    pub(super) changed: Condvar,
}

impl Default for SimulatedStack {
    fn default() -> Self {
        Self::new()
    }
}

impl SimulatedStack {
    /// A stack that is ready, empty, at virtual time zero, with every thread at PASSIVE_LEVEL.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                next_handle: FIRST_HANDLE,
                ..State::default()
            }),
            changed: Condvar::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock still leaves consistent data behind.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A call the prologue let through is counted in its semantics' first critical section,
        // so a test that sees the count also sees the call's first effect.
        if let Some(call) = ENTERED.take() {
            *state.calls.entry(call).or_default() += 1;
        }
        state
    }

    /// Marks `call` as let through by the prologue: counted at the next lock on this thread.
    pub(super) fn defer_count(&self, call: KernelFn) {
        if let Some(earlier) = ENTERED.replace(Some(call)) {
            // Nested before its semantics locked (a callback into the driver): count it now.
            *self.lock().calls.entry(earlier).or_default() += 1;
        }
    }

    /// Counts a call whose semantics never took the lock.
    pub(super) fn settle_count(&self) {
        if ENTERED.get().is_some() {
            drop(self.lock());
        }
    }

    /// The next `creates` handle creations answer STATUS_FWP_TCPIP_NOT_READY.
    pub fn set_tcpip_not_ready_for(&self, creates: u32) {
        self.lock().not_ready_creates = creates;
    }

    /// After letting `skip` calls of kind `call` through, the next one fails with `status` and has
    /// no effect. Several plans may be pending at once.
    ///
    /// Panics for a call that cannot fail in the kernel ([`can_fail`] is false): a plan
    /// that silently did nothing would test nothing.
    pub fn fail_call(&self, call: KernelFn, skip: u32, status: NtStatus) {
        assert!(
            can_fail(call),
            "{call:?} cannot fail in the kernel (it returns VOID or a state, not a status): \
             a planned failure of it is meaningless"
        );
        self.lock()
            .planned
            .push(PlannedFailure { call, skip, status });
    }

    /// When accepted injections complete: see [`SyncCompletions`].
    pub fn set_sync_completions(&self, mode: SyncCompletions) {
        let mut state = self.lock();
        state.sync_completions = mode;
        // xorshift must not start at zero.
        state.sync_rng = match mode {
            SyncCompletions::Random(seed) => seed | 1,
            _ => 0,
        };
    }

    /// Runs `f` on this thread as a callout's classify runs: at DISPATCH_LEVEL, with the
    /// simulator knowing a classify is in progress (for the rules that depend on it, such as TCP
    /// transport injection having to come from a DPC). `protocol` is the packet's IP protocol.
    pub fn run_as_classify<T>(&self, protocol: Option<u8>, f: impl FnOnce() -> T) -> T {
        self.run_as_classify_at(Irql::DISPATCH, protocol, f)
    }

    /// [`run_as_classify`](Self::run_as_classify) at `irql` (WFP calls classify at or below
    /// DISPATCH_LEVEL).
    pub fn run_as_classify_at<T>(
        &self,
        irql: Irql,
        protocol: Option<u8>,
        f: impl FnOnce() -> T,
    ) -> T {
        let me = thread::current().id();
        let previous = self.lock().classifying.insert(me, protocol);
        let classifying = super::processors::Classifying::on(self);
        let result = self.at_irql(irql, f);
        drop(classifying);
        let mut state = self.lock();
        match previous {
            Some(previous) => state.classifying.insert(me, previous),
            None => state.classifying.remove(&me),
        };
        result
    }

    /// Runs the calling thread at `irql` until the guard drops.
    pub fn set_irql(&self, irql: Irql) -> IrqlGuard<'_> {
        let thread = thread::current().id();
        let previous = self.lock().irql.insert(thread, irql);
        IrqlGuard {
            stack: self,
            thread,
            previous,
        }
    }

    /// How many times `call` was made.
    pub fn calls(&self, call: KernelFn) -> u64 {
        self.lock().calls.get(&call).copied().unwrap_or(0)
    }

    /// Handles created and not destroyed.
    pub fn open_handles(&self) -> Vec<HandleRecord> {
        let state = self.lock();
        state
            .handles
            .values()
            .filter(|h| !h.destroyed)
            .copied()
            .collect()
    }

    /// Every handle ever created, destroyed ones included.
    pub fn all_handles(&self) -> Vec<HandleRecord> {
        self.lock().handles.values().copied().collect()
    }

    /// References held on the kernel object at `object`: 1 (its creator's) unless someone took
    /// more with ObfReferenceObject.
    pub fn object_references(&self, object: *const core::ffi::c_void) -> usize {
        self.lock()
            .references
            .get(&(object as usize))
            .copied()
            .unwrap_or(1)
    }

    /// Virtual time slept so far.
    pub fn virtual_time(&self) -> Duration {
        self.lock().clock
    }

    /// Each wait, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// Rules broken so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.lock().violations.clone()
    }

    /// Returns and forgets the rules broken so far (for tests that break them on purpose).
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut self.lock().violations)
    }

    /// Panics, describing what is wrong, if a handle is open or a rule was broken.
    pub fn assert_clean(&self) {
        if let Some(report) = self.dirty_report() {
            panic!("simulated WFP stack is not clean: {report}");
        }
    }

    fn dirty_report(&self) -> Option<String> {
        let open = self.open_handles();
        let violations = self.violations();
        let state = self.lock();
        let planned = state.planned.len();
        let leaks = state.packets.leak_report();
        let queued_dpcs = state.dpcs.queued_count();
        let engine = state.engine.leak_report();
        let keys = state.registry.open_key_count();
        let services = state.services.leak_report();
        let kmdf = state.kmdf.leak_report();
        let boot = state.boot.leak_report();
        let power = state.power.leak_report();
        let cache_aware = state.cache_aware.leak_report();
        drop(state);
        let services = match (services, boot, power, cache_aware) {
            (None, None, None, None) => None,
            (one, other, third, fourth) => Some(
                [one, other, third, fourth]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };
        if open.is_empty()
            && violations.is_empty()
            && leaks.is_none()
            && queued_dpcs == 0
            && engine.is_none()
            && keys == 0
            && services.is_none()
            && kmdf.is_none()
        {
            return None;
        }
        Some(format!(
            "{} open handle(s) {:x?}; violations {:?}; packets: {}; {} DPC(s) still queued; \
             WFP engine: {}; {} registry key(s) open; {}; KMDF: {}; {} planned failure(s) unused",
            open.len(),
            open.iter().map(|h| h.raw).collect::<Vec<_>>(),
            violations,
            leaks.unwrap_or_else(|| "none left".into()),
            queued_dpcs,
            engine.unwrap_or_else(|| "empty".into()),
            keys,
            services.unwrap_or_else(|| "no pool block or device left".into()),
            kmdf.unwrap_or_else(|| "nothing left".into()),
            planned
        ))
    }

    /// Waits on the stack's condition until `done` holds or the hang limit passes; records a
    /// [`Violation::WaitWouldHang`] for `call` in the second case.
    pub(super) fn wait_until(&self, call: KernelFn, mut done: impl FnMut(&mut State) -> bool) {
        let deadline = std::time::Instant::now() + HANG_LIMIT;
        let mut state = self.lock();
        while !done(&mut state) {
            let now = std::time::Instant::now();
            if now >= deadline {
                state.violations.push(Violation::WaitWouldHang(call));
                return;
            }
            state = self
                .changed
                .wait_timeout(state, (deadline - now).min(Duration::from_millis(5)))
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
    }

    /// Runs `f` on this thread at `irql`, restoring the previous level afterwards.
    pub(super) fn at_irql<T>(&self, irql: Irql, f: impl FnOnce() -> T) -> T {
        let _guard = self.set_irql(irql);
        f()
    }
}

impl Drop for SimulatedStack {
    /// A test that forgets `assert_clean` still fails on a leak, unless it is already failing.
    fn drop(&mut self) {
        if !thread::panicking() {
            self.assert_clean();
        }
    }
}

/// Whether the kernel function can fail at all: a function that returns nothing (VOID in the
/// docs) cannot, nor one whose answer is not a status: `KeGetCurrentIrql`,
/// `KeQueryUnbiasedInterruptTime`, `KeBugCheckEx` (never returns), the processor count and number, and
/// `FwpsQueryPacketInjectionState0` (an FWPS_PACKET_INJECTION_STATE). None of these can be
/// planned to fail. Which functions return something comes from the declaration list.
pub fn can_fail(call: KernelFn) -> bool {
    crate::kernel_api::returns_a_value(call)
        && !matches!(
            call,
            KernelFn::KeGetCurrentIrql
                | KernelFn::KeQueryUnbiasedInterruptTime
                | KernelFn::KeBugCheckEx
                | KernelFn::FwpsQueryPacketInjectionState0
                | KernelFn::KeQueryActiveProcessorCountEx
                | KernelFn::KeGetCurrentProcessorNumberEx
        )
}

/// Restores the thread's previous IRQL when dropped.
#[must_use = "the IRQL reverts when the guard drops"]
pub struct IrqlGuard<'a> {
    stack: &'a SimulatedStack,
    thread: ThreadId,
    previous: Option<Irql>,
}

impl Drop for IrqlGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.stack.lock();
        match self.previous {
            Some(previous) => state.irql.insert(self.thread, previous),
            None => state.irql.remove(&self.thread),
        };
    }
}
