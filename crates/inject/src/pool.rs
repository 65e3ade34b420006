//! A fixed set of per-injection contexts, allocated once, handed out and returned without locks
//! or allocation: what the per-packet path draws from.

use alloc::boxed::Box;
use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::ptr::NonNull;
#[cfg(not(loom))]
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
// Under `--cfg loom` (tests/loom_pool.rs includes this file), the atomics come from the including
// module's `loom_atomic`: loom's own in the model checker, core's in the library.
#[cfg(loom)]
use super::loom_atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::Error;

/// A lock-free stack of slot indices over a boxed slice. The head packs a generation count
/// (upper 32 bits, against ABA) with the top index plus one (0: empty).
pub struct SlotPool<T> {
    slots: Box<[Slot<T>]>,
    head: AtomicU64,
}

struct Slot<T> {
    next: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: a slot's value is reachable only through the index popped by one owner at a time;
// the free list itself is atomic.
unsafe impl<T: Send> Sync for SlotPool<T> {}
// SAFETY: as above; the pool owns its slots.
unsafe impl<T: Send> Send for SlotPool<T> {}

const INDEX_MASK: u64 = 0xFFFF_FFFF;

impl<T> SlotPool<T> {
    /// `capacity` slots made by `make(index)`, all free. The only allocation the pool makes;
    /// fails with [`Error::OutOfMemory`] instead of panicking.
    pub fn new(capacity: u32, mut make: impl FnMut(u32) -> T) -> Result<Self, Error> {
        // Allocated and filled in place, not through a Vec: `Vec::push` and `into_boxed_slice`
        // keep growth and shrink paths that end in alloc's panicking error handler, which the
        // kernel image must not contain.
        let length = capacity as usize;
        let base = if length == 0 {
            NonNull::<Slot<T>>::dangling().as_ptr()
        } else {
            let layout = Layout::array::<Slot<T>>(length).map_err(|_| Error::OutOfMemory)?;
            // SAFETY: the layout has a non-zero size (a slot holds at least its link).
            let block = unsafe { alloc::alloc::alloc(layout) }.cast::<Slot<T>>();
            if block.is_null() {
                return Err(Error::OutOfMemory);
            }
            block
        };
        for index in 0..capacity {
            // Each slot links to the next; the last to none.
            let next = if index + 1 < capacity { index + 2 } else { 0 };
            let slot = Slot {
                next: AtomicU32::new(next),
                value: UnsafeCell::new(make(index)),
            };
            // SAFETY: `index` < `length`, inside the block allocated for `length` slots.
            let element = unsafe { base.add(index as usize) };
            // SAFETY: in bounds (above); each element is written once before the slice is formed.
            unsafe { element.write(slot) };
        }
        // SAFETY: `length` initialized slots in a block from the global allocator with the
        // layout of `[Slot<T>; length]` (or a dangling pointer for none), which is what
        // `Box<[Slot<T>]>` frees with.
        let slots = unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(base, length)) };
        let head = if capacity > 0 { 1 } else { 0 };
        Ok(Self {
            slots,
            head: AtomicU64::new(head),
        })
    }

    /// Takes a free slot's index, or `None` when all are in use. Lock-free, any IRQL.
    #[inline]
    pub fn take(&self) -> Option<u32> {
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            let top = (head & INDEX_MASK) as u32;
            if top == 0 {
                return None;
            }
            // Indices in the list are always in range; an impossible one reads as empty rather
            // than panicking in kernel code.
            let next = self
                .slots
                .get(top as usize - 1)?
                .next
                .load(Ordering::Relaxed);
            let new = ((head >> 32).wrapping_add(1) << 32) | u64::from(next);
            match self
                .head
                .compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(top - 1),
                Err(current) => head = current,
            }
        }
    }

    /// Returns a slot taken with [`take`](Self::take).
    #[inline]
    pub fn give_back(&self, index: u32) {
        let Some(slot) = self.slots.get(index as usize) else {
            return;
        };
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            slot.next
                .store((head & INDEX_MASK) as u32, Ordering::Relaxed);
            let new = ((head >> 32).wrapping_add(1) << 32) | u64::from(index + 1);
            match self
                .head
                .compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(current) => head = current,
            }
        }
    }

    /// Pointer to slot `index`'s value (null when out of range). Only the current owner of the
    /// index may dereference it.
    #[inline(always)]
    pub fn get(&self, index: u32) -> *mut T {
        self.slots
            .get(index as usize)
            .map_or(core::ptr::null_mut(), |slot| slot.value.get())
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.slots.len() as u32
    }

    /// The head word: it changes with every take and give-back (its generation count), so two
    /// equal reads mean no index came or went between them, ABA included. For the cached pool's
    /// exact refusal.
    pub(crate) fn version(&self) -> u64 {
        self.head.load(Ordering::SeqCst)
    }

    /// Free slots now (a snapshot, for statistics and tests).
    pub fn free_count(&self) -> u32 {
        let mut count = 0;
        let mut top = (self.head.load(Ordering::Acquire) & INDEX_MASK) as u32;
        while top != 0 && count <= self.capacity() {
            count += 1;
            top = match self.slots.get(top as usize - 1) {
                Some(slot) => slot.next.load(Ordering::Relaxed),
                None => 0,
            };
        }
        count
    }
}
