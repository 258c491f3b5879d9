"""What test selection costs on click 8.1.8's suite: recording, a rerun with nothing changed, and one after a small change.

    python benchmarks/selection_cost.py [--rounds N] [--source DIR] [--variants a,b] [--json FILE]

Beside ``benchmarks/suite_cost.py`` (plain pytest against ``--globalhook=click``),
this measures the other columns of the comparison, with the same method: the
suite from click's sdist (``pip download``, or an extracted copy with
``--source``), click imported from its ``src`` folder, each variant in a child
process, variants interleaved round by round in a rotating order, the child's
CPU time (user + system, from ``os.wait4``), medians, and ratios of medians to
plain pytest measured in the same run.

- ``plain``: ``pytest``;
- ``gh-record``: ``pytest --globalhook=click`` from no data;
- ``gh-noop``: ``pytest --globalhook=click --globalhook-select`` from data
  recorded on the same source (so it selects nothing): the fixed price of asking;
- ``tm-record``, ``tm-noop``: the same two with ``pytest --testmon``;
- ``cov-context``: ``pytest --cov=click --cov-context=test`` (pytest-cov);
- ``gh-change``, ``tm-change``: ``--globalhook-select`` and ``--testmon`` from
  their baselines after one edit (:data:`CHANGE`, a line of ``click.termui.unstyle``),
  made in a copy of the source;
- ``plain-selected``: plain ``pytest`` given the ids ``gh-change`` selects (the
  floor for running those tests).

Variants whose plugin is not installed are left out, with a note.
``GLOBALHOOK_CORE`` chooses globalhook's core, as everywhere.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

SUITE = "click==8.1.8"
VARIANTS = ("plain", "gh-record", "gh-noop", "tm-record", "tm-noop", "cov-context", "gh-change", "tm-change",
            "plain-selected")
#: What runs without ``--variants`` (the ``*-change`` ones edit the source that the others then see).
DEFAULT = VARIANTS[:6]
_CHANGED = ("gh-change", "tm-change", "plain-selected")
#: The edit behind the ``*-change`` variants: (file, old line, new line); it changes the bytecode of one function.
CHANGE = ("src/click/termui.py", "    return strip_ansi(text)\n", "    return strip_ansi(text) or \"\"\n")


def fetch_suite(into: Path) -> Path:
    """Download and unpack click's sdist; returns its top folder."""
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", SUITE, "-d", str(into)]
    done = subprocess.run(command, capture_output=True, text=True)
    archives = sorted(into.glob("*.tar.gz"))
    if done.returncode != 0 or not archives:
        raise SystemExit(f"selection_cost.py: could not download {SUITE}: {done.stderr.strip()[-500:]}")
    with tarfile.open(archives[0]) as archive:
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(into, **kwargs)
    folders = [p for p in into.iterdir() if p.is_dir() and (p / "tests").is_dir()]
    if not folders:
        raise SystemExit(f"selection_cost.py: {archives[0].name} has no tests folder")
    return folders[0]


def _has_select() -> bool:
    from globalhook import pytest_plugin

    return "--globalhook-select" in Path(pytest_plugin.__file__).read_text()


def available(variants: Sequence[str]) -> List[str]:
    """The variants this interpreter can run; says why it leaves one out."""
    needs = {"tm-record": "testmon", "tm-noop": "testmon", "tm-change": "testmon", "cov-context": "pytest_cov"}
    kept = []
    for name in variants:
        module = needs.get(name)
        if module and importlib.util.find_spec(module) is None:
            print(f"  {name}: left out ({module} is not installed)", file=sys.stderr)
        elif name in ("gh-noop", "gh-change", "plain-selected") and not _has_select():
            print(f"  {name}: left out (this globalhook has no --globalhook-select)", file=sys.stderr)
        else:
            kept.append(name)
    return kept


class Runner:
    """The commands, and the data each variant starts from."""

    def __init__(self, source: Path, scratch: Path):
        self.source, self.scratch = source, scratch
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_") or k == "GLOBALHOOK_CORE"}
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source / "src"), self.env.get("PYTHONPATH")]))
        self.env.pop("PYTEST_ADDOPTS", None)
        self.env["COVERAGE_FILE"] = str(scratch / "coverage")
        self.gh = scratch / "globalhook.json"
        self.gh_base = scratch / "globalhook-base.json"
        self.tm = scratch / "testmondata"
        self.tm_base = scratch / "testmon-base"
        self.notes: Dict[str, str] = {}
        #: The edited copy of the source (made for the ``*-change`` variants) and the ids ``gh-change`` selects.
        self.changed = scratch / "changed"
        self.selected: List[str] = []

    def command(self, variant: str) -> List[str]:
        # click's pyproject turns warnings into errors; pytests newer than click
        # warn about its parametrize iterators: those (deprecations) only.
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"]
        if variant.startswith("gh-"):
            command += ["--globalhook=click", f"--globalhook-data={self.gh}"]
            if variant in ("gh-noop", "gh-change"):
                command.append("--globalhook-select")
        elif variant.startswith("tm-"):
            command.append("--testmon")
        elif variant == "plain-selected":
            command += self.selected
        elif variant == "cov-context":
            command += ["--cov=click", "--cov-context=test", "--cov-report="]
        return command

    def prepare(self, variant: str) -> None:
        """Put the data the variant starts from in place (none, or the recorded baseline)."""
        for path in [self.gh, *self.scratch.glob("testmondata*"), *self.scratch.glob("coverage*")]:
            if path.exists():
                path.unlink()
        if variant in ("gh-noop", "gh-change"):
            shutil.copyfile(self.gh_base, self.gh)
        elif variant in ("tm-noop", "tm-change"):
            for p in self.scratch.glob("testmon-base*"):
                shutil.copyfile(p, self.scratch / ("testmondata" + p.name[len("testmon-base"):]))
        self.env["TESTMON_DATAFILE"] = str(self.tm)

    def record_baselines(self, variants: Sequence[str]) -> None:
        """The data each rerun starts from, recorded on the unchanged source (the ``*-change``
        variants: on a copy of it, which is then edited)."""
        if any(v in _CHANGED for v in variants):
            shutil.copytree(self.source, self.changed)  # copy2: the other files keep their times
            self.source = self.changed
            self.env["PYTHONPATH"] = os.pathsep.join([str(self.changed / "src")] + self.env["PYTHONPATH"].split(os.pathsep)[1:])
        if any(v in ("gh-noop", "gh-change", "plain-selected") for v in variants):
            self.prepare("gh-record")
            self.cpu("gh-record")
            shutil.copyfile(self.gh, self.gh_base)
        if any(v in ("tm-noop", "tm-change") for v in variants):
            self.prepare("tm-record")
            self.cpu("tm-record")
            for p in self.scratch.glob("testmondata*"):
                shutil.copyfile(p, self.scratch / ("testmon-base" + p.name[len("testmondata"):]))
        if any(v in _CHANGED for v in variants):
            self.edit()
            if "plain-selected" in variants:
                self.selected = self.selected_ids()

    def edit(self) -> None:
        name, old, new = CHANGE
        path = self.changed / name
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise SystemExit(f"selection_cost.py: {name}: the line to change ({old.strip()!r}) is not there once")
        path.write_text(text.replace(old, new), encoding="utf-8")

    def selected_ids(self) -> List[str]:
        """The ids ``gh-change`` runs (asked with ``--collect-only``, from the same baseline)."""
        self.prepare("gh-change")
        command = self.command("gh-change") + ["--collect-only"]
        done = subprocess.run(command, cwd=str(self.source), env=self.env, capture_output=True, text=True)
        ids = [line for line in done.stdout.splitlines() if "::" in line]
        if done.returncode != 0 or not ids:
            raise SystemExit(f"selection_cost.py: {' '.join(command)} selected nothing ({done.returncode}):\n"
                             f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return ids

    def cpu(self, variant: str) -> float:
        """CPU seconds (user + system) of one run, which must pass (or, for a no-op rerun, select nothing)."""
        command = self.command(variant)
        with tempfile.TemporaryFile() as output:
            child = subprocess.Popen(command, cwd=str(self.source), env=self.env, stdout=output, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(child.pid, 0)
            code = os.waitstatus_to_exitcode(status)
            output.seek(0)
            text = output.read().decode(errors="replace")
        # 5 is pytest's "no tests ran": what a rerun that selects nothing may end with.
        if code not in ((0, 5) if variant.endswith("-noop") else (0,)):
            raise SystemExit(f"selection_cost.py: {' '.join(command)} failed ({code}):\n{text[-3000:]}")
        last = (text.strip().splitlines() or [""])[-1]
        if variant.endswith("-noop") and " passed" in last:
            # Reported, not hidden: a no-change rerun should select nothing.
            self.notes[variant] = last
        return usage.ru_utime + usage.ru_stime


def measure(runner: Runner, variants: Sequence[str], rounds: int) -> Dict[str, float]:
    runner.record_baselines(variants)
    times: Dict[str, List[float]] = {name: [] for name in variants}
    for round_no in range(rounds):
        shift = round_no % len(variants)
        for name in list(variants[shift:]) + list(variants[:shift]):
            runner.prepare(name)
            times[name].append(runner.cpu(name))
            print(f"  round {round_no + 1}/{rounds} {name:12s} {times[name][-1]:7.2f} s", file=sys.stderr, flush=True)
    return {name: statistics.median(values) for name, values in times.items()}


def decision_time(runner: Runner, rounds: int) -> float:
    """CPU seconds of the decision alone for every recorded test, against the edited source: the data
    loaded, then each test decided by a new :class:`~globalhook.testselect.Selector` (median of rounds).

    The plugin also adds each test's roots as collected; without them this is a little less work.
    """
    import time

    from globalhook.data import load_stored
    from globalhook.testrecords import environment_digest
    from globalhook.testselect import Selector

    environment = environment_digest()
    times = []
    for _ in range(rounds):
        start = time.process_time()
        selection = load_stored(str(runner.gh_base))["selection"]
        selector = Selector(selection, str(runner.source), environment)
        chosen = sum(selector.decide(test).run for test in selection["tests"])
        times.append(time.process_time() - start)
    print(f"  decision alone: {chosen} of {len(selection['tests'])} tests selected", file=sys.stderr, flush=True)
    return statistics.median(times)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/selection_cost.py", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--source", metavar="DIR", help="an extracted click 8.1.8 sdist (default: pip download)")
    parser.add_argument("--variants", default=",".join(DEFAULT),
                        help="comma-separated subset of " + ", ".join(VARIANTS) + " (default: the first six)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    options = parser.parse_args(argv)
    variants = [v for v in options.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or "plain" not in variants:
        parser.error(f"--variants: {', '.join(unknown) or 'plain is needed'} (known: {', '.join(VARIANTS)})")
    if any(v.endswith("-noop") for v in variants) and any(v in _CHANGED for v in variants):
        parser.error("--variants: the *-noop variants need the unchanged source, the *-change ones the edited one: "
                     "ask for them in two runs")
    if options.rounds < 1:
        parser.error("--rounds: at least 1")
    variants = available(variants)
    from globalhook import tracking

    version = ".".join(map(str, sys.version_info[:3])) + ("t" if not getattr(sys, "_is_gil_enabled", lambda: 1)() else "")
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(options.source).resolve() if options.source else fetch_suite(Path(scratch) / "sdist")
        if not (source / "tests").is_dir() or not (source / "src" / "click").is_dir():
            raise SystemExit(f"selection_cost.py: --source {source}: not an extracted click sdist (no tests/, src/click/)")
        print(f"core: {tracking.CORE}; Python {version}; {SUITE} suite; child CPU time, medians of {options.rounds} rounds",
              flush=True)
        runner = Runner(source, Path(scratch))
        medians = measure(runner, variants, options.rounds)
        decision = decision_time(runner, options.rounds) if "gh-change" in variants else None
    plain = medians["plain"]
    for name in variants:
        note = f"   (ran tests on unchanged source: {runner.notes[name]})" if name in runner.notes else ""
        print(f"{name:14s} {medians[name]:7.2f} s   {medians[name] / plain:5.2f}x{note}")
    if decision is not None:
        print(f"{'decision':14s} {decision:7.2f} s   (in this process: the data loaded and every recorded test decided)")
    if options.json:
        Path(options.json).write_text(json.dumps({
            "python": version, "core": tracking.CORE, "suite": SUITE, "rounds": options.rounds, "cpu_s": medians,
            "ratios": {name: medians[name] / plain for name in variants},
            "notes": runner.notes, "decision_cpu_s": decision}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
