//! What the host tests of the KMDF shell share: the stack and slot the driver's EvtDriverUnload
//! reaches (its only argument is the WDFDRIVER, so they live in a static), and the lock that
//! keeps those tests one at a time.

#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

use wfp_injector::shell::kmdf;
use wfp_injector::shell::slot::Slot;
use wfp_injector::sys::types::{WDFDRIVER, WDFQUEUE, WDFREQUEST};
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
