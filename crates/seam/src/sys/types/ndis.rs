//! NDIS types: the parts of `NET_BUFFER_LIST` and `NET_BUFFER` this crate reads.
//!
//! Offsets are rows of facts/kernel-facts.md (tests/kernel_facts.rs compares them).

use core::ffi::c_void;

use super::NTSTATUS;

/// A member declared `DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT)` in ndis.h: 16 on x64.
#[repr(C, align(16))]
#[derive(Debug, Clone, Copy)]
pub struct MemoryAllocationAligned<T>(pub T);

/// `NET_BUFFER_LIST`, up to and including `Status` (x64 layout of nbl.h). Real NBLs are longer
/// (`NetBufferListInfo` follows); this crate never allocates one, so only the prefix is declared.
/// The three reserved arrays are 16-aligned in the header, so 8 bytes of padding follow
/// `NdisPoolHandle` and the structure is 16-aligned.
#[repr(C)]
#[derive(Debug)]
pub struct NET_BUFFER_LIST {
    /// Next NBL in a chain (`NET_BUFFER_LIST_HEADER`'s data half).
    pub Next: *mut NET_BUFFER_LIST,
    /// First `NET_BUFFER` (`NET_BUFFER_LIST_FIRST_NB`).
    pub FirstNetBuffer: *mut NET_BUFFER,
    /// `NET_BUFFER_LIST_CONTEXT` stack.
    pub Context: *mut c_void,
    /// The original of a clone.
    pub ParentNetBufferList: *mut NET_BUFFER_LIST,
    /// Pool the NBL came from.
    pub NdisPoolHandle: *mut c_void,
    /// NDIS-private (16-aligned).
    pub NdisReserved: MemoryAllocationAligned<[*mut c_void; 2]>,
    /// Protocol-private (16-aligned).
    pub ProtocolReserved: MemoryAllocationAligned<[*mut c_void; 4]>,
    /// Miniport-private (16-aligned).
    pub MiniportReserved: MemoryAllocationAligned<[*mut c_void; 2]>,
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

const _: () = {
    use core::mem::{align_of, offset_of};
    assert!(offset_of!(NET_BUFFER_LIST, ParentNetBufferList) == 0x18);
    assert!(offset_of!(NET_BUFFER_LIST, NdisReserved) == 0x30);
    assert!(offset_of!(NET_BUFFER_LIST, Scratch) == 0x70);
    assert!(offset_of!(NET_BUFFER_LIST, Status) == 0x8C);
    assert!(align_of::<NET_BUFFER_LIST>() == 16);
};

/// The `DataLength` / `stDataLength` union of `NET_BUFFER_DATA`. `NET_BUFFER_DATA_LENGTH` reads
/// the ULONG half.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NET_BUFFER_DATA_LENGTH_UNION {
    /// Bytes of data from the current offset (`NET_BUFFER_DATA_LENGTH`).
    pub DataLength: u32,
    /// The same, pointer-sized (NDIS-internal use).
    pub stDataLength: usize,
}

impl core::fmt::Debug for NET_BUFFER_DATA_LENGTH_UNION {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // SAFETY: both members are plain integers; the ULONG half is always initialized.
        let length = unsafe { self.DataLength };
        f.debug_tuple("DataLength").field(&length).finish()
    }
}

/// `NET_BUFFER`, the fields this crate reads (x64 layout of nbl.h).
#[repr(C)]
#[derive(Debug)]
pub struct NET_BUFFER {
    /// Next NET_BUFFER of the NBL.
    pub Next: *mut NET_BUFFER,
    /// MDL holding the current data offset.
    pub CurrentMdl: *mut c_void,
    /// Offset into `CurrentMdl`.
    pub CurrentMdlOffset: u32,
    /// `DataLength` (ULONG) in a union with `stDataLength` (SIZE_T).
    pub DataLength: NET_BUFFER_DATA_LENGTH_UNION,
    /// First MDL.
    pub MdlChain: *mut c_void,
    /// Offset of the data from the start of `MdlChain` (`NET_BUFFER_DATA_OFFSET`).
    pub DataOffset: u32,
}

impl NET_BUFFER {
    /// `NET_BUFFER_DATA_LENGTH`: the ULONG member of the length union.
    pub fn data_length(&self) -> u32 {
        // SAFETY: a union of two integers; the ULONG half is what the macro reads and what NDIS
        // keeps current.
        unsafe { self.DataLength.DataLength }
    }
}

const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(NET_BUFFER, DataLength) == 0x18);
    assert!(offset_of!(NET_BUFFER, DataOffset) == 0x28);
};

/// `NDIS_STATUS`.
pub type NDIS_STATUS = i32;
