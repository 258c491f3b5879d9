"""The pyperformance subset, loaded twice in one process: plain and tracked.

pyperformance ships each benchmark as a script (``bm_NAME/run_benchmark.py``)
whose ``__main__`` block builds the workload and hands it to ``pyperf.Runner``.
We run that block with a stand-in runner that captures the function and its
arguments instead of spawning pyperf workers, so the workload is exactly
pyperformance's own, called directly in this process.

Each script is loaded twice (see :mod:`loading`): plain and tracked as ``bm_NAME``.
Some keep state between calls (richards), so comparisons use modules called equally often.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from loading import load_twice

#: The issue's subset, in its order.
SUBSET = (
    "richards", "nbody", "raytrace", "chaos", "deltablue", "go",
    "float", "spectral_norm", "fannkuch", "nqueens", "hexiom", "pyflate",
)


@dataclass(frozen=True)
class Size:
    """How to shrink a workload: CLI arguments for its ``__main__`` block,
    replacement arguments for the captured function, module globals set before each call."""

    argv: Tuple[str, ...] = ()
    args: Optional[tuple] = None
    module_globals: Dict[str, object] = field(default_factory=dict)


#: Small sizes (about 5-30 ms plain on 3.11), used for the peers, whose tracers
#: are 30-40x slower, and for --quick.  Full size is pyperformance's default.
SMALL: Dict[str, Size] = {
    "richards": Size(),  # one iteration is already the smallest unit
    "nbody": Size(argv=("--iterations", "2000")),
    "raytrace": Size(argv=("--width", "25", "--height", "25")),
    "chaos": Size(argv=("--iterations", "1000")),
    "deltablue": Size(args=(20,)),
    "go": Size(module_globals={"GAMES": 20}),
    "float": Size(args=(10000,)),
    "spectral_norm": Size(module_globals={"DEFAULT_N": 40}),
    "fannkuch": Size(args=(7,)),
    "nqueens": Size(args=(6,)),
    "hexiom": Size(argv=("--level", "10")),
    "pyflate": Size(),  # fixed input file; about 60 ms plain on 3.11
}
FULL = Size()


class BenchmarkError(Exception):
    """A benchmark script cannot be found or set up."""


def benchmarks_folder() -> Path:
    """pyperformance's benchmark scripts, found without importing pyperformance."""
    spec = importlib.util.find_spec("pyperformance")
    if spec is None or not spec.submodule_search_locations:
        raise BenchmarkError("pyperformance is not installed (pip install pyperformance)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data-files" / "benchmarks"
    if not folder.is_dir():
        raise BenchmarkError(f"no benchmark scripts in the installed pyperformance ({folder})")
    return folder


class _CapturingRunner:
    """Stands in for ``pyperf.Runner`` in a ``__main__`` block: records what it would time."""

    argv: Sequence[str] = ()

    def __init__(self, *args, add_cmdline_args=None, **kwargs) -> None:
        self.argparser = argparse.ArgumentParser(add_help=False)
        self.metadata: Dict[str, object] = {}
        self.captured: Optional[Tuple[Callable, tuple, bool]] = None

    def parse_args(self, args=None):
        return self.argparser.parse_args(list(self.argv))

    def bench_func(self, name, func, *args, inner_loops=None):
        self.captured = (func, args, False)

    def bench_time_func(self, name, func, *args, inner_loops=None):
        self.captured = (func, args, True)


def _main_block(source: str, filename: str):
    """The body of ``if __name__ == "__main__":``, compiled on its own."""
    tree = ast.parse(source, filename)
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.dump(node.test):
            return compile(ast.Module(body=node.body, type_ignores=[]), filename, "exec")
    raise BenchmarkError(f"{filename}: no __main__ block")


@dataclass
class Workload:
    """One call of a benchmark's function (``loops=1`` for time functions)."""

    name: str
    module: ModuleType
    func: Callable
    args: tuple
    module_globals: Dict[str, object]

    def __call__(self) -> None:
        for key, value in self.module_globals.items():
            setattr(self.module, key, value)
        self.func(*self.args)


def capture(module: ModuleType, script: Path, size: Size) -> Workload:
    """Run the script's ``__main__`` block against ``module`` with a capturing runner."""
    import pyperf

    code = _main_block(script.read_text(), str(script))
    # A copy of the namespace, so the block's own names (runner, args) stay out
    # of the module; functions it calls still read the module's globals.
    namespace = dict(vars(module))
    namespace["__file__"] = str(script)  # pyflate finds its data file next to the script
    namespace["__name__"] = "__main__"
    real_runner = pyperf.Runner
    runner_class = type("Runner", (_CapturingRunner,), {"argv": size.argv})
    made: List[_CapturingRunner] = []

    def make_runner(*args, **kwargs):
        made.append(runner_class(*args, **kwargs))
        return made[-1]

    pyperf.Runner = make_runner
    try:
        exec(code, namespace)
    finally:
        pyperf.Runner = real_runner
    if not made or made[-1].captured is None:
        raise BenchmarkError(f"{script}: the __main__ block timed nothing")
    func, args, is_time_func = made[-1].captured
    if size.args is not None:
        args = size.args
    if is_time_func:
        args = (1, *args)
    return Workload(module.__name__, module, func, tuple(args), dict(size.module_globals))


@dataclass
class Pair:
    """The same benchmark loaded plain and tracked."""

    name: str
    script: Path
    plain: ModuleType
    tracked: ModuleType

    def workloads(self, size: Size) -> Tuple[Workload, Workload]:
        return capture(self.plain, self.script, size), capture(self.tracked, self.script, size)


def load_pairs(names: Sequence[str], workdir: Path, prefix: str = "bm_", attributes: bool = True) -> Dict[str, Pair]:
    """Load each benchmark script plain and tracked, as fresh modules named ``PREFIXNAME``."""
    folder = benchmarks_folder()
    scripts = {}
    for name in names:
        script = folder / f"bm_{name}" / "run_benchmark.py"
        if not script.is_file():
            raise BenchmarkError(f"pyperformance has no benchmark {name!r} ({script})")
        scripts[name] = script
    loaded = load_twice(workdir, {f"{prefix}{name}": script for name, script in scripts.items()}, attributes)
    return {name: Pair(name, scripts[name], *loaded[f"{prefix}{name}"]) for name in names}
