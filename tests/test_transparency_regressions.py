"""Regressions found by running real projects' suites under tracking (tools/transparency.py).

Each test reproduces, in a few lines, a difference between a plain and a
tracked run that the harness found, and names the project whose suite showed it.
"""

from __future__ import annotations

import copyreg
import importlib
import io
import pickle
import sys
import types

import pytest


def _module_by_reference(module):
    return importlib.import_module, (module.__name__,)


class ModulePickler(pickle.Pickler):
    """Pickles modules by reference through a dispatch table keyed by type, like cloudpickle."""

    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[types.ModuleType] = _module_by_reference


def dumps_with_modules(obj) -> bytes:
    out = io.BytesIO()
    ModulePickler(out).dump(obj)
    return out.getvalue()


class TestPicklingModules:
    """cloudpickle and attrs: ``cloudpickle.dumps`` of a function whose globals hold a module.

    Picklers find their reducer with ``dispatch_table.get(type(obj))``: a
    tracked module must be exactly ``types.ModuleType`` for that to work, or
    of a type the pickler knows.  With attribute reads recorded (the
    default) tracked modules are of AttributeModule, which globalhook
    registers with cloudpickle and dill (tests/test_attribute_reads.py); a
    pickler it does not know misses them (documented).  Here: attributes off.
    """

    @pytest.fixture
    def tracked(self, src, install, unique):
        src({f"{unique}.py": "import os\ndef where():\n    return os.sep\n"})
        install(include=[unique], attributes=False)
        return importlib.import_module(unique)

    def test_native_module_is_exactly_moduletype(self, tracked, strategy):
        if strategy != "native":
            pytest.skip("the proxy strategy's modules are not of a module type (documented)")
        assert type(tracked) is types.ModuleType

    def test_dispatch_table_pickles_a_tracked_module(self, tracked, strategy):
        if strategy != "native":
            pytest.xfail("proxy: type(module) is the proxy class, so exact-type dispatch misses it (documented)")
        assert pickle.loads(dumps_with_modules(tracked)) is tracked
        assert pickle.loads(dumps_with_modules({"module": tracked, "f": tracked.where}))["module"] is tracked

    def test_plain_pickle_still_refuses_a_module(self, tracked):
        with pytest.raises(TypeError, match="cannot pickle 'module' object"):
            pickle.dumps(tracked)
        with pytest.raises(TypeError, match="cannot pickle 'module' object"):
            pickle.dumps(sys)  # the same message as for any module


class TestModulePicklersUnderEveryStrategy:
    """``--strategy proxy`` + ``dill.dumps(module)`` raised TypeError (issue 17, item 20).

    dill and cloudpickle pickle a module by reference through a table keyed by
    ``type(module)``; the proxy strategy's modules are of the proxy class.
    Differential: the same program under plain python and under ``globalhook run``.
    """

    PROGRAM = (
        "import sys, mod\n"
        "pickler = __import__(sys.argv[1])\n"
        "print(pickler.loads(pickler.dumps(mod)) is mod, pickler.loads(pickler.dumps(mod.read))())\n"
    )

    @pytest.mark.parametrize("pickler", ["dill", "cloudpickle"])
    @pytest.mark.parametrize("strategy", ["native", "proxy"])
    def test_same_as_untracked(self, tmp_path, pickler, strategy):
        import subprocess

        pytest.importorskip(pickler)
        from conftest import core_env

        (tmp_path / "mod.py").write_text("X = 21\ndef read():\n    return X * 2\n")
        (tmp_path / "prog.py").write_text(self.PROGRAM)
        env = core_env("auto")

        def output(*command):
            result = subprocess.run(
                [sys.executable, *command, "prog.py", pickler], cwd=str(tmp_path), env=env,
                capture_output=True, text=True, timeout=120,
            )
            return result.returncode, result.stdout, result.stderr

        plain = output()
        tracked = output("-m", "globalhook", "run", "--strategy", strategy, "--include", "mod")
        assert plain == (0, "True 42\n", "")
        assert tracked == plain
