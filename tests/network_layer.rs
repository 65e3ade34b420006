//! Inspection at the IP packet (network) layers, host build: the configured packets of each
//! direction and family (TCP, UDP, ICMP) reinjected with FwpsInjectNetworkSendAsync0 /
//! FwpsInjectNetworkReceiveAsync0 as the documented rules ask, the packet kinds those layers
//! single out left untouched and counted, the interplay with the transport callouts, and the
//! `InspectLayer` registry value. The same cases run through the shipped image in
//! tests/image_network_layer.rs.

#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/network_cases.rs"]
mod network_cases;

use std::collections::BTreeMap;

use host_driver::load;
use network_cases::{BOTH, Expected, NETWORK};
use wfp_injector::driver::{CalloutLayer, Driver, NetworkLayer, TransportLayer};
use wfp_injector::nt::NtStatus;
use wfp_sim::ip_packet::IpPacketLayer;
use wfp_sim::traffic::Delivery;
use wfp_sim::{RegistryValue, SimulatedStack};

fn name(layer: CalloutLayer) -> &'static str {
    match layer {
        CalloutLayer::Transport(TransportLayer::OutboundV4) => "OutboundV4",
        CalloutLayer::Transport(TransportLayer::OutboundV6) => "OutboundV6",
        CalloutLayer::Transport(TransportLayer::InboundV4) => "InboundV4",
        CalloutLayer::Transport(TransportLayer::InboundV6) => "InboundV6",
        CalloutLayer::Network(NetworkLayer::OutboundV4) => "OutboundIpPacketV4",
        CalloutLayer::Network(NetworkLayer::OutboundV6) => "OutboundIpPacketV6",
        CalloutLayer::Network(NetworkLayer::InboundV4) => "InboundIpPacketV4",
        CalloutLayer::Network(NetworkLayer::InboundV6) => "InboundIpPacketV6",
    }
}

fn check_counters(driver: &Driver<&SimulatedStack>, expected: &BTreeMap<&'static str, Expected>) {
    for layer in CalloutLayer::ALL {
        let want = expected.get(name(layer)).copied().unwrap_or_default();
        let c = driver.counters(layer);
        let got = Expected {
            reinjected: c.reinjected,
            own: c.skipped_own,
            not_inspected: c.not_inspected,
            loopback: c.skipped_loopback,
            ipsec: c.skipped_ipsec,
            fragment: c.skipped_fragment,
            multi_buffer: c.skipped_multi_buffer,
            checksum: c.checksum_recomputed,
            malformed: c.malformed,
        };
        assert_eq!(got, want, "{layer:?} counters");
        assert_eq!(c.failed, 0, "{layer:?}");
    }
}

#[test]
fn ip_packet_layers_reinject_every_protocol_each_way_by_the_documented_rules() {
    let sim = SimulatedStack::new();
    network_cases::configure(&sim, NETWORK);
    let driver = load(&sim);
    let expected = network_cases::run(&sim);
    check_counters(&driver, &expected);
    // The transport layers were not asked to inspect: no filter there.
    for layer in TransportLayer::ALL {
        assert!(
            sim.filter_conditions(layer.filter_key()).is_none(),
            "{layer:?}"
        );
    }
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn with_both_layers_each_packet_is_reinjected_once_and_its_clone_passes_the_other_layer() {
    let sim = SimulatedStack::new();
    network_cases::configure(&sim, BOTH);
    let driver = load(&sim);
    let expected = network_cases::run_both(&sim);
    check_counters(&driver, &expected);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn the_remote_port_is_matched_in_the_packet_each_way() {
    let sim = SimulatedStack::new();
    network_cases::configure_port(&sim);
    let driver = load(&sim);
    let expected = network_cases::run_port(&sim);
    check_counters(&driver, &expected);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn ip_packet_filters_carry_only_the_remote_address() {
    let sim = SimulatedStack::new();
    network_cases::configure(&sim, NETWORK);
    sim.set_parameter("InspectProtocol", RegistryValue::Dword(17));
    let driver = load(&sim);
    for layer in NetworkLayer::ALL {
        let key = CalloutLayer::from(layer).filter_key();
        let (conditions, _) = sim
            .filter_conditions(key)
            .expect("a filter at the IP packet layer");
        assert_eq!(conditions.len(), 1, "{layer:?}: {conditions:?}");
        assert_eq!(conditions[0].field, wfp_sim::CONDITION_IP_REMOTE_ADDRESS);
    }
    // The protocol is matched in the packet: TCP to the peer passes untouched, UDP is reinjected.
    let tcp = network_cases::packet(false, 6);
    let delivered = sim.deliver_ip_packet(IpPacketLayer::OutboundV4, &tcp, Delivery::default());
    assert_eq!(
        delivered.result.unwrap().action,
        wfp_injector::sys::types::FWP_ACTION_PERMIT
    );
    sim.return_packet(delivered.nbl);
    let udp = network_cases::packet(false, 17);
    let delivered = sim.deliver_ip_packet(IpPacketLayer::OutboundV4, &udp, Delivery::default());
    assert_eq!(
        delivered.result.unwrap().action,
        wfp_injector::sys::types::FWP_ACTION_BLOCK
    );
    assert_eq!(sim.follow_injections(&udp).injections.len(), 1);
    sim.return_packet(delivered.nbl);
    let c = driver.counters(NetworkLayer::OutboundV4);
    assert_eq!((c.not_inspected, c.reinjected), (1, 1));
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn a_bad_inspect_layer_is_logged_and_changes_nothing() {
    for bad in [
        RegistryValue::Dword(3),
        RegistryValue::Binary(vec![1, 0, 0, 0]),
    ] {
        let sim = SimulatedStack::new();
        network_cases::configure(&sim, NETWORK);
        sim.set_parameter("InspectLayer", bad.clone());
        let driver = load(&sim);
        let log = sim.debug_log();
        assert!(
            log.iter()
                .any(|(_, _, text)| text.contains("ignoring Parameters\\InspectLayer")),
            "{bad:?}: {log:?}"
        );
        // The default stands: transport filters, none at the IP packet layers.
        for layer in TransportLayer::ALL {
            assert!(
                sim.filter_conditions(layer.filter_key()).is_some(),
                "{layer:?}"
            );
        }
        for layer in NetworkLayer::ALL {
            let key = CalloutLayer::from(layer).filter_key();
            assert!(sim.filter_conditions(key).is_none(), "{bad:?} {layer:?}");
        }
        assert_eq!(driver.unload(), NtStatus::SUCCESS);
        sim.assert_clean();
    }
}
