"""The compiled core records exactly what the pure-Python core records.

The same probe program runs under ``GLOBALHOOK_CORE=python`` and
``GLOBALHOOK_CORE=c``; its output and the data files must be identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from globalhook import tracking

from conftest import read_data

PROBE = '''\
import pickle
import sys
import threading

LIMIT = 3
table = {}

def reads():
    total = 0
    for i in range(LIMIT):
        total += len(str(i))
    return total

def misses():
    out = []
    for name in ("nope", "also_nope"):
        try:
            eval(name)
        except NameError as error:
            out.append(type(error).__name__)
    try:
        return undefined_thing
    except NameError:
        return out

def writes():
    global counter, gone
    counter = 1
    gone = 2
    del gone
    table["k"] = counter

def explicit():
    namespace = globals()
    found = [namespace["LIMIT"]]
    try:
        namespace["len"]
    except KeyError as error:
        found.append(("KeyError", error.args))
    return found

def comprehension_and_generator():
    squares = [LIMIT * x for x in range(LIMIT)]
    return squares, list(x + LIMIT for x in range(2)), (lambda: LIMIT)()

class Shape:
    sides = LIMIT
    def area(self):
        return LIMIT * self.sides

def exec_in_module():
    exec("result = max(LIMIT, 1)", globals())
    return eval("result + min(1, 2)", globals())

def in_threads():
    def work():
        for _ in range(1000):
            LIMIT
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

print(reads(), misses(), explicit(), comprehension_and_generator())
writes()
print(Shape().area(), exec_in_module(), pickle.loads(pickle.dumps(table)))
in_threads()
try:
    explode_here
except NameError as error:
    print("module level:", error)
'''


REPO = str(Path(__file__).resolve().parent.parent)


def env_with(core: str) -> dict:
    """The repo importable, no other globalhook settings, this core."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env.update(PYTHONPATH=REPO, PYTHONDONTWRITEBYTECODE="1", GLOBALHOOK_CORE=core)
    return env


def run_with_core(core: str, folder: Path) -> tuple:
    data_file = folder / f"{core}.json"
    env = env_with(core)
    completed = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--data-file", str(data_file), "probe.py"],
        cwd=str(folder), env=env, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    data = read_data(data_file)
    return completed.stdout, data


def c_core_available() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import globalhook.tracking as t; print(t.CORE)"],
        env=env_with("auto"), capture_output=True, text=True,
    )
    return probe.stdout.strip() == "c"


@pytest.fixture(scope="module")
def compiled() -> None:
    if not c_core_available():
        if os.environ.get("GLOBALHOOK_REQUIRE_C"):
            pytest.fail("GLOBALHOOK_REQUIRE_C is set but the compiled core is not built")
        pytest.skip("the compiled core is not built here")


def _identity(entry: dict) -> tuple:
    return tuple(entry[k] for k in ("module", "function", "file", "line", "name", "kind"))


def comparable(c_lookups: list, python_lookups: list) -> list:
    """The compiled core's entries, its counted `global` writes shown as the pure core's static ones.

    On 3.12+ the compiled core counts STORE_GLOBAL/DELETE_GLOBAL (a dict
    watcher); the pure-Python core lists the same writes, found by a scan, with
    ``"static": true`` and no count.  Everything else must be identical.
    """
    static = {_identity(e) for e in python_lookups if e.get("static")}
    if not static or any(e.get("static") for e in c_lookups):
        return c_lookups
    result = []
    for entry in c_lookups:
        if _identity(entry) in static and not entry.get("context"):
            assert entry["count"] >= 1, entry
            entry = dict(entry, count=0, static=True)
        result.append(entry)
    return result


def test_both_cores_record_the_same(compiled, tmp_path):
    (tmp_path / "probe.py").write_text(PROBE)
    python_out, python_data = run_with_core("python", tmp_path)
    c_out, c_data = run_with_core("c", tmp_path)
    assert c_out == python_out
    assert [run["core"] for run in python_data["runs"] + c_data["runs"]] == ["python", "c"]
    assert comparable(c_data["lookups"], python_data["lookups"]) == python_data["lookups"]
    kinds = {entry["kind"] for entry in c_data["lookups"]}
    assert kinds == {"global", "builtin", "missing", "store", "delete"}
    threaded = [e for e in c_data["lookups"] if e["function"] == "in_threads.<locals>.work" and e["name"] == "LIMIT"]
    assert threaded[0]["count"] == 4000


def test_core_is_chosen_by_environment():
    def core_for(value: str) -> str:
        out = subprocess.run(
            [sys.executable, "-c", "import globalhook.tracking as t; print(t.CORE, t.CORE_PROBLEM)"],
            env=env_with(value), capture_output=True, text=True, check=True,
        )
        return out.stdout.strip()

    assert core_for("python") == "python None"
    assert core_for("sideways").startswith("python GLOBALHOOK_CORE: expected 'auto', 'c' or 'python', got 'sideways'")


def test_run_refuses_a_bad_core_setting(tmp_path):
    (tmp_path / "prog.py").write_text("print('ran')\n")
    completed = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "prog.py"],
        cwd=str(tmp_path), env=env_with("fast"), capture_output=True, text=True,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.strip().splitlines() == [
        "globalhook: error: GLOBALHOOK_CORE: expected 'auto', 'c' or 'python', got 'fast'"
    ]


def test_in_process_core_matches_the_class():
    base = tracking.TrackingDict.__mro__[1]
    assert (tracking.CORE, base.__name__) in {("python", "_PyTrackingDict"), ("c", "TrackingDictBase")}
    assert tracking.TrackingDict.__basicsize__ == dict.__basicsize__
