#!/usr/bin/env bash
# RUSTC_WRAPPER for scripts/build-sys.sh: runs rustc with path remappings for the directories a
# build depends on (WFP_REMAP: "from=to" pairs separated by newlines). Flags given here, unlike
# RUSTFLAGS, do not enter cargo's metadata hashes, so a build in another directory gets the same
# symbol names and code layout.
set -euo pipefail
rustc=$1
shift
extra=()
case " $* " in
  *" --crate-name "*)
    while IFS= read -r pair; do
      [ -n "$pair" ] && extra+=("--remap-path-prefix=$pair")
    done <<<"${WFP_REMAP:-}"
    ;;
esac
exec "$rustc" "$@" "${extra[@]}"
