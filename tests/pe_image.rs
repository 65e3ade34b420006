//! Checks the driver image that scripts/build-sys.sh built (target/sys/wfp_injector.sys, or
//! $WFP_SYS_IMAGE): a native x64 kernel image whose imports are exactly what the seam declares.
//!
//! In CI (CI set) a missing image fails the test; elsewhere it is reported and the check skipped,
//! so `cargo test` works before the first image build.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use goblin::pe::PE;
use support::{image_bytes, seam_declarations};

const IMAGE_FILE_MACHINE_AMD64: u16 = 0x8664;
const IMAGE_SUBSYSTEM_NATIVE: u16 = 1;
const IMAGE_FILE_DLL: u16 = 0x2000;
const IMAGE_SCN_MEM_EXECUTE: u32 = 0x2000_0000;
const IMAGE_SCN_MEM_WRITE: u32 = 0x8000_0000;
const KERNEL_MODULES: [&str; 6] = [
    "ntoskrnl.exe",
    "wdfldr.sys",
    "hal.dll",
    "fwpkclnt.sys",
    "netio.sys",
    "ndis.sys",
];

#[test]
fn driver_image_is_a_native_x64_kernel_image_importing_only_the_seam() {
    let Some(bytes) = image_bytes() else { return };
    let pe = PE::parse(&bytes).expect("parse the image as PE");
    let header = pe.header.coff_header;
    let optional = pe.header.optional_header.expect("optional header");

    assert!(pe.is_64, "PE32+");
    assert_eq!(header.machine, IMAGE_FILE_MACHINE_AMD64, "machine AMD64");
    assert_eq!(
        optional.windows_fields.subsystem, IMAGE_SUBSYSTEM_NATIVE,
        "subsystem NATIVE"
    );
    assert_eq!(
        header.characteristics & IMAGE_FILE_DLL,
        0,
        "a driver, not a DLL"
    );

    // A KMDF driver: the entry point is the stub's FxDriverEntry, which binds the framework.
    let entry = pe.entry;
    let fx_driver_entry = pe
        .exports
        .iter()
        .find(|export| export.name == Some("FxDriverEntry"))
        .expect("FxDriverEntry is exported");
    assert_eq!(
        entry, fx_driver_entry.rva as u32,
        "the entry point is FxDriverEntry"
    );

    let declared = seam_declarations();
    let mut imported: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for import in &pe.imports {
        imported
            .entry(import.dll.to_ascii_lowercase())
            .or_default()
            .insert(import.name.to_string());
    }
    for (module, names) in &imported {
        assert!(
            KERNEL_MODULES.contains(&module.as_str()),
            "imports from {module}, which is not a kernel module"
        );
        for name in names {
            assert!(
                declared.contains(&(module.clone(), name.clone())),
                "{module}!{name} is imported but not declared in crates/seam/src/sys/declarations.rs"
            );
        }
    }
    let fwpkclnt = imported.get("fwpkclnt.sys").expect("imports fwpkclnt.sys");
    for name in ["FwpsInjectionHandleCreate0", "FwpsInjectionHandleDestroy0"] {
        assert!(
            fwpkclnt.contains(name),
            "{name} is imported from fwpkclnt.sys"
        );
    }
    let wdfldr = imported.get("wdfldr.sys").expect("imports wdfldr.sys");
    let expected: BTreeSet<String> = ["WdfVersionBind", "WdfVersionUnbind"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(wdfldr, &expected, "binds and unbinds KMDF, nothing else");
    for name in ["IoCreateDevice", "IoDeleteDevice"] {
        assert!(
            !imported.values().any(|names| names.contains(name)),
            "{name}: the WDM shell is gone, devices come from KMDF"
        );
    }
    // Deferred load: the BFE state functions and the work item functions.
    for (module, name) in [
        ("fwpkclnt.sys", "FwpmBfeStateGet0"),
        ("fwpkclnt.sys", "FwpmBfeStateSubscribeChanges0"),
        ("fwpkclnt.sys", "FwpmBfeStateUnsubscribeChanges0"),
        ("ntoskrnl.exe", "IoAllocateWorkItem"),
        ("ntoskrnl.exe", "IoQueueWorkItem"),
        ("ntoskrnl.exe", "IoFreeWorkItem"),
    ] {
        assert!(
            imported
                .get(module)
                .is_some_and(|names| names.contains(name)),
            "{module}!{name} is imported (the deferred load)"
        );
    }
    for (module, names) in &imported {
        for name in names.iter().filter(|name| name.starts_with("Fwp")) {
            assert_eq!(module, "fwpkclnt.sys", "{name} must come from fwpkclnt.sys");
        }
    }

    assert!(
        optional.data_directories.get_tls_table().is_none(),
        "no TLS directory"
    );
    assert!(
        optional
            .data_directories
            .get_base_relocation_table()
            .is_some_and(|d| d.size > 0),
        "relocatable: the kernel maps drivers at any address"
    );
    for section in &pe.sections {
        let flags = section.characteristics;
        assert!(
            flags & IMAGE_SCN_MEM_EXECUTE == 0 || flags & IMAGE_SCN_MEM_WRITE == 0,
            "section {:?} is writable and executable",
            section.name()
        );
    }

    let checksum = optional.windows_fields.check_sum;
    assert_ne!(checksum, 0, "drivers carry an image checksum");

    if std::env::var_os("CI").is_some() {
        assert!(
            optional
                .data_directories
                .get_certificate_table()
                .is_some_and(|d| d.size > 0),
            "CI signs the image before testing it"
        );
    }

    let import_count: usize = imported.values().map(BTreeSet::len).sum();
    println!(
        "driver image: {} bytes on disk, SizeOfImage {} bytes, {} sections, {} imports from {:?}",
        bytes.len(),
        optional.windows_fields.size_of_image,
        pe.sections.len(),
        import_count,
        imported.keys().collect::<Vec<_>>()
    );
}

#[test]
fn seam_declarations_are_parsed_from_the_source() {
    let declared = seam_declarations();
    assert!(declared.contains(&("fwpkclnt.sys".into(), "FwpsInjectionHandleCreate0".into())));
    assert!(declared.contains(&("ntoskrnl.exe".into(), "KeGetCurrentIrql".into())));
}
