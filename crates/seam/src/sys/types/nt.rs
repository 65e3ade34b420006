//! Executive and I/O manager types: statuses, handles, IRQL, driver objects, DPCs, rundown.

use core::ffi::c_void;

/// `NTSTATUS`: negative values are errors.
pub type NTSTATUS = i32;
/// `HANDLE`: an opaque kernel token.
pub type HANDLE = *mut c_void;
/// `KIRQL`.
pub type KIRQL = u8;
/// `BOOLEAN`: one byte, 0 is FALSE, anything else TRUE.
pub type BOOLEAN = u8;
/// `ADDRESS_FAMILY` (ws2def.h): `USHORT`.
pub type ADDRESS_FAMILY = u16;
/// `KPROCESSOR_MODE`: `CCHAR`.
pub type KPROCESSOR_MODE = i8;
/// `POOL_FLAGS` (ExAllocatePool2).
pub type POOL_FLAGS = u64;

/// `KernelMode` in `MODE`.
pub const KERNEL_MODE: KPROCESSOR_MODE = 0;
/// `POOL_FLAG_NON_PAGED` (wdm.h): non-paged, no-execute pool.
pub const POOL_FLAG_NON_PAGED: POOL_FLAGS = 0x40;
/// `FILE_DEVICE_UNKNOWN` (devioctl.h).
pub const FILE_DEVICE_UNKNOWN: u32 = 0x22;
/// `FILE_DEVICE_SECURE_OPEN` (wdm.h): the device's ACL also guards its namespace.
pub const FILE_DEVICE_SECURE_OPEN: u32 = 0x100;
/// `IRP_MJ_MAXIMUM_FUNCTION + 1`: the size of `DRIVER_OBJECT::MajorFunction`.
pub const IRP_MJ_COUNT: usize = 28;

/// `UNICODE_STRING`: lengths in bytes, not characters; not NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct UNICODE_STRING {
    /// Bytes in use.
    pub Length: u16,
    /// Bytes allocated.
    pub MaximumLength: u16,
    /// The UTF-16 code units.
    pub Buffer: *mut u16,
}

/// `DEVICE_OBJECT`, opaque: this crate only passes pointers to it.
#[repr(C)]
pub struct DEVICE_OBJECT {
    _opaque: [u8; 0],
}

/// `DRIVER_UNLOAD`.
pub type DRIVER_UNLOAD = unsafe extern "win64" fn(driver: *mut DRIVER_OBJECT);
/// `DRIVER_DISPATCH`, kept as an untyped pointer: this driver installs no dispatch routines.
pub type DRIVER_DISPATCH = *const c_void;

/// `DRIVER_OBJECT` (wdm.h), x64 layout.
#[repr(C)]
pub struct DRIVER_OBJECT {
    /// `IO_TYPE_DRIVER`.
    pub Type: i16,
    /// Size of this structure.
    pub Size: i16,
    /// First device object created by this driver.
    pub DeviceObject: *mut DEVICE_OBJECT,
    /// `DRVO_*` flags.
    pub Flags: u32,
    /// Image base.
    pub DriverStart: *mut c_void,
    /// Image size.
    pub DriverSize: u32,
    /// Loader bookkeeping.
    pub DriverSection: *mut c_void,
    /// `DRIVER_EXTENSION`.
    pub DriverExtension: *mut c_void,
    /// `\Driver\<name>`.
    pub DriverName: UNICODE_STRING,
    /// Registry path of the hardware database.
    pub HardwareDatabase: *mut UNICODE_STRING,
    /// Fast I/O table.
    pub FastIoDispatch: *mut c_void,
    /// The entry point.
    pub DriverInit: *const c_void,
    /// `DriverStartIo`.
    pub DriverStartIo: *const c_void,
    /// Called before the image is unmapped; `None` makes the driver unloadable only by reboot.
    pub DriverUnload: Option<DRIVER_UNLOAD>,
    /// IRP dispatch table.
    pub MajorFunction: [DRIVER_DISPATCH; IRP_MJ_COUNT],
}

// The offsets a loader (Windows', or the test suite's) writes and reads.
const _: () = assert!(core::mem::offset_of!(DRIVER_OBJECT, DriverUnload) == 0x68);
const _: () = assert!(core::mem::size_of::<DRIVER_OBJECT>() == 0x150);
const _: () = assert!(core::mem::size_of::<UNICODE_STRING>() == 16);

/// `KDPC`: opaque to drivers, 64 bytes on x64, initialized by `KeInitializeDpc`.
#[repr(C, align(8))]
pub struct KDPC {
    _opaque: [u8; 64],
}

impl KDPC {
    /// Storage for `KeInitializeDpc` to fill.
    pub const fn zeroed() -> Self {
        Self { _opaque: [0; 64] }
    }
}

/// `KDEFERRED_ROUTINE`: runs at DISPATCH_LEVEL.
pub type KDEFERRED_ROUTINE = unsafe extern "win64" fn(
    dpc: *mut KDPC,
    deferredContext: *mut c_void,
    systemArgument1: *mut c_void,
    systemArgument2: *mut c_void,
);

/// `EX_RUNDOWN_REF`: one pointer-sized word, opaque to drivers.
#[repr(C)]
pub struct EX_RUNDOWN_REF {
    /// Kernel-private encoding of the count and the rundown state.
    pub Count: usize,
}

/// `PROCESSOR_NUMBER`: a processor's group and its number within the group.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PROCESSOR_NUMBER {
    /// The processor group.
    pub Group: u16,
    /// The processor's number within its group.
    pub Number: u8,
    /// Reserved.
    pub Reserved: u8,
}

/// `ALL_PROCESSOR_GROUPS`: the group number that asks the processor-count routines for the
/// whole system.
pub const ALL_PROCESSOR_GROUPS: u16 = 0xFFFF;

/// `PEX_RUNDOWN_REF_CACHE_AWARE`: a cache-aware rundown block, opaque to drivers.
pub type PEX_RUNDOWN_REF_CACHE_AWARE = *mut c_void;

/// `POOL_TYPE`: a C enum, so a 32-bit integer.
pub type POOL_TYPE = i32;
/// `NonPagedPoolNx`: non-paged, non-executable pool (the header's enum member name).
#[allow(non_upper_case_globals)]
pub const NonPagedPoolNx: POOL_TYPE = 512;

/// `ACCESS_MASK`.
pub type ACCESS_MASK = u32;
/// `KEY_READ`.
pub const KEY_READ: ACCESS_MASK = 0x2_0019;
/// `KEY_SET_VALUE`: ZwSetValueKey and ZwDeleteValueKey need a key opened with it.
pub const KEY_SET_VALUE: ACCESS_MASK = 0x2;
/// `OBJ_CASE_INSENSITIVE`.
pub const OBJ_CASE_INSENSITIVE: u32 = 0x40;
/// `OBJ_KERNEL_HANDLE`: the handle is not visible to the calling process.
pub const OBJ_KERNEL_HANDLE: u32 = 0x200;
/// `KeyValuePartialInformation` in `KEY_VALUE_INFORMATION_CLASS`.
pub const KEY_VALUE_PARTIAL_INFORMATION_CLASS: u32 = 2;
/// `REG_BINARY`.
pub const REG_BINARY: u32 = 3;
/// `REG_DWORD`.
pub const REG_DWORD: u32 = 4;

/// `OBJECT_ATTRIBUTES`.
#[repr(C)]
#[derive(Debug)]
pub struct OBJECT_ATTRIBUTES {
    /// `sizeof(OBJECT_ATTRIBUTES)`.
    pub Length: u32,
    /// Directory the name is relative to, or null.
    pub RootDirectory: HANDLE,
    /// The object name.
    pub ObjectName: *const UNICODE_STRING,
    /// `OBJ_*`.
    pub Attributes: u32,
    /// Security descriptor, or null.
    pub SecurityDescriptor: *mut c_void,
    /// Quality of service, or null.
    pub SecurityQualityOfService: *mut c_void,
}

const _: () = assert!(core::mem::size_of::<OBJECT_ATTRIBUTES>() == 48);

/// `KEY_VALUE_PARTIAL_INFORMATION` header; `Data` follows it (`DataLength` bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KEY_VALUE_PARTIAL_INFORMATION {
    /// Unused.
    pub TitleIndex: u32,
    /// `REG_*`.
    pub Type: u32,
    /// Bytes of data.
    pub DataLength: u32,
}

/// `DPFLTR_IHVNETWORK_ID`: the DbgPrintEx component of network drivers.
pub const DPFLTR_IHVNETWORK_ID: u32 = 80;
/// `DPFLTR_ERROR_LEVEL`.
pub const DPFLTR_ERROR_LEVEL: u32 = 0;
/// `DPFLTR_WARNING_LEVEL`.
pub const DPFLTR_WARNING_LEVEL: u32 = 1;
/// `DPFLTR_TRACE_LEVEL`.
pub const DPFLTR_TRACE_LEVEL: u32 = 2;
/// `DPFLTR_INFO_LEVEL`.
pub const DPFLTR_INFO_LEVEL: u32 = 3;

// ---- Work items (deferred load) ----

/// `PIO_WORKITEM`: a work item from IoAllocateWorkItem, opaque to drivers.
pub type PIO_WORKITEM = *mut c_void;

/// `IO_WORKITEM_ROUTINE`: runs at PASSIVE_LEVEL in a system worker thread, with the device
/// object the work item was allocated for and the context given to IoQueueWorkItem.
pub type IO_WORKITEM_ROUTINE =
    unsafe extern "win64" fn(deviceObject: *mut DEVICE_OBJECT, context: *mut c_void);

/// `WORK_QUEUE_TYPE`: a C enum, so a 32-bit integer.
pub type WORK_QUEUE_TYPE = i32;
/// `DelayedWorkQueue`: the queue IoQueueWorkItem's callers must name (the header's enum member
/// name, kept as written).
#[allow(non_upper_case_globals)]
pub const DelayedWorkQueue: WORK_QUEUE_TYPE = 1;

// ---- Callback objects (power transitions) ----

/// `PCALLBACK_OBJECT`: a callback object from ExCreateCallback, opaque to drivers.
pub type PCALLBACK_OBJECT = *mut c_void;

/// `CALLBACK_FUNCTION`: a routine registered with ExRegisterCallback, called with the context
/// given there and the two arguments the callback object defines.
pub type CALLBACK_FUNCTION = unsafe extern "win64" fn(
    callbackContext: *mut c_void,
    argument1: *mut c_void,
    argument2: *mut c_void,
);

/// `PO_CB_SYSTEM_STATE_LOCK`: `\Callback\PowerState`'s Argument1 when the system power state is
/// about to change (Argument2 zero) or has returned to S0 (Argument2 non-zero).
pub const PO_CB_SYSTEM_STATE_LOCK: u32 = 3;
