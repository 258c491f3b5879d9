#!/usr/bin/env python3
"""Say which interpreters tox ran, and which it skipped, at the end of ``.ci/run``.

With ``skip_missing_interpreters``, tox ends with ``congratulations :)`` even
when it found one interpreter of six: the skips are easy to miss.  This reads
tox's own result lines (``  py311: OK (...)``, ``  py312: SKIP (...)``,
``  py313: FAIL code 1 (...)``) from its output and prints one summary,
naming the interpreter each environment that ran used, as found on ``PATH``::

    python -m tox 2>&1 | tee tox.log; python tools/tox_summary.py tox.log

Exits 0 whatever tox did (the caller keeps tox's own exit status), 1 when
the log has no result lines at all.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from typing import Dict, List, Optional

RESULT = re.compile(r"^\s+(?P<env>[\w.-]+): (?P<result>OK|SKIP|FAIL)\b")
PY_ENV = re.compile(r"^py(?P<major>\d)(?P<minor>\d+)(?P<t>t?)$")


def parse(text: str) -> Dict[str, str]:
    """env -> OK / SKIP / FAIL, from tox's closing summary (the last result of each env)."""
    results: Dict[str, str] = {}
    for line in text.splitlines():
        match = RESULT.match(line)
        if match:
            results[match["env"]] = match["result"]
    return results


def interpreter(env: str) -> Optional[str]:
    """``python3.11 (3.11.7)`` for ``py311``, as found on PATH; None when not found or not a pyXY env."""
    match = PY_ENV.match(env)
    if not match:
        return None
    name = f"python{match['major']}.{match['minor']}{match['t']}"
    path = shutil.which(name)
    if path is None:
        return None
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        version = []
    return f"{name} {version[-1]} ({path})" if version else f"{name} ({path})"


def summary(results: Dict[str, str]) -> List[str]:
    lines = ["interpreters:"]
    for label, wanted in (("ran", "OK"), ("failed", "FAIL"), ("skipped (not found on PATH)", "SKIP")):
        envs = [env for env, result in results.items() if result == wanted]
        if not envs:
            continue
        lines.append(f"  {label}: {', '.join(envs)}")
        if wanted != "SKIP":
            lines.extend(f"    {env}: {interpreter(env) or 'interpreter not found on PATH'}" for env in envs)
    if any(result == "SKIP" for result in results.values()):
        lines.append("  (put the missing interpreters on PATH to run them; README, Quick start)")
    return lines


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("usage: tox_summary.py TOX_LOG", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8", errors="replace") as log:
        results = parse(log.read())
    if not results:
        print("interpreters: tox printed no results", file=sys.stderr)
        return 1
    print("\n".join(summary(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
