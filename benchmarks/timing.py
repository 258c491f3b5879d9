"""Interleaved timing: every variant of a workload runs once per round, in a
rotating order, so drift from other processes on the machine hits all
variants alike.  Only medians and ratios of medians measured here are reported.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from typing import Callable, Dict, Iterable, List, Mapping, Sequence

Variant = Callable[[], object]


#: What is measured: wall time (default), or this process's CPU time (``use_cpu_clock``),
#: which other processes competing for the cores disturb far less.
_clock = time.perf_counter


def use_cpu_clock() -> None:
    global _clock
    _clock = time.process_time


def time_once(func: Variant) -> float:
    """Seconds for one call, after a collection so garbage from the previous call is not billed here."""
    gc.collect()
    start = _clock()
    func()
    return _clock() - start


def interleaved(variants: Mapping[str, Variant], rounds: int, warmup: int = 1) -> Dict[str, float]:
    """Median seconds per call of each variant, over ``rounds`` interleaved rounds."""
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    times: Dict[str, List[float]] = {name: [] for name in names}
    for round_no in range(rounds):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(time_once(variants[name]))
    return {name: statistics.median(values) for name, values in times.items()}


def geomean(values: Iterable[float]) -> float:
    values = [v for v in values if v > 0 and math.isfinite(v)]
    if not values:
        return float("nan")
    return math.exp(sum(math.log(v) for v in values) / len(values))


def worst(ratios: Mapping[str, float]) -> Sequence:
    """(name, ratio) of the largest ratio, or ("", nan) when there is none."""
    if not ratios:
        return ("", float("nan"))
    name = max(ratios, key=lambda k: ratios[k])
    return (name, ratios[name])


#: Python source that puts the module ``NAME`` (which the code before it must
#: define) and its submodules into the compiled core's floor types: namespaces
#: whose lookups only look up.  Written into a floor runner or plugin of the
#: benchmarks; it refuses to run once the module was imported already.
FLOOR_IMPORT_HOOK = """
import sys

from globalhook import _ctracking


def wanted(name):
    return name == NAME or name.startswith(NAME + ".")


if any(wanted(name) for name in sys.modules):
    raise SystemExit(f"floor: {NAME} was imported before the floor's import hook")


class FloorLoader:
    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        module = _ctracking._FloorModule(spec.name)
        _ctracking.set_module_dict(module, _ctracking._FloorDict(vars(module)))
        return module

    def exec_module(self, module):
        self.inner.exec_module(module)


class FloorFinder:
    def find_spec(self, name, path, target=None):
        if not wanted(name):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                spec.loader = FloorLoader(spec.loader)
                return spec
        return None


sys.meta_path.insert(0, FloorFinder())
"""


def has_floor_types() -> bool:
    """The floor's dict and module types live in the compiled core only."""
    try:
        from globalhook import _ctracking
    except ImportError:
        return False
    return hasattr(_ctracking, "_FloorDict")


def python_version() -> str:
    """3.14.7, or 3.14.7t on a free-threaded build: the two are measured apart."""
    import sys
    import sysconfig

    suffix = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    return ".".join(map(str, sys.version_info[:3])) + suffix
