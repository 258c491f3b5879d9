"""Text and JSON reports of recorded lookups.

Both reports group the same way: module, then function in source order,
then the names it looked up.  The question a reader usually brings is "what
global state does this function depend on", so globals come first, and names
that were not found at all are repeated per module, where they cannot be
missed.  Counts of the same name from different contexts (test ids) are added
up: a report is about names, the data file keeps the detail.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re

from globalhook.data import KINDS

TYPE_CHECKING = False  # not from typing (see globalhook/__init__.py)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, Iterable, List, Sequence, Tuple

    # (file, line, function) identifies a function within a module.
    FunctionKey = Tuple[str, int, str]

__all__ = ["text_report", "json_report"]

_WILDCARD = re.compile(r"[*?\[]")
_KIND_ORDER = {kind: index for index, kind in enumerate(KINDS)}


def _module_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """A plain name means the module and its submodules, as for the import hook."""
    plain = [p for p in patterns if not _WILDCARD.search(p)]
    wild = [p for p in patterns if _WILDCARD.search(p)]

    def matches(module: str) -> bool:
        if not patterns:
            return True
        if any(module == p or module.startswith(p + ".") for p in plain):
            return True
        return any(fnmatch.fnmatchcase(module, p) for p in wild)

    return matches


def _name_order(row: Tuple[str, str, int]) -> Tuple[int, str, str]:
    name, kind, _ = row
    return (_KIND_ORDER.get(kind, len(KINDS)), kind, name)


class _Summary:
    """The data regrouped for display; both reports are views of this."""

    def __init__(self, data: Dict[str, Any], modules: Sequence[str]) -> None:
        matches = _module_matcher([p.strip() for p in modules])
        self.patterns = list(modules)
        grouped: Dict[str, Dict[FunctionKey, Dict[Tuple[str, str], int]]] = {}
        for entry in data.get("lookups", ()):
            module = entry["module"]
            if not matches(module):
                continue
            function = (entry["file"], entry["line"], entry["function"])
            names = grouped.setdefault(module, {}).setdefault(function, {})
            key = (entry["name"], entry["kind"])
            names[key] = names.get(key, 0) + entry["count"]

        # module -> [(function key, [(name, kind, count), ...])]
        self.modules: List[Tuple[str, List[Tuple[FunctionKey, List[Tuple[str, str, int]]]]]] = []
        for module in sorted(grouped):
            functions = []
            for function in sorted(grouped[module]):
                rows = [(name, kind, count) for (name, kind), count in grouped[module][function].items()]
                functions.append((function, sorted(rows, key=_name_order)))
            self.modules.append((module, functions))

        self.not_tracked = sorted(
            {(e["module"], e["reason"]) for e in data.get("not_tracked", ()) if matches(e["module"])}
        )
        self.unobservable = _run_strings(data.get("runs", ()), "unobservable")
        self.notes = _run_strings(data.get("runs", ()), "notes")

    def missing(self, functions: Iterable[Tuple[FunctionKey, List[Tuple[str, str, int]]]]) -> List[str]:
        return sorted({name for _, rows in functions for name, kind, _ in rows if kind == "missing"})

    def totals(self) -> Dict[str, Any]:
        by_kind = {kind: 0 for kind in KINDS}
        functions = 0
        names = set()
        for module, funcs in self.modules:
            functions += len(funcs)
            for _, rows in funcs:
                for name, kind, count in rows:
                    names.add((module, name))
                    by_kind[kind] = by_kind.get(kind, 0) + count
        extra = sorted(kind for kind in by_kind if kind not in _KIND_ORDER)
        ordered = {kind: by_kind[kind] for kind in list(KINDS) + extra}
        return {
            "modules": len(self.modules),
            "functions": functions,
            "names": len(names),
            "by_kind": ordered,
            "lookups": sum(ordered.values()),
        }


def _run_strings(runs: Iterable[Any], key: str) -> List[str]:
    """One list from every run, each string once: runs are free-form, so take only lists of strings."""
    notes: Dict[str, None] = {}
    for run in runs:
        found = run.get(key) if isinstance(run, dict) else None
        if isinstance(found, list):
            notes.update((note, None) for note in found if isinstance(note, str))
    return list(notes)


def _short_path(path: str, cwd: str) -> str:
    """Paths under the current directory read better relative; others stay as they are."""
    prefix = cwd.rstrip(os.sep) + os.sep
    if os.path.isabs(path) and path.startswith(prefix):
        return path[len(prefix):]
    return path


def _table(rows: Sequence[Sequence[str]], indent: str, right: Sequence[int] = ()) -> List[str]:
    """Aligned columns separated by two spaces; columns in ``right`` are right-aligned."""
    if not rows:
        return []
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[col]) if col in right else cell.ljust(widths[col])
            for col, cell in enumerate(row)
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def text_report(data: Dict[str, Any], modules: Sequence[str] = ()) -> str:
    """A report to read at a glance: one block per module, then what was not seen, then totals."""
    summary = _Summary(data, modules)
    cwd = os.getcwd()
    lines: List[str] = []

    if not summary.modules:
        if summary.patterns:
            lines.append(f"No lookups recorded for modules matching: {', '.join(summary.patterns)}")
        else:
            lines.append("No lookups recorded.")
        lines.extend(_not_tracked_lines(summary))
        return "\n".join(lines) + "\n"

    # One width for the whole report, so the eye can run down any column.
    all_rows = [row for _, funcs in summary.modules for _, rows in funcs for row in rows]
    name_width = max(len(name) for name, _, _ in all_rows)
    kind_width = max(len(kind) for _, kind, _ in all_rows)
    count_width = max(len(str(count)) for _, _, count in all_rows)

    for module, functions in summary.modules:
        if lines:
            lines.append("")
        lines.append(module)
        for (file, line, function), rows in functions:
            lines.append(f"  {function}  ({_short_path(file, cwd)}:{line})")
            for name, kind, count in rows:
                lines.append(
                    f"    {name.ljust(name_width)}  {kind.ljust(kind_width)}  {str(count).rjust(count_width)}"
                )
        missing = summary.missing(functions)
        if missing:
            lines.append(f"  missing names: {', '.join(missing)}")

    lines.extend(_not_tracked_lines(summary))
    if summary.notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  {note}" for note in summary.notes)
    if summary.unobservable:
        lines.append("")
        lines.append("Not observable (lookups from these are never recorded):")
        lines.extend(f"  {note}" for note in summary.unobservable)

    totals = summary.totals()
    counts = [
        ("modules", totals["modules"]),
        ("functions", totals["functions"]),
        ("distinct names", totals["names"]),
    ]
    counts += [(f"{kind} lookups", number) for kind, number in totals["by_kind"].items()]
    counts.append(("total lookups", totals["lookups"]))
    lines.append("")
    lines.append("Totals:")
    lines.extend(_table([(label, str(number)) for label, number in counts], "  ", right=(1,)))
    return "\n".join(lines) + "\n"


def _not_tracked_lines(summary: _Summary) -> List[str]:
    if not summary.not_tracked:
        return []
    lines = ["", "Not tracked:"]
    lines.extend(_table(summary.not_tracked, "  "))
    return lines


def json_report(data: Dict[str, Any], modules: Sequence[str] = ()) -> str:
    """The text report's grouping as JSON, for tools; paths stay absolute."""
    summary = _Summary(data, modules)
    report = {
        "modules": [
            {
                "module": module,
                "functions": [
                    {
                        "function": function,
                        "file": file,
                        "line": line,
                        "names": [{"name": n, "kind": k, "count": c} for n, k, c in rows],
                    }
                    for (file, line, function), rows in functions
                ],
                "missing": summary.missing(functions),
            }
            for module, functions in summary.modules
        ],
        "not_tracked": [{"module": m, "reason": r} for m, r in summary.not_tracked],
        "unobservable": summary.unobservable,
        "notes": summary.notes,
        "totals": summary.totals(),
    }
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
