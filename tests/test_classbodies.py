"""Class bodies: their reads of module globals are recorded, and classes come out exactly as untracked.

The differential test runs tests/probes/class_forms.py (dozens of class forms:
metaclasses and their namespaces, errors, __set_name__, __init_subclass__,
__classcell__, dataclasses, enums, typing constructs, slots, nesting, exec,
threads) under plain ``python`` and under ``python -m globalhook run`` with
each core, and compares what it printed, section by section.
"""

from __future__ import annotations

import builtins
import collections
import gc
import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import globalhook
from conftest import c_core_built, core_env, read_data
from globalhook import classbodies, limits, tracking

REPO = Path(__file__).resolve().parent.parent
PROBE = REPO / "tests" / "probes" / "class_forms.py"


def env_with(core: str) -> dict:
    return core_env(core, PYTHONDONTWRITEBYTECODE="1")


@pytest.fixture(params=["c", "python"], scope="module")
def core(request) -> str:
    if request.param == "c" and not c_core_built():
        if os.environ.get("GLOBALHOOK_REQUIRE_C"):
            pytest.fail("GLOBALHOOK_REQUIRE_C is set but the compiled core is not built")
        pytest.skip("the compiled core is not built here")
    return request.param


def run(folder: Path, script: str, core: "str | None") -> "tuple[str, dict | None]":
    """Run ``script`` plainly (core None) or tracked with ``core``: (stdout, data)."""
    if core is None:
        command = [sys.executable, script]
        env = env_with("python")
    else:
        command = [sys.executable, "-m", "globalhook", "run", "--data-file", f"{core}.json", script]
        env = env_with(core)
    completed = subprocess.run(command, cwd=str(folder), env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    data = read_data((folder / f"{core}.json")) if core else None
    return completed.stdout, data


def sections(text: str) -> "dict[str, list[str]]":
    found: "dict[str, list[str]]" = {}
    current = found.setdefault("", [])
    for line in text.splitlines():
        if line.startswith("== "):
            current = found.setdefault(line[3:], [])
        else:
            current.append(line)
    return found


def reads_of(data: dict, function: str) -> "set[tuple[str, str, int]]":
    return {
        (e["name"], e["kind"], e["count"])
        for e in data["lookups"]
        if e["function"] == function and e["kind"] in ("global", "builtin", "missing")
    }


@pytest.fixture(scope="module")
def class_forms(tmp_path_factory) -> "tuple[Path, dict[str, list[str]]]":
    folder = tmp_path_factory.mktemp("class_forms")
    (folder / "class_forms.py").write_text(PROBE.read_text())
    plain, _ = run(folder, "class_forms.py", None)
    return folder, sections(plain)


def test_every_class_form_comes_out_as_untracked(class_forms, core):
    folder, plain = class_forms
    out, data = run(folder, "class_forms.py", core)
    # The pure-Python core's __build_class__ and shim are Python functions: a class
    # body (and a metaclass) sees them as the frame above, and before 3.11 a traceback
    # has one entry of __build_class__ (docs/explanation/known-differences.md).  Everything else
    # is the same.
    differs = set()
    if core == "python":
        differs.add("frames")
        if sys.version_info < (3, 11):
            out, extra = re.subn(r", \('_build_class', \d+\)", "", out)
            assert extra == 5  # Broken, and the four of the "tracebacks" section
    tracked = sections(out)
    assert list(tracked) == list(plain)
    for name, lines in plain.items():
        if name not in differs:
            assert tracked[name] == lines, name
    if core == "c":
        assert tracked["frames"][-3:] == plain["frames"][-3:]  # the builtin looks like the original
    # ... and the class bodies' reads were recorded.
    assert {("DEFAULT_TIMEOUT", "global", 1), ("X", "global", 1), ("len", "builtin", 1), ("UNDEFINED_NAME", "missing", 1)} <= reads_of(data, "Broken")
    assert ("G", "global", 1) in reads_of(data, "Color")  # enum's own namespace
    assert ("G", "global", 1) in reads_of(data, "InOwn")  # a namespace class of the program's
    assert ("G", "global", 1) in reads_of(data, "InUserMapping")  # a mapping that is no dict
    assert ("auto_thing", "global", 1) not in reads_of(data, "InDefaulting")  # __missing__ answered
    assert not reads_of(data, "InOrdered")  # OrderedDict: not observable (limits says so)
    assert ("G", "global", 80) in reads_of(data, "in_thread.<locals>.Threaded")
    assert ("G", "global", 1) in reads_of(data, "FromExec")
    assert ("DEFAULT_TIMEOUT", "global", 1) in reads_of(data, "Outer.Inner.Innermost")
    names = {name for name, _, _ in reads_of(data, "make.<locals>.InFunction")}
    assert names == {"G", "range"}  # closure variables are no globals
    run_info = data["runs"][0]
    assert not any(note.startswith("class bodies reading module globals") for note in run_info["unobservable"])


CONFIG = """\
DEFAULT_TIMEOUT = 30
X = [1, 2]
try:
    class Config:
        timeout = DEFAULT_TIMEOUT
        n = len(X)
        y = UNDEFINED_NAME
except NameError as error:
    print(error)
"""


def test_a_class_body_reads_global_builtin_and_missing_names(tmp_path, core):
    (tmp_path / "config.py").write_text(CONFIG)
    out, data = run(tmp_path, "config.py", core)
    assert out == "name 'UNDEFINED_NAME' is not defined\n"
    entries = [e for e in data["lookups"] if e["function"] == "Config"]
    assert {(e["module"], e["name"], e["kind"], e["count"], e["line"]) for e in entries} == {
        ("__main__", "DEFAULT_TIMEOUT", "global", 1, 4),
        ("__main__", "X", "global", 1, 4),
        ("__main__", "len", "builtin", 1, 4),
        ("__main__", "UNDEFINED_NAME", "missing", 1, 4),
    }


# -- in this process, with the core the suite runs on ---------------------------------------


def test_install_replaces_build_class_and_uninstall_gives_it_back(install):
    original = builtins.__build_class__
    hook = install(include=["nothing_matches_this"])
    if classbodies.unobservable_reason() is not None:
        assert builtins.__build_class__ is original
        return
    ours = builtins.__build_class__
    assert ours is not original and classbodies.installed()
    assert (ours.__name__, ours.__qualname__, ours.__module__) == ("__build_class__", "__build_class__", "builtins")
    assert ours.__doc__ == original.__doc__
    if tracking.CORE == "c":
        assert repr(ours) == repr(original) and ours.__self__ is original.__self__
    hook.uninstall()
    assert builtins.__build_class__ is original and not classbodies.installed()


def test_untracked_classes_are_handed_over_untouched(install):
    install(include=["nothing_matches_this"])
    seen = []

    class Meta(type):
        def __new__(mcs, name, bases, namespace, **kwds):
            seen.append((type(namespace), sorted(kwds)))
            return super().__new__(mcs, name, bases, namespace)

        def __init__(cls, name, bases, namespace, **kwds):
            super().__init__(name, bases, namespace)

    class Plain(metaclass=Meta, flag=1):
        kind = type(locals())

    assert Plain.kind is dict and seen == [(dict, ["flag"])]
    with pytest.raises(TypeError, match="not enough arguments"):
        builtins.__build_class__(lambda: None)
    with pytest.raises(TypeError, match="func must be a function"):
        builtins.__build_class__(1, "A")


@pytest.fixture
def tracked_module(src, install, unique):
    def make(source: str):
        src({f"{unique}.py": textwrap.dedent(source)})
        install(include=[unique])
        return importlib.import_module(unique)

    return make


def reads_in_process(function: str, module: str) -> "dict[str, tuple[str, int]]":
    return {
        e["name"]: (e["kind"], e["count"])
        for e in globalhook.lookups()
        if e["module"] == module and e["function"] == function and e["kind"] in ("global", "builtin", "missing")
    }


def needs_observable():
    reason = classbodies.unobservable_reason()
    if reason is not None:
        pytest.skip(f"class bodies are not observable here: {reason}")


def test_classes_made_in_functions_of_a_tracked_module(tracked_module):
    needs_observable()
    module = tracked_module(
        """
        LIMIT = 3
        def make(value):
            class Made:
                a = value
                b = LIMIT
                c = abs(-value)
            return Made
        """
    )
    made = [module.make(i) for i in range(5)]
    assert [(m.a, m.b, m.c) for m in made] == [(i, 3, i) for i in range(5)]
    assert reads_in_process("make.<locals>.Made", module.__name__) == {"LIMIT": ("global", 5), "abs": ("builtin", 5)}


def test_exec_of_a_class_in_tracked_globals(tracked_module):
    needs_observable()
    module = tracked_module("G = 1\n")
    exec("class A:\n    x = G\n    y = min(G, 2)\n", module.__dict__)
    assert module.A.x == 1 and type(module.A.__dict__["x"]) is int
    assert reads_in_process("A", module.__name__) == {"G": ("global", 2), "min": ("builtin", 1)}


def test_enum_namespace_is_observed_and_given_back(tracked_module):
    needs_observable()
    module = tracked_module(
        """
        import enum
        SEEN = []
        FIRST = 1
        class Meta(enum.EnumMeta):
            def __new__(mcs, name, bases, classdict, **kwds):
                SEEN.append(type(classdict))
                return super().__new__(mcs, name, bases, classdict, **kwds)
        class Color(enum.Enum, metaclass=Meta):
            RED = FIRST
            GREEN = enum.auto()
        """
    )
    import enum

    namespace_type = type(enum.EnumMeta.__prepare__("X", (enum.Enum,)))
    assert module.SEEN == [namespace_type]
    assert [m.value for m in module.Color] == [1, 2]
    assert reads_in_process("Color", module.__name__) == {"FIRST": ("global", 1), "enum": ("global", 1)}


def test_namespaces_that_cannot_be_observed_are_left_alone(tracked_module):
    needs_observable()
    module = tracked_module(
        """
        import collections
        G = 1
        class Meta(type):
            @classmethod
            def __prepare__(mcs, name, bases):
                return collections.OrderedDict()
        class Ordered(metaclass=Meta):
            x = G
            kind = type(locals())
        """
    )
    assert module.Ordered.kind is collections.OrderedDict and module.Ordered.x == 1
    assert reads_in_process("Ordered", module.__name__) == {}
    assert any("OrderedDict" in note for note in limits.unobservable())


def test_many_classes_leave_no_namespace_retyped(tracked_module):
    needs_observable()
    module = tracked_module(
        """
        G = 1
        def make(n):
            made = []
            for i in range(n):
                class C:
                    x = G
                    ns = locals()
                made.append(C)
            return made
        def failing(n):
            for i in range(n):
                try:
                    class C:
                        x = G
                        raise ValueError(i)
                except ValueError:
                    pass
        """
    )
    before = sys.getrefcount(classbodies._ObservedDict)
    made = module.make(2000)
    module.failing(2000)
    assert all(type(c.ns) is dict for c in made)
    del made
    gc.collect()
    after = sys.getrefcount(classbodies._ObservedDict)  # each retyped namespace held one, and gave it back
    assert after == before
    assert classbodies._bodies == {}
    assert reads_in_process("make.<locals>.C", module.__name__)["G"] == ("global", 2000)
    assert reads_in_process("failing.<locals>.C", module.__name__)["G"] == ("global", 2000)


def test_the_implicit_read_of_name_for_module_is_not_counted(tracked_module):
    needs_observable()
    module = tracked_module(
        """
        class Quiet:
            pass
        class Asks:
            where = __name__
            again = __name__
        """
    )
    assert module.Asks.where == module.__name__ == module.Quiet.__module__
    assert reads_in_process("Quiet", module.__name__) == {}
    assert reads_in_process("Asks", module.__name__) == {"__name__": ("global", 2)}


def test_explicit_subscripts_of_the_namespace_are_not_lookups(tracked_module):
    needs_observable()
    module = tracked_module(
        """
        G = 1
        class C:
            try:
                locals()["G"]
            except KeyError as error:
                caught = error.args
            got = vars().get("G", "absent")
        """
    )
    assert module.C.caught == ("G",) and module.C.got == "absent"
    assert "G" not in reads_in_process("C", module.__name__)


def test_limits_say_what_stays_unobservable():
    notes = limits.unobservable()
    if classbodies.unobservable_reason() is None:
        assert not any(note.startswith("class bodies reading module globals") for note in notes)
        assert any("namespace" in note and "OrderedDict" in note for note in notes)
    else:
        assert any(note.startswith("class bodies reading module globals") for note in notes)


#: A module whose function makes a class that reads the global G.
MAKES_A_CLASS = """
G = 1
def make():
    class C:
        x = G
    return C
"""


def test_counts_are_kept_per_context(tracked_module):
    needs_observable()
    module = tracked_module(MAKES_A_CLASS)
    with globalhook.context("first"):
        module.make()
    entries = [e for e in globalhook.lookups() if e["module"] == module.__name__ and e["name"] == "G" and e["kind"] == "global"]
    assert [(e["function"], e.get("context"), e["count"]) for e in entries] == [("make.<locals>.C", "first", 1)]


def test_after_uninstall_class_bodies_are_not_recorded(tracked_module):
    needs_observable()
    module = tracked_module(MAKES_A_CLASS)
    module.make()
    globalhook.installed_hook().uninstall()
    module.make()
    assert reads_in_process("make.<locals>.C", module.__name__)["G"] == ("global", 1)


def test_uninstall_leaves_a_later_replacement_in_place(install):
    original = builtins.__build_class__
    hook = install(include=["nothing_matches_this"])
    ours = builtins.__build_class__

    def theirs(*args, **kwds):
        return ours(*args, **kwds)

    builtins.__build_class__ = theirs
    try:
        hook.uninstall()
        assert builtins.__build_class__ is theirs
    finally:
        builtins.__build_class__ = original


def test_a_prepare_that_returns_the_module_namespace(tracked_module):
    module = tracked_module(
        """
        G = 1
        class InModule(type):
            @classmethod
            def __prepare__(mcs, name, bases):
                return globals()
            def __new__(mcs, name, bases, namespace):
                return super().__new__(mcs, name, bases, {"kind": type(namespace)})
        class C(metaclass=InModule):
            made_here = G
        """
    )
    assert module.C.kind is type(module.__dict__) and module.made_here == 1
    assert type(module.__dict__) is tracking.TrackingDict
