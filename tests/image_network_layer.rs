//! Inspection at the IP packet (network) layers, shipped image: the cases of
//! tests/network_layer.rs (tests/support/network_cases.rs) run through the driver image on the
//! simulated stack. The image shows its counters only in the debug log at unload ("<layer>:
//! classified N, reinjected N, ..."), which this test reads.

#[path = "support/network_cases.rs"]
mod network_cases;
mod support;

use std::collections::BTreeMap;

use network_cases::{BOTH, Expected, NETWORK};
use support::harness::Harness;
use wfp_injector::nt::NtStatus;
use wfp_sim::SimulatedStack;

/// The value after `label ` in a counters line.
fn field(line: &str, label: &str) -> u64 {
    let key = format!(" {label} ");
    let start = line
        .find(&key)
        .unwrap_or_else(|| panic!("no `{label}` in {line:?}"))
        + key.len();
    line[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no number after `{label}` in {line:?}"))
}

const LAYERS: [&str; 8] = [
    "OutboundV4",
    "OutboundV6",
    "InboundV4",
    "InboundV6",
    "OutboundIpPacketV4",
    "OutboundIpPacketV6",
    "InboundIpPacketV4",
    "InboundIpPacketV6",
];

/// Loads the image configured by `configure`, runs `cases`, unloads, and compares every
/// layer's counters line with what the cases expect (a layer that classified nothing prints no
/// line: it must expect nothing).
fn through_the_image(
    configure: impl FnOnce(&SimulatedStack),
    cases: impl FnOnce(&SimulatedStack) -> BTreeMap<&'static str, Expected>,
) {
    let sim = SimulatedStack::new();
    configure(&sim);
    let Some(mut harness) = Harness::new(&sim) else {
        return;
    };
    assert_eq!(harness.driver_entry(), NtStatus::SUCCESS);
    let expected = cases(&sim);
    harness.driver_unload();
    drop(harness);
    let log = sim.debug_log();
    for layer in LAYERS {
        let prefix = format!("{layer}: classified ");
        let want = expected.get(layer).copied().unwrap_or_default();
        let Some(line) = log
            .iter()
            .map(|(_, _, text)| text.as_str())
            .find(|text| text.starts_with(&prefix) || text.contains(&format!(" {prefix}")))
        else {
            assert_eq!(
                want,
                Expected::default(),
                "no counters line for {layer} in {log:?}"
            );
            continue;
        };
        let got = Expected {
            reinjected: field(line, "reinjected"),
            own: field(line, "own"),
            not_inspected: field(line, "classified")
                - field(line, "reinjected")
                - field(line, "own")
                - field(line, "other-injector")
                - field(line, "loopback")
                - field(line, "ale")
                - field(line, "ipsec")
                - field(line, "tcp-below-dispatch")
                - field(line, "no-headroom")
                - field(line, "multi-buffer")
                - field(line, "split-checksum")
                - field(line, "suspended")
                - field(line, "fragment")
                - field(line, "malformed")
                - field(line, "failed"),
            loopback: field(line, "loopback"),
            ipsec: field(line, "ipsec"),
            fragment: field(line, "fragment"),
            multi_buffer: field(line, "multi-buffer"),
            checksum: field(line, "checksum"),
            malformed: field(line, "malformed"),
        };
        assert_eq!(got, want, "{layer} counters: {line}");
        assert_eq!(field(line, "failed"), 0, "{line}");
    }
    sim.assert_clean();
}

#[test]
fn the_image_reinjects_at_the_ip_packet_layers_by_the_documented_rules() {
    through_the_image(
        |sim| network_cases::configure(sim, NETWORK),
        network_cases::run,
    );
}

#[test]
fn the_image_matches_the_remote_port_in_the_packet_each_way() {
    through_the_image(network_cases::configure_port, network_cases::run_port);
}

#[test]
fn the_image_with_both_layers_reinjects_each_packet_once_and_never_loops() {
    through_the_image(
        |sim| network_cases::configure(sim, BOTH),
        network_cases::run_both,
    );
}
