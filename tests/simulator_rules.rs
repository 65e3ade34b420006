//! The simulator's strictness rules, each shown catching the misuse it exists for through the
//! raw seam (what Windows or Driver Verifier would refuse, hang on or corrupt), and the injector
//! and the driver shown coping with what WFP may legitimately do (complete an injection inside
//! the inject call).

#[path = "support/heap.rs"]
mod heap;

#[path = "support/host_driver.rs"]
mod host_driver;

use core::ffi::c_void;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use wfp_injector::inject::{
    ClonedNetBufferList, Completion, CompletionHandler, DualStackInjector, Forward, Injection,
    InjectionTypes, IpFamily, IpProtocol, NetBufferListRef, NetworkReceive, NetworkSend,
    PacketInjector, RemoteAddress, RetryPolicy, StreamInject, Tag, TransportReceive, TransportSend,
};
use wfp_injector::nt::{Irql, NtStatus};
use wfp_injector::sys::KernelApi;
use wfp_injector::sys::types::{
    HANDLE, KDPC, NET_BUFFER, NET_BUFFER_LIST, OBJECT_ATTRIBUTES, UNICODE_STRING,
};
use wfp_sim::traffic::{Delivery, Layer};
use wfp_sim::{
    KernelFn, NetBufferSpec, RegistryValue, SimulatedStack, SyncCompletions, Violation, constants,
};

const AF_INET: u16 = 2;
const TRANSPORT: u32 = 0x2;
const FORWARD: u32 = 0x8;
const STREAM: u32 = 0x1;

/// IPv4, protocol `protocol`, 20-byte header then 8 bytes.
fn ipv4(protocol: u8) -> Vec<u8> {
    let mut bytes = vec![
        0x45, 0, 0, 28, 0, 0, 0, 0, 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    bytes.extend_from_slice(&[0x12, 0x34, 0x00, 0x35, 0, 8, 0, 0]);
    bytes
}

fn create(sim: &SimulatedStack, flags: u32) -> HANDLE {
    let mut handle: HANDLE = ptr::null_mut();
    // SAFETY: PASSIVE_LEVEL; `handle` is writable.
    let status = unsafe { (&sim).fwps_injection_handle_create0(AF_INET, flags, &mut handle) };
    assert_eq!(NtStatus(status), NtStatus::SUCCESS);
    handle
}

fn destroy(sim: &SimulatedStack, handle: HANDLE) {
    // SAFETY: a live handle of `sim`, at PASSIVE_LEVEL.
    let status = unsafe { (&sim).fwps_injection_handle_destroy0(handle) };
    assert_eq!(NtStatus(status), NtStatus::SUCCESS);
}

fn clone(sim: &SimulatedStack, original: *mut NET_BUFFER_LIST) -> *mut NET_BUFFER_LIST {
    let mut clone = ptr::null_mut();
    // SAFETY: `original` is a live NBL of `sim`; `clone` is writable.
    let status = unsafe {
        (&sim).fwps_allocate_clone_net_buffer_list0(
            original,
            ptr::null_mut(),
            ptr::null_mut(),
            0,
            &mut clone,
        )
    };
    assert_eq!(NtStatus(status), NtStatus::SUCCESS);
    clone
}

fn free(sim: &SimulatedStack, clone: *mut NET_BUFFER_LIST) {
    // SAFETY: `clone` is a clone of `sim` that WFP does not hold.
    unsafe { (&sim).fwps_free_clone_net_buffer_list0(clone, 0) };
}

/// What the raw completions below get as their context.
struct RawContext<'a> {
    sim: &'a SimulatedStack,
    handle: HANDLE,
    completions: AtomicUsize,
    destroy_status: Mutex<Option<NtStatus>>,
}

/// Frees the clone and counts.
unsafe extern "win64" fn free_on_completion(
    context: *mut c_void,
    nbl: *mut NET_BUFFER_LIST,
    _dispatch: u8,
) {
    // SAFETY: the tests pass a RawContext that outlives the injection.
    let context = unsafe { &*context.cast::<RawContext<'_>>() };
    free(context.sim, nbl);
    context.completions.fetch_add(1, Ordering::SeqCst);
}

/// Destroys the injection handle from inside the completion (the deadlock), then frees.
unsafe extern "win64" fn destroy_on_completion(
    context: *mut c_void,
    nbl: *mut NET_BUFFER_LIST,
    _dispatch: u8,
) {
    // SAFETY: the tests pass a RawContext that outlives the injection.
    let context = unsafe { &*context.cast::<RawContext<'_>>() };
    // SAFETY: deliberately wrong: the handle whose injection is completing.
    let status = unsafe { (&context.sim).fwps_injection_handle_destroy0(context.handle) };
    *context.destroy_status.lock().unwrap() = Some(NtStatus(status));
    free(context.sim, nbl);
    context.completions.fetch_add(1, Ordering::SeqCst);
}

fn raw_context(sim: &SimulatedStack, handle: HANDLE) -> RawContext<'_> {
    RawContext {
        sim,
        handle,
        completions: AtomicUsize::new(0),
        destroy_status: Mutex::new(None),
    }
}

/// FwpsInjectTransportReceiveAsync0 of `nbl` (IPv4) with `flags` and `reserved`.
fn inject_receive(
    sim: &SimulatedStack,
    handle: HANDLE,
    nbl: *mut NET_BUFFER_LIST,
    flags: u32,
    reserved: *mut c_void,
    completion: unsafe extern "win64" fn(*mut c_void, *mut NET_BUFFER_LIST, u8),
    context: &RawContext<'_>,
) -> NtStatus {
    // SAFETY: live handle and NBL of `sim`; the context outlives the injection.
    NtStatus(unsafe {
        (&sim).fwps_inject_transport_receive_async0(
            handle,
            ptr::null_mut(),
            reserved,
            flags,
            AF_INET,
            0,
            1,
            0,
            nbl,
            completion,
            ptr::from_ref(context).cast_mut().cast(),
        )
    })
}

/// A stack with a TRANSPORT handle and an indicated IPv4 UDP packet for `case`; then the packet
/// goes back, the handle is destroyed and the stack must be clean.
fn with_handle_and_packet(case: impl FnOnce(&SimulatedStack, HANDLE, *mut NET_BUFFER_LIST)) {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let handle = create(&sim, TRANSPORT);
    let original = sim.indicate_packet(&ipv4(17));
    case(&sim, handle, original);
    sim.return_packet(original);
    destroy(&sim, handle);
    sim.assert_clean();
}

/// [`inject_receive`] through the context's handle, without flags or reserved data.
fn receive(
    context: &RawContext<'_>,
    nbl: *mut NET_BUFFER_LIST,
    completion: unsafe extern "win64" fn(*mut c_void, *mut NET_BUFFER_LIST, u8),
) -> NtStatus {
    let (sim, handle) = (context.sim, context.handle);
    inject_receive(sim, handle, nbl, 0, ptr::null_mut(), completion, context)
}

#[test]
fn a_synchronous_completion_runs_inside_the_inject_call() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_sync_completions(SyncCompletions::Always);
    let handle = create(&sim, TRANSPORT);
    let original = sim.indicate_packet(&ipv4(17));
    let context = raw_context(&sim, handle);
    let status = receive(&context, clone(&sim, original), free_on_completion);
    assert_eq!(status, NtStatus::SUCCESS);
    assert_eq!(
        context.completions.load(Ordering::SeqCst),
        1,
        "completed before the inject call returned"
    );
    assert!(sim.pending_injections().is_empty());
    assert_eq!(sim.live_clones(), 0);
    sim.return_packet(original);
    destroy(&sim, handle);
    sim.assert_clean();
}

#[test]
fn random_synchronous_completions_are_reproducible_and_mixed() {
    let _heap = heap::check();
    let pattern = |seed| {
        let sim = SimulatedStack::new();
        sim.set_sync_completions(SyncCompletions::Random(seed));
        let handle = create(&sim, TRANSPORT);
        let original = sim.indicate_packet(&ipv4(17));
        let context = raw_context(&sim, handle);
        let mut synchronous = Vec::new();
        for _ in 0..32 {
            let before = context.completions.load(Ordering::SeqCst);
            let status = receive(&context, clone(&sim, original), free_on_completion);
            assert_eq!(status, NtStatus::SUCCESS);
            synchronous.push(context.completions.load(Ordering::SeqCst) > before);
        }
        sim.complete_all(NtStatus::SUCCESS);
        sim.return_packet(original);
        destroy(&sim, handle);
        sim.assert_clean();
        synchronous
    };
    let first = pattern(7);
    assert_eq!(first, pattern(7), "same seed, same choices");
    assert!(
        first.iter().any(|&s| s) && first.iter().any(|&s| !s),
        "{first:?}"
    );
}

#[test]
fn destroying_the_handle_inside_its_completion_is_caught_as_a_deadlock() {
    with_handle_and_packet(|sim, handle, original| {
        let context = raw_context(sim, handle);
        let status = receive(&context, clone(sim, original), destroy_on_completion);
        assert_eq!(status, NtStatus::SUCCESS);
        let id = sim.pending_injections()[0].id;
        // At PASSIVE_LEVEL, where destroy is otherwise allowed.
        assert!(sim.complete_injection(id, NtStatus::SUCCESS, false));
        assert_eq!(context.completions.load(Ordering::SeqCst), 1);
        assert_ne!(
            *context.destroy_status.lock().unwrap(),
            Some(NtStatus::SUCCESS)
        );
        assert_eq!(
            sim.take_violations(),
            vec![Violation::DestroyInsideCompletion(handle as usize)]
        );
        assert_eq!(sim.open_handles().len(), 1, "the handle was not destroyed");
    });
}

#[test]
fn freed_nbls_are_poisoned_and_their_use_is_caught() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let handle = create(&sim, TRANSPORT);
    let original = sim.indicate_packet(&ipv4(17));
    let freed = clone(&sim, original);
    free(&sim, freed);
    // The simulator keeps the memory (addresses are never reused), poisoned.
    // SAFETY: the simulator keeps every NBL's memory until it drops.
    let first = unsafe { (*freed).FirstNetBuffer } as usize;
    let poison = usize::from_ne_bytes([constants::FREED_NBL_POISON; 8]);
    assert_eq!(first, poison, "FirstNetBuffer of a freed clone is poison");
    let context = raw_context(&sim, handle);
    let status = receive(&context, freed, free_on_completion);
    assert_eq!(status, NtStatus::INVALID_PARAMETER);
    assert_eq!(
        sim.take_violations(),
        vec![Violation::NblUsedAfterFree(
            KernelFn::FwpsInjectTransportReceiveAsync0,
            freed as usize
        )]
    );
    sim.return_packet(original);
    // SAFETY: as above.
    let returned = unsafe { (*original).FirstNetBuffer } as usize;
    assert_eq!(returned, poison, "a returned indicated NBL is poisoned too");
    destroy(&sim, handle);
    sim.assert_clean();
}

static DPC_RUNS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "win64" fn count_dpc(
    _dpc: *mut KDPC,
    _context: *mut c_void,
    _argument1: *mut c_void,
    _argument2: *mut c_void,
) {
    DPC_RUNS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn a_queued_dpc_whose_memory_was_freed_is_caught_and_not_run() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let mut storage = Box::new(KDPC::zeroed());
    let dpc: *mut KDPC = &mut *storage;
    // SAFETY: `storage` is writable KDPC storage that outlives every use below.
    unsafe { (&sim).ke_initialize_dpc(dpc, count_dpc, ptr::null_mut()) };
    // SAFETY: initialized above.
    let queued = unsafe { (&sim).ke_insert_queue_dpc(dpc, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(queued, 1);
    // What a freeing allocator does to the block (the test keeps it allocated so the check
    // itself reads valid memory): poison it.
    // SAFETY: `storage` is a live KDPC-sized block.
    unsafe { ptr::write_bytes(dpc.cast::<u8>(), 0xDD, constants::KDPC_SIZE) };
    let before = DPC_RUNS.load(Ordering::SeqCst);
    assert_eq!(sim.run_queued_dpcs(), 0, "not run");
    assert_eq!(DPC_RUNS.load(Ordering::SeqCst), before);
    assert_eq!(
        sim.take_violations(),
        vec![Violation::DpcMemoryClobbered(dpc as usize)]
    );
    // An intact DPC runs.
    // SAFETY: as above.
    unsafe { (&sim).ke_initialize_dpc(dpc, count_dpc, ptr::null_mut()) };
    // SAFETY: as above.
    unsafe { (&sim).ke_insert_queue_dpc(dpc, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(sim.run_queued_dpcs(), 1);
    drop(storage);
    sim.assert_clean();
}

fn net_buffer_fields(buffer: *mut NET_BUFFER) -> (usize, u32, u32) {
    // SAFETY: a live NET_BUFFER of the simulator.
    let buffer = unsafe { &*buffer };
    (
        buffer.Next as usize,
        buffer.data_length(),
        buffer.DataOffset,
    )
}

#[test]
fn nbls_may_carry_several_net_buffers_each_over_several_mdls() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let first = ipv4(17);
    let second = ipv4(6);
    // The first NET_BUFFER's data breaks into a new MDL 4 bytes into its IP header.
    let nbl = sim.indicate_net_buffers(&[
        NetBufferSpec {
            bytes: &first,
            offset: 0,
            mdl_starts: &[4],
        },
        NetBufferSpec {
            bytes: &second,
            offset: 20,
            mdl_starts: &[],
        },
    ]);
    // SAFETY: a live NBL of the simulator.
    let head = unsafe { (*nbl).FirstNetBuffer };
    let (next, length, offset) = net_buffer_fields(head);
    assert_eq!((length, offset), (28, 0));
    assert_ne!(next, 0, "a second NET_BUFFER follows");
    let (last, length, offset) = net_buffer_fields(next as *mut NET_BUFFER);
    assert_eq!((last, length, offset), (0, 8, 20));
    // SAFETY: live NET_BUFFERs; no storage: contiguous bytes only.
    let within = unsafe { (&sim).ndis_get_data_buffer(head, 4, ptr::null_mut(), 1, 0) };
    assert!(!within.is_null(), "4 bytes lie in the first MDL");
    // SAFETY: as above.
    let across = unsafe { (&sim).ndis_get_data_buffer(head, 20, ptr::null_mut(), 1, 0) };
    assert!(
        across.is_null(),
        "20 bytes span two MDLs: null without storage"
    );
    let mut storage = [0u8; 20];
    // SAFETY: `storage` has room for 20 bytes.
    let copied =
        unsafe { (&sim).ndis_get_data_buffer(head, 20, storage.as_mut_ptr().cast(), 1, 0) };
    assert_eq!(copied, storage.as_mut_ptr().cast::<c_void>());
    assert_eq!(storage.to_vec(), first[..20].to_vec(), "copied across MDLs");
    // Each NET_BUFFER moves on its own.
    // SAFETY: live NET_BUFFER; 8 bytes are presented.
    unsafe {
        (&sim).ndis_advance_net_buffer_data_start(next as *mut NET_BUFFER, 4, 0, ptr::null_mut())
    };
    let views = sim.packet_views(nbl).unwrap();
    assert_eq!(views, vec![first.clone(), second[24..].to_vec()]);
    // A clone presents the same NET_BUFFERs and MDL breaks.
    let copy = clone(&sim, nbl);
    assert_eq!(sim.packet_views(copy).unwrap(), views);
    // SAFETY: the clone is live.
    let copy_head = unsafe { (*copy).FirstNetBuffer };
    // SAFETY: as above.
    let across = unsafe { (&sim).ndis_get_data_buffer(copy_head, 20, ptr::null_mut(), 1, 0) };
    assert!(across.is_null(), "the clone keeps the MDL break");
    free(&sim, copy);
    sim.return_packet(nbl);
    sim.assert_clean();
}

#[test]
fn tcp_injected_at_a_transport_layer_from_inside_classify_is_caught() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let handle = create(&sim, TRANSPORT);
    let context = raw_context(&sim, handle);
    for (known, bytes) in [(Some(6), ipv4(6)), (None, ipv4(6))] {
        let original = sim.indicate_packet(&bytes);
        let nbl = clone(&sim, original);
        let status = sim.run_as_classify(known, || receive(&context, nbl, free_on_completion));
        assert_eq!(status, NtStatus::INVALID_PARAMETER, "protocol {known:?}");
        assert_eq!(
            sim.take_violations(),
            vec![Violation::TcpInjectedInline(
                KernelFn::FwpsInjectTransportReceiveAsync0
            )]
        );
        // The same from a DPC (outside classify) is accepted; UDP inside classify too.
        let status = receive(&context, nbl, free_on_completion);
        assert_eq!(status, NtStatus::SUCCESS);
        sim.complete_all(NtStatus::SUCCESS);
        sim.return_packet(original);
    }
    let original = sim.indicate_packet(&ipv4(17));
    let nbl = clone(&sim, original);
    let status = sim.run_as_classify(Some(17), || receive(&context, nbl, free_on_completion));
    assert_eq!(status, NtStatus::SUCCESS);
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(original);
    destroy(&sim, handle);
    sim.assert_clean();
}

#[test]
fn paged_pool_is_refused_above_apc_level() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let tag = u32::from_le_bytes(*b"Test");
    {
        let _dispatch = sim.set_irql(Irql::DISPATCH);
        let block = sim.ExAllocatePool2(constants::POOL_FLAG_PAGED, 64, tag);
        assert!(block.is_null());
        assert_eq!(
            sim.take_violations(),
            vec![Violation::PagedPoolAboveApc {
                call: KernelFn::ExAllocatePool2,
                irql: Irql::DISPATCH
            }]
        );
        // Nonpaged pool is fine at DISPATCH_LEVEL.
        let nonpaged = sim.ExAllocatePool2(0x40, 64, tag);
        assert!(!nonpaged.is_null());
        sim.ExFreePoolWithTag(nonpaged, tag);
    }
    let block = sim.ExAllocatePool2(constants::POOL_FLAG_PAGED, 64, tag);
    assert!(!block.is_null(), "paged pool at PASSIVE_LEVEL");
    {
        let _dispatch = sim.set_irql(Irql::DISPATCH);
        sim.ExFreePoolWithTag(block, tag);
    }
    assert_eq!(
        sim.take_violations(),
        vec![Violation::PagedPoolAboveApc {
            call: KernelFn::ExFreePoolWithTag,
            irql: Irql::DISPATCH
        }]
    );
    sim.assert_clean();
}

#[test]
fn zw_open_key_without_obj_kernel_handle_is_refused() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let mut name: Vec<u16> = wfp_sim::SERVICE_KEY_PATH.encode_utf16().collect();
    let string = UNICODE_STRING {
        Length: (name.len() * 2) as u16,
        MaximumLength: (name.len() * 2) as u16,
        Buffer: name.as_mut_ptr(),
    };
    let open = |attributes: u32| {
        let object = OBJECT_ATTRIBUTES {
            Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
            RootDirectory: ptr::null_mut(),
            ObjectName: &string,
            Attributes: attributes,
            SecurityDescriptor: ptr::null_mut(),
            SecurityQualityOfService: ptr::null_mut(),
        };
        let mut key: HANDLE = ptr::null_mut();
        // SAFETY: valid attributes and out-pointer, at PASSIVE_LEVEL.
        let status = unsafe { (&sim).zw_open_key(&mut key, 0x2_0019, &object) };
        (NtStatus(status), key)
    };
    let case_insensitive = 0x40;
    let (status, _) = open(case_insensitive);
    assert!(!status.is_success());
    assert_eq!(sim.take_violations(), vec![Violation::KeyHandleNotKernel]);
    let (status, key) = open(case_insensitive | constants::OBJ_KERNEL_HANDLE);
    assert_eq!(status, NtStatus::SUCCESS);
    // SAFETY: an open key of `sim`.
    unsafe { (&sim).zw_close(key) };
    sim.assert_clean();
}

/// ZwSetValueKey and ZwDeleteValueKey need a key opened with KEY_SET_VALUE, ZwQueryValueKey one
/// opened with KEY_QUERY_VALUE (their wdm pages): without it, the simulator answers
/// STATUS_ACCESS_DENIED and records a violation; with it, the value is written, replaced and
/// deleted. A null name sets the unnamed value (allowed); a write to the service key's own values
/// is recorded as unmodelled.
#[test]
fn registry_calls_need_the_access_their_pages_name() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.create_parameters_key();
    let wide = |text: &str| -> Vec<u16> { text.encode_utf16().collect() };
    let string = |units: &mut Vec<u16>| UNICODE_STRING {
        Length: (units.len() * 2) as u16,
        MaximumLength: (units.len() * 2) as u16,
        Buffer: units.as_mut_ptr(),
    };
    let open = |root: HANDLE, name: &UNICODE_STRING, access: u32| {
        let object = OBJECT_ATTRIBUTES {
            Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
            RootDirectory: root,
            ObjectName: name,
            Attributes: 0x40 | constants::OBJ_KERNEL_HANDLE,
            SecurityDescriptor: ptr::null_mut(),
            SecurityQualityOfService: ptr::null_mut(),
        };
        let mut key: HANDLE = ptr::null_mut();
        // SAFETY: valid attributes and out-pointer, at PASSIVE_LEVEL.
        let status = unsafe { (&sim).zw_open_key(&mut key, access, &object) };
        assert_eq!(NtStatus(status), NtStatus::SUCCESS);
        key
    };
    let mut service_units = wide(wfp_sim::SERVICE_KEY_PATH);
    let mut parameters_units = wide("Parameters");
    let mut value_units = wide("Written");
    let service_name = string(&mut service_units);
    let parameters_name = string(&mut parameters_units);
    let value_name = string(&mut value_units);
    let service = open(ptr::null_mut(), &service_name, 0x2_0019);
    let data = [1u8, 2, 3];
    let write = |key: HANDLE| {
        // SAFETY: an open key of `sim`, a valid name and 3 readable bytes, at PASSIVE_LEVEL.
        NtStatus(unsafe {
            (&sim).zw_set_value_key(key, &value_name, 0, 3, data.as_ptr().cast(), 3)
        })
    };
    let delete = |key: HANDLE| {
        // SAFETY: an open key of `sim` and a valid name, at PASSIVE_LEVEL.
        NtStatus(unsafe { (&sim).zw_delete_value_key(key, &value_name) })
    };

    let read_only = open(service, &parameters_name, 0x2_0019);
    assert_eq!(write(read_only), wfp_sim::status::ACCESS_DENIED);
    assert_eq!(delete(read_only), wfp_sim::status::ACCESS_DENIED);
    assert_eq!(
        sim.take_violations(),
        vec![
            Violation::KeyWithoutSetValue(KernelFn::ZwSetValueKey),
            Violation::KeyWithoutSetValue(KernelFn::ZwDeleteValueKey)
        ]
    );
    assert_eq!(sim.parameter("Written"), None);

    let writable = open(
        service,
        &parameters_name,
        0x2_0019 | constants::KEY_SET_VALUE,
    );
    assert_eq!(write(writable), NtStatus::SUCCESS);
    assert_eq!(
        sim.parameter("written"),
        Some(RegistryValue::Binary(data.to_vec()))
    );
    assert_eq!(delete(writable), NtStatus::SUCCESS);
    assert_eq!(sim.parameter("Written"), None);
    assert_eq!(delete(writable), wfp_sim::status::OBJECT_NAME_NOT_FOUND);

    // A null name is the key's unnamed value (ZwSetValueKey's page allows it): no violation.
    // SAFETY: an open key of `sim`, a null name, 3 readable bytes, at PASSIVE_LEVEL.
    let unnamed = NtStatus(unsafe {
        (&sim).zw_set_value_key(writable, ptr::null(), 0, 3, data.as_ptr().cast(), 3)
    });
    assert_eq!(unnamed, NtStatus::SUCCESS);
    assert_eq!(
        sim.parameter(""),
        Some(RegistryValue::Binary(data.to_vec()))
    );
    assert_eq!(sim.take_violations(), vec![]);

    // A query needs KEY_QUERY_VALUE (ZwQueryValueKey's page): a key opened for setting only.
    let set_only = open(service, &parameters_name, constants::KEY_SET_VALUE);
    let mut needed = 0u32;
    // SAFETY: an open key of `sim`, a valid name, no buffer (length 0), a writable length.
    let query = NtStatus(unsafe {
        (&sim).zw_query_value_key(set_only, &value_name, 2, ptr::null_mut(), 0, &mut needed)
    });
    assert_eq!(query, wfp_sim::status::ACCESS_DENIED);
    assert_eq!(
        sim.take_violations(),
        vec![Violation::KeyWithoutQueryValue(KernelFn::ZwQueryValueKey)]
    );

    // The service key's own values are not modelled: a write there is recorded as such.
    let service_writable = open(
        ptr::null_mut(),
        &service_name,
        0x2_0019 | constants::KEY_SET_VALUE,
    );
    assert!(!write(service_writable).is_success());
    assert_eq!(
        sim.take_violations(),
        vec![Violation::UnmodelledRegistryWrite(KernelFn::ZwSetValueKey)]
    );
    for key in [read_only, writable, service, set_only, service_writable] {
        // SAFETY: open keys of `sim`, each closed once.
        unsafe { (&sim).zw_close(key) };
    }
    sim.assert_clean();
}

#[test]
fn nonzero_reserved_flags_and_pointers_are_refused() {
    with_handle_and_packet(|sim, handle, original| {
        let context = raw_context(sim, handle);
        let nbl = clone(sim, original);
        let mut reserved = 0u8;
        for (flags, pointer) in [(1, ptr::null_mut()), (0, (&raw mut reserved).cast())] {
            let status = inject_receive(
                sim,
                handle,
                nbl,
                flags,
                pointer,
                free_on_completion,
                &context,
            );
            assert_eq!(status, NtStatus::INVALID_PARAMETER);
            assert_eq!(
                sim.take_violations(),
                vec![Violation::ReservedNotZero(
                    KernelFn::FwpsInjectTransportReceiveAsync0
                )]
            );
        }
        let mut refused = ptr::null_mut();
        // SAFETY: live original; writable out-pointer; deliberately wrong flags.
        let status = unsafe {
            sim.fwps_allocate_clone_net_buffer_list0(
                original,
                ptr::null_mut(),
                ptr::null_mut(),
                1,
                &mut refused,
            )
        };
        assert_eq!(NtStatus(status), NtStatus::INVALID_PARAMETER);
        // SAFETY: live clone; deliberately wrong flags (the clone is freed all the same).
        unsafe { sim.fwps_free_clone_net_buffer_list0(nbl, 1) };
        assert_eq!(
            sim.take_violations(),
            vec![
                Violation::ReservedNotZero(KernelFn::FwpsAllocateCloneNetBufferList0),
                Violation::ReservedNotZero(KernelFn::FwpsFreeCloneNetBufferList0),
            ]
        );
        assert_eq!(sim.live_clones(), 0);
    });
}

#[test]
fn injecting_the_indicated_original_instead_of_a_clone_is_refused() {
    with_handle_and_packet(|sim, handle, original| {
        let context = raw_context(sim, handle);
        let status = receive(&context, original, free_on_completion);
        assert_eq!(status, NtStatus::INVALID_PARAMETER);
        assert_eq!(
            sim.take_violations(),
            vec![Violation::InjectedIndicatedPacket(
                KernelFn::FwpsInjectTransportReceiveAsync0,
                original as usize
            )]
        );
    });
}

#[test]
fn forwarding_non_ip_bytes_and_streaming_past_the_data_are_refused() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let forward = create(&sim, FORWARD);
    let stream = create(&sim, STREAM);
    let context = raw_context(&sim, forward);
    let garbage = sim.indicate_packet(&[0u8; 28]);
    let nbl = clone(&sim, garbage);
    // SAFETY: live handle and clone; the context outlives the call.
    let status = unsafe {
        (&sim).fwps_inject_forward_async0(
            forward,
            ptr::null_mut(),
            0,
            AF_INET,
            0,
            1,
            nbl,
            free_on_completion,
            ptr::from_ref(&context).cast_mut().cast(),
        )
    };
    assert_eq!(NtStatus(status), NtStatus::INVALID_PARAMETER);
    assert_eq!(
        sim.take_violations(),
        vec![Violation::ForwardedNonIp(nbl as usize)]
    );
    let stream_at = |length: usize| {
        // SAFETY: as above.
        NtStatus(unsafe {
            (&sim).fwps_stream_inject_async0(
                stream,
                ptr::null_mut(),
                0,
                0xF10,
                3,
                20,
                1,
                nbl,
                length,
                free_on_completion,
                ptr::from_ref(&context).cast_mut().cast(),
            )
        })
    };
    assert_eq!(stream_at(29), NtStatus::INVALID_PARAMETER);
    assert_eq!(
        sim.take_violations(),
        vec![Violation::StreamInjectPastData {
            nbl: nbl as usize,
            requested: 29,
            available: 28
        }]
    );
    assert_eq!(stream_at(28), NtStatus::SUCCESS, "the whole data is fine");
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(garbage);
    destroy(&sim, forward);
    destroy(&sim, stream);
    sim.assert_clean();
}

#[test]
fn calls_that_cannot_fail_in_the_kernel_cannot_be_planned_to_fail() {
    let _heap = heap::check();
    let unfailable = [
        KernelFn::FwpsFreeCloneNetBufferList0,
        KernelFn::ExInitializeRundownProtection,
        KernelFn::ExReleaseRundownProtection,
        KernelFn::ExWaitForRundownProtectionRelease,
        KernelFn::KeInitializeDpc,
        KernelFn::KeFlushQueuedDpcs,
        KernelFn::NdisAdvanceNetBufferDataStart,
        KernelFn::ExFreePoolWithTag,
        // It answers an FWPS_PACKET_INJECTION_STATE, never an error: a "failure" would have to
        // be one of the states, and NOT_INJECTED would make a driver reinject its own packet.
        KernelFn::FwpsQueryPacketInjectionState0,
    ];
    for call in unfailable {
        assert!(!wfp_sim::can_fail(call), "{call:?}");
        let sim = SimulatedStack::new();
        // A panic's machinery (backtrace caches) keeps memory: not counted by the heap check.
        let planned = heap::uncounted(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sim.fail_call(call, 0, NtStatus::UNSUCCESSFUL)
            }))
        });
        assert!(
            planned.is_err(),
            "planning {call:?} to fail must be refused"
        );
    }
    // The rest can be planned.
    let sim = SimulatedStack::new();
    sim.fail_call(KernelFn::NdisGetDataBuffer, 0, NtStatus::UNSUCCESSFUL);
    assert!(wfp_sim::can_fail(KernelFn::KeInsertQueueDpc));
    let nbl = sim.indicate_packet(&ipv4(17));
    // SAFETY: a live NBL of `sim`.
    let head = unsafe { (*nbl).FirstNetBuffer };
    // SAFETY: a live NET_BUFFER; the planned failure answers null.
    let data = unsafe { (&sim).ndis_get_data_buffer(head, 1, ptr::null_mut(), 1, 0) };
    assert!(data.is_null());
    sim.return_packet(nbl);
    sim.assert_clean();
}

#[test]
fn the_query_answers_only_injection_states() {
    with_handle_and_packet(|sim, handle, original| {
        let context = raw_context(sim, handle);
        let nbl = clone(sim, original);
        assert_eq!(
            receive(&context, nbl, free_on_completion),
            NtStatus::SUCCESS
        );
        for target in [original, nbl] {
            // SAFETY: live handle and NBLs.
            let state =
                unsafe { sim.fwps_query_packet_injection_state0(handle, target, ptr::null_mut()) };
            assert!(
                constants::PACKET_INJECTION_STATES.contains(&state),
                "{state}"
            );
        }
        sim.complete_all(NtStatus::SUCCESS);
    });
}

// The injector and the driver under synchronous completions.

/// Counts completions; the clone is freed when the completion drops it.
#[derive(Default)]
struct Count(AtomicUsize);

impl<'a> CompletionHandler<&'a SimulatedStack> for Count {
    type Packet = ClonedNetBufferList<&'a SimulatedStack>;

    fn completed(&self, completion: Completion<Self::Packet>) {
        assert!(completion.status.is_success());
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn borrow(nbl: *mut NET_BUFFER_LIST) -> NetBufferListRef<'static> {
    // SAFETY: the simulated stack keeps every NBL's memory until it drops; each test returns
    // its indicated packets only after the clones are freed.
    unsafe { NetBufferListRef::from_raw(nbl) }.unwrap()
}

#[test]
fn the_injector_copes_with_completions_inside_the_inject_call_on_every_path() {
    let _heap = heap::check();
    for mode in [
        SyncCompletions::Always,
        SyncCompletions::Random(1),
        SyncCompletions::Random(2),
    ] {
        let sim = SimulatedStack::new();
        sim.set_sync_completions(mode);
        let v4_udp = sim.indicate_packet(&ipv4(17));
        let v4_tcp = sim.indicate_packet(&ipv4(6));
        let handles =
            DualStackInjector::create(&sim, InjectionTypes::ALL, &RetryPolicy::default()).unwrap();
        // Capacity 2: contexts must come back (also from inside the inject call) for the
        // next injection to find one.
        let injector = PacketInjector::new(handles, 2, Count::default()).unwrap();
        let injections = [
            (
                Injection::TransportReceive(TransportReceive {
                    family: IpFamily::V4,
                    compartment: 1,
                    interface_index: 5,
                    sub_interface_index: 6,
                    protocol: IpProtocol::UDP,
                }),
                v4_udp,
            ),
            (
                Injection::TransportSend(TransportSend {
                    endpoint_handle: 0xE0,
                    remote_address: RemoteAddress::V4([10, 0, 0, 2]),
                    control_data: &[1, 2, 3],
                    compartment: 1,
                    protocol: IpProtocol::UDP,
                }),
                v4_udp,
            ),
            // TCP goes through a DPC: the completion runs inside the DPC's inject call.
            (
                Injection::TransportReceive(TransportReceive {
                    family: IpFamily::V4,
                    compartment: 1,
                    interface_index: 5,
                    sub_interface_index: 6,
                    protocol: IpProtocol::TCP,
                }),
                v4_tcp,
            ),
            (
                Injection::NetworkSend(NetworkSend {
                    family: IpFamily::V4,
                    compartment: 1,
                }),
                v4_udp,
            ),
            (
                Injection::NetworkReceive(NetworkReceive {
                    family: IpFamily::V4,
                    compartment: 1,
                    interface_index: 9,
                    sub_interface_index: 10,
                }),
                v4_udp,
            ),
            (
                Injection::Forward(Forward {
                    family: IpFamily::V4,
                    compartment: 1,
                    interface_index: 3,
                }),
                v4_udp,
            ),
            (
                Injection::Stream(StreamInject {
                    family: IpFamily::V4,
                    flow_id: 0xF10,
                    callout_id: 3,
                    layer_id: 20,
                    stream_flags: 1,
                    data_length: 28,
                }),
                v4_udp,
            ),
        ];
        let mut injected = 0;
        for round in 0..3 {
            for (injection, original) in injections {
                injector
                    .clone_and_inject(borrow(original), injection, Tag::default())
                    .unwrap_or_else(|e| panic!("{mode:?} round {round}: {e:?}"));
                injected += 1;
                sim.run_queued_dpcs();
                sim.complete_all(NtStatus::SUCCESS);
                assert_eq!(injector.in_flight(), 0, "{mode:?}");
            }
        }
        assert_eq!(injector.handler().0.load(Ordering::SeqCst), injected);
        injector.close().unwrap();
        sim.return_packet(v4_udp);
        sim.return_packet(v4_tcp);
        assert_eq!(sim.violations(), vec![], "{mode:?}");
        sim.assert_clean();
    }
}

#[test]
fn the_driver_copes_with_completions_inside_the_inject_call() {
    let _heap = heap::check();
    for mode in [SyncCompletions::Always, SyncCompletions::Random(3)] {
        let sim = SimulatedStack::new();
        host_driver::configure_port(&sim);
        let driver = host_driver::load(&sim);
        sim.set_sync_completions(mode);
        let mut delivered = 0;
        for layer in Layer::ALL {
            for protocol in [17, 6] {
                let mut packet = host_driver::udp(layer, host_driver::PORT);
                packet.protocol = protocol;
                let result = sim.deliver(layer, &packet, Delivery::default());
                assert!(result.result.is_some());
                sim.run_queued_dpcs();
                sim.complete_all(NtStatus::SUCCESS);
                sim.return_packet(result.nbl);
                delivered += 1;
            }
        }
        assert_eq!(driver.completions(), (delivered, 0), "{mode:?}");
        assert_eq!(sim.live_clones(), 0);
        driver.unload();
        sim.assert_clean();
    }
}

/// The driver on NBLs the simulator used to never make: an outbound NBL of two NET_BUFFERs,
/// the first spread over two MDLs, is cloned whole and reinjected; an inbound packet whose IP
/// header starts a new MDL one byte in is still recognised and reinjected.
#[test]
fn the_driver_reinjects_multi_net_buffer_and_chained_mdl_nbls_whole() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    host_driver::configure_port(&sim);
    let driver = host_driver::load(&sim);

    let layer = Layer::OutboundV4;
    let packet = host_driver::udp(layer, host_driver::PORT);
    let (bytes, ip_header, _) = packet.bytes(false);
    let nbl = sim.indicate_net_buffers(&[
        NetBufferSpec {
            bytes: &bytes,
            offset: ip_header,
            mdl_starts: &[ip_header + 3],
        },
        NetBufferSpec {
            bytes: &bytes,
            offset: ip_header,
            mdl_starts: &[],
        },
    ]);
    let before = sim.packet_views(nbl).unwrap();
    let result = sim.classify_again(layer, &packet, nbl);
    assert_eq!(result.action, wfp_injector::sys::types::FWP_ACTION_BLOCK);
    let pending = sim.pending_injections();
    assert_eq!(pending.len(), 1, "reinjected");
    assert_eq!(
        sim.packet_views(pending[0].nbl as *const _).unwrap(),
        before,
        "the clone carries both NET_BUFFERs"
    );
    assert_eq!(sim.packet_views(nbl).unwrap(), before, "original untouched");
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(nbl);

    let layer = Layer::InboundV4;
    let packet = host_driver::udp(layer, host_driver::PORT);
    let (bytes, ip_header, transport_header) = packet.bytes(true);
    let nbl = sim.indicate_net_buffers(&[NetBufferSpec {
        bytes: &bytes,
        offset: ip_header + transport_header,
        mdl_starts: &[1, ip_header],
    }]);
    let result = sim.classify_again(layer, &packet, nbl);
    assert_eq!(result.action, wfp_injector::sys::types::FWP_ACTION_BLOCK);
    let pending = sim.pending_injections();
    assert_eq!(pending.len(), 1, "reinjected");
    assert_eq!(sim.packet_view(pending[0].nbl as *const _).unwrap(), bytes);
    sim.complete_all(NtStatus::SUCCESS);
    sim.return_packet(nbl);

    // Inbound, two NET_BUFFERs: only the first would be retreated to its IP header, so the
    // packet is permitted untouched and counted.
    let (bytes, ip_header, transport_header) = packet.bytes(true);
    let spec = NetBufferSpec {
        bytes: &bytes,
        offset: ip_header + transport_header,
        mdl_starts: &[],
    };
    let nbl = sim.indicate_net_buffers(&[spec, spec]);
    let before = sim.packet_views(nbl).unwrap();
    let result = sim.classify_again(layer, &packet, nbl);
    assert_eq!(result.action, wfp_injector::sys::types::FWP_ACTION_PERMIT);
    assert_eq!(sim.pending_injections().len(), 0, "not reinjected");
    assert_eq!(sim.packet_views(nbl).unwrap(), before, "original untouched");
    assert_eq!(
        driver
            .counters(wfp_injector::driver::TransportLayer::InboundV4)
            .skipped_multi_buffer,
        1
    );
    sim.return_packet(nbl);

    assert_eq!(driver.completions(), (2, 0));
    driver.unload();
    sim.assert_clean();
}
