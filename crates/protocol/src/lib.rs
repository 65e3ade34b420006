//! The control channel between the driver and its administrators' tool (`wfpinjctl`): the
//! control codes and the versioned, fixed-layout request and reply structures, one copy for
//! both sides.
//!
//! Every control code is METHOD_BUFFERED (small requests; the I/O manager copies them), of the
//! driver's own device type [`DEVICE_TYPE`] (windows-driver-docs "Defining I/O Control Codes":
//! vendors use 0x8000-0xFFFF and function codes 0x800-0xFFF); read-only requests need
//! FILE_READ_ACCESS and changes FILE_WRITE_ACCESS on the handle, so the I/O manager refuses a
//! change through a handle opened for reading. The device itself admits SYSTEM and
//! Administrators only.
//!
//! Every request's input is exactly its structure and starts with a [`RequestHeader`]; every
//! reply starts with a [`ReplyHeader`]. Structures are `#[repr(C)]` with every byte a named
//! field (reserved ones must be zero), little-endian as on x64, and [`Wire`] encodes and decodes
//! them field by field (no transmutes, so a tool built elsewhere reads them the same way). A new
//! layout is a new [`VERSION`]; the driver refuses versions it does not know.

#![no_std]

/// The driver's device type: a vendor value (0x8000-0xFFFF; the top bit is the "common" bit
/// vendors set).
pub const DEVICE_TYPE: u32 = 0x9F10;
/// `METHOD_BUFFERED`.
pub const METHOD_BUFFERED: u32 = 0;
/// `FILE_READ_ACCESS`: the handle must have been opened for reading.
pub const FILE_READ_ACCESS: u32 = 1;
/// `FILE_WRITE_ACCESS`: the handle must have been opened for writing.
pub const FILE_WRITE_ACCESS: u32 = 2;

/// `CTL_CODE(DeviceType, Function, Method, Access)` (devioctl.h).
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}

/// Where user mode opens the control device (`CreateFileW`).
pub const DEVICE_PATH: &str = r"\\.\WfpInjector";

/// The protocol version this crate speaks.
pub const VERSION: u32 = 2;

/// The driver's state: [`StatusReply`].
pub const IOCTL_GET_STATUS: u32 = ctl_code(DEVICE_TYPE, 0x800, METHOD_BUFFERED, FILE_READ_ACCESS);
/// The counters: [`CountersReply`].
pub const IOCTL_GET_COUNTERS: u32 = ctl_code(DEVICE_TYPE, 0x801, METHOD_BUFFERED, FILE_READ_ACCESS);
/// The configuration in force: [`Config`].
pub const IOCTL_GET_CONFIG: u32 = ctl_code(DEVICE_TYPE, 0x802, METHOD_BUFFERED, FILE_READ_ACCESS);
/// Replace the configuration with the input [`Config`]: all of it or nothing.
pub const IOCTL_SET_CONFIG: u32 = ctl_code(DEVICE_TYPE, 0x803, METHOD_BUFFERED, FILE_WRITE_ACCESS);
/// Clear the configuration (no rule; verbose logging off): input a [`RequestHeader`].
pub const IOCTL_CLEAR_CONFIG: u32 =
    ctl_code(DEVICE_TYPE, 0x804, METHOD_BUFFERED, FILE_WRITE_ACCESS);

/// Every control code the driver answers.
pub const ALL_CODES: [u32; 5] = [
    IOCTL_GET_STATUS,
    IOCTL_GET_COUNTERS,
    IOCTL_GET_CONFIG,
    IOCTL_SET_CONFIG,
    IOCTL_CLEAR_CONFIG,
];

/// Rules a configuration holds at most.
pub const MAX_RULES: usize = 16;

/// Why a buffer is not a valid request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Shorter than the structure (the driver answers STATUS_BUFFER_TOO_SMALL).
    TooShort,
    /// Longer than the structure (STATUS_INVALID_PARAMETER).
    TooLong,
    /// A version this side does not speak (STATUS_INVALID_PARAMETER).
    Version,
    /// A reserved field, or a field its flags say is absent, is not zero (STATUS_INVALID_PARAMETER).
    Reserved,
    /// A field out of its range (STATUS_INVALID_PARAMETER); the name says which.
    Range(&'static str),
}

/// Little-endian field-by-field writer over a byte slice the caller sized.
pub struct Writer<'a> {
    bytes: &'a mut [u8],
    at: usize,
}

/// Little-endian field-by-field reader.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `bytes`.
    pub fn new(bytes: &'a mut [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// Appends `data`; bytes past the end are dropped (callers size the slice from
    /// [`Wire::SIZE`] first).
    pub fn put(&mut self, data: &[u8]) {
        if let Some(place) = self.bytes.get_mut(self.at..self.at + data.len()) {
            place.copy_from_slice(data);
        }
        self.at += data.len();
    }
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// The next `N` bytes (zeros past the end: callers check the length first).
    pub fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(data) = self.bytes.get(self.at..self.at + N) {
            out.copy_from_slice(data);
        }
        self.at += N;
        out
    }
}

/// A structure with a fixed wire form: exactly [`Self::SIZE`] bytes, `size_of::<Self>()`.
pub trait Wire: Sized {
    /// The encoded size.
    const SIZE: usize;
    /// Writes every field.
    fn put(&self, writer: &mut Writer<'_>);
    /// Reads every field (no checks beyond the length, see [`Self::decode`]).
    fn take(reader: &mut Reader<'_>) -> Self;

    /// `bytes` must be exactly [`Self::SIZE`] long.
    fn decode(bytes: &[u8]) -> Result<Self, Invalid> {
        if bytes.len() < Self::SIZE {
            return Err(Invalid::TooShort);
        }
        if bytes.len() > Self::SIZE {
            return Err(Invalid::TooLong);
        }
        Ok(Self::take(&mut Reader::new(bytes)))
    }

    /// Writes the structure at the start of `out`: its size, or `None` when `out` is shorter.
    fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let place = out.get_mut(..Self::SIZE)?;
        self.put(&mut Writer::new(place));
        Some(Self::SIZE)
    }
}

macro_rules! int_wire {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            fn put(&self, writer: &mut Writer<'_>) {
                writer.put(&self.to_le_bytes());
            }
            fn take(reader: &mut Reader<'_>) -> Self {
                <$t>::from_le_bytes(reader.take())
            }
        }
    )*};
}
int_wire!(u8, u16, u32, i32, u64);

impl<const N: usize> Wire for [u8; N] {
    const SIZE: usize = N;
    fn put(&self, writer: &mut Writer<'_>) {
        writer.put(self);
    }
    fn take(reader: &mut Reader<'_>) -> Self {
        reader.take()
    }
}

/// Declares a `#[repr(C)]` structure whose wire form is its fields in order.
macro_rules! wire_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name { $($(#[$fmeta])* pub $field: $ty,)* }

        impl Wire for $name {
            const SIZE: usize = 0 $(+ <$ty as Wire>::SIZE)*;
            fn put(&self, writer: &mut Writer<'_>) {
                $(Wire::put(&self.$field, writer);)*
            }
            fn take(reader: &mut Reader<'_>) -> Self {
                Self { $($field: <$ty as Wire>::take(reader),)* }
            }
        }
    };
}

wire_struct! {
    /// The start of every request's input.
    pub struct RequestHeader {
        /// [`VERSION`].
        pub version: u32,
        /// Zero.
        pub reserved: u32,
    }
}

impl RequestHeader {
    /// The header of a request of this protocol version.
    pub const CURRENT: Self = Self {
        version: VERSION,
        reserved: 0,
    };

    /// Checks the version and the reserved field.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.version != VERSION {
            return Err(Invalid::Version);
        }
        if self.reserved != 0 {
            return Err(Invalid::Reserved);
        }
        Ok(())
    }
}

wire_struct! {
    /// The start of every reply.
    pub struct ReplyHeader {
        /// [`VERSION`].
        pub version: u32,
        /// The reply's size in bytes, this header included.
        pub size: u32,
    }
}

impl ReplyHeader {
    /// The header of a reply of type `T`.
    pub const fn of<T: Wire>() -> Self {
        Self {
            version: VERSION,
            size: T::SIZE as u32,
        }
    }
}

/// [`StatusReply::progress`]: TCP/IP is not ready; a work item retries the injection handles.
pub const PROGRESS_WAITING_FOR_TCPIP: u32 = 0;
/// BFE is not running; the WFP objects wait for it.
pub const PROGRESS_WAITING_FOR_BFE: u32 = 1;
/// Callouts registered, filters added.
pub const PROGRESS_LOADED: u32 = 2;
/// A step failed after DriverEntry: loaded, no filter (see `failed_step`, `failed_status`).
pub const PROGRESS_INERT: u32 = 3;

/// [`StatusReply::handles`] bit: the IPv4 injection handle exists.
pub const HANDLE_IPV4: u32 = 0x1;
/// [`StatusReply::handles`] bit: the IPv6 injection handle exists.
pub const HANDLE_IPV6: u32 = 0x2;

wire_struct! {
    /// IOCTL_GET_STATUS's reply.
    pub struct StatusReply {
        /// [`ReplyHeader::of::<StatusReply>()`].
        pub header: ReplyHeader,
        /// The driver's version (its crate version): major, minor, patch.
        pub driver_major: u16,
        /// See `driver_major`.
        pub driver_minor: u16,
        /// See `driver_major`.
        pub driver_patch: u16,
        /// Zero.
        pub reserved0: u16,
        /// The KMDF version the driver was built for: major.
        pub kmdf_major: u32,
        /// The KMDF version the driver was built for: minor.
        pub kmdf_minor: u32,
        /// `PROGRESS_*`.
        pub progress: u32,
        /// For [`PROGRESS_INERT`]: the failing step's number (the driver's `LoadStep` order,
        /// named by [`failed_step_name`]); 0 otherwise.
        pub failed_step: u32,
        /// For [`PROGRESS_INERT`]: the failing step's NTSTATUS; 0 otherwise.
        pub failed_status: i32,
        /// `HANDLE_*` bits: the injection handles that exist.
        pub handles: u32,
        /// Injection contexts in use now.
        pub contexts_in_use: u32,
        /// Injection contexts in all.
        pub contexts_capacity: u32,
        /// Inspection rules in force.
        pub rules: u32,
        /// Zero.
        pub reserved1: u32,
    }
}

/// The name of a [`StatusReply::failed_step`] number.
pub fn failed_step_name(step: u32) -> &'static str {
    match step {
        1 => "injection handles",
        2 => "driver state",
        3 => "FwpmEngineOpen0",
        4 => "stale objects",
        5 => "FwpsCalloutRegister1",
        6 => "FwpmTransactionBegin0",
        7 => "FwpmProviderAdd0",
        8 => "FwpmSubLayerAdd0",
        9 => "FwpmCalloutAdd0",
        10 => "FwpmFilterAdd0",
        11 => "FwpmTransactionCommit0",
        12 => "IoAllocateWorkItem",
        13 => "FwpmBfeStateSubscribeChanges0",
        14 => "power callback",
        _ => "none",
    }
}

/// The layers the driver has callouts at, in [`CountersReply::layers`] order.
pub const LAYER_NAMES: [&str; 8] = [
    "OUTBOUND_TRANSPORT_V4",
    "OUTBOUND_TRANSPORT_V6",
    "INBOUND_TRANSPORT_V4",
    "INBOUND_TRANSPORT_V6",
    "OUTBOUND_IPPACKET_V4",
    "OUTBOUND_IPPACKET_V6",
    "INBOUND_IPPACKET_V4",
    "INBOUND_IPPACKET_V6",
];

wire_struct! {
    /// One layer's outcome counters (each classify adds to exactly one of them, except
    /// `checksum_recomputed`, a detail of `reinjected`).
    pub struct LayerCounters {
        /// Every classify.
        pub classified: u64,
        /// The driver's own reinjections, permitted untouched.
        pub skipped_own: u64,
        /// Another injector's packets.
        pub skipped_other_injector: u64,
        /// No FWPS_RIGHT_ACTION_WRITE.
        pub skipped_no_write_right: u64,
        /// Not selected by the configuration.
        pub not_inspected: u64,
        /// Cloned, absorbed and reinjected.
        pub reinjected: u64,
        /// Clone or injection refused.
        pub failed: u64,
        /// Missing metadata or short data.
        pub malformed: u64,
        /// Loopback.
        pub skipped_loopback: u64,
        /// ALE classify required.
        pub skipped_ale_classify_required: u64,
        /// IPsec.
        pub skipped_ipsec: u64,
        /// TCP below DISPATCH_LEVEL.
        pub skipped_tcp_below_dispatch: u64,
        /// No headroom for the retreat.
        pub skipped_no_headroom: u64,
        /// Inbound with several NET_BUFFERs.
        pub skipped_multi_buffer: u64,
        /// Inbound IPv4 header split across MDLs with a bad checksum.
        pub skipped_split_header_checksum: u64,
        /// The system was about to sleep.
        pub skipped_suspended: u64,
        /// A fragment (IP packet layers).
        pub skipped_fragment: u64,
        /// Reinjected with a recomputed checksum.
        pub checksum_recomputed: u64,
    }
}

impl core::ops::AddAssign for LayerCounters {
    /// Field by field: the sum of two processors' counts (`classified` included, itself a sum).
    fn add_assign(&mut self, other: Self) {
        // Destructured in full, so that a new counter does not compile until it is added here.
        let LayerCounters {
            classified,
            skipped_own,
            skipped_other_injector,
            skipped_no_write_right,
            not_inspected,
            reinjected,
            failed,
            malformed,
            skipped_loopback,
            skipped_ale_classify_required,
            skipped_ipsec,
            skipped_tcp_below_dispatch,
            skipped_no_headroom,
            skipped_multi_buffer,
            skipped_split_header_checksum,
            skipped_suspended,
            skipped_fragment,
            checksum_recomputed,
        } = other;
        self.classified += classified;
        self.skipped_own += skipped_own;
        self.skipped_other_injector += skipped_other_injector;
        self.skipped_no_write_right += skipped_no_write_right;
        self.not_inspected += not_inspected;
        self.reinjected += reinjected;
        self.failed += failed;
        self.malformed += malformed;
        self.skipped_loopback += skipped_loopback;
        self.skipped_ale_classify_required += skipped_ale_classify_required;
        self.skipped_ipsec += skipped_ipsec;
        self.skipped_tcp_below_dispatch += skipped_tcp_below_dispatch;
        self.skipped_no_headroom += skipped_no_headroom;
        self.skipped_multi_buffer += skipped_multi_buffer;
        self.skipped_split_header_checksum += skipped_split_header_checksum;
        self.skipped_suspended += skipped_suspended;
        self.skipped_fragment += skipped_fragment;
        self.checksum_recomputed += checksum_recomputed;
    }
}

impl LayerCounters {
    /// Every counter with its name, in wire order.
    pub fn named(&self) -> [(&'static str, u64); 17] {
        [
            ("classified", self.classified),
            ("skipped_own", self.skipped_own),
            ("skipped_other_injector", self.skipped_other_injector),
            ("skipped_no_write_right", self.skipped_no_write_right),
            ("not_inspected", self.not_inspected),
            ("reinjected", self.reinjected),
            ("failed", self.failed),
            ("malformed", self.malformed),
            ("skipped_loopback", self.skipped_loopback),
            (
                "skipped_ale_classify_required",
                self.skipped_ale_classify_required,
            ),
            ("skipped_ipsec", self.skipped_ipsec),
            (
                "skipped_tcp_below_dispatch",
                self.skipped_tcp_below_dispatch,
            ),
            ("skipped_no_headroom", self.skipped_no_headroom),
            ("skipped_multi_buffer", self.skipped_multi_buffer),
            (
                "skipped_split_header_checksum",
                self.skipped_split_header_checksum,
            ),
            ("skipped_suspended", self.skipped_suspended),
            ("checksum_recomputed", self.checksum_recomputed),
        ]
    }
}

impl Wire for [LayerCounters; 8] {
    const SIZE: usize = 8 * LayerCounters::SIZE;
    fn put(&self, writer: &mut Writer<'_>) {
        for layer in self {
            layer.put(writer);
        }
    }
    fn take(reader: &mut Reader<'_>) -> Self {
        core::array::from_fn(|_| LayerCounters::take(reader))
    }
}

wire_struct! {
    /// IOCTL_GET_COUNTERS's reply.
    pub struct CountersReply {
        /// [`ReplyHeader::of::<CountersReply>()`].
        pub header: ReplyHeader,
        /// Per layer, in [`LAYER_NAMES`] order.
        pub layers: [LayerCounters; 8],
        /// Reinjections completed with success.
        pub completed_ok: u64,
        /// Reinjections completed with a failure status.
        pub completed_failed: u64,
    }
}

/// [`Rule::family`]: IPv4.
pub const FAMILY_IPV4: u8 = 4;
/// [`Rule::family`]: IPv6.
pub const FAMILY_IPV6: u8 = 6;
/// [`Rule::directions`] bit: inbound traffic.
pub const DIRECTION_INBOUND: u8 = 0x1;
/// [`Rule::directions`] bit: outbound traffic.
pub const DIRECTION_OUTBOUND: u8 = 0x2;
/// [`Rule::fields`] bit: `local_address`/`local_prefix` are set.
pub const FIELD_LOCAL_ADDRESS: u8 = 0x1;
/// [`Rule::fields`] bit: `remote_port` is set.
pub const FIELD_REMOTE_PORT: u8 = 0x2;
/// [`Rule::fields`] bit: `protocol` is set.
pub const FIELD_PROTOCOL: u8 = 0x4;
/// [`Rule::layers`] bit: the transport layers (FWPM_LAYER_{IN,OUT}BOUND_TRANSPORT_V4/V6),
/// reinjected by transport injection.
pub const LAYER_TRANSPORT: u8 = 0x1;
/// [`Rule::layers`] bit: the IP packet layers (FWPM_LAYER_{IN,OUT}BOUND_IPPACKET_V4/V6),
/// reinjected by network injection.
pub const LAYER_IP_PACKET: u8 = 0x2;
/// IPPROTO_TCP.
pub const PROTOCOL_TCP: u8 = 6;
/// IPPROTO_UDP.
pub const PROTOCOL_UDP: u8 = 17;

wire_struct! {
    /// One inspection rule: traffic of `family`, in `directions`, whose remote address is in
    /// `remote_address/remote_prefix` (prefix 0: any), and, where `fields` says so, whose local
    /// address is in `local_address/local_prefix`, whose remote port is `remote_port` (TCP and
    /// UDP only), whose protocol is `protocol`. Addresses are in network order; IPv4 uses the
    /// first 4 bytes. Bits past a prefix, and bytes past the family's width, are zero.
    pub struct Rule {
        /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
        pub family: u8,
        /// `DIRECTION_*` bits, at least one.
        pub directions: u8,
        /// `FIELD_*` bits.
        pub fields: u8,
        /// 1..=255 with [`FIELD_PROTOCOL`], else 0.
        pub protocol: u8,
        /// 0..=32 (IPv4) or 0..=128 (IPv6).
        pub remote_prefix: u8,
        /// As `remote_prefix`, with [`FIELD_LOCAL_ADDRESS`]; else 0.
        pub local_prefix: u8,
        /// 1..=65535 with [`FIELD_REMOTE_PORT`], else 0.
        pub remote_port: u16,
        /// Network order.
        pub remote_address: [u8; 16],
        /// Network order, with [`FIELD_LOCAL_ADDRESS`]; else zeros.
        pub local_address: [u8; 16],
        /// `LAYER_*` bits, at least one: where the driver inspects the rule's traffic.
        pub layers: u8,
        /// Zero.
        pub reserved: [u8; 7],
    }
}

/// Whether `address` has no bit set past `prefix` (and past `width` bytes).
fn canonical(address: &[u8; 16], prefix: u8, width: usize) -> bool {
    address.iter().enumerate().all(|(index, byte)| {
        let first_bit = index * 8;
        let kept = if index >= width {
            0
        } else {
            usize::from(prefix).saturating_sub(first_bit).min(8)
        };
        let mask = if kept == 0 { 0 } else { 0xFFu8 << (8 - kept) };
        byte & !mask == 0
    })
}

impl Rule {
    /// The address width of the rule's family in bits (0 for an unknown family).
    pub fn width_bits(&self) -> u8 {
        match self.family {
            FAMILY_IPV4 => 32,
            FAMILY_IPV6 => 128,
            _ => 0,
        }
    }

    /// Checks every field's range and that absent or reserved ones are zero.
    pub fn check(&self) -> Result<(), Invalid> {
        let width = self.width_bits();
        if width == 0 {
            return Err(Invalid::Range("family"));
        }
        if self.directions == 0 || self.directions & !(DIRECTION_INBOUND | DIRECTION_OUTBOUND) != 0
        {
            return Err(Invalid::Range("directions"));
        }
        if self.fields & !(FIELD_LOCAL_ADDRESS | FIELD_REMOTE_PORT | FIELD_PROTOCOL) != 0 {
            return Err(Invalid::Reserved);
        }
        if self.reserved != [0; 7] {
            return Err(Invalid::Reserved);
        }
        if self.layers == 0 || self.layers & !(LAYER_TRANSPORT | LAYER_IP_PACKET) != 0 {
            return Err(Invalid::Range("layers"));
        }
        match (self.fields & FIELD_PROTOCOL != 0, self.protocol) {
            (true, 0) => return Err(Invalid::Range("protocol")),
            (false, 1..) => return Err(Invalid::Reserved),
            _ => {}
        }
        match (self.fields & FIELD_REMOTE_PORT != 0, self.remote_port) {
            (true, 0) => return Err(Invalid::Range("remote port")),
            (false, 1..) => return Err(Invalid::Reserved),
            _ => {}
        }
        if self.fields & FIELD_REMOTE_PORT != 0
            && self.fields & FIELD_PROTOCOL != 0
            && self.protocol != PROTOCOL_TCP
            && self.protocol != PROTOCOL_UDP
        {
            // The port fields of other protocols carry something else (ICMP type and code).
            return Err(Invalid::Range(
                "remote port with a protocol other than TCP or UDP",
            ));
        }
        let bytes = usize::from(width / 8);
        if self.remote_prefix > width {
            return Err(Invalid::Range("remote prefix"));
        }
        if !canonical(&self.remote_address, self.remote_prefix, bytes) {
            return Err(Invalid::Range("remote address bits past its prefix"));
        }
        if self.fields & FIELD_LOCAL_ADDRESS != 0 {
            if self.local_prefix > width {
                return Err(Invalid::Range("local prefix"));
            }
            if !canonical(&self.local_address, self.local_prefix, bytes) {
                return Err(Invalid::Range("local address bits past its prefix"));
            }
        } else if self.local_prefix != 0 || self.local_address != [0; 16] {
            return Err(Invalid::Reserved);
        }
        Ok(())
    }
}

impl Wire for [Rule; MAX_RULES] {
    const SIZE: usize = MAX_RULES * Rule::SIZE;
    fn put(&self, writer: &mut Writer<'_>) {
        for rule in self {
            rule.put(writer);
        }
    }
    fn take(reader: &mut Reader<'_>) -> Self {
        core::array::from_fn(|_| Rule::take(reader))
    }
}

/// [`Config::flags`] bit: per-packet log messages (`VerboseLogging`).
pub const CONFIG_VERBOSE: u32 = 0x1;
/// [`Config::flags`] bit of a set request: once applied, the configuration is also written to
/// the service's `Parameters\InspectRules` (REG_BINARY in a format of the driver's own, with its
/// own magic and format version, independent of [`VERSION`]: docs/control.md, "Persistence"),
/// so the next load starts from it instead of the `Inspect*` values. Never set in a get reply
/// (the driver does not say where its rules came from).
pub const CONFIG_PERSIST: u32 = 0x2;
/// The `Parameters` value a persisted configuration is written to.
pub const PERSISTED_VALUE_NAME: &str = "InspectRules";

wire_struct! {
    /// The inspection configuration: IOCTL_GET_CONFIG's reply and IOCTL_SET_CONFIG's input. A
    /// packet is inspected when it matches any rule.
    pub struct Config {
        /// IOCTL_SET_CONFIG: [`RequestHeader::CURRENT`] (as a reply: version and size).
        pub header: RequestHeader,
        /// `CONFIG_*` bits.
        pub flags: u32,
        /// Rules in use: `rules[..rule_count]`; the rest are zero.
        pub rule_count: u32,
        /// As a reply: the configuration's generation, never 0 (opaque: a value of its own at each
        /// load, one more at every change). As a set request: 0 replaces whatever is in force; any other value
        /// replaces it only if it is still that generation, and otherwise the driver answers
        /// STATUS_RETRY and changes nothing (read again, apply the edit again, send again). So a
        /// reply sent back as it stands, edited, cannot undo a change made in between.
        pub generation: u32,
        /// Zero.
        pub reserved: u32,
        /// The rules.
        pub rules: [Rule; MAX_RULES],
    }
}

impl Config {
    /// An empty configuration, as a set request.
    pub fn empty() -> Self {
        Self {
            header: RequestHeader::CURRENT,
            ..Self::default()
        }
    }

    /// The rules in use.
    pub fn active(&self) -> &[Rule] {
        let count = (self.rule_count as usize).min(MAX_RULES);
        &self.rules[..count]
    }

    /// Checks a set request: header, flags, count, every rule in use, zeros after them.
    pub fn check(&self) -> Result<(), Invalid> {
        self.header.check()?;
        if self.flags & !(CONFIG_VERBOSE | CONFIG_PERSIST) != 0 || self.reserved != 0 {
            return Err(Invalid::Reserved);
        }
        if self.rule_count as usize > MAX_RULES {
            return Err(Invalid::Range("rule count"));
        }
        for rule in self.active() {
            rule.check()?;
        }
        if self.rules[self.active().len()..]
            .iter()
            .any(|rule| *rule != Rule::default())
        {
            return Err(Invalid::Reserved);
        }
        Ok(())
    }
}
