//! The KMDF shell's logic (src/shell/kmdf.rs), host-compiled over the simulated KMDF: the same
//! source both images run. Load and unload in the framework's order, the kernel-only control
//! device, and DriverEntry failing at each WDF step (and in the shared driver) leaving nothing.

use std::sync::Mutex;

use wfp_injector::nt::NtStatus;
use wfp_injector::shell::kmdf;
use wfp_injector::shell::slot::Slot;
use wfp_injector::sys::types::{DRIVER_OBJECT, UNICODE_STRING, WDFDRIVER};
use wfp_sim::kmdf::{KmdfEvent, KmdfObjects};
use wfp_sim::{SERVICE_KEY_PATH, SimCall, SimulatedStack, WfpObjects};

type Sim = &'static SimulatedStack;

/// The stack and slot EvtDriverUnload reaches (its only argument is the WDFDRIVER).
static CURRENT: Mutex<Option<(Sim, &'static Slot<Sim>)>> = Mutex::new(None);
static SERIAL: Mutex<()> = Mutex::new(());

unsafe extern "win64" fn evt_driver_unload(_driver: WDFDRIVER) {
    let current = *CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((sim, slot)) = current {
        kmdf::driver_unload(sim, slot);
    }
}

struct Load {
    sim: Sim,
    driver: Box<DRIVER_OBJECT>,
    _path: Vec<u16>,
    path: UNICODE_STRING,
    slot: &'static Slot<Sim>,
}

fn setup() -> Load {
    let sim: Sim = Box::leak(Box::new(SimulatedStack::new()));
    let slot: &'static Slot<Sim> = Box::leak(Box::new(Slot::new()));
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some((sim, slot));
    let mut path: Vec<u16> = SERVICE_KEY_PATH.encode_utf16().collect();
    let bytes = (path.len() * 2) as u16;
    let unicode = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: path.as_mut_ptr(),
    };
    Load {
        sim,
        // SAFETY: plain data; zero is how the I/O manager hands fields over.
        driver: Box::new(unsafe { std::mem::zeroed() }),
        _path: path,
        path: unicode,
        slot,
    }
}

impl Load {
    fn entry(&mut self) -> NtStatus {
        // SAFETY: a driver object and registry path as the I/O manager gives them;
        // evt_driver_unload uses this stack and slot.
        NtStatus(unsafe {
            kmdf::driver_entry(
                self.sim,
                self.slot,
                &mut *self.driver,
                &self.path,
                evt_driver_unload,
            )
        })
    }
}

#[test]
fn the_shell_creates_a_kernel_only_control_device_and_unloads_in_reverse_order() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut load = setup();
    let sim = load.sim;
    assert_eq!(load.entry(), NtStatus::SUCCESS);
    let devices = sim.kmdf_devices();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].sddl, "D:P", "SDDL_DEVOBJ_KERNEL_ONLY");
    assert_eq!(devices[0].device_type, 0x22, "FILE_DEVICE_UNKNOWN");
    assert_eq!(
        devices[0].characteristics,
        0x100 | 0x80,
        "FILE_DEVICE_SECURE_OPEN, and the framework's generated name kept"
    );
    assert!(devices[0].finished, "WdfControlFinishInitializing");
    assert_eq!(sim.wfp_objects().registered_callouts, 4);
    let unload = load
        .driver
        .DriverUnload
        .expect("the framework's unload routine");
    // SAFETY: the I/O manager's unload call.
    unsafe { unload(&mut *load.driver) };
    assert_eq!(
        sim.kmdf_events(),
        vec![
            KmdfEvent::DriverCreated,
            KmdfEvent::InitAllocated,
            KmdfEvent::DeviceCreated,
            KmdfEvent::DeviceFinished,
            KmdfEvent::EvtDriverUnload,
            KmdfEvent::DeviceDeleted,
            KmdfEvent::DriverDeleted,
        ],
        "EvtDriverUnload deletes the device; the framework then deletes the driver"
    );
    assert_eq!(sim.wfp_objects(), WfpObjects::default());
    assert_eq!(sim.kmdf_objects(), KmdfObjects::default());
    sim.assert_clean();
}

#[test]
fn the_shell_failing_at_each_step_leaves_no_init_device_or_wfp_object() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for call in [
        SimCall::WdfDriverCreate,
        SimCall::WdfControlDeviceInitAllocate,
        SimCall::WdfDeviceCreate,
        SimCall::InjectionHandleCreate,
        SimCall::EngineOpen,
    ] {
        let mut load = setup();
        let sim = load.sim;
        sim.fail_call(call, 0, NtStatus::INSUFFICIENT_RESOURCES);
        assert_eq!(load.entry(), NtStatus::INSUFFICIENT_RESOURCES, "{call:?}");
        let objects = sim.kmdf_objects();
        assert_eq!(
            objects.device_inits, 0,
            "{call:?}: the device init was freed"
        );
        assert_eq!(objects.devices, 0, "{call:?}: the device was deleted");
        assert_eq!(sim.wfp_objects(), WfpObjects::default(), "{call:?}");
        if call == SimCall::WdfDeviceCreate {
            assert!(
                sim.kmdf_events().contains(&KmdfEvent::InitFreed),
                "{call:?}"
            );
        }
        assert!(!sim.kmdf_events().contains(&KmdfEvent::EvtDriverUnload));
        // What the stub's WdfVersionUnbind does after a failed DriverEntry.
        sim.kmdf_release_host_client();
        sim.assert_clean();
    }
}
