//! The per-injection contexts a [`crate::PacketInjector`] draws from its pools: the injection
//! slot (what the kernel reads until the completion, and what the completion needs), the large
//! control-data buffer of a transport send, and the deferred slot of a TCP injection waiting for
//! its DPC. Fixed-size, allocated at creation, never per packet.

use core::ffi::c_void;
use core::ptr;

use crate::request::{
    CONTROL_DATA_CAPACITY, INLINE_CONTROL_DATA, Injection, InjectionPath, RemoteAddress,
};
use crate::sys::types::{FWPS_TRANSPORT_SEND_PARAMS0, HANDLE, KDPC, NET_BUFFER_LIST};

/// Per-injection context: lives in the pool from creation to close, and holds what the kernel
/// reads until the completion (transport-send parameters, remote address, control data up to
/// [`INLINE_CONTROL_DATA`]) and what the completion needs (path, cookie, the large control-data
/// buffer it holds if any; WFP hands the NBL back). The request itself is not copied: it is issued
/// from the caller's value. 160 bytes.
#[repr(C)]
pub(crate) struct InjectionSlot {
    /// The injector's shared state (type-erased: the slot type is not generic).
    pub(crate) owner: *const c_void,
    pub(crate) cookie: usize,
    pub(crate) index: u32,
    /// The large control-data buffer this injection holds, or [`NO_LARGE`].
    pub(crate) large: u16,
    pub(crate) path: InjectionPath,
    pub(crate) send_args: FWPS_TRANSPORT_SEND_PARAMS0,
    pub(crate) remote_address: [u8; 16],
    /// 8-aligned: the kernel reads WSACMSGHDRs from it.
    pub(crate) control_data: [u8; INLINE_CONTROL_DATA],
}

const _: () = assert!(core::mem::size_of::<InjectionSlot>() <= 160);
const _: () = assert!(core::mem::offset_of!(InjectionSlot, control_data) % 8 == 0);

/// [`InjectionSlot::large`] when the injection holds no large control-data buffer.
pub(crate) const NO_LARGE: u16 = u16::MAX;

/// Control data longer than [`INLINE_CONTROL_DATA`], up to [`CONTROL_DATA_CAPACITY`]: a buffer from
/// a small pool, held by a transport send until its completion.
#[repr(C, align(8))]
pub(crate) struct LargeControlData {
    pub(crate) bytes: [u8; CONTROL_DATA_CAPACITY],
}

/// What a deferred (TCP transport) injection needs until its DPC has issued it: the DPC, the
/// request, the injection context, the NBL and the index of its [`InjectionSlot`]. Given back as
/// soon as the DPC routine has read it; the completion needs only the injection slot. The DPC
/// comes first, so a pointer to the slot is a pointer to its DPC.
#[repr(C)]
pub(crate) struct DeferredSlot {
    /// Initialized once at creation.
    pub(crate) dpc: KDPC,
    pub(crate) owner: *const c_void,
    pub(crate) index: u32,
    /// The injection slot this deferred call completes into.
    pub(crate) slot: u32,
    pub(crate) injection_context: HANDLE,
    pub(crate) nbl: *mut NET_BUFFER_LIST,
    /// Transport send's control data is already in the injection slot: here it is empty.
    pub(crate) injection: Injection<'static>,
}

const _: () = assert!(core::mem::offset_of!(DeferredSlot, dpc) == 0);

// SAFETY: a slot is only touched by the owner of its pool index (one thread at a time) and by
// the kernel while an injection holds it.
unsafe impl Send for InjectionSlot {}
// SAFETY: as above.
unsafe impl Send for DeferredSlot {}

impl InjectionSlot {
    pub(crate) fn empty(index: u32, owner: *const c_void) -> Self {
        Self {
            owner,
            cookie: 0,
            index,
            large: NO_LARGE,
            path: InjectionPath::Forward,
            send_args: FWPS_TRANSPORT_SEND_PARAMS0 {
                remoteAddress: ptr::null_mut(),
                remoteScopeId: 0,
                controlData: ptr::null_mut(),
                controlDataLength: 0,
            },
            remote_address: [0; 16],
            control_data: [0; INLINE_CONTROL_DATA],
        }
    }

    /// Keeps what the completion needs and, for a transport send, what the kernel reads until
    /// then; the send parameters point into the slot (or into `large`, the large control-data
    /// buffer reserved for control data longer than the slot holds). Control data is copied only
    /// when present.
    #[inline(always)]
    pub(crate) fn load(
        &mut self,
        injection: &Injection<'_>,
        cookie: usize,
        large: Option<*mut LargeControlData>,
    ) {
        self.cookie = cookie;
        self.path = injection.path();
        if let Injection::TransportSend(send) = injection {
            let scope_id = match send.remote_address {
                RemoteAddress::V4(address) => {
                    self.remote_address[..4].copy_from_slice(&address);
                    0
                }
                RemoteAddress::V6(address, scope_id) => {
                    self.remote_address = address;
                    scope_id
                }
            };
            let control = send.control_data;
            // The reservation took a large buffer exactly when the data is longer than the slot
            // holds (and refused it beyond CONTROL_DATA_CAPACITY), so `min` changes nothing; it
            // keeps every copy in bounds without a panic path all the same.
            let room: &mut [u8] = match large {
                None => &mut self.control_data,
                // SAFETY: the reservation owns the buffer until the completion.
                Some(buffer) => unsafe { &mut (*buffer).bytes },
            };
            let length = control.len().min(room.len());
            let mut control_data: *mut u8 = ptr::null_mut();
            if length != 0 {
                if let (Some(room), Some(control)) = (room.get_mut(..length), control.get(..length))
                {
                    room.copy_from_slice(control);
                    control_data = room.as_mut_ptr();
                }
            }
            self.send_args = FWPS_TRANSPORT_SEND_PARAMS0 {
                remoteAddress: self.remote_address.as_mut_ptr(),
                remoteScopeId: scope_id,
                controlData: control_data.cast(),
                controlDataLength: length as u32,
            };
        }
    }
}

impl DeferredSlot {
    pub(crate) fn empty(index: u32, owner: *const c_void) -> Self {
        Self {
            dpc: KDPC::zeroed(),
            owner,
            index,
            slot: 0,
            injection_context: ptr::null_mut(),
            nbl: ptr::null_mut(),
            injection: Injection::Forward(crate::request::Forward {
                family: crate::IpFamily::V4,
                compartment: 0,
                interface_index: 0,
            }),
        }
    }
}
