#!/usr/bin/env python3
"""Fail if the pipeline crate's top-level modules import each other in a cycle.

Reads `crate::NAME` paths outside `#[cfg(test)]` blocks; `impl Engine` in a
module counts as an import of `engine`. Run by `make lint`.
"""
import glob
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "pipeline/src"
mods = {}
for p in glob.glob(f"{root}/**/*.rs", recursive=True):
    name = p[len(root) + 1:-3].replace("/mod", "").split("/")[0]
    src = open(p).read().split("#[cfg(test)]")[0]
    deps = set(re.findall(r"crate::([a-z_]+)", src))
    if re.search(r"\bEngine\b", src) and name != "engine":
        deps.add("engine")
    mods.setdefault(name, set()).update(d for d in deps if d != name and d != "lib")


def cycle_from(start):
    stack = [(start, [start])]
    while stack:
        node, path = stack.pop()
        for d in mods.get(node, ()):
            if d == start:
                return path + [d]
            if d not in path:
                stack.append((d, path + [d]))
    return None


cycles = {tuple(sorted(c[:-1])): c for m in mods if (c := cycle_from(m))}
for c in cycles.values():
    print("import cycle: " + " -> ".join(c))
sys.exit(1 if cycles else 0)
