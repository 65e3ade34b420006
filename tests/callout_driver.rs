//! The callout driver against the simulated stack: WFP objects, classify with the self-injection
//! check, clone-and-reinject on both paths, configuration, failures at every load step, unload
//! with packets in flight.

#[path = "support/heap.rs"]
mod heap;

#[path = "support/host_driver.rs"]
mod host_driver;

#[path = "support/identity.rs"]
mod identity;

use std::net::IpAddr;

use host_driver::{PEER_V6, PORT, configure_port, counters_layer, load, udp};

use wfp_injector::driver::{LoadStep, TransportLayer};
use wfp_injector::nt::NtStatus;
use wfp_injector::sys::types::{
    FWP_ACTION_BLOCK, FWP_ACTION_PERMIT, FWPS_CLASSIFY_OUT_FLAG_ABSORB,
};
use wfp_sim::layout::metadata;
use wfp_sim::traffic::{Delivery, Layer};
use wfp_sim::{InjectionPath, KernelFn, RegistryValue, SimulatedStack, WfpObjects};

#[test]
fn load_installs_the_object_set_and_unload_leaves_the_engine_empty() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    assert_eq!(
        sim.wfp_objects(),
        WfpObjects {
            sessions: 1,
            providers: 1,
            sublayers: 1,
            // A callout at each transport and IP packet layer; filters only where the
            // configuration inspects (the transport layers by default).
            callouts: 8,
            filters: 4,
            registered_callouts: 8
        }
    );
    assert_eq!(
        sim.open_handles().len(),
        2,
        "one injection handle per family"
    );
    assert_eq!(driver.parameters().inspection.remote_port, Some(PORT));
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert!(
        sim.debug_log()
            .iter()
            .any(|(_, _, text)| text.contains("loaded"))
    );
    sim.assert_clean();
}

/// HLK's FwpmProviders.MaintainIdentifying: the provider's name is the company and its
/// description the product (Cargo.toml's `[package.metadata.wfp-injector]`, which the INF's
/// Provider and the version resource also carry).
#[test]
fn the_wfp_provider_is_named_after_the_company_and_described_by_the_product() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let providers = sim.providers();
    assert_eq!(providers.len(), 1, "{providers:?}");
    assert_eq!(
        (providers[0].1.as_deref(), providers[0].2.as_deref()),
        (
            Some(identity::identity("company").as_str()),
            Some(identity::identity("product").as_str())
        )
    );
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

/// HLK's FwpmProviders.AssociateWithObjects: every sublayer, callout and filter the driver adds
/// names its identifying provider.
#[test]
fn every_sublayer_callout_and_filter_names_the_drivers_provider() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let providers = sim.providers();
    assert_eq!(providers.len(), 1);
    let provider = providers[0].0;
    let objects = sim.object_providers();
    let count = |kind: &str| objects.iter().filter(|(k, _, _)| *k == kind).count();
    assert_eq!(
        (count("sublayer"), count("callout"), count("filter")),
        (1, 8, 4),
        "{objects:?}"
    );
    for (kind, key, with) in &objects {
        assert_eq!(*with, Some(provider), "{kind} {key:?} names the provider");
    }
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn without_configuration_nothing_is_filtered() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let driver = load(&sim);
    assert_eq!(sim.wfp_objects().filters, 0);
    assert_eq!(sim.wfp_objects().registered_callouts, 8);
    let delivered = sim.deliver(
        Layer::OutboundV4,
        &udp(Layer::OutboundV4, PORT),
        Delivery::default(),
    );
    assert!(delivered.result.is_none(), "no filter, no classify");
    sim.return_packet(delivered.nbl);
    driver.unload();
    sim.assert_clean();
}

#[test]
fn a_port_with_a_protocol_that_has_no_ports_is_ignored() {
    let sim = SimulatedStack::new();
    configure_port(&sim);
    sim.set_parameter("InspectProtocol", RegistryValue::Dword(1));
    let driver = load(&sim);
    let inspection = driver.parameters().inspection;
    assert_eq!(
        inspection.remote_port, None,
        "ICMP has type and code, not ports"
    );
    assert_eq!(inspection.protocol, Some(1));
    assert!(
        sim.debug_log()
            .iter()
            .any(|(_, level, text)| *level == 1 && text.contains("InspectRemotePort")),
        "the ignored port is logged"
    );
    driver.unload();
    sim.assert_clean();
}

#[test]
fn per_family_addresses_filter_only_their_family() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_parameter(
        "InspectRemoteAddressV6",
        RegistryValue::Binary(PEER_V6.octets().to_vec()),
    );
    let driver = load(&sim);
    assert_eq!(sim.wfp_objects().filters, 2, "the two IPv6 layers");
    let v4 = sim.deliver(
        Layer::OutboundV4,
        &udp(Layer::OutboundV4, PORT),
        Delivery::default(),
    );
    assert!(v4.result.is_none());
    let v6 = sim.deliver(
        Layer::OutboundV6,
        &udp(Layer::OutboundV6, 9),
        Delivery::default(),
    );
    assert_eq!(v6.result.unwrap().action, FWP_ACTION_BLOCK, "reinjected");
    sim.complete_all(NtStatus::SUCCESS);
    for nbl in [v4.nbl, v6.nbl] {
        sim.return_packet(nbl);
    }
    driver.unload();
    sim.assert_clean();
}

#[test]
fn configured_traffic_is_cloned_absorbed_and_reinjected_on_its_path_for_all_four_layers() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    for layer in Layer::ALL {
        let mut packet = udp(layer, PORT);
        packet.scope_id = 4;
        packet.control_data = vec![9, 9, 9];
        let delivered = sim.deliver(layer, &packet, Delivery::default());
        let out = delivered.result.expect("filtered");
        assert_eq!(out.action, FWP_ACTION_BLOCK);
        assert_ne!(out.flags & FWPS_CLASSIFY_OUT_FLAG_ABSORB, 0, "absorbed");
        assert_eq!(out.rights & 1, 0, "write right cleared");
        let pending = sim.pending_injections();
        let injection = pending.last().expect("reinjected");
        let clone_view = sim.packet_view(injection.nbl as *const _).unwrap();
        let (bytes, ip_header, _) = packet.bytes(layer.is_inbound());
        let family = if layer.is_v6() { 23 } else { 2 };
        assert_eq!(injection.family, family);
        if layer.is_inbound() {
            assert_eq!(injection.path, InjectionPath::TransportReceive);
            assert_eq!(clone_view, bytes, "the clone starts at the IP header");
            assert_eq!(
                (injection.interface_index, injection.sub_interface_index),
                (7, 3)
            );
            let original = sim.packet_view(delivered.nbl as *const _).unwrap();
            assert_eq!(
                original,
                bytes[ip_header + 8..].to_vec(),
                "the original is restored"
            );
        } else {
            assert_eq!(injection.path, InjectionPath::TransportSend);
            assert_eq!(
                clone_view,
                bytes[ip_header..].to_vec(),
                "the clone starts at the transport header"
            );
            let remote: Vec<u8> = match packet.remote {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            };
            assert_eq!(injection.remote_address, remote, "network byte order");
            assert_eq!(injection.endpoint_or_flow, 0xE0E0);
            assert_eq!(injection.control_data, vec![9, 9, 9]);
            if layer.is_v6() {
                assert_eq!(injection.remote_scope_id, 4);
            }
        }
        // The reinjected clone comes back through the same layer: it is ours, permitted.
        let snapshot = driver.counters(counters_layer(layer));
        assert_eq!(snapshot.reinjected, 1);
        sim.complete_all(NtStatus::SUCCESS);
        sim.return_packet(delivered.nbl);
    }
    assert_eq!(driver.completions(), (4, 0));
    assert_eq!(sim.live_clones(), 0);
    driver.unload();
    sim.assert_clean();
}

#[test]
fn the_driver_permits_packets_it_injected_without_touching_them() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let delivered = sim.deliver(
        Layer::OutboundV4,
        &udp(Layer::OutboundV4, PORT),
        Delivery::default(),
    );
    let clone = sim.pending_injections()[0].nbl;
    // The stack classifies the injected clone again; the driver must recognise it.
    let (state_before, clones_before) = (
        driver.counters(TransportLayer::OutboundV4),
        sim.live_clones(),
    );
    // SAFETY: `clone` is a live NBL of the simulated stack.
    let own = unsafe { wfp_injector::inject::NetBufferListRef::from_raw(clone as *mut _) }.unwrap();
    let handles = driver.injector().expect("loaded").handles();
    assert!(
        handles
            .injected_by_self(wfp_injector::inject::IpFamily::V4, own)
            .is_some()
    );
    let redelivered = sim.classify_again(
        Layer::OutboundV4,
        &udp(Layer::OutboundV4, PORT),
        clone as *mut _,
    );
    assert_eq!(redelivered.action, FWP_ACTION_PERMIT);
    assert_eq!(redelivered.flags & FWPS_CLASSIFY_OUT_FLAG_ABSORB, 0);
    let after = driver.counters(TransportLayer::OutboundV4);
    assert_eq!(after.skipped_own, state_before.skipped_own + 1);
    assert_eq!(
        after.reinjected, state_before.reinjected,
        "no reinjection loop"
    );
    assert_eq!(sim.live_clones(), clones_before, "nothing cloned");
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(delivered.nbl);
    driver.unload();
    sim.assert_clean();
}

#[test]
fn unconfigured_traffic_and_classifies_without_write_right_are_left_alone() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let other = sim.deliver(
        Layer::InboundV6,
        &udp(Layer::InboundV6, 80),
        Delivery::default(),
    );
    assert!(
        other.result.is_none(),
        "the filter's conditions keep unconfigured traffic away from classify"
    );
    // A filter that matched more than the configuration (conditions bypassed): classify's own
    // check permits the packet untouched.
    let bypassed = sim.deliver(
        Layer::InboundV6,
        &udp(Layer::InboundV6, 80),
        Delivery {
            ignore_conditions: true,
            ..Delivery::default()
        },
    );
    assert_eq!(bypassed.result.unwrap().action, FWP_ACTION_PERMIT);
    let no_write = sim.deliver(
        Layer::InboundV4,
        &udp(Layer::InboundV4, PORT),
        Delivery {
            may_write: false,
            ..Delivery::default()
        },
    );
    assert_eq!(
        no_write.result.unwrap().action,
        FWP_ACTION_PERMIT,
        "the higher filter's permit untouched"
    );
    assert!(sim.pending_injections().is_empty());
    assert_eq!(sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0), 0);
    assert_eq!(driver.counters(TransportLayer::InboundV6).not_inspected, 1);
    assert_eq!(
        driver
            .counters(TransportLayer::InboundV4)
            .skipped_no_write_right,
        1
    );
    for nbl in [other.nbl, bypassed.nbl, no_write.nbl] {
        sim.return_packet(nbl);
    }
    driver.unload();
    sim.assert_clean();
}

#[test]
fn malformed_and_truncated_packets_are_permitted_untouched_and_counted() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let cases = [
        (
            Layer::InboundV4,
            Delivery {
                truncate_to: Some(12),
                ..Delivery::default()
            },
        ),
        (
            Layer::OutboundV4,
            Delivery {
                truncate_to: Some(24),
                ..Delivery::default()
            },
        ),
        (
            Layer::InboundV6,
            Delivery {
                withhold_metadata: metadata::FIELD_IP_HEADER_SIZE,
                ..Delivery::default()
            },
        ),
        (
            Layer::OutboundV6,
            Delivery {
                withhold_metadata: metadata::FIELD_TRANSPORT_ENDPOINT_HANDLE,
                ..Delivery::default()
            },
        ),
        (
            Layer::OutboundV4,
            Delivery {
                value_count: Some(6),
                ..Delivery::default()
            },
        ),
    ];
    for (layer, how) in cases {
        let delivered = sim.deliver(layer, &udp(layer, PORT), how);
        assert_eq!(
            delivered.result.unwrap().action,
            FWP_ACTION_PERMIT,
            "{layer:?} {how:?}"
        );
        let view_before = sim.packet_view(delivered.nbl as *const _);
        sim.return_packet(delivered.nbl);
        assert!(view_before.is_some());
    }
    let malformed: u64 = [
        TransportLayer::InboundV4,
        TransportLayer::OutboundV4,
        TransportLayer::InboundV6,
        TransportLayer::OutboundV6,
    ]
    .into_iter()
    .map(|layer| driver.counters(layer).malformed)
    .sum();
    // The truncated inbound packet has fewer bytes before its data than its headers: no retreat
    // (NDIS would allocate), counted apart.
    assert_eq!(malformed, 4);
    assert_eq!(
        driver
            .counters(TransportLayer::InboundV4)
            .skipped_no_headroom,
        1
    );
    assert_eq!(
        sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0),
        0,
        "nothing cloned"
    );
    assert!(sim.pending_injections().is_empty());
    driver.unload();
    sim.assert_clean();
}

#[test]
fn clone_and_inject_failures_permit_the_packet_and_count() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    sim.fail_call(
        KernelFn::FwpsAllocateCloneNetBufferList0,
        0,
        NtStatus::NO_MEMORY,
    );
    let clone_failed = sim.deliver(
        Layer::OutboundV4,
        &udp(Layer::OutboundV4, PORT),
        Delivery::default(),
    );
    assert_eq!(clone_failed.result.unwrap().action, FWP_ACTION_PERMIT);
    sim.fail_call(
        KernelFn::FwpsInjectTransportReceiveAsync0,
        0,
        NtStatus::FWP_INJECT_HANDLE_STALE,
    );
    let inject_failed = sim.deliver(
        Layer::InboundV4,
        &udp(Layer::InboundV4, PORT),
        Delivery::default(),
    );
    assert_eq!(inject_failed.result.unwrap().action, FWP_ACTION_PERMIT);
    assert_eq!(sim.live_clones(), 0, "the refused clone was freed at once");
    let original = sim.packet_view(inject_failed.nbl as *const _).unwrap();
    let (bytes, ip_header, _) = udp(Layer::InboundV4, PORT).bytes(true);
    assert_eq!(
        original,
        bytes[ip_header + 8..].to_vec(),
        "the original is restored after a failure"
    );
    assert_eq!(driver.counters(TransportLayer::OutboundV4).failed, 1);
    assert_eq!(driver.counters(TransportLayer::InboundV4).failed, 1);
    for nbl in [clone_failed.nbl, inject_failed.nbl] {
        sim.return_packet(nbl);
    }
    driver.unload();
    sim.assert_clean();
}

#[test]
fn tcp_reinjection_goes_through_a_dpc() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let mut packet = udp(Layer::InboundV6, PORT);
    packet.protocol = 6;
    let delivered = sim.deliver(Layer::InboundV6, &packet, Delivery::default());
    assert_eq!(delivered.result.unwrap().action, FWP_ACTION_BLOCK);
    assert!(sim.pending_injections().is_empty());
    assert_eq!(sim.run_queued_dpcs(), 1);
    assert_eq!(sim.pending_injections().len(), 1);
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(delivered.nbl);
    driver.unload();
    sim.assert_clean();
}

#[test]
fn unload_with_packets_in_flight_waits_for_their_completions() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let delivered: Vec<_> = Layer::ALL
        .into_iter()
        .map(|layer| sim.deliver(layer, &udp(layer, PORT), Delivery::default()))
        .collect();
    assert_eq!(sim.pending_injections().len(), 4);
    std::thread::scope(|scope| {
        let unloader = scope.spawn(|| driver.unload());
        let limit = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while sim.calls(KernelFn::ExWaitForRundownProtectionReleaseCacheAware) == 0 {
            assert!(
                std::time::Instant::now() < limit,
                "unload never started draining"
            );
            std::thread::yield_now();
        }
        assert_eq!(sim.wfp_objects().filters, 0, "filters go first");
        assert_eq!(
            sim.wfp_objects().registered_callouts,
            0,
            "callouts are unregistered before draining: no classify can start an injection"
        );
        assert!(!unloader.is_finished());
        sim.complete_all(NtStatus::SUCCESS);
        assert_eq!(unloader.join().unwrap(), NtStatus::SUCCESS);
    });
    for d in delivered {
        sim.return_packet(d.nbl);
    }
    sim.assert_clean();
}

#[test]
fn load_failing_at_each_step_leaves_nothing_behind() {
    let _heap = heap::check();
    let steps: Vec<(KernelFn, u32, LoadStep)> = vec![
        (
            KernelFn::FwpsInjectionHandleCreate0,
            0,
            LoadStep::InjectionHandles,
        ),
        (
            KernelFn::FwpsInjectionHandleCreate0,
            1,
            LoadStep::InjectionHandles,
        ),
        (KernelFn::FwpmEngineOpen0, 0, LoadStep::EngineOpen),
        (
            KernelFn::FwpsCalloutRegister1,
            0,
            LoadStep::CalloutRegister(TransportLayer::OutboundV4.into()),
        ),
        (
            KernelFn::FwpsCalloutRegister1,
            3,
            LoadStep::CalloutRegister(TransportLayer::InboundV6.into()),
        ),
        (KernelFn::FwpmTransactionBegin0, 0, LoadStep::StaleObjects),
        (KernelFn::FwpmFilterDeleteByKey0, 0, LoadStep::StaleObjects),
        (
            KernelFn::FwpmProviderDeleteByKey0,
            0,
            LoadStep::StaleObjects,
        ),
        (KernelFn::FwpmTransactionCommit0, 0, LoadStep::StaleObjects),
        (
            KernelFn::FwpmTransactionBegin0,
            1,
            LoadStep::TransactionBegin,
        ),
        (KernelFn::FwpmProviderAdd0, 0, LoadStep::ProviderAdd),
        (KernelFn::FwpmSubLayerAdd0, 0, LoadStep::SubLayerAdd),
        (
            KernelFn::FwpmCalloutAdd0,
            0,
            LoadStep::CalloutAdd(TransportLayer::OutboundV4.into()),
        ),
        (
            KernelFn::FwpmCalloutAdd0,
            2,
            LoadStep::CalloutAdd(TransportLayer::InboundV4.into()),
        ),
        (
            KernelFn::FwpmFilterAdd0,
            0,
            LoadStep::FilterAdd(TransportLayer::OutboundV4.into()),
        ),
        (
            KernelFn::FwpmFilterAdd0,
            3,
            LoadStep::FilterAdd(TransportLayer::InboundV6.into()),
        ),
        (
            KernelFn::FwpmTransactionCommit0,
            1,
            LoadStep::TransactionCommit,
        ),
    ];
    for (call, skip, step) in steps {
        let sim = SimulatedStack::new();
        configure_port(&sim);
        sim.fail_call(call, skip, NtStatus::INSUFFICIENT_RESOURCES);
        let error = host_driver::try_load(&sim).unwrap_err();
        assert_eq!(error.step, step, "{call:?} #{skip}");
        assert_eq!(error.status, NtStatus::INSUFFICIENT_RESOURCES);
        // A transaction that began and did not commit is aborted, a failed commit included;
        // none is aborted that never began or that committed.
        let began_uncommitted = !matches!(
            call,
            KernelFn::FwpsInjectionHandleCreate0
                | KernelFn::FwpmEngineOpen0
                | KernelFn::FwpsCalloutRegister1
                | KernelFn::FwpmTransactionBegin0
        );
        assert_eq!(
            sim.calls(KernelFn::FwpmTransactionAbort0),
            u64::from(began_uncommitted),
            "{call:?} #{skip}: aborts"
        );
        assert_eq!(
            sim.wfp_objects(),
            WfpObjects::default(),
            "{call:?} #{skip}: engine empty"
        );
        assert!(
            sim.all_handles().iter().all(|h| h.destroyed),
            "{call:?} #{skip}: handles destroyed"
        );
        sim.assert_clean();
    }
}

#[test]
fn a_second_load_works_and_so_does_a_load_over_objects_a_crash_left_behind() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    load(&sim).unload();
    // Leaked on purpose below: not counted by the heap check.
    let second = heap::uncounted(|| load(&sim));
    // The driver vanishes without unloading (a crash): BFE keeps its objects.
    std::mem::forget(second);
    sim.forget_driver_state();
    let stale = sim.wfp_objects();
    assert_eq!((stale.providers, stale.filters), (1, 4));
    // Its injection handles went with it in a real crash; release them in the simulation.
    for handle in sim.open_handles() {
        // SAFETY: the handles belong to the vanished instance and are destroyed once here.
        unsafe {
            wfp_injector::sys::KernelApi::fwps_injection_handle_destroy0(
                &&sim,
                handle.raw as *mut _,
            );
        }
    }
    let third = load(&sim);
    assert_eq!(
        sim.wfp_objects().providers,
        1,
        "stale objects replaced, not duplicated"
    );
    assert_eq!(third.unload(), NtStatus::SUCCESS);
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    sim.assert_clean();
}

#[test]
fn bad_registry_values_are_logged_and_ignored() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(70000));
    sim.set_parameter(
        "InspectRemoteAddressV4",
        RegistryValue::Binary(vec![1, 2, 3]),
    );
    sim.set_parameter("InspectProtocol", RegistryValue::Other(1, vec![b'x', 0]));
    sim.set_parameter("MaxInFlight", RegistryValue::Dword(0));
    sim.set_parameter("VerboseLogging", RegistryValue::Dword(1));
    sim.set_parameter(
        "InspectRemoteAddressV6",
        RegistryValue::Binary(PEER_V6.octets().to_vec()),
    );
    let driver = load(&sim);
    let parameters = *driver.parameters();
    assert_eq!(parameters.inspection.remote_port, None);
    assert_eq!(parameters.inspection.remote_v4, None);
    assert_eq!(parameters.inspection.protocol, None);
    assert_eq!(parameters.inspection.remote_v6, Some(PEER_V6.octets()));
    assert_eq!(parameters.max_in_flight, None);
    assert!(parameters.verbose);
    assert_eq!(
        driver.injector().expect("loaded").capacity(),
        1024,
        "the default stays"
    );
    let log = sim.debug_log();
    for name in [
        "InspectRemotePort",
        "InspectRemoteAddressV4",
        "InspectProtocol",
        "MaxInFlight",
    ] {
        assert!(
            log.iter().any(|(component, level, text)| *component == 80
                && *level == 1
                && text.contains(name)),
            "{name} logged"
        );
    }
    driver.unload();
    sim.assert_clean();
}

#[test]
fn max_in_flight_from_the_registry_sizes_the_context_pool() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    sim.set_parameter("MaxInFlight", RegistryValue::Dword(2));
    let driver = load(&sim);
    assert_eq!(driver.injector().expect("loaded").capacity(), 2);
    let delivered: Vec<_> = (0..3)
        .map(|_| {
            sim.deliver(
                Layer::OutboundV4,
                &udp(Layer::OutboundV4, PORT),
                Delivery::default(),
            )
        })
        .collect();
    let actions: Vec<u32> = delivered.iter().map(|d| d.result.unwrap().action).collect();
    assert_eq!(
        actions,
        vec![FWP_ACTION_BLOCK, FWP_ACTION_BLOCK, FWP_ACTION_PERMIT],
        "the third is permitted, not dropped"
    );
    assert_eq!(driver.counters(TransportLayer::OutboundV4).failed, 1);
    sim.complete_all(NtStatus::SUCCESS);
    for d in delivered {
        sim.return_packet(d.nbl);
    }
    driver.unload();
    sim.assert_clean();
}

/// `classified` is no counter of its own (classify bumps exactly one outcome per call): the
/// snapshot sums the outcomes, each once, and leaves out `checksum_recomputed`, a detail of
/// `reinjected`. Distinct powers of two make any missing, doubled or subtracted term visible.
#[test]
fn classified_is_the_sum_of_the_outcomes_and_nothing_else() {
    use std::sync::atomic::Ordering::Relaxed;
    use wfp_injector::driver::counters::LayerCounters;

    let counters = LayerCounters::default();
    let outcomes = [
        &counters.skipped_own,
        &counters.skipped_no_write_right,
        &counters.not_inspected,
        &counters.reinjected,
        &counters.failed,
        &counters.malformed,
        &counters.skipped_loopback,
        &counters.skipped_ale_classify_required,
        &counters.skipped_ipsec,
        &counters.skipped_tcp_below_dispatch,
        &counters.skipped_no_headroom,
        &counters.skipped_multi_buffer,
        &counters.skipped_split_header_checksum,
    ];
    for (bit, counter) in outcomes.iter().enumerate() {
        counter.store(1 << bit, Relaxed);
    }
    counters.checksum_recomputed.store(1 << 20, Relaxed);
    let snapshot = counters.snapshot();
    assert_eq!(snapshot.classified, (1 << outcomes.len()) - 1);
    assert_eq!(snapshot.checksum_recomputed, 1 << 20);
    assert_eq!(snapshot.skipped_multi_buffer, 1 << 11);
    assert_eq!(snapshot.skipped_split_header_checksum, 1 << 12);
}

/// Unload logs one counters line per layer that saw traffic, none for the others (the shipped
/// image's only window on its counters; tests/image_reinjection_rules.rs reads these lines).
#[test]
fn unload_logs_the_counters_of_each_layer_that_saw_traffic() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    configure_port(&sim);
    let driver = load(&sim);
    let layer = Layer::OutboundV4;
    let delivered = sim.deliver(layer, &udp(layer, PORT), Delivery::default());
    sim.complete_all(NtStatus::SUCCESS);
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.return_packet(delivered.nbl);
    let lines: Vec<String> = sim
        .debug_log()
        .into_iter()
        .map(|(_, _, line)| line)
        .filter(|line| line.contains(": classified "))
        .collect();
    assert_eq!(lines.len(), 1, "one layer saw traffic: {lines:?}");
    assert!(
        lines[0].contains("OutboundV4: classified 1, reinjected 1, own 0,"),
        "{lines:?}"
    );
    sim.assert_clean();
}
