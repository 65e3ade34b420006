//! Real-time waiting for tests that run a driver on other threads: shared by the host and image
//! test pairs.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Waits (in real time) until `done`, failing the test after 10 s instead of hanging it.
pub fn wait_for(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting");
        thread::yield_now();
    }
}

/// Sets its flag when dropped.
pub struct SetOnDrop<'a>(pub &'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}
