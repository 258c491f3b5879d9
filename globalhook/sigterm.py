"""SIGTERM: save the data before the default action ends the process.

A process tracked by ``globalhook run`` (or activated at start-up) installs a
handler when SIGTERM still has its default action: the handler saves, then
lets the default action end the process as it would have.  A SIGTERM that
arrives while a save is in progress waits for the save to finish.

Forked children keep the default action: CPython drops signals that reach a
child between ``fork()`` and its after-fork reset, and a Python-level handler
runs only between bytecodes, so a handler there could miss a SIGTERM that
plain Python would have died of.  The forking thread holds SIGTERM off across
``fork()``; the child switches to the default action, then lets it in.
"""

from __future__ import annotations

import os
import sys
from _thread import _local

import _signal as signal  # not signal.py, which imports enum (and more) for the program

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

__all__ = [
    "install_handler",
    "drop_handler",
    "die_by_sigterm",
    "held",
    "block_default",
    "hold_for_fork",
    "release_after_fork",
    "default_in_child",
]


def _is_default(handler: object) -> bool:
    """``handler`` is SIG_DFL (``_signal`` gives plain ints, ``signal`` an IntEnum)."""
    return isinstance(handler, int) and handler == signal.SIG_DFL


def install_handler() -> None:
    """Handle SIGTERM (save, then die by it) where it still has its default action."""
    if "--multiprocessing-fork" in sys.argv:
        return  # a multiprocessing spawn child: keeps the default action (see multiproc)
    try:
        if not _is_default(signal.getsignal(signal.SIGTERM)):
            return  # the program (or its host) handles it: leave it alone
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # not the main thread, or no SIGTERM here
        pass


def _on_sigterm(signum, frame) -> None:
    from .session import current_session

    session = current_session()
    if session is not None:
        if session._saving or session._lock.locked():
            # Killing now would leave a half-written file behind: the save
            # in progress ends the process when it is done.
            session._sigterm_pending = True
            return
        session.save()
    die_by_sigterm()


def die_by_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def drop_handler() -> None:
    """Give SIGTERM back its default action if our handler has it."""
    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not the main thread
        pass


class held:
    """Hold off a default-action SIGTERM while a file is written, then let it in.

    Where our handler is installed it defers SIGTERM itself; where SIGTERM
    still kills at once (multiprocessing children), blocking it for the few
    milliseconds of a write keeps a half-written file from being left behind.
    """

    def __enter__(self) -> None:
        self._previous = block_default()

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._previous)


def block_default() -> "Optional[set]":
    """Block SIGTERM in this thread if it still kills at once; the mask to restore, or None."""
    if hasattr(signal, "pthread_sigmask") and _is_default(signal.getsignal(signal.SIGTERM)):
        return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    return None


# A forked child must not inherit our Python-level handler: CPython drops
# signals that arrive between fork() and its after-fork reset, so a SIGTERM
# sent to a brand-new child (Pool.terminate() right after a slow worker start)
# would be lost and the child would live on where plain Python dies.  The
# forking thread holds SIGTERM off across fork(); the child switches to the
# default action first and then lets any held SIGTERM in.
# Per thread: two threads may fork at once, and a mask is a thread's own.
_fork_masks = _local()


def hold_for_fork() -> None:
    if hasattr(signal, "pthread_sigmask") and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        _fork_masks.previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def release_after_fork() -> None:
    mask = getattr(_fork_masks, "previous", None)
    _fork_masks.previous = None
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def default_in_child() -> None:
    drop_handler()
    release_after_fork()
