#!/usr/bin/env bash
# Instructions per operation, safe layer versus raw seam calls, counted by callgrind (stable on a
# noisy machine), plus heap allocations per operation from the benchmark itself.
#
#   scripts/bench-overhead.sh
#
# Needs valgrind (Debian package; installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
  echo "==> installing valgrind"
  apt-get install -y -qq valgrind >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
fi

echo "==> building the benchmark (release)"
cargo bench --bench inject_overhead --no-run 2>&1 | tail -1
bin=$(ls -t target/release/deps/inject_overhead-* | grep -v '\.d$' | head -1)
iterations=100000

echo "==> allocations and rough time (no valgrind)"
"$bin" | sed 's/^/    /'

count() {  # count NAME -> instructions inside measure_NAME, whole run of that one case
  local out
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="*measure_$1*" \
    "$bin" "$1" >/dev/null 2>&1
  awk '/^summary:|^totals:/ {print $2; exit}' "$out"
  rm -f "$out"
}

echo "==> instructions per operation (callgrind, $iterations operations each)"
row() {  # row LABEL SAFE_CASE RAW_CASE
  local safe raw
  safe=$(count "$2")
  raw=$(count "$3")
  awk -v op="$1" -v s="$safe" -v r="$raw" -v n="$iterations" \
    'BEGIN { printf "    %-34s %8.1f %8.1f %7.2f\n", op, s / n, r / n, s / r }'
}
printf '    %-34s %8s %8s %7s\n' "operation (safe vs raw)" safe raw ratio
row "query" query_safe query_raw
row "inject+complete vs bare call" inject_safe inject_raw
row "inject+complete vs same guarantees" inject_safe inject_raw_guarded
