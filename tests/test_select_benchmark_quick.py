"""benchmarks/selection.py runs end to end and selects what its edit affects (not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "selection.py"


def test_the_selection_benchmark_runs_and_selects_some_but_not_all():
    done = subprocess.run([sys.executable, str(BENCH), "--tests", "300", "--modules", "10", "--defs", "10",
                           "--repeat", "1", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert 0 < result["selected"] < 300
    assert result["decision_s"] > 0 and result["decision_cpu_s"] > 0
