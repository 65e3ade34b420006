//! Reinjection rules, host build: classify follows Microsoft's reinjection rules for every packet kind
//! (loopback, ALE classify required, IPsec transport and tunnel mode, ICMP offsets, receive
//! checksum offload, TCP below DISPATCH_LEVEL, no headroom), each outcome counted. The same
//! cases run through the shipped image in tests/image_reinjection_rules.rs.

#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/reinjection_cases.rs"]
mod reinjection_cases;

use host_driver::load;
use wfp_injector::driver::TransportLayer;
use wfp_injector::nt::NtStatus;
use wfp_sim::SimulatedStack;

#[test]
fn every_packet_kind_gets_the_decision_microsoft_documents_and_its_counter() {
    let sim = SimulatedStack::new();
    reinjection_cases::configure_peers(&sim);
    let driver = load(&sim);
    let expected = reinjection_cases::run(&sim);
    for layer in TransportLayer::ALL {
        let name = format!("{layer:?}");
        let want = expected.get(name.as_str()).copied().unwrap_or_default();
        let c = driver.counters(layer);
        let got = reinjection_cases::Expected {
            reinjected: c.reinjected,
            own: c.skipped_own,
            loopback: c.skipped_loopback,
            ale: c.skipped_ale_classify_required,
            ipsec: c.skipped_ipsec,
            tcp_below_dispatch: c.skipped_tcp_below_dispatch,
            no_headroom: c.skipped_no_headroom,
            multi_buffer: c.skipped_multi_buffer,
            checksum: c.checksum_recomputed,
            split_header_checksum: c.skipped_split_header_checksum,
            malformed: c.malformed,
        };
        assert_eq!(got, want, "{layer:?} counters");
        assert_eq!(c.failed, 0, "{layer:?}");
    }
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}
