"""Environment variables read and written by name (owner ``os.environ``, kinds ``read``/``write``).

Differential: the same program runs under plain ``python`` and under
``globalhook run`` with each core; what it prints (``type(os.environ)``,
``copy``, pickling, what a subprocess inherits...) must be identical, and the
data must hold each read per reading function with the variable's name and
never its value.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import globalhook
from conftest import c_core_built, core_env, read_data
from globalhook import envreads

SECRET = "s3cr3t-value-never-recorded"

FILES = {
    "envuser.py": """
        import os

        import helper

        def reads():
            return [os.environ["GH_PRESENT"], os.environ.get("GH_ABSENT", "dflt"),
                    "GH_PRESENT" in os.environ, os.getenv("GH_PRESENT")]

        def missing():
            try:
                os.environ["GH_ABSENT"]
            except KeyError as exc:
                return repr(exc)

        def writes():
            os.environ["GH_WRITTEN"] = "w1"
            del os.environ["GH_WRITTEN"]
            os.putenv("GH_PUT", "p1")
            os.environ["GH_CHILD"] = "inherited"
            os.environ.setdefault("GH_DEFAULTED", "d1")

        def listing():
            return sorted(k for k in os.environ if k.startswith("GH_"))

        def via_library():
            return helper.lookup("GH_PRESENT")

        def odd_name():
            return os.environ.get("GH-NOT-AN-IDENTIFIER")

        def hot(n):
            for _ in range(n):
                os.environ.get("GH_PRESENT")
    """,
    "helper.py": """
        import os

        def lookup(name):
            return os.environ.get(name)
    """,
    "main.py": """
        import collections.abc
        import copy
        import json
        import os
        import pickle
        import subprocess
        import sys
        import threading

        import envuser

        out = {}
        out["reads"] = envuser.reads()
        out["missing"] = envuser.missing()
        envuser.writes()
        out["listing"] = envuser.listing()
        out["via_library"] = envuser.via_library()
        out["odd"] = envuser.odd_name()
        threads = [threading.Thread(target=envuser.hot, args=(500,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        environ = os.environ
        out["type"] = [type(environ) is os._Environ, isinstance(environ, collections.abc.MutableMapping),
                       type(environ).__name__, type(environ).__module__, os.environ is environ]
        copied = copy.copy(environ)
        out["copy"] = [type(copied).__name__, copied["GH_PRESENT"], type(environ.copy()).__name__,
                       environ.copy() == dict(environ), (environ | {"GH_X": "1"})["GH_X"]]
        errors = []
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            try:
                pickle.dumps(environ, protocol)
                errors.append(None)
            except Exception as exc:
                errors.append(type(exc).__name__)
        out["pickle"] = errors
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(os.environ.get('GH_CHILD'), os.environ.get('GH_PUT'), "
             "os.environ.get('GH_WRITTEN'), os.environ.get('GH_DEFAULTED'))"],
            capture_output=True, text=True,
        )
        out["child"] = child.stdout.strip()
        out["functions"] = [os.putenv.__name__, os.getenv("GH_DEFAULTED")]
        print(json.dumps(out))
    """,
}

CORES = ["python", pytest.param("c", marks=pytest.mark.skipif(not c_core_built(), reason="compiled core not built"))]


def _env(core: str) -> dict:
    env = core_env(core, GH_PRESENT=SECRET)
    env.pop("GH_ABSENT", None)
    return env


def _run(folder: Path, core: str) -> tuple:
    plain = subprocess.run([sys.executable, "main.py"], cwd=folder, env=_env(core), capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    tracked = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--data-file", "data.json", "--include", "envuser",
         "--exclude", "__main__", "main.py"],
        cwd=folder, env=_env(core), capture_output=True, text=True,
    )
    assert tracked.returncode == 0, tracked.stderr
    text = (folder / "data.json").read_text()
    return json.loads(plain.stdout), json.loads(tracked.stdout), read_data(folder / "data.json")["lookups"], text


def _config(lookups: list) -> dict:
    """(reader module, function, name, kind) -> count, for entries owned by os.environ."""
    found = {}
    for entry in lookups:
        if entry.get("owner") == "os.environ":
            assert entry["kind"] in ("read", "write")
            assert entry["reader_module"] == entry["module"]
            key = (entry["module"], entry["function"], entry["name"], entry["kind"])
            found[key] = found.get(key, 0) + entry["count"]
    return found


@pytest.fixture(scope="module", params=CORES)
def recorded(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"env_{request.param}")
    for name, text in FILES.items():
        (folder / name).write_text(textwrap.dedent(text))
    return _run(folder, request.param)


def test_program_behaves_as_untracked(recorded):
    plain, tracked = recorded[:2]
    assert tracked == plain
    assert plain["reads"] == [SECRET, "dflt", True, SECRET]
    assert plain["type"] == [True, True, "_Environ", "os", True]
    assert plain["child"] == "inherited p1 None d1"


def test_reads_per_function_by_name(recorded):
    reads = _config(recorded[2])
    assert reads[("envuser", "reads", "GH_PRESENT", "read")] == 3  # [], in, os.getenv
    assert reads[("envuser", "reads", "GH_ABSENT", "read")] == 1  # .get of a variable that is not set
    assert reads[("envuser", "missing", "GH_ABSENT", "read")] == 1  # [] that raised KeyError
    assert reads[("envuser", "listing", "*", "read")] >= 1  # iteration: which variables exist


def test_writes_per_function_by_name(recorded):
    reads = _config(recorded[2])
    assert reads[("envuser", "writes", "GH_WRITTEN", "write")] == 2  # set, del
    assert reads[("envuser", "writes", "GH_PUT", "write")] == 1  # os.putenv, counted once
    assert reads[("envuser", "writes", "GH_CHILD", "write")] == 1  # not again for the putenv it calls
    assert reads[("envuser", "writes", "GH_DEFAULTED", "write")] == 1
    assert reads[("envuser", "writes", "GH_DEFAULTED", "read")] == 2  # setdefault: `in`, then [] (os's code)


def test_untracked_code_is_charged_to_the_tracked_caller(recorded):
    reads = _config(recorded[2])
    assert reads[("envuser", "via_library", "GH_PRESENT", "read")] == 1
    assert not [key for key in reads if key[0] in ("helper", "os", "__main__")]


def test_counts_are_exact_under_threads(recorded):
    assert _config(recorded[2])[("envuser", "hot", "GH_PRESENT", "read")] == 4 * 500


def test_names_only_never_values(recorded):
    text = recorded[3]
    assert SECRET not in text and "inherited" not in text and "p1" not in text
    reads = _config(recorded[2])
    assert reads[("envuser", "odd_name", "<non-identifier str key>", "read")] == 1
    assert "GH-NOT-AN-IDENTIFIER" not in text


class TestInProcess:
    def test_install_patches_the_class_and_uninstall_restores_it(self, install, src, unique):
        original = os._Environ.__dict__["__getitem__"]
        original_putenv = os.putenv
        src({f"{unique}.py": "import os\ndef f():\n    return os.getenv('GH_INPROC')\n"})
        hook = install(include=[unique])
        assert envreads.installed()
        assert os._Environ.__dict__["__getitem__"] is not original
        assert type(os.environ) is os._Environ
        module = __import__(unique)
        with globalhook.context("ctx-a"):
            module.f()
        module.f()
        reads = {(e.get("context", ""), e["name"], e["kind"]): e["count"]
                 for e in hook.lookups() if e.get("owner") == "os.environ" and e["module"] == unique}
        assert reads == {("ctx-a", "GH_INPROC", "read"): 1, ("", "GH_INPROC", "read"): 1}
        assert globalhook.reads(module.f)["os.environ.GH_INPROC"] == 2
        hook.uninstall()
        assert not envreads.installed()
        assert os._Environ.__dict__["__getitem__"] is original
        assert os.putenv is original_putenv

    def test_config_reads_off(self, install, src, unique):
        src({f"{unique}.py": "import os\ndef f():\n    return os.getenv('GH_INPROC')\n"})
        hook = install(include=[unique], config_reads=False)
        assert not envreads.installed()
        __import__(unique).f()
        assert not [e for e in hook.lookups() if e.get("owner") == "os.environ" and e["module"] == unique]

    def test_pickled_environ_fails_as_without_tracking(self, install):
        def outcome():
            try:
                return pickle.loads(pickle.dumps(os.environ)) == os.environ
            except Exception as exc:
                return type(exc).__name__

        before = outcome()
        install(include=["nothing_here_ghx"])
        assert outcome() == before


@pytest.mark.parametrize("how", ["environment", "option"])
def test_config_reads_setting_turns_recording_off(tmp_path, how):
    for name, text in FILES.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    env = dict(_env("python"), GLOBALHOOK_CONFIG_READS="0") if how == "environment" else _env("python")
    option = ["--no-config-reads"] if how == "option" else []
    tracked = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", *option, "--data-file", "data.json", "--include", "envuser", "main.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert tracked.returncode == 0, tracked.stderr
    lookups = read_data((tmp_path / "data.json"))["lookups"]
    assert not [e for e in lookups if e["kind"] in ("read", "write")]
    assert [e for e in lookups if e["module"] == "envuser" and e["kind"] == "global"]  # globals still recorded


def test_globalhooks_own_reads_are_not_the_programs(install, src, unique):
    # A tracked function calling into globalhook (which reads GLOBALHOOK_CORE) is not charged for it.
    src({f"{unique}.py": "import os\nfrom globalhook import tracking\n"
                         "def f():\n    tracking._select_core()\n    return os.getenv('GH_MINE')\n"})
    hook = install(include=[unique])
    __import__(unique).f()
    names = {e["name"] for e in hook.lookups() if e.get("owner") == "os.environ" and e["module"] == unique}
    assert names == {"GH_MINE"}


def test_the_compiled_walk_finds_what_the_python_walk_finds(install, src, unique):
    """count_config's walk (which tracked code a read is charged to) made in C and in Python, from the same frames."""
    from globalhook import tracking

    if tracking._config_caller is None:
        pytest.skip("the compiled core's walk")
    src({f"{unique}.py": "def through(f, *args):\n    return f(*args)\n",
         f"{unique}_lib.py": "def deeper(f, n):\n    return f(n) if n == 0 else deeper(f, n - 1)\n"})
    install(include=[unique])
    tracked, lib = __import__(unique), __import__(f"{unique}_lib")
    seen = []

    def both(_=None):
        frame = sys._getframe()
        seen.append((tracking._config_caller(frame), tracking._walk_to_tracked(frame)))

    tracked.through(lib.deeper, both, 30)  # tracked code 32 frames up
    both()  # no tracked code on the stack
    tracked.through(both)  # the tracked frame right above
    for compiled, python in seen:
        assert compiled == python
    assert [found[1]["__name__"] if found else None for found, _ in seen] == [unique, None, unique]
    assert [found[0] is tracked.through.__code__ for found, _ in seen if found] == [True, True]
