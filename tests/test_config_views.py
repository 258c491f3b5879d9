"""Configuration reads in the answers: ``tests-for``, ``check``, ``report``, ``html``, ``diff``.

A small project's tests read and set environment variables under
``pytest --globalhook``; the data's ``read``/``write`` entries (owner
``os.environ``) must answer "which tests read GH_REGION" exactly, like a
global's reads do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from globalhook.pertest import parse_name_spec, shared_state, which_tests_read
from conftest import read_data

PROJECT = {
    "app/__init__.py": "",
    "app/env.py": """\
        import os

        def greeting():
            return os.environ.get("GH_GREETING", "hello")

        def region():
            return os.getenv("GH_REGION")

        def names():
            return [name for name in os.environ if name.startswith("GH_")]
    """,
    "tests/test_env.py": """\
        from app import env

        def test_greeting():
            assert env.greeting() == "hello"

        def test_greeting_twice():
            assert env.greeting() == env.greeting()

        def test_region():
            env.region()

        def test_sets_region(monkeypatch):
            monkeypatch.setenv("GH_REGION", "eu")
            assert env.region() == "eu"

        def test_lists_variables():
            assert "GH_NEVER_SET" not in env.names()

        def test_nothing():
            assert True
    """,
}


def _globalhook(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "globalhook", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("configviews")
    for relative, text in PROJECT.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (root / "pyproject.toml").write_text('[tool.globalhook]\ninclude = ["app", "test_*"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTEST_XDIST", "GH_"))}
    env["PYTHONPATH"] = str(root)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--globalhook"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def _lookups(project: Path) -> list:
    return read_data((project / ".globalhook.json"))["lookups"]


def test_which_tests_read_a_variable(project):
    lookups = _lookups(project)
    assert which_tests_read(lookups, [parse_name_spec("os.environ:GH_GREETING")]) == [
        "tests/test_env.py::test_greeting", "tests/test_env.py::test_greeting_twice", "tests/test_env.py::test_lists_variables",
    ]
    assert which_tests_read(lookups, [parse_name_spec("os.environ:GH_REGION")]) == [
        "tests/test_env.py::test_lists_variables", "tests/test_env.py::test_region", "tests/test_env.py::test_sets_region",
    ]


def test_a_test_that_listed_the_variables_read_any_of_them(project):
    # Setting GH_NEVER_SET changes what test_lists_variables sees, although no test read it by name.
    assert which_tests_read(_lookups(project), [parse_name_spec("os.environ:GH_NEVER_SET")]) == [
        "tests/test_env.py::test_lists_variables",
    ]


def test_tests_for_command(project):
    shown = _globalhook("tests-for", "os.environ:GH_GREETING", cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [
        "tests/test_env.py::test_greeting", "tests/test_env.py::test_greeting_twice", "tests/test_env.py::test_lists_variables",
    ]
    none = _globalhook("tests-for", "os.environb:GH_GREETING", cwd=project)
    assert none.returncode == 1 and none.stdout == ""


def test_a_test_that_sets_a_variable_another_reads_is_shared_state(project):
    coupling = shared_state(_lookups(project))
    assert {
        "module": "os.environ",
        "name": "GH_REGION",
        "written_by": ["tests/test_env.py::test_sets_region"],
        "read_by": ["tests/test_env.py::test_region", "tests/test_env.py::test_sets_region"],
    } in coupling  # monkeypatch.setenv from a tracked test is a write


def test_check_forbids_a_variable(project):
    checked = _globalhook("check", "--forbid", "app -> os.environ:GH_REGION", cwd=project)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "app.env.region reads os.environ:GH_REGION (read, 2 times)" in checked.stdout
    allowed = _globalhook("check", "--forbid", "app -> os.environ:GH_OTHER", cwd=project)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_report_shows_reads_beside_globals(project):
    shown = _globalhook("report", "--module", "app.env", cwd=project)
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines()]
    assert ["os.environ.GH_GREETING", "read", "3"] in rows
    assert ["os", "global", "3"] in rows  # the global it went through, as before
    assert any(row[:2] == ["configuration", "reads"] for row in rows)
    as_json = json.loads(_globalhook("report", "--format", "json", cwd=project).stdout)
    assert as_json["totals"]["by_kind"]["read"] >= 5


def test_html_lists_the_reads(project, tmp_path):
    out = tmp_path / "html"
    made = _globalhook("html", "-d", str(out), cwd=project)
    assert made.returncode == 0, made.stderr
    pages = "".join(page.read_text() for page in out.rglob("*") if page.suffix in (".html", ".js"))
    assert "GH_GREETING" in pages and "os.environ" in pages


def test_diff_shows_a_new_variable(project, tmp_path):
    old = read_data((project / ".globalhook.json"))
    new = json.loads(json.dumps(old))
    for entry in new["lookups"]:
        if entry.get("name") == "GH_GREETING":
            entry["name"] = "GH_SALUTATION"
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    shown = _globalhook("diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), cwd=project)
    assert "os.environ.GH_SALUTATION" in shown.stdout and "os.environ.GH_GREETING" in shown.stdout, shown.stdout + shown.stderr


def test_pytest_option_turns_recording_off(tmp_path):
    for relative, text in PROJECT.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (tmp_path / "pyproject.toml").write_text('[tool.globalhook]\ninclude = ["app", "test_*"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTEST_XDIST", "GH_"))}
    env["PYTHONPATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--globalhook", "--globalhook-no-config-reads"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lookups = read_data((tmp_path / ".globalhook.json"))["lookups"]
    assert not [e for e in lookups if e["kind"] in ("read", "write")]
    assert [e for e in lookups if e["module"] == "app.env" and e["name"] == "os"]
