"""The reverse view: per module global, the functions (and tests) that read it.

The report answers "what does this function depend on"; this view answers
the question asked before changing a global: "who reads it?".  It covers the
names of a module's namespace, found (``global``) or not (``missing``), and
reads of other modules' attributes where the data records them; builtins are
left out, since nearly every function reads some.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .printable import printable
from .records import Lookup, lookups_of
from .selection import owner_of, select

__all__ = ["NAME_KINDS", "ReverseIndex", "NameReaders", "by_name_text", "by_name_json"]

#: Kinds that are reads of a module's own names.  ``attribute`` is a later
#: format's read of another module's attribute (with ``owner``/``reader_module``).
NAME_KINDS = ("global", "missing", "attribute", "read")

# (reader module, function, file, line)
ReaderKey = Tuple[str, str, str, int]


class NameReaders:
    """Who read one name of one module, and how often."""

    __slots__ = ("owner", "name", "kind", "count", "readers", "contexts")

    def __init__(self, owner: str, name: str, kind: str) -> None:
        self.owner = owner
        self.name = name
        self.kind = kind
        self.count = 0
        self.readers: Dict[ReaderKey, int] = {}
        self.contexts: Dict[str, int] = {}

    def add(self, entry: Lookup) -> None:
        count = entry.count
        self.count += count
        key = (entry.reader, entry.function, entry.file, entry.line)
        self.readers[key] = self.readers.get(key, 0) + count
        context = entry.context
        if context:
            self.contexts[context] = self.contexts.get(context, 0) + count

    def sorted_readers(self) -> List[Tuple[ReaderKey, int]]:
        """Most frequent reader first; ties in source order."""
        return sorted(self.readers.items(), key=lambda item: (-item[1], item[0]))

    def sorted_contexts(self) -> List[Tuple[str, int]]:
        return sorted(self.contexts.items(), key=lambda item: (-item[1], item[0]))


class ReverseIndex:
    """Names grouped by the module that owns them, each with its readers.

    ``modules`` selects owner modules (patterns as for ``--include``);
    ``context`` keeps only entries whose context matches (a test id pattern).
    """

    def __init__(
        self,
        data: Dict[str, Any],
        modules: Sequence[str] = (),
        context: Optional[str] = None,
        kinds: Sequence[str] = NAME_KINDS,
    ) -> None:
        wanted = set(kinds)
        found: Dict[Tuple[str, str, str], NameReaders] = {}
        for entry in select(lookups_of(data), modules, context, module_of=owner_of):
            kind = entry.kind
            if kind not in wanted:
                continue
            key = (entry.owner, entry.name, kind)
            readers = found.get(key)
            if readers is None:
                readers = found[key] = NameReaders(*key)
            readers.add(entry)
        #: owner module -> its names, sorted by name then kind
        self.modules: Dict[str, List[NameReaders]] = {}
        for key in sorted(found):
            self.modules.setdefault(key[0], []).append(found[key])

    def __iter__(self):
        for names in self.modules.values():
            yield from names


def _short_path(path: str, cwd: str) -> str:
    prefix = cwd.rstrip(os.sep) + os.sep
    return path[len(prefix):] if os.path.isabs(path) and path.startswith(prefix) else path


def by_name_text(
    data: Dict[str, Any], modules: Sequence[str] = (), context: Optional[str] = None
) -> str:
    """One block per module; under each name, its readers, most frequent first."""
    index = ReverseIndex(data, modules, context)
    cwd = os.getcwd()
    lines: List[str] = []
    if not index.modules:
        which = f" for modules matching: {', '.join(modules)}" if modules else ""
        return f"No reads of module globals recorded{which}.\n"
    for owner, names in index.modules.items():
        if lines:
            lines.append("")
        lines.append(printable(owner))
        for readers in names:
            count = len(readers.readers)
            lines.append(
                f"  {printable(readers.name)}  {printable(readers.kind)}  {readers.count}"
                f"  ({count} reader{'s' if count != 1 else ''})"
            )
            rows = []
            for (module, function, file, line), number in readers.sorted_readers():
                shown = function if module == owner else f"{module}.{function}"
                rows.append((printable(shown), f"{printable(_short_path(file, cwd))}:{line}", str(number)))
            lines.extend(_table(rows, "    "))
            if readers.contexts:
                tests = ", ".join(f"{printable(c)} ({n})" for c, n in readers.sorted_contexts())
                lines.append(f"    tests: {tests}")
    return "\n".join(lines) + "\n"


def _table(rows: List[Tuple[str, str, str]], indent: str) -> List[str]:
    widths = [max(len(row[col]) for row in rows) for col in range(3)]
    return [
        f"{indent}{a.ljust(widths[0])}  {b.ljust(widths[1])}  {c.rjust(widths[2])}".rstrip()
        for a, b, c in rows
    ]


def by_name_json(
    data: Dict[str, Any], modules: Sequence[str] = (), context: Optional[str] = None
) -> str:
    """The same as JSON, for tools; paths stay as recorded."""
    index = ReverseIndex(data, modules, context)
    names = []
    for readers in index:
        names.append(
            {
                "module": readers.owner,
                "name": readers.name,
                "kind": readers.kind,
                "count": readers.count,
                "readers": [
                    {"module": m, "function": f, "file": p, "line": ln, "count": n}
                    for (m, f, p, ln), n in readers.sorted_readers()
                ],
                "contexts": [{"context": c, "count": n} for c, n in readers.sorted_contexts()],
            }
        )
    return json.dumps({"names": names}, indent=2, sort_keys=True) + "\n"
