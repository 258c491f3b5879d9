"""``@globalhook.cache``: reuse a result until something the computation read changes.

A result is reused when the arguments are equal by value and every
(module, name) the earlier computation read, through every tracked function
it called, still has the same fingerprint (:mod:`globalhook.fingerprint`).
The read set comes from the recorder (:mod:`globalhook.readsets`), so it is
what ran, not what the source mentions: a name on a branch not taken is no
dependency, a helper three modules deep is.

Nothing needs setting up: the first call attaches the decorated function's
module and the project's modules already imported (files under the folder
of the function's module, outside environments and site-packages), and
installs the import hook for the project's modules imported later (unless
one is installed already, as under ``globalhook run``).  Code that stays
untracked (the standard library, site-packages, unless ``track`` names it)
is assumed not to change while it runs; what it is handed is still part of
the fingerprints.

A hit revalidates without rehashing what cannot have changed: a value that
is immutable (numbers, strings, tuples of them, modules, code, library
functions) and is still the very object read is unchanged; anything else
(lists, dicts, instances, classes, functions of the project) is
fingerprinted again.
"""

from __future__ import annotations

import builtins
import functools
import os
import sys
import types
import warnings
from _thread import allocate_lock

from .fingerprint import ABSENT, fingerprint
from .globalwrites import namespace_version as _namespace_version
from .globalwrites import watch as _watch_namespace
from . import envreads as _envreads  # noqa: F401  (its resolver: what an environment variable holds now)
from .configreads import NOT_FOUND as _CONFIG_NOT_FOUND
from .configreads import current_value as _config_value
from .readsets import CollectError, ReadSet, collect, collecting, note_reads
from .tracking import CONFIG_OWNERS

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ["CacheWarning", "CachedFunction", "Dependencies", "Explanation", "cache", "changed_reads",
           "dependencies", "fingerprint_reads"]


class CacheWarning(UserWarning):
    """Something a cache had to decide for a value or an argument (once per name)."""


_warned: set = set()
_warn_lock = allocate_lock()


def _warn_once(key: object, message: str) -> None:
    with _warn_lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(message, CacheWarning, stacklevel=4)


# -- tracking what a call needs ---------------------------------------------------------

_setup_lock = allocate_lock()


def _tracking_problem(func: Callable, track: Sequence[str] = ()) -> Optional[str]:
    """Make ``func``'s module and the project's modules tracked; why that failed, or None."""
    from .finder import install, installed_hook
    from .live import AttachError, attach, attach_dict
    from .modules import StrategyError
    from .tracking import TrackingDict

    with _setup_lock:
        namespace = getattr(func, "__globals__", None)
        name = func.__module__ if isinstance(getattr(func, "__module__", None), str) else "<unknown>"
        if not isinstance(namespace, dict):
            return f"{func!r} has no module namespace"
        if not isinstance(namespace, TrackingDict):
            module = sys.modules.get(name)
            try:
                if module is not None and module.__dict__ is namespace:
                    attach(module)
                else:
                    attach_dict(namespace, name)
            except AttachError as exc:
                return str(exc)
        if installed_hook() is None:
            module = sys.modules.get(name)
            path = getattr(module, "__file__", None)
            root = os.path.dirname(os.path.abspath(path)) if isinstance(path, str) else os.getcwd()
            try:
                install(root=root)  # attaches the project's modules imported already
            except (StrategyError, RuntimeError) as exc:
                return f"globalhook: cannot install the import hook: {exc}"
        for wanted in track:
            for module_name, module in list(sys.modules.items()):
                if module is not None and (module_name == wanted or module_name.startswith(wanted + ".")):
                    try:
                        attach(module)
                    except AttachError as exc:
                        _warn_once(("track", module_name), str(exc))
        return None


# -- resolving and checking what was read -------------------------------------------------

_builtins_get = builtins.__dict__.get
_dict_get = dict.get
#: A kept value for mutable fingerprints: never the object found again.
_NOT_KEPT = object()


def _config_now(owner: str, name: str) -> object:
    """What a configuration read (an environment variable, a setting) finds now.

    ABSENT when nothing; _UNKNOWN when that cannot be told (Flask's config
    of one app among many, a pydantic field of one instance, a watched
    object): such a read always counts as changed, so the call is
    recomputed rather than served stale.
    """
    try:
        value = _config_value(owner, name)
    except LookupError:
        return _UNKNOWN
    return ABSENT if value is _CONFIG_NOT_FOUND else value


#: A configuration read whose current value cannot be told: never unchanged.
_UNKNOWN = object()


def _found_now(owner: str, name: str, known: Optional[Dict[str, dict]] = None) -> Tuple[Optional[dict], object]:
    """``(namespace, value)``: what a read of ``owner.name`` finds now.

    A configuration read has no namespace, and its value may be _UNKNOWN
    (see :func:`_config_now`); a module that is not imported has no
    namespace and the value ABSENT.
    """
    if owner in CONFIG_OWNERS:
        return None, _config_now(owner, name)
    namespace = _namespace_of(owner, known)
    return namespace, (_resolve(namespace, name) if namespace is not None else ABSENT)


def _resolve(namespace: Optional[dict], name: str) -> object:
    """What a name load of ``name`` in ``namespace`` finds now (ABSENT when nothing)."""
    value = _dict_get(namespace, name, ABSENT)  # dict.get: not a recorded read
    if value is ABSENT:
        value = _builtins_get(name, ABSENT)
    return value


def _namespace_of(owner: str, known: Optional[Dict[str, dict]] = None) -> Optional[dict]:
    if known is not None:
        namespace = known.get(owner)
        if namespace is not None:
            return namespace
    module = sys.modules.get(owner)
    namespace = getattr(module, "__dict__", None)
    return namespace if isinstance(namespace, dict) else None


def _qualified_name(func: Callable) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', getattr(func, '__name__', '?'))}"


def _quick_state(value: object) -> Optional[tuple]:
    """For a function: (function, code, defaults), unchanged while those are the same objects.

    A function's fingerprint is its code, defaults, keyword defaults, closure
    and ``__wrapped__``.  With no closure (cells can be rebound), no keyword
    defaults, an empty ``__dict__`` and immutable defaults, the same code and
    defaults objects mean the same fingerprint: a hit need not walk it.
    """
    if isinstance(value, CachedFunction):
        value = value._func
    if type(value) is not types.FunctionType or value.__closure__ is not None or value.__kwdefaults__ is not None:
        return None
    if value.__dict__ or not fingerprint(value.__defaults__).immutable:
        return None
    return (value, value.__code__, value.__defaults__)


def _same_state(state: tuple) -> bool:
    func = state[0]
    return (func.__code__ is state[1] and func.__defaults__ is state[2] and func.__kwdefaults__ is None
            and not func.__dict__)


class _Check:
    """One read to revalidate: where it lives, the value kept when immutable, its digest.

    ``value`` is the object read when its fingerprint is immutable (found
    again, it is unchanged); ``quick`` the state of a function that is
    unchanged while its code and defaults are the same objects.
    """

    __slots__ = ("owner", "name", "namespace", "value", "digest", "quick")

    def __init__(self, owner: str, name: str, namespace: Optional[dict], value: object, digest: bytes,
                 quick: Optional[tuple] = None) -> None:
        self.owner = owner
        self.name = name
        self.namespace = namespace
        self.value = value
        self.digest = digest
        self.quick = quick

    def changed(self) -> bool:
        if self.namespace is not None:
            value = _resolve(self.namespace, self.name)
        else:
            self.namespace, value = _found_now(self.owner, self.name)
            if value is _UNKNOWN or (self.namespace is None and self.owner not in CONFIG_OWNERS):
                return True  # cannot tell (its module is not imported here, or see _config_now): recompute
        if value is self.value:
            if self.quick is None or _same_state(self.quick):
                return False
        return fingerprint(value).digest != self.digest


def _checks_now(reads: Iterable[Tuple[str, str]], namespaces: Dict[str, dict], reader: str) -> List[_Check]:
    """A check for every read, fingerprinting the values as they are now."""
    checks = []
    for owner, name in sorted(reads):
        namespace, value = _found_now(owner, name, namespaces)
        if value is _UNKNOWN:  # never unchanged (see _config_now)
            checks.append(_Check(owner, name, None, _NOT_KEPT, os.urandom(16)))
            continue
        found = fingerprint(value)
        if found.opaque:
            _warn_once(
                ("opaque", owner, name),
                f"globalhook.cache: {reader} read {owner}.{name}, which holds a {found.opaque[0]} "
                "that cannot be fingerprinted: it counts as unchanged while its type stays the same",
            )
        quick = None if found.immutable else _quick_state(value)
        kept = value if found.immutable or quick is not None else _NOT_KEPT
        checks.append(_Check(owner, name, namespace, kept, found.digest, quick))
    return checks


def _first_changed(checks: List[_Check]) -> Optional[_Check]:
    for check in checks:
        if check.changed():
            return check
    return None


# -- the cache -----------------------------------------------------------------------------

#: Arguments that are their own key: equal only to values of the same type (not bool: True == 1).
_SIMPLE_ARGS = frozenset((int, str, bytes, type(None)))


class _Entry:
    """A result and the checks that keep it valid.

    ``fixed`` holds (namespace, name, object) for every read whose value was
    immutable: the hit path's common case, a dict lookup and an identity test
    each; only when one differs, or for the ``others``, is anything walked.
    """

    __slots__ = ("result", "checks", "reads", "namespaces", "fixed", "states", "others", "version")

    def __init__(self, result: object, checks: List[_Check], namespaces: Dict[str, dict]) -> None:
        self.result = result
        self.checks = checks
        self.reads = [(check.owner, check.name) for check in checks]
        self.namespaces = namespaces
        fast = [check for check in checks if check.namespace is not None and check.value is not _NOT_KEPT]
        self.fixed = [(check.namespace, check.name, check.value) for check in fast]
        #: functions among them: (function, code, defaults) to find the same again
        self.states = [check.quick for check in fast if check.quick is not None]
        self.others = [check for check in checks if check.namespace is None or check.value is _NOT_KEPT]
        #: namespace_version() when the fixed reads were last found unchanged (None: unknown).
        self.version: Optional[int] = None
        if self.fixed:
            watched = {id(ns): ns for ns, _, _ in self.fixed}
            watched[id(builtins.__dict__)] = builtins.__dict__  # names not found in a namespace are looked up there
            for namespace in watched.values():
                _watch_namespace(namespace)  # tracking namespaces are watched already; builtins and others now

    def valid(self) -> bool:
        version = _namespace_version()
        if version is None or version != self.version:
            get = _dict_get
            for namespace, name, value in self.fixed:
                found = get(namespace, name, ABSENT)
                if found is ABSENT:
                    found = _builtins_get(name, ABSENT)
                if found is not value:
                    return _first_changed(self.checks) is None  # maybe rebound to an equal value
            self.version = version  # read before the checks: a write since bumps it again
        for func, code, defaults in self.states:
            if func.__code__ is not code or func.__defaults__ is not defaults or func.__kwdefaults__ is not None \
                    or func.__dict__:
                return _first_changed(self.checks) is None
        for check in self.others:
            if check.changed():
                return False
        return True


class Explanation:
    """Why the next call with some arguments would hit or miss.

    ``hit``: it would reuse a result; ``changed``: the reads that changed
    (``"settings.FACTOR"``); ``reason``: one line (also ``str()``).
    """

    __slots__ = ("hit", "changed", "reason")

    def __init__(self, hit: bool, reason: str, changed: Sequence[str] = ()) -> None:
        self.hit = hit
        self.reason = reason
        self.changed = list(changed)

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"<Explanation hit={self.hit} {self.reason!r}>"


class CachedFunction:
    """A function whose results are reused until its arguments or its reads change."""

    def __init__(self, func: Callable, store: Optional[str] = None, track: Sequence[str] = (),
                 maxsize: Optional[int] = None) -> None:
        functools.update_wrapper(self, func)
        self._func = func
        self._name = _qualified_name(func)
        self._track = tuple(track)
        self._entries: Dict[object, _Entry] = {}
        self._maxsize = maxsize
        self._problem: Optional[str] = None
        self._ready = False
        self._code_state: Optional[tuple] = None
        self._code = ""
        self._lock = allocate_lock()
        self._store = None
        if store is not None:
            from .cachestore import DiskStore

            self._store = DiskStore(os.fspath(store), self._name)

    def __globalhook_fingerprint__(self) -> Callable:
        """What a computation that reads this global depends on: the function it caches."""
        return self._func

    def __get__(self, instance: object, owner: Optional[type] = None) -> Any:
        return self if instance is None else types.MethodType(self, instance)

    def __repr__(self) -> str:
        return f"<globalhook.cache of {self._name}>"

    # -- keys --------------------------------------------------------------

    def _setup(self) -> None:
        if not self._ready:
            self._problem = _tracking_problem(self._func, self._track)
            self._ready = True
            if self._problem is not None:
                _warn_once(("setup", self._name), f"globalhook.cache: {self._name} runs uncached: {self._problem}")

    def _current_code(self) -> str:
        """The digest of the function itself (code, defaults, closure); entries of another are dropped."""
        func = self._func
        state = self._code_state
        if state is not None and _same_state(state):
            return self._code
        code = fingerprint(func).digest.hex()
        if code != self._code:
            with self._lock:
                self._entries.clear()
            self._code = code
        self._code_state = _quick_state(func)
        return code

    def _key(self, args: tuple, kwargs: dict) -> Tuple[object, Optional[str]]:
        """(memory key, argument digest or None): the key is None for arguments that cannot be fingerprinted."""
        if not kwargs:
            for arg in args:
                if type(arg) not in _SIMPLE_ARGS:
                    break
            else:
                return args, None
        found = fingerprint((args, tuple(sorted(kwargs.items()))))
        if found.opaque or found.volatile:
            what = found.opaque[0] if found.opaque else "value nested too deeply"
            _warn_once(
                ("argument", self._name, what),
                f"globalhook.cache: {self._name} was given a {what}, which cannot be "
                "fingerprinted: calls with it run uncached",
            )
            return None, None
        return found.digest, found.digest.hex()

    @staticmethod
    def _disk_key(args: tuple, kwargs: dict, digest: Optional[str]) -> str:
        return digest if digest is not None else fingerprint((args, tuple(sorted(kwargs.items())))).digest.hex()

    # -- calls -------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._ready:
            self._setup()
        if self._problem is not None:
            return self._func(*args, **kwargs)
        code = self._current_code()
        key, digest = self._key(args, kwargs)
        if key is None:
            return self._func(*args, **kwargs)
        entry = self._entries.get(key)
        if entry is not None and entry.valid():
            if self._maxsize is not None:
                self._keep(key, entry)
            if collecting():
                note_reads(entry.reads, entry.namespaces)
            return entry.result
        store = self._store
        if store is not None:
            digest = self._disk_key(args, kwargs, digest)
            loaded = store.load(code, digest)
            if loaded is not None:
                deps, result = loaded
                checks = [_Check(owner, name, None, _NOT_KEPT, bytes.fromhex(value)) for owner, name, value in deps]
                if _first_changed(checks) is None:
                    entry = _Entry(result, _checks_now(((c.owner, c.name) for c in checks), {}, self._name), {})
                    self._keep(key, entry)
                    if collecting():
                        note_reads(entry.reads)
                    return result
        return self._compute(key, code, digest, args, kwargs)

    def _compute(self, key: object, code: str, digest: Optional[str], args: tuple, kwargs: dict) -> Any:
        try:
            collection = collect()
            reads = collection.__enter__()
        except CollectError as exc:
            _warn_once(("collect", self._name), f"globalhook.cache: {self._name} runs uncached here: {exc}")
            return self._func(*args, **kwargs)
        try:
            result = self._func(*args, **kwargs)
        finally:
            collection.__exit__(None, None, None)
        entry = _Entry(result, _checks_now(reads.reads, reads.namespaces, self._name), reads.namespaces)
        self._keep(key, entry)
        store = self._store
        if store is not None:
            deps = [(check.owner, check.name, check.digest.hex()) for check in entry.checks]
            try:
                store.save(code, self._disk_key(args, kwargs, digest), deps, result)
            except OSError as exc:
                _warn_once(("store", self._name, str(exc)),
                           f"globalhook.cache: {self._name}: cannot write to {store.root}: {exc}")
            except Exception as exc:  # the result's own pickling failed: kept in memory only
                _warn_once(("pickle", self._name),
                           f"globalhook.cache: {self._name}: the result cannot be stored on disk "
                           f"({type(exc).__name__}: {exc}); it is cached in memory only")
        return result

    def _keep(self, key: object, entry: _Entry) -> None:
        """Remember ``entry`` as the most recent; past ``maxsize``, forget the least recently used."""
        entries = self._entries
        maxsize = self._maxsize
        if maxsize is None:
            entries[key] = entry
            return
        with self._lock:
            entries.pop(key, None)  # re-inserted last: dicts keep insertion order
            if maxsize > 0:
                entries[key] = entry
            for old in list(entries)[: max(len(entries) - maxsize, 0)]:
                del entries[old]

    # -- public helpers ------------------------------------------------------

    def cache_explain(self, *args: Any, **kwargs: Any) -> Explanation:
        """Why the next call with these arguments would hit or miss (nothing is computed)."""
        if not self._ready:
            self._setup()
        if self._problem is not None:
            return Explanation(False, f"runs uncached: {self._problem}")
        code = self._current_code()
        key, digest = self._key(args, kwargs)
        if key is None:
            return Explanation(False, "runs uncached: an argument cannot be fingerprinted")
        entry = self._entries.get(key)
        where = "in memory"
        checks = entry.checks if entry is not None else None
        store = self._store
        if checks is None and store is not None:
            digest = self._disk_key(args, kwargs, digest)
            loaded = store.load_header(code, digest)
            if loaded is not None:
                checks = [_Check(owner, name, None, _NOT_KEPT, bytes.fromhex(value)) for owner, name, value in loaded[0]]
                where = "on disk"
            elif store.other_codes(code, digest):
                return Explanation(False, f"miss: the code of {self._name} changed since it was computed")
        if checks is None:
            return Explanation(False, "miss: never computed")
        changed = [f"{check.owner}.{check.name}" for check in checks if check.changed()]
        if changed:
            return Explanation(False, f"miss: changed since it was computed: {', '.join(changed)}", changed)
        return Explanation(True, f"hit ({where}): none of the {len(checks)} names it read changed")

    def cache_clear(self) -> None:
        """Forget every result, in memory and in the store."""
        with self._lock:
            self._entries.clear()
        if self._store is not None:
            self._store.clear()


def cache(func: Optional[Callable] = None, *, store: Optional[str] = None, track: Sequence[str] = (),
          maxsize: Optional[int] = None) -> Any:
    """``@cache`` or ``@cache(store=DIR, track=[...], maxsize=N)``: reuse results while nothing they read changed.

    ``store``: a folder that keeps results across processes.  ``track``:
    names of imported packages outside the project (site-packages) whose
    code should count as well.  ``maxsize``: how many results to keep in
    memory, the least recently used forgotten first (None: no limit, as
    ``functools.cache``; the store on disk is not limited by it).
    """
    if maxsize is not None and (isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 0):
        raise TypeError(f"globalhook.cache: maxsize must be None or an int >= 0, not {maxsize!r}")
    if func is None:
        return lambda f: cache(f, store=store, track=track, maxsize=maxsize)
    if not callable(func):
        raise TypeError(f"globalhook.cache: expected a function, got {type(func).__name__}")
    flags = getattr(getattr(func, "__code__", None), "co_flags", 0)
    if flags & (0x20 | 0x80 | 0x200):  # CO_GENERATOR, CO_COROUTINE, CO_ASYNC_GENERATOR
        raise TypeError(f"globalhook.cache: {_qualified_name(func)} returns a generator or coroutine, "
                        "which runs once: cache a function that returns the values")
    return CachedFunction(func, store, track, maxsize)


# -- building blocks for other caches ----------------------------------------------------


class Dependencies:
    """What one call read: ``result``, ``reads`` (``"owner.name"``, sorted) and their fingerprints.

    ``state()`` is JSON-able (names to hex digests) and can be kept beside any
    cache's entry; :func:`changed_reads` tells later, in any process, which
    of those names changed.
    """

    __slots__ = ("result", "read_set", "_state")

    def __init__(self, result: object, read_set: ReadSet, state: Dict[str, str]) -> None:
        self.result = result
        self.read_set = read_set
        self._state = state

    @property
    def reads(self) -> List[str]:
        return sorted(self._state)

    def state(self) -> Dict[str, str]:
        """``{"owner.name": fingerprint digest}`` of every read, as the values were at the end of the call."""
        return dict(self._state)

    def fingerprint(self) -> str:
        """One digest of the read set's values now: equal as long as nothing read changed."""
        return fingerprint_reads(self._state)

    def changed(self) -> List[str]:
        return changed_reads(self._state)

    def __repr__(self) -> str:
        return f"<Dependencies {self.reads}>"


def dependencies(func: Callable, *args: Any, **kwargs: Any) -> Dependencies:
    """Call ``func(*args, **kwargs)`` and return what it read (and its result).

    The function itself counts as a read of its module's global when it is
    one.  Tracks what it needs, as :func:`cache` does; raises
    :class:`RuntimeError` when that is impossible here.
    """
    target = getattr(func, "__wrapped__", func) if isinstance(func, CachedFunction) else func
    problem = _tracking_problem(target)
    if problem is not None:
        raise RuntimeError(problem)
    try:
        with collect() as read_set:
            result = func(*args, **kwargs)
    except CollectError as exc:
        raise RuntimeError(f"globalhook.dependencies: {exc}") from None
    reads = dict(read_set.reads)
    owner, name = getattr(target, "__module__", None), getattr(target, "__name__", None)
    if isinstance(owner, str) and isinstance(name, str):
        value = _dict_get(_namespace_of(owner, read_set.namespaces) or {}, name)
        if value is target or getattr(value, "__wrapped__", None) is target:
            reads[(owner, name)] = reads.get((owner, name), 0) + 1
    checks = _checks_now(reads, read_set.namespaces, _qualified_name(target))
    state = {f"{check.owner}.{check.name}": check.digest.hex() for check in checks}
    return Dependencies(result, read_set, state)


def _split(key: str) -> Tuple[str, str]:
    owner, _, name = key.rpartition(".")
    return owner, name


def changed_reads(state: Dict[str, str]) -> List[str]:
    """Names of a :meth:`Dependencies.state` whose values changed since (a module not imported counts)."""
    changed = []
    for key, digest in sorted(state.items()):
        owner, name = _split(key)
        try:
            expected = bytes.fromhex(digest)
        except (TypeError, ValueError):
            changed.append(key)
            continue
        if _Check(owner, name, None, _NOT_KEPT, expected).changed():
            changed.append(key)
    return changed


def fingerprint_reads(names: Iterable[str]) -> str:
    """One hex digest of the current values of ``"owner.name"`` reads (a module not imported counts as absent)."""
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    for key in sorted(names):
        _, value = _found_now(*_split(key))
        if value is _UNKNOWN:
            value = os.urandom(16)  # cannot be told: a digest that matches no other
        digest.update(key.encode("utf-8", "surrogatepass") + b"=" + fingerprint(value).digest)
    return digest.hexdigest()
