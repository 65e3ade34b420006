//! What the commands print: aligned text for people, one JSON object per line for scripts.

use std::io::{Result, Write};

use wfp_protocol::{
    Config, CountersReply, HANDLE_IPV4, HANDLE_IPV6, LAYER_NAMES, PROGRESS_INERT, PROGRESS_LOADED,
    PROGRESS_WAITING_FOR_BFE, PROGRESS_WAITING_FOR_TCPIP, StatusReply, failed_step_name,
};

use crate::rule::{Options, describe, layers};

fn progress(status: &StatusReply) -> &'static str {
    match status.progress {
        PROGRESS_WAITING_FOR_TCPIP => "waiting for TCP/IP",
        PROGRESS_WAITING_FOR_BFE => "waiting for BFE",
        PROGRESS_LOADED => "loaded",
        PROGRESS_INERT => "inert",
        _ => "unknown",
    }
}

fn yes(bit: bool) -> &'static str {
    if bit { "yes" } else { "no" }
}

/// `status` as text.
pub fn status_text(out: &mut dyn Write, status: &StatusReply) -> Result<()> {
    writeln!(
        out,
        "driver    {}.{}.{} (KMDF {}.{})",
        status.driver_major,
        status.driver_minor,
        status.driver_patch,
        status.kmdf_major,
        status.kmdf_minor
    )?;
    write!(out, "state     {}", progress(status))?;
    if status.progress == PROGRESS_INERT {
        write!(
            out,
            " after {} failed with NTSTATUS {:#010x}",
            failed_step_name(status.failed_step),
            status.failed_status as u32
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "handles   IPv4 {}, IPv6 {}",
        yes(status.handles & HANDLE_IPV4 != 0),
        yes(status.handles & HANDLE_IPV6 != 0)
    )?;
    writeln!(
        out,
        "contexts  {} in use of {}",
        status.contexts_in_use, status.contexts_capacity
    )?;
    writeln!(out, "rules     {}", status.rules)
}

/// `status` as JSON.
pub fn status_json(out: &mut dyn Write, status: &StatusReply) -> Result<()> {
    let (step, failure) = if status.progress == PROGRESS_INERT {
        (
            format!("\"{}\"", failed_step_name(status.failed_step)),
            format!("\"{:#010x}\"", status.failed_status as u32),
        )
    } else {
        ("null".into(), "null".into())
    };
    writeln!(
        out,
        "{{\"driver_version\":\"{}.{}.{}\",\"kmdf_version\":\"{}.{}\",\"state\":\"{}\",\
         \"failed_step\":{step},\"failed_status\":{failure},\
         \"handles\":{{\"ipv4\":{},\"ipv6\":{}}},\
         \"contexts\":{{\"in_use\":{},\"capacity\":{}}},\"rules\":{}}}",
        status.driver_major,
        status.driver_minor,
        status.driver_patch,
        status.kmdf_major,
        status.kmdf_minor,
        progress(status),
        status.handles & HANDLE_IPV4 != 0,
        status.handles & HANDLE_IPV6 != 0,
        status.contexts_in_use,
        status.contexts_capacity,
        status.rules
    )
}

/// `counters` as text: every counter of every layer, then the completions.
pub fn counters_text(out: &mut dyn Write, counters: &CountersReply) -> Result<()> {
    write!(out, "{:<30}", "counter")?;
    for name in LAYER_NAMES {
        write!(out, " {name:>22}")?;
    }
    writeln!(out)?;
    let named: Vec<_> = counters.layers.iter().map(|layer| layer.named()).collect();
    for row in 0..named[0].len() {
        write!(out, "{:<30}", named[0][row].0)?;
        for layer in &named {
            write!(out, " {:>22}", layer[row].1)?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "reinjections completed: {} ok, {} failed",
        counters.completed_ok, counters.completed_failed
    )
}

/// `counters` as JSON.
pub fn counters_json(out: &mut dyn Write, counters: &CountersReply) -> Result<()> {
    write!(out, "{{\"layers\":{{")?;
    for (index, (name, layer)) in LAYER_NAMES.iter().zip(&counters.layers).enumerate() {
        if index > 0 {
            write!(out, ",")?;
        }
        write!(out, "\"{name}\":{{")?;
        for (at, (counter, value)) in layer.named().iter().enumerate() {
            if at > 0 {
                write!(out, ",")?;
            }
            write!(out, "\"{counter}\":{value}")?;
        }
        write!(out, "}}")?;
    }
    writeln!(
        out,
        "}},\"completions\":{{\"ok\":{},\"failed\":{}}}}}",
        counters.completed_ok, counters.completed_failed
    )
}

/// `inspect list` as text: one rule per line, as the options that make it.
pub fn rules_text(out: &mut dyn Write, config: &Config) -> Result<()> {
    if config.active().is_empty() {
        writeln!(out, "no rule: the driver inspects nothing")?;
    }
    for (index, rule) in config.active().iter().enumerate() {
        writeln!(out, "{:>2}  {}", index + 1, Options(rule))?;
    }
    writeln!(
        out,
        "verbose logging {}",
        if config.flags & wfp_protocol::CONFIG_VERBOSE != 0 {
            "on"
        } else {
            "off"
        }
    )
}

fn json_option<T: std::fmt::Display>(value: Option<T>, quoted: bool) -> String {
    match (value, quoted) {
        (None, _) => "null".into(),
        (Some(value), true) => format!("\"{value}\""),
        (Some(value), false) => value.to_string(),
    }
}

/// `inspect list` as JSON.
pub fn rules_json(out: &mut dyn Write, config: &Config) -> Result<()> {
    write!(
        out,
        "{{\"verbose\":{},\"rules\":[",
        config.flags & wfp_protocol::CONFIG_VERBOSE != 0
    )?;
    for (index, rule) in config.active().iter().enumerate() {
        let (family, directions, remote, local, port, protocol) = describe(rule);
        if index > 0 {
            write!(out, ",")?;
        }
        write!(
            out,
            "{{\"ip_version\":{family},\"direction\":\"{directions}\",\"remote\":\"{remote}\",\
             \"local\":{},\"port\":{},\"protocol\":{},\"layer\":\"{}\"}}",
            json_option(local, true),
            json_option(port, false),
            json_option(protocol, false),
            layers(rule)
        )?;
    }
    writeln!(out, "]}}")
}
