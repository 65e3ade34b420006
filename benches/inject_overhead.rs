//! What the safe layer costs over a hand-written driver doing the same work with the same
//! guarantees, on a seam the optimizer cannot see through.
//!
//! Each measured function (`measure_*`, unmangled, so callgrind's toggle names exactly one
//! function) runs `ITERATIONS` operations; a run executes one case (named on the command line),
//! so a function shared by two cases (injection with and without control data) is measured once
//! per run. `scripts/bench-overhead.sh` runs this binary under
//! callgrind with collection toggled on for exactly that function, counts the instructions of
//! every function executed inside it except the stand-in kernel (`kernel_*`), and fails unless the
//! measured function was entered and each side made the same kernel calls per operation. Run
//! alone, it prints heap allocations per operation (a counting global allocator) and a rough time.
//!
//! The seam is import-like: every kernel function the measured paths call is reached through a
//! table of `extern "win64"` function pointers written at run time (as the loader fills the
//! import address table), and the statuses they return are read from memory set at run time, so
//! link-time optimization can neither inline the calls nor predict their results: refusal paths
//! stay in both sides' code. An injection completes when the harness calls the completion
//! function it was given, as WFP would later, through the same kind of pointer. Benchmark code:
//! its unsafe blocks drive that stand-in kernel and are not part of the driver.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block,
    clippy::missing_safety_doc
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};

use wfp_injector::inject::cached_pool::CachedPool;
use wfp_injector::inject::pool::SlotPool;
use wfp_injector::inject::{
    ClonedNetBufferList, DualStackInjector, FreeOnCompletion, Injection, InjectionTypes, IpFamily,
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

// ---------------------------------------------------------------------------------------------
// The stand-in kernel: functions named kernel_*, excluded from the counts.

/// What the stand-in kernel's functions return: set at run time (`black_box`), so unknown to the
/// optimizer. Zero (success) in every measured run.
static STATUS: AtomicI32 = AtomicI32::new(-1);
/// What ExAcquireRundownProtection returns (TRUE in every measured run).
static ACQUIRED: AtomicU8 = AtomicU8::new(0);
/// The processor the stand-in's KeGetCurrentProcessorNumberEx answers.
static PROCESSOR: AtomicU32 = AtomicU32::new(0);
/// The injection WFP holds: completion function, its context, the NBL.
static PENDING_COMPLETION: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
static PENDING_CONTEXT: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
static PENDING_NBL: AtomicPtr<NET_BUFFER_LIST> = AtomicPtr::new(ptr::null_mut());

type QueryFn = unsafe extern "win64" fn(
    HANDLE,
    *const NET_BUFFER_LIST,
    *mut HANDLE,
) -> FWPS_PACKET_INJECTION_STATE;
type SendFn = unsafe extern "win64" fn(
    HANDLE,
    HANDLE,
    u64,
    u32,
    *mut FWPS_TRANSPORT_SEND_PARAMS0,
    ADDRESS_FAMILY,
    COMPARTMENT_ID,
    *mut NET_BUFFER_LIST,
    FWPS_INJECT_COMPLETE0,
    *mut c_void,
) -> NTSTATUS;
type FreeFn = unsafe extern "win64" fn(*mut NET_BUFFER_LIST, u32);
type RundownFn = unsafe extern "win64" fn(*mut EX_RUNDOWN_REF) -> BOOLEAN;
type ReleaseFn = unsafe extern "win64" fn(*mut EX_RUNDOWN_REF);
type ProcessorFn = unsafe extern "win64" fn(*mut PROCESSOR_NUMBER) -> u32;

/// The import address table: one pointer per kernel function the measured paths call.
#[derive(Clone, Copy)]
struct Imports {
    query: QueryFn,
    send: SendFn,
    free_clone: FreeFn,
    acquire: RundownFn,
    release: ReleaseFn,
    processor: ProcessorFn,
}

static mut IMPORTS: Imports = Imports {
    query: kernel_unbound_query,
    send: kernel_unbound_send,
    free_clone: kernel_unbound_free,
    acquire: kernel_unbound_acquire,
    release: kernel_unbound_release,
    processor: kernel_unbound_processor,
};

#[inline(always)]
fn imports() -> Imports {
    // SAFETY: written once in main before any measured code runs; read-only afterwards.
    unsafe { (&raw const IMPORTS).read() }
}

#[unsafe(no_mangle)]
unsafe extern "win64" fn kernel_query(
    _: HANDLE,
    nbl: *const NET_BUFFER_LIST,
    context: *mut HANDLE,
) -> FWPS_PACKET_INJECTION_STATE {
    black_box((nbl, context));
    STATUS.load(Ordering::Relaxed)
}

#[unsafe(no_mangle)]
unsafe extern "win64" fn kernel_inject_transport_send(
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
    let status = STATUS.load(Ordering::Relaxed);
    if status >= 0 {
        PENDING_COMPLETION.store(completion as *mut c_void, Ordering::Relaxed);
        PENDING_CONTEXT.store(context, Ordering::Relaxed);
        PENDING_NBL.store(nbl, Ordering::Relaxed);
    }
    status
}

#[unsafe(no_mangle)]
unsafe extern "win64" fn kernel_free_clone(nbl: *mut NET_BUFFER_LIST, _: u32) {
    black_box(nbl);
}

#[unsafe(no_mangle)]
unsafe extern "win64" fn kernel_acquire_rundown(rundown: *mut EX_RUNDOWN_REF) -> BOOLEAN {
    black_box(rundown);
    ACQUIRED.load(Ordering::Relaxed)
}

#[unsafe(no_mangle)]
unsafe extern "win64" fn kernel_release_rundown(rundown: *mut EX_RUNDOWN_REF) {
    black_box(rundown);
}

#[unsafe(no_mangle)]
unsafe extern "win64" fn kernel_processor(number: *mut PROCESSOR_NUMBER) -> u32 {
    black_box(number);
    PROCESSOR.load(Ordering::Relaxed)
}

/// What WFP does later: run the pending injection's completion, its NBL's status set.
#[unsafe(no_mangle)]
#[inline(never)]
extern "C" fn kernel_complete_pending() {
    let completion = PENDING_COMPLETION.swap(ptr::null_mut(), Ordering::Relaxed);
    if completion.is_null() {
        return;
    }
    let context = PENDING_CONTEXT.load(Ordering::Relaxed);
    let nbl = PENDING_NBL.load(Ordering::Relaxed);
    // SAFETY: the completion and context were given together for this NBL.
    unsafe {
        (*nbl).Status = 0;
        let completion: FWPS_INJECT_COMPLETE0 = std::mem::transmute(completion);
        completion(context, nbl, 1);
    }
}

unsafe extern "win64" fn kernel_unbound_query(
    _: HANDLE,
    _: *const NET_BUFFER_LIST,
    _: *mut HANDLE,
) -> FWPS_PACKET_INJECTION_STATE {
    unreachable!("import not bound")
}
#[allow(clippy::too_many_arguments)]
unsafe extern "win64" fn kernel_unbound_send(
    _: HANDLE,
    _: HANDLE,
    _: u64,
    _: u32,
    _: *mut FWPS_TRANSPORT_SEND_PARAMS0,
    _: ADDRESS_FAMILY,
    _: COMPARTMENT_ID,
    _: *mut NET_BUFFER_LIST,
    _: FWPS_INJECT_COMPLETE0,
    _: *mut c_void,
) -> NTSTATUS {
    unreachable!("import not bound")
}
unsafe extern "win64" fn kernel_unbound_free(_: *mut NET_BUFFER_LIST, _: u32) {
    unreachable!("import not bound")
}
unsafe extern "win64" fn kernel_unbound_acquire(_: *mut EX_RUNDOWN_REF) -> BOOLEAN {
    unreachable!("import not bound")
}
unsafe extern "win64" fn kernel_unbound_release(_: *mut EX_RUNDOWN_REF) {
    unreachable!("import not bound")
}
unsafe extern "win64" fn kernel_unbound_processor(_: *mut PROCESSOR_NUMBER) -> u32 {
    unreachable!("import not bound")
}

/// The seam for the safe layer: the functions the measured paths call go through the import
/// table; the rest (creation and teardown, outside the measurements) do nothing.
#[derive(Clone, Copy)]
struct ImportKernel;

/// Derives the stand-in from the declaration list: [`StandIn`] has a default for every kernel
/// function (success, null, zero, nothing), and `KernelApi` for [`ImportKernel`] calls it.
macro_rules! stand_in {
    ($([$kind:ident $role:tt $method:ident $export:ident ($($arg:ident: $ty:ty),*) ($($ret:ty)?) $where:literal $irql:ident])*) => {
        /// The stand-in's kernel functions, named after the exports: defaults, which the
        /// measured ones override.
        #[allow(non_snake_case, unused_variables, clippy::too_many_arguments)]
        trait StandIn {
            $(stand_in_default!($kind $role $export($($arg: $ty),*) $(-> $ret)?);)*
        }

        #[allow(clippy::too_many_arguments)]
        impl KernelApi for ImportKernel {
            $(stand_in_method!($kind $role $method $export($($arg: $ty),*) $(-> $ret)?);)*

            // Classify's entry, which is not measured here.
            fn current_processor_index() -> u32 {
                0
            }
        }
    };
}

macro_rules! stand_in_default {
    (import safe $($entry:tt)*) => {
        stand_in_default!(@default $($entry)*);
    };
    (import unsafe $($entry:tt)*) => {
        stand_in_default!(@default $($entry)*);
    };
    (@default $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        #[inline(always)]
        unsafe fn $export(&self, $($arg: $ty),*) $(-> $ret)? {
            Default::default()
        }
    };
    ($($other:tt)*) => {};
}

macro_rules! stand_in_method {
    (import safe $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        #[inline(always)]
        fn $method(&self, $($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the stand-in's functions have no preconditions beyond the method's.
            unsafe { StandIn::$export(self, $($arg),*) }
        }
    };
    (import unsafe $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        #[inline(always)]
        unsafe fn $method(&self, $($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the caller upholds the method's contract, which the stand-in assumes.
            unsafe { StandIn::$export(self, $($arg),*) }
        }
    };
    ($other:tt $($rest:tt)*) => {};
}

wfp_seam::kernel_functions!(stand_in);

/// The stand-in's cache-aware rundown block: one word, as the import stand-ins only read it.
struct RundownBlock(std::cell::UnsafeCell<EX_RUNDOWN_REF>);
// SAFETY: the stand-in functions only pass its address around.
unsafe impl Sync for RundownBlock {}
impl RundownBlock {
    fn get(&self) -> *mut EX_RUNDOWN_REF {
        self.0.get()
    }
}
static CACHE_AWARE_RUNDOWN: RundownBlock =
    RundownBlock(std::cell::UnsafeCell::new(unsafe { std::mem::zeroed() }));

/// The functions the measured paths call go through the import table; creation returns handles.
#[allow(non_snake_case, clippy::too_many_arguments)]
impl StandIn for ImportKernel {
    #[inline(never)]
    unsafe fn ObfReferenceObject(&self, _: *mut core::ffi::c_void) -> isize {
        2
    }
    unsafe fn FwpsInjectionHandleCreate0(
        &self,
        family: ADDRESS_FAMILY,
        _: u32,
        handle: *mut HANDLE,
    ) -> NTSTATUS {
        unsafe { handle.write((0x1000 + usize::from(family)) as HANDLE) };
        0
    }
    #[inline(always)]
    unsafe fn FwpsQueryPacketInjectionState0(
        &self,
        handle: HANDLE,
        nbl: *const NET_BUFFER_LIST,
        context: *mut HANDLE,
    ) -> FWPS_PACKET_INJECTION_STATE {
        unsafe { (imports().query)(handle, nbl, context) }
    }
    #[inline(always)]
    unsafe fn FwpsInjectTransportSendAsync0(
        &self,
        handle: HANDLE,
        context: HANDLE,
        endpoint: u64,
        flags: u32,
        args: *mut FWPS_TRANSPORT_SEND_PARAMS0,
        family: ADDRESS_FAMILY,
        compartment: COMPARTMENT_ID,
        nbl: *mut NET_BUFFER_LIST,
        completion: FWPS_INJECT_COMPLETE0,
        completion_context: *mut c_void,
    ) -> NTSTATUS {
        unsafe {
            (imports().send)(
                handle,
                context,
                endpoint,
                flags,
                args,
                family,
                compartment,
                nbl,
                completion,
                completion_context,
            )
        }
    }
    unsafe fn FwpsAllocateCloneNetBufferList0(
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
    #[inline(always)]
    unsafe fn FwpsFreeCloneNetBufferList0(&self, clone: *mut NET_BUFFER_LIST, flags: u32) {
        unsafe { (imports().free_clone)(clone, flags) }
    }
    // The safe layer's rundown is cache-aware; its acquire and release go through the same
    // import-table stand-ins as the hand-written driver's plain rundown, so both pay one import
    // call each way.
    unsafe fn ExAllocateCacheAwareRundownProtection(
        &self,
        _: POOL_TYPE,
        _: u32,
    ) -> PEX_RUNDOWN_REF_CACHE_AWARE {
        CACHE_AWARE_RUNDOWN.get().cast()
    }
    #[inline(always)]
    unsafe fn ExAcquireRundownProtectionCacheAware(
        &self,
        rundown: PEX_RUNDOWN_REF_CACHE_AWARE,
    ) -> BOOLEAN {
        unsafe { (imports().acquire)(rundown.cast()) }
    }
    #[inline(always)]
    unsafe fn ExReleaseRundownProtectionCacheAware(&self, rundown: PEX_RUNDOWN_REF_CACHE_AWARE) {
        unsafe { (imports().release)(rundown.cast()) }
    }
    // The context pool's per-processor caches ask on take and give-back, both sides alike.
    #[inline(always)]
    unsafe fn KeGetCurrentProcessorNumberEx(&self, number: *mut PROCESSOR_NUMBER) -> u32 {
        unsafe { (imports().processor)(number) }
    }
    unsafe fn FwpmBfeStateGet0(&self) -> FWPM_SERVICE_STATE {
        FWPM_SERVICE_RUNNING
    }
}

// ---------------------------------------------------------------------------------------------
// The request both sides inject: a UDP transport send, as classify builds it from its values.

/// An NBL-shaped block for the stand-in kernel to pass around.
fn fake_nbl() -> *mut NET_BUFFER_LIST {
    // SAFETY: NET_BUFFER_LIST is plain data; zero is a valid bit pattern.
    Box::into_raw(Box::new(unsafe { std::mem::zeroed::<NET_BUFFER_LIST>() }))
}

/// The per-operation input, read through `black_box` so neither side can fold it.
#[derive(Clone, Copy)]
struct Input<'a> {
    endpoint: u64,
    address: [u8; 4],
    compartment: u32,
    control_data: &'a [u8],
}

// ---------------------------------------------------------------------------------------------
// Safe side.

type SafeInjector =
    PacketInjector<ImportKernel, FreeOnCompletion<ClonedNetBufferList<ImportKernel>>>;

#[unsafe(no_mangle)]
#[inline(never)]
fn measure_query_safe(handles: &DualStackInjector<ImportKernel>, nbl: NetBufferListRef<'_>) -> u64 {
    let mut own = 0;
    for _ in 0..ITERATIONS {
        let family = black_box(IpFamily::V4);
        own += u64::from(handles.query(family, black_box(nbl)).0.is_own());
    }
    own
}

/// One safe injection per iteration, completed by the stand-in kernel before the next.
#[inline(always)]
fn inject_safe_loop(injector: &SafeInjector, nbl: *mut NET_BUFFER_LIST, input: &Input<'_>) -> u64 {
    let mut refused = 0;
    for _ in 0..ITERATIONS {
        let input = black_box(input);
        // SAFETY: the stand-in kernel hands this pointer back unchanged and frees nothing.
        let packet = unsafe { ClonedNetBufferList::from_raw(&ImportKernel, black_box(nbl)) };
        let request = Injection::TransportSend(TransportSend {
            endpoint_handle: input.endpoint,
            remote_address: RemoteAddress::V4(input.address),
            control_data: input.control_data,
            compartment: input.compartment,
            protocol: IpProtocol::UDP,
        });
        if let Err(refusal) = injector.inject(packet, request, Tag::default()) {
            drop(refusal.packet);
            refused += 1;
        }
        kernel_complete_pending();
    }
    refused
}

#[unsafe(no_mangle)]
#[inline(never)]
fn measure_inject_safe(
    injector: &SafeInjector,
    nbl: *mut NET_BUFFER_LIST,
    input: &Input<'_>,
) -> u64 {
    inject_safe_loop(injector, nbl, input)
}

// ---------------------------------------------------------------------------------------------
// Raw side: what a hand-written driver does for the same guarantees. One handle per family
// picked by the address; a context per injection from the same lock-free pool (the lookaside
// list's equivalent) holding the send parameters, address and control data until completion
// (copied only when present, refused when longer than the context holds, before any kernel
// call); a rundown reference per injection so unload can wait for completions; on refusal
// everything is given back and the packet freed; a completion that frees the clone, returns the
// context and releases the reference.

const RAW_CONTROL_CAPACITY: usize = wfp_injector::inject::CONTROL_DATA_CAPACITY;

#[repr(C)]
struct RawContext {
    owner: *const RawDriver,
    index: u32,
    args: FWPS_TRANSPORT_SEND_PARAMS0,
    address: [u8; 16],
    control: [u8; RAW_CONTROL_CAPACITY],
}

// SAFETY: a context is used by one owner at a time (the pool's protocol).
unsafe impl Send for RawContext {}

struct RawDriver {
    handles: [HANDLE; 2],
    rundown: std::cell::UnsafeCell<EX_RUNDOWN_REF>,
    pool: CachedPool<RawContext>,
}

unsafe extern "win64" fn raw_completion(
    context: *mut c_void,
    nbl: *mut NET_BUFFER_LIST,
    _: BOOLEAN,
) {
    let context = context.cast::<RawContext>();
    let driver = unsafe { &*(*context).owner };
    let index = unsafe { (*context).index };
    unsafe { (imports().free_clone)(nbl, 0) };
    let processor = unsafe { (imports().processor)(ptr::null_mut()) };
    driver.pool.give_back(processor, index);
    unsafe { (imports().release)(driver.rundown.get()) };
}

#[inline(always)]
fn raw_inject(driver: &RawDriver, nbl: *mut NET_BUFFER_LIST, input: &Input<'_>) -> bool {
    let control = input.control_data;
    if control.len() > RAW_CONTROL_CAPACITY {
        return false;
    }
    let processor = unsafe { (imports().processor)(ptr::null_mut()) };
    let Some(index) = driver.pool.take(processor) else {
        return false;
    };
    if unsafe { (imports().acquire)(driver.rundown.get()) } == 0 {
        driver.pool.give_back(processor, index);
        return false;
    }
    let context = driver.pool.get(index);
    let slot = unsafe { &mut *context };
    slot.address[..4].copy_from_slice(&input.address);
    let mut control_data = ptr::null_mut();
    if !control.is_empty() {
        slot.control[..control.len()].copy_from_slice(control);
        control_data = slot.control.as_mut_ptr();
    }
    slot.args = FWPS_TRANSPORT_SEND_PARAMS0 {
        remoteAddress: slot.address.as_mut_ptr(),
        remoteScopeId: 0,
        controlData: control_data.cast(),
        controlDataLength: control.len() as u32,
    };
    let status = unsafe {
        (imports().send)(
            driver.handles[0],
            ptr::null_mut(),
            input.endpoint,
            0,
            &raw mut (*context).args,
            2,
            input.compartment,
            nbl,
            raw_completion,
            context.cast(),
        )
    };
    if status < 0 {
        driver.pool.give_back(processor, index);
        unsafe { (imports().release)(driver.rundown.get()) };
        return false;
    }
    true
}

#[unsafe(no_mangle)]
#[inline(never)]
fn measure_query_raw(handles: &[HANDLE; 2], nbl: *mut NET_BUFFER_LIST) -> u64 {
    let mut own = 0;
    for _ in 0..ITERATIONS {
        let family = black_box(IpFamily::V4);
        let handle = match family {
            IpFamily::V4 => handles[0],
            IpFamily::V6 => handles[1],
        };
        let mut context: HANDLE = ptr::null_mut();
        let state = unsafe { (imports().query)(handle, black_box(nbl), &mut context) };
        own += u64::from(state == 1 || state == 3);
    }
    own
}

/// One hand-written injection per iteration, completed by the stand-in kernel before the next.
#[inline(always)]
fn inject_raw_loop(driver: &RawDriver, nbl: *mut NET_BUFFER_LIST, input: &Input<'_>) -> u64 {
    let mut refused = 0;
    for _ in 0..ITERATIONS {
        let input = black_box(input);
        let nbl = black_box(nbl);
        if !raw_inject(driver, nbl, input) {
            unsafe { (imports().free_clone)(nbl, 0) };
            refused += 1;
        }
        kernel_complete_pending();
    }
    refused
}

#[unsafe(no_mangle)]
#[inline(never)]
fn measure_inject_raw(driver: &RawDriver, nbl: *mut NET_BUFFER_LIST, input: &Input<'_>) -> u64 {
    inject_raw_loop(driver, nbl, input)
}

fn main() {
    // Bind the imports and the statuses at run time, as the loader would.
    unsafe {
        IMPORTS = black_box(Imports {
            query: kernel_query,
            send: kernel_inject_transport_send,
            free_clone: kernel_free_clone,
            acquire: kernel_acquire_rundown,
            release: kernel_release_rundown,
            processor: kernel_processor,
        });
    }
    STATUS.store(black_box(0), Ordering::Relaxed);
    ACQUIRED.store(black_box(1), Ordering::Relaxed);
    PROCESSOR.store(black_box(0), Ordering::Relaxed);

    let only = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let nbl = fake_nbl();
    let handles = DualStackInjector::create(
        ImportKernel,
        InjectionTypes::TRANSPORT,
        &RetryPolicy::default(),
    )
    .unwrap();
    let raw_handles = [
        handles.handle(IpFamily::V4).as_raw(),
        handles.handle(IpFamily::V6).as_raw(),
    ];
    let injector = PacketInjector::freeing_clones(
        DualStackInjector::create(
            ImportKernel,
            InjectionTypes::TRANSPORT,
            &RetryPolicy::default(),
        )
        .unwrap(),
        64,
    )
    .unwrap();
    let raw_driver = Box::new(RawDriver {
        handles: raw_handles,
        rundown: std::cell::UnsafeCell::new(EX_RUNDOWN_REF { Count: 0 }),
        pool: CachedPool::new(
            SlotPool::new(64, |index| RawContext {
                owner: ptr::null(),
                index,
                args: FWPS_TRANSPORT_SEND_PARAMS0 {
                    remoteAddress: ptr::null_mut(),
                    remoteScopeId: 0,
                    controlData: ptr::null_mut(),
                    controlDataLength: 0,
                },
                address: [0; 16],
                control: [0; RAW_CONTROL_CAPACITY],
            })
            .unwrap(),
            // As many caches as the safe side's injector makes (the stand-in's answer).
            ImportKernel.ke_query_active_processor_count_ex(ALL_PROCESSOR_GROUPS),
        )
        .unwrap(),
    });
    for index in 0..64 {
        unsafe { (*raw_driver.pool.get(index)).owner = &*raw_driver };
    }
    // SAFETY: `nbl` lives until the end of main.
    let borrowed = unsafe { NetBufferListRef::from_raw(nbl) }.unwrap();
    // Ancillary data as a socket sends it: one WSACMSGHDR-sized record and its payload.
    let control = [0x5Au8; 40];
    let plain = Input {
        endpoint: 7,
        address: [192, 0, 2, 1],
        compartment: 1,
        control_data: &[],
    };
    let with_control = Input {
        control_data: &control,
        ..plain
    };

    type Case<'a> = (&'a str, Box<dyn Fn() -> u64 + 'a>);
    let cases: Vec<Case<'_>> = vec![
        (
            "query_safe",
            Box::new(|| measure_query_safe(&handles, borrowed)),
        ),
        (
            "query_raw",
            Box::new(|| measure_query_raw(&raw_handles, nbl)),
        ),
        (
            "inject_safe",
            Box::new(|| measure_inject_safe(&injector, nbl, &plain)),
        ),
        (
            "inject_raw",
            Box::new(|| measure_inject_raw(&raw_driver, nbl, &plain)),
        ),
        (
            "inject_control_safe",
            Box::new(|| measure_inject_safe(&injector, nbl, &with_control)),
        ),
        (
            "inject_control_raw",
            Box::new(|| measure_inject_raw(&raw_driver, nbl, &with_control)),
        ),
    ];
    println!("{ITERATIONS} operations each; import-like stand-in kernel");
    println!(
        "{:<20} {:>10} {:>8} {:>9}",
        "case", "allocs/op", "ns/op", "refused"
    );
    for (name, run) in &cases {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let started = std::time::Instant::now();
        let refused = black_box(run());
        let elapsed = started.elapsed();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        println!(
            "{name:<20} {:>10.3} {:>8.1} {:>9}",
            allocations as f64 / ITERATIONS as f64,
            elapsed.as_nanos() as f64 / ITERATIONS as f64,
            refused
        );
        assert_eq!(refused, 0, "{name}: the stand-in kernel accepts everything");
    }
    drop(cases);
    drop(injector);
    drop(handles);
    drop(raw_driver);
    // SAFETY: allocated by fake_nbl, no longer used.
    drop(unsafe { Box::from_raw(nbl) });
}
