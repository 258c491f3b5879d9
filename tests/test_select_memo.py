"""The selection decision's memos change nothing: every test's decision (and why) equals the unmemoised one.

``Before`` keeps the decision as it was before reads were remembered per
(module, names) and a file's collection reads per file; randomised
packages (imports across modules, cycles, classes, star imports, absent
names, names recorded as lists, modules never recorded), random edits,
then both decide for every test, in the same order.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from globalhook.definitions import digests, encode_refs, file_definitions
from globalhook.testselect import _IMPORT, _RUN, Selector, _names, _object


class Before(Selector):
    """The decision without the per-(module, names) and per-file memos (the code as it was)."""

    def _read_sets(self, test, record):
        yield record, "reads", _RUN
        collected = self.collect.get(test.split("::", 1)[0])
        if isinstance(collected, dict):
            yield self._without_imports(test.split("::", 1)[0], collected), "its file's code read", _IMPORT
        for label in _names(record.get("fixtures")):
            fixture = self.fixtures.get(label)
            if isinstance(fixture, dict):
                yield fixture, f"reads in fixture {label.rpartition('|')[0]}", _RUN

    def _reads_change(self, record, where, mode="R"):
        for module, names in sorted(_object(record.get("absent")).items()):
            if module not in self.old_modules:
                continue
            for name in _names(names):
                if self._defined(module, name) and self._changed(module, name):
                    return [f"{where} {module}:{name} (not defined then: now it is)"]
        memo = self._read_memo
        for module, names in sorted(_object(record.get("reads")).items()):
            if module not in self.old_modules:
                continue
            for name in _names(names):
                key = (mode, module, name)
                found = memo.get(key, self)
                if found is self:
                    found = memo[key] = self._read_change(module, name, mode)
                if found is not None:
                    return [f"{where} {found[0]}"] + found[1:]
        return None


def _module(rng: random.Random, index: int, modules: int) -> str:
    lines = ['"""m."""', "import os"]
    other = rng.randrange(modules)
    if other != index:
        lines.append(f"from pkg.m{other} import f0 as g{other}")
        lines.append(f"from pkg import m{other}")
    if rng.random() < 0.2:
        lines.append(f"from pkg.m{rng.randrange(modules)} import *")
    for d in range(4):
        lines += [f"C{d} = {rng.randrange(3)}", f"def f{d}(x):"]
        call = rng.choice([f"f{d - 1}(x)" if d else "0", f"g{other}(x)" if other != index else "0",
                           f"m{other}.f{rng.randrange(4)}(x)" if other != index else "0", "K().m()"])
        lines.append(f"    return x + C{d} + {call}")
    lines += ["class K:", "    RATE = 1", "    def m(self):", "        return self.RATE + C1"]
    lines.append(f"TABLE = [f{rng.randrange(4)}(i) for i in range(2)]")
    return "\n".join(lines) + "\n"


def _record(path: Path, key: str, tracked: bool) -> dict:
    found = file_definitions(str(path), key.partition("@")[0])
    info = path.stat()
    return {"file": path.name if not tracked else f"pkg/{path.name}", "tracked": tracked,
            "stat": [info.st_size, info.st_mtime_ns], "defs": digests(found), "refs": encode_refs(found)}


def _names_of(rng: random.Random) -> "str | list":
    names = sorted({rng.choice(["f0", "f1", "f2", "f3", "C0", "C1", "C2", "K", "TABLE", "NEW", "os", "__name__"])
                    for _ in range(rng.randrange(1, 3))})
    return names if rng.random() < 0.05 else " ".join(names)


def _build(folder: Path, rng: random.Random) -> dict:
    modules = rng.randrange(3, 9)
    (folder / "pkg").mkdir()
    (folder / "pkg" / "__init__.py").write_text("")
    records = {}
    for index in range(modules):
        path = folder / "pkg" / f"m{index}.py"
        path.write_text(_module(rng, index, modules))
        records[f"pkg.m{index}"] = _record(path, f"pkg.m{index}", True)
    tests, collect, fixtures = {}, {}, {}
    for file_index in range(rng.randrange(1, 4)):
        name = f"test_{file_index}"
        body = [f"from pkg.m{rng.randrange(modules)} import f1, C0", ""]
        for t in range(rng.randrange(2, 6)):
            body += [f"def test_{t}():", f"    assert f1({t}) + C0 >= 0", ""]
        path = folder / f"{name}.py"
        path.write_text("\n".join(body))
        records[name] = _record(path, name, False)
        if rng.random() < 0.6:
            collect[f"{name}.py"] = {"reads": {f"pkg.m{rng.randrange(modules)}": _names_of(rng) for _ in range(2)},
                                     "absent": {}}
        for t in range(len(body) // 3):
            reads = {}
            for _ in range(rng.randrange(0, 5)):
                reads[f"pkg.m{rng.randrange(modules + 1)}"] = _names_of(rng)  # m<modules> was never recorded
            if rng.random() < 0.1:
                reads["elsewhere"] = "x"
            absent = {f"pkg.m{rng.randrange(modules)}": "NEW"} if rng.random() < 0.15 else {}
            labels = [f"{name}.py::fx{rng.randrange(2)}|fixture"] if rng.random() < 0.3 else []
            for label in labels:
                fixtures[label] = {"reads": {f"pkg.m{rng.randrange(modules)}": _names_of(rng)}, "absent": {}}
            tests[f"{name}.py::test_{t}"] = {"outcome": rng.choice(["passed"] * 8 + ["skipped", "failed"]),
                                             "reads": reads, "absent": absent, "fixtures": labels,
                                             "roots": [f"{name}:test_{t}", f"{name}:@autouse"]}
    return {"environment": "e", "modules": records, "tests": tests, "collect": collect, "fixtures": fixtures}


def _edit(folder: Path, rng: random.Random) -> None:
    files = sorted((folder / "pkg").glob("m*.py"))
    for path in rng.sample(files, rng.randrange(1, 3)):
        text = path.read_text()
        change = rng.choice(["const", "remove", "add", "method"])
        if change == "const":
            text = text.replace(f"C{rng.randrange(4)} = ", "C_ = 7\nC9 = ", 1)
        elif change == "remove":
            text = text.replace("TABLE = ", "_TABLE = ")
        elif change == "add":
            text += "NEW = 1\n"
        else:
            text = text.replace("return self.RATE + C1", "return self.RATE + C2")
        path.write_text(text + " " * rng.randrange(1, 4))  # the size changes: never taken for unchanged


@pytest.mark.parametrize("seed", range(40))
def test_every_decision_is_the_same_as_without_the_memos(tmp_path, seed):
    rng = random.Random(seed)
    selection = _build(tmp_path, rng)
    _edit(tmp_path, rng)
    order = sorted(selection["tests"]) * 2  # the second time round, the memos answer
    rng.shuffle(order)
    before, now = Before(selection, str(tmp_path), "e"), Selector(selection, str(tmp_path), "e")
    for test in order:
        old, new = before.decide(test), now.decide(test)
        assert (new.run, new.why) == (old.run, old.why), test


def test_a_read_found_changed_for_one_test_is_found_again_for_the_next():
    """The memo of unaffected reads keeps only what was unaffected: a changed read selects every test reading it."""
    folder = Path(os.path.dirname(__file__))  # nothing is written: the records name files that do not exist
    selection = {"modules": {"pkg.a": {"file": "no/such/a.py", "tracked": True, "stat": [1, 1], "defs": {"X": "d"}}},
                 "tests": {f"t.py::test_{i}": {"outcome": "passed", "reads": {"pkg.a": "X"}} for i in range(3)},
                 "environment": "e"}
    selection["modules"]["t"] = {"file": "t.py", "tracked": False, "stat": None, "defs": {}}
    selector = Selector(selection, str(folder), "e")
    assert [selector.decide(test).run for test in selection["tests"]] == [True, True, True]
