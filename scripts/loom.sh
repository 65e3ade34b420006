#!/usr/bin/env bash
# The loom model checks of the context pool and the rundown protocol (tests/loom_pool.rs) and of
# the instance entry handshake (tests/loom_instance.rs), in a target directory of their own
# (everything is built with --cfg loom there).
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}" CARGO_TARGET_DIR=target/loom \
  cargo test --test loom_pool --test loom_instance "$@"
