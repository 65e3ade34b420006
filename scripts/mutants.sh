#!/usr/bin/env bash
# Mutation testing of the safe layer, the seam's nt helpers and the driver (crates/inject/src,
# crates/seam/src/nt, src/driver) with cargo-mutants.
#
#   scripts/mutants.sh                  every mutant of crates/inject/src and src/driver
#   scripts/mutants.sh --iterate        only the mutants the previous run missed (or that timed out)
#   scripts/mutants.sh --changed BASE   only mutants in lines `git diff BASE` changes (what CI runs,
#                                       with BASE = HEAD~1 and MUTANTS_MAX=25: a commit whose
#                                       changed lines hold more mutants than that is skipped with a
#                                       message, and needs this script run by hand)
#   MUTANTS_JOBS=2 scripts/mutants.sh   two builds at once (default 1: the cores are shared)
#
# Results land in target/mutants/mutants.out (caught.txt, missed.txt, timeout.txt, unviable.txt).
# The exit status is cargo-mutants': 0 when every viable mutant was caught, 2 when some survived,
# 3 when some timed out. docs/mutation-testing.md records the last full run and explains each
# surviving mutant; .cargo/mutants.toml lists the functions excluded on purpose, with reasons.
#
# Tests run per mutant: the library's unit tests and every host test in tests/ EXCEPT the ones
# that read the shipped image (image_on_sim, image_unload_reload, image_fault_sweep, pe_image),
# the mingw export lists (export_names) or the cross-built wfpinjctl.exe (wfpinjctl_exe: it tests
# tools/, which mutants never touch, and its .exe is not in the mutants' copy of the tree). An
# image test would need target/sys/wfp_injector.sys rebuilt from the mutated source by
# scripts/build-sys.sh (a cross-build of about a minute per mutant), and against
# the unmutated image it would test the wrong code, so it is left out rather than run stale.
# Doc tests are left out as well (they exercise no crates/inject/src or src/driver logic).
set -euo pipefail
cd "$(dirname "$0")/.."

need_mutants() {
  if ! command -v cargo-mutants >/dev/null 2>&1; then
    cargo install cargo-mutants --locked --version '^27'
  fi
}

jobs=${MUTANTS_JOBS:-1}
# No debug info in the mutants' builds (their own target directory): linking ~17 test binaries
# per mutant is most of the time, and debug info triples it.
export CARGO_PROFILE_DEV_DEBUG=0
mode=all
base=
case "${1:-}" in
  --iterate) mode=iterate ;;
  --changed) mode=changed; base=${2:?"--changed needs a base revision"} ;;
  "") ;;
  *) echo "usage: $0 [--iterate | --changed BASE]" >&2; exit 64 ;;
esac

# The package's tests (package, the stamped INF in inf_check) need the built package as the image
# tests need the image: the mutants' builds opt out of both (their gate tests then report
# themselves ignored), and test the sources' logic only.
export WFP_ALLOW_NO_IMAGE=1

# Every tests/*.rs except the image and export-list tests, as `--test NAME` arguments.
test_args=(--lib)
for file in tests/*.rs; do
  name=$(basename "$file" .rs)
  case "$name" in
    image_* | pe_image | export_names | package | wfpinjctl_exe) ;;
    *) test_args+=(--test "$name") ;;
  esac
done

args=(
  --jobs "$jobs"
  --output target/mutants
  # The safe layer and the seam are their own crates (crates/inject, crates/seam); their tests,
  # like the driver's, are the root package's: every cargo call selects it besides the mutated
  # package (cargo-mutants 27's --test-package did not reach `cargo test` here).
  --workspace
  --cargo-arg=--package=wfp-injector
  --file 'crates/inject/src/**'
  --file 'crates/seam/src/nt/**'
  --file 'src/driver/**'
  # A clean test run takes about 3 s; a mutant that makes a wait spin is cut off after 60 s.
  --timeout 60
  --build-timeout 600
  --no-shuffle
)
case "$mode" in
  iterate) args+=(--iterate) ;;
  changed)
    mkdir -p target
    git diff "$base" -- crates/inject/src crates/seam/src/nt src/driver >target/mutants-changed.diff
    if [ ! -s target/mutants-changed.diff ]; then
      echo "mutants: no change under crates/inject/src, crates/seam/src/nt or src/driver since $base"
      exit 0
    fi
    args+=(--in-diff target/mutants-changed.diff)
    need_mutants
    count=$(cargo mutants --list "${args[@]}" 2>/dev/null | wc -l)
    if [ "$count" -eq 0 ]; then
      echo "mutants: no mutant in the lines changed since $base"
      exit 0
    fi
    if [ -n "${MUTANTS_MAX:-}" ] && [ "$count" -gt "$MUTANTS_MAX" ]; then
      echo "mutants: SKIPPED: $count mutants in the changed lines, more than MUTANTS_MAX=$MUTANTS_MAX;"
      echo "mutants: run scripts/mutants.sh --changed $base by hand before merging"
      exit 0
    fi
    echo "mutants: $count mutants in the changed lines"
    ;;
esac

need_mutants
set -x
exec cargo mutants "${args[@]}" -- "${test_args[@]}"
