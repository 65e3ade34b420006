//! Build script.
//!
//! On a Linux host it does nothing: host tests and the Linux cross-build of the image need no
//! generated code.
//!
//! On a Windows host building with the WDK (`cargo make`, which enables the `wdk` feature):
//! 1. wdk-build configures the KMDF driver link, as in windows-drivers-rs' sample-kmdf-driver.
//! 2. bindgen generates the WFP declarations from the WDK's fwpsk.h and fwpmk.h (with ndis.h,
//!    NDIS_SUPPORT_NDIS6), and the build compares them with the seam's hand-written ones: every
//!    function src/sys/windows.rs declares must exist with the same number of parameters, and
//!    `src/sys/wdk_check.rs` asserts at compile time that each hand-written struct has the
//!    generated size and alignment and each constant the generated value. A mismatch fails the
//!    WDK build. (This path cannot run on Linux; see README, "What is checked where".)

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/sys/windows.rs");
    #[cfg(windows)]
    if std::env::var_os("CARGO_FEATURE_WDK").is_some() {
        if let Err(error) = wdk::build() {
            panic!("WDK build configuration failed: {error}");
        }
    }
}

#[cfg(windows)]
mod wdk {
    use std::collections::BTreeMap;
    use std::error::Error;
    use std::path::PathBuf;

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

    pub fn build() -> Result<(), Box<dyn Error>> {
        wdk_build::configure_wdk_binary_build()?;
        let out = PathBuf::from(std::env::var("OUT_DIR")?);
        let header = out.join("wfp-input.h");
        std::fs::write(&header, HEADER)?;
        let config = wdk_build::Config::from_env_auto()?;
        let bindings = <bindgen::Builder as wdk_build::BuilderExt>::wdk_default(&config)?
            .header(header.to_string_lossy())
            .allowlist_function("Fwps.*|Fwpm.*|Ndis(Retreat|Advance)NetBufferDataStart|NdisGetDataBuffer")
            .allowlist_function("Zw(OpenKey|QueryValueKey|Close)|DbgPrintEx|Io(Create|Delete)Device")
            .allowlist_function("Ke(GetCurrentIrql|DelayExecutionThread|InitializeDpc|InsertQueueDpc|FlushQueuedDpcs|BugCheckEx)")
            .allowlist_function("Ex(AllocatePool2|FreePoolWithTag|InitializeRundownProtection|AcquireRundownProtection|ReleaseRundownProtection|WaitForRundownProtectionRelease)")
            .allowlist_type("FWPS_.*|FWPM_.*|FWP_.*|NET_BUFFER.*|OBJECT_ATTRIBUTES|KEY_VALUE_PARTIAL_INFORMATION|DRIVER_OBJECT|UNICODE_STRING|KDPC|EX_RUNDOWN_REF")
            .allowlist_var("STATUS_FWP_.*|FWPS_METADATA_FIELD_.*|FWP_ACTION_.*|FWPS_RIGHT_ACTION_WRITE|FWPS_CLASSIFY_OUT_FLAG_ABSORB|POOL_FLAG_NON_PAGED|DPFLTR_IHVNETWORK_ID")
            .generate()?;
        let generated = bindings.to_string();
        std::fs::write(out.join("wfp_bindings.rs"), &generated)?;
        compare_functions(&generated)
    }

    /// Every function the seam declares must be in the generated bindings with as many
    /// parameters.
    fn compare_functions(generated: &str) -> Result<(), Box<dyn Error>> {
        let ours = std::fs::read_to_string("src/sys/windows.rs")?;
        let theirs = arities(generated);
        let mut mismatches = Vec::new();
        for (name, count) in arities(&ours) {
            match theirs.get(&name) {
                None => mismatches.push(format!("{name}: not in the WDK headers")),
                Some(expected) if *expected != count => mismatches.push(format!(
                    "{name}: {count} parameters, the WDK has {expected}"
                )),
                Some(_) => {}
            }
        }
        if mismatches.is_empty() {
            Ok(())
        } else {
            Err(format!("the seam disagrees with the WDK: {}", mismatches.join("; ")).into())
        }
    }

    /// `fn Name(...)` declarations and their parameter counts.
    fn arities(source: &str) -> BTreeMap<String, usize> {
        let mut found = BTreeMap::new();
        let mut rest = source;
        while let Some(start) = rest.find("fn ") {
            rest = &rest[start + 3..];
            let Some(open) = rest.find('(') else { break };
            let name = rest[..open].trim().to_owned();
            if !name.chars().next().is_some_and(char::is_uppercase) || name.contains(' ') {
                continue;
            }
            let mut depth = 0;
            let mut end = open;
            for (index, ch) in rest[open..].char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + index;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let parameters = rest[open + 1..end]
                .split(',')
                .filter(|p| p.contains(':'))
                .count();
            found.insert(name, parameters);
            rest = &rest[end..];
        }
        found
    }
}
