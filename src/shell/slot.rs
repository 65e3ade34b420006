//! The loaded driver between DriverEntry and EvtDriverUnload: one allocation, one atomic pointer.
//! Generic over the kernel so that the image keeps one in a static and host tests their own.

use core::alloc::Layout;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::driver::Driver;
use crate::sys::KernelApi;
use crate::sys::types::{DRIVER_OBJECT, WDFDEVICE};

/// What DriverEntry leaves for EvtDriverUnload: the shared driver and its control device.
pub struct Loaded<K: KernelApi> {
    /// The shared driver.
    pub driver: Driver<K>,
    /// The control device, deleted after the driver unloads.
    pub device: WDFDEVICE,
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
        let layout = Layout::new::<Loaded<K>>();
        // SAFETY: the layout is non-zero-sized (a driver and a pointer).
        let block = unsafe { alloc::alloc::alloc(layout) }.cast::<Loaded<K>>();
        if block.is_null() {
            return Err(loaded);
        }
        // SAFETY: `block` is a fresh allocation of the right layout.
        unsafe { block.write(loaded) };
        if let Err(_full) = self.loaded.compare_exchange(
            ptr::null_mut(),
            block,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: `block` was written above and never published, so it is read once here.
            let loaded = unsafe { block.read() };
            // SAFETY: the value was moved out; the block came from `alloc` with this layout.
            unsafe { alloc::alloc::dealloc(block.cast(), layout) };
            return Err(loaded);
        }
        Ok(())
    }

    /// What [`Self::store`] kept, once.
    ///
    /// IRQL: PASSIVE_LEVEL.
    pub fn take(&self) -> Option<Loaded<K>> {
        let block = self.loaded.swap(ptr::null_mut(), Ordering::AcqRel);
        if block.is_null() {
            return None;
        }
        // SAFETY: `block` was written by `store` and is taken out exactly once (the swap above).
        let loaded = unsafe { block.read() };
        // SAFETY: the value was moved out above; the block came from `alloc` with this layout.
        unsafe { alloc::alloc::dealloc(block.cast(), Layout::new::<Loaded<K>>()) };
        Some(loaded)
    }
}
