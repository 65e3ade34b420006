//! The callout driver's logic, shared by every build: the KMDF shell (`crate::shell::kmdf`, one
//! source for the image built on Linux, the WDK build and host tests) obtains a device object and
//! an unload hook and calls [`Driver::load`] and [`Driver::unload`]; everything else is here,
//! generic over the seam so host tests run it against the simulated stack.

pub mod classify;
pub(crate) mod compiled_rule;
pub mod config;
pub mod control;
pub mod counters;
pub mod deferred;
pub mod instance;
pub mod layers;
pub mod load_error;
pub mod log;
pub mod network_classify;
pub mod objects;
pub(crate) mod persisted;
pub(crate) mod persisted_format;
pub mod power;
pub mod rules;

// The WDK build asserts the driver's own values against the WDK headers at compile time.
#[cfg(all(windows, feature = "wdk"))]
mod wdk_check;

use alloc::boxed::Box;
use core::ptr::NonNull;

pub use classify::{CalloutState, CompletionCounters, DriverInjector};
pub use config::{InspectionConfig, Parameters};
pub use counters::LayerSnapshot;
pub use deferred::Progress;
pub use layers::{CalloutLayer, NetworkLayer, TransportLayer};
pub use load_error::{LoadError, LoadStep};

use crate::inject::{InjectionTypes, RetryPolicy};
use crate::nt::{DeviceObject, NtStatus, RegistryPath};
use crate::sys::KernelApi;
use deferred::Loader;
use log::{Level, Log};

/// Load-time settings that do not come from the registry.
#[derive(Debug, Clone, Copy)]
pub struct DriverConfig {
    /// How the work item retries the injection handles while TCP/IP is not ready (DriverEntry
    /// itself makes one attempt and never waits).
    pub retry: RetryPolicy,
    /// Injections in flight at once, unless the registry's `MaxInFlight` says otherwise.
    pub max_in_flight: u32,
}

impl Default for DriverConfig {
    /// The default retry policy; 1024 contexts (about 350 KiB of non-paged pool), enough for a
    /// burst of a thousand reinjected packets before further ones are permitted unmodified.
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            max_in_flight: 1024,
        }
    }
}

/// The injection types the driver's handles serve: transport send and receive reinjection at
/// the transport layers, network send and receive reinjection at the IP packet layers. One
/// handle per family serves both, so that the injection-state query with it recognizes a clone
/// this driver injected at either kind of layer when it comes to the other.
pub const DRIVER_INJECTION_TYPES: InjectionTypes = match InjectionTypes::from_bits(
    InjectionTypes::TRANSPORT.bits() | InjectionTypes::NETWORK.bits(),
) {
    Ok(types) => types,
    Err(_) => panic!("transport | network are defined injection types"),
};

/// A driver that DriverEntry loaded, or is loading: [`progress`](Self::progress) says whether
/// it waits for TCP/IP or BFE, is loaded, or stays inert after a later failure.
///
/// IRQL: [`load`](Self::load) and [`unload`](Self::unload) at PASSIVE_LEVEL; the accessors at
/// any IRQL.
pub struct Driver<K: KernelApi> {
    /// The deferred load's block (see [`deferred`]): the work item's and BFE callback's context.
    loader: NonNull<Loader<K>>,
    device: DeviceObject,
    parameters: Parameters,
}

// SAFETY: the loader is shared with classify, the work item and the BFE callback (any thread)
// by design and only touched through atomics, the token protocol and the injector; the device
// pointer is only carried.
unsafe impl<K: KernelApi + Send + Sync> Send for Driver<K> {}
// SAFETY: as above.
unsafe impl<K: KernelApi + Send + Sync> Sync for Driver<K> {}

/// Boxes `value` without panicking when memory is short. Allocates directly: `Box::new` ends in
/// alloc's panicking error handler, and a Vec brings its growth code into the image.
pub(crate) fn try_box<T>(value: T) -> Result<Box<T>, T> {
    // Only blocks of driver state are boxed: a zero-sized type would need no allocation, and
    // `alloc` must not be asked for zero bytes.
    const { assert!(size_of::<T>() != 0, "try_box of a zero-sized type") };
    let layout = core::alloc::Layout::new::<T>();
    // SAFETY: the layout has a non-zero size (asserted at compile time above).
    let raw = unsafe { alloc::alloc::alloc(layout) }.cast::<T>();
    if raw.is_null() {
        return Err(value);
    }
    // SAFETY: a fresh block with T's layout.
    unsafe { raw.write(value) };
    // SAFETY: the block came from the global allocator with T's layout, which is what Box frees
    // with, and holds a T; ownership moves to the Box.
    Ok(unsafe { Box::from_raw(raw) })
}

impl<K: KernelApi> Driver<K> {
    /// DriverEntry's part of loading, which never waits: reads the Parameters under
    /// `registry_path` (`None`: no configuration), makes one attempt at the injection handles
    /// (with the packet injector and the state classify uses), allocates the work item,
    /// subscribes to BFE state changes, and, if the handles exist and BFE runs, adds the WFP
    /// objects. Whatever is not ready yet (TCP/IP: STATUS_FWP_TCPIP_NOT_READY; BFE not running)
    /// is finished later by the work item and the BFE callback, in either order: the driver is
    /// returned "waiting" (see [`progress`](Self::progress)).
    ///
    /// On any other failure everything created so far is removed and the failing step and
    /// status come back.
    pub fn load(
        kernel: K,
        device: DeviceObject,
        registry_path: Option<RegistryPath<'_>>,
        config: &DriverConfig,
    ) -> Result<Self, LoadError> {
        let mut parameters = Parameters::default();
        let persisted =
            config::read_parameters(&kernel, registry_path, &Log::default(), &mut parameters);
        let log = Log {
            verbose: parameters.verbose,
        };
        if let Err(error) = config.retry.validate() {
            let error = LoadError::new(
                LoadStep::InjectionHandles,
                crate::Error::InvalidInput(error).status(),
            );
            return Err(log_load_failure(&kernel, log, error));
        }
        let capacity = parameters.max_in_flight.unwrap_or(config.max_in_flight);
        // A persisting change comes after DriverEntry returned, when the I/O manager's path is
        // gone: the driver keeps a copy.
        let service_key = match registry_path.map(persisted::ServiceKey::copy).transpose() {
            Ok(service_key) => service_key.flatten(),
            Err(status) => {
                let error = LoadError::new(LoadStep::DriverState, status);
                return Err(log_load_failure(&kernel, log, error));
            }
        };
        // The rules a control request persisted, when valid, else the Inspect* values.
        let rules = match persisted {
            Some(config) => rules::Rules::from_config(&config),
            None => rules::Rules::from_registry(&parameters.inspection, parameters.verbose),
        };
        let loader = Loader::new(
            kernel.clone(),
            device,
            rules,
            service_key,
            capacity,
            config.retry,
            log,
        );
        let Ok(loader) = try_box(loader) else {
            let error = LoadError::new(LoadStep::DriverState, NtStatus::INSUFFICIENT_RESOURCES);
            return Err(log_load_failure(&kernel, log, error));
        };
        let driver = Self {
            loader: NonNull::from(Box::leak(loader)),
            device,
            parameters,
        };
        match driver.loader().enter() {
            Ok(()) => Ok(driver),
            Err(mut error) => {
                driver.loader().abandon_entry();
                // Unload removes exactly what DriverEntry created before the failure.
                error.image_in_use |= driver.unload_for_shell().image_in_use;
                Err(log_load_failure(&kernel, log, error))
            }
        }
    }

    fn loader(&self) -> &Loader<K> {
        // SAFETY: the loader lives from `load` until `tear_down` frees it, and `tear_down`
        // consumes the driver.
        unsafe { self.loader.as_ref() }
    }

    /// Where the load stands: waiting for TCP/IP or BFE, loaded, or inert. Any IRQL.
    pub fn progress(&self) -> Progress {
        self.loader().progress()
    }

    /// Unloads from any point of the load, in the order that keeps every packet and every
    /// classify safe:
    /// 1. remove the sleep routine: set its closing flag (a routine waiting for injections
    ///    stops waiting), ExUnregisterCallback (it is not called again), ObfDereferenceObject
    ///    on `\Callback\PowerState` (docs/unload.md);
    /// 2. stop the deferred load: no new work item run is queued; unsubscribe from BFE state
    ///    changes (FwpmBfeStateUnsubscribeChanges0, which waits for a callback in progress);
    ///    wait for a run in progress (a backoff wait looks at the cancel bit every
    ///    [`deferred::CANCEL_POLL`]); free the work item;
    /// 3. delete the filters (no new classify is dispatched for them);
    /// 4. retire the instance (a classify that still arrives, through a filter whose delete
    ///    failed, permits without touching the state);
    /// 5. unregister the callouts, asking again while WFP says one is busy
    ///    (STATUS_DEVICE_BUSY), for up to [`objects::UNREGISTER_PATIENCE`];
    /// 6. wait for classifies still inside the instance to leave (same bound), release it;
    /// 7. drain the injections in flight (DPCs and completions);
    /// 8. delete the callouts, sublayer and provider and close the (dynamic) session;
    /// 9. free the state and destroy the injection handles.
    ///
    /// Only what was created is removed. If a callout could not be unregistered, or a classify
    /// is still inside the instance, the state and the handles are leaked and logged, never
    /// freed: WFP may still call into them; likewise the load's block if the BFE subscription
    /// could not be removed or a work item run never ended. Returns the first failure's status
    /// (for a log: unload cannot fail). Dropping a `Driver` does the same.
    pub fn unload(self) -> NtStatus {
        self.unload_for_shell().status
    }

    /// [`unload`](Self::unload), also saying whether the image must stay mapped: a shell whose
    /// driver reports [`Unloaded::image_in_use`] pins its driver object, so the I/O manager
    /// keeps the image that WFP (or a BFE callback, or a work item) may still call.
    pub fn unload_for_shell(self) -> Unloaded {
        let mut this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so teardown runs once.
        unsafe { this.tear_down() }
    }

    /// # Safety
    /// Runs once; `self` is unusable afterwards.
    unsafe fn tear_down(&mut self) -> Unloaded {
        let loader = self.loader();
        let kernel = loader_kernel(loader);
        let log = Log {
            verbose: self.parameters.verbose,
        };
        let (first, loader_free) = loader.tear_down();
        if loader_free {
            // SAFETY: the BFE subscription is removed, the work item is freed with no run in
            // progress, and the state is gone: nothing refers to the loader; reclaimed once.
            drop(unsafe { Box::from_raw(self.loader.as_ptr()) });
        }
        log.write(&kernel, Level::Info, &["unloaded: ".into(), first.into()]);
        Unloaded {
            status: first,
            image_in_use: !loader_free,
        }
    }

    /// The packet injector, once the injection handles exist.
    pub fn injector(&self) -> Option<&DriverInjector<K>> {
        self.loader().state().map(|state| &state.injector)
    }

    /// The counters of `layer` now (zeros before the handles exist).
    pub fn counters(&self, layer: impl Into<CalloutLayer>) -> LayerSnapshot {
        self.loader()
            .state()
            .map(|state| state.counters.snapshot(layer))
            .unwrap_or_default()
    }

    /// The counters of `layer` that processor `index` added (zeros before the handles exist): one
    /// term of [`counters`](Self::counters), for diagnostics and tests.
    pub fn counters_on(&self, index: u32, layer: TransportLayer) -> LayerSnapshot {
        self.loader()
            .state()
            .map(|state| state.counters.layer_on(index, layer).snapshot())
            .unwrap_or_default()
    }

    /// Reinjections completed: (succeeded, failed), summed over the processors.
    pub fn completions(&self) -> (u64, u64) {
        let Some(state) = self.loader().state() else {
            return (0, 0);
        };
        state.injector.handler().totals()
    }

    /// The inspection rules in force (the registry's at load, or the last control-channel
    /// change). PASSIVE_LEVEL; not concurrently with [`Self::set_rules`] (control requests are
    /// presented one at a time).
    pub fn rules(&self) -> &rules::Rules {
        self.loader().rules()
    }

    /// The rules' generation: opaque, different per load, one more at every change, never 0.
    /// Any IRQL.
    pub fn rules_generation(&self) -> u32 {
        self.loader().generation()
    }

    /// Replaces the inspection rules: the filters in one transaction, then classify's copy
    /// (see [`deferred`]'s reconfigure). `expected`: 0, or the generation the change was based
    /// on (STATUS_RETRY if the rules changed since). `persist`: also written to
    /// `Parameters\InspectRules` for the next load ([`persisted`]). On failure nothing changed.
    /// PASSIVE_LEVEL; one call at a time (the control queue is sequential).
    pub fn set_rules(
        &self,
        rules: &rules::Rules,
        expected: u32,
        persist: bool,
    ) -> Result<(), NtStatus> {
        self.loader().set_rules(rules, expected, persist)
    }

    /// What the registry configured.
    pub fn parameters(&self) -> &Parameters {
        &self.parameters
    }

    /// The device object the shell created, for WFP callout registration.
    pub fn device(&self) -> DeviceObject {
        self.device
    }
}

/// What unload left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unloaded {
    /// The first failure's status (for a log: unload cannot fail); `STATUS_DEVICE_BUSY` when the
    /// state had to be leaked.
    pub status: NtStatus,
    /// Something of the driver may still be called: a callout could not be unregistered, a
    /// classify did not leave the instance, the BFE subscription could not be removed or a work
    /// item run never ended. The state was leaked; the image must stay mapped.
    pub image_in_use: bool,
}

fn loader_kernel<K: KernelApi>(loader: &Loader<K>) -> K {
    loader.kernel()
}

/// Logs a failed DriverEntry and hands the error back.
fn log_load_failure<K: KernelApi>(kernel: &K, log: Log, error: LoadError) -> LoadError {
    log.write(
        kernel,
        Level::Error,
        &[
            "load failed at ".into(),
            error.step.into(),
            ": ".into(),
            error.status.into(),
        ],
    );
    error
}

impl<K: KernelApi> Drop for Driver<K> {
    /// The backstop for a driver that was not unloaded explicitly: the same teardown.
    fn drop(&mut self) {
        // SAFETY: Drop runs once and only when `unload` did not (it wraps self in ManuallyDrop).
        let _ = unsafe { self.tear_down() };
    }
}

impl<K: KernelApi> core::fmt::Debug for Driver<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("parameters", &self.parameters)
            .finish_non_exhaustive()
    }
}
