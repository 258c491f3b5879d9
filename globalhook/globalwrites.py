"""`global` writes: observed where CPython lets us, found by a bytecode scan elsewhere.

``STORE_GLOBAL`` and ``DELETE_GLOBAL`` (``global x; x = ...`` / ``del x`` in a
function, and module-level assignments to a name that some function declares
``global``) write the globals dict directly: the tracking dict's
``__setitem__``/``__delitem__`` never hear of them.

- Compiled core, CPython 3.12+: a dict watcher on every tracking dict counts
  each such write for the code object that made it (``_ctracking.c``,
  "global writes").  :func:`watch` switches it on for a new namespace.
- Everywhere else (3.9-3.11, the pure-Python core): the writes each code
  object *can* make are read from its bytecode and reported as entries with
  ``"static": true`` and count 0, so that an unobserved write never looks like
  no write at all.  Modules are noted when they are created and scanned when
  the data is built (their bytecode cache, else their source), so importing
  costs nothing more; code given to us already compiled (the program's
  ``__main__``) is scanned at once.  Code run by ``exec`` from a string is not
  scanned.

Imported before the program starts: no ``dis``, no ``typing``.
"""

from __future__ import annotations

import sys

from . import tracking

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from types import CodeType
    from typing import Dict, Iterator, List, Optional, Tuple

    _Site = Tuple[str, int, str, str, str]  # (file, first line, function, name, kind)

__all__ = ["OBSERVED", "namespace_version", "watch", "unwatch", "note_file", "note_code", "note_main", "scan", "static_entries"]

_core = None
if tracking.CORE == "c":
    from . import _ctracking as _core  # type: ignore[no-redef]

#: True where every global write is counted as it happens (the compiled core's dict watcher).
OBSERVED: bool = bool(_core is not None and getattr(_core, "WATCHES_WRITES", 0))

#: CPython's (STORE_GLOBAL, DELETE_GLOBAL, EXTENDED_ARG) per version; others ask ``dis``.
_OPCODES = {
    (3, 9): (97, 98, 144),
    (3, 10): (97, 98, 144),
    (3, 11): (97, 98, 144),
    (3, 12): (97, 98, 144),
    (3, 13): (113, 66, 71),
    (3, 14): (115, 64, 69),
}.get(sys.version_info[:2]) if sys.implementation.name == "cpython" else None


def _no_version() -> None:
    return None


#: ``namespace_version()``: a number that changes whenever a watched namespace
#: changes, by any writer (every tracking namespace is watched; :func:`watch`
#: adds others, such as the builtins).  Seen twice the same, nothing watched
#: was rebound in between.  None where dict watchers are not used (before
#: 3.12, the pure-Python core).
namespace_version = getattr(_core, "namespace_version", _no_version) if OBSERVED else _no_version


def watch(namespace: dict) -> None:
    """Count the global writes into a new tracking namespace (compiled core, 3.12+)."""
    if OBSERVED:
        _core.watch_writes(namespace)  # type: ignore[union-attr]


def lost_note() -> Optional[str]:
    """A note for the run when the dict watcher could not keep some counts (no memory)."""
    lost = _core.lost_writes() if OBSERVED else 0  # type: ignore[union-attr]
    return f"{lost} `global` write(s) could not be counted (out of memory)" if lost else None


def unwatch(namespace: dict) -> None:
    """Stop counting them (the namespace stays a tracking dict for reads)."""
    if OBSERVED:
        _core.unwatch_writes(namespace)  # type: ignore[union-attr]


# -- the static scan ---------------------------------------------------------------

#: module name -> file, for tracked modules whose bytecode is read when the data is built.
_files: Dict[str, str] = {}
#: (module, file, line, function, name, kind) found in code handed over already compiled.
_found: Dict[Tuple[str, str, int, str, str, str], None] = {}
#: file -> its write sites, once read.
_scanned: Dict[str, List[_Site]] = {}


def note_file(module: str, path: Optional[str]) -> None:
    """A tracked module is loaded from ``path``: its writes are scanned when the data is built."""
    if not OBSERVED and isinstance(path, str) and path.endswith((".py", ".pyc", ".pyw")):
        _files.setdefault(module, path)


def note_main() -> None:
    """The interpreter runs a tracked ``__main__`` itself (start-up hook): scan its ``__file__`` later."""
    if not OBSERVED:
        _files.setdefault("__main__", "")


def note_code(module: str, code: CodeType) -> None:
    """A tracked module's code, already compiled (the program's ``__main__``): scan it now."""
    if OBSERVED:
        return
    for file, line, function, name, kind in scan(code):
        _found[(module, file, line, function, name, kind)] = None


def scan(code: CodeType) -> List[_Site]:
    """(file, first line, function, name, kind) of every global write in a module's code tree."""
    sites: List[_Site] = []
    for each, qualname in tracking._code_tree(code):
        for name, kind in _writes(each):
            sites.append((each.co_filename, each.co_firstlineno, qualname, name, kind))
    return sites


def _writes(code: CodeType) -> Iterator[Tuple[str, str]]:
    """(name, "store"/"delete") of each STORE_GLOBAL/DELETE_GLOBAL in one code object, in order."""
    if _OPCODES is None:
        yield from _dis_writes(code)
        return
    store, delete, extended_arg = _OPCODES
    raw = code.co_code
    names = code.co_names
    seen = set()
    for op in (store, delete):
        start = raw.find(op)
        while start >= 0:
            if start % 2 == 0:  # an opcode, not an argument byte
                arg = raw[start + 1]
                shift, back = 8, start - 2
                while back >= 0 and raw[back] == extended_arg:
                    arg |= raw[back + 1] << shift
                    shift += 8
                    back -= 2
                found = (names[arg], "store" if op == store else "delete")
                if found not in seen:
                    seen.add(found)
                    yield found
            start = raw.find(op, start + 1)


def _dis_writes(code: CodeType) -> Iterator[Tuple[str, str]]:  # pragma: no cover - not CPython 3.9-3.14
    import dis

    seen = set()
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("STORE_GLOBAL", "DELETE_GLOBAL"):
            found = (instruction.argval, "store" if instruction.opname == "STORE_GLOBAL" else "delete")
            if found not in seen:
                seen.add(found)
                yield found


def _file_sites(path: str) -> List[_Site]:
    """The write sites of one module file: its fresh bytecode cache, else its source compiled."""
    found = _scanned.get(path)
    if found is None:
        code = tracking._file_code(path)  # None: gone, changed or not Python: nothing to say
        found = _scanned[path] = scan(code) if code is not None else []
    return found


def static_entries() -> List[dict]:
    """Data-file entries (``"static": true``, count 0) for every write found by scanning."""
    if OBSERVED:
        return []
    keys = dict(_found)
    for module, path in list(_files.items()):
        if not path:  # a __main__ the interpreter ran: its file, if it has one and is still tracked
            main = sys.modules.get(module)
            path = getattr(main, "__file__", None)
            if not (isinstance(path, str) and path.endswith((".py", ".pyw")) and tracking.is_tracking_dict(getattr(main, "__dict__", None))):
                continue
        for file, line, function, name, kind in _file_sites(path):
            keys[(module, file, line, function, name, kind)] = None
    return [
        {
            "module": module,
            "function": function,
            "file": file,
            "line": line,
            "name": name,
            "kind": kind,
            "count": 0,
            "static": True,
        }
        for module, file, line, function, name, kind in sorted(keys)
    ]


tracking.add_entries(static_entries)  # the recorder adds them to its lookups
