"""Saving in ``multiprocessing`` children, which leave through ``os._exit``.

``BaseProcess._bootstrap`` is wrapped so that a child saves when its work is
done, and a pool worker's queues are wrapped so that it saves before it waits
for its next task (see :class:`_SaveBeforeIdle`).  The primary process stops
multiprocessing's helper processes a moment early, so that their data
arrives before it combines the run.

multiprocessing is patched when the program imports it, never before
(:mod:`globalhook.postimport`), so a program that never uses multiprocessing
never has it loaded, and one that does can still track it.
"""

from __future__ import annotations

import sys

import _signal as signal  # not signal.py, which imports enum for the program

from . import sigterm

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Optional, Protocol

    class Session(Protocol):
        """What a child needs of the session it saves (the session module sits above this one)."""

        def save(self) -> bool: ...

        def flush(self) -> None: ...

__all__ = ["patch_when_imported", "stop_helpers"]

_WATCHED = "multiprocessing.process"
_patched = False


def patch_when_imported(current_session: "Callable[[], Optional[Session]]") -> None:
    """Patch ``multiprocessing`` now if it is loaded, else as the program imports it;
    a child saves the session that ``current_session()`` gives (the session module's)."""
    from .postimport import when_imported

    when_imported(_WATCHED, lambda process: _patch(process, current_session))


def _patch(process, current_session: "Callable[[], Optional[Session]]") -> None:
    """Save at the end of every ``multiprocessing`` child, which skips ``atexit``."""
    global _patched
    if _patched:
        return
    _patched = True
    original = process.BaseProcess._bootstrap

    def _bootstrap(self, *args, **kwargs):
        session = current_session()
        if session is not None:
            _prepare_child(self, session)
        try:
            return original(self, *args, **kwargs)
        finally:
            session = current_session()
            if session is not None:
                session.save()

    _bootstrap.__wrapped__ = original  # type: ignore[attr-defined]
    process.BaseProcess._bootstrap = _bootstrap  # type: ignore[assignment]


def stop_helpers() -> None:
    """End multiprocessing's forkserver and resource tracker now, not just after us.

    They live until the main process is gone, so their own data would always
    arrive after the primary combined the run.  By the time the primary's
    ``atexit`` handler runs, multiprocessing's exit handler has already shut
    down pools and children; stopping the helpers a moment early changes
    nothing else (``_stop`` is what CPython's own tests use, 3.8+).
    """
    for module_name, attribute in (
        ("multiprocessing.forkserver", "_forkserver"),
        ("multiprocessing.resource_tracker", "_resource_tracker"),
    ):
        helper = getattr(sys.modules.get(module_name), attribute, None)
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            try:
                stop()
            except Exception:  # pragma: no cover - a helper that is already gone
                pass


def _prepare_child(process: object, session: "Session") -> None:
    """Make a multiprocessing child safe to stop with ``terminate()``.

    A Python-level SIGTERM handler only runs between bytecodes: a SIGTERM that
    lands just before the child blocks (a pool worker waiting for its next
    task) would wait with it forever, where plain Python dies at once.  So
    children keep the default action, and a pool worker saves its data before
    it waits for work, with SIGTERM held off from the moment it hands back a
    result until the save is done: once the parent has a result, the lookups
    that produced it reach the disk even if ``terminate()`` follows at once.
    """
    sigterm.drop_handler()  # a child started some other way than fork or spawn
    pool = sys.modules.get("multiprocessing.pool")
    target = getattr(process, "_target", None)
    args = getattr(process, "_args", None)
    if pool is not None and target is getattr(pool, "worker", None) and isinstance(args, tuple) and len(args) >= 2:
        gate = _SaveBeforeIdle(args[0], args[1], session)
        process._args = (gate.inqueue, gate.outqueue) + args[2:]  # type: ignore[attr-defined]


class _Forwarding:
    """Stands in for a queue: one method replaced, every other attribute forwarded."""

    def __init__(self, queue: object, **methods: object) -> None:
        self._queue = queue
        self.__dict__.update(methods)

    def __getattr__(self, name: str) -> object:
        return getattr(self._queue, name)


_NO_TASK = object()


class _SaveBeforeIdle:
    """A pool worker's queues: hold SIGTERM from ``put`` to the next ``get``, save there."""

    def __init__(self, inqueue: object, outqueue: object, session: "Session") -> None:
        self._in = inqueue
        self._out = outqueue
        self._session = session
        self._held: "Optional[set]" = None
        self.inqueue = _Forwarding(inqueue, get=self._get)
        self.outqueue = _Forwarding(outqueue, put=self._put)

    def _put(self, obj: object) -> None:
        if self._held is None:
            self._held = sigterm.block_default()
        self._out.put(obj)  # type: ignore[attr-defined]

    def _get(self) -> object:
        if self._held is None:
            return self._in.get()  # type: ignore[attr-defined]
        try:
            task = self._take_waiting_task()
            if task is _NO_TASK:
                self._session.flush()  # about to wait: nothing of ours may be lost
        finally:
            previous, self._held = self._held, None
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a SIGTERM held off lands here
        if task is _NO_TASK:
            return self._in.get()  # type: ignore[attr-defined]
        from multiprocessing.reduction import ForkingPickler

        return ForkingPickler.loads(task)

    def _take_waiting_task(self) -> object:
        """The next task's bytes if it is already there for us, else ``_NO_TASK``.

        Only a worker holding the queue's read lock is sure to get the task it
        sees; without that certainty it saves before waiting.  This is what
        ``SimpleQueue.get`` does (3.9-3.13), without ever blocking.
        """
        rlock = getattr(self._in, "_rlock", None)
        reader = getattr(self._in, "_reader", None)
        if rlock is None or reader is None or not rlock.acquire(False):
            return _NO_TASK
        try:
            if reader.poll():
                return reader.recv_bytes()
        except (OSError, EOFError):
            pass
        finally:
            rlock.release()
        return _NO_TASK
