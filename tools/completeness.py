#!/usr/bin/env python3
"""The completeness probe: which places that read a global globalhook observes.

One probe program (tests/probes/completeness/) reads a distinct global in
every place Python can: functions, lambdas, comprehensions, generators,
coroutines, class bodies (nested, custom ``__prepare__``, enum, made by
``exec``), default values, decorators, annotations, ``global`` writes,
``del``, module-level code, ``exec``, other modules reading ``m.NAME``,
``getattr``, ``hasattr``, ``from m import NAME``/``*``, and the dict methods
no dict subclass can see.  This tool runs it under ``globalhook run`` with
a given interpreter and core and says, place by place:

``yes``
    recorded as it happened, with a count;
``static``
    recorded from a scan of the bytecode (the write exists), not counted;
``no``
    not observable on that Python and core (the docs page says why);
``n/a``
    the syntax does not exist on that Python.

``--write docs/explanation/limits.md`` puts the tables and the list of what
cannot be observed into that page (between their markers) from runs of every
interpreter given; ``tests/test_completeness.py`` checks, on each
interpreter the test suite runs on, that its columns still say the truth.

Usage::

    python tools/completeness.py --python .tox/py311/bin/python --python ...
    python tools/completeness.py --write docs/explanation/limits.md   # every .tox/py3*/bin/python
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "probes" / "completeness"
TRACKED = ("ghc_probe", "ghc_future", "ghc_params", "ghc_star", "ghc_reader")
CORES = ("c", "python")
CORE_TITLES = {"c": "compiled core", "python": "pure-Python core"}
STATUSES = ("yes", "static", "no", "n/a")
_READ_KINDS = ("global", "builtin", "missing", "attribute")


class Place(NamedTuple):
    key: str
    text: str  # what the page's row says
    name: str  # the global read there
    kind: str  # the kind it must be recorded as ("read": any kind of read)
    function: Optional[str] = None  # the reading function, when the name alone is not enough
    since: Tuple[int, int] = (3, 9)  # the first Python with the syntax
    why: str = ""  # why it is not observable, where it is not


PLACES: Tuple[Place, ...] = (
    Place("function", "function", "P_FUNCTION", "global"),
    Place("lambda", "lambda", "P_LAMBDA", "global"),
    Place("listcomp", "list comprehension", "P_LISTCOMP", "global"),
    Place("genexp", "generator expression", "P_GENEXP", "global"),
    Place("generator", "generator function", "P_GENERATOR", "global"),
    Place("coroutine", "coroutine (`async def`)", "P_COROUTINE", "global"),
    Place("builtin", "builtin read in a function (`len`)", "len", "builtin", "read_builtin"),
    Place("missing", "undefined name (`NameError`)", "P_UNDEFINED", "missing"),
    Place(
        "class-body", "class body", "P_CLASS_BODY", "global",
        why="a class body's `LOAD_NAME` falls back from the class namespace to the globals with a direct dict read",
    ),
    Place(
        "nested-class", "nested class body", "P_NESTED_CLASS", "global",
        why="as for any class body",
    ),
    Place(
        "prepare-class", "class body with a custom `__prepare__`", "P_PREPARE_CLASS", "global",
        why="as for any class body",
    ),
    Place(
        "ordered-class", "class body whose `__prepare__` returns an `OrderedDict`", "P_ORDERED_CLASS", "global",
        why="a namespace written in C cannot be retyped to tell a miss, and the fallback to the globals is a "
        "direct dict read (the same for a namespace class with a metaclass or `__init_subclass__` of its own)",
    ),
    Place("enum-body", "enum class body", "P_ENUM_BODY", "global", why="as for any class body"),
    Place(
        "exec-class", "class created by `exec` in the module's globals", "P_EXEC_CLASS", "global",
        why="as for any class body",
    ),
    Place("default", "default argument value", "P_DEFAULT", "global"),
    Place("decorator", "decorator expression", "P_DECORATOR", "global"),
    Place("annotation", "function annotation", "P_ANNOTATION", "global"),
    Place(
        "future-annotation", "annotation under `from __future__ import annotations` (`get_type_hints`)",
        "P_FUTURE_ANNOTATION", "global",
        why="from 3.14 `typing.get_type_hints` evaluates the string through `annotationlib` with a separate "
        "locals mapping: the fallback to the globals is a direct dict read",
    ),
    Place(
        "type-param", "type parameter bound (`class Box[T: B]`)", "P_TYPE_PARAM", "global", since=(3, 12),
        why="evaluated in the class scope: the fallback to the globals is a direct dict read",
    ),
    Place("module-level", "module-level code", "P_MODULE_LEVEL", "global"),
    Place("exec", "`exec(src, globals())`", "P_EXEC", "global"),
    Place("global-read", "`global x; x += 1`: the read", "P_COUNTER", "global", "inc"),
    Place(
        "global-write", "`global x; x += 1`: the write", "P_COUNTER", "store", "inc",
        why="`STORE_GLOBAL` writes the dict directly",
    ),
    Place(
        "global-delete", "`global x; del x`", "P_DELETED", "delete", "drop",
        why="`DELETE_GLOBAL` deletes from the dict directly",
    ),
    Place(
        "module-store-declared", "module-level assignment to a name a function declares `global`",
        "P_COUNTER", "store", "<module>",
        why="the compiler emits `STORE_GLOBAL` for it, which writes the dict directly",
    ),
    Place(
        "rebind-same", "`global x; x = v` where `x` already holds `v`", "P_SAME", "store", "rebind_same",
        why="CPython tells a dict watcher nothing when an entry keeps the object it holds",
    ),
    Place(
        "exec-write", "`global x; x = ...` in code `exec`uted from a string", "P_EXEC_WRITE", "store",
        "write_in_exec",
        why="the bytecode scan reads the module's own code, not code compiled later from strings",
    ),
    Place(
        "eval-locals", "`eval(src)` inside a function (separate locals)", "P_EVAL_LOCALS", "global",
        why="the fallback from the locals mapping to the globals is a direct dict read",
    ),
    Place(
        "contains", "`name in globals()`", "P_CONTAINS", "read",
        why="a dict method, not a lookup: no dict subclass sees it",
    ),
    Place(
        "dict-get", "`globals().get(name)`", "P_GET", "read",
        why="a dict method, not a lookup: no dict subclass sees it",
    ),
    Place(
        "attribute", "`m.NAME` from another tracked module", "P_ATTRIBUTE", "attribute",
        why="module attribute access reads the module's dict in C",
    ),
    Place(
        "attribute-untracked", "`m.NAME` from untracked code", "P_ATTRIBUTE_UNTRACKED", "attribute",
        why="module attribute access reads the module's dict in C",
    ),
    Place(
        "getattr", "`getattr(m, 'NAME')`", "P_GETATTR", "attribute",
        why="module attribute access reads the module's dict in C",
    ),
    Place(
        "hasattr", "`hasattr(m, 'NAME')`", "P_HASATTR", "attribute",
        why="module attribute access reads the module's dict in C",
    ),
    Place(
        "from-import", "`from m import NAME`", "P_FROM_IMPORT", "attribute",
        why="module attribute access reads the module's dict in C",
    ),
    Place(
        "star-import", "`from m import *`", "P_STAR", "attribute",
        why="module attribute access reads the module's dict in C",
    ),
    Place(
        "setattr", "`m.NAME = value` from another module", "P_SETATTR", "store", "write_attribute",
        why="module attribute assignment writes the module's dict in C",
    ),
)


@functools.lru_cache(maxsize=None)
def version_label(python: str) -> str:
    """``3.12`` or ``3.14t`` (free-threaded) for an interpreter."""
    code = (
        "import sys, sysconfig;"
        "print('%d.%d%s' % (sys.version_info[:2] + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else '',)))"
    )
    return subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def _version_tuple(label: str) -> Tuple[int, int]:
    major, minor = label.rstrip("t").split(".")
    return int(major), int(minor)


def run_probe(python: str, core: str) -> Dict[str, str]:
    """Run the probe under ``python -m globalhook run`` with ``core``; the status of every place."""
    python = os.path.abspath(python) if os.sep in python else python  # the probe runs in a folder of its own
    version = _version_tuple(version_label(python))
    with tempfile.TemporaryDirectory(prefix="globalhook-completeness-") as work:
        for source in PROBE.glob("*.py"):
            shutil.copy(source, work)
        data = Path(work, "data.json")
        command = [python, "-m", "globalhook", "run", "--data-file", str(data)]
        for module in TRACKED:
            command += ["--include", module]
        command.append("ghc_driver.py")
        env = dict(os.environ, GLOBALHOOK_CORE=core, PYTHONDONTWRITEBYTECODE="1")
        env.pop("GLOBALHOOK_PROCESS_START", None)
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the probe failed under {python} ({core} core):\n{done.stderr}")
        lookups = load_data(data)["lookups"]
    return classify(lookups, version)


def load_data(path: Path) -> dict:
    """A data file with version 1's lookup objects, whatever its version (this checkout's reader)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from globalhook.data import load

    return load(str(path))


def classify(lookups: Iterable[dict], version: Tuple[int, int]) -> Dict[str, str]:
    """Each place's status, from the data file's lookups."""
    lookups = list(lookups)
    result = {}
    for place in PLACES:
        if version < place.since:
            result[place.key] = "n/a"
            continue
        found = [
            entry
            for entry in lookups
            if entry.get("name") == place.name
            and (entry.get("kind") in _READ_KINDS if place.kind == "read" else entry.get("kind") == place.kind)
            and (place.function is None or entry.get("function") == place.function)
            and (entry.get("owner") or entry.get("module")) in TRACKED
        ]
        if any(entry.get("count", 0) > 0 and not entry.get("static") for entry in found):
            result[place.key] = "yes"
        elif any(entry.get("static") for entry in found):
            result[place.key] = "static"
        else:
            result[place.key] = "no"
    return result


# -- the tables of the docs page ---------------------------------------------

#: The page that holds the tables, relative to the checkout.
PAGE = "docs/explanation/limits.md"

TABLE_START = "<!-- completeness-table:start (tools/completeness.py --write docs/explanation/limits.md) -->"
TABLE_END = "<!-- completeness-table:end -->"
LIST_START = "<!-- completeness-list:start (tools/completeness.py --write docs/explanation/limits.md) -->"
LIST_END = "<!-- completeness-list:end -->"

Results = Dict[Tuple[str, str], Dict[str, str]]  # (version label, core) -> place -> status


def _sorted_labels(labels: Iterable[str]) -> List[str]:
    return sorted(set(labels), key=lambda label: (_version_tuple(label), label.endswith("t")))


def render_table(results: Results) -> str:
    """One table per core: a row per place, a column per Python."""
    parts = []
    for core in CORES:
        labels = _sorted_labels(label for label, each in results if each == core)
        if not labels:
            continue
        parts.append(f"**{CORE_TITLES[core]}**\n")
        parts.append("| where the global is read | " + " | ".join(labels) + " |")
        parts.append("|---|" + "---|" * len(labels))
        for place in PLACES:
            cells = [results[label, core].get(place.key, "?") for label in labels]
            parts.append(f"| {place.text} | " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _span(labels: Sequence[str], among: Sequence[str]) -> str:
    """``3.9-3.11`` for consecutive labels of ``among``, joined with commas."""
    runs: List[List[str]] = []
    for label in among:
        if label in labels:
            if runs and among.index(runs[-1][-1]) == among.index(label) - 1:
                runs[-1].append(label)
            else:
                runs.append([label])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def _where(results: Results, place: Place, status: str) -> str:
    """Where ``place`` has ``status``: "" (nowhere), "everywhere", or per core and Pythons."""
    columns = [column for column in results if results[column].get(place.key) != "n/a"]
    hits = [column for column in columns if results[column].get(place.key) == status]
    if not hits:
        return ""
    if len(hits) == len(columns):
        return "everywhere"
    parts = []
    for core in CORES:
        among = _sorted_labels(label for label, each in columns if each == core)
        labels = [label for label, each in hits if each == core]
        if labels:
            span = "every Python" if len(labels) == len(among) else _span(labels, among)
            parts.append(f"{CORE_TITLES[core]}, {span}")
    return "; ".join(parts)


def render_list(results: Results) -> str:
    """What cannot be observed: every place that is ``no`` or ``static`` somewhere, with where and why."""
    lines = []
    for place in PLACES:
        where = _where(results, place, "no")
        if where:
            lines.append(f"- {place.text} ({where}): {place.why or 'not observed'}.")
        where = _where(results, place, "static")
        if where:
            lines.append(
                f"- {place.text}, observed statically only ({where}): each such write the "
                'bytecode can make is reported with `"static": true` and no count.'
            )
    if not lines:
        lines.append("- Nothing the probe reads is unobservable.")
    return "\n".join(lines) + "\n"


def parse_table(page: str) -> Results:
    """The results the page's tables state."""
    block = _between(page, TABLE_START, TABLE_END)
    texts = {place.text: place.key for place in PLACES}
    results: Results = {}
    core: Optional[str] = None
    labels: List[str] = []
    for line in block.splitlines():
        title = re.fullmatch(r"\*\*(.+)\*\*", line.strip())
        if title:
            core = next(key for key, value in CORE_TITLES.items() if value == title.group(1))
            labels = []
            continue
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == "where the global is read":
            labels = cells[1:]
            for label in labels:
                results[label, core] = {}  # type: ignore[index]
            continue
        key = texts.get(cells[0])
        if key is None or core is None:
            raise ValueError(f"{PAGE}: unknown row {cells[0]!r} in the completeness table")
        for label, status in zip(labels, cells[1:]):
            results[label, core][key] = status
    return results


def _between(text: str, start: str, end: str) -> str:
    try:
        return text.split(start, 1)[1].split(end, 1)[0]
    except IndexError:
        raise ValueError(f"{PAGE}: markers {start!r} ... {end!r} not found") from None


def _replace(text: str, start: str, end: str, body: str) -> str:
    _between(text, start, end)
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    return f"{head}{start}\n{body}{end}{tail}"


def write_page(path: Path, results: Results) -> None:
    text = path.read_text(encoding="utf-8")
    text = _replace(text, TABLE_START, TABLE_END, render_table(results))
    text = _replace(text, LIST_START, LIST_END, render_list(results))
    path.write_text(text, encoding="utf-8")


def _default_pythons() -> List[str]:
    return [str(path) for path in sorted(ROOT.glob(".tox/py3*/bin/python"))]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", default=[], help="an interpreter with globalhook installed (repeatable; default: every .tox/py3*/bin/python)")
    parser.add_argument("--core", action="append", choices=CORES, default=[], help="the core(s) to probe (default: both)")
    parser.add_argument("--write", metavar="PAGE", help=f"put the tables and the list into this page (theirs is {PAGE})")
    args = parser.parse_args(argv)
    pythons = args.python or _default_pythons()
    if not pythons:
        parser.error("no interpreter: pass --python, or run tox first")
    cores = args.core or list(CORES)
    results: Results = {}
    for python in pythons:
        label = version_label(python)
        for core in cores:
            results[label, core] = run_probe(python, core)
            print(f"{label} {core}: " + " ".join(f"{key}={value}" for key, value in results[label, core].items()), file=sys.stderr)
    if args.write:
        write_page(Path(args.write), results)
    else:
        sys.stdout.write(render_table(results) + "\n" + render_list(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
