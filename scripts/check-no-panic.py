#!/usr/bin/env python3
"""Fails when the driver image calls into the panic machinery outside the allowlist.

Reads the image's procedures (S_GPROC32/S_LPROC32: name, address, size) from its PDB with
llvm-pdbutil, disassembles its .text with llvm-objdump, and finds every direct call or jump whose
target is a procedure of the panic machinery (core::panicking, the slice/str index failures,
Option/Result unwrap and expect failures, alloc's capacity-overflow and allocation-error handlers,
core::fmt, the panic handler itself). A call from a procedure that is not machinery itself is a
reachable panic site unless scripts/panic-allowlist.txt names that procedure with a reason. Each
site is printed with its source location and inline chain (llvm-symbolizer reads the PDB).

The check also fails if the image has no procedure records (an image built without line tables
would pass trivially) or if an indirect call could reach machinery: machinery whose address is
taken (a relocation-free lea/mov of its address) counts as called from the taking procedure.

usage: check-no-panic.py IMAGE.sys IMAGE.pdb ALLOWLIST
"""
import re
import struct
import subprocess
import sys

MACHINERY = re.compile(
    r"^(core::panicking::|core::panic::|core::slice::index::|core::str::slice_error_fail"
    r"|core::str::.*::slice_error_fail|core::option::(expect_failed|unwrap_failed)"
    r"|core::result::unwrap_failed|core::cell::panic_already|core::fmt::|core::str::count::"
    r"|alloc::raw_vec::(handle_error|capacity_overflow)|alloc::alloc::(handle_alloc_error|__alloc_error_handler)"
    r"|alloc::alloc::__alloc_error_handler::|__rust_alloc_error_handler|__rdl_oom|rust_begin_unwind"
    r"|wfp_injector::runtime::panic$|core::num::.*::panic|core::hint::unreachable_unchecked::precondition_check"
    r"|core::ub_checks::|core::result::impl\$\d+::(unwrap|expect)|core::option::impl\$\d+::(unwrap|expect))"
)


def run(*argv):
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"check-no-panic: {' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def text_section(image):
    data = open(image, "rb").read()
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    base = struct.unpack_from("<Q", data, pe + 24 + 24)[0]
    sections = struct.unpack_from("<H", data, pe + 6)[0]
    table = pe + 24 + struct.unpack_from("<H", data, pe + 20)[0]
    numbers = {}
    for i in range(sections):
        name, _, va = struct.unpack_from("<8sII", data, table + 40 * i)
        numbers[i + 1] = (name.rstrip(b"\0").decode(), base + va)
    return numbers


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    image, pdb, allowlist_path = sys.argv[1:]
    sections = text_section(image)
    procs = []  # (start, end, name)
    name = None
    for line in run("llvm-pdbutil", "dump", "--symbols", pdb).splitlines():
        m = re.search(r"S_[GL]PROC32 \[size = \d+\] `(.*)`$", line)
        if m:
            name = m.group(1)
            continue
        m = re.search(r"addr = (\d+):(\d+), code size = (\d+)", line)
        if m and name is not None:
            section, offset, size = int(m.group(1)), int(m.group(2)), int(m.group(3))
            start = sections[section][1] + offset
            procs.append((start, start + size, name))
            name = None
    if len(procs) < 10:
        sys.exit("check-no-panic: FAILED: the PDB has no procedure records (built without line tables?)")
    procs.sort()

    def owner(address):
        lo, hi = 0, len(procs)
        while lo < hi:
            mid = (lo + hi) // 2
            if procs[mid][0] <= address:
                lo = mid + 1
            else:
                hi = mid
        if lo and procs[lo - 1][0] <= address < procs[lo - 1][1]:
            return procs[lo - 1][2]
        return None

    # Functions with a public symbol but no procedure record (the allocator shims rustc
    # generates) are named by it.
    publics = []
    name = None
    for line in run("llvm-pdbutil", "dump", "--publics", pdb).splitlines():
        m = re.search(r"S_PUB32 \[size = \d+\] `(.*)`$", line)
        if m:
            name = m.group(1)
            continue
        m = re.search(r"flags = function, addr = (\d+):(\d+)", line)
        if m and name is not None:
            publics.append((sections[int(m.group(1))][1] + int(m.group(2)), name))
        name = None
    publics.sort()

    def public_before(address):
        best = None
        for start, public in publics:
            if start > address:
                break
            best = public
        return best

    machinery_at = {start: name for start, _, name in procs if MACHINERY.search(name)}
    for start, public in publics:
        if MACHINERY.search(public) and start not in machinery_at:
            machinery_at[start] = public
    allow = {}
    for line in open(allowlist_path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        proc, _, reason = line.partition(" | ")
        if not reason.strip():
            sys.exit(f"check-no-panic: allowlist entry without a reason: {line}")
        allow[proc.strip()] = reason.strip()

    sites = []
    pattern = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s+(?:\*?)(?:0x([0-9a-f]+)|.*# 0x([0-9a-f]+))")
    for line in run("llvm-objdump", "-d", "--no-show-raw-insn", image).splitlines():
        m = pattern.match(line)
        if not m:
            continue
        at, mnemonic = int(m.group(1), 16), m.group(2)
        target = int(m.group(3) or m.group(4), 16)
        if target not in machinery_at:
            continue
        if not (mnemonic.startswith("call") or mnemonic.startswith("j") or mnemonic.startswith("lea")
                or mnemonic.startswith("mov")):
            continue
        caller = owner(at) or public_before(at)
        if caller is not None and MACHINERY.search(caller):
            continue
        sites.append((at, caller or f"<no procedure at {at:#x}>", machinery_at[target]))

    bad = [site for site in sites if site[1] not in allow]
    for at, caller, target in sites:
        verdict = "allowed" if caller in allow else "NOT ALLOWED"
        print(f"{at:#x} {caller}\n    -> {target} [{verdict}{': ' + allow[caller] if caller in allow else ''}]")
        chain = subprocess.run(["llvm-symbolizer", f"--obj={image}", "--inlines", "--demangle", hex(at)],
                               capture_output=True, text=True).stdout.split("\n")
        for function, location in zip(chain[0::2], chain[1::2]):
            if function:
                print(f"       {function}  {location}")
    unused = sorted(set(allow) - {caller for _, caller, _ in sites})
    for proc in unused:
        print(f"note: allowlist entry no longer needed: {proc}")
    print(f"check-no-panic: {len(procs)} procedures, {len(machinery_at)} of them panic machinery, "
          f"{len(sites)} call sites into it from driver code, {len(bad)} not allowed")
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
