//! The driver's logic, shared by both entry shells (WDM for the image built on Linux, KMDF for
//! the WDK build). A shell obtains a device object and an unload hook; everything else is here,
//! generic over the seam so host tests run it against the simulated stack.

use crate::error::Error;
use crate::inject::{
    ClonedNetBufferList, DualStackError, DualStackInjector, FreeOnCompletion, InjectionTypes,
    PacketInjector, RetryPolicy,
};
use crate::nt::NtStatus;
use crate::sys::KernelApi;
use crate::sys::types::DEVICE_OBJECT;

/// What the driver needs at load.
#[derive(Debug, Clone, Copy)]
pub struct DriverConfig {
    /// How long to wait for TCP/IP at load.
    pub retry: RetryPolicy,
    /// Injections in flight at once (per-injection contexts preallocated at load).
    pub max_in_flight: u32,
}

impl Default for DriverConfig {
    /// The default retry policy; 1024 contexts (about 350 KiB of non-paged pool), enough for a
    /// burst of a thousand reinjected packets before new ones are permitted unmodified.
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            max_in_flight: 1024,
        }
    }
}

/// The driver's injector: clones of classified packets, freed when their injection completes.
pub type DriverInjector<K> = PacketInjector<K, FreeOnCompletion<ClonedNetBufferList<K>>>;

/// The injection types the driver's handles serve: transport send and receive reinjection.
pub const DRIVER_INJECTION_TYPES: InjectionTypes = InjectionTypes::TRANSPORT;

/// A loaded driver: everything created at load, released at unload in reverse order.
///
/// IRQL: [`load`](Self::load) and [`unload`](Self::unload) at PASSIVE_LEVEL.
#[derive(Debug)]
pub struct Driver<K: KernelApi> {
    injector: DriverInjector<K>,
    device: *mut DEVICE_OBJECT,
}

// SAFETY: the device pointer is only carried (for WFP callout registration); the kernel allows
// it to be used from any thread.
unsafe impl<K: KernelApi + Send> Send for Driver<K> {}
// SAFETY: as above; shared access never writes through the pointer.
unsafe impl<K: KernelApi + Sync> Sync for Driver<K> {}

impl<K: KernelApi + Clone> Driver<K> {
    /// Creates the dual-stack injection handles (waiting for TCP/IP as `config.retry` allows)
    /// and the packet injector over them. On failure nothing is left behind.
    pub fn load(
        kernel: K,
        device: *mut DEVICE_OBJECT,
        config: &DriverConfig,
    ) -> Result<Self, DualStackError> {
        let handles = DualStackInjector::create(kernel, DRIVER_INJECTION_TYPES, &config.retry)?;
        let injector =
            PacketInjector::freeing_clones(handles, config.max_in_flight).map_err(|error| {
                DualStackError {
                    family: None,
                    error,
                }
            })?;
        Ok(Self { injector, device })
    }
}

impl<K: KernelApi> Driver<K> {
    /// Releases everything [`load`](Self::load) created and returns the first failure's status
    /// (for a log; unload cannot fail).
    pub fn unload(self) -> NtStatus {
        match self.injector.close() {
            Ok(()) => NtStatus::SUCCESS,
            Err((failure, unclosed)) => {
                // Only an IRQL failure hands the injector back; dropping it then is still the
                // best remaining option, and Drop asserts the IRQL in debug builds.
                drop(unclosed);
                failure.error.status()
            }
        }
    }

    /// The packet injector.
    pub fn injector(&self) -> &DriverInjector<K> {
        &self.injector
    }

    /// The device object the shell created, for WFP callout registration.
    pub fn device(&self) -> *mut DEVICE_OBJECT {
        self.device
    }
}

impl From<DualStackError> for Error {
    fn from(failure: DualStackError) -> Self {
        failure.error
    }
}
