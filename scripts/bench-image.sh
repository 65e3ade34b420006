#!/usr/bin/env bash
# The shipped image's own instructions per packet, by packet kind and phase (classify, DPC,
# completion), counted by callgrind while the test loader runs target/sys/wfp_injector.sys over
# the simulated stack (benches/image_packets.rs). Only instructions executed inside the mapped
# image count (callgrind's object `???`: the loader maps it anonymously); the simulated kernel,
# the win64 shims and the harness are excluded. Then the kernel calls each packet makes.
#
#   scripts/build-sys.sh && scripts/bench-image.sh
#   scripts/bench-image.sh --blocks [CASE...]   also where each phase's instructions go: by
#                                               procedure and by innermost inlined function with
#                                               its source lines (scripts/callgrind-blocks.py)
#
# Fails when a measured function was never entered or the image executed nothing in it.
set -euo pipefail
cd "$(dirname "$0")/.."
blocks=no; block_cases=()
if [ "${1:-}" = --blocks ]; then
  blocks=yes; shift; block_cases=("$@")
  command -v llvm-symbolizer >/dev/null || { echo "bench-image: --blocks needs llvm-symbolizer (apt-get install llvm)" >&2; exit 1; }
fi

if ! command -v valgrind >/dev/null; then
  echo "==> installing valgrind"
  apt-get install -y -qq valgrind >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
fi
[ -f target/sys/wfp_injector.sys ] || { echo "bench-image: no target/sys/wfp_injector.sys (run scripts/build-sys.sh)" >&2; exit 1; }

echo "==> building the benchmark (release)"
cargo bench --bench image_packets --no-run 2>&1 | tail -1
bin=$(ls -t target/release/deps/image_packets-* | grep -v '\.d$' | head -1)
packets=$(sed -n 's/^const PACKETS: usize = \([0-9]*\);/\1/p' benches/image_packets.rs)
[ -n "$packets" ] || { echo "bench-image: PACKETS not found in benches/image_packets.rs" >&2; exit 1; }

count() {  # count CASE FUNCTION -> image instructions per packet inside image_packets::FUNCTION
  local out result self entered
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="image_packets::$2" \
    "$bin" "$1" "$2" >/dev/null 2>&1 || { echo "bench-image: $1 $2 failed under valgrind" >&2; rm -f "$out"; exit 1; }
  result=$(awk -v OBJ='???' -v FN="image_packets::$2" -f scripts/callgrind-cost.awk "$out")
  rm -f "$out"
  read -r self _ entered <<<"$result"
  # An unconfigured packet may never reach the image: the filters' conditions select only
  # configured traffic, so the filter engine does not call classify for it (0 is then the honest
  # figure; --calls below shows that no kernel call was made either).
  floor=1; case $1 in unconfigured_*) floor=0 ;; esac
  if [ "$entered" -lt 1 ] || [ "$self" -lt "$floor" ]; then
    echo "bench-image: $1: image_packets::$2 entered $entered times, image instructions $self" >&2
    exit 1
  fi
  awk -v s="$self" -v n="$packets" 'BEGIN { printf "%.1f", s / n }'
}

echo "==> driver image instructions per packet (callgrind, $packets packets per case; x86-64)"
printf '    %-18s %9s %7s %9s %7s\n' case classify dpc complete total
for c in unconfigured_v4 unconfigured_v6 own_v4 outbound_v4 outbound_v6 inbound_v4 inbound_v6 tcp_outbound_v4 \
         ip_outbound_v4 ip_outbound_v6 ip_inbound_v4 ip_inbound_v6 ip_tcp_inbound_v4; do
  dpc=-; complete=-
  case $c in
    own_v4) classify=$(count "$c" measure_own) ;;
    *) classify=$(count "$c" measure_classify) ;;
  esac
  case $c in unconfigured_*|own_v4) ;; *) complete=$(count "$c" measure_complete) ;; esac
  case $c in tcp_*) dpc=$(count "$c" measure_dpc) ;; esac
  total=$(awk -v a="$classify" -v b="$dpc" -v c="$complete" 'BEGIN { printf "%.1f", a + (b == "-" ? 0 : b) + (c == "-" ? 0 : c) }')
  printf '    %-18s %9s %7s %9s %7s\n' "$c" "$classify" "$dpc" "$complete" "$total"
done

echo "==> kernel calls per packet"
"$bin" --calls 2>/dev/null | tail -n +2

[ "$blocks" = yes ] || exit 0
blocks() {  # blocks CASE FUNCTION: one phase's instructions by source block
  local out err base
  out=$(mktemp); err=$(mktemp)
  valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$out" \
    --toggle-collect="image_packets::$2" "$bin" "$1" "$2" >/dev/null 2>"$err" \
    || { echo "bench-image: $1 $2 failed under valgrind" >&2; rm -f "$out" "$err"; exit 1; }
  base=$(sed -n 's/^image mapped at \(0x[0-9a-f]*\)$/\1/p' "$err" | head -1)
  [ -n "$base" ] || { echo "bench-image: the benchmark did not print the image base" >&2; exit 1; }
  echo "--> $1, ${2#measure_}"
  python3 scripts/callgrind-blocks.py "$out" target/sys/wfp_injector.sys "$base" "$packets"
  rm -f "$out" "$err"
}
[ "${#block_cases[@]}" -gt 0 ] || block_cases=(own_v4 outbound_v4 inbound_v4 tcp_outbound_v4)
echo "==> where the instructions go (per packet)"
for c in "${block_cases[@]}"; do
  case $c in own_v4) blocks "$c" measure_own ;; *) blocks "$c" measure_classify ;; esac
  case $c in tcp_*) blocks "$c" measure_dpc ;; esac
  case $c in unconfigured_*|own_v4) ;; *) blocks "$c" measure_complete ;; esac
done
