//! The Linux-built image's KMDF binding: what the WDK's stub library (WdfDriverEntry.lib) links
//! into a KMDF driver, written here because that library cannot be linked without the WDK.
//!
//! The image's entry point, [`FxDriverEntry`], binds to KMDF 1.33 through wdfldr.sys'
//! `WdfVersionBind` with a `WDF_BIND_INFO` naming the component `KmdfLibrary`, version 1.33 and
//! the 1.33 function count; since KMDF 1.15 the loader answers by pointing the client's table
//! pointer ([`FUNCTIONS`]) at the framework's function table and handing out the driver's
//! `WDF_DRIVER_GLOBALS`. It then runs the KMDF shell's DriverEntry; when that fails it unbinds,
//! when it succeeds and the framework asks for it (`DisplaceDriverUnload`, set by WdfDriverCreate
//! for a non-PnP driver with an EvtDriverUnload) it puts [`fx_driver_unload`] in front of the
//! framework's unload routine, which then unbinds after the framework has unloaded the driver.
//! The protocol is Windows-Driver-Frameworks' (fxldr.h, fxlibrarycommon.cpp, fxdriverapi.cpp);
//! every number is a row of facts/kernel-facts.md.
//!
//! Every WDF call ([`WdfApi`] for [`WindowsKernel`]) reads the table entry at the function's
//! WDFFUNCENUM index and calls it with the globals first.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU16, AtomicUsize, Ordering};

use super::WdfApi;
use super::types::{
    BOOLEAN, DEVICE_OBJECT, DRIVER_OBJECT, DRIVER_UNLOAD, KMDF_BUILD_NUMBER, KMDF_VERSION_MAJOR,
    KMDF_VERSION_MINOR, NTSTATUS, PFN_WDFCONTROLDEVICEINITALLOCATE,
    PFN_WDFCONTROLFINISHINITIALIZING, PFN_WDFDEVICECREATE, PFN_WDFDEVICEINITFREE,
    PFN_WDFDEVICEINITSETCHARACTERISTICS, PFN_WDFDEVICEINITSETDEVICETYPE,
    PFN_WDFDEVICEWDMGETDEVICEOBJECT, PFN_WDFDRIVERCREATE, PFN_WDFOBJECTDELETE, PWDFDEVICE_INIT,
    UNICODE_STRING, WDF_BIND_INFO, WDF_COMPONENT_KMDF_LIBRARY, WDF_DRIVER_CONFIG,
    WDF_DRIVER_GLOBALS, WDF_VERSION, WDFDEVICE, WDFDRIVER, WDFFUNC, WDFOBJECT,
    WdfControlDeviceInitAllocateTableIndex, WdfControlFinishInitializingTableIndex,
    WdfDeviceCreateTableIndex, WdfDeviceInitFreeTableIndex,
    WdfDeviceInitSetCharacteristicsTableIndex, WdfDeviceInitSetDeviceTypeTableIndex,
    WdfDeviceWdmGetDeviceObjectTableIndex, WdfDriverCreateTableIndex, WdfFunctionTableNumEntries,
    WdfObjectDeleteTableIndex,
};
use super::windows::WindowsKernel;
use crate::driver::text::wide;
use crate::nt::NtStatus;

/// `WDF_COMPONENT_NAME(KmdfLibrary)`, NUL-terminated.
static COMPONENT: [u16; 12] = wide(WDF_COMPONENT_KMDF_LIBRARY);

/// The client's table pointer (`WdfFunctions`): set by the loader at bind, cleared at unbind.
static FUNCTIONS: AtomicPtr<Option<WDFFUNC>> = AtomicPtr::new(ptr::null_mut());
/// The driver globals the loader handed out.
static GLOBALS: AtomicPtr<WDF_DRIVER_GLOBALS> = AtomicPtr::new(ptr::null_mut());
/// The framework's unload routine, displaced by [`fx_driver_unload`] (as an address; 0: none).
static ORIGINAL_UNLOAD: AtomicUsize = AtomicUsize::new(0);
/// A copy of the registry path for `WdfVersionUnbind` (DriverEntry's is gone by unload).
static PATH_BUFFER: AtomicPtr<u16> = AtomicPtr::new(ptr::null_mut());
/// Bytes in [`PATH_BUFFER`].
static PATH_BYTES: AtomicU16 = AtomicU16::new(0);

/// The bind information: the loader reads it and may write its bookkeeping field, so it lives in
/// writable memory for the whole binding.
struct BindInfo(UnsafeCell<WDF_BIND_INFO>);

// SAFETY: written only by the loader during WdfVersionBind (PASSIVE_LEVEL, one thread, before
// any other use); otherwise only its address is used.
unsafe impl Sync for BindInfo {}

static BIND_INFO: BindInfo = BindInfo(UnsafeCell::new(WDF_BIND_INFO {
    Size: core::mem::size_of::<WDF_BIND_INFO>() as u32,
    Component: COMPONENT.as_ptr(),
    Version: WDF_VERSION {
        Major: KMDF_VERSION_MAJOR,
        Minor: KMDF_VERSION_MINOR,
        Build: KMDF_BUILD_NUMBER,
    },
    FuncCount: WdfFunctionTableNumEntries,
    FuncTable: FUNCTIONS.as_ptr().cast(),
    Module: ptr::null_mut(),
}));

/// The image's entry point (`/ENTRY:FxDriverEntry`): binds KMDF, runs the shell's DriverEntry,
/// unbinds when it fails.
///
/// IRQL: PASSIVE_LEVEL, in the system process.
///
/// # Safety
/// Called once by the I/O manager with a valid driver object and registry path.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn FxDriverEntry(
    driver_object: *mut DRIVER_OBJECT,
    registry_path: *const UNICODE_STRING,
) -> NTSTATUS {
    if driver_object.is_null() || registry_path.is_null() {
        return NtStatus::INVALID_PARAMETER.0;
    }
    // SAFETY: the I/O manager's registry path, valid for the call.
    if !unsafe { keep_registry_path(registry_path) } {
        return NtStatus::INSUFFICIENT_RESOURCES.0;
    }
    let mut globals: *mut WDF_DRIVER_GLOBALS = ptr::null_mut();
    // SAFETY: PASSIVE_LEVEL in the entry; the bind information lives in a static; `globals` is
    // writable.
    let status = unsafe {
        WindowsKernel::wdf_version_bind(
            driver_object,
            registry_path,
            BIND_INFO.0.get(),
            &mut globals,
        )
    };
    if !NtStatus(status).is_success() || globals.is_null() {
        FUNCTIONS.store(ptr::null_mut(), Ordering::Release);
        free_registry_path();
        return if NtStatus(status).is_success() {
            NtStatus::UNSUCCESSFUL.0
        } else {
            status
        };
    }
    GLOBALS.store(globals, Ordering::Release);
    // SAFETY: the framework is bound; the caller's contract passed on.
    let status = unsafe { crate::shell::kmdf::image::driver_entry(driver_object, registry_path) };
    if !NtStatus(status).is_success() {
        unbind();
        return status;
    }
    // SAFETY: the globals block the loader handed out stays valid until unbind.
    let displace = unsafe { (*globals).DisplaceDriverUnload } != 0;
    if displace {
        // SAFETY: the I/O manager's driver object, writable during the entry.
        let original = unsafe { (*driver_object).DriverUnload };
        ORIGINAL_UNLOAD.store(original.map_or(0, |f| f as usize), Ordering::Release);
        // SAFETY: as above.
        unsafe { (*driver_object).DriverUnload = Some(fx_driver_unload) };
    }
    NtStatus::SUCCESS.0
}

/// The displacing unload routine: the framework's unload (EvtDriverUnload, then the framework
/// deletes its driver object), then unbind.
///
/// IRQL: PASSIVE_LEVEL.
unsafe extern "win64" fn fx_driver_unload(driver_object: *mut DRIVER_OBJECT) {
    let original = ORIGINAL_UNLOAD.swap(0, Ordering::AcqRel);
    if original != 0 {
        // SAFETY: the address was a DRIVER_UNLOAD the framework installed (stored above).
        let original = unsafe { core::mem::transmute::<usize, DRIVER_UNLOAD>(original) };
        // SAFETY: the I/O manager's unload call, passed on once.
        unsafe { original(driver_object) };
    }
    unbind();
}

/// `WdfVersionUnbind` with the kept registry path, then forgets the binding.
///
/// IRQL: PASSIVE_LEVEL.
fn unbind() {
    let globals = GLOBALS.swap(ptr::null_mut(), Ordering::AcqRel);
    if !globals.is_null() {
        let bytes = PATH_BYTES.load(Ordering::Acquire);
        let path = UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: PATH_BUFFER.load(Ordering::Acquire),
        };
        // SAFETY: `globals` came from the successful bind with this bind information and is
        // unbound once (the swap above).
        let _ = unsafe { WindowsKernel::wdf_version_unbind(&path, BIND_INFO.0.get(), globals) };
    }
    FUNCTIONS.store(ptr::null_mut(), Ordering::Release);
    free_registry_path();
}

/// Copies the registry path into pool for unbind; false when the allocation fails.
///
/// # Safety
/// `path` is a valid UNICODE_STRING.
unsafe fn keep_registry_path(path: *const UNICODE_STRING) -> bool {
    // SAFETY: the caller's contract.
    let path = unsafe { &*path };
    let units = usize::from(path.Length / 2);
    if units == 0 || path.Buffer.is_null() {
        return true;
    }
    let Ok(layout) = Layout::array::<u16>(units) else {
        return false;
    };
    // SAFETY: the layout is non-zero-sized.
    let copy = unsafe { alloc::alloc::alloc(layout) }.cast::<u16>();
    if copy.is_null() {
        return false;
    }
    // SAFETY: both hold `units` UTF-16 units and do not overlap (`copy` is fresh).
    unsafe { ptr::copy_nonoverlapping(path.Buffer, copy, units) };
    PATH_BYTES.store(path.Length & !1, Ordering::Release);
    PATH_BUFFER.store(copy, Ordering::Release);
    true
}

fn free_registry_path() {
    let copy = PATH_BUFFER.swap(ptr::null_mut(), Ordering::AcqRel);
    let bytes = PATH_BYTES.swap(0, Ordering::AcqRel);
    if copy.is_null() {
        return;
    }
    if let Ok(layout) = Layout::array::<u16>(usize::from(bytes / 2)) {
        // SAFETY: allocated by keep_registry_path with this layout, freed once (the swap).
        unsafe { alloc::alloc::dealloc(copy.cast(), layout) };
    }
}

/// The bound table's entry at `index` and the globals, or `None` when unbound or empty.
fn entry(index: usize) -> Option<(WDFFUNC, *mut WDF_DRIVER_GLOBALS)> {
    let table = FUNCTIONS.load(Ordering::Acquire);
    let globals = GLOBALS.load(Ordering::Acquire);
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

impl WdfApi for WindowsKernel {
    unsafe fn wdf_driver_create(
        &self,
        driver_object: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
        attributes: *mut c_void,
        config: *mut WDF_DRIVER_CONFIG,
        driver: *mut WDFDRIVER,
    ) -> NTSTATUS {
        let Some((function, globals)) = entry(WdfDriverCreateTableIndex) else {
            return NtStatus::UNSUCCESSFUL.0;
        };
        // SAFETY: the entry at WdfDriverCreateTableIndex has this type (wdfdriver.h).
        let function = unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFDRIVERCREATE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe {
            function(
                globals,
                driver_object,
                registry_path,
                attributes,
                config,
                driver,
            )
        }
    }

    unsafe fn wdf_control_device_init_allocate(
        &self,
        driver: WDFDRIVER,
        sddl: *const UNICODE_STRING,
    ) -> PWDFDEVICE_INIT {
        let Some((function, globals)) = entry(WdfControlDeviceInitAllocateTableIndex) else {
            return ptr::null_mut();
        };
        // SAFETY: the entry at this index has this type (wdfcontrol.h).
        let function =
            unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFCONTROLDEVICEINITALLOCATE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, driver, sddl) }
    }

    unsafe fn wdf_device_init_set_device_type(&self, init: PWDFDEVICE_INIT, device_type: u32) {
        let Some((function, globals)) = entry(WdfDeviceInitSetDeviceTypeTableIndex) else {
            return;
        };
        // SAFETY: the entry at this index has this type (wdfdevice.h).
        let function =
            unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFDEVICEINITSETDEVICETYPE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, init, device_type) }
    }

    unsafe fn wdf_device_init_set_characteristics(
        &self,
        init: PWDFDEVICE_INIT,
        characteristics: u32,
        or_in: BOOLEAN,
    ) {
        let Some((function, globals)) = entry(WdfDeviceInitSetCharacteristicsTableIndex) else {
            return;
        };
        // SAFETY: the entry at this index has this type (wdfdevice.h).
        let function = unsafe {
            core::mem::transmute::<WDFFUNC, PFN_WDFDEVICEINITSETCHARACTERISTICS>(function)
        };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, init, characteristics, or_in) }
    }

    unsafe fn wdf_device_create(
        &self,
        init: *mut PWDFDEVICE_INIT,
        attributes: *mut c_void,
        device: *mut WDFDEVICE,
    ) -> NTSTATUS {
        let Some((function, globals)) = entry(WdfDeviceCreateTableIndex) else {
            return NtStatus::UNSUCCESSFUL.0;
        };
        // SAFETY: the entry at this index has this type (wdfdevice.h).
        let function = unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFDEVICECREATE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, init, attributes, device) }
    }

    unsafe fn wdf_device_init_free(&self, init: PWDFDEVICE_INIT) {
        let Some((function, globals)) = entry(WdfDeviceInitFreeTableIndex) else {
            return;
        };
        // SAFETY: the entry at this index has this type (wdfdevice.h).
        let function = unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFDEVICEINITFREE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, init) }
    }

    unsafe fn wdf_control_finish_initializing(&self, device: WDFDEVICE) {
        let Some((function, globals)) = entry(WdfControlFinishInitializingTableIndex) else {
            return;
        };
        // SAFETY: the entry at this index has this type (wdfcontrol.h).
        let function =
            unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFCONTROLFINISHINITIALIZING>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, device) }
    }

    unsafe fn wdf_device_wdm_get_device_object(&self, device: WDFDEVICE) -> *mut DEVICE_OBJECT {
        let Some((function, globals)) = entry(WdfDeviceWdmGetDeviceObjectTableIndex) else {
            return ptr::null_mut();
        };
        // SAFETY: the entry at this index has this type (wdfdevice.h).
        let function =
            unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFDEVICEWDMGETDEVICEOBJECT>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, device) }
    }

    unsafe fn wdf_object_delete(&self, object: WDFOBJECT) {
        let Some((function, globals)) = entry(WdfObjectDeleteTableIndex) else {
            return;
        };
        // SAFETY: the entry at this index has this type (wdfobject.h).
        let function = unsafe { core::mem::transmute::<WDFFUNC, PFN_WDFOBJECTDELETE>(function) };
        // SAFETY: the caller upholds the trait method's contract, which is the function's.
        unsafe { function(globals, object) }
    }
}
