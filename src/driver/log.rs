//! DbgPrintEx logging with the driver's component id and levels, formatted on the stack (no
//! allocation), quiet on the per-packet path unless verbose logging is on.

use core::fmt::{self, Write};

use crate::sys::KernelApi;
use crate::sys::types::{
    DPFLTR_ERROR_LEVEL, DPFLTR_IHVNETWORK_ID, DPFLTR_INFO_LEVEL, DPFLTR_TRACE_LEVEL,
    DPFLTR_WARNING_LEVEL,
};

/// Message levels (DPFLTR_*_LEVEL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed.
    Error,
    /// Something was ignored or degraded.
    Warning,
    /// Load, unload, configuration.
    Info,
    /// Per packet: only with verbose logging.
    Trace,
}

impl Level {
    const fn dpfltr(self) -> u32 {
        match self {
            Self::Error => DPFLTR_ERROR_LEVEL,
            Self::Warning => DPFLTR_WARNING_LEVEL,
            Self::Info => DPFLTR_INFO_LEVEL,
            Self::Trace => DPFLTR_TRACE_LEVEL,
        }
    }
}

/// Longest message, NUL included; longer ones are cut.
const MESSAGE_CAPACITY: usize = 192;

/// Formats into a fixed buffer, dropping what does not fit.
struct MessageBuffer {
    bytes: [u8; MESSAGE_CAPACITY],
    used: usize,
}

impl Write for MessageBuffer {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for &byte in text.as_bytes() {
            // Keep one byte for the NUL; a NUL inside the text would cut the message short.
            if self.used + 1 >= MESSAGE_CAPACITY {
                break;
            }
            self.bytes[self.used] = if byte == 0 { b'?' } else { byte };
            self.used += 1;
        }
        Ok(())
    }
}

/// The driver's log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Log {
    /// Per-packet (trace) messages are printed only when set.
    pub verbose: bool,
}

impl Log {
    /// Prints `args` at `level` as "wfp_injector: ...". Trace messages only when verbose.
    ///
    /// IRQL <= DISPATCH_LEVEL (DbgPrintEx allows up to DIRQL).
    pub fn write<K: KernelApi>(&self, kernel: &K, level: Level, args: fmt::Arguments<'_>) {
        if level == Level::Trace && !self.verbose {
            return;
        }
        let mut message = MessageBuffer {
            bytes: [0; MESSAGE_CAPACITY],
            used: 0,
        };
        let _ = message.write_str("wfp_injector: ");
        let _ = message.write_fmt(args);
        let _ = message.write_str("\n");
        let end = message.used.min(MESSAGE_CAPACITY - 1);
        message.bytes[end] = 0;
        // SAFETY: the buffer is NUL-terminated at `end`.
        unsafe {
            kernel.dbg_print_ex(DPFLTR_IHVNETWORK_ID, level.dpfltr(), message.bytes.as_ptr())
        };
    }
}
