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
    from typing import Any, Callable, Dict, Iterator, List, NoReturn, Optional, Tuple

__all__ = ["FIELDS", "encode", "encode_rows", "decode", "check", "rows_of"]

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


#: The keys of a static entry that :func:`encode_rows` takes as a row.
_STATIC_KEYS = frozenset(("module", "function", "file", "line", "name", "kind", "count", "static"))


def encode_rows(
    rows: "List[Tuple[str, str, int, str, str, str, str, str, int]]", static: "List[Dict[str, Any]]" = ()  # type: ignore[assignment]
) -> "Optional[Dict[str, Any]]":
    """:func:`encode` of the recorder's entries, made in one pass from its sorted rows.

    ``rows`` are ``Recorder.sorted_rows()`` (module, file, line, function,
    name, kind, context, owner, count > 0), ``static`` its static entries.
    The table is the one ``encode`` makes of ``Recorder.lookups()`` summed
    by ``make_data``, without the dict per entry that both steps cost a
    recording run at exit.  None when a static entry has a shape this pass
    does not know (the caller then takes the entries' path).
    """
    if static:
        rows = _with_static(rows, static)
        if rows is None:
            return None
    index: "Dict[str, int]" = {"": 0}
    get = index.get
    table: "List[List[int]]" = []
    append = table.append
    row: "List[int]" = []
    # The previous item's fields: a row starts when the key of a row changes,
    # a pair when the context does; an item equal to the previous one in every
    # field adds its count to it (the recorder's rows are not summed yet).
    l_module = l_file = l_function = l_name = l_kind = l_context = l_owner = None
    l_line = -1
    l_count = 0
    for module, file, line, function, name, kind, context, owner, count in rows:
        if (
            name == l_name and line == l_line and function == l_function and kind == l_kind
            and file == l_file and module == l_module and owner == l_owner and (count == 0) == (l_count == 0)
        ):
            if context == l_context and count:
                row[-1] += count
                continue
        else:
            reader = module if owner else ""
            numbers = []
            for text in (module, function, file, name, kind, owner, reader):
                found = get(text)
                if found is None:
                    found = index[text] = len(index)
                numbers.append(found)
            row = [numbers[0], numbers[1], numbers[2], line, numbers[3], numbers[4], numbers[5], numbers[6], 0 if count else 1]
            append(row)
            l_module, l_file, l_line, l_function, l_name, l_kind, l_owner = module, file, line, function, name, kind, owner
        found = get(context)
        if found is None:
            found = index[context] = len(index)
        row.append(found)
        row.append(count)
        l_context = context
        l_count = count
    return {"fields": list(FIELDS), "strings": list(index), "rows": table}


def _with_static(
    rows: "List[Tuple[Any, ...]]", static: "List[Dict[str, Any]]"
) -> "Optional[List[Tuple[Any, ...]]]":
    """The rows with each static entry as a row of count 0, where ``Recorder.lookups`` puts it.

    That is after every counted row of the same site and no context (the
    order sorts by module, file, line, function, name, kind, context, and a
    static entry after a counted one, stably).  None for a static entry with
    another shape, or two alike (which the entries' path would sum).
    """
    keys = []
    for entry in static:
        if len(entry) != 8 or not _STATIC_KEYS.issuperset(entry) or entry["count"] != 0 or entry["static"] is not True:
            return None
        keys.append((entry["module"], entry["file"], entry["line"], entry["function"], entry["name"], entry["kind"], "", "", 0))
    if len(set(keys)) != len(keys):
        return None
    keys.sort(key=lambda key: key[:7])  # stable, as the entries' sort
    merged: "List[Tuple[Any, ...]]" = []
    start = 0
    size = len(rows)
    for key in keys:
        probe = key[:7]
        low, high = start, size
        while low < high:  # the first row whose (site, context) sorts after the static entry's
            middle = (low + high) // 2
            if rows[middle][:7] <= probe:
                low = middle + 1
            else:
                high = middle
        merged.extend(rows[start:low])
        merged.append(key)
        start = low
    merged.extend(rows[start:])
    return merged


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
