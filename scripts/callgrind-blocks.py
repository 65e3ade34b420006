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
    cost_line = re.compile(r"^(0x[0-9a-fA-F]+|[+-]\d+|\*)\s+\S+\s+(\d+)$")
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("ob="):
            # `ob=(id) name` the first time, `ob=(id)` after (name compression).
            spec = re.match(r"^\((\d+)\)\s*(.*)$", line[3:])
            if spec:
                if spec.group(2):
                    objects[spec.group(1)] = spec.group(2)
                name = objects.get(spec.group(1), "")
            else:
                name = line[3:]
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
    return costs


def symbolize(image, addresses):
    """(innermost function, source line, outermost procedure) per image virtual address."""
    query = "\n".join(hex(a) for a in addresses)
    out = subprocess.run(
        ["llvm-symbolizer", f"--obj={image}", "--inlines", "--demangle"],
        input=query, capture_output=True, text=True, check=True,
    ).stdout
    names = []
    for block in out.strip("\n").split("\n\n"):
        lines = block.split("\n")
        frames = [(lines[i], lines[i + 1] if i + 1 < len(lines) else "") for i in range(0, len(lines), 2)]
        inner, line = frames[0]
        outer = frames[-1][0]
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
    return name.replace("wfp_injector::", "")


def main():
    out, image, base, packets = sys.argv[1], sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4])
    costs = image_costs(out)
    image_base = 0x180000000
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
