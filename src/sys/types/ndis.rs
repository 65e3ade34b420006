//! NDIS types: the parts of `NET_BUFFER_LIST` and `NET_BUFFER` this crate reads.

use core::ffi::c_void;

use super::NTSTATUS;

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

/// `NET_BUFFER`, the fields this crate reads (x64 layout of ndis.h).
#[repr(C)]
#[derive(Debug)]
pub struct NET_BUFFER {
    /// Next NET_BUFFER of the NBL.
    pub Next: *mut NET_BUFFER,
    /// MDL holding the current data offset.
    pub CurrentMdl: *mut c_void,
    /// Offset into `CurrentMdl`.
    pub CurrentMdlOffset: u32,
    /// Bytes of data from the current offset (`NET_BUFFER_DATA_LENGTH`); the header declares it
    /// in a union with a SIZE_T, hence the 8-byte slot.
    pub DataLength: usize,
    /// First MDL.
    pub MdlChain: *mut c_void,
    /// Offset of the data from the start of `MdlChain` (`NET_BUFFER_DATA_OFFSET`).
    pub DataOffset: u32,
}

const _: () = assert!(core::mem::offset_of!(NET_BUFFER, DataLength) == 0x18);
const _: () = assert!(core::mem::offset_of!(NET_BUFFER, DataOffset) == 0x28);

/// `NDIS_STATUS`.
pub type NDIS_STATUS = i32;
