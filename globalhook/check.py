"""``check``: rules on the recorded lookups, for CI.

A rule ``READER -> OWNER:NAME`` forbids every function in a module matching
READER to read a name matching NAME of a module matching OWNER, whether the
name was found (``global``) or not (``missing``).  READER and OWNER are
patterns as for ``--include``; NAME is a name or an ``fnmatch`` pattern.

READER is matched against the module of the code that read, OWNER against the
module whose global was read (see :mod:`globalhook.selection`).  Reads made
by tools (pytest, inspect, importlib...) are not the project's: they are left
out unless asked for.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .config import ConfigError, find_config_file, read_toml_table
from .patterns import PatternError
from .reverse import NAME_KINDS
from .selection import is_tool_read, module_matcher, name_matcher, owner_of, reader_of
from .sourcemap import SourceIndex

__all__ = ["RuleError", "Rule", "Violation", "parse_rule", "CheckConfig", "load_check_config", "find_violations"]

_TABLE = "[tool.globalhook.check]"


class RuleError(ValueError):
    """A rule that cannot be understood; the message names it."""


class Rule:
    """``READER -> OWNER:NAME``, parsed and compiled."""

    __slots__ = ("text", "reader", "owner", "name")

    def __init__(self, text: str, reader: Callable[[str], bool], owner: Callable[[str], bool], name: Callable[[str], bool]) -> None:
        self.text = text
        self.reader = reader
        self.owner = owner
        self.name = name

    def forbids(self, entry: Dict[str, Any]) -> bool:
        return self.name(entry["name"]) and self.owner(owner_of(entry)) and self.reader(reader_of(entry))


def parse_rule(text: object) -> Rule:
    """Parse one rule; :class:`RuleError` names the rule and what is wrong with it."""
    if not isinstance(text, str):
        raise RuleError(f"bad rule {text!r}: expected a string 'READER -> OWNER:NAME'")
    reader, arrow, target = text.partition("->")
    owner, colon, name = target.rpartition(":")
    if not arrow or not colon or "->" in target:
        raise RuleError(f"bad rule {text!r}: expected 'READER -> OWNER:NAME' (for example 'myapp.web.* -> myapp.settings:*')")
    try:
        return Rule(text, module_matcher([reader]), module_matcher([owner]), name_matcher(name))
    except PatternError as exc:
        raise RuleError(f"bad rule {text!r}: {exc}") from None


class CheckConfig:
    """What to check: forbid rules (from the file, then the command line), missing names, tools' reads."""

    def __init__(
        self, forbid: Sequence[str] = (), require_no_missing: bool = False, source: Optional[str] = None,
        tool_reads: bool = False,
    ) -> None:
        self.forbid = list(forbid)
        self.require_no_missing = require_no_missing
        self.tool_reads = tool_reads
        self.source = source
        self.warnings: List[str] = []


def load_check_config(
    explicit: Optional[str] = None, cwd: Optional[str] = None, environ: Optional[Mapping[str, str]] = None
) -> CheckConfig:
    """Read ``[tool.globalhook.check]`` from the same file the rest of the config comes from.

    Keys: ``forbid`` (a list of rules), ``require-no-missing`` and
    ``tool-reads`` (booleans: see :func:`find_violations`).
    A wrong type is a :class:`ConfigError` naming the file and key; unknown keys warn.
    """
    cwd = os.path.abspath(os.getcwd() if cwd is None else cwd)
    path = find_config_file(cwd, os.environ if environ is None else environ, explicit)
    if path is None:
        return CheckConfig()
    table = read_toml_table(path).get("check", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {_TABLE} must be a table, got {type(table).__name__}")
    config = CheckConfig(source=path)
    for key, value in table.items():
        if key == "forbid":
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ConfigError(f"{path}: {_TABLE} forbid: expected a list of rule strings")
            config.forbid = list(value)
        elif key in ("require-no-missing", "tool-reads"):
            if not isinstance(value, bool):
                raise ConfigError(f"{path}: {_TABLE} {key}: expected true or false, got {type(value).__name__}")
            setattr(config, key.replace("-", "_"), value)
        else:
            config.warnings.append(f"{path}: {_TABLE} unknown key {key!r} (ignored)")
    return config


class Violation:
    """One entry that breaks one rule (``rule`` is None for a missing name)."""

    __slots__ = ("entry", "rule", "line")

    def __init__(self, entry: Dict[str, Any], rule: Optional[Rule], line: int) -> None:
        self.entry = entry
        self.rule = rule
        self.line = line

    def describe(self, cwd: str) -> str:
        entry = self.entry
        file = entry["file"]
        prefix = cwd.rstrip(os.sep) + os.sep
        if os.path.isabs(file) and file.startswith(prefix):
            file = file[len(prefix):]
        function = f"{reader_of(entry)}.{entry['function']}"
        times = f"{entry['count']} time{'s' if entry['count'] != 1 else ''}"
        if self.rule is None:
            return f"{file}:{self.line}: {function} looks up {entry['name']!s}, which is not defined ({times}): require-no-missing"
        return (
            f"{file}:{self.line}: {function} reads {owner_of(entry)}:{entry['name']} "
            f"({entry['kind']}, {times}): forbidden by '{self.rule.text}'"
        )


def find_violations(
    lookups: Sequence[Dict[str, Any]], rules: Sequence[Rule], no_missing: bool = False, tool_reads: bool = False
) -> List[Violation]:
    """Every (entry, rule) that breaks a rule, in source order.

    The line is where the function's current source reads the name, when that
    can be found (see :mod:`globalhook.sourcemap`), else its first line.
    Reads made by tools (:func:`~globalhook.selection.is_tool_read`: pytest
    probing a test module for ``setup_module``...) are not the project's and
    are left out unless ``tool_reads``.
    """
    summed: Dict[Tuple[Any, ...], Dict[str, Any]] = {}
    for entry in lookups:
        if entry["kind"] not in NAME_KINDS or entry.get("static") is True:
            continue  # rules are about reads; a write found by a scan has no count to add
        if not tool_reads and is_tool_read(entry):
            continue
        key = (reader_of(entry), owner_of(entry), entry["function"], entry["file"], entry["line"], entry["name"], entry["kind"])
        seen = summed.get(key)
        if seen is None:
            summed[key] = dict(entry)  # contexts added up: a rule is about code, not tests
        else:
            seen["count"] += entry["count"]
    sources = SourceIndex()
    found: List[Violation] = []
    for key in sorted(summed, key=lambda k: (k[3], k[4], k[2], k[5], k[6], k[1])):
        entry = summed[key]
        broken: List[Optional[Rule]] = [rule for rule in rules if rule.forbids(entry)]
        if no_missing and entry["kind"] == "missing":
            broken.append(None)
        if not broken:
            continue
        lines = sources.find(entry["file"], entry["function"], entry["line"]).lines_of(entry["kind"], entry["name"])
        line = lines[0] if lines else entry["line"]
        found.extend(Violation(entry, rule, line) for rule in broken)
    return found
