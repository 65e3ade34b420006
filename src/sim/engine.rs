//! The filter engine in the simulated stack: sessions, transactions, WFP objects keyed by GUID,
//! callout registration, and classify calls into registered callouts.

use core::ffi::c_void;
use std::collections::BTreeMap;
use std::format;
use std::string::String;
use std::vec::Vec;

use super::layout::{RawBlock, classify_out, filter as filter_layout};
use super::stack::{SimCall, SimulatedStack, State, Violation};
use crate::nt::{Irql, NtStatus};
use crate::sys::types::{
    DEVICE_OBJECT, FWP_ACTION_BLOCK, FWP_ACTION_CALLOUT_TERMINATING, FWPM_CALLOUT0, FWPM_FILTER0,
    FWPM_PROVIDER0, FWPM_SESSION0, FWPM_SUBLAYER0, FWPS_CALLOUT_CLASSIFY_FN1, FWPS_CALLOUT1, GUID,
    HANDLE, NET_BUFFER_LIST, NTSTATUS,
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
}

#[derive(Debug, Clone)]
struct Provider;

#[derive(Debug, Clone)]
struct SubLayer {
    provider: Option<GUID>,
}

#[derive(Debug, Clone)]
struct Callout {
    provider: Option<GUID>,
    layer: GUID,
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
}

#[derive(Debug, Clone, Copy)]
struct Registration {
    key: GUID,
    classify: FWPS_CALLOUT_CLASSIFY_FN1,
}

#[derive(Debug, Default)]
pub(super) struct EngineTable {
    sessions: BTreeMap<usize, Session>,
    next_session: usize,
    providers: BTreeMap<GUID, Provider>,
    sublayers: BTreeMap<GUID, SubLayer>,
    callouts: BTreeMap<GUID, Callout>,
    filters: BTreeMap<GUID, Filter>,
    registered: BTreeMap<u32, Registration>,
    next_callout_id: u32,
    next_filter_id: u64,
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

impl EngineTable {
    pub(super) fn leak_report(&self) -> Option<String> {
        let objects = self.objects();
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

fn optional_key(key: *const GUID) -> Option<GUID> {
    // SAFETY: the kernel contract: a non-null key pointer is readable.
    (!key.is_null()).then(|| unsafe { key.read() })
}

impl SimulatedStack {
    /// What the filter engine holds now.
    pub fn wfp_objects(&self) -> WfpObjects {
        self.lock().engine.objects()
    }

    /// The engine forgets every session and callout registration but keeps its objects, as BFE
    /// does when a driver disappears without cleaning up (a crash, then a restart of the driver).
    /// Injection handles and packets are not touched.
    pub fn forget_driver_state(&self) {
        let mut state = self.lock();
        state.engine.sessions.clear();
        state.engine.registered.clear();
    }

    /// Checks the IRQL and the engine handle; `Some(status)` ends the call.
    fn engine_enter(state: &mut State, call: SimCall, engine: HANDLE) -> Option<NtStatus> {
        if let Some(status) = state.enter(call, Irql::PASSIVE) {
            return Some(status);
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
        if let Some(status) = state.enter(SimCall::EngineOpen, Irql::PASSIVE) {
            return status.0;
        }
        if engine.is_null() {
            state
                .violations
                .push(Violation::NullPointer(SimCall::EngineOpen));
            return NtStatus::INVALID_PARAMETER.0;
        }
        let _ = session;
        state.engine.next_session += 1;
        let handle = 0xE000 + state.engine.next_session * 0x10;
        state.engine.sessions.insert(handle, Session::default());
        // SAFETY: the seam's contract: `engine` is writable; null was refused above.
        unsafe { engine.write(handle as HANDLE) };
        NtStatus::SUCCESS.0
    }

    pub(super) fn engine_close(&self, engine: HANDLE) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_enter(&mut state, SimCall::EngineClose, engine) {
            return status.0;
        }
        // Closing with a transaction open aborts it.
        if let Some(Some(log)) = state
            .engine
            .sessions
            .remove(&(engine as usize))
            .map(|s| s.transaction)
        {
            for undo in log.into_iter().rev() {
                state.engine.undo(undo);
            }
        }
        NtStatus::SUCCESS.0
    }

    pub(super) fn transaction(&self, call: SimCall, engine: HANDLE) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_enter(&mut state, call, engine) {
            return status.0;
        }
        let session = state
            .engine
            .sessions
            .get_mut(&(engine as usize))
            .expect("checked");
        match (call, session.transaction.take()) {
            (SimCall::TransactionBegin, Some(log)) => {
                session.transaction = Some(log);
                status::TXN_IN_PROGRESS.0
            }
            (SimCall::TransactionBegin, None) => {
                session.transaction = Some(Vec::new());
                NtStatus::SUCCESS.0
            }
            (_, None) => status::NO_TXN_IN_PROGRESS.0,
            (SimCall::TransactionCommit, Some(_)) => NtStatus::SUCCESS.0,
            (_, Some(log)) => {
                for undo in log.into_iter().rev() {
                    state.engine.undo(undo);
                }
                NtStatus::SUCCESS.0
            }
        }
    }

    pub(super) fn provider_add(&self, engine: HANDLE, provider: *const FWPM_PROVIDER0) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_enter(&mut state, SimCall::ProviderAdd, engine) {
            return status.0;
        }
        // SAFETY: the seam's contract: `provider` is valid.
        let key = unsafe { (*provider).providerKey };
        if state.engine.providers.contains_key(&key) {
            return status::ALREADY_EXISTS.0;
        }
        state.engine.providers.insert(key, Provider);
        state
            .engine
            .record(engine as usize, Undo::Provider(key, None));
        NtStatus::SUCCESS.0
    }

    pub(super) fn sublayer_add(&self, engine: HANDLE, sublayer: *const FWPM_SUBLAYER0) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_enter(&mut state, SimCall::SubLayerAdd, engine) {
            return status.0;
        }
        // SAFETY: the seam's contract: `sublayer` is valid.
        let sublayer = unsafe { sublayer.read() };
        let (key, provider) = (sublayer.subLayerKey, optional_key(sublayer.providerKey));
        if provider.is_some_and(|p| !state.engine.providers.contains_key(&p)) {
            return status::PROVIDER_NOT_FOUND.0;
        }
        if state.engine.sublayers.contains_key(&key) {
            return status::ALREADY_EXISTS.0;
        }
        state.engine.sublayers.insert(key, SubLayer { provider });
        state
            .engine
            .record(engine as usize, Undo::SubLayer(key, None));
        NtStatus::SUCCESS.0
    }

    pub(super) fn callout_add(&self, engine: HANDLE, callout: *const FWPM_CALLOUT0) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_enter(&mut state, SimCall::CalloutAdd, engine) {
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
        state
            .engine
            .callouts
            .insert(key, Callout { provider, layer });
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
        if let Some(status) = Self::engine_enter(&mut state, SimCall::FilterAdd, engine) {
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
        call: SimCall,
        engine: HANDLE,
        key: *const GUID,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = Self::engine_enter(&mut state, call, engine) {
            return status.0;
        }
        // SAFETY: the seam's contract: `key` is valid.
        let key = unsafe { key.read() };
        let engine_table = &mut state.engine;
        let undo = match call {
            SimCall::ProviderDelete => {
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
            SimCall::SubLayerDelete => {
                let in_use = engine_table.filters.values().any(|f| f.sublayer == key);
                match engine_table.sublayers.get(&key) {
                    None => return status::SUBLAYER_NOT_FOUND.0,
                    Some(_) if in_use => return status::IN_USE.0,
                    Some(_) => Undo::SubLayer(key, engine_table.sublayers.remove(&key)),
                }
            }
            SimCall::CalloutDelete => {
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

    pub(super) fn callout_register(
        &self,
        device: *mut DEVICE_OBJECT,
        callout: *const FWPS_CALLOUT1,
        id: *mut u32,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = state.enter(SimCall::CalloutRegister, Irql::PASSIVE) {
            return status.0;
        }
        if device.is_null() || callout.is_null() || id.is_null() {
            state
                .violations
                .push(Violation::NullPointer(SimCall::CalloutRegister));
            return NtStatus::INVALID_PARAMETER.0;
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
            },
        );
        // SAFETY: the seam's contract: `id` is writable; null was refused above.
        unsafe { id.write(runtime_id) };
        NtStatus::SUCCESS.0
    }

    pub(super) fn callout_unregister(&self, id: u32) -> NTSTATUS {
        let mut state = self.lock();
        if let Some(status) = state.enter(SimCall::CalloutUnregister, Irql::PASSIVE) {
            return status.0;
        }
        let Some(registration) = state.engine.registered.remove(&id) else {
            return status::CALLOUT_NOT_FOUND.0;
        };
        let used =
            state.engine.filters.values().any(|f| {
                f.action == FWP_ACTION_CALLOUT_TERMINATING && f.callout == registration.key
            });
        if used {
            state
                .violations
                .push(Violation::CalloutUnregisteredWhileFiltersUseIt(id));
        }
        NtStatus::SUCCESS.0
    }

    /// Classifies at `layer` as the filter engine would: each filter there calls its callout
    /// with these values, metadata and layer data (classifyFn1, on the calling thread at
    /// DISPATCH_LEVEL), until one returns a terminating action. A filter whose callout is not
    /// registered blocks, as WFP does. `None` when no filter is at the layer.
    pub fn classify(
        &self,
        layer: GUID,
        values: *const u8,
        metadata: *const u8,
        layer_data: *mut NET_BUFFER_LIST,
        may_write: bool,
    ) -> Option<ClassifyResult> {
        let targets: Vec<(Filter, Option<(u32, FWPS_CALLOUT_CLASSIFY_FN1)>)> = {
            let state = self.lock();
            state
                .engine
                .filters
                .values()
                .filter(|f| f.layer == layer)
                .map(|f| {
                    let classify = state
                        .engine
                        .registered
                        .iter()
                        .find(|(_, r)| r.key == f.callout)
                        .map(|(id, r)| (*id, r.classify));
                    (f.clone(), classify)
                })
                .collect()
        };
        if targets.is_empty() {
            return None;
        }
        let mut out = RawBlock::<{ classify_out::BLOCK }>::boxed();
        let rights = if may_write {
            classify_out::RIGHT_ACTION_WRITE
        } else {
            0
        };
        out.put(classify_out::RIGHTS, rights);
        let mut called = 0;
        for (filter, classify) in targets {
            let Some((callout_id, classify)) = classify else {
                out.put(classify_out::ACTION_TYPE, FWP_ACTION_BLOCK);
                break;
            };
            let mut wfp_filter = RawBlock::<{ filter_layout::BLOCK }>::boxed();
            wfp_filter.put(filter_layout::FILTER_ID, filter.id);
            wfp_filter.put(filter_layout::ACTION_TYPE, filter.action);
            wfp_filter.put(filter_layout::ACTION_CALLOUT_ID, callout_id);
            wfp_filter.put(filter_layout::CONTEXT, filter.raw_context);
            out.put(classify_out::FILTER_ID, filter.id);
            let out_pointer = out.as_mut_ptr();
            let filter_pointer = wfp_filter.as_mut_ptr();
            self.at_irql(Irql::DISPATCH, || {
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
            called += 1;
            // FWP_ACTION_FLAG_TERMINATING: block or permit ends the classify.
            if out.get::<u32>(classify_out::ACTION_TYPE) & 0x1000 != 0 {
                break;
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
