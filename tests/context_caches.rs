//! The context pool's per-processor caches (crates/inject/src/cached_pool.rs) through their API:
//! a take and give-back on one processor stay in its cache; the pool's bound and exhaustion rule
//! are unchanged (never more than the capacity out; a take fails only when every context is out,
//! wherever the free ones are kept); an index given back on another processor than it was taken
//! on is kept there; the free count is exact when quiescent; threads on every processor lose
//! and duplicate nothing. (The driver's own use: tests/per_processor.rs, whose unloads check that
//! every context came back.)

use std::collections::BTreeSet;

use wfp_injector::inject::cached_pool::{CACHE_ENTRIES, CachedPool};
use wfp_injector::inject::pool::SlotPool;

fn pool(capacity: u32, processors: u32) -> CachedPool<u32> {
    CachedPool::new(SlotPool::new(capacity, |index| index).unwrap(), processors).unwrap()
}

#[test]
fn a_context_given_back_on_a_processor_is_kept_in_its_cache_and_taken_from_there_next() {
    let contexts = pool(16, 4);
    let index = contexts.take(2).expect("a free context");
    assert_eq!(contexts.free_count(), 15);
    contexts.give_back(2, index);
    assert_eq!(contexts.cached_on(2), 1, "kept by processor 2");
    for other in [0, 1, 3] {
        assert_eq!(contexts.cached_on(other), 0);
    }
    assert_eq!(contexts.free_count(), 16, "exact when quiescent");
    assert_eq!(
        contexts.take(2),
        Some(index),
        "the same context, from the cache"
    );
    assert_eq!(contexts.cached_on(2), 0);
}

#[test]
fn the_bound_holds_and_a_take_fails_only_when_every_context_is_out() {
    let contexts = pool(3, 4);
    // All three out, on three processors; none more.
    let taken: Vec<u32> = (0..3).map(|p| contexts.take(p).expect("free")).collect();
    assert_eq!(taken.iter().collect::<BTreeSet<_>>().len(), 3, "distinct");
    for processor in 0..4 {
        assert_eq!(contexts.take(processor), None, "all out: refused");
    }
    assert_eq!(contexts.free_count(), 0);
    // Back into processors 0, 1 and 2's caches: the shared list is empty, yet processor 3 gets
    // all three (taken from the other caches), then is refused.
    for (processor, index) in taken.iter().enumerate() {
        contexts.give_back(processor as u32, *index);
    }
    assert_eq!(contexts.free_count(), 3);
    let again: BTreeSet<u32> = (0..3)
        .map(|_| contexts.take(3).expect("kept elsewhere"))
        .collect();
    assert_eq!(again, taken.iter().copied().collect());
    assert_eq!(contexts.take(3), None, "never more than the capacity");
    for index in again {
        contexts.give_back(0, index);
    }
    assert_eq!(contexts.free_count(), 3);
}

#[test]
fn a_context_taken_on_one_processor_and_given_back_on_another_is_kept_by_the_other() {
    let contexts = pool(4, 2);
    let index = contexts.take(0).unwrap();
    // The thread moved (below DISPATCH_LEVEL) before the completion.
    contexts.give_back(1, index);
    assert_eq!((contexts.cached_on(0), contexts.cached_on(1)), (0, 1));
    assert_eq!(contexts.free_count(), 4);
    assert_eq!(contexts.take(1), Some(index));
}

#[test]
fn a_full_cache_sends_the_rest_to_the_shared_list() {
    let capacity = CACHE_ENTRIES as u32 + 5;
    let contexts = pool(capacity, 2);
    let taken: Vec<u32> = (0..capacity).map(|_| contexts.take(0).unwrap()).collect();
    for index in &taken {
        contexts.give_back(0, *index);
    }
    assert_eq!(
        contexts.cached_on(0),
        CACHE_ENTRIES as u32,
        "the cache holds its entries"
    );
    assert_eq!(
        contexts.free_count(),
        capacity,
        "the rest in the shared list"
    );
    let again: BTreeSet<u32> = (0..capacity).map(|_| contexts.take(1).unwrap()).collect();
    assert_eq!(again.len() as u32, capacity);
    assert_eq!(contexts.take(0), None);
}

#[test]
fn threads_on_every_processor_lose_and_duplicate_no_context() {
    let contexts = std::sync::Arc::new(pool(8, 4));
    let owned: std::sync::Arc<Vec<std::sync::atomic::AtomicBool>> =
        std::sync::Arc::new((0..8).map(|_| Default::default()).collect());
    let threads: Vec<_> = (0..4u32)
        .map(|thread| {
            let (contexts, owned) = (contexts.clone(), owned.clone());
            std::thread::spawn(move || {
                use std::sync::atomic::Ordering::SeqCst;
                let mut held = Vec::new();
                for round in 0..20_000u32 {
                    // Take on one processor, give back on another now and then (a move).
                    let processor = (thread + round / 7) % 4;
                    if round % 3 != 2 {
                        if let Some(index) = contexts.take(processor) {
                            assert!(!owned[index as usize].swap(true, SeqCst), "taken twice");
                            held.push(index);
                        }
                    } else if let Some(index) = held.pop() {
                        owned[index as usize].store(false, SeqCst);
                        contexts.give_back(processor, index);
                    }
                }
                for index in held {
                    owned[index as usize].store(false, SeqCst);
                    contexts.give_back(thread, index);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(contexts.free_count(), 8, "every context back");
}
