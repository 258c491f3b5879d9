"""``benchmarks/scale.py --quick`` runs end to end and reports real numbers.

Not a timing test: the numbers are never compared with targets here (issue 9,
item 19 keeps speed goals in benchmarks).  It proves the script still works
and measures what it says: every step, at both sizes, with the data it made.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

SCALE = Path(__file__).resolve().parent.parent / "benchmarks" / "scale.py"
STEPS = ("lookups", "save", "load", "report_text", "report_json", "combine", "cli_report_text", "cli_report_json")


def test_quick_run(tmp_path):
    out = tmp_path / "scale.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    process = subprocess.run([sys.executable, str(SCALE), "--quick", "--json", str(out)], env=env,
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    for step in STEPS:
        assert any(line.startswith(step) for line in process.stdout.splitlines()), process.stdout
    results = json.loads(out.read_text())
    assert results["quick"] is True and set(results["sizes"]) == {"200", "2000"}
    for size, measured in results["sizes"].items():
        assert measured["entries"] >= int(size)  # one entry per function, plus the module's own
        assert measured["combined_entries"] == measured["entries"]
        assert measured["combined_runs"] == 4
        for step in STEPS:
            value = measured[step]
            assert isinstance(value, float) and math.isfinite(value) and value > 0, (size, step, value)
    assert set(results["growth"]) == set(STEPS)
    assert all(math.isfinite(ratio) and ratio > 0 for ratio in results["growth"].values())


def test_bad_arguments_fail_cleanly():
    process = subprocess.run([sys.executable, str(SCALE), "--functions", "5"], capture_output=True, text=True,
                             timeout=60)
    assert process.returncode == 2 and "Traceback" not in process.stderr
