"""Make the docs' screenshots of the HTML report (docs/html-*.png).

Runs examples/quickstart.py under globalhook in a temporary folder, writes
the HTML report, and photographs a module page and the graph in headless
Chromium (tools/browser.py).

    python tools/html_screenshot.py [--out docs]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import Browser, find_browser  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs"), help="folder for the PNG files")
    options = parser.parse_args()
    executable = find_browser()
    if executable is None:
        print("no browser found (install chromium)", file=sys.stderr)
        return 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = str(REPO)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "example"
        folder.mkdir()
        shutil.copy(REPO / "examples" / "quickstart.py", folder / "quickstart.py")
        for args in (["run", "quickstart.py"], ["html", "-d", "report"]):
            subprocess.run([sys.executable, "-m", "globalhook", *args], cwd=folder, env=env, check=True, capture_output=True)
        report = folder / "report"
        os.makedirs(options.out, exist_ok=True)
        with Browser(executable, str(Path(work) / "profile")) as browser:
            page = browser.new_page(width=1200, height=760)
            page.navigate((report / "modules" / "__main__.html").as_uri())
            anchor = page.evaluate(
                "Array.from(document.querySelectorAll('section.function')).find("
                "s => s.querySelector('h2 a').textContent == 'Retrier.run').id"
            )
            page.navigate((report / "modules" / "__main__.html").as_uri() + "#" + anchor)
            page.evaluate("window.scrollBy(0, -12)")
            page.screenshot(os.path.join(options.out, "html-report.png"))
            page.send("Emulation.setDeviceMetricsOverride", {"width": 1200, "height": 480, "deviceScaleFactor": 1, "mobile": False})
            page.navigate((report / "graph.html").as_uri())
            page.wait_for("document.querySelectorAll('#graph svg .node').length > 0")
            page.evaluate(
                "(() => { const node = Array.from(document.querySelectorAll('#graph .node.name'))"
                ".find(n => n.querySelector('text').textContent == 'cached_square');"
                " node.dispatchEvent(new MouseEvent('mouseenter')); })()"
            )
            page.screenshot(os.path.join(options.out, "html-graph.png"))
            errors = page.errors()
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    print(f"wrote {options.out}/html-report.png and html-graph.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
