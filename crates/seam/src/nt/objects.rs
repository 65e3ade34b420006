//! Kernel objects the entry shell hands to the driver, validated once at the boundary.

use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::sys::types::{DEVICE_OBJECT, UNICODE_STRING};

/// The driver's device object (from IoCreateDevice or WdfDeviceWdmGetDeviceObject).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceObject(NonNull<DEVICE_OBJECT>);

// SAFETY: a device object pointer may be used from any thread; this type only carries it.
unsafe impl Send for DeviceObject {}
// SAFETY: as above.
unsafe impl Sync for DeviceObject {}

impl DeviceObject {
    /// Wraps a device object; `None` for null.
    ///
    /// # Safety
    /// A non-null `raw` is a device object of this driver that outlives every use of the value
    /// (the shell deletes it only after the driver has unloaded).
    pub unsafe fn from_raw(raw: *mut DEVICE_OBJECT) -> Option<Self> {
        NonNull::new(raw).map(Self)
    }

    /// The raw pointer, for kernel calls.
    pub fn as_raw(self) -> *mut DEVICE_OBJECT {
        self.0.as_ptr()
    }
}

/// The service's registry key path, as DriverEntry receives it.
#[derive(Debug, Clone, Copy)]
pub struct RegistryPath<'a> {
    raw: NonNull<UNICODE_STRING>,
    _borrow: PhantomData<&'a UNICODE_STRING>,
}

impl RegistryPath<'_> {
    /// Wraps DriverEntry's registry path; `None` for null.
    ///
    /// # Safety
    /// A non-null `raw` is a valid UNICODE_STRING for the borrow's lifetime.
    pub unsafe fn from_raw(raw: *const UNICODE_STRING) -> Option<Self> {
        NonNull::new(raw.cast_mut()).map(|raw| Self {
            raw,
            _borrow: PhantomData,
        })
    }

    /// The raw pointer, for kernel calls.
    pub fn as_raw(self) -> *const UNICODE_STRING {
        self.raw.as_ptr()
    }
}
