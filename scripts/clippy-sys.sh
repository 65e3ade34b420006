#!/usr/bin/env bash
# Clippy for the kernel image's target (x86_64-pc-windows-msvc): lints what the host build never
# compiles (crates/seam/src/sys/windows.rs, src/runtime.rs, crates/seam/src/sys/kmdf_stub.rs, the shell) with -D warnings.
#
# Uses the cross toolchain scripts/build-sys.sh unpacks into target/cross-toolchain (Debian's
# rustc-web), plus Debian's rust-web-clippy of the same version, unpacked next to it (never
# installed: it conflicts with rustup). `cargo check` runs with clippy-driver as the workspace
# wrapper, which is what `cargo clippy` does; build-std supplies core/alloc for the target.
#
#   scripts/clippy-sys.sh     (after scripts/build-sys.sh, which fetches the toolchain)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
target=x86_64-pc-windows-msvc
cache=$here/target/cross-toolchain
fail() { printf '\nclippy-sys: FAILED: %s\n' "$*" >&2; exit 1; }

[ -x "$cache/root/usr/bin/rustc" ] || fail "no cross toolchain in ${cache#"$here"/}: run scripts/build-sys.sh first"
version=$(cat "$cache/.version")
clippy_driver=$cache/root/usr/bin/clippy-driver
if [ ! -x "$clippy_driver" ]; then
  echo "==> fetching rust-web-clippy $version"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -q "rust-web-clippy=$version") || fail "apt-get download rust-web-clippy=$version failed"
  dpkg -x "$tmp"/rust-web-clippy_*.deb "$cache/root" || fail "dpkg -x failed"
  rm -rf "$tmp"
fi
export LD_LIBRARY_PATH=$cache/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
"$clippy_driver" --version >/dev/null || fail "the unpacked clippy-driver does not run"
echo "==> $("$clippy_driver" --version) on $target"

# Its own target dir: check-mode artifacts of build-std, separate from the image build.
export CARGO_TARGET_DIR=$here/target/sys-clippy
RUSTC=$cache/root/usr/bin/rustc RUSTC_WORKSPACE_WRAPPER=$clippy_driver RUSTC_BOOTSTRAP=1 \
RUSTFLAGS="-D warnings" \
  cargo check -p wfp-injector -p wfp-seam -p wfp-inject --lib --target "$target" \
    -Zbuild-std=core,alloc,compiler_builtins -Zbuild-std-features=compiler-builtins-mem \
  || fail "clippy found problems in the $target build"
echo "==> clippy ($target): clean"
