"""globalhook's own imports come from the standard library's folders, never the program's.

The data is saved at exit, after the program has put its own folders first
on ``sys.path`` (``''`` for ``python -c``, the script's folder, a test
runner's root): a plain ``import json`` there would run a project's
``json.py``.  Importing everything early would preload it for the program
(which could then no longer track it), so the save imports lazily, inside
:func:`stdlib_imports`, where a finder in front of all others answers this
thread's top-level imports from the standard library's folders only.  Other
threads, and the program, import exactly as before.

The folders are found when this module is imported (as tracking starts,
before the program's first line): where ``os`` came from, and the entries of
``sys.path`` inside the interpreter's installation that are not
``site-packages`` (``lib-dynload``, the zipped library).
"""

from __future__ import annotations

import os
import sys
from _imp import is_builtin, is_frozen
from _thread import get_ident

try:  # what importlib.machinery re-exports, without importing it for the program
    from _frozen_importlib_external import PathFinder
except ImportError:  # pragma: no cover - not CPython
    from importlib.machinery import PathFinder

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Dict, List, Optional

__all__ = ["STDLIB_PATH", "stdlib_imports"]


def _stdlib_path() -> "List[str]":
    prefixes = {os.path.normcase(os.path.abspath(p)) for p in (sys.base_prefix, sys.base_exec_prefix)}
    found = [os.path.dirname(os.path.abspath(os.__file__))]
    for entry in sys.path:
        if not isinstance(entry, str) or not entry or not os.path.isabs(entry):
            continue
        normal = os.path.normcase(entry)
        if "site-packages" in normal or "dist-packages" in normal:
            continue
        if any(normal == prefix or normal.startswith(prefix + os.sep) for prefix in prefixes) and entry not in found:
            found.append(entry)
    return found


#: The standard library's folders, as found before the program started.
STDLIB_PATH = _stdlib_path()


class _StdlibFinder:
    """On ``sys.meta_path`` while globalhook imports: the standard library or nothing, for one thread."""

    def __init__(self, thread: int) -> None:
        self.thread = thread

    def find_spec(self, name: str, path: "Optional[List[str]]" = None, target: object = None):
        if path is not None or get_ident() != self.thread:
            return None  # a submodule (found on its package's path), or someone else's import
        if is_builtin(name) or is_frozen(name):
            return None  # the finders behind this one find those
        spec = PathFinder.find_spec(name, STDLIB_PATH)
        if spec is None:
            raise ModuleNotFoundError(f"globalhook: {name!r} is not in the standard library", name=name)
        return spec

    def invalidate_caches(self) -> None:
        pass


_PREFIXES = tuple(os.path.normcase(folder).rstrip(os.sep) + os.sep for folder in STDLIB_PATH)
_STDLIB_NAMES = getattr(sys, "stdlib_module_names", None)  # 3.10+


def _is_stdlib_name(top: str) -> bool:
    if _STDLIB_NAMES is not None:
        return top in _STDLIB_NAMES
    try:  # 3.9: is there such a module in the standard library's folders?
        return is_builtin(top) or PathFinder.find_spec(top, STDLIB_PATH) is not None
    except (ImportError, ValueError):  # pragma: no cover
        return False


def _shadowing() -> "List[str]":
    """Names in ``sys.modules`` that the program took from its own folders instead of the standard library."""
    found = []
    known: "Dict[str, bool]" = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or os.path.normcase(os.path.abspath(file)).startswith(_PREFIXES):
            continue  # built in, frozen, a namespace package, or the real thing
        top = name.partition(".")[0]
        if top not in known:
            known[top] = _is_stdlib_name(top)
        if known[top]:
            found.append(name)
    return found


class stdlib_imports:
    """``with stdlib_imports():`` this thread imports top-level modules from the standard library only.

    A module of the program that has a standard library module's name (its
    own ``json.py``, imported already) is set aside meanwhile, so that what
    globalhook imports binds the real one.  Afterwards the program's modules
    are back in ``sys.modules`` and the standard library's of those names are
    gone from it again (globalhook keeps its own references).
    """

    def __init__(self) -> None:
        self._finder = _StdlibFinder(get_ident())
        self._set_aside: "Dict[str, object]" = {}

    def __enter__(self) -> None:
        for name in _shadowing():
            self._set_aside[name] = sys.modules.pop(name)
        sys.meta_path.insert(0, self._finder)

    def __exit__(self, *exc_info: object) -> None:
        try:
            sys.meta_path.remove(self._finder)
        except ValueError:  # pragma: no cover - the program rebuilt meta_path meanwhile
            pass
        if self._set_aside:
            tops = {name.partition(".")[0] for name in self._set_aside}
            for name in [name for name in list(sys.modules) if name.partition(".")[0] in tops]:
                if name not in self._set_aside:
                    del sys.modules[name]  # ours, imported meanwhile: the program never had it
            sys.modules.update(self._set_aside)
            self._set_aside.clear()
