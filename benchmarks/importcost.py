"""Import cost of a large tree that the include patterns do not match.

Each sample is a fresh interpreter that installs globalhook with a pattern
matching nothing it imports, uninstalls it again for the baseline (so both
have the same modules loaded beforehand), then times only the imports of
``email``, ``json`` and ``http`` and their common submodules.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from typing import Dict, Optional

MODULES = (
    "email", "email.message", "email.parser", "email.policy", "email.utils", "email.generator",
    "email.mime.text", "email.mime.multipart", "email.mime.application", "email.headerregistry",
    "json", "json.decoder", "json.encoder",
    "http", "http.client", "http.server", "http.cookies", "http.cookiejar",
)

_PROBE = """
import sys, time
sys.path.insert(0, {path!r})
import globalhook
hook = globalhook.install(include=["gh_bench_matches_nothing"])
if {baseline!r}:
    hook.uninstall()
start = time.perf_counter()
{imports}
print(time.perf_counter() - start)
"""


def _sample(baseline: bool, env: Dict[str, str], path: str) -> float:
    code = _PROBE.format(path=path, baseline=baseline, imports="\n".join(f"import {m}" for m in MODULES))
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure(runs: int, core: Optional[str], path: str) -> Dict[str, float]:
    """Median import seconds without / with the hook, and their ratio; ``path`` holds globalhook."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTHON"))}
    if core:
        env["GLOBALHOOK_CORE"] = core
    times: Dict[str, list] = {"baseline": [], "hooked": []}
    for i in range(runs):
        order = (True, False) if i % 2 == 0 else (False, True)
        for baseline in order:
            times["baseline" if baseline else "hooked"].append(_sample(baseline, env, path))
    base, hooked = statistics.median(times["baseline"]), statistics.median(times["hooked"])
    return {"modules": len(MODULES), "untracked_s": base, "hooked_s": hooked, "ratio": hooked / base}
