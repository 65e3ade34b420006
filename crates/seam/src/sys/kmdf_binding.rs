//! A KMDF client's binding to the framework: what the WDK's stub library (WdfDriverEntry.lib)
//! links into a KMDF driver, written here because that library cannot be linked without the
//! WDK. The Linux-built image runs it from its entry point (`FxDriverEntry` in the shell, over
//! wdfldr.sys through `crate::sys::kmdf_stub`); host tests run the same code over the
//! simulated wdfldr.
//!
//! [`Binding::enter`] binds KMDF 1.31 through `WdfVersionBind` with a version-1 `WDF_BIND_INFO`
//! naming the component `KmdfLibrary`, version 1.31 and the 1.31 function count (with version-1
//! bind information the version bound is also the oldest framework the driver loads on: Windows
//! 10 2004's); since KMDF 1.15 the loader answers by pointing the client's table pointer at the
//! framework's function table and handing out the driver's `WDF_DRIVER_GLOBALS`. It then runs
//! the driver's DriverEntry; when that fails it unbinds, when it succeeds and the framework asks
//! for it (`DisplaceDriverUnload`, set by WdfDriverCreate for a non-PnP driver with an
//! EvtDriverUnload) it puts the client's unload routine in front of the framework's, which
//! [`Binding::unload`] calls before unbinding. Bind and unbind get the same pool copy of the
//! registry path, so nothing depends on whether the loader keeps the bind-time pointer (the I/O
//! manager's copy is gone after DriverEntry). The protocol is Windows-Driver-Frameworks'
//! (fxldr.h, fxlibrarycommon.cpp, fxdriverapi.cpp); every number is a row of
//! facts/kernel-facts.md.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::nt::NtStatus;
use crate::nt::text::wide;
use crate::sys::types::{
    DRIVER_OBJECT, DRIVER_UNLOAD, KMDF_BUILD_NUMBER, KMDF_VERSION_MAJOR, KMDF_VERSION_MINOR,
    NTSTATUS, UNICODE_STRING, WDF_BIND_INFO, WDF_COMPONENT_KMDF_LIBRARY, WDF_DRIVER_GLOBALS,
    WDF_VERSION, WDFFUNC, WdfFunctionTableNumEntries,
};

/// `WDF_COMPONENT_NAME(KmdfLibrary)`, NUL-terminated.
static COMPONENT: [u16; 12] = wide(WDF_COMPONENT_KMDF_LIBRARY);

/// wdfldr.sys' two exports a client binds through.
pub trait WdfLoader {
    /// `WdfVersionBind`.
    ///
    /// # Safety
    /// PASSIVE_LEVEL; the pointers valid as wdfldr.sys requires; `info` lives until unbind.
    unsafe fn version_bind(
        &self,
        driver_object: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
        info: *mut WDF_BIND_INFO,
        globals: *mut *mut WDF_DRIVER_GLOBALS,
    ) -> NTSTATUS;

    /// `WdfVersionUnbind`.
    ///
    /// # Safety
    /// PASSIVE_LEVEL; `info` and `globals` are those of a successful bind, unbound once.
    unsafe fn version_unbind(
        &self,
        registry_path: *const UNICODE_STRING,
        info: *mut WDF_BIND_INFO,
        globals: *mut WDF_DRIVER_GLOBALS,
    ) -> NTSTATUS;
}

/// One client's binding: the bind information (the loader reads it and may write its
/// bookkeeping field, so it lives in writable memory for the whole binding), the table pointer
/// the loader sets, the globals it hands out, the displaced unload routine and the registry path
/// copy. The image has one in a static; a host test makes its own.
pub struct Binding {
    info: UnsafeCell<WDF_BIND_INFO>,
    /// The client's table pointer (`WdfFunctions`): set by the loader at bind, cleared at unbind.
    functions: AtomicPtr<Option<WDFFUNC>>,
    /// The driver globals the loader handed out (null: not bound).
    globals: AtomicPtr<WDF_DRIVER_GLOBALS>,
    /// The framework's unload routine, displaced by the client's (as an address; 0: none).
    original_unload: AtomicUsize,
    /// The UNICODE_STRING naming a pool copy of the registry path (NUL-terminated; `Length`
    /// bytes before the NUL, so the copy's size follows from it): bind and unbind get this one
    /// address, as the WDK stub passes its static copy to both.
    path: UnsafeCell<UNICODE_STRING>,
}

// SAFETY: `info` and `path` are written only during `enter` (PASSIVE_LEVEL, one thread, before
// any other use), by the loader during the bind it makes, and at unbind (one thread, after every
// other use); everything else is atomic.
unsafe impl Sync for Binding {}

impl Default for Binding {
    fn default() -> Self {
        Self::new()
    }
}

impl Binding {
    /// An unbound client.
    pub const fn new() -> Self {
        Self {
            info: UnsafeCell::new(WDF_BIND_INFO {
                Size: core::mem::size_of::<WDF_BIND_INFO>() as u32,
                Component: ptr::null(),
                Version: WDF_VERSION {
                    Major: KMDF_VERSION_MAJOR,
                    Minor: KMDF_VERSION_MINOR,
                    Build: KMDF_BUILD_NUMBER,
                },
                FuncCount: WdfFunctionTableNumEntries,
                FuncTable: ptr::null_mut(),
                Module: ptr::null_mut(),
            }),
            functions: AtomicPtr::new(ptr::null_mut()),
            globals: AtomicPtr::new(ptr::null_mut()),
            original_unload: AtomicUsize::new(0),
            path: UnsafeCell::new(UNICODE_STRING {
                Length: 0,
                MaximumLength: 0,
                Buffer: ptr::null_mut(),
            }),
        }
    }

    /// Binds the framework, runs `entry` (the driver's DriverEntry), unbinds when it fails;
    /// when it succeeds and the framework asks for it, puts `unload` in front of the framework's
    /// unload routine (`unload` must call [`Binding::unload`]).
    ///
    /// IRQL: PASSIVE_LEVEL, in the system process.
    ///
    /// # Safety
    /// Called once per load with the I/O manager's driver object and registry path (or null,
    /// refused); `self` outlives the binding.
    pub unsafe fn enter<L: WdfLoader>(
        &self,
        loader: &L,
        driver_object: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
        entry: impl FnOnce(*mut DRIVER_OBJECT, *const UNICODE_STRING) -> NTSTATUS,
        unload: DRIVER_UNLOAD,
    ) -> NTSTATUS {
        if driver_object.is_null() || registry_path.is_null() {
            return NtStatus::INVALID_PARAMETER.0;
        }
        // SAFETY: the I/O manager's registry path, valid for the call.
        if !unsafe { self.keep_registry_path(registry_path) } {
            return NtStatus::INSUFFICIENT_RESOURCES.0;
        }
        let info = self.info.get();
        // SAFETY: not bound yet (one load at a time): nothing else reads the bind information.
        unsafe { (*info).Component = COMPONENT.as_ptr() };
        // SAFETY: as above.
        unsafe { (*info).FuncTable = self.functions.as_ptr().cast() };
        let mut globals: *mut WDF_DRIVER_GLOBALS = ptr::null_mut();
        // SAFETY: PASSIVE_LEVEL; the bind information lives as long as `self`; `globals` is
        // writable; `self.path` names the pool copy, and both live until unbind.
        let status =
            unsafe { loader.version_bind(driver_object, self.path.get(), info, &mut globals) };
        if !NtStatus(status).is_success() || globals.is_null() {
            self.functions.store(ptr::null_mut(), Ordering::Release);
            self.free_registry_path();
            return if NtStatus(status).is_success() {
                NtStatus::UNSUCCESSFUL.0
            } else {
                status
            };
        }
        self.globals.store(globals, Ordering::Release);
        let status = entry(driver_object, registry_path);
        if !NtStatus(status).is_success() {
            self.unbind(loader);
            return status;
        }
        // SAFETY: the globals block the loader handed out stays valid until unbind.
        let displace = unsafe { (*globals).DisplaceDriverUnload } != 0;
        if displace {
            // SAFETY: the I/O manager's driver object, writable during the entry.
            let original = unsafe { (*driver_object).DriverUnload };
            self.original_unload
                .store(original.map_or(0, |f| f as usize), Ordering::Release);
            // SAFETY: as above.
            unsafe { (*driver_object).DriverUnload = Some(unload) };
        }
        NtStatus::SUCCESS.0
    }

    /// The displacing unload routine's work: the framework's unload (EvtDriverUnload, then the
    /// framework deletes its driver object), then unbind.
    ///
    /// IRQL: PASSIVE_LEVEL.
    ///
    /// # Safety
    /// The I/O manager's unload call for the driver this binding entered.
    pub unsafe fn unload<L: WdfLoader>(&self, loader: &L, driver_object: *mut DRIVER_OBJECT) {
        let original = self.original_unload.swap(0, Ordering::AcqRel);
        if original != 0 {
            // SAFETY: the address was a DRIVER_UNLOAD the framework installed (stored by enter).
            let original = unsafe { core::mem::transmute::<usize, DRIVER_UNLOAD>(original) };
            // SAFETY: the I/O manager's unload call, passed on once.
            unsafe { original(driver_object) };
        }
        self.unbind(loader);
    }

    /// `WdfVersionUnbind` with the kept registry path, then forgets the binding.
    ///
    /// IRQL: PASSIVE_LEVEL.
    pub fn unbind<L: WdfLoader>(&self, loader: &L) {
        let globals = self.globals.swap(ptr::null_mut(), Ordering::AcqRel);
        if !globals.is_null() {
            // SAFETY: `globals` came from the successful bind with this bind information and the
            // same registry path copy, and is unbound once (the swap above).
            let _ = unsafe { loader.version_unbind(self.path.get(), self.info.get(), globals) };
        }
        self.functions.store(ptr::null_mut(), Ordering::Release);
        self.free_registry_path();
    }

    /// The bound table's entry at `index` and the globals, or `None` when unbound, out of the
    /// table or empty.
    ///
    /// IRQL: any.
    pub fn function(&self, index: usize) -> Option<(WDFFUNC, *mut WDF_DRIVER_GLOBALS)> {
        let table = self.functions.load(Ordering::Acquire);
        let globals = self.globals.load(Ordering::Acquire);
        if table.is_null() || globals.is_null() || index >= WdfFunctionTableNumEntries as usize {
            return None;
        }
        // SAFETY: the loader's table has WdfFunctionTableNumEntries entries (the count bound) and
        // lives until unbind; `index` is below the count.
        let place = unsafe { table.add(index) };
        // SAFETY: as above; a null entry reads as `None`.
        let function = unsafe { place.read() }?;
        Some((function, globals))
    }

    /// Copies the registry path into pool, NUL-terminated, and points `self.path` at the copy
    /// (an empty path gives an empty string); false when the allocation fails.
    ///
    /// # Safety
    /// `path` is a valid UNICODE_STRING; nothing else uses `self.path` meanwhile (enter's
    /// contract).
    unsafe fn keep_registry_path(&self, path: *const UNICODE_STRING) -> bool {
        // SAFETY: the caller's contract.
        let path = unsafe { &*path };
        let units = usize::from(path.Length / 2);
        let mut kept = UNICODE_STRING {
            Length: 0,
            MaximumLength: 0,
            Buffer: ptr::null_mut(),
        };
        if units != 0 && !path.Buffer.is_null() {
            // One unit more for the NUL: a UNICODE_STRING need not end in one, but a copy that
            // does is what RtlCopyUnicodeString makes when there is room.
            let Ok(layout) = Layout::array::<u16>(units + 1) else {
                return false;
            };
            // SAFETY: the layout is non-zero-sized.
            let copy = unsafe { alloc::alloc::alloc(layout) }.cast::<u16>();
            if copy.is_null() {
                return false;
            }
            // SAFETY: both hold `units` UTF-16 units and do not overlap (`copy` is fresh).
            unsafe { ptr::copy_nonoverlapping(path.Buffer, copy, units) };
            // SAFETY: `copy` holds `units + 1` units, so `units` is in it.
            let end = unsafe { copy.add(units) };
            // SAFETY: as above.
            unsafe { end.write(0) };
            let bytes = (units * 2) as u16;
            kept = UNICODE_STRING {
                Length: bytes,
                // The NUL's unit too, where the count can say so (it cannot past 65533 bytes).
                MaximumLength: bytes.checked_add(2).unwrap_or(bytes),
                Buffer: copy,
            };
        }
        // SAFETY: the caller's contract: no one else reads or writes `self.path` now.
        unsafe { self.path.get().write(kept) };
        true
    }

    fn free_registry_path(&self) {
        let empty = UNICODE_STRING {
            Length: 0,
            MaximumLength: 0,
            Buffer: ptr::null_mut(),
        };
        // SAFETY: called by enter's failure path and by unbind, after the loader's last use of
        // the copy, with no other user of `self.path` (one load at a time); the header is
        // replaced by the empty one, so the copy is freed once.
        let kept = unsafe { self.path.get().replace(empty) };
        if kept.Buffer.is_null() {
            return;
        }
        if let Ok(layout) = Layout::array::<u16>(usize::from(kept.Length / 2) + 1) {
            // SAFETY: allocated by keep_registry_path with this layout (`Length / 2` units and
            // the NUL).
            unsafe { alloc::alloc::dealloc(kept.Buffer.cast(), layout) };
        }
    }
}
