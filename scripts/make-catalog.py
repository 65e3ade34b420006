#!/usr/bin/env python3
"""Makes an unsigned driver catalog (.cat) on Linux, in the format inf2cat/makecat write.

A catalog is a PKCS#7 SignedData whose content is a certificate trust list (CTL) of catalog
members. This is a version-2 catalog, what `inf2cat /os:10_X64` makes: each file of the package
is a member named by its SHA-256 hash, carrying that hash in an Authenticode SPC_INDIRECT_DATA
attribute, the kind of file (CAT_MEMBERINFO2: PE image or flat file) and the name-value
attributes Windows reads (`File`, `OSAttr`); each file also has a companion member named by its
SHA-1 hash with the same attributes but no indirect data. Members are sorted by their tag. The
catalog itself carries the `OS` attribute. Every OID, tag, flag and structure used here is a row
of facts/package-facts.md, with its source.

This script makes the SignedData with no signer; `osslsigncode sign` then signs it (SHA-256) with
the package's certificate, as `signtool sign` signs what inf2cat made. Unsigned, the output
depends only on the files and the given time: two builds of one commit give the same bytes.

A PE image is hashed by its Authenticode image hash (the checksum, the certificate-table directory
entry and the certificate table left out), any other file by the hash of its bytes.

usage: make-catalog.py OUT.cat --time YYYYMMDDHHMMSS --os-attr 2:10.0 --os _v100_X64 FILE...
"""
import argparse
import hashlib
import os
import struct
import sys

# --- DER ------------------------------------------------------------------------------------


def der(tag: int, body: bytes) -> bytes:
    """One DER element: tag, definite length, body."""
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + body


def seq(*items: bytes) -> bytes:
    return der(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    # DER orders the members of a SET OF by their encodings.
    return der(0x31, b"".join(sorted(items)))


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for value in parts[2:]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        body += bytes(reversed(chunk))
    return der(0x06, bytes(body))


def integer(value: int) -> bytes:
    length = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return der(0x02, value.to_bytes(length, "big", signed=True))


def octets(value: bytes) -> bytes:
    return der(0x04, value)


def bmp(text: str) -> bytes:
    return der(0x1E, text.encode("utf-16-be"))


def null() -> bytes:
    return der(0x05, b"")


def utc_time(stamp: str) -> bytes:
    # YYYYMMDDHHMMSS -> UTCTime YYMMDDHHMMSSZ (years 1950-2049, RFC 5280 4.1.2.5.1).
    year = int(stamp[:4])
    if not 1950 <= year <= 2049:
        raise SystemExit(f"make-catalog: time {stamp} is outside UTCTime's years 1950-2049")
    return der(0x17, (stamp[2:14] + "Z").encode("ascii"))


def explicit(number: int, body: bytes) -> bytes:
    return der(0xA0 | number, body)


# --- The OIDs and values (facts/package-facts.md) -------------------------------------------

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"        # szOID_RSA_signedData (PKCS #7)
OID_CTL = "1.3.6.1.4.1.311.10.1"                # szOID_CTL
OID_CATALOG_LIST = "1.3.6.1.4.1.311.12.1.1"     # szOID_CATALOG_LIST
OID_CATALOG_LIST_MEMBER2 = "1.3.6.1.4.1.311.12.1.3"  # szOID_CATALOG_LIST_MEMBER2 (version 2)
OID_SHA256 = "2.16.840.1.101.3.4.2.1"           # szOID_NIST_sha256
OID_SPC_INDIRECT_DATA = "1.3.6.1.4.1.311.2.1.4"  # SPC_INDIRECT_DATA_OBJID
OID_SPC_PE_IMAGE_DATA = "1.3.6.1.4.1.311.2.1.15"  # SPC_PE_IMAGE_DATA_OBJID
OID_SPC_CAB_DATA = "1.3.6.1.4.1.311.2.1.25"     # SPC_CAB_DATA_OBJID (flat files)
OID_CAT_NAMEVALUE = "1.3.6.1.4.1.311.12.2.1"    # CAT_NAMEVALUE_OBJID
OID_CAT_MEMBERINFO2 = "1.3.6.1.4.1.311.12.2.3"  # CAT_MEMBERINFO2_OBJID

# CRYPTCAT_ATTR_AUTHENTICATED | CRYPTCAT_ATTR_DATAASCII | CRYPTCAT_ATTR_NAMEASCII
NAMEVALUE_FLAGS = 0x10010001
# CAT_MEMBERINFO2's value: an empty context-specific element naming the subject interface
# package, [0] for a PE image, [2] for a flat file (as inf2cat writes them).
MEMBERINFO2_PE = der(0x80, b"")
MEMBERINFO2_FLAT = der(0x82, b"")
# SpcPeImageData.flags as inf2cat writes it (BIT STRING 05 A0) and SpcPeImageData.file, an empty
# SpcLink.file SpcString.unicode: [0] { [2] { [0] "" } }.
PE_IMAGE_FLAGS = der(0x03, b"\x05\xa0")
EMPTY_FILE_LINK = der(0xA2, der(0x80, b""))


def name_value(name: str, value: str) -> bytes:
    """CAT_NAMEVALUE: the name as a BMPString, the flags, the value as UTF-16LE with its NUL."""
    return seq(bmp(name), integer(NAMEVALUE_FLAGS), octets((value + "\0").encode("utf-16-le")))


def attribute(kind: str, value: bytes) -> bytes:
    return seq(oid(kind), set_of(value))


# --- Hashes ---------------------------------------------------------------------------------


def authenticode_pe_hashes(data: bytes) -> tuple[bytes, bytes]:
    """The Authenticode image hash ("Windows Authenticode Portable Executable Signature Format"),
    SHA-256 and SHA-1: the headers without CheckSum and the certificate-table directory entry,
    the sections in file order, then any data after them except the certificate table; an
    unsigned image is hashed as if padded with zeros to a multiple of 8 bytes, as signing pads it.
    """
    if data[:2] != b"MZ":
        raise ValueError("not a PE image")
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        raise ValueError("no PE signature")
    coff = pe + 4
    sections_count, = struct.unpack_from("<H", data, coff + 2)
    optional_size, = struct.unpack_from("<H", data, coff + 16)
    optional = coff + 20
    magic, = struct.unpack_from("<H", data, optional)
    if magic == 0x20B:
        directories = optional + 112
    elif magic == 0x10B:
        directories = optional + 96
    else:
        raise ValueError(f"unknown optional header magic {magic:#x}")
    checksum = optional + 64
    cert_entry = directories + 4 * 8
    headers_size, = struct.unpack_from("<I", data, optional + 60)
    cert_offset, cert_size = struct.unpack_from("<II", data, cert_entry)
    pieces = [data[:checksum], data[checksum + 4:cert_entry], data[cert_entry + 8:headers_size]]
    table = optional + optional_size
    sections = []
    for index in range(sections_count):
        raw_size, raw_offset = struct.unpack_from("<II", data, table + 40 * index + 16)
        if raw_size:
            sections.append((raw_offset, raw_size))
    hashed = headers_size
    for raw_offset, raw_size in sorted(sections):
        pieces.append(data[raw_offset:raw_offset + raw_size])
        hashed += raw_size
    end = len(data) - (cert_size if cert_offset else 0)
    if end > hashed:
        pieces.append(data[hashed:end])
    if not cert_offset and len(data) % 8:
        pieces.append(b"\0" * (8 - len(data) % 8))
    sha256, sha1 = hashlib.sha256(), hashlib.sha1()
    for piece in pieces:
        sha256.update(piece)
        sha1.update(piece)
    return sha256.digest(), sha1.digest()


def is_pe(data: bytes) -> bool:
    if len(data) < 0x40 or data[:2] != b"MZ":
        return False
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    return data[pe:pe + 4] == b"PE\0\0"


# --- The catalog ------------------------------------------------------------------------------


def members(path: str, os_attr: str) -> list[tuple[bytes, bytes]]:
    """A file's two TrustedSubjects (tag, encoding): the SHA-256 member Windows 10 reads, with
    the hash in an SPC_INDIRECT_DATA attribute, and the SHA-1 companion a version-2 catalog
    carries for each file, without one. The tag is the raw hash."""
    data = open(path, "rb").read()
    if is_pe(data):
        sha256, sha1 = authenticode_pe_hashes(data)
        kind = seq(oid(OID_SPC_PE_IMAGE_DATA), seq(PE_IMAGE_FLAGS, explicit(0, EMPTY_FILE_LINK)))
        info = MEMBERINFO2_PE
    else:
        sha256, sha1 = hashlib.sha256(data).digest(), hashlib.sha1(data).digest()
        kind = seq(oid(OID_SPC_CAB_DATA), EMPTY_FILE_LINK)
        info = MEMBERINFO2_FLAT
    common = [
        attribute(OID_CAT_MEMBERINFO2, info),
        attribute(OID_CAT_NAMEVALUE, name_value("File", os.path.basename(path).lower())),
        attribute(OID_CAT_NAMEVALUE, name_value("OSAttr", os_attr)),
    ]
    indirect = seq(kind, seq(seq(oid(OID_SHA256), null()), octets(sha256)))
    return [
        (sha256, seq(octets(sha256), set_of(*common, attribute(OID_SPC_INDIRECT_DATA, indirect)))),
        (sha1, seq(octets(sha1), set_of(*common))),
    ]


def catalog(files: list[str], stamp: str, os_attr: str, os_name: str) -> bytes:
    subjects = sorted(subject for path in files for subject in members(path, os_attr))
    # The list identifier: 16 bytes laid out as a version-4 GUID, as makecat's are; makecat draws
    # them at random, here they are a hash of the members so the catalog is reproducible.
    identifier = bytearray(hashlib.sha256(b"".join(tag for tag, _ in subjects)).digest()[:16])
    identifier[7] = 0x40 | (identifier[7] & 0x0F)   # Data3's high nibble (little-endian): 4
    identifier[8] = 0x80 | (identifier[8] & 0x3F)   # the RFC 4122 variant
    extensions = seq(seq(oid(OID_CAT_NAMEVALUE), octets(name_value("OS", os_name))))
    ctl = seq(
        seq(oid(OID_CATALOG_LIST)),                        # subjectUsage
        octets(bytes(identifier)),                          # listIdentifier
        utc_time(stamp),                                    # thisUpdate
        seq(oid(OID_CATALOG_LIST_MEMBER2), null()),         # subjectAlgorithm
        seq(*[encoding for _, encoding in subjects]),       # trustedSubjects
        explicit(0, extensions),                            # ctlExtensions
    )
    signed_data = seq(
        integer(1),                                         # version
        set_of(),                                           # digestAlgorithms: none yet
        seq(oid(OID_CTL), explicit(0, ctl)),                # contentInfo
        set_of(),                                           # signerInfos: none yet
    )
    return seq(oid(OID_SIGNED_DATA), explicit(0, signed_data))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--time", required=True, help="thisUpdate, UTC, YYYYMMDDHHMMSS")
    parser.add_argument("--os-attr", required=True, help="OSAttr, e.g. 2:10.0")
    parser.add_argument("--os", required=True, help="the catalog's OS attribute, e.g. _v100_X64")
    args = parser.parse_args()
    if len(args.time) != 14 or not args.time.isdigit():
        parser.error(f"--time must be YYYYMMDDHHMMSS, not '{args.time}'")
    names = [os.path.basename(path).lower() for path in args.files]
    if len(set(names)) != len(names):
        parser.error("two files with one name")
    with open(args.out, "wb") as out:
        out.write(catalog(args.files, args.time, args.os_attr, args.os))
    return 0


if __name__ == "__main__":
    sys.exit(main())
