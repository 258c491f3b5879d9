"""Programs whose standard-library modules are tracked by name: copy, pprint, logging.

    python benchmarks/stdlib.py [--quick] [--rounds N] [--json FILE]

Each program runs in a child process, plain (``python prog.py``) and under
``python -m globalhook run --include MODULE prog.py``, alternating, in
rounds.  The program times its own work with the CPU clock (start-up, the
import hook and writing the data file are left out), so each figure is the
cost of the tracked reads made inside the library.  Medians; ratio tracked /
plain per program and their geometric mean.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Dict

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from timing import geomean  # noqa: E402

_TIMED = """
import sys, time
def timed(work, repeat):
    work()  # warm up: first sights, specialisation
    start = time.process_time()
    for _ in range(repeat):
        work()
    print("SECONDS", time.process_time() - start)
"""

PROGRAMS: Dict[str, str] = {
    "copy": """
        import copy

        class Point:
            def __init__(self, x, y):
                self.x, self.y = x, y

        DATA = [{"name": f"n{i}", "tags": ("a", "b", i), "points": [Point(i, j) for j in range(5)],
                 "nested": {"k": [1, 2.0, None, True, {"deep": (i,)}]}} for i in range(60)]

        def work():
            copy.deepcopy(DATA)
            copy.copy(DATA)
    """,
    "pprint": """
        import pprint

        DATA = {f"key{i}": [{"id": i, "values": list(range(i % 7)), "label": "x" * (i % 13)},
                            (i, str(i), float(i)), {"inner": {"a": [i] * 3}}] for i in range(40)}

        def work():
            pprint.pformat(DATA, width=60)
            pprint.pformat(DATA, compact=True)
    """,
    "logging": """
        import io
        import logging

        STREAM = io.StringIO()
        handler = logging.StreamHandler(STREAM)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log = logging.getLogger("bench")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False

        def work():
            for i in range(200):
                log.info("item %d of %s", i, "batch")
                log.debug("not emitted %d", i)
            STREAM.seek(0)
            STREAM.truncate()
    """,
}
REPEAT = {"copy": 40, "pprint": 40, "logging": 40}


def _write(folder: Path, name: str, quick: bool) -> Path:
    repeat = 2 if quick else REPEAT[name]
    path = folder / f"prog_{name}.py"
    path.write_text(textwrap.dedent(_TIMED) + textwrap.dedent(PROGRAMS[name]) + f"\ntimed(work, {repeat})\n")
    return path


def _seconds(command, cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_") or k == "GLOBALHOOK_CORE"}
    done = subprocess.run(command, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("SECONDS ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"stdlib.py: {' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return float(lines[-1].split()[1])


def measure(rounds: int, quick: bool, names=tuple(PROGRAMS)) -> Dict[str, Dict[str, float]]:
    """name -> {plain_s, tracked_s, ratio}; also checks that the module was tracked."""
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name in names:
            program = _write(folder, name, quick)
            data = folder / f"{name}.json"
            plain = [sys.executable, str(program)]
            tracked = [sys.executable, "-m", "globalhook", "run", "--include", name, "--data-file", str(data),
                       str(program)]
            times = {"plain": [], "tracked": []}
            for round_no in range(rounds):
                order = ("plain", "tracked") if round_no % 2 == 0 else ("tracked", "plain")
                for label in order:
                    times[label].append(_seconds(plain if label == "plain" else tracked, folder))
            from globalhook.data import load

            recorded = load(str(data))
            if not any(entry.get("module") == name for entry in recorded.get("lookups", [])):
                raise SystemExit(f"stdlib.py: {name} was not tracked (no lookups recorded for it)")
            plain_s, tracked_s = statistics.median(times["plain"]), statistics.median(times["tracked"])
            results[name] = {"plain_s": plain_s, "tracked_s": tracked_s, "ratio": tracked_s / plain_s}
            print(f"{name:10s} plain {plain_s * 1e3:8.1f} ms   tracked {tracked_s * 1e3:8.1f} ms   "
                  f"{tracked_s / plain_s:5.2f}x", flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/stdlib.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round (proves it works)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 7; --quick 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    options = parser.parse_args(argv)
    rounds = options.rounds or (1 if options.quick else 7)
    from globalhook import tracking

    version = ".".join(map(str, sys.version_info[:3]))
    print(f"core: {tracking.CORE}; Python {version}; CPU time inside each program, medians of {rounds} rounds")
    results = measure(rounds, options.quick)
    mean = geomean(row["ratio"] for row in results.values())
    print(f"geometric mean, tracked / plain: {mean:.3f}x")
    if options.json:
        Path(options.json).write_text(json.dumps({"python": version, "core": tracking.CORE, "programs": results,
                                                  "geomean": mean}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
