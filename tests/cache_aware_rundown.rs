//! Injections in flight are counted on a cache-aware rundown block (the kernel spreads its count
//! over processors), and the simulated stack models what the docs allow of such a block: a
//! non-paged one at DISPATCH_LEVEL, no acquire after the wait, a second wait with no effect,
//! no release beyond the acquires, no use or free of a block that is gone or still held, no leak.

#[path = "support/heap.rs"]
mod heap;

#[path = "support/host_driver.rs"]
mod host_driver;

use host_driver::{PORT, configure_port, load, udp};

use wfp_injector::nt::{Irql, NtStatus};
use wfp_injector::sys::KernelApi;
use wfp_sim::constants::{NON_PAGED_POOL_NX, PAGED_POOL};
use wfp_sim::traffic::{Delivery, Layer};
use wfp_sim::{KernelFn, SimulatedStack, Violation};

const TAG: u32 = u32::from_le_bytes(*b"Test");

type Block = wfp_injector::sys::types::PEX_RUNDOWN_REF_CACHE_AWARE;

// One kernel call each, on the simulator's opaque blocks (which it never dereferences): the
// misuse the tests make is recorded, never undefined.
fn allocate(sim: &SimulatedStack, pool: i32) -> Block {
    // SAFETY: see above.
    unsafe { sim.ex_allocate_cache_aware_rundown_protection(pool, TAG) }
}
fn acquire(sim: &SimulatedStack, block: Block) -> u8 {
    // SAFETY: see above.
    unsafe { sim.ex_acquire_rundown_protection_cache_aware(block) }
}
fn release(sim: &SimulatedStack, block: Block) {
    // SAFETY: see above.
    unsafe { sim.ex_release_rundown_protection_cache_aware(block) }
}
fn wait(sim: &SimulatedStack, block: Block) {
    // SAFETY: see above.
    unsafe { sim.ex_wait_for_rundown_protection_release_cache_aware(block) }
}
fn free(sim: &SimulatedStack, block: Block) {
    // SAFETY: see above.
    unsafe { sim.ex_free_cache_aware_rundown_protection(block) }
}

#[test]
fn the_driver_counts_injections_in_flight_on_a_cache_aware_block() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    assert_eq!(sim.live_cache_aware_rundowns(), 1, "one block per injector");
    let delivered: Vec<_> = [Layer::OutboundV4, Layer::InboundV6]
        .into_iter()
        .map(|layer| sim.deliver(layer, &udp(layer, PORT), Delivery::default()))
        .collect();
    assert_eq!(sim.calls(KernelFn::ExAcquireRundownProtectionCacheAware), 2);
    assert_eq!(
        sim.calls(KernelFn::ExAcquireRundownProtection),
        0,
        "no shared rundown word is written per packet"
    );
    sim.complete_all(NtStatus::SUCCESS);
    assert_eq!(sim.calls(KernelFn::ExReleaseRundownProtectionCacheAware), 2);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    assert_eq!(
        sim.calls(KernelFn::ExWaitForRundownProtectionReleaseCacheAware),
        1
    );
    assert_eq!(sim.live_cache_aware_rundowns(), 0, "freed at unload");
    for d in delivered {
        sim.return_packet(d.nbl);
    }
    sim.assert_clean();
}

#[test]
fn a_cache_aware_block_refuses_acquires_once_run_down_and_a_second_wait_is_harmless() {
    let sim = SimulatedStack::new();
    let block = allocate(&sim, NON_PAGED_POOL_NX);
    assert!(!block.is_null());
    {
        let _irql = sim.set_irql(Irql::DISPATCH);
        assert_eq!(acquire(&sim, block), 1);
    }
    assert_eq!(sim.cache_aware_rundown_holders(block), 1);
    std::thread::scope(|scope| {
        let address = block as usize;
        let stack = &sim;
        let waiter = scope.spawn(move || wait(stack, address as Block));
        // Until the wait has begun, an acquire still succeeds: give each back at once.
        while !waiter.is_finished() && acquire(&sim, block) == 1 {
            release(&sim, block);
            std::thread::yield_now();
        }
        assert!(!waiter.is_finished(), "the wait waits for the holder");
        // Released on another processor than the acquire's: allowed.
        let _place = sim.run_on_processor(3);
        release(&sim, block);
    });
    assert_eq!(acquire(&sim, block), 0);
    wait(&sim, block);
    free(&sim, block);
    sim.assert_clean();
}

#[test]
fn what_the_docs_forbid_of_a_cache_aware_block_is_a_violation() {
    let sim = SimulatedStack::new();
    let paged = allocate(&sim, PAGED_POOL);
    {
        let _irql = sim.set_irql(Irql::DISPATCH);
        assert_eq!(acquire(&sim, paged), 1);
    }
    release(&sim, paged);
    release(&sim, paged);
    let held = allocate(&sim, NON_PAGED_POOL_NX);
    assert_eq!(acquire(&sim, held), 1);
    free(&sim, held);
    assert_eq!(acquire(&sim, held), 0);
    free(&sim, paged);
    let violations = sim.take_violations();
    let what: Vec<&str> = violations
        .iter()
        .filter_map(|violation| match violation {
            Violation::CacheAwareRundownMisused(_, what, _) => Some(*what),
            _ => None,
        })
        .collect();
    assert_eq!(
        what,
        [
            "a paged block at DISPATCH_LEVEL",
            "a block still held",
            "a freed block"
        ],
        "{violations:?}"
    );
    assert!(violations.contains(&Violation::RundownReleasedTooOften));
    sim.assert_clean();
}

#[test]
fn a_cache_aware_block_left_allocated_is_a_leak() {
    let sim = SimulatedStack::new();
    let block = allocate(&sim, NON_PAGED_POOL_NX);
    assert!(!block.is_null());
    let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.assert_clean()));
    assert!(report.is_err(), "a block not freed fails assert_clean");
    free(&sim, block);
    sim.assert_clean();
}
