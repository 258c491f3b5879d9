"""Save before ``os._exit``, which ends a process without ``atexit``.

A program that leaves through ``os._exit`` (daemons, forked workers, test
runners that must not run their parent's exit handlers) would otherwise take
its process's lookups with it, and a run's data file would keep the last
run's data with no word that it is stale.  While a session tracks, ``os._exit``
(and the same function in ``posix``/``nt``, so that it still pickles by
reference) saves first, then ends the process as the original does, with the
same status.  ``multiprocessing`` children have saved already by then
(:mod:`globalhook.multiproc`); a second save does nothing.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not from typing: imported by every tracked process
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Optional

__all__ = ["install", "uninstall", "real_exit"]

#: The interpreter's own ``os._exit``, whatever is installed.
real_exit = os._exit
_installed: "Optional[Callable[[int], None]]" = None


def _platform_module():
    return sys.modules.get(os.name)  # posix or nt: where os._exit comes from


def install(save: "Callable[[int], None]") -> None:
    """Make ``os._exit(status)`` call ``save(status)`` first; once per process."""
    global _installed
    if _installed is not None:
        return

    def _exit(status):
        try:
            save(status)
        except BaseException:  # ending now, as asked: never a traceback instead
            pass
        real_exit(status)

    _exit.__name__ = real_exit.__name__
    _exit.__qualname__ = real_exit.__qualname__
    _exit.__module__ = real_exit.__module__
    _exit.__doc__ = real_exit.__doc__
    _exit.__wrapped__ = real_exit  # type: ignore[attr-defined]
    _installed = _exit
    os._exit = _exit
    platform = _platform_module()
    if platform is not None and getattr(platform, "_exit", None) is real_exit:
        platform._exit = _exit


def uninstall() -> None:
    """Put the interpreter's ``os._exit`` back, where ours is still the one installed."""
    global _installed
    if _installed is None:
        return
    for module in (os, _platform_module()):
        if module is not None and getattr(module, "_exit", None) is _installed:
            module._exit = real_exit
    _installed = None
