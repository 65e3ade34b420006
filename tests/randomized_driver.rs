//! Randomized traffic through the callout driver mixed with loads, unloads, refusals and
//! completions. Whatever the order: an absorbed packet always has a reinjection behind it, a
//! permitted one never does, unload always drains, and the engine and stack end empty.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use wfp_injector::driver::{Driver, DriverConfig};
use wfp_injector::nt::{DeviceObject, NtStatus, RegistryPath};
use wfp_injector::sim::traffic::{Delivery, Layer, TransportPacket};
use wfp_injector::sim::{RegistryValue, SERVICE_KEY_PATH, SimCall, SimulatedStack, WfpObjects};
use wfp_injector::sys::types::{
    DEVICE_OBJECT, FWP_ACTION_BLOCK, FWP_ACTION_PERMIT, FWPS_CLASSIFY_OUT_FLAG_ABSORB,
    UNICODE_STRING,
};

#[derive(Debug, Clone)]
enum Op {
    Load,
    Unload,
    Deliver {
        layer: u8,
        configured: bool,
        tcp: bool,
    },
    Complete {
        failed: bool,
    },
    RunDpcs,
    Refuse(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Load),
        1 => Just(Op::Unload),
        6 => (0u8..4, any::<bool>(), any::<bool>())
            .prop_map(|(layer, configured, tcp)| Op::Deliver { layer, configured, tcp }),
        3 => any::<bool>().prop_map(|failed| Op::Complete { failed }),
        1 => Just(Op::RunDpcs),
        1 => (0u8..4).prop_map(Op::Refuse),
    ]
}

const REFUSALS: [SimCall; 4] = [
    SimCall::AllocateCloneNetBufferList,
    SimCall::InjectTransportSend,
    SimCall::InjectTransportReceive,
    SimCall::RetreatNetBufferDataStart,
];

fn packet(layer: Layer, port: u16, tcp: bool) -> TransportPacket {
    let mut packet = if layer.is_v6() {
        TransportPacket::udp(
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            1000,
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            port,
        )
    } else {
        TransportPacket::udp(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            1000,
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
            port,
        )
    };
    if tcp {
        packet.protocol = 6;
    }
    packet
}

fn unload_draining(sim: &SimulatedStack, driver: Driver<&SimulatedStack>) {
    std::thread::scope(|scope| {
        let unloader = scope.spawn(move || driver.unload());
        while !unloader.is_finished() {
            sim.run_queued_dpcs();
            sim.complete_all(NtStatus::SUCCESS);
            std::thread::yield_now();
        }
        assert_eq!(unloader.join().unwrap(), NtStatus::SUCCESS);
    });
}

fn run(ops: &[Op]) {
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(53));
    let mut buffer: Vec<u16> = SERVICE_KEY_PATH.encode_utf16().collect();
    let length = (buffer.len() * 2) as u16;
    let string = UNICODE_STRING {
        Length: length,
        MaximumLength: length,
        Buffer: buffer.as_mut_ptr(),
    };
    // SAFETY: the simulated stack never dereferences a device object; `string` outlives the run.
    let device =
        unsafe { DeviceObject::from_raw(std::ptr::NonNull::<DEVICE_OBJECT>::dangling().as_ptr()) }
            .unwrap();
    let mut driver: Option<Driver<&SimulatedStack>> = None;
    let mut indicated = Vec::new();
    for op in ops {
        match *op {
            Op::Load if driver.is_none() => {
                // SAFETY: see above.
                let path = unsafe { RegistryPath::from_raw(&string) };
                driver = Some(Driver::load(&sim, device, path, &DriverConfig::default()).unwrap());
            }
            Op::Unload => {
                if let Some(loaded) = driver.take() {
                    unload_draining(&sim, loaded);
                    assert_eq!(sim.wfp_objects(), WfpObjects::default());
                }
            }
            Op::Deliver {
                layer,
                configured,
                tcp,
            } => {
                let layer = Layer::ALL[usize::from(layer)];
                let port = if configured { 53 } else { 80 };
                let pending_before = sim.pending_injections().len() + sim.queued_dpcs();
                let delivered = sim.deliver(layer, &packet(layer, port, tcp), Delivery::default());
                let pending_after = sim.pending_injections().len() + sim.queued_dpcs();
                match delivered.result {
                    None => assert!(
                        driver.is_none() || !configured,
                        "configured traffic reaches classify while loaded"
                    ),
                    Some(result) if result.action == FWP_ACTION_BLOCK => {
                        assert!(configured && driver.is_some());
                        assert_ne!(result.flags & FWPS_CLASSIFY_OUT_FLAG_ABSORB, 0);
                        assert_eq!(
                            pending_after,
                            pending_before + 1,
                            "an absorbed packet is reinjected"
                        );
                    }
                    Some(result) => {
                        assert!(
                            configured && driver.is_some(),
                            "only configured traffic passes the filter's conditions"
                        );
                        assert_eq!(result.action, FWP_ACTION_PERMIT);
                        assert_eq!(
                            pending_after, pending_before,
                            "a permitted packet is not reinjected"
                        );
                    }
                }
                indicated.push(delivered.nbl);
            }
            Op::Complete { failed } => {
                if let Some(first) = sim.pending_injections().first() {
                    let status = if failed {
                        NtStatus::UNSUCCESSFUL
                    } else {
                        NtStatus::SUCCESS
                    };
                    sim.complete_injection(first.id, status, true);
                }
            }
            Op::RunDpcs => {
                sim.run_queued_dpcs();
            }
            Op::Refuse(which) => sim.fail_call(
                REFUSALS[usize::from(which)],
                0,
                NtStatus::INSUFFICIENT_RESOURCES,
            ),
            Op::Load => {}
        }
    }
    if let Some(loaded) = driver.take() {
        unload_draining(&sim, loaded);
    }
    sim.run_queued_dpcs();
    sim.complete_all(NtStatus::SUCCESS);
    for nbl in indicated {
        sim.return_packet(nbl);
    }
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    sim.assert_clean();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn traffic_mixed_with_load_and_unload_never_leaks_or_loops(ops in proptest::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}
