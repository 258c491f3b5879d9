"""SIGTERM: save the data before the default action ends the process.

In a tracked process (``globalhook run``'s, or one activated at start-up),
globalhook's handler stands in for SIGTERM's default action: it saves, then
lets the default action end the process as it would have (a SIGTERM that
arrives while a save is in progress waits for the save to finish).

The handler is invisible to the program: where it is installed,
``signal.getsignal(SIGTERM)`` says ``SIG_DFL``, and ``signal.signal(SIGTERM,
h)`` returns ``SIG_DFL`` and installs ``h`` in its place; setting ``SIG_DFL``
again puts globalhook's handler back.  So a program that chains to the
previous handler (``if callable(prev): prev(signum, frame)``) sees what plain
Python shows it, and behaves as it would there.  (``_signal.signal`` and
``_signal.getsignal``, which the ``signal`` module calls, are wrapped.)

What cannot be hidden: a Python-level handler runs only between bytecodes of
the main thread, so a SIGTERM that arrives during a long call into C (a
``hashlib.pbkdf2_hmac``, a C extension's loop) ends the process when that call
returns, where the default action ends it at once.  Keeping the default action
would lose the whole run's data on SIGTERM; CPython offers no way to run the
save from inside the C call.

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
    import threading
    from typing import Callable, Optional, Protocol

    class Session(Protocol):
        """What this module needs of the session it saves (the session module sits above it)."""

        _saving: bool
        _lock: threading.Lock
        _sigterm_pending: bool
        exit_code: "Optional[int]"

        def save(self) -> bool: ...

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

# The real functions, whatever the program does to the module afterwards.
_real_signal = signal.signal
_real_getsignal = signal.getsignal

#: Whether globalhook's handler stands in for SIG_DFL in this process (not in
#: forked or multiprocessing children, which keep the real default action).
_wanted = False


def _no_session() -> "Optional[Session]":
    return None


#: The session to save on SIGTERM, as the session module says (it sits above this one).
_current_session: "Callable[[], Optional[Session]]" = _no_session


def _is_default(handler: object) -> bool:
    """``handler`` is SIG_DFL (``_signal`` gives plain ints, ``signal`` an IntEnum)."""
    return isinstance(handler, int) and not isinstance(handler, bool) and handler == signal.SIG_DFL


def _is_sigterm(signalnum: object) -> bool:
    return isinstance(signalnum, int) and signalnum == signal.SIGTERM


def install_handler(current_session: "Callable[[], Optional[Session]]") -> None:
    """Let globalhook's handler stand in for SIGTERM's default action from now on,
    saving the session that ``current_session()`` gives."""
    global _wanted, _current_session
    _current_session = current_session
    if "--multiprocessing-fork" in sys.argv:
        return  # a multiprocessing spawn child: keeps the default action (see multiproc)
    if not hasattr(signal, "SIGTERM"):  # pragma: no cover - no SIGTERM here
        return
    _wanted = True
    _wrap_signal_module()
    try:
        if _is_default(_real_getsignal(signal.SIGTERM)):
            _real_signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main thread
        pass


def _wrap_signal_module() -> None:
    if signal.signal is not _real_signal:
        return

    def signal_(signalnum, handler):
        if not _is_sigterm(signalnum):
            return _real_signal(signalnum, handler)
        if _wanted and _is_default(handler):
            handler = _on_sigterm
        previous = _real_signal(signalnum, handler)
        return signal.SIG_DFL if previous is _on_sigterm else previous

    def getsignal(signalnum):
        handler = _real_getsignal(signalnum)
        return signal.SIG_DFL if handler is _on_sigterm else handler

    for wrapper, real in ((signal_, _real_signal), (getsignal, _real_getsignal)):
        wrapper.__name__ = wrapper.__qualname__ = real.__name__
        wrapper.__doc__ = real.__doc__
        wrapper.__module__ = real.__module__
    signal.signal = signal_
    signal.getsignal = getsignal


def _on_sigterm(signum, frame) -> None:
    session = _current_session()
    if session is not None:
        if session._saving or session._lock.locked():
            # Killing now would leave a half-written file behind: the save
            # in progress ends the process when it is done.
            session._sigterm_pending = True
            return
        session.exit_code = -signum  # as subprocess reports a death by signal
        session.save()
    die_by_sigterm()


def die_by_sigterm() -> None:
    _real_signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def drop_handler() -> None:
    """Give SIGTERM back its real default action in this process (a child)."""
    global _wanted
    _wanted = False
    try:
        if _real_getsignal(signal.SIGTERM) is _on_sigterm:
            _real_signal(signal.SIGTERM, signal.SIG_DFL)
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
    if hasattr(signal, "pthread_sigmask") and _is_default(_real_getsignal(signal.SIGTERM)):
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
    if hasattr(signal, "pthread_sigmask") and _real_getsignal(signal.SIGTERM) is _on_sigterm:
        _fork_masks.previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def release_after_fork() -> None:
    mask = getattr(_fork_masks, "previous", None)
    _fork_masks.previous = None
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def default_in_child() -> None:
    drop_handler()
    release_after_fork()
