//! Compares the seam's hand-written kernel declarations with bindgen's view of C headers.
//!
//! The WDK build (build.rs on a Windows host, `--features wdk`) runs bindgen over the WDK's
//! headers and hands the output to [`HeaderView::from_bindings`]; the seam's side is
//! [`seam_functions`] (the `extern` blocks of crates/seam/src/sys/windows.rs, read as source) plus layouts
//! measured with [`layout_of!`] and constant values. [`compare`] lists every disagreement. On
//! Linux the same code runs over small fixture headers (tests/fixtures/wdk-headers) in this
//! crate's tests; only locating the WDK is Windows-only.
//!
//! What bindgen's output is read for:
//! - layouts: the layout assertions bindgen emits for every struct and union (`"Size of X"`,
//!   `"Alignment of X"`, `"Offset of field: X::f"`), in the compile-time form
//!   (`[msg][expr - N]`) or the older `assert_eq!(expr, N, msg)` form. Members of anonymous
//!   structs and unions (`__bindgen_anon_N`) are flattened into the enclosing structure at their
//!   absolute offsets, as C names them.
//! - functions: `extern` declarations, with the number of fixed parameters and whether the
//!   function is variadic (`...`).
//! - constants: `const` items, including those inside the modules bindgen's `ModuleConsts` enum
//!   style (wdk-build's default) generates for enums.
//! - type aliases (`pub type NET_BUFFER_LIST = _NET_BUFFER_LIST;`), so either name finds a layout.

use std::collections::BTreeMap;
use std::fmt;

/// The bindgen this crate reads the output of, for callers that build the `Builder` (build.rs
/// gets one from `wdk_build::BuilderExt::wdk_default`: the same crate, see tests/pins.rs).
#[cfg(feature = "bindgen")]
pub use bindgen;

use syn::{Expr, ForeignItem, Item, Lit, UnOp};

/// Size, alignment and (flattened) field offsets of one structure, in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StructLayout {
    /// `size_of`.
    pub size: usize,
    /// `align_of`.
    pub align: usize,
    /// Field name to offset. Fields of anonymous members appear under their own names.
    pub fields: BTreeMap<String, usize>,
}

/// A function's parameters as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// Named (fixed) parameters.
    pub fixed: usize,
    /// Declared with a trailing `...`.
    pub variadic: bool,
}

/// Everything bindgen generated that the comparison reads.
#[derive(Debug, Clone, Default)]
pub struct HeaderView {
    layouts: BTreeMap<String, StructLayout>,
    functions: BTreeMap<String, Signature>,
    constants: BTreeMap<String, i128>,
    aliases: BTreeMap<String, String>,
}

/// Why bindgen's output or the seam's source could not be read.
#[derive(Debug)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

impl From<syn::Error> for ParseError {
    fn from(error: syn::Error) -> Self {
        Self(format!("not Rust that syn can parse: {error}"))
    }
}

/// Raw facts collected from the items before anonymous members are flattened.
#[derive(Default)]
struct Raw {
    size: BTreeMap<String, usize>,
    align: BTreeMap<String, usize>,
    offsets: BTreeMap<String, Vec<(String, usize)>>,
    /// Struct and union fields in declaration order, with their types.
    fields: BTreeMap<String, Vec<(String, syn::Type)>>,
    unions: std::collections::BTreeSet<String>,
    aliases: BTreeMap<String, syn::Type>,
    /// `pub type Type = ...;` inside each ModuleConsts enum module.
    enum_types: BTreeMap<String, syn::Type>,
}

impl HeaderView {
    /// Reads bindgen's generated Rust.
    pub fn from_bindings(source: &str) -> Result<Self, ParseError> {
        let file = syn::parse_file(source)?;
        let mut view = Self::default();
        let mut raw = Raw::default();
        view.collect(&file.items, &mut raw);
        for (name, size) in &raw.size {
            let Some(align) = raw.align.get(name) else {
                continue;
            };
            let mut fields = BTreeMap::new();
            flatten(&raw, name, 0, &mut fields, 0);
            view.layouts.insert(
                name.clone(),
                StructLayout {
                    size: *size,
                    align: *align,
                    fields,
                },
            );
        }
        Ok(view)
    }

    fn collect(&mut self, items: &[Item], raw: &mut Raw) {
        for item in items {
            match item {
                Item::Const(item) => {
                    if item.ident == "_" {
                        collect_layout_checks(&item.expr, raw);
                    } else if let Some(value) = int_value(&item.expr) {
                        self.constants.insert(item.ident.to_string(), value);
                    }
                }
                Item::Fn(item)
                    if item
                        .sig
                        .ident
                        .to_string()
                        .starts_with("bindgen_test_layout_") =>
                {
                    for statement in &item.block.stmts {
                        if let syn::Stmt::Macro(mac) = statement {
                            collect_assert_eq(&mac.mac, raw);
                        } else if let syn::Stmt::Expr(Expr::Macro(mac), _) = statement {
                            collect_assert_eq(&mac.mac, raw);
                        }
                    }
                }
                // Imports only the Linux-built image has (its own KMDF binding): the WDK build
                // compiles them out, so it has nothing to compare them with.
                Item::ForeignMod(block) if excluded_from_wdk_build(&block.attrs) => {}
                Item::ForeignMod(block) => {
                    for foreign in &block.items {
                        if let ForeignItem::Fn(function) = foreign {
                            self.functions
                                .insert(function.sig.ident.to_string(), signature(&function.sig));
                        }
                    }
                }
                Item::Mod(module) => {
                    if let Some((_, items)) = &module.content {
                        for inner in items {
                            if let Item::Type(alias) = inner {
                                if alias.ident == "Type" {
                                    raw.enum_types
                                        .insert(module.ident.to_string(), (*alias.ty).clone());
                                }
                            }
                        }
                        let before = self.aliases.clone();
                        let raw_aliases = raw.aliases.clone();
                        self.collect(items, raw);
                        // A module's `Type` alias is local to it.
                        self.aliases = before;
                        raw.aliases = raw_aliases;
                    }
                }
                Item::Type(alias) => {
                    if let Some(target) = last_ident(&alias.ty) {
                        self.aliases.insert(alias.ident.to_string(), target);
                    }
                    raw.aliases
                        .insert(alias.ident.to_string(), (*alias.ty).clone());
                }
                Item::Struct(item) => {
                    let fields = item
                        .fields
                        .iter()
                        .filter_map(|field| {
                            Some((field.ident.as_ref()?.to_string(), field.ty.clone()))
                        })
                        .collect();
                    raw.fields.insert(item.ident.to_string(), fields);
                }
                Item::Union(item) => {
                    let fields = item
                        .fields
                        .named
                        .iter()
                        .filter_map(|field| {
                            Some((field.ident.as_ref()?.to_string(), field.ty.clone()))
                        })
                        .collect();
                    raw.fields.insert(item.ident.to_string(), fields);
                    raw.unions.insert(item.ident.to_string());
                }
                _ => {}
            }
        }
    }

    /// Follows type aliases to the name bindgen's layout checks use.
    fn resolve<'a>(&'a self, mut name: &'a str) -> &'a str {
        for _ in 0..16 {
            match self.aliases.get(name) {
                Some(target) if target != name => name = target,
                _ => break,
            }
        }
        name
    }

    /// The layout of a structure or union (by its tag or typedef name).
    pub fn layout(&self, name: &str) -> Option<&StructLayout> {
        self.layouts.get(self.resolve(name))
    }

    /// A function's signature.
    pub fn function(&self, name: &str) -> Option<Signature> {
        self.functions.get(name).copied()
    }

    /// Adds `#define` values bindgen could not evaluate (see [`define_constants`]); a value
    /// bindgen produced wins.
    pub fn add_defines(&mut self, defines: BTreeMap<String, i128>) {
        for (name, value) in defines {
            self.constants.entry(name).or_insert(value);
        }
    }

    /// A constant's value (macro constants and enumerators alike).
    pub fn constant(&self, name: &str) -> Option<i128> {
        self.constants.get(name).copied()
    }

    /// Runs bindgen with `builder` (headers, clang arguments and allowlists already set) and
    /// reads its output. Returns the view and the generated Rust.
    #[cfg(feature = "bindgen")]
    pub fn generate(builder: bindgen::Builder) -> Result<(Self, String), ParseError> {
        let bindings = builder
            .layout_tests(true)
            .generate()
            .map_err(|error| ParseError(format!("bindgen failed: {error}")))?;
        let text = bindings.to_string();
        Ok((Self::from_bindings(&text)?, text))
    }
}

/// Anonymous members are named `__bindgen_anon_N`; their fields belong to the enclosing type.
///
/// bindgen checks the offsets of named fields only, so an anonymous member's offset is computed:
/// 0 in a union; in a struct, the end of the field before it rounded up to the member's
/// alignment (what C does; bindgen's explicit `__bindgen_padding_N` fields take part like any
/// other). When a size is unknown the member's fields are left out, and comparing them reports
/// them missing rather than guessing.
fn flatten(raw: &Raw, name: &str, base: usize, out: &mut BTreeMap<String, usize>, depth: usize) {
    let checked: BTreeMap<&str, usize> = raw
        .offsets
        .get(name)
        .map(|offsets| {
            offsets
                .iter()
                .map(|(field, offset)| (field.as_str(), *offset))
                .collect()
        })
        .unwrap_or_default();
    let is_union = raw.unions.contains(name);
    let Some(fields) = raw.fields.get(name) else {
        for (field, offset) in &checked {
            out.entry((*field).to_owned()).or_insert(base + offset);
        }
        return;
    };
    // End of the previous field, when known.
    let mut cursor = Some(0usize);
    for (field, ty) in fields {
        let size_align = size_align(raw, ty, 0);
        let offset = match checked.get(field.as_str()) {
            Some(offset) => Some(*offset),
            None if is_union => Some(0),
            None => match (cursor, size_align) {
                (Some(end), Some((_, align))) => Some(end.div_ceil(align) * align),
                _ => None,
            },
        };
        cursor = match (offset, size_align) {
            (Some(offset), Some((size, _))) => Some(offset + size),
            _ => None,
        };
        let Some(offset) = offset else { continue };
        if field.starts_with("__bindgen_anon_") {
            if depth < 8 {
                if let Some(inner) = last_ident(ty) {
                    flatten(raw, &inner, base + offset, out, depth + 1);
                }
            }
        } else if !field.starts_with("__bindgen_padding_") {
            out.entry(field.clone()).or_insert(base + offset);
        }
    }
}

/// Size and alignment of a type in bindgen's output, for the x64 Windows (LLP64) target the WDK
/// headers are parsed for: `long` is 32-bit, pointers 64-bit.
fn size_align(raw: &Raw, ty: &syn::Type, depth: usize) -> Option<(usize, usize)> {
    if depth > 16 {
        return None;
    }
    match ty {
        syn::Type::Ptr(_) | syn::Type::Reference(_) | syn::Type::BareFn(_) => Some((8, 8)),
        syn::Type::Array(array) => {
            let (size, align) = size_align(raw, &array.elem, depth + 1)?;
            Some((size * usize_value(&array.len)?, align))
        }
        syn::Type::Paren(inner) => size_align(raw, &inner.elem, depth + 1),
        syn::Type::Group(inner) => size_align(raw, &inner.elem, depth + 1),
        syn::Type::Path(path) => {
            let last = path.path.segments.last()?;
            let name = last.ident.to_string();
            // Option<fn> and Option<NonNull> are pointer-sized.
            if name == "Option" {
                return Some((8, 8));
            }
            let primitive = match name.as_str() {
                "u8" | "i8" | "c_char" | "c_schar" | "c_uchar" | "bool" => Some((1, 1)),
                "u16" | "i16" | "c_short" | "c_ushort" => Some((2, 2)),
                "u32" | "i32" | "f32" | "c_int" | "c_uint" | "c_long" | "c_ulong" | "c_float" => {
                    Some((4, 4))
                }
                "u64" | "i64" | "f64" | "usize" | "isize" | "c_longlong" | "c_ulonglong"
                | "c_double" => Some((8, 8)),
                "u128" | "i128" => Some((16, 16)),
                _ => None,
            };
            if primitive.is_some() {
                return primitive;
            }
            if let (Some(size), Some(align)) = (raw.size.get(&name), raw.align.get(&name)) {
                return Some((*size, *align));
            }
            // `Type` inside a ModuleConsts enum module, or any alias.
            let alias = if name == "Type" && path.path.segments.len() >= 2 {
                let module = path.path.segments[path.path.segments.len() - 2]
                    .ident
                    .to_string();
                raw.enum_types.get(&module)
            } else {
                raw.aliases.get(&name)
            };
            size_align(raw, alias?, depth + 1)
        }
        _ => None,
    }
}

/// The last path segment of a type (`_NET_BUFFER_LIST__bindgen_ty_1`), if it is a path.
fn last_ident(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(path) => Some(path.path.segments.last()?.ident.to_string()),
        _ => None,
    }
}

fn signature(sig: &syn::Signature) -> Signature {
    Signature {
        fixed: sig.inputs.len(),
        variadic: sig.variadic.is_some(),
    }
}

/// An integer literal, possibly negated, parenthesized or cast (`-5`, `(3)`, `7 as u32`).
fn int_value(expr: &Expr) -> Option<i128> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Int(int) => int.base10_parse::<i128>().ok(),
            Lit::Bool(value) => Some(i128::from(value.value)),
            _ => None,
        },
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => {
            int_value(&unary.expr).map(|v| -v)
        }
        Expr::Paren(paren) => int_value(&paren.expr),
        Expr::Group(group) => int_value(&group.expr),
        Expr::Cast(cast) => int_value(&cast.expr),
        _ => None,
    }
}

fn usize_value(expr: &Expr) -> Option<usize> {
    int_value(expr).and_then(|value| usize::try_from(value).ok())
}

fn string_value(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Some(text.value()),
        Expr::Array(array) if array.elems.len() == 1 => string_value(&array.elems[0]),
        Expr::Group(group) => string_value(&group.expr),
        _ => None,
    }
}

/// `const _: () = { ["Size of X"][size_of::<X>() - 8usize]; ... };`
fn collect_layout_checks(expr: &Expr, raw: &mut Raw) {
    let Expr::Block(block) = expr else { return };
    for statement in &block.block.stmts {
        let expr = match statement {
            syn::Stmt::Expr(expr, _) => expr,
            _ => continue,
        };
        let Expr::Index(index) = expr else { continue };
        let Some(message) = string_value(&index.expr) else {
            continue;
        };
        let Expr::Binary(binary) = &*index.index else {
            continue;
        };
        if !matches!(binary.op, syn::BinOp::Sub(_)) {
            continue;
        }
        let Some(value) = usize_value(&binary.right) else {
            continue;
        };
        record(raw, &message, value);
    }
}

/// `assert_eq!(size_of::<X>(), 8usize, "Size of X");` (bindgen's runtime layout tests).
fn collect_assert_eq(mac: &syn::Macro, raw: &mut Raw) {
    if !mac.path.is_ident("assert_eq") {
        return;
    }
    let Ok(args) =
        mac.parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated)
    else {
        return;
    };
    let args: Vec<&Expr> = args.iter().collect();
    if args.len() < 3 {
        return;
    }
    if let (Some(value), Some(message)) = (usize_value(args[1]), string_value(args[2])) {
        record(raw, &message, value);
    }
}

fn record(raw: &mut Raw, message: &str, value: usize) {
    if let Some(name) = message.strip_prefix("Size of ") {
        raw.size.insert(name.to_owned(), value);
    } else if let Some(name) = message.strip_prefix("Alignment of ") {
        raw.align.insert(name.to_owned(), value);
    } else if let Some(path) = message.strip_prefix("Offset of field: ") {
        if let Some((name, field)) = path.split_once("::") {
            let field = field.trim_start_matches("r#");
            raw.offsets
                .entry(name.to_owned())
                .or_default()
                .push((field.to_owned(), value));
        }
    }
}

/// The functions declared in `extern` blocks of Rust source (the seam's crates/seam/src/sys/windows.rs),
/// with their parameter counts. Nested modules are searched too.
pub fn seam_functions(source: &str) -> Result<BTreeMap<String, Signature>, ParseError> {
    fn walk(items: &[Item], out: &mut BTreeMap<String, Signature>) {
        for item in items {
            match item {
                // Imports only the Linux-built image has (its own KMDF binding): the WDK build
                // compiles them out, so it has nothing to compare them with.
                Item::ForeignMod(block) if excluded_from_wdk_build(&block.attrs) => {}
                Item::ForeignMod(block) => {
                    for foreign in &block.items {
                        if let ForeignItem::Fn(function) = foreign {
                            out.insert(function.sig.ident.to_string(), signature(&function.sig));
                        }
                    }
                }
                Item::Mod(module) => {
                    if let Some((_, items)) = &module.content {
                        walk(items, out);
                    }
                }
                _ => {}
            }
        }
    }
    let file = syn::parse_file(source)?;
    let mut out = BTreeMap::new();
    walk(&file.items, &mut out);
    for blocks in declaration_lists(&file.items)? {
        walk(&blocks.items, &mut out);
    }
    Ok(out)
}

/// The `extern` blocks of a declaration list: a `macro_rules!` whose body hands its callback
/// `#[link] unsafe extern "system" { ... }` blocks (then a `wdf { ... }` section, which declares
/// no imports), read as items.
fn declaration_lists(items: &[Item]) -> Result<Vec<syn::File>, ParseError> {
    use proc_macro2::{TokenStream, TokenTree};

    /// The tokens of a group from its first `#[link ...]` on, searched depth first.
    fn find(stream: TokenStream) -> Option<TokenStream> {
        for tree in stream {
            if let TokenTree::Group(group) = tree {
                let tokens: Vec<TokenTree> = group.stream().into_iter().collect();
                let start = tokens.windows(2).position(|pair| {
                    matches!(&pair[0], TokenTree::Punct(hash) if hash.as_char() == '#')
                        && matches!(&pair[1], TokenTree::Group(attribute)
                            if attribute.stream().to_string().starts_with("link"))
                });
                if let Some(start) = start {
                    return Some(tokens[start..].iter().cloned().collect());
                }
                if let Some(found) = find(group.stream()) {
                    return Some(found);
                }
            }
        }
        None
    }

    let mut lists = Vec::new();
    for item in items {
        let Item::Macro(item) = item else { continue };
        // The list itself, not the macros that match its grammar.
        let is_list = item
            .ident
            .as_ref()
            .is_some_and(|name| name == "kernel_declarations");
        if !item.mac.path.is_ident("macro_rules") || !is_list {
            continue;
        }
        let Some(body) = find(item.mac.tokens.clone()) else {
            continue;
        };
        let blocks: TokenStream = body
            .into_iter()
            .take_while(|tree| !matches!(tree, TokenTree::Ident(ident) if ident == "wdf"))
            .collect();
        lists.push(syn::parse2::<syn::File>(blocks)?);
    }
    Ok(lists)
}

/// True for `#[cfg(not(feature = "wdk"))]`.
fn excluded_from_wdk_build(attributes: &[syn::Attribute]) -> bool {
    attributes.iter().any(|attribute| {
        attribute.path().is_ident("cfg") && {
            let text = attribute
                .meta
                .require_list()
                .map(|list| list.tokens.to_string())
                .unwrap_or_default();
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            compact == "not(feature=\"wdk\")"
        }
    })
}

/// How much of a header structure the seam declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The whole structure: sizes must be equal.
    Whole,
    /// A prefix the crate reads but never allocates: the seam's size may be smaller.
    Prefix,
}

/// One structure as the seam declares it.
#[derive(Debug, Clone)]
pub struct SeamLayout {
    /// The header's name for it (tag or typedef).
    pub name: String,
    /// Whole or prefix.
    pub extent: Extent,
    /// Measured from the Rust type ([`layout_of!`]).
    pub layout: StructLayout,
}

/// Measures a Rust type: `layout_of!(path::NET_BUFFER_LIST { Next, Status })` gives its size,
/// alignment and the offsets of the listed fields.
#[macro_export]
macro_rules! layout_of {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        $crate::StructLayout {
            size: ::core::mem::size_of::<$ty>(),
            align: ::core::mem::align_of::<$ty>(),
            fields: {
                #[allow(unused_mut)]
                let mut fields = ::std::collections::BTreeMap::new();
                $( fields.insert(stringify!($field).to_owned(), ::core::mem::offset_of!($ty, $field)); )*
                fields
            },
        }
    };
}

/// Everything the seam declares that the headers must agree with.
#[derive(Debug, Clone, Default)]
pub struct Seam {
    /// Imported functions ([`seam_functions`]).
    pub functions: BTreeMap<String, Signature>,
    /// Structure layouts.
    pub layouts: Vec<SeamLayout>,
    /// Constants by their header name (macro constants and enumerators).
    pub constants: Vec<(String, i128)>,
}

/// One disagreement between the seam and the headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The headers do not declare this function, structure or constant (under that name).
    Missing {
        /// "function", "structure" or "constant".
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A function with a different number of parameters.
    Arity {
        /// Function.
        name: String,
        /// The seam's parameter count.
        ours: Signature,
        /// The header's.
        theirs: Signature,
    },
    /// A structure of a different size (or, for a prefix, a larger one).
    Size {
        /// Structure.
        name: String,
        /// The seam's.
        ours: usize,
        /// The header's.
        theirs: usize,
    },
    /// A structure of a different alignment.
    Align {
        /// Structure.
        name: String,
        /// The seam's.
        ours: usize,
        /// The header's.
        theirs: usize,
    },
    /// A field the header's structure does not have.
    MissingField {
        /// Structure.
        name: String,
        /// Field.
        field: String,
    },
    /// A field at a different offset.
    Offset {
        /// Structure.
        name: String,
        /// Field.
        field: String,
        /// The seam's.
        ours: usize,
        /// The header's.
        theirs: usize,
    },
    /// A constant with a different value.
    Value {
        /// Constant.
        name: String,
        /// The seam's.
        ours: i128,
        /// The header's.
        theirs: i128,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { kind, name } => write!(f, "{kind} {name}: not in the headers"),
            Self::Arity { name, ours, theirs } => write!(
                f,
                "{name}: the seam declares {} parameters{}, the headers {}{}",
                ours.fixed,
                if ours.variadic { " and ..." } else { "" },
                theirs.fixed,
                if theirs.variadic { " and ..." } else { "" }
            ),
            Self::Size { name, ours, theirs } => {
                write!(
                    f,
                    "{name}: size {ours} in the seam, {theirs} in the headers"
                )
            }
            Self::Align { name, ours, theirs } => {
                write!(
                    f,
                    "{name}: alignment {ours} in the seam, {theirs} in the headers"
                )
            }
            Self::MissingField { name, field } => {
                write!(f, "{name}.{field}: no such field in the headers")
            }
            Self::Offset {
                name,
                field,
                ours,
                theirs,
            } => write!(
                f,
                "{name}.{field}: offset {ours:#x} in the seam, {theirs:#x} in the headers"
            ),
            Self::Value { name, ours, theirs } => {
                write!(
                    f,
                    "{name}: {ours:#x} in the seam, {theirs:#x} in the headers"
                )
            }
        }
    }
}

/// Whether a call through the seam's declaration `ours` is a valid call of `theirs`.
///
/// Non-variadic: the same count. A variadic C function (`DbgPrintEx(ComponentId, Level,
/// Format, ...)`) may be declared with its fixed parameters followed by the fixed number of
/// variadic arguments the seam always passes (the seam's `DbgPrintEx` passes one `%s`
/// argument): at least the fixed count. On x64 the Microsoft calling convention passes variadic
/// integer and pointer arguments exactly like fixed ones (only floating-point variadic arguments
/// differ, and the kernel image uses none). A seam declaration that is itself variadic must match
/// the fixed count exactly.
pub fn arity_matches(ours: Signature, theirs: Signature) -> bool {
    match (ours.variadic, theirs.variadic) {
        (false, false) | (true, true) => ours.fixed == theirs.fixed,
        (false, true) => ours.fixed >= theirs.fixed,
        (true, false) => false,
    }
}

/// Every disagreement between the seam and the headers; empty when they agree.
pub fn compare(seam: &Seam, headers: &HeaderView) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for (name, ours) in &seam.functions {
        match headers.function(name) {
            None => out.push(Mismatch::Missing {
                kind: "function",
                name: name.clone(),
            }),
            Some(theirs) if !arity_matches(*ours, theirs) => {
                out.push(Mismatch::Arity {
                    name: name.clone(),
                    ours: *ours,
                    theirs,
                });
            }
            Some(_) => {}
        }
    }
    for item in &seam.layouts {
        let name = &item.name;
        let Some(theirs) = headers.layout(name) else {
            out.push(Mismatch::Missing {
                kind: "structure",
                name: name.clone(),
            });
            continue;
        };
        let ours = &item.layout;
        let size_ok = match item.extent {
            Extent::Whole => ours.size == theirs.size,
            Extent::Prefix => ours.size <= theirs.size,
        };
        if !size_ok {
            out.push(Mismatch::Size {
                name: name.clone(),
                ours: ours.size,
                theirs: theirs.size,
            });
        }
        if ours.align != theirs.align {
            out.push(Mismatch::Align {
                name: name.clone(),
                ours: ours.align,
                theirs: theirs.align,
            });
        }
        for (field, offset) in &ours.fields {
            match theirs.fields.get(field) {
                None => out.push(Mismatch::MissingField {
                    name: name.clone(),
                    field: field.clone(),
                }),
                Some(expected) if expected != offset => out.push(Mismatch::Offset {
                    name: name.clone(),
                    field: field.clone(),
                    ours: *offset,
                    theirs: *expected,
                }),
                Some(_) => {}
            }
        }
    }
    for (name, ours) in &seam.constants {
        match headers.constant(name) {
            None => out.push(Mismatch::Missing {
                kind: "constant",
                name: name.clone(),
            }),
            Some(theirs) if theirs != *ours => {
                out.push(Mismatch::Value {
                    name: name.clone(),
                    ours: *ours,
                    theirs,
                });
            }
            Some(_) => {}
        }
    }
    out
}

/// `DEFINE_GUID(NAME, l, w1, w2, b1, ..., b8)` lines of a header, as `u128` in the order the
/// GUID is written (`{l-w1-w2-b1b2-b3..b8}`). bindgen cannot give these values: without
/// INITGUID a DEFINE_GUID is only an `extern const GUID` declaration.
pub fn define_guids(header: &str) -> BTreeMap<String, u128> {
    let mut out = BTreeMap::new();
    let mut rest = header;
    while let Some(start) = rest.find("DEFINE_GUID(") {
        rest = &rest[start + "DEFINE_GUID(".len()..];
        let Some(end) = rest.find(')') else { break };
        let arguments: Vec<&str> = rest[..end].split(',').map(str::trim).collect();
        rest = &rest[end..];
        if arguments.len() != 12 {
            continue;
        }
        let numbers: Option<Vec<u128>> = arguments[1..]
            .iter()
            .map(|text| parse_c_int(text))
            .collect();
        let Some(numbers) = numbers else { continue };
        let widths = [32, 16, 16, 8, 8, 8, 8, 8, 8, 8, 8];
        let mut value = 0u128;
        let mut valid = true;
        for (number, width) in numbers.iter().zip(widths) {
            valid &= *number < (1u128 << width);
            value = (value << width) | number;
        }
        if valid {
            out.insert(arguments[0].to_owned(), value);
        }
    }
    out
}

/// `#define NAME value` lines whose value bindgen's macro evaluator skips: casts, as ntstatus.h
/// writes every status (`((NTSTATUS)0xC0220100L)`, read as the signed 32-bit NTSTATUS), and the
/// MSVC `UI64` suffix wdm.h gives pool flags (`0x0000000000000040UI64`). Plain integers too.
pub fn define_constants(header: &str) -> BTreeMap<String, i128> {
    let mut out = BTreeMap::new();
    for line in header.lines() {
        let Some(rest) = line.trim_start().strip_prefix("#define") else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        if parts
            .next()
            .is_some_and(|extra| !extra.starts_with("//") && !extra.starts_with("/*"))
        {
            continue;
        }
        let (signed32, text) = match value.strip_prefix("((").and_then(|v| v.strip_suffix(')')) {
            Some(cast) => match cast.split_once(')') {
                Some((ty, number)) => (matches!(ty, "NTSTATUS" | "LONG"), number),
                None => continue,
            },
            None => (false, value),
        };
        let text = text.trim_end_matches("UI64").trim_end_matches("ui64");
        let Some(number) = parse_c_int(text) else {
            continue;
        };
        let number = if signed32 {
            match u32::try_from(number) {
                Ok(word) => i128::from(word as i32),
                Err(_) => continue,
            }
        } else {
            match i128::try_from(number) {
                Ok(value) => value,
                Err(_) => continue,
            }
        };
        out.insert(name.to_owned(), number);
    }
    out
}

/// `0x5926dfc8`, `0xe3cf`, `17`, with an optional `L`/`U` suffix.
fn parse_c_int(text: &str) -> Option<u128> {
    let text = text.trim_end_matches(['L', 'l', 'U', 'u']);
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u128::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_the_wdk_build_compiles_out_are_not_compared() {
        let source = r#"
            #[cfg(not(feature = "wdk"))]
            unsafe extern "system" { fn WdfVersionBind(a: u32) -> i32; }
            unsafe extern "system" { fn KeGetCurrentIrql() -> u8; }
        "#;
        let functions = seam_functions(source).unwrap();
        assert!(functions.contains_key("KeGetCurrentIrql"));
        assert!(!functions.contains_key("WdfVersionBind"));
    }

    #[test]
    fn reads_cast_and_ui64_defines() {
        let defines = define_constants(
            "#define STATUS_X ((NTSTATUS)0xC0220100L)\n#define POOL_Y 0x0000000000000040UI64\n#define Z 7 // seven\n",
        );
        assert_eq!(
            defines.get("STATUS_X"),
            Some(&i128::from(0xC022_0100_u32 as i32))
        );
        assert_eq!(defines.get("POOL_Y"), Some(&0x40));
        assert_eq!(defines.get("Z"), Some(&7));
    }

    #[test]
    fn reads_runtime_layout_tests_aliases_and_module_consts() {
        // The older `assert_eq!` form bindgen emits when offset_of! is unavailable to its target.
        let source = r#"
            pub struct _S { pub a: u32, pub __bindgen_anon_1: _S__bindgen_ty_1 }
            pub union _S__bindgen_ty_1 { pub b: u64, pub c: u8 }
            pub type S = _S;
            #[test]
            fn bindgen_test_layout__S() {
                assert_eq!(::core::mem::size_of::<_S>(), 16usize, "Size of _S");
                assert_eq!(::core::mem::align_of::<_S>(), 8usize, "Alignment of _S");
                assert_eq!(unsafe { 0 }, 0usize, "Offset of field: _S::a");
                assert_eq!(unsafe { 8 }, 8usize, "Offset of field: _S::__bindgen_anon_1");
            }
            const _: () = {
                ["Size of _S__bindgen_ty_1"][::core::mem::size_of::<_S__bindgen_ty_1>() - 8usize];
                ["Alignment of _S__bindgen_ty_1"][::core::mem::align_of::<_S__bindgen_ty_1>() - 8usize];
                ["Offset of field: _S__bindgen_ty_1::b"][::core::mem::offset_of!(_S__bindgen_ty_1, b) - 0usize];
                ["Offset of field: _S__bindgen_ty_1::c"][::core::mem::offset_of!(_S__bindgen_ty_1, c) - 0usize];
            };
            pub mod E_ { pub type Type = ::core::ffi::c_int; pub const E_TWO: Type = 2; }
            pub const STATUS_X: NTSTATUS = -1_071_513_344_i32;
        "#;
        let view = HeaderView::from_bindings(source).expect("parses");
        let layout = view.layout("S").expect("alias resolves");
        assert_eq!((layout.size, layout.align), (16, 8));
        assert_eq!(layout.fields.get("a"), Some(&0));
        assert_eq!(layout.fields.get("b"), Some(&8));
        assert_eq!(layout.fields.get("c"), Some(&8));
        assert_eq!(layout.fields.get("__bindgen_anon_1"), None);
        assert_eq!(view.constant("E_TWO"), Some(2));
        assert_eq!(view.constant("STATUS_X"), Some(-1_071_513_344));
    }

    #[test]
    fn define_guid_values_in_written_order() {
        let header = "DEFINE_GUID(\n   FWPM_CONDITION_IP_LOCAL_INTERFACE,\n   0x4cd62a49,\n   0x59c3,\n   \
                      0x4969,\n   0xb7, 0xf3, 0xbd, 0xa5, 0xd3, 0x28, 0x90, 0xa4\n);\n\
                      DEFINE_GUID(BAD, 0x1ffffffff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);";
        let guids = define_guids(header);
        assert_eq!(
            guids.get("FWPM_CONDITION_IP_LOCAL_INTERFACE"),
            Some(&0x4cd62a49_59c3_4969_b7f3_bda5d32890a4)
        );
        assert_eq!(
            guids.get("BAD"),
            None,
            "a first field wider than 32 bits is refused"
        );
    }

    #[test]
    fn arity_rules() {
        let sig = |fixed, variadic| Signature { fixed, variadic };
        assert!(arity_matches(sig(3, false), sig(3, false)));
        assert!(!arity_matches(sig(4, false), sig(3, false)));
        assert!(arity_matches(sig(4, false), sig(3, true)));
        assert!(arity_matches(sig(3, false), sig(3, true)));
        assert!(!arity_matches(sig(2, false), sig(3, true)));
        assert!(arity_matches(sig(3, true), sig(3, true)));
        assert!(!arity_matches(sig(4, true), sig(3, true)));
        assert!(!arity_matches(sig(3, true), sig(3, false)));
    }
}
