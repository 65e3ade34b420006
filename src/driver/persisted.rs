//! The configuration a control request persisted: the service's `Parameters\InspectRules`, a
//! REG_BINARY in a format of its own (`crate::driver::persisted_format`). At load a valid one
//! replaces the `Inspect*` values as the load's rules (`crate::driver::config::read_parameters`
//! reads it with [`read`]); a set with CONFIG_PERSIST writes it ([`store`]).
//!
//! A persisting set is whole or nothing, for the driver and the registry together: the value is
//! read (for the undo: its type and bytes as they are, whatever they hold) and written before the
//! rules are applied, and if applying them fails the value is put back exactly (rewritten with
//! the type and bytes read, or deleted when there was none). So a refused request leaves the
//! registry as it was, even a value this driver cannot load (another format's, a newer driver's:
//! ignored at load, and kept). Writing first and undoing a registry write is
//! chosen over applying first and undoing an applied change: the undo is one registry call
//! instead of a second filter transaction, and a write that fails leaves nothing to undo. Only
//! if the undo itself fails do the two disagree, and then the log says so (the registry holds
//! the refused configuration; the next load would start from it).
//!
//! DriverEntry's registry path is the I/O manager's, valid only during DriverEntry, while a
//! control request comes later: the driver keeps its own copy ([`ServiceKey`]).

use core::alloc::Layout;
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use alloc::boxed::Box;
use wfp_protocol::Config;

use crate::driver::config::{PARAMETERS, close, open_key, unicode};
use crate::driver::log::{Level, Log};
use crate::driver::persisted_format;
use crate::driver::rules::Rules;
use crate::nt::text::wide;
use crate::nt::{Irql, NtStatus, RegistryPath};
use crate::sys::KernelApi;
use crate::sys::types::{
    HANDLE, KEY_READ, KEY_SET_VALUE, KEY_VALUE_PARTIAL_INFORMATION,
    KEY_VALUE_PARTIAL_INFORMATION_CLASS, REG_BINARY, UNICODE_STRING,
};

/// `wfp_protocol::PERSISTED_VALUE_NAME`, NUL-terminated.
static INSPECT_RULES: [u16; 13] = wide(wfp_protocol::PERSISTED_VALUE_NAME);

/// The driver's own copy of DriverEntry's registry path (the service key), in pool, freed on
/// drop.
#[derive(Debug)]
pub(crate) struct ServiceKey {
    units: NonNull<u16>,
    length: u16,
}

// SAFETY: the copy is written once at creation and only read afterwards.
unsafe impl Send for ServiceKey {}
// SAFETY: as above.
unsafe impl Sync for ServiceKey {}

impl ServiceKey {
    /// Copies `path`: `Ok(None)` for an empty path, `Err` when memory is short.
    ///
    /// IRQL: PASSIVE_LEVEL (DriverEntry: the path is valid for the call).
    pub(crate) fn copy(path: RegistryPath<'_>) -> Result<Option<Self>, NtStatus> {
        // SAFETY: DriverEntry's registry path is a valid UNICODE_STRING for the borrow.
        let path = unsafe { &*path.as_raw() };
        let count = usize::from(path.Length / 2);
        if count == 0 || path.Buffer.is_null() {
            return Ok(None);
        }
        let layout = Layout::array::<u16>(count).map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
        // SAFETY: the layout is non-zero-sized (count > 0).
        let copy = NonNull::new(unsafe { alloc::alloc::alloc(layout) }.cast::<u16>())
            .ok_or(NtStatus::INSUFFICIENT_RESOURCES)?;
        // SAFETY: the source holds `count` units (its Length), the fresh copy as many; they do
        // not overlap.
        unsafe { ptr::copy_nonoverlapping(path.Buffer, copy.as_ptr(), count) };
        Ok(Some(Self {
            units: copy,
            length: (count * 2) as u16,
        }))
    }

    /// The path as a UNICODE_STRING over the copy (the kernel only reads it). Any IRQL.
    fn unicode(&self) -> UNICODE_STRING {
        UNICODE_STRING {
            Length: self.length,
            MaximumLength: self.length,
            Buffer: self.units.as_ptr(),
        }
    }
}

impl Drop for ServiceKey {
    /// Frees the copy. IRQL: <= DISPATCH_LEVEL (the pool's free; the driver drops it at unload,
    /// PASSIVE_LEVEL).
    fn drop(&mut self) {
        if let Ok(layout) = Layout::array::<u16>(usize::from(self.length / 2)) {
            // SAFETY: allocated by `copy` with this layout, freed once (drop).
            unsafe { alloc::alloc::dealloc(self.units.as_ptr().cast(), layout) };
        }
    }
}

/// A block of zeroed pool bytes (8-byte aligned: a KEY_VALUE_PARTIAL_INFORMATION's alignment is
/// 4), freed on drop. The value's bytes live here, not on the stack: the persisting path runs
/// below the control request's own frame, and a frame past a page needs stack probes, which the
/// image does not link.
struct PoolBytes {
    block: NonNull<u8>,
    length: usize,
}

impl PoolBytes {
    /// `length` zeroed bytes (at least one), or STATUS_INSUFFICIENT_RESOURCES.
    ///
    /// IRQL: <= DISPATCH_LEVEL (the pool); called at PASSIVE_LEVEL.
    fn zeroed(length: usize) -> Result<Self, NtStatus> {
        let layout = Self::layout(length).ok_or(NtStatus::INSUFFICIENT_RESOURCES)?;
        // SAFETY: the layout is non-zero-sized (`layout` gives at least one byte).
        let block = NonNull::new(unsafe { alloc::alloc::alloc_zeroed(layout) })
            .ok_or(NtStatus::INSUFFICIENT_RESOURCES)?;
        Ok(Self { block, length })
    }

    fn layout(length: usize) -> Option<Layout> {
        Layout::from_size_align(length.max(1), 8).ok()
    }

    /// Any IRQL.
    fn bytes(&self) -> &[u8] {
        // SAFETY: `length` initialized (zeroed) bytes at `block`, owned by `self`.
        unsafe { core::slice::from_raw_parts(self.block.as_ptr(), self.length) }
    }

    /// Any IRQL.
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, borrowed mutably through `self`.
        unsafe { core::slice::from_raw_parts_mut(self.block.as_ptr(), self.length) }
    }
}

impl Drop for PoolBytes {
    /// Frees the block. IRQL: <= DISPATCH_LEVEL (the pool); PASSIVE_LEVEL here.
    fn drop(&mut self) {
        if let Some(layout) = Self::layout(self.length) {
            // SAFETY: allocated by `zeroed` with this layout, freed once (drop).
            unsafe { alloc::alloc::dealloc(self.block.as_ptr(), layout) };
        }
    }
}

/// The partial-information header ZwQueryValueKey writes before the data (offset of `Data`).
const INFO: usize = size_of::<KEY_VALUE_PARTIAL_INFORMATION>();

/// Parameters' access for a persisting set: read the previous value, write the new one
/// (disjoint rights, named once).
const READ_AND_SET: u32 = KEY_READ | KEY_SET_VALUE;

/// The largest value kept for an undo or read at load. A saved configuration is at most
/// 24 + 48 × 16 bytes; a larger value is no configuration this driver loads, and one past this
/// bound is not even kept (a persisting set is refused instead: it could not be put back).
const MAX_VALUE: usize = 64 * 1024;

/// `InspectRules` as read: the query's buffer in pool (header, then the data).
enum Value {
    /// No such value.
    Absent,
    /// Larger than [`MAX_VALUE`].
    TooLarge,
    /// Its type and bytes.
    Present(PoolBytes),
}

/// The registry type and the data of a value [`read_value`] read. Any IRQL.
fn parts(buffer: &PoolBytes) -> (u32, &[u8]) {
    let bytes = buffer.bytes();
    let word = |at: usize| {
        bytes
            .get(at..at + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (kind, length) = (word(4), word(8) as usize);
    let data = bytes
        .get(INFO..)
        .and_then(|data| data.get(..length))
        .unwrap_or(&[]);
    (kind, data)
}

/// Reads `InspectRules` whole from the open `key` into pool: its size first (a query with no
/// buffer answers STATUS_BUFFER_TOO_SMALL with the size), then the value; again if it grew
/// meanwhile. `Err`: the query failed otherwise than for a missing value.
///
/// IRQL: PASSIVE_LEVEL.
fn read_value<K: KernelApi>(kernel: &K, key: HANDLE) -> Result<Value, NtStatus> {
    let name = unicode(&INSPECT_RULES);
    let mut buffer: Option<PoolBytes> = None;
    // Three sizes at most: a value that keeps growing under the query is refused as busy.
    for _ in 0..3 {
        let (pointer, length) = match buffer.as_mut() {
            Some(block) => (block.bytes_mut().as_mut_ptr(), block.length),
            None => (ptr::null_mut(), 0),
        };
        let mut needed = 0u32;
        // SAFETY: PASSIVE_LEVEL; `key` is open with KEY_QUERY_VALUE (KEY_READ); `pointer` is
        // null with length 0 or writable for `length` bytes (pool, 8-aligned); `name` and
        // `needed` outlive the call.
        let status = unsafe {
            kernel.zw_query_value_key(
                key,
                &name,
                KEY_VALUE_PARTIAL_INFORMATION_CLASS,
                pointer.cast::<c_void>(),
                length as u32,
                &mut needed,
            )
        };
        match NtStatus(status) {
            NtStatus::OBJECT_NAME_NOT_FOUND => return Ok(Value::Absent),
            NtStatus::BUFFER_TOO_SMALL | NtStatus::BUFFER_OVERFLOW => {
                let needed = needed as usize;
                if needed > INFO + MAX_VALUE {
                    return Ok(Value::TooLarge);
                }
                buffer = Some(PoolBytes::zeroed(needed.max(INFO))?);
            }
            status => {
                status.ok()?;
                return match buffer {
                    Some(block) => Ok(Value::Present(block)),
                    // A success for no buffer: nothing to keep that the query described.
                    None => Err(NtStatus::UNSUCCESSFUL),
                };
            }
        }
    }
    Err(NtStatus::DEVICE_BUSY)
}

/// Reads `InspectRules` from the open Parameters `key`: `Some` a valid configuration (in pool:
/// about 800 bytes kept off the load's stack), `None` when there is none or one this driver does
/// not load (logged with the reason, and left as it is). Memory is taken only for a value that
/// is there. `Err`: the query failed otherwise than for a missing value, or memory is short
/// (STATUS_INSUFFICIENT_RESOURCES).
///
/// IRQL: PASSIVE_LEVEL.
// Out of line: its callers' frames stay as they were without it.
#[inline(never)]
pub(crate) fn read<K: KernelApi>(
    kernel: &K,
    key: HANDLE,
    log: &Log,
) -> Result<Option<Box<Config>>, NtStatus> {
    debug_assert!(Irql(kernel.ke_get_current_irql()) == Irql::PASSIVE);
    let buffer = match read_value(kernel, key)? {
        Value::Absent => return Ok(None),
        Value::TooLarge => {
            ignored(
                kernel,
                log,
                ["larger than 64 KiB".into(), "".into(), "".into(), "".into()],
            );
            return Ok(None);
        }
        Value::Present(buffer) => buffer,
    };
    let mut config = config_box().ok_or(NtStatus::INSUFFICIENT_RESOURCES)?;
    let (kind, data) = parts(&buffer);
    match persisted_format::decode(kind, data, &mut config) {
        Ok(()) => Ok(Some(config)),
        Err(refusal) => {
            ignored(kernel, log, refusal.describe());
            Ok(None)
        }
    }
}

fn ignored<K: KernelApi>(kernel: &K, log: &Log, reason: [crate::driver::log::Arg<'_>; 4]) {
    let [first, second, third, fourth] = reason;
    log.write(
        kernel,
        Level::Warning,
        &[
            "ignoring Parameters\\InspectRules (kept as it is; the Inspect* values apply): ".into(),
            first,
            second,
            third,
            fourth,
        ],
    );
}

/// A zeroed configuration in pool, for [`read`]: `None` when memory is short.
///
/// IRQL: <= DISPATCH_LEVEL (the pool); called at PASSIVE_LEVEL.
fn config_box() -> Option<Box<Config>> {
    let layout = Layout::new::<Config>();
    // SAFETY: a Config is not zero-sized.
    let block = unsafe { alloc::alloc::alloc_zeroed(layout) }.cast::<Config>();
    if block.is_null() {
        return None;
    }
    // SAFETY: a fresh block with Config's layout from the global allocator (which Box frees
    // with); all zeros is a valid Config (integers and arrays of integers only).
    Some(unsafe { Box::from_raw(block) })
}

/// Writes `rules` as `InspectRules` and then runs `apply`; if `apply` fails, puts the value back
/// as it was (see the module's text). `Err`: the first failure (nothing changed, unless the
/// undo failed too, which is logged).
///
/// IRQL: PASSIVE_LEVEL (a control request).
pub(crate) fn store<K: KernelApi>(
    kernel: &K,
    service_key: Option<&ServiceKey>,
    log: &Log,
    rules: &Rules,
    apply: impl FnOnce() -> Result<(), NtStatus>,
) -> Result<(), NtStatus> {
    debug_assert!(Irql(kernel.ke_get_current_irql()) == Irql::PASSIVE);
    // A driver loaded without a registry path has nowhere to persist to.
    let service_key = service_key.ok_or(NtStatus::INVALID_DEVICE_STATE)?;
    let path = service_key.unicode();
    let service = open_key(kernel, ptr::null_mut(), &path, KEY_READ)?;
    let name = unicode(&PARAMETERS);
    let key = open_key(kernel, service, &name, READ_AND_SET);
    close(kernel, service);
    let key = key?;
    let result = store_in(kernel, key, log, rules, apply);
    close(kernel, key);
    result
}

/// [`store`] with Parameters open (KEY_READ | KEY_SET_VALUE).
///
/// IRQL: PASSIVE_LEVEL.
// Out of line, so that what it holds is not added to the control request's frame.
#[inline(never)]
fn store_in<K: KernelApi>(
    kernel: &K,
    key: HANDLE,
    log: &Log,
    rules: &Rules,
    apply: impl FnOnce() -> Result<(), NtStatus>,
) -> Result<(), NtStatus> {
    // What to put back if applying fails; unknown (the read failed, or the value is too large
    // to keep): refuse before any change.
    let previous = match read_value(kernel, key)? {
        Value::Absent => None,
        Value::Present(buffer) => Some(buffer),
        Value::TooLarge => return Err(NtStatus::INSUFFICIENT_RESOURCES),
    };
    let mut value = PoolBytes::zeroed(persisted_format::size(rules.active().len()))?;
    if !persisted_format::encode(rules, value.bytes_mut()) {
        return Err(NtStatus::INSUFFICIENT_RESOURCES);
    }
    write(kernel, key, REG_BINARY, value.bytes())?;
    drop(value);
    let Err(failure) = apply() else {
        return Ok(());
    };
    // Exactly as read: the type and bytes, whatever they hold; deleted only when absent.
    let undone = match &previous {
        Some(buffer) => {
            let (kind, data) = parts(buffer);
            write(kernel, key, kind, data)
        }
        None => delete(kernel, key),
    };
    if let Err(status) = undone {
        log.write(
            kernel,
            Level::Error,
            &[
                "Parameters\\InspectRules holds a configuration the driver refused (the next load \
                 starts from it; delete the value or set again): putting it back failed: "
                    .into(),
                status.into(),
            ],
        );
    }
    Err(failure)
}

/// Writes `data` as `InspectRules`, of registry type `kind`, through `key` (open with
/// KEY_SET_VALUE).
///
/// IRQL: PASSIVE_LEVEL.
fn write<K: KernelApi>(kernel: &K, key: HANDLE, kind: u32, data: &[u8]) -> Result<(), NtStatus> {
    let name = unicode(&INSPECT_RULES);
    // SAFETY: PASSIVE_LEVEL; `key` is open with KEY_SET_VALUE; `name` and `data` outlive the
    // call; TitleIndex is reserved (zero).
    let status = unsafe {
        kernel.zw_set_value_key(
            key,
            &name,
            0,
            kind,
            data.as_ptr().cast::<c_void>(),
            data.len() as u32,
        )
    };
    NtStatus(status).ok()
}

/// Deletes `InspectRules` through `key` (open with KEY_SET_VALUE).
///
/// IRQL: PASSIVE_LEVEL.
fn delete<K: KernelApi>(kernel: &K, key: HANDLE) -> Result<(), NtStatus> {
    let name = unicode(&INSPECT_RULES);
    // SAFETY: PASSIVE_LEVEL; `key` is open with KEY_SET_VALUE; `name` outlives the call.
    let status = unsafe { kernel.zw_delete_value_key(key, &name) };
    NtStatus(status).ok()
}
