"""Memory must grow with distinct (code, name) pairs, never with the number of lookups.

A tracked function reads one global in a loop, 10 times and then many times,
each after clearing the recorder.  Both runs must end with the same recorder
entries and exact counts, and allocate the same (tracemalloc) while looping.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Dict

from loading import load_twice

_SOURCE = '''
G = 1

def loop(n):
    for _ in range(n):
        G
'''


def measure(workdir: Path, big: int, small: int = 10) -> Dict[str, object]:
    import globalhook
    from globalhook import tracking

    _, tracked = load_twice(workdir, {"gh_bench_memory": _SOURCE})["gh_bench_memory"]
    tracked.loop(1)  # import-time and first-call work is not what is measured
    result: Dict[str, object] = {}
    for label, n in (("small", small), ("big", big)):
        tracking.RECORDER.clear()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        tracked.loop(n)
        allocated = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        entries = [e for e in globalhook.lookups() if e["module"] == "gh_bench_memory" and e["function"] == "loop"]
        counts = {(e["name"], e["kind"]): e["count"] for e in entries}
        result[label] = {
            "lookups": n,
            "entries": len(entries),
            "bytes": allocated,
            "exact": counts.get(("G", "global")) == n and counts.get(("range", "builtin")) == 1,
        }
    small_r, big_r = result["small"], result["big"]
    result["same_entries"] = small_r["entries"] == big_r["entries"]
    # A few hundred bytes of slack: tracemalloc's own bookkeeping, dict resizes elsewhere.
    result["bytes_growth"] = big_r["bytes"] - small_r["bytes"]
    result["flat"] = result["same_entries"] and result["bytes_growth"] < 1024
    return result
