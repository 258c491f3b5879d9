"""What a recording run pays besides the reads: a new context's tables, the save at exit.

Each shortcut must give exactly what the long way gave: the tests compare both.
"""

from __future__ import annotations

import gc
import random

import pytest

from globalhook import data as data_module
from globalhook import tracking
from globalhook.contexts import context, set_context

from conftest import c_core_built


@pytest.fixture(autouse=True)
def no_context_left():
    yield
    set_context("")


# -- a new context's tables ----------------------------------------------------------------


needs_c = pytest.mark.skipif(not c_core_built(), reason="the compiled core is not built")


@needs_c
def test_new_context_tables_are_made_in_c() -> None:
    """Tens of thousands per suite (one per code object and test phase): no Python call each."""
    from globalhook import _ctracking

    assert tracking._new_tables is _ctracking.new_tables
    assert tracking._file_tables is _ctracking.file_tables


@pytest.mark.parametrize("maker", ["c", "python"])
def test_new_tables_are_empty_distinct_and_hidden(maker: str) -> None:
    if maker == "c" and not c_core_built():
        pytest.skip("the compiled core is not built")
    make = tracking._new_tables if maker == "c" else tracking._py_new_tables
    tables = make(tracking._TABLE_COUNT)
    assert type(tables) is tuple and len(tables) == len(tracking._TABLES)
    assert all(type(table) is dict and not table for table in tables)
    assert len({id(table) for table in tables}) == len(tables)
    if tracking._hide is not tracking._no_hide:
        assert not gc.is_tracked(tables)
        assert not any(gc.is_tracked(table) for table in tables)


@pytest.mark.parametrize("maker", ["c", "python"])
def test_filing_tables_keeps_what_is_there_and_hides_the_outer_tables(maker: str) -> None:
    if maker == "c" and not c_core_built():
        pytest.skip("the compiled core is not built")
    file = tracking._file_tables if maker == "c" else tracking._py_file_tables
    outer = ({}, {}, {})
    earlier = {"x": 1}
    outer[1][7] = earlier
    inner = ({}, {}, {}, {})  # more inner tables than outer ones: the extra ones stay out
    file(outer, 7, inner)
    assert outer[0][7] is inner[0] and outer[1][7] is earlier and outer[2][7] is inner[2]
    if tracking._hide is not tracking._no_hide:
        assert not any(gc.is_tracked(table) for table in outer)


@needs_c
def test_filing_tables_refuses_bad_arguments() -> None:
    from globalhook import _ctracking

    with pytest.raises(TypeError):
        _ctracking.file_tables([{}], 1, ({},))
    with pytest.raises(ValueError, match="fewer inner tables"):
        _ctracking.file_tables(({}, {}), 1, ({},))
    with pytest.raises(TypeError, match="not a dict"):
        _ctracking.file_tables(([],), 1, ({},))
    with pytest.raises(ValueError):
        _ctracking.new_tables(-1)


def test_contexts_count_apart_with_many_code_objects(src, install, unique) -> None:
    """Many code objects, each first seen in several contexts: every count lands in its own."""
    body = "".join(f"def f{i}():\n    return V + {i}\n" for i in range(50))
    src({f"{unique}.py": "V = 1\n" + body})
    install(include=[unique])
    module = __import__(unique)
    for label in ("a", "b", "c"):
        with context(label):
            for i in range(50):
                for _ in range(i % 3 + 1):
                    getattr(module, f"f{i}")()
    found = {}
    for entry in tracking.RECORDER.lookups():
        if entry["module"] == unique and entry["name"] == "V" and entry["kind"] == "global":
            found[(entry["function"], entry.get("context", ""))] = entry["count"]
    assert found == {(f"f{i}", label): i % 3 + 1 for i in range(50) for label in ("a", "b", "c")}


# -- the save ------------------------------------------------------------------------------


def _recorded(src, install, unique, strategy) -> list:
    """The recorder's entries for a program with contexts, builtins, misses, attribute reads."""
    src({
        f"{unique}_conf.py": "RATE = 2\n",
        f"{unique}.py": (
            f"import {unique}_conf as conf\n"
            "N = 3\n"
            "def work():\n"
            "    try:\n"
            "        NOPE\n"
            "    except NameError:\n"
            "        pass\n"
            "    return len([N]) * conf.RATE\n"
            "def more():\n"
            "    return N + conf.RATE\n"
        ),
    })
    install(include=[unique, f"{unique}_conf"])
    module = __import__(unique)
    module.work()
    for label in ("t::b|call", "t::a|call", "t::a|setup"):
        with context(label):
            module.work()
            module.more()
    lookups = [e for e in tracking.RECORDER.lookups() if e["module"].startswith(unique)
               or e.get("owner", "").startswith(unique)]
    assert {e["kind"] for e in lookups} >= {"global", "builtin", "missing"}
    if strategy == "native":  # reads of another module's attributes: entries with an owner
        assert any(e["kind"] == "attribute" and e["owner"] == f"{unique}_conf" for e in lookups)
    assert {e.get("context", "") for e in lookups} == {"", "t::b|call", "t::a|call", "t::a|setup"}
    return lookups


def test_the_recorders_entries_are_saved_as_the_long_way_saves_them(src, install, unique, strategy) -> None:
    """Differential: the recorder's summed, sorted entries give the same data as the same
    entries shuffled and split (which must be summed and sorted again)."""
    lookups = _recorded(src, install, unique, strategy)
    run = {"pid": 1}
    fast = data_module.make_data([dict(e) for e in lookups], run, fresh=True)
    shuffled = []
    for entry in lookups:
        if entry["count"] > 1:  # split in two: the long way must add them up again
            first = dict(entry, count=1)
            shuffled += [first, dict(entry, count=entry["count"] - 1)]
        else:
            shuffled.append(dict(entry))
    random.Random(5).shuffle(shuffled)
    slow = data_module.make_data(shuffled, run)
    assert fast == slow
    assert fast["lookups"] == lookups  # already in the data file's order


def test_summed_sorted_entries_are_not_sorted_again(src, install, unique, strategy, monkeypatch) -> None:
    lookups = _recorded(src, install, unique, strategy)
    sizes = []
    real_sorted = sorted

    def counting_sorted(items, *args, **kwargs):
        items = list(items)
        sizes.append(len(items))
        return real_sorted(items, *args, **kwargs)

    monkeypatch.setattr(data_module, "sorted", counting_sorted, raising=False)
    result = data_module.make_data(lookups, {"pid": 1}, fresh=True)
    assert result["lookups"] == lookups
    assert len(lookups) not in sizes
    assert all(a is b for a, b in zip(result["lookups"], lookups))  # fresh: no copies either
    copied = data_module.make_data(lookups, {"pid": 1})
    assert copied["lookups"] == lookups and not any(a is b for a, b in zip(copied["lookups"], lookups))


@pytest.mark.parametrize("entries, expected", [
    # a key twice in a row: summed
    ([{"k": 1, "count": 2}, {"k": 1, "count": 3}], [{"k": 1, "count": 5}]),
    # out of order: sorted
    ([{"k": 2, "count": 1}, {"k": 1, "count": 1}], [{"k": 1, "count": 1}, {"k": 2, "count": 1}]),
    # in order, one count zero: dropped as before
    ([{"k": 1, "count": 0}, {"k": 2, "count": 1}], [{"k": 2, "count": 1}]),
    # in order, a static entry with no count: kept as before
    ([{"k": 1, "count": 0, "static": True}, {"k": 2, "count": 1}], [{"k": 1, "count": 0, "static": True},
                                                                     {"k": 2, "count": 1}]),
])
def test_summing_gives_what_it_gave(entries, expected) -> None:
    def entry(k: int, **rest):
        return {"module": "m", "file": "m.py", "line": k, "function": "f", "name": "X", "kind": "global", **rest}

    given = [entry(e.pop("k"), **e) for e in (dict(x) for x in entries)]
    wanted = [entry(e.pop("k"), **e) for e in (dict(x) for x in expected)]
    before = [dict(e) for e in given]
    assert data_module._sum_lookups(given) == wanted
    assert given == before  # the caller's entries untouched
    assert data_module._sum_lookups(iter(given)) == wanted
