"""globalhook.sourcemap: the lines where a recorded function reads a name."""

from __future__ import annotations

import dis
import json
import os
import py_compile
import subprocess
import sys
import time
from pathlib import Path
from types import CodeType

import pytest

from globalhook import sourcemap
from globalhook.sourcemap import FileSource, SourceIndex, attribute_sites, code_tree, name_sites

from conftest import read_data

REPO = Path(__file__).resolve().parent.parent

PROBE = '''\
import functools

CONFIG = {"a": 1}
TABLE = []


def plain():
    return CONFIG["a"] + len(TABLE)


@functools.lru_cache(maxsize=None)
def decorated(
    x,
):
    y = CONFIG
    return [TABLE for _ in range(x)] + [y]


class Klass:
    attribute = 1

    def method(self):
        return CONFIG

    def outer(self):
        def inner():
            return TABLE, undefined_name

        return inner


square = lambda v: v * CONFIG["a"]
pairs = list(TABLE for _ in range(2))


async def coroutine():
    return sorted(CONFIG)


def uses_globals():
    return globals()["CONFIG"]


def main():
    plain()
    decorated(2)
    Klass().method()
    try:
        Klass().outer()()
    except NameError:
        pass
    square(3)
    coro = coroutine()
    try:
        coro.send(None)
    except StopIteration:
        pass
    uses_globals()


main()
'''


def reference_sites(code: CodeType):
    """The same answer as name_sites, the slow way: dis.get_instructions."""
    categories = {
        "LOAD_GLOBAL": "load", "LOAD_NAME": "load", "LOAD_FROM_DICT_OR_GLOBALS": "load",
        "STORE_NAME": "store", "STORE_GLOBAL": "store", "DELETE_NAME": "delete", "DELETE_GLOBAL": "delete",
    }
    found = {}
    line = None
    for instruction in dis.get_instructions(code):
        if sys.version_info >= (3, 11):
            line = instruction.positions.lineno
        elif instruction.starts_line is not None:
            line = instruction.starts_line
        kind = categories.get(instruction.opname)
        if kind and line is not None:
            found.setdefault((kind, instruction.argval), set()).add(line)
    return {key: sorted(lines) for key, lines in found.items()}


def reference_attribute_sites(code: CodeType):
    """attribute_sites the slow way: every instruction that reads an attribute by name."""
    found = {}
    line = None
    for instruction in dis.get_instructions(code):
        if sys.version_info >= (3, 11):
            line = instruction.positions.lineno
        elif instruction.starts_line is not None:
            line = instruction.starts_line
        if instruction.opname in ("LOAD_ATTR", "LOAD_METHOD", "IMPORT_FROM") and line is not None:
            found.setdefault(("attribute", instruction.argval), set()).add(line)
    return {key: sorted(lines) for key, lines in found.items()}


def all_codes(path: Path):
    code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    return [each for each, _ in code_tree(code)]


class TestNameSites:
    @pytest.mark.parametrize(
        "path",
        [Path(dis.__file__), Path(json.__file__).parent / "decoder.py", Path(__import__("argparse").__file__)]
        + sorted((REPO / "globalhook").glob("*.py")),
        ids=lambda p: p.name,
    )
    def test_agrees_with_dis_on_real_code(self, path):
        for code in all_codes(path):
            assert name_sites(code) == reference_sites(code), code

    @pytest.mark.parametrize(
        "path", [Path(dis.__file__), Path(__import__("argparse").__file__)] + sorted((REPO / "globalhook").glob("*.py")),
        ids=lambda p: p.name,
    )
    def test_attribute_reads_agree_with_dis_on_real_code(self, path):
        for code in all_codes(path):
            assert attribute_sites(code) == reference_attribute_sites(code), code

    def test_many_names_need_extended_arguments(self, tmp_path):
        names = [f"NAME_{i}" for i in range(400)]
        source = "\n".join(f"{n} = {i}" for i, n in enumerate(names))
        source += "\n\ndef reader():\n" + "".join(f"    {n}\n" for n in names)
        path = tmp_path / "many.py"
        path.write_text(source)
        codes = all_codes(path)
        reader = next(c for c in codes if c.co_name == "reader")
        sites = name_sites(reader)
        assert sites == reference_sites(reader)
        first = source.splitlines().index("def reader():") + 2
        assert sites[("load", "NAME_399")] == [first + 399]
        module = codes[0]
        assert name_sites(module)[("store", "NAME_300")] == [301]

    def test_nested_code_is_not_included(self, tmp_path):
        path = tmp_path / "probe.py"
        path.write_text(PROBE)
        outer = next(c for c in all_codes(path) if c.co_name == "outer")
        assert ("load", "TABLE") not in name_sites(outer)


def run_probe(tmp_path: Path, source: str = PROBE) -> dict:
    script = tmp_path / "probe.py"
    script.write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = str(REPO)
    data_file = tmp_path / "data.json"
    subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--data-file", str(data_file), str(script)],
        cwd=str(tmp_path), env=env, check=True, capture_output=True, timeout=120,
    )
    return read_data(data_file)


class TestFindRecordedFunctions:
    def test_every_recorded_function_is_found_and_each_read_is_on_a_line_naming_it(self, tmp_path):
        data = run_probe(tmp_path)
        index = SourceIndex()
        lines = PROBE.splitlines()
        functions = {(e["file"], e["function"], e["line"]) for e in data["lookups"]}
        assert {f for _, f, _ in functions} >= {"plain", "decorated", "Klass.method", "Klass.outer.<locals>.inner", "<lambda>", "coroutine", "main"}
        for file, function, line in functions:
            located = index.find(file, function, line)
            assert located.code is not None and located.notes == [], (function, located.notes)
        for entry in data["lookups"]:
            if entry["kind"] not in ("global", "builtin", "missing"):
                continue
            located = index.find(entry["file"], entry["function"], entry["line"])
            found = located.lines_of(entry["kind"], entry["name"])
            if (entry["function"], entry["name"]) == ("uses_globals", "CONFIG"):
                assert found == []  # globals()["CONFIG"]: not a name load
                continue
            assert found, entry
            for number in found:
                assert entry["name"] in lines[number - 1], (entry, number)

    def test_a_read_of_another_modules_attribute_is_on_its_own_line(self, tmp_path):
        # Before attribute sites, check and html gave the def line (4) for settings.TAX.
        (tmp_path / "settings.py").write_text("TAX = 0.2\nRATE = 3\n")
        (tmp_path / "shop.py").write_text(
            "import settings\n\n\ndef gross(x):\n    y = x * 2\n    return y * (1 + settings.TAX)\n\n\n"
            "def rate():\n    from settings import RATE\n    return RATE + getattr(settings, 'TAX')\n"
        )
        (tmp_path / "main.py").write_text("import shop\nshop.gross(1)\nshop.rate()\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
        env["PYTHONPATH"] = str(REPO)
        subprocess.run(
            [sys.executable, "-m", "globalhook", "run", "--include", "shop", "--include", "settings",
             "--data-file", "data.json", "main.py"],
            cwd=str(tmp_path), env=env, check=True, capture_output=True, timeout=120,
        )
        reads = {
            (e["function"], e["name"]): e
            for e in read_data((tmp_path / "data.json"))["lookups"]
            if e["kind"] == "attribute" and e["module"] == "shop"
        }
        index = SourceIndex()
        gross = reads[("gross", "TAX")]
        assert gross["line"] == 4
        assert index.find(gross["file"], "gross", 4).lines_of("attribute", "TAX") == [6]
        rate = reads[("rate", "RATE")]
        assert index.find(rate["file"], "rate", rate["line"]).lines_of("attribute", "RATE") == [10]
        # getattr names no attribute in an instruction: no line, the caller falls back to the def.
        assert index.find(rate["file"], "rate", rate["line"]).lines_of("attribute", "TAX") == []

    def test_spans_cover_decorators_signatures_and_bodies(self, tmp_path):
        path = tmp_path / "probe.py"
        path.write_text(PROBE)
        source = FileSource(str(path))
        lines = PROBE.splitlines()
        located = source.find("decorated", lines.index("@functools.lru_cache(maxsize=None)") + 1)
        first, last = located.first, located.last
        assert lines[first - 1].startswith("@functools")
        assert lines[last - 1].strip() == "return [TABLE for _ in range(x)] + [y]"
        outer = source.find("Klass.outer", lines.index("    def outer(self):") + 1)
        assert lines[outer.last - 1].strip() == "return inner"
        module = source.find("<module>", 1)
        assert (module.first, module.last) == (1, len(lines))

    def test_a_function_that_moved_is_found_with_a_note(self, tmp_path):
        path = tmp_path / "mod.py"
        path.write_text("X = 1\n\ndef f():\n    return X\n")
        located = FileSource(str(path)).find("f", 10)
        assert located.code is not None and located.first == 3
        assert located.notes == ["the source has changed since the run: it now starts at line 3, not 10"]
        assert located.lines_of("global", "X") == [4]

    def test_a_function_that_is_gone_has_a_note_and_no_code(self, tmp_path):
        path = tmp_path / "mod.py"
        path.write_text("X = 1\n")
        located = FileSource(str(path)).find("gone", 3)
        assert located.code is None and located.lines_of("global", "X") == []
        assert "not found in the current source at line 3" in located.notes[0]

    def test_missing_and_broken_sources(self, tmp_path):
        missing = FileSource(str(tmp_path / "nope.py")).find("f", 1)
        assert missing.code is None and missing.notes[0].startswith("source file not found")
        broken = tmp_path / "broken.py"
        broken.write_text("def f(:\n")
        located = FileSource(str(broken)).find("f", 1)
        assert located.code is None and "no longer compiles" in located.notes[0]

    def test_a_file_modified_after_the_run_is_noted(self, tmp_path):
        path = tmp_path / "mod.py"
        path.write_text("X = 1\n\ndef f():\n    return X\n")
        os.utime(path, (time.time(), time.time()))
        assert "modified after the run" in SourceIndex(since=time.time() - 3600).find(str(path), "f", 3).notes[0]
        assert SourceIndex(since=time.time() + 60).find(str(path), "f", 3).notes == []

    def test_source_encoding_is_honoured(self, tmp_path):
        path = tmp_path / "latin.py"
        path.write_bytes("# -*- coding: latin-1 -*-\nX = 'é'\n\ndef f():\n    return X\n".encode("latin-1"))
        source = FileSource(str(path))
        assert source.lines[1] == "X = 'é'"
        assert source.find("f", 4).lines_of("global", "X") == [5]


class TestCachedBytecode:
    def test_current_bytecode_is_used_and_gives_the_same_answers(self, tmp_path, monkeypatch):
        path = tmp_path / "probe.py"
        path.write_text(PROBE)
        compiled = FileSource(str(path))
        py_compile.compile(str(path), doraise=True)
        monkeypatch.setattr(sourcemap, "compile", lambda *a, **k: pytest.fail("compiled again"), raising=False)
        cached = FileSource(str(path))
        for key, code in compiled._exact.items():
            assert name_sites(cached._exact[key]) == name_sites(code)

    def test_stale_bytecode_is_ignored(self, tmp_path):
        path = tmp_path / "mod.py"
        path.write_text("X = 1\n\ndef f():\n    return X\n")
        py_compile.compile(str(path), doraise=True)
        path.write_text("X = 1\n\n\ndef f():\n    return X + 1\n")  # new size: the cache no longer matches
        assert FileSource(str(path)).find("f", 4).lines_of("global", "X") == [5]

    def test_unchecked_hash_based_bytecode_is_not_trusted(self, tmp_path):
        path = tmp_path / "mod.py"
        path.write_text("X = 1\n\ndef f():\n    return X\n")
        py_compile.compile(str(path), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        path.write_text("X = 1\n\n\ndef f():\n    return X\n")
        assert FileSource(str(path)).find("f", 4).lines_of("global", "X") == [5]
