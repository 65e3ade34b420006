#!/usr/bin/env python3
"""Where a packet's image instructions go, by source block.

    callgrind-blocks.py CALLGRIND_OUT IMAGE BASE PACKETS

Reads a callgrind output made with --dump-instr=yes (collection toggled on one measured
function), takes the instructions executed inside the mapped driver image (callgrind's object
`???`; BASE is where the test loader mapped it, printed by benches/image_packets.rs), maps each
address to the image's virtual address, names it with llvm-symbolizer (which reads the PDB next to
IMAGE: the innermost inlined function and its source line), and prints the instructions per
packet grouped by that function, then the procedures they ran in (prologue and epilogue
included), largest first. Every instruction is counted once; the groups add up to the total.
"""
import collections
import re
import subprocess
import sys


def image_costs(path):
    """Self cost per absolute address inside object ??? (call lines' inclusive costs skipped)."""
    costs = collections.Counter()
    objects = {}
    inside = False
    address = 0
    skip_next = False
    header = {}
    cost_line = re.compile(r"^(0x[0-9a-fA-F]+|[+-]\d+|\*)\s+\S+\s+(\d+)$")
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        for key in ("events", "positions"):
            if line.startswith(key + ":"):
                header[key] = line.split(":", 1)[1].split()
        if line.startswith(("ob=", "cob=")):
            # `(id) name` the first time an object is named, on an ob= or a cob= line (one table
            # for both), `(id)` after (name compression).
            spec = re.match(r"^\((\d+)\)\s*(.*)$", line.split("=", 1)[1])
            if spec:
                if spec.group(2):
                    objects[spec.group(1)] = spec.group(2)
                name = objects.get(spec.group(1), "")
            else:
                name = line.split("=", 1)[1]
            if line.startswith("ob="):
                inside = name == "???"
            continue
        if line.startswith("calls="):
            skip_next = True
            continue
        match = cost_line.match(line)
        if not match:
            continue
        position = match.group(1)
        if position.startswith("0x"):
            address = int(position, 16)
        elif position != "*":
            address += int(position)
        if skip_next:
            skip_next = False
            continue
        if inside:
            costs[address] += int(match.group(2))
    if header.get("events") != ["Ir"] or header.get("positions") != ["instr", "line"]:
        sys.exit(f"callgrind-blocks: expected events Ir and positions instr line, got {header}")
    if "???" not in objects.values() or not costs:
        sys.exit("callgrind-blocks: no instructions in object ??? (the mapped image)")
    return costs


def pe_layout(image):
    """(ImageBase, SizeOfImage) from the PE optional header (PE32+)."""
    data = open(image, "rb").read()
    pe = int.from_bytes(data[0x3C:0x40], "little")
    if data[pe:pe + 4] != b"PE\0\0":
        sys.exit(f"callgrind-blocks: {image} is not a PE image")
    optional = pe + 24
    if int.from_bytes(data[optional:optional + 2], "little") != 0x20B:
        sys.exit(f"callgrind-blocks: {image} is not PE32+")
    base = int.from_bytes(data[optional + 24:optional + 32], "little")
    size = int.from_bytes(data[optional + 56:optional + 60], "little")
    return base, size


def symbolize(image, addresses):
    """(innermost function, source line, outermost procedure) per image virtual address."""
    query = "\n".join(hex(a) for a in addresses)
    run = subprocess.run(
        ["llvm-symbolizer", f"--obj={image}", "--inlines", "--demangle"],
        input=query, capture_output=True, text=True, check=True,
    )
    if run.stderr.strip():
        sys.exit(f"callgrind-blocks: llvm-symbolizer: {run.stderr.strip()}")
    names = []
    blocks = run.stdout.strip("\n").split("\n\n")
    if len(blocks) != len(addresses):
        sys.exit(f"callgrind-blocks: {len(addresses)} addresses, {len(blocks)} answers")
    for address, block in zip(addresses, blocks):
        lines = block.split("\n")
        frames = [(lines[i], lines[i + 1] if i + 1 < len(lines) else "") for i in range(0, len(lines), 2)]
        inner, line = frames[0]
        outer = frames[-1][0]
        if inner == "??":
            sys.exit(f"callgrind-blocks: no symbol for {address:#x} (is the PDB next to the image?)")
        names.append((short(inner), line.rsplit("/", 1)[-1], short(outer)))
    return names


def short(name):
    """A function name without hashes, generic arguments and the crate prefix."""
    name = re.sub(r"::h[0-9a-f]{16}$", "", name)
    name = name.replace("$LT$", "<").replace("$GT$", ">")
    while True:
        shorter = re.sub(r"<[^<>]*>", "", name)
        if shorter == name:
            break
        name = shorter
    return re.sub(r"\bwfp_(injector|inject|seam)::", "", name)


def main():
    out, image, base, packets = sys.argv[1], sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4])
    costs = image_costs(out)
    image_base, image_size = pe_layout(image)
    outside = sum(c for a, c in costs.items() if not base <= a < base + image_size)
    if outside:
        sys.exit(f"callgrind-blocks: {outside} instructions of object ??? lie outside the image")
    addresses = sorted(costs)
    virtual = [a - base + image_base for a in addresses]
    names = symbolize(image, virtual)
    by_function = collections.Counter()
    by_procedure = collections.Counter()
    lines = collections.defaultdict(collections.Counter)
    for address, (inner, line, outer) in zip(addresses, names):
        cost = costs[address]
        by_function[inner] += cost
        by_procedure[outer] += cost
        lines[inner][line.split(":")[0] + ":" + line.split(":")[1] if ":" in line else line] += cost
    total = sum(costs.values())
    print(f"    {total / packets:7.1f}  image instructions per packet")
    print("    by procedure (prologue and epilogue included):")
    for name, cost in by_procedure.most_common():
        print(f"    {cost / packets:7.1f}  {name}")
    print("    by innermost inlined function (source lines):")
    for name, cost in by_function.most_common():
        where = ", ".join(f"{l} {c / packets:.0f}" for l, c in lines[name].most_common(6))
        print(f"    {cost / packets:7.1f}  {name}  [{where}]")


if __name__ == "__main__":
    main()
