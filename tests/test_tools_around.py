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

from conftest import core_env, read_data


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
        data = read_data((tmp_path / "out.json"))
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
        not_tracked = {e["module"]: e["reason"] for e in read_data((tmp_path / "d.json"))["not_tracked"]}
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
        not_tracked = {e["module"]: e["reason"] for e in read_data((tmp_path / "d.json"))["not_tracked"]}
        assert "not imported" in not_tracked["handmade"]
        assert "other" not in not_tracked
        assert "json" not in not_tracked and "json.decoder" not in not_tracked  # tracked


_HEAP_LIB = """\
    class Box:
        def __init__(self):
            self.items = make()
        def size(self):
            return len(self.items)

    def make():
        return [helper(i) for i in range(3)]

    def helper(i):
        return i * FACTOR

    def settings():
        # configuration reads have tables of their own (environment variables, by name)
        import os
        return [os.environ.get("HEAPLIB_%d" % i) for i in range(3)] + [os.getenv("HOME")]

    FACTOR = 2
"""

_HEAP_COUNT = """\
    import gc
    import heaplib

    def test_ref_counts():
        # sortedcontainers 2.4.0's test_ref_counts, on code that runs here for the first time
        gc.collect()
        start = len(gc.get_objects())
        box = heaplib.Box()
        assert box.size() == 3 and heaplib.Box.size(box) == 3
        heaplib.settings()
        made = len(gc.get_objects())
        del box
        end = len(gc.get_objects())
        return made - start, end - start

    if __name__ == "__main__":
        print(test_ref_counts())
"""


class TestHeap:
    """The recorder's first-sight state (records, tables, counters) is not in ``gc.get_objects()``."""

    @pytest.fixture
    def project(self, tmp_path: Path) -> Path:
        _write(tmp_path, {"heaplib.py": _HEAP_LIB, "test_heap.py": _HEAP_COUNT})
        return tmp_path

    @pytest.mark.parametrize("strategy", ["native", "proxy"])
    @pytest.mark.parametrize("core", ["c", "python"])
    def test_object_count_is_as_untracked(self, project: Path, strategy: str, core: str) -> None:
        from conftest import c_core_built

        if not c_core_built():
            pytest.skip("the compiled core (and its hide_from_gc) is not built here")
        plain = _run(["test_heap.py"], project)
        assert plain.returncode == 0, plain.stderr
        tracked = _run(
            ["-m", "globalhook", "run", "--strategy", strategy, "--data-file", "d.json",
             "--include", "heaplib", "--include", "__main__", "test_heap.py"],
            project, GLOBALHOOK_CORE=core,
        )
        assert tracked.stdout == plain.stdout, tracked.stderr
        data = read_data((project / "d.json"))
        assert any(e["function"] == "helper" and e["name"] == "FACTOR" and e["count"] == 3 for e in data["lookups"])
        assert any(e["function"].startswith("settings") and e["kind"] == "read" and e["name"] == "HEAPLIB_1"
                   for e in data["lookups"])

    def test_under_the_pytest_plugin(self, project: Path) -> None:
        from conftest import c_core_built

        if not c_core_built():
            pytest.skip("the compiled core (and its hide_from_gc) is not built here")
        code = "import test_heap\ndef test_counts():\n    made, left = test_heap.test_ref_counts()\n    assert left == 0\n"
        _write(project, {"test_wrap.py": code})
        ran = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--globalhook", "heaplib", "--globalhook-data",
                    "d.json", "test_wrap.py"], project, PYTHONPATH=os.pathsep.join([str(project), core_env("auto")["PYTHONPATH"]]))
        assert ran.returncode == 0, ran.stdout + ran.stderr
        data = read_data((project / "d.json"))
        assert any(e["name"] == "FACTOR" and e.get("context", "").endswith("|call") for e in data["lookups"])


_SCRIPT = "X = 1\ndef f():\n    return X\nfor i in range(3):\n    f()\nprint('ran', __name__)\n"


class TestRunnersThatMakeTheirOwnMain:
    """cProfile, profile, trace, runpy.run_path and coverage exec the script in a ``__main__`` of their own."""

    RUNNERS = {
        "cProfile": ["-m", "cProfile", "-o", "out.prof", "s.py"],
        "profile": ["-m", "profile", "-o", "out.prof", "s.py"],
        "trace": ["-m", "trace", "--count", "--coverdir", "cov", "s.py"],
        "runpy": ["r.py"],
        "coverage": ["-m", "coverage", "run", "s.py"],
    }

    @pytest.mark.parametrize("runner", list(RUNNERS))
    @pytest.mark.parametrize("core", ["c", "python"])
    def test_the_script_is_tracked(self, tmp_path: Path, runner: str, core: str) -> None:
        if runner == "coverage":
            pytest.importorskip("coverage")
        _write(tmp_path, {"s.py": _SCRIPT, "r.py": "import runpy\nrunpy.run_path('s.py', run_name='__main__')\n"})
        args = self.RUNNERS[runner]
        plain = _run(args, tmp_path)
        assert plain.returncode == 0, plain.stderr
        tracked = _run(["-m", "globalhook", "run", "--data-file", "d.json", *args], tmp_path, GLOBALHOOK_CORE=core)
        assert (tracked.returncode, tracked.stdout) == (plain.returncode, plain.stdout), tracked.stderr
        data = read_data((tmp_path / "d.json"))
        reads = [
            (e["module"], e["count"]) for e in data["lookups"]
            if e["function"] == "f" and e["name"] == "X" and os.path.basename(e["file"]) == "s.py"
        ]
        assert reads == [("__main__", 3)], data["not_tracked"]

    def test_excluding_main_leaves_it_alone(self, tmp_path: Path) -> None:
        _write(tmp_path, {"s.py": _SCRIPT})
        tracked = _run(["-m", "globalhook", "run", "--data-file", "d.json", "--exclude", "__main__",
                        "-m", "cProfile", "-o", "out.prof", "s.py"], tmp_path)
        assert tracked.returncode == 0, tracked.stderr
        data = read_data((tmp_path / "d.json"))
        assert not [e for e in data["lookups"] if os.path.basename(e["file"]) == "s.py"]

    def test_other_execs_of_a_main_namespace_are_left_alone(self, tmp_path: Path) -> None:
        """Only a runner's own function (runctx, _run_code, run) is looked into, never any exec."""
        _write(tmp_path, {"e.py": """\
            import weakref
            class Namespace(dict):
                pass
            def helper():
                namespace = {"__name__": "__main__", "__file__": "x.py"}
                exec(compile("Y = 1\\ndef g():\\n    return Y\\ng()\\n", "x.py", "exec"), namespace)
                return type(namespace).__name__
            print(helper())
        """})
        plain = _run(["e.py"], tmp_path)
        tracked = _run(["-m", "globalhook", "run", "--data-file", "d.json", "e.py"], tmp_path)
        assert tracked.stdout == plain.stdout == "dict\n", tracked.stderr

    def test_coverage_run_with_the_start_up_hook(self, tmp_path: Path) -> None:
        """``coverage run s.py`` in an enabled project: the start-up hook tracks coverage's process."""
        pytest.importorskip("coverage")
        _write(tmp_path, {
            "s.py": _SCRIPT,
            "pyproject.toml": '[tool.globalhook]\nenabled = true\ndata_file = "d.json"\n',
            # what the start-up hook's .pth line does (globalhook install), without installing it
            "site/sitecustomize.py": "import globalhook.startup\nglobalhook.startup.process_start()\n",
        })
        pythonpath = os.pathsep.join([core_env("auto")["PYTHONPATH"], str(tmp_path / "site")])
        ran = _run(["-m", "coverage", "run", "s.py"], tmp_path, PYTHONPATH=pythonpath)
        assert ran.returncode == 0 and ran.stdout == "ran __main__\n", ran.stderr
        combined = _run(["-m", "globalhook", "combine", "--data-file", "d.json"], tmp_path)
        assert combined.returncode == 0, combined.stderr
        data = read_data((tmp_path / "d.json"))
        reads = [e["count"] for e in data["lookups"] if e["function"] == "f" and e["name"] == "X"]
        assert reads == [3], (data["not_tracked"], sorted({e["file"] for e in data["lookups"]}))
