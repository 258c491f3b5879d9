"""Which lookups a view shows, and whose they are.

The views (``html``, ``report --by-name``, ``check``) select modules with the
patterns of ``--include`` (:mod:`globalhook.patterns`): a plain name is that
module and its submodules, a wildcard is matched against the whole dotted
name.  A bad pattern is an error, never a silent "matches nothing".

A lookup's ``module`` is both the module whose globals were read and the
module of the function that read them, except for reads of another module's
globals (its attributes, or its namespace through ``vars(m)[name]`` and
``frame.f_globals[name]``), which carry explicit ``owner`` and
``reader_module`` keys; :mod:`globalhook.records` works that out once per
entry, and :func:`owner_of` and :func:`reader_of` read it from a record (or
from an entry dict, for views not converted yet).  Reads that tools make (pytest's collection probes,
``inspect``...) are told apart by :func:`is_tool_read`.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from .patterns import PatternError, validate_pattern
from .records import Lookup
from .toolreads import TOOL_PACKAGES, is_tool_module

__all__ = [
    "module_matcher",
    "name_matcher",
    "context_matcher",
    "owner_of",
    "reader_of",
    "TOOL_PACKAGES",
    "is_tool_read",
    "select",
]

_WILDCARD = re.compile(r"[*?\[]")
# A global's name: identifier characters and fnmatch syntax.
_NAME_PATTERN = re.compile(r"^(?:[\w*?]|\[!?[\w-]+\])+$")


def module_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """A test for module names; no patterns at all means every module.

    Raises :class:`PatternError` naming the first bad pattern.
    """
    checked = [validate_pattern(p) for p in patterns]
    if not checked:
        return lambda module: True
    plain = tuple(p for p in checked if not _WILDCARD.search(p))
    prefixes = tuple(p + "." for p in plain)
    wild = [fnmatch.translate(p) for p in checked if _WILDCARD.search(p)]
    regex = re.compile("|".join(f"(?:{w})" for w in wild)) if wild else None

    def matches(module: str) -> bool:
        if module in plain or module.startswith(prefixes):
            return True
        return regex is not None and regex.match(module) is not None

    return matches


def name_matcher(pattern: str) -> Callable[[str], bool]:
    """A test for a global's name: ``*`` is every name, ``CONFIG_*`` a family."""
    text = pattern.strip() if isinstance(pattern, str) else ""
    if not text or not _NAME_PATTERN.match(text):
        raise PatternError(f"name pattern {pattern!r} cannot match a Python name")
    if not _WILDCARD.search(text):
        return lambda name: name == text
    regex = re.compile(fnmatch.translate(text))
    return lambda name: regex.match(name) is not None


def context_matcher(pattern: Optional[str]) -> Callable[[Dict[str, Any]], bool]:
    """A test for entries by their ``context`` (a test id): ``fnmatch``, case-sensitive.

    With a pattern, entries without a context are left out.
    """
    if pattern is None:
        return lambda entry: True
    if not pattern.strip():
        raise PatternError("empty context pattern")
    match = re.compile(fnmatch.translate(pattern)).match

    def matches(entry: Any) -> bool:
        if type(entry) is Lookup:
            return bool(entry.context) and match(entry.context) is not None
        return "context" in entry and match(entry["context"]) is not None

    return matches


def owner_of(entry: Any) -> str:
    """The module whose global was read."""
    if type(entry) is Lookup:
        return entry.owner
    if "owner" in entry:
        owner = entry["owner"]
        if isinstance(owner, str) and owner:
            return owner
    return entry["module"]


def reader_of(entry: Any) -> str:
    """The module of the function that read it."""
    if type(entry) is Lookup:
        return entry.reader
    if "reader_module" in entry:
        reader = entry["reader_module"]
        if isinstance(reader, str) and reader:
            return reader
    return entry["module"]


def is_tool_read(entry: Any) -> bool:
    """A read of a module's global made by a tool's code (:mod:`globalhook.toolreads`).

    Only reads of *another* module's globals (entries with an ``owner``):
    whatever a tracked module reads of its own namespace is its own.
    """
    reader = reader_of(entry)
    return reader != owner_of(entry) and is_tool_module(reader)


def select(
    lookups: Iterable[Dict[str, Any]],
    modules: Sequence[str] = (),
    context: Optional[str] = None,
    module_of: Callable[[Dict[str, Any]], str] = reader_of,
) -> List[Dict[str, Any]]:
    """The entries whose module (``module_of``) and context match (bad patterns raise at once)."""
    matches = module_matcher(modules)
    in_context = context_matcher(context)
    if not modules and context is None:
        return list(lookups)
    cache: Dict[str, bool] = {}
    chosen = []
    for entry in lookups:
        module = module_of(entry)
        wanted = cache.get(module)
        if wanted is None:
            wanted = cache[module] = matches(module)
        if wanted and in_context(entry):
            chosen.append(entry)
    return chosen
