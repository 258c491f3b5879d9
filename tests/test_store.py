"""Format version 2 (globalhook/compact.py): the same data, a fraction of the size, old files still read.

Real version-1 files (tests/data-v1: written by the globalhook before
version 2, from examples/ci-sample under pytest --globalhook and from a
forking program; only their paths were rewritten) must load as they always
did, and everything a view shows must be the same from either version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from globalhook import compact
from globalhook import data as datafile
from globalhook.records import from_entry, read
from globalhook.report import json_report, text_report
from globalhook.reverse import by_name_json

V1 = Path(__file__).resolve().parent / "data-v1"
REAL_V1 = sorted(V1.glob("*.json"))
REPO = Path(__file__).resolve().parent.parent


def without_version(data: dict) -> dict:
    return {key: value for key, value in data.items() if key != "version"}


def test_the_real_version_1_files_are_what_they_say():
    kinds = set()
    for path in REAL_V1:
        raw = json.loads(path.read_text())
        assert raw["version"] == 1 and isinstance(raw["lookups"], list)
        kinds.update(entry["kind"] for entry in raw["lookups"])
        kinds.update("context" for entry in raw["lookups"] if "context" in entry)
        kinds.update("static" for entry in raw["lookups"] if entry.get("static"))
    assert kinds >= {"global", "builtin", "missing", "store", "attribute", "read", "write", "context", "static"}


@pytest.mark.parametrize("path", REAL_V1, ids=lambda p: p.name)
def test_a_real_version_1_file_loads_as_it_always_did(path):
    raw = json.loads(path.read_text())
    assert datafile.load(str(path)) == raw
    assert read(str(path))["lookups"] == [from_entry(entry) for entry in raw["lookups"]]


@pytest.mark.parametrize("path", REAL_V1, ids=lambda p: p.name)
def test_saved_again_it_is_version_2_and_every_view_is_the_same(path, tmp_path):
    old = datafile.load(str(path))
    again = tmp_path / "again.json"
    datafile.save(old, str(again))
    stored = json.loads(again.read_text())
    assert stored["version"] == 2 and stored["lookups"]["fields"] == list(compact.FIELDS)
    new = datafile.load(str(again))
    assert without_version(new) == without_version(old)
    for view in (text_report, json_report, by_name_json):
        assert view(read(str(again))) == view(old) == view(read(str(path)))


def test_consecutive_entries_of_one_key_share_a_row():
    entry = {"module": "m", "function": "f", "file": "/m.py", "line": 1, "name": "X", "kind": "global"}
    lookups = [dict(entry, count=1), dict(entry, count=2, context="t::a|call"), dict(entry, count=3, context="t::b|call")]
    table = compact.encode(lookups)
    assert len(table["rows"]) == 1
    assert table["rows"][0][len(compact.FIELDS):] == [0, 1, table["strings"].index("t::a|call"), 2, table["strings"].index("t::b|call"), 3]
    assert compact.decode(table) == lookups


def test_an_entry_with_a_key_this_version_does_not_know_is_kept_as_it_is(tmp_path):
    entry = {"module": "m", "function": "f", "file": "/m.py", "line": 1, "name": "X", "kind": "global", "count": 2}
    later = dict(entry, name="Y", weight=[1, 2])
    path = tmp_path / "d.json"
    datafile.save(datafile.make_data([entry, later], {}), str(path))
    assert json.loads(path.read_text())["lookups"]["other"] == [later]
    assert datafile.load(str(path))["lookups"] == [entry, later]
    assert [r.name for r in read(str(path))["lookups"]] == ["X", "Y"]


def test_unknown_top_level_keys_survive_save_and_load_unchanged(tmp_path):
    entry = {"module": "m", "function": "f", "file": "/m.py", "line": 1, "name": "X", "kind": "global", "count": 2}
    data = datafile.make_data([entry], {})
    data["selection"] = {"tests": {"t::a": {"digest": "ab12", "reads": ["m:X"]}}, "version": {"n": 1}}
    data["later"] = [1, {"x": None}]
    path = tmp_path / "d.json"
    datafile.save(data, str(path))
    loaded = datafile.load(str(path))
    assert loaded["selection"] == data["selection"] and loaded["later"] == data["later"]
    assert read(str(path))["selection"] == data["selection"]
    assert list(json.loads(path.read_text()))[:2] == ["format", "version"]  # what replaceable.py recognises


def test_combine_folds_version_1_and_version_2_parts_alike(tmp_path):
    target = str(tmp_path / ".globalhook.json")
    entry = {"module": "m", "function": "f", "file": "/m.py", "line": 1, "name": "X", "kind": "global", "count": 2}
    v1 = {"format": "globalhook-data", "version": 1, "runs": [{"pid": 1}], "not_tracked": [], "lookups": [entry]}
    Path(target + ".host.1.aaaaaaaa").write_text(json.dumps(v1))
    datafile.save(datafile.make_data([dict(entry, count=5)], {"pid": 2}), target + ".host.2.bbbbbbbb")
    result = datafile.combine_parts(target)
    assert len(result.added) == 2 and not result.errors
    assert [e["count"] for e in datafile.load(target)["lookups"]] == [7]
    assert json.loads(Path(target).read_text())["version"] == 2


def test_privacy_the_compact_file_holds_what_version_1_held_and_nothing_else(tmp_path):
    path = V1 / "pytest-contexts.json"
    again = tmp_path / "again.json"
    datafile.save(datafile.load(str(path)), str(again))
    old_strings = {s for e in json.loads(path.read_text())["lookups"] for s in e.values() if isinstance(s, str)}
    table = json.loads(again.read_text())["lookups"]
    assert set(table["strings"]) - {""} == old_strings


def test_it_is_much_smaller_for_per_test_data(tmp_path):
    """The repetition of per-test data (same function, same names, many tests) is stored once."""
    entries = [
        {"module": "app.core", "function": f"f{f}", "file": "/src/app/core.py", "line": f, "name": f"NAME_{n}",
         "kind": "global", "count": 1, "context": f"tests/test_core.py::test_{t}|call"}
        for t in range(200) for f in range(5) for n in range(5)
    ]
    data = datafile.make_data(entries, {})
    v2 = tmp_path / "v2.json"
    datafile.save(data, str(v2))
    v1 = json.dumps(datafile.export_v1(data), separators=(",", ":"))
    assert os.path.getsize(v2) * 5 < len(v1)


def globalhook(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "globalhook", *args], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=60)


class TestExport:
    def test_writes_version_1_for_other_tools(self, tmp_path):
        source = V1 / "combined-static-parts.json"
        compact_file = tmp_path / ".globalhook.json"
        datafile.save(datafile.load(str(source)), str(compact_file))
        done = globalhook("export", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == json.loads(source.read_text())

    def test_to_a_file(self, tmp_path):
        datafile.save(datafile.load(str(V1 / "part.json")), str(tmp_path / "d.json"))
        done = globalhook("export", "--data-file", "d.json", "-o", "out.json", cwd=tmp_path)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        assert json.loads((tmp_path / "out.json").read_text()) == json.loads((V1 / "part.json").read_text())

    def test_never_replaces_a_file_that_is_not_a_data_file(self, tmp_path):
        datafile.save(datafile.load(str(V1 / "part.json")), str(tmp_path / "d.json"))
        (tmp_path / "notes.txt").write_text("mine\n")
        done = globalhook("export", "--data-file", "d.json", "-o", "notes.txt", cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr.startswith("globalhook: error: notes.txt: exists and is not a globalhook data file")
        assert (tmp_path / "notes.txt").read_text() == "mine\n"

    def test_a_bad_data_file_is_one_line(self, tmp_path):
        (tmp_path / "d.json").write_text('{"format": "globalhook-data", "version": 2, "lookups": {"fields": []}}')
        done = globalhook("export", "--data-file", "d.json", cwd=tmp_path)
        assert done.returncode == 2 and done.stdout == ""
        assert "d.json: lookups: missing key" in done.stderr and done.stderr.count("\n") == 1


def _v1_file(path: Path, functions: int) -> list:
    entries = []
    for number in range(functions):
        module = f"app.pkg{number % 50}.mod{number % 500}"
        base = {"module": module, "function": f"function_{number}", "file": f"/src/{module.replace('.', '/')}.py",
                "line": 1 + number // 500 * 5, "context": f"tests/test_{number % 30}.py::test_{number % 90}|call"}
        for name in (f"SETTING_{number % 11}", f"CACHE_{number % 7}", "log"):
            entries.append(dict(base, name=name, kind="global", count=1 + number % 3))
        entries.append(dict(base, name="len", kind="builtin", count=1))
    path.write_text(json.dumps({"format": "globalhook-data", "version": 1, "runs": [], "not_tracked": [], "lookups": entries}))
    return entries


def test_a_version_1_file_is_read_with_its_strings_shared(tmp_path):
    """JSON makes a new string for every value; loaded as they are, a big version-1 file took
    about six times its size in memory (``html`` of 50,000 functions peaked at 250 MB)."""
    import tracemalloc

    path = tmp_path / "v1.json"
    entries = _v1_file(path, 3000)
    tracemalloc.start()
    try:
        loaded = read(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [lookup.as_entry() for lookup in loaded["lookups"]] == entries  # the same values, nothing lost
    first, second = loaded["lookups"][0], loaded["lookups"][1]
    assert first.module is second.module and first.file is second.file and first.context is second.context
    assert peak < 4 * path.stat().st_size, peak / path.stat().st_size
    assert datafile.load(str(path))["lookups"] == entries
