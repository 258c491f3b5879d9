"""One writer at a time for a data file: an advisory lock in a file beside it.

``combine`` and the save at the end of a run both read the data file, fold
per-process files into it, write it and delete those files.  Two of them at
once would each start from the file as it was before the other wrote: the
later write drops what the earlier one added, after the earlier one deleted
the parts that held it.  So each holds ``<data file>.lock`` from reading to
deleting.

The lock file is removed by its holder before it lets go; whoever then gets
the lock on the removed file notices (its inode is no longer the one at the
path) and tries again, so no lock file is left behind and none is shared by
two writers.  Where ``fcntl`` is missing (Windows) the file is locked with
``msvcrt`` and stays.
"""

from __future__ import annotations

import os
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

TYPE_CHECKING = False  # not from typing: imported by every tracked process
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

__all__ = ["LOCK_SUFFIX", "DataFileLock", "LockError"]

#: What follows the data file's name: never looks like a per-process file's suffix.
LOCK_SUFFIX = ".lock"

#: How long a writer waits for another (a combine of a large file takes seconds).
TIMEOUT = 120.0


class LockError(Exception):
    """The lock could not be taken; the message is one line naming the lock file."""


class DataFileLock:
    """``with DataFileLock(data_file):`` read, combine, write and delete parts, alone."""

    def __init__(self, data_file: str, timeout: float = TIMEOUT) -> None:
        self.path = os.fspath(data_file) + LOCK_SUFFIX
        self.timeout = timeout
        self._fd: "Optional[int]" = None

    def __enter__(self) -> "DataFileLock":
        deadline = time.monotonic() + self.timeout
        pause = 0.01
        while True:
            fd = self._open()
            if _try_lock(fd):
                if fcntl is None or _same_file(fd, self.path):
                    self._fd = fd
                    return self
                os.close(fd)  # its holder removed it as we waited: lock the new one
                continue
            os.close(fd)
            if time.monotonic() >= deadline:
                raise LockError(
                    f"{self.path}: another globalhook process has held this lock for "
                    f"{self.timeout:.0f}s (combining into, or saving, the data file beside it)"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def __exit__(self, *exc_info: object) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if fcntl is not None:
            try:
                os.unlink(self.path)  # while still holding it: see the module docstring
            except OSError:
                pass
        os.close(fd)  # releases the lock

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            return os.open(self.path, flags, 0o666)
        except OSError as exc:
            raise LockError(f"{self.path}: cannot lock the data file ({exc.strerror or exc})") from None


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            return True  # a file system without locks (some NFS): write as before, unlocked
        return True
    import msvcrt  # pragma: no cover - Windows

    try:  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:  # pragma: no cover
        return False
    return True  # pragma: no cover


def _same_file(fd: int, path: str) -> bool:
    try:
        at_path = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (at_path.st_dev, at_path.st_ino) == (held.st_dev, held.st_ino)
