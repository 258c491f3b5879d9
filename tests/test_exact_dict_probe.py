"""A future CPython that requires globals to be an exact dict (gh-121306, gh-131811).

Such a CPython would either refuse a dict subclass as globals or read it as
a plain dict, silently.  Both are simulated here by replacing ``exec`` (the
probe, the module loader and the runner all go through it): ``globalhook
run`` must stop with one clear line and exit status 3, and the program must
not run untracked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = str(Path(__file__).resolve().parent.parent)

REFUSES = '''
def strict_exec(code, globals=None, locals=None, **kw):
    if globals is not None and type(globals) is not dict:
        raise TypeError(f"exec() globals must be a dict, not {type(globals).__name__}")
    return real_exec(code, globals, locals, **kw)
'''

READS_AS_EXACT = '''
def strict_exec(code, globals=None, locals=None, **kw):
    if globals is not None and type(globals) is not dict:
        # What a CPython that reads globals as an exact dict would do: no __getitem__ calls.
        plain = dict(globals)
        try:
            return real_exec(code, plain, plain if locals is globals else locals, **kw)
        finally:
            dict.update(globals, plain)
    return real_exec(code, globals, locals, **kw)
'''


def run_on_simulated_cpython(folder: Path, simulation: str, core: str) -> subprocess.CompletedProcess:
    (folder / "prog.py").write_text("open('ran', 'w').close()\nprint('the program ran')\n")
    code = (
        "import builtins, sys\n"
        "real_exec = builtins.exec\n"
        f"{simulation}\n"
        "builtins.exec = strict_exec\n"
        "from globalhook.cli import main\n"
        "sys.exit(main(['run', '--data-file', 'd.json', 'prog.py']))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env.update(PYTHONPATH=REPO, PYTHONDONTWRITEBYTECODE="1", GLOBALHOOK_CORE=core)
    return subprocess.run([sys.executable, "-c", code], cwd=str(folder), env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("core", ["auto", "python"])
@pytest.mark.parametrize(
    "simulation, says",
    [
        (REFUSES, "refuses a dict subclass as module globals (TypeError: exec() globals must be a dict"),
        (READS_AS_EXACT, "does not route global lookups through a dict subclass"),
    ],
    ids=["refuses", "reads-as-exact"],
)
def test_one_clear_error_never_an_untracked_run(tmp_path: Path, simulation: str, says: str, core: str) -> None:
    result = run_on_simulated_cpython(tmp_path, simulation, core)
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "ran").exists()
    [line] = [line for line in result.stderr.splitlines() if "pure-Python core" not in line]
    assert line.startswith("globalhook: error: globalhook cannot track global lookups on this Python (")
    assert says in line
    assert "gh-121306" in line
