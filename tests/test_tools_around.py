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


class TestProgramsOwnFinder:
    """A module served by the program's finder ahead of globalhook's is listed, with the reason."""

    FINDER = """\
        import sys, importlib.abc, importlib.util

        class Synth(importlib.abc.MetaPathFinder, importlib.abc.Loader):
            def find_spec(self, name, path=None, target=None):
                if name == "synthmod":
                    return importlib.util.spec_from_loader(name, self)
            def create_module(self, spec):
                return None
            def exec_module(self, module):
                exec("X = 1\\ndef f():\\n    return X\\n", module.__dict__)

        sys.meta_path.insert(0, Synth())
        import synthmod
        print(synthmod.f())
    """

    def test_listed_as_not_tracked(self, tmp_path: Path) -> None:
        _write(tmp_path, {"s.py": self.FINDER})
        ran = _run(["-m", "globalhook", "run", "--data-file", "d.json", "--include", "synthmod", "s.py"], tmp_path)
        assert ran.returncode == 0 and ran.stdout == "1\n", ran.stderr
        not_tracked = {e["module"]: e["reason"] for e in json.loads((tmp_path / "d.json").read_text())["not_tracked"]}
        assert "finder ahead of globalhook's" in not_tracked["synthmod"]
        assert "loader Synth" in not_tracked["synthmod"]
        report = _run(["-m", "globalhook", "report", "--data-file", "d.json"], tmp_path)
        assert "synthmod" in report.stdout

    def test_made_by_hand_is_listed_and_unwanted_ones_are_not(self, tmp_path: Path) -> None:
        _write(tmp_path, {"s.py": """\
            import sys, types
            sys.modules["handmade"] = types.ModuleType("handmade")
            sys.modules["other"] = types.ModuleType("other")
            import json
        """})
        ran = _run(["-m", "globalhook", "run", "--data-file", "d.json", "--include", "handmade", "--include", "json", "s.py"], tmp_path)
        assert ran.returncode == 0, ran.stderr
        not_tracked = {e["module"]: e["reason"] for e in json.loads((tmp_path / "d.json").read_text())["not_tracked"]}
        assert "not imported" in not_tracked["handmade"]
        assert "other" not in not_tracked
        assert "json" not in not_tracked and "json.decoder" not in not_tracked  # tracked
