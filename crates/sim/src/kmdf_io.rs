//! The simulated KMDF's I/O path for a control device, and the I/O manager in front of it: device
//! names and symbolic links, the default queue, requests presented to EvtIoDeviceControl, and a
//! test entry ([`SimulatedStack::device_io_control`]) that plays a user-mode `DeviceIoControl`.
//!
//! What the I/O manager does (windows-driver-docs "Defining I/O Control Codes", "Buffer
//! Descriptions for I/O Control Codes", "SDDL for Device Objects"): the open is checked against the
//! device's security descriptor (its SDDL string; a kernel-only device refuses every user-mode
//! caller); a control code whose access bits ask for FILE_READ_ACCESS or FILE_WRITE_ACCESS reaches
//! the driver only through a handle opened with that right; METHOD_BUFFERED gives the driver one
//! system buffer the size of the larger of the two lengths, with the input copied in, and copies
//! `Information` bytes back to the caller's output buffer when the status is not an error.
//!
//! What the framework does (Windows-Driver-Frameworks fxdeviceapi.cpp, fxdevicekm.cpp,
//! fxpkgio.cpp, fxioqueue.cpp, and the WdfRequest* and WdfIoQueuePurgeSynchronously pages): a
//! request for a device without a queue is failed with STATUS_INVALID_DEVICE_REQUEST; a purged
//! queue fails new requests with STATUS_INVALID_DEVICE_STATE; a sequential queue presents one
//! request at a time; a request is completed exactly once and its handle is invalid afterwards; a
//! symbolic link needs a named device, one link per device, and is removed with the device.
//!
//! Misuse is a violation: completing twice, touching a completed request, `Information` beyond
//! the output buffer, a request the driver still holds when its queue is purged or its device
//! deleted (the framework would wait for it forever).

use std::boxed::Box;
use std::collections::BTreeMap;
use std::string::String;
use std::sync::{Arc, Mutex};
use std::vec::Vec;

use super::stack::{SimulatedStack, State, Violation};
use crate::nt::{Irql, NtStatus};
use crate::sys::KernelFn;
use crate::sys::types::{
    NTSTATUS, PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL, PWDFDEVICE_INIT, UNICODE_STRING,
    WDF_DRIVER_GLOBALS, WDF_IO_QUEUE_CONFIG, WDF_OBJECT_ATTRIBUTES, WDFDEVICE, WDFQUEUE,
    WDFREQUEST,
};

/// The simulator's own copies of the I/O facts it applies (tests/kernel_facts.rs pins each).
pub mod facts {
    /// `sizeof(WDF_IO_QUEUE_CONFIG)` of KMDF 1.31 on x64.
    pub const IO_QUEUE_CONFIG_SIZE: u32 = 96;
    /// `sizeof(WDF_OBJECT_ATTRIBUTES)` (1.31 wdfobject.h, x64).
    pub const OBJECT_ATTRIBUTES_SIZE: u32 = 56;
    /// `WdfExecutionLevelPassive`.
    pub const EXECUTION_LEVEL_PASSIVE: i32 = 2;
    /// `WdfIoQueueDispatchSequential`.
    pub const DISPATCH_SEQUENTIAL: i32 = 1;
    /// `WdfIoQueueDispatchParallel`.
    pub const DISPATCH_PARALLEL: i32 = 2;
    /// `METHOD_BUFFERED`: the low two bits of a control code.
    pub const METHOD_BUFFERED: u32 = 0;
    /// `FILE_READ_ACCESS`, in a control code's access bits (14-15).
    pub const FILE_READ_ACCESS: u32 = 1;
    /// `FILE_WRITE_ACCESS`.
    pub const FILE_WRITE_ACCESS: u32 = 2;
    /// STATUS_ACCESS_DENIED.
    pub const ACCESS_DENIED: u32 = 0xC000_0022;
    /// STATUS_INVALID_DEVICE_REQUEST.
    pub const INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
    /// STATUS_INVALID_DEVICE_STATE.
    pub const INVALID_DEVICE_STATE: u32 = 0xC000_0184;
    /// STATUS_BUFFER_TOO_SMALL.
    pub const BUFFER_TOO_SMALL: u32 = 0xC000_0023;
    /// STATUS_OBJECT_NAME_COLLISION.
    pub const OBJECT_NAME_COLLISION: u32 = 0xC000_0035;
    /// STATUS_OBJECT_NAME_NOT_FOUND.
    pub const OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
    /// STATUS_CANCELLED.
    pub const CANCELLED: u32 = 0xC000_0120;
    /// STATUS_NO_SUCH_DEVICE: what this simulator answers an open of a control device the
    /// driver has not finished (the docs say only that no request is sent to it).
    pub const NO_SUCH_DEVICE: u32 = 0xC000_000E;
    /// STATUS_PENDING.
    pub const PENDING: u32 = 0x0000_0103;
}

use facts::*;

/// What fills a system buffer beyond the input the I/O manager copied in: output the driver
/// reports (`Information`) without writing it shows up as these bytes.
pub const UNWRITTEN: u8 = 0xCD;

/// Who opens the device: the groups a user-mode caller's token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// LocalSystem (SID `SY`).
    System,
    /// An elevated administrator (the Administrators group, `BA`).
    Administrator,
    /// A standard user (Everyone `WD`, Users `BU`, Authenticated Users `AU`).
    User,
}

impl Caller {
    fn has(self, sid: &str) -> bool {
        match self {
            Self::System => matches!(sid, "SY" | "WD" | "AU" | "BA"),
            Self::Administrator => matches!(sid, "BA" | "WD" | "AU" | "BU"),
            Self::User => matches!(sid, "WD" | "AU" | "BU"),
        }
    }
}

/// The rights a handle is opened with (`GENERIC_READ` / `GENERIC_WRITE` map to
/// FILE_READ_DATA / FILE_WRITE_DATA for a device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Read access.
    pub read: bool,
    /// Write access.
    pub write: bool,
}

impl Access {
    /// Read and write.
    pub const READ_WRITE: Self = Self {
        read: true,
        write: true,
    };
    /// Read only.
    pub const READ: Self = Self {
        read: true,
        write: false,
    };
}

/// What a `DeviceIoControl` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoReply {
    /// The request's final status (the I/O manager's own, if the driver never saw it).
    pub status: NtStatus,
    /// `Information` (the bytes returned).
    pub information: usize,
    /// The bytes copied to the caller's output buffer.
    pub output: Vec<u8>,
}

impl IoReply {
    fn refused(status: u32) -> Self {
        Self {
            status: NtStatus(status as i32),
            information: 0,
            output: Vec::new(),
        }
    }
}

struct Queue {
    device: usize,
    default: bool,
    evt_device_control: Option<PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL>,
    purged: bool,
    /// Held while a request is presented: a sequential queue presents one at a time.
    gate: Arc<Mutex<()>>,
    /// The queue asked for PASSIVE_LEVEL callbacks (WDF_OBJECT_ATTRIBUTES.ExecutionLevel);
    /// otherwise it inherits the driver's default, dispatch, and the simulator presents its
    /// requests at DISPATCH_LEVEL, as the framework may.
    passive: bool,
}

struct Request {
    queue: usize,
    /// The METHOD_BUFFERED system buffer (a boxed slice: its address is stable).
    buffer: Box<[u8]>,
    input_length: usize,
    output_length: usize,
    completion: Option<(NTSTATUS, usize)>,
}

/// Names, links, queues and requests of the simulated framework's devices.
#[derive(Default)]
pub(super) struct IoTable {
    /// Symbolic link (lowercase) to device name (lowercase).
    links: BTreeMap<String, (String, usize)>,
    queues: BTreeMap<usize, Queue>,
    requests: BTreeMap<usize, Request>,
    /// Requests completed so far (their handles are stale).
    completed: u64,
}

impl core::fmt::Debug for IoTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IoTable")
            .field("links", &self.links.len())
            .field("queues", &self.queues.len())
            .field("requests", &self.requests.len())
            .finish()
    }
}

impl IoTable {
    /// What the framework does with a deleted device's I/O: its link goes, its queues go, a
    /// request the driver still holds is a violation (deletion would wait for it) and is
    /// cancelled.
    pub(super) fn device_deleted(&mut self, device: usize, violations: &mut Vec<Violation>) {
        self.links.retain(|_, (_, owner)| *owner != device);
        let queues: Vec<usize> = self
            .queues
            .iter()
            .filter(|(_, queue)| queue.device == device)
            .map(|(handle, _)| *handle)
            .collect();
        for queue in queues {
            self.cancel_held(queue, KernelFn::WdfObjectDelete, violations);
            self.queues.remove(&queue);
        }
    }

    fn cancel_held(&mut self, queue: usize, call: KernelFn, violations: &mut Vec<Violation>) {
        let held: Vec<usize> = self
            .requests
            .iter()
            .filter(|(_, request)| request.queue == queue)
            .map(|(handle, _)| *handle)
            .collect();
        for request in held {
            violations.push(Violation::Kmdf(
                call,
                "a request the driver never completed (the framework waits for it forever)",
                request,
            ));
            self.requests.remove(&request);
        }
    }

    /// Live queues and requests, for the leak report.
    pub(super) fn live(&self) -> (usize, usize) {
        (self.queues.len(), self.requests.len())
    }
}

/// `\\.\NAME`, `\??\NAME` and `\DosDevices\NAME` name the same link; the rest of the path after
/// the link's name, if any, is returned too.
fn link_of(path: &str) -> Option<(String, String)> {
    let lower = path.to_ascii_lowercase();
    let rest = lower
        .strip_prefix(r"\\.\")
        .or_else(|| lower.strip_prefix(r"\??\"))
        .or_else(|| lower.strip_prefix(r"\dosdevices\"))?;
    let (name, tail) = match rest.split_once('\\') {
        Some((name, tail)) => (name, tail),
        None => (rest, ""),
    };
    Some((format!(r"\dosdevices\{name}"), tail.into()))
}

/// Whether an SDDL string's DACL lets `caller` open with all access: an allow ACE (`A`) granting
/// `GA` to a SID the caller has. "D:P" alone (no ACE) admits nobody in user mode.
fn sddl_allows(sddl: &str, caller: Caller) -> bool {
    let Some(dacl) = sddl.strip_prefix("D:") else {
        return false;
    };
    dacl.split('(').skip(1).any(|ace| {
        let fields: Vec<&str> = ace.trim_end_matches(')').split(';').collect();
        matches!(fields.as_slice(), ["A", _, rights, _, _, sid] if rights.contains("GA") && caller.has(sid))
    })
}

#[allow(non_snake_case)] // the semantics are named after the WDF functions
impl SimulatedStack {
    /// `WdfDeviceInitAssignName` for `globals`: the name the device gets (null clears it).
    ///
    /// # Safety
    /// As [`crate::sys::WdfApi::wdf_device_init_assign_name`].
    pub unsafe fn WdfDeviceInitAssignName(
        &self,
        globals: *mut WDF_DRIVER_GLOBALS,
        init: PWDFDEVICE_INIT,
        name: *const UNICODE_STRING,
    ) -> NTSTATUS {
        let call = KernelFn::WdfDeviceInitAssignName;
        let mut state = self.lock();
        if super::kmdf::client_of(&mut state, call, globals).is_none() {
            return NtStatus::INVALID_PARAMETER.0;
        }
        let name = if name.is_null() {
            None
        } else {
            // SAFETY: non-null; the contract makes it a valid UNICODE_STRING.
            Some(unsafe { super::kmdf::unicode_to_string(name) })
        };
        match state.kmdf.init_mut(init as usize) {
            Some(record) => {
                record.name = name;
                NtStatus::SUCCESS.0
            }
            None => {
                state.violations.push(Violation::Kmdf(
                    call,
                    "not a live device init",
                    init as usize,
                ));
                NtStatus::INVALID_PARAMETER.0
            }
        }
    }

    /// `WdfDeviceCreateSymbolicLink` for `globals` (fxdeviceapi.cpp, fxdevicekm.cpp).
    ///
    /// # Safety
    /// As [`crate::sys::WdfApi::wdf_device_create_symbolic_link`].
    pub unsafe fn WdfDeviceCreateSymbolicLink(
        &self,
        globals: *mut WDF_DRIVER_GLOBALS,
        device: WDFDEVICE,
        link: *const UNICODE_STRING,
    ) -> NTSTATUS {
        let call = KernelFn::WdfDeviceCreateSymbolicLink;
        let mut state = self.lock();
        if super::kmdf::client_of(&mut state, call, globals).is_none() {
            return NtStatus::INVALID_PARAMETER.0;
        }
        if link.is_null() {
            return state.misuse(Violation::NullPointer(call));
        }
        // SAFETY: non-null; the contract makes it a valid UNICODE_STRING.
        let link = unsafe { super::kmdf::unicode_to_string(link) };
        let key = device as usize;
        let Some(record) = state.kmdf.device(key) else {
            return state.misuse(Violation::Kmdf(call, "not a live device", key));
        };
        if link.is_empty() {
            return INVALID_DEVICE_REQUEST as NTSTATUS;
        }
        let Some(name) = record.name.clone() else {
            // A control device without a name has nothing to link to.
            return INVALID_DEVICE_STATE as NTSTATUS;
        };
        let io = &mut state.kmdf.io;
        if io.links.values().any(|(_, owner)| *owner == key) {
            return INVALID_DEVICE_REQUEST as NTSTATUS;
        }
        let Some((link_key, tail)) = link_of(&link) else {
            // Links live under \DosDevices (\??); the simulation knows no other directory.
            return OBJECT_NAME_NOT_FOUND as NTSTATUS;
        };
        if !tail.is_empty() {
            return OBJECT_NAME_NOT_FOUND as NTSTATUS;
        }
        if io.links.contains_key(&link_key) {
            return OBJECT_NAME_COLLISION as NTSTATUS;
        }
        io.links.insert(link_key, (name.to_ascii_lowercase(), key));
        NtStatus::SUCCESS.0
    }

    /// `WdfIoQueueCreate` for `globals`: a queue of a control device (never power-managed: the
    /// framework forces that for non-PnP devices).
    ///
    /// # Safety
    /// As [`crate::sys::WdfApi::wdf_io_queue_create`].
    pub unsafe fn WdfIoQueueCreate(
        &self,
        globals: *mut WDF_DRIVER_GLOBALS,
        device: WDFDEVICE,
        config: *mut WDF_IO_QUEUE_CONFIG,
        attributes: *mut core::ffi::c_void,
        queue: *mut WDFQUEUE,
    ) -> NTSTATUS {
        let call = KernelFn::WdfIoQueueCreate;
        let mut state = self.lock();
        if super::kmdf::client_of(&mut state, call, globals).is_none() {
            return NtStatus::INVALID_PARAMETER.0;
        }
        if config.is_null() {
            return state.misuse(Violation::NullPointer(call));
        }
        let key = device as usize;
        if state.kmdf.device(key).is_none() {
            return state.misuse(Violation::Kmdf(call, "not a live device", key));
        }
        // SAFETY: non-null; the contract makes it a readable config.
        let config = unsafe { *config };
        if config.Size != IO_QUEUE_CONFIG_SIZE {
            return NtStatus::INVALID_PARAMETER.0;
        }
        if config.DispatchType != DISPATCH_SEQUENTIAL && config.DispatchType != DISPATCH_PARALLEL {
            // Manual queues present nothing; the simulation does not model them.
            return NtStatus::INVALID_PARAMETER.0;
        }
        let passive = if attributes.is_null() {
            false
        } else {
            // SAFETY: non-null; the contract makes it a readable WDF_OBJECT_ATTRIBUTES.
            let attributes = unsafe { *attributes.cast::<WDF_OBJECT_ATTRIBUTES>() };
            if attributes.Size != OBJECT_ATTRIBUTES_SIZE {
                return NtStatus::INVALID_PARAMETER.0;
            }
            attributes.ExecutionLevel == EXECUTION_LEVEL_PASSIVE
        };
        let default = config.DefaultQueue != 0;
        let io = &state.kmdf.io;
        if default
            && io
                .queues
                .values()
                .any(|queue| queue.device == key && queue.default)
        {
            return INVALID_DEVICE_REQUEST as NTSTATUS;
        }
        let handle = state.kmdf.new_handle();
        state.kmdf.io.queues.insert(
            handle,
            Queue {
                device: key,
                default,
                evt_device_control: config.EvtIoDeviceControl,
                passive,
                purged: false,
                gate: Arc::new(Mutex::new(())),
            },
        );
        if !queue.is_null() {
            // SAFETY: non-null; the contract makes it writable.
            unsafe { queue.write(handle as WDFQUEUE) };
        }
        NtStatus::SUCCESS.0
    }

    /// `WdfIoQueuePurgeSynchronously` for `globals`: new requests are refused from now on; it
    /// returns once no request of the queue is being presented. A request the driver holds
    /// uncompleted would make it wait forever: a violation, and the request is cancelled.
    pub fn WdfIoQueuePurgeSynchronously(&self, globals: *mut WDF_DRIVER_GLOBALS, queue: WDFQUEUE) {
        let call = KernelFn::WdfIoQueuePurgeSynchronously;
        let gate = {
            let mut state = self.lock();
            if super::kmdf::client_of(&mut state, call, globals).is_none() {
                return;
            }
            match state.kmdf.io.queues.get_mut(&(queue as usize)) {
                Some(record) => {
                    record.purged = true;
                    Arc::clone(&record.gate)
                }
                None => {
                    state.violations.push(Violation::Kmdf(
                        call,
                        "not a live queue",
                        queue as usize,
                    ));
                    return;
                }
            }
        };
        // Waits for a presentation in progress (the caller is never the queue's own callback).
        drop(gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let mut state = self.lock();
        let State {
            kmdf, violations, ..
        } = &mut *state;
        kmdf.io.cancel_held(queue as usize, call, violations);
    }

    /// The request `request` if the driver may touch it, or a violation.
    fn live_request(
        state: &mut State,
        call: KernelFn,
        request: WDFREQUEST,
    ) -> Option<&mut Request> {
        let key = request as usize;
        let known = state.kmdf.io.requests.contains_key(&key);
        let completed = known
            && state
                .kmdf
                .io
                .requests
                .get(&key)
                .is_some_and(|record| record.completion.is_some());
        if !known || completed {
            state.violations.push(Violation::Kmdf(
                call,
                if completed {
                    "a request used after its completion"
                } else {
                    "not a request presented to the driver"
                },
                key,
            ));
            return None;
        }
        state.kmdf.io.requests.get_mut(&key)
    }

    #[allow(clippy::too_many_arguments)] // the export's four, and which of the two it is
    fn retrieve_buffer(
        &self,
        call: KernelFn,
        globals: *mut WDF_DRIVER_GLOBALS,
        request: WDFREQUEST,
        minimum: usize,
        buffer: *mut *mut core::ffi::c_void,
        length: *mut usize,
        output: bool,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if super::kmdf::client_of(&mut state, call, globals).is_none() {
            return NtStatus::INVALID_PARAMETER.0;
        }
        if buffer.is_null() {
            return state.misuse(Violation::NullPointer(call));
        }
        let Some(record) = Self::live_request(&mut state, call, request) else {
            return NtStatus::INVALID_PARAMETER.0;
        };
        let size = if output {
            record.output_length
        } else {
            record.input_length
        };
        if size == 0 || size < minimum {
            return BUFFER_TOO_SMALL as NTSTATUS;
        }
        // SAFETY: checked non-null; the contract makes both writable.
        unsafe { buffer.write(record.buffer.as_mut_ptr().cast()) };
        if !length.is_null() {
            // SAFETY: as above.
            unsafe { length.write(size) };
        }
        NtStatus::SUCCESS.0
    }

    /// `WdfRequestRetrieveInputBuffer` for `globals`.
    ///
    /// # Safety
    /// As [`crate::sys::WdfApi::wdf_request_retrieve_input_buffer`].
    pub unsafe fn WdfRequestRetrieveInputBuffer(
        &self,
        globals: *mut WDF_DRIVER_GLOBALS,
        request: WDFREQUEST,
        minimum: usize,
        buffer: *mut *mut core::ffi::c_void,
        length: *mut usize,
    ) -> NTSTATUS {
        let call = KernelFn::WdfRequestRetrieveInputBuffer;
        self.retrieve_buffer(call, globals, request, minimum, buffer, length, false)
    }

    /// `WdfRequestRetrieveOutputBuffer` for `globals`: the same system buffer (METHOD_BUFFERED).
    ///
    /// # Safety
    /// As [`crate::sys::WdfApi::wdf_request_retrieve_output_buffer`].
    pub unsafe fn WdfRequestRetrieveOutputBuffer(
        &self,
        globals: *mut WDF_DRIVER_GLOBALS,
        request: WDFREQUEST,
        minimum: usize,
        buffer: *mut *mut core::ffi::c_void,
        length: *mut usize,
    ) -> NTSTATUS {
        let call = KernelFn::WdfRequestRetrieveOutputBuffer;
        self.retrieve_buffer(call, globals, request, minimum, buffer, length, true)
    }

    fn complete(
        &self,
        call: KernelFn,
        globals: *mut WDF_DRIVER_GLOBALS,
        request: WDFREQUEST,
        status: NTSTATUS,
        information: usize,
    ) {
        let mut state = self.lock();
        if super::kmdf::client_of(&mut state, call, globals).is_none() {
            return;
        }
        let Some(record) = Self::live_request(&mut state, call, request) else {
            return;
        };
        let overrun = information > record.output_length && !is_error(status);
        record.completion = Some((status, information.min(record.output_length)));
        state.kmdf.io.completed += 1;
        if overrun {
            // The I/O manager would copy past the caller's buffer.
            state.violations.push(Violation::Kmdf(
                call,
                "Information beyond the output buffer's length",
                information,
            ));
        }
    }

    /// `WdfRequestComplete` for `globals`.
    pub fn WdfRequestComplete(
        &self,
        globals: *mut WDF_DRIVER_GLOBALS,
        request: WDFREQUEST,
        status: NTSTATUS,
    ) {
        self.complete(KernelFn::WdfRequestComplete, globals, request, status, 0);
    }

    /// `WdfRequestCompleteWithInformation` for `globals`.
    pub fn WdfRequestCompleteWithInformation(
        &self,
        globals: *mut WDF_DRIVER_GLOBALS,
        request: WDFREQUEST,
        status: NTSTATUS,
        information: usize,
    ) {
        let call = KernelFn::WdfRequestCompleteWithInformation;
        self.complete(call, globals, request, status, information);
    }

    /// A user-mode `DeviceIoControl` through `path` (`\\.\NAME`) by an elevated administrator
    /// with read and write access: see [`Self::device_io_control_as`].
    pub fn device_io_control(
        &self,
        path: &str,
        code: u32,
        input: &[u8],
        output_length: usize,
    ) -> IoReply {
        self.device_io_control_as(
            path,
            Caller::Administrator,
            Access::READ_WRITE,
            code,
            input,
            output_length,
        )
    }

    /// A user-mode caller opens `path` with `access` (checked against the device's SDDL),
    /// sends `code` with `input` and an output buffer of `output_length` bytes, and closes the
    /// handle: the I/O manager's checks, the framework's dispatch to the default queue, the
    /// driver's EvtIoDeviceControl at PASSIVE_LEVEL, and the copy back. A request the driver
    /// does not complete in its callback answers STATUS_PENDING and stays the driver's.
    pub fn device_io_control_as(
        &self,
        path: &str,
        caller: Caller,
        access: Access,
        code: u32,
        input: &[u8],
        output_length: usize,
    ) -> IoReply {
        let (queue, request, callback, gate, passive) = {
            let mut state = self.lock();
            let Some((link, tail)) = link_of(path) else {
                return IoReply::refused(OBJECT_NAME_NOT_FOUND);
            };
            let Some((_, device)) = state.kmdf.io.links.get(&link).cloned() else {
                return IoReply::refused(OBJECT_NAME_NOT_FOUND);
            };
            let Some(record) = state.kmdf.device(device) else {
                return IoReply::refused(OBJECT_NAME_NOT_FOUND);
            };
            if !record.finished {
                // No request reaches a control device before WdfControlFinishInitializing.
                return IoReply::refused(NO_SUCH_DEVICE);
            }
            // Without FILE_DEVICE_SECURE_OPEN a path below the device's name bypasses its ACL
            // (the open goes to the driver unchecked); the framework always sets it.
            let secure = record.characteristics & super::kmdf::facts::FILE_DEVICE_SECURE_OPEN != 0;
            if (tail.is_empty() || secure) && !sddl_allows(&record.sddl, caller) {
                return IoReply::refused(ACCESS_DENIED);
            }
            let required = (code >> 14) & 3;
            if (required & FILE_READ_ACCESS != 0 && !access.read)
                || (required & FILE_WRITE_ACCESS != 0 && !access.write)
            {
                return IoReply::refused(ACCESS_DENIED);
            }
            let Some((queue, record)) = state
                .kmdf
                .io
                .queues
                .iter()
                .find(|(_, queue)| queue.device == device && queue.default)
            else {
                return IoReply::refused(INVALID_DEVICE_REQUEST);
            };
            if record.purged {
                return IoReply::refused(INVALID_DEVICE_STATE);
            }
            let Some(callback) = record.evt_device_control else {
                return IoReply::refused(INVALID_DEVICE_REQUEST);
            };
            if code & 3 != METHOD_BUFFERED {
                // Only buffered control codes are modelled; the driver defines no other.
                return IoReply::refused(INVALID_DEVICE_REQUEST);
            }
            let (queue, gate, passive) = (*queue, Arc::clone(&record.gate), record.passive);
            let mut buffer = vec![UNWRITTEN; input.len().max(output_length)].into_boxed_slice();
            buffer[..input.len()].copy_from_slice(input);
            let handle = state.kmdf.new_handle();
            state.kmdf.io.requests.insert(
                handle,
                Request {
                    queue,
                    buffer,
                    input_length: input.len(),
                    output_length,
                    completion: None,
                },
            );
            (queue, handle, callback, gate, passive)
        };
        let presenting = gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self
            .lock()
            .kmdf
            .io
            .queues
            .get(&queue)
            .is_none_or(|record| record.purged)
        {
            // Purged (or deleted) while the request waited for its turn: cancelled.
            self.lock().kmdf.io.requests.remove(&request);
            return IoReply::refused(CANCELLED);
        }
        {
            // A queue that did not ask for PASSIVE_LEVEL inherits dispatch: its requests are
            // presented at DISPATCH_LEVEL here, as the framework may (from a DPC or another
            // thread's dispatch), so a driver that needs PASSIVE_LEVEL must ask for it.
            let level = if passive {
                Irql::PASSIVE
            } else {
                Irql::DISPATCH
            };
            let _level = self.set_irql(level);
            // SAFETY: the driver's EvtIoDeviceControl, with a queue and request the framework
            // made, at the queue's execution level, one at a time on this queue.
            unsafe {
                callback(
                    queue as WDFQUEUE,
                    request as WDFREQUEST,
                    output_length,
                    input.len(),
                    code,
                );
            }
        }
        drop(presenting);
        let mut state = self.lock();
        let Some((status, information)) = state
            .kmdf
            .io
            .requests
            .get(&request)
            .and_then(|record| record.completion)
        else {
            return IoReply::refused(PENDING);
        };
        let Some(record) = state.kmdf.io.requests.remove(&request) else {
            return IoReply::refused(PENDING);
        };
        let output = if is_error(status) {
            Vec::new()
        } else {
            record.buffer[..information].to_vec()
        };
        IoReply {
            status: NtStatus(status),
            information,
            output,
        }
    }

    /// Requests completed so far.
    pub fn requests_completed(&self) -> u64 {
        self.lock().kmdf.io.completed
    }

    /// The symbolic links of live devices (lowercase), with the device names they point to.
    pub fn symbolic_links(&self) -> Vec<(String, String)> {
        self.lock()
            .kmdf
            .io
            .links
            .iter()
            .map(|(link, (name, _))| (link.clone(), name.clone()))
            .collect()
    }
}

/// NT_ERROR: severity 3.
fn is_error(status: NTSTATUS) -> bool {
    (status as u32) >> 30 == 3
}
