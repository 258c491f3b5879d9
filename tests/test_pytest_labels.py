"""Which label each read gets in a ``pytest --globalhook`` run: the phase hooks' edges.

The labels are set by hook wrappers around pytest's setup, call and teardown
hooks and around wider-scope fixtures.  These tests pin where each read
lands (the phases, a module fixture inside a test's setup, errors, reporting
hooks that run between the phases, environment reads), so that a cheaper way
of setting them cannot move a read to another label.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import read_data
from globalhook.pertest import split_context

PROJECT = {
    "app/__init__.py": "",
    "app/core.py": """\
        import os

        SETUP = 1
        CALL = 2
        TEARDOWN = 3
        SHARED = 4
        AFTER_SHARED = 5
        REPORT = 6
        BROKEN = 7

        def setup_read():
            return SETUP

        def call_read():
            # twice: the first read in a test phase files the code's tables
            # for the Python fast path, the second must find them there
            return CALL + len(os.environ.get("APP_MODE", "")) + len(os.environ["APP_MODE"])

        def teardown_read():
            return TEARDOWN

        def shared_read():
            return SHARED

        def after_shared_read():
            return AFTER_SHARED

        def report_read():
            return REPORT

        def broken_read():
            BROKEN
            raise RuntimeError("setup fails")
    """,
    "tests/conftest.py": """\
        import pytest
        from app import core

        @pytest.fixture(scope="module")
        def shared():
            yield core.shared_read()

        @pytest.fixture
        def each(shared):
            core.setup_read()
            core.after_shared_read()
            yield
            core.teardown_read()

        @pytest.fixture
        def broken():
            core.broken_read()

        def pytest_runtest_makereport(item, call):
            core.report_read()
    """,
    "tests/test_app.py": """\
        from app import core

        def test_uses_each(each):
            core.call_read()

        def test_fails(each):
            core.call_read()
            assert False

        def test_broken_setup(broken):
            core.call_read()
    """,
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    project = tmp_path_factory.mktemp("labels")
    for relative, text in PROJECT.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    env = dict(os.environ)
    for name in ("GLOBALHOOK_PYTEST_RUN", "GLOBALHOOK_PROCESS_START", "PYTEST_XDIST_WORKER",
                 "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(project)
    env["APP_MODE"] = "x"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--globalhook=app",
         f"--globalhook-data={project / 'data.json'}"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr  # test_fails fails, test_broken_setup errors
    assert all(word in result.stdout for word in ("1 passed", "1 failed", "1 error")), result.stdout
    data = read_data(project / "data.json")
    labels: dict = {}
    for entry in data["lookups"]:
        if entry["module"] != "app.core" or entry["kind"] not in ("global", "read"):
            continue
        if entry["kind"] == "global" and entry["name"] not in (
                "SETUP", "CALL", "TEARDOWN", "SHARED", "AFTER_SHARED", "REPORT", "BROKEN"):
            continue
        labels.setdefault(entry["name"], {})[entry.get("context", "")] = entry["count"]
    return labels


TEST = "tests/test_app.py::"


def test_each_phase_has_its_reads(recorded: dict) -> None:
    assert recorded["SETUP"] == {f"{TEST}test_uses_each|setup": 1, f"{TEST}test_fails|setup": 1}
    assert recorded["CALL"] == {f"{TEST}test_uses_each|call": 1, f"{TEST}test_fails|call": 1}
    assert recorded["TEARDOWN"] == {f"{TEST}test_uses_each|teardown": 1, f"{TEST}test_fails|teardown": 1}


def test_a_module_fixture_has_its_own_label_and_the_setup_goes_on(recorded: dict) -> None:
    # Set up inside the first test's setup: its own label, then the test's
    # setup label again for what the function fixture reads after it.
    assert recorded["SHARED"] == {"tests::shared|fixture": 1}
    assert recorded["AFTER_SHARED"] == {f"{TEST}test_uses_each|setup": 1, f"{TEST}test_fails|setup": 1}


def test_a_failing_setup_keeps_its_label_and_nothing_leaks(recorded: dict) -> None:
    assert recorded["BROKEN"] == {f"{TEST}test_broken_setup|setup": 1}
    assert not any(label.startswith(f"{TEST}test_broken_setup|call") for name in recorded for label in recorded[name])


def test_reporting_hooks_between_phases_have_no_label(recorded: dict) -> None:
    # pytest_runtest_makereport runs after each phase's hook has returned:
    # 3 phases x 2 tests + setup and teardown of the broken one, all unlabelled.
    assert recorded["REPORT"] == {"": 8}


def test_environment_reads_are_labelled_with_the_phase(recorded: dict) -> None:
    assert recorded["APP_MODE"] == {f"{TEST}test_uses_each|call": 2, f"{TEST}test_fails|call": 2}
