"""The import hook: which modules it tracks, and that other import hooks keep working."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import textwrap
import types

import pytest

import globalhook
from globalhook.finder import TrackingFinder, installed_hook
from globalhook.tracking import RECORDER, TrackingDict
from conftest import read_data

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tracked(module) -> bool:
    return isinstance(vars(module), TrackingDict)


class TestSelection:
    def test_package_and_submodules_but_not_lookalikes(self, src, install, unique):
        src({f"{unique}/__init__.py": "", f"{unique}/sub.py": "", f"{unique}_other.py": ""})
        install(include=[unique])
        assert tracked(importlib.import_module(unique))
        assert tracked(importlib.import_module(f"{unique}.sub"))
        assert not tracked(importlib.import_module(f"{unique}_other"))

    def test_exclude_wins(self, src, install, unique):
        src({f"{unique}/__init__.py": "", f"{unique}/keep.py": "", f"{unique}/skip.py": ""})
        install(include=[unique], exclude=[f"{unique}.skip"])
        assert tracked(importlib.import_module(f"{unique}.keep"))
        assert not tracked(importlib.import_module(f"{unique}.skip"))

    def test_wildcards(self, src, install, unique):
        src({f"{unique}/__init__.py": "", f"{unique}/test_a.py": "", f"{unique}/core.py": ""})
        install(include=[f"{unique}.test_*"])
        assert tracked(importlib.import_module(f"{unique}.test_a"))
        assert not tracked(importlib.import_module(f"{unique}.core"))
        assert not tracked(sys.modules[unique])

    def test_default_path_rule(self, src, install, unique, tmp_path):
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / f"{unique}_out.py").write_text("")
        sys.path.insert(0, str(outside))
        try:
            src({f"{unique}_in.py": ""})
            install(root=str(src.root))
            assert tracked(importlib.import_module(f"{unique}_in"))
            assert not tracked(importlib.import_module(f"{unique}_out"))
        finally:
            sys.path.remove(str(outside))
            sys.modules.pop(f"{unique}_out", None)

    def test_stdlib_only_when_named(self, install):
        name = "colorsys"
        sys.modules.pop(name, None)
        try:
            install(include=["*"])
            assert not tracked(importlib.import_module(name))
            installed_hook().uninstall()
            sys.modules.pop(name, None)
            install(include=[name])
            module = importlib.import_module(name)
            assert tracked(module)
            assert module.rgb_to_hsv(1, 0, 0) == (0.0, 1.0, 1)
        finally:
            sys.modules.pop(name, None)

    def test_never_itself(self, install):
        install(include=["globalhook", "*"])
        sys.modules.pop("globalhook.limits", None)
        module = importlib.import_module("globalhook.limits")
        assert not tracked(module)

    def test_namespace_packages_and_extensions_pass_through(self, src, install, unique):
        src({f"{unique}/inner.py": "X = 1\n"})  # no __init__: a namespace package
        install(include=["*"])
        namespace = importlib.import_module(unique)
        assert not tracked(namespace)
        assert tracked(importlib.import_module(f"{unique}.inner"))
        # An extension module is never touched, even when named.
        for name in ("_lsprof", "_bisect", "_json"):
            if name not in sys.modules:
                break
        else:
            pytest.skip("no unimported extension module")
        installed_hook().uninstall()
        install(include=[name])
        try:
            ext = importlib.import_module(name)
            assert not tracked(ext)
        finally:
            sys.modules.pop(name, None)


class TestHookLifecycle:
    def test_context_manager_and_uninstall(self, src, strategy, unique):
        src({f"{unique}_a.py": "", f"{unique}_b.py": ""})
        with globalhook.install(include=[f"{unique}_*"], strategy=strategy) as hook:
            assert hook.installed and installed_hook() is hook
            assert tracked(importlib.import_module(f"{unique}_a"))
        assert not hook.installed and installed_hook() is None
        assert not any(isinstance(f, TrackingFinder) for f in sys.meta_path)
        assert not tracked(importlib.import_module(f"{unique}_b"))

    def test_second_install_is_refused(self, install):
        install(include=["x"])
        with pytest.raises(RuntimeError, match="already installed"):
            globalhook.install(include=["y"])

    def test_bad_pattern(self):
        with pytest.raises(globalhook.PatternError):
            globalhook.install(include=[""])
        assert installed_hook() is None

    @pytest.mark.parametrize("argument", ["include", "exclude"])
    @pytest.mark.parametrize("value", ["pkg", b"pkg"])
    def test_a_single_string_is_not_a_list_of_patterns(self, argument, value):
        # Taken character by character it would silently track 'p', 'k', 'g'.
        with pytest.raises(TypeError, match=f"{argument} takes a list of module patterns"):
            globalhook.install(**{argument: value})
        assert installed_hook() is None
        assert not any(isinstance(f, TrackingFinder) for f in sys.meta_path)

    def test_already_imported_modules_are_attached(self, src, install, unique, attachable):
        src({f"{unique}.py": "X = 1\ndef f():\n    return X\n"})
        module = importlib.import_module(unique)
        install(include=[unique])
        assert unique not in RECORDER.not_tracked
        assert type(module.__dict__) is TrackingDict
        module.f()
        assert globalhook.reads(module.f) == {"X": 1}


class _ForeignLoader(importlib.machinery.SourceFileLoader):
    """Stands in for another tool's loader (like pytest's rewriter): it marks what it ran."""

    def exec_module(self, module):
        module.__dict__["ran_by_foreign_loader"] = True
        super().exec_module(module)


class _ForeignFinder(importlib.abc.MetaPathFinder):
    def __init__(self, prefix):
        self.prefix = prefix

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(self.prefix):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname, spec.origin, loader=_ForeignLoader(fullname, spec.origin)
        )


class _ImportingFinder(importlib.abc.MetaPathFinder):
    """A finder that imports while finding: must not send the hook into recursion."""

    def __init__(self, target):
        self.target = target
        self.calls = 0

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.target:
            self.calls += 1
            importlib.import_module(self.target + "_dep")
        return None


class TestOtherHooks:
    @pytest.mark.parametrize("position", ["before", "after"])
    def test_foreign_loader_keeps_working_and_is_tracked(self, src, install, unique, position):
        src({f"{unique}.py": "X = 3\ndef f():\n    return X\n"})
        foreign = _ForeignFinder(unique)
        hook = install(include=[unique])
        if position == "before":
            sys.meta_path.insert(0, foreign)
            # A finder put in front is adopted at the next import that reaches
            # ours (as pytest's rewriter is, during pytest's start-up imports).
            importlib.util.find_spec(f"{unique}_not_there")
        else:
            sys.meta_path.insert(sys.meta_path.index(hook.finder) + 1, foreign)
        try:
            module = importlib.import_module(unique)
        finally:
            sys.meta_path.remove(foreign)
        assert module.ran_by_foreign_loader
        assert tracked(module)
        assert type(module.__loader__) is _ForeignLoader  # the other tool's loader, as it made it
        assert module.__spec__.loader is module.__loader__
        assert module.f() == 3
        assert globalhook.reads(module.f) == {"X": 1}

    def test_adopted_finder_is_released(self, install, unique):
        foreign = _ForeignFinder(unique)
        hook = install(include=[unique])
        sys.meta_path.insert(0, foreign)
        try:
            importlib.util.find_spec(f"{unique}_nothing")  # the hook sees a finder in front
            assert "find_spec" in vars(foreign)
            hook.uninstall()
            assert "find_spec" not in vars(foreign)
        finally:
            sys.meta_path.remove(foreign)

    def test_finder_behind_serves_the_module(self, src, install, unique, tmp_path):
        # Like an editable install's finder: the module lives off sys.path.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / f"{unique}.py").write_text("Y = 1\ndef g():\n    return Y\n")

        class EditableFinder(importlib.abc.MetaPathFinder):
            def find_spec(self, fullname, path=None, target=None):
                if fullname == unique:
                    return importlib.util.spec_from_file_location(fullname, str(elsewhere / f"{unique}.py"))
                return None

        editable = EditableFinder()
        sys.meta_path.append(editable)
        try:
            install(include=[unique])
            module = importlib.import_module(unique)
        finally:
            sys.meta_path.remove(editable)
            sys.modules.pop(unique, None)
        assert tracked(module) and module.g() == 1

    def test_import_inside_find_spec_does_not_recurse(self, src, install, unique):
        src({f"{unique}.py": "", f"{unique}_dep.py": ""})
        importing = _ImportingFinder(unique)
        hook = install(include=[f"{unique}*"])
        sys.meta_path.insert(sys.meta_path.index(hook.finder) + 1, importing)
        try:
            module = importlib.import_module(unique)
        finally:
            sys.meta_path.remove(importing)
        assert importing.calls == 1
        assert tracked(module)
        assert f"{unique}_dep" in sys.modules

    def test_loader_that_makes_its_own_module_is_noted(self, install, unique):
        class OwnModuleLoader:
            def create_module(self, spec):
                return types.ModuleType(spec.name)

            def exec_module(self, module):
                module.made_here = True

        class Finder:
            def find_spec(self, fullname, path=None, target=None):
                if fullname == unique:
                    return importlib.util.spec_from_loader(fullname, OwnModuleLoader())
                return None

        hook = install(include=[unique])
        finder = Finder()
        sys.meta_path.insert(sys.meta_path.index(hook.finder) + 1, finder)
        try:
            module = importlib.import_module(unique)
        finally:
            sys.meta_path.remove(finder)
            sys.modules.pop(unique, None)
        assert module.made_here and not tracked(module)
        assert "creates its own module object" in RECORDER.not_tracked[unique]


def test_pytest_assertion_rewriting_meets_the_hook(tmp_path, strategy):
    """pytest's rewriter and our hook on the same test modules: both must work."""
    package = tmp_path / "rwpkg"
    (package / "tests").mkdir(parents=True)
    (package / "__init__.py").write_text("LIMIT = 2\ndef limit():\n    return LIMIT\n")
    (package / "tests" / "__init__.py").write_text("")
    (package / "tests" / "test_it.py").write_text(
        textwrap.dedent(
            """
            import rwpkg
            EXPECTED = 3

            def test_passes():
                assert rwpkg.limit() == 2

            def test_fails_with_introspection():
                assert rwpkg.limit() == EXPECTED
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=REPO, PYTHONDONTWRITEBYTECODE="1")
    data = tmp_path / "data.json"
    result = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--include", "rwpkg", "--strategy", strategy,
         "--data-file", str(data), "-m", "pytest", "-p", "no:cacheprovider", "rwpkg/tests/test_it.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    assert "assert 2 == 3" in result.stdout  # the rewriter's introspection still works
    import json

    lookups = read_data(data)["lookups"]
    seen = {(e["module"], e["function"], e["name"], e["kind"]) for e in lookups}
    assert ("rwpkg.tests.test_it", "test_fails_with_introspection", "EXPECTED", "global") in seen
    assert ("rwpkg", "limit", "LIMIT", "global") in seen
