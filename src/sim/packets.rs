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
use super::stack::{SimCall, SimulatedStack, State, Violation};
use crate::nt::{Irql, NtStatus};
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

/// The injection functions, as the simulation records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectionPath {
    /// `FwpsInjectTransportSendAsync0`.
    TransportSend,
    /// `FwpsInjectTransportReceiveAsync0`.
    TransportReceive,
    /// `FwpsInjectNetworkSendAsync0`.
    NetworkSend,
    /// `FwpsInjectNetworkReceiveAsync0`.
    NetworkReceive,
    /// `FwpsInjectForwardAsync0`.
    Forward,
    /// `FwpsStreamInjectAsync0`.
    Stream,
}

impl InjectionPath {
    const fn call(self) -> SimCall {
        match self {
            Self::TransportSend => SimCall::InjectTransportSend,
            Self::TransportReceive => SimCall::InjectTransportReceive,
            Self::NetworkSend => SimCall::InjectNetworkSend,
            Self::NetworkReceive => SimCall::InjectNetworkReceive,
            Self::Forward => SimCall::InjectForward,
            Self::Stream => SimCall::StreamInject,
        }
    }

    /// FWPS_INJECTION_TYPE_* bit the handle needs for this path.
    const fn required_type(self) -> u32 {
        match self {
            Self::Stream => 0x1,
            Self::TransportSend | Self::TransportReceive => 0x2,
            Self::NetworkSend | Self::NetworkReceive => 0x4,
            Self::Forward => 0x8,
        }
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

#[derive(Debug)]
pub(super) struct PacketRecord {
    kind: PacketKind,
    /// The NET_BUFFER_LIST memory, laid out by the simulator's own table; kept until the stack
    /// drops so addresses are never reused.
    memory: Box<RawBlock<{ nbl_layout::BLOCK }>>,
    /// Its single NET_BUFFER; `DataLength` tracks `data.len() - offset`.
    buffer: Box<RawBlock<{ nb_layout::BLOCK }>>,
    /// The whole packet; the NBL presents it from `offset` on.
    data: Vec<u8>,
    offset: usize,
    live_clones: u32,
    released: bool,
    pending: bool,
    /// (handle, injection context) of the injection that carried it.
    injected_by: Option<(usize, usize)>,
    /// The same, inherited by clones of an injected packet.
    previously_injected_by: Option<(usize, usize)>,
    /// What the stack knows of the packet it indicated (issue 12); clones inherit it.
    model: PacketModel,
}

/// Issue 12: what the simulated stack knows of a packet it indicated at a transport layer, to
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
}

#[derive(Debug, Default)]
pub(super) struct PacketTable {
    records: BTreeMap<usize, PacketRecord>,
    /// NET_BUFFER address to its NBL's address.
    buffers: BTreeMap<usize, usize>,
    pending: Vec<PendingInjection>,
    next_injection: u64,
}

// SAFETY: the raw pointers inside the records are owned boxes or plain addresses; the table is
// only touched under the stack's mutex.
unsafe impl Send for PacketTable {}

impl PacketTable {
    fn add(&mut self, kind: PacketKind, data: Vec<u8>, offset: usize) -> *mut NET_BUFFER_LIST {
        let mut memory = RawBlock::<{ nbl_layout::BLOCK }>::boxed();
        let mut buffer = RawBlock::<{ nb_layout::BLOCK }>::boxed();
        let offset = offset.min(data.len());
        set_data_window(&mut buffer, data.len(), offset);
        if let PacketKind::Clone { parent } = kind {
            memory.put(nbl_layout::PARENT_NET_BUFFER_LIST, parent);
        }
        let buffer_address = buffer.as_mut_ptr() as usize;
        memory.put(nbl_layout::FIRST_NET_BUFFER, buffer_address);
        let raw = memory.as_mut_ptr().cast::<NET_BUFFER_LIST>();
        self.buffers.insert(buffer_address, raw as usize);
        self.records.insert(
            raw as usize,
            PacketRecord {
                kind,
                memory,
                buffer,
                data,
                offset,
                live_clones: 0,
                released: false,
                pending: false,
                injected_by: None,
                previously_injected_by: None,
                model: PacketModel::default(),
            },
        );
        raw
    }

    /// A live (not freed) record, or the violation that using `nbl` is.
    fn live(&mut self, call: SimCall, nbl: usize) -> Result<&mut PacketRecord, Violation> {
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

/// Writes a NET_BUFFER's `DataOffset` and `DataLength` for data of `total` bytes presented from
/// `offset`; the upper half of the length union is poisoned as NDIS leaves it undefined.
fn set_data_window(buffer: &mut RawBlock<{ nb_layout::BLOCK }>, total: usize, offset: usize) {
    buffer.put(nb_layout::DATA_LENGTH, (total - offset) as u32);
    buffer.put(nb_layout::DATA_LENGTH + 4, nb_layout::UNION_HIGH_POISON);
    buffer.put(nb_layout::DATA_OFFSET, offset as u32);
}

/// Issue 12: true when `bytes` starts with an IPv4 header (IHL from its first byte) whose
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
const NOT_INJECTED: i32 = 0;

impl SimulatedStack {
    /// A packet as the stack indicates it to classify: an NBL holding `bytes`. The test returns it
    /// with [`return_packet`](Self::return_packet) when classify is done with it.
    pub fn indicate_packet(&self, bytes: &[u8]) -> *mut NET_BUFFER_LIST {
        self.indicate_packet_at(bytes, 0)
    }

    /// [`indicate_packet`](Self::indicate_packet) presenting the data from `offset` on, as a
    /// layer does (e.g. past the IP and transport headers at the inbound transport layer).
    pub fn indicate_packet_at(&self, bytes: &[u8], offset: usize) -> *mut NET_BUFFER_LIST {
        self.lock()
            .packets
            .add(PacketKind::Indicated, bytes.to_vec(), offset)
    }

    /// The bytes an NBL presents now (from its current data offset).
    pub fn packet_view(&self, nbl: *const NET_BUFFER_LIST) -> Option<Vec<u8>> {
        let state = self.lock();
        state
            .packets
            .records
            .get(&(nbl as usize))
            .map(|r| r.data[r.offset..].to_vec())
    }

    /// The stack takes an indicated packet back (classify returned, or an absorbed packet was
    /// completed). Its clones must all be freed first.
    pub fn return_packet(&self, nbl: *mut NET_BUFFER_LIST) {
        let mut state = self.lock();
        let violation = match state.packets.records.get_mut(&(nbl as usize)) {
            None => Some(Violation::UnknownNbl(
                SimCall::FreeCloneNetBufferList,
                nbl as usize,
            )),
            Some(record) if record.released => Some(Violation::NblUsedAfterFree(
                SimCall::FreeCloneNetBufferList,
                nbl as usize,
            )),
            Some(record) if record.live_clones > 0 => {
                Some(Violation::OriginalReturnedBeforeClones(nbl as usize))
            }
            Some(record) => {
                record.released = true;
                None
            }
        };
        state.violations.extend(violation);
    }

    /// The bytes of a packet (a clone carries its original's).
    pub fn packet_data(&self, nbl: *const NET_BUFFER_LIST) -> Option<Vec<u8>> {
        let state = self.lock();
        state
            .packets
            .records
            .get(&(nbl as usize))
            .map(|r| r.data.clone())
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
        self.changed.notify_all();
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
        let sim_call = call.path.call();
        if let Some(status) = state.enter(sim_call, Irql::DISPATCH) {
            return status.0;
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
        if types & call.path.required_type() == 0 {
            return NtStatus::FWP_INJECT_HANDLE_STALE.0;
        }
        let nbl = call.nbl as usize;
        let packet = match state.packets.live(sim_call, nbl) {
            Ok(packet) => packet,
            Err(violation) => {
                state.violations.push(violation);
                return NtStatus::INVALID_PARAMETER.0;
            }
        };
        if packet.pending {
            state
                .violations
                .push(Violation::NblAlreadyPending(sim_call, nbl));
            return NtStatus::INVALID_PARAMETER.0;
        }
        let version = packet.data.get(packet.offset).map(|b| b >> 4);
        let family_ok = match call.path {
            // Network injection: an AF-specific handle, and a packet that starts with that
            // family's IP header.
            InjectionPath::NetworkSend | InjectionPath::NetworkReceive => {
                matches!((record.family, version), (2, Some(4)) | (23, Some(6)))
            }
            InjectionPath::Stream => true,
            // Transport receive injection takes the packet from its IP header.
            InjectionPath::TransportReceive => {
                matches!((call.family, version), (2, Some(4)) | (23, Some(6)))
                    && (record.family == 0 || record.family == call.family)
            }
            _ => {
                matches!(call.family, 2 | 23)
                    && (record.family == 0 || record.family == call.family)
            }
        };
        if !family_ok {
            return NtStatus::INVALID_PARAMETER.0;
        }
        // Issue 12: what the stack checks of an injected packet, from its own model.
        let model = packet.model;
        let transport = matches!(
            call.path,
            InjectionPath::TransportSend | InjectionPath::TransportReceive
        );
        if transport && model.protocol == Some(6) && state.in_classify() {
            state
                .violations
                .push(Violation::TcpInjectedInsideClassify(nbl));
        }
        if call.path == InjectionPath::TransportReceive {
            let packet = state.packets.live(sim_call, nbl).expect("checked above");
            let mut found = Vec::new();
            if model.ip_start.is_some_and(|start| start != packet.offset) {
                found.push(Violation::TransportReceiveNotAtIpHeader(nbl));
            }
            // Checked for the packets the traffic model indicated (raw test bytes may carry
            // any checksum).
            if model.ip_start.is_some()
                && version == Some(4)
                && !ipv4_header_checksum_valid(&packet.data[packet.offset..])
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
        NtStatus::SUCCESS.0
    }

    pub(super) fn query(
        &self,
        handle: HANDLE,
        nbl: *const NET_BUFFER_LIST,
        context: *mut HANDLE,
    ) -> i32 {
        let mut state = self.lock();
        let call = SimCall::QueryPacketInjectionState;
        if state.enter(call, Irql::DISPATCH).is_some() {
            return NOT_INJECTED;
        }
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
        let (answer, injection_context) = match (record.injected_by, record.previously_injected_by)
        {
            (Some((by, ctx)), _) if by == handle => (INJECTED_BY_SELF, ctx),
            (Some(_), _) => (INJECTED_BY_OTHER, 0),
            (None, Some((by, ctx))) if by == handle => (PREVIOUSLY_INJECTED_BY_SELF, ctx),
            _ => (NOT_INJECTED, 0),
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
    ) -> NTSTATUS {
        let mut state = self.lock();
        let call = SimCall::AllocateCloneNetBufferList;
        if let Some(status) = state.enter(call, Irql::DISPATCH) {
            return status.0;
        }
        if clone.is_null() {
            state.violations.push(Violation::NullPointer(call));
            return NtStatus::INVALID_PARAMETER.0;
        }
        let parent = original as usize;
        let record = match state.packets.live(call, parent) {
            Ok(record) => record,
            Err(violation) => {
                state.violations.push(violation);
                return NtStatus::INVALID_PARAMETER.0;
            }
        };
        record.live_clones += 1;
        let data = record.data.clone();
        let offset = record.offset;
        let inherited = record.injected_by.or(record.previously_injected_by);
        let model = record.model;
        let raw = state
            .packets
            .add(PacketKind::Clone { parent }, data, offset);
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

    pub(super) fn free_clone(&self, clone: *mut NET_BUFFER_LIST) {
        let mut state = self.lock();
        let call = SimCall::FreeCloneNetBufferList;
        if state.enter(call, Irql::DISPATCH).is_some() {
            return;
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
        record.released = true;
        if let Some(original) = state.packets.records.get_mut(&parent) {
            original.live_clones = original.live_clones.saturating_sub(1);
        }
    }
}

impl SimulatedStack {
    fn buffer_record(
        &self,
        state: &mut State,
        call: SimCall,
        buffer: *mut NET_BUFFER,
    ) -> Option<usize> {
        let nbl = state.packets.buffers.get(&(buffer as usize)).copied();
        match nbl {
            Some(nbl) => match state.packets.live(call, nbl) {
                Ok(_) => Some(nbl),
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
        if let Some(status) = state.enter(SimCall::RetreatNetBufferDataStart, Irql::DISPATCH) {
            return status.0;
        }
        let Some(nbl) = self.buffer_record(&mut state, SimCall::RetreatNetBufferDataStart, buffer)
        else {
            return NtStatus::INVALID_PARAMETER.0;
        };
        let record = state.packets.records.get_mut(&nbl).expect("checked");
        let delta = delta as usize;
        if delta > record.offset {
            // NDIS would allocate new memory in front of the data (issue 12: the driver must check
            // DataOffset first); the simulation has none to give.
            state
                .violations
                .push(Violation::RetreatPastBufferStart(nbl));
            return NtStatus::INSUFFICIENT_RESOURCES.0;
        }
        record.offset -= delta;
        set_data_window(&mut record.buffer, record.data.len(), record.offset);
        NtStatus::SUCCESS.0
    }

    pub(super) fn advance(&self, buffer: *mut NET_BUFFER, delta: u32) {
        let mut state = self.lock();
        if state
            .enter(SimCall::AdvanceNetBufferDataStart, Irql::DISPATCH)
            .is_some()
        {
            return;
        }
        let Some(nbl) = self.buffer_record(&mut state, SimCall::AdvanceNetBufferDataStart, buffer)
        else {
            return;
        };
        let record = state.packets.records.get_mut(&nbl).expect("checked");
        let delta = delta as usize;
        if record.offset + delta > record.data.len() {
            state.violations.push(Violation::ReadPastEnd(nbl));
            return;
        }
        record.offset += delta;
        set_data_window(&mut record.buffer, record.data.len(), record.offset);
    }

    pub(super) fn data_buffer(&self, buffer: *mut NET_BUFFER, bytes: u32) -> *mut c_void {
        let mut state = self.lock();
        if state
            .enter(SimCall::GetDataBuffer, Irql::DISPATCH)
            .is_some()
        {
            return core::ptr::null_mut();
        }
        let Some(nbl) = self.buffer_record(&mut state, SimCall::GetDataBuffer, buffer) else {
            return core::ptr::null_mut();
        };
        let record = state.packets.records.get_mut(&nbl).expect("checked");
        if record.offset + bytes as usize > record.data.len() {
            return core::ptr::null_mut();
        }
        // The data never moves while the record lives (the Vec is not resized).
        record.data[record.offset..].as_mut_ptr().cast()
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

// Issue 12: the packet model and FwpsGetPacketListSecurityInformation0.
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
        let call = SimCall::GetPacketListSecurityInformation;
        if let Some(status) = state.enter(call, Irql::DISPATCH) {
            return status.0;
        }
        if information.is_null() {
            state.violations.push(Violation::NullPointer(call));
            return NtStatus::INVALID_PARAMETER.0;
        }
        let direction = query_flags & (layout_pli::QUERY_INBOUND | layout_pli::QUERY_OUTBOUND);
        if query_flags & layout_pli::QUERY_IPSEC != 0
            && direction != layout_pli::QUERY_INBOUND
            && direction != layout_pli::QUERY_OUTBOUND
        {
            state
                .violations
                .push(Violation::BadSecurityQueryFlags(query_flags));
            return NtStatus::INVALID_PARAMETER.0;
        }
        let model = match state.packets.live(call, nbl as usize) {
            Ok(record) => record.model,
            Err(violation) => {
                state.violations.push(violation);
                return NtStatus::INVALID_PARAMETER.0;
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
