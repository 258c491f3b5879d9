#!/usr/bin/env python3
"""Run other projects' test suites plain and under globalhook, and compare.

For every package in :data:`PACKAGES` and every interpreter asked for, the
harness downloads the package's pinned source distribution from PyPI (the
sha256 is checked), installs it with its pinned test dependencies and
globalhook into a throwaway virtual environment, and runs the package's own
test suite once plain (``python -m pytest ...``) and once per strategy under
``python -m globalhook run --include <package> ... -m pytest ...``.  Then it
compares the outcome of every test id (from pytest's JUnit XML) and reads the
data file: a tracked run must record lookups in the package's own functions.

It prints one row per package, interpreter and strategy, and exits non-zero
when any test's outcome differs, a tracked run recorded nothing, or a step
failed.  Only the standard library is needed to run it::

    python tools/transparency.py                        # everything found
    python tools/transparency.py --packages toolz --python 3.9 --strategy native

Downloads (sdists and pip's cache) live in ``<work>/cache`` unless
``--cache-dir`` says otherwise; nothing outside the work folder is written.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent


def load_data(path: Path) -> dict:
    """A data file with version 1's lookup objects, whatever its version (this checkout's reader)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from globalhook.data import load

    return load(str(path))


STRATEGIES = ("native", "proxy")
#: Not a strategy: the suite run with ``pytest --globalhook`` (the plugin, native strategy, per-test contexts).
PLUGIN = "plugin"
MIN_PYTHON = (3, 9)
INDEX = "https://pypi.org/simple"

PYTEST = "pytest==8.3.3"


@dataclass(frozen=True)
class Package:
    """A pinned PyPI project whose own test suite the harness runs."""

    name: str
    version: str
    sha256: str
    #: Top-level modules of the project: tracked, and where lookups must appear.
    modules: Tuple[str, ...]
    #: pytest arguments (paths relative to the unpacked sdist, which is the cwd).
    tests: Tuple[str, ...]
    #: Pinned test dependencies.
    deps: Tuple[str, ...] = (PYTEST,)
    #: Test-only modules tracked as well (their lookups are not counted).
    test_modules: Tuple[str, ...] = ()
    #: Build requirements to preinstall; the sdist is then built without isolation.
    build_deps: Tuple[str, ...] = ()
    #: Extra folders of the sdist to pip install (test helper packages).
    extra_installs: Tuple[str, ...] = ()
    #: Environment for the test runs; ``{src}`` is the unpacked sdist.
    env: Tuple[Tuple[str, str], ...] = ()
    #: What the suite stresses, for docs/explanation/transparency.md.
    stresses: str = ""
    #: The tests live inside the package: pytest's assertion rewriter and
    #: globalhook must both have handled the same modules.
    tests_inside: bool = False

    @property
    def includes(self) -> Tuple[str, ...]:
        return self.modules + self.test_modules


PACKAGES: Dict[str, Package] = {
    p.name: p
    for p in (
        Package(
            "more-itertools", "10.5.0",
            "5482bfef7849c25dc3c6dd53a6173ae4795da2a41a80faea6700d9f5846c5da6",
            modules=("more_itertools",), test_modules=("tests",), tests=("tests",),
            stresses="generators and iterator recipes: a large number of small, hot functions",
        ),
        Package(
            "toolz", "1.0.0",
            "2c86e3d9a04798ac556793bced838816296a2f085017664e4995cb40a1047a02",
            # toolz/tests has no __init__.py: pytest imports its files as top-level test_* modules.
            modules=("toolz", "tlz"), test_modules=("test_*",), tests=("toolz/tests",), tests_inside=True,
            stresses="tests inside the package (pytest's rewriter and globalhook on the same modules), "
            "tlz's own meta-path importer and loader, a namespace filled through locals().update at module level",
        ),
        Package(
            "jinja2", "3.1.6",
            "0137fb05990d35f1275a587e9aee6d56da821fc83491a0fb838183be43f66d6d",
            # tests/ has no __init__.py: pytest imports its files as top-level test_* modules.
            modules=("jinja2",), test_modules=("test_*", "conftest"), tests=("tests",),
            deps=(PYTEST, "markupsafe==3.0.3", "trio==0.27.0"),
            build_deps=("flit_core>=3.11,<4",),
            stresses="filterwarnings = error (any warning of ours fails its suite), code generation "
            "with compile/exec of templates, async",
        ),
        Package(
            "attrs", "24.2.0",
            "5cfb1b9148b5b086569baec03f20d7b6bf3bcacc9a42bebf87ffaaca362f6346",
            modules=("attr", "attrs"), test_modules=("tests",),
            tests=("tests", "--hypothesis-seed=0"),
            deps=(PYTEST, "hypothesis==6.112.1", "pympler==1.1", "cloudpickle==3.1.0"),
            stresses="code generation with exec (generated __init__/__eq__/__repr__), pickling, slots classes",
        ),
        Package(
            "cloudpickle", "3.1.0",
            "81a929b6e3c7335c863c771d673d105f02efdb89dfaba0c90495d1c64796601b",
            modules=("cloudpickle",), test_modules=("tests", "_cloudpickle_testpkg"), tests=("tests",),
            deps=(PYTEST, "psutil==6.1.0", "tornado==6.4.1"),
            build_deps=("flit_core>=3.2,<4",),
            extra_installs=("tests/cloudpickle_testpkg",),
            env=(("PYTHONPATH", "{src}" + os.pathsep + "{src}/tests"),),
            stresses="pickling functions by value with their globals, dynamic modules, subprocess workers",
        ),
        Package(
            "six", "1.17.0",
            "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81",
            modules=("six",), test_modules=("test_six",), tests=("test_six.py",),
            stresses="lazy attributes and modules put into sys.modules, its own meta-path importer",
        ),
        Package(
            "decorator", "5.1.1",
            "637996211036b6385ef91435e4fae22989472f9d571faba8927ba8253acbc330",
            modules=("decorator",), test_modules=("tests",), tests=("src/tests/test.py",),
            stresses="code generation with exec (FunctionMaker), signature-preserving wrappers",
        ),
        Package(
            "lazy-loader", "0.4",
            "47c75182589b91a4e1a85a136c074285a5ad4d9f39c63e0d7fb76391c4574cd1",
            modules=("lazy_loader",), tests=("lazy_loader/tests",), tests_inside=True,
            # numpy wheels exist for every version here: 2.0.2 for 3.9, 2.1.3 for 3.10-3.13.
            deps=(PYTEST, "numpy==2.0.2; python_version < '3.10'", "numpy==2.1.3; python_version >= '3.10'"),
            stresses="module __getattr__/__dir__ (PEP 562), importlib.util.LazyLoader (module __class__ "
            "assignment), subprocesses",
        ),
        Package(
            "filelock", "3.16.1",
            "c249fbfcd5db47e5e2d6d62198e565475ee65e4831e2561c8e313fa7eb961435",
            modules=("filelock",), test_modules=("tests",), tests=("tests",),
            deps=(PYTEST, "pytest-asyncio==0.24.0", "pytest-mock==3.14.0", "pytest-timeout==2.3.1",
                  "virtualenv==20.27.1"),
            stresses="threads and asyncio around file locks",
        ),
    )
}

DEFAULT_PACKAGES = tuple(PACKAGES)


class HarnessError(Exception):
    """A step of the harness failed (not a difference in the tests)."""


# -- pure logic: JUnit XML, comparison, lookups, table ------------------------

OUTCOMES = ("passed", "failed", "error", "skipped")


def parse_junit(text: str) -> Dict[str, str]:
    """Test id -> outcome (passed, failed, error, skipped) from pytest's JUnit XML.

    xfail counts as skipped, xpass as passed (that is how pytest writes them).
    A test reported twice (an error in teardown after a pass) keeps the worse
    outcome.
    """
    root = ET.fromstring(text)
    rank = {o: i for i, o in enumerate(("passed", "skipped", "failed", "error"))}
    outcomes: Dict[str, str] = {}
    for case in root.iter("testcase"):
        classname = case.get("classname", "")
        name = case.get("name", "")
        test_id = f"{classname}::{name}" if classname else name
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                break
        previous = outcomes.get(test_id)
        if previous is None or rank[outcome] > rank[previous]:
            outcomes[test_id] = outcome
    return outcomes


def totals(outcomes: Dict[str, str]) -> Dict[str, int]:
    result = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes.values():
        result[outcome] = result.get(outcome, 0) + 1
    return result


def compare(plain: Dict[str, str], tracked: Dict[str, str]) -> List[Tuple[str, str, str]]:
    """(test id, plain outcome, tracked outcome) for every id whose outcome differs.

    A test that ran in only one of the two runs shows ``absent`` on the other side.
    """
    return [
        (test_id, plain.get(test_id, "absent"), tracked.get(test_id, "absent"))
        for test_id in sorted(set(plain) | set(tracked))
        if plain.get(test_id, "absent") != tracked.get(test_id, "absent")
    ]


def in_modules(module: str, patterns: Iterable[str]) -> bool:
    """Does ``module`` match one of globalhook's include patterns (a name and its submodules, or a wildcard)?"""
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            if fnmatch.fnmatchcase(module, pattern):
                return True
        elif module == pattern or module.startswith(pattern + "."):
            return True
    return False


def lookup_stats(data: dict, roots: Sequence[str]) -> Tuple[int, int]:
    """(lookups, distinct functions) recorded for modules under ``roots``.

    Only reads (global, builtin, missing) count as lookups; a function is a
    (module, file, line, function) that made at least one.
    """
    lookups = 0
    functions = set()
    for entry in data.get("lookups", ()):
        if entry.get("kind") not in ("global", "builtin", "missing"):
            continue
        if not in_modules(str(entry.get("module", "")), roots):
            continue
        lookups += int(entry.get("count", 0))
        functions.add((entry.get("module"), entry.get("file"), entry.get("line"), entry.get("function")))
    return lookups, len(functions)


def rewritten_modules(data: dict, roots: Sequence[str]) -> int:
    """Tracked modules under ``roots`` that pytest's assertion rewriter also rewrote.

    A rewritten module starts by binding ``@py_builtins`` and ``@pytest_ar``
    (names no source can spell), which a tracked module records as
    module-level stores.  globalhook records a name verbatim only when it is
    an identifier, so these appear as its placeholder for other names (older
    data files: verbatim).
    """
    return len({
        entry.get("module")
        for entry in data.get("lookups", ())
        if entry.get("kind") == "store" and entry.get("function") == "<module>"
        and entry.get("name") in _REWRITER_NAMES
        and in_modules(str(entry.get("module", "")), roots)
    })


#: What pytest's rewriter binds, as globalhook records it (globalhook.tracking.NON_IDENTIFIER_KEY) or did.
_REWRITER_NAMES = ("<non-identifier str key>", "@py_builtins")


@dataclass
class Result:
    """One package x interpreter x strategy."""

    package: str
    version: str
    python: str
    strategy: str
    plain: Dict[str, int] = field(default_factory=dict)
    tracked: Dict[str, int] = field(default_factory=dict)
    plain_status: Optional[int] = None
    tracked_status: Optional[int] = None
    differences: List[Tuple[str, str, str]] = field(default_factory=list)
    lookups: int = 0
    functions: int = 0
    #: For suites inside the package: tracked modules pytest also rewrote (None: not checked).
    rewritten: Optional[int] = None
    #: For the plugin run: distinct test contexts recorded (None: not checked).
    contexts: Optional[int] = None
    plain_seconds: float = 0.0
    tracked_seconds: float = 0.0
    error: Optional[str] = None

    @property
    def ratio(self) -> Optional[float]:
        if self.plain_seconds <= 0 or self.tracked_seconds <= 0:
            return None
        return self.tracked_seconds / self.plain_seconds

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and not self.differences
            and self.lookups > 0
            and self.plain_status == self.tracked_status
            and self.rewritten != 0
            and self.contexts != 0
        )

    def problems(self) -> List[str]:
        found = []
        if self.error:
            found.append(self.error)
        if self.plain_status != self.tracked_status and self.error is None:
            found.append(f"pytest exit status {self.plain_status} plain, {self.tracked_status} tracked")
        if self.error is None and self.lookups == 0:
            found.append("the tracked run recorded no lookups in the package")
        if self.error is None and self.contexts == 0:
            found.append("the plugin run recorded no per-test contexts")
        if self.error is None and self.rewritten == 0:
            found.append("no tracked test module was rewritten by pytest's assertion rewriter")
        for test_id, before, after in self.differences:
            found.append(f"{test_id}: {before} plain, {after} tracked")
        return found

    @classmethod
    def from_json(cls, item: dict) -> "Result":
        return cls(
            item["package"], item["version"], item["python"], item["strategy"],
            plain=item["plain"], tracked=item["tracked"], plain_status=item["plain_status"],
            tracked_status=item["tracked_status"], differences=[tuple(d) for d in item["differences"]],
            lookups=item["lookups"], functions=item["functions"], rewritten=item.get("rewritten"),
            contexts=item.get("contexts"),
            plain_seconds=item["plain_seconds"], tracked_seconds=item["tracked_seconds"], error=item["error"],
        )

    def to_json(self) -> dict:
        return {
            "package": self.package,
            "version": self.version,
            "python": self.python,
            "strategy": self.strategy,
            "plain": self.plain,
            "tracked": self.tracked,
            "plain_status": self.plain_status,
            "tracked_status": self.tracked_status,
            "differences": [list(d) for d in self.differences],
            "lookups": self.lookups,
            "functions": self.functions,
            "rewritten": self.rewritten,
            "contexts": self.contexts,
            "plain_seconds": round(self.plain_seconds, 2),
            "tracked_seconds": round(self.tracked_seconds, 2),
            "ratio": None if self.ratio is None else round(self.ratio, 2),
            "error": self.error,
            "ok": self.ok,
        }


def _pfs(counts: Dict[str, int]) -> str:
    if not counts:
        return "-"
    return f"{counts.get('passed', 0)}/{counts.get('failed', 0) + counts.get('error', 0)}/{counts.get('skipped', 0)}"


def render_table(results: Sequence[Result], markdown: bool = False) -> str:
    """One row per result: passed/failed/skipped plain vs tracked, lookups, functions, ratio."""
    header = ("package", "python", "strategy", "plain p/f/s", "tracked p/f/s", "diffs", "lookups", "functions",
              "time x", "result")
    rows = []
    for r in results:
        rows.append((
            f"{r.package} {r.version}",
            r.python,
            r.strategy,
            _pfs(r.plain),
            _pfs(r.tracked),
            str(len(r.differences)),
            f"{r.lookups:,}",
            f"{r.functions:,}",
            "-" if r.ratio is None else f"{r.ratio:.2f}",
            "ok" if r.ok else ("ERROR" if r.error else "DIFF"),
        ))
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    numeric = {5, 6, 7, 8}

    def fmt(row) -> str:
        return "  ".join(
            str(cell).rjust(widths[i]) if i in numeric else str(cell).ljust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)])


# -- interpreters -------------------------------------------------------------


@dataclass(frozen=True)
class Interpreter:
    version: Tuple[int, int, int]
    executable: str
    #: A free-threaded build (3.13t+): its own entry, labelled like ``3.14.7t``.
    free_threaded: bool = False

    @property
    def key(self) -> Tuple[Tuple[int, int, int], bool]:
        return self.version, self.free_threaded

    @property
    def label(self) -> str:
        return ".".join(map(str, self.version)) + ("t" if self.free_threaded else "")


_ASK_VERSION = (
    "import sys, platform, sysconfig; "
    "print(*sys.version_info[:3], platform.python_implementation(), int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))"
)


def interpreter_info(executable: str) -> Optional[Tuple[Tuple[int, int, int], bool]]:
    """(version, free-threaded) of a CPython executable, or None."""
    try:
        out = subprocess.run([executable, "-c", _ASK_VERSION], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 5 or parts[3] != "CPython":
        return None
    return (int(parts[0]), int(parts[1]), int(parts[2])), parts[4] == "1"


def interpreter_version(executable: str) -> Optional[Tuple[int, int, int]]:
    info = interpreter_info(executable)
    return None if info is None else info[0]


def _pyenv_candidates() -> List[str]:
    roots = []
    if os.environ.get("PYENV_ROOT"):
        roots.append(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            out = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30)
            if out.returncode == 0 and out.stdout.strip():
                roots.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    roots.append(os.path.expanduser("~/.pyenv"))
    found = []
    for root in dict.fromkeys(roots):
        # python3, and a free-threaded build's python3.Nt (which may be its only name).
        found += sorted(
            path for path in glob.glob(os.path.join(root, "versions", "3.*", "bin", "python3*"))
            if re.fullmatch(r"python3(\.\d+t)?", os.path.basename(path))
        )
    return found


def discover_interpreters() -> List[Interpreter]:
    """Every CPython 3.9+ of pyenv, plus the one running the harness; one per version and build.

    A free-threaded build (``3.14t``) counts as a version of its own.
    """
    by_key: Dict[Tuple[Tuple[int, int, int], bool], Interpreter] = {}
    for executable in [*_pyenv_candidates(), sys.executable]:
        info = interpreter_info(executable)
        if info is None or info[0][:2] < MIN_PYTHON:
            continue
        interpreter = Interpreter(info[0], executable, info[1])
        by_key.setdefault(interpreter.key, interpreter)
    # One per minor version and build (the newest micro).
    by_minor: Dict[Tuple[Tuple[int, int], bool], Interpreter] = {}
    for version, free_threaded in sorted(by_key):
        by_minor[version[:2], free_threaded] = by_key[version, free_threaded]
    return sorted(by_minor.values(), key=lambda i: i.key)


def resolve_interpreters(requested: Sequence[str], found: Sequence[Interpreter]) -> List[Interpreter]:
    """``--python`` values: a version (``3.12``, ``3.12.1``, ``3.14t`` for the
    free-threaded build, ``oldest``, ``newest``: of the builds with a GIL) or an executable."""
    chosen: List[Interpreter] = []
    with_gil = [i for i in found if not i.free_threaded] or list(found)
    for item in requested:
        if item in ("oldest", "newest"):
            if not found:
                raise HarnessError(f"--python {item}: no CPython {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ found")
            chosen.append(with_gil[0] if item == "oldest" else with_gil[-1])
            continue
        if re.fullmatch(r"\d+\.\d+(\.\d+)?t?", item):
            free_threaded = item.endswith("t")
            wanted = tuple(int(x) for x in item.rstrip("t").split("."))
            matches = [i for i in found if i.version[: len(wanted)] == wanted and i.free_threaded == free_threaded]
            if not matches:
                labels = ", ".join(i.label for i in found) or "none"
                raise HarnessError(f"--python {item}: no such interpreter found (found: {labels})")
            chosen.append(matches[-1])
            continue
        executable = shutil.which(item) or item
        info = interpreter_info(executable)
        if info is None:
            raise HarnessError(f"--python {item}: not a CPython interpreter that runs")
        if info[0][:2] < MIN_PYTHON:
            raise HarnessError(f"--python {item}: Python {'.'.join(map(str, info[0]))} is older than 3.9")
        chosen.append(Interpreter(info[0], executable, info[1]))
    unique: Dict[Tuple[Tuple[int, int, int], bool], Interpreter] = {}
    for interpreter in chosen:
        unique.setdefault(interpreter.key, interpreter)
    return sorted(unique.values(), key=lambda i: i.key)


# -- downloading ----------------------------------------------------------------


def _sdist_url(package: Package) -> Tuple[str, str]:
    """(filename, url) of the pinned sdist, from the index's JSON API (PEP 691)."""
    request = urllib.request.Request(
        f"{INDEX}/{package.name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        listing = json.load(response)
    for entry in listing.get("files", ()):
        if entry.get("hashes", {}).get("sha256") == package.sha256:
            return entry["filename"], entry["url"]
    raise HarnessError(f"{package.name} {package.version}: no file with the pinned sha256 on {INDEX}")


def fetch_sdist(package: Package, cache: Path) -> Path:
    """The pinned sdist, downloaded once into ``cache`` and checked against its sha256."""
    folder = cache / "sdists"
    folder.mkdir(parents=True, exist_ok=True)
    for existing in folder.glob(f"*{package.version}.*"):
        if hashlib.sha256(existing.read_bytes()).hexdigest() == package.sha256:
            return existing
    filename, url = _sdist_url(package)
    target = folder / filename
    with urllib.request.urlopen(url, timeout=120) as response:
        payload = response.read()
    if hashlib.sha256(payload).hexdigest() != package.sha256:
        raise HarnessError(f"{filename}: sha256 does not match the pinned one")
    target.write_bytes(payload)
    return target


def unpack(archive: Path, into: Path) -> Path:
    """Unpack an sdist into a fresh folder; return its single top folder."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(into)
    else:
        with tarfile.open(archive) as tf:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(into, filter="data")
            else:  # pragma: no cover - Python < 3.9.17
                tf.extractall(into)
    tops = [p for p in into.iterdir()]
    if len(tops) != 1 or not tops[0].is_dir():
        raise HarnessError(f"{archive.name}: expected one top folder")
    return tops[0]


# -- running --------------------------------------------------------------------


def _run(cmd: Sequence[str], *, cwd: Optional[Path] = None, env: Optional[dict] = None, timeout: float,
         log: Path) -> Tuple[int, float]:
    """Run a command with its output in ``log``; return (status, seconds)."""
    start = time.perf_counter()
    with open(log, "ab") as out:
        out.write(("\n$ " + " ".join(map(str, cmd)) + "\n").encode())
        out.flush()
        try:
            status = subprocess.run(
                list(map(str, cmd)), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, timeout=timeout,
            ).returncode
        except subprocess.TimeoutExpired:
            status = -999
    return status, time.perf_counter() - start


def _pip(python: Path, args: Sequence[str], cache: Path, log: Path) -> None:
    cmd = [python, "-m", "pip", "--disable-pip-version-check", "--no-input", "--cache-dir", cache / "pip", *args]
    status, _ = _run(cmd, timeout=1800, log=log)
    if status != 0:
        raise HarnessError(f"pip {' '.join(map(str, args[:1]))} failed (status {status}); see {log}")


def _clean_env(extra: Dict[str, str]) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTEST_", "PYTHON", "VIRTUAL_ENV",
                                                                    "COV_CORE_"))}
    env.update(extra)
    return env


class Workspace:
    """The harness's own folder: sdists, pip cache, globalhook wheels, venvs, logs."""

    def __init__(self, root: Path, cache: Path) -> None:
        self.root = root
        self.cache = cache
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self._wheels: Dict[Tuple[Tuple[int, int, int], bool], Path] = {}
        self._source: Optional[Path] = None

    def globalhook_source(self) -> Path:
        """A copy of the repository without caches, so building never writes into it."""
        if self._source is None:
            target = self.root / "globalhook-src"
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(
                REPO, target,
                ignore=shutil.ignore_patterns(".git", ".tox", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                              ".pytest_cache", ".ruff_cache", ".benchmarks", ".globalhook.json*", "*.so",
                                              "*.pyd"),
            )
            self._source = target
        return self._source

    def globalhook_wheel(self, interpreter: Interpreter, python: Path, log: Path) -> Path:
        """Build globalhook's wheel once per interpreter (it may hold a C extension)."""
        wheel = self._wheels.get(interpreter.key)
        if wheel is None:
            folder = self.root / "wheels" / interpreter.label
            if folder.exists():
                shutil.rmtree(folder)
            _pip(python, ["wheel", "--no-deps", "--wheel-dir", folder, self.globalhook_source()], self.cache, log)
            wheels = sorted(folder.glob("globalhook-*.whl"))
            if len(wheels) != 1:
                raise HarnessError(f"building globalhook's wheel gave {len(wheels)} wheels; see {log}")
            wheel = self._wheels[interpreter.key] = wheels[0]
        return wheel


def prepare(package: Package, interpreter: Interpreter, ws: Workspace) -> Tuple[Path, Path, Path]:
    """A venv with the package, its test deps and globalhook; return (python, src, log)."""
    slug = f"{package.name}-{package.version}-py{interpreter.label}"
    log = ws.logs / f"{slug}.log"
    log.write_text("")
    base = ws.root / "runs" / slug
    if base.exists():
        shutil.rmtree(base)  # a fresh venv: never an older globalhook left installed
    src = unpack(fetch_sdist(package, ws.cache), base / "src")
    venv = base / "venv"
    status, _ = _run([interpreter.executable, "-m", "venv", venv], timeout=600, log=log)
    if status != 0:
        raise HarnessError(f"creating the virtual environment failed; see {log}")
    python = venv / "bin" / "python"
    if not python.exists():  # pragma: no cover - Windows
        python = venv / "Scripts" / "python.exe"
    _pip(python, ["install", "--quiet", "--prefer-binary", *package.deps, *package.build_deps], ws.cache, log)
    install = ["install", "--quiet", "--no-deps"]
    if package.build_deps:
        install.append("--no-build-isolation")
    _pip(python, [*install, src], ws.cache, log)
    for extra in package.extra_installs:
        _pip(python, ["install", "--quiet", "--no-deps", src / extra], ws.cache, log)
    _pip(python, ["install", "--quiet", ws.globalhook_wheel(interpreter, python, log)], ws.cache, log)
    # With the start-up hook, Python processes the tests start are tracked too.
    status, _ = _run([python, "-m", "globalhook", "install"], timeout=120, log=log)
    if status != 0:
        raise HarnessError(f"globalhook install failed; see {log}")
    return python, src, log


def run_suite(python: Path, src: Path, package: Package, log: Path, label: str,
              tracked: Optional[Tuple[str, Path]] = None, timeout: float = 1800) -> Tuple[int, float, Dict[str, str]]:
    """Run the package's tests once; return (pytest status, seconds, outcomes)."""
    xml = src.parent / f"junit-{label}.xml"
    if xml.exists():
        xml.unlink()
    env = _clean_env({k: v.format(src=src) for k, v in package.env})
    pytest_args = ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "junit_family=xunit2",
                   f"--junitxml={xml}", *package.tests]
    if tracked is None:
        cmd = [python, *pytest_args]
    elif tracked[0] == PLUGIN:
        includes = [arg for module in package.includes for arg in ("--globalhook-include", module)]
        cmd = [python, *pytest_args, "--globalhook-data", tracked[1], *includes]
    else:
        strategy, data_file = tracked
        includes = [arg for module in package.includes for arg in ("--include", module)]
        cmd = [python, "-m", "globalhook", "run", "--strategy", strategy, "--data-file", data_file, *includes,
               *pytest_args]
    status, seconds = _run(cmd, cwd=src, env=env, timeout=timeout, log=log)
    if status == -999:
        raise HarnessError(f"{label} run timed out after {timeout:.0f}s; see {log}")
    if not xml.exists():
        raise HarnessError(f"{label} run wrote no JUnit XML (status {status}); see {log}")
    return status, seconds, parse_junit(xml.read_text(encoding="utf-8"))


def check(package: Package, interpreter: Interpreter, strategies: Sequence[str], ws: Workspace,
          say=print) -> List[Result]:
    results = [Result(package.name, package.version, interpreter.label, s) for s in strategies]
    try:
        python, src, log = prepare(package, interpreter, ws)
        # Compile and rewrite everything once, so neither timed run pays for it.
        _run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only", *package.tests], cwd=src,
             env=_clean_env({k: v.format(src=src) for k, v in package.env}), timeout=600, log=log)
        say(f"  {package.name} {package.version} on {interpreter.label}: plain run")
        status, seconds, plain = run_suite(python, src, package, log, "plain")
        for result in results:
            result.plain, result.plain_status, result.plain_seconds = totals(plain), status, seconds
        for result in results:
            say(f"  {package.name} {package.version} on {interpreter.label}: tracked run ({result.strategy})")
            data_file = src.parent / f"globalhook-{result.strategy}.json"
            if data_file.exists():
                data_file.unlink()
            try:
                status, seconds, tracked = run_suite(python, src, package, log, result.strategy,
                                                     tracked=(result.strategy, data_file))
            except HarnessError as exc:
                result.error = str(exc)
                continue
            result.tracked, result.tracked_status, result.tracked_seconds = totals(tracked), status, seconds
            result.differences = compare(plain, tracked)
            try:
                data = load_data(data_file)
            except Exception as exc:  # no file, or not a data file: said below
                result.error = f"no readable data file after the tracked run ({exc.__class__.__name__}); see {log}"
                continue
            result.lookups, result.functions = lookup_stats(data, package.modules)
            if package.tests_inside:
                result.rewritten = rewritten_modules(data, package.includes)
            if result.strategy == PLUGIN:
                result.contexts = len({e.get("context") for e in data.get("lookups", ()) if e.get("context")})
    except HarnessError as exc:
        for result in results:
            if result.error is None:
                result.error = str(exc)
    return results


# -- command line ---------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="transparency",
        description="Run real projects' test suites plain and under globalhook, and compare per test.",
    )
    parser.add_argument("--packages", action="append", metavar="NAME[,NAME]",
                        help=f"packages to check (default: all): {', '.join(PACKAGES)}")
    parser.add_argument("--python", action="append", metavar="VERSION|PATH",
                        help="interpreter: 3.12, 3.12.1, oldest, newest or an executable (repeatable; "
                        "default: every CPython 3.9+ of pyenv plus the current one)")
    parser.add_argument("--strategy", choices=("native", "proxy", PLUGIN, "both", "all"), default="both",
                        help="how to track: native, proxy, both of them (default), plugin (pytest --globalhook), "
                        "or all three")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--work", metavar="DIR", help="work folder (default: a temporary one, removed unless --keep)")
    parser.add_argument("--cache-dir", metavar="DIR", help="download cache (default: <work>/cache)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    parser.add_argument("--list", action="store_true", help="list the packages and exit")
    parser.add_argument("--table-from", metavar="FILE", help="print the table of a --json file and exit")
    args = parser.parse_args(argv)
    names: List[str] = []
    for item in args.packages or [",".join(DEFAULT_PACKAGES)]:
        for name in filter(None, (n.strip() for n in item.split(","))):
            if name not in PACKAGES:
                parser.error(f"unknown package {name!r} (choose from {', '.join(PACKAGES)})")
            if name not in names:
                names.append(name)
    if not names:
        parser.error("--packages: no package named")
    args.package_names = names
    args.strategies = {"both": STRATEGIES, "all": (*STRATEGIES, PLUGIN)}.get(args.strategy, (args.strategy,))
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.list:
        for package in PACKAGES.values():
            print(f"{package.name} {package.version}: {package.stresses}")
        return 0
    if args.table_from:
        try:
            saved = [Result.from_json(item) for item in json.loads(Path(args.table_from).read_text())]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            print(f"transparency: --table-from {args.table_from}: cannot read results ({exc})", file=sys.stderr)
            return 2
        print(render_table(saved, markdown=args.markdown))
        return 0 if all(r.ok for r in saved) else 1
    try:
        found = discover_interpreters()
        interpreters = resolve_interpreters(args.python, found) if args.python else found
    except HarnessError as exc:
        print(f"transparency: {exc}", file=sys.stderr)
        return 2
    if not interpreters:
        print("transparency: no CPython 3.9+ found", file=sys.stderr)
        return 2
    temporary = args.work is None
    work = Path(args.work or tempfile.mkdtemp(prefix="globalhook-transparency-")).resolve()
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"transparency: --work {args.work}: {exc.strerror}", file=sys.stderr)
        return 2
    cache = Path(args.cache_dir).resolve() if args.cache_dir else work / "cache"
    ws = Workspace(work, cache)
    print(f"transparency: {len(args.package_names)} package(s) x {len(interpreters)} interpreter(s) "
          f"({', '.join(i.label for i in interpreters)}) x {', '.join(args.strategies)}; work folder {work}",
          flush=True)
    results: List[Result] = []
    started = time.perf_counter()
    try:
        for interpreter in interpreters:
            for name in args.package_names:
                results += check(PACKAGES[name], interpreter, args.strategies, ws,
                                 say=lambda msg: print(msg, flush=True))
    except KeyboardInterrupt:
        print("transparency: interrupted", file=sys.stderr)
    finally:
        if args.json and results:
            Path(args.json).write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n")
        if temporary and not args.keep and all(r.ok for r in results):
            shutil.rmtree(work, ignore_errors=True)
        elif results:
            print(f"transparency: logs in {ws.logs}")
    print()
    print(render_table(results, markdown=args.markdown))
    bad = [r for r in results if not r.ok]
    for r in bad:
        print(f"\n{r.package} {r.version}, Python {r.python}, {r.strategy}:")
        for problem in r.problems():
            print(f"  {problem}")
    print(f"\ntransparency: {len(results) - len(bad)}/{len(results)} ok in {time.perf_counter() - started:.0f}s")
    return 1 if bad or not results else 0


if __name__ == "__main__":
    sys.exit(main())
