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
    "reads made by the interpreter in C: `from m import *`, `name in globals()`, "
    "`globals().get(name)`, and other dict methods",
    "`eval`/`exec` given a separate locals mapping (the default inside a function): "
    "the fallback from those locals to the module globals reads the dict directly",
    "modules imported before globalhook started",
]


#: Reads of a tracked module's attributes (``settings.TAX``) need a tracked
#: module of globalhook's module type: the native strategy, option on.
_ATTRIBUTES_OFF = (
    "reads of a tracked module's attributes from other code (`m.name`, `getattr(m, name)`, "
    "`from m import name`): recorded only with the native strategy and the `attributes` option on"
)
_ATTRIBUTES_ON = (
    "reads of a tracked module's attributes once the program assigned its `__class__` another "
    "module subclass (that class's attribute lookup runs), reads of dunder names (`__spec__`, "
    "`__path__`...), and reads made from C with no Python code running"
)


def unobservable(
    version: Tuple[int, ...] = tuple(sys.version_info[:3]), strategy: str = "native", attributes: bool = True
) -> List[str]:
    """The limits that apply to this interpreter version and strategy, one sentence each.

    Both cores observe the same (the attribute reads too).
    """
    notes = list(_ALWAYS)
    notes.insert(3, _ATTRIBUTES_ON if strategy == "native" and attributes else _ATTRIBUTES_OFF)
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
