//! What the driver inspects, read from the service's Parameters registry key at load.
//!
//! | value | type | meaning |
//! |---|---|---|
//! | `InspectRemotePort` | REG_DWORD 1..=65535 | inspect traffic to or from this remote port |
//! | `InspectRemoteAddressV4` | REG_BINARY, 4 bytes (network order) | inspect IPv4 traffic with this peer |
//! | `InspectRemoteAddressV6` | REG_BINARY, 16 bytes | inspect IPv6 traffic with this peer |
//! | `InspectProtocol` | REG_DWORD 1..=255 | inspect only this IP protocol (e.g. 17 for UDP) |
//! | `InspectLayer` | REG_DWORD 0, 1 or 2 | where: 0 transport layers (default), 1 IP packet (network) layers, 2 both |
//! | `MaxInFlight` | REG_DWORD 1..=65536 | per-injection contexts (default 1024) |
//! | `VerboseLogging` | REG_DWORD 0 or 1 | per-packet DbgPrintEx messages |
//! | `InspectRules` | REG_BINARY, the driver's saved-configuration format (`crate::driver::persisted_format`) | written by a control request with CONFIG_PERSIST: when valid, the load's rules and verbose flag instead of the `Inspect*` values and `VerboseLogging` (`crate::driver::persisted`); another format is ignored with a log line and kept |
//!
//! A packet is inspected when its family has at least one criterion and it meets every
//! criterion set for its family; the port criterion selects TCP and UDP only. With no
//! configuration the driver inspects nothing. A value of
//! the wrong type, size or range is logged and ignored (for `InspectLayer`: the transport layers
//! stay the choice). The driver turns this into rules (`crate::driver::rules::Rules::from_registry`),
//! which the control channel can replace at run time.

use alloc::boxed::Box;
use core::ffi::c_void;
use core::ptr;

use wfp_protocol::Config;

use crate::driver::log::{Level, Log};
use crate::driver::persisted;
use crate::inject::{IpFamily, RemoteAddress};
use crate::nt::text::{wide, wide_len_bytes};
use crate::nt::{Irql, NtStatus, RegistryPath};
use crate::sys::KernelApi;
use crate::sys::types::{
    ACCESS_MASK, HANDLE, KEY_READ, KEY_VALUE_PARTIAL_INFORMATION,
    KEY_VALUE_PARTIAL_INFORMATION_CLASS, OBJ_CASE_INSENSITIVE, OBJ_KERNEL_HANDLE,
    OBJECT_ATTRIBUTES, REG_BINARY, REG_DWORD, UNICODE_STRING,
};

/// What to inspect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InspectionConfig {
    /// Remote port, both families.
    pub remote_port: Option<u16>,
    /// IPv4 peer, network byte order.
    pub remote_v4: Option<[u8; 4]>,
    /// IPv6 peer.
    pub remote_v6: Option<[u8; 16]>,
    /// IP protocol, both families.
    pub protocol: Option<u8>,
    /// Which layers inspect the traffic the criteria select.
    pub layer: InspectLayer,
}

/// Where configured traffic is inspected (`InspectLayer`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(u32)]
pub enum InspectLayer {
    /// 0: the transport layers (FWPM_LAYER_{IN,OUT}BOUND_TRANSPORT_V4/V6), transport injection.
    #[default]
    Transport = 0,
    /// 1: the IP packet layers (FWPM_LAYER_{IN,OUT}BOUND_IPPACKET_V4/V6), network injection.
    Network = 1,
    /// 2: both. A packet is reinjected by the first of the two it meets (inbound the IP packet
    /// layer, outbound the transport layer); at the other its clone is this driver's own and
    /// passes untouched.
    Both = 2,
}

impl InspectLayer {
    /// The registry value's meaning; `None` outside 0..=2.
    pub const fn from_dword(value: u32) -> Option<Self> {
        match value {
            0 => Some(Self::Transport),
            1 => Some(Self::Network),
            2 => Some(Self::Both),
            _ => None,
        }
    }

    /// True when the transport layers inspect.
    pub const fn transport(self) -> bool {
        matches!(self, Self::Transport | Self::Both)
    }

    /// True when the IP packet layers inspect.
    pub const fn network(self) -> bool {
        matches!(self, Self::Network | Self::Both)
    }
}

/// The fields of a classified packet that the configuration looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketKey {
    /// IP protocol.
    pub protocol: u8,
    /// Remote address, network byte order.
    pub remote_address: RemoteAddress,
    /// Remote port.
    pub remote_port: u16,
    /// Local address, network byte order (IPv4 in the first 4 bytes, the rest zero).
    pub local_address: [u8; 16],
    /// The direction of the layer that classified it.
    pub direction: crate::driver::layers::Direction,
    /// Classified at an IP packet layer (else a transport layer).
    pub network: bool,
}

impl InspectionConfig {
    /// True when something is configured for `family` (its filters are worth adding).
    pub fn inspects(&self, family: IpFamily) -> bool {
        let address = match family {
            IpFamily::V4 => self.remote_v4.is_some(),
            IpFamily::V6 => self.remote_v6.is_some(),
        };
        address || self.remote_port.is_some() || self.protocol.is_some()
    }

    /// True when `layer` gets a filter: something is configured for its family, and the
    /// configuration inspects at its kind of layer.
    pub fn inspects_at(&self, layer: crate::driver::layers::CalloutLayer) -> bool {
        let kind = if layer.is_network() {
            self.layer.network()
        } else {
            self.layer.transport()
        };
        kind && self.inspects(layer.family())
    }

    /// True when a packet with `key` is to be inspected (its family is its address's).
    #[inline]
    pub fn matches(&self, key: &PacketKey) -> bool {
        let family = key.remote_address.family();
        // Fixed-size comparisons: the address stays in registers.
        let address_matches = match key.remote_address {
            RemoteAddress::V4(address) => self.remote_v4.is_none_or(|a| a == address),
            RemoteAddress::V6(address, _) => self.remote_v6.is_none_or(|a| a == address),
        };
        self.inspects(family)
            && address_matches
            && self
                .remote_port
                .is_none_or(|p| p == key.remote_port && carries_ports(key.protocol))
            && self.protocol.is_none_or(|p| p == key.protocol)
    }
}

/// True for the protocols whose port fields are ports (TCP, UDP). For ICMP the layers put the
/// type and code there (FWPS_FIELD_*_ICMP_TYPE/_CODE alias the port fields).
pub(crate) fn carries_ports(protocol: u8) -> bool {
    protocol == crate::inject::IpProtocol::TCP.0 || protocol == crate::inject::IpProtocol::UDP.0
}

/// Everything read from the Parameters key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parameters {
    /// What to inspect.
    pub inspection: InspectionConfig,
    /// `MaxInFlight`, when set and valid.
    pub max_in_flight: Option<u32>,
    /// `VerboseLogging`, or the persisted configuration's flag.
    pub verbose: bool,
}

pub(super) static PARAMETERS: [u16; 11] = wide("Parameters");
static REMOTE_PORT: [u16; 18] = wide("InspectRemotePort");
static REMOTE_V4: [u16; 23] = wide("InspectRemoteAddressV4");
static REMOTE_V6: [u16; 23] = wide("InspectRemoteAddressV6");
static PROTOCOL: [u16; 16] = wide("InspectProtocol");
static MAX_IN_FLIGHT: [u16; 12] = wide("MaxInFlight");
static VERBOSE: [u16; 15] = wide("VerboseLogging");
static LAYER: [u16; 13] = wide("InspectLayer");

pub(super) fn unicode(text: &'static [u16]) -> UNICODE_STRING {
    let length = wide_len_bytes(text);
    UNICODE_STRING {
        Length: length,
        MaximumLength: length,
        // The kernel only reads names passed as input.
        Buffer: text.as_ptr().cast_mut(),
    }
}

/// One value's type and up to 16 bytes of data.
struct RawValue {
    kind: u32,
    length: usize,
    data: [u8; 16],
}

/// Reads the driver's Parameters into `parameters`, and the configuration `InspectRules`
/// persisted when it is valid (in pool: about 800 bytes kept off the load's stack). A missing
/// key or value means "not set"; bad values are logged and ignored.
///
/// IRQL: PASSIVE_LEVEL.
// Out of line: what it holds stays out of DriverEntry's frame, which holds the loader's block
// before it is boxed (a frame past a page needs stack probes, which the image does not link).
#[inline(never)]
pub fn read_parameters<K: KernelApi>(
    kernel: &K,
    service_key: Option<RegistryPath<'_>>,
    log: &Log,
    parameters: &mut Parameters,
) -> Option<Box<Config>> {
    debug_assert!(Irql(kernel.ke_get_current_irql()) == Irql::PASSIVE);
    *parameters = Parameters::default();
    let service_key = service_key?;
    let service = open_key(kernel, ptr::null_mut(), service_key.as_raw(), KEY_READ).ok()?;
    let name = unicode(&PARAMETERS);
    let key = open_key(kernel, service, &name, KEY_READ).ok();
    close(kernel, service);
    let Some(key) = key else {
        log.write(
            kernel,
            Level::Info,
            &["no Parameters key: inspecting nothing".into()],
        );
        return None;
    };
    let config = &mut parameters.inspection;
    if let Some(value) = query(kernel, key, &REMOTE_PORT) {
        match dword(&value) {
            Some(port @ 1..=65535) => config.remote_port = Some(port as u16),
            _ => ignored(
                kernel,
                log,
                "InspectRemotePort",
                "a REG_DWORD from 1 to 65535",
            ),
        }
    }
    if let Some(value) = query(kernel, key, &REMOTE_V4) {
        match binary::<4>(&value) {
            Some(address) => config.remote_v4 = Some(address),
            None => ignored(
                kernel,
                log,
                "InspectRemoteAddressV4",
                "REG_BINARY of 4 bytes",
            ),
        }
    }
    if let Some(value) = query(kernel, key, &REMOTE_V6) {
        match binary::<16>(&value) {
            Some(address) => config.remote_v6 = Some(address),
            None => ignored(
                kernel,
                log,
                "InspectRemoteAddressV6",
                "REG_BINARY of 16 bytes",
            ),
        }
    }
    if let Some(value) = query(kernel, key, &PROTOCOL) {
        match dword(&value) {
            Some(protocol @ 1..=255) => config.protocol = Some(protocol as u8),
            _ => ignored(kernel, log, "InspectProtocol", "a REG_DWORD from 1 to 255"),
        }
    }
    if config.remote_port.is_some() && config.protocol.is_some_and(|p| !carries_ports(p)) {
        // A port with ICMP (or any protocol without ports) would select packets by ICMP code.
        config.remote_port = None;
        ignored(
            kernel,
            log,
            "InspectRemotePort",
            "set only with InspectProtocol 6 (TCP), 17 (UDP) or none",
        );
    }
    if let Some(value) = query(kernel, key, &LAYER) {
        match dword(&value).and_then(InspectLayer::from_dword) {
            Some(layer) => config.layer = layer,
            None => ignored(
                kernel,
                log,
                "InspectLayer",
                "a REG_DWORD of 0 (transport), 1 (network) or 2 (both); inspecting at the transport layers",
            ),
        }
    }
    if let Some(value) = query(kernel, key, &MAX_IN_FLIGHT) {
        match dword(&value) {
            Some(count @ 1..=65536) => parameters.max_in_flight = Some(count),
            _ => ignored(kernel, log, "MaxInFlight", "a REG_DWORD from 1 to 65536"),
        }
    }
    if let Some(value) = query(kernel, key, &VERBOSE) {
        match dword(&value) {
            Some(flag @ 0..=1) => parameters.verbose = flag == 1,
            _ => ignored(kernel, log, "VerboseLogging", "a REG_DWORD of 0 or 1"),
        }
    }
    // Read last: a failed read of it (as of any value) is "not set", and the others stand.
    let persisted = read_persisted(kernel, key, log);
    if let Some(config) = &persisted {
        parameters.verbose = config.flags & wfp_protocol::CONFIG_VERBOSE != 0;
    }
    close(kernel, key);
    persisted
}

/// The valid configuration `InspectRules` holds, in pool; `None` when absent, ignored (logged
/// with the reason by `persisted::read`), or unreadable (logged here, with the status: a failed
/// query, or no memory for the value).
///
/// IRQL: PASSIVE_LEVEL.
fn read_persisted<K: KernelApi>(kernel: &K, key: HANDLE, log: &Log) -> Option<Box<Config>> {
    persisted::read(kernel, key, log).unwrap_or_else(|status| {
        log.write(
            kernel,
            Level::Warning,
            &[
                "could not read Parameters\\InspectRules (the Inspect* values apply): ".into(),
                status.into(),
            ],
        );
        None
    })
}

fn ignored<K: KernelApi>(kernel: &K, log: &Log, name: &str, expected: &str) {
    log.write(
        kernel,
        Level::Warning,
        &[
            "ignoring Parameters\\".into(),
            name.into(),
            ": expected ".into(),
            expected.into(),
        ],
    );
}

fn dword(value: &RawValue) -> Option<u32> {
    (value.kind == REG_DWORD && value.length == 4)
        .then(|| u32::from_le_bytes([value.data[0], value.data[1], value.data[2], value.data[3]]))
}

fn binary<const N: usize>(value: &RawValue) -> Option<[u8; N]> {
    if value.kind != REG_BINARY || value.length != N {
        return None;
    }
    let mut out = [0u8; N];
    out.copy_from_slice(value.data.get(..N)?);
    Some(out)
}

/// Opens `name` (below `root`, or absolute with a null root) for `access`: a kernel handle.
///
/// IRQL: PASSIVE_LEVEL.
pub(super) fn open_key<K: KernelApi>(
    kernel: &K,
    root: HANDLE,
    name: *const UNICODE_STRING,
    access: ACCESS_MASK,
) -> Result<HANDLE, NtStatus> {
    let attributes = OBJECT_ATTRIBUTES {
        Length: core::mem::size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: root,
        ObjectName: name,
        Attributes: OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE,
        SecurityDescriptor: ptr::null_mut(),
        SecurityQualityOfService: ptr::null_mut(),
    };
    let mut key: HANDLE = ptr::null_mut();
    // SAFETY: PASSIVE_LEVEL (caller's contract); `attributes` and `name` outlive the call; `key`
    // is writable.
    let status = unsafe { kernel.zw_open_key(&mut key, access, &attributes) };
    NtStatus(status).ok().map(|()| key)
}

/// Closes a key [`open_key`] opened. IRQL: PASSIVE_LEVEL.
pub(super) fn close<K: KernelApi>(kernel: &K, key: HANDLE) {
    // SAFETY: `key` was opened by `open_key` and is closed once.
    unsafe { kernel.zw_close(key) };
}

/// Reads a value of at most 16 bytes; `None` when missing or larger.
fn query<K: KernelApi>(kernel: &K, key: HANDLE, name: &'static [u16]) -> Option<RawValue> {
    const HEADER: usize = core::mem::size_of::<KEY_VALUE_PARTIAL_INFORMATION>();
    // u32 elements: the header's alignment.
    let mut buffer = [0u32; (HEADER + 16) / 4];
    let mut needed = 0u32;
    let name = unicode(name);
    // SAFETY: PASSIVE_LEVEL; `key` is open; `buffer` is writable for its size; `needed` is
    // writable.
    let status = unsafe {
        kernel.zw_query_value_key(
            key,
            &name,
            KEY_VALUE_PARTIAL_INFORMATION_CLASS,
            buffer.as_mut_ptr().cast::<c_void>(),
            core::mem::size_of_val(&buffer) as u32,
            &mut needed,
        )
    };
    // STATUS_BUFFER_OVERFLOW (a warning) means the value is larger than any we accept: the
    // length check below then refuses it.
    if !NtStatus(status).is_success() && NtStatus(status) != NtStatus::BUFFER_OVERFLOW {
        return None;
    }
    let bytes: &[u8; HEADER + 16] = {
        // SAFETY: a [u32; 7] is 28 initialized bytes; u8 has no alignment requirement.
        unsafe { &*buffer.as_ptr().cast::<[u8; HEADER + 16]>() }
    };
    let kind = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let length = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let mut data = [0u8; 16];
    data.copy_from_slice(&bytes[HEADER..HEADER + 16]);
    Some(RawValue {
        kind,
        length: if length > 16 { usize::MAX } else { length },
        data,
    })
}
