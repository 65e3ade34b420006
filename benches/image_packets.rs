//! The shipped driver image's per-packet cost: classify, completion and DPC for each kind of
//! packet, with the image run by the test loader over the simulated stack.
//!
//! `scripts/bench-image.sh` runs this binary under callgrind once per (case, phase), with
//! collection toggled on for exactly one `measure_*` function, and counts only the instructions
//! executed inside the mapped image (callgrind attributes them to the anonymous mapping, object
//! `???`): the simulated kernel, the shims and this harness are excluded. Run alone (or with
//! `--calls`), it prints the kernel calls each packet makes, counted by the simulator.
//!
//! Usage: `image_packets CASE PHASE` (PHASE: classify, dpc, complete) or `image_packets --calls`.

#![allow(clippy::undocumented_unsafe_blocks)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use support::loader::MappedImage;
use support::shims;
use wfp_injector::nt::NtStatus;
use wfp_injector::sys::types::{DRIVER_OBJECT, UNICODE_STRING};
use wfp_sim::ip_packet::IpPacketLayer;
use wfp_sim::traffic::{Delivered, Delivery, Layer, TransportPacket};
use wfp_sim::{KernelFn, RegistryValue, SERVICE_KEY_PATH, SimulatedStack};

/// Packets per measured phase: the counts are divided by it.
const PACKETS: usize = 200;
const PORT: u16 = 53;

/// The packet kinds. `ip_*`: at the IP packet layers (`InspectLayer` 1), network injection.
const CASES: [&str; 13] = [
    "unconfigured_v4",
    "unconfigured_v6",
    "own_v4",
    "outbound_v4",
    "outbound_v6",
    "inbound_v4",
    "inbound_v6",
    "tcp_outbound_v4",
    "ip_outbound_v4",
    "ip_outbound_v6",
    "ip_inbound_v4",
    "ip_inbound_v6",
    "ip_tcp_inbound_v4",
];

/// The kernel calls a packet can make on these paths, counted by the simulator.
const CALLS: [(KernelFn, &str); 13] = [
    (
        KernelFn::FwpsQueryPacketInjectionState0,
        "FwpsQueryPacketInjectionState0",
    ),
    (
        KernelFn::ExAcquireRundownProtectionCacheAware,
        "ExAcquireRundownProtectionCacheAware",
    ),
    (
        KernelFn::FwpsAllocateCloneNetBufferList0,
        "FwpsAllocateCloneNetBufferList0",
    ),
    (
        KernelFn::NdisRetreatNetBufferDataStart,
        "NdisRetreatNetBufferDataStart",
    ),
    (KernelFn::NdisGetDataBuffer, "NdisGetDataBuffer"),
    (
        KernelFn::NdisAdvanceNetBufferDataStart,
        "NdisAdvanceNetBufferDataStart",
    ),
    (KernelFn::KeInsertQueueDpc, "KeInsertQueueDpc"),
    (
        KernelFn::FwpsInjectTransportSendAsync0,
        "FwpsInjectTransportSendAsync0",
    ),
    (
        KernelFn::FwpsInjectTransportReceiveAsync0,
        "FwpsInjectTransportReceiveAsync0",
    ),
    (
        KernelFn::FwpsInjectNetworkSendAsync0,
        "FwpsInjectNetworkSendAsync0",
    ),
    (
        KernelFn::FwpsInjectNetworkReceiveAsync0,
        "FwpsInjectNetworkReceiveAsync0",
    ),
    (
        KernelFn::FwpsFreeCloneNetBufferList0,
        "FwpsFreeCloneNetBufferList0",
    ),
    (
        KernelFn::ExReleaseRundownProtectionCacheAware,
        "ExReleaseRundownProtectionCacheAware",
    ),
];

struct Loaded<'a> {
    image: MappedImage,
    driver: Box<DRIVER_OBJECT>,
    _path_buffer: Vec<u16>,
    _bound: shims::Bound<'a>,
}

fn load(sim: &SimulatedStack, at: At) -> Loaded<'_> {
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
    if let At::IpPacket(_) = at {
        sim.set_parameter("InspectLayer", RegistryValue::Dword(1));
    }
    sim.set_parameter("MaxInFlight", RegistryValue::Dword(PACKETS as u32 * 2));
    let bytes = support::image_bytes().expect("the driver image (scripts/build-sys.sh)");
    let bound = shims::bind(sim);
    let image = MappedImage::map(&bytes, shims::resolve).expect("map the image");
    // scripts/bench-image.sh --blocks maps callgrind's addresses back to the image with this.
    eprintln!("image mapped at {:#x}", image.base());
    // SAFETY: DRIVER_OBJECT is plain data; zero is how the I/O manager hands fields over.
    let mut driver = Box::new(unsafe { std::mem::zeroed::<DRIVER_OBJECT>() });
    let mut path_buffer: Vec<u16> = SERVICE_KEY_PATH.encode_utf16().collect();
    let length = (path_buffer.len() * 2) as u16;
    let path = UNICODE_STRING {
        Length: length,
        MaximumLength: length,
        Buffer: path_buffer.as_mut_ptr(),
    };
    // SAFETY: the image is the driver; its imports are bound to `sim`.
    let status = NtStatus(unsafe { image.driver_entry(&mut *driver, &path) });
    assert_eq!(status, NtStatus::SUCCESS, "DriverEntry");
    Loaded {
        image,
        driver,
        _path_buffer: path_buffer,
        _bound: bound,
    }
}

impl Loaded<'_> {
    fn unload(mut self) {
        let unload = self.driver.DriverUnload.expect("DriverUnload installed");
        // SAFETY: the routine the image stored, called once with its driver object.
        unsafe { unload(&raw mut *self.driver) };
        drop(self.image);
    }
}

fn packet(layer: Layer, port: u16, protocol: u8) -> TransportPacket {
    let mut packet = if layer.is_v6() {
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
    };
    packet.protocol = protocol;
    packet
}

/// Where a case's packets are classified.
#[derive(Debug, Clone, Copy)]
enum At {
    /// A transport layer.
    Transport(Layer),
    /// An IP packet layer.
    IpPacket(IpPacketLayer),
}

/// (where, packet, reinjected?, deferred?) of a case.
fn case(name: &str) -> (At, TransportPacket, bool, bool) {
    if let Some(rest) = name.strip_prefix("ip_") {
        let (protocol, rest) = match rest.strip_prefix("tcp_") {
            Some(rest) => (6, rest),
            None => (17, rest),
        };
        let layer = match rest {
            "outbound_v4" => IpPacketLayer::OutboundV4,
            "outbound_v6" => IpPacketLayer::OutboundV6,
            "inbound_v4" => IpPacketLayer::InboundV4,
            "inbound_v6" => IpPacketLayer::InboundV6,
            other => panic!("unknown case ip_{other}; cases: {CASES:?}"),
        };
        // Network injection is never deferred, TCP included.
        return (
            At::IpPacket(layer),
            packet(layer.transport(), PORT, protocol),
            true,
            false,
        );
    }
    let (layer, packet, reinjected, deferred) = transport_case(name);
    (At::Transport(layer), packet, reinjected, deferred)
}

/// (layer, packet, reinjected?, deferred?) of a transport-layer case.
fn transport_case(name: &str) -> (Layer, TransportPacket, bool, bool) {
    match name {
        "unconfigured_v4" => (
            Layer::OutboundV4,
            packet(Layer::OutboundV4, 80, 17),
            false,
            false,
        ),
        "unconfigured_v6" => (
            Layer::OutboundV6,
            packet(Layer::OutboundV6, 80, 17),
            false,
            false,
        ),
        "own_v4" | "outbound_v4" => (
            Layer::OutboundV4,
            packet(Layer::OutboundV4, PORT, 17),
            true,
            false,
        ),
        "outbound_v6" => (
            Layer::OutboundV6,
            packet(Layer::OutboundV6, PORT, 17),
            true,
            false,
        ),
        "inbound_v4" => (
            Layer::InboundV4,
            packet(Layer::InboundV4, PORT, 17),
            true,
            false,
        ),
        "inbound_v6" => (
            Layer::InboundV6,
            packet(Layer::InboundV6, PORT, 17),
            true,
            false,
        ),
        "tcp_outbound_v4" => (
            Layer::OutboundV4,
            packet(Layer::OutboundV4, PORT, 6),
            true,
            true,
        ),
        other => panic!("unknown case {other}; cases: {CASES:?}"),
    }
}

/// Ports the benchmark's configuration inspects.
const CONFIGURED_PORTS: [u16; 1] = [PORT];

// The measured functions: callgrind toggles collection on exactly these names.

#[inline(never)]
fn measure_classify(sim: &SimulatedStack, at: At, packet: &TransportPacket) -> Vec<Delivered> {
    // The filters carry the configuration as conditions, so an unconfigured packet reaches
    // classify only through a broader filter (another provider's, or a stale one): deliver it
    // that way, or classify would never run.
    let how = Delivery {
        ignore_conditions: !CONFIGURED_PORTS.contains(&packet.remote_port),
        ..Delivery::default()
    };
    (0..PACKETS)
        .map(|_| match at {
            At::Transport(layer) => sim.deliver(layer, packet, how),
            At::IpPacket(layer) => sim.deliver_ip_packet(layer, packet, how),
        })
        .collect()
}

#[inline(never)]
fn measure_own(sim: &SimulatedStack, layer: Layer, packet: &TransportPacket, clones: &[usize]) {
    for &clone in clones {
        let result = sim.classify_again(layer, packet, clone as *mut _);
        std::hint::black_box(result);
    }
}

#[inline(never)]
fn measure_dpc(sim: &SimulatedStack) -> usize {
    sim.run_queued_dpcs()
}

#[inline(never)]
fn measure_complete(sim: &SimulatedStack, ids: &[u64]) {
    for &id in ids {
        sim.complete_injection(id, NtStatus::SUCCESS, true);
    }
}

/// Runs one case; `phase` names the measured function (all run, so the work is the same).
fn run(name: &str, mut on_calls: impl FnMut(&str, &SimulatedStack, &dyn Fn(&SimulatedStack))) {
    let sim = SimulatedStack::new();
    let (at, packet, reinjected, deferred) = case(name);
    let loaded = load(&sim, at);
    let before = snapshot(&sim);
    let delivered = measure_classify(&sim, at, &packet);
    on_calls("classify", &sim, &|sim| diff(&before, sim));
    let before = snapshot(&sim);
    if deferred {
        assert_eq!(measure_dpc(&sim), PACKETS, "{name}: every packet's DPC ran");
        on_calls("dpc", &sim, &|sim| diff(&before, sim));
    }
    let pending: Vec<_> = sim.pending_injections();
    assert_eq!(
        pending.len(),
        if reinjected { PACKETS } else { 0 },
        "{name}: injections pending"
    );
    if let ("own_v4", At::Transport(layer)) = (name, at) {
        let clones: Vec<usize> = pending.iter().map(|p| p.nbl).collect();
        let before = snapshot(&sim);
        measure_own(&sim, layer, &packet, &clones);
        assert_eq!(
            sim.pending_injections().len(),
            PACKETS,
            "own packets are permitted, not reinjected"
        );
        on_calls("own", &sim, &|sim| diff(&before, sim));
    }
    let ids: Vec<u64> = pending.iter().map(|p| p.id).collect();
    let before = snapshot(&sim);
    measure_complete(&sim, &ids);
    if reinjected {
        on_calls("complete", &sim, &|sim| diff(&before, sim));
    }
    assert!(sim.pending_injections().is_empty());
    for d in delivered {
        sim.return_packet(d.nbl);
    }
    loaded.unload();
    sim.assert_clean();
}

fn snapshot(sim: &SimulatedStack) -> Vec<u64> {
    CALLS.iter().map(|(call, _)| sim.calls(*call)).collect()
}

fn diff(before: &[u64], sim: &SimulatedStack) {
    let mut any = false;
    for ((call, name), before) in CALLS.iter().zip(before) {
        let per_packet = (sim.calls(*call) - before) as f64 / PACKETS as f64;
        if per_packet > 0.0 {
            print!("{}{name} {per_packet}", if any { ", " } else { "" });
            any = true;
        }
    }
    if !any {
        print!("none");
    }
    println!();
}

/// The command line's cases, without libtest's flags: `cargo test --all-targets` runs
/// `harness = false` targets too and passes them its own (`--test-threads 2`, `--nocapture`).
fn case_args() -> Vec<String> {
    let mut args = Vec::new();
    let mut all = std::env::args().skip(1);
    while let Some(arg) = all.next() {
        if arg.starts_with('-') {
            // The libtest flags that take their value as the next argument.
            if matches!(
                arg.as_str(),
                "--test-threads" | "--skip" | "--logfile" | "--color" | "--format" | "-Z"
            ) {
                all.next();
            }
            continue;
        }
        args.push(arg);
    }
    args
}

fn main() {
    let args = case_args();
    match args.as_slice() {
        [case_name, _phase] => run(case_name, |_, _, _| {}),
        [] | [_] => {
            if support::image_bytes().is_none() {
                return;
            }
            println!("kernel calls per packet (simulator's counts, {PACKETS} packets per case)");
            for name in CASES {
                run(name, |phase, sim, print| {
                    print!("    {name:<18} {phase:<9} ");
                    print(sim);
                });
            }
        }
        _ => panic!("usage: image_packets [CASE PHASE]"),
    }
}
