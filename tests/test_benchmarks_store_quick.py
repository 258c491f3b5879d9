"""``benchmarks/store.py --quick`` and ``benchmarks/memory.py --views`` run end to end on real data they make.

Not timing tests: the figures are never compared with goals here (the
benchmarks print them). They prove the scripts work and that what they
measure is what they say: the lookups the synthetic workers recorded all
reach the combined file, and tests-for finds tests in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}


def distinct_lookups(tests: int) -> int:
    """The synthetic suite's lookups, those of one function, name and test phase counted once."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from store import synthetic_lookups
    finally:
        sys.path.remove(str(BENCHMARKS))
    keys = {(e["module"], e["function"], e["name"], e["kind"], e["context"]) for e in synthetic_lookups(range(tests))}
    return len(keys)


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="measures child processes with os.wait4")
def test_store_quick_run(tmp_path):
    out = tmp_path / "store.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "store.py"), "--quick", "--workers", "2", "--json", str(out)],
                          env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    synthetic = json.loads(out.read_text())["synthetic"]
    assert synthetic["tests"] == 2000
    assert synthetic["lookups"] == distinct_lookups(2000)  # every lookup every worker recorded, once
    assert 0 < synthetic["bytes"] < synthetic["v1_bytes"] / 5
    assert synthetic["tests_for_found"] > 0
    for step in ("combine", "report", "tests_for", "diff", "select"):
        assert synthetic[f"{step}_s"] > 0 and synthetic[f"{step}_rss_mb"] > 5, step
    # The decision ran on every recorded test: the edited constant's readers chosen, not all.
    assert 0 < synthetic["select_chosen"] < synthetic["tests"]
    assert synthetic["with_selection_bytes"] > synthetic["bytes"]


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="measures child processes with os.wait4")
def test_memory_views_quick_run():
    done = subprocess.run([sys.executable, str(BENCHMARKS / "memory.py"), "--views", "2000"],
                          env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["functions"] == 2000 and figures["under_goal"] is True
    assert all(figures[key] > 5 for key in ("report_mb", "report_json_mb", "diff_mb"))
