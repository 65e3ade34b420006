//! Kernel services the driver image imports beyond the seam (its shell and runtime use them):
//! pool allocation with per-tag accounting, device objects, bugchecks. The image-on-Linux tests
//! reach them through their import shims.

use core::ffi::c_void;
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::collections::BTreeMap;
use std::format;
use std::string::String;

use super::stack::{SimulatedStack, Violation};
use crate::nt::Irql;
use crate::sys::KernelFn;
use crate::sys::types::DEVICE_OBJECT;

/// `POOL_FLAG_PAGED` (the simulator's own copy; tests/kernel_facts.rs pins it).
pub(super) const POOL_FLAG_PAGED: u64 = 0x0000_0000_0000_0100;
/// What freed pool blocks are filled with before they go back to the host heap.
const FREED_POOL_POISON: u8 = 0xDF;

/// Pool blocks are 16-byte aligned on x64.
const POOL_ALIGNMENT: usize = 16;
/// Device objects are opaque to the driver; the simulation gives each a block this large.
const DEVICE_OBJECT_SIZE: usize = 0x150;

#[derive(Debug, Default)]
pub(super) struct Services {
    /// Live pool blocks: address to (size, tag, paged).
    pool: BTreeMap<usize, (usize, u32, bool)>,
    /// Freed pool blocks, poisoned and kept until the stack goes away, so that a use after free
    /// reads poison (a driver that follows a freed pointer faults) instead of whatever the
    /// allocator put there next.
    quarantine: std::vec::Vec<(usize, Layout)>,
    devices: BTreeMap<usize, usize>,
    pub(super) bugchecks: std::vec::Vec<(u32, [usize; 4])>,
}

// SAFETY: the addresses are plain numbers; the blocks are only touched through them under the
// stack's mutex or by their owner.
unsafe impl Send for Services {}

impl Drop for Services {
    fn drop(&mut self) {
        for (block, layout) in self.quarantine.drain(..) {
            // SAFETY: each quarantined block was allocated with its layout and freed only here.
            unsafe { dealloc(block as *mut u8, layout) };
        }
    }
}

impl Services {
    pub(super) fn leak_report(&self) -> Option<String> {
        if self.pool.is_empty() && self.devices.is_empty() {
            return None;
        }
        let mut per_tag: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
        for (size, tag, _) in self.pool.values() {
            let entry = per_tag.entry(*tag).or_default();
            entry.0 += 1;
            entry.1 += size;
        }
        Some(format!(
            "pool blocks still allocated per tag {:?}; {} device object(s) not deleted",
            per_tag
                .iter()
                .map(|(tag, (count, bytes))| (
                    String::from_utf8_lossy(&tag.to_le_bytes()).into_owned(),
                    *count,
                    *bytes
                ))
                .collect::<std::vec::Vec<_>>(),
            self.devices.len()
        ))
    }
}

impl Services {
    // --- WDM device objects the simulated KMDF creates for its devices ---

    /// A zeroed device object for `driver`, counted with the others; null when allocation fails.
    pub(super) fn allocate_device(&mut self, driver: usize) -> *mut DEVICE_OBJECT {
        let Ok(layout) = Layout::from_size_align(DEVICE_OBJECT_SIZE, 16) else {
            return core::ptr::null_mut();
        };
        // SAFETY: non-zero-sized layout.
        let block = unsafe { alloc_zeroed(layout) };
        if !block.is_null() {
            self.devices.insert(block as usize, driver);
        }
        block.cast()
    }

    /// Frees a device object from [`Self::allocate_device`]; false when it is not live.
    pub(super) fn free_device(&mut self, device: *mut DEVICE_OBJECT) -> bool {
        if self.devices.remove(&(device as usize)).is_none() {
            return false;
        }
        if let Ok(layout) = Layout::from_size_align(DEVICE_OBJECT_SIZE, 16) {
            // SAFETY: allocated by allocate_device with this layout, removed from the table once.
            unsafe { dealloc(device.cast(), layout) };
        }
        true
    }
}

impl SimulatedStack {
    /// `ExAllocatePool2`: zeroed, 16-byte aligned; null for zero bytes or when failing. Paged
    /// pool (`POOL_FLAG_PAGED`) only at IRQL <= APC_LEVEL.
    #[allow(non_snake_case)] // named after the export, as every simulated kernel function
    pub fn ExAllocatePool2(&self, flags: u64, bytes: usize, tag: u32) -> *mut c_void {
        let mut state = self.lock();
        if bytes == 0 {
            return core::ptr::null_mut();
        }
        let paged = flags & POOL_FLAG_PAGED != 0;
        let irql = state.irql_of_current_thread();
        if paged && irql > Irql::APC {
            state.violations.push(Violation::PagedPoolAboveApc {
                call: KernelFn::ExAllocatePool2,
                irql,
            });
            return core::ptr::null_mut();
        }
        let Ok(layout) = Layout::from_size_align(bytes, POOL_ALIGNMENT) else {
            return core::ptr::null_mut();
        };
        // SAFETY: the layout is non-zero-sized.
        let block = unsafe { alloc_zeroed(layout) };
        if !block.is_null() {
            state
                .services
                .pool
                .insert(block as usize, (bytes, tag, paged));
        }
        block.cast()
    }

    /// `ExFreePoolWithTag`: the tag must be the allocation's; paged pool is freed at IRQL <=
    /// APC_LEVEL. The block is poisoned before it goes back, so later use reads garbage.
    #[allow(non_snake_case)]
    pub fn ExFreePoolWithTag(&self, block: *mut c_void, tag: u32) {
        let mut state = self.lock();
        let irql = state.irql_of_current_thread();
        match state.services.pool.remove(&(block as usize)) {
            None => state
                .violations
                .push(Violation::PoolFreeOfUnknownBlock(block as usize)),
            Some((size, allocated_tag, paged)) => {
                if paged && irql > Irql::APC {
                    state.violations.push(Violation::PagedPoolAboveApc {
                        call: KernelFn::ExFreePoolWithTag,
                        irql,
                    });
                }
                if allocated_tag != tag {
                    state.violations.push(Violation::PoolTagMismatch {
                        allocated: allocated_tag,
                        freed: tag,
                    });
                }
                let layout = Layout::from_size_align(size, POOL_ALIGNMENT).expect("was valid");
                // SAFETY: allocated above with `size` bytes, owned by the table until now, and
                // no longer in the live table, so nothing of the simulation writes it again.
                unsafe { core::ptr::write_bytes(block.cast::<u8>(), FREED_POOL_POISON, size) };
                state.services.quarantine.push((block as usize, layout));
            }
        }
    }

    /// Pool blocks allocated and not freed, per tag: (count, bytes).
    pub fn pool_outstanding(&self) -> BTreeMap<u32, (usize, usize)> {
        let mut per_tag: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
        for (size, tag, _) in self.lock().services.pool.values() {
            let entry = per_tag.entry(*tag).or_default();
            entry.0 += 1;
            entry.1 += size;
        }
        per_tag
    }

    /// Device objects created and not deleted.
    pub fn devices(&self) -> usize {
        self.lock().services.devices.len()
    }

    /// `KeBugCheckEx`: recorded, reported, and the process stops: a bugcheck does not return,
    /// and unwinding through a driver image's frames is impossible.
    #[allow(non_snake_case)]
    pub fn KeBugCheckEx(&self, code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> ! {
        self.lock()
            .services
            .bugchecks
            .push((code, [p1, p2, p3, p4]));
        std::eprintln!("driver bugchecked: code {code:#010x} ({p1:#x}, {p2:#x}, {p3:#x}, {p4:#x})");
        std::process::abort()
    }
}
