"""The compiled core: where it is built, how its absence is told, the module swap it does.

A missing compiled core must never be silent: the build says why in one
line, ``globalhook status`` names the core in use and why, and
``globalhook run`` warns once where the compiled core should have been.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import sysconfig
import types
from pathlib import Path

import pytest

from globalhook import tracking

REPO = Path(__file__).resolve().parent.parent


def env_with(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env.update(PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


# Runs globalhook's CLI with the compiled core made unimportable, as on a
# machine where it was not built.
WITHOUT_C = "import sys; sys.modules['globalhook._ctracking'] = None; from globalhook.cli import main; sys.exit(main(sys.argv[1:]))"
KNOWN = tracking.C_VERSIONS[0] <= sys.version_info[:2] <= tracking.C_VERSIONS[1]
CPYTHON = sys.implementation.name == "cpython"


FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def test_c_core_is_expected_exactly_on_the_cpythons_it_knows():
    expected = CPYTHON and KNOWN and not (FREE_THREADED and sys.version_info < (3, 14))
    assert tracking._c_core_expected() is expected
    assert tracking.C_VERSIONS == ((3, 9), (3, 14))


class TestRunSaysWhichCore:
    def run(self, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
        (tmp_path / "prog.py").write_text("print('ran')\n")
        return subprocess.run(
            [sys.executable, "-c", WITHOUT_C, "run", "--data-file", str(tmp_path / "d.json"), *args, "prog.py"],
            cwd=str(tmp_path), env=env_with(**env), capture_output=True, text=True, timeout=60,
        )

    @pytest.mark.skipif(not tracking._c_core_expected(), reason="the compiled core is not expected here")
    def test_warns_once_on_the_python_core_where_c_should_be(self, tmp_path):
        completed = self.run(tmp_path)
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout == "ran\n"
        warnings = [line for line in completed.stderr.splitlines() if "pure-Python core" in line]
        assert len(warnings) == 1, completed.stderr
        assert warnings[0].startswith("globalhook: warning: running on the pure-Python core, several times slower: "
                                      "the compiled core is not built for this Python")
        assert "GLOBALHOOK_CORE=python silences this" in warnings[0]

    def test_no_warning_when_the_python_core_was_asked_for(self, tmp_path):
        completed = self.run(tmp_path, GLOBALHOOK_CORE="python")
        assert completed.returncode == 0, completed.stderr
        assert "pure-Python core" not in completed.stderr

    def test_core_c_asked_but_missing_is_an_error(self, tmp_path):
        completed = self.run(tmp_path, GLOBALHOOK_CORE="c")
        assert completed.returncode == 2
        assert completed.stdout == ""
        [line] = completed.stderr.splitlines()
        assert line.startswith("globalhook: error: GLOBALHOOK_CORE=c: the compiled core ")


def status_core_line(*prefix: str, **env: str) -> str:
    completed = subprocess.run(
        [sys.executable, *prefix, "status"], env=env_with(**env), capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    [line] = [line for line in completed.stdout.splitlines() if line.startswith("core: ")]
    return line


def test_status_names_the_core_and_why():
    in_use = status_core_line("-m", "globalhook")
    if tracking.CORE == "c":
        assert in_use.startswith("core: compiled (C) (built for this Python; reads ")
    assert status_core_line("-m", "globalhook", GLOBALHOOK_CORE="python") == (
        "core: pure Python (GLOBALHOOK_CORE=python asked for it)"
    )
    missing = status_core_line("-c", WITHOUT_C)
    assert missing.startswith("core: pure Python (the compiled core ")


# -- the build -------------------------------------------------------------------


def build(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """setup.py build_ext on a copy of the sources (the checkout is left alone)."""
    pytest.importorskip("setuptools")
    copy = tmp_path / "src"
    copy.mkdir(parents=True)
    # Only setup.py: build_ext needs no metadata, and pyproject.toml's (PEP 639
    # license fields) needs setuptools 77+, which the interpreter's own
    # setuptools may predate (pip's isolated builds fetch a new one).
    shutil.copy(REPO / "setup.py", copy / "setup.py")
    shutil.copytree(REPO / "globalhook", copy / "globalhook", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    return subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=str(copy), env=env_with(**env), capture_output=True, text=True, timeout=300,
    )


def said(completed: subprocess.CompletedProcess) -> list:
    return [line for line in (completed.stdout + completed.stderr).splitlines() if line.startswith("globalhook:")]


def test_build_says_in_one_line_why_the_core_was_not_built(tmp_path):
    completed = build(tmp_path, GLOBALHOOK_NO_EXTENSION="1")
    assert completed.returncode == 0, completed.stderr
    assert said(completed) == [
        "globalhook: the compiled core was NOT built (GLOBALHOOK_NO_EXTENSION is set); "
        "globalhook will use its pure-Python core"
    ]


@pytest.mark.skipif(not tracking._c_core_expected(), reason="no compiled core to build here")
def test_a_failing_compiler_is_one_line_not_a_failed_install(tmp_path):
    completed = build(tmp_path, CC="false")
    assert completed.returncode == 0, completed.stderr
    [line] = said(completed)
    assert line.startswith("globalhook: the compiled core was NOT built (the C build failed: ")
    failed = build(tmp_path / "again", CC="false", GLOBALHOOK_REQUIRE_C="1")
    assert failed.returncode != 0


# -- the native strategy's swap ----------------------------------------------------


@pytest.fixture
def ctracking():
    if tracking.CORE != "c":
        pytest.skip("the compiled core is not in use")
    from globalhook import _ctracking

    return _ctracking


class TestSetModuleDict:
    def test_swaps_a_fresh_module_with_exact_reference_counts(self, ctracking):
        module = types.ModuleType("fresh")
        namespace = tracking.TrackingDict(module.__dict__)
        before = sys.getrefcount(namespace)
        ctracking.set_module_dict(module, namespace)
        assert module.__dict__ is namespace
        assert sys.getrefcount(namespace) == before + 1
        del module
        gc.collect()  # 3.14t: modules are freed by the collector (deferred reference counting)
        assert sys.getrefcount(namespace) == before

    def test_functions_defined_in_it_share_the_namespace(self, ctracking):
        module = types.ModuleType("fresh")
        namespace = tracking.TrackingDict(module.__dict__)
        ctracking.set_module_dict(module, namespace)
        exec("def f():\n    return __name__\n", namespace)
        assert module.f.__globals__ is namespace is module.__dict__
        assert module.f() == "fresh"

    def test_refuses_anything_but_exactly_a_module(self, ctracking):
        class Sub(types.ModuleType):
            pass

        with pytest.raises(TypeError, match="exactly types.ModuleType"):
            ctracking.set_module_dict(Sub("s"), tracking.TrackingDict())
        with pytest.raises(TypeError, match="exactly types.ModuleType"):
            ctracking.set_module_dict(object(), tracking.TrackingDict())

    def test_refuses_anything_but_a_tracking_dict(self, ctracking):
        class Wider(tracking.TrackingDict):
            pass  # no __slots__: a __dict__ of its own, another layout

        for namespace in ({}, Wider()):
            module = types.ModuleType("m")
            with pytest.raises(TypeError, match="tracking dict with the layout of dict"):
                ctracking.set_module_dict(module, namespace)
            assert type(module.__dict__) is dict

    def test_refuses_a_module_that_has_run_code(self, ctracking):
        module = types.ModuleType("used")
        module.x = 1
        with pytest.raises(ValueError, match="not fresh"):
            ctracking.set_module_dict(module, tracking.TrackingDict(module.__dict__))
        swapped = types.ModuleType("twice")
        namespace = tracking.TrackingDict(swapped.__dict__)
        ctracking.set_module_dict(swapped, namespace)
        with pytest.raises(ValueError, match="not fresh"):
            ctracking.set_module_dict(swapped, tracking.TrackingDict(swapped.__dict__))
        assert swapped.__dict__ is namespace


def test_the_runner_needs_no_ctypes_with_the_compiled_core(tmp_path, ctracking):
    (tmp_path / "prog.py").write_text("import sys\nprint('ctypes' in sys.modules)\n")
    plain = subprocess.run([sys.executable, "prog.py"], cwd=str(tmp_path), env=env_with(),
                           capture_output=True, text=True, timeout=60)
    tracked = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--strategy", "native", "--data-file",
         str(tmp_path / "d.json"), "prog.py"],
        cwd=str(tmp_path), env=env_with(GLOBALHOOK_CORE="c"), capture_output=True, text=True, timeout=60,
    )
    assert tracked.returncode == 0, tracked.stderr
    assert tracked.stdout == plain.stdout == "False\n"


def test_counts_after_clear_and_forget_land_in_the_new_counters():
    """Recorder.clear() and forget_file() drop counters; later lookups must be counted afresh
    (the free-threaded compiled core caches counters outside the tables and must notice)."""
    import builtins

    namespace = tracking.TrackingDict(__builtins__=builtins, X=1)
    exec(compile("def f():\n    return X + len('a')\n", "<clear-test>", "exec"), namespace)
    f = dict.__getitem__(namespace, "f")
    for _ in range(3):
        f()
    assert tracking.RECORDER.reads(f) == {"X": 3, "len": 3}
    tracking.RECORDER.clear()
    f()
    f()
    assert tracking.RECORDER.reads(f) == {"X": 2, "len": 2}
    tracking.RECORDER.forget_file("<clear-test>")
    f()
    assert tracking.RECORDER.reads(f) == {"X": 1, "len": 1}
    tracking.RECORDER.forget_file("<clear-test>")


@pytest.mark.skipif(not KNOWN or shutil.which("gcc") is None, reason="needs gcc and a CPython the core knows")
def test_the_core_compiles_without_warnings_under_wall_wextra():
    """-Wall -Wextra -Werror with this interpreter's headers and flags: a warning on any version is a bug."""
    flags = (sysconfig.get_config_var("CFLAGS") or "").split()
    completed = subprocess.run(
        ["gcc", *flags, "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
         "-I" + sysconfig.get_paths()["include"], str(REPO / "globalhook" / "_ctracking.c")],
        capture_output=True, text=True,
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.skipif(not KNOWN or shutil.which("clang") is None,
                    reason="needs clang (apt-get install clang) and a CPython the core knows")
def test_the_core_compiles_cleanly_with_clang_and_uses_nothing_msvc_lacks():
    """clang -Wall -Wextra, and in our own file no variable-length array and no GNU extension.

    MSVC has neither VLAs nor GNU C (statement expressions, zero-length
    arrays, case ranges, ``?:`` without a middle operand...): ``-Wvla -Wgnu``
    finds them.  CPython's own internal headers use some GNU extensions that
    its MSVC build tolerates; only diagnostics in _ctracking.c count.
    """
    source = REPO / "globalhook" / "_ctracking.c"
    flags = (sysconfig.get_config_var("CFLAGS") or "").split()
    command = ["clang", *flags, "-Qunused-arguments", "-Wno-unknown-warning-option", "-fsyntax-only",
               "-I" + sysconfig.get_paths()["include"], str(source)]
    strict = subprocess.run([*command, "-Wall", "-Wextra", "-Werror"], capture_output=True, text=True)
    assert strict.returncode == 0, strict.stderr
    portable = subprocess.run([*command, "-Wvla", "-Wgnu"], capture_output=True, text=True)
    ours = [line for line in portable.stderr.splitlines()
            if line.startswith(str(source)) and (": warning:" in line or ": error:" in line)]
    assert portable.returncode == 0 and not ours, portable.stderr
