#!/usr/bin/env bash
# Builds the driver image (target/sys/wfp_injector.sys) and its package (target/package) on Linux,
# without Windows or the WDK: Debian's rustc-web and its library sources (fetched once into
# target/cross-toolchain), build-std for x86_64-pc-windows-msvc, linked as a kernel driver by
# rust-lld in lld-link flavour with a version resource compiled by llvm-rc; then
# scripts/make-package.sh stamps the INF and makes the catalog.
#
#   scripts/build-sys.sh            build (release) -> target/sys/wfp_injector.sys, target/package
#   scripts/build-sys.sh --sign     the same, test-signed (image and catalog, scripts/sign-sys.sh)
#
# Environment: WFP_SYS_PROFILE=dev builds an unoptimised image (default release);
# SOURCE_DATE_EPOCH dates the package (default: the last commit's time).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
target=x86_64-pc-windows-msvc
profile=${WFP_SYS_PROFILE:-release}
cache=$here/target/cross-toolchain
out=$here/target/sys
sign=no
for arg in "$@"; do
  case $arg in
    --sign) sign=yes ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build-sys: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nbuild-sys: FAILED: %s\n' "$*" >&2; exit 1; }

# --- 1. Toolchain: Debian's rustc-web + rust-web-src of one version, unpacked, never installed. ---
step "Cross toolchain (cache: ${cache#"$here"/})"
if ! command -v apt-cache >/dev/null; then fail "apt-cache not found: this script needs a Debian machine"; fi
if [ -z "$(apt-cache policy rustc-web 2>/dev/null | awk '/Candidate:/ {print $2}')" ] \
   || [ "$(apt-cache policy rustc-web | awk '/Candidate:/ {print $2}')" = "(none)" ]; then
  echo "    package lists have no rustc-web yet: running apt-get update"
  apt-get update -qq || fail "apt-get update failed"
fi
version=$(apt-cache policy rustc-web | awk '/Candidate:/ {print $2}')
[ -n "$version" ] && [ "$version" != "(none)" ] || fail "apt offers no rustc-web package"
stamp=$cache/.version
if [ -x "$cache/root/usr/bin/rustc" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "    reusing rustc-web $version"
else
  # Resolve the versioned library packages (libstd-rust-web-1.NN, libllvmNN) from the dependency
  # graph instead of hard-coding names, so a security update does not break the build.
  mapfile -t packages < <(apt-cache depends --recurse --no-recommends --no-suggests \
      --no-conflicts --no-breaks --no-replaces --no-enhances rustc-web \
    | grep -E '^(rustc-web|libstd-rust-web[-0-9a-z.]*|libllvm[0-9]+)$' | sort -u)
  [ "${#packages[@]}" -ge 3 ] || fail "could not resolve rustc-web's library packages (got: ${packages[*]:-none})"
  echo "    fetching rustc-web $version: ${packages[*]} rust-web-src"
  rm -rf "$cache"; mkdir -p "$cache/debs" "$cache/root"
  pins=()
  for p in "${packages[@]}"; do
    case $p in rustc-web|libstd-rust-web-dev) pins+=("$p=$version") ;; *) pins+=("$p") ;; esac
  done
  (cd "$cache/debs" && apt-get download -q "${pins[@]}" "rust-web-src=$version") \
    || fail "apt-get download failed"
  for deb in "$cache"/debs/*.deb; do
    echo "    unpacking $(basename "$deb")"
    dpkg -x "$deb" "$cache/root" || fail "dpkg -x $deb failed"
  done
  rm -rf "$cache/debs"
  echo "$version" > "$stamp"
fi
export LD_LIBRARY_PATH=$cache/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
rustc_bin=$cache/root/usr/bin/rustc
"$rustc_bin" --version >/dev/null || fail "the unpacked rustc does not run"
src=$("$rustc_bin" --print sysroot)/lib/rustlib/src/rust/library
[ -d "$src/core" ] || fail "library sources missing at $src (rust-web-src not unpacked?)"
echo "    $("$rustc_bin" --version)"

# --- 2. Linker: rust-lld from the rustup toolchain, in lld-link flavour. ---
rust_lld=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld
[ -x "$rust_lld" ] || fail "rust-lld not found at $rust_lld"

# --- 3. Version resource: inf/wfp_injector.rc with Cargo.toml's version and identity. ---
step "Version resource (llvm-rc)"
if ! command -v llvm-rc >/dev/null; then
  echo "    installing llvm (Debian package) for llvm-rc"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq llvm >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq llvm >/dev/null; } \
    || fail "could not install llvm (llvm-rc)"
fi
eval "$("$here/scripts/package-identity.sh")" || fail "scripts/package-identity.sh failed"
mkdir -p "$out"
sed -e "s/@VERSION_COMMAS@/${WFP_VERSION//./,}/g" -e "s/@VERSION@/$WFP_VERSION/g" \
    -e "s/@COMPANY@/$WFP_COMPANY/g" -e "s/@PRODUCT@/$WFP_PRODUCT/g" \
    "$here/inf/wfp_injector.rc" > "$out/wfp_injector.rc"
if grep -q '@[A-Z_]*@' "$out/wfp_injector.rc"; then fail "unfilled field in $out/wfp_injector.rc"; fi
# Relative names, run from $out: llvm-rc takes any argument starting with "/" as an option, so an
# absolute path such as /check/... reads as the /C (code page) option and leaves no input file.
(cd "$out" && llvm-rc /no-preprocess /FO wfp_injector.res wfp_injector.rc) || fail "llvm-rc failed"
echo "    $WFP_COMPANY / $WFP_PRODUCT $WFP_VERSION"
# Linked into the image by build.rs (a link argument cargo tracks): a path in RUSTFLAGS would enter
# cargo's metadata hashes and make the image depend on the checkout's directory.
export WFP_VERSION_RES=$out/wfp_injector.res

# --- 4. Build. Separate target dir: a different rustc must not invalidate the host test build. ---
step "cargo build --target $target ($profile, build-std core/alloc/compiler_builtins)"
# The sources this image is built from, hashed before the build starts (recorded next to it).
sources_hash=$("$here/scripts/sources-hash.sh") || fail "scripts/sources-hash.sh failed"
link_args=(
  -C "linker=$rust_lld" -C linker-flavor=lld-link
  -C link-arg=/DRIVER -C link-arg=/SUBSYSTEM:NATIVE -C link-arg=/ENTRY:FxDriverEntry
  -C link-arg=/NODEFAULTLIB -C link-arg=/RELEASE
  -D warnings
)
# Reproducible: the same commit built in any directory gives the same bytes (checked by
# scripts/check-reproducible.sh). Paths that reach the image are remapped by a rustc wrapper
# (scripts/rustc-remap.sh), not through RUSTFLAGS, which cargo hashes into every crate's metadata
# and so into symbol names and code layout: this checkout's sources (cargo names them relative to
# it already), the cross toolchain's library sources (wherever the cache really lives, also as the relative
# path cargo uses inside the checkout) and cargo's
# registry (compiler_builtins for build-std). The prefixes do not overlap, so their order does not
# matter. /Brepro makes lld's timestamps hashes instead of the clock, but of the PDB, which still
# records directories (objects, rustc's temporary symbols.o): scripts/pe-finish.py replaces the
# identity (timestamps, CodeView GUID and age) in the image and the PDB with a hash of the image's
# content. /PDBALTPATH records the PDB by file name, not its path.
link_args+=(-C link-arg=/Brepro -C link-arg=/PDBALTPATH:wfp_injector.pdb)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
WFP_REMAP="$here/src=/wfp-injector/src
$here/crates=/wfp-injector/crates
$(cd "$cache" && pwd -P)/root=/cross-toolchain
$cache/root=/cross-toolchain
${cache#"$here"/}/root=/cross-toolchain
$cargo_home/registry/src=/cargo-registry"
export WFP_REMAP RUSTC_WRAPPER=$here/scripts/rustc-remap.sh
export CARGO_TARGET_DIR=$here/target/sys-build
# Line tables in the PDB (not in the image): scripts/check-no-panic.sh names every procedure and
# call site from them. Debug info does not change the code LLVM emits.
[ "$profile" = release ] && export CARGO_PROFILE_RELEASE_DEBUG=line-tables-only
RUSTC=$rustc_bin RUSTC_BOOTSTRAP=1 RUSTFLAGS="${link_args[*]}" \
  cargo build -p wfp-injector --profile "$profile" --lib --target "$target" \
    -Zbuild-std=core,alloc,compiler_builtins -Zbuild-std-features=compiler-builtins-mem \
  || fail "cargo build for $target failed"

dir=$profile; [ "$profile" = dev ] && dir=debug
built=$CARGO_TARGET_DIR/$target/$dir/wfp_injector.dll
[ -f "$built" ] || fail "the build produced no $built"
mkdir -p "$out"
cp "$built" "$out/wfp_injector.sys"
[ -f "${built%.dll}.pdb" ] || fail "the build produced no ${built%.dll}.pdb"
cp "${built%.dll}.pdb" "$out/wfp_injector.pdb"
# rustc links a cdylib with /DLL; a driver image carries no IMAGE_FILE_DLL flag. The image and its
# PDB get an identity derived from the image's content (not from the PDB, which records paths).
python3 "$here/scripts/pe-finish.py" "$out/wfp_injector.sys" "$out/wfp_injector.pdb" || fail "pe-finish failed"
echo "$sources_hash" > "$out/wfp_injector.sources-hash"

step "Image"
echo "    $out/wfp_injector.sys ($(stat -c %s "$out/wfp_injector.sys") bytes)"
if command -v file >/dev/null; then echo "    $(file -b "$out/wfp_injector.sys")"; fi

if [ "$sign" = yes ]; then
  "$here/scripts/sign-sys.sh" "$out/wfp_injector.sys" || fail "signing failed"
  "$here/scripts/make-package.sh" --sign "$out/wfp_injector.sys" || fail "packaging failed"
else
  "$here/scripts/make-package.sh" "$out/wfp_injector.sys" || fail "packaging failed"
fi
