"""Module objects whose one and only ``__dict__`` is a :class:`TrackingDict`.

Two strategies:

``native``
    A genuine :class:`types.ModuleType` instance (exactly that type, so that
    code dispatching on ``type(module)``, such as picklers' dispatch tables,
    treats it like any module) whose ``md_dict``
    pointer is replaced, right after creation and before any code runs, by a
    tracking dict.  With the compiled core, the core swaps it (the slot named
    by ``ModuleType.__dictoffset__``, checked to hold the module's dict; no
    ctypes); with the pure-Python core, ctypes finds it by scanning the object
    for the address of its current ``__dict__`` (cross-checked with
    ``ModuleType.__dictoffset__``).  Never a hard-coded offset.  The result
    is a real module: ``isinstance``, ``__class__`` assignment to another
    module subclass, PEP 562, weak references and C code that calls
    ``PyModule_Check`` all keep working.  Guarded by a start-up probe.

``proxy``
    A plain object that claims ``__class__ = ModuleType`` and carries a
    tracking dict as its instance ``__dict__``.  Portable (no ctypes, no
    compiled code), but not a real module type: C code that checks
    ``PyModule_Check`` rejects it.
"""

from __future__ import annotations

import sys
import types

from .globalwrites import watch as _watch_writes
from .tracking import RECORDER, AttributeModule, TrackingDict

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Dict, Optional, Tuple

    ModuleFactory = Callable[[str], types.ModuleType]

__all__ = [
    "STRATEGIES",
    "LoggingModule",
    "ProxyModule",
    "StrategyError",
    "new_native_module",
    "new_proxy_module",
    "probe",
    "select_strategy",
    "use_factory",
    "factory_in_use",
]

STRATEGIES = ("native", "proxy")


class StrategyError(RuntimeError):
    """No strategy can track lookups on this interpreter."""


#: The type of native tracked modules when attribute reads are not recorded:
#: plain :class:`types.ModuleType`.  With attribute reads recorded (the
#: default) it is :data:`AttributeModule`, registered with cloudpickle and
#: dill when they are imported (see :mod:`globalhook.picklers`).
LoggingModule = types.ModuleType


# -- native ------------------------------------------------------------------

_swap: Optional[Callable[[types.ModuleType, dict], None]] = None


def _make_swapper() -> Callable[[types.ModuleType, dict], None]:
    """The function that puts a tracking dict in a fresh module's ``md_dict`` slot.

    With the compiled core, the core does it (exact types checked, the slot
    found through ``ModuleType.__dictoffset__`` and cross-checked with the
    module's dict, reference counts right on every build, free-threaded
    included), so the runner never imports ctypes.  The pure-Python core uses
    ctypes.
    """
    from . import tracking

    if tracking.CORE == "c":
        from ._ctracking import set_module_dict

        return set_module_dict
    return _make_ctypes_swapper()


def _make_ctypes_swapper() -> Callable[[types.ModuleType, dict], None]:
    import ctypes

    incref = ctypes.pythonapi.Py_IncRef
    decref = ctypes.pythonapi.Py_DecRef
    incref.argtypes = decref.argtypes = [ctypes.py_object]
    incref.restype = decref.restype = None
    pointer_size = ctypes.sizeof(ctypes.c_void_p)
    if TrackingDict.__basicsize__ != dict.__basicsize__:
        raise StrategyError("TrackingDict does not have the layout of dict")

    sample = types.ModuleType("globalhook-probe")
    slots = types.ModuleType.__basicsize__ // pointer_size
    words = (ctypes.c_void_p * slots).from_address(id(sample))
    found = [i for i in range(slots) if words[i] == id(sample.__dict__)]
    if len(found) != 1:
        raise StrategyError(f"module dict pointer not found by scanning ({len(found)} candidates)")
    index = found[0]
    offset = getattr(types.ModuleType, "__dictoffset__", None)
    if offset is not None and offset != index * pointer_size:
        raise StrategyError(f"module dict pointer at {index * pointer_size}, __dictoffset__ says {offset}")

    def swap(module: types.ModuleType, new: dict) -> None:
        old = module.__dict__
        slot = (ctypes.c_void_p * slots).from_address(id(module))
        if slot[index] != id(old):  # pragma: no cover - the probe guards this
            raise StrategyError("module layout changed")
        incref(new)
        slot[index] = id(new)
        decref(old)

    return swap


def new_native_module(name: str) -> types.ModuleType:
    """A real module named ``name`` with a fresh tracking namespace, whose attribute reads are recorded.

    Of :data:`AttributeModule` (see the module docstring), not exactly
    ``types.ModuleType``.
    """
    module = AttributeModule(name)
    namespace = TrackingDict(module.__dict__)
    _swap(module, namespace)  # type: ignore[misc]
    _watch_writes(namespace)
    return module


def new_plain_native_module(name: str) -> types.ModuleType:
    """A real module (exactly ``types.ModuleType``) with a fresh tracking namespace: attributes not recorded."""
    module = types.ModuleType(name)
    namespace = TrackingDict(module.__dict__)
    _swap(module, namespace)  # type: ignore[misc]
    _watch_writes(namespace)
    return module


# -- proxy -------------------------------------------------------------------


_set_real_class = object.__dict__["__class__"].__set__
_object_getattribute = object.__getattribute__


class _NamespaceHook:
    """``ProxyModule.__getattr__`` / ``__dir__``: the namespace's own hook (PEP 562).

    A descriptor, not a method: CPython looks ``__getattr__`` up on the type,
    calls ``__get__`` (which returns at once) and then calls what it got with
    the attribute name.  So a module's ``__getattr__`` is called straight
    from its caller's frame, as for a real module (``stacklevel=2`` warnings,
    ``sys._getframe(1)``), with no frame of globalhook's in between.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        namespace = _object_getattribute(instance, "__dict__")
        hook = dict.get(namespace, self.name)
        if hook is not None:
            return hook
        if self.name == "__dir__":
            return namespace.keys
        # A plain module with the same name and spec raises the same
        # AttributeError a real module would, from C.
        twin = types.ModuleType("")
        twin_namespace = twin.__dict__
        twin_namespace.clear()
        for key in ("__name__", "__spec__"):
            if key in namespace:
                twin_namespace[key] = dict.get(namespace, key)
        return twin.__getattribute__


class ProxyModule:
    """Stands in for a module where the native strategy cannot be used.

    It answers ``isinstance(m, ModuleType)`` through ``__class__``, hands
    PEP 562 ``__getattr__``/``__dir__`` of the namespace to CPython, and
    emulates ``sys.modules[__name__].__class__ = SomeModuleSubclass`` by
    switching to a proxy class that mirrors the subclass (see :func:`_proxy_class`).
    """

    __module_class__ = types.ModuleType

    def __init__(self, name: str, doc: Optional[str] = None) -> None:
        namespace = TrackingDict(types.ModuleType(name, doc).__dict__)
        object.__setattr__(self, "__dict__", namespace)
        _watch_writes(namespace)

    @property  # type: ignore[misc]
    def __class__(self):  # noqa: D401 - mimic a module
        return type(self).__module_class__

    @__class__.setter
    def __class__(self, cls: type) -> None:
        if not (isinstance(cls, type) and issubclass(cls, types.ModuleType)):
            raise TypeError(
                "__class__ assignment only supported for mutable types or ModuleType subclasses"
            )
        _set_real_class(self, _proxy_class(cls))

    __getattr__ = _NamespaceHook("__getattr__")
    __dir__ = _NamespaceHook("__dir__")

    def __repr__(self) -> str:
        namespace = object.__getattribute__(self, "__dict__")
        twin = types.ModuleType(str(dict.get(namespace, "__name__", "?")))
        for key in ("__spec__", "__loader__", "__file__"):
            if key in namespace:
                setattr(twin, key, dict.get(namespace, key))
        return repr(twin)

    def __reduce_ex__(self, protocol):
        raise TypeError("cannot pickle 'module' object")


#: ModuleType subclass -> the ProxyModule subclass that mirrors it (which refers to it anyway).
_proxy_classes: Dict[type, type] = {}


def _proxy_class(cls: type) -> type:
    """The proxy class for a module subclass: ``cls``'s attributes over ProxyModule.

    Each module subclass in ``cls``'s bases gets its own mirror, so the
    mirror's MRO follows ``cls``'s.  Functions that use zero-argument
    ``super()`` are copied with their ``__class__`` cell pointing at the
    mirror: ``super().__setattr__(...)`` then continues along the mirror's
    MRO (ending at ``object``, as ProxyModule does) instead of reaching a
    method of ``types.ModuleType``, which refuses a proxy.
    """
    if cls is types.ModuleType:
        return ProxyModule
    found = _proxy_classes.get(cls)
    if found is None:
        bases = tuple(
            _proxy_class(base) if issubclass(base, types.ModuleType) else base for base in cls.__bases__
        )
        cell = types.CellType()
        attrs = {
            key: _rebind(value, cls, cell)
            for key, value in vars(cls).items()
            if key not in ("__dict__", "__weakref__", "__slots__")
        }
        attrs["__module_class__"] = cls
        found = type(cls.__name__, bases, attrs)
        cell.cell_contents = found
        _proxy_classes[cls] = found
    return found


def _rebind(value: object, cls: type, cell) -> object:
    """``value`` with its zero-argument ``super()`` cell for ``cls`` replaced by ``cell``."""
    if isinstance(value, types.FunctionType):
        names = value.__code__.co_freevars
        if "__class__" not in names or not value.__closure__:
            return value
        index = names.index("__class__")
        try:
            if value.__closure__[index].cell_contents is not cls:
                return value
        except ValueError:  # an empty cell
            return value
        closure = value.__closure__[:index] + (cell,) + value.__closure__[index + 1 :]
        copy = types.FunctionType(value.__code__, value.__globals__, value.__name__, value.__defaults__, closure)
        copy.__kwdefaults__ = value.__kwdefaults__
        copy.__dict__.update(value.__dict__)
        for attribute in ("__qualname__", "__doc__", "__module__", "__annotations__"):
            setattr(copy, attribute, getattr(value, attribute))
        return copy
    if type(value) in (staticmethod, classmethod):
        func = _rebind(value.__func__, cls, cell)  # type: ignore[attr-defined]
        return value if func is value.__func__ else type(value)(func)  # type: ignore[attr-defined]
    if type(value) is property:
        parts = [_rebind(part, cls, cell) for part in (value.fget, value.fset, value.fdel)]
        if parts == [value.fget, value.fset, value.fdel]:
            return value
        return property(*parts, value.__doc__)
    return value


def new_proxy_module(name: str) -> types.ModuleType:
    return ProxyModule(name)  # type: ignore[return-value]


# -- choosing ----------------------------------------------------------------


class _ProbeDict(dict):
    __slots__ = ()
    seen: list = []

    def __getitem__(self, name):
        _ProbeDict.seen.append(name)
        return dict.__getitem__(self, name)


_PROBE_FILE = "<globalhook probe>"
_PROBE_SOURCE = "def probe():\n    return probe_global, len\nprobe_global = 1\n"


#: CPython issues proposing that globals must be an exact dict: every strategy would stop working.
_EXACT_DICT_ISSUES = "as proposed in CPython gh-121306 and gh-131811"


def _observable() -> Optional[str]:
    """Does this CPython route a function's global lookups through a dict subclass?

    A future CPython that requires module globals to be an exact ``dict``
    either refuses the subclass (an exception here) or reads it as a plain
    dict (no lookup seen): both end tracking, and both are named here.
    """
    _ProbeDict.seen = []
    namespace = _ProbeDict(__builtins__=__builtins__)
    try:
        exec(compile(_PROBE_SOURCE, _PROBE_FILE, "exec"), namespace)
        dict.get(namespace, "probe")()
    except Exception as exc:
        return (
            f"this Python refuses a dict subclass as module globals ({type(exc).__name__}: {exc}); "
            f"it seems to require an exact dict, {_EXACT_DICT_ISSUES}"
        )
    if "probe_global" not in _ProbeDict.seen:
        return (
            "this Python does not route global lookups through a dict subclass "
            f"(it seems to read globals as an exact dict, {_EXACT_DICT_ISSUES})"
        )
    return None


def probe(strategy: str) -> Optional[str]:
    """Try ``strategy`` on a throwaway module; return why it failed, or None."""
    global _swap
    try:
        reason = _observable()
        if reason:
            return reason
        if strategy == "native":
            if sys.implementation.name != "cpython":
                return f"needs CPython, not {sys.implementation.name}"
            if _swap is None:
                _swap = _make_swapper()
            factory: ModuleFactory = new_native_module
        else:
            factory = new_proxy_module
        module = factory("globalhook_probe")
        namespace = module.__dict__
        exec(compile(_PROBE_SOURCE, _PROBE_FILE, "exec"), namespace)
        func = dict.get(namespace, "probe")
        if type(namespace) is not TrackingDict or func.__globals__ is not namespace:
            return "the module namespace is not the tracking dict"
        if strategy == "native" and not (type(module) is AttributeModule and isinstance(module, types.ModuleType)):
            return "the module is not a real module"
        if func() != (1, len):
            return "a function in the module read wrong values"
        del module, namespace, func
    except Exception as exc:  # any failure means: do not use this strategy
        return f"{type(exc).__name__}: {exc}"
    finally:
        RECORDER.forget_file(_PROBE_FILE)
    return None


_FACTORIES = {"native": new_native_module, "proxy": new_proxy_module}


def select_strategy(requested: str = "native", attributes: bool = True) -> Tuple[str, ModuleFactory, Optional[str]]:
    """Return (strategy, factory, warning): the requested one, or the fallback.

    The warning is one line when the requested strategy failed its probe and
    the fallback is used.  When no strategy can track at all, raise
    :class:`StrategyError`: running untracked would silently record nothing.
    """
    if requested not in STRATEGIES:
        raise ValueError(f"unknown strategy {requested!r} (choose from {', '.join(STRATEGIES)})")
    reason = _observable()
    if reason is not None:  # no strategy can help: say it once, never run untracked
        raise StrategyError(
            f"globalhook cannot track global lookups on this Python ({sys.version.split()[0]}): {reason}"
        )
    order = [requested] + [s for s in STRATEGIES if s != requested]
    reasons = []
    for strategy in order:
        reason = probe(strategy)
        if reason is None:
            warning = None
            if strategy != requested:
                warning = (
                    f"globalhook: the {requested} strategy is not usable here ({reasons[0]}); "
                    f"using the {strategy} strategy"
                )
            factory = _FACTORIES[strategy]
            if strategy == "native" and not attributes:
                factory = new_plain_native_module
            elif strategy == "native":
                from . import picklers

                picklers.register_when_imported()
            else:  # proxy: dill and cloudpickle dispatch on type(module), which is ProxyModule
                from . import picklers

                picklers.register_when_imported(ProxyModule)
            return strategy, factory, warning
        reasons.append(reason)
    raise StrategyError(
        "globalhook cannot track global lookups on this Python "
        f"({sys.version.split()[0]}): " + "; ".join(f"{s}: {r}" for s, r in zip(order, reasons))
    )


# -- the hook in use ------------------------------------------------------------

#: The factory of the hook installed in this process, None when there is none:
#: :func:`globalhook.finder.install` sets it and ``uninstall`` clears it, so that
#: :mod:`globalhook.live`, below the finder, gives a module it attaches what that
#: hook's modules get.
_in_use: Optional[ModuleFactory] = None


def use_factory(factory: Optional[ModuleFactory]) -> None:
    """Name the factory of the hook just installed (None: the hook is gone)."""
    global _in_use
    _in_use = factory


def factory_in_use() -> Optional[ModuleFactory]:
    """The factory of the installed hook, or None when no hook is installed."""
    return _in_use
