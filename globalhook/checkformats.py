"""``check``'s answer in the formats CI already reads: text, JSON, SARIF 2.1.0, GitHub annotations.

Each renderer takes one :class:`Outcome` and returns the whole output, so
every format says the same thing.  Names in a data file are untrusted: the
text and annotation formats escape them (a newline in a name must not forge a
report line or a workflow command); JSON and SARIF are escaped by ``json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence
from urllib.parse import quote

from . import __version__
from .baseline import describe_gone
from .check import NO_MISSING, Violation
from .printable import printable

__all__ = ["FORMATS", "JSON_FORMAT", "JSON_VERSION", "SARIF_SCHEMA", "Outcome", "render"]

#: The ``format`` and ``version`` of ``check --format json`` (schema: globalhook/schemas/check-1.schema.json).
JSON_FORMAT = "globalhook-check"
JSON_VERSION = 1

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: SARIF's name for the folder that relative artifact paths start from.
SRCROOT = "%SRCROOT%"
INFORMATION_URI = "https://pypi.org/project/globalhook/"


class Outcome:
    """What one ``check`` found: the rules, the violations, and what a baseline made of them.

    ``new`` fail the check; ``known`` are accepted by the baseline; ``gone``
    are baseline entries that no longer occur.  Without a baseline every
    violation is new.
    """

    def __init__(
        self,
        rules: Sequence[str],
        no_missing: bool,
        new: Sequence[Violation],
        lookups: int,
        cwd: str,
        known: Sequence[Violation] = (),
        gone: Sequence[Dict[str, str]] = (),
        baseline: Optional[str] = None,
    ) -> None:
        self.rules = list(rules)
        self.no_missing = no_missing
        self.new = list(new)
        self.known = list(known)
        self.gone = list(gone)
        self.lookups = lookups
        self.cwd = cwd
        self.baseline = baseline
        #: Reads made by tools (pytest, inspect...) that were not checked; the summary says so.
        self.tool_reads_left_out = 0

    @property
    def passed(self) -> bool:
        return not self.new

    def rule_ids(self) -> List[str]:
        """Every rule checked, forbid rules first, each once."""
        ids = list(dict.fromkeys(self.rules))
        return ids + [NO_MISSING] if self.no_missing else ids

    def checked(self) -> str:
        count = len(self.rules)
        return f"{count} rule{'s' if count != 1 else ''}" + (" and no missing names" if self.no_missing else "")

    def _left_out(self) -> str:
        reads = self.tool_reads_left_out
        return f"; {reads} read{'s' if reads != 1 else ''} made by tools left out: --tool-reads checks them" if reads else ""

    def summary(self) -> str:
        """The closing line of the text and GitHub formats."""
        checked = self.checked()
        count = len(self.new)
        if self.baseline is None:
            if count:
                return f"globalhook check: {count} violation{'s' if count != 1 else ''} ({checked}{self._left_out()})"
            return f"globalhook check: no violations ({checked}, {self.lookups} lookups{self._left_out()})"
        accepted = f"{len(self.known)} in the baseline"
        if self.gone:
            accepted += f", {len(self.gone)} of its entries no longer occur"
        if count:
            return f"globalhook check: {count} new violation{'s' if count != 1 else ''}, {accepted} ({checked}{self._left_out()})"
        return f"globalhook check: no new violations, {accepted} ({checked}, {self.lookups} lookups{self._left_out()})"


def _text(outcome: Outcome) -> str:
    lines = [violation.describe(outcome.cwd) for violation in outcome.new]
    if outcome.gone:
        shown = printable(outcome.baseline or "")
        lines.extend(f"{shown}: no longer occurs: {describe_gone(entry)}" for entry in outcome.gone)
        lines.append(f"globalhook check: run with --update-baseline to drop what no longer occurs from {shown}")
    lines.append(outcome.summary())
    return "\n".join(lines) + "\n"


def _fingerprint(violation: Violation) -> str:
    """Stable across runs and line moves: the baseline key, hashed."""
    return hashlib.sha256("\0".join(violation.key()).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _read_fields(violation: Violation) -> Dict[str, Any]:
    """What was read, by whom and how often: the same fields in JSON and in SARIF's properties."""
    entry = violation.entry
    return {
        "reader": violation.reader,
        "function": entry.function,
        "owner": violation.owner,
        "name": entry.name,
        "kind": entry.kind,
        "count": entry.count,
    }


def _json_violation(violation: Violation, outcome: Outcome, baselined: bool) -> Dict[str, Any]:
    return {
        "rule": violation.rule_id,
        "file": violation.entry.file,
        "path": violation.path(outcome.cwd),
        "line": violation.line,
        **_read_fields(violation),
        "tests": [{"context": name, "count": count} for name, count in violation.contexts],
        "baselined": baselined,
        "fingerprint": _fingerprint(violation),
    }


def _json(outcome: Outcome) -> str:
    report: Dict[str, Any] = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "globalhook": __version__,
        "passed": outcome.passed,
        "rules": list(dict.fromkeys(outcome.rules)),
        "require_no_missing": outcome.no_missing,
        "lookups": outcome.lookups,
        "violations": [_json_violation(v, outcome, False) for v in outcome.new]
        + [_json_violation(v, outcome, True) for v in outcome.known],
        "baseline": None
        if outcome.baseline is None
        else {"file": outcome.baseline, "accepted": len(outcome.known), "gone": list(outcome.gone)},
    }
    return json.dumps(report, indent=2) + "\n"


def _artifact(violation: Violation, cwd: str) -> Dict[str, Any]:
    file = violation.entry.file
    relative = violation.path(cwd)
    if relative != file or not os.path.isabs(file):
        return {"uri": quote(relative.replace(os.sep, "/")), "uriBaseId": SRCROOT}
    return {"uri": Path(file).as_uri()}


def _sarif_result(violation: Violation, outcome: Outcome, index: Dict[str, int], baselined: Optional[bool]) -> Dict[str, Any]:
    entry = violation.entry
    physical: Dict[str, Any] = {"artifactLocation": _artifact(violation, outcome.cwd)}
    if violation.line >= 1:
        physical["region"] = {"startLine": violation.line}
    result: Dict[str, Any] = {
        "ruleId": violation.rule_id,
        "ruleIndex": index[violation.rule_id],
        "level": "error",
        "message": {"text": violation.message()},
        "locations": [
            {
                "physicalLocation": physical,
                "logicalLocations": [
                    {"fullyQualifiedName": f"{violation.reader}.{entry.function}", "kind": "function"}
                ],
            }
        ],
        "partialFingerprints": {"globalhookViolation/v1": _fingerprint(violation)},
        "properties": {**_read_fields(violation), "tests": [name for name, _ in violation.contexts]},
    }
    if baselined is not None:
        result["baselineState"] = "unchanged" if baselined else "new"
    if baselined:
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": f"listed in the baseline {outcome.baseline}"}
        ]
    return result


def _sarif_rule(rule_id: str) -> Dict[str, Any]:
    if rule_id == NO_MISSING:
        text = "A function looks up a name that is not defined (require-no-missing)."
        name = "MissingName"
    else:
        text = f"Functions in modules matching the left side must not read the names on the right: {rule_id}"
        name = "ForbiddenRead"
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": text},
        "defaultConfiguration": {"level": "error"},
    }


def _sarif(outcome: Outcome) -> str:
    ids = outcome.rule_ids()
    index = {rule_id: position for position, rule_id in enumerate(ids)}
    baselined = outcome.baseline is not None
    results = [_sarif_result(v, outcome, index, False if baselined else None) for v in outcome.new]
    results += [_sarif_result(v, outcome, index, True) for v in outcome.known]
    run: Dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "globalhook",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_sarif_rule(rule_id) for rule_id in ids],
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": Path(outcome.cwd).as_uri().rstrip("/") + "/"}},
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    if baselined:
        run["properties"] = {"baseline": outcome.baseline, "baselineGone": list(outcome.gone)}
    log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(log, indent=2) + "\n"


def _escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped, so it stays one command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow command's property value: also ``:`` and ``,``, which end it."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(outcome: Outcome) -> str:
    lines = []
    for violation in outcome.new:
        where = f"file={_escape_property(violation.path(outcome.cwd).replace(os.sep, '/'))}"
        if violation.line >= 1:
            where += f",line={violation.line}"
        title = "globalhook: require-no-missing" if violation.rule is None else f"globalhook: forbidden by '{violation.rule_id}'"
        lines.append(f"::error {where},title={_escape_property(title)}::{_escape_data(violation.message())}")
    for entry in outcome.gone:
        title = _escape_property("globalhook: baseline entry no longer occurs")
        text = _escape_data(f"{describe_gone(entry)} (run check --update-baseline to drop it from {outcome.baseline})")
        lines.append(f"::notice title={title}::{text}")
    lines.append(outcome.summary())
    return "\n".join(lines) + "\n"


_RENDERERS: Dict[str, Callable[[Outcome], str]] = {"text": _text, "json": _json, "sarif": _sarif, "github": _github}

#: The names ``check --format`` accepts, the default first.
FORMATS = tuple(_RENDERERS)


def render(outcome: Outcome, format: str = "text") -> str:
    """The whole output of ``check`` in one format (``FORMATS``)."""
    return _RENDERERS[format](outcome)
