"""What globalhook's own commands print: never a control character from a data
file, never a traceback when the reader of a pipe goes away (issue 17, items 6
and 19), and ``check`` on data with no lookups is "nothing to check" (item 20).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

REPO = str(Path(__file__).resolve().parent.parent)
TIMEOUT = 120

ESC_CLEAR = "\x1b[2J"
OSC_TITLE = "\x1b]0;pwned\x07"
RLO = "\u202e"
NEWLINE = "\nFAKE LINE"


def clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env.update(PYTHONPATH=REPO, PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8", **extra)
    return env


def globalhook(args: List[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    return subprocess.run(
        [sys.executable, "-m", "globalhook", *args],
        cwd=str(cwd), env=clean_env(), text=True, timeout=TIMEOUT, **kwargs,
    )


def entry(module: str, function: str, name: str, kind: str, **extra: object) -> dict:
    result = {"module": module, "function": function, "file": f"/src/{module}.py", "line": 3,
              "name": name, "kind": kind, "count": 2}
    result.update(extra)
    return result


def hostile_data() -> dict:
    """Every string a view shows carries an escape, an override or a newline."""
    mod, reader = "pkg" + ESC_CLEAR, "other" + OSC_TITLE
    return {
        "format": "globalhook-data",
        "version": 1,
        "runs": [{"command": ["prog" + ESC_CLEAR], "cwd": "/x" + RLO, "started": "2020-01-01T00:00:00+00:00",
                  "notes": ["note" + OSC_TITLE], "python": "3.11" + ESC_CLEAR}],
        "not_tracked": [{"module": "nt" + ESC_CLEAR, "reason": "why" + OSC_TITLE}],
        "lookups": [
            entry(mod, "read" + OSC_TITLE, "SETTING" + RLO, "global", context="test_a" + ESC_CLEAR),
            entry(mod, "write" + RLO, "SETTING" + RLO, "store", context="test_b" + OSC_TITLE),
            entry(mod, "write" + RLO, "GONE" + NEWLINE, "missing", context="test_b" + OSC_TITLE),
            entry(reader, "use" + ESC_CLEAR, "ATTR" + OSC_TITLE, "attribute", owner=mod, reader_module=reader),
        ],
    }


def unsafe(text: str) -> List[str]:
    return [char for char in text if not (char.isprintable() or char == "\n")]


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(hostile_data()))
    fewer = hostile_data()
    fewer["lookups"] = fewer["lookups"][:1]
    (tmp_path / "fewer.json").write_text(json.dumps(fewer))
    return path


COMMANDS = [
    ["report"],
    ["report", "--show-stores"],
    ["report", "--by-name"],
    ["report", "--by-context"],
    ["report", "--shared-state"],
    ["check", "--no-missing"],
    ["check", "--forbid", "other* -> pkg*:*"],
    ["diff", "data.json", "fewer.json"],
    ["diff", "fewer.json", "data.json"],
    ["tests-for", "pkg*:SETTING*"],
]


class TestNoControlCharactersReachTheTerminal:
    @pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
    def test_every_text_view(self, tmp_path: Path, hostile: Path, args: List[str]) -> None:
        if args[0] != "diff":
            args = args + ["--data-file", str(hostile)]
        result = globalhook(args, tmp_path)
        assert "Traceback" not in result.stderr
        assert result.stdout.strip(), result.stderr
        assert unsafe(result.stdout) == [], result.stdout
        assert unsafe(result.stderr) == [], result.stderr
        # shown, escaped, not dropped
        assert "\\x1b" in result.stdout

    @pytest.mark.parametrize("args", [["report", "--by-name"], ["check", "--no-missing"], ["diff", "fewer.json", "data.json"]])
    def test_a_newline_in_a_name_forges_no_line(self, tmp_path: Path, hostile: Path, args: List[str]) -> None:
        if args[0] != "diff":
            args = args + ["--data-file", str(hostile)]
        result = globalhook(args, tmp_path)
        assert not any(line.startswith("FAKE LINE") for line in result.stdout.splitlines()), result.stdout

    def test_an_error_echoing_bad_input_is_escaped_too(self, tmp_path: Path) -> None:
        result = globalhook(["report", "--module", "x" + ESC_CLEAR + "[", "--data-file", "none.json"], tmp_path)
        assert result.returncode == 2
        assert unsafe(result.stderr) == [], result.stderr

    def test_clean_output_is_unchanged(self, tmp_path: Path) -> None:
        from globalhook.printable import escape_controls

        text = "pkg\n  read  (/src/pkg.py:3)\n    SETTING  global  2\n"
        assert escape_controls(text) is text
        assert escape_controls("a\tb\x1b" + RLO) == "a\\tb\\x1b\\u202e"


class TestClosedPipe:
    """``globalhook status | head -1``: the reader is gone before the command writes."""

    @pytest.mark.parametrize(
        "args", [["status"], ["report"], ["report", "--by-name"], ["tests-for", "pkg*:*"], ["--help"], ["report", "--help"]]
    )
    def test_exits_quietly(self, tmp_path: Path, args: List[str]) -> None:
        data = hostile_data()
        (tmp_path / ".globalhook.json").write_text(json.dumps(data))
        read_end, write_end = os.pipe()
        os.close(read_end)  # nobody will ever read: every write is EPIPE
        try:
            result = globalhook(args, tmp_path, capture_output=False, stdout=write_end, stderr=subprocess.PIPE)
        finally:
            os.close(write_end)
        assert result.stderr == ""
        assert result.returncode in (0, 1)


class TestCheckWithNoLookups:
    def test_is_nothing_to_check(self, tmp_path: Path) -> None:
        empty = {"format": "globalhook-data", "version": 1, "runs": [], "not_tracked": [], "lookups": []}
        (tmp_path / "empty.json").write_text(json.dumps(empty))
        result = globalhook(["check", "--no-missing", "--data-file", "empty.json"], tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith("globalhook: error: nothing to check")
        assert "empty.json" in result.stderr and result.stderr.count("\n") == 1


def test_runs_own_error_escapes_a_path_from_the_projects_config(tmp_path: Path) -> None:
    """``run`` prints what the program prints untouched, but its own messages go through the printer."""
    (tmp_path / "prog.py").write_text("print('ran')\n")
    (tmp_path / "pyproject.toml").write_text('[tool.globalhook]\ndata_file = "no-such-dir/x\\u001b[2J.json"\n')
    result = globalhook(["run", "prog.py"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert unsafe(result.stderr) == [] and "\\x1b[2J" in result.stderr, result.stderr
