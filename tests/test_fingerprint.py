"""Value fingerprints: code by what runs, data by content, opaque values by type."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from globalhook.fingerprint import ABSENT, code_digest, fingerprint, is_project_module

REPO = str(Path(__file__).resolve().parent.parent)


def digest(value, by_content=lambda name: True) -> bytes:
    return fingerprint(value, by_content).digest


def compiled(source: str, name: str = "f"):
    namespace: dict = {}
    exec(compile(source, "<test>", "exec"), namespace)
    return namespace[name]


BASE = "def f(x, y=2):\n    total = x + y\n    return [total * i for i in range(3)]\n"


class TestCode:
    @pytest.mark.parametrize("variant", [
        "# a comment\n\n\n" + BASE,
        BASE.replace("    total = x + y\n", "    # why\n\n    total = x + y  # sum\n"),
        "\n" * 40 + BASE,
        BASE.replace('def f(x, y=2):\n', 'def f(x, y=2):\n\n'),
    ])
    def test_text_that_does_not_run_keeps_it(self, variant):
        assert code_digest(compiled(variant).__code__) == code_digest(compiled(BASE).__code__)

    @pytest.mark.parametrize("variant", [
        BASE.replace("range(3)", "range(4)"),          # a constant
        BASE.replace("x + y", "y + x"),                # bytecode
        BASE.replace("total", "subtotal"),             # a local's name
        BASE.replace("range", "list"),                 # a global's name
        BASE.replace("total * i", "total + i"),        # nested code (a comprehension before 3.12)
    ])
    def test_what_runs_changes_it(self, variant):
        assert code_digest(compiled(variant).__code__) != code_digest(compiled(BASE).__code__)

    def test_defaults_and_closure_count_for_functions(self):
        f, g = compiled(BASE), compiled(BASE)
        assert digest(f) == digest(g)
        g.__defaults__ = (3,)
        assert digest(f) != digest(g)
        make = compiled("def make(n):\n    def f():\n        return n\n    return f\n", "make")
        assert digest(make(1)) == digest(make(1)) != digest(make(2))

    def test_library_functions_count_by_name(self):
        assert digest(os.path.join, is_project_module) != digest(os.path.split, is_project_module)
        assert fingerprint(os.path.join).immutable and fingerprint(len).immutable


class TestData:
    def test_atoms_keep_their_type(self):
        values = [1, 1.0, True, "1", b"1", None, 0.0, -0.0, 1 + 0j]
        assert len({digest(v) for v in values}) == len(values)

    def test_containers_by_content(self):
        items = [1, [2, 3]]
        before = digest(items)
        items[1].append(4)
        assert digest(items) != before
        assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
        assert digest({1, 2, 3}) == digest({3, 2, 1}) != digest(frozenset({1, 2, 3}))
        assert digest((1, 2)) != digest([1, 2])

    def test_cycles(self):
        loop: list = [1]
        loop.append(loop)
        other: list = [1]
        other.append(other)
        assert digest(loop) == digest(other)

    def test_instances_and_classes_by_content(self):
        namespace: dict = {"__name__": "__main__"}
        exec("class C:\n    RATE = 2\n    def __init__(self):\n        self.w = 1\n", namespace)
        cls = namespace["C"]
        obj = cls()
        before_obj, before_cls = digest(obj), digest(cls)
        obj.w = 2
        assert digest(obj) != before_obj
        cls.RATE = 3
        assert digest(cls) != before_cls

    def test_immutable_only_for_values_that_cannot_change(self):
        assert fingerprint((1, "a", (None, b"x"))).immutable
        assert not fingerprint((1, [2])).immutable
        assert not fingerprint({"a": 1}).immutable
        assert fingerprint(os).immutable

    def test_stable_across_processes(self):
        probe = "from globalhook.fingerprint import fingerprint; print(fingerprint({'a': {1, 'x', 2.5}, 'b': ('y', b'z'), 'c': [{'p', 'q'}, 'r']}).digest.hex())"
        outputs = {
            subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": REPO, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2", "3")
        }
        assert len(outputs) == 1 and outputs.pop().strip()

    def test_absent(self):
        assert digest(ABSENT) != digest(None)


class TestOpaque:
    @pytest.mark.parametrize("make", [threading.Lock, lambda: (x for x in [1])], ids=["lock", "generator"])
    def test_by_type_and_said(self, make):
        first, second = fingerprint(make()), fingerprint(make())
        assert first.opaque and first == second
        assert fingerprint({"held": make()}).opaque

    def test_a_hook_decides(self):
        class Handle:
            def __init__(self, name):
                self.name = name
                self.lock = threading.Lock()

            def __globalhook_fingerprint__(self):
                return self.name

        assert digest(Handle("a")) == digest(Handle("a")) != digest(Handle("b"))
        assert not fingerprint(Handle("a")).opaque


class TestLimits:
    def test_too_deep_never_counts_as_unchanged(self):
        deep: dict = {}
        for _ in range(500):
            deep = {"next": deep}
        first, second = fingerprint(deep), fingerprint(deep)
        assert first.volatile and first != second

    def test_a_value_whose_attributes_raise_is_opaque_not_an_error(self):
        class Meta(type):
            def __getattribute__(cls, name):
                if name in ("__reduce_ex__", "__reduce__", "__globalhook_fingerprint__"):
                    raise RuntimeError("no")
                return super().__getattribute__(name)

        class Odd(metaclass=Meta):
            pass

        found = fingerprint(Odd())
        assert found.opaque and not found.volatile
