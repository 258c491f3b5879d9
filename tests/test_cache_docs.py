"""The cache's documentation runs: the tutorial's example prints what the page says,
and the joblib recipe of the how-to fixes joblib #1287 where plain joblib serves a stale result."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


def blocks(page: Path, language: str) -> list:
    """The fenced blocks of that language, whatever follows it on the fence line (file=..., runnable)."""
    return re.findall(rf"```{language}(?: [^\n]*)?\n(.*?)```", page.read_text(), re.S)


def run(root: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env.update(PYTHONPATH=str(REPO), GLOBALHOOK_CORE=os.environ.get("GLOBALHOOK_CORE", "auto"),
               PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, script, *args], cwd=str(root), env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    return done


def test_tutorial_example_prints_what_the_page_says(tmp_path):
    page = DOCS / "tutorials" / "cache.md"
    example, shown = blocks(page, "python")[0], blocks(page, "console")[0]
    command, _, expected = shown.partition("\n")
    assert command == "$ python tax.py"
    assert len(example.strip().splitlines()) <= 15
    (tmp_path / "tax.py").write_text(example)
    assert run(tmp_path, "tax.py").stdout == expected


def test_joblib_recipe_recomputes_when_a_helper_changes(tmp_path):
    pytest.importorskip("joblib")
    recipe = blocks(DOCS / "howto" / "cache-with-joblib.md", "python")[0]
    (tmp_path / "exact_joblib.py").write_text(recipe)
    (tmp_path / "helpers.py").write_text("def helper(x):\n    return x + 1\n")
    main = textwrap.dedent("""\
        import functools, sys
        import joblib
        import helpers
        from exact_joblib import exact_cache

        memory = joblib.Memory(sys.argv[1], verbose=0)

        def compute(x):
            print("computing", x)
            return helpers.helper(x) * 2

        cached = functools.partial(exact_cache, memory)(compute) if sys.argv[2] == "exact" else memory.cache(compute)
        print("result", cached(1))
    """)
    (tmp_path / "main.py").write_text(main)
    for mode in ("plain", "exact"):
        store = str(tmp_path / f"store-{mode}")
        (tmp_path / "helpers.py").write_text("def helper(x):\n    return x + 1\n")
        assert run(tmp_path, "main.py", store, mode).stdout.splitlines() == ["computing 1", "result 4"]
        assert run(tmp_path, "main.py", store, mode).stdout.splitlines() == ["result 4"]
        (tmp_path / "helpers.py").write_text("# edited\n\ndef helper(x):\n    return x + 1  # same code\n")
        assert run(tmp_path, "main.py", store, mode).stdout.splitlines() == ["result 4"]
        (tmp_path / "helpers.py").write_text("def helper(x):\n    return x + 2\n")
        out = run(tmp_path, "main.py", store, mode).stdout.splitlines()
        if mode == "plain":
            assert out == ["result 4"]  # joblib #1287: the stale result
        else:
            assert out == ["computing 1", "result 6"]
            assert run(tmp_path, "main.py", store, mode).stdout.splitlines() == ["result 6"]
