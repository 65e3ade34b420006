//! A second injector, shipped image: the cases of tests/second_injector.rs through the driver
//! image on the simulated stack. The image shows its counters only in the debug log at unload
//! ("<layer>: classified N, reinjected N, own N, other-injector N, ..."), which this test reads.

#[path = "support/second_injector_cases.rs"]
mod second_injector_cases;
mod support;

use second_injector_cases::{Order, configure_peers, run};
use support::harness::{Harness, logged_count};

use wfp_sim::SimulatedStack;

fn check(order: Order) {
    let sim = SimulatedStack::new();
    configure_peers(&sim);
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    let expected = run(&sim, order);
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
        let got = second_injector_cases::Expected {
            reinjected: logged_count(line, "reinjected"),
            own: logged_count(line, "own"),
            other_injector: logged_count(line, "other-injector"),
        };
        assert_eq!(got, want, "{order:?} {layer} counters: {line}");
        assert_eq!(logged_count(line, "failed"), 0, "{layer}: {line}");
    }
    sim.assert_clean();
}

#[test]
fn the_image_with_its_sublayer_first_lets_each_packet_be_injected_once_by_each_driver() {
    check(Order::DriverFirst);
}

#[test]
fn the_image_with_the_other_sublayer_first_never_reinjects_the_others_packets() {
    check(Order::OtherFirst);
}
