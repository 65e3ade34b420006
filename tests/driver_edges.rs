//! Boundaries of the callout driver that mutation testing (scripts/mutants.sh) showed no other
//! test pinned down: the fewest incoming values classify accepts, header-only packets, control
//! data withheld by the metadata flags, the compartment passed to injection, and dropping a
//! loaded driver without unloading it.

#[path = "support/host_driver.rs"]
mod host_driver;

use host_driver::{PORT, configure_port, counters_layer, load, udp};
use wfp_injector::nt::NtStatus;
use wfp_sim::layout::{TransportField, classify_out, metadata};
use wfp_sim::traffic::{Delivery, Layer};
use wfp_sim::{SimulatedStack, WfpObjects};
use windows_sys::Win32::NetworkManagement::WindowsFilteringPlatform::{
    FWP_ACTION_BLOCK, FWP_ACTION_PERMIT,
};

/// The number of incoming values that holds every field classify reads (protocol, remote
/// address and port, interface and sub-interface index, and the condition flags for loopback),
/// from the simulator's own field tables.
fn values_needed(layer: Layer) -> u32 {
    let needed = [
        TransportField::IpProtocol,
        TransportField::IpRemoteAddress,
        TransportField::IpRemotePort,
        TransportField::InterfaceIndex,
        TransportField::SubInterfaceIndex,
        TransportField::Flags,
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

/// Each Parameters value is used only with its documented type, size and range; anything else
/// leaves the setting unset (README's table and src/driver/config.rs's module docs).
#[test]
fn registry_values_are_taken_only_with_their_type_size_and_range() {
    use wfp_sim::RegistryValue::{Binary, Dword, Other};
    // REG_DWORD (4) and REG_BINARY (3), from windows-sys.
    use windows_sys::Win32::System::Registry::{REG_BINARY, REG_DWORD};
    type Check = fn(&wfp_injector::driver::Parameters) -> bool;
    // DPFLTR_WARNING_LEVEL (facts row).
    const WARNING: u32 = 1;
    let cases: Vec<(&str, wfp_sim::RegistryValue, Check)> = vec![
        ("InspectRemotePort", Dword(53), |p| {
            p.inspection.remote_port == Some(53)
        }),
        ("InspectRemotePort", Dword(1), |p| {
            p.inspection.remote_port == Some(1)
        }),
        ("InspectRemotePort", Dword(65535), |p| {
            p.inspection.remote_port == Some(65535)
        }),
        ("InspectRemotePort", Dword(0), |p| {
            p.inspection.remote_port.is_none()
        }),
        ("InspectRemotePort", Dword(65536), |p| {
            p.inspection.remote_port.is_none()
        }),
        ("InspectRemotePort", Binary(vec![53, 0, 0, 0]), |p| {
            p.inspection.remote_port.is_none()
        }),
        ("InspectRemotePort", Other(REG_DWORD, vec![53, 0]), |p| {
            p.inspection.remote_port.is_none()
        }),
        (
            "InspectRemotePort",
            Other(REG_DWORD, vec![53, 0, 0, 0, 0]),
            |p| p.inspection.remote_port.is_none(),
        ),
        ("InspectRemoteAddressV4", Binary(vec![192, 0, 2, 10]), |p| {
            p.inspection.remote_v4 == Some([192, 0, 2, 10])
        }),
        ("InspectRemoteAddressV4", Dword(0x0A02_00C0), |p| {
            p.inspection.remote_v4.is_none()
        }),
        (
            "InspectRemoteAddressV4",
            Binary(vec![192, 0, 2, 10, 0]),
            |p| p.inspection.remote_v4.is_none(),
        ),
        ("InspectRemoteAddressV4", Binary(vec![0; 40]), |p| {
            p.inspection.remote_v4.is_none()
        }),
        ("InspectRemoteAddressV6", Binary(vec![0x20; 16]), |p| {
            p.inspection.remote_v6 == Some([0x20; 16])
        }),
        ("InspectRemoteAddressV6", Binary(vec![0x20; 15]), |p| {
            p.inspection.remote_v6.is_none()
        }),
        (
            "InspectRemoteAddressV6",
            Other(REG_DWORD, vec![0x20; 16]),
            |p| p.inspection.remote_v6.is_none(),
        ),
        ("InspectRemoteAddressV6", Binary(vec![0x20; 17]), |p| {
            p.inspection.remote_v6.is_none()
        }),
        ("InspectProtocol", Dword(17), |p| {
            p.inspection.protocol == Some(17)
        }),
        ("InspectProtocol", Dword(255), |p| {
            p.inspection.protocol == Some(255)
        }),
        ("InspectProtocol", Dword(1), |p| {
            p.inspection.protocol == Some(1)
        }),
        ("InspectProtocol", Dword(0), |p| {
            p.inspection.protocol.is_none()
        }),
        ("InspectProtocol", Dword(256), |p| {
            p.inspection.protocol.is_none()
        }),
        (
            "InspectProtocol",
            Other(REG_BINARY, vec![17, 0, 0, 0]),
            |p| p.inspection.protocol.is_none(),
        ),
        ("MaxInFlight", Dword(1), |p| p.max_in_flight == Some(1)),
        ("MaxInFlight", Dword(65536), |p| {
            p.max_in_flight == Some(65536)
        }),
        ("MaxInFlight", Dword(65537), |p| p.max_in_flight.is_none()),
        ("VerboseLogging", Dword(1), |p| p.verbose),
        ("VerboseLogging", Dword(0), |p| !p.verbose),
        ("VerboseLogging", Dword(2), |p| !p.verbose),
        ("VerboseLogging", Binary(vec![1, 0, 0, 0]), |p| !p.verbose),
    ];
    for (name, value, check) in cases {
        let sim = SimulatedStack::new();
        sim.set_parameter(name, value.clone());
        let driver = load(&sim);
        let parameters = *driver.parameters();
        assert!(check(&parameters), "{name} = {value:?}: {parameters:?}");
        // A value used is not warned about; one ignored is, by name, at WARNING.
        let used = *driver.parameters() != wfp_injector::driver::Parameters::default()
            || matches!(value, Dword(0) if name == "VerboseLogging");
        let warned = sim
            .debug_log()
            .iter()
            .any(|(_, level, text)| *level == WARNING && text.contains(name));
        assert_eq!(warned, !used, "{name} = {value:?}: warning logged");
        drop(driver);
        sim.assert_clean();
    }
    // Values that are not there are not warned about either.
    let sim = SimulatedStack::new();
    sim.create_parameters_key();
    drop(load(&sim));
    let warnings: Vec<_> = sim
        .debug_log()
        .into_iter()
        .filter(|(_, level, _)| *level == WARNING)
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    sim.assert_clean();
}

/// The port criterion applies to TCP and UDP only: at the transport layers an ICMP packet's
/// port fields hold its type and code, so ICMP whose code equals the port is not inspected.
#[test]
fn the_port_criterion_never_matches_icmp() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    for layer in Layer::ALL {
        let mut icmp = udp(layer, PORT);
        icmp.protocol = if layer.is_v6() { 58 } else { 1 };
        let delivered = sim.deliver(
            layer,
            &icmp,
            Delivery {
                // Whatever the filter's conditions: classify itself must not inspect it.
                ignore_conditions: true,
                ..Delivery::default()
            },
        );
        assert_eq!(
            delivered.result.unwrap().action,
            FWP_ACTION_PERMIT,
            "{layer:?}"
        );
        let counters = driver.counters(counters_layer(layer));
        assert_eq!(
            (counters.not_inspected, counters.reinjected),
            (1, 0),
            "{layer:?}"
        );
        sim.return_packet(delivered.nbl);
    }
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

/// Inbound data whose retreated start is not an IP header of the layer's family is malformed:
/// permitted untouched, nothing cloned or injected.
#[test]
fn inbound_data_that_does_not_start_with_the_layers_ip_header_is_permitted() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    for layer in [Layer::InboundV4, Layer::InboundV6] {
        let packet = udp(layer, PORT);
        let (bytes, ip, transport) = packet.bytes(true);
        for first in [0x00u8, if layer.is_v6() { 0x45 } else { 0x60 }] {
            let mut wrong = bytes.clone();
            wrong[0] = first;
            let nbl = sim.indicate_packet_at(&wrong, ip + transport);
            let result = sim.classify_again(layer, &packet, nbl);
            assert_eq!(
                result.action, FWP_ACTION_PERMIT,
                "{layer:?}, first byte {first:#x}"
            );
            assert_eq!(result.flags & classify_out::FLAG_ABSORB, 0);
            assert_eq!(
                sim.packet_view(nbl).unwrap(),
                wrong[ip + transport..],
                "the original is given back as it came"
            );
            sim.return_packet(nbl);
        }
        let counters = driver.counters(counters_layer(layer));
        assert_eq!(
            (counters.malformed, counters.reinjected),
            (2, 0),
            "{layer:?}"
        );
    }
    assert!(sim.pending_injections().is_empty());
    assert_eq!(sim.live_clones(), 0);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

/// DbgPrintEx messages: component DPFLTR_IHVNETWORK_ID, level per kind (facts rows DPFLTR_*),
/// load and unload at INFO with what was configured, per-packet refusals at TRACE only when
/// VerboseLogging is 1, a failed load at ERROR with its step and status.
#[test]
fn log_messages_carry_their_level_and_per_packet_ones_need_verbose_logging() {
    const IHVNETWORK: u32 = 80;
    const ERROR: u32 = 0;
    const TRACE: u32 = 2;
    const INFO: u32 = 3;
    for verbose in [false, true] {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        sim.set_parameter("MaxInFlight", wfp_sim::RegistryValue::Dword(4));
        if verbose {
            sim.set_parameter("VerboseLogging", wfp_sim::RegistryValue::Dword(1));
        }
        let driver = load(&sim);
        sim.fail_call(
            wfp_sim::KernelFn::FwpsAllocateCloneNetBufferList0,
            0,
            NtStatus::INSUFFICIENT_RESOURCES,
        );
        let refused = sim.deliver(
            Layer::OutboundV4,
            &udp(Layer::OutboundV4, PORT),
            Delivery::default(),
        );
        assert_eq!(refused.result.unwrap().action, FWP_ACTION_PERMIT);
        assert_eq!(driver.unload(), NtStatus::SUCCESS);
        sim.return_packet(refused.nbl);
        let log = sim.debug_log();
        assert!(
            log.iter().all(|(component, _, _)| *component == IHVNETWORK),
            "{log:?}"
        );
        assert!(
            log.contains(&(
                IHVNETWORK,
                INFO,
                "wfp_injector: loaded: inspecting IPv4 true, IPv6 true; 4 contexts\n".into()
            )),
            "{log:?}"
        );
        assert!(
            log.iter().any(|(_, level, text)| *level == INFO
                && text.starts_with("wfp_injector: unloaded: STATUS_SUCCESS")),
            "{log:?}"
        );
        let traces: Vec<_> = log.iter().filter(|(_, level, _)| *level == TRACE).collect();
        if verbose {
            assert_eq!(traces.len(), 1, "{log:?}");
            assert!(
                traces[0].2.contains("reinjection refused") && traces[0].2.contains("0xC000009A"),
                "{traces:?}"
            );
        } else {
            assert!(traces.is_empty(), "quiet per-packet path: {traces:?}");
        }
        sim.assert_clean();
    }
    let sim = SimulatedStack::new();
    configure_port(&sim);
    sim.fail_call(
        wfp_sim::KernelFn::FwpmEngineOpen0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let error = host_driver::try_load(&sim).unwrap_err();
    assert_eq!(error.status, NtStatus::INSUFFICIENT_RESOURCES);
    let log = sim.debug_log();
    assert!(
        log.iter().any(|(_, level, text)| *level == ERROR
            && text.contains("load failed at")
            && text.contains("0xC000009A")),
        "{log:?}"
    );
    sim.assert_clean();
}

#[test]
fn the_load_message_names_the_families_the_rules_inspect() {
    for (name, value, inspected) in [
        (
            "InspectRemoteAddressV4",
            wfp_sim::RegistryValue::Binary(vec![192, 0, 2, 10]),
            "IPv4 true, IPv6 false",
        ),
        (
            "InspectRemoteAddressV6",
            wfp_sim::RegistryValue::Binary([0x20, 0x01, 0x0d, 0xb8].repeat(4)),
            "IPv4 false, IPv6 true",
        ),
    ] {
        let sim = SimulatedStack::new();
        sim.set_parameter(name, value);
        let driver = load(&sim);
        let expected = format!("wfp_injector: loaded: inspecting {inspected};");
        let log = sim.debug_log();
        assert!(
            log.iter().any(|(_, _, text)| text.starts_with(&expected)),
            "{name}: {log:?}"
        );
        assert_eq!(driver.unload(), NtStatus::SUCCESS);
        sim.assert_clean();
    }
}
