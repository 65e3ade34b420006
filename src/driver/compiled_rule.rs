//! One inspection rule in the form classify tests a packet against.
//!
//! A wfp-protocol [`Rule`] says what it selects in the control channel's terms: a family code,
//! direction and layer bits, optional fields, addresses with prefix lengths. Testing a packet
//! against that form costs per rule what could be done once: decoding the family and the
//! direction and layer bits, building prefix masks, widening the packet's addresses. A
//! [`CompiledRule`] is what is left once that is done when the rule set is published (PASSIVE,
//! not hot): which packet kinds it applies to as a bit set, the protocol and port criteria as a
//! mask and a value over one word, and each address criterion as masks and masked values over
//! two words. A [`PacketForm`] is the packet put into the same terms once per classify, so that a
//! rule is tested by a few ANDs and compares.
//!
//! The meaning is the protocol's (`Rule`'s documentation): the family, a direction and a layer
//! kind of the rule; the remote address within its prefix (prefix 0: any); with
//! `FIELD_LOCAL_ADDRESS` the local address within its prefix; with `FIELD_PROTOCOL` the protocol;
//! with `FIELD_REMOTE_PORT` the remote port, for TCP and UDP only (for ICMP the layers put the
//! type and code in the port fields). Rules the control channel would refuse still get a
//! definite meaning: bits past a prefix are ignored, a prefix longer than 128 bits selects
//! nothing, and a packet's IPv4 address is its 4 bytes followed by zeros (so an IPv4 rule whose
//! prefix reaches past 32 bits selects only where those bits of its address are zero).

use wfp_protocol::{
    DIRECTION_INBOUND, DIRECTION_OUTBOUND, FAMILY_IPV4, FAMILY_IPV6, FIELD_LOCAL_ADDRESS,
    FIELD_PROTOCOL, FIELD_REMOTE_PORT, LAYER_IP_PACKET, LAYER_TRANSPORT, PROTOCOL_TCP,
    PROTOCOL_UDP, Rule,
};

use crate::driver::config::PacketKey;
use crate::driver::layers::Direction;
use crate::inject::RemoteAddress;

/// Words of one compiled rule (see [`CompiledRule::words`]).
pub(crate) const COMPILED_WORDS: usize = 9;

/// Packet kinds: family x direction x layer kind x whether the protocol carries ports. A kind is
/// one bit of a 16-bit set.
const KIND_V6: u32 = 8;
const KIND_OUTBOUND: u32 = 4;
const KIND_NETWORK: u32 = 2;
const KIND_PORTS: u32 = 1;

/// The kinds' bits in word 0 of a compiled rule.
const KINDS: u64 = 0xFFFF;
/// Where the selector (protocol, port) mask sits in word 0: bits 16..40.
const SELECT_SHIFT: u32 = 16;
/// The selector mask's bits in word 0.
const SELECT: u64 = 0xFF_FFFF << SELECT_SHIFT;
/// How far the selector value (bits 40..64 of word 0) is from the mask.
const SELECT_VALUE_SHIFT: u32 = 24;

/// The kind bit of a packet of this family, direction, layer kind and protocol.
#[inline(always)]
fn kind_bit(v6: bool, outbound: bool, network: bool, ports: bool) -> u64 {
    let index = if v6 { KIND_V6 } else { 0 }
        | if outbound { KIND_OUTBOUND } else { 0 }
        | if network { KIND_NETWORK } else { 0 }
        | if ports { KIND_PORTS } else { 0 };
    1 << index
}

/// The selector word: the protocol in bits 0..8, the remote port in bits 8..24.
#[inline(always)]
fn selector(protocol: u8, port: u16) -> u64 {
    u64::from(protocol) | u64::from(port) << 8
}

/// Sixteen address bytes (network order) as two words, by one 16-byte load in the machine's
/// byte order: masks, values and packets all go through this one conversion, so which half is
/// which and the order of bytes within a word do not matter to a comparison, and none needs a
/// byte swap.
#[inline(always)]
fn halves(bytes: &[u8; 16]) -> [u64; 2] {
    let wide = u128::from_ne_bytes(*bytes);
    [wide as u64, (wide >> 64) as u64]
}

/// A packet, in the terms of [`CompiledRule`] (built once per classify).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketForm {
    /// Its kind's bit.
    pub(crate) kind: u64,
    /// Its selector word, where word 0 of a rule holds the selector mask.
    select: u64,
    /// The remote address; IPv4 is its 4 bytes, then zeros.
    remote: [u64; 2],
    /// The local address (IPv4 in the first 4 bytes, the rest zero: [`PacketKey`]'s form).
    local: [u64; 2],
}

impl PacketForm {
    /// The form of `key`. Any IRQL (no kernel call).
    #[inline(always)]
    pub(crate) fn of(key: &PacketKey) -> Self {
        let (v6, remote) = match key.remote_address {
            RemoteAddress::V4([a, b, c, d]) => (
                false,
                halves(&[a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            ),
            RemoteAddress::V6(address, _) => (true, halves(&address)),
        };
        let ports = key.protocol == PROTOCOL_TCP || key.protocol == PROTOCOL_UDP;
        Self {
            kind: kind_bit(v6, key.direction == Direction::Outbound, key.network, ports),
            select: selector(key.protocol, key.remote_port) << SELECT_SHIFT,
            remote,
            local: halves(&key.local_address),
        }
    }
}

/// The mask of the first `prefix` bits of 16 bytes; `None` past 128.
fn prefix_mask(prefix: u8) -> Option<[u8; 16]> {
    if prefix > 128 {
        return None;
    }
    let mut mask = [0u8; 16];
    for (index, byte) in mask.iter_mut().enumerate() {
        let kept = usize::from(prefix).saturating_sub(index * 8).min(8);
        *byte = if kept == 0 { 0 } else { 0xFF << (8 - kept) };
    }
    Some(mask)
}

/// An address criterion: the packet's address AND `mask` equals `value`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Prefix {
    mask: [u64; 2],
    value: [u64; 2],
}

impl Prefix {
    /// `address/prefix`; `None` when it selects nothing.
    fn new(address: &[u8; 16], prefix: u8) -> Option<Self> {
        let mask = prefix_mask(prefix)?;
        let mut value = *address;
        for (byte, mask) in value.iter_mut().zip(mask) {
            *byte &= mask;
        }
        Some(Self {
            mask: halves(&mask),
            value: halves(&value),
        })
    }

    #[inline(always)]
    fn holds(mask: [u64; 2], value: [u64; 2], address: [u64; 2]) -> bool {
        ((address[0] & mask[0]) ^ value[0]) | ((address[1] & mask[1]) ^ value[1]) == 0
    }
}

/// One rule, compiled (see the module's documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CompiledRule {
    /// The packet kinds it applies to, one bit each; never empty.
    kinds: u16,
    /// Which bits of the packet's selector word it tests, and their value.
    select_mask: u32,
    select_value: u32,
    remote: Prefix,
    /// Mask 0 and value 0 (any) without `FIELD_LOCAL_ADDRESS`.
    local: Prefix,
}

impl CompiledRule {
    /// `rule` compiled; `None` when it selects no packet at all. Any IRQL (no kernel call).
    pub(crate) fn new(rule: &Rule) -> Option<Self> {
        let v6 = match rule.family {
            FAMILY_IPV4 => false,
            FAMILY_IPV6 => true,
            _ => return None,
        };
        let port = rule.fields & FIELD_REMOTE_PORT != 0;
        // With a protocol criterion, only the kinds of that protocol: whether it carries ports
        // is known (a port criterion with ICMP thus applies to no kind and is not stored).
        let protocol_ports = (rule.fields & FIELD_PROTOCOL != 0)
            .then_some(rule.protocol == PROTOCOL_TCP || rule.protocol == PROTOCOL_UDP);
        let mut kinds = 0u16;
        for outbound in [false, true] {
            let direction = if outbound {
                DIRECTION_OUTBOUND
            } else {
                DIRECTION_INBOUND
            };
            for network in [false, true] {
                let layer = if network {
                    LAYER_IP_PACKET
                } else {
                    LAYER_TRANSPORT
                };
                for ports in [false, true] {
                    if rule.directions & direction != 0
                        && rule.layers & layer != 0
                        && (ports || !port)
                        && protocol_ports.is_none_or(|carries| carries == ports)
                    {
                        kinds |= kind_bit(v6, outbound, network, ports) as u16;
                    }
                }
            }
        }
        if kinds == 0 {
            return None;
        }
        let protocol = if rule.fields & FIELD_PROTOCOL != 0 {
            0xFF
        } else {
            0
        };
        let port = if port { 0xFFFF } else { 0 };
        let select_mask = selector(protocol, port) as u32;
        let select_value = selector(rule.protocol, rule.remote_port) as u32 & select_mask;
        let remote = Prefix::new(&rule.remote_address, rule.remote_prefix)?;
        let local = if rule.fields & FIELD_LOCAL_ADDRESS != 0 {
            Prefix::new(&rule.local_address, rule.local_prefix)?
        } else {
            Prefix::default()
        };
        Some(Self {
            kinds,
            select_mask,
            select_value,
            remote,
            local,
        })
    }

    /// The packet kinds it applies to (one bit each, as [`PacketForm::kind`]).
    pub(crate) fn kinds(&self) -> u64 {
        u64::from(self.kinds)
    }

    /// The rule as words: 0 the kinds (bits 0..16), the selector mask (16..40) and value
    /// (40..64); 1 and 2 the remote mask, 3 and 4 its value; 5 to 8 the same for the local
    /// address. The order is the order [`Self::words_select`] reads them in: the cheap and
    /// most selective tests first. Any IRQL (no kernel call).
    pub(crate) fn words(&self) -> [u64; COMPILED_WORDS] {
        [
            u64::from(self.kinds)
                | u64::from(self.select_mask) << SELECT_SHIFT
                | u64::from(self.select_value) << (SELECT_SHIFT + SELECT_VALUE_SHIFT),
            self.remote.mask[0],
            self.remote.mask[1],
            self.remote.value[0],
            self.remote.value[1],
            self.local.mask[0],
            self.local.mask[1],
            self.local.value[0],
            self.local.value[1],
        ]
    }

    /// True when the rule whose words `word` reads (by index, as [`Self::words`] wrote them)
    /// selects `packet`. Reads a word only when the tests before it passed. Any IRQL (no kernel
    /// call).
    #[inline(always)]
    pub(crate) fn words_select(packet: &PacketForm, word: impl Fn(usize) -> u64) -> bool {
        let head = word(0);
        if head & KINDS & packet.kind == 0 {
            return false;
        }
        // The selector value sits SELECT_VALUE_SHIFT bits above its mask.
        if ((packet.select & head) ^ (head >> SELECT_VALUE_SHIFT)) & SELECT != 0 {
            return false;
        }
        Prefix::holds([word(1), word(2)], [word(3), word(4)], packet.remote)
            && Prefix::holds([word(5), word(6)], [word(7), word(8)], packet.local)
    }

    /// True when the rule selects `packet`. Any IRQL (no kernel call).
    pub(crate) fn selects(&self, packet: &PacketForm) -> bool {
        let words = self.words();
        Self::words_select(packet, |index| words.get(index).copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::Prefix;

    #[test]
    fn an_address_holds_only_when_both_halves_agree_under_the_mask() {
        let all = [u64::MAX; 2];
        assert!(Prefix::holds(all, [5, 7], [5, 7]));
        // The same difference in both halves must not cancel out.
        assert!(!Prefix::holds(all, [0, 0], [1, 1]));
        assert!(!Prefix::holds(all, [0, 0], [0, 1]));
        assert!(!Prefix::holds(all, [0, 0], [1, 0]));
        // Bits outside the mask do not count.
        assert!(Prefix::holds([0xF0, 0], [0x10, 0], [0x1F, 9]));
    }
}
