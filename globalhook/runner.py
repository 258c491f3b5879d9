"""Run a script or a module as ``__main__``, the way ``python`` would.

The program is prepared here (found, compiled, given a tracked ``__main__``)
and then executed by :func:`execute` from the command line's own frame, so
that as few of globalhook's frames as possible lie below the program's: the
console script's, ``cli.main`` and one small frame that calls ``exec``.  That
frame is made to look like what plain Python has there for a warning's
``stacklevel``: for a script, nothing (``warnings`` then attributes to
``sys``, line 1), so it has the file name ``sys``, line 1 and the globals of
``sys``; for ``-m``, runpy's ``_run_code``, so it has that function's file,
line and globals.

Uncaught exceptions are printed without globalhook's frames; then the
interpreter exits as it would have, with status 1, or by SIGINT for
``KeyboardInterrupt``.
"""

from __future__ import annotations

import builtins
import os
import sys
import types

try:  # what importlib.machinery re-exports, without importing it for the program
    from _frozen_importlib import BuiltinImporter as _BuiltinImporter
    from _frozen_importlib_external import SourceFileLoader, SourcelessFileLoader
except ImportError:  # pragma: no cover - not CPython
    from importlib.machinery import BuiltinImporter as _BuiltinImporter
    from importlib.machinery import SourceFileLoader, SourcelessFileLoader

from .globalwrites import note_code
from .tracking import RECORDER, is_tracking_dict

TYPE_CHECKING = False  # not from typing: imported before the program starts
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, NoReturn, Optional, Sequence

    ModuleFactory = Callable[[str], types.ModuleType]

__all__ = ["NoSource", "Program", "prepare_path", "prepare_module", "prepare_command"]


class NoSource(Exception):
    """The script or module to run cannot be found or read."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status  # python's: 2 for a script it cannot open, 1 for -m


class Program:
    """A program ready to run: its code, its ``__main__`` and the frame to run it from."""

    def __init__(self, code: types.CodeType, module: types.ModuleType, entry: "Callable") -> None:
        self.code = code
        self.module = module
        #: ``entry(code, namespace)`` executes the program (see the module docstring).
        self.entry = entry
        #: After the program, an interactive console in its ``__main__`` (``run -i``).
        self.interactive = False

    def install_main(self) -> None:
        """Make the program's module ``__main__``, keeping the replaced one alive."""
        _replaced_mains.append(sys.modules.get("__main__"))
        sys.modules["__main__"] = self.module

    def ended(self, exc: "Optional[BaseException]") -> int:
        """After ``entry`` returned (``exc`` None) or raised ``exc``: the exit status, or re-raise.

        Called from the ``except`` block that caught ``exc``.  ``SystemExit``
        goes on as it is; any other exception is reported as the interpreter
        would (without our frames), then re-raised so that the interpreter
        ends the process as it would have (status 1, SIGINT for
        ``KeyboardInterrupt``, ``atexit``), printing nothing more.
        """
        if exc is None:
            return 0
        if isinstance(exc, SystemExit):
            raise exc
        self.show(exc)
        sys.excepthook = _silent_excepthook
        raise exc

    def show(self, exc: BaseException) -> None:
        """Report an exception that ended the program as the interpreter does, without our frames."""
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code is not self.code:
            tb = tb.tb_next
        exc.__traceback__ = tb
        sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, tb
        if sys.version_info >= (3, 12):
            sys.last_exc = exc
        _display(exc, tb)


_replaced_mains: list = []


def _silent_excepthook(*args) -> None:
    pass


def _display(exc: BaseException, tb: "Optional[types.TracebackType]") -> None:
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


# -- the frame the program runs from -------------------------------------------


def _entry(filename: str, line: int, name: str, namespace: dict) -> "Callable":
    """A function ``(code, namespace)`` that runs ``exec`` from a frame that says
    it is ``name`` at ``filename:line``, with ``namespace`` as its globals."""
    scratch: dict = {}
    source = "def entry(code, namespace, exec=exec): exec(code, namespace)\n"
    exec(compile(source, filename, "exec", dont_inherit=True), scratch)
    made = scratch["entry"]
    changes = {"co_name": name, "co_firstlineno": line}  # its one line is its first
    if sys.version_info >= (3, 11):
        changes["co_qualname"] = name
    return types.FunctionType(made.__code__.replace(**changes), namespace, name, made.__defaults__)


def _script_entry() -> "Callable":
    # Plain python has no frame below a script: warnings then name sys
    # (3.13+: "<sys>", line 0), with the globals of sys.
    if sys.version_info >= (3, 13):
        return _entry("<sys>", 0, "<module>", sys.__dict__)
    if "coverage" in sys.modules:
        # coverage.py measures us: it would take a frame of file "sys" for a
        # source file in the current folder, and its report then fails ("No
        # source for code").  A name in <> is no file to it; its own frames
        # lie below the script anyway, so warnings never named sys here.
        return _entry("<sys>", 1, "<module>", sys.__dict__)
    return _entry("sys", 1, "<module>", sys.__dict__)


def _module_entry() -> "Callable":
    # Plain python -m has runpy's _run_code below the module: find its exec line.
    import runpy

    probe = compile("__line__ = __import__('sys')._getframe(1).f_lineno", "<globalhook>", "exec")
    line = runpy._run_code(probe, {})["__line__"]  # type: ignore[attr-defined]
    code = runpy._run_code.__code__  # type: ignore[attr-defined]
    return _entry(code.co_filename, line, code.co_name, vars(runpy))


# -- finding and compiling -----------------------------------------------------


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


def _report_syntax_error(exc: SyntaxError) -> "NoReturn":
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


def check_script(path: str) -> None:
    """Raise :class:`NoSource` as python would when ``path`` cannot be run at all."""
    if not os.path.exists(os.path.abspath(path)):
        raise NoSource(f"can't open file {os.path.abspath(path)!r}: [Errno 2] No such file or directory", 2)


def prepare_path(path: str, args: "Sequence[str]", new_module: "ModuleFactory") -> Program:
    """The script file (or folder / zip with ``__main__.py``), set up as ``python path`` would."""
    if os.path.isdir(path) or (os.path.isfile(path) and _is_zip(path)):
        # python inserts the folder / zip even under -P.
        _set_path0(os.path.abspath(path), always=True)
        sys.argv[:] = [path, *args]
        sys.path_importer_cache.pop(os.path.abspath(path), None)
        return _prepare_module_spec("__main__", new_module, set_argv0=False)
    check_script(path)
    absolute = os.path.abspath(path)
    _set_path0(os.path.dirname(os.path.realpath(absolute)))
    sys.argv[:] = [path, *args]
    code = _compile_file(absolute, absolute)
    module = new_module("__main__")
    _note_main(module, code)
    dict.update(
        module.__dict__,
        {
            "__file__": absolute,
            "__cached__": None,
            "__package__": None,
            "__spec__": None,
            "__loader__": SourceFileLoader("__main__", absolute),
            "__builtins__": builtins,
        },
    )
    return Program(code, module, _script_entry())


def prepare_command(text: str, args: "Sequence[str]", new_module: "ModuleFactory") -> Program:
    """``python -c text``: argv ``['-c', *args]``, ``sys.path[0] == ''``, code named ``<string>``."""
    _set_path0("")
    sys.argv[:] = ["-c", *args]
    try:
        code = compile(text, "<string>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        _report_syntax_error(exc)
    except ValueError as exc:  # NUL characters: compile() raises ValueError before 3.11
        _report_syntax_error(SyntaxError(str(exc)))
    RECORDER.register_code(code)
    if sys.version_info >= (3, 13):
        # python -c hands the command to linecache too, so that tracebacks show its lines.
        import linecache

        register = getattr(linecache, "_register_code", None)
        if register is not None:
            register(code if sys.version_info >= (3, 14) else "<string>", text, "<string>")
    module = new_module("__main__")
    _note_main(module, code)
    namespace = {"__package__": None, "__spec__": None, "__loader__": _BuiltinImporter, "__builtins__": builtins}
    if sys.version_info < (3, 14):
        namespace["__annotations__"] = {}  # python's __main__ is made with one before 3.14
    dict.update(module.__dict__, namespace)
    return Program(code, module, _script_entry())


def _note_main(module: types.ModuleType, code: types.CodeType) -> None:
    """A tracked ``__main__``: its `global` writes are scanned where they cannot be observed."""
    if is_tracking_dict(module.__dict__):
        note_code("__main__", code)


def _is_zip(path: str) -> bool:
    """Whether python would run ``path`` as a zip archive (zipimport accepts it)."""
    import zipimport  # already loaded: it is how python itself tells

    try:
        zipimport.zipimporter(path)
    except zipimport.ZipImportError:
        return False
    return True


def prepare_module(name: str, args: "Sequence[str]", new_module: "ModuleFactory") -> Program:
    """``name`` set up as ``python -m name`` would."""
    # python -m puts the current directory first; globalhook's own entry is
    # the cwd only under ``python -m globalhook``, not for the installed script.
    _set_path0(os.getcwd())
    sys.argv[:] = ["-m", *args]
    return _prepare_module_spec(name, new_module, set_argv0=True)


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


def _prepare_module_spec(name: str, new_module: "ModuleFactory", set_argv0: bool) -> Program:
    import runpy

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
    _note_main(module, code)
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
    return Program(code, module, _module_entry())


def main_module(new_module: "ModuleFactory") -> "types.ModuleType":
    """A ``__main__`` as the interpreter makes it for its REPL, from ``new_module`` (tracked)."""
    import builtins

    module = new_module("__main__")
    fresh = {
        "__doc__": None,
        "__package__": None,
        "__spec__": None,
        "__loader__": getattr(sys.modules.get("__main__"), "__loader__", None),
        "__builtins__": builtins,
    }
    if sys.version_info < (3, 14):
        fresh["__annotations__"] = {}
    dict.update(module.__dict__, fresh)
    return module


def prepare_console(new_module: "ModuleFactory") -> Program:
    """``globalhook repl``: no code to run, a tracked ``__main__`` for the interactive console."""
    sys.argv[:] = [""]  # what python's own REPL has
    _set_path0("")
    return Program(None, main_module(new_module), None)  # type: ignore[arg-type]
