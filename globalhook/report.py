"""Text and JSON reports of recorded lookups.

Both reports group the same way: module, then function in source order,
then the names it looked up.  The question a reader usually brings is "what
global state does this function depend on", so the text report shows, per
function, the globals, builtins and missing names it read; stores into the
module (mostly the module's own definitions) are one line per module unless
asked for (``show_stores``).  Counts of the same name from different
contexts (test ids) are added up: a report is about names, the data file
keeps the detail.

Every string in a data file came from the program that was run: the text
report escapes anything that would not print as itself (:mod:`printable`),
so a name cannot fake report lines or colour the terminal.

Both reports are linear in the number of entries: a data file of 10^5
functions is reported in well under a second (``benchmarks/scale.py``).
"""

from __future__ import annotations

import fnmatch
import json
import operator
import os
import re
import shlex

from .data import KINDS, STATIC_SUFFIX
from .gcpause import paused
from .printable import printable
from .records import Lookup, lookups_of
from .toolreads import is_tool_module

TYPE_CHECKING = False  # not from typing (see globalhook/__init__.py)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

    # (file, line, function) identifies a function within a module.
    FunctionKey = Tuple[str, int, str]
    Row = Tuple[str, str, int]  # (name, kind, count)

__all__ = ["Summary", "text_report", "json_report", "render_text", "render_json", "header", "NO_DATA"]

NO_DATA = "No data to report."

_WILDCARD = re.compile(r"[*?\[]")
_KIND_ORDER = {kind: index for index, kind in enumerate(KINDS)}
#: Totals lines of the kinds that are not name lookups (environment variables, settings).
_CONFIG_TOTALS = {"read": "configuration reads", "write": "configuration writes"}
#: Kinds that write the module's namespace rather than read it.
_WRITES = ("store", "delete")
#: Names listed on a module's one-line summary of stores before "+N more".
_STORES_SHOWN = 12
#: At most this many distinct values of one run field in the header.
_HEADER_VALUES = 3


def _module_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """A plain name means the module and its submodules, as for the import hook."""
    plain = [p for p in patterns if not _WILDCARD.search(p)]
    wild = [re.compile(fnmatch.translate(p)) for p in patterns if _WILDCARD.search(p)]

    def matches(module: str) -> bool:
        if not patterns:
            return True
        if any(module == p or module.startswith(p + ".") for p in plain):
            return True
        return any(regex.match(module) for regex in wild)

    return matches


_FIELDS = operator.itemgetter(
    *(Lookup._fields.index(field) for field in ("module", "file", "line", "function", "shown_name", "shown_kind", "count"))
)


def _name_order(row: Row) -> Tuple[float, str, str]:
    name, kind, _ = row
    order = _KIND_ORDER.get(kind)
    if order is None:  # a write found by scanning bytecode goes right after the counted ones
        order = _KIND_ORDER.get(kind[: -len(STATIC_SUFFIX)], len(KINDS)) + 0.5 if _is_static(kind) else len(KINDS)
    return (order, kind, name)


def _is_static(kind: str) -> bool:
    """A row's kind that stands for a write found by scanning bytecode (``store (static)``)."""
    return kind.endswith(STATIC_SUFFIX)


class Summary:
    """The data regrouped for display; both reports (and other views) read this."""

    def __init__(self, data: Dict[str, Any], modules: Sequence[str] = ()) -> None:
        with paused():
            self._build(data, modules)

    def _build(self, data: Dict[str, Any], modules: Sequence[str]) -> None:
        self.patterns = [p.strip() for p in modules]
        matches = _module_matcher(self.patterns)
        verdicts: Dict[str, bool] = {}
        grouped: Dict[str, Dict[FunctionKey, Dict[Tuple[str, str], int]]] = {}
        module_functions: Optional[Dict[FunctionKey, Dict[Tuple[str, str], int]]] = None
        last_module = None
        # A static write's kind is never summed with counted writes' (a row of its
        # own); a read of another module's attribute shows as owner.name.
        for module, file, line, function, name, kind, count in map(_FIELDS, lookups_of(data)):
            if module != last_module:  # entries come grouped by module: decide once per run of them
                last_module = module
                wanted = verdicts.get(module)
                if wanted is None:
                    wanted = verdicts[module] = matches(module)
                module_functions = grouped.setdefault(module, {}) if wanted else None
            if module_functions is None:
                continue
            key = (file, line, function)
            names = module_functions.get(key)
            if names is None:
                names = module_functions[key] = {}
            row = (name, kind)
            names[row] = names.get(row, 0) + count

        #: module -> [(function key, [(name, kind, count), ...])], modules by name, functions in source order.
        self.modules: List[Tuple[str, List[Tuple[FunctionKey, List[Row]]]]] = []
        for module in sorted(grouped):
            if not grouped[module]:
                continue
            functions = []
            for function, names in sorted(grouped[module].items(), key=_first):
                if len(names) == 1:
                    [((name, kind), count)] = names.items()
                    functions.append((function, [(name, kind, count)]))
                else:
                    rows = [(name, kind, count) for (name, kind), count in names.items()]
                    rows.sort(key=_name_order)
                    functions.append((function, rows))
            self.modules.append((module, functions))

        self.not_tracked = sorted(
            {(e["module"], e["reason"]) for e in data.get("not_tracked", ()) if matches(e["module"])}
        )
        self.runs = [run for run in data.get("runs", ()) if isinstance(run, dict)]
        self.unobservable = _run_strings(self.runs, "unobservable")
        self.notes = _run_strings(self.runs, "notes")

    def missing(self, functions: Iterable[Tuple[FunctionKey, List[Row]]]) -> List[str]:
        return sorted({name for _, rows in functions for name, kind, _ in rows if kind == "missing"})

    def totals(self) -> Dict[str, Any]:
        by_kind = {kind: 0 for kind in KINDS}
        functions = 0
        names = set()
        static = 0
        for module, funcs in self.modules:
            functions += len(funcs)
            for _, rows in funcs:
                for name, kind, count in rows:
                    names.add((module, name))
                    if _is_static(kind):
                        static += 1  # a place that can write, not a count: never added to counts
                        continue
                    by_kind[kind] = by_kind.get(kind, 0) + count
        extra = sorted(kind for kind in by_kind if kind not in _KIND_ORDER)
        ordered = {kind: by_kind[kind] for kind in list(KINDS) + extra}
        totals = {
            "modules": len(self.modules),
            "functions": functions,
            "names": len(names),
            "by_kind": ordered,
            "lookups": sum(ordered.values()),
        }
        if static:
            totals["static_writes"] = static
        return totals


def _first(item: Tuple[Any, Any]) -> Any:
    return item[0]


def _run_strings(runs: Iterable[Dict[str, Any]], key: str) -> List[str]:
    """One list from every run, each string once: runs are free-form, so take only lists of strings."""
    notes: Dict[str, None] = {}
    for run in runs:
        found = run.get(key)
        if isinstance(found, list):
            notes.update((note, None) for note in found if isinstance(note, str))
    return list(notes)


# -- the header: which runs the report shows ------------------------------------------------


def _when(started: object) -> str:
    """'2026-11-24T10:00:00+00:00' as '2026-11-24 10:00:00 UTC'."""
    if not isinstance(started, str):
        return ""
    text = started.replace("T", " ", 1)
    return text[: -len("+00:00")] + " UTC" if text.endswith("+00:00") else text


def _command(command: object) -> str:
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        return ""
    text = " ".join(shlex.quote(arg) for arg in command)
    return text if len(text) <= 60 else text[:57] + "..."


def _python(run: Dict[str, Any]) -> str:
    version, implementation = run.get("python"), run.get("implementation")
    if not isinstance(version, str):
        return ""
    if isinstance(implementation, str) and implementation not in ("", "cpython"):
        return f"{implementation} {version}"
    return f"Python {version}"


def _distinct(values: Iterable[str]) -> str:
    seen = list(dict.fromkeys(v for v in values if v))
    if len(seen) > _HEADER_VALUES:
        return ", ".join(seen[:_HEADER_VALUES]) + f", +{len(seen) - _HEADER_VALUES} more"
    return ", ".join(seen)


def header(runs: List[Dict[str, Any]]) -> str:
    """One line naming the run(s) the data comes from: command, when, Python, core, strategy.

    Processes of one ``globalhook run`` share a ``run_id``; each run is
    named by its first process (the one ``run`` started).  Empty when the
    runs say nothing of these.
    """
    groups: Dict[object, List[Dict[str, Any]]] = {}
    for index, run in enumerate(runs):
        run_id = run.get("run_id")
        groups.setdefault(run_id if isinstance(run_id, str) else index, []).append(run)
    firsts = [min(group, key=lambda run: _when(run.get("started")) or "~") for group in groups.values()]
    times = sorted(t for t in (_when(run.get("started")) for run in runs) if t)
    when = ""
    if times:
        when = times[0] if times[0] == times[-1] else f"{times[0]} to {times[-1]}"
    fields = [
        _distinct(_command(run.get("command")) for run in firsts),
        when,
        _distinct(_python(run) for run in runs),
        _distinct(f"core {run['core']}" for run in runs if isinstance(run.get("core"), str)),
        _distinct(f"strategy {run['strategy']}" for run in runs if isinstance(run.get("strategy"), str)),
    ]
    fields = [printable(field) for field in fields if field]
    if not fields:
        return ""
    count = len(groups)
    processes = f" ({len(runs)} processes)" if len(runs) > count else ""
    label = f"Run{processes}:" if count == 1 else f"Runs: {count}{processes} |"
    return f"{label} {' | '.join(fields)}"


# -- text ------------------------------------------------------------------------------------


def _short_path(path: str, prefix: str) -> str:
    """Paths under the current directory read better relative; others stay as they are."""
    if path.startswith(prefix) and os.path.isabs(path):
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


def _names_line(label: str, names: List[str]) -> str:
    shown = ", ".join(printable(name) for name in names[:_STORES_SHOWN])
    more = f", +{len(names) - _STORES_SHOWN} more" if len(names) > _STORES_SHOWN else ""
    return f"  {label}: {shown}{more}"


def text_report(data: Dict[str, Any], modules: Sequence[str] = (), show_stores: bool = False) -> str:
    """A report to read at a glance: which runs, one block per module, what was not seen, totals.

    Per function: the names it read (globals, builtins, missing), and with
    ``show_stores`` the names it stored or deleted; without, each module
    ends with one line naming what was stored into it.
    """
    return render_text(Summary(data, modules), show_stores)


def render_text(summary: Summary, show_stores: bool = False) -> str:
    """:func:`text_report` of data already summarised."""
    with paused():
        return _render_text(summary, show_stores)


def _render_text(summary: Summary, show_stores: bool) -> str:
    lines: List[str] = []
    top = header(summary.runs)

    if not summary.modules:
        lines.append(NO_DATA)
        if summary.patterns:
            lines.append(f"No lookups recorded for modules matching: {printable(', '.join(summary.patterns))}")
        if top:
            lines.append(top)
        lines.extend(_not_tracked_lines(summary))
        return "\n".join(lines) + "\n"

    if top:
        lines.append(top)
    cwd_prefix = os.getcwd().rstrip(os.sep) + os.sep
    shown_paths: Dict[str, str] = {}

    # (module line, [(function line, rows)], summary lines), every string already printable.
    blocks = []
    # One width for the whole report, so the eye can run down any column.
    name_width = kind_width = count_width = 0
    for module, functions in summary.modules:
        shown_functions = []
        stored: Dict[str, None] = {}
        deleted: Dict[str, None] = {}
        stored_static: Dict[str, None] = {}
        deleted_static: Dict[str, None] = {}
        for (file, line, function), rows in functions:
            shown_rows = []
            for name, kind, count in rows:
                if not show_stores and (kind == "store" or kind == "delete"):
                    (stored if kind == "store" else deleted)[name] = None
                    continue
                static = _is_static(kind)
                if static and not show_stores:
                    (stored_static if kind.startswith("store") else deleted_static)[name] = None
                    continue
                if not name.isprintable():
                    name = repr(name)
                if not kind.isprintable():
                    kind = repr(kind)
                count = "-" if static else str(count)  # found by a scan: how often is unknown
                if len(name) > name_width:
                    name_width = len(name)
                if len(kind) > kind_width:
                    kind_width = len(kind)
                if len(count) > count_width:
                    count_width = len(count)
                shown_rows.append((name, kind, count))
            if not shown_rows:
                continue
            path = shown_paths.get(file)
            if path is None:
                path = shown_paths[file] = printable(_short_path(file, cwd_prefix))
            shown_functions.append((f"  {printable(function)}  ({path}:{line})", shown_rows))
        extra = []
        missing = summary.missing(functions)
        if missing:
            extra.append(f"  missing names: {', '.join(printable(name) for name in missing)}")
        if stored:
            extra.append(_names_line("stored", sorted(stored)))
        if deleted:
            extra.append(_names_line("deleted", sorted(deleted)))
        if stored_static:
            extra.append(_names_line("stored (static)", sorted(stored_static)))
        if deleted_static:
            extra.append(_names_line("deleted (static)", sorted(deleted_static)))
        blocks.append((printable(module), shown_functions, extra))

    row = f"    {{:<{name_width}}}  {{:<{kind_width}}}  {{:>{count_width}}}".format
    append = lines.append
    # The tools' own modules last, under a heading: their reads are not the project's.
    tools = [is_tool_module(module) for module, _ in summary.modules]
    ordered = [block for block, tool in zip(blocks, tools) if not tool]
    ordered += [block for block, tool in zip(blocks, tools) if tool]
    first_tool = len(ordered) - sum(tools)
    for index, (module, functions, extra) in enumerate(ordered):
        if lines:
            append("")
        if index == first_tool:
            append(TOOLS_HEADING)
            append("")
        append(module)
        for function_line, rows in functions:
            append(function_line)
            for name, kind, count in rows:
                append(row(name, kind, count))
        lines.extend(extra)

    lines.extend(_not_tracked_lines(summary))
    if summary.notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  {printable(note)}" for note in summary.notes)
    if summary.unobservable:
        lines.append("")
        lines.append("Not observable (lookups from these are never recorded):")
        lines.extend(f"  {printable(note)}" for note in summary.unobservable)

    totals = summary.totals()
    counts = [
        ("modules", totals["modules"]),
        ("functions", totals["functions"]),
        ("distinct names", totals["names"]),
    ]
    counts += [
        (_CONFIG_TOTALS.get(kind) or f"{printable(kind)} lookups", number)
        for kind, number in totals["by_kind"].items()
        if number or kind not in _CONFIG_TOTALS  # configuration reads: shown once a run has them
    ]
    counts.append(("total lookups", totals["lookups"]))
    if "static_writes" in totals:
        counts.append(("static write sites", totals["static_writes"]))
    lines.append("")
    lines.append("Totals:")
    lines.extend(_table([(label, str(number)) for label, number in counts], "  ", right=(1,)))
    return "\n".join(lines) + "\n"


#: Above the modules of tools (pytest, inspect...) in the text report.
TOOLS_HEADING = "Read by tools (pytest, inspect, importlib...; check leaves these out):"


def _not_tracked_lines(summary: Summary) -> List[str]:
    if not summary.not_tracked:
        return []
    lines = ["", "Not tracked:"]
    lines.extend(_table([(printable(m), printable(r)) for m, r in summary.not_tracked], "  "))
    return lines


# -- JSON ------------------------------------------------------------------------------------

_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def json_report(data: Dict[str, Any], modules: Sequence[str] = ()) -> str:
    """The text report's grouping as JSON, for tools; paths stay absolute, every kind is listed.

    Laid out as ``json.dumps(..., indent=2, sort_keys=True)`` would, except
    that each name is one line: written directly rather than by the
    pure-Python encoder that ``indent`` selects, which takes seconds for
    10^5 functions.
    """
    return render_json(Summary(data, modules))


def render_json(summary: Summary) -> str:
    """:func:`json_report` of data already summarised."""
    with paused():
        return "".join(json_chunks(summary))


def json_chunks(summary: Summary) -> Iterator[str]:
    """:func:`render_json` in pieces, to write as they come: a big report is never one string."""
    out: List[str] = ['{\n  "modules": [']
    for index, (module, functions) in enumerate(summary.modules):
        out.append("\n    {\n      \"functions\": [" if index == 0 else ",\n    {\n      \"functions\": [")
        for number, ((file, line, function), rows) in enumerate(functions):
            names = ",\n".join(_json_row(name, kind, count) for name, kind, count in rows)
            out.append(
                ("\n" if number == 0 else ",\n")
                + f'        {{\n          "file": {_string(file)},\n          "function": {_string(function)},\n'
                f'          "line": {line},\n          "names": [\n{names}\n          ]\n        }}'
            )
        out.append("\n      ],\n" if functions else "],\n")
        missing = json.dumps(summary.missing(functions), indent=2)
        out.append(f'      "missing": {_indent(missing, 6)},\n      "module": {_string(module)}\n    }}')
        yield "".join(out)
        out.clear()
    out.append("\n  ],\n" if summary.modules else "],\n")
    rest = {
        "not_tracked": [{"module": m, "reason": r} for m, r in summary.not_tracked],
        "notes": summary.notes,
        "totals": summary.totals(),
        "unobservable": summary.unobservable,
    }
    tail = json.dumps(rest, indent=2, sort_keys=True)
    out.append(tail[2:])  # without its "{\n": the keys continue the object opened above
    yield "".join(out) + "\n"


def _json_row(name: str, kind: str, count: int) -> str:
    """One name of a function: a read of another module's attribute (``owner.name``) with
    its owner, a write found by scanning bytecode (``store (static)``) with ``"static": true``."""
    static = ""
    if _is_static(kind):
        kind = kind[: -len(STATIC_SUFFIX)]
        static = ', "static": true'
    owner, dot, attribute = name.rpartition(".")  # names are identifiers (or placeholders): no dots
    if dot:
        return (
            f'            {{"count": {count}, "kind": {_string(kind)}, "name": {_string(attribute)}, '
            f'"owner": {_string(owner)}{static}}}'
        )
    return f'            {{"count": {count}, "kind": {_string(kind)}, "name": {_string(name)}{static}}}'


def _indent(text: str, spaces: int) -> str:
    return text.replace("\n", "\n" + " " * spaces)
