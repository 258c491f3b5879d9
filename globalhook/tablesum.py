"""Summing version-2 tables without decoding them: what makes ``combine`` fast.

Decoding every part into one dict per entry, summing the dicts and encoding
the result again spent most of ``combine``'s time making and sorting dicts
that were thrown away a moment later.  Here each part's string table is mapped
once into one combined table, rows are keyed by their integers, counts are
added per (row key, context), and the result is sorted and encoded in one go.

The result is exactly what summing the decoded entries
(:func:`globalhook.data._sum_lookups`) and encoding them
(:func:`globalhook.compact.encode`) gives, byte for byte once saved.  Where
that cannot be promised cheaply (entries with keys this version does not
know, one lookup recorded with two different reader modules), :func:`sum_tables`
returns ``None`` and the caller takes the entry path.
"""

from __future__ import annotations

from .compact import FIELDS

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

    Source = Union[Dict[str, Any], List[Dict[str, Any]]]  # a checked table, or entry dicts

__all__ = ["sum_tables"]

_WIDTH = len(FIELDS)
#: The keys an entry may have to be summed here (others make the caller take the entry path).
_KNOWN = frozenset(FIELDS) | {"context", "count"}


class _Inexact(Exception):
    """The entry path would give a different result: let it do the work."""


def sum_tables(sources: "Iterable[Source]", minus: "Iterable[Dict[str, Any]]" = ()) -> "Optional[Dict[str, Any]]":
    """One compact table of ``sources`` (tables or entry lists), equal entries' counts added,
    ``minus`` subtracted, in the data file's order; ``None`` when only the entry path is exact.

    A lookup is identified as :func:`globalhook.data._sum_lookups` does:
    module, function, file, line, name, kind, owner, static and context.  Pairs
    whose count ends at zero or below go, except for static entries.
    """
    index: "Dict[str, int]" = {"": 0}
    # key (string indices; line and static as they are) -> [reader index, {context index: count}]
    summed: "Dict[Tuple[int, ...], List[Any]]" = {}
    try:
        for source in sources:
            if isinstance(source, dict):
                _add_table(source, index, summed)
            else:
                _add_entries(source, index, summed)
        _subtract(minus, index, summed)
    except _Inexact:
        return None
    return _encode(summed, list(index))


def _add_table(table: "Dict[str, Any]", index: "Dict[str, int]", summed: "Dict[Tuple[int, ...], List[Any]]") -> None:
    if table.get("other"):
        raise _Inexact
    put = index.setdefault
    remap = [put(text, len(index)) for text in table["strings"]]
    get = summed.get
    for row in table["rows"]:
        key = (remap[row[0]], remap[row[1]], remap[row[2]], row[3], remap[row[4]], remap[row[5]], remap[row[6]], row[8])
        reader = remap[row[7]]
        slot = get(key)
        if slot is None:
            counts: "Dict[int, int]" = {}
            summed[key] = [reader, counts]
        elif slot[0] != reader:
            raise _Inexact
        else:
            counts = slot[1]
        add = counts.get
        for context, count in zip(map(remap.__getitem__, row[_WIDTH::2]), row[_WIDTH + 1 :: 2]):
            counts[context] = add(context, 0) + count


def _entry_key(entry: "Dict[str, Any]", number: "Any") -> "Tuple[int, ...]":
    field = entry.get
    return (
        number(entry["module"]), number(entry["function"]), number(entry["file"]), entry["line"],
        number(entry["name"]), number(entry["kind"]), number(field("owner", "")), 1 if field("static") is True else 0,
    )


def _add_entries(entries: "List[Dict[str, Any]]", index: "Dict[str, int]", summed: "Dict[Tuple[int, ...], List[Any]]") -> None:
    put = index.setdefault

    def number(text: str) -> int:
        return put(text, len(index))

    for entry in entries:
        if not _KNOWN.issuperset(entry):
            raise _Inexact
        key = _entry_key(entry, number)
        reader = number(entry.get("reader_module", ""))
        slot = summed.get(key)
        if slot is None:
            slot = summed[key] = [reader, {}]
        elif slot[0] != reader:
            raise _Inexact
        counts = slot[1]
        context = number(entry.get("context") or "")
        counts[context] = counts.get(context, 0) + entry["count"]


def _subtract(entries: "Iterable[Dict[str, Any]]", index: "Dict[str, int]", summed: "Dict[Tuple[int, ...], List[Any]]") -> None:
    """Counts taken away where the lookup is there; a lookup that is not is ignored."""
    missing = -1

    def number(text: str) -> int:
        return index.get(text, missing)

    for entry in entries:
        if not _KNOWN.issuperset(entry):
            raise _Inexact
        slot = summed.get(_entry_key(entry, number))
        if slot is None:
            continue
        counts = slot[1]
        context = index.get(entry.get("context") or "", missing)
        if context in counts:
            counts[context] -= entry["count"]


def _encode(summed: "Dict[Tuple[int, ...], List[Any]]", strings: "List[str]") -> "Dict[str, Any]":
    """The table of the summed lookups in the data file's order, strings numbered as
    :func:`globalhook.compact.encode` numbers them (so the file is the same, byte for byte)."""

    def place(key: "Tuple[int, ...]") -> "Tuple[Any, ...]":
        # (module, file, line, function, name, kind): how data files sort, before the context
        return (strings[key[0]], strings[key[2]], key[3], strings[key[1]], strings[key[4]], strings[key[5]])

    by_context = strings.__getitem__
    keys = sorted(summed, key=place)
    rows: "List[List[int]]" = []  # with this function's string indices first, renumbered below
    at = 0
    while at < len(keys):
        key = keys[at]
        end = at + 1
        base = key[:6]
        while end < len(keys) and keys[end][:6] == base:
            end += 1
        if end == at + 1:
            runs = [(key, sorted(summed[key][1], key=by_context))]
        else:
            runs = _interleaved(keys[at:end], summed, strings)
        for key, contexts in runs:
            reader, counts = summed[key]
            static = key[7]
            if not static and min(map(counts.__getitem__, contexts)) <= 0:
                contexts = [c for c in contexts if counts[c] > 0]
                if not contexts:
                    continue
            row = [key[0], key[1], key[2], key[3], key[4], key[5], key[6], reader, static]
            row += contexts * 2  # room for the pairs, filled in by slices
            row[_WIDTH::2] = contexts
            row[_WIDTH + 1 :: 2] = map(counts.__getitem__, contexts)
            rows.append(row)
        at = end
    # Strings numbered in order of first use, row by row: key fields, then contexts.
    used: "List[int]" = [0]
    for row in rows:
        used += row[:3]
        used += row[4:8]
        used += row[_WIDTH::2]
    order = list(dict.fromkeys(used))
    renumbered = [0] * len(strings)
    for new, old in enumerate(order):
        renumbered[old] = new
    number = renumbered.__getitem__
    for row in rows:
        row[0], row[1], row[2] = renumbered[row[0]], renumbered[row[1]], renumbered[row[2]]
        row[4:8] = map(number, row[4:8])
        row[_WIDTH::2] = map(number, row[_WIDTH::2])
    return {"fields": list(FIELDS), "strings": [strings[old] for old in order], "rows": rows}


def _interleaved(
    keys: "List[Tuple[int, ...]]", summed: "Dict[Tuple[int, ...], List[Any]]", strings: "List[str]"
) -> "List[Tuple[Tuple[int, ...], List[int]]]":
    """Lookups that differ only in owner or static, in the data file's order: by context
    first, so their entries may alternate (runs of one key each)."""
    entries: "List[Tuple[Tuple[str, ...], Tuple[int, ...], int]]" = []
    for key in keys:
        owner, static = strings[key[6]], key[7]
        counts = summed[key][1]
        for context in counts:
            if counts[context] <= 0 and not static:
                continue  # gone before grouping, as the entry path drops it before encoding
            text = strings[context]
            if owner or static:
                tail: "Tuple[str, ...]" = (text,)
                if owner:
                    tail += ("\0owner", owner)
                if static:
                    tail += ("\0static",)
            else:
                tail = (text,) if text else ()
            entries.append((tail, key, context))
    entries.sort(key=lambda item: item[0])
    runs: "List[Tuple[Tuple[int, ...], List[int]]]" = []
    for _, key, context in entries:
        if runs and runs[-1][0] == key:
            runs[-1][1].append(context)
        else:
            runs.append((key, [context]))
    return runs
