"""``globalhook html``: the files it writes, what they say, and that nothing from the data is trusted.

The pages and their data files are checked as text here (the data as JSON);
tests/test_html_browser.py opens them in a real browser, which draws the
module pages, the reverse index and the graph from the same data files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from globalhook import data as datafile
from globalhook import htmlreport
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
    assert text.endswith(");\n") and call in ("GH.load", "GH.module")
    return json.loads(rest[: -len(");\n")])


def module_data(out: Path, module: str) -> dict:
    """A module's data file, its names as the pages see them: [owner, name, kind, in the reverse index]."""
    index = {row[0]: row[7] for row in js_data(out / "data" / "modules.js")["modules"]}[module]
    data = js_data(out / "data" / "m" / f"{index}.js")
    assert data["i"] == index and data["module"] == module
    data["names"] = [[data["owners"][o][0], name, kind, linked] for o, name, kind, linked in data["names"]]
    return data


def function_of(data: dict, qualname: str) -> list:
    return next(f for f in data["functions"] if f[0] == qualname)


def reads_of(data: dict, function: list) -> dict:
    """(owner, name, kind) -> [count, lines, ...] of one function."""
    return {tuple(data["names"][read[0]][:3]): read[1:] for read in function[5]}


def source_lines(data: dict) -> dict:
    """(file index, line) -> text of the source lines the report holds."""
    return {(file, start + offset): data["texts"][text] for file, start, run in data["source"] for offset, text in enumerate(run)}


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
            "modulepage.js", "namepage.js",
            "data/modules.js", "data/names.js", "data/m/0.js", "data/m/1.js", "data/m/2.js",
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
        for name in ("style.css", "report.js", "modulepage.js", "namepage.js", "graph.js"):
            assert (out / name).read_text() == htmlreport._resources().joinpath(name).read_text(encoding="utf-8")
        html_files = sorted(p.name for p in (Path(REPO) / "globalhook" / "htmlfiles").iterdir())
        assert html_files == ["graph.js", "modulepage.js", "namepage.js", "page.html", "report.js", "style.css"]
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

    def test_module_data_holds_the_lines_that_read_each_name(self, project, tmp_path):
        out = tmp_path / "html"
        write_html(load(project), str(out), cwd=str(project))
        page = (out / "modules" / "app.web.html").read_text()
        assert '<h1 class="module">app.web</h1>' in page
        index = js_data(out / "data" / "modules.js")["modules"][2][7]
        assert f'<script src="../data/m/{index}.js"></script>' in page and 'data-module="%d"' % index in page
        data = module_data(out, "app.web")
        view = function_of(data, "view")
        reads = reads_of(data, view)
        view_line = line_of(project, "app/web.py", 'if CONFIG["debug"]')
        len_line = line_of(project, "app/web.py", "return len(HANDLERS)")
        # settings.timeout() is a read of app.settings's attribute, on that line too.
        assert reads[("app.web", "CONFIG", "global")][1] == [view_line]
        for key in (("app.web", "HANDLERS", "global"), ("app.web", "settings", "global"), ("app.web", "len", "builtin"),
                    ("app.settings", "timeout", "attribute")):
            assert reads[key][1] == [len_line], key
        broken = function_of(data, "broken")
        assert reads_of(data, broken)[("app.web", "undefined_setting", "missing")][1] == [
            line_of(project, "app/web.py", "return undefined_setting")]
        # Globals link to their readers; builtins do not.
        linked = {tuple(name[:3]): name[3] for name in data["names"]}
        assert linked[("app.web", "CONFIG", "global")] == 1 and linked[("app.web", "len", "builtin")] == 0
        # The whole function is shown: its lines are in the file, each once.
        first = line_of(project, "app/web.py", "def view(request):")
        assert view[4][:2] == [first, first + 3] and len(view[4]) == 2  # no windows: all of it
        lines = source_lines(data)
        assert lines[(view[1], first)] == "def view(request):" and lines[(view[1], view_line)] == '    if CONFIG["debug"]:'
        assert data["files"][view[1]] == os.path.join("app", "web.py")
        assert len(data["texts"]) == len(set(data["texts"]))

    def test_reverse_index(self, project, tmp_path):
        out = tmp_path / "html"
        write_html(load(project), str(out), cwd=str(project))
        names = {(row[0], row[1]): row for row in js_data(out / "data" / "names.js")["names"]}
        assert names[("app.web", "HANDLERS")][3:6] == [2, 0, 2]  # readers (view and Page.render), tests, lookups
        assert ("builtins", "len") not in names and ("app.web", "len") not in names
        assert ["app.web", "app.web"] in js_data(out / "data" / "names.js")["owners"]
        page = (out / "names" / "app.web.html").read_text()
        assert 'data-owner="app.web"' in page
        # The page loads the data of the modules that read app.web's names, and only those.
        modules = {row[0]: row[7] for row in js_data(out / "data" / "modules.js")["modules"]}
        scripts = re.findall(r'<script src="\.\./data/m/(\d+)\.js">', page)
        assert sorted(scripts) == sorted([str(modules["app.web"]), str(modules["__main__"])])  # main.py reads app.web.view
        settings = (out / "names" / "app.settings.html").read_text()  # timeout is read from app.web
        assert sorted(re.findall(r'<script src="\.\./data/m/(\d+)\.js">', settings)) == sorted(
            [str(modules["app.settings"]), str(modules["app.web"])])

    def test_graph_uses_the_module_data(self, project, tmp_path):
        out = tmp_path / "html"
        write_html(load(project), str(out), cwd=str(project))
        assert "data/m/" in (out / "graph.js").read_text() and not (out / "data" / "graph").exists()
        data = module_data(out, "app.web")
        assert data["page"] == "modules/app.web.html" and data["first"] >= 1
        read = set(reads_of(data, function_of(data, "view")))
        assert read == {("app.web", "CONFIG", "global"), ("app.web", "HANDLERS", "global"), ("app.web", "len", "builtin"),
                        ("app.web", "settings", "global"), ("app.settings", "timeout", "attribute")}


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
        {"module": "m", "function": "h\u2029'\"\\u0041\\", "file": "/nowhere/x.py", "line": 2,
         "name": "<!--<script>", "kind": "global", "count": 1, "context": "]]></script><!--\u2028"},
    ]
    return datafile.make_data(lookups, {"command": ["<script>alert(4)</script>"], "notes": ["<b>note</b>"]})


class TestEscaping:
    def test_nothing_from_the_data_becomes_markup(self, tmp_path):
        data = hostile_data(tmp_path)
        out = tmp_path / "html"
        write_html(data, str(out), cwd=str(tmp_path))
        for path in out.rglob("*"):
            if not path.is_file() or path.parent == out and path.suffix == ".js":  # our scripts
                continue
            text = path.read_text()
            if path.suffix == ".js":  # data: JSON that the pages insert as text only
                assert not set("<>&") & set(text) and text.isascii(), path
                continue
            for raw in ("<script>alert", "<img src=x", "<iframe", "<svg onload", "<b>bold", "<b>note", "</pre><script>"):
                assert raw not in text, (path, raw)
        page = next((out / "modules").glob("app.*.html")).read_text()
        assert '<h1 class="module">app.&lt;b&gt;bold&lt;/b&gt;</h1>' in page
        reverse = next((out / "names").glob("app.*.html")).read_text()
        assert 'data-owner="app.&lt;b&gt;bold&lt;/b&gt;"' in reverse

    def test_data_files_give_back_every_string_exactly(self, tmp_path):
        """Whatever a name holds, its data file is one call of one JSON value that decodes to the same text."""
        data = hostile_data(tmp_path)
        out = tmp_path / "html"
        write_html(data, str(out), cwd=str(tmp_path))
        bold = module_data(out, "app.<b>bold</b>")
        assert {f[0] for f in bold["functions"]} == {"<script>alert('f')</script>", "f"}
        assert {name[1] for name in bold["names"]} == {"<img src=x onerror=alert(1)>", "X"}
        assert set(bold["contexts"]) == {"<iframe src=javascript:1>", "t</script><script>alert(2)//"}
        assert '    return X + "</pre><script>alert(1)</script>"' in bold["texts"]
        assert bold["files"] == [os.path.join('we"ird<dir>&', "mod.py")]
        other = module_data(out, "m")
        assert {name[1] for name in other["names"]} == {"Y\u2028</script>", "<!--<script>"}
        assert "h\u2029'\"\\u0041\\" in {f[0] for f in other["functions"]}
        assert other["contexts"] == ["]]></script><!--\u2028"]
        names = {(row[0], row[1]) for row in js_data(out / "data" / "names.js")["names"]}
        assert ("m", "Y\u2028</script>") in names and ("app.<b>bold</b>", "<img src=x onerror=alert(1)>") in names
        for path in (out / "data").rglob("*.js"):  # one statement: a call whose one argument is the JSON
            text = path.read_text()
            assert re.fullmatch(r"GH\.(?:load|module)\(\{[\x20-\x7e]*\}\);\n", text), path

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
        data = module_data(out, "mod")
        notes = [note for function in data["functions"] for note in function[3]]
        assert "the file was modified after the run: lines may have moved" in notes
        assert "the source has changed since the run: it now starts at line 4, not 2" in notes
        assert any("not found in the current source at line 8" in note for note in notes)
        f = function_of(data, "f")
        assert reads_of(data, f)[("mod", "X", "global")][1] == [5] and f[4][:2] == [4, 5]  # found where it is now
        gone = function_of(data, "gone")
        assert gone[4] == [] and reads_of(data, gone)[("mod", "X", "global")][1:] == [[]]  # no source: no line, no note
        other = module_data(out, "other")
        assert other["functions"][0][4] == [] and other["source"] == []
        assert any(note.startswith("source file not found: ") and "other.py" in note for note in other["functions"][0][3])


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
    def test_a_big_module_is_one_page_and_one_data_file(self, tmp_path, monkeypatch):
        monkeypatch.setattr(htmlreport, "READERS_PER_PAGE", 100)
        monkeypatch.setattr(htmlreport, "MAX_READERS_SHOWN", 150)
        data = many_functions(tmp_path, 250)
        out = tmp_path / "html"
        write_html(data, str(out), cwd=str(tmp_path))
        assert sorted(p.name for p in (out / "modules").iterdir()) == ["big.html"]
        assert sorted(p.name for p in (out / "data" / "m").iterdir()) == ["0.js"]
        page = (out / "modules" / "big.html").read_text()
        assert 'data-per-page="100"' in page and len(page) < 2000  # the page is drawn from the data
        big = module_data(out, "big")
        assert big["first"] == 1 and [f[0] for f in big["functions"]][200] == "f200"
        # Each source line once, however many functions show it.
        assert len(big["texts"]) == len(set(big["texts"])) == 250 + 1  # the def lines and the one return
        shared = (out / "names" / "big.html").read_text()
        assert 'data-per-page="100"' in shared and 'data-shown="150"' in shared

    def test_the_report_grows_with_the_data_not_the_pages(self, tmp_path):
        """Files per module, never per function; bytes per function stay small."""
        sizes = {}
        for count in (200, 800):
            out = tmp_path / f"html{count}"
            write_html(many_functions(tmp_path, count), str(out), cwd=str(tmp_path))
            files = [p for p in out.rglob("*") if p.is_file()]
            sizes[count] = (len(files), sum(p.stat().st_size for p in files))
        assert sizes[200][0] == sizes[800][0]
        per_function = (sizes[800][1] - sizes[200][1]) / 600
        assert per_function < 120, per_function

    def test_workers_write_the_same_report(self, tmp_path):
        # Forked workers, the serial path, and the serial path taken because another
        # thread runs: the same files, byte for byte.
        data = many_functions(tmp_path, 300)
        data["lookups"] += [dict(e, module="other", function=e["function"] + "_o") for e in data["lookups"][:120]]
        (tmp_path / "data.json").write_text(json.dumps(data))
        used = in_fresh_interpreter(tmp_path, """
            import functools, json, _thread
            from globalhook import htmlreport, workers
            from globalhook.htmlreport import write_html
            used = []
            def run_jobs(jobs, count):
                used.append(workers.run_jobs(jobs, count, minimum=0))
            htmlreport.run_jobs = run_jobs
            with open("data.json") as f:
                data = json.load(f)
            write_html(data, "one", cwd=".", workers=1)
            write_html(data, "two", cwd=".", workers=2)
            hold = _thread.allocate_lock()
            hold.acquire()
            _thread.start_new_thread(hold.acquire, ())
            write_html(data, "threaded", cwd=".", workers=2)
            print(json.dumps(used))
        """)
        can_fork = sys.platform.startswith("linux") and hasattr(os, "fork")
        assert json.loads(used) == [1, 2 if can_fork else 1, 1]
        one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()}
        for other in ("two", "threaded"):
            found = {p.relative_to(tmp_path / other): p.read_bytes() for p in (tmp_path / other).rglob("*") if p.is_file()}
            assert found == one
        assert Path("data/m/0.js") in one and Path("modules/other.html") in one


def in_fresh_interpreter(tmp_path: Path, code: str) -> str:
    """Run ``code`` in a new interpreter in ``tmp_path``; its stdout.

    Forking is tried there, in a process with one thread: a pytest-xdist worker
    has another (execnet's reader), where a fork may deadlock the child and the
    workers rightly refuse to fork.  Any warning fails the run (3.12+ warns of a
    fork in a threaded process).
    """
    done = subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(code)], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout


FORKS = sys.platform.startswith("linux") and hasattr(os, "fork")


class TestWorkers:
    def test_jobs_run_once_each_in_some_process(self, tmp_path):
        pids = in_fresh_interpreter(tmp_path, """
            import functools, json, os
            from globalhook import workers
            def job(name):
                with open(name, "w") as f:
                    f.write(str(os.getpid()))
            jobs = [(i, functools.partial(job, f"j{i}")) for i in range(10)]
            used = workers.run_jobs(jobs, workers=3, minimum=0)
            little = workers.run_jobs(jobs, workers=3)  # little work: no fork
            print(json.dumps([used, little, os.getpid()]))
        """)
        used, little, parent = json.loads(pids)
        names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("j"))
        assert names == sorted(f"j{i}" for i in range(10)) and little == 1
        if FORKS:
            assert used == 3
        else:
            assert used == 1 and {p.read_text() for p in tmp_path.glob("j*")} == {str(parent)}

    def test_a_job_that_fails_in_a_worker_runs_again_here(self, tmp_path):
        in_fresh_interpreter(tmp_path, """
            import os
            from globalhook import workers
            parent = os.getpid()
            def picky():
                if os.getpid() != parent:
                    raise RuntimeError("not here")
                with open("done", "w") as f:
                    f.write("ok")
            def fails():
                raise ValueError("bad job")
            workers.run_jobs([(1, lambda: None), (5, picky)], workers=2, minimum=0)
            with open("done") as f:
                assert f.read() == "ok"
            try:
                workers.run_jobs([(5, fails), (1, lambda: None)], workers=2, minimum=0)
            except ValueError as exc:
                assert str(exc) == "bad job"
            else:
                raise AssertionError("no error")
        """)

    @pytest.mark.skipif(not FORKS, reason="the workers fork on Linux only")
    def test_no_fork_beside_a_thread_threading_does_not_know(self, tmp_path):
        # execnet (pytest-xdist's workers) starts its reader with _thread, which
        # threading.active_count() does not count; CPython's fork warning does.
        pids = in_fresh_interpreter(tmp_path, """
            import json, os, _thread
            from globalhook import workers
            pids = []
            jobs = [(1, lambda: pids.append(os.getpid())) for _ in range(4)]
            alone = workers._can_fork()
            hold = _thread.allocate_lock()
            hold.acquire()
            _thread.start_new_thread(hold.acquire, ())
            used = workers.run_jobs(jobs, workers=2, minimum=0)
            print(json.dumps([alone, used, pids == [os.getpid()] * 4]))
        """)
        assert json.loads(pids) == [True, 1, True]


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
        web = module_data(out, "app.web")
        assert web["contexts"] == ["tests/test_a.py::test_one"]
        assert all(read[4] == [[0, read[1]]] for read in function_of(web, "view")[5])  # per read: [[context, count]]
        names = {(row[0], row[1]): row for row in js_data(out / "data" / "names.js")["names"]}
        assert names[("app.web", "CONFIG")][3:6] == [1, 1, 1]  # one reader, one test, one lookup
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
    web = module_data(out, "app.web")
    assert ["app.settings", "DEBUG", "attribute", 1] in web["names"]
    assert sorted(p.name for p in (out / "modules").iterdir()) == ["app.web.html"]
    assert sorted(p.name for p in (out / "names").iterdir()) == ["app.settings.html", "app.web.html"]
    assert '<script src="../data/m/0.js">' in (out / "names" / "app.settings.html").read_text()


def test_the_benchmark_runs(tmp_path):
    """benchmarks/html_scale.py works end to end (tiny sizes, no browser; its figures are not checked)."""
    result = subprocess.run(
        [sys.executable, str(Path(REPO) / "benchmarks" / "html_scale.py"), "--functions", "300", "--modules", "3",
         "--work", str(tmp_path), "--no-browser"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"render time, cold \(sources compiled\): \d+\.\d+ s wall", result.stdout)
    assert re.search(r"render time, warm \(bytecode cached\): \d+\.\d+ s wall", result.stdout)
    assert "html report: 300 functions in 3 modules" in result.stdout
    assert re.search(r"biggest file: data/m/\d\.js, [\d.]+ MB; the index loads \d+ kB", result.stdout)
    assert re.search(r"memory: 'globalhook html -j 1' of the data file: peak RSS \d+ MB", result.stdout)
    assert list(tmp_path.iterdir()) == []  # cleaned up


def test_the_views_are_not_imported_by_the_command_line_module():
    """``run`` imports cli.py: the views load only when their command runs."""
    code = "import sys, globalhook.cli; print(sorted(m for m in sys.modules if m.startswith('globalhook.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    for module in ("cli_views", "htmlreport", "sourcemap", "reverse", "diff", "check", "checkformats", "baseline", "workers", "selection"):
        assert f"'globalhook.{module}'" not in loaded
