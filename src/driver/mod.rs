//! The callout driver's logic, shared by both entry shells (WDM for the image built on Linux,
//! KMDF for the WDK build). A shell obtains a device object and an unload hook and calls
//! [`Driver::load`] and [`Driver::unload`]; everything else is here, generic over the seam so
//! host tests run it against the simulated stack.

pub mod classify;
pub mod config;
pub mod counters;
pub mod instance;
pub mod layers;
pub mod log;
pub mod objects;
pub(crate) mod text;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::NonNull;

pub use classify::{CalloutState, CompletionCounters, DriverInjector};
pub use config::{InspectionConfig, Parameters};
pub use counters::LayerSnapshot;
pub use layers::TransportLayer;
pub use objects::{LoadError, LoadStep};

use crate::inject::{DualStackInjector, InjectionTypes, PacketInjector, RetryPolicy};
use crate::nt::{DeviceObject, NtStatus, RegistryPath};
use crate::sys::KernelApi;
use instance::Registration;
use log::{Level, Log};
use objects::WfpObjects;

/// Load-time settings that do not come from the registry.
#[derive(Debug, Clone, Copy)]
pub struct DriverConfig {
    /// How long to wait for TCP/IP at load.
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

/// The injection types the driver's handles serve: transport send and receive reinjection.
pub const DRIVER_INJECTION_TYPES: InjectionTypes = InjectionTypes::TRANSPORT;

/// A loaded driver: injection handles, the state classify uses, and the WFP objects.
///
/// IRQL: [`load`](Self::load) and [`unload`](Self::unload) at PASSIVE_LEVEL.
pub struct Driver<K: KernelApi> {
    state: NonNull<CalloutState<K>>,
    /// The instance filters name; classify enters the state through it.
    registration: core::mem::ManuallyDrop<Registration>,
    /// Taken out once by teardown.
    objects: core::mem::ManuallyDrop<WfpObjects<K>>,
    device: DeviceObject,
    parameters: Parameters,
}

// SAFETY: the state is shared with classify (any thread) by design and only read through
// atomics and the injector; the device pointer is only carried.
unsafe impl<K: KernelApi + Send + Sync> Send for Driver<K> {}
// SAFETY: as above.
unsafe impl<K: KernelApi + Send + Sync> Sync for Driver<K> {}

/// Boxes `value` without panicking when memory is short.
fn try_box<T>(value: T) -> Result<Box<T>, T> {
    let mut slot = Vec::new();
    if slot.try_reserve_exact(1).is_err() {
        return Err(value);
    }
    slot.push(value);
    let raw = Box::into_raw(slot.into_boxed_slice()).cast::<T>();
    // SAFETY: a one-element boxed slice has T's layout; ownership moves to the new Box.
    Ok(unsafe { Box::from_raw(raw) })
}

impl<K: KernelApi> Driver<K> {
    /// Loads: reads the Parameters under `registry_path` (`None`: no configuration),
    /// creates the injection handles (waiting for TCP/IP as `config.retry` allows), the packet
    /// injector, then the WFP objects. On failure everything created so far is removed and the
    /// failing step and status come back.
    pub fn load(
        kernel: K,
        device: DeviceObject,
        registry_path: Option<RegistryPath<'_>>,
        config: &DriverConfig,
    ) -> Result<Self, LoadError> {
        let parameters = config::read_parameters(&kernel, registry_path, &Log::default());
        let log = Log {
            verbose: parameters.verbose,
        };
        let handles =
            DualStackInjector::create(kernel.clone(), DRIVER_INJECTION_TYPES, &config.retry)
                .map_err(|failure| {
                    LoadError::new(LoadStep::InjectionHandles, failure.error.status())
                })?;
        let capacity = parameters.max_in_flight.unwrap_or(config.max_in_flight);
        let injector = PacketInjector::new(handles, capacity, CompletionCounters::default())
            .map_err(|error| LoadError::new(LoadStep::DriverState, error.status()))?;
        let state = try_box(CalloutState {
            #[cfg(debug_assertions)]
            canary: classify::Canary::new(),
            kernel: kernel.clone(),
            injector,
            config: parameters.inspection,
            counters: Default::default(),
            log,
        })
        .map_err(|_| LoadError::new(LoadStep::DriverState, NtStatus::INSUFFICIENT_RESOURCES))?;
        let state = NonNull::from(Box::leak(state));
        let seed = kernel.ke_query_unbiased_interrupt_time();
        let Some(registration) = instance::register(state.as_ptr().cast_const().cast(), seed)
        else {
            // SAFETY: the state was leaked above and nothing refers to it; reclaimed once.
            drop(unsafe { Box::from_raw(state.as_ptr()) });
            return Err(LoadError::new(
                LoadStep::DriverState,
                NtStatus::INSUFFICIENT_RESOURCES,
            ));
        };
        let objects = WfpObjects::install(
            kernel.clone(),
            device,
            classify::classify::<K>,
            classify::notify,
            registration.id().raw_context(),
            &parameters.inspection,
        );
        let objects = match objects {
            Ok(objects) => objects,
            Err(mut error) => {
                // Install removed what it could. Free the state only if nothing can reach it:
                // every callout unregistered and no classify inside the instance.
                let releasable = !error.image_in_use;
                if release_instance(&kernel, registration, releasable) {
                    // SAFETY: the state was leaked above; its instance is released and no
                    // callout can call classify, so nothing refers to it; reclaimed once.
                    drop(unsafe { Box::from_raw(state.as_ptr()) });
                } else {
                    error.image_in_use = true;
                    log.write(&kernel, Level::Error, &[LEAKED.into()]);
                }
                log.write(
                    &kernel,
                    Level::Error,
                    &[
                        "load failed at ".into(),
                        error.step.into(),
                        ": ".into(),
                        error.status.into(),
                    ],
                );
                return Err(error);
            }
        };
        log.write(
            &kernel,
            Level::Info,
            &[
                "loaded: inspecting IPv4 ".into(),
                parameters
                    .inspection
                    .inspects(crate::inject::IpFamily::V4)
                    .into(),
                ", IPv6 ".into(),
                parameters
                    .inspection
                    .inspects(crate::inject::IpFamily::V6)
                    .into(),
                "; ".into(),
                capacity.into(),
                " contexts".into(),
            ],
        );
        Ok(Self {
            state,
            registration: core::mem::ManuallyDrop::new(registration),
            objects: core::mem::ManuallyDrop::new(objects),
            device,
            parameters,
        })
    }

    fn state(&self) -> &CalloutState<K> {
        // SAFETY: the state lives from `load` until `unload` consumes `self`.
        unsafe { self.state.as_ref() }
    }

    /// Unloads in the order that keeps every packet and every classify safe:
    /// 1. delete the filters (no new classify is dispatched for them);
    /// 2. retire the instance (a classify that still arrives, through a filter whose delete
    ///    failed, permits without touching the state);
    /// 3. unregister the callouts, asking again while WFP says one is busy
    ///    (STATUS_DEVICE_BUSY), for up to [`objects::UNREGISTER_PATIENCE`];
    /// 4. wait for classifies still inside the instance to leave (same bound), release it;
    /// 5. drain the injections in flight (DPCs and completions);
    /// 6. delete the callouts, sublayer and provider and close the (dynamic) session;
    /// 7. free the state and destroy the injection handles.
    ///
    /// If a callout could not be unregistered, or a classify is still inside the instance, the
    /// state and the handles are leaked and logged, never freed: WFP may still call into them.
    /// Returns the first failure's status (for a log: unload cannot fail). Dropping a `Driver`
    /// does the same.
    pub fn unload(self) -> NtStatus {
        self.unload_for_shell().status
    }

    /// [`unload`](Self::unload), also saying whether the image must stay mapped: a shell whose
    /// driver reports [`Unloaded::image_in_use`] keeps its device object, so the I/O manager
    /// keeps the image that WFP may still call.
    pub fn unload_for_shell(self) -> Unloaded {
        let mut this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so teardown runs once.
        unsafe { this.tear_down() }
    }

    /// # Safety
    /// Runs once; `self` is unusable afterwards.
    unsafe fn tear_down(&mut self) -> Unloaded {
        let state = self.state;
        // SAFETY: the state lives until reclaimed at the end of this function.
        let shared = unsafe { state.as_ref() };
        let log = shared.log;
        let kernel = shared.kernel.clone();
        // SAFETY: taken once; the fields are never used again (caller's contract).
        let mut objects = unsafe { core::mem::ManuallyDrop::take(&mut self.objects) };
        // SAFETY: as above.
        let registration = unsafe { core::mem::ManuallyDrop::take(&mut self.registration) };
        let mut first = objects.remove_filters();
        registration.retire();
        first = first_failure(first, objects.unregister_callouts());
        let releasable = !objects.still_registered();
        let released = release_instance(&kernel, registration, releasable);
        if released {
            shared.injector.drain();
        }
        first = first_failure(first, objects.remove_and_close());
        if !released {
            // WFP may still call classify, or a classify is still inside: the state must stay,
            // and so must the image (the shell keeps its device object).
            log.write(&kernel, Level::Error, &[LEAKED.into(), first.into()]);
            return Unloaded {
                status: first_failure(first, NtStatus::DEVICE_BUSY),
                image_in_use: true,
            };
        }
        // SAFETY: every callout is unregistered and the instance is released with no classify
        // inside: nothing can reach the state any more, so it is reclaimed once here.
        let state = unsafe { Box::from_raw(state.as_ptr()) };
        log_counters(&kernel, &log, &state.counters);
        let CalloutState { injector, .. } = *state;
        if let Err((failure, _)) = injector.close() {
            first = first_failure(first, failure.error.status());
        }
        log.write(&kernel, Level::Info, &["unloaded: ".into(), first.into()]);
        Unloaded {
            status: first,
            image_in_use: false,
        }
    }

    /// The packet injector.
    pub fn injector(&self) -> &DriverInjector<K> {
        &self.state().injector
    }

    /// The counters of `layer` now.
    pub fn counters(&self, layer: TransportLayer) -> LayerSnapshot {
        self.state().counters.snapshot(layer)
    }

    /// Reinjections completed: (succeeded, failed).
    pub fn completions(&self) -> (u64, u64) {
        let counters = self.state().injector.handler();
        (
            counters
                .succeeded
                .load(core::sync::atomic::Ordering::Relaxed),
            counters.failed.load(core::sync::atomic::Ordering::Relaxed),
        )
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
    /// A callout could not be unregistered or a classify did not leave the instance: the state
    /// was leaked and WFP may still call the image's classify.
    pub image_in_use: bool,
}

const LEAKED: &str = "a callout stayed registered or in use; driver state leaked: ";

/// Retires the instance and waits (every [`objects::UNREGISTER_POLL`], for up to
/// [`objects::UNREGISTER_PATIENCE`]) for classifies still inside it, then releases its slot.
/// True when the state may be freed: `releasable` (every callout unregistered) and the slot
/// released with no classify inside.
///
/// IRQL: PASSIVE_LEVEL (it sleeps).
fn release_instance<K: KernelApi>(
    kernel: &K,
    registration: Registration,
    releasable: bool,
) -> bool {
    registration.retire();
    let mut waited = core::time::Duration::ZERO;
    let mut registration = registration;
    loop {
        match registration.release() {
            Ok(()) => return releasable,
            Err(still_used) => registration = still_used,
        }
        if waited >= objects::UNREGISTER_PATIENCE
            || crate::nt::time::sleep(kernel, objects::UNREGISTER_POLL).is_err()
        {
            return false;
        }
        waited += objects::UNREGISTER_POLL;
    }
}

fn first_failure(first: NtStatus, next: NtStatus) -> NtStatus {
    if first.is_success() { next } else { first }
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

/// Issue 12: each layer's classify outcomes, logged at unload (the image's only way to show
/// them). Layers that classified nothing are left out.
///
/// IRQL: PASSIVE_LEVEL (unload).
fn log_counters<K: KernelApi>(kernel: &K, log: &Log, counters: &counters::Counters) {
    for layer in TransportLayer::ALL {
        let c = counters.snapshot(layer);
        if c.classified == 0 {
            continue;
        }
        let n = |value: u64| log::Arg::from(u32::try_from(value).unwrap_or(u32::MAX));
        log.write(
            kernel,
            Level::Info,
            &[
                layer.into(),
                ": classified ".into(),
                n(c.classified),
                ", reinjected ".into(),
                n(c.reinjected),
                ", own ".into(),
                n(c.skipped_own),
                ", loopback ".into(),
                n(c.skipped_loopback),
                ", ale ".into(),
                n(c.skipped_ale_classify_required),
                ", ipsec ".into(),
                n(c.skipped_ipsec),
                ", tcp-below-dispatch ".into(),
                n(c.skipped_tcp_below_dispatch),
                ", no-headroom ".into(),
                n(c.skipped_no_headroom),
                ", checksum ".into(),
                n(c.checksum_recomputed),
                ", malformed ".into(),
                n(c.malformed),
                ", failed ".into(),
                n(c.failed),
            ],
        );
    }
}
