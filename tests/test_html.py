"""``globalhook html``: the files it writes, what they say, and that nothing from the data is trusted.

The pages are checked as text here; tests/test_html_browser.py opens them in
a real browser.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from globalhook import data as datafile
from globalhook import htmlreport, workers
from globalhook.htmlreport import HtmlError, write_html
from globalhook.patterns import PatternError

REPO = str(Path(__file__).resolve().parent.parent)

APP = {
    "app/__init__.py": "",
    "app/settings.py": """\
        TIMEOUT = 30
        NAMES = ["a", "b"]


        def timeout():
            return TIMEOUT
    """,
    "app/web.py": """\
        from app import settings

        CONFIG = {"debug": False}
        HANDLERS = []


        def view(request):
            if CONFIG["debug"]:
                return None
            return len(HANDLERS) + settings.timeout()


        class Page:
            def render(self):
                return [h for h in HANDLERS] or CONFIG


        def broken():
            try:
                return undefined_setting
            except NameError:
                return None
    """,
    "main.py": """\
        import app.web

        app.web.view(None)
        app.web.Page().render()
        app.web.broken()
    """,
}


def globalhook(args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = REPO
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "globalhook", *args], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=120
    )


def write_files(root: Path, files: dict) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The app run once under globalhook; its data file is .globalhook.json."""
    root = tmp_path_factory.mktemp("project")
    write_files(root, APP)
    result = globalhook(["run", "--include", "app", "main.py"], root)
    assert result.returncode == 0, result.stderr
    return root


def load(project: Path) -> dict:
    return datafile.load(str(project / ".globalhook.json"))


def js_data(path: Path):
    text = path.read_text()
    call, _, rest = text.partition("(")
    assert text.endswith(");\n") and call in ("GH.load", "GH.graphLoaded")
    return json.loads(rest[: -len(");\n")])


def line_of(project: Path, relative: str, text: str) -> int:
    lines = (project / relative).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


class TestFiles:
    def test_the_folder(self, project, tmp_path):
        out = tmp_path / "html"
        summary = write_html(load(project), str(out), cwd=str(project))
        assert summary == {"modules": 3, "functions": 7}
        files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
        assert files == {
            ".globalhook-html", "index.html", "names.html", "graph.html", "style.css", "report.js", "graph.js",
            "data/modules.js", "data/names.js", "data/graph/0.js", "data/graph/1.js", "data/graph/2.js",
            "modules/__main__.html", "modules/app.settings.html", "modules/app.web.html",
            "names/__main__.html", "names/app.settings.html", "names/app.web.html",
            "names/app.html",  # main.py reads attributes of the package app (kind attribute)
        }
        for page in out.rglob("*.html"):
            text = page.read_text()
            assert text.startswith("<!DOCTYPE html>") and "http://" not in text and "https://" not in text
            assert re.search(r"""(?:src|href)=["']?(?:https?:)?//""", text) is None  # nothing from the network

    def test_assets_come_from_the_package(self, project, tmp_path):
        out = tmp_path / "html"
        write_html(load(project), str(out), cwd=str(project))
        for name in ("style.css", "report.js", "graph.js"):
            assert (out / name).read_text() == htmlreport._resources().joinpath(name).read_text(encoding="utf-8")
        html_files = sorted(p.name for p in (Path(REPO) / "globalhook" / "htmlfiles").iterdir())
        assert html_files == ["graph.js", "page.html", "report.js", "style.css"]
        pyproject = (Path(REPO) / "pyproject.toml").read_text()
        package_data = pyproject.partition("[tool.setuptools.package-data]\n")[2].splitlines()[0]
        assert package_data.startswith("globalhook = [") and '"htmlfiles/*"' in package_data  # shipped as package data

    def test_index_data(self, project, tmp_path):
        out = tmp_path / "html"
        write_html(load(project), str(out), cwd=str(project))
        modules = {row[0]: row for row in js_data(out / "data" / "modules.js")["modules"]}
        web = modules["app.web"]
        assert web[1] == "modules/app.web.html"
        assert web[2:6] == [4, 3, 2, 1]  # functions, globals (CONFIG, HANDLERS, settings), builtins (len, NameError), missing
        index = (out / "index.html").read_text()
        assert '<table class="totals" id="totals">' in index and "<th>functions</th><td class=\"num\">7</td>" in index

    def test_module_page_highlights_the_lines_that_read_each_name(self, project, tmp_path):
        out = tmp_path / "html"
        write_html(load(project), str(out), cwd=str(project))
        page = (out / "modules" / "app.web.html").read_text()
        assert '<h1 class="module">app.web</h1>' in page
        hits = dict(re.findall(r'<span class="line hit" id="(f\d+-L\d+)">.*?<span class="reads">([^<]*)</span>', page))
        view_line = line_of(project, "app/web.py", 'if CONFIG["debug"]')
        len_line = line_of(project, "app/web.py", "return len(HANDLERS)")
        missing_line = line_of(project, "app/web.py", "return undefined_setting")
        highlighted = {int(key.split("-L")[1]): names for key, names in hits.items()}
        assert highlighted[view_line] == "CONFIG"
        # settings.timeout() is a read of app.settings's attribute, on that line too.
        assert highlighted[len_line] == "HANDLERS, settings, len, timeout"
        assert highlighted[missing_line] == "undefined_setting"
        # Each name row links to its lines, and globals to their readers.
        assert re.search(rf'<a href="#f\d+-L{view_line}">{view_line}</a>', page)
        assert '<a href="../names/app.web.html#n' in page
        # The whole function is shown, and numbered from its first line.
        first = line_of(project, "app/web.py", "def view(request):")
        assert f'style="counter-reset:ln {first - 1}"><span class=line>def view(request):</span>' in page

    def test_reverse_index(self, project, tmp_path):
        out = tmp_path / "html"
        write_html(load(project), str(out), cwd=str(project))
        names = {(row[0], row[1]): row for row in js_data(out / "data" / "names.js")["names"]}
        assert names[("app.web", "HANDLERS")][3] == 2  # view and Page.render
        assert ("builtins", "len") not in names and ("app.web", "len") not in names
        page = (out / "names" / "app.web.html").read_text()
        section = page[page.index(">HANDLERS</a>"):]
        section = section[: section.index("</section>")]
        assert '<a href="../modules/app.web.html#f' in section and ">view</a>" in section and ">Page.render</a>" in section

    def test_graph_data(self, project, tmp_path):
        out = tmp_path / "html"
        write_html(load(project), str(out), cwd=str(project))
        modules = {row[0]: row[7] for row in js_data(out / "data" / "modules.js")["modules"]}
        index, graph = js_data(out / "data" / "graph" / f"{modules['app.web']}.js")
        assert index == modules["app.web"] and graph["module"] == "app.web"
        functions = {f[0]: f for f in graph["functions"]}
        view = functions["view"]
        assert view[2].startswith("modules/app.web.html#f")
        read = {tuple(graph["names"][i][:3]) for i, _ in view[3]}
        assert read == {("app.web", "CONFIG", "global"), ("app.web", "HANDLERS", "global"), ("builtins", "len", "builtin"),
                        ("app.web", "settings", "global"), ("app.settings", "timeout", "attribute")}
        assert all(name[3].startswith("names/") for name in graph["names"] if name[2] != "builtin")


def hostile_data(root: Path) -> dict:
    evil = root / 'we"ird<dir>&'
    evil.mkdir()
    source = evil / "mod.py"
    source.write_text('X = 1\n\ndef f():\n    return X + "</pre><script>alert(1)</script>"\n')
    lookups = [
        {"module": "app.<b>bold</b>", "function": "<script>alert('f')</script>", "file": str(source), "line": 3,
         "name": "<img src=x onerror=alert(1)>", "kind": "global", "count": 1, "context": "<iframe src=javascript:1>"},
        {"module": "app.<b>bold</b>", "function": "f", "file": str(source), "line": 3,
         "name": "X", "kind": "global", "count": 2, "context": "t</script><script>alert(2)//"},
        {"module": "m", "function": "g", "file": "/nowhere/<svg onload=alert(3)>.py", "line": 1,
         "name": "Y\u2028</script>", "kind": "missing", "count": 1},
    ]
    return datafile.make_data(lookups, {"command": ["<script>alert(4)</script>"], "notes": ["<b>note</b>"]})


class TestEscaping:
    def test_nothing_from_the_data_becomes_markup(self, tmp_path):
        data = hostile_data(tmp_path)
        out = tmp_path / "html"
        write_html(data, str(out), cwd=str(tmp_path))
        for path in out.rglob("*"):
            if not path.is_file() or path.name in ("report.js", "graph.js"):
                continue
            text = path.read_text()
            if path.suffix == ".js":  # data: JSON that the pages insert as text only
                assert "</" not in text and "\u2028" not in text and text.isascii()
                continue
            for raw in ("<script>alert", "<img src=x", "<iframe", "<svg onload", "<b>bold", "<b>note", "</pre><script>"):
                assert raw not in text, (path, raw)
        page = next((out / "modules").glob("app.*.html")).read_text()
        assert "&lt;script&gt;alert(&#x27;f&#x27;)&lt;/script&gt;" in page
        assert 'return X + "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page
        assert "we&quot;ird&lt;dir&gt;&amp;" in page

    def test_file_names_are_made_safe(self, tmp_path):
        out = tmp_path / "html"
        write_html(hostile_data(tmp_path), str(out), cwd=str(tmp_path))
        for path in out.rglob("*"):
            assert re.fullmatch(r"[A-Za-z0-9_.-]+", path.name), path.name

    def test_module_names_that_differ_only_in_case_get_their_own_pages(self, tmp_path):
        lookups = [
            {"module": name, "function": "f", "file": "/x.py", "line": 1, "name": "A", "kind": "global", "count": 1}
            for name in ("pkg.Mod", "pkg.mod", "pkg_mod")
        ]
        out = tmp_path / "html"
        write_html(datafile.make_data(lookups, {}), str(out))
        pages = sorted(p.name.lower() for p in (out / "modules").iterdir())
        assert len(pages) == len(set(pages)) == 3


class TestSourceNotes:
    def test_changed_and_missing_sources_are_noted(self, tmp_path):
        write_files(tmp_path, {"mod.py": "X = 1\n\n\ndef f():\n    return X\n\n\ndef g():\n    return X\n"})
        finished = "2020-01-01T00:00:00+00:00"
        lookups = [
            {"module": "mod", "function": "f", "file": str(tmp_path / "mod.py"), "line": 2, "name": "X", "kind": "global", "count": 1},
            {"module": "mod", "function": "gone", "file": str(tmp_path / "mod.py"), "line": 8, "name": "X", "kind": "global", "count": 1},
            {"module": "other", "function": "h", "file": str(tmp_path / "other.py"), "line": 1, "name": "Y", "kind": "global", "count": 1},
        ]
        out = tmp_path / "html"
        write_html(datafile.make_data(lookups, {"finished": finished}), str(out), cwd=str(tmp_path))
        page = (out / "modules" / "mod.html").read_text()
        notes = re.findall(r'<p class="source-note">([^<]*)</p>', page)
        assert "the file was modified after the run: lines may have moved" in notes
        assert "the source has changed since the run: it now starts at line 4, not 2" in notes
        assert any("not found in the current source at line 8" in note for note in notes)
        assert '<span class="line hit" id="f1-L5">' in page  # found where it is now
        other = (out / "modules" / "other.html").read_text()
        assert "source file not found: " in other and "other.py" in other


def many_functions(tmp_path: Path, count: int) -> dict:
    source = tmp_path / "big.py"
    lines = ["SHARED = 1", ""]
    lookups = []
    for index in range(count):
        lookups.append({"module": "big", "function": f"f{index}", "file": str(source), "line": len(lines) + 1,
                        "name": "SHARED", "kind": "global", "count": index + 1})
        lines += [f"def f{index}():", "    return SHARED", ""]
    source.write_text("\n".join(lines))
    return datafile.make_data(lookups, {})


class TestBigReports:
    def test_module_pages_and_reverse_pages_are_split(self, tmp_path, monkeypatch):
        monkeypatch.setattr(htmlreport, "READERS_PER_PAGE", 100)
        monkeypatch.setattr(htmlreport, "MAX_READERS_SHOWN", 150)
        data = many_functions(tmp_path, 250)
        out = tmp_path / "html"
        write_html(data, str(out), cwd=str(tmp_path))
        assert sorted(p.name for p in (out / "modules").iterdir()) == ["big.2.html", "big.3.html", "big.html"]
        third = (out / "modules" / "big.3.html").read_text()
        assert 'id="f201"' in third and 'id="f200"' not in third
        assert '<nav class="pager">Page <a href="big.html">1</a> <a href="big.2.html">2</a> <strong>3</strong></nav>' in third
        _, graph = js_data(out / "data" / "graph" / "0.js")
        assert graph["functions"][200][2] == "modules/big.3.html#f201"
        shared = (out / "names" / "big.html").read_text()
        assert shared.count("<tr><td><a href") == 150  # the most frequent readers first
        assert ">f249</a>" in shared and ">f0</a>" not in shared
        assert "and 100 more readers" in shared

    def test_workers_write_the_same_report(self, tmp_path, monkeypatch):
        data = many_functions(tmp_path, 300)
        data["lookups"] += [dict(e, module="other", function=e["function"] + "_o") for e in data["lookups"][:120]]
        monkeypatch.setattr(htmlreport, "run_jobs", functools.partial(workers.run_jobs, minimum=0))
        write_html(data, str(tmp_path / "one"), cwd=str(tmp_path), workers=1)
        write_html(data, str(tmp_path / "two"), cwd=str(tmp_path), workers=2)
        one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()}
        two = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*") if p.is_file()}
        assert one == two and Path("modules/big.3.html") in one and Path("modules/other.2.html") in one


class TestWorkers:
    def test_jobs_run_once_each_in_some_process(self, tmp_path):
        def job(name):
            (tmp_path / name).write_text(str(os.getpid()))

        jobs = [(i, functools.partial(job, f"j{i}")) for i in range(10)]
        used = workers.run_jobs(jobs, workers=3, minimum=0)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"j{i}" for i in range(10))
        if workers._can_fork():
            assert used == 3 and len({p.read_text() for p in tmp_path.iterdir()}) == 3
        assert workers.run_jobs(jobs, workers=3) == 1  # little work: no fork

    def test_a_job_that_fails_in_a_worker_runs_again_here(self, tmp_path):
        parent = os.getpid()

        def picky():
            if os.getpid() != parent:
                raise RuntimeError("not here")
            (tmp_path / "done").write_text("ok")

        def fails():
            raise ValueError("bad job")

        workers.run_jobs([(1, lambda: None), (5, picky)], workers=2, minimum=0)
        assert (tmp_path / "done").read_text() == "ok"
        with pytest.raises(ValueError, match="bad job"):
            workers.run_jobs([(5, fails), (1, lambda: None)], workers=2, minimum=0)


class TestSelection:
    def test_module_and_context_filters(self, project, tmp_path):
        data = load(project)
        out = tmp_path / "html"
        assert write_html(data, str(out), ["app.web"], cwd=str(project))["modules"] == 1
        assert sorted(p.name for p in (out / "modules").iterdir()) == ["app.web.html"]
        assert "Only modules matching app.web." in (out / "index.html").read_text()
        for entry in data["lookups"]:
            entry["context"] = "tests/test_a.py::test_one" if entry["function"] == "view" else "tests/test_b.py::test_two"
        write_html(data, str(out), context="*test_a.py::*", cwd=str(project))
        assert write_html(data, str(out), context="*test_a.py::*", cwd=str(project))["functions"] == 1
        page = (out / "modules" / "app.web.html").read_text()
        assert '<p class="tests">Tests: tests/test_a.py::test_one (' in page
        names = (out / "names" / "app.web.html").read_text()
        assert "Tests: tests/test_a.py::test_one (1)" in names
        with pytest.raises(PatternError):
            write_html(data, str(out), ["no good"])

    def test_reruns_replace_the_old_pages(self, project, tmp_path):
        out = tmp_path / "html"
        write_html(load(project), str(out), cwd=str(project))
        write_html(load(project), str(out), ["app.settings"], cwd=str(project))
        assert sorted(p.name for p in (out / "modules").iterdir()) == ["app.settings.html"]

    def test_refuses_a_folder_that_is_not_a_report(self, project, tmp_path):
        (tmp_path / "keep.txt").write_text("mine")
        with pytest.raises(HtmlError, match="not empty and not a globalhook HTML report"):
            write_html(load(project), str(tmp_path), cwd=str(project))
        assert (tmp_path / "keep.txt").read_text() == "mine"
        with pytest.raises(HtmlError, match="exists and is not a folder"):
            write_html(load(project), str(tmp_path / "keep.txt"))


class TestCommand:
    def test_html(self, project):
        result = globalhook(["html", "-d", "report"], project)
        assert result.returncode == 0, result.stderr
        assert re.fullmatch(r"Wrote report/index\.html \(3 modules, 7 functions, \d+\.\d s\)\n", result.stdout)
        assert (project / "report" / "modules" / "app.web.html").exists()

    def test_errors_are_one_line(self, project, tmp_path):
        def check(args, *words, cwd=project):
            result = globalhook(args, cwd)
            assert result.returncode == 2, result.stdout + result.stderr
            assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
            for word in words:
                assert word in result.stderr

        check(["html", "-d", str(tmp_path / "a"), "--data-file", "nope.json"], "nope.json", "no such file")
        check(["html", "-d", str(tmp_path / "b"), "--module", "x-y"], "x-y")
        check(["html", "-d", str(tmp_path / "c"), "--context", " "], "empty context pattern")
        check(["html", "-d", str(project)], "not empty and not a globalhook HTML report")
        (tmp_path / "bad.json").write_text('{"format": "globalhook-data", "version": 99, "lookups": []}')
        check(["html", "-d", str(tmp_path / "d"), "--data-file", str(tmp_path / "bad.json")], "newer globalhook")
        bad_jobs = globalhook(["html", "-j", "0"], project)
        assert bad_jobs.returncode == 2 and "--jobs" in bad_jobs.stderr



def test_reads_of_other_modules_attributes_link_to_their_owner(tmp_path):
    """A later format's ``attribute`` entries name their owner: the report follows it."""
    lookups = [
        {"module": "app.settings", "function": "view", "file": "/src/app/web.py", "line": 3, "name": "DEBUG",
         "kind": "attribute", "count": 2, "owner": "app.settings", "reader_module": "app.web"},
        {"module": "app.web", "function": "view", "file": "/src/app/web.py", "line": 3, "name": "CONFIG",
         "kind": "global", "count": 1},
    ]
    out = tmp_path / "html"
    write_html(datafile.make_data(lookups, {}), str(out))
    page = (out / "modules" / "app.web.html").read_text()
    assert '<a href="../names/app.settings.html#n1">DEBUG</a>' in page
    assert sorted(p.name for p in (out / "modules").iterdir()) == ["app.web.html"]
    _, graph = js_data(out / "data" / "graph" / "0.js")
    assert sorted(name[0] for name in graph["names"]) == ["app.settings", "app.web"]


def test_the_benchmark_runs(tmp_path):
    """benchmarks/html_scale.py works end to end (tiny sizes; its timings are not checked)."""
    result = subprocess.run(
        [sys.executable, str(Path(REPO) / "benchmarks" / "html_scale.py"), "--functions", "300", "--modules", "3",
         "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"render time, cold \(sources compiled\): \d+\.\d+ s wall", result.stdout)
    assert re.search(r"render time, warm \(bytecode cached\): \d+\.\d+ s wall", result.stdout)
    assert "html report: 300 functions in 3 modules" in result.stdout
    assert list(tmp_path.iterdir()) == []  # cleaned up


def test_the_views_are_not_imported_by_the_command_line_module():
    """``run`` imports cli.py: the views load only when their command runs."""
    code = "import sys, globalhook.cli; print(sorted(m for m in sys.modules if m.startswith('globalhook.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    for module in ("cli_views", "htmlreport", "sourcemap", "reverse", "diff", "check", "checkformats", "baseline", "workers", "selection"):
        assert f"'globalhook.{module}'" not in loaded
