"""What one recorded read costs, beside the floor: the same read recording nothing.

    python benchmarks/floor.py [--quick] [--rounds N] [--instructions] [--json FILE]

Three reads, each in a tight loop of 20 reads per iteration (the same loop
with no reads is subtracted): a module global (``G``), a builtin (``len``)
and a module attribute (``m.X``).  Each is made three ways:

- ``untracked``: a plain module (an exact dict, an exact module);
- ``floor``: the generic path with nothing recorded: the same code run with
  ``_ctracking._FloorDict`` as its globals (a dict subclass whose lookup only
  looks up; a miss hands back the frame's builtin, as the tracking dict does),
  and ``m`` a ``_ctracking._FloorModule`` (a module subtype whose attribute
  lookup is ModuleType's own);
- ``tracked``: a module imported through ``globalhook.install``, with the core
  GLOBALHOOK_CORE selects.

CPU time: the variants run interleaved in this process; the medians give ns
per read and the ratio tracked / floor.  ``--instructions``: each variant is
run again in a child process under ``valgrind --tool=callgrind``, which
counts the instructions executed whatever the machine's load; per read is
(instructions of the loop with reads - of the same loop without) / reads.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from timing import has_floor_types, interleaved, python_version, use_cpu_clock  # noqa: E402

PER_ITERATION = 20
KINDS = ("global", "builtin", "attribute")
VARIANTS = ("untracked", "floor", "tracked")

READER = f'''
G = 1

def empty(m, n):
    for _ in range(n):
        pass

def global_(m, n):
    for _ in range(n):
        {"; ".join(["G"] * PER_ITERATION)}

def builtin(m, n):
    for _ in range(n):
        {"; ".join(["len"] * PER_ITERATION)}

def attribute(m, n):
    for _ in range(n):
        {"; ".join(["m.X"] * PER_ITERATION)}
'''
OWNER = "X = 1\n"
FUNCTIONS = {"global": "global_", "builtin": "builtin", "attribute": "attribute"}


def _floor_reader(path: Path) -> Dict[str, object]:
    from globalhook import _ctracking

    namespace = _ctracking._FloorDict(__name__="gh_floor_reader", __builtins__=__builtins__)
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def _floor_owner():
    from globalhook import _ctracking

    owner = _ctracking._FloorModule("gh_floor_owner")
    exec(OWNER, vars(owner))
    return owner


def setups(workdir: Path) -> Dict[str, Tuple[Callable, Callable, object]]:
    """variant -> (reader's function by name, owner module)."""
    from loading import load_twice

    loaded = load_twice(workdir, {"gh_floor_reader": READER, "gh_floor_owner": OWNER})
    plain_reader, tracked_reader = loaded["gh_floor_reader"]
    plain_owner, tracked_owner = loaded["gh_floor_owner"]
    floor = _floor_reader(workdir / "gh_floor_reader.py")
    return {
        "untracked": (lambda name: getattr(plain_reader, name), plain_owner),
        "floor": (lambda name: floor[name], _floor_owner()),
        "tracked": (lambda name: getattr(tracked_reader, name), tracked_owner),
    }


def measure_cpu(workdir: Path, iterations: int, rounds: int) -> Dict[str, Dict[str, float]]:
    """kind -> variant -> ns per read (CPU time, medians of interleaved rounds)."""
    use_cpu_clock()
    made = setups(workdir)
    variants = {}
    for variant, (function, owner) in made.items():
        variants[(variant, "empty")] = (lambda f=function("empty"), m=owner: f(m, iterations))
        for kind in KINDS:
            variants[(variant, kind)] = (lambda f=function(FUNCTIONS[kind]), m=owner: f(m, iterations))
    medians = interleaved(variants, rounds)
    reads = iterations * PER_ITERATION
    return {kind: {variant: max(medians[(variant, kind)] - medians[(variant, "empty")], 0.0) / reads * 1e9
                   for variant in VARIANTS} for kind in KINDS}


# -- instruction counts (valgrind) -------------------------------------------

def _child(workdir: Path, variant: str, function_name: str, iterations: int) -> None:
    function, owner = setups(workdir)[variant]
    for kind in KINDS:  # first sights (the slow path) happen before, in both runs alike
        function(FUNCTIONS[kind])(owner, 1)
    function(function_name)(owner, iterations)


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _instructions(variant: str, function_name: str, iterations: int, env: Dict[str, str]) -> int:
    with tempfile.TemporaryDirectory() as folder:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out", sys.executable,
                   str(Path(__file__).resolve()), "--child", variant, function_name, str(iterations), folder]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"floor.py: valgrind run of {variant} {function_name} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure_instructions(iterations: int) -> Dict[str, Dict[str, float]]:
    """kind -> variant -> instructions per read (valgrind callgrind)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("floor.py: --instructions needs valgrind on PATH")
    env = dict(os.environ, PYTHONHASHSEED="0")
    reads = iterations * PER_ITERATION
    result: Dict[str, Dict[str, float]] = {kind: {} for kind in KINDS}
    for variant in VARIANTS:
        base = _instructions(variant, "empty", iterations, env)
        for kind in KINDS:
            result[kind][variant] = (_instructions(variant, FUNCTIONS[kind], iterations, env) - base) / reads
    return result


def _table(title: str, rows: Dict[str, Dict[str, float]], unit: str) -> None:
    print(title)
    print(f"  {'read':10s}" + "".join(f"{v:>12s}" for v in VARIANTS) + f"{'tracked/floor':>15s}")
    for kind, row in rows.items():
        ratio = row["tracked"] / row["floor"] if row["floor"] > 0 else float("nan")
        print(f"  {kind:10s}" + "".join(f"{row[v]:12.1f}" for v in VARIANTS) + f"{ratio:14.2f}x")
    print(f"  ({unit})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/floor.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round (proves it works)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 9; --quick 1)")
    parser.add_argument("--instructions", action="store_true", help="also count instructions under valgrind")
    parser.add_argument("--instruction-loops", type=int, default=None, metavar="N",
                        help="loop iterations per valgrind run (default 20000; --quick 200)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        variant, function_name, iterations, folder = options.child
        _child(Path(folder), variant, function_name, int(iterations))
        return 0
    from globalhook import tracking

    if tracking.CORE != "c" and not has_floor_types():
        raise SystemExit("floor.py: the floor types live in the compiled core, which is not built here")
    rounds = options.rounds or (1 if options.quick else 9)
    iterations = 2_000 if options.quick else 200_000
    version = python_version()
    print(f"core: {tracking.CORE}; Python {version}")
    results = {"core": tracking.CORE, "python": version}
    with tempfile.TemporaryDirectory() as folder:
        results["cpu_ns"] = measure_cpu(Path(folder), iterations, rounds)
    _table(f"CPU time per read, medians of {rounds} interleaved rounds:", results["cpu_ns"], "ns")
    if options.instructions:
        loops = options.instruction_loops or (200 if options.quick else 20_000)
        results["instructions"] = measure_instructions(loops)
        _table("Instructions per read (valgrind --tool=callgrind):", results["instructions"], "instructions")
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
