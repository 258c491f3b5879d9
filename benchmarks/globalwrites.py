"""What a `global` write costs: ns per STORE_GLOBAL in a loop, plain and tracked.

    python benchmarks/globalwrites.py [--quick] [--rounds N] [--iterations N] [--clock wall|cpu]

A function stores a global 20 times per loop iteration, alternating two
objects (a store of the object a name already holds changes nothing, and
CPython then tells a dict watcher nothing either), in a module loaded plain
and tracked; a loop that stores two locals instead is subtracted.  With the
compiled core on CPython 3.12+ every one of those stores reaches globalhook's
dict watcher and is counted; elsewhere tracking does nothing on a store (the
writes are found by a bytecode scan), so the figure shows what counting costs.
It also times a loop that only reads a global, to show that loads do not pay
for the watcher (compare with ``run.py --parts micro``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from timing import interleaved  # noqa: E402

PER_ITERATION = 20

_SOURCE = f'''
G = 0
S = None

def stores(n, a, b):
    global S
    for _ in range(n):
        {"; ".join(["S = a", "S = b"] * (PER_ITERATION // 2))}

def local_stores(n, a, b):
    s = None
    for _ in range(n):
        {"; ".join(["s = a", "s = b"] * (PER_ITERATION // 2))}

def loads(n, a, b):
    for _ in range(n):
        {"; ".join(["G"] * PER_ITERATION)}

def empty(n, a, b):
    for _ in range(n):
        pass
'''


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/globalwrites.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round (proves it works)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 7; --quick 1)")
    parser.add_argument("--iterations", type=int, default=None, help="loop iterations (default 200000)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall time or this process's CPU time")
    options = parser.parse_args(argv)
    if options.clock == "cpu":
        from timing import use_cpu_clock

        use_cpu_clock()
    from loading import load_twice

    from globalhook import globalwrites, tracking

    rounds = options.rounds or (1 if options.quick else 7)
    n = options.iterations or (2_000 if options.quick else 200_000)
    with tempfile.TemporaryDirectory() as folder:
        plain, tracked = load_twice(Path(folder), {"gh_bench_writes": _SOURCE})["gh_bench_writes"]
        a, b = object(), object()
        variants = {}
        for label, module in (("untracked", plain), ("tracked", tracked)):
            for func in ("stores", "local_stores", "loads", "empty"):
                variants[f"{label} {func}"] = (lambda f: lambda: f(n, a, b))(getattr(module, func))
        tracked.stores(10, a, b)  # first sight done: what follows is the steady state
        medians = interleaved(variants, rounds)
    per = n * PER_ITERATION
    how = "counted by the dict watcher" if globalwrites.OBSERVED else "not counted (found by a bytecode scan)"
    build = " free-threaded" if "free-threading" in sys.version else ""
    print(f"Python {sys.version.split()[0]}{build}, core {tracking.CORE}: global writes {how}")
    print(f"{'':10} {'store (ns)':>11} {'load (ns)':>10}")
    for label in ("untracked", "tracked"):
        store = (medians[f"{label} stores"] - medians[f"{label} local_stores"]) / per * 1e9
        load = (medians[f"{label} loads"] - medians[f"{label} empty"]) / per * 1e9
        print(f"{label:10} {max(store, 0.0):11.1f} {max(load, 0.0):10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
