"""Counts stay exact when the hot path finds counters without the dicts.

The compiled core keeps, per code object, the counters it has found (by the
name's address, and the owner's for attribute reads), remembers the last
code objects asked, and a module's ``__name__`` per dict (per version of the
dict up to 3.13; on 3.14 until the writes watcher forgets it; free-threaded,
per thread, until the watcher bumps an epoch).  Each test here changes what such a cache would hold
(tables emptied, a module renamed, its globals written, many names, code
objects dying) between reads made by one and the same code object, and checks
every count against the number of reads the program made.  They run with the
core this process uses, and with both cores in a child process.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import globalhook
from globalhook.tracking import RECORDER

from conftest import c_core_built, core_env, entries

NAMES = [f"N{i}" for i in range(40)]  # more than any first-size cache holds

READER = f"""
G = 1
{" = ".join(NAMES)} = 0

def loop(n):
    for _ in range(n):
        G; len

def many(n):
    for _ in range(n):
        {"; ".join(NAMES)}

def attrs(a, b, n):
    for _ in range(n):
        a.X; b.X; a.Y

def one(m, n):
    for _ in range(n):
        m.X
"""


@pytest.fixture
def modules(src, unique):
    src({f"{unique}.py": READER, f"{unique}_a.py": "X = Y = 1\n", f"{unique}_b.py": "X = 2\n"})
    with globalhook.install(include=[unique, f"{unique}_a", f"{unique}_b"], strategy="native"):
        yield tuple(importlib.import_module(name) for name in (unique, f"{unique}_a", f"{unique}_b"))


def _counts(module: str, function: str) -> dict:
    """(owner, name, kind) -> count; the loops' own ``range`` left out."""
    return {(e.get("owner", ""), e["name"], e["kind"]): e["count"] for e in entries(module, function=function)
            if e["name"] != "range"}


class TestTablesEmptied:
    def test_clear_between_reads_of_one_code_object(self, modules, unique):
        reader, a, b = modules
        reader.loop(5)
        reader.attrs(a, b, 5)
        RECORDER.clear()
        reader.loop(3)
        reader.attrs(a, b, 2)
        assert _counts(unique, "loop") == {("", "G", "global"): 3, ("", "len", "builtin"): 3}
        assert _counts(unique, "attrs") == {
            (f"{unique}_a", "X", "attribute"): 2, (f"{unique}_b", "X", "attribute"): 2,
            (f"{unique}_a", "Y", "attribute"): 2}

    def test_forget_file_between_reads(self, modules, unique):
        reader, _, _ = modules
        reader.loop(4)
        RECORDER.forget_file(reader.loop.__code__.co_filename)
        reader.loop(2)
        assert _counts(unique, "loop") == {("", "G", "global"): 2, ("", "len", "builtin"): 2}

    def test_clear_in_a_context(self, modules, unique):
        reader, _, _ = modules
        with globalhook.context("first"):
            reader.loop(2)
        RECORDER.clear()
        with globalhook.context("first"):
            reader.loop(1)
        with globalhook.context("second"):
            reader.loop(4)
        found = {(e.get("context", ""), e["name"]): e["count"] for e in entries(unique, function="loop")
                 if e["name"] != "range"}
        assert found == {("first", "G"): 1, ("first", "len"): 1, ("second", "G"): 4, ("second", "len"): 4}


class TestOwners:
    def test_a_renamed_module_counts_under_its_new_name(self, modules, unique):
        reader, a, b = modules
        reader.attrs(a, b, 3)
        a.__name__ = f"{unique}_renamed"
        reader.attrs(a, b, 2)
        a.__name__ = f"{unique}_a"
        reader.attrs(a, b, 1)
        assert _counts(unique, "attrs") == {
            (f"{unique}_a", "X", "attribute"): 4, (f"{unique}_a", "Y", "attribute"): 4,
            (f"{unique}_renamed", "X", "attribute"): 2, (f"{unique}_renamed", "Y", "attribute"): 2,
            (f"{unique}_b", "X", "attribute"): 6}

    def test_a_renamed_module_read_alone(self, modules, unique):
        reader, a, _ = modules
        reader.one(a, 3)
        a.__name__ = f"{unique}_renamed"
        reader.one(a, 2)
        vars(a)["__name__"] = f"{unique}_again"  # through the dict, not setattr
        reader.one(a, 4)
        assert _counts(unique, "one") == {
            (f"{unique}_a", "X", "attribute"): 3, (f"{unique}_renamed", "X", "attribute"): 2,
            (f"{unique}_again", "X", "attribute"): 4}

    def test_a_module_renamed_by_another_thread(self, modules, unique):
        """The reading thread remembered the old name (free-threaded: in a table of its own); the rename is not its."""
        import queue
        import threading

        reader, a, _ = modules
        asked, done = queue.Queue(), queue.Queue()

        def worker():
            for n in iter(asked.get, None):
                reader.one(a, n)
                done.put(n)

        thread = threading.Thread(target=worker)
        thread.start()
        try:
            for n, rename in ((3, lambda: setattr(a, "__name__", f"{unique}_renamed")),
                              (2, lambda: vars(a).__setitem__("__name__", f"{unique}_again")),
                              (4, lambda: None)):
                asked.put(n)
                assert done.get(timeout=30) == n
                rename()
        finally:
            asked.put(None)
            thread.join(30)
        assert _counts(unique, "one") == {
            (f"{unique}_a", "X", "attribute"): 3, (f"{unique}_renamed", "X", "attribute"): 2,
            (f"{unique}_again", "X", "attribute"): 4}

    def test_writes_to_the_module_between_reads(self, modules, unique):
        reader, a, b = modules
        for i in range(50):
            reader.attrs(a, b, 1)
            a.X = i  # a new version of a's dict each time
            setattr(b, f"extra{i}", i)  # b's dict grows (new keys tables)
        assert _counts(unique, "attrs") == {
            (f"{unique}_a", "X", "attribute"): 50, (f"{unique}_a", "Y", "attribute"): 50,
            (f"{unique}_b", "X", "attribute"): 50}

    def test_same_name_in_two_modules_is_two_counters(self, modules, unique):
        reader, a, b = modules
        reader.attrs(a, b, 7)
        reader.attrs(b, a, 0)
        found = _counts(unique, "attrs")
        assert found[(f"{unique}_a", "X", "attribute")] == 7
        assert found[(f"{unique}_b", "X", "attribute")] == 7


class TestNewContext:
    """Each context has tables of its own: a test phase of ``pytest --globalhook``
    sees every name for the first time again (the compiled core then makes the
    counter itself when the code object has read that name before)."""

    def _by_context(self, module: str, function: str) -> dict:
        return {(e.get("context", ""), e["name"], e["kind"]): e["count"]
                for e in entries(module, function=function) if e["name"] != "range"}

    def test_counts_per_context_stay_exact(self, modules, unique):
        reader, _, _ = modules
        reader.loop(2)
        with globalhook.context("one"):
            reader.loop(5)
            reader.many(1)
        with globalhook.context("two"):
            reader.loop(3)
        with globalhook.context("one"):
            reader.loop(1)
        RECORDER.clear()
        with globalhook.context("three"):
            reader.loop(4)
        reader.loop(1)
        assert self._by_context(unique, "loop") == {
            ("three", "G", "global"): 4, ("three", "len", "builtin"): 4,
            ("", "G", "global"): 1, ("", "len", "builtin"): 1}

    def test_counts_in_many_contexts(self, modules, unique):
        reader, _, _ = modules
        for i in range(30):
            with globalhook.context(f"c{i % 7}"):
                reader.loop(i)
        expected = {}
        for i in range(30):
            for name, kind in (("G", "global"), ("len", "builtin")):
                key = (f"c{i % 7}", name, kind)
                expected[key] = expected.get(key, 0) + i
        assert self._by_context(unique, "loop") == {k: v for k, v in expected.items() if v}

    def test_a_known_name_needs_no_first_sight_in_a_new_context(self, modules, unique):
        from globalhook import tracking

        if tracking.CORE != "c":
            pytest.skip("the compiled core's shortcut")
        from globalhook import _ctracking

        reader, _, _ = modules
        seen = []

        def first(kind, code, name, namespace):
            seen.append((kind, name))
            return tracking._first(kind, code, name, namespace)

        _ctracking.setup(tracking._code_tables, first, tracking._load_sites, tracking._code_owners)
        try:
            reader.loop(1)
            assert sorted(name for _, name in seen) == ["G", "len", "range"]
            del seen[:]
            for label in ("a", "b", "c"):
                with globalhook.context(label):
                    reader.loop(2)
        finally:
            _ctracking.setup(tracking._code_tables, tracking._first, tracking._load_sites, tracking._code_owners)
        assert seen == []
        assert self._by_context(unique, "loop") == {
            **{(label, name, kind): 2 for label in "abc" for name, kind in (("G", "global"), ("len", "builtin"))},
            ("", "G", "global"): 1, ("", "len", "builtin"): 1}


class TestManyNames:
    def test_every_name_of_a_wide_function_is_exact(self, modules, unique):
        reader, _, _ = modules
        reader.many(1)
        reader.many(10)
        assert _counts(unique, "many") == {("", name, "global"): 11 for name in NAMES}

    def test_alternating_code_objects(self, modules, unique):
        reader, a, b = modules
        for _ in range(20):
            reader.loop(1)
            reader.many(1)
            reader.attrs(a, b, 1)
        assert _counts(unique, "loop") == {("", "G", "global"): 20, ("", "len", "builtin"): 20}
        assert set(_counts(unique, "many").values()) == {20}


CHILD = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
import globalhook
from globalhook import tracking
with globalhook.install(include=["cc_reader"]):
    m = importlib.import_module("cc_reader")
import types
made = []
for i in range(300):  # code objects die and new ones take their memory
    f = m.make(i)
    f(); f()
    made.append(globalhook.reads(f) == {"AB"[i % 2]: 2})
    del f
for i in range(300):  # ... with no other tracked read in between: made here, untracked
    code = compile(f"def f():\\n    return {'AB'[i % 2]}\\n", "<made>", "exec").co_consts[0]
    f = types.FunctionType(code, vars(m))
    del code
    f(); f()
    made.append(globalhook.reads(f) == {"AB"[i % 2]: 2})
    del f
m.loop(5)
tracking.RECORDER.clear()
m.loop(3)
print(tracking.CORE, all(made), globalhook.reads(m.loop))
"""


@pytest.mark.parametrize("core", ["python", "c"])
def test_dying_code_objects_and_clear_in_a_fresh_process(tmp_path, core):
    if core == "c" and not c_core_built():
        pytest.skip("the compiled core is not built for this interpreter")
    (tmp_path / "cc_reader.py").write_text(textwrap.dedent("""
        A = B = G = 1
        def make(i):
            ns = {}
            exec(f"def f():\\n    return {'AB'[i % 2]}\\n", globals(), ns)
            return ns["f"]
        def loop(n):
            for _ in range(n):
                G
    """))
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=core_env(core),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{core} True {{'G': 3, 'range': 1}}\n"
