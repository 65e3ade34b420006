//! Another driver's injecting callout beside the driver under test: its own injection handle,
//! its own sublayer (weighted above, equal to or below the driver's) with a filter at each of
//! the four transport layers, and a classify modelled on WFPSampler's basic packet injection
//! (`ClassifyBasicPacketInjection`, network/trans/WFPSampler/sys): with the write right, a
//! packet its own handle injected (FWPS_PACKET_INJECTED_BY_SELF or PREVIOUSLY_INJECTED_BY_SELF)
//! is permitted; anything else, INJECTED_BY_OTHER included, is blocked and absorbed (the write
//! right cleared), and a copy of it is injected out of band on the path it came from (TCP at a
//! transport layer may only be injected that way). Without the write right it does nothing.
//!
//! [`SimulatedStack::deliver_through_injectors`] then plays what WFP does with injected
//! packets: each is indicated again at the layer ("Packet Injection Functions": injected
//! packets reenter the stack and are classified again), where every sublayer's callouts see
//! it, until no injection is left; it counts the injections each original packet caused.

use core::ffi::c_void;
use std::boxed::Box;
use std::collections::BTreeMap;
use std::vec::Vec;

use super::engine::ClassifyResult;
use super::layout::{RawBlock, action, classify_out, metadata as meta_layout};
use super::packets::{InjectCall, InjectionPath};
use super::stack::{HANDLE_STEP, HandleRecord, SimulatedStack, Violation};
use super::traffic::{Delivered, Delivery, Layer, TransportPacket};
use crate::nt::{Irql, NtStatus};
use crate::sys::types::{FWPS_TRANSPORT_SEND_PARAMS0, GUID, NET_BUFFER_LIST};

/// How the other driver builds the packet it injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherReinjection {
    /// `FwpsAllocateCloneNetBufferList0`, as WFPSampler's basic packet injection does: the
    /// clone carries the packet's injection history.
    Clone,
    /// A copy of the data in a new packet (a driver that builds its own NBL, as the clone
    /// documentation advises for packets held long): no injection history.
    Copy,
}

/// The other driver's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherInjectorSetup {
    /// Its sublayer's key (the order among equal weights follows the keys in the simulator).
    pub sublayer_key: GUID,
    /// Its sublayer's weight (`FWPM_SUBLAYER0.weight`).
    pub sublayer_weight: u16,
    /// What it injects.
    pub reinjection: OtherReinjection,
}

/// What the other driver did so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OtherInjectorCounts {
    /// Its own packets (by self, now or before), permitted.
    pub permitted_own: u64,
    /// Packets it absorbed and injected a copy or clone of.
    pub reinjected: u64,
    /// Classifies without the write right, left alone.
    pub without_write_right: u64,
}

/// A clone waiting for its out-of-band injection.
#[derive(Debug)]
struct Deferred {
    nbl: usize,
    inbound: bool,
    family: u16,
    compartment: u32,
}

/// The send parameters of one outbound injection, kept until its completion (the kernel reads
/// them until then).
#[derive(Debug)]
struct SendParams {
    params: FWPS_TRANSPORT_SEND_PARAMS0,
    address: Box<[u8; 16]>,
}

#[derive(Debug)]
pub(super) struct OtherInjector {
    setup: OtherInjectorSetup,
    handle: usize,
    deferred: Vec<Deferred>,
    send_params: BTreeMap<usize, Box<SendParams>>,
    counts: OtherInjectorCounts,
}

// SAFETY: the raw pointers inside point into the boxes kept beside them; the table is only
// touched under the stack's mutex.
unsafe impl Send for OtherInjector {}

impl OtherInjector {
    /// Its injection handle.
    pub(super) fn handle(&self) -> usize {
        self.handle
    }

    /// Whether it has a filter at `layer` (one at each transport layer).
    pub(super) fn filters_at(&self, layer: GUID) -> bool {
        Layer::ALL.iter().any(|l| l.key() == layer)
    }

    pub(super) fn sublayer_weight(&self) -> u16 {
        self.setup.sublayer_weight
    }

    pub(super) fn sublayer_key(&self) -> GUID {
        self.setup.sublayer_key
    }
}

/// Injections one original packet caused, by injector, after every copy has come back through
/// the layer.
#[derive(Debug)]
pub struct Reinjections {
    /// The original's delivery (return its NBL when done).
    pub delivered: Delivered,
    /// Injections through handles other than the other driver's (the driver under test).
    pub by_driver: usize,
    /// Injections through the other driver's handle.
    pub by_other: usize,
    /// The engine's verdict each time an injected packet came back through the layer.
    pub again: Vec<Option<ClassifyResult>>,
}

/// Injections of one original packet after which the simulation stops re-delivering: the HLK
/// PacketInjection requirement allows one firewall two reinjections of a packet per layer, so
/// two injectors following it stay far below.
pub const REINJECTION_LIMIT: usize = 16;

/// The other driver's completion: WFP calls it; the simulator frees the clone afterwards
/// ([`SimulatedStack::other_injection_completed`]).
unsafe extern "win64" fn other_completion(
    _context: *mut c_void,
    _nbl: *mut NET_BUFFER_LIST,
    _dispatch: u8,
) {
}

impl SimulatedStack {
    /// Installs the other driver: an injection handle for transport injection (AF_UNSPEC) and
    /// its sublayer with a filter at each transport layer matching every packet.
    pub fn install_other_injector(&self, setup: OtherInjectorSetup) {
        let mut state = self.lock();
        assert!(
            state.other_injector.is_none(),
            "one other injector at a time"
        );
        let raw = state.next_handle;
        state.next_handle += HANDLE_STEP;
        state.handles.insert(
            raw,
            HandleRecord {
                raw,
                family: 0,
                // FWPS_INJECTION_TYPE_TRANSPORT (the simulator's own value, as in packets.rs).
                flags: 0x2,
                destroyed: false,
                closing: false,
            },
        );
        state.other_injector = Some(OtherInjector {
            setup,
            handle: raw,
            deferred: Vec::new(),
            send_params: BTreeMap::new(),
            counts: OtherInjectorCounts::default(),
        });
    }

    /// Removes the other driver and destroys its handle; its injections must have completed.
    pub fn remove_other_injector(&self) -> OtherInjectorCounts {
        let mut state = self.lock();
        let other = state
            .other_injector
            .take()
            .expect("an other injector installed");
        assert!(
            other.deferred.is_empty() && other.send_params.is_empty(),
            "the other injector still has injections"
        );
        if let Some(record) = state.handles.get_mut(&other.handle) {
            record.destroyed = true;
        }
        other.counts
    }

    /// The other driver's injection handle, when installed.
    pub fn other_injector_handle(&self) -> Option<usize> {
        self.lock().other_injector.as_ref().map(|o| o.handle)
    }

    /// The other driver's callout at `layer` (see the module docs), called by the engine in its
    /// sublayer's turn with the classify output as the sublayers above left it.
    pub(super) fn other_classify(
        &self,
        layer: GUID,
        metadata: *const u8,
        nbl: *mut NET_BUFFER_LIST,
        out: &mut RawBlock<{ classify_out::BLOCK }>,
    ) {
        let Some(handle) = self.other_injector_handle() else {
            return;
        };
        let Some(layer) = Layer::ALL.into_iter().find(|l| l.key() == layer) else {
            return;
        };
        let bump = |what: fn(&mut OtherInjectorCounts) -> &mut u64| {
            if let Some(other) = self.lock().other_injector.as_mut() {
                *what(&mut other.counts) += 1;
            }
        };
        let rights: u32 = out.get(classify_out::RIGHTS);
        if rights & classify_out::RIGHT_ACTION_WRITE == 0 {
            bump(|c| &mut c.without_write_right);
            return;
        }
        if nbl.is_null() {
            out.put(classify_out::ACTION_TYPE, action::PERMIT);
            return;
        }
        let answer = self.at_irql(Irql::DISPATCH, || {
            self.query(handle as _, nbl, core::ptr::null_mut())
        });
        // FWPS_PACKET_INJECTED_BY_SELF (1), FWPS_PACKET_PREVIOUSLY_INJECTED_BY_SELF (3).
        if answer == 1 || answer == 3 {
            out.put(classify_out::ACTION_TYPE, action::PERMIT);
            bump(|c| &mut c.permitted_own);
            return;
        }
        // Inbound: the clone must start at the IP header (transport receive injection), so the
        // data start goes back there for the clone and forward again after.
        let back = if layer.is_inbound() {
            self.ip_header_distance(nbl)
        } else {
            0
        };
        if back > 0 && !self.shift_data_start(nbl, -(back as isize)) {
            out.put(classify_out::ACTION_TYPE, action::PERMIT);
            return;
        }
        let inherit = self
            .lock()
            .other_injector
            .as_ref()
            .is_some_and(|o| o.setup.reinjection == OtherReinjection::Clone);
        let mut clone: *mut NET_BUFFER_LIST = core::ptr::null_mut();
        let status = self.at_irql(Irql::DISPATCH, || {
            self.clone_with_history(nbl, &mut clone, 0, inherit)
        });
        if back > 0 {
            self.shift_data_start(nbl, back as isize);
        }
        if !NtStatus(status).is_success() {
            out.put(classify_out::ACTION_TYPE, action::PERMIT);
            return;
        }
        out.put(classify_out::ACTION_TYPE, action::BLOCK);
        let flags: u32 = out.get(classify_out::FLAGS);
        out.put(classify_out::FLAGS, flags | classify_out::FLAG_ABSORB);
        out.put(
            classify_out::RIGHTS,
            rights & !classify_out::RIGHT_ACTION_WRITE,
        );
        // SAFETY: the engine's metadata block is `meta_layout::BLOCK` bytes, laid out by the
        // simulator's own table, so the compartment's offset is inside it.
        let field = unsafe { metadata.add(meta_layout::COMPARTMENT_ID) };
        // SAFETY: as above; four readable bytes at any alignment.
        let compartment = unsafe { field.cast::<u32>().read_unaligned() };
        let mut state = self.lock();
        if let Some(other) = state.other_injector.as_mut() {
            other.counts.reinjected += 1;
            other.deferred.push(Deferred {
                nbl: clone as usize,
                inbound: layer.is_inbound(),
                family: if layer.is_v6() { 23 } else { 2 },
                compartment,
            });
        }
    }

    /// Bytes between the IP header of an indicated packet (or its clone) and its data start.
    fn ip_header_distance(&self, nbl: *mut NET_BUFFER_LIST) -> usize {
        let offset = self
            .packet_views(nbl)
            .and_then(|views| views.first().map(Vec::len))
            .zip(self.packet_data(nbl).map(|d| d.len()));
        let ip_start = self.packet_ip_start(nbl);
        match (offset, ip_start) {
            (Some((presented, whole)), Some(start)) => (whole - presented).saturating_sub(start),
            _ => 0,
        }
    }

    /// Runs the other driver's queued injections, as its DPC would (at DISPATCH_LEVEL, outside
    /// any classify). Returns how many it injected.
    pub fn run_other_injections(&self) -> usize {
        let (handle, deferred) = {
            let mut state = self.lock();
            let Some(other) = state.other_injector.as_mut() else {
                return 0;
            };
            (other.handle, std::mem::take(&mut other.deferred))
        };
        let mut injected = 0;
        for job in deferred {
            let send_args = if job.inbound {
                core::ptr::null_mut()
            } else {
                // The remote address is the destination of the IP header in front of the data.
                let bytes = self.packet_data(job.nbl as *const _).unwrap_or_default();
                let mut address = Box::new([0u8; 16]);
                if job.family == 23 {
                    if let Some(destination) = bytes.get(24..40) {
                        address.copy_from_slice(destination);
                    }
                } else if let Some(destination) = bytes.get(16..20) {
                    address[..4].copy_from_slice(destination);
                }
                let mut params = Box::new(SendParams {
                    params: FWPS_TRANSPORT_SEND_PARAMS0 {
                        remoteAddress: core::ptr::null_mut(),
                        remoteScopeId: 0,
                        controlData: core::ptr::null_mut(),
                        controlDataLength: 0,
                    },
                    address,
                });
                params.params.remoteAddress = params.address.as_mut_ptr();
                let pointer: *mut FWPS_TRANSPORT_SEND_PARAMS0 = &mut params.params;
                if let Some(other) = self.lock().other_injector.as_mut() {
                    other.send_params.insert(job.nbl, params);
                }
                pointer
            };
            let call = InjectCall {
                path: if job.inbound {
                    InjectionPath::TransportReceive
                } else {
                    InjectionPath::TransportSend
                },
                handle: handle as _,
                injection_context: core::ptr::null_mut(),
                family: job.family,
                compartment: job.compartment,
                interface_index: 0,
                sub_interface_index: 0,
                send_args,
                endpoint_or_flow: 0,
                data_length: 0,
                reserved_in_use: false,
                nbl: job.nbl as *mut _,
                completion: other_completion,
                completion_context: core::ptr::null_mut(),
            };
            let status = self.at_irql(Irql::DISPATCH, || self.inject(call));
            if NtStatus(status).is_success() {
                injected += 1;
            } else {
                // Refused: the completion will not run; the clone is freed here.
                self.other_injection_completed(handle, job.nbl);
            }
        }
        injected
    }

    /// After an injection on `handle` completed (or was refused): the other driver's clone and
    /// send parameters are freed. Nothing for other handles.
    pub(super) fn other_injection_completed(&self, handle: usize, nbl: usize) {
        let params = {
            let mut state = self.lock();
            let Some(other) = state.other_injector.as_mut() else {
                return;
            };
            if other.handle != handle {
                return;
            }
            other.send_params.remove(&nbl)
        };
        drop(params);
        self.at_irql(Irql::DISPATCH, || {
            self.FwpsFreeCloneNetBufferList0(nbl as *mut _, 0)
        });
    }

    /// Delivers `packet` at `layer`, then lets WFP do with every injection what it does:
    /// each injected packet is indicated again at the layer (an inbound one presented past its
    /// transport header again) and classified by every sublayer, the other driver's and the
    /// driver's queued injections run (their DPCs), and the injection completes; until no
    /// injection is left. Counts the injections, by injector. Past [`REINJECTION_LIMIT`] it stops
    /// re-delivering, records [`Violation::ReinjectionLoop`] and completes what is left.
    pub fn deliver_through_injectors(
        &self,
        layer: Layer,
        packet: &TransportPacket,
        how: Delivery,
    ) -> Reinjections {
        let delivered = self.deliver(layer, packet, how);
        let other = self.other_injector_handle();
        let (_, ip_header, transport_header) = packet.bytes(layer.is_inbound());
        let forward = if !layer.is_inbound() {
            0
        } else if packet.is_icmp() {
            ip_header
        } else {
            ip_header + transport_header
        };
        let mut counts = Reinjections {
            delivered,
            by_driver: 0,
            by_other: 0,
            again: Vec::new(),
        };
        loop {
            self.run_other_injections();
            self.run_queued_dpcs();
            let Some(next) = self.pending_injections().into_iter().next() else {
                break;
            };
            if Some(next.handle) == other {
                counts.by_other += 1;
            } else {
                counts.by_driver += 1;
            }
            if counts.by_driver + counts.by_other > REINJECTION_LIMIT {
                self.lock().violations.push(Violation::ReinjectionLoop(
                    counts.by_driver + counts.by_other,
                ));
                while self.run_other_injections() + self.run_queued_dpcs() > 0
                    || self.complete_all(NtStatus::SUCCESS) > 0
                {}
                break;
            }
            let nbl = next.nbl as *mut NET_BUFFER_LIST;
            let presented = forward == 0 || self.shift_data_start(nbl, forward as isize);
            let result = presented.then(|| {
                self.classify_packet(
                    layer,
                    packet,
                    Delivery::default(),
                    nbl,
                    ip_header,
                    transport_header,
                )
            });
            if presented && forward > 0 {
                // The stack gives the injector back the packet as it was injected.
                self.shift_data_start(nbl, -(forward as isize));
            }
            counts.again.push(result.flatten());
            self.run_other_injections();
            self.run_queued_dpcs();
            self.complete_injection(next.id, NtStatus::SUCCESS, true);
        }
        counts
    }

    /// The other driver's counters, when installed.
    pub fn other_injector_counts(&self) -> Option<OtherInjectorCounts> {
        self.lock().other_injector.as_ref().map(|o| o.counts)
    }
}
