"""What the mutation study on click's suite, and the work after it, found in ``pytest --globalhook-select``.

Each is made minimal: a rerun with nothing changed, which should select no
test, or one edit and the test it makes fail; a finding not fixed yet is marked ``xfail(strict=True)``, so that its
fix shows (strict xfail then fails, asking to drop the mark).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT = {
    "pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
    "pkg/__init__.py": "",
    "pkg/mod.py": "RATE = 2\n\n\ndef rate():\n    return RATE\n",
    "tests/test_a.py": """\
        import os

        from pkg.mod import rate


        def test_rate():
            assert rate() == 2


        def test_other():
            assert os.sep
    """,
}


def _project(root: Path) -> Path:
    for rel, text in PROJECT.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _run(cwd: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTEST_"))}
    if "GLOBALHOOK_CORE" in os.environ:
        env["GLOBALHOOK_CORE"] = os.environ["GLOBALHOOK_CORE"]
    env["PYTHONPATH"] = str(cwd)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # an edit of the same size in the same second: a .pyc keeps whole seconds
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                          cwd=str(cwd), env=env, capture_output=True, text=True, timeout=120)


def _pytest(cwd: Path, *args: str) -> str:
    done = _run(cwd, *args)
    assert done.returncode in (0, 5), done.stdout + done.stderr
    return done.stdout


def _selected(output: str) -> int:
    found = re.search(r"globalhook: selected (\d+) of (\d+) tests", output)
    assert found, output
    return int(found.group(1))


def test_a_rerun_with_nothing_changed_selects_nothing(tmp_path):
    """The control: the same project, the data file inside it."""
    project = _project(tmp_path)
    _pytest(project, "--globalhook=pkg", "--globalhook-data=data.json", "tests/test_a.py::test_rate")
    assert _selected(_pytest(project, "--globalhook=pkg", "--globalhook-data=data.json", "--globalhook-select",
                             "tests/test_a.py::test_rate")) == 0


def test_a_data_file_outside_the_project_given_as_two_words_is_a_usage_error(tmp_path):
    """pytest takes the value of '--globalhook-data FILE' (two words) for a test path when FILE exists,
    before plugins are loaded: outside the project it moves the root folder and so every test id.
    The plugin stops with a usage error naming the file and the one-word form."""
    project = _project(tmp_path / "project")
    data = tmp_path / "data" / "selection.json"
    data.parent.mkdir()
    _pytest(project, "--globalhook=pkg", f"--globalhook-data={data}", "-k", "test_rate")
    assert data.is_file()
    done = _run(project, "--globalhook=pkg", "--globalhook-data", str(data), "--globalhook-select", "-k", "test_rate")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    errors = [line for line in done.stderr.splitlines() if "--globalhook-data" in line]
    assert len(errors) == 1 and f"write --globalhook-data={data}" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    # Written as one word it selects as it must: nothing changed, nothing runs.
    assert _selected(_pytest(project, "--globalhook=pkg", f"--globalhook-data={data}", "--globalhook-select",
                             "-k", "test_rate")) == 0


@pytest.mark.parametrize("where", ["inside", "outside"])
def test_a_data_file_given_as_two_words_that_moves_nothing_is_no_error(tmp_path, where):
    """Inside the project, or outside it with a test path given (pytest finds the project's
    configuration from the test path): the root folder is the same, so no error."""
    project = _project(tmp_path / "project")
    data = "data.json" if where == "inside" else str(tmp_path / "data.json")
    _pytest(project, "--globalhook=pkg", "--globalhook-data", data, "tests/test_a.py::test_rate")
    assert (project / data).is_file()
    assert _selected(_pytest(project, "--globalhook=pkg", "--globalhook-data", data, "--globalhook-select",
                             "tests/test_a.py::test_rate")) == 0


REGISTRY = {
    "pkg/__init__.py": "",
    "pkg/api.py": """\
        HANDLERS = {}


        def register(f):
            HANDLERS[f.__name__] = f
            return f


        @register
        def ping():
            return "pong"


        def handle(name):
            return HANDLERS[name]()
    """,
    "tests/test_r.py": """\
        from pkg import api


        def test_handle():
            assert api.handle("ping") == "pong"
    """,
}


def test_a_function_registered_by_a_decorator_and_called_through_the_registry(tmp_path):
    for rel, text in REGISTRY.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    _pytest(tmp_path, "--globalhook=pkg", "--globalhook-data=data.json", "tests")
    api = tmp_path / "pkg" / "api.py"
    api.write_text(api.read_text().replace('"pong"', '"pang"'))
    # The edit makes test_handle fail: selection must run it.
    done = _run(tmp_path, "--globalhook=pkg", "--globalhook-data=data.json", "--globalhook-select", "tests")
    assert "1 failed" in done.stdout, done.stdout + done.stderr


def test_a_test_that_reads_the_whole_environment_is_not_selected_by_the_runners_own_variables(tmp_path):
    """click's test_env copies os.environ: it read the variables pytest and globalhook set for one run
    (GLOBALHOOK_PYTEST_RUN is a new id each run), so it was selected on every run with nothing changed."""
    project = _project(tmp_path)
    (project / "pkg" / "env.py").write_text("import os\n\n\ndef environment():\n    return dict(os.environ)\n")
    (project / "tests" / "test_env.py").write_text(textwrap.dedent("""\
        from pkg.env import environment


        def test_copies_the_environment():
            assert isinstance(environment(), dict)
    """))
    for path in project.rglob("*.py"):  # older than the racy window: no file changed, by stamps as by content
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns - 60 * 10**9))
    ids = ["tests/test_env.py", "tests/test_a.py::test_rate"]
    _pytest(project, "--globalhook=pkg", "--globalhook-data=data.json", *ids)
    out = _pytest(project, "--globalhook=pkg", "--globalhook-data=data.json", "--globalhook-select", *ids)
    assert _selected(out) == 0, out
    # A variable of the user's, read the same way, still selects it when its value changes, though
    # no file changed (the decision took "no file changed" for "nothing changed" before reading them).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("USER_SETTING_FOR_SELECTION", "one")
        _pytest(project, "--globalhook=pkg", "--globalhook-data=data.json", *ids)
        patch.setenv("USER_SETTING_FOR_SELECTION", "two")
        out = _pytest(project, "--globalhook=pkg", "--globalhook-data=data.json", "--globalhook-select", *ids)
    assert _selected(out) == 1, out
