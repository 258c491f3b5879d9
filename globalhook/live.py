"""Track modules that are already live: retype their namespace in place.

A module imported before globalhook started has an exact ``dict`` as its one
namespace, and every function defined in it holds that same dict object as
``__globals__``.  Changing the dict's type, in place, to
:class:`~globalhook.tracking.TrackingDict` (a heap subclass with
``__slots__ = ()``: the layout of ``dict``) makes the module and all of those
functions tracked from then on, with no copy and no second namespace.

Why that is safe where it is allowed (experiments on CPython 3.9-3.14 and
3.14t, see docs/explanation/live-modules.md):

- an instance of a heap type owns a reference to it, which ``subtype_dealloc``
  drops when the dict dies: the type is given one reference per retyped dict
  (without it, the type is freed after enough retyped dicts die: a crash);
- ``dict_dealloc`` puts only exact dicts on its free list, and GC tracking is
  the dict's own (the subtype's traverse visits the type, which that
  reference accounts for);
- on 3.11+ a ``LOAD_GLOBAL`` already specialised for the module de-optimises
  as soon as its globals are no longer an exact dict;
- the JIT / tier-2 optimiser (3.13+, when on) may keep globals as constants
  without noticing the new type: refused while it is on;
- free-threaded builds: the compiled core stops the world around the store,
  as CPython's own ``__class__`` assignment does; the pure-Python core cannot,
  so it refuses while other threads run.

A start-up probe (once per process, on first use) retypes a throwaway
namespace whose function was specialised first and checks that its reads are
then seen and that freeing it gives the type's reference back.
"""

from __future__ import annotations

import builtins
import gc
import sys
import types

from .globalwrites import note_code as _note_code
from .globalwrites import note_file as _note_file
from .globalwrites import unwatch as _unwatch_writes
from .globalwrites import watch as _watch_writes
from .modules import factory_in_use, new_native_module
from .tracking import CORE, RECORDER, AttributeModule, TrackingDict

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, List, Optional

__all__ = ["AttachError", "attach", "attach_namespace", "attached", "detach", "refusal"]

#: CPythons on which retyping a live dict was verified (see the module docstring).
VERIFIED = ((3, 9), (3, 14))

_PROBE_FILE = "<globalhook live probe>"
_PROBE_SOURCE = (
    "def probe(n):\n"
    "    total = 0\n"
    "    for _ in range(n):\n"
    "        total += probe_global\n"
    "    return total\n"
    "probe_global = 1\n"
)


class AttachError(RuntimeError):
    """A live module cannot be tracked here; the message is one line naming it."""


_retype: "Optional[Callable[[dict, type], None]]" = None
_unretype: "Optional[Callable[[dict, type], None]]" = None
_process_problem: "Optional[str]" = None
_probed = False
#: Names of the modules attached in this process, in order.
_attached: "List[str]" = []
#: id(namespace) -> the namespace (attach_dict: kept alive for detach) or None (a module's:
#: not kept alive), for every namespace this process retyped; detach undoes only those.
_retyped: "dict" = {}


def attached() -> "List[str]":
    """Names of the modules tracked by attaching them, in the order they were attached."""
    return list(_attached)


# -- the retype itself -------------------------------------------------------------------


def _make_retypers() -> None:
    """The compiled core's retype (no ctypes), or a ctypes one for the pure-Python core."""
    global _retype, _unretype
    if CORE == "c":
        from ._ctracking import retype_dict, unretype_dict

        _retype, _unretype = retype_dict, unretype_dict
        return
    import ctypes

    incref = ctypes.pythonapi.Py_IncRef
    decref = ctypes.pythonapi.Py_DecRef
    incref.argtypes = decref.argtypes = [ctypes.py_object]
    incref.restype = decref.restype = None
    word = ctypes.sizeof(ctypes.c_void_p)
    # ob_type is the last word of the object header; cross-checked on two fresh dicts.
    index = object.__basicsize__ // word - 1
    for sample in ({}, {"a": 1}):
        if ctypes.c_void_p.from_address(id(sample) + index * word).value != id(dict):
            raise AttachError("the object header is not laid out as expected (ob_type not found)")

    # ma_values, NULL unless the dict is an object's split-table attribute dict, is the
    # fourth word after the header on every version (ma_used, a version or watcher tag, ma_keys).
    values = index + 4
    if ctypes.c_void_p.from_address(id({"a": 1}) + values * word).value is not None:
        raise AttachError("the dict layout is not as expected (ma_values of a plain dict is set)")

    def retype(namespace: dict, cls: type) -> None:
        if type(namespace) is not dict:
            raise TypeError(f"retype: expected an exact dict, got {type(namespace).__name__}")
        if ctypes.c_void_p.from_address(id(namespace) + values * word).value is not None:
            raise ValueError("retype: a split-table dict (an object's attribute dict)")
        incref(cls)  # owned by the dict from now on: subtype_dealloc drops it
        ctypes.c_void_p.from_address(id(namespace) + index * word).value = id(cls)

    def unretype(namespace: dict, cls: type) -> None:
        if type(namespace) is not cls:
            raise TypeError(f"unretype: expected a {cls.__name__}")
        ctypes.c_void_p.from_address(id(namespace) + index * word).value = id(dict)
        decref(cls)

    _retype, _unretype = retype, unretype


def _jit_problem() -> "Optional[str]":
    """Why the JIT / tier-2 optimiser makes retyping unsafe here, or None."""
    if sys.version_info < (3, 13):
        return None
    jit = getattr(sys, "_jit", None)  # 3.14+
    if jit is not None:
        on = jit.is_enabled()
    else:  # 3.13: on in JIT builds unless PYTHON_JIT=0, in tier-2 interpreter builds with PYTHON_JIT=1
        import os

        config = _build_config()
        flags = f"{config.get('PY_CORE_CFLAGS') or ''} {config.get('CONFIG_ARGS') or ''}"
        setting = os.environ.get("PYTHON_JIT")
        if "_Py_JIT" in flags or "enable-experimental-jit=yes" in flags or "--enable-experimental-jit " in flags + " ":
            on = setting != "0"
        elif "_Py_TIER2" in flags or "experimental-jit=interpreter" in flags:
            on = setting not in (None, "", "0")
        else:
            on = False
    if on:
        return "the JIT / tier-2 optimizer is on (code it already optimised can keep reading globals as constants)"
    return None


def _build_config() -> dict:
    """The build's configuration variables, read as ``sysconfig`` does but without importing
    it (on 3.13 it imports ``threading``, which the program may want to patch or track)."""
    name = "_sysconfigdata_{}_{}_{}".format(
        sys.abiflags, sys.platform, getattr(sys.implementation, "_multiarch", "")
    )
    try:
        return __import__(name).build_time_vars
    except (ImportError, AttributeError):
        import sysconfig

        return {key: sysconfig.get_config_var(key) for key in ("PY_CORE_CFLAGS", "CONFIG_ARGS")}


def _probe() -> "Optional[str]":
    """Retype a throwaway namespace whose function ran (and was specialised) first.

    The collector is off meanwhile: the reference count of TrackingDict is
    compared before and after, and a collection in between that frees some
    other tracked namespace (garbage of the program's) would change it.
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        return _probe_once()
    finally:
        if enabled:
            gc.enable()


def _probe_once() -> "Optional[str]":
    namespace = {"__builtins__": builtins, "__name__": "globalhook_live_probe"}
    try:
        exec(compile(_PROBE_SOURCE, _PROBE_FILE, "exec"), namespace)
        func = namespace["probe"]
        for _ in range(64):
            func(64)  # specialised (3.11+), and traced by the tier-2 optimiser if it is on
        # No collection inside the window: one that frees some other tracking
        # dict of the program's (a cycle through a tracked namespace) would
        # take a reference from the type and fail the probe for nothing.
        collecting = gc.isenabled()
        gc.disable()
        try:
            before = sys.getrefcount(TrackingDict)
            _retype(namespace, TrackingDict)  # type: ignore[misc]
            if type(namespace) is not TrackingDict or func.__globals__ is not namespace:
                return "the retyped namespace is not the tracking dict"
            if func(64) != 64 or RECORDER.reads(func).get("probe_global") != 64:
                return "reads of a function that ran before the retype are not seen after it"
            namespace.clear()  # breaks the function <-> namespace cycle: freed right now
            del func, namespace
            after = sys.getrefcount(TrackingDict)
        finally:
            if collecting:
                gc.enable()
        if before != after and "free-threading" not in sys.version:  # 3.14t counts type references per thread
            return f"freeing a retyped dict left the type's reference count at {after}, not {before}"
    except Exception as exc:  # any failure means: do not retype here
        return f"the probe failed ({type(exc).__name__}: {exc})"
    finally:
        RECORDER.forget_file(_PROBE_FILE)
    return None


def _check_process() -> "Optional[str]":
    """Why no live dict can be retyped in this process, or None (worked out once)."""
    global _probed, _process_problem
    if _probed:
        return _process_problem
    _probed = True
    problem = None
    if sys.implementation.name != "cpython":
        problem = f"retyping a live namespace needs CPython, not {sys.implementation.name}"
    elif not VERIFIED[0] <= sys.version_info[:2] <= VERIFIED[1]:
        known = "{}.{}-{}.{}".format(*VERIFIED[0], *VERIFIED[1])
        problem = f"retyping a live namespace is verified on CPython {known} only, not {sys.version.split()[0]}"
    else:
        problem = _jit_problem()
        if problem is None:
            try:
                _make_retypers()
            except (AttachError, AttributeError, ImportError, OSError) as exc:
                problem = f"cannot retype here ({exc})"
            else:
                problem = _probe()
    _process_problem = problem
    return problem


def _threads_problem() -> "Optional[str]":
    """The pure-Python core on a free-threaded build cannot stop other threads while it stores."""
    if CORE == "c" or "free-threading" not in sys.version:
        return None
    if len(sys._current_frames()) > 1:
        return (
            "other threads are running on this free-threaded build, and the pure-Python core "
            "cannot stop them while it retypes (the compiled core can)"
        )
    return None


# -- public ----------------------------------------------------------------------------


def refusal(module: types.ModuleType) -> "Optional[str]":
    """Why ``module`` cannot be attached here (without its name), or None."""
    namespace = getattr(module, "__dict__", None)
    name = getattr(module, "__name__", None)
    if isinstance(namespace, TrackingDict):
        return None
    if not isinstance(module, types.ModuleType):
        return f"not a module ({type(module).__name__})"
    if type(namespace) is not dict:
        return f"its namespace is a {type(namespace).__name__}, not a plain dict"
    if namespace is builtins.__dict__:
        return "the builtins namespace is every frame's builtins: it is never tracked"
    if isinstance(name, str) and (name == "globalhook" or name.startswith("globalhook.")):
        return "globalhook never tracks itself"
    return _check_process() or _threads_problem()


def attach(module: types.ModuleType) -> types.ModuleType:
    """Track ``module``, already imported, from now on; return it.

    Its namespace is retyped in place, so functions it defined before keep
    it as ``__globals__`` and become tracked too.  Lookups made before the
    call, frames already running, class bodies already run and values other
    code copied out of it earlier are not seen (see "Modules that are already
    live", docs/explanation/live-modules.md).  Raises :class:`AttachError`, one line naming the module,
    where that is not safe here.
    """
    problem = refusal(module)
    if problem is not None:
        raise AttachError(f"globalhook: cannot attach {getattr(module, '__name__', module)!r}: {problem}")
    attach_namespace(module)
    return module


def attach_namespace(module: types.ModuleType) -> None:
    """Make ``module``'s live namespace tracked (``refusal`` said it may be).

    The one place where tracking a live module happens: whatever else a
    tracked module gets (its own module type, a watcher on its dict) plugs in
    here, after the retype.
    """
    namespace = module.__dict__
    if isinstance(namespace, TrackingDict):
        return
    if _retype is None:  # pragma: no cover - refusal() made it
        raise AttachError("globalhook: attach_namespace() before the process check")
    name = dict.get(namespace, "__name__")
    name = name if isinstance(name, str) else "<unknown>"
    _retype_or_say(namespace, name)
    _watch_writes(namespace)
    _note_file(name, getattr(module, "__file__", None))
    _retyped[id(namespace)] = None
    _attached.append(name)
    _record_attribute_reads(module)


def _record_attribute_reads(module: types.ModuleType) -> None:
    """An attached module's attribute reads are recorded too, as for a module the
    finder makes, unless the hook in use does not record them (``attributes = false``):
    it becomes of globalhook's module type (``__class__`` assignment between
    ModuleType subclasses of one layout, which CPython allows)."""
    factory = factory_in_use()
    wants_attributes = factory is None or factory is new_native_module
    if wants_attributes and type(module) is types.ModuleType:
        try:
            module.__class__ = AttributeModule
        except TypeError:  # pragma: no cover - a layout CPython refuses: reads stay unrecorded
            pass


def _retype_or_say(namespace: dict, name: str) -> None:
    try:
        _retype(namespace, TrackingDict)  # type: ignore[misc]
    except (TypeError, ValueError) as exc:  # the layout checks of the retype itself
        raise AttachError(f"globalhook: cannot attach {name!r}: {exc}") from None


def attach_dict(namespace: dict, name: str, module: "Optional[types.ModuleType]" = None) -> dict:
    """Track a live namespace that ``detach`` can undo (IPython's user namespace); return it.

    When ``module`` is the module whose ``__dict__`` it is, this goes through
    :func:`attach_namespace`, like any module.
    """
    problem = None
    if type(namespace) is not dict and not isinstance(namespace, TrackingDict):
        problem = f"its namespace is a {type(namespace).__name__}, not a plain dict"
    problem = problem or _check_process() or _threads_problem()
    if problem is not None:
        raise AttachError(f"globalhook: cannot attach {name!r}: {problem}")
    if isinstance(namespace, TrackingDict):
        return namespace
    if module is not None and getattr(module, "__dict__", None) is namespace:
        attach_namespace(module)
    else:
        _retype_or_say(namespace, name)
        _watch_writes(namespace)
        _attached.append(name)
    _retyped[id(namespace)] = namespace
    return namespace


def attach_runner_namespace(namespace: dict, code: types.CodeType) -> "Optional[str]":
    """Track the ``__main__`` namespace a runner made for ``code`` (:mod:`globalhook.runmain`).

    Returns why it cannot be, or None.  Not listed as attached: the
    script has not run yet, so none of its lookups were missed.
    """
    problem = _check_process() or _threads_problem()
    if problem is not None:
        return problem
    try:
        _retype_or_say(namespace, "__main__")
    except AttachError as exc:
        return str(exc)
    _watch_writes(namespace)
    _note_code("__main__", code)
    return None


def detach(namespace: dict) -> bool:
    """Make a namespace this process retyped an exact dict again; False if it retyped none such.

    (A module's namespace is not kept alive, so its id may be another tracking dict's
    by now: undoing that one is just as safe, it holds the same reference to the type.)
    """
    if id(namespace) not in _retyped or type(namespace) is not TrackingDict:
        return False
    _unwatch_writes(namespace)
    _unretype(namespace, TrackingDict)  # type: ignore[misc]
    del _retyped[id(namespace)]
    name = dict.get(namespace, "__name__")
    if name in _attached:
        _attached.remove(name)
    return True


# -- other dicts (globalhook.watch) ------------------------------------------------------


def retype_problem() -> "Optional[str]":
    """Why no dict can change its type in place in this process now, or None."""
    return _check_process() or _threads_problem()


def retype_dict(obj: dict, cls: type) -> None:
    """Give an exact dict the type ``cls`` (a ``__slots__ = ()`` dict subclass) in place."""
    problem = retype_problem()
    if problem is not None:
        raise AttachError(problem)
    _retype(obj, cls)  # type: ignore[misc]


def unretype_dict(obj: dict, cls: type) -> None:
    """Make a dict that :func:`retype_dict` retyped an exact dict again."""
    _unretype(obj, cls)  # type: ignore[misc]
