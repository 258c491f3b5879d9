"""Write a file so that readers see the old content or the new, never half.

Data files are read by ``combine`` while other processes of the same run may
still be writing theirs, and the start-up ``.pth`` file is read by every
interpreter that starts: both are written beside the target, synced, then
renamed over it.
"""

from __future__ import annotations

import os
import uuid

__all__ = ["write_atomically"]


def write_atomically(path: str, content: bytes) -> None:
    """Replace ``path`` with ``content``; raises ``OSError``, leaving no temporary file.

    The temporary name is ``<path>-<random>.tmp``: never ``<path>.<suffix>``
    (how per-process data files are named) nor ending in ``.pth``, so nothing
    that looks for those ever picks up a half-written file.  Mode 0o666 lets
    the umask apply as for a plain ``open``.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = f"{path}-{uuid.uuid4().hex[:12]}.tmp"
        try:
            fd = os.open(temp, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        break
    try:
        with open(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.remove(temp)
        except OSError:
            pass
        raise
    _sync_folder(os.path.dirname(os.path.abspath(path)))


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
