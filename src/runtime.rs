//! What a `no_std` kernel image needs from its runtime when built without the WDK crates:
//! a pool-backed global allocator, a panic handler that never unwinds, and `_fltused`.
//! The WDK build gets the first two from wdk-alloc and wdk-panic instead.

use core::alloc::{GlobalAlloc, Layout};

use crate::sys::types::POOL_FLAG_NON_PAGED;
use crate::sys::windows::WindowsKernel;

/// Pool tag of every allocation this driver makes: 'WfpI', stored little-endian so that pool
/// tools (`!poolused`, PoolMon) print it in reading order.
pub const POOL_TAG: u32 = u32::from_le_bytes(*b"WfpI");

/// `ExAllocatePool2` guarantees this alignment on x64.
const POOL_ALIGNMENT: usize = 16;

/// Global allocator on non-paged pool; usable at IRQL <= DISPATCH_LEVEL. Per-packet paths must not
/// use it (they draw from preallocated contexts); it serves load-time state.
struct NonPagedPool;

// SAFETY: ExAllocatePool2 returns null or a block of at least `size` bytes aligned to 16, which
// satisfies every layout whose alignment is at most 16; larger alignments are refused with null.
unsafe impl GlobalAlloc for NonPagedPool {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > POOL_ALIGNMENT {
            return core::ptr::null_mut();
        }
        // SAFETY: non-paged pool may be allocated at IRQL <= DISPATCH_LEVEL, the only IRQLs at
        // which this crate runs allocating code.
        unsafe { WindowsKernel::ex_allocate_pool2(POOL_FLAG_NON_PAGED, layout.size(), POOL_TAG) }
            .cast()
    }

    unsafe fn dealloc(&self, block: *mut u8, _layout: Layout) {
        // SAFETY: `block` came from `alloc` above with POOL_TAG (GlobalAlloc's contract).
        unsafe { WindowsKernel::ex_free_pool_with_tag(block.cast(), POOL_TAG) }
    }
}

#[global_allocator]
static GLOBAL: NonPagedPool = NonPagedPool;

/// Bugcheck code for a Rust panic in this driver ('WfpP'): a crash dump beats a hung thread.
pub const PANIC_BUGCHECK_CODE: u32 = u32::from_le_bytes(*b"WfpP");

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let line = info.location().map_or(0, |location| location.line());
    WindowsKernel::ke_bug_check_ex(PANIC_BUGCHECK_CODE, line as usize, 0, 0, 0)
}

/// MSVC's marker that floating point is in use; `core` references it. The driver itself never
/// uses floating point.
#[unsafe(no_mangle)]
#[used]
pub static _fltused: i32 = 0;
