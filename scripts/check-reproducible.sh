#!/usr/bin/env bash
# Checks that the driver image is reproducible: builds this checkout's tracked files a second
# time in another directory and compares the .sys with target/sys/wfp_injector.sys (its
# signature removed first when it is signed). Byte-identical passes; otherwise only the PDB
# identity may differ (timestamps, checksum, CodeView GUID/age: lld's /Brepro derives them from
# the PDB, which records the build directory), every other byte must match.
#
#   scripts/build-sys.sh && scripts/check-reproducible.sh [IMAGE]
#
# The copy shares the cross-toolchain cache (symlinked) but not the build directory, so every
# crate, core included, is compiled again (about 40 s on 2 cores). WFP_REPRO_DIR picks the
# directory (default: a fresh one under /tmp); it is removed afterwards.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
first=${1:-$here/target/sys/wfp_injector.sys}
[ -f "$first" ] || { echo "check-reproducible: no $first (run scripts/build-sys.sh)" >&2; exit 1; }
copy=${WFP_REPRO_DIR:-$(mktemp -d /tmp/wfp-repro.XXXXXX)}
[ -n "${WFP_REPRO_KEEP:-}" ] || trap 'rm -rf "$copy"' EXIT
mkdir -p "$copy"
if command -v osslsigncode >/dev/null \
   && osslsigncode remove-signature -in "$first" -out "$copy/unsigned.sys" >/dev/null 2>&1; then
  first=$copy/unsigned.sys
fi
mkdir -p "$copy/src-copy/target"
# The tracked files as they are in this checkout (a clean checkout in CI).
(cd "$here" && git ls-files -z | xargs -0 cp --parents -t "$copy/src-copy")
ln -s "$here/target/cross-toolchain" "$copy/src-copy/target/cross-toolchain"
echo "==> second build in $copy/src-copy"
"$copy/src-copy/scripts/build-sys.sh" >"$copy/build.log" 2>&1 || { tail -20 "$copy/build.log"; exit 1; }
second=$copy/src-copy/target/sys/wfp_injector.sys
if cmp -s "$first" "$second"; then
  echo "==> reproducible: $(sha256sum "$first" | cut -d' ' -f1) ($(stat -c %s "$first") bytes) from both directories"
  exit 0
fi
# What still differs may only be the PDB identity: lld's /Brepro derives the timestamps and the
# CodeView GUID from the PDB, which records the directories of the objects it was linked from.
# Anything else differing fails.
python3 - "$first" "$second" <<'PY'
import struct, sys
def normalized(path):
    data = bytearray(open(path, "rb").read())
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    opt = pe + 24
    fields = [(pe + 8, 4), (opt + 64, 4)]  # COFF TimeDateStamp, CheckSum
    sections = struct.unpack_from("<H", data, pe + 6)[0]
    table = opt + struct.unpack_from("<H", data, pe + 20)[0]
    debug_rva, debug_size = struct.unpack_from("<II", data, opt + 112 + 6 * 8)
    def offset(rva):
        for i in range(sections):
            _, vsize, va, rsize, raw = struct.unpack_from("<8sIIII", data, table + 40 * i)
            if va <= rva < va + max(vsize, rsize):
                return raw + rva - va
        raise SystemExit(f"RVA {rva:#x} outside every section")
    entry = offset(debug_rva) if debug_size else 0
    for i in range(debug_size // 28):
        at = entry + 28 * i
        fields.append((at + 4, 4))  # TimeDateStamp
        kind, size, _, raw = struct.unpack_from("<IIII", data, at + 12)
        if kind == 2 and data[raw:raw + 4] == b"RSDS":  # CodeView: GUID and age
            fields.append((raw + 4, 20))
    for at, length in fields:
        data[at:at + length] = bytes(length)
    return data, fields
(a, fields), (b, _) = normalized(sys.argv[1]), normalized(sys.argv[2])
if a != b:
    print("check-reproducible: FAILED: code or data differ", file=sys.stderr)
    sys.exit(1)
print(f"==> reproducible except the PDB identity: {len(fields)} fields (timestamps, checksum, "
      "CodeView GUID/age) differ, every other byte is identical")
PY
