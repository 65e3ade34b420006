//! Relative waits in the kernel's 100-nanosecond units.

use core::time::Duration;

use crate::nt::{Irql, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::KERNEL_MODE;

/// 100 ns ticks in `duration`, saturating at `i64::MAX` (about 29,000 years).
pub fn ticks_100ns(duration: Duration) -> i64 {
    let whole = duration.as_secs().saturating_mul(10_000_000);
    let ticks = whole.saturating_add(u64::from(duration.subsec_nanos() / 100));
    i64::try_from(ticks).unwrap_or(i64::MAX)
}

/// Nanoseconds in `duration`, saturating at `u64::MAX` (about 584 years).
const fn nanos(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(duration.subsec_nanos() as u64)
}

/// `a + b`, saturating at `u64::MAX` nanoseconds. Core's `Duration` arithmetic (`+`, `-`,
/// `saturating_sub`) goes through `Duration::new`, whose overflow `expect` the optimizer keeps:
/// a panic path in the kernel image. Every wait this crate adds up is far below the limit.
pub const fn saturating_add(a: Duration, b: Duration) -> Duration {
    Duration::from_nanos(nanos(a).saturating_add(nanos(b)))
}

/// `a - b`, zero when `b` is longer; no panic path (see [`saturating_add`]).
pub const fn saturating_sub(a: Duration, b: Duration) -> Duration {
    Duration::from_nanos(nanos(a).saturating_sub(nanos(b)))
}

/// `a * factor`, saturating; no panic path (see [`saturating_add`]).
pub const fn saturating_mul(a: Duration, factor: u32) -> Duration {
    Duration::from_nanos(nanos(a).saturating_mul(factor as u64))
}

/// Why [`sleep`] did not sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SleepError {
    /// Called above APC_LEVEL; the kernel was not called.
    IrqlTooHigh {
        /// IRQL at the call.
        current: Irql,
        /// Highest IRQL a sleep allows.
        allowed: Irql,
    },
    /// `KeDelayExecutionThread` returned this failure.
    Failed(NtStatus),
}

impl SleepError {
    /// The status to hand back to the kernel for this failure.
    pub const fn status(&self) -> NtStatus {
        match self {
            Self::IrqlTooHigh { .. } => NtStatus::INVALID_DEVICE_STATE,
            Self::Failed(status) => *status,
        }
    }
}

/// Sleeps the calling thread for `duration` with `KeDelayExecutionThread` (kernel mode,
/// not alertable).
///
/// IRQL: PASSIVE_LEVEL or APC_LEVEL; above that it returns [`SleepError::IrqlTooHigh`] without
/// waiting.
pub fn sleep<K: KernelApi>(kernel: &K, duration: Duration) -> Result<(), SleepError> {
    let current = Irql(kernel.ke_get_current_irql());
    if current > Irql::APC {
        return Err(SleepError::IrqlTooHigh {
            current,
            allowed: Irql::APC,
        });
    }
    // Negative: relative to now.
    let interval = -ticks_100ns(duration);
    // SAFETY: IRQL <= APC_LEVEL was checked above; `interval` lives across the call.
    let status = unsafe { kernel.ke_delay_execution_thread(KERNEL_MODE, 0, &interval) };
    NtStatus(status).ok().map_err(SleepError::Failed)
}

/// A bounded wait made of sleeps, for the unload paths that wait for something WFP or a work item
/// still holds: each [`Patience::wait`] sleeps one `poll`, until `limit` has been slept in all.
/// Not `Copy`: a copy would split one budget in two.
#[derive(Debug)]
pub struct Patience {
    poll: Duration,
    limit: Duration,
    waited: Duration,
}

impl Patience {
    /// Sleeps of `poll` each, `limit` at most in all.
    pub const fn new(poll: Duration, limit: Duration) -> Self {
        Self {
            poll,
            limit,
            waited: Duration::ZERO,
        }
    }

    /// Sleeps one poll and answers true; false, without sleeping, once `limit` has been slept,
    /// and false when the sleep fails (the caller gives up rather than spin).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn wait<K: KernelApi>(&mut self, kernel: &K) -> bool {
        if self.waited >= self.limit || sleep(kernel, self.poll).is_err() {
            return false;
        }
        self.waited = saturating_add(self.waited, self.poll);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_without_panic_paths_matches_core() {
        let a = Duration::from_millis(1_500);
        let b = Duration::from_millis(700);
        assert_eq!(saturating_add(a, b), a + b);
        assert_eq!(saturating_sub(a, b), a - b);
        assert_eq!(saturating_sub(b, a), Duration::ZERO);
        assert_eq!(saturating_mul(b, 3), b * 3);
        assert_eq!(
            saturating_add(Duration::MAX, a),
            Duration::from_nanos(u64::MAX)
        );
        assert_eq!(
            saturating_mul(Duration::MAX, 2),
            Duration::from_nanos(u64::MAX)
        );
    }
}
