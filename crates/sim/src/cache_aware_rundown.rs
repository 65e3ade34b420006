//! Cache-aware rundown protection in the simulated stack: blocks the kernel allocates (the
//! driver only holds an opaque pointer), each with its pool type, tag, holders and whether
//! rundown has begun.
//!
//! What the docs forbid is recorded as a violation: acquiring or releasing a paged block at
//! DISPATCH_LEVEL ("as long as the run-down block itself is nonpaged, this function can be
//! called at DISPATCH_LEVEL"), using a block that was never allocated or is freed, releasing
//! more than was acquired, and freeing a block still held. A block not freed when the test ends
//! is a leak. Addresses are never reused, so a stale pointer is always caught.

use std::collections::BTreeMap;
use std::format;
use std::string::String;
use std::vec::Vec;

use super::stack::{SimulatedStack, Violation};
use crate::nt::Irql;
use crate::sys::KernelFn;
use crate::sys::types::{BOOLEAN, PEX_RUNDOWN_REF_CACHE_AWARE, POOL_TYPE};

/// `NonPagedPool`, `PagedPool` and `NonPagedPoolNx`: the simulator's own copies.
pub const NON_PAGED_POOL: POOL_TYPE = 0;
/// See [`NON_PAGED_POOL`].
pub const PAGED_POOL: POOL_TYPE = 1;
/// See [`NON_PAGED_POOL`].
pub const NON_PAGED_POOL_NX: POOL_TYPE = 512;

/// Block addresses start here and step by a line, never reused.
const FIRST_BLOCK: usize = 0x7A00_0000;
const BLOCK_STEP: usize = 0x40;

#[derive(Debug)]
struct Block {
    paged: bool,
    tag: u32,
    holders: usize,
    /// ExWaitForRundownProtectionReleaseCacheAware was called: no acquire succeeds again.
    run_down: bool,
    freed: bool,
}

/// The cache-aware rundown blocks of one stack.
#[derive(Debug, Default)]
pub(super) struct CacheAwareRundowns {
    blocks: BTreeMap<usize, Block>,
    next: usize,
}

impl CacheAwareRundowns {
    /// A driver vanished (a crash): its blocks go with it, counted as freed.
    pub(super) fn forget_driver(&mut self) {
        for block in self.blocks.values_mut() {
            block.freed = true;
        }
    }

    /// Blocks allocated and not freed, for the leak check.
    pub(super) fn leak_report(&self) -> Option<String> {
        let live: Vec<String> = self
            .blocks
            .iter()
            .filter(|(_, block)| !block.freed)
            .map(|(address, block)| format!("{address:#x} (tag {:#x})", block.tag))
            .collect();
        (!live.is_empty()).then(|| format!("cache-aware rundown block(s) not freed: {live:?}"))
    }
}

impl SimulatedStack {
    /// Cache-aware rundown protections held now on the block at `rundown` (0 for an unknown
    /// block).
    pub fn cache_aware_rundown_holders(&self, rundown: PEX_RUNDOWN_REF_CACHE_AWARE) -> usize {
        let state = self.lock();
        state
            .cache_aware
            .blocks
            .get(&(rundown as usize))
            .map_or(0, |block| block.holders)
    }

    /// Cache-aware rundown blocks allocated and not yet freed.
    pub fn live_cache_aware_rundowns(&self) -> usize {
        let state = self.lock();
        state
            .cache_aware
            .blocks
            .values()
            .filter(|block| !block.freed)
            .count()
    }
}

/// The semantics of the cache-aware rundown functions.
#[allow(non_snake_case)]
impl SimulatedStack {
    pub(crate) unsafe fn ExAllocateCacheAwareRundownProtection(
        &self,
        pool_type: POOL_TYPE,
        tag: u32,
    ) -> PEX_RUNDOWN_REF_CACHE_AWARE {
        let mut state = self.lock();
        let paged = match pool_type {
            NON_PAGED_POOL | NON_PAGED_POOL_NX => false,
            PAGED_POOL => true,
            other => {
                state.violations.push(Violation::CacheAwareRundownMisused(
                    KernelFn::ExAllocateCacheAwareRundownProtection,
                    "a pool type the simulator does not model",
                    other as usize,
                ));
                return core::ptr::null_mut();
            }
        };
        let rundowns = &mut state.cache_aware;
        let address = FIRST_BLOCK + rundowns.next * BLOCK_STEP;
        rundowns.next += 1;
        rundowns.blocks.insert(
            address,
            Block {
                paged,
                tag,
                holders: 0,
                run_down: false,
                freed: false,
            },
        );
        address as PEX_RUNDOWN_REF_CACHE_AWARE
    }

    pub(crate) unsafe fn ExAcquireRundownProtectionCacheAware(
        &self,
        rundown: PEX_RUNDOWN_REF_CACHE_AWARE,
    ) -> BOOLEAN {
        let call = KernelFn::ExAcquireRundownProtectionCacheAware;
        let mut state = self.lock();
        let irql = state.irql_of_current_thread();
        let Some(block) = live_block(&mut state, call, rundown) else {
            return 0;
        };
        let paged_at_dispatch = block.paged && irql >= Irql::DISPATCH;
        let acquired = !block.run_down;
        if acquired {
            block.holders += 1;
        }
        if paged_at_dispatch {
            state.violations.push(Violation::CacheAwareRundownMisused(
                call,
                "a paged block at DISPATCH_LEVEL",
                rundown as usize,
            ));
        }
        u8::from(acquired)
    }

    pub(crate) unsafe fn ExReleaseRundownProtectionCacheAware(
        &self,
        rundown: PEX_RUNDOWN_REF_CACHE_AWARE,
    ) {
        let call = KernelFn::ExReleaseRundownProtectionCacheAware;
        let mut state = self.lock();
        let irql = state.irql_of_current_thread();
        let Some(block) = live_block(&mut state, call, rundown) else {
            return;
        };
        let paged_at_dispatch = block.paged && irql >= Irql::DISPATCH;
        let released = block.holders > 0;
        if released {
            block.holders -= 1;
        }
        if paged_at_dispatch {
            state.violations.push(Violation::CacheAwareRundownMisused(
                call,
                "a paged block at DISPATCH_LEVEL",
                rundown as usize,
            ));
        }
        if !released {
            state.violations.push(Violation::RundownReleasedTooOften);
        }
        drop(state);
        self.changed.notify_all();
    }

    pub(crate) unsafe fn ExWaitForRundownProtectionReleaseCacheAware(
        &self,
        rundown: PEX_RUNDOWN_REF_CACHE_AWARE,
    ) {
        let call = KernelFn::ExWaitForRundownProtectionReleaseCacheAware;
        {
            let mut state = self.lock();
            let Some(block) = live_block(&mut state, call, rundown) else {
                return;
            };
            // A second wait finds it run down already: no effect, not an error (the docs).
            block.run_down = true;
        }
        let address = rundown as usize;
        self.wait_until(call, |state| {
            state
                .cache_aware
                .blocks
                .get(&address)
                .is_none_or(|block| block.holders == 0)
        });
    }

    pub(crate) unsafe fn ExFreeCacheAwareRundownProtection(
        &self,
        rundown: PEX_RUNDOWN_REF_CACHE_AWARE,
    ) {
        let call = KernelFn::ExFreeCacheAwareRundownProtection;
        let mut state = self.lock();
        let Some(block) = live_block(&mut state, call, rundown) else {
            return;
        };
        let held = block.holders;
        block.freed = true;
        if held > 0 {
            state.violations.push(Violation::CacheAwareRundownMisused(
                call,
                "a block still held",
                rundown as usize,
            ));
        }
    }
}

/// The live block at `rundown`; records a violation (and answers `None`) for an address that
/// was never a block or whose block is freed.
fn live_block(
    state: &mut super::stack::State,
    call: KernelFn,
    rundown: PEX_RUNDOWN_REF_CACHE_AWARE,
) -> Option<&mut Block> {
    let address = rundown as usize;
    let problem = match state.cache_aware.blocks.get(&address) {
        None => "not a cache-aware rundown block",
        Some(block) if block.freed => "a freed block",
        Some(_) => "",
    };
    if !problem.is_empty() {
        state
            .violations
            .push(Violation::CacheAwareRundownMisused(call, problem, address));
        return None;
    }
    state.cache_aware.blocks.get_mut(&address)
}
