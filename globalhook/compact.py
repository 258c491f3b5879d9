"""The lookups of a version-2 data file: a string table and rows of integers.

Per-test data repeats itself: the same function reads the same names in
hundreds of tests, and version 1 spelled out module, function, file, name and
kind in every entry (click's suite: 15.8 MB).  Version 2 keeps the same
entries, in the same order, as::

    "lookups": {
      "fields": ["module", "function", "file", "line", "name", "kind", "owner", "reader_module", "static"],
      "strings": ["", "app.core", ...],
      "rows": [[1, 2, 3, 10, 4, 5, 0, 0, 0,  6, 1, 7, 2], ...]
    }

Each row is one lookup key (the ``fields``; strings by their index in
``strings``, ``line`` a number, ``static`` 0 or 1, index 0 being the empty
string that stands for "none") followed by (context, count) pairs: the
contexts it happened in (0: outside any test) and how often.  Consecutive
entries of one key share a row, so the rows keep version 1's order.  An entry
with keys this version does not know is kept as it is, under ``other``.

Still JSON, still text: a reader in any language decodes it in a few lines,
and ``globalhook export`` writes version 1's shape for tools that want it.
This module imports nothing: it runs at the exit of every tracked process.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, Iterator, List, NoReturn, Tuple

__all__ = ["FIELDS", "encode", "decode", "check", "rows_of"]

#: The key of a row, in order; ``owner`` and ``reader_module`` are 0 (empty) when the entry has none.
FIELDS = ("module", "function", "file", "line", "name", "kind", "owner", "reader_module", "static")
_WIDTH = len(FIELDS)
#: The keys an entry may have to fit a row.
_KNOWN = frozenset(FIELDS) | {"context", "count"}


def encode(lookups: "List[Dict[str, Any]]") -> "Dict[str, Any]":
    """The compact form of checked entries (in the order given, which decoding keeps)."""
    index: "Dict[str, int]" = {"": 0}
    get = index.get

    def number(text: str) -> int:
        found = get(text)
        if found is None:
            found = index[text] = len(index)
        return found

    rows: "List[List[int]]" = []
    other: "List[Dict[str, Any]]" = []
    last_key = None
    row: "List[int]" = []
    known = _KNOWN
    for entry in lookups:
        if len(entry) > 7 and not known.issuperset(entry):  # 7: the keys every entry has
            other.append(entry)
            continue
        field = entry.get
        key = (
            entry["module"], entry["function"], entry["file"], entry["line"], entry["name"], entry["kind"],
            field("owner", ""), field("reader_module", ""), field("static") is True,
        )
        if key != last_key:
            last_key = key
            row = [
                number(key[0]), number(key[1]), number(key[2]), key[3], number(key[4]), number(key[5]),
                number(key[6]), number(key[7]), 1 if key[8] else 0,
            ]
            rows.append(row)
        context = field("context", "")
        at = get(context)
        if at is None:
            at = index[context] = len(index)
        row.append(at)
        row.append(entry["count"])
    result: "Dict[str, Any]" = {"fields": list(FIELDS), "strings": list(index), "rows": rows}
    if other:
        result["other"] = other
    return result


def rows_of(table: "Dict[str, Any]", consume: bool = False) -> "Iterator[Tuple[Tuple[Any, ...], List[int], List[str]]]":
    """(key with strings, the row, strings) per row of a checked table: the row's
    ``[_WIDTH:]`` are its (context index, count) pairs.

    ``consume``: each row is dropped from the table once the next is asked
    for, so a reader never holds the whole table and what it makes of it.
    """
    strings = table["strings"]
    rows = table["rows"]
    for at in range(len(rows)):
        row = rows[at]
        if consume:
            rows[at] = None
        yield (
            (
                strings[row[0]], strings[row[1]], strings[row[2]], row[3], strings[row[4]], strings[row[5]],
                strings[row[6]], strings[row[7]], row[8] == 1,
            ),
            row,
            strings,
        )


def decode(table: "Dict[str, Any]") -> "List[Dict[str, Any]]":
    """Version 1's entry dicts of a checked table, in its order (``other`` after the rows)."""
    lookups: "List[Dict[str, Any]]" = []
    append = lookups.append
    for (module, function, file, line, name, kind, owner, reader, static), row, strings in rows_of(table):
        base = {"module": module, "function": function, "file": file, "line": line, "name": name, "kind": kind}
        if owner:
            base["owner"] = owner
        if reader:
            base["reader_module"] = reader
        for at in range(_WIDTH, len(row), 2):
            entry = dict(base)
            entry["count"] = row[at + 1]
            context = row[at]
            if context:
                entry["context"] = strings[context]
            if static:
                entry["static"] = True
            append(entry)
    lookups.extend(dict(entry) for entry in table.get("other", ()))
    return lookups


def check(table: object, fail: "Callable[[str], NoReturn]", kind_of: "Callable[[object], str]") -> None:
    """Raise through ``fail`` unless ``table`` is a well-formed compact table.

    After this, decoding cannot fail: every index is in range, every number
    an integer of the right sign.
    """
    if not isinstance(table, dict):
        fail(f'"lookups" must be an object in version 2, not {kind_of(table)}')
    for key in ("fields", "strings", "rows"):
        if key not in table:
            fail(f'lookups: missing key "{key}"')
    if table["fields"] != list(FIELDS):
        fail(f"lookups.fields: expected {list(FIELDS)}, not a layout this version knows")
    strings = table["strings"]
    if not isinstance(strings, list) or not strings or strings[0] != "":
        fail('lookups.strings: must be a list of strings starting with ""')
    for at, text in enumerate(strings):
        if type(text) is not str:
            fail(f"lookups.strings[{at}]: must be a string, not {kind_of(text)}")
    rows = table["rows"]
    if not isinstance(rows, list):
        fail(f"lookups.rows: must be a list, not {kind_of(rows)}")
    size = len(strings)
    just_int = {int}
    for at, row in enumerate(rows):
        # Whole-row checks in C (map, set, min, max): a big file is checked in a blink.
        if type(row) is not list or len(row) < _WIDTH + 2 or (len(row) - _WIDTH) % 2:
            fail(f"lookups.rows[{at}]: expected {_WIDTH} key fields and (context, count) pairs")
        if not set(map(type, row)) <= just_int or min(row) < 0:
            fail(f"lookups.rows[{at}]: every value must be an integer >= 0")
        static = row[8]
        if static > 1:
            fail(f"lookups.rows[{at}]: static must be 0 or 1, not {static}")
        if max(row[0], row[1], row[2], row[4], row[5], row[6], row[7]) >= size:
            field = next(f for f in (0, 1, 2, 4, 5, 6, 7) if row[f] >= size)
            fail(f"lookups.rows[{at}]: {FIELDS[field]} {row[field]} is not an index of lookups.strings")
        if max(row[_WIDTH::2]) >= size:
            context = next(c for c in row[_WIDTH::2] if c >= size)
            fail(f"lookups.rows[{at}]: context {context} is not an index of lookups.strings")
        if not static and min(row[_WIDTH + 1::2]) < 1:
            fail(f"lookups.rows[{at}]: count must be an integer >= 1, not {min(row[_WIDTH + 1::2])}")
    other = table.get("other", [])
    if not isinstance(other, list):
        fail(f"lookups.other: must be a list, not {kind_of(other)}")
