"""What a hit of ``@globalhook.cache`` costs, for a function that read 5 and 20 names.

    python benchmarks/cache.py [--quick] [--repeat N]

A hit revalidates every name the computation read.  The names here are what
configuration usually is (ints, strs, tuples, a helper function, a module
attribute); the "one a list" rows read a 1000-item list in place of one of them, which is mutable and is
fingerprinted again at every hit.  Figures are microseconds per call of the
cached function (best of ``--repeat`` runs), and, beside them, a plain call of
the same function for scale.  Run it on an idle machine: a shared one is noisy.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time


def module_source(count: int, with_list: bool) -> str:
    """A cached function that reads exactly ``count`` names: helper, helpers, helpers.BASE, N* (and BIG)."""
    lines = ["import helpers", "def helper(x):", "    return x + 1"]
    terms = ["helper(x)", "helpers.BASE"]
    for i in range(count - 3 - with_list):
        lines.append(f"N{i} = {(repr(i), repr(f's{i}'), repr((i, 't')))[i % 3]}")
        terms.append(f"(N{i} is not None)")
    if with_list:
        lines.append("BIG = list(range(1000))")
        terms.append("BIG[0]")
    body = " + ".join(terms)
    lines += [
        "import globalhook",
        "@globalhook.cache",
        "def cached(x):",
        f"    return {body}",
        "def plain(x):",
        f"    return {body}",
    ]
    return "\n".join(lines) + "\n"


def best(func, arg, number: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func(arg)
        times.append(time.perf_counter() - start)
    return min(times) / number * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds (a smoke test, not a measurement)")
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args(argv)
    number = 200 if options.quick else 20000
    repeat = 2 if options.quick else options.repeat
    from globalhook.tracking import CORE

    folder = tempfile.mkdtemp(prefix="ghbench-cache-")
    with open(os.path.join(folder, "helpers.py"), "w") as out:
        out.write("BASE = 10\n")
    sys.path.insert(0, folder)
    free = " free-threaded" if "free-threading" in sys.version else ""
    print(f"Python {sys.version.split()[0]}{free}, core {CORE}: microseconds per call")
    print(f"{'names read':<22}{'hit':>10}{'plain call':>12}")
    for count in (5, 20):
        for with_list in (False, True):
            name = f"bench_{count}_{int(with_list)}"
            with open(os.path.join(folder, name + ".py"), "w") as out:
                out.write(module_source(count, with_list))
            importlib.invalidate_caches()
            module = importlib.import_module(name)
            module.cached(1)  # computed: from now on every call is a hit
            reads = len(module.cached._entries[next(iter(module.cached._entries))].checks)
            hit = best(module.cached, 1, number, repeat)
            plain = best(module.plain, 1, number, repeat)
            label = f"{reads}" + (" (one a list)" if with_list else "")
            print(f"{label:<22}{hit:>10.2f}{plain:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
