"""A tracked module behaves like an untracked one: fidelity, per strategy."""

from __future__ import annotations

import gc
import importlib
import inspect
import os
import pickle
import sys
import traceback
import types
import weakref

import pytest

import globalhook
from globalhook import modules
from globalhook.modules import StrategyError, select_strategy
from globalhook.tracking import TrackingDict

PACKAGE = {
    "{p}/__init__.py": '''
        """Package doc."""
        from .core import compute, Thing
        VERSION = "1"
    ''',
    "{p}/core.py": '''
        import functools
        FACTOR = 2

        def compute(x):
            return x * FACTOR + len("ab")

        class Thing:
            def __init__(self, v):
                self.v = v
            def __eq__(self, other):
                return isinstance(other, Thing) and other.v == self.v

        def boom():
            raise ValueError("boom from " + __name__)

        def set_global(v):
            global LATE
            LATE = v

        def read_late():
            return LATE
    ''',
    "{p}/sub/__init__.py": "from ..core import FACTOR as F\n",
    "{p}/sub/leaf.py": "from . import F\ndef leaf():\n    return F\n",
    "{p}/lazy.py": '''
        def __getattr__(name):
            if name == "dynamic":
                return 42
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        def __dir__():
            return ["dynamic", "extra"]
    ''',
}


@pytest.fixture
def pkg(src, install, unique):
    src({k.format(p=unique): v for k, v in PACKAGE.items()})
    hook = install(include=[unique])
    package = importlib.import_module(unique)
    return package, hook


class TestIdentity:
    def test_namespace_is_the_functions_globals(self, pkg, strategy):
        package, hook = pkg
        core = sys.modules[package.__name__ + ".core"]
        assert type(core.__dict__) is TrackingDict
        for func in (core.compute, core.boom, core.Thing.__init__):
            assert func.__globals__ is core.__dict__
        assert hook.strategy == strategy

    def test_is_a_module(self, pkg, strategy):
        package, _ = pkg
        assert isinstance(package, types.ModuleType)
        assert inspect.ismodule(package)
        if strategy == "native":  # attribute reads recorded: a module subclass named "module"
            from globalhook.tracking import AttributeModule

            assert type(package) is AttributeModule
            assert type(package).__name__ == "module" and issubclass(AttributeModule, types.ModuleType)

    def test_repr_like_a_normal_module(self, pkg):
        package, _ = pkg
        assert repr(package) == f"<module {package.__name__!r} from {package.__file__!r}>"

    def test_globals_added_later_are_seen_both_ways(self, pkg):
        package, _ = pkg
        core = sys.modules[package.__name__ + ".core"]
        core.FACTOR = 10
        assert core.compute(1) == 12
        core.set_global("late")
        assert core.LATE == "late"
        assert core.read_late() == "late"
        assert globalhook.reads(core.read_late) == {"LATE": 1}

    def test_weak_references(self, pkg):
        package, _ = pkg
        ref = weakref.ref(package)
        assert ref() is package


class TestImportMachinery:
    def test_attributes_like_an_untracked_import(self, pkg):
        package, _ = pkg
        core = sys.modules[package.__name__ + ".core"]
        assert core.__file__.endswith(os.path.join(package.__name__, "core.py"))
        assert core.__spec__.name == core.__name__
        assert core.__spec__.origin == core.__file__
        assert core.__package__ == package.__name__
        assert package.__path__ == [os.path.dirname(package.__file__)]
        assert "import functools\nFACTOR = 2\n" in core.__loader__.get_source(core.__name__)
        assert package.__doc__ == "Package doc."

    def test_loader_is_the_plain_one(self, pkg):
        # As untracked: what the path finder gave, in both places, after reload too.
        package, _ = pkg
        core = sys.modules[package.__name__ + ".core"]
        for module in (package, core):
            assert type(module.__loader__) is importlib.machinery.SourceFileLoader
            assert module.__spec__.loader is module.__loader__
        reloaded = importlib.reload(core)
        assert type(reloaded.__loader__) is importlib.machinery.SourceFileLoader
        assert type(reloaded.__spec__.loader) is importlib.machinery.SourceFileLoader
        assert type(reloaded.__dict__) is TrackingDict
        assert core.compute(1) == 4
        assert globalhook.reads(core.compute) == {"FACTOR": 1, "len": 1}

    def test_package_data_readers_work(self, src, install, unique):
        import importlib.resources
        import pkgutil

        src({f"{unique}/__init__.py": "", f"{unique}/data.txt": "payload\n"})
        install(include=[unique])
        package = importlib.import_module(unique)
        assert type(package.__dict__) is TrackingDict
        assert pkgutil.get_data(unique, "data.txt") == b"payload\n"
        assert (importlib.resources.files(unique) / "data.txt").read_text() == "payload\n"

    def test_subpackages_and_relative_imports(self, pkg):
        package, _ = pkg
        leaf = importlib.import_module(package.__name__ + ".sub.leaf")
        assert type(leaf.__dict__) is TrackingDict
        assert leaf.leaf() == 2
        assert globalhook.reads(leaf.leaf) == {"F": 1}

    def test_tracebacks_show_source_lines(self, pkg):
        package, _ = pkg
        core = sys.modules[package.__name__ + ".core"]
        with pytest.raises(ValueError) as info:
            core.boom()
        text = "".join(traceback.format_exception(info.type, info.value, info.tb))
        assert 'raise ValueError("boom from " + __name__)' in text
        assert inspect.getsource(core.boom).startswith("def boom():")

    def test_bytecode_cache_is_written_and_reused(self, src, install, unique, monkeypatch):
        monkeypatch.setattr(sys, "dont_write_bytecode", False)
        src({k.format(p=unique): v for k, v in PACKAGE.items()})
        install(include=[unique])
        package = importlib.import_module(unique)
        core = sys.modules[package.__name__ + ".core"]
        assert os.path.exists(core.__cached__)
        stamp = os.stat(core.__cached__).st_mtime_ns
        del sys.modules[core.__name__]
        again = importlib.import_module(core.__name__)
        assert type(again.__dict__) is TrackingDict
        assert os.stat(again.__cached__).st_mtime_ns == stamp

    def test_reload(self, pkg, src):
        package, _ = pkg
        core = sys.modules[package.__name__ + ".core"]
        namespace = core.__dict__
        (src.root / package.__name__ / "core.py").write_text("FACTOR = 5\ndef compute(x):\n    return x * FACTOR\n")
        importlib.invalidate_caches()
        os.utime(src.root / package.__name__ / "core.py", ns=(1, 2_000_000_000_000_000_000))
        reloaded = importlib.reload(core)
        assert reloaded is core and core.__dict__ is namespace
        assert core.compute(2) == 10
        assert globalhook.reads(core.compute) == {"FACTOR": 1}

    def test_sourceless_module(self, src, install, unique):
        import py_compile

        root = src({f"{unique}_src.py": "X = 7\ndef f():\n    return X\n"})
        py_compile.compile(str(root / f"{unique}_src.py"), cfile=str(root / f"{unique}.pyc"))
        os.remove(root / f"{unique}_src.py")
        importlib.invalidate_caches()
        install(include=[unique])
        mod = importlib.import_module(unique)
        assert type(mod.__dict__) is TrackingDict
        assert type(mod.__loader__) is importlib.machinery.SourcelessFileLoader
        assert mod.__spec__.loader is mod.__loader__
        assert mod.f() == 7
        assert globalhook.reads(mod.f) == {"X": 1}


class TestModuleFeatures:
    def test_pep562_getattr_and_dir(self, pkg):
        package, _ = pkg
        lazy = importlib.import_module(package.__name__ + ".lazy")
        assert lazy.dynamic == 42
        with pytest.raises(AttributeError, match="has no attribute 'absent'"):
            lazy.absent
        assert dir(lazy) == ["dynamic", "extra"]

    def test_missing_attribute_message(self, pkg):
        package, _ = pkg
        with pytest.raises(AttributeError) as info:
            package.core.nothing_here
        assert f"module '{package.__name__}.core' has no attribute 'nothing_here'" in str(info.value)

    def test_class_assignment_to_module_subclass(self, src, install, unique):
        src(
            {
                f"{unique}.py": '''
                    import sys, types
                    class Special(types.ModuleType):
                        @property
                        def answer(self):
                            return 41 + 1
                    sys.modules[__name__].__class__ = Special
                '''
            }
        )
        install(include=[unique])
        mod = importlib.import_module(unique)
        assert mod.answer == 42
        assert isinstance(mod, mod.Special)
        assert "__class__" not in mod.__dict__
        assert type(mod.__dict__) is TrackingDict

    def test_class_assignment_with_super_calls(self, src, install, unique):
        # Zero-argument super() in the subclass (and in its module-subclass base)
        # once reached ModuleType's own methods, which refuse a proxy.
        src(
            {
                f"{unique}.py": '''
                    import sys, types
                    SEEN = []
                    class Base(types.ModuleType):
                        def __setattr__(self, name, value):
                            SEEN.append(("base", name))
                            super().__setattr__(name, value)
                    class Sub(Base):
                        def __setattr__(self, name, value):
                            SEEN.append(("sub", name))
                            super().__setattr__(name, value)
                        def __getattribute__(self, name):
                            return super().__getattribute__(name)
                        @property
                        def double(self):
                            return 2 * super().__getattribute__("Q")
                    sys.modules[__name__].__class__ = Sub
                '''
            }
        )
        install(include=[unique])
        mod = importlib.import_module(unique)
        mod.Q = 1
        assert mod.Q == 1 and mod.double == 2
        assert mod.SEEN == [("sub", "Q"), ("base", "Q")]
        assert isinstance(mod, mod.Sub) and isinstance(mod, mod.Base)
        assert type(mod.__dict__) is TrackingDict
        mod.__class__ = types.ModuleType  # through Sub.__setattr__, as for a real module
        assert mod.SEEN[2:] == [("sub", "__class__"), ("base", "__class__")]
        mod.R = 2
        assert mod.R == 2 and len(mod.SEEN) == 4
        assert not isinstance(mod, mod.Sub)

    def test_lazy_loader(self, src, install, unique, strategy):
        # LazyLoader sets __class__ to a module subclass whose __getattribute__
        # uses super(); the module then gets the plain loader, as untracked.
        import importlib.util

        src({f"{unique}.py": "X = 3\ndef f():\n    return X\n"})
        install(include=[unique])
        spec = importlib.util.find_spec(unique)
        spec.loader = lazy = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        try:
            lazy.exec_module(module)
            if strategy == "proxy" and sys.version_info >= (3, 13):
                # From 3.13 LazyLoader calls ModuleType.__getattribute__(module, ...)
                # itself, which only a real module passes (see docs/explanation/known-differences.md).
                with pytest.raises(TypeError, match="__getattribute__"):
                    module.f
                return
            assert module.f() == 3
            assert type(module.__spec__.loader) is importlib.machinery.SourceFileLoader
            assert type(module.__dict__) is TrackingDict
            assert globalhook.reads(module.f) == {"X": 1}
        finally:
            del sys.modules[unique]

    def test_pep562_getattr_sees_its_caller(self, src, install, unique):
        # The module's __getattr__ is called from the frame that read the
        # attribute, as for a real module: warnings point at that line.
        src(
            {
                f"{unique}.py": '''
                    import sys, warnings
                    def __getattr__(name):
                        if name == "old":
                            warnings.warn("old is deprecated", DeprecationWarning, stacklevel=2)
                            return sys._getframe(1).f_code.co_filename
                        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
                '''
            }
        )
        install(include=[unique])
        mod = importlib.import_module(unique)
        with pytest.warns(DeprecationWarning) as caught:
            caller_file = mod.old
        assert caller_file == __file__
        assert caught[0].filename == __file__
        assert not hasattr(mod, "absent")
        with pytest.raises(AttributeError) as info:
            mod.absent
        assert str(info.value) == f"module {unique!r} has no attribute 'absent'"

    def test_missing_attribute_like_a_real_module(self, src, install, unique):
        src({f"{unique}.py": "X = 1\n"})
        install(include=[unique])
        mod = importlib.import_module(unique)
        with pytest.raises(AttributeError) as info:
            mod.absent
        plain = types.ModuleType(unique)
        with pytest.raises(AttributeError) as expected:
            plain.absent
        assert str(info.value) == str(expected.value)
        frames = [entry.filename for entry in traceback.extract_tb(info.tb)]
        assert frames == [__file__]  # no frame of globalhook's
        assert "X" in dir(mod) and "__name__" in dir(mod)

    def test_pickling_functions_classes_instances(self, pkg):
        package, _ = pkg
        core = sys.modules[package.__name__ + ".core"]
        assert pickle.loads(pickle.dumps(core.compute)) is core.compute
        assert pickle.loads(pickle.dumps(core.Thing)) is core.Thing
        assert pickle.loads(pickle.dumps(core.Thing(3))) == core.Thing(3)
        with pytest.raises(TypeError, match="cannot pickle 'module' object"):
            pickle.dumps(core)


class TestNativeOnly:
    def test_real_module_for_c_code(self, pkg, strategy):
        if strategy != "native":
            pytest.skip("the proxy is not a real module (documented)")
        package, _ = pkg
        # ModuleType's own C methods accept only real modules.
        assert types.ModuleType.__repr__(package).startswith("<module")

    def test_many_native_modules_are_freed(self):
        select_strategy("native")
        refs = []
        for i in range(2000):
            module = modules.new_native_module(f"m{i}")
            exec("def f():\n    return 1\n", module.__dict__)
            refs.append(weakref.ref(module))
            del module
        gc.collect()
        assert all(r() is None for r in refs)


class TestStrategySelection:
    def test_native_works_here(self):
        strategy, factory, warning = select_strategy("native")
        assert (strategy, warning) == ("native", None)

    def test_failed_probe_falls_back_with_one_warning(self, monkeypatch):
        def broken():
            raise StrategyError("simulated")

        monkeypatch.setattr(modules, "_swap", None)
        monkeypatch.setattr(modules, "_make_swapper", broken)
        strategy, factory, warning = select_strategy("native")
        assert strategy == "proxy"
        assert "native strategy is not usable here" in warning and "simulated" in warning
        assert "\n" not in warning

    def test_nothing_can_track_is_an_error(self, monkeypatch):
        monkeypatch.setattr(modules, "_observable", lambda: "simulated exact-dict CPython")
        with pytest.raises(StrategyError, match="cannot track"):
            select_strategy("native")

    def test_unknown_strategy(self):
        with pytest.raises(ValueError, match="unknown strategy"):
            select_strategy("fast")
