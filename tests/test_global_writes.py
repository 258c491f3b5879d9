"""`global` writes: counted as they happen where a dict watcher can see them (the
compiled core on CPython 3.12+), found by scanning bytecode everywhere else.

The probe program runs plain and under ``globalhook run`` with each core; its
output must not change, and the data must hold exactly the writes it made
(observed) or could make (static, count 0, never summed with counts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import globalhook
from conftest import c_core_built, core_env, read_data
from globalhook import data as gdata
from globalhook import globalwrites, limits, tracking
from globalhook.diff import diff, json_diff, text_diff
from globalhook.report import json_report, text_report

REPO = str(Path(__file__).resolve().parent.parent)

COUNTER_MOD = '''\
import threading

counter = 0          # STORE_GLOBAL at module level: bump() declares it global
total = 0
gone = 1
hits = 0
plain = 2            # STORE_NAME: seen by __setitem__, counted once

def bump():
    global counter
    counter += 1

def remove():
    global gone
    del gone

def outer():
    def inner():
        global total
        total = total + 10
    inner()
    inner()

def gen():
    global total
    for i in range(2):
        total += i + 1
        yield i

def set_via_globals():
    globals()["via_globals"] = 1   # STORE_SUBSCR through __setitem__: counted once

_lock = threading.Lock()

def threaded(n):
    global hits
    for _ in range(n):
        with _lock:
            hits += 1

def churn(n):
    global last
    for _ in range(n):
        last = object()   # a new object every time: no lock, threads race on the same name

class Holder:
    global flag
    flag = True       # STORE_GLOBAL in a class body
'''

UNTRACKED_MOD = '''\
def poke():
    global poked
    poked = 1
    return poked
'''

MAIN = '''\
import threading
import counter_mod
import untracked_mod

def setup():
    global mode
    mode = "ready"

setup()
for _ in range(3):
    counter_mod.bump()
counter_mod.remove()
counter_mod.outer()
print(list(counter_mod.gen()))
counter_mod.set_via_globals()
threads = [threading.Thread(target=counter_mod.threaded, args=(250,)) for _ in range(4)]
threads += [threading.Thread(target=counter_mod.churn, args=(2000,)) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(counter_mod.counter, counter_mod.total, counter_mod.hits, hasattr(counter_mod, "gone"),
      counter_mod.via_globals, counter_mod.flag, mode, untracked_mod.poke())
'''

#: (module, function, name, kind) -> count each write site makes in the probe.
EXPECTED = {
    ("counter_mod", "<module>", "counter", "store"): 1,
    ("counter_mod", "<module>", "total", "store"): 1,
    ("counter_mod", "<module>", "gone", "store"): 1,
    ("counter_mod", "<module>", "hits", "store"): 1,
    ("counter_mod", "bump", "counter", "store"): 3,
    ("counter_mod", "remove", "gone", "delete"): 1,
    ("counter_mod", "outer.<locals>.inner", "total", "store"): 2,
    ("counter_mod", "gen", "total", "store"): 2,
    ("counter_mod", "threaded", "hits", "store"): 1000,
    ("counter_mod", "churn", "last", "store"): 8000,
    ("counter_mod", "Holder", "flag", "store"): 1,
    ("__main__", "setup", "mode", "store"): 1,
}




def observes_writes(core: str) -> bool:
    return core == "c" and sys.version_info >= (3, 12)


@pytest.fixture(params=["python", "c"])
def core(request) -> str:
    if request.param == "c" and not c_core_built():
        pytest.skip("the compiled core is not built here")
    return request.param


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    (tmp_path / "counter_mod.py").write_text(COUNTER_MOD)
    (tmp_path / "untracked_mod.py").write_text(UNTRACKED_MOD)
    (tmp_path / "main.py").write_text(MAIN)
    return tmp_path


def run_tracked(folder: Path, core: str, *extra: str) -> tuple:
    data_file = folder / f"{core}.json"
    completed = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--include", "counter_mod", "--exclude", "untracked_mod",
         "--data-file", str(data_file), *extra, "main.py"],
        cwd=str(folder), env=core_env(core), capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout, read_data(data_file)


def writes_of(data: dict) -> dict:
    """(module, function, name, kind) -> entry, for the stores/deletes of the probe's write sites."""
    found = {}
    for entry in data["lookups"]:
        key = (entry["module"], entry["function"], entry["name"], entry["kind"])
        if key in EXPECTED:
            assert key not in found, f"two entries for {key}"
            found[key] = entry
    return found


class TestProbe:
    def test_output_unchanged_and_writes_recorded(self, probe, core):
        plain = subprocess.run([sys.executable, "main.py"], cwd=str(probe), capture_output=True, text=True)
        assert plain.returncode == 0, plain.stderr
        out, data = run_tracked(probe, core)
        assert out == plain.stdout
        found = writes_of(data)
        assert set(found) == set(EXPECTED)
        for key, entry in found.items():
            if observes_writes(core):
                assert entry["count"] == EXPECTED[key], key
                assert "static" not in entry
            else:
                assert entry["count"] == 0 and entry["static"] is True, key
        # Module-level STORE_NAME and globals()[...] = ... go through __setitem__: counted once, never static.
        stores = {(e["function"], e["name"]): e for e in data["lookups"] if e["module"] == "counter_mod" and e["kind"] == "store"}
        assert stores[("<module>", "plain")]["count"] == 1 and "static" not in stores[("<module>", "plain")]
        assert stores[("set_via_globals", "via_globals")]["count"] == 1
        assert not any(e.get("static") for e in data["lookups"] if (e["function"], e["name"]) in
                       {("<module>", "plain"), ("set_via_globals", "via_globals")})
        # Nothing from the untracked module, observed or static.
        assert not [e for e in data["lookups"] if e["module"] == "untracked_mod" or e["name"] == "poked"]
        # Every entry for a write site is either observed or static, never both.
        statics = [e for e in data["lookups"] if e.get("static")]
        assert bool(statics) != observes_writes(core)
        notes = data["runs"][0]["unobservable"]
        assert any("observed statically" in note for note in notes) != observes_writes(core)
        assert not any(note.startswith("`global x`") for note in notes)

    def test_the_two_cores_agree_on_where_writes_happen(self, probe):
        if not c_core_built():
            pytest.skip("the compiled core is not built here")
        _, python_data = run_tracked(probe, "python")
        _, c_data = run_tracked(probe, "c")
        assert set(writes_of(python_data)) == set(writes_of(c_data)) == set(EXPECTED)
        # Reads are the same whatever happens to writes.
        reads = lambda d: [e for e in d["lookups"] if e["kind"] in ("global", "builtin", "missing")]  # noqa: E731
        assert reads(python_data) == reads(c_data)

    def test_report_shows_static_entries_apart(self, probe, core):
        _, data = run_tracked(probe, core)
        text = text_report(data, show_stores=True)
        short = text_report(data)
        report = json.loads(json_report(data))
        if observes_writes(core):
            assert "(static)" not in text and "static write sites" not in text
            assert "static" not in report["totals"]
            bump = [f for m in report["modules"] for f in m["functions"] if f["function"] == "bump"][0]
            assert {"count": 3, "kind": "store", "name": "counter"} in bump["names"]
        else:
            assert "store (static)" in text and "delete (static)" in text
            assert "stored (static): " in short and "deleted (static): gone" in short
            assert "static write sites" in text
            rows = [row for m in report["modules"] for f in m["functions"] for row in f["names"] if row.get("static")]
            assert rows and all(row["count"] == 0 and row["kind"] in ("store", "delete") for row in rows)
            # Never summed into the counts.
            totals = report["totals"]
            assert totals["static_writes"] == len(rows)
            assert totals["lookups"] == sum(totals["by_kind"].values())


class TestScan:
    def test_finds_every_write_with_its_function(self):
        code = compile(textwrap.dedent(COUNTER_MOD), "counter_mod.py", "exec")
        found = {(function, name, kind) for _, _, function, name, kind in globalwrites.scan(code)}
        expected = {(f, n, k) for (m, f, n, k) in EXPECTED if m == "counter_mod"}
        assert found == expected

    def test_extended_arg(self):
        # More than 256 names: the write's argument needs EXTENDED_ARG.
        names = "\n".join(f"    n{i} = {i}" for i in range(300))
        source = f"def f():\n    global last\n{names}\n    last = 1\n    del last\n"
        code = compile(source, "many.py", "exec")
        found = {(function, name, kind) for _, _, function, name, kind in globalwrites.scan(code)}
        assert found == {("f", "last", "store"), ("f", "last", "delete")}
        source = "def f():\n    global " + ", ".join(f"g{i}" for i in range(300)) + "\n" + \
            "\n".join(f"    g{i} = {i}" for i in range(300)) + "\n"
        found = {name for _, _, _, name, _ in globalwrites.scan(compile(source, "wide.py", "exec"))}
        assert found == {f"g{i}" for i in range(300)}

    def test_matches_dis(self):
        import dis

        code = compile(textwrap.dedent(COUNTER_MOD), "counter_mod.py", "exec")
        for each, _ in tracking._code_tree(code):
            by_dis = {
                (i.argval, "store" if i.opname == "STORE_GLOBAL" else "delete")
                for i in dis.get_instructions(each) if i.opname in ("STORE_GLOBAL", "DELETE_GLOBAL")
            }
            assert set(globalwrites._writes(each)) == by_dis


class TestData:
    ENTRY = {"module": "m", "function": "f", "file": "m.py", "line": 1, "name": "x", "kind": "store"}

    def test_static_never_merges_with_observed(self):
        observed = dict(self.ENTRY, count=3)
        static = dict(self.ENTRY, count=0, static=True)
        merged = gdata.merge([
            gdata.make_data([observed], {"python": "3.13.0"}),
            gdata.make_data([static], {"python": "3.11.7"}),
            gdata.make_data([static], {"python": "3.9.18"}),
        ])
        assert sorted(merged["lookups"], key=lambda e: bool(e.get("static"))) == [observed, static]
        assert gdata.lookup_key(observed) != gdata.lookup_key(static)

    def test_files_load_and_validate(self, tmp_path):
        path = tmp_path / "d.json"
        gdata.save(gdata.make_data([dict(self.ENTRY, count=0, static=True)], {}), str(path))
        assert gdata.load(str(path))["lookups"][0]["static"] is True
        for bad in ({"static": "yes", "count": 0}, {"count": 0}):
            path.write_text(json.dumps({"format": "globalhook-data", "version": 1, "runs": [], "not_tracked": [],
                                        "lookups": [dict(self.ENTRY, **bad)]}))
            with pytest.raises(gdata.DataError):
                gdata.load(str(path))

    def test_diff_shows_static_apart(self, tmp_path):
        old = gdata.make_data([dict(self.ENTRY, count=3)], {})
        new = gdata.make_data([dict(self.ENTRY, count=0, static=True)], {})
        result = diff(old, new)
        text = text_diff(result, "old", "new")
        assert "- x  store" in text and "+ x  store (static)" in text
        changed = json.loads(json_diff(result, "old", "new"))["functions"][0]
        assert changed["added"] == [{"name": "x", "kind": "store", "static": True}]
        assert changed["removed"] == [{"name": "x", "kind": "store"}]


def test_limits_per_core():
    observed = limits.unobservable((3, 12, 1), "c")
    assert not any("observed statically" in note for note in observed)
    assert any("already holds" in note for note in observed)
    for version, core in (((3, 11, 7), "c"), ((3, 13, 0), "python"), ((3, 9, 18), "python")):
        notes = limits.unobservable(version, core)
        assert any("observed statically (bytecode scan)" in note for note in notes)
    assert limits.unobservable() == limits.unobservable(tuple(sys.version_info[:3]), tracking.CORE)


@pytest.mark.skipif(not globalwrites.OBSERVED, reason="global writes are observed by the compiled core on 3.12+ only")
class TestWatcher:
    def _namespace(self):
        namespace = tracking.TrackingDict(__name__="ghwatch", __builtins__=__builtins__)
        globalwrites.watch(namespace)
        exec(compile("def f():\n    global x\n    x = 1\n    del x\n", "<ghwatch>", "exec"), namespace)
        return namespace

    def _counts(self, func):
        return {e["kind"]: e["count"] for e in tracking.RECORDER.lookups()
                if e["file"] == "<ghwatch>" and e["function"] == "f" and e["name"] == "x"}

    def test_counts_and_unwatch(self):
        namespace = self._namespace()
        func = namespace["f"]
        try:
            func()
            func()
            assert self._counts(func) == {"store": 2, "delete": 2}
            globalwrites.unwatch(namespace)
            func()
            assert self._counts(func) == {"store": 2, "delete": 2}
        finally:
            tracking.RECORDER.forget_file("<ghwatch>")

    def test_counts_under_a_tracer(self):
        # settrace instruments the bytecode (INSTRUMENTED_LINE...): write sites come from co_code.
        namespace = self._namespace()
        func = namespace["f"]
        lines = []
        previous = sys.gettrace()

        def tracer(frame, event, arg):
            lines.append(event)
            return tracer

        sys.settrace(tracer)
        try:
            func()
            func()
        finally:
            sys.settrace(previous)
        try:
            assert lines and self._counts(func) == {"store": 2, "delete": 2}
        finally:
            tracking.RECORDER.forget_file("<ghwatch>")

    def test_first_sights_in_a_context_count_there(self):
        namespace = self._namespace()
        func = namespace["f"]
        try:
            with globalhook.context("ctx-a"):
                func()
            with globalhook.context("ctx-b"):
                func()
                func()
            found = {(e.get("context"), e["kind"]): e["count"] for e in tracking.RECORDER.lookups()
                     if e["file"] == "<ghwatch>" and e["name"] == "x"}
            assert found == {("ctx-a", "store"): 1, ("ctx-a", "delete"): 1, ("ctx-b", "store"): 2, ("ctx-b", "delete"): 2}
        finally:
            tracking.RECORDER.forget_file("<ghwatch>")

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
    def test_forked_child_counts_its_own_writes(self, tmp_path):
        # Forked from a fresh interpreter of its own: a pytest-xdist worker has a
        # second thread (execnet's), and a fork beside it may deadlock the child.
        probe = textwrap.dedent("""\
            import json, os, sys
            from globalhook import globalwrites, tracking
            namespace = tracking.TrackingDict(__name__="ghwatch", __builtins__=__builtins__)
            globalwrites.watch(namespace)
            exec(compile("def f():\\n    global x\\n    x = 1\\n    del x\\n", "<ghwatch>", "exec"), namespace)
            func = namespace["f"]

            def counts():
                return {e["kind"]: e["count"] for e in tracking.RECORDER.lookups()
                        if e["file"] == "<ghwatch>" and e["function"] == "f" and e["name"] == "x"}

            func()  # the parent's first sight, maybe still pending at fork()
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    tracking.RECORDER.clear()
                    func()
                    func()
                    os.write(write, json.dumps(counts()).encode())
                    status = 0
                finally:
                    os._exit(status)
            os.close(write)
            _, status = os.waitpid(pid, 0)
            with os.fdopen(read) as pipe:
                child = json.loads(pipe.read() or "null")
            print(json.dumps({"status": status, "child": child, "parent": counts()}))
        """)
        done = subprocess.run([sys.executable, "-W", "error", "-c", probe], cwd=str(tmp_path),
                              capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stderr) == (0, ""), done.stderr
        assert json.loads(done.stdout) == {"status": 0, "child": {"store": 2, "delete": 2},
                                           "parent": {"store": 1, "delete": 1}}

    def test_same_object_stores_are_not_seen(self):
        # CPython tells a dict watcher nothing when a name is rebound to the object it holds.
        namespace = tracking.TrackingDict(__name__="ghwatch", __builtins__=__builtins__)
        globalwrites.watch(namespace)
        exec(compile("def f():\n    global x\n    x = None\n", "<ghwatch>", "exec"), namespace)
        try:
            namespace["f"]()
            namespace["f"]()
            assert self._counts(namespace["f"]) == {"store": 1}
        finally:
            tracking.RECORDER.forget_file("<ghwatch>")

    def test_extended_arg_and_other_writes_during_the_instruction(self):
        # A write whose name index needs EXTENDED_ARG; and a destructor that writes another
        # name of the same dict while STORE_GLOBAL releases the old value: not the code's write.
        names = "\n".join(f"    n{i} = {i}" for i in range(300))
        source = (
            "class Noisy:\n    def __del__(self):\n        globals()['side'] = 1\n"
            f"def f():\n    global last\n{names}\n    last = Noisy()\n    last = None\n"
        )
        namespace = tracking.TrackingDict(__name__="ghwatch", __builtins__=__builtins__)
        globalwrites.watch(namespace)
        exec(compile(source, "<ghwatch>", "exec"), namespace)
        try:
            namespace["f"]()
            found = {(e["function"], e["name"], e["kind"]): e["count"] for e in tracking.RECORDER.lookups()
                     if e["file"] == "<ghwatch>"}
            assert found[("f", "last", "store")] == 2
            assert ("f", "side", "store") not in found
            assert found[("Noisy.__del__", "side", "store")] == 1
        finally:
            tracking.RECORDER.forget_file("<ghwatch>")

    def test_rejects_non_dicts(self):
        from globalhook import _ctracking

        with pytest.raises(TypeError):
            _ctracking.watch_writes([])

    def test_pending_exception_survives(self):
        # A write made while an exception propagates (a finally block) keeps it.
        namespace = tracking.TrackingDict(__name__="ghwatch", __builtins__=__builtins__)
        globalwrites.watch(namespace)
        source = "def f():\n    global y\n    try:\n        1 / 0\n    finally:\n        y = 2\n"
        exec(compile(source, "<ghwatch>", "exec"), namespace)
        try:
            with pytest.raises(ZeroDivisionError):
                namespace["f"]()
            assert dict.get(namespace, "y") == 2
        finally:
            tracking.RECORDER.forget_file("<ghwatch>")


def test_shared_state_sees_global_writes(tmp_path, core):
    """A test that bumps a counter through `global` and another that reads it: coupled."""
    (tmp_path / "state_mod.py").write_text(
        "counter = 0\n\ndef bump():\n    global counter\n    counter += 1\n\ndef get():\n    return counter\n"
    )
    (tmp_path / "test_state.py").write_text(
        "import state_mod\n\ndef test_writes():\n    state_mod.bump()\n\ndef test_reads():\n    assert state_mod.get() >= 0\n"
    )
    data_file = tmp_path / "t.json"
    env = core_env(core)
    env["PYTHONPATH"] = os.pathsep.join([REPO, str(tmp_path)])
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--globalhook=state_mod",
         "--globalhook-data", str(data_file), "test_state.py"],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    shown = subprocess.run(
        [sys.executable, "-m", "globalhook", "report", "--shared-state", "--data-file", str(data_file)],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
    )
    assert shown.returncode == 0, shown.stderr
    if observes_writes(core):
        assert "state_mod:counter" in shown.stdout
        assert "written by test_state.py::test_writes" in shown.stdout
    else:
        assert "No global is written by one test and read by another." in shown.stdout
        assert "state_mod:counter  (store, in bump)" in shown.stdout


def test_html_shows_static_entries_apart(tmp_path):
    from globalhook.htmlreport import write_html

    source = tmp_path / "counter_mod.py"
    source.write_text("counter = 0\n\ndef bump():\n    global counter\n    counter += 1\n")
    entry = {"module": "counter_mod", "function": "bump", "file": str(source), "line": 3}
    data = gdata.make_data([
        dict(entry, name="counter", kind="global", count=3),
        dict(entry, name="counter", kind="store", count=0, static=True),
    ], {"python": "3.11.7"})
    out = tmp_path / "html"
    write_html(data, str(out), workers=1, source_roots=[str(tmp_path)])
    text = (out / "data" / "m" / "0.js").read_text()  # the module page is drawn from it
    module = json.loads(text[len("GH.module("):-len(");\n")])
    kinds = {name[2]: index for index, name in enumerate(module["names"])}
    reads = {read[0]: read for read in module["functions"][0][5]}
    assert reads[kinds["store (static)"]][2] == [5]  # the line of the write is found in the source
    assert reads[kinds["global"]][1] == 3
    index = (out / "index.html").read_text()
    assert "static write sites" in index


def test_benchmark_runs(tmp_path):
    completed = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "globalwrites.py"), "--quick"],
        cwd=str(tmp_path), env=core_env("auto"), capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert "global writes" in lines[0]
    assert [line.split()[0] for line in lines[2:]] == ["untracked", "tracked"]
