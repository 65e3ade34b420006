//! crates/seam/src/sys/wdk_items.rs (the list build.rs compares on the WDK build) compiled and run on Linux
//! against the crate's own types, then compared with the fixture headers where they overlap.

use wfp_injector::sys::types;

include!("../../crates/seam/src/sys/wdk_items.rs");

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/wdk-headers");

#[test]
fn the_list_covers_the_seam_and_matches_the_fixture_headers() {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/seam/src/sys/declarations.rs"
    ))
    .expect("crates/seam/src/sys/declarations.rs");
    let seam = seam_items(&source).expect("the list builds");
    assert!(seam.functions.contains_key("DbgPrintEx"));
    assert!(seam.functions.contains_key("FwpsInjectTransportSendAsync0"));
    assert!(
        seam.functions.len() >= 30,
        "{} functions",
        seam.functions.len()
    );

    let builder = bindgen::Builder::default()
        .header(format!("{FIXTURES}/nbl.h"))
        .header(format!("{FIXTURES}/functions.h"))
        .header(format!("{FIXTURES}/fields.h"))
        .clang_arg("--target=x86_64-pc-windows-msvc")
        .clang_arg(format!("-I{FIXTURES}"))
        .use_core()
        .default_enum_style(bindgen::EnumVariation::ModuleConsts);
    let (view, _) = wdk_compare::HeaderView::generate(builder).expect("bindgen");
    // Keep what the fixtures declare; the rest of the WDK is compared on the WDK build only.
    let overlap = wdk_compare::Seam {
        functions: seam
            .functions
            .into_iter()
            .filter(|(name, _)| view.function(name).is_some())
            .collect(),
        layouts: seam
            .layouts
            .into_iter()
            .filter(|item| view.layout(&item.name).is_some())
            .collect(),
        constants: seam
            .constants
            .into_iter()
            .filter(|(name, _)| view.constant(name).is_some())
            .collect(),
    };
    assert_eq!(
        (
            overlap.functions.len(),
            overlap.layouts.len(),
            overlap.constants.len()
        ),
        (2, 1, 3)
    );
    assert_eq!(wdk_compare::compare(&overlap, &view), []);
}
