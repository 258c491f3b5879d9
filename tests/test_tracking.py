"""The tracking dict and the recorder: what is counted, how, and for whom."""

from __future__ import annotations

import json
import sys
import threading

import pytest

import globalhook
from globalhook.tracking import RECORDER, TrackingDict

from conftest import entries


@pytest.fixture
def mod(src, install, unique):
    def load(body: str):
        src({f"{unique}.py": body})
        install(include=[unique])
        return __import__(unique)

    return load


class TestKinds:
    def test_global_builtin_missing(self, mod, unique):
        m = mod(
            """
            LIMIT = 3
            def f():
                try:
                    return nope
                except NameError:
                    return min(LIMIT, 5)
            """
        )
        assert m.f() == 3
        assert globalhook.reads(m.f) == {"nope": 1, "NameError": 1, "min": 1, "LIMIT": 1}
        kinds = {e["name"]: e["kind"] for e in entries(unique, function="f")}
        assert kinds == {"nope": "missing", "NameError": "builtin", "min": "builtin", "LIMIT": "global"}

    def test_module_level_store_delete_and_reads(self, mod, unique):
        mod(
            """
            a = 1
            b = a + 1
            del a
            print_ = print
            """
        )
        got = {(e["name"], e["kind"]): e["count"] for e in entries(unique, function="<module>")}
        assert got[("a", "store")] == 1
        assert got[("a", "global")] == 1
        assert got[("a", "delete")] == 1
        assert got[("b", "store")] == 1
        assert got[("print", "builtin")] == 1

    def test_global_shadowing_a_builtin_counts_as_global(self, mod, unique):
        m = mod("len = lambda x: 42\ndef f():\n    return len([])\n")
        assert m.f() == 42
        assert [(e["name"], e["kind"]) for e in entries(unique, function="f")] == [("len", "global")]

    def test_explicit_globals_subscript_and_eval_are_lookups(self, mod, unique):
        m = mod("X = 5\ndef f():\n    return globals()['X'] + eval('X', globals())\n")
        assert m.f() == 10
        counts = {(e["function"], e["name"]): e["count"] for e in entries(unique, name="X", kind="global")}
        assert counts[("f", "X")] == 1  # globals()['X']
        assert counts[("<module>", "X")] == 1  # eval's code object is a "<module>"

    def test_eval_with_separate_locals_falls_back_unseen(self, mod, unique):
        # With a separate locals mapping (the default inside a function), the
        # fallback from locals to globals reads the dict in C: not observable.
        m = mod("X = 5\ndef f():\n    return eval('X') + eval('X', globals(), {})\n")
        assert m.f() == 10
        assert entries(unique, name="X", kind="global") == []

    def test_exceptions_are_unchanged(self, mod):
        m = mod("def f():\n    return undefined_thing\n")
        with pytest.raises(NameError) as info:
            m.f()
        assert str(info.value) == "name 'undefined_thing' is not defined"


class TestAttribution:
    SOURCE = """
        G = 1
        def outer():
            def inner():
                return G
            return inner
        class C:
            def method(self):
                return G
            class D:
                def deep(self):
                    return (lambda: G)()
        def gen():
            yield G
        async def coro():
            return G
        """

    def test_qualified_names_match_python(self, mod, unique):
        m = mod(self.SOURCE)
        funcs = [m.outer(), m.C.method, m.gen, m.coro]
        m.outer()()
        m.C().method()
        m.C.D().deep()
        list(m.gen())
        try:
            m.coro().send(None)
        except StopIteration:
            pass
        seen = {e["function"] for e in entries(unique, name="G", kind="global")}
        expected = {f.__qualname__ for f in funcs} | {"C.D.deep.<locals>.<lambda>"}
        assert expected <= seen

    def test_file_and_first_line(self, mod, unique):
        m = mod(self.SOURCE)
        m.C().method()
        (entry,) = entries(unique, function="C.method")
        assert entry["file"] == m.__file__
        assert entry["line"] == m.C.method.__code__.co_firstlineno


class TestCounting:
    def test_exact_under_threads(self, mod):
        m = mod("X = 0\ndef read():\n    return X\ndef loop(n):\n    for _ in range(n):\n        read()\n")
        threads = [threading.Thread(target=m.loop, args=(100_000,)) for _ in range(8)]
        old = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads as often as possible
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(old)
        assert globalhook.reads(m.read) == {"X": 800_000}

    def test_memory_grows_with_pairs_not_lookups(self, mod, unique):
        m = mod("X = 0\ndef read():\n    return X\n")
        m.read()
        before = (len(globalhook.lookups()), sys.getsizeof(__import__("globalhook.tracking").tracking._global_counts[id(m.read.__code__)]))
        for _ in range(200_000):
            m.read()
        after = (len(globalhook.lookups()), sys.getsizeof(__import__("globalhook.tracking").tracking._global_counts[id(m.read.__code__)]))
        assert before == after
        assert globalhook.reads(m.read) == {"X": 200_001}

    def test_names_only_never_values(self, mod, unique):
        m = mod("SECRET = 'hunter2-do-not-record'\ndef f():\n    return SECRET\n")
        m.f()
        assert "hunter2" not in json.dumps(globalhook.lookups())


class TestUnobservable:
    """The CPython facts the README lists; a failure here means the list needs updating."""

    def test_global_statement_store_is_not_seen(self, mod, unique):
        m = mod("X = 0\ndef set_it():\n    global X\n    X = 1\n")
        m.set_it()
        assert m.X == 1
        assert entries(unique, function="set_it") == []

    def test_class_body_fallback_is_not_seen(self, mod, unique):
        m = mod("X = 0\nclass C:\n    y = X\n")
        assert m.C.y == 0
        assert entries(unique, function="C") == []


class TestTrackingDict:
    def test_layout_matches_dict(self):
        assert TrackingDict.__basicsize__ == dict.__basicsize__
        assert TrackingDict.__itemsize__ == dict.__itemsize__
        assert not hasattr(TrackingDict(), "__dict__")

    def test_copies_and_pickles_as_plain_dict(self):
        import copy
        import pickle

        d = TrackingDict(a=1)
        assert type(pickle.loads(pickle.dumps(d))) is dict
        assert copy.copy(d) == {"a": 1}

    def test_clear_forgets_counts(self, mod):
        m = mod("X = 0\ndef f():\n    return X\n")
        m.f()
        RECORDER.clear()
        assert globalhook.reads(m.f) == {}
        m.f()
        assert globalhook.reads(m.f) == {"X": 1}


class TestBuiltinShortcut:
    """A name-loading instruction gets the builtin straight from the hot path;
    everything else must still see exactly what a plain dict would do."""

    def test_explicit_subscript_of_a_builtin_name_still_raises(self, mod):
        m = mod("def f():\n    try:\n        return globals()['len']\n    except KeyError as e:\n        return ('KeyError', e.args)\n")
        assert m.f() == ("KeyError", ("len",))

    def test_module_level_and_exec_loads_get_builtins(self, mod):
        m = mod("A = len('abc')\nB = eval('max(1, 2)', globals())\n")
        assert (m.A, m.B) == (3, 2)

    def test_exec_with_module_dict_as_locals_prefers_other_globals(self, mod):
        # LOAD_NAME asks the locals (our dict) first; the answer must not be
        # the builtin when the separate globals have the name.
        m = mod("def run():\n    out = {}\n    exec('x = len', {'len': 'mine', 'out': out}, globals())\n    return x\n")
        assert m.run() == "mine"

    def test_shadowing_and_custom_builtins(self, mod):
        m = mod(
            """
            class B(dict):
                def __missing__(self, key):
                    return 'from-missing'
            def run():
                ns = {'__builtins__': B(len=len)}
                return eval(compile('len, other', 'x', 'eval'), ns)
            len = lambda s: 'shadowed'
            def g():
                return len('x')
            """
        )
        assert m.g() == "shadowed"
        assert m.run()[1] == "from-missing"

    def test_builtins_not_a_dict_lookup_in_class_body(self, mod):
        m = mod("class C:\n    n = len('ab')\n    def size(self):\n        return len('abc')\n")
        assert (m.C.n, m.C().size()) == (2, 3)
