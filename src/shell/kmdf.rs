//! The KMDF shell, one source for both builds of the image and for host tests: a non-PnP driver
//! (WdfDriverInitNonPnpDriver) with an EvtDriverUnload, one control device for administrators,
//! and its WDM device object handed to the shared [`Driver`]. Every WDF call goes through the seam
//! ([`WdfApi`]): the Linux-built image through the function table its own FxDriverEntry binds
//! (`crate::sys::kmdf_stub`), the WDK build through wdk-sys (`crate::sys::wdk_binding`), host
//! tests through the simulated KMDF.
//!
//! The control device is the administrators' channel into the driver (docs/control.md): named
//! [`CONTROL_DEVICE_NAME`] with the symbolic link [`CONTROL_DEVICE_LINK`] (user mode opens
//! `\\.\WfpInjector`), SDDL_DEVOBJ_SYS_ALL_ADM_ALL (SYSTEM and Administrators only) with
//! FILE_DEVICE_SECURE_OPEN (a path below the name gets the same check), the protocol's device
//! type, and a sequential default queue whose EvtIoDeviceControl hands each request to
//! [`crate::driver::control`]. Unload runs in the reverse order: the queue is purged (no request
//! is in the driver once it returns, and new ones are refused), the driver unloads, then the
//! device is deleted; the framework then deletes the driver object.

use core::ptr;

use super::slot::{Loaded, Slot};
use crate::driver::{Driver, DriverConfig, control};
use crate::nt::text::{wide, wide_len_bytes};
use crate::nt::{DeviceObject, NtStatus, RegistryPath};
use crate::sys::types::{
    DRIVER_OBJECT, FILE_DEVICE_SECURE_OPEN, NTSTATUS, PFN_WDF_DRIVER_UNLOAD,
    PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL, PWDFDEVICE_INIT, SDDL_DEVOBJ_SYS_ALL_ADM_ALL,
    UNICODE_STRING, WDF_DRIVER_CONFIG, WDF_IO_QUEUE_CONFIG, WDF_OBJECT_ATTRIBUTES, WDFDEVICE,
    WDFDRIVER, WDFQUEUE, WDFREQUEST, WdfDriverInitNonPnpDriver, WdfExecutionLevelPassive, WdfFalse,
    WdfIoQueueDispatchSequential, WdfSynchronizationScopeInheritFromParent,
};
use crate::sys::{KernelApi, WdfApi};

/// The control device's name in the object namespace.
pub const CONTROL_DEVICE_NAME: &str = "\\Device\\WfpInjector";
/// The symbolic link user mode opens the control device by (`\\.\WfpInjector`).
pub const CONTROL_DEVICE_LINK: &str = "\\DosDevices\\WfpInjector";

/// SDDL_DEVOBJ_SYS_ALL_ADM_ALL as UTF-16 (NUL-terminated; the UNICODE_STRING excludes the NUL).
static CONTROL_DEVICE_SDDL: [u16; SDDL_DEVOBJ_SYS_ALL_ADM_ALL.len() + 1] =
    wide(SDDL_DEVOBJ_SYS_ALL_ADM_ALL);
static CONTROL_DEVICE_NAME_WIDE: [u16; CONTROL_DEVICE_NAME.len() + 1] = wide(CONTROL_DEVICE_NAME);
static CONTROL_DEVICE_LINK_WIDE: [u16; CONTROL_DEVICE_LINK.len() + 1] = wide(CONTROL_DEVICE_LINK);

/// `sizeof(WDF_IO_QUEUE_CONFIG)`.
const IO_QUEUE_CONFIG_SIZE: u32 = core::mem::size_of::<WDF_IO_QUEUE_CONFIG>() as u32;
const OBJECT_ATTRIBUTES_SIZE: u32 = core::mem::size_of::<WDF_OBJECT_ATTRIBUTES>() as u32;

/// A UNICODE_STRING over a static UTF-16 string (the framework only reads it).
fn unicode(text: &'static [u16]) -> UNICODE_STRING {
    UNICODE_STRING {
        Length: wide_len_bytes(text),
        MaximumLength: wide_len_bytes(text),
        Buffer: text.as_ptr().cast_mut(),
    }
}

/// `sizeof(WDF_DRIVER_CONFIG)`.
const DRIVER_CONFIG_SIZE: u32 = core::mem::size_of::<WDF_DRIVER_CONFIG>() as u32;

/// DriverEntry's work: the framework driver, the control device, the shared driver, kept in
/// `slot` for [`driver_unload`]. Returns the status for DriverEntry to return; on failure
/// everything created here is gone (the device init freed, the device deleted; the framework
/// deletes the driver object when the stub unbinds).
///
/// IRQL: PASSIVE_LEVEL.
///
/// # Safety
/// Called once per load from DriverEntry with the I/O manager's driver object and registry path;
/// `evt_driver_unload` calls [`driver_unload`] and `evt_io_device_control` calls
/// [`device_control`] with the same kernel and slot.
pub unsafe fn driver_entry<K: KernelApi + WdfApi>(
    kernel: K,
    slot: &Slot<K>,
    driver_object: *mut DRIVER_OBJECT,
    registry_path: *const UNICODE_STRING,
    evt_driver_unload: PFN_WDF_DRIVER_UNLOAD,
    evt_io_device_control: PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL,
) -> NTSTATUS {
    let mut config = WDF_DRIVER_CONFIG {
        Size: DRIVER_CONFIG_SIZE,
        EvtDriverDeviceAdd: ptr::null(),
        EvtDriverUnload: Some(evt_driver_unload),
        DriverInitFlags: WdfDriverInitNonPnpDriver,
        DriverPoolTag: 0,
    };
    let mut wdf_driver: WDFDRIVER = ptr::null_mut();
    // SAFETY: PASSIVE_LEVEL in DriverEntry; the driver object and path are the I/O manager's;
    // null attributes are allowed; `config` and `wdf_driver` are valid for the call.
    let status = unsafe {
        kernel.wdf_driver_create(
            driver_object,
            registry_path,
            ptr::null_mut(),
            &mut config,
            &mut wdf_driver,
        )
    };
    if !NtStatus(status).is_success() {
        return status;
    }
    let (device, queue) = match create_control_device(&kernel, wdf_driver, evt_io_device_control) {
        Ok(created) => created,
        Err(status) => return status,
    };
    // SAFETY: `device` is the control device just created.
    let wdm_device = unsafe { kernel.wdf_device_wdm_get_device_object(device) };
    // SAFETY: the control device's WDM object lives until the device is deleted, after the
    // driver has unloaded (or below).
    let device_object = unsafe { DeviceObject::from_raw(wdm_device) };
    // SAFETY: the I/O manager's registry path is valid for the duration of DriverEntry.
    let registry_path = unsafe { RegistryPath::from_raw(registry_path) };
    let status = match device_object {
        None => NtStatus::UNSUCCESSFUL.0,
        Some(device_object) => match Driver::load(
            kernel.clone(),
            device_object,
            registry_path,
            &DriverConfig::default(),
        ) {
            Err(failure) if failure.image_in_use => {
                pin_image(&kernel, driver_object, wdm_device);
                return failure.status.0;
            }
            Err(failure) => failure.status.0,
            Ok(driver) => match slot.store(Loaded {
                driver,
                device,
                queue,
                driver_object,
            }) {
                Ok(()) => {
                    // Only now may requests come: the system sends none to a control device
                    // before this call, and the driver they reach is stored.
                    // SAFETY: `device` is the control device created above, still alive (the
                    // slot holds it until unload deletes it).
                    unsafe { kernel.wdf_control_finish_initializing(device) };
                    return NtStatus::SUCCESS.0;
                }
                Err(loaded) => {
                    if loaded.driver.unload_for_shell().image_in_use {
                        pin_image(&kernel, driver_object, wdm_device);
                        return NtStatus::INSUFFICIENT_RESOURCES.0;
                    }
                    NtStatus::INSUFFICIENT_RESOURCES.0
                }
            },
        },
    };
    // SAFETY: the control device was created above and nothing refers to it any more.
    unsafe { kernel.wdf_object_delete(device) };
    status
}

/// The control device: allocate its init, name it, set it up, create it, link it, give it its
/// default queue; the caller finishes it once the driver it serves is stored. The init is freed
/// on every failure path before creation; on success the framework owns it, and a failure after
/// creation deletes the device (its link and queue go with it).
///
/// IRQL: PASSIVE_LEVEL.
fn create_control_device<K: WdfApi>(
    kernel: &K,
    driver: WDFDRIVER,
    evt_io_device_control: PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL,
) -> Result<(WDFDEVICE, WDFQUEUE), NTSTATUS> {
    let sddl = unicode(&CONTROL_DEVICE_SDDL);
    // SAFETY: `driver` was just created; `sddl` outlives the call.
    let mut init: PWDFDEVICE_INIT =
        unsafe { kernel.wdf_control_device_init_allocate(driver, &sddl) };
    if init.is_null() {
        return Err(NtStatus::INSUFFICIENT_RESOURCES.0);
    }
    let name = unicode(&CONTROL_DEVICE_NAME_WIDE);
    // SAFETY: `init` is the live init allocated above; `name` outlives the call (the framework
    // copies it).
    let status = unsafe { kernel.wdf_device_init_assign_name(init, &name) };
    if !NtStatus(status).is_success() {
        // SAFETY: no device was created from the init; it is freed once.
        unsafe { kernel.wdf_device_init_free(init) };
        return Err(status);
    }
    // SAFETY: `init` is live.
    unsafe { kernel.wdf_device_init_set_device_type(init, wfp_protocol::DEVICE_TYPE) };
    // SAFETY: as above. ORed in: the framework keeps it anyway, and this says it is meant.
    unsafe { kernel.wdf_device_init_set_characteristics(init, FILE_DEVICE_SECURE_OPEN, 1) };
    let mut device: WDFDEVICE = ptr::null_mut();
    // SAFETY: `init` is live; null attributes are allowed; `device` is writable.
    let status = unsafe { kernel.wdf_device_create(&mut init, ptr::null_mut(), &mut device) };
    if !NtStatus(status).is_success() {
        // SAFETY: WdfDeviceCreate failed, so the init is still ours, and it is freed once.
        unsafe { kernel.wdf_device_init_free(init) };
        return Err(status);
    }
    let link = unicode(&CONTROL_DEVICE_LINK_WIDE);
    // SAFETY: `device` is the named control device just created; `link` outlives the call.
    let status = unsafe { kernel.wdf_device_create_symbolic_link(device, &link) };
    let queue = if NtStatus(status).is_success() {
        create_queue(kernel, device, evt_io_device_control)
    } else {
        Err(status)
    };
    let queue = match queue {
        Ok(queue) => queue,
        Err(status) => {
            // SAFETY: the device was created above and nothing else refers to it.
            unsafe { kernel.wdf_object_delete(device) };
            return Err(status);
        }
    };
    Ok((device, queue))
}

/// The control device's default queue: sequential (one request in the driver at a time, so
/// configuration changes never overlap), not power-managed (a control device has no power
/// states; the framework forces this for non-PnP devices anyway), device-control requests only
/// (the framework fails the others with STATUS_INVALID_DEVICE_REQUEST).
///
/// IRQL: PASSIVE_LEVEL.
fn create_queue<K: WdfApi>(
    kernel: &K,
    device: WDFDEVICE,
    evt_io_device_control: PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL,
) -> Result<WDFQUEUE, NTSTATUS> {
    let mut config = WDF_IO_QUEUE_CONFIG {
        Size: IO_QUEUE_CONFIG_SIZE,
        DispatchType: WdfIoQueueDispatchSequential,
        PowerManaged: WdfFalse,
        AllowZeroLengthRequests: 0,
        DefaultQueue: 1,
        EvtIoDefault: ptr::null(),
        EvtIoRead: ptr::null(),
        EvtIoWrite: ptr::null(),
        EvtIoDeviceControl: Some(evt_io_device_control),
        EvtIoInternalDeviceControl: ptr::null(),
        EvtIoStop: ptr::null(),
        EvtIoResume: ptr::null(),
        EvtIoCanceledOnQueue: ptr::null(),
        Settings: 0,
        Driver: ptr::null_mut(),
    };
    // PASSIVE_LEVEL callbacks: without it the queue inherits the driver's default execution
    // level (dispatch), and EvtIoDeviceControl may be called at DISPATCH_LEVEL, where a
    // configuration change (a wait, a WFP transaction) is not allowed (WDF_EXECUTION_LEVEL).
    let mut attributes = WDF_OBJECT_ATTRIBUTES {
        Size: OBJECT_ATTRIBUTES_SIZE,
        EvtCleanupCallback: ptr::null(),
        EvtDestroyCallback: ptr::null(),
        ExecutionLevel: WdfExecutionLevelPassive,
        SynchronizationScope: WdfSynchronizationScopeInheritFromParent,
        ParentObject: ptr::null_mut(),
        ContextSizeOverride: 0,
        ContextTypeInfo: ptr::null(),
    };
    let mut queue: WDFQUEUE = ptr::null_mut();
    // SAFETY: `device` is live; `config` and `attributes` outlive the call and the callback is
    // this image's; `queue` is writable.
    let status = unsafe {
        kernel.wdf_io_queue_create(
            device,
            &mut config,
            (&raw mut attributes).cast(),
            &mut queue,
        )
    };
    NtStatus(status).ok().map_err(|status| status.0)?;
    Ok(queue)
}

/// EvtIoDeviceControl's work: the request's input decoded, carried out, its reply written, the
/// request completed once on every path. METHOD_BUFFERED: input and output are one system
/// buffer, so the input is decoded in full (copied out) before the output is taken.
///
/// IRQL: PASSIVE_LEVEL (a sequential queue presents a user-mode request in the caller's
/// context); the work itself is PASSIVE_LEVEL work (a configuration change opens a WFP
/// transaction).
///
/// # Safety
/// Called by the framework with a request of the control device's queue, which unload purges
/// before it takes the slot.
pub unsafe fn device_control<K: KernelApi + WdfApi>(
    kernel: K,
    slot: &Slot<K>,
    request: WDFREQUEST,
    output_length: usize,
    input_length: usize,
    code: u32,
) {
    // SAFETY: a request of the queue (the caller's contract), so unload has not taken the slot.
    let status = match unsafe { slot.peek() } {
        // Before DriverEntry stored the driver, or after a failed load: nothing to talk to.
        None => Err(NtStatus::INVALID_DEVICE_STATE),
        Some(loaded) => {
            // SAFETY: a presented, uncompleted request.
            let input = unsafe { request_buffer(&kernel, request, input_length, false) };
            match input.and_then(|input| control::decode(code, input)) {
                Err(status) => Err(status),
                Ok(decoded) => {
                    // SAFETY: as above; the input slice is no longer used.
                    let output = unsafe { request_buffer(&kernel, request, output_length, true) };
                    output.and_then(|output| control::execute(&loaded.driver, decoded, output))
                }
            }
        }
    };
    match status {
        // SAFETY: the request is completed once, here, and not touched afterwards.
        Ok(written) => unsafe {
            kernel.wdf_request_complete_with_information(request, NtStatus::SUCCESS.0, written)
        },
        // SAFETY: as above.
        Err(status) => unsafe { kernel.wdf_request_complete(request, status.0) },
    }
}

/// The request's input (or output) buffer as a byte slice; empty when its length is zero.
///
/// # Safety
/// `request` is presented and not completed; the slice is dropped before the request is
/// completed, and an input slice before the output one is taken (they are the same memory).
unsafe fn request_buffer<'a, K: WdfApi>(
    kernel: &K,
    request: WDFREQUEST,
    length: usize,
    output: bool,
) -> Result<&'a mut [u8], NtStatus> {
    if length == 0 {
        return Ok(&mut []);
    }
    let mut buffer: *mut core::ffi::c_void = ptr::null_mut();
    let mut size = 0usize;
    let status = if output {
        // SAFETY: the caller's contract; `buffer` and `size` are writable.
        unsafe {
            kernel.wdf_request_retrieve_output_buffer(request, length, &mut buffer, &mut size)
        }
    } else {
        // SAFETY: as above.
        unsafe { kernel.wdf_request_retrieve_input_buffer(request, length, &mut buffer, &mut size) }
    };
    NtStatus(status).ok()?;
    if buffer.is_null() {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    // SAFETY: the framework's system buffer holds `size` bytes while the request is presented
    // (the caller's contract keeps the slice within that, and unaliased).
    Ok(unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), size) })
}

/// Keeps the image mapped, and the WDM device object WFP registered the callouts (and BFE the
/// state subscription) with alive, after unload returns: one more reference on each, never
/// released. The framework still deletes its control device with the driver, but a referenced
/// device object is only marked for deletion, and a device object keeps its driver object
/// referenced; the I/O manager unmaps a driver's image when it deletes the driver object, after
/// the last reference (how Windows works; not stated on a reference page, so unverified here).
/// Used only when a callout could not be unregistered.
///
/// IRQL: PASSIVE_LEVEL.
fn pin_image<K: KernelApi>(
    kernel: &K,
    driver_object: *mut DRIVER_OBJECT,
    wdm_device: *mut crate::sys::types::DEVICE_OBJECT,
) {
    for object in [driver_object.cast::<core::ffi::c_void>(), wdm_device.cast()] {
        if !object.is_null() {
            // SAFETY: the I/O manager's driver object and the control device's WDM object, both
            // referenced while DriverEntry or unload runs; PASSIVE_LEVEL.
            unsafe { kernel.obf_reference_object(object) };
        }
    }
}

/// EvtDriverUnload's work: the shared driver unloads, then the control device goes. Nothing
/// happens when DriverEntry did not complete (the slot is empty).
///
/// IRQL: PASSIVE_LEVEL.
pub fn driver_unload<K: KernelApi + WdfApi>(kernel: K, slot: &Slot<K>) {
    // SAFETY: unload itself, before it takes the slot.
    if let Some(loaded) = unsafe { slot.peek() } {
        // SAFETY: the live queue of the control device; PASSIVE_LEVEL, not one of its callbacks.
        // Once it returns no request is in the driver and new ones are refused.
        unsafe { kernel.wdf_io_queue_purge_synchronously(loaded.queue) };
    }
    let Some(Loaded {
        driver,
        device,
        driver_object,
        ..
    }) = slot.take()
    else {
        return;
    };
    // SAFETY: the control device created by driver_entry, not deleted yet.
    let wdm_device = unsafe { kernel.wdf_device_wdm_get_device_object(device) };
    if driver.unload_for_shell().image_in_use {
        // A callout stayed registered (the driver logged it and leaked its state): WFP may still
        // call classify, so the image and the device object must stay.
        pin_image(&kernel, driver_object, wdm_device);
        return;
    }
    // SAFETY: the control device created by driver_entry, deleted once (the slot was emptied),
    // after the driver that used it has unloaded.
    unsafe { kernel.wdf_object_delete(device) };
}

/// The image's DriverEntry and EvtDriverUnload, over the running kernel: the shell above with
/// one static slot.
#[cfg(target_os = "windows")]
pub mod image {
    use super::{Slot, device_control, driver_entry as shell_entry, driver_unload};
    use crate::sys::types::{
        DRIVER_OBJECT, NTSTATUS, UNICODE_STRING, WDFDRIVER, WDFQUEUE, WDFREQUEST,
    };
    use crate::sys::windows::WindowsKernel;

    /// The loaded driver, from DriverEntry to EvtDriverUnload.
    static SLOT: Slot<WindowsKernel> = Slot::new();

    /// DriverEntry: called by FxDriverEntry once the framework is bound.
    ///
    /// IRQL: PASSIVE_LEVEL.
    ///
    /// # Safety
    /// Called once per load with the I/O manager's driver object and registry path.
    pub unsafe fn driver_entry(
        driver_object: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
    ) -> NTSTATUS {
        // SAFETY: the caller's contract; evt_driver_unload uses the same kernel and slot.
        unsafe {
            shell_entry(
                WindowsKernel,
                &SLOT,
                driver_object,
                registry_path,
                evt_driver_unload,
                evt_io_device_control,
            )
        }
    }

    /// EvtIoDeviceControl of the control device's queue.
    ///
    /// IRQL: PASSIVE_LEVEL (sequential queue, user-mode caller).
    unsafe extern "win64" fn evt_io_device_control(
        _queue: WDFQUEUE,
        request: WDFREQUEST,
        output_buffer_length: usize,
        input_buffer_length: usize,
        io_control_code: u32,
    ) {
        // SAFETY: the framework presents a request of the queue that unload purges first.
        unsafe {
            device_control(
                WindowsKernel,
                &SLOT,
                request,
                output_buffer_length,
                input_buffer_length,
                io_control_code,
            )
        }
    }

    /// EvtDriverUnload.
    ///
    /// IRQL: PASSIVE_LEVEL.
    unsafe extern "win64" fn evt_driver_unload(_driver: WDFDRIVER) {
        driver_unload(WindowsKernel, &SLOT);
    }
}
