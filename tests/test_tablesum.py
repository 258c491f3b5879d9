"""``combine`` sums version-2 tables without decoding them: the file it writes is the one the
entry path (decode, sum the dicts, encode) writes, byte for byte, whatever the parts hold."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from globalhook import compact, data, tablesum

REPO = Path(__file__).resolve().parent.parent


def entries(seed: int, count: int = 300) -> list:
    """Lookups as recorders and other tools write them: contexts or none, attribute reads of
    another module (owner), readers that are not the recording module, static writes, and
    lookups that differ only in owner or static (their entries interleave by context)."""
    rnd = random.Random(seed)
    made = []
    for _ in range(count):
        module = rnd.choice(["app.core", "app.util", "app"])
        entry = {
            "module": module,
            "function": rnd.choice(["f", "g", "C.m", "<module>"]),
            "file": f"/src/{module.replace('.', '/')}.py",
            "line": rnd.choice([0, 1, 7, 12]),
            "name": rnd.choice(["X", "Y", "len", "CONFIG"]),
            "kind": rnd.choice(["global", "builtin", "store", "attribute"]),
            "count": rnd.randint(1, 5),
        }
        if rnd.random() < 0.8:
            entry["context"] = rnd.choice(["", "t.py::a|call", "t.py::a|setup", "t.py::b|call", "t.py::b\u00e9|call"])
        if rnd.random() < 0.2:
            entry["owner"] = rnd.choice(["app.util", "os"])
        if entry["function"] == "<module>" and module == "app":
            entry["reader_module"] = "app.__main__"  # one reader per function, as recorded
        if rnd.random() < 0.1:
            entry["static"] = True
            entry["count"] = 0
        made.append(entry)
    return made


def part_name(target: Path, index: int) -> str:
    # This host, a pid no process can have: a finished writer, as after a real run.
    return f"{target}.{data._host()}.{99999990 + index}.{index:08x}"


def write_parts(folder: Path, seeds, v1=()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / ".globalhook.json"
    for index, seed in enumerate(seeds):
        lookups = entries(seed)
        if index in v1:  # version 1, as an older globalhook or another tool wrote it: unsorted, repeats
            v1_data = {"format": data.FORMAT, "version": 1, "runs": [{"pid": index}], "not_tracked": [], "lookups": lookups}
            Path(part_name(target, index)).write_text(json.dumps(v1_data))
        else:
            part = data.make_data(lookups, {"pid": index}, [{"module": f"m{index % 2}", "reason": "r"}])
            part["selection"] = {"tests": {f"t{index}": {"digest": str(seed)}}}
            data.save(part, part_name(target, index))
    return target


def combined_both_ways(tmp_path: Path, seeds, v1=(), base: list = None) -> tuple:
    """The file written by the entry path and by the table path, from the same parts (and data file)."""
    written = []
    for way in ("entries", "tables"):
        target = write_parts(tmp_path / way, seeds, v1)
        bases = []
        if base is not None:
            data.save(data.make_data(base, {"run_id": "earlier"}), str(target))
            bases = [data.load_stored(str(target)) if way == "tables" else data.load(str(target))]
        result = data.combine_parts(str(target), bases, stored=way == "tables")
        assert len(result.added) == len(seeds) and not result.errors
        written.append(target.read_bytes())
    return written[0], written[1]


def test_the_same_file_as_the_entry_path(tmp_path):
    old, new = combined_both_ways(tmp_path, [1, 2, 3, 4])
    assert new == old
    lookups = data.load(str(tmp_path / "tables" / ".globalhook.json"))["lookups"]
    assert any("owner" in e for e in lookups) and any(e.get("static") for e in lookups)
    assert any("reader_module" in e for e in lookups) and any("context" not in e for e in lookups)


def test_counts_add_up_exactly(tmp_path):
    target = write_parts(tmp_path, [5, 6, 7])
    expected = {}
    for seed in (5, 6, 7):
        for entry in entries(seed):
            key = data._sort_key(entry)
            expected[key] = expected.get(key, 0) + entry["count"]
    data.combine_parts(str(target), stored=True)
    got = {data._sort_key(entry): entry["count"] for entry in data.load(str(target))["lookups"]}
    assert got == {key: count for key, count in expected.items() if count or key[-1] == "\0static"}


def test_version_1_and_version_2_parts_and_a_data_file_mixed(tmp_path):
    old, new = combined_both_ways(tmp_path, [11, 12, 13, 14], v1={1, 3}, base=entries(99, 50))
    assert new == old


def test_the_tables_are_summed_as_tables(tmp_path, monkeypatch):
    """Not decoded into entries and summed the old way: that is what made combine slow."""
    target = write_parts(tmp_path, [21, 22, 23])

    def no(lookups, *args, **kwargs):
        if lookups:
            raise AssertionError("summed as entries")
        return []

    monkeypatch.setattr(compact, "decode", no)
    monkeypatch.setattr(data, "_sum_lookups", no)
    result = data.combine_parts(str(target), stored=True)
    assert isinstance(result.data["lookups"], dict) and len(result.added) == 3


@pytest.mark.parametrize("odd", ["two readers", "unknown key"])
def test_what_only_the_entry_path_gets_right_goes_there(tmp_path, odd):
    """One lookup with two reader modules keeps the first one seen per context; an entry with
    keys this version does not know is kept as it is: the entry path does both."""
    lookups = entries(31, 100)
    twin = dict(lookups[0], context="t.py::z|call")
    if odd == "two readers":
        twin["reader_module"] = "elsewhere"
    else:
        twin["later_key"] = 1
    for way in ("entries", "tables"):
        folder = tmp_path / way
        folder.mkdir()
        target = folder / ".globalhook.json"
        data.save(data.make_data(lookups, {"pid": 1}), part_name(target, 1))
        data.save(data.make_data(lookups[1:] + [twin], {"pid": 2}), part_name(target, 2))
        assert tablesum.sum_tables([data.load_stored(p)["lookups"] for p in data.find_parts(str(target))]) is None
        data.combine_parts(str(target), stored=way == "tables")
    assert (tmp_path / "tables" / ".globalhook.json").read_bytes() == (tmp_path / "entries" / ".globalhook.json").read_bytes()


def test_a_later_version_of_an_open_part_replaces_the_earlier(tmp_path):
    """A part whose writer may still write (this process's pid) is kept as entries, and its
    later version's counts replace the earlier's (``minus``), the same on both paths."""
    written = []
    for way in ("entries", "tables"):
        folder = tmp_path / way
        folder.mkdir()
        target = folder / ".globalhook.json"
        own = f"{target}.{data._host()}.{os.getpid()}.0000abcd"
        write_parts(folder, [41, 42])
        data.save(data.make_data(entries(43), {"pid": os.getpid()}), own)
        data.combine_parts(str(target), stored=way == "tables")
        # Rewritten with other lookups: the earlier's only lookups drop to zero and go.
        data.save(data.make_data(entries(44), {"pid": os.getpid()}), own)
        result = data.combine_parts(str(target), [data.load_stored(str(target)) if way == "tables" else data.load(str(target))], stored=way == "tables")
        assert result.added == [own]
        written.append(target.read_bytes())
    assert written[1] == written[0]
    assert data.OPEN_PARTS in json.loads(written[1])


def test_the_cli_writes_what_the_entry_path_writes(tmp_path):
    target = write_parts(tmp_path / "cli", [51, 52], v1={0})
    write_parts(tmp_path / "api", [51, 52], v1={0})
    data.combine_parts(str(tmp_path / "api" / ".globalhook.json"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", "globalhook", "combine", "--data-file", str(target)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == (tmp_path / "api" / ".globalhook.json").read_bytes()


def test_a_version_1_data_file_with_version_2_parts(tmp_path):
    written = []
    for way in ("entries", "tables"):
        target = write_parts(tmp_path / way, [61, 62])
        old = {"format": data.FORMAT, "version": 1, "runs": [{"pid": 7}], "not_tracked": [], "lookups": entries(63, 80)}
        target.write_text(json.dumps(old))
        base = data.load_stored(str(target)) if way == "tables" else data.load(str(target))
        data.combine_parts(str(target), [base], stored=way == "tables")
        written.append(target.read_bytes())
    assert written[1] == written[0]
    assert json.loads(written[1])["version"] == 2
