//! Boundaries of the callout driver that mutation testing (scripts/mutants.sh) showed no other
//! test pinned down: the fewest incoming values classify accepts, header-only packets, control
//! data withheld by the metadata flags, the compartment passed to injection, and dropping a
//! loaded driver without unloading it.

#[path = "support/host_driver.rs"]
mod host_driver;

use host_driver::{PORT, configure_port, counters_layer, load, udp};
use wfp_injector::nt::NtStatus;
use wfp_injector::sim::layout::{TransportField, classify_out, metadata};
use wfp_injector::sim::traffic::{Delivery, Layer};
use wfp_injector::sim::{SimulatedStack, WfpObjects};
use windows_sys::Win32::NetworkManagement::WindowsFilteringPlatform::{
    FWP_ACTION_BLOCK, FWP_ACTION_PERMIT,
};

/// The number of incoming values that holds every field classify reads (protocol, remote
/// address and port, interface and sub-interface index), from the simulator's own field tables.
fn values_needed(layer: Layer) -> u32 {
    let needed = [
        TransportField::IpProtocol,
        TransportField::IpRemoteAddress,
        TransportField::IpRemotePort,
        TransportField::InterfaceIndex,
        TransportField::SubInterfaceIndex,
    ];
    let last = layer
        .fields()
        .iter()
        .rposition(|field| needed.contains(field))
        .unwrap();
    last as u32 + 1
}

#[test]
fn classify_accepts_exactly_the_values_it_reads_and_no_fewer() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let mut indicated = Vec::new();
    for layer in Layer::ALL {
        let needed = values_needed(layer);
        assert!(
            (needed as usize) < layer.fields().len(),
            "{layer:?}: the boundary lies below the layer's full value count"
        );
        let exact = sim.deliver(
            layer,
            &udp(layer, PORT),
            Delivery {
                value_count: Some(needed),
                ..Delivery::default()
            },
        );
        assert_eq!(exact.result.unwrap().action, FWP_ACTION_BLOCK, "{layer:?}");
        let short = sim.deliver(
            layer,
            &udp(layer, PORT),
            Delivery {
                value_count: Some(needed - 1),
                ..Delivery::default()
            },
        );
        assert_eq!(short.result.unwrap().action, FWP_ACTION_PERMIT, "{layer:?}");
        let counters = driver.counters(counters_layer(layer));
        assert_eq!(
            (counters.reinjected, counters.malformed),
            (1, 1),
            "{layer:?}"
        );
        indicated.extend([exact.nbl, short.nbl]);
    }
    sim.complete_all(NtStatus::SUCCESS);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    for nbl in indicated {
        sim.return_packet(nbl);
    }
    sim.assert_clean();
}

#[test]
fn header_only_packets_are_reinjected_in_both_directions() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let mut indicated = Vec::new();
    for layer in Layer::ALL {
        let mut packet = udp(layer, PORT);
        packet.payload.clear();
        let delivered = sim.deliver(layer, &packet, Delivery::default());
        let result = delivered.result.unwrap();
        assert_eq!(
            result.action, FWP_ACTION_BLOCK,
            "{layer:?}: a header-only packet"
        );
        assert_ne!(result.flags & classify_out::FLAG_ABSORB, 0);
        indicated.push(delivered.nbl);
        // One byte short of the declared transport header: malformed, permitted.
        let (bytes, ip, _) = packet.bytes(layer.is_inbound());
        let truncated = sim.deliver(
            layer,
            &packet,
            Delivery {
                truncate_to: Some(bytes.len() - 1),
                ..Delivery::default()
            },
        );
        assert_eq!(
            truncated.result.unwrap().action,
            FWP_ACTION_PERMIT,
            "{layer:?}: {} bytes after a {ip}-byte IP header",
            bytes.len() - 1
        );
        indicated.push(truncated.nbl);
        let counters = driver.counters(counters_layer(layer));
        assert_eq!(
            (counters.reinjected, counters.malformed),
            (1, 1),
            "{layer:?}"
        );
    }
    assert_eq!(sim.pending_injections().len(), 4);
    sim.complete_all(NtStatus::SUCCESS);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    for nbl in indicated {
        sim.return_packet(nbl);
    }
    sim.assert_clean();
}

#[test]
fn control_data_is_passed_only_when_the_metadata_says_it_is_there() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let mut indicated = Vec::new();
    for layer in [Layer::OutboundV4, Layer::OutboundV6] {
        let mut packet = udp(layer, PORT);
        packet.control_data = vec![0xC5; 24];
        let present = sim.deliver(layer, &packet, Delivery::default());
        assert_eq!(present.result.unwrap().action, FWP_ACTION_BLOCK);
        let withheld = sim.deliver(
            layer,
            &packet,
            Delivery {
                withhold_metadata: metadata::FIELD_TRANSPORT_CONTROL_DATA,
                ..Delivery::default()
            },
        );
        assert_eq!(withheld.result.unwrap().action, FWP_ACTION_BLOCK);
        let pending = sim.pending_injections();
        let [.., with, without] = &pending[..] else {
            panic!("two injections pending: {pending:?}")
        };
        assert_eq!(with.control_data, packet.control_data, "{layer:?}");
        assert!(
            without.control_data.is_empty(),
            "{layer:?}: control data read without FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA"
        );
        indicated.extend([present.nbl, withheld.nbl]);
    }
    sim.complete_all(NtStatus::SUCCESS);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    for nbl in indicated {
        sim.return_packet(nbl);
    }
    sim.assert_clean();
}

#[test]
fn the_compartment_is_the_packets_and_unspecified_when_the_metadata_lacks_it() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let mut indicated = Vec::new();
    for layer in Layer::ALL {
        let mut packet = udp(layer, PORT);
        packet.compartment = 7;
        indicated.push(sim.deliver(layer, &packet, Delivery::default()).nbl);
        indicated.push(
            sim.deliver(
                layer,
                &packet,
                Delivery {
                    withhold_metadata: metadata::FIELD_COMPARTMENT_ID,
                    ..Delivery::default()
                },
            )
            .nbl,
        );
        let pending = sim.pending_injections();
        let [.., given, unspecified] = &pending[..] else {
            panic!("two injections pending")
        };
        assert_eq!(given.compartment, 7, "{layer:?}");
        // UNSPECIFIED_COMPARTMENT_ID: the stack picks the compartment (facts row
        // compartment-unspecified).
        assert_eq!(
            unspecified.compartment,
            windows_sys::Win32::System::Kernel::UNSPECIFIED_COMPARTMENT_ID as u32,
            "{layer:?}"
        );
    }
    sim.complete_all(NtStatus::SUCCESS);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    for nbl in indicated {
        sim.return_packet(nbl);
    }
    sim.assert_clean();
}

#[test]
fn dropping_a_loaded_driver_tears_it_down_like_unload() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    assert_ne!(sim.wfp_objects(), WfpObjects::default());
    assert_eq!(sim.open_handles().len(), 2);
    drop(driver);
    assert_eq!(sim.wfp_objects(), WfpObjects::default(), "objects removed");
    assert!(sim.open_handles().is_empty(), "handles destroyed");
    assert!(
        sim.debug_log()
            .iter()
            .any(|(_, _, line)| line.contains("unloaded")),
        "teardown logged"
    );
    sim.assert_clean();
}
