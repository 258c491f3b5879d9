"""Modules that are already live: globalhook.attach, --include of an early import,
the interactive console (repl, run -i), and the retype's safety under stress."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import globalhook
from globalhook import live
from globalhook.tracking import CORE, RECORDER, TrackingDict
from conftest import read_data

REPO = str(Path(__file__).resolve().parent.parent)
TIMEOUT = 180
FREE_THREADED = "free-threading" in sys.version

MODULE = """\
LIMIT = 3

def over(values):
    total = 0
    for value in values:
        if value > LIMIT:
            total += 1
    return total

def missing():
    try:
        return NOT_THERE
    except NameError:
        return len("ab")
"""


def env(**extra: str) -> dict:
    """The test's environment (GLOBALHOOK_CORE kept: both cores are tested), globalhook importable."""
    result = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_") or k == "GLOBALHOOK_CORE"}
    result["PYTHONPATH"] = REPO
    result["PYTHONDONTWRITEBYTECODE"] = "1"
    result.update(extra)
    return result


def run(args, cwd, stdin=None, **extra):
    return subprocess.run(
        [sys.executable, *args], cwd=str(cwd), env=env(**extra), input=stdin,
        capture_output=True, text=True, timeout=TIMEOUT,
    )


@pytest.fixture
def early(src, unique, attachable):
    """A module imported before anything of globalhook's is installed, with a function that ran already."""
    src({f"{unique}.py": MODULE})
    module = importlib.import_module(unique)
    assert module.over([1, 5, 9]) == 2  # ran (and, on 3.11+, specialised) before the attach
    for _ in range(50):
        module.over(range(10))
    yield module
    RECORDER.not_tracked.pop(unique, None)


@pytest.mark.usefixtures("attachable")
class TestAttach:
    def test_functions_defined_before_become_tracked_with_exact_counts(self, early):
        plain = early.over([1, 5, 9, 2])
        assert globalhook.attach(early) is early
        assert type(early.__dict__) is TrackingDict
        assert early.over.__globals__ is early.__dict__
        assert early.over([1, 5, 9, 2]) == plain  # behaviour unchanged
        assert globalhook.reads(early.over) == {"LIMIT": 4}
        early.missing()
        assert globalhook.reads(early.missing) == {"NOT_THERE": 1, "NameError": 1, "len": 1}
        assert early.__name__ in live.attached()

    def test_attach_twice_is_harmless(self, early):
        globalhook.attach(early)
        globalhook.attach(early)
        early.over([9])
        assert globalhook.reads(early.over) == {"LIMIT": 1}

    def test_module_level_code_after_attach_is_seen(self, early):
        globalhook.attach(early)
        exec("LIMIT = LIMIT + 1", early.__dict__)
        assert early.LIMIT == 4
        found = [e for e in globalhook.lookups() if e["module"] == early.__name__ and e["function"] == "<module>"]
        assert {(e["name"], e["kind"], e["count"]) for e in found} >= {("LIMIT", "global", 1), ("LIMIT", "store", 1)}

    def test_attribute_reads_of_an_attached_module_are_recorded(self, early):
        from globalhook.tracking import AttributeModule

        globalhook.attach(early)
        assert type(early) is AttributeModule and isinstance(early, types.ModuleType)

        def reader():
            return early.LIMIT

        assert reader() == 3
        assert globalhook.reads(reader) == {f"{early.__name__}.LIMIT": 1}  # early: a closure variable here

    def test_an_attached_module_records_attribute_reads_as_the_installed_hook_does(self, early, src, unique, install):
        """Under a hook that records no attribute reads (attributes=False) an attached module
        stays a plain module; once that hook is uninstalled, attaching records them again."""
        from globalhook.tracking import AttributeModule

        hook = install(include=[f"{unique}_other"], attributes=False)
        globalhook.attach(early)
        assert type(early) is types.ModuleType
        hook.uninstall()
        src({f"{unique}_later.py": "X = 1\n"})
        later = importlib.import_module(f"{unique}_later")
        globalhook.attach(later)
        assert type(later) is AttributeModule

    def test_global_writes_of_an_attached_module_are_counted_or_found_statically(self, early):
        from globalhook import globalwrites

        globalhook.attach(early)
        exec("def bump():\n    global LIMIT\n    LIMIT += 1\n", early.__dict__)
        early.bump()
        assert early.LIMIT == 4
        found = [e for e in globalhook.lookups() if e["module"] == early.__name__ and e["function"] == "bump"]
        stores = [e for e in found if e["kind"] == "store"]
        if globalwrites.OBSERVED:  # the compiled core's dict watcher, 3.12+: watched from the attach on
            assert [(e["name"], e["count"], "static" in e) for e in stores] == [("LIMIT", 1, False)]
        else:  # code exec'd from a string is not scanned (docs/explanation/global-writes.md)
            assert stores == []

    def test_global_writes_in_an_attached_modules_file_are_found_statically(self, src, unique, attachable):
        from globalhook import globalwrites

        src({f"{unique}.py": "N = 0\ndef bump():\n    global N\n    N += 1\n"})
        module = importlib.import_module(unique)
        try:
            globalhook.attach(module)
            module.bump()
            found = [(e["function"], e["name"], e["kind"], e["count"], bool(e.get("static")))
                     for e in globalhook.lookups() if e["module"] == unique and e["kind"] == "store"]
            if globalwrites.OBSERVED:
                assert found == [("bump", "N", "store", 1, False)]
            else:  # the module-level `N = 0` is a STORE_GLOBAL too: bump declares N global
                assert sorted(found) == [("<module>", "N", "store", 0, True), ("bump", "N", "store", 0, True)]
        finally:
            RECORDER.not_tracked.pop(unique, None)

    @pytest.mark.parametrize(
        "target, reason",
        [
            ("builtins", "the builtins namespace is every frame's builtins"),
            ("globalhook", "globalhook never tracks itself"),
        ],
    )
    def test_refused_modules_get_one_line_naming_them(self, target, reason):
        with pytest.raises(globalhook.AttachError) as caught:
            globalhook.attach(sys.modules[target])
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"globalhook: cannot attach {target!r}: ") and reason in message
        assert type(sys.modules[target].__dict__) is dict

    def test_not_a_module(self):
        with pytest.raises(globalhook.AttachError, match="not a module"):
            globalhook.attach(types.SimpleNamespace())  # type: ignore[arg-type]

    def test_install_attaches_a_module_imported_before(self, early, install):
        install(include=[early.__name__])
        assert type(early.__dict__) is TrackingDict
        assert early.__name__ not in RECORDER.not_tracked
        early.over([4, 5])
        assert globalhook.reads(early.over) == {"LIMIT": 2}

    def test_refusal_is_listed_in_not_tracked(self, early, install, monkeypatch):
        monkeypatch.setattr(live, "_check_process", lambda: "a reason for the test")
        install(include=[early.__name__])
        assert type(early.__dict__) is dict
        assert RECORDER.not_tracked[early.__name__] == (
            "already imported before globalhook started, and cannot be attached: a reason for the test"
        )

    @pytest.mark.skipif(sys.version_info < (3, 13), reason="no JIT before 3.13")
    def test_jit_on_is_refused(self, monkeypatch):
        if sys.version_info >= (3, 14):
            monkeypatch.setattr(sys._jit, "is_enabled", lambda: True)  # type: ignore[attr-defined]
        else:
            monkeypatch.setattr(live, "_build_config", lambda: {"PY_CORE_CFLAGS": "-O2 -D_Py_JIT", "CONFIG_ARGS": ""})
            monkeypatch.delenv("PYTHON_JIT", raising=False)
        assert "JIT / tier-2 optimizer is on" in live._jit_problem()

    def test_the_jit_is_off_here(self):
        """None of the interpreters the suite runs on was built with the JIT on."""
        assert live._jit_problem() is None

    def test_an_objects_split_attribute_dict_is_refused(self):
        class Holder:
            pass

        holder = Holder()
        holder.x = 1
        with pytest.raises(globalhook.AttachError, match="^globalhook: cannot attach 'holder': .*split-table dict"):
            live.attach_dict(vars(holder), "holder")
        assert type(vars(holder)) is dict and holder.x == 1

    def test_detach_gives_a_plain_dict_back(self):
        namespace = {"__builtins__": __builtins__, "__name__": "ns"}
        exec("Y = 2\ndef g():\n    return Y\n", namespace)
        live.attach_dict(namespace, "ns")
        assert type(namespace) is TrackingDict
        assert live.detach(namespace)
        assert type(namespace) is dict
        assert namespace["g"]() == 2
        assert not live.detach(namespace)


def test_early_import_by_sitecustomize_is_attached_by_include(tmp_path):
    """``--include`` of a module that sitecustomize imported before ``globalhook run`` started."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "early_mod.py").write_text(MODULE)
    (site / "sitecustomize.py").write_text("import early_mod\nearly_mod.over([7])\n")
    (tmp_path / "prog.py").write_text("import sys, early_mod\nassert 'early_mod' in sys.modules\nprint(early_mod.over([1, 5, 9]))\n")
    result = run(
        ["-m", "globalhook", "run", "--include", "early_mod", "--data-file", "d.json", "prog.py"],
        tmp_path, PYTHONPATH=os.pathsep.join([str(site), REPO]),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2\n"
    data = read_data((tmp_path / "d.json"))
    over = [(e["name"], e["kind"], e["count"]) for e in data["lookups"] if e["module"] == "early_mod" and e["function"] == "over"]
    assert over == [("LIMIT", "global", 3)]  # the run's three reads; the one sitecustomize made is not seen
    assert not [e for e in data["not_tracked"] if e["module"] == "early_mod"]
    assert any("attached after import" in note and "early_mod" in note for note in data["runs"][0]["notes"])


STRESS = """\
import gc, sys, threading, types
from globalhook import live
from globalhook.tracking import RECORDER, TrackingDict
SRC = "X = 1\\ndef f(n):\\n    s = 0\\n    for _ in range(n):\\n        s += X\\n    return s\\n"
def make(i):
    m = types.ModuleType("m%d" % i)
    m.__dict__["__builtins__"] = __builtins__
    exec(compile(SRC, "<m%d>" % i, "exec"), m.__dict__)
    for _ in range(8):
        m.f(16)  # specialised before the retype
    return m
live.attach(make(-1))  # warm up: the first attach imports modules that name TrackingDict
gc.collect()
before = sys.getrefcount(TrackingDict)
for round_ in range(3):
    mods = [make(i) for i in range(1500)]
    for m in mods:
        live.attach(m)
        assert m.f(10) == 10 and RECORDER.reads(m.f)["X"] == 10
        RECORDER.forget_file("<%s>" % m.__name__)
    del mods, m
    gc.collect()
for i in range(2000):
    m = types.ModuleType("c%d" % i)
    m.__dict__["me"] = m.__dict__  # a cycle: only gc frees it
    live.attach(m)
del m
gc.collect()
if "free-threading" not in sys.version:
    assert sys.getrefcount(TrackingDict) == before, (sys.getrefcount(TrackingDict), before)
mods = [make(i) for i in range(200)]
stop = []
def work():
    while not stop:
        for m in mods:
            assert m.f(3) == 3
threads = [threading.Thread(target=work) for _ in range(2)]
for t in threads:
    t.start()
refused = set()
for m in mods:
    try:
        live.attach(m)
    except live.AttachError as exc:
        refused.add(str(exc).split(": ", 2)[2])
stop.append(1)
for t in threads:
    t.join()
print("refused while threads ran:", sorted(refused))
del mods
gc.collect()
print("ok")
"""


def test_many_retyped_dicts_freed_do_not_crash(tmp_path):
    """Thousands of retyped namespaces (specialised first, some in cycles) freed, then gc; threads running."""
    (tmp_path / "stress.py").write_text(STRESS)
    result = run(["stress.py"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.endswith("ok\n")
    if FREE_THREADED and CORE == "python":
        assert "cannot stop them while it retypes" in result.stdout
    else:
        assert "refused while threads ran: []" in result.stdout


def test_reload_of_an_attached_module(early):
    globalhook.attach(early)
    importlib.reload(early)
    assert type(early.__dict__) is TrackingDict
    early.over([9, 9])
    assert globalhook.reads(early.over) == {"LIMIT": 2}


# -- the interactive console ---------------------------------------------------------


SCRIPT = "X = 5\ndef f():\n    return X + len('ab')\nprint('script', f())\n"
CONSOLE_INPUT = "Y = 2\ndef g():\n    return X + Y\n\nprint('console', g(), f())\n"


def _lookups(path: Path) -> set:
    data = read_data(path)
    return {(e["function"], e["name"], e["kind"], e["count"]) for e in data["lookups"]}


class TestInteractive:
    def test_run_i_continues_in_the_tracked_main(self, tmp_path):
        (tmp_path / "s.py").write_text(SCRIPT)
        plain = run(["-i", "s.py"], tmp_path, stdin=CONSOLE_INPUT)
        tracked = run(["-m", "globalhook", "run", "-i", "--data-file", "d.json", "s.py"], tmp_path, stdin=CONSOLE_INPUT)
        assert tracked.returncode == plain.returncode == 0, tracked.stderr
        assert tracked.stdout == plain.stdout == "script 7\nconsole 7 7\n"
        found = _lookups(tmp_path / "d.json")
        assert {("f", "X", "global", 2), ("f", "len", "builtin", 2), ("g", "X", "global", 1), ("g", "Y", "global", 1)} <= found

    def test_run_i_after_an_uncaught_exception_and_sys_exit(self, tmp_path):
        (tmp_path / "s.py").write_text("X = 1\nraise ValueError('boom')\n")
        (tmp_path / "e.py").write_text("X = 1\nimport sys\nsys.exit(3)\n")
        for script in ("s.py", "e.py"):
            plain = run(["-i", script], tmp_path, stdin="print('in console', X)\n")
            tracked = run(["-m", "globalhook", "run", "-i", "--data-file", "d.json", script], tmp_path, stdin="print('in console', X)\n")
            assert tracked.stdout == plain.stdout == "in console 1\n"
            assert tracked.returncode == plain.returncode == 0
            last = [line for line in tracked.stderr.splitlines() if line.strip() and not line.startswith(">>>")]
            assert ("ValueError: boom" if script == "s.py" else "SystemExit: 3") in last[-1]
            assert "globalhook" not in tracked.stderr

    def test_sys_exit_in_the_console_sets_the_status(self, tmp_path):
        (tmp_path / "s.py").write_text("X = 1\n")
        tracked = run(["-m", "globalhook", "run", "-i", "--data-file", "d.json", "s.py"], tmp_path, stdin="import sys; sys.exit(4)\n")
        assert tracked.returncode == 4
        data = read_data((tmp_path / "d.json"))
        assert data["runs"][0]["exit_code"] == 4

    def test_repl_tracks_main_and_saves_at_exit(self, tmp_path):
        stdin = "def h():\n    return Z\n\nZ = 1\nh(); h()\nimport globalhook; print(globalhook.reads(h))\n"
        result = run(["-m", "globalhook", "repl", "--data-file", "r.json"], tmp_path, stdin=stdin)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "1\n1\n{'Z': 2}\n"
        assert ">>> " in result.stderr  # prompts on stderr, as python -i
        found = _lookups(tmp_path / "r.json")
        assert ("h", "Z", "global", 2) in found
        data = read_data((tmp_path / "r.json"))
        assert data["runs"][0]["command"] == ["<repl>"]

    def test_repl_takes_no_program(self, tmp_path):
        result = run(["-m", "globalhook", "repl", "prog.py"], tmp_path)
        assert result.returncode == 2
        assert result.stderr == "globalhook: error: repl runs no program: unexpected 'prog.py' (see: globalhook repl --help)\n"


def test_python_i_with_the_start_up_hook_tracks_the_console_inputs(tmp_path):
    """``python -i`` where tracking starts with every process: Python's own REPL runs in the tracked __main__."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import globalhook.startup\nglobalhook.startup.process_start()\n")
    (tmp_path / "pyproject.toml").write_text('[tool.globalhook]\nenabled = true\ndata_file = "pi.json"\n')
    (tmp_path / "s.py").write_text(SCRIPT)
    stdin = "def g():\n    return X + f()\n\ng()\nimport globalhook; print(type(globals()).__name__, globalhook.reads(g))\n"
    result = run(["-i", "s.py"], tmp_path, stdin=stdin, PYTHONPATH=os.pathsep.join([str(site), REPO]))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "script 7\n12\nTrackingDict {'X': 1, 'f': 1}\n"
    combined = run(["-m", "globalhook", "combine", "--data-file", "pi.json"], tmp_path)
    assert combined.returncode == 0, combined.stderr
    assert ("g", "X", "global", 1) in _lookups(tmp_path / "pi.json")


ATTACHED_WRITER = """\
TAX = 0.2
counter = 0


def bump():
    global counter
    counter += 1
    return TAX
"""


def test_an_attached_module_gets_what_a_new_one_gets(tmp_path):
    """Attached: its `global` writes counted (or scanned) and its attributes' reads recorded, as for a module the finder tracks."""
    (tmp_path / "writer.py").write_text(ATTACHED_WRITER)
    (tmp_path / "prog.py").write_text(
        "import writer, globalhook\n"
        "globalhook.install(include=['writer'])\n"
        "writer.bump(); writer.bump()\n"
        "print(writer.TAX, writer.counter)\n"
        "import json; open('lookups.json', 'w').write(json.dumps(globalhook.lookups()))\n"
    )
    result = run(["prog.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0.2 2\n"
    lookups = json.loads((tmp_path / "lookups.json").read_text())
    stores = [(e["count"], e.get("static", False)) for e in lookups
              if e["module"] == "writer" and e["function"] == "bump" and e["kind"] == "store"]
    from globalhook.globalwrites import OBSERVED

    assert stores == ([(2, False)] if OBSERVED else [(0, True)])
    reads = sorted((e["name"], e["count"]) for e in lookups if e["kind"] == "attribute" and e.get("owner") == "writer")
    assert reads == [("TAX", 1), ("bump", 2), ("counter", 1)]


def test_the_probe_ignores_other_tracking_dicts_the_collector_frees(attachable, monkeypatch):
    """Found under IPython on 3.9: an automatic collection inside the probe's window freed
    a tracking dict of the program's (in a cycle), and the probe refused every attach."""
    import gc

    assert live._check_process() is None
    reads = RECORDER.reads

    def reads_while_the_collector_runs(func):
        if gc.isenabled():  # where an automatic collection would run, if it may
            gc.collect()
        return reads(func)

    threshold = gc.get_threshold()
    monkeypatch.setattr(RECORDER, "reads", reads_while_the_collector_runs)
    try:
        gc.set_threshold(10**9)  # no automatic collection before the probe's window
        garbage = TrackingDict()
        garbage["self"] = garbage  # only the collector frees it
        del garbage
        assert live._probe() is None
    finally:
        gc.set_threshold(*threshold)
        monkeypatch.undo()
        gc.collect()
