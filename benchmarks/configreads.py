"""What a read of a watched configuration object or of an environment variable costs.

    python benchmarks/configreads.py [--rounds N] [--n N] [--depth D] [--clock wall|cpu]

ns per read in a loop (loop overhead subtracted), from tracked code:
``d["K"]`` of a plain dict and of the same dict watched with
``globalhook.watch``; ``cfg.K`` of an object, plain and watched;
``os.environ.get("K")`` with environment-variable recording off and on.
``--depth`` adds that many untracked frames between the tracked reader and
the read (library code reading on its behalf): the recorder walks up to the
innermost tracked frame, so the cost grows with it.  Also with no tracking at
all (``watch`` left in a program run under plain python): every read then
walks the whole stack and finds nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from timing import interleaved, use_cpu_clock  # noqa: E402

READER = '''
import os

def via(depth, read, n):
    return read(n) if depth == 0 else via(depth - 1, read, n)

def key(d, n):
    for _ in range(n):
        d["K"]

def attr(c, n):
    for _ in range(n):
        c.K

def env(n):
    get = os.environ.get
    for _ in range(n):
        get("GH_BENCH")

def loop(n):
    for _ in range(n):
        pass
'''


class Cfg:
    def __init__(self) -> None:
        self.K = 1


def measure(rounds: int, n: int, depth: int, workdir: Path) -> dict:
    import globalhook
    from globalhook import envreads, watching

    from loading import load_twice

    plain, tracked = load_twice(workdir, {"gh_confbench": READER})["gh_confbench"]
    untracked_via = plain.via  # the untracked frames between reader and read
    plain_dict, watched_dict = {"K": 1}, globalhook.watch({"K": 1}, name="bench.D")
    plain_cfg, watched_cfg = Cfg(), globalhook.watch(Cfg(), name="bench.C")
    os.environ["GH_BENCH"] = "1"

    def from_tracked(func, *args):
        """A call of ``func(*args, n)`` from the tracked reader, through ``depth`` untracked frames."""
        if depth == 0:
            return lambda: func(*args, n)
        return lambda: tracked.via(0, lambda k: untracked_via(depth, lambda m: func(*args, m), k), n)

    variants = {
        "loop": from_tracked(tracked.loop),
        "dict, plain": from_tracked(tracked.key, plain_dict),
        "dict, watched": from_tracked(tracked.key, watched_dict),
        "object, plain": from_tracked(tracked.attr, plain_cfg),
        "object, watched": from_tracked(tracked.attr, watched_cfg),
        "dict, watched, no tracked reader": lambda: plain.key(watched_dict, n),
    }
    envreads.install()
    variants["os.environ.get, recorded"] = from_tracked(tracked.env)
    medians_on = interleaved(variants, rounds, 1)
    envreads.uninstall()
    medians_off = interleaved({"loop": variants["loop"], "os.environ.get, not recorded": from_tracked(tracked.env)},
                              rounds, 1)
    rows = {}
    for name, seconds in medians_on.items():
        if name != "loop":
            rows[name] = (seconds - medians_on["loop"]) / n * 1e9
    rows["os.environ.get, not recorded"] = (medians_off["os.environ.get, not recorded"] - medians_off["loop"]) / n * 1e9
    watching.unwatch(watched_dict)
    watching.unwatch(watched_cfg)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--depth", type=int, default=0)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    options = parser.parse_args(argv)
    if options.clock == "cpu":
        use_cpu_clock()
    with tempfile.TemporaryDirectory() as workdir:
        rows = measure(options.rounds, options.n, options.depth, Path(workdir))
    from globalhook.tracking import CORE

    print(f"Python {sys.version.split()[0]}, {CORE} core, {options.depth} untracked frames between reader and read")
    width = max(len(name) for name in rows)
    for name, ns in rows.items():
        print(f"  {name:<{width}}  {ns:8.0f} ns/read")
    return 0


if __name__ == "__main__":
    sys.exit(main())
