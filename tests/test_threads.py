"""Counts stay exact under threads, with either core, on every build.

On free-threaded CPython (3.14t) threads really run at once: the compiled
core steps its counters atomically and creates a code object's tables under
a lock, the pure-Python core relies on ``itertools.count`` stepping
atomically.  Each program runs under ``globalhook run`` in a fresh process
(the core comes from ``GLOBALHOOK_CORE``, as tox sets it) and reports the
counts it expects; the data file must hold exactly those.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import read_data

REPO = str(Path(__file__).resolve().parent.parent)
THREADS = 8

HAMMER = f'''
import sys
import threading

THREADS = {THREADS}
N = 20000
SHARED = 1
OTHER = 2
barrier = threading.Barrier(THREADS)

def hammer():
    barrier.wait()
    total = 0
    for _ in range(N):
        total += SHARED + OTHER + len("x")
    return total

def fresh(round_):
    # A new code object every round: all threads meet its first sight at once
    # (table creation, counter creation, load sites).
    namespace = globals()
    exec(f"def first_sight_{{round_}}():\\n    barrier.wait()\\n    return SHARED + abs(OTHER)\\n", namespace)
    return namespace[f"first_sight_{{round_}}"]

def store():
    barrier.wait()
    for _ in range(N // 10):
        globals()["SETTABLE"] = 1

def run(target, *args):
    threads = [threading.Thread(target=target, args=args) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

run(hammer)
ROUNDS = 20
for round_ in range(ROUNDS):
    run(fresh(round_))
run(store)
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print(json.dumps({{"gil": gil, "free_threaded": bool(__import__("sysconfig").get_config_var("Py_GIL_DISABLED"))}}))
'''

IMPORTER = f'''
import importlib
import sys
import threading

THREADS = {THREADS}
barrier = threading.Barrier(THREADS)
errors = []

def work(index):
    barrier.wait()
    try:
        for j in range(10):
            # Half the names are imported by several threads at once.
            module = importlib.import_module(f"tracked_{{(index * 10 + j) % 40}}")
            for _ in range(1000):
                module.read()
    except BaseException as error:
        errors.append(repr(error))

threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("errors", errors)
'''


def run_tracked(folder: Path, program: str, *options: str) -> tuple:
    (folder / "prog.py").write_text(program)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_") or k == "GLOBALHOOK_CORE"}
    env.update(PYTHONPATH=REPO, PYTHONDONTWRITEBYTECODE="1")
    data_file = folder / "data.json"
    completed = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--data-file", str(data_file), *options, "prog.py"],
        cwd=str(folder), env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout, read_data(data_file)["lookups"]


def counts(lookups: list, function: str) -> dict:
    return {(e["name"], e["kind"]): e["count"] for e in lookups if e["function"] == function}


def test_eight_threads_count_exactly(tmp_path):
    stdout, lookups = run_tracked(tmp_path, textwrap.dedent("import json\n") + HAMMER)
    n = 20000
    assert counts(lookups, "hammer") == {
        ("barrier", "global"): 8,
        ("range", "builtin"): 8,
        ("N", "global"): 8,
        ("SHARED", "global"): 8 * n,
        ("OTHER", "global"): 8 * n,
        ("len", "builtin"): 8 * n,
    }
    for round_ in range(20):
        assert counts(lookups, f"first_sight_{round_}") == {
            ("barrier", "global"): 8,
            ("SHARED", "global"): 8,
            ("OTHER", "global"): 8,
            ("abs", "builtin"): 8,
        }, round_
    assert counts(lookups, "store")[("SETTABLE", "store")] == 8 * (n // 10)
    info = json.loads(stdout.splitlines()[-1])
    if info["free_threaded"]:
        assert info["gil"] is False  # importing the compiled core did not turn the GIL back on


def test_threads_import_tracked_modules_at_once(tmp_path):
    for i in range(40):
        (tmp_path / f"tracked_{i}.py").write_text(f"VALUE = {i}\ndef read():\n    return VALUE + len('ab')\n")
    stdout, lookups = run_tracked(tmp_path, IMPORTER, "--include", "tracked_*")
    assert stdout.strip() == "errors []"
    reads = {e["module"]: e["count"] for e in lookups if e["function"] == "read" and e["name"] == "VALUE"}
    # work(i) imports tracked_{(10 i + j) % 40}: each module is read by 2 threads, 1000 times each.
    assert reads == {f"tracked_{i}": 2000 for i in range(40)}
