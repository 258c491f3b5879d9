"""The data file's JSON Schema (docs/reference/data-file.schema.json) says what globalhook writes.

Real data files, written by ``globalhook run`` with every kind of entry, are
checked against the schema, and so are broken files, which the schema and
``globalhook.data.load`` must both refuse.  The check is a small validator of
the JSON Schema keywords the schema uses (no third-party package at test
time: jsonschema's compiled dependencies do not install on every Python
tested here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, List

import pytest

from globalhook import data

REPO = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO / "docs" / "reference" / "data-file.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

_TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return type(value) is int
    if name == "number":
        return type(value) in (int, float)
    return isinstance(value, _TYPES[name])


def errors(value: Any, schema: dict, where: str = "$") -> List[str]:
    """What in ``value`` breaks ``schema`` (the keywords the data schema uses; others are refused)."""
    found: List[str] = []
    known = {"$schema", "$id", "title", "description", "examples", "type", "required", "properties",
             "additionalProperties", "items", "const", "minimum", "maximum", "$ref", "$defs", "if", "then", "else"}
    unknown = set(schema) - known
    assert not unknown, f"the test's validator does not know {sorted(unknown)}: teach it, or keep the schema simple"
    if "$ref" in schema:
        target: Any = SCHEMA
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        found += errors(value, target, where)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, name) for name in names):
            return found + [f"{where}: expected {schema['type']}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        found.append(f"{where}: expected {schema['const']!r}")
    if "minimum" in schema and _is_type(value, "number") and value < schema["minimum"]:
        found.append(f"{where}: below {schema['minimum']}")
    if "maximum" in schema and _is_type(value, "number") and value > schema["maximum"]:
        found.append(f"{where}: above {schema['maximum']}")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                found.append(f"{where}: missing {key!r}")
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                found += errors(item, properties[key], f"{where}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += errors(item, schema["additionalProperties"], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += errors(item, schema["items"], f"{where}[{index}]")
    if "if" in schema:
        branch = "then" if not errors(value, schema["if"], where) else "else"
        if branch in schema:
            found += errors(value, schema[branch], where)
    return found


PROBE = textwrap.dedent('''
    import globalhook
    import helper

    counter = 0

    def bump():
        global counter
        counter += 1

    def missing():
        try:
            return not_defined_anywhere
        except NameError:
            return None

    with globalhook.context("phase-one"):
        bump()
    missing()
    print(helper.VALUE, len("ab"))
    globals()["tok-" + "secret"] = 1
''')


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("schema")
    (folder / "probe.py").write_text(PROBE)
    (folder / "helper.py").write_text("VALUE = 3\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("GLOBALHOOK_") or key == "GLOBALHOOK_CORE"}
    env["PYTHONPATH"] = str(REPO)
    subprocess.run([sys.executable, "-m", "globalhook", "run", "--record-command", "redacted", "probe.py", "arg"],
                   cwd=folder, env=env, check=True, capture_output=True, timeout=120)
    return json.loads((folder / ".globalhook.json").read_text(encoding="utf-8"))


def test_a_real_data_file_matches_the_schema(written):
    kinds = {entry["kind"] for entry in written["lookups"]}
    assert {"global", "builtin", "missing", "store", "attribute"} <= kinds
    assert any(entry.get("context") == "phase-one" for entry in written["lookups"])
    assert errors(written, SCHEMA) == []


def test_the_schema_lists_the_kinds_this_version_writes():
    assert tuple(SCHEMA["$defs"]["lookup"]["properties"]["kind"]["examples"]) == data.KINDS
    assert SCHEMA["properties"]["format"]["const"] == data.FORMAT
    assert SCHEMA["properties"]["version"]["maximum"] == data.VERSION


def _broken(written: dict) -> List[dict]:
    def copy() -> dict:
        return json.loads(json.dumps(written))

    cases = []
    for change in (
        lambda d: d.update(format="something-else"),
        lambda d: d.pop("lookups"),
        lambda d: d.update(version=2),
        lambda d: d["lookups"][0].update(count=0),
        lambda d: d["lookups"][0].update(line=-1),
        lambda d: d["lookups"][0].pop("name"),
        lambda d: d["lookups"][0].update(kind=3),
        lambda d: d["lookups"][0].update(context=["a"]),
        lambda d: d["lookups"][0].update(static="yes"),
        lambda d: d.update(not_tracked=[{"module": "m"}]),
        lambda d: d.update(open_parts={"x": [{"module": "m"}]}),
    ):
        broken = copy()
        change(broken)
        cases.append(broken)
    return cases


def test_the_schema_and_the_loader_refuse_the_same_broken_files(written, tmp_path):
    for index, broken in enumerate(_broken(written)):
        assert errors(broken, SCHEMA), broken
        path = tmp_path / f"broken{index}.json"
        path.write_text(json.dumps(broken))
        with pytest.raises(data.DataError):
            data.load(str(path))


def test_a_static_write_may_have_count_zero(written):
    entry = dict(written["lookups"][0], kind="store", count=0, static=True)
    assert errors(entry, SCHEMA["$defs"]["lookup"]) == []
