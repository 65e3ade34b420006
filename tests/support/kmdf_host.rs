//! What the host tests of the KMDF shell share: the stack and slot the driver's EvtDriverUnload
//! reaches (its only argument is the WDFDRIVER, so they live in a static), and the lock that
//! keeps those tests one at a time; and a load through the shell's DriverEntry as the I/O manager
//! makes it.

#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

use super::host_driver::{RegistryPath, registry_path};
use wfp_injector::nt::NtStatus;
use wfp_injector::shell::kmdf;
use wfp_injector::shell::slot::Slot;
use wfp_injector::sys::types::{DRIVER_OBJECT, WDFDRIVER, WDFQUEUE, WDFREQUEST};
use wfp_sim::SimulatedStack;

pub type Sim = &'static SimulatedStack;

/// The stack and slot [`evt_driver_unload`] unloads.
static CURRENT: Mutex<Option<(Sim, &'static Slot<Sim>)>> = Mutex::new(None);
static SERIAL: Mutex<()> = Mutex::new(());

/// Held for a whole test: CURRENT names one load at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Points [`evt_driver_unload`] at this stack and slot (`None`: at nothing).
pub fn set_current(current: Option<(Sim, &'static Slot<Sim>)>) {
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = current;
}

/// The EvtDriverUnload the shell registers: the shell's unload over the current stack and slot.
pub unsafe extern "win64" fn evt_driver_unload(_driver: WDFDRIVER) {
    let current = *CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((sim, slot)) = current {
        kmdf::driver_unload(sim, slot);
    }
}

/// The EvtIoDeviceControl the shell registers: the shell's request handling over the current
/// stack and slot.
pub unsafe extern "win64" fn evt_io_device_control(
    _queue: WDFQUEUE,
    request: WDFREQUEST,
    output_length: usize,
    input_length: usize,
    code: u32,
) {
    let current = *CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((sim, slot)) = current {
        // SAFETY: the simulated framework presents a request of the shell's queue, which the
        // shell's unload purges before it takes the slot.
        unsafe { kmdf::device_control(sim, slot, request, output_length, input_length, code) };
    }
}

/// A driver object, registry path and slot on a stack of their own, as the I/O manager has them
/// before DriverEntry: [`ShellLoad::entry`] runs the shell's DriverEntry, [`ShellLoad::unload`]
/// the framework's unload.
pub struct ShellLoad {
    pub sim: Sim,
    pub driver: Box<DRIVER_OBJECT>,
    slot: &'static Slot<Sim>,
    // The registry path DriverEntry was handed stays alive for the whole load.
    path: RegistryPath,
}

impl ShellLoad {
    /// A new stack that `prepare` set up first (its registry values), with
    /// [`evt_driver_unload`] and [`evt_io_device_control`] pointed at it. The caller holds
    /// [`serial`].
    pub fn new(prepare: impl FnOnce(Sim)) -> Self {
        let sim: Sim = Box::leak(Box::new(SimulatedStack::new()));
        prepare(sim);
        let slot: &'static Slot<Sim> = Box::leak(Box::new(Slot::new()));
        set_current(Some((sim, slot)));
        Self {
            sim,
            // SAFETY: plain data; zero is how the I/O manager hands fields over.
            driver: Box::new(unsafe { std::mem::zeroed() }),
            slot,
            path: registry_path(),
        }
    }

    /// The shell's DriverEntry.
    pub fn entry(&mut self) -> NtStatus {
        // SAFETY: a driver object and registry path as the I/O manager gives them; the callbacks
        // use this stack and slot.
        NtStatus(unsafe {
            kmdf::driver_entry(
                self.sim,
                self.slot,
                &mut *self.driver,
                &self.path.string,
                evt_driver_unload,
                evt_io_device_control,
            )
        })
    }

    /// The I/O manager's unload call (the framework's DriverUnload); the stack, to check after.
    pub fn unload(mut self) -> Sim {
        let unload = self.driver.DriverUnload.expect("the framework's unload");
        // SAFETY: the I/O manager's unload call.
        unsafe { unload(&mut *self.driver) };
        self.sim
    }
}

/// [`ShellLoad::new`] and a DriverEntry that must succeed.
pub fn load(prepare: impl FnOnce(Sim)) -> ShellLoad {
    let mut load = ShellLoad::new(prepare);
    assert_eq!(load.entry(), NtStatus::SUCCESS);
    load
}
