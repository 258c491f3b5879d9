"""Run a callback when a module is first imported, without importing it ourselves.

globalhook patches a few standard-library modules (``multiprocessing.process``
so that children save, ``importlib.util.spec_from_file_location`` so that
modules loaded from a path are tracked).  Importing them at start-up would
load modules the program never asked for, which could then never be tracked,
and would break programs that must patch modules before anything imports
them.  So a patch waits until the program imports the module itself: a
one-shot finder hands out that module's spec with a loader that runs the
real one, then the callbacks.

The watcher sits behind globalhook's own finder, which asks it like any
other finder: a module that is both watched and tracked is born tracked and
then patched.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType
    from typing import Callable, Dict, List, Tuple

__all__ = ["when_imported", "ForwardingLoader", "stand_behind"]

_pending: "Dict[str, List[Callable[[ModuleType], None]]]" = {}
#: Finder types that ask the watcher themselves, as any finder behind them
#: (globalhook's own, registered by :mod:`globalhook.finder`, which sits above this module).
_FRONT: "Tuple[type, ...]" = ()


def stand_behind(finder_type: type) -> None:
    """Put the watcher behind finders of ``finder_type`` and never ask them: they ask it."""
    global _FRONT
    if finder_type not in _FRONT:
        _FRONT += (finder_type,)


def when_imported(name: str, callback: "Callable[[ModuleType], None]") -> None:
    """Call ``callback(module)`` once ``name`` is imported: now, if it already is."""
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return
    _pending.setdefault(name, []).append(callback)
    _enter()


def _enter() -> None:
    """Put the watcher on ``sys.meta_path``, behind globalhook's own finder if it is there."""
    if _FINDER in sys.meta_path:
        return
    place = 0
    for index, finder in enumerate(sys.meta_path):
        if isinstance(finder, _FRONT):
            place = index + 1
    sys.meta_path.insert(place, _FINDER)


class ForwardingLoader:
    """Stands in for another loader: the module is given back that loader
    (``__loader__``, ``__spec__.loader``) before it runs, so it looks exactly
    as that loader made it; every other attribute is the other loader's."""

    def __init__(self, loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module) -> None:
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        self._loader.exec_module(module)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class _AfterImportLoader(ForwardingLoader):
    """The module's own loader, then the callbacks."""

    def __init__(self, loader, callbacks) -> None:
        super().__init__(loader)
        self._callbacks = callbacks

    def exec_module(self, module) -> None:
        super().exec_module(module)
        for callback in self._callbacks:
            callback(module)


class _PostImportFinder:
    """In ``sys.meta_path`` only while some callback waits; asks the finders behind it."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _pending:
            return None
        callbacks = _pending.pop(fullname)
        if not _pending:
            self._leave()
        for finder in list(sys.meta_path):
            if finder is self or isinstance(finder, _FRONT):
                continue  # ours asks us, not the other way round
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _AfterImportLoader(spec.loader, callbacks)
                return spec
        _pending.setdefault(fullname, []).extend(callbacks)  # not found now: maybe later
        _enter()
        return None

    def _leave(self) -> None:
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass

    def invalidate_caches(self) -> None:
        pass


_FINDER = _PostImportFinder()
