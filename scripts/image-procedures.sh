#!/usr/bin/env bash
# The driver image's procedures by code size, largest first, with the sections' sizes: where the
# image's bytes go. Reads the PDB scripts/build-sys.sh writes next to the image.
#
#   scripts/build-sys.sh && scripts/image-procedures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
image=target/sys/wfp_injector.sys
pdb=target/sys/wfp_injector.pdb
[ -f "$image" ] && [ -f "$pdb" ] || { echo "image-procedures: run scripts/build-sys.sh first" >&2; exit 1; }
echo "==> $image: $(stat -c %s "$image") bytes; sections (bytes in memory, each padded to 512 in the file):"
llvm-objdump -h "$image" | awk '$2 ~ /^\./ { print $2, $3 }' | while read -r name size; do printf "    %-8s %6d\n" "$name" "$((16#$size))"; done
echo "==> procedures by code size (bytes; inlined callees count in their caller)"
llvm-pdbutil dump --symbols "$pdb" | awk '
  /S_[GL]PROC32/ { match($0, /`.*`/); name = substr($0, RSTART + 1, RLENGTH - 2) }
  /code size =/ { match($0, /code size = [0-9]+/); print substr($0, RSTART + 12, RLENGTH - 12), name }' \
  | sed -E 's/<[^<>]*(<[^<>]*>[^<>]*)*>//g; s/wfp_(injector|inject|seam):://g' | sort -rn \
  | awk '{ total += $1; printf "    %6d  %s\n", $1, $2 } END { printf "    %6d  in all\n", total }'
