"""globalhook's benchmark suite: one command, ratios measured within one run.

    python benchmarks/run.py [--quick] [--json FILE] [--only NAMES] [--parts NAMES]
                             [--rounds N] [--core auto|python|c|both]

Parts (``--parts``, comma-separated; all by default):

- ``pyperformance``: the issue's subset of pyperformance benchmarks, each
  loaded plain and tracked in this process, interleaved rounds, medians,
  ratio tracked / untracked (``workloads.py``).
- ``peers``: the same benchmarks at small sizes, plain, tracked and under the
  tracers to beat (``peers.py``), ratios to untracked and globalhook / peer.
- ``micro``: ns per lookup of a global, a builtin and a missing name (``micro.py``).
- ``import``: importing email/json/http with a non-matching hook (``importcost.py``).
- ``startup``: ``python -c pass`` with the start-up hook installed (``startup.py``).
- ``memory``: recorder size after 10 and after millions of lookups (``memory.py``).

``--core both`` measures every core-dependent part once per core, each in a
fresh interpreter with ``GLOBALHOOK_CORE`` set; the peers themselves run only
with the first core, and later cores are compared with them through the
common untracked time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # the helper modules
if importlib.util.find_spec("globalhook") is None:
    sys.path.insert(1, str(REPO))  # not installed: measure this checkout

from timing import geomean, interleaved, time_once  # noqa: E402

PARTS = ("pyperformance", "peers", "micro", "import", "startup", "memory")
CORE_PARTS = ("pyperformance", "peers", "micro", "import", "memory")  # measured once per core
QUICK_BENCHMARKS = ("float", "nqueens", "deltablue")
QUICK_PEER_BENCHMARKS = ("nqueens",)
#: Left out of the peers by default: one call of its fixed input takes ~0.4 s
#: plain, so 15-40 s under an instruction tracer.
PEER_SKIP = ("pyflate",)


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(message)


# -- options -----------------------------------------------------------------


def parse_options(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = _Parser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round: proves the suite works (~10 s)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated pyperformance benchmarks (default: the subset)")
    parser.add_argument("--parts", metavar="NAMES", help=f"comma-separated parts: {','.join(PARTS)}")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; --quick 1)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time measured: wall (default) or this process's CPU time (for a busy machine)")
    parser.add_argument("--core", choices=("auto", "python", "c", "both"), default="auto",
                        help="globalhook core to measure (default: whatever GLOBALHOOK_CORE/auto selects)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-no-peers", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    from workloads import SUBSET

    options.parts = _names(options.parts, PARTS, "part") if options.parts else list(PARTS)
    if options.clock == "cpu":
        from timing import use_cpu_clock

        use_cpu_clock()
    default = QUICK_BENCHMARKS if options.quick else SUBSET
    options.benchmarks = _names(options.only, SUBSET, "benchmark") if options.only else list(default)
    if options.rounds is None:
        options.rounds = 1 if options.quick else 5
    if options.rounds < 1:
        raise UsageError("--rounds must be at least 1")
    return options


def _names(text: str, known, what: str) -> List[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UsageError(f"unknown {what} {', '.join(unknown) or repr(text)} (choose from {', '.join(known)})")
    return names


def _settings(quick: bool, rounds: int) -> Dict[str, object]:
    """Sizes per mode: --quick runs every part tiny, to prove it works."""
    if quick:
        return dict(target=0.004, peer_target=0.002, peer_rounds=1, micro=20_000, micro_peer=2_000,
                    micro_rounds=3, import_runs=3, startup_runs=3, memory_big=1_000_000, warmup=0)
    return dict(target=0.1, peer_target=0.01, peer_rounds=max(1, min(rounds, 3)), micro=200_000,
                micro_peer=20_000, micro_rounds=rounds, import_runs=20, startup_runs=20,
                memory_big=10_000_000, warmup=1)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- one core, in this process -------------------------------------------------


def select_core(core: str) -> str:
    """Import globalhook with ``core`` selected; the core actually running."""
    if core != "auto":
        os.environ["GLOBALHOOK_CORE"] = core
    try:
        from globalhook import tracking
    except Exception as error:  # a broken or mismatched compiled core fails in many ways
        raise CoreUnavailable(f"importing globalhook with GLOBALHOOK_CORE={core} failed: {error!r}") from None
    active = getattr(tracking, "CORE", "python")
    if core != "auto" and active != core:
        problem = getattr(tracking, "CORE_PROBLEM", None) or f"GLOBALHOOK_CORE={core} gave the {active} core"
        raise CoreUnavailable(problem)
    return active


class CoreUnavailable(Exception):
    pass


def _repeated(func, repeat: int):
    if repeat == 1:
        return func

    def repeated():
        for _ in range(repeat):
            func()

    return repeated


def _calibrate(func, target: float) -> int:
    """Calls per sample so that one sample of ``func`` takes about ``target`` seconds."""
    once = min(time_once(func) for _ in range(2))
    return max(1, math.ceil(target / max(once, 1e-6)))


def run_pyperformance(options, settings, workdir: Path) -> Dict[str, object]:
    from workloads import FULL, SMALL, load_pairs

    pairs = load_pairs(options.benchmarks, workdir / "pyperformance")
    rows = {}
    for name, pair in pairs.items():
        _progress(f"  pyperformance {name}")
        plain, tracked = pair.workloads(SMALL[name] if options.quick else FULL)
        repeat = _calibrate(plain, settings["target"])
        medians = interleaved({"untracked": _repeated(plain, repeat), "tracked": _repeated(tracked, repeat)},
                              options.rounds, settings["warmup"])
        rows[name] = {"untracked_s": medians["untracked"] / repeat, "tracked_s": medians["tracked"] / repeat,
                      "repeat": repeat, "ratio": medians["tracked"] / medians["untracked"]}
    ratios = {name: row["ratio"] for name, row in rows.items()}
    worst = max(ratios, key=ratios.get)
    return {"size": "small" if options.quick else "full", "benchmarks": rows,
            "geomean": geomean(ratios.values()), "worst": {"benchmark": worst, "ratio": ratios[worst]}}


def _tracked_count(module_name: str, call) -> int:
    """Loads globalhook records for one call (names found, builtins and missing)."""
    import globalhook
    from globalhook import tracking

    tracking.RECORDER.clear()
    call()
    return sum(e["count"] for e in globalhook.lookups()
               if e["module"] == module_name and e["kind"] in ("global", "builtin", "missing"))


def run_peers(options, settings, workdir: Path, with_peers: bool) -> Dict[str, object]:
    from peers import make_peer, peer_kinds
    from workloads import SMALL, load_pairs

    kinds = peer_kinds() if with_peers else []
    default = QUICK_PEER_BENCHMARKS if options.quick else options.benchmarks
    names = [n for n in options.benchmarks if n in default and n not in PEER_SKIP] or options.benchmarks[:1]
    # Fresh modules: some benchmarks keep state between calls, and the load
    # counts of the first call are compared below.
    pairs = load_pairs(names, workdir / "peers", prefix="peers_bm_")
    rows = {}
    for name, pair in pairs.items():
        _progress(f"  peers {name}")
        plain, tracked = pair.workloads(SMALL[name])
        # Same data?  Each peer's count of one call against globalhook's count
        # of the same call (the n-th of each module: richards keeps state).
        counts_match = {}
        loads = []
        for kind in kinds or ["none"]:
            loads.append(_tracked_count(tracked.module.__name__, tracked))
            if kind != "none":
                check = make_peer(kind, vars(plain.module))
                check.wrap(plain)()
                counts_match[kind] = check.total() == loads[-1]
        repeat = _calibrate(plain, settings["peer_target"])
        variants = {"untracked": _repeated(plain, repeat), "tracked": _repeated(tracked, repeat)}
        for kind in kinds:
            variants[kind] = make_peer(kind, vars(plain.module)).wrap(variants["untracked"])
        medians = interleaved(variants, settings["peer_rounds"], settings["warmup"])
        base = medians["untracked"]
        rows[name] = {
            "untracked_s": base / repeat, "repeat": repeat, "ratio": medians["tracked"] / base,
            "peer_ratio": {kind: medians[kind] / base for kind in kinds},
            "vs_peer": {kind: medians["tracked"] / medians[kind] for kind in kinds},
            "loads_per_call": loads[0], "counts_match": counts_match,
        }
    skipped = [n for n in options.benchmarks if n not in names]
    why = "--quick runs the peers on one benchmark" if options.quick else "one call takes 15-40 s under a tracer"
    return {"size": "small", "peers": kinds, "skipped": skipped, "skipped_why": why if skipped else "",
            "benchmarks": rows, **_peer_geomeans(rows, kinds)}


def _peer_geomeans(rows: Dict[str, dict], kinds: List[str]) -> Dict[str, object]:
    return {
        "geomean": geomean(row["ratio"] for row in rows.values()),
        "peer_geomean": {k: geomean(row["peer_ratio"][k] for row in rows.values()) for k in kinds},
        "vs_peer_geomean": {k: geomean(row["vs_peer"][k] for row in rows.values()) for k in kinds},
    }


def run_micro(options, settings, workdir: Path, with_peers: bool) -> Dict[str, object]:
    import micro
    from peers import peer_kinds

    kinds = peer_kinds() if with_peers else []
    _progress("  micro")
    ns = micro.measure(workdir / "micro", settings["micro"], settings["micro_rounds"], kinds, settings["micro_peer"])
    result = {}
    for kind, row in ns.items():
        base = row["untracked"]
        result[kind] = {
            "untracked_ns": base, "tracked_ns": row["tracked"],
            "ratio": _ratio(row["tracked"], base),
            "peer_ns": {k: row[k] for k in kinds},
            "vs_peer": {k: _ratio(row["tracked"], row[k]) for k in kinds},
        }
    return result


def _ratio(ns: float, reference: float) -> "Optional[float]":
    """ns / reference, or None where the reference cost nothing within noise (a clamped difference of medians)."""
    return ns / reference if reference > 0 else None


def _globalhook_path() -> str:
    """The sys.path entry globalhook was imported from, for child interpreters."""
    import globalhook

    return str(Path(globalhook.__file__).resolve().parent.parent)


def run_core(options, core: str, with_peers: bool = True) -> Dict[str, object]:
    """Every core-dependent part selected, measured in this process."""
    settings = _settings(options.quick, options.rounds)
    results: Dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="globalhook-bench-") as tmp:
        workdir = Path(tmp)
        if "pyperformance" in options.parts:
            results["pyperformance"] = run_pyperformance(options, settings, workdir)
        if "peers" in options.parts:
            results["peers"] = run_peers(options, settings, workdir, with_peers)
        if "micro" in options.parts:
            results["micro"] = run_micro(options, settings, workdir, with_peers)
        if "memory" in options.parts:
            import memory

            _progress("  memory")
            results["memory"] = memory.measure(workdir / "memory", settings["memory_big"])
        if "import" in options.parts:
            import importcost

            _progress("  import")
            results["import"] = importcost.measure(settings["import_runs"], core if core != "auto" else None,
                                                   _globalhook_path())
    return results


# -- several cores, each in its own interpreter --------------------------------


def run_worker(options, core: str, with_peers: bool) -> Dict[str, object]:
    """``run_core`` in a fresh interpreter with GLOBALHOOK_CORE=core."""
    with tempfile.TemporaryDirectory(prefix="globalhook-bench-") as tmp:
        out = Path(tmp) / "core.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--core", core, "--json", str(out),
                   "--rounds", str(options.rounds), "--parts", ",".join(options.parts), "--clock", options.clock,
                   "--only", ",".join(options.benchmarks)]
        if options.quick:
            command.append("--quick")
        if not with_peers:
            command.append("--worker-no-peers")
        process = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if process.returncode == 3:
            raise CoreUnavailable(process.stdout.strip() or f"the {core} core is not available")
        if process.returncode != 0:
            raise RuntimeError(f"the {core} core's run failed (exit status {process.returncode})")
        return json.loads(out.read_text())


def main(argv: Optional[List[str]] = None) -> int:
    try:
        options = parse_options(argv)
    except UsageError as error:
        print(f"benchmarks/run.py: error: {error}", file=sys.stderr)
        return 2
    core_parts = [p for p in options.parts if p in CORE_PARTS]
    needs_pyperformance = {"pyperformance", "peers"} & set(options.parts)
    if needs_pyperformance:
        from workloads import BenchmarkError, benchmarks_folder

        try:
            benchmarks_folder()
        except BenchmarkError as error:
            print(f"benchmarks/run.py: error: {error}", file=sys.stderr)
            return 2

    if options.worker:
        try:
            active = select_core(options.core)
        except CoreUnavailable as error:
            print(error)
            return 3
        results = run_core(options, active, with_peers=not options.worker_no_peers)
        Path(options.json).write_text(json.dumps({"core": active, "results": results}))
        return 0

    notes: List[str] = []
    by_core: Dict[str, Dict[str, object]] = {}
    if core_parts:
        if options.core == "both":
            for core in ("python", "c"):
                _progress(f"core {core} (fresh interpreter)")
                try:
                    by_core[core] = run_worker(options, core, with_peers=not by_core)["results"]
                except CoreUnavailable as error:
                    notes.append(f"{core} core skipped: {error}")
                except RuntimeError as error:
                    print(f"benchmarks/run.py: error: {error}", file=sys.stderr)
                    return 1
        else:
            try:
                active = select_core(options.core)
            except CoreUnavailable as error:
                print(f"benchmarks/run.py: error: {error}", file=sys.stderr)
                return 1
            _progress(f"core {active}")
            by_core[active] = run_core(options, active)
    startup = None
    if "startup" in options.parts:
        import startup as startup_bench

        _progress("startup")
        startup = startup_bench.measure(_settings(options.quick, options.rounds)["startup_runs"])

    from tables import assemble, render

    data = assemble(options, by_core, startup, notes)
    import globalhook

    data["globalhook"] = {"version": globalhook.__version__, "path": _globalhook_path()}
    print(render(data))
    if options.json:
        Path(options.json).write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
