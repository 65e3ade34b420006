//! What the host tests of the callout driver share: the registry path and device object
//! DriverEntry would get, loading with a configured port, and UDP packets between two fixed
//! addresses per family.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use wfp_injector::driver::{Driver, DriverConfig, LoadError, TransportLayer};
use wfp_injector::nt::DeviceObject;
use wfp_injector::sys::types::{DEVICE_OBJECT, UNICODE_STRING};
use wfp_sim::traffic::{Layer, TransportPacket};
use wfp_sim::{RegistryValue, SERVICE_KEY_PATH, SimulatedStack};

pub const PEER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const HOST_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const PEER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10);
pub const HOST_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const PORT: u16 = 5353;

/// The registry path DriverEntry gets, as a UNICODE_STRING over an owned buffer.
pub struct RegistryPath {
    _buffer: Vec<u16>,
    pub string: UNICODE_STRING,
}

pub fn registry_path() -> RegistryPath {
    let mut buffer: Vec<u16> = SERVICE_KEY_PATH.encode_utf16().collect();
    let length = (buffer.len() * 2) as u16;
    let string = UNICODE_STRING {
        Length: length,
        MaximumLength: length,
        Buffer: buffer.as_mut_ptr(),
    };
    RegistryPath {
        _buffer: buffer,
        string,
    }
}

pub fn device() -> DeviceObject {
    // SAFETY: the simulated stack never dereferences a device object.
    unsafe { DeviceObject::from_raw(std::ptr::NonNull::<DEVICE_OBJECT>::dangling().as_ptr()) }
        .unwrap()
}

pub fn path(path: &RegistryPath) -> Option<wfp_injector::nt::RegistryPath<'_>> {
    // SAFETY: the string and its buffer live in `path`.
    unsafe { wfp_injector::nt::RegistryPath::from_raw(&path.string) }
}

pub fn configure_port(sim: &SimulatedStack) {
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(u32::from(PORT)));
}

/// DriverEntry's load with the default configuration, as the test's service.
pub fn try_load(sim: &SimulatedStack) -> Result<Driver<&SimulatedStack>, LoadError> {
    let path = registry_path();
    Driver::load(sim, device(), self::path(&path), &DriverConfig::default())
}

pub fn load(sim: &SimulatedStack) -> Driver<&SimulatedStack> {
    try_load(sim).expect("load")
}

pub fn udp(layer: Layer, remote_port: u16) -> TransportPacket {
    if layer.is_v6() {
        TransportPacket::udp(IpAddr::V6(HOST_V6), 40000, IpAddr::V6(PEER_V6), remote_port)
    } else {
        TransportPacket::udp(IpAddr::V4(HOST_V4), 40000, IpAddr::V4(PEER_V4), remote_port)
    }
}

pub fn counters_layer(layer: Layer) -> TransportLayer {
    match layer {
        Layer::OutboundV4 => TransportLayer::OutboundV4,
        Layer::OutboundV6 => TransportLayer::OutboundV6,
        Layer::InboundV4 => TransportLayer::InboundV4,
        Layer::InboundV6 => TransportLayer::InboundV6,
    }
}
