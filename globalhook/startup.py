"""Start tracking as a Python process starts (called by the installed ``.pth`` line).

It does nothing, imports nothing and prints nothing unless activated by:

- ``GLOBALHOOK_PROCESS_START``: a serialized config (what ``globalhook run``
  hands to its child processes) or the path of a TOML config file; or
- ``enabled = true`` in ``[tool.globalhook]`` of ``pyproject.toml`` in the
  current directory (or of the file ``GLOBALHOOK_CONFIG`` names).

The second check runs in every Python process started in such a folder, so it
is cheap: the file's bytes usually prove that ``enabled`` is not set (no
``enabled``, or only ``enabled = false`` lines), and only otherwise is the
file parsed, by :mod:`globalhook.toml`.  A process that is not activated
prints nothing, whatever is wrong with the config: only an activated one
reports a problem (then it runs untracked).

globalhook's own commands (``python -m globalhook ...``, the ``globalhook``
console script) are never activated: ``run`` starts its own session, and
``report`` or ``combine`` must leave no data of their own.

Activation is idempotent: a process that runs it twice still has one finder.
Processes started this way write per-process data files; ``globalhook run``
folds in those of its own run, ``globalhook combine`` any others.
"""

import os
import sys

TYPE_CHECKING = False  # neither typing nor __future__: this runs at every interpreter start
if TYPE_CHECKING:  # pragma: no cover
    from typing import List, Optional, Tuple

    from .config import Config

__all__ = ["ENV_START", "MAX_CONFIG_BYTES", "process_start", "activate", "folder_decision", "is_own_command"]

ENV_START = "GLOBALHOOK_PROCESS_START"

#: What ``__main__`` holds before the interpreter runs any of the program.
_FRESH_MAIN_KEYS = frozenset(
    ("__name__", "__doc__", "__package__", "__loader__", "__spec__", "__annotations__", "__builtins__")
)

#: File names of the console script (POSIX, Windows launcher, setuptools' script).
_SCRIPT_NAMES = ("globalhook", "globalhook.exe", "globalhook-script.py", "globalhook-script.pyw")
#: ``python -m`` module names that are globalhook's command line.
_MODULE_NAMES = ("globalhook", "globalhook.__main__")


def process_start() -> None:
    """The start-up hook: cheap and silent when not activated."""
    if is_own_command():
        return
    value = os.environ.get(ENV_START, "").strip()
    if value:
        activate(value)
    elif os.path.isfile("pyproject.toml"):
        _activate_from_config_file()


def activate(value: str) -> bool:
    """Start tracking from a ``GLOBALHOOK_PROCESS_START`` value; True when started.

    The variable asks for tracking, so a problem with it is reported (one
    line) and the process runs untracked.
    """
    from .config import ConfigError, from_json, load_config

    try:
        if value.startswith("{"):
            config, extra = from_json(value, ENV_START)
        else:
            config, extra = load_config({"config": value}, config_source=ENV_START), {}
    except ConfigError as exc:
        print(f"globalhook: error: {exc} (this process is not tracked)", file=sys.stderr)
        return False
    return _start(config, extra.get("run_id"), extra.get("root"))


#: A config file longer than this is not read by the start-up hook: real
#: ``pyproject.toml`` files are a few kilobytes, and every process started in
#: the folder would pay for parsing it.  (The ``.pth`` line has its own copy.)
MAX_CONFIG_BYTES = 1 << 18


def _activate_from_config_file() -> None:
    """``enabled = true`` in the config file activates; nothing else is said or done."""
    config, reason = folder_decision()
    if config is not None:
        _start(config, None, None)
    elif reason.startswith("error: "):  # enabled, but the rest of the config is wrong: this process's problem
        print(f"globalhook: {reason} (this process is not tracked)", file=sys.stderr)


def folder_decision() -> "Tuple[Optional[Config], str]":
    """What the start-up hook does in this folder: ``(config, why)``, config None when it does not track.

    Whatever the folder holds, this is quick and raises nothing: a file too
    big, nested too deeply or otherwise unreadable enables nothing, and
    ``why`` says so (``globalhook status`` shows it).  ``why`` starts with
    ``error: `` when the file enables tracking but something else in it is
    wrong, which an enabled process reports.
    """
    path = os.environ.get("GLOBALHOOK_CONFIG", "").strip() or "pyproject.toml"
    try:
        with open(os.path.expanduser(path), "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        return None, f"{path}: cannot be read ({exc.strerror or exc}): nothing is tracked"
    if len(raw) > MAX_CONFIG_BYTES:
        return None, f"{path}: larger than {MAX_CONFIG_BYTES >> 10} KiB, not read: nothing is tracked"
    if not may_enable(raw):
        return None, f"{path}: does not set enabled = true in [tool.globalhook]: nothing is tracked"
    try:
        enabled = _enabled(path, raw)
    except Exception as exc:  # nested too deeply, MemoryError...: give up, quietly
        return None, f"{path}: not readable ({type(exc).__name__}: {exc}): nothing is tracked"
    if not enabled:
        return None, f"{path}: does not set enabled = true in [tool.globalhook]: nothing is tracked"
    # Enabled: from here on, a problem is this process's, and is reported.
    from .config import ConfigError, OutsideProjectError, load_config

    try:
        config = load_config()
    except OutsideProjectError as exc:  # a folder's config reaching beyond the folder enables nothing
        return None, f"{exc}: nothing is tracked"
    except ConfigError as exc:
        return None, f"error: {exc}"
    except Exception as exc:  # pragma: no cover - _enabled() read the same bytes
        return None, f"{path}: not readable ({type(exc).__name__}): nothing is tracked"
    if not config.enabled:  # pragma: no cover - _enabled() said it is
        return None, f"{path}: does not set enabled = true in [tool.globalhook]: nothing is tracked"
    return config, f"{path}: enabled = true: every Python process started here is tracked (data file {config.data_file})"


def may_enable(raw: bytes) -> bool:
    """False when the bytes alone prove that no table can have ``enabled = true``.

    Without ``\\u``/``\\U`` escapes, a key or table name can only be spelled
    out: no ``globalhook``, no ``true``, or an ``enabled`` that is everywhere
    assigned ``false`` (spaces, tabs and quotes aside) means not enabled.
    Any doubt answers True (then the file is parsed), except for a file
    longer than :data:`MAX_CONFIG_BYTES`, which is never parsed.  The
    start-up ``.pth`` line inlines this (:data:`globalhook.sitehook.MAY_ENABLE`).
    """
    if len(raw) > MAX_CONFIG_BYTES:
        return False
    if b"\\u" in raw or b"\\U" in raw:
        return True
    if b"globalhook" not in raw or b"true" not in raw:
        return False
    squeezed = raw.translate(None, b" \t\"'")
    return b"enabled" in squeezed.replace(b"enabled=false", b"")


def _enabled(path: str, raw: bytes) -> bool:
    """Whether the file sets ``enabled = true`` in ``[tool.globalhook]``; a bad file does not."""
    from . import toml

    try:
        data = toml.loads(raw.decode("utf-8"))
    except toml.TooDeep:
        raise  # no config is nested like that: not worth tomllib's time in every process
    except (UnicodeDecodeError, toml.TOMLError, toml.Unsupported):
        from .config import ConfigError, parse_toml  # tomllib decides what toml refuses

        try:
            data = parse_toml(path, raw)
        except ConfigError:
            return False
    tool = data.get("tool")
    table = tool.get("globalhook") if isinstance(tool, dict) else None
    return isinstance(table, dict) and table.get("enabled") is True


def is_own_command() -> bool:
    """Is this process globalhook's own command line (the console script or ``-m globalhook``)?

    ``sys.argv`` is set when the start-up hook runs, but for ``-m`` it holds
    only ``-m`` then: the module comes from ``sys.orig_argv`` (3.10+) or, on
    Linux, from ``/proc/self/cmdline``.
    """
    argv = sys.argv
    if not argv or not argv[0]:
        return False
    if os.path.basename(argv[0]) in _SCRIPT_NAMES:
        return True
    if argv[0] != "-m":
        return False
    return _dash_m_module(getattr(sys, "orig_argv", None) or _proc_cmdline()) in _MODULE_NAMES


def _proc_cmdline() -> "List[str]":
    try:
        with open("/proc/self/cmdline", "rb") as fh:
            return [os.fsdecode(arg) for arg in fh.read().split(b"\0")]
    except OSError:
        return []


def _dash_m_module(args: "List[str]") -> "Optional[str]":
    """The module of ``python [options] -m module ...``, read as python reads its options."""
    i = 1
    while i < len(args):
        arg = args[i]
        if arg == "--check-hash-based-pycs":
            i += 2
            continue
        if arg.startswith("--") and arg != "--":
            i += 1  # --help, --version...
            continue
        if not arg.startswith("-") or arg in ("-", "--"):
            return None  # a script, stdin, or the end of the options
        for j in range(1, len(arg)):
            flag = arg[j]
            if flag in "mcWX":
                attached = arg[j + 1 :]
                if flag == "m":
                    return attached or (args[i + 1] if i + 1 < len(args) else None)
                if flag == "c":
                    return None
                if not attached:
                    i += 1  # -W/-X take the next word
                break
        i += 1
    return None


def _start(config, run_id, root) -> bool:
    from .finder import installed_hook
    from .modules import StrategyError
    from .session import Session

    if installed_hook() is not None:
        return False
    session = Session(config, primary=False, run_id=run_id, root=root)
    try:
        hook = session.start()
    except StrategyError as exc:
        print(f"globalhook: error: {exc} (this process is not tracked)", file=sys.stderr)
        return False
    _track_fresh_main(hook)
    return True


def _track_fresh_main(hook) -> None:
    """Give the program a tracked ``__main__`` before any of its code runs.

    The interpreter runs the script, ``-m`` module or ``-c`` code in whatever
    ``sys.modules["__main__"]`` holds when it starts it, so a fresh
    replacement made here is where the program's top level runs.  Only with
    the native strategy: the interpreter needs a real module there.
    """
    main = sys.modules.get("__main__")
    if main is None or hook.strategy != "native" or hook.finder.filter.excluded("__main__"):
        return
    namespace = getattr(main, "__dict__", None)
    if not isinstance(namespace, dict) or not set(namespace) <= _FRESH_MAIN_KEYS:
        return  # the program has started already: leave it alone
    tracked = hook.new_module("__main__")
    dict.update(tracked.__dict__, namespace)
    from .globalwrites import note_main

    note_main()  # its file is known once the interpreter has set __file__
    _replaced_mains.append(main)  # keep the interpreter's own __main__ alive
    sys.modules["__main__"] = tracked


_replaced_mains: list = []
