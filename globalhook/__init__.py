"""globalhook: record, at run time, every global-name lookup made by selected modules.

Public API (re-exports only)::

    import globalhook
    with globalhook.install(include=["mypkg"]) as hook:
        import mypkg
    mypkg.work()
    globalhook.reads(mypkg.work)     # {'CONFIG': 1, 'len': 2, ...}

Names are imported on first use (PEP 562), so that ``import globalhook.startup``
at every interpreter start stays cheap.

PYTEST_DONT_REWRITE: pytest marks the package of every ``pytest11`` plugin for
assertion rewriting and warns when it is imported already, as it is under
``globalhook run -m pytest``; with ``filterwarnings = error`` that warning
would stop the program's test run.
"""

TYPE_CHECKING = False  # not from typing (~10 ms at every start-up), and no __future__ import either
__version__ = "0.1.0"

_EXPORTS = {
    "attach": "live",
    "load_ipython_extension": "ipython",
    "unload_ipython_extension": "ipython",
    "AttachError": "live",
    "ImportHook": "finder",
    "install": "finder",
    "installed_hook": "finder",
    "LoggingModule": "modules",
    "StrategyError": "modules",
    "PatternError": "patterns",
    "RECORDER": "tracking",
    "TrackingDict": "tracking",
    "context": "contexts",
    "set_context": "contexts",
    "get_context": "contexts",
    "watch": "watching",
    "unwatch": "watching",
    "cache": "cache",
    "CacheWarning": "cache",
    "dependencies": "cache",
    "changed_reads": "cache",
    "fingerprint_reads": "cache",
}

if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Dict, List

    from .finder import ImportHook, install, installed_hook
    from .live import AttachError, attach
    from .modules import LoggingModule, StrategyError
    from .patterns import PatternError
    from .tracking import RECORDER, TrackingDict
    from .contexts import context, get_context, set_context
    from .watching import unwatch, watch
    from .cache import CacheWarning, cache, changed_reads, dependencies, fingerprint_reads


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'globalhook' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> "list[str]":
    return sorted(__all__)


def reads(func: "Callable") -> "Dict[str, int]":
    """``{name: count}`` of the globals, builtins and missing names ``func``'s own code read."""
    from .tracking import RECORDER

    return RECORDER.reads(func)  # type: ignore[arg-type]


def lookups() -> "List[dict]":
    """Everything recorded in this process so far, as data-file entries."""
    from .tracking import RECORDER

    return RECORDER.lookups()


__all__ = ["__version__", "lookups", "reads", *_EXPORTS]
