"""``globalhook html``: a static, self-contained HTML report of a data file.

The folder holds plain files only (HTML, CSS, JS and data as JS, no network
at view time, nothing from a CDN), so it can be opened from disk or kept as
a CI artefact:

- ``index.html``: totals, runs, and the modules with their totals;
- ``modules/<module>[.N].html``: each function with the names it read, their
  counts, and its source with the lines that read them highlighted
  (:mod:`globalhook.sourcemap`), a hundred functions a page;
- ``names.html`` and ``names/<module>[.N].html``: the reverse index, per
  global the functions (and tests, when entries carry a context) that read it;
- ``graph.html``: functions -> the globals they read, grouped by module,
  drawn by ``graph.js`` (our own SVG code) from per-module data files that are
  loaded only when their module is shown.

Big tables (modules, names) are data files that the page pages through, so
10^5 functions stay usable.  Everything from the data (names, paths, source
text) is escaped: HTML by :func:`html.escape`, data files as JSON with ``<``
escaped; the scripts insert text with ``textContent`` only.
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
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from . import __version__
from .data import KINDS, STATIC_SUFFIX, shown_kind
from .reverse import ReverseIndex
from .selection import owner_of, reader_of, select
from .sourcemap import Located, SourceIndex, category
from .workers import run_jobs

__all__ = ["HtmlError", "write_html", "FUNCTIONS_PER_PAGE"]

FUNCTIONS_PER_PAGE = 100
#: Reader rows per page of the reverse index (a name with more readers gets a page of its own).
READERS_PER_PAGE = 2000
#: A name's readers shown on its page; the rest are counted.
MAX_READERS_SHOWN = 5000
#: Longer functions show only the lines around those that read a name.
MAX_SOURCE_LINES = 150
CONTEXT_LINES = 3
MAX_TESTS_SHOWN = 20

_MARKER = ".globalhook-html"
_OUR_FOLDERS = ("modules", "names", "data")
_ASSETS = ("style.css", "report.js", "graph.js")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
_KIND_ORDER = {kind: index for index, kind in enumerate(KINDS)}
_KIND_CATEGORY = {kind: category(kind) for kind in KINDS}
# Writes found by scanning bytecode (``store (static)``): their lines are the same instructions'.
_KIND_CATEGORY.update({kind + STATIC_SUFFIX: category(kind) for kind in ("store", "delete")})
_KIND_ORDER.update({kind + STATIC_SUFFIX: _KIND_ORDER[kind] for kind in ("store", "delete")})
_NOT_BY_NAME = '<span class="note" title="read through globals(), eval or exec, or the source changed">not by name</span>'
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


def _js_data(call: str, value: Any) -> str:
    """``call(value);``: a data file a page loads with a script tag (fetch() is refused on file://).

    ASCII-only JSON with ``</`` broken up is safe whatever the strings hold.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return call + "(" + text.replace("</", "<\\/") + ");\n"


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


def _kind_order(item: Tuple[Tuple[str, str, str], int]) -> Tuple[int, str, str, str]:
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
    __slots__ = ("fid", "module", "qualname", "file", "line", "names", "contexts", "href", "_sorted")

    def __init__(self, fid: int, module: str, qualname: str, file: str, line: int) -> None:
        self.fid = fid
        self.module = module
        self.qualname = qualname
        self.file = file
        self.line = line
        #: (name, kind, owner module) -> count; the owner is the function's
        #: own module except for reads of other modules' attributes (later formats)
        self.names: Dict[Tuple[str, str, str], int] = {}
        self.contexts: Dict[str, int] = {}
        self.href = ""
        self._sorted: Optional[List[Tuple[Tuple[str, str], int]]] = None

    def count(self, kind: str) -> int:
        return sum(1 for (_, k, _) in self.names if k == kind)

    def sorted_names(self) -> List[Tuple[Tuple[str, str, str], int]]:
        """((name, kind), count): globals first, then builtins, missing, writes; by name."""
        if self._sorted is None:
            self._sorted = sorted(self.names.items(), key=_kind_order)
        return self._sorted


class _Module:
    __slots__ = ("name", "slug", "functions", "index")

    def __init__(self, name: str, slug: str, index: int) -> None:
        self.name = name
        self.slug = slug
        self.index = index
        self.functions: List[_Function] = []

    def totals(self) -> Dict[str, int]:
        names = {kind: set() for kind in ("global", "builtin", "missing")}
        lookups = 0
        for function in self.functions:
            for (name, kind, owner), count in function.names.items():
                if kind in names:
                    names[kind].add((owner, name))
                lookups += count
        totals = {kind: len(found) for kind, found in names.items()}
        totals["functions"] = len(self.functions)
        totals["lookups"] = lookups
        return totals


class _Report:
    """The data regrouped once; every page is a view of this."""

    def __init__(self, data: Dict[str, Any], modules: Sequence[str], context: Optional[str], cwd: str) -> None:
        self.data = data
        self.cwd = cwd
        self._short: Dict[str, str] = {}
        entries = select(data.get("lookups", ()), modules, context)
        self.patterns = list(modules)
        self.context = context
        functions: Dict[Tuple[str, str, int, str], _Function] = {}
        for entry in entries:
            key = (reader_of(entry), entry["file"], entry["line"], entry["function"])
            function = functions.get(key)
            if function is None:
                function = functions[key] = _Function(0, key[0], key[3], key[1], key[2])
            name_key = (entry["name"], shown_kind(entry), owner_of(entry))
            function.names[name_key] = function.names.get(name_key, 0) + entry["count"]
            context_name = entry.get("context")
            if context_name:
                function.contexts[context_name] = function.contexts.get(context_name, 0) + entry["count"]
        by_module: Dict[str, List[_Function]] = {}
        for key in sorted(functions):
            by_module.setdefault(key[0], []).append(functions[key])
        slugs = _slugs(sorted(by_module))
        self.modules: List[_Module] = []
        self.functions: Dict[Tuple[str, str, str, int], _Function] = {}
        fid = 0
        for index, name in enumerate(sorted(by_module)):
            module = _Module(name, slugs[name], index)
            for position, function in enumerate(by_module[name]):
                fid += 1
                function.fid = fid
                page = page_file(module.slug, position // FUNCTIONS_PER_PAGE)
                function.href = f"modules/{page}#f{fid}"
                self.functions[(function.module, function.qualname, function.file, function.line)] = function
                module.functions.append(function)
            self.modules.append(module)
        self.reverse = ReverseIndex({"lookups": entries})
        owner_slugs = _slugs(self.reverse.modules)
        #: (owner, name, kind) -> href of its entry in the reverse index
        self.name_hrefs: Dict[Tuple[str, str, str], str] = {}
        #: the same as a link from a page one folder down, name escaped
        self.name_links: Dict[Tuple[str, str, str], str] = {}
        #: owner -> [(page file, [NameReaders, ...]), ...]
        self.name_pages: Dict[str, List[Tuple[str, list]]] = {}
        anchor = 0
        for owner, names in self.reverse.modules.items():
            pages: List[Tuple[str, list]] = []
            rows = READERS_PER_PAGE  # start a new page at once
            for readers in names:
                shown = min(len(readers.readers), MAX_READERS_SHOWN)
                if rows + shown > READERS_PER_PAGE and (not pages or pages[-1][1]):
                    pages.append((page_file(owner_slugs[owner], len(pages)), []))
                    rows = 0
                rows += max(shown, 1)
                pages[-1][1].append(readers)
                anchor += 1
                href = f"names/{pages[-1][0]}#n{anchor}"
                key = (owner, readers.name, readers.kind)
                self.name_hrefs[key] = href
                self.name_links[key] = f'<a href="../{esc(href)}">{esc(readers.name)}</a>'
            self.name_pages[owner] = pages

    def short(self, path: str) -> str:
        """Paths under the current directory read better relative."""
        found = self._short.get(path)
        if found is None:
            prefix = self.cwd.rstrip(os.sep) + os.sep
            found = path[len(prefix):] if os.path.isabs(path) and path.startswith(prefix) else path
            self._short[path] = found
        return found


def page_file(slug: str, page: int) -> str:
    """The file of a module's page number ``page`` (from 0): ``slug.html``, ``slug.2.html``, ..."""
    return f"{slug}.html" if page == 0 else f"{slug}.{page + 1}.html"


class _Writer:
    """Writes the pages of one report into one folder."""

    def __init__(
        self, report: _Report, folder: str, title: str, roots: Sequence[str], paths: Sequence[Tuple[str, str]] = ()
    ) -> None:
        self.report = report
        self.folder = folder
        self.title = title
        self.template = Template(_asset("page.html"))
        self.sources = SourceIndex(since=_run_end(report.data.get("runs", ())), roots=roots, paths=paths)
        self._escaped_lines: Dict[str, List[str]] = {}
        self._escaped: Dict[str, str] = {}

    def esc(self, text: str) -> str:
        """:func:`html.escape`, remembered: names and kinds repeat many times."""
        found = self._escaped.get(text)
        if found is None:
            found = self._escaped[text] = esc(text)
        return found

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
        self.write("data/names.js", _js_data("GH.load", {"names": self.name_rows()}))
        self.index_page()
        self.names_page()
        self.graph_page()
        # The pages of each module and the reverse index of each owner are
        # independent jobs: big reports share them out among forked workers.
        jobs: List[Tuple[int, Callable[[], None]]] = []
        for module in report.modules:
            jobs.append((len(module.functions) + 1, functools.partial(self.module_files, module)))
        for owner, pages in report.name_pages.items():
            weight = sum(len(readers.readers) for _, names in pages for readers in names) // 4 + 1
            jobs.append((weight, functools.partial(self.reverse_pages, owner)))
        run_jobs(jobs, workers)

    def module_files(self, module: "_Module") -> None:
        self.write(f"data/graph/{module.index}.js", _js_data("GH.graphLoaded", [module.index, self.graph_data(module)]))
        self.module_pages(module)

    def reverse_pages(self, owner: str) -> None:
        pages = self.report.name_pages[owner]
        for number, (file, names) in enumerate(pages):
            self.reverse_page(owner, file, names, number, len(pages))

    def module_rows(self) -> List[list]:
        rows = []
        for module in self.report.modules:
            totals = module.totals()
            rows.append(
                [
                    module.name,
                    f"modules/{page_file(module.slug, 0)}",
                    totals["functions"],
                    totals["global"],
                    totals["builtin"],
                    totals["missing"],
                    totals["lookups"],
                    module.index,
                ]
            )
        return rows

    def name_rows(self) -> List[list]:
        hrefs = self.report.name_hrefs
        return [
            [r.owner, r.name, r.kind, len(r.readers), len(r.contexts), r.count, hrefs[(r.owner, r.name, r.kind)]]
            for r in self.report.reverse
        ]

    def graph_data(self, module: _Module) -> Dict[str, Any]:
        """Functions of one module and the names they read (builtins marked, to hide them)."""
        nodes: Dict[Tuple[str, str, str], int] = {}
        names: List[list] = []
        functions = []
        hrefs = self.report.name_hrefs
        for function in module.functions:
            edges = []
            for (name, kind, owner), count in function.sorted_names():
                if kind in ("store", "delete") or kind.endswith(STATIC_SUFFIX):
                    continue
                key = ("builtins" if kind == "builtin" else owner, name, kind)
                index = nodes.get(key)
                if index is None:
                    index = nodes[key] = len(names)
                    names.append([key[0], name, kind, hrefs.get(key, "")])
                edges.append([index, count])
            functions.append([function.qualname, function.line, function.href, edges])
        return {"module": module.name, "functions": functions, "names": names}

    def nav(self, root: str, here: str) -> str:
        links = [("index.html", "Modules"), ("names.html", "Who reads what"), ("graph.html", "Graph")]
        current = ' class="here"'
        return "".join(
            f'<a href="{root}{href}"{current if href == here else ""}>{label}</a>' for href, label in links
        )

    def index_page(self) -> None:
        report = self.report
        parts = [f"<h1>{esc(self.title)}</h1>"]
        totals: Dict[str, int] = {"modules": len(report.modules), "functions": len(report.functions)}
        by_kind: Dict[str, int] = {}
        distinct = set()
        for function in report.functions.values():
            for (name, kind, owner), count in function.names.items():
                distinct.add((owner, name))
                if kind.endswith(STATIC_SUFFIX):
                    by_kind["static write sites"] = by_kind.get("static write sites", 0) + 1
                    continue
                by_kind[kind] = by_kind.get(kind, 0) + count
        totals["distinct names"] = len(distinct)
        rows = [(label, value) for label, value in totals.items()]
        static = by_kind.pop("static write sites", 0)  # places that can write, never added to counts
        rows += [(f"{kind} lookups", by_kind[kind]) for kind in sorted(by_kind, key=lambda k: (_KIND_ORDER.get(k, 99), k))]
        rows.append(("total lookups", sum(by_kind.values())))
        if static:
            rows.append(("static write sites", static))
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

    def module_pages(self, module: _Module) -> None:
        functions = module.functions
        pages = max(1, -(-len(functions) // FUNCTIONS_PER_PAGE))
        totals = module.totals()
        summary = (
            f'<p class="summary">{totals["functions"]:,} functions · {totals["global"]:,} globals · '
            f'{totals["builtin"]:,} builtins · {totals["missing"]:,} missing names · {totals["lookups"]:,} lookups · '
            f'<a href="../graph.html#m={module.index}">graph</a></p>'
        )
        for number in range(pages):
            chunk = functions[number * FUNCTIONS_PER_PAGE : (number + 1) * FUNCTIONS_PER_PAGE]
            parts = [f'<h1 class="module">{esc(module.name)}</h1>', summary]
            pager = _pager_files([page_file(module.slug, n) for n in range(pages)], number)
            parts.append(pager)
            parts.append(self.contents(chunk))
            parts.extend(self.function_section(function) for function in chunk)
            if pages > 1:
                parts.append(pager)
            self.page(
                f"modules/{page_file(module.slug, number)}",
                module.name,
                "\n".join(parts),
                root="../",
                nav=self.nav("../", ""),
            )

    def contents(self, functions: Sequence[_Function]) -> str:
        rows = ['<table class="contents"><tr><th>function</th><th>line</th><th>globals</th><th>builtins</th><th>missing</th><th>lookups</th></tr>']
        e = self.esc
        for f in functions:
            kinds = [kind for (_, kind, _) in f.names]
            missing = ", ".join([e(name) for (name, kind, _), _ in f.sorted_names() if kind == "missing"])
            rows.append(
                f'<tr><td><a href="#f{f.fid}">{e(f.qualname)}</a></td><td class="num">{f.line}</td>'
                f'<td class="num">{kinds.count("global")}</td><td class="num">{kinds.count("builtin")}</td>'
                f'<td class="missing">{missing}</td><td class="num">{sum(f.names.values()):,}</td></tr>'
            )
        rows.append("</table>")
        return "".join(rows)

    def function_section(self, function: _Function) -> str:
        report = self.report
        located = self.sources.find(function.file, function.qualname, function.line)
        fid = function.fid
        e = self.esc
        parts = [
            f'<section class="function" id="f{fid}">'
            f'<h2><a class="anchor" href="#f{fid}">{e(function.qualname)}</a> '
            f'<span class="where">{e(report.short(function.file))}:{function.line}</span></h2>'
        ]
        for note in located.notes:
            parts.append(f'<p class="source-note">{esc(note)}</p>')
        links = report.name_links
        module = function.module
        hits: Dict[int, List[str]] = {}
        rows = ['<table class="names"><tr><th>name</th><th>kind</th><th>count</th><th>lines</th></tr>']
        for (name, kind, owner), count in function.sorted_names():
            what = _KIND_CATEGORY.get(kind)
            lines = located.lines_in(what, name)
            if lines:
                for line in lines:
                    found = hits.get(line)
                    if found is None:
                        hits[line] = [name]
                    else:
                        found.append(name)
                where = ", ".join([f'<a href="#f{fid}-L{line}">{line}</a>' for line in lines])
            elif located.code is not None and what == "load":
                where = _NOT_BY_NAME
            else:
                where = ""
            shown = links.get((owner, name, kind)) or e(name if owner == module else f"{owner}.{name}")
            ekind = e(kind)
            if kind.endswith(STATIC_SUFFIX):  # found by a scan: it can write, how often is unknown
                css = e(kind[: -len(STATIC_SUFFIX)]) + " static"
                rows.append(f'<tr class="k-{css}"><td>{shown}</td><td>{ekind}</td><td title="not counted: found by scanning bytecode">-</td><td>{where}</td></tr>')
                continue
            rows.append(f'<tr class="k-{ekind}"><td>{shown}</td><td>{ekind}</td><td>{count:,}</td><td>{where}</td></tr>')
        rows.append("</table>")
        parts.append("".join(rows))
        if function.contexts:
            tests = sorted(function.contexts.items(), key=lambda item: (-item[1], item[0]))
            shown_tests = ", ".join(f"{esc(name)} ({count:,})" for name, count in tests[:MAX_TESTS_SHOWN])
            more = f" and {len(tests) - MAX_TESTS_SHOWN:,} more" if len(tests) > MAX_TESTS_SHOWN else ""
            parts.append(f'<p class="tests">Tests: {shown_tests}{more}</p>')
        if located.code is not None:
            parts.append(self.source(located, fid, hits))
        parts.append("</section>")
        return "\n".join(parts)

    def escaped_lines(self, located: Located) -> List[str]:
        path = located.source.path
        found = self._escaped_lines.get(path)
        if found is None:
            found = self._escaped_lines[path] = [esc(line, quote=False) for line in located.source.lines]
        return found

    def source(self, located: Located, fid: int, hits: Dict[int, List[str]]) -> str:
        lines = self.escaped_lines(located)
        first, last = located.first, located.last
        if last - first + 1 <= MAX_SOURCE_LINES:
            windows = [(first, last)]
        else:
            windows = []
            for line in sorted(hits) or [first]:
                start, end = max(first, line - CONTEXT_LINES), min(last, line + CONTEXT_LINES)
                if windows and start <= windows[-1][1] + 1:
                    windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
                else:
                    windows.append((start, end))
        parts = []
        previous = first - 1
        for start, end in windows:
            if start > previous + 1:
                parts.append(f'<p class="gap">⋮ {start - previous - 1:,} lines</p>')
            chunk = [f'<pre class="source" style="counter-reset:ln {start - 1}">']
            for number in range(start, end + 1):
                text = lines[number - 1] if number <= len(lines) else ""
                names = hits.get(number)
                if names:
                    chunk.append(
                        f'<span class="line hit" id="f{fid}-L{number}">{text}'
                        f'<span class="reads">{esc(", ".join(names))}</span></span>'
                    )
                else:
                    chunk.append(f"<span class=line>{text}</span>")
            chunk.append("</pre>")
            parts.append("".join(chunk))
            previous = end
        if last > previous:
            parts.append(f'<p class="gap">⋮ {last - previous:,} lines</p>')
        return "".join(parts)

    def reverse_page(self, owner: str, file: str, names: list, number: int, pages: int) -> None:
        report = self.report
        parts = [f'<h1 class="module">Who reads what in {esc(owner)}</h1>']
        pager = _pager_files([p for p, _ in report.name_pages[owner]], number)
        parts.append(pager)
        parts.append('<p class="contents">' + " · ".join(
            f'<a href="#{esc(report.name_hrefs[(r.owner, r.name, r.kind)].rpartition("#")[2])}">{esc(r.name)}</a>'
            for r in names
        ) + "</p>")
        for readers in names:
            anchor = report.name_hrefs[(readers.owner, readers.name, readers.kind)].rpartition("#")[2]
            count = len(readers.readers)
            parts.append(
                f'<section class="name k-{esc(readers.kind)}" id="{anchor}"><h2><a class="anchor" href="#{anchor}">'
                f'{esc(readers.name)}</a> <span class="kind">{esc(readers.kind)}</span> '
                f'<span class="where">{readers.count:,} lookups by {count:,} function{"s" if count != 1 else ""}</span></h2>'
            )
            rows = ['<table class="readers"><tr><th>function</th><th>where</th><th>count</th></tr>']
            ordered = readers.sorted_readers()
            for (module, function, path, line), number_read in ordered[:MAX_READERS_SHOWN]:
                target = report.functions.get((module, function, path, line))
                label = function if module == owner else f"{module}.{function}"
                shown = f'<a href="../{self.esc(target.href)}">{self.esc(label)}</a>' if target else self.esc(label)
                rows.append(
                    f'<tr><td>{shown}</td><td>{self.esc(report.short(path))}:{line}</td><td class="num">{number_read:,}</td></tr>'
                )
            rows.append("</table>")
            parts.append("".join(rows))
            if len(ordered) > MAX_READERS_SHOWN:
                parts.append(f'<p class="note">and {len(ordered) - MAX_READERS_SHOWN:,} more readers (see globalhook report --by-name)</p>')
            if readers.contexts:
                tests = readers.sorted_contexts()
                shown_tests = ", ".join(f"{esc(c)} ({n:,})" for c, n in tests[:MAX_TESTS_SHOWN])
                more = f" and {len(tests) - MAX_TESTS_SHOWN:,} more" if len(tests) > MAX_TESTS_SHOWN else ""
                parts.append(f'<p class="tests">Tests: {shown_tests}{more}</p>')
            parts.append("</section>")
        if pages > 1:
            parts.append(pager)
        self.page(f"names/{file}", f"Who reads {owner}", "\n".join(parts), root="../", nav=self.nav("../", ""))


def _pager_files(files: Sequence[str], number: int) -> str:
    if len(files) <= 1:
        return ""
    links = []
    for index, file in enumerate(files):
        if index == number:
            links.append(f'<strong>{index + 1}</strong>')
        else:
            links.append(f'<a href="{esc(file)}">{index + 1}</a>')
    return f'<nav class="pager">Page {" ".join(links)}</nav>'


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
        for name in ("", "modules", "names", "data", os.path.join("data", "graph")):
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
    return {"modules": len(report.modules), "functions": len(report.functions)}
