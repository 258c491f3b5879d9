"""IPython / Jupyter: ``%load_ext globalhook`` tracks the user namespace from then on.

IPython runs every cell with ``exec(code, user_global_ns, user_ns)``, and a
function defined in a cell gets ``user_module.__dict__`` as ``__globals__``.
Loading the extension retypes that live dict in place (:mod:`globalhook.live`),
so the functions of earlier cells become tracked too, and
``globalhook.reads(f)`` works for any of them.  A cell's own top-level code is
the ``<module>`` code of its cell file (``<ipython-input-N-...>`` in a terminal,
a temporary ``.py`` file under Jupyter).

IPython itself reads and writes the user namespace too (``_``, ``Out``,
``_i3``, ``In``, the completer, ``%who``...): lookups made by code in IPython's
own packages are left out of the data, and so is the ``get_ipython`` that
IPython writes into a cell for each ``%magic`` line: the report shows cells
and the functions they define (and any tracked module).

``%globalhook stale`` lists the cells whose reads changed since they ran: each
cell runs inside a read-set collection (:mod:`globalhook.readsets`), so what it
read through functions defined in other cells counts too, and the values are
fingerprinted when it ends (:mod:`globalhook.cache`'s rule).

``%globalhook report`` prints the report (the text of ``globalhook report``),
``%globalhook save [PATH]`` writes the data file (default: the configured
one); the data is also saved when the process exits.
``%unload_ext globalhook`` stops tracking the user namespace (it becomes a plain
dict again); what was recorded is still saved at exit.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not from typing
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, List, Optional, Tuple

    from .session import Session

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

#: Packages whose code reads the user namespace for IPython's own purposes: not the user's lookups.
_OWN_PACKAGES = ("IPython", "ipykernel", "traitlets", "jedi", "prompt_toolkit", "stack_data", "executing",
                 "jupyter_client", "comm", "matplotlib_inline", "globalhook")

_state: "Dict[str, Any]" = {}


def _own_folders() -> "Tuple[str, ...]":
    folders = []
    for name in _OWN_PACKAGES:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            folders.append(os.path.dirname(os.path.abspath(path)) + os.sep)
    return tuple(folders)


def keep_entry(entry: "Dict[str, Any]") -> bool:
    """False for lookups made by IPython's own code in the user namespace, and for
    the ``get_ipython`` that IPython writes into a cell for each ``%magic`` line."""
    if entry.get("name") == "get_ipython" and entry.get("function") == "<module>":
        return False
    folders = _state.get("folders") or _own_folders()
    file = entry.get("file")
    return not (isinstance(file, str) and os.path.abspath(file).startswith(folders))


def _session() -> "Tuple[Session, bool]":
    """The session of this process (the start-up hook's or ``globalhook run``'s), or a new one."""
    from .session import current_session

    session = current_session()
    if session is not None:
        return session, False
    from .config import load_config
    from .session import Session

    config = load_config({})
    for warning in config.warnings:
        print(f"globalhook: warning: {warning}", file=sys.stderr)
    session = Session(config, ["<ipython>"], root=os.getcwd())
    session.start()
    return session, True


def load_ipython_extension(ip) -> None:
    """``%load_ext globalhook``: track ``ip``'s user namespace from now on."""
    from .live import AttachError, attach_dict

    if _state.get("shell") is ip:
        return
    try:
        session, started = _session()
    except Exception as exc:  # config or strategy problems: one line, IPython goes on untracked
        print(f"globalhook: error: {exc} (the user namespace is not tracked)", file=sys.stderr)
        return
    namespaces = [ip.user_module.__dict__]
    if ip.user_ns is not namespaces[0]:
        namespaces.append(ip.user_ns)
    try:
        for namespace in namespaces:
            attach_dict(namespace, "__main__", ip.user_module)
    except AttachError as exc:
        from .tracking import RECORDER

        RECORDER.not_tracked["__main__"] = str(exc).split(": ", 2)[-1]
        print(str(exc), file=sys.stderr)
        if started:
            session.abandon()
        return
    _state.update(shell=ip, session=session, started=started, namespaces=namespaces, folders=_own_folders(),
                  cells={}, open=None)
    session.entry_filter = keep_entry
    ip.events.register("pre_run_cell", _pre_run_cell)
    ip.events.register("post_run_cell", _post_run_cell)
    ip.register_magic_function(_magic, magic_kind="line", magic_name="globalhook")


def unload_ipython_extension(ip) -> None:
    """``%unload_ext globalhook``: the user namespace becomes a plain dict again (data still saved at exit)."""
    from .live import detach

    if _state.get("shell") is not ip:
        return
    for event, callback in (("pre_run_cell", _pre_run_cell), ("post_run_cell", _post_run_cell)):
        try:
            ip.events.unregister(event, callback)
        except ValueError:
            pass
    _close_cell()
    for namespace in _state.get("namespaces", ()):
        detach(namespace)
    _state.clear()


# -- %globalhook stale ---------------------------------------------------------------------

#: Names IPython writes into a cell for its own purposes (``%magic`` lines read get_ipython).
_IGNORED_READS = frozenset(("get_ipython",))


def _pre_run_cell(info: "Any" = None) -> None:
    from .readsets import CollectError, collect

    _close_cell()
    collection = collect()
    try:
        reads = collection.__enter__()
    except CollectError:  # another profiler in this thread: this cell's reads are not known
        return
    source = getattr(info, "raw_cell", "") or ""
    _state["open"] = (collection, reads, source)


def _close_cell() -> "Optional[Tuple[Any, str]]":
    opened = _state.get("open")
    if not opened:
        return None
    _state["open"] = None
    collection, reads, source = opened
    collection.__exit__(None, None, None)
    return reads, source


def _post_run_cell(result: "Any" = None) -> None:
    closed = _close_cell()
    if closed is None:
        return
    reads, source = closed
    from .cache import _checks_now

    number = getattr(getattr(result, "info", None), "execution_count", None) or getattr(result, "execution_count", None)
    shell = _state.get("shell")
    if number is None and shell is not None:
        number = shell.execution_count
    wanted = {key: count for key, count in reads.reads.items() if key[1] not in _IGNORED_READS}
    checks = _checks_now(wanted, reads.namespaces, f"cell [{number}]")
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    cells = _state["cells"]
    for earlier in [n for n, cell in cells.items() if cell[2] == source]:
        del cells[earlier]  # the same cell run again: its last run is the one that counts
    cells[number] = (first, checks, source)


def stale_cells() -> "List[Tuple[object, str, List[str]]]":
    """(execution count, first line, changed names) of every cell whose reads changed since it ran."""
    found = []
    for number, (first, checks, _) in list(_state.get("cells", {}).items()):
        changed = [_display(check.owner, check.name) for check in checks if check.changed()]
        if changed:
            found.append((number, first, changed))
    return found


def _display(owner: str, name: str) -> str:
    return name if owner == "__main__" else f"{owner}.{name}"


def _magic(line: str) -> None:
    """%globalhook report | save [PATH] | stale"""
    words = line.split()
    session = _state.get("session")
    if session is None:
        print("globalhook: error: not tracking (run %load_ext globalhook)", file=sys.stderr)
        return
    if words == ["stale"]:
        stale = stale_cells()
        if not stale:
            print("globalhook: no cell read a value that changed since it ran")
        for number, first, changed in stale:
            print(f"[{number}] {first[:60]}: {', '.join(changed)} changed")
        return
    if words == ["report"]:
        from .printable import escape_controls
        from .report import text_report

        sys.stdout.write(escape_controls(text_report(session.data())))
        return
    if words[:1] == ["save"] and len(words) <= 2:
        from .data import DataError

        path = os.path.abspath(os.path.expanduser(words[1])) if len(words) == 2 else session.config.data_file
        try:
            session.snapshot(path)
        except (DataError, OSError) as exc:
            print(f"globalhook: error: {path}: cannot write the data file ({exc})", file=sys.stderr)
            return
        print(f"globalhook: data written to {path}")
        return
    print("usage: %globalhook report | save [PATH] | stale", file=sys.stderr)
