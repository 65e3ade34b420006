#!/usr/bin/env bash
# Prints, as shell assignments for `eval`, what names and dates the driver package:
#   WFP_VERSION  the four-part file and driver version, Cargo.toml's MAJOR.MINOR.PATCH then .0
#   WFP_COMPANY  [package.metadata.wfp-injector] company: the INF's Provider, the WFP provider's
#                name, VERSIONINFO's CompanyName
#   WFP_PRODUCT  [package.metadata.wfp-injector] product: the WFP provider's description,
#                VERSIONINFO's ProductName
#   WFP_DATE     DriverVer's date, MM/DD/YYYY (UTC)
#   WFP_TIME     the catalog's thisUpdate, YYYYMMDDHHMMSS (UTC)
# The date is SOURCE_DATE_EPOCH when set, else the time of the last commit, so two builds of one
# commit give the same INF and catalog (scripts/check-reproducible.sh passes it to its copy).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fail() { printf 'package-identity: FAILED: %s\n' "$*" >&2; exit 1; }
epoch=${SOURCE_DATE_EPOCH:-}
if [ -z "$epoch" ]; then
  epoch=$(git -C "$here" log -1 --format=%ct 2>/dev/null) \
    || fail "no SOURCE_DATE_EPOCH and no git history in $here to date the package"
fi
[[ "$epoch" =~ ^[0-9]+$ ]] || fail "SOURCE_DATE_EPOCH '$epoch' is not a number of seconds"
python3 - "$here/Cargo.toml" "$epoch" <<'PY'
import re, shlex, sys, time, tomllib
manifest = tomllib.load(open(sys.argv[1], "rb"))
package = manifest["package"]
version = package["version"]
# DriverVer: each part "greater than or equal to zero and less than 65535", and "0.0.0.0 is not
# valid" (inf-driverver-directive.md); VERSIONINFO's parts are 16 bits.
if not re.fullmatch(r"(0|[1-9]\d{0,4})\.(0|[1-9]\d{0,4})\.(0|[1-9]\d{0,4})", version) or any(
        int(part) >= 65535 for part in version.split(".")) or version == "0.0.0":
    sys.exit(f"package-identity: FAILED: version '{version}' is not MAJOR.MINOR.PATCH with parts below 65535, not all zero (DriverVer's rules)")
identity = package.get("metadata", {}).get("wfp-injector", {})
for key in ("company", "product"):
    value = identity.get(key, "")
    if not value or not re.fullmatch(r"[A-Za-z0-9 .,()-]+", value):
        sys.exit(f"package-identity: FAILED: [package.metadata.wfp-injector] {key} '{value}' is missing or has characters an INF string or .rc would need escaped")
when = time.gmtime(int(sys.argv[2]))
for name, value in (("WFP_VERSION", version + ".0"), ("WFP_COMPANY", identity["company"]),
                    ("WFP_PRODUCT", identity["product"]),
                    ("WFP_DATE", time.strftime("%m/%d/%Y", when)),
                    ("WFP_TIME", time.strftime("%Y%m%d%H%M%S", when))):
    print(f"{name}={shlex.quote(value)}")
PY
