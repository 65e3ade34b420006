//! The layout of `Parameters\InspectRules`, the configuration a control request persisted: a
//! format of its own, separate from the control channel's wire [`VERSION`](wfp_protocol::VERSION)
//! and [`MAX_RULES`], so that a protocol change does not make every saved value unreadable.
//!
//! Little-endian, REG_BINARY:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | [`MAGIC`], `WIPR` |
//! | 4 | 4 | format version, [`FORMAT`] (1) |
//! | 8 | 4 | the value's size in bytes: 24 + 48 × rule count |
//! | 12 | 4 | flags: `CONFIG_VERBOSE` (0x1) or nothing |
//! | 16 | 4 | rule count |
//! | 20 | 4 | zero |
//! | 24 | 48 each | the rules, each in the 48-byte layout of the protocol's `Rule` (version 2) |
//!
//! Format 1's rule layout is fixed here: a protocol version that changes `Rule` keeps a decoder
//! for these 48 bytes (or makes a format 2). A value this driver cannot load (another type, magic
//! or format version, a size that does not add up, more rules than it holds, a bad rule) is
//! ignored at load with a log line naming the reason, and left as it is
//! (`crate::driver::persisted`).

use wfp_protocol::{CONFIG_VERBOSE, Config, Invalid, MAX_RULES, RequestHeader, Rule, Wire};

use crate::driver::log::Arg;
use crate::driver::rules::Rules;

/// The value's first four bytes.
pub(crate) const MAGIC: [u8; 4] = *b"WIPR";
/// The format this driver writes and reads.
pub(crate) const FORMAT: u32 = 1;
/// The header's bytes: magic, format, size, flags, rule count, zero.
pub(crate) const HEADER: usize = 24;
/// A rule's bytes in format 1.
pub(crate) const RULE: usize = 48;
const _: () = assert!(
    Rule::SIZE == RULE,
    "format 1's rule is the protocol's 48-byte Rule"
);

/// The value's size for `count` rules.
pub(crate) const fn size(count: usize) -> usize {
    HEADER + RULE * count
}

/// Why a value is not a configuration this driver loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not REG_BINARY.
    Type,
    /// Shorter than a header, or another magic.
    Magic,
    /// Another format version (a newer driver's, most likely).
    Format(u32),
    /// The size field is not the value's size, or not a header plus whole rules.
    Size,
    /// More rules than this driver holds.
    Count(u32),
    /// Flags other than CONFIG_VERBOSE, or the zero field not zero.
    Reserved,
    /// The rule at this index (from 0) fails the set's checks.
    Rule(u32, Invalid),
}

impl Refusal {
    /// The reason, as log pieces: text, a number (or nothing), text.
    pub(crate) fn describe(self) -> [Arg<'static>; 4] {
        let text = |text: &'static str| [text.into(), "".into(), "".into(), "".into()];
        match self {
            Self::Type => text("not REG_BINARY"),
            Self::Magic => text("not a saved configuration (magic)"),
            Self::Format(format) => [
                "format version ".into(),
                format.into(),
                " (this driver reads 1)".into(),
                "".into(),
            ],
            Self::Size => text("its size is not the header's, or not 24 + 48 per rule"),
            Self::Count(count) => [
                "rule count ".into(),
                count.into(),
                " (this driver holds 16)".into(),
                "".into(),
            ],
            Self::Reserved => text("reserved flags or field not zero"),
            Self::Rule(index, invalid) => [
                "invalid rule ".into(),
                index.into(),
                ": ".into(),
                match invalid {
                    Invalid::Range(field) => field.into(),
                    Invalid::Reserved => "a reserved or absent field not zero".into(),
                    Invalid::TooShort | Invalid::TooLong | Invalid::Version => "its size".into(),
                },
            ],
        }
    }
}

fn word(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at + 4)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Writes `rules` in format 1 into `out`, which is [`size`]`(rules.active().len())` bytes;
/// `false` (nothing written) otherwise.
///
/// IRQL: any (pure).
pub(crate) fn encode(rules: &Rules, out: &mut [u8]) -> bool {
    let active = rules.active();
    if out.len() != size(active.len()) {
        return false;
    }
    let flags = if rules.verbose { CONFIG_VERBOSE } else { 0 };
    let (header, body) = out.split_at_mut(HEADER);
    header[..4].copy_from_slice(&MAGIC);
    for (index, field) in [
        FORMAT,
        size(active.len()) as u32,
        flags,
        active.len() as u32,
        0,
    ]
    .into_iter()
    .enumerate()
    {
        let at = 4 + index * 4;
        header[at..at + 4].copy_from_slice(&field.to_le_bytes());
    }
    for (rule, place) in active.iter().zip(body.chunks_exact_mut(RULE)) {
        rule.encode(place);
    }
    true
}

/// Reads a format-1 value (`kind` its registry type, `data` its bytes) into `config` (a set
/// request's form: the current header, generation 0), checking it as a set is checked.
///
/// IRQL: any (pure).
pub(crate) fn decode(kind: u32, data: &[u8], config: &mut Config) -> Result<(), Refusal> {
    if kind != crate::sys::types::REG_BINARY {
        return Err(Refusal::Type);
    }
    if data.get(..4) != Some(&MAGIC[..]) {
        return Err(Refusal::Magic);
    }
    let field = |at| word(data, at).ok_or(Refusal::Size);
    let format = field(4)?;
    if format != FORMAT {
        return Err(Refusal::Format(format));
    }
    let (stated, flags, count, zero) = (field(8)?, field(12)?, field(16)?, field(20)?);
    let body = data.get(HEADER..).ok_or(Refusal::Size)?;
    if stated as usize != data.len() || body.len() != RULE * count as usize {
        return Err(Refusal::Size);
    }
    if count as usize > MAX_RULES {
        return Err(Refusal::Count(count));
    }
    if flags & !CONFIG_VERBOSE != 0 || zero != 0 {
        return Err(Refusal::Reserved);
    }
    // Field by field: the caller's configuration is filled in place, not built and copied.
    config.header = RequestHeader::CURRENT;
    config.flags = flags;
    config.rule_count = count;
    config.generation = 0;
    config.reserved = 0;
    for place in &mut config.rules {
        *place = Rule::default();
    }
    for (index, (bytes, place)) in body
        .chunks_exact(RULE)
        .zip(config.rules.iter_mut())
        .enumerate()
    {
        let rule = Rule::decode(bytes).map_err(|invalid| Refusal::Rule(index as u32, invalid))?;
        rule.check()
            .map_err(|invalid| Refusal::Rule(index as u32, invalid))?;
        *place = rule;
    }
    Ok(())
}
