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
import datetime
import os
import socket
import sys
import threading
import uuid
from typing import List, Optional, Sequence

from . import __version__, multiproc, sigterm
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
                before=sigterm.hold_for_fork, after_in_parent=sigterm.release_after_fork, after_in_child=self._after_fork
            )
        multiproc.patch()
        sigterm.install_handler()
        return self.hook

    def _after_fork(self) -> None:
        """In a forked child: start empty, save to a per-process file, SIGTERM kills."""
        sigterm.default_in_child()
        RECORDER.clear()
        self.primary = False
        self._pid = os.getpid()
        self._saved = False
        self._saving = False
        self._sigterm_pending = False
        self._lock = threading.Lock()
        self._part = None
        self.started = _now()

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
            sigterm.die_by_sigterm()  # a SIGTERM came in while saving: finish what it started

    def _write_part(self, data: dict) -> None:
        """This process's own file, under one name for its whole life."""
        if self._part is None:
            self._part = part_path(self.config.data_file)
        with sigterm.held():
            save(data, self._part)

    def _save_combined(self, data: dict) -> dict:
        """The primary's data plus the per-process files of this run, as one file."""

        def ours(part: dict) -> bool:
            return any(run.get("run_id") == self.run_id for run in part["runs"])

        multiproc.stop_helpers()

        combined, _, _ = combine(self.config.data_file, [data], select=ours)
        return combined
