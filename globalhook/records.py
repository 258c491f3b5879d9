"""One typed record per recorded lookup, and the one place a data file is read into them.

A data file's entries say who read what in a compact, lenient shape: the
module that recorded a read is also its reader and its owner unless the
entry says otherwise (``owner``, ``reader_module``), a write found by
scanning bytecode is marked ``static``, a read outside any test has no
context.  Every view needs the answers, not the rules: they are worked out
here, once per entry, as it is loaded, and the views read fields.

:func:`read` is how views load a data file; :func:`as_records` lets their
functions also take the entry dicts of :func:`globalhook.data.load` (older
callers, tests).
"""

from __future__ import annotations

from collections import namedtuple

from .compact import rows_of
from .data import STATIC_SUFFIX, load_stored
from .gcpause import paused

TYPE_CHECKING = False  # not from typing: the text report at exit reads records too
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Iterable, List, Union

__all__ = ["Lookup", "make", "from_entry", "as_records", "lookups_of", "read"]


_FIELDS = "reader function file line owner name kind context count module static shown_kind shown_name"


class Lookup(namedtuple("Lookup", _FIELDS)):
    """A recorded lookup: who (``reader``.``function`` at ``file``:``line``) looked up what
    (``owner``:``name``, of ``kind``), in which ``context``, how many times.

    ``reader`` is the module of the reading function and ``owner`` the module
    whose namespace holds the name: they differ for reads of another module's
    attributes.  ``kind`` is as recorded (later versions may add kinds);
    ``context`` is the test (``<node id>|<phase>``), empty outside any test;
    ``module`` is the namespace that recorded it (the file's ``module``);
    ``static`` marks a write found by scanning bytecode (it can happen, how
    often is unknown: count 0).  ``shown_kind`` (``store (static)``) and
    ``shown_name`` (``owner.name`` for another module's attribute) are what
    views show.
    """

    __slots__ = ()

    def as_entry(self) -> Dict[str, Any]:
        """The entry dict of a version-1 data file that holds this lookup."""
        entry: Dict[str, Any] = {
            "module": self.module,
            "function": self.function,
            "file": self.file,
            "line": self.line,
            "name": self.name,
            "kind": self.kind,
            "count": self.count,
        }
        if self.context:
            entry["context"] = self.context
        if self.shown_name is not self.name:
            entry["owner"] = self.owner
        if self.reader != self.module:
            entry["reader_module"] = self.reader
        if self.static:
            entry["static"] = True
        return entry


def make(
    module: str,
    function: str,
    file: str,
    line: int,
    name: str,
    kind: str,
    count: int,
    context: str = "",
    owner: str = "",
    reader: str = "",
    static: bool = False,
) -> Lookup:
    """A record from a data file's fields; ``owner``/``reader`` empty when the file gives none."""
    return Lookup(
        reader or module,
        function,
        file,
        line,
        owner or module,
        name,
        kind,
        context,
        count,
        module,
        static,
        kind + STATIC_SUFFIX if static else kind,
        f"{owner}.{name}" if owner else name,
    )


def from_entry(entry: Dict[str, Any]) -> Lookup:
    """The record of a (checked) entry dict of a data file."""
    owner = entry.get("owner")
    reader = entry.get("reader_module")
    context = entry.get("context")
    return make(
        entry["module"],
        entry["function"],
        entry["file"],
        entry["line"],
        entry["name"],
        entry["kind"],
        entry["count"],
        context if isinstance(context, str) else "",
        owner if isinstance(owner, str) else "",
        reader if isinstance(reader, str) else "",
        entry.get("static") is True,
    )


def as_records(lookups: Iterable[Union[Lookup, Dict[str, Any]]]) -> List[Lookup]:
    """Records as they are; entry dicts made records (a list either way)."""
    return [item if type(item) is Lookup else from_entry(item) for item in lookups]  # type: ignore[arg-type]


def lookups_of(data: Dict[str, Any]) -> List[Lookup]:
    """The lookups of loaded data (from :func:`read`, or entry dicts from ``data.load``) as records."""
    lookups = data.get("lookups", ())
    if type(lookups) is list and all(type(item) is Lookup for item in lookups):
        return lookups
    return as_records(lookups)


def read(path: str) -> Dict[str, Any]:
    """A data file as a dict whose ``lookups`` are records; other keys as the file has them.

    Any problem is a :class:`~globalhook.data.DataError` naming the file.
    """
    data = load_stored(path)
    with paused():
        lookups = data["lookups"]
        data["lookups"] = as_records(lookups) if isinstance(lookups, list) else _from_table(lookups)
    return data


def _from_table(table: "Dict[str, Any]") -> "List[Lookup]":
    """The records of a version-2 table (:mod:`globalhook.compact`), straight from its rows
    (which it empties as it goes)."""
    records: "List[Lookup]" = []
    append = records.append
    new = tuple.__new__
    for (module, function, file, line, name, kind, owner, reader, static), row, strings in rows_of(table, consume=True):
        first = make(module, function, file, line, name, kind, 0, "", owner, reader, static)
        head, tail = first[:7], first[9:]
        for at in range(9, len(row), 2):
            append(new(Lookup, head + (strings[row[at]], row[at + 1]) + tail))
    records.extend(from_entry(entry) for entry in table.get("other", ()))
    return records
