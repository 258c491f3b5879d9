"""Reads and writes of environment variables, by name (owner ``os.environ``).

``os.environ[...]``, ``.get``, ``in``, ``os.getenv``, ``setdefault``, ``pop``
all end in ``os._Environ.__getitem__``; iteration and ``len`` in ``__iter__``
and ``__len__``; writes in ``__setitem__``/``__delitem__`` (and the
``os.putenv``/``os.unsetenv`` they call).  Those methods are replaced *on the
class*, not the object: ``os.environ`` stays the same ``os._Environ``
instance, so ``type()``, ``isinstance``, ``copy``, pickling and the
environment a subprocess inherits are exactly as without globalhook.  Only
``os.environ`` and ``os.environb`` are recorded (a copy made with
``copy.copy`` is another object); iteration and ``len`` are recorded under
the name ``*``.

A write is counted once it has succeeded; a read before it runs, so that
asking for a variable that is not set is a read of it too (a cache must
notice when it appears).
"""

from __future__ import annotations

import os
import sys
from _thread import _local

from .configreads import ALL_NAMES, NOT_FOUND, name_label, register_resolver
from .tracking import count_config

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Dict

__all__ = ["install", "uninstall", "installed", "OWNER", "Hushed"]

#: The owner of every environment-variable entry.
OWNER = "os.environ"

_Environ = os._Environ  # type: ignore[attr-defined]
_environ = os.environ
_environb = getattr(os, "environb", None)  # POSIX only
_getframe = sys._getframe
_type = type
#: name -> the original attribute, for what this module replaced (class methods and os functions).
_originals: "Dict[str, Callable]" = {}
_os_originals: "Dict[str, Callable]" = {}
#: Per thread: how many Hushed blocks are open (an adapter that records the names itself).
_hush = _local()


class Hushed:
    """A block in which this thread's environment reads and writes are not recorded.

    For an adapter that knows better than a scan of the whole environment
    which variables matter (pydantic-settings reads every variable, then
    looks up a few).
    """

    def __enter__(self) -> None:
        _hush.depth = getattr(_hush, "depth", 0) + 1

    def __exit__(self, *exc_info) -> None:
        _hush.depth -= 1


def _label(key: object) -> str:
    return key if _type(key) is str and key.isidentifier() else name_label(key)  # type: ignore[union-attr,return-value]


def _make_methods(originals: "Dict[str, Callable]") -> "Dict[str, Callable]":
    getitem, setitem, delitem = originals["__getitem__"], originals["__setitem__"], originals["__delitem__"]
    iterate, length = originals["__iter__"], originals["__len__"]
    note = _make_note()

    def __getitem__(self, key):
        note(self, False, key, _getframe(1))
        return getitem(self, key)

    def __setitem__(self, key, value):
        setitem(self, key, value)
        note(self, True, key, _getframe(1))

    def __delitem__(self, key):
        delitem(self, key)
        note(self, True, key, _getframe(1))

    def __iter__(self):
        note(self, False, ALL_NAMES, _getframe(1))
        return iterate(self)

    def __len__(self):
        note(self, False, ALL_NAMES, _getframe(1))
        return length(self)

    return {
        "__getitem__": __getitem__, "__setitem__": __setitem__, "__delitem__": __delitem__,
        "__iter__": __iter__, "__len__": __len__,
    }


def _make_note() -> "Callable[[object, bool, object, object], None]":
    """The recording step, with everything it uses held in closure cells: it
    also runs while the interpreter shuts down (a ``__del__`` reading the
    environment), when module globals may already be gone, and must never
    make the program's own read fail."""
    environ, environb, hush, count, label, owner, getattr_ = _environ, _environb, _hush, count_config, _label, OWNER, getattr
    every = ALL_NAMES

    def note(obj, write, key, frame):
        if (obj is environ or obj is environb) and not getattr_(hush, "depth", 0):
            try:
                count(write, owner, key if key is every else label(key), frame)
            except Exception:  # pragma: no cover - interpreter shutdown
                pass

    return note


def _make_os_functions(originals: "Dict[str, Callable]", inside: frozenset) -> "Dict[str, Callable]":
    """``os.putenv``/``os.unsetenv``: a write, unless ``os.environ``'s own methods
    called them (those count it themselves)."""
    made = {}
    hush, count, label, owner, getattr_ = _hush, count_config, _label, OWNER, getattr

    def note(key, caller):
        if caller.f_code not in inside and not getattr_(hush, "depth", 0):
            try:
                count(True, owner, label(key), caller)
            except Exception:  # pragma: no cover - interpreter shutdown
                pass

    if "putenv" in originals:
        real_putenv = originals["putenv"]

        def putenv(key, value, /):
            real_putenv(key, value)
            note(key, _getframe(1))

        made["putenv"] = putenv
    if "unsetenv" in originals:
        real_unsetenv = originals["unsetenv"]

        def unsetenv(key, /):
            real_unsetenv(key)
            note(key, _getframe(1))

        made["unsetenv"] = unsetenv
    for name, function in made.items():
        original = originals[name]
        function.__module__ = original.__module__
        function.__doc__ = original.__doc__
        function.__wrapped__ = original  # type: ignore[attr-defined]
    return made


def installed() -> bool:
    return bool(_originals)


def _current(name: str) -> object:
    """What the environment holds for ``name`` now, unrecorded (``*``: the names there are)."""
    with Hushed():
        if name == ALL_NAMES:
            return tuple(sorted(_environ))
        return _environ.get(name, NOT_FOUND)


register_resolver(OWNER, _current)


def install() -> None:
    """Record environment-variable reads and writes from now on (idempotent)."""
    if _originals:
        return
    originals = {name: _Environ.__dict__[name] for name in ("__getitem__", "__setitem__", "__delitem__", "__iter__", "__len__")}
    os_originals = {name: getattr(os, name) for name in ("putenv", "unsetenv") if hasattr(os, name)}
    inside = frozenset(originals[name].__code__ for name in ("__setitem__", "__delitem__"))
    methods = _make_methods(originals)
    functions = _make_os_functions(os_originals, inside)
    for name, method in methods.items():
        original = originals[name]
        method.__qualname__ = original.__qualname__
        method.__module__ = original.__module__
        method.__doc__ = original.__doc__
        method.__wrapped__ = original  # type: ignore[attr-defined]
    _originals.update(originals)
    _os_originals.update(os_originals)
    for name, method in methods.items():
        setattr(_Environ, name, method)
    for name, function in functions.items():
        setattr(os, name, function)


def uninstall() -> None:
    """Put ``os._Environ``'s methods and ``os.putenv``/``os.unsetenv`` back."""
    for name, original in _originals.items():
        setattr(_Environ, name, original)
    for name, original in _os_originals.items():
        if getattr(getattr(os, name, None), "__wrapped__", None) is original:
            setattr(os, name, original)
    _originals.clear()
    _os_originals.clear()
