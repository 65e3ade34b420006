//! Why a load failed: the step ([`LoadStep`]) and the status ([`LoadError`]). The WFP objects,
//! the deferred loader and the log name steps with it; it depends on nothing of theirs.

use crate::driver::layers::CalloutLayer;
use crate::nt::NtStatus;

/// The step of loading that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStep {
    /// Creating the injection handles.
    InjectionHandles,
    /// Creating the packet injector (its contexts) or the driver's state.
    DriverState,
    /// `FwpmEngineOpen0`.
    EngineOpen,
    /// Deleting objects an earlier instance left (their own transaction, before any callout
    /// is registered): a delete that failed for another reason than "not found".
    StaleObjects,
    /// `FwpsCalloutRegister1` at a layer.
    CalloutRegister(CalloutLayer),
    /// `FwpmTransactionBegin0`.
    TransactionBegin,
    /// `FwpmProviderAdd0`.
    ProviderAdd,
    /// `FwpmSubLayerAdd0`.
    SubLayerAdd,
    /// `FwpmCalloutAdd0` at a layer.
    CalloutAdd(CalloutLayer),
    /// `FwpmFilterAdd0` at a layer.
    FilterAdd(CalloutLayer),
    /// `FwpmTransactionCommit0`.
    TransactionCommit,
    /// `IoAllocateWorkItem` (the deferred load's work item).
    WorkItem,
    /// `FwpmBfeStateSubscribeChanges0`.
    BfeSubscribe,
    /// `ExCreateCallback` or `ExRegisterCallback` for `\Callback\PowerState`.
    PowerCallback,
}

/// Why the driver did not load: the step and the status (what DriverEntry returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadError {
    /// Which step.
    pub step: LoadStep,
    /// Its status.
    pub status: NtStatus,
    /// A callout registered by the failed load could not be unregistered: WFP may still call
    /// into the image, so the shell must keep its device object (and with it the image).
    pub image_in_use: bool,
}

impl LoadError {
    /// A failure at `step` with `status`, after which nothing of the load remains.
    pub const fn new(step: LoadStep, status: NtStatus) -> Self {
        Self {
            step,
            status,
            image_in_use: false,
        }
    }
}
