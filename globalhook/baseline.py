"""``check --baseline``: adopt a rule on a legacy codebase, fail only on new violations.

A baseline file lists the violations a project accepts for now, each by what
stays put while the code around it moves: the rule, the reading module and
function, and the module and name read.  No file, line or count, so editing
an unrelated line above a read does not turn it into a "new" violation.
Entries that no longer occur are reported so the file can shrink.

The file is JSON, sorted, one violation a line, so that its diffs review well.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Sequence, Tuple

from .atomic import write_atomically
from .check import Violation
from .printable import printable

__all__ = ["FORMAT", "VERSION", "FIELDS", "BaselineError", "load_baseline", "write_baseline", "split", "describe_gone"]

FORMAT = "globalhook-baseline"
VERSION = 1

#: A baseline entry's keys, in the order of :meth:`Violation.key`.
FIELDS = ("rule", "reader", "function", "owner", "name", "kind")

Key = Tuple[str, ...]


class BaselineError(Exception):
    """A baseline file that cannot be used; the message is one line naming it."""


def load_baseline(path: str) -> List[Key]:
    """The violations a baseline file accepts, as :meth:`Violation.key` tuples."""
    shown = printable(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise BaselineError(f"{shown}: no such baseline file (write one with --update-baseline)") from None
    except OSError as exc:
        raise BaselineError(f"{shown}: cannot read the baseline ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BaselineError(f"{shown}: not a baseline file (not valid JSON{where})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BaselineError(f'{shown}: not a baseline file (expected "format": "{FORMAT}")')
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BaselineError(f"{shown}: bad baseline version {json.dumps(version)}")
    if version > VERSION:
        raise BaselineError(f"{shown}: written by a newer globalhook (baseline version {version})")
    entries = data.get("violations")
    if not isinstance(entries, list):
        raise BaselineError(f'{shown}: "violations" must be a list')
    keys: List[Key] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(field), str) for field in FIELDS):
            raise BaselineError(f"{shown}: violations[{index}]: expected an object with string keys {', '.join(FIELDS)}")
        keys.append(tuple(entry[field] for field in FIELDS))
    return keys


def _as_entry(key: Key) -> Dict[str, str]:
    return dict(zip(FIELDS, key))


def write_baseline(path: str, violations: Iterable[Violation]) -> int:
    """Write the baseline that accepts exactly these violations; returns how many it lists."""
    keys = sorted({violation.key() for violation in violations})
    lines = ",\n".join("    " + json.dumps(_as_entry(key), sort_keys=False) for key in keys)
    text = f'{{\n  "format": "{FORMAT}",\n  "version": {VERSION},\n  "violations": [\n{lines}\n  ]\n}}\n'
    if not keys:
        text = f'{{\n  "format": "{FORMAT}",\n  "version": {VERSION},\n  "violations": []\n}}\n'
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BaselineError(f"{printable(path)}: cannot write the baseline (no such folder)")
    try:
        write_atomically(path, text.encode("utf-8"))
    except OSError as exc:
        raise BaselineError(f"{printable(path)}: cannot write the baseline ({exc.strerror or exc})") from None
    return len(keys)


def split(violations: Sequence[Violation], accepted: Iterable[Key]) -> Tuple[List[Violation], List[Violation], List[Dict[str, str]]]:
    """(new, accepted, gone): violations not in the baseline, those in it, and its entries that no longer occur."""
    keys = set(accepted)
    new = [v for v in violations if v.key() not in keys]
    known = [v for v in violations if v.key() in keys]
    seen = {v.key() for v in known}
    gone = [_as_entry(key) for key in sorted(keys - seen)]
    return new, known, gone


def describe_gone(entry: Dict[str, Any]) -> str:
    """One line for a baseline entry that no longer occurs."""
    what = f"{printable(entry['reader'])}.{printable(entry['function'])}"
    if entry["rule"] == "require-no-missing":
        return f"{what} looks up {printable(entry['name'])}: require-no-missing"
    return (
        f"{what} reads {printable(entry['owner'])}:{printable(entry['name'])} ({printable(entry['kind'])}): "
        f"forbidden by '{printable(entry['rule'])}'"
    )
