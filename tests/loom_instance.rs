//! The instance entry handshake (src/driver/instance/slot.rs, included as source so that its
//! atomics are loom's) under the loom model checker: classifies counting themselves in on their
//! processor's stripe against unload's retire-and-wait, against a slot's reuse by the next
//! instance, and against the sleep routine's `suspended` flag and drain.
//!
//! Loom treats `SeqCst` loads and read-modify-writes as `AcqRel` (its README, "Unsupported
//! features"; `fence(SeqCst)` is modelled), so the handshake's order point is a `SeqCst` fence
//! here: the order the driver's `SeqCst` accesses give in the C++ memory model. With the fence
//! left out (the handshake as acquire/release only), loom finds the store-buffering execution
//! (the `*_is_caught` tests).
//!
//! Runs only under `RUSTFLAGS="--cfg loom"`: scripts/loom.sh.

#![cfg(loom)]
#![allow(missing_docs)]

use std::cell::Cell;

/// What slot.rs takes from its parent module.
mod atomics {
    pub use loom::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

    /// The order point: a `SeqCst` fence, unless the running test weakens the handshake.
    pub fn order_point() {
        if super::ORDERED.with(|ordered| ordered.get()) {
            loom::sync::atomic::fence(Ordering::SeqCst);
        }
    }
}

#[path = "../src/driver/instance/slot.rs"]
#[allow(dead_code)]
mod slot;

thread_local! {
    /// Whether the order point fences (loom runs a model's threads on the test's own thread).
    static ORDERED: Cell<bool> = const { Cell::new(true) };
}

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use loom::thread;

use slot::{FREE, RETIRED, Slot, SlotRef, Stripe};

const STRIPES: usize = 2;
/// The live instance's generation in these models.
const LIVE: u64 = 7;

/// A slot live with generation [`LIVE`] and its stripes, and the state it registered: a cell
/// loom watches, so a read of it that unload's free does not happen before is reported.
struct Instance {
    slot: Slot,
    stripes: [Stripe; STRIPES],
    state: UnsafeCell<u32>,
}

impl Instance {
    fn live() -> Arc<Self> {
        Arc::new(Self {
            slot: Slot {
                word: AtomicU64::new(LIVE << 32),
                state: loom::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
            },
            stripes: [Stripe(AtomicU64::new(0)), Stripe(AtomicU64::new(0))],
            state: UnsafeCell::new(1),
        })
    }

    fn slot(&self) -> SlotRef<'_, STRIPES> {
        SlotRef {
            slot: &self.slot,
            stripes: &self.stripes,
        }
    }

    /// A classify on `processor`: enters, reads the state, leaves. Whether it entered.
    fn classify(&self, processor: u32) -> bool {
        let Some((stripe, _)) = self.slot().enter(LIVE, processor) else {
            return false;
        };
        let value = self.state.with(|state| {
            // SAFETY: inside the instance: unload does not free the state until it has left.
            unsafe { *state }
        });
        assert_eq!(value, 1, "classify read freed state");
        SlotRef::<STRIPES>::leave(stripe);
        true
    }

    /// Unload: retire, wait until no classify is inside, release, free the state.
    fn unload(&self) {
        self.slot().retire();
        while !self.slot().release() {
            thread::yield_now();
        }
        self.state.with_mut(|state| {
            // SAFETY: released: no classify is inside and none can enter (loom checks it).
            unsafe { *state = 0 }
        });
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Runs `f` with the order point left out (the handshake as acquire/release only).
fn unordered(f: impl FnOnce()) {
    ORDERED.with(|ordered| ordered.set(false));
    f();
    ORDERED.with(|ordered| ordered.set(true));
}

fn unload_races_a_classify() {
    model(|| {
        let instance = Instance::live();
        let classifier = instance.clone();
        let classify = thread::spawn(move || classifier.classify(0));
        instance.unload();
        classify.join().unwrap();
        assert_eq!(instance.slot().users(), 0);
        assert_eq!(
            instance.slot.word.load(Ordering::Acquire) & (FREE | RETIRED),
            FREE | RETIRED,
            "released"
        );
    });
}

/// A classify entering while unload retires either backs out or is waited for: unload never
/// frees the state under it.
#[test]
fn unload_waits_for_every_classify_inside() {
    unload_races_a_classify();
}

/// Loom reports the read of the state that unload's free does not happen before.
#[test]
#[should_panic(expected = "Causality violation")]
fn an_unordered_handshake_is_caught() {
    unordered(unload_races_a_classify);
}

/// The entry without its second read (count in after one look at the word): unload can read the
/// stripe between the look and the add and free the state under the classify.
#[test]
#[should_panic(expected = "Causality violation")]
fn an_enter_without_the_second_read_is_caught() {
    model(|| {
        let instance = Instance::live();
        let classifier = instance.clone();
        let classify = thread::spawn(move || {
            if classifier.slot.word.load(Ordering::SeqCst) != LIVE << 32 {
                return;
            }
            let stripe = &classifier.stripes[0];
            stripe.0.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            // SAFETY: what the broken entry believes.
            let value = classifier.state.with(|state| unsafe { *state });
            assert_eq!(value, 1, "classify read freed state");
            stripe.0.fetch_sub(1, Ordering::Release);
        });
        instance.unload();
        classify.join().unwrap();
    });
}

/// Two classifies on two processors (two stripes) and unload: both are waited for, and the sum
/// is exact afterwards.
#[test]
fn classifies_on_two_processors_are_both_waited_for() {
    model(|| {
        let instance = Instance::live();
        let (first, second) = (instance.clone(), instance.clone());
        let one = thread::spawn(move || first.classify(0));
        let two = thread::spawn(move || second.classify(1));
        instance.unload();
        one.join().unwrap();
        two.join().unwrap();
        assert_eq!(instance.slot().users(), 0);
    });
}

/// A classify holding the released instance's context while the slot is claimed by the next
/// instance: it never enters the next one (its generation is another), it sees only the old
/// state if it entered before the retire, and its count is gone when it returns.
#[test]
fn a_stale_context_never_enters_the_next_instance() {
    model(|| {
        let instance = Instance::live();
        let old_state = 0x1000 as *mut ();
        let new_state = 0x2000 as *mut ();
        instance.slot.state.store(old_state, Ordering::Release);
        let classifier = instance.clone();
        let classify = thread::spawn(move || {
            if let Some((stripe, state)) = classifier.slot().enter(LIVE, 1) {
                assert_eq!(
                    state,
                    old_state.cast_const(),
                    "a stale context saw the next state"
                );
                SlotRef::<STRIPES>::leave(stripe);
            }
        });
        instance.slot().retire();
        while !instance.slot().release() {
            thread::yield_now();
        }
        let generation = instance
            .slot()
            .claim(new_state, 0)
            .expect("the slot is free");
        assert_eq!(generation, LIVE + 1);
        classify.join().unwrap();
        assert_eq!(
            instance.slot().users(),
            0,
            "the stale enter took its count back"
        );
        assert!(instance.slot().claimed_by(LIVE + 1));
    });
}

fn sleep_races_a_classify() {
    model(|| {
        let instance = Instance::live();
        let suspended = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let (classifier, flag, started) = (instance.clone(), suspended.clone(), in_flight.clone());
        let classify = thread::spawn(move || {
            if let Some((stripe, _)) = classifier.slot().enter(LIVE, 0) {
                // Classify reads the flag after counting itself in (Power::suspended).
                if !flag.load(Ordering::SeqCst) {
                    started.fetch_add(1, Ordering::SeqCst);
                }
                SlotRef::<STRIPES>::leave(stripe);
            }
        });
        // The sleep routine: flag, fence, then one look at the classifies inside and the
        // injections in flight (Power::notified, the loader's quiet()).
        suspended.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let drained = instance.slot().users() == 0 && in_flight.load(Ordering::SeqCst) == 0;
        classify.join().unwrap();
        if drained {
            assert_eq!(
                in_flight.load(Ordering::SeqCst),
                0,
                "an injection started after the sleep routine found none"
            );
        }
    });
}

/// Once the sleep routine has found no classify inside and nothing in flight, no classify starts
/// an injection: a classify it did not count sees the flag.
#[test]
fn a_drained_sleep_sees_every_classify_that_missed_the_flag() {
    sleep_races_a_classify();
}

#[test]
#[should_panic(expected = "an injection started after the sleep routine found none")]
fn an_unordered_sleep_drain_is_caught() {
    unordered(sleep_races_a_classify);
}
