"""Start tracking as a Python process starts (called by the installed ``.pth`` line).

It does nothing, and imports nothing, unless activated by:

- ``GLOBALHOOK_PROCESS_START``: a serialized config (what ``globalhook run``
  hands to its child processes) or the path of a TOML config file; or
- ``enabled = true`` in ``[tool.globalhook]`` of ``pyproject.toml`` in the
  current directory.

Activation is idempotent: a process that runs it twice still has one finder.
Processes started this way write per-process data files; ``globalhook run``
folds in those of its own run, ``globalhook combine`` any others.
"""

from __future__ import annotations

import os
import sys

__all__ = ["ENV_START", "process_start", "activate"]

ENV_START = "GLOBALHOOK_PROCESS_START"

#: What ``__main__`` holds before the interpreter runs any of the program.
_FRESH_MAIN_KEYS = frozenset(
    ("__name__", "__doc__", "__package__", "__loader__", "__spec__", "__annotations__", "__builtins__")
)


def process_start() -> None:
    """The start-up hook: cheap when not activated."""
    value = os.environ.get(ENV_START, "").strip()
    if value:
        activate(value)
    elif os.path.isfile("pyproject.toml"):
        _activate_from_pyproject()


def activate(value: str) -> bool:
    """Start tracking from a ``GLOBALHOOK_PROCESS_START`` value; True when started."""
    from .config import ConfigError, from_json, load_config

    try:
        if value.startswith("{"):
            config, extra = from_json(value, ENV_START)
        else:
            config, extra = load_config({"config": value}), {}
    except ConfigError as exc:
        print(f"globalhook: error: {exc} (this process is not tracked)", file=sys.stderr)
        return False
    return _start(config, extra.get("run_id"), extra.get("root"))


def _activate_from_pyproject() -> None:
    try:
        with open("pyproject.toml", "rb") as fh:
            if b"globalhook" not in fh.read():
                return
    except OSError:
        return
    from .config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as exc:
        print(f"globalhook: error: {exc} (this process is not tracked)", file=sys.stderr)
        return
    if config.enabled:
        _start(config, None, None)


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
    _replaced_mains.append(main)  # keep the interpreter's own __main__ alive
    sys.modules["__main__"] = tracked


_replaced_mains: list = []
