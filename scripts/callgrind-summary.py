#!/usr/bin/env python3
"""Summarizes a callgrind output file (default options: Ir only, compressed names and positions).

usage: callgrind-summary.py FILE EXCLUDE_PREFIX [--functions]

Prints, one a line:
  self <Ir>            instructions executed in functions whose name does not start with
                       EXCLUDE_PREFIX (self cost: a call's inclusive cost line is skipped)
  calls <name> <n>     how often each function was called (from callgrind's calls= lines)
  body <name> <Ir>     with --functions: self cost of each counted function
"""
import re
import sys


def main():
    path, exclude = sys.argv[1], sys.argv[2]
    names = {}
    current = None
    callee = None
    skip = False
    body = {}
    calls = {}

    def resolve(spec):
        m = re.match(r"\((\d+)\)(?: (.*))?$", spec)
        if not m:
            return spec
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), spec)

    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("fn="):
            current = resolve(line[3:])
            continue
        if line.startswith("cfn="):
            callee = resolve(line[4:])
            continue
        if line.startswith("calls="):
            calls[callee] = calls.get(callee, 0) + int(line[6:].split()[0])
            skip = True
            continue
        if re.match(r"^[+*-]?[0-9]", line) or line.startswith("* "):
            if skip:
                skip = False
                continue
            parts = line.split()
            if len(parts) >= 2 and current is not None:
                body[current] = body.get(current, 0) + int(parts[1])
    counted = sum(cost for name, cost in body.items() if not name.startswith(exclude))
    print(f"self {counted}")
    for name, count in sorted(calls.items()):
        print(f"calls {name} {count}")
    if "--functions" in sys.argv:
        for name, cost in sorted(body.items(), key=lambda item: -item[1]):
            if not name.startswith(exclude):
                print(f"body {name} {cost}")


if __name__ == "__main__":
    main()
