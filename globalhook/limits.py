"""What this Python cannot observe, said in every data file and report.

A dict subclass sees only the lookups CPython routes through the mapping
protocol.  These are the ones it bypasses; they are never counted, and the
report says so rather than letting a zero look like "not read".
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not from typing
if TYPE_CHECKING:  # pragma: no cover
    from typing import List, Tuple

__all__ = ["unobservable"]

_ALWAYS = [
    "`global x` assignments and deletions inside functions (STORE_GLOBAL/DELETE_GLOBAL "
    "write the dict directly), and module-level assignments to a name that some "
    "function of the module declares `global`",
    "class bodies reading module globals (the fallback from the class namespace uses "
    "the dict directly)",
    "reads made by the interpreter in C: `from m import *`, `getattr(m, name)` / `m.name` "
    "from other modules, `name in globals()`, `globals().get(name)`, and other dict methods",
    "`eval`/`exec` given a separate locals mapping (the default inside a function): "
    "the fallback from those locals to the module globals reads the dict directly",
    "lookups a module made before it was tracked: a module imported before globalhook "
    "started is attached (its live namespace retyped in place) from that moment on, "
    "where this Python allows it; the others are listed under not tracked, with the reason",
]


def unobservable(version: Tuple[int, ...] = tuple(sys.version_info[:3])) -> List[str]:
    """The limits that apply to this interpreter version, one sentence each."""
    notes = list(_ALWAYS)
    if (3, 12) <= version[:2] and version[:3] < (3, 12, 4):
        notes.append(
            "class-scope annotations and type parameters (LOAD_FROM_DICT_OR_GLOBALS "
            "reads the dict directly before 3.12.4)"
        )
    if version[:2] >= (3, 12):
        notes.append(
            "comprehensions are inlined since 3.12 (PEP 709): their lookups are "
            "counted for the enclosing function"
        )
    return notes
