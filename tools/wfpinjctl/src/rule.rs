//! Inspection rules on the command line: `--remote ADDRESS[/PREFIX]`, `--local ADDRESS[/PREFIX]`,
//! `--port N`, `--protocol NAME|N`, `--direction in|out|both`, `--ip-version 4|6`, turned into
//! the protocol's [`Rule`] (and back, for `inspect list`).

use std::fmt;
use std::net::IpAddr;

use wfp_protocol::{
    DIRECTION_INBOUND, DIRECTION_OUTBOUND, FAMILY_IPV4, FAMILY_IPV6, FIELD_LOCAL_ADDRESS,
    FIELD_PROTOCOL, FIELD_REMOTE_PORT, LAYER_IP_PACKET, LAYER_TRANSPORT, PROTOCOL_TCP,
    PROTOCOL_UDP, Rule,
};

/// Protocol names the tool knows (IANA numbers).
const PROTOCOLS: [(&str, u8); 4] = [("icmp", 1), ("tcp", 6), ("udp", 17), ("icmpv6", 58)];

/// An address with its prefix length, as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// The address.
    pub address: IpAddr,
    /// Its prefix length (the address's width when none was given).
    pub length: u8,
}

/// Parses `ADDRESS` or `ADDRESS/LENGTH` (dotted IPv4 or IPv6); `what` names the option in the
/// error.
pub fn parse_prefix(text: &str, what: &str) -> Result<Prefix, String> {
    let (address_text, length_text) = match text.split_once('/') {
        Some((address, length)) => (address, Some(length)),
        None => (text, None),
    };
    let address: IpAddr = address_text
        .parse()
        .map_err(|_| format!("{what}: '{address_text}' is not an IPv4 or IPv6 address"))?;
    let width = if address.is_ipv4() { 32 } else { 128 };
    let length = match length_text {
        None => width,
        Some(length) => match length.parse::<u8>() {
            Ok(length) if length <= width => length,
            _ => {
                return Err(format!(
                    "{what}: '{length}' is not a prefix length from 0 to {width}"
                ));
            }
        },
    };
    let bytes = octets(address);
    let mut masked = bytes;
    mask(&mut masked, length);
    if masked != bytes {
        return Err(format!(
            "{what}: {text} has bits set past its /{length} prefix (the network is {}/{length})",
            address_of(address.is_ipv6(), masked)
        ));
    }
    Ok(Prefix { address, length })
}

fn octets(address: IpAddr) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    match address {
        IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => bytes = v6.octets(),
    }
    bytes
}

fn address_of(v6: bool, bytes: [u8; 16]) -> IpAddr {
    if v6 {
        IpAddr::from(bytes)
    } else {
        IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]])
    }
}

fn mask(bytes: &mut [u8; 16], length: u8) {
    for (index, byte) in bytes.iter_mut().enumerate() {
        let kept = usize::from(length).saturating_sub(index * 8).min(8);
        *byte &= if kept == 0 { 0 } else { 0xFFu8 << (8 - kept) };
    }
}

/// A protocol name (tcp, udp, icmp, icmpv6) or number 1-255.
pub fn parse_protocol(text: &str) -> Result<u8, String> {
    let lower = text.to_ascii_lowercase();
    if let Some((_, number)) = PROTOCOLS.iter().find(|(name, _)| *name == lower) {
        return Ok(*number);
    }
    match text.parse::<u8>() {
        Ok(number @ 1..) => Ok(number),
        _ => Err(format!(
            "--protocol: '{text}' is not tcp, udp, icmp, icmpv6 or a number from 1 to 255"
        )),
    }
}

/// A protocol's name if the tool knows one, else its number.
fn protocol_name(protocol: u8) -> String {
    match PROTOCOLS.iter().find(|(_, number)| *number == protocol) {
        Some((name, _)) => (*name).into(),
        None => protocol.to_string(),
    }
}

/// `in`, `inbound`, `out`, `outbound` or `both`, in any case.
pub fn parse_direction(text: &str) -> Result<u8, String> {
    match text.to_ascii_lowercase().as_str() {
        "in" | "inbound" => Ok(DIRECTION_INBOUND),
        "out" | "outbound" => Ok(DIRECTION_OUTBOUND),
        "both" => Ok(DIRECTION_INBOUND | DIRECTION_OUTBOUND),
        _ => Err(format!("--direction: '{text}' is not in, out or both")),
    }
}

/// `transport`, `ip-packet` or `both`, in any case.
pub fn parse_layer(text: &str) -> Result<u8, String> {
    match text.to_ascii_lowercase().as_str() {
        "transport" => Ok(LAYER_TRANSPORT),
        "ip-packet" | "ippacket" | "network" => Ok(LAYER_IP_PACKET),
        "both" => Ok(LAYER_TRANSPORT | LAYER_IP_PACKET),
        _ => Err(format!(
            "--layer: '{text}' is not transport, ip-packet or both"
        )),
    }
}

fn layer_name(layers: u8) -> &'static str {
    match layers {
        LAYER_TRANSPORT => "transport",
        LAYER_IP_PACKET => "ip-packet",
        _ => "both",
    }
}

/// A rule's layers, by name (JSON).
pub fn layers(rule: &Rule) -> &'static str {
    layer_name(rule.layers)
}

/// What the rule options said, before they are combined.
#[derive(Debug, Default, Clone)]
pub struct RuleArgs {
    /// `--remote`.
    pub remote: Option<Prefix>,
    /// `--local`.
    pub local: Option<Prefix>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--protocol`.
    pub protocol: Option<u8>,
    /// `--direction` (both when absent).
    pub directions: Option<u8>,
    /// `--ip-version`.
    pub family: Option<u8>,
    /// `--layer` (the transport layers when absent).
    pub layers: Option<u8>,
}

impl RuleArgs {
    /// The rule, with warnings about options it leaves out, or what is wrong with the
    /// combination. A port that selects nothing (0, or with a protocol that has no ports) is
    /// left out with a warning rather than refused: the HLK's answer file passes the kit's
    /// %REMOTE_PORT% whatever the variation's protocol, and its ICMP variations must still get
    /// their rule.
    pub fn rule(&self) -> Result<(Rule, Vec<String>), String> {
        let mut warnings = Vec::new();
        let families = [
            self.family,
            self.remote.map(|p| family_of(p.address)),
            self.local.map(|p| family_of(p.address)),
        ];
        let mut known = families.iter().flatten();
        let Some(&family) = known.next() else {
            return Err("say which IP version: --ip-version 4|6, or give an address".into());
        };
        if known.any(|other| *other != family) {
            return Err("the addresses and --ip-version name different IP versions".into());
        }
        let mut rule = Rule {
            family,
            directions: self
                .directions
                .unwrap_or(DIRECTION_INBOUND | DIRECTION_OUTBOUND),
            layers: self.layers.unwrap_or(LAYER_TRANSPORT),
            ..Rule::default()
        };
        if let Some(remote) = self.remote {
            rule.remote_address = octets(remote.address);
            rule.remote_prefix = remote.length;
        }
        if let Some(local) = self.local {
            rule.fields |= FIELD_LOCAL_ADDRESS;
            rule.local_address = octets(local.address);
            rule.local_prefix = local.length;
        }
        if let Some(protocol) = self.protocol {
            rule.fields |= FIELD_PROTOCOL;
            rule.protocol = protocol;
        }
        match (self.port, self.protocol) {
            (None, _) => {}
            (Some(0), _) => {
                warnings.push("--port 0 (or no value) is no port: the rule selects any port".into())
            }
            (Some(port), Some(protocol))
                if protocol != PROTOCOL_TCP && protocol != PROTOCOL_UDP =>
            {
                warnings.push(format!(
                    "--port {port} left out: protocol {} has no ports (the rule selects all its \
                     traffic)",
                    protocol_name(protocol)
                ));
            }
            (Some(port), _) => {
                rule.fields |= FIELD_REMOTE_PORT;
                rule.remote_port = port;
            }
        }
        rule.check()
            .map_err(|invalid| format!("not a valid rule: {invalid:?}"))?;
        Ok((rule, warnings))
    }
}

fn family_of(address: IpAddr) -> u8 {
    if address.is_ipv4() {
        FAMILY_IPV4
    } else {
        FAMILY_IPV6
    }
}

/// A rule as the options that make it (what `inspect list` prints, and what `inspect remove`
/// takes).
pub struct Options<'a>(pub &'a Rule);

impl fmt::Display for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = self.0;
        let v6 = rule.family == FAMILY_IPV6;
        write!(f, "--ip-version {}", if v6 { 6 } else { 4 })?;
        if rule.remote_prefix > 0 {
            let address = address_of(v6, rule.remote_address);
            write!(f, " --remote {address}/{}", rule.remote_prefix)?;
        }
        if rule.fields & FIELD_LOCAL_ADDRESS != 0 {
            let address = address_of(v6, rule.local_address);
            write!(f, " --local {address}/{}", rule.local_prefix)?;
        }
        if rule.fields & FIELD_REMOTE_PORT != 0 {
            write!(f, " --port {}", rule.remote_port)?;
        }
        if rule.fields & FIELD_PROTOCOL != 0 {
            write!(f, " --protocol {}", protocol_name(rule.protocol))?;
        }
        let direction = match rule.directions {
            DIRECTION_INBOUND => "in",
            DIRECTION_OUTBOUND => "out",
            _ => "both",
        };
        write!(f, " --direction {direction}")?;
        if rule.layers != LAYER_TRANSPORT {
            write!(f, " --layer {}", layer_name(rule.layers))?;
        }
        Ok(())
    }
}

/// A rule's fields for JSON: (family, directions, remote, local, port, protocol).
pub fn describe(
    rule: &Rule,
) -> (
    u8,
    &'static str,
    String,
    Option<String>,
    Option<u16>,
    Option<u8>,
) {
    let v6 = rule.family == FAMILY_IPV6;
    let remote = format!(
        "{}/{}",
        address_of(v6, rule.remote_address),
        rule.remote_prefix
    );
    let local = (rule.fields & FIELD_LOCAL_ADDRESS != 0).then(|| {
        format!(
            "{}/{}",
            address_of(v6, rule.local_address),
            rule.local_prefix
        )
    });
    let directions = match rule.directions {
        DIRECTION_INBOUND => "in",
        DIRECTION_OUTBOUND => "out",
        _ => "both",
    };
    (
        if v6 { 6 } else { 4 },
        directions,
        remote,
        local,
        (rule.fields & FIELD_REMOTE_PORT != 0).then_some(rule.remote_port),
        (rule.fields & FIELD_PROTOCOL != 0).then_some(rule.protocol),
    )
}
