//! wfpinjctl: status, counters and inspection rules of the wfp-injector driver, through its
//! control device (`\\.\WfpInjector`, docs/control.md).
//!
//! Everything but opening the device and sending a request is here and platform-neutral:
//! [`args`] parses the command line, [`rule`] turns rule arguments into the protocol's
//! [`wfp_protocol::Rule`] and back, [`output`] prints text or JSON, [`device`] names every
//! failure in words. [`run`] ties them together over any [`device::Device`]; the Windows binary
//! passes the real one (`windows.rs`), tests pass the driver built for the host.

pub mod args;
pub mod device;
pub mod output;
pub mod rule;
#[cfg(windows)]
pub mod windows;

use std::io::Write;

use wfp_protocol::{
    CONFIG_PERSIST, Config, CountersReply, IOCTL_CLEAR_CONFIG, IOCTL_GET_CONFIG,
    IOCTL_GET_COUNTERS, IOCTL_GET_STATUS, IOCTL_SET_CONFIG, MAX_RULES, RequestHeader, StatusReply,
    Wire,
};

use args::{Command, Inspect, Invocation};
use device::{Device, Failure};

/// Exit status: done.
pub const EXIT_OK: i32 = 0;
/// Exit status: the driver refused, or could not be reached.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: the command line is wrong.
pub const EXIT_USAGE: i32 = 2;

fn header() -> Vec<u8> {
    let mut bytes = vec![0; RequestHeader::SIZE];
    RequestHeader::CURRENT.encode(&mut bytes);
    bytes
}

/// A read request's reply, decoded.
fn read<T: Wire, D: Device + ?Sized>(device: &mut D, code: u32) -> Result<T, Failure> {
    let bytes = device.control(code, &header(), T::SIZE)?;
    T::decode(&bytes).map_err(|_| Failure::Reply(bytes.len()))
}

fn write_config<D: Device + ?Sized>(device: &mut D, config: &Config) -> Result<(), Failure> {
    let mut bytes = vec![0; Config::SIZE];
    config.encode(&mut bytes);
    device.control(IOCTL_SET_CONFIG, &bytes, 0).map(|_| ())
}

/// How many times `inspect add`/`remove` start over when another change came between their
/// read and their write.
const EDIT_ATTEMPTS: u32 = 8;

/// Reads the configuration, applies `change` (`false`: nothing to change), and sends it back
/// against the generation it read, so a change made in between is never undone: the driver
/// refuses such a set and this starts over from a new read. Whether a refusal was that race is
/// told by the generation (a new read names another one), not by the error code Windows maps
/// the driver's STATUS_RETRY to. `persist`: the set carries CONFIG_PERSIST, and is sent even
/// when `change` finds nothing to change (so the configuration in force is what the registry
/// keeps). The rules in force afterwards.
fn edit<D: Device + ?Sized>(
    device: &mut D,
    persist: bool,
    change: impl Fn(&mut Config) -> Result<bool, Failure>,
) -> Result<usize, Failure> {
    let mut attempts = 0;
    loop {
        let mut config: Config = read(device, IOCTL_GET_CONFIG)?;
        let based_on = config.generation;
        if !change(&mut config)? && !persist {
            return Ok(config.active().len());
        }
        if persist {
            config.flags |= CONFIG_PERSIST;
        }
        let Err(failure) = write_config(device, &config) else {
            return Ok(config.active().len());
        };
        let failure = if persist {
            failure.persisting()
        } else {
            failure
        };
        attempts += 1;
        let now: Config = read(device, IOCTL_GET_CONFIG).map_err(|_| failure.clone())?;
        if now.generation == based_on || attempts == EDIT_ATTEMPTS {
            return Err(failure);
        }
    }
}

/// What a command did, for the output.
enum Done {
    Status(StatusReply),
    Counters(Box<CountersReply>),
    Rules(Box<Config>),
    Changed(&'static str, usize),
}

fn execute<D: Device + ?Sized>(
    device: &mut D,
    command: &Command,
    persist: bool,
) -> Result<Done, Failure> {
    Ok(match command {
        Command::Status => Done::Status(read(device, IOCTL_GET_STATUS)?),
        Command::Counters { .. } => Done::Counters(Box::new(read(device, IOCTL_GET_COUNTERS)?)),
        Command::Inspect(Inspect::List) => Done::Rules(Box::new(read(device, IOCTL_GET_CONFIG)?)),
        // A persisted clear is a set of no rules (verbose logging off, as a clear) with
        // CONFIG_PERSIST: the clear request itself is never persisted.
        Command::Inspect(Inspect::Clear) if persist => {
            let mut empty = Config::empty();
            empty.flags = CONFIG_PERSIST;
            write_config(device, &empty).map_err(Failure::persisting)?;
            Done::Changed("cleared", 0)
        }
        Command::Inspect(Inspect::Clear) => {
            device.control(IOCTL_CLEAR_CONFIG, &header(), 0)?;
            Done::Changed("cleared", 0)
        }
        Command::Inspect(Inspect::Add(rule)) => {
            let count = edit(device, persist, |config| {
                if config.active().contains(rule) {
                    return Ok(false);
                }
                let count = config.active().len();
                if count == MAX_RULES {
                    return Err(Failure::Full);
                }
                config.rules[count] = *rule;
                config.rule_count += 1;
                Ok(true)
            })?;
            Done::Changed("added", count)
        }
        Command::Inspect(Inspect::Remove(rule)) => {
            let count = edit(device, persist, |config| {
                let Some(at) = config.active().iter().position(|each| each == rule) else {
                    return Err(Failure::NoSuchRule);
                };
                let count = config.active().len();
                config.rules.copy_within(at + 1..count, at);
                config.rules[count - 1] = Default::default();
                config.rule_count -= 1;
                Ok(true)
            })?;
            Done::Changed("removed", count)
        }
        Command::Help | Command::Version => unreachable!("answered without the device"),
    })
}

fn print(out: &mut dyn Write, json: bool, persist: bool, done: &Done) -> std::io::Result<()> {
    match (done, json) {
        (Done::Status(status), false) => output::status_text(out, status),
        (Done::Status(status), true) => output::status_json(out, status),
        (Done::Counters(counters), false) => output::counters_text(out, counters),
        (Done::Counters(counters), true) => output::counters_json(out, counters),
        (Done::Rules(config), false) => output::rules_text(out, config),
        (Done::Rules(config), true) => output::rules_json(out, config),
        (Done::Changed(what, count), false) if persist => writeln!(
            out,
            "{what}; {count} rule(s) in force, persisted for the next load"
        ),
        (Done::Changed(what, count), false) => writeln!(out, "{what}; {count} rule(s) in force"),
        // "persisted" always: a script reads the same fields whatever the options.
        (Done::Changed(what, count), true) => writeln!(
            out,
            "{{\"result\":\"{what}\",\"rules\":{count},\"persisted\":{persist}}}"
        ),
    }
}

/// Runs the command line `arguments` (without the program name): opens the device with
/// `open` (asking for write access only for changes), prints to `out`, errors to `err`, and
/// returns the exit status. `pause` waits between `counters --watch` rounds and says whether to
/// go on (the binary sleeps; tests stop it).
pub fn run<D: Device>(
    arguments: &[String],
    open: &mut dyn FnMut(bool) -> Result<D, Failure>,
    pause: &mut dyn FnMut(u32) -> bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let invocation: Invocation = match args::parse(arguments) {
        Ok(invocation) => invocation,
        Err(problem) => {
            let _ = writeln!(err, "wfpinjctl: {problem}\nTry 'wfpinjctl --help'.");
            return EXIT_USAGE;
        }
    };
    for warning in &invocation.warnings {
        let _ = writeln!(err, "wfpinjctl: warning: {warning}");
    }
    match invocation.command {
        Command::Help => {
            let _ = out.write_all(args::USAGE.as_bytes());
            return EXIT_OK;
        }
        Command::Version => {
            let _ = writeln!(out, "wfpinjctl {}", env!("CARGO_PKG_VERSION"));
            return EXIT_OK;
        }
        _ => {}
    }
    let changes = matches!(
        invocation.command,
        Command::Inspect(Inspect::Add(_) | Inspect::Remove(_) | Inspect::Clear)
    );
    let mut device = match open(changes) {
        Ok(device) => device,
        Err(failure) => {
            let _ = writeln!(err, "wfpinjctl: {failure}");
            return EXIT_FAILED;
        }
    };
    let watch = match invocation.command {
        Command::Counters { watch } => watch,
        _ => None,
    };
    loop {
        match execute(&mut device, &invocation.command, invocation.persist) {
            Ok(done) => {
                if print(out, invocation.json, invocation.persist, &done).is_err() {
                    return EXIT_FAILED;
                }
            }
            Err(failure) => {
                let _ = writeln!(err, "wfpinjctl: {failure}");
                return EXIT_FAILED;
            }
        }
        match watch {
            Some(seconds) if pause(seconds) => continue,
            _ => return EXIT_OK,
        }
    }
}
