"""Whose read is it?  The interpreter's probes, other modules' code, tools.

Issue 17, items 16 and 17, and issue 24 item 5: a read is attributed to the
code that made it, with that code's own module; the lookups the interpreter
makes for itself (``SETUP_ANNOTATIONS`` probing ``__annotations__``, C code
that imports reading ``__builtins__``) are not the program's; reads that tools
make (pytest collecting a test module) are left out of ``check`` unless asked
for.  Each test runs real programs in fresh processes, on both cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import c_core_built, core_env, read_data
from globalhook.check import find_violations, load_check_config
from globalhook.config import ConfigError
from globalhook.report import TOOLS_HEADING
from globalhook.selection import is_tool_read

TIMEOUT = 120


@pytest.fixture(params=["c", "python"])
def core(request) -> str:
    if request.param == "c" and not c_core_built():
        pytest.skip("the compiled core is not built for this Python")
    return request.param


def write(root: Path, files: Dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def run(args: List[str], cwd: Path, core: str) -> subprocess.CompletedProcess:
    env = core_env(core, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def tracked(tmp_path: Path, core: str, script: str) -> List[dict]:
    """The lookups ``globalhook run`` records for ``script`` (which must also run plainly)."""
    (tmp_path / "probe.py").write_text(textwrap.dedent(script))
    plain = run(["probe.py"], tmp_path, core)
    assert plain.returncode == 0, plain.stderr
    result = run(["-m", "globalhook", "run", "--data-file", "data.json", "probe.py"], tmp_path, core)
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain.stdout  # transparency: the program sees the same
    return read_data((tmp_path / "data.json"))["lookups"]


def names(lookups: List[dict], kind: str, function: str = None) -> List[str]:
    return sorted(
        e["name"] for e in lookups if e["kind"] == kind and (function is None or e["function"] == function)
    )


class TestInterpreterProbes:
    @pytest.mark.parametrize("future", ["", "from __future__ import annotations"])
    def test_module_annotation_is_not_a_missing_name(self, tmp_path, core, future):
        lookups = tracked(tmp_path, core, f"""\
            {future}
            import sys
            x: int = 1
            class C:
                y: int = 2
            if sys.version_info < (3, 14) or {bool(future)}:  # 3.14: lazy, no such global
                print(__annotations__)
        """)
        assert "__annotations__" not in names(lookups, "missing")
        if sys.version_info < (3, 14) or future:
            # The program's own read of it is still recorded.
            assert "__annotations__" in names(lookups, "global", "<module>")

    def test_the_programs_own_miss_of_annotations_is_recorded(self, tmp_path, core):
        lookups = tracked(tmp_path, core, """\
            x: int = 1
            globals().pop("__annotations__", None)
            try:
                globals()["__annotations__"]
            except KeyError:
                print("gone")
        """)
        missing = [e for e in lookups if e["kind"] == "missing" and e["name"] == "__annotations__"]
        assert [e["count"] for e in missing] == [1]  # the explicit one; the interpreter's probe not

    def test_subscripting_a_generic_reads_no_builtins(self, tmp_path, core):
        # 3.12/3.13: Generic.__class_getitem__ is C code that imports typing,
        # and PyImport_Import reads __builtins__ from the caller's globals.
        lookups = tracked(tmp_path, core, """\
            from typing import Generic, TypeVar
            T = TypeVar("T")
            class Box(Generic[T]):
                pass
            def make():
                return Box[int]
            print(make())
        """)
        assert "__builtins__" not in names(lookups, "global")
        assert "Box" in names(lookups, "global", "make")

    def test_builtins_read_by_name_is_the_programs(self, tmp_path, core):
        lookups = tracked(tmp_path, core, """\
            def which():
                return type(__builtins__).__name__
            print(which())
        """)
        assert names(lookups, "global", "which") == ["__builtins__"]


class TestForeignNamespaceReads:
    """``vars(m)[name]``, ``frame.f_globals[name]``: the reader is the code that subscripted."""

    PACKAGE = {
        "pkg/__init__.py": "",
        "pkg/settings.py": """\
            RATE = 2
        """,
        "pkg/peek.py": """\
            import sys
            from pkg import settings

            def rate():
                return vars(settings)["RATE"]

            def hidden(frame):
                try:
                    return frame.f_globals["__tracebackhide__"]
                except KeyError:
                    return False
        """,
        "probe.py": """\
            import sys
            from pkg import peek, settings
            print(peek.rate(), peek.hidden(sys._getframe()))
            def caller():
                return peek.hidden(sys._getframe())
            print(caller())
        """,
    }

    def test_reader_and_owner(self, tmp_path, core):
        write(tmp_path, self.PACKAGE)
        lookups = tracked(tmp_path, core, self.PACKAGE["probe.py"])
        rate = [e for e in lookups if e["name"] == "RATE" and e["kind"] != "store"]
        assert [(e["module"], e.get("reader_module"), e.get("owner"), e["function"], e["kind"]) for e in rate] == [
            ("pkg.peek", "pkg.peek", "pkg.settings", "rate", "attribute"),
        ]
        hide = [e for e in lookups if e["name"] == "__tracebackhide__"]
        assert {(e.get("reader_module"), e.get("owner"), e["function"], e["kind"]) for e in hide} == {
            ("pkg.peek", "__main__", "hidden", "missing"),
        }
        assert sum(e["count"] for e in hide) == 2
        # Never counted as a read of __main__'s own global by __main__'s code.
        assert not [e for e in lookups if e["module"] == "__main__" and e["name"] in ("__tracebackhide__", "RATE")]

    def test_exec_with_a_namespace_as_locals_still_finds_globals_and_builtins(self, tmp_path, core):
        write(tmp_path, {"pkg/__init__.py": "", "pkg/ns.py": "HERE = 1\n"})
        lookups = tracked(tmp_path, core, """\
            from pkg import ns
            THERE = 2
            print(eval("HERE + THERE + len('ab')", globals(), vars(ns)))
        """)
        here = [e for e in lookups if e["name"] == "HERE" and e["kind"] != "store"]
        assert [(e.get("owner"), e.get("reader_module")) for e in here] == [("pkg.ns", "__main__")]
        # The misses in the locals go on to the frame's own globals and builtins: not counted as misses.
        assert not [e for e in lookups if e["kind"] == "missing"]


class TestToolReads:
    def test_classification(self):
        def read(reader, owner, name="x", kind="attribute"):
            return {"module": reader, "reader_module": reader, "owner": owner, "name": name, "kind": kind,
                    "function": "f", "file": "f.py", "line": 1, "count": 1}

        assert is_tool_read(read("_pytest.python", "tests.test_x", "setup_module", "missing"))
        assert is_tool_read(read("unittest.mock", "pkg.core"))
        assert is_tool_read(read("inspect", "pkg.core"))
        assert not is_tool_read(read("pkg.web", "pkg.settings"))
        assert not is_tool_read(read("pytest_plugins_of_mine", "pkg.settings"))  # a prefix is not a package
        own = {"module": "inspect", "name": "x", "kind": "missing", "function": "f", "file": "f.py", "line": 1, "count": 1}
        assert not is_tool_read(own)  # a tracked tool's reads of its own globals are its own

    def test_the_plugins_summary_leaves_tool_reads_out(self):
        from globalhook.pytest_plugin import summary_lines

        context = "tests/test_x.py::test_fails|call"
        own = {"module": "pkg.core", "name": "boom", "kind": "missing", "function": "f", "file": "core.py",
               "line": 1, "count": 1, "context": context}
        probe = {"module": "_pytest._code.code", "reader_module": "_pytest._code.code", "owner": "pkg.core",
                 "name": "__tracebackhide__", "kind": "missing", "function": "TracebackEntry.ishidden",
                 "file": "code.py", "line": 1, "count": 1, "context": context}
        [line] = summary_lines([own, probe])
        assert "missing boom" in line and "__tracebackhide__" not in line

    def test_check_config_key(self, tmp_path):
        (tmp_path / "pyproject.toml").write_text("[tool.globalhook.check]\ntool-reads = true\n")
        config = load_check_config(cwd=str(tmp_path), environ={})
        assert config.tool_reads is True and config.warnings == []
        (tmp_path / "pyproject.toml").write_text('[tool.globalhook.check]\ntool-reads = "yes"\n')
        with pytest.raises(ConfigError, match=r"\[tool.globalhook.check\] tool-reads: expected true or false, got str"):
            load_check_config(cwd=str(tmp_path), environ={})

    def test_check_leaves_tool_reads_out_unless_asked(self):
        pytest_probe = {"module": "_pytest.python", "reader_module": "_pytest.python", "owner": "tests.test_x",
                        "name": "setup_module", "kind": "missing", "function": "probe", "file": "python.py",
                        "line": 1, "count": 1}
        assert find_violations([pytest_probe], [], no_missing=True) == []
        assert len(find_violations([pytest_probe], [], no_missing=True, tool_reads=True)) == 1


CLEAN_PACKAGE = {
    "mypkg/__init__.py": "",
    "mypkg/core.py": """\
        RATE: int = 2

        def double(x: int) -> int:
            return x * RATE
    """,
    "mypkg/util.py": """\
        from typing import Generic, TypeVar

        from mypkg import core

        T = TypeVar("T")

        class Box(Generic[T]):
            def __init__(self, value: T) -> None:
                self.value = value

        def boxed(x: int) -> "Box[int]":
            return Box[int](core.double(x))
    """,
    "tests/conftest.py": """\
        import pytest

        from mypkg import core

        @pytest.fixture
        def rate():
            return core.RATE
    """,
    "tests/test_mypkg.py": """\
        from unittest import mock

        import pytest

        from mypkg import core, util

        def test_double():
            assert core.double(2) == 4

        @pytest.mark.parametrize("x", [1, 2])
        def test_boxed(x):
            assert util.boxed(x).value == 2 * x

        class TestPatched:
            def test_patched(self):
                with mock.patch("mypkg.core.RATE", 3):
                    assert core.double(1) == 3

        def test_hidden(rate):
            __tracebackhide__ = True
            assert core.RATE == rate == 2
    """,
}


@pytest.mark.parametrize("how", ["plugin", "run"])
def test_check_no_missing_after_pytest_on_a_clean_package(tmp_path, core, how):
    """Issue 17 item 17, end to end: pytest's probing does not count against the project."""
    write(tmp_path, CLEAN_PACKAGE)
    pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    if how == "plugin":
        tests = run([*pytest_args, "--globalhook"], tmp_path, core)
    else:
        tests = run(["-m", "globalhook", "run", *pytest_args], tmp_path, core)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    check = run(["-m", "globalhook", "check", "--no-missing"], tmp_path, core)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no violations" in check.stdout
    assert "made by tools left out" in check.stdout
    # They are recorded, attributed to pytest's own modules, and checked when asked for.
    asked = run(["-m", "globalhook", "check", "--no-missing", "--tool-reads"], tmp_path, core)
    assert asked.returncode == 1
    assert "_pytest." in asked.stdout and "setup_module" in asked.stdout
    (tmp_path / "pyproject.toml").write_text("[tool.globalhook.check]\ntool-reads = true\n")
    configured = run(["-m", "globalhook", "check", "--no-missing"], tmp_path, core)
    assert (configured.returncode, configured.stdout) == (1, asked.stdout)
    # The text report lists the project's modules first, the tools' apart after them.
    report = run(["-m", "globalhook", "report"], tmp_path, core).stdout.splitlines()
    heading = report.index(TOOLS_HEADING)
    assert report.index("mypkg.core") < heading < report.index("_pytest.python")
    assert all(not line.startswith(("_pytest", "unittest")) for line in report[:heading])
    lookups = read_data((tmp_path / ".globalhook.json"))["lookups"]
    probes = [e for e in lookups if e["name"] == "setup_module"]
    assert probes and all(e["reader_module"].startswith("_pytest.") for e in probes)
    assert all(e["owner"] == "test_mypkg" or e["owner"].endswith(".test_mypkg") for e in probes)
