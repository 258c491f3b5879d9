"""What changed between two data files: each function's dependencies, added and removed.

A function is its module and qualified name: a function whose lines moved
(a new first line) is the same function.  Where one qualified name stands
for several functions (two lambdas, a redefinition), those on the same first
line are paired first, the rest in source order.  Counts of the same name
from different contexts are added up, and count changes are shown only when
asked for (``counts``): they vary from run to run, dependencies should not.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Tuple

from .data import STATIC_SUFFIX
from .printable import printable
from .records import lookups_of, read

__all__ = ["FunctionDeps", "Change", "Diff", "diff", "diff_files", "text_diff", "json_diff"]

Dep = Tuple[str, str]  # (name, kind); a write found by scanning bytecode has kind "store (static)"


class FunctionDeps:
    """One function's names in one data file."""

    __slots__ = ("module", "function", "file", "line", "deps")

    def __init__(self, module: str, function: str, file: str, line: int) -> None:
        self.module = module
        self.function = function
        self.file = file
        self.line = line
        self.deps: Dict[Dep, int] = {}


def _functions(data: Dict[str, Any]) -> Dict[Tuple[str, str], List[FunctionDeps]]:
    found: Dict[Tuple[str, str, str, int], FunctionDeps] = {}
    shared: Dict[Dep, Dep] = {}  # one tuple per distinct dependency, not one per entry
    for entry in lookups_of(data):
        key = (entry.module, entry.function, entry.file, entry.line)
        deps = found.get(key)
        if deps is None:
            deps = found[key] = FunctionDeps(*key)
        # A read of another module's attribute is shown as owner.name (names have no dots).
        dep = (entry.shown_name, entry.shown_kind)
        dep = shared.setdefault(dep, dep)
        deps.deps[dep] = deps.deps.get(dep, 0) + entry.count
    grouped: Dict[Tuple[str, str], List[FunctionDeps]] = {}
    for key in sorted(found, key=lambda k: (k[0], k[1], k[3], k[2])):
        grouped.setdefault((key[0], key[1]), []).append(found[key])
    return grouped


def _pair(
    old: List[FunctionDeps], new: List[FunctionDeps]
) -> List[Tuple[Optional[FunctionDeps], Optional[FunctionDeps]]]:
    """Same first line first, then the rest in source order; leftovers appear or disappear."""
    if len(old) == 1 and len(new) == 1:
        return [(old[0], new[0])]
    pairs: List[Tuple[Optional[FunctionDeps], Optional[FunctionDeps]]] = []
    new_at = {(f.line, f.file): f for f in new}
    rest_old = []
    for each in old:
        match = new_at.pop((each.line, each.file), None)
        if match is None:
            rest_old.append(each)
        else:
            pairs.append((each, match))
    rest_new = [f for f in new if (f.line, f.file) in new_at]
    for index in range(max(len(rest_old), len(rest_new))):
        pairs.append(
            (
                rest_old[index] if index < len(rest_old) else None,
                rest_new[index] if index < len(rest_new) else None,
            )
        )
    return pairs


class Change:
    """One function's difference: ``status`` is appeared, disappeared, changed, moved or counts."""

    __slots__ = ("module", "function", "old", "new", "added", "removed", "counts", "status")

    def __init__(
        self, old: Optional[FunctionDeps], new: Optional[FunctionDeps], threshold: Optional[int]
    ) -> None:
        either = new or old
        assert either is not None
        self.module = either.module
        self.function = either.function
        self.old = old
        self.new = new
        old_deps = old.deps if old else {}
        new_deps = new.deps if new else {}
        self.added = sorted(set(new_deps) - set(old_deps), key=_dep_order)
        self.removed = sorted(set(old_deps) - set(new_deps), key=_dep_order)
        self.counts: List[Tuple[str, str, int, int]] = []
        if threshold is not None:
            for dep in sorted(set(old_deps) & set(new_deps), key=_dep_order):
                before, after = old_deps[dep], new_deps[dep]
                if abs(after - before) > threshold:
                    self.counts.append((dep[0], dep[1], before, after))
        if old is None:
            self.status = "appeared"
        elif new is None:
            self.status = "disappeared"
        elif self.added or self.removed:
            self.status = "changed"
        elif self.counts:
            self.status = "counts"
        elif old.line != new.line:
            self.status = "moved"
        else:
            self.status = "same"

    @property
    def differs(self) -> bool:
        """True when the dependencies differ (what the exit status is about)."""
        return self.status in ("appeared", "disappeared", "changed")


_KIND_ORDER = {
    "global": 0, "builtin": 1, "missing": 2, "store": 3, "store (static)": 3, "delete": 4, "delete (static)": 4,
}


def _dep_json(name: str, kind: str) -> Dict[str, Any]:
    """A dependency as JSON: a write found by scanning bytecode is its kind plus ``"static": true``."""
    if kind.endswith(STATIC_SUFFIX):
        return {"name": name, "kind": kind[: -len(STATIC_SUFFIX)], "static": True}
    return {"name": name, "kind": kind}


def _dep_order(dep: Dep) -> Tuple[int, str, str]:
    return (_KIND_ORDER.get(dep[1], len(_KIND_ORDER)), dep[1], dep[0])


class Diff:
    """All the functions of two data files, compared."""

    def __init__(self, changes: List[Change], compared: int) -> None:
        self.changes = changes
        self.compared = compared

    @property
    def equal(self) -> bool:
        return not any(change.differs for change in self.changes)

    def count(self, status: str) -> int:
        return sum(1 for change in self.changes if change.status == status)


def diff(old: Dict[str, Any], new: Dict[str, Any], counts: Optional[int] = None) -> Diff:
    """Compare two data files' lookups; ``counts``: also report count changes larger than this."""
    return _compare(_functions(old), _functions(new), counts)


def diff_files(old: str, new: str, counts: Optional[int] = None) -> Diff:
    """:func:`diff` of two data files, read one after the other: only one file's
    records are in memory at a time (raises :class:`~globalhook.data.DataError`)."""
    old_functions = _functions(read(old))
    return _compare(old_functions, _functions(read(new)), counts)


def _compare(
    old_functions: Dict[Tuple[str, str], List[FunctionDeps]],
    new_functions: Dict[Tuple[str, str], List[FunctionDeps]],
    counts: Optional[int],
) -> Diff:
    changes = []
    compared = 0
    for key in sorted(set(old_functions) | set(new_functions)):
        for before, after in _pair(old_functions.get(key, []), new_functions.get(key, [])):
            compared += 1
            change = Change(before, after, counts)
            if change.status != "same":
                changes.append(change)
    return Diff(changes, compared)


def _short_path(path: str, cwd: str) -> str:
    prefix = cwd.rstrip(os.sep) + os.sep
    return path[len(prefix):] if os.path.isabs(path) and path.startswith(prefix) else path


def _plural(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


_MARKS = {"appeared": "+", "disappeared": "-", "changed": "~", "counts": "~", "moved": "="}


def text_diff(result: Diff, old_name: str = "OLD", new_name: str = "NEW") -> str:
    """Per module, per function: ``+``/``-`` names, ``~`` counts; then one summary line."""
    cwd = os.getcwd()
    lines = [f"--- {printable(old_name)}", f"+++ {printable(new_name)}"]
    module = None
    for change in result.changes:
        if change.status == "moved":
            continue  # counted in the summary: moving is not a change of dependencies
        if change.module != module:
            module = change.module
            lines.append(printable(module))
        where = change.new or change.old
        assert where is not None
        place = f"{printable(_short_path(where.file, cwd))}:{where.line}"
        if change.old and change.new and change.old.line != change.new.line:
            place += f", was line {change.old.line}"
        lines.append(f"  {_MARKS[change.status]} {printable(change.function)}  ({place})  {change.status}")
        rows = [("+", printable(name), printable(kind), "") for name, kind in change.added]
        rows += [("-", printable(name), printable(kind), "") for name, kind in change.removed]
        rows += [("~", printable(name), printable(kind), f"{a} -> {b}") for name, kind, a, b in change.counts]
        if rows:
            name_width = max(len(row[1]) for row in rows)
            kind_width = max(len(row[2]) for row in rows)
            for mark, name, kind, counts in rows:
                lines.append(f"      {mark} {name.ljust(name_width)}  {kind.ljust(kind_width)}  {counts}".rstrip())
    added = sum(len(c.added) for c in result.changes)
    removed = sum(len(c.removed) for c in result.changes)
    moved = result.count("moved")
    if result.equal:
        summary = f"No dependency differences ({_plural(result.compared, 'function')} compared"
        summary += f"; {moved} moved)" if moved else ")"
    else:
        parts = [
            f"{result.count('changed')} changed",
            f"{result.count('appeared')} appeared",
            f"{result.count('disappeared')} disappeared",
        ]
        summary = (
            f"Functions: {', '.join(parts)}"
            + (f", {moved} moved" if moved else "")
            + f"; names: {added} added, {removed} removed"
        )
    count_changes = sum(len(c.counts) for c in result.changes)
    if count_changes:
        summary += f"; {_plural(count_changes, 'count change')}"
    lines.append(summary)
    return "\n".join(lines) + "\n"


def _where(deps: Optional[FunctionDeps]) -> Optional[Dict[str, Any]]:
    return None if deps is None else {"file": deps.file, "line": deps.line}


def json_diff(result: Diff, old_name: str = "OLD", new_name: str = "NEW") -> str:
    """The same as JSON, moved functions included; paths as recorded."""
    report = {
        "old": old_name,
        "new": new_name,
        "equal": result.equal,
        "compared": result.compared,
        "functions": [
            {
                "module": c.module,
                "function": c.function,
                "status": c.status,
                "old": _where(c.old),
                "new": _where(c.new),
                "added": [_dep_json(n, k) for n, k in c.added],
                "removed": [_dep_json(n, k) for n, k in c.removed],
                "counts": [dict(_dep_json(n, k), old=a, new=b) for n, k, a, b in c.counts],
            }
            for c in result.changes
        ],
    }
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
