//! The KMDF client binding (crates/seam/src/sys/kmdf_binding.rs), host-compiled over the simulated wdfldr: the
//! code the image's FxDriverEntry runs. It binds KMDF 1.31 on the frameworks of Windows 10 2004
//! (1.31) and Windows 11 (1.33) and runs the shell; the framework of Windows 10 1903 (1.29)
//! refuses it, the shell never runs and nothing is left; the loader sees one registry path copy
//! at bind and unbind, and the bound table answers WDF calls until unbind.

#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/kmdf_host.rs"]
mod kmdf_host;

#[path = "support/heap.rs"]
mod heap;

use std::cell::Cell;
use std::sync::Mutex;

use host_driver::{RegistryPath, registry_path};
use kmdf_host::{Sim, evt_driver_unload, evt_io_device_control};
use wfp_injector::nt::NtStatus;
use wfp_injector::shell::kmdf;
use wfp_injector::shell::slot::Slot;
use wfp_injector::sys::kmdf_binding::{Binding, WdfLoader};
use wfp_injector::sys::types::{
    DRIVER_OBJECT, NTSTATUS, UNICODE_STRING, WDF_BIND_INFO, WDF_DRIVER_GLOBALS, WDFFUNC,
    WdfFunctionTableNumEntries,
};
use wfp_sim::kmdf::KmdfEvent;
use wfp_sim::kmdf::facts::{
    BIND_REFUSED, FRAMEWORK_MINOR, FRAMEWORK_MINOR_WINDOWS_10_1903, FRAMEWORK_MINOR_WINDOWS_10_2004,
};
use wfp_sim::{SimulatedStack, WfpObjects};

/// WdfDriverCreate's WDFFUNCENUM index, from the declaration list.
const DRIVER_CREATE: usize = match wfp_injector::sys::KernelFn::WdfDriverCreate.wdf_index() {
    Some(index) => index,
    None => panic!("WdfDriverCreate is a KMDF table entry"),
};

unsafe extern "win64" fn no_displacement(_driver: *mut DRIVER_OBJECT) {
    panic!("the host client's framework never asks to displace the unload routine");
}

/// The binding and loader the displacing unload routine works with (addresses; FxDriverEntry's
/// are statics).
static DISPLACING: Mutex<Option<(usize, usize)>> = Mutex::new(None);

/// What FxDriverEntry's displacing unload routine does: [`Binding::unload`].
unsafe extern "win64" fn displacing_unload(driver: *mut DRIVER_OBJECT) {
    let (binding, loader) = DISPLACING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .expect("installed by the test");
    // SAFETY: the test keeps both alive until its unload call returns.
    let binding = unsafe { &*(binding as *const Binding) };
    // SAFETY: as above.
    let loader = unsafe { &*(loader as *const SimLoader) };
    // SAFETY: the I/O manager's unload call for the driver the binding entered.
    unsafe { binding.unload(loader, driver) };
}

/// The simulated wdfldr, handing out a table of made-up entries (entry i is 0x1000 + 16 i): the
/// host shell calls WDF through the seam, so the table is only read, never called.
struct SimLoader {
    sim: Sim,
    table: Vec<usize>,
}

impl SimLoader {
    fn new(sim: Sim) -> Self {
        let table = (0..WdfFunctionTableNumEntries as usize)
            .map(|i| 0x1000 + 16 * i)
            .collect();
        Self { sim, table }
    }
}

impl WdfLoader for SimLoader {
    unsafe fn version_bind(
        &self,
        driver_object: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
        info: *mut WDF_BIND_INFO,
        globals: *mut *mut WDF_DRIVER_GLOBALS,
    ) -> NTSTATUS {
        // SAFETY: the trait's contract is the export's; the table outlives the binding.
        unsafe {
            self.sim.wdf_version_bind(
                driver_object,
                registry_path,
                info,
                globals,
                self.table.as_ptr().cast::<WDFFUNC>(),
            )
        }
    }

    unsafe fn version_unbind(
        &self,
        registry_path: *const UNICODE_STRING,
        info: *mut WDF_BIND_INFO,
        globals: *mut WDF_DRIVER_GLOBALS,
    ) -> NTSTATUS {
        // SAFETY: the trait's contract is the export's.
        unsafe { self.sim.wdf_version_unbind(registry_path, info, globals) }
    }
}

struct Load {
    sim: Sim,
    slot: &'static Slot<Sim>,
    binding: Box<Binding>,
    loader: SimLoader,
    driver: Box<DRIVER_OBJECT>,
    path: RegistryPath,
}

/// Frees the stack and the slot `setup` made for the callback (they must outlive every use of
/// CURRENT, so they are not owned by `Load`'s fields).
impl Drop for Load {
    fn drop(&mut self) {
        kmdf_host::set_current(None);
        // SAFETY: made by Box::into_raw in setup, freed once here; nothing uses them after
        // CURRENT is cleared and the load is gone.
        drop(unsafe { Box::from_raw(std::ptr::from_ref(self.slot).cast_mut()) });
        // SAFETY: as above.
        drop(unsafe { Box::from_raw(std::ptr::from_ref(self.sim).cast_mut()) });
    }
}

fn setup(framework_minor: u32) -> Load {
    // SAFETY: freed by Load's Drop, the last user.
    let sim: Sim = unsafe { &*Box::into_raw(Box::new(SimulatedStack::new())) };
    sim.install_framework(framework_minor);
    // SAFETY: as above.
    let slot: &'static Slot<Sim> = unsafe { &*Box::into_raw(Box::new(Slot::new())) };
    kmdf_host::set_current(Some((sim, slot)));
    Load {
        sim,
        slot,
        binding: Box::new(Binding::new()),
        loader: SimLoader::new(sim),
        // SAFETY: plain data; zero is how the I/O manager hands fields over.
        driver: Box::new(unsafe { std::mem::zeroed() }),
        path: registry_path(),
    }
}

impl Load {
    /// FxDriverEntry's work: the binding, then the shell; `ran` records whether the shell ran.
    fn enter(&mut self, ran: &Cell<bool>) -> NtStatus {
        let (sim, slot) = (self.sim, self.slot);
        let shell = |driver: *mut DRIVER_OBJECT, path: *const UNICODE_STRING| {
            ran.set(true);
            // SAFETY: the I/O manager's arguments passed on; evt_driver_unload uses this stack
            // and slot.
            unsafe {
                kmdf::driver_entry(
                    sim,
                    slot,
                    driver,
                    path,
                    evt_driver_unload,
                    evt_io_device_control,
                )
            }
        };
        // SAFETY: a driver object and registry path as the I/O manager gives them; the binding
        // outlives the load.
        NtStatus(unsafe {
            self.binding.enter(
                &self.loader,
                &mut *self.driver,
                &self.path.string,
                shell,
                no_displacement,
            )
        })
    }

    /// The I/O manager's unload: the framework's routine, then (what FxDriverEntry's displacing
    /// routine does) unbind.
    fn unload(&mut self) {
        let unload = self
            .driver
            .DriverUnload
            .expect("the framework's unload routine");
        // SAFETY: the I/O manager's unload call.
        unsafe { unload(&mut *self.driver) };
        self.binding.unbind(&self.loader);
    }
}

#[test]
fn kmdf_1_31_binds_on_the_frameworks_of_windows_10_2004_and_windows_11() {
    let _serial = kmdf_host::serial();
    for framework in [FRAMEWORK_MINOR_WINDOWS_10_2004, FRAMEWORK_MINOR] {
        let _heap = heap::check();
        let mut load = setup(framework);
        let sim = load.sim;
        assert_eq!(load.binding.function(DRIVER_CREATE), None, "unbound");
        let ran = Cell::new(false);
        assert_eq!(load.enter(&ran), NtStatus::SUCCESS, "KMDF 1.{framework}");
        assert!(ran.get(), "the shell ran");
        assert_eq!(sim.kmdf_events()[0], KmdfEvent::Bound);
        assert_eq!(sim.wfp_objects().registered_callouts, 8);
        // The bound table answers at each index, the globals with it; none past the table.
        let (function, globals) = load.binding.function(DRIVER_CREATE).expect("bound");
        assert_eq!(
            function as usize,
            0x1000 + 16 * DRIVER_CREATE,
            "the table the loader handed out, at WdfDriverCreate's index"
        );
        assert!(!globals.is_null());
        assert_eq!(
            load.binding
                .function(WdfFunctionTableNumEntries as usize)
                .map(|(f, _)| f as usize),
            None
        );
        load.unload();
        assert_eq!(sim.kmdf_events().last(), Some(&KmdfEvent::Unbound));
        assert_eq!(load.binding.function(DRIVER_CREATE), None);
        assert_eq!(sim.wfp_objects(), WfpObjects::default());
        // The loader saw the same registry path copy at bind and unbind (else a violation).
        sim.assert_clean();
        drop(load);
    }
}

#[test]
fn the_framework_of_windows_10_1903_refuses_kmdf_1_31_and_nothing_runs_or_is_left() {
    let _serial = kmdf_host::serial();
    let _heap = heap::check();
    let mut load = setup(FRAMEWORK_MINOR_WINDOWS_10_1903);
    let sim = load.sim;
    let ran = Cell::new(false);
    assert_eq!(
        load.enter(&ran),
        NtStatus(BIND_REFUSED as i32),
        "the loader's status, passed on by DriverEntry"
    );
    assert!(!ran.get(), "the shell never ran");
    assert_eq!(
        sim.kmdf_events(),
        vec![KmdfEvent::BindRefused(
            "minor version newer than the framework"
        )]
    );
    assert_eq!(load.binding.function(DRIVER_CREATE), None);
    assert!(load.driver.DriverUnload.is_none(), "no unload routine");
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert_eq!(sim.devices(), 0);
    sim.assert_clean();
    // The registry path copy is freed (the heap check at the end of the test).
    drop(load);
}

/// When the framework asks for it (`DisplaceDriverUnload` in the globals it handed out, which
/// WdfDriverCreate sets for a non-PnP driver with EvtDriverUnload), the binding puts its own
/// unload routine in front of the framework's; that routine runs the framework's unload, then
/// unbinds: the framework deletes its objects before the client lets go of it.
#[test]
fn the_displacing_unload_runs_the_frameworks_unload_then_unbinds() {
    let _serial = kmdf_host::serial();
    let _heap = heap::check();
    let mut load = setup(FRAMEWORK_MINOR_WINDOWS_10_2004);
    let sim = load.sim;
    let (slot, binding) = (load.slot, &*load.binding);
    let shell = |driver: *mut DRIVER_OBJECT, path: *const UNICODE_STRING| {
        // SAFETY: the I/O manager's arguments passed on.
        let status = unsafe {
            kmdf::driver_entry(
                sim,
                slot,
                driver,
                path,
                evt_driver_unload,
                evt_io_device_control,
            )
        };
        // The host-compiled shell creates its driver for the simulator's host client; ask for
        // the displacement in the bound client's globals, as WdfDriverCreate does in its own.
        let (_, globals) = binding.function(DRIVER_CREATE).expect("bound");
        // SAFETY: the globals the simulated loader handed out, live until unbind.
        unsafe { (*globals).DisplaceDriverUnload = 1 };
        status
    };
    // SAFETY: a driver object and registry path as the I/O manager gives them; the binding
    // outlives the load.
    let status = NtStatus(unsafe {
        load.binding.enter(
            &load.loader,
            &mut *load.driver,
            &load.path.string,
            shell,
            displacing_unload,
        )
    });
    assert_eq!(status, NtStatus::SUCCESS);
    let installed = load.driver.DriverUnload.expect("an unload routine");
    assert_eq!(
        installed as usize, displacing_unload as *const () as usize,
        "the binding's routine in front of the framework's"
    );
    *DISPLACING.lock().unwrap_or_else(|p| p.into_inner()) = Some((
        std::ptr::from_ref(&*load.binding) as usize,
        std::ptr::from_ref(&load.loader) as usize,
    ));
    // SAFETY: the I/O manager's unload call.
    unsafe { installed(&mut *load.driver) };
    let events = sim.kmdf_events();
    assert_eq!(
        events[events.len() - 3..],
        [
            KmdfEvent::DeviceDeleted,
            KmdfEvent::DriverDeleted,
            KmdfEvent::Unbound
        ],
        "the framework's unload first, then unbind: {events:?}"
    );
    assert!(events.contains(&KmdfEvent::EvtDriverUnload));
    assert_eq!(load.binding.function(DRIVER_CREATE), None);
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    sim.assert_clean();
    drop(load);
}
