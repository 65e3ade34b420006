//! Which packets a rule set selects, as classify decides it, against the protocol's documented
//! meaning of a rule (wfp-protocol's `Rule`): many random rule sets and packets from a small
//! deterministic generator, each packet's answer from classify's copy (`SharedRules`, republished
//! over and over into the same slots) and from `Rules` compared with a matcher written here from
//! that documentation alone (criterion by criterion, each address as a number of its family's
//! width, not the driver's 16-byte form). The generator leans towards packets near a rule (its addresses with
//! a bit flipped around the prefix, its port and protocol) so both answers occur often.

use wfp_injector::driver::config::PacketKey;
use wfp_injector::driver::layers::Direction;
use wfp_injector::driver::rules::{Rules, SharedRules};
use wfp_injector::inject::{IpFamily, RemoteAddress};
use wfp_protocol::*;

/// splitmix64: small, deterministic, good enough to spread test cases.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn bytes(&mut self) -> [u8; 16] {
        let (a, b) = (self.next(), self.next());
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&a.to_le_bytes());
        out[8..].copy_from_slice(&b.to_le_bytes());
        out
    }
}

/// A few distinct values per byte so that addresses of rules and packets meet often.
fn address(generator: &mut Generator, width: usize) -> [u8; 16] {
    let mut out = [0u8; 16];
    for byte in out.iter_mut().take(width) {
        *byte = generator.pick(&[0, 1, 10, 0x80, 0xC0, 0xFE, 0xFF]);
    }
    out
}

/// `address` with the bits past `prefix` cleared (and the bytes past `width`).
fn canonical(mut address: [u8; 16], prefix: u8, width: usize) -> [u8; 16] {
    for (index, byte) in address.iter_mut().enumerate() {
        let kept = if index >= width {
            0
        } else {
            (prefix as usize).saturating_sub(index * 8).min(8)
        };
        *byte &= if kept == 0 { 0 } else { 0xFF << (8 - kept) };
    }
    address
}

/// A rule the control channel accepts (`Rule::check` passes).
fn valid_rule(generator: &mut Generator) -> Rule {
    let v6 = generator.chance(50);
    let (family, width) = if v6 {
        (FAMILY_IPV6, 16)
    } else {
        (FAMILY_IPV4, 4)
    };
    let bits = (width * 8) as u64;
    let mut rule = Rule {
        family,
        directions: generator.pick(&[
            DIRECTION_INBOUND,
            DIRECTION_OUTBOUND,
            DIRECTION_INBOUND | DIRECTION_OUTBOUND,
        ]),
        layers: generator.pick(&[
            LAYER_TRANSPORT,
            LAYER_IP_PACKET,
            LAYER_TRANSPORT | LAYER_IP_PACKET,
        ]),
        ..Rule::default()
    };
    rule.remote_prefix = if generator.chance(20) {
        0
    } else {
        generator.below(bits + 1) as u8
    };
    rule.remote_address = canonical(address(generator, width), rule.remote_prefix, width);
    if generator.chance(40) {
        rule.fields |= FIELD_LOCAL_ADDRESS;
        rule.local_prefix = generator.below(bits + 1) as u8;
        rule.local_address = canonical(address(generator, width), rule.local_prefix, width);
    }
    if generator.chance(50) {
        rule.fields |= FIELD_PROTOCOL;
        rule.protocol = generator.pick(&[PROTOCOL_TCP, PROTOCOL_UDP, 1, 58, 50, 255]);
    }
    let port_allowed = rule.fields & FIELD_PROTOCOL == 0
        || rule.protocol == PROTOCOL_TCP
        || rule.protocol == PROTOCOL_UDP;
    if port_allowed && generator.chance(50) {
        rule.fields |= FIELD_REMOTE_PORT;
        rule.remote_port = generator.pick(&[1, 53, 443, 5001, 65535]);
    }
    assert_eq!(rule.check(), Ok(()), "{rule:?}");
    rule
}

/// Any bytes at all: what `Rules::from_config` would hold from an unchecked configuration.
fn arbitrary_rule(generator: &mut Generator) -> Rule {
    let mut rule = valid_rule(generator);
    match generator.below(9) {
        8 => {
            // A prefix past the family's width with address bytes past it set.
            rule.remote_prefix = 33 + generator.below(100) as u8;
            rule.remote_address = generator.bytes();
        }
        0 => rule.family = generator.next() as u8,
        1 => rule.directions = generator.next() as u8,
        2 => rule.layers = generator.next() as u8,
        3 => rule.remote_prefix = generator.next() as u8,
        4 => rule.local_prefix = generator.next() as u8,
        5 => rule.remote_address = generator.bytes(),
        6 => rule.local_address = generator.bytes(),
        _ => {
            rule.fields = generator.next() as u8;
            rule.protocol = generator.next() as u8;
            rule.remote_port = generator.next() as u16;
        }
    }
    rule
}

/// `address` with one bit near `prefix` flipped (or unchanged).
fn near(generator: &mut Generator, mut address: [u8; 16], prefix: u8, width: usize) -> [u8; 16] {
    if generator.chance(30) {
        return address;
    }
    let around = i64::from(prefix) + generator.below(5) as i64 - 3;
    let bit = around.clamp(0, (width * 8) as i64 - 1) as usize;
    address[bit / 8] ^= 0x80 >> (bit % 8);
    address
}

/// A packet, most often near one of `rules`.
fn packet(generator: &mut Generator, rules: &[Rule]) -> PacketKey {
    let base = if rules.is_empty() || generator.chance(20) {
        valid_rule(generator)
    } else {
        rules[generator.below(rules.len() as u64) as usize]
    };
    let v6 = match base.family {
        FAMILY_IPV4 => false,
        FAMILY_IPV6 => true,
        _ => generator.chance(50),
    };
    let width = if v6 { 16 } else { 4 };
    let remote = near(generator, base.remote_address, base.remote_prefix, width);
    let local = if base.fields & FIELD_LOCAL_ADDRESS != 0 {
        near(generator, base.local_address, base.local_prefix, width)
    } else {
        address(generator, width)
    };
    // PacketKey's form: IPv4 in the first 4 bytes, the rest zero.
    let local = canonical(local, 128, width);
    let protocol = if generator.chance(50) {
        base.protocol
    } else {
        generator.pick(&[PROTOCOL_TCP, PROTOCOL_UDP, 1, 58, 0])
    };
    let remote_port = if generator.chance(60) {
        base.remote_port
    } else {
        generator.pick(&[0, 53, 443, 5001, 65535])
    };
    let remote_address = if v6 {
        RemoteAddress::V6(remote, generator.below(3) as u32)
    } else {
        RemoteAddress::V4([remote[0], remote[1], remote[2], remote[3]])
    };
    PacketKey {
        protocol,
        remote_address,
        remote_port,
        local_address: local,
        direction: if generator.chance(50) {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        network: generator.chance(50),
    }
}

/// The first `prefix` bits of a `width`-bit number (a prefix length of the protocol's range).
fn network_bits(value: u128, prefix: u8, width: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        value >> (width - u32::from(prefix))
    }
}

/// An address's own width and value: IPv4 its first 4 bytes as a 32-bit number, IPv6 all 16
/// (the protocol: "IPv4 uses the first 4 bytes", network order).
fn number(family: u8, bytes: &[u8; 16]) -> (u32, u128) {
    if family == FAMILY_IPV4 {
        let four = [bytes[0], bytes[1], bytes[2], bytes[3]];
        (32, u128::from(u32::from_be_bytes(four)))
    } else {
        (128, u128::from_be_bytes(*bytes))
    }
}

/// A checked rule's meaning, criterion by criterion as wfp-protocol's `Rule` documents it: "a
/// rule selects traffic of one family, in the directions and at the layers of its bits, whose
/// remote address is in remote_address/remote_prefix, and, when its fields say so, whose local
/// address is in local_address/local_prefix, whose remote port is remote_port (TCP and UDP
/// only), whose protocol is protocol".
fn reference(rule: &Rule, key: &PacketKey) -> bool {
    let (family, remote) = match key.remote_address {
        RemoteAddress::V4(four) => {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&four);
            (FAMILY_IPV4, bytes)
        }
        RemoteAddress::V6(address, _) => (FAMILY_IPV6, address),
    };
    if rule.family != family {
        return false;
    }
    let direction_bit = if key.direction == Direction::Inbound {
        DIRECTION_INBOUND
    } else {
        DIRECTION_OUTBOUND
    };
    if rule.directions & direction_bit == 0 {
        return false;
    }
    let layer_bit = if key.network {
        LAYER_IP_PACKET
    } else {
        LAYER_TRANSPORT
    };
    if rule.layers & layer_bit == 0 {
        return false;
    }
    let in_prefix = |address: &[u8; 16], network: &[u8; 16], prefix: u8| {
        let (width, address) = number(family, address);
        let (_, network) = number(family, network);
        network_bits(address, prefix, width) == network_bits(network, prefix, width)
    };
    if !in_prefix(&remote, &rule.remote_address, rule.remote_prefix) {
        return false;
    }
    if rule.fields & FIELD_LOCAL_ADDRESS != 0
        && !in_prefix(&key.local_address, &rule.local_address, rule.local_prefix)
    {
        return false;
    }
    if rule.fields & FIELD_PROTOCOL != 0 && rule.protocol != key.protocol {
        return false;
    }
    if rule.fields & FIELD_REMOTE_PORT != 0 {
        let has_ports = matches!(key.protocol, PROTOCOL_TCP | PROTOCOL_UDP);
        return has_ports && rule.remote_port == key.remote_port;
    }
    true
}

fn rules_of(list: &[Rule]) -> Rules {
    let mut rules = [Rule::default(); MAX_RULES];
    rules[..list.len()].copy_from_slice(list);
    Rules::from_config(&Config {
        header: RequestHeader::CURRENT,
        flags: 0,
        rule_count: list.len() as u32,
        rules,
        ..Config::default()
    })
}

/// Runs `sets` random rule sets of up to MAX_RULES rules from `rule`, `packets` packets each,
/// through one `SharedRules` republished for every set; returns (selected, not selected). With
/// `checked`, each answer is the protocol's ([`reference`]); otherwise (rules the protocol gives
/// no meaning) classify's copy and `Rules` must only agree with each other.
fn compare(
    seed: u64,
    sets: usize,
    packets: usize,
    rule: fn(&mut Generator) -> Rule,
    checked: bool,
) -> (u64, u64) {
    let mut generator = Generator(seed);
    let shared = SharedRules::new(&Rules::default());
    let (mut selected, mut not_selected) = (0u64, 0u64);
    for set in 0..sets {
        let count = generator.below(MAX_RULES as u64 + 1) as usize;
        let list: Vec<Rule> = (0..count).map(|_| rule(&mut generator)).collect();
        let rules = rules_of(&list);
        shared.publish(&rules);
        for family in [IpFamily::V4, IpFamily::V6] {
            let code = match family {
                IpFamily::V4 => FAMILY_IPV4,
                IpFamily::V6 => FAMILY_IPV6,
            };
            assert_eq!(
                shared.inspects(family),
                list.iter().any(|rule| rule.family == code),
                "set {set}: inspects({family:?}) of {list:?}"
            );
        }
        for _ in 0..packets {
            let key = packet(&mut generator, &list);
            let expected = if checked {
                list.iter().any(|rule| reference(rule, &key))
            } else {
                rules.matches(&key)
            };
            assert_eq!(
                shared.matches(&key),
                expected,
                "set {set}: classify's copy, {key:?} against {list:?}"
            );
            assert_eq!(
                rules.matches(&key),
                expected,
                "set {set}: Rules, {key:?} against {list:?}"
            );
            if expected {
                selected += 1;
            } else {
                not_selected += 1;
            }
        }
    }
    (selected, not_selected)
}

#[test]
fn classify_selects_what_the_protocol_says_a_rule_selects() {
    let (selected, not_selected) = compare(0x5EED_0001, 3000, 200, valid_rule, true);
    // Both answers are common, or the comparison would say little.
    let total = selected + not_selected;
    assert!(selected * 10 > total, "{selected} of {total} selected");
    assert!(
        not_selected * 10 > total,
        "{not_selected} of {total} not selected"
    );
}

#[test]
fn one_rule_at_a_time_selects_what_the_protocol_says() {
    // Each criterion alone decides more often with one rule in the set.
    let mut generator = Generator(0x5EED_0002);
    let shared = SharedRules::new(&Rules::default());
    let (mut selected, mut total) = (0u64, 0u64);
    for _ in 0..20_000 {
        let rule = valid_rule(&mut generator);
        shared.publish(&rules_of(&[rule]));
        for _ in 0..8 {
            let key = packet(&mut generator, &[rule]);
            let expected = reference(&rule, &key);
            assert_eq!(shared.matches(&key), expected, "{key:?} against {rule:?}");
            selected += u64::from(expected);
            total += 1;
        }
    }
    assert!(selected * 10 > total, "{selected} of {total} selected");
}

#[test]
fn rules_the_control_channel_refuses_still_have_one_definite_meaning() {
    // Rules::from_config trusts its caller to have checked the configuration. The protocol gives
    // an unchecked rule no meaning; classify's copy must still read it as one definite rule set,
    // the same as `Rules` does (compiled_rule.rs documents that reading), and never panic.
    let (selected, _) = compare(0x5EED_0003, 3000, 100, arbitrary_rule, false);
    assert!(selected > 0);
}
