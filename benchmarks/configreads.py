"""What recording adds to a read of a watched object or of an environment variable.

    python benchmarks/configreads.py [--rounds N] [--n N] [--depth D] [--clock wall|cpu]

ns per read, the difference between the same loop on a watched and an
unwatched object (``d["K"]``, ``cfg.K``), or with environment-variable
recording on and off (``os.environ.get``), for three readers: tracked code;
untracked code ``--depth`` frames under tracked code (a library reading on its
behalf: the recorder walks up to the innermost tracked frame); and no tracked
code on the stack at all (``watch`` left in a program run under plain python:
every read walks the whole stack and finds nothing).
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
    """ns that recording adds per read, for each reader (a difference of medians)."""
    import globalhook
    from globalhook import envreads, watching

    from loading import load_twice

    plain, tracked = load_twice(workdir, {"gh_confbench": READER})["gh_confbench"]
    os.environ["GH_BENCH"] = "1"
    # reader -> (module whose loops read, how the loop is called)
    readers = {
        "tracked reader": (tracked, lambda loop: loop(n)),
        f"untracked reader {depth} frames under tracked code":
            (plain, lambda loop: tracked.via(0, lambda m: plain.via(depth, loop, m), n)),
        "no tracked code on the stack": (plain, lambda loop: loop(n)),
    }
    objects = {
        "dict[key]": ("key", {"K": 1}, globalhook.watch({"K": 1}, name="bench.D")),
        "obj.attr": ("attr", Cfg(), globalhook.watch(Cfg(), name="bench.C")),
    }
    variants = {}
    for reader, (module, call) in readers.items():
        for what, (loop, unwatched, watched) in objects.items():
            for is_watched, obj in ((False, unwatched), (True, watched)):
                read = getattr(module, loop)
                variants[(reader, what, is_watched)] = (
                    lambda call=call, read=read, obj=obj: call(lambda k: read(obj, k))
                )
    medians = interleaved(variants, rounds, 1)
    env = {}
    for recorded in (False, True):
        if recorded:
            envreads.install()
        for reader, (module, call) in readers.items():
            env[(reader, recorded)] = interleaved({"": lambda call=call, module=module: call(module.env)}, rounds, 1)[""]
        envreads.uninstall()
    rows = {}
    for reader in readers:
        row = rows[reader] = {}
        for what in objects:
            row[f"watched {what}"] = (medians[(reader, what, True)] - medians[(reader, what, False)]) / n * 1e9
        row["os.environ.get"] = (env[(reader, True)] - env[(reader, False)]) / n * 1e9
    for _, _, watched in objects.values():
        watching.unwatch(watched)
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

    print(f"Python {sys.version.split()[0]}, {CORE} core: ns that recording adds per read")
    for reader, row in rows.items():
        print(f"  {reader}: " + ", ".join(f"{what} {ns:.0f}" for what, ns in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
