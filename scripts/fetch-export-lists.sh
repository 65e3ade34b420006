#!/usr/bin/env bash
# Fetches independent lists of kernel exports for tests/export_names.rs: mingw-w64's import
# libraries for ntoskrnl.exe and ndis.sys (Debian package mingw-w64-x86-64-dev), unpacked into
# target/export-lists with apt-get download + dpkg -x (nothing installed system-wide).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=$here/target/export-lists
if [ -f "$dest/libntoskrnl.a" ] && [ -f "$dest/libndis.a" ]; then
  echo "==> export lists: reusing ${dest#"$here"/}"
  exit 0
fi
echo "==> export lists: fetching mingw-w64-x86-64-dev"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download -q mingw-w64-x86-64-dev >/dev/null 2>&1); then
  apt-get update -qq
  (cd "$work" && apt-get download -q mingw-w64-x86-64-dev >/dev/null)
fi
dpkg -x "$work"/mingw-w64-x86-64-dev_*.deb "$work/root"
mkdir -p "$dest"
cp "$work/root/usr/x86_64-w64-mingw32/lib/libntoskrnl.a" "$work/root/usr/x86_64-w64-mingw32/lib/libndis.a" "$dest/"
echo "    $(ls "$dest" | tr '\n' ' ')"
