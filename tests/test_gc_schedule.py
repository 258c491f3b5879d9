"""The collector runs as often in a labelled tracked program as in the program alone.

Each new context (a pytest test phase) makes empty count tables for every
code object that reads in it: containers the collector counts towards its
next pass over the youngest generation.  Counted, they ran it (and with it
the older generations' passes, over the program's whole heap) about twice
as often on click's suite.  The probe counts the passes the collector makes
while code of a tracked module runs in thousands of contexts, plain and
tracked, and compares.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from conftest import c_core_built, core_env

PROBE = """\
    import gc, os, sys
    import work

    if os.environ.get("PROBE_TRACKED"):
        from globalhook import set_context
    else:
        def set_context(label):
            return ""

    passes = [0]

    def count(phase, info):
        if phase == "start" and info["generation"] == 0:
            passes[0] += 1

    kept = []
    gc.collect()
    gc.callbacks.append(count)
    for i in range(3000):
        set_context(f"test_{i}|call")
        work.read()
        kept.append([[] for _ in range(5)])  # the program's own containers
    set_context("")
    gc.callbacks.remove(count)
    print(passes[0])
"""

WORK = """\
    RATE = 2

    def read():
        return RATE + len("x")
"""


def _passes(folder: Path, tracked: bool) -> int:
    env = core_env("c")
    env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{folder}"
    if tracked:
        env["PROBE_TRACKED"] = "1"
        command = [sys.executable, "-m", "globalhook", "run", "--include", "work",
                   "--data-file", str(folder / "data.json"), str(folder / "probe.py")]
    else:
        command = [sys.executable, str(folder / "probe.py")]
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return int(result.stdout.split()[-1])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.9 and 3.10: the core reads frame objects, not the interpreter's state")
@pytest.mark.skipif(bool(sysconfig.get_config_var("Py_GIL_DISABLED")), reason="free-threaded builds count allocations per thread")
def test_new_contexts_tables_do_not_run_the_collector(tmp_path: Path) -> None:
    if not c_core_built():
        pytest.skip("the compiled core is not built")
    from globalhook import _ctracking

    if _ctracking.FRAMES != "interpreter frames":
        pytest.skip("a build on the public frame API does not reach the collector's state")
    (tmp_path / "probe.py").write_text(textwrap.dedent(PROBE))
    (tmp_path / "work.py").write_text(textwrap.dedent(WORK))
    plain = _passes(tmp_path, tracked=False)
    tracked = _passes(tmp_path, tracked=True)
    assert plain > 5  # the program's own containers run it
    # Each context made 2 x 10 containers (the label's tables, work.read's):
    # counted, about 85 passes more than the program's own.  What is left (a
    # container or two per context, from first sights) is a few passes.
    assert tracked <= plain + 12, (plain, tracked)
