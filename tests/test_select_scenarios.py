"""``pytest --globalhook-select`` end to end: record once, edit, and see which tests run.

One small project is recorded once; each scenario copies it, makes one
edit, and runs ``pytest --globalhook=pkg --globalhook-select`` in a
subprocess.  Safety is checked against the edit itself (a test the edit
makes fail is always among those run); precision against the tests that
cannot be affected.  The scenarios include pytest-testmon's known misses:
#191 (a class variable), #115 (module-level data in ``parametrize``) and
#240 (an edited ``setup_class``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT = {
    "pkg/__init__.py": "",
    "pkg/mod.py": """\
        RATE = 2
        TABLE = {"a": 1}
        SIZES = {"b": 2}
        CASES = [1, 2, 3]


        def build(values):
            return [v * 10 for v in values]


        BUILT = build(CASES)


        def add(a, b):
            return a + b


        def level3():
            return RATE


        def level2():
            return level3()


        def level1():
            return level2()


        def body():
            x = 1
            return x


        class Price:
            VAT = 20

            def with_vat(self, value):
                return value + value * self.VAT // 100


        class Other:
            LIMIT = 5

            def limit(self):
                return self.LIMIT
    """,
    "tests/conftest.py": """\
        import pytest


        @pytest.fixture
        def small():
            return 1


        @pytest.fixture(scope="module")
        def shared():
            from pkg import mod
            return mod.SIZES["b"]
    """,
    "tests/test_a.py": """\
        import pytest
        from pkg import mod
        from pkg.mod import add, Price


        def test_add():
            assert add(1, 2) == 3


        def test_deep():
            assert mod.level1() == 2


        def test_price():
            assert Price().with_vat(100) == 120


        def test_other():
            assert mod.Other().limit() == 5


        def test_table():
            assert mod.TABLE["a"] == 1


        def test_body():
            assert mod.body() == 1


        def test_plain():
            assert 1 + 1 == 2


        def test_small(small):
            assert small == 1


        def test_shared(shared):
            assert shared == 2
    """,
    "tests/test_param.py": """\
        import pytest
        from pkg import mod


        @pytest.mark.parametrize("v", mod.BUILT)
        def test_param(v):
            assert v % 10 == 0 and v < 100
    """,
    "tests/test_cls.py": """\
        class TestSetup:
            @classmethod
            def setup_class(cls):
                cls.base = 1

            def test_one(self):
                assert self.base == 1


        def test_free():
            assert True
    """,
}

ALL_A = {f"tests/test_a.py::test_{n}" for n in
         ("add", "deep", "price", "other", "table", "body", "plain", "small", "shared")}
PARAMS = {f"tests/test_param.py::test_param[{v}]" for v in (10, 20, 30)}
ALL = ALL_A | PARAMS | {"tests/test_cls.py::TestSetup::test_one", "tests/test_cls.py::test_free"}
_RESULT = re.compile(r"^(PASSED|FAILED|ERROR) (\S+)", re.M)


def env() -> dict:
    result = {k: v for k, v in os.environ.items()
              if not k.startswith(("GLOBALHOOK_PYTEST_RUN", "GLOBALHOOK_PROCESS_START", "PYTEST_XDIST"))}
    result["PYTHONPATH"] = "."
    # An edit back to a text of the same size within the same second would be
    # hidden by the .pyc of the edit before it (it keeps whole seconds).
    result["PYTHONDONTWRITEBYTECODE"] = "1"
    return result


def run(project: Path, *args: str, data: str = ".globalhook.json") -> "tuple[dict, str]":
    """{test id: outcome} of the tests that ran, and the whole output."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "--globalhook=pkg",
         "--globalhook-select", "--globalhook-data", data, *args],
        cwd=project, env=env(), capture_output=True, text=True, timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1, 5), output
    return {test: outcome for outcome, test in _RESULT.findall(done.stdout)}, output


def write(project: Path, files: dict) -> None:
    for name, text in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def edit(project: Path, name: str, old: str, new: str) -> None:
    path = project / name
    text = path.read_text()
    assert old in text, (name, old)
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("select") / "project"
    write(project, PROJECT)
    ran, output = run(project)
    assert set(ran) == ALL and set(ran.values()) == {"PASSED"}, output
    assert "running every test" in output
    return project


@pytest.fixture
def project(recorded, tmp_path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(recorded, copy)
    return copy


SCENARIOS = {
    # name: (file, old text, new text, tests that must run (and only those))
    "comment and moved lines only": ("pkg/mod.py", "RATE = 2\n", "# the rate\n\n\nRATE = 2  # per cent\n", set()),
    "constant three calls deep": ("pkg/mod.py", "RATE = 2", "RATE = 3", {"tests/test_a.py::test_deep"}),
    "class variable (testmon #191)": ("pkg/mod.py", "VAT = 20", "VAT = 25", {"tests/test_a.py::test_price"}),
    "class attribute read by one test": ("pkg/mod.py", "LIMIT = 5", "LIMIT = 6", {"tests/test_a.py::test_other"}),
    "dict read by one test": ("pkg/mod.py", 'TABLE = {"a": 1}', 'TABLE = {"a": 2}', {"tests/test_a.py::test_table"}),
    "changed function body": ("pkg/mod.py", "    x = 1\n", "    x = 2\n", {"tests/test_a.py::test_body"}),
    "function with no global reads": ("pkg/mod.py", "return a + b", "return a - b", {"tests/test_a.py::test_add"}),
    "module-level data in parametrize (testmon #115)": (
        "pkg/mod.py", "CASES = [1, 2, 3]", "CASES = [1, 2, 30]", {f"tests/test_param.py::test_param[{v}]" for v in (10, 20, 300)}),
    "function used to build module data": ("pkg/mod.py", "v * 10 for", "v * 11 for", {
        f"tests/test_param.py::test_param[{v}]" for v in (11, 22, 33)}),
    "setup_class (testmon #240)": ("tests/test_cls.py", "cls.base = 1", "cls.base = 2",
                                   {"tests/test_cls.py::TestSetup::test_one"}),
    "function-scope fixture": ("tests/conftest.py", "return 1", "return 3", {"tests/test_a.py::test_small"}),
    "module-scope fixture": ("tests/conftest.py", 'mod.SIZES["b"]', 'mod.SIZES["b"] + 0', {"tests/test_a.py::test_shared"}),
    "data a module-scope fixture reads": ("pkg/mod.py", 'SIZES = {"b": 2}', 'SIZES = {"b": 3}', {"tests/test_a.py::test_shared"}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(project, name):
    path, old, new, expected = SCENARIOS[name]
    edit(project, path, old, new)
    ran, output = run(project)
    assert set(ran) == expected, output
    assert f"{len(ALL) - len(expected)} deselected" in output, output


def test_a_new_test_runs(project):
    with open(project / "tests" / "test_cls.py", "a") as stream:
        stream.write("\n\ndef test_new():\n    assert True\n")
    ran, _ = run(project)
    assert set(ran) == {"tests/test_cls.py::test_new"}


def test_a_failed_test_runs_until_it_passes_and_records_carry_over(project):
    edit(project, "pkg/mod.py", "RATE = 2", "RATE = 3")
    ran, _ = run(project)
    assert ran == {"tests/test_a.py::test_deep": "FAILED"}
    ran, _ = run(project)  # nothing changed, but it failed last time
    assert ran == {"tests/test_a.py::test_deep": "FAILED"}
    edit(project, "pkg/mod.py", "RATE = 3", "RATE = 2")
    ran, _ = run(project)
    assert ran == {"tests/test_a.py::test_deep": "PASSED"}
    # The records of the tests deselected three times are still there: a new edit selects exactly.
    edit(project, "pkg/mod.py", "VAT = 20", "VAT = 21")
    ran, _ = run(project)
    assert set(ran) == {"tests/test_a.py::test_price"}


def test_a_subset_run_keeps_the_others_safe(project):
    """Tests not collected in a run keep their records only while they stay true."""
    edit(project, "pkg/mod.py", "LIMIT = 5", "LIMIT = 6")
    ran, _ = run(project, "tests/test_cls.py")
    assert set(ran) == set()
    ran, _ = run(project)
    assert set(ran) == {"tests/test_a.py::test_other"}


def test_xdist_selects_the_same(project):
    pytest.importorskip("xdist")
    edit(project, "pkg/mod.py", 'TABLE = {"a": 1}', 'TABLE = {"a": 1, "b": 0}')
    edit(project, "tests/conftest.py", "return 1", "return int(1)")
    ran, output = run(project, "-n", "2")
    assert set(ran) == {"tests/test_a.py::test_table", "tests/test_a.py::test_small"}, output
    ran, output = run(project, "-n", "2")  # and the data written under xdist selects as well
    assert set(ran) == set(), output


def _last_line(output: str) -> str:
    """pytest's final counts (``1 failed, 12 deselected``), without the time."""
    lines = [line for line in output.splitlines() if re.search(r"\b(passed|failed|deselected)\b", line)]
    return re.sub(r" in [0-9.]+s.*", "", lines[-1]).strip("= ")


def test_xdist_shows_the_deselected_count_and_the_selection_line_as_a_run_without_it(project, tmp_path):
    """Differential: the same edit selected without xdist and with ``-n 2`` ends with the same counts."""
    pytest.importorskip("xdist")
    edit(project, "pkg/mod.py", "RATE = 2", "RATE = 3")
    alone = tmp_path / "alone"
    shutil.copytree(project, alone)
    ran_alone, output_alone = run(alone)
    ran, output = run(project, "-n", "2")
    assert ran == ran_alone == {"tests/test_a.py::test_deep": "FAILED"}, output
    assert _last_line(output) == _last_line(output_alone) == f"1 failed, {len(ALL) - 1} deselected", output
    said = f"globalhook: selected 1 of {len(ALL)} tests (the others read nothing that changed)"
    assert output.count(said) == output_alone.count(said) == 1, output


def test_combined_shards_select_the_same(tmp_path):
    project = tmp_path / "project"
    write(project, PROJECT)
    for index, shard in enumerate(("tests/test_a.py", "tests/test_param.py tests/test_cls.py")):
        run(project, *shard.split(), data=f"shard{index}.json")
        os.replace(project / f"shard{index}.json", project / f".globalhook.json.ci{index}.{index + 1}.0000000{index}")
    done = subprocess.run([sys.executable, "-m", "globalhook", "combine"], cwd=project, env=env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    tests = json.loads((project / ".globalhook.json").read_text())["selection"]["tests"]
    assert set(tests) == ALL
    edit(project, "pkg/mod.py", "RATE = 2", "RATE = 3")
    ran, output = run(project)
    assert ran == {"tests/test_a.py::test_deep": "FAILED"}, output


def test_an_installed_distribution_of_another_version_runs_everything(project):
    """Code outside the tracked patterns is not fingerprinted: an upgrade of any distribution runs all."""
    dist = project / "fakedep-1.0.dist-info"  # the project folder is on sys.path (PYTHONPATH=.)
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakedep\nVersion: 1.0\n")
    ran, output = run(project)
    assert set(ran) == ALL, output
    ran, output = run(project)  # the same environment again: nothing runs
    assert set(ran) == set(), output
    dist.rename(project / "fakedep-1.1.dist-info")
    ran, output = run(project)
    assert set(ran) == ALL, output


def test_unreadable_data_runs_everything_with_a_warning(project):
    data = json.loads((project / ".globalhook.json").read_text())
    data["selection"] = ["not", "an", "object"]
    (project / ".globalhook.json").write_text(json.dumps(data))
    ran, output = run(project)
    assert set(ran) == ALL
    assert "warning: cannot select" in output and '"selection" must be an object, not a list' in output
    ran, output = run(project)  # and the data is written anew: selection works again
    assert set(ran) == set(), output


MALFORMED = {
    # how the value is spoiled: (the key the warning names, the spoiling)
    "tests a list": ("selection.tests", lambda s: s.update(tests=["tests/test_a.py::test_add"])),
    "tests missing": ("selection.tests", lambda s: s.pop("tests")),
    "one test record a number": ("selection.tests['tests/test_a.py::test_add']",
                                 lambda s: s["tests"].update({"tests/test_a.py::test_add": 5})),
    "modules a string": ("selection.modules", lambda s: s.update(modules="pkg.mod")),
}


@pytest.mark.parametrize("how", sorted(MALFORMED))
def test_a_malformed_selection_value_warns_runs_everything_and_is_replaced(project, how):
    key, spoil = MALFORMED[how]
    data = json.loads((project / ".globalhook.json").read_text())
    spoil(data["selection"])
    (project / ".globalhook.json").write_text(json.dumps(data))
    ran, output = run(project)
    assert set(ran) == ALL, output
    warnings = [line for line in output.splitlines() if "warning" in line]
    assert warnings == [f"globalhook: warning: {project / '.globalhook.json'}: {key} is malformed (not an object): "
                        "running every test; this run's records replace it"], output
    done = subprocess.run([sys.executable, "-m", "globalhook", "why", "tests/test_a.py::test_add"], cwd=project,
                          env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr  # the recording of that run replaced the value
    ran, output = run(project)  # and selection works again
    assert set(ran) == set() and "warning" not in output, output


def test_why_names_a_malformed_selection_value(project):
    data = json.loads((project / ".globalhook.json").read_text())
    data["selection"]["tests"] = "oops"
    (project / ".globalhook.json").write_text(json.dumps(data))
    done = subprocess.run([sys.executable, "-m", "globalhook", "why", "tests/test_a.py::test_add"], cwd=project,
                          env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "selection.tests is malformed" in done.stderr and ".globalhook.json" in done.stderr, done.stderr


class TestWhy:
    def why(self, project: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "globalhook", "why", *args], cwd=project, env=env(),
                              capture_output=True, text=True, timeout=300)

    def test_selected_names_the_read_and_the_change(self, project):
        edit(project, "pkg/mod.py", "RATE = 2", "RATE = 3")
        done = self.why(project, "tests/test_a.py::test_deep")
        assert done.returncode == 0, done.stderr
        assert "tests/test_a.py::test_deep: selected" in done.stdout
        assert "tests/test_a.py::test_deep -> reads pkg.mod:RATE (changed)" in done.stdout

    def test_deselected_says_nothing_changed(self, project):
        edit(project, "pkg/mod.py", "RATE = 2", "RATE = 3")
        done = self.why(project, "tests/test_a.py::test_add")
        assert done.returncode == 0, done.stderr
        assert "deselected" in done.stdout and "nothing it read or runs changed" in done.stdout

    def test_static_path_for_a_function_without_reads(self, project):
        edit(project, "pkg/mod.py", "return a + b", "return a - b")
        done = self.why(project, "tests/test_a.py::test_add")
        assert "-> pkg.mod:add (changed)" in done.stdout, done.stdout

    def test_unknown_test_and_missing_data_are_errors(self, project):
        done = self.why(project, "tests/test_a.py::test_nope")
        assert done.returncode == 2 and done.stderr.count("\n") == 1
        assert "unknown test id tests/test_a.py::test_nope" in done.stderr
        done = self.why(project, "tests/test_a.py::test_add", "--data-file", "missing.json")
        assert done.returncode == 2 and "missing.json: no such file" in done.stderr
