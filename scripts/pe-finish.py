#!/usr/bin/env python3
"""Finishes a driver image linked as a cdylib: clears IMAGE_FILE_DLL and rewrites the checksum.

rustc links every cdylib with /DLL, which sets IMAGE_FILE_DLL in the COFF header; a driver linked
by Microsoft's link /DRIVER has it clear, and `file` then reports "PE32+ executable (native)". The
flag is cleared in place and the optional header's CheckSum (which covers the whole file) is
recomputed with the algorithm of imagehlp's CheckSumMappedFile. Run before signing.

usage: pe-finish.py IMAGE
"""
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


def main() -> int:
    if len(sys.argv) != 2:
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
    struct.pack_into("<I", data, checksum_at, 0)
    struct.pack_into("<I", data, checksum_at, pe_checksum(bytes(data), checksum_at))
    open(path, "wb").write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
