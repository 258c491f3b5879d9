"""Tests for globalhook.report: the text and JSON reports."""

from __future__ import annotations

import json
import os
import re

import pytest

from globalhook import data
from globalhook.report import json_report, text_report


@pytest.fixture
def project(tmp_path, monkeypatch):
    """Work from a project folder, so report paths can be shortened against it."""
    monkeypatch.chdir(tmp_path)
    return str(tmp_path)


def entry(module, function, file, line, name, kind, count, **extra):
    result = {
        "module": module,
        "function": function,
        "file": file,
        "line": line,
        "name": name,
        "kind": kind,
        "count": count,
    }
    result.update(extra)
    return result


def sample(root):
    mod = os.path.join(root, "pkg", "mod.py")
    sub = os.path.join(root, "pkg", "sub.py")
    lookups = [
        # Defined later in the file but alphabetically first: must come second.
        entry("pkg.mod", "alpha", mod, 20, "len", "builtin", 4),
        entry("pkg.mod", "alpha", mod, 20, "CONFIG", "global", 2),
        entry("pkg.mod", "zeta", mod, 5, "zz_removed", "delete", 1),
        entry("pkg.mod", "zeta", mod, 5, "TABLE", "store", 1),
        entry("pkg.mod", "zeta", mod, 5, "print", "builtin", 1),
        entry("pkg.mod", "zeta", mod, 5, "undefined_name", "missing", 3),
        entry("pkg.mod", "zeta", mod, 5, "CONFIG", "global", 10),
        entry("pkg.mod", "zeta", mod, 5, "Alpha", "global", 1),
        entry("pkg.mod", "zeta", mod, 5, "future_thing", "class-body", 2),
        entry("pkg.sub", "Class.method", sub, 12, "helper", "global", 1234),
        entry("pkg.sub", "Class.method", sub, 12, "typo", "missing", 1),
        entry("other", "<module>", "/elsewhere/other.py", 1, "x", "store", 1),
        # Same name in another module: a different name for the totals.
        entry("other", "<module>", "/elsewhere/other.py", 1, "len", "builtin", 1),
    ]
    runs = [
        {"python": "3.11.7", "unobservable": ["class bodies", "global statements"]},
        {"python": "3.12.1", "unobservable": ["global statements", "from m import *"]},
        {"python": "3.13.0"},
        {"python": "3.9.18", "unobservable": "not a list"},
    ]
    result = data.make_data(lookups, runs[0])
    result["runs"] = runs
    result["not_tracked"] = [
        {"module": "pkg.early", "reason": "already imported"},
        {"module": "zlib", "reason": "no Python source"},
    ]
    return result


def block(text, header):
    """The indented lines after a line equal to ``header``, up to the next blank line."""
    lines = text.splitlines()
    start = lines.index(header) + 1
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    return lines[start:end]


def name_rows(text, function_header):
    """(name, kind, count) for the rows under one function header."""
    lines = text.splitlines()
    index = lines.index(function_header) + 1
    rows = []
    while index < len(lines) and lines[index].startswith("    "):
        rows.append(tuple(lines[index].split()))
        index += 1
    return rows


def totals(text):
    result = {}
    for line in block(text, "Totals:"):
        label, number = line.strip().rsplit(None, 1)
        result[label] = int(number)
    return result


def body(text):
    """The report without its first line (the runs it shows) and the blank line after it."""
    lines = text.splitlines()
    if lines[0].startswith(("Run: ", "Run (", "Runs: ")):  # runs that say nothing have no header
        assert lines[1] == "", lines[:2]
        lines = lines[2:]
    return "\n".join(lines) + "\n"


class TestTextGrouping:
    def test_modules_sorted_and_functions_in_source_order(self, project):
        text = body(text_report(sample(project)))
        headers = [line for line in text.splitlines() if line and not line.startswith(" ")]
        assert headers[:3] == ["other", "pkg.mod", "pkg.sub"]
        pkg_mod = block(text, "pkg.mod")
        functions = [line for line in pkg_mod if line.startswith("  ") and not line.startswith("    ")]
        assert functions[:2] == [
            f"  zeta  ({os.path.join('pkg', 'mod.py')}:5)",
            f"  alpha  ({os.path.join('pkg', 'mod.py')}:20)",
        ]

    def test_paths_outside_cwd_stay_absolute(self, project):
        text = text_report(sample(project))
        assert "  <module>  (/elsewhere/other.py:1)" in text.splitlines()
        assert project not in text

    def test_names_ordered_by_kind_then_name(self, project):
        text = text_report(sample(project), show_stores=True)
        rows = name_rows(text, f"  zeta  ({os.path.join('pkg', 'mod.py')}:5)")
        assert rows == [
            ("Alpha", "global", "1"),
            ("CONFIG", "global", "10"),
            ("print", "builtin", "1"),
            ("undefined_name", "missing", "3"),
            ("TABLE", "store", "1"),
            ("zz_removed", "delete", "1"),
            ("future_thing", "class-body", "2"),
        ]

    def test_stores_and_deletes_are_one_line_per_module_by_default(self, project):
        text = text_report(sample(project))
        rows = name_rows(text, f"  zeta  ({os.path.join('pkg', 'mod.py')}:5)")
        assert [kind for _, kind, _ in rows] == ["global", "global", "builtin", "missing", "class-body"]
        assert block(body(text), "pkg.mod")[-2:] == ["  stored: TABLE", "  deleted: zz_removed"]
        # A function that only stored is not listed at all; its module says what was stored.
        assert "  stored: x" in block(body(text), "other")
        assert totals(text)["store lookups"] == 2  # the totals still count every kind

    def test_stores_line_is_compact(self, project):
        lookups = [entry("m", "<module>", "/m.py", 1, f"name{i:02}", "store", 1) for i in range(30)]
        lookups.append(entry("m", "f", "/m.py", 40, "name00", "global", 1))
        lines = text_report(data.make_data(lookups, {})).splitlines()
        stored = [line for line in lines if line.startswith("  stored: ")]
        assert stored == ["  stored: " + ", ".join(f"name{i:02}" for i in range(12)) + ", +18 more"]
        assert "  <module>  (/m.py:1)" not in lines

    def test_rows_aligned(self, project):
        text = text_report(sample(project), show_stores=True)
        rows = [line for line in text.splitlines() if line.startswith("    ")]
        assert len(rows) == 13
        kind_columns = {re.match(r"    \S+\s+", row).end() for row in rows}
        assert len(kind_columns) == 1
        # Counts are right-aligned: every row ends, with a digit, in the same column.
        assert len({len(row) for row in rows}) == 1
        assert all(row[-1].isdigit() for row in rows)
        assert any(row.endswith("  1234") for row in rows)

    def test_same_name_from_different_contexts_added_up(self, project):
        lookups = [
            entry("m", "f", "/m.py", 1, "X", "global", 2, context="test_a"),
            entry("m", "f", "/m.py", 1, "X", "global", 5, context="test_b"),
        ]
        text = text_report(data.make_data(lookups, {}))
        assert name_rows(text, "  f  (/m.py:1)") == [("X", "global", "7")]

    def test_no_colour_codes(self, project):
        assert "\x1b" not in text_report(sample(project))


class TestTextMissing:
    def test_kind_column_and_module_summary(self, project):
        text = text_report(sample(project))
        assert "  missing names: undefined_name" in block(text, "pkg.mod")
        assert "  missing names: typo" in block(text, "pkg.sub")
        assert not any("missing names" in line for line in block(text, "other"))

    def test_summary_lists_each_name_once_sorted(self, project):
        lookups = [
            entry("m", "f", "/m.py", 1, "b", "missing", 1),
            entry("m", "g", "/m.py", 9, "b", "missing", 1),
            entry("m", "g", "/m.py", 9, "a", "missing", 1),
        ]
        text = text_report(data.make_data(lookups, {}))
        assert "  missing names: a, b" in text.splitlines()


class TestTextSections:
    def test_not_tracked(self, project):
        text = text_report(sample(project))
        assert block(text, "Not tracked:") == [
            "  pkg.early  already imported",
            "  zlib       no Python source",
        ]

    def test_unobservable_notes_deduplicated(self, project):
        text = text_report(sample(project))
        header = "Not observable (lookups from these are never recorded):"
        assert block(text, header) == ["  class bodies", "  global statements", "  from m import *"]

    def test_run_notes_shown_once(self, project):
        result = sample(project)
        note = "child processes ... were not tracked: run 'globalhook install'"
        result["runs"][0]["notes"] = [note]
        result["runs"][1]["notes"] = [note, "another"]
        assert block(text_report(result), "Notes:") == [f"  {note}", "  another"]
        assert json.loads(json_report(result))["notes"] == [note, "another"]

    def test_sections_left_out_when_empty(self, project):
        text = text_report(data.make_data([entry("m", "f", "/m.py", 1, "X", "global", 1)], {}))
        assert "Not tracked" not in text
        assert "Not observable" not in text
        assert "Notes:" not in text
        assert "Totals:" in text

    def test_totals(self, project):
        assert totals(text_report(sample(project))) == {
            "modules": 3,
            "functions": 4,
            "distinct names": 12,
            "global lookups": 1247,
            "builtin lookups": 6,
            "missing lookups": 4,
            "store lookups": 2,
            "delete lookups": 1,
            "attribute lookups": 0,
            "class-body lookups": 2,
            "total lookups": 1262,
        }

    def test_totals_are_last_and_aligned(self, project):
        text = text_report(sample(project))
        lines = text.splitlines()
        assert lines[-12] == "Totals:"
        assert len({len(line) for line in lines[-10:]}) == 1
        assert text.endswith("\n")


class TestTextEmpty:
    def test_no_lookups(self, project):
        text = text_report(data.make_data([], {}))
        assert text == "No data to report.\n"

    def test_no_lookups_still_shows_not_tracked(self, project):
        empty = data.make_data([], {}, [{"module": "pkg", "reason": "already imported"}])
        text = text_report(empty)
        assert text.splitlines() == ["No data to report.", "", "Not tracked:", "  pkg  already imported"]

    def test_filter_matching_nothing_says_so(self, project):
        text = text_report(sample(project), ["nothing", "no*"])
        assert text.splitlines()[:2] == [
            "No data to report.",
            "No lookups recorded for modules matching: nothing, no*",
        ]
        assert "Totals" not in text


class TestModuleFilter:
    def modules_in(self, text):
        """Module headers: unindented lines that are not section headers."""
        return [line for line in body(text).splitlines() if line and line[0] != " " and not line.endswith(":")]

    def test_plain_name_matches_package_and_submodules(self, project):
        text = text_report(sample(project), ["pkg"])
        assert self.modules_in(text) == ["pkg.mod", "pkg.sub"]

    def test_plain_name_is_not_a_prefix_match(self, project):
        lookups = [
            entry("pkg", "f", "/pkg/__init__.py", 1, "X", "global", 1),
            entry("pkg_other", "f", "/pkg_other.py", 1, "X", "global", 1),
            entry("pkg.sub", "f", "/pkg/sub.py", 1, "X", "global", 1),
        ]
        text = text_report(data.make_data(lookups, {}), ["pkg"])
        assert self.modules_in(text) == ["pkg", "pkg.sub"]

    def test_exact_module(self, project):
        text = text_report(sample(project), ["pkg.sub"])
        assert totals(text)["modules"] == 1
        assert "pkg.sub" in text and "pkg.mod" not in text

    def test_wildcards(self, project):
        text = text_report(sample(project), ["*.s?b", "oth[e]r"])
        assert self.modules_in(text) == ["other", "pkg.sub"]
        assert totals(text)["modules"] == 2

    def test_not_tracked_filtered_too(self, project):
        text = text_report(sample(project), ["pkg"])
        assert block(text, "Not tracked:") == ["  pkg.early  already imported"]

    def test_totals_follow_the_filter(self, project):
        found = totals(text_report(sample(project), ["pkg.sub"]))
        assert found["total lookups"] == 1235
        assert found["missing lookups"] == 1


class TestJsonReport:
    def test_structure_and_numbers(self, project):
        report = json.loads(json_report(sample(project)))
        assert [m["module"] for m in report["modules"]] == ["other", "pkg.mod", "pkg.sub"]
        pkg_mod = report["modules"][1]
        assert [(f["function"], f["line"]) for f in pkg_mod["functions"]] == [("zeta", 5), ("alpha", 20)]
        assert pkg_mod["functions"][0]["file"] == os.path.join(project, "pkg", "mod.py")
        assert pkg_mod["functions"][1]["names"] == [
            {"name": "CONFIG", "kind": "global", "count": 2},
            {"name": "len", "kind": "builtin", "count": 4},
        ]
        assert pkg_mod["missing"] == ["undefined_name"]
        assert report["not_tracked"] == [
            {"module": "pkg.early", "reason": "already imported"},
            {"module": "zlib", "reason": "no Python source"},
        ]
        assert report["unobservable"] == ["class bodies", "global statements", "from m import *"]
        assert report["totals"] == {
            "modules": 3,
            "functions": 4,
            "names": 12,
            "lookups": 1262,
            "by_kind": {
                "global": 1247,
                "builtin": 6,
                "missing": 4,
                "store": 2,
                "delete": 1,
                "attribute": 0,
                "read": 0,
                "write": 0,
                "class-body": 2,
            },
        }

    def test_filter(self, project):
        report = json.loads(json_report(sample(project), ["pkg.sub"]))
        assert [m["module"] for m in report["modules"]] == ["pkg.sub"]
        assert report["totals"]["lookups"] == 1235
        assert report["not_tracked"] == []

    def test_stable_whatever_the_input_order(self, project):
        one = sample(project)
        two = sample(project)
        two["lookups"].reverse()
        two["not_tracked"].reverse()
        assert json_report(one) == json_report(two)

    def test_indented(self, project):
        text = json_report(sample(project))
        assert text.startswith('{\n  "modules": [')
        assert text.endswith("}\n")

    def test_empty(self, project):
        report = json.loads(json_report(data.make_data([], {})))
        assert report["modules"] == []
        assert report["totals"]["lookups"] == 0
        assert report["totals"]["by_kind"] == {kind: 0 for kind in data.KINDS}


# -- the header: which runs (issue 9, item 25) -------------------------------------------------


def run_record(**fields):
    record = {"python": "3.11.7", "implementation": "cpython", "core": "c", "strategy": "native",
              "command": ["prog.py", "--fast"], "run_id": "r1", "pid": 1,
              "started": "2026-11-24T10:00:00+00:00"}
    record.update(fields)
    return record


def with_runs(*runs):
    result = data.make_data([entry("m", "f", "/m.py", 1, "X", "global", 1)], {})
    result["runs"] = list(runs)
    return result


class TestHeader:
    def test_one_run(self, project):
        first = text_report(with_runs(run_record())).splitlines()[0]
        assert first == "Run: prog.py --fast | 2026-11-24 10:00:00 UTC | Python 3.11.7 | core c | strategy native"

    def test_processes_of_one_run(self, project):
        runs = [run_record(), run_record(pid=2, command=["-c", "child"], started="2026-11-24T10:00:01+00:00")]
        first = text_report(with_runs(*runs)).splitlines()[0]
        # Named by its first process (the one 'run' started); the time span covers all.
        assert first == (
            "Run (2 processes): prog.py --fast | 2026-11-24 10:00:00 UTC to 2026-11-24 10:00:01 UTC"
            " | Python 3.11.7 | core c | strategy native"
        )

    def test_many_runs_are_compact(self, project):
        runs = [
            run_record(run_id=f"r{i}", command=[f"prog{i}.py"], python=f"3.{9 + i}.0",
                       strategy="proxy" if i else "native", started=f"2026-11-2{i}T10:00:00+00:00")
            for i in range(5)
        ]
        runs.append(run_record(run_id="r0", pid=7))
        first = text_report(with_runs(*runs)).splitlines()[0]
        assert first == (
            "Runs: 5 (6 processes) | prog0.py, prog1.py, prog2.py, +2 more"
            " | 2026-11-20 10:00:00 UTC to 2026-11-24 10:00:00 UTC"
            " | Python 3.9.0, Python 3.10.0, Python 3.11.0, +3 more | core c | strategy native, strategy proxy"
        )

    def test_other_implementations_named(self, project):
        first = text_report(with_runs(run_record(implementation="pypy", python="3.10.14"))).splitlines()[0]
        assert "| pypy 3.10.14 |" in first

    def test_free_form_runs_never_break_it(self, project):
        runs = [{"command": "not a list", "python": 3, "started": None, "core": ["c"]}, {}]
        text = text_report(with_runs(*runs))
        assert text.splitlines()[0] == "m"  # nothing to say: no header

    def test_long_command_shortened(self, project):
        first = text_report(with_runs(run_record(command=["prog.py"] + ["x" * 20] * 10))).splitlines()[0]
        assert first.startswith("Run: prog.py xxxx") and "... |" in first and len(first) < 160


# -- nothing forged on a terminal (issue 9, item 12) ---------------------------------------------

FORGED = [
    "evil\nFAKE  global  999",
    "red\x1b[31mALERT\x1b[0m",
    "tab\there",
    "bidi\u202eplh",
    "cr\rover",
    "nul\x00",
    "sep\u2028line",
]


class TestEscaping:
    def forged(self, text):
        lookups = [
            entry(text, text, "/src/" + text + ".py", 3, text, "global", 1),
            entry("m", "f", "/m.py", 1, text, "missing", 2),
            entry("m", "<module>", "/m.py", 1, text, "store", 1),
            entry("m", "f", "/m.py", 1, "ok", text, 1),
        ]
        result = data.make_data(lookups, run_record(command=["prog.py", text], notes=[text], unobservable=[text]),
                                [{"module": text, "reason": text}])
        return result

    @pytest.mark.parametrize("text", FORGED)
    @pytest.mark.parametrize("show_stores", [False, True])
    def test_text_report_escapes_every_field(self, project, text, show_stores):
        report = text_report(self.forged(text), show_stores=show_stores)
        benign = text_report(self.forged("plain"), show_stores=show_stores)
        assert report.count("\n") == benign.count("\n")  # no line added, none overwritten
        assert all(line.isprintable() for line in report.splitlines()), report
        assert repr(text) in report
        assert report.count(repr(text)) >= benign.count("plain") - 1

    @pytest.mark.parametrize("text", FORGED)
    def test_json_report_is_plain_ascii(self, project, text):
        report = json_report(self.forged(text))
        assert report.isascii() and all(line.isprintable() for line in report.splitlines())
        parsed = json.loads(report)
        assert parsed["modules"][0]["module"] == text or parsed["modules"][1]["module"] == text

    def test_printable_text_is_untouched(self, project):
        text = body(text_report(self.forged("ñame_é")))  # the header quotes the command as a shell would
        assert "ñame_é" in text and "'ñame_é'" not in text
