//! The lock-free context pool (crates/inject/src/pool.rs, included as source so that its atomics are
//! loom's), its per-processor caches (crates/inject/src/cached_pool.rs, likewise) and the
//! injector's rundown protocol, checked under the loom model checker: every interleaving within a
//! preemption bound.
//!
//! Runs only under `RUSTFLAGS="--cfg loom"`: scripts/loom.sh.

#![cfg(loom)]
#![allow(missing_docs)]

extern crate alloc;

/// What pool.rs needs of `crate::error`.
mod error {
    #[derive(Debug)]
    pub enum Error {
        OutOfMemory,
    }
}

/// The atomics pool.rs takes from its parent module under `cfg(loom)`.
mod loom_atomic {
    pub use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
}

#[path = "../crates/inject/src/pool.rs"]
#[allow(dead_code)]
mod pool;

/// What per_processor.rs needs of the seam (its kernel-sized constructor is not used here).
mod sys {
    pub trait KernelApi {
        fn ke_query_active_processor_count_ex(&self, group: u16) -> u32;
        /// # Safety
        /// As the seam's.
        unsafe fn ke_get_current_processor_number_ex(&self, number: *mut ()) -> u32;
    }

    pub mod types {
        pub const ALL_PROCESSOR_GROUPS: u16 = 0xFFFF;
    }
}

#[path = "../crates/inject/src/per_processor.rs"]
#[allow(dead_code)]
mod per_processor;

#[path = "../crates/inject/src/cached_pool.rs"]
#[allow(dead_code)]
mod cached_pool;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

use cached_pool::CachedPool;
use pool::SlotPool;

/// A slot whose value says who owns it: taking it twice at once is the bug the pool must never
/// have.
struct Owned(AtomicBool);

fn pool(capacity: u32) -> Arc<SlotPool<Owned>> {
    let made = SlotPool::new(capacity, |_| Owned(AtomicBool::new(false)));
    Arc::new(made.unwrap_or_else(|_| panic!("pool")))
}

fn take(pool: &SlotPool<Owned>) -> Option<u32> {
    let index = pool.take()?;
    // SAFETY: the index was just taken: the slot is ours until given back.
    let owned = unsafe { &*pool.get(index) };
    assert!(
        !owned.0.swap(true, Ordering::SeqCst),
        "slot {index} handed out while already owned"
    );
    Some(index)
}

fn give_back(pool: &SlotPool<Owned>, index: u32) {
    // SAFETY: we own `index` until give_back below.
    let owned = unsafe { &*pool.get(index) };
    owned.0.store(false, Ordering::SeqCst);
    pool.give_back(index);
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    // Bounded so the whole file runs in CI time; the ABA interleaving needs two preemptions.
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Two threads taking and giving back concurrently never share a slot, and every slot comes
/// back.
#[test]
fn concurrent_take_and_give_back_never_share_a_slot() {
    model(|| {
        let shared = pool(2);
        let other = shared.clone();
        let worker = thread::spawn(move || {
            if let Some(index) = take(&other) {
                give_back(&other, index);
            }
        });
        if let Some(index) = take(&shared) {
            give_back(&shared, index);
        }
        worker.join().unwrap();
        assert_eq!(shared.free_count(), 2, "every slot came back");
    });
}

/// The ABA case the generation counter exists for. One thread reads the head (slot 0, next
/// slot 1) and is preempted; the other takes slot 0 and slot 1, then gives slot 0 back, so the
/// head is slot 0 again but its next is now slot 2. Without the generation the first thread's
/// compare-exchange succeeds and installs slot 1, which the other thread still owns: the
/// next take hands slot 1 out twice. Fails when the generation increment is removed.
#[test]
fn the_generation_counter_defeats_aba() {
    model(|| {
        let shared = pool(3);
        let other = shared.clone();
        let worker = thread::spawn(move || {
            let first = take(&other);
            let second = take(&other);
            for index in [first, second].into_iter().flatten() {
                give_back(&other, index);
            }
        });
        let first = take(&shared);
        let second = take(&shared);
        if let Some(index) = first {
            give_back(&shared, index);
        }
        // Hold `second` while the worker takes again.
        let held = second;
        worker.join().unwrap();
        if let Some(index) = held {
            give_back(&shared, index);
        }
        assert_eq!(shared.free_count(), 3);
    });
}

/// The rundown word as the simulator models ExAcquire/Release/WaitForRundownProtection
/// (crates/sim/src/rundown.rs): bit 0 says rundown has begun, holders count in steps of two.
struct Rundown(AtomicUsize);

impl Rundown {
    fn acquire(&self) -> bool {
        let mut value = self.0.load(Ordering::Relaxed);
        loop {
            if value & 1 != 0 {
                return false;
            }
            match self
                .0
                .compare_exchange(value, value + 2, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => value = now,
            }
        }
    }

    fn release(&self) {
        self.0.fetch_sub(2, Ordering::Release);
    }

    /// Begins rundown and waits until no holder is left.
    fn wait(&self) {
        self.0.fetch_or(1, Ordering::AcqRel);
        while self.0.load(Ordering::Acquire) != 1 {
            thread::yield_now();
        }
    }
}

/// Reserve as the injector does (crates/inject/src/injector.rs): a context, then a rundown reference;
/// the context goes back when rundown has begun.
fn reserve(contexts: &SlotPool<Owned>, rundown: &Rundown) -> Option<u32> {
    let index = take(contexts)?;
    if rundown.acquire() {
        Some(index)
    } else {
        give_back(contexts, index);
        None
    }
}

/// Finish as the completion does: the context back, then the rundown reference released last
/// (`release_first` swaps the two, the bug the order avoids).
fn finish(contexts: &SlotPool<Owned>, rundown: &Rundown, index: u32, release_first: bool) {
    if release_first {
        rundown.release();
        give_back(contexts, index);
    } else {
        give_back(contexts, index);
        rundown.release();
    }
}

/// An injection accepted before close (close takes the injector by value, so no reserve can
/// run concurrently with it), completing on another processor while close drains: once drain
/// returns, shut_down expects every context back and frees them.
fn completion_during_drain(release_first: bool) {
    model(move || {
        let contexts = pool(1);
        let rundown = Arc::new(Rundown(AtomicUsize::new(0)));
        let index = reserve(&contexts, &rundown).expect("nothing else holds the pool");
        let (worker_contexts, worker_rundown) = (contexts.clone(), rundown.clone());
        let completion = thread::spawn(move || {
            finish(&worker_contexts, &worker_rundown, index, release_first);
        });
        rundown.wait();
        assert_eq!(
            contexts.free_count(),
            1,
            "rundown completed while a context was still out"
        );
        completion.join().unwrap();
    });
}

#[test]
fn after_rundown_every_context_is_back() {
    completion_during_drain(false);
}

/// The model checker finds the interleaving that breaks the wrong order.
#[test]
#[should_panic(expected = "rundown completed while a context was still out")]
fn releasing_rundown_before_giving_the_context_back_is_caught() {
    completion_during_drain(true);
}

/// `drain` takes `&self`, so an injection may be reserving while it runs: once drain returns,
/// nothing holds a rundown reference and every later reserve is refused; the racing injection
/// either completed before or was refused, and its context comes back either way.
#[test]
fn drain_refuses_injections_that_race_it_and_loses_no_context() {
    model(|| {
        let contexts = pool(1);
        let rundown = Arc::new(Rundown(AtomicUsize::new(0)));
        let (worker_contexts, worker_rundown) = (contexts.clone(), rundown.clone());
        let injector = thread::spawn(move || {
            if let Some(index) = reserve(&worker_contexts, &worker_rundown) {
                finish(&worker_contexts, &worker_rundown, index, false);
            }
        });
        rundown.wait();
        assert_eq!(rundown.0.load(Ordering::Acquire), 1, "no holder left");
        injector.join().unwrap();
        assert_eq!(reserve(&contexts, &rundown), None, "refused after drain");
        assert_eq!(contexts.free_count(), 1, "no context lost");
    });
}

fn cached(capacity: u32, processors: u32) -> Arc<CachedPool<Owned>> {
    let made = SlotPool::new(capacity, |_| Owned(AtomicBool::new(false)))
        .and_then(|pool| CachedPool::new(pool, processors));
    Arc::new(made.unwrap_or_else(|_| panic!("pool")))
}

fn take_on(pool: &CachedPool<Owned>, processor: u32) -> Option<u32> {
    let index = pool.take(processor)?;
    // SAFETY: the index was just taken: the slot is ours until given back.
    let owned = unsafe { &*pool.get(index) };
    assert!(
        !owned.0.swap(true, Ordering::SeqCst),
        "slot {index} handed out while already owned"
    );
    Some(index)
}

fn give_back_on(pool: &CachedPool<Owned>, processor: u32, index: u32) {
    // SAFETY: we own `index` until give_back below.
    let owned = unsafe { &*pool.get(index) };
    owned.0.store(false, Ordering::SeqCst);
    pool.give_back(processor, index);
}

/// Two threads that each take on one processor and give back on the other (moved below
/// DISPATCH_LEVEL in between), over one context that starts in a cache: never shared, and back
/// when they are done (exact when quiescent), where the next take finds it.
#[test]
fn cached_contexts_moved_between_processors_are_never_shared_or_lost() {
    model(|| {
        let shared = cached(2, 2);
        let other = shared.clone();
        let worker = thread::spawn(move || {
            if let Some(index) = take_on(&other, 0) {
                give_back_on(&other, 1, index);
            }
        });
        if let Some(index) = take_on(&shared, 1) {
            give_back_on(&shared, 0, index);
        }
        worker.join().unwrap();
        assert_eq!(shared.free_count(), 2, "every context back");
        let first = take_on(&shared, 0).expect("a free context is found");
        let second = take_on(&shared, 0).expect("wherever it is kept");
        assert_eq!(take_on(&shared, 1), None, "never more than the capacity");
        give_back_on(&shared, 0, first);
        give_back_on(&shared, 1, second);
    });
}

/// One context, kept in processor 2's cache; two threads on processors 0 and 1 each try once,
/// with the shared list empty. A take fails only while the other holds the context, so they
/// cannot both fail: each looks in the other processors' caches before it gives up.
#[test]
fn a_cached_take_fails_only_when_every_context_is_out() {
    model(|| {
        let shared = cached(1, 3);
        let index = take_on(&shared, 2).expect("free");
        give_back_on(&shared, 2, index);
        let other = shared.clone();
        let worker = thread::spawn(move || {
            let got = take_on(&other, 1);
            if let Some(index) = got {
                give_back_on(&other, 1, index);
            }
            got.is_some()
        });
        let mine = take_on(&shared, 0);
        if let Some(index) = mine {
            give_back_on(&shared, 0, index);
        }
        let theirs = worker.join().unwrap();
        assert!(
            mine.is_some() || theirs,
            "both refused while a context was free"
        );
        assert_eq!(shared.free_count(), 1);
    });
}
