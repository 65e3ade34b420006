//! The loaded driver between DriverEntry and EvtDriverUnload: one allocation, one atomic pointer.
//! Generic over the kernel so that the image keeps one in a static and host tests their own.

use alloc::boxed::Box;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::driver::{Driver, try_box};
use crate::sys::KernelApi;
use crate::sys::types::{DRIVER_OBJECT, WDFDEVICE, WDFQUEUE};

/// What DriverEntry leaves for EvtDriverUnload: the shared driver and its control device.
pub struct Loaded<K: KernelApi> {
    /// The shared driver.
    pub driver: Driver<K>,
    /// The control device, deleted after the driver unloads.
    pub device: WDFDEVICE,
    /// The control device's default queue, purged before the driver unloads.
    pub queue: WDFQUEUE,
    /// The I/O manager's driver object, pinned if the driver must outlive its unload.
    pub driver_object: *mut DRIVER_OBJECT,
}

/// Holds one [`Loaded`] from DriverEntry to EvtDriverUnload.
pub struct Slot<K: KernelApi> {
    loaded: AtomicPtr<Loaded<K>>,
}

impl<K: KernelApi> Default for Slot<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: KernelApi> Slot<K> {
    /// An empty slot.
    pub const fn new() -> Self {
        Self {
            loaded: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Keeps `loaded` until [`Self::take`]. On allocation failure (or when the slot is already
    /// full) it comes back, for the caller to unload.
    ///
    /// IRQL: PASSIVE_LEVEL.
    pub fn store(&self, loaded: Loaded<K>) -> Result<(), Loaded<K>> {
        let block = Box::into_raw(try_box(loaded)?);
        if let Err(_full) = self.loaded.compare_exchange(
            ptr::null_mut(),
            block,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: `block` came from Box::into_raw above and was never published.
            let loaded = unsafe { Box::from_raw(block) };
            return Err(*loaded);
        }
        Ok(())
    }

    /// What [`Self::store`] kept, without taking it.
    ///
    /// Any IRQL.
    ///
    /// # Safety
    /// Nothing takes the slot while the reference lives: the caller is a request the control
    /// device's queue presented (unload purges the queue, which waits for it, before it takes
    /// the slot), or unload itself before it takes the slot.
    pub unsafe fn peek(&self) -> Option<&Loaded<K>> {
        let block = self.loaded.load(Ordering::Acquire);
        // SAFETY: non-null blocks came from Box::into_raw in `store` and are freed only by
        // `take`, which the caller's contract keeps away while the reference lives.
        unsafe { block.as_ref() }
    }

    /// What [`Self::store`] kept, once.
    ///
    /// IRQL: PASSIVE_LEVEL.
    pub fn take(&self) -> Option<Loaded<K>> {
        let block = self.loaded.swap(ptr::null_mut(), Ordering::AcqRel);
        if block.is_null() {
            return None;
        }
        // SAFETY: `block` came from Box::into_raw in `store` and is taken out exactly once (the
        // swap above).
        let loaded = unsafe { Box::from_raw(block) };
        Some(*loaded)
    }
}
