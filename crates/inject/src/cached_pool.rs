//! A [`SlotPool`] with a small cache of free indices per processor in front of it: a take and a
//! give-back on the same processor touch only that processor's cache line, not the shared head
//! every processor compare-and-swaps.
//!
//! Each cache is [`CACHE_ENTRIES`] words on a line of its own, each empty (0) or holding a free
//! index plus one. Taking swaps a full word for 0; giving back compare-and-swaps an empty one to
//! the index; both look at the words in order, so a processor that takes what it gave back finds
//! it in the first word (a load and one locked instruction). Those are the only writes, and each
//! moves one index atomically, so an index is always in exactly one place (a cache word, the
//! shared list, or its owner) whoever runs the operation: a thread that moved to another
//! processor below DISPATCH_LEVEL between reading its processor number and using the cache, or
//! between take and give-back, only makes the line shared for that once. No state is read and
//! then relied on (no ABA: a word holds an index or nothing).
//!
//! (Measured and not kept: the four entries as 16-bit lanes of one word, found empty or full by
//! one load but changed by a compare-and-swap loop: 29 instructions more per injection and
//! completion when the cache hits, `scripts/bench-overhead.sh`.)
//!
//! The bound and the exhaustion rule are the pool's: the caches hold only indices of the pool,
//! so at most `capacity` are ever out; a take that finds its cache and the shared list empty
//! looks in every other processor's cache before it fails, so it fails only when its scan found
//! no free index anywhere (a give-back racing it into a cache already looked at is missed, as if
//! it had come just after). [`CachedPool::free_count`] counts the caches too, so it is exact
//! when nothing is taken or given back concurrently (the injector's check at close).

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU32, Ordering};
// Under `--cfg loom` (tests/loom_pool.rs includes this file), the atomics come from the including
// module's `loom_atomic`: loom's own in the model checker, core's in the library.
#[cfg(loom)]
use super::loom_atomic::{AtomicU32, Ordering};

use crate::error::Error;
use crate::per_processor::PerProcessor;
use crate::pool::SlotPool;

/// Free indices one processor keeps: a take or give-back that finds the cache empty or full
/// reads all of them before it goes to the shared list, so few. A burst longer than the cache
/// goes to the shared list either way.
pub const CACHE_ENTRIES: usize = 4;

/// One processor's free indices (see the module docs).
pub struct Cache {
    entries: [AtomicU32; CACHE_ENTRIES],
}

impl Cache {
    fn empty() -> Self {
        Self {
            entries: core::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    /// A cached index, or `None` when the cache is empty. Acquire: what the last owner wrote to
    /// the slot is visible. Any IRQL, from any processor.
    #[inline(always)]
    fn take(&self) -> Option<u32> {
        for entry in &self.entries {
            if entry.load(Ordering::Relaxed) != 0 {
                let held = entry.swap(0, Ordering::Acquire);
                if held != 0 {
                    return Some(held - 1);
                }
            }
        }
        None
    }

    /// Keeps `index` if an entry is empty; false when the cache is full. Release: what the owner
    /// wrote to the slot happens before the next take of it. Any IRQL, from any processor.
    #[inline(always)]
    fn put(&self, index: u32) -> bool {
        let held = index.wrapping_add(1);
        for entry in &self.entries {
            if entry.load(Ordering::Relaxed) == 0
                && entry
                    .compare_exchange(0, held, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
            {
                return true;
            }
        }
        false
    }

    /// Indices in the cache now.
    fn count(&self) -> u32 {
        self.entries
            .iter()
            .filter(|entry| entry.load(Ordering::Acquire) != 0)
            .count() as u32
    }
}

/// A [`SlotPool`] behind one [`Cache`] per processor.
pub struct CachedPool<T> {
    pool: SlotPool<T>,
    caches: PerProcessor<Cache>,
}

impl<T> CachedPool<T> {
    /// `pool` behind `processors` empty caches (at least one). The caches' only allocation;
    /// fails with [`Error::OutOfMemory`] instead of panicking. Load time.
    pub fn new(pool: SlotPool<T>, processors: u32) -> Result<Self, Error> {
        Ok(Self {
            pool,
            caches: PerProcessor::with_count(processors, Cache::empty)?,
        })
    }

    /// Takes a free index for the caller on `processor` (its `KeGetCurrentProcessorNumberEx`;
    /// any number is correct): from that processor's cache, else from the shared list, else from
    /// another processor's cache. `None` only when none was found anywhere. Lock-free, any IRQL.
    #[inline(always)]
    pub fn take(&self, processor: u32) -> Option<u32> {
        if let Some(index) = self.caches.get(processor).take() {
            return Some(index);
        }
        self.pool.take().or_else(|| self.steal())
    }

    /// The shared list is empty: a free index another processor keeps, if any.
    #[cold]
    #[inline(never)]
    fn steal(&self) -> Option<u32> {
        self.caches.iter().find_map(Cache::take)
    }

    /// Gives back an index taken with [`take`](Self::take), from any processor: into
    /// `processor`'s cache, or the shared list when the cache is full. Lock-free, any IRQL.
    #[inline(always)]
    pub fn give_back(&self, processor: u32, index: u32) {
        if index >= self.pool.capacity() {
            // Not one of the pool's: kept nowhere (as the pool itself does).
            return;
        }
        if !self.caches.get(processor).put(index) {
            self.pool.give_back(index);
        }
    }

    /// Pointer to slot `index`'s value (null when out of range). Only the current owner of the
    /// index may dereference it.
    #[inline(always)]
    pub fn get(&self, index: u32) -> *mut T {
        self.pool.get(index)
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.pool.capacity()
    }

    /// Free slots now, in the shared list and the caches (a snapshot, exact when nothing is
    /// taken or given back meanwhile).
    pub fn free_count(&self) -> u32 {
        self.pool.free_count() + self.caches.iter().map(Cache::count).sum::<u32>()
    }

    /// Free slots in processor `index`'s cache now (for tests).
    pub fn cached_on(&self, index: u32) -> u32 {
        self.caches.get(index).count()
    }
}
