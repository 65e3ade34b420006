//! Sleep and resume through `\Callback\PowerState`, as cases any loaded driver (the host build in
//! tests/power_transitions.rs, the shipped image in tests/image_power_transitions.rs) must pass:
//! before the system sleeps the driver starts no injection (configured packets permitted
//! untouched, counted as suspended) and waits for the injections in flight, so the simulator
//! sees none in flight when the system sleeps (`Violation::InjectionInFlightAcrossSleep`);
//! after the resume it reinjects again; unload works while suspended and while the sleep routine
//! waits, and removes the registration and the object's reference.
//!
//! A case drives the simulated stack and the power notifications itself and reaches the driver
//! only through [`Loaded`]: its counters where the build can show them during the run, and its
//! unload, which gives the final counters (the image shows them only in its unload log line).

#![allow(dead_code)]

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use wfp_injector::nt::{Irql, NtStatus};
use wfp_sim::traffic::{Delivery, Layer, TransportPacket};
use wfp_sim::{KernelFn, PO_CB_AC_STATUS, PO_CB_SYSTEM_STATE_LOCK, RegistryValue};
use wfp_sim::{SimulatedStack, Violation};

/// FWP_ACTION_BLOCK / FWP_ACTION_PERMIT (fwptypes.h; rows of facts/kernel-facts.md).
pub const BLOCK: u32 = 0x1001;
pub const PERMIT: u32 = 0x1002;

/// The inspected remote port and the two ends of each family's packets.
pub const PORT: u16 = 5353;
const HOST_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const HOST_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const PEER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10);

/// What the driver inspects in every case: UDP and TCP to [`PORT`].
pub fn configure_port(sim: &SimulatedStack) {
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
}

/// The counters a case checks, per layer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub reinjected: u64,
    /// Permitted untouched because the system was going to sleep (`skipped_suspended`).
    pub suspended: u64,
}

/// Each layer's [`Counts`] when the driver unloaded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Finals([Counts; 4]);

impl Finals {
    /// Reads each layer's counts with `read`.
    pub fn from_fn(mut read: impl FnMut(Layer) -> Counts) -> Self {
        Self(Layer::ALL.map(&mut read))
    }

    pub fn get(&self, layer: Layer) -> Counts {
        let at = Layer::ALL.iter().position(|l| *l == layer).unwrap();
        self.0[at]
    }
}

/// Unloads the driver (on whichever thread runs it) and gives its final counters.
pub type Unloader<'s> = Box<dyn FnOnce() -> Finals + Send + 's>;

/// A loaded driver, as the cases see it.
pub trait Loaded<'s> {
    /// `layer`'s counters now, where the build can show them during a run (the host build);
    /// `None` where they are seen only at unload (the image).
    fn counters_now(&self, layer: Layer) -> Option<Counts>;
    /// What unloads the driver; called once.
    fn unloader(&mut self) -> Unloader<'s>;
}

thread_local! {
    /// Delivered NBLs not yet given back: an original goes back only after its clone completed.
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

fn udp(layer: Layer) -> TransportPacket {
    if layer.is_v6() {
        TransportPacket::udp(IpAddr::V6(HOST_V6), 40000, IpAddr::V6(PEER_V6), PORT)
    } else {
        TransportPacket::udp(IpAddr::V4(HOST_V4), 40000, IpAddr::V4(PEER_V4), PORT)
    }
}

/// Delivers one configured UDP packet at `layer`, the injection (if any) left pending and the
/// original held until [`complete`]. The classify's action (0: no classify).
pub fn deliver(sim: &SimulatedStack, layer: Layer) -> u32 {
    let delivered = sim.deliver(layer, &udp(layer), Delivery::default());
    HELD.with(|held| held.borrow_mut().push(delivered.nbl as usize));
    delivered.result.map_or(0, |r| r.action)
}

/// Completes every pending injection, then gives the held originals back. How many completed.
pub fn complete(sim: &SimulatedStack) -> usize {
    let completed = sim.complete_all(NtStatus::SUCCESS);
    for nbl in HELD.with(|held| std::mem::take(&mut *held.borrow_mut())) {
        sim.return_packet(nbl as *mut _);
    }
    completed
}

/// Waits (real time, bounded) until `done` holds.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Unloads on this thread and checks that the registration and the reference are gone.
fn unload(sim: &SimulatedStack, driver: &mut dyn Loaded<'_>) -> Finals {
    let finals = (driver.unloader())();
    assert_eq!(sim.power_registrations(), 0, "unregistered at unload");
    assert_eq!(sim.power_object_references(), 0, "the reference given back");
    finals
}

/// An injection in flight when the sleep is announced completes before the system sleeps (the
/// sleep routine waits for it); a packet in that window is permitted untouched and counted;
/// after the resume the driver reinjects again.
pub fn drain_across_sleep_and_resume(sim: &SimulatedStack, driver: &mut dyn Loaded<'_>) {
    assert_eq!(sim.power_registrations(), 1, "registered at load");
    let layer = Layer::OutboundV4;
    assert_eq!(deliver(sim, layer), BLOCK, "absorbed and reinjected");
    assert_eq!(sim.pending_injections().len(), 1, "one injection in flight");
    // The routine's wait is short (DRAIN_PATIENCE): held here until the test has acted.
    sim.hold_power_routine_waits(true);
    std::thread::scope(|scope| {
        let sleeper = scope.spawn(|| sim.sleep());
        // The routine is waiting for the injection: the system has not slept yet.
        wait_for("the sleep routine to wait", || {
            sim.power_routine_waits_held() == 1
        });
        assert!(!sim.asleep());
        assert_eq!(deliver(sim, layer), PERMIT, "no injection while suspended");
        assert_eq!(sim.pending_injections().len(), 1, "still only the first");
        if let Some(now) = driver.counters_now(layer) {
            assert_eq!(
                now,
                Counts {
                    reinjected: 1,
                    suspended: 1
                }
            );
        }
        // The injection completes: the routine returns, the system sleeps.
        assert_eq!(complete(sim), 1);
        sim.hold_power_routine_waits(false);
        sleeper.join().unwrap();
    });
    assert!(sim.asleep());
    assert_eq!(
        sim.take_violations(),
        [],
        "nothing was in flight across the sleep"
    );
    sim.resume();
    assert_eq!(
        deliver(sim, layer),
        BLOCK,
        "reinjected again after the resume"
    );
    complete(sim);
    let finals = unload(sim, driver);
    assert_eq!(
        finals.get(layer),
        Counts {
            reinjected: 2,
            suspended: 1
        }
    );
}

/// Three sleeps with an injection in flight at every layer each time: each is drained, each
/// layer's packets during the sleep window permitted and counted.
pub fn every_layer_drained_across_repeated_sleeps(
    sim: &SimulatedStack,
    driver: &mut dyn Loaded<'_>,
) {
    for round in 0..3u64 {
        for layer in Layer::ALL {
            assert_eq!(deliver(sim, layer), BLOCK, "{layer:?} round {round}");
        }
        sim.hold_power_routine_waits(true);
        std::thread::scope(|scope| {
            let sleeper = scope.spawn(|| sim.sleep());
            wait_for("the sleep routine", || sim.power_routine_waits_held() == 1);
            for layer in Layer::ALL {
                assert_eq!(deliver(sim, layer), PERMIT, "{layer:?} suspended");
            }
            assert_eq!(complete(sim), 4, "round {round}");
            sim.hold_power_routine_waits(false);
            sleeper.join().unwrap();
        });
        assert_eq!(sim.take_violations(), [], "round {round}");
        sim.resume();
    }
    assert_eq!(sim.sleeps_entered(), 3);
    let finals = unload(sim, driver);
    for layer in Layer::ALL {
        assert_eq!(
            finals.get(layer),
            Counts {
                reinjected: 3,
                suspended: 3
            },
            "{layer:?}"
        );
    }
}

/// A completion that never comes: the routine waits its patience (`drain_patience`, the
/// driver's constant) once and returns, and the simulator records the injection in flight
/// across the sleep.
pub fn a_completion_that_never_comes(
    sim: &SimulatedStack,
    driver: &mut dyn Loaded<'_>,
    drain_patience: Duration,
) {
    assert_eq!(deliver(sim, Layer::OutboundV6), BLOCK);
    let start = sim.virtual_time();
    sim.sleep();
    let waited = sim.virtual_time() - start;
    assert!(
        waited >= drain_patience && waited < drain_patience * 2,
        "the routine waited its patience once: {waited:?}"
    );
    assert_eq!(
        sim.take_violations(),
        [Violation::InjectionInFlightAcrossSleep(1)]
    );
    sim.resume();
    complete(sim);
    unload(sim, driver);
}

/// The system sleeps and never resumes before the driver goes: packets are permitted and
/// counted, and unload unregisters (once) and frees everything.
pub fn unload_while_suspended(sim: &SimulatedStack, driver: &mut dyn Loaded<'_>) {
    sim.sleep();
    assert_eq!(sim.take_violations(), []);
    assert_eq!(deliver(sim, Layer::InboundV4), PERMIT, "suspended");
    let finals = unload(sim, driver);
    assert_eq!(
        finals.get(Layer::InboundV4),
        Counts {
            reinjected: 0,
            suspended: 1
        }
    );
    complete(sim);
    sim.resume();
    assert_eq!(sim.calls(KernelFn::ExUnregisterCallback), 1);
}

/// Unload while the sleep routine waits for an injection: unregistering waits for the routine,
/// which stops waiting; unload then drains the injection itself.
pub fn unload_while_the_sleep_routine_waits(sim: &SimulatedStack, driver: &mut dyn Loaded<'_>) {
    assert_eq!(deliver(sim, Layer::OutboundV4), BLOCK);
    let unloader = driver.unloader();
    sim.hold_power_routine_waits(true);
    std::thread::scope(|scope| {
        let sleeper = scope.spawn(|| sim.announce_sleep());
        wait_for("the sleep routine", || sim.power_routine_waits_held() == 1);
        let unloading = scope.spawn(unloader);
        // Unload has told the routine to stop (before it unregisters, which waits for it).
        wait_for("unload to unregister", || {
            sim.calls(KernelFn::ExUnregisterCallback) == 1
        });
        sim.hold_power_routine_waits(false);
        wait_for("the routine to return", || {
            sim.power_callbacks_running() == 0
        });
        sleeper.join().unwrap();
        assert_eq!(complete(sim), 1);
        let finals = unloading.join().unwrap();
        assert_eq!(finals.get(Layer::OutboundV4).reinjected, 1);
    });
    assert_eq!(sim.power_registrations(), 0);
    assert_eq!(sim.power_object_references(), 0);
    sim.enter_sleep();
    sim.resume();
}

/// The stack's setup for [`a_sleep_during_the_load`]: TCP/IP ready only after 100 ms, so the
/// load waits for it (a work item retries).
pub fn configure_late_tcpip(sim: &SimulatedStack) {
    configure_port(sim);
    sim.set_tcpip_ready_at(Duration::from_millis(100));
}

/// A sleep while the load waits for TCP/IP ([`configure_late_tcpip`]): registered first, the
/// driver sees it, and once loaded it stays suspended until the resume.
pub fn a_sleep_during_the_load(sim: &SimulatedStack, driver: &mut dyn Loaded<'_>) {
    assert_eq!(
        deliver(sim, Layer::OutboundV4),
        0,
        "not loaded yet: no filter"
    );
    complete(sim);
    sim.sleep();
    sim.run_work_items();
    assert_eq!(deliver(sim, Layer::OutboundV4), PERMIT, "loaded, suspended");
    sim.resume();
    assert_eq!(deliver(sim, Layer::OutboundV4), BLOCK);
    complete(sim);
    assert_eq!(sim.take_violations(), []);
    let finals = unload(sim, driver);
    assert_eq!(
        finals.get(Layer::OutboundV4),
        Counts {
            reinjected: 1,
            suspended: 1
        }
    );
}

/// The notifier may call at DISPATCH_LEVEL, where the routine must not wait: it stops injections
/// without waiting. Notifications other than PO_CB_SYSTEM_STATE_LOCK change nothing.
pub fn dispatch_level_and_other_notifications(sim: &SimulatedStack, driver: &mut dyn Loaded<'_>) {
    sim.notify_power_state(PO_CB_AC_STATUS, 0, Irql::PASSIVE);
    assert_eq!(
        deliver(sim, Layer::OutboundV4),
        BLOCK,
        "AC/DC changes nothing"
    );
    // At APC_LEVEL the routine may still wait, and does, for the injection in flight (which
    // never completes here: it gives up after its patience).
    let waits = sim.sleeps().len();
    sim.notify_power_state(PO_CB_SYSTEM_STATE_LOCK, 0, Irql::APC);
    assert!(sim.sleeps().len() > waits, "waited at APC_LEVEL");
    assert_eq!(sim.take_violations(), []);
    sim.notify_power_state(PO_CB_SYSTEM_STATE_LOCK, 1, Irql::PASSIVE);
    let waits = sim.sleeps().len();
    sim.notify_power_state(PO_CB_SYSTEM_STATE_LOCK, 0, Irql::DISPATCH);
    assert_eq!(sim.sleeps().len(), waits, "no wait at DISPATCH_LEVEL");
    assert_eq!(deliver(sim, Layer::OutboundV4), PERMIT, "but suspended");
    complete(sim);
    sim.notify_power_state(PO_CB_SYSTEM_STATE_LOCK, 1, Irql::DISPATCH);
    assert_eq!(deliver(sim, Layer::OutboundV4), BLOCK);
    complete(sim);
    assert_eq!(sim.take_violations(), []);
    let finals = unload(sim, driver);
    assert_eq!(
        finals.get(Layer::OutboundV4),
        Counts {
            reinjected: 2,
            suspended: 1
        }
    );
}
