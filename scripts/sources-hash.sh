#!/usr/bin/env bash
# Prints one SHA-256 over everything the driver image and its package are built from: the crate's
# sources and manifests (the root package and the crates it depends on), its build script, the cargo and toolchain configuration, the build
# scripts that shape the image, and the package's sources and scripts. scripts/build-sys.sh records it next to the image
# (target/sys/wfp_injector.sources-hash); tests/support/mod.rs recomputes it with this script and
# fails the image tests when the image is missing or was built from other sources.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  find src crates -type f
  for file in Cargo.toml Cargo.lock build.rs .cargo/config.toml rust-toolchain.toml \
      scripts/build-sys.sh scripts/pe-finish.py scripts/rustc-remap.sh \
      scripts/package-identity.sh inf/wfp_injector.rc \
      inf/wfp_injector.inx scripts/make-package.sh scripts/make-catalog.py; do
    [ -f "$file" ] && echo "$file"
  done
} | LC_ALL=C sort | while IFS= read -r file; do
  printf '%s  %s\n' "$(sha256sum < "$file" | cut -d' ' -f1)" "$file"
done | sha256sum | cut -d' ' -f1
