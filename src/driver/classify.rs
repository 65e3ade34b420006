//! Classify at the transport layers: permit our own and unchangeable packets untouched; clone,
//! absorb and reinject configured traffic on the path it came from; permit everything else.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::driver::config::{InspectionConfig, PacketKey};
use crate::driver::counters::{Counters, LayerCounters};
use crate::driver::instance::{self, InstanceId};
use crate::driver::layers::{Direction, FieldIndices, TransportLayer};
use crate::driver::log::{Level, Log};
use crate::error::Error;
use crate::inject::{
    ClonedNetBufferList, Completion, CompletionHandler, Injection, IpFamily, IpProtocol,
    NetBufferListRef, PacketInjector, RemoteAddress, Tag, TransportReceive, TransportSend,
    UNSPECIFIED_COMPARTMENT,
};
use crate::nt::NtStatus;
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

/// Counts finished reinjections and frees their clones.
#[derive(Debug, Default)]
pub struct CompletionCounters {
    /// Completed with success.
    pub succeeded: AtomicU64,
    /// Completed with a failure status (the packet was lost downstream).
    pub failed: AtomicU64,
}

impl<K: KernelApi> CompletionHandler<K> for CompletionCounters {
    type Packet = ClonedNetBufferList<K>;

    #[inline]
    fn completed(&self, completion: Completion<Self::Packet>) {
        let counter = if completion.status.is_success() {
            &self.succeeded
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        drop(completion.packet);
    }
}

/// The driver's injector: clones of classified packets, counted and freed at completion.
pub type DriverInjector<K> = PacketInjector<K, CompletionCounters>;

/// What classify needs, reached from each filter's context. Lives from load to unload at a
/// fixed address.
pub struct CalloutState<K: KernelApi> {
    /// Debug builds: [`ALIVE`] from creation until drop, when it is overwritten, so a classify
    /// that reaches freed state fails its assertion (the host tests' use-after-free detector).
    #[cfg(debug_assertions)]
    pub(crate) canary: Canary,
    pub(crate) kernel: K,
    pub(crate) injector: DriverInjector<K>,
    pub(crate) config: InspectionConfig,
    pub(crate) counters: Counters,
    pub(crate) log: Log,
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
    remote_address: [u8; 16],
    remote_length: usize,
    remote_port: u16,
    interface_index: u32,
    sub_interface_index: u32,
}

/// Why a configured packet was not reinjected.
enum NotReinjected {
    /// Missing metadata, or data shorter than its headers: permitted untouched.
    Malformed,
    /// Clone or injection refused: permitted.
    Failed(Error),
}

fn value_of(value: &FWP_VALUE0, kind: u32) -> Option<u64> {
    (value.r#type == kind).then_some(value.value)
}

impl TransportFields {
    /// Reads the fields, checking each value's type; `None` when any is missing or mistyped.
    fn read(values: &FWPS_INCOMING_VALUES0, layer: TransportLayer) -> Option<Self> {
        let field = layer.fields();
        let required = FieldIndices::required_count(field);
        if values.valueCount < required || values.incomingValue.is_null() {
            return None;
        }
        // SAFETY: WFP passes `valueCount` readable values for the classify's duration; only the
        // first `required` (checked above) are read.
        let values =
            unsafe { core::slice::from_raw_parts(values.incomingValue, required as usize) };
        let mut remote_address = [0u8; 16];
        let remote_length = match layer.family() {
            IpFamily::V4 => {
                // IPv4 addresses come as host-order integers: to_be_bytes gives network order.
                let address = value_of(&values[field.ip_remote_address], FWP_UINT32)? as u32;
                remote_address[..4].copy_from_slice(&address.to_be_bytes());
                4
            }
            IpFamily::V6 => {
                let pointer = value_of(&values[field.ip_remote_address], FWP_BYTE_ARRAY16_TYPE)?
                    as *const [u8; 16];
                if pointer.is_null() {
                    return None;
                }
                // SAFETY: a FWP_BYTE_ARRAY16_TYPE value points to 16 bytes valid for the
                // classify's duration.
                remote_address = unsafe { pointer.read_unaligned() };
                16
            }
        };
        Some(Self {
            protocol: value_of(&values[field.ip_protocol], FWP_UINT8)? as u8,
            remote_address,
            remote_length,
            remote_port: value_of(&values[field.ip_remote_port], FWP_UINT16)? as u16,
            interface_index: value_of(&values[field.interface_index], FWP_UINT32)? as u32,
            sub_interface_index: value_of(&values[field.sub_interface_index], FWP_UINT32)? as u32,
        })
    }

    fn key(&self) -> PacketKey<'_> {
        PacketKey {
            protocol: self.protocol,
            remote_address: &self.remote_address[..self.remote_length],
            remote_port: self.remote_port,
        }
    }
}

fn has(metadata: &FWPS_INCOMING_METADATA_VALUES0, field: u32) -> bool {
    metadata.currentMetadataValues & field == field
}

fn compartment(metadata: &FWPS_INCOMING_METADATA_VALUES0) -> u32 {
    if has(metadata, FWPS_METADATA_FIELD_COMPARTMENT_ID) {
        metadata.compartmentId
    } else {
        UNSPECIFIED_COMPARTMENT
    }
}

/// The first NET_BUFFER of an NBL (`NET_BUFFER_LIST_FIRST_NB`).
fn first_buffer(nbl: NetBufferListRef<'_>) -> *mut NET_BUFFER {
    // SAFETY: the borrow guarantees a valid NBL for the classify's duration.
    unsafe { (*nbl.as_raw()).FirstNetBuffer.cast() }
}

impl<K: KernelApi> CalloutState<K> {
    /// Decides one packet at a transport layer.
    ///
    /// IRQL <= DISPATCH_LEVEL. Never fails: every refusal ends in permit.
    pub fn classify(
        &self,
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
        let Some(layer) = TransportLayer::from_runtime_id(values.layerId) else {
            // Not a layer of ours (a filter someone else added with our callout): a terminating
            // callout must answer block or permit, or WFP treats it as block.
            permit_if_writable(out);
            return;
        };
        let counters = self.counters.layer(layer);
        LayerCounters::bump(&counters.classified);
        if out.rights & FWPS_RIGHT_ACTION_WRITE == 0 {
            // Another callout decided already: nothing here may change the packet or action.
            LayerCounters::bump(&counters.skipped_no_write_right);
            return;
        }
        let Some(nbl) = packet else {
            out.actionType = FWP_ACTION_PERMIT;
            LayerCounters::bump(&counters.malformed);
            return;
        };
        if self
            .injector
            .handles()
            .injected_by_self(layer.family(), nbl)
            .is_some()
        {
            out.actionType = FWP_ACTION_PERMIT;
            LayerCounters::bump(&counters.skipped_own);
            return;
        }
        let Some(fields) = TransportFields::read(values, layer) else {
            out.actionType = FWP_ACTION_PERMIT;
            LayerCounters::bump(&counters.malformed);
            return;
        };
        if !self.config.matches(layer.family(), &fields.key()) {
            out.actionType = FWP_ACTION_PERMIT;
            LayerCounters::bump(&counters.not_inspected);
            return;
        }
        let result = match layer.direction() {
            Direction::Outbound => self.reinject_outbound(layer, nbl, &fields, metadata),
            Direction::Inbound => self.reinject_inbound(layer, nbl, &fields, metadata),
        };
        match result {
            Ok(()) => {
                out.actionType = FWP_ACTION_BLOCK;
                out.flags |= FWPS_CLASSIFY_OUT_FLAG_ABSORB;
                out.rights &= !FWPS_RIGHT_ACTION_WRITE;
                LayerCounters::bump(&counters.reinjected);
            }
            Err(NotReinjected::Malformed) => {
                out.actionType = FWP_ACTION_PERMIT;
                LayerCounters::bump(&counters.malformed);
            }
            Err(NotReinjected::Failed(error)) => {
                out.actionType = FWP_ACTION_PERMIT;
                LayerCounters::bump(&counters.failed);
                self.log.write(
                    &self.kernel,
                    Level::Trace,
                    &[
                        layer.into(),
                        ": reinjection refused: ".into(),
                        error.status().into(),
                    ],
                );
            }
        }
    }

    /// Outbound: the NBL starts at the transport header; transport send injection with the
    /// endpoint, remote address, scope and control data from the classify.
    fn reinject_outbound(
        &self,
        layer: TransportLayer,
        nbl: NetBufferListRef<'_>,
        fields: &TransportFields,
        metadata: &FWPS_INCOMING_METADATA_VALUES0,
    ) -> Result<(), NotReinjected> {
        if !has(metadata, FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE) {
            return Err(NotReinjected::Malformed);
        }
        let buffer = first_buffer(nbl);
        if buffer.is_null() {
            return Err(NotReinjected::Malformed);
        }
        if has(metadata, FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE) {
            // SAFETY: the NBL's first NET_BUFFER is valid during classify.
            let length = unsafe { (*buffer).data_length() };
            if length < metadata.transportHeaderSize {
                return Err(NotReinjected::Malformed);
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
        let remote_address = match layer.family() {
            IpFamily::V4 => {
                let mut address = [0u8; 4];
                address.copy_from_slice(&fields.remote_address[..4]);
                RemoteAddress::V4(address)
            }
            IpFamily::V6 => RemoteAddress::V6(fields.remote_address, scope_id),
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
            .map_err(NotReinjected::Failed)
    }

    /// Inbound: the NBL starts past the transport header. Retreat to the IP header (by the
    /// metadata's header sizes), check it is one, clone, restore the original, and inject the
    /// clone on the transport receive path with the arrival interface.
    fn reinject_inbound(
        &self,
        layer: TransportLayer,
        nbl: NetBufferListRef<'_>,
        fields: &TransportFields,
        metadata: &FWPS_INCOMING_METADATA_VALUES0,
    ) -> Result<(), NotReinjected> {
        if !has(metadata, FWPS_METADATA_FIELD_IP_HEADER_SIZE)
            || !has(metadata, FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE)
        {
            return Err(NotReinjected::Malformed);
        }
        let buffer = first_buffer(nbl);
        if buffer.is_null() {
            return Err(NotReinjected::Malformed);
        }
        let Some(headers) = metadata
            .ipHeaderSize
            .checked_add(metadata.transportHeaderSize)
        else {
            return Err(NotReinjected::Malformed);
        };
        // SAFETY: IRQL <= DISPATCH_LEVEL; the NET_BUFFER is the classify's, valid for the call;
        // no backfill allocation is requested (the headers precede the data in the buffer).
        let status = unsafe {
            self.kernel.ndis_retreat_net_buffer_data_start(
                buffer,
                headers,
                0,
                core::ptr::null_mut(),
            )
        };
        if !NtStatus(status).is_success() {
            return Err(NotReinjected::Malformed);
        }
        let result = if self.starts_with_ip_header(buffer, layer.family(), headers) {
            let injection = Injection::TransportReceive(TransportReceive {
                family: layer.family(),
                compartment: compartment(metadata),
                interface_index: fields.interface_index,
                sub_interface_index: fields.sub_interface_index,
                protocol: IpProtocol(fields.protocol),
            });
            self.injector
                .clone_and_inject(nbl, injection, Tag::default())
                .map_err(NotReinjected::Failed)
        } else {
            Err(NotReinjected::Malformed)
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

    /// True when the buffer holds at least `headers` bytes and starts with an IP header of
    /// `family`. Reads one byte, only after the length check.
    fn starts_with_ip_header(
        &self,
        buffer: *mut NET_BUFFER,
        family: IpFamily,
        headers: u32,
    ) -> bool {
        // SAFETY: the NET_BUFFER is valid during classify.
        let length = unsafe { (*buffer).data_length() };
        if length < headers || headers == 0 {
            return false;
        }
        // SAFETY: IRQL <= DISPATCH_LEVEL; at least one byte is present (checked above); no
        // storage: a null answer means the byte is not contiguous, treated as malformed.
        let first = unsafe {
            self.kernel
                .ndis_get_data_buffer(buffer, 1, core::ptr::null_mut(), 1, 0)
        };
        if first.is_null() {
            return false;
        }
        // SAFETY: NdisGetDataBuffer returned a pointer to at least one readable byte.
        let version = unsafe { first.cast::<u8>().read() } >> 4;
        matches!((family, version), (IpFamily::V4, 4) | (IpFamily::V6, 6))
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
    let Some(entered) = instance::enter(InstanceId::from_raw_context(context)) else {
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
    // SAFETY: at transport layers layerData is the packet's NBL (or null), valid until classify
    // returns.
    let packet = unsafe { NetBufferListRef::from_raw(layer_data.cast::<NET_BUFFER_LIST>()) };
    state.classify(values, metadata, packet, out);
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
