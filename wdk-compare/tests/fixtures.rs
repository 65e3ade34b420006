//! The comparison run as the WDK build runs it (bindgen + libclang over C headers, then
//! `compare`), over small headers written from the DDI reference's syntax blocks
//! (tests/fixtures/wdk-headers) instead of the WDK. The seam's side is the real crate: its types,
//! its field indices and the `extern` blocks of crates/seam/src/sys/declarations.rs.

use std::ffi::c_void;

use wdk_compare::{
    Extent, HeaderView, Mismatch, Seam, SeamLayout, Signature, compare, layout_of, seam_functions,
};
use wfp_injector::driver::layers::{INBOUND_FIELDS, OUTBOUND_FIELDS};
use wfp_injector::sys::types as ours;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/wdk-headers");

/// bindgen as wdk-build configures it where it matters here: core, ModuleConsts enums, the x64
/// MSVC target (32-bit `long`, `__declspec(align)`).
fn headers(file: &str) -> HeaderView {
    let builder = bindgen::Builder::default()
        .header(format!("{FIXTURES}/{file}"))
        .clang_arg("--target=x86_64-pc-windows-msvc")
        .clang_arg(format!("-I{FIXTURES}"))
        .use_core()
        .default_enum_style(bindgen::EnumVariation::ModuleConsts);
    match HeaderView::generate(builder) {
        Ok((view, _)) => view,
        Err(error) => panic!("{file}: {error}"),
    }
}

fn nbl_seam() -> Seam {
    Seam {
        layouts: vec![SeamLayout {
            name: "NET_BUFFER_LIST".into(),
            extent: Extent::Prefix,
            layout: layout_of!(ours::NET_BUFFER_LIST {
                Next,
                FirstNetBuffer,
                Context,
                ParentNetBufferList,
                NdisPoolHandle,
                NdisReserved,
                ProtocolReserved,
                MiniportReserved,
                Scratch,
                SourceHandle,
                NblFlags,
                ChildRefCount,
                Flags,
                Status,
            }),
        }],
        ..Seam::default()
    }
}

#[test]
fn the_seams_net_buffer_list_matches_nbl_h() {
    let view = headers("nbl.h");
    let theirs = view
        .layout("NET_BUFFER_LIST")
        .expect("NET_BUFFER_LIST in the bindings");
    // Members of the anonymous unions are found under their C names.
    assert_eq!(theirs.fields.get("Next"), Some(&0));
    assert_eq!(theirs.fields.get("FirstNetBuffer"), Some(&8));
    assert_eq!(theirs.fields.get("Status"), Some(&0x8C));
    assert_eq!(theirs.align, 16);
    assert_eq!(compare(&nbl_seam(), &view), []);
}

#[test]
fn a_wrong_offset_is_reported_even_when_size_and_alignment_agree() {
    // The docs' syntax block lacks nbl.h's DECLSPEC_ALIGN: same size and alignment, fields from
    // NdisReserved on 8 bytes earlier. A size/alignment comparison passes it; this one must not.
    let view = headers("nbl_docs_syntax.h");
    let theirs = view
        .layout("NET_BUFFER_LIST")
        .expect("NET_BUFFER_LIST in the bindings");
    let nbl_h = headers("nbl.h");
    let right = nbl_h
        .layout("NET_BUFFER_LIST")
        .expect("NET_BUFFER_LIST in nbl.h");
    assert_eq!((theirs.size, theirs.align), (right.size, right.align));

    let mismatches = compare(&nbl_seam(), &view);
    assert!(
        mismatches.contains(&Mismatch::Offset {
            name: "NET_BUFFER_LIST".into(),
            field: "Status".into(),
            ours: 0x8C,
            theirs: 0x84,
        }),
        "{mismatches:?}"
    );
    let fields: Vec<&str> = mismatches
        .iter()
        .map(|mismatch| match mismatch {
            Mismatch::Offset { field, .. } => field.as_str(),
            other => panic!("only offsets differ, got {other}"),
        })
        .collect();
    assert_eq!(
        fields,
        [
            "ChildRefCount",
            "Flags",
            "MiniportReserved",
            "NblFlags",
            "NdisReserved",
            "ProtocolReserved",
            "Scratch",
            "SourceHandle",
            "Status"
        ]
    );
}

/// `ALIGNED_PAIR` of fields.h declared without the DECLSPEC_ALIGN.
#[repr(C)]
#[allow(non_snake_case, dead_code)]
struct UnalignedPair {
    First: *mut c_void,
    Reserved: [*mut c_void; 2],
}

/// The same with it.
#[repr(C)]
#[allow(non_snake_case, dead_code)]
struct AlignedPair {
    First: *mut c_void,
    Reserved: ours::MemoryAllocationAligned<[*mut c_void; 2]>,
}

fn pair_seam(layout: wdk_compare::StructLayout) -> Seam {
    Seam {
        layouts: vec![SeamLayout {
            name: "ALIGNED_PAIR".into(),
            extent: Extent::Whole,
            layout,
        }],
        ..Seam::default()
    }
}

#[test]
fn a_wrong_alignment_is_reported() {
    let view = headers("fields.h");
    let mismatches = compare(
        &pair_seam(layout_of!(UnalignedPair { First, Reserved })),
        &view,
    );
    assert_eq!(
        mismatches,
        [
            Mismatch::Size {
                name: "ALIGNED_PAIR".into(),
                ours: 24,
                theirs: 32
            },
            Mismatch::Align {
                name: "ALIGNED_PAIR".into(),
                ours: 8,
                theirs: 16
            },
            Mismatch::Offset {
                name: "ALIGNED_PAIR".into(),
                field: "Reserved".into(),
                ours: 8,
                theirs: 16
            },
        ]
    );
    assert_eq!(
        compare(
            &pair_seam(layout_of!(AlignedPair { First, Reserved })),
            &view
        ),
        []
    );
}

fn seam_source() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/seam/src/sys/declarations.rs"
    ))
    .expect("crates/seam/src/sys/declarations.rs")
}

#[test]
fn the_seams_declarations_match_including_variadic_dbg_print_ex() {
    let view = headers("functions.h");
    assert_eq!(
        view.function("DbgPrintEx"),
        Some(Signature {
            fixed: 3,
            variadic: true
        })
    );
    assert_eq!(
        view.function("FwpsInjectionHandleCreate0"),
        Some(Signature {
            fixed: 3,
            variadic: false
        })
    );
    let mut functions = seam_functions(&seam_source()).expect("the declaration list parses");
    // The seam passes DbgPrintEx exactly one variadic argument ("%s", text).
    assert_eq!(
        functions.get("DbgPrintEx"),
        Some(&Signature {
            fixed: 4,
            variadic: false
        })
    );
    functions.retain(|name, _| view.function(name).is_some());
    assert_eq!(
        functions.len(),
        2,
        "both fixture functions are declared by the seam"
    );
    assert_eq!(
        compare(
            &Seam {
                functions,
                ..Seam::default()
            },
            &view
        ),
        []
    );
}

#[test]
fn a_wrong_arity_is_reported() {
    let view = headers("functions.h");
    let functions = seam_functions(
        "unsafe extern \"system\" {
            fn FwpsInjectionHandleCreate0(family: u16, handle: *mut *mut c_void) -> i32;
            fn DbgPrintEx(component: u32, level: u32) -> u32;
        }",
    )
    .expect("parses");
    let mismatches = compare(
        &Seam {
            functions,
            ..Seam::default()
        },
        &view,
    );
    assert_eq!(
        mismatches,
        [
            Mismatch::Arity {
                name: "DbgPrintEx".into(),
                ours: Signature {
                    fixed: 2,
                    variadic: false
                },
                theirs: Signature {
                    fixed: 3,
                    variadic: true
                },
            },
            Mismatch::Arity {
                name: "FwpsInjectionHandleCreate0".into(),
                ours: Signature {
                    fixed: 2,
                    variadic: false
                },
                theirs: Signature {
                    fixed: 3,
                    variadic: false
                },
            },
        ]
    );
}

#[test]
fn a_variadic_seam_declaration_must_match_the_fixed_parameters() {
    let view = headers("functions.h");
    let check = |source: &str| {
        let functions = seam_functions(source).expect("parses");
        compare(
            &Seam {
                functions,
                ..Seam::default()
            },
            &view,
        )
    };
    assert_eq!(
        check("unsafe extern \"C\" { fn DbgPrintEx(c: u32, l: u32, f: *const u8, ...) -> u32; }"),
        []
    );
    assert_eq!(
        check("unsafe extern \"C\" { fn DbgPrintEx(c: u32, l: u32, ...) -> u32; }").len(),
        1
    );
    // Extra parameters on a function that is not variadic are an error.
    assert_eq!(
        check(
            "unsafe extern \"system\" {
                fn FwpsInjectionHandleCreate0(a: u16, f: u32, h: *mut *mut c_void, x: u32) -> i32;
            }"
        )
        .len(),
        1
    );
}

fn inbound_constants(fields: &wfp_injector::driver::layers::FieldIndices) -> Vec<(String, i128)> {
    [
        ("IP_PROTOCOL", fields.ip_protocol),
        ("IP_REMOTE_ADDRESS", fields.ip_remote_address),
        ("IP_REMOTE_PORT", fields.ip_remote_port),
        ("INTERFACE_INDEX", fields.interface_index),
        ("SUB_INTERFACE_INDEX", fields.sub_interface_index),
    ]
    .into_iter()
    .map(|(name, index)| {
        (
            format!("FWPS_FIELD_INBOUND_TRANSPORT_V4_{name}"),
            index as i128,
        )
    })
    .collect()
}

#[test]
fn field_indices_and_constants_match_the_enum_and_defines() {
    let mut view = headers("fields.h");
    // Casts and UI64: bindgen skips them; build.rs reads them from the header text like this.
    let text = std::fs::read_to_string(format!("{FIXTURES}/fields.h")).unwrap();
    view.add_defines(wdk_compare::define_constants(&text));
    let mut constants = inbound_constants(&INBOUND_FIELDS);
    constants.extend([
        (
            "FWP_ACTION_BLOCK".to_owned(),
            i128::from(ours::FWP_ACTION_BLOCK),
        ),
        (
            "FWP_ACTION_PERMIT".to_owned(),
            i128::from(ours::FWP_ACTION_PERMIT),
        ),
        (
            "FWP_ACTION_CALLOUT_TERMINATING".to_owned(),
            i128::from(ours::FWP_ACTION_CALLOUT_TERMINATING),
        ),
        // Cast and UI64 macros, which bindgen evaluates only through clang.
        (
            "STATUS_FWP_TCPIP_NOT_READY".to_owned(),
            i128::from(wfp_injector::nt::NtStatus::FWP_TCPIP_NOT_READY.0),
        ),
        (
            "STATUS_DEVICE_BUSY".to_owned(),
            i128::from(wfp_injector::nt::NtStatus::DEVICE_BUSY.0),
        ),
        (
            "POOL_FLAG_NON_PAGED".to_owned(),
            i128::from(ours::POOL_FLAG_NON_PAGED),
        ),
    ]);
    assert_eq!(
        compare(
            &Seam {
                constants,
                ..Seam::default()
            },
            &view
        ),
        []
    );
}

#[test]
fn a_wrong_field_index_and_a_missing_constant_are_reported() {
    let view = headers("fields.h");
    // The outbound indices put the remote address after the local address type: reading the
    // inbound layer with them is the mistake this catches.
    let mut constants = inbound_constants(&OUTBOUND_FIELDS);
    constants.push(("FWP_ACTION_CONTINUE".to_owned(), 0x2003));
    let mismatches = compare(
        &Seam {
            constants,
            ..Seam::default()
        },
        &view,
    );
    assert_eq!(
        mismatches,
        [
            Mismatch::Value {
                name: "FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_REMOTE_ADDRESS".into(),
                ours: 3,
                theirs: 2,
            },
            Mismatch::Missing {
                kind: "constant",
                name: "FWP_ACTION_CONTINUE".into()
            },
        ]
    );
}
