"""Which files globalhook may replace: its own data files, or nothing that is there yet.

A data file is written by renaming a new file over the old one, so whatever
the path names is gone afterwards.  The path can come from a cloned
project's config, a mistyped option or a symlink someone left there, so
before anything is replaced it must be: absent, an empty regular file, or a
regular file that already is a globalhook data file.  Never a symlink (what
it points at is not ours to judge), a device (``/dev/null``, as root), a
FIFO, a socket or a folder.
"""

from __future__ import annotations

import os
import re
import stat

TYPE_CHECKING = False  # not from typing: imported by every tracked process at exit
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

__all__ = ["replace_problem"]

#: How a data file starts, as every globalhook writes it (``format`` is its
#: first key), and as ``json.dump`` writes it back, indented or not.
_HEAD = re.compile(rb'\s*\{\s*"format"\s*:\s*"globalhook-data"')
_HEAD_BYTES = 256

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def replace_problem(path: str) -> "Optional[str]":
    """Why the data file ``path`` must not be replaced, or None when it may be.

    The reason is the end of a sentence that starts with the path.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot look at it ({exc.strerror or exc})"
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return "is a symlink; globalhook replaces only regular files (name the file it points at, or remove the link)"
    for test, kind in _KINDS:
        if test(mode):
            return f"is {kind}, not a data file; globalhook never replaces one"
    if not stat.S_ISREG(mode):  # pragma: no cover - a door, a whiteout...
        return "is not a regular file; globalhook never replaces one"
    if info.st_size == 0 or _is_data_file(path):
        return None
    return "exists and is not a globalhook data file; globalhook never replaces it (choose another name, or remove it)"


def _is_data_file(path: str) -> bool:
    """Does the regular file at ``path`` start as a data file does?  Never opens anything else."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        try:
            head = f.read(_HEAD_BYTES)
        except OSError:
            return False
    return _HEAD.match(head) is not None
