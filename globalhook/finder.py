"""The import hook: a ``sys.meta_path`` finder and the loaders it swaps in.

The finder never locates modules itself.  For a module the allowlist wants,
it asks the finders behind it for the spec (so editable installs and other
hooks keep working) and only replaces the loader: plain source and bytecode
loaders by :class:`TrackingSourceFileLoader` / :class:`TrackingSourcelessFileLoader`,
any other loader with ``exec_module`` by a :class:`DelegatingLoader` that
lets the other loader run the module inside a tracked module object.

Finders that sit in front of ours (pytest's assertion rewriter inserts itself
at ``sys.meta_path[0]``) are adopted: their ``find_spec`` is wrapped on the
instance so that the specs they return get the same treatment.
"""

from __future__ import annotations

import sys
from _thread import _local

try:  # what importlib.machinery re-exports, without importing it for the program
    import _frozen_importlib_external as machinery
except ImportError:  # pragma: no cover - not CPython
    import importlib.machinery as machinery

from . import classbodies, envreads
from .globalwrites import note_file
from .modules import select_strategy, use_factory
from .patterns import ModuleFilter
from .postimport import ForwardingLoader, stand_behind
from .tracking import RECORDER, Recorder, TrackingDict

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    import types
    from importlib.machinery import ModuleSpec
    from typing import Callable, Dict, List, Optional, Sequence

    from .modules import ModuleFactory

__all__ = ["TrackingFinder", "ImportHook", "install", "installed_hook"]

_PASS_THROUGH_ORIGINS = ("built-in", "frozen")


class _TrackingLoaderMixin:
    """Create a tracked module; everything else is the plain loader's.

    Only ``create_module`` is overridden: a method of ours that ran while the
    module executes would sit between importlib's frames, and CPython could
    no longer trim them from the module's tracebacks.  It hands the spec back
    to the plain loader the path finder made before importlib copies it to
    ``__loader__`` and calls ``exec_module``: the module then looks exactly
    as untracked (``type(m.__loader__)``, ``m.__spec__.loader``).
    """

    _globalhook_factory: ModuleFactory
    _globalhook_plain: machinery.FileLoader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType:
        module = self._globalhook_factory(spec.name)
        note_file(spec.name, spec.origin)
        if spec.loader is self:
            spec.loader = self._globalhook_plain
        elif getattr(spec.loader, "loader", None) is self:  # importlib.util.LazyLoader around us
            spec.loader.loader = self._globalhook_plain
        return module


class TrackingSourceFileLoader(_TrackingLoaderMixin, machinery.SourceFileLoader):
    """A :class:`SourceFileLoader` whose modules are born tracked."""


class TrackingSourcelessFileLoader(_TrackingLoaderMixin, machinery.SourcelessFileLoader):
    """A :class:`SourcelessFileLoader` (``.pyc`` only) whose modules are born tracked."""


class DelegatingLoader(ForwardingLoader):
    """Run another tool's loader inside a tracked module.

    The module's ``__loader__`` and ``__spec__.loader`` are set back to the
    other loader before it runs, so the module looks exactly as that tool
    made it.
    """

    def __init__(self, loader, factory: ModuleFactory) -> None:
        super().__init__(loader)
        self._factory = factory

    def create_module(self, spec: ModuleSpec) -> Optional[types.ModuleType]:
        module = super().create_module(spec)
        if module is not None:
            RECORDER.not_tracked[spec.name] = (
                f"its loader ({type(self._loader).__qualname__}) creates its own module object"
            )
            return module
        note_file(spec.name, spec.origin)
        return self._factory(spec.name)


class TrackingFinder:
    """``sys.meta_path`` finder that hands out tracking loaders."""

    def __init__(self, module_filter: ModuleFilter, factory: ModuleFactory, recorder: Recorder = RECORDER) -> None:
        self.filter = module_filter
        self.factory = factory
        self.recorder = recorder
        self._busy = _local()
        self._adopted: List[object] = []
        #: Names in sys.modules when this finder was made (see note_untracked_imports).
        self._there_before = frozenset(sys.modules)

    # -- finding -----------------------------------------------------------

    def find_spec(self, fullname: str, path=None, target=None) -> Optional[ModuleSpec]:
        if target is not None:
            # importlib.reload(): the module object stays (tracked or not), its
            # code runs again in the same namespace; the plain spec is the one to use.
            return None
        meta_path = sys.meta_path
        if meta_path and meta_path[0] is not self:
            self.adopt_front_finders()
        decision = self.filter.decide_name(fullname)
        if decision is False or getattr(self._busy, "active", False):
            return None
        self._busy.active = True  # an import made inside another finder passes through
        try:
            spec = self._find_behind(fullname, path, target)
        finally:
            self._busy.active = False
        if spec is None:
            return None
        if decision is None and not self.filter.wants_path(spec.origin):
            return spec  # found anyway: spare the finders a second search
        return self.track_spec(spec)

    def _find_behind(self, fullname: str, path, target) -> Optional[ModuleSpec]:
        meta_path = sys.meta_path
        try:
            start = meta_path.index(self) + 1
        except ValueError:
            start = 0
        for finder in meta_path[start:]:
            if isinstance(finder, TrackingFinder):
                continue
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def track_spec(self, spec: ModuleSpec) -> ModuleSpec:
        """Give a wanted module's spec a tracking loader, when that can be done safely."""
        loader = spec.loader
        if spec.origin == "frozen":
            self.recorder.not_tracked.setdefault(
                spec.name, "frozen into the interpreter (python -X frozen_modules=off loads it from source)"
            )
            return spec
        if loader is None or spec.origin in _PASS_THROUGH_ORIGINS or isinstance(loader, (DelegatingLoader, _TrackingLoaderMixin)):
            return spec  # namespace package, built-in, or already ours
        if type(loader) is machinery.SourceFileLoader:
            new = TrackingSourceFileLoader(loader.name, loader.path)
        elif type(loader) is machinery.SourcelessFileLoader:
            new = TrackingSourcelessFileLoader(loader.name, loader.path)
        elif isinstance(loader, machinery.ExtensionFileLoader):
            return spec
        elif hasattr(loader, "exec_module"):
            spec.loader = DelegatingLoader(loader, self.factory)
            return spec
        else:
            self.recorder.not_tracked[spec.name] = (
                f"its loader ({type(loader).__qualname__}) has no exec_module"
            )
            return spec
        new._globalhook_factory = self.factory
        new._globalhook_plain = loader
        spec.loader = new
        return spec

    # -- finders in front of us -------------------------------------------

    def adopt_front_finders(self) -> None:
        """Wrap ``find_spec`` of instance finders placed before this one."""
        for finder in list(sys.meta_path):
            if finder is self:
                break
            if isinstance(finder, (type, TrackingFinder)) or finder in self._adopted:
                continue
            original = getattr(finder, "find_spec", None)
            if original is None or getattr(original, "_globalhook_wrapper", False):
                continue
            try:
                finder.find_spec = self._wrap_find_spec(original)
            except (AttributeError, TypeError):
                continue  # a finder that refuses attributes keeps running unwrapped
            self._adopted.append(finder)

    def _wrap_find_spec(self, original: Callable) -> Callable:
        def find_spec(fullname, path=None, target=None):
            spec = original(fullname, path, target)
            if target is None and spec is not None and self in sys.meta_path and self.filter.wants(fullname, spec.origin):
                spec = self.track_spec(spec)
            return spec

        find_spec._globalhook_wrapper = True  # type: ignore[attr-defined]
        find_spec.__wrapped__ = original  # type: ignore[attr-defined]
        return find_spec

    def release_adopted(self) -> None:
        for finder in self._adopted:
            wrapper = vars(finder).get("find_spec") if hasattr(finder, "__dict__") else None
            if getattr(wrapper, "_globalhook_wrapper", False):
                del finder.find_spec
        self._adopted.clear()

    def invalidate_caches(self) -> None:
        pass

    # -- modules that were there first -------------------------------------

    def note_already_imported(self, skip: Sequence[str] = ("__main__",)) -> None:
        """Attach matching modules imported before the hook, or list why they cannot be tracked.

        Attaching retypes the module's live namespace in place (:mod:`globalhook.live`):
        its functions defined before become tracked; lookups made before are not seen.
        """
        for name, module in list(sys.modules.items()):
            if name in skip or module is None:
                continue
            namespace = getattr(module, "__dict__", None)
            if isinstance(namespace, TrackingDict):
                continue
            origin = getattr(module, "__file__", None)
            if not isinstance(origin, str) or not origin.endswith((".py", ".pyc")):
                continue
            if self.filter.wants(name, origin):
                from .live import attach_namespace, refusal

                problem = refusal(module)
                if problem is None:
                    attach_namespace(module)
                else:
                    self.recorder.not_tracked.setdefault(
                        name, f"already imported before globalhook started, and cannot be attached: {problem}"
                    )


    def note_untracked_imports(self, skip: Sequence[str] = ("__main__",)) -> None:
        """List the wanted modules that stayed plain without this finder being asked.

        A finder the program put ahead of this one answers before this one
        hears of the import (it is adopted only once some import reaches this
        finder), and a module put into ``sys.modules`` by hand was never
        imported.  Both keep a plain dict; checked when the data is saved.
        """
        not_tracked = self.recorder.not_tracked
        for name, module in list(sys.modules.items()):
            if name in skip or name in not_tracked or name in self._there_before:
                continue
            namespace = getattr(module, "__dict__", None)
            if type(namespace) is not dict:  # tracked (a TrackingDict), or no module at all
                continue
            spec = namespace.get("__spec__")
            loader = getattr(spec, "loader", None)
            origin = getattr(spec, "origin", None) if spec is not None else namespace.get("__file__")
            if spec is not None and (
                loader is None or origin in _PASS_THROUGH_ORIGINS or isinstance(loader, (type, machinery.ExtensionFileLoader))
            ):
                continue  # a namespace package, built-in, frozen or compiled module: no globals of Python code
            if not self.filter.wants(name, origin if isinstance(origin, str) else None):
                continue
            if spec is None:
                not_tracked[name] = "put into sys.modules by the program, not imported: globalhook never saw it"
            else:
                not_tracked[name] = (
                    f"its import never reached globalhook: a finder ahead of globalhook's on sys.meta_path "
                    f"served it (loader {type(loader).__qualname__}); globalhook adopts such a finder at the "
                    "next import that reaches it"
                )


stand_behind(TrackingFinder)  # the post-import watcher goes behind ours, which asks it


class ImportHook:
    """What :func:`install` returns: uninstall it, or use it as a context manager."""

    def __init__(self, finder: TrackingFinder, strategy: str, warning: Optional[str]) -> None:
        self.finder = finder
        self.strategy = strategy
        self.warning = warning
        self.recorder = finder.recorder

    @property
    def installed(self) -> bool:
        return self.finder in sys.meta_path

    def new_module(self, name: str) -> types.ModuleType:
        """A tracked module of this hook's strategy (the runner's ``__main__``)."""
        return self.finder.factory(name)

    def uninstall(self) -> None:
        """Stop tracking new imports; modules already tracked keep recording."""
        global _installed
        try:
            sys.meta_path.remove(self.finder)
        except ValueError:
            pass
        self.finder.release_adopted()
        if _installed is self:
            _installed = None
            use_factory(None)
            classbodies.uninstall()
            envreads.uninstall()

    def lookups(self) -> List[dict]:
        """Everything recorded so far, as data-file entries."""
        return self.recorder.lookups()

    def reads(self, func: Callable) -> Dict[str, int]:
        return self.recorder.reads(func)  # type: ignore[arg-type]

    def __enter__(self) -> "ImportHook":
        return self

    def __exit__(self, *exc_info) -> None:
        self.uninstall()


_installed: Optional[ImportHook] = None


def installed_hook() -> Optional[ImportHook]:
    """The hook currently installed in this process, if any."""
    return _installed


def install(
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    strategy: str = "native",
    root: Optional[str] = None,
    attributes: bool = True,
    config_reads: bool = True,
) -> ImportHook:
    """Track every module imported from now on that the allowlist wants.

    ``include``/``exclude`` take module patterns (``pkg`` means ``pkg`` and its
    submodules; ``*``/``?`` are wildcards); with no ``include``, modules whose
    files lie under ``root`` (default: the current directory) are tracked,
    except those in virtual environments and site-packages.  ``strategy`` is
    ``"native"`` or ``"proxy"``; when it cannot work here the other one is
    used and :attr:`ImportHook.warning` says why.  ``attributes``: record
    reads of tracked modules' attributes from any code (native strategy:
    tracked modules are then of a ModuleType subclass).  ``config_reads``:
    record environment variables read and written by name (kinds ``read``
    and ``write``, owner ``os.environ``).  Raises
    :class:`~globalhook.modules.StrategyError` when nothing can track,
    :class:`~globalhook.patterns.PatternError` for a bad pattern, and
    :class:`TypeError` for a single string where a list of patterns belongs.
    """
    global _installed
    for argument, patterns in (("include", include), ("exclude", exclude)):
        if isinstance(patterns, (str, bytes)):
            raise TypeError(
                f"install(): {argument} takes a list of module patterns, not a single "
                f"{type(patterns).__name__} (write {argument}=[{patterns!r}])"
            )
    if _installed is not None and _installed.installed:
        raise RuntimeError("globalhook is already installed in this process; uninstall() it first")
    module_filter = ModuleFilter(include, exclude, root)
    chosen, factory, warning = select_strategy(strategy, attributes)
    finder = TrackingFinder(module_filter, factory)
    finder.note_already_imported()
    sys.meta_path.insert(0, finder)
    _installed = ImportHook(finder, chosen, warning)
    use_factory(factory)
    classbodies.install()
    if config_reads:
        envreads.install()
    from .postimport import when_imported

    when_imported("importlib.util", _track_file_location_specs)
    return _installed


def _track_file_location_specs(util: types.ModuleType) -> None:
    """Modules loaded by path (``spec_from_file_location`` + ``module_from_spec``,
    pytest's ``--import-mode=importlib``, plugin loaders) never ask ``sys.meta_path``:
    give their specs the same treatment as the finder's."""
    original = util.spec_from_file_location
    if getattr(original, "_globalhook_wrapper", False):
        return

    def spec_from_file_location(name, location=None, *args, **kwargs):
        spec = original(name, location, *args, **kwargs)
        hook = _installed
        if spec is not None and hook is not None and hook.installed:
            finder = hook.finder
            if finder.filter.wants(name, spec.origin):
                spec = finder.track_spec(spec)
        return spec

    spec_from_file_location._globalhook_wrapper = True  # type: ignore[attr-defined]
    spec_from_file_location.__wrapped__ = original  # type: ignore[attr-defined]
    spec_from_file_location.__doc__ = original.__doc__
    util.spec_from_file_location = spec_from_file_location
