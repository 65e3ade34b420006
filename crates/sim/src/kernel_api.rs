//! The simulated stack's implementation of the seam, derived from the declaration list: every
//! call runs the common prologue (counted, refused above its documented IRQL, or failed as a
//! test planned), then its semantics, a `SimulatedStack` method named after the export.

use core::ffi::c_void;
use std::time::Duration;

use super::packets::{InjectCall, InjectionPath, NOT_INJECTED};
use super::stack::{HANDLE_STEP, HandleRecord, SimulatedStack, Violation};
use crate::bfe_state;
use crate::nt::NtStatus;
use crate::sys::types::*;
use crate::sys::{KernelApi, KernelFn, WdfApi};

/// Derives `KernelApi` and `WdfApi` for `&SimulatedStack` from the flat list: the prologue,
/// then the semantics. The host-compiled driver's WDF calls come from the host client (null
/// globals).
macro_rules! simulated_items {
    ($([$kind:ident $role:tt $method:ident $export:ident ($($arg:ident: $ty:ty),*) ($($ret:ty)?) $where:literal $irql:ident])*) => {
        /// Whether the function returns a value (the list's `->`): VOID functions have none.
        pub(crate) fn returns_a_value(call: KernelFn) -> bool {
            match call {
                $(KernelFn::$export => returns!($($ret)?),)*
            }
        }

        #[allow(clippy::too_many_arguments)]
        impl KernelApi for &SimulatedStack {
            $(simulated_method!(import $kind $role $method $export() ($($arg: $ty),*) $(-> $ret)?);)*

            fn current_processor_index() -> u32 {
                super::processors::current_processor_of_classify()
            }
        }

        #[allow(clippy::too_many_arguments)]
        impl WdfApi for &SimulatedStack {
            $(
                simulated_method!(
                    wdf $kind $role $method $export(core::ptr::null_mut(),) ($($arg: $ty),*) $(-> $ret)?
                );
            )*
        }
    };
}

/// `true` when the list's entry has a return type.
macro_rules! returns {
    () => {
        false
    };
    ($ret:ty) => {
        true
    };
}

/// One method: the prologue, then the semantics.
macro_rules! simulated_method {
    // An entry of the trait being derived (imports for KernelApi, wdf entries for WdfApi).
    (import import $($entry:tt)*) => {
        simulated_method!(@method $($entry)*);
    };
    (wdf wdf $($entry:tt)*) => {
        simulated_method!(@method $($entry)*);
    };
    (@method safe $method:ident $export:ident($($lead:expr,)*) ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        fn $method(&self, $($arg: $ty),*) $(-> $ret)? {
            self.call(KernelFn::$export, || SimulatedStack::$export(self, $($lead,)* $($arg),*))
        }
    };
    (@method unsafe $method:ident $export:ident($($lead:expr,)*) ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        #[allow(unused_unsafe)]
        unsafe fn $method(&self, $($arg: $ty),*) $(-> $ret)? {
            self.call(KernelFn::$export, || {
                // SAFETY: the caller upholds the trait method's contract, which the semantics
                // assume.
                unsafe { SimulatedStack::$export(self, $($lead,)* $($arg),*) }
            })
        }
    };
    // The runtime's and the loader's functions, and the other section's entries.
    ($($other:tt)*) => {};
}

wfp_seam::kernel_functions!(simulated_items);

/// What a call refused by the prologue returns, given its return type; `None`: the call goes on
/// (a VOID function has nothing to report, so its semantics run and record what they must).
pub trait Refusal: Sized {
    /// `Some`: what `call` returns when the prologue refuses it with `status`.
    fn refused(call: KernelFn, status: NtStatus) -> Option<Self>;
}

impl Refusal for i32 {
    fn refused(call: KernelFn, status: NtStatus) -> Option<Self> {
        Some(match call {
            // Not statuses: an injection state (a refused query reads as not injected, the
            // answer that makes no driver skip a packet) and a BFE state (stopped).
            KernelFn::FwpsQueryPacketInjectionState0 => NOT_INJECTED,
            KernelFn::FwpmBfeStateGet0 => bfe_state::STOPPED,
            _ => status.0,
        })
    }
}

impl Refusal for u32 {
    fn refused(_: KernelFn, status: NtStatus) -> Option<Self> {
        // DbgPrintEx's ULONG is an NTSTATUS.
        Some(status.0 as u32)
    }
}

/// BOOLEAN answers (rundown acquire, DPC insert) read FALSE; KIRQL is never refused.
impl Refusal for u8 {
    fn refused(_: KernelFn, _: NtStatus) -> Option<Self> {
        Some(0)
    }
}

impl Refusal for u64 {
    fn refused(_: KernelFn, _: NtStatus) -> Option<Self> {
        Some(0)
    }
}

impl Refusal for isize {
    fn refused(_: KernelFn, _: NtStatus) -> Option<Self> {
        Some(0)
    }
}

impl<T> Refusal for *mut T {
    fn refused(_: KernelFn, _: NtStatus) -> Option<Self> {
        Some(core::ptr::null_mut())
    }
}

impl Refusal for () {
    fn refused(_: KernelFn, _: NtStatus) -> Option<Self> {
        None
    }
}

impl SimulatedStack {
    /// Runs `action` once, on the calling thread, when the driver next calls `call`: before the
    /// call takes effect and outside the stack's lock (so it may deliver packets or make calls
    /// of its own), as if another thread acted at that moment. Replaces an earlier plan.
    pub fn before_next(
        &self,
        call: KernelFn,
        action: impl FnOnce(&SimulatedStack) + Send + 'static,
    ) {
        self.lock().before_next.0 = Some((call, Box::new(action)));
    }

    /// A simulated kernel function: the prologue every one shares (counts the call, records a
    /// call above the IRQL the declaration list allows, takes a planned failure), then
    /// `semantics` unless the call was refused. The count becomes visible with the semantics'
    /// first critical section, so a test that sees it also sees the call's first effect.
    pub fn call<R: Refusal>(&self, call: KernelFn, semantics: impl FnOnce() -> R) -> R {
        let mut state = self.lock();
        let before = state.before_next.0.take_if(|(planned, _)| *planned == call);
        let refused = state.check(call);
        if refused.is_some() {
            *state.calls.entry(call).or_default() += 1;
        }
        drop(state);
        if let Some((_, action)) = before {
            // Outside the lock, on the driver's thread, before the call takes effect: what
            // another thread could do at that moment.
            action(self);
        }
        if let Some(answer) = refused.and_then(|status| R::refused(call, status)) {
            return answer;
        }
        if refused.is_none() {
            self.defer_count(call);
        }
        let result = semantics();
        self.settle_count();
        result
    }
}

const AF_UNSPEC: u16 = 0;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 23;
const KNOWN_INJECTION_TYPES: u32 = 0xF;
const NETWORK: u32 = 0x4;

/// The semantics of each kernel function, named after the export and taking the list's
/// parameters; the prologue every call shares runs before (`simulated_method!`).
#[allow(non_snake_case, clippy::too_many_arguments)]
impl SimulatedStack {
    pub(crate) fn KeGetCurrentIrql(&self) -> KIRQL {
        self.lock().irql_of_current_thread().0
    }

    pub(crate) unsafe fn ObfReferenceObject(&self, object: *mut c_void) -> isize {
        let mut state = self.lock();
        let count = state.references.entry(object as usize).or_insert(1);
        *count += 1;
        *count as isize
    }

    pub(crate) fn KeQueryUnbiasedInterruptTime(&self) -> u64 {
        // The virtual clock in 100 ns units, plus one per call so that two reads always differ
        // (a real clock moves between two loads).
        let mut state = self.lock();
        state.interrupt_time_reads += 1;
        (state.clock.as_nanos() / 100) as u64 + state.interrupt_time_reads
    }

    pub(crate) unsafe fn KeDelayExecutionThread(
        &self,
        _wait_mode: KPROCESSOR_MODE,
        _alertable: BOOLEAN,
        interval: *const i64,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if interval.is_null() {
            return state.misuse(Violation::NullPointer(KernelFn::KeDelayExecutionThread));
        }
        // SAFETY: the seam's contract makes `interval` a readable i64; null was refused above.
        let ticks = unsafe { interval.read() };
        // Negative: relative; positive: absolute system time (virtual clock), zero: yield.
        let wait = if ticks < 0 {
            Duration::from_nanos(ticks.unsigned_abs().saturating_mul(100))
        } else {
            Duration::from_nanos((ticks as u64).saturating_mul(100)).saturating_sub(state.clock)
        };
        state.clock += wait;
        state.sleeps.push(wait);
        drop(state);
        // Deferred load: which thread slept, and held worker sleeps.
        self.boot_sleep(wait);
        // A power routine's wait, held while a test acts.
        self.power_sleep();
        // The sleeping thread also gives up real time (a thousandth of the virtual wait, at most
        // a millisecond), so threads it waits for make progress while it polls, as on a real
        // machine where a 10 ms sleep lets other processors finish their classifies.
        std::thread::sleep((wait / 1000).min(Duration::from_millis(1)));
        NtStatus::SUCCESS.0
    }

    pub(crate) unsafe fn FwpsInjectionHandleCreate0(
        &self,
        address_family: ADDRESS_FAMILY,
        flags: u32,
        handle: *mut HANDLE,
    ) -> NTSTATUS {
        let mut state = self.lock();
        if handle.is_null() {
            return state.misuse(Violation::NullPointer(KernelFn::FwpsInjectionHandleCreate0));
        }
        if state.not_ready_creates > 0 {
            state.not_ready_creates -= 1;
            return NtStatus::FWP_TCPIP_NOT_READY.0;
        }
        if SimulatedStack::tcpip_not_ready_yet(&state) {
            return NtStatus::FWP_TCPIP_NOT_READY.0;
        }
        let family_known = matches!(address_family, AF_UNSPEC | AF_INET | AF_INET6);
        let network_without_family = address_family == AF_UNSPEC && flags & NETWORK != 0;
        if !family_known || flags & !KNOWN_INJECTION_TYPES != 0 || network_without_family {
            return NtStatus::INVALID_PARAMETER.0;
        }
        let raw = state.next_handle;
        state.next_handle += HANDLE_STEP;
        state.handles.insert(
            raw,
            HandleRecord {
                raw,
                family: address_family,
                flags,
                destroyed: false,
                closing: false,
            },
        );
        // SAFETY: the seam's contract makes `handle` writable; null was refused above.
        unsafe { handle.write(raw as *mut c_void) };
        NtStatus::SUCCESS.0
    }

    pub(crate) unsafe fn FwpsInjectionHandleDestroy0(&self, handle: HANDLE) -> NTSTATUS {
        let raw = handle as usize;
        {
            let mut state = self.lock();
            if state.completing_on(raw) {
                // Destroy waits for every injection on the handle to complete, this one
                // included, which cannot happen while its completion waits for destroy.
                state
                    .violations
                    .push(Violation::DestroyInsideCompletion(raw));
                return NtStatus::INVALID_DEVICE_STATE.0;
            }
            let violation = match state.handles.get_mut(&raw) {
                None => Some(Violation::DestroyUnknownHandle(raw)),
                Some(record) if record.destroyed => Some(Violation::DestroyDestroyedHandle(raw)),
                Some(record) => {
                    // New injections now get STATUS_FWP_INJECT_HANDLE_CLOSING.
                    record.closing = true;
                    None
                }
            };
            if let Some(violation) = violation {
                state.violations.push(violation);
                return NtStatus::INVALID_HANDLE.0;
            }
        }
        // Destroy returns only once the injections WFP accepted on the handle have completed.
        self.wait_until(KernelFn::FwpsInjectionHandleDestroy0, |state| {
            state.pending_on(raw) == 0
        });
        if let Some(record) = self.lock().handles.get_mut(&raw) {
            record.destroyed = true;
        }
        NtStatus::SUCCESS.0
    }

    pub(crate) unsafe fn FwpsQueryPacketInjectionState0(
        &self,
        handle: HANDLE,
        nbl: *const NET_BUFFER_LIST,
        injection_context: *mut HANDLE,
    ) -> FWPS_PACKET_INJECTION_STATE {
        self.query(handle, nbl, injection_context)
    }

    pub(crate) unsafe fn FwpsInjectTransportSendAsync0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        endpoint_handle: u64,
        flags: u32,
        send_args: *mut FWPS_TRANSPORT_SEND_PARAMS0,
        address_family: ADDRESS_FAMILY,
        compartment_id: COMPARTMENT_ID,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::TransportSend,
            reserved_in_use: flags != 0,
            handle,
            injection_context,
            family: address_family,
            compartment: compartment_id,
            interface_index: 0,
            sub_interface_index: 0,
            send_args,
            endpoint_or_flow: endpoint_handle,
            data_length: 0,
            nbl,
            completion,
            completion_context,
        })
    }

    pub(crate) unsafe fn FwpsInjectTransportReceiveAsync0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        reserved: *mut c_void,
        flags: u32,
        address_family: ADDRESS_FAMILY,
        compartment_id: COMPARTMENT_ID,
        interface_index: IF_INDEX,
        sub_interface_index: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::TransportReceive,
            reserved_in_use: flags != 0 || !reserved.is_null(),
            handle,
            injection_context,
            family: address_family,
            compartment: compartment_id,
            interface_index,
            sub_interface_index,
            send_args: core::ptr::null_mut(),
            endpoint_or_flow: 0,
            data_length: 0,
            nbl,
            completion,
            completion_context,
        })
    }

    pub(crate) unsafe fn FwpsInjectNetworkSendAsync0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        flags: u32,
        compartment_id: COMPARTMENT_ID,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::NetworkSend,
            reserved_in_use: flags != 0,
            handle,
            injection_context,
            family: 0,
            compartment: compartment_id,
            interface_index: 0,
            sub_interface_index: 0,
            send_args: core::ptr::null_mut(),
            endpoint_or_flow: 0,
            data_length: 0,
            nbl,
            completion,
            completion_context,
        })
    }

    pub(crate) unsafe fn FwpsInjectNetworkReceiveAsync0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        flags: u32,
        compartment_id: COMPARTMENT_ID,
        interface_index: IF_INDEX,
        sub_interface_index: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::NetworkReceive,
            reserved_in_use: flags != 0,
            handle,
            injection_context,
            family: 0,
            compartment: compartment_id,
            interface_index,
            sub_interface_index,
            send_args: core::ptr::null_mut(),
            endpoint_or_flow: 0,
            data_length: 0,
            nbl,
            completion,
            completion_context,
        })
    }

    pub(crate) unsafe fn FwpsInjectForwardAsync0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        flags: u32,
        address_family: ADDRESS_FAMILY,
        compartment_id: COMPARTMENT_ID,
        interface_index: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::Forward,
            reserved_in_use: flags != 0,
            handle,
            injection_context,
            family: address_family,
            compartment: compartment_id,
            interface_index,
            sub_interface_index: 0,
            send_args: core::ptr::null_mut(),
            endpoint_or_flow: 0,
            data_length: 0,
            nbl,
            completion,
            completion_context,
        })
    }

    pub(crate) unsafe fn FwpsStreamInjectAsync0(
        &self,
        handle: HANDLE,
        injection_context: HANDLE,
        flags: u32,
        flow_id: u64,
        _callout_id: u32,
        _layer_id: u16,
        _stream_flags: u32,
        nbl: *mut NET_BUFFER_LIST,
        data_length: usize,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        self.inject(InjectCall {
            path: InjectionPath::Stream,
            reserved_in_use: flags != 0,
            handle,
            injection_context,
            family: 0,
            compartment: 0,
            interface_index: 0,
            sub_interface_index: 0,
            send_args: core::ptr::null_mut(),
            endpoint_or_flow: flow_id,
            data_length,
            nbl,
            completion,
            completion_context,
        })
    }

    pub(crate) unsafe fn FwpsAllocateCloneNetBufferList0(
        &self,
        original: *mut NET_BUFFER_LIST,
        _nbl_pool: *mut c_void,
        _nb_pool: *mut c_void,
        flags: u32,
        clone: *mut *mut NET_BUFFER_LIST,
    ) -> NTSTATUS {
        self.clone_packet(original, clone, flags)
    }

    pub(crate) unsafe fn FwpmEngineOpen0(
        &self,
        _server_name: *const u16,
        _authn_service: u32,
        _auth_identity: *mut c_void,
        session: *const FWPM_SESSION0,
        engine: *mut HANDLE,
    ) -> NTSTATUS {
        self.engine_open(session, engine)
    }

    pub(crate) unsafe fn FwpmTransactionBegin0(&self, engine: HANDLE, _flags: u32) -> NTSTATUS {
        self.transaction(KernelFn::FwpmTransactionBegin0, engine)
    }

    pub(crate) unsafe fn FwpmTransactionCommit0(&self, engine: HANDLE) -> NTSTATUS {
        self.transaction(KernelFn::FwpmTransactionCommit0, engine)
    }

    pub(crate) unsafe fn FwpmTransactionAbort0(&self, engine: HANDLE) -> NTSTATUS {
        self.transaction(KernelFn::FwpmTransactionAbort0, engine)
    }

    pub(crate) unsafe fn FwpmProviderAdd0(
        &self,
        engine: HANDLE,
        provider: *const FWPM_PROVIDER0,
        _security: *mut c_void,
    ) -> NTSTATUS {
        self.provider_add(engine, provider)
    }

    pub(crate) unsafe fn FwpmProviderDeleteByKey0(
        &self,
        engine: HANDLE,
        key: *const GUID,
    ) -> NTSTATUS {
        self.object_delete(KernelFn::FwpmProviderDeleteByKey0, engine, key)
    }

    pub(crate) unsafe fn FwpmSubLayerAdd0(
        &self,
        engine: HANDLE,
        sublayer: *const FWPM_SUBLAYER0,
        _security: *mut c_void,
    ) -> NTSTATUS {
        self.sublayer_add(engine, sublayer)
    }

    pub(crate) unsafe fn FwpmSubLayerDeleteByKey0(
        &self,
        engine: HANDLE,
        key: *const GUID,
    ) -> NTSTATUS {
        self.object_delete(KernelFn::FwpmSubLayerDeleteByKey0, engine, key)
    }

    pub(crate) unsafe fn FwpmCalloutAdd0(
        &self,
        engine: HANDLE,
        callout: *const FWPM_CALLOUT0,
        _security: *mut c_void,
        _id: *mut u32,
    ) -> NTSTATUS {
        self.callout_add(engine, callout)
    }

    pub(crate) unsafe fn FwpmCalloutDeleteByKey0(
        &self,
        engine: HANDLE,
        key: *const GUID,
    ) -> NTSTATUS {
        self.object_delete(KernelFn::FwpmCalloutDeleteByKey0, engine, key)
    }

    pub(crate) unsafe fn FwpmFilterAdd0(
        &self,
        engine: HANDLE,
        filter: *const FWPM_FILTER0,
        _security: *mut c_void,
        id: *mut u64,
    ) -> NTSTATUS {
        self.filter_add(engine, filter, id)
    }

    pub(crate) unsafe fn FwpmFilterDeleteByKey0(
        &self,
        engine: HANDLE,
        key: *const GUID,
    ) -> NTSTATUS {
        self.object_delete(KernelFn::FwpmFilterDeleteByKey0, engine, key)
    }

    pub(crate) unsafe fn NdisRetreatNetBufferDataStart(
        &self,
        net_buffer: *mut NET_BUFFER,
        delta: u32,
        _back_fill: u32,
        _allocate_mdl: *mut c_void,
    ) -> NDIS_STATUS {
        self.retreat(net_buffer, delta)
    }

    pub(crate) unsafe fn NdisAdvanceNetBufferDataStart(
        &self,
        net_buffer: *mut NET_BUFFER,
        delta: u32,
        _free_mdl: BOOLEAN,
        _free_mdl_handler: *mut c_void,
    ) {
        self.advance(net_buffer, delta);
    }

    pub(crate) unsafe fn NdisGetDataBuffer(
        &self,
        net_buffer: *mut NET_BUFFER,
        bytes: u32,
        storage: *mut c_void,
        _align_multiple: u32,
        _align_offset: u32,
    ) -> *mut c_void {
        self.data_buffer(net_buffer, bytes, storage)
    }

    pub(crate) unsafe fn ZwOpenKey(
        &self,
        key: *mut HANDLE,
        access: ACCESS_MASK,
        attributes: *const OBJECT_ATTRIBUTES,
    ) -> NTSTATUS {
        self.open_key(key, access, attributes)
    }

    pub(crate) unsafe fn DbgPrintEx(
        &self,
        component: u32,
        level: u32,
        format: *const u8,
        text: *const u8,
    ) -> u32 {
        if format.is_null() || text.is_null() {
            self.lock()
                .violations
                .push(Violation::NullPointer(KernelFn::DbgPrintEx));
            return NtStatus::INVALID_PARAMETER.0 as u32;
        }
        // SAFETY: the seam's contract: `format` is NUL-terminated; null was refused above.
        let format = unsafe { core::ffi::CStr::from_ptr(format.cast()) };
        if format.to_bytes() != b"%s" {
            self.lock().violations.push(Violation::FormatNotText);
            return NtStatus::INVALID_PARAMETER.0 as u32;
        }
        self.debug_print(component, level, text)
    }

    // ---- Reinjection rules. ----

    pub(crate) unsafe fn FwpsGetPacketListSecurityInformation0(
        &self,
        packet_list: *mut NET_BUFFER_LIST,
        query_flags: u32,
        information: *mut crate::sys::types::FWPS_PACKET_LIST_INFORMATION0,
    ) -> NTSTATUS {
        self.packet_security_information(packet_list, query_flags, information.cast())
    }

    // ---- Deferred load ----

    // ---- Power transitions (power.rs) ----

    pub(crate) unsafe fn ExCreateCallback(
        &self,
        object: *mut PCALLBACK_OBJECT,
        attributes: *const OBJECT_ATTRIBUTES,
        create: BOOLEAN,
        allow_multiple_callbacks: BOOLEAN,
    ) -> NTSTATUS {
        self.callback_create(object, attributes, create, allow_multiple_callbacks)
    }

    pub(crate) unsafe fn ExRegisterCallback(
        &self,
        object: PCALLBACK_OBJECT,
        function: CALLBACK_FUNCTION,
        context: *mut c_void,
    ) -> *mut c_void {
        self.callback_register(object, function, context)
    }

    pub(crate) unsafe fn ExUnregisterCallback(&self, registration: *mut c_void) {
        self.callback_unregister(registration)
    }

    pub(crate) unsafe fn ObfDereferenceObject(&self, object: *mut c_void) -> isize {
        self.dereference_object(object)
    }
}
