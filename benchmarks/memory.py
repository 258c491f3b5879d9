"""Memory must grow with distinct (code, name) pairs, never with the number of lookups.

A tracked function reads one global in a loop, 10 times and then many times,
each after clearing the recorder.  Both runs must end with the same recorder
entries and exact counts, and allocate the same (tracemalloc) while looping.

The views must stay small too (:func:`views`): ``globalhook report`` and
``globalhook diff`` of a data file of 50,000 functions, each a whole process,
under 150 MB peak RSS (issue 21)::

    python benchmarks/memory.py --views [N]
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path
from typing import Dict, List

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


#: Peak RSS allowed for a view of 50,000 functions (issue 21).
VIEWS_GOAL_MB = 150


def _functions_data(functions: int, changed: int = 0) -> dict:
    """A data file's content: ``functions`` functions of 500 modules, each reading 3 globals and a builtin.

    ``changed``: that many functions read one more global (what ``diff`` then finds).
    """
    from globalhook import data

    lookups: List[dict] = []
    for number in range(functions):
        module = f"app.pkg{number % 50}.mod{number % 500}"
        base = {"module": module, "function": f"function_{number}", "file": f"/src/{module.replace('.', '/')}.py",
                "line": 1 + number // 500 * 5}
        names = [f"SETTING_{number % 11}", f"CACHE_{number % 7}", "log"] + (["EXTRA"] if number < changed else [])
        lookups.extend(dict(base, name=name, kind="global", count=1 + number % 3) for name in names)
        lookups.append(dict(base, name="len", kind="builtin", count=1))
    return data.make_data(lookups, {"pid": 1})


def _peak_rss_mb(command: List[str], cwd: Path) -> float:
    from store import run_measured

    return run_measured(["-m", "globalhook", *command], cwd)[1]


def views(workdir: Path, functions: int = 50_000) -> Dict[str, object]:
    """Peak RSS (MB) of ``report``, ``report --format json`` and ``diff`` of ``functions`` functions."""
    from globalhook import data

    workdir.mkdir(parents=True, exist_ok=True)
    old, new = workdir / "old.json", workdir / "new.json"
    data.save(_functions_data(functions), str(old))
    data.save(_functions_data(functions, changed=functions // 100), str(new))
    result: Dict[str, object] = {"functions": functions, "bytes": old.stat().st_size}
    result["report_mb"] = _peak_rss_mb(["report", "--data-file", str(old)], workdir)
    result["report_json_mb"] = _peak_rss_mb(["report", "--format", "json", "--data-file", str(old)], workdir)
    result["diff_mb"] = _peak_rss_mb(["diff", str(old), str(new)], workdir)
    result["under_goal"] = all(result[k] < VIEWS_GOAL_MB for k in ("report_mb", "report_json_mb", "diff_mb"))
    return result


if __name__ == "__main__":
    import json
    import tempfile

    if sys.argv[1:2] != ["--views"]:
        sys.exit("usage: python benchmarks/memory.py --views [FUNCTIONS]  (the recorder part runs from run.py)")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory(prefix="gh-views-") as tmp:
        print(json.dumps(views(Path(tmp), int(sys.argv[2]) if len(sys.argv) > 2 else 50_000), indent=2))
