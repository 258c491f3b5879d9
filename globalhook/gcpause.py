"""Pause the cyclic garbage collector while building or reading big, acyclic data.

Saving, loading, combining and reporting make one small dict or tuple per
lookup entry.  Every 700 new objects the collector runs, and from time to
time it walks the whole heap: in a program that holds 10^5 functions that
made the work quadratic in practice (seconds instead of a fraction of one).
What these steps build holds no reference cycles, so nothing is left
uncollected: the collector runs again as soon as the step ends.
"""

from __future__ import annotations

import gc

__all__ = ["paused"]


class paused:
    """``with paused():`` -- no cyclic collection inside; the previous state comes back after.

    Nested or concurrent uses are fine: only the one that found the
    collector enabled enables it again.
    """

    __slots__ = ("_was_enabled",)

    def __enter__(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self._was_enabled:
            gc.enable()
