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
from importlib.machinery import SourceFileLoader, SourcelessFileLoader
from typing import Callable, NoReturn, Optional, Sequence

from .tracking import RECORDER

__all__ = ["run_path", "run_module", "NoSource"]

ModuleFactory = Callable[[str], types.ModuleType]


class NoSource(Exception):
    """The script or module to run cannot be found or read."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status  # python's: 2 for a script it cannot open, 1 for -m


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
        _display(exc, tb)
        # Let the interpreter end the process as it would have (exit status,
        # SIGINT for KeyboardInterrupt, atexit), but print nothing more.
        sys.excepthook = _silent_excepthook
        raise


def _display(exc: BaseException, tb: Optional[types.TracebackType]) -> None:
    """Hand an uncaught exception to ``sys.excepthook`` as the interpreter does.

    Like ``PyErr_PrintEx``: a missing hook, or one that fails, is reported and
    the original exception shown anyway, with no frames of ours.
    """
    hook = getattr(sys, "excepthook", None)
    if hook is None:
        print("sys.excepthook is missing", file=sys.stderr)
        sys.__excepthook__(type(exc), exc, tb)
        return
    try:
        hook(type(exc), exc, tb)
    except SystemExit:
        raise  # the interpreter exits with it too
    except BaseException as hook_exc:
        hook_tb = hook_exc.__traceback__
        while hook_tb is not None and hook_tb.tb_frame.f_code is _display.__code__:
            hook_tb = hook_tb.tb_next
        hook_exc.__traceback__ = hook_tb
        if hook_exc.__context__ is exc:  # the interpreter calls the hook outside any handler
            hook_exc.__context__ = None
        print("Error in sys.excepthook:", file=sys.stderr)
        sys.__excepthook__(type(hook_exc), hook_exc, hook_tb)
        print("\nOriginal exception was:", file=sys.stderr)
        sys.__excepthook__(type(exc), exc, tb)


def _compile_file(path: str, display: str) -> types.CodeType:
    try:
        with open(path, "rb") as source_file:
            source = source_file.read()
    except OSError as exc:
        raise NoSource(f"can't open file {display!r}: [Errno {exc.errno}] {exc.strerror}", 2) from None
    try:
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        _report_syntax_error(exc)
    except ValueError as exc:  # NUL bytes: compile() raises ValueError before 3.11
        _report_syntax_error(SyntaxError(str(exc)))
    RECORDER.register_code(code)
    return code


def _report_syntax_error(exc: SyntaxError) -> NoReturn:
    """Print a syntax error in the program's own code as python does: no frames of ours."""
    # The default hook prints exc.__traceback__ when the exception has one, whatever tb it is given.
    exc.__traceback__ = None
    exc.__context__ = None
    _display(exc, None)
    raise SystemExit(1) from None


def _python_set_path0() -> bool:
    """Did python put an entry for globalhook's own script (or -m cwd) at sys.path[0]?

    Not under -P (3.11+) or -I: then the program gets none either, as with python.
    """
    return not (sys.flags.isolated or getattr(sys.flags, "safe_path", False))


def _set_path0(entry: str, always: bool = False) -> None:
    """Put ``entry`` where python would: replacing the entry python made for globalhook."""
    if _python_set_path0():
        sys.path[0] = entry
    elif always:
        sys.path.insert(0, entry)


def run_path(path: str, args: Sequence[str], new_module: ModuleFactory) -> None:
    """Run a script file (or a folder / zip with ``__main__.py``) as ``python path`` would."""
    if os.path.isdir(path) or (os.path.isfile(path) and _is_zip(path)):
        # python inserts the folder / zip even under -P.
        _set_path0(os.path.abspath(path), always=True)
        sys.argv[:] = [path, *args]
        _run_main_from_path_entry(os.path.abspath(path), new_module)
        return
    absolute = os.path.abspath(path)
    if not os.path.exists(absolute):
        raise NoSource(f"can't open file {absolute!r}: [Errno 2] No such file or directory", 2)
    _set_path0(os.path.dirname(os.path.realpath(absolute)))
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
    """Run ``name`` as ``python -m name`` would."""
    # python -m puts the current directory first; globalhook's own entry is
    # the cwd only under ``python -m globalhook``, not for the installed script.
    _set_path0(os.getcwd())
    sys.argv[:] = ["-m", *args]
    _run_module_spec(name, new_module, set_argv0=True)


def _plain_loader(loader):
    """The loader python would have given ``__main__``, not globalhook's tracking one."""
    from .finder import DelegatingLoader, TrackingSourceFileLoader, TrackingSourcelessFileLoader

    if isinstance(loader, DelegatingLoader):
        return loader._loader
    if isinstance(loader, TrackingSourceFileLoader):
        return SourceFileLoader(loader.name, loader.path)
    if isinstance(loader, TrackingSourcelessFileLoader):
        return SourcelessFileLoader(loader.name, loader.path)
    return loader


def _run_module_spec(name: str, new_module: ModuleFactory, set_argv0: bool) -> None:
    try:
        # The same lookup python -m uses: imports parent packages, resolves
        # pkg -> pkg.__main__, and gives the same errors.  For a folder or zip,
        # globalhook's own __main__ must be out of the way while looking.
        if set_argv0:
            mod_name, spec, code = runpy._get_module_details(name)  # type: ignore[attr-defined]
        else:
            mod_name, spec, code = runpy._get_main_module_details()  # type: ignore[attr-defined]
    except SyntaxError as exc:
        _report_syntax_error(exc)
    except (ImportError, runpy._Error) as exc:  # type: ignore[attr-defined]
        raise NoSource(str(exc)) from None
    spec.loader = _plain_loader(spec.loader)
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
