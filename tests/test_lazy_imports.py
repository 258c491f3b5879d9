"""PEP 810 (CPython 3.15) lazy imports in a tracked module: seen exactly as untracked.

A ``lazy import`` binds a lazy-import object in the module's dict; a name
lookup (``LOAD_GLOBAL``, ``LOAD_NAME``) reifies it and puts the real object in
its place, while reading the dict itself (``globals()[name]``) hands back the
lazy object.  The program must see the same in a tracked module: never a
lazy object where untracked code gets the real one, nor the reverse.  A
differential test: the same program under ``python`` and under
``globalhook run`` (both strategies, whichever core tox selects).  Runs on
3.15+ only; written from the PEP and CPython's sources, not run here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import read_data

pytestmark = pytest.mark.skipif(sys.version_info < (3, 15), reason="lazy imports arrive in CPython 3.15 (PEP 810)")

REPO = str(Path(__file__).resolve().parent.parent)

TARGET = "VALUE = 42\ndef helper():\n    return 'helped'\n"

PROGRAM = '''\
import sys
lazy import lazy_target
lazy from lazy_target import helper as lazy_helper

def kind(name):
    return type(globals()[name]).__name__

def use():
    return lazy_target.VALUE, lazy_helper()

print("loaded before use:", "lazy_target" in sys.modules)
print("dict holds:", kind("lazy_target"), kind("lazy_helper"))
print("use:", use())
print("loaded after use:", "lazy_target" in sys.modules)
print("dict holds:", kind("lazy_target"), kind("lazy_helper"))
print("module level:", lazy_target.__name__, lazy_helper.__name__)
'''


def run(folder: Path, *command: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_") or k == "GLOBALHOOK_CORE"}
    env.update(PYTHONPATH=REPO, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, *command], cwd=str(folder), env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("strategy", ["native", "proxy"])
def test_lazy_names_resolve_as_untracked(tmp_path: Path, strategy: str) -> None:
    (tmp_path / "lazy_target.py").write_text(TARGET)
    (tmp_path / "prog.py").write_text(PROGRAM)
    plain = run(tmp_path, "prog.py")
    assert plain.returncode == 0, plain.stderr
    assert "loaded before use: False" in plain.stdout  # the import really was lazy
    tracked = run(tmp_path, "-m", "globalhook", "run", "--strategy", strategy,
                  "--data-file", str(tmp_path / "d.json"), "prog.py")
    assert tracked.returncode == 0, tracked.stderr
    assert tracked.stdout == plain.stdout
    lookups = read_data((tmp_path / "d.json"))["lookups"]
    reads = {(e["function"], e["name"]) for e in lookups if e["kind"] == "global" and e["module"] == "__main__"}
    assert {("use", "lazy_target"), ("use", "lazy_helper")} <= reads
