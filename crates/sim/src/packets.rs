//! Packets in the simulated stack: NBLs (real memory, laid out as `NET_BUFFER_LIST`), clones,
//! injections pending until the test completes them, and the injection-state answers.

use core::ffi::c_void;
use std::boxed::Box;
use std::collections::BTreeMap;
use std::format;
use std::string::String;
use std::vec::Vec;

use super::layout::{
    RawBlock, nbl as nbl_layout, net_buffer as nb_layout, packet_list_information as layout_pli,
};
use super::stack::{SimulatedStack, State, Violation};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelFn;
use crate::sys::types::{
    FWPS_INJECT_COMPLETE0, FWPS_TRANSPORT_SEND_PARAMS0, HANDLE, NDIS_STATUS, NET_BUFFER,
    NET_BUFFER_LIST, NTSTATUS,
};

/// Where an NBL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// Indicated by the stack (what classify sees); the test returns it with
    /// [`SimulatedStack::return_packet`].
    Indicated,
    /// Made by `FwpsAllocateCloneNetBufferList0`; freed with `FwpsFreeCloneNetBufferList0`.
    Clone {
        /// The original's address.
        parent: usize,
    },
}

/// The injection functions, as the simulation records them: the safe layer's own names for
/// them, one type for both.
pub use crate::inject::InjectionPath;

/// The call an injection path is counted and planned under.
const fn call_of(path: InjectionPath) -> KernelFn {
    match path {
        InjectionPath::TransportSend => KernelFn::FwpsInjectTransportSendAsync0,
        InjectionPath::TransportReceive => KernelFn::FwpsInjectTransportReceiveAsync0,
        InjectionPath::NetworkSend => KernelFn::FwpsInjectNetworkSendAsync0,
        InjectionPath::NetworkReceive => KernelFn::FwpsInjectNetworkReceiveAsync0,
        InjectionPath::Forward => KernelFn::FwpsInjectForwardAsync0,
        InjectionPath::Stream => KernelFn::FwpsStreamInjectAsync0,
    }
}

/// The FWPS_INJECTION_TYPE_* bit a handle needs for this path (the simulator's own values, not
/// the safe layer's).
const fn required_type_of(path: InjectionPath) -> u32 {
    match path {
        InjectionPath::Stream => 0x1,
        InjectionPath::TransportSend | InjectionPath::TransportReceive => 0x2,
        InjectionPath::NetworkSend | InjectionPath::NetworkReceive => 0x4,
        InjectionPath::Forward => 0x8,
    }
}

/// An injection WFP accepted and has not completed yet.
#[derive(Debug, Clone)]
pub struct PendingInjection {
    /// Sequence number, for [`SimulatedStack::complete_injection`].
    pub id: u64,
    /// Which function accepted it.
    pub path: InjectionPath,
    /// The injection handle.
    pub handle: usize,
    /// The NBL (owned by WFP until completion).
    pub nbl: usize,
    /// `ADDRESS_FAMILY` passed (0 where the function takes none).
    pub family: u16,
    /// Interface index passed (receive and forward paths).
    pub interface_index: u32,
    /// Sub-interface index passed (receive paths).
    pub sub_interface_index: u32,
    /// Compartment passed.
    pub compartment: u32,
    /// Transport send: remote address bytes read at injection time.
    pub remote_address: Vec<u8>,
    /// Transport send: remote scope id.
    pub remote_scope_id: u32,
    /// Transport send: control data read at injection time.
    pub control_data: Vec<u8>,
    /// Transport send: endpoint handle; stream: flow id.
    pub endpoint_or_flow: u64,
    /// Stream: bytes to inject.
    pub data_length: usize,
    completion: FWPS_INJECT_COMPLETE0,
    completion_context: usize,
    send_args: usize,
}

/// One NET_BUFFER of an NBL the test indicates: its bytes, the offset it presents them from,
/// and where its MDL chain breaks (the data is contiguous only within one MDL).
#[derive(Debug, Clone, Copy)]
pub struct NetBufferSpec<'a> {
    /// The whole buffer.
    pub bytes: &'a [u8],
    /// Data offset: the NET_BUFFER presents `bytes[offset..]`.
    pub offset: usize,
    /// Positions in `bytes` where a new MDL begins (ascending; empty: one MDL).
    pub mdl_starts: &'a [usize],
}

/// Bytes the simulator gives each MDL: opaque to drivers (they reach the data only through
/// NdisGetDataBuffer), so the simulator writes nothing inside; only their addresses appear in
/// the NET_BUFFER's `MdlChain` and `CurrentMdl`.
const MDL_BLOCK: usize = 0x40;

/// What freed NBL and NET_BUFFER memory is filled with: as a pointer it is non-canonical on
/// x64, so a driver that follows `FirstNetBuffer` or `Next` of a freed NBL faults at once; as
/// a length it is huge.
pub const FREED_POISON: u8 = 0xDB;

#[derive(Debug)]
struct NetBufferRecord {
    /// The NET_BUFFER memory; `DataLength` tracks `data.len() - offset`.
    block: Box<RawBlock<{ nb_layout::BLOCK }>>,
    /// The whole buffer; the NET_BUFFER presents it from `offset` on.
    data: Vec<u8>,
    offset: usize,
    /// Where each MDL after the first begins in `data`.
    mdl_starts: Vec<usize>,
    /// Never resized after creation, so each MDL keeps its address.
    mdls: Vec<RawBlock<MDL_BLOCK>>,
}

impl NetBufferRecord {
    fn new(data: Vec<u8>, offset: usize, mdl_starts: Vec<usize>) -> Self {
        let offset = offset.min(data.len());
        let mut mdl_starts: Vec<usize> = mdl_starts
            .into_iter()
            .filter(|&start| start > 0 && start < data.len())
            .collect();
        mdl_starts.sort_unstable();
        mdl_starts.dedup();
        let mut record = Self {
            block: RawBlock::boxed(),
            data,
            offset,
            mdls: (0..=mdl_starts.len()).map(|_| *RawBlock::boxed()).collect(),
            mdl_starts,
        };
        record.update_window();
        record
    }

    /// Index of the MDL holding byte `position`.
    fn mdl_of(&self, position: usize) -> usize {
        self.mdl_starts.partition_point(|&start| start <= position)
    }

    fn mdl_start(&self, index: usize) -> usize {
        if index == 0 {
            0
        } else {
            self.mdl_starts[index - 1]
        }
    }

    /// Writes `DataOffset`, `DataLength`, the MDL chain and the current MDL; the upper half of
    /// the length union is poisoned as NDIS leaves it undefined.
    fn update_window(&mut self) {
        let total = self.data.len();
        let offset = self.offset;
        self.block
            .put(nb_layout::DATA_LENGTH, (total - offset) as u32);
        self.block
            .put(nb_layout::DATA_LENGTH + 4, nb_layout::UNION_HIGH_POISON);
        self.block.put(nb_layout::DATA_OFFSET, offset as u32);
        let current = self.mdl_of(offset).min(self.mdls.len() - 1);
        let start = self.mdl_start(current);
        let chain = self.mdls[0].as_mut_ptr() as usize;
        let current_mdl = self.mdls[current].as_mut_ptr() as usize;
        self.block.put(nb_layout::MDL_CHAIN, chain);
        self.block.put(nb_layout::CURRENT_MDL, current_mdl);
        self.block
            .put(nb_layout::CURRENT_MDL_OFFSET, (offset - start) as u32);
    }

    fn length(&self) -> usize {
        self.data.len() - self.offset
    }

    /// Whether bytes `[offset, offset + bytes)` lie within one MDL.
    fn contiguous(&self, bytes: usize) -> bool {
        let end = self.offset + bytes;
        !self
            .mdl_starts
            .iter()
            .any(|&start| start > self.offset && start < end)
    }

    fn ip_version(&self) -> Option<u8> {
        self.data.get(self.offset).map(|b| b >> 4)
    }
}

#[derive(Debug)]
pub(super) struct PacketRecord {
    kind: PacketKind,
    /// The NET_BUFFER_LIST memory, laid out by the simulator's own table; kept until the stack
    /// drops so addresses are never reused (and poisoned once freed).
    memory: Box<RawBlock<{ nbl_layout::BLOCK }>>,
    /// Its NET_BUFFERs, chained by `Next` in this order.
    buffers: Vec<NetBufferRecord>,
    live_clones: u32,
    released: bool,
    pending: bool,
    /// (handle, injection context) of the injection that carried it.
    injected_by: Option<(usize, usize)>,
    /// The injections of the packets this one was cloned from, oldest first: a clone inherits
    /// its parent's history and the parent's own injection. FWPS_PACKET_INJECTION_STATE's
    /// PREVIOUSLY_INJECTED_BY_SELF is a packet "later cloned and reinjected ..., possibly using
    /// a different injection handle", so the query answers it from here before
    /// INJECTED_BY_OTHER. A copy into a new packet (what another driver may inject instead of a
    /// clone) starts with none.
    previously_injected_by: Vec<(usize, usize)>,
    /// What the stack knows of the packet it indicated; clones inherit it.
    model: PacketModel,
}

/// What the simulated stack knows of a packet it indicated at a transport layer, to
/// answer the security query and to check what the driver injects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketModel {
    /// Where the IP header starts in the packet's bytes (after any link-layer header).
    pub ip_start: Option<usize>,
    /// The IP protocol.
    pub protocol: Option<u8>,
    /// Indicated with FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED.
    pub ale_classify_required: bool,
    /// FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0 bits (the simulator's own masks).
    pub ipsec_inbound: u32,
    /// Indicated at an IP packet layer: what a network injection of it must match.
    pub ip_packet: Option<IpPacketModel>,
}

/// What the stack knows of a packet it indicated at an IP packet layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacketModel {
    /// The packet's `ADDRESS_FAMILY` (AF_INET 2, AF_INET6 23).
    pub family: u16,
    /// The compartment the classify's metadata carried.
    pub compartment: u32,
    /// (interface, sub-interface) of an inbound packet's arrival; `None` outbound.
    pub arrival: Option<(u32, u32)>,
}

#[derive(Debug, Default)]
pub(super) struct PacketTable {
    records: BTreeMap<usize, PacketRecord>,
    /// NET_BUFFER address to its NBL's address and its index in the NBL.
    buffers: BTreeMap<usize, (usize, usize)>,
    pub(super) pending: Vec<PendingInjection>,
    next_injection: u64,
}

// SAFETY: the raw pointers inside the records are owned boxes or plain addresses; the table is
// only touched under the stack's mutex.
unsafe impl Send for PacketTable {}

impl PacketTable {
    fn add(&mut self, kind: PacketKind, mut buffers: Vec<NetBufferRecord>) -> *mut NET_BUFFER_LIST {
        let mut memory = RawBlock::<{ nbl_layout::BLOCK }>::boxed();
        if let PacketKind::Clone { parent } = kind {
            memory.put(nbl_layout::PARENT_NET_BUFFER_LIST, parent);
        }
        let raw = memory.as_mut_ptr().cast::<NET_BUFFER_LIST>();
        // Chain the NET_BUFFERs: the NBL's FirstNetBuffer, then each one's Next.
        let mut next = 0usize;
        for (index, buffer) in buffers.iter_mut().enumerate().rev() {
            buffer.block.put(nb_layout::NEXT, next);
            next = buffer.block.as_mut_ptr() as usize;
            self.buffers.insert(next, (raw as usize, index));
        }
        memory.put(nbl_layout::FIRST_NET_BUFFER, next);
        self.records.insert(
            raw as usize,
            PacketRecord {
                kind,
                memory,
                buffers,
                live_clones: 0,
                released: false,
                pending: false,
                injected_by: None,
                previously_injected_by: Vec::new(),
                model: PacketModel::default(),
            },
        );
        raw
    }

    /// A live (not freed) record, or the violation that using `nbl` is.
    fn live(&mut self, call: KernelFn, nbl: usize) -> Result<&mut PacketRecord, Violation> {
        match self.records.get_mut(&nbl) {
            None => Err(Violation::UnknownNbl(call, nbl)),
            Some(record) if record.released => Err(Violation::NblUsedAfterFree(call, nbl)),
            Some(record) => Ok(record),
        }
    }

    pub(super) fn leak_report(&self) -> Option<String> {
        let clones = self
            .records
            .values()
            .filter(|r| matches!(r.kind, PacketKind::Clone { .. }) && !r.released)
            .count();
        let indicated = self
            .records
            .values()
            .filter(|r| r.kind == PacketKind::Indicated && !r.released)
            .count();
        if clones == 0 && indicated == 0 && self.pending.is_empty() {
            return None;
        }
        Some(format!(
            "{clones} clone(s) never freed, {indicated} indicated packet(s) never returned, {} \
             injection(s) never completed",
            self.pending.len()
        ))
    }
}

/// Everything an inject call passes, in one place for the shared checks.
pub(super) struct InjectCall {
    pub(super) path: InjectionPath,
    pub(super) handle: HANDLE,
    pub(super) injection_context: HANDLE,
    pub(super) family: u16,
    pub(super) compartment: u32,
    pub(super) interface_index: u32,
    pub(super) sub_interface_index: u32,
    pub(super) send_args: *mut FWPS_TRANSPORT_SEND_PARAMS0,
    pub(super) endpoint_or_flow: u64,
    pub(super) data_length: usize,
    /// A reserved flags argument was nonzero or a reserved pointer non-null.
    pub(super) reserved_in_use: bool,
    pub(super) nbl: *mut NET_BUFFER_LIST,
    pub(super) completion: FWPS_INJECT_COMPLETE0,
    pub(super) completion_context: *mut c_void,
}

/// Reads transport-send parameters the way the kernel would: the remote address (4 or 16 bytes by
/// family) and the control data.
///
/// # Safety
/// `args` is null or valid, and its pointers are valid for the lengths they imply.
unsafe fn read_send_args(
    args: *const FWPS_TRANSPORT_SEND_PARAMS0,
    family: u16,
) -> (Vec<u8>, u32, Vec<u8>) {
    if args.is_null() {
        return (Vec::new(), 0, Vec::new());
    }
    // SAFETY: the caller guarantees `args` is valid.
    let params = unsafe { args.read() };
    let address_length = if family == 23 { 16 } else { 4 };
    let address = if params.remoteAddress.is_null() {
        Vec::new()
    } else {
        // SAFETY: the kernel contract: remoteAddress points to an address of the family's size.
        unsafe { std::slice::from_raw_parts(params.remoteAddress, address_length) }.to_vec()
    };
    let control = if params.controlData.is_null() || params.controlDataLength == 0 {
        Vec::new()
    } else {
        // SAFETY: the kernel contract: controlData has controlDataLength readable bytes.
        unsafe {
            std::slice::from_raw_parts(
                params.controlData.cast::<u8>(),
                params.controlDataLength as usize,
            )
        }
        .to_vec()
    };
    (address, params.remoteScopeId, control)
}

/// True when `bytes` starts with an IPv4 header (IHL from its first byte) whose
/// one's-complement sum over the header is 0xFFFF (RFC 791 / RFC 1071).
fn ipv4_header_checksum_valid(bytes: &[u8]) -> bool {
    let Some(first) = bytes.first() else {
        return false;
    };
    let length = usize::from(first & 0x0F) * 4;
    let Some(header) = bytes.get(..length).filter(|h| h.len() >= 20) else {
        return false;
    };
    let mut sum: u32 = header
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum == 0xFFFF
}

const INJECTED_BY_SELF: i32 = 1;
const INJECTED_BY_OTHER: i32 = 2;
const PREVIOUSLY_INJECTED_BY_SELF: i32 = 3;
pub(crate) const NOT_INJECTED: i32 = 0;
/// Every FWPS_PACKET_INJECTION_STATE value below FWPS_PACKET_INJECTION_STATE_MAX.
pub(super) const INJECTION_STATES: [i32; 4] = [
    NOT_INJECTED,
    INJECTED_BY_SELF,
    INJECTED_BY_OTHER,
    PREVIOUSLY_INJECTED_BY_SELF,
];

impl PacketRecord {
    /// Marks the NBL freed and poisons its memory and its NET_BUFFERs'.
    fn release(&mut self) {
        self.released = true;
        self.memory.fill(FREED_POISON);
        for buffer in &mut self.buffers {
            buffer.block.fill(FREED_POISON);
        }
    }

    fn total_length(&self) -> usize {
        self.buffers.iter().map(NetBufferRecord::length).sum()
    }
}

/// The IP protocol of a packet that starts with an IPv4 or IPv6 header.
fn ip_protocol(data: &[u8]) -> Option<u8> {
    match data.first().map(|b| b >> 4) {
        Some(4) => data.get(9).copied(),
        Some(6) => data.get(6).copied(),
        _ => None,
    }
}

impl SimulatedStack {
    /// A packet as the stack indicates it to classify: an NBL holding `bytes`. The test returns it
    /// with [`return_packet`](Self::return_packet) when classify is done with it.
    pub fn indicate_packet(&self, bytes: &[u8]) -> *mut NET_BUFFER_LIST {
        self.indicate_packet_at(bytes, 0)
    }

    /// [`indicate_packet`](Self::indicate_packet) presenting the data from `offset` on, as a
    /// layer does (e.g. past the IP and transport headers at the inbound transport layer).
    pub fn indicate_packet_at(&self, bytes: &[u8], offset: usize) -> *mut NET_BUFFER_LIST {
        self.indicate_net_buffers(&[NetBufferSpec {
            bytes,
            offset,
            mdl_starts: &[],
        }])
    }

    /// An indicated NBL with several NET_BUFFERs, each possibly made of several MDLs (its data
    /// is then contiguous only within each MDL, as NdisGetDataBuffer sees it).
    pub fn indicate_net_buffers(&self, buffers: &[NetBufferSpec<'_>]) -> *mut NET_BUFFER_LIST {
        assert!(!buffers.is_empty(), "an NBL has at least one NET_BUFFER");
        let records = buffers
            .iter()
            .map(|spec| {
                NetBufferRecord::new(spec.bytes.to_vec(), spec.offset, spec.mdl_starts.to_vec())
            })
            .collect();
        self.lock().packets.add(PacketKind::Indicated, records)
    }

    /// The bytes an NBL's first NET_BUFFER presents now (from its current data offset).
    pub fn packet_view(&self, nbl: *const NET_BUFFER_LIST) -> Option<Vec<u8>> {
        self.packet_views(nbl)
            .and_then(|views| views.into_iter().next())
    }

    /// The bytes each of an NBL's NET_BUFFERs presents now.
    pub fn packet_views(&self, nbl: *const NET_BUFFER_LIST) -> Option<Vec<Vec<u8>>> {
        let state = self.lock();
        state.packets.records.get(&(nbl as usize)).map(|r| {
            r.buffers
                .iter()
                .map(|b| b.data[b.offset..].to_vec())
                .collect()
        })
    }

    /// The stack takes an indicated packet back (classify returned, or an absorbed packet was
    /// completed). Its clones must all be freed first.
    pub fn return_packet(&self, nbl: *mut NET_BUFFER_LIST) {
        let mut state = self.lock();
        let violation = match state.packets.records.get_mut(&(nbl as usize)) {
            None => Some(Violation::UnknownNbl(
                KernelFn::FwpsFreeCloneNetBufferList0,
                nbl as usize,
            )),
            Some(record) if record.released => Some(Violation::NblUsedAfterFree(
                KernelFn::FwpsFreeCloneNetBufferList0,
                nbl as usize,
            )),
            Some(record) if record.live_clones > 0 => {
                Some(Violation::OriginalReturnedBeforeClones(nbl as usize))
            }
            Some(record) => {
                record.release();
                None
            }
        };
        state.violations.extend(violation);
    }

    /// Where the IP header starts in an indicated inbound packet's bytes (clones inherit it).
    pub(super) fn packet_ip_start(&self, nbl: *const NET_BUFFER_LIST) -> Option<usize> {
        let state = self.lock();
        state
            .packets
            .records
            .get(&(nbl as usize))
            .and_then(|r| r.model.ip_start)
    }

    /// The bytes of a packet's first NET_BUFFER (a clone carries its original's).
    pub fn packet_data(&self, nbl: *const NET_BUFFER_LIST) -> Option<Vec<u8>> {
        let state = self.lock();
        state
            .packets
            .records
            .get(&(nbl as usize))
            .and_then(|r| r.buffers.first())
            .map(|b| b.data.clone())
    }

    /// Clones allocated and not yet freed.
    pub fn live_clones(&self) -> usize {
        let state = self.lock();
        state
            .packets
            .records
            .values()
            .filter(|r| matches!(r.kind, PacketKind::Clone { .. }) && !r.released)
            .count()
    }

    /// What kind of NBL `nbl` is, if this stack made it.
    pub fn packet_kind(&self, nbl: *const NET_BUFFER_LIST) -> Option<PacketKind> {
        self.lock()
            .packets
            .records
            .get(&(nbl as usize))
            .map(|r| r.kind)
    }

    /// Injections accepted and not completed, oldest first.
    pub fn pending_injections(&self) -> Vec<PendingInjection> {
        self.lock().packets.pending.clone()
    }

    /// Completes injection `id` on the calling thread with `status`, as WFP would: the NBL's
    /// status is set, then the completion runs at DISPATCH_LEVEL (`at_dispatch`) or
    /// PASSIVE_LEVEL. Returns false if no such injection is pending.
    pub fn complete_injection(&self, id: u64, status: NtStatus, at_dispatch: bool) -> bool {
        let mut state = self.lock();
        let Some(index) = state.packets.pending.iter().position(|p| p.id == id) else {
            return false;
        };
        let pending = state.packets.pending.remove(index);
        if pending.path == InjectionPath::TransportSend {
            // The kernel reads the send parameters until completion: they must still hold.
            // SAFETY: the driver's contract keeps send_args valid until completion; if it broke
            // it, this read is what the kernel would do too.
            let now = unsafe {
                read_send_args(
                    pending.send_args as *const FWPS_TRANSPORT_SEND_PARAMS0,
                    pending.family,
                )
            };
            if now
                != (
                    pending.remote_address.clone(),
                    pending.remote_scope_id,
                    pending.control_data.clone(),
                )
            {
                state
                    .violations
                    .push(Violation::SendParametersChangedBeforeCompletion(id));
            }
        }
        if let Some(record) = state.packets.records.get_mut(&pending.nbl) {
            record.pending = false;
            record.memory.put(nbl_layout::STATUS, status.0);
        }
        let me = std::thread::current().id();
        state.completing.push((me, pending.handle));
        drop(state);
        let completion = pending.completion;
        let irql = if at_dispatch {
            Irql::DISPATCH
        } else {
            Irql::PASSIVE
        };
        self.at_irql(irql, || {
            // SAFETY: WFP's contract: the completion gets its context and the NBL it was given.
            unsafe {
                completion(
                    pending.completion_context as *mut c_void,
                    pending.nbl as *mut NET_BUFFER_LIST,
                    u8::from(at_dispatch),
                )
            }
        });
        {
            let mut state = self.lock();
            if let Some(index) = state
                .completing
                .iter()
                .position(|&entry| entry == (me, pending.handle))
            {
                state.completing.remove(index);
            }
        }
        // Another driver's completion frees its clone as the driver's own does.
        self.other_injection_completed(pending.handle, pending.nbl);
        self.changed.notify_all();
        true
    }

    /// Moves the data start of every NET_BUFFER of `nbl` by `delta` bytes (negative: back
    /// toward the buffer's start) without counting an NDIS call: how the stack presents an
    /// injected packet at a layer and gives it back as it was. False (nothing moved) when a
    /// buffer has too few bytes on that side.
    pub(super) fn shift_data_start(&self, nbl: *mut NET_BUFFER_LIST, delta: isize) -> bool {
        let mut state = self.lock();
        let Some(record) = state.packets.records.get_mut(&(nbl as usize)) else {
            return false;
        };
        let fits = record.buffers.iter().all(|b| {
            b.offset
                .checked_add_signed(delta)
                .is_some_and(|at| at <= b.data.len())
        });
        if !fits {
            return false;
        }
        for buffer in &mut record.buffers {
            buffer.offset = buffer.offset.saturating_add_signed(delta);
            buffer.update_window();
        }
        true
    }

    /// Completes every pending injection, oldest first, with `status` at DISPATCH_LEVEL.
    /// Returns how many ran.
    pub fn complete_all(&self, status: NtStatus) -> usize {
        let mut count = 0;
        while let Some(first) = self.pending_injections().first().map(|p| p.id) {
            self.complete_injection(first, status, true);
            count += 1;
        }
        count
    }

    pub(super) fn inject(&self, call: InjectCall) -> NTSTATUS {
        let mut state = self.lock();
        let sim_call = call_of(call.path);
        if call.reserved_in_use {
            return state.misuse(Violation::ReservedNotZero(sim_call));
        }
        let handle = call.handle as usize;
        let Some(record) = state.handles.get(&handle).copied().filter(|h| !h.destroyed) else {
            state
                .violations
                .push(Violation::StaleHandleUse(sim_call, handle));
            return NtStatus::INVALID_HANDLE.0;
        };
        if record.closing {
            return NtStatus::FWP_INJECT_HANDLE_CLOSING.0;
        }
        // A handle created with no type flags serves transport, stream and forward.
        let types = if record.flags == 0 {
            0x1 | 0x2 | 0x8
        } else {
            record.flags
        };
        if types & required_type_of(call.path) == 0 {
            return NtStatus::FWP_INJECT_HANDLE_STALE.0;
        }
        let nbl = call.nbl as usize;
        let classifying = state.classifying.get(&std::thread::current().id()).copied();
        let packet = match state.packets.live(sim_call, nbl) {
            Ok(packet) => packet,
            Err(violation) => {
                return state.misuse(violation);
            }
        };
        if packet.pending {
            return state.misuse(Violation::NblAlreadyPending(sim_call, nbl));
        }
        if packet.kind == PacketKind::Indicated {
            // The stack lent the indicated NBL to classify; only a clone (or the driver's own
            // NBL) may be injected.
            return state.misuse(Violation::InjectedIndicatedPacket(sim_call, nbl));
        }
        // Each NET_BUFFER must start with an IP header of `family` (where the path needs one).
        let starts_with_ip = |family: u16| {
            packet
                .buffers
                .iter()
                .all(|buffer| matches!((family, buffer.ip_version()), (2, Some(4)) | (23, Some(6))))
        };
        let family_ok = match call.path {
            // Network injection: an AF-specific handle, and a packet that starts with that
            // family's IP header.
            InjectionPath::NetworkSend | InjectionPath::NetworkReceive => {
                starts_with_ip(record.family)
            }
            InjectionPath::Stream => true,
            // Transport receive injection takes the packet from its IP header.
            InjectionPath::TransportReceive => {
                starts_with_ip(call.family) && (record.family == 0 || record.family == call.family)
            }
            InjectionPath::Forward => {
                matches!(call.family, 2 | 23)
                    && (record.family == 0 || record.family == call.family)
            }
            InjectionPath::TransportSend => {
                matches!(call.family, 2 | 23)
                    && (record.family == 0 || record.family == call.family)
            }
        };
        let network = matches!(
            call.path,
            InjectionPath::NetworkSend | InjectionPath::NetworkReceive
        );
        let wrong_family = network
            && packet
                .model
                .ip_packet
                .is_some_and(|ip_packet| ip_packet.family != record.family);
        let first_offset = packet.buffers.first().map_or(0, |b| b.offset);
        let off_ip_header = network
            && packet.model.ip_packet.is_some()
            && packet
                .model
                .ip_start
                .is_some_and(|start| start != first_offset);
        if !family_ok {
            // A packet of the other family cannot start with this handle's IP header, so a
            // wrong handle ends here.
            if wrong_family {
                state
                    .violations
                    .push(Violation::NetworkInjectionWrongFamily(nbl));
            }
            // Data that does not start with an IP header (inbound, the classify's offset past
            // it) ends here too: still the driver's mistake, not a packet Windows may refuse.
            if off_ip_header {
                state
                    .violations
                    .push(Violation::NetworkInjectionNotAtIpHeader(nbl));
            }
            return NtStatus::INVALID_PARAMETER.0;
        }
        // What the stack checks of an injected packet, from its own model.
        let model = packet.model;
        // Forwarded bytes are whole IP packets of the family given.
        if call.path == InjectionPath::Forward && !starts_with_ip(call.family) {
            return state.misuse(Violation::ForwardedNonIp(nbl));
        }
        let available = packet.total_length();
        if call.path == InjectionPath::Stream && call.data_length > available {
            return state.misuse(Violation::StreamInjectPastData {
                nbl,
                requested: call.data_length,
                available,
            });
        }
        // TCP at a transport layer must be injected out of band (from a DPC), never from
        // inside classify.
        let transport = matches!(
            call.path,
            InjectionPath::TransportSend | InjectionPath::TransportReceive
        );
        let protocol = classifying.map(|known| {
            known.or_else(|| {
                packet
                    .buffers
                    .first()
                    .and_then(|b| ip_protocol(&b.data[b.offset..]))
            })
        });
        if transport && protocol == Some(Some(6)) {
            return state.misuse(Violation::TcpInjectedInline(sim_call));
        }
        if transport && model.protocol == Some(6) && state.in_classify() {
            state
                .violations
                .push(Violation::TcpInjectedInsideClassify(nbl));
        }
        if call.path == InjectionPath::TransportReceive {
            let packet = state.packets.live(sim_call, nbl).expect("checked above");
            let first = packet.buffers.first();
            let offset = first.map_or(0, |b| b.offset);
            let presented = first.map_or(&[][..], |b| &b.data[b.offset..]);
            let mut found = Vec::new();
            if model.ip_start.is_some_and(|start| start != offset) {
                found.push(Violation::TransportReceiveNotAtIpHeader(nbl));
            }
            // Checked for the packets the traffic model indicated (raw test bytes may carry
            // any checksum).
            if model.ip_start.is_some()
                && first.and_then(NetBufferRecord::ip_version) == Some(4)
                && !ipv4_header_checksum_valid(presented)
            {
                found.push(Violation::InvalidIpv4HeaderChecksum(nbl));
            }
            if model.ale_classify_required {
                found.push(Violation::ReceiveInjectionOfAleClassifyRequired(nbl));
            }
            let tunnel = layout_pli::INBOUND_IS_TUNNEL_MODE;
            let detunneled = layout_pli::INBOUND_IS_DE_TUNNELED;
            if model.ipsec_inbound & layout_pli::INBOUND_IS_SECURE != 0
                || (model.ipsec_inbound & tunnel != 0 && model.ipsec_inbound & detunneled == 0)
            {
                found.push(Violation::ReceiveInjectionBypassesIpsec(nbl));
            }
            state.violations.extend(found);
        }
        if matches!(
            call.path,
            InjectionPath::NetworkSend | InjectionPath::NetworkReceive
        ) && let Some(ip_packet) = model.ip_packet
        {
            let packet = state.packets.live(sim_call, nbl).expect("checked above");
            let first = packet.buffers.first();
            let offset = first.map_or(0, |b| b.offset);
            let presented = first.map_or(&[][..], |b| &b.data[b.offset..]);
            let mut found = Vec::new();
            if model.ip_start.is_some_and(|start| start != offset) {
                found.push(Violation::NetworkInjectionNotAtIpHeader(nbl));
            }
            if matches!(model.protocol, Some(50 | 51)) {
                found.push(Violation::NetworkInjectionOfIpsecPacket(nbl));
            }
            if call.compartment != ip_packet.compartment {
                found.push(Violation::NetworkInjectionWrongCompartment {
                    nbl,
                    expected: ip_packet.compartment,
                    given: call.compartment,
                });
            }
            if call.path == InjectionPath::NetworkReceive {
                let given = (call.interface_index, call.sub_interface_index);
                if let Some(expected) = ip_packet.arrival
                    && expected != given
                {
                    found.push(Violation::NetworkReceiveWrongInterface {
                        nbl,
                        expected,
                        given,
                    });
                }
                if ip_packet.family == 2 && !ipv4_header_checksum_valid(presented) {
                    found.push(Violation::InvalidIpv4HeaderChecksum(nbl));
                }
            }
            state.violations.extend(found);
        }
        let (remote_address, remote_scope_id, control_data) =
            if call.path == InjectionPath::TransportSend {
                // SAFETY: the seam's contract for transport send: send_args is valid or null.
                unsafe { read_send_args(call.send_args, call.family) }
            } else {
                (Vec::new(), 0, Vec::new())
            };
        let packet = state.packets.live(sim_call, nbl).expect("checked above");
        packet.pending = true;
        packet.injected_by = Some((handle, call.injection_context as usize));
        let id = state.packets.next_injection;
        state.packets.next_injection += 1;
        state.packets.pending.push(PendingInjection {
            id,
            path: call.path,
            handle,
            nbl,
            family: call.family,
            interface_index: call.interface_index,
            sub_interface_index: call.sub_interface_index,
            compartment: call.compartment,
            remote_address,
            remote_scope_id,
            control_data,
            endpoint_or_flow: call.endpoint_or_flow,
            data_length: call.data_length,
            completion: call.completion,
            completion_context: call.completion_context as usize,
            send_args: call.send_args as usize,
        });
        if state.complete_synchronously() {
            // WFP may complete the injection before the inject call returns, on this thread
            // at this IRQL.
            let at_dispatch = state.irql_of_current_thread() >= Irql::DISPATCH;
            drop(state);
            self.complete_injection(id, NtStatus::SUCCESS, at_dispatch);
        }
        NtStatus::SUCCESS.0
    }

    pub(super) fn query(
        &self,
        handle: HANDLE,
        nbl: *const NET_BUFFER_LIST,
        context: *mut HANDLE,
    ) -> i32 {
        let mut state = self.lock();
        let call = KernelFn::FwpsQueryPacketInjectionState0;
        let handle = handle as usize;
        if state.handles.get(&handle).is_none_or(|h| h.destroyed) {
            state
                .violations
                .push(Violation::StaleHandleUse(call, handle));
            return NOT_INJECTED;
        }
        let record = match state.packets.live(call, nbl as usize) {
            Ok(record) => record,
            Err(violation) => {
                state.violations.push(violation);
                return NOT_INJECTED;
            }
        };
        let earlier = record
            .previously_injected_by
            .iter()
            .rev()
            .find(|(by, _)| *by == handle)
            .map(|&(_, ctx)| ctx);
        let (answer, injection_context) = match (record.injected_by, earlier) {
            (Some((by, ctx)), _) if by == handle => (INJECTED_BY_SELF, ctx),
            // Injected by this handle before a clone of it was injected again, by any handle.
            (_, Some(ctx)) => (PREVIOUSLY_INJECTED_BY_SELF, ctx),
            (Some(_), None) => (INJECTED_BY_OTHER, 0),
            (None, None) => (NOT_INJECTED, 0),
        };
        if !context.is_null() && matches!(answer, INJECTED_BY_SELF | PREVIOUSLY_INJECTED_BY_SELF) {
            // SAFETY: the seam's contract: a non-null context pointer is writable.
            unsafe { context.write(injection_context as HANDLE) };
        }
        answer
    }

    pub(super) fn clone_packet(
        &self,
        original: *mut NET_BUFFER_LIST,
        clone: *mut *mut NET_BUFFER_LIST,
        flags: u32,
    ) -> NTSTATUS {
        self.clone_with_history(original, clone, flags, true)
    }

    /// FwpsAllocateCloneNetBufferList0 (`inherit`: the clone carries the injection history), or,
    /// without `inherit`, the simulator's model of a copy into a new packet (another driver's
    /// deep copy), which carries none.
    pub(super) fn clone_with_history(
        &self,
        original: *mut NET_BUFFER_LIST,
        clone: *mut *mut NET_BUFFER_LIST,
        flags: u32,
        inherit: bool,
    ) -> NTSTATUS {
        let mut state = self.lock();
        let call = KernelFn::FwpsAllocateCloneNetBufferList0;
        if flags != 0 {
            return state.misuse(Violation::ReservedNotZero(call));
        }
        if clone.is_null() {
            return state.misuse(Violation::NullPointer(call));
        }
        let parent = original as usize;
        let record = match state.packets.live(call, parent) {
            Ok(record) => record,
            Err(violation) => {
                return state.misuse(violation);
            }
        };
        record.live_clones += 1;
        // The clone presents the same data through the same MDLs.
        let buffers = record
            .buffers
            .iter()
            .map(|b| NetBufferRecord::new(b.data.clone(), b.offset, b.mdl_starts.clone()))
            .collect();
        let mut inherited = if inherit {
            record.previously_injected_by.clone()
        } else {
            Vec::new()
        };
        if inherit {
            inherited.extend(record.injected_by);
        }
        let model = record.model;
        let raw = state.packets.add(PacketKind::Clone { parent }, buffers);
        if let Some(new) = state.packets.records.get_mut(&(raw as usize)) {
            new.previously_injected_by = inherited;
            new.model = model;
        }
        // SAFETY: the seam's contract: `clone` is writable; null was refused above.
        unsafe { clone.write(raw) };
        let delay = state.engine_clone_delay();
        drop(state);
        if !delay.is_zero() {
            // A slow clone: the calling classify stays inside its callout meanwhile.
            std::thread::sleep(delay);
        }
        NtStatus::SUCCESS.0
    }

    #[allow(non_snake_case)] // the semantics of FwpsFreeCloneNetBufferList0
    pub(super) fn FwpsFreeCloneNetBufferList0(&self, clone: *mut NET_BUFFER_LIST, flags: u32) {
        let mut state = self.lock();
        let call = KernelFn::FwpsFreeCloneNetBufferList0;
        if flags != 0 {
            // The clone is still freed: the kernel has no way to refuse.
            state.violations.push(Violation::ReservedNotZero(call));
        }
        let address = clone as usize;
        let record = match state.packets.live(call, address) {
            Ok(record) => record,
            Err(violation) => {
                state.violations.push(violation);
                return;
            }
        };
        let PacketKind::Clone { parent } = record.kind else {
            state.violations.push(Violation::FreeOfNonClone(address));
            return;
        };
        if record.pending {
            state
                .violations
                .push(Violation::NblAlreadyPending(call, address));
            return;
        }
        record.release();
        if let Some(original) = state.packets.records.get_mut(&parent) {
            original.live_clones = original.live_clones.saturating_sub(1);
        }
    }
}

impl SimulatedStack {
    /// The live NET_BUFFER at `buffer`, or `None` with the violation recorded.
    fn buffer_record<'s>(
        &self,
        state: &'s mut State,
        call: KernelFn,
        buffer: *mut NET_BUFFER,
    ) -> Option<&'s mut NetBufferRecord> {
        let found = state.packets.buffers.get(&(buffer as usize)).copied();
        match found {
            Some((nbl, index)) => match state.packets.live(call, nbl) {
                Ok(_) => state
                    .packets
                    .records
                    .get_mut(&nbl)
                    .and_then(|r| r.buffers.get_mut(index)),
                Err(violation) => {
                    state.violations.push(violation);
                    None
                }
            },
            None => {
                state
                    .violations
                    .push(Violation::UnknownNbl(call, buffer as usize));
                None
            }
        }
    }

    pub(super) fn retreat(&self, buffer: *mut NET_BUFFER, delta: u32) -> NDIS_STATUS {
        let mut state = self.lock();
        let Some(record) =
            self.buffer_record(&mut state, KernelFn::NdisRetreatNetBufferDataStart, buffer)
        else {
            return NtStatus::INVALID_PARAMETER.0;
        };
        let delta = delta as usize;
        if delta > record.offset {
            // NDIS would allocate new memory in front of the data (the driver must check
            // DataOffset first); the simulation has none to give.
            state
                .violations
                .push(Violation::RetreatPastBufferStart(buffer as usize));
            return NtStatus::INSUFFICIENT_RESOURCES.0;
        }
        record.offset -= delta;
        record.update_window();
        NtStatus::SUCCESS.0
    }

    pub(super) fn advance(&self, buffer: *mut NET_BUFFER, delta: u32) {
        let mut state = self.lock();
        let Some(record) =
            self.buffer_record(&mut state, KernelFn::NdisAdvanceNetBufferDataStart, buffer)
        else {
            return;
        };
        let delta = delta as usize;
        if record.offset + delta > record.data.len() {
            state
                .violations
                .push(Violation::ReadPastEnd(buffer as usize));
            return;
        }
        record.offset += delta;
        record.update_window();
    }

    pub(super) fn data_buffer(
        &self,
        buffer: *mut NET_BUFFER,
        bytes: u32,
        storage: *mut c_void,
    ) -> *mut c_void {
        let mut state = self.lock();
        let Some(record) = self.buffer_record(&mut state, KernelFn::NdisGetDataBuffer, buffer)
        else {
            return core::ptr::null_mut();
        };
        let bytes = bytes as usize;
        if record.offset + bytes > record.data.len() {
            return core::ptr::null_mut();
        }
        let contiguous = record.contiguous(bytes);
        let data = &mut record.data[record.offset..];
        if contiguous {
            // The data never moves while the record lives (the Vec is not resized).
            return data.as_mut_ptr().cast();
        }
        // Spread over MDLs: copied into the caller's storage, or null without one.
        if storage.is_null() {
            return core::ptr::null_mut();
        }
        // SAFETY: NdisGetDataBuffer's contract: non-null storage has room for `bytes` bytes.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), storage.cast::<u8>(), bytes) };
        storage
    }
}

impl State {
    /// Pending injections on `handle`.
    pub(super) fn pending_on(&self, handle: usize) -> usize {
        self.packets
            .pending
            .iter()
            .filter(|p| p.handle == handle)
            .count()
    }
}

// The packet model and FwpsGetPacketListSecurityInformation0.
impl SimulatedStack {
    /// Records what the stack knows of a packet it indicated (see [`PacketModel`]).
    pub fn set_packet_model(&self, nbl: *mut NET_BUFFER_LIST, model: PacketModel) {
        if let Some(record) = self.lock().packets.records.get_mut(&(nbl as usize)) {
            record.model = model;
        }
    }

    /// `FwpsGetPacketListSecurityInformation0`: writes the packet's IPsec information (inbound
    /// from its model; outbound none) laid out by the simulator's own table.
    pub(super) fn packet_security_information(
        &self,
        nbl: *mut NET_BUFFER_LIST,
        query_flags: u32,
        information: *mut u8,
    ) -> NTSTATUS {
        let mut state = self.lock();
        let call = KernelFn::FwpsGetPacketListSecurityInformation0;
        if information.is_null() {
            return state.misuse(Violation::NullPointer(call));
        }
        let direction = query_flags & (layout_pli::QUERY_INBOUND | layout_pli::QUERY_OUTBOUND);
        if query_flags & layout_pli::QUERY_IPSEC != 0
            && direction != layout_pli::QUERY_INBOUND
            && direction != layout_pli::QUERY_OUTBOUND
        {
            return state.misuse(Violation::BadSecurityQueryFlags(query_flags));
        }
        let model = match state.packets.live(call, nbl as usize) {
            Ok(record) => record.model,
            Err(violation) => {
                return state.misuse(violation);
            }
        };
        let ipsec = if query_flags & layout_pli::QUERY_IPSEC != 0
            && direction == layout_pli::QUERY_INBOUND
        {
            model.ipsec_inbound
        } else {
            0
        };
        let mut block = [0u8; layout_pli::SIZE];
        block[layout_pli::IPSEC_INFORMATION..layout_pli::IPSEC_INFORMATION + 4]
            .copy_from_slice(&ipsec.to_ne_bytes());
        // SAFETY: the seam's contract: `information` is writable for the structure's size.
        unsafe { information.copy_from_nonoverlapping(block.as_ptr(), block.len()) };
        NtStatus::SUCCESS.0
    }
}
