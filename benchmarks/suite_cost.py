"""What recording costs a real test suite: click 8.1.8's, plain vs ``pytest --globalhook=click``.

    python benchmarks/suite_cost.py [--quick] [--rounds N] [--source DIR] [--json FILE]

The suite comes from click's source distribution, fetched with ``pip download``
(or an extracted copy given with ``--source``); click is imported from its
``src`` folder, so nothing is installed.  Three variants run in child
processes, interleaved round by round in a rotating order so that load from
other processes hits each alike:

- ``plain``: ``pytest``;
- ``idle``: ``pytest --globalhook=<a package that does not exist>``: the
  plugin's fixed cost (import hook, per-test labels, saving) with no read
  recorded;
- ``tracked``: ``pytest --globalhook=click``;
- ``floor`` (asked for with ``--variants``; needs the compiled core): plain
  ``pytest`` with click's modules in the floor types of
  ``benchmarks/floor.py`` (namespaces whose lookups only look up), loaded by
  a small plugin (``-p``): what any dict-subclass namespace costs this suite
  before anything is recorded.

Each figure is the child's CPU time (user + system, from ``os.wait4``), start-up
and saving included, as a user pays it.  Medians; ratios of medians measured in
the same run.  ``GLOBALHOOK_CORE`` chooses the core, as everywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import FLOOR_IMPORT_HOOK, has_floor_types  # noqa: E402

SUITE = "click==8.1.8"
VARIANTS = ("plain", "idle", "tracked")
#: Every variant ``--variants`` takes (the floor only when asked for).
KNOWN = VARIANTS + ("floor",)
#: The floor variant's plugin module, written into the benchmark's scratch folder.
_FLOOR_PLUGIN = "globalhook_suite_cost_floor"
_FLOOR_PLUGIN_SOURCE = 'NAME = "click"\n' + FLOOR_IMPORT_HOOK + """

def pytest_sessionfinish(session, exitstatus):
    if type(vars(sys.modules["click"])) is not _ctracking._FloorDict:
        raise SystemExit("floor plugin: click does not have the floor dict")
"""
#: A package no one has: the plugin runs with nothing to track.
_NOTHING = "globalhook_suite_cost_nothing"


def fetch_suite(into: Path) -> Path:
    """Download and unpack the sdist; returns its top folder."""
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", SUITE,
               "-d", str(into)]
    done = subprocess.run(command, capture_output=True, text=True)
    archives = sorted(into.glob("*.tar.gz"))
    if done.returncode != 0 or not archives:
        raise SystemExit(f"suite_cost.py: could not download {SUITE}: {done.stderr.strip()[-500:]}")
    with tarfile.open(archives[0]) as archive:
        if sys.version_info >= (3, 12):
            archive.extractall(into, filter="data")
        else:
            archive.extractall(into)
    folders = [p for p in into.iterdir() if p.is_dir() and (p / "tests").is_dir()]
    if not folders:
        raise SystemExit(f"suite_cost.py: {archives[0].name} has no tests folder")
    return folders[0]


def _command(variant: str, data_file: Path, quick: bool) -> List[str]:
    # click's pyproject turns warnings into errors; pytests newer than click warn
    # about its parametrize iterators: those (deprecations) only.
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-W", "ignore::DeprecationWarning"]
    if quick:
        command += ["tests/test_basic.py"]
    if variant == "floor":
        command[3:3] = ["-p", _FLOOR_PLUGIN]
    if variant == "idle":
        command += [f"--globalhook={_NOTHING}", f"--globalhook-data={data_file}"]
    elif variant == "tracked":
        command += ["--globalhook=click", f"--globalhook-data={data_file}"]
    return command


def _child_cpu(command: List[str], cwd: Path, env: Dict[str, str]) -> float:
    """CPU seconds (user + system) of the child, which must pass."""
    with tempfile.TemporaryFile() as output:
        child = subprocess.Popen(command, cwd=str(cwd), env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        if child.returncode != 0:
            output.seek(0)
            tail = output.read().decode(errors="replace")[-3000:]
            raise SystemExit(f"suite_cost.py: {' '.join(command)} failed ({child.returncode}):\n{tail}")
    return usage.ru_utime + usage.ru_stime


def measure(source: Path, rounds: int, quick: bool, variants=VARIANTS) -> Dict[str, float]:
    """variant -> median child CPU seconds; also checks that the tracked run recorded click's reads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_") or k == "GLOBALHOOK_CORE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source / "src"), env.get("PYTHONPATH")]))
    env.pop("PYTEST_ADDOPTS", None)
    times: Dict[str, List[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as scratch:
        if "floor" in variants:
            (Path(scratch) / f"{_FLOOR_PLUGIN}.py").write_text(_FLOOR_PLUGIN_SOURCE)
            env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], scratch])
        data = Path(scratch) / "suite.json"
        for round_no in range(rounds):
            shift = round_no % len(variants)
            for name in variants[shift:] + variants[:shift]:
                times[name].append(_child_cpu(_command(name, data, quick), source, env))
                if name == "tracked":
                    from globalhook.data import load  # version 2 keeps lookups as a table

                    recorded = load(str(data))
                    if not any(str(e.get("module", "")).startswith("click") for e in recorded.get("lookups", [])):
                        raise SystemExit("suite_cost.py: click was not tracked (no lookups recorded for it)")
                print(f"  round {round_no + 1}/{rounds} {name:8s} {times[name][-1]:7.2f} s", file=sys.stderr,
                      flush=True)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/suite_cost.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one test file, 1 round (proves it works)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5; --quick 1)")
    parser.add_argument("--source", metavar="DIR", help="an extracted click 8.1.8 sdist (default: pip download)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of "
                        + ", ".join(KNOWN) + " (default: " + ",".join(VARIANTS) + ")")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    options = parser.parse_args(argv)
    rounds = options.rounds or (1 if options.quick else 5)
    variants = tuple(v for v in options.variants.split(",") if v)
    unknown = [v for v in variants if v not in KNOWN]
    if unknown or "plain" not in variants:
        parser.error(f"--variants: {', '.join(unknown) or 'plain is needed'} (known: {', '.join(KNOWN)})")
    from globalhook import tracking

    if "floor" in variants and not has_floor_types():
        parser.error("--variants: floor needs the compiled core's floor types, which are not built here")

    version = ".".join(map(str, sys.version_info[:3])) + ("t" if not getattr(sys, "_is_gil_enabled", lambda: 1)()
                                                          else "")
    if options.source and not (Path(options.source, "tests").is_dir() and Path(options.source, "src", "click").is_dir()):
        parser.error(f"--source {options.source}: not an extracted click sdist (no tests/ and src/click/ in it)")
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(options.source).resolve() if options.source else fetch_suite(Path(scratch))
        print(f"core: {tracking.CORE}; Python {version}; {SUITE} suite; child CPU time, medians of {rounds} rounds",
              flush=True)
        medians = measure(source, rounds, options.quick, variants)
    plain = medians["plain"]
    for name in variants:
        print(f"{name:8s} {medians[name]:7.2f} s   {medians[name] / plain:5.3f}x")
    if options.json:
        Path(options.json).write_text(json.dumps({
            "python": version, "core": tracking.CORE, "suite": SUITE, "rounds": rounds, "cpu_s": medians,
            "ratios": {name: medians[name] / plain for name in variants}}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
