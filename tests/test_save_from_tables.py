"""The save at exit encodes the data file straight from the recorder's rows.

The long way (one dict per entry, ``make_data``, ``compact.encode``) is kept
here as the reference: the file written must be the one it wrote, byte for
byte, and the test-selection reads the same, for random recordings, a real
``pytest --globalhook`` run and a run whose save combines other processes' parts.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from globalhook import compact, data, testrecords, tracking
from globalhook.contexts import set_context

from conftest import core_env

# -- the reference: the entry path as it was -------------------------------------------------


def old_lookups(rows: list, static: list) -> list:
    """``Recorder.lookups()`` before the save went through tables (its loop, kept verbatim)."""
    rows = sorted(rows)
    result = []
    last = None
    for module, file, line, function, name, kind, context, owner, count in rows:
        key = (module, file, line, function, name, kind, context, owner)
        if key == last:
            result[-1]["count"] += count
            continue
        last = key
        entry = {"module": module, "function": function, "file": file, "line": line, "name": name, "kind": kind, "count": count}
        if context:
            entry["context"] = context
        if owner:
            entry["owner"] = owner
            entry["reader_module"] = module
        result.append(entry)
    if static:
        result.extend(dict(entry) for entry in static)
        result.sort(key=tracking._entry_order)
    return result


def file_bytes(lookups_or_table: object, tmp_path: Path, name: str) -> bytes:
    run = {"run_id": "r", "pid": 1}
    if isinstance(lookups_or_table, dict):
        made = data.make_data([], run, [{"module": "m", "reason": "r"}])
        made["lookups"] = lookups_or_table
    else:
        made = data.make_data(lookups_or_table, run, [{"module": "m", "reason": "r"}], fresh=True)
    path = tmp_path / name
    data.save(made, str(path))
    return path.read_bytes()


def old_reads_by_label(lookups, files):
    """``testrecords.reads_by_label`` as it was, one step per entry (its loop, kept verbatim)."""
    from globalhook.pertest import split_context
    from globalhook.selection import is_tool_read, owner_of, reader_of

    found = {}
    places = {}
    labels = {}
    heads = {}
    for entry in lookups:
        get = entry.get
        key = (get("module"), get("owner"), get("reader_module"))
        place = places.get(key)
        if place is None:
            place = places[key] = (owner_of(entry), reader_of(entry), is_tool_read(entry))
        owner, reader, tool = place
        if tool:
            continue
        context = get("context")
        if not context:
            if reader not in files or reader == owner:
                continue
            label = files[reader] + testrecords.COLLECT
        else:
            if context in labels:
                label = labels[context]
            else:
                label = context
                if not context.endswith(testrecords.FIXTURE):
                    label, phase = split_context(context)
                    if not phase:
                        label = None
                labels[context] = label
            if label is None:
                continue
        reads = found.get(label)
        if reads is None:
            reads = found[label] = testrecords._Reads()
        kind = entry["kind"]
        if kind in testrecords._READ_KINDS:
            reads.reads.setdefault(owner, set()).add(entry["name"])
        elif kind in testrecords._ABSENT_KINDS:
            reads.absent.setdefault(entry["module"], set()).add(entry["name"])
        elif kind == "read" and get("owner") == "os.environ":
            reads.env.add(entry["name"])
        else:
            continue
        function = get("function")
        if isinstance(function, str) and function and not function.startswith("<"):
            head = heads.setdefault(function, function.split(".", 1)[0])
            reads.reads.setdefault(reader, set()).add(head)
    return found


def shown(by_label: dict) -> list:
    """Labels in order with what each read, as the selection data writes them."""
    return [(label, reads.as_data()) for label, reads in by_label.items()]


# -- random recordings ---------------------------------------------------------------------


def random_rows(seed: int, count: int = 400) -> tuple:
    """Recorder rows (module, file, line, function, name, kind, context, owner, count), unsorted,
    with repeats (two code objects alike, one alive and one folded), and static entries as
    ``globalwrites`` makes them, some at the very sites of counted rows."""
    rnd = random.Random(seed)
    rows = []
    for _ in range(count):
        module = rnd.choice(["app", "app.core", "tests.test_a", "tests.test_b", "toolpkg"])
        owner = rnd.choice(["", "", "", "app.util", "os.environ", "app"])
        kind = rnd.choice(["global", "builtin", "missing", "store", "delete"]) if not owner else rnd.choice(
            ["attribute", "missing", "read", "write"])
        rows.append((
            module, f"/src/{module.replace('.', '/')}.py", rnd.choice([1, 3, 12]),
            rnd.choice(["f", "C.m", "<module>", "g.<locals>.h", "<lambda>"]),
            rnd.choice(["X", "Y", "len", "HOME", "e\u0301"]), kind,
            rnd.choice(["", "", "tests/test_a.py::t|call", "tests/test_a.py::t|setup", "tests/test_b.py::u[1]|call",
                        "conftest.py::db|fixture", "tests/test_b.py::u[1]|teardown", "odd"]),
            owner, rnd.randint(1, 9),
        ))
    rows.extend(rnd.sample(rows, count // 10))  # the same keys again: summed
    static = []
    for module, file, line, function, name, _, _, _, _ in rnd.sample(rows, rnd.choice([0, 1, 5])):
        static.append({"module": module, "function": function, "file": file, "line": line, "name": name,
                       "kind": rnd.choice(["store", "delete"]), "count": 0, "static": True})
    unique = {tracking._entry_order(entry): entry for entry in static}
    return rows, sorted(unique.values(), key=tracking._entry_order)


@pytest.mark.parametrize("seed", range(40))
def test_the_table_is_the_one_the_entries_gave(tmp_path: Path, seed: int) -> None:
    rows, static = random_rows(seed)
    table = compact.encode_rows(sorted(rows), static)
    assert table is not None
    assert table == compact.encode(data.make_data(old_lookups(rows, static), {})["lookups"])
    assert file_bytes(table, tmp_path, "new.json") == file_bytes(old_lookups(rows, static), tmp_path, "old.json")


def test_random_recordings_hold_what_makes_them_hard() -> None:
    """The cases above sum repeats, interleave owners by context and place static writes among counted rows."""
    summed = static_beside_counted = 0
    for seed in range(40):
        rows, static = random_rows(seed)
        summed += len(rows) - len(set(row[:8] for row in rows))
        sites = {row[:6] for row in rows}
        static_beside_counted += sum(tracking._entry_order(entry)[:6] in sites for entry in static)
    assert summed > 100 and static_beside_counted > 5


@pytest.mark.parametrize("static", [
    [{"module": "m", "function": "f", "file": "m.py", "line": 1, "name": "X", "kind": "store", "count": 0, "static": True,
      "context": "t|call"}],
    [{"module": "m", "function": "f", "file": "m.py", "line": 1, "name": "X", "kind": "store", "count": 0, "static": True}] * 2,
])
def test_static_entries_of_another_shape_take_the_entries_path(static: list) -> None:
    assert compact.encode_rows([("m", "m.py", 1, "f", "X", "global", "", "", 1)], static) is None


@pytest.mark.parametrize("seed", range(40))
def test_the_reads_by_label_are_the_ones_the_entries_gave(seed: int) -> None:
    rows, static = random_rows(seed)
    lookups = old_lookups(rows, static)
    files = {"tests.test_a": "tests/test_a.py", "tests.test_b": "tests/test_b.py"}
    expected = shown(old_reads_by_label(lookups, files))
    assert shown(testrecords.reads_by_label(compact.encode_rows(sorted(rows), static), files)) == expected
    assert shown(testrecords.reads_by_label(lookups, files)) == expected  # entries: encoded first


def test_labels_with_nothing_to_note_are_kept_as_before() -> None:
    """A context that only stored gets an empty record, as the entry path gave it (it shows in ``fixtures``)."""
    rows = [("app", "/app.py", 1, "f", "X", "store", "db|fixture", "", 1)]
    by_label = testrecords.reads_by_label(compact.encode_rows(rows), {})
    assert shown(by_label) == [("db|fixture", {"reads": {}, "absent": {}})] == shown(old_reads_by_label(old_lookups(rows, []), {}))


# -- this process's recorder ---------------------------------------------------------------


def test_this_processes_recorder_both_ways(src, install, unique) -> None:
    """The recorder of this test process (whatever earlier tests recorded too), with contexts."""
    src({f"{unique}.py": "X = 1\ndef f():\n    return X + len([Y])\nY = 2\n"})
    install(include=[unique])
    module = __import__(unique)
    try:
        for label in ("", "t.py::a|call", "t.py::b|setup"):
            set_context(label)
            module.f()
    finally:
        set_context("")
    recorder = tracking.RECORDER
    table = compact.encode_rows(recorder.sorted_rows(), recorder.static_entries())
    assert table == compact.encode(data.make_data(recorder.lookups(), {})["lookups"])
    assert unique in table["strings"] and "t.py::b|setup" in table["strings"]


# -- a real pytest run, and a save that combines parts -------------------------------------

RUN_AND_COMPARE = textwrap.dedent('''
    import json, sys
    import pytest
    rc = pytest.main(sys.argv[1:])
    from globalhook import compact, data, tracking, testrecords
    written = data.load_stored(sys.argv[-1].split("=", 1)[1])
    reference = compact.encode(data.make_data(tracking.RECORDER.lookups(), {})["lookups"])
    print(json.dumps({"rc": rc, "same": written["lookups"] == reference, "rows": len(reference["rows"]),
                      "tests": sorted(written.get("selection", {}).get("tests", {}))}))
''')


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "__init__.py").write_text("RATE = 2\nNAMES = ['a']\n")
    (project / "pkg" / "calc.py").write_text(textwrap.dedent("""
        import os
        from pkg import NAMES
        import pkg
        LIMIT = 10
        def scaled(x):
            return min(x * pkg.RATE, LIMIT) + len(NAMES) + len(os.environ.get("HOME", ""))
        def reset():
            global LIMIT
            LIMIT = 10
        class Box:
            SIZE = 3
            def size(self):
                return self.SIZE * LIMIT
    """))
    (project / "tests").mkdir()
    (project / "tests" / "conftest.py").write_text(textwrap.dedent("""
        import pytest
        from pkg import calc
        @pytest.fixture(scope="module")
        def box():
            calc.reset()
            return calc.Box()
    """))
    (project / "tests" / "test_calc.py").write_text(textwrap.dedent("""
        import pytest
        from pkg import calc
        VALUES = [1, 2, 3]
        @pytest.mark.parametrize("x", VALUES)
        def test_scaled(x):
            assert calc.scaled(x) >= 2
        def test_box(box):
            assert box.size() == 30
    """))
    (project / "probe.py").write_text(RUN_AND_COMPARE)
    return project


@pytest.mark.parametrize("core", ["c", "python"])
def test_a_real_pytest_recording_is_written_as_the_entries_gave_it(tmp_path: Path, core: str) -> None:
    from conftest import c_core_built

    if core == "c" and not c_core_built():
        pytest.skip("the compiled core is not built")
    project = make_project(tmp_path)
    env = core_env(core, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = str(project) + os.pathsep + env["PYTHONPATH"]
    for run in range(2):  # the second run finds the first one's data
        done = subprocess.run(
            [sys.executable, "probe.py", "-q", "-p", "no:cacheprovider", "tests", "--globalhook=pkg",
             f"--globalhook-data={tmp_path / 'data.json'}"],
            cwd=project, env=env, capture_output=True, text=True, timeout=120,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["rc"] == 0, done.stdout + done.stderr
        assert result["same"] and result["rows"] > 10
        assert len(result["tests"]) == 4


def test_a_save_that_combines_parts_writes_what_the_entries_wrote(tmp_path: Path) -> None:
    """The run's own data as a table, parts of other processes beside it: decoded and summed as before."""
    rows, static = random_rows(7)
    part_rows, part_static = random_rows(8)
    written = []
    for way in ("entries", "table"):
        target = tmp_path / way / ".globalhook.json"
        target.parent.mkdir()
        part = data.make_data(old_lookups(part_rows, part_static), {"pid": 2, "run_id": "r"})
        data.save(part, f"{target}.{data._host()}.99999991.00000001")
        lookups = old_lookups(rows, static)
        own = data.make_data(lookups, {"pid": 1, "run_id": "r"}, fresh=True)
        if way == "table":
            own["lookups"] = compact.encode_rows(sorted(rows), static)
        combined, used, errors = data.combine(str(target), [own], select=lambda part: True)
        assert len(used) == 1 and not errors
        written.append(target.read_bytes())
    assert written[0] == written[1]
    assert len(data.load(str(tmp_path / "table" / ".globalhook.json"))["runs"]) == 2


def test_the_report_at_exit_reads_a_table(tmp_path: Path) -> None:
    """``report = true``: the text report of a run whose data was saved as a table."""
    script = tmp_path / "prog.py"
    (tmp_path / "helper.py").write_text("K = 3\ndef get():\n    return K\n")
    script.write_text("import helper\nprint(helper.get())\n")
    env = core_env("python")
    env["PYTHONPATH"] = str(tmp_path) + os.pathsep + env["PYTHONPATH"]
    done = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--include=helper", "--report", "--data-file", str(tmp_path / "d.json"), str(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3\n"
    assert "helper" in done.stderr and "K" in done.stderr and "error" not in done.stderr
    assert isinstance(data.load_stored(str(tmp_path / "d.json"))["lookups"], dict)


def test_the_compiled_reader_gives_the_rows_of_the_python_one(src, install, unique, monkeypatch) -> None:
    """``save_rows`` (C) and ``_record_counts`` (Python) read the same tables: the same rows."""
    from conftest import c_core_built

    if not c_core_built() or tracking._save_rows is None:
        pytest.skip("the compiled core is not in use")
    src({f"{unique}.py": "import os\nX = 1\ndef f():\n    global X\n    X = X + len(os.sep)\n    return Z\n"})
    install(include=[unique])
    module = __import__(unique)
    try:
        for label in ("", "t.py::a|call", "t.py::a|call", "db|fixture"):
            set_context(label)
            try:
                module.f()
            except NameError:
                pass
    finally:
        set_context("")
    compiled = sorted(tracking.RECORDER.rows())
    monkeypatch.setattr(tracking, "_save_rows", None)
    assert compiled == sorted(tracking.RECORDER.rows())
    kinds = {row[5] for row in compiled if row[0] == unique}
    assert {"global", "builtin", "missing"} <= kinds and any(row[6] == "db|fixture" for row in compiled)


def test_the_compiled_reader_leaves_counters_it_does_not_know_to_python(monkeypatch) -> None:
    """A table of the pure-Python core's counters: False, and the Python reader takes over."""
    from conftest import c_core_built

    if not c_core_built() or tracking._save_rows is None:
        pytest.skip("the compiled core is not in use")
    import itertools

    class Record:
        owners = {"X": "m"}
        reader = ""
        file, line, function, contexts = "m.py", 1, "f", None
        tables = tuple({} for _ in tracking._TABLES)

    Record.tables[0]["X"] = itertools.count(2)
    assert tracking._save_rows([Record()], [], tracking._OWN_KINDS, tracking._BY_OWNER, "<unknown>") is False


def test_the_save_builds_no_entry_dicts(tmp_path: Path, monkeypatch) -> None:
    """The save at exit writes the table from the rows: ``Recorder.lookups`` is not called, and
    what the selection data is made from is the table.  With an ``entry_filter`` the entries
    are made, filtered and encoded."""
    from globalhook.config import load_config
    from globalhook.session import Session

    config = load_config({"data_file": str(tmp_path / "d.json")}, environ={}, cwd=str(tmp_path))
    session = Session(config, ["prog.py"])
    given = []
    session.extra_data["selection"] = lambda lookups: given.append(lookups) or {}

    def no_entries(self):
        raise AssertionError("entries built")

    monkeypatch.setattr(tracking.Recorder, "lookups", no_entries)
    assert session.save()
    written = data.load_stored(str(tmp_path / "d.json"))
    assert isinstance(given[0], dict) and given[0] == written["lookups"]

    monkeypatch.undo()
    filtered = Session(config, ["prog.py"])
    filtered.entry_filter = lambda entry: entry["kind"] != "builtin"
    table = filtered.data(table=True)["lookups"]
    kinds = {table["strings"][row[5]] for row in table["rows"]}
    assert "builtin" not in kinds and table == compact.encode(filtered.data()["lookups"])
