"""``globalhook html`` on a big synthetic data file (10^5 functions by default).

Writes a throwaway project of real source files (so the report compiles them
and finds each function's lines, as it would for a real project), a data
file for it, and measures:

- the time to write the report in this process (grouping, compiling, every
  page and data file), cold and warm;
- what was written: files, megabytes, the biggest file, and the bytes the
  index page loads;
- the peak memory (RSS) of ``python -m globalhook html`` run on the data
  file as a user would (one process: ``-j 1``);
- how long the pages take to open in headless Chromium (skipped, with a
  message, when no browser is found): time from navigation to the page's
  own "shown" mark (its data loaded, drawn, and a frame painted), for the
  index, the list of names, the biggest module's first and last functions,
  the reverse index of the biggest module and the graph.

    python benchmarks/html_scale.py [--functions 100000] [--modules 500] [--keep DIR] [--no-browser]
                                    [--memory-version-1]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from globalhook.data import make_data, save  # noqa: E402
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


# Run in the measured process: the command as ``python -m globalhook``, then its peak RSS into a file.
# Linux's VmHWM belongs to the process's own memory since it started the program; ru_maxrss
# would also count the pages of the (big) benchmark process it was forked from.
_MEASURED = """
import atexit, resource, runpy, sys
OUT = sys.argv[1]
def peak():
    try:
        with open("/proc/self/status") as f:
            found = [int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:")]
    except OSError:
        found = []
    rss = found[0] if found else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    with open(OUT, "w") as f:
        f.write(str(rss))
atexit.register(peak)
sys.argv = ["globalhook"] + sys.argv[2:]
runpy.run_module("globalhook", run_name="__main__", alter_sys=True)
"""


def html_peak_rss(work: Path, data_file: Path) -> int:
    """Peak RSS in bytes of the ``html`` command, in a process of its own, on a saved data file."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    report = work / "peak-rss.txt"
    command = [sys.executable, "-c", _MEASURED, str(report), "html", "--data-file", str(data_file), "-d", str(work / "memory-html"), "-j", "1"]
    result = subprocess.run(command, cwd=str(work / "src"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"html failed: {result.stderr.strip()}")
    return int(report.read_text())


def _browser_tool():
    path = Path(__file__).resolve().parent.parent / "tools" / "browser.py"
    spec = importlib.util.spec_from_file_location("globalhook_browser_tool", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def open_pages(out: Path, work: Path) -> None:
    """Open the report's pages from disk in headless Chromium; print how long each took to show."""
    tool = _browser_tool()
    executable = tool.find_browser()
    if executable is None:
        print("browser: skipped, no Chromium found (install Debian's 'chromium', or set $GLOBALHOOK_BROWSER)")
        return
    text = (out / "data" / "modules.js").read_text()
    modules = json.loads(text[len("GH.load("):-len(");\n")])["modules"]
    name, page, functions, *_, index = max(modules, key=lambda row: row[2])
    text = (out / "data" / "m" / f"{index}.js").read_text()
    first = json.loads(text[len("GH.module("):-len(");\n")])["first"]
    owner = sorted((out / "names").iterdir(), key=lambda p: len(p.read_text()))[-1]
    pages = [
        ("index", out / "index.html", ""),
        ("names", out / "names.html", ""),
        (f"module {name}, first function", out / page, ""),
        (f"module {name}, last function", out / page, f"#f{first + functions - 1}"),
        (f"who reads {owner.stem}", owner, ""),
        ("graph", out / "graph.html", ""),
    ]
    shown = "performance.getEntriesByName('globalhook-shown')"
    with tool.Browser(executable, str(work / "profile")) as browser:
        for label, path, anchor in pages:
            times = []
            for _ in range(3):  # the first opening reads the files from disk; the others from the cache
                tab = browser.new_page()
                tab.navigate(path.resolve().as_uri() + anchor)
                tab.wait_for(f"{shown}.length > 0", timeout=60)
                times.append(tab.evaluate(f"{shown}[0].startTime"))
                if tab.errors():
                    raise SystemExit(f"browser: errors on {label}: {tab.errors()}")
                tab.close()
            print(f"browser: {label}: shown after {times[0]:.0f} ms (then {', '.join(f'{t:.0f}' for t in times[1:])} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=100_000)
    parser.add_argument("--modules", type=int, default=500)
    parser.add_argument("--keep", metavar="DIR", help="write the report here and keep it")
    parser.add_argument("--jobs", type=int, help="worker processes (default: one per CPU)")
    parser.add_argument("--work", metavar="DIR", help="folder for the throwaway project (default: a temporary folder)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement (one more report)")
    parser.add_argument("--memory-version-1", action="store_true",
                        help="also measure the memory of html from the same data saved as version 1 (globalhook export)")
    parser.add_argument("--no-browser", action="store_true", help="skip opening the pages in headless Chromium")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="globalhook-html-scale-", dir=options.work))
    try:
        lookups = make_project(work / "src", options.functions, options.modules)
        data = make_data(lookups, {"python": sys.version.split()[0]})
        save(data, str(work / "data.json"))
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
        biggest = max(files, key=lambda f: f.stat().st_size)
        index_bytes = sum((Path(out) / name).stat().st_size for name in ("index.html", "report.js", "style.css", "data/modules.js"))
        print(
            f"biggest file: {biggest.relative_to(out)}, {biggest.stat().st_size / 1e6:.2f} MB; "
            f"the index loads {index_bytes / 1e3:.0f} kB"
        )
        if not options.no_memory:
            peak = html_peak_rss(work, work / "data.json")
            print(f"memory: 'globalhook html -j 1' of the data file: peak RSS {peak / 1e6:.0f} MB")
            if options.memory_version_1:
                from globalhook.data import export_v1

                old = work / "data-v1.json"
                old.write_text(json.dumps(export_v1(data), separators=(",", ":")))
                peak = html_peak_rss(work, old)
                print(f"memory: the same from a version-1 file ({old.stat().st_size / 1e6:.1f} MB): peak RSS {peak / 1e6:.0f} MB")
        if not options.no_browser:
            open_pages(Path(out), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
