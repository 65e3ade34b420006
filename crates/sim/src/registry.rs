//! The registry in the simulated stack: the driver's service key and a per-test Parameters
//! table, read through ZwOpenKey / ZwQueryValueKey / ZwClose and written through ZwSetValueKey /
//! ZwDeleteValueKey. Each call needs the access its wdm page names on the key's handle:
//! KEY_QUERY_VALUE to query, KEY_SET_VALUE to set or delete. Without it the simulator answers
//! STATUS_ACCESS_DENIED (ZwSetValueKey's and ZwDeleteValueKey's pages list it) and records a
//! violation: a driver asks for the access it needs. Real Windows may not refuse: a Zw call runs
//! with previous mode KernelMode, and ObReferenceObjectByHandle compares the granted access only
//! for UserMode, so only the violation catches the missing access. A write to a key the
//! simulator does not model (the service key's own values) is recorded as unmodelled, not
//! answered with a status Windows was never seen to give.

use core::ffi::c_void;
use std::collections::{BTreeMap, BTreeSet};
use std::string::String;
use std::vec::Vec;

use super::stack::{SimulatedStack, Violation};
use crate::nt::NtStatus;
use crate::sys::KernelFn;
use crate::sys::types::{
    ACCESS_MASK, HANDLE, KEY_VALUE_PARTIAL_INFORMATION, KEY_VALUE_PARTIAL_INFORMATION_CLASS,
    NTSTATUS, OBJECT_ATTRIBUTES, REG_BINARY, REG_DWORD, UNICODE_STRING,
};

/// STATUS_OBJECT_NAME_NOT_FOUND.
pub(super) const NAME_NOT_FOUND: NtStatus = NtStatus(0xC000_0034_u32 as i32);
/// STATUS_BUFFER_TOO_SMALL.
pub(super) const BUFFER_TOO_SMALL: NtStatus = NtStatus(0xC000_0023_u32 as i32);
/// STATUS_BUFFER_OVERFLOW (a warning: partial data written).
pub(super) const BUFFER_OVERFLOW: NtStatus = NtStatus(0x8000_0005_u32 as i32);
/// STATUS_ACCESS_DENIED: a write through a key opened without KEY_SET_VALUE.
pub(super) const ACCESS_DENIED: NtStatus = NtStatus(0xC000_0022_u32 as i32);
/// `KEY_SET_VALUE` (the simulator's own copy; tests/kernel_facts.rs pins it).
pub(super) const KEY_SET_VALUE: ACCESS_MASK = 0x2;
/// `KEY_QUERY_VALUE` (the simulator's own copy; tests/kernel_facts.rs pins it).
pub(super) const KEY_QUERY_VALUE: ACCESS_MASK = 0x1;

/// A registry value in the simulated Parameters key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryValue {
    /// REG_DWORD.
    Dword(u32),
    /// REG_BINARY.
    Binary(Vec<u8>),
    /// Any other type, as raw bytes.
    Other(u32, Vec<u8>),
}

impl RegistryValue {
    /// The value ZwSetValueKey stores for `kind` and `data`.
    fn decode(kind: u32, data: &[u8]) -> Self {
        match (kind, <[u8; 4]>::try_from(data)) {
            (REG_DWORD, Ok(bytes)) => Self::Dword(u32::from_le_bytes(bytes)),
            (REG_BINARY, _) => Self::Binary(data.to_vec()),
            _ => Self::Other(kind, data.to_vec()),
        }
    }

    fn encode(&self) -> (u32, Vec<u8>) {
        match self {
            Self::Dword(value) => (REG_DWORD, value.to_le_bytes().to_vec()),
            Self::Binary(bytes) => (REG_BINARY, bytes.clone()),
            Self::Other(kind, bytes) => (*kind, bytes.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Service,
    Parameters,
}

#[derive(Debug, Default)]
pub(super) struct Registry {
    parameters: Option<BTreeMap<String, RegistryValue>>,
    /// Open keys: what each is, and the access it was opened with.
    open: BTreeMap<usize, (KeyKind, ACCESS_MASK)>,
    next_key: usize,
    closed: BTreeSet<usize>,
}

impl Registry {
    pub(super) fn open_key_count(&self) -> usize {
        self.open.len()
    }
}

/// `OBJ_KERNEL_HANDLE` (the simulator's own copy; tests/kernel_facts.rs pins it).
pub(super) const OBJ_KERNEL_HANDLE: u32 = 0x0000_0200;

/// The service key path DriverEntry receives in the simulation.
pub const SERVICE_KEY_PATH: &str =
    "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\WfpInjector";

/// # Safety
/// `string` is null or a valid UNICODE_STRING.
pub(super) unsafe fn read_unicode(string: *const UNICODE_STRING) -> Option<String> {
    if string.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees validity.
    let string = unsafe { string.read() };
    if string.Buffer.is_null() {
        return Some(String::new());
    }
    // SAFETY: a valid UNICODE_STRING has Length readable bytes at Buffer.
    let units =
        unsafe { std::slice::from_raw_parts(string.Buffer, usize::from(string.Length) / 2) };
    Some(String::from_utf16_lossy(units))
}

impl SimulatedStack {
    /// Creates the Parameters key (empty) if it does not exist.
    pub fn create_parameters_key(&self) {
        self.lock()
            .registry
            .parameters
            .get_or_insert_with(BTreeMap::new);
    }

    /// A value under the service's Parameters key, as it stands (names compare case-insensitively).
    pub fn parameter(&self, name: &str) -> Option<RegistryValue> {
        self.lock()
            .registry
            .parameters
            .as_ref()?
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    }

    /// Removes a value from the Parameters key, as `reg delete` would.
    pub fn remove_parameter(&self, name: &str) {
        if let Some(values) = self.lock().registry.parameters.as_mut() {
            values.retain(|n, _| !n.eq_ignore_ascii_case(name));
        }
    }

    /// Sets a value under the service's Parameters key (creating the key).
    pub fn set_parameter(&self, name: &str, value: RegistryValue) {
        self.lock()
            .registry
            .parameters
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), value);
    }

    pub(super) fn open_key(
        &self,
        key: *mut HANDLE,
        access: ACCESS_MASK,
        attributes: *const OBJECT_ATTRIBUTES,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if key.is_null() || attributes.is_null() {
            return state.misuse(Violation::NullPointer(KernelFn::ZwOpenKey));
        }
        // SAFETY: the seam's contract: `attributes` is valid.
        let attributes = unsafe { attributes.read() };
        if attributes.Attributes & OBJ_KERNEL_HANDLE == 0 {
            // A driver's handle must be a kernel handle, or the user-mode process the call
            // runs in could use (or close) it.
            return state.misuse(Violation::KeyHandleNotKernel);
        }
        // SAFETY: as above: ObjectName is a valid UNICODE_STRING.
        let name = unsafe { read_unicode(attributes.ObjectName) }.unwrap_or_default();
        let root = attributes.RootDirectory as usize;
        let kind = match (root, state.registry.open.get(&root).map(|(kind, _)| kind)) {
            (0, _) if name.eq_ignore_ascii_case(SERVICE_KEY_PATH) => KeyKind::Service,
            (_, Some(KeyKind::Service))
                if name.eq_ignore_ascii_case("Parameters")
                    && state.registry.parameters.is_some() =>
            {
                KeyKind::Parameters
            }
            (0, _) | (_, Some(_)) => return NAME_NOT_FOUND.0,
            (_, None) => {
                state
                    .violations
                    .push(Violation::StaleKeyHandle(KernelFn::ZwOpenKey, root));
                return NtStatus::INVALID_HANDLE.0;
            }
        };
        state.registry.next_key += 1;
        let handle = 0x7000 + state.registry.next_key * 0x8;
        state.registry.open.insert(handle, (kind, access));
        // SAFETY: the seam's contract: `key` is writable; null was refused above.
        unsafe { key.write(handle as HANDLE) };
        NtStatus::SUCCESS.0
    }

    #[allow(non_snake_case)] // the semantics of ZwQueryValueKey
    pub(super) fn ZwQueryValueKey(
        &self,
        key: HANDLE,
        name: *const UNICODE_STRING,
        class: u32,
        buffer: *mut c_void,
        length: u32,
        result_length: *mut u32,
    ) -> NTSTATUS {
        let mut state = self.lock();
        let Some((kind, access)) = state.registry.open.get(&(key as usize)).copied() else {
            state.violations.push(Violation::StaleKeyHandle(
                KernelFn::ZwQueryValueKey,
                key as usize,
            ));
            return NtStatus::INVALID_HANDLE.0;
        };
        if access & KEY_QUERY_VALUE == 0 {
            // The page: the handle must have been opened with KEY_QUERY_VALUE.
            state
                .violations
                .push(Violation::KeyWithoutQueryValue(KernelFn::ZwQueryValueKey));
            return ACCESS_DENIED.0;
        }
        if class != KEY_VALUE_PARTIAL_INFORMATION_CLASS || result_length.is_null() {
            return NtStatus::INVALID_PARAMETER.0;
        }
        // SAFETY: the seam's contract: `name` is a valid UNICODE_STRING.
        let name = unsafe { read_unicode(name) }.unwrap_or_default();
        let value = match kind {
            KeyKind::Parameters => state
                .registry
                .parameters
                .as_ref()
                .and_then(|values| values.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)))
                .map(|(_, value)| value.encode()),
            KeyKind::Service => None,
        };
        let Some((kind, data)) = value else {
            return NAME_NOT_FOUND.0;
        };
        let header = core::mem::size_of::<KEY_VALUE_PARTIAL_INFORMATION>();
        let needed = (header + data.len()) as u32;
        // SAFETY: the seam's contract: `result_length` is writable.
        unsafe { result_length.write(needed) };
        if (length as usize) < header {
            return BUFFER_TOO_SMALL.0;
        }
        let info = KEY_VALUE_PARTIAL_INFORMATION {
            TitleIndex: 0,
            Type: kind,
            DataLength: data.len() as u32,
        };
        // SAFETY: `buffer` is writable for `length` >= header bytes (seam contract).
        unsafe {
            buffer
                .cast::<KEY_VALUE_PARTIAL_INFORMATION>()
                .write_unaligned(info)
        };
        let room = (length as usize - header).min(data.len());
        // SAFETY: `header` < `length` (checked above), so the pointer stays inside `buffer`.
        let data_start = unsafe { buffer.cast::<u8>().add(header) };
        // SAFETY: `room` bytes fit after the header inside `length`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), data_start, room) };
        if room < data.len() {
            BUFFER_OVERFLOW.0
        } else {
            NtStatus::SUCCESS.0
        }
    }

    /// The Parameters values a write through `key` may change, once `call` checked the handle and
    /// its access; `Err`: the status to answer.
    fn writable_parameters(
        state: &mut super::stack::State,
        call: KernelFn,
        key: HANDLE,
    ) -> Result<&mut BTreeMap<String, RegistryValue>, NTSTATUS> {
        let Some((kind, access)) = state.registry.open.get(&(key as usize)).copied() else {
            state
                .violations
                .push(Violation::StaleKeyHandle(call, key as usize));
            return Err(NtStatus::INVALID_HANDLE.0);
        };
        if access & KEY_SET_VALUE == 0 {
            state.violations.push(Violation::KeyWithoutSetValue(call));
            return Err(ACCESS_DENIED.0);
        }
        match (kind, state.registry.parameters.as_mut()) {
            (KeyKind::Parameters, Some(values)) => Ok(values),
            // The driver writes only under Parameters; the service key's own values are not
            // modelled, and no status is claimed for them: the violation fails the test.
            _ => {
                state
                    .violations
                    .push(Violation::UnmodelledRegistryWrite(call));
                Err(NtStatus::UNSUCCESSFUL.0)
            }
        }
    }

    #[allow(non_snake_case)] // the semantics of ZwSetValueKey
    pub(super) fn ZwSetValueKey(
        &self,
        key: HANDLE,
        name: *const UNICODE_STRING,
        title_index: u32,
        kind: u32,
        data: *const c_void,
        size: u32,
    ) -> NTSTATUS {
        let mut state = self.lock();
        // A null name is the key's unnamed value (the page allows it); null data is not.
        if data.is_null() && size != 0 {
            return state.misuse(Violation::NullPointer(KernelFn::ZwSetValueKey));
        }
        if title_index != 0 {
            // Reserved: drivers pass zero (the page).
            return NtStatus::INVALID_PARAMETER.0;
        }
        let values = match Self::writable_parameters(&mut state, KernelFn::ZwSetValueKey, key) {
            Ok(values) => values,
            Err(status) => return status,
        };
        // SAFETY: the seam's contract: `name` is null (the unnamed value, "") or a valid
        // UNICODE_STRING.
        let name = unsafe { read_unicode(name) }.unwrap_or_default();
        let bytes = if size == 0 {
            Vec::new()
        } else {
            // SAFETY: the seam's contract: `data` is readable for `size` bytes.
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size as usize) }.to_vec()
        };
        // Replaces a value of the same name whatever its case (names are case-insensitive).
        values.retain(|n, _| !n.eq_ignore_ascii_case(&name));
        values.insert(name, RegistryValue::decode(kind, &bytes));
        NtStatus::SUCCESS.0
    }

    #[allow(non_snake_case)] // the semantics of ZwDeleteValueKey
    pub(super) fn ZwDeleteValueKey(&self, key: HANDLE, name: *const UNICODE_STRING) -> NTSTATUS {
        let mut state = self.lock();
        if name.is_null() {
            return state.misuse(Violation::NullPointer(KernelFn::ZwDeleteValueKey));
        }
        let values = match Self::writable_parameters(&mut state, KernelFn::ZwDeleteValueKey, key) {
            Ok(values) => values,
            Err(status) => return status,
        };
        // SAFETY: the seam's contract: `name` is a valid UNICODE_STRING (null refused above).
        let name = unsafe { read_unicode(name) }.unwrap_or_default();
        let before = values.len();
        values.retain(|n, _| !n.eq_ignore_ascii_case(&name));
        if values.len() == before {
            NAME_NOT_FOUND.0
        } else {
            NtStatus::SUCCESS.0
        }
    }

    #[allow(non_snake_case)] // the semantics of ZwClose
    pub(super) fn ZwClose(&self, handle: HANDLE) -> NTSTATUS {
        let mut state = self.lock();
        if state.registry.open.remove(&(handle as usize)).is_none() {
            state.violations.push(Violation::StaleKeyHandle(
                KernelFn::ZwClose,
                handle as usize,
            ));
            return NtStatus::INVALID_HANDLE.0;
        }
        state.registry.closed.insert(handle as usize);
        NtStatus::SUCCESS.0
    }

    pub(super) fn debug_print(&self, component: u32, level: u32, text: *const u8) -> u32 {
        // SAFETY: the seam's contract: `text` is NUL-terminated.
        let text = unsafe { core::ffi::CStr::from_ptr(text.cast()) }
            .to_string_lossy()
            .into_owned();
        // Kept in the log (`debug_log`); echoed to stderr only on request, since the test
        // harness's output capture grows a buffer it keeps, which the host tests' heap balance
        // would count against the test.
        if std::env::var_os("WFP_SIM_DBGPRINT").is_some() {
            std::eprintln!("[DbgPrintEx {component}/{level}] {text}");
        }
        self.lock().log.push((component, level, text));
        0
    }

    /// DbgPrintEx output so far: (component, level, text).
    pub fn debug_log(&self) -> Vec<(u32, u32, String)> {
        self.lock().log.clone()
    }
}
