//! Build script.
//!
//! On a Linux host it generates nothing: host tests and the Linux cross-build of the image need no
//! generated code. For the cross-build it links the version resource scripts/build-sys.sh made.
//!
//! On a Windows host building with the WDK (`cargo make`, which enables the `wdk` feature):
//! 1. wdk-build configures the KMDF driver link, as windows-drivers-rs' sample-kmdf-driver's
//!    build.rs does (`configure_wdk_binary_build`).
//! 2. bindgen, set up by wdk-build's `BuilderExt::wdk_default`, reads the WFP declarations from
//!    the WDK's fwpsk.h and fwpmk.h (with ndis.h, NDIS_SUPPORT_NDIS6), and wdk-compare compares
//!    them with the seam (crates/seam/src/sys/wdk_items.rs): every function crates/seam/src/sys/declarations.rs imports, with
//!    its parameter count (variadic DbgPrintEx included), every structure's size, alignment and
//!    field offsets, and every constant. Any disagreement fails the build, listed.
//! 3. The values the crate keeps outside crates/seam/src/sys/types (status codes, per-direction field
//!    indices, layer ids, layer keys from fwpmk.h's DEFINE_GUIDs) are written to
//!    `$OUT_DIR/wdk_values.rs` for src/driver/wdk_check.rs to assert against at compile time.
//!
//! The comparison itself (wdk-compare) is tested on Linux against fixture headers; only
//! locating the WDK and reading its headers happens here, on Windows.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=crates/seam/src/sys/declarations.rs");
    println!("cargo::rerun-if-changed=crates/seam/src/sys/wdk_items.rs");
    println!("cargo::rerun-if-changed=crates/seam/src/sys/types");
    // WFP_ALLOW_NO_IMAGE=1: the run opts out of requiring a current driver image; the image
    // tests' gate (tests/support/mod.rs) then reports itself ignored, with the reason, in the
    // test result lines, instead of failing on a missing or stale image.
    println!("cargo::rerun-if-env-changed=WFP_ALLOW_NO_IMAGE");
    println!("cargo::rustc-check-cfg=cfg(wfp_allow_no_image)");
    if std::env::var_os("WFP_ALLOW_NO_IMAGE").is_some_and(|value| value == "1") {
        println!("cargo::rustc-cfg=wfp_allow_no_image");
    }
    // The version resource scripts/build-sys.sh compiles (WFP_VERSION_RES, a .res file) goes
    // into the image's link; cargo relinks when it changes. Through a link argument here rather
    // than RUSTFLAGS, whose text enters cargo's metadata hashes and so the image's code layout.
    println!("cargo::rerun-if-env-changed=WFP_VERSION_RES");
    if let Some(res) = std::env::var_os("WFP_VERSION_RES") {
        let res = std::path::PathBuf::from(res);
        println!("cargo::rerun-if-changed={}", res.display());
        println!("cargo::rustc-cdylib-link-arg={}", res.display());
    }
    #[cfg(windows)]
    if std::env::var_os("CARGO_FEATURE_WDK").is_some() {
        if let Err(error) = wdk::build() {
            panic!("WDK build: {error}");
        }
    }
}

/// The seam's raw types, compiled into the build script so their layouts can be measured (the
/// host of the WDK build is x64 Windows, the image's own target).
#[cfg(windows)]
#[allow(dead_code, missing_docs, clippy::all)]
#[path = "crates/seam/src/sys/types/mod.rs"]
mod types;

#[cfg(windows)]
mod wdk {
    use std::error::Error;
    use std::fmt::Write as _;
    use std::path::PathBuf;

    use super::types;
    use wdk_compare::bindgen;

    include!("crates/seam/src/sys/wdk_items.rs");

    /// The header bindgen reads: what fwpsk.h/fwpmk.h need first, then them.
    const HEADER: &str = "\
#define NDIS_SUPPORT_NDIS6 1
#define NDIS630 1
#include <ntddk.h>
#include <wdm.h>
#include <ndis.h>
#include <fwpsk.h>
#include <fwpmk.h>
";

    /// Integer values src/driver/wdk_check.rs compares with the crate's own.
    const VALUES: &[&str] = &[
        "STATUS_FWP_TCPIP_NOT_READY",
        "STATUS_FWP_INJECT_HANDLE_CLOSING",
        "STATUS_FWP_INJECT_HANDLE_STALE",
        "STATUS_FWP_CANNOT_PEND",
        "STATUS_FWP_CALLOUT_NOT_FOUND",
        "STATUS_FWP_FILTER_NOT_FOUND",
        "STATUS_FWP_SUBLAYER_NOT_FOUND",
        "STATUS_FWP_PROVIDER_NOT_FOUND",
        "STATUS_DEVICE_BUSY",
        "FWPS_LAYER_INBOUND_TRANSPORT_V4",
        "FWPS_LAYER_INBOUND_TRANSPORT_V6",
        "FWPS_LAYER_OUTBOUND_TRANSPORT_V4",
        "FWPS_LAYER_OUTBOUND_TRANSPORT_V6",
    ];

    /// Field enumerators, for each of the four layers.
    const FIELDS: &[&str] = &[
        "IP_PROTOCOL",
        "IP_REMOTE_ADDRESS",
        "IP_REMOTE_PORT",
        "INTERFACE_INDEX",
        "SUB_INTERFACE_INDEX",
    ];

    /// Layer keys (DEFINE_GUID in fwpmk.h).
    const GUIDS: &[&str] = &[
        "FWPM_LAYER_INBOUND_TRANSPORT_V4",
        "FWPM_LAYER_INBOUND_TRANSPORT_V6",
        "FWPM_LAYER_OUTBOUND_TRANSPORT_V4",
        "FWPM_LAYER_OUTBOUND_TRANSPORT_V6",
    ];

    pub fn build() -> Result<(), Box<dyn Error>> {
        wdk_build::configure_wdk_binary_build()?;
        let out = PathBuf::from(std::env::var("OUT_DIR")?);
        let header = out.join("wfp-input.h");
        std::fs::write(&header, HEADER)?;
        let config = wdk_build::Config::from_env_auto()?;
        let builder = <bindgen::Builder as wdk_build::BuilderExt>::wdk_default(&config)?
            .header(header.to_string_lossy())
            .allowlist_function("Fwps.*|Fwpm.*|Ndis(Retreat|Advance)NetBufferDataStart|NdisGetDataBuffer")
            .allowlist_function("Zw(OpenKey|QueryValueKey|Close)|DbgPrintEx|Io(Create|Delete)Device")
            // Deferred load (issue 13): the work item functions (FwpmBfeState* match Fwpm.* above).
            .allowlist_function("Io(Allocate|Queue|Free)WorkItem")
            .allowlist_function("KeQueryUnbiasedInterruptTime|ObfReferenceObject")
            // Per-processor state: the processor count and the current processor's index.
            .allowlist_function("KeQueryActiveProcessorCountEx|KeGetCurrentProcessorNumberEx")
            .allowlist_function("Ke(GetCurrentIrql|DelayExecutionThread|InitializeDpc|InsertQueueDpc|FlushQueuedDpcs|BugCheckEx)")
            .allowlist_function("Ex(AllocatePool2|FreePoolWithTag|InitializeRundownProtection|AcquireRundownProtection|ReleaseRundownProtection|WaitForRundownProtectionRelease)")
            .allowlist_function("Ex(Allocate|Free)CacheAwareRundownProtection|Ex(Acquire|Release)RundownProtectionCacheAware|ExWaitForRundownProtectionReleaseCacheAware")
            .allowlist_type("FWPS_.*|FWPM_.*|FWP_.*|NET_BUFFER.*|OBJECT_ATTRIBUTES|KEY_VALUE_PARTIAL_INFORMATION|DRIVER_OBJECT|UNICODE_STRING|KDPC|EX_RUNDOWN_REF|PROCESSOR_NUMBER|POOL_TYPE")
            .allowlist_var("STATUS_FWP_.*|STATUS_DEVICE_BUSY|FWPS_METADATA_FIELD_.*|FWP_ACTION_.*|FWPS_RIGHT_ACTION_WRITE|FWPS_CLASSIFY_OUT_FLAG_ABSORB|POOL_FLAG_NON_PAGED");
        let (mut view, generated) = wdk_compare::HeaderView::generate(builder)?;
        std::fs::write(out.join("wfp_bindings.rs"), &generated)?;
        // bindgen skips macros written as casts (every NTSTATUS in ntstatus.h) or with the MSVC
        // UI64 suffix (wdm.h's pool flags): read those from the header text.
        for directory in config.include_paths()? {
            for header in ["ntstatus.h", "wdm.h"] {
                if let Ok(text) = std::fs::read_to_string(directory.join(header)) {
                    view.add_defines(wdk_compare::define_constants(&text));
                }
            }
        }

        let seam = seam_items(&std::fs::read_to_string(
            "crates/seam/src/sys/declarations.rs",
        )?)?;
        let mismatches = wdk_compare::compare(&seam, &view);
        if !mismatches.is_empty() {
            let list: Vec<String> = mismatches.iter().map(ToString::to_string).collect();
            return Err(format!(
                "the seam disagrees with the WDK headers:\n  {}",
                list.join("\n  ")
            )
            .into());
        }

        let mut values = String::from("// Generated by build.rs from the WDK headers.\n");
        let mut names: Vec<String> = VALUES.iter().map(|name| (*name).to_owned()).collect();
        for direction in ["INBOUND", "OUTBOUND"] {
            for family in ["V4", "V6"] {
                for field in FIELDS {
                    names.push(format!("FWPS_FIELD_{direction}_TRANSPORT_{family}_{field}"));
                }
            }
        }
        for name in &names {
            let value = view
                .constant(name)
                .ok_or_else(|| format!("{name}: not in the WDK headers"))?;
            writeln!(values, "pub const {name}: i128 = {value};")?;
        }
        let mut guids = std::collections::BTreeMap::new();
        for directory in config.include_paths()? {
            let fwpmk = directory.join("fwpmk.h");
            if let Ok(text) = std::fs::read_to_string(&fwpmk) {
                guids.extend(wdk_compare::define_guids(&text));
            }
        }
        for name in GUIDS {
            let value = guids
                .get(*name)
                .ok_or_else(|| format!("{name}: no DEFINE_GUID in fwpmk.h"))?;
            writeln!(values, "pub const {name}: u128 = {value:#x};")?;
        }
        std::fs::write(out.join("wdk_values.rs"), values)?;
        Ok(())
    }
}
