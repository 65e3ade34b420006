//! The inspection rules in force, and the copy classify reads.
//!
//! [`Rules`] is the configuration as the control channel sets it (wfp-protocol's [`Rule`]s, at
//! most [`MAX_RULES`], checked) and as the registry's Parameters translate into it
//! ([`Rules::from_registry`]): a packet is inspected when it matches any rule.
//!
//! [`SharedRules`] is classify's copy: two slots of atomic words, a sequence number per slot,
//! and the in-force word (the index of the slot in force, with a summary of its set). A slot
//! holds the rules compiled (`compiled_rule`: kinds as a bit set, addresses pre-masked), so the
//! work a rule's encoding would cost per packet is done once per change. A change
//! (PASSIVE_LEVEL, one at a time: the token holder) writes the slot not in force, then switches
//! the in-force word. Classify reads the in-force word; when its summary shows that no rule
//! applies to the packet's kind, that is the answer (the word names one whole set); otherwise it
//! reads the slot, and keeps its answer only if the slot's sequence number did not move
//! meanwhile, so every classify decides with one whole rule set, the old or the new, never a mix.
//! It never waits for a writer: a writer only ever writes the slot not in force, so a reader
//! that finds its slot being rewritten reads the other, which no writer touches until it
//! switches again. Classify writes nothing shared and allocates nothing.

use core::sync::atomic::{AtomicU64, Ordering, fence};

use wfp_protocol::{
    CONFIG_VERBOSE, Config, DIRECTION_INBOUND, DIRECTION_OUTBOUND, FAMILY_IPV4, FAMILY_IPV6,
    FIELD_PROTOCOL, FIELD_REMOTE_PORT, LAYER_IP_PACKET, LAYER_TRANSPORT, MAX_RULES, RequestHeader,
    Rule,
};

use crate::driver::compiled_rule::{COMPILED_WORDS, CompiledRule, PacketForm};
use crate::driver::config::{InspectionConfig, PacketKey};
use crate::driver::layers::{CalloutLayer, Direction};
use crate::inject::IpFamily;

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
                directions: BOTH_DIRECTIONS,
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

    /// True when some rule selects a packet with `key` (as classify decides with
    /// [`SharedRules`]: the same compiled form). Compiles every rule on each call: for tests and
    /// control replies, not for classify. Any IRQL (no kernel call).
    pub fn matches(&self, key: &PacketKey) -> bool {
        let packet = PacketForm::of(key);
        self.active()
            .iter()
            .filter_map(CompiledRule::new)
            .any(|rule| rule.selects(&packet))
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
    match (transport, network) {
        (true, true) => BOTH_LAYERS,
        (true, false) => LAYER_TRANSPORT,
        (false, true) => LAYER_IP_PACKET,
        (false, false) => 0,
    }
}

/// Both direction bits, and both layer bits (disjoint bits: named once, not ORed per call).
const BOTH_DIRECTIONS: u8 = DIRECTION_INBOUND | DIRECTION_OUTBOUND;
const BOTH_LAYERS: u8 = LAYER_TRANSPORT | LAYER_IP_PACKET;

fn applies(rule: &Rule, family: IpFamily, direction: Direction, network: bool) -> bool {
    rule.family == family_code(family)
        && rule.directions & direction_bit(direction) != 0
        && rule.layers & layer_bits(!network, network) != 0
}

/// One slot: a sequence number (odd while it is written), the compiled rules' count and words.
/// Only rules that select something are stored.
#[derive(Debug)]
struct Slot {
    sequence: AtomicU64,
    count: AtomicU64,
    rules: [[AtomicU64; COMPILED_WORDS]; MAX_RULES],
}

impl Slot {
    fn new() -> Self {
        Self {
            sequence: AtomicU64::new(0),
            count: AtomicU64::new(0),
            rules: core::array::from_fn(|_| core::array::from_fn(|_| AtomicU64::new(0))),
        }
    }
}

/// The in-force word: bit 0 the slot in force; bits 1 and 2 whether some rule of that slot's set
/// is for IPv4, for IPv6 ([`SharedRules::inspects`]); bits 16..32 the packet kinds some rule of
/// that set applies to (the OR of its compiled rules' kinds). One store sets all of them, so a
/// reader's one load sees the index and the summary of the same set.
const IN_FORCE_INDEX: u64 = 1;
const IN_FORCE_V4: u64 = 2;
const IN_FORCE_V6: u64 = 4;
const IN_FORCE_KINDS_SHIFT: u32 = 16;

/// Classify's copy of the rules (see the module's documentation).
#[derive(Debug)]
pub struct SharedRules {
    in_force: AtomicU64,
    slots: [Slot; 2],
}

impl SharedRules {
    /// A copy holding `rules`.
    pub fn new(rules: &Rules) -> Self {
        let shared = Self {
            in_force: AtomicU64::new(0),
            slots: [Slot::new(), Slot::new()],
        };
        shared.publish(rules);
        shared
    }

    /// Makes `rules` the set classify decides with: compiles them into the slot not in force,
    /// then switches the in-force word to it with the set's summary. One writer at a time (the
    /// caller holds the loader's token, or owns the copy). Any IRQL (no kernel call; the driver
    /// publishes at PASSIVE_LEVEL); never waits.
    pub fn publish(&self, rules: &Rules) {
        let next = (self.in_force.load(Ordering::Relaxed) & IN_FORCE_INDEX) ^ 1;
        let Some(slot) = self.slots.get(next as usize) else {
            return;
        };
        let sequence = slot.sequence.load(Ordering::Relaxed);
        slot.sequence
            .store(sequence.wrapping_add(1), Ordering::Relaxed);
        // The odd number is visible before any word changes.
        fence(Ordering::Release);
        let mut in_force = next;
        let mut count = 0usize;
        for rule in rules.active() {
            in_force |= match rule.family {
                FAMILY_IPV4 => IN_FORCE_V4,
                FAMILY_IPV6 => IN_FORCE_V6,
                _ => 0,
            };
            let (Some(compiled), Some(places)) = (CompiledRule::new(rule), slot.rules.get(count))
            else {
                continue;
            };
            in_force |= compiled.kinds() << IN_FORCE_KINDS_SHIFT;
            for (place, word) in places.iter().zip(compiled.words()) {
                place.store(word, Ordering::Relaxed);
            }
            count += 1;
        }
        slot.count.store(count as u64, Ordering::Relaxed);
        slot.sequence
            .store(sequence.wrapping_add(2), Ordering::Release);
        self.in_force.store(in_force, Ordering::Release);
    }

    /// True when some rule in force is for `family` (a classify with nothing to look for can
    /// stop early): one load. Any IRQL; writes nothing. A caller that asks this and then
    /// [`Self::matches`] may meet two sets, and still decides as one: a set with no rule for the
    /// family matches none of its packets either, so "no" here is that set's whole answer.
    #[inline]
    pub fn inspects(&self, family: IpFamily) -> bool {
        let bit = match family {
            IpFamily::V4 => IN_FORCE_V4,
            IpFamily::V6 => IN_FORCE_V6,
        };
        self.in_force.load(Ordering::Relaxed) & bit != 0
    }

    /// True when some rule in force selects a packet with `key`. A packet no rule's kinds cover
    /// is answered from the in-force word alone. Inlined into its two callers (one per layer
    /// kind) so the packet's form is built from the key's parts where they are, in registers.
    /// Any IRQL; writes nothing.
    #[inline(always)]
    pub fn matches(&self, key: &PacketKey) -> bool {
        let packet = PacketForm::of(key);
        loop {
            let in_force = self.in_force.load(Ordering::Acquire);
            if (in_force >> IN_FORCE_KINDS_SHIFT) & packet.kind == 0 {
                // The summary of the set this word names: none of its rules applies.
                return false;
            }
            let Some(slot) = self.slots.get((in_force & IN_FORCE_INDEX) as usize) else {
                return false;
            };
            let before = slot.sequence.load(Ordering::Acquire);
            if before & 1 != 0 {
                // Being rewritten: the in-force word moved on since it was read.
                core::hint::spin_loop();
                continue;
            }
            let count = slot.count.load(Ordering::Relaxed) as usize;
            let mut hit = false;
            for rule in slot.rules.iter().take(count) {
                let word = |offset: usize| {
                    rule.get(offset)
                        .map_or(0, |word| word.load(Ordering::Relaxed))
                };
                if CompiledRule::words_select(&packet, word) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn one_rule(port: u16) -> Rules {
        let mut rules = Rules::default();
        rules.push(Rule {
            family: FAMILY_IPV4,
            directions: DIRECTION_INBOUND | DIRECTION_OUTBOUND,
            layers: LAYER_TRANSPORT,
            fields: FIELD_REMOTE_PORT,
            remote_port: port,
            ..Rule::default()
        });
        rules
    }

    fn snapshot(slot: &Slot) -> (u64, u64, alloc::vec::Vec<u64>) {
        let words = slot
            .rules
            .iter()
            .flatten()
            .map(|word| word.load(Ordering::Relaxed));
        (
            slot.sequence.load(Ordering::Relaxed),
            slot.count.load(Ordering::Relaxed),
            words.collect(),
        )
    }

    #[test]
    fn the_summary_covers_only_the_kinds_a_rules_protocol_can_have() {
        let mut udp = one_rule(53);
        udp.rules[0].fields |= FIELD_PROTOCOL;
        udp.rules[0].protocol = wfp_protocol::PROTOCOL_UDP;
        let shared = SharedRules::new(&udp);
        let summary = shared.in_force.load(Ordering::Relaxed) >> IN_FORCE_KINDS_SHIFT;
        // IPv4, transport layers, both directions, protocols with ports only: kinds 1 and 5.
        assert_eq!(summary, 1 << 1 | 1 << 5);
        // A port criterion with a protocol that has no ports selects nothing: not stored.
        let mut icmp = udp;
        icmp.rules[0].protocol = 1;
        shared.publish(&icmp);
        let in_force = shared.in_force.load(Ordering::Relaxed);
        assert_eq!(in_force >> IN_FORCE_KINDS_SHIFT, 0);
        let slot = &shared.slots[(in_force & IN_FORCE_INDEX) as usize];
        assert_eq!(slot.count.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_publish_writes_only_the_slot_not_in_force_then_switches() {
        let shared = SharedRules::new(&one_rule(53));
        for port in [80, 443, 8080] {
            let before = shared.in_force.load(Ordering::Relaxed) & IN_FORCE_INDEX;
            let in_force = snapshot(&shared.slots[before as usize]);
            shared.publish(&one_rule(port));
            assert_eq!(
                snapshot(&shared.slots[before as usize]),
                in_force,
                "the slot readers may be reading is left alone"
            );
            let after = shared.in_force.load(Ordering::Relaxed) & IN_FORCE_INDEX;
            assert_ne!(after, before, "the new set is in force");
            let written = snapshot(&shared.slots[after as usize]);
            assert_eq!(written.0 % 2, 0, "its sequence number is even again");
            assert_eq!(written.1, 1);
        }
    }
}
