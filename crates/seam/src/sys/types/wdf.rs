//! KMDF 1.31 binding types: what the image's own FxDriverEntry hands wdfldr.sys (the bind
//! information), what the loader hands back (the driver globals and the function table), and the
//! structures and table indices of the WDF functions the KMDF shell calls. Names and layouts as
//! in Microsoft's Windows-Driver-Frameworks sources (src/publicinc/wdf/kmdf/1.31/*.h and
//! src/framework/shared/inc/private/common/fxldr.h); every number is a row of
//! facts/kernel-facts.md.

use core::ffi::c_void;

use super::BOOLEAN;

/// `WDFDRIVER` (wdftypes.h `DECLARE_HANDLE`): the framework's driver object.
pub type WDFDRIVER = *mut c_void;
/// `WDFDEVICE`: a framework device object.
pub type WDFDEVICE = *mut c_void;
/// `WDFOBJECT`: any framework object.
pub type WDFOBJECT = *mut c_void;
/// `PWDFDEVICE_INIT`: the opaque device initialization structure.
pub type PWDFDEVICE_INIT = *mut c_void;
/// `WDFFUNC` (wdf.h): one entry of the function table, cast to its real type before a call.
pub type WDFFUNC = unsafe extern "win64" fn();
/// `PFN_WDF_DRIVER_UNLOAD` (wdfdriver.h): `EvtDriverUnload`, called at PASSIVE_LEVEL.
pub type PFN_WDF_DRIVER_UNLOAD = unsafe extern "win64" fn(driver: WDFDRIVER);
/// `WDFQUEUE`: a framework I/O queue.
pub type WDFQUEUE = *mut c_void;
/// `WDFREQUEST`: a framework request (one IRP the queue presents to the driver).
pub type WDFREQUEST = *mut c_void;
/// `PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL` (wdfio.h `EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL`): the
/// queue presents an IRP_MJ_DEVICE_CONTROL request with its buffer lengths and control code, at
/// IRQL <= DISPATCH_LEVEL (the caller's IRQL for a user-mode request: PASSIVE_LEVEL).
pub type PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL = unsafe extern "win64" fn(
    queue: WDFQUEUE,
    request: WDFREQUEST,
    output_buffer_length: usize,
    input_buffer_length: usize,
    io_control_code: u32,
);
/// `WDF_IO_QUEUE_DISPATCH_TYPE` (wdfio.h): a C enum.
pub type WDF_IO_QUEUE_DISPATCH_TYPE = i32;
/// `WdfIoQueueDispatchSequential`: one request presented at a time.
pub const WdfIoQueueDispatchSequential: WDF_IO_QUEUE_DISPATCH_TYPE = 1;
/// `WDF_TRI_STATE` (wdftypes.h): a C enum.
pub type WDF_TRI_STATE = i32;
/// `WdfFalse`.
pub const WdfFalse: WDF_TRI_STATE = 0;

/// `WDF_EXECUTION_LEVEL` (wdfobject.h): a C enum.
pub type WDF_EXECUTION_LEVEL = i32;
/// `WdfExecutionLevelPassive`: the object's callbacks are called at PASSIVE_LEVEL.
pub const WdfExecutionLevelPassive: WDF_EXECUTION_LEVEL = 2;
/// `WDF_SYNCHRONIZATION_SCOPE` (wdfobject.h): a C enum.
pub type WDF_SYNCHRONIZATION_SCOPE = i32;
/// `WdfSynchronizationScopeInheritFromParent`: what WDF_OBJECT_ATTRIBUTES_INIT sets.
pub const WdfSynchronizationScopeInheritFromParent: WDF_SYNCHRONIZATION_SCOPE = 1;

/// `WDF_OBJECT_ATTRIBUTES` (1.31 wdfobject.h): the control queue's, for its execution level.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WDF_OBJECT_ATTRIBUTES {
    /// `sizeof(WDF_OBJECT_ATTRIBUTES)`.
    pub Size: u32,
    /// `EvtCleanupCallback` (null).
    pub EvtCleanupCallback: *const c_void,
    /// `EvtDestroyCallback` (null).
    pub EvtDestroyCallback: *const c_void,
    /// The highest IRQL the framework calls the object's callbacks at.
    pub ExecutionLevel: WDF_EXECUTION_LEVEL,
    /// How the object's callbacks are serialized.
    pub SynchronizationScope: WDF_SYNCHRONIZATION_SCOPE,
    /// `ParentObject` (null: the default parent).
    pub ParentObject: WDFOBJECT,
    /// `ContextSizeOverride` (0).
    pub ContextSizeOverride: usize,
    /// `ContextTypeInfo` (null: no context).
    pub ContextTypeInfo: *const c_void,
}

/// `WDF_IO_QUEUE_CONFIG` (1.31 wdfio.h). Callbacks the driver does not supply are null.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WDF_IO_QUEUE_CONFIG {
    /// `sizeof(WDF_IO_QUEUE_CONFIG)`.
    pub Size: u32,
    /// How requests are presented.
    pub DispatchType: WDF_IO_QUEUE_DISPATCH_TYPE,
    /// Whether the queue follows the device's power state (`WdfFalse` for a control device).
    pub PowerManaged: WDF_TRI_STATE,
    /// Non-zero: zero-length reads and writes reach the driver.
    pub AllowZeroLengthRequests: BOOLEAN,
    /// Non-zero: the device's default queue.
    pub DefaultQueue: BOOLEAN,
    /// `EvtIoDefault`.
    pub EvtIoDefault: *const c_void,
    /// `EvtIoRead`.
    pub EvtIoRead: *const c_void,
    /// `EvtIoWrite`.
    pub EvtIoWrite: *const c_void,
    /// `EvtIoDeviceControl`.
    pub EvtIoDeviceControl: Option<PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL>,
    /// `EvtIoInternalDeviceControl`.
    pub EvtIoInternalDeviceControl: *const c_void,
    /// `EvtIoStop`.
    pub EvtIoStop: *const c_void,
    /// `EvtIoResume`.
    pub EvtIoResume: *const c_void,
    /// `EvtIoCanceledOnQueue`.
    pub EvtIoCanceledOnQueue: *const c_void,
    /// `Settings.Parallel.NumberOfPresentedRequests` (a one-member union of a one-member
    /// struct): parallel queues only.
    pub Settings: u32,
    /// Reserved for the framework.
    pub Driver: WDFDRIVER,
}

/// `WDF_VERSION` (fxldr.h): three `ULONG`s (`WDF_MAJOR_VERSION`, `WDF_MINOR_VERSION`,
/// `WDF_BUILD_NUMBER`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WDF_VERSION {
    /// Major version: 1 for every KMDF.
    pub Major: u32,
    /// Minor version the driver was built for.
    pub Minor: u32,
    /// Build number (informational).
    pub Build: u32,
}

/// `WDF_BIND_INFO` (fxldr.h): what the client's stub passes to `WdfVersionBind`.
#[repr(C)]
#[derive(Debug)]
pub struct WDF_BIND_INFO {
    /// `sizeof(WDF_BIND_INFO)`.
    pub Size: u32,
    /// The library's component name, NUL-terminated UTF-16.
    pub Component: *const u16,
    /// The KMDF version the driver was built for.
    pub Version: WDF_VERSION,
    /// Entries in the function table of that version.
    pub FuncCount: u32,
    /// Since KMDF 1.15: the address of the client's table pointer, which the loader sets to the
    /// framework's table.
    pub FuncTable: *mut *const WDFFUNC,
    /// The loader's bookkeeping.
    pub Module: *mut c_void,
}

/// `WDF_DRIVER_GLOBALS_NAME_LEN` (wdfglobals.h).
pub const WDF_DRIVER_GLOBALS_NAME_LEN: usize = 32;

/// `WDF_DRIVER_GLOBALS` (wdfglobals.h): the per-client block the loader hands out; the first
/// argument of every WDF function.
#[repr(C)]
#[derive(Debug)]
pub struct WDF_DRIVER_GLOBALS {
    /// The driver's `WDFDRIVER`, once created.
    pub Driver: WDFDRIVER,
    /// `WDF_DRIVER_INIT_FLAGS` given at creation.
    pub DriverFlags: u32,
    /// Pool tag of allocations made for the driver.
    pub DriverTag: u32,
    /// The driver's name, ANSI.
    pub DriverName: [u8; WDF_DRIVER_GLOBALS_NAME_LEN],
    /// Non-zero: the stub puts its own unload routine in front of the framework's.
    pub DisplaceDriverUnload: BOOLEAN,
}

/// `WDF_DRIVER_CONFIG` (wdfdriver.h).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WDF_DRIVER_CONFIG {
    /// `sizeof(WDF_DRIVER_CONFIG)`.
    pub Size: u32,
    /// `EvtDriverDeviceAdd`: null for a non-PnP driver.
    pub EvtDriverDeviceAdd: *const c_void,
    /// `EvtDriverUnload`.
    pub EvtDriverUnload: Option<PFN_WDF_DRIVER_UNLOAD>,
    /// `WDF_DRIVER_INIT_FLAGS`.
    pub DriverInitFlags: u32,
    /// Pool tag for the framework's allocations for this driver (0: derived from the name).
    pub DriverPoolTag: u32,
}

/// `WdfDriverInitNonPnpDriver` (wdfdriver.h `WDF_DRIVER_INIT_FLAGS`).
pub const WdfDriverInitNonPnpDriver: u32 = 0x1;

/// The KMDF version this driver binds to: 1.31 (Windows 10 2004 and later).
pub const KMDF_VERSION_MAJOR: u32 = 1;
/// The KMDF version this driver binds to: 1.31 (Windows 10 2004 and later).
pub const KMDF_VERSION_MINOR: u32 = 31;
/// `WDF_BIND_INFO.Version.Build`: informational, never compared by the library.
pub const KMDF_BUILD_NUMBER: u32 = 0;
/// `WDF_COMPONENT_NAME(KmdfLibrary)`: the component the loader binds a KMDF client to.
pub const WDF_COMPONENT_KMDF_LIBRARY: &str = "KmdfLibrary";
/// `SDDL_DEVOBJ_KERNEL_ONLY` (wdmsec.h): a protected, empty DACL; user mode cannot open.
pub const SDDL_DEVOBJ_KERNEL_ONLY: &str = "D:P";
/// `SDDL_DEVOBJ_SYS_ALL_ADM_ALL` (wdmsec.h): SYSTEM and the Administrators group get all access,
/// nobody else any.
pub const SDDL_DEVOBJ_SYS_ALL_ADM_ALL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)";

/// `WDFFUNCENUM` (1.31 wdffuncenum.h): `WdfFunctionTableNumEntries`, the table's length.
pub const WdfFunctionTableNumEntries: u32 = 458;
// Each WDF function's index and signature is its entry in the declaration list (sys/declarations.rs).
