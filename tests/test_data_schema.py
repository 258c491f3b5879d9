"""The data file's JSON Schemas (globalhook/schemas/data-N.schema.json), shipped as package data.

Real data files of every kind must validate against the schema of their version: lookups labelled with contexts
(pytest --globalhook), reads of other modules' attributes, writes found by a
bytecode scan (static), a per-process part, a combined file naming its parts,
and one holding open parts.  Then the differential: for damaged variants of a
real file, the schema and globalhook's own reader (data.validate) must agree.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from globalhook import compact
from globalhook import data as datafile

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "ci-sample"


def schema(version: int = datafile.VERSION) -> dict:
    return json.loads(files("globalhook").joinpath(f"schemas/data-{version}.schema.json").read_text(encoding="utf-8"))


def errors(data: dict) -> list:
    validator = jsonschema.Draft7Validator(schema(data.get("version") if data.get("version") in (1, 2) else 1))
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(data)]


def env(**extra: str) -> dict:
    result = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTEST_XDIST"))}
    result.update(PYTHONPATH=str(REPO), **extra)
    return result


FORKING = """\
import glob
import os
import shutil
import sys

import work

pid = os.fork()
if pid == 0:
    work.bump()
    sys.exit(0)
os.waitpid(pid, 0)
for path in glob.glob(".globalhook.json.*"):
    shutil.copy(path, "kept-part.json")
work.bump()
"""

WORK = """\
import os

COUNTER = 0


def bump():
    global COUNTER
    COUNTER += 1
    os.environ["GLOBALHOOK_SCHEMA_PROBE"] = os.environ.get("HOME", "")  # configuration read and write
    try:
        return NOT_DEFINED
    except NameError:
        return COUNTER
"""


@pytest.fixture(scope="module")
def real_files(tmp_path_factory) -> dict:
    """name -> a data file globalhook wrote, one of each kind."""
    found = {}
    sample = tmp_path_factory.mktemp("sample") / "project"
    shutil.copytree(SAMPLE, sample, ignore=shutil.ignore_patterns("__pycache__", ".globalhook.json*"))
    subprocess.run(
        [sys.executable, "-m", "pytest", "--globalhook", "-q", "-p", "no:cacheprovider"],
        cwd=str(sample), env=env(), check=True, capture_output=True, timeout=300,
    )
    found["contexts and attribute reads"] = json.loads((sample / ".globalhook.json").read_text())

    if hasattr(os, "fork"):
        forking = tmp_path_factory.mktemp("forking")
        (forking / "work.py").write_text(WORK)
        (forking / "prog.py").write_text(FORKING)
        # The pure-Python core finds `global` writes by a scan on every Python (static entries).
        subprocess.run(
            [sys.executable, "-m", "globalhook", "run", "--include", "work", "prog.py"],
            cwd=str(forking), env=env(GLOBALHOOK_CORE="python"), check=True, capture_output=True, timeout=120,
        )
        found["a per-process part"] = json.loads((forking / "kept-part.json").read_text())
        found["combined, with static writes and parts"] = json.loads((forking / ".globalhook.json").read_text())

    # A part whose writer (this process) may still rewrite it: combine keeps open_parts.
    folder = tmp_path_factory.mktemp("open")
    target = str(folder / ".globalhook.json")
    entry = {"module": "m", "function": "f", "file": "/m.py", "line": 1, "name": "X", "kind": "global", "count": 2}
    datafile.save(datafile.make_data([entry], {"pid": os.getpid()}), datafile.part_path(target))
    assert datafile.OPEN_PARTS in datafile.combine_parts(target, keep=True).data
    found["open parts"] = json.loads(Path(target).read_text())
    return found


def test_every_kind_of_real_data_file_validates(real_files):
    kinds = set()
    for name, data in real_files.items():
        assert errors(data) == [], name
        datafile.validate(data, name)  # and globalhook reads it, of course
        lookups = data["lookups"]
        if isinstance(lookups, dict):  # as version 2 stores them
            assert data["version"] == 2, name
            lookups = compact.decode(lookups)
        for entry in lookups:
            kinds.add(entry["kind"])
            if "context" in entry:
                kinds.add("context")
            if entry.get("static"):
                kinds.add("static")
        if any("part" in run for run in data.get("runs", ())):
            kinds.add("part")
        if datafile.OPEN_PARTS in data:
            kinds.add("open_parts")
        if "selection" in data:  # what pytest --globalhook-select needs
            kinds.add("selection")
    expected = {"global", "builtin", "store", "attribute", "missing", "context", "open_parts", "selection"}
    if hasattr(os, "fork"):
        expected |= {"static", "part", "read", "write"}
    assert kinds >= expected, expected - kinds


VALID = {"format": "globalhook-data", "version": 1, "runs": [{"python": "3.11.7"}], "not_tracked": [], "lookups": [
    {"module": "m", "function": "f", "file": "/m.py", "line": 3, "name": "X", "kind": "global", "count": 2},
]}


def mutate(change):
    data = copy.deepcopy(VALID)
    change(data)
    return data


def lookup(**fields):
    def change(data):
        data["lookups"][0].update(fields)
        for key, value in fields.items():
            if value is KeyError:
                del data["lookups"][0][key]
    return change


CASES = {
    "as written": (lambda d: None, True),
    "an unknown top-level key": (lambda d: d.update(later={"x": 1}), True),
    "an unknown kind": (lookup(kind="something-later"), True),
    "an unknown key in a lookup": (lookup(extra=[1]), True),
    "a static write without a count": (lookup(kind="store", static=True, count=0), True),
    "a context, owner and reader": (lookup(context="t::x|call", owner="o", reader_module="m"), True),
    "no runs or not_tracked": (lambda d: (d.pop("runs"), d.pop("not_tracked")), True),
    "open parts": (lambda d: d.update(open_parts={"p": copy.deepcopy(d["lookups"])}), True),
    "another format": (lambda d: d.update(format="coverage"), False),
    "no format": (lambda d: d.pop("format"), False),
    "a newer version": (lambda d: d.update(version=3), False),
    "version 0": (lambda d: d.update(version=0), False),
    "version as a string": (lambda d: d.update(version="1"), False),
    "no lookups": (lambda d: d.pop("lookups"), False),
    "lookups not a list": (lambda d: d.update(lookups={}), False),
    "a lookup without a name": (lookup(name=KeyError), False),
    "a negative line": (lookup(line=-1), False),
    "a boolean line": (lookup(line=True), False),
    "a count of 0": (lookup(count=0), False),
    "static not a boolean": (lookup(static="yes"), False),
    "a context not a string": (lookup(context=3), False),
    "an owner that is null": (lookup(owner=None), False),
    "a run that is not an object": (lambda d: d["runs"].append("run"), False),
    "not_tracked without a reason": (lambda d: d["not_tracked"].append({"module": "m"}), False),
    "open parts not an object": (lambda d: d.update(open_parts=[]), False),
    "an open part with a bad lookup": (lambda d: d.update(open_parts={"p": [{"module": "m"}]}), False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_schema_and_the_reader_agree(case):
    change, valid = CASES[case]
    data = mutate(change)
    try:
        datafile.validate(data, "x.json")
        read = True
    except datafile.DataError:
        read = False
    assert read is valid, case
    assert (errors(data) == []) is valid, (case, errors(data))


def test_the_schema_ships_as_package_data():
    pyproject = (REPO / "pyproject.toml").read_text()
    package_data = pyproject.partition("[tool.setuptools.package-data]\n")[2].splitlines()[0]
    assert '"schemas/*.json"' in package_data
    assert schema()["properties"]["format"] == {"const": datafile.FORMAT}
    assert schema()["properties"]["version"]["const"] == datafile.VERSION
    assert schema()["properties"]["lookups"]["properties"]["fields"]["const"] == list(compact.FIELDS)
    for version in range(1, datafile.VERSION + 1):
        jsonschema.Draft7Validator.check_schema(schema(version))
    check = json.loads(files("globalhook").joinpath("schemas/check-1.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(check)


#: Version 2 as globalhook writes it (the entry of VALID, and a static write in a test).
VALID_2 = {"format": "globalhook-data", "version": 2, "runs": [{"python": "3.11.7"}], "not_tracked": [], "lookups": {
    "fields": list(compact.FIELDS),
    "strings": ["", "m", "f", "/m.py", "X", "global", "store", "t::x|call"],
    "rows": [[1, 2, 3, 3, 4, 5, 0, 0, 0, 0, 2, 7, 1], [1, 2, 3, 3, 4, 6, 0, 0, 1, 7, 0]],
}}


def row(at, **changes):
    def change(data):
        data["lookups"]["rows"][0][at] = changes["to"]
    return change


CASES_2 = {
    "as written": (lambda d: None, True),
    "an unknown top-level key": (lambda d: d.update(later={"x": 1}), True),
    "an entry with an unknown key, kept as it is": (lambda d: d["lookups"].update(other=copy.deepcopy(VALID["lookups"])), True),
    "a bad entry kept as it is": (lambda d: d["lookups"].update(other=[{"module": "m"}]), False),
    "lookups as a list (version 1's shape) in a file": (lambda d: d.update(lookups=copy.deepcopy(VALID["lookups"])), None),
    "no fields": (lambda d: d["lookups"].pop("fields"), False),
    "fields of another layout": (lambda d: d["lookups"].update(fields=["module"]), False),
    "no strings": (lambda d: d["lookups"].pop("strings"), False),
    "strings not starting with the empty one": (lambda d: d["lookups"]["strings"].__setitem__(0, "m"), False),
    "a string that is a number": (lambda d: d["lookups"]["strings"].append(3), False),
    "rows not a list": (lambda d: d["lookups"].update(rows={}), False),
    "a row with a context and no count": (lambda d: d["lookups"].update(rows=[[1, 2, 3, 3, 4, 5, 0, 0, 0, 0]]), False),
    "a row with a key only": (lambda d: d["lookups"].update(rows=[[1, 2, 3, 3, 4, 5, 0, 0, 0]]), False),
    "a negative line": (row(3, to=-1), False),
    "a string index that is not a number": (row(0, to="m"), False),
    "static neither 0 nor 1": (row(8, to=2), False),
    "a boolean index": (row(1, to=True), False),
    "open parts as version 1 lists": (lambda d: d.update(open_parts={"p": copy.deepcopy(VALID["lookups"])}), True),
}


@pytest.mark.parametrize("case", sorted(CASES_2))
def test_the_version_2_schema_and_the_reader_agree(case):
    change, valid = CASES_2[case]
    data = copy.deepcopy(VALID_2)
    change(data)
    try:
        datafile.validate(data, "x.json")
        read = True
    except datafile.DataError:
        read = False
    if valid is None:  # what data.load() returns in memory: the reader takes it, no file holds it
        assert read and errors(data) != []
        return
    assert read is valid, case
    assert (errors(data) == []) is valid, (case, errors(data))


@pytest.mark.parametrize(
    "change, problem",
    [
        (row(0, to=99), r"rows\[0\]: module 99 is not an index of lookups\.strings"),
        (row(9, to=99), r"rows\[0\]: context 99 is not an index"),
        (row(10, to=0), r"rows\[0\]: count must be an integer >= 1, not 0"),
    ],
)
def test_what_only_the_reader_checks_is_named(change, problem):
    """Indexes in range and counts of observed lookups: beyond what a JSON Schema says."""
    data = copy.deepcopy(VALID_2)
    change(data)
    assert errors(data) == []
    with pytest.raises(datafile.DataError, match=problem):
        datafile.validate(data, "x.json")
