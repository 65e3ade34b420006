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

/// A copy of one layer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerSnapshot {
    /// Every classify call: the sum of the outcome counters (each classify bumps exactly one;
    /// `checksum_recomputed` is a detail of `reinjected`), so classify pays no extra atomic.
    pub classified: u64,
    /// See [`LayerCounters::skipped_own`].
    pub skipped_own: u64,
    /// See [`LayerCounters::skipped_other_injector`].
    pub skipped_other_injector: u64,
    /// See [`LayerCounters::skipped_no_write_right`].
    pub skipped_no_write_right: u64,
    /// See [`LayerCounters::not_inspected`].
    pub not_inspected: u64,
    /// See [`LayerCounters::reinjected`].
    pub reinjected: u64,
    /// See [`LayerCounters::failed`].
    pub failed: u64,
    /// See [`LayerCounters::malformed`].
    pub malformed: u64,
    /// See [`LayerCounters::skipped_loopback`].
    pub skipped_loopback: u64,
    /// See [`LayerCounters::skipped_ale_classify_required`].
    pub skipped_ale_classify_required: u64,
    /// See [`LayerCounters::skipped_ipsec`].
    pub skipped_ipsec: u64,
    /// See [`LayerCounters::skipped_tcp_below_dispatch`].
    pub skipped_tcp_below_dispatch: u64,
    /// See [`LayerCounters::skipped_no_headroom`].
    pub skipped_no_headroom: u64,
    /// See [`LayerCounters::skipped_multi_buffer`].
    pub skipped_multi_buffer: u64,
    /// See [`LayerCounters::skipped_split_header_checksum`].
    pub skipped_split_header_checksum: u64,
    /// See [`LayerCounters::skipped_suspended`].
    pub skipped_suspended: u64,
    /// See [`LayerCounters::skipped_fragment`].
    pub skipped_fragment: u64,
    /// See [`LayerCounters::checksum_recomputed`].
    pub checksum_recomputed: u64,
}

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

impl core::ops::AddAssign for LayerSnapshot {
    /// Field by field: the sum of two processors' counts (`classified` included, itself a sum).
    fn add_assign(&mut self, other: Self) {
        // Destructured in full, so that a new counter does not compile until it is added here.
        let LayerSnapshot {
            classified,
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
            checksum_recomputed,
        } = other;
        self.classified += classified;
        self.skipped_own += skipped_own;
        self.skipped_other_injector += skipped_other_injector;
        self.skipped_no_write_right += skipped_no_write_right;
        self.not_inspected += not_inspected;
        self.reinjected += reinjected;
        self.failed += failed;
        self.malformed += malformed;
        self.skipped_loopback += skipped_loopback;
        self.skipped_ale_classify_required += skipped_ale_classify_required;
        self.skipped_ipsec += skipped_ipsec;
        self.skipped_tcp_below_dispatch += skipped_tcp_below_dispatch;
        self.skipped_no_headroom += skipped_no_headroom;
        self.skipped_multi_buffer += skipped_multi_buffer;
        self.skipped_split_header_checksum += skipped_split_header_checksum;
        self.skipped_suspended += skipped_suspended;
        self.skipped_fragment += skipped_fragment;
        self.checksum_recomputed += checksum_recomputed;
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
