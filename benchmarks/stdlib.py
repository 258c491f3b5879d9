"""Programs whose standard-library modules are tracked by name: copy, pprint, logging.

    python benchmarks/stdlib.py [--quick] [--rounds N] [--instructions] [--json FILE]

Each program runs in a child process three ways, interleaved round by round
in a rotating order:

- ``plain``: ``python prog.py``;
- ``floor``: the same program with the same modules (the name and its
  submodules) imported into ``_ctracking._FloorModule`` objects whose
  ``__dict__`` is a ``_ctracking._FloorDict``: the dict subclass and module
  subtype of ``benchmarks/floor.py``, whose lookups only look up.  What any
  dict-subclass namespace costs, with nothing recorded;
- ``tracked``: ``python -m globalhook run --include MODULE prog.py``.

The program times its own work with the CPU clock (start-up, the import hook
and writing the data file are left out).  Medians; per program tracked /
plain, floor / plain and tracked / floor, and their geometric means.
``--instructions``: each arm is also run under ``valgrind --tool=callgrind``
with two repeat counts; the difference is the instructions of the extra
``work()`` calls, which load does not change.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from timing import FLOOR_IMPORT_HOOK, geomean, has_floor_types, python_version  # noqa: E402

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
ARMS = ("plain", "floor", "tracked")

#: The floor arm's runner: imports the module (and its submodules) into floor
#: types, then runs the program as ``__main__``.  Only modules Python loads
#: at start-up are imported before the hook; it refuses to run if the module
#: was among them, and checks afterwards that the module has the floor dict.
_FLOOR_RUNNER = """
import sys
import types

NAME, PROGRAM = sys.argv[1], sys.argv[2]
""" + FLOOR_IMPORT_HOOK + """
sys.argv = [PROGRAM]
main = types.ModuleType("__main__")
main.__file__ = PROGRAM
sys.modules["__main__"] = main
with open(PROGRAM) as source:
    code = compile(source.read(), PROGRAM, "exec")
exec(code, vars(main))
if type(vars(sys.modules[NAME])) is not _ctracking._FloorDict:
    raise SystemExit(f"floor runner: {NAME} does not have the floor dict")
"""


def _write(folder: Path, name: str, repeat: int) -> Path:
    path = folder / f"prog_{name}_{repeat}.py"
    path.write_text(textwrap.dedent(_TIMED) + textwrap.dedent(PROGRAMS[name]) + f"\ntimed(work, {repeat})\n")
    return path


def _commands(folder: Path, name: str, program: Path) -> Dict[str, List[str]]:
    runner = folder / "floor_runner.py"
    runner.write_text(_FLOOR_RUNNER)
    data = folder / f"{name}.json"
    return {
        "plain": [sys.executable, str(program)],
        "floor": [sys.executable, str(runner), name, str(program)],
        "tracked": [sys.executable, "-m", "globalhook", "run", "--include", name, "--data-file", str(data),
                    str(program)],
    }


def _env() -> Dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_") or k == "GLOBALHOOK_CORE"}


def _seconds(command, cwd: Path) -> float:
    done = subprocess.run(command, cwd=str(cwd), env=_env(), capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("SECONDS ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"stdlib.py: {' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return float(lines[-1].split()[1])


def _check_tracked(data: Path, name: str) -> None:
    from globalhook.data import load

    recorded = load(str(data))
    if not any(entry.get("module") == name for entry in recorded.get("lookups", [])):
        raise SystemExit(f"stdlib.py: {name} was not tracked (no lookups recorded for it)")


def _ratios(row: Dict[str, float]) -> Dict[str, float]:
    return {"ratio": row["tracked"] / row["plain"], "floor_ratio": row["floor"] / row["plain"],
            "tracked_floor": row["tracked"] / row["floor"]}


def measure(rounds: int, quick: bool, names=tuple(PROGRAMS)) -> Dict[str, Dict[str, float]]:
    """name -> {plain_s, floor_s, tracked_s, ratio, floor_ratio, tracked_floor}."""
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name in names:
            program = _write(folder, name, 2 if quick else REPEAT[name])
            commands = _commands(folder, name, program)
            times: Dict[str, List[float]] = {arm: [] for arm in ARMS}
            for round_no in range(rounds):
                shift = round_no % len(ARMS)
                for arm in ARMS[shift:] + ARMS[:shift]:
                    times[arm].append(_seconds(commands[arm], folder))
            _check_tracked(folder / f"{name}.json", name)
            medians = {arm: statistics.median(values) for arm, values in times.items()}
            results[name] = {f"{arm}_s": medians[arm] for arm in ARMS}
            results[name].update(_ratios(medians))
            _print_row(name, medians, "ms", 1e3)
    return results


def _print_row(name: str, row: Dict[str, float], unit: str, scale: float) -> None:
    ratios = _ratios(row)
    print(f"{name:8s}" + "".join(f" {arm} {row[arm] * scale:9.1f} {unit}" for arm in ARMS)
          + f"   tracked/plain {ratios['ratio']:5.2f}x  floor/plain {ratios['floor_ratio']:5.2f}x"
          f"  tracked/floor {ratios['tracked_floor']:5.2f}x", flush=True)


# -- instruction counts (valgrind) -------------------------------------------

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _instructions(command: List[str], cwd: Path) -> int:
    out = cwd / "callgrind.out"
    done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command], cwd=str(cwd),
                          env=dict(_env(), PYTHONHASHSEED="0"), capture_output=True, text=True, timeout=1800)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"stdlib.py: valgrind run of {' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure_instructions(extra: int, names=tuple(PROGRAMS)) -> Dict[str, Dict[str, float]]:
    """name -> arm -> instructions per work() call: runs with 1 + extra and 1 repeats, differenced."""
    if shutil.which("valgrind") is None:
        raise SystemExit("stdlib.py: --instructions needs valgrind on PATH")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name in names:
            short, long = _write(folder, name, 1), _write(folder, name, 1 + extra)
            row = {}
            for arm in ARMS:
                counts = [_instructions(_commands(folder, name, program)[arm], folder) for program in (short, long)]
                row[arm] = (counts[1] - counts[0]) / extra
            results[name] = dict(row, **_ratios(row))
            _print_row(name, row, "M", 1e-6)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/stdlib.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round (proves it works)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 7; --quick 1)")
    parser.add_argument("--only", action="append", choices=tuple(PROGRAMS), help="this program only (repeatable)")
    parser.add_argument("--instructions", action="store_true", help="also count instructions under valgrind")
    parser.add_argument("--instruction-repeats", type=int, default=None, metavar="N",
                        help="extra work() calls counted under valgrind (default 5; --quick 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    options = parser.parse_args(argv)
    rounds = options.rounds or (1 if options.quick else 7)
    names = tuple(options.only or PROGRAMS)
    from globalhook import tracking

    if not has_floor_types():
        raise SystemExit("stdlib.py: the floor arm needs the compiled core's floor types, which are not built here")
    version = python_version()
    print(f"core: {tracking.CORE}; Python {version}; CPU time inside each program, medians of {rounds} rounds")
    results = measure(rounds, options.quick, names)
    summary = {key: geomean(row[key] for row in results.values()) for key in ("ratio", "floor_ratio", "tracked_floor")}
    print(f"geometric mean: tracked/plain {summary['ratio']:.3f}x  floor/plain {summary['floor_ratio']:.3f}x  "
          f"tracked/floor {summary['tracked_floor']:.3f}x")
    report = {"python": version, "core": tracking.CORE, "programs": results, "geomean": summary["ratio"],
              "geomean_floor": summary["floor_ratio"], "geomean_tracked_floor": summary["tracked_floor"]}
    if options.instructions:
        extra = options.instruction_repeats or (1 if options.quick else 5)
        print(f"Instructions per work() call (valgrind --tool=callgrind, {extra} extra calls):")
        report["instructions"] = measure_instructions(extra, names)
    if options.json:
        Path(options.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
