"""Run a script or a module as ``__main__``, the way ``python`` would.

The differences from ``python script.py`` are exactly two: ``__main__`` is
born tracked, and an uncaught exception's traceback is printed without
globalhook's own frames (then the interpreter exits as it would have, with
status 1, or by SIGINT for ``KeyboardInterrupt``).
"""

from __future__ import annotations

import builtins
import os
import runpy
import sys
import types
from importlib.machinery import SourceFileLoader
from typing import Callable, List, Optional, Sequence

from .tracking import RECORDER

__all__ = ["run_path", "run_module", "NoSource"]

ModuleFactory = Callable[[str], types.ModuleType]


class NoSource(Exception):
    """The script or module to run cannot be found or read."""


def _silent_excepthook(*args) -> None:
    pass


def _exec_main(code: types.CodeType, module: types.ModuleType) -> None:
    """Execute ``code`` in ``module``; uncaught errors are reported like python does."""
    previous_main = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    # Keep the replaced __main__ (globalhook's own) alive for our frames.
    _exec_main.replaced = previous_main  # type: ignore[attr-defined]
    try:
        exec(code, module.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code is not code:
            tb = tb.tb_next
        exc.__traceback__ = tb
        sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, tb
        if sys.version_info >= (3, 12):
            sys.last_exc = exc
        sys.excepthook(type(exc), exc, tb)
        # Let the interpreter end the process as it would have (exit status,
        # SIGINT for KeyboardInterrupt, atexit), but print nothing more.
        sys.excepthook = _silent_excepthook
        raise


def _compile_file(path: str, display: str) -> types.CodeType:
    try:
        with open(path, "rb") as source_file:
            source = source_file.read()
    except OSError as exc:
        raise NoSource(f"can't open file {display!r}: [Errno {exc.errno}] {exc.strerror}") from None
    try:
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        # python prints a syntax error in the main script without a traceback.
        sys.excepthook(type(exc), exc, None)
        raise SystemExit(1) from None
    RECORDER.register_code(code)
    return code


def run_path(path: str, args: Sequence[str], new_module: ModuleFactory) -> None:
    """Run a script file (or a folder / zip with ``__main__.py``) as ``python path`` would."""
    if os.path.isdir(path) or (os.path.isfile(path) and _is_zip(path)):
        sys.path[0] = path
        sys.argv[:] = [path, *args]
        _run_main_from_path_entry(path, new_module)
        return
    absolute = os.path.abspath(path)
    if not os.path.exists(absolute):
        raise NoSource(f"can't open file {absolute!r}: [Errno 2] No such file or directory")
    sys.path[0] = os.path.dirname(os.path.realpath(absolute))
    sys.argv[:] = [path, *args]
    code = _compile_file(absolute, absolute)
    module = new_module("__main__")
    namespace = module.__dict__
    dict.update(
        namespace,
        {
            "__file__": absolute,
            "__cached__": None,
            "__package__": None,
            "__spec__": None,
            "__loader__": SourceFileLoader("__main__", absolute),
            "__builtins__": builtins,
        },
    )
    _exec_main(code, module)


def _is_zip(path: str) -> bool:
    import zipfile

    return zipfile.is_zipfile(path)


def _run_main_from_path_entry(path: str, new_module: ModuleFactory) -> None:
    # python runs <dir>/__main__.py found through sys.path[0] = <dir>.
    importer = sys.path_importer_cache.pop(path, None)
    del importer
    _run_module_spec("__main__", new_module, set_argv0=False)


def run_module(name: str, args: Sequence[str], new_module: ModuleFactory) -> None:
    """Run ``name`` as ``python -m name`` would (``sys.path[0]`` is already right)."""
    sys.argv[:] = ["-m", *args]
    _run_module_spec(name, new_module, set_argv0=True)


def _run_module_spec(name: str, new_module: ModuleFactory, set_argv0: bool) -> None:
    try:
        # The same lookup python -m uses: imports parent packages, resolves
        # pkg -> pkg.__main__, and gives the same errors.
        mod_name, spec, code = runpy._get_module_details(name)  # type: ignore[attr-defined]
    except (ImportError, runpy._Error) as exc:  # type: ignore[attr-defined]
        raise NoSource(str(exc)) from None
    if set_argv0:
        sys.argv[0] = spec.origin
    RECORDER.register_code(code)
    module = new_module("__main__")
    dict.update(
        module.__dict__,
        {
            "__file__": spec.origin if spec.has_location else None,
            "__cached__": spec.cached,
            "__package__": spec.parent,
            "__spec__": spec,
            "__loader__": spec.loader,
            "__builtins__": builtins,
        },
    )
    if not spec.has_location:
        dict.pop(module.__dict__, "__file__")
    _exec_main(code, module)
