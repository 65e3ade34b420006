//! The kernel facts table (facts/kernel-facts.md) against everything that depends on it.
//!
//! - the table parses: five cells a row, one row per (kind, item), no `?` values;
//! - every struct the seam declares (crates/seam/src/sys/types) has its offsets, sizes and alignments in the
//!   table, and they agree (`offset_of!`, `size_of`, `align_of` on the crate's own types);
//! - every constant the seam, the safe layer and the driver use agrees with its row;
//! - the simulator's own tables (crates/sim/src/layout.rs, engine.rs, traffic.rs, its status codes)
//!   agree with the table, not with the driver;
//! - the table agrees with windows-sys (Microsoft's generated metadata) wherever windows-sys has
//!   the item, so those rows are machine-checked;
//! - every struct, field and constant declared in crates/seam/src/sys/types, and every constant of the
//!   driver's files listed in `DRIVER_FILES`, has a row and was checked (read from the source
//!   text, so a new declaration without a row fails here);
//! - facts/layouts.c, compiled with `cc` when there is one, prints exactly the table's layout rows.
//!
//! Values are never written here: they come from the table or from windows-sys.

use std::collections::{BTreeMap, BTreeSet};
use std::mem::{align_of, offset_of, size_of};
use std::path::Path;
use std::sync::OnceLock;

use wfp_injector::driver::layers::{
    Direction, INBOUND_FIELDS, INBOUND_IPPACKET_FIELDS, NetworkLayer, OUTBOUND_FIELDS,
    OUTBOUND_IPPACKET_FIELDS, TransportLayer,
};
use wfp_injector::driver::objects::{FILTER_FLAGS, SESSION_FLAGS, SUBLAYER_WEIGHT};
use wfp_injector::inject::{
    AddressFamily, InjectionState, InjectionTypes, IpFamily, IpProtocol, UNSPECIFIED_COMPARTMENT,
};
use wfp_injector::nt::{Irql, NtStatus};
use wfp_injector::sys::types as t;
use wfp_sim as sim;
use wfp_sim::layout;
use wfp_sim::traffic::Layer;

// ------------------------------------------------------------------------------------------------
// The table.

/// One row of the table.
#[derive(Debug, Clone)]
struct Row {
    kind: String,
    item: String,
    value: String,
    source: String,
    note: String,
    line: String,
}

struct Facts {
    rows: Vec<Row>,
    index: BTreeMap<(String, String), usize>,
    problems: Vec<String>,
}

const TABLE_PATH: &str = "facts/kernel-facts.md";
const HEADER: &str = "| kind | item | value | source | note |";

fn manifest_path(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(manifest_path(relative))
        .unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

fn parse_table(text: &str) -> Facts {
    let mut rows = Vec::new();
    let mut index = BTreeMap::new();
    let mut problems = Vec::new();
    let mut lines = text.lines().skip_while(|line| line.trim() != HEADER);
    if lines.next().is_none() {
        problems.push(format!("{TABLE_PATH}: no `{HEADER}` header"));
    }
    match lines.next() {
        Some(separator) if separator.starts_with("| ---") => {}
        other => problems.push(format!(
            "{TABLE_PATH}: no separator after the header: {other:?}"
        )),
    }
    for line in lines.take_while(|line| line.starts_with('|')) {
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        let cells: Vec<&str> = inner.split(" | ").map(str::trim).collect();
        if cells.len() != 5 {
            problems.push(format!("{} cells, not 5: {line}", cells.len()));
            continue;
        }
        let row = Row {
            kind: cells[0].to_string(),
            item: cells[1].to_string(),
            value: cells[2].to_string(),
            source: cells[3].to_string(),
            note: cells[4].to_string(),
            line: line.trim().to_string(),
        };
        if row.source.is_empty() {
            problems.push(format!("row without a source: {line}"));
        }
        let key = (row.kind.clone(), row.item.clone());
        if index.insert(key, rows.len()).is_some() {
            problems.push(format!("duplicate row {} {}", row.kind, row.item));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        problems.push(format!("{TABLE_PATH}: no rows"));
    }
    Facts {
        rows,
        index,
        problems,
    }
}

fn facts() -> &'static Facts {
    static FACTS: OnceLock<Facts> = OnceLock::new();
    FACTS.get_or_init(|| parse_table(&read(TABLE_PATH)))
}

impl Facts {
    fn row(&self, kind: &str, item: &str) -> Option<&Row> {
        self.index
            .get(&(kind.to_string(), item.to_string()))
            .map(|&i| &self.rows[i])
    }
}

/// A number as the table writes it: `0x..` hex, decimal, or a GUID `8-4-4-4-12` (as one u128,
/// the usual reading order).
fn parse_number(value: &str) -> Option<u128> {
    let value = value.trim();
    if let Some(hex) = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        return u128::from_str_radix(hex, 16).ok();
    }
    let parts: Vec<&str> = value.split('-').collect();
    let lengths: Vec<usize> = parts.iter().map(|part| part.len()).collect();
    if lengths == [8, 4, 4, 4, 12] {
        return u128::from_str_radix(&parts.concat(), 16).ok();
    }
    value.parse().ok()
}

/// A GUID as one u128 in its usual `Data1-Data2-Data3-Data4[0..2]-Data4[2..8]` reading order.
fn guid(g: &t::GUID) -> u128 {
    (u128::from(g.Data1) << 96)
        | (u128::from(g.Data2) << 80)
        | (u128::from(g.Data3) << 64)
        | u128::from(u64::from_be_bytes(g.Data4))
}

fn guid_u128(g: &windows_sys::core::GUID) -> u128 {
    (u128::from(g.data1) << 96)
        | (u128::from(g.data2) << 80)
        | (u128::from(g.data3) << 64)
        | u128::from(u64::from_be_bytes(g.data4))
}

/// An integer's bits, unsigned, at its own width (a negative NTSTATUS reads as 0xC...).
trait ToU128 {
    fn to_u128(self) -> u128;
}

macro_rules! to_u128 {
    ($($signed:ty => $unsigned:ty),* ; $($plain:ty),*) => {
        $(impl ToU128 for $signed {
            fn to_u128(self) -> u128 {
                u128::from(self as $unsigned)
            }
        })*
        $(impl ToU128 for $plain {
            fn to_u128(self) -> u128 {
                self as u128
            }
        })*
    };
}

to_u128!(i8 => u8, i16 => u16, i32 => u32, i64 => u64; u8, u16, u32, u64, usize);

/// The crate's integer newtypes read as their integer; a GUID in its reading order.
macro_rules! newtype_to_u128 {
    ($($newtype:ty),*) => {
        $(impl ToU128 for $newtype {
            fn to_u128(self) -> u128 {
                self.0.to_u128()
            }
        })*
    };
}

newtype_to_u128!(NtStatus, Irql, InjectionState, IpProtocol);

impl ToU128 for t::GUID {
    fn to_u128(self) -> u128 {
        guid(&self)
    }
}

/// The size of a field, from its type (no value is built).
fn field_size<S, F>(_field: fn(&S) -> &F) -> usize {
    size_of::<F>()
}

// ------------------------------------------------------------------------------------------------
// Checking.

/// Collects failures, and the names of the crate's items it checked (for the coverage test).
struct Check {
    facts: &'static Facts,
    failures: Vec<String>,
    covered: BTreeSet<String>,
    compared: usize,
}

impl Check {
    fn new() -> Self {
        Self {
            facts: facts(),
            failures: Vec::new(),
            covered: BTreeSet::new(),
            compared: 0,
        }
    }

    /// The table's number for (kind, item), or a failure.
    fn value(&mut self, kind: &str, item: &str) -> Option<u128> {
        let Some(row) = self.facts.row(kind, item) else {
            self.failures.push(format!("no row `{kind} | {item}`"));
            return None;
        };
        if row.value == "?" {
            self.failures
                .push(format!("row `{kind} | {item}` has no sourced value (`?`)"));
            return None;
        }
        let parsed = parse_number(&row.value);
        if parsed.is_none() {
            self.failures.push(format!(
                "row `{kind} | {item}`: `{}` is not a number",
                row.value
            ));
        }
        parsed
    }

    /// `key` (a crate item) must equal the table's (kind, item).
    fn eq(&mut self, key: &str, kind: &str, item: &str, actual: u128) {
        self.covered.insert(key.to_string());
        if let Some(expected) = self.value(kind, item) {
            self.compared += 1;
            if expected != actual {
                self.failures.push(format!(
                    "{key}: {actual:#x} ({actual}), but the table's `{kind} | {item}` is \
                     {expected:#x} ({expected})"
                ));
            }
        }
    }

    /// `key` must be at most the table's (kind, item) (a prefix of a longer structure).
    fn at_most(&mut self, key: &str, kind: &str, item: &str, actual: u128) {
        self.covered.insert(key.to_string());
        if let Some(limit) = self.value(kind, item) {
            self.compared += 1;
            if actual > limit {
                self.failures.push(format!(
                    "{key}: {actual:#x}, more than the table's `{kind} | {item}` {limit:#x}"
                ));
            }
        }
    }

    /// `key` must be at least the table's (kind, item) (a buffer that holds the structure).
    fn at_least(&mut self, key: &str, kind: &str, item: &str, actual: u128) {
        self.covered.insert(key.to_string());
        if let Some(floor) = self.value(kind, item) {
            self.compared += 1;
            if actual < floor {
                self.failures.push(format!(
                    "{key}: {actual:#x}, less than the table's `{kind} | {item}` {floor:#x}"
                ));
            }
        }
    }

    /// `key` must equal a number the test derived from other rows.
    fn derived(&mut self, key: &str, what: &str, expected: Option<u128>, actual: u128) {
        self.covered.insert(key.to_string());
        match expected {
            Some(expected) if expected == actual => self.compared += 1,
            Some(expected) => self.failures.push(format!(
                "{key}: {actual:#x}, but {what} gives {expected:#x}"
            )),
            None => self.failures.push(format!("{key}: {what}: rows missing")),
        }
    }

    fn finish(self, what: &str) -> BTreeSet<String> {
        assert!(
            self.failures.is_empty(),
            "{what}: {} disagreement(s) with {TABLE_PATH}:\n  {}",
            self.failures.len(),
            self.failures.join("\n  ")
        );
        assert!(self.compared > 0, "{what}: nothing compared");
        eprintln!("{what}: {} values agree with {TABLE_PATH}", self.compared);
        self.covered
    }
}

fn strip_raw(name: &str) -> &str {
    name.trim_start_matches("r#")
}

/// Offsets of the named fields, compared with `STRUCT.field` rows (same names as the header).
macro_rules! offsets {
    ($c:expr, $t:ident { $($f:ident),* $(,)? }) => {{
        $(
            let item = format!("{}.{}", stringify!($t), strip_raw(stringify!($f)));
            $c.eq(&item, "offset", &item, offset_of!(t::$t, $f) as u128);
        )*
    }};
}

/// Size and alignment of a structure the crate declares completely.
macro_rules! whole {
    ($c:expr, $t:ident) => {{
        let name = stringify!($t);
        $c.eq(name, "size", name, size_of::<t::$t>() as u128);
        $c.eq(
            &format!("{name} (align)"),
            "align",
            name,
            align_of::<t::$t>() as u128,
        );
    }};
}

/// A structure declared up to the last field the crate reads: no larger than the real one, and
/// aligned no more strictly (the kernel's pointer then satisfies the crate's alignment).
macro_rules! prefix {
    ($c:expr, $t:ident) => {{
        let name = stringify!($t);
        $c.at_most(name, "size", name, size_of::<t::$t>() as u128);
        let ours = align_of::<t::$t>() as u128;
        let key = format!("{name} (align)");
        $c.covered.insert(key.clone());
        match $c.value("align", name) {
            Some(theirs) if theirs % ours == 0 => $c.compared += 1,
            Some(theirs) => $c.failures.push(format!(
                "{key}: {ours}, which the header's {theirs} does not satisfy"
            )),
            None => {}
        }
    }};
}

/// Each `NAME => item` (a constant of `$base`, or `module::NAME` of a module in it) against the
/// row (kind, item); the coverage key is `$file:NAME` as written.
macro_rules! named {
    ($c:expr, $file:literal, $base:ident, $kind:literal, [
        $($name:ident $(:: $sub:ident)? => $item:expr),* $(,)?
    ]) => {{
        $(
            let key = concat!($file, ":", stringify!($name) $(, "::", stringify!($sub))?);
            let item: &str = &$item;
            $c.eq(key, $kind, item, $base::$name$(::$sub)?.to_u128());
        )*
    }};
}

// ------------------------------------------------------------------------------------------------
// (b) The seam's structures.

fn check_seam_layouts() -> Check {
    let mut c = Check::new();

    // NDIS. Both are prefixes: the crate never allocates one.
    offsets!(
        c,
        NET_BUFFER_LIST {
            Next,
            FirstNetBuffer,
            Context,
            ParentNetBufferList,
            NdisPoolHandle,
            NdisReserved,
            ProtocolReserved,
            MiniportReserved,
            Scratch,
            SourceHandle,
            NblFlags,
            ChildRefCount,
            Flags,
            Status,
        }
    );
    prefix!(c, NET_BUFFER_LIST);
    offsets!(
        c,
        NET_BUFFER {
            Next,
            CurrentMdl,
            CurrentMdlOffset,
            DataLength,
            MdlChain,
            DataOffset
        }
    );
    prefix!(c, NET_BUFFER);
    // The crate models the header's anonymous `union { ULONG DataLength; SIZE_T stDataLength; }`
    // as NET_BUFFER_DATA_LENGTH_UNION in the field `DataLength`: each member sits at the union's
    // offset, and the union ends where MdlChain starts.
    let union_at = offset_of!(t::NET_BUFFER, DataLength);
    c.eq(
        "NET_BUFFER_DATA_LENGTH_UNION.DataLength",
        "offset",
        "NET_BUFFER.DataLength",
        (union_at + offset_of!(t::NET_BUFFER_DATA_LENGTH_UNION, DataLength)) as u128,
    );
    c.eq(
        "NET_BUFFER_DATA_LENGTH_UNION.stDataLength",
        "offset",
        "NET_BUFFER.stDataLength",
        (union_at + offset_of!(t::NET_BUFFER_DATA_LENGTH_UNION, stDataLength)) as u128,
    );
    let span = c
        .value("offset", "NET_BUFFER.MdlChain")
        .zip(c.value("offset", "NET_BUFFER.DataLength"));
    c.derived(
        "NET_BUFFER_DATA_LENGTH_UNION",
        "NET_BUFFER.MdlChain - NET_BUFFER.DataLength",
        span.map(|(end, start)| end - start),
        size_of::<t::NET_BUFFER_DATA_LENGTH_UNION>() as u128,
    );
    // DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT), the wrapper of the NBL's reserved arrays.
    c.eq(
        "MemoryAllocationAligned",
        "const",
        "MEMORY_ALLOCATION_ALIGNMENT",
        align_of::<t::MemoryAllocationAligned<u8>>() as u128,
    );

    // Packet-list information (the bit-field structs are 32-bit integer newtypes).
    whole!(c, FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0);
    whole!(c, FWPS_PACKET_LIST_OUTBOUND_IPSEC_INFORMATION0);
    whole!(c, FWPS_PACKET_LIST_FWP_INFORMATION0);
    offsets!(
        c,
        FWPS_PACKET_LIST_IPSEC_INFORMATION0 {
            inbound,
            outbound,
            flags
        }
    );
    whole!(c, FWPS_PACKET_LIST_IPSEC_INFORMATION0);
    offsets!(
        c,
        FWPS_PACKET_LIST_INFORMATION0 {
            ipsecInformation,
            fwpInformation
        }
    );
    whole!(c, FWPS_PACKET_LIST_INFORMATION0);

    // FWP value types.
    offsets!(
        c,
        GUID {
            Data1,
            Data2,
            Data3,
            Data4
        }
    );
    whole!(c, GUID);
    offsets!(c, FWP_VALUE0 { r#type });
    // The crate models FWP_VALUE0's anonymous union as one `value: u64`: every member of the
    // union is at the same offset (rows FWP_VALUE0.uint8 .. byteArray6), and the union is 8 bytes.
    c.eq(
        "FWP_VALUE0.value",
        "offset",
        "FWP_VALUE0.uint8",
        offset_of!(t::FWP_VALUE0, value) as u128,
    );
    c.eq(
        "FWP_VALUE0.value (union)",
        "offset",
        "FWP_VALUE0.uint64",
        offset_of!(t::FWP_VALUE0, value) as u128,
    );
    whole!(c, FWP_VALUE0);
    offsets!(c, FWP_BYTE_BLOB { size, data });
    whole!(c, FWP_BYTE_BLOB);
    offsets!(c, FWPM_DISPLAY_DATA0 { name, description });
    whole!(c, FWPM_DISPLAY_DATA0);

    // Classify's inputs and outputs.
    offsets!(
        c,
        FWPS_INCOMING_VALUES0 {
            layerId,
            valueCount,
            incomingValue
        }
    );
    whole!(c, FWPS_INCOMING_VALUES0);
    // FWPS_INCOMING_VALUE0 is `{ FWP_VALUE0 value; }`: the crate indexes FWP_VALUE0s directly.
    c.eq(
        "FWPS_INCOMING_VALUE0 (as FWP_VALUE0)",
        "size",
        "FWPS_INCOMING_VALUE0",
        size_of::<t::FWP_VALUE0>() as u128,
    );
    offsets!(
        c,
        FWPS_INCOMING_METADATA_VALUES0 {
            currentMetadataValues,
            flags,
            reserved,
            discardMetadata,
            flowHandle,
            ipHeaderSize,
            transportHeaderSize,
            processPath,
            token,
            processId,
            sourceInterfaceIndex,
            destinationInterfaceIndex,
            compartmentId,
            fragmentMetadata,
            pathMtu,
            completionHandle,
            transportEndpointHandle,
            remoteScopeId,
            controlData,
            controlDataLength,
            packetDirection,
            headerIncludeHeader,
            headerIncludeHeaderLength,
        }
    );
    prefix!(c, FWPS_INCOMING_METADATA_VALUES0);
    // Nested structures the crate models as arrays or integers of the same size.
    c.eq(
        "FWPS_INCOMING_METADATA_VALUES0.discardMetadata (size)",
        "size",
        "FWPS_DISCARD_METADATA0",
        field_size(|m: &t::FWPS_INCOMING_METADATA_VALUES0| &m.discardMetadata) as u128,
    );
    c.eq(
        "FWPS_INCOMING_METADATA_VALUES0.fragmentMetadata (size)",
        "size",
        "FWPS_INBOUND_FRAGMENT_METADATA0",
        field_size(|m: &t::FWPS_INCOMING_METADATA_VALUES0| &m.fragmentMetadata) as u128,
    );
    c.eq(
        "FWPS_INCOMING_METADATA_VALUES0.remoteScopeId (size)",
        "size",
        "SCOPE_ID",
        field_size(|m: &t::FWPS_INCOMING_METADATA_VALUES0| &m.remoteScopeId) as u128,
    );
    offsets!(
        c,
        FWPS_CLASSIFY_OUT0 {
            actionType,
            outContext,
            filterId,
            rights,
            flags,
            reserved
        }
    );
    whole!(c, FWPS_CLASSIFY_OUT0);
    offsets!(
        c,
        FWPS_FILTER1 {
            filterId,
            weight,
            subLayerWeight,
            flags,
            numFilterConditions,
            filterCondition,
            action,
            context,
            providerContext,
        }
    );
    prefix!(c, FWPS_FILTER1);
    // `action` is FWPS_ACTION0 { type; calloutId; }, modelled as [u32; 2].
    c.eq(
        "FWPS_FILTER1.action (size)",
        "size",
        "FWPS_ACTION0",
        field_size(|f: &t::FWPS_FILTER1| &f.action) as u128,
    );
    offsets!(
        c,
        FWPS_CALLOUT1 {
            calloutKey,
            flags,
            classifyFn,
            notifyFn,
            flowDeleteFn
        }
    );
    whole!(c, FWPS_CALLOUT1);
    offsets!(
        c,
        FWPS_TRANSPORT_SEND_PARAMS0 {
            remoteAddress,
            remoteScopeId,
            controlData,
            controlDataLength,
        }
    );
    whole!(c, FWPS_TRANSPORT_SEND_PARAMS0);
    c.eq(
        "FWPS_TRANSPORT_SEND_PARAMS0.remoteScopeId (size)",
        "size",
        "SCOPE_ID",
        field_size(|p: &t::FWPS_TRANSPORT_SEND_PARAMS0| &p.remoteScopeId) as u128,
    );

    // Management objects.
    offsets!(
        c,
        FWPM_SESSION0 {
            sessionKey,
            displayData,
            flags,
            txnWaitTimeoutInMSec,
            processId,
            sid,
            username,
            kernelMode,
        }
    );
    whole!(c, FWPM_SESSION0);
    offsets!(
        c,
        FWPM_PROVIDER0 {
            providerKey,
            displayData,
            flags,
            providerData,
            serviceName
        }
    );
    whole!(c, FWPM_PROVIDER0);
    offsets!(
        c,
        FWPM_SUBLAYER0 {
            subLayerKey,
            displayData,
            flags,
            providerKey,
            providerData,
            weight
        }
    );
    whole!(c, FWPM_SUBLAYER0);
    offsets!(
        c,
        FWPM_CALLOUT0 {
            calloutKey,
            displayData,
            flags,
            providerKey,
            providerData,
            applicableLayer,
            calloutId,
        }
    );
    whole!(c, FWPM_CALLOUT0);
    // FWPM_ACTION0's union { filterType; calloutKey; } is modelled as its calloutKey member.
    offsets!(c, FWPM_ACTION0 { r#type, calloutKey });
    whole!(c, FWPM_ACTION0);
    offsets!(
        c,
        FWPM_FILTER_CONDITION0 {
            fieldKey,
            matchType,
            conditionValue
        }
    );
    whole!(c, FWPM_FILTER_CONDITION0);
    offsets!(
        c,
        FWPM_FILTER0 {
            filterKey,
            displayData,
            flags,
            providerKey,
            providerData,
            layerKey,
            subLayerKey,
            weight,
            numFilterConditions,
            filterCondition,
            action,
            rawContext,
            reserved,
            filterId,
            effectiveWeight,
        }
    );
    whole!(c, FWPM_FILTER0);
    // The header's union { UINT64 rawContext; GUID providerContextKey; } is modelled as two u64s:
    // `rawContext` and `providerContextKeyTail`, the GUID's second half.
    let tail = c
        .value("offset", "FWPM_FILTER0.providerContextKey")
        .map(|at| at + 8);
    c.derived(
        "FWPM_FILTER0.providerContextKeyTail",
        "FWPM_FILTER0.providerContextKey + 8",
        tail,
        offset_of!(t::FWPM_FILTER0, providerContextKeyTail) as u128,
    );

    // Executive and I/O manager.
    offsets!(
        c,
        UNICODE_STRING {
            Length,
            MaximumLength,
            Buffer
        }
    );
    whole!(c, UNICODE_STRING);
    offsets!(
        c,
        OBJECT_ATTRIBUTES {
            Length,
            RootDirectory,
            ObjectName,
            Attributes,
            SecurityDescriptor,
            SecurityQualityOfService,
        }
    );
    whole!(c, OBJECT_ATTRIBUTES);
    // The crate declares the header only; `Data` (UCHAR[1]) follows at the row's offset.
    offsets!(
        c,
        KEY_VALUE_PARTIAL_INFORMATION {
            TitleIndex,
            Type,
            DataLength
        }
    );
    prefix!(c, KEY_VALUE_PARTIAL_INFORMATION);
    c.at_least(
        "KEY_VALUE_PARTIAL_INFORMATION (Data)",
        "offset",
        "KEY_VALUE_PARTIAL_INFORMATION.Data",
        size_of::<t::KEY_VALUE_PARTIAL_INFORMATION>() as u128,
    );
    offsets!(
        c,
        DRIVER_OBJECT {
            Type,
            Size,
            DeviceObject,
            Flags,
            DriverStart,
            DriverSize,
            DriverSection,
            DriverExtension,
            DriverName,
            HardwareDatabase,
            FastIoDispatch,
            DriverInit,
            DriverStartIo,
            DriverUnload,
            MajorFunction,
        }
    );
    whole!(c, DRIVER_OBJECT);
    // Opaque: the crate only passes pointers (zero-sized here).
    prefix!(c, DEVICE_OBJECT);
    whole!(c, KDPC);
    offsets!(c, EX_RUNDOWN_REF { Count });
    whole!(c, EX_RUNDOWN_REF);
    offsets!(
        c,
        PROCESSOR_NUMBER {
            Group,
            Number,
            Reserved
        }
    );
    whole!(c, PROCESSOR_NUMBER);

    // Integer typedefs the seam declares.
    for (name, size) in [
        ("NTSTATUS", size_of::<t::NTSTATUS>()),
        ("HANDLE", size_of::<t::HANDLE>()),
        ("ADDRESS_FAMILY", size_of::<t::ADDRESS_FAMILY>()),
        ("COMPARTMENT_ID", size_of::<t::COMPARTMENT_ID>()),
        ("FWP_DATA_TYPE", size_of::<t::FWP_DATA_TYPE>()),
        ("FWP_ACTION_TYPE", size_of::<t::FWP_ACTION_TYPE>()),
        ("FWP_MATCH_TYPE", size_of::<t::FWP_MATCH_TYPE>()),
        ("POOL_FLAGS", size_of::<t::POOL_FLAGS>()),
        ("POOL_TYPE", size_of::<t::POOL_TYPE>()),
    ] {
        c.eq(&format!("type {name}"), "size", name, size as u128);
    }

    // The KMDF binding (fxldr.h, wdfglobals.h, wdfdriver.h of KMDF 1.33).
    offsets!(
        c,
        WDF_VERSION {
            Major,
            Minor,
            Build
        }
    );
    whole!(c, WDF_VERSION);
    offsets!(
        c,
        WDF_BIND_INFO {
            Size,
            Component,
            Version,
            FuncCount,
            FuncTable,
            Module
        }
    );
    whole!(c, WDF_BIND_INFO);
    offsets!(
        c,
        WDF_DRIVER_GLOBALS {
            Driver,
            DriverFlags,
            DriverTag,
            DriverName,
            DisplaceDriverUnload
        }
    );
    whole!(c, WDF_DRIVER_GLOBALS);
    offsets!(
        c,
        WDF_DRIVER_CONFIG {
            Size,
            EvtDriverDeviceAdd,
            EvtDriverUnload,
            DriverInitFlags,
            DriverPoolTag
        }
    );
    whole!(c, WDF_DRIVER_CONFIG);
    offsets!(
        c,
        WDF_IO_QUEUE_CONFIG {
            Size,
            DispatchType,
            PowerManaged,
            AllowZeroLengthRequests,
            DefaultQueue,
            EvtIoDefault,
            EvtIoRead,
            EvtIoWrite,
            EvtIoDeviceControl,
            EvtIoInternalDeviceControl,
            EvtIoStop,
            EvtIoResume,
            EvtIoCanceledOnQueue,
            Settings,
            Driver
        }
    );
    whole!(c, WDF_IO_QUEUE_CONFIG);
    offsets!(
        c,
        WDF_OBJECT_ATTRIBUTES {
            Size,
            EvtCleanupCallback,
            EvtDestroyCallback,
            ExecutionLevel,
            SynchronizationScope,
            ParentObject,
            ContextSizeOverride,
            ContextTypeInfo
        }
    );
    whole!(c, WDF_OBJECT_ATTRIBUTES);
    c
}

#[test]
fn seam_layouts_match_the_table() {
    check_seam_layouts().finish("seam layouts");
}

// ------------------------------------------------------------------------------------------------
// (c) Constants of the seam, the safe layer and the driver.

/// `pub const NAME` of crates/seam/src/sys/types, compared with the row of the same name.
macro_rules! consts {
    ($c:expr, [$($name:ident),* $(,)?]) => {{
        $( $c.eq(stringify!($name), "const", stringify!($name), t::$name.to_u128()); )*
    }};
}

macro_rules! guids {
    ($c:expr, [$($name:ident),* $(,)?]) => {{
        $( $c.eq(stringify!($name), "guid", stringify!($name), guid(&t::$name)); )*
    }};
}

/// What each layer enum of src/driver/layers.rs must agree with: every layer's key and run-time
/// id with the rows of its name (`$kind`: TRANSPORT or IPPACKET), the id mapping back to the
/// layer, the family, direction and field table classify derives from the layer (bits of its
/// discriminant) with what the name says; and no other run-time id taken for one of ours
/// (classify permits those untouched).
macro_rules! layers {
    ($c:ident, $layers:ident, $kind:literal, $inbound:ident, $outbound:ident) => {
        for layer in $layers::ALL {
            let (direction, version) = match layer {
                $layers::OutboundV4 => (Direction::Outbound, "V4"),
                $layers::OutboundV6 => (Direction::Outbound, "V6"),
                $layers::InboundV4 => (Direction::Inbound, "V4"),
                $layers::InboundV6 => (Direction::Inbound, "V6"),
            };
            let outbound = direction == Direction::Outbound;
            let name = format!("{}_{}_{version}", if outbound { "OUTBOUND" } else { "INBOUND" }, $kind);
            let enum_name = stringify!($layers);
            $c.eq(&format!("{enum_name}::{layer:?}.key"), "guid", &format!("FWPM_LAYER_{name}"), guid(&layer.key()));
            let id = layer.runtime_id();
            $c.eq(&format!("{enum_name}::{layer:?}.runtime_id"), "layer-id", &format!("FWPS_LAYER_{name}"), id.to_u128());
            if $layers::from_runtime_id(id) != Some(layer) {
                $c.failures.push(format!("{enum_name}::from_runtime_id({id}) is not {layer:?}"));
            }
            let family = if version == "V4" { IpFamily::V4 } else { IpFamily::V6 };
            if layer.family() != family || layer.direction() != direction {
                $c.failures.push(format!(
                    "{layer:?}: family {:?} / direction {:?}, its name {name} says {family:?} / {direction:?}",
                    layer.family(),
                    layer.direction()
                ));
            }
            let expected = if outbound { &$outbound } else { &$inbound };
            if layer.fields() != expected {
                $c.failures.push(format!("{layer:?}.fields() is not its direction's table"));
            }
        }
        let ours: Vec<u16> = $layers::ALL.iter().map(|l| l.runtime_id()).collect();
        for id in 0..=u16::MAX {
            if $layers::from_runtime_id(id).is_some() != ours.contains(&id) {
                $c.failures.push(format!("{}::from_runtime_id({id}) is {:?}", stringify!($layers), $layers::from_runtime_id(id)));
            }
        }
    };
}

#[rustfmt::skip]
fn check_constants() -> Check {
    let mut c = Check::new();

    // The inbound IPsec bit-fields' masks (rows printed by facts/layouts.c).
    for (name, value, field) in [
        (
            "FWPS_INBOUND_IPSEC_IS_SECURE",
            t::FWPS_INBOUND_IPSEC_IS_SECURE,
            "isSecure",
        ),
        (
            "FWPS_INBOUND_IPSEC_IS_TUNNEL_MODE",
            t::FWPS_INBOUND_IPSEC_IS_TUNNEL_MODE,
            "isTunnelMode",
        ),
        (
            "FWPS_INBOUND_IPSEC_IS_DE_TUNNELED",
            t::FWPS_INBOUND_IPSEC_IS_DE_TUNNELED,
            "isDeTunneled",
        ),
    ] {
        c.eq(name, "const", &format!("FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0.{field}"), value.to_u128());
    }

    // crates/seam/src/sys/types: same names as the headers.
    consts!(
        c,
        [
            FWP_EMPTY,
            FWP_UINT8,
            FWP_UINT16,
            FWP_UINT32,
            FWP_UINT64,
            FWP_BYTE_ARRAY16_TYPE,
            FWPS_METADATA_FIELD_IP_HEADER_SIZE,
            FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE,
            FWPS_METADATA_FIELD_COMPARTMENT_ID,
            FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE,
            FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA,
            FWPS_METADATA_FIELD_REMOTE_SCOPE_ID,
            FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED,
            FWPS_PACKET_LIST_INFORMATION_QUERY_INBOUND,
            FWPS_PACKET_LIST_INFORMATION_QUERY_IPSEC,
            FWP_CONDITION_FLAG_IS_LOOPBACK,
            FWP_CONDITION_FLAG_IS_FRAGMENT,
            FWP_CONDITION_FLAG_IS_FRAGMENT_GROUP,
            FWP_CONDITION_FLAG_IS_REASSEMBLED,
            FWP_ACTION_BLOCK,
            FWP_ACTION_PERMIT,
            FWP_ACTION_CALLOUT_TERMINATING,
            FWP_ACTION_CONTINUE,
            FWPS_RIGHT_ACTION_WRITE,
            FWPS_CLASSIFY_OUT_FLAG_ABSORB,
            FWPS_FILTER_FLAG_CLEAR_ACTION_RIGHT,
            FWP_MATCH_EQUAL,
            FWPM_SESSION_FLAG_DYNAMIC,
            FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED,
            RPC_C_AUTHN_WINNT,
            POOL_FLAG_NON_PAGED,
            FILE_DEVICE_UNKNOWN,
            FILE_DEVICE_SECURE_OPEN,
            KEY_READ,
            KEY_SET_VALUE,
            OBJ_CASE_INSENSITIVE,
            OBJ_KERNEL_HANDLE,
            PO_CB_SYSTEM_STATE_LOCK,
            ALL_PROCESSOR_GROUPS,
            NonPagedPoolNx,
            REG_BINARY,
            REG_DWORD,
            DPFLTR_IHVNETWORK_ID,
            DPFLTR_ERROR_LEVEL,
            DPFLTR_WARNING_LEVEL,
            DPFLTR_TRACE_LEVEL,
            DPFLTR_INFO_LEVEL,
        ]
    );
    guids!(
        c,
        [
            FWPM_CONDITION_IP_PROTOCOL,
            FWPM_CONDITION_IP_REMOTE_ADDRESS,
            FWPM_CONDITION_IP_REMOTE_PORT
        ]
    );
    // Renamed in the crate: KernelMode (MODE enum), KeyValuePartialInformation (an enum member),
    // and IRP_MJ_COUNT = IRP_MJ_MAXIMUM_FUNCTION + 1 (the MajorFunction array length).
    c.eq("KERNEL_MODE", "const", "KernelMode", t::KERNEL_MODE.to_u128());
    c.eq("KEY_VALUE_PARTIAL_INFORMATION_CLASS", "const", "KeyValuePartialInformation", t::KEY_VALUE_PARTIAL_INFORMATION_CLASS.to_u128());
    let maximum = c.value("const", "IRP_MJ_MAXIMUM_FUNCTION");
    c.derived("IRP_MJ_COUNT", "IRP_MJ_MAXIMUM_FUNCTION + 1", maximum.map(|m| m + 1), t::IRP_MJ_COUNT as u128);

    // crates/seam/src/nt/status.rs: NtStatus::X is STATUS_X, and name() says so.
    let statuses = [
        ("SUCCESS", NtStatus::SUCCESS),
        ("UNSUCCESSFUL", NtStatus::UNSUCCESSFUL),
        ("INVALID_HANDLE", NtStatus::INVALID_HANDLE),
        ("INVALID_PARAMETER", NtStatus::INVALID_PARAMETER),
        ("NO_MEMORY", NtStatus::NO_MEMORY),
        ("INSUFFICIENT_RESOURCES", NtStatus::INSUFFICIENT_RESOURCES),
        ("INVALID_DEVICE_STATE", NtStatus::INVALID_DEVICE_STATE),
        ("DEVICE_BUSY", NtStatus::DEVICE_BUSY),
        ("RETRY", NtStatus::RETRY),
        ("FWP_SESSION_ABORTED", NtStatus::FWP_SESSION_ABORTED),
        ("INVALID_DEVICE_REQUEST", NtStatus::INVALID_DEVICE_REQUEST),
        ("BUFFER_TOO_SMALL", NtStatus::BUFFER_TOO_SMALL),
        ("BUFFER_OVERFLOW", NtStatus::BUFFER_OVERFLOW),
        ("OBJECT_NAME_NOT_FOUND", NtStatus::OBJECT_NAME_NOT_FOUND),
        ("FWP_CALLOUT_NOT_FOUND", NtStatus::FWP_CALLOUT_NOT_FOUND),
        ("FWP_FILTER_NOT_FOUND", NtStatus::FWP_FILTER_NOT_FOUND),
        ("FWP_PROVIDER_NOT_FOUND", NtStatus::FWP_PROVIDER_NOT_FOUND),
        ("FWP_SUBLAYER_NOT_FOUND", NtStatus::FWP_SUBLAYER_NOT_FOUND),
        ("FWP_TCPIP_NOT_READY", NtStatus::FWP_TCPIP_NOT_READY),
        (
            "FWP_INJECT_HANDLE_CLOSING",
            NtStatus::FWP_INJECT_HANDLE_CLOSING,
        ),
        ("FWP_INJECT_HANDLE_STALE", NtStatus::FWP_INJECT_HANDLE_STALE),
        ("FWP_CANNOT_PEND", NtStatus::FWP_CANNOT_PEND),
    ];
    for (name, status) in statuses {
        let item = format!("STATUS_{name}");
        c.eq(&format!("crates/seam/src/nt/status.rs:{name}"), "const", &item, status.0.to_u128());
        if let Some(shown) = status.name() {
            c.eq(&format!("NtStatus::name {shown}"), "const", shown, status.0.to_u128());
        }
    }

    // crates/seam/src/nt/irql.rs.
    named!(c, "crates/seam/src/nt/irql.rs", Irql, "const", [
        PASSIVE => "PASSIVE_LEVEL",
        APC => "APC_LEVEL",
        DISPATCH => "DISPATCH_LEVEL",
    ]);

    // crates/inject/src/state.rs, types.rs, request.rs, family.rs.
    named!(c, "crates/inject/src/state.rs", InjectionState, "const", [
        NOT_INJECTED => "FWPS_PACKET_NOT_INJECTED",
        INJECTED_BY_SELF => "FWPS_PACKET_INJECTED_BY_SELF",
        INJECTED_BY_OTHER => "FWPS_PACKET_INJECTED_BY_OTHER",
        PREVIOUSLY_INJECTED_BY_SELF => "FWPS_PACKET_PREVIOUSLY_INJECTED_BY_SELF",
    ]);
    let mut all = Some(0);
    for (name, types) in [
        ("STREAM", InjectionTypes::STREAM),
        ("TRANSPORT", InjectionTypes::TRANSPORT),
        ("NETWORK", InjectionTypes::NETWORK),
        ("FORWARD", InjectionTypes::FORWARD),
    ] {
        let item = format!("FWPS_INJECTION_TYPE_{name}");
        c.eq(&format!("crates/inject/src/types.rs:{name}"), "const", &item, types.bits().to_u128());
        all = all.zip(c.value("const", &item)).map(|(a, b)| a | b);
    }
    c.derived("crates/inject/src/types.rs:ALL", "STREAM | TRANSPORT | NETWORK | FORWARD", all, InjectionTypes::ALL.bits().to_u128());
    c.eq("crates/inject/src/request.rs:UNSPECIFIED_COMPARTMENT", "const", "UNSPECIFIED_COMPARTMENT_ID", UNSPECIFIED_COMPARTMENT.to_u128());
    named!(c, "crates/inject/src/request.rs", IpProtocol, "const", [
        ICMP => "IPPROTO_ICMP",
        TCP => "IPPROTO_TCP",
        UDP => "IPPROTO_UDP",
        ICMPV6 => "IPPROTO_ICMPV6",
    ]);
    for (family, item) in [
        (AddressFamily::Unspecified, "AF_UNSPEC"),
        (AddressFamily::Ipv4, "AF_INET"),
        (AddressFamily::Ipv6, "AF_INET6"),
    ] {
        c.eq(&format!("AddressFamily::{family:?}"), "const", item, family.as_raw().to_u128());
        let back = AddressFamily::from_raw(family.as_raw()).ok();
        if back != Some(family) {
            c.failures
                .push(format!("AddressFamily::from_raw({item}) is {back:?}"));
        }
    }

    // src/driver/layers.rs: keys, run-time ids and field indices per direction.
    layers!(c, TransportLayer, "TRANSPORT", INBOUND_FIELDS, OUTBOUND_FIELDS);
    c.covered
        .insert("src/driver/layers.rs:TransportLayer::key".into());
    c.covered
        .insert("src/driver/layers.rs:TransportLayer::runtime_id".into());
    for (table, direction) in [(&INBOUND_FIELDS, "INBOUND"), (&OUTBOUND_FIELDS, "OUTBOUND")] {
        for version in ["V4", "V6"] {
            let layer = format!("FWPS_FIELDS_{direction}_TRANSPORT_{version}");
            for (field, index) in [
                ("IP_PROTOCOL", table.ip_protocol),
                ("IP_REMOTE_ADDRESS", table.ip_remote_address),
                ("IP_LOCAL_ADDRESS", table.ip_local_address),
                ("IP_REMOTE_PORT", table.ip_remote_port),
                ("INTERFACE_INDEX", table.interface_index),
                ("SUB_INTERFACE_INDEX", table.sub_interface_index),
                ("FLAGS", table.flags),
            ] {
                let item = format!("{layer}.FWPS_FIELD_{direction}_TRANSPORT_{version}_{field}");
                c.eq(&format!("{direction}_FIELDS.{field}"), "index", &item, index as u128);
            }
        }
        c.covered
            .insert(format!("src/driver/layers.rs:{direction}_FIELDS"));
    }

    // src/driver/layers.rs: the IP packet layers' keys, run-time ids and field indices.
    layers!(c, NetworkLayer, "IPPACKET", INBOUND_IPPACKET_FIELDS, OUTBOUND_IPPACKET_FIELDS);
    for (table, direction) in [(&INBOUND_IPPACKET_FIELDS, "INBOUND"), (&OUTBOUND_IPPACKET_FIELDS, "OUTBOUND")] {
        for version in ["V4", "V6"] {
            let layer = format!("FWPS_FIELDS_{direction}_IPPACKET_{version}");
            for (field, index) in [
                ("IP_REMOTE_ADDRESS", table.ip_remote_address),
                ("INTERFACE_INDEX", table.interface_index),
                ("SUB_INTERFACE_INDEX", table.sub_interface_index),
                ("FLAGS", table.flags),
            ] {
                let item = format!("{layer}.FWPS_FIELD_{direction}_IPPACKET_{version}_{field}");
                c.eq(&format!("{direction}_IPPACKET_FIELDS.{field}"), "index", &item, index as u128);
            }
        }
        c.covered.insert(format!("src/driver/layers.rs:{direction}_IPPACKET_FIELDS"));
    }

    // src/driver/objects.rs.
    c.eq("src/driver/objects.rs:SESSION_FLAGS", "const", "FWPM_SESSION_FLAG_DYNAMIC", SESSION_FLAGS.to_u128());
    c.eq("src/driver/objects.rs:FILTER_FLAGS", "const", "FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED", FILTER_FLAGS.to_u128());
    c.eq("src/driver/objects.rs:SUBLAYER_WEIGHT", "rule", "sublayer-weight-lowest", SUBLAYER_WEIGHT.to_u128());

    // wfpinjctl's Win32 errors (what CreateFileW and DeviceIoControl report; it names them in
    // words).
    {
        use wfpinjctl::device::win32;
        named!(c, "tools/wfpinjctl/src/device.rs", win32, "const", [
            INVALID_FUNCTION => "ERROR_INVALID_FUNCTION",
            FILE_NOT_FOUND => "ERROR_FILE_NOT_FOUND",
            PATH_NOT_FOUND => "ERROR_PATH_NOT_FOUND",
            ACCESS_DENIED => "ERROR_ACCESS_DENIED",
            BAD_COMMAND => "ERROR_BAD_COMMAND",
            INVALID_PARAMETER => "ERROR_INVALID_PARAMETER",
            INSUFFICIENT_BUFFER => "ERROR_INSUFFICIENT_BUFFER",
            BUSY => "ERROR_BUSY",
            RETRY => "ERROR_RETRY",
        ]);
    }

    // The KMDF binding's numbers and strings.
    consts!(
        c,
        [
            WDF_DRIVER_GLOBALS_NAME_LEN,
            WdfDriverInitNonPnpDriver,
            WdfIoQueueDispatchSequential,
            WdfFalse,
            WdfExecutionLevelPassive,
            WdfSynchronizationScopeInheritFromParent,
            KMDF_VERSION_MAJOR,
            KMDF_VERSION_MINOR,
            KMDF_BUILD_NUMBER,
            WdfFunctionTableNumEntries,
        ]
    );
    // The declaration list's WDFFUNCENUM index of each WDF function.
    for &function in wfp_injector::sys::KernelFn::ALL {
        if let Some(index) = function.wdf_index() {
            let name = format!("{}TableIndex", function.name());
            c.eq(&name, "index", &format!("WDFFUNCENUM.{name}"), index as u128);
        }
    }
    for (name, value) in [
        ("WDF_COMPONENT_KMDF_LIBRARY", t::WDF_COMPONENT_KMDF_LIBRARY),
        ("SDDL_DEVOBJ_KERNEL_ONLY", t::SDDL_DEVOBJ_KERNEL_ONLY),
        ("SDDL_DEVOBJ_SYS_ALL_ADM_ALL", t::SDDL_DEVOBJ_SYS_ALL_ADM_ALL),
    ] {
        text_eq(&mut c, name, "const", name, value);
    }
    c
}

/// `key` (a crate string) must be the table's (kind, item) value, as text.
fn text_eq(c: &mut Check, key: &str, kind: &str, item: &str, actual: &str) {
    c.covered.insert(key.to_string());
    match c.facts.row(kind, item) {
        None => c.failures.push(format!("no row `{kind} | {item}`")),
        Some(row) if row.value == actual => c.compared += 1,
        Some(row) => c.failures.push(format!(
            "{key}: {actual:?}, but the table's `{kind} | {item}` is {:?}",
            row.value
        )),
    }
}

#[test]
fn crate_constants_match_the_table() {
    check_constants().finish("crate constants");
}

// ------------------------------------------------------------------------------------------------
// (d) The simulator's own tables: they must agree with the docs, not with the driver.

#[rustfmt::skip]
fn check_simulator() -> Check {
    let mut c = Check::new();
    let md = "FWPS_INCOMING_METADATA_VALUES0";
    named!(c, "crates/sim/src/layout.rs", layout, "offset", [
        nbl::NEXT => "NET_BUFFER_LIST.Next",
        nbl::FIRST_NET_BUFFER => "NET_BUFFER_LIST.FirstNetBuffer",
        nbl::PARENT_NET_BUFFER_LIST => "NET_BUFFER_LIST.ParentNetBufferList",
        nbl::CHILD_REF_COUNT => "NET_BUFFER_LIST.ChildRefCount",
        nbl::STATUS => "NET_BUFFER_LIST.Status",
        net_buffer::NEXT => "NET_BUFFER.Next",
        net_buffer::CURRENT_MDL => "NET_BUFFER.CurrentMdl",
        net_buffer::CURRENT_MDL_OFFSET => "NET_BUFFER.CurrentMdlOffset",
        net_buffer::DATA_LENGTH => "NET_BUFFER.DataLength",
        net_buffer::MDL_CHAIN => "NET_BUFFER.MdlChain",
        net_buffer::DATA_OFFSET => "NET_BUFFER.DataOffset",
        value::TYPE => "FWP_VALUE0.type",
        value::UNION => "FWP_VALUE0.uint8",
        incoming_values::LAYER_ID => "FWPS_INCOMING_VALUES0.layerId",
        incoming_values::VALUE_COUNT => "FWPS_INCOMING_VALUES0.valueCount",
        incoming_values::INCOMING_VALUE => "FWPS_INCOMING_VALUES0.incomingValue",
        metadata::CURRENT_METADATA_VALUES => format!("{md}.currentMetadataValues"),
        metadata::IP_HEADER_SIZE => format!("{md}.ipHeaderSize"),
        metadata::TRANSPORT_HEADER_SIZE => format!("{md}.transportHeaderSize"),
        metadata::COMPARTMENT_ID => format!("{md}.compartmentId"),
        metadata::TRANSPORT_ENDPOINT_HANDLE => format!("{md}.transportEndpointHandle"),
        metadata::REMOTE_SCOPE_ID => format!("{md}.remoteScopeId"),
        metadata::CONTROL_DATA => format!("{md}.controlData"),
        metadata::CONTROL_DATA_LENGTH => format!("{md}.controlDataLength"),
        filter::FILTER_ID => "FWPS_FILTER1.filterId",
        filter::ACTION_TYPE => "FWPS_FILTER1.action.type",
        filter::ACTION_CALLOUT_ID => "FWPS_FILTER1.action.calloutId",
        filter::CONTEXT => "FWPS_FILTER1.context",
        classify_out::ACTION_TYPE => "FWPS_CLASSIFY_OUT0.actionType",
        classify_out::FILTER_ID => "FWPS_CLASSIFY_OUT0.filterId",
        classify_out::RIGHTS => "FWPS_CLASSIFY_OUT0.rights",
        classify_out::FLAGS => "FWPS_CLASSIFY_OUT0.flags",
    ]);

    // Block sizes: exactly the structure, or room for all of it.
    let key = |name: &str| format!("crates/sim/src/layout.rs:{name}");
    c.at_least(&key("nbl::BLOCK"), "size", "NET_BUFFER_LIST", layout::nbl::BLOCK as u128);
    c.at_least(&key("net_buffer::BLOCK"), "size", "NET_BUFFER", layout::net_buffer::BLOCK as u128);
    c.at_least(&key("metadata::BLOCK"), "size", md, layout::metadata::BLOCK as u128);
    c.eq(&key("value::SIZE"), "size", "FWP_VALUE0", layout::value::SIZE as u128);
    c.eq(&key("incoming_values::BLOCK"), "size", "FWPS_INCOMING_VALUES0", layout::incoming_values::BLOCK as u128);
    c.eq(&key("filter::BLOCK"), "size", "FWPS_FILTER1", layout::filter::BLOCK as u128);
    c.eq(&key("classify_out::BLOCK"), "size", "FWPS_CLASSIFY_OUT0", layout::classify_out::BLOCK as u128);
    // The simulator's poison for the SIZE_T half of DataLength is its own choice, not a fact.
    c.covered.insert(key("net_buffer::UNION_HIGH_POISON"));

    // Flags and data types.
    let ipsec = "FWPS_PACKET_LIST_INBOUND_IPSEC_INFORMATION0";
    named!(c, "crates/sim/src/layout.rs", layout, "const", [
        metadata::FIELD_IP_HEADER_SIZE => "FWPS_METADATA_FIELD_IP_HEADER_SIZE",
        metadata::FIELD_TRANSPORT_HEADER_SIZE => "FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE",
        metadata::FIELD_COMPARTMENT_ID => "FWPS_METADATA_FIELD_COMPARTMENT_ID",
        metadata::FIELD_TRANSPORT_ENDPOINT_HANDLE =>
            "FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE",
        metadata::FIELD_TRANSPORT_CONTROL_DATA => "FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA",
        metadata::FIELD_REMOTE_SCOPE_ID => "FWPS_METADATA_FIELD_REMOTE_SCOPE_ID",
        classify_out::RIGHT_ACTION_WRITE => "FWPS_RIGHT_ACTION_WRITE",
        classify_out::FLAG_ABSORB => "FWPS_CLASSIFY_OUT_FLAG_ABSORB",
        action::FLAG_TERMINATING => "FWP_ACTION_FLAG_TERMINATING",
        action::BLOCK => "FWP_ACTION_BLOCK",
        action::PERMIT => "FWP_ACTION_PERMIT",
        action::CALLOUT_TERMINATING => "FWP_ACTION_CALLOUT_TERMINATING",
        data_type::EMPTY => "FWP_EMPTY",
        data_type::UINT8 => "FWP_UINT8",
        data_type::UINT16 => "FWP_UINT16",
        data_type::UINT32 => "FWP_UINT32",
        data_type::UINT64 => "FWP_UINT64",
        data_type::BYTE_ARRAY16 => "FWP_BYTE_ARRAY16_TYPE",
        // Reinjection rules.
        metadata::FIELD_ALE_CLASSIFY_REQUIRED => "FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED",
        packet_list_information::QUERY_INBOUND => "FWPS_PACKET_LIST_INFORMATION_QUERY_INBOUND",
        packet_list_information::QUERY_OUTBOUND => "FWPS_PACKET_LIST_INFORMATION_QUERY_OUTBOUND",
        packet_list_information::QUERY_IPSEC => "FWPS_PACKET_LIST_INFORMATION_QUERY_IPSEC",
        packet_list_information::INBOUND_IS_SECURE =>
            format!("{ipsec}.isSecure"),
        packet_list_information::INBOUND_IS_TRANSPORT_MODE =>
            format!("{ipsec}.isTransportMode"),
        packet_list_information::INBOUND_IS_TUNNEL_MODE =>
            format!("{ipsec}.isTunnelMode"),
        packet_list_information::INBOUND_IS_DE_TUNNELED =>
            format!("{ipsec}.isDeTunneled"),
        condition_flag::IS_LOOPBACK => "FWP_CONDITION_FLAG_IS_LOOPBACK",
        condition_flag::IS_FRAGMENT => "FWP_CONDITION_FLAG_IS_FRAGMENT",
        condition_flag::IS_REASSEMBLED => "FWP_CONDITION_FLAG_IS_REASSEMBLED",
    ]);
    // FWPS_PACKET_LIST_INFORMATION0 as the simulator writes it.
    c.eq(&key("packet_list_information::IPSEC_INFORMATION"), "offset", "FWPS_PACKET_LIST_INFORMATION0.ipsecInformation", layout::packet_list_information::IPSEC_INFORMATION as u128);
    c.eq(&key("packet_list_information::FWP_INFORMATION"), "offset", "FWPS_PACKET_LIST_INFORMATION0.fwpInformation", layout::packet_list_information::FWP_INFORMATION as u128);
    c.eq(&key("packet_list_information::SIZE"), "size", "FWPS_PACKET_LIST_INFORMATION0", layout::packet_list_information::SIZE as u128);

    // Field orders: position i of the simulator's list is the field whose enum value is i, and
    // the list is as long as the enum (FWPS_FIELD_..._MAX).
    for (fields, direction, name) in [
        (
            &layout::INBOUND_TRANSPORT_FIELDS[..],
            "INBOUND",
            "INBOUND_TRANSPORT_FIELDS",
        ),
        (
            &layout::OUTBOUND_TRANSPORT_FIELDS[..],
            "OUTBOUND",
            "OUTBOUND_TRANSPORT_FIELDS",
        ),
    ] {
        for version in ["V4", "V6"] {
            let layer = format!("FWPS_FIELDS_{direction}_TRANSPORT_{version}");
            let prefix = format!("{layer}.FWPS_FIELD_{direction}_TRANSPORT_{version}");
            for (index, field) in fields.iter().enumerate() {
                let item = format!("{prefix}_{}", field.suffix());
                c.eq(&format!("{name}[{index}]"), "index", &item, index as u128);
            }
            c.eq(&format!("{name}.len() {version}"), "index", &format!("{prefix}_MAX"), fields.len() as u128);
        }
        c.covered.insert(key(name));
    }

    for (fields, direction, name) in [
        (&layout::INBOUND_IPPACKET_FIELDS[..], "INBOUND", "INBOUND_IPPACKET_FIELDS"),
        (&layout::OUTBOUND_IPPACKET_FIELDS[..], "OUTBOUND", "OUTBOUND_IPPACKET_FIELDS"),
    ] {
        for version in ["V4", "V6"] {
            let prefix = format!("FWPS_FIELDS_{direction}_IPPACKET_{version}.FWPS_FIELD_{direction}_IPPACKET_{version}");
            for (index, field) in fields.iter().enumerate() {
                let item = format!("{prefix}_{}", field.suffix());
                c.eq(&format!("{name}[{index}]"), "index", &item, index as u128);
            }
            c.eq(&format!("{name}.len() {version}"), "index", &format!("{prefix}_MAX"), fields.len() as u128);
        }
        c.covered.insert(key(name));
    }
    // crates/sim/src/ip_packet.rs: the simulated IP packet layers' keys, run-time ids, orders.
    for layer in wfp_sim::ip_packet::IpPacketLayer::ALL {
        use wfp_sim::ip_packet::IpPacketLayer as L;
        let name = match layer {
            L::OutboundV4 => "OUTBOUND_IPPACKET_V4",
            L::OutboundV6 => "OUTBOUND_IPPACKET_V6",
            L::InboundV4 => "INBOUND_IPPACKET_V4",
            L::InboundV6 => "INBOUND_IPPACKET_V6",
        };
        c.eq(&format!("sim IpPacketLayer::{layer:?}.key"), "guid", &format!("FWPM_LAYER_{name}"), guid(&layer.key()));
        c.eq(&format!("sim IpPacketLayer::{layer:?}.runtime_id"), "layer-id", &format!("FWPS_LAYER_{name}"), layer.runtime_id().to_u128());
        let expected: &[layout::IpPacketField] = if name.starts_with("INBOUND") {
            &layout::INBOUND_IPPACKET_FIELDS
        } else {
            &layout::OUTBOUND_IPPACKET_FIELDS
        };
        if layer.fields() != expected {
            c.failures.push(format!("sim IpPacketLayer::{layer:?}.fields() is not the {name} order"));
        }
    }

    // crates/sim/src/engine.rs.
    named!(c, "crates/sim/src/engine.rs", sim, "guid", [
        CONDITION_IP_PROTOCOL => "FWPM_CONDITION_IP_PROTOCOL",
        CONDITION_IP_REMOTE_ADDRESS => "FWPM_CONDITION_IP_REMOTE_ADDRESS",
        CONDITION_IP_REMOTE_PORT => "FWPM_CONDITION_IP_REMOTE_PORT",
    ]);
    c.eq("crates/sim/src/engine.rs:SESSION_FLAG_DYNAMIC", "const", "FWPM_SESSION_FLAG_DYNAMIC", sim::SESSION_FLAG_DYNAMIC.to_u128());
    c.eq("crates/sim/src/engine.rs:FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED", "const", "FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED", sim::FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED.to_u128());
    for (name, status) in [
        ("FWP_CALLOUT_NOT_FOUND", sim::status::FWP_CALLOUT_NOT_FOUND),
        ("FWP_FILTER_NOT_FOUND", sim::status::FWP_FILTER_NOT_FOUND),
        (
            "FWP_PROVIDER_NOT_FOUND",
            sim::status::FWP_PROVIDER_NOT_FOUND,
        ),
        (
            "FWP_SUBLAYER_NOT_FOUND",
            sim::status::FWP_SUBLAYER_NOT_FOUND,
        ),
        ("FWP_ALREADY_EXISTS", sim::status::FWP_ALREADY_EXISTS),
        ("FWP_IN_USE", sim::status::FWP_IN_USE),
        (
            "FWP_NO_TXN_IN_PROGRESS",
            sim::status::FWP_NO_TXN_IN_PROGRESS,
        ),
        ("FWP_TXN_IN_PROGRESS", sim::status::FWP_TXN_IN_PROGRESS),
        ("FWP_SESSION_ABORTED", sim::status::FWP_SESSION_ABORTED),
        ("OBJECT_NAME_NOT_FOUND", sim::status::OBJECT_NAME_NOT_FOUND),
        ("BUFFER_TOO_SMALL", sim::status::BUFFER_TOO_SMALL),
        ("BUFFER_OVERFLOW", sim::status::BUFFER_OVERFLOW),
        ("ACCESS_DENIED", sim::status::ACCESS_DENIED),
    ] {
        c.eq(&format!("crates/sim/src/lib.rs:{name}"), "const", &format!("STATUS_{name}"), status.0.to_u128());
        // The engine's own names for the same constants (sim::status re-exports them).
        if let Some(engine_name) = name.strip_prefix("FWP_") {
            c.covered.insert(format!("crates/sim/src/engine.rs:{engine_name}"));
        }
    }

    // crates/sim/src/lib.rs `constants`: the values the simulator's strictness rules use.
    c.eq("crates/sim/src/lib.rs:OBJ_KERNEL_HANDLE", "const", "OBJ_KERNEL_HANDLE", sim::constants::OBJ_KERNEL_HANDLE.to_u128());
    c.eq("crates/sim/src/lib.rs:KEY_SET_VALUE", "const", "KEY_SET_VALUE", sim::constants::KEY_SET_VALUE.to_u128());
    c.eq("crates/sim/src/lib.rs:KEY_QUERY_VALUE", "const", "KEY_QUERY_VALUE", sim::constants::KEY_QUERY_VALUE.to_u128());
    c.eq("crates/sim/src/lib.rs:POOL_FLAG_PAGED", "const", "POOL_FLAG_PAGED", sim::constants::POOL_FLAG_PAGED.to_u128());
    c.eq("crates/sim/src/lib.rs:KDPC_SIZE", "size", "KDPC", sim::constants::KDPC_SIZE as u128);
    c.eq("crates/sim/src/lib.rs:NON_PAGED_POOL_NX", "const", "NonPagedPoolNx", sim::constants::NON_PAGED_POOL_NX.to_u128());
    c.eq("crates/sim/src/lib.rs:NON_PAGED_POOL", "const", "NonPagedPool", sim::constants::NON_PAGED_POOL.to_u128());
    c.eq("crates/sim/src/lib.rs:PAGED_POOL", "const", "PagedPool", sim::constants::PAGED_POOL.to_u128());
    c.eq("crates/sim/src/lib.rs:ALL_PROCESSOR_GROUPS", "const", "ALL_PROCESSOR_GROUPS", sim::constants::ALL_PROCESSOR_GROUPS.to_u128());
    for (value, item) in sim::constants::PACKET_INJECTION_STATES.iter().zip([
        "FWPS_PACKET_NOT_INJECTED",
        "FWPS_PACKET_INJECTED_BY_SELF",
        "FWPS_PACKET_INJECTED_BY_OTHER",
        "FWPS_PACKET_PREVIOUSLY_INJECTED_BY_SELF",
    ]) {
        c.eq("crates/sim/src/lib.rs:PACKET_INJECTION_STATES", "const", item, value.to_u128());
    }
    c.eq("crates/sim/src/lib.rs:PACKET_INJECTION_STATES", "const", "FWPS_PACKET_INJECTION_STATE_MAX", sim::constants::PACKET_INJECTION_STATES.len() as u128);

    // crates/sim/src/traffic.rs: the simulated layers' keys and run-time ids.
    for layer in Layer::ALL {
        let name = match layer {
            Layer::OutboundV4 => "OUTBOUND_TRANSPORT_V4",
            Layer::OutboundV6 => "OUTBOUND_TRANSPORT_V6",
            Layer::InboundV4 => "INBOUND_TRANSPORT_V4",
            Layer::InboundV6 => "INBOUND_TRANSPORT_V6",
        };
        c.eq(&format!("sim Layer::{layer:?}.key"), "guid", &format!("FWPM_LAYER_{name}"), guid(&layer.key()));
        c.eq(&format!("sim Layer::{layer:?}.runtime_id"), "layer-id", &format!("FWPS_LAYER_{name}"), layer.runtime_id().to_u128());
        let inbound = name.starts_with("INBOUND");
        let expected: &[layout::TransportField] = if inbound {
            &layout::INBOUND_TRANSPORT_FIELDS
        } else {
            &layout::OUTBOUND_TRANSPORT_FIELDS
        };
        if layer.fields() != expected {
            c.failures.push(format!(
                "sim Layer::{layer:?}.fields() is not the {name} order"
            ));
        }
    }

    // The simulated wdfldr and KMDF check bind information and device inits with
    // their own copies of the facts.
    {
        use sim::kmdf::facts as k;
        let key = |name: &str| format!("crates/sim/src/kmdf.rs:{name}");
        c.eq(&key("BIND_INFO_SIZE"), "size", "WDF_BIND_INFO", k::BIND_INFO_SIZE.to_u128());
        c.eq(&key("DRIVER_CONFIG_SIZE"), "size", "WDF_DRIVER_CONFIG", k::DRIVER_CONFIG_SIZE.to_u128());
        text_eq(&mut c, &key("COMPONENT"), "const", "WDF_COMPONENT_KMDF_LIBRARY", k::COMPONENT);
        c.eq(&key("FRAMEWORK_MAJOR"), "const", "KMDF_VERSION_MAJOR", k::FRAMEWORK_MAJOR.to_u128());
        named!(c, "crates/sim/src/kmdf.rs", k, "const", [
            FRAMEWORK_MINOR => "KMDF_MINOR_WINDOWS_11_21H2",
            FRAMEWORK_MINOR_WINDOWS_10_2004 => "KMDF_MINOR_WINDOWS_10_2004",
            FRAMEWORK_MINOR_WINDOWS_10_1903 => "KMDF_MINOR_WINDOWS_10_1903",
            FUNCTION_COUNT_1_33 => "KMDF_1_33.WdfFunctionTableNumEntries",
            FUNCTION_COUNT_1_31 => "WdfFunctionTableNumEntries_V1_31",
            FUNCTION_COUNT_1_29 => "WdfFunctionTableNumEntries_V1_29",
        ]);
        c.eq(&key("BIND_REFUSED"), "rule", "kmdf-bind-newer-minor-refused", k::BIND_REFUSED.to_u128());
        c.eq(&key("DRIVER_INIT_NON_PNP"), "const", "WdfDriverInitNonPnpDriver", k::DRIVER_INIT_NON_PNP.to_u128());
        c.eq(&key("FILE_AUTOGENERATED_DEVICE_NAME"), "const", "FILE_AUTOGENERATED_DEVICE_NAME", k::FILE_AUTOGENERATED_DEVICE_NAME.to_u128());
        c.eq(&key("FILE_DEVICE_SECURE_OPEN"), "const", "FILE_DEVICE_SECURE_OPEN", k::FILE_DEVICE_SECURE_OPEN.to_u128());
        use k::index;
        named!(c, "crates/sim/src/kmdf.rs", index, "index", [
            CONTROL_DEVICE_INIT_ALLOCATE => "WDFFUNCENUM.WdfControlDeviceInitAllocateTableIndex",
            CONTROL_FINISH_INITIALIZING => "WDFFUNCENUM.WdfControlFinishInitializingTableIndex",
            DEVICE_WDM_GET_DEVICE_OBJECT => "WDFFUNCENUM.WdfDeviceWdmGetDeviceObjectTableIndex",
            DEVICE_INIT_FREE => "WDFFUNCENUM.WdfDeviceInitFreeTableIndex",
            DEVICE_INIT_SET_DEVICE_TYPE => "WDFFUNCENUM.WdfDeviceInitSetDeviceTypeTableIndex",
            DEVICE_INIT_SET_CHARACTERISTICS =>
                "WDFFUNCENUM.WdfDeviceInitSetCharacteristicsTableIndex",
            DEVICE_CREATE => "WDFFUNCENUM.WdfDeviceCreateTableIndex",
            DRIVER_CREATE => "WDFFUNCENUM.WdfDriverCreateTableIndex",
            OBJECT_DELETE => "WDFFUNCENUM.WdfObjectDeleteTableIndex",
            DEVICE_INIT_ASSIGN_NAME => "WDFFUNCENUM.WdfDeviceInitAssignNameTableIndex",
            DEVICE_CREATE_SYMBOLIC_LINK => "WDFFUNCENUM.WdfDeviceCreateSymbolicLinkTableIndex",
            IO_QUEUE_CREATE => "WDFFUNCENUM.WdfIoQueueCreateTableIndex",
            IO_QUEUE_PURGE_SYNCHRONOUSLY => "WDFFUNCENUM.WdfIoQueuePurgeSynchronouslyTableIndex",
            REQUEST_COMPLETE => "WDFFUNCENUM.WdfRequestCompleteTableIndex",
            REQUEST_COMPLETE_WITH_INFORMATION =>
                "WDFFUNCENUM.WdfRequestCompleteWithInformationTableIndex",
            REQUEST_RETRIEVE_INPUT_BUFFER => "WDFFUNCENUM.WdfRequestRetrieveInputBufferTableIndex",
            REQUEST_RETRIEVE_OUTPUT_BUFFER =>
                "WDFFUNCENUM.WdfRequestRetrieveOutputBufferTableIndex",
        ]);
    }
    // The simulated I/O manager and framework's request path, with their own copies.
    {
        use sim::kmdf_io::facts as io;
        named!(c, "crates/sim/src/kmdf_io.rs", io, "const", [
            DISPATCH_SEQUENTIAL => "WdfIoQueueDispatchSequential",
            DISPATCH_PARALLEL => "WdfIoQueueDispatchParallel",
            EXECUTION_LEVEL_PASSIVE => "WdfExecutionLevelPassive",
            METHOD_BUFFERED => "METHOD_BUFFERED",
            FILE_READ_ACCESS => "FILE_READ_ACCESS",
            FILE_WRITE_ACCESS => "FILE_WRITE_ACCESS",
            ACCESS_DENIED => "STATUS_ACCESS_DENIED",
            INVALID_DEVICE_REQUEST => "STATUS_INVALID_DEVICE_REQUEST",
            INVALID_DEVICE_STATE => "STATUS_INVALID_DEVICE_STATE",
            BUFFER_TOO_SMALL => "STATUS_BUFFER_TOO_SMALL",
            OBJECT_NAME_COLLISION => "STATUS_OBJECT_NAME_COLLISION",
            OBJECT_NAME_NOT_FOUND => "STATUS_OBJECT_NAME_NOT_FOUND",
            CANCELLED => "STATUS_CANCELLED",
            NO_SUCH_DEVICE => "STATUS_NO_SUCH_DEVICE",
            PENDING => "STATUS_PENDING",
        ]);
        c.eq("crates/sim/src/kmdf_io.rs:IO_QUEUE_CONFIG_SIZE", "size", "WDF_IO_QUEUE_CONFIG", io::IO_QUEUE_CONFIG_SIZE.to_u128());
        c.eq("crates/sim/src/kmdf_io.rs:OBJECT_ATTRIBUTES_SIZE", "size", "WDF_OBJECT_ATTRIBUTES", io::OBJECT_ATTRIBUTES_SIZE.to_u128());
    }
    c
}

#[test]
fn simulator_tables_match_the_table() {
    check_simulator().finish("simulator tables");
}

// ------------------------------------------------------------------------------------------------
// (e) The table against windows-sys, Microsoft's generated metadata: every row that cites
// windows-sys (as its source or as agreeing) is measured here.

use windows_sys::Wdk::Foundation as wdk;
use windows_sys::Wdk::System::Registry as wdk_registry;
use windows_sys::Wdk::System::SystemServices as wdk_services;
use windows_sys::Win32::Foundation as foundation;
use windows_sys::Win32::NetworkManagement::IpHelper as iphelper;
use windows_sys::Win32::NetworkManagement::WindowsFilteringPlatform as wfp;
use windows_sys::Win32::Networking::WinSock as winsock;
use windows_sys::Win32::System::Ioctl as ioctl;
use windows_sys::Win32::System::Kernel as kernel;
use windows_sys::Win32::System::Registry as registry;
use windows_sys::Win32::System::Rpc as rpc;
use windows_sys::Win32::System::SystemServices as system_services;
use windows_sys::core as ws_core;

/// Offsets, sizes and alignments as windows-sys declares them, one structure at a time:
/// `module::NAME { field paths }: measures;` gives an `offset | NAME.field` row per field and a
/// `size` / `align | NAME` row per measure. A row's field drops windows-sys' `Anonymous` steps
/// (the header's unions are unnamed), or is the name after `as` where windows-sys renames it.
macro_rules! windows_sys_layouts {
    ($(
        $m:ident::$t:ident $({ $($($f:ident).+ $(as $header:ident)?),* })?: $($measure:ident)*;
    )*) => {
        vec![$(
            $($((
                "offset",
                format!(
                    "{}.{}",
                    stringify!($t),
                    member(&[$(stringify!($f)),+], &[$(stringify!($header))?])
                ),
                offset_of!($m::$t, $($f).+) as u128,
            ),)*)?
            $((stringify!($measure), stringify!($t).to_string(), measure!($measure, $m::$t)),)*
        )*]
    };
}

macro_rules! measure {
    (size, $t:ty) => {
        size_of::<$t>() as u128
    };
    (align, $t:ty) => {
        align_of::<$t>() as u128
    };
}

/// The header's name of a windows-sys field path: `header` if given, else the path without
/// `Anonymous` steps or `r#`.
fn member(path: &[&str], header: &[&str]) -> String {
    match header {
        [name] => (*name).to_string(),
        _ => path
            .iter()
            .filter(|step| **step != "Anonymous")
            .map(|step| strip_raw(step))
            .collect::<Vec<_>>()
            .join("."),
    }
}

/// (kind, item, windows-sys's number).
#[rustfmt::skip]
fn windows_sys_layouts() -> Vec<(&'static str, String, u128)> {
    windows_sys_layouts! {
        kernel::SLIST_HEADER: size;
        ws_core::GUID { data1 as Data1, data2 as Data2, data3 as Data3, data4 as Data4
            }: size align;
        wfp::FWP_VALUE0 { r#type, Anonymous.uint8, Anonymous.uint16, Anonymous.uint32,
            Anonymous.uint64, Anonymous.int8, Anonymous.int16, Anonymous.int32, Anonymous.int64,
            Anonymous.float32, Anonymous.double64, Anonymous.byteArray16, Anonymous.byteBlob,
            Anonymous.sid, Anonymous.sd, Anonymous.tokenInformation,
            Anonymous.tokenAccessInformation, Anonymous.unicodeString, Anonymous.byteArray6
            }: size align;
        wfp::FWP_BYTE_BLOB { size, data }: size align;
        wfp::FWP_BYTE_ARRAY16 { byteArray16 }: size align;
        wfp::FWP_V4_ADDR_AND_MASK { addr, mask }: size align;
        wfp::FWP_V6_ADDR_AND_MASK { addr, prefixLength }: size align;
        wfp::FWP_RANGE0 { valueLow, valueHigh }: size align;
        wfp::FWP_CONDITION_VALUE0 { r#type, Anonymous.uint8, Anonymous.uint16, Anonymous.uint32,
            Anonymous.uint64, Anonymous.int8, Anonymous.int16, Anonymous.int32, Anonymous.int64,
            Anonymous.float32, Anonymous.double64, Anonymous.byteArray16, Anonymous.byteBlob,
            Anonymous.sid, Anonymous.sd, Anonymous.tokenInformation,
            Anonymous.tokenAccessInformation, Anonymous.unicodeString, Anonymous.byteArray6,
            Anonymous.v4AddrMask, Anonymous.v6AddrMask, Anonymous.rangeValue }: size align;
        wfp::FWPM_DISPLAY_DATA0 { name, description }: size align;
        winsock::SCOPE_ID: size align;
        iphelper::IP_ADDRESS_PREFIX: size align;
        wfp::FWPM_SESSION0 { sessionKey, displayData, flags, txnWaitTimeoutInMSec, processId, sid,
            username, kernelMode }: size align;
        wfp::FWPM_PROVIDER0 { providerKey, displayData, flags, providerData, serviceName
            }: size align;
        wfp::FWPM_SUBLAYER0 { subLayerKey, displayData, flags, providerKey, providerData, weight
            }: size align;
        wfp::FWPM_CALLOUT0 { calloutKey, displayData, flags, providerKey, providerData,
            applicableLayer, calloutId }: size align;
        wfp::FWPM_ACTION0 { r#type, Anonymous.filterType, Anonymous.calloutKey }: size align;
        wfp::FWPM_FILTER_CONDITION0 { fieldKey, matchType, conditionValue }: size align;
        wfp::FWPM_FILTER0 { filterKey, displayData, displayData.name, displayData.description,
            flags, providerKey, providerData, layerKey, subLayerKey, weight, weight.r#type,
            weight.Anonymous.uint8, numFilterConditions, filterCondition, action, action.r#type,
            action.Anonymous.calloutKey, Anonymous.rawContext, Anonymous.providerContextKey,
            reserved, filterId, effectiveWeight }: size align;
        foundation::UNICODE_STRING { Length, MaximumLength, Buffer }: size align;
        wdk::OBJECT_ATTRIBUTES { Length, RootDirectory, ObjectName, Attributes, SecurityDescriptor,
            SecurityQualityOfService }: size align;
        wdk_services::KEY_VALUE_PARTIAL_INFORMATION { TitleIndex, Type, DataLength, Data
            }: size align;
        wdk::DRIVER_OBJECT { Type, Size, DeviceObject, Flags, DriverStart, DriverSize,
            DriverSection, DriverExtension, DriverName, HardwareDatabase, FastIoDispatch,
            DriverInit, DriverStartIo, DriverUnload, MajorFunction }: size align;
        wdk::KDPC: size align;
        wdk_services::EX_RUNDOWN_REF { Anonymous.Count, Anonymous.Ptr }: size align;
        kernel::PROCESSOR_NUMBER { Group, Number, Reserved }: size align;
        foundation::NTSTATUS: size;
        foundation::HANDLE: size;
        winsock::ADDRESS_FAMILY: size;
        kernel::COMPARTMENT_ID: size;
        wfp::FWP_DATA_TYPE: size;
        wfp::FWP_ACTION_TYPE: size;
        wfp::FWP_MATCH_TYPE: size;
    }
}

#[rustfmt::skip]
fn windows_sys_constants() -> Vec<(&'static str, &'static str, u128)> {
    vec![
        ("const", "STATUS_SUCCESS", foundation::STATUS_SUCCESS.to_u128()),
        ("const", "STATUS_UNSUCCESSFUL", foundation::STATUS_UNSUCCESSFUL.to_u128()),
        ("const", "STATUS_INVALID_HANDLE", foundation::STATUS_INVALID_HANDLE.to_u128()),
        ("const", "STATUS_INVALID_PARAMETER", foundation::STATUS_INVALID_PARAMETER.to_u128()),
        ("const", "STATUS_NO_MEMORY", foundation::STATUS_NO_MEMORY.to_u128()),
        ("const", "STATUS_INSUFFICIENT_RESOURCES", foundation::STATUS_INSUFFICIENT_RESOURCES.to_u128()),
        ("const", "STATUS_INVALID_DEVICE_STATE", foundation::STATUS_INVALID_DEVICE_STATE.to_u128()),
        ("const", "STATUS_DEVICE_BUSY", foundation::STATUS_DEVICE_BUSY.to_u128()),
        ("const", "STATUS_BUFFER_OVERFLOW", foundation::STATUS_BUFFER_OVERFLOW.to_u128()),
        ("const", "STATUS_OBJECT_NAME_NOT_FOUND", foundation::STATUS_OBJECT_NAME_NOT_FOUND.to_u128()),
        ("const", "STATUS_ACCESS_DENIED", foundation::STATUS_ACCESS_DENIED.to_u128()),
        ("const", "STATUS_INVALID_DEVICE_REQUEST", foundation::STATUS_INVALID_DEVICE_REQUEST.to_u128()),
        ("const", "STATUS_OBJECT_NAME_COLLISION", foundation::STATUS_OBJECT_NAME_COLLISION.to_u128()),
        ("const", "STATUS_CANCELLED", foundation::STATUS_CANCELLED.to_u128()),
        ("const", "STATUS_NO_SUCH_DEVICE", foundation::STATUS_NO_SUCH_DEVICE.to_u128()),
        ("const", "ERROR_INVALID_FUNCTION", foundation::ERROR_INVALID_FUNCTION.to_u128()),
        ("const", "ERROR_FILE_NOT_FOUND", foundation::ERROR_FILE_NOT_FOUND.to_u128()),
        ("const", "ERROR_PATH_NOT_FOUND", foundation::ERROR_PATH_NOT_FOUND.to_u128()),
        ("const", "ERROR_ACCESS_DENIED", foundation::ERROR_ACCESS_DENIED.to_u128()),
        ("const", "ERROR_BAD_COMMAND", foundation::ERROR_BAD_COMMAND.to_u128()),
        ("const", "ERROR_INVALID_PARAMETER", foundation::ERROR_INVALID_PARAMETER.to_u128()),
        ("const", "ERROR_INSUFFICIENT_BUFFER", foundation::ERROR_INSUFFICIENT_BUFFER.to_u128()),
        ("const", "ERROR_BUSY", foundation::ERROR_BUSY.to_u128()),
        ("const", "ERROR_RETRY", foundation::ERROR_RETRY.to_u128()),
        ("const", "STATUS_RETRY", foundation::STATUS_RETRY.to_u128()),
        ("const", "STATUS_PENDING", foundation::STATUS_PENDING.to_u128()),
        ("const", "METHOD_BUFFERED", ioctl::METHOD_BUFFERED.to_u128()),
        ("const", "FILE_READ_ACCESS", ioctl::FILE_READ_ACCESS.to_u128()),
        ("const", "FILE_WRITE_ACCESS", ioctl::FILE_WRITE_ACCESS.to_u128()),
        ("const", "STATUS_NOT_FOUND", foundation::STATUS_NOT_FOUND.to_u128()),
        ("const", "STATUS_FWP_CALLOUT_NOT_FOUND", foundation::STATUS_FWP_CALLOUT_NOT_FOUND.to_u128()),
        ("const", "STATUS_FWP_FILTER_NOT_FOUND", foundation::STATUS_FWP_FILTER_NOT_FOUND.to_u128()),
        ("const", "STATUS_FWP_PROVIDER_NOT_FOUND", foundation::STATUS_FWP_PROVIDER_NOT_FOUND.to_u128()),
        ("const", "STATUS_FWP_SUBLAYER_NOT_FOUND", foundation::STATUS_FWP_SUBLAYER_NOT_FOUND.to_u128()),
        ("const", "STATUS_FWP_ALREADY_EXISTS", foundation::STATUS_FWP_ALREADY_EXISTS.to_u128()),
        ("const", "STATUS_FWP_IN_USE", foundation::STATUS_FWP_IN_USE.to_u128()),
        ("const", "STATUS_FWP_NO_TXN_IN_PROGRESS", foundation::STATUS_FWP_NO_TXN_IN_PROGRESS.to_u128()),
        ("const", "STATUS_FWP_TXN_IN_PROGRESS", foundation::STATUS_FWP_TXN_IN_PROGRESS.to_u128()),
        ("const", "STATUS_FWP_SESSION_ABORTED", foundation::STATUS_FWP_SESSION_ABORTED.to_u128()),
        ("const", "STATUS_FWP_NULL_POINTER", foundation::STATUS_FWP_NULL_POINTER.to_u128()),
        ("const", "STATUS_FWP_TCPIP_NOT_READY", foundation::STATUS_FWP_TCPIP_NOT_READY.to_u128()),
        ("const", "STATUS_FWP_INJECT_HANDLE_CLOSING", foundation::STATUS_FWP_INJECT_HANDLE_CLOSING.to_u128()),
        ("const", "STATUS_FWP_INJECT_HANDLE_STALE", foundation::STATUS_FWP_INJECT_HANDLE_STALE.to_u128()),
        ("const", "STATUS_FWP_CANNOT_PEND", foundation::STATUS_FWP_CANNOT_PEND.to_u128()),
        ("const", "STATUS_FWP_CONNECTIONS_DISABLED", foundation::STATUS_FWP_CONNECTIONS_DISABLED.to_u128()),
        ("const", "FWP_EMPTY", wfp::FWP_EMPTY.to_u128()),
        ("const", "FWP_UINT8", wfp::FWP_UINT8.to_u128()),
        ("const", "FWP_UINT16", wfp::FWP_UINT16.to_u128()),
        ("const", "FWP_UINT32", wfp::FWP_UINT32.to_u128()),
        ("const", "FWP_UINT64", wfp::FWP_UINT64.to_u128()),
        ("const", "FWP_INT8", wfp::FWP_INT8.to_u128()),
        ("const", "FWP_INT16", wfp::FWP_INT16.to_u128()),
        ("const", "FWP_INT32", wfp::FWP_INT32.to_u128()),
        ("const", "FWP_INT64", wfp::FWP_INT64.to_u128()),
        ("const", "FWP_FLOAT", wfp::FWP_FLOAT.to_u128()),
        ("const", "FWP_DOUBLE", wfp::FWP_DOUBLE.to_u128()),
        ("const", "FWP_BYTE_ARRAY16_TYPE", wfp::FWP_BYTE_ARRAY16_TYPE.to_u128()),
        ("const", "FWP_BYTE_BLOB_TYPE", wfp::FWP_BYTE_BLOB_TYPE.to_u128()),
        ("const", "FWP_SID", wfp::FWP_SID.to_u128()),
        ("const", "FWP_SECURITY_DESCRIPTOR_TYPE", wfp::FWP_SECURITY_DESCRIPTOR_TYPE.to_u128()),
        ("const", "FWP_TOKEN_INFORMATION_TYPE", wfp::FWP_TOKEN_INFORMATION_TYPE.to_u128()),
        ("const", "FWP_TOKEN_ACCESS_INFORMATION_TYPE", wfp::FWP_TOKEN_ACCESS_INFORMATION_TYPE.to_u128()),
        ("const", "FWP_UNICODE_STRING_TYPE", wfp::FWP_UNICODE_STRING_TYPE.to_u128()),
        ("const", "FWP_BYTE_ARRAY6_TYPE", wfp::FWP_BYTE_ARRAY6_TYPE.to_u128()),
        ("const", "FWP_SINGLE_DATA_TYPE_MAX", wfp::FWP_SINGLE_DATA_TYPE_MAX.to_u128()),
        ("const", "FWP_V4_ADDR_MASK", wfp::FWP_V4_ADDR_MASK.to_u128()),
        ("const", "FWP_V6_ADDR_MASK", wfp::FWP_V6_ADDR_MASK.to_u128()),
        ("const", "FWP_RANGE_TYPE", wfp::FWP_RANGE_TYPE.to_u128()),
        ("const", "FWP_DATA_TYPE_MAX", wfp::FWP_DATA_TYPE_MAX.to_u128()),
        ("const", "FWP_MATCH_EQUAL", wfp::FWP_MATCH_EQUAL.to_u128()),
        ("const", "FWP_MATCH_GREATER", wfp::FWP_MATCH_GREATER.to_u128()),
        ("const", "FWP_MATCH_LESS", wfp::FWP_MATCH_LESS.to_u128()),
        ("const", "FWP_MATCH_GREATER_OR_EQUAL", wfp::FWP_MATCH_GREATER_OR_EQUAL.to_u128()),
        ("const", "FWP_MATCH_LESS_OR_EQUAL", wfp::FWP_MATCH_LESS_OR_EQUAL.to_u128()),
        ("const", "FWP_MATCH_RANGE", wfp::FWP_MATCH_RANGE.to_u128()),
        ("const", "FWP_MATCH_FLAGS_ALL_SET", wfp::FWP_MATCH_FLAGS_ALL_SET.to_u128()),
        ("const", "FWP_MATCH_FLAGS_ANY_SET", wfp::FWP_MATCH_FLAGS_ANY_SET.to_u128()),
        ("const", "FWP_MATCH_FLAGS_NONE_SET", wfp::FWP_MATCH_FLAGS_NONE_SET.to_u128()),
        ("const", "FWP_MATCH_EQUAL_CASE_INSENSITIVE", wfp::FWP_MATCH_EQUAL_CASE_INSENSITIVE.to_u128()),
        ("const", "FWP_MATCH_NOT_EQUAL", wfp::FWP_MATCH_NOT_EQUAL.to_u128()),
        ("const", "FWP_MATCH_PREFIX", wfp::FWP_MATCH_PREFIX.to_u128()),
        ("const", "FWP_MATCH_NOT_PREFIX", wfp::FWP_MATCH_NOT_PREFIX.to_u128()),
        ("const", "FWP_MATCH_TYPE_MAX", wfp::FWP_MATCH_TYPE_MAX.to_u128()),
        ("const", "FWP_DIRECTION_OUTBOUND", wfp::FWP_DIRECTION_OUTBOUND.to_u128()),
        ("const", "FWP_DIRECTION_INBOUND", wfp::FWP_DIRECTION_INBOUND.to_u128()),
        ("const", "FWP_DIRECTION_MAX", wfp::FWP_DIRECTION_MAX.to_u128()),
        ("const", "FWP_ACTION_FLAG_TERMINATING", wfp::FWP_ACTION_FLAG_TERMINATING.to_u128()),
        ("const", "FWP_ACTION_FLAG_NON_TERMINATING", wfp::FWP_ACTION_FLAG_NON_TERMINATING.to_u128()),
        ("const", "FWP_ACTION_FLAG_CALLOUT", wfp::FWP_ACTION_FLAG_CALLOUT.to_u128()),
        ("const", "FWP_ACTION_BLOCK", wfp::FWP_ACTION_BLOCK.to_u128()),
        ("const", "FWP_ACTION_PERMIT", wfp::FWP_ACTION_PERMIT.to_u128()),
        ("const", "FWP_ACTION_CALLOUT_TERMINATING", wfp::FWP_ACTION_CALLOUT_TERMINATING.to_u128()),
        ("const", "FWP_ACTION_CALLOUT_INSPECTION", wfp::FWP_ACTION_CALLOUT_INSPECTION.to_u128()),
        ("const", "FWP_ACTION_CALLOUT_UNKNOWN", wfp::FWP_ACTION_CALLOUT_UNKNOWN.to_u128()),
        ("const", "FWP_ACTION_CONTINUE", wfp::FWP_ACTION_CONTINUE.to_u128()),
        ("const", "FWP_ACTION_NONE", wfp::FWP_ACTION_NONE.to_u128()),
        ("const", "FWP_ACTION_NONE_NO_MATCH", wfp::FWP_ACTION_NONE_NO_MATCH.to_u128()),
        ("const", "FWPS_RIGHT_ACTION_WRITE", wfp::FWPS_RIGHT_ACTION_WRITE.to_u128()),
        ("const", "FWPS_CLASSIFY_OUT_FLAG_ABSORB", wfp::FWPS_CLASSIFY_OUT_FLAG_ABSORB.to_u128()),
        ("const", "FWPS_CLASSIFY_OUT_FLAG_BUFFER_LIMIT_REACHED", wfp::FWPS_CLASSIFY_OUT_FLAG_BUFFER_LIMIT_REACHED.to_u128()),
        ("const", "FWPS_CLASSIFY_OUT_FLAG_NO_MORE_DATA", wfp::FWPS_CLASSIFY_OUT_FLAG_NO_MORE_DATA.to_u128()),
        ("const", "FWPS_CLASSIFY_OUT_FLAG_ALE_FAST_CACHE_CHECK", wfp::FWPS_CLASSIFY_OUT_FLAG_ALE_FAST_CACHE_CHECK.to_u128()),
        ("const", "FWPS_CLASSIFY_OUT_FLAG_ALE_FAST_CACHE_POSSIBLE", wfp::FWPS_CLASSIFY_OUT_FLAG_ALE_FAST_CACHE_POSSIBLE.to_u128()),
        ("const", "FWPS_METADATA_FIELD_DISCARD_REASON", wfp::FWPS_METADATA_FIELD_DISCARD_REASON.to_u128()),
        ("const", "FWPS_METADATA_FIELD_FLOW_HANDLE", wfp::FWPS_METADATA_FIELD_FLOW_HANDLE.to_u128()),
        ("const", "FWPS_METADATA_FIELD_IP_HEADER_SIZE", wfp::FWPS_METADATA_FIELD_IP_HEADER_SIZE.to_u128()),
        ("const", "FWPS_METADATA_FIELD_PROCESS_PATH", wfp::FWPS_METADATA_FIELD_PROCESS_PATH.to_u128()),
        ("const", "FWPS_METADATA_FIELD_TOKEN", wfp::FWPS_METADATA_FIELD_TOKEN.to_u128()),
        ("const", "FWPS_METADATA_FIELD_PROCESS_ID", wfp::FWPS_METADATA_FIELD_PROCESS_ID.to_u128()),
        ("const", "FWPS_METADATA_FIELD_SYSTEM_FLAGS", wfp::FWPS_METADATA_FIELD_SYSTEM_FLAGS.to_u128()),
        ("const", "FWPS_METADATA_FIELD_RESERVED", wfp::FWPS_METADATA_FIELD_RESERVED.to_u128()),
        ("const", "FWPS_METADATA_FIELD_SOURCE_INTERFACE_INDEX", wfp::FWPS_METADATA_FIELD_SOURCE_INTERFACE_INDEX.to_u128()),
        ("const", "FWPS_METADATA_FIELD_DESTINATION_INTERFACE_INDEX", wfp::FWPS_METADATA_FIELD_DESTINATION_INTERFACE_INDEX.to_u128()),
        ("const", "FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE", wfp::FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE.to_u128()),
        ("const", "FWPS_METADATA_FIELD_COMPARTMENT_ID", wfp::FWPS_METADATA_FIELD_COMPARTMENT_ID.to_u128()),
        ("const", "FWPS_METADATA_FIELD_FRAGMENT_DATA", wfp::FWPS_METADATA_FIELD_FRAGMENT_DATA.to_u128()),
        ("const", "FWPS_METADATA_FIELD_PATH_MTU", wfp::FWPS_METADATA_FIELD_PATH_MTU.to_u128()),
        ("const", "FWPS_METADATA_FIELD_COMPLETION_HANDLE", wfp::FWPS_METADATA_FIELD_COMPLETION_HANDLE.to_u128()),
        ("const", "FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE", wfp::FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE.to_u128()),
        ("const", "FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA", wfp::FWPS_METADATA_FIELD_TRANSPORT_CONTROL_DATA.to_u128()),
        ("const", "FWPS_METADATA_FIELD_REMOTE_SCOPE_ID", wfp::FWPS_METADATA_FIELD_REMOTE_SCOPE_ID.to_u128()),
        ("const", "FWPS_METADATA_FIELD_PACKET_DIRECTION", wfp::FWPS_METADATA_FIELD_PACKET_DIRECTION.to_u128()),
        ("const", "FWPS_METADATA_FIELD_PACKET_SYSTEM_CRITICAL", wfp::FWPS_METADATA_FIELD_PACKET_SYSTEM_CRITICAL.to_u128()),
        ("const", "FWPS_METADATA_FIELD_FORWARD_LAYER_OUTBOUND_PASS_THRU", wfp::FWPS_METADATA_FIELD_FORWARD_LAYER_OUTBOUND_PASS_THRU.to_u128()),
        ("const", "FWPS_METADATA_FIELD_FORWARD_LAYER_INBOUND_PASS_THRU", wfp::FWPS_METADATA_FIELD_FORWARD_LAYER_INBOUND_PASS_THRU.to_u128()),
        ("const", "FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED", wfp::FWPS_METADATA_FIELD_ALE_CLASSIFY_REQUIRED.to_u128()),
        ("const", "FWP_CONDITION_FLAG_IS_LOOPBACK", wfp::FWP_CONDITION_FLAG_IS_LOOPBACK.to_u128()),
        ("const", "FWP_CONDITION_FLAG_IS_FRAGMENT", wfp::FWP_CONDITION_FLAG_IS_FRAGMENT.to_u128()),
        ("const", "FWP_CONDITION_FLAG_IS_FRAGMENT_GROUP", wfp::FWP_CONDITION_FLAG_IS_FRAGMENT_GROUP.to_u128()),
        ("const", "FWP_CONDITION_FLAG_IS_REASSEMBLED", wfp::FWP_CONDITION_FLAG_IS_REASSEMBLED.to_u128()),
        ("const", "FWPS_METADATA_FIELD_TRANSPORT_HEADER_INCLUDE_HEADER", wfp::FWPS_METADATA_FIELD_TRANSPORT_HEADER_INCLUDE_HEADER.to_u128()),
        ("const", "FWPS_METADATA_FIELD_DESTINATION_PREFIX", wfp::FWPS_METADATA_FIELD_DESTINATION_PREFIX.to_u128()),
        ("const", "FWPS_METADATA_FIELD_ETHER_FRAME_LENGTH", wfp::FWPS_METADATA_FIELD_ETHER_FRAME_LENGTH.to_u128()),
        ("const", "FWPS_METADATA_FIELD_PARENT_ENDPOINT_HANDLE", wfp::FWPS_METADATA_FIELD_PARENT_ENDPOINT_HANDLE.to_u128()),
        ("const", "FWPS_METADATA_FIELD_ICMP_ID_AND_SEQUENCE", wfp::FWPS_METADATA_FIELD_ICMP_ID_AND_SEQUENCE.to_u128()),
        ("const", "FWPS_METADATA_FIELD_LOCAL_REDIRECT_TARGET_PID", wfp::FWPS_METADATA_FIELD_LOCAL_REDIRECT_TARGET_PID.to_u128()),
        ("const", "FWPS_METADATA_FIELD_ORIGINAL_DESTINATION", wfp::FWPS_METADATA_FIELD_ORIGINAL_DESTINATION.to_u128()),
        ("const", "FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE", wfp::FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE.to_u128()),
        ("const", "FWPS_METADATA_FIELD_SUB_PROCESS_TAG", wfp::FWPS_METADATA_FIELD_SUB_PROCESS_TAG.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_CONDITIONAL_ON_FLOW", wfp::FWP_CALLOUT_FLAG_CONDITIONAL_ON_FLOW.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_ALLOW_OFFLOAD", wfp::FWP_CALLOUT_FLAG_ALLOW_OFFLOAD.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_ENABLE_COMMIT_ADD_NOTIFY", wfp::FWP_CALLOUT_FLAG_ENABLE_COMMIT_ADD_NOTIFY.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_ALLOW_MID_STREAM_INSPECTION", wfp::FWP_CALLOUT_FLAG_ALLOW_MID_STREAM_INSPECTION.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_ALLOW_RECLASSIFY", wfp::FWP_CALLOUT_FLAG_ALLOW_RECLASSIFY.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_RESERVED1", wfp::FWP_CALLOUT_FLAG_RESERVED1.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_ALLOW_RSC", wfp::FWP_CALLOUT_FLAG_ALLOW_RSC.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_ALLOW_L2_BATCH_CLASSIFY", wfp::FWP_CALLOUT_FLAG_ALLOW_L2_BATCH_CLASSIFY.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_ALLOW_USO", wfp::FWP_CALLOUT_FLAG_ALLOW_USO.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_ALLOW_URO", wfp::FWP_CALLOUT_FLAG_ALLOW_URO.to_u128()),
        ("const", "FWP_CALLOUT_FLAG_RESERVED2", wfp::FWP_CALLOUT_FLAG_RESERVED2.to_u128()),
        ("const", "FWPM_SESSION_FLAG_DYNAMIC", wfp::FWPM_SESSION_FLAG_DYNAMIC.to_u128()),
        ("const", "FWPM_SESSION_FLAG_RESERVED", wfp::FWPM_SESSION_FLAG_RESERVED.to_u128()),
        ("const", "FWPM_FILTER_FLAG_NONE", wfp::FWPM_FILTER_FLAG_NONE.to_u128()),
        ("const", "FWPM_FILTER_FLAG_PERSISTENT", wfp::FWPM_FILTER_FLAG_PERSISTENT.to_u128()),
        ("const", "FWPM_FILTER_FLAG_BOOTTIME", wfp::FWPM_FILTER_FLAG_BOOTTIME.to_u128()),
        ("const", "FWPM_FILTER_FLAG_HAS_PROVIDER_CONTEXT", wfp::FWPM_FILTER_FLAG_HAS_PROVIDER_CONTEXT.to_u128()),
        ("const", "FWPM_FILTER_FLAG_CLEAR_ACTION_RIGHT", wfp::FWPM_FILTER_FLAG_CLEAR_ACTION_RIGHT.to_u128()),
        ("const", "FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED", wfp::FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED.to_u128()),
        ("const", "FWPM_FILTER_FLAG_DISABLED", wfp::FWPM_FILTER_FLAG_DISABLED.to_u128()),
        ("const", "FWPM_FILTER_FLAG_INDEXED", wfp::FWPM_FILTER_FLAG_INDEXED.to_u128()),
        ("const", "FWPM_FILTER_FLAG_HAS_SECURITY_REALM_PROVIDER_CONTEXT", wfp::FWPM_FILTER_FLAG_HAS_SECURITY_REALM_PROVIDER_CONTEXT.to_u128()),
        ("const", "FWPM_FILTER_FLAG_SYSTEMOS_ONLY", wfp::FWPM_FILTER_FLAG_SYSTEMOS_ONLY.to_u128()),
        ("const", "FWPM_FILTER_FLAG_GAMEOS_ONLY", wfp::FWPM_FILTER_FLAG_GAMEOS_ONLY.to_u128()),
        ("const", "FWPM_FILTER_FLAG_SILENT_MODE", wfp::FWPM_FILTER_FLAG_SILENT_MODE.to_u128()),
        ("const", "FWPM_FILTER_FLAG_IPSEC_NO_ACQUIRE_INITIATE", wfp::FWPM_FILTER_FLAG_IPSEC_NO_ACQUIRE_INITIATE.to_u128()),
        ("const", "FWPM_FILTER_FLAG_RESERVED0", wfp::FWPM_FILTER_FLAG_RESERVED0.to_u128()),
        ("const", "FWPM_FILTER_FLAG_RESERVED1", wfp::FWPM_FILTER_FLAG_RESERVED1.to_u128()),
        ("const", "FWPM_PROVIDER_FLAG_PERSISTENT", wfp::FWPM_PROVIDER_FLAG_PERSISTENT.to_u128()),
        ("const", "FWPM_PROVIDER_FLAG_DISABLED", wfp::FWPM_PROVIDER_FLAG_DISABLED.to_u128()),
        ("const", "FWPM_SUBLAYER_FLAG_PERSISTENT", wfp::FWPM_SUBLAYER_FLAG_PERSISTENT.to_u128()),
        ("const", "FWPS_FILTER_FLAG_CLEAR_ACTION_RIGHT", wfp::FWPS_FILTER_FLAG_CLEAR_ACTION_RIGHT.to_u128()),
        ("const", "FWPS_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED", wfp::FWPS_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED.to_u128()),
        ("const", "FWPS_FILTER_FLAG_OR_CONDITIONS", wfp::FWPS_FILTER_FLAG_OR_CONDITIONS.to_u128()),
        ("const", "FWPS_FILTER_FLAG_HAS_SECURITY_REALM_PROVIDER_CONTEXT", wfp::FWPS_FILTER_FLAG_HAS_SECURITY_REALM_PROVIDER_CONTEXT.to_u128()),
        ("const", "FWPS_FILTER_FLAG_SILENT_MODE", wfp::FWPS_FILTER_FLAG_SILENT_MODE.to_u128()),
        ("const", "FWPS_FILTER_FLAG_IPSEC_NO_ACQUIRE_INITIATE", wfp::FWPS_FILTER_FLAG_IPSEC_NO_ACQUIRE_INITIATE.to_u128()),
        ("const", "FWPS_FILTER_FLAG_RESERVED0", wfp::FWPS_FILTER_FLAG_RESERVED0.to_u128()),
        ("const", "FWPS_FILTER_FLAG_RESERVED1", wfp::FWPS_FILTER_FLAG_RESERVED1.to_u128()),
        ("const", "FWPM_WEIGHT_RANGE_IPSEC", wfp::FWPM_WEIGHT_RANGE_IPSEC.to_u128()),
        ("const", "FWPM_WEIGHT_RANGE_IKE_EXEMPTIONS", wfp::FWPM_WEIGHT_RANGE_IKE_EXEMPTIONS.to_u128()),
        ("const", "IPPROTO_ICMP", winsock::IPPROTO_ICMP.to_u128()),
        ("const", "IPPROTO_TCP", winsock::IPPROTO_TCP.to_u128()),
        ("const", "IPPROTO_UDP", winsock::IPPROTO_UDP.to_u128()),
        ("const", "IPPROTO_ICMPV6", winsock::IPPROTO_ICMPV6.to_u128()),
        ("const", "AF_UNSPEC", winsock::AF_UNSPEC.to_u128()),
        ("const", "AF_INET", winsock::AF_INET.to_u128()),
        ("const", "AF_INET6", winsock::AF_INET6.to_u128()),
        ("const", "UNSPECIFIED_COMPARTMENT_ID", kernel::UNSPECIFIED_COMPARTMENT_ID.to_u128()),
        ("const", "DEFAULT_COMPARTMENT_ID", kernel::DEFAULT_COMPARTMENT_ID.to_u128()),
        ("const", "FILE_DEVICE_UNKNOWN", ioctl::FILE_DEVICE_UNKNOWN.to_u128()),
        ("const", "FILE_DEVICE_NETWORK", ioctl::FILE_DEVICE_NETWORK.to_u128()),
        ("const", "FILE_DEVICE_SECURE_OPEN", wdk_services::FILE_DEVICE_SECURE_OPEN.to_u128()),
        ("const", "FILE_AUTOGENERATED_DEVICE_NAME", wdk_services::FILE_AUTOGENERATED_DEVICE_NAME.to_u128()),
        ("const", "IRP_MJ_MAXIMUM_FUNCTION", wdk_services::IRP_MJ_MAXIMUM_FUNCTION.to_u128()),
        ("const", "KEY_READ", registry::KEY_READ.to_u128()),
        ("const", "KEY_SET_VALUE", registry::KEY_SET_VALUE.to_u128()),
        ("const", "KEY_QUERY_VALUE", registry::KEY_QUERY_VALUE.to_u128()),
        ("const", "OBJ_CASE_INSENSITIVE", foundation::OBJ_CASE_INSENSITIVE.to_u128()),
        ("const", "PO_CB_SYSTEM_STATE_LOCK", windows_sys::Wdk::Storage::FileSystem::PO_CB_SYSTEM_STATE_LOCK.to_u128()),
        ("const", "PO_CB_AC_STATUS", windows_sys::Wdk::Storage::FileSystem::PO_CB_AC_STATUS.to_u128()),
        ("const", "NonPagedPoolNx", wdk::NonPagedPoolNx.to_u128()),
        ("const", "NonPagedPool", wdk::NonPagedPool.to_u128()),
        ("const", "PagedPool", wdk::PagedPool.to_u128()),
        ("size", "POOL_TYPE", size_of::<wdk::POOL_TYPE>() as u128),
        ("const", "ALL_PROCESSOR_GROUPS", windows_sys::Win32::System::Threading::ALL_PROCESSOR_GROUPS.to_u128()),
        ("const", "OBJ_KERNEL_HANDLE", foundation::OBJ_KERNEL_HANDLE.to_u128()),
        ("const", "KeyValuePartialInformation", wdk_registry::KeyValuePartialInformation.to_u128()),
        ("const", "REG_BINARY", registry::REG_BINARY.to_u128()),
        ("const", "REG_DWORD", registry::REG_DWORD.to_u128()),
        ("const", "RPC_C_AUTHN_WINNT", rpc::RPC_C_AUTHN_WINNT.to_u128()),
        ("const", "RPC_C_AUTHN_DEFAULT", rpc::RPC_C_AUTHN_DEFAULT.to_u128()),
        ("const", "KernelMode", wdk_services::KernelMode.to_u128()),
        ("const", "PASSIVE_LEVEL", wdk_services::PASSIVE_LEVEL.to_u128()),
        ("const", "APC_LEVEL", wdk_services::APC_LEVEL.to_u128()),
        ("const", "DISPATCH_LEVEL", wdk_services::DISPATCH_LEVEL.to_u128()),
        ("const", "IO_TYPE_DRIVER", wdk_services::IO_TYPE_DRIVER.to_u128()),
        ("guid", "FWPM_LAYER_INBOUND_IPPACKET_V4", guid_u128(&wfp::FWPM_LAYER_INBOUND_IPPACKET_V4)),
        ("guid", "FWPM_LAYER_INBOUND_IPPACKET_V6", guid_u128(&wfp::FWPM_LAYER_INBOUND_IPPACKET_V6)),
        ("guid", "FWPM_LAYER_OUTBOUND_IPPACKET_V4", guid_u128(&wfp::FWPM_LAYER_OUTBOUND_IPPACKET_V4)),
        ("guid", "FWPM_LAYER_OUTBOUND_IPPACKET_V6", guid_u128(&wfp::FWPM_LAYER_OUTBOUND_IPPACKET_V6)),
        ("guid", "FWPM_LAYER_INBOUND_TRANSPORT_V4", guid_u128(&wfp::FWPM_LAYER_INBOUND_TRANSPORT_V4)),
        ("guid", "FWPM_LAYER_INBOUND_TRANSPORT_V4_DISCARD", guid_u128(&wfp::FWPM_LAYER_INBOUND_TRANSPORT_V4_DISCARD)),
        ("guid", "FWPM_LAYER_INBOUND_TRANSPORT_V6", guid_u128(&wfp::FWPM_LAYER_INBOUND_TRANSPORT_V6)),
        ("guid", "FWPM_LAYER_INBOUND_TRANSPORT_V6_DISCARD", guid_u128(&wfp::FWPM_LAYER_INBOUND_TRANSPORT_V6_DISCARD)),
        ("guid", "FWPM_LAYER_OUTBOUND_TRANSPORT_V4", guid_u128(&wfp::FWPM_LAYER_OUTBOUND_TRANSPORT_V4)),
        ("guid", "FWPM_LAYER_OUTBOUND_TRANSPORT_V4_DISCARD", guid_u128(&wfp::FWPM_LAYER_OUTBOUND_TRANSPORT_V4_DISCARD)),
        ("guid", "FWPM_LAYER_OUTBOUND_TRANSPORT_V6", guid_u128(&wfp::FWPM_LAYER_OUTBOUND_TRANSPORT_V6)),
        ("guid", "FWPM_LAYER_OUTBOUND_TRANSPORT_V6_DISCARD", guid_u128(&wfp::FWPM_LAYER_OUTBOUND_TRANSPORT_V6_DISCARD)),
        ("guid", "FWPM_CONDITION_IP_REMOTE_PORT", guid_u128(&wfp::FWPM_CONDITION_IP_REMOTE_PORT)),
        ("guid", "FWPM_CONDITION_IP_REMOTE_ADDRESS", guid_u128(&wfp::FWPM_CONDITION_IP_REMOTE_ADDRESS)),
        ("guid", "FWPM_CONDITION_IP_PROTOCOL", guid_u128(&wfp::FWPM_CONDITION_IP_PROTOCOL)),
        ("guid", "FWPM_CONDITION_IP_LOCAL_PORT", guid_u128(&wfp::FWPM_CONDITION_IP_LOCAL_PORT)),
        ("guid", "FWPM_CONDITION_IP_LOCAL_ADDRESS", guid_u128(&wfp::FWPM_CONDITION_IP_LOCAL_ADDRESS)),
        ("guid", "FWPM_SUBLAYER_UNIVERSAL", guid_u128(&wfp::FWPM_SUBLAYER_UNIVERSAL)),
        ("guid", "FWPM_SUBLAYER_IPSEC_TUNNEL", guid_u128(&wfp::FWPM_SUBLAYER_IPSEC_TUNNEL)),
        ("guid", "FWPM_SUBLAYER_IPSEC_SECURITY_REALM", guid_u128(&wfp::FWPM_SUBLAYER_IPSEC_SECURITY_REALM)),
        ("const", "STATUS_BUFFER_TOO_SMALL", foundation::STATUS_BUFFER_TOO_SMALL.to_u128()),
        ("const", "MEMORY_ALLOCATION_ALIGNMENT", system_services::MEMORY_ALLOCATION_ALIGNMENT.to_u128()),
    ]
}

/// Rows where the table deliberately differs from windows-sys, each with windows-sys' value as it
/// stands: the header wins for alignment, and windows-sys' Rust declarations drop DECLSPEC_ALIGN.
/// If windows-sys changes, this test says so.
#[rustfmt::skip]
fn windows_sys_differences() -> Vec<(&'static str, &'static str, u128, u128)> {
    // (kind, item, windows-sys' value, what the table must say given it)
    let device = size_of::<wdk::DEVICE_OBJECT>() as u128;
    vec![
        ("align", "SLIST_HEADER", align_of::<kernel::SLIST_HEADER>() as u128, 16),
        ("size", "DEVICE_OBJECT", device, device.next_multiple_of(16)),
        ("align", "DEVICE_OBJECT", align_of::<wdk::DEVICE_OBJECT>() as u128, 16),
    ]
}

fn cites_windows_sys(row: &Row) -> bool {
    row.source.starts_with("windows-sys")
        || row.note.contains("windows-sys agrees")
        || row.note.contains("value from windows-sys")
}

#[test]
fn table_matches_windows_sys() {
    let facts = facts();
    let mut c = Check::new();
    let mut measured = BTreeSet::new();
    let constants = windows_sys_constants()
        .into_iter()
        .chain(deferred_load_windows_sys())
        .map(|(kind, item, value)| (kind, item.to_string(), value));
    for (kind, item, value) in windows_sys_layouts().into_iter().chain(constants) {
        measured.insert((kind.to_string(), item.clone()));
        c.eq(&format!("windows-sys {item}"), kind, &item, value);
    }
    for (kind, item, theirs, expected) in windows_sys_differences() {
        measured.insert((kind.to_string(), item.to_string()));
        let note_says_so = facts
            .row(kind, item)
            .is_some_and(|row| row.note.contains("windows-sys"));
        if !note_says_so {
            c.failures.push(format!(
                "`{kind} | {item}` differs from windows-sys ({theirs:#x}) without saying so"
            ));
        }
        c.eq(
            &format!("windows-sys {item} (header wins)"),
            kind,
            item,
            expected,
        );
    }
    // A row that cites windows-sys must be measured here.
    for row in &facts.rows {
        let key = (row.kind.clone(), row.item.clone());
        let numeric = matches!(
            row.kind.as_str(),
            "offset" | "size" | "align" | "const" | "guid"
        );
        if numeric && cites_windows_sys(row) && !measured.contains(&key) {
            c.failures.push(format!(
                "`{} | {}` cites windows-sys but is not measured against it",
                row.kind, row.item
            ));
        }
    }
    c.finish("windows-sys");
}

// ------------------------------------------------------------------------------------------------
// (f) Coverage: every declared item has a row and was checked.

/// A `pub struct` or `pub union` of crates/seam/src/sys/types with its `pub` field names.
#[derive(Debug)]
struct Declared {
    name: String,
    fields: Vec<String>,
}

/// Reads `pub struct X {`, `pub union X {`, `pub struct X(..);` and their `pub field:` lines, and
/// `pub const NAME` (not `pub const fn`).
fn declarations(text: &str) -> (Vec<Declared>, Vec<String>) {
    let mut types = Vec::new();
    let mut consts = Vec::new();
    let mut open: Option<Declared> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(current) = open.as_mut() {
            if line.starts_with('}') {
                types.push(open.take().unwrap_or_else(|| unreachable!()));
            } else if let Some(field) = trimmed.strip_prefix("pub ") {
                if let Some((name, _)) = field.split_once(':') {
                    current.fields.push(strip_raw(name.trim()).to_string());
                }
            }
            continue;
        }
        let declared = trimmed
            .strip_prefix("pub struct ")
            .or_else(|| trimmed.strip_prefix("pub union "));
        if let Some(rest) = declared {
            let name: String = rest
                .chars()
                .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
                .collect();
            let entry = Declared {
                name,
                fields: Vec::new(),
            };
            if rest.trim_end().ends_with('{') {
                open = Some(entry);
            } else {
                types.push(entry);
            }
        } else if let Some(rest) = trimmed.strip_prefix("pub const ") {
            if !rest.starts_with("fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
                    .collect();
                consts.push(name);
            }
        }
    }
    (types, consts)
}

/// Files whose `pub const`s are kernel facts the driver or the safe layer uses, and the ones in
/// them that are the crate's own choices rather than facts (with why).
const DRIVER_FILES: &[&str] = &[
    "crates/seam/src/nt/status.rs",
    "crates/seam/src/nt/irql.rs",
    "crates/inject/src/state.rs",
    "crates/inject/src/types.rs",
    "crates/inject/src/request.rs",
    "crates/inject/src/family.rs",
    "src/driver/layers.rs",
    "src/driver/objects.rs",
    "crates/sim/src/layout.rs",
    "crates/sim/src/engine.rs",
    "crates/sim/src/lib.rs",
    "crates/sim/src/kmdf.rs",
];

const NOT_FACTS: &[(&str, &str)] = &[
    (
        "src/driver/objects.rs:COMPANY",
        "the package's identity, checked against Cargo.toml by tests/inf_check.rs",
    ),
    (
        "src/driver/objects.rs:PRODUCT",
        "the package's identity, checked against Cargo.toml by tests/inf_check.rs",
    ),
    (
        "crates/sim/src/lib.rs:FREED_NBL_POISON",
        "the simulator's own fill byte for freed NBLs",
    ),
    (
        "crates/inject/src/state.rs:NONE",
        "InjectionContext::NONE: the crate's own 'no context' value",
    ),
    (
        "crates/inject/src/request.rs:CONTROL_DATA_CAPACITY",
        "the crate's buffer size for control data",
    ),
    // Context sizing.
    (
        "crates/inject/src/request.rs:INLINE_CONTROL_DATA",
        "the crate's in-context buffer size for control data",
    ),
    ("crates/inject/src/family.rs:BOTH", "the list [V4, V6]"),
    ("src/driver/layers.rs:ALL", "the list of the four layers"),
    ("src/driver/layers.rs:PROVIDER_KEY", "the driver's own GUID"),
    ("src/driver/layers.rs:SUBLAYER_KEY", "the driver's own GUID"),
    (
        "src/driver/objects.rs:UNREGISTER_POLL",
        "the driver's retry timing",
    ),
    (
        "src/driver/objects.rs:UNREGISTER_PATIENCE",
        "the driver's retry timing",
    ),
];

/// Module-qualified `pub const` names of crates/sim/src/layout.rs (`nbl::STATUS`), and the top-level ones.
fn simulator_layout_consts(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut module: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("pub mod ") {
            module = Some(rest.trim_end_matches(" {").trim().to_string());
        } else if line.starts_with('}') {
            module = None;
        } else if let Some(rest) = line.trim().strip_prefix("pub const ") {
            if rest.starts_with("fn ") {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
                .collect();
            names.push(match &module {
                Some(module) => format!("{module}::{name}"),
                None => name,
            });
        }
    }
    names
}

#[test]
fn every_declared_item_has_a_checked_row() {
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    for check in [
        check_seam_layouts(),
        check_constants(),
        check_simulator(),
        check_deferred_load(),
    ] {
        failures.extend(check.failures.iter().cloned());
        covered.extend(check.covered);
    }
    let mut missing = Vec::new();

    for file in [
        "crates/seam/src/sys/types/fwp.rs",
        "crates/seam/src/sys/types/ndis.rs",
        "crates/seam/src/sys/types/nt.rs",
        "crates/seam/src/sys/types/wdf.rs",
    ] {
        let (types, consts) = declarations(&read(file));
        for declared in &types {
            if !covered.contains(&declared.name) {
                missing.push(format!("{file}: struct {} (size)", declared.name));
            }
            for field in &declared.fields {
                let key = format!("{}.{field}", declared.name);
                if !covered.contains(&key) {
                    missing.push(format!("{file}: {key}"));
                }
            }
        }
        for name in consts {
            if !covered.contains(&name) {
                missing.push(format!("{file}: const {name}"));
            }
        }
    }

    for file in DRIVER_FILES {
        let text = read(file);
        let names = if file.ends_with("crates/sim/src/layout.rs") {
            simulator_layout_consts(&text)
        } else {
            declarations(&text).1
        };
        for name in names {
            let key = format!("{file}:{name}");
            if NOT_FACTS.iter().any(|(exempt, _)| *exempt == key) {
                continue;
            }
            if !covered.contains(&key) {
                missing.push(key);
            }
        }
    }
    for key in [
        "src/driver/layers.rs:TransportLayer::key",
        "src/driver/layers.rs:TransportLayer::runtime_id",
    ] {
        if !covered.contains(key) {
            missing.push(key.to_string());
        }
    }

    // Rows without a sourced value.
    for row in &facts().rows {
        if row.value == "?" {
            missing.push(format!(
                "row `{} | {}` is unsourced (`?`)",
                row.kind, row.item
            ));
        }
    }
    assert!(
        missing.is_empty() && failures.is_empty(),
        "items without a checked row in {TABLE_PATH}:\n  {}\ndisagreements:\n  {}",
        missing.join("\n  "),
        failures.join("\n  ")
    );
    eprintln!("coverage: {} crate items checked", covered.len());
}

// ------------------------------------------------------------------------------------------------
// The table itself, and (g) the program that made its layout rows.

#[test]
fn table_parses_and_every_row_is_sourced() {
    let facts = facts();
    let mut problems = facts.problems.clone();
    const KINDS: &[&str] = &[
        "offset",
        "size",
        "align",
        "const",
        "guid",
        "layer-id",
        "index",
        "field-type",
        "irql",
        "rule",
    ];
    for row in &facts.rows {
        if !KINDS.contains(&row.kind.as_str()) {
            problems.push(format!("unknown kind `{}`: {}", row.kind, row.line));
        }
        if row.value == "?" {
            problems.push(format!("unsourced (`?`): {}", row.line));
        }
        let numeric = matches!(
            row.kind.as_str(),
            "offset" | "size" | "align" | "layer-id" | "index" | "guid"
        );
        if numeric && parse_number(&row.value).is_none() {
            problems.push(format!("not a number: {}", row.line));
        }
    }
    assert!(
        problems.is_empty(),
        "{TABLE_PATH}:\n  {}",
        problems.join("\n  ")
    );
    // The parser finds what it should: an empty parse must not pass.
    assert!(
        facts.rows.len() > 900,
        "only {} rows parsed",
        facts.rows.len()
    );
    assert!(parse_table("no table here").problems.len() >= 2);
}

#[test]
fn layouts_c_prints_the_table_layout_rows() {
    let out_dir = std::env::temp_dir().join(format!("kernel-facts-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("temp dir");
    let program = out_dir.join("layouts");
    let compiled = std::process::Command::new("cc")
        .arg(manifest_path("facts/layouts.c"))
        .arg("-o")
        .arg(&program)
        .status();
    match compiled {
        Err(e) => {
            eprintln!("SKIPPED: no C compiler ({e}); facts/layouts.c not compared");
            return;
        }
        Ok(status) => assert!(status.success(), "cc facts/layouts.c failed"),
    }
    let output = std::process::Command::new(&program)
        .output()
        .expect("run layouts");
    assert!(
        output.status.success(),
        "facts/layouts.c exited with {}",
        output.status
    );
    let _ = std::fs::remove_dir_all(&out_dir);
    let printed = String::from_utf8(output.stdout).expect("utf-8");
    let facts = facts();
    let table: BTreeSet<&str> = facts.rows.iter().map(|row| row.line.as_str()).collect();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for line in printed.lines() {
        if !table.contains(line.trim()) {
            problems.push(format!("printed but not in the table: {line}"));
        }
        seen.insert(line.trim().to_string());
    }
    // Layout rows added after layouts.c (typedef sizes, DEVICE_OBJECT) are listed, not failed.
    let extra: Vec<&str> = facts
        .rows
        .iter()
        .filter(|row| matches!(row.kind.as_str(), "offset" | "size" | "align"))
        .filter(|row| !seen.contains(&row.line))
        .map(|row| row.item.as_str())
        .collect();
    assert!(
        problems.is_empty(),
        "facts/layouts.c and {TABLE_PATH} differ:\n  {}",
        problems.join("\n  ")
    );
    assert!(
        seen.len() > 300,
        "facts/layouts.c printed only {} rows",
        seen.len()
    );
    eprintln!(
        "facts/layouts.c: {} rows agree; layout rows from other sources: {}",
        seen.len(),
        extra.join(", ")
    );
}

// ------------------------------------------------------------------------------------------------
// Deferred load: BFE states, the work queue, and the IRQL rules of the new imports
// as the simulator enforces them.

#[rustfmt::skip]
fn check_deferred_load() -> Check {
    let mut c = Check::new();
    consts!(
        c,
        [
            FWPM_SERVICE_STOPPED,
            FWPM_SERVICE_START_PENDING,
            FWPM_SERVICE_STOP_PENDING,
            FWPM_SERVICE_RUNNING,
            DelayedWorkQueue,
        ]
    );
    named!(c, "crates/sim/src/boot.rs", sim, "const", [
        bfe_state::STOPPED => "FWPM_SERVICE_STOPPED",
        bfe_state::START_PENDING => "FWPM_SERVICE_START_PENDING",
        bfe_state::STOP_PENDING => "FWPM_SERVICE_STOP_PENDING",
        bfe_state::RUNNING => "FWPM_SERVICE_RUNNING",
        DELAYED_WORK_QUEUE => "DelayedWorkQueue",
    ]);
    c.eq("crates/sim/src/power.rs:PO_CB_SYSTEM_STATE_LOCK", "const", "PO_CB_SYSTEM_STATE_LOCK", sim::PO_CB_SYSTEM_STATE_LOCK.to_u128());
    c.eq("crates/sim/src/power.rs:PO_CB_AC_STATUS", "const", "PO_CB_AC_STATUS", sim::PO_CB_AC_STATUS.to_u128());
    c
}

#[test]
fn deferred_load_constants_match_the_table() {
    check_deferred_load().finish("deferred load constants");
}

#[rustfmt::skip]
fn deferred_load_windows_sys() -> Vec<(&'static str, &'static str, u128)> {
    vec![
        ("const", "FWPM_SERVICE_STOPPED", wfp::FWPM_SERVICE_STOPPED.to_u128()),
        ("const", "FWPM_SERVICE_START_PENDING", wfp::FWPM_SERVICE_START_PENDING.to_u128()),
        ("const", "FWPM_SERVICE_STOP_PENDING", wfp::FWPM_SERVICE_STOP_PENDING.to_u128()),
        ("const", "FWPM_SERVICE_RUNNING", wfp::FWPM_SERVICE_RUNNING.to_u128()),
        ("const", "DelayedWorkQueue", wdk_services::DelayedWorkQueue.to_u128()),
    ]
}

/// The highest IRQL an `irql` row allows: "PASSIVE_LEVEL" or "<= X_LEVEL".
fn irql_of_row(item: &str) -> Irql {
    let row = facts()
        .row("irql", item)
        .unwrap_or_else(|| panic!("no row `irql | {item}`"));
    match row.value.trim_start_matches("<= ").trim() {
        "PASSIVE_LEVEL" => Irql::PASSIVE,
        "APC_LEVEL" => Irql::APC,
        "DISPATCH_LEVEL" => Irql::DISPATCH,
        other => panic!("`irql | {item}`: unexpected value {other}"),
    }
}

/// Every function of the declaration list has an `irql` row, and the list's bound is the row's:
/// "PASSIVE_LEVEL" or "<= X_LEVEL" the level, "Any level" no bound, "<= DIRQL" no bound either
/// (looser than the docs: the simulator never raises a thread above DISPATCH_LEVEL, so no gate
/// below DIRQL could be exercised), "< DISPATCH_LEVEL (pageable)" APC_LEVEL.
#[test]
fn every_declared_function_has_its_documented_irql() {
    let mut problems = Vec::new();
    for &function in wfp_injector::sys::KernelFn::ALL {
        let name = function.name();
        let Some(row) = facts().row("irql", name) else {
            problems.push(format!("no row `irql | {name}`"));
            continue;
        };
        let documented = match row.value.trim() {
            "Any level" | "any level" | "<= DIRQL" => None,
            "< DISPATCH_LEVEL (pageable)" => Some(Irql::APC),
            value => match value.trim_start_matches("<=").trim() {
                "PASSIVE_LEVEL" => Some(Irql::PASSIVE),
                "APC_LEVEL" => Some(Irql::APC),
                "DISPATCH_LEVEL" => Some(Irql::DISPATCH),
                other => {
                    problems.push(format!("`irql | {name}`: unexpected value {other}"));
                    continue;
                }
            },
        };
        if function.max_irql() != documented {
            problems.push(format!(
                "{name}: the list allows {:?}, the row says {}",
                function.max_irql(),
                row.value
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The simulator refuses each new import above the IRQL its row allows, and takes it at that
/// IRQL: the rule the simulated stack enforces is the documented one.
#[test]
fn the_simulator_enforces_the_deferred_load_irql_rows() {
    use wfp_injector::sys::KernelApi;
    use wfp_injector::sys::types::{DEVICE_OBJECT, HANDLE};

    unsafe extern "win64" fn callback(_context: *mut std::ffi::c_void, _state: i32) {}
    unsafe extern "win64" fn routine(_device: *mut DEVICE_OBJECT, _context: *mut std::ffi::c_void) {
    }
    // A BFE subscription (or a work item) made at PASSIVE_LEVEL, and the IRQL the case runs at.
    fn subscribed_at_passive(
        stack: &sim::SimulatedStack,
        device: *mut DEVICE_OBJECT,
    ) -> (HANDLE, Irql) {
        let mut handle: HANDLE = std::ptr::null_mut();
        let irql = Irql((&stack).ke_get_current_irql());
        let _guard = stack.set_irql(Irql::PASSIVE);
        // SAFETY: valid pointers; each case unsubscribes again.
        unsafe {
            (&stack).fwpm_bfe_state_subscribe_changes0(
                device,
                callback,
                std::ptr::null_mut(),
                &mut handle,
            )
        };
        (handle, irql)
    }
    fn allocated_at_passive(
        stack: &sim::SimulatedStack,
        device: *mut DEVICE_OBJECT,
    ) -> (t::PIO_WORKITEM, Irql) {
        let irql = Irql((&stack).ke_get_current_irql());
        let _guard = stack.set_irql(Irql::PASSIVE);
        // SAFETY: a device pointer; each case frees the item again.
        (unsafe { (&stack).io_allocate_work_item(device) }, irql)
    }
    let device = std::ptr::NonNull::<DEVICE_OBJECT>::dangling().as_ptr();
    type Call = fn(&sim::SimulatedStack, *mut DEVICE_OBJECT);
    let calls: [(&str, sim::KernelFn, Call); 6] = [
        (
            "FwpmBfeStateSubscribeChanges0",
            sim::KernelFn::FwpmBfeStateSubscribeChanges0,
            |stack, device| {
                let mut handle: HANDLE = std::ptr::null_mut();
                // SAFETY: valid pointers; the subscription is removed again below.
                let status = unsafe {
                    (&stack).fwpm_bfe_state_subscribe_changes0(
                        device,
                        callback,
                        std::ptr::null_mut(),
                        &mut handle,
                    )
                };
                if status == 0 {
                    let _guard = stack.set_irql(Irql::PASSIVE);
                    // SAFETY: the handle just subscribed.
                    unsafe { (&stack).fwpm_bfe_state_unsubscribe_changes0(handle) };
                }
            },
        ),
        (
            "FwpmBfeStateGet0",
            sim::KernelFn::FwpmBfeStateGet0,
            |stack, device| {
                let (handle, irql) = subscribed_at_passive(stack, device);
                {
                    let _guard = stack.set_irql(irql);
                    // SAFETY: subscribed above.
                    unsafe { (&stack).fwpm_bfe_state_get0() };
                }
                let _guard = stack.set_irql(Irql::PASSIVE);
                // SAFETY: the handle subscribed above.
                unsafe { (&stack).fwpm_bfe_state_unsubscribe_changes0(handle) };
            },
        ),
        (
            "FwpmBfeStateUnsubscribeChanges0",
            sim::KernelFn::FwpmBfeStateUnsubscribeChanges0,
            |stack, device| {
                let (handle, irql) = subscribed_at_passive(stack, device);
                {
                    let _guard = stack.set_irql(irql);
                    // SAFETY: the handle subscribed above.
                    unsafe { (&stack).fwpm_bfe_state_unsubscribe_changes0(handle) };
                }
                if stack.bfe_subscriptions() > 0 {
                    let _guard = stack.set_irql(Irql::PASSIVE);
                    // SAFETY: still subscribed (the call above was refused).
                    unsafe { (&stack).fwpm_bfe_state_unsubscribe_changes0(handle) };
                }
            },
        ),
        (
            "IoAllocateWorkItem",
            sim::KernelFn::IoAllocateWorkItem,
            |stack, device| {
                // SAFETY: a device pointer; the item is freed again.
                let item = unsafe { (&stack).io_allocate_work_item(device) };
                if !item.is_null() {
                    // SAFETY: allocated just above, not queued.
                    unsafe { (&stack).io_free_work_item(item) };
                }
            },
        ),
        (
            "IoQueueWorkItem",
            sim::KernelFn::IoQueueWorkItem,
            |stack, device| {
                let (item, irql) = allocated_at_passive(stack, device);
                {
                    let _guard = stack.set_irql(irql);
                    // SAFETY: allocated above, not queued.
                    unsafe {
                        (&stack).io_queue_work_item(
                            item,
                            routine,
                            t::DelayedWorkQueue,
                            std::ptr::null_mut(),
                        )
                    };
                }
                let _guard = stack.set_irql(Irql::PASSIVE);
                stack.run_work_items();
                // SAFETY: not queued any more.
                unsafe { (&stack).io_free_work_item(item) };
            },
        ),
        (
            "IoFreeWorkItem",
            sim::KernelFn::IoFreeWorkItem,
            |stack, device| {
                let (item, irql) = allocated_at_passive(stack, device);
                {
                    let _guard = stack.set_irql(irql);
                    // SAFETY: allocated above, not queued.
                    unsafe { (&stack).io_free_work_item(item) };
                }
                if stack.live_work_items() > 0 {
                    let _guard = stack.set_irql(Irql::PASSIVE);
                    // SAFETY: the refused free left it allocated.
                    unsafe { (&stack).io_free_work_item(item) };
                }
            },
        ),
    ];
    for (item, call, run) in calls {
        let allowed = irql_of_row(item);
        for (irql, refused) in [(allowed, false), (Irql(allowed.0 + 1), true)] {
            let stack = sim::SimulatedStack::new();
            {
                let _guard = stack.set_irql(irql);
                run(&stack, device);
            }
            let violations = stack.take_violations();
            let wrong = violations
                .iter()
                .any(|v| matches!(v, sim::Violation::WrongIrql { call: c, .. } if *c == call));
            assert_eq!(
                wrong, refused,
                "{item} at IRQL {}: the table allows up to {}; violations {violations:?}",
                irql.0, allowed.0
            );
            stack.assert_clean();
        }
    }
}
