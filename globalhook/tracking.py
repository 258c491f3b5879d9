"""The tracking dict and the recorder: the hot path.

A tracked module is born with a :class:`TrackingDict` as its one and only
``__dict__``, so every function defined in it has that dict as
``__globals__``.  Because the dict is not an exact ``dict``, CPython's
``LOAD_GLOBAL`` and module-level ``LOAD_NAME`` go through
``PyObject_GetItem`` and so through :meth:`TrackingDict.__getitem__`, which
attributes the lookup to the code object that made it (the caller's frame).

Counts live in per-kind tables keyed by ``(id(code), name)``: code objects
compare and hash by value (two identical functions in different files are
equal, and hashing one walks its bytecode), so identity is both right and
cheaper.  The slow path keeps each code object alive, so ids are never reused.  Each value is an
:func:`itertools.count`; ``next()`` on it is a single C call, so counts stay
exact when many threads look names up at once, with no lock on the hot path.
Memory grows with the number of distinct (code, name) pairs, never with the
number of lookups.  Only names and counts are kept, never values.
"""

from __future__ import annotations

import dis
import os
import sys
import threading
from itertools import count as _count
from types import CodeType, FunctionType
from typing import Dict, FrozenSet, Iterator, List, Optional, Tuple

__all__ = ["TrackingDict", "Recorder", "RECORDER", "KINDS", "CORE", "is_tracking_dict"]

#: Kinds of lookup, in report order.  New kinds are added at the end.
KINDS = ("global", "builtin", "missing", "store", "delete")
GLOBAL, BUILTIN, MISSING, STORE, DELETE = range(len(KINDS))

_Table = Dict[object, "_count"]

# Per kind: id(code) -> {name: counter}.  Module globals (an exact dict, so
# the hot path's own global reads stay specialised).  Inner tables are made
# once per code object, for every kind at once, and are never replaced: the
# compiled core caches them on the code object itself.
_global_counts: Dict[int, _Table] = {}
_builtin_counts: Dict[int, _Table] = {}
_missing_counts: Dict[int, _Table] = {}
_store_counts: Dict[int, _Table] = {}
_delete_counts: Dict[int, _Table] = {}
_TABLES = (_global_counts, _builtin_counts, _missing_counts, _store_counts, _delete_counts)

#: (code id, name) -> name of the module whose dict was read, noted on first sight.
_owners: Dict[Tuple[int, object], Optional[str]] = {}
#: code id -> code object, so that ids stay unique while they are keys.
_codes: Dict[int, CodeType] = {}
#: code id -> the inner tables of every kind, in KINDS order.
_code_tables_by_id: Dict[int, Tuple[_Table, ...]] = {}
#: code id -> offsets of the instructions that load a name (see _load_sites).
_sites: Dict[int, FrozenSet[int]] = {}

_MISSING = object()
#: Makes the counters: itertools.count, or the compiled core's Tally (same repr).
_new_counter = _count
_getframe = sys._getframe
_id = id
_next = next
_type = type
_dict_getitem = dict.__getitem__
_dict_setitem = dict.__setitem__
_dict_delitem = dict.__delitem__
_dict_get = dict.get

_LOAD_OPS = frozenset(("LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"))


def _code_tables(code: CodeType) -> Tuple[_Table, ...]:
    """Slow path, once per code object: the inner tables of every kind."""
    found = _code_tables_by_id.get(_id(code))
    if found is None:
        _codes.setdefault(_id(code), code)
        made = tuple(table.setdefault(_id(code), {}) for table in _TABLES)
        found = _code_tables_by_id.setdefault(_id(code), made)
    return found


def _first(kind: int, code: CodeType, name: object, namespace: dict) -> None:
    """Slow path, once per (code, name, kind): create the counter and count one."""
    _next(_code_tables(code)[kind].setdefault(name, _new_counter()))
    key = (_id(code), name)
    if key not in _owners:
        _owners.setdefault(key, _dict_get(namespace, "__name__"))


def _load_sites(code: CodeType) -> FrozenSet[int]:
    """Offsets at which ``code`` loads a name (and the EXTENDED_ARGs before them).

    A failed lookup made by one of these instructions would go on to the
    frame's builtins; one made anywhere else (``globals()[name]``) must
    raise ``KeyError``.  Knowing which lets the hot path hand back the
    builtin itself instead of raising and catching an exception.
    """
    found = _sites.get(_id(code))
    if found is None:
        offsets = set()
        prefix: List[int] = []
        for instruction in dis.get_instructions(code):
            if instruction.opname == "EXTENDED_ARG":
                prefix.append(instruction.offset)
                continue
            if instruction.opname in _LOAD_OPS:
                offsets.add(instruction.offset)
                offsets.update(prefix)
            prefix = []
        _codes.setdefault(_id(code), code)
        found = _sites.setdefault(_id(code), frozenset(offsets))
    return found


def _builtin_of(builtins: object, name: object) -> object:
    """The builtin ``name`` names in a builtins namespace that is not an exact dict.

    A dict subclass is read as a plain dict; any other mapping is asked by
    CPython itself, so the name counts as a builtin without running its code.
    """
    return _dict_get(builtins, name, _MISSING) if isinstance(builtins, dict) else None


class _PyTrackingDict(dict):
    """The pure-Python core: a module namespace that records every lookup.

    ``__slots__ = ()`` keeps the instance layout identical to ``dict``; the
    native module strategy depends on that to put one in a module's
    ``md_dict`` slot.
    """

    __slots__ = ()

    def __getitem__(self, name):
        value = _dict_get(self, name, _MISSING)
        try:
            frame = _getframe(1)
        except ValueError:  # called from C with no Python frame: nothing to attribute
            return _dict_getitem(self, name)
        if value is not _MISSING:
            try:
                _next(_global_counts[_id(frame.f_code)][name])
            except KeyError:
                _first(GLOBAL, frame.f_code, name, self)
            return value
        # Not a global: a builtin or a missing name.  CPython would now try
        # the builtins itself; for its own name-loading instructions we do
        # it here, which is the same lookup without an exception.
        code = frame.f_code
        builtins = frame.f_builtins
        exact = _type(builtins) is dict
        value = _dict_get(builtins, name, _MISSING) if exact else _builtin_of(builtins, name)
        if value is _MISSING:
            try:
                _next(_missing_counts[_id(code)][name])
            except KeyError:
                _first(MISSING, code, name, self)
            raise KeyError(name)
        try:
            _next(_builtin_counts[_id(code)][name])
        except KeyError:
            _first(BUILTIN, code, name, self)
        if exact and frame.f_globals is self:
            sites = _sites.get(_id(code))
            if sites is None:
                sites = _load_sites(code)
            if frame.f_lasti in sites:
                return value
        raise KeyError(name)

    def __setitem__(self, name, value):
        _dict_setitem(self, name, value)
        try:
            code = _getframe(1).f_code
        except ValueError:
            return
        try:
            _next(_store_counts[_id(code)][name])
        except KeyError:
            _first(STORE, code, name, self)

    def __delitem__(self, name):
        _dict_delitem(self, name)
        try:
            code = _getframe(1).f_code
        except ValueError:
            return
        try:
            _next(_delete_counts[_id(code)][name])
        except KeyError:
            _first(DELETE, code, name, self)


#: The version of the C core's interface this file expects (GH_API in _ctracking.c).
_C_API = 3
#: The CPythons the compiled core knows (_ctracking.c stops the build on others).
C_VERSIONS = ((3, 9), (3, 14))


def _c_core_expected() -> bool:
    """Should the compiled core be there?  (A CPython the core knows; free-threaded from 3.14t.)"""
    if sys.implementation.name != "cpython" or not C_VERSIONS[0] <= sys.version_info[:2] <= C_VERSIONS[1]:
        return False
    free_threaded = "free-threading" in sys.version  # not sysconfig: the runner imports little
    return not (free_threaded and sys.version_info[:2] < (3, 14))


def _select_core() -> Tuple[str, type, Optional[str], str]:
    """Pick the compiled core when it is built, unless GLOBALHOOK_CORE says otherwise.

    Returns (core, base class, problem, reason); ``problem`` is a one-line
    message when the environment asked for something that cannot be had,
    ``reason`` says in a few words why this core is the one in use.
    """
    wanted = os.environ.get("GLOBALHOOK_CORE", "").strip().lower() or "auto"
    if wanted not in ("auto", "c", "python"):
        problem = f"GLOBALHOOK_CORE: expected 'auto', 'c' or 'python', got {wanted!r}"
        return "python", _PyTrackingDict, problem, problem
    if wanted == "python":
        return "python", _PyTrackingDict, None, "GLOBALHOOK_CORE=python asked for it"
    try:
        from globalhook import _ctracking
    except ImportError as error:
        if _c_core_expected():
            reason = (
                f"the compiled core is not built for this Python ({error}); reinstall globalhook "
                "with a C compiler at hand (pip install -v shows why its build failed)"
            )
        elif sys.implementation.name == "cpython" and "free-threading" in sys.version and sys.version_info < (3, 14):
            reason = "the compiled core needs free-threaded CPython 3.14t or newer"
        else:
            known = "{}.{}-{}.{}".format(*C_VERSIONS[0], *C_VERSIONS[1])
            reason = (
                f"the compiled core knows CPython {known}, not {sys.implementation.name} "
                f"{sys.version_info[0]}.{sys.version_info[1]}"
            )
        problem = f"GLOBALHOOK_CORE=c: {reason}" if wanted == "c" else None
        return "python", _PyTrackingDict, problem, reason
    if getattr(_ctracking, "API", None) != _C_API:
        # A stale build left next to newer sources: never mix the two.
        reason = "the compiled core is out of date; reinstall globalhook"
        problem = f"GLOBALHOOK_CORE=c: {reason}" if wanted == "c" else None
        return "python", _PyTrackingDict, problem, reason
    global _new_counter
    _ctracking.setup(_code_tables, _first, _load_sites)
    _new_counter = _ctracking.Tally
    asked = "GLOBALHOOK_CORE=c asked for it" if wanted == "c" else "built for this Python"
    return "c", _ctracking.TrackingDictBase, None, f"{asked}; reads {_ctracking.FRAMES}"


#: "c" when the compiled accelerator is in use, else "python"; CORE_REASON says why.
CORE, _Base, CORE_PROBLEM, CORE_REASON = _select_core()
#: One line for ``globalhook run`` to show: the pure-Python core where the compiled one should be.
CORE_WARNING: Optional[str] = (
    f"running on the pure-Python core, several times slower: {CORE_REASON} "
    "(GLOBALHOOK_CORE=python silences this)"
    if CORE == "python" and CORE_PROBLEM is None
    and os.environ.get("GLOBALHOOK_CORE", "").strip().lower() != "python" and _c_core_expected()
    else None
)


class TrackingDict(_Base):  # type: ignore[valid-type,misc]
    """A module namespace that records every lookup CPython routes through it.

    Because it is not an exact ``dict``, ``LOAD_GLOBAL`` and module-level
    ``LOAD_NAME`` call its ``__getitem__`` (from :class:`_PyTrackingDict` or
    the compiled core), which counts the lookup for the calling code object.
    """

    __slots__ = ()

    def __reduce_ex__(self, protocol):
        # Pickle and copy like the plain dict a module namespace would be.
        return (dict, (dict(self),))


def is_tracking_dict(obj: object) -> bool:
    return isinstance(obj, TrackingDict)


def _counter_value(counter: "_count") -> int:
    # repr(count(n)) is 'count(n)'; reading it does not advance the counter.
    return int(repr(counter)[6:-1])


class Recorder:
    """The process-wide view of the tables: snapshots, qualified names, notes.

    There is one recorder per process (:data:`RECORDER`), because the hot path
    writes to module-level tables.
    """

    def __init__(self) -> None:
        #: id(code) -> (code, qualified name); the code is kept so the id stays its own.
        self._qualnames: Dict[int, Tuple[CodeType, str]] = {}
        self._by_file: Dict[str, Dict[Tuple[int, str], str]] = {}
        self._lock = threading.Lock()
        #: module name -> reason it matched the patterns but is not tracked.
        self.not_tracked: Dict[str, str] = {}

    # -- attribution -------------------------------------------------------

    def register_code(self, code: CodeType) -> None:
        """Remember qualified names for a module's code tree (needed before 3.11).

        Python < 3.11 code objects carry only ``co_name``.  Code compiled by
        globalhook itself (the ``__main__`` it runs) is registered exactly;
        any other code is looked up in its source file when first reported.
        """
        if hasattr(code, "co_qualname"):
            return
        with self._lock:
            for each, qualname in _code_tree(code):
                self._qualnames[id(each)] = (each, qualname)

    def qualname(self, code: CodeType) -> str:
        qualname = getattr(code, "co_qualname", None)
        if qualname:
            return qualname
        known = self._qualnames.get(id(code))
        if known is not None and known[0] is code:
            return known[1]
        return self._file_qualnames(code.co_filename).get((code.co_firstlineno, code.co_name), code.co_name)

    def _file_qualnames(self, filename: str) -> Dict[Tuple[int, str], str]:
        """(first line, name) -> qualified name for every code object of a source file."""
        found = self._by_file.get(filename)
        if found is None:
            found = {}
            try:
                with open(filename, "rb") as source:
                    tree = compile(source.read(), filename, "exec", dont_inherit=True)
            except (OSError, SyntaxError, ValueError):
                pass  # gone, changed or not Python: fall back to co_name
            else:
                for each, qualname in _code_tree(tree):
                    found.setdefault((each.co_firstlineno, each.co_name), qualname)
            self._by_file[filename] = found
        return found

    # -- reading -----------------------------------------------------------

    def entries(self) -> Iterator[Tuple[str, CodeType, object, int, Optional[str]]]:
        """Yield (kind, code, name, count, module) for everything recorded so far."""
        for kind, table in zip(KINDS, _TABLES):
            for code_id, inner in list(table.items()):
                for name, counter in list(inner.items()):
                    yield kind, _codes[code_id], name, _counter_value(counter), _owners.get((code_id, name))

    def lookups(self) -> List[dict]:
        """The recorded lookups as data-file entries (names and counts only)."""
        result = []
        for kind, code, name, count, module in self.entries():
            if count <= 0:
                continue
            result.append(
                {
                    "module": module if isinstance(module, str) else "<unknown>",
                    "function": self.qualname(code),
                    "file": code.co_filename,
                    "line": code.co_firstlineno,
                    "name": name if isinstance(name, str) else repr(name),
                    "kind": kind,
                    "count": count,
                }
            )
        result.sort(key=lambda e: (e["module"], e["file"], e["line"], e["function"], e["name"], e["kind"]))
        return result

    def reads(self, func: FunctionType) -> Dict[str, int]:
        """Names read by one function's own code (globals, builtins, missing)."""
        code = getattr(func, "__code__", func)
        result: Dict[str, int] = {}
        for kind, entry_code, name, count, _ in self.entries():
            if entry_code is code and kind in ("global", "builtin", "missing") and isinstance(name, str):
                result[name] = result.get(name, 0) + count
        return result

    def total(self) -> int:
        return sum(entry[3] for entry in self.entries())

    # -- lifecycle ---------------------------------------------------------

    def forget_file(self, filename: str) -> None:
        """Drop what code from one file recorded (globalhook's own probes)."""
        # Inner tables are emptied in place, never removed: the compiled core
        # caches them on the code objects.
        for table in _TABLES:
            for code_id, inner in list(table.items()):
                if _codes[code_id].co_filename == filename:
                    for name in list(inner):
                        inner.pop(name, None)
                        _owners.pop((code_id, name), None)

    def clear(self) -> None:
        """Forget every count (a forked child starts empty), keep names known."""
        for table in _TABLES:
            for inner in list(table.values()):
                inner.clear()
        _owners.clear()


def _code_tree(code: CodeType) -> Iterator[Tuple[CodeType, str]]:
    """Every code object under a module's code, with its qualified name.

    CPython's rules: children of a function get ``.<locals>.``, children of a
    class body get ``Class.``; a class body stores its own ``__qualname__``.
    """
    yield code, code.co_name
    stack: List[Tuple[CodeType, Optional[str], bool]] = [(code, None, False)]
    while stack:
        parent, parent_qualname, in_function = stack.pop()
        for const in parent.co_consts:
            if not isinstance(const, CodeType):
                continue
            is_class = _is_class_body(const)
            if is_class and const.co_consts and isinstance(const.co_consts[0], str):
                qualname = const.co_consts[0]
            elif parent_qualname is None:
                qualname = const.co_name
            elif in_function:
                qualname = f"{parent_qualname}.<locals>.{const.co_name}"
            else:
                qualname = f"{parent_qualname}.{const.co_name}"
            yield const, qualname
            stack.append((const, qualname, not is_class))


def _is_class_body(code: CodeType) -> bool:
    names = code.co_names
    return "__module__" in names and "__qualname__" in names and code.co_argcount == 0 and not (
        code.co_flags & 0x20  # CO_GENERATOR
    )


RECORDER = Recorder()
