//! Classify at the transport layers: permit our own and unchangeable packets untouched; clone,
//! absorb and reinject configured traffic on the path it came from; permit everything else.
//! The IP packet layers' classify is beside it (`network_classify`); both enter here.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::driver::config::PacketKey;
use crate::driver::counters::{Counters, LayerCounters};
use crate::driver::instance::{self, InstanceId};
use crate::driver::layers::{
    CalloutLayer, Direction, FieldIndices, INBOUND_FIELDS, NetworkLayer, OUTBOUND_FIELDS,
    TransportLayer,
};
use crate::driver::log::{Level, SharedLog};
use crate::driver::rules::SharedRules;
use crate::error::Error;
use crate::inject::{
    ClonedNetBufferList, Completion, CompletionHandler, Injection, InjectionState, IpFamily,
    IpProtocol, NetBufferListRef, PacketInjector, RemoteAddress, Tag, TransportReceive,
    TransportSend, UNSPECIFIED_COMPARTMENT,
};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::{
    FWP_ACTION_BLOCK, FWP_ACTION_PERMIT, FWP_BYTE_ARRAY16_TYPE, FWP_UINT8, FWP_UINT16, FWP_UINT32,
    FWP_VALUE0, FWPS_CLASSIFY_OUT_FLAG_ABSORB, FWPS_CLASSIFY_OUT0,
    FWPS_FILTER_FLAG_CLEAR_ACTION_RIGHT, FWPS_FILTER1, FWPS_INCOMING_METADATA_VALUES0,
    FWPS_INCOMING_VALUES0, FWPS_METADATA_FIELD_COMPARTMENT_ID, FWPS_METADATA_FIELD_IP_HEADER_SIZE,
    FWPS_METADATA_FIELD_REMOTE_SCOPE_ID, FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA,
    FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE, FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE,
    FWPS_RIGHT_ACTION_WRITE, GUID, NET_BUFFER, NET_BUFFER_LIST, NTSTATUS,
};
use crate::sys::types::{
    FWP_CONDITION_FLAG_IS_LOOPBACK, FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED,
    FWPS_PACKET_LIST_INFORMATION_QUERY_INBOUND, FWPS_PACKET_LIST_INFORMATION_QUERY_IPSEC,
    FWPS_PACKET_LIST_INFORMATION0,
};

/// One processor's count of finished reinjections.
#[derive(Debug, Default)]
pub struct CompletionCount {
    /// Completed with success.
    pub succeeded: AtomicU64,
    /// Completed with a failure status (the packet was lost downstream).
    pub failed: AtomicU64,
}

/// Counts finished reinjections, per processor (each completion adds on the processor it runs
/// on), and frees their clones.
pub struct CompletionCounters<K: KernelApi> {
    processors: crate::inject::PerProcessor<CompletionCount>,
    _kernel: core::marker::PhantomData<fn(K)>,
}

impl<K: KernelApi> CompletionCounters<K> {
    /// One count per active processor. Load time; IRQL <= DISPATCH_LEVEL.
    pub fn new(kernel: &K) -> Result<Self, Error> {
        Ok(Self {
            processors: crate::inject::PerProcessor::new(kernel, CompletionCount::default)?,
            _kernel: core::marker::PhantomData,
        })
    }

    /// (succeeded, failed) summed over the processors now: exact when no completion runs.
    pub fn totals(&self) -> (u64, u64) {
        self.processors.iter().fold((0, 0), |(ok, failed), count| {
            (
                ok + count.succeeded.load(Ordering::Relaxed),
                failed + count.failed.load(Ordering::Relaxed),
            )
        })
    }
}

impl<K: KernelApi> core::fmt::Debug for CompletionCounters<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CompletionCounters")
            .field("totals", &self.totals())
            .finish()
    }
}

impl<K: KernelApi> CompletionHandler<K> for CompletionCounters<K> {
    type Packet = ClonedNetBufferList<K>;

    #[inline]
    fn completed(&self, completion: Completion<Self::Packet>) {
        // The injector asked which processor this completion runs on (to give the context back
        // to its cache): the same answer, not asked again.
        let count = self.processors.get(completion.processor);
        let counter = if completion.status.is_success() {
            &count.succeeded
        } else {
            &count.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        drop(completion.packet);
    }
}

/// The driver's injector: clones of classified packets, counted and freed at completion.
pub type DriverInjector<K> = PacketInjector<K, CompletionCounters<K>>;

/// What classify needs, reached from each filter's context. Lives from load to unload at a
/// fixed address.
pub struct CalloutState<K: KernelApi> {
    /// Debug builds: [`ALIVE`] from creation until drop, when it is overwritten, so a classify
    /// that reaches freed state fails its assertion (the host tests' use-after-free detector).
    #[cfg(debug_assertions)]
    pub(crate) canary: Canary,
    pub(crate) kernel: K,
    pub(crate) injector: DriverInjector<K>,
    /// The inspection rules in force (changed at run time through the control channel).
    pub(crate) config: SharedRules,
    pub(crate) counters: Counters,
    pub(crate) log: SharedLog,
    /// The loader's power state (it outlives this state: unload frees this first).
    pub(crate) power: core::ptr::NonNull<crate::driver::power::Power>,
}

/// Debug builds: a word that reads [`Canary::ALIVE`] from creation until drop.
#[cfg(debug_assertions)]
#[derive(Debug)]
pub(crate) struct Canary(core::sync::atomic::AtomicU32);

#[cfg(debug_assertions)]
impl Canary {
    const ALIVE: u32 = 0xA11C_E5ED;

    pub(crate) const fn new() -> Self {
        Self(core::sync::atomic::AtomicU32::new(Self::ALIVE))
    }

    fn is_alive(&self) -> bool {
        self.0.load(Ordering::SeqCst) == Self::ALIVE
    }
}

#[cfg(debug_assertions)]
impl Drop for Canary {
    fn drop(&mut self) {
        self.0.store(0xDEAD_DEAD, Ordering::SeqCst);
    }
}

/// The fields classify reads from a transport layer's incoming values.
struct TransportFields {
    protocol: u8,
    /// Network order; an IPv6 scope id is not among the values (0 here, from metadata later).
    remote_address: RemoteAddress,
    /// Network order, IPv4 in the first 4 bytes.
    local_address: [u8; 16],
    remote_port: u16,
    interface_index: u32,
    sub_interface_index: u32,
    flags: u32,
}

/// Why a configured packet was not reinjected: each permits it untouched and has its counter and
/// its row in docs/callout-driver.md's classify table. A reinjection is `Ok` beside it, never one of these, so a
/// packet already handed to the kernel cannot also be permitted.
pub(crate) enum Outcome {
    /// FWP_CONDITION_FLAG_IS_LOOPBACK.
    Loopback,
    /// FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED (inbound).
    AleClassifyRequired,
    /// IPsec-protected, or tunnel mode not yet detunneled (inbound), or unknown.
    Ipsec,
    /// TCP below DISPATCH_LEVEL: the deferred injection could not leave the classify.
    TcpBelowDispatch,
    /// Too few bytes before the data for the retreat (NDIS would allocate).
    NoHeadroom,
    /// Inbound with more than one NET_BUFFER.
    MultiBuffer,
    /// Inbound IPv4 whose header is split across MDLs with a checksum that is not valid: read
    /// through a copy, it cannot be fixed in the packet.
    SplitHeaderChecksum,
    /// The system is about to sleep: no injection may start.
    Suspended,
    /// Missing metadata, or data shorter than its headers.
    Malformed,
    /// IP packet layers: outside the configuration (known only once the packet's own headers
    /// are read, since these layers carry no protocol or port field).
    NotInspected,
    /// IP packet layers: a fragment.
    Fragment,
    /// Clone or injection refused.
    Failed(Error),
}

pub(crate) fn value_of(value: &FWP_VALUE0, kind: u32) -> Option<u64> {
    (value.r#type == kind).then_some(value.value)
}

impl TransportFields {
    /// Reads the fields, checking each value's type; `None` when any is missing or mistyped.
    #[inline(always)]
    fn read(values: &FWPS_INCOMING_VALUES0, layer: TransportLayer) -> Option<Self> {
        // Each direction's table is a constant here, so the indices and the count are too.
        match layer.direction() {
            Direction::Inbound => Self::read_at(values, layer.family(), &INBOUND_FIELDS),
            Direction::Outbound => Self::read_at(values, layer.family(), &OUTBOUND_FIELDS),
        }
    }

    #[inline(always)]
    fn read_at(
        values: &FWPS_INCOMING_VALUES0,
        family: IpFamily,
        field: &FieldIndices,
    ) -> Option<Self> {
        let required = FieldIndices::required_count(field);
        if values.valueCount < required || values.incomingValue.is_null() {
            return None;
        }
        // SAFETY: WFP passes `valueCount` readable values for the classify's duration; only the
        // first `required` (checked above) are read.
        let values =
            unsafe { core::slice::from_raw_parts(values.incomingValue, required as usize) };
        let address = |index: usize| -> Option<[u8; 16]> {
            let mut wide = [0u8; 16];
            match family {
                IpFamily::V4 => {
                    // IPv4 addresses come as host-order integers: to_be_bytes gives network
                    // order.
                    let address = value_of(&values[index], FWP_UINT32)? as u32;
                    wide[..4].copy_from_slice(&address.to_be_bytes());
                }
                IpFamily::V6 => {
                    let pointer =
                        value_of(&values[index], FWP_BYTE_ARRAY16_TYPE)? as *const [u8; 16];
                    if pointer.is_null() {
                        return None;
                    }
                    // SAFETY: a FWP_BYTE_ARRAY16_TYPE value points to 16 bytes valid for the
                    // classify's duration.
                    wide = unsafe { pointer.read_unaligned() };
                }
            }
            Some(wide)
        };
        let remote = address(field.ip_remote_address)?;
        let remote_address = match family {
            IpFamily::V4 => RemoteAddress::V4([remote[0], remote[1], remote[2], remote[3]]),
            IpFamily::V6 => RemoteAddress::V6(remote, 0),
        };
        Some(Self {
            protocol: value_of(&values[field.ip_protocol], FWP_UINT8)? as u8,
            remote_address,
            local_address: address(field.ip_local_address)?,
            remote_port: value_of(&values[field.ip_remote_port], FWP_UINT16)? as u16,
            interface_index: value_of(&values[field.interface_index], FWP_UINT32)? as u32,
            sub_interface_index: value_of(&values[field.sub_interface_index], FWP_UINT32)? as u32,
            flags: value_of(&values[field.flags], FWP_UINT32)? as u32,
        })
    }

    fn key(&self, layer: TransportLayer) -> PacketKey {
        PacketKey {
            protocol: self.protocol,
            remote_address: self.remote_address,
            remote_port: self.remote_port,
            local_address: self.local_address,
            direction: layer.direction(),
            network: false,
        }
    }

    /// ICMP or ICMPv6: at INBOUND_TRANSPORT their data offset is the ICMP header itself.
    fn is_icmp(&self) -> bool {
        self.protocol == IpProtocol::ICMP.0 || self.protocol == IpProtocol::ICMPV6.0
    }
}

pub(crate) fn has(metadata: &FWPS_INCOMING_METADATA_VALUES0, field: u32) -> bool {
    metadata.currentMetadataValues & field == field
}

pub(crate) fn compartment(metadata: &FWPS_INCOMING_METADATA_VALUES0) -> u32 {
    if has(metadata, FWPS_METADATA_FIELD_COMPARTMENT_ID) {
        metadata.compartmentId
    } else {
        UNSPECIFIED_COMPARTMENT
    }
}

/// The first NET_BUFFER of an NBL (`NET_BUFFER_LIST_FIRST_NB`).
pub(crate) fn first_buffer(nbl: NetBufferListRef<'_>) -> *mut NET_BUFFER {
    // SAFETY: the borrow guarantees a valid NBL for the classify's duration.
    unsafe { (*nbl.as_raw()).FirstNetBuffer.cast() }
}

/// The one's-complement sum of `bytes` as big-endian 16-bit words (RFC 1071), folded. Four
/// bytes at a time into a 64-bit sum with the carries deferred (RFC 1071 section 2(C): since
/// 2^16 = 1 in one's-complement arithmetic, summing 32-bit words and folding gives the same
/// result); an IPv4 header is always a multiple of four bytes.
fn ones_complement_sum(bytes: &[u8]) -> u16 {
    let mut sum = 0u64;
    let mut words = bytes.chunks_exact(4);
    for word in &mut words {
        sum += u64::from(u32::from_be_bytes([word[0], word[1], word[2], word[3]]));
    }
    let tail = words.remainder();
    let mut last = [0u8; 4];
    if let Some(bytes) = last.get_mut(..tail.len()) {
        bytes.copy_from_slice(tail);
    }
    sum += u64::from(u32::from_be_bytes(last));
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

impl<K: KernelApi> CalloutState<K> {
    /// Decides one packet at a transport layer.
    ///
    /// Order: write right; our own packets (the injection-state query); values and
    /// configuration; then the rules for configured packets in cost order (loopback flag, ALE
    /// metadata, the IPsec query for inbound, the IRQL for TCP). The filters' conditions keep
    /// unconfigured traffic out of classify, so querying before reading the values costs
    /// configured packets nothing and makes an own packet cheap (measured: docs/performance.md).
    ///
    /// `processor`: the processor index the caller counted itself into the instance on; the
    /// counters of that processor are the ones bumped.
    ///
    /// IRQL <= DISPATCH_LEVEL. Never fails: every refusal ends in permit.
    pub fn classify(
        &self,
        processor: u32,
        values: &FWPS_INCOMING_VALUES0,
        metadata: &FWPS_INCOMING_METADATA_VALUES0,
        packet: Option<NetBufferListRef<'_>>,
        out: &mut FWPS_CLASSIFY_OUT0,
    ) {
        #[cfg(debug_assertions)]
        assert!(
            self.canary.is_alive(),
            "classify reached freed driver state"
        );
        if let Some(layer) = TransportLayer::from_runtime_id(values.layerId) {
            if let Some((counters, nbl)) = self.screen(processor, layer, packet, out) {
                self.classify_not_own(layer, counters, values, metadata, nbl, out);
            }
            return;
        }
        if let Some(layer) = NetworkLayer::from_runtime_id(values.layerId) {
            if let Some((counters, nbl)) = self.screen(processor, layer, packet, out) {
                self.classify_network_not_own(layer, counters, values, metadata, nbl, out);
            }
            return;
        }
        // Not a layer of ours (a filter someone else added with our callout): a terminating
        // callout must answer block or permit, or WFP treats it as block.
        permit_if_writable(out);
    }

    /// The rules every layer applies before its own, in order: the write right, the packet, and
    /// the injection-state query with the family's handle (which injects at both kinds of layer,
    /// so a clone this driver injected at either is its own at the other: no loop between them).
    /// `Some`: the counters of `layer` on `processor` and a packet nobody injected, to decide.
    /// Generic over the layer kind so each caller's layer folds to a constant slot.
    ///
    /// IRQL <= DISPATCH_LEVEL.
    #[inline(always)]
    fn screen<'p, L: Into<CalloutLayer> + Copy>(
        &self,
        processor: u32,
        layer: L,
        packet: Option<NetBufferListRef<'p>>,
        out: &mut FWPS_CLASSIFY_OUT0,
    ) -> Option<(&LayerCounters, NetBufferListRef<'p>)> {
        let counters = self.counters.layer_on(processor, layer);
        if out.rights & FWPS_RIGHT_ACTION_WRITE == 0 {
            // Another callout decided already: nothing here may change the packet or action.
            LayerCounters::bump(&counters.skipped_no_write_right);
            return None;
        }
        let Some(nbl) = packet else {
            out.actionType = FWP_ACTION_PERMIT;
            LayerCounters::bump(&counters.malformed);
            return None;
        };
        // The reinjection-loop rules first: with the configuration in the filters' conditions,
        // what reaches classify is configured traffic and injected copies of it, so the query is
        // paid by nearly every packet either way, and an injected one costs nothing else. Our
        // own packets pass untouched (the query's documented rule); so do another driver's
        // (INJECTED_BY_OTHER: this driver's interop policy, not the samples' habit, see
        // docs/callout-driver.md), so that this driver injects each original packet at most once
        // per layer, whatever other injectors do with their copies.
        let state = self.injector.handles().state(layer.into().family(), nbl);
        if state != InjectionState::NOT_INJECTED {
            out.actionType = FWP_ACTION_PERMIT;
            // Any answer but NOT_INJECTED is an injected packet; only the two self states are
            // ours, everything else (INJECTED_BY_OTHER) is another driver's.
            LayerCounters::bump(if state.is_own() {
                &counters.skipped_own
            } else {
                &counters.skipped_other_injector
            });
            return None;
        }
        Some((counters, nbl))
    }

    /// Everything after the own-packet check, out of line: an own packet (the most common one
    /// besides configured traffic) then pays for none of this frame.
    #[inline(never)]
    fn classify_not_own(
        &self,
        layer: TransportLayer,
        counters: &LayerCounters,
        values: &FWPS_INCOMING_VALUES0,
        metadata: &FWPS_INCOMING_METADATA_VALUES0,
        nbl: NetBufferListRef<'_>,
        out: &mut FWPS_CLASSIFY_OUT0,
    ) {
        let decision = match TransportFields::read(values, layer) {
            Some(fields) if !self.config.matches(&fields.key(layer)) => {
                out.actionType = FWP_ACTION_PERMIT;
                LayerCounters::bump(&counters.not_inspected);
                return;
            }
            Some(_) if self.power().suspended() => Err(Outcome::Suspended),
            Some(fields) => self.decide(layer, nbl, &fields, metadata),
            None => Err(Outcome::Malformed),
        };
        let checksum_recomputed = match decision {
            Ok(checksum_recomputed) => checksum_recomputed,
            Err(outcome) => {
                self.permit_untouched(layer.into(), counters, outcome, out);
                return;
            }
        };
        out.actionType = FWP_ACTION_BLOCK;
        out.flags |= FWPS_CLASSIFY_OUT_FLAG_ABSORB;
        out.rights &= !FWPS_RIGHT_ACTION_WRITE;
        if checksum_recomputed {
            LayerCounters::bump(&counters.checksum_recomputed);
        }
        LayerCounters::bump(&counters.reinjected);
    }

    /// The loader's power state. Any IRQL.
    #[inline(always)]
    pub(crate) fn power(&self) -> &crate::driver::power::Power {
        // SAFETY: the loader block holds it and outlives this state (unload frees the state
        // before the loader).
        unsafe { self.power.as_ref() }
    }

    /// A configured packet not reinjected: permit, count, and log a refusal. Out of line, so that
    /// the reinjected packet's path tests one discriminant instead of dispatching on the reasons.
    #[inline(never)]
    pub(crate) fn permit_untouched(
        &self,
        layer: CalloutLayer,
        counters: &LayerCounters,
        outcome: Outcome,
        out: &mut FWPS_CLASSIFY_OUT0,
    ) {
        let counter = match outcome {
            Outcome::Loopback => &counters.skipped_loopback,
            Outcome::AleClassifyRequired => &counters.skipped_ale_classify_required,
            Outcome::Ipsec => &counters.skipped_ipsec,
            Outcome::TcpBelowDispatch => &counters.skipped_tcp_below_dispatch,
            Outcome::NoHeadroom => &counters.skipped_no_headroom,
            Outcome::MultiBuffer => &counters.skipped_multi_buffer,
            Outcome::SplitHeaderChecksum => &counters.skipped_split_header_checksum,
            Outcome::Suspended => &counters.skipped_suspended,
            Outcome::Malformed => &counters.malformed,
            Outcome::NotInspected => &counters.not_inspected,
            Outcome::Fragment => &counters.skipped_fragment,
            Outcome::Failed(error) => {
                self.log.write(
                    &self.kernel,
                    Level::Trace,
                    &[
                        layer.into(),
                        ": reinjection refused: ".into(),
                        error.status().into(),
                    ],
                );
                &counters.failed
            }
        };
        out.actionType = FWP_ACTION_PERMIT;
        LayerCounters::bump(counter);
    }

    /// The rules for a configured packet, in cost order. `Ok` when it was reinjected (`true`:
    /// its IPv4 header checksum was rewritten first).
    #[inline]
    fn decide(
        &self,
        layer: TransportLayer,
        nbl: NetBufferListRef<'_>,
        fields: &TransportFields,
        metadata: &FWPS_INCOMING_METADATA_VALUES0,
    ) -> Result<bool, Outcome> {
        if fields.flags & FWP_CONDITION_FLAG_IS_LOOPBACK != 0 {
            return Err(Outcome::Loopback);
        }
        let inbound = layer.direction() == Direction::Inbound;
        if inbound && has(metadata, FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED) {
            return Err(Outcome::AleClassifyRequired);
        }
        if inbound && !self.inbound_security_allows_reinjection(nbl) {
            return Err(Outcome::Ipsec);
        }
        if fields.protocol == IpProtocol::TCP.0
            && Irql(self.kernel.ke_get_current_irql()) < Irql::DISPATCH
        {
            // KeInsertQueueDpc below DISPATCH_LEVEL runs the DPC as soon as it lowers the IRQL
            // again: the TCP injection would run inside this classify.
            return Err(Outcome::TcpBelowDispatch);
        }
        if inbound {
            self.reinject_inbound(layer, nbl, fields, metadata)
        } else {
            self.reinject_outbound(nbl, fields, metadata)
                .map(|()| false)
        }
    }

    /// Inbound IPsec: a secured packet (isSecure: its AH/ESP header is still in the IP header,
    /// and a receive-injected clone would skip IPsec verification) or a tunnel-mode packet not
    /// yet detunneled is left alone. A failed query counts as secured.
    fn inbound_security_allows_reinjection(&self, nbl: NetBufferListRef<'_>) -> bool {
        let mut information = FWPS_PACKET_LIST_INFORMATION0::zeroed();
        // SAFETY: IRQL <= DISPATCH_LEVEL (classify's); the NBL is the classify's; the
        // information is a writable local.
        let status = unsafe {
            self.kernel.fwps_get_packet_list_security_information0(
                nbl.as_raw(),
                FWPS_PACKET_LIST_INFORMATION_QUERY_IPSEC
                    | FWPS_PACKET_LIST_INFORMATION_QUERY_INBOUND,
                &mut information,
            )
        };
        if !NtStatus(status).is_success() {
            return false;
        }
        // SAFETY: the union's members are all 32-bit integers; the inbound view was queried.
        let inbound = unsafe { information.ipsecInformation.inbound };
        let tunnel_not_detunneled = inbound.is_tunnel_mode() && !inbound.is_de_tunneled();
        !(inbound.is_secure() || tunnel_not_detunneled)
    }

    /// Outbound: the NBL starts at the transport header; transport send injection with the
    /// endpoint, remote address (network order), scope id and control data from the classify.
    fn reinject_outbound(
        &self,
        nbl: NetBufferListRef<'_>,
        fields: &TransportFields,
        metadata: &FWPS_INCOMING_METADATA_VALUES0,
    ) -> Result<(), Outcome> {
        if !has(metadata, FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE) {
            return Err(Outcome::Malformed);
        }
        let buffer = first_buffer(nbl);
        if buffer.is_null() {
            return Err(Outcome::Malformed);
        }
        if has(metadata, FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE) {
            // SAFETY: the NBL's first NET_BUFFER is valid during classify.
            let length = unsafe { (*buffer).data_length() };
            if length < metadata.transportHeaderSize {
                return Err(Outcome::Malformed);
            }
        }
        let scope_id = if has(metadata, FWPS_METADATA_FIELD_REMOTE_SCOPE_ID) {
            metadata.remoteScopeId
        } else {
            0
        };
        let control_data: &[u8] = if has(metadata, FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA)
            && !metadata.controlData.is_null()
            && metadata.controlDataLength > 0
        {
            // SAFETY: WFP passes controlDataLength readable bytes for the classify's duration;
            // the injector copies them before returning.
            unsafe {
                core::slice::from_raw_parts(
                    metadata.controlData.cast::<u8>(),
                    metadata.controlDataLength as usize,
                )
            }
        } else {
            &[]
        };
        let remote_address = match fields.remote_address {
            RemoteAddress::V6(address, _) => RemoteAddress::V6(address, scope_id),
            v4 => v4,
        };
        let injection = Injection::TransportSend(TransportSend {
            endpoint_handle: metadata.transportEndpointHandle,
            remote_address,
            control_data,
            compartment: compartment(metadata),
            protocol: IpProtocol(fields.protocol),
        });
        self.injector
            .clone_and_inject(nbl, injection, Tag::default())
            .map_err(Outcome::Failed)
    }

    /// Inbound: the NBL starts past the transport header (at the ICMP header for ICMP). Retreat
    /// to the IP header, only over bytes the NET_BUFFER already holds before its data; check
    /// the IP header (and make an IPv4 header checksum valid); clone; restore the original; and
    /// inject the clone on the transport receive path with the arrival interface. `Ok(true)`
    /// when the checksum was rewritten.
    fn reinject_inbound(
        &self,
        layer: TransportLayer,
        nbl: NetBufferListRef<'_>,
        fields: &TransportFields,
        metadata: &FWPS_INCOMING_METADATA_VALUES0,
    ) -> Result<bool, Outcome> {
        if !has(metadata, FWPS_METADATA_FIELD_IP_HEADER_SIZE) || metadata.ipHeaderSize == 0 {
            return Err(Outcome::Malformed);
        }
        let headers = if fields.is_icmp() {
            metadata.ipHeaderSize
        } else {
            if !has(metadata, FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE) {
                return Err(Outcome::Malformed);
            }
            let Some(headers) = metadata
                .ipHeaderSize
                .checked_add(metadata.transportHeaderSize)
            else {
                return Err(Outcome::Malformed);
            };
            headers
        };
        let buffer = first_buffer(nbl);
        if buffer.is_null() {
            return Err(Outcome::Malformed);
        }
        // SAFETY: the NBL's first NET_BUFFER is valid during classify.
        if !unsafe { (*buffer).Next }.is_null() {
            // Only the first NET_BUFFER would be retreated to its IP header.
            return Err(Outcome::MultiBuffer);
        }
        // SAFETY: as above.
        let data_offset = unsafe { (*buffer).DataOffset };
        if data_offset < headers {
            // The headers are not all in the buffer before the data: a retreat would make NDIS
            // allocate and the bytes would not be this packet's.
            return Err(Outcome::NoHeadroom);
        }
        // SAFETY: IRQL <= DISPATCH_LEVEL; the NET_BUFFER is the classify's, valid for the call;
        // the retreat stays within the buffer (DataOffset checked above), so NDIS allocates
        // nothing.
        let status = unsafe {
            self.kernel.ndis_retreat_net_buffer_data_start(
                buffer,
                headers,
                0,
                core::ptr::null_mut(),
            )
        };
        if !NtStatus(status).is_success() {
            return Err(Outcome::Malformed);
        }
        let result =
            match self.prepare_ip_header(buffer, layer.family(), metadata.ipHeaderSize, true) {
                Ok(rewritten) => {
                    let injection = Injection::TransportReceive(TransportReceive {
                        family: layer.family(),
                        compartment: compartment(metadata),
                        interface_index: fields.interface_index,
                        sub_interface_index: fields.sub_interface_index,
                        protocol: IpProtocol(fields.protocol),
                    });
                    self.inject_received(nbl, injection, rewritten)
                }
                Err(outcome) => Err(outcome),
            };
        // The stack owns the original: give it back exactly as classify received it.
        // SAFETY: undoes the successful retreat above on the same buffer.
        unsafe {
            self.kernel.ndis_advance_net_buffer_data_start(
                buffer,
                headers,
                0,
                core::ptr::null_mut(),
            )
        };
        result
    }

    /// Receive injection of `nbl`'s clone after [`Self::prepare_ip_header`] (`rewritten`: the
    /// checksum it rewrote, if any); a refused injection puts the old checksum back, so the
    /// original, permitted after all, goes on exactly as it came. `Ok(true)`: reinjected with a
    /// rewritten checksum.
    ///
    /// IRQL <= DISPATCH_LEVEL (classify's).
    #[inline(always)]
    pub(crate) fn inject_received(
        &self,
        nbl: NetBufferListRef<'_>,
        injection: Injection,
        rewritten: Option<(*mut u8, [u8; 2])>,
    ) -> Result<bool, Outcome> {
        let injected = self
            .injector
            .clone_and_inject(nbl, injection, Tag::default());
        if injected.is_err() {
            if let Some((checksum, old)) = rewritten {
                // SAFETY: the two checksum bytes prepare_ip_header wrote, in the same
                // contiguous header, still owned by this classify.
                unsafe { checksum.cast::<[u8; 2]>().write_unaligned(old) };
            }
        }
        injected
            .map(|()| rewritten.is_some())
            .map_err(Outcome::Failed)
    }

    /// After the retreat over the IP and transport headers: the buffer must start with an IP
    /// header of `family` (for IPv4, one whose IHL says `ip_header` bytes, as the metadata does).
    /// An IPv4 header checksum that is not valid is recomputed in place (the clone shares these
    /// bytes; the original is absorbed, or the old bytes are put back if the injection is
    /// refused): then `Ok(Some((address of the checksum, its old bytes)))`. `Ok(None)`: nothing
    /// rewritten. `Err` when this is not such a header, or an IPv4 one split across MDLs whose
    /// checksum is not valid.
    pub(crate) fn prepare_ip_header(
        &self,
        buffer: *mut NET_BUFFER,
        family: IpFamily,
        ip_header: u32,
        repair: bool,
    ) -> Result<Option<(*mut u8, [u8; 2])>, Outcome> {
        // The retreat put the IP and transport headers (at least `ip_header` bytes) before the
        // old data, so the IP header's bytes are present; NdisGetDataBuffer answers null when
        // fewer than it is asked for are.
        // A header split across MDLs is read through a copy; only a contiguous one can be
        // fixed in place. 60 bytes: the longest IPv4 header (IHL 15). Of an IPv6 header only
        // the version is read (nothing in it is rewritten): one byte, whatever length its
        // extension headers give it.
        // Uninitialized: NdisGetDataBuffer writes every byte it hands back through it.
        let wanted = match family {
            IpFamily::V6 => 1,
            IpFamily::V4 => ip_header,
        };
        let mut copy = [core::mem::MaybeUninit::<u8>::uninit(); 60];
        let storage = if wanted as usize <= copy.len() {
            copy.as_mut_ptr().cast()
        } else {
            core::ptr::null_mut()
        };
        // SAFETY: IRQL <= DISPATCH_LEVEL; the NET_BUFFER is valid during classify; `storage` is
        // null or has room for `wanted` bytes. A null answer means they are not contiguous and
        // no copy could be made, or (the page says) a low-resource condition kept NDIS from
        // mapping them; for IPv6's one byte only the second can happen. Either way the packet
        // is permitted untouched and counted with the malformed ones.
        let start = unsafe {
            self.kernel
                .ndis_get_data_buffer(buffer, wanted, storage, 1, 0)
        };
        if start.is_null() {
            return Err(Outcome::Malformed);
        }
        let copied = start == storage;
        // SAFETY: NdisGetDataBuffer returned `wanted` bytes of the packet: contiguous in the
        // buffer (classify may modify them in place before taking the packet over; nothing else
        // touches them during this call) or copied into `copy` (which initializes those bytes).
        let header =
            unsafe { core::slice::from_raw_parts_mut(start.cast::<u8>(), wanted as usize) };
        let first = *header.first().ok_or(Outcome::Malformed)?;
        match (family, first >> 4) {
            (IpFamily::V6, 6) => return Ok(None),
            (IpFamily::V4, 4) => {}
            _ => return Err(Outcome::Malformed),
        }
        // The metadata's IP header size and the header's own length (IHL) must agree, or the
        // retreat did not land on this header.
        if usize::from(first & 0x0F) * 4 != header.len() || header.len() < 20 {
            return Err(Outcome::Malformed);
        }
        if ones_complement_sum(header) == 0xFFFF {
            return Ok(None);
        }
        if !repair {
            // A header the stack has not processed yet: an invalid checksum may be corruption,
            // which the stack would drop. Passed on untouched, never made valid here.
            return Err(Outcome::Malformed);
        }
        if copied {
            // Only readable: an invalid checksum cannot be fixed in the packet through a copy.
            return Err(Outcome::SplitHeaderChecksum);
        }
        let (Some(&high), Some(&low)) = (header.get(10), header.get(11)) else {
            return Err(Outcome::Malformed);
        };
        // The checksum is the complement of the header's sum with the checksum field zeroed.
        if let Some(field) = header.get_mut(10..12) {
            field.fill(0);
        }
        let checksum = !ones_complement_sum(header);
        if let Some(field) = header.get_mut(10..12) {
            field.copy_from_slice(&checksum.to_be_bytes());
        }
        // SAFETY: `header` has at least 20 bytes (checked above); offset 10 is in it.
        let field = unsafe { header.as_mut_ptr().add(10) };
        Ok(Some((field, [high, low])))
    }
}

/// `classifyFn` of every callout (FWPS_CALLOUT_CLASSIFY_FN1). The filter's context names a
/// driver instance ([`InstanceId`]); classify runs only inside the live instance it names, which
/// stays alive until classify returns. A context of another (unloaded) instance, possible when a
/// filter outlived it, gets a permit and nothing else.
///
/// IRQL <= DISPATCH_LEVEL.
///
/// # Safety
/// Called by WFP with valid pointers; a registered instance's state is a `CalloutState<K>`.
pub unsafe extern "win64" fn classify<K: KernelApi>(
    values: *const FWPS_INCOMING_VALUES0,
    metadata: *const FWPS_INCOMING_METADATA_VALUES0,
    layer_data: *mut c_void,
    _classify_context: *const c_void,
    filter: *const FWPS_FILTER1,
    _flow_context: u64,
    out: *mut FWPS_CLASSIFY_OUT0,
) {
    if out.is_null() {
        return;
    }
    // SAFETY: WFP's classify output is valid and written only by this call.
    let out = unsafe { &mut *out };
    if values.is_null() || metadata.is_null() || filter.is_null() {
        permit_if_writable(out);
        return;
    }
    // SAFETY: WFP's filter is valid for the call.
    let context = unsafe { (*filter).context };
    // The processor is asked here, before the state (and the kernel value in it) is reachable;
    // the rest of classify's per-processor state uses the same answer.
    let processor = K::current_processor_index();
    let Some(entered) = instance::enter(InstanceId::from_raw_context(context), processor) else {
        // Not this driver's live instance: leave the packet as if the callout were not there.
        permit_if_writable(out);
        return;
    };
    // SAFETY: the instance registered a CalloutState<K> (the function's contract), and
    // `entered` keeps it alive until it drops at the end of this function.
    let state = unsafe { &*entered.state().cast::<CalloutState<K>>() };
    // SAFETY: WFP's values are valid and unaliased for the call.
    let values = unsafe { &*values };
    // SAFETY: as above.
    let metadata = unsafe { &*metadata };
    // SAFETY: at transport and IP packet layers layerData is the packet's NBL (or null), valid
    // until classify returns.
    let packet = unsafe { NetBufferListRef::from_raw(layer_data.cast::<NET_BUFFER_LIST>()) };
    state.classify(entered.processor(), values, metadata, packet, out);
    #[cfg(debug_assertions)]
    assert!(
        state.canary.is_alive(),
        "the driver state was freed during classify"
    );
    // SAFETY: as above.
    if unsafe { (*filter).flags } & FWPS_FILTER_FLAG_CLEAR_ACTION_RIGHT != 0
        && out.actionType == FWP_ACTION_PERMIT
    {
        // The filter asks that a permit be final for lower-weight filters too.
        out.rights &= !FWPS_RIGHT_ACTION_WRITE;
    }
}

/// Answers permit when the write right allows an answer at all (without it, the decision belongs
/// to a higher-weight filter and nothing may change).
fn permit_if_writable(out: &mut FWPS_CLASSIFY_OUT0) {
    if out.rights & FWPS_RIGHT_ACTION_WRITE != 0 {
        out.actionType = FWP_ACTION_PERMIT;
    }
}

/// `notifyFn` of every callout: filter additions and deletions need no action.
///
/// # Safety
/// Called by WFP; the pointers are not used.
pub unsafe extern "win64" fn notify(
    _notify_type: u32,
    _filter_key: *const GUID,
    _filter: *mut FWPS_FILTER1,
) -> NTSTATUS {
    NtStatus::SUCCESS.0
}

#[cfg(test)]
mod tests {
    use super::ones_complement_sum;

    /// RFC 1071's definition, one 16-bit word at a time (an odd last byte padded with zero on
    /// the right), folded at every step.
    fn by_words(bytes: &[u8]) -> u16 {
        let mut sum = 0u32;
        for pair in bytes.chunks(2) {
            let word = u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
            sum += word;
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn the_four_byte_sum_agrees_with_rfc_1071_for_every_length_and_tail() {
        // Bytes chosen so that words carry out of 16 bits and every tail length (0..=3) occurs.
        let bytes: alloc::vec::Vec<u8> = (0..67u32).map(|i| (i * 97 + 0xC5) as u8 | 0x80).collect();
        for length in 0..bytes.len() {
            assert_eq!(
                ones_complement_sum(&bytes[..length]),
                by_words(&bytes[..length]),
                "length {length}"
            );
        }
        // Edges: all zero, all 0xFF (sums that fold to 0 and to 0xFFFF).
        for length in [1, 2, 3, 4, 5, 20, 60] {
            let zeros = alloc::vec![0u8; length];
            assert_eq!(
                ones_complement_sum(&zeros),
                by_words(&zeros),
                "zeros, {length}"
            );
            let ones = alloc::vec![0xFFu8; length];
            assert_eq!(
                ones_complement_sum(&ones),
                by_words(&ones),
                "0xFF, {length}"
            );
        }
        // An IPv4 header whose checksum (0xb861, bytes 10-11) is correct sums to 0xFFFF.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ones_complement_sum(&header), 0xFFFF);
    }
}
