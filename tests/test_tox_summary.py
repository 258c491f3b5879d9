"""``.ci/run`` ends by saying which interpreters tox ran and which it skipped (tools/tox_summary.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parent.parent / "tools" / "tox_summary.py"
spec = importlib.util.spec_from_file_location("tox_summary", TOOL)
tox_summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tox_summary)  # type: ignore[union-attr]

LOG = """\
py311: commands[0]> python -m pytest -q -p no:cacheprovider
761 passed in 70.1s
py311: OK \u2714 in 3 minutes 1.2 seconds
py39: skipped because could not find python interpreter with spec(s): py39
py313: commands[0]> python -m pytest -q
1 failed
py313: exit 1 (80.00 seconds)
  py39: SKIP (0.31 seconds)
  py310: SKIP (0.02 seconds)
  py311: OK (181.20=setup[10.00]+cmd[171.20] seconds)
  py313: FAIL code 1 (90.00=setup[10.00]+cmd[80.00] seconds)
  evaluation failed :( (271.60 seconds)
"""


def test_results_come_from_tox_closing_lines():
    assert tox_summary.parse(LOG) == {"py39": "SKIP", "py310": "SKIP", "py311": "OK", "py313": "FAIL"}


def test_summary_names_what_ran_failed_and_was_skipped(monkeypatch):
    monkeypatch.setattr(tox_summary, "interpreter", lambda env: f"python-for-{env}")
    lines = tox_summary.summary(tox_summary.parse(LOG))
    assert lines[0] == "interpreters:"
    assert "  ran: py311" in lines and "    py311: python-for-py311" in lines
    assert "  failed: py313" in lines
    assert "  skipped (not found on PATH): py39, py310" in lines


def test_interpreter_names_this_python_when_it_is_on_path(tmp_path, monkeypatch):
    name = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (tmp_path / name).symlink_to(sys.executable)
    monkeypatch.setenv("PATH", str(tmp_path))
    env = f"py{sys.version_info[0]}{sys.version_info[1]}"
    found = tox_summary.interpreter(env)
    assert found is not None and found.startswith(f"{name} {sys.version.split()[0]}")
    assert tox_summary.interpreter("py299") is None and tox_summary.interpreter("transparency") is None


def test_command_line(tmp_path):
    log = tmp_path / "tox.log"
    log.write_text(LOG)
    result = subprocess.run([sys.executable, str(TOOL), str(log)], capture_output=True, text=True)
    assert result.returncode == 0 and "skipped (not found on PATH): py39, py310" in result.stdout
    log.write_text("nothing\n")
    assert subprocess.run([sys.executable, str(TOOL), str(log)], capture_output=True).returncode == 1
