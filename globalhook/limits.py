"""What this Python cannot observe, said in every data file and report.

A dict subclass sees only the lookups CPython routes through the mapping
protocol.  These are the ones it bypasses; they are never counted, and the
report says so rather than letting a zero look like "not read".
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not from typing
if TYPE_CHECKING:  # pragma: no cover
    from typing import List, Optional, Tuple

__all__ = ["unobservable"]

_ALWAYS = [
    "`global x` assignments and deletions inside functions (STORE_GLOBAL/DELETE_GLOBAL "
    "write the dict directly), and module-level assignments to a name that some "
    "function of the module declares `global`",
    "reads made by the interpreter in C: `from m import *`, `getattr(m, name)` / `m.name` "
    "from other modules, `name in globals()`, `globals().get(name)`, and other dict methods",
    "`eval`/`exec` given a separate locals mapping (the default inside a function): "
    "the fallback from those locals to the module globals reads the dict directly",
    "modules imported before globalhook started",
]


#: When class bodies cannot be observed at all (globalhook.classbodies.unobservable_reason).
CLASS_BODIES = (
    "class bodies reading module globals (the fallback from the class namespace uses "
    "the dict directly)"
)
#: When they can: the namespaces no retyping can observe.
CLASS_NAMESPACES = (
    "class bodies whose namespace (what a metaclass's `__prepare__` returns) is neither a dict "
    "nor an instance of a Python class (`collections.OrderedDict`, mappings written in C), or is "
    "one whose class has a metaclass or an `__init_subclass__` of its own: the fallback to the "
    "module globals reads the dict directly"
)


def unobservable(version: Tuple[int, ...] = tuple(sys.version_info[:3]), core: Optional[str] = None) -> List[str]:
    """The limits that apply to this interpreter version and core (default: the one in use), one sentence each."""
    from .classbodies import unobservable_reason

    notes = list(_ALWAYS)
    if unobservable_reason(core) is None:
        notes.insert(1, CLASS_NAMESPACES)
    else:
        notes.insert(1, f"{CLASS_BODIES}: {unobservable_reason(core)}")
    if (3, 12) <= version[:2] and version[:3] < (3, 12, 4):
        notes.append(
            "lazily evaluated scopes inside a class body: a `type` alias's value, the bounds "
            "of a method's type parameters (LOAD_FROM_DICT_OR_GLOBALS reads the dict directly "
            "before 3.12.4)"
        )
    if version[:2] >= (3, 12):
        notes.append(
            "comprehensions are inlined since 3.12 (PEP 709): their lookups are "
            "counted for the enclosing function"
        )
    return notes
