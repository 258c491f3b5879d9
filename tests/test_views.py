"""The text views on a data file: ``report --by-name``, ``diff`` and ``check``.

Unit tests on hand-made data, then the commands end to end in a subprocess:
exit status, what is printed, one-line errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from globalhook import data as datafile
from globalhook.check import CheckConfig, RuleError, find_violations, load_check_config, parse_rule
from globalhook.config import ConfigError, load_config
from globalhook.diff import diff, json_diff, text_diff
from globalhook.records import from_entry
from globalhook.patterns import PatternError
from globalhook.reverse import ReverseIndex, by_name_json, by_name_text

REPO = str(Path(__file__).resolve().parent.parent)


def entry(module, function, name, kind="global", count=1, line=10, file=None, **extra):
    result = {
        "module": module, "function": function, "file": file or f"/src/{module.replace('.', '/')}.py",
        "line": line, "name": name, "kind": kind, "count": count,
    }
    result.update(extra)
    return result


def make(*lookups, runs=None):
    return datafile.make_data(list(lookups), runs or {"python": "3.11.7"})


def globalhook(args, cwd, check=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = REPO
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "globalhook", *args], cwd=str(cwd), env=env,
        capture_output=True, text=True, timeout=120, check=check,
    )


def save(path: Path, data: dict) -> Path:
    datafile.save(data, str(path))
    return path


def assert_one_line_error(result, *words, status=2):
    assert result.returncode == status, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("globalhook: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


SAMPLE = make(
    entry("app.core", "load", "CONFIG", count=3, line=5),
    entry("app.core", "save", "CONFIG", count=7, line=20),
    entry("app.core", "save", "len", "builtin", count=2, line=20),
    entry("app.core", "save", "typo", "missing", count=1, line=20),
    entry("app.web", "view", "CONFIG", count=1, line=3, context="tests/test_web.py::test_view"),
    entry("app.web", "view", "CONFIG", count=4, line=3, context="tests/test_web.py::test_other"),
    entry("app.web", "<module>", "CONFIG", "store", line=1),
)


class TestReverse:
    def test_readers_per_module_global_most_frequent_first(self):
        index = ReverseIndex(SAMPLE)
        assert list(index.modules) == ["app.core", "app.web"]
        core = {(r.name, r.kind): r for r in index.modules["app.core"]}
        assert set(core) == {("CONFIG", "global"), ("typo", "missing")}  # builtins and stores left out
        config = core[("CONFIG", "global")]
        assert config.count == 10
        assert [(key[1], n) for key, n in config.sorted_readers()] == [("save", 7), ("load", 3)]
        web = index.modules["app.web"][0]
        assert web.sorted_contexts() == [("tests/test_web.py::test_other", 4), ("tests/test_web.py::test_view", 1)]

    def test_module_and_context_filters(self):
        assert list(ReverseIndex(SAMPLE, ["app.web"]).modules) == ["app.web"]
        assert list(ReverseIndex(SAMPLE, ["app.*"]).modules) == ["app.core", "app.web"]
        only = ReverseIndex(SAMPLE, context="*test_view")
        assert [(r.owner, r.name, r.count) for r in only] == [("app.web", "CONFIG", 1)]
        with pytest.raises(PatternError):
            ReverseIndex(SAMPLE, ["bad-name"])

    def test_reads_of_other_modules_group_under_their_owner(self):
        data = make(entry("app.web", "view", "DEBUG", "attribute", owner="app.settings", reader_module="app.web"))
        (readers,) = list(ReverseIndex(data))
        assert (readers.owner, readers.name) == ("app.settings", "DEBUG")
        assert list(readers.readers) == [("app.web", "view", "/src/app/web.py", 10)]
        assert "app.web.view" in by_name_text(data)

    def test_text(self, monkeypatch):
        monkeypatch.chdir("/")
        text = by_name_text(SAMPLE)
        assert text.splitlines()[:5] == [
            "app.core",
            "  CONFIG  global  10  (2 readers)",
            "    save  src/app/core.py:20  7",
            "    load  src/app/core.py:5   3",
            "  typo  missing  1  (1 reader)",
        ]
        assert "    tests: tests/test_web.py::test_other (4), tests/test_web.py::test_view (1)" in text
        assert by_name_text(SAMPLE, ["nothing"]) == "No reads of module globals recorded for modules matching: nothing.\n"

    def test_json(self):
        report = json.loads(by_name_json(SAMPLE))
        first = report["names"][0]
        assert first["module"] == "app.core" and first["name"] == "CONFIG" and first["count"] == 10
        assert first["readers"][0] == {"module": "app.core", "function": "save", "file": "/src/app/core.py", "line": 20, "count": 7}
        assert report["names"][-1]["contexts"][0] == {"context": "tests/test_web.py::test_other", "count": 4}

    def test_cli(self, tmp_path):
        save(tmp_path / "d.json", SAMPLE)
        result = globalhook(["report", "--by-name", "--data-file", "d.json", "--module", "app.core"], tmp_path)
        assert result.returncode == 0 and result.stdout.startswith("app.core\n  CONFIG  global  10")
        assert "app.web" not in result.stdout
        result = globalhook(["report", "--by-name", "--format", "json", "--data-file", "d.json"], tmp_path)
        assert json.loads(result.stdout)["names"][0]["name"] == "CONFIG"
        assert_one_line_error(globalhook(["report", "--by-name", "--data-file", "d.json", "--module", "a-b"], tmp_path), "a-b")
        assert_one_line_error(globalhook(["report", "--by-name", "--data-file", "nope.json"], tmp_path), "nope.json")


OLD = make(
    entry("m", "same", "A"),
    entry("m", "changed", "A"),
    entry("m", "changed", "B", count=5),
    entry("m", "gone", "A"),
    entry("m", "moved", "A", line=30),
    entry("m", "counted", "A", count=10, line=40),
)
NEW = make(
    entry("m", "same", "A"),
    entry("m", "changed", "A"),
    entry("m", "changed", "C", "missing"),
    entry("m", "new", "len", "builtin"),
    entry("m", "moved", "A", line=33),
    entry("m", "counted", "A", count=25, line=40),
)


class TestDiff:
    def test_equal(self):
        result = diff(OLD, OLD)
        assert result.equal and result.changes == []
        assert text_diff(result).splitlines()[-1] == "No dependency differences (5 functions compared)"

    def test_changes(self):
        result = diff(OLD, NEW)
        assert not result.equal
        by_name = {c.function: c for c in result.changes}
        assert by_name["changed"].status == "changed"
        assert by_name["changed"].added == [("C", "missing")] and by_name["changed"].removed == [("B", "global")]
        assert by_name["gone"].status == "disappeared" and by_name["gone"].removed == [("A", "global")]
        assert by_name["new"].status == "appeared" and by_name["new"].added == [("len", "builtin")]
        assert by_name["moved"].status == "moved" and not by_name["moved"].differs
        assert "counted" not in by_name and "same" not in by_name  # counts only with a threshold

    def test_a_moved_function_alone_is_no_difference(self):
        old = make(entry("m", "f", "A", line=3))
        new = make(entry("m", "f", "A", line=9))
        result = diff(old, new)
        assert result.equal and [c.status for c in result.changes] == ["moved"]
        assert text_diff(result).splitlines()[-1] == "No dependency differences (1 function compared; 1 moved)"

    def test_count_threshold(self):
        assert [(c.function, c.counts) for c in diff(OLD, NEW, counts=10).changes if c.counts] == [("counted", [("A", "global", 10, 25)])]
        assert [c for c in diff(OLD, NEW, counts=15).changes if c.counts] == []
        assert diff(OLD, NEW, counts=0).equal is False
        counts_only = diff(make(entry("m", "f", "A", count=1)), make(entry("m", "f", "A", count=2)), counts=0)
        assert counts_only.equal and counts_only.changes[0].status == "counts"

    def test_same_qualified_name_twice_pairs_by_line_then_order(self):
        old = make(entry("m", "<lambda>", "A", line=5), entry("m", "<lambda>", "B", line=9))
        new = make(entry("m", "<lambda>", "B", line=9), entry("m", "<lambda>", "A", line=6), entry("m", "<lambda>", "C", line=20))
        changes = diff(old, new).changes
        assert [(c.status, c.old and c.old.line, c.new and c.new.line) for c in changes] == [
            ("moved", 5, 6), ("appeared", None, 20),
        ]

    def test_contexts_are_added_up(self):
        old = make(entry("m", "f", "A", count=1, context="t1"), entry("m", "f", "A", count=1, context="t2"))
        new = make(entry("m", "f", "A", count=2))
        assert diff(old, new, counts=0).changes == []

    def test_text_and_json(self, monkeypatch):
        monkeypatch.chdir("/")
        text = text_diff(diff(OLD, NEW, counts=5), "old.json", "new.json")
        assert text.splitlines() == [
            "--- old.json",
            "+++ new.json",
            "m",
            "  ~ changed  (src/m.py:10)  changed",
            "      + C  missing",
            "      - B  global",
            "  ~ counted  (src/m.py:40)  counts",
            "      ~ A  global  10 -> 25",
            "  - gone  (src/m.py:10)  disappeared",
            "      - A  global",
            "  + new  (src/m.py:10)  appeared",
            "      + len  builtin",
            "Functions: 1 changed, 1 appeared, 1 disappeared, 1 moved; names: 2 added, 2 removed; 1 count change",
        ]
        report = json.loads(json_diff(diff(OLD, NEW), "old.json", "new.json"))
        assert report["equal"] is False and report["compared"] == 6
        moved = next(f for f in report["functions"] if f["function"] == "moved")
        assert moved["old"] == {"file": "/src/m.py", "line": 30} and moved["new"]["line"] == 33

    def test_cli_exit_status(self, tmp_path):
        save(tmp_path / "old.json", OLD)
        save(tmp_path / "new.json", NEW)
        same = globalhook(["diff", "old.json", "old.json"], tmp_path)
        assert same.returncode == 0 and "No dependency differences" in same.stdout
        changed = globalhook(["diff", "old.json", "new.json", "--counts", "5"], tmp_path)
        assert changed.returncode == 1 and "~ A  global  10 -> 25" in changed.stdout
        as_json = globalhook(["diff", "old.json", "new.json", "--format", "json"], tmp_path)
        assert as_json.returncode == 1 and json.loads(as_json.stdout)["equal"] is False
        assert_one_line_error(globalhook(["diff", "old.json", "missing.json"], tmp_path), "missing.json", "no such file")
        (tmp_path / "bad.json").write_text("{")
        assert_one_line_error(globalhook(["diff", "bad.json", "old.json"], tmp_path), "bad.json", "corrupt JSON")
        wrong = globalhook(["diff", "old.json", "new.json", "--counts", "-1"], tmp_path)
        assert wrong.returncode == 2 and "--counts" in wrong.stderr and "Traceback" not in wrong.stderr


class TestRules:
    @pytest.mark.parametrize(
        "text, reader, owner, name, expected",
        [
            ("myapp.web.* -> myapp.settings:*", "myapp.web.views", "myapp.settings", "DEBUG", True),
            ("myapp.web.* -> myapp.settings:*", "myapp.web", "myapp.settings", "DEBUG", False),
            ("myapp.web -> myapp.settings:*", "myapp.web", "myapp.settings", "DEBUG", True),
            ("myapp.web -> myapp.settings:*", "myapp.web.views", "myapp.settings.sub", "X", True),
            ("myapp.web -> myapp.settings:*", "myapp.webbed", "myapp.settings", "X", False),
            ("* -> os:environ", "anything", "os", "environ", True),
            ("* -> os:environ", "anything", "os", "environ_x", False),
            ("*->*:SECRET_*", "a", "b", "SECRET_KEY", True),
            ("*->*:SECRET_*", "a", "b", "KEY", False),
        ],
    )
    def test_matching(self, text, reader, owner, name, expected):
        rule = parse_rule(text)
        assert rule.forbids(from_entry(entry(owner, "f", name, owner=owner, reader_module=reader))) is expected

    @pytest.mark.parametrize(
        "text, words",
        [
            ("myapp.web", "expected 'READER -> OWNER:NAME'"),
            ("a -> b", "expected 'READER -> OWNER:NAME'"),
            ("a -> b -> c:d", "expected"),
            ("a-b -> c:d", "cannot appear in a module name"),
            ("a -> c:", "name pattern"),
            ("a -> :X", "empty pattern"),
            (" -> c:X", "empty pattern"),
            ("a -> c:X.Y", "name pattern"),
        ],
    )
    def test_bad_rules_name_the_rule(self, text, words):
        with pytest.raises(RuleError) as caught:
            parse_rule(text)
        assert str(caught.value).startswith(f"bad rule {text!r}: ") and words in str(caught.value)

    def test_today_the_reader_and_the_owner_are_the_entrys_module(self):
        rule = parse_rule("app.web -> app.web:CONFIG")
        assert rule.forbids(from_entry(entry("app.web", "view", "CONFIG")))
        assert not parse_rule("app.web -> app.core:CONFIG").forbids(from_entry(entry("app.web", "view", "CONFIG")))

    def test_violations(self, tmp_path):
        source = tmp_path / "web.py"
        source.write_text("CONFIG = 1\n\n\ndef view():\n    x = 1\n    return CONFIG + typo\n")
        lookups = [
            entry("app.web", "view", "CONFIG", file=str(source), line=4, count=2, context="t1"),
            entry("app.web", "view", "CONFIG", file=str(source), line=4, count=1, context="t2"),
            entry("app.web", "view", "typo", "missing", file=str(source), line=4),
            entry("app.web", "view", "len", "builtin", file=str(source), line=4),
            entry("app.web", "<module>", "CONFIG", "store", file=str(source), line=1),
            entry("app.core", "load", "CONFIG", line=7),
        ]
        found = find_violations(lookups, [parse_rule("app.web -> app.web:*")], no_missing=True)
        lines = [v.describe(str(tmp_path)) for v in found]
        assert lines == [
            # The tests that made the read, most reads first (t1: 2, t2: 1).
            "web.py:6: app.web.view reads app.web:CONFIG (global, 3 times) in tests t1, t2: forbidden by 'app.web -> app.web:*'",
            "web.py:6: app.web.view reads app.web:typo (missing, 1 time): forbidden by 'app.web -> app.web:*'",
            "web.py:6: app.web.view looks up typo, which is not defined (1 time): require-no-missing",
        ]
        assert find_violations(lookups, [parse_rule("app.web -> app.core:*")]) == []

    def test_entries_of_the_future_format_are_matched_on_reader_and_owner(self):
        read = entry("app.settings", "view", "DEBUG", "attribute", owner="app.settings", reader_module="app.web.views")
        (violation,) = find_violations([read], [parse_rule("app.web.* -> app.settings:*")])
        assert violation.describe("/") == (
            "src/app/settings.py:10: app.web.views.view reads app.settings:DEBUG (attribute, 1 time): "
            "forbidden by 'app.web.* -> app.settings:*'"
        )


def write_pyproject(folder: Path, text: str) -> Path:
    path = folder / "pyproject.toml"
    path.write_text(textwrap.dedent(text))
    return path


class TestCheckConfig:
    def test_reads_the_check_table(self, tmp_path):
        write_pyproject(tmp_path, """
            [tool.globalhook]
            include = ["app"]
            [tool.globalhook.check]
            forbid = ["app.web.* -> app.settings:*", "* -> os:environ"]
            require-no-missing = true
        """)
        config = load_check_config(cwd=str(tmp_path), environ={})
        assert config.forbid == ["app.web.* -> app.settings:*", "* -> os:environ"]
        assert config.require_no_missing is True and config.warnings == []
        # The run's own config does not warn about the table it leaves to check.
        assert load_config(cwd=str(tmp_path), environ={}).warnings == []

    def test_no_file_no_table(self, tmp_path):
        assert load_check_config(cwd=str(tmp_path), environ={}).forbid == []
        write_pyproject(tmp_path, "[tool.other]\n")
        config = load_check_config(cwd=str(tmp_path), environ={})
        assert (config.forbid, config.require_no_missing) == ([], False)

    @pytest.mark.parametrize(
        "body, words",
        [
            ('forbid = "a -> b:c"', "forbid: expected a list of rule strings"),
            ("forbid = [1]", "forbid: expected a list of rule strings"),
            ('require-no-missing = "yes"', "require-no-missing: expected true or false, got str"),
        ],
    )
    def test_wrong_types_name_file_and_key(self, tmp_path, body, words):
        path = write_pyproject(tmp_path, f"[tool.globalhook.check]\n{body}\n")
        with pytest.raises(ConfigError) as caught:
            load_check_config(cwd=str(tmp_path), environ={})
        assert str(caught.value).startswith(f"{path}: [tool.globalhook.check] ") and words in str(caught.value)

    def test_check_must_be_a_table_and_unknown_keys_warn(self, tmp_path):
        write_pyproject(tmp_path, "[tool.globalhook]\ncheck = 3\n")
        with pytest.raises(ConfigError, match="must be a table"):
            load_check_config(cwd=str(tmp_path), environ={})
        write_pyproject(tmp_path, "[tool.globalhook.check]\nforbidd = []\n")
        assert "unknown key 'forbidd'" in load_check_config(cwd=str(tmp_path), environ={}).warnings[0]

    def test_explicit_config_file(self, tmp_path):
        other = tmp_path / "ci.toml"
        other.write_text('[tool.globalhook.check]\nforbid = ["a -> b:c"]\n')
        assert load_check_config(str(other), cwd=str(tmp_path), environ={}).forbid == ["a -> b:c"]
        assert isinstance(CheckConfig(), CheckConfig)


class TestCheckCommand:
    @pytest.fixture
    def project(self, tmp_path):
        app = tmp_path / "app"
        app.mkdir()
        (app / "__init__.py").write_text("")
        (app / "settings.py").write_text("DEBUG = True\nSECRET = 'x'\n")
        (app / "web.py").write_text(textwrap.dedent("""\
            DEBUG = False


            def view():
                return DEBUG


            def broken():
                try:
                    return undefined_thing
                except NameError:
                    return None
        """))
        (tmp_path / "main.py").write_text("import app.web\napp.web.view()\napp.web.broken()\n")
        result = globalhook(["run", "--include", "app", "main.py"], tmp_path)
        assert result.returncode == 0, result.stderr
        return tmp_path

    def test_clean(self, project):
        result = globalhook(["check", "--forbid", "app.web -> app.settings:*"], project)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("globalhook check: no violations (1 rule,")

    def test_violations_from_the_command_line_and_the_config(self, project):
        write_pyproject(project, '[tool.globalhook.check]\nforbid = ["app.web -> app.web:DEBUG"]\n')
        result = globalhook(["check", "--no-missing"], project)
        assert result.returncode == 1, result.stderr
        assert result.stdout.splitlines() == [
            "app/web.py:5: app.web.view reads app.web:DEBUG (global, 1 time): forbidden by 'app.web -> app.web:DEBUG'",
            "app/web.py:10: app.web.broken looks up undefined_thing, which is not defined (1 time): require-no-missing",
            "globalhook check: 2 violations (1 rule and no missing names)",
        ]
        assert result.stderr == ""

    def test_require_no_missing_from_the_config(self, project):
        write_pyproject(project, "[tool.globalhook.check]\nrequire-no-missing = true\n")
        result = globalhook(["check"], project)
        assert result.returncode == 1 and "undefined_thing" in result.stdout

    def test_errors(self, project):
        assert_one_line_error(globalhook(["check", "--forbid", "app.web"], project), "bad rule 'app.web'")
        assert_one_line_error(globalhook(["check"], project), "nothing to check")
        assert_one_line_error(globalhook(["check", "--no-missing", "--data-file", "nope.json"], project), "nope.json", "no such file")
        (project / "bad.json").write_text('{"format": "globalhook-data", "version": 1, "lookups": [3]}')
        assert_one_line_error(globalhook(["check", "--no-missing", "--data-file", "bad.json"], project), "bad.json", "lookups[0]")
        write_pyproject(project, '[tool.globalhook.check]\nforbid = ["x -> y"]\n')
        assert_one_line_error(globalhook(["check"], project), "bad rule 'x -> y'")
        write_pyproject(project, "[tool.globalhook.check\n")
        assert_one_line_error(globalhook(["check", "--no-missing"], project), "pyproject.toml", "invalid TOML")
        assert_one_line_error(globalhook(["check", "--no-missing", "--config", "nope.toml"], project), "nope.toml")


def test_help_lists_the_new_commands(tmp_path):
    result = globalhook(["--help"], tmp_path)
    for command in ("html", "diff", "check"):
        assert f"\n  {command} " in result.stdout
