#!/usr/bin/env bash
# Installs the tools nobody here wrote that tests/package.rs checks the driver package with:
#   osslsigncode, openssl (Debian) verify the catalog and the image's signature
#   signify (PyPI)                 parses the catalog (tests/tools/catalog_members.py)
#   pefile (PyPI)                  parses the image's version resource
# CI runs it before `cargo test`; without these tools `cargo test` reports the package checks as
# skipped (in CI, CI set, it fails them).
set -euo pipefail
fail() { printf 'install-test-tools: FAILED: %s\n' "$*" >&2; exit 1; }
packages=()
command -v osslsigncode >/dev/null || packages+=(osslsigncode)
command -v openssl >/dev/null || packages+=(openssl)
if [ "${#packages[@]}" -gt 0 ]; then
  echo "==> installing ${packages[*]} (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; } \
    || fail "apt-get install ${packages[*]}"
fi
# Pinned: tests/tools/catalog_members.py reads signify's parsed structures, which may change
# between releases.
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "==> installing python3-pip (Debian)"
  apt-get install -y -qq python3-pip >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null; } \
    || fail "apt-get install python3-pip"
fi
for pin in pefile==2024.8.26 signify==0.9.3; do
  module=${pin%%==*}
  if [ "$(python3 -c "import importlib.metadata as m; print(m.version('$module'))" 2>/dev/null)" != "${pin#*==}" ]; then
    echo "==> installing $pin (PyPI)"
    python3 -m pip install -q --disable-pip-version-check "$pin" >/dev/null 2>&1 \
      || python3 -m pip install -q --disable-pip-version-check --break-system-packages "$pin" >/dev/null \
      || fail "pip install $pin"
  fi
done
echo "==> test tools: $(osslsigncode --version 2>&1 | head -1 | sed 's/,.*//'), $(python3 -m pip list 2>/dev/null | grep -iE '^(pefile|signify) ' | tr -s ' ' | paste -sd, -)"
