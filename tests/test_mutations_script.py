"""The mutation study's generator (benchmarks/mutations.py): every mutation changes
what the interpreter runs, and the file comes back byte for byte afterwards."""

import ast
import random
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import module_from_file

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "mutations.py"

PKG_INIT = '''\
"""A tiny package: a docstring, constants, functions, a class."""
# a comment with non-ASCII text: café
LIMIT = 10
NAMES = ("a", "b")
FLAGS = {"x": 1, "y": 2}
ENABLED = True
GREETING = "héllo"  # non-ASCII before the span: byte offsets must still be exact


def clamp(value):
    """Docstrings are not behaviour."""
    if value > LIMIT:
        return LIMIT
    return value


def total(items):
    result = 0
    for item in items:
        result += item
    return result


class Shape:
    sides = 4
    name: str = "square"
    colours = ["red", "blue"]

    def area(self, size):
        return size * size

    class Inner:
        depth = 1
'''

PKG_MOD = '''\
import typing


@typing.overload
def only_types(x: int) -> int: ...
def only_types(x):
    return x is None


WINDOW = (
    1,
    2,
)
'''


@pytest.fixture
def mutations_module():
    with module_from_file("_mutations_study", SCRIPT) as module:
        yield module


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    pkg = tmp_path / "tiny"
    pkg.mkdir()
    (pkg / "__init__.py").write_bytes(PKG_INIT.encode())
    (pkg / "mod.py").write_bytes(PKG_MOD.encode())
    (pkg / "skipped.py").write_bytes(b"SKIP_ME = 1\n")
    return tmp_path


def test_every_kind_is_found(mutations_module, tiny):
    found = mutations_module.generate(tiny, ["tiny"], None, seed=1, skip_files=["skipped.py"])
    by_kind = {}
    for m in found:
        by_kind.setdefault(m.kind, set()).add(m.where)
    assert by_kind["constant"] == {
        "tiny.LIMIT", "tiny.NAMES", "tiny.FLAGS", "tiny.ENABLED", "tiny.GREETING", "tiny.mod.WINDOW",
    }
    # overload stubs are left alone; the real only_types is a function like any other
    assert by_kind["function"] == {"tiny.clamp", "tiny.total", "tiny.Shape.area", "tiny.mod.only_types"}
    assert by_kind["class-attr"] == {"tiny.Shape.sides", "tiny.Shape.name", "tiny.Shape.colours", "tiny.Shape.Inner.depth"}
    assert not any(m.path == "tiny/skipped.py" for m in found)


def test_each_mutation_changes_the_code_and_is_undone_byte_for_byte(mutations_module, tiny):
    found = mutations_module.generate(tiny, ["tiny"], None, seed=3)
    assert found
    before = {p: p.read_bytes() for p in tiny.rglob("*.py")}
    for m in found:
        path = tiny / m.path
        with mutations_module.applied(tiny, m) as new:
            assert path.read_bytes() == new != before[path]
            # a real change of what runs, not of layout
            assert ast.dump(ast.parse(new)) != ast.dump(ast.parse(before[path])), m.describe()
        assert {p: p.read_bytes() for p in tiny.rglob("*.py")} == before, m.describe()


def test_restored_even_when_the_block_fails(mutations_module, tiny):
    m = mutations_module.generate(tiny, ["tiny"], None, seed=0)[0]
    path = tiny / m.path
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        with mutations_module.applied(tiny, m):
            raise KeyboardInterrupt
    assert path.read_bytes() == before


def test_constant_mutations_change_the_value(mutations_module, tiny):
    found = {m.where: m for m in mutations_module.generate(tiny, ["tiny"], None, 0, ["skipped.py"]) if m.kind == "constant"}
    values = {}
    for where, m in found.items():
        with mutations_module.applied(tiny, m) as new:
            namespace = {}
            exec(compile(new, m.path, "exec"), namespace)
            values[where.rsplit(".", 1)[1]] = namespace[where.rsplit(".", 1)[1]]
    assert values == {
        "LIMIT": 11, "NAMES": ("a",), "FLAGS": {"x": 1}, "ENABLED": False, "GREETING": "héllo_m", "WINDOW": (1,),
    }


def test_the_sample_is_seeded(mutations_module, tiny):
    def chosen(seed):
        return [m.describe() for m in mutations_module.generate(tiny, ["tiny"], 2, seed=seed)]

    assert chosen(5) == chosen(5)
    assert len(chosen(5)) == 6  # two of each of the three kinds
    assert len({tuple(chosen(s)) for s in range(6)}) > 1


def test_a_function_gets_one_edit_among_its_candidates(mutations_module, tiny):
    edits = set()
    for seed in range(40):
        rng = random.Random(seed)
        for m in mutations_module.mutations_of(tiny, "tiny/__init__.py", "tiny", rng):
            if m.where == "tiny.clamp":
                edits.add(m.what)
    assert edits == {
        "return None (was: return LIMIT)",
        "return None (was: return value)",
        "value > LIMIT -> (value <= LIMIT)",
        "dropped `if value > LIMIT:`",
        "dropped `return value`",
    }


def test_a_killed_run_is_undone_from_the_journal(mutations_module, tiny):
    m = mutations_module.generate(tiny, ["tiny"], None, seed=0)[0]
    path = tiny / m.path
    before = path.read_bytes()
    journal = tiny / "journal"
    # A child applies the same mutation and dies inside the block, running no finally.
    child = (
        "import importlib.util, os, sys, pathlib\n"
        "spec = importlib.util.spec_from_file_location('m', sys.argv[1])\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['m'] = m; spec.loader.exec_module(m)\n"
        "root = pathlib.Path(sys.argv[2])\n"
        "with m.applied(root, m.generate(root, ['tiny'], None, seed=0)[0], pathlib.Path(sys.argv[3])):\n"
        "    os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", child, str(SCRIPT), str(tiny), str(journal)], check=True)
    assert path.read_bytes() != before
    assert mutations_module.undo_journal(tiny, journal) == m.path
    assert path.read_bytes() == before
    assert not journal.exists()
    assert mutations_module.undo_journal(tiny, journal) is None
