"""The pytest plugin end to end: a small project, its tests run with ``--globalhook``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from globalhook.pertest import shared_state, split_context, which_tests_read, parse_name_spec
from conftest import read_data

PROJECT = {
    "app/__init__.py": "",
    "app/settings.py": """\
        TAX_RATE = 0.25
        LIMIT = 3
        STATE = 0
    """,
    "app/core.py": """\
        from app import settings

        FACTOR = 2

        def rate():
            return settings.TAX_RATE * FACTOR

        def gross(x):
            return x * (1 + rate())

        class Calculator:
            @classmethod
            def limit(cls):
                return LIMIT_HERE

        LIMIT_HERE = 3

        def bump_state():
            globals()["SHARED"] = 1

        def read_state():
            return SHARED

        SHARED = 0

        def factor():
            return FACTOR
    """,
    "tests/conftest.py": """\
        import pytest
        from app import core

        @pytest.fixture
        def factor():
            return core.factor()
    """,
    "tests/test_app.py": """\
        from app import core

        def test_two_levels():
            assert core.gross(10) == 15.0

        def test_fixture(factor):
            assert factor == 2

        def test_class_method():
            assert core.Calculator.limit() == 3

        def test_nothing():
            assert 1 + 1 == 2

        def test_writer():
            core.bump_state()

        def test_reader():
            assert core.read_state() in (0, 1)
    """,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for relative, text in PROJECT.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (tmp_path / "pyproject.toml").write_text('[tool.globalhook]\ninclude = ["app"]\n')
    return tmp_path


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("GLOBALHOOK_PYTEST_RUN", None)
    env.pop("GLOBALHOOK_PROCESS_START", None)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        env.pop(name, None)  # this suite run with -n: the inner pytest is not a worker
    env["PYTHONPATH"] = str(project)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def per_test(data: dict, module: str = "app.core") -> dict:
    """(test, phase) -> {(function, name, kind): count} for one module's entries."""
    result: dict = {}
    for entry in data["lookups"]:
        if entry["module"] != module or not entry.get("context"):
            continue
        key = split_context(entry["context"])
        names = result.setdefault(key, {})
        names[(entry["function"], entry["name"], entry["kind"])] = entry["count"]
    return result


@pytest.mark.parametrize("mode", ["prepend", "append", "importlib"])
def test_per_test_counts_in_every_import_mode(project: Path, mode: str) -> None:
    result = run_pytest(project, "--globalhook", f"--import-mode={mode}")
    assert result.returncode == 0, result.stdout + result.stderr
    data = read_data((project / ".globalhook.json"))
    seen = per_test(data)
    assert seen[("tests/test_app.py::test_two_levels", "call")] == {
        ("gross", "rate", "global"): 1,
        ("rate", "settings", "global"): 1,
        ("rate", "FACTOR", "global"): 1,
        ("rate", "TAX_RATE", "attribute"): 1,  # settings.TAX_RATE: an attribute of app.settings
    }
    # The fixture's read belongs to the test's setup, not to its call.
    assert seen[("tests/test_app.py::test_fixture", "setup")] == {("factor", "FACTOR", "global"): 1}
    assert ("tests/test_app.py::test_fixture", "call") not in seen
    assert seen[("tests/test_app.py::test_class_method", "call")] == {("Calculator.limit", "LIMIT_HERE", "global"): 1}
    assert not any(test == "tests/test_app.py::test_nothing" for test, _ in seen)
    # Import-time lookups have no test.
    outside = [e for e in data["lookups"] if e["module"] == "app.core" and not e.get("context")]
    assert any(e["kind"] == "store" and e["name"] == "FACTOR" for e in outside)


def test_tests_for_and_shared_state(project: Path) -> None:
    result = run_pytest(project, "--globalhook")
    assert result.returncode == 0, result.stdout + result.stderr
    data_file = project / ".globalhook.json"
    data = read_data(data_file)
    readers = which_tests_read(data["lookups"], [parse_name_spec("app.core:FACTOR")])
    assert readers == ["tests/test_app.py::test_fixture", "tests/test_app.py::test_two_levels"]
    # Reads of another module's attribute count for the module that owns it.
    assert which_tests_read(data["lookups"], [parse_name_spec("app.settings:TAX_RATE")]) == [
        "tests/test_app.py::test_two_levels"
    ]
    coupling = shared_state(data["lookups"])
    assert coupling == [
        {
            "module": "app.core",
            "name": "SHARED",
            "written_by": ["tests/test_app.py::test_writer"],
            "read_by": ["tests/test_app.py::test_reader"],
        }
    ]
    cli = subprocess.run(
        [sys.executable, "-m", "globalhook", "tests-for", "app.core:FACT*", "--data-file", str(data_file)],
        capture_output=True, text=True, cwd=project,
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.split() == readers

    def tests_for(name: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "globalhook", "tests-for", name, "--data-file", str(data_file)],
            capture_output=True, text=True, cwd=project,
        )

    typo = tests_for("app.core:FACTRO")
    assert (typo.returncode, typo.stdout) == (1, "")
    assert typo.stderr == "globalhook: no test read app.core:FACTRO (no lookup of it was recorded: check the name)\n"
    import_time_only = tests_for("app.settings:LIMIT")  # stored at import time, read by no test
    assert (import_time_only.returncode, import_time_only.stdout) == (1, "")
    assert "(recorded outside tests only)" in import_time_only.stderr


def test_inactive_unless_asked(project: Path) -> None:
    result = run_pytest(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (project / ".globalhook.json").exists()


def test_report_option_prints_a_summary(project: Path) -> None:
    result = run_pytest(project, "--globalhook=app", "--globalhook-report", "--globalhook-data", "out.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "globalhook: global names read per test" in result.stdout
    assert "tests/test_app.py::test_two_levels" in result.stdout
    assert (project / "out.json").exists()


def test_bad_option_is_one_line(project: Path) -> None:
    result = run_pytest(project, "--globalhook-include", "bad-pattern!")
    assert result.returncode != 0
    assert "globalhook: --globalhook-include: pattern 'bad-pattern!'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where, why", [
    ("missing-folder/out.json", "cannot write the data file"),
    ("a-folder", "is a folder, not a data file; globalhook never replaces one"),
])
def test_unwritable_data_file_stops_before_any_test(project: Path, where: str, why: str) -> None:
    (project / "a-folder").mkdir()
    result = run_pytest(project, "--globalhook", "--globalhook-data", where)
    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    assert why in result.stderr
    assert "Traceback" not in result.stderr
    assert "passed" not in result.stdout and "test_two_levels" not in result.stdout


def test_xdist_gives_the_same_counts(project: Path) -> None:
    pytest.importorskip("xdist")
    serial = run_pytest(project, "--globalhook", "--globalhook-data", "serial.json")
    assert serial.returncode == 0, serial.stdout + serial.stderr
    parallel = run_pytest(project, "--globalhook", "--globalhook-data", "parallel.json", "-n", "2")
    assert parallel.returncode == 0, parallel.stdout + parallel.stderr
    one = per_test(read_data((project / "serial.json")))
    two = per_test(read_data((project / "parallel.json")))
    assert one == two
    assert not list(project.glob("parallel.json.*")), "worker files left behind"
