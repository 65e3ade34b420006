//! Relative waits in the kernel's 100-nanosecond units.

use core::time::Duration;

use crate::error::Error;
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelApi;
use crate::sys::types::KERNEL_MODE;

/// 100 ns ticks in `duration`, saturating at `i64::MAX` (about 29,000 years).
pub fn ticks_100ns(duration: Duration) -> i64 {
    let whole = duration.as_secs().saturating_mul(10_000_000);
    let ticks = whole.saturating_add(u64::from(duration.subsec_nanos() / 100));
    i64::try_from(ticks).unwrap_or(i64::MAX)
}

/// Sleeps the calling thread for `duration` with `KeDelayExecutionThread` (kernel mode,
/// not alertable).
///
/// IRQL: PASSIVE_LEVEL or APC_LEVEL; above that it returns [`Error::IrqlTooHigh`] without waiting.
pub fn sleep<K: KernelApi>(kernel: &K, duration: Duration) -> Result<(), Error> {
    Error::check_irql(kernel, Irql::APC)?;
    // Negative: relative to now.
    let interval = -ticks_100ns(duration);
    // SAFETY: IRQL <= APC_LEVEL was checked above; `interval` lives across the call.
    let status = unsafe { kernel.ke_delay_execution_thread(KERNEL_MODE, 0, &interval) };
    NtStatus(status)
        .ok()
        .map_err(|status| Error::kernel(crate::error::KernelCall::KeDelayExecutionThread, status))
}
