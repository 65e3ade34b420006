#!/usr/bin/env python3
"""Finishes a driver image linked as a cdylib: clears IMAGE_FILE_DLL, gives the image and its PDB
a deterministic identity, and rewrites the checksum.

rustc links every cdylib with /DLL, which sets IMAGE_FILE_DLL in the COFF header; a driver linked
by Microsoft's link /DRIVER has it clear, and `file` then reports "PE32+ executable (native)". The
flag is cleared in place and the optional header's CheckSum (which covers the whole file) is
recomputed with the algorithm of imagehlp's CheckSumMappedFile. Run before signing.

Identity: lld's /Brepro derives the timestamps and the CodeView GUID from the PDB, which records
the build directory and rustc's temporary directory (object paths), so two builds of the same
commit differ in those fields only. With PDB given, they are replaced by a hash of the image with
them zeroed: SHA-256 of that normalized image gives the GUID (first 16 bytes) and the timestamps
(next 4); the age is 1. The same GUID, age and signature are written into the PDB (its info
stream, and the age into its DBI stream), so a debugger still pairs them. The identity then
names the code and data only: two builds with the same bytes share it, whatever their paths.

usage: pe-finish.py IMAGE [PDB]
"""
import hashlib
import struct
import sys

IMAGE_FILE_DLL = 0x2000


def pe_checksum(data: bytes, checksum_offset: int) -> int:
    total = 0
    padded = data + b"\0" * (len(data) % 2)
    for (word,) in struct.iter_unpack("<H", padded):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    # The CheckSum field itself counts as zero.
    for (word,) in struct.iter_unpack("<H", data[checksum_offset:checksum_offset + 4]):
        total -= word
        if total < 0:
            total += 0xFFFF
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return (total + len(data)) & 0xFFFFFFFF


def identity_fields(data):
    """(offset, length, kind) of every field of the image's identity: COFF TimeDateStamp and
    CheckSum, each debug directory entry's TimeDateStamp, and the CodeView (RSDS) GUID and age."""
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    optional = pe + 24
    # The CheckSum too: lld's covers the bytes above, and main() recomputes it afterwards.
    fields = [(pe + 8, 4, "timestamp"), (optional + 64, 4, "checksum")]
    sections = struct.unpack_from("<H", data, pe + 6)[0]
    table = optional + struct.unpack_from("<H", data, pe + 20)[0]
    debug_rva, debug_size = struct.unpack_from("<II", data, optional + 112 + 6 * 8)

    def offset(rva):
        for i in range(sections):
            _, vsize, va, rsize, raw = struct.unpack_from("<8sIIII", data, table + 40 * i)
            if va <= rva < va + max(vsize, rsize):
                return raw + rva - va
        raise SystemExit(f"pe-finish: RVA {rva:#x} outside every section")

    codeview = None
    if debug_size:
        entry = offset(debug_rva)
        for i in range(debug_size // 28):
            at = entry + 28 * i
            fields.append((at + 4, 4, "timestamp"))
            kind, _, _, raw = struct.unpack_from("<IIII", data, at + 12)
            if kind == 2 and data[raw:raw + 4] == b"RSDS":
                fields.append((raw + 4, 16, "guid"))
                fields.append((raw + 20, 4, "age"))
                codeview = raw
    return fields, codeview


def msf_stream_first_block(pdb, stream):
    """File offset of the first block of MSF stream `stream` (PDB 7.0 container)."""
    magic = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"
    if pdb[:len(magic)] != magic:
        raise SystemExit("pe-finish: the PDB is not an MSF 7.0 file")
    block_size, _, _, directory_bytes, _, block_map = struct.unpack_from("<6I", pdb, 32)
    directory_blocks = (directory_bytes + block_size - 1) // block_size
    blocks = struct.unpack_from(f"<{directory_blocks}I", pdb, block_map * block_size)
    directory = b"".join(pdb[b * block_size:(b + 1) * block_size] for b in blocks)[:directory_bytes]
    count = struct.unpack_from("<I", directory, 0)[0]
    sizes = struct.unpack_from(f"<{count}I", directory, 4)
    at = 4 + 4 * count
    for index, size in enumerate(sizes):
        size = 0 if size == 0xFFFFFFFF else size
        n = (size + block_size - 1) // block_size
        if index == stream:
            if n == 0:
                raise SystemExit(f"pe-finish: PDB stream {stream} is empty")
            return struct.unpack_from("<I", directory, at)[0] * block_size
        at += 4 * n
    raise SystemExit(f"pe-finish: the PDB has no stream {stream}")


def set_identity(data, pdb_path):
    fields, codeview = identity_fields(data)
    if codeview is None:
        raise SystemExit("pe-finish: the image has no CodeView debug entry")
    normalized = bytearray(data)
    for at, length, _ in fields:
        normalized[at:at + length] = bytes(length)
    digest = hashlib.sha256(normalized).digest()
    guid, stamp, age = digest[:16], digest[16:20], struct.pack("<I", 1)
    for at, length, kind in fields:
        data[at:at + length] = {"timestamp": stamp, "guid": guid, "age": age, "checksum": bytes(4)}[kind]
    pdb = bytearray(open(pdb_path, "rb").read())
    info = msf_stream_first_block(pdb, 1)  # PDB info stream: version, signature, age, GUID
    pdb[info + 4:info + 8] = stamp
    pdb[info + 8:info + 12] = age
    pdb[info + 12:info + 28] = guid
    dbi = msf_stream_first_block(pdb, 3)  # DBI stream: signature, version, age
    if struct.unpack_from("<i", pdb, dbi)[0] != -1:
        raise SystemExit("pe-finish: unexpected DBI stream header")
    pdb[dbi + 8:dbi + 12] = age
    open(pdb_path, "wb").write(pdb)


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path = sys.argv[1]
    data = bytearray(open(path, "rb").read())
    if data[:2] != b"MZ":
        print(f"pe-finish: {path}: not an MZ image", file=sys.stderr)
        return 1
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        print(f"pe-finish: {path}: no PE signature", file=sys.stderr)
        return 1
    characteristics_at = pe + 4 + 18
    optional = pe + 24
    if struct.unpack_from("<H", data, optional)[0] != 0x20B:
        print(f"pe-finish: {path}: not PE32+", file=sys.stderr)
        return 1
    checksum_at = optional + 64
    characteristics = struct.unpack_from("<H", data, characteristics_at)[0]
    struct.pack_into("<H", data, characteristics_at, characteristics & ~IMAGE_FILE_DLL)
    if len(sys.argv) == 3:
        set_identity(data, sys.argv[2])
    struct.pack_into("<I", data, checksum_at, 0)
    struct.pack_into("<I", data, checksum_at, pe_checksum(bytes(data), checksum_at))
    open(path, "wb").write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
