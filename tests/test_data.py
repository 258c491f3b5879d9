"""Tests for globalhook.data: building, saving, loading and merging data files."""

from __future__ import annotations

import glob
import json
import os
import sys

import pytest

from globalhook import data
from globalhook.data import DataError


def lookup(**fields):
    entry = {
        "module": "pkg.mod",
        "function": "func",
        "file": "/src/pkg/mod.py",
        "line": 10,
        "name": "CONFIG",
        "kind": "global",
        "count": 1,
    }
    entry.update(fields)
    return entry


RUN = {"globalhook": "0.1.0", "python": "3.11.7", "pid": 123, "unobservable": ["class bodies"]}


def write(path, payload):
    """Write ``payload`` as JSON, or as-is when it is already text or bytes."""
    if isinstance(payload, bytes):
        path.write_bytes(payload)
    elif isinstance(payload, str):
        path.write_text(payload, encoding="utf-8")
    else:
        path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def valid(**top):
    result = data.make_data([lookup()], RUN, [{"module": "late", "reason": "already imported"}])
    result.update(top)
    return result


class TestMakeData:
    def test_header_and_sections(self):
        result = data.make_data([lookup()], RUN)
        assert result["format"] == "globalhook-data"
        assert result["version"] == data.VERSION
        assert result["runs"] == [RUN]
        assert result["not_tracked"] == []
        assert result["lookups"] == [lookup()]

    def test_sums_duplicate_entries_and_sorts(self):
        entries = [
            lookup(line=30, name="b"),
            lookup(line=10, name="a", count=2),
            lookup(line=30, name="b", count=5),
        ]
        result = data.make_data(entries, RUN)
        assert [(e["line"], e["name"], e["count"]) for e in result["lookups"]] == [
            (10, "a", 2),
            (30, "b", 6),
        ]

    def test_does_not_change_callers_objects(self):
        entries = [lookup(count=1), lookup(count=1)]
        run = dict(RUN)
        result = data.make_data(entries, run)
        assert entries == [lookup(count=1), lookup(count=1)]
        result["runs"][0]["pid"] = 999
        assert run["pid"] == 123

    def test_not_tracked_deduplicated(self):
        skipped = [
            {"module": "b", "reason": "already imported"},
            {"module": "a", "reason": "no source"},
            {"module": "b", "reason": "already imported"},
        ]
        result = data.make_data([], RUN, skipped)
        assert result["not_tracked"] == [
            {"module": "a", "reason": "no source"},
            {"module": "b", "reason": "already imported"},
        ]

    def test_result_is_valid(self):
        data.validate(data.make_data([lookup(), lookup(kind="missing")], RUN), "<made>")


class TestSaveLoad:
    def test_round_trip(self, tmp_path):
        original = data.make_data(
            [lookup(), lookup(name="ñame_é", kind="builtin", count=7), lookup(kind="missing", line=0)],
            RUN,
            [{"module": "late", "reason": "already imported"}],
        )
        path = tmp_path / "data.json"
        data.save(original, str(path))
        assert data.load(str(path)) == original

    def test_file_is_plain_json(self, tmp_path):
        path = tmp_path / "data.json"
        data.save(valid(), str(path))
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n")
        assert json.loads(text)["format"] == "globalhook-data"

    def test_overwrites_existing_file(self, tmp_path):
        path = tmp_path / "data.json"
        data.save(data.make_data([lookup(count=1)], RUN), str(path))
        data.save(data.make_data([lookup(count=5)], RUN), str(path))
        assert data.load(str(path))["lookups"][0]["count"] == 5

    def test_accepts_path_objects(self, tmp_path):
        path = tmp_path / "data.json"
        data.save(valid(), path)
        assert data.load(path) == valid()

    def test_optional_sections_default_to_empty(self, tmp_path):
        path = write(tmp_path / "data.json", {"format": "globalhook-data", "version": 1, "lookups": []})
        loaded = data.load(str(path))
        assert loaded["runs"] == []
        assert loaded["not_tracked"] == []
        assert loaded["lookups"] == []


class TestAtomicSave:
    def leftovers(self, folder):
        return sorted(p.name for p in folder.iterdir() if p.name != "data.json")

    def test_unserialisable_value_keeps_old_file(self, tmp_path):
        path = tmp_path / "data.json"
        data.save(valid(), str(path))
        before = path.read_bytes()
        broken = valid(runs=[{"command": object()}])
        with pytest.raises(TypeError):
            data.save(broken, str(path))
        assert path.read_bytes() == before
        assert self.leftovers(tmp_path) == []

    def test_nan_is_refused(self, tmp_path):
        path = tmp_path / "data.json"
        with pytest.raises(ValueError):
            data.save(valid(runs=[{"elapsed": float("nan")}]), str(path))
        assert not path.exists()
        assert self.leftovers(tmp_path) == []

    def test_os_error_while_writing(self, tmp_path, monkeypatch):
        path = tmp_path / "data.json"
        data.save(valid(), str(path))
        before = path.read_bytes()

        def failing_fsync(fd):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fsync", failing_fsync)
        with pytest.raises(DataError) as info:
            data.save(data.make_data([lookup(count=99)], RUN), str(path))
        assert str(info.value) == f"{path}: cannot write (No space left on device)"
        assert path.read_bytes() == before
        assert self.leftovers(tmp_path) == []

    def test_interrupt_cleans_up(self, tmp_path, monkeypatch):
        path = tmp_path / "data.json"

        def interrupted(src, dst):
            raise KeyboardInterrupt

        monkeypatch.setattr(os, "replace", interrupted)
        with pytest.raises(KeyboardInterrupt):
            data.save(valid(), str(path))
        assert list(tmp_path.iterdir()) == []

    def test_missing_folder(self, tmp_path):
        path = tmp_path / "nowhere" / "data.json"
        with pytest.raises(DataError, match=r"cannot write") as info:
            data.save(valid(), str(path))
        assert str(info.value).startswith(f"{path}: ")

    def test_temp_file_is_beside_target_and_not_a_data_file_name(self, tmp_path, monkeypatch):
        # combine finds per-process files as "<name>.*"; a temp file must not look like one.
        seen = []
        real_replace = os.replace

        def spy(src, dst):
            seen.append((src, dst))
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", spy)
        path = tmp_path / ".globalhook.json"
        data.save(valid(), str(path))
        [(src, dst)] = seen
        assert dst == str(path)
        assert os.path.dirname(src) == str(tmp_path)
        assert not os.path.basename(src).startswith(".globalhook.json.")
        assert glob.glob(str(tmp_path / ".globalhook.json.*")) == []

    @pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
    def test_permissions_follow_umask(self, tmp_path):
        path = tmp_path / "data.json"
        old = os.umask(0o022)
        try:
            data.save(valid(), str(path))
        finally:
            os.umask(old)
        assert path.stat().st_mode & 0o777 == 0o644


BAD_FILES = [
    pytest.param("", "empty file", id="empty"),
    pytest.param("  \n\n", "empty file", id="blank"),
    pytest.param('{\n  "format": "globalhook-data",\n  "version": 1,,\n}', "corrupt JSON at line 3", id="corrupt"),
    pytest.param('{"format": "globalhook-data", "lookups": [', "corrupt JSON at line 1", id="truncated"),
    pytest.param(b'\xff\xfe{"format"', "not a globalhook data file (not UTF-8 text)", id="binary"),
    pytest.param([], "not a globalhook data file (top level is a list, not an object)", id="list"),
    pytest.param(
        {"version": 1, "lookups": []}, 'not a globalhook data file (missing key "format")', id="no-format"
    ),
    pytest.param(
        {"format": "coverage", "version": 1, "lookups": []},
        'not a globalhook data file (format is "coverage")',
        id="wrong-format",
    ),
    pytest.param(
        {"format": "globalhook-data", "lookups": []},
        'not a globalhook data file (missing key "version")',
        id="no-version",
    ),
    pytest.param(
        {"format": "globalhook-data", "version": "1", "lookups": []},
        'bad version "1" (expected an integer)',
        id="version-string",
    ),
    pytest.param(
        {"format": "globalhook-data", "version": True, "lookups": []},
        "bad version true (expected an integer)",
        id="version-bool",
    ),
    pytest.param(
        {"format": "globalhook-data", "version": 3, "whatever": "new"},
        "written by a newer globalhook (version 3)",
        id="newer",
    ),
    pytest.param(
        {"format": "globalhook-data", "version": 0, "lookups": []}, "unsupported version 0", id="version-0"
    ),
    pytest.param(
        {"format": "globalhook-data", "version": 1, "runs": []},
        'not a globalhook data file (missing key "lookups")',
        id="no-lookups",
    ),
    pytest.param(
        {"format": "globalhook-data", "version": 1, "lookups": {}},
        '"lookups" must be a list, not an object',
        id="lookups-object",
    ),
    pytest.param(
        {"format": "globalhook-data", "version": 1, "runs": ["x"], "lookups": []},
        "runs[0]: expected an object, got a string",
        id="run-not-object",
    ),
    pytest.param(
        {"format": "globalhook-data", "version": 1, "not_tracked": [{"module": "m"}], "lookups": []},
        'not_tracked[0]: missing key "reason"',
        id="not-tracked-no-reason",
    ),
    pytest.param(
        {"format": "globalhook-data", "version": 1, "not_tracked": [{"module": 3, "reason": "r"}], "lookups": []},
        'not_tracked[0]: "module" must be a string, not a number',
        id="not-tracked-bad-module",
    ),
]


DROP = object()


def bad_lookup(index_entry, **fields):
    entries = [lookup(), lookup(line=20)]
    entry = lookup(**fields)
    for key in [k for k, v in fields.items() if v is DROP]:
        del entry[key]
    entries.insert(index_entry, entry)
    return {"format": "globalhook-data", "version": 1, "runs": [], "lookups": entries}


BAD_LOOKUPS = [
    pytest.param(bad_lookup(1, count=0), 'lookups[1]: "count" must be an integer >= 1, not 0', id="count-0"),
    pytest.param(bad_lookup(2, count=-3), 'lookups[2]: "count" must be an integer >= 1, not -3', id="count-neg"),
    pytest.param(bad_lookup(0, count=1.0), 'lookups[0]: "count" must be an integer >= 1, not a number', id="float"),
    pytest.param(bad_lookup(0, count=True), 'lookups[0]: "count" must be an integer >= 1, not a boolean', id="bool"),
    pytest.param(bad_lookup(1, line="12"), 'lookups[1]: "line" must be an integer >= 0, not a string', id="line-str"),
    pytest.param(bad_lookup(1, line=-1), 'lookups[1]: "line" must be an integer >= 0, not -1', id="line-neg"),
    pytest.param(bad_lookup(0, name=None), 'lookups[0]: "name" must be a string, not null', id="name-null"),
    pytest.param(bad_lookup(2, kind=1), 'lookups[2]: "kind" must be a string, not a number', id="kind-int"),
    pytest.param(bad_lookup(1, module=["m"]), 'lookups[1]: "module" must be a string, not a list', id="module"),
    pytest.param(bad_lookup(1, file=DROP), 'lookups[1]: missing key "file"', id="no-file"),
    pytest.param(bad_lookup(1, count=DROP), 'lookups[1]: missing key "count"', id="no-count"),
    pytest.param(bad_lookup(0, context=5), 'lookups[0]: "context" must be a string, not a number', id="context"),
    pytest.param(
        {"format": "globalhook-data", "version": 1, "lookups": [lookup(), "CONFIG"]},
        "lookups[1]: expected an object, got a string",
        id="not-object",
    ),
]


class TestLoadErrors:
    def check(self, path, problem):
        with pytest.raises(DataError) as info:
            data.load(str(path))
        message = str(info.value)
        assert message.startswith(f"{path}: "), message
        assert "\n" not in message
        assert problem in message
        return message

    def test_missing_file(self, tmp_path):
        path = tmp_path / "absent.json"
        assert self.check(path, "no such file") == f"{path}: no such file"

    def test_directory(self, tmp_path):
        self.check(tmp_path, "is a directory")

    @pytest.mark.parametrize("payload, problem", BAD_FILES)
    def test_bad_file(self, tmp_path, payload, problem):
        self.check(write(tmp_path / "data.json", payload), problem)

    @pytest.mark.parametrize("payload, problem", BAD_LOOKUPS)
    def test_bad_lookup(self, tmp_path, payload, problem):
        self.check(write(tmp_path / "data.json", payload), problem)

    def test_corrupt_message_in_full(self, tmp_path):
        path = write(tmp_path / "data.json", '{\n"format": "globalhook-data",\n"version" 1}')
        message = self.check(path, "corrupt JSON")
        assert message == f"{path}: corrupt JSON at line 3 (Expecting ':' delimiter)"

    def test_newer_version_wins_over_structure(self, tmp_path):
        # A future file may look broken to this version; say it is newer, not corrupt.
        path = write(tmp_path / "data.json", {"format": "globalhook-data", "version": 7, "lookups": "changed"})
        self.check(path, "written by a newer globalhook (version 7)")

    def test_validate_names_its_source(self):
        with pytest.raises(DataError, match=r"^<memory>: not a globalhook data file"):
            data.validate([], "<memory>")


class TestForwardCompatibility:
    def future_data(self):
        return {
            "format": "globalhook-data",
            "version": 1,
            "written_by_future": {"anything": [1, 2]},
            "runs": [{"strategy": "retype", "new_field": True}],
            "not_tracked": [{"module": "m", "reason": "r", "since": 3}],
            "lookups": [
                lookup(kind="class-body", context="tests/test_x.py::test_a", extra={"k": 1}),
                lookup(kind="annotation"),
            ],
        }

    def test_unknown_kinds_and_keys_load(self, tmp_path):
        path = write(tmp_path / "data.json", self.future_data())
        loaded = data.load(str(path))
        assert loaded == self.future_data()

    def test_unknown_kinds_survive_merge_and_save(self, tmp_path):
        merged = data.merge([self.future_data(), self.future_data()])
        kinds = sorted((e["kind"], e["count"]) for e in merged["lookups"])
        assert kinds == [("annotation", 2), ("class-body", 2)]
        path = tmp_path / "data.json"
        data.save(merged, str(path))
        assert data.load(str(path)) == merged


class TestLookupKey:
    def test_context_defaults_to_empty(self):
        assert data.lookup_key(lookup()) == ("pkg.mod", "func", "/src/pkg/mod.py", 10, "CONFIG", "global", "", "")
        assert data.lookup_key(lookup(context="t1"))[-2] == "t1"

    def test_owner_is_identity(self):
        assert data.lookup_key(lookup(owner="settings"))[-1] == "settings"
        assert data.lookup_key(lookup(owner="settings")) != data.lookup_key(lookup())

    def test_count_and_extras_are_not_identity(self):
        assert data.lookup_key(lookup(count=1)) == data.lookup_key(lookup(count=9, note="x"))


class TestMerge:
    def counts(self, merged):
        return {(e["name"], e["kind"], e.get("context", "")): e["count"] for e in merged["lookups"]}

    def test_sums_counts(self):
        one = data.make_data([lookup(count=2), lookup(name="len", kind="builtin", count=1)], RUN)
        two = data.make_data([lookup(count=3), lookup(name="X", kind="missing", count=4)], RUN)
        assert self.counts(data.merge([one, two])) == {
            ("CONFIG", "global", ""): 5,
            ("len", "builtin", ""): 1,
            ("X", "missing", ""): 4,
        }

    def test_does_not_double_count(self):
        one = data.make_data([lookup(count=2)], RUN)
        assert self.counts(data.merge([one])) == {("CONFIG", "global", ""): 2}
        assert self.counts(data.merge([one, one])) == {("CONFIG", "global", ""): 4}
        assert one["lookups"][0]["count"] == 2  # inputs untouched

    def test_associative(self):
        a = data.make_data([lookup(count=1), lookup(name="a")], {"pid": 1})
        b = data.make_data([lookup(count=2), lookup(line=3)], {"pid": 2})
        c = data.make_data([lookup(count=4, context="t")], {"pid": 3})
        assert data.merge([data.merge([a, b]), c]) == data.merge([a, b, c])

    def test_contexts_kept_apart(self):
        one = data.make_data([lookup(context="test_a", count=1)], RUN)
        two = data.make_data([lookup(context="test_b", count=2), lookup(context="test_a", count=3)], RUN)
        assert self.counts(data.merge([one, two])) == {
            ("CONFIG", "global", "test_a"): 4,
            ("CONFIG", "global", "test_b"): 2,
        }

    def test_empty_context_is_no_context(self):
        merged = data.merge([data.make_data([lookup(context="")], RUN), data.make_data([lookup()], RUN)])
        assert self.counts(merged) == {("CONFIG", "global", ""): 2}

    def test_different_kinds_lines_files_kept_apart(self):
        entries = [lookup(), lookup(kind="store"), lookup(line=11), lookup(file="/other.py"), lookup(function="g")]
        merged = data.merge([data.make_data(entries, RUN)] * 2)
        assert len(merged["lookups"]) == 5
        assert {e["count"] for e in merged["lookups"]} == {2}

    def test_runs_concatenated_in_order(self):
        merged = data.merge([data.make_data([], {"pid": n}) for n in (3, 1, 2)])
        assert [run["pid"] for run in merged["runs"]] == [3, 1, 2]

    def test_not_tracked_deduplicated(self):
        one = data.make_data([], RUN, [{"module": "m", "reason": "already imported"}])
        two = data.make_data([], RUN, [{"module": "m", "reason": "already imported"}, {"module": "m", "reason": "x"}])
        assert data.merge([one, two])["not_tracked"] == [
            {"module": "m", "reason": "already imported"},
            {"module": "m", "reason": "x"},
        ]

    def test_sorted_deterministically(self):
        entries = [
            lookup(module="b", file="/b.py", line=1),
            lookup(module="a", file="/z.py", line=1),
            lookup(module="a", file="/a.py", line=9, function="a_func", name="y"),
            lookup(module="a", file="/a.py", line=9, function="a_func", name="x", kind="store"),
            lookup(module="a", file="/a.py", line=9, function="a_func", name="x", kind="global", context="t2"),
            lookup(module="a", file="/a.py", line=9, function="a_func", name="x", kind="global", context="t1"),
            lookup(module="a", file="/a.py", line=2, function="z_func"),
        ]
        expected = [
            ("a", "/a.py", 2, "z_func", "CONFIG", "global", ""),
            ("a", "/a.py", 9, "a_func", "x", "global", "t1"),
            ("a", "/a.py", 9, "a_func", "x", "global", "t2"),
            ("a", "/a.py", 9, "a_func", "x", "store", ""),
            ("a", "/a.py", 9, "a_func", "y", "global", ""),
            ("a", "/z.py", 1, "func", "CONFIG", "global", ""),
            ("b", "/b.py", 1, "func", "CONFIG", "global", ""),
        ]
        for order in (entries, entries[::-1]):
            merged = data.merge([{"runs": [], "lookups": order}])
            got = [
                (e["module"], e["file"], e["line"], e["function"], e["name"], e["kind"], e.get("context", ""))
                for e in merged["lookups"]
            ]
            assert got == expected

    def test_result_is_a_valid_data_file(self, tmp_path):
        merged = data.merge([valid(), valid()])
        assert merged["format"] == "globalhook-data" and merged["version"] == data.VERSION
        path = tmp_path / "combined.json"
        data.save(merged, str(path))
        assert data.load(str(path)) == merged

    def test_nothing_to_merge(self):
        assert data.merge([]) == {
            "format": "globalhook-data",
            "version": data.VERSION,
            "runs": [],
            "not_tracked": [],
            "lookups": [],
        }

    def test_accepts_any_iterable(self):
        merged = data.merge(valid() for _ in range(3))
        assert merged["lookups"][0]["count"] == 3
        assert len(merged["runs"]) == 3


class TestUndecodable:
    """Any content json cannot turn into data is a DataError naming the file (issue 9, item 4)."""

    def huge_int(self, where):
        payload = valid()
        text = json.dumps(payload)
        digits = "9" * 5000  # beyond int's default 4300-digit limit for str -> int
        if where == "count":
            return text.replace('"count": 1', f'"count": {digits}', 1)
        return text.replace('"pid": 123', f'"pid": {digits}', 1)

    @pytest.mark.skipif(not hasattr(sys, "set_int_max_str_digits"), reason="no int digit limit here")
    @pytest.mark.parametrize("where", ["count", "run"])
    def test_integer_too_long(self, tmp_path, where):
        path = write(tmp_path / "data.json", self.huge_int(where))
        with pytest.raises(DataError) as info:
            data.load(str(path))
        message = str(info.value)
        assert message.startswith(f"{path}: ") and "\n" not in message
        assert "4300" in message or "too long" in message or "digits" in message

    @pytest.mark.skipif(not hasattr(sys, "set_int_max_str_digits"), reason="no int digit limit here")
    def test_bad_part_is_skipped_and_named_good_parts_kept(self, tmp_path):
        target = tmp_path / "data.json"
        good = data.part_path(str(target))
        data.save(data.make_data([lookup(count=2)], RUN), good)
        bad = f"{target}.host.1.0123abcd"
        write(tmp_path / os.path.basename(bad), self.huge_int("count"))
        combined, used, errors = data.combine(str(target))
        assert used == [good]
        assert len(errors) == 1 and errors[0].startswith(f"{bad}: ")
        assert combined["lookups"][0]["count"] == 2
        assert os.path.exists(bad)  # kept for inspection
        assert data.load(str(target))["lookups"][0]["count"] == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
class TestNotARegularFile:
    """A FIFO (or socket, device) is never opened: it could block forever (issue 9, item 5)."""

    def test_load_refuses_a_fifo_without_blocking(self, tmp_path):
        fifo = tmp_path / "data.json"
        os.mkfifo(fifo)
        with pytest.raises(DataError, match="not a regular file") as info:
            data.load(str(fifo))
        assert str(info.value).startswith(f"{fifo}: ")

    def test_find_parts_skips_a_fifo(self, tmp_path):
        target = tmp_path / "data.json"
        os.mkfifo(f"{target}.host.1.0123abcd")
        os.mkdir(f"{target}.host.2.0123abcd")
        good = data.part_path(str(target))
        data.save(data.make_data([lookup()], RUN), good)
        assert data.find_parts(str(target)) == [good]

    def test_combine_skips_a_fifo_and_leaves_it(self, tmp_path):
        target = tmp_path / "data.json"
        fifo = f"{target}.host.1.0123abcd"
        os.mkfifo(fifo)
        good = data.part_path(str(target))
        data.save(data.make_data([lookup(count=3)], RUN), good)
        combined, used, errors = data.combine(str(target))
        assert used == [good] and errors == []
        assert combined["lookups"][0]["count"] == 3
        assert os.path.exists(fifo)


class TestPartNames:
    """A part belongs to exactly one data file: ``<data file>.<host>.<pid>.<8 hex>`` (issue 9, item 8)."""

    def names(self, folder, data_file):
        return [os.path.basename(p) for p in data.find_parts(str(folder / data_file))]

    def touch(self, folder, *names):
        for name in names:
            (folder / name).write_text("{}")

    def test_shorter_data_file_does_not_take_a_longer_ones_parts(self, tmp_path):
        self.touch(tmp_path, "out.json.hostA.123.abcdef12", "out.hostA.124.abcdef12")
        assert self.names(tmp_path, "out") == ["out.hostA.124.abcdef12"]

    def test_longer_data_file_does_not_take_a_shorter_ones_parts(self, tmp_path):
        self.touch(tmp_path, "out.json.hostA.123.abcdef12", "out.hostA.124.abcdef12", "out.json.x.hostA.1.abcdef12")
        assert self.names(tmp_path, "out.json") == ["out.json.hostA.123.abcdef12"]
        assert self.names(tmp_path, "out.json.x") == ["out.json.x.hostA.1.abcdef12"]

    @pytest.mark.parametrize("name", [
        "out.json.hostA.123.abcdef1",     # 7 hex digits
        "out.json.hostA.123.abcdef123",   # 9
        "out.json.hostA.123.ABCDEF12",    # upper case: not what part_path writes
        "out.json.hostA.12a.abcdef12",    # pid not a number
        "out.json..123.abcdef12",         # no host
        "out.json.hostA.123.abcdef12.tmp",
        "out.json-0123456789ab.tmp",      # a temporary file of write_atomically
    ])
    def test_near_misses(self, tmp_path, name):
        self.touch(tmp_path, name)
        assert self.names(tmp_path, "out.json") == []

    @pytest.mark.parametrize("host", ["box.example.com", "box", "weird host/name\n"])
    def test_own_parts_are_found_whatever_the_host_name(self, tmp_path, monkeypatch, host):
        import socket

        monkeypatch.setattr(socket, "gethostname", lambda: host)
        written = data.part_path(str(tmp_path / "out.json"))
        self.touch(tmp_path, os.path.basename(written))
        assert data.find_parts(str(tmp_path / "out.json")) == [written]
        assert data.find_parts(str(tmp_path / "out")) == []

    def test_combine_leaves_other_data_files_parts_alone(self, tmp_path):
        other = tmp_path / "out.json.hostA.123.abcdef12"
        data.save(data.make_data([lookup()], RUN), str(other))
        combined, used, errors = data.combine(str(tmp_path / "out"))
        assert used == [] and errors == []
        assert other.exists()


def dead_pid():
    """The pid of a process that has ended (and been reaped)."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


class TestCombineEachPartOnce:
    """``combine --keep`` then ``combine`` never counts a part twice; a later version replaces
    an earlier one (issue 9, item 3)."""

    def part_name(self, target, pid, host=None):
        return f"{target}.{host or data._host()}.{pid}.0123abcd"

    def write_part(self, path, count, pid=1, **run):
        run = {"run_id": "r1", "host": "h", "pid": pid, "started": "2026-01-01T00:00:00+00:00", **run}
        data.save(data.make_data([lookup(count=count)], run), str(path))

    def count_in(self, target):
        return {e["name"]: e["count"] for e in data.load(str(target))["lookups"]}["CONFIG"]

    def combine(self, target, keep=False):
        base = [data.load(str(target))] if os.path.exists(target) else []
        return data.combine_parts(str(target), base, keep=keep)

    def test_keep_then_combine_adds_nothing_twice(self, tmp_path):
        target = tmp_path / "out.json"
        part = self.part_name(target, dead_pid())
        self.write_part(part, 218)
        first = self.combine(target, keep=True)
        assert first.added == [part] and self.count_in(target) == 218
        second = self.combine(target)
        assert second.added == [] and second.already == [part]
        assert self.count_in(target) == 218
        assert not os.path.exists(part)  # in the data already: removed like a part taken now
        assert [run["part"] for run in data.load(str(target))["runs"]] == [os.path.basename(part)]
        assert data.OPEN_PARTS not in data.load(str(target))  # its writer is gone: final

    def test_later_version_of_a_live_writer_replaces_the_earlier(self, tmp_path):
        target = tmp_path / "out.json"
        part = self.part_name(target, os.getpid())  # a writer that is still running
        self.write_part(part, 3)  # a pool worker's save before it waits for work
        self.combine(target, keep=True)
        assert self.count_in(target) == 3
        assert list(data.load(str(target))[data.OPEN_PARTS]) == [os.path.basename(part)]
        self.write_part(part, 10, finished="later")  # its final save: 3 + 7 more
        result = self.combine(target, keep=True)
        assert result.added == [part]
        assert self.count_in(target) == 10
        runs = data.load(str(target))["runs"]
        assert len(runs) == 1 and runs[0]["finished"] == "later"
        again = self.combine(target, keep=True)  # nothing new: nothing changes
        assert again.added == [] and again.already == [part]
        assert self.count_in(target) == 10

    def test_later_version_after_the_earlier_was_deleted(self, tmp_path):
        target = tmp_path / "out.json"
        part = self.part_name(target, os.getpid())
        self.write_part(part, 3)
        self.combine(target)  # taken and deleted
        assert not os.path.exists(part)
        self.write_part(part, 10)  # the same process saves again, under the same name
        self.combine(target)
        assert self.count_in(target) == 10

    def test_other_hosts_parts_may_still_change(self, tmp_path):
        target = tmp_path / "out.json"
        part = self.part_name(target, 1, host="elsewhere")
        self.write_part(part, 3)
        self.combine(target)
        self.write_part(part, 4)
        self.combine(target)
        assert self.count_in(target) == 4

    def test_copy_dropped_once_the_writer_is_gone(self, tmp_path):
        import subprocess

        target = tmp_path / "out.json"
        writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            part = self.part_name(target, writer.pid)
            self.write_part(part, 3)
            self.combine(target)
            assert data.OPEN_PARTS in data.load(str(target))
        finally:
            writer.kill()
            writer.wait()
        other = self.part_name(target, dead_pid())
        self.write_part(other, 1, pid=2)
        self.combine(target)
        loaded = data.load(str(target))
        assert data.OPEN_PARTS not in loaded
        assert self.count_in(target) == 4

    def test_copy_dropped_when_nothing_else_changes(self, tmp_path):
        import subprocess

        target = tmp_path / "out.json"
        writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            self.write_part(self.part_name(target, writer.pid), 3)
            self.combine(target)  # taken and deleted; the writer may still write
            assert data.OPEN_PARTS in data.load(str(target))
        finally:
            writer.kill()
            writer.wait()
        result = self.combine(target)
        assert result.added == [] and data.OPEN_PARTS not in data.load(str(target))
        assert self.count_in(target) == 3

    def test_parts_of_other_runs_and_processes_all_count(self, tmp_path):
        target = tmp_path / "out.json"
        for pid in (11, 12):
            self.write_part(self.part_name(target, pid, host="elsewhere"), 1, pid=pid)
        self.combine(target, keep=True)
        self.write_part(self.part_name(target, 13, host="elsewhere"), 1, pid=13)
        result = self.combine(target)
        assert len(result.added) == 1 and len(result.already) == 2
        assert self.count_in(target) == 3

    def test_data_combined_before_parts_were_named(self, tmp_path):
        # A data file written by 'combine --keep' of an earlier globalhook: runs without "part".
        target = tmp_path / "out.json"
        part = self.part_name(target, dead_pid())
        self.write_part(part, 218)
        old = data.load(part)
        data.save(old, str(target))
        result = self.combine(target)
        assert result.already == [part] and self.count_in(target) == 218

    def test_select_leaves_other_parts_alone(self, tmp_path):
        target = tmp_path / "out.json"
        ours = self.part_name(target, 21, host="elsewhere")
        theirs = self.part_name(target, 22, host="elsewhere")
        self.write_part(ours, 2, run_id="mine")
        self.write_part(theirs, 5, run_id="other")
        own = data.make_data([lookup(count=1)], {"run_id": "mine", "pid": 1})
        combined, used, errors = data.combine(
            str(target), [own], select=lambda part: part["runs"][0]["run_id"] == "mine"
        )
        assert used == [ours] and errors == []
        assert self.count_in(target) == 3
        assert os.path.exists(theirs) and not os.path.exists(ours)

    def test_a_pid_no_process_can_have(self, tmp_path):
        target = tmp_path / "out.json"
        part = self.part_name(target, 10**30)
        self.write_part(part, 2)
        assert self.combine(target).added == [part]
        assert data.OPEN_PARTS not in data.load(str(target))

    def test_open_parts_is_checked_on_load(self, tmp_path):
        broken = valid()
        broken[data.OPEN_PARTS] = {"x.h.1.0123abcd": [lookup(count=0)]}
        path = write(tmp_path / "data.json", broken)
        with pytest.raises(DataError, match=r'open_parts\["x.h.1.0123abcd"\]\[0\]: "count"'):
            data.load(str(path))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
class TestSaveKeepsMode:
    """A save that replaces a data file keeps that file's mode (issue 9, item 26)."""

    @pytest.mark.parametrize("mode", [0o600, 0o640, 0o664])
    def test_mode_kept(self, tmp_path, mode):
        path = tmp_path / "data.json"
        data.save(valid(), str(path))
        os.chmod(path, mode)
        old = os.umask(0o077 if mode != 0o600 else 0o002)
        try:
            data.save(valid(), str(path))
        finally:
            os.umask(old)
        assert path.stat().st_mode & 0o7777 == mode

    def test_new_file_follows_umask(self, tmp_path):
        path = tmp_path / "data.json"
        old = os.umask(0o077)
        try:
            data.save(valid(), str(path))
        finally:
            os.umask(old)
        assert path.stat().st_mode & 0o777 == 0o600
