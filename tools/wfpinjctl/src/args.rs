//! The command line.

use crate::rule::{RuleArgs, parse_direction, parse_layer, parse_prefix, parse_protocol};

/// What `--help` prints.
pub const USAGE: &str = "\
wfpinjctl: see and steer the wfp-injector driver (run as administrator)

Usage:
  wfpinjctl [--json] status
  wfpinjctl [--json] counters [--watch SECONDS]
  wfpinjctl [--json] inspect list
  wfpinjctl [--json] inspect add    RULE [--persist]
  wfpinjctl [--json] inspect remove RULE [--persist]
  wfpinjctl [--json] inspect clear [--persist]
  wfpinjctl --help | --version

--persist: the configuration the change leaves is also written to the driver's registry
  (Parameters\\InspectRules), so the next load starts from it instead of the Inspect* values;
  'reg delete' of that value returns to them. Without it a change lasts until the driver
  unloads. A remove of a rule not in force fails and persists nothing. --help and --version
  ignore --persist and --json.

RULE (traffic the driver inspects; a packet is inspected when any rule selects it):
  --remote ADDRESS[/PREFIX]   remote IPv4 or IPv6 address or network (default: any)
  --local ADDRESS[/PREFIX]    local address or network (default: any)
  --port N                    remote port, TCP and UDP only (default, or 0: any)
  --protocol NAME|N           tcp, udp, icmp, icmpv6 or 1-255 (default: any)
  --direction in|out|both     (default: both)
  --layer transport|ip-packet|both
                              where the driver inspects it (default: transport)
  --ip-version 4|6            needed only when no address is given

Examples:
  wfpinjctl inspect add --remote 192.0.2.0/24 --protocol udp --port 53
  wfpinjctl inspect add --remote 192.0.2.0/24 --persist
  wfpinjctl inspect add --local 2001:db8::1 --remote 2001:db8::2 --direction in
  wfpinjctl counters --watch 5
";

/// `inspect` subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspect {
    /// `inspect list`.
    List,
    /// `inspect add RULE`.
    Add(wfp_protocol::Rule),
    /// `inspect remove RULE`.
    Remove(wfp_protocol::Rule),
    /// `inspect clear`.
    Clear,
}

/// A command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `status`.
    Status,
    /// `counters [--watch SECONDS]`.
    Counters {
        /// Seconds between rounds, if watching.
        watch: Option<u32>,
    },
    /// `inspect ...`.
    Inspect(Inspect),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The command.
    pub command: Command,
    /// `--json`.
    pub json: bool,
    /// `--persist` (inspect add, remove and clear only): the change is written to the registry
    /// for the next load (CONFIG_PERSIST).
    pub persist: bool,
    /// What the rule options left out, for standard error.
    pub warnings: Vec<String>,
}

fn value<'a>(
    arguments: &mut impl Iterator<Item = &'a String>,
    option: &str,
) -> Result<&'a str, String> {
    arguments
        .next()
        .map(String::as_str)
        .ok_or_else(|| format!("{option} needs a value"))
}

fn rule_args<'a, I: Iterator<Item = &'a String>>(
    arguments: &mut std::iter::Peekable<I>,
) -> Result<RuleArgs, String> {
    let mut rule = RuleArgs::default();
    while let Some(option) = arguments.next() {
        let option = option.as_str();
        let seen = match option {
            "--remote" => rule
                .remote
                .replace(parse_prefix(value(arguments, option)?, option)?)
                .is_some(),
            "--local" => rule
                .local
                .replace(parse_prefix(value(arguments, option)?, option)?)
                .is_some(),
            "--port" if arguments.peek().is_none_or(|next| next.starts_with("--")) => {
                // An answer file's %REMOTE_PORT% the kit left empty: no port criterion.
                rule.port.replace(0).is_some()
            }
            "--port" => {
                let text = value(arguments, option)?;
                let Ok(port) = text.parse::<u16>() else {
                    return Err(format!("--port: '{text}' is not a port from 0 to 65535"));
                };
                rule.port.replace(port).is_some()
            }
            "--protocol" => rule
                .protocol
                .replace(parse_protocol(value(arguments, option)?)?)
                .is_some(),
            "--direction" => rule
                .directions
                .replace(parse_direction(value(arguments, option)?)?)
                .is_some(),
            "--layer" => rule
                .layers
                .replace(parse_layer(value(arguments, option)?)?)
                .is_some(),
            "--ip-version" => {
                let text = value(arguments, option)?;
                let family = match text {
                    "4" | "v4" | "V4" => wfp_protocol::FAMILY_IPV4,
                    "6" | "v6" | "V6" => wfp_protocol::FAMILY_IPV6,
                    _ => return Err(format!("--ip-version: '{text}' is not 4 or 6")),
                };
                rule.family.replace(family).is_some()
            }
            other => return Err(format!("unknown rule option '{other}'")),
        };
        if seen {
            return Err(format!("{option} given twice"));
        }
    }
    Ok(rule)
}

/// Parses the arguments after the program name.
pub fn parse(arguments: &[String]) -> Result<Invocation, String> {
    // `--json` may stand anywhere, and so may `--persist` (checked against the command below).
    let json = arguments.iter().any(|argument| argument == "--json");
    let persist = arguments.iter().any(|argument| argument == "--persist");
    let arguments: Vec<&String> = arguments
        .iter()
        .filter(|argument| *argument != "--json" && *argument != "--persist")
        .collect();
    let mut rest = arguments.into_iter().peekable();
    let early = match rest.peek().map(|flag| flag.as_str()) {
        Some("--help" | "-h" | "/?") => Some(Command::Help),
        Some("--version") => Some(Command::Version),
        _ => None,
    };
    if let Some(command) = early {
        return Ok(Invocation {
            command,
            json,
            persist: false,
            warnings: Vec::new(),
        });
    }
    let mut warnings = Vec::new();
    let mut rule = |rest: &mut std::iter::Peekable<std::vec::IntoIter<&String>>| {
        let (rule, left_out) = rule_args(rest)?.rule()?;
        warnings.extend(left_out);
        Ok::<_, String>(rule)
    };
    let Some(word) = rest.next() else {
        return Err("no command given".into());
    };
    let command = match word.as_str() {
        "status" => Command::Status,
        "counters" => {
            let mut watch = None;
            while let Some(option) = rest.next() {
                match option.as_str() {
                    "--watch" => {
                        let text = value(&mut rest, "--watch")?;
                        match text.parse::<u32>() {
                            Ok(seconds @ 1..=86400) => watch = Some(seconds),
                            _ => {
                                return Err(format!(
                                    "--watch: '{text}' is not a number of seconds from 1 to 86400"
                                ));
                            }
                        }
                    }
                    other => return Err(format!("unknown counters option '{other}'")),
                }
            }
            Command::Counters { watch }
        }
        "inspect" => {
            let Some(action) = rest.next() else {
                return Err("inspect needs add, remove, list or clear".into());
            };
            match action.as_str() {
                "list" | "clear" if rest.peek().is_some() => {
                    return Err(format!("inspect {action} takes no options"));
                }
                "list" => Command::Inspect(Inspect::List),
                "clear" => Command::Inspect(Inspect::Clear),
                "add" => Command::Inspect(Inspect::Add(rule(&mut rest)?)),
                "remove" => Command::Inspect(Inspect::Remove(rule(&mut rest)?)),
                other => {
                    return Err(format!(
                        "unknown inspect action '{other}' (add, remove, list or clear)"
                    ));
                }
            }
        }
        other => return Err(format!("unknown command '{other}'")),
    };
    if let Some(extra) = rest.next() {
        return Err(format!("unexpected '{extra}'"));
    }
    let changes = matches!(
        command,
        Command::Inspect(Inspect::Add(_) | Inspect::Remove(_) | Inspect::Clear)
    );
    if persist && !changes {
        return Err("--persist goes with inspect add, remove or clear only".into());
    }
    Ok(Invocation {
        command,
        json,
        persist,
        warnings,
    })
}
