"""Shared fixtures: throwaway packages on sys.path and a hook per strategy."""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import itertools
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Dict, Iterator

import pytest

import globalhook
from globalhook import live
from globalhook.modules import STRATEGIES

_names = itertools.count()
_REPO = str(Path(__file__).resolve().parent.parent)


def core_env(core: str, **extra: str) -> Dict[str, str]:
    """A child process's environment: globalhook from this checkout on ``core``
    ("c", "python" or "auto"), none of this run's other GLOBALHOOK_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env.update(PYTHONPATH=_REPO, GLOBALHOOK_CORE=core, **extra)
    return env


@functools.lru_cache(maxsize=None)
def c_core_built() -> bool:
    """Does a child process of this interpreter get the compiled core?"""
    probe = subprocess.run(
        [sys.executable, "-c", "import globalhook.tracking as t; print(t.CORE)"],
        env=core_env("auto"), capture_output=True, text=True,
    )
    return probe.stdout.strip() == "c"


@pytest.fixture(params=STRATEGIES)
def strategy(request) -> str:
    return request.param


@pytest.fixture
def unique() -> str:
    """A module name no other test uses, so sys.modules never hands back an old one."""
    return f"ghtest_{os.getpid()}_{next(_names)}"


@pytest.fixture
def src(tmp_path: Path) -> Iterator:
    """Write files under a fresh folder on sys.path; forget their modules afterwards."""
    root = tmp_path / "src"
    root.mkdir()
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()

    def write(files: Dict[str, str]) -> Path:
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        importlib.invalidate_caches()
        return root

    write.root = root  # type: ignore[attr-defined]
    yield write
    sys.path.remove(str(root))
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if isinstance(file, str) and file.startswith(str(root)):
            del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def install(strategy: str) -> Iterator:
    """globalhook.install with this test's strategy; always uninstalled afterwards."""
    hooks = []

    def _install(**kwargs) -> globalhook.ImportHook:
        kwargs.setdefault("strategy", strategy)
        hook = globalhook.install(**kwargs)
        hooks.append(hook)
        return hook

    yield _install
    for hook in hooks:
        hook.uninstall()
    globalhook.RECORDER.not_tracked.clear()
    # Modules of this process that an install() attached (include=["*"] attaches pytest's
    # own) are made plain again, so that later tests see no lookups of theirs.
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if isinstance(namespace, dict):
            live.detach(namespace)


@pytest.fixture
def attachable() -> None:
    """Skip a test that attaches in this process where that is refused by design: the
    pure-Python core on a free-threaded build while other threads run (pytest-xdist's)."""
    problem = live._threads_problem()
    if problem:
        pytest.skip(f"attach refused here, as it should be: {problem}")


def entries(module: str, **match) -> list:
    """Recorded lookups of one module, filtered by any entry field."""
    return [
        e
        for e in globalhook.lookups()
        if e["module"] == module and all(e[k] == v for k, v in match.items())
    ]


@contextlib.contextmanager
def module_from_file(name: str, path: "Path") -> "Iterator[types.ModuleType]":
    """A module run from a file outside the package (a tool, a docs extension), in sys.modules while in use.

    Registered because dataclasses look their module up in sys.modules.
    """
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def read_data(path: "Path") -> dict:
    """A data file globalhook wrote, its lookups as version 1's entry objects whatever its version."""
    from globalhook.data import load

    return load(str(path))
