"""IPython: ``%load_ext globalhook`` tracks the user namespace, driven by a ``.ipy`` script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("IPython", reason="IPython is not installed for this Python (pip install -e '.[test]')")

from globalhook.tracking import CORE  # noqa: E402

from conftest import read_data

REPO = str(Path(__file__).resolve().parent.parent)
TIMEOUT = 180

#: Notebook hidden state: a cell's function reads a variable an earlier cell defined, and a later cell changed.
NOTEBOOK = """\
threshold = 10
def defined_before():
    return threshold
%load_ext globalhook
import globalhook
def is_large(value):
    return value > threshold
print(is_large(5))
threshold = 3
print(is_large(5))
defined_before()
print("reads", globalhook.reads(is_large), globalhook.reads(defined_before))
%globalhook report
%globalhook save saved.json
"""


def env() -> dict:
    result = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_") or k == "GLOBALHOOK_CORE"}
    result["PYTHONPATH"] = REPO
    result["PYTHONDONTWRITEBYTECODE"] = "1"
    result["IPYTHONDIR"] = ""  # replaced per test: no profile of this machine
    return result


def ipython(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    (tmp_path / "nb.ipy").write_text(script)
    variables = env()
    variables["IPYTHONDIR"] = str(tmp_path / "ipythondir")
    return subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=nocolor", "nb.ipy"],
        cwd=str(tmp_path), env=variables, capture_output=True, text=True, timeout=TIMEOUT,
    )


#: IPython's history thread is running: the pure-Python core cannot retype while threads run on 3.14t.
REFUSED = "free-threading" in sys.version and CORE == "python"


@pytest.fixture
def notebook(tmp_path):
    result = ipython(tmp_path, NOTEBOOK)
    if REFUSED:
        assert (
            "globalhook: cannot attach '__main__': other threads are running on this free-threaded build, "
            "and the pure-Python core cannot stop them while it retypes (the compiled core can)\n"
        ) in result.stderr
        pytest.skip("refused, as it should be: the pure-Python core on a free-threaded build with IPython's thread")
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp_path, result


def test_functions_of_later_and_earlier_cells_are_tracked(notebook):
    _, result = notebook
    lines = result.stdout.splitlines()
    assert lines[:3] == ["False", "True", "reads {'threshold': 2} {'threshold': 1}"]


def test_report_magic_prints_the_report_text(notebook):
    folder, result = notebook
    report = result.stdout.split("reads ", 1)[1].split("\n", 1)[1]
    text = subprocess.run(
        [sys.executable, "-m", "globalhook", "report", "--data-file", "saved.json"],
        cwd=str(folder), env=env(),
        capture_output=True, text=True, timeout=TIMEOUT,
    ).stdout
    # Same text, apart from the run's finish time and what the second snapshot counted more.
    assert report.splitlines()[2:6] == text.splitlines()[2:6]
    assert "is_large  (<ipython-input-" in report
    block = report.split("is_large  (<ipython-input-", 1)[1].splitlines()
    assert block[1].split() == ["threshold", "global", "2"]


def test_ipython_own_lookups_are_left_out(notebook):
    folder, _ = notebook
    data = read_data((folder / "saved.json"))
    files = {e["file"] for e in data["lookups"]}
    assert all(f.startswith("<ipython-input-") for f in files), files
    names = {e["name"] for e in data["lookups"]}
    assert not names & {"get_ipython", "_", "__", "Out", "In", "_oh", "_ih", "exit", "quit"}


def test_data_is_saved_at_exit(notebook):
    folder, _ = notebook
    data = read_data((folder / ".globalhook.json"))
    found = {(e["function"], e["name"], e["kind"], e["count"]) for e in data["lookups"]}
    assert ("is_large", "threshold", "global", 2) in found
    assert ("defined_before", "threshold", "global", 1) in found
    assert data["runs"][0]["command"] == ["<ipython>"]


def test_unload_makes_the_namespace_plain_again(tmp_path):
    script = textwrap.dedent(
        """\
        %load_ext globalhook
        print(type(globals()).__name__)
        %unload_ext globalhook
        print(type(globals()).__name__)
        %globalhook report
        """
    )
    result = ipython(tmp_path, script)
    if REFUSED:
        pytest.skip("refused (see the notebook fixture)")
    assert result.stdout.splitlines()[:2] == ["TrackingDict", "dict"]


#: Deepnote #512: a function defined in one cell reads a global another cell defines; a third
#: cell calls it.  Cells run one by one through run_cell, as a notebook front end runs them.
STALE_DRIVER = """\
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
cells = [
    "%load_ext globalhook",
    "def total():\\n    return K * len(ITEMS)",
    "K = 1\\nITEMS = [1, 2]",
    "result = total()",
    "unrelated = 5",
    "%globalhook stale",
    "K = 2",
    "%globalhook stale",
    "result = total()",
    "%globalhook stale",
    "ITEMS.append(3)",
    "unrelated = 6",
    "%globalhook stale",
]
for cell in cells:
    print("--", cell.splitlines()[0])
    ip.run_cell(cell, store_history=True)
"""


def test_stale_lists_cells_whose_reads_changed(tmp_path):
    """``%globalhook stale``: reads made inside a function another cell defined count (Deepnote #512)."""
    (tmp_path / "driver.py").write_text(STALE_DRIVER)
    variables = env()
    variables["IPYTHONDIR"] = str(tmp_path / "ipythondir")
    done = subprocess.run([sys.executable, "driver.py"], cwd=str(tmp_path), env=variables, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    if REFUSED:
        assert "cannot attach '__main__'" in done.stderr
        pytest.skip("refused, as it should be: the pure-Python core on a free-threaded build with IPython's thread")
    # what each %globalhook stale printed, up to the next cell's marker
    out = [part.split("-- ")[0] for part in done.stdout.split("-- %globalhook stale\n")[1:]]
    assert out[0] == "globalhook: no cell read a value that changed since it ran\n"
    assert out[1] == "[4] result = total(): K changed\n"
    assert out[2] == "globalhook: no cell read a value that changed since it ran\n"  # run again: fresh
    assert out[3] == "[9] result = total(): ITEMS changed\n"  # an in-place change; "unrelated" was never read
