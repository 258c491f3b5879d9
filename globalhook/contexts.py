"""Contexts: a label for everything recorded while it is current.

The pytest plugin sets ``<node id>|<phase>`` around each test phase; any
other runner can do the same (a unittest result class, a web framework's
request id, a notebook cell)::

    with globalhook.context("nightly-job"):
        run_job()

A context is process-wide: lookups made by any thread while it is current
count for it, so threads a test starts are attributed to that test.  Where
several threads each need their own label at the same time (a threaded
server labelling requests), the labels would mix: contexts are not meant
for that.  Switching is O(1): each context has its own count tables, and the
hot path reads whichever tables are current, so an unused context costs
nothing.
"""

from __future__ import annotations

import contextlib

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Iterator

__all__ = ["context", "set_context", "get_context"]


def set_context(label: str) -> str:
    """Make ``label`` the current context ("" for none); returns the previous one."""
    if not isinstance(label, str):
        raise TypeError(f"a context label must be a str, not {type(label).__name__}")
    return _tracking().switch_context(label)


def get_context() -> str:
    """The current context's label ("" when none is set)."""
    return _tracking().current_context()


def _tracking():
    """The recorder's module, imported on first use (``import globalhook`` stays
    light) and then kept: a runner labels every request or test phase."""
    global _tracking_module
    if _tracking_module is None:
        from . import tracking

        _tracking_module = tracking
    return _tracking_module


_tracking_module = None


@contextlib.contextmanager
def context(label: str) -> "Iterator[str]":
    """Record under ``label`` inside the ``with`` block, then restore the previous context."""
    previous = set_context(label)
    try:
        yield label
    finally:
        set_context(previous)
