"""The benchmark suite runs end to end and reports real ratios.

Not a timing test: numbers are never compared with targets here.  CI runs
``benchmarks/run.py --quick`` only to prove that every part still works.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Tuple

import pytest

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
HAVE_PYPERFORMANCE = importlib.util.find_spec("pyperformance") is not None
PARTS = ("pyperformance", "peers", "micro", "import", "startup", "memory") if HAVE_PYPERFORMANCE else (
    "micro", "import", "startup", "memory")
#: Keys whose numbers are measurements: each must be a positive, finite number.
MEASURED = ("ratio", "geomean", "vs_peer", "peer_ratio", "peer_geomean", "vs_peer_geomean",
            "untracked_s", "tracked_s", "hooked_s", "untracked_ns", "tracked_ns", "peer_ns")


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN), *args], env=_env(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    process = _run("--quick", "--json", str(out), "--parts", ",".join(PARTS))
    assert process.returncode == 0, process.stderr
    assert "geometric mean" in process.stdout or not HAVE_PYPERFORMANCE
    return json.loads(out.read_text())


def _measured(node, path: str = "", inside: bool = False) -> Iterator[Tuple[str, object]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _measured(value, f"{path}/{key}", inside or key in MEASURED)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _measured(value, f"{path}/{index}", inside)
    elif inside and not isinstance(node, str):
        yield path, node


def test_every_part_ran(results):
    assert set(PARTS) <= set(results), results.keys()
    assert results["cores"] and results["quick"] is True


def test_every_measurement_is_a_positive_finite_number(results):
    found = list(_measured(results))
    # micro's figures are a difference of two medians (a lookup minus its empty
    # loop), clamped at 0: an untracked lookup can cost "nothing" within noise,
    # and a ratio to such a figure is None (not measured), never NaN.
    bad = [(path, value) for path, value in found
           if not (value is None and path.startswith("/micro/"))
           and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                or value < 0 or (value == 0 and not path.startswith("/micro/")))]
    assert not bad
    for part in set(PARTS) - {"memory"}:
        assert any(path.startswith(f"/{part}/") for path, _ in found), f"no ratio measured for {part}"


@pytest.mark.skipif(not HAVE_PYPERFORMANCE, reason="pyperformance is not installed")
def test_pyperformance_benchmarks_have_ratios_and_peers_count_the_same_loads(results):
    for core, part in results["pyperformance"].items():
        assert part["benchmarks"] and part["geomean"] > 0
    for core, part in results["peers"].items():
        assert part["peers"][0] == "settrace"
        if sys.version_info >= (3, 12):
            assert "monitoring" in part["peers"]
        for name, row in part["benchmarks"].items():
            assert row["loads_per_call"] > 0
            assert row["counts_match"] and all(row["counts_match"].values()), (name, row["counts_match"])


def test_memory_does_not_grow_with_lookups(results):
    for core, memory in results["memory"].items():
        assert memory["small"]["exact"] and memory["big"]["exact"]
        assert memory["big"]["lookups"] >= 1_000_000
        assert memory["same_entries"], memory


@pytest.mark.parametrize("args, message", [
    (("--only", "no_such_benchmark"), "unknown benchmark no_such_benchmark"),
    (("--parts", "pyperformance,nothing"), "unknown part nothing"),
    (("--rounds", "0"), "--rounds must be at least 1"),
    (("--core", "fortran"), "fortran"),
])
def test_bad_input_is_a_one_line_error(args, message):
    process = _run(*args, timeout=60)
    assert process.returncode == 2
    assert process.stdout == ""
    assert process.stderr.count("\n") == 1 and message in process.stderr


def test_thread_scaling_benchmark_runs():
    """benchmarks/threads.py (8-thread speed-up, tracked and untracked) works end to end."""
    script = RUN.parent / "threads.py"
    process = subprocess.run([sys.executable, str(script), "--quick"], env=_env(), capture_output=True,
                             text=True, timeout=600)
    assert process.returncode == 0, process.stderr
    lines = process.stdout.splitlines()
    assert lines[0].startswith("thread scaling: ")
    for label in ("untracked", "tracked"):
        [row] = [line for line in lines if line.split()[:3] == [label, "1", "thread"]]
        speedup = float(row.split("speed-up", 1)[1].split()[0].rstrip("x"))
        efficiency = float(row.split("CPU efficiency", 1)[1].split()[0])
        assert math.isfinite(speedup) and speedup > 0
        assert math.isfinite(efficiency) and efficiency > 0
