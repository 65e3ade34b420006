//! Build script.
//!
//! On a Linux host it does nothing: host tests and the Linux cross-build of the image need no
//! generated code. On a Windows host with the WDK and the `wdk` feature, wdk-build configures the
//! driver link (issue 6 adds the bindgen check of the seam against fwpsk.h/fwpmk.h).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(windows)]
    if std::env::var_os("CARGO_FEATURE_WDK").is_some() {
        if let Err(error) = wdk_build::configure_wdk_binary_build() {
            panic!("wdk-build could not configure the driver build: {error:?}");
        }
    }
}
