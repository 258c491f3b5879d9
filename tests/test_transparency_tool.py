"""The transparency harness's own logic (tools/transparency.py): no network, no venvs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import module_from_file

TOOL = Path(__file__).resolve().parent.parent / "tools" / "transparency.py"


@pytest.fixture(scope="module")
def tp():
    with module_from_file("globalhook_transparency_tool", TOOL) as module:
        yield module


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="2" tests="7">
  <testcase classname="tests.test_a" name="test_pass" time="0.001"/>
  <testcase classname="tests.test_a" name="test_fail" time="0.001"><failure message="boom">trace</failure></testcase>
  <testcase classname="tests.test_a.TestK" name="test_skip[1]" time="0"><skipped type="pytest.skip" message="no"/></testcase>
  <testcase classname="tests.test_a.TestK" name="test_xfail" time="0"><skipped type="pytest.xfail" message="x"/></testcase>
  <testcase classname="tests.test_a" name="test_teardown" time="0.001"/>
  <testcase classname="tests.test_a" name="test_teardown" time="0.001"><error message="teardown">e</error></testcase>
  <testcase classname="" name="collect_error" time="0"><error message="collection">e</error></testcase>
</testsuite></testsuites>
"""


class TestJunit:
    def test_outcomes_by_id(self, tp):
        outcomes = tp.parse_junit(JUNIT)
        assert outcomes == {
            "tests.test_a::test_pass": "passed",
            "tests.test_a::test_fail": "failed",
            "tests.test_a.TestK::test_skip[1]": "skipped",
            "tests.test_a.TestK::test_xfail": "skipped",
            "tests.test_a::test_teardown": "error",  # the worse of pass + teardown error
            "collect_error": "error",
        }

    def test_totals(self, tp):
        assert tp.totals(tp.parse_junit(JUNIT)) == {"passed": 1, "failed": 1, "error": 2, "skipped": 2}

    def test_empty_suite(self, tp):
        assert tp.parse_junit('<testsuites><testsuite tests="0"/></testsuites>') == {}


class TestCompare:
    def test_only_differences_are_reported(self, tp):
        plain = {"a": "passed", "b": "failed", "c": "skipped", "d": "passed"}
        tracked = {"a": "passed", "b": "passed", "c": "skipped", "e": "passed"}
        assert tp.compare(plain, tracked) == [
            ("b", "failed", "passed"),
            ("d", "passed", "absent"),
            ("e", "absent", "passed"),
        ]

    def test_same_outcomes(self, tp):
        assert tp.compare({"a": "failed"}, {"a": "failed"}) == []


class TestLookups:
    DATA = {
        "lookups": [
            {"module": "pkg", "function": "f", "file": "pkg/__init__.py", "line": 1, "name": "x", "kind": "global", "count": 3},
            {"module": "pkg", "function": "f", "file": "pkg/__init__.py", "line": 1, "name": "len", "kind": "builtin", "count": 2},
            {"module": "pkg.sub", "function": "g", "file": "pkg/sub.py", "line": 4, "name": "y", "kind": "missing", "count": 1},
            {"module": "pkg", "function": "<module>", "file": "pkg/__init__.py", "line": 1, "name": "x", "kind": "store", "count": 9},
            {"module": "pkgother", "function": "h", "file": "pkgother.py", "line": 1, "name": "z", "kind": "global", "count": 5},
            {"module": "tests.test_pkg", "function": "t", "file": "t.py", "line": 1, "name": "pkg", "kind": "global", "count": 7},
        ]
    }

    def test_counts_reads_of_the_package_only(self, tp):
        assert tp.lookup_stats(self.DATA, ["pkg"]) == (6, 2)

    def test_several_roots(self, tp):
        assert tp.lookup_stats(self.DATA, ["pkg", "pkgother"]) == (11, 3)

    def test_rewritten_modules(self, tp):
        data = {"lookups": [
            {"module": "pkg.tests.test_a", "function": "<module>", "file": "a.py", "line": 1, "name": "@py_builtins",
             "kind": "store", "count": 1},
            {"module": "pkg.tests.test_b", "function": "<module>", "file": "b.py", "line": 1, "name": "@py_builtins",
             "kind": "global", "count": 1},
            {"module": "other.test_c", "function": "<module>", "file": "c.py", "line": 1, "name": "@py_builtins",
             "kind": "store", "count": 1},
        ]}
        assert tp.rewritten_modules(data, ["pkg"]) == 1
        assert tp.rewritten_modules(data, ["pkg", "*.test_c"]) == 2
        assert tp.rewritten_modules(self.DATA, ["pkg"]) == 0

    def test_rewritten_modules_as_recorded_now(self, tp):
        """globalhook records @py_builtins under its placeholder for non-identifier names."""
        from globalhook.tracking import NON_IDENTIFIER_KEY

        data = {"lookups": [
            {"module": "pkg.tests.test_a", "function": "<module>", "file": "a.py", "line": 1,
             "name": NON_IDENTIFIER_KEY, "kind": "store", "count": 2},
            {"module": "pkg.tests.test_b", "function": "helper", "file": "b.py", "line": 3,
             "name": NON_IDENTIFIER_KEY, "kind": "store", "count": 1},
        ]}
        assert tp.rewritten_modules(data, ["pkg"]) == 1

    def test_patterns(self, tp):
        assert tp.in_modules("pkg.sub", ["pkg"]) and tp.in_modules("pkg", ["pkg"])
        assert not tp.in_modules("pkgother", ["pkg"])
        assert tp.in_modules("test_curried", ["toolz", "test_*"])
        assert not tp.in_modules("toolz_test", ["test_*"])

    def test_nothing_recorded(self, tp):
        assert tp.lookup_stats({"lookups": []}, ["pkg"]) == (0, 0)
        assert tp.lookup_stats({}, ["pkg"]) == (0, 0)


def make_result(tp, **changes):
    values = dict(
        plain={"passed": 10, "failed": 1, "error": 0, "skipped": 2},
        tracked={"passed": 10, "failed": 1, "error": 0, "skipped": 2},
        plain_status=1, tracked_status=1, lookups=1234, functions=56,
        plain_seconds=2.0, tracked_seconds=3.0,
    )
    values.update(changes)
    strategy = values.pop("strategy", "native")
    return tp.Result("pkg", "1.0", "3.11.7", strategy, **values)


class TestResult:
    def test_ok(self, tp):
        result = make_result(tp)
        assert result.ok and result.problems() == []
        assert result.ratio == pytest.approx(1.5)

    def test_a_tracked_run_that_recorded_nothing_fails(self, tp):
        result = make_result(tp, lookups=0, functions=0)
        assert not result.ok
        assert result.problems() == ["the tracked run recorded no lookups in the package"]

    def test_differences_fail(self, tp):
        result = make_result(tp, differences=[("t::x", "passed", "failed")], tracked_status=1)
        assert not result.ok
        assert result.problems() == ["t::x: passed plain, failed tracked"]

    def test_exit_status_differs(self, tp):
        result = make_result(tp, tracked_status=2)
        assert not result.ok
        assert "pytest exit status 1 plain, 2 tracked" in result.problems()

    def test_tests_inside_the_package_must_be_rewritten_too(self, tp):
        assert make_result(tp, rewritten=3).ok
        result = make_result(tp, rewritten=0)
        assert not result.ok
        assert result.problems() == ["no tracked test module was rewritten by pytest's assertion rewriter"]

    def test_error(self, tp):
        result = make_result(tp, error="pip install failed")
        assert not result.ok and result.problems() == ["pip install failed"]

    def test_json(self, tp):
        data = make_result(tp).to_json()
        assert data["ok"] is True and data["ratio"] == 1.5 and data["lookups"] == 1234

    def test_json_round_trip(self, tp, tmp_path, capsys):
        results = [make_result(tp), make_result(tp, differences=[("t::x", "passed", "failed")])]
        again = [tp.Result.from_json(r.to_json()) for r in results]
        assert [r.to_json() for r in again] == [r.to_json() for r in results]
        saved = tmp_path / "results.json"
        saved.write_text(__import__("json").dumps([r.to_json() for r in results]))
        assert tp.main(["--table-from", str(saved), "--markdown"]) == 1
        out = capsys.readouterr().out
        assert out.count("| pkg 1.0 |") == 2 and "| DIFF |" in out

    def test_table_from_a_bad_file(self, tp, tmp_path, capsys):
        bad = tmp_path / "bad.json"
        bad.write_text("[{}]")
        assert tp.main(["--table-from", str(bad)]) == 2
        assert capsys.readouterr().err.startswith("transparency: --table-from ")


class TestTable:
    def test_text(self, tp):
        table = tp.render_table([make_result(tp), make_result(tp, lookups=0, strategy="proxy")])
        lines = table.splitlines()
        assert lines[0].split() == ["package", "python", "strategy", "plain", "p/f/s", "tracked", "p/f/s", "diffs",
                                    "lookups", "functions", "time", "x", "result"]
        assert lines[2].split() == ["pkg", "1.0", "3.11.7", "native", "10/1/2", "10/1/2", "0", "1,234", "56", "1.50", "ok"]
        assert lines[3].split()[3] == "proxy" and lines[3].split()[-1] == "DIFF"

    def test_markdown(self, tp):
        table = tp.render_table([make_result(tp, error="boom", tracked={}, tracked_seconds=0)], markdown=True)
        lines = table.splitlines()
        assert lines[0].startswith("| package | python | strategy |")
        assert re.fullmatch(r"\|(---\|)+", lines[1])
        assert lines[2] == "| pkg 1.0 | 3.11.7 | native | 10/1/2 | - | 0 | 1,234 | 56 | - | ERROR |"


class TestCommandLine:
    def test_packages_comma_separated_and_repeated(self, tp):
        args = tp.parse_args(["--packages", "toolz,six", "--packages", "toolz", "--strategy", "native"])
        assert args.package_names == ["toolz", "six"]
        assert args.strategies == ("native",)

    def test_defaults(self, tp):
        args = tp.parse_args([])
        assert args.package_names == list(tp.PACKAGES)
        assert args.strategies == ("native", "proxy")

    def test_plugin_and_all(self, tp):
        assert tp.parse_args(["--strategy", "plugin"]).strategies == ("plugin",)
        assert tp.parse_args(["--strategy", "all"]).strategies == ("native", "proxy", "plugin")

    def test_plugin_run_without_contexts_fails(self, tp):
        result = make_result(tp, strategy="plugin", contexts=0)
        assert not result.ok
        assert "the plugin run recorded no per-test contexts" in result.problems()
        assert make_result(tp, strategy="plugin", contexts=12).ok
        assert tp.Result.from_json(make_result(tp, strategy="plugin", contexts=12).to_json()).contexts == 12

    def test_unknown_package_is_a_one_line_error(self, tp, capsys):
        with pytest.raises(SystemExit) as info:
            tp.parse_args(["--packages", "nosuchpkg"])
        assert info.value.code == 2
        assert "unknown package 'nosuchpkg'" in capsys.readouterr().err

    def test_bad_strategy(self, tp):
        with pytest.raises(SystemExit):
            tp.parse_args(["--strategy", "fast"])

    def test_resolve_versions(self, tp):
        found = [tp.Interpreter((3, 9, 18), "py39"), tp.Interpreter((3, 13, 0), "py313")]
        assert [i.label for i in tp.resolve_interpreters(["newest", "3.9", "oldest"], found)] == ["3.9.18", "3.13.0"]
        with pytest.raises(tp.HarnessError, match=r"--python 3\.12: no such interpreter found \(found: 3\.9\.18, 3\.13\.0\)"):
            tp.resolve_interpreters(["3.12"], found)

    def test_free_threaded_builds_are_versions_of_their_own(self, tp):
        found = [tp.Interpreter((3, 9, 18), "py39"), tp.Interpreter((3, 14, 7), "py314"),
                 tp.Interpreter((3, 14, 7), "py314t", free_threaded=True)]
        assert [i.label for i in tp.resolve_interpreters(["3.14t"], found)] == ["3.14.7t"]
        assert [i.executable for i in tp.resolve_interpreters(["3.14", "3.14.7t"], found)] == ["py314", "py314t"]
        # oldest/newest pick builds with a GIL (ask for 3.14t by name).
        assert [i.label for i in tp.resolve_interpreters(["oldest", "newest"], found)] == ["3.9.18", "3.14.7"]
        with pytest.raises(tp.HarnessError, match=r"--python 3\.9t: no such interpreter found"):
            tp.resolve_interpreters(["3.9t"], found)

    def test_the_running_interpreter_is_found_as_what_it_is(self, tp):
        import sysconfig

        me = [i for i in tp.discover_interpreters() if i.executable == sys.executable]
        if me:
            assert me[0].free_threaded == bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
            assert me[0].version == tuple(sys.version_info[:3])

    def test_unknown_executable(self, tp, tmp_path):
        with pytest.raises(tp.HarnessError, match="not a CPython interpreter that runs"):
            tp.resolve_interpreters([str(tmp_path / "nopython")], [])


class TestPins:
    def test_every_package_is_pinned(self, tp):
        assert {"more-itertools", "toolz"} <= set(tp.PACKAGES)
        assert len(tp.PACKAGES) >= 5
        for package in tp.PACKAGES.values():
            assert re.fullmatch(r"[0-9a-f]{64}", package.sha256), package.name
            assert re.fullmatch(r"[0-9][0-9a-z.]*", package.version), package.name
            assert package.modules and package.tests, package.name
            for dep in package.deps + package.build_deps:
                assert "==" in dep or "<" in dep, (package.name, dep)

    def test_ci_runs_a_project_that_makes_warnings_errors(self, tp):
        """jinja2 sets filterwarnings = ["error"]: any warning of ours at start-up fails its suite."""
        assert "jinja2" in tp.PACKAGES
        ci = (TOOL.parent.parent / ".ci" / "run").read_text()
        packages = re.search(r"transparency\.py --packages (\S+)", ci).group(1).split(",")
        assert "jinja2" in packages

    def test_no_machine_paths(self, tp):
        text = TOOL.read_text()
        assert "/root" not in text and "/tmp/" not in text and "/home/" not in text
