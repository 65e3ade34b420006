//! One value per logical processor, each on cache lines of its own: state a hot path writes on
//! the processor it runs on, summed (or otherwise combined) by whoever reads it.
//!
//! Sized at creation from `KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS)`; indexed by
//! `KeGetCurrentProcessorNumberEx`, whose system-wide index is below that count. A processor
//! added at run time (the active count can grow) shares the value of `index % count`: still
//! correct, since every value is updated with atomic operations, only no longer private.
//!
//! Below DISPATCH_LEVEL the caller can move to another processor between reading its index and
//! using the value, and two processors can then write one value: the values must tolerate
//! writers from any processor (atomics), and what a caller adds on one processor it may take
//! away on another (a reader sums across all of them).

use core::alloc::Layout;
use core::marker::PhantomData;
use core::num::NonZeroU32;
use core::ptr::NonNull;

use crate::error::Error;
use crate::sys::KernelApi;
use crate::sys::types::ALL_PROCESSOR_GROUPS;

/// Bytes of a cache line on x64 (and the usual destructive-interference size elsewhere).
pub const CACHE_LINE: usize = 64;

/// The allocator's guaranteed alignment (the image's pool: 16 bytes on x64); the block is
/// over-allocated by a line so that the first value starts on a line boundary.
const BLOCK_ALIGN: usize = 16;

/// `count` values of `T`, each at its own multiple of [`CACHE_LINE`] bytes.
pub struct PerProcessor<T> {
    /// The block from the allocator.
    block: NonNull<u8>,
    layout: Layout,
    /// The first value, on a line boundary inside the block.
    first: NonNull<u8>,
    /// Non-zero, so that folding an index onto the set has no division-by-zero path (a panic the
    /// image must not contain, and a call that makes a win64 caller save every vector register).
    count: NonZeroU32,
    _values: PhantomData<T>,
}

// SAFETY: the values are shared between processors by design; `T: Sync` makes `&T` usable from
// any of them, `T: Send` lets the set move and be dropped elsewhere.
unsafe impl<T: Send + Sync> Sync for PerProcessor<T> {}
// SAFETY: as above; the set owns its block.
unsafe impl<T: Send> Send for PerProcessor<T> {}

impl<T> PerProcessor<T> {
    /// Bytes from one value to the next: `T`'s size rounded up to whole cache lines.
    pub const STRIDE: usize = {
        let size = size_of::<T>();
        let lines = if size == 0 {
            1
        } else {
            size.div_ceil(CACHE_LINE)
        };
        lines * CACHE_LINE
    };

    /// One value for each active processor, made by `make`. The only allocation; fails with
    /// [`Error::OutOfMemory`] instead of panicking.
    ///
    /// IRQL <= DISPATCH_LEVEL (non-paged allocation); load time in practice.
    pub fn new<K: KernelApi>(kernel: &K, make: impl FnMut() -> T) -> Result<Self, Error> {
        Self::with_count(
            kernel.ke_query_active_processor_count_ex(ALL_PROCESSOR_GROUPS),
            make,
        )
    }

    /// `count` values (at least one), for tests and for callers that know the count.
    pub fn with_count(count: u32, mut make: impl FnMut() -> T) -> Result<Self, Error> {
        const {
            assert!(
                align_of::<T>() <= CACHE_LINE,
                "a value aligned beyond a line"
            )
        };
        let count = NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN);
        let bytes = (count.get() as usize)
            .checked_mul(Self::STRIDE)
            .and_then(|bytes| bytes.checked_add(CACHE_LINE - BLOCK_ALIGN))
            .ok_or(Error::OutOfMemory)?;
        let layout = Layout::from_size_align(bytes, BLOCK_ALIGN).map_err(|_| Error::OutOfMemory)?;
        // SAFETY: the layout has a non-zero size (at least one line).
        let raw = unsafe { alloc::alloc::alloc(layout) };
        let block = NonNull::new(raw).ok_or(Error::OutOfMemory)?;
        let skip = raw.align_offset(CACHE_LINE);
        // SAFETY: the block is at least BLOCK_ALIGN-aligned, so the next line boundary is at most
        // CACHE_LINE - BLOCK_ALIGN bytes in, which the block was over-allocated by.
        let first = unsafe { block.add(skip) };
        for index in 0..count.get() as usize {
            let value = first
                .as_ptr()
                .wrapping_add(index * Self::STRIDE)
                .cast::<T>();
            // SAFETY: value `index` lies inside the block (count strides after `first`); each is
            // written once, at an address aligned for T (a line boundary, T aligned to at most a
            // line).
            unsafe { value.write(make()) };
        }
        Ok(Self {
            block,
            layout,
            first,
            count,
            _values: PhantomData,
        })
    }

    /// Values in the set.
    pub fn count(&self) -> u32 {
        self.count.get()
    }

    /// The value of processor `index` (an index beyond the set shares `index % count`).
    #[inline(always)]
    pub fn get(&self, index: u32) -> &T {
        let index = if index < self.count.get() {
            index
        } else {
            index % self.count
        };
        // SAFETY: `index` < count: a value written in `with_count`, alive as long as `self`.
        unsafe { &*self.value(index as usize) }
    }

    /// Where value `index` lives (inside the block for `index` < count).
    #[inline(always)]
    fn value(&self, index: usize) -> *mut T {
        self.first
            .as_ptr()
            .wrapping_add(index * Self::STRIDE)
            .cast::<T>()
    }

    /// The value of the processor the caller runs on now (see the module docs for callers below
    /// DISPATCH_LEVEL). Any IRQL.
    #[inline(always)]
    pub fn current<K: KernelApi>(&self, kernel: &K) -> &T {
        // SAFETY: a null PROCESSOR_NUMBER pointer asks for the index alone; any IRQL.
        let index = unsafe { kernel.ke_get_current_processor_number_ex(core::ptr::null_mut()) };
        self.get(index)
    }

    /// Every value, processor 0 first.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        (0..self.count.get()).map(|index| self.get(index))
    }
}

impl<T> Drop for PerProcessor<T> {
    fn drop(&mut self) {
        for index in 0..self.count.get() as usize {
            // SAFETY: each value was written once in `with_count` and is dropped once here.
            unsafe { self.value(index).drop_in_place() };
        }
        // SAFETY: allocated in `with_count` with this layout, freed once.
        unsafe { alloc::alloc::dealloc(self.block.as_ptr(), self.layout) };
    }
}

impl<T: core::fmt::Debug> core::fmt::Debug for PerProcessor<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
