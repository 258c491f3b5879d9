"""The .pre-commit-hooks.yaml entry for ``check``: the keys pre-commit needs, and a command that runs.

pre-commit is not a test dependency: the file is read here as the flat list
of ``key: value`` mappings it is, and the hook's entry is run as pre-commit
would run it (no file names: check reads the data file).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def hooks() -> list:
    found: list = []
    for line in (REPO / ".pre-commit-hooks.yaml").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"(- |  )([a-z_]+): (.+)", line)
        assert match, f"not a flat key: value line: {line!r}"
        if match[1] == "- ":
            found.append({})
        found[-1][match[2]] = match[3]
    return found


def test_the_check_hook(tmp_path):
    (hook,) = hooks()
    assert {"id", "name", "entry", "language"} <= set(hook)  # what pre-commit requires
    assert (hook["id"], hook["language"]) == ("globalhook-check", "python")
    assert (hook["pass_filenames"], hook["always_run"]) == ("false", "true")  # check takes no file names
    command = shlex.split(hook["entry"])
    assert command[0] == "globalhook"  # the console script [project.scripts] installs
    (tmp_path / "pyproject.toml").write_text('[tool.globalhook.check]\nforbid = ["app -> app.settings:*"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = str(REPO)
    ran = subprocess.run([sys.executable, "-m", "globalhook", *command[1:]], cwd=str(tmp_path), env=env,
                         capture_output=True, text=True)
    # The hook's command reads the rules from pyproject.toml; with no tracked run yet it says so in one line.
    assert ran.returncode == 2 and ran.stderr.startswith("globalhook: error: ") and "no such file" in ran.stderr
    assert 'globalhook = "globalhook.cli:main"' in (REPO / "pyproject.toml").read_text()
