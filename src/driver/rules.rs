//! The inspection rules in force, and the copy classify reads.
//!
//! [`Rules`] is the configuration as the control channel sets it (wfp-protocol's [`Rule`]s, at
//! most [`MAX_RULES`], checked) and as the registry's Parameters translate into it
//! ([`Rules::from_registry`]): a packet is inspected when it matches any rule.
//!
//! [`SharedRules`] is classify's copy: two slots of atomic words, a sequence number per slot
//! and the index of the slot in force. A change (PASSIVE_LEVEL, one at a time: the token holder)
//! writes the slot not in force, then switches the index. Classify reads the index, then the
//! slot, and keeps its answer only if the slot's sequence number did not move meanwhile, so every
//! classify decides with one whole rule set, the old or the new, never a mix. It never waits for
//! a writer: a writer only ever writes the slot not in force, so a reader that finds its slot
//! being rewritten reads the other, which no writer touches until it switches again. Classify
//! writes nothing shared and allocates nothing.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};

use wfp_protocol::{
    CONFIG_VERBOSE, Config, DIRECTION_INBOUND, DIRECTION_OUTBOUND, FAMILY_IPV4, FAMILY_IPV6,
    FIELD_LOCAL_ADDRESS, FIELD_PROTOCOL, FIELD_REMOTE_PORT, LAYER_IP_PACKET, LAYER_TRANSPORT,
    MAX_RULES, PROTOCOL_TCP, PROTOCOL_UDP, RequestHeader, Rule,
};

use crate::driver::config::{InspectionConfig, PacketKey};
use crate::driver::layers::{CalloutLayer, Direction};
use crate::inject::{IpFamily, RemoteAddress};

/// The rule set in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    rules: [Rule; MAX_RULES],
    count: usize,
    /// `VerboseLogging`.
    pub verbose: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            rules: [Rule::default(); MAX_RULES],
            count: 0,
            verbose: false,
        }
    }
}

impl Rules {
    /// The rules of a checked configuration ([`Config::check`] passed).
    pub fn from_config(config: &Config) -> Self {
        let mut rules = Self {
            verbose: config.flags & CONFIG_VERBOSE != 0,
            ..Self::default()
        };
        for rule in config.active() {
            rules.push(*rule);
        }
        rules
    }

    /// The configuration to report.
    pub fn to_config(&self) -> Config {
        Config {
            header: RequestHeader::CURRENT,
            flags: if self.verbose { CONFIG_VERBOSE } else { 0 },
            rule_count: self.count as u32,
            // The control channel fills it in: the rules alone do not know it.
            generation: 0,
            reserved: 0,
            rules: self.rules,
        }
    }

    /// What the registry's Parameters select, as rules: for each family that has a criterion,
    /// one rule for both directions with its address (or any), the port and the protocol, at the
    /// layers `InspectLayer` names.
    pub fn from_registry(config: &InspectionConfig, verbose: bool) -> Self {
        let mut rules = Self {
            verbose,
            ..Self::default()
        };
        for family in [IpFamily::V4, IpFamily::V6] {
            if !config.inspects(family) {
                continue;
            }
            let mut rule = Rule {
                directions: DIRECTION_INBOUND | DIRECTION_OUTBOUND,
                layers: layer_bits(config.layer.transport(), config.layer.network()),
                ..Rule::default()
            };
            match family {
                IpFamily::V4 => {
                    rule.family = FAMILY_IPV4;
                    if let Some(address) = config.remote_v4 {
                        rule.remote_address[..4].copy_from_slice(&address);
                        rule.remote_prefix = 32;
                    }
                }
                IpFamily::V6 => {
                    rule.family = FAMILY_IPV6;
                    if let Some(address) = config.remote_v6 {
                        rule.remote_address = address;
                        rule.remote_prefix = 128;
                    }
                }
            }
            if let Some(port) = config.remote_port {
                rule.fields |= FIELD_REMOTE_PORT;
                rule.remote_port = port;
            }
            if let Some(protocol) = config.protocol {
                rule.fields |= FIELD_PROTOCOL;
                rule.protocol = protocol;
            }
            rules.push(rule);
        }
        rules
    }

    fn push(&mut self, rule: Rule) {
        if let Some(place) = self.rules.get_mut(self.count) {
            *place = rule;
            self.count += 1;
        }
    }

    /// The rules in use.
    pub fn active(&self) -> &[Rule] {
        self.rules.get(..self.count).unwrap_or(&[])
    }

    /// The rules that apply to `layer` (its kind, family and direction).
    pub fn for_layer(&self, layer: CalloutLayer) -> impl Iterator<Item = &Rule> {
        self.active().iter().filter(move |rule| {
            applies(rule, layer.family(), layer.direction(), layer.is_network())
        })
    }

    /// True when some rule selects a packet with `key`.
    pub fn matches(&self, key: &PacketKey) -> bool {
        self.active().iter().any(|rule| rule_matches(rule, key))
    }
}

fn family_code(family: IpFamily) -> u8 {
    match family {
        IpFamily::V4 => FAMILY_IPV4,
        IpFamily::V6 => FAMILY_IPV6,
    }
}

fn direction_bit(direction: Direction) -> u8 {
    match direction {
        Direction::Inbound => DIRECTION_INBOUND,
        Direction::Outbound => DIRECTION_OUTBOUND,
    }
}

fn layer_bits(transport: bool, network: bool) -> u8 {
    let transport = if transport { LAYER_TRANSPORT } else { 0 };
    let network = if network { LAYER_IP_PACKET } else { 0 };
    transport | network
}

fn applies(rule: &Rule, family: IpFamily, direction: Direction, network: bool) -> bool {
    rule.family == family_code(family)
        && rule.directions & direction_bit(direction) != 0
        && rule.layers & layer_bits(!network, network) != 0
}

/// Whether the first `prefix` bits of `address` and `network` agree.
fn in_prefix(address: &[u8; 16], network: &[u8; 16], prefix: u8) -> bool {
    let whole = usize::from(prefix / 8);
    let rest = prefix % 8;
    let (Some(a), Some(n)) = (address.get(..whole), network.get(..whole)) else {
        return false;
    };
    if a != n {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xFFu8 << (8 - rest);
    match (address.get(whole), network.get(whole)) {
        (Some(a), Some(n)) => a & mask == n & mask,
        _ => false,
    }
}

/// True when the packet `key` is selected by `rule`. The port criterion selects TCP and UDP
/// only (for ICMP the layers put the type and code in the port fields).
#[inline]
fn rule_matches(rule: &Rule, key: &PacketKey) -> bool {
    let (family, remote) = match key.remote_address {
        RemoteAddress::V4(address) => {
            let mut wide = [0u8; 16];
            wide[..4].copy_from_slice(&address);
            (IpFamily::V4, wide)
        }
        RemoteAddress::V6(address, _) => (IpFamily::V6, address),
    };
    applies(rule, family, key.direction, key.network)
        && in_prefix(&remote, &rule.remote_address, rule.remote_prefix)
        && (rule.fields & FIELD_LOCAL_ADDRESS == 0
            || in_prefix(&key.local_address, &rule.local_address, rule.local_prefix))
        && (rule.fields & FIELD_PROTOCOL == 0 || rule.protocol == key.protocol)
        && (rule.fields & FIELD_REMOTE_PORT == 0
            || (rule.remote_port == key.remote_port
                && (key.protocol == PROTOCOL_TCP || key.protocol == PROTOCOL_UDP)))
}

/// Words of one rule in a slot: 48 bytes.
const RULE_WORDS: usize = 6;

// A rule is its six words' bytes: `#[repr(C)]`, 48 bytes, every byte a field (the protocol's
// layout test: wire size == size), every field an integer or an array of them (any bits are a
// value), so a rule and its words convert by a plain copy, no per-field decoding on classify's
// path (x86-64, the only target, is little-endian like the wire form).
const _: () = assert!(core::mem::size_of::<Rule>() == RULE_WORDS * 8);

/// One rule as six words (its bytes).
fn rule_to_words(rule: &Rule) -> [u64; RULE_WORDS] {
    // SAFETY: `Rule` is exactly RULE_WORDS * 8 bytes (asserted above), read from a valid rule;
    // unaligned read, so no alignment is assumed.
    unsafe { core::ptr::read_unaligned(core::ptr::from_ref(rule).cast()) }
}

/// The rule whose bytes the six words are. Any words give a rule (see above).
#[inline(always)]
fn rule_from_words(words: &[u64; RULE_WORDS]) -> Rule {
    // SAFETY: the sizes agree (asserted above) and every bit pattern is a valid `Rule`.
    unsafe { core::ptr::read_unaligned(words.as_ptr().cast()) }
}

/// One slot: a sequence number (odd while it is written), the rule count, the rules' words.
#[derive(Debug)]
struct Slot {
    sequence: AtomicU64,
    count: AtomicU64,
    words: [AtomicU64; MAX_RULES * RULE_WORDS],
}

impl Slot {
    fn new() -> Self {
        Self {
            sequence: AtomicU64::new(0),
            count: AtomicU64::new(0),
            words: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Classify's copy of the rules (see the module's documentation).
#[derive(Debug)]
pub struct SharedRules {
    in_force: AtomicUsize,
    slots: [Slot; 2],
}

impl SharedRules {
    /// A copy holding `rules`.
    pub fn new(rules: &Rules) -> Self {
        let shared = Self {
            in_force: AtomicUsize::new(0),
            slots: [Slot::new(), Slot::new()],
        };
        shared.publish(rules);
        shared
    }

    /// Makes `rules` the set classify decides with. One writer at a time (the caller holds the
    /// loader's token, or owns the copy). Any IRQL; never waits.
    pub fn publish(&self, rules: &Rules) {
        let next = 1 - self.in_force.load(Ordering::Relaxed).min(1);
        let Some(slot) = self.slots.get(next) else {
            return;
        };
        let sequence = slot.sequence.load(Ordering::Relaxed);
        slot.sequence
            .store(sequence.wrapping_add(1), Ordering::Relaxed);
        // The odd number is visible before any word changes.
        fence(Ordering::Release);
        slot.count.store(rules.count as u64, Ordering::Relaxed);
        for (index, rule) in rules.active().iter().enumerate() {
            for (offset, word) in rule_to_words(rule).into_iter().enumerate() {
                if let Some(place) = slot.words.get(index * RULE_WORDS + offset) {
                    place.store(word, Ordering::Relaxed);
                }
            }
        }
        slot.sequence
            .store(sequence.wrapping_add(2), Ordering::Release);
        self.in_force.store(next, Ordering::Release);
    }

    /// True when some rule in force is for `family` (a classify with nothing to look for can
    /// stop early). Any IRQL; writes nothing.
    #[inline]
    pub fn inspects(&self, family: IpFamily) -> bool {
        let code = family_code(family);
        self.read(|rule| rule.family == code)
    }

    /// True when some rule in force selects a packet with `key`. Any IRQL; writes nothing.
    #[inline]
    pub fn matches(&self, key: &PacketKey) -> bool {
        self.read(|rule| rule_matches(rule, key))
    }

    /// Whether `test` holds for some rule of one whole slot.
    #[inline]
    fn read(&self, test: impl Fn(&Rule) -> bool) -> bool {
        loop {
            let index = self.in_force.load(Ordering::Acquire).min(1);
            let Some(slot) = self.slots.get(index) else {
                return false;
            };
            let before = slot.sequence.load(Ordering::Acquire);
            if before & 1 != 0 {
                // Being rewritten: the index moved on since it was read.
                core::hint::spin_loop();
                continue;
            }
            let count = (slot.count.load(Ordering::Relaxed) as usize).min(MAX_RULES);
            let mut hit = false;
            for index in 0..count {
                let words = core::array::from_fn(|offset| {
                    slot.words
                        .get(index * RULE_WORDS + offset)
                        .map_or(0, |word| word.load(Ordering::Relaxed))
                });
                if test(&rule_from_words(&words)) {
                    hit = true;
                    break;
                }
            }
            // The words were read before the sequence number is read again.
            fence(Ordering::Acquire);
            if slot.sequence.load(Ordering::Relaxed) == before {
                return hit;
            }
        }
    }
}
