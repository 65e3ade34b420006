#!/usr/bin/env bash
# Fails when the built driver image can reach the panic machinery: every call from driver code
# into core::panicking, index/unwrap/expect failures, alloc's error handlers or core::fmt must be
# named in scripts/panic-allowlist.txt with a reason (it is empty: the image has none).
#
#   scripts/build-sys.sh && scripts/check-no-panic.sh [IMAGE.sys [IMAGE.pdb]]
#
# Reads the procedures from the image's PDB (built with line tables by build-sys.sh) with
# llvm-pdbutil and disassembles the image with llvm-objdump; both come from Debian's llvm package,
# installed when missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=${1:-$here/target/sys/wfp_injector.sys}
pdb=${2:-${image%.sys}.pdb}
[ -f "$image" ] && [ -f "$pdb" ] || { echo "check-no-panic: no $image / $pdb (run scripts/build-sys.sh)" >&2; exit 1; }
if ! command -v llvm-pdbutil >/dev/null || ! command -v llvm-objdump >/dev/null || ! command -v llvm-symbolizer >/dev/null; then
  echo "==> installing Debian's llvm tools (llvm-pdbutil, llvm-objdump, llvm-symbolizer)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq llvm >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq llvm >/dev/null; }
fi
# A signed image has the certificate appended; the code and the section table are unchanged.
exec python3 "$here/scripts/check-no-panic.py" "$image" "$pdb" "$here/scripts/panic-allowlist.txt"
