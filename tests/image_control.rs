//! The control channel of the shipped image, run by the test loader over the simulated stack:
//! the device it creates (name, link, who may open it), each request, and thousands of random
//! requests (tests/support/control_fuzz.rs) answered with allowed statuses, changing nothing
//! when refused, and leaving nothing behind.

#[path = "support/control_fuzz.rs"]
mod control_fuzz;
mod support;
#[path = "support/tool_device.rs"]
mod tool_device;

use support::harness::Harness;
use wfp_injector::nt::NtStatus;
use wfp_protocol::*;
use wfp_sim::kmdf_io::{Access, Caller, facts as io};
use wfp_sim::{RegistryValue, SimulatedStack};

const PATH: &str = r"\\.\WfpInjector";

fn header() -> Vec<u8> {
    let mut bytes = vec![0; RequestHeader::SIZE];
    RequestHeader::CURRENT.encode(&mut bytes);
    bytes
}

#[test]
fn the_images_control_device_answers_each_request_for_administrators_only() {
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(53));
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    let devices = sim.kmdf_devices();
    assert_eq!(devices[0].sddl, "D:P(A;;GA;;;SY)(A;;GA;;;BA)");
    assert_eq!(devices[0].device_type, DEVICE_TYPE);
    let user = sim.device_io_control_as(
        PATH,
        Caller::User,
        Access::READ,
        IOCTL_GET_STATUS,
        &header(),
        StatusReply::SIZE,
    );
    assert_eq!(user.status.0 as u32, io::ACCESS_DENIED);

    let reply = sim.device_io_control(PATH, IOCTL_GET_STATUS, &header(), StatusReply::SIZE);
    assert_eq!(reply.status, NtStatus::SUCCESS);
    let status = StatusReply::decode(&reply.output).unwrap();
    assert_eq!(status.progress, PROGRESS_LOADED);
    assert_eq!((status.kmdf_major, status.kmdf_minor), (1, 31));
    assert_eq!(status.rules, 2);
    assert_eq!(status.contexts_capacity, 1024);

    let reply = sim.device_io_control(PATH, IOCTL_GET_COUNTERS, &header(), CountersReply::SIZE);
    assert_eq!(reply.status, NtStatus::SUCCESS);
    assert_eq!(reply.information, CountersReply::SIZE);

    let mut config = Config::empty();
    config.rule_count = 1;
    config.rules[0] = Rule {
        family: FAMILY_IPV4,
        directions: DIRECTION_INBOUND,
        remote_prefix: 24,
        remote_address: [198, 51, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        layers: LAYER_TRANSPORT,
        ..Rule::default()
    };
    let mut input = vec![0; Config::SIZE];
    config.encode(&mut input);
    let read_only = sim.device_io_control_as(
        PATH,
        Caller::Administrator,
        Access::READ,
        IOCTL_SET_CONFIG,
        &input,
        0,
    );
    assert_eq!(
        read_only.status.0 as u32,
        io::ACCESS_DENIED,
        "a change needs write access"
    );
    let reply = sim.device_io_control(PATH, IOCTL_SET_CONFIG, &input, 0);
    assert_eq!(reply.status, NtStatus::SUCCESS);
    assert_eq!(sim.wfp_objects().filters, 1);
    let read = control_fuzz::read_config(&sim);
    assert_eq!(read.active(), config.active());
    // The image's generation check: a set against the generation left behind is refused.
    let mut stale = read;
    stale.generation -= 1;
    stale.encode(&mut input);
    let reply = sim.device_io_control(PATH, IOCTL_SET_CONFIG, &input, 0);
    assert_eq!(reply.status, NtStatus::RETRY);
    assert_eq!(control_fuzz::read_config(&sim), read, "nothing changed");
    // ...and one against the generation in force is applied.
    let mut current = read;
    current.flags = CONFIG_VERBOSE;
    current.encode(&mut input);
    let reply = sim.device_io_control(PATH, IOCTL_SET_CONFIG, &input, 0);
    assert_eq!(reply.status, NtStatus::SUCCESS);
    assert_eq!(control_fuzz::read_config(&sim).flags, CONFIG_VERBOSE);
    let reply = sim.device_io_control(PATH, IOCTL_CLEAR_CONFIG, &header(), 0);
    assert_eq!(reply.status, NtStatus::SUCCESS);
    assert_eq!(sim.wfp_objects().filters, 0);

    harness.driver_unload();
    let gone = sim.device_io_control(PATH, IOCTL_GET_STATUS, &header(), StatusReply::SIZE);
    assert_eq!(gone.status.0 as u32, io::OBJECT_NAME_NOT_FOUND);
    drop(harness);
    sim.assert_clean();
}

#[test]
fn thousands_of_random_requests_to_the_image_change_nothing_when_refused() {
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(53));
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    let (accepted, changes) = control_fuzz::run(&sim, 0x1A6E_5EED, 3000);
    assert!(
        accepted > 300 && changes > 80,
        "{accepted} accepted, {changes} changes"
    );
    harness.driver_unload();
    assert!(sim.pool_outstanding().is_empty(), "pool balanced at unload");
    drop(harness);
    sim.assert_clean();
}

#[test]
fn wfpinjctl_steers_the_image() {
    let sim = SimulatedStack::new();
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    let admin = Caller::Administrator;
    let (code, out, _) = tool_device::wfpinjctl(&sim, admin, "status", 1);
    assert_eq!(code, wfpinjctl::EXIT_OK);
    assert!(out.contains("rules     0"), "{out}");
    let add = "inspect add --local 10.1.1.1 --remote 10.1.1.2 --direction out --ip-version 4";
    assert_eq!(
        tool_device::wfpinjctl(&sim, admin, add, 1).0,
        wfpinjctl::EXIT_OK
    );
    assert_eq!(sim.wfp_objects().filters, 1);
    let (_, list, _) = tool_device::wfpinjctl(&sim, admin, "inspect list", 1);
    assert!(
        list.contains("--remote 10.1.1.2/32 --local 10.1.1.1/32 --direction out"),
        "{list}"
    );
    let remove = add.replace("add", "remove");
    assert_eq!(
        tool_device::wfpinjctl(&sim, admin, &remove, 1).0,
        wfpinjctl::EXIT_OK
    );
    assert_eq!(sim.wfp_objects().filters, 0);
    let (code, _, err) = tool_device::wfpinjctl(&sim, Caller::User, "status", 1);
    assert_eq!(code, wfpinjctl::EXIT_FAILED);
    assert!(err.contains("run as administrator"), "{err}");
    harness.driver_unload();
    drop(harness);
    sim.assert_clean();
}

/// The image's persistence: a set with CONFIG_PERSIST is written to `Parameters\InspectRules`,
/// the next load of the image (the same stack) starts from it instead of InspectRemotePort, and
/// an invalid value is ignored with a log line, the Inspect* values applying.
#[test]
fn the_images_persisted_set_is_the_next_loads_configuration() {
    let sim = SimulatedStack::new();
    sim.set_parameter("InspectRemotePort", RegistryValue::Dword(53));
    let Some(mut harness) = Harness::loaded(&sim) else {
        return;
    };
    assert_eq!(control_fuzz::read_config(&sim).rule_count, 2);
    let mut config = Config::empty();
    config.flags = CONFIG_VERBOSE | CONFIG_PERSIST;
    config.rule_count = 1;
    config.rules[0] = Rule {
        family: FAMILY_IPV6,
        directions: DIRECTION_OUTBOUND,
        remote_prefix: 32,
        remote_address: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        layers: LAYER_IP_PACKET,
        ..Rule::default()
    };
    let mut input = vec![0; Config::SIZE];
    config.encode(&mut input);
    let reply = sim.device_io_control(PATH, IOCTL_SET_CONFIG, &input, 0);
    assert_eq!(reply.status, NtStatus::SUCCESS);
    let applied = Config {
        flags: CONFIG_VERBOSE,
        ..config
    };
    assert_eq!(
        sim.parameter(PERSISTED_VALUE_NAME),
        Some(RegistryValue::Binary(
            control_fuzz::saved_rules::saved_value(&applied)
        ))
    );
    harness.driver_unload();
    drop(harness);

    let mut harness = Harness::loaded(&sim).expect("the image loads again");
    let read = control_fuzz::read_config(&sim);
    assert_eq!(
        Config {
            generation: 0,
            ..read
        },
        applied,
        "the next load starts from the persisted rules"
    );
    assert_eq!(sim.wfp_objects().filters, 1, "one IP packet layer's filter");
    harness.driver_unload();
    drop(harness);

    sim.set_parameter(PERSISTED_VALUE_NAME, RegistryValue::Binary(vec![1, 2, 3]));
    let mut harness = Harness::loaded(&sim).expect("the image loads again");
    let read = control_fuzz::read_config(&sim);
    assert_eq!((read.rule_count, read.flags), (2, 0), "the Inspect* values");
    assert!(
        sim.debug_log()
            .iter()
            .any(|(_, _, text)| text.contains("ignoring Parameters\\InspectRules")),
        "{:?}",
        sim.debug_log()
    );
    harness.driver_unload();
    drop(harness);
    sim.assert_clean();
}
