"""``tests-for -0`` and the documented recipe, for every kind of test id (issue 17 item 18).

``pytest $(globalhook tests-for ...)`` splits ids on spaces and lets ids that
look like options reach pytest's option parser.  The recipe the docs give,
``globalhook tests-for -0 MODULE:NAME | xargs -0 -r pytest --``, must run
exactly the tests that read the global, whatever their ids hold.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import core_env

TIMEOUT = 120

#: Parameters whose ids break word splitting, quoting or option parsing.
AWKWARD = [
    "a b",
    "[x]",
    "caf\u00e9 \u2603",
    "--bound, --count)]",
    "-k",
    "it's \"quoted\"",
    "semi;colon $HOME *",
    "pipe|call",
]

PROJECT = {
    "mypkg/__init__.py": "",
    "mypkg/core.py": """\
        RATE = 2

        def double(x):
            return x * RATE
    """,
    "tests/test_ids.py": f"""\
        import pytest

        from mypkg import core

        @pytest.mark.parametrize("text", {AWKWARD!r})
        def test_reads(text):
            assert core.double(1) == 2

        def test_other():
            assert True
    """,
    # Ids exactly as written (unicode too), not pytest's ASCII escapes.
    "pytest.ini": """\
        [pytest]
        disable_test_id_escaping_and_forfeit_all_rights_to_community_support = true
    """,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for relative, text in PROJECT.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    env = env_for()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--globalhook"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp_path


def env_for() -> dict:
    return core_env("auto", PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8", LC_ALL="C.UTF-8")


def run_tests_for(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "globalhook", "tests-for", *args],
        cwd=project, env=env_for(), capture_output=True, timeout=TIMEOUT,
    )


def expected_ids() -> list:
    return sorted(f"tests/test_ids.py::test_reads[{text}]" for text in AWKWARD)


def test_null_ends_every_id_with_nul_exactly_as_recorded(project):
    result = run_tests_for(project, "-0", "mypkg.core:RATE")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(b"\0")
    ids = [os.fsdecode(each) for each in result.stdout.split(b"\0")[:-1]]
    assert ids == expected_ids()
    assert run_tests_for(project, "--null", "mypkg.core:RATE").stdout == result.stdout


def test_lines_without_null(project):
    result = run_tests_for(project, "mypkg.core:RATE")
    assert result.returncode == 0
    assert result.stdout.decode("utf-8").splitlines() == expected_ids()


def test_nothing_found_prints_nothing_with_null(project):
    result = run_tests_for(project, "-0", "mypkg.core:NOPE")
    assert result.returncode == 1
    assert result.stdout == b""
    assert b"no test read mypkg.core:NOPE" in result.stderr


@pytest.mark.skipif(shutil.which("xargs") is None or shutil.which("sh") is None, reason="needs sh and xargs")
@pytest.mark.parametrize("name, ran", [("mypkg.core:RATE", len(AWKWARD)), ("mypkg.core:NOPE", 0)])
def test_the_documented_recipe_runs_exactly_those_tests(project, name, ran):
    python = shlex.quote(sys.executable)
    recipe = (
        f"{python} -m globalhook tests-for -0 {name} "
        f"| xargs -0 -r {python} -m pytest -p no:cacheprovider -q -rA --"
    )
    result = subprocess.run(
        ["sh", "-c", recipe], cwd=project, env=env_for(), capture_output=True, timeout=TIMEOUT,
    )
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, out + result.stderr.decode("utf-8", "replace")
    passed = sorted(line[len("PASSED "):] for line in out.splitlines() if line.startswith("PASSED "))
    assert passed == (expected_ids() if ran else [])
    assert "test_other" not in out  # never "run everything" when nothing matched
