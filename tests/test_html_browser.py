"""The HTML report in a real browser: headless Chromium, driven over the DevTools protocol.

The report of a real run (plus entries whose names try to inject markup) is
opened from disk, as a user would open it: the index, a module page, the
reverse index and the graph must show the expected names, react to the
filters, link through, and log no console error.  Screenshots are saved in
the test's folder (and copied to $GLOBALHOOK_SCREENSHOT_DIR when set).

Skipped only where no browser can be found; .ci/run installs Debian's
``chromium``.  tools/browser.py is the driver (standard library only).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from globalhook import data as datafile
from globalhook.htmlreport import write_html

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / "tools" / "browser.py"

APP = {
    "shop/__init__.py": "",
    "shop/settings.py": """\
        CURRENCY = "EUR"
        RATES = {"EUR": 1.0}


        def currency():
            return CURRENCY
    """,
    "shop/cart.py": """\
        from shop import settings

        TAX = 0.2
        ITEMS = []


        def add(item):
            ITEMS.append(item)
            return len(ITEMS)


        def total():
            return sum(ITEMS) * (1 + TAX), settings.currency()


        class Checkout:
            def pay(self):
                try:
                    return total(), DISCOUNT
                except NameError:
                    return total(), 0
    """,
    "main.py": """\
        from shop import cart

        cart.add(3)
        cart.add(4)
        cart.Checkout().pay()
    """,
}

HOSTILE = [
    {"module": "shop.cart", "function": "<img src=x onerror=window.__pwned=1>", "file": "/x/<svg onload=window.__pwned=2>.py",
     "line": 1, "name": "<script>window.__pwned=3</script>", "kind": "global", "count": 1},
    # Names that would end a <script> element or a JS string if a data file were written carelessly.
    {"module": "shop.cart", "function": "f\u2028</script><script>window.__pwned=4</script>", "file": "/x/y.py", "line": 2,
     "name": "Z\u2029'\"\\", "kind": "global", "count": 2, "context": "t::x</script><!--\u2028|call"},
    {"module": "shop.cart", "function": "add", "file": "/x/y.py", "line": 3, "name": "__proto__", "kind": "global",
     "count": 1, "context": "__proto__"},
]


def load_tool():
    spec = importlib.util.spec_from_file_location("globalhook_browser_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    for relative, text in APP.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = str(REPO)
    subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--include", "shop", "main.py"],
        cwd=str(root), env=env, check=True, capture_output=True, timeout=120,
    )
    data = datafile.load(str(root / ".globalhook.json"))
    data = datafile.merge([data, datafile.make_data(HOSTILE, {})])
    out = root / "html"
    write_html(data, str(out), cwd=str(root))
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = tool.find_browser()
    if executable is None:
        pytest.skip(
            "no browser found: looked for " + ", ".join(tool.CANDIDATES) + " on PATH and $GLOBALHOOK_BROWSER "
            "(install Debian's 'chromium' package, as .ci/run does)"
        )
    folder = tmp_path_factory.mktemp("browser")
    with tool.Browser(executable, str(folder / "profile"), str(folder / "browser.log")) as running:
        yield running


@pytest.fixture
def page(browser):
    tab = browser.new_page()
    yield tab
    assert tab.errors() == [], "console errors or exceptions in the page"
    assert tab.evaluate("window.__pwned === undefined"), "markup from the data was executed"
    tab.close()


def url(path: Path, anchor: str = "") -> str:
    return path.resolve().as_uri() + anchor


def screenshot(tab, tmp_path: Path, name: str) -> Path:
    path = tab.screenshot(str(tmp_path / name))
    content = Path(path).read_bytes()
    assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) > 5000
    folder = os.environ.get("GLOBALHOOK_SCREENSHOT_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        shutil.copy(path, os.path.join(folder, name))
    return Path(path)


def text(tab) -> str:
    tab.settle()  # what is drawn after a hash change, too
    return tab.evaluate("document.body.innerText")


def rows(tab, table: str) -> int:
    return tab.evaluate(f"document.querySelectorAll('#{table} tbody tr').length")


def type_into(tab, selector: str, value: str) -> None:
    tab.evaluate(
        f"(() => {{ const input = document.querySelector({selector!r}); input.value = {value!r};"
        " input.dispatchEvent(new Event('input')); })()"
    )


def test_index(page, report, tmp_path):
    page.navigate(url(report / "index.html"))
    page.wait_for("document.querySelectorAll('#modules tbody tr').length == 3")
    shown = text(page)
    for name in ("shop.cart", "shop.settings", "__main__", "Totals", "Runs (2)"):
        assert name in shown
    type_into(page, "#modules input", "settings")
    assert rows(page, "modules") == 1 and "shop.settings" in page.evaluate("document.querySelector('#modules tbody').innerText")
    type_into(page, "#modules input", "")
    page.evaluate("document.querySelectorAll('#modules th')[1].click()")  # sort by functions, most first
    assert page.evaluate("document.querySelector('#modules tbody td').innerText") == "shop.cart"
    screenshot(page, tmp_path, "index.png")


def test_module_page(page, report, tmp_path):
    page.navigate(url(report / "modules" / "shop.cart.html"))
    assert page.evaluate("document.querySelector('h1').innerText") == "shop.cart"
    functions = page.evaluate("Array.from(document.querySelectorAll('section.function h2 a')).map(a => a.innerText)")
    assert {"add", "total", "Checkout.pay"} <= set(functions)
    hits = page.evaluate("Array.from(document.querySelectorAll('.line.hit')).map(l => l.innerText)")
    assert any("return sum(ITEMS) * (1 + TAX)" in hit and "ITEMS, TAX" in hit for hit in hits), hits
    assert any("return total(), DISCOUNT" in hit for hit in hits)
    shown = text(page)  # names that look like markup are shown as text, never run
    assert "<img src=x onerror=window.__pwned=1>" in shown and "<script>window.__pwned=3</script>" in shown
    # A line link jumps to the highlighted line.
    link = page.evaluate("document.querySelector('table.names td:last-child a').getAttribute('href')")
    page.navigate(url(report / "modules" / "shop.cart.html", link))
    assert page.evaluate("document.querySelector(':target').classList.contains('hit')")
    assert page.evaluate("getComputedStyle(document.querySelector('.line.hit')).backgroundColor") != "rgba(0, 0, 0, 0)"
    screenshot(page, tmp_path, "module.png")


def test_reverse_index(page, report, tmp_path):
    page.navigate(url(report / "names.html"))
    page.wait_for("document.querySelectorAll('#names tbody tr').length > 3")
    type_into(page, "#names input", "TAX")
    assert rows(page, "names") == 1
    href = page.evaluate("document.querySelector('#names tbody a').getAttribute('href')")
    page.navigate(url(report, "/" + href))
    section = page.evaluate("document.querySelector(':target').innerText")
    assert section.startswith("TAX") and "total" in section
    screenshot(page, tmp_path, "names.png")


def test_graph(page, report, tmp_path):
    page.navigate(url(report / "graph.html"))
    page.evaluate(
        "(() => { const boxes = Array.from(document.querySelectorAll('#module-list label'));"
        " boxes.find(l => l.innerText.includes('shop.cart')).querySelector('input').click(); })()"
    )
    page.wait_for("document.querySelectorAll('#graph svg .node.fn').length >= 4")
    labels = page.evaluate("Array.from(document.querySelectorAll('#graph svg .node text')).map(t => t.textContent)")
    for name in ("add", "total", "Checkout.pay", "ITEMS", "TAX", "DISCOUNT"):
        assert name in labels, labels
    assert "len" not in labels
    assert page.evaluate("document.querySelectorAll('#graph svg .edge').length") >= 6
    assert page.evaluate("document.querySelectorAll('#graph svg .node.k-missing').length") == 1
    # Hovering a name lights up its readers.
    page.evaluate(
        "(() => { const node = Array.from(document.querySelectorAll('#graph .node.name'))"
        ".find(n => n.querySelector('text').textContent == 'ITEMS'); node.dispatchEvent(new MouseEvent('mouseenter')); })()"
    )
    assert page.evaluate("document.querySelector('#graph svg').classList.contains('focus')")
    assert page.evaluate("document.querySelectorAll('#graph .edge.on').length") == 2  # add, total
    screenshot(page, tmp_path, "graph.png")
    # Builtins on demand; the module filter.
    page.evaluate("document.getElementById('show-builtins').click()")
    assert "len" in page.evaluate("Array.from(document.querySelectorAll('#graph svg .node text')).map(t => t.textContent)")
    type_into(page, "#module-filter", "settings")
    page.evaluate("document.querySelector('#module-list input:not(:checked)').click()")
    page.wait_for("Array.from(document.querySelectorAll('#graph svg .node text')).some(t => t.textContent == 'currency')")
    assert "#m=" in page.evaluate("location.hash")
    # Click through from a function to its source.
    href = page.evaluate(
        "Array.from(document.querySelectorAll('#graph a.node.fn')).find(a => a.querySelector('text').textContent == 'total').getAttribute('href')"
    )
    page.navigate(url(report, "/" + href))
    assert page.evaluate("document.querySelector(':target h2').innerText").startswith("total")


def test_graph_from_a_module_page_link(page, report):
    page.navigate(url(report / "modules" / "shop.settings.html"))
    href = page.evaluate("Array.from(document.querySelectorAll('a')).find(a => a.innerText == 'graph').getAttribute('href')")
    page.navigate(url(report / "modules", "/" + href))
    page.wait_for("document.querySelectorAll('#graph svg .node.fn').length == 1")
    assert "currency" in page.evaluate("document.querySelector('#graph svg').textContent")
    assert page.evaluate("document.querySelectorAll('#module-list input:checked').length") == 1


def test_hostile_names_are_shown_as_they_are(page, report):
    page.navigate(url(report / "modules" / "shop.cart.html"))
    functions = page.evaluate("Array.from(document.querySelectorAll('section.function h2 a')).map(a => a.textContent)")
    assert "f\u2028</script><script>window.__pwned=4</script>" in functions
    names = page.evaluate("Array.from(document.querySelectorAll('table.names td:first-child')).map(td => td.textContent)")
    assert "Z\u2029'\"\\" in names and "__proto__" in names
    tests = page.evaluate("Array.from(document.querySelectorAll('p.tests')).map(p => p.textContent)")
    assert "Tests: t::x</script><!--\u2028|call (2)" in tests and "Tests: __proto__ (1)" in tests
    page.navigate(url(report / "names" / "shop.cart.html"))
    shown = text(page)
    assert "<script>window.__pwned=3</script>" in shown and "Z\u2029'\"\\" in shown
    # A name's link from the list of names lands on its section.
    page.navigate(url(report / "names.html"))
    type_into(page, "#names input", "proto")
    href = page.evaluate("document.querySelector('#names tbody a').getAttribute('href')")
    page.navigate(url(report, "/" + href))
    assert page.evaluate("document.querySelector(':target h2 a').textContent") == "__proto__"


@pytest.fixture(scope="module")
def big_report(tmp_path_factory) -> Path:
    """One module of 250 functions that all read one global: the module page and the reverse index need views."""
    root = tmp_path_factory.mktemp("big")
    lines, lookups = ["SHARED = 1", ""], []
    for index in range(250):
        lookups.append({"module": "big", "function": f"f{index}", "file": str(root / "big.py"), "line": len(lines) + 1,
                        "name": "SHARED", "kind": "global", "count": index + 1})
        lines += [f"def f{index}():", "    return SHARED", ""]
    (root / "big.py").write_text("\n".join(lines))
    out = root / "html"
    from globalhook import htmlreport

    saved = htmlreport.READERS_PER_PAGE, htmlreport.MAX_READERS_SHOWN
    htmlreport.READERS_PER_PAGE, htmlreport.MAX_READERS_SHOWN = 100, 150
    try:
        write_html(datafile.make_data(lookups, {}), str(out), cwd=str(root))
    finally:
        htmlreport.READERS_PER_PAGE, htmlreport.MAX_READERS_SHOWN = saved
    return out


def test_a_big_module_is_shown_a_hundred_functions_at_a_time(page, big_report):
    page.navigate(url(big_report / "modules" / "big.html"))
    assert page.evaluate("document.querySelectorAll('section.function').length") == 100
    assert page.evaluate("document.querySelector('nav.pager strong').textContent") == "1"
    # A link to a function on another view opens that view and lands on it.
    page.navigate(url(big_report / "modules" / "big.html", "#f201-L" + str(3 * 200 + 4)))  # the same page: a hashchange
    page.wait_for("document.querySelector(':target') !== null")
    assert page.evaluate("document.querySelector(':target').classList.contains('hit')")
    assert page.evaluate("document.querySelector(':target').closest('section').id") == "f201"
    assert page.evaluate("document.querySelector('#f200')") is None
    assert page.evaluate("document.querySelector('nav.pager strong').textContent") == "3"
    page.evaluate("document.querySelector('nav.pager a').click()")  # to view 1
    page.wait_for("document.querySelector('#f1') !== null")
    assert page.evaluate("document.querySelectorAll('section.function').length") == 100


def test_the_reverse_index_shows_the_most_frequent_readers(page, big_report):
    page.navigate(url(big_report / "names" / "big.html"))
    readers = page.evaluate("Array.from(document.querySelectorAll('table.readers tr td:first-child')).map(td => td.textContent)")
    assert len(readers) == 150 and readers[0] == "f249" and "f0" not in readers
    assert "and 100 more readers" in text(page)
    href = page.evaluate("document.querySelector('table.readers a').getAttribute('href')")
    assert href == "../modules/big.html#f250"


def test_an_empty_report(page, tmp_path):
    out = tmp_path / "empty"
    write_html(datafile.make_data([], {}), str(out))
    page.navigate(url(out / "index.html"))
    assert page.evaluate("document.querySelector('#modules .count').textContent") == "0 rows"
    page.navigate(url(out / "graph.html"))
    assert page.evaluate("document.getElementById('graph-status').textContent") == "No modules in this report."
