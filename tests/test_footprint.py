"""What ``globalhook run`` loads before the program's first line: differential tests.

Every module the runner imports before the program starts is already loaded
when the program imports it, so the program can never track it (``--include
copy`` recorded nothing while dataclasses imported copy), and programs that
must patch modules before anything imports them (gevent, eventlet) break.

The probe prints ``sorted(sys.modules)`` as its first line, under plain
``python probe.py`` and under ``globalhook run probe.py``, with both cores.
globalhook is started from ``python -c`` here (a launcher that imports
nothing itself), and what ``-c`` alone loads is left out of the count; the
console script and ``python -m globalhook`` add their own launcher's modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest
from conftest import read_data

REPO = str(Path(__file__).resolve().parent.parent)
TIMEOUT = 120

PROBE = "import sys; print('\\n'.join(sorted(sys.modules)))\n"
LAUNCHER = "import sys; from globalhook.cli import main; sys.exit(main())"

#: None of these may be loaded before the program starts (issue 9, item 13).
FORBIDDEN = {
    "copy", "threading", "socket", "select", "selectors", "ssl", "multiprocessing", "pickle",
    "typing", "dataclasses", "inspect", "ctypes", "argparse", "uuid", "datetime",
}
#: What the pure-Python core's native strategy needs (the compiled core swaps the dict itself).
#: What ``import ctypes`` loads (3.14 adds sysconfig and, through it, threading):
#: the pure-Python core's native strategy needs ctypes for its md_dict swap.
CTYPES = {"ctypes", "_ctypes", "ctypes._endian", "struct", "_struct"}
LIMIT = 10
#: globalhook's own modules that may be loaded before the program starts: each is loaded in
#: every tracked process, so one more needs a reason here (the engine and process layers, and
#: the command line that started the run; no view, no answer).
PRELOADED = {
    "globalhook", "globalhook._ctracking", "globalhook.cli", "globalhook.startup", "globalhook.runner",
    "globalhook.session", "globalhook.sigterm", "globalhook.multiproc", "globalhook.osexit", "globalhook.datalock",
    "globalhook.replaceable", "globalhook.stdlibonly", "globalhook.config", "globalhook.integrations",
    "globalhook.runmain", "globalhook.finder", "globalhook.modules", "globalhook.picklers", "globalhook.postimport",
    "globalhook.patterns", "globalhook.classbodies", "globalhook.envreads", "globalhook.configreads",
    "globalhook.globalwrites", "globalhook.tracking",
}


def clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTHON"))}
    env["PYTHONPATH"] = REPO
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def modules(args: List[str], cwd: Path, **env: str) -> Set[str]:
    result = subprocess.run(
        [sys.executable, *args], cwd=str(cwd), env=clean_env(**env),
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def compiled_core_swaps_dicts() -> bool:
    try:
        from globalhook import _ctracking
    except ImportError:
        return False
    return hasattr(_ctracking, "set_module_dict")


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    (tmp_path / "probe.py").write_text(PROBE)
    return tmp_path / "probe.py"


@pytest.mark.parametrize("core", ["c", "python"])
def test_at_most_ten_modules_more_than_plain_python(tmp_path, probe, core):
    if core == "c":
        pytest.importorskip("globalhook._ctracking", reason="the compiled core is not built")
    plain = modules([str(probe)], tmp_path)
    launcher = modules(["-c", PROBE], tmp_path)  # what -c itself loads (3.13: linecache)
    tracked = modules(["-c", LAUNCHER, "run", "--data-file", "d.json", str(probe)], tmp_path, GLOBALHOOK_CORE=core)
    extra = tracked - plain - (launcher - plain)
    ours = {name for name in extra if name == "globalhook" or name.startswith("globalhook.")}
    others = extra - ours
    if core == "python" or not compiled_core_swaps_dicts():
        # ctypes and whatever it imports on this Python (3.14: sysconfig, threading).
        allowed = CTYPES | (modules(["-c", "import ctypes\n" + PROBE], tmp_path) - launcher)
    else:
        allowed = set()
    report = f"{len(others)} modules beyond plain python: {sorted(others)}"
    print(report)
    assert not (others & FORBIDDEN) - allowed, report
    assert len(others - allowed) <= LIMIT, report
    assert "globalhook.data" not in ours and "globalhook.report" not in ours  # only at exit
    assert ours <= PRELOADED, f"loaded before the program starts: {sorted(ours - PRELOADED)}"


def test_python_dash_m_globalhook_adds_only_what_runpy_does(tmp_path, probe):
    """``python -m globalhook`` loads runpy's modules too, as ``python -m`` anything does."""
    (tmp_path / "emptypkg").mkdir()
    (tmp_path / "emptypkg" / "__init__.py").write_text("")
    (tmp_path / "emptypkg" / "__main__.py").write_text(PROBE)
    dash_m = modules(["-m", "emptypkg"], tmp_path)
    tracked = modules(["-m", "globalhook", "run", "--data-file", "d.json", str(probe)], tmp_path)
    assert not (tracked - dash_m) & (FORBIDDEN - CTYPES)


def test_a_stdlib_module_the_program_imports_is_tracked(tmp_path):
    """``--include copy`` records the program's lookups in copy: nothing loaded it first."""
    (tmp_path / "prog.py").write_text("import copy\ncopy.deepcopy({'a': [1, 2]})\n")
    result = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--include", "copy", "--data-file", "d.json", "prog.py"],
        cwd=str(tmp_path), env=clean_env(), capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    data = read_data((tmp_path / "d.json"))
    found = [e for e in data["lookups"] if e["module"] == "copy" and e["function"] == "deepcopy"]
    assert found, data["not_tracked"]
    assert {"module": "copy", "reason": "already imported before globalhook started"} not in data["not_tracked"]


def test_multiprocessing_is_patched_only_when_the_program_imports_it(tmp_path):
    (tmp_path / "prog.py").write_text(
        "import sys\n"
        "print('multiprocessing' in sys.modules)\n"
        "import multiprocessing.process as p\n"
        "print(hasattr(p.BaseProcess._bootstrap, '__wrapped__'), type(p.__loader__).__name__,"
        " type(p.__spec__.loader).__name__)\n"
        "print([type(f).__name__ for f in sys.meta_path if 'Watcher' in type(f).__name__])\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--data-file", "d.json", "prog.py"],
        cwd=str(tmp_path), env=clean_env(), capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["False", "True SourceFileLoader SourceFileLoader", "[]"]
