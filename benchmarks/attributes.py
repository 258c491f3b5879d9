"""What recording reads of tracked modules' attributes costs.

    python benchmarks/attributes.py [--quick] [--rounds N] [--clock wall|cpu] [--parts micro,pyperformance] [--only NAMES]

micro: ns per ``m.X`` in a loop (loop overhead subtracted), read from untracked
and from tracked code, of a module that is untracked, tracked with attribute
reads recorded (the default), and tracked without (``attributes = false``).

pyperformance: the subset of ``benchmarks/run.py``, each script loaded three
times (plain, tracked with attributes on, tracked with attributes off);
ratios to plain and on / off, geometric means.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from timing import geomean, interleaved, use_cpu_clock  # noqa: E402

OWNER = "X = 1\n"
READER = '''
def read(m, n):
    for _ in range(n):
        m.X

def empty(m, n):
    for _ in range(n):
        m
'''


def run_micro(rounds: int, n: int, workdir: Path) -> dict:
    from loading import load_twice

    plain_owner, on_owner = load_twice(workdir / "on", {"gh_owner_on": OWNER})["gh_owner_on"]
    _, off_owner = load_twice(workdir / "off", {"gh_owner_off": OWNER}, attributes=False)["gh_owner_off"]
    plain_reader, tracked_reader = load_twice(workdir / "reader", {"gh_reader": READER})["gh_reader"]
    owners = {"untracked module": plain_owner, "tracked, attributes on": on_owner, "tracked, attributes off": off_owner}
    readers = {"untracked reader": plain_reader, "tracked reader": tracked_reader}
    variants = {}
    for reader_label, reader in readers.items():
        variants[(reader_label, "loop")] = (lambda r=reader: r.empty(plain_owner, n))
        for owner_label, owner in owners.items():
            variants[(reader_label, owner_label)] = (lambda r=reader, o=owner: r.read(o, n))
    medians = interleaved(variants, rounds, 1)
    rows = {}
    for reader_label in readers:
        loop = medians[(reader_label, "loop")]
        rows[reader_label] = {
            owner_label: (medians[(reader_label, owner_label)] - loop) / n * 1e9 for owner_label in owners
        }
    return rows


def run_pyperformance(names, rounds: int, quick: bool, workdir: Path) -> dict:
    from run import _calibrate, _repeated
    from workloads import FULL, SMALL, load_pairs

    on = load_pairs(names, workdir / "on", "bm_")
    off = load_pairs(names, workdir / "off", "na_", attributes=False)
    rows = {}
    for name in names:
        size = SMALL[name] if quick else FULL
        plain, tracked_on = on[name].workloads(size)
        _, tracked_off = off[name].workloads(size)
        repeat = _calibrate(plain, 0.004 if quick else 0.1)
        medians = interleaved(
            {"untracked": _repeated(plain, repeat), "on": _repeated(tracked_on, repeat),
             "off": _repeated(tracked_off, repeat)},
            rounds, 0 if quick else 1,
        )
        base = medians["untracked"]
        rows[name] = {"on": medians["on"] / base, "off": medians["off"] / base, "on/off": medians["on"] / medians["off"]}
        print(f"{name:14s} " + "   ".join(f"{k} {v:5.3f}x" for k, v in rows[name].items()), flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/attributes.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round (proves it works)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 7; --quick 1)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--parts", default="micro,pyperformance")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated pyperformance benchmarks (default: the subset)")
    options = parser.parse_args(argv)
    if options.clock == "cpu":
        use_cpu_clock()
    from workloads import SUBSET

    from globalhook import tracking

    rounds = options.rounds or (1 if options.quick else 7)
    parts = options.parts.split(",")
    print(f"core: {tracking.CORE}; Python {'.'.join(map(str, sys.version_info[:3]))}; clock {options.clock}")
    with tempfile.TemporaryDirectory() as folder:
        if "micro" in parts:
            rows = run_micro(rounds, 20_000 if options.quick else 2_000_000, Path(folder) / "micro")
            print("ns per m.X (loop overhead subtracted):")
            for reader, row in rows.items():
                print(f"  {reader:17s} " + "   ".join(f"{k}: {v:6.1f}" for k, v in row.items()))
        if "pyperformance" in parts:
            names = options.only.split(",") if options.only else list(SUBSET)
            rows = run_pyperformance(names, rounds, options.quick, Path(folder) / "pyperformance")
            means = {key: geomean(row[key] for row in rows.values()) for key in ("on", "off", "on/off")}
            print(f"geometric mean, tracked / untracked: attributes on {means['on']:.3f}x, "
                  f"off {means['off']:.3f}x; on / off {means['on/off']:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
