"""Per-test answers from a data file whose lookups carry contexts.

A context is the label that was current when a lookup happened; the pytest
plugin uses ``<node id>|<phase>`` (``setup``, ``call``, ``teardown``), the
same shape coverage.py gives its dynamic contexts.  Lookups made outside any
test (collection, import time, session fixtures) have the empty context.

Three questions, three views: what did each test read (``by_context``),
which tests read this global (``which_tests_read``), and which globals does one
test write that another reads (``shared_state``).
"""

from __future__ import annotations

import fnmatch
import json
import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Iterable, List, Tuple

__all__ = ["split_context", "by_context", "which_tests_read", "shared_state", "static_writers", "NameSpec", "parse_name_spec"]

PHASES = ("setup", "call", "teardown")
#: Labels the pytest plugin gives what is not one test's phase: a wider-scope
#: fixture (``<base id>::<name>|fixture``).
SHARED = ("fixture",)
#: Kinds that mean "this context saw the value of a module global".
READ_KINDS = ("global", "attribute", "read")
#: Kinds that mean "this context changed a module global".
WRITE_KINDS = ("store", "delete", "write")
#: Kinds listed per test, in this order.
_SHOWN_KINDS = ("global", "attribute", "read", "builtin", "missing", "store", "delete", "write")

_WILDCARD = re.compile(r"[*?\[]")


def split_context(context: str) -> "Tuple[str, str]":
    """``(test id, phase)`` of a context label; a label that is not ``id|phase`` is all id.

    ``<base id>::<name>|fixture`` gives that and ``fixture``.
    """
    test, sep, phase = context.rpartition("|")
    if sep and (phase in PHASES or phase in SHARED):
        return test, phase
    return context, ""


def owner_of(entry: "Dict[str, Any]") -> str:
    """The module whose global was read: ``owner`` where the entry says (reads of
    another module's attributes), else the module whose namespace recorded it."""
    owner = entry.get("owner")
    return owner if isinstance(owner, str) else entry["module"]


class NameSpec:
    """``MODULE:NAME`` with wildcards: which module globals a question is about.

    The module part follows ``--include``: a plain dotted name means that
    module and its submodules, a part with ``*``/``?``/``[...]`` is matched
    whole with :mod:`fnmatch`.  The name part is an fnmatch pattern.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name

    def matches(self, module: str, name: str) -> bool:
        if _WILDCARD.search(self.module):
            if not fnmatch.fnmatchcase(module, self.module):
                return False
        elif not (module == self.module or module.startswith(self.module + ".")):
            return False
        return fnmatch.fnmatchcase(name, self.name)

    def __str__(self) -> str:
        return f"{self.module}:{self.name}"


def parse_name_spec(text: str) -> NameSpec:
    """A :class:`NameSpec` from ``MODULE:NAME``; ValueError with a one-line reason."""
    from .patterns import PatternError, validate_pattern

    module, sep, name = text.strip().rpartition(":")
    if not sep or not module or not name:
        raise ValueError(f"{text!r}: expected MODULE:NAME (for example mypkg.settings:TAX_RATE)")
    try:
        module = validate_pattern(module)
    except PatternError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    if not (_WILDCARD.search(name) or name.isidentifier()):
        raise ValueError(f"{text!r}: {name!r} is not a global name or a wildcard")
    return NameSpec(module, name)


def by_context(lookups: "Iterable[Dict[str, Any]]") -> "Dict[str, Dict[Tuple[str, str, str], int]]":
    """context -> {(kind, owner module, name): count}, empty context included."""
    result: "Dict[str, Dict[Tuple[str, str, str], int]]" = {}
    for entry in lookups:
        context = entry.get("context", "")
        rows = result.setdefault(context, {})
        kind = entry["kind"] + " (static)" if entry.get("static") is True else entry["kind"]
        key = (kind, owner_of(entry), entry["name"])
        rows[key] = rows.get(key, 0) + entry["count"]
    return result


#: The name of a configuration read that listed every name of its owner (iteration, ``len``).
ALL_NAMES = "*"


def which_tests_read(lookups: "Iterable[Dict[str, Any]]", specs: "Iterable[NameSpec]") -> "List[str]":
    """Test ids (phases folded) whose contexts read a global that ``specs`` match.

    A test that listed an owner's names (``for name in os.environ``: a
    ``read`` of ``*``) read every name of it, set then or not.
    """
    specs = list(specs)
    found = set()
    for entry in lookups:
        context = entry.get("context", "")
        if not context or entry["kind"] not in READ_KINDS:
            continue
        owner = owner_of(entry)
        name = entry["name"]
        if name == ALL_NAMES and entry["kind"] == "read":
            matched = any(spec.matches(owner, spec.name) or spec.matches(owner, name) for spec in specs)
        else:
            matched = any(spec.matches(owner, name) for spec in specs)
        if matched:
            test, phase = split_context(context)
            if phase != "fixture":  # not a test id: which tests used the fixture is in the selection data
                found.add(test)
    return sorted(found)


def shared_state(lookups: "Iterable[Dict[str, Any]]") -> "List[Dict[str, Any]]":
    """Globals that one test writes and another test reads: the hidden coupling.

    Writes at import time or in session-wide code have no test to blame and
    are left out; so are a test's reads of what only it wrote.
    """
    writers: "Dict[Tuple[str, str], set]" = {}
    readers: "Dict[Tuple[str, str], set]" = {}
    for entry in lookups:
        context = entry.get("context", "")
        if not context or entry.get("static") is True:
            continue
        key = (owner_of(entry), entry["name"])
        test = split_context(context)[0]
        if entry["kind"] in WRITE_KINDS:
            writers.setdefault(key, set()).add(test)
        elif entry["kind"] in READ_KINDS:
            readers.setdefault(key, set()).add(test)
    result = []
    for key in sorted(writers):
        wrote = writers[key]
        read = readers.get(key, set())
        if any(reader != writer for reader in read for writer in wrote):
            result.append(
                {"module": key[0], "name": key[1], "written_by": sorted(wrote), "read_by": sorted(read)}
            )
    return result


# -- rendering -----------------------------------------------------------------


def _context_order(context: str) -> "Tuple[str, int]":
    test, phase = split_context(context)
    return (test, PHASES.index(phase) if phase in PHASES else -1)


def by_context_text(lookups: "Iterable[Dict[str, Any]]", escape=str) -> str:
    """Per test and phase: the globals, builtins and missing names it read."""
    grouped = by_context(lookups)
    contexts = sorted((c for c in grouped if c), key=_context_order)
    if not contexts:
        return "No per-test data: run the tests with 'pytest --globalhook' to record contexts.\n"
    lines = []
    for context in contexts:
        test, phase = split_context(context)
        lines.append(f"{escape(test)}" + (f"  [{phase}]" if phase else ""))
        rows = sorted(
            grouped[context].items(),
            key=lambda item: (_SHOWN_KINDS.index(item[0][0]) if item[0][0] in _SHOWN_KINDS else 99, item[0]),
        )
        for (kind, module, name), count in rows:
            where = name if kind in ("builtin",) else f"{module}:{name}"
            lines.append(f"    {kind:<9} {escape(where)}  {count}")
    outside = grouped.get("")
    if outside:
        lines.append("")
        lines.append(f"(outside any test: {len(outside)} names, {sum(outside.values())} lookups)")
    return "\n".join(lines) + "\n"


def by_context_json(lookups: "Iterable[Dict[str, Any]]") -> str:
    grouped = by_context(lookups)
    report = []
    for context in sorted(grouped, key=_context_order):
        test, phase = split_context(context)
        report.append(
            {
                "context": context,
                "test": test,
                "phase": phase,
                "names": [
                    {"kind": kind, "module": module, "name": name, "count": count}
                    for (kind, module, name), count in sorted(grouped[context].items())
                ],
            }
        )
    return json.dumps({"contexts": report}, indent=2, sort_keys=True) + "\n"


def shared_state_text(lookups: "Iterable[Dict[str, Any]]", escape=str) -> str:
    lookups = list(lookups)
    found = shared_state(lookups)
    lines = [] if found else ["No global is written by one test and read by another."]
    for item in found:
        lines.append(f"{escape(item['module'])}:{escape(item['name'])}")
        lines.extend(f"    written by {escape(test)}" for test in item["written_by"])
        lines.extend(f"    read by    {escape(test)}" for test in item["read_by"])
    static = static_writers(lookups)
    if static:
        lines.append("")
        lines.append(
            f"Not attributed to tests: {len(static)} `global` write(s) this Python could not observe, "
            "found by scanning bytecode (the compiled core on CPython 3.12+ observes them):"
        )
        lines.extend(f"    {escape(module)}:{escape(name)}  ({kind}, in {escape(function)})" for module, name, kind, function in static)
    return "\n".join(lines) + "\n"


def static_writers(lookups: "Iterable[Dict[str, Any]]") -> "List[Tuple[str, str, str, str]]":
    """(module, name, kind, function) of the writes found by scanning bytecode (``"static": true``)."""
    return sorted(
        {(owner_of(e), e["name"], e["kind"], e["function"]) for e in lookups if e.get("static") is True}
    )
