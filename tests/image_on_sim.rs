//! The shipped bytes, run on Linux: the driver image built by scripts/build-sys.sh is mapped by
//! a test loader, its kernel imports bound to the simulated stack through win64 shims, and its
//! DriverEntry, classify, completions, DPCs and DriverUnload executed natively. The same
//! expectations as the host-compiled suite, checked against the code that ships: the Windows x64
//! calling convention, the layouts the Windows-target build sees, its codegen, its entry shell
//! and runtime (pool allocator, panic handler).

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use support::harness::Harness;
use wfp_injector::nt::NtStatus;
use wfp_injector::sys::types::{
    FWP_ACTION_BLOCK, FWP_ACTION_PERMIT, FWPS_CLASSIFY_OUT_FLAG_ABSORB,
};
use wfp_sim::traffic::{Delivery, Layer, TransportPacket};
use wfp_sim::{KernelFn, RegistryValue, SimulatedStack, WfpObjects};

const POOL_TAG: u32 = u32::from_le_bytes(*b"WfpI");
const PORT: u16 = 53;

fn udp(layer: Layer, port: u16) -> TransportPacket {
    if layer.is_v6() {
        TransportPacket::udp(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            999,
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
            port,
        )
    } else {
        TransportPacket::udp(
            IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1)),
            999,
            IpAddr::V4(Ipv4Addr::new(10, 1, 1, 2)),
            port,
        )
    }
}

#[test]
fn the_image_loads_and_unloads_leaving_engine_pool_and_devices_empty() {
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
    let Some(mut harness) = Harness::new(&sim) else {
        return;
    };
    assert!(harness.image.size() > 0);
    assert_eq!(harness.driver_entry(), NtStatus::SUCCESS);
    assert_eq!(
        sim.wfp_objects(),
        WfpObjects {
            sessions: 1,
            providers: 1,
            sublayers: 1,
            callouts: 8,
            filters: 4,
            registered_callouts: 8
        }
    );
    assert_eq!(sim.open_handles().len(), 2);
    assert_eq!(sim.devices(), 1, "DriverEntry created its device object");
    let pool = sim.pool_outstanding();
    assert!(
        pool.get(&POOL_TAG).is_some_and(|(count, _)| *count >= 1),
        "state in tagged pool: {pool:?}"
    );
    assert_eq!(pool.len(), 1, "every allocation carries the driver's tag");
    assert!(
        sim.debug_log()
            .iter()
            .any(|(_, _, text)| text.starts_with("wfp_injector: loaded"))
    );
    harness.driver_unload();
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert!(
        sim.pool_outstanding().is_empty(),
        "pool balanced per tag at unload"
    );
    assert_eq!(sim.devices(), 0);
    drop(harness);
    sim.assert_clean();
}

/// The shipped image binds KMDF 1.31: the framework of Windows 10 2004 (1.31) serves it; the
/// framework of Windows 10 1903 (1.29) refuses it, DriverEntry fails with the loader's status
/// and nothing is left (no device, WFP object, pool block or binding).
#[test]
fn the_image_loads_on_windows_10_2004s_framework_and_is_refused_by_1903s() {
    use wfp_sim::kmdf::KmdfEvent;
    use wfp_sim::kmdf::facts::{
        BIND_REFUSED, FRAMEWORK_MINOR_WINDOWS_10_1903, FRAMEWORK_MINOR_WINDOWS_10_2004,
    };
    let sim = SimulatedStack::new();
    sim.install_framework(FRAMEWORK_MINOR_WINDOWS_10_2004);
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    assert_eq!(sim.kmdf_events()[0], KmdfEvent::Bound);
    assert_eq!(sim.wfp_objects().registered_callouts, 8);
    // The identifying provider (HLK FwpmProviders.MaintainIdentifying): company and product as
    // Cargo.toml declares them.
    let providers = sim.providers();
    assert_eq!(providers.len(), 1, "{providers:?}");
    assert_eq!(
        (providers[0].1.clone(), providers[0].2.clone()),
        (
            Some(support::identity::identity("company")),
            Some(support::identity::identity("product"))
        )
    );
    // AssociateWithObjects: every sublayer, callout and filter names that provider.
    let objects = sim.object_providers();
    // A sublayer, eight callouts (transport and IP packet layers), four transport filters.
    assert_eq!(objects.len(), 13, "{objects:?}");
    assert!(
        objects
            .iter()
            .all(|(_, _, with)| *with == Some(providers[0].0)),
        "{objects:?}"
    );
    harness.driver_unload();
    assert_eq!(sim.kmdf_events().last(), Some(&KmdfEvent::Unbound));
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    drop(harness);
    sim.assert_clean();

    let sim = SimulatedStack::new();
    sim.install_framework(FRAMEWORK_MINOR_WINDOWS_10_1903);
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
    let Some(mut harness) = Harness::new(&sim) else {
        return;
    };
    assert_eq!(harness.driver_entry(), NtStatus(BIND_REFUSED as i32));
    assert_eq!(
        sim.kmdf_events(),
        vec![KmdfEvent::BindRefused(
            "minor version newer than the framework"
        )]
    );
    assert!(harness.driver.DriverUnload.is_none());
    assert_eq!(sim.devices(), 0);
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert!(
        sim.pool_outstanding().is_empty(),
        "the registry path copy freed"
    );
    drop(harness);
    sim.assert_clean();
}

#[test]
fn the_image_waits_for_tcpip_with_its_retry_policy() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(5);
    let Some(mut harness) = Harness::new(&sim) else {
        return;
    };
    // DriverEntry makes one attempt and never sleeps; the work item retries.
    assert_eq!(harness.driver_entry(), NtStatus::SUCCESS);
    assert!(sim.sleeps().is_empty(), "DriverEntry never sleeps");
    assert_eq!(sim.queued_work_items(), 1);
    assert_eq!(sim.run_work_items(), 5, "one attempt per run");
    // 10 ms doubling (10 + 20 + 40 + 80 + 160), in 100 ns units through KeDelayExecutionThread, in
    // slices of at most 20 ms so that unload is never kept waiting longer.
    assert_eq!(sim.virtual_time(), std::time::Duration::from_millis(310));
    assert!(
        sim.sleeps()
            .iter()
            .all(|wait| *wait <= std::time::Duration::from_millis(20))
    );
    assert_eq!(sim.open_handles().len(), 2);
    harness.driver_unload();
    drop(harness);
    sim.assert_clean();
}

#[test]
fn the_image_gives_up_on_tcpip_at_its_deadline_and_leaves_nothing() {
    let sim = SimulatedStack::new();
    sim.set_tcpip_not_ready_for(u32::MAX);
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    sim.run_work_items();
    assert_eq!(sim.virtual_time(), std::time::Duration::from_secs(10));
    assert!(sim.open_handles().is_empty());
    assert!(
        harness.driver.DriverUnload.is_some(),
        "inert, still loaded: unload is there"
    );
    harness.driver_unload();
    assert!(sim.pool_outstanding().is_empty());
    assert_eq!(sim.devices(), 0);
    drop(harness);
    sim.assert_clean();
}

#[test]
fn load_failing_at_each_step_leaves_nothing_behind_in_the_image() {
    let steps = [
        (KernelFn::WdfVersionBind, 0),
        (KernelFn::WdfDriverCreate, 0),
        (KernelFn::WdfControlDeviceInitAllocate, 0),
        (KernelFn::WdfDeviceCreate, 0),
        (KernelFn::FwpsInjectionHandleCreate0, 0),
        (KernelFn::FwpsInjectionHandleCreate0, 1),
        (KernelFn::FwpmEngineOpen0, 0),
        (KernelFn::FwpsCalloutRegister1, 2),
        (KernelFn::FwpmTransactionBegin0, 0),
        (KernelFn::FwpmFilterDeleteByKey0, 2),
        (KernelFn::FwpmTransactionCommit0, 0),
        (KernelFn::FwpmTransactionBegin0, 1),
        (KernelFn::FwpmProviderAdd0, 0),
        (KernelFn::FwpmSubLayerAdd0, 0),
        (KernelFn::FwpmCalloutAdd0, 3),
        (KernelFn::FwpmFilterAdd0, 1),
        (KernelFn::FwpmTransactionCommit0, 1),
    ];
    for (call, skip) in steps {
        let sim = SimulatedStack::new();
        sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
        sim.fail_call(call, skip, NtStatus::INSUFFICIENT_RESOURCES);
        let Some(mut harness) = Harness::new(&sim) else {
            return;
        };
        assert_eq!(
            harness.driver_entry(),
            NtStatus::INSUFFICIENT_RESOURCES,
            "{call:?} #{skip}"
        );
        assert_eq!(sim.wfp_objects(), WfpObjects::default(), "{call:?} #{skip}");
        assert!(sim.pool_outstanding().is_empty(), "{call:?} #{skip}: pool");
        assert_eq!(sim.devices(), 0, "{call:?} #{skip}: device");
        assert_eq!(
            sim.kmdf_objects(),
            wfp_sim::kmdf::KmdfObjects::default(),
            "{call:?} #{skip}: KMDF objects (device init, device, driver, binding)"
        );
        drop(harness);
        sim.assert_clean();
    }
}

#[test]
fn the_image_classifies_reinjects_and_recognises_its_own_packets_on_every_layer() {
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    let mut indicated = Vec::new();
    for layer in Layer::ALL {
        // Unconfigured traffic: the filter's conditions keep it from classify.
        let other = sim.deliver(layer, &udp(layer, 80), Delivery::default());
        assert!(other.result.is_none(), "{layer:?}");
        // Through a filter broader than the configuration: classify permits it, clones nothing.
        let bypassed = sim.deliver(
            layer,
            &udp(layer, 80),
            Delivery {
                ignore_conditions: true,
                ..Delivery::default()
            },
        );
        assert_eq!(
            bypassed.result.unwrap().action,
            FWP_ACTION_PERMIT,
            "{layer:?}"
        );
        indicated.push(bypassed.nbl);
        // No write right: untouched.
        let no_write = sim.deliver(
            layer,
            &udp(layer, PORT),
            Delivery {
                may_write: false,
                ..Delivery::default()
            },
        );
        assert_eq!(
            no_write.result.unwrap().action,
            FWP_ACTION_PERMIT,
            "{layer:?}"
        );
        assert!(sim.pending_injections().is_empty(), "{layer:?}");
        // Configured traffic: cloned, absorbed, reinjected on its path.
        let configured = sim.deliver(layer, &udp(layer, PORT), Delivery::default());
        let out = configured.result.unwrap();
        assert_eq!(out.action, FWP_ACTION_BLOCK, "{layer:?}");
        assert_ne!(out.flags & FWPS_CLASSIFY_OUT_FLAG_ABSORB, 0);
        let pending = sim.pending_injections();
        assert_eq!(pending.len(), 1, "{layer:?}");
        let (bytes, ip_header, _) = udp(layer, PORT).bytes(layer.is_inbound());
        let clone = sim.packet_view(pending[0].nbl as *const _).unwrap();
        let expected = if layer.is_inbound() {
            bytes.clone()
        } else {
            bytes[ip_header..].to_vec()
        };
        assert_eq!(
            clone, expected,
            "{layer:?}: the clone starts where its path needs it"
        );
        // The reinjected clone comes back: the image's query says it is its own.
        let again = sim.classify_again(layer, &udp(layer, PORT), pending[0].nbl as *mut _);
        assert_eq!(again.action, FWP_ACTION_PERMIT, "{layer:?}");
        assert_eq!(again.flags & FWPS_CLASSIFY_OUT_FLAG_ABSORB, 0);
        assert_eq!(
            sim.pending_injections().len(),
            1,
            "{layer:?}: no reinjection loop"
        );
        sim.complete_all(NtStatus::SUCCESS);
        assert_eq!(
            sim.live_clones(),
            0,
            "{layer:?}: the completion freed the clone"
        );
        indicated.extend([other.nbl, no_write.nbl, configured.nbl]);
    }
    for nbl in indicated {
        sim.return_packet(nbl);
    }
    harness.driver_unload();
    drop(harness);
    sim.assert_clean();
}

#[test]
fn the_image_permits_when_cloning_or_injection_fails_and_frees_the_clone() {
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    sim.fail_call(
        KernelFn::FwpsAllocateCloneNetBufferList0,
        0,
        NtStatus::NO_MEMORY,
    );
    let clone_failed = sim.deliver(
        Layer::OutboundV6,
        &udp(Layer::OutboundV6, PORT),
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
    assert_eq!(sim.live_clones(), 0);
    let truncated = sim.deliver(
        Layer::InboundV6,
        &udp(Layer::InboundV6, PORT),
        Delivery {
            truncate_to: Some(30),
            ..Delivery::default()
        },
    );
    assert_eq!(truncated.result.unwrap().action, FWP_ACTION_PERMIT);
    assert_eq!(
        sim.calls(KernelFn::FwpsInjectTransportReceiveAsync0),
        1,
        "the truncated packet was not injected"
    );
    for nbl in [clone_failed.nbl, inject_failed.nbl, truncated.nbl] {
        sim.return_packet(nbl);
    }
    harness.driver_unload();
    drop(harness);
    sim.assert_clean();
}

#[test]
fn the_image_defers_tcp_reinjection_to_a_dpc() {
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    let mut tcp = udp(Layer::OutboundV4, PORT);
    tcp.protocol = 6;
    let delivered = sim.deliver(Layer::OutboundV4, &tcp, Delivery::default());
    assert_eq!(delivered.result.unwrap().action, FWP_ACTION_BLOCK);
    assert!(sim.pending_injections().is_empty());
    assert_eq!(sim.run_queued_dpcs(), 1, "the image's DPC routine ran");
    assert_eq!(sim.pending_injections().len(), 1);
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(delivered.nbl);
    harness.driver_unload();
    drop(harness);
    sim.assert_clean();
}

#[test]
fn unloading_the_image_with_injections_in_flight_waits_for_their_completions() {
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    let delivered: Vec<_> = Layer::ALL
        .into_iter()
        .map(|layer| sim.deliver(layer, &udp(layer, PORT), Delivery::default()))
        .collect();
    assert_eq!(sim.pending_injections().len(), 4);
    std::thread::scope(|scope| {
        let call = harness.unload_call();
        let unloader = scope.spawn(move || call.run());
        let limit = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while sim.calls(KernelFn::ExWaitForRundownProtectionReleaseCacheAware) == 0 {
            assert!(
                std::time::Instant::now() < limit,
                "unload never started draining"
            );
            std::thread::yield_now();
        }
        assert_eq!(sim.wfp_objects().filters, 0, "filters are deleted first");
        assert!(
            !unloader.is_finished(),
            "unload returned with injections in flight"
        );
        sim.complete_all(NtStatus::SUCCESS);
        unloader.join().unwrap();
    });
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert!(sim.pool_outstanding().is_empty());
    for d in delivered {
        sim.return_packet(d.nbl);
    }
    drop(harness);
    sim.assert_clean();
}

#[test]
fn packets_another_driver_injected_are_permitted_untouched() {
    use wfp_injector::inject::{
        DualStackInjector, Injection, InjectionTypes, IpProtocol, NetBufferListRef, PacketInjector,
        RemoteAddress, RetryPolicy, Tag, TransportSend,
    };
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    // Another driver (here: the host-compiled layer on the same stack) injects a packet.
    let other_handles =
        DualStackInjector::create(&sim, InjectionTypes::TRANSPORT, &RetryPolicy::default())
            .unwrap();
    let other = PacketInjector::freeing_clones(other_handles, 4).unwrap();
    let packet = udp(Layer::OutboundV4, PORT);
    let (bytes, ip_header, _) = packet.bytes(false);
    let original = sim.indicate_packet_at(&bytes, ip_header);
    // SAFETY: the simulated stack keeps the NBL until it is returned below.
    let original_ref = unsafe { NetBufferListRef::from_raw(original) }.unwrap();
    let send = Injection::TransportSend(TransportSend {
        endpoint_handle: 1,
        remote_address: RemoteAddress::V4([10, 1, 1, 2]),
        control_data: &[],
        compartment: 1,
        protocol: IpProtocol::UDP,
    });
    other
        .clone_and_inject(original_ref, send, Tag::default())
        .unwrap();
    let foreign = sim.pending_injections()[0].clone();
    // It comes back through the layer: injected by another driver, so the image permits it
    // untouched (its interop policy: it never reinjects another driver's packet).
    let clones = sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0);
    let result = sim.classify_again(Layer::OutboundV4, &packet, foreign.nbl as *mut _);
    assert_eq!(result.action, FWP_ACTION_PERMIT);
    assert_eq!(sim.calls(KernelFn::FwpsAllocateCloneNetBufferList0), clones);
    assert_eq!(
        sim.pending_injections().len(),
        1,
        "the image reinjected nothing"
    );
    sim.complete_all(NtStatus::SUCCESS);
    other.close().unwrap();
    sim.return_packet(original);
    harness.driver_unload();
    drop(harness);
    sim.assert_clean();
}

/// WFP may complete an injection before the inject call returns: the shipped image copes, on
/// the direct path (inside classify) and the deferred one (inside its DPC).
#[test]
fn the_image_copes_with_completions_inside_the_inject_call() {
    for mode in [
        wfp_sim::SyncCompletions::Always,
        wfp_sim::SyncCompletions::Random(5),
    ] {
        let sim = SimulatedStack::new();
        sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
        let Some(mut harness) = Harness::loaded(&sim) else {
            return;
        };
        sim.set_sync_completions(mode);
        for layer in Layer::ALL {
            for protocol in [17, 6] {
                let mut packet = udp(layer, PORT);
                packet.protocol = protocol;
                let delivered = sim.deliver(layer, &packet, Delivery::default());
                assert_eq!(delivered.result.unwrap().action, FWP_ACTION_BLOCK);
                sim.run_queued_dpcs();
                if mode == wfp_sim::SyncCompletions::Always {
                    assert!(sim.pending_injections().is_empty(), "{layer:?}");
                    assert_eq!(sim.live_clones(), 0, "freed inside the inject call");
                }
                sim.complete_all(NtStatus::SUCCESS);
                sim.return_packet(delivered.nbl);
            }
        }
        assert!(
            sim.calls(KernelFn::FwpsInjectTransportSendAsync0)
                + sim.calls(KernelFn::FwpsInjectTransportReceiveAsync0)
                >= 8
        );
        harness.driver_unload();
        drop(harness);
        assert!(sim.pool_outstanding().is_empty(), "{mode:?}");
        sim.assert_clean();
    }
}
