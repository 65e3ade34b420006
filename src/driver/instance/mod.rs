//! Which driver instance a filter context names, and the guard that keeps an instance's state
//! alive while any classify uses it.
//!
//! A filter's `rawContext` outlives the instance that added it whenever a delete fails: the
//! filter stays in BFE and becomes live again when a later instance registers the same callout
//! key. So the context is never a pointer. It is a [`InstanceId`]: a slot in a static table and
//! the generation the slot had when the instance claimed it. Classify enters the slot only if
//! the generation still matches and the slot is not retired, and counts itself in; unload
//! retires the slot and waits until the count is zero before the state is freed. The table is
//! static, so reading a slot is always safe, whatever instance a context came from.
//!
//! Entering writes only the calling processor's line: each slot's count of classifies inside is
//! striped per processor ([`slot`] has the handshake and why it is safe). The stripes are
//! static too, so a classify holding a context of an unloaded instance only ever touches counts
//! that exist.

mod slot;

use slot::{FREE, RETIRED, Slot, SlotRef, Stripe};

/// The atomics the slot handshake uses (the model checks give it loom's), and its order point:
/// nothing here, where the `SeqCst` accesses give the order themselves.
mod atomics {
    pub(super) use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

    #[inline(always)]
    pub(super) fn order_point() {}
}

use atomics::{AtomicPtr, AtomicU64};

/// Slots in the table. The kernel image loads one instance at a time; host tests run many
/// drivers in parallel threads, each on its own simulated stack.
pub const SLOTS: usize = if cfg!(target_os = "windows") { 4 } else { 256 };

/// Stripes of each slot's count: processors beyond share (`index % STRIPES`), correct but no
/// longer private. The image's 64 cover a processor group, 16 KiB of zeroed static memory for
/// its four slots; the simulated stacks have 4 processors unless a test sets more.
pub const STRIPES: usize = if cfg!(target_os = "windows") { 64 } else { 8 };

// Only the array initializers below use them: each element is its own static.
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SLOT: Slot = Slot {
    // Unclaimed slots start free and retired, so no context can enter them.
    word: AtomicU64::new(FREE | RETIRED),
    state: AtomicPtr::new(core::ptr::null_mut()),
};
#[allow(clippy::declare_interior_mutable_const)]
const ZERO: Stripe = Stripe(AtomicU64::new(0));
#[allow(clippy::declare_interior_mutable_const)]
const NO_USERS: [Stripe; STRIPES] = [ZERO; STRIPES];

static TABLE: [Slot; SLOTS] = [EMPTY_SLOT; SLOTS];
/// Kept apart from [`TABLE`]: all zero, so the image carries it as uninitialized data.
static USERS: [[Stripe; STRIPES]; SLOTS] = [NO_USERS; SLOTS];

/// Slot `index` with its stripes; `None` beyond the table.
#[inline(always)]
fn slot(index: usize) -> Option<SlotRef<'static, STRIPES>> {
    Some(SlotRef {
        slot: TABLE.get(index)?,
        stripes: USERS.get(index)?,
    })
}

/// What a filter's `rawContext` carries: slot index and generation, never an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceId(u64);

impl InstanceId {
    /// The value to put in `FWPM_FILTER0::rawContext`.
    pub const fn raw_context(self) -> u64 {
        self.0
    }

    /// The id a classify's `FWPS_FILTER1::context` names (not yet checked against the table).
    pub const fn from_raw_context(context: u64) -> Self {
        Self(context)
    }

    const fn slot(self) -> usize {
        (self.0 & 0xFFFF_FFFF) as usize
    }

    const fn generation(self) -> u64 {
        self.0 >> 32
    }
}

/// A claimed slot: the instance's registration in the table. Retire it at unload.
#[derive(Debug)]
pub struct Registration {
    id: InstanceId,
    /// The claimed slot itself, so that no method indexes the table (no bounds check).
    slot: SlotRef<'static, STRIPES>,
}

/// Claims a free slot for `state`. `None` when every slot is in use. A slot used for the first
/// time since the image was mapped starts at a generation taken from `seed` (the interrupt
/// time), so a filter left by an instance of an earlier mapping of the image — whose table
/// started afresh — does not name this one.
///
/// Any IRQL (atomics only).
pub fn register(state: *const (), seed: u64) -> Option<Registration> {
    (0..SLOTS).find_map(|index| {
        let slot = slot(index)?;
        let generation = slot.claim(state, seed)?;
        Some(Registration {
            id: InstanceId((generation << 32) | index as u64),
            slot,
        })
    })
}

/// A classify inside an instance: its state stays alive until this is dropped.
pub struct Entered {
    stripe: &'static Stripe,
    state: *const (),
    processor: u32,
}

impl Entered {
    /// The state the instance registered.
    #[inline(always)]
    pub fn state(&self) -> *const () {
        self.state
    }

    /// The processor index the classify counted itself in on (what it was given), for the rest
    /// of classify's per-processor state.
    #[inline(always)]
    pub fn processor(&self) -> u32 {
        self.processor
    }
}

impl core::fmt::Debug for Entered {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entered")
            .field("state", &self.state)
            .field("processor", &self.processor)
            .finish()
    }
}

impl Drop for Entered {
    #[inline(always)]
    fn drop(&mut self) {
        SlotRef::<STRIPES>::leave(self.stripe);
    }
}

/// Enters the instance `id` names, if it is the live instance of its slot, counting the classify
/// in on the stripe of `processor` (the caller's `KeGetCurrentProcessorNumberEx`; any number is
/// correct, the processor's own keeps the line private).
///
/// IRQL <= DISPATCH_LEVEL (atomics only; never waits).
#[inline(always)]
pub fn enter(id: InstanceId, processor: u32) -> Option<Entered> {
    let (stripe, state) = slot(id.slot())?.enter(id.generation(), processor)?;
    Some(Entered {
        stripe,
        state,
        processor,
    })
}

impl Registration {
    /// The id filters carry.
    pub fn id(&self) -> InstanceId {
        self.id
    }

    /// Stops new classifies from entering. Any IRQL.
    pub fn retire(&self) {
        self.slot.retire();
    }

    /// Classifies inside now: the sum over the processors' stripes.
    pub fn users(&self) -> u64 {
        self.slot.users()
    }

    /// Classifies counted in on `processor`'s stripe now (processors beyond [`STRIPES`] share
    /// one): what shows that entering writes only the processor's own stripe.
    pub fn users_on(&self, processor: u32) -> u64 {
        self.slot.users_on(processor)
    }

    /// Gives the slot back once it is retired and every stripe is zero; the state pointer is
    /// forgotten. Returns the registration unchanged when classifies are still inside.
    pub fn release(self) -> Result<(), Self> {
        if self.slot.release() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

/// Classifies inside the instance `id` names now, summed over the processors (0 when the slot is
/// another instance's): a snapshot, for the sleep routine's wait, read after the routine's store
/// of `suspended` (see [`slot`]). Any IRQL.
pub fn users(id: InstanceId) -> u64 {
    match slot(id.slot()) {
        Some(slot) if slot.claimed_by(id.generation()) => slot.users(),
        _ => 0,
    }
}
