"""Class bodies: the module globals a class body reads.

A class body looks a name up with ``LOAD_NAME`` (``LOAD_FROM_DICT_OR_GLOBALS``
in 3.12+ annotation scopes): first in the class namespace (the mapping the
metaclass's ``__prepare__`` returned), then in the module globals with a
direct dict read that no dict subclass sees, then in the builtins.  So the
namespace is where a read of a global can be seen: as a miss.

While tracking is on, ``builtins.__build_class__`` is replaced (:func:`install`).
For a class whose body runs with a tracked module's globals, the replacement
calls the original with ``metaclass=<shim>``: the original then skips its own
metaclass calculation (the shim is not a type), asks ``shim.__prepare__`` for
the namespace, runs the body in it, and calls ``shim(name, bases, ns, **kw)``.
The shim computes the real metaclass exactly as CPython does, calls the real
``__prepare__``, and, for the body's duration only, retypes the namespace in
place so that a miss can be counted:

- an exact ``dict`` (the usual case) gets a dict subtype with the same layout
  (the compiled core's static type; here, with ``ctypes``, a Python subclass
  with ``__slots__ = ()``);
- an instance of a Python class (enum's ``EnumDict``, user dict subclasses)
  gets ``__class__`` = a cached subclass with ``__slots__ = ()`` whose
  ``__getitem__`` counts the misses of its base's own lookup;
- anything else (``OrderedDict``, mappings written in C) is left alone and
  unobserved (:mod:`globalhook.limits` says so).

Before the real metaclass is called the namespace is exactly what
``__prepare__`` returned again, and it is restored when the original returns,
whatever happened.  A miss is counted only when it comes from a name-loading
instruction of the class body itself (not a closure variable's
``LOAD_CLASSDEREF``, not ``ns[name]``, not other code), as ``global`` when
the module globals hold the name, else ``builtin`` or ``missing``, for the
body's code object (its function name is the class's qualified name) and the
module whose globals were read.

Classes whose body runs with untracked globals are handed to the original
untouched.  The compiled core does all of this in C (``_ctracking.class_bodies``)
except the retyping of Python-class namespaces, which is done here for both.
"""

from __future__ import annotations

import builtins
import sys
from abc import ABCMeta

from . import tracking
from .tracking import BUILTIN, GLOBAL, MISSING, TrackingDict, _first, _load_sites, _sites

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from types import CodeType
    from typing import Any, Callable, Dict, Optional

__all__ = ["install", "uninstall", "installed", "unobservable_reason"]

_FunctionType = type(lambda: None)
_type = type
_id = id
_dict_get = dict.get
_dict_getitem = dict.__getitem__
_getframe = sys._getframe
_set_class = object.__dict__["__class__"].__set__
_subclasscheck = type.__subclasscheck__
_super = super
_MISSING = object()
_ABSENT = object()
_HEAPTYPE = 1 << 9
#: Cached observing subclasses of namespace classes: at most this many (dynamic classes must not pile up).
_CACHE_LIMIT = 64
#: Metaclasses of namespace classes whose subclassing runs no code of the program.
_PLAIN_METACLASSES = (type, ABCMeta)

#: The ``__build_class__`` that was there before install(), and ours.
_original: "Optional[Callable[..., Any]]" = None
_replacement: "Optional[Callable[..., Any]]" = None
#: id(namespace) -> the class body code running in it, for namespaces this module retyped.
_bodies: "Dict[int, CodeType]" = {}
#: namespace class -> its observing subclass (None: cannot be observed).
_observed_types: "Dict[type, Optional[type]]" = {}


def unobservable_reason(core: "Optional[str]" = None) -> "Optional[str]":
    """Why class bodies cannot be observed with ``core`` on this interpreter, or None."""
    core = core or tracking.CORE
    if sys.implementation.name != "cpython":
        return f"needs CPython, not {sys.implementation.name}"
    if core == "c":
        try:
            from . import _ctracking
        except ImportError:  # pragma: no cover - CORE says "c" only when it imports
            return "the compiled core is not built"
        if not getattr(_ctracking, "CLASS_BODIES", 0):
            return "this build of the compiled core reads frames through the public API only (GH_PUBLIC_FRAMES)"
    return None


def installed() -> bool:
    return _replacement is not None and builtins.__build_class__ is _replacement


def install() -> bool:
    """Put our ``__build_class__`` in builtins (idempotent); False when this Python cannot observe class bodies."""
    global _original, _replacement
    if installed():
        return True
    if _replacement is not None and builtins.__build_class__ is not _original:
        return True  # something installed after ours wraps it, and still calls it
    if unobservable_reason() is not None:
        return False
    current = builtins.__build_class__
    if tracking.CORE == "c":
        from . import _ctracking

        replacement = _ctracking.class_bodies(current, _observe, _restore, _implicit_module_read)
    else:
        replacement = _build_class
    _original, _replacement = current, replacement
    builtins.__build_class__ = replacement
    return True


def uninstall() -> None:
    """Give builtins back the ``__build_class__`` install() found (unless someone replaced ours since)."""
    global _original, _replacement
    if installed():
        builtins.__build_class__ = _original
        _original = _replacement = None
    # Otherwise ours stays reachable through whatever replaced it: it keeps forwarding.


# -- counting a miss (both cores, for namespaces retyped here) ------------------


def _miss(namespace: object, name: object, frame) -> None:
    """Count a miss in a retyped namespace when the class body itself loads ``name``."""
    code = _bodies.get(_id(namespace))
    if code is None or frame.f_code is not code:
        return
    globals_ = frame.f_globals
    if not isinstance(globals_, TrackingDict):
        return
    sites = _sites.get(_id(code))
    if sites is None:
        sites = _load_sites(code)
    if frame.f_lasti not in sites or (name == "__name__" and frame.f_lasti == _implicit_module_read(code)):
        return
    if _dict_get(globals_, name, _MISSING) is not _MISSING:  # the direct read CPython makes
        kind = GLOBAL
    else:
        builtins_ = frame.f_builtins
        if isinstance(builtins_, dict):
            kind = BUILTIN if _dict_get(builtins_, name, _MISSING) is not _MISSING else MISSING
        else:  # CPython asks it; we cannot without running its code
            kind = BUILTIN
    _first(kind, code, name, globals_)


def _implicit_module_read(code: "CodeType") -> int:
    """Where a class body reads ``__name__`` to set ``__module__`` (-1: nowhere).

    The compiler starts every class body with ``__module__ = __name__``; that
    read is not the program's, and would list ``__name__`` for every class
    (on the ``class`` line, which names no ``__name__``).  It is the body's
    first name load, of ``co_names[0]``, with ``__module__`` as
    ``co_names[1]``.  A ``__name__`` the body reads itself is counted.
    """
    if code.co_names[:2] != ("__name__", "__module__"):
        return -1
    sites = _load_sites(code)
    if not sites:
        return -1
    first = min(sites)
    if tracking._OPCODES is None:  # pragma: no cover - other implementations
        import dis

        loads = [i for i in dis.get_instructions(code) if i.opname in tracking._LOAD_OPS]
        return loads[0].offset if loads and loads[0].arg == 0 else -1
    raw = code.co_code
    if raw[first] == tracking._OPCODES[1] or raw[first + 1] != 0:  # EXTENDED_ARG, or not co_names[0]
        return -1
    return first


class _ObservedDict(dict):
    """What an exact dict namespace is while its class body runs (pure-Python core)."""

    __slots__ = ()

    def __getitem__(self, name):
        try:
            return _dict_getitem(self, name)
        except KeyError as error:
            try:
                frame = _getframe(1)
            except ValueError:  # pragma: no cover - called from C with no Python frame
                frame = None
            if frame is not None:
                _miss(self, name, frame)
            error.__traceback__ = None  # as if dict had raised it (3.11+: a bare raise adds no entry)
            raise


# repr(type(ns)) in a body stays "<class 'dict'>"; pickling an instance names dict.
_ObservedDict.__name__ = _ObservedDict.__qualname__ = "dict"
_ObservedDict.__module__ = "builtins"


def _observing_subclass(cls: type) -> "Optional[type]":
    """A subclass of a namespace class that counts misses, or None when making one could run its code
    (a metaclass or an ``__init_subclass__`` of the program's)."""
    if cls in _observed_types:
        return _observed_types[cls]
    found = None
    if cls.__flags__ & _HEAPTYPE and _type(cls) in _PLAIN_METACLASSES and not any(
        "__init_subclass__" in vars(klass) for klass in cls.__mro__ if klass is not object
    ):

        def __getitem__(self, name):
            try:
                return _super(observed, self).__getitem__(name)
            except KeyError as error:
                try:
                    frame = _getframe(1)
                except ValueError:  # pragma: no cover
                    frame = None
                if frame is not None:
                    _miss(self, name, frame)
                error.__traceback__ = None
                raise

        attributes = {
            "__slots__": (),
            "__getitem__": __getitem__,
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
        }
        try:
            observed = found = type(cls.__name__, (cls,), attributes)
        except TypeError:  # a class that cannot be subclassed
            found = None
    if len(_observed_types) >= _CACHE_LIMIT:
        _observed_types.clear()
    _observed_types[cls] = found
    return found


def _observe(namespace: object, code: "CodeType") -> object:
    """Retype ``namespace`` for its class body's duration; what :func:`_restore` needs, or None (left alone)."""
    key = _id(namespace)
    if key in _bodies or isinstance(namespace, TrackingDict):
        return None  # already observed by an enclosing class creation, or a tracked module's own namespace
    cls = _type(namespace)
    if cls is dict:
        retype = _retyper()
        if retype is None:
            return None
        _bodies[key] = code
        retype(namespace, dict, _ObservedDict)
        return dict
    observed = _observing_subclass(cls)
    if observed is None:
        return None
    try:
        _set_class(namespace, observed)
    except TypeError:  # an immutable type, or layouts that differ
        return None
    _bodies[key] = code
    return cls


def _restore(namespace: object, token: object) -> None:
    """Make ``namespace`` exactly what ``__prepare__`` returned again."""
    if token is dict:
        _retyper()(namespace, _ObservedDict, dict)  # type: ignore[misc]
    else:
        _set_class(namespace, token)
    _bodies.pop(_id(namespace), None)


_retype_function: "Optional[Callable[[object, type, type], None]]" = None
_retype_made = False
_mapping_check: "Optional[Callable[[object], int]]" = None
_tp_name_at: "Optional[Callable[[type], str]]" = None


def _retyper() -> "Optional[Callable[[object, type, type], None]]":
    """Sets an object's ``ob_type`` with ctypes (pure-Python core; made on first use: ctypes loads then)."""
    global _retype_function, _retype_made, _mapping_check, _tp_name_at
    if _retype_made:
        return _retype_function
    _retype_made = True
    try:
        import ctypes
    except ImportError:  # pragma: no cover - a CPython built without ctypes
        return None
    pointer = ctypes.sizeof(ctypes.c_void_p)
    offset = object.__basicsize__ - pointer  # ob_type ends the object header
    sample: dict = {}
    if ctypes.c_void_p.from_address(_id(sample) + offset).value != _id(dict):  # pragma: no cover
        return None
    if _ObservedDict.__basicsize__ != dict.__basicsize__ or _ObservedDict.__itemsize__ != dict.__itemsize__:
        return None  # pragma: no cover
    incref = ctypes.pythonapi.Py_IncRef
    decref = ctypes.pythonapi.Py_DecRef
    incref.argtypes = decref.argtypes = [ctypes.py_object]
    incref.restype = decref.restype = None
    check = ctypes.pythonapi.PyMapping_Check
    check.argtypes = [ctypes.py_object]
    check.restype = ctypes.c_int
    tp_name_offset = object.__basicsize__ + ctypes.sizeof(ctypes.c_ssize_t)  # after ob_size

    def retype(obj: object, old: type, new: type) -> None:
        slot = ctypes.c_void_p.from_address(_id(obj) + offset)
        if slot.value != _id(old):  # pragma: no cover - only ever called on what we made
            raise SystemError("globalhook: a class namespace changed type while its body ran")
        incref(new)  # an instance of a heap type holds a reference to it
        slot.value = _id(new)
        decref(old)

    def tp_name(cls: type) -> str:
        raw = ctypes.c_char_p.from_address(_id(cls) + tp_name_offset).value
        return raw.decode("utf-8", "replace") if raw else cls.__name__

    _retype_function, _mapping_check, _tp_name_at = retype, check, tp_name
    return retype


# -- the pure-Python core's __build_class__ ------------------------------------------


def _is_mapping(obj: object) -> bool:
    """CPython's PyMapping_Check (the test ``__build_class__`` makes of a namespace)."""
    if isinstance(obj, dict):
        return True
    _retyper()
    if _mapping_check is not None:
        return bool(_mapping_check(obj))
    return hasattr(_type(obj), "__getitem__")  # pragma: no cover - no ctypes


def _tp_name(cls: type) -> str:
    _retyper()
    return _tp_name_at(cls) if _tp_name_at is not None else cls.__name__


def _calculate_metaclass(meta: type, bases: tuple) -> type:
    """CPython's _PyType_CalculateMetaclass: the most derived metaclass, or the conflict error."""
    winner = meta
    for base in bases:
        candidate = _type(base)
        if _subclasscheck(candidate, winner):
            continue
        if _subclasscheck(winner, candidate):
            winner = candidate
            continue
        raise TypeError(
            "metaclass conflict: the metaclass of a derived class must be a (non-strict) "
            "subclass of the metaclasses of all its bases"
        )
    return winner


class _Shim:
    """The ``metaclass=`` given to the original ``__build_class__`` for one tracked class."""

    __slots__ = ("explicit", "code", "meta", "namespace", "token")

    def __init__(self, explicit: object, code: "CodeType") -> None:
        self.explicit = explicit
        self.code = code
        self.meta = None
        self.namespace = None
        self.token = None

    def __prepare__(self, name, bases, /, **kwds):
        meta = self.explicit
        if meta is _ABSENT:
            meta = _type(bases[0]) if bases else type
            is_class = True
        else:
            is_class = _subclasscheck(type, _type(meta))
        if is_class:
            meta = _calculate_metaclass(meta, bases)
        try:
            prepare = meta.__prepare__
        except AttributeError:
            namespace: object = {}
        else:
            namespace = prepare(name, bases, **kwds)
        if not _is_mapping(namespace):
            raise TypeError(
                "%.200s.__prepare__() must return a mapping, not %.200s"
                % (_tp_name(meta) if is_class else "<metaclass>", _tp_name(_type(namespace)))
            )
        self.meta = meta
        self.namespace = namespace
        self.token = _observe(namespace, self.code)
        return namespace

    def __call__(self, name, bases, namespace, /, **kwds):
        self.restore()
        return self.meta(name, bases, namespace, **kwds)

    def restore(self) -> None:
        token = self.token
        if token is not None:
            self.token = None
            _restore(self.namespace, token)


def _build_class(*args, **kwds):
    """``builtins.__build_class__`` while tracking is on (pure-Python core)."""
    func = args[0] if args else None
    if len(args) < 2 or _type(func) is not _FunctionType or not isinstance(func.__globals__, TrackingDict):
        try:
            return _original(*args, **kwds)  # type: ignore[misc]
        except BaseException as error:
            _hide_own_frames(error)
            raise
    shim = _Shim(kwds.pop("metaclass", _ABSENT), func.__code__)
    try:
        cls = _original(*args, metaclass=shim, **kwds)  # type: ignore[misc]
    except BaseException as error:
        shim.restore()
        _hide_own_frames(error)
        raise
    shim.restore()
    return cls


# Named as the builtin, so that it pickles by reference and reads alike; only its type and repr differ.
_build_class.__name__ = _build_class.__qualname__ = "__build_class__"
_build_class.__module__ = "builtins"
_build_class.__doc__ = builtins.__build_class__.__doc__

_OWN_CODES = frozenset(
    _id(code)
    for code in (_build_class.__code__, _Shim.__prepare__.__code__, _Shim.__call__.__code__, _calculate_metaclass.__code__)
)


def _hide_own_frames(error: BaseException) -> None:
    """Drop this module's frames from a traceback (a bare ``raise`` then adds none, from 3.11)."""
    entries = []
    entry = error.__traceback__
    while entry is not None:
        entries.append(entry)
        entry = entry.tb_next
    following = None  # each entry, ours too, is linked to the next one not ours
    for entry in reversed(entries):
        if entry.tb_next is not following:
            entry.tb_next = following
        if _id(entry.tb_frame.f_code) not in _OWN_CODES:
            following = entry
    # Before 3.11 a bare raise re-raises with the traceback it caught, whose
    # first entry is __build_class__'s own: that one stays.
    error.__traceback__ = following
