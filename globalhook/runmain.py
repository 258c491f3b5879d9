"""Track the ``__main__`` that a runner makes for the script it runs.

``python -m cProfile s.py``, ``-m profile``, ``-m trace``, ``coverage run
s.py`` and ``runpy.run_path(path, run_name="__main__")`` never import the
script: each compiles it and runs it with ``exec`` in a namespace of its own
(a dict, or a fresh module's) named ``__main__``.  No finder is asked, so
that namespace would stay a plain dict and the script would record nothing.

An audit hook sees every ``exec`` of a code object before it runs.  When the
code is a module's (``<module>``) and the frame calling ``exec`` holds a
namespace named ``__main__`` whose ``__file__`` is the code's own file (what
every runner above sets up), that namespace is retyped in place, as
:mod:`globalhook.live` does for modules imported before the hook: the
script's lookups are then recorded from its first line, under ``__main__``
with its own file.  Where retyping is refused, ``not_tracked`` says why.

An audit hook is called for every audited event of the process, and
``sys._getframe`` is one (the pure-Python core calls it for every lookup; a
hook written in Python adds about half a microsecond to each).  Where the
compiled module is built, its hook (in C) is added when tracking starts and
calls into Python for an ``exec`` only.  Without it, a hook in Python is
added only once a runner is in play (``globalhook run -m cProfile``..., or
the program imports cProfile, profile, trace or coverage).  Audit hooks
cannot be removed: once a session ends, the hook does nothing.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

    from .patterns import ModuleFilter

__all__ = ["RUNNERS", "watch", "stop"]

#: Modules that run a script in a ``__main__`` of their own.
RUNNERS = ("cProfile", "profile", "trace", "coverage")

_filter: "Optional[ModuleFilter]" = None
_hooked = False
_CodeType = type(compile("", "", "exec"))


def watch(module_filter: "ModuleFilter", eager: bool) -> None:
    """Track runner-made ``__main__`` namespaces that ``module_filter`` wants, from now on.

    ``eager``: add the audit hook now; else once one of :data:`RUNNERS` is imported.
    """
    global _filter
    if module_filter.decide_name("__main__") is False:
        return
    _filter = module_filter
    watch_in_c = _c_watcher()
    if watch_in_c is not None:
        try:
            watch_in_c(_on_exec)
        except Exception:  # another audit hook refused ours: runner-made __main__ stays untracked
            pass
        return
    if eager:
        _add_hook()
        return
    from .postimport import when_imported

    for name in RUNNERS:
        when_imported(name, _add_hook)


def _add_hook(_module: object = None) -> None:
    global _hooked
    if _hooked or _filter is None:
        return
    try:
        sys.addaudithook(_audit)
    except Exception:  # another audit hook refused ours: runner-made __main__ stays untracked
        return
    _hooked = True


def _c_watcher():
    try:
        from globalhook import _ctracking
    except ImportError:
        return None
    return getattr(_ctracking, "watch_runner_execs", None)


def stop() -> None:
    global _filter
    _filter = None
    watch_in_c = _c_watcher() if "globalhook._ctracking" in sys.modules else None
    if watch_in_c is not None:
        watch_in_c(None)


def _audit(event: str, args: tuple, _CodeType=_CodeType) -> None:
    """The hook in Python: every audited event comes here."""
    if event == "exec" and _filter is not None and type(args[0]) is _CodeType:
        _on_exec(args[0], 2)


def _on_exec(code, depth: int = 1, _getframe=sys._getframe) -> None:
    """A code object is about to be run by ``exec``, called from the frame ``depth`` up."""
    if _filter is None or code.co_name != "<module>":
        return
    try:
        namespace = _runner_namespace(_getframe(depth), code.co_filename)
        if namespace is not None:
            _track(namespace, code)
    except Exception:  # never into the program's exec
        pass


#: The functions that call ``exec`` for the runners above: cProfile's, profile's
#: and trace's ``runctx``, runpy's ``_run_code``, coverage's ``PyRunner.run``.
_RUNNER_FUNCTIONS = frozenset(("runctx", "_run_code", "run"))


def _is_script_namespace(namespace: object, filename: str) -> bool:
    return (
        type(namespace) is dict
        and namespace.get("__name__") == "__main__"
        and namespace.get("__file__") == filename
    )


def _runner_namespace(frame, filename: str) -> "Optional[dict]":
    """The plain namespace named ``__main__``, for ``filename``, that a runner is about to run.

    Only when the frame calling ``exec`` is a runner's own function (IPython
    runs a ``.ipy`` file's cells in a ``__main__`` of that file too, from its
    ``run_code``: its extension tracks that namespace its own way).
    ``sys.modules["__main__"]`` first (coverage and runpy put their module
    there); then that function's arguments.  On 3.9-3.12 reading
    ``f_locals`` keeps a copy of the values in the frame until it returns;
    in a runner's frame they are alive until then anyway.
    """
    if frame.f_code.co_name not in _RUNNER_FUNCTIONS:
        return None
    main = sys.modules.get("__main__")
    namespace = getattr(main, "__dict__", None)
    if _is_script_namespace(namespace, filename):
        return namespace  # type: ignore[return-value]
    for value in frame.f_locals.values():
        namespace = value if type(value) is dict else getattr(value, "__dict__", None)
        if _is_script_namespace(namespace, filename):
            return namespace  # type: ignore[return-value]
    return None


def _track(namespace: dict, code) -> None:
    from .live import attach_runner_namespace
    from .tracking import RECORDER

    filename = code.co_filename
    if _filter is None or not _filter.wants("__main__", filename):
        return
    problem = attach_runner_namespace(namespace, code)
    if problem is not None:
        RECORDER.not_tracked.setdefault("__main__", f"{filename}, run by a runner in a namespace of its own: {problem}")
