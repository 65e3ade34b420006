//! InjectionHandle against the simulated stack: creation, typed refusals, ownership, IRQL.

#[path = "support/heap.rs"]
mod heap;

use wfp_injector::inject::{AddressFamily, InjectionHandle, InjectionTypes, RetryPolicy};
use wfp_injector::nt::{Irql, NtStatus};
use wfp_injector::{Error, InputError, KernelFn};
use wfp_sim::{SimulatedStack, Violation};

const TRANSPORT: InjectionTypes = InjectionTypes::TRANSPORT;

#[test]
fn create_records_family_and_types_in_the_kernel_and_the_handle() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let types = InjectionTypes::NETWORK | InjectionTypes::FORWARD;
    let handle = InjectionHandle::try_create(&sim, AddressFamily::Ipv6, types).unwrap();
    assert_eq!(handle.family(), AddressFamily::Ipv6);
    assert_eq!(handle.types(), types);
    let open = sim.open_handles();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].raw, handle.as_raw() as usize);
    assert_eq!(open[0].family, 23, "AF_INET6 is 23 on Windows");
    assert_eq!(open[0].flags, 0x4 | 0x8);
    drop(handle);
    sim.assert_clean();
}

#[test]
fn drop_destroys_exactly_once() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let handle = InjectionHandle::try_create(&sim, AddressFamily::Ipv4, TRANSPORT).unwrap();
    drop(handle);
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleDestroy0), 1);
    assert!(sim.open_handles().is_empty());
    sim.assert_clean();
}

#[test]
fn close_reports_the_status_and_drop_does_not_destroy_again() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let handle = InjectionHandle::try_create(&sim, AddressFamily::Ipv4, TRANSPORT).unwrap();
    assert!(handle.close().is_ok());
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleDestroy0), 1);
    assert!(sim.violations().is_empty(), "no second destroy");
    sim.assert_clean();
}

#[test]
fn close_returns_a_failed_destroy_with_call_and_status() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let handle = InjectionHandle::try_create(&sim, AddressFamily::Ipv4, TRANSPORT).unwrap();
    let raw = handle.as_raw();
    sim.fail_call(
        KernelFn::FwpsInjectionHandleDestroy0,
        0,
        NtStatus::UNSUCCESSFUL,
    );
    let (error, unclosed) = handle.close().unwrap_err();
    assert!(unclosed.is_none(), "a kernel failure consumes the handle");
    assert_eq!(
        error,
        Error::Kernel {
            call: KernelFn::FwpsInjectionHandleDestroy0,
            status: NtStatus::UNSUCCESSFUL
        }
    );
    assert_eq!(
        sim.calls(KernelFn::FwpsInjectionHandleDestroy0),
        1,
        "not retried, not destroyed twice"
    );
    // The failed destroy left the kernel's handle open; release it so the stack ends clean.
    assert_eq!(sim.open_handles().len(), 1);
    // SAFETY: `raw` is the simulated stack's live handle and nothing else destroys it.
    drop(unsafe { InjectionHandle::from_raw(&sim, raw, AddressFamily::Ipv4, TRANSPORT) });
    sim.assert_clean();
}

#[test]
fn into_raw_gives_up_ownership_and_from_raw_takes_it_back() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let handle = InjectionHandle::try_create(&sim, AddressFamily::Unspecified, TRANSPORT).unwrap();
    let raw = handle.into_raw();
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleDestroy0), 0);
    assert_eq!(sim.open_handles().len(), 1);
    // SAFETY: `raw` came from into_raw above and is owned by nobody else.
    let back =
        unsafe { InjectionHandle::from_raw(&sim, raw, AddressFamily::Unspecified, TRANSPORT) };
    assert_eq!(back.as_raw(), raw);
    drop(back);
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleDestroy0), 1);
    sim.assert_clean();
}

#[test]
fn unspecified_family_with_network_is_refused_before_the_kernel() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    for types in [
        InjectionTypes::NETWORK,
        InjectionTypes::NETWORK | InjectionTypes::TRANSPORT,
        InjectionTypes::ALL,
    ] {
        let error =
            InjectionHandle::try_create(&sim, AddressFamily::Unspecified, types).unwrap_err();
        assert_eq!(
            error,
            Error::InvalidInput(InputError::UnspecifiedFamilyForNetworkInjection)
        );
        let retried = InjectionHandle::create(
            &sim,
            AddressFamily::Unspecified,
            types,
            &RetryPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(retried, error);
    }
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 0);
    sim.assert_clean();
}

#[test]
fn unspecified_family_serves_transport_stream_and_forward() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let types = InjectionTypes::TRANSPORT | InjectionTypes::STREAM | InjectionTypes::FORWARD;
    let handle = InjectionHandle::try_create(&sim, AddressFamily::Unspecified, types).unwrap();
    assert_eq!(sim.open_handles()[0].family, 0);
    drop(handle);
    sim.assert_clean();
}

#[test]
fn raw_flags_and_families_are_checked() {
    let _heap = heap::check();
    assert_eq!(
        InjectionTypes::from_bits(0),
        Err(InputError::NoInjectionType)
    );
    assert_eq!(
        InjectionTypes::from_bits(0x2 | 0x10),
        Err(InputError::UnknownInjectionTypeBits(0x10))
    );
    assert_eq!(
        InjectionTypes::from_bits(0x6),
        Ok(InjectionTypes::TRANSPORT | InjectionTypes::NETWORK)
    );
    assert_eq!(AddressFamily::from_raw(2), Ok(AddressFamily::Ipv4));
    assert_eq!(AddressFamily::from_raw(23), Ok(AddressFamily::Ipv6));
    assert_eq!(AddressFamily::from_raw(0), Ok(AddressFamily::Unspecified));
    assert_eq!(
        AddressFamily::from_raw(10),
        Err(InputError::UnknownAddressFamily(10)),
        "Linux's AF_INET6 is not Windows'"
    );
    let text = InputError::UnspecifiedFamilyForNetworkInjection.to_string();
    assert!(text.contains("AF_UNSPEC"), "{text}");
    assert_eq!(
        format!("{:?}", InjectionTypes::TRANSPORT | InjectionTypes::FORWARD),
        "TRANSPORT | FORWARD"
    );
}

#[test]
fn create_above_passive_is_refused_without_a_kernel_call() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let _dispatch = sim.set_irql(Irql::DISPATCH);
    let error = InjectionHandle::try_create(&sim, AddressFamily::Ipv4, TRANSPORT).unwrap_err();
    assert_eq!(
        error,
        Error::IrqlTooHigh {
            current: Irql::DISPATCH,
            allowed: Irql::PASSIVE
        }
    );
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleCreate0), 0);
    assert_eq!(error.status(), NtStatus::INVALID_DEVICE_STATE);
    sim.assert_clean();
}

#[test]
fn close_above_passive_hands_the_handle_back_undestroyed() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let handle = InjectionHandle::try_create(&sim, AddressFamily::Ipv4, TRANSPORT).unwrap();
    let guard = sim.set_irql(Irql::DISPATCH);
    let (error, unclosed) = handle.close().unwrap_err();
    assert!(matches!(error, Error::IrqlTooHigh { .. }));
    assert_eq!(sim.calls(KernelFn::FwpsInjectionHandleDestroy0), 0);
    drop(guard);
    unclosed.expect("handle returned").close().unwrap();
    sim.assert_clean();
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "dropped above PASSIVE_LEVEL")]
fn drop_above_passive_is_asserted_in_debug_builds() {
    let _heap = heap::check();
    let sim = Box::leak(Box::new(SimulatedStack::new()));
    let handle = InjectionHandle::try_create(&*sim, AddressFamily::Ipv4, TRANSPORT).unwrap();
    let _dispatch = sim.set_irql(Irql::DISPATCH);
    drop(handle);
}

#[test]
fn kernel_failures_name_the_call_and_status() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.fail_call(
        KernelFn::FwpsInjectionHandleCreate0,
        0,
        NtStatus::INSUFFICIENT_RESOURCES,
    );
    let error = InjectionHandle::try_create(&sim, AddressFamily::Ipv4, TRANSPORT).unwrap_err();
    assert_eq!(error.status(), NtStatus::INSUFFICIENT_RESOURCES);
    assert_eq!(
        error.to_string(),
        "FwpsInjectionHandleCreate0 failed with STATUS_INSUFFICIENT_RESOURCES (0xC000009A)"
    );
    assert!(sim.open_handles().is_empty());
    sim.assert_clean();
}

#[test]
fn simulated_stack_catches_destroy_of_unknown_and_destroyed_handles() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let handle = InjectionHandle::try_create(&sim, AddressFamily::Ipv4, TRANSPORT).unwrap();
    let raw = handle.as_raw();
    drop(handle);
    // SAFETY: deliberately wrong: the handle is already destroyed (the simulation catches it).
    drop(unsafe { InjectionHandle::from_raw(&sim, raw, AddressFamily::Ipv4, TRANSPORT) });
    let bogus = 0xdead_0000_usize as *mut core::ffi::c_void;
    // SAFETY: deliberately wrong: never a handle of this stack.
    drop(unsafe { InjectionHandle::from_raw(&sim, bogus, AddressFamily::Ipv4, TRANSPORT) });
    assert_eq!(
        sim.take_violations(),
        vec![
            Violation::DestroyDestroyedHandle(raw as usize),
            Violation::DestroyUnknownHandle(0xdead_0000)
        ]
    );
    sim.assert_clean();
}

#[test]
fn simulated_stack_reports_leaks() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    let raw = InjectionHandle::try_create(&sim, AddressFamily::Ipv4, TRANSPORT)
        .unwrap()
        .into_raw();
    // A panic's machinery (backtrace caches) keeps memory: not counted by the heap check.
    let report = heap::uncounted(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.assert_clean()))
    })
    .expect_err("a leaked handle must fail assert_clean");
    let text = report.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("1 open handle"), "{text}");
    // SAFETY: `raw` is live and owned by nobody else.
    drop(unsafe { InjectionHandle::from_raw(&sim, raw, AddressFamily::Ipv4, TRANSPORT) });
    sim.assert_clean();
}

#[test]
fn statuses_print_name_and_hex() {
    let _heap = heap::check();
    assert_eq!(
        NtStatus::FWP_TCPIP_NOT_READY.to_string(),
        "STATUS_FWP_TCPIP_NOT_READY (0xC0220100)"
    );
    assert_eq!(NtStatus::FWP_TCPIP_NOT_READY.0 as u32, 0xC022_0100);
    assert_eq!(NtStatus::FWP_INJECT_HANDLE_CLOSING.0 as u32, 0xC022_0101);
    assert_eq!(NtStatus::FWP_INJECT_HANDLE_STALE.0 as u32, 0xC022_0102);
    assert_eq!(NtStatus::FWP_CANNOT_PEND.0 as u32, 0xC022_0103);
    assert_eq!(
        NtStatus(0xC022_0041_u32 as i32).to_string(),
        "NTSTATUS 0xC0220041"
    );
    assert!(NtStatus::SUCCESS.is_success());
    assert!(!NtStatus::INVALID_PARAMETER.is_success());
}
