"""Write a file so that readers see the old content or the new, never half.

Data files are read by ``combine`` while other processes of the same run may
still be writing theirs, and the start-up ``.pth`` file is read by every
interpreter that starts: both are written beside the target, synced, then
renamed over it.
"""

from __future__ import annotations

import os
import stat

__all__ = ["write_atomically"]


def write_atomically(path: str, content: bytes) -> None:
    """Replace ``path`` with ``content``; raises ``OSError``, leaving no temporary file.

    The temporary name is ``<path>-<random>.tmp``: never ``<path>.<suffix>``
    (how per-process data files are named) nor ending in ``.pth``, so nothing
    that looks for those ever picks up a half-written file.  A new file gets
    mode 0o666 less the umask, as with a plain ``open``; a file that is
    replaced keeps its mode (a 0600 data file stays private).
    """
    mode = _mode_of(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = f"{path}-{os.urandom(6).hex()}.tmp"
        try:
            fd = os.open(temp, flags, 0o666 if mode is None else mode & 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        break
    try:
        with open(fd, "wb") as out:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(fd, mode)  # exactly, whatever the umask
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        if mode is not None and not hasattr(os, "fchmod"):  # pragma: no cover - Windows
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        try:
            os.remove(temp)
        except OSError:
            pass
        raise
    _sync_folder(os.path.dirname(os.path.abspath(path)))


def _mode_of(path: str):
    """Permission bits of the regular file at ``path`` (through symlinks), or None."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


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
