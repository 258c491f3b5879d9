"""Transparency with the tools around a tracked program: pytest, coverage, profilers, gc.

Each test runs the same thing with and without globalhook (or checks what a
tool sees), in a child process, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import core_env


def _run(args, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    env = core_env("auto")
    env.update(extra)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _write(root: Path, files: dict) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


class TestWarningsAsErrors:
    """jinja2, click and many more: ``filterwarnings = ["error"]`` under ``globalhook run -m pytest``.

    pytest marks the package of every ``pytest11`` entry point for assertion
    rewriting and warns when it is imported already.  An installed (not
    editable) globalhook lists ``globalhook/__init__.py`` in its RECORD; a
    distribution declaring the same is made here, so the test holds for any
    kind of install of this checkout.
    """

    def test_run_m_pytest_keeps_warnings_as_errors_working(self, tmp_path: Path) -> None:
        pytest.importorskip("pytest")
        site = tmp_path / "site"
        _write(site, {
            "ghfakeplugin.py": "",
            "ghfakeplugin-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: ghfakeplugin\nVersion: 1.0\n",
            "ghfakeplugin-1.0.dist-info/entry_points.txt": "[pytest11]\nghfakeplugin = ghfakeplugin\n",
            "ghfakeplugin-1.0.dist-info/RECORD": "globalhook/__init__.py,,\nghfakeplugin.py,,\n",
        })
        project = tmp_path / "project"
        _write(project, {
            "pyproject.toml": '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n',
            "test_one.py": "def test_one():\n    assert 1 + 1 == 2\n",
        })
        pythonpath = os.pathsep.join([core_env("auto")["PYTHONPATH"], str(site)])
        plain = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider"], project, PYTHONPATH=pythonpath)
        assert plain.returncode == 0, plain.stdout + plain.stderr
        tracked = _run(
            ["-m", "globalhook", "run", "--data-file", "out.json", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            project, PYTHONPATH=pythonpath,
        )
        assert tracked.returncode == 0, tracked.stdout + tracked.stderr
        assert "1 passed" in tracked.stdout


class TestCoverage:
    """``coverage run -m globalhook run x.py && coverage report``: both tools at once."""

    def test_coverage_report_after_a_tracked_run(self, tmp_path: Path) -> None:
        pytest.importorskip("coverage")
        _write(tmp_path, {"x.py": "X = 1\ndef f():\n    return X\nprint(f())\n"})
        ran = _run(["-m", "coverage", "run", "-m", "globalhook", "run", "--data-file", "out.json", "x.py"], tmp_path)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout == "1\n"
        report = _run(["-m", "coverage", "report"], tmp_path)
        assert report.returncode == 0, report.stdout + report.stderr
        assert any(line.split()[:1] == ["x.py"] and line.endswith("100%") for line in report.stdout.splitlines())
        data = json.loads((tmp_path / "out.json").read_text())
        assert any(e["function"] == "f" and e["name"] == "X" and e["count"] == 1 for e in data["lookups"])

    def test_warnings_still_name_sys_without_coverage(self, tmp_path: Path) -> None:
        """The entry frame keeps mimicking python's when coverage is not there."""
        _write(tmp_path, {"w.py": "import warnings\nwarnings.warn('hello', stacklevel=2)\n"})
        plain = _run(["w.py"], tmp_path)
        tracked = _run(["-m", "globalhook", "run", "--data-file", "out.json", "w.py"], tmp_path)
        assert tracked.stderr == plain.stderr
