//! Rundown protection in the simulated stack, on the caller's `EX_RUNDOWN_REF` word itself:
//! bit 0 says rundown has begun, the rest counts holders in steps of two.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::stack::{SimulatedStack, Violation};
use crate::sys::KernelFn;
use crate::sys::types::{BOOLEAN, EX_RUNDOWN_REF};

const RUNDOWN_ACTIVE: usize = 1;
const ONE_HOLDER: usize = 2;

/// # Safety
/// `rundown` is valid, aligned, and only accessed atomically while in use.
unsafe fn word<'a>(rundown: *mut EX_RUNDOWN_REF) -> &'a AtomicUsize {
    // SAFETY: EX_RUNDOWN_REF is one usize; the caller guarantees validity and atomic-only use.
    unsafe { AtomicUsize::from_ptr(rundown.cast::<usize>()) }
}

impl SimulatedStack {
    #[allow(non_snake_case)] // the semantics of ExInitializeRundownProtection
    pub(super) fn ExInitializeRundownProtection(&self, rundown: *mut EX_RUNDOWN_REF) {
        // SAFETY: the seam's contract: `rundown` is writable and not in use.
        unsafe { word(rundown) }.store(0, Ordering::Release);
    }

    #[allow(non_snake_case)] // the semantics of ExAcquireRundownProtection
    pub(super) fn ExAcquireRundownProtection(&self, rundown: *mut EX_RUNDOWN_REF) -> BOOLEAN {
        // SAFETY: the seam's contract: `rundown` was initialized and outlives the call.
        let word = unsafe { word(rundown) };
        let acquired = word
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |value| {
                (value & RUNDOWN_ACTIVE == 0).then_some(value + ONE_HOLDER)
            })
            .is_ok();
        u8::from(acquired)
    }

    #[allow(non_snake_case)] // the semantics of ExReleaseRundownProtection
    pub(super) fn ExReleaseRundownProtection(&self, rundown: *mut EX_RUNDOWN_REF) {
        let mut state = self.lock();
        // SAFETY: the seam's contract: `rundown` was initialized and is held by the caller.
        let word = unsafe { word(rundown) };
        let released = word.fetch_update(Ordering::Release, Ordering::Relaxed, |value| {
            value
                .checked_sub(ONE_HOLDER)
                .filter(|_| value >= ONE_HOLDER)
        });
        if released.is_err() {
            state.violations.push(Violation::RundownReleasedTooOften);
        }
        drop(state);
        self.changed.notify_all();
    }

    #[allow(non_snake_case)] // the semantics of ExWaitForRundownProtectionRelease
    pub(super) fn ExWaitForRundownProtectionRelease(&self, rundown: *mut EX_RUNDOWN_REF) {
        // SAFETY: the seam's contract: `rundown` was initialized and outlives the wait.
        let word = unsafe { word(rundown) };
        word.fetch_or(RUNDOWN_ACTIVE, Ordering::AcqRel);
        self.wait_until(KernelFn::ExWaitForRundownProtectionRelease, |_| {
            word.load(Ordering::Acquire) == RUNDOWN_ACTIVE
        });
    }
}
