//! Raw kernel types, named and laid out as the WDK headers declare them (x64).
//!
//! These are the only types that cross the seam. Values read from the kernel are plain integers
//! (never Rust enums: an unexpected value in a Rust enum is undefined behaviour); the safe layer
//! gives them meaning.

#![allow(non_camel_case_types, non_snake_case)]

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
pub type DRIVER_UNLOAD = unsafe extern "system" fn(driver: *mut DRIVER_OBJECT);
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

/// `COMPARTMENT_ID`: a network compartment (1 is the default compartment).
pub type COMPARTMENT_ID = u32;
/// `IF_INDEX` / `NET_IFINDEX`.
pub type IF_INDEX = u32;
/// `FWPS_PACKET_INJECTION_STATE`: a C enum, so a 32-bit integer.
pub type FWPS_PACKET_INJECTION_STATE = i32;

/// `NET_BUFFER_LIST`, the fields this crate reads (x64 layout of ndis.h). Real NBLs are longer
/// (`NetBufferListInfo` follows); this crate never allocates one, so only the prefix is declared.
#[repr(C)]
#[derive(Debug)]
pub struct NET_BUFFER_LIST {
    /// Next NBL in a chain.
    pub Next: *mut NET_BUFFER_LIST,
    /// First `NET_BUFFER`.
    pub FirstNetBuffer: *mut c_void,
    /// `NET_BUFFER_LIST_CONTEXT` stack.
    pub Context: *mut c_void,
    /// The original of a clone.
    pub ParentNetBufferList: *mut NET_BUFFER_LIST,
    /// Pool the NBL came from.
    pub NdisPoolHandle: *mut c_void,
    /// NDIS-private.
    pub NdisReserved: [*mut c_void; 2],
    /// Protocol-private.
    pub ProtocolReserved: [*mut c_void; 4],
    /// Miniport-private.
    pub MiniportReserved: [*mut c_void; 2],
    /// Owner scratch area.
    pub Scratch: *mut c_void,
    /// NDIS source handle.
    pub SourceHandle: *mut c_void,
    /// Public flags.
    pub NblFlags: u32,
    /// Outstanding clones.
    pub ChildRefCount: i32,
    /// Private flags.
    pub Flags: u32,
    /// Completion status (`NET_BUFFER_LIST_STATUS`): what an injection completion reads.
    pub Status: NTSTATUS,
}

const _: () = assert!(core::mem::offset_of!(NET_BUFFER_LIST, ParentNetBufferList) == 0x18);
const _: () = assert!(core::mem::offset_of!(NET_BUFFER_LIST, Status) == 0x84);

/// `FWPS_TRANSPORT_SEND_PARAMS0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FWPS_TRANSPORT_SEND_PARAMS0 {
    /// Remote address in network byte order (4 or 16 bytes).
    pub remoteAddress: *mut u8,
    /// `SCOPE_ID` of the remote address (IPv6 link-local and site-local).
    pub remoteScopeId: u32,
    /// Ancillary data (`WSACMSGHDR`s), or null.
    pub controlData: *mut c_void,
    /// Bytes of `controlData`.
    pub controlDataLength: u32,
}

const _: () = assert!(core::mem::size_of::<FWPS_TRANSPORT_SEND_PARAMS0>() == 32);

/// `FWPS_INJECT_COMPLETE0`: runs at IRQL <= DISPATCH_LEVEL once WFP is done with an accepted
/// injection; `dispatchLevel` is a BOOLEAN.
pub type FWPS_INJECT_COMPLETE0 = unsafe extern "system" fn(
    context: *mut c_void,
    netBufferList: *mut NET_BUFFER_LIST,
    dispatchLevel: BOOLEAN,
);

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
pub type KDEFERRED_ROUTINE = unsafe extern "system" fn(
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
