"""One tracking session in this process: install the hook, write the data when it ends.

Every process writes what it recorded exactly once, whichever way it ends:

- normal exit, ``sys.exit`` and uncaught exceptions: an ``atexit`` handler,
  registered before the program runs so that it runs after the program's own
  handlers (``atexit`` is last-in, first-out) and sees their lookups too;
- SIGTERM, when the program has no handler of its own: a handler that saves,
  then lets the default action end the process;
- ``multiprocessing`` children, which leave through ``os._exit`` and skip
  ``atexit``: ``BaseProcess._bootstrap`` saves when the child's work is done;
- ``os.fork()``: the child forgets the parent's counts and saves its own.

The primary process of a ``globalhook run`` writes the data file itself, after
folding in the per-process files of its own run; every other process writes
a per-process file (``<data file>.<host>.<pid>.<random>``) for the primary or
``globalhook combine`` to pick up.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import signal
import socket
import sys
import threading
import uuid
from typing import Iterator, List, Optional, Sequence

from . import __version__
from .config import Config
from .data import DataError, combine, make_data, part_path, save
from .finder import ImportHook, install
from .limits import unobservable
from .tracking import CORE, RECORDER

__all__ = ["Session", "current_session"]

_current: Optional["Session"] = None


def current_session() -> Optional["Session"]:
    return _current


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Session:
    """Tracks what ``config`` selects and saves it to ``config.data_file``."""

    def __init__(
        self,
        config: Config,
        command: Optional[Sequence[str]] = None,
        *,
        primary: bool = True,
        run_id: Optional[str] = None,
        root: Optional[str] = None,
    ) -> None:
        self.config = config
        self.command = list(command) if command is not None else None
        self.primary = primary
        self.run_id = run_id or uuid.uuid4().hex
        self.root = root
        self.hook: Optional[ImportHook] = None
        self.started = _now()
        self.exit_code: Optional[int] = None
        self.notes: List[str] = []
        self._pid = os.getpid()
        self._saved = False
        self._saving = False
        self._sigterm_pending = False
        self._lock = threading.Lock()
        self._part: Optional[str] = None

    # -- starting ------------------------------------------------------------

    def start(self) -> ImportHook:
        global _current
        self.hook = install(self.config.include, self.config.exclude, self.config.strategy, self.root)
        if self.hook.warning:
            print(self.hook.warning, file=sys.stderr)
        _current = self
        atexit.register(self.save)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=_hold_sigterm_for_fork, after_in_parent=_release_sigterm, after_in_child=self._after_fork
            )
        _patch_multiprocessing()
        self._handle_sigterm()
        return self.hook

    def _after_fork(self) -> None:
        """In a forked child: start empty, save to a per-process file, SIGTERM kills."""
        _default_sigterm_in_child()
        RECORDER.clear()
        self.primary = False
        self._pid = os.getpid()
        self._saved = False
        self._saving = False
        self._sigterm_pending = False
        self._lock = threading.Lock()
        self._part = None
        self.started = _now()

    def _handle_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if "--multiprocessing-fork" in sys.argv:
            return  # a multiprocessing spawn child: keeps the default action (see _prepare_child)
        try:
            if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
                return  # the program (or its host) handles it: leave it alone
            signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError, AttributeError):  # pragma: no cover - no SIGTERM here
            pass

    # -- saving ----------------------------------------------------------------

    def run_info(self) -> dict:
        return {
            "globalhook": __version__,
            "python": ".".join(map(str, sys.version_info[:3])),
            "implementation": sys.implementation.name,
            "strategy": self.hook.strategy if self.hook else None,
            "core": CORE,
            "command": self.command if self.command is not None else list(sys.argv),
            "cwd": os.getcwd(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "run_id": self.run_id,
            "started": self.started,
            "finished": _now(),
            "exit_code": self.exit_code,
            "unobservable": unobservable(),
            "notes": list(self.notes),
        }

    def data(self) -> dict:
        not_tracked = [{"module": name, "reason": reason} for name, reason in sorted(RECORDER.not_tracked.items())]
        return make_data(RECORDER.lookups(), self.run_info(), not_tracked)

    def save(self) -> None:
        """Write this process's data once; safe to call from any exit path."""
        if not self._begin_write(final=True):
            return
        try:
            data = self.data()
            if self.primary:
                data = self._save_combined(data)
            else:
                self._write_part(data)
                return
        except DataError as exc:
            print(f"globalhook: error: {exc}", file=sys.stderr)
            return
        finally:
            self._end_write()
        if self.config.report:
            from .report import text_report

            sys.stderr.write(text_report(data))

    def flush(self) -> None:
        """Write this (non-primary) process's data so far; later saves overwrite it."""
        if self.primary or not self._begin_write(final=False):
            return
        try:
            self._write_part(self.data())
        except DataError as exc:
            print(f"globalhook: error: {exc}", file=sys.stderr)
        finally:
            self._end_write()

    def _begin_write(self, final: bool) -> bool:
        """False when this process must not write (already saved, or a forked copy)."""
        with self._lock:
            if self._saved or os.getpid() != self._pid:
                return False
            self._saving = True
            self._saved = final
        return True

    def _end_write(self) -> None:
        self._saving = False
        if self._sigterm_pending:
            _die_by_sigterm()  # a SIGTERM came in while saving: finish what it started

    def _write_part(self, data: dict) -> None:
        """This process's own file, under one name for its whole life."""
        if self._part is None:
            self._part = part_path(self.config.data_file)
        with _sigterm_held():
            save(data, self._part)

    def _save_combined(self, data: dict) -> dict:
        """The primary's data plus the per-process files of this run, as one file."""

        def ours(part: dict) -> bool:
            return any(run.get("run_id") == self.run_id for run in part["runs"])

        _stop_multiprocessing_helpers()

        combined, _, _ = combine(self.config.data_file, [data], select=ours)
        return combined


def _stop_multiprocessing_helpers() -> None:
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


def _on_sigterm(signum, frame) -> None:
    session = _current
    if session is not None:
        if session._saving or session._lock.locked():
            # Killing now would leave a half-written file behind: the save
            # in progress ends the process when it is done.
            session._sigterm_pending = True
            return
        session.save()
    _die_by_sigterm()


@contextlib.contextmanager
def _sigterm_held() -> Iterator[None]:
    """Hold off a default-action SIGTERM while a file is written, then let it in.

    Where our handler is installed it defers SIGTERM itself; where SIGTERM
    still kills at once (multiprocessing children), blocking it for the few
    milliseconds of a write keeps a half-written file from being left behind.
    """
    previous = _block_default_sigterm()
    try:
        yield
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _block_default_sigterm() -> Optional[set]:
    """Block SIGTERM in this thread if it still kills at once; the mask to restore, or None."""
    if hasattr(signal, "pthread_sigmask") and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    return None


# A forked child must not inherit our Python-level handler: CPython drops
# signals that arrive between fork() and its after-fork reset, so a SIGTERM
# sent to a brand-new child (Pool.terminate() right after a slow worker start)
# would be lost and the child would live on where plain Python dies.  The
# forking thread holds SIGTERM off across fork(); the child switches to the
# default action first and then lets any held SIGTERM in.
# Per thread: two threads may fork at once, and a mask is a thread's own.
_fork_masks = threading.local()


def _hold_sigterm_for_fork() -> None:
    if hasattr(signal, "pthread_sigmask") and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        _fork_masks.previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def _release_sigterm() -> None:
    mask = getattr(_fork_masks, "previous", None)
    _fork_masks.previous = None
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _default_sigterm_in_child() -> None:
    _drop_sigterm_handler()
    _release_sigterm()


def _drop_sigterm_handler() -> None:
    """Give SIGTERM back its default action if our handler has it."""
    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not the main thread
        pass


def _die_by_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


_mp_patched = False


def _patch_multiprocessing() -> None:
    """Save at the end of every ``multiprocessing`` child, which skips ``atexit``."""
    global _mp_patched
    if _mp_patched:
        return
    _mp_patched = True
    from multiprocessing import process

    original = process.BaseProcess._bootstrap

    def _bootstrap(self, *args, **kwargs):
        session = _current
        if session is not None:
            _prepare_child(self, session)
        try:
            return original(self, *args, **kwargs)
        finally:
            session = _current
            if session is not None:
                session.save()

    _bootstrap.__wrapped__ = original  # type: ignore[attr-defined]
    process.BaseProcess._bootstrap = _bootstrap  # type: ignore[assignment]


def _prepare_child(process: object, session: Session) -> None:
    """Make a multiprocessing child safe to stop with ``terminate()``.

    A Python-level SIGTERM handler only runs between bytecodes: a SIGTERM that
    lands just before the child blocks (a pool worker waiting for its next
    task) would wait with it forever, where plain Python dies at once.  So
    children keep the default action, and a pool worker saves its data before
    it waits for work, with SIGTERM held off from the moment it hands back a
    result until the save is done: once the parent has a result, the lookups
    that produced it reach the disk even if ``terminate()`` follows at once.
    """
    _drop_sigterm_handler()  # a child started some other way than fork or spawn
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

    def __init__(self, inqueue: object, outqueue: object, session: Session) -> None:
        self._in = inqueue
        self._out = outqueue
        self._session = session
        self._held: Optional[set] = None
        self.inqueue = _Forwarding(inqueue, get=self._get)
        self.outqueue = _Forwarding(outqueue, put=self._put)

    def _put(self, obj: object) -> None:
        if self._held is None:
            self._held = _block_default_sigterm()
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
