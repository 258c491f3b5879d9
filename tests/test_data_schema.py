"""The data file's JSON Schema (globalhook/schemas/data-1.schema.json), shipped as package data.

Real data files of every kind must validate: lookups labelled with contexts
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

from globalhook import data as datafile

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "ci-sample"


def schema() -> dict:
    return json.loads(files("globalhook").joinpath("schemas/data-1.schema.json").read_text(encoding="utf-8"))


def errors(data: dict) -> list:
    validator = jsonschema.Draft7Validator(schema())
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
    found["open parts"] = datafile.combine_parts(target, keep=True).data
    return found


def test_every_kind_of_real_data_file_validates(real_files):
    kinds = set()
    for name, data in real_files.items():
        assert errors(data) == [], name
        datafile.validate(data, name)  # and globalhook reads it, of course
        for entry in data["lookups"]:
            kinds.add(entry["kind"])
            if "context" in entry:
                kinds.add("context")
            if entry.get("static"):
                kinds.add("static")
        if any("part" in run for run in data.get("runs", ())):
            kinds.add("part")
        if datafile.OPEN_PARTS in data:
            kinds.add("open_parts")
    expected = {"global", "builtin", "store", "attribute", "missing", "context", "open_parts"}
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
    "a newer version": (lambda d: d.update(version=2), False),
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
    jsonschema.Draft7Validator.check_schema(schema())
    check = json.loads(files("globalhook").joinpath("schemas/check-1.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(check)
