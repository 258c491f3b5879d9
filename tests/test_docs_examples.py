"""The documentation's examples run, and print what the pages say they print.

Pages (README.md and every docs/**/*.md) mark the fenced blocks that are
part of a runnable example in the info string, after the language, so that
GitHub and Sphinx still highlight them as usual:

- ```` ```python file=shop/settings.py ```` writes the block to that file, in
  a fresh folder of the page's own (with a copy of ``examples/``);
- ```` ```console runnable ```` runs each ``$ command`` there, in order, and
  compares what it prints (stdout and stderr, as a terminal shows them) with
  the lines under it; ``...`` stands for any text, a line of its own for any
  lines (doctest's ELLIPSIS);
- ```` ```python runnable ```` runs the block as a script there; it must exit 0
  (its asserts are the check);
- ``requires=MODULE`` on a runnable block skips the rest of the page where
  MODULE cannot be imported (IPython does not install everywhere);
- ``attaches`` on a runnable block (it attaches a live namespace while other
  threads run, as IPython's history thread does) skips the rest of the page
  with the pure-Python core on a free-threaded build, which refuses that by
  design (docs/explanation/live-modules.md).

``python``, ``globalhook`` and ``pytest`` in a command are this interpreter
with this checkout.  Other blocks are illustration and are not run.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, NamedTuple, Tuple

import pytest

REPO = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(`{3,})([^`\n]*)\n(.*?)^\1[ \t]*$", re.S | re.M)


class Block(NamedTuple):
    language: str
    attributes: Tuple[str, ...]
    text: str
    line: int

    def attribute(self, name: str) -> "str | None":
        for word in self.attributes:
            if word == name:
                return ""
            if word.startswith(name + "="):
                return word[len(name) + 1:]
        return None


def blocks(text: str) -> List[Block]:
    found = []
    for match in FENCE.finditer(text):
        words = match.group(2).split()
        if not words or words[0].startswith("{"):
            continue
        found.append(Block(words[0], tuple(words[1:]), match.group(3), text.count("\n", 0, match.start()) + 1))
    return found


def runnable(block: Block) -> bool:
    return block.attribute("runnable") is not None or block.attribute("file") is not None


def pages() -> List[Path]:
    found = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [page for page in found if "_build" not in page.parts]


PAGES_WITH_EXAMPLES = [page for page in pages() if any(map(runnable, blocks(page.read_text(encoding="utf-8"))))]


def console_steps(text: str) -> List[Tuple[str, str]]:
    """(command, expected output) pairs of a console block."""
    steps: List[Tuple[str, List[str]]] = []
    lines = text.splitlines(True)
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("$ "):
            command = line[2:]
            while command.rstrip("\n").endswith("\\") and index + 1 < len(lines):
                index += 1
                command += lines[index]
            steps.append((command, []))
        elif steps:
            steps[-1][1].append(line)
        index += 1
    return [(command, "".join(expected)) for command, expected in steps]


def shims(folder: Path) -> Path:
    """A bin folder whose python, globalhook and pytest are this interpreter and checkout."""
    bin_dir = folder / ".shims"
    bin_dir.mkdir()
    for name, run in (("python", ""), ("globalhook", "-m globalhook"), ("pytest", "-m pytest")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" {run} "$@"\n')
        script.chmod(0o755)
    return bin_dir


def environment(bin_dir: Path) -> dict:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("GLOBALHOOK_", "PYTEST_", "COV_")) or key == "GLOBALHOOK_CORE"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    env["COLUMNS"] = "80"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _pure_core_free_threaded() -> bool:
    import sysconfig

    from globalhook import tracking

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED")) and tracking.CORE == "python"


def check_output(expected: str, got: str) -> bool:
    checker = doctest.OutputChecker()
    return checker.check_output(expected, got, doctest.ELLIPSIS)


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda page: str(page.relative_to(REPO)))
def test_page_examples_run_as_shown(page: Path, tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    # The example files the pages name; sample projects with suites of their own
    # (examples/ci-sample) would be collected by the pages' own pytest commands.
    shutil.copytree(REPO / "examples", folder / "examples", ignore=shutil.ignore_patterns("ci-sample"))
    env = environment(shims(tmp_path))
    where = page.relative_to(REPO)
    for block in blocks(page.read_text(encoding="utf-8")):
        target = block.attribute("file")
        if target:
            path = folder / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text, encoding="utf-8")
            continue
        if block.attribute("runnable") is None:
            continue
        required = block.attribute("requires")
        if required and subprocess.run([sys.executable, "-c", f"import {required}"], env=env,
                                        capture_output=True).returncode != 0:
            pytest.skip(f"{where}:{block.line}: needs {required}, which this Python cannot import")
        if block.attribute("attaches") is not None and _pure_core_free_threaded():
            pytest.skip(f"{where}:{block.line}: the pure-Python core on a free-threaded build refuses to attach "
                        "while other threads run (by design: docs/explanation/live-modules.md)")
        if block.language == "python":
            script = folder / f"_block_{block.line}.py"  # its folder is sys.path[0], as for a script there
            script.write_text(block.text, encoding="utf-8")
            done = subprocess.run([sys.executable, str(script)], cwd=folder, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
            assert done.returncode == 0, f"{where}:{block.line}: the python block failed:\n{done.stdout}"
            continue
        assert block.language == "console", f"{where}:{block.line}: only console and python blocks can be runnable"
        for command, expected in console_steps(block.text):
            done = subprocess.run(["bash", "-c", command], cwd=folder, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
            assert check_output(expected, done.stdout), (
                f"{where}:{block.line}: $ {command.strip()}\n--- the page says:\n{expected}--- it printed:\n{done.stdout}"
            )


def test_blocks_and_steps_are_read_as_the_docstring_says() -> None:
    text = (
        "Intro\n\n```python file=pkg/a.py\nX = 1\n```\n\n```text\n$ not run\n```\n\n"
        "````console runnable\n$ echo one \\\n  two\none two\n$ true\n````\n"
    )
    found = blocks(text)
    assert [(block.language, block.attribute("file"), runnable(block)) for block in found] == [
        ("python", "pkg/a.py", True), ("text", None, False), ("console", None, True),
    ]
    assert console_steps(found[2].text) == [("echo one \\\n  two\n", "one two\n"), ("true\n", "")]
    assert check_output("Run: ... | core c\n...\nTotals:\n", "Run: x | y | core c\na\nb\nTotals:\n")
    assert not check_output("hello\n", "hello, world\n")


def test_there_are_runnable_examples() -> None:
    # The tutorials and the README each carry at least one example that runs.
    names = {str(page.relative_to(REPO)) for page in PAGES_WITH_EXAMPLES}
    assert "README.md" in names
    tutorials = sorted((REPO / "docs" / "tutorials").glob("*.md"))
    assert tutorials and all(str(page.relative_to(REPO)) in names for page in tutorials), names


def test_the_site_captions_file_blocks_with_their_name() -> None:
    spec = importlib.util.spec_from_file_location("globalhook_docs_example_files", REPO / "docs" / "_ext" / "example_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "```python file=pkg/__init__.py\n```\n\n```python file=a.py\nX = 1\n```\n\n```console runnable\n$ true\n```\n"
    assert module.with_captions(text) == (
        "```{code-block} python\n:caption: `pkg/__init__.py`\n\n# (an empty file)\n```\n\n"
        "```{code-block} python\n:caption: `a.py`\n\nX = 1\n```\n\n```console runnable\n$ true\n```\n"
    )
