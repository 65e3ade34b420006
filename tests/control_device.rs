//! The control device as user mode meets it, through the KMDF shell over the simulated I/O
//! manager and framework: who may open it, which handle rights each control code needs, a code
//! the driver does not define, and the queue purged at unload. Then the simulated framework's
//! request rules, with hand-written EvtIoDeviceControl callbacks.

#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/kmdf_host.rs"]
mod kmdf_host;

use std::sync::Mutex;

use host_driver::registry_path;
use kmdf_host::Sim;
use wfp_injector::nt::NtStatus;
use wfp_injector::sys::WdfApi;
use wfp_injector::sys::types::*;
use wfp_sim::kmdf_io::{Access, Caller, IoReply, facts as io};
use wfp_sim::{SimulatedStack, Violation};

const PATH: &str = r"\\.\WfpInjector";

fn load() -> kmdf_host::ShellLoad {
    kmdf_host::load(|_| {})
}

fn status(reply: &IoReply) -> u32 {
    reply.status.0 as u32
}

/// A code of the driver's device type that no request uses.
fn undefined(access: u32) -> u32 {
    wfp_protocol::ctl_code(wfp_protocol::DEVICE_TYPE, 0xFFF, 0, access)
}

#[test]
fn administrators_and_system_reach_the_driver_and_users_are_refused_at_the_open() {
    let _serial = kmdf_host::serial();
    let load = load();
    let sim = load.sim;
    for caller in [Caller::Administrator, Caller::System] {
        let reply =
            sim.device_io_control_as(PATH, caller, Access::READ_WRITE, undefined(1), &[], 0);
        assert_eq!(
            status(&reply),
            io::INVALID_DEVICE_REQUEST,
            "{caller:?}: the driver answered the undefined code"
        );
    }
    let completed = sim.requests_completed();
    let reply = sim.device_io_control_as(PATH, Caller::User, Access::READ, undefined(0), &[], 0);
    assert_eq!(status(&reply), io::ACCESS_DENIED);
    let below = sim.device_io_control_as(
        r"\\.\WfpInjector\below",
        Caller::User,
        Access::READ,
        undefined(0),
        &[],
        0,
    );
    assert_eq!(
        status(&below),
        io::ACCESS_DENIED,
        "FILE_DEVICE_SECURE_OPEN: a path below the name gets the same check"
    );
    assert_eq!(
        sim.requests_completed(),
        completed,
        "the driver never saw them"
    );
    load.unload().assert_clean();
}

#[test]
fn the_io_manager_checks_the_codes_access_bits_against_the_handle() {
    let _serial = kmdf_host::serial();
    let load = load();
    let sim = load.sim;
    let write = undefined(io::FILE_WRITE_ACCESS);
    let read = undefined(io::FILE_READ_ACCESS);
    let refused =
        sim.device_io_control_as(PATH, Caller::Administrator, Access::READ, write, &[], 0);
    assert_eq!(status(&refused), io::ACCESS_DENIED);
    let reached = sim.device_io_control_as(PATH, Caller::Administrator, Access::READ, read, &[], 0);
    assert_eq!(status(&reached), io::INVALID_DEVICE_REQUEST);
    load.unload().assert_clean();
}

#[test]
fn after_unload_the_link_is_gone_and_nothing_reaches_the_driver() {
    let _serial = kmdf_host::serial();
    let load = load();
    let sim = load.unload();
    let reply = sim.device_io_control(PATH, undefined(1), &[], 0);
    assert_eq!(status(&reply), io::OBJECT_NAME_NOT_FOUND);
    sim.assert_clean();
}

// --- The simulated framework's rules, with callbacks written for each case ---

/// What the hand-written callbacks do with the request, per test.
#[derive(Clone, Copy)]
enum Behaviour {
    CompleteTwice,
    InformationPastOutput,
    EchoInput,
    Keep,
}

static BEHAVIOUR: Mutex<Option<(Sim, Behaviour)>> = Mutex::new(None);
static KEPT: Mutex<Vec<usize>> = Mutex::new(Vec::new());

unsafe extern "win64" fn scripted(
    _queue: WDFQUEUE,
    request: WDFREQUEST,
    output_length: usize,
    input_length: usize,
    _code: u32,
) {
    let Some((sim, behaviour)) = *BEHAVIOUR.lock().unwrap() else {
        return;
    };
    match behaviour {
        Behaviour::CompleteTwice => {
            // SAFETY: a request the simulated framework presented (completed once here).
            unsafe { sim.wdf_request_complete(request, 0) };
            // SAFETY: the misuse under test; the simulated framework records it.
            unsafe { sim.wdf_request_complete(request, 0) };
        }
        Behaviour::InformationPastOutput => {
            // SAFETY: a presented request; the Information is the misuse under test.
            unsafe { sim.wdf_request_complete_with_information(request, 0, output_length + 1) };
        }
        Behaviour::EchoInput => echo(sim, request, output_length, input_length),
        Behaviour::Keep => KEPT.lock().unwrap().push(request as usize),
    }
}

/// Copies the input to the output, as far as both go, through the retrieve functions.
fn echo(sim: Sim, request: WDFREQUEST, output_length: usize, input_length: usize) {
    let mut input = std::ptr::null_mut();
    let mut size = 0;
    // SAFETY: a presented request; the pointers are writable.
    let status =
        unsafe { sim.wdf_request_retrieve_input_buffer(request, 1, &mut input, &mut size) };
    assert_eq!(status, 0);
    assert_eq!(size, input_length);
    // SAFETY: the system buffer holds `size` bytes while the request is presented.
    let copy = unsafe { std::slice::from_raw_parts(input.cast::<u8>(), size) }.to_vec();
    let mut output = std::ptr::null_mut();
    // SAFETY: as above.
    let status = unsafe {
        sim.wdf_request_retrieve_output_buffer(request, output_length + 1, &mut output, &mut size)
    };
    assert_eq!(status as u32, io::BUFFER_TOO_SMALL, "shorter than asked");
    // SAFETY: as above.
    let status =
        unsafe { sim.wdf_request_retrieve_output_buffer(request, 1, &mut output, &mut size) };
    assert_eq!(status, 0);
    assert_eq!(output, input, "METHOD_BUFFERED: one system buffer");
    let echoed = copy.len().min(size);
    // SAFETY: the output buffer holds `size` bytes; the input slice is no longer used.
    unsafe { std::slice::from_raw_parts_mut(output.cast::<u8>(), echoed) }
        .copy_from_slice(&copy[..echoed]);
    // SAFETY: completed once.
    unsafe { sim.wdf_request_complete_with_information(request, 0, echoed) };
}

/// A named control device with a default queue whose callback is [`scripted`].
fn scripted_device(sim: Sim, behaviour: Behaviour) -> (WDFDEVICE, WDFQUEUE) {
    *BEHAVIOUR.lock().unwrap() = Some((sim, behaviour));
    let wide = |text: &str| text.encode_utf16().collect::<Vec<u16>>();
    let unicode = |text: &Vec<u16>| UNICODE_STRING {
        Length: (text.len() * 2) as u16,
        MaximumLength: (text.len() * 2) as u16,
        Buffer: text.as_ptr().cast_mut(),
    };
    let (sddl, name, link) = (
        wide("D:P(A;;GA;;;SY)(A;;GA;;;BA)"),
        wide(r"\Device\Scripted"),
        wide(r"\DosDevices\Scripted"),
    );
    // SAFETY: plain data; zero is how the I/O manager hands fields over.
    let driver_object: &mut DRIVER_OBJECT = Box::leak(Box::new(unsafe { std::mem::zeroed() }));
    let path = Box::leak(Box::new(registry_path()));
    let mut config = WDF_DRIVER_CONFIG {
        Size: 32,
        EvtDriverDeviceAdd: std::ptr::null(),
        EvtDriverUnload: None,
        DriverInitFlags: WdfDriverInitNonPnpDriver,
        DriverPoolTag: 0,
    };
    let mut driver = std::ptr::null_mut();
    let none = std::ptr::null_mut();
    // SAFETY: the host client's first driver; the pointers are valid for the call.
    let status = unsafe {
        sim.wdf_driver_create(driver_object, &path.string, none, &mut config, &mut driver)
    };
    assert_eq!(status, 0);
    // SAFETY: the driver just created; the string outlives the call.
    let mut init = unsafe { sim.wdf_control_device_init_allocate(driver, &unicode(&sddl)) };
    // SAFETY: the live init.
    let status = unsafe { sim.wdf_device_init_assign_name(init, &unicode(&name)) };
    assert_eq!(status, 0);
    let mut device = std::ptr::null_mut();
    // SAFETY: the live init; `device` is writable.
    let status = unsafe { sim.wdf_device_create(&mut init, none, &mut device) };
    assert_eq!(status, 0);
    // SAFETY: the named device just created.
    let status = unsafe { sim.wdf_device_create_symbolic_link(device, &unicode(&link)) };
    assert_eq!(status, 0);
    // SAFETY: as above.
    let again = unsafe { sim.wdf_device_create_symbolic_link(device, &unicode(&link)) };
    assert_eq!(
        again as u32,
        io::INVALID_DEVICE_REQUEST,
        "one link per device"
    );
    let mut queue_config = WDF_IO_QUEUE_CONFIG {
        Size: io::IO_QUEUE_CONFIG_SIZE,
        DispatchType: WdfIoQueueDispatchSequential,
        PowerManaged: WdfFalse,
        AllowZeroLengthRequests: 0,
        DefaultQueue: 1,
        EvtIoDefault: std::ptr::null(),
        EvtIoRead: std::ptr::null(),
        EvtIoWrite: std::ptr::null(),
        EvtIoDeviceControl: Some(scripted),
        EvtIoInternalDeviceControl: std::ptr::null(),
        EvtIoStop: std::ptr::null(),
        EvtIoResume: std::ptr::null(),
        EvtIoCanceledOnQueue: std::ptr::null(),
        Settings: 0,
        Driver: std::ptr::null_mut(),
    };
    let mut queue = std::ptr::null_mut();
    // SAFETY: the live device; the config outlives the call; `queue` is writable.
    let status = unsafe { sim.wdf_io_queue_create(device, &mut queue_config, none, &mut queue) };
    assert_eq!(status, 0);
    let early = sim.device_io_control(r"\\.\Scripted", undefined(0), b"early", 5);
    assert_eq!(
        early.status.0 as u32,
        io::NO_SUCH_DEVICE,
        "no request before WdfControlFinishInitializing"
    );
    // SAFETY: the control device just created.
    unsafe { sim.wdf_control_finish_initializing(device) };
    (device, queue)
}

fn kmdf_violations(sim: Sim) -> Vec<String> {
    sim.take_violations()
        .into_iter()
        .filter(|v| matches!(v, Violation::Kmdf(..)))
        .map(|v| format!("{v:?}"))
        .collect()
}

#[test]
fn method_buffered_is_one_buffer_copied_out_up_to_the_information() {
    let _serial = kmdf_host::serial();
    let sim: Sim = Box::leak(Box::new(SimulatedStack::new()));
    let (device, queue) = scripted_device(sim, Behaviour::EchoInput);
    let reply = sim.device_io_control(r"\\.\Scripted", undefined(0), b"hello", 3);
    assert_eq!(reply.status, NtStatus::SUCCESS);
    assert_eq!(reply.output, b"hel");
    // SAFETY: the queue made above, purged once, not from its callback.
    unsafe { sim.wdf_io_queue_purge_synchronously(queue) };
    let refused = sim.device_io_control(r"\\.\Scripted", undefined(0), b"x", 1);
    assert_eq!(status(&refused), io::INVALID_DEVICE_STATE, "a purged queue");
    // SAFETY: the device made above, deleted once.
    unsafe { sim.wdf_object_delete(device) };
    sim.kmdf_release_host_client();
    sim.assert_clean();
}

#[test]
fn a_request_completed_twice_or_past_its_output_is_a_violation() {
    let _serial = kmdf_host::serial();
    for (behaviour, expected) in [
        (Behaviour::CompleteTwice, "used after its completion"),
        (Behaviour::InformationPastOutput, "beyond the output buffer"),
    ] {
        let sim: Sim = Box::leak(Box::new(SimulatedStack::new()));
        let (device, _queue) = scripted_device(sim, behaviour);
        sim.device_io_control(r"\\.\Scripted", undefined(0), b"in", 4);
        let violations = kmdf_violations(sim);
        assert!(
            violations.iter().any(|v| v.contains(expected)),
            "{violations:?}"
        );
        // SAFETY: the device made above, deleted once.
        unsafe { sim.wdf_object_delete(device) };
        sim.kmdf_release_host_client();
        sim.assert_clean();
    }
}

#[test]
fn a_request_the_driver_keeps_is_pending_and_a_violation_when_its_queue_is_purged() {
    let _serial = kmdf_host::serial();
    let sim: Sim = Box::leak(Box::new(SimulatedStack::new()));
    let (device, queue) = scripted_device(sim, Behaviour::Keep);
    let reply = sim.device_io_control(r"\\.\Scripted", undefined(0), b"in", 4);
    assert_eq!(status(&reply), io::PENDING);
    assert!(kmdf_violations(sim).is_empty());
    // SAFETY: the queue and device made above.
    unsafe { sim.wdf_io_queue_purge_synchronously(queue) };
    let violations = kmdf_violations(sim);
    assert!(
        violations.iter().any(|v| v.contains("never completed")),
        "{violations:?}"
    );
    // SAFETY: as above.
    unsafe { sim.wdf_object_delete(device) };
    sim.kmdf_release_host_client();
    sim.assert_clean();
}
