"""Static definitions (globalhook.definitions) and the selection graph over them (globalhook.testselect)."""

from __future__ import annotations

import textwrap

import pytest

from globalhook.definitions import AUTOUSE, EFFECTS, HOOKS, digests, module_definitions
from globalhook.testselect import Selector

SOURCE = """\
    '''Docstring.'''
    import os
    from . import sibling
    from .helpers import tool as used
    RATE = 2
    TABLE = build(RATE)

    @decorate(RATE)
    def f(x=LIMIT):
        return g(x) + other.VALUE

    class C(Base):
        '''Class docstring.'''
        X = compute()

        def m(self):
            return HELPER

    register(f)

    if __name__ == "__main__":
        main()
"""


def defs(source: str = SOURCE, module: str = "pkg.mod", package: bool = False):
    return module_definitions(textwrap.dedent(source), "mod.py", module, package)


def test_every_binding_statement_defines_its_names():
    found = defs()
    assert set(found) == {"__doc__", "os", "sibling", "used", "RATE", "TABLE", "f", "C", "C.X", "C.m", EFFECTS}
    assert found["C"].members == ["C.X", "C.m"]


def test_comments_blank_and_moved_lines_keep_every_digest():
    moved = """\
        '''Docstring.'''
        import os  # the os
        from . import sibling


        from .helpers import tool as used
        RATE = 2   # per cent
        TABLE = build(RATE)

        @decorate(RATE)
        def f(x=LIMIT):
            # comment
            return g(x) + other.VALUE

        class C(Base):
            '''Class docstring.'''

            def m(self):
                return HELPER

            X = compute()

        register(f)
    """
    assert digests(defs(moved)) == digests(defs())


@pytest.mark.parametrize("old, new, changed", [
    ("RATE = 2", "RATE = 3", {"RATE"}),
    ("return g(x)", "return g(x + 1)", {"f"}),
    ("x=LIMIT", "x=LIMITS", {"f"}),
    ("@decorate(RATE)", "@decorate(RATE, 1)", {"f"}),
    ("X = compute()", "X = compute(1)", {"C.X"}),
    ("return HELPER", "return HELPERS", {"C.m"}),
    ("class C(Base)", "class C(Base, Mixin)", {"C"}),
    ("'''Class docstring.'''", "'''Other.'''", {"C"}),
    ("register(f)", "register(f, 2)", {EFFECTS}),
    ("main()", "main(1)", set()),  # under the __main__ guard: never on import
])
def test_one_edit_changes_one_digest(old, new, changed):
    before, after = digests(defs()), digests(defs(SOURCE.replace(old, new)))
    assert {name for name in before if before[name] != after.get(name)} == changed


def test_what_each_definition_refers_to():
    found = defs()
    assert {"build", "RATE"} <= found["TABLE"].run and found["TABLE"].calls == {"build"}
    assert {"decorate", "RATE", "LIMIT"} <= found["f"].run and "decorate" in found["f"].calls
    assert {"g", "other", "other.VALUE"} <= found["f"].body and "g" not in found["f"].run
    assert "Base" in found["C"].run and "compute" in found["C.X"].calls
    assert found["used"].imports == [("pkg.helpers", "tool")]
    assert found["sibling"].imports == [("pkg", "sibling")]
    assert found["os"].imports == [("os", None)]


def test_relative_imports_of_a_package():
    found = defs("from .core import run\nfrom . import util\n", module="pkg", package=True)
    assert found["run"].imports == [("pkg.core", "run")]
    assert found["util"].imports == [("pkg", "util")]


def test_autouse_fixtures_and_hooks_have_pseudo_definitions():
    source = """\
        import pytest

        @pytest.fixture(autouse=True)
        def setup_env():
            pass

        def pytest_configure(config):
            pass
    """
    source = textwrap.dedent(source)
    found = defs(source, module="conftest")
    assert AUTOUSE in found and HOOKS in found
    changed = digests(defs(source.replace("pass\n\ndef", "return 1\n\ndef"), module="conftest"))
    assert changed[AUTOUSE] != digests(found)[AUTOUSE] and changed[HOOKS] == digests(found)[HOOKS]


# -- the graph ------------------------------------------------------------------------------


def selector(tmp_path, before: str, after: str, tests: dict, tracked: bool = True) -> Selector:
    (tmp_path / "mod.py").write_text(textwrap.dedent(after))
    old = digests(module_definitions(textwrap.dedent(before), "mod.py", "mod"))
    selection = {
        "modules": {"mod": {"file": "mod.py", "tracked": tracked, "defs": old},
                    "test_x": {"file": "test_x.py", "tracked": False, "defs": {}}},
        "tests": {name: {"outcome": "passed", "reads": {"mod": reads}} for name, reads in tests.items()},
    }
    (tmp_path / "test_x.py").write_text("")
    return Selector(selection, str(tmp_path))


def test_a_value_made_at_import_depends_on_the_bodies_it_called(tmp_path):
    before = """\
        def helper():
            return inner()
        def inner():
            return 1
        VALUE = helper()
        def reader():
            return 2
    """
    chosen = selector(tmp_path, before, before.replace("return 1", "return 5"),
                      {"test_x.py::t_value": "VALUE", "test_x.py::t_reader": "reader"})
    decision = chosen.decide("test_x.py::t_value")
    assert decision.run and "mod:VALUE -> mod:helper -> mod:inner (changed)" in decision.why[0]
    assert not chosen.decide("test_x.py::t_reader").run


def test_cycles_end(tmp_path):
    before = """\
        def a():
            return b()
        def b():
            return a()
        X = a()
        Y = 1
    """
    chosen = selector(tmp_path, before, before.replace("Y = 1", "Y = 2"), {"test_x.py::t": "X", "test_x.py::u": "Y"})
    assert not chosen.decide("test_x.py::t").run
    assert chosen.decide("test_x.py::u").run


def test_a_name_without_a_static_definition_depends_on_its_whole_module(tmp_path):
    before = "def setup():\n    globals()['DYNAMIC'] = 1\nOTHER = 1\n"
    chosen = selector(tmp_path, before, before.replace("OTHER = 1", "OTHER = 2"), {"test_x.py::t": "DYNAMIC"})
    decision = chosen.decide("test_x.py::t")
    assert decision.run and "depends on all of mod" in decision.why[0]


def test_a_removed_module_and_a_removed_definition(tmp_path):
    chosen = selector(tmp_path, "A = 1\nB = 2\n", "A = 1\n", {"test_x.py::a": "A", "test_x.py::b": "B"})
    assert not chosen.decide("test_x.py::a").run
    assert "mod:B (removed)" in chosen.decide("test_x.py::b").why[0]
    (tmp_path / "mod.py").unlink()
    again = Selector({"modules": {"mod": {"file": "mod.py", "tracked": True, "defs": {"A": "x"}},
                                  "test_x": {"file": "test_x.py", "defs": {}}},
                      "tests": {"test_x.py::a": {"outcome": "passed", "reads": {"mod": "A"}}}}, str(tmp_path))
    assert "module removed" in again.decide("test_x.py::a").why[0]


def test_new_failed_and_environment(tmp_path):
    chosen = selector(tmp_path, "A = 1\n", "A = 1\n", {"test_x.py::a": "A"})
    assert chosen.decide("test_x.py::new").why == ["new test (not in the data)"]
    chosen.tests["test_x.py::a"]["outcome"] = "failed"
    assert chosen.decide("test_x.py::a").why == ["failed last time"]
    other = Selector({"environment": "old", "modules": chosen.old_modules, "tests": {"test_x.py::a": {"outcome": "passed"}}},
                     str(tmp_path), environment="new")
    assert other.decide("test_x.py::a").run


def test_environment_variables_by_digest(tmp_path, monkeypatch):
    from globalhook.testselect import environment_variables_digest

    monkeypatch.setenv("GH_SELECT_PROBE", "1")
    chosen = selector(tmp_path, "A = 1\n", "A = 1\n", {"test_x.py::a": "A"})
    chosen.tests["test_x.py::a"]["env"] = {"names": "GH_SELECT_PROBE", "digest": environment_variables_digest(["GH_SELECT_PROBE"])}
    assert not chosen.decide("test_x.py::a").run
    monkeypatch.setenv("GH_SELECT_PROBE", "2")
    assert "GH_SELECT_PROBE" in chosen.decide("test_x.py::a").why[0]


def test_a_statement_that_does_not_compile_alone_still_has_a_digest():
    source = "A = 1\n\ndef f():\n    nonlocal x\n    return x\n"  # parses, never compiles
    found = digests(defs(source))
    assert set(found) == {"A", "f"} and found["f"]
    assert digests(defs(source.replace("\ndef", "\n\n\ndef"))) == found
    assert digests(defs(source.replace("return x", "return -x")))["f"] != found["f"]


def test_a_class_inside_a_function_moved_keeps_its_digest():
    source = "def make():\n    class Inner:\n        X = 1\n    return Inner\n"
    assert digests(defs(source)) == digests(defs("\n\n# moved\n" + source))


def test_a_file_unchanged_since_recording_is_not_parsed_again(tmp_path):
    import os

    from globalhook.testrecords import module_records

    path = tmp_path / "mod.py"
    path.write_text("A = 1\n")
    _age(path, 60)
    info = os.stat(path)
    old = {"mod": {"file": "mod.py", "stat": [info.st_size, info.st_mtime_ns], "defs": {"A": "kept"}, "refs": {}}}
    assert module_records(["mod"], str(tmp_path), old, {})["mod"]["defs"] == {"A": "kept"}
    path.write_text("A = 2\n")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    assert module_records(["mod"], str(tmp_path), old, {})["mod"]["defs"]["A"] != "kept"


def _age(path, seconds):
    """Give ``path`` a modification time ``seconds`` in the past."""
    import os
    import time

    then = time.time_ns() - seconds * 10**9
    os.utime(path, ns=(then, then))


def _loaded(path):
    import types

    module = types.ModuleType("mod")
    module.__file__ = str(path)
    return {"mod": module}


class TestRacyStamps:
    """Two edits of the same size within one tick of the file system's clock have the same
    (size, time): a stamp taken while the file is that fresh must not stand for its content."""

    def test_an_edit_of_the_same_size_and_time_after_a_fresh_record_is_seen(self, tmp_path):
        import os

        from globalhook.testrecords import module_records

        path = tmp_path / "mod.py"
        path.write_text("A = 1\n")
        first = module_records(["mod"], str(tmp_path), {}, _loaded(path))
        info = os.stat(path)
        path.write_text("A = 2\n")  # same size; the same tick of a coarse clock:
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        second = module_records(["mod"], str(tmp_path), first, {})
        assert second["mod"]["defs"]["A"] != first["mod"]["defs"]["A"]

    def test_the_selector_does_not_trust_a_fresh_record_either(self, tmp_path):
        from globalhook.testrecords import module_records
        from globalhook.testselect import Selector

        path = tmp_path / "mod.py"
        path.write_text("A = 1\n")
        modules = module_records(["mod"], str(tmp_path), {}, _loaded(path))
        selector = Selector({"modules": modules, "tests": {}}, str(tmp_path), "env")
        assert not selector.unchanged_file("mod")

    def test_a_file_older_than_the_margin_keeps_its_stamp_and_is_not_read_again(self, tmp_path):
        import os

        from globalhook.testrecords import RACY_MARGIN_NS, module_records

        path = tmp_path / "mod.py"
        path.write_text("A = 1\n")
        _age(path, 2 * RACY_MARGIN_NS // 10**9)
        first = module_records(["mod"], str(tmp_path), {}, _loaded(path))
        info = os.stat(path)
        assert first["mod"]["stat"] == [info.st_size, info.st_mtime_ns]
        path.write_text("A = 2\n")
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        assert module_records(["mod"], str(tmp_path), first, {})["mod"]["defs"] == first["mod"]["defs"]
