//! Reinjection rules, shipped image: the reinjection-rule cases of tests/reinjection_rules.rs run through
//! the driver image on the simulated stack. The image shows its counters only in the debug log
//! at unload ("<layer>: classified N, reinjected N, ..."), which this test reads.

#[path = "support/reinjection_cases.rs"]
mod reinjection_cases;
mod support;

use support::harness::{Harness, logged_count};
use wfp_sim::SimulatedStack;

#[test]
fn the_image_gives_every_packet_kind_the_documented_decision_and_counts_it() {
    let sim = SimulatedStack::new();
    reinjection_cases::configure_peers(&sim);
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    let expected = reinjection_cases::run(&sim);
    harness.driver_unload();
    drop(harness);
    let log = sim.debug_log();
    for layer in ["OutboundV4", "OutboundV6", "InboundV4", "InboundV6"] {
        let prefix = format!("{layer}: classified ");
        let line = log
            .iter()
            .map(|(_, _, text)| text.as_str())
            .find(|text| text.contains(&prefix))
            .unwrap_or_else(|| panic!("no counters line for {layer} in {log:?}"));
        let want = expected.get(layer).copied().unwrap_or_default();
        let got = reinjection_cases::Expected {
            reinjected: logged_count(line, "reinjected"),
            own: logged_count(line, "own"),
            loopback: logged_count(line, "loopback"),
            ale: logged_count(line, "ale"),
            ipsec: logged_count(line, "ipsec"),
            tcp_below_dispatch: logged_count(line, "tcp-below-dispatch"),
            no_headroom: logged_count(line, "no-headroom"),
            multi_buffer: logged_count(line, "multi-buffer"),
            checksum: logged_count(line, "checksum"),
            split_header_checksum: logged_count(line, "split-checksum"),
            malformed: logged_count(line, "malformed"),
        };
        assert_eq!(got, want, "{layer} counters: {line}");
        assert_eq!(logged_count(line, "failed"), 0, "{line}");
    }
    sim.assert_clean();
}
