"""The data store at the scale of real suites: size on disk, time and peak memory of each step.

    python benchmarks/store.py [--tests N] [--workers W] [--click DIR] [--quick] [--json FILE]

Synthetic suite: N tests (default 30,000) of a package of 6,000 functions;
each test's call phase runs 3 of them (each reads 3 globals and a builtin)
and its setup phase one more, so the data holds 16 lookups per test, split
over W (default 8) xdist workers, each writing its own part file as
``pytest -n W --globalhook`` does.  As in real suites, most calls go to a
core of popular functions (two of the three calls: 120 functions).  Measured, each a whole process
(start-up included), CPU seconds (user + system: steadier than wall time
on a shared machine) and peak RSS:

- ``record``: one worker's save at exit (``make_data`` + ``save``, wall
  time inside the process), the slowest of the W;
- ``combine``: ``globalhook combine`` folding the W part files;
- ``report``: ``globalhook report`` (text) of the combined file;
- ``tests_for``: ``globalhook tests-for`` of one global;
- ``diff``: ``globalhook diff`` of the file with itself;
- ``select``: ``pytest --globalhook-select``'s decision (pytest itself left
  out): the data file read as the plugin reads it, then one decision per
  test, with a ``selection`` key for the N tests as ``benchmarks/selection.py``
  builds it (300 modules of 20 definitions, 16 names read per test, one
  constant edited); also split into reading and deciding;

and the growth of each at N/4 -> N (1.0 is linear).  The same with
version 1 (the JSON of ``globalhook export``) for the size.

``--click DIR``: also a real suite's data: DIR holds ``.globalhook.json``
from ``pytest --globalhook=click`` (click 8.1.8: 628 tests) and, when
present, ``.coverage`` from ``pytest --cov=click --cov-context=test`` of the
same suite, for coverage.py's size beside it.  ``--quick`` (N = 2,000) only
proves the script works.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))  # selection.py builds the selection data

MODULES = 300
FUNCTIONS = 20  # per module
GOAL_S = 2.0
LAST_WALL = 0.0


def synthetic_lookups(tests: range, seed: int = 0) -> List[dict]:
    """What ``pytest --globalhook`` records for ``tests`` of the synthetic suite (one worker's share)."""
    lookups = []
    for test in tests:
        rnd = random.Random(test * 7919 + seed)
        context = f"tests/test_mod{test % 97}.py::TestThing{test % 13}::test_case_{test}"
        for phase, calls in (("setup", 1), ("call", 3)):
            for call in range(calls):
                if call < 2:  # the core every test goes through
                    module, function = rnd.randrange(6), rnd.randrange(FUNCTIONS)
                else:
                    module, function = rnd.randrange(MODULES), rnd.randrange(FUNCTIONS)
                base = {
                    "module": f"synth.pkg{module // 30}.mod{module}",
                    "function": f"Handler{function % 4}.method_{function}",
                    "file": f"/home/ci/project/src/synth/pkg{module // 30}/mod{module}.py",
                    "line": 10 + function * 12,
                    "context": f"{context}|{phase}",
                }
                for name in (f"SETTING_{function % 7}", f"REGISTRY_{function % 5}", "logger"):
                    lookups.append(dict(base, name=name, kind="global", count=rnd.randint(1, 4)))
                lookups.append(dict(base, name="len", kind="builtin", count=1))
    return lookups


#: Runs ``python -m globalhook ARGS`` and writes its own peak RSS (VmHWM, kB) where GH_BENCH_HWM says.
#: Measured inside: a child's ``ru_maxrss`` also counts the memory of the process that forked it.
_MEASURED = """\
import atexit, os, runpy, sys
def _peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(os.environ["GH_BENCH_HWM"], "w") as out:
                    out.write(line.split()[1])
atexit.register(_peak)
sys.argv = ["globalhook", *sys.argv[1:]]
runpy.run_module("globalhook", run_name="__main__", alter_sys=True)
"""


def run_measured(command: List[str], cwd: Path) -> Tuple[float, float, str]:
    """CPU seconds and peak RSS (MB) of a whole ``python -c SCRIPT`` or ``python -m globalhook ...``; its stdout.

    CPU time (user + system) rather than wall time: on a shared machine it
    moves far less; the wall time of the last run is kept in ``LAST_WALL``.
    """
    global LAST_WALL
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    if command[:2] == ["-m", "globalhook"] and os.path.exists("/proc/self/status"):
        command = ["-c", _MEASURED, *command[2:]]
    with tempfile.TemporaryDirectory() as scratch:
        env["GH_BENCH_HWM"] = hwm = os.path.join(scratch, "hwm")
        out, err = Path(scratch, "out"), Path(scratch, "err")
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            start = time.perf_counter()
            process = subprocess.Popen([sys.executable, *command], env=env, cwd=str(cwd), stdout=stdout, stderr=stderr)
            peak = cpu = 0.0
            if hasattr(os, "wait4"):
                _, status, usage = os.wait4(process.pid, 0)
                process.returncode = os.waitstatus_to_exitcode(status)
                peak = usage.ru_maxrss / 1024
                cpu = usage.ru_utime + usage.ru_stime
            else:  # pragma: no cover - Windows
                process.wait()
            LAST_WALL = time.perf_counter() - start
        if os.path.exists(hwm):
            peak = int(Path(hwm).read_text()) / 1024
        if process.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(command[:3])} failed: {err.read_text(errors='replace').strip()}")
        return cpu or LAST_WALL, peak, out.read_text(errors="replace")


_RECORD = """\
import json, sys, time
sys.path.insert(0, {bench!r})
from store import synthetic_lookups
from globalhook import data
lookups = synthetic_lookups(range({start}, {stop}))
start = time.perf_counter()
data.save(data.make_data(lookups, {{"pid": {worker}}}), data.part_path({path!r}))
print(time.perf_counter() - start)
"""


def measure_synthetic(tests: int, workers: int, workdir: Path) -> Dict[str, float]:
    """Record (W workers), combine, report, tests-for and diff the synthetic suite of ``tests`` tests."""
    from globalhook import data

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    target = workdir / ".globalhook.json"
    result: Dict[str, float] = {"tests": tests}
    saves = []
    share = -(-tests // workers)
    for worker in range(workers):
        script = _RECORD.format(bench=str(HERE), start=worker * share, stop=min(tests, (worker + 1) * share), worker=worker, path=str(target))
        saves.append(float(run_measured(["-c", script], workdir)[2]))
    result["record_s"] = max(saves)
    result["parts_bytes"] = sum(p.stat().st_size for p in workdir.iterdir())
    result["combine_s"], result["combine_rss_mb"], _ = run_measured(["-m", "globalhook", "combine"], workdir)
    result["bytes"] = target.stat().st_size
    loaded = data.load(str(target))
    result["lookups"] = len(loaded["lookups"])
    result["v1_bytes"] = len(json.dumps(data.export_v1(loaded), separators=(",", ":")))
    del loaded
    result["report_s"], result["report_rss_mb"], _ = run_measured(["-m", "globalhook", "report"], workdir)
    result["tests_for_s"], result["tests_for_rss_mb"], out = run_measured(["-m", "globalhook", "tests-for", "synth.pkg3.mod99:SETTING_3"], workdir)
    result["tests_for_found"] = len(out.splitlines())
    shutil.copy(target, workdir / "copy.json")
    result["diff_s"], result["diff_rss_mb"], _ = run_measured(["-m", "globalhook", "diff", str(target), "copy.json"], workdir)
    result.update(measure_selection(tests, target, workdir / "project"))
    return result


#: ``pytest --globalhook-select``'s decision, as its plugin makes it: the data file read with
#: ``data.load_stored`` (lookups left as a table), then, with the collector paused, a ``Selector``
#: made and one decision per recorded test (pytest itself left out).
_SELECT = """\
import json, sys, time
sys.path.insert(0, {repo!r})
from globalhook import data
from globalhook.gcpause import paused
from globalhook.testselect import Selector
started = time.process_time()
selection = data.load_stored({path!r})["selection"]
loaded = time.process_time()
with paused():
    selector = Selector(selection, {root!r}, "e")
    chosen = sum(1 for test in selection["tests"] if selector.decide(test).run)
done = time.process_time()
peak = 0.0
try:  # ru_maxrss of a child also counts the parent's pages at fork: VmHWM is this process's own
    with open("/proc/self/status") as status:
        peak = next((int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:")), 0.0)
except OSError:
    pass
print(json.dumps({{"load": loaded - started, "decide": done - loaded, "chosen": chosen, "peak": peak}}))
"""


def measure_selection(tests: int, target: Path, project: Path) -> Dict[str, float]:
    """The selection decision for ``tests`` recorded tests, from the synthetic suite's data file.

    The ``selection`` key is what ``benchmarks/selection.py`` builds (its
    package written to ``project``: 300 modules of 20 definitions, 16 names
    read per test, one constant then edited), added to the combined file of
    479,020 lookups that the plugin must read to get at it.
    """
    from globalhook import data
    from selection import build

    started = time.process_time()
    selection = build(project, MODULES, FUNCTIONS, tests, 16)
    built = time.process_time() - started
    stored = data.load_stored(str(target))
    stored["selection"] = selection
    data.save(stored, str(target))
    del stored, selection
    edited = project / "pkg" / "m7.py"
    edited.write_text(edited.read_text().replace("C3 = 3", "C3 = 33"))
    cpu, rss, out = run_measured(["-c", _SELECT.format(repo=str(REPO), path=str(target), root=str(project))], project)
    inside = json.loads(out)
    return {
        "select_s": cpu,
        "select_rss_mb": inside["peak"] or rss,
        "select_load_s": inside["load"],
        "select_decide_s": inside["decide"],
        "select_chosen": inside["chosen"],
        "select_build_s": built,
        "with_selection_bytes": target.stat().st_size,
    }


def measure_click(folder: Path, workdir: Path) -> Dict[str, float]:
    """A real suite's data: size in both versions, and the views' time and memory on it."""
    from globalhook import data

    source = folder / ".globalhook.json"
    workdir.mkdir(parents=True, exist_ok=True)
    loaded = data.load(str(source))
    v2 = workdir / "click.json"
    data.save(loaded, str(v2))
    result: Dict[str, float] = {
        "lookups": len(loaded["lookups"]),
        "contexts": len({entry.get("context", "") for entry in loaded["lookups"]}),
        "v1_bytes": len(json.dumps(data.export_v1(loaded), separators=(",", ":"))),
        "bytes": v2.stat().st_size,
    }
    del loaded
    coverage = folder / ".coverage"
    if coverage.is_file():
        result["coverage_bytes"] = coverage.stat().st_size
    result["report_s"], result["report_rss_mb"], _ = run_measured(["-m", "globalhook", "report", "--data-file", str(v2)], workdir)
    result["tests_for_s"], result["tests_for_rss_mb"], _ = run_measured(
        ["-m", "globalhook", "tests-for", "--data-file", str(v2), "click.core:*"], workdir
    )
    return result


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/store.py",
        description=__doc__.splitlines()[0] + " Steps: record, combine, report, tests-for, diff, select (see the module docstring).",
    )
    parser.add_argument("--tests", type=int, default=30_000, help="tests of the synthetic suite (default 30,000)")
    parser.add_argument("--workers", type=int, default=8, help="xdist-like workers, one part file each (default 8)")
    parser.add_argument("--click", type=Path, metavar="DIR", help="a folder holding click's .globalhook.json (and .coverage)")
    parser.add_argument("--quick", action="store_true", help="2,000 tests, no growth: proves the script works")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    options = parser.parse_args(argv)
    tests = 2000 if options.quick else options.tests
    results: Dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="gh-store-") as tmp:
        big = measure_synthetic(tests, options.workers, Path(tmp) / "big")
        results["synthetic"] = big
        if not options.quick:
            small = measure_synthetic(tests // 4, options.workers, Path(tmp) / "small")
            results["synthetic_quarter"] = small
            results["growth"] = {
                step: round(big[step] / (4 * small[step]), 2) if small[step] else None
                for step in ("record_s", "combine_s", "report_s", "tests_for_s", "diff_s", "select_s", "bytes")
            }
        if options.click:
            results["click"] = measure_click(options.click, Path(tmp) / "click")
    print(f"synthetic suite: {big['tests']:,} tests, {big['lookups']:,} lookups, {options.workers} workers")
    print(f"  size      {big['bytes'] / 1e6:8.2f} MB  (version 1: {big['v1_bytes'] / 1e6:.2f} MB)")
    for step in ("record", "combine", "report", "tests_for", "diff", "select"):
        rss = big.get(f"{step}_rss_mb")
        mark = "ok" if big[f"{step}_s"] < GOAL_S else f"over {GOAL_S} s"
        print(f"  {step:<9} {big[f'{step}_s']:8.2f} s" + (f"   peak RSS {rss:6.1f} MB" if rss else "") + f"   {mark}")
    print(f"  select: reading the data file (data.load_stored) {big['select_load_s']:.2f} s + deciding"
          f" {big['select_decide_s']:.2f} s ({big['select_chosen']:,} of {big['tests']:,} tests selected);"
          f" with the selection key the file is {big['with_selection_bytes'] / 1e6:.2f} MB")
    if "growth" in results:
        print("  growth (t(N) / 4 t(N/4), 1.0 is linear): " + ", ".join(f"{k} {v}" for k, v in results["growth"].items()))
    if "click" in results:
        click = results["click"]
        print(f"click: {click['lookups']:,} lookups, {click['contexts']} contexts")
        print(f"  size      {click['bytes'] / 1e6:8.2f} MB  (version 1: {click['v1_bytes'] / 1e6:.2f} MB"
              + (f"; coverage.py --cov-context=test: {click['coverage_bytes'] / 1e6:.2f} MB)" if "coverage_bytes" in click else ")"))
        print(f"  report    {click['report_s']:8.2f} s   peak RSS {click['report_rss_mb']:6.1f} MB")
        print(f"  tests_for {click['tests_for_s']:8.2f} s   peak RSS {click['tests_for_rss_mb']:6.1f} MB")
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
