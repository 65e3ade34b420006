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

/// Boxes `value` without panicking when memory is short. Allocates directly: `Box::new` ends in
/// alloc's panicking error handler, and a Vec brings its growth code into the image.
fn try_box<T>(value: T) -> Result<Box<T>, T> {
    let layout = core::alloc::Layout::new::<T>();
    if layout.size() == 0 {
        return Ok(Box::new(value));
    }
    // SAFETY: the layout has a non-zero size.
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
                .map_err(|failure| LoadError {
                    step: LoadStep::InjectionHandles,
                    status: failure.error.status(),
                })?;
        let capacity = parameters.max_in_flight.unwrap_or(config.max_in_flight);
        let injector = PacketInjector::new(handles, capacity, CompletionCounters::default())
            .map_err(|error| LoadError {
                step: LoadStep::DriverState,
                status: error.status(),
            })?;
        let state = try_box(CalloutState {
            #[cfg(debug_assertions)]
            canary: classify::Canary::new(),
            kernel: kernel.clone(),
            injector,
            config: parameters.inspection,
            counters: Default::default(),
            log,
        })
        .map_err(|_| LoadError {
            step: LoadStep::DriverState,
            status: NtStatus::INSUFFICIENT_RESOURCES,
        })?;
        let state = NonNull::from(Box::leak(state));
        let Some(registration) = instance::register(state.as_ptr().cast_const().cast()) else {
            // SAFETY: the state was leaked above and nothing refers to it; reclaimed once.
            drop(unsafe { Box::from_raw(state.as_ptr()) });
            return Err(LoadError {
                step: LoadStep::DriverState,
                status: NtStatus::INSUFFICIENT_RESOURCES,
            });
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
            Err(error) => {
                // Install removed what it created (callouts unregistered, session closed): no
                // classify can reach the instance. Retire it, then reclaim the state once.
                registration.retire();
                if registration.release().is_ok() {
                    // SAFETY: the state was leaked above; its instance is released, so nothing
                    // refers to it any more; reclaimed once.
                    drop(unsafe { Box::from_raw(state.as_ptr()) });
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
    /// 3. unregister the callouts, asking again while WFP says a classify holds one
    ///    (STATUS_DEVICE_BUSY), for up to [`objects::UNREGISTER_PATIENCE`];
    /// 4. drain the injections in flight (DPCs and completions);
    /// 5. delete the callouts, sublayer and provider and close the (dynamic) session;
    /// 6. free the state and destroy the injection handles.
    ///
    /// If a callout could not be unregistered, or a classify is still inside the instance, the
    /// state and the handles are leaked and logged, never freed: WFP may still call into them.
    /// Returns the first failure's status (for a log: unload cannot fail). Dropping a `Driver`
    /// does the same.
    pub fn unload(self) -> NtStatus {
        let mut this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so teardown runs once.
        unsafe { this.tear_down() }
    }

    /// # Safety
    /// Runs once; `self` is unusable afterwards.
    unsafe fn tear_down(&mut self) -> NtStatus {
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
        let still_registered = objects.still_registered();
        if !still_registered {
            shared.injector.drain();
        }
        first = first_failure(first, objects.remove_and_close());
        // A released slot stays retired until another instance claims it with a new generation:
        // late classifies through this instance's contexts permit without entering.
        let released = registration.release().is_ok();
        if still_registered || !released {
            // WFP may still call classify, or a classify is still inside: the state must stay.
            log.write(
                &kernel,
                Level::Error,
                &[
                    "unload: a callout stayed registered or in use; driver state leaked: ".into(),
                    first.into(),
                ],
            );
            return first_failure(first, NtStatus::DEVICE_BUSY);
        }
        // SAFETY: every callout is unregistered and the instance is released with no classify
        // inside: nothing can reach the state any more, so it is reclaimed once here.
        let state = unsafe { Box::from_raw(state.as_ptr()) };
        let CalloutState { injector, .. } = *state;
        if let Err((failure, _)) = injector.close() {
            first = first_failure(first, failure.error.status());
        }
        log.write(&kernel, Level::Info, &["unloaded: ".into(), first.into()]);
        first
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
