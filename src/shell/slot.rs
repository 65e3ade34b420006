//! The loaded driver between the entry and the unload callback: one pool block, one atomic
//! pointer. Shared by both shells so that neither holds more than a device and an unload hook.

use core::alloc::Layout;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::driver::Driver;
use crate::sys::windows::WindowsKernel;

static LOADED: AtomicPtr<Driver<WindowsKernel>> = AtomicPtr::new(ptr::null_mut());

/// Keeps `driver` until [`take`]. On allocation failure the driver comes back, for the shell to
/// unload.
pub fn store(driver: Driver<WindowsKernel>) -> Result<(), Driver<WindowsKernel>> {
    let layout = Layout::new::<Driver<WindowsKernel>>();
    // SAFETY: the layout is non-zero-sized.
    let slot = unsafe { alloc::alloc::alloc(layout) }.cast::<Driver<WindowsKernel>>();
    if slot.is_null() {
        return Err(driver);
    }
    // SAFETY: `slot` is a fresh allocation of the right layout.
    unsafe { slot.write(driver) };
    LOADED.store(slot, Ordering::Release);
    Ok(())
}

/// The driver stored by [`store`], once.
pub fn take() -> Option<Driver<WindowsKernel>> {
    let slot = LOADED.swap(ptr::null_mut(), Ordering::Acquire);
    if slot.is_null() {
        return None;
    }
    // SAFETY: `slot` was written by `store` and is taken out exactly once (the swap above).
    let driver = unsafe { slot.read() };
    // SAFETY: the value was moved out above; the block came from `alloc` with this layout.
    unsafe { alloc::alloc::dealloc(slot.cast(), Layout::new::<Driver<WindowsKernel>>()) };
    Some(driver)
}
