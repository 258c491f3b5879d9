"""Mutation study: does test selection run every test that a small change breaks?

For a real package with its own test suite (taken from its sdist), a seeded
script makes small mutations with ``ast`` (a module constant, a function body,
a class attribute), applies them one at a time, and asks three questions of
each: which tests fail (the full suite, the truth), which tests
``pytest --globalhook=PKG --globalhook-select`` runs, and which
``pytest --testmon`` runs, both from data recorded on the unmutated source and
restored before every mutation.  A failing test that a tool did not run is a
safety miss; the share of tests a tool left out is its saving.

    python benchmarks/mutations.py click 8.1.8 --sample 15 --out results/click
    python benchmarks/mutations.py attrs 24.2.0 --tools full,testmon

The source is edited in place (the sdist is installed editable) and written
back byte for byte after each mutation; bytecode caches are kept off so that a
same-size edit in the same second is never shadowed by a stale ``.pyc``.
Needs the network (``pip download``) and a few minutes per ten mutations.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

REPO = Path(__file__).resolve().parent.parent

# What each studied package needs: the names it imports as, and the test-only
# packages its suite uses (from its own test extra, less type checkers).
PACKAGES: Dict[str, Dict[str, List[str]]] = {
    "click": {"modules": ["click"], "test_deps": [], "skip_files": ["_winconsole.py"]},  # Windows only
    "attrs": {"modules": ["attr", "attrs"], "test_deps": ["hypothesis", "pympler", "cloudpickle"], "skip_files": []},
}

KINDS = ("constant", "function", "class-attr")
TOOLS = ("full", "globalhook", "testmon")

# A flipped comparison: each operator to its negation.
FLIPS = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt,
    ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}


@dataclass(frozen=True)
class Mutation:
    """One edit of one file: the bytes from ``start`` to ``end`` become ``new``."""

    kind: str
    path: str  # relative to the source root, with /
    where: str  # dotted name of what is changed
    line: int
    what: str  # human description, e.g. "return None (was: return x)"
    start: int  # byte offsets in the file
    end: int
    new: str

    def describe(self) -> str:
        return f"{self.path}:{self.line} {self.where}: {self.what}"


# --------------------------------------------------------------------------
# Making mutations


def _offsets(source: bytes) -> List[int]:
    """Byte offset of the start of each line (1-based line numbers index it)."""
    starts = [0, 0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _span(node: ast.AST, starts: List[int]) -> Tuple[int, int]:
    # ast column offsets are UTF-8 byte offsets, so the span is exact in bytes.
    return starts[node.lineno] + node.col_offset, starts[node.end_lineno] + node.end_col_offset


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _changed_literal(node: ast.expr) -> Optional[str]:
    """Source text of a different value for a literal, or None if it is not one."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, bool):
        new: object = not value
    elif isinstance(value, int):
        new = value + 1
    elif isinstance(value, float):
        new = value * 2 + 1
    elif isinstance(value, str):
        new = value + "_m" if value else "m"
    elif isinstance(value, bytes):
        new = value + b"_m" if value else b"m"
    elif value is None:
        new = 0
    elif isinstance(value, (tuple, list)):
        new = type(value)(value[:-1]) if value else type(value)([None])
    elif isinstance(value, dict):
        new = dict(list(value.items())[:-1]) if value else {"m": None}
    elif isinstance(value, (set, frozenset)):
        new = set(sorted(value, key=repr)[:-1]) if value else {None}
    else:
        return None
    text = repr(new)
    return text if ast.literal_eval(text) != value or type(new) is not type(value) else None


def _assigned(stmt: ast.stmt) -> Optional[Tuple[str, ast.expr]]:
    """(name, value) of a simple ``name = value`` or ``name: T = value``."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id, stmt.value
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None and isinstance(stmt.target, ast.Name):
        return stmt.target.id, stmt.value
    return None


def _is_overload(func: ast.AST) -> bool:
    for deco in getattr(func, "decorator_list", ()):
        name = deco.attr if isinstance(deco, ast.Attribute) else getattr(deco, "id", "")
        if name in ("overload", "abstractmethod"):
            return True
    return False


def _body_edits(func: ast.AST, starts: List[int]) -> List[Tuple[str, int, Tuple[int, int], str]]:
    """Candidate edits inside one function: (what, line, span, new text)."""
    edits = []
    body = list(func.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring is not behaviour
    for node in ast.walk(func):
        if node is func:
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            old = ast.unparse(node.value)
            new = "0" if old == "None" else "None"
            edits.append((f"return {new} (was: return {_short(old)})", node.lineno, _span(node.value, starts), new))
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in FLIPS:
            flipped = ast.Compare(left=node.left, ops=[FLIPS[type(node.ops[0])]()], comparators=node.comparators)
            new = "(" + ast.unparse(flipped) + ")"
            edits.append((f"{_short(ast.unparse(node))} -> {_short(new)}", node.lineno, _span(node, starts), new))
    for stmt in body:
        if isinstance(stmt, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Raise, ast.If, ast.For, ast.While, ast.With, ast.Try)):
            head = ast.unparse(stmt).splitlines()[0]
            edits.append((f"dropped `{_short(head)}`", stmt.lineno, _span(stmt, starts), "pass"))
    return edits


def mutations_of(root: Path, rel: str, module: str, rng: random.Random) -> List[Mutation]:
    """Every candidate mutation of one file: one per constant, function and class attribute.

    A function gets one edit chosen by ``rng`` among its returns, comparisons and
    statements, so that every function counts once however long it is.
    """
    source = (root / rel).read_bytes()
    tree = ast.parse(source)
    starts = _offsets(source)
    found: List[Mutation] = []

    def function(func: ast.AST, qualname: str) -> None:
        if _is_overload(func):
            return
        edits = _body_edits(func, starts)
        if edits:
            what, line, (a, b), new = rng.choice(edits)
            found.append(Mutation("function", rel, qualname, line, what, a, b, new))

    def klass(cls: ast.ClassDef, qualname: str) -> None:
        for stmt in cls.body:
            named = _assigned(stmt)
            if named and not named[0].startswith("__"):
                name, value = named
                new = _changed_literal(value)
                if new is None:
                    new = "None"
                if new != ast.unparse(value):
                    a, b = _span(value, starts)
                    found.append(Mutation("class-attr", rel, f"{qualname}.{name}", stmt.lineno,
                                          f"{name} = {_short(new)} (was: {_short(ast.unparse(value))})", a, b, new))
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                function(stmt, f"{qualname}.{stmt.name}")
            elif isinstance(stmt, ast.ClassDef):
                klass(stmt, f"{qualname}.{stmt.name}")

    for stmt in tree.body:
        named = _assigned(stmt)
        if named and not named[0].startswith("__"):
            name, value = named
            new = _changed_literal(value)
            if new is not None:
                a, b = _span(value, starts)
                found.append(Mutation("constant", rel, f"{module}.{name}", stmt.lineno,
                                      f"{name} = {_short(new)} (was: {_short(ast.unparse(value))})", a, b, new))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function(stmt, f"{module}.{stmt.name}")
        elif isinstance(stmt, ast.ClassDef):
            klass(stmt, f"{module}.{stmt.name}")
    return found


def generate(root: Path, modules: Sequence[str], sample: Optional[int], seed: int,
             skip_files: Sequence[str] = ()) -> List[Mutation]:
    """Mutations of the packages ``modules`` under ``root``: ``sample`` of each kind, chosen by ``seed``."""
    rng = random.Random(seed)
    every: List[Mutation] = []
    for top in modules:
        for path in sorted((root / top).rglob("*.py")):
            if path.name in skip_files:
                continue
            rel = path.relative_to(root).as_posix()
            module = rel[:-3].replace("/", ".")
            module = module[: -len(".__init__")] if module.endswith(".__init__") else module
            every.extend(mutations_of(root, rel, module, rng))
    chosen: List[Mutation] = []
    for kind in KINDS:
        of_kind = [m for m in every if m.kind == kind]
        if sample is not None and len(of_kind) > sample:
            of_kind = sorted(rng.sample(of_kind, sample), key=lambda m: (m.path, m.start))
        chosen.extend(of_kind)
    rng.shuffle(chosen)  # kinds mixed, so that a run stopped early is not all constants
    return chosen


@contextlib.contextmanager
def applied(root: Path, mutation: Mutation, journal: Optional[Path] = None) -> Iterator[bytes]:
    """The file with ``mutation`` made, for the time of the block; then its exact old bytes again.

    With ``journal``, the old bytes are also kept there until restored, so that a
    run killed mid-mutation is undone by ``undo_journal`` on the next start.
    """
    path = root / mutation.path
    original = path.read_bytes()
    new = original[: mutation.start] + mutation.new.encode() + original[mutation.end :]
    ast.parse(new)  # a mutation that does not parse is a bug of this script
    if journal:
        journal.write_bytes(mutation.path.encode() + b"\n" + original)
    path.write_bytes(new)
    try:
        yield new
    finally:
        path.write_bytes(original)
        if path.read_bytes() != original:
            raise RuntimeError(f"{path}: not restored exactly")
        if journal:
            journal.unlink()


def undo_journal(root: Path, journal: Path) -> Optional[str]:
    """Puts back a file that a killed run left mutated; its path, if there was one."""
    if not journal.exists():
        return None
    rel, _, original = journal.read_bytes().partition(b"\n")
    (root / rel.decode()).write_bytes(original)
    journal.unlink()
    return rel.decode()


# --------------------------------------------------------------------------
# Running the suite

PROBE = '''
"""Records which tests ran and how they ended (written by the mutation study)."""
import json, os
_ran, _errors, _deselected = {}, [], [0]

def pytest_deselected(items):
    _deselected[0] += len(items)

def pytest_collectreport(report):
    if report.failed:
        _errors.append(report.nodeid)

def pytest_runtest_logreport(report):
    if report.failed:
        _ran[report.nodeid] = "failed"
    else:
        _ran.setdefault(report.nodeid, report.outcome)

import pytest

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # A smaller Hypothesis budget, the same for every run (after the suite's own profile).
    examples = os.environ.get("MUTATION_HYPOTHESIS_EXAMPLES")
    if examples:
        from hypothesis import settings
        settings.register_profile("mutation-study", settings(settings.default, max_examples=int(examples)))
        settings.load_profile("mutation-study")

def pytest_sessionfinish(session, exitstatus):
    with open(os.environ["MUTATION_PROBE_OUT"], "w") as f:
        json.dump({"ran": _ran, "collect_errors": _errors, "deselected": _deselected[0],
                   "exit": int(exitstatus)}, f)
'''


@dataclass
class Run:
    tool: str
    exit: int
    wall: float
    cpu: float
    ran: Dict[str, str]
    collect_errors: List[str]
    deselected: int

    def failed(self, baseline: Sequence[str]) -> Set[str]:
        """Failing tests, counting those of a test file that failed to collect."""
        bad = {t for t, outcome in self.ran.items() if outcome == "failed"}
        errored = set(self.collect_errors)
        return bad | {t for t in baseline if t.split("::")[0] in errored or "" in errored}

    def covered(self, baseline: Sequence[str]) -> Set[str]:
        """Tests this run ran or showed as broken."""
        errored = set(self.collect_errors)
        return set(self.ran) | {t for t in baseline if t.split("::")[0] in errored or "" in errored}


class Study:
    """One package's sdist, its venv, its baseline data, and the runs."""

    def __init__(self, workdir: Path, source: Path, python: Path, modules: Sequence[str],
                 hypothesis_examples: Optional[int] = None):
        self.hypothesis_examples = hypothesis_examples
        self.workdir, self.source, self.python, self.modules = workdir, source, python, list(modules)
        self.probe_dir = workdir / "probe"
        self.probe_dir.mkdir(exist_ok=True)
        (self.probe_dir / "_mutation_probe.py").write_text(PROBE)
        self.gh_base = workdir / "globalhook-baseline.json"
        self.tm_base = workdir / "testmon-baseline"
        self.gh_data = workdir / "globalhook.json"
        self.tm_data = workdir / "testmondata"
        self.logs = workdir / "logs"
        self.logs.mkdir(exist_ok=True)
        self.count = 0
        self.baseline_runs: Dict[str, Dict[str, float]] = {}

    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.probe_dir)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["TESTMON_DATAFILE"] = str(self.tm_data)
        env["MUTATION_PROBE_OUT"] = str(self.workdir / "probe.json")
        if self.hypothesis_examples:
            env["MUTATION_HYPOTHESIS_EXAMPLES"] = str(self.hypothesis_examples)
        return env

    def args(self, tool: str, select: bool) -> List[str]:
        base = [str(self.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "_mutation_probe", "tests"]
        if tool == "globalhook":
            base += [f"--globalhook={m}" for m in self.modules] + ["--globalhook-data", str(self.gh_data)]
            if select:
                base.append("--globalhook-select")
        elif tool == "testmon":
            base.append("--testmon")
        return base

    def run(self, tool: str, select: bool = True) -> Run:
        self.count += 1
        log = self.logs / f"{self.count:04d}-{tool}.log"
        started = time.perf_counter()
        with open(log, "wb") as out:
            proc = subprocess.Popen(self.args(tool, select), cwd=self.source, env=self.env(), stdout=out, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        probe = self.workdir / "probe.json"
        data = json.loads(probe.read_text()) if probe.exists() else {"ran": {}, "collect_errors": [""], "deselected": 0}
        probe.unlink(missing_ok=True)
        return Run(tool, proc.returncode, round(wall, 3), round(usage.ru_utime + usage.ru_stime, 3),
                   data["ran"], data["collect_errors"], data["deselected"])

    def purge_bytecode(self) -> None:
        for top in self.modules:
            for cache in (self.source / top).rglob("__pycache__"):
                shutil.rmtree(cache, ignore_errors=True)

    def imports(self) -> bool:
        code = "; ".join(f"import {m}" for m in self.modules)
        return subprocess.run([str(self.python), "-c", code], cwd=self.workdir, env=self.env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def baseline(self, tools: Sequence[str], full: bool = True) -> Optional[Run]:
        """The suite on unmutated source, and each tool's data recorded on it."""
        self.purge_bytecode()
        plain = self.run("full") if full else None
        if plain:
            self.baseline_runs["full"] = {"wall": plain.wall, "cpu": plain.cpu}
        if "globalhook" in tools:
            self.gh_data.unlink(missing_ok=True)
            run = self.run("globalhook", select=False)
            self.baseline_runs["globalhook"] = {"wall": run.wall, "cpu": run.cpu}
            shutil.copyfile(self.gh_data, self.gh_base)
        if "testmon" in tools:
            for p in self.workdir.glob("testmondata*"):
                p.unlink()
            run = self.run("testmon")
            self.baseline_runs["testmon"] = {"wall": run.wall, "cpu": run.cpu}
            self._copy_testmon(self.workdir, "testmondata", "testmon-baseline")
        return plain

    @staticmethod
    def _copy_testmon(folder: Path, src: str, dst: str) -> None:
        # SQLite may leave -wal/-shm beside the file; copy the set, drop stale ones.
        for p in folder.glob(dst + "*"):
            p.unlink()
        for p in folder.glob(src + "*"):
            shutil.copyfile(p, folder / (dst + p.name[len(src):]))

    def restore_data(self) -> None:
        if self.gh_base.exists():
            shutil.copyfile(self.gh_base, self.gh_data)
        if self.tm_base.exists():
            self._copy_testmon(self.workdir, "testmon-baseline", "testmondata")


# --------------------------------------------------------------------------
# Setting up and reporting


def fetch_sdist(package: str, version: str, workdir: Path) -> Path:
    """The package's sdist, downloaded and unpacked; its folder."""
    dl = workdir / "sdist"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
                    "-d", str(dl), f"{package}=={version}"], check=True)
    archive = next(dl.glob("*.tar.gz"))
    with tarfile.open(archive) as tar:
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(workdir, **kwargs)
    folder = workdir / archive.name[: -len(".tar.gz")]
    return folder


def make_venv(workdir: Path, source: Path, deps: Sequence[str], python: str) -> Path:
    """A venv with the package installed editable from ``source``, globalhook, pytest and testmon."""
    venv = workdir / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    exe = venv / "bin" / "python"
    # pytest<9: click 8.1.8 runs with filterwarnings=error and parametrizes with
    # iterators, which pytest 9 deprecates.
    subprocess.run([str(exe), "-m", "pip", "install", "-q", "-e", str(source), str(REPO),
                    "pytest<9", "pytest-testmon", *deps], check=True)
    return exe


def src_root(source: Path, modules: Sequence[str]) -> Path:
    for root in (source / "src", source):
        if all((root / m).is_dir() for m in modules):
            return root
    raise SystemExit(f"error: {source}: no package folder for {', '.join(modules)}")


def summarise(results: List[dict], tools: Sequence[str], total: int) -> dict:
    summary = {}
    usable = [r for r in results if r["imports"]]
    for tool in tools:
        runs = [r["runs"][tool] for r in usable if tool in r["runs"]]
        if not runs:
            continue
        shares = [1 - len(run["ran"]) / total for run in runs] if tool != "full" else [0.0]
        summary[tool] = {
            "runs": len(runs),
            "misses": [r["mutation"] | {"missed": r["missed"][tool]} for r in usable if r["missed"].get(tool)],
            "deselected_mean": statistics.mean(shares),
            "deselected_median": statistics.median(shares),
            "wall_median": statistics.median(run["wall"] for run in runs),
            "cpu_median": statistics.median(run["cpu"] for run in runs),
        }
    broken = [r for r in results if not r["imports"]]
    summary["import_broken"] = {
        "count": len(broken),
        "not_all": {tool: [r["mutation"]["where"] for r in broken if r["missed"].get(tool)] for tool in tools if tool != "full"},
    }
    return summary


def markdown(package: str, version: str, results: List[dict], summary: dict, tools: Sequence[str], total: int) -> str:
    caught = sum(1 for r in results if r["imports"] and r["failing"])
    lines = [
        f"### {package} {version}: {len(results)} mutations, {total} tests",
        "",
        f"{caught} mutations made at least one test fail; {summary['import_broken']['count']} broke the import.",
        "",
        "| tool | runs | safety misses | deselected (mean) | deselected (median) | wall s (median) | CPU s (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for tool in tools:
        s = summary.get(tool)
        if s:
            lines.append(f"| {tool} | {s['runs']} | {len(s['misses'])} | {s['deselected_mean']:.1%} | "
                         f"{s['deselected_median']:.1%} | {s['wall_median']:.2f} | {s['cpu_median']:.2f} |")
    for tool in tools:
        s = summary.get(tool)
        if s and s["misses"]:
            lines += ["", f"Safety misses of {tool}:", ""]
            for m in s["misses"]:
                missed = m["missed"]
                lines.append(f"- `{m['path']}:{m['line']}` {m['where']}: {m['what']} - "
                             f"{len(missed)} failing test(s) not run, e.g. `{missed[0]}`")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", choices=sorted(PACKAGES))
    parser.add_argument("version")
    parser.add_argument("--sample", type=int, default=15, help="mutations of each kind (default 15)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, of: " + ", ".join(TOOLS))
    parser.add_argument("--python", default=sys.executable, help="interpreter for the study's venv")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the sdist, venv and logs here")
    parser.add_argument("--out", type=Path, default=Path("mutations"), help="writes OUT.json and OUT.md")
    parser.add_argument("--hypothesis-examples", type=int, default=None, metavar="N",
                        help="Hypothesis max_examples for every run (a cheaper suite, the same for all tools)")
    parser.add_argument("--list", action="store_true", help="only list the chosen mutations")
    parser.add_argument("--add-to", type=Path, default=None, metavar="JSON",
                        help="run --tools (full excepted) on the mutations of an earlier run's JSON, keeping its truth")
    opts = parser.parse_args(argv)
    tools = [t for t in opts.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown or ("full" not in tools) == (opts.add_to is None):
        parser.error(f"--tools: must include full (but not with --add-to), may include {', '.join(TOOLS[1:])}; "
                     f"got {opts.tools!r}")
    if opts.add_to and not opts.add_to.is_file():
        parser.error(f"--add-to: {opts.add_to}: no such file")

    spec = PACKAGES[opts.package]
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix=f"mutations-{opts.package}-"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    existing = [p for p in workdir.glob(f"{opts.package}-{opts.version}") if p.is_dir()]
    source = existing[0] if existing else fetch_sdist(opts.package, opts.version, workdir)
    root = src_root(source, spec["modules"])
    journal = workdir / "mutation-in-progress"
    undone = undo_journal(root, journal)
    if undone:
        print(f"{undone}: restored, left mutated by an interrupted run", flush=True)
    # SIGTERM ends the run through SystemExit, so the mutated file is restored.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    mutations = generate(root, spec["modules"], opts.sample, opts.seed, spec["skip_files"])
    if opts.list:
        for m in mutations:
            print(f"{m.kind:10} {m.describe()}")
        return 0
    exe = workdir / "venv" / "bin" / "python"
    if not exe.exists():
        exe = make_venv(workdir, source, spec["test_deps"], opts.python)
    study = Study(workdir, source, exe, spec["modules"], opts.hypothesis_examples)
    print(f"{opts.package} {opts.version}: {len(mutations)} mutations; work in {workdir}", flush=True)

    earlier = json.loads(opts.add_to.read_text()) if opts.add_to else None
    if earlier:
        # Another tool's column for mutations already run: the truth is kept.
        mutations = [Mutation(**r["mutation"]) for r in earlier["results"]]
        study.baseline([t for t in tools if t != "full"], full=False)
        baseline, baseline_failed = earlier["baseline"], earlier["baseline_failed"]
    else:
        full = study.baseline(tools)
        baseline = sorted(full.ran)
        baseline_failed = sorted(full.failed(baseline))
    total = len(baseline)
    if not total:
        raise SystemExit(f"error: the unmutated suite ran no test; see {study.logs}")
    print(f"baseline: {total} tests, {len(baseline_failed)} failing", flush=True)
    results = []
    for i, mutation in enumerate(mutations, 1):
        study.restore_data()
        before = earlier["results"][i - 1] if earlier else None
        with applied(root, mutation, journal):
            study.purge_bytecode()
            imports = study.imports()
            runs = {tool: study.run(tool) for tool in tools if not (before and tool == "full")}
        study.purge_bytecode()
        if before:
            imports, failing = before["imports"], before["failing"]
        else:
            imports = imports and bool(runs["full"].ran)  # e.g. a warning made an error at import
            # Tests failing before the mutation are rerun by both tools by rule; not counted.
            failing = sorted(runs["full"].failed(baseline) - set(baseline_failed)) if imports else baseline
        missed = dict(before["missed"]) if before else {}
        for tool, run in runs.items():
            if tool == "full":
                continue
            if imports:
                missed[tool] = sorted(set(failing) - run.covered(baseline))
            else:  # everything fails: a tool must error out or run everything
                missed[tool] = [] if run.exit not in (0, 5) or len(run.covered(baseline)) == total else ["(not all)"]
        ran = dict(before["runs"]) if before else {}
        ran.update({t: {"exit": r.exit, "wall": r.wall, "cpu": r.cpu, "ran": sorted(r.ran), "deselected": r.deselected}
                    for t, r in runs.items()})
        results.append({"mutation": asdict(mutation), "imports": imports, "failing": failing, "missed": missed, "runs": ran})
        shown = ", ".join(f"{t} ran {len(r.ran)} miss {len(missed.get(t, []))}" for t, r in runs.items() if t != "full")
        print(f"[{i}/{len(mutations)}] {mutation.describe()}: {len(failing)} fail; {shown}", flush=True)
        every_tool = [t for t in TOOLS if any(t in r["runs"] for r in results)]
        summary = summarise(results, every_tool, total)
        raw = {"package": opts.package, "version": opts.version, "seed": opts.seed, "sample": opts.sample,
               "python": sys.version.split()[0], "tests": total, "baseline": baseline,
               "baseline_failed": baseline_failed, "baseline_runs": (earlier or {}).get("baseline_runs", {}),
               "summary": summary, "results": results}
        raw["baseline_runs"].update(study.baseline_runs)
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{opts.out}.json").write_text(json.dumps(raw, indent=1))
        Path(f"{opts.out}.md").write_text(markdown(opts.package, opts.version, results, summary, every_tool, total))
    print(Path(f"{opts.out}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
