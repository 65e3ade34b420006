//! The filter engine in the simulated stack: sessions, transactions, WFP objects keyed by GUID,
//! callout registration, and classify calls into registered callouts.

use core::ffi::c_void;
use std::collections::BTreeMap;
use std::format;
use std::string::String;
use std::vec::Vec;

use super::layout::{RawBlock, classify_out, filter as filter_layout};
use super::stack::{SimulatedStack, State, Violation};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelFn;
use crate::sys::types::{
    DEVICE_OBJECT, FWPM_CALLOUT0, FWPM_FILTER0, FWPM_PROVIDER0, FWPM_SESSION0, FWPM_SUBLAYER0,
    FWPS_CALLOUT_CLASSIFY_FN1, FWPS_CALLOUT1, GUID, HANDLE, NET_BUFFER_LIST, NTSTATUS,
};

/// STATUS_FWP_* codes the engine answers with (ntstatus.h: FWP_E_* with the 0xC022 facility).
pub(super) mod status {
    use crate::nt::NtStatus;
    pub const CALLOUT_NOT_FOUND: NtStatus = NtStatus(0xC022_0001_u32 as i32);
    pub const FILTER_NOT_FOUND: NtStatus = NtStatus(0xC022_0003_u32 as i32);
    pub const PROVIDER_NOT_FOUND: NtStatus = NtStatus(0xC022_0005_u32 as i32);
    pub const SUBLAYER_NOT_FOUND: NtStatus = NtStatus(0xC022_0007_u32 as i32);
    pub const ALREADY_EXISTS: NtStatus = NtStatus(0xC022_0009_u32 as i32);
    pub const IN_USE: NtStatus = NtStatus(0xC022_000A_u32 as i32);
    pub const NO_TXN_IN_PROGRESS: NtStatus = NtStatus(0xC022_000D_u32 as i32);
    pub const TXN_IN_PROGRESS: NtStatus = NtStatus(0xC022_000E_u32 as i32);
    pub const SESSION_ABORTED: NtStatus = NtStatus(0xC022_0010_u32 as i32);
}

/// The session that added an object, when that session is dynamic: BFE deletes the object when
/// the session closes.
type DynamicOwner = Option<usize>;

#[derive(Debug, Clone)]
struct Provider {
    owner: DynamicOwner,
    /// `displayData.name` and `displayData.description` (None: null).
    display: (Option<String>, Option<String>),
}

#[derive(Debug, Clone)]
struct SubLayer {
    provider: Option<GUID>,
    owner: DynamicOwner,
    /// `FWPM_SUBLAYER0.weight`: higher-weighted sublayers are evaluated first.
    weight: u16,
}

#[derive(Debug, Clone)]
struct Callout {
    provider: Option<GUID>,
    layer: GUID,
    owner: DynamicOwner,
}

/// A filter condition's value, as the simulator keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionValue {
    /// FWP_UINT8.
    U8(u8),
    /// FWP_UINT16.
    U16(u16),
    /// FWP_UINT32 (IPv4 addresses in host order).
    U32(u32),
    /// FWP_BYTE_ARRAY16_TYPE (IPv6 addresses).
    Bytes16([u8; 16]),
}

/// A filter condition (FWPM_FILTER_CONDITION0) with FWP_MATCH_EQUAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterCondition {
    /// `FWPM_CONDITION_*` field key.
    pub field: GUID,
    /// The value the field must equal.
    pub value: ConditionValue,
}

/// `FWPM_CONDITION_IP_PROTOCOL` (the simulator's own copy; the facts test pins it).
pub const CONDITION_IP_PROTOCOL: GUID = GUID {
    Data1: 0x3971_ef2b,
    Data2: 0x623e,
    Data3: 0x4f9a,
    Data4: [0x8c, 0xb1, 0x6e, 0x79, 0xb8, 0x06, 0xb9, 0xa7],
};
/// `FWPM_CONDITION_IP_REMOTE_ADDRESS`.
pub const CONDITION_IP_REMOTE_ADDRESS: GUID = GUID {
    Data1: 0xb235_ae9a,
    Data2: 0x1d64,
    Data3: 0x49b8,
    Data4: [0xa4, 0x4c, 0x5f, 0xf3, 0xd9, 0x09, 0x50, 0x45],
};
/// `FWPM_CONDITION_IP_REMOTE_PORT`.
pub const CONDITION_IP_REMOTE_PORT: GUID = GUID {
    Data1: 0xc35a_604d,
    Data2: 0xd22b,
    Data3: 0x4e1a,
    Data4: [0x91, 0xb4, 0x68, 0xf6, 0x74, 0xee, 0x67, 0x4b],
};
/// `FWPM_SESSION_FLAG_DYNAMIC`.
pub const SESSION_FLAG_DYNAMIC: u32 = 0x1;
/// `FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED`.
pub const FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED: u32 = 0x10;
use super::layout::action::{
    BLOCK as FWP_ACTION_BLOCK, CALLOUT_TERMINATING as FWP_ACTION_CALLOUT_TERMINATING,
    FLAG_TERMINATING, PERMIT as ACTION_PERMIT,
};

/// What a packet presents to filter conditions.
#[derive(Debug, Clone, Copy)]
pub struct ConditionInput {
    /// IP protocol.
    pub protocol: u8,
    /// Remote address: IPv4 as a host-order integer, IPv6 bytes.
    pub remote_address: ConditionValue,
    /// Remote port (the ICMP code for ICMP).
    pub remote_port: u16,
    /// Presented at an IP packet layer, which has no protocol or port field
    /// (FWPS_FIELDS_*_IPPACKET_V4/V6): a condition on either matches nothing there.
    pub ip_packet_layer: bool,
}

impl ConditionInput {
    fn field(&self, key: &GUID) -> Option<ConditionValue> {
        if *key == CONDITION_IP_PROTOCOL {
            (!self.ip_packet_layer).then_some(ConditionValue::U8(self.protocol))
        } else if *key == CONDITION_IP_REMOTE_ADDRESS {
            Some(self.remote_address)
        } else if *key == CONDITION_IP_REMOTE_PORT {
            (!self.ip_packet_layer).then_some(ConditionValue::U16(self.remote_port))
        } else {
            None
        }
    }

    /// WFP's rule (FWPM_FILTER0, filterCondition): consecutive conditions on the same field are
    /// ORed; everything else is ANDed.
    fn matches(&self, conditions: &[FilterCondition]) -> bool {
        conditions.chunk_by(|a, b| a.field == b.field).all(|run| {
            let value = self.field(&run[0].field);
            run.iter().any(|condition| value == Some(condition.value))
        })
    }
}

#[derive(Debug, Clone)]
struct Filter {
    provider: Option<GUID>,
    layer: GUID,
    sublayer: GUID,
    action: u32,
    callout: GUID,
    raw_context: u64,
    id: u64,
    flags: u32,
    conditions: Vec<FilterCondition>,
    owner: DynamicOwner,
}

#[derive(Debug, Clone)]
enum Undo {
    Provider(GUID, Option<Provider>),
    SubLayer(GUID, Option<SubLayer>),
    Callout(GUID, Option<Callout>),
    Filter(GUID, Option<Filter>),
}

#[derive(Debug, Default)]
struct Session {
    transaction: Option<Vec<Undo>>,
    dynamic: bool,
}

#[derive(Debug, Clone, Copy)]
struct Registration {
    key: GUID,
    classify: FWPS_CALLOUT_CLASSIFY_FN1,
    /// Classifies running in this callout now: WFP holds a reference, and unregistering answers
    /// STATUS_DEVICE_BUSY.
    active: u32,
}

#[derive(Debug, Default)]
pub(super) struct EngineTable {
    sessions: BTreeMap<usize, Session>,
    next_session: usize,
    providers: BTreeMap<GUID, Provider>,
    sublayers: BTreeMap<GUID, SubLayer>,
    callouts: BTreeMap<GUID, Callout>,
    filters: BTreeMap<GUID, Filter>,
    /// While a transaction is open: the filters as the last commit left them, which is what
    /// classification sees (WFP transactions are atomic and isolated: facts row
    /// wfp-transactions-acid).
    committed_filters: Option<BTreeMap<GUID, Filter>>,
    registered: BTreeMap<u32, Registration>,
    next_callout_id: u32,
    next_filter_id: u64,
    /// Unregister calls still to answer STATUS_DEVICE_BUSY (a test's plan: something else
    /// holds the callout).
    busy_unregisters: u32,
    /// Sessions BFE dropped when it stopped: closing one later is not a misuse (the driver
    /// cannot know), it just fails.
    dead_sessions: std::collections::BTreeSet<usize>,
    /// Real time each classify takes before the callout runs (a slow processor), so tests can
    /// widen the window in which a classify overlaps unload.
    classify_delay: std::time::Duration,
    /// Real time each FwpsAllocateCloneNetBufferList0 takes: a classify that clones stays inside
    /// the driver that long.
    clone_delay: std::time::Duration,
    /// Whether unregistering a callout answers STATUS_DEVICE_BUSY while one of its classifies
    /// runs. The documentation ties that status only to flow contexts, so a driver must also
    /// survive a successful unregister with a classify still running: tests turn this off.
    busy_while_classifying: bool,
}

/// Counts of what the engine holds, for assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WfpObjects {
    /// Open engine sessions.
    pub sessions: usize,
    /// Providers.
    pub providers: usize,
    /// Sublayers.
    pub sublayers: usize,
    /// FWPM callouts.
    pub callouts: usize,
    /// Filters.
    pub filters: usize,
    /// Registered (FWPS) callouts.
    pub registered_callouts: usize,
}

/// What a classify through the engine decided: the final `FWPS_CLASSIFY_OUT0`, read at the
/// simulator's own offsets.
#[derive(Debug, Clone, Copy)]
pub struct ClassifyResult {
    /// `actionType`.
    pub action: u32,
    /// `flags` (`FWPS_CLASSIFY_OUT_FLAG_*`).
    pub flags: u32,
    /// `rights` (`FWPS_RIGHT_*`).
    pub rights: u32,
    /// How many callouts were called.
    pub callouts_called: usize,
}

impl State {
    pub(super) fn engine_clone_delay(&self) -> std::time::Duration {
        self.engine.clone_delay
    }
}

impl EngineTable {
    /// BFE stopped: every session ends and every object goes (none is persistent here);
    /// callout registrations belong to the kernel filter engine and stay.
    pub(super) fn bfe_stopped(&mut self) {
        let handles: Vec<usize> = self.sessions.keys().copied().collect();
        self.dead_sessions.extend(handles);
        self.sessions.clear();
        self.filters.clear();
        self.committed_filters = None;
        self.callouts.clear();
        self.sublayers.clear();
        self.providers.clear();
    }

    pub(super) fn leak_report(&self) -> Option<String> {
        let objects = self.objects();
        if !self.dead_sessions.is_empty() {
            // The driver never closed a handle of a session BFE ended (a client-side leak).
            return Some(format!(
                "{objects:?} left; {} handle(s) of sessions BFE ended never closed",
                self.dead_sessions.len()
            ));
        }
        (objects != WfpObjects::default()).then(|| format!("{objects:?} left"))
    }

    fn objects(&self) -> WfpObjects {
        WfpObjects {
            sessions: self.sessions.len(),
            providers: self.providers.len(),
            sublayers: self.sublayers.len(),
            callouts: self.callouts.len(),
            filters: self.filters.len(),
            registered_callouts: self.registered.len(),
        }
    }

    fn undo(&mut self, undo: Undo) {
        fn put<T>(map: &mut BTreeMap<GUID, T>, key: GUID, value: Option<T>) {
            match value {
                Some(value) => map.insert(key, value),
                None => map.remove(&key),
            };
        }
        match undo {
            Undo::Provider(key, value) => put(&mut self.providers, key, value),
            Undo::SubLayer(key, value) => put(&mut self.sublayers, key, value),
            Undo::Callout(key, value) => put(&mut self.callouts, key, value),
            Undo::Filter(key, value) => put(&mut self.filters, key, value),
        }
    }

    /// The owner objects added by `session` get: the session if it is dynamic.
    fn owner(&self, session: usize) -> DynamicOwner {
        self.sessions
            .get(&session)
            .is_some_and(|s| s.dynamic)
            .then_some(session)
    }

    /// A transaction was committed or aborted: once none is open, classification sees the
    /// filters as they are.
    fn transaction_ended(&mut self) {
        if self.sessions.values().all(|s| s.transaction.is_none()) {
            self.committed_filters = None;
        }
    }

    fn record(&mut self, session: usize, undo: Undo) {
        if let Some(Some(log)) = self
            .sessions
            .get_mut(&session)
            .map(|s| s.transaction.as_mut())
        {
            log.push(undo);
        }
    }
}

/// Reads a filter's conditions as BFE copies them: FWP_MATCH_EQUAL on UINT8, UINT16, UINT32 or
/// a 16-byte array. `None` for anything else (the simulator models only what drivers here use).
///
/// # Safety
/// `filter.filterCondition` points to `numFilterConditions` readable conditions, and a
/// BYTE_ARRAY16 value to 16 readable bytes.
unsafe fn read_conditions(filter: &FWPM_FILTER0) -> Option<Vec<FilterCondition>> {
    let count = filter.numFilterConditions as usize;
    if count == 0 {
        return Some(Vec::new());
    }
    if filter.filterCondition.is_null() {
        return None;
    }
    // SAFETY: the caller's contract.
    let raw = unsafe { std::slice::from_raw_parts(filter.filterCondition, count) };
    raw.iter()
        .map(|condition| {
            if condition.matchType != 0 {
                return None;
            }
            let union = condition.conditionValue.value;
            let value = match condition.conditionValue.r#type {
                1 => ConditionValue::U8(union as u8),
                2 => ConditionValue::U16(union as u16),
                3 => ConditionValue::U32(union as u32),
                11 if union != 0 => {
                    // SAFETY: the caller's contract: a BYTE_ARRAY16 points to 16 bytes.
                    ConditionValue::Bytes16(unsafe { (union as *const [u8; 16]).read_unaligned() })
                }
                _ => return None,
            };
            Some(FilterCondition {
                field: condition.fieldKey,
                value,
            })
        })
        .collect()
}

fn optional_key(key: *const GUID) -> Option<GUID> {
    // SAFETY: the kernel contract: a non-null key pointer is readable.
    (!key.is_null()).then(|| unsafe { key.read() })
}

impl SimulatedStack {
    /// Each provider in the engine: its key, `displayData.name` and `displayData.description`
    /// (None: null), as tools such as `netsh wfp show state` list them.
    pub fn providers(&self) -> Vec<(GUID, Option<String>, Option<String>)> {
        let state = self.lock();
        state
            .engine
            .providers
            .iter()
            .map(|(key, provider)| (*key, provider.display.0.clone(), provider.display.1.clone()))
            .collect()
    }

    /// The provider key each sublayer, callout and filter was added with (None: none), by kind
    /// and key: what HLK's FwpmProviders.AssociateWithObjects looks at.
    pub fn object_providers(&self) -> Vec<(&'static str, GUID, Option<GUID>)> {
        let state = self.lock();
        let table = &state.engine;
        let sublayers = table
            .sublayers
            .iter()
            .map(|(k, o)| ("sublayer", *k, o.provider));
        let callouts = table
            .callouts
            .iter()
            .map(|(k, o)| ("callout", *k, o.provider));
        let filters = table
            .filters
            .iter()
            .map(|(k, o)| ("filter", *k, o.provider));
        sublayers.chain(callouts).chain(filters).collect()
    }

    /// What the filter engine holds now.
    pub fn wfp_objects(&self) -> WfpObjects {
        self.lock().engine.objects()
    }

    /// The engine forgets every session and callout registration but keeps its objects, as BFE
    /// does when a driver disappears without cleaning up (a crash, then a restart of the driver).
    /// Injection handles and packets are not touched; cache-aware rundown blocks are dropped.
    pub fn forget_driver_state(&self) {
        let mut state = self.lock();
        state.engine.sessions.clear();
        state.engine.committed_filters = None;
        state.engine.registered.clear();
        // Deferred load: the driver's BFE subscription and work item went with it.
        state.boot.forget_driver();
        state.power.forget_driver();
        // Its cache-aware rundown blocks went with it too (pool of a vanished driver).
        state.cache_aware.forget_driver();
    }

    /// Checks the engine handle; `Some(status)` ends the call.
    fn engine_check(state: &mut State, call: KernelFn, engine: HANDLE) -> Option<NtStatus> {
        if state.engine.dead_sessions.contains(&(engine as usize)) {
            // A session BFE ended (it stopped): the call fails, but using the handle is no
            // misuse, the driver may not have heard of the stop yet (facts: dead-session-fails).
            return Some(status::SESSION_ABORTED);
        }
        if !state.engine.sessions.contains_key(&(engine as usize)) {
            state
                .violations
                .push(Violation::StaleEngineHandle(call, engine as usize));
            return Some(NtStatus::INVALID_HANDLE);
        }
        None
    }

    pub(super) fn engine_open(
        &self,
        session: *const FWPM_SESSION0,
        engine: *mut HANDLE,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if engine.is_null() {
            return state.misuse(Violation::NullPointer(KernelFn::FwpmEngineOpen0));
        }
        // Deferred load: no session while BFE is not running.
        if state.boot.bfe != super::boot::bfe_state::RUNNING {
            return super::boot::ENGINE_NOT_RUNNING.0;
        }
        // SAFETY: the seam's contract: a non-null session is readable.
        let dynamic = !session.is_null() && unsafe { (*session).flags } & SESSION_FLAG_DYNAMIC != 0;
        state.engine.next_session += 1;
        let handle = 0xE000 + state.engine.next_session * 0x10;
        state.engine.sessions.insert(
            handle,
            Session {
                transaction: None,
                dynamic,
            },
        );
        // SAFETY: the seam's contract: `engine` is writable; null was refused above.
        unsafe { engine.write(handle as HANDLE) };
        NtStatus::SUCCESS.0
    }

    #[allow(non_snake_case)] // the semantics of FwpmEngineClose0
    pub(super) fn FwpmEngineClose0(&self, engine: HANDLE) -> NTSTATUS {
        let mut state = self.lock();
        if state.engine.dead_sessions.contains(&(engine as usize)) {
            state.engine.dead_sessions.remove(&(engine as usize));
            // BFE stopped since the session was opened: the handle names nothing any more
            // (RPC_NT_SERVER_UNAVAILABLE: the simulator's choice of failure).
            return 0xC002_0017_u32 as i32;
        }
        if let Some(status) = Self::engine_check(&mut state, KernelFn::FwpmEngineClose0, engine) {
            return status.0;
        }
        // Closing with a transaction open aborts it.
        let session = state.engine.sessions.remove(&(engine as usize));
        if let Some(Some(log)) = session.as_ref().map(|s| s.transaction.clone()) {
            for undo in log.into_iter().rev() {
                state.engine.undo(undo);
            }
            state.engine.transaction_ended();
        }
        if session.is_some_and(|s| s.dynamic) {
            let owner = Some(engine as usize);
            let table = &mut state.engine;
            table.filters.retain(|_, f| f.owner != owner);
            table.callouts.retain(|_, c| c.owner != owner);
            table.sublayers.retain(|_, s| s.owner != owner);
            table.providers.retain(|_, p| p.owner != owner);
        }
        NtStatus::SUCCESS.0
    }

    pub(super) fn transaction(&self, call: KernelFn, engine: HANDLE) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_check(&mut state, call, engine) {
            return status.0;
        }
        let session = state
            .engine
            .sessions
            .get_mut(&(engine as usize))
            .expect("checked");
        match (call, session.transaction.take()) {
            (KernelFn::FwpmTransactionBegin0, Some(log)) => {
                session.transaction = Some(log);
                status::TXN_IN_PROGRESS.0
            }
            (KernelFn::FwpmTransactionBegin0, None) => {
                session.transaction = Some(Vec::new());
                let table = &mut state.engine;
                if table.committed_filters.is_none() {
                    table.committed_filters = Some(table.filters.clone());
                }
                NtStatus::SUCCESS.0
            }
            (_, None) => status::NO_TXN_IN_PROGRESS.0,
            (KernelFn::FwpmTransactionCommit0, Some(_)) => {
                state.engine.transaction_ended();
                NtStatus::SUCCESS.0
            }
            (_, Some(log)) => {
                for undo in log.into_iter().rev() {
                    state.engine.undo(undo);
                }
                state.engine.transaction_ended();
                NtStatus::SUCCESS.0
            }
        }
    }

    pub(super) fn provider_add(&self, engine: HANDLE, provider: *const FWPM_PROVIDER0) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_check(&mut state, KernelFn::FwpmProviderAdd0, engine) {
            return status.0;
        }
        // SAFETY: the seam's contract: `provider` is valid.
        let key = unsafe { (*provider).providerKey };
        if state.engine.providers.contains_key(&key) {
            return status::ALREADY_EXISTS.0;
        }
        let owner = state.engine.owner(engine as usize);
        // SAFETY: the seam's contract: `provider` and its display strings are valid.
        let display = unsafe { (*provider).displayData };
        let text = |text: *const u16| {
            // SAFETY: as above: a non-null display string is NUL-terminated.
            (!text.is_null()).then(|| unsafe { super::kmdf::wide_to_string(text) })
        };
        let display = (text(display.name), text(display.description));
        state
            .engine
            .providers
            .insert(key, Provider { owner, display });
        state
            .engine
            .record(engine as usize, Undo::Provider(key, None));
        NtStatus::SUCCESS.0
    }

    pub(super) fn sublayer_add(&self, engine: HANDLE, sublayer: *const FWPM_SUBLAYER0) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_check(&mut state, KernelFn::FwpmSubLayerAdd0, engine) {
            return status.0;
        }
        // SAFETY: the seam's contract: `sublayer` is valid.
        let sublayer = unsafe { sublayer.read() };
        let (key, provider, weight) = (
            sublayer.subLayerKey,
            optional_key(sublayer.providerKey),
            sublayer.weight,
        );
        if provider.is_some_and(|p| !state.engine.providers.contains_key(&p)) {
            return status::PROVIDER_NOT_FOUND.0;
        }
        if state.engine.sublayers.contains_key(&key) {
            return status::ALREADY_EXISTS.0;
        }
        let owner = state.engine.owner(engine as usize);
        state.engine.sublayers.insert(
            key,
            SubLayer {
                provider,
                owner,
                weight,
            },
        );
        state
            .engine
            .record(engine as usize, Undo::SubLayer(key, None));
        NtStatus::SUCCESS.0
    }

    pub(super) fn callout_add(&self, engine: HANDLE, callout: *const FWPM_CALLOUT0) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_check(&mut state, KernelFn::FwpmCalloutAdd0, engine) {
            return status.0;
        }
        // SAFETY: the seam's contract: `callout` is valid.
        let callout = unsafe { callout.read() };
        let (key, provider, layer) = (
            callout.calloutKey,
            optional_key(callout.providerKey),
            callout.applicableLayer,
        );
        if provider.is_some_and(|p| !state.engine.providers.contains_key(&p)) {
            return status::PROVIDER_NOT_FOUND.0;
        }
        if state.engine.callouts.contains_key(&key) {
            return status::ALREADY_EXISTS.0;
        }
        let owner = state.engine.owner(engine as usize);
        state.engine.callouts.insert(
            key,
            Callout {
                provider,
                layer,
                owner,
            },
        );
        state
            .engine
            .record(engine as usize, Undo::Callout(key, None));
        NtStatus::SUCCESS.0
    }

    pub(super) fn filter_add(
        &self,
        engine: HANDLE,
        filter: *const FWPM_FILTER0,
        id: *mut u64,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_check(&mut state, KernelFn::FwpmFilterAdd0, engine) {
            return status.0;
        }
        // SAFETY: the seam's contract: `filter` is valid.
        let filter = unsafe { filter.read() };
        let provider = optional_key(filter.providerKey);
        if provider.is_some_and(|p| !state.engine.providers.contains_key(&p)) {
            return status::PROVIDER_NOT_FOUND.0;
        }
        if !state.engine.sublayers.contains_key(&filter.subLayerKey) {
            return status::SUBLAYER_NOT_FOUND.0;
        }
        if filter.action.r#type == FWP_ACTION_CALLOUT_TERMINATING {
            match state.engine.callouts.get(&filter.action.calloutKey) {
                None => return status::CALLOUT_NOT_FOUND.0,
                Some(callout) if callout.layer != filter.layerKey => {
                    return NtStatus::INVALID_PARAMETER.0;
                }
                Some(_) => {}
            }
        }
        if state.engine.filters.contains_key(&filter.filterKey) {
            return status::ALREADY_EXISTS.0;
        }
        // SAFETY: the seam's contract: the conditions are readable for the call.
        let Some(conditions) = (unsafe { read_conditions(&filter) }) else {
            return NtStatus::INVALID_PARAMETER.0;
        };
        let owner = state.engine.owner(engine as usize);
        state.engine.next_filter_id += 1;
        let filter_id = state.engine.next_filter_id;
        state.engine.filters.insert(
            filter.filterKey,
            Filter {
                provider,
                layer: filter.layerKey,
                sublayer: filter.subLayerKey,
                action: filter.action.r#type,
                callout: filter.action.calloutKey,
                raw_context: filter.rawContext,
                id: filter_id,
                flags: filter.flags,
                conditions,
                owner,
            },
        );
        state
            .engine
            .record(engine as usize, Undo::Filter(filter.filterKey, None));
        if !id.is_null() {
            // SAFETY: the seam's contract: a non-null `id` is writable.
            unsafe { id.write(filter_id) };
        }
        NtStatus::SUCCESS.0
    }

    pub(super) fn object_delete(
        &self,
        call: KernelFn,
        engine: HANDLE,
        key: *const GUID,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_check(&mut state, call, engine) {
            return status.0;
        }
        // SAFETY: the seam's contract: `key` is valid.
        let key = unsafe { key.read() };
        let engine_table = &mut state.engine;
        let undo = match call {
            KernelFn::FwpmProviderDeleteByKey0 => {
                let in_use = engine_table
                    .sublayers
                    .values()
                    .any(|s| s.provider == Some(key))
                    || engine_table
                        .callouts
                        .values()
                        .any(|c| c.provider == Some(key))
                    || engine_table
                        .filters
                        .values()
                        .any(|f| f.provider == Some(key));
                match engine_table.providers.get(&key) {
                    None => return status::PROVIDER_NOT_FOUND.0,
                    Some(_) if in_use => return status::IN_USE.0,
                    Some(_) => Undo::Provider(key, engine_table.providers.remove(&key)),
                }
            }
            KernelFn::FwpmSubLayerDeleteByKey0 => {
                let in_use = engine_table.filters.values().any(|f| f.sublayer == key);
                match engine_table.sublayers.get(&key) {
                    None => return status::SUBLAYER_NOT_FOUND.0,
                    Some(_) if in_use => return status::IN_USE.0,
                    Some(_) => Undo::SubLayer(key, engine_table.sublayers.remove(&key)),
                }
            }
            KernelFn::FwpmCalloutDeleteByKey0 => {
                let in_use = engine_table
                    .filters
                    .values()
                    .any(|f| f.action == FWP_ACTION_CALLOUT_TERMINATING && f.callout == key);
                match engine_table.callouts.get(&key) {
                    None => return status::CALLOUT_NOT_FOUND.0,
                    Some(_) if in_use => return status::IN_USE.0,
                    Some(_) => Undo::Callout(key, engine_table.callouts.remove(&key)),
                }
            }
            _ => match engine_table.filters.remove(&key) {
                None => return status::FILTER_NOT_FOUND.0,
                Some(filter) => Undo::Filter(key, Some(filter)),
            },
        };
        state.engine.record(engine as usize, undo);
        NtStatus::SUCCESS.0
    }

    #[allow(non_snake_case)] // the semantics of FwpsCalloutRegister1
    pub(super) fn FwpsCalloutRegister1(
        &self,
        device: *mut DEVICE_OBJECT,
        callout: *const FWPS_CALLOUT1,
        id: *mut u32,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if device.is_null() || callout.is_null() || id.is_null() {
            return state.misuse(Violation::NullPointer(KernelFn::FwpsCalloutRegister1));
        }
        // SAFETY: the seam's contract: `callout` is valid.
        let callout = unsafe { callout.read() };
        if state
            .engine
            .registered
            .values()
            .any(|r| r.key == callout.calloutKey)
        {
            return status::ALREADY_EXISTS.0;
        }
        state.engine.next_callout_id += 1;
        let runtime_id = 0x100 + state.engine.next_callout_id;
        state.engine.registered.insert(
            runtime_id,
            Registration {
                key: callout.calloutKey,
                classify: callout.classifyFn,
                active: 0,
            },
        );
        // SAFETY: the seam's contract: `id` is writable; null was refused above.
        unsafe { id.write(runtime_id) };
        NtStatus::SUCCESS.0
    }

    /// Takes (`1`) or drops (`-1`) a classify's hold on a registered callout; false when it is
    /// not registered.
    fn hold_callout(&self, id: u32, delta: i32) -> bool {
        let mut state = self.lock();
        match state.engine.registered.get_mut(&id) {
            Some(registration) => {
                registration.active = registration.active.saturating_add_signed(delta);
                true
            }
            None => false,
        }
    }

    /// The next `count` FwpsCalloutUnregisterById0 calls answer STATUS_DEVICE_BUSY, as when a
    /// flow context or a classify on another processor holds the callout.
    pub fn busy_unregisters(&self, count: u32) {
        self.lock().engine.busy_unregisters = count;
    }

    /// Whether unregistering answers STATUS_DEVICE_BUSY while a classify of the callout runs
    /// (on by default). Off: the unregister succeeds and the classify goes on, which the
    /// documentation does not rule out.
    pub fn busy_while_classifying(&self, busy: bool) {
        self.lock().engine.busy_while_classifying = busy;
    }

    /// Every FwpsAllocateCloneNetBufferList0 from now on takes `delay` of real time (after its
    /// work, with the stack unlocked), so the calling classify is inside the driver meanwhile.
    pub fn slow_clone(&self, delay: std::time::Duration) {
        self.lock().engine.clone_delay = delay;
    }

    /// Every classify from now on takes `delay` of real time while holding its callout.
    pub fn slow_classify(&self, delay: std::time::Duration) {
        self.lock().engine.classify_delay = delay;
    }

    /// The rawContext of every filter at `layer` (what classify receives as the context).
    pub fn filter_contexts(&self, layer: GUID) -> Vec<u64> {
        let state = self.lock();
        state
            .engine
            .filters
            .values()
            .filter(|f| f.layer == layer)
            .map(|f| f.raw_context)
            .collect()
    }

    /// The conditions and flags of the filter with `key`, if there is one.
    pub fn filter_conditions(&self, key: GUID) -> Option<(Vec<FilterCondition>, u32)> {
        let state = self.lock();
        state
            .engine
            .filters
            .get(&key)
            .map(|f| (f.conditions.clone(), f.flags))
    }

    #[allow(non_snake_case)] // the semantics of FwpsCalloutUnregisterById0
    pub(super) fn FwpsCalloutUnregisterById0(&self, id: u32) -> NTSTATUS {
        let mut state = self.lock();
        let Some(registration) = state.engine.registered.get(&id) else {
            return status::CALLOUT_NOT_FOUND.0;
        };
        let held = registration.active > 0 && state.engine.busy_while_classifying;
        if held || state.engine.busy_unregisters > 0 {
            state.engine.busy_unregisters = state.engine.busy_unregisters.saturating_sub(1);
            return NtStatus::DEVICE_BUSY.0;
        }
        // A filter that still names the callout now blocks, or permits if it asked to
        // (FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED): WFP allows this.
        state.engine.registered.remove(&id);
        NtStatus::SUCCESS.0
    }

    /// Classifies at `layer` as the filter engine would ("Filter Arbitration"): every sublayer
    /// holding a filter whose conditions `input` meets is evaluated, the highest-weighted first
    /// (equal weights: by sublayer key, an order the documentation leaves open), even after a
    /// higher one blocked; within a sublayer its matching filters are called in turn until one
    /// returns a terminating action (filters keep their key order there: the simulator models no
    /// filter weights). Each callout's classifyFn1 runs on the calling thread at DISPATCH_LEVEL
    /// with these values, metadata and layer data, and gets the classify output as the
    /// sublayers above left it, write right included. A filter whose callout is not registered
    /// blocks, or permits if it carries FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED, as WFP
    /// does. While a callout's classify runs, unregistering it answers STATUS_DEVICE_BUSY.
    /// Another driver's injecting callout, when installed, has its own sublayer among them.
    /// `input: None` calls every filter at the layer whatever its conditions. `context`
    /// replaces every filter's rawContext when given (a filter left by another instance).
    /// `None` when no filter at the layer matches.
    #[allow(clippy::too_many_arguments)]
    pub fn classify(
        &self,
        layer: GUID,
        input: Option<&ConditionInput>,
        values: *const u8,
        metadata: *const u8,
        layer_data: *mut NET_BUFFER_LIST,
        decided_above: Option<u32>,
        context: Option<u64>,
    ) -> Option<ClassifyResult> {
        // `decided_above`: a higher-weight filter's final action, the write right cleared with it;
        // `None`: the callout has the right.
        let may_write = decided_above.is_none();
        let mut targets: Vec<(u16, GUID, Target)> = {
            let state = self.lock();
            let filters = state
                .engine
                .committed_filters
                .as_ref()
                .unwrap_or(&state.engine.filters);
            let mut targets: Vec<(u16, GUID, Target)> = filters
                .values()
                .filter(|f| f.layer == layer && input.is_none_or(|i| i.matches(&f.conditions)))
                .map(|f| {
                    let classify = state
                        .engine
                        .registered
                        .iter()
                        .find(|(_, r)| r.key == f.callout)
                        .map(|(id, r)| (*id, r.classify));
                    let weight = state
                        .engine
                        .sublayers
                        .get(&f.sublayer)
                        .map_or(0, |s| s.weight);
                    (weight, f.sublayer, Target::Filter(f.clone(), classify))
                })
                .collect();
            if let Some(other) = state.other_injector.as_ref() {
                if other.filters_at(layer) {
                    targets.push((other.sublayer_weight(), other.sublayer_key(), Target::Other));
                }
            }
            targets
        };
        if targets.is_empty() {
            return None;
        }
        // Highest weight first; a stable sort keeps each sublayer's filters in their order.
        targets.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut out = RawBlock::<{ classify_out::BLOCK }>::boxed();
        let rights = if may_write {
            classify_out::RIGHT_ACTION_WRITE
        } else {
            0
        };
        out.put(classify_out::RIGHTS, rights);
        if let Some(action) = decided_above {
            // Without the right, a higher-weight filter has decided: a permit that cleared it
            // (FWPS_FILTER_FLAG_CLEAR_ACTION_RIGHT), which only a block may veto, or a callout's
            // block (absorbing a packet clears it too).
            out.put(classify_out::ACTION_TYPE, action);
        }
        let mut called = 0;
        // The sublayer whose arbitration has ended (a terminating action was returned in it).
        let mut decided: Option<GUID> = None;
        for (_, sublayer, target) in targets {
            if decided == Some(sublayer) {
                continue;
            }
            let (filter, classify) = match target {
                Target::Other => {
                    self.other_classify(layer, metadata, layer_data, &mut out);
                    called += 1;
                    let action: u32 = out.get(classify_out::ACTION_TYPE);
                    if action & FLAG_TERMINATING != 0 {
                        decided = Some(sublayer);
                    }
                    continue;
                }
                Target::Filter(filter, classify) => (filter, classify),
            };
            let Some((callout_id, classify)) = classify else {
                let action = if filter.flags & FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED != 0 {
                    ACTION_PERMIT
                } else {
                    FWP_ACTION_BLOCK
                };
                out.put(classify_out::ACTION_TYPE, action);
                decided = Some(sublayer);
                continue;
            };
            // WFP holds the callout while its classify runs; the callout may have been
            // unregistered since the targets were collected.
            if !self.hold_callout(callout_id, 1) {
                continue;
            }
            let delay = self.lock().engine.classify_delay;
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            let mut wfp_filter = RawBlock::<{ filter_layout::BLOCK }>::boxed();
            wfp_filter.put(filter_layout::FILTER_ID, filter.id);
            wfp_filter.put(filter_layout::ACTION_TYPE, filter.action);
            wfp_filter.put(filter_layout::ACTION_CALLOUT_ID, callout_id);
            wfp_filter.put(
                filter_layout::CONTEXT,
                context.unwrap_or(filter.raw_context),
            );
            out.put(classify_out::FILTER_ID, filter.id);
            let action_before: u32 = out.get(classify_out::ACTION_TYPE);
            let rights_before: u32 = out.get(classify_out::RIGHTS);
            let out_pointer = out.as_mut_ptr();
            let filter_pointer = wfp_filter.as_mut_ptr();
            let classify_irql = self.lock().classify_irql.unwrap_or(Irql::DISPATCH);
            let view_before = first_buffer_view(layer_data);
            self.run_as_classify_at(classify_irql, input.map(|i| i.protocol), || {
                // SAFETY: the callout registered this classify function; every pointer is valid
                // for the call, as WFP guarantees (laid out by the simulator's own tables).
                unsafe {
                    classify(
                        values.cast(),
                        metadata.cast(),
                        layer_data.cast::<c_void>(),
                        core::ptr::null(),
                        filter_pointer.cast(),
                        0,
                        out_pointer.cast(),
                    )
                }
            });
            self.hold_callout(callout_id, -1);
            called += 1;
            // "Data offset positions": a callout that moved the packet's data start (a retreat
            // to read or inject the headers) must move it back before it returns, whatever it
            // decided; the stack goes on from where it indicated the packet.
            let view_after = first_buffer_view(layer_data);
            if view_after != view_before {
                self.lock()
                    .violations
                    .push(Violation::DataOffsetNotRestored {
                        before: view_before.unwrap_or_default(),
                        after: view_after.unwrap_or_default(),
                    });
            }
            // FWPS_CLASSIFY_OUT0: without FWPS_RIGHT_ACTION_WRITE (as this callout was called:
            // an earlier one may have cleared it) the only write allowed is a block vetoing a
            // permit.
            let written: u32 = out.get(classify_out::ACTION_TYPE);
            let vetoes_permit = written == FWP_ACTION_BLOCK && action_before == ACTION_PERMIT;
            let had_right = rights_before & classify_out::RIGHT_ACTION_WRITE != 0;
            if !had_right && written != action_before && !vetoes_permit {
                self.lock()
                    .violations
                    .push(Violation::ActionWrittenWithoutRight(written));
            }
            // FWP_ACTION_FLAG_TERMINATING: block or permit ends the sublayer's arbitration. A
            // terminating callout's answer other than block or permit counts as block
            // (FWPS_ACTION0).
            let action: u32 = out.get(classify_out::ACTION_TYPE);
            if filter.action == FWP_ACTION_CALLOUT_TERMINATING
                && had_right
                && action != FWP_ACTION_BLOCK
                && action != ACTION_PERMIT
            {
                out.put(classify_out::ACTION_TYPE, FWP_ACTION_BLOCK);
                decided = Some(sublayer);
                continue;
            }
            if action & FLAG_TERMINATING != 0 {
                decided = Some(sublayer);
            }
        }
        Some(ClassifyResult {
            action: out.get(classify_out::ACTION_TYPE),
            flags: out.get(classify_out::FLAGS),
            rights: out.get(classify_out::RIGHTS),
            callouts_called: called,
        })
    }
}

/// What one matching filter calls: a registered callout (or none), or the other driver's.
enum Target {
    Filter(Filter, Option<(u32, FWPS_CALLOUT_CLASSIFY_FN1)>),
    Other,
}

// The IRQL classify runs at, and which threads are inside a classify.
impl SimulatedStack {
    /// The engine calls classify at `irql` from now on (DISPATCH_LEVEL by default; WFP may call
    /// it at any IRQL up to DISPATCH_LEVEL).
    pub fn set_classify_irql(&self, irql: Irql) {
        self.lock().classify_irql = Some(irql);
    }
}

/// The first NET_BUFFER's (DataOffset, DataLength) of the packet a classify is given, if any.
fn first_buffer_view(layer_data: *mut NET_BUFFER_LIST) -> Option<(u32, u32)> {
    use crate::layout::{nbl, net_buffer};
    if layer_data.is_null() {
        return None;
    }
    let block = layer_data.cast::<u8>();
    let first = block.wrapping_add(nbl::FIRST_NET_BUFFER).cast::<*mut u8>();
    // SAFETY: a packet the simulator indicated, laid out by its own tables, alive while the
    // classify that was given it runs (and after: the test returns it later).
    let buffer = unsafe { first.read_unaligned() };
    if buffer.is_null() {
        return None;
    }
    let offset = buffer.wrapping_add(net_buffer::DATA_OFFSET).cast::<u32>();
    let length = buffer.wrapping_add(net_buffer::DATA_LENGTH).cast::<u32>();
    // SAFETY: the simulator's NET_BUFFER, alive as its packet is: its DataOffset.
    let offset = unsafe { offset.read_unaligned() };
    // SAFETY: the same NET_BUFFER: DataLength's ULONG half.
    let length = unsafe { length.read_unaligned() };
    Some((offset, length))
}
