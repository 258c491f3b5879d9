"""globalhook: record, at run time, every global-name lookup made by selected modules.

Public API (re-exports only)::

    import globalhook
    with globalhook.install(include=["mypkg"]) as hook:
        import mypkg
    mypkg.work()
    globalhook.reads(mypkg.work)     # {'CONFIG': 1, 'len': 2, ...}
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Callable, Dict

from .finder import ImportHook, install, installed_hook
from .modules import LoggingModule, StrategyError
from .patterns import PatternError
from .tracking import RECORDER, TrackingDict


def reads(func: Callable) -> Dict[str, int]:
    """``{name: count}`` of the globals, builtins and missing names ``func``'s own code read."""
    return RECORDER.reads(func)  # type: ignore[arg-type]


def lookups() -> list:
    """Everything recorded in this process so far, as data-file entries."""
    return RECORDER.lookups()


__all__ = [
    "__version__",
    "ImportHook",
    "LoggingModule",
    "PatternError",
    "StrategyError",
    "TrackingDict",
    "install",
    "installed_hook",
    "lookups",
    "reads",
]
