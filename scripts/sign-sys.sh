#!/usr/bin/env bash
# Test-signs a driver image with osslsigncode (Authenticode, SHA-256) and verifies the signature.
#
#   scripts/sign-sys.sh IMAGE [CERT.pem KEY.pem]
#
# Without a certificate it uses (creating once) a self-signed code-signing certificate in
# target/sys/testcert/. That is a TEST certificate: Windows accepts the image only with test
# signing on (`bcdedit /set testsigning on`) and the certificate in the machine's Trusted Root
# and Trusted Publishers stores. Release packages are signed by the WDK build (`cargo make`).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fail() { printf 'sign-sys: FAILED: %s\n' "$*" >&2; exit 1; }

image=${1:-}
[ -n "$image" ] && [ -f "$image" ] || fail "usage: $0 IMAGE [CERT.pem KEY.pem] (image '${image}' not found)"
cert=${2:-}
key=${3:-}

for tool in osslsigncode openssl; do
  if ! command -v "$tool" >/dev/null; then
    echo "==> installing $tool (Debian package)"
    apt-get install -y -qq "$tool" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; } \
      || fail "could not install $tool"
  fi
done

if [ -z "$cert" ]; then
  dir=$here/target/sys/testcert
  cert=$dir/wfp-injector-test.pem
  key=$dir/wfp-injector-test.key
  if [ ! -f "$cert" ] || [ ! -f "$key" ]; then
    echo "==> creating a self-signed test code-signing certificate in ${dir#"$here"/}"
    mkdir -p "$dir"
    openssl req -x509 -newkey rsa:3072 -sha256 -days 3650 -nodes \
      -subj "/CN=WFP Injector Test Signing/O=wfp-injector test" \
      -addext "keyUsage=critical,digitalSignature" \
      -addext "extendedKeyUsage=codeSigning" \
      -addext "basicConstraints=critical,CA:FALSE" \
      -keyout "$key" -out "$cert" 2>/dev/null || fail "openssl could not create the certificate"
    # The .cer form is what certmgr/certutil import on the test machine.
    openssl x509 -in "$cert" -outform der -out "$dir/wfp-injector-test.cer"
  fi
fi
[ -f "$cert" ] && [ -f "$key" ] || fail "certificate '$cert' or key '$key' not found"

echo "==> signing $(basename "$image") (SHA-256)"
signed=$image.signed
rm -f "$signed"
osslsigncode sign -certs "$cert" -key "$key" -h sha256 -n "WFP Injector" \
  -in "$image" -out "$signed" >/dev/null || fail "osslsigncode sign failed"
mv "$signed" "$image"

echo "==> verifying the signature"
osslsigncode verify -CAfile "$cert" -in "$image" >/tmp/sign-sys-verify.$$ 2>&1 \
  || { cat /tmp/sign-sys-verify.$$ >&2; rm -f /tmp/sign-sys-verify.$$; fail "signature does not verify"; }
grep -E 'Signature verification|Message digest|Number of verified signatures' /tmp/sign-sys-verify.$$ | sed 's/^/    /'
rm -f /tmp/sign-sys-verify.$$
