//! The simulated stack's second way in: one `extern "win64"` function per kernel import of the
//! driver image and per KMDF table entry, each forwarding to the same simulated stack the
//! host-compiled tests call through `KernelApi` / `WdfApi` (so the same prologue runs). No
//! semantics live here, and nothing is written by hand but the loader's two exports: the shims,
//! their resolve table and the KMDF table are derived from the seam's declaration list. An import
//! the list does not declare fails the image's mapping and names it.

#![allow(
    non_snake_case,
    clippy::too_many_arguments,
    clippy::missing_safety_doc,
    dead_code
)]

use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, MutexGuard};

use wfp_injector::sys::types::*;
use wfp_injector::sys::{KernelApi, KernelFn};
use wfp_sim::SimulatedStack;
use wfp_sim::kmdf::facts::{FUNCTION_COUNT_1_33, index};

static CURRENT: AtomicPtr<SimulatedStack> = AtomicPtr::new(std::ptr::null_mut());
/// One image runs at a time: the shims reach the stack through one global.
static SERIAL: Mutex<()> = Mutex::new(());

/// The stack the shims forward to while this guard lives.
pub struct Bound<'a> {
    _serial: MutexGuard<'static, ()>,
    _stack: std::marker::PhantomData<&'a SimulatedStack>,
}

/// Makes `stack` the one the shims forward to until the guard drops.
pub fn bind(stack: &SimulatedStack) -> Bound<'_> {
    let serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    CURRENT.store(std::ptr::from_ref(stack).cast_mut(), Ordering::Release);
    Bound {
        _serial: serial,
        _stack: std::marker::PhantomData,
    }
}

impl Drop for Bound<'_> {
    fn drop(&mut self) {
        CURRENT.store(std::ptr::null_mut(), Ordering::Release);
    }
}

fn stack() -> &'static SimulatedStack {
    let current = CURRENT.load(Ordering::Acquire);
    if current.is_null() {
        eprintln!("a kernel import was called with no simulated stack bound");
        std::process::abort();
    }
    // SAFETY: `bind` keeps the stack alive and bound while the image runs.
    unsafe { &*current }
}

/// Derives the shims, [`resolve`] and the KMDF table's entries from the declaration list.
macro_rules! win64_shims {
    ($([$kind:ident $role:tt $method:ident $export:ident ($($arg:ident: $ty:ty),*) ($($ret:ty)?) $where:literal $irql:ident])*) => {
        $(shim!($kind $role $method $export($($arg: $ty),*) $(-> $ret)?);)*

        /// The shim for `module!name`, as an address to write into the image's import table.
        pub fn resolve(module: &str, name: &str) -> Option<usize> {
            let module = module.to_ascii_lowercase();
            let found = [$((stringify!($kind), $where.to_string(), stringify!($export), $export as *const () as usize),)*];
            found
                .into_iter()
                .find(|(kind, at, export, _)| *kind == "import" && *at == module && *export == name)
                .map(|(_, _, _, address)| address)
        }

        /// The KMDF table entries the simulated framework implements, by name.
        fn wdf_entries() -> Vec<(&'static str, usize)> {
            let all = [$((stringify!($kind), stringify!($export), $export as *const () as usize),)*];
            all.into_iter()
                .filter(|(kind, _, _)| *kind == "wdf")
                .map(|(_, name, address)| (name, address))
                .collect()
        }
    };
}

/// One shim: imports that are trait methods go through the trait (the prologue, then the
/// semantics); the runtime's functions through the same prologue to their semantics; the KMDF
/// table's entries take the globals first; the loader's are written below.
macro_rules! shim {
    (import safe $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        unsafe extern "win64" fn $export($($arg: $ty),*) $(-> $ret)? {
            (&stack()).$method($($arg),*)
        }
    };
    (import unsafe $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        unsafe extern "win64" fn $export($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the image calls with the export's contract, which is the trait method's.
            unsafe { (&stack()).$method($($arg),*) }
        }
    };
    (import runtime $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        unsafe extern "win64" fn $export($($arg: $ty),*) $(-> $ret)? {
            let stack = stack();
            stack.call(KernelFn::$export, || stack.$export($($arg),*))
        }
    };
    (import noreturn $method:ident $export:ident($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        unsafe extern "win64" fn $export($($arg: $ty),*) -> $ret {
            stack().$export($($arg),*)
        }
    };
    (import loader $($rest:tt)*) => {};
    (wdf $role:tt $method:ident $export:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        /// The KMDF table entry: the globals first, then the function's parameters.
        #[allow(unused_unsafe)]
        unsafe extern "win64" fn $export(
            globals: *mut WDF_DRIVER_GLOBALS,
            $($arg: $ty),*
        ) $(-> $ret)? {
            let stack = stack();
            stack.call(KernelFn::$export, || {
                // SAFETY: the image calls with the function's contract, which the semantics
                // assume.
                unsafe { stack.$export(globals, $($arg),*) }
            })
        }
    };
}

wfp_seam::kernel_functions!(win64_shims);

// --- wdfldr.sys: the loader hands the image the simulated framework's table ---

/// The function table the simulated loader hands the image: the functions the simulated KMDF
/// implements at their WDFFUNCENUM indices (the simulator's own copies), `WdfUnimplemented`
/// everywhere else.
struct Table([usize; FUNCTION_COUNT_1_33 as usize]);

static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();

fn table() -> *const WDFFUNC {
    let table = TABLE.get_or_init(|| {
        let mut entries = [WdfUnimplemented as *const () as usize; FUNCTION_COUNT_1_33 as usize];
        for (name, shim) in wdf_entries() {
            let at = index::of(name).expect("the simulated KMDF implements every listed function");
            entries[at] = shim;
        }
        Table(entries)
    });
    table.0.as_ptr().cast()
}

unsafe extern "win64" fn WdfUnimplemented() {
    eprintln!("the image called a WDF function the simulated KMDF does not implement");
    std::process::abort();
}

unsafe extern "win64" fn WdfVersionBind(
    driver: *mut DRIVER_OBJECT,
    registry_path: *const UNICODE_STRING,
    info: *mut WDF_BIND_INFO,
    globals: *mut *mut WDF_DRIVER_GLOBALS,
) -> NTSTATUS {
    // SAFETY: the image calls with the export's contract; the table is a static.
    unsafe { stack().wdf_version_bind(driver, registry_path, info, globals, table()) }
}

unsafe extern "win64" fn WdfVersionUnbind(
    registry_path: *const UNICODE_STRING,
    info: *mut WDF_BIND_INFO,
    globals: *mut WDF_DRIVER_GLOBALS,
) -> NTSTATUS {
    // SAFETY: the image's call; wdfldr's contract makes the registry path readable.
    unsafe { stack().wdf_version_unbind(registry_path, info, globals) }
}
