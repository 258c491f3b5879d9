"""Reads and writes of configuration names: what the recording wrappers call.

A program's configuration is not only its globals: an environment variable
read with ``os.getenv``, a Django setting read through ``settings``, a key of
Flask's ``app.config``.  None of these is a global lookup, so the tracking
dict never sees the name.  The wrappers around those objects (:mod:`envreads`
for ``os.environ``, :mod:`watch` for any object, the framework adapters in
``globalhook.integrations``) call :func:`note_read` and :func:`note_write`
with the object's owner label and the name; the recorder charges the read to
the innermost tracked function on the stack, in the current context, as an
ordinary data-file entry of kind ``read`` or ``write``.

Only names are kept, never values.  A name that is not an identifier (an
environment variable such as ``ProgramFiles(x86)``, a key built from data) is
kept under the recorder's placeholder, never verbatim.
"""

from __future__ import annotations

import sys

from .tracking import _key_label, count_config

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

__all__ = ["note_read", "note_write", "name_label", "ALL_NAMES"]

#: The name recorded when the program listed the names (iteration, ``len``):
#: it depends on which names exist, whichever they are.
ALL_NAMES = "*"

_getframe = sys._getframe
_type = type
_str = str


def name_label(key: object) -> str:
    """What the data records for a configuration key: the key when it is an
    identifier (bytes from ``os.environb`` decoded as ASCII), else a placeholder."""
    if _type(key) is _str:
        if key.isidentifier() or key == ALL_NAMES:
            return key  # type: ignore[return-value]
        return _key_label(key)
    if isinstance(key, bytes):
        try:
            text = key.decode("ascii")
        except UnicodeDecodeError:
            return _key_label("-")
        return text if text.isidentifier() else _key_label(text)
    return _key_label(key)


def note_read(owner: str, key: object, frame: "Optional[object]" = None) -> None:
    """Count a read of ``key`` of ``owner`` for the innermost tracked code above the caller."""
    count_config(False, owner, name_label(key), frame if frame is not None else _getframe(1))


def note_write(owner: str, key: object, frame: "Optional[object]" = None) -> None:
    """Count a write (set or delete) of ``key`` of ``owner`` for the innermost tracked code above the caller."""
    count_config(True, owner, name_label(key), frame if frame is not None else _getframe(1))
