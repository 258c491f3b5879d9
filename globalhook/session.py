"""One tracking session in this process: install the hook, write the data at exit.

The ``atexit`` handler is registered before the program runs, so it runs
after the program's own handlers (``atexit`` is last-in, first-out) and sees
their lookups too.  It writes on normal exit, ``sys.exit`` and uncaught
exceptions alike.
"""

from __future__ import annotations

import atexit
import datetime
import os
import socket
import sys
from typing import List, Optional, Sequence

from . import __version__
from .config import Config
from .data import make_data, save
from .finder import ImportHook, install
from .limits import unobservable
from .tracking import RECORDER

__all__ = ["Session"]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Session:
    """Tracks what ``config`` selects and saves it to ``config.data_file``."""

    def __init__(self, config: Config, command: Sequence[str]) -> None:
        self.config = config
        self.command = list(command)
        self.hook: Optional[ImportHook] = None
        self.started = _now()
        self.exit_code: Optional[int] = None
        self._saved = False

    def start(self) -> ImportHook:
        self.hook = install(self.config.include, self.config.exclude, self.config.strategy)
        if self.hook.warning:
            print(self.hook.warning, file=sys.stderr)
        atexit.register(self.save)
        return self.hook

    def run_info(self) -> dict:
        return {
            "globalhook": __version__,
            "python": ".".join(map(str, sys.version_info[:3])),
            "implementation": sys.implementation.name,
            "strategy": self.hook.strategy if self.hook else None,
            "command": self.command,
            "cwd": os.getcwd(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": self.started,
            "finished": _now(),
            "exit_code": self.exit_code,
            "unobservable": unobservable(),
        }

    def data(self) -> dict:
        not_tracked: List[dict] = [
            {"module": name, "reason": reason} for name, reason in sorted(RECORDER.not_tracked.items())
        ]
        return make_data(RECORDER.lookups(), self.run_info(), not_tracked)

    def save(self) -> None:
        if self._saved:
            return
        self._saved = True
        data = self.data()
        try:
            save(data, self.config.data_file)
        except OSError as exc:
            print(f"globalhook: error: cannot write {self.config.data_file}: {exc.strerror or exc}", file=sys.stderr)
            return
        if self.config.report:
            from .report import text_report

            sys.stderr.write(text_report(data))
