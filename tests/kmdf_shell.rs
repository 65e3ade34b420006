//! The KMDF shell's logic (src/shell/kmdf.rs), host-compiled over the simulated KMDF: the same
//! source both images run. Load and unload in the framework's order, the kernel-only control
//! device, and DriverEntry failing at each WDF step (and in the shared driver) leaving nothing.

#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/kmdf_host.rs"]
mod kmdf_host;

use kmdf_host::ShellLoad;
use wfp_injector::nt::NtStatus;
use wfp_sim::kmdf::{KmdfEvent, KmdfObjects};
use wfp_sim::{KernelFn, WfpObjects};

#[test]
fn the_shell_creates_an_administrators_control_device_and_unloads_in_reverse_order() {
    let _serial = kmdf_host::serial();
    let mut load = ShellLoad::new(|_| {});
    let sim = load.sim;
    assert_eq!(load.entry(), NtStatus::SUCCESS);
    let devices = sim.kmdf_devices();
    assert_eq!(devices.len(), 1);
    assert_eq!(
        devices[0].sddl, "D:P(A;;GA;;;SY)(A;;GA;;;BA)",
        "SDDL_DEVOBJ_SYS_ALL_ADM_ALL"
    );
    assert_eq!(
        devices[0].device_type,
        wfp_protocol::DEVICE_TYPE,
        "the control codes' device type"
    );
    assert_eq!(devices[0].name.as_deref(), Some(r"\Device\WfpInjector"));
    assert_eq!(
        sim.symbolic_links(),
        vec![(
            r"\dosdevices\wfpinjector".into(),
            r"\device\wfpinjector".into()
        )]
    );
    assert_eq!(
        devices[0].characteristics,
        0x100 | 0x80,
        "FILE_DEVICE_SECURE_OPEN (the generated-name flag of the init stays; the name wins)"
    );
    assert!(devices[0].finished, "WdfControlFinishInitializing");
    assert_eq!(sim.wfp_objects().registered_callouts, 8);
    load.unload();
    assert_eq!(sim.calls(KernelFn::WdfIoQueuePurgeSynchronously), 1);
    assert!(
        sim.symbolic_links().is_empty(),
        "the link goes with the device"
    );
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
    let _serial = kmdf_host::serial();
    for call in [
        KernelFn::WdfDriverCreate,
        KernelFn::WdfControlDeviceInitAllocate,
        KernelFn::WdfDeviceInitAssignName,
        KernelFn::WdfDeviceCreate,
        KernelFn::WdfDeviceCreateSymbolicLink,
        KernelFn::WdfIoQueueCreate,
        KernelFn::FwpsInjectionHandleCreate0,
        KernelFn::FwpmEngineOpen0,
    ] {
        let mut load = ShellLoad::new(|_| {});
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
        assert!(sim.symbolic_links().is_empty(), "{call:?}");
        if matches!(
            call,
            KernelFn::WdfDeviceCreate | KernelFn::WdfDeviceInitAssignName
        ) {
            assert!(
                sim.kmdf_events().contains(&KmdfEvent::InitFreed),
                "{call:?}"
            );
        }
        assert!(!sim.kmdf_events().contains(&KmdfEvent::EvtDriverUnload));
        assert!(
            !sim.kmdf_events().contains(&KmdfEvent::DeviceFinished),
            "{call:?}: no request may reach a device whose driver failed to load"
        );
        // What the stub's WdfVersionUnbind does after a failed DriverEntry.
        sim.kmdf_release_host_client();
        sim.assert_clean();
    }
}
