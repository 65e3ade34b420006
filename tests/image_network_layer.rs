//! Inspection at the IP packet (network) layers, shipped image: the cases of
//! tests/network_layer.rs (tests/support/network_cases.rs) run through the driver image on the
//! simulated stack. The image shows its counters only in the debug log at unload ("<layer>:
//! classified N, reinjected N, ..."), which this test reads.

#[path = "support/network_cases.rs"]
mod network_cases;
mod support;

use std::collections::BTreeMap;

use network_cases::{BOTH, Expected, NETWORK};
use support::harness::{Harness, logged_count};

use wfp_sim::SimulatedStack;

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
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
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
            reinjected: logged_count(line, "reinjected"),
            own: logged_count(line, "own"),
            not_inspected: logged_count(line, "classified")
                - logged_count(line, "reinjected")
                - logged_count(line, "own")
                - logged_count(line, "other-injector")
                - logged_count(line, "loopback")
                - logged_count(line, "ale")
                - logged_count(line, "ipsec")
                - logged_count(line, "tcp-below-dispatch")
                - logged_count(line, "no-headroom")
                - logged_count(line, "multi-buffer")
                - logged_count(line, "split-checksum")
                - logged_count(line, "suspended")
                - logged_count(line, "fragment")
                - logged_count(line, "malformed")
                - logged_count(line, "failed"),
            loopback: logged_count(line, "loopback"),
            ipsec: logged_count(line, "ipsec"),
            fragment: logged_count(line, "fragment"),
            multi_buffer: logged_count(line, "multi-buffer"),
            checksum: logged_count(line, "checksum"),
            malformed: logged_count(line, "malformed"),
        };
        assert_eq!(got, want, "{layer} counters: {line}");
        assert_eq!(logged_count(line, "failed"), 0, "{line}");
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
