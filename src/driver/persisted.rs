//! The configuration a control request persisted: the service's `Parameters\InspectRules`, a
//! REG_BINARY holding a wfp-protocol [`Config`] in its wire form (generation 0, CONFIG_PERSIST
//! clear). At load a valid one replaces the `Inspect*` values as the load's rules
//! (`crate::driver::config::read_parameters` reads it with [`read`]); a set with CONFIG_PERSIST
//! writes it ([`store`]).
//!
//! A persisting set is whole or nothing, for the driver and the registry together: the value is
//! read (for the undo) and written before the rules are applied, and if applying them fails the
//! value is put back as it was (rewritten, or deleted when there was none or an invalid one: at
//! load both mean "the `Inspect*` values apply"). Writing first and undoing a registry write is
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

use wfp_protocol::{Config, Wire};

use crate::driver::config::{PARAMETERS, close, open_key, unicode};
use crate::driver::log::{Level, Log};
use crate::driver::rules::Rules;
use crate::nt::text::wide;
use crate::nt::{NtStatus, RegistryPath};
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

    /// The path as a UNICODE_STRING over the copy (the kernel only reads it).
    fn unicode(&self) -> UNICODE_STRING {
        UNICODE_STRING {
            Length: self.length,
            MaximumLength: self.length,
            Buffer: self.units.as_ptr(),
        }
    }
}

impl Drop for ServiceKey {
    fn drop(&mut self) {
        if let Ok(layout) = Layout::array::<u16>(usize::from(self.length / 2)) {
            // SAFETY: allocated by `copy` with this layout, freed once (drop).
            unsafe { alloc::alloc::dealloc(self.units.as_ptr().cast(), layout) };
        }
    }
}

/// What `Parameters\InspectRules` holds.
// One lives on the stack while a value is read (a configuration is about 800 bytes); boxing it
// would allocate for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Persisted {
    /// No such value.
    Absent,
    /// A value that is not a valid configuration (type, size, or [`Config::check`]).
    Invalid,
    /// A valid configuration: the one to start from.
    Valid(Config),
}

/// The value's bytes as ZwQueryValueKey returns them: the partial-information header, then the
/// data (u32 elements: the header's alignment).
const HEADER: usize = size_of::<KEY_VALUE_PARTIAL_INFORMATION>();
type ValueBuffer = [u32; (HEADER + Config::SIZE).div_ceil(4)];

/// Reads `InspectRules` from the open Parameters `key`; `Err`: the query failed otherwise than
/// for a missing value.
///
/// IRQL: PASSIVE_LEVEL.
// Out of line, so that its value buffer and configuration (about 1.6 KiB) are not added to its
// callers' frames: a frame past a page needs stack probes (__chkstk), which the image does not
// link.
#[inline(never)]
pub(crate) fn read<K: KernelApi>(kernel: &K, key: HANDLE) -> Result<Persisted, NtStatus> {
    let mut buffer: ValueBuffer = [0; (HEADER + Config::SIZE).div_ceil(4)];
    let mut needed = 0u32;
    let name = unicode(&INSPECT_RULES);
    // SAFETY: PASSIVE_LEVEL; `key` is open; `buffer` is writable for its size; `needed` is
    // writable.
    let status = unsafe {
        kernel.zw_query_value_key(
            key,
            &name,
            KEY_VALUE_PARTIAL_INFORMATION_CLASS,
            buffer.as_mut_ptr().cast::<c_void>(),
            size_of_val(&buffer) as u32,
            &mut needed,
        )
    };
    match NtStatus(status) {
        NtStatus::OBJECT_NAME_NOT_FOUND => return Ok(Persisted::Absent),
        // A warning: the value is larger than a configuration, so not one.
        NtStatus::BUFFER_OVERFLOW => return Ok(Persisted::Invalid),
        status => status.ok()?,
    }
    let bytes: &[u8; size_of::<ValueBuffer>()] = {
        // SAFETY: the u32 array's bytes are initialized; u8 has no alignment requirement.
        unsafe { &*buffer.as_ptr().cast::<[u8; size_of::<ValueBuffer>()]>() }
    };
    let kind = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let length = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    if kind != REG_BINARY || length != Config::SIZE {
        return Ok(Persisted::Invalid);
    }
    Ok(
        match Config::decode(&bytes[HEADER..HEADER + Config::SIZE]) {
            Ok(config) if config.check().is_ok() => Persisted::Valid(config),
            _ => Persisted::Invalid,
        },
    )
}

/// Writes `rules` as `InspectRules` and then runs `apply`; if `apply` fails, puts the value back
/// as it was (see the module's text). `Err`: the first failure (nothing changed, unless the
/// undo failed too, which is logged).
///
/// IRQL: PASSIVE_LEVEL.
pub(crate) fn store<K: KernelApi>(
    kernel: &K,
    service_key: Option<&ServiceKey>,
    log: &Log,
    rules: &Rules,
    apply: impl FnOnce() -> Result<(), NtStatus>,
) -> Result<(), NtStatus> {
    // A driver loaded without a registry path has nowhere to persist to.
    let service_key = service_key.ok_or(NtStatus::INVALID_DEVICE_STATE)?;
    let path = service_key.unicode();
    let service = open_key(kernel, ptr::null_mut(), &path, KEY_READ)?;
    let name = unicode(&PARAMETERS);
    let key = open_key(kernel, service, &name, KEY_READ | KEY_SET_VALUE);
    close(kernel, service);
    let key = key?;
    let result = store_in(kernel, key, log, rules, apply);
    close(kernel, key);
    result
}

// Out of line, as `read` (its bytes to write and the value read are a configuration each).
#[inline(never)]
fn store_in<K: KernelApi>(
    kernel: &K,
    key: HANDLE,
    log: &Log,
    rules: &Rules,
    apply: impl FnOnce() -> Result<(), NtStatus>,
) -> Result<(), NtStatus> {
    // What to put back if applying fails; unknown (the read failed): refuse before any change.
    let previous = read(kernel, key)?;
    // Generation 0 and CONFIG_PERSIST clear: the rules alone (`to_config` sets neither).
    write(kernel, key, &rules.to_config())?;
    let Err(failure) = apply() else {
        return Ok(());
    };
    let undone = match previous {
        Persisted::Valid(config) => write(kernel, key, &config),
        Persisted::Absent | Persisted::Invalid => delete(kernel, key),
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

fn write<K: KernelApi>(kernel: &K, key: HANDLE, config: &Config) -> Result<(), NtStatus> {
    let mut bytes = [0u8; Config::SIZE];
    config.encode(&mut bytes);
    let name = unicode(&INSPECT_RULES);
    // SAFETY: PASSIVE_LEVEL; `key` is open with KEY_SET_VALUE; `name` and `bytes` outlive the
    // call; TitleIndex is reserved (zero).
    let status = unsafe {
        kernel.zw_set_value_key(
            key,
            &name,
            0,
            REG_BINARY,
            bytes.as_ptr().cast::<c_void>(),
            Config::SIZE as u32,
        )
    };
    NtStatus(status).ok()
}

fn delete<K: KernelApi>(kernel: &K, key: HANDLE) -> Result<(), NtStatus> {
    let name = unicode(&INSPECT_RULES);
    // SAFETY: PASSIVE_LEVEL; `key` is open with KEY_SET_VALUE; `name` outlives the call.
    let status = unsafe { kernel.zw_delete_value_key(key, &name) };
    NtStatus(status).ok()
}
