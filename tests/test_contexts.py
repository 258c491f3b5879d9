"""Contexts: every lookup counts for the context current when it happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

import globalhook
from globalhook.contexts import context, get_context, set_context

from conftest import entries, read_data


@pytest.fixture(autouse=True)
def no_context_left():
    yield
    set_context("")


def test_counts_follow_the_current_context(src, install, unique) -> None:
    src({f"{unique}.py": "LIMIT = 3\ndef limit():\n    return LIMIT\n"})
    install(include=[unique])
    module = __import__(unique)
    module.limit()
    with context("first"):
        module.limit()
        module.limit()
    with context("second"):
        module.limit()
    module.limit()
    with context("first"):  # back again: same tables, counts add up
        module.limit()
    found = {e.get("context", ""): e["count"] for e in entries(unique, function="limit", name="LIMIT")}
    assert found == {"": 2, "first": 3, "second": 1}


def test_context_manager_restores_and_nests() -> None:
    assert get_context() == ""
    with context("outer"):
        with context("inner"):
            assert get_context() == "inner"
        assert get_context() == "outer"
    assert get_context() == ""
    assert set_context("x") == ""
    assert set_context("y") == "x"


def test_label_must_be_a_str() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        set_context(3)  # type: ignore[arg-type]


def test_threads_count_for_the_process_wide_context(src, install, unique) -> None:
    src({f"{unique}.py": "N = 1\ndef n():\n    return N\n"})
    install(include=[unique])
    module = __import__(unique)

    def work() -> None:
        for _ in range(1000):
            module.n()

    with context("test-a"):
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    found = {e.get("context", ""): e["count"] for e in entries(unique, function="n", name="N")}
    assert found == {"test-a": 4000}


def test_reads_sums_every_context(src, install, unique) -> None:
    src({f"{unique}.py": "K = 1\ndef k():\n    return K + len([])\n"})
    install(include=[unique])
    module = __import__(unique)
    module.k()
    with context("c"):
        module.k()
    assert globalhook.reads(module.k) == {"K": 2, "len": 2}


def test_public_api_names() -> None:
    assert globalhook.context is context
    assert globalhook.set_context is set_context


def test_run_m_pytest_gains_per_test_contexts(tmp_path) -> None:
    (tmp_path / "mod.py").write_text("VALUE = 1\ndef value():\n    return VALUE\n")
    (tmp_path / "test_mod.py").write_text(
        "import mod\n\ndef test_one():\n    assert mod.value() == 1\n\ndef test_two():\n    mod.value(); mod.value()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    result = subprocess.run(
        [sys.executable, "-m", "globalhook", "run", "--include", "mod", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = read_data((tmp_path / ".globalhook.json"))
    found = {
        e.get("context", ""): e["count"]
        for e in data["lookups"]
        if e["module"] == "mod" and e["function"] == "value" and e["name"] == "VALUE"
    }
    assert found == {"test_mod.py::test_one|call": 1, "test_mod.py::test_two|call": 2}


def test_modules_loaded_by_file_location_are_tracked(tmp_path, install, unique) -> None:
    """spec_from_file_location + module_from_spec never ask sys.meta_path (pytest's importlib mode)."""
    import importlib.util

    path = tmp_path / f"{unique}.py"
    path.write_text("X = 1\ndef x():\n    return X\n")
    install(include=[unique])
    spec = importlib.util.spec_from_file_location(unique, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.x()
    assert [e["count"] for e in entries(unique, function="x", name="X")] == [1]
    assert module.__dict__ is module.x.__globals__


def test_file_location_specs_of_other_modules_are_left_alone(tmp_path, install, unique) -> None:
    import importlib.util

    path = tmp_path / f"{unique}.py"
    path.write_text("X = 1\ndef x():\n    return X\n")
    install(include=["nothing_like_it"])
    spec = importlib.util.spec_from_file_location(unique, str(path))
    assert type(spec.loader).__name__ == "SourceFileLoader"


def test_counts_of_freed_code_keep_their_context(src, install, unique) -> None:
    import gc

    src({f"{unique}.py": "V = 1\ndef make():\n    return eval('lambda: V')\n"})
    install(include=[unique])
    module = __import__(unique)
    with context("ctx-a"):
        func = module.make()
        func()
        func()
    func()
    del func
    gc.collect()
    found = {(e.get("context", ""), e["count"]) for e in entries(unique, function="<lambda>", name="V")}
    assert found == {("ctx-a", 2), ("", 1)}


def test_a_watched_module_can_be_tracked_too(tmp_path) -> None:
    """``importlib.util`` both tracked (--include) and patched when the program imports it."""
    # -S: no site (an editable install's .pth finder imports importlib.util at start-up).
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(globalhook.__file__)))
    fresh = subprocess.run([sys.executable, "-S", "-c", "import sys; print('importlib.util' in sys.modules)"],
                           capture_output=True, text=True, env=env)
    if fresh.stdout.strip() != "False":
        pytest.skip("this Python imports importlib.util at start-up")
    (tmp_path / "plugin_mod.py").write_text("P = 1\ndef p():\n    return P\n")
    (tmp_path / "prog.py").write_text(
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('plugin_mod', sys.argv[1])\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
        "print(mod.p(), type(spec.loader).__name__)\n"
    )
    result = subprocess.run(
        # Not -m globalhook: runpy imports importlib.util itself.
        # -X frozen_modules=off: 3.11+ freeze importlib.util into the interpreter.
        [sys.executable, "-S", "-X", "frozen_modules=off", "-c", "import sys; from globalhook.cli import main; sys.exit(main())",
         "run", "--include", "importlib.util", "--include", "plugin_mod",
         "prog.py", str(tmp_path / "plugin_mod.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "SourceFileLoader"]
    data = read_data((tmp_path / ".globalhook.json"))
    modules = {e["module"] for e in data["lookups"]}
    assert {"importlib.util", "plugin_mod"} <= modules
    assert not data["not_tracked"], data["not_tracked"]


def test_a_frozen_module_is_listed_as_not_tracked(tmp_path) -> None:
    if sys.version_info < (3, 11):
        pytest.skip("nothing of the standard library is frozen before 3.11")
    (tmp_path / "prog.py").write_text("import importlib.util\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBALHOOK_")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(globalhook.__file__)))
    result = subprocess.run(
        [sys.executable, "-S", "-X", "frozen_modules=on", "-c", "import sys; from globalhook.cli import main; sys.exit(main())",
         "run", "--include", "importlib.util", "prog.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = read_data((tmp_path / ".globalhook.json"))
    assert [entry["module"] for entry in data["not_tracked"]] == ["importlib.util"]
    assert "frozen" in data["not_tracked"][0]["reason"]
