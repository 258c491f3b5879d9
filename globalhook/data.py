"""Data files: what a run recorded, saved as JSON, loaded back, combined.

A data file holds names and counts, never the values of globals: it is meant
to be attached to bug reports and kept in CI artefacts.  Each process writes
its own file; :func:`combine` folds them into one, each exactly once, the way
``coverage combine`` does.

Readers are lenient where later versions will grow (unknown kinds, extra
keys anywhere, an optional ``context`` on lookups) and strict everywhere
else, so a damaged or foreign file fails with one line naming the file rather
than a traceback from deep inside a report.

Saving happens at the exit of every tracked process, so this module imports
nothing heavy (no ``typing``, ``socket`` or ``uuid``) and is linear in the
number of entries throughout.
"""

from __future__ import annotations

import json
import operator
import os
import re
import stat

from . import compact
from .atomic import write_atomically
from .gcpause import paused
from .printable import printable
from .replaceable import replace_problem

TYPE_CHECKING = False  # not from typing: this module is imported by every tracked process
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, Iterable, List, NoReturn, Optional, Tuple

    LookupKey = Tuple[Any, ...]  # (module, file, line, function, name, kind[, context])

__all__ = [
    "FORMAT",
    "VERSION",
    "KINDS",
    "DataError",
    "make_data",
    "save",
    "load",
    "load_stored",
    "export_v1",
    "validate",
    "merge",
    "lookup_key",
    "is_static",
    "shown_kind",
    "STATIC_SUFFIX",
    "part_path",
    "find_parts",
    "combine",
    "combine_parts",
    "Combined",
    "MERGED_KEYS",
    "merge_objects",
]

FORMAT = "globalhook-data"
#: The version written.  1 held a list of entry objects; 2 holds the same
#: entries as a string table and rows of integers (:mod:`globalhook.compact`).
VERSION = 2

#: The kinds this version writes.  Readers accept any other string too.
KINDS = ("global", "builtin", "missing", "store", "delete", "attribute", "read", "write")

#: Lookup fields that must be strings, and the integer fields with their minimum.
_STR_FIELDS = ("module", "function", "file", "name", "kind")
_INT_FIELDS = (("line", 0), ("count", 1))

#: Top-level key holding, per part whose writer may still rewrite it, the
#: lookups this file took from it (see :func:`combine_parts`).
OPEN_PARTS = "open_parts"


class DataError(Exception):
    """A data file that cannot be used; the message is one line naming the file."""


def lookup_key(entry: Dict[str, Any]) -> Tuple[Any, ...]:
    """Identity of a lookup: entries with equal keys are one entry whose counts add up.

    ``owner`` (reads of another module's attribute) is part of it: such an
    entry never merges with a read of the reader's own global of that name.
    A static entry (a write found by scanning bytecode, never counted) is
    never the same entry as an observed one.
    """
    key = (
        entry["module"],
        entry["function"],
        entry["file"],
        entry["line"],
        entry["name"],
        entry["kind"],
        entry.get("context", ""),
        entry.get("owner", ""),
    )
    return key + (True,) if entry.get("static") is True else key


def is_static(entry: Dict[str, Any]) -> bool:
    """A write found by scanning bytecode (``"static": true``): it can happen, how often is unknown."""
    return entry.get("static") is True


#: How views show the kind of a static entry: ``store (static)``.
STATIC_SUFFIX = " (static)"


def shown_kind(entry: Dict[str, Any]) -> str:
    """The kind as reports show it: ``store``, or ``store (static)`` for a write found by a scan."""
    kind = entry["kind"]
    return kind + STATIC_SUFFIX if entry.get("static") is True else kind


_SORT_FIELDS = operator.itemgetter("module", "file", "line", "function", "name", "kind")


def _sort_key(entry: Dict[str, Any]) -> LookupKey:
    """The same identity in source order within a file, so diffs between data files stay small.

    No context and an empty one are the same; either sorts before any
    other context of the same lookup.  An ``owner`` (attribute reads) comes
    last, so that entries without one keep the keys they always had.
    """
    context = entry.get("context")
    key = _SORT_FIELDS(entry)
    owner = entry.get("owner")
    static = entry.get("static") is True
    if owner or static:
        key = key + (context or "",)
        if owner:
            key += ("\0owner", owner)
        return key + ("\0static",) if static else key
    return key + (context,) if context else key


def _sum_lookups(
    lookups: Iterable[Dict[str, Any]], minus: Iterable[Dict[str, Any]] = (), fresh: bool = False
) -> List[Dict[str, Any]]:
    """Entries with equal keys as one, counts added (``minus`` subtracted), in source order.

    The caller's entries are never changed: an entry is copied the first
    time its count must change.  Entries whose count drops to zero go.  The
    result holds copies of the others too, unless ``fresh`` (entries just
    read from files, which no caller holds).
    """
    lookups = lookups if isinstance(lookups, list) else list(lookups)
    minus = minus if isinstance(minus, (list, tuple)) else list(minus)
    if not minus and _in_order(lookups):
        # Already summed and sorted (the recorder's entries, one data file's):
        # each key is there once, so summing and sorting again would change nothing.
        ordered = lookups if fresh else [dict(entry) for entry in lookups]
        return [entry for entry in ordered if entry["count"] > 0 or entry.get("static") is True]
    summed: Dict[LookupKey, Dict[str, Any]] = {}
    copied = set()
    for entry in lookups:
        key = _sort_key(entry)
        seen = summed.get(key)
        if seen is None:
            summed[key] = entry
        else:
            if key not in copied:
                summed[key] = seen = dict(seen)
                copied.add(key)
            seen["count"] += entry["count"]
    for entry in minus:
        key = _sort_key(entry)
        seen = summed.get(key)
        if seen is None:
            continue
        if key not in copied:
            summed[key] = seen = dict(seen)
            copied.add(key)
        seen["count"] -= entry["count"]
    # Sorting the keys alone is about three times faster than sorting (key, entry) pairs.
    keys = sorted(summed)
    if fresh:
        ordered = [summed[key] for key in keys]
    else:
        ordered = [summed[key] if key in copied else dict(summed[key]) for key in keys]
    return [entry for entry in ordered if entry["count"] > 0 or entry.get("static") is True]



def _in_order(entries: List[Dict[str, Any]]) -> bool:
    """True when every entry's key is greater than the one before (so no key is there twice)."""
    last = None
    try:
        for key in map(_sort_key, entries):
            if last is not None and not last < key:
                return False
            last = key
    except TypeError:  # keys that do not compare: the slow path says so as it always did
        return False
    return True


def _unique_not_tracked(entries: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    unique: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for entry in entries:
        unique.setdefault((entry["module"], entry["reason"]), dict(entry))
    return [unique[key] for key in sorted(unique)]


#: Top-level keys holding one JSON object that answers above the engine own
#: (test selection): merged by :func:`merge_objects`, never summed.
MERGED_KEYS = ("selection",)


def merge_objects(objects: Iterable[Any]) -> Dict[str, Any]:
    """Objects unioned key by key, nested objects too; on a leaf they disagree on, the last one wins.

    The last one is the later-written file in the order the files are merged.
    """
    result: Dict[str, Any] = {}
    for value in objects:
        if isinstance(value, dict):
            _merge_into(result, value)
    return result


def _merge_into(target: Dict[str, Any], source: Dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict):
            current = target.get(key)
            if not isinstance(current, dict):
                current = target[key] = {}
            _merge_into(current, value)
        else:
            target[key] = value


def _assemble(
    runs: List[Dict[str, Any]],
    not_tracked: Iterable[Dict[str, Any]],
    lookups: Iterable[Dict[str, Any]],
    minus: Iterable[Dict[str, Any]] = (),
    fresh: bool = False,
    datas: Iterable[Dict[str, Any]] = (),
) -> Dict[str, Any]:
    assembled = {
        "format": FORMAT,
        "version": VERSION,
        "runs": runs,
        "not_tracked": _unique_not_tracked(not_tracked),
        "lookups": _sum_lookups(lookups, minus, fresh),
    }
    datas = list(datas)
    for key in MERGED_KEYS:
        if any(key in data for data in datas):
            assembled[key] = merge_objects(data.get(key) for data in datas)
    return assembled


def _assemble_tables(
    runs: List[Dict[str, Any]],
    not_tracked: Iterable[Dict[str, Any]],
    sources: List[Any],
    minus: List[Dict[str, Any]],
    datas: List[Dict[str, Any]],
) -> Dict[str, Any]:
    """:func:`_assemble` of tables and entry lists, its ``lookups`` a table."""
    from .tablesum import sum_tables

    table = sum_tables(sources, minus)
    if table is not None:
        assembled = _assemble(runs, not_tracked, [], datas=datas)
        assembled["lookups"] = table
        return assembled
    # Only the entry path is exact for these (see tablesum): decode, sum, encode.
    lookups = [entry for source in sources for entry in (compact.decode(source) if isinstance(source, dict) else source)]
    assembled = _assemble(runs, not_tracked, lookups, minus, datas=datas)
    assembled["lookups"] = compact.encode(assembled["lookups"])
    return assembled


def make_data(
    lookups: List[Dict[str, Any]],
    run: Dict[str, Any],
    not_tracked: Optional[List[Dict[str, Any]]] = None,
    fresh: bool = False,
) -> Dict[str, Any]:
    """Build the data of one run, already summed and sorted, so every file is canonical.

    ``fresh``: no one else holds the entries (the recorder just made them), so
    they need no copies.
    """
    with paused():
        return _assemble([dict(run)], not_tracked or (), lookups, fresh=fresh)


def merge(datas: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """Combine data from several runs: runs kept side by side, counts added up.

    Merging is associative and idempotent in shape, so combining already
    combined files gives the same result as combining the originals.
    """
    runs: List[Dict[str, Any]] = []
    not_tracked: List[Dict[str, Any]] = []
    lookups: List[Dict[str, Any]] = []
    datas = list(datas)
    with paused():
        for data in datas:
            runs.extend(dict(run) for run in data.get("runs", ()))
            not_tracked.extend(data.get("not_tracked", ()))
            lookups.extend(data.get("lookups", ()))
        return _assemble(runs, not_tracked, lookups, datas=datas)


def save(data: Dict[str, Any], path: str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    Processes started by the same test run may finish at once, and a reader
    (``combine``) may be looking: write a temporary file beside the target,
    sync it, then rename it over (keeping the mode of a file it replaces).
    Only a data file (or nothing, or an empty file) is ever replaced
    (:mod:`globalhook.replaceable`).
    """
    path = os.fspath(path)
    # Encoded first: an unserialisable value fails before anything is written.
    with paused():
        content = (json.dumps(_stored(data), separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
    problem = replace_problem(path)  # checked last, just before the rename
    if problem is not None:
        raise DataError(f"{printable(path)}: {problem}")
    try:
        write_atomically(path, content)
    except OSError as exc:
        raise DataError(f"{printable(path)}: cannot write ({exc.strerror or exc})") from None


# -- per-process files --------------------------------------------------------------------

#: What follows ``<data file>.`` in a part's name: host (no dots), pid, 8 hex digits.
_PART_SUFFIX = re.compile(r"\.([^.]+)\.([0-9]+)\.[0-9a-f]{8}")
_PART_TAIL = re.compile(_PART_SUFFIX.pattern + r"\Z")


def _host() -> str:
    """This machine's name as written in part names: no dots, nothing a file name may not hold."""
    try:
        name = os.uname().nodename
    except AttributeError:  # pragma: no cover - Windows
        import socket

        name = socket.gethostname()
    return re.sub(r"[^A-Za-z0-9-]", "_", name) or "_"


def part_path(data_file: str) -> str:
    """Name for this process's own data file: ``<data_file>.<host>.<pid>.<random>``.

    Decided when the file is first written and kept for the process's life,
    so a forked child never reuses its parent's name, and the name identifies
    the process: ``combine`` counts each name once.  Dots in the host name
    become ``_`` (and anything else that is not a letter, digit or ``-``
    too): with no dot in the host, a name splits one way only, so the parts
    of ``out`` and of ``out.json`` never mix.
    """
    return f"{data_file}.{_host()}.{os.getpid()}.{os.urandom(4).hex()}"


def find_parts(data_file: str) -> List[str]:
    """Per-process data files of ``data_file`` waiting to be combined, sorted.

    Only regular files: anything else named like a part (a FIFO, a socket, a
    folder) is left alone, since opening it could block.
    """
    folder = os.path.dirname(os.path.abspath(data_file)) or "."
    pattern = re.compile(re.escape(os.path.basename(data_file)) + _PART_SUFFIX.pattern)
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not pattern.fullmatch(entry.name):
                    continue
                try:
                    if entry.is_file():
                        found.append(os.path.join(folder, entry.name))
                except OSError:
                    continue
    except OSError:
        return []
    return sorted(found)


def _writer_may_still_write(name: str) -> bool:
    """Could the process that wrote part ``name`` still rewrite it?

    Pool workers write their part before they wait for work and again when
    they end, so a part is final only once its writer is gone.  Known only
    for processes of this host (by pid; a zombie has finished); anything
    else may still write.
    """
    match = _PART_TAIL.search(name)
    if match is None or match.group(1) != _host() or os.name != "posix":
        return True
    pid = int(match.group(2))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False  # gone, or a pid no process can have
    except OSError:
        return True  # exists, but not ours to signal
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rpartition(b")")[2].split()[:1]
    except OSError:
        return True
    return state not in ([b"Z"], [b"X"])


def _run_identity(run: Any) -> Optional[Tuple[object, ...]]:
    """(run id, host, pid, start) of a run written before parts were named in the data file."""
    if not isinstance(run, dict):
        return None
    identity = tuple(run.get(key) for key in ("run_id", "host", "pid", "started"))
    if any(not isinstance(value, (str, int)) for value in identity):
        return None
    return identity


class Combined:
    """What :func:`combine_parts` did: the data written, and which parts went where."""

    __slots__ = ("data", "added", "already", "errors")

    def __init__(self) -> None:
        self.data: Dict[str, Any] = {}
        #: Parts whose lookups were added (or replaced an earlier version of themselves).
        self.added: List[str] = []
        #: Parts already in the data file as they are: not counted again.
        self.already: List[str] = []
        #: One line per part that could not be read (skipped and kept).
        self.errors: List[str] = []


def combine_parts(
    data_file: str,
    base: Iterable[Dict[str, Any]] = (),
    select: Optional[Callable[[Dict[str, Any]], bool]] = None,
    keep: bool = False,
    stored: bool = False,
) -> Combined:
    """Fold the per-process files of ``data_file`` into ``base``, each exactly once, and save.

    ``base`` is what the result starts from (the loaded data file, or a
    run's own data); ``select`` picks which parts to take (the others are
    left for later).  A part's name identifies its process; the data file
    records it as the ``part`` of that process's run.  The rule:

    - a part whose name is not in the data yet is added;
    - a part already in it is not counted again, unless its writer could
      still rewrite it when it was taken (a pool worker saves before it
      waits for work, then at its end): then the data keeps a copy of what
      it took (``open_parts``), and a later version replaces the earlier
      one, so the later, fuller version wins and nothing counts twice.
      The copy goes once the writer is known to be gone.

    Unreadable parts are skipped and reported, never deleted.  The parts
    taken (and those already in) are deleted after the combined file is
    saved, unless ``keep``: a crash in between leaves them, never loses them.

    ``stored``: the parts are read as their files store them and summed table
    by table (:mod:`globalhook.tablesum`), never as one dict per entry, and the
    result's ``lookups`` is a table too (as :func:`load_stored` gives); the
    file written is the same.  ``base`` may then hold tables as well.
    """
    result = Combined()
    bases = list(base)
    runs: List[Dict[str, Any]] = [dict(run) for data in bases for run in data.get("runs", ())]
    not_tracked: List[Dict[str, Any]] = [entry for data in bases for entry in data.get("not_tracked", ())]
    lookups: List[Any] = []  # the parts' (this function's own, ``fresh``); the bases' join them below
    open_parts: Dict[str, List[Dict[str, Any]]] = {}
    for data in bases:
        open_parts.update(data.get(OPEN_PARTS) or {})
    taken = {run["part"] for run in runs if isinstance(run.get("part"), str)}
    legacy = {_run_identity(run) for run in runs if "part" not in run} - {None}
    folder = os.path.dirname(os.path.abspath(data_file)) or "."
    replaced: List[Dict[str, Any]] = []
    merged: List[Dict[str, Any]] = list(bases)  # in the order written: a later file wins (MERGED_KEYS)

    for name in list(open_parts):
        # Checked in this order: a writer found gone before its file is
        # found gone cannot have written a new version in between.
        if not _writer_may_still_write(name) and not os.path.lexists(os.path.join(folder, name)):
            del open_parts[name]  # final: what was taken stays, the copy is not needed

    for path in find_parts(data_file):
        name = os.path.basename(path)
        # Before reading: a part read after its writer ended is its final version.
        open_part = _writer_may_still_write(name)
        try:
            part = load_stored(path) if stored else load(path)
        except DataError as exc:
            result.errors.append(str(exc))
            continue
        except Exception as exc:  # never lose the good parts (and a run's own data) to a bad one
            result.errors.append(f"{printable(path)}: cannot read ({type(exc).__name__}: {printable(str(exc))})")
            continue
        if select is not None and not select(part):
            continue
        if name in taken:
            earlier = open_parts.pop(name, None)
            if earlier is not None and isinstance(part["lookups"], dict):
                part["lookups"] = compact.decode(part["lookups"])  # compared (and kept) as entries
            if earlier is None or earlier == part["lookups"]:
                if earlier is not None and open_part:
                    open_parts[name] = earlier  # unchanged, and it may still change
                result.already.append(path)
                continue
            replaced.extend(earlier)
            runs = [run for run in runs if run.get("part") != name]
        elif any(_run_identity(run) in legacy for run in part["runs"]):
            result.already.append(path)  # taken by a globalhook that did not name parts yet
            continue
        for run in part["runs"]:
            run = dict(run)
            run["part"] = name
            runs.append(run)
        not_tracked.extend(part["not_tracked"])
        if open_part and isinstance(part["lookups"], dict):
            part["lookups"] = compact.decode(part["lookups"])  # kept as entries in ``open_parts``
        if stored:
            lookups.append(part["lookups"])  # whole tables and entry lists, summed by tablesum
        else:
            lookups.extend(part["lookups"])
        merged.append(part)
        if open_part:
            open_parts[name] = part["lookups"]
        taken.add(name)
        result.added.append(path)

    if not result.added and len(bases) == 1:
        # Nothing new (the run-at-exit path with no parts, or parts all in
        # already): the base is already summed and sorted.
        result.data = {key: value for key, value in bases[0].items() if key != OPEN_PARTS}
    elif stored:
        with paused():
            result.data = _assemble_tables(runs, not_tracked, [data.get("lookups", []) for data in bases] + lookups, replaced, merged)
    else:
        # The caller's entries copied once, only here (a run's save with no parts never needs them).
        # A run's own data may hold its lookups as a table (``Session.data(table=True)``).
        lookups[:0] = [
            entry if isinstance(found, dict) else dict(entry)
            for found in (data.get("lookups", ()) for data in bases)
            for entry in (compact.decode(found) if isinstance(found, dict) else found)
        ]
        with paused():
            result.data = _assemble(runs, not_tracked, lookups, replaced, fresh=True, datas=merged)
    if open_parts:
        result.data[OPEN_PARTS] = {name: open_parts[name] for name in sorted(open_parts)}
    save(result.data, data_file)
    if not keep:
        for path in result.added + result.already:
            try:
                os.remove(path)
            except OSError:
                pass
    return result


def combine(
    data_file: str,
    base: Iterable[Dict[str, Any]] = (),
    select: Optional[Callable[[Dict[str, Any]], bool]] = None,
    keep: bool = False,
) -> Tuple[Dict[str, Any], List[str], List[str]]:
    """:func:`combine_parts`, as (combined data, parts used, errors); see there for the rule."""
    result = combine_parts(data_file, base, select, keep)
    return result.data, result.added + result.already, result.errors


def export_v1(data: Dict[str, Any]) -> Dict[str, Any]:
    """Loaded data (:func:`load`) as version 1 spelled it, for tools that read plain JSON."""
    exported = {"format": FORMAT, "version": 1}
    for key, value in data.items():
        if key not in exported:
            exported[key] = value
    return exported


def _stored(data: Dict[str, Any]) -> Dict[str, Any]:
    """``data`` as the current version writes it: format and version first, lookups compact."""
    stored = {"format": FORMAT, "version": VERSION}
    for key, value in data.items():
        if key not in stored:
            stored[key] = value
    lookups = stored.get("lookups")
    if isinstance(lookups, list):
        stored["lookups"] = compact.encode(lookups)
    return stored


# -- reading -------------------------------------------------------------------------------


def load(path: str) -> Dict[str, Any]:
    """Read and check a data file; any problem is a :class:`DataError` naming it.

    The result always has ``runs``, ``not_tracked`` and ``lookups`` lists (the
    entry objects of version 1, whatever the file's version), and keeps any
    keys this version does not know.  Views read records instead
    (:func:`globalhook.records.read`), which is faster and smaller.
    """
    data = load_stored(path)
    if isinstance(data["lookups"], dict):
        with paused():
            data["lookups"] = compact.decode(data["lookups"])
    return data


def load_stored(path: str) -> Dict[str, Any]:
    """:func:`load`, but lookups as the file stores them: a table in version 2."""
    path = os.fspath(path)
    shown = printable(path)
    raw = _read_regular_file(path, shown)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{shown}: not a globalhook data file (not UTF-8 text)") from None
    del raw  # not held beside the text and what is parsed from it (a big version-1 file: 40 MB)
    if not text.strip():
        raise DataError(f"{shown}: empty file")
    try:
        with paused():
            if _CURRENT_START.match(text):
                data = json.loads(text)
            else:
                data = json.loads(text, object_hook=_shared_strings())
    except json.JSONDecodeError as exc:
        raise DataError(f"{shown}: corrupt JSON at line {exc.lineno} ({exc.msg})") from None
    except RecursionError:
        raise DataError(f"{shown}: corrupt JSON (nested too deeply)") from None
    except ValueError as exc:
        # Valid JSON that Python will not decode, such as an integer longer
        # than sys.get_int_max_str_digits() (4300 digits by default).
        reason = str(exc).split(";")[0].splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{shown}: cannot decode JSON ({reason})") from None
    validate(data, shown)
    data.setdefault("runs", [])
    data.setdefault("not_tracked", [])
    return data


#: How a file of the current version starts (format and version first, as :func:`save` writes them).
_CURRENT_START = re.compile(r'\{"format":"globalhook-data","version":%d[,}]' % VERSION)


def _shared_strings() -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """A ``json`` object hook that makes equal string values one string.

    Version 1 spelled out module, function, file, name and kind in every
    entry, and JSON makes a new string for each: a version-1 file of 50,000
    functions took 165 MB once loaded, 85 MB with its strings shared.
    """
    shared: Dict[str, str] = {}
    one = shared.setdefault

    def hook(obj: Dict[str, Any]) -> Dict[str, Any]:
        for key, value in obj.items():
            if type(value) is str:
                obj[key] = one(value, value)
        return obj

    return hook


def _read_regular_file(path: str, shown: str) -> bytes:
    """The bytes of ``path`` if it is a regular file; never opens anything that could block.

    A FIFO named like a data file would block ``open()`` until a writer
    comes, forever at exit.  The type is checked before opening, and the
    file is opened non-blocking and checked again, in case it was swapped.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{shown}: no such file") from None
    except OSError as exc:
        raise DataError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"{shown}: is a directory, not a data file")
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{shown}: not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise DataError(f"{shown}: no such file") from None
    except OSError as exc:
        raise DataError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DataError(f"{shown}: not a regular file")
        try:
            return f.read()
        except OSError as exc:
            raise DataError(f"{shown}: cannot read ({exc.strerror or exc})") from None


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__  # pragma: no cover - not produced by json


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(data: object, source: str) -> None:
    """Check the structure of loaded data; ``source`` names it in the message.

    The format marker and version are checked first, so a file from a newer
    globalhook is reported as such rather than as broken.
    """

    def fail(problem: str) -> NoReturn:
        raise DataError(f"{source}: {problem}")

    if not isinstance(data, dict):
        fail(f"not a globalhook data file (top level is {_kind_of(data)}, not an object)")
    if "format" not in data:
        fail('not a globalhook data file (missing key "format")')
    if data["format"] != FORMAT:
        fail(f"not a globalhook data file (format is {json.dumps(data['format'])})")
    if "version" not in data:
        fail('not a globalhook data file (missing key "version")')
    version = data["version"]
    if not _is_int(version):
        fail(f"bad version {json.dumps(version)} (expected an integer)")
    if version > VERSION:
        fail(f"written by a newer globalhook (version {version})")
    if version < 1:
        fail(f"unsupported version {version}")
    if "lookups" not in data:
        fail('not a globalhook data file (missing key "lookups")')

    table = data["lookups"]
    if version >= 2 and not isinstance(table, list):
        compact.check(table, fail, _kind_of)
        _check_lookups(table.get("other", []), "lookups.other", fail)
    for key in ("runs", "not_tracked") if version >= 2 and isinstance(table, dict) else ("runs", "not_tracked", "lookups"):
        if key in data and not isinstance(data[key], list):
            fail(f'"{key}" must be a list, not {_kind_of(data[key])}')

    for index, run in enumerate(data.get("runs", ())):
        if not isinstance(run, dict):
            fail(f"runs[{index}]: expected an object, got {_kind_of(run)}")

    for index, entry in enumerate(data.get("not_tracked", ())):
        where = f"not_tracked[{index}]"
        if not isinstance(entry, dict):
            fail(f"{where}: expected an object, got {_kind_of(entry)}")
        for field in ("module", "reason"):
            if field not in entry:
                fail(f'{where}: missing key "{field}"')
            if not isinstance(entry[field], str):
                fail(f'{where}: "{field}" must be a string, not {_kind_of(entry[field])}')

    if isinstance(table, list):
        _check_lookups(table, "lookups", fail)

    for key in MERGED_KEYS:
        if key in data and not isinstance(data[key], dict):
            fail(f'"{key}" must be an object, not {_kind_of(data[key])}')

    open_parts = data.get(OPEN_PARTS)
    if open_parts is not None:
        if not isinstance(open_parts, dict):
            fail(f'"{OPEN_PARTS}" must be an object, not {_kind_of(open_parts)}')
        for name, entries in open_parts.items():
            where = f"{OPEN_PARTS}[{json.dumps(name)}]"
            if not isinstance(entries, list):
                fail(f"{where} must be a list, not {_kind_of(entries)}")
            _check_lookups(entries, where, fail)


def _check_lookups(entries: List[Any], where: str, fail: Callable[[str], NoReturn]) -> None:
    """Every entry a lookup; the common, well-formed case costs one expression per entry."""
    str_type, int_type, dict_type = str, int, dict
    for index, entry in enumerate(entries):
        # json gives exact types (a bool is not of type int): anything else
        # takes the slow path, which says what is wrong, or accepts it.
        if (
            type(entry) is dict_type
            and type(entry.get("module")) is str_type
            and type(entry.get("function")) is str_type
            and type(entry.get("file")) is str_type
            and type(entry.get("name")) is str_type
            and type(entry.get("kind")) is str_type
            and type(entry.get("line")) is int_type
            and entry["line"] >= 0
            and type(entry.get("count")) is int_type
            and entry["count"] >= 1
            and type(entry.get("context", "")) is str_type
            and "static" not in entry
            and type(entry.get("owner", "")) is str_type
            and type(entry.get("reader_module", "")) is str_type
        ):
            continue
        _check_lookup(entry, f"{where}[{index}]", fail)


def _check_lookup(entry: Any, where: str, fail: Callable[[str], NoReturn]) -> None:
    if not isinstance(entry, dict):
        fail(f"{where}: expected an object, got {_kind_of(entry)}")
    for field in _STR_FIELDS:
        if field not in entry:
            fail(f'{where}: missing key "{field}"')
        if not isinstance(entry[field], str):
            fail(f'{where}: "{field}" must be a string, not {_kind_of(entry[field])}')
    static = entry.get("static", False)
    if static is not True and static is not False:
        fail(f'{where}: "static" must be true or false, not {_kind_of(static)}')
    for field, minimum in _INT_FIELDS:
        if static and field == "count":
            minimum = 0  # a write found by scanning bytecode has no count
        if field not in entry:
            fail(f'{where}: missing key "{field}"')
        value = entry[field]
        if not _is_int(value) or value < minimum:
            shown = json.dumps(value) if _is_int(value) else _kind_of(value)
            fail(f'{where}: "{field}" must be an integer >= {minimum}, not {shown}')
    for field in ("context", "owner", "reader_module"):
        if field in entry and not isinstance(entry[field], str):
            fail(f'{where}: "{field}" must be a string, not {_kind_of(entry[field])}')
