"""``check``: rules on the recorded lookups, for CI.

A rule ``READER -> OWNER:NAME`` forbids every function in a module matching
READER to read a name matching NAME of a module matching OWNER, whether the
name was found (``global``) or not (``missing``).  READER and OWNER are
patterns as for ``--include``; NAME is a name or an ``fnmatch`` pattern.

READER is matched against the module of the code that read, OWNER against the
module whose global was read (see :mod:`globalhook.selection`).  Reads made
by tools (pytest, inspect, importlib...) are not the project's: they are left
out unless asked for.

This module finds violations; :mod:`globalhook.checkformats` shows them (text,
JSON, SARIF, GitHub annotations) and :mod:`globalhook.baseline` decides which
of them are new.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .config import ConfigError, find_config_file, read_toml_table
from .patterns import PatternError
from .printable import printable
from .reverse import NAME_KINDS
from .records import Lookup, as_records
from .selection import is_tool_read, module_matcher, name_matcher
from .sourcemap import SourceIndex

__all__ = [
    "RuleError", "Rule", "Violation", "NO_MISSING", "parse_rule", "CheckConfig", "load_check_config", "find_violations",
]

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

    def forbids(self, entry: Lookup) -> bool:
        return self.name(entry.name) and self.owner(entry.owner) and self.reader(entry.reader)


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


#: The rule id of ``require-no-missing`` (the forbid rules' ids are their text).
NO_MISSING = "require-no-missing"

#: At most this many test names in a text line; the machine formats list them all.
_TESTS_SHOWN = 3


class Violation:
    """One entry that breaks one rule (``rule`` is None for a missing name).

    ``line`` is where the function reads the name; ``contexts`` are the
    tests (contexts) that made the read, with how often, most first.
    """

    __slots__ = ("entry", "rule", "line", "contexts")

    def __init__(
        self, entry: Lookup, rule: Optional[Rule], line: int, contexts: Sequence[Tuple[str, int]] = ()
    ) -> None:
        self.entry = entry
        self.rule = rule
        self.line = line
        self.contexts = list(contexts)

    @property
    def rule_id(self) -> str:
        return NO_MISSING if self.rule is None else self.rule.text

    @property
    def reader(self) -> str:
        return self.entry.reader

    @property
    def owner(self) -> str:
        return self.entry.owner

    @property
    def function(self) -> str:
        """The reading function's qualified name, without its module."""
        return self.entry.function

    def key(self) -> Tuple[str, str, str, str, str, str]:
        """What a baseline remembers: no file, line or count, which move without the code changing."""
        entry = self.entry
        return (self.rule_id, entry.reader, entry.function, entry.owner, entry.name, entry.kind)

    def path(self, cwd: str) -> str:
        """The file, relative to ``cwd`` when it is inside it."""
        file = self.entry.file
        prefix = cwd.rstrip(os.sep) + os.sep
        if os.path.isabs(file) and file.startswith(prefix):
            return file[len(prefix):]
        return file

    def message(self) -> str:
        """What was read, by whom, how often and in which tests (no file, line or rule)."""
        entry = self.entry
        function = printable(f"{entry.reader}.{entry.function}")
        times = f"{entry.count} time{'s' if entry.count != 1 else ''}"
        if self.rule is None:
            text = f"{function} looks up {printable(entry.name)}, which is not defined ({times})"
        else:
            text = f"{function} reads {printable(entry.owner)}:{printable(entry.name)} ({printable(entry.kind)}, {times})"
        if self.contexts:
            shown = ", ".join(printable(name) for name, _ in self.contexts[:_TESTS_SHOWN])
            more = len(self.contexts) - _TESTS_SHOWN
            text += f" in {'test' if len(self.contexts) == 1 else 'tests'} {shown}" + (f" and {more} more" if more > 0 else "")
        return text

    def describe(self, cwd: str) -> str:
        where = f"{printable(self.path(cwd))}:{self.line}"
        if self.rule is None:
            return f"{where}: {self.message()}: {NO_MISSING}"
        return f"{where}: {self.message()}: forbidden by '{printable(self.rule.text)}'"


def find_violations(
    lookups: Iterable[Union[Lookup, Dict[str, Any]]], rules: Sequence[Rule], no_missing: bool = False, tool_reads: bool = False
) -> List[Violation]:
    """Every (entry, rule) that breaks a rule, in source order.

    The line is where the function's current source reads the name (a
    global, or another module's attribute), when that can be found (see
    :mod:`globalhook.sourcemap`), else its first line.  Entries that differ
    only in their context (test) are one violation naming those tests.
    Reads made by tools (:func:`~globalhook.selection.is_tool_read`: pytest
    probing a test module for ``setup_module``...) are not the project's and
    are left out unless ``tool_reads``.
    """
    summed: Dict[Tuple[Any, ...], Lookup] = {}
    contexts: Dict[Tuple[Any, ...], Dict[str, int]] = {}
    for entry in as_records(lookups):
        if entry.kind not in NAME_KINDS or entry.static:
            continue  # rules are about reads; a write found by a scan has no count to add
        if not tool_reads and is_tool_read(entry):
            continue
        key = (entry.reader, entry.owner, entry.function, entry.file, entry.line, entry.name, entry.kind)
        seen = summed.get(key)
        # Contexts added up: a rule is about code, not tests.
        if seen is None:
            summed[key] = entry._replace(context="") if entry.context else entry
        else:
            summed[key] = seen._replace(count=seen.count + entry.count)
        context = entry.context
        if context:
            tests = contexts.setdefault(key, {})
            tests[context] = tests.get(context, 0) + entry.count
    sources = SourceIndex()
    found: List[Violation] = []
    for key in sorted(summed, key=lambda k: (k[3], k[4], k[2], k[5], k[6], k[1])):
        entry = summed[key]
        broken: List[Optional[Rule]] = [rule for rule in rules if rule.forbids(entry)]
        if no_missing and entry.kind == "missing":
            broken.append(None)
        if not broken:
            continue
        lines = sources.find(entry.file, entry.function, entry.line).lines_of(entry.kind, entry.name)
        line = lines[0] if lines else entry.line
        tests = sorted(contexts.get(key, {}).items(), key=lambda item: (-item[1], item[0]))
        found.extend(Violation(entry, rule, line, tests) for rule in broken)
    return found
