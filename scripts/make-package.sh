#!/usr/bin/env bash
# Makes the driver package a Windows test machine installs, from a built image:
#
#   target/package/wfp_injector.sys        the image (signed with --sign)
#   target/package/wfp_injector.inf        inf/wfp_injector.inx stamped: $ARCH$ -> amd64,
#                                          DriverVer = the commit's date, Cargo.toml's version;
#                                          CRLF line ends
#   target/package/wfp_injector.cat        the catalog over the .sys and the .inf
#                                          (scripts/make-catalog.py; signed with --sign)
#   target/package/wfp-injector-test.cer   the test certificate (--sign only)
#
#   scripts/make-package.sh [--sign] IMAGE
#
# scripts/build-sys.sh runs it after the build. Unsigned, every byte of the package depends only
# on the commit (scripts/check-reproducible.sh compares the image, the INF and the unsigned
# catalog, kept as target/sys/wfp_injector.unsigned.cat, with a second build's).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fail() { printf 'make-package: FAILED: %s\n' "$*" >&2; exit 1; }
sign=no
image=
for arg in "$@"; do
  case $arg in
    --sign) sign=yes ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) fail "unknown argument '$arg' (try --help)" ;;
    *) [ -z "$image" ] || fail "one image only"; image=$arg ;;
  esac
done
[ -n "$image" ] && [ -f "$image" ] || fail "usage: $0 [--sign] IMAGE (image '${image}' not found)"
package=$here/target/package
unsigned_cat=$here/target/sys/wfp_injector.unsigned.cat
eval "$("$here/scripts/package-identity.sh")" || fail "scripts/package-identity.sh failed"

printf '\n==> Package (%s)\n' "${package#"$here"/}"
rm -rf "$package"
mkdir -p "$package" "$(dirname "$unsigned_cat")"
cp "$image" "$package/wfp_injector.sys"

# stampinf's two edits, and nothing else: the architecture decoration and DriverVer.
inx=$here/inf/wfp_injector.inx
grep -q '^DriverVer *= *$' "$inx" || fail "$inx has no empty 'DriverVer =' line to stamp"
grep -q '\$ARCH\$' "$inx" || fail "$inx has no \$ARCH\$ to stamp"
# CRLF line ends, as Inf2Cat-made packages have them: the catalog hashes the bytes, and a copy
# that converted line ends would no longer match.
if grep -q $'\r' "$inx"; then fail "$inx has CR characters: keep it LF, the package writes CRLF"; fi
sed -e 's/\$ARCH\$/amd64/g' -e "s|^DriverVer *= *\$|DriverVer   = $WFP_DATE,$WFP_VERSION|" \
    -e 's/$/\r/' "$inx" > "$package/wfp_injector.inf"
if grep -q '\$ARCH\$' "$package/wfp_injector.inf"; then fail "unstamped \$ARCH\$ left"; fi
echo "    wfp_injector.inf: DriverVer = $WFP_DATE,$WFP_VERSION"

# The catalog: Windows 10 and later, x64 (inf2cat /os:10_X64 writes OS _v100_X64, OSAttr 2:10.0).
python3 "$here/scripts/make-catalog.py" "$unsigned_cat" --time "$WFP_TIME" \
    --os-attr 2:10.0 --os _v100_X64 "$package/wfp_injector.inf" "$package/wfp_injector.sys" \
  || fail "make-catalog.py failed"
cp "$unsigned_cat" "$package/wfp_injector.cat"

if [ "$sign" = yes ]; then
  cert_dir=$here/target/sys/testcert
  [ -f "$cert_dir/wfp-injector-test.pem" ] || fail "no test certificate in $cert_dir (scripts/sign-sys.sh makes it)"
  signed=$package/wfp_injector.cat.signed
  osslsigncode sign -certs "$cert_dir/wfp-injector-test.pem" -key "$cert_dir/wfp-injector-test.key" \
      -h sha256 -in "$package/wfp_injector.cat" -out "$signed" >/dev/null || fail "osslsigncode could not sign the catalog"
  mv "$signed" "$package/wfp_injector.cat"
  osslsigncode verify -CAfile "$cert_dir/wfp-injector-test.pem" -in "$package/wfp_injector.cat" >/dev/null 2>&1 \
    || fail "the signed catalog does not verify"
  osslsigncode verify -CAfile "$cert_dir/wfp-injector-test.pem" -catalog "$package/wfp_injector.cat" \
      -in "$package/wfp_injector.sys" >/dev/null 2>&1 || fail "the image does not verify against the catalog"
  cp "$cert_dir/wfp-injector-test.cer" "$package/"
  echo "    signed: wfp_injector.sys, wfp_injector.cat (test certificate wfp-injector-test.cer)"
fi
(cd "$package" && for f in *; do printf '    %-24s %7d bytes  sha256 %s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)"; done)
