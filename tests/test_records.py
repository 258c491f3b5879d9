"""One typed record per lookup: derived once at load, the same answers every view used to re-derive."""

from __future__ import annotations

import json

import pytest

from globalhook import data as datafile
from globalhook.records import Lookup, as_records, from_entry, lookups_of, read


def entry(**fields):
    base = {"module": "app.core", "function": "f", "file": "/src/app/core.py", "line": 3, "name": "X", "kind": "global", "count": 2}
    base.update(fields)
    return base


CASES = [
    entry(),
    entry(context="tests/test_a.py::test_x|call"),
    entry(kind="attribute", owner="app.settings", reader_module="app.web", module="app.settings"),
    entry(kind="store", static=True, count=0),
    entry(kind="read", owner="os.environ", name="HOME"),
    entry(kind="future-kind", owner=""),
]


@pytest.mark.parametrize("raw", CASES)
def test_derived_fields_match_the_rules_of_a_data_file(raw):
    record = from_entry(raw)
    owner = raw.get("owner") or raw["module"]
    assert record.owner == owner
    assert record.reader == (raw.get("reader_module") or raw["module"])
    assert record.context == raw.get("context", "")
    assert record.shown_kind == datafile.shown_kind(raw)
    assert record.shown_name == (f"{raw['owner']}.{raw['name']}" if raw.get("owner") else raw["name"])
    assert record.static is (raw.get("static") is True)
    assert record.as_entry() == raw or (raw.get("owner") == "" and record.as_entry() == {k: v for k, v in raw.items() if k != "owner"})


def test_a_record_is_an_immutable_slotted_tuple():
    record = from_entry(entry())
    assert isinstance(record, tuple) and Lookup.__slots__ == ()
    with pytest.raises(AttributeError):
        record.count = 3  # type: ignore[misc]
    assert not hasattr(record, "__dict__")


def test_as_records_takes_records_and_dicts_alike():
    record = from_entry(entry())
    assert as_records([record, entry()]) == [record, record]
    assert as_records([record])[0] is record


def test_read_gives_the_records_of_what_load_gives(tmp_path):
    path = tmp_path / "data.json"
    datafile.save(datafile.make_data(CASES, {"pid": 1}), str(path))
    loaded = datafile.load(str(path))
    got = read(str(path))
    assert got["lookups"] == [from_entry(e) for e in loaded["lookups"]]
    assert {k: v for k, v in got.items() if k != "lookups"} == {k: v for k, v in loaded.items() if k != "lookups"}
    assert lookups_of(got) is got["lookups"]
    assert lookups_of(loaded) == got["lookups"]


def test_read_names_a_bad_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "globalhook-data", "version": 1, "lookups": [{"module": 1}]}))
    with pytest.raises(datafile.DataError, match=r"bad\.json: lookups\[0\]"):
        read(str(path))
