"""The README stays short and keeps its two commands for a fresh machine (issue 22).

One command installs and runs the main job on the example, one installs and
runs the tests, and CI runs that same test command.  Everything else lives in
the docs site; the README's example output is checked with the docs'
examples (tests/test_docs_examples.py).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")

MAIN_JOB = "python -m pip install -e . && python -m globalhook run examples/quickstart.py && python -m globalhook report"
TESTS = "python -m pip install tox && python -m tox"


def test_the_readme_is_at_most_300_lines():
    assert len(README.splitlines()) <= 300


def test_the_readme_has_the_two_commands_and_ci_runs_the_test_command():
    assert f"```sh\n{MAIN_JOB}\n```" in README
    assert f"```sh\n{TESTS}\n```" in README
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    install, run = TESTS.split(" && ")
    assert re.search(rf"^{re.escape(install)}$", ci, re.M) and re.search(rf"^{re.escape(run)}\b", ci, re.M)
    assert (REPO / "examples" / "quickstart.py").is_file()


def test_the_readme_links_only_to_files_that_exist():
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README):
        if "://" in target:
            continue
        assert (REPO / target).exists(), target
