"""Fingerprints of values: equal when what a computation could see of them is equal.

Structural, not pickle-first: a walk over the value that writes tagged,
length-prefixed tokens into a BLAKE2b digest, stable across processes (no
``hash()``, which str randomises).

- Atoms (None, bool, int, float, complex, str, bytes) by type and content.
- Containers (tuple, list, dict, set, frozenset, bytearray) by content, so a
  list mutated in place changes; dicts and sets ignore order, as their
  equality does.
- Code by what runs: bytecode, constants (nested code by its own
  fingerprint), names, variable names, flags, argument counts, exception
  table; never file, name or line numbers, so comments, blank lines and
  moved code keep the fingerprint.
- Functions of the program's own modules (:func:`is_project_module`) by code, defaults, keyword defaults and the
  contents of their closure cells; classes of those modules by their bases
  and attributes under the same rules.  Functions, classes and modules from
  elsewhere (the standard library, site-packages, C) by qualified name.
- Other objects: an object with ``__globalhook_fingerprint__()`` by what it
  returns; a plain instance (default pickling) by its class and its
  ``__dict__``/slots; anything else by its pickle.
- A value none of that works for (a lock, a socket, a generator, a C object
  that refuses pickling) is *opaque*: it counts by its type alone, and the
  caller is told (:attr:`Fingerprint.opaque`).  Lazy import objects (PEP 810)
  count by their type and are never reified.
- A value nested deeper than the walk goes (200 levels) gets a random digest
  (:attr:`Fingerprint.volatile`): it never counts as unchanged.

Each fingerprint also says whether the value is *immutable*: made only of
atoms, tuples, frozensets, code and things compared by name.  Then the
same object, found again, cannot have changed, and a cache hit need not walk
it again.
"""

from __future__ import annotations

import hashlib
import io as _io
import pickle
import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Dict, List, Optional, Tuple

__all__ = ["Fingerprint", "fingerprint", "code_digest", "is_project_module", "ABSENT"]

#: A name that is not bound (a missing global): fingerprinted as such.
ABSENT = type("Absent", (), {"__repr__": lambda self: "<absent>"})()

_HEAPTYPE = 1 << 9
_ATOMS = {type(None): "N", bool: "B", int: "I", float: "F", complex: "C", str: "S", bytes: "Y"}
_CodeType = types.CodeType
_FunctionType = types.FunctionType
_ModuleType = types.ModuleType
_BY_NAME_CALLABLES = (types.BuiltinFunctionType, types.WrapperDescriptorType, types.MethodDescriptorType,
                      types.ClassMethodDescriptorType, types.MethodWrapperType, types.GetSetDescriptorType,
                      types.MemberDescriptorType)
_CLASS_SKIP = frozenset(("__dict__", "__weakref__", "__module__", "__qualname__", "__doc__",
                         "__firstlineno__", "__static_attributes__"))
#: id(code) -> (code, digest): code objects never change; kept alive so that an id is never reused.
_code_cache: Dict[int, Tuple[_CodeType, bytes]] = {}
_MAX_DEPTH = 200


class Fingerprint:
    """The digest of one value, whether it is immutable, and the opaque types met inside it."""

    __slots__ = ("digest", "immutable", "opaque", "volatile")

    def __init__(self, digest: bytes, immutable: bool, opaque: Tuple[str, ...], volatile: bool = False) -> None:
        self.digest = digest
        self.immutable = immutable
        self.opaque = opaque
        #: True when part of the value could not be walked at all (nested too deeply): the
        #: digest is then random, so that the value never counts as unchanged.
        self.volatile = volatile

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fingerprint) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"<Fingerprint {self.digest.hex()[:16]}{' immutable' if self.immutable else ''}>"


def _qualified(obj: object) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return f"{module}:{qualname}"


_project: Dict[str, bool] = {}
_outside: List[str] = []


def is_project_module(name: object) -> bool:
    """Is ``name`` the program's own code (its functions and classes count by content)?

    Yes for a module whose file lies outside the interpreter's prefixes and
    any site-packages, and for ``__main__`` without a file (``-c``, a
    notebook); no for built-in and frozen modules.  Decided by files, never
    by whether the module is tracked, so every process agrees.
    """
    if not isinstance(name, str):
        return False
    found = _project.get(name)
    if found is None:
        found = _project[name] = _decide_project(name)
    return found


def _decide_project(name: str) -> bool:
    module = sys.modules.get(name)
    if module is None:
        return False
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        return name == "__main__"
    if not _outside:
        import os

        _outside.extend(sorted({os.path.realpath(p) + os.sep for p in
                                (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix) if p}))
    import os

    real = os.path.realpath(path)
    parts = real.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not any(real.startswith(prefix) for prefix in _outside)


class _Walker:
    __slots__ = ("out", "opaque", "immutable", "active", "by_content", "volatile")

    def __init__(self, by_content: Callable[[str], bool]) -> None:
        self.out: List[bytes] = []
        self.opaque: List[str] = []
        self.immutable = True
        self.active: Dict[int, int] = {}  # id -> depth, for cycles
        self.by_content = by_content
        self.volatile = False

    def token(self, tag: str, text: str = "") -> None:
        data = text.encode("utf-8", "surrogatepass")
        self.out.append(b"%s%d:%s" % (tag.encode(), len(data), data))

    def raw(self, tag: str, data: bytes) -> None:
        self.out.append(b"%s%d:%s" % (tag.encode(), len(data), data))

    def walk(self, value: object) -> None:
        cls = type(value)
        tag = _ATOMS.get(cls)
        if tag is not None:
            if cls is float:
                self.token(tag, value.hex())  # type: ignore[attr-defined]
            elif cls is bytes:
                self.raw(tag, value)  # type: ignore[arg-type]
            else:
                self.token(tag, str(value) if cls is not str else value)  # type: ignore[arg-type]
            return
        if value is ABSENT:
            self.token("A")
            return
        key = id(value)
        depth = self.active.get(key)
        if depth is not None:
            self.token("R", str(len(self.active) - depth))  # a cycle: how far back
            return
        if len(self.active) > _MAX_DEPTH:
            self.too_deep()
            return
        self.active[key] = len(self.active)
        try:
            self.walk_compound(cls, value)
        except RecursionError:
            self.too_deep()
        except Exception:  # a value's own attribute lookups, reductions...: it cannot be walked
            self.opaque_value(value, "cannot be walked")
        finally:
            del self.active[key]

    def too_deep(self) -> None:
        """Nested deeper than the walk goes: never equal to anything (the value is always recomputed)."""
        import os

        self.volatile = True
        self.immutable = False
        self.raw("!", os.urandom(16))

    def walk_compound(self, cls: type, value: object) -> None:
        if (cls is list or (cls is tuple and len(value) > 16)) and self.plain_data(value):  # type: ignore[arg-type]
            return
        if cls is tuple or cls is list:
            if cls is list:
                self.immutable = False
            self.token("T" if cls is tuple else "L", str(len(value)))  # type: ignore[arg-type]
            for item in value:  # type: ignore[attr-defined]
                self.walk(item)
        elif cls is dict:
            self.immutable = False
            self.unordered("D", [(k, v) for k, v in list(value.items())])  # type: ignore[attr-defined]
        elif cls is set or cls is frozenset:
            if cls is set:
                self.immutable = False
            self.unordered("Z" if cls is set else "z", list(value))  # type: ignore[arg-type]
        elif cls is bytearray:
            self.immutable = False
            self.raw("y", bytes(value))  # type: ignore[arg-type]
        elif cls is _CodeType:
            self.raw("K", code_digest(value))  # type: ignore[arg-type]
        elif isinstance(value, _ModuleType):
            self.token("M", str(getattr(value, "__name__", "?")))
        elif cls is _FunctionType:
            self.function(value)  # type: ignore[arg-type]
        elif cls is types.MethodType:
            self.immutable = False
            self.token("m")
            self.walk(value.__func__)  # type: ignore[attr-defined]
            self.walk(value.__self__)  # type: ignore[attr-defined]
        elif isinstance(value, type):
            self.klass(value)
        elif isinstance(value, _BY_NAME_CALLABLES):
            self.token("b", _qualified(value))
            owner = getattr(value, "__self__", None)  # a bound builtin method: its object counts
            if owner is not None and not isinstance(owner, _ModuleType):
                self.walk(owner)
        elif cls in (staticmethod, classmethod, property):
            self.immutable = False
            self.token("d", cls.__name__)
            for part in ("__func__", "fget", "fset", "fdel"):
                if hasattr(value, part):
                    self.walk(getattr(value, part))
        else:
            self.instance(cls, value)

    def plain_data(self, value: object) -> bool:
        """A list (or long tuple) of atoms and plain containers, at C speed: its pickle (no memo).

        The pickler refuses anything that would need a reduction (an
        instance, a function, a class, a subclass of an atom), so what is
        pickled is data only; for anything else the walk goes on item by item.
        Protocol 3 pickles sets through a reduction too, so they are refused
        as well (a set's pickle would follow its iteration order, which str
        hashing makes differ between processes).  Nested dicts keep their
        order in the pickle: one reordered is a (harmless) miss.
        """
        buffer = _io.BytesIO()
        pickler = _DataPickler(buffer, 3)
        pickler.fast = True  # no memo: equal values give equal bytes, however they share objects
        try:
            pickler.dump(value)
        except Exception:  # _NotData, a cycle (fast mode), too deep
            return False
        self.immutable = False
        self.raw("Q", hashlib.blake2b(buffer.getvalue(), digest_size=16).digest())
        return True

    def unordered(self, tag: str, items: list) -> None:
        """Items of a dict or set: fingerprinted one by one, then sorted, as equality ignores order."""
        parts = []
        for item in items:
            sub = _Walker(self.by_content)
            sub.active = self.active
            if isinstance(item, tuple) and len(item) == 2 and tag == "D":
                sub.walk(item[0])
                sub.walk(item[1])
            else:
                sub.walk(item)
            if not sub.immutable:
                self.immutable = False
            self.volatile = self.volatile or sub.volatile
            self.opaque.extend(sub.opaque)
            parts.append(b"".join(sub.out))
        parts.sort()
        self.token(tag, str(len(parts)))
        self.out.extend(parts)

    def function(self, func: types.FunctionType) -> None:
        if not self.by_content(func.__module__):
            self.token("f", _qualified(func))
            return
        self.immutable = False  # __code__, __defaults__ and cells can be rebound
        self.raw("F", code_digest(func.__code__))
        self.walk(func.__defaults__)
        self.walk(func.__kwdefaults__)
        closure = func.__closure__ or ()
        self.token("c", str(len(closure)))
        for cell in closure:
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                contents = ABSENT
            self.walk(contents)
        wrapped = func.__dict__.get("__wrapped__") if isinstance(getattr(func, "__dict__", None), dict) else None
        if wrapped is not None:
            self.walk(wrapped)

    def klass(self, cls: type) -> None:
        if not (cls.__flags__ & _HEAPTYPE) or not self.by_content(getattr(cls, "__module__", "")):
            self.token("t", _qualified(cls))
            return
        self.immutable = False
        self.token("X", _qualified(cls))
        self.token("x", str(len(cls.__bases__)))
        for base in cls.__bases__:
            self.walk(base)
        namespace = {k: v for k, v in list(vars(cls).items()) if k not in _CLASS_SKIP}
        self.unordered("D", list(namespace.items()))

    def instance(self, cls: type, value: object) -> None:
        self.immutable = False
        hook = getattr(cls, "__globalhook_fingerprint__", None)
        if hook is not None:
            self.token("H")
            self.walk(hook(value))
            return
        if type(value).__name__ in ("lazy_import", "LazyImportType"):  # PEP 810: never reified
            self.token("l", _qualified(cls))
            return
        plain_pickle = (cls.__reduce_ex__ is object.__reduce_ex__ and cls.__reduce__ is object.__reduce__
                        and getattr(cls, "__getstate__", None) in (None, getattr(object, "__getstate__", None)))
        state = getattr(value, "__dict__", None) if plain_pickle else None
        if plain_pickle and (isinstance(state, dict) or hasattr(cls, "__slots__")) and cls.__flags__ & _HEAPTYPE:
            self.token("O")
            self.walk(cls)
            self.walk(state if isinstance(state, dict) else None)
            for slot in _slot_names(cls):
                self.walk(getattr(value, slot, ABSENT))
            return
        try:
            data = pickle.dumps(value, protocol=4)
        except Exception:  # anything a value's own reduce raises: the value is opaque
            self.opaque_value(value, "cannot be pickled")
            return
        self.token("P", _qualified(cls))
        self.raw("p", hashlib.blake2b(data, digest_size=16).digest())

    def opaque_value(self, value: object, why: str) -> None:
        name = _qualified(type(value))
        self.opaque.append(name)
        self.token("?", name)


class _NotData(Exception):
    pass


class _DataPickler(pickle.Pickler):
    def reducer_override(self, obj: object) -> object:
        raise _NotData


def _slot_names(cls: type) -> List[str]:
    names: List[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        names.extend(s for s in slots if s not in ("__dict__", "__weakref__"))
    return names


def code_digest(code: _CodeType) -> bytes:
    """What runs: never the file, the name or line numbers."""
    found = _code_cache.get(id(code))
    if found is not None and found[0] is code:
        return found[1]
    walker = _Walker(lambda name: True)
    walker.token("a", "%d,%d,%d,%d" % (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount,
                                        code.co_flags))
    walker.raw("k", code.co_code)
    walker.token("n", "\0".join(code.co_names))
    walker.token("v", "\0".join(code.co_varnames))
    walker.token("e", "\0".join(code.co_freevars) + "\1" + "\0".join(code.co_cellvars))
    table = getattr(code, "co_exceptiontable", None)
    if table is not None:
        walker.raw("x", table)
    walker.token("o", str(len(code.co_consts)))
    for const in code.co_consts:
        if type(const) is _CodeType:
            walker.raw("K", code_digest(const))
        else:
            walker.walk(const)
    digest = hashlib.blake2b(b"".join(walker.out), digest_size=16).digest()
    _code_cache[id(code)] = (code, digest)
    return digest


def fingerprint(value: object, by_content: Optional[Callable[[str], bool]] = None) -> Fingerprint:
    """The fingerprint of ``value``.

    ``by_content(module name)`` says whether functions and classes of that
    module are fingerprinted by content; default: :func:`is_project_module`.
    """
    walker = _Walker(by_content or is_project_module)
    try:
        walker.walk(value)
    except RecursionError:
        walker.too_deep()
    digest = hashlib.blake2b(b"".join(walker.out), digest_size=16).digest()
    return Fingerprint(digest, walker.immutable, tuple(walker.opaque), walker.volatile)
