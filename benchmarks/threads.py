"""Does a tracked loop scale over threads like the untracked one?  (Free-threaded CPython.)

    python benchmarks/threads.py [--threads 8] [--rounds 5] [--quick]

One function reads two module globals in a loop; it is loaded plain and
tracked (``loading.load_twice``).  Each variant runs once on one thread and
once on N threads at the same time (every thread does the same work, on the
same code object and names: the counters are shared), in interleaved rounds.
The speed-up is N x (time on 1 thread) / (time on N threads): the throughput
gained from N threads, at most min(N, CPU cores).  With a GIL it stays near
1; on a free-threaded build the untracked loop approaches the core count, and
the tracked one should too.  Because other processes on the machine take
cores too, the CPU-time efficiency is reported beside it: CPU seconds per
unit of work on 1 thread / on N threads (1.0: threads cost no extra CPU,
nothing is contended; shared cache lines bouncing between cores push it
down, whatever else runs).  Run with the core to measure selected by
``GLOBALHOOK_CORE`` (``c`` or ``python``).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if __import__("importlib.util").util.find_spec("globalhook") is None:
    sys.path.insert(1, str(HERE.parent))  # not installed: measure this checkout

from loading import load_twice  # noqa: E402
from timing import time_once  # noqa: E402

SOURCE = '''
A = 1
B = 2

def work(n):
    total = 0
    for _ in range(n):
        total += A + B
    return total
'''


def on_threads(func: Callable[[int], object], n: int, count: int) -> Callable[[], None]:
    """A variant: ``count`` threads start together, each calls ``func(n)``; returns when all are done."""

    def variant() -> None:
        barrier = threading.Barrier(count)

        def body() -> None:
            barrier.wait()
            func(n)

        threads = [threading.Thread(target=body) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return variant


def measure(workdir: Path, threads: int, rounds: int, target: float) -> Dict[str, Dict[str, float]]:
    plain, tracked = load_twice(workdir, {"gh_bench_threads": SOURCE})["gh_bench_threads"]
    n = max(1000, int(100_000 * target / max(time_once(lambda: plain.work(100_000)), 1e-6)))
    variants = {}
    for label, module in (("untracked", plain), ("tracked", tracked)):
        variants[f"{label} 1"] = on_threads(module.work, n, 1)
        variants[f"{label} {threads}"] = on_threads(module.work, n, threads)
    wall, cpu = _interleaved_wall_and_cpu(variants, rounds)
    result = {}
    for label in ("untracked", "tracked"):
        one, many = wall[f"{label} 1"], wall[f"{label} {threads}"]
        cpu_one, cpu_many = cpu[f"{label} 1"], cpu[f"{label} {threads}"]
        result[label] = {"one_thread_s": one, "threads_s": many, "speedup": threads * one / many,
                         "cpu_efficiency": threads * cpu_one / cpu_many}
    return result


def _interleaved_wall_and_cpu(variants, rounds: int):
    """Median wall and process CPU seconds per variant, rounds interleaved in rotating order."""
    names = list(variants)
    for name in names:  # warm-up
        variants[name]()
    wall: Dict[str, List[float]] = {name: [] for name in names}
    cpu: Dict[str, List[float]] = {name: [] for name in names}
    for round_no in range(rounds):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            cpu_start, start = time.process_time(), time.perf_counter()
            variants[name]()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - cpu_start)
    return ({name: statistics.median(v) for name, v in wall.items()},
            {name: statistics.median(v) for name, v in cpu.items()})


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/threads.py", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round")
    options = parser.parse_args(argv)
    if options.threads < 2 or options.rounds < 1:
        print("benchmarks/threads.py: error: --threads must be at least 2, --rounds at least 1", file=sys.stderr)
        return 2
    from globalhook import tracking

    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    with tempfile.TemporaryDirectory(prefix="globalhook-bench-") as tmp:
        result = measure(Path(tmp), options.threads, 1 if options.quick else options.rounds,
                         0.01 if options.quick else 0.2)
    build = "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "with GIL"
    print(f"thread scaling: {sys.implementation.name} {sys.version.split()[0]} ({build}, GIL "
          f"{'enabled' if gil else 'disabled'} at run time), {os.cpu_count()} CPU cores, core {tracking.CORE}")
    print(f"{options.threads}-thread speed-up over 1 thread (throughput; ideal min({options.threads}, cores)):")
    for label, row in result.items():
        print(f"  {label:9}  1 thread {row['one_thread_s'] * 1e3:8.1f} ms   {options.threads} threads "
              f"{row['threads_s'] * 1e3:8.1f} ms   speed-up {row['speedup']:.2f}x   "
              f"CPU efficiency {row['cpu_efficiency']:.2f}")
    ratio = result["tracked"]["speedup"] / result["untracked"]["speedup"]
    print(f"  tracked speed-up / untracked speed-up: {ratio:.2f}; 1 thread, tracked / untracked: "
          f"{result['tracked']['one_thread_s'] / result['untracked']['one_thread_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
