"""benchmarks/floor.py and benchmarks/stdlib.py run end to end and report real figures.

Not timing tests: numbers are never compared with targets here, only checked
to be measurements (positive, finite) of the variants each script promises.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import c_core_built

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.skipif(not c_core_built(), reason="the floor types live in the compiled core")
def test_floor_reports_each_read_three_ways(tmp_path):
    out = tmp_path / "floor.json"
    done = _run("floor.py", "--quick", "--json", str(out))
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())["cpu_ns"]
    assert set(figures) == {"global", "builtin", "attribute"}
    for row in figures.values():
        assert set(row) == {"untracked", "floor", "tracked"}
        assert all(math.isfinite(value) and value >= 0 for value in row.values())
    assert "tracked/floor" in done.stdout


@pytest.mark.skipif(not c_core_built(), reason="the floor arm's types live in the compiled core")
def test_stdlib_programs_run_plain_floor_and_tracked(tmp_path):
    out = tmp_path / "stdlib.json"
    done = _run("stdlib.py", "--quick", "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    programs = report["programs"]
    assert set(programs) == {"copy", "pprint", "logging"}
    for row in programs.values():
        assert row["plain_s"] > 0 and row["floor_s"] > 0 and row["tracked_s"] > 0
        assert math.isclose(row["ratio"], row["tracked_s"] / row["plain_s"])
        assert math.isclose(row["floor_ratio"], row["floor_s"] / row["plain_s"])
        assert math.isclose(row["tracked_floor"], row["tracked_s"] / row["floor_s"])
    assert report["geomean_floor"] > 0
    assert "floor/plain" in done.stdout and "tracked/floor" in done.stdout


@pytest.mark.skipif(not c_core_built(), reason="the floor arm's types live in the compiled core")
def test_stdlib_floor_arm_runs_the_module_in_the_floor_types(tmp_path):
    """The floor runner is what stdlib.py runs: the module gets the floor dict, and the program works in it."""
    saved = list(sys.path)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import stdlib
    finally:
        sys.path[:] = saved  # stdlib.py puts its folder on the path too
    program = tmp_path / "prog.py"
    program.write_text(
        "import sys, pprint\n"
        "print('TYPES', type(pprint).__name__, type(vars(pprint)).__name__)\n"
        "print('OUT', pprint.pformat({'b': [1, 2], 'a': len('xy')}))\n")
    commands = stdlib._commands(tmp_path, "pprint", program)
    floor = subprocess.run(commands["floor"], capture_output=True, text=True, timeout=120)
    plain = subprocess.run(commands["plain"], capture_output=True, text=True, timeout=120)
    assert floor.returncode == 0, floor.stderr
    assert "TYPES _FloorModule _FloorDict" in floor.stdout
    assert "TYPES module dict" in plain.stdout
    out = [line for line in floor.stdout.splitlines() if line.startswith("OUT")]
    assert out == [line for line in plain.stdout.splitlines() if line.startswith("OUT")]


def _tiny_click(root: Path) -> Path:
    """A stand-in for click's sdist (the real one is downloaded): a package under src/ and a test of it."""
    (root / "src" / "click").mkdir(parents=True)
    (root / "src" / "click" / "__init__.py").write_text("RATE = 3\n\ndef scaled(x):\n    return x * RATE + len('ab')\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_basic.py").write_text(
        "import click\n\ndef test_scaled():\n    assert click.scaled(2) == 8\n")
    return root


def test_suite_cost_runs_a_suite_three_ways(tmp_path):
    out = tmp_path / "suite.json"
    source = _tiny_click(tmp_path / "click-src")
    done = _run("suite_cost.py", "--quick", "--source", str(source), "--json", str(out))
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert set(figures["cpu_s"]) == {"plain", "idle", "tracked"}
    assert all(value > 0 for value in figures["cpu_s"].values())
    assert math.isclose(figures["ratios"]["tracked"], figures["cpu_s"]["tracked"] / figures["cpu_s"]["plain"])
    assert not any(source.rglob(".globalhook.json*"))  # data goes to the benchmark's own folder


def test_suite_cost_names_a_source_that_is_not_a_suite(tmp_path):
    done = _run("suite_cost.py", "--quick", "--source", str(tmp_path))
    assert done.returncode == 2
    assert f"--source {tmp_path}: not an extracted click sdist" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not c_core_built(), reason="the floor types live in the compiled core")
def test_suite_cost_runs_the_floor_when_asked(tmp_path):
    out = tmp_path / "suite.json"
    source = _tiny_click(tmp_path / "click-src")
    done = _run("suite_cost.py", "--quick", "--source", str(source), "--variants", "plain,floor", "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert set(json.loads(out.read_text())["cpu_s"]) == {"plain", "floor"}
    assert "round 1/1 floor" in done.stderr
