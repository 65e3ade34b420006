//! A counting global allocator for host test binaries: a test that starts [`check`] fails when
//! the heap it allocated (the product's, the simulator's and its own) is not all freed by its
//! end, so a leaked Box in the product is seen on the host too. Freed blocks are poisoned, so a
//! use after free reads garbage (and the simulator's KDPC signature check notices a queued DPC
//! whose memory was freed).
//!
//! Tests run in parallel threads, so counts are per scope, not global: each block carries, in a
//! header, the scope of the thread that allocated it, and a free credits that scope whichever
//! thread frees it (a completion on another thread freeing the product's block counts). Threads
//! a test spawns allocate outside its scope unless they [`adopt`] it.
//!
//! Include with `#[path = "support/heap.rs"] mod heap;` and start each test with
//! `let _heap = heap::check();` (first, so that everything the test makes drops before it).

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// Scope slots; scope 0 is "not counted".
const SCOPES: usize = 1024;
/// Bytes before each block: the scope id, at the end of the header.
const HEADER: usize = 16;
/// What freed memory is filled with.
pub const FREED: u8 = 0xDD;

static BLOCKS: [AtomicI64; SCOPES] = [const { AtomicI64::new(0) }; SCOPES];
static BYTES: [AtomicI64; SCOPES] = [const { AtomicI64::new(0) }; SCOPES];
static NEXT_SCOPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

fn current_scope() -> usize {
    CURRENT.try_with(Cell::get).unwrap_or(0)
}

/// The header size for `layout`: at least HEADER, and a multiple of the alignment so the block
/// after it stays aligned.
fn header(layout: Layout) -> usize {
    HEADER.max(layout.align())
}

struct Counting;

// SAFETY: every block comes from System with a layout grown by the header, and goes back to it
// with the same layout; the header is written before the block is handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let header = header(layout);
        let Ok(outer) = Layout::from_size_align(layout.size() + header, layout.align().max(16))
        else {
            return std::ptr::null_mut();
        };
        // SAFETY: `outer` is non-zero-sized (it includes the header).
        let base = unsafe { System.alloc(outer) };
        if base.is_null() {
            return base;
        }
        let scope = current_scope();
        // SAFETY: the block has `header` bytes before the caller's part; the id goes in its last
        // 8 (aligned: header is a multiple of 16).
        let slot = unsafe { base.add(header - 8) }.cast::<usize>();
        // SAFETY: as above: in bounds, aligned, writable.
        unsafe { slot.write(scope) };
        if scope != 0 {
            BLOCKS[scope].fetch_add(1, Ordering::Relaxed);
            BYTES[scope].fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        // SAFETY: within the block.
        unsafe { base.add(header) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let header = header(layout);
        // SAFETY: `block` came from `alloc` with this layout: the header precedes it.
        let base = unsafe { block.sub(header) };
        // SAFETY: as above: within the block.
        let slot = unsafe { base.add(header - 8) }.cast::<usize>();
        // SAFETY: written by `alloc`, aligned.
        let scope = unsafe { slot.read() };
        if scope != 0 && scope < SCOPES {
            BLOCKS[scope].fetch_sub(1, Ordering::Relaxed);
            BYTES[scope].fetch_sub(layout.size() as i64, Ordering::Relaxed);
        }
        // SAFETY: the caller's part of the block, being freed.
        unsafe { std::ptr::write_bytes(block, FREED, layout.size()) };
        let outer = Layout::from_size_align(layout.size() + header, layout.align().max(16))
            .expect("was valid at allocation");
        // SAFETY: allocated by System with `outer`.
        unsafe { System.dealloc(base, outer) };
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Counts this thread's allocations until dropped, then fails the test unless every block the
/// scope allocated was freed (on any thread).
#[must_use = "the check runs when the guard drops"]
pub struct HeapCheck {
    scope: usize,
    previous: usize,
}

/// Starts counting for the calling test.
pub fn check() -> HeapCheck {
    let scope = NEXT_SCOPE.fetch_add(1, Ordering::Relaxed) % (SCOPES - 1) + 1;
    BLOCKS[scope].store(0, Ordering::Relaxed);
    BYTES[scope].store(0, Ordering::Relaxed);
    let previous = CURRENT.with(|current| current.replace(scope));
    HeapCheck { scope, previous }
}

/// Counts the calling thread's allocations into `check`'s scope (for threads a test spawns).
pub fn adopt(check: &HeapCheck) {
    CURRENT.with(|current| current.set(check.scope));
}

/// Runs `f` with the calling thread's allocations not counted (for what a test leaks on purpose,
/// such as a driver instance forgotten to simulate a crash).
pub fn uncounted<T>(f: impl FnOnce() -> T) -> T {
    let previous = CURRENT.with(|current| current.replace(0));
    let result = f();
    CURRENT.with(|current| current.set(previous));
    result
}

impl HeapCheck {
    /// (blocks, bytes) allocated in the scope and not freed yet.
    pub fn outstanding(&self) -> (i64, i64) {
        (
            BLOCKS[self.scope].load(Ordering::Relaxed),
            BYTES[self.scope].load(Ordering::Relaxed),
        )
    }
}

impl Drop for HeapCheck {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
        if std::thread::panicking() {
            return;
        }
        // Threads the test spawned free the last of what the test thread made for them (their
        // handle, their closure) while they exit, which may be just after `join` or a scope's
        // end returned: give them a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.outstanding() != (0, 0) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let (blocks, bytes) = self.outstanding();
        assert!(
            blocks == 0 && bytes == 0,
            "heap not balanced: {blocks} block(s), {bytes} byte(s) allocated during the test and \
             never freed"
        );
    }
}
