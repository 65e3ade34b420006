//! Thousands of control requests with random codes, lengths and contents, through the simulated
//! I/O manager into a loaded driver (host-built through the KMDF shell, or the shipped image):
//! every answer is one the protocol allows, a request that was refused changed nothing (the
//! configuration read back after each is the last one accepted, and `Parameters\InspectRules`
//! holds the last one accepted with CONFIG_PERSIST), and the stack records no violation. Shared by tests/control_fuzz.rs and tests/image_control.rs.

#![allow(dead_code)]

#[path = "saved_rules.rs"]
pub mod saved_rules;

use wfp_protocol::*;
use wfp_sim::kmdf_io::{Access, Caller, IoReply};
use wfp_sim::{RegistryValue, SimulatedStack};

const PATH: &str = r"\\.\WfpInjector";

/// A small deterministic generator (xorshift64*): the same requests every run.
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn header() -> Vec<u8> {
    let mut bytes = vec![0; RequestHeader::SIZE];
    RequestHeader::CURRENT.encode(&mut bytes);
    bytes
}

/// The configuration in force, read through the device.
pub fn read_config(sim: &SimulatedStack) -> Config {
    let reply = sim.device_io_control(PATH, IOCTL_GET_CONFIG, &header(), Config::SIZE);
    assert!(reply.status.is_success(), "get config: {:?}", reply.status);
    Config::decode(&reply.output).expect("a whole configuration")
}

/// A rule that is valid more often than not.
fn random_rule(random: &mut Random) -> Rule {
    let v6 = random.chance(40);
    let width: u8 = if v6 { 128 } else { 32 };
    let mut rule = Rule {
        family: if v6 { FAMILY_IPV6 } else { FAMILY_IPV4 },
        directions: 1 + random.below(3) as u8,
        layers: 1 + random.below(3) as u8,
        ..Rule::default()
    };
    let prefix = random.below(u64::from(width) + 1) as u8;
    rule.remote_prefix = prefix;
    for (index, byte) in rule.remote_address[..usize::from(width / 8)]
        .iter_mut()
        .enumerate()
    {
        let kept = usize::from(prefix).saturating_sub(index * 8).min(8);
        let mask = if kept == 0 { 0 } else { 0xFFu8 << (8 - kept) };
        *byte = random.next() as u8 & mask;
    }
    if random.chance(30) {
        rule.fields |= FIELD_PROTOCOL;
        rule.protocol = if random.chance(50) {
            PROTOCOL_UDP
        } else {
            PROTOCOL_TCP
        };
    }
    if random.chance(30) {
        rule.fields |= FIELD_REMOTE_PORT;
        rule.remote_port = 1 + random.below(65535) as u16;
    }
    if random.chance(20) {
        rule.fields |= FIELD_LOCAL_ADDRESS;
        rule.local_prefix = width;
        rule.local_address[..usize::from(width / 8)].fill(7);
    }
    rule
}

/// `generation`: the configuration's now; a set names it, 0 (any), or another (refused).
fn random_config(random: &mut Random, generation: u32) -> Config {
    let mut config = Config::empty();
    config.generation = match random.below(4) {
        0 | 1 => 0,
        2 => generation,
        _ => random.next() as u32,
    };
    config.rule_count = random.below(MAX_RULES as u64 + 1) as u32;
    for index in 0..config.rule_count as usize {
        config.rules[index] = random_rule(random);
    }
    if random.chance(30) {
        config.flags = CONFIG_VERBOSE;
    }
    if random.chance(20) {
        config.flags |= CONFIG_PERSIST;
    }
    config
}

/// One random request: (code, input, output length, caller, access).
fn random_request(random: &mut Random, generation: u32) -> (u32, Vec<u8>, usize, Caller, Access) {
    let code = match random.below(10) {
        0..=6 => ALL_CODES[random.below(ALL_CODES.len() as u64) as usize],
        7 | 8 => ctl_code(
            DEVICE_TYPE,
            0x800 + random.below(16) as u32,
            METHOD_BUFFERED,
            random.below(4) as u32,
        ),
        _ => random.next() as u32,
    };
    let mut input = if code == IOCTL_SET_CONFIG || random.chance(10) {
        let mut bytes = vec![0; Config::SIZE];
        random_config(random, generation).encode(&mut bytes);
        bytes
    } else {
        header()
    };
    match random.below(10) {
        // A byte or a few changed anywhere.
        0..=2 => {
            for _ in 0..=random.below(3) {
                let at = random.below(input.len() as u64) as usize;
                input[at] = random.next() as u8;
            }
        }
        // Cut or lengthened.
        3 => input.truncate(random.below(input.len() as u64 + 1) as usize),
        4 => input.extend((0..=random.below(64)).map(|_| random.next() as u8)),
        // Noise of any length.
        5 => {
            input = (0..random.below(1200))
                .map(|_| random.next() as u8)
                .collect()
        }
        _ => {}
    }
    let output = match random.below(4) {
        0 => random.below(1200) as usize,
        1 => 0,
        _ => Config::SIZE.max(CountersReply::SIZE),
    };
    let caller = if random.chance(5) {
        Caller::User
    } else {
        Caller::Administrator
    };
    let access = if random.chance(10) {
        Access::READ
    } else {
        Access::READ_WRITE
    };
    (code, input, output, caller, access)
}

/// The statuses a request may end with (NTSTATUS values, as the I/O manager reports them).
const ALLOWED: [u32; 7] = [
    0,           // STATUS_SUCCESS
    0xC000_022D, // STATUS_RETRY (a set naming another generation)
    0xC000_000D, // STATUS_INVALID_PARAMETER
    0xC000_0010, // STATUS_INVALID_DEVICE_REQUEST
    0xC000_0023, // STATUS_BUFFER_TOO_SMALL
    0xC000_0022, // STATUS_ACCESS_DENIED (the I/O manager's, before the driver)
    0xC000_009A, // STATUS_INSUFFICIENT_RESOURCES (never planned here: must not appear)
];

/// Sends `rounds` random requests; returns how many the driver accepted, and how many of those
/// changed the configuration.
pub fn run(sim: &SimulatedStack, seed: u64, rounds: usize) -> (usize, usize) {
    let mut random = Random::new(seed);
    let mut expected = read_config(sim);
    let mut persisted = sim.parameter(PERSISTED_VALUE_NAME);
    let mut persists = 0;
    let mut accepted = 0;
    let mut changes = 0;
    for round in 0..rounds {
        let (code, input, output, caller, access) =
            random_request(&mut random, expected.generation);
        let reply: IoReply = sim.device_io_control_as(PATH, caller, access, code, &input, output);
        let status = reply.status.0 as u32;
        assert!(
            ALLOWED[..6].contains(&status),
            "round {round}: code {code:#x}, {} bytes in, {output} out: {:?}",
            input.len(),
            reply.status
        );
        if reply.status.is_success() {
            accepted += 1;
            assert!(reply.information <= output, "round {round}");
            match code {
                IOCTL_SET_CONFIG => {
                    let set = Config::decode(&input).unwrap();
                    assert!(
                        [0, expected.generation].contains(&set.generation),
                        "round {round}: a set against generation {} applied at {}",
                        set.generation,
                        expected.generation
                    );
                    // A reply never carries CONFIG_PERSIST; the value holds the set without it,
                    // at generation 0.
                    let applied = Config {
                        flags: set.flags & !CONFIG_PERSIST,
                        ..set
                    };
                    if set.flags & CONFIG_PERSIST != 0 {
                        persisted = Some(RegistryValue::Binary(saved_rules::saved_value(&applied)));
                        persists += 1;
                    }
                    expected = Config {
                        generation: expected.generation.wrapping_add(1).max(1),
                        ..applied
                    };
                    changes += 1;
                }
                IOCTL_CLEAR_CONFIG => {
                    expected = Config {
                        generation: expected.generation.wrapping_add(1).max(1),
                        ..Config::empty()
                    };
                    changes += 1;
                }
                IOCTL_GET_STATUS => {
                    let status = StatusReply::decode(&reply.output).expect("status");
                    assert_eq!(status.rules, expected.rule_count, "round {round}");
                }
                IOCTL_GET_CONFIG => {
                    assert_eq!(Config::decode(&reply.output), Ok(expected), "round {round}");
                }
                IOCTL_GET_COUNTERS => {
                    CountersReply::decode(&reply.output).expect("counters");
                }
                other => panic!("round {round}: {other:#x} succeeded"),
            }
        }
        if status == ALLOWED[1] {
            let set = Config::decode(&input).expect("STATUS_RETRY answers a whole set only");
            assert!(
                code == IOCTL_SET_CONFIG && ![0, expected.generation].contains(&set.generation),
                "round {round}: STATUS_RETRY for generation {} at {}",
                set.generation,
                expected.generation
            );
        }
        if round % 8 == 0 || !reply.status.is_success() {
            assert_eq!(
                read_config(sim),
                expected,
                "round {round}: {:?}",
                reply.status
            );
        }
        assert_eq!(
            sim.parameter(PERSISTED_VALUE_NAME),
            persisted,
            "round {round}: {:?}",
            reply.status
        );
        let violations = sim.violations();
        assert!(violations.is_empty(), "round {round}: {violations:?}");
    }
    assert!(
        persists > 10,
        "enough persisting sets got through: {persists}"
    );
    (accepted, changes)
}
