//! A second injector beside the loaded driver (host-compiled or the shipped image): another
//! driver's callout in its own sublayer, above or below the driver's, that absorbs and reinjects
//! every packet not its own (WFPSampler's basic packet injection), by clone or by copy. Each
//! original packet (every layer, UDP and TCP) is delivered and every injection is carried back
//! through the layer until none is left; the injections per original are counted by injector
//! and compared with the driver's policy (docs/callout-driver.md, "Packets another driver
//! injected"), and the caller compares the driver's counters with [`Expected`].

#![allow(dead_code)]

use std::collections::BTreeMap;

use wfp_injector::sys::types::{FWP_ACTION_BLOCK, FWP_ACTION_PERMIT, GUID};
use wfp_sim::traffic::{Delivery, Layer};
use wfp_sim::{OtherInjectorSetup, OtherReinjection, SimulatedStack};

#[path = "reinjection_cases.rs"]
mod reinjection_cases;
pub use reinjection_cases::configure_peers;

/// Which sublayer WFP evaluates first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// The driver's sublayer (weight 0) before the other's: the other's weight is 0 too and the
    /// simulator orders equal weights by key (Windows leaves that order open, so both occur).
    DriverFirst,
    /// The other driver's sublayer weighs 1, above the driver's.
    OtherFirst,
}

impl Order {
    fn setup(self, reinjection: OtherReinjection) -> OtherInjectorSetup {
        match self {
            Order::DriverFirst => OtherInjectorSetup {
                sublayer_key: GUID::from_u128(0xFFFF_0000_0000_4000_8000_0000_0000_0001),
                sublayer_weight: 0,
                reinjection,
            },
            Order::OtherFirst => OtherInjectorSetup {
                sublayer_key: GUID::from_u128(0x0000_0001_0000_4000_8000_0000_0000_0001),
                sublayer_weight: 1,
                reinjection,
            },
        }
    }
}

/// Driver counters each layer must show after [`run`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub reinjected: u64,
    pub own: u64,
    pub other_injector: u64,
}

pub fn name(layer: Layer) -> &'static str {
    match layer {
        Layer::OutboundV4 => "OutboundV4",
        Layer::OutboundV6 => "OutboundV6",
        Layer::InboundV4 => "InboundV4",
        Layer::InboundV6 => "InboundV6",
    }
}

/// Delivers a UDP and a TCP packet at every layer with the other injector installed in `order`,
/// once cloning and once copying, and checks the injections per original packet: the driver
/// injects each original at most once, never a packet the other injected, so each is injected
/// at most twice in all per layer (the HLK PacketInjection requirement's "not more than 2
/// times per layer" for one firewall holds for both together). Returns the driver's counters
/// per layer. The driver must be loaded with [`configure_peers`].
pub fn run(sim: &SimulatedStack, order: Order) -> BTreeMap<&'static str, Expected> {
    let mut expected: BTreeMap<&'static str, Expected> = BTreeMap::new();
    for reinjection in [OtherReinjection::Clone, OtherReinjection::Copy] {
        sim.install_other_injector(order.setup(reinjection));
        for layer in Layer::ALL {
            for protocol in [17, 6] {
                let what = format!("{order:?} {reinjection:?} {layer:?} protocol {protocol}");
                let packet = reinjection_cases::packet(layer, protocol);
                let run = sim.deliver_through_injectors(layer, &packet, Delivery::default());
                assert_eq!(
                    run.delivered.result.expect("filtered").action,
                    FWP_ACTION_BLOCK,
                    "{what}: the first sublayer's injector absorbed the original"
                );
                let (driver, other) = match order {
                    // The driver reinjects the original; the other injector reinjects the
                    // driver's copy; what comes back is permitted by both.
                    Order::DriverFirst => (1, 1),
                    // The other injector reinjects the original (the driver's classify then has
                    // no write right); the driver permits the other's copy untouched.
                    Order::OtherFirst => (0, 1),
                };
                assert_eq!(
                    (run.by_driver, run.by_other),
                    (driver, other),
                    "{what}: injections (driver, other) per original packet"
                );
                assert!(run.by_driver + run.by_other <= 2, "{what}");
                let last = run
                    .again
                    .last()
                    .copied()
                    .flatten()
                    .expect("classified again");
                assert_eq!(
                    last.action, FWP_ACTION_PERMIT,
                    "{what}: the last copy goes on"
                );
                sim.return_packet(run.delivered.nbl);
                let e = expected.entry(name(layer)).or_default();
                match (order, reinjection) {
                    // The other's clone of the driver's packet is, for the driver, previously
                    // injected by self (the clone keeps the history): permitted as its own.
                    (Order::DriverFirst, OtherReinjection::Clone) => {
                        e.reinjected += 1;
                        e.own += 2;
                    }
                    // The other's copy has no history: injected by other, permitted untouched.
                    (Order::DriverFirst, OtherReinjection::Copy) => {
                        e.reinjected += 1;
                        e.own += 1;
                        e.other_injector += 1;
                    }
                    (Order::OtherFirst, _) => e.other_injector += 1,
                }
            }
        }
        let counts = sim.remove_other_injector();
        assert_eq!(
            counts.reinjected, 8,
            "{order:?} {reinjection:?}: one per original"
        );
        assert_eq!(sim.live_clones(), 0);
        assert!(sim.pending_injections().is_empty());
    }
    expected
}
