"""Time ``globalhook html`` on a big synthetic data file (10^5 functions by default).

Writes a throwaway project of real source files (so the report compiles them
and finds each function's lines, as it would for a real project), a data
file for it, and times the report in this process: grouping, compiling,
every page and data file.  Prints the seconds taken and what was written.

    python benchmarks/html_scale.py [--functions 100000] [--modules 500] [--keep DIR]
"""

from __future__ import annotations

import argparse
import compileall
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from globalhook.data import make_data  # noqa: E402
from globalhook.htmlreport import write_html  # noqa: E402
from globalhook.workers import default_jobs  # noqa: E402

GLOBALS_PER_MODULE = 40
BUILTINS = ("len", "range", "isinstance", "sorted", "print")


def make_project(root: Path, functions: int, modules: int, seed: int = 1):
    """Source files and their lookups: each function reads 2-5 globals and a builtin."""
    rng = random.Random(seed)
    lookups = []
    per_module = -(-functions // modules)
    made = 0
    for m in range(modules):
        name = f"pkg{m // 50}.mod{m}"
        path = root / f"pkg{m // 50}" / f"mod{m}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f'"""Module {m}."""', ""]
        lines += [f"SETTING_{g} = {g}" for g in range(GLOBALS_PER_MODULE)]
        lines.append("")
        count = min(per_module, functions - made)
        for f in range(count):
            reads = rng.sample(range(GLOBALS_PER_MODULE), rng.randint(2, 5))
            builtin = rng.choice(BUILTINS)
            first = len(lines) + 1
            lines.append(f"def func_{f}(value):")
            lines.append(f'    """Function {f}."""')
            for g in reads:
                lines.append(f"    value = value + SETTING_{g}")
            lines.append(f"    return {builtin}([value])")
            lines.append("")
            for g in reads:
                lookups.append(_entry(name, f"func_{f}", str(path), first, f"SETTING_{g}", "global", rng.randint(1, 1000)))
            lookups.append(_entry(name, f"func_{f}", str(path), first, builtin, "builtin", rng.randint(1, 1000)))
            if f % 97 == 0:
                lookups.append(_entry(name, f"func_{f}", str(path), first, "UNDEFINED", "missing", 1))
        made += count
        path.write_text("\n".join(lines) + "\n")
        (path.parent / "__init__.py").touch()
    return lookups


def _entry(module, function, file, line, name, kind, count):
    return {"module": module, "function": function, "file": file, "line": line, "name": name, "kind": kind, "count": count}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=100_000)
    parser.add_argument("--modules", type=int, default=500)
    parser.add_argument("--keep", metavar="DIR", help="write the report here and keep it")
    parser.add_argument("--jobs", type=int, help="worker processes (default: one per CPU)")
    parser.add_argument("--work", metavar="DIR", help="folder for the throwaway project (default: a temporary folder)")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="globalhook-html-scale-", dir=options.work))
    try:
        lookups = make_project(work / "src", options.functions, options.modules)
        data = make_data(lookups, {"python": sys.version.split()[0]})
        out = options.keep or str(work / "html")
        # Cold: no bytecode cached, every source file is compiled.  Warm: the
        # run that made the data imported the modules, so __pycache__ holds
        # their bytecode (the usual case).
        for label in ("cold (sources compiled)", "warm (bytecode cached)"):
            if label.startswith("warm"):
                compileall.compile_dir(str(work / "src"), quiet=1)
            before = os.times()
            started = time.perf_counter()
            summary = write_html(data, out, cwd=str(work / "src"), workers=options.jobs)
            elapsed = time.perf_counter() - started
            after = os.times()
            main_cpu = after.user + after.system - before.user - before.system
            workers_cpu = after.children_user + after.children_system - before.children_user - before.children_system
            print(
                f"render time, {label}: {elapsed:.2f} s wall; CPU {main_cpu + workers_cpu:.2f} s "
                f"(main process {main_cpu:.2f} s, workers {workers_cpu:.2f} s)"
            )
        files = [f for f in Path(out).rglob("*") if f.is_file()]
        size = sum(f.stat().st_size for f in files)
        print(
            f"html report: {summary['functions']:,} functions in {summary['modules']:,} modules, "
            f"{len(lookups):,} lookups -> {len(files):,} files, {size / 1e6:.1f} MB "
            f"(Python {sys.version.split()[0]}, {options.jobs or default_jobs()} processes, "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
