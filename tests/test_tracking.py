"""The tracking dict and the recorder: what is counted, how, and for whom."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
import weakref
from pathlib import Path

import pytest

import globalhook
from globalhook import tracking
from globalhook.tracking import RECORDER, TrackingDict

from conftest import entries, read_data


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

    def test_explicit_subscript_of_a_builtin_name_is_missing(self, mod, unique):
        # The program gets KeyError: the name was not found in that mapping.
        m = mod(
            """
            import operator
            def f():
                try:
                    globals()['len']
                except KeyError:
                    pass
                try:
                    operator.getitem(globals(), 'print')
                except KeyError:
                    pass
                return len('ab')
            """
        )
        assert m.f() == 2
        got = {(e["name"], e["kind"]): e["count"] for e in entries(unique, function="f")}
        assert got[("len", "missing")] == 1
        assert got[("len", "builtin")] == 1  # the name load that followed
        assert got[("print", "missing")] == 1
        assert ("print", "builtin") not in got

    def test_name_loads_that_reach_the_builtins_are_builtin(self, mod, unique):
        m = mod("A = len('abc')\nB = eval('max(1, 2)', globals())\ndef f():\n    return abs(-1)\n")
        assert (m.A, m.B, m.f()) == (3, 2, 1)
        kinds = {(e["function"], e["name"]): e["kind"] for e in entries(unique) if e["kind"] != "store"}
        assert kinds[("<module>", "len")] == "builtin"
        assert kinds[("<module>", "max")] == "builtin"  # eval's own code object
        assert kinds[("f", "abs")] == "builtin"

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


class TestKeys:
    """Only names reach the data: a key is kept verbatim only when a name
    lookup could have produced it, and a key's own code is never run."""

    SOURCE = """
        CALLS = []
        class Key:
            def __init__(self, secret):
                self.secret = secret
            def __hash__(self):
                return hash(self.secret)
            def __eq__(self, other):
                CALLS.append('eq')
                return isinstance(other, Key) and other.secret == self.secret
            def __repr__(self):
                CALLS.append('repr')
                raise RuntimeError('repr')
            __str__ = __format__ = __repr__
        class Name(str):
            def __repr__(self):
                CALLS.append('repr')
                raise RuntimeError('repr')
            __str__ = __format__ = __repr__
        def probe(token):
            g = globals()
            for key in (Key(token), Key(token + '2'), 'tok-' + token, 'other key', Name('tok-' + token)):
                try:
                    g[key]
                except KeyError:
                    pass
            g[Name('plain_name')] = 1
            g[Key(token)] = 2
            del g[Key(token)]
            g[7] = 3
            return g[Name('plain_name')] + g[7]
        """

    def test_keys_become_placeholders(self, mod, unique):
        m = mod(self.SOURCE)
        assert m.probe("s3cr3t-value") == 4
        plain = {}
        exec(textwrap.dedent(self.SOURCE), plain)
        assert plain["probe"]("s3cr3t-value") == 4
        assert "repr" not in m.CALLS  # no repr(), str() or format() of a key
        assert m.CALLS == plain["CALLS"]  # and == only where the dict itself compares
        got = {(e["name"], e["kind"]): e["count"] for e in entries(unique, function="probe")}
        assert got[("<key of type Key>", "missing")] == 2  # two different keys, one placeholder
        assert got[("<non-identifier str key>", "missing")] == 3
        assert got[("plain_name", "store")] == 1
        assert got[("plain_name", "global")] == 1
        assert got[("<key of type Key>", "store")] == 1
        assert got[("<key of type Key>", "delete")] == 1
        assert got[("<key of type int>", "store")] == 1
        assert got[("<key of type int>", "global")] == 1
        dumped = json.dumps(globalhook.lookups())
        assert "s3cr3t" not in dumped and "other key" not in dumped
        assert all(type(e["name"]) is str for e in globalhook.lookups())

    def test_placeholders_also_in_reads(self, mod):
        m = mod(self.SOURCE)
        m.probe("x")
        read = globalhook.reads(m.probe)
        assert read["<key of type Key>"] == 2
        assert read["plain_name"] == 1
        assert not any("tok" in name for name in read)

    def test_save_succeeds_whatever_the_keys(self, tmp_path):
        # A key whose repr() raises once made the save at exit fail: no data file.
        program = tmp_path / "prog.py"
        program.write_text(textwrap.dedent(self.SOURCE) + "print(probe('s3cr3t'))\n")
        data_file = tmp_path / "data.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_") or k == "GLOBALHOOK_CORE"}
        env["PYTHONPATH"] = str(Path(globalhook.__file__).resolve().parent.parent)
        result = subprocess.run(
            [sys.executable, "-m", "globalhook", "run", "--data-file", str(data_file), str(program)],
            cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=60,
        )
        assert (result.returncode, result.stdout, result.stderr) == (0, "4\n", "")
        text = data_file.read_text()
        assert "s3cr3t" not in text
        data = read_data(data_file)
        names = {(e["name"], e["kind"]): e["count"] for e in data["lookups"] if e["function"] == "probe"}
        assert names[("<key of type Key>", "missing")] == 2


class TestCodeObjectsAreFreed:
    """Code objects that made lookups die as they would untracked; their counts stay."""

    SOURCE = "x = 1\ndef run(n):\n    for i in range(n):\n        eval(f'x + {i}', globals())\n"

    @staticmethod
    def table_sizes() -> int:
        # Free-threaded builds free code objects in the collector; their records
        # then wait to be folded until the next new code object or read.
        gc.collect()
        tracking.RECORDER.rows()
        return sum(len(v) for v in vars(tracking).values() if isinstance(v, (dict, list)))

    def test_eval_code_is_freed(self, mod):
        m = mod("x = 1\ndef run(code):\n    return eval(code, globals())\n")
        code = compile("x + 1", "<string>", "eval")
        alive = weakref.ref(code)
        assert m.run(code) == 2
        del code
        gc.collect()
        assert alive() is None

    def test_memory_bounded_and_counts_exact(self, mod, unique):
        m = mod(self.SOURCE)
        m.run(1000)
        before = self.table_sizes()
        m.run(5000)
        assert self.table_sizes() - before < 50
        (entry,) = entries(unique, function="<module>", file="<string>")
        assert (entry["name"], entry["kind"], entry["count"]) == ("x", "global", 6000)

    def test_counts_of_alive_and_dead_code_add_up(self, mod, unique):
        # Two code objects with one identity (same file, line, function): one alive, one gone.
        m = mod("G = 1\ndef make():\n    ns = {}\n    exec(compile('def f():\\n    return G\\n', 'gen.py', 'exec'), globals(), ns)\n    return ns['f']\n")
        first, second = m.make(), m.make()
        assert first.__code__ is not second.__code__
        first(), first(), second()
        del first
        gc.collect()
        second()
        (entry,) = entries(unique, function="f")
        assert (entry["file"], entry["line"], entry["name"], entry["count"]) == ("gen.py", 1, "G", 4)
        assert globalhook.reads(second) == {"G": 2}

    def test_functions_of_a_dropped_module_keep_their_names(self, src, install, unique):
        src({f"{unique}.py": "G = 1\nclass C:\n    def method(self):\n        def inner():\n            return G\n        return inner()\n"})
        install(include=[unique])
        module = __import__(unique)
        module.C().method()
        alive = weakref.ref(module.C.method.__code__)
        del sys.modules[unique], module
        gc.collect()
        assert alive() is None
        got = {(e["function"], e["name"], e["kind"]): e["count"] for e in entries(unique)}
        assert got[("C.method.<locals>.inner", "G", "global")] == 1

    def test_exact_while_code_dies_in_other_threads(self, mod, unique):
        m = mod(self.SOURCE)
        threads = [threading.Thread(target=m.run, args=(5000,)) for _ in range(3)]
        old = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)
        try:
            for t in threads:
                t.start()
            seen = []
            while any(t.is_alive() for t in threads):
                seen.append(sum(e["count"] for e in entries(unique, file="<string>")))
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(old)
        assert all(n <= 15000 for n in seen)
        (entry,) = entries(unique, file="<string>")
        assert entry["count"] == 15000

    def test_clear_forgets_dead_code_too(self, mod, unique):
        m = mod(self.SOURCE)
        m.run(10)
        RECORDER.clear()
        assert entries(unique, file="<string>") == []
        m.run(3)
        (entry,) = entries(unique, file="<string>")
        assert entry["count"] == 3

    def test_a_new_code_object_never_inherits_a_dead_ones_counts(self, mod):
        # Freed memory is reused at once: a new code object often gets the id of one just gone.
        m = mod("A = B = 1\ndef make(src):\n    ns = {}\n    exec(src, globals(), ns)\n    return ns['f']\n")
        for i in range(200):
            name = "AB"[i % 2]
            f = m.make(f"def f():\n    return {name}\n")
            f()
            assert globalhook.reads(f) == {name: 1}
            del f


class TestUnobservable:
    """The CPython facts the docs list (docs/explanation/limits.md); a failure here means the list needs updating."""

    def test_global_statement_store_is_counted_or_found_statically(self, mod, unique):
        # STORE_GLOBAL bypasses __setitem__: a dict watcher counts it (compiled core, 3.12+),
        # elsewhere a bytecode scan lists it, with no count (tests/test_global_writes.py).
        from globalhook import globalwrites

        m = mod("X = 0\ndef set_it():\n    global X\n    X = 1\n")
        m.set_it()
        assert m.X == 1
        (entry,) = entries(unique, function="set_it")
        assert (entry["name"], entry["kind"]) == ("X", "store")
        if globalwrites.OBSERVED:
            assert entry["count"] == 1 and "static" not in entry
        else:
            assert entry["count"] == 0 and entry["static"] is True

    def test_class_body_fallback_is_seen_through_the_namespace(self, mod, unique):
        # Not through the dict (LOAD_NAME reads the globals directly): globalhook.classbodies
        # retypes the class namespace instead (tests/test_classbodies.py).
        from globalhook.classbodies import unobservable_reason

        m = mod("X = 0\nclass C:\n    y = X\n")
        assert m.C.y == 0
        found = [(e["name"], e["kind"], e["count"]) for e in entries(unique, function="C")]
        assert found == ([] if unobservable_reason() else [("X", "global", 1)])


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

    @pytest.mark.skipif(tracking._OPCODES is None, reason="load sites come from dis on this Python")
    def test_load_sites_read_from_bytecode_match_dis(self):
        names = "".join(f"v{i} = {i}\n" for i in range(300))
        source = names + "def f():\n    return " + " + ".join(f"v{i}" for i in range(300)) + " + len([])\n"
        source += "class C:\n    a: int = v3\n    b = [len(x) for x in v4]\nz = eval('v1')\n"
        stack = [compile(source, "sites", "exec")]
        extended = 0
        while stack:
            code = stack.pop()
            stack.extend(const for const in code.co_consts if isinstance(const, type(code)))
            sites = tracking._scan_sites(code)
            assert sorted(sites) == sorted(tracking._dis_sites(code)), code.co_name
            extended += sum(code.co_code[offset] == tracking._OPCODES[1] for offset in sites)
        assert extended > 0  # EXTENDED_ARG prefixes were part of it

    def test_finding_load_sites_imports_nothing(self, tmp_path):
        # dis (and opcode) would otherwise be loaded for the program at its first builtin.
        (tmp_path / "ghsites_mod.py").write_text("def f():\n    return len('ab')\n")
        script = (
            "import sys, globalhook\n"
            "hook = globalhook.install(include=['ghsites_mod'])\n"
            "import ghsites_mod\n"
            "assert ghsites_mod.f() == 2 and globalhook.reads(ghsites_mod.f) == {'len': 1}\n"
            "print(sorted({'dis', 'opcode'} & set(sys.modules)))\n"
        )
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(Path(globalhook.__file__).resolve().parent.parent)]))
        result = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=60)
        assert result.stderr == ""
        expected = "[]" if tracking._OPCODES is not None else result.stdout.strip()
        assert result.stdout.strip() == expected

    def test_builtins_not_a_dict_lookup_in_class_body(self, mod):
        m = mod("class C:\n    n = len('ab')\n    def size(self):\n        return len('abc')\n")
        assert (m.C.n, m.C().size()) == (2, 3)
