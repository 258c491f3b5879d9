"""``globalhook html``: a static HTML report of a data file that stays small at scale.

The folder holds plain files only (HTML, CSS, JS and data as JS, no network
at view time, nothing from a CDN), so it can be opened from disk or kept as
a CI artefact.  What a module holds is written once, as one data file, and
every page that shows it loads that file with a script tag (fetch() is
refused on file://):

- ``data/m/<N>.js``: module N's functions, the names they read with counts,
  lines and tests, and the source lines the report shows (a string table:
  each distinct line once);
- ``index.html``: totals, runs, and the modules (``data/modules.js``: one row
  per module, never per function);
- ``modules/<module>.html``: a small page that renders its module's data
  file, a hundred functions at a time;
- ``names.html`` (``data/names.js``: one row per name) and
  ``names/<owner>.html``: the reverse index, built in the page from the data
  files of the modules that read the owner's names;
- ``graph.html``: functions -> the globals they read, drawn by ``graph.js``
  from the same module data files, loaded only when their module is shown.

The pages are written one module at a time (see :func:`write_html`), so
memory follows the biggest module, not the report.  Everything from the data
(names, paths, source text) is escaped: HTML by :func:`html.escape`, data
files as ASCII JSON with ``<``, ``>`` and ``&`` escaped; the scripts insert
text with ``textContent`` only.
"""

from __future__ import annotations

import datetime
import functools
import html
import json
import os
import re
import shutil
import stat
from string import Template
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from . import __version__
from .data import KINDS, STATIC_SUFFIX
from .records import Lookup, lookups_of
from .reverse import NAME_KINDS
from .selection import select
from .sourcemap import Located, SourceIndex, category
from .workers import run_jobs

__all__ = ["HtmlError", "write_html", "FUNCTIONS_PER_PAGE"]

FUNCTIONS_PER_PAGE = 100
#: Reader rows per view of the reverse index (a name with more readers gets a view of its own).
READERS_PER_PAGE = 2000
#: A name's readers shown on its page; the rest are counted.
MAX_READERS_SHOWN = 5000
#: Longer functions show only the lines around those that read a name.
MAX_SOURCE_LINES = 150
CONTEXT_LINES = 3
MAX_TESTS_SHOWN = 20

_MARKER = ".globalhook-html"
_OUR_FOLDERS = ("modules", "names", "data")
_ASSETS = ("style.css", "report.js", "modulepage.js", "namepage.js", "graph.js")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
_KIND_ORDER = {kind: index for index, kind in enumerate(KINDS)}
_KIND_CATEGORY = {kind: category(kind) for kind in KINDS}
# Writes found by scanning bytecode (``store (static)``): their lines are the same instructions'.
_KIND_CATEGORY.update({kind + STATIC_SUFFIX: category(kind) for kind in ("store", "delete")})
_KIND_ORDER.update({kind + STATIC_SUFFIX: _KIND_ORDER[kind] for kind in ("store", "delete")})
_UNSAFE = re.compile(r"[^A-Za-z0-9_.]")

esc = html.escape


class HtmlError(Exception):
    """The report cannot be written; the message is one line naming the folder."""


def _resources():
    """The package's ``htmlfiles`` folder, wherever the package is installed (even zipped)."""
    from importlib.resources import files  # 3.9+: no backport needed

    return files("globalhook").joinpath("htmlfiles")


def _asset(name: str) -> str:
    return _resources().joinpath(name).read_text(encoding="utf-8")


_JS_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _js_data(call: str, value: Any) -> str:
    """``call(value);``: a data file a page loads with a script tag (fetch() is refused on file://).

    ASCII-only JSON (so no U+2028 either) whose ``<``, ``>`` and ``&`` are
    escapes: whatever the strings hold, they stay strings, even if the text
    ever ends up inside an HTML ``<script>`` element.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return call + "(" + text.translate(_JS_UNSAFE) + ");\n"


def _slugs(names: Iterable[str]) -> Dict[str, str]:
    """A file name per module: readable, unique even on case-insensitive file systems."""
    result: Dict[str, str] = {}
    taken = set()
    for name in names:
        base = _UNSAFE.sub("_", name)[:80].strip(".") or "_"
        slug = base
        number = 2
        while slug.lower() in taken:
            slug = f"{base}-{number}"
            number += 1
        taken.add(slug.lower())
        result[name] = slug
    return result


def _kind_order(item: Tuple[Tuple[str, str, str], Any]) -> Tuple[int, str, str, str]:
    (name, kind, owner), _ = item
    return (_KIND_ORDER.get(kind, len(KINDS)), kind, name, owner)


def _run_end(runs: Sequence[Any]) -> Optional[float]:
    """When the last run ended (plus the second its time was rounded to), or None."""
    latest = None
    for run in runs:
        stamp = run.get("finished") or run.get("started") if isinstance(run, dict) else None
        if not isinstance(stamp, str):
            continue
        try:
            moment = datetime.datetime.fromisoformat(stamp)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        value = moment.timestamp() + 1.0
        latest = value if latest is None else max(latest, value)
    return latest


class _Function:
    """One recorded function of a module, with what it read."""

    __slots__ = ("qualname", "file", "line", "reads")

    def __init__(self, qualname: str, file: str, line: int) -> None:
        self.qualname = qualname
        self.file = file
        self.line = line
        #: (name, shown kind, owner module) -> [count, {context: count}]; the owner
        #: is the function's own module except for reads of other modules' attributes
        self.reads: Dict[Tuple[str, str, str], list] = {}

    def sorted_reads(self) -> List[Tuple[Tuple[str, str, str], list]]:
        """Globals first, then builtins, missing, writes; by name."""
        return sorted(self.reads.items(), key=_kind_order)


def _functions(lookups: Iterable[Lookup]) -> List[_Function]:
    """The lookups of one module regrouped by function, in source order."""
    found: Dict[Tuple[str, int, str], _Function] = {}
    for lookup in lookups:
        key = (lookup.file, lookup.line, lookup.function)
        function = found.get(key)
        if function is None:
            function = found[key] = _Function(key[2], key[0], key[1])
        name_key = (lookup.name, lookup.shown_kind, lookup.owner)
        read = function.reads.get(name_key)
        if read is None:
            read = function.reads[name_key] = [0, {}]
        count = lookup.count
        read[0] += count
        context = lookup.context
        if context:
            read[1][context] = read[1].get(context, 0) + count
    return [found[key] for key in sorted(found)]


class _Module:
    __slots__ = ("name", "slug", "index", "first", "totals")

    def __init__(self, name: str, slug: str, index: int, first: int) -> None:
        self.name = name
        self.slug = slug
        self.index = index
        #: the report-wide number of its first function (anchors are f<number>)
        self.first = first
        self.totals: Dict[str, int] = {}

    @property
    def page(self) -> str:
        return f"modules/{self.slug}.html"


class _Name:
    """One name of the reverse index: its totals for ``data/names.js``."""

    __slots__ = ("count", "readers", "contexts", "modules")

    def __init__(self) -> None:
        self.count = 0
        self.readers = 0
        self.contexts: Set[str] = set()
        self.modules: Set[int] = set()


class _Report:
    """What the index pages need, gathered in one pass; module pages are made later, one at a time."""

    def __init__(self, data: Dict[str, Any], modules: Sequence[str], context: Optional[str], cwd: str) -> None:
        self.data = data
        self.cwd = cwd
        self.patterns = list(modules)
        self.context = context
        # Records are only referenced here, never copied.
        by_module: Dict[str, List[Lookup]] = {}
        for lookup in select(lookups_of(data), modules, context):
            found = by_module.get(lookup.reader)
            if found is None:
                by_module[lookup.reader] = [lookup]
            else:
                found.append(lookup)
        #: reader module -> its records
        self.lookups = by_module
        slugs = _slugs(sorted(by_module))
        self.modules: List[_Module] = []
        #: (owner, name, kind) -> totals, for names the reverse index covers
        self.names: Dict[Tuple[str, str, str], _Name] = {}
        self.by_kind: Dict[str, int] = {}
        self.static_sites = 0
        distinct: Set[Tuple[str, str]] = set()
        wanted = set(NAME_KINDS)
        first = 1
        for index, name in enumerate(sorted(by_module)):
            module = _Module(name, slugs[name], index, first)
            functions = _functions(by_module[name])
            first += len(functions)
            names: Dict[str, Set[Tuple[str, str]]] = {kind: set() for kind in ("global", "builtin", "missing")}
            lookups = 0
            for function in functions:
                for (read, kind, owner), (count, contexts) in function.reads.items():
                    distinct.add((owner, read))
                    lookups += count
                    if kind in names:
                        names[kind].add((owner, read))
                    if kind.endswith(STATIC_SUFFIX):
                        self.static_sites += 1
                    else:
                        self.by_kind[kind] = self.by_kind.get(kind, 0) + count
                    if kind in wanted:
                        totals = self.names.get((owner, read, kind))
                        if totals is None:
                            totals = self.names[(owner, read, kind)] = _Name()
                        totals.count += count
                        totals.readers += 1
                        totals.contexts.update(contexts)
                        totals.modules.add(index)
            module.totals = {kind: len(found) for kind, found in names.items()}
            module.totals["functions"] = len(functions)
            module.totals["lookups"] = lookups
            self.modules.append(module)
        self.functions = first - 1
        self.distinct_names = len(distinct)
        self.owner_slugs = _slugs(sorted({owner for owner, _, _ in self.names}))

    def short(self, path: str) -> str:
        """Paths under the current directory read better relative."""
        prefix = self.cwd.rstrip(os.sep) + os.sep
        return path[len(prefix):] if os.path.isabs(path) and path.startswith(prefix) else path


class _ModuleData:
    """Builds one module's data file: functions, their reads, and the source lines shown."""

    def __init__(self, report: _Report, module: _Module, sources: SourceIndex) -> None:
        self.report = report
        self.module = module
        self.sources = sources
        self.names: Dict[Tuple[str, str, str], int] = {}
        self.name_rows: List[list] = []
        self.owners: Dict[str, int] = {}
        self.contexts: Dict[str, int] = {}
        self.files: Dict[str, int] = {}
        self.texts: Dict[str, int] = {}
        #: file index -> line -> text index
        self.shown: Dict[int, Dict[int, int]] = {}

    def value(self, functions: Sequence[_Function]) -> Dict[str, Any]:
        rows = [self.function(function) for function in functions]
        source = []
        for file, lines in sorted(self.shown.items()):
            run: List[int] = []
            start = previous = 0
            for number in sorted(lines):
                if run and number != previous + 1:
                    source.append([file, start, run])
                    run = []
                if not run:
                    start = number
                run.append(lines[number])
                previous = number
            if run:
                source.append([file, start, run])
        module = self.module
        return {
            "i": module.index,
            "module": module.name,
            "page": module.page,
            "first": module.first,
            "owners": [[owner, self.report.owner_slugs.get(owner, "")] for owner in self.owners],
            "names": self.name_rows,
            "contexts": list(self.contexts),
            "files": list(self.files),
            "texts": list(self.texts),
            "source": source,
            "functions": rows,
        }

    def _number(self, table: Dict[str, int], text: str) -> int:
        found = table.get(text)
        if found is None:
            found = table[text] = len(table)
        return found

    def function(self, function: _Function) -> list:
        """[qualname, file, line, notes, view, reads]: see modulepage.js."""
        located = self.sources.find(function.file, function.qualname, function.line)
        file = self._number(self.files, self.report.short(function.file))
        hits: Set[int] = set()
        reads = []
        for key, (count, contexts) in function.sorted_reads():
            name, kind, owner = key
            index = self.names.get(key)
            if index is None:
                index = self.names[key] = len(self.name_rows)
                linked = 1 if (owner, name, kind) in self.report.names else 0
                self.name_rows.append([self._number(self.owners, owner), name, kind, linked])
            what = _KIND_CATEGORY.get(kind)
            lines = located.lines_in(what, name)
            hits.update(lines)
            read: list = [index, count, lines]
            not_by_name = not lines and located.code is not None and what == "load"
            if not_by_name or contexts:
                read.append(1 if not_by_name else 0)
            if contexts:
                read.append([[self._number(self.contexts, c), n] for c, n in sorted(contexts.items())])
            reads.append(read)
        view: list = []
        if located.code is not None:
            windows = self.windows(located, hits)
            view = [located.first, located.last]
            if windows != [view]:
                view.append(windows)
            shown = self.shown.setdefault(file, {})
            lines = located.source.lines
            for start, end in windows:
                for number in range(start, end + 1):
                    if number not in shown:
                        shown[number] = self._number(self.texts, lines[number - 1] if number <= len(lines) else "")
        return [function.qualname, file, function.line, located.notes, view, reads]

    @staticmethod
    def windows(located: Located, hits: Set[int]) -> List[List[int]]:
        """The lines shown: the whole function, or those around its reads when it is long."""
        first, last = located.first, located.last
        if last - first + 1 <= MAX_SOURCE_LINES:
            return [[first, last]]
        windows: List[List[int]] = []
        for line in sorted(hits) or [first]:
            start, end = max(first, line - CONTEXT_LINES), min(last, line + CONTEXT_LINES)
            if windows and start <= windows[-1][1] + 1:
                windows[-1][1] = max(end, windows[-1][1])
            else:
                windows.append([start, end])
        return windows


class _Writer:
    """Writes the pages of one report into one folder."""

    def __init__(
        self, report: _Report, folder: str, title: str, roots: Sequence[str], paths: Sequence[Tuple[str, str]] = ()
    ) -> None:
        self.report = report
        self.folder = folder
        self.title = title
        self.template = Template(_asset("page.html"))
        self.since = _run_end(report.data.get("runs", ()))
        self.roots = roots
        self.paths = paths

    # -- files ------------------------------------------------------------

    def write(self, relative: str, text: str) -> None:
        """A new file at ``relative``: whatever had its name (an old page, a symlink,
        a hard link to someone's file) is unlinked first, never written through."""
        path = os.path.join(self.folder, relative)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
        with open(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)

    def page(self, relative: str, title: str, body: str, root: str = "", scripts: Sequence[str] = (), nav: str = "") -> None:
        tags = "".join(f'<script src="{root}{esc(src)}"></script>' for src in scripts)
        self.write(
            relative,
            self.template.substitute(
                title=esc(f"{title} · {self.title}" if title != self.title else title),
                root=root,
                nav=nav,
                body=body,
                scripts=tags,
                version=esc(__version__),
            ),
        )

    # -- pages -------------------------------------------------------------

    def all(self, workers: Optional[int] = None) -> None:
        report = self.report
        for name in _ASSETS:
            self.write(name, _asset(name))
        self.write(_MARKER, "This folder is written by 'globalhook html'; it is replaced on the next run.\n")
        self.write("data/modules.js", _js_data("GH.load", {"modules": self.module_rows()}))
        owners = [[owner, slug] for owner, slug in self.report.owner_slugs.items()]
        self.write("data/names.js", _js_data("GH.load", {"names": self.name_rows(), "owners": owners}))
        self.index_page()
        self.names_page()
        self.graph_page()
        readers: Dict[str, Set[int]] = {}
        for (owner, _, _), found in report.names.items():
            readers.setdefault(owner, set()).update(found.modules)
        for owner in report.owner_slugs:
            self.reverse_page(owner, sorted(readers[owner]))
        # Each module is an independent job: big reports share them out among
        # forked workers, and each job holds one module at a time.
        jobs: List[Tuple[int, Callable[[], None]]] = []
        for module in report.modules:
            jobs.append((module.totals["functions"] + 1, functools.partial(self.module_files, module)))
        run_jobs(jobs, workers)

    def module_files(self, module: _Module) -> None:
        functions = _functions(self.report.lookups[module.name])
        # A fresh index per module: compiled sources are let go once its page is written.
        sources = SourceIndex(since=self.since, roots=self.roots, paths=self.paths)
        self.write(f"data/m/{module.index}.js", _js_data("GH.module", _ModuleData(self.report, module, sources).value(functions)))
        self.module_page(module)

    def module_rows(self) -> List[list]:
        return [
            [m.name, m.page, m.totals["functions"], m.totals["global"], m.totals["builtin"], m.totals["missing"],
             m.totals["lookups"], m.index]
            for m in self.report.modules
        ]

    def name_rows(self) -> List[list]:
        return [
            [owner, name, kind, found.readers, len(found.contexts), found.count]
            for (owner, name, kind), found in sorted(self.report.names.items())
        ]

    def nav(self, root: str, here: str) -> str:
        links = [("index.html", "Modules"), ("names.html", "Who reads what"), ("graph.html", "Graph")]
        current = ' class="here"'
        return "".join(
            f'<a href="{root}{href}"{current if href == here else ""}>{label}</a>' for href, label in links
        )

    def index_page(self) -> None:
        report = self.report
        parts = [f"<h1>{esc(self.title)}</h1>"]
        rows: List[Tuple[str, int]] = [
            ("modules", len(report.modules)), ("functions", report.functions), ("distinct names", report.distinct_names)
        ]
        by_kind = report.by_kind
        rows += [(f"{kind} lookups", by_kind[kind]) for kind in sorted(by_kind, key=lambda k: (_KIND_ORDER.get(k, 99), k))]
        rows.append(("total lookups", sum(by_kind.values())))
        if report.static_sites:  # places that can write, never added to counts
            rows.append(("static write sites", report.static_sites))
        parts.append('<section class="totals"><h2>Totals</h2><table class="totals" id="totals">')
        parts.extend(f'<tr><th>{esc(label)}</th><td class="num">{value:,}</td></tr>' for label, value in rows)
        parts.append("</table>")
        selection = []
        if report.patterns:
            selection.append(f"modules matching {', '.join(report.patterns)}")
        if report.context is not None:
            selection.append(f"contexts matching {report.context}")
        if selection:
            parts.append(f'<p class="note">Only {esc("; ".join(selection))}.</p>')
        parts.append("</section>")
        parts.append(
            '<section><h2>Modules</h2><div class="gh-table" id="modules" data-source="modules" '
            '>'
            '<noscript>The module list needs JavaScript; the pages are in the folder "modules".</noscript></div></section>'
        )
        parts.append(self.runs_section())
        self.page("index.html", self.title, "\n".join(parts), scripts=("report.js", "data/modules.js"), nav=self.nav("", "index.html"))

    def runs_section(self) -> str:
        data = self.report.data
        parts = []
        runs = [run for run in data.get("runs", ()) if isinstance(run, dict)]
        if runs:
            parts.append(f"<section><h2>Runs ({len(runs)})</h2><table class=\"runs\"><tr><th>started</th><th>python</th><th>strategy</th><th>command</th><th>exit</th></tr>")
            for run in runs[:50]:
                command = run.get("command")
                shown = " ".join(str(word) for word in command) if isinstance(command, list) else str(command or "")
                cells = [run.get("started", ""), run.get("python", ""), run.get("strategy", ""), shown, run.get("exit_code", "")]
                parts.append("<tr>" + "".join(f"<td>{esc(str(cell))}</td>" for cell in cells) + "</tr>")
            parts.append("</table>")
            if len(runs) > 50:
                parts.append(f'<p class="note">and {len(runs) - 50:,} more runs</p>')
            parts.append("</section>")
        not_tracked = sorted({(e.get("module", ""), e.get("reason", "")) for e in data.get("not_tracked", ()) if isinstance(e, dict)})
        if not_tracked:
            parts.append("<section><h2>Not tracked</h2><table>")
            parts.extend(f"<tr><td>{esc(str(m))}</td><td>{esc(str(r))}</td></tr>" for m, r in not_tracked)
            parts.append("</table></section>")
        for key, heading in (("notes", "Notes"), ("unobservable", "Not observable (never recorded)")):
            seen: Dict[str, None] = {}
            for run in runs:
                values = run.get(key)
                if isinstance(values, list):
                    seen.update((str(v), None) for v in values)
            if seen:
                parts.append(f"<section><h2>{heading}</h2><ul>" + "".join(f"<li>{esc(v)}</li>" for v in seen) + "</ul></section>")
        return "\n".join(parts)

    def names_page(self) -> None:
        body = (
            "<h1>Who reads what</h1>"
            '<p class="note">Every module global (found or missing) with the functions that read it. '
            "Builtins are left out.</p>"
            '<div class="gh-table" id="names" data-source="names" '
            '>'
            '<noscript>The list needs JavaScript; the pages are in the folder "names".</noscript></div>'
        )
        self.page("names.html", "Who reads what", body, scripts=("report.js", "data/names.js"), nav=self.nav("", "names.html"))

    def graph_page(self) -> None:
        body = (
            "<h1>Dependency graph</h1>"
            '<div id="graph-app" class="graph-app">'
            '<aside class="graph-controls">'
            '<label>Modules <input type="search" id="module-filter" placeholder="filter modules"></label>'
            '<div id="module-list" class="module-list"></div>'
            '<label>Functions <input type="search" id="function-filter" placeholder="filter functions"></label>'
            '<label class="check"><input type="checkbox" id="show-builtins"> show builtins</label>'
            '<p class="legend"><span class="k-global">● global</span> <span class="k-missing">● missing</span> '
            '<span class="k-builtin">● builtin</span></p>'
            '<p class="note">Click a function for its source, a name for its readers.</p>'
            "</aside>"
            '<div class="graph-view"><p id="graph-status" class="note"></p><div id="graph"></div></div>'
            "</div>"
        )
        self.page("graph.html", "Dependency graph", body, scripts=("report.js", "data/modules.js", "graph.js"), nav=self.nav("", "graph.html"))


    def module_page(self, module: _Module) -> None:
        totals = module.totals
        body = (
            f'<h1 class="module">{esc(module.name)}</h1>'
            f'<p class="summary">{totals["functions"]:,} functions · {totals["global"]:,} globals · '
            f'{totals["builtin"]:,} builtins · {totals["missing"]:,} missing names · {totals["lookups"]:,} lookups · '
            f'<a href="../graph.html#m={module.index}">graph</a></p>'
            f'<div id="functions" data-module="{module.index}" data-per-page="{FUNCTIONS_PER_PAGE}" '
            f'data-tests="{MAX_TESTS_SHOWN}">'
            f'<noscript>This page needs JavaScript: its data is in data/m/{module.index}.js.</noscript></div>'
        )
        scripts = ("report.js", "modulepage.js", f"data/m/{module.index}.js")
        self.page(module.page, module.name, body, root="../", scripts=scripts, nav=self.nav("../", ""))

    def reverse_page(self, owner: str, readers: Sequence[int]) -> None:
        """The page of one owner's names: the page joins the data of the modules that read them."""
        report = self.report
        body = (
            f'<h1 class="module">Who reads what in {esc(owner)}</h1>'
            f'<div id="names-of" data-owner="{esc(owner)}" data-per-page="{READERS_PER_PAGE}" '
            f'data-shown="{MAX_READERS_SHOWN}" data-tests="{MAX_TESTS_SHOWN}">'
            '<noscript>This page needs JavaScript: its data is in the folder data/m.</noscript></div>'
        )
        scripts = ("report.js", "namepage.js", *(f"data/m/{index}.js" for index in readers))
        self.page(f"names/{report.owner_slugs[owner]}.html", f"Who reads {owner}", body, root="../", scripts=scripts, nav=self.nav("../", ""))


def _prepare(folder: str) -> None:
    """Make ``folder`` ready: new, empty, or a report of ours (whose old pages go)."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise HtmlError(f"{folder}: exists and is not a folder")
    if os.path.isdir(folder):
        try:
            entries = os.listdir(folder)
        except OSError as exc:
            raise HtmlError(f"{folder}: cannot read the folder ({exc.strerror or exc})") from None
        if entries and _MARKER not in entries:
            raise HtmlError(f"{folder}: not empty and not a globalhook HTML report: choose another folder with -d")
        try:
            for name in _OUR_FOLDERS:
                _remove(os.path.join(folder, name))
        except OSError as exc:
            raise HtmlError(f"{folder}: cannot remove the old report ({exc.strerror or exc})") from None
    try:
        for name in ("", "modules", "names", "data", os.path.join("data", "m")):
            os.makedirs(os.path.join(folder, name), exist_ok=True)
    except OSError as exc:
        raise HtmlError(f"{folder}: cannot create the folder ({exc.strerror or exc})") from None


def _remove(path: str) -> None:
    """Remove ``path`` itself: a symlink goes, never what it points at."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def write_html(
    data: Dict[str, Any],
    folder: str,
    modules: Sequence[str] = (),
    context: Optional[str] = None,
    title: str = "globalhook report",
    cwd: Optional[str] = None,
    workers: Optional[int] = None,
    source_roots: Optional[Sequence[str]] = None,
    path_map: Sequence[Tuple[str, str]] = (),
) -> Dict[str, int]:
    """Write the report of ``data`` into ``folder``; returns counts of what it holds.

    ``data`` is a data file as :func:`globalhook.records.read` gives it (its
    lookups records), or as :func:`globalhook.data.load` does (entry dicts).

    Sources are shown only of files under ``source_roots`` (default: ``cwd``)
    or the local folders of ``path_map`` (recorded folder -> local folder);
    any other function is listed with "source not shown" and why.

    ``workers``: processes that share the pages of a big report (None: one
    per CPU; see :mod:`globalhook.workers`).  Raises :class:`~globalhook.patterns.PatternError` for a bad module or
    context pattern (before anything is written) and :class:`HtmlError` when
    the folder cannot be used.
    """
    cwd = os.path.abspath(cwd or os.getcwd())
    report = _Report(data, modules, context, cwd)
    _prepare(folder)
    roots = [os.path.join(cwd, root) for root in source_roots] if source_roots else [cwd]
    roots += [local for _, local in path_map]  # named by the user as where the sources are
    writer = _Writer(report, folder, title, roots, path_map)
    try:
        writer.all(workers)
    except OSError as exc:
        raise HtmlError(f"{folder}: cannot write the report ({exc.strerror or exc})") from None
    return {"modules": len(report.modules), "functions": report.functions}
