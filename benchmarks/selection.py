"""How long ``pytest --globalhook-select`` takes to decide, for a synthetic suite.

Writes a package of ``--modules`` modules (``--defs`` functions, constants and
a class each, functions calling each other), data for ``--tests`` tests that
each read ``--reads`` names at run time and have a test function of their own,
edits one constant, and times the decision for every test (a fresh
:class:`globalhook.testselect.Selector`: module files parsed and fingerprinted,
then one decision per test, the collector paused as the pytest plugin pauses it),
best of ``--repeat``.  The target: under 1 s for
10,000 tests.

    python benchmarks/selection.py [--tests 10000] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def module_source(index: int, defs: int) -> str:
    lines = [f'"""Module {index}."""', "import os", ""]
    for d in range(defs):
        lines += [f"C{d} = {d}", "", f"def f{d}(x):", f"    return x + C{d} + {'f' + str(d - 1) + '(x)' if d else '0'}", ""]
    lines += ["class K:", "    RATE = 1", "", "    def m(self):", "        return self.RATE", ""]
    lines += [f"TABLE = [f{defs - 1}(i) for i in range(3)]", ""]
    return "\n".join(lines)


def _stat(path: Path) -> list:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


def build(folder: Path, modules: int, defs: int, tests: int, reads: int, seed: int = 1) -> dict:
    from globalhook.definitions import digests, encode_refs, file_definitions

    rng = random.Random(seed)
    package = folder / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    records = {}
    for index in range(modules):
        path = package / f"m{index}.py"
        path.write_text(module_source(index, defs))
        found = file_definitions(str(path), f"pkg.m{index}")
        records[f"pkg.m{index}"] = {"file": f"pkg/m{index}.py", "tracked": True, "stat": _stat(path),
                                    "defs": digests(found), "refs": encode_refs(found)}
    per_file = 50
    test_records = {}
    for start in range(0, tests, per_file):
        name = f"test_{start // per_file}"
        body = ["from pkg import m0", ""]
        for index in range(start, min(start + per_file, tests)):
            body += [f"def test_{index}():", f"    assert m0.f0({index}) >= 0", ""]
        path = folder / f"{name}.py"
        path.write_text("\n".join(body))
        found = file_definitions(str(path), name)
        records[name] = {"file": f"{name}.py", "tracked": False, "stat": _stat(path),
                         "defs": digests(found), "refs": encode_refs(found)}
        for index in range(start, min(start + per_file, tests)):
            chosen: dict = {}
            for _ in range(reads):
                module = f"pkg.m{rng.randrange(modules)}"
                chosen.setdefault(module, set()).add(rng.choice([f"f{rng.randrange(defs)}", f"C{rng.randrange(defs)}",
                                                                 "K", "TABLE"]))
            test_records[f"{name}.py::test_{index}"] = {
                "outcome": "passed",
                "reads": {m: " ".join(sorted(n)) for m, n in chosen.items()},
                "absent": {},
                "roots": [f"{name}:test_{index}", f"{name}:@autouse"],
                "fixtures": [],
            }
    return {"environment": "e", "modules": records, "tests": test_records, "collect": {}, "fixtures": {}}


def decide_all(selection: dict, root: str) -> "tuple[float, float, int]":
    """(wall seconds, CPU seconds, tests selected): on a busy machine CPU time is the steadier figure."""
    from globalhook.gcpause import paused
    from globalhook.testselect import Selector

    started, cpu = time.perf_counter(), time.process_time()
    with paused():  # as the pytest plugin decides
        selector = Selector(selection, root, "e")
        chosen = sum(1 for test in selection["tests"] if selector.decide(test).run)
    return time.perf_counter() - started, time.process_time() - cpu, chosen


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=10000)
    parser.add_argument("--modules", type=int, default=50)
    parser.add_argument("--defs", type=int, default=40)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        selection = build(Path(folder), options.modules, options.defs, options.tests, options.reads)
        target = Path(folder) / "pkg" / "m7.py" if options.modules > 7 else Path(folder) / "pkg" / "m0.py"
        target.write_text(target.read_text().replace("C3 = 3", "C3 = 33"))
        timings = [decide_all(selection, folder) for _ in range(options.repeat)]
    best = min(wall for wall, _, _ in timings)
    best_cpu = min(cpu for _, cpu, _ in timings)
    chosen = timings[0][2]
    result = {"tests": options.tests, "modules": options.modules, "selected": chosen,
              "decision_s": round(best, 4), "decision_cpu_s": round(best_cpu, 4)}
    if options.json:
        print(json.dumps(result))
    else:
        print(f"decision for {options.tests} tests over {options.modules} modules: {best:.3f} s wall, "
              f"{best_cpu:.3f} s CPU (selected {chosen}, best of {options.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
