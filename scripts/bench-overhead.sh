#!/usr/bin/env bash
# Instructions per operation, safe layer versus a hand-written driver doing the same work with
# the same guarantees (benches/inject_overhead.rs), counted by callgrind: stable on a noisy
# machine. The stand-in kernel is import-like (win64 functions reached through a table of
# pointers written at run time, statuses read from memory), so LTO can neither inline it nor
# predict its results, and its own instructions (functions named kernel_*) are not counted.
#
#   scripts/bench-overhead.sh            the table
#   scripts/bench-overhead.sh --detail   plus the instructions of each counted function
#
# Each case runs the binary for that case alone under callgrind with collection toggled on for
# exactly one measured function (measure_*, unmangled; no wildcard), then fails unless: the
# function was entered once, it executed instructions, and each side made exactly the expected kernel calls
# per operation (the same on both sides). Needs valgrind (Debian package; installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
detail=no; [ "${1:-}" = --detail ] && detail=yes

if ! command -v valgrind >/dev/null; then
  echo "==> installing valgrind"
  apt-get install -y -qq valgrind >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
fi

echo "==> building the benchmark (release, LTO)"
cargo bench --bench inject_overhead --no-run 2>&1 | tail -1
bin=$(ls -t target/release/deps/inject_overhead-* | grep -v '\.d$' | head -1)
iterations=$(sed -n 's/^const ITERATIONS: u64 = \([0-9_]*\);/\1/p' benches/inject_overhead.rs | tr -d _)
[ -n "$iterations" ] || { echo "bench-overhead: ITERATIONS not found" >&2; exit 1; }

echo "==> allocations and rough time (no valgrind)"
"$bin" | sed 's/^/    /'

fail() { echo "bench-overhead: FAILED: $*" >&2; exit 1; }

# measure CASE FUNCTION EXPECTED -> instructions per operation. The binary runs only CASE;
# callgrind collects inside FUNCTION (exact name). EXPECTED: "kernel_fn=per_op ..." (every kernel
# function the case may call, with its calls per operation).
measure() {
  local name=$1 function=$2 expected=$3 out summary self
  out=$(mktemp); summary=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$function" \
    "$bin" "$name" >/dev/null 2>&1 || { rm -f "$out" "$summary"; fail "$name failed under valgrind"; }
  python3 scripts/callgrind-summary.py "$out" kernel_ --functions >"$summary"
  self=$(awk '$1 == "self" {print $2}' "$summary")
  local entered
  entered=$(awk -v f="$function" '$1 == "calls" && $2 == f {print $3}' "$summary")
  [ "${entered:-0}" = 1 ] || fail "$name: $function entered ${entered:-0} times (expected once)"
  [ "${self:-0}" -gt 0 ] || fail "$name: no instructions counted in $function"
  # Every kernel_* function called, against the expected calls per operation.
  local seen
  seen=$(awk '$1 == "calls" && $2 ~ /^kernel_/ {print $2 "=" $3}' "$summary" | sort)
  local want
  want=$(for pair in $expected; do echo "${pair%=*}=$(( ${pair#*=} * iterations ))"; done | sort)
  [ "$seen" = "$want" ] || fail "$name: kernel calls differ from the expected ones:
  got:      $(echo $seen)
  expected: $(echo $want)"
  if [ "$detail" = yes ]; then
    awk -v n="$iterations" '$1 == "body" {printf "        %8.1f  %s\n", $3 / n, $2}' "$summary" >&2
  fi
  rm -f "$out" "$summary"
  awk -v s="$self" -v n="$iterations" 'BEGIN { printf "%.1f", s / n }'
}

row() {  # row LABEL CASE FUNCTION EXPECTED: cases CASE_safe/CASE_raw in FUNCTION_safe/FUNCTION_raw
  local safe raw
  [ "$detail" = yes ] && echo "    $1: ${2}_safe" >&2
  safe=$(measure "${2}_safe" "${3}_safe" "$4")
  [ "$detail" = yes ] && echo "    $1: ${2}_raw" >&2
  raw=$(measure "${2}_raw" "${3}_raw" "$4")
  awk -v op="$1" -v s="$safe" -v r="$raw" -v k="$4" \
    'BEGIN { gsub(/kernel_/, "", k); printf "    %-34s %7.1f %7.1f %6.2f   %s\n", op, s, r, s / r, k }'
}

echo "==> driver instructions per operation (callgrind, $iterations operations per case; stand-in kernel excluded)"
printf '    %-34s %7s %7s %6s   %s\n' "operation" safe raw ratio "kernel calls per operation (both sides)"
row "query (injection state)" query measure_query "kernel_query=1"
inject_calls="kernel_processor=2 kernel_acquire_rundown=1 kernel_inject_transport_send=1 kernel_complete_pending=1 kernel_free_clone=1 kernel_release_rundown=1"
row "inject + completion" inject measure_inject "$inject_calls"
row "inject + completion, 40 B control" inject_control measure_inject "$inject_calls"
