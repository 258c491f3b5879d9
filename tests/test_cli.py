"""The command line, end to end: ``python -m globalhook ...`` in a subprocess.

Every test runs in its own ``tmp_path`` with a data file there, and checks
what a user sees: exit status, the lines on stdout/stderr, and the data file.
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
TIMEOUT = 120


def _version() -> str:
    # Read it from the source, not from an import, so the test also catches a
    # --version that disagrees with the package.
    for line in (Path(REPO) / "globalhook" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise AssertionError("no __version__ in globalhook/__init__.py")


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


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_data(path: Path) -> dict:
    assert path.exists(), f"no data file at {path}"
    return read_data(path)


def modules_in(data: dict) -> set:
    return {e["module"] for e in data["lookups"]}


def count(data: dict, module: str, function: str, name: str, kind: str) -> int:
    return sum(
        e["count"]
        for e in data["lookups"]
        if (e["module"], e["function"], e["name"], e["kind"]) == (module, function, name, kind)
    )


def assert_one_line_error(result, *words: str, status: int = 2) -> None:
    assert result.returncode == status, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("globalhook: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


SCRIPT = """\
    LIMIT = 2

    def limit():
        return LIMIT

    for _ in range(3):
        limit()
    print("ran")
    """


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    """The test's folder as the programs see it (os.getcwd() resolves symlinks, e.g. macOS /var)."""
    return tmp_path.resolve()


@pytest.fixture
def script(tmp_path) -> Path:
    return write(tmp_path / "prog.py", SCRIPT)


# -- the command itself ----------------------------------------------------------------


class TestTopLevel:
    def test_no_arguments_shows_usage_and_fails(self, tmp_path):
        result = globalhook([], tmp_path)
        assert result.returncode == 2
        output = result.stdout + result.stderr
        assert "usage: globalhook COMMAND" in output
        assert "run" in output and "report" in output

    @pytest.mark.parametrize("flag", ["--help", "-h"])
    def test_help(self, tmp_path, flag):
        result = globalhook([flag], tmp_path)
        assert result.returncode == 0
        assert result.stdout.startswith("usage: globalhook COMMAND")
        assert "  run " in result.stdout and "  report " in result.stdout
        assert result.stderr == ""

    def test_version(self, tmp_path):
        result = globalhook(["--version"], tmp_path)
        assert (result.returncode, result.stdout, result.stderr) == (0, f"globalhook {_version()}\n", "")

    def test_unknown_command(self, tmp_path):
        result = globalhook(["frobnicate", "x.py"], tmp_path)
        assert_one_line_error(result, "'frobnicate'", "run", "report")
        assert result.stdout == ""

    @pytest.mark.parametrize("command", ["run", "report"])
    def test_command_help(self, tmp_path, command):
        result = globalhook([command, "--help"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: globalhook {command}")
        assert "--data-file" in result.stdout


class TestRunUsage:
    @pytest.mark.parametrize("args", [[], ["--include", "pkg"], ["--report"], ["-m"], ["--"]])
    def test_no_program_is_a_usage_error(self, tmp_path, args):
        result = globalhook(["run", *args], tmp_path)
        assert_one_line_error(result)
        assert not (tmp_path / ".globalhook.json").exists()

    def test_option_missing_its_value(self, tmp_path):
        assert_one_line_error(globalhook(["run", "--data-file"], tmp_path), "--data-file")

    @pytest.mark.parametrize("option", ["--include", "--exclude"])
    def test_empty_pattern(self, tmp_path, script, option):
        result = globalhook(["run", option, "", "prog.py"], tmp_path)
        assert_one_line_error(result, option, "empty")
        assert result.stdout == ""  # the program did not run

    def test_bad_pattern(self, tmp_path, script):
        result = globalhook(["run", "--include", "not a/module", "prog.py"], tmp_path)
        assert_one_line_error(result, "--include", "not a/module")

    def test_unknown_strategy(self, tmp_path, script):
        result = globalhook(["run", "--strategy", "magic", "prog.py"], tmp_path)
        assert result.returncode == 2
        assert "--strategy" in result.stderr and "magic" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""


# -- configuration ----------------------------------------------------------------------


class TestConfigErrors:
    @pytest.mark.parametrize(
        "text, words",
        [
            ("[tool.globalhook]\ninclude = 3\n", ["[tool.globalhook]", "include", "list of strings"]),
            ("[tool.globalhook]\nstrategy = 'fast'\n", ["[tool.globalhook]", "strategy", "fast"]),
            ("[tool.globalhook]\ninclude = ['']\n", ["include", "empty pattern"]),
            ("[tool.globalhook\ninclude = 3\n", ["invalid TOML"]),
            ("[tool.globalhook]\ninclude = [\n", ["invalid TOML"]),
        ],
    )
    @pytest.mark.parametrize("command", [["run", "prog.py"], ["report"]])
    def test_broken_pyproject(self, tmp_path, script, text, words, command):
        write(tmp_path / "pyproject.toml", text)
        result = globalhook(command, tmp_path)
        assert_one_line_error(result, str(tmp_path / "pyproject.toml"), *words)
        assert result.stdout == ""

    def test_unknown_key_warns_but_runs(self, tmp_path, script):
        write(tmp_path / "pyproject.toml", "[tool.globalhook]\nincldue = ['x']\n")
        result = globalhook(["run", "--data-file", "data.json", "prog.py"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "ran\n"
        assert result.stderr.startswith("globalhook: warning: ")
        assert result.stderr.count("\n") == 1
        assert "'incldue'" in result.stderr and str(tmp_path / "pyproject.toml") in result.stderr
        assert count(load_data(tmp_path / "data.json"), "__main__", "limit", "LIMIT", "global") == 3

    def test_missing_config_file(self, tmp_path, script):
        result = globalhook(["run", "--config", "nope.toml", "prog.py"], tmp_path)
        assert_one_line_error(result, "--config", str(tmp_path / "nope.toml"))

    def test_missing_config_file_from_env(self, tmp_path, script):
        result = globalhook(["run", "prog.py"], tmp_path, clean_env(GLOBALHOOK_CONFIG="nope.toml"))
        assert_one_line_error(result, "GLOBALHOOK_CONFIG", str(tmp_path / "nope.toml"))

    def test_bad_environment_value(self, tmp_path, script):
        result = globalhook(["run", "prog.py"], tmp_path, clean_env(GLOBALHOOK_STRATEGY="fast"))
        assert_one_line_error(result, "GLOBALHOOK_STRATEGY", "fast")


class TestConfigSources:
    """Observable through the data file's place and the run's strategy."""

    def run_and_find(self, tmp_path: Path, args: List[str], env: Dict[str, str]) -> Dict[str, dict]:
        result = globalhook(["run", *args, "prog.py"], tmp_path, env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "ran\n"
        found = {}
        for path in tmp_path.rglob("*.json"):
            found[path.name] = load_data(path)
        return found

    def test_config_option(self, tmp_path, script):
        write(tmp_path / "conf" / "settings.toml", """\
            [tool.globalhook]
            data_file = "from_config.json"
            strategy = "proxy"
            """)
        found = self.run_and_find(tmp_path, ["--config", "conf/settings.toml"], clean_env())
        # A relative data_file in a config file is taken from that file's folder.
        assert set(found) == {"from_config.json"}
        assert (tmp_path / "conf" / "from_config.json").exists()
        assert found["from_config.json"]["runs"][0]["strategy"] == "proxy"

    def test_config_env(self, tmp_path, script):
        write(tmp_path / "conf" / "settings.toml", '[tool.globalhook]\ndata_file = "from_env_config.json"\n')
        found = self.run_and_find(tmp_path, [], clean_env(GLOBALHOOK_CONFIG=str(tmp_path / "conf" / "settings.toml")))
        assert set(found) == {"from_env_config.json"}

    def test_config_option_beats_env_and_pyproject(self, tmp_path, script):
        write(tmp_path / "pyproject.toml", '[tool.globalhook]\ndata_file = "from_pyproject.json"\n')
        write(tmp_path / "a.toml", '[tool.globalhook]\ndata_file = "from_a.json"\n')
        write(tmp_path / "b.toml", '[tool.globalhook]\ndata_file = "from_b.json"\n')
        found = self.run_and_find(tmp_path, ["--config", "a.toml"], clean_env(GLOBALHOOK_CONFIG="b.toml"))
        assert set(found) == {"from_a.json"}
        found_env = self.run_and_find(tmp_path, [], clean_env(GLOBALHOOK_CONFIG="b.toml"))
        assert "from_b.json" in found_env and "from_pyproject.json" not in found_env

    @pytest.mark.parametrize(
        "cli, env, expected_file, expected_strategy",
        [
            (True, True, "from_cli.json", "native"),
            (False, True, "from_env.json", "native"),
            (False, False, "from_pyproject.json", "proxy"),
        ],
    )
    def test_precedence_cli_env_pyproject(self, tmp_path, script, cli, env, expected_file, expected_strategy):
        write(tmp_path / "pyproject.toml", """\
            [tool.globalhook]
            data_file = "from_pyproject.json"
            strategy = "proxy"
            """)
        args = ["--data-file", "from_cli.json", "--strategy", "native"] if cli else []
        environ = clean_env(GLOBALHOOK_DATA_FILE="from_env.json", GLOBALHOOK_STRATEGY="native") if env else clean_env()
        found = self.run_and_find(tmp_path, args, environ)
        assert set(found) == {expected_file}
        assert found[expected_file]["runs"][0]["strategy"] == expected_strategy

    def test_data_file_option(self, tmp_path, script):
        # A folder that does not exist is found out before the program runs, not after.
        result = globalhook(["run", "--data-file", "out/d.json", "prog.py"], tmp_path)
        assert_one_line_error(result, str(tmp_path / "out" / "d.json"))
        assert result.stdout == ""
        (tmp_path / "out").mkdir()
        result = globalhook(["run", "--data-file", "out/d.json", "prog.py"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert count(load_data(tmp_path / "out" / "d.json"), "__main__", "limit", "LIMIT", "global") == 3
        assert not (tmp_path / ".globalhook.json").exists()

    def test_default_data_file(self, tmp_path, script):
        result = globalhook(["run", "prog.py"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert count(load_data(tmp_path / ".globalhook.json"), "__main__", "limit", "LIMIT", "global") == 3


# -- what gets tracked --------------------------------------------------------------------


class TestSelection:
    def test_default_is_the_program_and_modules_under_cwd(self, tmp_path, tmp_path_factory):
        outside = tmp_path_factory.mktemp("outside")
        write(outside / "faraway.py", "FAR = 1\ndef far():\n    return FAR\n")
        write(tmp_path / "beside.py", "NEAR = 1\ndef near():\n    return NEAR\n")
        write(tmp_path / "prog.py", f"""\
            import sys
            sys.path.insert(0, {str(outside)!r})
            import beside, faraway
            beside.near()
            faraway.far()
            """)
        result = globalhook(["run", "--data-file", "data.json", "prog.py"], tmp_path)
        assert result.returncode == 0, result.stderr
        data = load_data(tmp_path / "data.json")
        assert count(data, "beside", "near", "NEAR", "global") == 1
        assert count(data, "__main__", "<module>", "faraway", "global") == 1
        assert "faraway" not in modules_in(data)
        assert modules_in(data) == {"__main__", "beside"}

    def test_include_and_exclude(self, tmp_path):
        write(tmp_path / "pkg" / "__init__.py", "")
        write(tmp_path / "pkg" / "used.py", "X = 1\ndef f():\n    return X\n")
        write(tmp_path / "pkg" / "skip" / "__init__.py", "Y = 1\ndef g():\n    return Y\n")
        write(tmp_path / "pkg" / "skip" / "deep.py", "Z = 1\ndef h():\n    return Z\n")
        write(tmp_path / "other.py", "W = 1\ndef k():\n    return W\n")
        write(tmp_path / "prog.py", """\
            import other, pkg.used, pkg.skip, pkg.skip.deep
            pkg.used.f(); pkg.skip.g(); pkg.skip.deep.h(); other.k()
            """)
        result = globalhook(
            ["run", "--include", "pkg", "--exclude", "pkg.skip", "--data-file", "data.json", "prog.py"], tmp_path
        )
        assert result.returncode == 0, result.stderr
        data = load_data(tmp_path / "data.json")
        assert count(data, "pkg.used", "f", "X", "global") == 1
        assert modules_in(data) == {"__main__", "pkg.used"}  # pkg/__init__ is empty: nothing to look up

    def test_exclude_main(self, tmp_path, script):
        write(tmp_path / "helper.py", "H = 1\ndef helper():\n    return H\n")
        write(tmp_path / "prog.py", "import helper\nhelper.helper()\nprint('ran')\n")
        result = globalhook(["run", "--exclude", "__main__", "--data-file", "data.json", "prog.py"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "ran\n"
        data = load_data(tmp_path / "data.json")
        # The untracked __main__ appears only as the reader of helper's attribute.
        assert modules_in(data) == {"__main__", "helper"}
        assert {(e["kind"], e.get("owner"), e["name"]) for e in data["lookups"] if e["module"] == "__main__"} == {
            ("attribute", "helper", "helper")
        }

    def test_report_option_prints_text_report_to_stderr(self, tmp_path, script):
        result = globalhook(["run", "--report", "--data-file", "data.json", "prog.py"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "ran\n"
        lines = result.stderr.splitlines()
        assert lines[0].startswith("Run: prog.py | ") and lines[2] == "__main__"
        assert any(line.split() == ["LIMIT", "global", "3"] for line in lines)
        assert any(line.strip().startswith("limit  (prog.py:") for line in lines)
        assert "Totals:" in lines
        # The same report that ``globalhook report`` prints afterwards.
        report = globalhook(["report", "--data-file", "data.json"], tmp_path)
        assert report.stdout == result.stderr


# -- report -------------------------------------------------------------------------------


class TestReport:
    @pytest.fixture
    def recorded(self, tmp_path) -> Path:
        write(tmp_path / "helper.py", "H = 1\ndef helper():\n    return H + len([])\n")
        write(tmp_path / "prog.py", "import helper\nfor _ in range(5):\n    helper.helper()\n")
        result = globalhook(["run", "prog.py"], tmp_path)
        assert result.returncode == 0, result.stderr
        return tmp_path / ".globalhook.json"

    def test_text(self, tmp_path, recorded):
        result = globalhook(["report"], tmp_path)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert "__main__" in lines and "helper" in lines
        start = lines.index("  helper  (helper.py:2)", lines.index("helper"))
        assert [line.split() for line in lines[start + 1 : start + 3]] == [["H", "global", "5"], ["len", "builtin", "5"]]

    def test_json(self, tmp_path, recorded):
        result = globalhook(["report", "--format", "json"], tmp_path)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        by_module = {m["module"]: m for m in report["modules"]}
        assert set(by_module) == {"__main__", "helper"}
        functions = {f["function"]: f for f in by_module["helper"]["functions"]}
        assert functions["helper"]["names"] == [
            {"name": "H", "kind": "global", "count": 5},
            {"name": "len", "kind": "builtin", "count": 5},
        ]
        assert report["totals"]["modules"] == 2

    def test_module_filter(self, tmp_path, recorded):
        result = globalhook(["report", "--format", "json", "--module", "helper"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert [m["module"] for m in json.loads(result.stdout)["modules"]] == ["helper"]
        text = globalhook(["report", "--module", "helper"], tmp_path).stdout.splitlines()
        assert "helper" in text and "__main__" not in text
        nothing = globalhook(["report", "--module", "nomatch"], tmp_path)
        assert nothing.returncode == 1 and nothing.stdout.startswith("No data to report.\n")

    def test_data_file_option(self, tmp_path, recorded):
        recorded.rename(tmp_path / "elsewhere.json")
        lines = globalhook(["report", "--data-file", "elsewhere.json"], tmp_path).stdout.splitlines()
        assert lines[0].startswith("Run: prog.py | ") and lines[2] == "__main__"

    def test_missing_data_file(self, tmp_path):
        result = globalhook(["report"], tmp_path)
        assert_one_line_error(result, str(tmp_path / ".globalhook.json"))
        result = globalhook(["report", "--data-file", "nope.json"], tmp_path)
        assert_one_line_error(result, str(tmp_path / "nope.json"))

    @pytest.mark.parametrize(
        "content",
        [b'{"format": ', b"", b"\xff\xfe garbage", b"[1, 2]", b'{"format": "globalhook-data", "version": 1}'],
    )
    def test_corrupt_data_file(self, tmp_path, content):
        (tmp_path / "bad.json").write_bytes(content)
        result = globalhook(["report", "--data-file", "bad.json"], tmp_path)
        assert_one_line_error(result, str(tmp_path / "bad.json"))
        assert result.stdout == ""

    def test_parts_without_a_data_file_hint_at_combine(self, tmp_path):
        (tmp_path / ".globalhook.json.host.12.0123abcd").write_text("{}")
        result = globalhook(["report"], tmp_path)
        assert_one_line_error(result, str(tmp_path / ".globalhook.json"))
        assert "globalhook combine" in result.stderr and "1 per-process data file" in result.stderr

    def test_combine_with_nothing_to_do(self, tmp_path):
        result = globalhook(["combine"], tmp_path)
        assert result.returncode == 0
        assert "no per-process data files" in result.stderr
        assert not (tmp_path / ".globalhook.json").exists()

    def test_unknown_format(self, tmp_path, recorded):
        result = globalhook(["report", "--format", "xml"], tmp_path)
        assert result.returncode == 2
        assert "xml" in result.stderr and "Traceback" not in result.stderr


def test_run_refuses_to_run_untracked(tmp_path):
    """A Python where no strategy can observe lookups: say so, exit 3, never run the program."""
    (tmp_path / "s.py").write_text("open('ran', 'w').close()\n")
    code = (
        "import sys, globalhook.modules as m\n"
        "m._observable = lambda: 'simulated: globals must be an exact dict'\n"
        "from globalhook.cli import main\n"
        "sys.exit(main(['run', 's.py']))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "cannot track" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ran").exists()
