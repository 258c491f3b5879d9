"""Start-up cost of the installed hook when it is not activated.

Makes two throwaway virtual environments that see this checkout, installs the
start-up hook in one, and times ``python -c pass`` in each, interleaved, in
folders without a ``pyproject.toml``, with one that does not mention
globalhook, and with ones whose ``[tool.globalhook]`` does not enable
tracking (no ``enabled`` key; ``enabled = false``; another tool's ``enabled =
true``, which makes the hook parse the file).  Prints medians and ratios
(hook / no hook); never compares times across runs.  Besides wall-clock
time it reports the CPU time (user + system) the processes used, which other
work on a busy machine disturbs much less.

    python benchmarks/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parent.parent


def make_venv(root: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    Path(site, "globalhook-dev.pth").write_text(f"{REPO}\n")
    return python


def time_start(python: Path, cwd: Path, env: dict) -> "tuple[float, float]":
    """(wall-clock seconds, CPU seconds) of one ``python -c pass``."""
    start = time.perf_counter()
    process = subprocess.Popen([str(python), "-c", "pass"], cwd=cwd, env=env)
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        cpu = usage.ru_utime + usage.ru_stime
    else:  # pragma: no cover - Windows: no rusage, wall time only
        process.wait()
        cpu = float("nan")
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, process.args)
    return wall, cpu


#: Folder kind -> pyproject.toml content (None: no file).
FOLDERS = {
    "no_pyproject": None,
    "pyproject": '[project]\nname = "x"\n',
    "mentions": '[project]\nname = "x"\n\n[tool.globalhook]\ninclude = ["x"]\n',
    "disabled": '[project]\nname = "x"\n\n[tool.globalhook]\nenabled = false\ninclude = ["x"]\n',
    "other_enabled": '[project]\nname = "x"\n\n[tool.other]\nenabled = true\n\n[tool.globalhook]\ninclude = ["x"]\n',
}
LABELS = {
    "no_pyproject": "no pyproject.toml",
    "pyproject": "pyproject.toml present",
    "mentions": "[tool.globalhook], no enabled",
    "disabled": "enabled = false",
    "other_enabled": "another tool's enabled = true",
}


def measure(runs: int) -> Dict[str, Dict[str, float]]:
    """Per folder kind: median seconds of ``python -c pass`` without / with the hook, and their ratio."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTHON"))}
    result: Dict[str, Dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain, hooked = make_venv(folder / "plain"), make_venv(folder / "hooked")
        # From the temporary folder: -m would import a globalhook found in the current folder first.
        subprocess.run([str(hooked), "-m", "globalhook", "install"], check=True, env=env, capture_output=True, cwd=tmp)
        for key, content in FOLDERS.items():
            cwd = folder / key
            cwd.mkdir()
            if content is not None:
                (cwd / "pyproject.toml").write_text(content)
        for key in FOLDERS:
            cwd = folder / key
            times: Dict[str, List[float]] = {"plain": [], "hooked": [], "plain_cpu": [], "hooked_cpu": []}
            for _ in range(runs):
                for which, python in (("plain", plain), ("hooked", hooked)):
                    wall, cpu = time_start(python, cwd, env)
                    times[which].append(wall)
                    times[f"{which}_cpu"].append(cpu)
            a, b = statistics.median(times["plain"]), statistics.median(times["hooked"])
            ca, cb = statistics.median(times["plain_cpu"]), statistics.median(times["hooked_cpu"])
            result[key] = {"untracked_s": a, "hooked_s": b, "ratio": b / a,
                           "untracked_cpu_s": ca, "hooked_cpu_s": cb, "cpu_ratio": cb / ca if ca else float("nan")}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    options = parser.parse_args()
    print(f"Python {sysconfig.get_python_version()}, {options.runs} runs each, median of `python -c pass`")
    for key, row in measure(options.runs).items():
        print(f"  {LABELS[key]:30} no hook {row['untracked_s'] * 1000:6.2f} ms   "
              f"hook installed {row['hooked_s'] * 1000:6.2f} ms   ratio {row['ratio']:.3f}   "
              f"CPU {row['untracked_cpu_s'] * 1000:5.1f} / {row['hooked_cpu_s'] * 1000:5.1f} ms, "
              f"ratio {row['cpu_ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
