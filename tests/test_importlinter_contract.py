"""import-linter: globalhook's ``globalreads`` contract type, and globalhook's own layers.

The contract is loaded the way a project would load it, from import-linter's
own configuration (examples/ci-sample/.importlinter), and checked by
import-linter's command against a data file that ``pytest --globalhook`` wrote.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter 2.x is a test dependency (pip install -e '.[test]')")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "ci-sample"
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def env() -> dict:
    result = {k: v for k, v in os.environ.items() if not k.startswith(("GLOBALHOOK_", "PYTEST_XDIST"))}
    result["PYTHONPATH"] = os.pathsep.join([".", str(REPO)])
    result["PYTHONIOENCODING"] = "utf-8"
    result["COLUMNS"] = "400"  # import-linter's console wraps at 80 columns, even inside words
    return result


def lint_imports(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", *args], cwd=str(project), env=env(),
        capture_output=True, text=True, timeout=300,
    )


def shown(result: subprocess.CompletedProcess) -> str:
    """What import-linter printed, without colours (older 2.x colour even a pipe), each run of space one space."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr).split())


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("importlinter") / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", ".globalhook.json*"))
    subprocess.run(
        [sys.executable, "-m", "pytest", "--globalhook", "-q", "-p", "no:cacheprovider"],
        cwd=str(project), env=env(), check=True, capture_output=True, timeout=300,
    )
    return project


@pytest.fixture
def project(recorded, tmp_path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(recorded, copy)
    return copy


def contract(project: Path, body: str) -> None:
    (project / ".importlinter").write_text(textwrap.dedent("""\
        [importlinter]
        root_package = shop
        contract_types =
            globalreads: globalhook.importlinter.GlobalReadsContract

        [importlinter:contract:reads]
        name = Run-time reads
        type = globalreads
    """) + textwrap.dedent(body))


def test_the_sample_contract_is_broken_by_the_recorded_read(recorded):
    project = recorded  # where the data was recorded: its paths are relative to here
    result = lint_imports(project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Views read no settings at run time BROKEN" in shown(result)
    line = next(n for n, text in enumerate((project / "shop" / "views.py").read_text().splitlines(), 1) if "settings.CURRENCY" in text)
    assert (
        f"- shop/views.py:{line}: shop.views.price_tag reads shop.settings:CURRENCY (attribute, 1 time) "
        "in test tests/test_shop.py::test_price_tag|call: forbidden by 'shop.views -> shop.settings:*'"
    ) in shown(result)


def test_a_rule_the_run_keeps(project):
    contract(project, "forbid =\n    shop.views -> shop.settings:TAX\n    shop.prices -> shop.views:*\n")
    result = lint_imports(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Run-time reads KEPT" in shown(result)


def test_a_baseline_written_by_check_is_honoured(project):
    written = subprocess.run(
        [sys.executable, "-m", "globalhook", "check", "--baseline", "baseline.json", "--update-baseline"],
        cwd=str(project), env=env(), capture_output=True, text=True,
    )
    assert written.returncode == 0, written.stderr
    contract(project, "forbid =\n    shop.views -> shop.settings:*\nbaseline = baseline.json\n")
    assert lint_imports(project).returncode == 0


def test_a_bad_rule_is_a_configuration_error_naming_it(project):
    contract(project, "forbid =\n    shop.views -> shop.settings\n")
    result = lint_imports(project)
    assert result.returncode != 0
    assert "forbid: bad rule 'shop.views -> shop.settings'" in shown(result)
    assert "Traceback" not in result.stdout + result.stderr


def test_a_missing_data_file_breaks_the_contract_saying_so(project):
    contract(project, "forbid =\n    shop.views -> shop.settings:*\ndata_file = nowhere.json\n")
    result = lint_imports(project)
    assert result.returncode == 1
    assert "Cannot check: " in shown(result) and "nowhere.json: no such file" in shown(result)


#: globalhook's layers (see DESIGN.md), top down; a module imports only from its own layer or below.
#: ``report`` is the text report a run prints at exit when config asks for it (the session's), which
#: the ``report`` command shows too: it reads data through the process layer and imports no answer.
ANSWERS = ["cli", "cli_views", "pytest_plugin", "ipython", "console", "reverse", "diff", "check", "registering",
           "checkformats", "baseline", "importlinter", "htmlreport", "pertest", "cache", "cachestore", "fingerprint",
           "definitions", "testselect", "testrecords", "selectplugin"]
PROCESS = ["session", "sigterm", "multiproc", "runner", "sitehook", "startup", "workers", "data", "atomic", "gcpause",
           "printable", "config", "toml", "selection", "records", "compact", "tablesum", "sourcemap", "limits", "datalock", "osexit",
           "replaceable", "stdlibonly", "integrations", "report"]
ENGINE = ["tracking", "modules", "finder", "live", "classbodies", "globalwrites", "contexts", "postimport", "picklers",
          "patterns", "readsets", "runmain", "envreads", "configreads", "watching", "toolreads"]
#: Imports allowed to run up a layer ("globalhook.x -> globalhook.y"): none.  A lower module
#: that needs an upper one's piece is handed it (a callback, a registration), or the piece moves down.
UPWARD: "list[str]" = []


def test_every_module_has_a_layer():
    package = REPO / "globalhook"
    found = {path.stem for path in package.glob("*.py")} | {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    found -= {"__init__", "__main__"}
    assert found == set(ANSWERS) | set(PROCESS) | set(ENGINE), "give each new module its layer here and in DESIGN.md"


def test_imports_run_down_the_layers(tmp_path):
    layer = lambda names: " : ".join(f"(globalhook.{name})" for name in names)
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = globalhook\nexclude_type_checking_imports = true\n\n"
        "[importlinter:contract:layers]\nname = globalhook's layers\ntype = layers\nlayers =\n"
        f"    {layer(ANSWERS)}\n    {layer(PROCESS)}\n    {layer(ENGINE)}\n"
        + ("ignore_imports =\n" + "".join(f"    {rule}\n" for rule in UPWARD) if UPWARD else "")
    )
    result = lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in shown(result)


def circles(package: str) -> "list[str]":
    """Each import circle among ``package``'s modules, as ``a -> b -> ... -> a`` (function-level
    imports count; those under ``TYPE_CHECKING`` do not run, so they do not)."""
    import grimp  # import-linter's own import graph; it ships with import-linter

    graph = grimp.build_graph(package, exclude_type_checking_imports=True, cache_dir=None)
    # `from . import _ctracking` imports the compiled core, which imports nothing of ours:
    # grimp, reading .py files only, files it under the package itself.
    for importer in graph.find_modules_that_directly_import(package):
        details = graph.get_import_details(importer=importer, imported=package)
        if details and all("_ctracking" in detail["line_contents"] for detail in details):
            graph.remove_import(importer=importer, imported=package)
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                found.append(" -> ".join((importer, *back)))
    return found


def test_imports_form_no_circle():
    assert circles("globalhook") == []


def test_a_circle_is_found_also_through_an_import_inside_a_function(tmp_path, monkeypatch):
    package = tmp_path / "circled"
    package.mkdir()
    (package / "__init__.py").write_text("def version():\n    from . import core\n")
    (package / "core.py").write_text("from circled import _ctracking\n")  # the compiled core: no circle
    (package / "low.py").write_text("def later():\n    from .high import X\n    return X\n")
    (package / "high.py").write_text("from . import low, typed\nX = 1\n")
    (package / "typed.py").write_text("TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from . import high\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert circles("circled") == ["circled.high -> circled.low -> circled.high", "circled.low -> circled.high -> circled.low"]
