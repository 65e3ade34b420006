//! The driver's WFP objects: an engine session, a provider, a sublayer, a callout per layer
//! (registered with the filter engine and added to BFE), and a filter per inspected layer.
//! Installed in one transaction; removed in the order that stops traffic first.

use core::ptr;

use crate::driver::config::InspectionConfig;
use crate::driver::layers::{PROVIDER_KEY, SUBLAYER_KEY, TransportLayer};
use crate::driver::text::wide;
use crate::nt::{DeviceObject, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::{
    FWP_ACTION_CALLOUT_TERMINATING, FWP_BYTE_BLOB, FWP_EMPTY, FWP_VALUE0, FWPM_ACTION0,
    FWPM_CALLOUT0, FWPM_DISPLAY_DATA0, FWPM_FILTER0, FWPM_PROVIDER0, FWPM_SESSION0, FWPM_SUBLAYER0,
    FWPS_CALLOUT_CLASSIFY_FN1, FWPS_CALLOUT_NOTIFY_FN1, FWPS_CALLOUT1, GUID, HANDLE,
    RPC_C_AUTHN_WINNT,
};

/// The step of loading that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStep {
    /// Creating the injection handles.
    InjectionHandles,
    /// Creating the packet injector (its contexts) or the driver's state.
    DriverState,
    /// `FwpmEngineOpen0`.
    EngineOpen,
    /// `FwpsCalloutRegister1` at a layer.
    CalloutRegister(TransportLayer),
    /// `FwpmTransactionBegin0`.
    TransactionBegin,
    /// `FwpmProviderAdd0`.
    ProviderAdd,
    /// `FwpmSubLayerAdd0`.
    SubLayerAdd,
    /// `FwpmCalloutAdd0` at a layer.
    CalloutAdd(TransportLayer),
    /// `FwpmFilterAdd0` at a layer.
    FilterAdd(TransportLayer),
    /// `FwpmTransactionCommit0`.
    TransactionCommit,
}

/// Why the driver did not load: the step and the status (what DriverEntry returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadError {
    /// Which step.
    pub step: LoadStep,
    /// Its status.
    pub status: NtStatus,
}

static SESSION_NAME: [u16; 22] = wide("WFP Injector session");
static PROVIDER_NAME: [u16; 22] = wide("WFP Injector provider");
static PROVIDER_DESCRIPTION: [u16; 52] = wide("Inspects and reinjects traffic (wfp_injector.sys)");
static SERVICE_NAME: [u16; 12] = wide("WfpInjector");
static SUBLAYER_NAME: [u16; 22] = wide("WFP Injector sublayer");
static CALLOUT_NAME: [u16; 21] = wide("WFP Injector callout");
static FILTER_NAME: [u16; 20] = wide("WFP Injector filter");

/// Weight of the driver's sublayer among sublayers: in the middle of the range.
const SUBLAYER_WEIGHT: u16 = 0x8000;

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
    callout_ids: [Option<u32>; 4],
    filtered: [bool; 4],
}

// SAFETY: the engine handle is a kernel token usable from any thread at PASSIVE_LEVEL.
unsafe impl<K: KernelApi + Send> Send for WfpObjects<K> {}
// SAFETY: shared access reads the token only.
unsafe impl<K: KernelApi + Sync> Sync for WfpObjects<K> {}

impl<K: KernelApi> WfpObjects<K> {
    /// Opens a session, registers the callouts on `device`, and adds the provider, sublayer,
    /// callouts and one filter per layer that `config` inspects, in one transaction. Objects a
    /// crashed earlier instance left behind (same keys) are deleted first, in the same
    /// transaction. On failure everything created so far is removed, in reverse order.
    ///
    /// `context` reaches classify as `FWPS_FILTER1::context`.
    pub fn install(
        kernel: K,
        device: DeviceObject,
        classify: FWPS_CALLOUT_CLASSIFY_FN1,
        notify: FWPS_CALLOUT_NOTIFY_FN1,
        context: u64,
        config: &InspectionConfig,
    ) -> Result<Self, LoadError> {
        let session = FWPM_SESSION0 {
            sessionKey: GUID::default(),
            displayData: display(&SESSION_NAME, None),
            flags: 0,
            txnWaitTimeoutInMSec: 0,
            processId: 0,
            sid: ptr::null_mut(),
            username: ptr::null_mut(),
            kernelMode: 0,
        };
        let mut engine: HANDLE = ptr::null_mut();
        // SAFETY: PASSIVE_LEVEL (documented contract); `session` outlives the call; `engine` is
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
        let mut objects = Self {
            kernel,
            engine,
            callout_ids: [None; 4],
            filtered: [false; 4],
        };
        for layer in TransportLayer::ALL {
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
                return Err(objects.abandon(error, false));
            }
            objects.callout_ids[layer.index()] = Some(id);
        }
        // SAFETY: PASSIVE_LEVEL; the engine is open.
        let status = unsafe { objects.kernel.fwpm_transaction_begin0(objects.engine, 0) };
        if let Err(error) = check(LoadStep::TransactionBegin, status) {
            return Err(objects.abandon(error, false));
        }
        if let Err(error) = objects.add_all(context, config) {
            return Err(objects.abandon(error, true));
        }
        // SAFETY: PASSIVE_LEVEL; a transaction is open on the engine.
        let status = unsafe { objects.kernel.fwpm_transaction_commit0(objects.engine) };
        if let Err(error) = check(LoadStep::TransactionCommit, status) {
            return Err(objects.abandon(error, true));
        }
        Ok(objects)
    }

    /// The deletes and adds of `install`, inside its transaction.
    fn add_all(&mut self, context: u64, config: &InspectionConfig) -> Result<(), LoadError> {
        self.delete_stale();
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
        for layer in TransportLayer::ALL {
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
        for layer in TransportLayer::ALL {
            if !config.inspects(layer.family()) {
                continue;
            }
            let filter = FWPM_FILTER0 {
                filterKey: layer.filter_key(),
                displayData: display(&FILTER_NAME, None),
                flags: 0,
                providerKey: &PROVIDER_KEY,
                providerData: NO_DATA,
                layerKey: layer.key(),
                subLayerKey: SUBLAYER_KEY,
                weight: FWP_VALUE0 {
                    r#type: FWP_EMPTY,
                    value: 0,
                },
                numFilterConditions: 0,
                filterCondition: ptr::null(),
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
            // SAFETY: as above; the id pointer may be null.
            let status = unsafe {
                self.kernel
                    .fwpm_filter_add0(self.engine, &filter, ptr::null_mut(), ptr::null_mut())
            };
            check(LoadStep::FilterAdd(layer), status)?;
            self.filtered[layer.index()] = true;
        }
        Ok(())
    }

    /// Deletes objects with the driver's keys, dependents first; "not found" is the usual
    /// answer and is ignored.
    fn delete_stale(&mut self) {
        for layer in TransportLayer::ALL {
            self.delete(Object::Filter, layer.filter_key());
        }
        for layer in TransportLayer::ALL {
            self.delete(Object::Callout, layer.callout_key());
        }
        self.delete(Object::SubLayer, SUBLAYER_KEY);
        self.delete(Object::Provider, PROVIDER_KEY);
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

    /// Undoes a failed install: aborts the transaction if one is open, unregisters the callouts
    /// registered so far, closes the session.
    fn abandon(mut self, error: LoadError, transaction_open: bool) -> LoadError {
        if transaction_open {
            // SAFETY: PASSIVE_LEVEL; a transaction is open on the engine.
            unsafe { self.kernel.fwpm_transaction_abort0(self.engine) };
        }
        self.unregister_callouts();
        self.close_engine();
        error
    }

    /// Deletes the filters: no classify starts after this returns. The first failure's status.
    pub fn remove_filters(&mut self) -> NtStatus {
        let mut first = NtStatus::SUCCESS;
        for layer in TransportLayer::ALL {
            if core::mem::take(&mut self.filtered[layer.index()]) {
                let status = self.delete(Object::Filter, layer.filter_key());
                first = first_failure(first, status);
            }
        }
        first
    }

    /// Unregisters the callouts (after the filters are gone and injection has drained).
    pub fn unregister_callouts(&mut self) -> NtStatus {
        let mut first = NtStatus::SUCCESS;
        for id in self.callout_ids.iter_mut().filter_map(Option::take) {
            // SAFETY: PASSIVE_LEVEL; `id` was registered by `install` and is unregistered once.
            let status = NtStatus(unsafe { self.kernel.fwps_callout_unregister_by_id0(id) });
            first = first_failure(first, status);
        }
        first
    }

    /// Deletes the callouts, the sublayer and the provider in one transaction, then closes the
    /// session.
    pub fn remove_and_close(mut self) -> NtStatus {
        let mut first = self.remove_filters();
        first = first_failure(first, self.unregister_callouts());
        // SAFETY: PASSIVE_LEVEL; the engine is open.
        let begun = NtStatus(unsafe { self.kernel.fwpm_transaction_begin0(self.engine, 0) });
        first = first_failure(first, begun);
        for layer in TransportLayer::ALL {
            let status = self.delete(Object::Callout, layer.callout_key());
            first = first_failure(first, status);
        }
        let status = self.delete(Object::SubLayer, SUBLAYER_KEY);
        first = first_failure(first, status);
        let status = self.delete(Object::Provider, PROVIDER_KEY);
        first = first_failure(first, status);
        if begun.is_success() {
            // SAFETY: PASSIVE_LEVEL; the transaction begun above is open.
            let status = NtStatus(unsafe { self.kernel.fwpm_transaction_commit0(self.engine) });
            first = first_failure(first, status);
        }
        first_failure(first, self.close_engine())
    }

    fn close_engine(&mut self) -> NtStatus {
        let engine = core::mem::replace(&mut self.engine, ptr::null_mut());
        if engine.is_null() {
            return NtStatus::SUCCESS;
        }
        // SAFETY: PASSIVE_LEVEL; the engine was opened by `install` and is closed once (the
        // field is cleared above).
        NtStatus(unsafe { self.kernel.fwpm_engine_close0(engine) })
    }
}

fn check(step: LoadStep, status: i32) -> Result<(), LoadError> {
    NtStatus(status)
        .ok()
        .map_err(|status| LoadError { step, status })
}

fn first_failure(first: NtStatus, next: NtStatus) -> NtStatus {
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
