"""``globalhook.watch(obj, name=...)``: record reads of your own configuration object.

Frameworks globalhook knows get an adapter; any other configuration object
(a settings mapping, an attribute object) can be watched by hand::

    CONFIG = globalhook.watch({"TAX": 0.2}, name="shop.CONFIG")

Reads of its keys (``[]``, ``.get``, ``in``) or public attributes are then
recorded like environment variables: kind ``read`` (``write`` for a set or
delete), owner ``name``, charged to the innermost tracked function on the
stack, in the current context.  Names only, never values.

The object is watched in place, so every reference to it sees the same
object: its class is swapped for a subclass made once per class, with the
same name, module and layout, that records and then does what the class
does.  ``isinstance`` and pickling/``copy`` (which give back an object of
the original class, not watched) are unchanged; ``type(obj)`` is that
subclass.  A plain ``dict`` is swapped the way live modules are attached
(the compiled core, or ctypes), where that is possible.  Objects of other
built-in types (``types.SimpleNamespace``, ``MappingProxyType``) cannot
change class: :func:`watch` says so.
"""

from __future__ import annotations

import copyreg
import sys
from _collections_abc import Mapping  # collections.abc without importing collections

from .configreads import ALL_NAMES, name_label
from .tracking import count_config

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Dict, Tuple, TypeVar

    T = TypeVar("T")

__all__ = ["watch", "unwatch", "watched_name"]

_getframe = sys._getframe
_type = type
#: id(obj) -> (obj, owner label): kept alive while watched, so an id is never reused.
_watched: "Dict[int, Tuple[object, str]]" = {}
#: original class -> its watching subclass.
_subclasses: "Dict[type, type]" = {}


def _owner(obj: object) -> "str | None":
    found = _watched.get(id(obj))
    return found[1] if found is not None and found[0] is obj else None


_watched_get = _watched.get
_str = str


def _read(obj: object, key: object) -> None:
    found = _watched_get(id(obj))
    if found is not None and found[0] is obj:
        label = key if _type(key) is _str and key.isidentifier() else name_label(key)  # type: ignore[union-attr]
        count_config(False, found[1], label, _getframe(2))  # type: ignore[arg-type]


def _write(obj: object, key: object) -> None:
    found = _watched_get(id(obj))
    if found is not None and found[0] is obj:
        count_config(True, found[1], name_label(key), _getframe(2))  # type: ignore[arg-type]


def _reduce_as(base: type):
    """``__reduce_ex__`` that names ``base`` where the default names the watching subclass."""

    def __reduce_ex__(self, protocol):
        if base is dict:  # a plain dict, swapped: pickle and copy it as one
            return (dict, (dict(dict.items(self)),))  # dict.copy would call the recording keys()
        reduced = super(_type(self), self).__reduce_ex__(protocol)
        if isinstance(reduced, tuple) and len(reduced) >= 2 and isinstance(reduced[1], tuple) and reduced[1]:
            func, args = reduced[0], reduced[1]
            if args[0] is _type(self):
                # pickle refuses copyreg.__newobj__ for a class that is not obj.__class__:
                # the same call, spelled as base.__new__(base, ...).
                func = base.__new__ if func is copyreg.__newobj__ else func
                reduced = (func, (base, *args[1:]), *reduced[2:])
        return reduced

    return __reduce_ex__


def _dict_methods(base: type) -> dict:
    """A dict's C methods do not call ``__getitem__``: each records for itself."""
    getitem, get, contains = base.__getitem__, base.get, base.__contains__
    setitem, delitem, setdefault, pop = base.__setitem__, base.__delitem__, base.setdefault, base.pop
    iterate, keys = base.__iter__, base.keys

    def __getitem__(self, key):
        _read(self, key)
        return getitem(self, key)

    def get_(self, key, default=None):
        _read(self, key)
        return get(self, key, default)

    def __contains__(self, key):
        _read(self, key)
        return contains(self, key)

    def __setitem__(self, key, value):
        setitem(self, key, value)
        _write(self, key)

    def __delitem__(self, key):
        delitem(self, key)
        _write(self, key)

    def setdefault_(self, key, default=None):
        _read(self, key)
        if not contains(self, key):
            _write(self, key)
        return setdefault(self, key, default)

    def pop_(self, key, *default):
        _read(self, key)
        had = contains(self, key)
        value = pop(self, key, *default)
        if had:
            _write(self, key)
        return value

    def __iter__(self):
        _read(self, ALL_NAMES)
        return iterate(self)

    def keys_(self):
        _read(self, ALL_NAMES)
        return keys(self)

    get_.__name__, setdefault_.__name__, pop_.__name__, keys_.__name__ = "get", "setdefault", "pop", "keys"
    return {
        "__getitem__": __getitem__, "get": get_, "__contains__": __contains__, "__setitem__": __setitem__,
        "__delitem__": __delitem__, "setdefault": setdefault_, "pop": pop_, "__iter__": __iter__, "keys": keys_,
    }


def _mapping_methods(base: type) -> dict:
    """Any other mapping: its ``get``, ``in``... go through ``__getitem__``."""
    getitem = base.__getitem__
    found = {"__getitem__": None}

    def __getitem__(self, key):
        _read(self, key)
        return getitem(self, key)

    found["__getitem__"] = __getitem__
    if hasattr(base, "__setitem__"):
        setitem = base.__setitem__

        def __setitem__(self, key, value):
            setitem(self, key, value)
            _write(self, key)

        found["__setitem__"] = __setitem__
    if hasattr(base, "__delitem__"):
        delitem = base.__delitem__

        def __delitem__(self, key):
            delitem(self, key)
            _write(self, key)

        found["__delitem__"] = __delitem__
    if hasattr(base, "__iter__"):
        iterate = base.__iter__

        def __iter__(self):
            _read(self, ALL_NAMES)
            return iterate(self)

        found["__iter__"] = __iter__
    return found


_ROUTINES = (type(len), type(object().__str__), type(sys._getframe), type(lambda: None))


def _attribute_methods(base: type) -> dict:
    """Public attributes (no leading ``_``) that are not methods."""
    getattribute, setattr_, delattr_ = base.__getattribute__, base.__setattr__, base.__delattr__
    bound = type(_read.__get__(0))

    def __getattribute__(self, name):
        value = getattribute(self, name)
        if _type(name) is str and name[:1] != "_" and not isinstance(value, bound) and _type(value) not in _ROUTINES:
            _read(self, name)
        return value

    def __setattr__(self, name, value):
        setattr_(self, name, value)
        if _type(name) is str and name[:1] != "_":
            _write(self, name)

    def __delattr__(self, name):
        delattr_(self, name)
        if _type(name) is str and name[:1] != "_":
            _write(self, name)

    return {"__getattribute__": __getattribute__, "__setattr__": __setattr__, "__delattr__": __delattr__}


def _subclass(base: type) -> type:
    """The watching subclass of ``base`` (made once): same name, module and layout."""
    found = _subclasses.get(base)
    if found is not None:
        return found
    if issubclass(base, dict):
        methods = _dict_methods(base)
    elif issubclass(base, Mapping) or (hasattr(base, "__getitem__") and hasattr(base, "keys")):
        methods = _mapping_methods(base)
    else:
        methods = _attribute_methods(base)
    for name, method in methods.items():
        original = getattr(base, name, None)
        method.__qualname__ = f"{base.__qualname__}.{name}"
        method.__doc__ = getattr(original, "__doc__", None)
        method.__wrapped__ = original  # type: ignore[attr-defined]
    namespace = {"__slots__": (), "__module__": base.__module__, "__qualname__": base.__qualname__,
                 "__reduce_ex__": _reduce_as(base), **methods}
    made = _type(base)(base.__name__, (base,), namespace)
    return _subclasses.setdefault(base, made)


def watch(obj: "T", name: str) -> "T":
    """Record reads of ``obj``'s keys (a mapping) or public attributes under owner ``name``; returns ``obj``.

    Raises TypeError for an object whose class cannot be swapped (most
    built-in types) and ValueError for an empty name or an object watched
    under another name.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("watch(): name must be a non-empty string such as 'myapp.CONFIG'")
    current = _owner(obj)
    if current is not None:
        if current != name:
            raise ValueError(f"watch(): this object is already watched as {current!r}")
        return obj
    base = _type(obj)
    if base in _subclasses.values():
        raise ValueError("watch(): this object is a copy of a watched one; watch it under its own name")
    try:
        watching = _subclass(base)
    except Exception as exc:  # a metaclass or __init_subclass__ that refuses a subclass made this way
        raise TypeError(f"watch(): cannot watch a {base.__module__}.{base.__qualname__} ({type(exc).__name__}: {exc})") from None
    if base is dict:
        _swap_dict(obj, watching)  # type: ignore[arg-type]
    else:
        try:
            obj.__class__ = watching  # type: ignore[assignment]
        except TypeError as exc:
            raise TypeError(f"watch(): cannot watch a {base.__module__}.{base.__qualname__} in place ({exc})") from None
    _watched[id(obj)] = (obj, name)
    return obj


def _swap_dict(obj: dict, watching: type) -> None:
    from . import live

    problem = live.retype_problem()
    if problem is not None:
        raise TypeError(f"watch(): cannot watch a plain dict here ({problem}); watch an object of your own class")
    try:
        live.retype_dict(obj, watching)
    except (TypeError, ValueError, live.AttachError) as exc:
        raise TypeError(f"watch(): cannot watch this dict in place ({exc})") from None


def unwatch(obj: object) -> None:
    """Stop recording ``obj``'s reads; it gets its original class back."""
    found = _watched.pop(id(obj), None)
    if found is None or found[0] is not obj:
        return
    watching = _type(obj)
    base = watching.__mro__[1]
    if base is dict:
        from . import live

        live.unretype_dict(obj, watching)
    else:
        obj.__class__ = base


def watched_name(obj: object) -> "str | None":
    """The owner label ``obj`` is watched under, or None."""
    return _owner(obj)
