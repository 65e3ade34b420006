//! A second injector, host build: another driver's injecting callout (its own handle and
//! sublayer, WFPSampler's basic packet injection) beside the driver, in either sublayer order,
//! both directions, both families, UDP and TCP; every injected packet comes back through the
//! layer. The driver injects each original packet at most once and never a packet the other
//! injected, so the two together inject it at most twice per layer. The same cases run through
//! the shipped image in tests/image_second_injector.rs.

#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/second_injector_cases.rs"]
mod second_injector_cases;

use host_driver::load;
use second_injector_cases::{Order, configure_peers, run};
use wfp_injector::driver::TransportLayer;
use wfp_injector::nt::NtStatus;
use wfp_sim::SimulatedStack;

fn check(order: Order) {
    let sim = SimulatedStack::new();
    configure_peers(&sim);
    let driver = load(&sim);
    let expected = run(&sim, order);
    for layer in TransportLayer::ALL {
        let name = format!("{layer:?}");
        let want = expected.get(name.as_str()).copied().unwrap_or_default();
        let c = driver.counters(layer);
        let got = second_injector_cases::Expected {
            reinjected: c.reinjected,
            own: c.skipped_own,
            other_injector: c.skipped_other_injector,
        };
        assert_eq!(got, want, "{order:?} {layer:?} counters");
        assert_eq!(c.failed, 0, "{layer:?}");
    }
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn with_the_drivers_sublayer_first_each_packet_is_injected_once_by_each_driver() {
    check(Order::DriverFirst);
}

#[test]
fn with_the_other_sublayer_first_the_driver_never_reinjects_the_others_packets() {
    check(Order::OtherFirst);
}
