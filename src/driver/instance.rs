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
//! One atomic word per slot holds the generation (high 32 bits), the retired bit and the count
//! of classifies inside (low 31 bits), so "check the instance and count in" is one
//! compare-and-swap that a concurrent retire cannot split.

use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// Slots in the table. The kernel image loads one instance at a time; host tests run many
/// drivers in parallel threads, each on its own simulated stack.
pub const SLOTS: usize = if cfg!(target_os = "windows") { 4 } else { 256 };

const RETIRED: u64 = 1 << 31;
const USERS: u64 = RETIRED - 1;
const FREE_GENERATION_BIT: u64 = 1 << 63;
/// Generations use 31 bits; 0 means "never claimed since the image was mapped".
const GENERATION: u64 = 0x7FFF_FFFF;

/// One instance slot: `word` = generation << 32 | retired | users; `state` = the instance's
/// state while claimed.
#[derive(Debug)]
struct Slot {
    word: AtomicU64,
    state: AtomicPtr<()>,
}

impl Slot {
    // Only the array initializer below uses it: each element is its own static slot.
    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Self = Self {
        // Unclaimed slots start retired, so no context can enter them.
        word: AtomicU64::new(FREE_GENERATION_BIT | RETIRED),
        state: AtomicPtr::new(core::ptr::null_mut()),
    };
}

static TABLE: [Slot; SLOTS] = [Slot::EMPTY; SLOTS];

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
    slot: &'static Slot,
}

/// Claims a free slot for `state`. `None` when every slot is in use. A slot used for the first
/// time since the image was mapped starts at a generation taken from `seed` (the interrupt
/// time), so a filter left by an instance of an earlier mapping of the image — whose table
/// started afresh — does not name this one.
///
/// Any IRQL (atomics only).
pub fn register(state: *const (), seed: u64) -> Option<Registration> {
    for (index, slot) in TABLE.iter().enumerate() {
        let word = slot.word.load(Ordering::Acquire);
        // Free: retired with no users, and not claimed by a concurrent register.
        if word & (RETIRED | USERS) != RETIRED || word & FREE_GENERATION_BIT == 0 {
            continue;
        }
        // Claim it by clearing the free bit (generation unchanged, still retired).
        let claimed = word & !FREE_GENERATION_BIT;
        if slot
            .word
            .compare_exchange(word, claimed, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        slot.state.store(state.cast_mut(), Ordering::Release);
        // A new generation, live (not retired): contexts of earlier instances no longer match.
        let previous = (claimed >> 32) & GENERATION;
        let next = if previous == 0 {
            (seed ^ (seed >> 31)) & GENERATION
        } else {
            (previous + 1) & GENERATION
        };
        let generation = if next == 0 { 1 } else { next };
        slot.word.store(generation << 32, Ordering::Release);
        return Some(Registration {
            id: InstanceId((generation << 32) | index as u64),
            slot,
        });
    }
    None
}

/// A classify inside an instance: its state stays alive until this is dropped.
pub struct Entered {
    slot: &'static Slot,
    state: *const (),
}

impl Entered {
    /// The state the instance registered.
    pub fn state(&self) -> *const () {
        self.state
    }
}

impl core::fmt::Debug for Entered {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entered")
            .field("state", &self.state)
            .finish()
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        self.slot.word.fetch_sub(1, Ordering::Release);
    }
}

/// Enters the instance `id` names, if it is the live instance of its slot.
///
/// IRQL <= DISPATCH_LEVEL (atomics only; never waits).
pub fn enter(id: InstanceId) -> Option<Entered> {
    let slot = TABLE.get(id.slot())?;
    let mut word = slot.word.load(Ordering::Acquire);
    loop {
        if word >> 32 != id.generation() || word & RETIRED != 0 || word & USERS == USERS {
            return None;
        }
        match slot
            .word
            .compare_exchange_weak(word, word + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => break,
            Err(now) => word = now,
        }
    }
    Some(Entered {
        slot,
        state: slot.state.load(Ordering::Acquire),
    })
}

impl Registration {
    /// The id filters carry.
    pub fn id(&self) -> InstanceId {
        self.id
    }

    /// Stops new classifies from entering. Any IRQL.
    pub fn retire(&self) {
        self.slot.word.fetch_or(RETIRED, Ordering::AcqRel);
    }

    /// Classifies still inside.
    pub fn users(&self) -> u64 {
        self.slot.word.load(Ordering::Acquire) & USERS
    }

    /// Gives the slot back once it is retired and empty; the state pointer is forgotten.
    /// Returns the registration unchanged when classifies are still inside.
    pub fn release(self) -> Result<(), Self> {
        let slot = self.slot;
        let word = slot.word.load(Ordering::Acquire);
        if word & USERS != 0 || word & RETIRED == 0 {
            return Err(self);
        }
        slot.state.store(core::ptr::null_mut(), Ordering::Release);
        slot.word
            .store(word | FREE_GENERATION_BIT, Ordering::Release);
        Ok(())
    }
}

/// Classifies inside the instance `id` names now (0 when the slot is another instance's): a
/// snapshot, for the sleep routine's wait. Any IRQL.
pub fn users(id: InstanceId) -> u64 {
    let Some(slot) = TABLE.get(id.slot()) else {
        return 0;
    };
    let word = slot.word.load(Ordering::SeqCst);
    if word >> 32 != id.generation() {
        return 0;
    }
    word & USERS
}
