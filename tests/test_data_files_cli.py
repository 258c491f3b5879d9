"""Data and part files as users meet them on the command line: ``run``, ``combine``, ``report``.

Each test runs ``python -m globalhook`` in its own folder and checks what a
user sees: exit status, the lines printed, the data file, the parts left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest
from conftest import read_data

REPO = str(Path(__file__).resolve().parent.parent)
TIMEOUT = 60
HUGE = "9" * 5000  # beyond int's default 4300-digit limit for str -> int

needs_digit_limit = pytest.mark.skipif(not hasattr(sys, "set_int_max_str_digits"), reason="no int digit limit")


def clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = REPO
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def globalhook(args: Sequence[str], cwd: Path, env: Optional[Dict[str, str]] = None):
    return subprocess.run(
        [sys.executable, "-m", "globalhook", *args],
        cwd=str(cwd), env=env or clean_env(), capture_output=True, text=True, timeout=TIMEOUT,
    )


def assert_one_line_error(result, *words: str, status: int = 2) -> None:
    assert result.returncode == status, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("globalhook: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def parts(folder: Path, data_file: str = ".globalhook.json") -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(data_file + "."))


def counts(data: dict) -> Dict[str, int]:
    return {e["name"]: e["count"] for e in data["lookups"] if e["kind"] == "global" and e["name"] == "LIMIT"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path.resolve()
    (folder / "prog.py").write_text(textwrap.dedent("""\
        LIMIT = 2

        def limit():
            return LIMIT

        for _ in range(3):
            limit()
        """))
    return folder


def a_part(folder: Path, data_file: str = ".globalhook.json", pid: int = 4242, count: int = 5, run_id: str = "other"):
    """A well-formed part of ``data_file`` holding ``count`` reads of LIMIT."""
    from globalhook import data

    name = f"{data_file}.host.{pid}.0123abcd"
    entry = {"module": "prog", "function": "limit", "file": str(folder / "prog.py"), "line": 3,
             "name": "LIMIT", "kind": "global", "count": count}
    data.save(data.make_data([entry], {"pid": pid, "host": "host", "run_id": run_id}), str(folder / name))
    return name


# -- undecodable files (item 4) ------------------------------------------------------------


@needs_digit_limit
class TestUndecodable:
    def bad(self, folder: Path, name: str) -> str:
        (folder / name).write_text('{"format": "globalhook-data", "version": 1, "runs": [{"pid": %s}], "lookups": []}'
                                   % HUGE)
        return name

    def test_run_keeps_its_own_data_whatever_a_part_holds(self, folder):
        bad = self.bad(folder, ".globalhook.json.host.1.0123abcd")
        result = globalhook(["run", "prog.py"], folder)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        data = read_data((folder / ".globalhook.json"))
        assert counts(data) == {"LIMIT": 3}
        assert bad in parts(folder)  # left for inspection, never deleted

    def test_combine_skips_and_names_the_bad_part(self, folder):
        bad = self.bad(folder, ".globalhook.json.host.1.0123abcd")
        good = a_part(folder, pid=2)
        result = globalhook(["combine"], folder)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert [line for line in result.stderr.splitlines() if bad in line]
        assert "Combined 1 data file into" in result.stdout
        assert counts(read_data((folder / ".globalhook.json"))) == {"LIMIT": 5}
        assert parts(folder) == [bad] and good not in parts(folder)

    def test_combine_with_a_bad_data_file_is_one_line(self, folder):
        self.bad(folder, ".globalhook.json")
        a_part(folder)
        assert_one_line_error(globalhook(["combine"], folder), ".globalhook.json")

    def test_report_is_one_line(self, folder):
        self.bad(folder, ".globalhook.json")
        result = globalhook(["report"], folder)
        assert_one_line_error(result, str(folder / ".globalhook.json"))
        assert result.stdout == ""


# -- non-regular files (item 5) ------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
class TestFifo:
    def test_run_finishes_and_leaves_the_fifo(self, folder):
        os.mkfifo(folder / ".globalhook.json.host.1.0123abcd")
        result = globalhook(["run", "prog.py"], folder)  # before the fix: blocked at exit, forever
        assert result.returncode == 0, result.stderr
        assert counts(read_data((folder / ".globalhook.json"))) == {"LIMIT": 3}
        assert parts(folder) == [".globalhook.json.host.1.0123abcd"]

    def test_combine_skips_it(self, folder):
        os.mkfifo(folder / ".globalhook.json.host.1.0123abcd")
        good = a_part(folder, pid=2)
        result = globalhook(["combine"], folder)
        assert result.returncode == 0, result.stderr
        assert "Combined 1 data file into" in result.stdout
        assert counts(read_data((folder / ".globalhook.json"))) == {"LIMIT": 5}
        assert good not in parts(folder)

    def test_report_of_a_fifo_data_file_is_one_line(self, folder):
        os.mkfifo(folder / "data.json")
        assert_one_line_error(globalhook(["report", "--data-file", "data.json"], folder), "not a regular file")


# -- part names (item 8) -------------------------------------------------------------------


class TestPartNames:
    def test_combine_takes_only_its_own_data_files_parts(self, folder):
        theirs = a_part(folder, "out.json", pid=1)
        ours = a_part(folder, "out", pid=2)
        result = globalhook(["combine", "--data-file", "out"], folder)
        assert result.returncode == 0, result.stderr
        assert "Combined 1 data file into" in result.stdout
        assert (folder / theirs).exists() and not (folder / ours).exists()
        result = globalhook(["combine", "--data-file", "out.json"], folder)
        assert "Combined 1 data file into" in result.stdout
        assert not (folder / theirs).exists()
        assert counts(read_data((folder / "out.json"))) == {"LIMIT": 5}


# -- each part once (item 3) ---------------------------------------------------------------


class TestCombineOnce:
    def test_keep_then_combine_counts_each_part_once(self, folder):
        a_part(folder, pid=2, count=218)
        first = globalhook(["combine", "--keep"], folder)
        assert first.returncode == 0, first.stderr
        assert counts(read_data((folder / ".globalhook.json"))) == {"LIMIT": 218}
        second = globalhook(["combine"], folder)  # before the fix: 436
        assert second.returncode == 0, second.stderr
        assert "Combined 0 data files" in second.stdout and "in it already: not counted again" in second.stdout
        assert counts(read_data((folder / ".globalhook.json"))) == {"LIMIT": 218}
        assert parts(folder) == []


# -- small things (item 26) ----------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_run_keeps_the_mode_of_the_data_file_it_replaces(folder):
    assert globalhook(["run", "prog.py"], folder).returncode == 0
    data_file = folder / ".globalhook.json"
    os.chmod(data_file, 0o600)
    assert globalhook(["run", "prog.py"], folder).returncode == 0
    assert data_file.stat().st_mode & 0o777 == 0o600
    a_part(folder, pid=2)
    os.chmod(data_file, 0o640)
    assert globalhook(["combine"], folder).returncode == 0
    assert data_file.stat().st_mode & 0o777 == 0o640


def empty_data(folder: Path, name: str = ".globalhook.json") -> Path:
    from globalhook import data

    path = folder / name
    data.save(data.make_data([], {"command": ["prog.py"], "python": "3.11.7"}), str(path))
    return path


class TestReportCommand:
    def test_nothing_to_report_exits_1(self, folder):
        empty_data(folder)
        result = globalhook(["report"], folder)
        assert result.returncode == 1, result.stderr
        assert result.stdout.splitlines()[0] == "No data to report."
        assert result.stderr == ""

    def test_nothing_to_report_as_json_is_not_an_error(self, folder):
        empty_data(folder)
        result = globalhook(["report", "--format", "json"], folder)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["modules"] == []

    def test_filter_that_matches_nothing_exits_1(self, folder):
        assert globalhook(["run", "prog.py"], folder).returncode == 0
        result = globalhook(["report", "--module", "nothing_here"], folder)
        assert result.returncode == 1 and result.stdout.startswith("No data to report.\n")

    def test_header_names_the_run(self, folder):
        assert globalhook(["run", "prog.py", "arg"], folder).returncode == 0
        first = globalhook(["report"], folder).stdout.splitlines()[0]
        assert first.startswith("Run: prog.py arg | ")
        assert f"Python {sys.version_info[0]}.{sys.version_info[1]}." in first
        assert "| core " in first and "| strategy native" in first

    @pytest.mark.parametrize("pattern", ["bad-pat", "1abc", "pkg..sub", " "])
    def test_bad_module_pattern_is_one_line(self, folder, pattern):
        empty_data(folder)
        assert_one_line_error(globalhook(["report", "--module", pattern], folder), "--module")

    @pytest.mark.parametrize("args", [
        ["report", "--mod", "x"], ["report", "--form", "json"], ["report", "--show"],
        ["combine", "--kee"], ["combine", "--data", "x.json"],
        ["install", "--chec"], ["uninstall", "--sys"], ["status", "--sys"],
        ["diff", "--count", "1", "a.json", "b.json"], ["check", "--no-miss"], ["html", "--mod", "x"],
        ["tests-for", "--data", "x.json", "m:N"],
    ])
    def test_abbreviations_are_not_taken(self, folder, args):
        empty_data(folder)
        result = globalhook(args, folder)
        assert result.returncode == 2
        assert "unrecognized arguments" in result.stderr and "Traceback" not in result.stderr

    def test_one_part_waits(self, folder):
        a_part(folder)
        result = globalhook(["report"], folder)
        assert_one_line_error(result, "1 per-process data file waits beside it")
        a_part(folder, pid=2)
        assert "2 per-process data files wait beside it" in globalhook(["report"], folder).stderr

    def test_show_stores(self, folder):
        assert globalhook(["run", "prog.py"], folder).returncode == 0
        plain = globalhook(["report"], folder).stdout.splitlines()
        assert "  stored: LIMIT, _, limit" in plain
        assert not [line for line in plain if line.split()[1:2] == ["store"]]
        shown = globalhook(["report", "--show-stores"], folder).stdout.splitlines()
        assert ["LIMIT", "store", "1"] in [line.split() for line in shown]
        assert ["_", "store", "3"] in [line.split() for line in shown]
        assert not [line for line in shown if line.startswith("  stored:")]

    def test_forged_names_cannot_add_lines(self, folder):
        from globalhook import data

        forged = "x\nFAKE  global  999\x1b[31m"
        entry = {"module": forged, "function": forged, "file": forged, "line": 1, "name": forged,
                 "kind": "global", "count": 1}
        run = {"command": [forged], "python": "3.11.7", "notes": [forged]}
        data.save(data.make_data([entry, dict(entry, kind="store")], run, [{"module": forged, "reason": forged}]),
                  str(folder / ".globalhook.json"))
        for args in (["report"], ["report", "--show-stores"], ["report", "--module", "x"]):
            out = globalhook(args, folder).stdout
            assert "\x1b" not in out and "\nFAKE" not in out, out
            assert all(line.isprintable() for line in out.splitlines())
