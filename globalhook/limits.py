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

#: Where global writes are not counted as they happen (see globalwrites.py).
GLOBAL_WRITES_STATIC = (
    "how often `global x` assignments and deletions run (STORE_GLOBAL/DELETE_GLOBAL bypass "
    "the dict's methods; counting them needs the compiled core on CPython 3.12+): observed "
    "statically (bytecode scan), listed as `store (static)`/`delete (static)` without a count; "
    "this covers module-level assignments to a name a function declares `global`, not code "
    "`exec`uted from a string"
)

#: Where a dict watcher counts them: what it is never told of.
GLOBAL_WRITES_SAME_OBJECT = (
    "a `global x` assignment that rebinds `x` to the very object it already holds "
    "(CPython tells a dict watcher nothing when a dict entry does not change)"
)

_ALWAYS = [
    "reads made by the interpreter in C: `from m import *` of a module that is not tracked, "
    "`name in globals()`, `globals().get(name)`, and other dict methods",
    "`eval`/`exec` given a separate locals mapping (the default inside a function): "
    "the fallback from those locals to the module globals reads the dict directly",
    "lookups a module made before it was tracked: a module imported before globalhook "
    "started is attached (its live namespace retyped in place) from that moment on, "
    "where this Python allows it; the others are listed under not tracked, with the reason",
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
    version: Tuple[int, ...] = tuple(sys.version_info[:3]),
    core: Optional[str] = None,
    strategy: str = "native",
    attributes: bool = True,
) -> List[str]:
    """The limits that apply to this interpreter version, core ("c" or "python";
    default: the core in use), strategy and ``attributes`` option, one sentence each."""
    from .classbodies import unobservable_reason

    if core is None:
        from .tracking import CORE as core
    notes = [GLOBAL_WRITES_SAME_OBJECT] if core == "c" and version[:2] >= (3, 12) else [GLOBAL_WRITES_STATIC]
    reason = unobservable_reason(core)
    notes.append(CLASS_NAMESPACES if reason is None else f"{CLASS_BODIES}: {reason}")
    notes.append(_ATTRIBUTES_ON if strategy == "native" and attributes else _ATTRIBUTES_OFF)
    notes += _ALWAYS
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
