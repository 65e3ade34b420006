#!/usr/bin/env bash
# Builds wfpinjctl.exe, the driver's Windows command-line tool, on Linux: Debian's rustc-web and
# its library sources (the cross toolchain scripts/build-sys.sh unpacks into
# target/cross-toolchain) with build-std for x86_64-pc-windows-gnu, linked by Debian's mingw-w64
# (gcc-mingw-w64-x86-64). Leaves target/ctl/wfpinjctl.exe.
#
#   scripts/build-ctl.sh            build (release) -> target/ctl/wfpinjctl.exe
#
# tests/wfpinjctl_exe.rs runs the result under wine. Run scripts/build-sys.sh first (it fetches
# the toolchain). Needs x86_64-w64-mingw32-gcc and
# x86_64-w64-mingw32-dlltool (apt-get install gcc-mingw-w64-x86-64).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
target=x86_64-pc-windows-gnu
cache=$here/target/cross-toolchain
out=$here/target/ctl
for arg in "$@"; do
  case $arg in
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "build-ctl: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nbuild-ctl: FAILED: %s\n' "$*" >&2; exit 1; }

step "Cross toolchain (cache: ${cache#"$here"/})"
[ -x "$cache/root/usr/bin/rustc" ] || fail "no toolchain in $cache: run scripts/build-sys.sh first"
export LD_LIBRARY_PATH=$cache/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
rustc_bin=$cache/root/usr/bin/rustc
src=$("$rustc_bin" --print sysroot)/lib/rustlib/src/rust/library
[ -d "$src/std" ] || fail "library sources missing at $src"
echo "    $("$rustc_bin" --version)"
if ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! command -v x86_64-w64-mingw32-dlltool >/dev/null; then
  echo "    installing gcc-mingw-w64-x86-64"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-mingw-w64-x86-64 >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-mingw-w64-x86-64 >/dev/null; } \
    || fail "could not install gcc-mingw-w64-x86-64"
fi

# rustup's windows-gnu std ships the CRT start and end objects the mingw link needs; build-std
# does not make them, so they are compiled from the library sources.
step "rsbegin.o / rsend.o"
mkdir -p "$out/rtstartup"
for object in rsbegin rsend; do
  RUSTC_BOOTSTRAP=1 "$rustc_bin" --target "$target" --emit=obj --crate-type=lib -C panic=abort \
    -C opt-level=2 -o "$out/rtstartup/$object.o" "$src/rtstartup/$object.rs" \
    || fail "compiling $object.rs"
done

step "cargo build -p wfpinjctl --target $target (release, build-std std/panic_abort)"
export CARGO_TARGET_DIR=$here/target/ctl-build
RUSTC=$rustc_bin RUSTC_BOOTSTRAP=1 \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
  RUSTFLAGS="-L $out/rtstartup" \
  cargo build -p wfpinjctl --release --target "$target" \
    -Zbuild-std=std,panic_abort \
  || fail "cargo build for $target failed"
cp "$CARGO_TARGET_DIR/$target/release/wfpinjctl.exe" "$out/wfpinjctl.exe"
echo "    $(cd "$here" && ls -l target/ctl/wfpinjctl.exe | awk '{print $5}') bytes: target/ctl/wfpinjctl.exe"
