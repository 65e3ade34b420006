//! Per-layer counters, one set per processor: classify adds to the set of the processor it runs
//! on (a cache line no other processor writes), readers sum the sets. Exact when no classify
//! runs; while classifies run, a sum is a moment's approximation, as any concurrent count is.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::driver::layers::CalloutLayer;
use crate::inject::PerProcessor;
use crate::sys::KernelApi;

/// What happened to the packets classified at one layer.
#[derive(Debug, Default)]
pub struct LayerCounters {
    /// Packets this driver injected, permitted untouched.
    pub skipped_own: AtomicU64,
    /// Packets another driver injected (FWPS_PACKET_INJECTED_BY_OTHER): permitted untouched,
    /// never cloned again, so this driver injects each original packet at most once per layer.
    pub skipped_other_injector: AtomicU64,
    /// Classifies without the write right: left untouched.
    pub skipped_no_write_right: AtomicU64,
    /// Packets outside the configuration: permitted.
    pub not_inspected: AtomicU64,
    /// Packets cloned, absorbed and reinjected.
    pub reinjected: AtomicU64,
    /// Configured packets that could not be reinjected (clone or inject refused): permitted.
    pub failed: AtomicU64,
    /// Packets whose values, metadata or data were missing or truncated: permitted untouched.
    pub malformed: AtomicU64,
    /// Loopback packets (FWP_CONDITION_FLAG_IS_LOOPBACK): permitted untouched.
    pub skipped_loopback: AtomicU64,
    /// Inbound packets with FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED: permitted untouched
    /// (transport receive injection is not allowed for them).
    pub skipped_ale_classify_required: AtomicU64,
    /// Inbound IPsec-protected packets (isSecure) or tunnel-mode packets not yet detunneled:
    /// permitted untouched.
    pub skipped_ipsec: AtomicU64,
    /// TCP classified below DISPATCH_LEVEL: permitted untouched, since a DPC queued there would
    /// run at once, inside the classify.
    pub skipped_tcp_below_dispatch: AtomicU64,
    /// Inbound packets whose NET_BUFFER holds fewer bytes before the data than the headers to
    /// retreat over (a retreat would make NDIS allocate): permitted untouched.
    pub skipped_no_headroom: AtomicU64,
    /// Inbound NBLs of more than one NET_BUFFER: only the first would be retreated to its IP
    /// header (the samples handle one, and FwpsConstructIpHeaderForTransportPacket0 requires
    /// one): permitted untouched.
    pub skipped_multi_buffer: AtomicU64,
    /// Inbound IPv4 packets whose header is split across MDLs with a checksum that is not
    /// valid: read through a copy, it cannot be fixed in the packet: permitted untouched.
    pub skipped_split_header_checksum: AtomicU64,
    /// Configured packets classified while the system was about to sleep (from the power
    /// routine's "leaving S0" until "back in S0"): permitted untouched, no injection started.
    pub skipped_suspended: AtomicU64,
    /// IP packet layers: fragments (FWP_CONDITION_FLAG_IS_FRAGMENT, or a fragment header):
    /// the layers see them before reassembly, without the transport header the configuration
    /// matches on: permitted untouched.
    pub skipped_fragment: AtomicU64,
    /// Reinjected inbound IPv4 clones whose IP header checksum was rewritten (it was not valid).
    pub checksum_recomputed: AtomicU64,
}

/// A copy of one layer's counters: the control channel's wire structure itself, so the driver
/// and the tool cannot disagree on the set (`classified` is the sum of the outcome counters,
/// each classify bumps exactly one; `checksum_recomputed` is a detail of `reinjected`).
pub use wfp_protocol::LayerCounters as LayerSnapshot;

impl LayerCounters {
    /// Adds one to `counter`.
    #[inline(always)]
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of the counters now.
    pub fn snapshot(&self) -> LayerSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut snapshot = LayerSnapshot {
            classified: 0,
            skipped_own: read(&self.skipped_own),
            skipped_other_injector: read(&self.skipped_other_injector),
            skipped_no_write_right: read(&self.skipped_no_write_right),
            not_inspected: read(&self.not_inspected),
            reinjected: read(&self.reinjected),
            failed: read(&self.failed),
            malformed: read(&self.malformed),
            skipped_loopback: read(&self.skipped_loopback),
            skipped_ale_classify_required: read(&self.skipped_ale_classify_required),
            skipped_ipsec: read(&self.skipped_ipsec),
            skipped_tcp_below_dispatch: read(&self.skipped_tcp_below_dispatch),
            skipped_no_headroom: read(&self.skipped_no_headroom),
            skipped_multi_buffer: read(&self.skipped_multi_buffer),
            skipped_split_header_checksum: read(&self.skipped_split_header_checksum),
            skipped_suspended: read(&self.skipped_suspended),
            skipped_fragment: read(&self.skipped_fragment),
            checksum_recomputed: read(&self.checksum_recomputed),
        };
        // Destructured in full, so that a new counter does not compile until it is placed here.
        let LayerSnapshot {
            classified: _,
            skipped_own,
            skipped_other_injector,
            skipped_no_write_right,
            not_inspected,
            reinjected,
            failed,
            malformed,
            skipped_loopback,
            skipped_ale_classify_required,
            skipped_ipsec,
            skipped_tcp_below_dispatch,
            skipped_no_headroom,
            skipped_multi_buffer,
            skipped_split_header_checksum,
            skipped_suspended,
            skipped_fragment,
            // A detail of `reinjected`, not an outcome of its own.
            checksum_recomputed: _,
        } = snapshot;
        snapshot.classified = skipped_own
            + skipped_other_injector
            + skipped_no_write_right
            + not_inspected
            + reinjected
            + failed
            + malformed
            + skipped_loopback
            + skipped_ale_classify_required
            + skipped_ipsec
            + skipped_tcp_below_dispatch
            + skipped_no_headroom
            + skipped_multi_buffer
            + skipped_split_header_checksum
            + skipped_suspended
            + skipped_fragment;
        snapshot
    }
}

/// Counters for each of the eight layers (four transport, four IP packet), one set per processor
/// (each set on lines of its own).
#[derive(Debug)]
pub struct Counters {
    processors: PerProcessor<[LayerCounters; 8]>,
}

impl Counters {
    /// One set per active processor (`KeQueryActiveProcessorCountEx`). Load time; IRQL <=
    /// DISPATCH_LEVEL.
    pub fn new<K: KernelApi>(kernel: &K) -> Result<Self, crate::Error> {
        Ok(Self {
            processors: PerProcessor::new(kernel, Default::default)?,
        })
    }

    /// `count` sets, for tests.
    pub fn with_processors(count: u32) -> Result<Self, crate::Error> {
        Ok(Self {
            processors: PerProcessor::with_count(count, Default::default)?,
        })
    }

    /// The counters of `layer` on the processor the caller runs on. Below DISPATCH_LEVEL the
    /// caller may have moved on by the time it adds: the add is atomic, so the count stays exact
    /// (only that once, the line is shared). Any IRQL.
    #[inline(always)]
    pub fn layer<K: KernelApi>(
        &self,
        kernel: &K,
        layer: impl Into<CalloutLayer>,
    ) -> &LayerCounters {
        // A slot is always below 8; the remainder lets the compiler see it where the layer is
        // not a constant (unload's loop over every layer), so the image has no bounds-check
        // panic there. On the classify path the layer is known and it folds away.
        &self.processors.current(kernel)[layer.into().slot() % 8]
    }

    /// The counters of `layer` on processor `index` (classify's, which has asked for its
    /// processor already; tests). An index beyond the sets shares `index % count`. Any IRQL.
    #[inline(always)]
    pub fn layer_on(&self, index: u32, layer: impl Into<CalloutLayer>) -> &LayerCounters {
        &self.processors.get(index)[layer.into().slot() % 8]
    }

    /// `layer`'s counters summed over the processors now.
    pub fn snapshot(&self, layer: impl Into<CalloutLayer>) -> LayerSnapshot {
        let slot = layer.into().slot() % 8;
        let mut sum = LayerSnapshot::default();
        for set in self.processors.iter() {
            sum += set[slot].snapshot();
        }
        sum
    }
}
