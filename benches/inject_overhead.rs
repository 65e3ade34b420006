//! What the safe layer costs over calling the seam directly, on a seam that does nothing.
//!
//! Each measured function runs `ITERATIONS` operations; `scripts/bench-overhead.sh` runs this
//! binary under callgrind with collection toggled on for exactly one of them, so the counts are
//! instructions per operation and repeatable on a noisy machine. Run alone, it prints heap
//! allocations per operation (a counting global allocator) and a rough time per operation.
//!
//! The do-nothing seam keeps every kernel function out of line (`#[inline(never)]`), like the
//! import call it stands for, and completes each injection at once by calling the completion
//! function it was given, as WFP would later. Benchmark code: its unsafe blocks drive that
//! do-nothing seam and are not part of the driver.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::c_void;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use wfp_injector::inject::pool::SlotPool;
use wfp_injector::inject::{
    ClonedNetBufferList, DualStackInjector, Injection, InjectionHandle, InjectionTypes, IpFamily,
    IpProtocol, NetBufferListRef, OwnedNetBufferList, PacketInjector, RemoteAddress, RetryPolicy,
    Tag, TransportSend,
};
use wfp_injector::sys::KernelApi;
use wfp_injector::sys::types::*;

struct CountingAllocator;
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator, counting calls.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(block, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const ITERATIONS: u64 = 100_000;

thread_local! {
    /// The completion the do-nothing seam was last given: (function, context, NBL).
    static LAST_INJECTION: Cell<Option<(FWPS_INJECT_COMPLETE0, *mut c_void, *mut NET_BUFFER_LIST)>> =
        const { Cell::new(None) };
}

/// A seam whose every function succeeds and does nothing.
#[derive(Clone, Copy)]
struct NullKernel;

impl NullKernel {
    #[inline(never)]
    fn accept(
        completion: FWPS_INJECT_COMPLETE0,
        context: *mut c_void,
        nbl: *mut NET_BUFFER_LIST,
    ) -> NTSTATUS {
        LAST_INJECTION.with(|last| last.set(Some((completion, context, nbl))));
        0
    }

    /// What WFP does later: run the completion with the NBL's status.
    #[inline(never)]
    fn complete_last() {
        if let Some((completion, context, nbl)) = LAST_INJECTION.with(Cell::take) {
            // SAFETY: the completion and context were given together for this NBL.
            unsafe { completion(context, nbl, 1) };
        }
    }
}

#[allow(clippy::undocumented_unsafe_blocks)]
impl KernelApi for NullKernel {
    #[inline(never)]
    fn ke_get_current_irql(&self) -> KIRQL {
        0
    }
    #[inline(never)]
    fn ke_query_unbiased_interrupt_time(&self) -> u64 {
        0
    }
    #[inline(never)]
    unsafe fn obf_reference_object(&self, _: *mut core::ffi::c_void) -> isize {
        2
    }
    #[inline(never)]
    unsafe fn ke_delay_execution_thread(
        &self,
        _: KPROCESSOR_MODE,
        _: BOOLEAN,
        _: *const i64,
    ) -> NTSTATUS {
        0
    }
    #[inline(never)]
    unsafe fn fwps_injection_handle_create0(
        &self,
        family: ADDRESS_FAMILY,
        _: u32,
        handle: *mut HANDLE,
    ) -> NTSTATUS {
        unsafe { handle.write((0x1000 + usize::from(family)) as HANDLE) };
        0
    }
    #[inline(never)]
    unsafe fn fwps_injection_handle_destroy0(&self, _: HANDLE) -> NTSTATUS {
        0
    }
    #[inline(never)]
    unsafe fn fwps_query_packet_injection_state0(
        &self,
        handle: HANDLE,
        nbl: *const NET_BUFFER_LIST,
        context: *mut HANDLE,
    ) -> FWPS_PACKET_INJECTION_STATE {
        black_box((handle, nbl, context));
        0
    }
    #[inline(never)]
    unsafe fn fwps_inject_transport_send_async0(
        &self,
        _: HANDLE,
        _: HANDLE,
        _: u64,
        _: u32,
        args: *mut FWPS_TRANSPORT_SEND_PARAMS0,
        _: ADDRESS_FAMILY,
        _: COMPARTMENT_ID,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        context: *mut c_void,
    ) -> NTSTATUS {
        black_box(args);
        Self::accept(completion, context, nbl)
    }
    #[inline(never)]
    unsafe fn fwps_inject_transport_receive_async0(
        &self,
        _: HANDLE,
        _: HANDLE,
        _: *mut c_void,
        _: u32,
        _: ADDRESS_FAMILY,
        _: COMPARTMENT_ID,
        _: IF_INDEX,
        _: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        context: *mut c_void,
    ) -> NTSTATUS {
        Self::accept(completion, context, nbl)
    }
    #[inline(never)]
    unsafe fn fwps_inject_network_send_async0(
        &self,
        _: HANDLE,
        _: HANDLE,
        _: u32,
        _: COMPARTMENT_ID,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        context: *mut c_void,
    ) -> NTSTATUS {
        Self::accept(completion, context, nbl)
    }
    #[inline(never)]
    unsafe fn fwps_inject_network_receive_async0(
        &self,
        _: HANDLE,
        _: HANDLE,
        _: u32,
        _: COMPARTMENT_ID,
        _: IF_INDEX,
        _: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        context: *mut c_void,
    ) -> NTSTATUS {
        Self::accept(completion, context, nbl)
    }
    #[inline(never)]
    unsafe fn fwps_inject_forward_async0(
        &self,
        _: HANDLE,
        _: HANDLE,
        _: u32,
        _: ADDRESS_FAMILY,
        _: COMPARTMENT_ID,
        _: IF_INDEX,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        context: *mut c_void,
    ) -> NTSTATUS {
        Self::accept(completion, context, nbl)
    }
    #[inline(never)]
    unsafe fn fwps_stream_inject_async0(
        &self,
        _: HANDLE,
        _: HANDLE,
        _: u32,
        _: u64,
        _: u32,
        _: u16,
        _: u32,
        nbl: *mut NET_BUFFER_LIST,
        _: usize,
        completion: FWPS_INJECT_COMPLETE0,
        context: *mut c_void,
    ) -> NTSTATUS {
        Self::accept(completion, context, nbl)
    }
    #[inline(never)]
    unsafe fn fwps_allocate_clone_net_buffer_list0(
        &self,
        original: *mut NET_BUFFER_LIST,
        _: *mut c_void,
        _: *mut c_void,
        _: u32,
        clone: *mut *mut NET_BUFFER_LIST,
    ) -> NTSTATUS {
        unsafe { clone.write(original) };
        0
    }
    #[inline(never)]
    unsafe fn fwps_free_clone_net_buffer_list0(&self, clone: *mut NET_BUFFER_LIST, _: u32) {
        black_box(clone);
    }
    #[inline(never)]
    unsafe fn ex_initialize_rundown_protection(&self, _: *mut EX_RUNDOWN_REF) {}
    #[inline(never)]
    unsafe fn ex_acquire_rundown_protection(&self, _: *mut EX_RUNDOWN_REF) -> BOOLEAN {
        1
    }
    #[inline(never)]
    unsafe fn ex_release_rundown_protection(&self, _: *mut EX_RUNDOWN_REF) {}
    #[inline(never)]
    unsafe fn ex_wait_for_rundown_protection_release(&self, _: *mut EX_RUNDOWN_REF) {}
    #[inline(never)]
    unsafe fn ke_initialize_dpc(&self, _: *mut KDPC, _: KDEFERRED_ROUTINE, _: *mut c_void) {}
    #[inline(never)]
    unsafe fn ke_insert_queue_dpc(&self, _: *mut KDPC, _: *mut c_void, _: *mut c_void) -> BOOLEAN {
        1
    }
    // Management, NDIS, registry and logging: the benchmark never reaches them.
    unsafe fn fwpm_engine_open0(
        &self,
        _: *const u16,
        _: u32,
        _: *mut c_void,
        _: *const FWPM_SESSION0,
        _: *mut HANDLE,
    ) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_engine_close0(&self, _: HANDLE) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_transaction_begin0(&self, _: HANDLE, _: u32) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_transaction_commit0(&self, _: HANDLE) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_transaction_abort0(&self, _: HANDLE) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_provider_add0(
        &self,
        _: HANDLE,
        _: *const FWPM_PROVIDER0,
        _: *mut c_void,
    ) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_provider_delete_by_key0(&self, _: HANDLE, _: *const GUID) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_sub_layer_add0(
        &self,
        _: HANDLE,
        _: *const FWPM_SUBLAYER0,
        _: *mut c_void,
    ) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_sub_layer_delete_by_key0(&self, _: HANDLE, _: *const GUID) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_callout_add0(
        &self,
        _: HANDLE,
        _: *const FWPM_CALLOUT0,
        _: *mut c_void,
        _: *mut u32,
    ) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_callout_delete_by_key0(&self, _: HANDLE, _: *const GUID) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_filter_add0(
        &self,
        _: HANDLE,
        _: *const FWPM_FILTER0,
        _: *mut c_void,
        _: *mut u64,
    ) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_filter_delete_by_key0(&self, _: HANDLE, _: *const GUID) -> NTSTATUS {
        0
    }
    unsafe fn fwps_callout_register1(
        &self,
        _: *mut DEVICE_OBJECT,
        _: *const FWPS_CALLOUT1,
        _: *mut u32,
    ) -> NTSTATUS {
        0
    }
    unsafe fn fwps_callout_unregister_by_id0(&self, _: u32) -> NTSTATUS {
        0
    }
    unsafe fn ndis_retreat_net_buffer_data_start(
        &self,
        _: *mut NET_BUFFER,
        _: u32,
        _: u32,
        _: *mut c_void,
    ) -> NDIS_STATUS {
        0
    }
    unsafe fn ndis_advance_net_buffer_data_start(
        &self,
        _: *mut NET_BUFFER,
        _: u32,
        _: BOOLEAN,
        _: *mut c_void,
    ) {
    }
    unsafe fn ndis_get_data_buffer(
        &self,
        _: *mut NET_BUFFER,
        _: u32,
        _: *mut c_void,
        _: u32,
        _: u32,
    ) -> *mut c_void {
        std::ptr::null_mut()
    }
    unsafe fn zw_open_key(
        &self,
        _: *mut HANDLE,
        _: ACCESS_MASK,
        _: *const OBJECT_ATTRIBUTES,
    ) -> NTSTATUS {
        0
    }
    unsafe fn zw_query_value_key(
        &self,
        _: HANDLE,
        _: *const UNICODE_STRING,
        _: u32,
        _: *mut c_void,
        _: u32,
        _: *mut u32,
    ) -> NTSTATUS {
        0
    }
    unsafe fn zw_close(&self, _: HANDLE) -> NTSTATUS {
        0
    }
    unsafe fn dbg_print_ex(&self, _: u32, _: u32, _: *const u8) -> u32 {
        0
    }
    // Issue 12: reinjection rules.
    #[inline(never)]
    unsafe fn fwps_get_packet_list_security_information0(
        &self,
        _: *mut wfp_injector::sys::types::NET_BUFFER_LIST,
        _: u32,
        _: *mut wfp_injector::sys::types::FWPS_PACKET_LIST_INFORMATION0,
    ) -> i32 {
        0
    }
    #[inline(never)]
    unsafe fn ke_flush_queued_dpcs(&self) {}

    // Deferred load (issue 13): not on the measured path.
    unsafe fn fwpm_bfe_state_get0(&self) -> FWPM_SERVICE_STATE {
        FWPM_SERVICE_RUNNING
    }
    unsafe fn fwpm_bfe_state_subscribe_changes0(
        &self,
        _: *mut DEVICE_OBJECT,
        _: FWPM_SERVICE_STATE_CHANGE_CALLBACK0,
        _: *mut c_void,
        _: *mut HANDLE,
    ) -> NTSTATUS {
        0
    }
    unsafe fn fwpm_bfe_state_unsubscribe_changes0(&self, _: HANDLE) -> NTSTATUS {
        0
    }
    unsafe fn io_allocate_work_item(&self, _: *mut DEVICE_OBJECT) -> PIO_WORKITEM {
        std::ptr::null_mut()
    }
    unsafe fn io_queue_work_item(
        &self,
        _: PIO_WORKITEM,
        _: IO_WORKITEM_ROUTINE,
        _: WORK_QUEUE_TYPE,
        _: *mut c_void,
    ) {
    }
    unsafe fn io_free_work_item(&self, _: PIO_WORKITEM) {}
}

/// An NBL-shaped block for the do-nothing seam to pass around.
fn fake_nbl() -> *mut NET_BUFFER_LIST {
    // SAFETY: NET_BUFFER_LIST is plain data; zero is a valid bit pattern.
    Box::into_raw(Box::new(unsafe { std::mem::zeroed::<NET_BUFFER_LIST>() }))
}

fn send_request() -> Injection<'static> {
    Injection::TransportSend(TransportSend {
        endpoint_handle: 7,
        remote_address: RemoteAddress::V4([192, 0, 2, 1]),
        control_data: &[],
        compartment: 1,
        protocol: IpProtocol::UDP,
    })
}

#[inline(never)]
fn measure_query_safe(handle: &InjectionHandle<NullKernel>, nbl: NetBufferListRef<'_>) -> u64 {
    let mut own = 0;
    for _ in 0..ITERATIONS {
        own += u64::from(black_box(handle).query(black_box(nbl)).0.is_own());
    }
    own
}

/// A driver keeps its handle in memory (a global or its device context), as the safe handle does.
#[inline(never)]
fn measure_query_raw(handle: &HANDLE, nbl: *mut NET_BUFFER_LIST) -> u64 {
    let mut own = 0;
    for _ in 0..ITERATIONS {
        let mut context: HANDLE = std::ptr::null_mut();
        // SAFETY: do-nothing seam.
        let state = unsafe {
            NullKernel.fwps_query_packet_injection_state0(
                *black_box(handle),
                black_box(nbl),
                &mut context,
            )
        };
        own += u64::from(state == 1 || state == 3);
    }
    own
}

#[inline(never)]
fn measure_inject_safe(
    injector: &PacketInjector<
        NullKernel,
        wfp_injector::inject::FreeOnCompletion<ClonedNetBufferList<NullKernel>>,
    >,
    nbl: *mut NET_BUFFER_LIST,
) -> u64 {
    let mut refused = 0;
    for _ in 0..ITERATIONS {
        // SAFETY: the do-nothing seam hands this pointer back unchanged and frees nothing.
        let packet = unsafe { ClonedNetBufferList::from_raw(&NullKernel, black_box(nbl)) };
        if injector
            .inject(packet, send_request(), Tag::default())
            .is_err()
        {
            refused += 1;
        }
        NullKernel::complete_last();
    }
    refused
}

/// The minimum a hand-written driver does: one inject call with its send parameters, and a
/// completion that frees the clone.
#[inline(never)]
fn measure_inject_raw(handle: HANDLE, nbl: *mut NET_BUFFER_LIST) -> u64 {
    unsafe extern "win64" fn free_clone(_: *mut c_void, nbl: *mut NET_BUFFER_LIST, _: BOOLEAN) {
        // SAFETY: do-nothing seam.
        unsafe { NullKernel.fwps_free_clone_net_buffer_list0(nbl, 0) };
    }
    let mut address = [192u8, 0, 2, 1];
    let mut args = FWPS_TRANSPORT_SEND_PARAMS0 {
        remoteAddress: address.as_mut_ptr(),
        remoteScopeId: 0,
        controlData: std::ptr::null_mut(),
        controlDataLength: 0,
    };
    let mut refused = 0;
    for _ in 0..ITERATIONS {
        // SAFETY: do-nothing seam.
        let status = unsafe {
            NullKernel.fwps_inject_transport_send_async0(
                black_box(handle),
                std::ptr::null_mut(),
                7,
                0,
                &mut args,
                2,
                1,
                black_box(nbl),
                free_clone,
                std::ptr::null_mut(),
            )
        };
        if status != 0 {
            refused += 1;
        }
        NullKernel::complete_last();
    }
    refused
}

/// What a hand-written driver needs to be as safe as the injector: a rundown reference per
/// injection, a context from a lock-free pool (the lookaside-list equivalent) holding the send
/// parameters until completion, and a completion that frees the clone, returns the context and
/// releases the reference.
#[repr(C)]
struct RawContext {
    args: FWPS_TRANSPORT_SEND_PARAMS0,
    address: [u8; 16],
    index: u32,
}

// SAFETY: a context is used by one owner at a time (the pool's protocol).
unsafe impl Send for RawContext {}

static RAW_POOL: std::sync::OnceLock<SlotPool<RawContext>> = std::sync::OnceLock::new();
static mut RAW_RUNDOWN: EX_RUNDOWN_REF = EX_RUNDOWN_REF { Count: 0 };

#[inline(never)]
fn measure_inject_raw_guarded(handle: HANDLE, nbl: *mut NET_BUFFER_LIST) -> u64 {
    unsafe extern "win64" fn finish(context: *mut c_void, nbl: *mut NET_BUFFER_LIST, _: BOOLEAN) {
        let index = unsafe { (*context.cast::<RawContext>()).index };
        unsafe { NullKernel.fwps_free_clone_net_buffer_list0(nbl, 0) };
        RAW_POOL.get().unwrap().give_back(index);
        unsafe { NullKernel.ex_release_rundown_protection(&raw mut RAW_RUNDOWN) };
    }
    let pool = RAW_POOL.get_or_init(|| {
        SlotPool::new(64, |index| RawContext {
            args: FWPS_TRANSPORT_SEND_PARAMS0 {
                remoteAddress: std::ptr::null_mut(),
                remoteScopeId: 0,
                controlData: std::ptr::null_mut(),
                controlDataLength: 0,
            },
            address: [0; 16],
            index,
        })
        .unwrap()
    });
    let mut refused = 0;
    for _ in 0..ITERATIONS {
        if unsafe { NullKernel.ex_acquire_rundown_protection(&raw mut RAW_RUNDOWN) } == 0 {
            refused += 1;
            continue;
        }
        let Some(index) = pool.take() else {
            unsafe { NullKernel.ex_release_rundown_protection(&raw mut RAW_RUNDOWN) };
            refused += 1;
            continue;
        };
        let context = pool.get(index);
        let slot = unsafe { &mut *context };
        slot.address[..4].copy_from_slice(&black_box([192u8, 0, 2, 1]));
        slot.args.remoteAddress = slot.address.as_mut_ptr();
        let status = unsafe {
            NullKernel.fwps_inject_transport_send_async0(
                black_box(handle),
                std::ptr::null_mut(),
                7,
                0,
                &raw mut (*context).args,
                2,
                1,
                black_box(nbl),
                finish,
                context.cast(),
            )
        };
        if status != 0 {
            pool.give_back(index);
            unsafe { NullKernel.ex_release_rundown_protection(&raw mut RAW_RUNDOWN) };
            refused += 1;
        }
        NullKernel::complete_last();
    }
    refused
}

fn main() {
    let only = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let nbl = fake_nbl();
    let handles = DualStackInjector::create(
        NullKernel,
        InjectionTypes::TRANSPORT,
        &RetryPolicy::default(),
    )
    .unwrap();
    let raw_handle = handles.handle(IpFamily::V4).as_raw();
    let injector = PacketInjector::freeing_clones(
        DualStackInjector::create(
            NullKernel,
            InjectionTypes::TRANSPORT,
            &RetryPolicy::default(),
        )
        .unwrap(),
        64,
    )
    .unwrap();
    // SAFETY: `nbl` lives until the end of main.
    let borrowed = unsafe { NetBufferListRef::from_raw(nbl) }.unwrap();

    type Case<'a> = (&'a str, Box<dyn Fn() -> u64 + 'a>);
    let cases: Vec<Case<'_>> = vec![
        (
            "query_safe",
            Box::new(|| measure_query_safe(handles.handle(IpFamily::V4), borrowed)),
        ),
        (
            "query_raw",
            Box::new(|| measure_query_raw(&raw_handle, nbl)),
        ),
        (
            "inject_safe",
            Box::new(|| measure_inject_safe(&injector, nbl)),
        ),
        (
            "inject_raw",
            Box::new(|| measure_inject_raw(raw_handle, nbl)),
        ),
        (
            "inject_raw_guarded",
            Box::new(|| measure_inject_raw_guarded(raw_handle, nbl)),
        ),
    ];
    println!("{ITERATIONS} operations each; do-nothing seam");
    println!("{:<20} {:>10} {:>8}", "case", "allocs/op", "ns/op");
    for (name, run) in &cases {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let started = std::time::Instant::now();
        black_box(run());
        let elapsed = started.elapsed();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        println!(
            "{name:<20} {:>10.3} {:>8.1}",
            allocations as f64 / ITERATIONS as f64,
            elapsed.as_nanos() as f64 / ITERATIONS as f64
        );
    }
    drop(cases);
    drop(injector);
    drop(handles);
    // SAFETY: allocated by fake_nbl, no longer used.
    drop(unsafe { Box::from_raw(nbl) });
}
