"""What per-test contexts cost: the pyperformance subset tracked without a
context, inside one context, and switching context on every call (the
worst case: a test suite of one-call tests).

    python benchmarks/contexts.py [--quick] [--rounds N] [--only NAMES]

Prints, per benchmark, untracked time and the three tracked ratios, then the
geometric means and the cost of contexts relative to tracking without them.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from timing import geomean, interleaved  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/contexts.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round (proves it works)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 7; --quick 1)")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated benchmarks (default: the subset)")
    options = parser.parse_args(argv)
    from run import _calibrate, _repeated
    from workloads import FULL, SMALL, SUBSET, load_pairs

    import globalhook
    from globalhook import tracking

    names = options.only.split(",") if options.only else list(SUBSET)
    rounds = options.rounds or (1 if options.quick else 7)
    labels = itertools.cycle(f"tests/test_x.py::test_{i}|call" for i in range(50))
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        pairs = load_pairs(names, Path(folder))
        for name, pair in pairs.items():
            plain, tracked = pair.workloads(SMALL[name] if options.quick else FULL)
            repeat = _calibrate(plain, 0.004 if options.quick else 0.1)

            def in_context(run=_repeated(tracked, repeat)):
                with globalhook.context("tests/test_x.py::test_one|call"):
                    run()

            def switching(run=tracked):
                for _ in range(repeat):
                    globalhook.set_context(next(labels))
                    run()
                globalhook.set_context("")

            medians = interleaved(
                {
                    "untracked": _repeated(plain, repeat),
                    "no context": _repeated(tracked, repeat),
                    "one context": in_context,
                    "switching": switching,
                },
                rounds,
                0 if options.quick else 1,
            )
            base = medians["untracked"]
            rows[name] = {key: value / base for key, value in medians.items() if key != "untracked"}
            print(
                f"{name:14s} untracked {base / repeat * 1e3:8.3f} ms   "
                + "   ".join(f"{key} {ratio:5.2f}x" for key, ratio in rows[name].items()),
                flush=True,
            )
    means = {key: geomean(row[key] for row in rows.values()) for key in ("no context", "one context", "switching")}
    print(f"\ncore: {tracking.CORE}; Python {'.'.join(map(str, sys.version_info[:3]))}")
    print("geometric mean, tracked / untracked: " + ", ".join(f"{k} {v:.3f}x" for k, v in means.items()))
    print(
        "contexts cost, relative to tracking without: "
        f"one context {means['one context'] / means['no context'] - 1:+.1%}, "
        f"switching every call {means['switching'] / means['no context'] - 1:+.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
