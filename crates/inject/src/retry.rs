//! Retrying a call that fails with STATUS_FWP_TCPIP_NOT_READY.
//!
//! The docs' advice for that status is "call again at a later time". While TCP/IP starts (a
//! boot-start or early demand-start driver), the window is typically well under a second, so short
//! first waits matter more than long ones; the cap keeps a slow boot from turning into minutes of
//! polling, and the deadline bounds how long DriverEntry can stall.

use core::time::Duration;

use crate::error::{Error, InputError};
use crate::nt::time::sleep;
use crate::sys::KernelApi;

/// A bounded exponential backoff: wait `first_delay`, then multiply by `growth` up to `max_delay`,
/// until the waits add up to `deadline`; then one last attempt, whose error is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First wait after a not-ready answer.
    pub first_delay: Duration,
    /// Each later wait is the previous one times this (an integer: no floating point in kernel
    /// code).
    pub growth: u32,
    /// Longest single wait.
    pub max_delay: Duration,
    /// Total waiting allowed before giving up.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    /// 10 ms, doubling, capped at 500 ms, 10 s in all.
    ///
    /// - 10 ms first: TCP/IP usually becomes ready within tens of milliseconds of the first try,
    ///   and a 10 ms sleep costs nothing measurable at boot.
    /// - doubling: reaches the cap after six waits, so a slow start is not polled hundreds of
    ///   times.
    /// - 500 ms cap: a driver waiting behind a slow stack still starts within half a second of it
    ///   becoming ready.
    /// - 10 s deadline: well inside the service control manager's start timeout (30 s), so a
    ///   stack that never comes up fails the start with STATUS_FWP_TCPIP_NOT_READY instead of
    ///   hanging it. A boot-start driver that must not stall should use one attempt and retry
    ///   from its own worker.
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(10),
            growth: 2,
            max_delay: Duration::from_millis(500),
            deadline: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A single attempt: no waiting at all.
    pub const NO_RETRY: Self = Self {
        first_delay: Duration::ZERO,
        growth: 1,
        max_delay: Duration::ZERO,
        deadline: Duration::ZERO,
    };

    /// Refuses policies that could spin without waiting or never grow.
    pub fn validate(&self) -> Result<(), InputError> {
        if self.deadline.is_zero() {
            return Ok(());
        }
        if self.first_delay.is_zero() {
            return Err(InputError::InvalidRetryPolicy(
                "first_delay is zero but deadline is not (a busy loop)",
            ));
        }
        if self.growth == 0 {
            return Err(InputError::InvalidRetryPolicy("growth is zero"));
        }
        if self.max_delay < self.first_delay {
            return Err(InputError::InvalidRetryPolicy(
                "max_delay is shorter than first_delay",
            ));
        }
        Ok(())
    }
}

/// Calls `attempt` until it returns anything but STATUS_FWP_TCPIP_NOT_READY, sleeping between
/// attempts as `policy` says. `waited` carries the time already spent, so several calls can share
/// one deadline.
///
/// IRQL: PASSIVE_LEVEL (it sleeps). Any error other than not-ready, including a failed sleep, is
/// returned at once.
pub fn retry_while_not_ready<K: KernelApi, T>(
    kernel: &K,
    policy: &RetryPolicy,
    waited: &mut Duration,
    mut attempt: impl FnMut() -> Result<T, Error>,
) -> Result<T, Error> {
    policy.validate()?;
    let mut delay = policy.first_delay;
    loop {
        match attempt() {
            Err(error) if error.is_tcpip_not_ready() => {
                let remaining = crate::nt::time::saturating_sub(policy.deadline, *waited);
                if remaining.is_zero() {
                    return Err(error);
                }
                let nap = delay.min(remaining);
                sleep(kernel, nap)?;
                *waited = crate::nt::time::saturating_add(*waited, nap);
                delay = crate::nt::time::saturating_mul(delay, policy.growth).min(policy.max_delay);
            }
            outcome => return outcome,
        }
    }
}
