"""Data files: what a run recorded, saved as JSON, loaded back, combined.

A data file holds names and counts, never the values of globals: it is meant
to be attached to bug reports and kept in CI artefacts.  Each process writes
its own file; :func:`merge` sums them, the way ``coverage combine`` does.

Readers are lenient where later versions will grow (unknown kinds, extra
keys anywhere, an optional ``context`` on lookups) and strict everywhere
else, so a damaged or foreign file fails with one line naming the file rather
than a traceback from deep inside a report.
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid

from .atomic import write_atomically

TYPE_CHECKING = False  # not from typing (see globalhook/__init__.py)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, Iterable, List, NoReturn, Optional, Tuple

    LookupKey = Tuple[str, str, str, int, str, str, str]

__all__ = [
    "FORMAT",
    "VERSION",
    "KINDS",
    "DataError",
    "make_data",
    "save",
    "load",
    "validate",
    "merge",
    "lookup_key",
    "part_path",
    "find_parts",
    "combine",
]

FORMAT = "globalhook-data"
VERSION = 1

#: The kinds this version writes.  Readers accept any other string too.
KINDS = ("global", "builtin", "missing", "store", "delete")

#: Lookup fields that must be strings, and the integer fields with their minimum.
_STR_FIELDS = ("module", "function", "file", "name", "kind")
_INT_FIELDS = (("line", 0), ("count", 1))


class DataError(Exception):
    """A data file that cannot be used; the message is one line naming the file."""


def lookup_key(entry: Dict[str, Any]) -> LookupKey:
    """Identity of a lookup: entries with equal keys are one entry whose counts add up."""
    return (
        entry["module"],
        entry["function"],
        entry["file"],
        entry["line"],
        entry["name"],
        entry["kind"],
        entry.get("context", ""),
    )


def _sort_key(entry: Dict[str, Any]) -> LookupKey:
    """Source order within a file, so diffs between data files stay small."""
    return (
        entry["module"],
        entry["file"],
        entry["line"],
        entry["function"],
        entry["name"],
        entry["kind"],
        entry.get("context", ""),
    )


def _sum_lookups(lookups: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    summed: Dict[LookupKey, Dict[str, Any]] = {}
    for entry in lookups:
        key = lookup_key(entry)
        seen = summed.get(key)
        if seen is None:
            summed[key] = dict(entry)  # a copy: never change the caller's entries
        else:
            seen["count"] += entry["count"]
    return sorted(summed.values(), key=_sort_key)


def _unique_not_tracked(entries: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    unique: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for entry in entries:
        unique.setdefault((entry["module"], entry["reason"]), dict(entry))
    return [unique[key] for key in sorted(unique)]


def _assemble(
    runs: List[Dict[str, Any]],
    not_tracked: Iterable[Dict[str, Any]],
    lookups: Iterable[Dict[str, Any]],
) -> Dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "runs": runs,
        "not_tracked": _unique_not_tracked(not_tracked),
        "lookups": _sum_lookups(lookups),
    }


def make_data(
    lookups: List[Dict[str, Any]],
    run: Dict[str, Any],
    not_tracked: Optional[List[Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """Build the data of one run, already summed and sorted, so every file is canonical."""
    return _assemble([dict(run)], not_tracked or (), lookups)


def merge(datas: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """Combine data from several runs: runs kept side by side, counts added up.

    Merging is associative and idempotent in shape, so combining already
    combined files gives the same result as combining the originals.
    """
    runs: List[Dict[str, Any]] = []
    not_tracked: List[Dict[str, Any]] = []
    lookups: List[Dict[str, Any]] = []
    for data in datas:
        runs.extend(dict(run) for run in data.get("runs", ()))
        not_tracked.extend(data.get("not_tracked", ()))
        lookups.extend(data.get("lookups", ()))
    return _assemble(runs, not_tracked, lookups)


def save(data: Dict[str, Any], path: str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    Processes started by the same test run may finish at once, and a reader
    (``combine``) may be looking: write a temporary file beside the target,
    sync it, then rename it over.  The temporary file is opened with mode
    0o666 so the umask applies exactly as for a plain ``open``.
    """
    path = os.fspath(path)
    # Encoded first: an unserialisable value fails before anything is written.
    content = (json.dumps(data, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
    try:
        write_atomically(path, content)
    except OSError as exc:
        raise DataError(f"{path}: cannot write ({exc.strerror or exc})") from None


def part_path(data_file: str) -> str:
    """Name for this process's own data file: ``<data_file>.<host>.<pid>.<random>``.

    Decided when the file is written, so a forked child never reuses its
    parent's name.
    """
    return f"{data_file}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"


def find_parts(data_file: str) -> List[str]:
    """Per-process data files of ``data_file`` waiting to be combined, sorted."""
    folder = os.path.dirname(os.path.abspath(data_file)) or "."
    base = os.path.basename(data_file)
    pattern = re.compile(re.escape(base) + r"\..+\.\d+\.[0-9a-f]{8}$")
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(os.path.join(folder, n) for n in names if pattern.match(n))


def combine(
    data_file: str,
    base: Iterable[Dict[str, Any]] = (),
    select: Optional[Callable[[Dict[str, Any]], bool]] = None,
    keep: bool = False,
) -> Tuple[Dict[str, Any], List[str], List[str]]:
    """Fold the per-process files of ``data_file`` into it, each exactly once.

    ``base`` is what the result starts from; ``select`` picks which parts to
    take (the others are left for later).  Unreadable parts are skipped and
    reported, never deleted.  Returns (combined data, parts used, errors).
    The parts used are deleted after the combined file is saved, unless
    ``keep``: a crash in between leaves them, never loses them.
    """
    datas = list(base)
    used: List[str] = []
    errors: List[str] = []
    for path in find_parts(data_file):
        try:
            part = load(path)
        except DataError as exc:
            errors.append(str(exc))
            continue
        if select is None or select(part):
            datas.append(part)
            used.append(path)
    combined = merge(datas) if len(datas) != 1 else datas[0]
    save(combined, data_file)
    if not keep:
        for path in used:
            try:
                os.remove(path)
            except OSError:
                pass
    return combined, used, errors


def load(path: str) -> Dict[str, Any]:
    """Read and check a data file; any problem is a :class:`DataError` naming it.

    The result always has ``runs``, ``not_tracked`` and ``lookups`` lists, and
    keeps any keys this version does not know.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a data file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a globalhook data file (not UTF-8 text)") from None
    if not text.strip():
        raise DataError(f"{path}: empty file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: corrupt JSON at line {exc.lineno} ({exc.msg})") from None
    except RecursionError:
        raise DataError(f"{path}: corrupt JSON (nested too deeply)") from None
    validate(data, path)
    data.setdefault("runs", [])
    data.setdefault("not_tracked", [])
    return data


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

    for key in ("runs", "not_tracked", "lookups"):
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

    for index, entry in enumerate(data["lookups"]):
        where = f"lookups[{index}]"
        if not isinstance(entry, dict):
            fail(f"{where}: expected an object, got {_kind_of(entry)}")
        for field in _STR_FIELDS:
            if field not in entry:
                fail(f'{where}: missing key "{field}"')
            if not isinstance(entry[field], str):
                fail(f'{where}: "{field}" must be a string, not {_kind_of(entry[field])}')
        for field, minimum in _INT_FIELDS:
            if field not in entry:
                fail(f'{where}: missing key "{field}"')
            value = entry[field]
            if not _is_int(value) or value < minimum:
                shown = json.dumps(value) if _is_int(value) else _kind_of(value)
                fail(f'{where}: "{field}" must be an integer >= {minimum}, not {shown}')
        if "context" in entry and not isinstance(entry["context"], str):
            fail(f'{where}: "context" must be a string, not {_kind_of(entry["context"])}')
