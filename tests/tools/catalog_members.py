#!/usr/bin/env python3
"""Lists a driver catalog as signify (PyPI), a catalog parser nobody here wrote, reads it, and
hashes the package's files with signify's own Authenticode and flat-file fingerprinters.
tests/package.rs runs it and compares every line with what the package must hold.

usage: catalog_members.py CATALOG FILE...

Output, one line each:
  catalog <is_catalog> <subject algorithm> <thisUpdate ISO> <listIdentifier hex>
  catattr <extension OID> <critical> <name> <flags hex> <value>
  member <tag hex> <memberinfo2 choice> [indirect <digest algorithm> <digest hex> <data type>]
  attr <tag hex> <name> <flags hex> <value>
  file <name> <kind> <sha256 hex> <sha1 hex> <tag of the member signify finds for it, or ->

signify imports oscrypto for certificate checks, and oscrypto 1.3.0 cannot parse the version
string of Debian's OpenSSL 3.0.x ("3.0.19"): its asymmetric module is replaced by an empty one
before signify is imported. Nothing here verifies a signature (osslsigncode does that in
tests/package.rs), so nothing calls it.
"""
import hashlib
import sys
import types

try:
    import oscrypto.asymmetric  # noqa: F401
except Exception:  # LibraryNotFoundError: "Error detecting the version of libcrypto"
    sys.modules["oscrypto.asymmetric"] = types.ModuleType("oscrypto.asymmetric")

from signify.asn1.ctl import NameValue  # noqa: E402
from signify.authenticode.signed_file import AuthenticodeFile  # noqa: E402
from signify.authenticode.trust_list import CertificateTrustList  # noqa: E402


def main() -> int:
    catalog = CertificateTrustList.from_envelope(open(sys.argv[1], "rb").read())
    print("catalog", catalog.is_catalog, catalog._subject_algorithm,
          catalog.this_update.isoformat(), catalog.list_identifier.hex())
    for extension in catalog.content_asn1["ctl_extensions"]:
        value = NameValue.load(extension["extn_value"].native).native
        print("catattr", extension["extn_id"].native, extension["critical"].native,
              value["refname"], format(value["typeaction"], "x"), value["value"])
    for subject in catalog.subjects:
        tag = subject.identifier.hex()
        infos = [a for a in subject.asn1["subject_attributes"]
                 if a["type"].native == "microsoft_cat_memberinfo2"]
        info = ",".join(value.name for a in infos for value in a["values"]) or "-"
        line = f"member {tag} {info}"
        if subject.indirect_data is not None:
            data = subject.indirect_data
            line += f" indirect {data.digest_algorithm().name} {data.digest.hex()} {data.content_type}"
        print(line)
        for attribute in subject.asn1["subject_attributes"]:
            if attribute["type"].native != "microsoft_cat_namevalue":
                continue
            for value in attribute["values"].native:
                print("attr", tag, value["refname"], format(value["typeaction"], "x"),
                      value["value"])
    for path in sys.argv[2:]:
        with open(path, "rb") as stream:
            parsed = AuthenticodeFile.from_stream(stream, allow_flat=True)
            found = catalog.find_subject(parsed)
            print("file", path.rsplit("/", 1)[-1], type(parsed).__name__,
                  parsed.get_fingerprint(hashlib.sha256).hex(),
                  parsed.get_fingerprint(hashlib.sha1).hex(),
                  found.identifier.hex() if found is not None else "-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
