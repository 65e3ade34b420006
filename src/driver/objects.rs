//! The driver's WFP objects: an engine session, a provider, a sublayer, a callout per layer
//! (the four transport and the four IP packet layers, registered with the filter engine and
//! added to BFE), and a filter per inspected layer.
//! Installed in one transaction; removed in the order that stops traffic first.

use core::ptr;

use crate::driver::layers::{CalloutLayer, PROVIDER_KEY, SUBLAYER_KEY};
use crate::driver::load_error::{LoadError, LoadStep};
use crate::driver::rules::Rules;
use crate::inject::IpProtocol;
use crate::nt::text::wide;
use crate::nt::time::Patience;
use crate::nt::{DeviceObject, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::{
    FWP_ACTION_CALLOUT_TERMINATING, FWP_BYTE_ARRAY16_TYPE, FWP_BYTE_BLOB, FWP_EMPTY,
    FWP_MATCH_EQUAL, FWP_UINT8, FWP_UINT16, FWP_UINT32, FWP_VALUE0, FWPM_ACTION0, FWPM_CALLOUT0,
    FWPM_CONDITION_IP_PROTOCOL, FWPM_CONDITION_IP_REMOTE_ADDRESS, FWPM_CONDITION_IP_REMOTE_PORT,
    FWPM_DISPLAY_DATA0, FWPM_FILTER_CONDITION0, FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED,
    FWPM_FILTER0, FWPM_PROVIDER0, FWPM_SESSION_FLAG_DYNAMIC, FWPM_SESSION0, FWPM_SUBLAYER0,
    FWPS_CALLOUT_CLASSIFY_FN1, FWPS_CALLOUT_NOTIFY_FN1, FWPS_CALLOUT1, GUID, HANDLE,
    RPC_C_AUTHN_WINNT,
};

static SESSION_NAME: [u16; 22] = wide("WFP Injector session");
/// Who ships the driver: the WFP provider's name, as HLK's FwpmProviders.MaintainIdentifying asks
/// (the company), and the INF's Provider (Cargo.toml `[package.metadata.wfp-injector] company`;
/// tests/inf_check.rs and the provider tests check they agree).
pub const COMPANY: &str = "WFP Injector Project";
/// The product: the WFP provider's description (`[package.metadata.wfp-injector] product`).
pub const PRODUCT: &str = "WFP Injector";
static PROVIDER_NAME: [u16; COMPANY.len() + 1] = wide(COMPANY);
static PROVIDER_DESCRIPTION: [u16; PRODUCT.len() + 1] = wide(PRODUCT);
static SERVICE_NAME: [u16; 12] = wide("WfpInjector");
static SUBLAYER_NAME: [u16; 22] = wide("WFP Injector sublayer");
static CALLOUT_NAME: [u16; 21] = wide("WFP Injector callout");
static FILTER_NAME: [u16; 20] = wide("WFP Injector filter");

/// Weight of the driver's sublayer among sublayers: the lowest. "Developing IPsec-compatible
/// callout drivers" asks transport-layer callouts to sit in a sublayer weighted below
/// FWPM_SUBLAYER_UNIVERSAL, so Windows' own IPsec processing goes first. The documentation gives
/// that sublayer's weight only through FwpmSubLayerEnum0, but it also says FWPM_SUBLAYER_INSPECTION
/// is the lowest-weighted sublayer, so the universal sublayer weighs at least 1 and 0 is below it
/// on every Windows version.
pub const SUBLAYER_WEIGHT: u16 = 0;

/// The session's flags: dynamic, so every object the driver adds is deleted by BFE when the
/// session closes (at unload, or when the driver's session handle goes away), as the inspect
/// sample does. Nothing the driver adds can outlive it and block traffic.
pub const SESSION_FLAGS: u32 = FWPM_SESSION_FLAG_DYNAMIC;

/// The filters' flags: while the callout is not registered (before registration, after
/// unregistration, or if a stale filter survives an instance), the filter permits instead of
/// blocking every packet of its layer.
pub const FILTER_FLAGS: u32 = FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED;

/// Layers with a callout: [`CalloutLayer::ALL`].
const LAYERS: usize = CalloutLayer::ALL.len();

/// Conditions a filter can carry: remote address, remote port, and up to two protocols.
const MAX_CONDITIONS: usize = 4;

/// How long unload waits for a busy callout, and how often it asks again. Classifies last
/// microseconds; a callout still busy after this is held by something that will not let go,
/// and the driver leaks its state rather than free memory a classify may still use.
pub const UNREGISTER_POLL: core::time::Duration = core::time::Duration::from_millis(10);
/// See [`UNREGISTER_POLL`].
pub const UNREGISTER_PATIENCE: core::time::Duration = core::time::Duration::from_secs(30);

fn display(name: &'static [u16], description: Option<&'static [u16]>) -> FWPM_DISPLAY_DATA0 {
    FWPM_DISPLAY_DATA0 {
        name: name.as_ptr(),
        description: description.map_or(ptr::null(), <[u16]>::as_ptr),
    }
}

const NO_DATA: FWP_BYTE_BLOB = FWP_BYTE_BLOB {
    size: 0,
    data: ptr::null_mut(),
};

/// The installed objects.
///
/// IRQL: every method at PASSIVE_LEVEL.
#[derive(Debug)]
pub struct WfpObjects<K: KernelApi> {
    kernel: K,
    engine: HANDLE,
    callout_ids: [Option<u32>; LAYERS],
    filtered: [bool; LAYERS],
}

// SAFETY: the engine handle is a kernel token usable from any thread at PASSIVE_LEVEL.
unsafe impl<K: KernelApi + Send> Send for WfpObjects<K> {}
// SAFETY: shared access reads the token only.
unsafe impl<K: KernelApi + Sync> Sync for WfpObjects<K> {}

impl<K: KernelApi> WfpObjects<K> {
    /// Opens a dynamic session; deletes objects with the driver's keys that an earlier instance
    /// left (in their own committed transaction, before any callout is registered, so no stale
    /// filter can become live with this instance's classify); registers the callouts on
    /// `device`; and adds the provider, sublayer, callouts and one filter per layer that
    /// `config` inspects, with conditions for what it inspects, in one transaction. On failure
    /// everything created so far is removed, in reverse order.
    ///
    /// `context` reaches classify as `FWPS_FILTER1::context`.
    pub fn install(
        kernel: K,
        device: DeviceObject,
        classify: FWPS_CALLOUT_CLASSIFY_FN1,
        notify: FWPS_CALLOUT_NOTIFY_FN1,
        context: u64,
        config: &Rules,
    ) -> Result<Self, LoadError> {
        let engine = open_engine(&kernel)?;
        let mut objects = Self {
            kernel,
            engine,
            callout_ids: [None; LAYERS],
            filtered: [false; LAYERS],
        };
        if let Err(error) = objects.delete_stale() {
            return Err(objects.abandon(error));
        }
        for layer in CalloutLayer::ALL {
            let callout = FWPS_CALLOUT1 {
                calloutKey: layer.callout_key(),
                flags: 0,
                classifyFn: classify,
                notifyFn: notify,
                flowDeleteFn: None,
            };
            let mut id = 0u32;
            // SAFETY: PASSIVE_LEVEL; `device` is the shell's device object; the functions are
            // this image's and stay loaded until unregistered at unload.
            let status = unsafe {
                objects
                    .kernel
                    .fwps_callout_register1(device.as_raw(), &callout, &mut id)
            };
            if let Err(error) = check(LoadStep::CalloutRegister(layer), status) {
                return Err(objects.abandon(error));
            }
            objects.callout_ids[layer.index()] = Some(id);
        }
        let added = Transaction::begin(objects.kernel.clone(), objects.engine)
            .map_err(|status| LoadError::new(LoadStep::TransactionBegin, status))
            .and_then(|transaction| {
                objects.add_all(context, config)?;
                let status = transaction.commit();
                check(LoadStep::TransactionCommit, status.0)
            });
        match added {
            Ok(()) => Ok(objects),
            // The transaction was aborted when its guard was dropped.
            Err(error) => Err(objects.abandon(error)),
        }
    }

    /// The deletes and adds of `install`, inside its transaction.
    fn add_all(&mut self, context: u64, config: &Rules) -> Result<(), LoadError> {
        let provider = FWPM_PROVIDER0 {
            providerKey: PROVIDER_KEY,
            displayData: display(&PROVIDER_NAME, Some(&PROVIDER_DESCRIPTION)),
            flags: 0,
            providerData: NO_DATA,
            serviceName: SERVICE_NAME.as_ptr(),
        };
        // SAFETY: PASSIVE_LEVEL; the engine is open; `provider` and its strings are valid.
        let status = unsafe {
            self.kernel
                .fwpm_provider_add0(self.engine, &provider, ptr::null_mut())
        };
        check(LoadStep::ProviderAdd, status)?;
        let sublayer = FWPM_SUBLAYER0 {
            subLayerKey: SUBLAYER_KEY,
            displayData: display(&SUBLAYER_NAME, None),
            flags: 0,
            providerKey: &PROVIDER_KEY,
            providerData: NO_DATA,
            weight: SUBLAYER_WEIGHT,
        };
        // SAFETY: as above.
        let status = unsafe {
            self.kernel
                .fwpm_sub_layer_add0(self.engine, &sublayer, ptr::null_mut())
        };
        check(LoadStep::SubLayerAdd, status)?;
        for layer in CalloutLayer::ALL {
            let callout = FWPM_CALLOUT0 {
                calloutKey: layer.callout_key(),
                displayData: display(&CALLOUT_NAME, None),
                flags: 0,
                providerKey: &PROVIDER_KEY,
                providerData: NO_DATA,
                applicableLayer: layer.key(),
                calloutId: 0,
            };
            // SAFETY: as above; the id pointer may be null.
            let status = unsafe {
                self.kernel.fwpm_callout_add0(
                    self.engine,
                    &callout,
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            };
            check(LoadStep::CalloutAdd(layer), status)?;
        }
        self.add_filters(context, config)
    }

    /// One filter per layer some rule applies to, inside the caller's transaction.
    fn add_filters(&mut self, context: u64, config: &Rules) -> Result<(), LoadError> {
        for layer in CalloutLayer::ALL {
            if config.for_layer(layer).next().is_none() {
                continue;
            }
            let mut storage = ConditionStorage::new();
            let conditions = storage.build(config, layer);
            let filter = FWPM_FILTER0 {
                filterKey: layer.filter_key(),
                displayData: display(&FILTER_NAME, None),
                flags: FILTER_FLAGS,
                providerKey: &PROVIDER_KEY,
                providerData: NO_DATA,
                layerKey: layer.key(),
                subLayerKey: SUBLAYER_KEY,
                weight: FWP_VALUE0 {
                    r#type: FWP_EMPTY,
                    value: 0,
                },
                numFilterConditions: conditions.len() as u32,
                filterCondition: conditions.as_ptr(),
                action: FWPM_ACTION0 {
                    r#type: FWP_ACTION_CALLOUT_TERMINATING,
                    calloutKey: layer.callout_key(),
                },
                rawContext: context,
                providerContextKeyTail: 0,
                reserved: ptr::null(),
                filterId: 0,
                effectiveWeight: FWP_VALUE0 {
                    r#type: FWP_EMPTY,
                    value: 0,
                },
            };
            // SAFETY: as above; the conditions and the address they point to live in `storage`
            // across the call (BFE copies them); the id pointer may be null.
            let status = unsafe {
                self.kernel
                    .fwpm_filter_add0(self.engine, &filter, ptr::null_mut(), ptr::null_mut())
            };
            check(LoadStep::FilterAdd(layer), status)?;
            self.filtered[layer.index()] = true;
        }
        Ok(())
    }

    /// Deletes objects with the driver's keys, dependents first, in a transaction of their own
    /// that is committed before any callout is registered. "Not found" is the usual answer; any
    /// other failure stops the load, because registering a callout would make a surviving
    /// filter live again.
    fn delete_stale(&mut self) -> Result<(), LoadError> {
        let stale = |status: NtStatus| LoadError::new(LoadStep::StaleObjects, status);
        let transaction = Transaction::begin(self.kernel.clone(), self.engine).map_err(stale)?;
        let deletes = CalloutLayer::ALL
            .map(|layer| (Object::Filter, layer.filter_key()))
            .into_iter()
            .chain(CalloutLayer::ALL.map(|layer| (Object::Callout, layer.callout_key())))
            .chain([
                (Object::SubLayer, SUBLAYER_KEY),
                (Object::Provider, PROVIDER_KEY),
            ]);
        for (object, key) in deletes {
            let status = self.delete(object, key);
            if !status.is_success() && status != object.not_found() {
                // Dropping the transaction aborts it.
                return Err(stale(status));
            }
        }
        transaction.commit().ok().map_err(stale)
    }

    /// One delete-by-key call on the open engine.
    fn delete(&self, object: Object, key: GUID) -> NtStatus {
        let (kernel, engine) = (&self.kernel, self.engine);
        // SAFETY (every arm): PASSIVE_LEVEL (this type's contract); `engine` is open while
        // `self` holds it; `key` lives across the call.
        let status = match object {
            // SAFETY: see above.
            Object::Filter => unsafe { kernel.fwpm_filter_delete_by_key0(engine, &key) },
            // SAFETY: see above.
            Object::Callout => unsafe { kernel.fwpm_callout_delete_by_key0(engine, &key) },
            // SAFETY: see above.
            Object::SubLayer => unsafe { kernel.fwpm_sub_layer_delete_by_key0(engine, &key) },
            // SAFETY: see above.
            Object::Provider => unsafe { kernel.fwpm_provider_delete_by_key0(engine, &key) },
        };
        NtStatus(status)
    }

    /// Undoes a failed install (its transaction already aborted): unregisters the callouts
    /// registered so far, closes the session. A callout that stays registered is reported in the
    /// error ([`LoadError::image_in_use`]).
    fn abandon(mut self, mut error: LoadError) -> LoadError {
        self.unregister_callouts();
        error.image_in_use = self.still_registered();
        self.close_engine();
        error
    }

    /// BFE stopped: its session, and with it every object the driver added, is gone. Forgets
    /// the engine handle (closing it; BFE's answer for a handle of a session that no longer
    /// exists does not matter) and the filters. The callouts stay registered with the filter
    /// engine, which does not depend on BFE.
    pub fn engine_lost(&mut self) {
        self.filtered = [false; LAYERS];
        let _ = self.close_engine();
    }

    /// After [`Self::engine_lost`], BFE running again: a new dynamic session, leftovers with the
    /// driver's keys deleted in their own transaction, then the provider, sublayer, callouts and
    /// filters added in one, for the callouts still registered. On failure the session is closed
    /// again (the callouts stay registered).
    pub fn reinstall(&mut self, context: u64, config: &Rules) -> Result<(), LoadError> {
        self.engine = open_engine(&self.kernel)?;
        let result = self.delete_stale().and_then(|()| {
            let transaction = Transaction::begin(self.kernel.clone(), self.engine)
                .map_err(|status| LoadError::new(LoadStep::TransactionBegin, status))?;
            self.add_all(context, config)?;
            check(LoadStep::TransactionCommit, transaction.commit().0)
        });
        if result.is_err() {
            self.filtered = [false; LAYERS];
            let _ = self.close_engine();
        }
        result
    }

    /// Replaces the filters with those of `config` in one transaction: the old ones deleted,
    /// the new ones added, committed together, so the filter engine never holds a mix. On
    /// failure the transaction is aborted and the old filters stay. With no session (BFE went
    /// away) there is nothing to replace: the re-add uses the caller's new rules.
    pub fn replace_filters(&mut self, context: u64, config: &Rules) -> Result<(), LoadError> {
        if self.engine.is_null() {
            return Ok(());
        }
        let previous = self.filtered;
        let transaction = Transaction::begin(self.kernel.clone(), self.engine)
            .map_err(|status| LoadError::new(LoadStep::TransactionBegin, status))?;
        let mut result = Ok(());
        for layer in CalloutLayer::ALL {
            if result.is_ok() && self.filtered[layer.index()] {
                let status = self.delete(Object::Filter, layer.filter_key());
                result = check(LoadStep::FilterAdd(layer), status.0);
                self.filtered[layer.index()] = false;
            }
        }
        let result = result
            .and_then(|()| self.add_filters(context, config))
            .and_then(|()| check(LoadStep::TransactionCommit, transaction.commit().0));
        if result.is_err() {
            // Aborted (the guard, or the failed commit): the old filters are still there.
            self.filtered = previous;
        }
        result
    }

    /// Deletes the filters: no classify starts after this returns. The first failure's status.
    pub fn remove_filters(&mut self) -> NtStatus {
        let mut first = NtStatus::SUCCESS;
        for layer in CalloutLayer::ALL {
            if core::mem::take(&mut self.filtered[layer.index()]) {
                let status = self.delete(Object::Filter, layer.filter_key());
                first = first_failure(first, status);
            }
        }
        first
    }

    /// Unregisters every callout, asking again while WFP answers STATUS_DEVICE_BUSY (a classify
    /// or flow still holds it), every [`UNREGISTER_POLL`] for up to [`UNREGISTER_PATIENCE`].
    /// The first failure's status; `still_registered()` says whether any callout is left.
    pub fn unregister_callouts(&mut self) -> NtStatus {
        let mut first = NtStatus::SUCCESS;
        // One budget for all the callouts.
        let mut patience = Patience::new(UNREGISTER_POLL, UNREGISTER_PATIENCE);
        for slot in self.callout_ids.iter_mut() {
            let Some(id) = *slot else { continue };
            loop {
                // SAFETY: PASSIVE_LEVEL; `id` was registered by `install` and is still
                // registered (the slot is cleared once it is not).
                let status = NtStatus(unsafe { self.kernel.fwps_callout_unregister_by_id0(id) });
                if status.is_success() || status == NtStatus::FWP_CALLOUT_NOT_FOUND {
                    *slot = None;
                    break;
                }
                first = first_failure(first, status);
                if status != NtStatus::DEVICE_BUSY || !patience.wait(&self.kernel) {
                    break;
                }
            }
        }
        if !self.still_registered() {
            first = NtStatus::SUCCESS;
        }
        first
    }

    /// True while a callout could not be unregistered: its classify function may still be
    /// called, so the state it reaches must not be freed.
    pub fn still_registered(&self) -> bool {
        self.callout_ids.iter().any(Option::is_some)
    }

    /// Deletes the filters (if still there), the callouts, the sublayer and the provider in one
    /// transaction, then closes the session (which, being dynamic, removes whatever a failed
    /// delete left). Callouts are unregistered by the caller first ([`Self::unregister_callouts`]);
    /// one that stayed registered keeps its FWPM callout, which the session's close removes.
    pub fn remove_and_close(mut self) -> NtStatus {
        let mut first = self.remove_filters();
        if self.engine.is_null() {
            // BFE went away with the session and its objects (engine_lost): nothing to delete.
            return first;
        }
        // Deleted inside a transaction when one can be begun, one by one otherwise.
        let transaction = Transaction::begin(self.kernel.clone(), self.engine);
        if let Err(status) = transaction {
            first = first_failure(first, status);
        }
        for layer in CalloutLayer::ALL {
            let status = self.delete(Object::Callout, layer.callout_key());
            first = first_failure(first, status);
        }
        let status = self.delete(Object::SubLayer, SUBLAYER_KEY);
        first = first_failure(first, status);
        let status = self.delete(Object::Provider, PROVIDER_KEY);
        first = first_failure(first, status);
        if let Ok(transaction) = transaction {
            first = first_failure(first, transaction.commit());
        }
        first_failure(first, self.close_engine())
    }

    fn close_engine(&mut self) -> NtStatus {
        let engine = core::mem::take(&mut self.engine);
        if engine.is_null() {
            return NtStatus::SUCCESS;
        }
        // SAFETY: PASSIVE_LEVEL; the engine was opened by `install` and is closed once (the
        // field is cleared above).
        NtStatus(unsafe { self.kernel.fwpm_engine_close0(engine) })
    }
}

/// An open filter-engine transaction: [`Transaction::commit`] commits it; dropped otherwise (a
/// failed commit included) it is aborted, so no path leaves one open. `FwpmTransactionAbort0` on
/// a transaction a failed commit already ended answers STATUS_FWP_NO_TXN_IN_PROGRESS, which is
/// harmless; the docs do not say which of the two a failed commit leaves.
///
/// IRQL: PASSIVE_LEVEL (the FwpmTransaction* functions').
#[must_use = "a transaction not bound to a name is aborted at once"]
struct Transaction<K: KernelApi> {
    kernel: K,
    engine: HANDLE,
    open: bool,
}

impl<K: KernelApi> Transaction<K> {
    /// `FwpmTransactionBegin0` on `engine`, an open session with no transaction in progress.
    fn begin(kernel: K, engine: HANDLE) -> Result<Self, NtStatus> {
        // SAFETY: PASSIVE_LEVEL (this type's contract); `engine` is open (the caller's).
        NtStatus(unsafe { kernel.fwpm_transaction_begin0(engine, 0) }).ok()?;
        Ok(Self {
            kernel,
            engine,
            open: true,
        })
    }

    /// `FwpmTransactionCommit0`; when it fails the transaction is aborted.
    #[must_use]
    fn commit(mut self) -> NtStatus {
        // SAFETY: PASSIVE_LEVEL; the transaction begun by `begin` is open.
        let status = NtStatus(unsafe { self.kernel.fwpm_transaction_commit0(self.engine) });
        self.open = !status.is_success();
        status
    }
}

impl<K: KernelApi> Drop for Transaction<K> {
    fn drop(&mut self) {
        if self.open {
            // SAFETY: PASSIVE_LEVEL; the transaction begun by `begin` was not committed.
            let _ = unsafe { self.kernel.fwpm_transaction_abort0(self.engine) };
        }
    }
}

/// Opens the driver's dynamic session.
///
/// IRQL: PASSIVE_LEVEL.
fn open_engine<K: KernelApi>(kernel: &K) -> Result<HANDLE, LoadError> {
    let session = FWPM_SESSION0 {
        sessionKey: GUID::default(),
        displayData: display(&SESSION_NAME, None),
        flags: SESSION_FLAGS,
        txnWaitTimeoutInMSec: 0,
        processId: 0,
        sid: ptr::null_mut(),
        username: ptr::null_mut(),
        kernelMode: 0,
    };
    let mut engine: HANDLE = ptr::null_mut();
    // SAFETY: PASSIVE_LEVEL (the caller's contract); `session` outlives the call; `engine` is
    // writable.
    let status = unsafe {
        kernel.fwpm_engine_open0(
            ptr::null(),
            RPC_C_AUTHN_WINNT,
            ptr::null_mut(),
            &session,
            &mut engine,
        )
    };
    check(LoadStep::EngineOpen, status)?;
    Ok(engine)
}

fn check(step: LoadStep, status: i32) -> Result<(), LoadError> {
    NtStatus(status)
        .ok()
        .map_err(|status| LoadError::new(step, status))
}

/// The status to report from a sequence of steps: the first failure, or `next`.
pub(crate) fn first_failure(first: NtStatus, next: NtStatus) -> NtStatus {
    if first.is_success() { next } else { first }
}

/// The kinds of WFP object the driver deletes by key.
#[derive(Debug, Clone, Copy)]
enum Object {
    Filter,
    Callout,
    SubLayer,
    Provider,
}

impl Object {
    /// What a delete answers when there is no such object.
    fn not_found(self) -> NtStatus {
        match self {
            Self::Filter => NtStatus::FWP_FILTER_NOT_FOUND,
            Self::Callout => NtStatus::FWP_CALLOUT_NOT_FOUND,
            Self::SubLayer => NtStatus::FWP_SUBLAYER_NOT_FOUND,
            Self::Provider => NtStatus::FWP_PROVIDER_NOT_FOUND,
        }
    }
}

/// A filter's conditions and the IPv6 address one of them points to, kept together on the
/// stack for the FwpmFilterAdd0 call (BFE copies both).
struct ConditionStorage {
    remote_v6: [u8; 16],
    conditions: [FWPM_FILTER_CONDITION0; MAX_CONDITIONS],
    count: usize,
}

impl ConditionStorage {
    const NONE: FWPM_FILTER_CONDITION0 = FWPM_FILTER_CONDITION0 {
        fieldKey: GUID::from_u128(0),
        matchType: FWP_MATCH_EQUAL,
        conditionValue: FWP_VALUE0 {
            r#type: FWP_EMPTY,
            value: 0,
        },
    };

    const fn new() -> Self {
        Self {
            remote_v6: [0; 16],
            conditions: [Self::NONE; MAX_CONDITIONS],
            count: 0,
        }
    }

    /// Appends a condition. `build` adds at most [`MAX_CONDITIONS`] (address, port, two
    /// protocols), so the array always has room; `get_mut` keeps the image free of a panic path.
    fn equal(&mut self, key: GUID, kind: u32, value: u64) {
        if let Some(condition) = self.conditions.get_mut(self.count) {
            *condition = FWPM_FILTER_CONDITION0 {
                fieldKey: key,
                matchType: FWP_MATCH_EQUAL,
                conditionValue: FWP_VALUE0 {
                    r#type: kind,
                    value,
                },
            };
            self.count += 1;
        }
    }

    /// The conditions for `layer`'s filter. With one rule for the layer: one condition per
    /// criterion the filter engine can test for equality, so it calls classify only for packets
    /// the rule may select (a full-length remote address, the port, the protocol; WFP ORs
    /// conditions on the same field and ANDs different fields; a port criterion applies to TCP
    /// and UDP only, for ICMP the port fields carry type and code, so without a configured
    /// protocol it comes with "protocol is TCP or UDP"). With several rules, or for a shorter
    /// prefix or a local address, the filter takes the layer's packets and classify's check of
    /// the rules decides alone. At most [`MAX_CONDITIONS`].
    ///
    /// The IP packet layers have no protocol or port field (FWPS_FIELDS_*_IPPACKET_V4/V6), so
    /// their filters carry the remote address only and classify matches the rest in the packet.
    fn build(&mut self, config: &Rules, layer: CalloutLayer) -> &[FWPM_FILTER_CONDITION0] {
        self.count = 0;
        let mut rules = config.for_layer(layer);
        let (Some(rule), None) = (rules.next(), rules.next()) else {
            return &[];
        };
        let full = rule.remote_prefix == rule.width_bits();
        match (rule.family, full) {
            (wfp_protocol::FAMILY_IPV4, true) => {
                // Conditions take IPv4 addresses as host-order integers.
                let host = u32::from_be_bytes([
                    rule.remote_address[0],
                    rule.remote_address[1],
                    rule.remote_address[2],
                    rule.remote_address[3],
                ]);
                self.equal(FWPM_CONDITION_IP_REMOTE_ADDRESS, FWP_UINT32, host.into());
            }
            (wfp_protocol::FAMILY_IPV6, true) => {
                self.remote_v6 = rule.remote_address;
                let pointer = self.remote_v6.as_ptr() as u64;
                self.equal(
                    FWPM_CONDITION_IP_REMOTE_ADDRESS,
                    FWP_BYTE_ARRAY16_TYPE,
                    pointer,
                );
            }
            _ => {}
        }
        if layer.is_network() {
            return self.conditions.get(..self.count).unwrap_or(&[]);
        }
        let port = rule.fields & wfp_protocol::FIELD_REMOTE_PORT != 0;
        let protocol = rule.fields & wfp_protocol::FIELD_PROTOCOL != 0;
        if port {
            let value = u64::from(rule.remote_port);
            self.equal(FWPM_CONDITION_IP_REMOTE_PORT, FWP_UINT16, value);
        }
        match (protocol, port) {
            (true, _) => {
                let value = u64::from(rule.protocol);
                self.equal(FWPM_CONDITION_IP_PROTOCOL, FWP_UINT8, value);
            }
            (false, true) => {
                for protocol in [IpProtocol::TCP, IpProtocol::UDP] {
                    self.equal(FWPM_CONDITION_IP_PROTOCOL, FWP_UINT8, protocol.0.into());
                }
            }
            (false, false) => {}
        }
        self.conditions.get(..self.count).unwrap_or(&[])
    }
}
