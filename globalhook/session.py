"""One tracking session in this process: install the hook, write the data when it ends.

Every process writes what it recorded exactly once, whichever way it ends:

- normal exit, ``sys.exit`` and uncaught exceptions: an ``atexit`` handler,
  registered before the program runs so that it runs after the program's own
  handlers (``atexit`` is last-in, first-out) and sees their lookups too;
- SIGTERM, whenever it has its default action: a handler that saves, then
  lets the default action end the process (:mod:`globalhook.sigterm`);
- ``multiprocessing`` children, which leave through ``os._exit`` and skip
  ``atexit``: ``BaseProcess._bootstrap`` saves when the child's work is done
  (:mod:`globalhook.multiproc`);
- ``os.fork()``: the child forgets the parent's counts and saves its own.

A session that must not write anything (its program could not start, or it
was started in one of globalhook's own commands) is abandoned.  A save that
fails says so in one line; the data is then nowhere.

The primary process of a ``globalhook run`` writes the data file itself, after
folding in the per-process files of its own run; every other process writes
a per-process file (``<data file>.<host>.<pid>.<random>``) for the primary or
``globalhook combine`` to pick up.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from _thread import allocate_lock

from . import __version__, multiproc, osexit, runmain, sigterm
from .datalock import DataFileLock, LockError
from .finder import install
from .stdlibonly import stdlib_imports
from .tracking import CORE, RECORDER

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, List, Optional, Sequence

    from .config import Config
    from .finder import ImportHook

__all__ = ["Session", "current_session", "writable_problem"]

_current: "Optional[Session]" = None


def current_session() -> "Optional[Session]":
    return _current


def _now() -> str:
    """UTC, as ``datetime.now(timezone.utc).isoformat(timespec="seconds")`` writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def writable_problem(data_file: str) -> "Optional[str]":
    """Why ``data_file`` cannot be written, or None: found out by creating a file beside it.

    Checked before the program runs, because the data is written when it
    ends.  The probe is named as the save's temporary files are, never like a
    per-process data file.
    """
    from .replaceable import replace_problem

    if not os.path.isdir(os.path.dirname(data_file)):
        return f"{data_file}: cannot write the data file: its folder does not exist"
    problem = replace_problem(data_file)
    if problem is not None:
        return f"{data_file}: {problem}"
    probe = f"{data_file}-{os.urandom(6).hex()}.tmp"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return f"{data_file}: cannot write the data file ({exc.strerror or exc})"
    os.close(fd)
    try:
        os.remove(probe)
    except OSError:  # pragma: no cover - created a moment ago
        pass
    return None


_fork_hooks = False


def _register_fork_hooks() -> None:
    """Once per process (``os.register_at_fork`` cannot be undone, and holding
    SIGTERM twice across a fork would leave it blocked in the parent)."""
    global _fork_hooks
    if _fork_hooks or not hasattr(os, "register_at_fork"):
        return
    _fork_hooks = True
    os.register_at_fork(
        before=sigterm.hold_for_fork, after_in_parent=sigterm.release_after_fork, after_in_child=_after_fork_in_child
    )


def _after_fork_in_child() -> None:
    if _current is not None:
        _current._after_fork()


def _save_before_os_exit(status: object) -> None:
    session = _current
    if session is None:
        return
    if session.exit_code is None and isinstance(status, int):
        session.exit_code = status
    session.save()


def _stale_note(data_file: str) -> str:
    """What a data file that this run could not write still holds, for the error line."""
    from .printable import printable

    try:
        written = os.stat(data_file).st_mtime
    except OSError:
        return ""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(written))
    return f"; {printable(data_file)} still holds the data of an earlier run (written {when})"


def _file_identity(path: str) -> "Optional[tuple]":
    """What tells one version of a file from the next: (device, inode, mtime, size), or None."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


def _host() -> str:
    try:
        return os.uname().nodename
    except AttributeError:  # pragma: no cover - Windows
        import socket

        return socket.gethostname()


def _attached_note() -> "List[str]":
    """A note naming the modules attached after their import: lookups made before were not seen."""
    live = sys.modules.get("globalhook.live")
    names = live.attached() if live is not None else []
    if not names:
        return []
    return [f"attached after import (lookups made before were not seen): {', '.join(names)}"]


class Session:
    """Tracks what ``config`` selects and saves it to ``config.data_file``."""

    def __init__(
        self,
        config: "Config",
        command: "Optional[Sequence[str]]" = None,
        *,
        primary: bool = True,
        run_id: "Optional[str]" = None,
        root: "Optional[str]" = None,
    ) -> None:
        self.config = config
        self.command = list(command) if command is not None else None
        self.primary = primary
        self.run_id = run_id or os.urandom(16).hex()
        self.root = root
        self.hook: "Optional[ImportHook]" = None
        self.started = _now()
        self.exit_code: "Optional[int]" = None
        self.notes: "List[str]" = []
        #: Asked when the data is saved, each for a note or None (work not worth doing at start).
        self.note_checks: "List[Callable[[], Optional[str]]]" = []
        from .globalwrites import lost_note

        self.note_checks.append(lost_note)
        self._pid = os.getpid()
        self._saved = False
        self._saving = False
        self._sigterm_pending = False
        self._lock = allocate_lock()
        self._part: "Optional[str]" = None
        #: The data file as it was when this run started (see _written_meanwhile).
        self._found_at_start: "Optional[tuple]" = None
        #: Other runs' data found in the data file by a snapshot (kept at the final save).
        self._kept: "List[dict]" = []
        #: Said on stderr once the data is saved (what the save merged).
        self._save_notes: "List[str]" = []
        #: Keeps an entry in the data when it says True (IPython leaves its own lookups out).
        self.entry_filter: "Optional[Callable[[dict], bool]]" = None
        #: Top-level keys an answer adds to this process's data (data.MERGED_KEYS), made from its
        #: lookups when it is saved: a compact table at the save, entries for a snapshot.
        self.extra_data: "Dict[str, Callable[[Any], dict]]" = {}

    # -- starting ------------------------------------------------------------

    def start(self) -> "ImportHook":
        global _current
        multiproc.patch_when_imported(current_session)  # first, so that the finder goes in front of it
        self.hook = install(
            self.config.include, self.config.exclude, self.config.strategy, self.root,
            attributes=getattr(self.config, "attributes", True),
            config_reads=getattr(self.config, "config_reads", True),
        )
        if self.hook.warning:
            print(self.hook.warning, file=sys.stderr)
        if getattr(self.config, "config_reads", True):
            from .integrations import watch_frameworks

            watch_frameworks()
        _current = self
        # cProfile, coverage...: the script they run is __main__ too
        command = self.command or []
        runner_asked = len(command) > 1 and command[0] == "-m" and command[1] in runmain.RUNNERS
        runmain.watch(self.hook.finder.filter, eager=runner_asked)
        self._found_at_start = _file_identity(self.config.data_file)
        atexit.register(self._save_at_exit)
        osexit.install(_save_before_os_exit)
        _register_fork_hooks()
        sigterm.install_handler(current_session)
        return self.hook

    def abandon(self) -> None:
        """Stop without writing anything, as if this session had never started.

        For a run that cannot start its program (nothing of it ran, so the
        last run's data must stay as it is), and for globalhook's own commands
        in a process the start-up hook activated.
        """
        global _current
        with self._lock:
            self._saved = True  # nothing is ever written by this session now
        atexit.unregister(self._save_at_exit)
        osexit.uninstall()
        runmain.stop()
        if self.hook is not None:
            self.hook.uninstall()
        sigterm.drop_handler()
        RECORDER.clear()
        RECORDER.not_tracked.clear()
        if _current is self:
            _current = None

    def _after_fork(self) -> None:
        """In a forked child: start empty, save to a per-process file, SIGTERM kills."""
        sigterm.default_in_child()
        RECORDER.clear()
        self.primary = False
        self._pid = os.getpid()
        self._saved = False
        self._saving = False
        self._sigterm_pending = False
        self._lock = allocate_lock()
        self._part = None
        self.started = _now()

    # -- saving ----------------------------------------------------------------

    def run_info(self) -> dict:
        from .limits import unobservable

        info = {
            "globalhook": __version__,
            "python": ".".join(map(str, sys.version_info[:3])),
            "implementation": sys.implementation.name,
            "strategy": self.hook.strategy if self.hook else None,
            "core": CORE,
            "command": self._recorded_command(),
            "cwd": os.getcwd(),
            "host": _host(),
            "pid": os.getpid(),
            "run_id": self.run_id,
            "started": self.started,
            "finished": _now(),
            "exit_code": self.exit_code,
            "unobservable": unobservable(
                strategy=self.hook.strategy if self.hook else "native",
                attributes=getattr(self.config, "attributes", True),
            ),
            "notes": self.notes + _attached_note() + [note for note in (check() for check in self.note_checks) if note],
        }
        if info["command"] is None:
            del info["command"]  # record_command = "none"
        return info

    def _recorded_command(self) -> "Optional[List[str]]":
        """The command line, as ``record_command`` says: whole, program only, or not at all."""
        command = list(self.command) if self.command is not None else list(sys.argv)
        mode = getattr(self.config, "record_command", "full")
        if mode == "none":
            return None
        if mode == "redacted":
            keep = 2 if command[:1] == ["-m"] else 1
            return command[:keep] + ["<redacted>"] * len(command[keep:])
        return command

    def data(self, table: bool = False) -> dict:
        """This process's data so far; ``table``: its ``lookups`` as the file stores them (a compact table).

        The table is encoded straight from the recorder's rows, never as one
        dict per entry: the save at exit takes it (with an ``entry_filter``,
        the entries are made and filtered, then encoded).
        """
        from .gcpause import paused

        # Everything made here (rows, tables, the selection data) is acyclic and
        # kept: collections while it grows would walk it again and again.
        with paused():
            return self._data(table)

    def _data(self, table: bool) -> dict:
        from .data import make_data

        if self.hook is not None:
            self.hook.finder.note_untracked_imports()
        not_tracked = [{"module": name, "reason": reason} for name, reason in sorted(RECORDER.not_tracked.items())]
        encoded = None
        if table and self.entry_filter is None:
            from .compact import encode_rows

            encoded = encode_rows(RECORDER.sorted_rows(), RECORDER.static_entries())
        if encoded is not None:
            data = make_data([], self.run_info(), not_tracked)
            data["lookups"] = encoded
        else:
            lookups = RECORDER.lookups()
            if self.entry_filter is not None:
                lookups = [entry for entry in lookups if self.entry_filter(entry)]
            data = make_data(lookups, self.run_info(), not_tracked, fresh=True)  # the recorder made them just now
            if table:
                from .compact import encode

                data["lookups"] = encode(data["lookups"])
        for key, make in self.extra_data.items():
            data[key] = make(data["lookups"])
        return data

    def save(self) -> bool:
        """Write this process's data once; safe to call from any exit path.

        False when writing failed (said on stderr, in one line): the data is
        then nowhere, since nothing else holds it.
        """
        if not self._begin_write(final=True):
            return True
        with stdlib_imports():  # the program's folders come first on sys.path by now
            return self._save()

    def _save(self) -> bool:
        try:
            from .data import DataError
        except Exception:  # pragma: no cover - said below, when the same import fails again
            DataError = ()  # type: ignore[assignment,misc]  # matches nothing
        try:
            data = self.data(table=True)
            if self.primary:
                data = self._save_combined(data)
            else:
                self._write_part(data)
                return True
        except Exception as exc:  # whatever went wrong, one line, never a traceback at exit
            problem = str(exc) if isinstance(exc, (DataError, LockError)) else f"saving failed: {type(exc).__name__}: {exc}"
            whose = "this run's" if self.primary else "this process's"
            stale = _stale_note(self.config.data_file) if self.primary else ""
            print(f"globalhook: error: {problem}; {whose} data was not saved anywhere{stale}", file=sys.stderr)
            return False
        finally:
            self._end_write()
        for note in self._save_notes:
            print(f"globalhook: {note}", file=sys.stderr)
        if self.config.report:
            from .printable import escape_controls
            from .report import text_report

            if isinstance(data.get("lookups"), dict):
                from .compact import decode

                data = dict(data, lookups=decode(data["lookups"]))
            sys.stderr.write(escape_controls(text_report(data)))
        return True

    def _save_at_exit(self) -> None:
        """The ``atexit`` save, leaving an unhandled ``KeyboardInterrupt`` to end the process.

        CPython remembers that the program ended with an unhandled
        ``KeyboardInterrupt`` (and then dies by SIGINT after finalising) in a
        flag that every ``eval``/``exec`` of a string clears, and saving may
        import modules that do that (``collections.namedtuple``).  The
        interpreter set ``sys.last_value`` when it printed the exception: if
        that is a ``KeyboardInterrupt``, the flag is set again by raising one
        through ``exec`` of a string, exactly as the interpreter set it.
        """
        interrupted = type(getattr(sys, "last_value", None)) is KeyboardInterrupt
        try:
            saved = self.save()
        finally:
            if interrupted:
                try:
                    exec("raise KeyboardInterrupt", {})
                except KeyboardInterrupt:
                    pass
        if not saved and self.primary and self.exit_code == 0:
            # The program succeeded but its run's data is lost: say so in the
            # exit status too.  atexit cannot change the status the
            # interpreter exits with, so end the process here, as it would
            # have ended, with the streams flushed.
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            osexit.real_exit(2)

    def snapshot(self, path: "Optional[str]" = None) -> str:
        """Write this run's data so far to ``path`` (default: the data file); the final save replaces it.

        A snapshot in the run's own data file is this run's, not another
        run's: the save at exit replaces it (merging it would count every
        lookup twice), and keeps what other runs had written there.  Raises
        ``DataError``/``OSError``.
        """
        from .data import combine, save

        target = self.config.data_file if path is None else path
        if os.path.abspath(target) != os.path.abspath(self.config.data_file):
            save(self.data(), target)
            return target
        with DataFileLock(self.config.data_file):
            self._kept = self._written_meanwhile()
            combine(self.config.data_file, self._kept + [self.data()], select=lambda part: False, keep=True)
            self._found_at_start = _file_identity(self.config.data_file)
        return target

    def flush(self) -> None:
        """Write this (non-primary) process's data so far; later saves overwrite it."""
        if self.primary or not self._begin_write(final=False):
            return
        with stdlib_imports():
            from .data import DataError

            try:
                self._write_part(self.data(table=True))
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
        from .data import part_path, save

        if self._part is None:
            self._part = part_path(self.config.data_file)
        with sigterm.held():
            save(data, self._part)

    def _save_combined(self, data: dict) -> dict:
        """The primary's data plus the per-process files of this run, as one file."""

        from .data import combine

        def ours(part: dict) -> bool:
            return any(run.get("run_id") == self.run_id for run in part["runs"])

        multiproc.stop_helpers()

        # One writer at a time (another run's save, a combine): each reads
        # the file only once the one before it has written.
        with DataFileLock(self.config.data_file):
            base = self._written_meanwhile() + [data]
            combined, _, _ = combine(self.config.data_file, base, select=ours)
        return combined

    def _written_meanwhile(self) -> "List[dict]":
        """The data file, if another process wrote it while this run ran: merged, never replaced.

        A run replaces the data of the runs before it; a run that ended (or
        a ``combine``) while this one ran is of the same time as this one,
        and its data stays, beside this run's.  The exit line says so.
        """
        from .data import DataError, load
        from .printable import printable

        if _file_identity(self.config.data_file) in (None, self._found_at_start):
            return list(self._kept)
        shown = printable(self.config.data_file)
        try:
            other = load(self.config.data_file)
        except DataError as exc:
            self._save_notes.append(f"replaced {shown}, written while this run ran but unreadable ({exc})")
            return list(self._kept)
        runs = [run for run in other["runs"] if isinstance(run, dict)]
        described = ", ".join(
            f"pid {printable(str(run.get('pid')))} started {printable(str(run.get('started')))}" for run in runs[:3]
        )
        more = f" and {len(runs) - 3} more" if len(runs) > 3 else ""
        self._save_notes.append(
            f"{shown} was written by another run while this one ran ({described}{more}): "
            "its data is kept, merged with this run's"
        )
        return self._kept + [other]
