"""Saving, loading, combining and reporting must grow linearly with the data.

    python benchmarks/scale.py [--functions N] [--rounds R] [--quick] [--json FILE]

A tracked module makes N functions with ``exec`` (each reads one global,
``G``) and the script calls each once, so the recorder holds N entries, as
it would after a test suite that generates code (attrs, dataclasses,
templating).  Each size runs in a fresh interpreter, which measures, median
of R rounds:

- ``lookups``: ``Recorder.lookups()``, the snapshot a save starts from;
- ``save``: ``make_data`` + ``combine`` with the run's own parts (none),
  which saves: what the process ``globalhook run`` started does at exit
  after that;
- ``load``: ``data.load`` of the file just written;
- ``report_text`` / ``report_json``: the two reports of the loaded data;
- ``combine``: the data file plus 3 parts of the same size, each written
  by its own process that has ended (as pool workers leave them), folded
  into one with ``data.combine``;
- ``cli_report_text`` / ``cli_report_json``: ``python -m globalhook report``
  on that file, a whole process (start-up included), with its CPU time and
  peak RSS.

Printed: wall seconds per step at N/10 and at N, the CPU seconds of the
process doing the step at N (steadier than wall time on a busy machine), and
``growth`` = t(N) / (10 t(N/10)): 1.0 is linear, 10 is quadratic.  Goals at
N = 10^5 (issue 9, item 19): save at exit (lookups + save) under 1 s,
reports under 2 s.  ``--quick`` (N = 2000, one round) only proves that the
script works; the test suite runs it.  The checkout this script lies in is
what is measured (it goes first on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PARTS = 3  # parts folded in by the combine step, each as big as the data file

STEPS = ("lookups", "save", "load", "report_text", "report_json", "combine")
CLI_STEPS = ("cli_report_text", "cli_report_json")

_MODULE = '''\
"""{count} functions made by exec, each reading the global G once."""
G = 1
FUNCS = []
for _i in range({count}):
    _ns = {{}}
    exec("def f%d():\\n    return G\\n" % _i, globals(), _ns)
    FUNCS.append(_ns["f%d" % _i])
'''


def _measure(func: Callable[[], object], rounds: int, setup: Callable[[], object] = lambda: None):
    """Median wall and CPU seconds of ``func()`` over ``rounds``, each after ``setup()``.

    CPU time is this process's own: on a busy machine it moves less than
    wall time, so both are kept.
    """
    import gc

    walls, cpus = [], []
    for _ in range(rounds):
        setup()
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        func()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus)


def _run_info(pid: int) -> dict:
    """What a session writes about its process (fixed values: only the size matters here)."""
    from globalhook.limits import unobservable

    return {
        "globalhook": "bench", "python": ".".join(map(str, sys.version_info[:3])),
        "implementation": sys.implementation.name, "strategy": "native", "core": "bench",
        "command": ["scale.py"], "cwd": os.getcwd(), "host": "bench", "pid": pid,
        "run_id": f"bench{pid}", "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:00:01+00:00", "exit_code": 0, "unobservable": unobservable(),
    }


def measure_in_this_process(count: int, rounds: int, workdir: Path) -> Dict[str, object]:
    """Build ``count`` tracked functions here, call each once, time every step."""
    import importlib

    import globalhook
    import globalhook.tracking
    from globalhook import data, report
    from globalhook.tracking import RECORDER

    name = f"gh_bench_scale_{count}"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{name}.py").write_text(_MODULE.format(count=count))
    sys.path.insert(0, str(workdir))
    importlib.invalidate_caches()
    with globalhook.install(include=[name]):
        module = importlib.import_module(name)
    if type(vars(module)) is dict:
        raise RuntimeError(f"{name} is not tracked")
    for func in module.FUNCS:
        func()

    result: Dict[str, object] = {"functions": count, "globalhook": os.path.dirname(globalhook.__file__),
                                 "core": globalhook.tracking.CORE}
    lookups: List[dict] = []

    def step(name: str, func: Callable[[], object], setup: Callable[[], object] = lambda: None) -> None:
        result[name], result[f"{name}_cpu"] = _measure(func, rounds, setup)

    step("lookups", lambda: lookups.__setitem__(slice(None), RECORDER.lookups()))
    result["entries"] = len(lookups)
    if result["entries"] < count:
        raise RuntimeError(f"only {result['entries']} entries recorded for {count} functions")

    # What the process 'globalhook run' started does at exit: its own data, plus the parts of
    # its run (none here), written as the data file.
    data_file = str(workdir / f"{name}.json")
    step("save", lambda: data.combine(data_file, [data.make_data(lookups, _run_info(1))], select=lambda part: False))
    result["file_bytes"] = os.path.getsize(data_file)

    loaded: List[dict] = []
    step("load", lambda: loaded.__setitem__(slice(None), [data.load(data_file)]))
    step("report_text", lambda: report.text_report(loaded[0]))
    step("report_json", lambda: report.json_report(loaded[0]))

    # Parts as processes leave them: each written by its own process, which has ended.
    combined_file = str(workdir / f"{name}-combined.json")
    originals = workdir / "parts"
    originals.mkdir(exist_ok=True)
    for _ in range(PARTS):
        subprocess.run(
            [sys.executable, "-c", "import os, sys; from globalhook import data; d = data.load(sys.argv[1]); "
             "d['runs'] = [dict(d['runs'][0], pid=os.getpid(), run_id='part')]; "
             "data.save(d, data.part_path(sys.argv[2]))", data_file,
             str(originals / os.path.basename(combined_file))],
            check=True,
        )

    def setup_combine() -> None:
        data.save(loaded[0], combined_file)
        for part in originals.iterdir():
            shutil.copy(part, Path(combined_file).parent / part.name)

    step("combine", lambda: data.combine(combined_file, [data.load(combined_file)]), setup_combine)
    combined = data.load(combined_file)
    result["combined_entries"] = len(combined["lookups"])
    result["combined_runs"] = len(combined["runs"])
    if result["combined_runs"] != PARTS + 1 or getattr(data, "OPEN_PARTS", "open_parts") in combined:
        raise RuntimeError(f"combine took {result['combined_runs']} runs, expected {PARTS + 1}")

    result["data_file"] = data_file
    try:
        import resource

        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except ImportError:  # pragma: no cover - not on Windows
        pass
    return result


def _cli_report(data_file: str, fmt: str, rounds: int):
    """Wall and CPU seconds (medians) and peak RSS (MB) of a whole ``globalhook report``."""
    walls, cpus, peaks = [], [], []
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "globalhook", "report", "--data-file", data_file, "--format", fmt]
    for _ in range(rounds):
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=os.path.dirname(data_file), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        error = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
            cpus.append(usage.ru_utime + usage.ru_stime)
            peaks.append(usage.ru_maxrss / 1024)
        else:  # pragma: no cover
            process.wait()
            cpus.append(0.0)
            peaks.append(0.0)
        walls.append(time.perf_counter() - start)
        if process.returncode != 0:
            raise RuntimeError(f"globalhook report --format {fmt} failed: {error.strip()}")
    return statistics.median(walls), statistics.median(cpus), max(peaks)


def _measure_size(count: int, rounds: int, workdir: Path) -> Dict[str, object]:
    """One size in a fresh interpreter, so sizes do not share a recorder or a heap."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    process = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(count), "--rounds", str(rounds),
         "--workdir", str(workdir)],
        env=env, capture_output=True, text=True,
    )
    if process.returncode != 0:
        raise RuntimeError(f"measuring {count} functions failed:\n{process.stderr}")
    result = json.loads(process.stdout)
    # From this small process: a child forked from the big one would inherit its peak RSS.
    data_file = result.pop("data_file")
    for fmt in ("text", "json"):
        step = f"cli_report_{fmt}"
        result[step], result[f"{step}_cpu"], result[f"{step}_rss_mb"] = _cli_report(data_file, fmt, rounds)
    return result


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=100_000, help="N, the bigger size (default 100000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per step, median taken (default 3)")
    parser.add_argument("--quick", action="store_true", help="N = 2000, 1 round: only proves the script works")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        result = measure_in_this_process(options.child, options.rounds, Path(options.workdir))
        print(json.dumps(result))
        return 0
    if options.quick:
        options.functions, options.rounds = 2000, 1
    if options.functions < 10 or options.rounds < 1:
        parser.error("--functions must be at least 10 and --rounds at least 1")

    big = options.functions
    small = big // 10
    with tempfile.TemporaryDirectory(prefix="gh-scale-") as tmp:
        results = {str(n): _measure_size(n, options.rounds, Path(tmp) / str(n)) for n in (small, big)}
    growth = {
        step: results[str(big)][step] / (10 * results[str(small)][step])
        for step in STEPS + CLI_STEPS
        if results[str(small)][step] > 0
    }
    summary = {
        "python": ".".join(map(str, sys.version_info[:3])),
        "quick": options.quick,
        "rounds": options.rounds,
        "sizes": results,
        "growth": growth,
        "save_at_exit_s": results[str(big)]["lookups"] + results[str(big)]["save"],
        "save_at_exit_cpu_s": results[str(big)]["lookups_cpu"] + results[str(big)]["save_cpu"],
    }

    r = results[str(big)]
    print(f"globalhook from {r['globalhook']}, {r['core']} core")
    print(f"Python {summary['python']}, median of {options.rounds} round(s), wall seconds "
          f"(cpu: CPU seconds of the process doing the step, at N); growth = t(N) / (10 t(N/10)), 1.0 is linear")
    print(f"{'step':<18}{small:>12,}{big:>12,}{'cpu':>9}{'growth':>9}")
    for step in STEPS + CLI_STEPS:
        cpu = f"{r[step + '_cpu']:>8.3f}s" if step + "_cpu" in r else " " * 9
        print(f"{step:<18}{results[str(small)][step]:>11.3f}s{r[step]:>11.3f}s{cpu}{growth.get(step, 0):>9.2f}")
    print(f"save at exit (lookups + save) for {big:,} functions: {summary['save_at_exit_s']:.3f} s "
          f"(cpu {summary['save_at_exit_cpu_s']:.3f} s)")
    print(f"data file: {r['file_bytes'] / 1e6:.1f} MB for {r['entries']:,} entries; "
          f"report peak RSS text {r['cli_report_text_rss_mb']:.0f} MB, json {r['cli_report_json_rss_mb']:.0f} MB")
    if options.json:
        Path(options.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
