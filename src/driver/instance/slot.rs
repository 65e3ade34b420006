//! One instance slot's entry handshake: classifies count themselves in on the processor they run
//! on, so entering and leaving write only that processor's line; unload retires the slot and
//! waits until every processor's count is zero.
//!
//! The slot word holds the generation (high 32 bits; bit 63 set while the slot is free) and the
//! retired bit; it is written only by register, retire and release, and read by every classify.
//! The counts are separate words, one per stripe, each on a cache line of its own; a classify adds
//! to the stripe of its processor (`processor % stripes`) and remembers which, so it takes away
//! from the same stripe wherever it leaves: no stripe ever goes below zero, and a thread that
//! moved between processors below DISPATCH_LEVEL only writes another processor's line once.
//!
//! The handshake (a store-buffering pattern, so both sides are sequentially consistent):
//! - enter: add one to the stripe, then read the word again; if the slot was retired or its
//!   generation changed in between, take the one away and fail.
//! - unload: set the retired bit, then read every stripe; the slot is released only when all are
//!   zero.
//!
//! In the single total order of the sequentially consistent operations, either the add comes
//! before unload reads that stripe (unload sees it and waits), or unload's retire came before the
//! enter's second read (the enter sees it and backs out). The power routine's drain is the same
//! pattern with the `suspended` flag in place of the retired bit: it stores the flag, then sums the
//! stripes; classify adds, then reads the flag (src/driver/power.rs).
//!
//! The atomics and [`order_point`] come from the parent module: core's in the driver, loom's in
//! the model checks (tests/loom_instance.rs), where the order point is a `SeqCst` fence because
//! loom treats `SeqCst` accesses as `AcqRel` (its README, "Unsupported features") and would
//! otherwise explore executions the C++ memory model forbids. In the driver it is nothing: the
//! `SeqCst` accesses themselves give the order (on x86-64 the add is a locked instruction and the
//! loads plain moves, so it costs nothing).

use super::atomics::{AtomicPtr, AtomicU64, Ordering, order_point};

/// The retired bit of the slot word: no new classify may enter.
pub(super) const RETIRED: u64 = 1 << 31;
/// Bit 63 of the slot word: the slot is free (not claimed by any instance).
pub(super) const FREE: u64 = 1 << 63;
/// Generations use 31 bits; 0 means "never claimed since the image was mapped".
const GENERATION: u64 = 0x7FFF_FFFF;

/// The slot word and the state pointer of one instance slot.
#[derive(Debug)]
pub(super) struct Slot {
    /// generation << 32 | retired, with [`FREE`] while unclaimed.
    pub(super) word: AtomicU64,
    /// The instance's state while claimed.
    pub(super) state: AtomicPtr<()>,
}

/// One stripe of a slot's count of classifies inside, on a cache line of its own.
#[derive(Debug)]
#[repr(align(64))]
pub(super) struct Stripe(pub(super) AtomicU64);

/// A slot with its `N` stripes (`N` a power of two). The stripes live as long as the slot, so an
/// enter with a stale context only ever touches live counts.
#[derive(Debug, Clone, Copy)]
pub(super) struct SlotRef<'a, const N: usize> {
    pub(super) slot: &'a Slot,
    pub(super) stripes: &'a [Stripe; N],
}

impl<'a, const N: usize> SlotRef<'a, N> {
    const POWER_OF_TWO: () = assert!(N.is_power_of_two(), "stripes fold processors by a mask");

    /// The stripe `processor` counts on (processors beyond `N` share). Any IRQL.
    #[inline(always)]
    fn stripe(self, processor: u32) -> &'a Stripe {
        let () = Self::POWER_OF_TWO;
        // A power of two: the remainder is a mask, and below N, so no bounds check is left.
        &self.stripes[processor as usize % N]
    }

    /// Counts a classify in on `processor`'s stripe if the slot's live generation is
    /// `generation`. Returns the stripe to leave from and the state. IRQL <= DISPATCH_LEVEL.
    #[inline(always)]
    pub(super) fn enter(self, generation: u64, processor: u32) -> Option<(&'a Stripe, *const ())> {
        let live = generation << 32;
        // A context of another instance (or a retired one) backs out before writing anything.
        if self.slot.word.load(Ordering::Acquire) != live {
            return None;
        }
        let stripe = self.stripe(processor);
        stripe.0.fetch_add(1, Ordering::SeqCst);
        order_point();
        if self.slot.word.load(Ordering::SeqCst) != live {
            // Retired (or released and claimed again) since the first read: unload may already
            // have read this stripe, so this classify must not go in.
            stripe.0.fetch_sub(1, Ordering::Release);
            return None;
        }
        Some((stripe, self.slot.state.load(Ordering::Acquire)))
    }

    /// Classifies counted in on `processor`'s stripe now (a processor beyond the stripes shares).
    pub(super) fn users_on(self, processor: u32) -> u64 {
        self.stripe(processor).0.load(Ordering::SeqCst)
    }

    /// Counts out a classify that entered on `stripe`. Release: what it did with the state
    /// happens before unload, which reads the stripe, frees it. Any IRQL.
    #[inline(always)]
    pub(super) fn leave(stripe: &Stripe) {
        stripe.0.fetch_sub(1, Ordering::Release);
    }

    /// Classifies inside now: the sum of the stripes, read after everything this thread did
    /// before (the retire, the `suspended` flag). Exact once no classify enters or leaves.
    pub(super) fn users(self) -> u64 {
        order_point();
        self.stripes.iter().fold(0u64, |sum, stripe| {
            sum.wrapping_add(stripe.0.load(Ordering::SeqCst))
        })
    }

    /// Whether the slot is claimed with `generation`, retired or not.
    pub(super) fn claimed_by(self, generation: u64) -> bool {
        self.slot.word.load(Ordering::Acquire) >> 32 == generation
    }

    /// Stops new classifies from entering. Any IRQL.
    pub(super) fn retire(self) {
        self.slot.word.fetch_or(RETIRED, Ordering::SeqCst);
    }

    /// Claims the slot if it is free, for `state`, with the generation after the slot's last one
    /// (or one derived from `seed` for a slot never claimed since the image was mapped). Returns
    /// the generation. Any IRQL.
    pub(super) fn claim(self, state: *const (), seed: u64) -> Option<u64> {
        let word = self.slot.word.load(Ordering::Acquire);
        // Free: retired and marked free, and not claimed by a concurrent register.
        if word & (FREE | RETIRED) != FREE | RETIRED {
            return None;
        }
        // Claim it by clearing the free bit (generation unchanged, still retired).
        let claimed = word & !FREE;
        self.slot
            .word
            .compare_exchange(word, claimed, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        self.slot.state.store(state.cast_mut(), Ordering::Release);
        // A new generation, live (not retired): contexts of earlier instances no longer match.
        let previous = (claimed >> 32) & GENERATION;
        let next = if previous == 0 {
            (seed ^ (seed >> 31)) & GENERATION
        } else {
            (previous + 1) & GENERATION
        };
        let generation = if next == 0 { 1 } else { next };
        self.slot.word.store(generation << 32, Ordering::Release);
        Some(generation)
    }

    /// Gives the slot back once it is retired and no classify is inside; the state pointer is
    /// forgotten. False (nothing changed) while not retired or while a classify is inside.
    pub(super) fn release(self) -> bool {
        let word = self.slot.word.load(Ordering::Acquire);
        if word & RETIRED == 0 || word & FREE != 0 || self.users() != 0 {
            return false;
        }
        self.slot
            .state
            .store(core::ptr::null_mut(), Ordering::Release);
        self.slot.word.store(word | FREE, Ordering::Release);
        true
    }
}
