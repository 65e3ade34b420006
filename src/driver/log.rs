//! DbgPrintEx logging with the driver's component id and levels, quiet on the per-packet path
//! unless verbose logging is on. Messages are static text and a few typed values (numbers,
//! statuses, layers, load steps) written into a stack buffer by this module: no `core::fmt`, so
//! the image carries none of its machinery.
//!
//! The seam passes every message to DbgPrintEx through a fixed "%s" format, so logged text is
//! never interpreted as a format string.

use crate::driver::layers::{CalloutLayer, NetworkLayer, TransportLayer};
use crate::driver::load_error::LoadStep;
use crate::nt::NtStatus;
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

/// One piece of a message. Built with `.into()` from `&str`, `bool`, `u32`, [`NtStatus`],
/// [`TransportLayer`], [`NetworkLayer`], [`CalloutLayer`] and [`LoadStep`].
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// Text as it is.
    Text(&'a str),
    /// "true" or "false".
    Bool(bool),
    /// Decimal.
    Decimal(u32),
    /// The status's name (when known) and its value in hex: "STATUS_X (0xC000009A)".
    Status(NtStatus),
    /// The layer's name.
    Layer(CalloutLayer),
    /// The load step's name (and layer).
    Step(LoadStep),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(text: &'a str) -> Self {
        Self::Text(text)
    }
}

impl From<bool> for Arg<'_> {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<u32> for Arg<'_> {
    fn from(value: u32) -> Self {
        Self::Decimal(value)
    }
}

impl From<NtStatus> for Arg<'_> {
    fn from(status: NtStatus) -> Self {
        Self::Status(status)
    }
}

impl From<TransportLayer> for Arg<'_> {
    fn from(layer: TransportLayer) -> Self {
        Self::Layer(layer.into())
    }
}

impl From<NetworkLayer> for Arg<'_> {
    fn from(layer: NetworkLayer) -> Self {
        Self::Layer(layer.into())
    }
}

impl From<CalloutLayer> for Arg<'_> {
    fn from(layer: CalloutLayer) -> Self {
        Self::Layer(layer)
    }
}

impl From<LoadStep> for Arg<'_> {
    fn from(step: LoadStep) -> Self {
        Self::Step(step)
    }
}

const fn layer_name(layer: CalloutLayer) -> &'static str {
    match layer {
        CalloutLayer::Transport(TransportLayer::OutboundV4) => "OutboundV4",
        CalloutLayer::Transport(TransportLayer::OutboundV6) => "OutboundV6",
        CalloutLayer::Transport(TransportLayer::InboundV4) => "InboundV4",
        CalloutLayer::Transport(TransportLayer::InboundV6) => "InboundV6",
        CalloutLayer::Network(NetworkLayer::OutboundV4) => "OutboundIpPacketV4",
        CalloutLayer::Network(NetworkLayer::OutboundV6) => "OutboundIpPacketV6",
        CalloutLayer::Network(NetworkLayer::InboundV4) => "InboundIpPacketV4",
        CalloutLayer::Network(NetworkLayer::InboundV6) => "InboundIpPacketV6",
    }
}

/// The step's name and, for per-layer steps, its layer.
const fn step_name(step: LoadStep) -> (&'static str, Option<CalloutLayer>) {
    match step {
        LoadStep::InjectionHandles => ("InjectionHandles", None),
        LoadStep::DriverState => ("DriverState", None),
        LoadStep::EngineOpen => ("EngineOpen", None),
        LoadStep::StaleObjects => ("StaleObjects", None),
        LoadStep::CalloutRegister(layer) => ("CalloutRegister", Some(layer)),
        LoadStep::TransactionBegin => ("TransactionBegin", None),
        LoadStep::ProviderAdd => ("ProviderAdd", None),
        LoadStep::SubLayerAdd => ("SubLayerAdd", None),
        LoadStep::CalloutAdd(layer) => ("CalloutAdd", Some(layer)),
        LoadStep::FilterAdd(layer) => ("FilterAdd", Some(layer)),
        LoadStep::TransactionCommit => ("TransactionCommit", None),
        LoadStep::WorkItem => ("WorkItem", None),
        LoadStep::BfeSubscribe => ("BfeSubscribe", None),
        LoadStep::PowerCallback => ("PowerCallback", None),
    }
}

/// Longest message, NUL included; longer ones are cut. The longest the driver writes is unload's
/// counters line (about 210 bytes); DbgPrintEx itself takes up to 512.
const MESSAGE_CAPACITY: usize = 256;

/// A message in a fixed buffer, dropping what does not fit; always room for the NUL.
struct MessageBuffer {
    bytes: [u8; MESSAGE_CAPACITY],
    used: usize,
}

impl MessageBuffer {
    #[inline(never)]
    fn text(&mut self, text: &str) {
        for &byte in text.as_bytes() {
            // Keep one byte for the NUL; a NUL inside the text would cut the message short.
            let Some(slot) = self.bytes.get_mut(self.used) else {
                return;
            };
            if self.used + 1 >= MESSAGE_CAPACITY {
                return;
            }
            *slot = if byte == 0 { b'?' } else { byte };
            self.used += 1;
        }
    }

    /// `value` in decimal.
    fn decimal(&mut self, mut value: u32) {
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 || start == 0 {
                break;
            }
        }
        self.digits(&digits[start..]);
    }

    /// `value` as "0x" and eight upper-case hex digits.
    fn hex(&mut self, value: u32) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut digits = [0u8; 10];
        digits[0] = b'0';
        digits[1] = b'x';
        for (i, digit) in digits[2..].iter_mut().enumerate() {
            *digit = HEX[((value >> (28 - 4 * i)) & 0xF) as usize];
        }
        self.digits(&digits);
    }

    fn digits(&mut self, digits: &[u8]) {
        // ASCII digits only, so the bytes are valid UTF-8 and contain no NUL.
        for &byte in digits {
            if self.used + 1 >= MESSAGE_CAPACITY {
                return;
            }
            if let Some(slot) = self.bytes.get_mut(self.used) {
                *slot = byte;
                self.used += 1;
            }
        }
    }

    #[inline(never)]
    fn arg(&mut self, arg: Arg<'_>) {
        match arg {
            Arg::Text(text) => self.text(text),
            Arg::Bool(value) => self.text(if value { "true" } else { "false" }),
            Arg::Decimal(value) => self.decimal(value),
            Arg::Status(status) => {
                if let Some(name) = status.name() {
                    self.text(name);
                    self.text(" (");
                    self.hex(status.0 as u32);
                    self.text(")");
                } else {
                    self.text("NTSTATUS ");
                    self.hex(status.0 as u32);
                }
            }
            Arg::Layer(layer) => self.text(layer_name(layer)),
            Arg::Step(step) => {
                let (name, layer) = step_name(step);
                self.text(name);
                if let Some(layer) = layer {
                    self.text("(");
                    self.text(layer_name(layer));
                    self.text(")");
                }
            }
        }
    }
}

/// The log classify writes to: [`Log`] with `VerboseLogging` switchable at run time (the control
/// channel's configuration). Reading the flag is one relaxed load of the driver's own state.
#[derive(Debug, Default)]
pub struct SharedLog {
    verbose: core::sync::atomic::AtomicBool,
}

impl SharedLog {
    /// A log with `VerboseLogging` as `log` has it.
    pub fn new(log: Log) -> Self {
        Self {
            verbose: core::sync::atomic::AtomicBool::new(log.verbose),
        }
    }

    /// Turns per-packet messages on or off. Any IRQL.
    pub fn set_verbose(&self, verbose: bool) {
        self.verbose
            .store(verbose, core::sync::atomic::Ordering::Relaxed);
    }

    /// [`Log::write`] with the flag as it is now.
    ///
    /// IRQL <= DISPATCH_LEVEL.
    #[inline(always)]
    pub fn write<K: KernelApi>(&self, kernel: &K, level: Level, message: &[Arg<'_>]) {
        let verbose = self.verbose.load(core::sync::atomic::Ordering::Relaxed);
        Log { verbose }.write(kernel, level, message);
    }
}

/// The driver's log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Log {
    /// Per-packet (trace) messages are printed only when set.
    pub verbose: bool,
}

impl Log {
    /// Prints the pieces of `message` at `level` as "wfp_injector: ...". Trace messages only when
    /// verbose.
    ///
    /// IRQL <= DISPATCH_LEVEL (DbgPrintEx allows up to DIRQL).
    #[inline(never)]
    pub fn write<K: KernelApi>(&self, kernel: &K, level: Level, message: &[Arg<'_>]) {
        if level == Level::Trace && !self.verbose {
            return;
        }
        let mut buffer = MessageBuffer {
            bytes: [0; MESSAGE_CAPACITY],
            used: 0,
        };
        buffer.text("wfp_injector: ");
        for &arg in message {
            buffer.arg(arg);
        }
        buffer.text("\n");
        let end = buffer.used.min(MESSAGE_CAPACITY - 1);
        buffer.bytes[end] = 0;
        // SAFETY: the buffer is NUL-terminated at `end`, and the format is the fixed "%s" (logged
        // text is never read as a format string).
        unsafe {
            kernel.dbg_print_ex(
                DPFLTR_IHVNETWORK_ID,
                level.dpfltr(),
                PRINT_AS_TEXT.as_ptr(),
                buffer.bytes.as_ptr(),
            )
        };
    }
}

/// DbgPrintEx's format for every line: the text is an argument, never a format.
const PRINT_AS_TEXT: &[u8; 3] = b"%s\0";

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn render(message: &[Arg<'_>]) -> String {
        let mut buffer = MessageBuffer {
            bytes: [0; MESSAGE_CAPACITY],
            used: 0,
        };
        for &arg in message {
            buffer.arg(arg);
        }
        String::from_utf8(buffer.bytes[..buffer.used].to_vec()).unwrap()
    }

    #[test]
    fn pieces_render_as_text_numbers_statuses_layers_and_steps() {
        assert_eq!(
            render(&[
                "a ".into(),
                0u32.into(),
                " ".into(),
                4_294_967_295u32.into(),
                " ".into(),
                true.into(),
            ]),
            "a 0 4294967295 true"
        );
        assert_eq!(
            render(&[NtStatus(0xC000_009Au32 as i32).into()]),
            "STATUS_INSUFFICIENT_RESOURCES (0xC000009A)"
        );
        assert_eq!(
            render(&[NtStatus(0x1234_ABCD).into()]),
            "NTSTATUS 0x1234ABCD"
        );
        assert_eq!(
            render(&[LoadStep::FilterAdd(TransportLayer::InboundV6.into()).into()]),
            "FilterAdd(InboundV6)"
        );
    }

    #[test]
    fn long_messages_are_cut_with_room_for_the_nul() {
        let long = "x".repeat(500);
        let text = render(&[long.as_str().into(), 7u32.into()]);
        assert_eq!(text.len(), MESSAGE_CAPACITY - 1);
    }
}
