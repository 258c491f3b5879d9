"""``globalhook run -c CODE`` is like ``python -c CODE`` (issue 24 item 5).

Differential, as in test_run.py: the same program under plain ``python -c``
and under ``globalhook run -c``, compared.
"""

from __future__ import annotations

import json

import pytest

from test_run import globalhook_run, load_data, count, python, strategy, tmp_path  # noqa: F401 (fixtures)

PROGRAM = """\
import json, sys, warnings
def argc():
    return len(sys.argv)
main = sys.modules["__main__"]
seen = {
    "argv": sys.argv,
    "path0": sys.path[0],
    "names": sorted(k for k in globals() if k.startswith("__")),
    "loader": repr(__loader__),
    "spec": __spec__,
    "file": hasattr(main, "__file__"),
    "main_is_here": main.__dict__ is globals(),
    "argc": argc(),
    "code": sys._getframe().f_code.co_filename,
}
print(json.dumps(seen, sort_keys=True))
warnings.warn("from -c", stacklevel=2)
"""


def test_sees_what_python_c_sees(tmp_path, strategy):
    args = ["-c", PROGRAM, "a", "--b", "-c"]
    plain = python(args, tmp_path)
    tracked = globalhook_run(args, tmp_path, strategy, tmp_path / "d.json")
    assert plain.returncode == tracked.returncode == 0, tracked.stderr
    assert json.loads(tracked.stdout) == json.loads(plain.stdout)
    assert json.loads(tracked.stdout)["argv"] == ["-c", "a", "--b", "-c"]
    assert json.loads(tracked.stdout)["path0"] == ""
    assert tracked.stderr == plain.stderr and "from -c" in tracked.stderr
    # __main__ is tracked: the function's read of sys is recorded.
    assert count(load_data(tmp_path / "d.json"), "__main__", "argc", "sys", "global") == 1


@pytest.mark.parametrize(
    "code, status",
    [("raise SystemExit(4)", 4), ("1/0", 1), ("import sys; sys.exit('bye')", 1), ("1/", 1), ("pass", 0)],
)
def test_exit_status_and_output(tmp_path, code, status):
    plain = python(["-c", code], tmp_path)
    tracked = globalhook_run(["-c", code], tmp_path, data_file=tmp_path / "d.json")
    assert plain.returncode == tracked.returncode == status
    assert (tracked.stdout, tracked.stderr) == (plain.stdout, plain.stderr)


def test_joined_form_and_options_before(tmp_path):
    result = globalhook_run(["--record-command", "none", "-cimport sys; print(sys.argv)", "x"], tmp_path,
                            data_file=tmp_path / "d.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['-c', 'x']\n"


def test_exclude_main_runs_untracked(tmp_path):
    result = globalhook_run(["--exclude", "__main__", "-c", "X = 1\ndef f():\n    return X\nf()"], tmp_path,
                            data_file=tmp_path / "d.json")
    assert result.returncode == 0, result.stderr
    assert count(load_data(tmp_path / "d.json"), "__main__", "f", "X", "global") == 0


def test_missing_command_is_one_line(tmp_path):
    result = globalhook_run(["-c"], tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "-c needs a command" in result.stderr
