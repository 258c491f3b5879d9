"""@globalhook.cache: exact invalidation, in a plain ``python script.py``.

Every scenario runs in a child process (a cache attaches modules and installs
the import hook for the rest of its process), and the ones where the reported
issue spans processes run twice or more against one store, with the project's
files edited in between.  Where it makes sense the same script also runs with
the decorator replaced by the identity: a cached program must print what an
uncached one prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict

import pytest

REPO = str(Path(__file__).resolve().parent.parent)
TIMEOUT = 180


def _env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    core = os.environ.get("GLOBALHOOK_CORE", "auto")
    env.update(PYTHONPATH=REPO, GLOBALHOOK_CORE=core, PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def write(root: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def run(root: Path, script: str = "main.py", *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-W", "always::UserWarning", script, *args], cwd=str(root), env=_env(**env),
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def lines(done: subprocess.CompletedProcess) -> list:
    return done.stdout.splitlines()


# A function whose result depends on a helper in another module; each
# computation is announced, so the output shows hits and misses.
STORE_PROJECT = {
    "helpers.py": """\
        def helper(x):
            return x + 1
    """,
    "settings.py": """\
        FACTOR = 2
        UNRELATED = "a"
    """,
    "main.py": """\
        import sys
        import globalhook
        import helpers
        import settings

        @globalhook.cache(store=sys.argv[1])
        def compute(x):
            print("computing", x)
            return helpers.helper(x) * settings.FACTOR

        print("result", compute(1))
        print("result", compute(1))
        print("explain", compute.cache_explain(1))
    """,
}


class TestAcrossProcesses:
    def test_changed_helper_invalidates(self, tmp_path):
        """joblib #1287: a changed helper served a stale result from the disk cache."""
        root = write(tmp_path / "p", STORE_PROJECT)
        store = str(tmp_path / "store")
        assert lines(run(root, "main.py", store))[:3] == ["computing 1", "result 4", "result 4"]
        assert lines(run(root, "main.py", store))[:2] == ["result 4", "result 4"]  # a hit from disk
        write(root, {"helpers.py": "def helper(x):\n    return x + 2\n"})
        assert lines(run(root, "main.py", store))[:3] == ["computing 1", "result 6", "result 6"]

    def test_changed_global_invalidates(self, tmp_path):
        """redun #99: a changed global did not invalidate the cached task."""
        root = write(tmp_path / "p", STORE_PROJECT)
        store = str(tmp_path / "store")
        run(root, "main.py", store)
        write(root, {"settings.py": "FACTOR = 3\nUNRELATED = 'a'\n"})
        assert lines(run(root, "main.py", store))[:2] == ["computing 1", "result 6"]

    def test_no_false_positives(self, tmp_path):
        """Comments, blank lines, moved lines and an unrelated name keep the result."""
        root = write(tmp_path / "p", STORE_PROJECT)
        store = str(tmp_path / "store")
        run(root, "main.py", store)
        write(root, {
            "helpers.py": "# a comment\n\n\nimport os\n\n\ndef helper(x):\n    # why: one more\n\n    return x + 1  # !\n",
            "settings.py": "\n\nUNRELATED = 'changed'\n# moved below\nFACTOR = 2\n",
        })
        main = (root / "main.py").read_text().replace("def compute(x):", "def compute(x):  # edited\n\n")
        (root / "main.py").write_text("\n\n# moved down\n" + main)
        out = lines(run(root, "main.py", store))
        assert out[:2] == ["result 4", "result 4"], out
        assert out[2].startswith("explain hit (in memory)")

    def test_explain_across_processes(self, tmp_path):
        root = write(tmp_path / "p", STORE_PROJECT)
        store = str(tmp_path / "store")
        explain = textwrap.dedent(STORE_PROJECT["main.py"]).split('print("result"')[0] + 'print(compute.cache_explain(1))\n'
        write(root, {"explain.py": explain})
        assert lines(run(root, "explain.py", store)) == ["miss: never computed"]
        run(root, "main.py", store)  # computes into the store (as __main__.compute, like explain.py's)
        assert lines(run(root, "explain.py", store))[0].startswith("hit (on disk)")
        write(root, {"settings.py": "FACTOR = 5\nUNRELATED = 'a'\n"})
        assert lines(run(root, "explain.py", store)) == ["miss: changed since it was computed: settings.FACTOR"]
        (root / "explain.py").write_text(explain.replace("* settings.FACTOR", "* settings.FACTOR + 0"))
        assert lines(run(root, "explain.py", store)) == ["miss: the code of __main__.compute changed since it was computed"]


SCENARIOS = {
    # py-cachify #240: a cached function reads a non-local that changes in the same process.
    "nonlocal": """\
        rate = 1
        @cache
        def price(x):
            return x * rate
        out(price(10))
        rate = 2
        out(price(10))
        out(price(10))
    """,
    # data by content: a list mutated in place
    "mutation": """\
        ITEMS = [1, 2]
        @cache
        def total():
            return sum(ITEMS)
        out(total())
        ITEMS.append(3)
        out(total())
        ITEMS[0] = 10
        out(total())
    """,
    # a builtin shadowed by a global later, and a missing name defined later
    "builtins_and_missing": """\
        @cache
        def size(x):
            try:
                extra = OPTIONAL
            except NameError:
                extra = 0
            return len(x) + extra
        out(size("abc"))
        OPTIONAL = 5
        out(size("abc"))
        len = lambda x: 100
        out(size("abc"))
        del len
        out(size("abc"))
    """,
    # a helper rebound to another function, a default changed, a closure's contents
    "code": """\
        def helper():
            return 1
        @cache
        def f():
            return helper()
        out(f())
        def helper():
            return 2
        out(f())
        def g(a=1):
            return a
        @cache
        def h():
            return g()
        out(h())
        g.__defaults__ = (7,)
        out(h())
    """,
    # a builtin rebound in the builtins module; a function's code and keyword defaults replaced
    "rebound": """\
        import builtins
        @cache
        def f(x):
            return abs(x)
        out(f(-3))
        original = abs
        builtins.abs = lambda x: "patched"
        out(f(-3))
        builtins.abs = original
        out(f(-3))
        def helper(x):
            return x + 1
        def other(x):
            return x + 2
        @cache
        def g(x):
            return helper(x)
        out(g(1))
        helper.__code__ = other.__code__
        out(g(1))
        def kw(*, k=1):
            return k
        @cache
        def h():
            return kw()
        out(h())
        kw.__kwdefaults__ = {"k": 5}
        out(h())
        kw.__kwdefaults__["k"] = 6
        out(h())
    """,
    # a dict read, changed by value; an unrelated global changed (no recompute needed, same result)
    "dict": """\
        CONFIG = {"a": 1}
        OTHER = 1
        @cache
        def read():
            return CONFIG["a"]
        out(read())
        OTHER = 2
        out(read())
        CONFIG["a"] = 3
        out(read())
    """,
    # a class attribute and an instance attribute
    "classes": """\
        class Config:
            RATE = 2
        class Model:
            def __init__(self):
                self.w = 3
            def predict(self, x):
                return x * self.w
        MODEL = Model()
        @cache
        def f(x):
            return Config.RATE * MODEL.predict(x)
        out(f(1))
        Config.RATE = 5
        out(f(1))
        MODEL.w = 4
        out(f(1))
        Model.predict = lambda self, x: -x
        out(f(1))
    """,
    # arguments equal by value, of many types
    "arguments": """\
        @cache
        def f(*args, **kwargs):
            return repr((args, sorted(kwargs.items())))
        out(f(1), f(1.0), f(True), f(-0.0), f(0.0), f([1]), f((1,)), f(b="x"), f(1, b=2))
        data = [1, 2]
        out(f(data))
        data.append(3)
        out(f(data))
    """,
}

PRELUDE = """\
import sys
import globalhook
calls = []
def out(*values):
    print(*values)
cache = globalhook.cache if sys.argv[1] == "cached" else (lambda f: f)
"""


class TestLikeUncached:
    """Each scenario prints the same under the cache as without it."""

    @pytest.mark.parametrize("name", sorted(SCENARIOS))
    def test_scenario(self, tmp_path, name):
        root = write(tmp_path, {"main.py": PRELUDE + textwrap.dedent(SCENARIOS[name])})
        plain = run(root, "main.py", "plain")
        cached = run(root, "main.py", "cached")
        assert cached.stdout == plain.stdout
        assert "Traceback" not in cached.stderr

    def test_hits_do_not_recompute(self, tmp_path):
        root = write(tmp_path, {"main.py": """\
            import globalhook
            computed = []
            RATE = 2
            UNRELATED = 0
            @globalhook.cache
            def f(x):
                computed.append(x)
                return x * RATE
            for _ in range(3):
                f(1)
                UNRELATED += 1
            RATE = 3
            f(1); f(1)
            print(computed)
        """})
        assert lines(run(root)) == ["[1, 1]"]


    def test_maxsize_forgets_the_least_recently_used(self, tmp_path):
        """An in-memory cache grows without limit unless asked; with maxsize it keeps the most recent."""
        root = write(tmp_path, {"main.py": """\
            import globalhook
            @globalhook.cache(maxsize=2)
            def f(x):
                print("computing", x)
                return x
            f(1); f(2); f(1)   # 1 is now the most recent
            f(3)               # forgets 2, the least recently used
            f(1); f(3); f(2)   # hits, hits, computes 2 again, forgets 1
            print(f.cache_explain(1))
            @globalhook.cache(maxsize=0)
            def g(x):
                print("g", x)
                return x
            g(1); g(1)
            @globalhook.cache
            def unbounded(x):
                return x
            for i in range(300):
                unbounded(i)
            print(all(unbounded.cache_explain(i).hit for i in range(300)))
            for bad in (-1, 1.5, True, "2"):
                try:
                    globalhook.cache(maxsize=bad)
                except TypeError as exc:
                    print(exc)
        """})
        assert lines(run(root)) == [
            "computing 1", "computing 2", "computing 3", "computing 2",
            "miss: never computed",
            "g 1", "g 1",
            "True",
            "globalhook.cache: maxsize must be None or an int >= 0, not -1",
            "globalhook.cache: maxsize must be None or an int >= 0, not 1.5",
            "globalhook.cache: maxsize must be None or an int >= 0, not True",
            "globalhook.cache: maxsize must be None or an int >= 0, not '2'",
        ]


class TestReadSets:
    def test_three_modules_deep(self, tmp_path):
        root = write(tmp_path, {
            "a.py": "import b\ndef top(x):\n    return b.middle(x)\n",
            "b.py": "import c\ndef middle(x):\n    return c.bottom(x) + 1\n",
            "c.py": "DEPTH = 10\ndef bottom(x):\n    return x * DEPTH\n",
            "main.py": """\
                import globalhook, a, c
                @globalhook.cache
                def f(x):
                    return a.top(x)
                print(f(1))
                c.DEPTH = 20
                print(f.cache_explain(1))
                print(f(1))
                print(sorted(globalhook.dependencies(f, 1).reads))
            """,
        })
        out = lines(run(root))
        assert out[0] == "11"
        assert out[1] == "miss: changed since it was computed: c.DEPTH"
        assert out[2] == "21"
        assert "c.DEPTH" in out[3] and "b.c" in out[3] and "a.b" in out[3]

    def test_a_name_on_a_branch_not_taken_is_no_dependency(self, tmp_path):
        root = write(tmp_path, {"main.py": """\
            import globalhook
            USED, UNUSED = 1, 1
            @globalhook.cache
            def f(flag):
                return USED if flag else UNUSED
            f(True)
            UNUSED = 2
            print(f.cache_explain(True))
            print(globalhook.dependencies(f, True).reads)
        """})
        out = lines(run(root))
        assert out[0].startswith("hit"), out
        assert "__main__.UNUSED" not in out[1] and "__main__.USED" in out[1]

    def test_nested_cached_function_hit_carries_its_reads(self, tmp_path):
        """An outer computation that hits an inner cache still depends on what the inner one read."""
        root = write(tmp_path, {"main.py": """\
            import globalhook
            K = 1
            @globalhook.cache
            def inner():
                return K
            @globalhook.cache
            def outer():
                return inner() + 100
            inner()            # computed: outer's call below is a hit of inner
            print(outer())
            K = 2
            print(outer.cache_explain())
            print(outer())
        """})
        assert lines(run(root)) == ["101", "miss: changed since it was computed: __main__.K", "102"]


class TestValuesThatCannotBeFingerprinted:
    def test_unhashable_global_warns_once_and_counts_by_type(self, tmp_path):
        root = write(tmp_path, {"main.py": """\
            import threading, globalhook
            LOCK = threading.Lock()
            computed = []
            @globalhook.cache
            def f(x):
                with LOCK:
                    computed.append(x)
                    return x * 2
            print(f(1), f(1), f(2), len(computed))
        """})
        done = run(root)
        assert lines(done) == ["2 2 4 2"]
        assert done.stderr.count("__main__.LOCK") == 1, done.stderr
        assert "cannot be fingerprinted" in done.stderr

    def test_unhashable_argument_runs_uncached(self, tmp_path):
        root = write(tmp_path, {"main.py": """\
            import globalhook
            @globalhook.cache
            def first(items):
                return next(items)
            print(first(x for x in [1, 2]), first(x for x in [3, 4]))
            print(first.cache_explain(x for x in []))
        """})
        done = run(root)
        assert lines(done) == ["1 3", "runs uncached: an argument cannot be fingerprinted"]
        assert "generator" in done.stderr and done.stderr.count("cannot be fingerprinted") == 1

    def test_unpicklable_result_is_kept_in_memory(self, tmp_path):
        root = write(tmp_path, {"main.py": """\
            import sys, threading, globalhook
            computed = []
            @globalhook.cache(store=sys.argv[1])
            def make():
                computed.append(1)
                return threading.Lock()
            a = make(); b = make()
            print(a is b, len(computed))
        """})
        done = run(root, "main.py", str(tmp_path / "store"))
        assert lines(done) == ["True 1"]
        assert "cached in memory only" in done.stderr


class TestStore:
    def test_clear(self, tmp_path):
        root = write(tmp_path / "p", STORE_PROJECT)
        store = tmp_path / "store"
        run(root, "main.py", str(store))
        write(root, {"clear.py": textwrap.dedent(STORE_PROJECT["main.py"]).split('print("result"')[0] + "compute.cache_clear()\nprint(compute.cache_explain(1))\n"})
        assert lines(run(root, "clear.py", str(store))) == ["miss: never computed"]
        assert lines(run(root, "main.py", str(store)))[0] == "computing 1"

    @pytest.mark.parametrize("damage", ["truncate", "foreign_tag", "garbage", "other_format_folder"])
    def test_damaged_or_foreign_entries_are_misses(self, tmp_path, damage):
        root = write(tmp_path / "p", STORE_PROJECT)
        store = tmp_path / "store"
        run(root, "main.py", str(store))
        (entry,) = list(store.rglob("*.ghc"))
        data = entry.read_bytes()
        if damage == "truncate":
            entry.write_bytes(data[:-3])
        elif damage == "foreign_tag":
            entry.write_bytes(data.replace(b'"tag":"v1-', b'"tag":"v9-'))
        elif damage == "garbage":
            entry.write_bytes(b"\x00" * 50)
        else:
            tag_folder = entry.relative_to(store).parts[0]
            os.rename(store / tag_folder, store / tag_folder.replace("v1-", "v9-"))
        done = run(root, "main.py", str(store))
        assert lines(done)[:2] == ["computing 1", "result 4"]
        assert "Traceback" not in done.stderr

    WORK = {"work.py": """\
        import sys, globalhook
        BASE = 3
        @globalhook.cache(store=sys.argv[1])
        def work(x):
            print("computing", x)
            return [i * BASE for i in range(x)]
    """, "check.py": """\
        import work
        assert all(work.work(x) == [i * 3 for i in range(x)] for x in range(20))
    """}

    def test_two_processes_fill_one_store(self, tmp_path):
        root = write(tmp_path, {**self.WORK, "fill.py": """\
            import work
            for x in range(60):
                assert work.work(x % 20) == [i * 3 for i in range(x % 20)]
        """})
        store = str(tmp_path / "store")
        procs = [subprocess.Popen([sys.executable, "fill.py", store], cwd=str(root), env=_env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        computed = 0
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, err
            assert out.count("computing") <= 20  # none twice in one process; the other may have stored it first
            computed += out.count("computing")
        assert computed >= 20
        assert lines(run(root, "check.py", store)) == []  # every entry is there and loads
        assert not list(Path(store).rglob("*.tmp"))

    def test_two_threads_fill_one_store(self, tmp_path):
        root = write(tmp_path, {**self.WORK, "threads.py": """\
            import threading, work
            errors = []
            def fill():
                try:
                    for x in range(60):
                        assert work.work(x % 20) == [i * 3 for i in range(x % 20)]
                except BaseException as exc:
                    errors.append(exc)
            work.work(0)  # tracking is set up before threads run (the pure core on 3.14t attaches only then)
            threads = [threading.Thread(target=fill) for _ in range(2)]
            for t in threads: t.start()
            for t in threads: t.join()
            print(errors)
        """})
        store = str(tmp_path / "store")
        out = lines(run(root, "threads.py", store))
        assert out[-1] == "[]" and len(out) <= 42
        assert lines(run(root, "check.py", store)) == []
        assert not list(Path(store).rglob("*.tmp"))


class TestRefusals:
    def test_generators_and_coroutines_are_refused(self, tmp_path):
        root = write(tmp_path, {"main.py": """\
            import globalhook
            for source in ("def f():\\n    yield 1", "async def f():\\n    return 1", "async def f():\\n    yield 1"):
                namespace = {"__name__": "gen"}
                exec(source, namespace)
                try:
                    globalhook.cache(namespace["f"])
                except TypeError as exc:
                    print(str(exc).split(": ", 1)[1][:30])
            try:
                globalhook.cache(store="x")(5)
            except TypeError as exc:
                print(exc)
        """})
        assert lines(run(root)) == ["gen.f returns a generator or c"] * 3 + [
            "globalhook.cache: expected a function, got int"]


def test_benchmark_prints_figures_for_5_and_20_names(tmp_path):
    done = subprocess.run([sys.executable, str(Path(REPO) / "benchmarks" / "cache.py"), "--quick"], env=_env(),
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[2:]]
    assert [row[0] for row in rows] == ["5", "5", "20", "20"]
    assert all(float(row[-2]) > 0 and float(row[-1]) > 0 for row in rows)


class TestDependencies:
    def test_state_across_processes(self, tmp_path):
        root = write(tmp_path, {
            "settings.py": "FACTOR = 2\n",
            "work.py": "import settings\ndef work(x):\n    return x * settings.FACTOR\n",
            "save.py": """\
                import json, sys, globalhook, work
                deps = globalhook.dependencies(work.work, 3)
                print(deps.result, deps.reads)
                json.dump({"state": deps.state(), "fp": deps.fingerprint()}, open(sys.argv[1], "w"))
            """,
            "check.py": """\
                import json, sys, globalhook, work
                saved = json.load(open(sys.argv[1]))
                print(globalhook.changed_reads(saved["state"]))
                print(globalhook.fingerprint_reads(saved["state"]) == saved["fp"])
            """,
        })
        state = str(tmp_path / "state.json")
        assert lines(run(root, "save.py", state)) == ["6 ['settings.FACTOR', 'work.settings', 'work.work']"]
        assert lines(run(root, "check.py", state)) == ["[]", "True"]
        write(root, {"settings.py": "FACTOR = 4\n"})
        assert lines(run(root, "check.py", state)) == ["['settings.FACTOR']", "False"]
        write(root, {"settings.py": "FACTOR = 2\n", "work.py": "import settings\ndef work(x):\n    return x + settings.FACTOR\n"})
        assert lines(run(root, "check.py", state)) == ["['work.work']", "False"]

    def test_exports_are_lazy(self):
        done = subprocess.run([sys.executable, "-c", "import sys, globalhook; print('globalhook.cache' in sys.modules,"
                               " callable(globalhook.cache), 'globalhook.cache' in sys.modules)"],
                              env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
        assert done.stdout.split() == ["False", "True", "True"], done.stderr
