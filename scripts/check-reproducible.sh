#!/usr/bin/env bash
# Checks that the driver image and its package are reproducible: builds this checkout's tracked
# files a second time in another directory and requires the .sys to be byte-identical to
# target/sys/wfp_injector.sys (its signature removed first when it is signed), and the package's
# INF and unsigned catalog to be byte-identical to target/package/wfp_injector.inf and
# target/sys/wfp_injector.unsigned.cat. The copy has no git history: it is dated by
# SOURCE_DATE_EPOCH, set to this checkout's last commit time. Also checks that the image and its
# PDB carry the same identity (CodeView GUID and age), which scripts/pe-finish.py derives from the
# image's content.
#
#   scripts/build-sys.sh && scripts/check-reproducible.sh [IMAGE]
#
# The copy shares the cross-toolchain cache (symlinked) but not the build directory, so every
# crate, core included, is compiled again (about 40 s on 2 cores). WFP_REPRO_DIR picks the
# directory (default: a fresh one under /tmp); it is removed afterwards unless WFP_REPRO_KEEP is
# set.
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
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct)}
export SOURCE_DATE_EPOCH
"$copy/src-copy/scripts/build-sys.sh" >"$copy/build.log" 2>&1 || { tail -20 "$copy/build.log"; exit 1; }
for file in target/package/wfp_injector.inf target/sys/wfp_injector.unsigned.cat; do
  if ! cmp -s "$here/$file" "$copy/src-copy/$file"; then
    echo "check-reproducible: FAILED: $file differs between the two builds:" >&2
    cmp -l "$here/$file" "$copy/src-copy/$file" | head -20 >&2
    exit 1
  fi
  echo "==> reproducible: $file ($(sha256sum "$here/$file" | cut -c1-16)...)"
done
second=$copy/src-copy/target/sys/wfp_injector.sys
pairs() {  # pairs IMAGE PDB: the image's CodeView GUID/age equal the PDB's
  python3 - "$1" "$2" <<'PY'
import re, struct, subprocess, sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"RSDS")
if at < 0:
    sys.exit(f"check-reproducible: FAILED: {sys.argv[1]} has no CodeView record")
guid, age = data[at + 4:at + 20], struct.unpack_from("<I", data, at + 20)[0]
summary = subprocess.run(["llvm-pdbutil", "dump", "--summary", sys.argv[2]], capture_output=True,
                         text=True, check=True).stdout
pdb_guid = re.search(r"GUID: \{([0-9A-F-]+)\}", summary).group(1).replace("-", "")
pdb_age = int(re.search(r"Age: (\d+)", summary).group(1))
d1, d2, d3 = struct.unpack_from("<IHH", guid)
image_guid = f"{d1:08X}{d2:04X}{d3:04X}" + guid[8:].hex().upper()
if (image_guid, age) != (pdb_guid, pdb_age):
    sys.exit(f"check-reproducible: FAILED: image identity {image_guid}/{age} but PDB {pdb_guid}/{pdb_age}")
print(f"==> {sys.argv[1]}: CodeView GUID {image_guid} age {age}, the same in its PDB")
PY
}
if command -v llvm-pdbutil >/dev/null; then
  pairs "$second" "${second%.sys}.pdb"
  pairs "${1:-$here/target/sys/wfp_injector.sys}" "$here/target/sys/wfp_injector.pdb"
else
  echo "    (llvm-pdbutil not installed: image/PDB pairing not checked; scripts/check-no-panic.sh installs it)"
fi
if cmp -s "$first" "$second"; then
  echo "==> reproducible: $(sha256sum "$first" | cut -d' ' -f1) ($(stat -c %s "$first") bytes) from both directories"
  exit 0
fi
echo "check-reproducible: FAILED: the two builds differ:" >&2
cmp -l "$first" "$second" | head -20 >&2
exit 1
