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

from .tracking import CONFIG_OWNERS, _key_label, count_config

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Optional

__all__ = ["note_read", "note_write", "name_label", "ALL_NAMES", "NOT_FOUND", "register_resolver", "current_value"]

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


# -- what a configuration name holds now (for answers that revalidate reads: the cache) ----

#: What :func:`current_value` gives for a name the owner does not hold now.
NOT_FOUND = object()
#: owner label -> resolve(name): the value a read of that name would find now, or NOT_FOUND.
_resolvers: "dict" = {}


def register_resolver(owner: str, resolve: "Callable[[str], object]") -> None:
    """Say how to find what ``owner``'s names hold now (the adapter that records them knows)."""
    _resolvers[owner] = resolve
    CONFIG_OWNERS.add(owner)


def current_value(owner: str, name: str) -> object:
    """What a read of ``name`` of ``owner`` finds now (NOT_FOUND when nothing); read unrecorded.

    Raises ``LookupError`` when that cannot be told: no resolver for the
    owner (Flask's config belongs to one app of many, a pydantic field to one
    instance), or a name the data keeps as a placeholder.  A cache must then
    treat the read as changed.
    """
    resolve = _resolvers.get(owner)
    if resolve is None or not (name == ALL_NAMES or name.isidentifier()):
        raise LookupError(f"cannot tell what {owner}.{name} holds now")
    return resolve(name)
